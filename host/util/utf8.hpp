// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), and the two
// renderings of untrusted text Sidecar uses: a valid one for records (JSON) and a visible one for
// the terminal.
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

// `text` as valid UTF-8: each byte that is not part of a valid sequence becomes U+FFFD (one per
// byte, so `replaced` counts the bytes lost). Valid text comes back unchanged.
std::string utf8_repair(std::string_view text, std::size_t* replaced = nullptr);

// `text` as a terminal shows it harmlessly, every byte visible: newlines and tabs stay (and a
// carriage return right before a newline); other C0 controls and DEL in caret notation (ESC ->
// "^[", DEL -> "^?"); C1 controls, bidirectional overrides and isolates, and LRM/RLM/ALM as
// "<U+202E>"; bytes that are not UTF-8 as "\xE9". `changed` counts what was rewritten.
std::string terminal_visible(std::string_view text, std::size_t* changed = nullptr);

// The length of the valid UTF-8 sequence starting at s[0] (1 to 4), or 0 when none starts there.
std::size_t utf8_sequence_length(std::string_view s) noexcept;

// Code points that reorder or hide text on a terminal (bidi controls, LRM/RLM/ALM): shown, never
// written raw, by terminal_visible and escaped by the JSON writer.
bool is_invisible_control(char32_t cp) noexcept;

}  // namespace sidecar
