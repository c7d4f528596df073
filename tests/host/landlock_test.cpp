// Landlock (host/sandbox/landlock.hpp), applied in a forked child as a run's sandbox applies it
// before exec: beneath a read path files open for reading only; beneath a write path they are made
// and written; anywhere else nothing opens; with a TCP limit, connect() reaches the listed port
// only and bind() is refused. (The kernel of the machine that runs the suite must offer Landlock:
// the case says so and fails where it does not.)
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "sandbox/landlock.hpp"
#include "sandbox/sandbox_init.hpp"
#include "temp_dir.hpp"

namespace host = sidecar::host;
using sidecar::test::TempDir;

namespace {

// Runs `body` in a child restricted to `plan` (its ruleset made here, enforced there, as
// sandbox-init does); its exit status (255: the restriction failed).
int restricted(const host::LandlockPlan& plan, const std::function<int()>& body) {
  std::string why;
  const int ruleset = host::landlock_ruleset(plan, why);
  pid_t pid = fork();
  if (pid == 0) _exit(ruleset >= 0 && host::landlock_enforce(ruleset) == nullptr ? body() : 255);
  if (ruleset >= 0) close(ruleset);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 254;
}

// 0 when open() gives what `ok` expects (a descriptor, or EACCES), else 1.
int opens(const std::string& path, int flags, bool ok) {
  int fd = open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  return (fd >= 0) == ok && (ok || errno == EACCES) ? 0 : 1;
}

int tcp_listener(int& port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(s, 4) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  port = ntohs(a.sin_port);
  return s;
}

// 0 when a connect() to 127.0.0.1:port succeeds (ok) or is refused with EACCES (!ok).
int connects(int port, bool ok) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int err = errno;
  close(s);
  return (r == 0) == ok && (ok || err == EACCES) ? 0 : 1;
}

}  // namespace

TEST_CASE("landlock: reads beneath read paths, writes beneath write paths, nothing elsewhere", "[landlock]") {
  INFO("Landlock ABI of this kernel: " << host::landlock_abi());
  REQUIRE(host::landlock_abi() >= 1);
  TempDir dir("landlock");
  const std::string shown = dir.path + "/shown", work = dir.path + "/work", secret = dir.path + "/secret";
  for (const std::string& d : {shown, work, secret}) REQUIRE(mkdir(d.c_str(), 0700) == 0);
  std::ofstream(shown + "/a.txt") << "a";
  std::ofstream(secret + "/key") << "k";
  host::LandlockPlan plan;
  plan.read = {shown, dir.path + "/not-there"};  // a path that does not exist adds nothing
  plan.write = {work};
  // Each bit of the child's status: one expectation that did not hold.
  const int wrong = restricted(plan, [&] {
    return opens(shown + "/a.txt", O_RDONLY, true) | opens(shown + "/a.txt", O_WRONLY, false) << 1 |
           opens(shown + "/new", O_CREAT | O_WRONLY, false) << 2 | opens(work + "/new", O_CREAT | O_WRONLY, true) << 3 |
           opens(secret + "/key", O_RDONLY, false) << 4 | opens(dir.path + "/top", O_CREAT | O_WRONLY, false) << 5;
  });
  CHECK(wrong == 0);
}

TEST_CASE("landlock: beneath a list path, folders are listed and their files not read", "[landlock]") {
  REQUIRE(host::landlock_abi() >= 1);
  TempDir dir("landlock");
  const std::string secret = dir.path + "/secret";
  REQUIRE(mkdir(secret.c_str(), 0700) == 0);
  std::ofstream(secret + "/key") << "k";
  host::LandlockPlan plan;
  plan.list = {dir.path};
  const int wrong = restricted(plan, [&] {
    DIR* d = opendir(secret.c_str());
    bool seen = false;
    for (dirent* e; d && (e = readdir(d));) seen = seen || std::string(e->d_name) == "key";
    if (d) closedir(d);
    return (seen ? 0 : 1) | opens(secret + "/key", O_RDONLY, false) << 1;
  });
  CHECK(wrong == 0);
}

