// Who a process is and what may be done to it (host/process/process_info.hpp), how children start
// (host/process/spawn_child.hpp: the parent-death signal, inherited descriptors closed) and a run's cgroup
// (host/process/run_cgroup.hpp).
// Every process a test starts is killed when the test ends, pass or fail.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "process/close_fds.hpp"
#include "process/process_info.hpp"
#include "process/run_cgroup.hpp"
#include "process/spawn_child.hpp"

namespace host = sidecar::host;

namespace {

// Polls `done` every 10 ms for at most 10 s; whether it became true.
bool eventually(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool gone(int pid) {
  auto p = host::read_process_info(pid);
  return !p || p->state == 'Z' || p->state == 'X';
}

// A child of this process running argv (with `env`), killed and reaped when the test ends.
struct Child {
  pid_t pid = 0;
  explicit Child(std::vector<std::string> argv, std::vector<std::string> env = {}, bool die_with_parent = false) {
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    for (auto& s : env) e.push_back(s.data());
    e.push_back(nullptr);
    host::ChildSpec spec;
    spec.file = a[0];
    spec.argv = a.data();
    spec.envp = e.data();
    spec.parent_death_signal = die_with_parent ? SIGKILL : 0;
    REQUIRE(host::spawn_child(spec, pid) == 0);
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Runs `spawn` in a forked process that reports the pid it started through a pipe and exits at
// once: the started program's parent is then gone. Returns that pid.
pid_t spawn_from_a_parent_that_exits(bool die_with_parent) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t middle = fork();
  if (middle == 0) {
    char sleep_path[] = "/bin/sleep", arg[] = "30";
    char* argv[] = {sleep_path, arg, nullptr};
    char* envp[] = {nullptr};
    host::ChildSpec spec;
    spec.file = sleep_path;
    spec.argv = argv;
    spec.envp = envp;
    spec.parent_death_signal = die_with_parent ? SIGKILL : 0;
    pid_t pid = 0;
    host::spawn_child(spec, pid);
    ssize_t n = write(fds[1], &pid, sizeof pid);
    _exit(n == sizeof pid ? 0 : 1);
  }
  close(fds[1]);
  pid_t pid = 0;
  REQUIRE(read(fds[0], &pid, sizeof pid) == sizeof pid);
  close(fds[0]);
  waitpid(middle, nullptr, 0);
  return pid;
}

}  // namespace

TEST_CASE("a child started with die_with_parent is killed when its parent ends, and only then", "[process_info]") {
  pid_t orphan_kept = spawn_from_a_parent_that_exits(false);
  pid_t orphan_killed = spawn_from_a_parent_that_exits(true);
  CHECK(eventually([&] { return gone(orphan_killed); }));
  CHECK_FALSE(gone(orphan_kept));  // the same start without the signal lives on
  kill(orphan_kept, SIGKILL);
}

TEST_CASE("spawn_child reports what failed before the program ran", "[process_info]") {
  char missing[] = "/nonexistent/program";
  char* argv[] = {missing, nullptr};
  char* envp[] = {nullptr};
  host::ChildSpec spec;
  spec.file = missing;
  spec.argv = argv;
  spec.envp = envp;
  pid_t pid = 0;
  CHECK(host::spawn_child(spec, pid) == ENOENT);
  char sh[] = "/bin/sh";
  char* sh_argv[] = {sh, nullptr};
  spec.file = sh;
  spec.argv = sh_argv;
  spec.cwd = "/nonexistent-folder";
  CHECK(host::spawn_child(spec, pid) == ENOENT);
}

TEST_CASE("signal_if_same never reaches a process that started at another time", "[process_info]") {
  Child child({"/bin/sleep", "30"});
  auto info = host::read_process_info(child.pid);
  REQUIRE(info);
  CHECK(host::signal_if_same(child.pid, info->start_ticks + 1, SIGKILL) == ESRCH);
  CHECK_FALSE(gone(child.pid));
  CHECK(host::signal_if_same(child.pid, info->start_ticks, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  child.pid = 0;
}

TEST_CASE("a process's environment, command line and children", "[process_info]") {
  Child child({"/bin/sleep", "31"}, {"SIDECAR_RUN_MARK=R-0001.abc", "OTHER=x=y"});
  CHECK(eventually([&] { return host::process_command(child.pid) == "/bin/sleep 31"; }));
  CHECK(host::environment_value(child.pid, "SIDECAR_RUN_MARK") == std::optional<std::string>("R-0001.abc"));
  CHECK(host::environment_value(child.pid, "OTHER") == std::optional<std::string>("x=y"));
  CHECK_FALSE(host::environment_value(child.pid, "SIDECAR_RUN").has_value());
  bool found = false;
  for (const auto& p : host::child_processes(getpid())) found = found || p.pid == child.pid;
  CHECK(found);
}

// The kernel lists children per thread (/proc/PID/task/TID/children): one started by another
// thread of this process is a child all the same.
TEST_CASE("child_processes finds the children every thread started", "[process_info]") {
  std::unique_ptr<Child> child;
  std::thread([&] { child = std::make_unique<Child>(std::vector<std::string>{"/bin/sleep", "32"}); }).join();
  std::vector<int> pids;
  for (const auto& p : host::child_processes(getpid())) pids.push_back(p.pid);
  CHECK(std::find(pids.begin(), pids.end(), child->pid) != pids.end());
  CHECK(host::child_processes(child->pid).empty());  // sleep has none
}

TEST_CASE("reap_child leaves the process loop's children to it", "[process_info]") {
  Child child({"/bin/true"});
  host::note_spawned(child.pid);
  CHECK(eventually([&] { return gone(child.pid); }));
  CHECK(host::reap_child(child.pid) == -EPERM);
  host::note_reaped(child.pid);
  CHECK(host::reap_child(child.pid) == 1);
  CHECK(host::reap_child(child.pid) == -ECHILD);
  child.pid = 0;
}

TEST_CASE("a run's cgroup holds all it starts, and kills them at once", "[process_info]") {
  std::string why;
  auto cgroup = host::cgroup_create("sidecar-test-" + std::to_string(getpid()), why);
  if (!cgroup) {
    WARN("no cgroup v2 can be made here: " << why);
    return;
  }
  CHECK(host::is_run_cgroup(*cgroup));
  REQUIRE(host::cgroup_arm(*cgroup) == 0);
  Child child({"/bin/sh", "-c", "setsid sleep 32 & exec sleep 33"});
  host::cgroup_disarm();
  Child outside({"/bin/sleep", "34"});  // disarmed: started where this process is
  CHECK(eventually([&] { return host::cgroup_members(*cgroup).size() == 2; }));
  for (int pid : host::cgroup_members(*cgroup)) CHECK(pid != outside.pid);
  CHECK(host::cgroup_kill(*cgroup) == 0);
  CHECK(eventually([&] { return gone(child.pid); }));
  waitpid(child.pid, nullptr, 0);
  child.pid = 0;
  CHECK(eventually([&] { return host::cgroup_remove(*cgroup) == 0; }));
  CHECK_FALSE(host::is_run_cgroup(*cgroup));
  CHECK_FALSE(gone(outside.pid));
  CHECK(host::cgroup_create("../escape", why) == std::nullopt);
}

// Descriptors the program that started Sidecar left open without close-on-exec never reach a
// child (host/process/close_fds.hpp): only its 0, 1, 2 and, when given, 3.
TEST_CASE("a child inherits no descriptor it was not given", "[process][fds]") {
  int leaked = ::open("/", O_RDONLY | O_DIRECTORY);  // no O_CLOEXEC: as `exec 7</` leaves one
  REQUIRE(leaked >= 3);
  int high = ::dup2(leaked, 200);
  REQUIRE(high == 200);
  auto exit_code = [](std::vector<std::string> argv, int fd3) {
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    char* envp[] = {nullptr};
    host::ChildSpec spec;
    spec.file = a[0];
    spec.argv = a.data();
    spec.envp = envp;
    spec.fd3 = fd3;
    pid_t pid = 0;
    REQUIRE(host::spawn_child(spec, pid) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const std::string open_fds = "for f in /proc/self/fd/*; do n=${f##*/}; [ \"$n\" -gt 2 ] && echo $n; done";
  // The shell's own descriptor on /proc/self/fd is the only one above 2 it lists (one line).
  CHECK(exit_code({"/bin/sh", "-c", "test $(" + open_fds + " | wc -l) -le 1 && ! test -e /proc/self/fd/200"}, -1) == 0);
  // Given as fd 3, the leaked descriptor stays that, and nothing else.
  CHECK(exit_code({"/bin/sh", "-c", "test -d /proc/self/fd/3/ && ! test -e /proc/self/fd/200"}, leaked) == 0);
  ::close(leaked);
  ::close(high);
}

TEST_CASE("close_descriptors_from closes everything from a number on", "[process][fds]") {
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int a = ::open("/dev/null", O_RDONLY), b = ::dup2(a, 300);
    if (a < 3 || b != 300) _exit(2);
    if (host::close_descriptors_from(3) != 0) _exit(3);
    bool closed = fcntl(a, F_GETFD) < 0 && errno == EBADF && fcntl(300, F_GETFD) < 0 && errno == EBADF;
    bool kept = fcntl(0, F_GETFD) >= 0 || errno != EBADF;  // 0 may be closed by the test runner: only 3+ matter
    _exit(closed && kept ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
