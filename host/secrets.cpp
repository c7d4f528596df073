#include "secrets.hpp"

#include <string.h>  // memmem

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

extern char** environ;

namespace sidecar::host {
namespace {

constexpr std::size_t npos = std::string_view::npos;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ---- The denylist ------------------------------------------------------------------------------

enum class Match { Exact, Prefix, Suffix };

struct NameRule {
  Match match;
  std::string_view text;  // lower case
  std::string_view rule;  // as the message names it; empty means `text`
};

constexpr NameRule kNameRules[] = {
    {Match::Exact, ".env", ".env*"},
    {Match::Prefix, ".env.", ".env*"},
    {Match::Prefix, "id_rsa", "SSH private key id_rsa*"},
    {Match::Prefix, "id_dsa", "SSH private key id_dsa*"},
    {Match::Prefix, "id_ecdsa", "SSH private key id_ecdsa*"},
    {Match::Prefix, "id_ed25519", "SSH private key id_ed25519*"},
    {Match::Suffix, ".pem", "*.pem"},
    {Match::Suffix, ".key", "*.key"},
    {Match::Suffix, ".p12", "*.p12"},
    {Match::Suffix, ".pfx", "*.pfx"},
    {Match::Suffix, ".keystore", "*.keystore"},
    {Match::Suffix, ".jks", "*.jks"},
    {Match::Exact, ".npmrc", {}},
    {Match::Exact, ".netrc", {}},
    {Match::Exact, "_netrc", {}},
    {Match::Exact, ".pypirc", {}},
    {Match::Exact, ".git-credentials", {}},
    {Match::Exact, "credentials", {}},
    {Match::Exact, "credentials.json", {}},
    {Match::Exact, ".htpasswd", {}},
    {Match::Exact, "secrets.yml", {}},
    {Match::Exact, "secrets.yaml", {}},
    {Match::Exact, "secrets.json", {}},
};

// Names the rules above would catch that hold no secret by convention: .env templates are
// committed on purpose, and a *.pub is the public half of a key pair.
constexpr std::string_view kTemplateNames[] = {".env.example", ".env.sample", ".env.template"};

// Folders that hold nothing but secrets: every file under them is refused, whatever its name.
constexpr std::string_view kSecretFolders[] = {".ssh", ".gnupg", ".aws"};

// Files whose name alone is innocent but which are credential stores in their folder.
struct FolderFile {
  std::string_view folder;
  std::string_view name;
};
constexpr FolderFile kSecretFolderFiles[] = {{".docker", "config.json"}, {".kube", "config"}};

constexpr std::string_view kAdvice =
    "; Sidecar never passes such files to an agent \xE2\x80\x94 name a redacted copy instead";

bool matches(const NameRule& rule, std::string_view name) {
  switch (rule.match) {
    case Match::Exact: return name == rule.text;
    case Match::Prefix: return starts_with(name, rule.text);
    case Match::Suffix: return ends_with(name, rule.text);
  }
  return false;
}

bool allowed_name(std::string_view name) {
  if (ends_with(name, ".pub")) return true;
  return std::find(std::begin(kTemplateNames), std::end(kTemplateNames), name) != std::end(kTemplateNames);
}

std::string refusal(std::string_view path, std::string_view what, std::string_view rule) {
  std::string why = "'";
  why.append(path).append("' ").append(what).append(" (").append(rule).append(")").append(kAdvice);
  return why;
}

// ---- Shapes of credentials ---------------------------------------------------------------------

// Byte classes, one bit each, looked up in one table so the scan costs a load per byte.
enum : std::uint8_t {
  kWord = 1 << 0,        // [A-Za-z0-9_]: a key shape never starts right after one of these
  kAlnum = 1 << 1,       // [A-Za-z0-9]
  kUpperDigit = 1 << 2,  // [A-Z0-9]
  kBase64Url = 1 << 3,   // [A-Za-z0-9_-]
  kSlack = 1 << 4,       // [A-Za-z0-9-]
  kToken68 = 1 << 5,     // [A-Za-z0-9._~+/=-]: an HTTP bearer token (RFC 6750)
  kBase64 = 1 << 6,      // [A-Za-z0-9+/=]: the body of a PEM block
  kTrigger = 1 << 7,     // the first byte of anything the scan looks for
};

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    const bool digit = c >= '0' && c <= '9';
    std::uint8_t bits = 0;
    if (upper || lower || digit) bits |= kWord | kAlnum | kBase64Url | kSlack | kToken68 | kBase64;
    if (upper || digit) bits |= kUpperDigit;
    if (c == '_') bits |= kWord | kBase64Url | kToken68;
    if (c == '-') bits |= kBase64Url | kSlack | kToken68;
    if (c == '.' || c == '~') bits |= kToken68;
    if (c == '+' || c == '/' || c == '=') bits |= kToken68 | kBase64;
    t[static_cast<std::size_t>(c)] = bits;
  }
  for (char c : std::string_view("srgAxeBb-")) t[static_cast<unsigned char>(c)] |= kTrigger;
  return t;
}
constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

