#include "util/utf8.hpp"

namespace sidecar {

namespace {

// The length of the sequence led by s[i] when it is valid (1..4), else 0. `n` bytes are readable.
inline std::size_t sequence_at(const unsigned char* s, std::size_t i, std::size_t n) noexcept {
  unsigned char c = s[i];
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;       // overlong
    else if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;       // overlong
    else if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  if (n - i < len) return 0;
  if (s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if ((s[i + k] & 0xC0) != 0x80) return 0;
  return len;
}

char32_t decode(const unsigned char* s, std::size_t len) noexcept {
  switch (len) {
    case 1: return s[0];
    case 2: return (char32_t(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3: return (char32_t(s[0] & 0x0F) << 12) | (char32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
      return (char32_t(s[0] & 0x07) << 18) | (char32_t(s[1] & 0x3F) << 12) | (char32_t(s[2] & 0x3F) << 6) |
             (s[3] & 0x3F);
  }
}

const char kHex[] = "0123456789ABCDEF";

}  // namespace

std::size_t utf8_sequence_length(std::string_view s) noexcept {
  if (s.empty()) return 0;
  return sequence_at(reinterpret_cast<const unsigned char*>(s.data()), 0, s.size());
}

bool is_invisible_control(char32_t cp) noexcept {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
         cp == 0x061C;
}

std::size_t utf8_invalid_offset(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {  // ASCII fast path: the common case in JSON and source text
      ++i;
      continue;
    }
    std::size_t len = sequence_at(s, i, n);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

namespace {

// `text` with each byte that starts no valid sequence written as `bad(byte, out)` does; returns
// how many there were.
template <typename Bad>
std::size_t replace_invalid(std::string_view text, std::string& out, Bad bad) {
  std::size_t count = 0;
  out.reserve(text.size());
  while (!text.empty()) {
    std::size_t at = utf8_invalid_offset(text);
    if (at == std::string_view::npos) at = text.size();
    out.append(text.substr(0, at));
    if (at == text.size()) break;
    bad(static_cast<unsigned char>(text[at]), out);
    ++count;
    text.remove_prefix(at + 1);
  }
  return count;
}

}  // namespace

std::string utf8_escape_invalid(std::string_view text) {
  std::string out;
  replace_invalid(text, out, [](unsigned char c, std::string& o) {
    o += "\\x";
    o.push_back(kHex[c >> 4]);
    o.push_back(kHex[c & 0xF]);
  });
  return out;
}

std::string utf8_repair(std::string_view text, std::size_t* replaced) {
  std::string out;
  const std::size_t count =
      replace_invalid(text, out, [](unsigned char, std::string& o) { o += "\xEF\xBF\xBD"; });  // U+FFFD
  if (replaced) *replaced = count;
  return out;
}

std::string terminal_visible(std::string_view text, std::size_t* changed) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t count = 0;
  std::string out;
  out.reserve(n);
  std::size_t run = 0;  // start of the pending run of bytes written as they are
  auto flush = [&](std::size_t i) { out.append(text.data() + run, i - run); };
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7F) {  // printable ASCII: the common case
      ++i;
      continue;
    }
    if (c == '\n' || c == '\t' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
      ++i;
      continue;
    }
    if (c < 0x80) {  // another C0 control, or DEL
      flush(i);
      out.push_back('^');
      out.push_back(static_cast<char>(c ^ 0x40));
      ++count;
      run = ++i;
      continue;
    }
    std::size_t len = sequence_at(s, i, n);
    if (len == 0) {
      flush(i);
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++count;
      run = ++i;
      continue;
    }
    char32_t cp = decode(s + i, len);
    if ((cp >= 0x80 && cp <= 0x9F) || is_invisible_control(cp)) {
      flush(i);
      out += "<U+";
      for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(cp >> shift) & 0xF]);
      out.push_back('>');
      ++count;
      run = i + len;
    }
    i += len;
  }
  flush(n);
  if (changed) *changed = count;
  return out;
}

}  // namespace sidecar
