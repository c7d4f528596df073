// Secrets found by what stands around them (host/secrets/secret_scan.hpp): a value assigned to a name
// that looks secret (DB_PASSWORD=…, "password": "…", export MY_API_KEY=…), the credentials of an
// Authorization header, the password of a URL, and AWS secret access keys near their key id.
//
// What counts as a value, and what is left alone on purpose (so that code and docs that only
// mention a secret's name stay readable):
//   - the name starts after an escape it is glued to (\nTOKEN=, ESC[32mTOKEN=, \u001b[KTOKEN=);
//   - the value runs to the closing quote ('…' or "…", on the same line), or, unquoted, to the
//     next blank, without trailing , ; ) ] } or quotes, nor the colour codes around it;
//   - left alone: values shorter than kValueMin bytes; a value already [REDACTED:…]; references
//     and placeholders ($VAR, ${VAR}, $(cmd), %VAR%, {{ x }}, <your-key>, ****, xxxx; unquoted,
//     anything that starts with '$', '<' or '{{'); and, unquoted, code (input(), os.environ["X"],
//     getpass.getpass(...)) and words that are types or literals in code (null, None, true,
//     false, undefined, str, string, ...). So `password = input()` and `password: str` stay as
//     they are, `password = "hunter22"` does not.
#include <algorithm>
#include <cstring>

#include "secrets/secret_scan.hpp"

namespace sidecar::host::detail {
namespace {

constexpr std::size_t kValueMin = 4;
constexpr std::size_t kNameMax = 128;
constexpr std::size_t kBlanksMax = 16;  // between a name and its separator

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool equals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (ascii_lower(s[i]) != lower[i]) return false;
  }
  return true;
}

bool ends_with_lower(std::string_view s, std::string_view lower) {
  return s.size() >= lower.size() && equals_lower(s.substr(s.size() - lower.size()), lower);
}

constexpr std::string_view kCodeWords[] = {"null",   "nil",    "none",    "true",   "false",  "undefined",
                                           "str",    "string", "bytes",   "bool",   "boolean", "number",
                                           "int",    "object", "any",     "required", "optional"};

// A reference to a value kept elsewhere, a placeholder, or a mask: nothing to hide.
bool placeholder(std::string_view v) {
  if (v.empty() || starts_with(v, "[REDACTED:")) return true;
  const auto word = [](std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
      if (!is(c, kWord)) return false;
    }
    return true;
  };
  if (v[0] == '$') {
    if (v.size() > 2 && ((v[1] == '{' && v.back() == '}') || (v[1] == '(' && v.back() == ')'))) return true;
    return word(v.substr(1));
  }
  if (v.size() > 2 && v[0] == '%' && v.back() == '%' && word(v.substr(1, v.size() - 2))) return true;
  if (v.size() > 2 && v[0] == '<' && v.back() == '>') return true;
  if (starts_with(v, "{{") && ends_with(v, "}}")) return true;
  const char mask = v[0];
  if (mask == '*' || mask == 'x' || mask == 'X' || mask == '.') {
    return v.find_first_not_of(mask) == npos;
  }
  return false;
}

