#include <catch2/catch.hpp>

#include "utf8.hpp"

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

TEST_CASE("utf8: invalid bytes can be escaped for display") {
  CHECK(sidecar::utf8_escape_invalid("ok \xC3\xA9") == "ok \xC3\xA9");
  CHECK(sidecar::utf8_escape_invalid("bad\xFF!\x80") == "bad\\xFF!\\x80");
}
