// A program that embeds Sidecar: run Lua from a string, from a file, and call a stdlib function,
// getting each result back as JSON text. Exits non-zero if anything is not as expected, so the
// test suite runs it as a test.
#include <cstdio>
#include <fstream>
#include <string>

#include <sidecar/sidecar.hpp>

static int failures = 0;

static void show(const char* what, const sidecar::Result& r, const std::string& expected) {
  if (r.ok) std::printf("%-12s -> %s\n", what, r.json.c_str());
  else std::printf("%-12s -> error: %s\n", what, r.error.c_str());
  if (!r.ok || r.json != expected) {
    std::fprintf(stderr, "  expected %s\n", expected.c_str());
    ++failures;
  }
}

int main() {
  sidecar::Host host;  // a Lua state with the host modules and the stdlib
  std::printf("sidecar %s embedded\n", sidecar::Host::version());

  // 1. A string of Lua; its first return value comes back as JSON.
  show("run_string", host.run_string("return {answer = 6 * 7, list = {1, 2.5, 'x'}}"),
       R"({"answer":42,"list":[1,2.5,"x"]})");

  // 2. A file, with arguments.
  const char* path = "embed_example_script.lua";
  std::ofstream(path) << "local name = ...\nreturn {greeting = 'hello ' .. name, argc = #arg}\n";
  show("run_file", host.run_file(path, {"world"}), R"({"argc":1,"greeting":"hello world"})");
  std::remove(path);

  // 3. A stdlib function called with JSON arguments.
  show("call", host.call("sidecar.core.json", "encode", R"([{"b": [], "a": {}}])"), R"("{\"a\":{},\"b\":[]}")");

  // 4. Errors come back as data, with the Lua position and a traceback.
  sidecar::Result bad = host.run_string("local t = nil\nreturn t.field", "=example");
  std::printf("%-12s -> %s\n", "error", bad.ok ? "(no error?)" : bad.error.substr(0, bad.error.find('\n')).c_str());
  if (bad.ok || bad.error.find("example:2:") == std::string::npos) ++failures;

  std::printf(failures == 0 ? "embed example: all results as expected\n" : "embed example: %d unexpected\n", failures);
  return failures == 0 ? 0 : 1;
}
