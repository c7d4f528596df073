// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sidecar {

// Byte offset of the first byte that starts an invalid sequence, or npos when all of `text` is valid.
std::size_t utf8_invalid_offset(std::string_view text) noexcept;

inline bool utf8_valid(std::string_view text) noexcept {
  return utf8_invalid_offset(text) == std::string_view::npos;
}

// `text` with each byte that is not part of valid UTF-8 written as \xHH, safe to show anywhere.
std::string utf8_escape_invalid(std::string_view text);

}  // namespace sidecar
