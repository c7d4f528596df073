// The secrets policy as data (host/secrets/secret_data.hpp): a reader for the literal subset of Lua that
// stdlib/sidecar/core/secret_rules.lua is written in, and the tree's conversion into a policy.
#include "secrets/secret_data.hpp"

#include <algorithm>

namespace sidecar::host {

const DataValue* DataValue::field(std::string_view key) const {
  for (const auto& [name, value] : fields) {
    if (name == key) return &value;
  }
  return nullptr;
}

bool DataValue::operator==(const DataValue& other) const {
  if (type != other.type) return false;
  if (type == Type::String) return text == other.text;
  if (type == Type::Integer) return integer == other.integer;
  if (items != other.items || fields.size() != other.fields.size()) return false;
  // Keys in any order: a Lua table has none.
  return std::all_of(fields.begin(), fields.end(), [&](const auto& f) {
    const DataValue* v = other.field(f.first);
    return v && *v == f.second;
  });
}

namespace {

constexpr int kMaxDepth = 16;

// A recursive-descent reader; `fail` keeps the first error with its line.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool file(DataValue& out, std::string& error) {
    skip();
    if (!word("return")) fail("expected `return {`");
    if (ok()) value(out, 0);
    skip();
    if (ok() && out.type != DataValue::Type::Table) fail("expected a table after `return`");
    if (ok() && pos_ < text_.size()) fail("expected the end of the file after the table");
    error = error_;
    return ok();
  }

 private:
  bool ok() const { return error_.empty(); }

  void fail(const std::string& what) {
    if (!ok()) return;
    const auto line = std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(pos_), '\n') + 1;
    error_ = "line " + std::to_string(line) + ": " + what;
  }

  // Blanks and `--` comments (a long comment `--[[` is not in the subset).
  void skip() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (text_.compare(pos_, 2, "--") == 0) {
        if (text_.compare(pos_, 3, "--[") == 0 && pos_ + 3 < text_.size() &&
            (text_[pos_ + 3] == '[' || text_[pos_ + 3] == '=')) {
          return fail("long comments are not read here: use -- on each line");
        }
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  static bool name_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }

  std::string_view name() {
    const std::size_t start = pos_;
    if (pos_ < text_.size() && !(text_[pos_] >= '0' && text_[pos_] <= '9')) {
      while (pos_ < text_.size() && name_byte(text_[pos_])) ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  bool word(std::string_view w) {
    const std::size_t start = pos_;
    if (name() == w) return true;
    pos_ = start;
    return false;
  }

  void value(DataValue& out, int depth) {
    skip();
    if (pos_ >= text_.size()) return fail("expected a value, got the end of the file");
    const char c = text_[pos_];
    if (c == '{') return table(out, depth + 1);
    if (c == '"' || c == '\'') {
      out.type = DataValue::Type::String;
      return string(out.text);
    }
    if ((c >= '0' && c <= '9') || c == '-') return integer(out);
    fail("expected a table, a quoted string or an integer");
  }

  void string(std::string& out) {
    const char quote = text_[pos_++];
    while (ok()) {
      std::size_t end = pos_;  // the plain run, appended at once
      while (end < text_.size() && text_[end] != quote && text_[end] != '\\' && text_[end] != '\n') ++end;
      out.append(text_.substr(pos_, end - pos_));
      pos_ = end;
      if (pos_ >= text_.size() || text_[pos_] == '\n') return fail("unfinished string");
      if (text_[pos_++] == quote) return;
      const char e = pos_ < text_.size() ? text_[pos_++] : '\0';
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case '\\': case '"': case '\'': out.push_back(e); break;
        default: return fail(std::string("escape \\") + e + " is not read here (only \\n \\t \\\\ \\\" \\')");
      }
    }
  }

  void integer(DataValue& out) {
    const bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    const std::size_t start = pos_;
    std::int64_t n = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && pos_ - start < 15) {
      n = n * 10 + (text_[pos_++] - '0');
    }
    if (pos_ == start || (pos_ < text_.size() && (name_byte(text_[pos_]) || text_[pos_] == '.'))) {
      return fail("expected a whole number of at most 15 digits");
    }
    out.type = DataValue::Type::Integer;
    out.integer = negative ? -n : n;
  }

  // { value, name = value, ... } with ',' or ';' between and after.
  void table(DataValue& out, int depth) {
    if (depth > kMaxDepth) return fail("tables nested too deep");
    out.type = DataValue::Type::Table;
    ++pos_;
    while (ok()) {
      skip();
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return;
      }
      const std::size_t start = pos_;
      const std::string_view key = name();
      skip();
      if (!key.empty() && pos_ < text_.size() && text_[pos_] == '=') {
        ++pos_;
        if (out.field(key)) return fail("the key " + std::string(key) + " twice");
        out.fields.emplace_back(std::string(key), DataValue{});
        value(out.fields.back().second, depth);
      } else {
        pos_ = start;
        out.items.emplace_back();
        value(out.items.back(), depth);
      }
      skip();
      if (pos_ < text_.size() && (text_[pos_] == ',' || text_[pos_] == ';')) {
        ++pos_;
      } else if (pos_ >= text_.size() || text_[pos_] != '}') {
        fail("expected ',' or '}' in a table");
      }
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
};

