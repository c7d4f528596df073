// A program that embeds Sidecar (this test binary is one) runs its agents under the sidecar binary
// it names or that is found for it, never under itself: every sandboxed agent starts under the
// sidecar-sandbox-init beside that binary, or `<sidecar> sandbox-init -- <agent>`, and with the
// program in its place the program ran again inside the sandbox and its own output became the
// agent's.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <filesystem>
#include <optional>
#include <string>

#include <sidecar/sidecar.hpp>

#include "embed_fixture.hpp"

using sidecar::test::agent_options;
using sidecar::test::contains;
using sidecar::test::git_repo;
using sidecar::test::TempDir;

namespace {

// Sets PATH for one scope, and puts it back.
struct PathScope {
  std::optional<std::string> old;
  explicit PathScope(const std::string& path) {
    if (const char* p = std::getenv("PATH")) old = p;
    setenv("PATH", path.c_str(), 1);
  }
  ~PathScope() {
    if (old) setenv("PATH", old->c_str(), 1); else unsetenv("PATH");
  }
};

// An agent (by default one that says who it is), run by the Host in `repo`; the run record as JSON.
sidecar::Result run_agent(sidecar::Host& host, const std::string& repo,
                          const std::string& command = "'sh', '-c', 'echo from-the-agent'") {
  return host.run_string(
      "local agent = require('sidecar.agent.run')\n"
      "local r, message, code = agent.execute({ runner = 'command', prompt = 'hi', repo = '" + repo + "',\n"
      "  command = { " + command + " } })\n"
      "if not r then return { message = message, code = code } end\n"
      "return { status = r.status, output = r.output, sandbox = r.os_sandbox and r.os_sandbox.kind }\n");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A number member of a small JSON file (agent_process.json), or -1.
long json_number(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  std::string::size_type at = s.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::strtol(s.c_str() + at + key.size() + 3, nullptr, 10);
}

}  // namespace

TEST_CASE("embed: a Host runs an agent under the sidecar binary it names, in the OS sandbox", "[embed]") {
  TempDir dir("embed");
  sidecar::Host host(agent_options());
  sidecar::Result r = run_agent(host, git_repo(dir));
  INFO(r.error << r.json);
  REQUIRE(r.ok);
  CHECK(contains(r.json, R"("output":"from-the-agent\n")"));
  CHECK(contains(r.json, R"("status":"review")"));
  CHECK(contains(r.json, R"("sandbox":"bwrap")"));
}

TEST_CASE("embed: a Host with a root works on that repository, the process's folder unchanged", "[embed]") {
  TempDir dir("embed");
  const std::string repo = std::filesystem::canonical(git_repo(dir)).string();
  const std::string cwd = std::filesystem::current_path().string();
  REQUIRE(cwd != repo);
  sidecar::HostOptions options = agent_options();
  options.root = repo;
  sidecar::Host host(options);
  sidecar::Result r = host.run_string(
      "local r = assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', command = { 'pwd' } }))\n"
      "return { output = r.output, store = require('sidecar.core.store').find_root(),\n"
      "  ctx = require('sidecar.preset.context').new({}).root }");
  INFO(r.error << r.json);
  REQUIRE(r.ok);
  CHECK(contains(r.json, "\"output\":\"" + repo + "\\n\""));  // the agent ran in the repository
  CHECK(contains(r.json, "\"store\":\"" + repo + "/.agent\""));
  CHECK(contains(r.json, "\"ctx\":\"" + repo + "/.agent\""));
  CHECK(std::filesystem::exists(repo + "/.agent/runs/R-0001/run.json"));
  CHECK(std::filesystem::current_path().string() == cwd);
  sidecar::HostOptions missing;
  missing.root = dir.path + "/nowhere";
  CHECK_THROWS_WITH(sidecar::Host(missing), Catch::Contains("HostOptions::root is " + dir.path + "/nowhere, which is not a folder"));
}

TEST_CASE("embed: with none named, a Host finds sidecar on PATH, never itself, and says what it tried",
          "[embed]") {
  TempDir dir("embed");
  const std::string repo = git_repo(dir);
  const std::string bin = dir.path + "/bin", self_bin = dir.path + "/self", tools = dir.path + "/tools";
  for (const std::string& d : {bin, self_bin, tools}) REQUIRE(std::system(("mkdir -p '" + d + "'").c_str()) == 0);
  REQUIRE(symlink(SIDECAR_TEST_BINARY, (bin + "/sidecar").c_str()) == 0);
  char self[4096] = {};
  REQUIRE(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
  REQUIRE(symlink(self, (self_bin + "/sidecar").c_str()) == 0);  // this program, named sidecar
  // bwrap stays reachable: only sidecar is missing.
  REQUIRE(std::system(("ln -s \"$(command -v bwrap)\" '" + tools + "/bwrap'").c_str()) == 0);
  const std::string found = "return require('sidecar.core.proc').find_executable()";
  const std::string why = "return select(2, require('sidecar.core.proc').find_executable())";
  {
    PathScope path(self_bin + ":" + bin);
    sidecar::Host host;
    sidecar::Result r = host.run_string(found);
    INFO(r.error);
    CHECK(r.json == "\"" + std::filesystem::canonical(SIDECAR_TEST_BINARY).string() + "\"");  // where the link leads
  }
  // A relative entry (the current folder, a cloned repository's) is never searched.
  const std::string relative = std::filesystem::relative(bin).string();
  REQUIRE(relative.find('/') != 0);
  {
    PathScope path(relative + ":" + tools);
    sidecar::Host host;
    CHECK(host.run_string(found).json == "null");
  }
  PathScope path(self_bin + ":" + tools);
  sidecar::Host host;
  sidecar::Result r = host.run_string(why);
  INFO(r.error);
  CHECK(contains(r.json, "no sidecar binary for this program's Host: tried none beside the library (it is linked "
                         "into this program), sidecar in PATH's absolute folders (" + self_bin + ":" + tools + ")"));
  CHECK(contains(r.json, "HostOptions::sidecar_binary"));
  // An agent run then fails before anything runs, saying so; nothing runs as the agent.
  r = run_agent(host, repo);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(contains(r.json, R"("code":"no_sandbox")"));
  INFO(r.json);
  CHECK(contains(r.json, "the OS sandbox starts the agent under `sidecar sandbox-init`: no sidecar binary"));
  CHECK_FALSE(contains(r.json, "from-the-agent"));

  sidecar::HostOptions options;
  options.sidecar_binary = tools + "/sidecar";
  sidecar::Host named(options);
  r = named.run_string(why);
  CHECK(contains(r.json, "HostOptions::sidecar_binary is " + tools + "/sidecar, which is not an executable file"));
}

TEST_CASE("embed: interrupt() from another thread stops the Host's call, its agent and nothing else", "[embed]") {
  TempDir dir("embed");
  const std::string repo = git_repo(dir);
  const std::string process_file = repo + "/.agent/runs/R-0001/agent_process.json";
  sidecar::Host host(agent_options());
  // Once the agent has started (its process group is recorded: the file is there before, without
  // it), a second thread asks the Host to stop.
  std::atomic<bool> returned{false};
  std::thread stopper([&] {
    for (int i = 0; i < 1200 && !returned && json_number(process_file, "pgid") <= 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    host.interrupt();
  });
  auto start = std::chrono::steady_clock::now();
  sidecar::Result r = run_agent(host, repo, "'sleep', '60'");
  double took = seconds_since(start);
  returned = true;
  stopper.join();
  INFO(r.json << r.error);
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "interrupted!"));
  CHECK(r.kind == "interrupted");
  CHECK(took < 45);  // the agent sleeps 60 s: it was stopped, not waited for
  // The run is recorded interrupted, and no process of it is left.
  r = host.run_string("local s <close> = assert(require('sidecar.core.store').open('" + repo +
                      "/.agent'))\nreturn assert(s:get_run('R-0001')).status");
  CHECK(r.json == "\"interrupted\"");
  long group = json_number(process_file, "pgid");
  REQUIRE(group > 1);
  CHECK((kill(static_cast<pid_t>(-group), 0) == -1 && errno == ESRCH));
  // The Host goes on: the next call runs, a stale interrupt does not stop it.
  host.interrupt();
  r = host.run_string("return 6 * 7");
  CHECK(r.json == "42");
}

TEST_CASE("embed: interrupt() stops a Host's Lua that never waits", "[embed]") {
  sidecar::Host host;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    host.interrupt();
  });
  sidecar::Result r = host.run_string("local n = 0 while true do n = n + 1 end");
  stopper.join();
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "interrupted!"));
}