TEST_CASE("landlock: a TCP limit lets connect() reach the listed port only, and refuses bind()", "[landlock]") {
  INFO("Landlock ABI of this kernel: " << host::landlock_abi());
  REQUIRE(host::landlock_abi() >= 4);
  int listed = 0, other = 0;
  int a = tcp_listener(listed), b = tcp_listener(other);
  host::LandlockPlan plan;
  plan.read = {"/"};
  plan.tcp = true;
  plan.connect_ports = {listed};
  const int wrong = restricted(plan, [&] {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    int bound = bind(s, reinterpret_cast<sockaddr*>(&any), sizeof any);
    int bind_refused = bound != 0 && errno == EACCES ? 0 : 1;
    return connects(listed, true) | connects(other, false) << 1 | bind_refused << 2;
  });
  CHECK(wrong == 0);
  close(a);
  close(b);
}

TEST_CASE("landlock: a file of its own is a rule too, with a file's rights", "[landlock]") {
  REQUIRE(host::landlock_abi() >= 1);
  TempDir dir("landlock");
  const std::string log = dir.path + "/out.log", config = dir.path + "/config", other = dir.path + "/other";
  std::ofstream(log) << "";
  std::ofstream(config) << "c";
  std::ofstream(other) << "o";
  host::LandlockPlan plan;
  plan.read = {config};
  plan.write = {log};  // a folder's rights (make, remove) on a file would be refused by the kernel
  const int wrong = restricted(plan, [&] {
    return opens(log, O_WRONLY | O_TRUNC, true) | opens(config, O_RDONLY, true) << 1 |
           opens(config, O_WRONLY, false) << 2 | opens(other, O_RDONLY, false) << 3 |
           opens(dir.path + "/new", O_CREAT | O_WRONLY, false) << 4;
  });
  CHECK(wrong == 0);
}

