// Pieces of JSON text: the writer's escaping and number formatting, and error positions.
// Pure C++ so the Lua binding stays a thin walk over tables and these are testable alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sidecar::json_text {

// Appends `s` as a quoted JSON string. Returns false (appending nothing useful) when `s` is not
// valid UTF-8; `bad_offset` then receives the offset of the first invalid byte.
bool append_string(std::string& out, std::string_view s, std::size_t* bad_offset = nullptr);

// Appends the shortest text that reads back as exactly `v`, always with a '.' or exponent so a
// float stays a float (2.0 -> "2.0"). Returns false for NaN and infinities, which JSON lacks.
bool append_float(std::string& out, double v);

void append_integer(std::string& out, std::int64_t v);

// `s` as a quoted JSON string (append_string's), each byte that is not part of valid UTF-8 first
// replaced by U+FFFD: a command line or path of any bytes, written into a report.
std::string quoted(std::string_view s);

struct Position {
  std::size_t line;    // 1-based
  std::size_t column;  // 1-based, in characters (UTF-8 code points), as editors count
};

// The offset of the bracket that opens nesting level `limit` + 1 (brackets inside strings do not
// count), or text.size() when nothing nests that deep. Writers recurse per level, so a document
// is checked with this before one is asked to write it back.
std::size_t nesting_offset(std::string_view text, int limit) noexcept;

// JSON text as a lenient reader of an agent's stream takes it: each byte that is not part of
// valid UTF-8 becomes U+FFFD, and so does each \u escape of a surrogate without its pair
// (\ud800 alone), which a strict parser refuses; `replaced` counts both. A number too large for
// a double (1e309), which a strict parser refuses too, becomes null; `numbers` counts those.
// Linear; JSON a strict parser reads comes back unchanged.
std::string repair(std::string_view text, std::size_t* replaced = nullptr, std::size_t* numbers = nullptr);

// Line and column of byte `offset` in `text` (offset may equal text.size()).
Position position_of(std::string_view text, std::size_t offset) noexcept;

}  // namespace sidecar::json_text
