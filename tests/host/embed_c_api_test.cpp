// The C ABI (include/sidecar/sidecar.h), used as a C program would.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <sidecar/sidecar.h>

#include "embed_fixture.hpp"

using sidecar::test::contains;
using sidecar::test::git_repo;
using sidecar::test::TempDir;

namespace {

// The reply as a string, freed with sidecar_free.
std::string take(char* reply) {
  REQUIRE(reply != nullptr);
  std::string text(reply);
  sidecar_free(reply);
  return text;
}

int add(void* userdata, const char* args_json, sidecar_reply* reply) {
  *static_cast<std::string*>(userdata) = args_json;
  sidecar_reply_value(reply, "{\"sum\":5}");
  return 0;
}

int refuse(void*, const char*, sidecar_reply* reply) {
  sidecar_reply_error(reply, "not allowed");
  return 0;
}

// What the event callback saw; `started` is read by another thread.
struct Seen {
  std::vector<std::string> events;
  std::atomic<bool> started{false};
};

void collect(void* userdata, const char* event_json) {
  auto* seen = static_cast<Seen*>(userdata);
  seen->events.push_back(event_json);
  if (contains(event_json, R"("kind":"run.started")")) seen->started = true;
}

}  // namespace

TEST_CASE("c api: a host evaluates, calls, and answers errors as JSON", "[embed]") {
  CHECK(sidecar_api_level() == SIDECAR_API_LEVEL);
  char* error = nullptr;
  CHECK(sidecar_host_new("{\"colour\": 1}", &error) == nullptr);
  REQUIRE(error != nullptr);
  CHECK(contains(error, "unknown option colour (known: stdlib_dir, sidecar_binary, redact_output, trust, memory_limit, root)"));
  sidecar_free(error);
  error = nullptr;
  CHECK(sidecar_host_new("{\"root\": \"/nonexistent/sidecar-root\"}", &error) == nullptr);
  REQUIRE(error != nullptr);
  CHECK(contains(error, "HostOptions::root is /nonexistent/sidecar-root, which is not a folder"));
  sidecar_free(error);
  error = nullptr;
  CHECK(sidecar_host_new("{\"trust\": \"maybe\"}", &error) == nullptr);
  REQUIRE(error != nullptr);
  CHECK(contains(error, "\"environment\", \"granted\" or \"all\""));
  sidecar_free(error);
  error = nullptr;
  CHECK(sidecar_host_new("{\"memory_limit\": -1}", &error) == nullptr);
  REQUIRE(error != nullptr);
  CHECK(contains(error, "option memory_limit has the wrong type"));
  sidecar_free(error);
  error = nullptr;
  sidecar_host* capped = sidecar_host_new("{\"trust\": \"granted\", \"memory_limit\": 67108864}", &error);
  REQUIRE(capped != nullptr);
  CHECK(contains(take(sidecar_eval(capped, "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end")),
                 R"("kind":"memory")"));
  std::string usage = take(sidecar_call(capped, "sidecar.preset.schema", "check", R"([1, "no spec"])"));
  CHECK(contains(usage, R"("kind":"usage")"));
  CHECK(contains(usage, R"("code":"bad_argument")"));
  sidecar_host_free(capped);
  CHECK(sidecar_host_new("{not json", &error) == nullptr);
  REQUIRE(error != nullptr);
  sidecar_free(error);

  sidecar_host* host = sidecar_host_new(nullptr, &error);
  REQUIRE(host != nullptr);
  CHECK(take(sidecar_eval(host, "return {answer = 6 * 7}")) == R"({"ok":true,"value":{"answer":42}})");
  CHECK(take(sidecar_call(host, "sidecar.core.text", "trim", R"(["  x  "])")) == R"({"ok":true,"value":"x"})");
  std::string failed = take(sidecar_eval(host, "error('bad input')"));
  CHECK(contains(failed, R"("ok":false)"));
  CHECK(contains(failed, R"("kind":"lua")"));
  CHECK(contains(failed, "bad input"));
  CHECK(contains(take(sidecar_eval(nullptr, "return 1")), R"("kind":"usage")"));
  CHECK(contains(take(sidecar_eval(host, nullptr)), R"("kind":"usage")"));

  std::string seen;
  REQUIRE(sidecar_register_function(host, "calc.add", add, &seen) == 0);
  REQUIRE(sidecar_register_function(host, "calc.refuse", refuse, nullptr) == 0);
  CHECK(sidecar_register_function(host, "sidecar.x.y", add, nullptr) == -1);
  CHECK(take(sidecar_eval(host, "return require('calc').add(2, 3).sum")) == R"({"ok":true,"value":5})");
  CHECK(seen == "[2,3]");
  CHECK(contains(take(sidecar_eval(host, "return select(2, pcall(require('calc').refuse))")), "calc.refuse: not allowed"));
  sidecar_host_free(host);
}

TEST_CASE("c api: events arrive while an agent runs, and an interrupt from another thread stops it", "[embed]") {
  TempDir dir("embed");
  const std::string repo = git_repo(dir);
  char* error = nullptr;
  sidecar_host* host = sidecar_host_new(("{\"sidecar_binary\": \"" SIDECAR_TEST_BINARY "\"}"), &error);
  REQUIRE(host != nullptr);
  Seen seen;
  sidecar_on_event(host, collect, &seen);
  const std::string run = "return assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', "
                          "repo = '" + repo + "', command = { 'sleep', '60' } })).status";
  // The stopper waits for the run's start to arrive as an event, then a moment for the agent.
  std::thread stopper([&] {
    for (int i = 0; i < 1200 && !seen.started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    sidecar_interrupt(host);
  });
  std::string reply = take(sidecar_eval(host, run.c_str()));
  stopper.join();
  INFO(reply);
  CHECK(contains(reply, R"("kind":"interrupted")"));
  REQUIRE_FALSE(seen.events.empty());
  CHECK(contains(seen.events.front(), R"("kind":"run.started")"));
  sidecar_on_event(host, nullptr, nullptr);
  sidecar_host_free(host);
}
