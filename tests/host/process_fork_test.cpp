// A ready process's copies (host/process/process_fork.hpp): the copy and the original each run
// and reap their own children, the copy reads none of the original's input, a fork is refused
// while a child of the loop runs, and reap_copies says how each copy ended.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process/process_fork.hpp"
#include "process/process_loop.hpp"

using namespace sidecar::host;

namespace {

// Runs `script` under sh in `loop` to its end (at most ~10 s); its stdout, or "<not finished>".
std::string run_sh(ProcessLoop& loop, const std::string& script) {
  SpawnOptions o;
  o.argv = {"sh", "-c", script};
  SpawnError error;
  uint64_t id = loop.spawn(o, error);
  for (int i = 0; id != 0 && !loop.finished(id) && i < 100; ++i) loop.step(100);
  return id != 0 && loop.finished(id) ? loop.result(id).out : "<not finished>";
}

// Waits (at most ~10 s) for the copy `pid` to end.
CopyEnd reaped(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    std::vector<CopyEnd> ended = reap_copies({pid});
    if (!ended.empty()) return ended[0];
    usleep(10000);
  }
  kill(pid, SIGKILL);
  return reap_copies({pid}).empty() ? CopyEnd{} : CopyEnd{pid, -1, -1};
}

}  // namespace

TEST_CASE("process_fork: a copy runs its own children with a loop of its own, and reads no input", "[proc]") {
  ProcessLoop loop;
  REQUIRE(run_sh(loop, "echo before") == "before\n");  // the loop has run a child already
  int input[2];
  REQUIRE(pipe(input) == 0);
  int saved = dup(STDIN_FILENO);
  REQUIRE(dup2(input[0], STDIN_FILENO) >= 0);  // the original's input: "mine"
  REQUIRE(write(input[1], "mine", 4) == 4);
  close(input[1]);
  std::string error;
  pid_t copy = fork_copy(loop, error);
  if (copy == 0) {  // no Catch2 here: the exit status says how it went
    char c;
    bool no_input = read(STDIN_FILENO, &c, 1) == 0;
    _exit(run_sh(loop, "sleep 0.2; echo in the copy") == "in the copy\n" && no_input ? 7 : 1);
  }
  dup2(saved, STDIN_FILENO);
  close(saved);
  INFO(error);
  REQUIRE(copy > 0);
  CHECK(run_sh(loop, "echo in the original") == "in the original\n");
  char got[8] = {};
  CHECK(read(input[0], got, sizeof got) == 4);  // the input stayed the original's
  close(input[0]);
  CopyEnd end = reaped(copy);
  CHECK(end.pid == copy);
  CHECK(end.code == 7);
  CHECK(end.signal == 0);
  CHECK(run_sh(loop, "echo after") == "after\n");
}

TEST_CASE("process_fork: refused while a child of the loop runs; a copy ended by a signal says which", "[proc]") {
  ProcessLoop loop;
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  SpawnError spawn_error;
  uint64_t id = loop.spawn(o, spawn_error);
  REQUIRE(id != 0);
  std::string error;
  CHECK(fork_copy(loop, error) == -1);
  CHECK(error == "fork: a child process of this one is running");
  loop.signal(id, SIGKILL);
  while (!loop.finished(id)) loop.step(100);
  error.clear();
  pid_t copy = fork_copy(loop, error);
  if (copy == 0) {
    for (;;) pause();  // until killed
  }
  INFO(error);
  REQUIRE(copy > 0);
  CHECK(reap_copies({copy}).empty());  // still running
  kill(copy, SIGKILL);
  CopyEnd end = reaped(copy);
  CHECK(end.pid == copy);
  CHECK(end.signal == SIGKILL);
  CHECK(end.code == 0);
}

TEST_CASE("process_fork: refused while another thread runs, not for threads just joined", "[proc]") {
  ProcessLoop loop;
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  std::thread running([&] {
    std::unique_lock<std::mutex> hold(m);
    cv.wait(hold, [&] { return go; });
  });
  std::string error;
  CHECK(fork_copy(loop, error) == -1);  // after waiting a second for it to end: it does not
  CHECK(error == "fork: this process runs 2 threads, not one");
  {
    std::lock_guard<std::mutex> hold(m);
    go = true;
  }
  cv.notify_one();
  running.join();
  // Threads joined just before each fork (as a preset's pool forks right after its search for
  // secret files): the fork waits for the kernel to let them go, never refuses.
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<std::thread> done;
    for (int k = 0; k < 2; ++k) done.emplace_back([] { std::vector<char> work(1 << 20, 'x'); });
    for (auto& t : done) t.join();
    error.clear();
    pid_t copy = fork_copy(loop, error);
    if (copy == 0) _exit(0);
    if (copy < 0) {
      ++refused;
      continue;
    }
    CHECK(reaped(copy).code == 0);
  }
  INFO(error);
  CHECK(refused == 0);
}
