// The embedding API's bridges: run events delivered to the program while an agent runs, the
// program's native functions called from Lua, and errors given as parts.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <sidecar/sidecar.hpp>

#include "embed_fixture.hpp"

using sidecar::test::agent_options;
using sidecar::test::contains;
using sidecar::test::git_repo;
using sidecar::test::TempDir;

TEST_CASE("embed api: run events reach on_event while the run is going on", "[embed]") {
  TempDir dir("embed");
  const std::string repo = git_repo(dir);
  sidecar::Host host(agent_options());
  std::vector<std::string> events;
  bool in_call = false, outside = false;
  host.on_event([&](const std::string& e) {
    events.push_back(e);
    outside = outside || !in_call;
  });
  in_call = true;
  sidecar::Result r = host.run_string(
      "local r = assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', repo = '" + repo +
      "', command = { 'sh', '-c', 'echo working; echo done' } }))\n"
      "return r.status");
  in_call = false;
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(events.size() >= 3);
  CHECK_FALSE(outside);  // delivered during the call, on its thread
  CHECK(contains(events.front(), R"("kind":"run.started")"));
  CHECK(contains(events.front(), R"("run_id":"R-0001")"));
  CHECK(contains(events.back(), R"("kind":"run.finished")"));
  CHECK(contains(events.back(), R"("status":"review")"));
  // Unsubscribed: the next run tells nothing.
  host.on_event(nullptr);
  events.clear();
  r = host.run_string("return assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', repo = '" +
                      repo + "', command = { 'true' } })).status");
  REQUIRE(r.ok);
  CHECK(events.empty());
}

TEST_CASE("embed api: a callback that throws is unsubscribed, and the run goes on", "[embed]") {
  TempDir dir("embed");
  const std::string repo = git_repo(dir);
  sidecar::Host host(agent_options());
  int calls = 0;
  host.on_event([&](const std::string&) {
    ++calls;
    throw 42;  // not even a std::exception
  });
  sidecar::Result r = host.run_string(
      "local r = assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', repo = '" + repo +
      "', command = { 'true' } }))\nreturn r.status");
  INFO(r.error);
  CHECK(r.json == "\"review\"");
  CHECK(calls == 1);
}

TEST_CASE("embed api: a native function is called from Lua with its arguments and returns a table", "[embed]") {
  sidecar::Host host;
  std::string seen;
  REQUIRE(host.register_function("myapp.lookup", [&](const std::string& args) {
    seen = args;
    return std::string(R"({"answer":42,"tags":["a","b"]})");
  }));
  REQUIRE(host.register_function("myapp.fail", [](const std::string&) -> std::string {
    throw std::runtime_error("no such ticket");
  }));
  sidecar::Result r = host.run_string(
      "local app = require('myapp')\n"
      "local t = app.lookup('T-1', 2, nil, { x = true })\n"
      "local ok, err = pcall(app.fail)\n"
      "return { answer = t.answer, tag = t.tags[2], err = err }");
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(seen == R"(["T-1",2,null,{"x":true}])");
  CHECK(contains(r.json, R"("answer":42)"));
  CHECK(contains(r.json, R"("tag":"b")"));
  CHECK(contains(r.json, "myapp.fail: no such ticket"));
  std::string error;
  CHECK_FALSE(host.register_function("sidecar.core.json.encode", [](const std::string&) { return std::string(); },
                                     &error));
  CHECK(contains(error, "is Sidecar's own"));
  CHECK_FALSE(host.register_function("nomodule", [](const std::string&) { return std::string(); }, &error));
  CHECK(contains(error, "\"<module>.<function>\""));
}

TEST_CASE("embed api: a failed call gives its kind, message and traceback apart", "[embed]") {
  sidecar::Host host;
  sidecar::Result r = host.run_string("local function f() error('bad input') end f()", "=(mine)");
  CHECK_FALSE(r.ok);
  CHECK(r.kind == "lua");
  CHECK(r.message == "(mine):1: bad input");
  CHECK(contains(r.traceback, "stack traceback:"));
  CHECK(contains(r.error, r.message));
  r = host.run_string("return (");
  CHECK(r.kind == "lua");
  CHECK(contains(r.message, "unexpected symbol"));
  r = host.run_string("return function() end");
  CHECK(r.kind == "result");
  CHECK(contains(r.message, "cannot return the result as JSON"));
}

TEST_CASE("embed api: a wrong argument is a usage error, with the stdlib's code", "[embed]") {
  sidecar::Host host;
  sidecar::Result r = host.call("sidecar.core.json", "encode", "{\"not\": \"an array\"}");
  CHECK(r.kind == "usage");
  CHECK(r.code == "usage");
  CHECK(contains(r.message, "the arguments must be a JSON array"));
  r = host.call("sidecar.core.json", "encode", "[1,");
  CHECK(r.kind == "usage");
  r = host.call("sidecar.core.json", "no_such_function", "[]");
  CHECK(r.kind == "usage");
  CHECK(r.message == "module sidecar.core.json has no function no_such_function");
  r = host.call("sidecar.preset.schema", "check", "[1, \"not a spec\"]");  // the stdlib's bad_argument
  CHECK(r.kind == "usage");
  CHECK(r.code == "bad_argument");
  CHECK(contains(r.message, "schema.check: spec must be a table"));
  r = host.run_string("require('sidecar.agent.run').execute({ promt = 'hi' })");  // an unknown option
  CHECK(r.kind == "usage");
  CHECK(r.code == "bad_option");
  CHECK(contains(r.message, "unknown option `promt` (did you mean `prompt`?)"));
  r = host.run_string("error(require('sidecar.core.errors').new('json_decode', 'not JSON'))");
  CHECK(r.kind == "lua");
  CHECK(r.code == "json_decode");
  CHECK(r.message == "(embed):1: not JSON");
  r = host.run_string("error('plain')");
  CHECK(r.code.empty());
}

TEST_CASE("embed api: a Host's Lua stays under its memory limit, and the Host goes on", "[embed]") {
  sidecar::HostOptions options;
  options.memory_limit = 64u << 20;
  sidecar::Host host(options);
  sidecar::Result r = host.run_string("local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end");
  CHECK_FALSE(r.ok);
  CHECK(r.kind == "memory");
  CHECK(contains(r.message, "not enough memory"));
  r = host.run_string("collectgarbage() return #('y'):rep(1000)");  // the state survived
  INFO(r.error);
  CHECK(r.json == "1000");
  // The same work ends otherwise without the cap (the control: it is the cap that stopped it).
  sidecar::Host uncapped;
  r = uncapped.run_string("local t = {} for i = 1, 2e5 do t[i] = ('x'):rep(64) .. i end return #t");
  CHECK(r.json == "200000");
}