// Code rather than a value: an identifier (dotted) called or indexed, or a type or a literal.
bool code(std::string_view v) {
  for (std::string_view w : kCodeWords) {
    if (equals_lower(v, w)) return true;
  }
  if (!is_alpha(v[0]) && v[0] != '_') return false;
  std::size_t k = 0;
  while (k < v.size() && (is(v[k], kWord) || v[k] == '.')) ++k;
  return k < v.size() && (v[k] == '(' || v[k] == '[');
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The escapes of a JSON string that stand for a blank, a line break or a quote: text inside a
// JSON string (an agent's event stream) ends its values and lines there too.
bool escape_at(std::string_view t, std::size_t p, std::string_view escaped) {
  return t[p] == '\\' && p + 1 < t.size() && escaped.find(t[p + 1]) != std::string_view::npos;
}
bool value_end(std::string_view t, std::size_t p) { return is_space(t[p]) || escape_at(t, p, "nrt\""); }
bool line_end(std::string_view t, std::size_t p) { return t[p] == '\n' || escape_at(t, p, "nr"); }
bool word_end(std::string_view t, std::size_t p) {
  return is_space(t[p]) || t[p] == '"' || t[p] == '\'' || t[p] == '\\';
}
bool non_blank(std::string_view t, std::size_t p) { return !is_blank(t[p]); }

// Where a name starts in the run of name bytes [from, to): right after an escape whose tail the
// run begins with (the n of "\n", the u0007 of "\u0007", the 32m of ESC[32m or \u001b[32m, the
// K of grep's ESC[K: a reader sees none of it as part of the name, as word_start says for the
// shapes), else at the run's start. The tail of an escape in such a run is its letter after a
// backslash, or a CSI's digits and final byte (its other parameter bytes are no name's).
std::size_t name_start(std::string_view text, std::size_t from, std::size_t to) {
  if (from == 0 || from >= to) return from;
  std::size_t tail = from;
  if (text[from - 1] == '\\') {
    tail += text[from] == 'u' ? 5 : 1;
  } else {
    while (tail < to && text[tail] >= '0' && text[tail] <= '9') ++tail;
    ++tail;
  }
  if (tail > to) return from;
  const std::size_t escape = escape_before(text, tail);
  return escape > 0 && tail - escape < from ? tail : from;
}

// The length of a terminal control sequence (CSI, raw or with its ESC JSON-escaped as \u001b)
// that ends right before `i` / starts at `i`; 0 when there is none.
std::size_t csi_before(std::string_view text, std::size_t i) {
  const std::size_t escape = escape_before(text, i);
  // escape_before's others: \n and the like (2 bytes), \uXXXX (6); a CSI escaped in JSON is longer.
  return escape > 0 && (text[i - escape] == '\x1b' || escape > 6) ? escape : 0;
}
std::size_t csi_at(std::string_view text, std::size_t i) {
  const std::size_t n = text.size();
  std::size_t k = i;
  if (k < n && text[k] == '\x1b') {
    ++k;
  } else if (k + 6 <= n && text[k] == '\\' && text[k + 1] == 'u' && text.substr(k + 2, 3) == "001" &&
             ascii_lower(text[k + 5]) == 'b') {
    k += 6;
  } else {
    return 0;
  }
  if (k >= n || text[k] != '[') return 0;
  ++k;
  while (k < n && k - i < 40 && text[k] >= 0x20 && text[k] <= 0x3f) ++k;
  return k < n && text[k] >= 0x40 && text[k] <= 0x7e ? k + 1 - i : 0;
}

// A value's bounds without the colour codes around it (a coloured value, grep --color's marks):
// the codes stay, only the value goes. Codes inside it go with it.
void strip_colours(std::string_view text, std::size_t& begin, std::size_t& end) {
  for (std::size_t c; begin < end && (c = csi_at(text, begin)) > 0 && begin + c <= end;) begin += c;
  for (std::size_t c; end > begin && (c = csi_before(text, end)) > 0 && end - c >= begin;) end -= c;
}

// The end of a value opened by `quote` at `from` (its first byte inside): the closing quote, or
// the end of the line. In "..." a backslash escapes the next byte; `escaped` means the quote is
// itself escaped, \"...\" inside a JSON string, and ends at the next \".
std::size_t closing_quote(std::string_view text, std::size_t from, char quote, bool escaped) {
  const std::size_t n = text.size();
  std::size_t end = from;
  while (end < n && text[end] != '\n') {
    if (escaped ? escape_at(text, end, "\"") : text[end] == quote) break;
    end += (quote == '"' && text[end] == '\\' && end + 1 < n && text[end + 1] != '\n') ? 2 : 1;
  }
  return std::min(end, n);
}

// An HTTP Authorization header (or Proxy-Authorization): its credentials, after the scheme. A
// scheme whose credentials are one token (Basic, Bearer, token) gives only that word; another
// (Digest, AWS4-HMAC-SHA256) gives the rest of the value. A header found inside the part of an
// earlier one already looked at adds nothing ("Authorization:Authorization:..." stays linear).
void authorization(std::string_view text, std::size_t v, SeparatorMemo& memo, std::vector<Span>& named) {
  const std::size_t n = text.size();
  if (v < memo.auth_until) return;
  std::size_t e = v;
  if (v < n && escape_at(text, v, "\"")) {
    v += 2;
    e = closing_quote(text, v, '"', true);
  } else if (v < n && (text[v] == '"' || text[v] == '\'')) {
    const char quote = text[v++];
    e = closing_quote(text, v, quote, false);
  } else {
    e = memo.line.next(text, v, line_end);
  }
  if (e != memo.trimmed_from) {
    memo.trimmed_from = e;
    while (e > v && (text[e - 1] == '\r' || is_blank(text[e - 1]))) --e;
    memo.trimmed = e;
  }
  e = std::max(v, std::min(e, memo.trimmed));
  const std::size_t w = std::min(e, memo.space.next(text, v, value_end));
  const std::size_t c = std::min(e, memo.non_blank.next(text, w, non_blank));
  const std::string_view scheme = text.substr(v, w - v);
  std::string_view label = "authorization";
  std::size_t begin = c, end = e, min = 4;
  if (c == e) {  // one word: the credentials themselves (an API key sent bare)
    begin = v;
    end = w;
    min = 16;
  } else if (equals_lower(scheme, "basic") || equals_lower(scheme, "bearer") || equals_lower(scheme, "token")) {
    end = std::min(e, memo.space_or_quote.next(text, c, word_end));
    label = equals_lower(scheme, "basic") ? "basic-auth" : equals_lower(scheme, "bearer") ? "bearer-token" : label;
  }
  memo.auth_until = std::max(memo.auth_until, end);
  strip_colours(text, begin, end);
  const std::string_view credentials = text.substr(begin, end - begin);
  if (credentials.size() < min || placeholder(credentials)) return;
  add_span(named, begin, end, label);
}

// scheme://user:password@host: the password. The authority ends at the first / ? # or blank;
// its last '@' ends the user information, whose first ':' starts the password.
void url_password(std::string_view text, std::size_t i, std::vector<Span>& named) {
  if (i == 0 || !is(text[i - 1], kAlnum)) return;
  const std::size_t n = text.size();
  std::size_t colon = npos, at = npos;
  for (std::size_t e = i + 3; e < n; ++e) {
    const char c = text[e];
    if (c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' ||
        c == '\'' || c == '<' || c == '>' || c == '`' || c == '\\') {
      break;
    }
    if (c == '@') at = e;
    if (c == ':' && colon == npos) colon = e;
  }
  if (at == npos || colon == npos || colon > at) return;
  const std::string_view password = text.substr(colon + 1, at - colon - 1);
  if (placeholder(password)) return;
  add_span(named, colon + 1, at, "url-password");
}

// Whether a name could be secret at all, before the full judgement: every policy name holds one
// of rules.name_words (KEY, TOKEN, SECRET, PASS...), so most names ("level", "time", "url") are
// dismissed without building a copy.
bool maybe_secret(std::string_view name, const CompiledRules& rules) {
  if (!rules.rules.names.empty() || rules.name_words.empty()) return true;
  const auto same = [](char a, char upper) { return (a == '-' || a == '.' ? '_' : ascii_upper(a)) == upper; };
  for (std::size_t i = 0; i < name.size(); ++i) {
    for (const std::string& word : rules.name_words) {
      if (i + word.size() > name.size() || !same(name[i], word[0])) continue;
      std::size_t k = 1;
      while (k < word.size() && same(name[i + k], word[k])) ++k;
      if (k == word.size()) return true;
    }
  }
  return false;
}

}  // namespace

