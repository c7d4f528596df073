// The process loop driven directly: spawn, then step() and take_event() until finished(id).
// Every wait has a deadline, so a hang fails the test (and kills the group) instead of hanging CI.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "process/memory_file.hpp"
#include "process/process_group.hpp"
#include "process/process_loop.hpp"
#include "temp_dir.hpp"
#include "util/unique_fd.hpp"

using sidecar::host::live_group_members;
using sidecar::host::ProcessEvent;
using sidecar::host::ProcessLoop;
using sidecar::host::ProcessResult;
using sidecar::host::SpawnError;
using sidecar::host::SpawnOptions;
using sidecar::host::StdinMode;
using Clock = std::chrono::steady_clock;

using TempDir = sidecar::test::TempDir;

namespace {

// The children these tests stop sleep 30 s: one that ends in less than half of that was stopped,
// not waited out, however busy the machine is. Upper time bounds are that generous; lower bounds,
// which a slow machine cannot break, stay exact.
constexpr double kWellBeforeTheEndMs = 15000;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

SpawnOptions sh(const std::string& script) {
  SpawnOptions o;
  o.argv = {"sh", "-c", script};
  return o;
}

// What became of one process, as seen by the test.
struct Outcome {
  uint64_t id = 0;
  int pid = 0;
  bool finished = false;
  double elapsed_ms = 0;             // from spawn (or from the wait) until finished, steady clock
  ProcessResult result;
  std::vector<ProcessEvent> events;  // this process's events, in order
};

// Steps `loop` until process `id` finished or `limit_ms` passed, keeping its events. On the
// deadline the whole group gets SIGKILL so that nothing outlives the failed test.
void wait_for(ProcessLoop& loop, Outcome& o, int64_t limit_ms, const std::function<void()>& on_step = {},
              Clock::time_point start = Clock::now()) {
  Clock::time_point deadline = start + std::chrono::milliseconds(limit_ms);
  ProcessEvent event;
  while (!loop.finished(o.id)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    loop.step(std::min<int64_t>(left, 100));
    while (loop.take_event(event)) {
      if (event.id == o.id) o.events.push_back(std::move(event));
    }
    if (on_step) on_step();
  }
  while (loop.take_event(event)) {
    if (event.id == o.id) o.events.push_back(std::move(event));
  }
  o.elapsed_ms = ms_since(start);
  o.finished = loop.finished(o.id);
  if (o.finished) {
    o.result = loop.result(o.id);
  } else if (o.pid > 0) {
    kill(-o.pid, SIGKILL);
  }
}

uint64_t spawn_ok(ProcessLoop& loop, SpawnOptions options) {
  SpawnError error;
  uint64_t id = loop.spawn(std::move(options), error);
  INFO("spawn failed: " << error.code << ": " << error.message);
  REQUIRE(id != 0);
  return id;
}

// Spawns and runs one process to completion in `loop`; fails the test when it takes longer than
// `limit_ms`.
Outcome run(ProcessLoop& loop, SpawnOptions options, int64_t limit_ms = 10000,
            const std::function<void()>& on_step = {}) {
  Outcome o;
  Clock::time_point start = Clock::now();
  o.id = spawn_ok(loop, std::move(options));
  o.pid = loop.pid(o.id);
  wait_for(loop, o, limit_ms, on_step, start);
  INFO("process " << o.pid << " still running after " << limit_ms << " ms");
  REQUIRE(o.finished);
  return o;
}

Outcome run(SpawnOptions options, int64_t limit_ms = 10000) {
  ProcessLoop loop;
  return run(loop, std::move(options), limit_ms);
}


std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// A "VmRSS:"-style line of /proc/self/status, in KiB (-1 when absent).
long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false when the kernel does not allow it.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::size_t open_fds() {
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd"); it != std::filesystem::directory_iterator();
       ++it) {
    ++n;
  }
  return n;
}

std::string comm_of(int pid) {
  std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

bool group_runs(int pgid, const std::string& comm) {
  for (int member : live_group_members(pgid)) {
    if (comm_of(member) == comm) return true;
  }
  return false;
}

// Steps the loop until a process named `comm` runs in `pgid`'s group (so a shell has started
// its command and installed its traps), or `limit_ms` passed.
bool wait_for_member(ProcessLoop& loop, int pgid, const std::string& comm, int64_t limit_ms = 30000) {
  Clock::time_point start = Clock::now();
  while (!group_runs(pgid, comm)) {
    if (ms_since(start) > limit_ms) return false;
    loop.step(10);
  }
  return true;
}

std::string join(const std::vector<ProcessEvent>& events, ProcessEvent::Kind kind) {
  std::string all;
  for (const ProcessEvent& e : events) {
    if (e.kind == kind) all += e.data;
  }
  return all;
}

}  // namespace

// --- Basics -------------------------------------------------------------------------------------

TEST_CASE("process_loop: runs a command and collects stdout and stderr", "[proc]") {
  Outcome o = run(sh("echo out; echo err >&2"));
  CHECK(o.result.pid == o.pid);
  CHECK(o.pid > 0);
  CHECK(o.result.code == 0);
  CHECK(o.result.signal == 0);
  CHECK(o.result.out == "out\n");
  CHECK(o.result.err == "err\n");
  CHECK(o.result.out_bytes == 4);
  CHECK(o.result.err_bytes == 4);
  CHECK_FALSE(o.result.timed_out);
  CHECK_FALSE(o.result.stopped);
  CHECK_FALSE(o.result.killed);
  CHECK(o.result.error.empty());
  CHECK(o.result.duration_ms > 0);
  REQUIRE_FALSE(o.events.empty());
  CHECK(o.events.back().kind == ProcessEvent::Exit);
}