namespace {

// Whether a process whose command line holds `marker` is alive.
bool alive_with(const std::string& marker) {
  DIR* d = opendir("/proc");
  bool found = false;
  while (dirent* e = d ? readdir(d) : nullptr) {
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::string args((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string state;
    std::ifstream st(std::string("/proc/") + e->d_name + "/stat");
    std::getline(st, state);
    const std::size_t close = state.rfind(')');
    const bool zombie = close != std::string::npos && close + 2 < state.size() && state[close + 2] == 'Z';
    found = found || (!zombie && args.find(marker) != std::string::npos);
  }
  if (d) closedir(d);
  return found;
}

}  // namespace

TEST_CASE("sandbox-init --subreaper: its agent confined by Landlock, what it left ended and reported", "[landlock]") {
  REQUIRE(host::landlock_abi() >= 1);
  TempDir dir("subreaper");
  const std::string work = dir.path + "/work", outside = dir.path + "/outside";
  REQUIRE(mkdir(work.c_str(), 0700) == 0);
  REQUIRE(mkdir(outside.c_str(), 0700) == 0);
  int report[2];
  REQUIRE(pipe(report) == 0);
  const std::string script = "echo in > " + work + "/ok; { echo out > " + outside + "/no; } 2>/dev/null; " +
                             // the first leaves the session, says so, then sleeps: an escapee
                             "setsid sh -c 'touch " + work + "/left; exec sleep 97.31' </dev/null >/dev/null 2>&1 & " +
                             "sleep 97.32 & while [ ! -e " + work + "/left ]; do sleep 0.05; done; exit 3";
  pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    host::SandboxInitOptions o;
    std::string why;
    if (!host::parse_sandbox_init({"--subreaper", "--report-fd", std::to_string(report[1]), "--settle-ms", "300",
                                   "--landlock-read", "/", "--landlock-write", work, "--landlock-write", "/dev/null",
                                   "--", "sh", "-c", script},
                                  o, why))
      _exit(200);
    _exit(host::run_sandbox_init(o));
  }
  close(report[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(report[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(report[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  INFO(text);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  CHECK(text.find("\"exit_code\":3") != std::string::npos);
  // The one that left the session is an escapee; the one in the agent's group ended with it.
  CHECK(text.find("sleep 97.31") != std::string::npos);
  CHECK(text.find("\"left_session\":true") != std::string::npos);
  CHECK(text.find("sleep 97.32") == std::string::npos);
  CHECK(access((work + "/ok").c_str(), F_OK) == 0);
  CHECK(access((outside + "/no").c_str(), F_OK) != 0);  // Landlock refused it
  CHECK_FALSE(alive_with("sleep 97.31"));
  CHECK_FALSE(alive_with("sleep 97.32"));
}

TEST_CASE("sandbox-init --subreaper: its options", "[landlock]") {
  host::SandboxInitOptions o;
  std::string why;
  REQUIRE(host::parse_sandbox_init({"--subreaper", "--stop-grace-ms", "700", "--pids", "10", "--", "true"}, o, why));
  CHECK(o.stop_grace_ms == 700);
  CHECK(o.pids == 10);
  host::SandboxInitOptions p;
  CHECK(host::parse_sandbox_init({"--landlock-connect", "443", "--landlock-read", "/usr", "--", "true"}, p, why));
  CHECK(p.landlock);
  CHECK(p.landlock_plan.tcp);
  CHECK(p.landlock_plan.connect_ports == std::vector<int>{443});
  CHECK(p.landlock_plan.read == std::vector<std::string>{"/usr"});
}

TEST_CASE("sandbox-init --subreaper: a loopback port is reached, not forwarded", "[landlock]") {
  host::SandboxInitOptions o;
  std::string why;
  CHECK_FALSE(host::parse_sandbox_init({"--subreaper", "--forward", "8080", "--", "true"}, o, why));
  CHECK(why.find("--landlock-connect") != std::string::npos);
}

TEST_CASE("landlock: from ABI 6, no signal leaves the domain", "[landlock]") {
  if (host::landlock_abi() < 6) {
    WARN("Landlock ABI " << host::landlock_abi() << ": signals are not scoped on this kernel");
    return;
  }
  const pid_t parent = getpid();
  host::LandlockPlan plan;
  plan.read = {"/"};
  CHECK(restricted(plan, [&] { return kill(parent, 0) != 0 && errno == EPERM ? 0 : 1; }) == 0);
  // its own children are the domain's: they are signalled
  CHECK(restricted(plan, [] {
          pid_t child = fork();
          if (child == 0) pause();
          const bool ok = kill(child, SIGKILL) == 0;
          waitpid(child, nullptr, 0);
          return ok ? 0 : 1;
        }) == 0);
}

TEST_CASE("sandbox-init --landlock-paths: a plan from a file, each entry ended by a NUL", "[landlock]") {
  TempDir dir("paths");
  const std::string file = dir.path + "/plan";
  {
    std::ofstream out(file, std::ios::binary);
    const std::string odd = "/srv/a\nw /etc";  // a newline in a name adds no rule
    out << "r" << '\0' << "/usr" << '\0' << "w" << '\0' << odd << '\0';
  }
  host::SandboxInitOptions o;
  std::string why;
  REQUIRE(host::parse_sandbox_init({"--landlock-paths", file, "--", "true"}, o, why));
  CHECK(o.landlock);
  CHECK(o.landlock_plan.read == std::vector<std::string>{"/usr"});
  CHECK(o.landlock_plan.write == std::vector<std::string>{"/srv/a\nw /etc"});
  {
    std::ofstream out(file, std::ios::binary);
    out << "x" << '\0' << "/usr" << '\0';
  }
  host::SandboxInitOptions bad;
  CHECK_FALSE(host::parse_sandbox_init({"--landlock-paths", file, "--", "true"}, bad, why));
  CHECK(why.find("not a list") != std::string::npos);
  {
    std::ofstream out(file, std::ios::binary);
    out << "l" << '\0' << "/" << '\0';
  }
  host::SandboxInitOptions listed;
  REQUIRE(host::parse_sandbox_init({"--landlock-paths", file, "--", "true"}, listed, why));
  CHECK(listed.landlock_plan.list == std::vector<std::string>{"/"});
  // an entry cut short, a relative path, an empty one: not a list; a missing file: said so
  for (const std::string& text : {std::string("r\0/usr", 6), std::string("r\0usr\0", 6), std::string("r\0\0", 3),
                                  std::string("r", 1)}) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    host::SandboxInitOptions cut;
    CHECK_FALSE(host::parse_sandbox_init({"--landlock-paths", file, "--", "true"}, cut, why));
    CHECK(why.find("not a list") != std::string::npos);
  }
  host::SandboxInitOptions missing;
  CHECK_FALSE(host::parse_sandbox_init({"--landlock-paths", dir.path + "/none", "--", "true"}, missing, why));
  CHECK(why == "--landlock-paths: cannot read " + dir.path + "/none: No such file or directory");
  std::ofstream(file, std::ios::binary | std::ios::trunc);
  host::SandboxInitOptions empty;
  REQUIRE(host::parse_sandbox_init({"--landlock-paths", file, "--", "true"}, empty, why));
  CHECK(empty.landlock);
  CHECK(empty.landlock_plan.read.empty());
}