void scan_separator(std::string_view text, std::size_t i, const CompiledRules& rules, SeparatorMemo& memo,
                    std::vector<Span>& named) {
  const std::size_t n = text.size();
  const char sep = text[i];
  if (sep == ':' && i + 2 < n && text[i + 1] == '/' && text[i + 2] == '/') return url_password(text, i, named);
  if (sep == ':' && i + 1 < n && text[i + 1] == ':') return;  // C++'s a::b
  if (sep == '=' && i + 1 < n && (text[i + 1] == '=' || text[i + 1] == '>' || text[i + 1] == '~')) return;

  // The name before: blanks, a closing quote, the name (its leading dashes are an option's: --password=).
  std::size_t k = i;
  while (k > 0 && i - k < kBlanksMax && is_blank(text[k - 1])) --k;
  char quote = 0;
  if (k > 0 && (text[k - 1] == '"' || text[k - 1] == '\'')) quote = text[--k];
  if (quote == '"' && k > 0 && text[k - 1] == '\\') --k;  // \"name\": inside a JSON string
  const std::size_t name_end = k;
  while (k > 0 && name_end - k <= kNameMax && is(text[k - 1], kName)) --k;
  if (k > 0 && is(text[k - 1], kName)) return;  // longer than any variable's name
  k = name_start(text, k, name_end);  // "\nNAME", ESC[32mNAME: after an escape
  if (quote && (k == 0 || text[k - 1] != quote)) return;
  while (k < name_end && (text[k] == '-' || text[k] == '.')) ++k;
  if (k == name_end || !(is_alpha(text[k]) || text[k] == '_')) return;  // "12:00", "-->"
  const std::string_view name = text.substr(k, name_end - k);

  std::size_t v = i + 1;
  if (sep == ':' && v < n && text[v] == '=') ++v;  // :=
  while (v < n && is_blank(text[v])) ++v;
  if (ends_with_lower(name, "authorization") &&
      (name.size() == 13 || name[name.size() - 14] == '-' || name[name.size() - 14] == '_')) {
    return authorization(text, v, memo, named);
  }
  if (v >= n || !maybe_secret(name, rules) || !is_secret_name(name, rules)) return;

  std::size_t begin = v, end = v;
  const bool escaped = escape_at(text, v, "\"");
  const bool quoted = escaped || text[v] == '"' || text[v] == '\'';
  if (quoted) {
    begin = v + (escaped ? 2 : 1);
    end = closing_quote(text, begin, escaped ? '"' : text[v], escaped);
    if (end < n && text[end] == '\n' && end > begin && text[end - 1] == '\r') --end;  // unterminated
  } else {
    end = memo.space.next(text, v, value_end);
    for (std::size_t was = npos; was != end;) {
      was = end;
      while (end > begin && std::strchr(",;)]}\"'", text[end - 1]) != nullptr) --end;
      strip_colours(text, begin, end);
    }
  }
  const std::string_view value = text.substr(begin, end - begin);
  if (value.size() < kValueMin || placeholder(value)) return;
  // Unquoted, a shell reference or substitution ($X, ${X}, $(cmd) -- which may hold blanks), a
  // <placeholder> or a {{ template }}, or code.
  if (!quoted && (value[0] == '$' || value[0] == '<' || starts_with(value, "{{") || code(value))) return;
  add_span(named, begin, end, name);
}