// ---- From a tree to a policy ---------------------------------------------------------------------

std::string at(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i + 1) + "]"; }

// The strings of a list; a missing list is an empty one.
std::string strings(const DataValue* list, const std::string& path, std::vector<std::string>& out) {
  if (!list) return {};
  if (list->type != DataValue::Type::Table || !list->fields.empty()) return path + ": expected a list of strings";
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    if (list->items[i].type != DataValue::Type::String) return at(path, i) + ": expected a string";
    out.push_back(list->items[i].text);
  }
  return {};
}

std::string pattern(const DataValue& v, const std::string& path, TokenPattern& out) {
  const DataValue* text = v.type == DataValue::Type::Table ? v.field("pattern") : nullptr;
  const DataValue* kind = v.type == DataValue::Type::Table ? v.field("kind") : nullptr;
  if (!text || !kind || text->type != DataValue::Type::String || kind->type != DataValue::Type::String ||
      v.fields.size() != 2 || !v.items.empty()) {
    return path + ": expected {pattern = \"PREFIX[CLASS]{COUNT}\", kind = \"name\"}";
  }
  const std::string why = parse_token_pattern(text->text, out);
  if (!why.empty()) return path + ".pattern: " + why;
  out.kind = kind->text;
  return {};
}

// A glob, or {glob, ..., rule = "label"}.
std::string file_rule(const DataValue& v, const std::string& path, std::vector<FileRule>& out) {
  if (v.type == DataValue::Type::String) {
    out.push_back({v.text, v.text});
    return {};
  }
  const DataValue* rule = v.type == DataValue::Type::Table ? v.field("rule") : nullptr;
  if (!rule || rule->type != DataValue::Type::String || v.fields.size() != 1 || v.items.empty()) {
    return path + ": expected a glob or {glob, ..., rule = \"how a refusal names it\"}";
  }
  for (std::size_t i = 0; i < v.items.size(); ++i) {
    if (v.items[i].type != DataValue::Type::String) return at(path, i) + ": expected a string";
    out.push_back({v.items[i].text, rule->text});
  }
  return {};
}

}  // namespace

bool read_lua_data(std::string_view text, DataValue& out, std::string& error) {
  out = DataValue{};
  return Reader(text).file(out, error);
}

std::string secret_policy_from_data(const DataValue& data, SecretPolicy& out) {
  static const std::vector<std::string_view> known = {"patterns", "names",   "allow_names", "files",
                                                      "allow_files", "folders", "folder_files"};
  if (data.type != DataValue::Type::Table || !data.items.empty()) return "expected a table of named lists";
  for (const auto& f : data.fields) {
    if (std::find(known.begin(), known.end(), f.first) == known.end()) {
      return f.first + ": unknown field (expected allow_files, allow_names, files, folder_files, folders, names, "
                       "patterns)";
    }
  }
  SecretPolicy p;
  for (const char* key : {"patterns", "files"}) {
    const DataValue* list = data.field(key);
    if (!list) continue;
    if (list->type != DataValue::Type::Table || !list->fields.empty()) return std::string(key) + ": expected a list";
    for (std::size_t i = 0; i < list->items.size(); ++i) {
      const std::string path = at(key, i);
      std::string bad;
      if (key[0] == 'p') {
        p.patterns.emplace_back();
        bad = pattern(list->items[i], path, p.patterns.back());
      } else {
        bad = file_rule(list->items[i], path, p.files);
      }
      if (!bad.empty()) return bad;
    }
  }
  for (auto [key, list] : {std::pair{"names", &p.names}, std::pair{"allow_names", &p.allow_names},
                           std::pair{"allow_files", &p.allow_files}, std::pair{"folders", &p.folders},
                           std::pair{"folder_files", &p.folder_files}}) {
    std::string bad = strings(data.field(key), key, *list);
    if (!bad.empty()) return bad;
  }
  std::string bad = check_secret_policy(p);
  if (!bad.empty()) return bad;
  out = std::move(p);
  return {};
}

namespace {

struct Defaults {
  DataValue data;
  SecretPolicy policy;
  std::string error;
};

const Defaults& defaults() {
  static const Defaults d = [] {
    Defaults out;
    if (!read_lua_data(embedded_secret_rules(), out.data, out.error)) {
      out.error = "secret_rules.lua: " + out.error;
    } else if (std::string bad = secret_policy_from_data(out.data, out.policy); !bad.empty()) {
      out.error = "secret_rules.lua: " + bad;
    }
    return out;
  }();
  return d;
}

}  // namespace

const DataValue& default_secret_data() { return defaults().data; }
const SecretPolicy& default_secret_policy() { return defaults().policy; }
const std::string& default_secret_policy_error() { return defaults().error; }

}  // namespace sidecar::host
