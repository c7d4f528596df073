#include <catch2/catch.hpp>

#include "util/utf8.hpp"

using sidecar::utf8_invalid_offset;
using sidecar::utf8_valid;

TEST_CASE("utf8: accepts ASCII and well-formed multibyte text") {
  CHECK(utf8_valid(""));
  CHECK(utf8_valid("plain ascii\n"));
  CHECK(utf8_valid("caf\xC3\xA9"));                // é
  CHECK(utf8_valid("\xE2\x82\xAC"));               // €
  CHECK(utf8_valid("\xF0\x9F\x98\x80"));           // 😀
  CHECK(utf8_valid("\xF4\x8F\xBF\xBF"));           // U+10FFFF, the last code point
  CHECK(utf8_valid(std::string("nul\0inside", 10)));
}

TEST_CASE("utf8: names the offset of the first bad byte") {
  CHECK(utf8_invalid_offset("ab\xFF") == 2);          // never valid
  CHECK(utf8_invalid_offset("\x80") == 0);            // lone continuation byte
  CHECK(utf8_invalid_offset("ok\xC3") == 2);          // truncated sequence
  CHECK(utf8_invalid_offset("\xC0\xAF") == 0);        // overlong '/'
  CHECK(utf8_invalid_offset("\xE0\x80\xAF") == 0);    // overlong 3-byte
  CHECK(utf8_invalid_offset("\xED\xA0\x80") == 0);    // surrogate U+D800
  CHECK(utf8_invalid_offset("\xF4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(utf8_invalid_offset("\xC3\x28") == 0);        // bad continuation
  CHECK(utf8_invalid_offset("x\xE2\x82") == 1);
}

TEST_CASE("utf8: repair writes each invalid byte as U+FFFD and counts them") {
  std::size_t n = 99;
  CHECK(sidecar::utf8_repair("caf\xC3\xA9", &n) == "caf\xC3\xA9");
  CHECK(n == 0);
  CHECK(sidecar::utf8_repair("R\xE9sum\xE9", &n) == "R\xEF\xBF\xBDsum\xEF\xBF\xBD");
  CHECK(n == 2);
  CHECK(sidecar::utf8_repair("\xE2\x82", &n) == "\xEF\xBF\xBD\xEF\xBF\xBD");  // a cut character: per byte
  CHECK(n == 2);
  CHECK(sidecar::utf8_valid(sidecar::utf8_repair("\xED\xA0\x80\xF4\x90\x80\x80\xC0\xAF")));
}

TEST_CASE("utf8: terminal_visible shows controls instead of letting a terminal obey them") {
  std::size_t n = 99;
  CHECK(sidecar::terminal_visible("line\ttab\r\nnext\n", &n) == "line\ttab\r\nnext\n");
  CHECK(n == 0);
  CHECK(sidecar::terminal_visible("\x1B[31mred\x1B[0m", &n) == "^[[31mred^[[0m");
  CHECK(n == 2);
  CHECK(sidecar::terminal_visible("a\rb\x7F\x07") == "a^Mb^?^G");
  CHECK(sidecar::terminal_visible(std::string("nul\0", 4)) == "nul^@");
  CHECK(sidecar::terminal_visible("\xC2\x9B" "2J") == "<U+009B>2J");
  CHECK(sidecar::terminal_visible("\xE2\x80\xAEtxt \xE2\x81\xA6") == "<U+202E>txt <U+2066>");
  CHECK(sidecar::terminal_visible("R\xE9sum\xE9 \xE2\x82\xAC") == "R\\xE9sum\\xE9 \xE2\x82\xAC");
  CHECK(sidecar::terminal_visible("end\r") == "end^M");  // a CR not followed by LF
}

TEST_CASE("utf8: invalid bytes can be escaped for display") {
  CHECK(sidecar::utf8_escape_invalid("ok \xC3\xA9") == "ok \xC3\xA9");
  CHECK(sidecar::utf8_escape_invalid("bad\xFF!\x80") == "bad\\xFF!\\x80");
}
