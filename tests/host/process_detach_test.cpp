// Detached processes (host/process/process_detach.hpp): they outlive their starter, are nobody's child,
// run in their own session with a clean signal state, and report a failed start at once. Every
// program a test starts is killed (its whole group) when the test ends, pass or fail.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "process/process_detach.hpp"
#include "process/process_group.hpp"
#include "temp_dir.hpp"

using sidecar::host::detach_process;
using sidecar::host::DetachOptions;
using sidecar::host::live_group_members;
using sidecar::host::process_alive;
using sidecar::host::signal_process;
using sidecar::host::SpawnError;
using TempDir = sidecar::test::TempDir;

namespace {

// Kills the group a detached program leads when the test ends.
struct GroupKiller {
  pid_t pid = 0;
  ~GroupKiller() {
    if (pid > 0) kill(-pid, SIGKILL);
  }
};

bool wait_until(const std::function<bool()>& done, int limit_ms = 30000) {
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

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// From /proc/PID/stat: "pid (comm) state ppid pgrp session tty_nr ...".
struct Stat {
  char state = 0;
  int ppid = 0, pgrp = 0, session = 0, tty = 0;
};

Stat stat_of(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  Stat s;
  std::size_t close = text.rfind(')');
  REQUIRE(close != std::string::npos);
  std::istringstream(text.substr(close + 2)) >> s.state >> s.ppid >> s.pgrp >> s.session >> s.tty;
  return s;
}

// A line of /proc/PID/status, such as "SigBlk", without its name.
std::string status_field(pid_t pid, const std::string& name) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", name.size() + 1));
  }
  return "";
}

std::set<std::string> open_fds(pid_t pid) {
  std::set<std::string> fds;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    fds.insert(e.path().filename().string());
  }
  return fds;
}

// True when this process has no child at all, not even a zombie.
bool no_children() {
  int status = 0;
  return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

DetachOptions command(std::vector<std::string> argv) {
  DetachOptions o;
  o.argv = std::move(argv);
  return o;
}

pid_t detach_ok(const DetachOptions& o) {
  SpawnError error;
  pid_t pid = detach_process(o, error);
  INFO(error.code << ": " << error.message);
  REQUIRE(pid > 0);
  return pid;
}

}  // namespace

TEST_CASE("detach: the program leads its own session, is nobody's child, and outlives its starter",
          "[proc][detach]") {
  // The starter is a forked copy of this test process that detaches a sleep, reports its pid
  // and exits: as `sidecar run --background` will.
  int report[2];
  REQUIRE(pipe(report) == 0);
  pid_t starter = fork();
  REQUIRE(starter >= 0);
  if (starter == 0) {
    close(report[0]);
    SpawnError error;
    pid_t pid = detach_process(command({"sleep", "30"}), error);
    ssize_t ignored = write(report[1], &pid, sizeof pid);
    (void)ignored;
    _exit(pid > 0 ? 0 : 1);
  }
  close(report[1]);
  pid_t pid = 0;
  ssize_t n = read(report[0], &pid, sizeof pid);
  close(report[0]);
  GroupKiller cleanup{pid};
  int status = 0;
  REQUIRE(waitpid(starter, &status, 0) == starter);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(n == static_cast<ssize_t>(sizeof pid));
  REQUIRE(pid > 0);

  CHECK(process_alive(pid));
  CHECK(getsid(pid) == pid);
  CHECK(getpgid(pid) == pid);
  Stat s = stat_of(pid);
  CHECK(s.session == pid);
  CHECK(s.tty == 0);  // no controlling terminal: no SIGHUP when one closes
  CHECK(s.ppid != starter);
  CHECK(s.ppid != getpid());
  CHECK(read_file("/proc/" + std::to_string(pid) + "/comm") == "sleep\n");

  CHECK(signal_process(pid, SIGKILL, false) == 0);
  CHECK(wait_until([&] { return !process_alive(pid); }));
}

TEST_CASE("detach: leaves no child behind, not even a zombie", "[proc][detach]") {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  REQUIRE(no_children());
  pid_t pid = detach_ok(command({"sleep", "30"}));
  GroupKiller cleanup{pid};
  CHECK(no_children());  // the middle process was reaped; the program is not ours
  CHECK(process_alive(pid));
  CHECK(stat_of(pid).ppid != getpid());

  // A program that ends at once does not become our zombie either.
  pid_t quick = detach_ok(command({"true"}));
  GroupKiller cleanup_quick{quick};
  CHECK(wait_until([&] { return !process_alive(quick); }));
  CHECK(no_children());
}

