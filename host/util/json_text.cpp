#include "util/json_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "util/utf8.hpp"

namespace sidecar::json_text {

bool append_string(std::string& out, std::string_view s, std::size_t* bad_offset) {
  std::size_t bad = utf8_invalid_offset(s);
  if (bad != std::string_view::npos) {
    if (bad_offset) *bad_offset = bad;
    return false;
  }
  static const char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F && c != 0xC2 && c != 0xD8 && c != 0xE2) continue;
    if (c >= 0x80) {
      // A code point a terminal would obey or hide (C1 controls, bidi overrides and isolates,
      // LRM/RLM/ALM, the JavaScript line separators) is written \uXXXX: the same string to a
      // reader, harmless when the file is shown with cat.
      std::size_t len = utf8_sequence_length(s.substr(i));
      char32_t cp = len == 2 ? ((char32_t(c & 0x1F) << 6) | (s[i + 1] & 0x3F))
                  : len == 3 ? ((char32_t(c & 0x0F) << 12) | (char32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F))
                             : 0;
      if (!((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || is_invisible_control(cp))) continue;
      out.append(s.data() + run, i - run);
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out.push_back(hex[(cp >> shift) & 0xF]);
      i += len - 1;
      run = i + 1;
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
  return true;
}

bool append_float(std::string& out, double v) {
  if (!std::isfinite(v)) return false;
  char buf[40];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  std::string_view text(buf, static_cast<std::size_t>(res.ptr - buf));
  out.append(text);
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
  return true;
}

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

std::string quoted(std::string_view s) {
  std::string out;
  append_string(out, sidecar::utf8_repair(s));  // valid UTF-8 now: it cannot fail
  return out;
}

namespace {

// The value of the 4 hex digits at text[i], or -1.
long hex4(std::string_view text, std::size_t i) {
  if (i + 4 > text.size()) return -1;
  long v = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char c = text[k];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// The number token at text[i] (a '-' or a digit outside any string): where it ends, and whether
// it is too large for a double (1e309), which a strict parser refuses.
std::size_t number_end(std::string_view text, std::size_t i, bool& overflows) {
  std::size_t end = i + 1;
  while (end < text.size() && ((text[end] >= '0' && text[end] <= '9') || text[end] == '.' || text[end] == 'e' ||
                               text[end] == 'E' || text[end] == '+' || text[end] == '-')) {
    ++end;
  }
  const std::string_view token = text.substr(i, end - i);
  if (token.size() <= 64) {
    const std::string copy(token);
    char* stop = nullptr;
    const double v = std::strtod(copy.c_str(), &stop);
    overflows = stop == copy.c_str() + copy.size() && std::isinf(v);
    return end;
  }
  // A long token (strtod is not linear on one): its magnitude, the digits before the point (after
  // leading zeros) plus its exponent, says whether it reaches 1e309.
  std::size_t k = token[0] == '-' ? 1 : 0;
  while (k < token.size() && token[k] == '0') ++k;
  long long magnitude = 0;
  while (k < token.size() && token[k] >= '0' && token[k] <= '9') ++k, ++magnitude;
  const std::size_t e = token.find_first_of("eE");
  if (magnitude > 0 && e != std::string_view::npos) {
    long long exponent = 0;
    std::size_t d = e + 1 + (e + 1 < token.size() && (token[e + 1] == '+' || token[e + 1] == '-'));
    for (; d < token.size() && token[d] >= '0' && token[d] <= '9' && exponent < 100000; ++d) {
      exponent = exponent * 10 + (token[d] - '0');
    }
    magnitude += e + 1 < token.size() && token[e + 1] == '-' ? -exponent : exponent;
  }
  overflows = magnitude > 309;
  return end;
}

}  // namespace

std::string repair(std::string_view text, std::size_t* replaced, std::size_t* numbers) {
  std::size_t bytes = 0, huge = 0;
  const std::string valid = utf8_repair(text, &bytes);
  std::string out;
  out.reserve(valid.size());
  bool in_string = false;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    const char c = valid[i];
    if (!in_string) {
      if (c == '-' || (c >= '0' && c <= '9')) {
        bool overflows = false;
        const std::size_t end = number_end(valid, i, overflows);
        if (overflows) {
          out += "null";
          ++huge;
        } else {
          out.append(valid, i, end - i);
        }
        i = end - 1;
        continue;
      }
      in_string = c == '"';
      out.push_back(c);
      continue;
    }
    if (c == '"') {
      in_string = false;
    } else if (c == '\\' && i + 1 < valid.size()) {
      const long cp = valid[i + 1] == 'u' ? hex4(valid, i + 2) : -1;
      const bool high = cp >= 0xD800 && cp <= 0xDBFF, low = cp >= 0xDC00 && cp <= 0xDFFF;
      if (high && i + 8 <= valid.size() && valid.compare(i + 6, 2, "\\u") == 0) {
        const long next = hex4(valid, i + 8);
        if (next >= 0xDC00 && next <= 0xDFFF) {  // a pair: kept as written
          out.append(valid, i, 12);
          i += 11;
          continue;
        }
      }
      if (high || low) {
        out += "\\ufffd";
        ++bytes;
        i += 5;
        continue;
      }
      out.append(valid, i, 2);  // any other escape, the escaped character included
      ++i;
      continue;
    }
    out.push_back(c);
  }
  if (replaced) *replaced = bytes;
  if (numbers) *numbers = huge;
  return out;
}

Position position_of(std::string_view text, std::size_t offset) noexcept {
  if (offset > text.size()) offset = text.size();
  Position p{1, 1};
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++p.column;  // count characters, not the continuation bytes of UTF-8 sequences
    }
  }
  return p;
}

std::size_t nesting_offset(std::string_view text, int limit) noexcept {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return text.size();
}

}  // namespace sidecar::json_text
