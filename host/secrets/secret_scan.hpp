// Internal to the redactor (host/secrets/secret*.cpp, host/secrets/stream_redactor.cpp): the byte classes, the
// compiled rules and the scans that find secrets in a text. Not for other users.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "secrets/secrets.hpp"

namespace sidecar::host::detail {

constexpr std::size_t npos = std::string_view::npos;

// Byte classes, one bit each, looked up in one table so a scan costs a load per byte.
enum : std::uint16_t {
  kWord = 1 << 0,        // [A-Za-z0-9_]: a key shape never starts right after one of these
  kAlnum = 1 << 1,       // [A-Za-z0-9]
  kUpperDigit = 1 << 2,  // [A-Z0-9]
  kBase64Url = 1 << 3,   // [A-Za-z0-9_-]
  kSlack = 1 << 4,       // [A-Za-z0-9-]
  kToken68 = 1 << 5,     // [A-Za-z0-9._~+/=-]: an HTTP bearer token (RFC 6750)
  kBase64 = 1 << 6,      // [A-Za-z0-9+/=]: the body of a PEM block
  kHex = 1 << 7,         // [0-9A-Fa-f]
  kName = 1 << 8,        // [A-Za-z0-9_.-]: a variable, a YAML key or an HTTP header name
  kAwsBody = 1 << 9,     // [A-Za-z0-9+/]: an AWS secret access key
  kTrigger = 1 << 10,    // a byte the matcher checks whatever the rules (engine_triggers)
};

constexpr std::array<std::uint16_t, 256> make_classes() {
  std::array<std::uint16_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    const bool digit = c >= '0' && c <= '9';
    std::uint16_t bits = 0;
    if (upper || lower || digit) {
      bits |= kWord | kAlnum | kBase64Url | kSlack | kToken68 | kBase64 | kName | kAwsBody;
    }
    if (upper || digit) bits |= kUpperDigit;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) bits |= kHex;
    if (c == '_') bits |= kWord | kBase64Url | kToken68 | kName;
    if (c == '-') bits |= kBase64Url | kSlack | kToken68 | kName;
    if (c == '.') bits |= kToken68 | kName;
    if (c == '~') bits |= kToken68;
    if (c == '+' || c == '/') bits |= kToken68 | kBase64 | kAwsBody;
    if (c == '=') bits |= kToken68 | kBase64;
    t[static_cast<std::size_t>(c)] = bits;
  }
  for (char c : std::string_view("eBb-=:")) t[static_cast<unsigned char>(c)] |= kTrigger;
  return t;
}
inline constexpr std::array<std::uint16_t, 256> kClasses = make_classes();

