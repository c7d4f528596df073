// The policy and the rules a user adds to the redactor and the denylist (host/secrets/secrets.hpp): their
// checks, the compact pattern form, and the byte sets a pattern's body may be made of.
#include <algorithm>
#include <string>
#include <tuple>

#include "secrets/secret_scan.hpp"

namespace sidecar::host {
namespace detail {

namespace {

struct NamedCharset {
  std::string_view name;
  std::uint16_t cls;
};
constexpr NamedCharset kCharsets[] = {
    {"alnum", kAlnum}, {"hex", kHex},     {"base64", kBase64},         {"base64url", kBase64Url},
    {"token", kToken68}, {"word", kWord}, {"upper_digit", kUpperDigit},
};

}  // namespace

bool charset_table(std::string_view charset, std::array<bool, 256>& table) {
  table.fill(false);
  for (const NamedCharset& named : kCharsets) {
    if (charset != named.name) continue;
    for (int c = 0; c < 256; ++c) table[static_cast<std::size_t>(c)] = is(static_cast<char>(c), named.cls);
    return true;
  }
  // A bracket expression: single bytes and ranges a-z; a '-' first or last is itself.
  if (charset.size() < 3 || charset.front() != '[' || charset.back() != ']') return false;
  const std::string_view body = charset.substr(1, charset.size() - 2);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const auto lo = static_cast<unsigned char>(body[i]);
    if (i + 2 < body.size() && body[i + 1] == '-') {
      const auto hi = static_cast<unsigned char>(body[i + 2]);
      if (hi < lo) return false;
      for (unsigned c = lo; c <= hi; ++c) table[c] = true;
      i += 2;
    } else {
      table[lo] = true;
    }
  }
  // Never whitespace: a run that crossed a blank or a line would swallow prose.
  for (char c : std::string_view(" \t\r\n\v\f")) {
    if (table[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

}  // namespace detail

using detail::ascii_lower;

namespace detail {

std::string kind_from_prefix(std::string_view prefix) {
  std::string kind;
  for (char c : prefix) {
    const char l = ascii_lower(c);
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      kind.push_back(l);
    } else if (!kind.empty() && kind.back() != '-') {
      kind.push_back('-');
    }
  }
  while (!kind.empty() && kind.back() == '-') kind.pop_back();
  if (kind.size() > 40) kind.resize(40);
  return kind.empty() ? "custom-secret" : kind;
}

}  // namespace detail

std::string parse_token_pattern(std::string_view text, TokenPattern& out) {
  const std::size_t open = text.find('[');
  const std::size_t close = open == std::string_view::npos ? open : text.find(']', open + 2);
  if (open == std::string_view::npos || close == std::string_view::npos) {
    return "expected PREFIX[CLASS]{COUNT}, such as acme_live_[0-9a-f]{32}";
  }
  TokenPattern p;
  p.prefix = std::string(text.substr(0, open));
  p.charset = std::string(text.substr(open, close + 1 - open));
  std::string_view count = text.substr(close + 1);
  if (count == "+") {
    p.min = 1;
    p.max = 4096;
  } else if (count.size() >= 3 && count.front() == '{' && count.back() == '}') {
    count = count.substr(1, count.size() - 2);
    const std::size_t comma = count.find(',');
    auto number = [](std::string_view digits, std::size_t& n) {
      if (digits.empty() || digits.size() > 6) return false;
      n = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      return true;
    };
    bool ok = number(count.substr(0, comma), p.min);
    if (comma == std::string_view::npos) {
      p.max = p.min;
    } else if (comma + 1 == count.size()) {
      p.max = 4096;
    } else {
      ok = ok && number(count.substr(comma + 1), p.max);
    }
    if (!ok) return "expected a count {N}, {N,M} or {N,} after the class, such as {32}";
  } else {
    return "expected a count {N}, {N,M}, {N,} or + after the class, such as acme_live_[0-9a-f]{32}";
  }
  out = std::move(p);
  return {};
}

namespace {

bool label_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

std::string at(std::string_view list, std::size_t i, std::string_view field = {}) {
  std::string out = std::string(list) + "[" + std::to_string(i + 1) + "]";
  if (!field.empty()) out.append(".").append(field);
  return out + ": ";
}

// A policy's shape may have a 2-byte prefix (Twilio's "SK"); a project's needs 3.
std::string check_pattern(const TokenPattern& p, std::size_t i, std::size_t min_prefix) {
  if (p.kind.size() > 40 || !std::all_of(p.kind.begin(), p.kind.end(), label_byte)) {
    return at("patterns", i, "kind") + "expected a name of letters, digits, '-', '_' or '.' (at most 40 bytes)";
  }
  if (p.prefix.size() < min_prefix || p.prefix.size() > 64) {
    return at("patterns", i, "prefix") + "expected a string of at least " + std::to_string(min_prefix) +
           " bytes (and at most 64)";
  }
  for (char c : p.prefix) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return at("patterns", i, "prefix") + "expected no blanks or line breaks";
    }
  }
  std::array<bool, 256> table{};
  if (!detail::charset_table(p.charset, table)) {
    return at("patterns", i, "charset") +
           "expected alnum, base64, base64url, hex, token, upper_digit, word or a set of bytes and ranges "
           "without blanks, such as [0-9a-f]";
  }
  if (p.min < 1 || p.min > 4096) return at("patterns", i, "min") + "expected a whole number from 1 to 4096";
  if (p.max < p.min || p.max > 4096) {
    return at("patterns", i, "max") + "expected a whole number from min (" + std::to_string(p.min) + ") to 4096";
  }
  return {};
}

std::string check_globs(const std::vector<std::string>& globs, std::string_view list, bool names) {
  for (std::size_t i = 0; i < globs.size(); ++i) {
    const std::string& g = globs[i];
    bool ok = !g.empty() && g.size() <= 256;
    for (char c : g) {
      if (names ? !(label_byte(c) || c == '*' || c == '?') : (c == '\0' || c == '\n' || c == '\r')) ok = false;
    }
    if (!ok) {
      return at(list, i) + (names ? "expected a variable name or a glob of one, such as MY_*_PHRASE"
                                  : "expected a file name or a glob, such as *.vault or config/*.pem");
    }
  }
  return {};
}

}  // namespace

std::string check_secret_rules(const SecretRules& rules) {
  for (std::size_t i = 0; i < rules.patterns.size(); ++i) {
    std::string bad = check_pattern(rules.patterns[i], i, 3);
    if (!bad.empty()) return bad;
  }
  for (auto [globs, list, names] : {std::tuple{&rules.names, "names", true},
                                    std::tuple{&rules.allow_names, "allow_names", true},
                                    std::tuple{&rules.files, "files", false},
                                    std::tuple{&rules.allow_files, "allow_files", false}}) {
    std::string bad = check_globs(*globs, list, names);
    if (!bad.empty()) return bad;
  }
  return {};
}

std::string check_secret_policy(const SecretPolicy& policy) {
  for (std::size_t i = 0; i < policy.patterns.size(); ++i) {
    std::string bad = check_pattern(policy.patterns[i], i, 2);
    if (!bad.empty()) return bad;
  }
  std::vector<std::string> files, labels;
  for (const FileRule& f : policy.files) {
    files.push_back(f.glob);
    labels.push_back(f.rule);
  }
  using Globs = std::tuple<const std::vector<std::string>*, const char*, bool>;
  for (auto [globs, list, names] : {Globs{&policy.names, "names", true}, Globs{&policy.allow_names, "allow_names", true},
                                    Globs{&files, "files", false}, Globs{&labels, "files", false},
                                    Globs{&policy.allow_files, "allow_files", false},
                                    Globs{&policy.folders, "folders", false},
                                    Globs{&policy.folder_files, "folder_files", false}}) {
    std::string bad = check_globs(*globs, list, names);
    if (!bad.empty()) return bad;
  }
  return {};
}

std::vector<std::string> builtin_secret_kinds() {
  // What the matcher finds by itself, whatever the policy.
  std::vector<std::string> kinds = {"authorization", "aws-secret-key", "basic-auth", "bearer-token",
                                    "jwt",           "private-key",    "url-password"};
  for (const TokenPattern& p : secret_policy().patterns) {
    kinds.push_back(p.kind.empty() ? detail::kind_from_prefix(p.prefix) : p.kind);
  }
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  return kinds;
}

}  // namespace sidecar::host