TEST_CASE("detach: stdout and stderr are appended to their files, stdin is /dev/null", "[proc][detach]") {
  TempDir dir("detach");
  std::string out = dir.path + "/out.log", err = dir.path + "/err.log";
  write_file(out, "old\n");
  DetachOptions o = command({"sh", "-c", "echo out; echo err >&2; cat; echo end"});
  o.out_file = out;
  o.err_file = err;
  pid_t pid = detach_ok(o);
  GroupKiller cleanup{pid};
  REQUIRE(wait_until([&] { return !process_alive(pid); }));
  CHECK(read_file(out) == "old\nout\nend\n");  // cat read /dev/null: at once, nothing
  CHECK(read_file(err) == "err\n");            // created when missing
  mode_t mask = umask(0);
  umask(mask);
  struct stat st {};
  REQUIRE(stat(err.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0644 & ~mask));
}

TEST_CASE("detach: without files both streams go to /dev/null, and no other descriptor is inherited",
          "[proc][detach]") {
  // A descriptor without close-on-exec, as a Lua io.open leaves: the middle process closes it.
  int stray = open("/dev/null", O_RDONLY);
  REQUIRE(stray >= 0);
  pid_t pid = detach_ok(command({"sleep", "30"}));
  GroupKiller cleanup{pid};
  close(stray);
  std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd/";
  // sleep opens files of its own while it starts (its locale): an inherited descriptor would
  // stay, theirs go.
  CHECK(wait_until([&] { return open_fds(pid) == std::set<std::string>{"0", "1", "2"}; }));
  for (const char* fd : {"0", "1", "2"}) {
    CHECK(std::filesystem::read_symlink(fd_dir + fd) == "/dev/null");
  }
}

TEST_CASE("detach: signals are at their defaults and none is blocked in the program", "[proc][detach]") {
  // Sidecar ignores SIGPIPE and handles others; pretend this process ignores and blocks more.
  struct sigaction ignore {}, old_term {}, old_hup {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGTERM, &ignore, &old_term);
  sigaction(SIGHUP, &ignore, &old_hup);
  sigset_t block, saved;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &saved);

  SpawnError error;
  pid_t pid = detach_process(command({"sleep", "30"}), error);
  GroupKiller cleanup{pid};
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  REQUIRE(pid > 0);
  REQUIRE(wait_until([&] { return read_file("/proc/" + std::to_string(pid) + "/comm") == "sleep\n"; }));
  // The standard signals 1 to 31 (bit n - 1 is signal n). glibc's posix_spawn, under every child
  // Sidecar starts, leaves its two internal signals (32 and 33, below SIGRTMIN) ignored; no
  // program uses them.
  CHECK((std::stoull(status_field(pid, "SigIgn"), nullptr, 16) & 0x7fffffffu) == 0);
  CHECK(status_field(pid, "SigBlk") == "0000000000000000");
  // So SIGHUP, the signal a closing terminal sends, would end it: only setsid keeps it away.
  CHECK(signal_process(pid, SIGHUP, false) == 0);
  CHECK(wait_until([&] { return !process_alive(pid); }));
}

TEST_CASE("detach: cwd and environment changes apply as for spawn", "[proc][detach]") {
  TempDir dir("detach");
  std::string out = dir.path + "/out";
  setenv("SIDECAR_DETACH_GONE", "still here", 1);
  DetachOptions o = command({"sh", "-c", "pwd; echo \"$SIDECAR_DETACH_SET\"; echo \"${SIDECAR_DETACH_GONE-unset}\""});
  o.cwd = dir.path;
  o.env = {{"SIDECAR_DETACH_SET", "yes"}, {"SIDECAR_DETACH_GONE", std::nullopt}};
  o.out_file = out;
  pid_t pid = detach_ok(o);
  GroupKiller cleanup{pid};
  unsetenv("SIDECAR_DETACH_GONE");
  REQUIRE(wait_until([&] { return !process_alive(pid); }));
  CHECK(read_file(out) == std::filesystem::canonical(dir.path).string() + "\nyes\nunset\n");

  // clear_env: only the listed variables, and the program found in the default PATH.
  DetachOptions bare = command({"env"});
  bare.clear_env = true;
  bare.env = {{"ONLY", "1"}};
  bare.out_file = dir.path + "/env";
  pid_t env_pid = detach_ok(bare);
  GroupKiller cleanup_env{env_pid};
  REQUIRE(wait_until([&] { return !process_alive(env_pid); }));
  CHECK(read_file(dir.path + "/env") == "ONLY=1\n");
}