TEST_CASE("embed: interrupt() stops a Host's Lua that waits in sleeps (a run waiting for an agent slot)", "[embed]") {
  sidecar::Host host;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    host.interrupt();
  });
  // Few instructions a second: the hook that looks every few thousand would see it after an hour.
  // Bounded, so that an interrupt not seen fails the test (the sleeps end, the chunk returns).
  sidecar::Result r = host.run_string("for _ = 1, 30 do require('sidecar.host.time').sleep_ms(1000) end");
  stopper.join();
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "interrupted!"));
}

TEST_CASE("embed: what a Host's Lua prints and the errors it returns are redacted", "[embed]") {
  TempDir dir("embed");
  const std::string secret = "ghp_" + std::string(36, 'a');
  const std::string out = dir.path + "/stdout";
  sidecar::Host host;
  fflush(stdout);
  int saved = dup(1);
  FILE* file = fopen(out.c_str(), "w");
  REQUIRE(file != nullptr);
  dup2(fileno(file), 1);
  sidecar::Result printed = host.run_string("print('token " + secret + "') io.write('again " + secret + "\\27[2J\\n')");
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  fclose(file);
  REQUIRE(printed.ok);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  INFO(text.str());
  CHECK(contains(text.str(), "token [REDACTED"));
  CHECK(contains(text.str(), "again [REDACTED"));
  CHECK_FALSE(contains(text.str(), secret));
  CHECK_FALSE(contains(text.str(), "\x1b[2J"));  // shown, not obeyed
  sidecar::Result failed = host.run_string("error('the token is " + secret + "')");
  CHECK_FALSE(failed.ok);
  CHECK(contains(failed.error, "the token is [REDACTED"));
  CHECK_FALSE(contains(failed.error, secret));
  // Turned off, the Host writes what Lua writes.
  sidecar::HostOptions raw;
  raw.redact_output = false;
  sidecar::Host plain(raw);
  failed = plain.run_string("error('the token is " + secret + "')");
  CHECK(contains(failed.error, secret));
}

