// host.json through the engine on inputs that must fail cleanly: deep nesting, bad UTF-8, cycles.
#include <catch2/catch.hpp>

#include <string>

#include <sidecar/sidecar.hpp>

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("json binding: 100 000 levels of nesting is an error, not a stack overflow") {
  sidecar::Host host;
  sidecar::Result r = host.run_string(
      "local s = string.rep('[', 100000) .. string.rep(']', 100000)\n"
      "local ok, e = pcall(require('sidecar.core.json').decode, s)\n"
      "assert(not ok)\n"
      "return {message = e.message, line = e.line, column = e.column}");
  REQUIRE(r.ok);
  CHECK(contains(r.json, "nesting deeper than 1000 levels"));
  CHECK(contains(r.json, "\"column\":1001"));
}

TEST_CASE("json binding: encoding a deeply nested table is an error naming the limit") {
  sidecar::Host host;
  sidecar::Result r = host.run_string(
      "local t = {} local cur = t for i = 1, 100000 do cur[1] = {} cur = cur[1] end\n"
      "return require('sidecar.core.json').encode(t)");
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "nesting deeper than 1000"));
}

TEST_CASE("json binding: decode rejects invalid UTF-8 with a position") {
  sidecar::Host host;
  sidecar::Result r = host.run_string(
      "local ok, e = pcall(require('sidecar.core.json').decode, '[\"ok\", \"bad\\255\"]') return tostring(e)");
  REQUIRE(r.ok);
  CHECK(contains(r.json, "line 1, column"));
  CHECK(contains(r.json, "UTF-8"));
}