bool is(char c, std::uint8_t cls) { return (kClasses[static_cast<unsigned char>(c)] & cls) != 0; }

// A prefix followed by a run of bytes of one class.
struct Shape {
  std::string_view prefix;
  std::uint8_t body;
  std::size_t min;  // bytes of `body` needed after the prefix
  std::string_view kind;
};

constexpr Shape kShapes[] = {
    {"sk-", kBase64Url, 20, "openai-key"},  // also sk-proj-… and Anthropic's sk-ant-…
    {"sk_live_", kAlnum, 16, "stripe-key"},
    {"rk_live_", kAlnum, 16, "stripe-key"},
    {"ghp_", kAlnum, 30, "github-token"},
    {"gho_", kAlnum, 30, "github-token"},
    {"ghu_", kAlnum, 30, "github-token"},
    {"ghs_", kAlnum, 30, "github-token"},
    {"ghr_", kAlnum, 30, "github-token"},
    {"github_pat_", kWord, 40, "github-token"},
    {"AKIA", kUpperDigit, 16, "aws-access-key"},
    {"ASIA", kUpperDigit, 16, "aws-access-key"},
    {"AIza", kBase64Url, 35, "google-api-key"},
    {"xoxa-", kSlack, 10, "slack-token"},
    {"xoxb-", kSlack, 10, "slack-token"},
    {"xoxp-", kSlack, 10, "slack-token"},
    {"xoxr-", kSlack, 10, "slack-token"},
    {"xoxs-", kSlack, 10, "slack-token"},
};

constexpr std::size_t kJwtPartMin = 10;
constexpr std::size_t kBearerMin = 16;
// A PEM block is redacted only with this much base64 in it: code that merely mentions
// "-----BEGIN RSA PRIVATE KEY-----" is left alone.
constexpr std::size_t kPemBodyMin = 32;
constexpr std::size_t kPemLabelMax = 64;
constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemEnd = "-----END ";
constexpr std::string_view kPemDashes = "-----";

std::size_t find_bytes(std::string_view text, std::size_t from, std::string_view needle) {
  const void* hit = memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) : npos;
}

// The end of the run of `cls` bytes starting at `pos`, remembering the last run: a query inside
// it has the same end. Each use keeps its own memo and queries it at increasing positions, so
// candidates packed into one long run ("sk-sk-sk-…") never rescan it and the scan stays linear.
class RunMemo {
 public:
  std::size_t end(std::string_view text, std::size_t pos, std::uint8_t cls) {
    if (pos >= begin_ && pos < end_) return end_;
    std::size_t e = pos;
    while (e < text.size() && is(text[e], cls)) ++e;
    begin_ = pos;
    end_ = e;
    return e;
  }