TEST_CASE("embed: a Host does not run a repository's config until it is trusted", "[embed]") {
  TempDir dir("embed");
  const std::string repo = git_repo(dir);
  REQUIRE(std::system(("mkdir -p '" + repo + "/.agent' '" + dir.path + "/state'").c_str()) == 0);
  std::ofstream(repo + "/.agent/config.lua") << "return { runner = 'claude' }\n";
  std::optional<std::string> old_state, old_trust;
  if (const char* v = std::getenv("XDG_STATE_HOME")) old_state = v;
  if (const char* v = std::getenv("SIDECAR_TRUST")) old_trust = v;
  setenv("XDG_STATE_HOME", (dir.path + "/state").c_str(), 1);  // the trust store: a fresh one
  const std::string load = "return require('sidecar.core.config').load('" + repo + "/.agent').runner";
  unsetenv("SIDECAR_TRUST");
  sidecar::Result untrusted = sidecar::Host().run_string(load);
  sidecar::HostOptions vetted;
  vetted.trust = "all";  // the program vets its repositories itself: no environment needed
  sidecar::Result by_option = sidecar::Host(vetted).run_string(load);
  setenv("SIDECAR_TRUST", "all", 1);  // the control: trusted, the config runs
  sidecar::Result trusted = sidecar::Host().run_string(load);
  sidecar::HostOptions granted;
  granted.trust = "granted";  // the environment is not the program's to follow
  sidecar::Result only_granted = sidecar::Host(granted).run_string(load);
  // A module of a guarded repository that is not trusted is an error of kind not_trusted.
  std::ofstream(repo + "/helper.lua") << "return 42\n";
  sidecar::Result helper = sidecar::Host(granted).run_string(
      "require('sidecar.core.trust_guard').guard('" + repo + "')\n"
      "package.path = '" + repo + "/?.lua;' .. package.path\n"
      "return require('helper')");
  if (old_state) setenv("XDG_STATE_HOME", old_state->c_str(), 1); else unsetenv("XDG_STATE_HOME");
  if (old_trust) setenv("SIDECAR_TRUST", old_trust->c_str(), 1); else unsetenv("SIDECAR_TRUST");
  INFO(untrusted.error << trusted.error << by_option.error << only_granted.error);
  CHECK(untrusted.json == "\"codex\"");  // the default: the file was not run
  CHECK(trusted.json == "\"claude\"");
  CHECK(by_option.json == "\"claude\"");
  CHECK(only_granted.json == "\"codex\"");
  CHECK(helper.kind == "not_trusted");
  CHECK(helper.code == "untrusted");
  CHECK(contains(helper.message, "helper.lua of "));
  CHECK(contains(helper.message, "is not trusted, so it was not loaded"));
  sidecar::HostOptions wrong;
  wrong.trust = "yes";
  CHECK_THROWS_WITH(sidecar::Host(wrong), Catch::Contains("\"environment\", \"granted\" or \"all\""));
}
