// Fuzz target: the JSON writer's pieces (host/util/json_text) and the UTF-8 check under them, each
// against an independent reading: nlohmann's parser, strtod, and a UTF-8 validator written here;
// and the lenient reader's repair of an agent's event line.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "util/json_text.hpp"
#include "util/utf8.hpp"

namespace {

constexpr std::size_t npos = std::string_view::npos;

void check(bool ok, const std::string& what) {
  if (!ok) sidecar::fuzz::finding("json_text", what);
}

// RFC 3629 read directly: the offset of the first byte that starts an invalid sequence.
std::size_t reference_invalid_offset(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t more;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      more = 1, cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2, cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3, cp = c & 0x07u;
    } else {
      return i;
    }
    for (std::size_t k = 1; k <= more; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    }
    if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += more + 1;
  }
  return npos;
}

int depth_of(const nlohmann::json& j) {
  if (!j.is_structured()) return 0;
  int deepest = 0;
  for (const auto& item : j) deepest = std::max(deepest, depth_of(item));
  return deepest + 1;
}

void check_strings(std::string_view text) {
  const std::size_t bad = sidecar::utf8_invalid_offset(text);
  check(bad == reference_invalid_offset(text), "utf8_invalid_offset disagrees with RFC 3629 at " + std::to_string(bad));
  const std::string shown = sidecar::utf8_escape_invalid(text);
  check(sidecar::utf8_valid(shown), "utf8_escape_invalid left invalid UTF-8");
  check(bad != npos || shown == text, "utf8_escape_invalid changed valid UTF-8");

  std::string out = "x";
  std::size_t where = 12345;
  const bool ok = sidecar::json_text::append_string(out, text, &where);
  check(ok == (bad == npos), "append_string accepted invalid or refused valid UTF-8");
  if (!ok) {
    check(where == bad, "append_string reported the wrong offset of the invalid byte");
    return;
  }
  auto back = nlohmann::json::parse(out.begin() + 1, out.end(), nullptr, false);
  check(back.is_string() && back.get<std::string>() == text, "append_string wrote text that reads back otherwise");
}

void check_positions(std::string_view text, std::size_t offset) {
  const auto p = sidecar::json_text::position_of(text, offset);
  const std::size_t end = std::min(offset, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') ++line, column = 1;
    else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  check(p.line == line && p.column == column, "position_of: wrong line or column");
}

void check_nesting(std::string_view text, int limit) {
  const std::size_t at = sidecar::json_text::nesting_offset(text, limit);
  check(at == text.size() || (at < text.size() && (text[at] == '[' || text[at] == '{')),
        "nesting_offset points at something other than an opening bracket");
  // nlohmann stops at a NUL byte, and depth_of recurses: only NUL-free documents of a bounded depth.
  if (text.find('\0') != npos || sidecar::json_text::nesting_offset(text, 256) != text.size()) return;
  auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return;
  const int depth = depth_of(doc);
  check((depth > limit) == (at < text.size()), "nesting_offset disagrees with the parsed document's depth");
}

void check_numbers(const std::uint8_t* data, std::size_t size) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, data, std::min<std::size_t>(size, sizeof bits));
  double v;
  std::memcpy(&v, &bits, sizeof v);
  std::string out;
  const bool ok = sidecar::json_text::append_float(out, v);
  check(ok == std::isfinite(v), "append_float: accepted a non-finite or refused a finite value");
  if (ok) {
    check(out.find_first_of(".eE") != npos, "append_float wrote a float without '.' or exponent: " + out);
    const double back = std::strtod(out.c_str(), nullptr);
    check(std::memcmp(&back, &v, sizeof v) == 0, "append_float does not read back exactly: " + out);
    auto j = nlohmann::json::parse(out, nullptr, false);
    check(j.is_number_float(), "append_float wrote text JSON does not read as a float: " + out);
  }
  std::int64_t i;
  std::memcpy(&i, &bits, sizeof i);
  std::string text;
  sidecar::json_text::append_integer(text, i);
  std::int64_t again = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), again);
  check(res.ec == std::errc() && res.ptr == text.data() + text.size() && again == i, "append_integer: " + text);
}

// repair: valid UTF-8 out; what nlohmann reads strictly comes back unchanged; a second repair
// changes nothing; and the repaired text, where it is JSON, reads as strictly.
void check_repair(std::string_view text) {
  std::size_t n = 0, numbers = 0;
  const std::string once = sidecar::json_text::repair(text, &n, &numbers);
  check(sidecar::utf8_valid(once), "repair left invalid UTF-8");
  check((n == 0 && numbers == 0) == (once == text), "repair's counts disagree with what it changed");
  std::size_t again = 1, again_numbers = 1;
  check(sidecar::json_text::repair(once, &again, &again_numbers) == once && again == 0 && again_numbers == 0,
        "repair is not idempotent");
  if (text.find('\0') != npos || sidecar::json_text::nesting_offset(text, 256) != text.size()) return;
  const auto strict = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  check(strict.is_discarded() || (n == 0 && numbers == 0), "repair changed JSON that reads strictly");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Deep nesting and long runs need no more than 64 KiB here, and every byte costs in these loops.
  const std::string text = sidecar::fuzz::expand(data, size, 64 * 1024);
  check_strings(text);
  check_positions(text, size > 0 ? data[0] * text.size() / 255 + (data[0] == 255) : 0);
  check_nesting(text, size > 1 ? data[1] % 12 : 3);
  check_numbers(data, size);
  check_repair(text);
  return 0;
}