TEST_CASE("process_loop: a nonzero exit is data, not an error", "[proc]") {
  Outcome o = run(sh("echo oops >&2; exit 3"));
  CHECK(o.result.code == 3);
  CHECK(o.result.signal == 0);
  CHECK(o.result.err == "oops\n");
  CHECK(o.result.error.empty());
  CHECK_FALSE(o.result.timed_out);
  CHECK_FALSE(o.result.stopped);
}

TEST_CASE("process_loop: stdin is /dev/null by default", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"cat"};
  Outcome r = run(loop, o, 30000);  // a cat on an open pipe would wait forever: run() fails
  CHECK(r.result.code == 0);
  CHECK(r.result.out.empty());
  std::string error;
  CHECK_FALSE(loop.write(r.id, "data", error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("process_loop: cwd and environment reach the child", "[proc]") {
  TempDir dir;
  SpawnOptions o = sh("pwd; echo \"$SIDECAR_CHILD_VAR\"; echo \"[${SIDECAR_CHILD_GONE-unset}]\"");
  o.cwd = dir.path;
  setenv("SIDECAR_CHILD_GONE", "inherited", 1);
  o.env = {{"SIDECAR_CHILD_VAR", "hello"}, {"SIDECAR_CHILD_GONE", std::nullopt}};
  Outcome r = run(o);
  unsetenv("SIDECAR_CHILD_GONE");
  std::error_code ec;
  std::string real = std::filesystem::canonical(dir.path, ec).string();
  CHECK(r.result.out == real + "\nhello\n[unset]\n");

  SpawnOptions clear = sh("echo \"[${HOME-unset}]\"");
  clear.clear_env = true;  // no PATH either: "sh" is found in the default path
  clear.env = {{"ONLY", "1"}};
  Outcome c = run(clear);
  CHECK(c.result.code == 0);
  CHECK(c.result.out == "[unset]\n");
}

// --- Spawn failures -----------------------------------------------------------------------------

TEST_CASE("process_loop: spawn failures are reported, not thrown", "[proc]") {
  ProcessLoop loop;
  SpawnError error;

  SECTION("a missing program is ENOENT and names the program") {
    SpawnOptions o;
    o.argv = {"sidecar-no-such-program-xyz", "--flag"};
    CHECK(loop.spawn(o, error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK_THAT(error.message, Catch::Contains("sidecar-no-such-program-xyz"));
  }
  SECTION("a missing absolute path is ENOENT") {
    SpawnOptions o;
    o.argv = {"/nonexistent-sidecar-dir/prog"};
    CHECK(loop.spawn(o, error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK_THAT(error.message, Catch::Contains("/nonexistent-sidecar-dir/prog"));
  }
  SECTION("a missing cwd is an error naming it") {
    SpawnOptions o = sh("echo never");
    o.cwd = "/nonexistent-sidecar-cwd";
    CHECK(loop.spawn(o, error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK_THAT(error.message, Catch::Contains("/nonexistent-sidecar-cwd"));
  }
  SECTION("a cwd that is a file is an error") {
    SpawnOptions o = sh("echo never");
    o.cwd = "/proc/self/status";
    CHECK(loop.spawn(o, error) == 0);
    CHECK_FALSE(error.code.empty());
    CHECK_THAT(error.message, Catch::Contains("not a directory"));
  }
  SECTION("an empty command is EINVAL") {
    SpawnOptions o;
    CHECK(loop.spawn(o, error) == 0);
    CHECK(error.code == "EINVAL");
  }
  SECTION("an output file that cannot be opened") {
    SpawnOptions o = sh("echo never");
    o.out.file = "/nonexistent-sidecar-dir/out.log";
    CHECK(loop.spawn(o, error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK_THAT(error.message, Catch::Contains("/nonexistent-sidecar-dir/out.log"));
  }
  CHECK(loop.running() == 0);
  CHECK_FALSE(loop.known(0));
  // The loop still works after a failed spawn.
  Outcome o = run(loop, sh("echo fine"));
  CHECK(o.result.out == "fine\n");
}

// Regression: spawn once read errno after a stat() that had succeeded (HEAD 3cb66b8,
// host/process/process_loop.cpp:545), so a stale ENOENT turned "is not a directory" into "does not exist".
TEST_CASE("process_loop: a cwd that is a file is 'not a directory' whatever errno was", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o = sh("echo never");
  o.cwd = "/proc/self/status";  // exists, is a file
  SpawnError error;
  errno = ENOENT;  // left over from an earlier, unrelated failure (a PATH lookup, a stat)
  uint64_t id = loop.spawn(std::move(o), error);  // moved: no allocation between here and stat
  CHECK(id == 0);
  CHECK_THAT(error.message, Catch::Contains("not a directory"));
  CHECK_THAT(error.message, !Catch::Contains("does not exist"));
}

TEST_CASE("process_loop: failed spawns leave no fd open", "[proc]") {
  TempDir dir;
  ProcessLoop loop;
  Outcome warm = run(loop, sh("true"));
  loop.release(warm.id);
  for (int i = 0; i < 3; ++i) loop.step(0);
  const std::size_t fds_before = open_fds();
  SpawnError error;
  SpawnOptions missing;
  missing.argv = {"sidecar-no-such-program-xyz"};
  CHECK(loop.spawn(missing, error) == 0);
  // stdout's file and both pipes are opened before stderr's file fails.
  SpawnOptions bad_err = sh("echo never");
  bad_err.out.file = dir.path + "/out.txt";
  bad_err.err.file = dir.path + "/no-such-dir/err.txt";
  bad_err.stdin_mode = StdinMode::Stream;
  CHECK(loop.spawn(bad_err, error) == 0);
  CHECK(error.code == "ENOENT");
  SpawnOptions bad_cwd = sh("echo never");
  bad_cwd.cwd = dir.path + "/no-such-dir";
  bad_cwd.pty = true;
  CHECK(loop.spawn(bad_cwd, error) == 0);
  for (int i = 0; i < 3; ++i) loop.step(0);
  CHECK(open_fds() == fds_before);
  CHECK(loop.running() == 0);
}

// --- Events -------------------------------------------------------------------------------------

TEST_CASE("process_loop: lines and chunks arrive as events, the exit event last", "[proc]") {
  SpawnOptions o = sh("printf 'a\\nb\\n'; sleep 0.05; printf 'c\\npartial'; printf 'e1\\ne2' >&2");
  o.out.lines = true;
  o.err.chunks = true;
  Outcome r = run(o);

  std::vector<std::string> out_lines;
  for (const ProcessEvent& e : r.events) {
    CHECK(e.id == r.id);
    if (e.kind == ProcessEvent::Stdout) {
      CHECK(e.line);
      out_lines.push_back(e.data);
    } else if (e.kind == ProcessEvent::Stderr) {
      CHECK_FALSE(e.line);
      CHECK_FALSE(e.data.empty());
    }
  }
  CHECK(out_lines == std::vector<std::string>{"a", "b", "c", "partial"});
  CHECK(join(r.events, ProcessEvent::Stderr) == "e1\ne2");
  REQUIRE_FALSE(r.events.empty());
  CHECK(r.events.back().kind == ProcessEvent::Exit);
  CHECK(r.events.back().data.empty());
  CHECK(std::count_if(r.events.begin(), r.events.end(),
                      [](const ProcessEvent& e) { return e.kind == ProcessEvent::Exit; }) == 1);
  // Collecting is on by default alongside the events.
  CHECK(r.result.out == "a\nb\nc\npartial");
  CHECK(r.result.err == "e1\ne2");
}

TEST_CASE("process_loop: lines and chunks of one stream at once, without collecting", "[proc]") {
  SpawnOptions o = sh("printf 'one\\ntwo\\n'");
  o.out.collect = false;
  o.out.lines = true;
  o.out.chunks = true;
  Outcome r = run(o);
  std::vector<std::string> lines;
  std::string chunks;
  for (const ProcessEvent& e : r.events) {
    if (e.kind != ProcessEvent::Stdout) continue;
    if (e.line) lines.push_back(e.data); else chunks += e.data;
  }
  CHECK(lines == std::vector<std::string>{"one", "two"});
  CHECK(chunks == "one\ntwo\n");
  CHECK(r.result.out.empty());
  CHECK(r.result.out_bytes == 8);
  CHECK(r.events.back().kind == ProcessEvent::Exit);
}

TEST_CASE("process_loop: events of two processes in one loop keep their ids", "[proc]") {
  ProcessLoop loop;
  SpawnOptions a = sh("echo first; sleep 0.05; echo second");
  a.out.lines = true;
  SpawnOptions b = sh("echo other");
  b.out.lines = true;
  uint64_t ida = spawn_ok(loop, a), idb = spawn_ok(loop, b);
  CHECK(ida != idb);
  std::map<uint64_t, std::vector<ProcessEvent>> events;
  Clock::time_point start = Clock::now();
  while ((!loop.finished(ida) || !loop.finished(idb)) && ms_since(start) < 10000) {
    loop.step(100);
    for (ProcessEvent e; loop.take_event(e);) events[e.id].push_back(e);
  }
  REQUIRE(loop.finished(ida));
  REQUIRE(loop.finished(idb));
  for (ProcessEvent e; loop.take_event(e);) events[e.id].push_back(e);
  REQUIRE(events[ida].size() == 3);
  CHECK(events[ida][0].data == "first");
  CHECK(events[ida][1].data == "second");
  CHECK(events[ida][2].kind == ProcessEvent::Exit);
  REQUIRE(events[idb].size() == 2);
  CHECK(events[idb][0].data == "other");
  CHECK(events[idb][1].kind == ProcessEvent::Exit);
  CHECK(loop.running() == 0);
}

// --- Output limits and files --------------------------------------------------------------------

TEST_CASE("process_loop: max_output keeps the tail and counts every byte", "[proc]") {
  std::string expected;
  for (int i = 1; i <= 20000; ++i) expected += std::to_string(i) + "\n";
  SpawnOptions o;
  o.argv = {"seq", "1", "20000"};
  o.max_output = 1000;
  Outcome r = run(o);
  CHECK(r.result.code == 0);
  CHECK(r.result.out_bytes == expected.size());
  CHECK(r.result.out.size() == 1000);
  CHECK(r.result.out == expected.substr(expected.size() - 1000));
  CHECK(r.result.out_truncated);
  CHECK_FALSE(r.result.err_truncated);

  SpawnOptions small = sh("echo short");
  small.max_output = 1000;
  Outcome s = run(small);
  CHECK(s.result.out == "short\n");
  CHECK_FALSE(s.result.out_truncated);
}

TEST_CASE("process_loop: tee to a file with append and collect at once", "[proc]") {
  TempDir dir;
  std::string file = dir.path + "/log.txt";
  write_file(file, "previous\n");
  SpawnOptions o = sh("printf 'new output\\n'; printf 'more\\n'");
  o.out.file = file;
  o.out.append = true;
  o.out.collect = true;
  Outcome r = run(o);
  CHECK(r.result.error.empty());
  CHECK(read_file(file) == "previous\nnew output\nmore\n");
  CHECK(r.result.out == "new output\nmore\n");
  CHECK(r.result.out_bytes == 16);
}

TEST_CASE("process_loop: tee to a file truncates it, stdout and stderr to separate files", "[proc]") {
  TempDir dir;
  std::string out = dir.path + "/out.txt", err = dir.path + "/err.txt";
  write_file(out, "old content that is longer than the new one\n");
  SpawnOptions o = sh("echo fresh; echo problem >&2");
  o.out.file = out;
  o.out.collect = false;  // only a file: the bytes need not pass through Sidecar
  o.err.file = err;
  Outcome r = run(o);
  CHECK(r.result.error.empty());
  CHECK(read_file(out) == "fresh\n");
  CHECK(read_file(err) == "problem\n");
  CHECK(r.result.out.empty());
  CHECK(r.result.out_bytes == 6);
  CHECK(r.result.err == "problem\n");
}

// --- Timeouts and process groups ----------------------------------------------------------------

// Two sleeps side by side, one under a 0.3 s timeout and one under 30 s: the first ends at its
// deadline (not before), the second is still running then. An order, not a time bound.
TEST_CASE("process_loop: a wall timeout fires at its deadline, before a later one", "[proc]") {
  ProcessLoop loop;
  SpawnOptions later;
  later.argv = {"sleep", "60"};
  later.timeout_ms = 30000;
  uint64_t later_id = spawn_ok(loop, later);
  SpawnOptions o;
  o.argv = {"sleep", "60"};
  o.timeout_ms = 300;
  Outcome r = run(loop, o, 60000);
  CHECK(r.result.timed_out);
  CHECK(r.result.timeout_reason == "wall");
  CHECK(r.result.stopped);
  CHECK_FALSE(r.result.killed);
  CHECK(r.result.signal == SIGTERM);
  CHECK_FALSE(r.result.code.has_value());
  CHECK(r.result.duration_ms >= 300);
  CHECK_FALSE(loop.finished(later_id));  // its 30 s have not passed
  loop.stop(later_id);
}

TEST_CASE("process_loop: an idle timeout resets on every chunk", "[proc]") {
  // A line every 0.1 s fifteen times, then silence, under a 1 s idle limit: a clock that never
  // reset would stop it before the last lines. The gaps are a tenth of the limit, so a busy
  // machine does not make one look idle.
  SpawnOptions o = sh("for i in $(seq 15); do echo $i; sleep 0.1; done; sleep 30");
  o.idle_timeout_ms = 1000;
  Outcome r = run(o, 60000);
  CHECK(r.result.timed_out);
  CHECK(r.result.timeout_reason == "idle");
  std::string lines;
  for (int i = 1; i <= 15; ++i) lines += std::to_string(i) + "\n";
  CHECK(r.result.out == lines);
  // "15" comes at least 1.4 s after the start, so a reset clock fires no sooner than 2.4 s (less
  // the loop clock's millisecond), and long before the sleep's end.
  CHECK(r.result.duration_ms >= 1400 + 999);
  CHECK(r.result.duration_ms < kWellBeforeTheEndMs);
}

TEST_CASE("process_loop: a child ignoring SIGTERM gets SIGKILL after the grace", "[proc]") {
  SpawnOptions o = sh("trap '' TERM; sleep 30");
  o.timeout_ms = 100;
  o.kill_grace_ms = 200;
  Outcome r = run(o, 5000);
  CHECK(r.result.timed_out);
  CHECK(r.result.timeout_reason == "wall");
  CHECK(r.result.stopped);
  CHECK(r.result.killed);
  CHECK(r.result.signal == SIGKILL);
  CHECK_FALSE(r.result.code.has_value());
  CHECK(r.elapsed_ms >= 100 + 200);
  CHECK(r.elapsed_ms < kWellBeforeTheEndMs);  // not the 30 s sleep
  CHECK(live_group_members(r.pid).empty());
}

TEST_CASE("process_loop: grandchildren holding the pipes do not hold the wait", "[proc]") {
  Outcome r = run(sh("sleep 30 & sleep 30 & echo started"), 10000);
  CHECK(r.result.code == 0);
  CHECK(r.result.out == "started\n");
  CHECK(r.result.descendants_killed);
  CHECK_FALSE(r.result.timed_out);
  CHECK(r.elapsed_ms < kWellBeforeTheEndMs);
  CHECK(live_group_members(r.pid).empty());
}

TEST_CASE("process_loop: a wall timeout ends the grandchildren too", "[proc]") {
  SpawnOptions o = sh("sleep 30 & sleep 30");
  o.timeout_ms = 100;
  Outcome r = run(o, 10000);
  CHECK(r.result.timed_out);
  CHECK(r.result.timeout_reason == "wall");
  CHECK(r.elapsed_ms < kWellBeforeTheEndMs);
  CHECK(live_group_members(r.pid).empty());
}

TEST_CASE("process_loop: grandchildren ignoring SIGTERM are killed after the grace", "[proc]") {
  SpawnOptions o = sh("(trap '' TERM; sleep 30) & echo started");
  o.kill_grace_ms = 200;
  Outcome r = run(o, 10000);
  CHECK(r.result.code == 0);  // the leader itself exited on its own
  CHECK(r.result.out == "started\n");
  CHECK(r.result.descendants_killed);
  CHECK(r.result.killed);
  CHECK(r.elapsed_ms < kWellBeforeTheEndMs);
  CHECK(live_group_members(r.pid).empty());
}

TEST_CASE("process_loop: pipes held outside the group are closed after SIGKILL", "[proc]") {
  // The grandchild leaves the group (setsid) with stdout still open and prints its pid.
  SpawnOptions o = sh("setsid sh -c 'echo $$; exec sleep 30' &");
  o.kill_grace_ms = 200;
  Outcome r = run(o, 10000);
  int escaped = std::atoi(r.result.out.c_str());
  if (escaped > 0) kill(escaped, SIGKILL);
  CHECK(escaped > 0);
  CHECK(r.result.code == 0);
  CHECK_THAT(r.result.error, Catch::Contains("still held open"));
  CHECK(r.elapsed_ms < kWellBeforeTheEndMs);  // not the escaped sleep's 30 s
}

// --- Stopping and signals -----------------------------------------------------------------------

TEST_CASE("process_loop: stop() ends a running process with SIGTERM", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  Outcome r;
  r.id = spawn_ok(loop, o);
  r.pid = loop.pid(r.id);
  REQUIRE(wait_for_member(loop, r.pid, "sleep"));
  CHECK_FALSE(loop.finished(r.id));
  CHECK(loop.running() == 1);
  Clock::time_point start = Clock::now();
  loop.stop(r.id);
  wait_for(loop, r, 5000, {}, start);
  REQUIRE(r.finished);
  CHECK(r.result.stopped);
  CHECK_FALSE(r.result.killed);
  CHECK_FALSE(r.result.timed_out);
  CHECK_FALSE(r.result.interrupted);
  CHECK(r.result.signal == SIGTERM);
  CHECK(r.elapsed_ms < kWellBeforeTheEndMs);
  CHECK(loop.running() == 0);
  CHECK(live_group_members(r.pid).empty());
}

TEST_CASE("process_loop: signal() reaches the whole group", "[proc]") {
  ProcessLoop loop;
  // The shell traps SIGUSR1 and survives; its child sleep dies of it (status 128 + 10).
  SpawnOptions o = sh("trap 'echo trapped' USR1; sleep 30; echo \"status=$?\"");
  o.timeout_ms = 10000;  // only a safety net: the signal should end it at once
  Outcome r;
  r.id = spawn_ok(loop, o);
  r.pid = loop.pid(r.id);
  REQUIRE(wait_for_member(loop, r.pid, "sleep"));
  CHECK(loop.signal(r.id, SIGUSR1));
  wait_for(loop, r, 5000);
  REQUIRE(r.finished);
  CHECK_FALSE(r.result.timed_out);
  CHECK_FALSE(r.result.stopped);
  CHECK(r.result.code == 0);
  CHECK_THAT(r.result.out, Catch::Contains("trapped"));
  CHECK_THAT(r.result.out, Catch::Contains("status=" + std::to_string(128 + SIGUSR1)));
  CHECK_FALSE(loop.signal(r.id, SIGUSR1));  // it has ended
}

TEST_CASE("process_loop: stop_all(true) marks results interrupted and counts them", "[proc]") {
  ProcessLoop loop;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    SpawnOptions o;
    o.argv = {"sleep", "30"};
    ids.push_back(spawn_ok(loop, o));
  }
  for (uint64_t id : ids) REQUIRE(wait_for_member(loop, loop.pid(id), "sleep"));
  // One that already finished is not counted.
  Outcome done = run(loop, sh("true"));
  CHECK(loop.running() == 3);
  Clock::time_point start = Clock::now();
  CHECK(loop.stop_all(true) == 3);
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
  CHECK(loop.running() == 0);
  for (uint64_t id : ids) {
    REQUIRE(loop.finished(id));
    const ProcessResult& r = loop.result(id);
    CHECK(r.interrupted);
    CHECK(r.stopped);
    CHECK(r.signal == SIGTERM);
    CHECK(live_group_members(r.pid).empty());
  }
  CHECK_FALSE(loop.result(done.id).interrupted);
  CHECK(loop.stop_all(true) == 0);
}

TEST_CASE("process_loop: stop_all immediate sends SIGKILL without waiting for the grace", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o = sh("trap '' TERM; sleep 30");
  o.kill_grace_ms = 30000;
  uint64_t id = spawn_ok(loop, o);
  int pid = loop.pid(id);
  REQUIRE(wait_for_member(loop, pid, "sleep"));
  Clock::time_point start = Clock::now();
  CHECK(loop.stop_all(false, true) == 1);
  CHECK(ms_since(start) < kWellBeforeTheEndMs);  // not the 30 s grace
  const ProcessResult& r = loop.result(id);
  CHECK(r.killed);
  CHECK(r.signal == SIGKILL);
  CHECK_FALSE(r.interrupted);
  CHECK(live_group_members(pid).empty());
}

TEST_CASE("process_loop: the destructor ends a still-running child", "[proc]") {
  int pid = 0;
  Clock::time_point start;
  {
    ProcessLoop loop;
    SpawnOptions o;
    o.argv = {"sleep", "30"};
    uint64_t id = spawn_ok(loop, o);
    pid = loop.pid(id);
    REQUIRE(wait_for_member(loop, pid, "sleep"));
    start = Clock::now();
  }
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
  CHECK(live_group_members(pid).empty());
}

TEST_CASE("process_loop: the destructor kills a group that ignores SIGTERM", "[proc]") {
  int pid = 0;
  Clock::time_point start;
  {
    ProcessLoop loop;
    SpawnOptions o = sh("trap '' TERM; sleep 30 & sleep 30");
    o.kill_grace_ms = 200;
    uint64_t id = spawn_ok(loop, o);
    pid = loop.pid(id);
    REQUIRE(wait_for_member(loop, pid, "sleep"));
    start = Clock::now();
  }
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
  CHECK(live_group_members(pid).empty());
}

TEST_CASE("process_loop: release() of a running process stops it", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  uint64_t id = spawn_ok(loop, o);
  int pid = loop.pid(id);
  REQUIRE(wait_for_member(loop, pid, "sleep"));
  loop.release(id);
  CHECK_FALSE(loop.known(id));
  Clock::time_point start = Clock::now();
  while (loop.running() > 0 && ms_since(start) < 5000) loop.step(100);
  CHECK(loop.running() == 0);
  CHECK(live_group_members(pid).empty());
  ProcessEvent e;
  while (loop.take_event(e)) {}  // its exit event may still be queued; taking it is harmless
  CHECK_FALSE(loop.known(id));
}

// --- Stepping and interrupts -------------------------------------------------------------------

TEST_CASE("process_loop: step(ms) returns after ms when nothing happens", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  uint64_t id = spawn_ok(loop, o);
  REQUIRE(wait_for_member(loop, loop.pid(id), "sleep"));
  loop.step(0);
  Clock::time_point start = Clock::now();
  loop.step(50);
  double took = ms_since(start);
  CHECK(took >= 45);
  CHECK(took < kWellBeforeTheEndMs);  // not a wait for the sleep's end
  start = Clock::now();
  loop.step(0);
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
  CHECK_FALSE(loop.finished(id));
  loop.stop(id);
}

// With nothing alive (no child, pipe or timer) a step must not sleep out its timeout: its own
// step timer is not something to wait for.
// The steps ask for 30 s, so one that slept its timeout out shows plainly on a busy machine.
TEST_CASE("process_loop: step(ms) with nothing to wait for returns at once", "[proc]") {
  ProcessLoop loop;
  Clock::time_point start = Clock::now();
  loop.step(-1);
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
  start = Clock::now();
  loop.step(30000);
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
  // Same once the only process has finished.
  Outcome done = run(loop, sh("true"));
  start = Clock::now();
  loop.step(30000);
  CHECK(ms_since(start) < kWellBeforeTheEndMs);
}

// libuv's clock is cached from the last loop iteration: time the caller spent since its last
// step() must not be taken off the next step's timeout.
TEST_CASE("process_loop: step(ms) waits ms even when the caller was busy before", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  uint64_t id = spawn_ok(loop, o);
  REQUIRE(wait_for_member(loop, loop.pid(id), "sleep"));
  loop.step(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the caller does other work
  Clock::time_point start = Clock::now();
  loop.step(200);
  CHECK(ms_since(start) >= 190);
  CHECK_FALSE(loop.finished(id));
  loop.stop(id);
}

TEST_CASE("process_loop: interrupt_all() wakes a loop blocked in step()", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  uint64_t id = spawn_ok(loop, o);
  REQUIRE(wait_for_member(loop, loop.pid(id), "sleep"));
  uint64_t before = ProcessLoop::interrupts();
  std::thread ctrl_c([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ProcessLoop::interrupt_all();
  });
  Clock::time_point start = Clock::now();
  while (ProcessLoop::interrupts() == before && ms_since(start) < 5000) loop.step(-1);
  double took = ms_since(start);
  ctrl_c.join();
  CHECK(ProcessLoop::interrupts() == before + 1);
  CHECK(took >= 150);
  CHECK(took < kWellBeforeTheEndMs);  // woken, not at the sleep's end
  CHECK_FALSE(loop.finished(id));  // waking is all it does: the caller decides
  CHECK(loop.stop_all(true) == 1);
  CHECK(loop.result(id).interrupted);
}

TEST_CASE("process_loop: interrupt() from another thread wakes that loop alone", "[proc]") {
  ProcessLoop loop, other;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  uint64_t id = spawn_ok(loop, o);
  REQUIRE(wait_for_member(loop, loop.pid(id), "sleep"));
  uint64_t before = loop.interrupt_count(), other_before = other.interrupt_count();
  uint64_t process_wide = ProcessLoop::interrupts();
  std::thread cancel([&loop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    loop.interrupt();
  });
  Clock::time_point start = Clock::now();
  while (loop.interrupt_count() == before && ms_since(start) < 5000) loop.step(-1);
  double took = ms_since(start);
  cancel.join();
  CHECK(loop.interrupt_count() == before + 1);
  CHECK(took < kWellBeforeTheEndMs);  // woken, not at the sleep's end
  CHECK(other.interrupt_count() == other_before);  // another Host's loop goes on
  CHECK(ProcessLoop::interrupts() == process_wide);
  CHECK_FALSE(loop.finished(id));
  CHECK(loop.stop_all(true) == 1);
  CHECK(loop.result(id).interrupted);
}

TEST_CASE("process_loop: a second interrupt during stop_all escalates to SIGKILL", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o = sh("trap '' TERM; sleep 30");
  o.kill_grace_ms = 30000;
  uint64_t id = spawn_ok(loop, o);
  int pid = loop.pid(id);
  REQUIRE(wait_for_member(loop, pid, "sleep"));
  std::thread ctrl_c([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ProcessLoop::interrupt_all();
  });
  Clock::time_point start = Clock::now();
  std::size_t stopped = loop.stop_all(true);
  double took = ms_since(start);
  ctrl_c.join();
  CHECK(stopped == 1);
  CHECK(took >= 250);
  CHECK(took < kWellBeforeTheEndMs);  // not the 30 s grace
  const ProcessResult& r = loop.result(id);
  CHECK(r.interrupted);
  CHECK(r.killed);
  CHECK(r.signal == SIGKILL);
  CHECK(live_group_members(pid).empty());
}

TEST_CASE("process_loop: a child that stops reading its stdin neither blocks nor kills the host", "[proc]") {
  SpawnOptions o;
  o.argv = {"head", "-c", "10"};
  o.stdin_mode = StdinMode::Data;
  o.stdin_data = std::string(10 * 1000 * 1000, 'x');  // far more than a pipe holds
  Outcome r = run(o, 30000);  // SIGPIPE would end this test binary; a blocked write, run() fails
  CHECK(r.result.code == 0);
  CHECK(r.result.out == "xxxxxxxxxx");
}

// --- Volume: no deadlocks, no memory growth, no fd leaks ----------------------------------------

TEST_CASE("process_loop: 10 MB on stdout and stderr at once never deadlocks", "[proc]") {
  SpawnOptions o = sh(
      "head -c 10000000 /dev/zero | tr '\\0' a & "
      "head -c 10000000 /dev/zero | tr '\\0' b >&2; wait");
  Outcome r = run(o, 20000);
  CHECK(r.result.code == 0);
  CHECK(r.result.out_bytes == 10000000);
  CHECK(r.result.err_bytes == 10000000);
  REQUIRE(r.result.out.size() == 10000000);
  REQUIRE(r.result.err.size() == 10000000);
  CHECK(std::count(r.result.out.begin(), r.result.out.end(), 'a') == 10000000);
  CHECK(std::count(r.result.err.begin(), r.result.err.end(), 'b') == 10000000);
}

namespace {
std::string pattern_bytes(std::size_t n) {
  std::string data(n, '\0');
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 7 + i / 4096) % 251);
  return data;
}
}  // namespace

TEST_CASE("process_loop: 50 MB through cat with stdin data never deadlocks", "[proc]") {
  const std::string input = pattern_bytes(50 * 1000 * 1000);
  SpawnOptions o;
  o.argv = {"cat"};
  o.stdin_mode = StdinMode::Data;
  o.stdin_data = input;
  Outcome r = run(o, 30000);
  CHECK(r.result.code == 0);
  CHECK(r.result.error.empty());
  CHECK(r.result.out_bytes == input.size());
  REQUIRE(r.result.out.size() == input.size());
  bool same = r.result.out == input;
  CHECK(same);
}

// A pool starting many runs turns its loop only between them: a child whose input the pipe
// holds whole reads it to its end without waiting for that turn (a stream's close_stdin too).
TEST_CASE("process_loop: stdin data the pipe holds reaches its end before the loop turns", "[proc]") {
  TempDir dir("stdin_eof");
  for (const bool stream : {false, true}) {
    INFO((stream ? "a stdin stream, written and closed" : "stdin data"));
    const std::string done = dir.path + (stream ? "/stream" : "/data");
    ProcessLoop loop;
    SpawnOptions o = sh("cat > '" + done + ".tmp' && mv '" + done + ".tmp' '" + done + "'");
    o.stdin_mode = stream ? StdinMode::Stream : StdinMode::Data;
    o.stdin_data = stream ? "" : "the prompt\n";
    Outcome r;
    r.id = spawn_ok(loop, o);
    r.pid = loop.pid(r.id);
    std::string error;
    if (stream) {
      REQUIRE(loop.write(r.id, "the prompt\n", error));
      REQUIRE(loop.close_stdin(r.id, error));
    }
    // no step of the loop meanwhile: the child has its input and its end, or it never ends
    const Clock::time_point start = Clock::now();
    while (!std::filesystem::exists(done) && ms_since(start) < kWellBeforeTheEndMs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(read_file(done) == "the prompt\n");
    wait_for(loop, r, 10000);
    REQUIRE(r.finished);
    CHECK(r.result.code == 0);
    CHECK(loop.stdin_queued(r.id) == 0);
  }
}

TEST_CASE("process_loop: 50 MB through cat with a stdin stream never deadlocks", "[proc]") {
  const std::string input = pattern_bytes(50 * 1000 * 1000);
  const std::size_t chunk = 256 * 1024, max_queued = 4 * 1024 * 1024;
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"cat"};
  o.stdin_mode = StdinMode::Stream;
  Outcome r;
  Clock::time_point start = Clock::now();
  r.id = spawn_ok(loop, o);
  r.pid = loop.pid(r.id);
  std::size_t sent = 0;
  bool writes_ok = true;
  std::string error;
  while (sent < input.size() && ms_since(start) < 30000) {
    // Keep a bounded backlog: the loop must drain stdout while stdin is being fed.
    while (sent < input.size() && loop.stdin_queued(r.id) < max_queued) {
      std::size_t n = std::min(chunk, input.size() - sent);
      writes_ok = writes_ok && loop.write(r.id, input.substr(sent, n), error);
      sent += n;
    }
    loop.step(100);
    for (ProcessEvent e; loop.take_event(e);) {}
  }
  INFO(error);
  CHECK(writes_ok);
  REQUIRE(sent == input.size());
  CHECK(loop.close_stdin(r.id, error));
  CHECK_FALSE(loop.write(r.id, "late", error));  // closed: nothing more is accepted
  CHECK_FALSE(loop.close_stdin(r.id, error));
  wait_for(loop, r, 30000, {}, start);
  REQUIRE(r.finished);
  CHECK(r.result.code == 0);
  CHECK(r.result.error.empty());
  CHECK(loop.stdin_queued(r.id) == 0);
  CHECK(r.result.out_bytes == input.size());
  REQUIRE(r.result.out.size() == input.size());
  bool same = r.result.out == input;
  CHECK(same);
}

TEST_CASE("process_loop: 1 GiB streamed into a file keeps memory flat", "[proc]") {
  const uint64_t gib = 1ull << 30;
  TempDir dir;
  std::string file = dir.path + "/big.out";
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"head", "-c", std::to_string(gib), "/dev/zero"};
  o.out.collect = false;
  o.out.file = file;
  SECTION("the child writes the file itself") {}
  SECTION("through Sidecar's pipe, as when an idle clock must see the output") { o.idle_timeout_ms = 60000; }

  bool reset = reset_peak_rss();
  long hwm_before = status_kib("VmHWM"), rss_before = status_kib("VmRSS");
  REQUIRE(hwm_before > 0);
  long rss_max = rss_before;
  Clock::time_point sampled = Clock::now();
  Outcome r = run(loop, o, 60000, [&] {
    if (ms_since(sampled) < 10) return;
    sampled = Clock::now();
    rss_max = std::max(rss_max, status_kib("VmRSS"));
  });
  long hwm_after = status_kib("VmHWM");
  INFO("VmHWM reset: " << reset << ", VmHWM " << hwm_before << " -> " << hwm_after << " KiB, VmRSS " << rss_before
                       << " -> max " << rss_max << " KiB, " << r.elapsed_ms << " ms");
  CHECK(hwm_after - hwm_before <= 32 * 1024);
  CHECK(rss_max - rss_before <= 32 * 1024);
  CHECK(r.result.code == 0);
  CHECK(r.result.error.empty());
  CHECK(r.result.out.empty());
  CHECK(r.result.out_bytes == gib);
  struct stat st {};
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) == gib);
  CHECK(unlink(file.c_str()) == 0);
}

TEST_CASE("process_loop: 200 short processes, 16 at a time, leak no fds", "[proc]") {
  ProcessLoop loop;
  // A first process makes libuv open what it keeps for the loop's life (the SIGCHLD pipe).
  Outcome warm = run(loop, sh("true"));
  loop.release(warm.id);
  for (int i = 0; i < 3; ++i) loop.step(0);
  const std::size_t fds_before = open_fds();

  const int total = 200;
  const std::size_t window = 16;
  std::map<uint64_t, int> index_of;
  int next = 0, done = 0, matched = 0;
  std::size_t most_running = 0;
  Clock::time_point start = Clock::now();
  while (done < total && ms_since(start) < 30000) {
    while (next < total && loop.running() < window) {
      SpawnOptions o;
      o.argv = {"echo", std::to_string(next)};
      index_of[spawn_ok(loop, o)] = next++;
    }
    most_running = std::max(most_running, loop.running());
    loop.step(100);
    for (ProcessEvent e; loop.take_event(e);) {
      if (e.kind != ProcessEvent::Exit) continue;
      auto it = index_of.find(e.id);
      REQUIRE(it != index_of.end());
      const ProcessResult& r = loop.result(e.id);
      if (r.code == 0 && r.out == std::to_string(it->second) + "\n") {
        ++matched;
      } else {
        UNSCOPED_INFO("echo " << it->second << ": code " << r.code.value_or(-1) << ", out '" << r.out << "'");
      }
      loop.release(e.id);
      CHECK_FALSE(loop.known(e.id));
      index_of.erase(it);
      ++done;
    }
  }
  for (int i = 0; i < 3; ++i) loop.step(0);  // close callbacks of the last ones
  CHECK(done == total);
  CHECK(matched == total);
  CHECK(most_running <= window);
  CHECK(most_running > 1);
  CHECK(loop.running() == 0);
  CHECK(open_fds() == fds_before);
}

// --- Pseudo-terminal ----------------------------------------------------------------------------

TEST_CASE("process_loop: pty=true gives the child a terminal", "[proc]") {
  const std::string script = "test -t 0 && test -t 1 && echo tty || echo notty";
  SpawnOptions with = sh(script);
  with.pty = true;
  Outcome t = run(with);
  CHECK(t.result.code == 0);
  CHECK(t.result.out == "tty\n");  // "\n" as written: no "\r\n" translation

  Outcome n = run(sh(script));
  CHECK(n.result.code == 0);
  CHECK(n.result.out == "notty\n");
}

TEST_CASE("process_loop: a pty carries stderr with stdout and takes input", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o = sh("read line; echo \"got $line\"; echo err >&2");
  o.pty = true;
  Outcome r;
  r.id = spawn_ok(loop, o);
  r.pid = loop.pid(r.id);
  std::string error;
  CHECK(loop.write(r.id, "hello\n", error));
  wait_for(loop, r, 10000);
  REQUIRE(r.finished);
  CHECK(r.result.code == 0);
  CHECK(r.result.out == "got hello\nerr\n");  // no echo of the input
  CHECK(r.result.err.empty());
}

TEST_CASE("process_loop: stdin data on a pty ends with ^D", "[proc]") {
  SpawnOptions o;
  o.argv = {"cat"};
  o.pty = true;
  o.stdin_mode = StdinMode::Data;
  o.stdin_data = "first\nsecond\n";
  Outcome r = run(o, 10000);  // without the ^D, cat would wait for more input
  CHECK(r.result.code == 0);
  CHECK(r.result.out == "first\nsecond\n");
}

TEST_CASE("process_loop: a memory file as descriptor 3, emptied before each process", "[proc]") {
  sidecar::host::UniqueFd report(sidecar::host::open_memory_file("test-report"));
  REQUIRE(report.fd >= 0);
  int error = 0;
  SpawnOptions first = sh("printf '{\"exit_code\": 0, \"long\": true}' >&3");
  first.fd3_memory = report.fd;
  CHECK(run(first).result.code == 0);
  CHECK(sidecar::host::read_memory_file(report.fd, 1 << 20, error) == std::optional<std::string>("{\"exit_code\": 0, \"long\": true}"));
  CHECK(sidecar::host::read_memory_file(report.fd, 4, error) == std::optional<std::string>("{\"ex"));
  SpawnOptions second = sh("printf '{}' >&3");
  second.fd3_memory = report.fd;
  CHECK(run(second).result.code == 0);
  CHECK(sidecar::host::read_memory_file(report.fd, 1 << 20, error) == std::optional<std::string>("{}"));
  // Close-on-exec here: a process not given it does not have it.
  Outcome other = run(sh("ls -l /proc/self/fd/ | grep -c memfd: || true"));
  CHECK(other.result.out == "0\n");
  SpawnOptions closed = sh("true");
  closed.fd3_memory = 1000;  // no such descriptor: a spawn error, not a throw
  SpawnError why;
  ProcessLoop loop;
  CHECK(loop.spawn(closed, why) == 0);
  CHECK(why.message.find("descriptor 3") != std::string::npos);
}
