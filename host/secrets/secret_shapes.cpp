// The redactor's main scan (host/secrets/secret_scan.hpp): one pass over the text that checks, at each
// byte that can start something, the policy's token shapes, JSON web tokens, bearer tokens, PEM
// blocks and the user's patterns, and hands separators to secret_assignments.cpp.
#include <algorithm>

#include "secrets/secret_scan.hpp"

namespace sidecar::host::detail {
namespace {

constexpr std::size_t kJwtPartMin = 10;
constexpr std::size_t kBearerMin = 16;
constexpr std::size_t kPemLabelMax = 64;
constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemEnd = "-----END ";
constexpr std::string_view kPemDashes = "-----";

// The end of the run of bytes in a class starting at `pos`, remembering the last run: a query
// inside it has the same end. Each use keeps its own memo and queries it at increasing positions,
// so candidates packed into one long run ("sk-sk-sk-…") never rescan it and the scan stays linear.
class RunMemo {
 public:
  template <typename InClass>
  std::size_t end_if(std::string_view text, std::size_t pos, InClass in_class) {
    if (pos >= begin_ && pos < end_) return end_;
    std::size_t e = pos;
    while (e < text.size() && in_class(text[e])) ++e;
    begin_ = pos;
    end_ = e;
    return e;
  }
  std::size_t end(std::string_view text, std::size_t pos, std::uint16_t cls) {
    return end_if(text, pos, [cls](char c) { return is(c, cls); });
  }
  std::size_t end(std::string_view text, std::size_t pos, const std::array<bool, 256>& table) {
    return end_if(text, pos, [&table](char c) { return table[static_cast<unsigned char>(c)]; });
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

// Every kind of private or secret key: RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP PRIVATE KEY BLOCK...
bool secret_label(std::string_view label) {
  return label.find("PRIVATE") != npos || label.find("SECRET") != npos;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// What separates the base64 of a PEM body: line breaks and blanks (a key indented in YAML, or
// flattened onto one line by an unquoted shell variable), and the two characters \n of a key kept
// in a JSON string.
bool is_space(char c) { return is_blank(c) || c == '\n'; }

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

bool hex4(std::string_view t, std::size_t at) {
  for (std::size_t k = at; k < at + 4; ++k) {
    if (!is(t[k], kHex)) return false;
  }
  return true;
}

}  // namespace

std::size_t escape_before(std::string_view t, std::size_t i) {
  if (i >= 2 && t[i - 2] == '\\' && std::string_view("nrtbf").find(t[i - 1]) != npos) return 2;
  if (i >= 6 && t[i - 6] == '\\' && t[i - 5] == 'u' && hex4(t, i - 4)) return 6;
  const char final = i >= 1 ? t[i - 1] : '\0';
  if (final < 0x40 || final > 0x7e) return 0;
  // Back over parameter and intermediate bytes (0x20-0x3F) to the '[' of a CSI: a short way only.
  std::size_t k = i - 1;
  const std::size_t stop = i > 32 ? i - 32 : 0;
  while (k > stop && t[k - 1] >= 0x20 && t[k - 1] <= 0x3f) --k;
  if (k == 0 || t[k - 1] != '[') return 0;
  if (k >= 2 && t[k - 2] == '\x1b') return i - (k - 2);
  if (k >= 7 && t[k - 7] == '\\' && t[k - 6] == 'u' && t.substr(k - 5, 3) == "001" && ascii_lower(t[k - 2]) == 'b') {
    return i - (k - 7);
  }
  return 0;
}

namespace {

class Scanner {
 public:
  Scanner(std::string_view text, const CompiledRules& rules, ScanResult& out)
      : text_(text), rules_(rules), out_(out), pattern_runs_(rules.patterns.size()) {}

  // Most bytes start nothing: one table load each (rules.triggers: the matcher's own and the
  // first bytes of the patterns' prefixes), and a pattern only where a word starts.
  void scan() {
    const std::size_t n = text_.size();
    const char* const data = text_.data();
    const bool* const triggers = rules_.triggers.data();
    for (std::size_t i = 0;; ++i) {
      while (i < n && !triggers[static_cast<unsigned char>(data[i])]) ++i;  // the tight loop
      if (i >= n) break;
      const char c = data[i];
      if (c == '=' || c == ':') scan_separator(text_, i, rules_, separators_, out_.named);
      if (c == '-') private_key(i);
      if (!word_start(text_, i)) continue;  // inside a longer identifier
      // The policy's shapes, the matcher's own, then the user's: on a tie the first names it.
      patterns(i, c, true);
      if (c == 'e') jwt(i);
      if (c == 'B' || c == 'b') bearer(i);
      patterns(i, c, false);
    }
  }

 private:
  void patterns(std::size_t i, char c, bool policy) {
    const std::string_view rest = text_.substr(i);
    const auto uc = static_cast<unsigned char>(c);
    for (std::uint32_t s = rules_.first[uc]; s < rules_.first[uc + 1]; ++s) {
      const std::size_t k = rules_.by_first[s];
      if ((k < rules_.policy_patterns) != policy) continue;
      const CompiledPattern& p = rules_.patterns[k];
      if (!starts_with(rest, p.prefix)) continue;
      const std::size_t body = i + p.prefix.size();
      const std::size_t length = pattern_runs_[k].end(text_, body, p.body) - body;
      if (length < p.min || (p.max < TokenPattern::kMaxCount && length > p.max)) continue;
      add_span(out_.shapes, i, body + length, p.kind);
      if (p.aws_key_id && i >= covered_) out_.aws_ids.push_back(i);
    }
  }

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
    add_span(out_.shapes, i, end3, "jwt");
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
    if (end - token >= kBearerMin) add_span(out_.shapes, token, end, "bearer-token");
  }

  void private_key(std::size_t i) {
    const std::string_view rest = text_.substr(i);
    if (starts_with(rest, kPemBegin)) {
      pem_block(i);
    } else if (starts_with(rest, kPemEnd) && i >= covered_) {
      orphan_end(i);
    }
  }

  // A PEM block from BEGIN to its END line; without one (the head of a log), over the base64
  // after BEGIN, at most kPemMax bytes from it. Text that merely mentions a BEGIN line, with no
  // base64 after it, is left alone.
  void pem_block(std::size_t i) {
    const std::size_t n = text_.size();
    std::size_t after = 0;
    const std::string_view label = pem_label(text_, i + kPemBegin.size(), after);
    if (!secret_label(label)) return;
    const std::size_t limit = std::min(n, i + kPemMax);
    std::size_t k = skip_separators(text_, after);
    while (k < limit && pem_header_line(text_, k)) k = skip_separators(text_, next_line(text_, k));
    std::size_t base64 = 0;
    std::size_t end = after;
    bool open = false;  // the block ran into the end of the text: more of it may follow
    for (;;) {
      k = skip_separators(text_, k);
      if (k >= n) {
        open = true;
        break;
      }
      if (k >= limit) break;
      std::size_t end_after = 0;
      if (starts_with(text_.substr(k), kPemEnd) && pem_label(text_, k + kPemEnd.size(), end_after) == label) {
        end = end_after;
        break;
      }
      std::size_t t = k;
      while (t < limit && is(text_[t], kBase64)) ++t;
      if (t == k) break;
      base64 += t - k;
      end = k = t;
    }
    if (open) out_.open_pem = std::min(out_.open_pem, i);
    if (base64 < kPemBodyMin) return;
    add_span(out_.shapes, i, end, "private-key");
    covered_ = end;
  }

  // An END line whose BEGIN was cut off (the tail of a log): the base64 before it on its line and,
  // when that reaches the start of the line, the lines of base64 above it, up to kOrphanMax bytes.
  void orphan_end(std::size_t i) {
    std::size_t after = 0;
    if (!secret_label(pem_label(text_, i + kPemEnd.size(), after))) return;
    std::size_t base64 = 0;
    std::size_t start = i;
    std::size_t k = i;
    for (;;) {
      for (;;) {  // blanks and escaped breaks, never a real line break
        if (k > 0 && is_blank(text_[k - 1])) {
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
    }
    if (k == 0 || text_[k - 1] == '\n') {
      const std::size_t line = k;  // the start of the END line (after its blanks)
      while (k > 0) {
        const std::size_t nl = k - 1;
        std::size_t ls = nl;
        while (ls > 0 && text_[ls - 1] != '\n' && line - ls <= kOrphanMax) --ls;
        if (line - ls > kOrphanMax || !base64_line(text_.substr(ls, nl - ls))) break;
        std::size_t first = ls;
        while (is_blank(text_[first])) ++first;
        for (std::size_t b = first; b < nl; ++b) base64 += is(text_[b], kBase64) ? 1 : 0;
        start = first;
        k = ls;
      }
    }
    if (base64 < kPemBodyMin) return;
    add_span(out_.shapes, start, after, "private-key");
    covered_ = after;
  }

  std::string_view text_;
  const CompiledRules& rules_;
  ScanResult& out_;
  std::vector<RunMemo> pattern_runs_;
  std::array<RunMemo, 3> jwt_runs_;
  RunMemo bearer_run_;
  SeparatorMemo separators_;
  std::size_t covered_ = 0;  // the end of the last private key block found
};

}  // namespace

bool base64_line(std::string_view line) {
  std::size_t b = 0, e = line.size();
  while (b < e && is_blank(line[b])) ++b;
  while (e > b && is_blank(line[e - 1])) --e;
  if (b == e) return false;
  for (std::size_t k = b; k < e; ++k) {
    if (!is(line[k], kBase64)) return false;
  }
  return true;
}

void scan_text(std::string_view text, const CompiledRules& rules, ScanResult& out) {
  Scanner(text, rules, out).scan();
}

}  // namespace sidecar::host::detail
