// The engine (protected entry, tracebacks, stdlib loading) and the public embedding API.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <sidecar/sidecar.hpp>

#include "engine.hpp"
#include "util/embedded_files.hpp"

using sidecar::lua::Engine;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = "engine_test_" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("engine: errors carry file:line and a traceback") {
  Engine e;
  std::string error;
  CHECK_FALSE(e.run_string("local x = nil\nlocal y = x.field", "=chunk", error));
  CHECK(contains(error, "chunk:2: attempt to index a nil value"));
  CHECK(contains(error, "stack traceback:"));
}

TEST_CASE("engine: a syntax error is reported without running anything") {
  Engine e;
  std::string error;
  CHECK_FALSE(e.run_string("ran = true\nlocal = 1", "=chunk", error));
  CHECK(contains(error, "chunk:2:"));
  CHECK_FALSE(contains(error, "stack traceback"));
  CHECK(e.run_string("assert(ran == nil)", "=check", error));
}

TEST_CASE("engine: run_file sets arg and ... and reports a missing file") {
  Engine e;
  std::string error;
  std::string path = write_temp("args.lua", "local a, b = ...\nassert(a == 'one' and b == 'two')\n"
                                            "assert(arg[0] == 'engine_test_args.lua' and arg[2] == 'two' and #arg == 2)\n");
  CHECK(e.run_file(path, {"one", "two"}, error));
  INFO(error);
  std::remove(path.c_str());
  CHECK_FALSE(e.run_file("no/such/file.lua", {}, error));
  CHECK(contains(error, "cannot open no/such/file.lua"));
}

TEST_CASE("engine: embedded stdlib tracebacks name stdlib/sidecar/<group>/<file>.lua") {
  Engine e;
  std::string error;
  CHECK_FALSE(e.run_string("require('sidecar.core.json').decode('[1,')", "=chunk", error));
  CHECK(contains(error, "chunk:1: invalid JSON at line 1, column"));
  CHECK(contains(error, "stdlib/sidecar/core/json.lua:"));
}

TEST_CASE("engine: embedded modules are in strcmp order, found by require and listed by pairs(package.preload)") {
  // The loader finds a module by binary search: an unsorted table would hide modules from require.
  std::size_t count = 0;
  for (sidecar::EmbeddedFiles files : {sidecar::embedded_stdlib(), sidecar::embedded_presets()}) {
    REQUIRE(files.begin != files.end);
    for (const sidecar::EmbeddedFile* f = files.begin + 1; f != files.end; ++f) {
      INFO(f[-1].module << " before " << f->module);
      CHECK(std::strcmp(f[-1].module, f->module) < 0);
    }
    count += static_cast<std::size_t>(files.end - files.begin);
  }
  Engine e;
  std::string error;
  const std::string check = "local embedded = " + std::to_string(count) + "\n" + R"(
    for _, name in ipairs({"sidecar", "sidecar.core.json", "sidecar.presets.precommit-classifier"}) do
      assert(type(package.preload[name]) == "function", name)
    end
    assert(package.preload["sidecar.core.no_such"] == nil and package.preload[42] == nil)
    assert(package.preload["sidecar.core.json\0x"] == nil) -- the whole name, not up to a NUL
    assert(not pcall(getmetatable(package.preload).__pairs, 42))
    assert(require("sidecar.core.json") == require("sidecar.core.json"))
    package.preload["sidecar.core.json"] = function() return "mine" end -- a user's own entry wins
    package.preload["my.module"] = function() return "my module" end
    assert(require("my.module") == "my module")
    local seen, mine = 0, nil
    for name, loader in pairs(package.preload) do
      if (name == "sidecar" or name:match("^sidecar%.")) and not name:match("^sidecar%.host%.") then seen = seen + 1 end
      if name == "sidecar.core.json" then mine = loader() end
    end
    assert(seen == embedded, seen .. " listed of " .. embedded)
    assert(mine == "mine")
  )";
  const bool ok = e.run_string(check, "=chunk", error);
  INFO(error);
  CHECK(ok);
}

TEST_CASE("engine: SIDECAR_STDLIB_DIR loads the stdlib from a directory") {
  std::string dir = "engine_test_stdlib";
  std::system(("mkdir -p " + dir + "/sidecar/core").c_str());
  std::ofstream(dir + "/sidecar/core/json.lua") << "return {from_disk = true}\n";
  setenv("SIDECAR_STDLIB_DIR", dir.c_str(), 1);
  {
    Engine e;
    std::string error;
    CHECK(e.stdlib_source() == dir);
    CHECK(e.run_string("assert(require('sidecar.core.json').from_disk)", "=chunk", error));
    INFO(error);
  }
  unsetenv("SIDECAR_STDLIB_DIR");
  {
    Engine e;
    std::string error;
    CHECK(e.stdlib_source() == "embedded");
    CHECK(e.run_string("assert(require('sidecar.core.json').from_disk == nil)", "=chunk", error));
  }
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("engine: interrupt stops a running loop with 'interrupted!'") {
  Engine e;
  std::string error;
  e.interrupt();
  CHECK_FALSE(e.run_string("while true do end", "=loop", error));
  CHECK(contains(error, "interrupted!"));
  CHECK(e.run_string("local x = 1", "=after", error));  // the hook cleared itself
}

TEST_CASE("host API: results come back as JSON") {
  sidecar::Host host;
  sidecar::Result r = host.run_string("return {b = {1, 2.0, 'three'}, a = require('sidecar.core.json').null}");
  REQUIRE(r.ok);
  CHECK(r.json == R"({"a":null,"b":[1,2.0,"three"]})");
  CHECK(host.run_string("local x = 1").json == "null");
}

TEST_CASE("host API: call decodes JSON arguments and encodes the result") {
  sidecar::Host host;
  sidecar::Result r = host.call("sidecar.core.json", "decode", R"(["{\"k\": [1, {}]}"])");
  REQUIRE(r.ok);
  CHECK(r.json == R"({"k":[1,{}]})");
  sidecar::Result bad = host.call("sidecar.core.json", "nope", "[]");
  CHECK_FALSE(bad.ok);
  CHECK(contains(bad.error, "module sidecar.core.json has no function nope"));
  CHECK_FALSE(host.call("sidecar.core.json", "encode", "{\"not\": \"an array\"}").ok);
}

TEST_CASE("host API: a result JSON cannot hold is an error, not a crash") {
  sidecar::Host host;
  sidecar::Result r = host.run_string("return {f = print}");
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "cannot encode a function value at $.f"));
}

TEST_CASE("host API: state persists between calls") {
  sidecar::Host host;
  REQUIRE(host.run_string("counter = 41").ok);
  CHECK(host.run_string("counter = counter + 1 return counter").json == "42");
}