int scan_aws_secrets(std::string_view text, const std::vector<std::size_t>& ids, int lines_in,
                     std::vector<Span>& spans) {
  const std::size_t n = text.size();
  // The end of the line `lines` lines after the one at `pos` (its '\n', or the end of the text).
  // Asked at increasing positions; the line breaks found are kept, so that many key ids on one
  // long line search it once.
  std::vector<std::size_t> breaks;
  std::size_t first = 0, searched = 0;
  auto line_end_after = [&](std::size_t pos, int lines) {
    while (first < breaks.size() && breaks[first] < pos) ++first;
    if (first > 1024 && first * 2 > breaks.size()) {  // keep only the breaks still ahead
      breaks.erase(breaks.begin(), breaks.begin() + static_cast<std::ptrdiff_t>(first));
      first = 0;
    }
    if (searched < pos) {  // every break kept lies before `pos`
      breaks.clear();
      first = 0;
      searched = pos;
    }
    while (breaks.size() - first <= static_cast<std::size_t>(lines) && searched < n) {
      const void* nl = std::memchr(text.data() + searched, '\n', n - searched);
      if (!nl) {
        searched = n;
        break;
      }
      breaks.push_back(static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()));
      searched = breaks.back() + 1;
    }
    const std::size_t have = breaks.size() - first;
    return have > static_cast<std::size_t>(lines) ? breaks[first + static_cast<std::size_t>(lines)] : n;
  };
  std::size_t scanned = 0;  // everything before this has been looked at
  auto scan_region = [&](std::size_t from, std::size_t to) {
    std::size_t k = std::max(from, scanned);
    // Back to the start of a run cut by the region's start (a run longer than a key is no key).
    for (std::size_t back = 0; k > 0 && back <= 40 && is(text[k - 1], kAwsBody); ++back) --k;
    while (k < to) {
      if (!is(text[k], kAwsBody)) {
        ++k;
        continue;
      }
      // A run that starts with an escape's tail (the n of "\n", the 31m of ESC[31m): the key
      // starts after it.
      for (std::size_t p = k + 1; p < n && p <= k + 16 && is(text[p - 1], kAwsBody); ++p) {
        const std::size_t esc = escape_before(text, p);
        if (esc > 0 && p - esc < k) {
          k = p;
          break;
        }
      }
      std::size_t e = k;
      bool upper = false, lower = false;
      while (e < n && is(text[e], kAwsBody)) {
        upper = upper || (text[e] >= 'A' && text[e] <= 'Z');
        lower = lower || (text[e] >= 'a' && text[e] <= 'z');
        ++e;
      }
      const bool alone = (k == 0 || !is(text[k - 1], kAwsBody) || escape_before(text, k) > 0) && (e == n || text[e] != '=');
      // Pushed, not add_span: the spans here are all the text's shapes, found in no order with
      // these, and add_span would fold this key into whichever span came last (the key id over
      // its first 20 bytes when the text ends there, a later token when not), so its label would
      // depend on what follows it. The redactor's merge of overlaps decides, the same in all texts.
      if (e - k == 40 && alone && upper && lower) spans.push_back({k, e, "aws-secret-key"});
      k = e;
    }
    scanned = std::max(scanned, std::max(k, to));
  };
  if (lines_in > 0) scan_region(0, line_end_after(0, lines_in - 1));
  for (std::size_t id : ids) {
    std::size_t start = id;
    while (start > scanned && text[start - 1] != '\n') --start;
    scan_region(start, line_end_after(id, kAwsLines));
  }
  // What is left of the window for the text that follows.
  int left = 0;
  auto newlines_after = [&](std::size_t pos, int cap) {
    int count = 0;
    for (std::size_t e = pos; count <= cap;) {
      const void* nl = std::memchr(text.data() + e, '\n', n - e);
      if (!nl) break;
      ++count;
      e = static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) + 1;
    }
    return count;
  };
  if (lines_in > 0) left = std::max(0, lines_in - newlines_after(0, lines_in));
  if (!ids.empty()) left = std::max(left, kAwsLines + 1 - newlines_after(ids.back(), kAwsLines + 1));
  return left;
}

}  // namespace sidecar::host::detail