 private:
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// The label of a PEM boundary whose "-----BEGIN " or "-----END " ends at `pos`: [A-Z0-9 ] up to
// the closing "-----" on the same line, with `after` set past those dashes. Empty when malformed.
std::string_view pem_label(std::string_view text, std::size_t pos, std::size_t& after) {
  const std::size_t limit = std::min(text.size(), pos + kPemLabelMax);
  for (std::size_t k = pos; k < limit; ++k) {
    const char c = text[k];
    if (c == '-') {
      if (!starts_with(text.substr(k), kPemDashes)) return {};
      after = k + kPemDashes.size();
      return text.substr(pos, k - pos);
    }
    if (!is(c, kUpperDigit) && c != ' ') return {};
  }
  return {};
}

// What separates the base64 of a PEM body: line breaks and blanks (a key indented in YAML, or
// flattened onto one line by an unquoted shell variable), and the two characters \n of a key kept
// in a JSON string.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool escaped_break_at(std::string_view text, std::size_t k) {
  return k + 1 < text.size() && text[k] == '\\' && (text[k + 1] == 'n' || text[k + 1] == 'r');
}

std::size_t skip_separators(std::string_view text, std::size_t k) {
  for (;;) {
    if (k < text.size() && is_space(text[k])) {
      ++k;
    } else if (escaped_break_at(text, k)) {
      k += 2;
    } else {
      return k;
    }
  }
}

bool separator_before(std::string_view text, std::size_t k) {
  return k == 0 || is_space(text[k - 1]) || (k > 1 && escaped_break_at(text, k - 2));
}

// Past the line at `k` and its line break.
std::size_t next_line(std::string_view text, std::size_t k) {
  for (; k < text.size(); ++k) {
    if (text[k] == '\n') return k + 1;
    if (escaped_break_at(text, k)) return k + 2;
  }
  return k;
}

// Whether the line at `k` is an RFC 1421 / RFC 4880 header ("Proc-Type: 4,ENCRYPTED",
// "Version: GnuPG v2"), which may come between a BEGIN line and the base64.
bool pem_header_line(std::string_view text, std::size_t k) {
  const std::size_t start = k;
  while (k < text.size() && (is(text[k], kAlnum) || text[k] == '-')) ++k;
  return k > start && is(text[start], kAlnum) && k + 1 < text.size() && text[k] == ':' && text[k + 1] == ' ';
}

struct Span {
  std::size_t begin;
  std::size_t end;
  std::string_view label;
};

// Adds a span, folding it into the last one when it starts inside it (the common way shapes
// overlap: the scan reports them in order), so a long run of overlapping hits costs no memory.
void add_span(std::vector<Span>& spans, std::size_t begin, std::size_t end, std::string_view label) {
  if (!spans.empty() && begin >= spans.back().begin && begin < spans.back().end) {
    spans.back().end = std::max(spans.back().end, end);
    return;
  }
  spans.push_back({begin, end, label});
}

// One pass over the text: at each byte that can start something, check what it starts.
class ShapeScanner {
 public:
  ShapeScanner(std::string_view text, std::vector<Span>& spans) : text_(text), spans_(spans) {}