inline bool is(char c, std::uint16_t cls) { return (kClasses[static_cast<unsigned char>(c)] & cls) != 0; }
inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
inline char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
inline bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The length of an escape that ends right before `i` (0: none): a JSON escape (\n \r \t \b \f,
// \uXXXX) or a terminal control sequence (CSI: ESC [ params final, as grep --color writes it; raw
// or with its ESC JSON-escaped as \u001b). A reader does not see these as part of the word after
// them, so a secret may start right after one (ESC[31mghp_…, "x\nghp_…").
std::size_t escape_before(std::string_view text, std::size_t i);

// Whether a token shape may start at `i`: at the text's start, after a byte that is not part of a
// word, or right after an escape.
inline bool word_start(std::string_view text, std::size_t i) {
  return i == 0 || !is(text[i - 1], kWord) || escape_before(text, i) > 0;
}

// '*' any run of bytes, '?' one byte; ASCII case-insensitive. Linear-time greedy matching.
bool glob_match(std::string_view glob, std::string_view text);

// The bytes the matcher checks by itself, whatever the rules: 'e' (a JSON web token), 'B' and 'b'
// (a bearer token), '-' (a PEM boundary), '=' and ':' (a value assigned to a name).
constexpr std::array<bool, 256> engine_triggers() {
  std::array<bool, 256> t{};
  for (std::size_t c = 0; c < 256; ++c) t[c] = (kClasses[c] & kTrigger) != 0;
  return t;
}

// A pattern, ready to match: its byte set as a table.
struct CompiledPattern {
  std::string kind;
  std::string prefix;
  std::array<bool, 256> body{};
  std::size_t min = 0;
  std::size_t max = 0;  // TokenPattern::kMaxCount: no bound
  bool aws_key_id = false;  // an AWS secret key near it is looked for
};

// Globs over names as they are compared (upper case, '_' for '-' and '.'), sorted by their form
// so that the many exact names and "*_WORD" suffixes of a policy cost a binary search each, not
// a glob match each: a name is judged at every separator after it.
struct NameGlobs {
  std::vector<std::string> exact;       // sorted
  std::vector<std::string> words;       // "*_X" as "_X", sorted: looked up at the name's last '_'s
  std::size_t word_cuts = 0;            // the most '_' in one of them
  std::vector<std::string> suffixes;    // other "*X" as X
  std::vector<std::string> infixes;     // "*X*" as X
  std::vector<std::string> globs;       // the rest
  bool match(std::string_view upper) const;
};

struct CompiledRules {
  SecretPolicy policy;
  SecretRules rules;
  std::vector<CompiledPattern> patterns;  // the policy's, then the user's
  std::size_t policy_patterns = 0;
  // The patterns whose prefix starts with byte c, in order: by_first[first[c] .. first[c + 1]).
  std::array<std::uint32_t, 257> first{};
  std::vector<std::uint16_t> by_first;
  std::array<bool, 256> triggers = engine_triggers();  // the scan stops at these
  NameGlobs names, allow_names;                // the user's
  NameGlobs policy_names, policy_allow_names;  // the policy's
  // Every policy name contains one of these (as names are compared); empty: no such word.
  std::vector<std::string> name_words;
  std::vector<std::pair<std::string, std::string>> folder_files;  // lower case
};

// secret_rules.cpp: a charset name or bracket expression as a byte table (false when invalid).
bool charset_table(std::string_view charset, std::array<bool, 256>& table);
std::string kind_from_prefix(std::string_view prefix);

// secrets.cpp. Throws std::invalid_argument when `rules` are not valid; `policy` has been
// checked where it came in (set_secret_policy, secret_policy_from_data).
CompiledRules compile_rules(const SecretPolicy& policy, const SecretRules& rules);
std::shared_ptr<const CompiledRules> current_rules();
bool is_secret_name(std::string_view name, const CompiledRules& rules);

struct Span {
  std::size_t begin;
  std::size_t end;
  std::string_view label;
};

// Adds a span, folding it into the last one when it starts inside it (the common way shapes
// overlap: a scan reports them in order), so a long run of overlapping hits costs no memory.
inline void add_span(std::vector<Span>& spans, std::size_t begin, std::size_t end, std::string_view label) {
  if (!spans.empty() && begin >= spans.back().begin && begin < spans.back().end) {
    if (end > spans.back().end) spans.back().end = end;
    return;
  }
  spans.push_back({begin, end, label});
}

struct ScanResult {
  std::vector<Span> shapes;  // token shapes, PEM blocks, AWS secret keys: their kind is the label
  std::vector<Span> named;   // values labelled by the name they are assigned to, URL passwords,
                             // Authorization credentials: a shape over the same bytes wins
  std::vector<std::size_t> aws_ids;  // where AWS access key ids start (outside private keys)
  // A PEM BEGIN whose block (or the check whether it is one) ran into the end of the text: a
  // stream waits for more before it cuts there.
  std::size_t open_pem = npos;
};

// secret_shapes.cpp: one pass over the text.
void scan_text(std::string_view text, const CompiledRules& rules, ScanResult& out);

// The first byte at or after a position that stops a run (the predicate says which), remembered:
// every position inside the run last looked at has the same answer, so many separators on one
// long line never rescan it and the scan stays linear.
class StopMemo {
 public:
  template <typename Stop>
  std::size_t next(std::string_view text, std::size_t pos, Stop stop) {
    if (pos >= from_ && pos <= end_) return end_;
    std::size_t e = pos;
    while (e < text.size() && !stop(text, e)) ++e;
    from_ = pos;
    end_ = e;
    return e;
  }

 private:
  std::size_t from_ = 1, end_ = 0;
};

// What the separator checks of one scan remember between separators.
struct SeparatorMemo {
  StopMemo space;           // ' ', '\t', '\r', '\n', and an escape \n \r \t \" (a JSON string's)
  StopMemo space_or_quote;  // ' ', '\t', '\r', '\n', quotes and backslashes
  StopMemo non_blank;       // anything but ' ' and '\t'
  StopMemo line;            // '\n', and an escape \n \r
  std::size_t trimmed_from = npos, trimmed = 0;  // a line end and the same without its trailing blanks
  std::size_t auth_until = 0;  // an Authorization header's credentials looked at up to here
};

// secret_assignments.cpp: what a separator ('=' or ':') at `i` starts: a value assigned to a
// secret name, an Authorization header's credentials, a URL's password.
void scan_separator(std::string_view text, std::size_t i, const CompiledRules& rules, SeparatorMemo& memo,
                    std::vector<Span>& named);
// AWS secret access keys on the line of a key id or the kAwsLines lines after it; `lines_in`
// lines at the start of the text are such lines already (a key id came just before the text).
// Returns the same figure for whatever text follows.
int scan_aws_secrets(std::string_view text, const std::vector<std::size_t>& ids, int lines_in, std::vector<Span>& spans);
constexpr int kAwsLines = 5;

// PEM limits: a block is redacted only with this much base64 in it (code that merely mentions
// "-----BEGIN RSA PRIVATE KEY-----" is left alone); a block without its END line extends over
// the base64 after it up to kPemMax bytes from BEGIN; an END line without its BEGIN takes the
// lines of base64 before it, up to kOrphanMax bytes of them.
constexpr std::size_t kPemBodyMin = 32;
constexpr std::size_t kPemMax = 64 * 1024;
constexpr std::size_t kOrphanMax = 16 * 1024;

// A line (without its '\n') that an END line below it could claim: one run of base64, with
// blanks around it.
bool base64_line(std::string_view line);

}  // namespace sidecar::host::detail
