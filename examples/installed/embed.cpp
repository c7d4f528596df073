// An installed Sidecar from C++ (find_package(Sidecar)): a native function Lua calls, an agent
// whose events print as they arrive, and a long agent cancelled from another thread.
//   embed_cpp REPO     (REPO: a git repository the agents work in)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <sidecar/sidecar.hpp>

static int failures = 0;

static void expect(const char* what, bool ok, const std::string& detail) {
  std::printf("%s %s%s%s\n", ok ? "ok" : "FAIL", what, ok ? "" : ": ", ok ? "" : detail.c_str());
  failures += ok ? 0 : 1;
}

static std::string agent(const std::string& repo, const std::string& command) {
  return "return assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', repo = '" + repo +
         "', command = { " + command + " } })).output";
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string repo = argv[1];
  sidecar::Host host;  // the sidecar binary: the one installed beside the library
  std::atomic<bool> started{false};
  host.on_event([&](const std::string& event) {  // {"fields":{...},"kind":"run.started","run_id":...}
    std::string::size_type at = event.find("\"kind\":\"");
    std::string kind = at == std::string::npos ? "?" : event.substr(at + 8, event.find('"', at + 8) - at - 8);
    std::printf("event %s\n", kind.c_str());
    if (kind == "run.started") started = true;
  });
  host.register_function("app.greet", [](const std::string& args) { return "{\"text\":\"hello\",\"args\":" + args + "}"; });
  sidecar::Result r = host.run_string("return require('sidecar.core.proc').find_executable()");
  std::printf("binary %s\n", r.json.c_str());
  r = host.run_string("local g = require('app').greet('world') return g.text .. ' ' .. g.args[1]");
  expect("native function", r.ok && r.json == "\"hello world\"", r.json + r.error);
  r = host.run_string(agent(repo, "'sh', '-c', 'echo from-the-agent'"));
  expect("agent output", r.ok && r.json == "\"from-the-agent\\n\"", r.json + r.error);
  started = false;
  std::thread stopper([&] {
    for (int i = 0; i < 1200 && !started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    host.interrupt();
  });
  r = host.run_string(agent(repo, "'sleep', '60'"));
  stopper.join();
  expect("cancelled", !r.ok && r.kind == "interrupted", r.kind + " " + r.message);
  return failures == 0 ? 0 : 1;
}