  void scan() {
    const std::size_t n = text_.size();
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text_[i];
      if (!is(c, kTrigger)) continue;
      if (c == '-') {
        private_key(i);
        continue;
      }
      if (i > 0 && is(text_[i - 1], kWord)) continue;  // inside a longer identifier
      const std::string_view rest = text_.substr(i);
      for (std::size_t k = 0; k < std::size(kShapes); ++k) {
        const Shape& shape = kShapes[k];
        if (shape.prefix[0] != c || !starts_with(rest, shape.prefix)) continue;
        const std::size_t body = i + shape.prefix.size();
        const std::size_t end = shape_runs_[k].end(text_, body, shape.body);
        if (end - body >= shape.min) add_span(spans_, i, end, shape.kind);
      }
      if (c == 'e') jwt(i);
      if (c == 'B' || c == 'b') bearer(i);
    }
  }

 private:
  // eyJ….eyJ….sig: a JSON header and payload (both start with {") and a signature, base64url.
  void jwt(std::size_t i) {
    const std::size_t n = text_.size();
    if (!starts_with(text_.substr(i), "eyJ")) return;
    const std::size_t end1 = jwt_runs_[0].end(text_, i, kBase64Url);
    if (end1 - i < kJwtPartMin || end1 >= n || text_[end1] != '.') return;
    if (!starts_with(text_.substr(end1 + 1), "eyJ")) return;
    const std::size_t end2 = jwt_runs_[1].end(text_, end1 + 1, kBase64Url);
    if (end2 - (end1 + 1) < kJwtPartMin || end2 >= n || text_[end2] != '.') return;
    const std::size_t end3 = jwt_runs_[2].end(text_, end2 + 1, kBase64Url);
    if (end3 - (end2 + 1) < kJwtPartMin) return;
    add_span(spans_, i, end3, "jwt");
  }

  // "Bearer <token>", any case: the word stays (the reader sees what was there), the token goes.
  void bearer(std::size_t i) {
    const std::size_t n = text_.size();
    constexpr std::string_view word = "bearer";
    if (n - i <= word.size()) return;
    for (std::size_t k = 0; k < word.size(); ++k) {
      if (ascii_lower(text_[i + k]) != word[k]) return;
    }
    std::size_t token = i + word.size();
    while (token < n && (text_[token] == ' ' || text_[token] == '\t')) ++token;
    if (token == i + word.size()) return;  // "Bearers", "bearer_x"
    const std::size_t end = bearer_run_.end(text_, token, kToken68);
    if (end - token >= kBearerMin) add_span(spans_, token, end, "bearer-token");
  }

  // A PEM private key: the whole block from BEGIN to its END. When one of the two lines was cut
  // off (the head or the tail of a log), the base64 next to the one that is left goes with it.
  void private_key(std::size_t i) {
    const std::string_view rest = text_.substr(i);
    std::size_t after = 0;
    if (starts_with(rest, kPemBegin)) {
      const std::string_view label = pem_label(text_, i + kPemBegin.size(), after);
      if (label.find("PRIVATE KEY") == npos) return;
      std::size_t k = skip_separators(text_, after);
      while (k < text_.size() && pem_header_line(text_, k)) k = skip_separators(text_, next_line(text_, k));
      std::size_t base64 = 0;
      std::size_t end = after;
      for (;;) {
        k = skip_separators(text_, k);
        std::size_t end_after = 0;
        if (starts_with(text_.substr(k), kPemEnd) && pem_label(text_, k + kPemEnd.size(), end_after) == label) {
          end = end_after;
          break;
        }
        std::size_t t = k;
        while (t < text_.size() && is(text_[t], kBase64)) ++t;
        if (t == k) break;
        base64 += t - k;
        end = k = t;
      }
      if (base64 < kPemBodyMin) return;
      add_span(spans_, i, end, "private-key");
      covered_ = end;
    } else if (starts_with(rest, kPemEnd) && i >= covered_) {
      const std::string_view label = pem_label(text_, i + kPemEnd.size(), after);
      if (label.find("PRIVATE KEY") == npos) return;
      std::size_t base64 = 0;
      std::size_t start = i;
      for (std::size_t k = i;;) {
        for (;;) {
          if (k > 0 && is_space(text_[k - 1])) {
            --k;
          } else if (k > 1 && escaped_break_at(text_, k - 2)) {
            k -= 2;
          } else {
            break;
          }
        }
        std::size_t t = k;
        while (t > 0 && is(text_[t - 1], kBase64)) --t;
        if (t > 0 && t < k && escaped_break_at(text_, t - 1)) ++t;  // that 'n' ended a \n
        if (t == k) break;
        base64 += k - t;
        start = k = t;
        if (!separator_before(text_, t)) break;
      }
      if (base64 < kPemBodyMin) return;
      add_span(spans_, start, after, "private-key");
      covered_ = after;
    }
  }

  std::string_view text_;
  std::vector<Span>& spans_;
  std::array<RunMemo, std::size(kShapes)> shape_runs_;
  std::array<RunMemo, 3> jwt_runs_;
  RunMemo bearer_run_;
  std::size_t covered_ = 0;  // the end of the last private key block found
};

