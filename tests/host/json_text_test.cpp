#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "util/json_text.hpp"

namespace jt = sidecar::json_text;

static std::string str(std::string_view s) {
  std::string out;
  REQUIRE(jt::append_string(out, s));
  return out;
}

static std::string flt(double v) {
  std::string out;
  REQUIRE(jt::append_float(out, v));
  return out;
}

TEST_CASE("json_text: strings are quoted and escaped") {
  CHECK(str("") == R"("")");
  CHECK(str("a\"b\\c") == R"("a\"b\\c")");
  CHECK(str("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(str(std::string("\x01\x1f", 2)) == R"("\u0001\u001f")");
  CHECK(str("caf\xC3\xA9 /") == "\"caf\xC3\xA9 /\"");  // UTF-8 and '/' pass through
}

TEST_CASE("json_text: what a terminal would obey or hide is escaped, other text passes") {
  CHECK(str("\x7F") == R"("\u007f")");                          // DEL
  CHECK(str("a\xC2\x9B" "31m") == R"("a\u009b31m")");         // C1 CSI
  CHECK(str("\xC2\x80\xC2\x9F\xC2\xA0") == "\"\\u0080\\u009f\xC2\xA0\"");  // C1 range; NBSP passes
  CHECK(str("\xE2\x80\xAE" "exe") == R"("\u202eexe")");      // RIGHT-TO-LEFT OVERRIDE
  CHECK(str("\xE2\x81\xA6\xE2\x81\xA9") == R"("\u2066\u2069")");  // isolates
  CHECK(str("\xE2\x80\xA8\xE2\x80\xA9") == R"("\u2028\u2029")");  // line/paragraph separators
  CHECK(str("\xE2\x82\xAC \xD8\xA7 \xD8\x9C") == "\"\xE2\x82\xAC \xD8\xA7 \\u061c\"");  // €, Arabic alef; ALM
}

TEST_CASE("json_text: invalid UTF-8 is refused with its offset") {
  std::string out;
  std::size_t bad = 0;
  CHECK_FALSE(jt::append_string(out, "abc\xFF", &bad));
  CHECK(bad == 3);
}

TEST_CASE("json_text: floats keep a fraction or exponent and round-trip") {
  CHECK(flt(2.0) == "2.0");
  CHECK(flt(-0.0) == "-0.0");
  CHECK(flt(0.1) == "0.1");
  CHECK(flt(1e300) == "1e+300");
  CHECK(flt(123456789012345680.0) == "123456789012345680.0");  // shorter than 1.2345678901234568e+17
  CHECK(flt(1.5e-7) == "1.5e-07");
  CHECK(std::stod(flt(0.1 + 0.2)) == 0.1 + 0.2);
  std::string out;
  CHECK_FALSE(jt::append_float(out, std::nan("")));
  CHECK_FALSE(jt::append_float(out, std::numeric_limits<double>::infinity()));
  CHECK(out.empty());
}

TEST_CASE("json_text: integers use the full 64-bit range") {
  std::string out;
  jt::append_integer(out, std::numeric_limits<std::int64_t>::min());
  CHECK(out == "-9223372036854775808");
}

TEST_CASE("json_text: positions count lines and columns from 1") {
  CHECK(jt::position_of("abc", 0).line == 1);
  CHECK(jt::position_of("abc", 0).column == 1);
  auto p = jt::position_of("{\n  \"a\": x\n}", 9);
  CHECK(p.line == 2);
  CHECK(p.column == 8);
  CHECK(jt::position_of("ab", 99).column == 3);  // clamped to the end
  CHECK(jt::position_of("{\"\xC3\xA9\": x}", 7).column == 7);  // é is one column
}

TEST_CASE("json_text: repair reads an agent's line leniently, linearly") {
  std::size_t n = 99;
  CHECK(jt::repair(R"({"a":"ok \u00e9 \ud83d\ude00"})", &n) == R"({"a":"ok \u00e9 \ud83d\ude00"})");
  CHECK(n == 0);
  // Latin-1 inside a string: each byte U+FFFD (its three bytes), counted.
  CHECK(jt::repair("{\"a\":\"R\xe9sum\xe9\"}", &n) == "{\"a\":\"R\xef\xbf\xbdsum\xef\xbf\xbd\"}");
  CHECK(n == 2);
  // Lone surrogates, high or low, and a high one followed by something else.
  CHECK(jt::repair(R"({"a":"x\ud800y","b":"\udc00","c":"\ud800\u0041"})", &n) ==
        R"({"a":"x\ufffdy","b":"\ufffd","c":"\ufffd\u0041"})");
  CHECK(n == 3);
  // An escaped backslash before "ud800" is text, not an escape; outside strings nothing changes.
  CHECK(jt::repair(R"({"a":"\\ud800","ud800":1})", &n) == R"({"a":"\\ud800","ud800":1})");
  CHECK(n == 0);
  // Cut short: no read past the end.
  CHECK(jt::repair(R"({"a":"\ud800\u)", &n) == R"({"a":"\ufffd\u)");
  CHECK(jt::repair(R"({"a":"\ud8)", &n) == R"({"a":"\ud8)");
  CHECK(jt::repair("\"\\", &n) == "\"\\");
  // A number too large for a double is null, counted apart; one a double holds stays as written.
  std::size_t numbers = 9;
  CHECK(jt::repair(R"({"a":1e309,"b":-2E+400,"c":1.5e308,"d":[1e9999,2]})", &n, &numbers) ==
        R"({"a":null,"b":null,"c":1.5e308,"d":[null,2]})");
  CHECK(n == 0);
  CHECK(numbers == 3);
  const std::string long_number = "[" + std::string(400, '9') + "," + std::string(100, '9') + "]";
  CHECK(jt::repair(long_number, &n, &numbers) == "[null," + std::string(100, '9') + "]");
  CHECK(numbers == 1);
  CHECK(jt::repair(R"({"s":"1e309"})", &n, &numbers) == R"({"s":"1e309"})");  // in a string: text
  CHECK(numbers == 0);
  // A long malformed token: its exponent is read over digits only (fuzz/findings/json_text).
  std::string odd = std::string(70, '1') + "e";
  for (int i = 0; i < 40; ++i) odd += "1-";
  CHECK(jt::repair(odd, &n, &numbers) == odd);
  CHECK(numbers == 0);
  // Linear: a megabyte of lone surrogates is one pass.
  std::string many = "\"";
  for (int i = 0; i < 100000; ++i) many += "\\ud800";
  CHECK(jt::repair(many, &n).size() == many.size());
  CHECK(n == 100000);
}

TEST_CASE("json_text: quoted takes any bytes, invalid UTF-8 replaced first") {
  CHECK(jt::quoted("sh -c \"x\"") == "\"sh -c \\\"x\\\"\"");
  CHECK(jt::quoted(std::string("a\xff" "b\x1b]0;t\x07", 9)) == "\"a\xef\xbf\xbd" "b\\u001b]0;t\\u0007\"");
  CHECK(jt::quoted("\xc2\x9b") == "\"\\u009b\"");  // a C1 control, written so a terminal shows it
}