TEST_CASE("detach: a program that cannot start is an error at once, and leaves no process", "[proc][detach]") {
  TempDir dir("detach");
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  SpawnError error;

  SECTION("not found in PATH") {
    CHECK(detach_process(command({"sidecar-no-such-program"}), error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK(error.message.find("sidecar-no-such-program") != std::string::npos);
    CHECK(error.message.find("not found in PATH") != std::string::npos);
  }
  SECTION("a missing path") {
    CHECK(detach_process(command({dir.path + "/missing"}), error) == 0);
    CHECK(error.code == "ENOENT");
  }
  SECTION("not executable") {
    write_file(dir.path + "/plain", "echo hi\n");
    CHECK(detach_process(command({dir.path + "/plain"}), error) == 0);
    CHECK(error.code == "EACCES");
    CHECK(error.message.find("not executable") != std::string::npos);
  }
  SECTION("exec itself fails: reported from the middle process with its errno") {
    write_file(dir.path + "/no-shebang", "this is not a program\n");
    chmod((dir.path + "/no-shebang").c_str(), 0755);
    CHECK(detach_process(command({dir.path + "/no-shebang"}), error) == 0);
    CHECK(error.code == "ENOEXEC");
    CHECK(error.message.find("no-shebang") != std::string::npos);
    CHECK(error.message.find("#!") != std::string::npos);
  }
  SECTION("a missing working directory") {
    DetachOptions o = command({"true"});
    o.cwd = dir.path + "/nowhere";
    CHECK(detach_process(o, error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK(error.message.find("does not exist") != std::string::npos);
  }
  SECTION("an output file that cannot be opened") {
    DetachOptions o = command({"true"});
    o.err_file = dir.path + "/nowhere/err.log";
    CHECK(detach_process(o, error) == 0);
    CHECK(error.code == "ENOENT");
    CHECK(error.message.find("cannot open the stderr file") != std::string::npos);
  }
  SECTION("an empty command") {
    CHECK(detach_process(DetachOptions(), error) == 0);
    CHECK(error.code == "EINVAL");
  }
  CHECK(no_children());
}

TEST_CASE("signal_process: a process, or the group it leads", "[proc][detach]") {
  // sh leads the group; its sleep is a second member.
  pid_t pid = detach_ok(command({"sh", "-c", "sleep 30 & wait"}));
  GroupKiller cleanup{pid};
  REQUIRE(wait_until([&] { return live_group_members(pid).size() == 2; }));

  CHECK(signal_process(pid, 0, false) == 0);
  CHECK(signal_process(pid, SIGKILL, false) == 0);  // the leader alone
  CHECK(wait_until([&] { return !process_alive(pid); }));
  CHECK(live_group_members(pid).size() == 1);  // its sleep lives on
  CHECK(signal_process(pid, SIGTERM, true) == 0);
  CHECK(wait_until([&] { return live_group_members(pid).empty(); }));
  // (The group answers kill(2) until init has reaped its zombies: no ESRCH check here.)

  CHECK(signal_process(0, SIGTERM, false) == EINVAL);   // not "my group"
  CHECK(signal_process(-1, SIGTERM, false) == EINVAL);  // not "everyone"
  CHECK(signal_process(-1, SIGTERM, true) == EINVAL);
}

TEST_CASE("process_alive: running, ended, zombie and nonsense pids", "[proc][detach]") {
  CHECK(process_alive(getpid()));
  CHECK(process_alive(1));  // init: not ours to signal, still alive
  CHECK_FALSE(process_alive(0));
  CHECK_FALSE(process_alive(-1));

  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(0);
  // Not yet reaped: a zombie, which kill(2) still finds.
  REQUIRE(wait_until([&] { return stat_of(child).state == 'Z'; }));
  CHECK(kill(child, 0) == 0);
  CHECK_FALSE(process_alive(child));
  REQUIRE(waitpid(child, nullptr, 0) == child);
  CHECK_FALSE(process_alive(child));
  CHECK(signal_process(child, SIGTERM, false) == ESRCH);
}