constexpr std::string_view kSecretSuffixes[] = {"_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_PASS", "_CREDENTIALS"};
constexpr std::string_view kSecretNames[] = {"TOKEN", "SECRET", "PASSWORD"};

}  // namespace

bool is_secret_file(std::string_view path, std::string& why) {
  std::vector<std::string> parts;  // lower case, without empty and "." components
  for (std::size_t start = 0; start < path.size();) {
    std::size_t slash = path.find('/', start);
    if (slash == npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    if (!part.empty() && part != ".") parts.push_back(lowered(part));
    start = slash + 1;
  }
  if (parts.empty()) return false;

  const std::string& name = parts.back();
  if (!allowed_name(name)) {
    for (const NameRule& rule : kNameRules) {
      if (!matches(rule, name)) continue;
      why = refusal(path, "looks like a secrets file", rule.rule.empty() ? rule.text : rule.rule);
      return true;
    }
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (std::string_view folder : kSecretFolders) {
      if (parts[i] != folder) continue;
      const bool last = i + 1 == parts.size();
      why = refusal(path, last ? "is a secrets folder" : "is inside a secrets folder", std::string(folder) + "/");
      return true;
    }
    if (i + 1 == parts.size()) break;
    for (const FolderFile& file : kSecretFolderFiles) {
      if (parts[i] != file.folder || parts[i + 1] != file.name) continue;
      why = refusal(path, "looks like a secrets file", std::string(file.folder) + "/" + std::string(file.name));
      return true;
    }
  }
  return false;
}

bool is_secret_variable_name(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = ascii_upper(c);
  for (std::string_view exact : kSecretNames) {
    if (upper == exact) return true;
  }
  for (std::string_view suffix : kSecretSuffixes) {
    if (ends_with(upper, suffix)) return true;
  }
  return upper.find("_ACCESS_KEY") != npos;
}

Redactor::Redactor(const std::vector<std::string>& env) {
  for (const std::string& entry : env) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string_view value = std::string_view(entry).substr(eq + 1);
    if (value.size() < kMinValueSize || !is_secret_variable_name(std::string_view(entry).substr(0, eq))) continue;
    const bool seen = std::any_of(secrets_.begin(), secrets_.end(), [&](const Secret& s) { return s.value == value; });
    if (!seen) secrets_.push_back({std::string(value), entry.substr(0, eq)});
  }
}

Redactor Redactor::from_environ() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return Redactor(env);
}

std::string Redactor::redact(std::string_view text, std::size_t* count) const {
  std::vector<Span> spans;
  // The environment's values first: on a tie with a shape, the variable's name is the better label.
  for (const Secret& secret : secrets_) {
    for (std::size_t pos = 0; (pos = find_bytes(text, pos, secret.value)) != npos; pos += secret.value.size()) {
      spans.push_back({pos, pos + secret.value.size(), secret.name});
    }
  }
  ShapeScanner(text, spans).scan();
  if (spans.empty()) {
    if (count) *count = 0;
    return std::string(text);
  }

  // Overlapping secrets become one replacement covering all of them, so no piece of one survives;
  // it takes the label of the one that starts first (the longest on a tie).
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::size_t kept = 0;
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[kept].end) {
      spans[kept].end = std::max(spans[kept].end, spans[i].end);
    } else {
      spans[++kept] = spans[i];
    }
  }
  spans.resize(kept + 1);

  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (const Span& span : spans) {
    out.append(text.substr(pos, span.begin - pos));
    out.append("[REDACTED:").append(span.label).push_back(']');
    pos = span.end;
  }
  out.append(text.substr(pos));
  if (count) *count = spans.size();
  return out;
}

}  // namespace sidecar::host
