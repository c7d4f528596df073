// The lock a background run's worker holds for its life (host/store/file_lock.hpp) and the /proc facts
// a reconciler reads (host/process/process_info.hpp). Locks are checked from other processes (fork), and
// through the deaths that matter: a normal exit, SIGKILL, and an exec'd child that must not
// inherit it. Every child a test starts is killed and reaped when the test ends.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

#include "process/process_info.hpp"
#include "store/file_lock.hpp"
#include "temp_dir.hpp"

using sidecar::host::FileLock;
using sidecar::host::group_processes;
using sidecar::host::processes_with_environment;
using sidecar::host::read_process_info;
using TempDir = sidecar::test::TempDir;

namespace {

// Kills and reaps a child when the test ends.
struct Child {
  pid_t pid = 0;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  // Reaps it; its exit code, or -1 when a signal ended it.
  int wait() {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

bool wait_until(const std::function<bool()>& done, int limit_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// What another process sees: a forked child tries the lock and exits with the result (0 taken,
// 1 busy, 2 another error).
int try_from_child(const std::string& path) {
  Child c;
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    FileLock lock;
    int e = FileLock::try_lock(path, lock);
    _exit(e == 0 ? 0 : e == EWOULDBLOCK ? 1 : 2);
  }
  return c.wait();
}

// A child that takes the lock, says so through a pipe, and then sleeps until killed.
void start_holder(Child& c, const std::string& path) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    signal(SIGTERM, SIG_DFL);  // Catch2's handler would report the test's end from this child
    close(fds[0]);
    FileLock lock;
    char ok = FileLock::try_lock(path, lock) == 0 ? 'y' : 'n';
    if (write(fds[1], &ok, 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(fds[1]);
  char ok = 0;
  REQUIRE(read(fds[0], &ok, 1) == 1);
  close(fds[0]);
  REQUIRE(ok == 'y');
}

}  // namespace

TEST_CASE("a held lock cannot be taken again, in this process or another, until released") {
  TempDir dir("file-lock");
  std::string path = dir.path + "/worker.lock";
  FileLock held;
  REQUIRE(FileLock::try_lock(path, held) == 0);
  CHECK(held.held());
  FileLock second;
  CHECK(FileLock::try_lock(path, second) == EWOULDBLOCK);  // flock: two opens conflict
  CHECK_FALSE(second.held());
  CHECK(try_from_child(path) == 1);
  held.release();
  CHECK_FALSE(held.held());
  CHECK(try_from_child(path) == 0);
  CHECK(FileLock::try_lock(path, second) == 0);
}

TEST_CASE("a lock is dropped when its holder dies, however it dies") {
  TempDir dir("file-lock");
  std::string path = dir.path + "/worker.lock";
  for (int sig : {SIGKILL, SIGTERM}) {
    Child holder;
    start_holder(holder, path);
    CHECK(try_from_child(path) == 1);
    FileLock mine;
    CHECK(FileLock::try_lock(path, mine) == EWOULDBLOCK);
    kill(holder.pid, sig);
    holder.wait();
    CHECK(FileLock::try_lock(path, mine) == 0);
  }
}

TEST_CASE("a program the holder starts does not inherit the lock (close-on-exec)") {
  TempDir dir("file-lock");
  std::string path = dir.path + "/worker.lock";
  FileLock held;
  REQUIRE(FileLock::try_lock(path, held) == 0);
  Child sleeper;
  sleeper.pid = fork();
  REQUIRE(sleeper.pid >= 0);
  if (sleeper.pid == 0) {
    execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string comm = "/proc/" + std::to_string(sleeper.pid) + "/comm";
  REQUIRE(wait_until([&] { return read_file(comm) == "sleep\n"; }));
  held.release();  // the holder is gone; the program it started still runs
  CHECK(try_from_child(path) == 0);
}

TEST_CASE("a lock in a missing folder reports the errno, and moving a lock keeps it held") {
  TempDir dir("file-lock");
  FileLock lock;
  CHECK(FileLock::try_lock(dir.path + "/no/such/folder/worker.lock", lock) == ENOENT);
  CHECK_FALSE(lock.held());
  std::string path = dir.path + "/worker.lock";
  REQUIRE(FileLock::try_lock(path, lock) == 0);
  FileLock moved(std::move(lock));
  CHECK_FALSE(lock.held());
  CHECK(moved.held());
  CHECK(try_from_child(path) == 1);
  lock = std::move(moved);
  CHECK(try_from_child(path) == 1);
  lock.release();
  CHECK(try_from_child(path) == 0);
}

TEST_CASE("process facts: this process, a group, and the processes that inherited a marker") {
  auto me = read_process_info(getpid());
  REQUIRE(me);
  CHECK(me->pid == getpid());
  CHECK(me->ppid == getppid());
  CHECK(me->pgid == getpgrp());
  CHECK(me->sid == getsid(0));
  CHECK(me->start_ticks > 0);
  CHECK(read_process_info(getpid())->start_ticks == me->start_ticks);
  CHECK_FALSE(read_process_info(0x7ffffff0));

  std::string marker = "SIDECAR_TEST_MARK=" + std::to_string(getpid()) + "-lock-test";
  Child marked, near;
  for (Child* c : {&marked, &near}) {
    c->pid = fork();
    REQUIRE(c->pid >= 0);
    if (c->pid == 0) {
      setpgid(0, 0);
      std::string entry = c == &marked ? marker : marker + "-longer";  // a prefix is not a match
      char* envp[] = {entry.data(), nullptr};
      execle("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr), envp);
      _exit(127);
    }
    setpgid(c->pid, c->pid);  // both sides, so it holds whoever runs first
  }
  for (Child* c : {&marked, &near}) {
    std::string comm = "/proc/" + std::to_string(c->pid) + "/comm";
    REQUIRE(wait_until([&] { return read_file(comm) == "sleep\n"; }));
  }
  auto found = processes_with_environment(marker);
  REQUIRE(found.size() == 1);
  CHECK(found[0].pid == marked.pid);
  CHECK(found[0].pgid == marked.pid);
  auto group = group_processes(marked.pid);
  REQUIRE(group.size() == 1);
  CHECK(group[0].pid == marked.pid);
  CHECK(group[0].start_ticks >= me->start_ticks);

  kill(marked.pid, SIGKILL);
  REQUIRE(wait_until([&] { return read_process_info(marked.pid)->state == 'Z'; }));
  CHECK(group_processes(marked.pid).empty());  // a zombie has ended
  CHECK(processes_with_environment(marker).empty());
  marked.wait();
  CHECK_FALSE(read_process_info(marked.pid));
  CHECK(group_processes(marked.pid).empty());  // no process has that group any more
}
