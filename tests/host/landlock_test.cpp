// Landlock (host/sandbox/landlock.hpp), applied in a forked child as a run's sandbox applies it
// before exec: beneath a read path files open for reading only; beneath a write path they are made
// and written; anywhere else nothing opens; with a TCP limit, connect() reaches the listed port
// only and bind() is refused. (The kernel of the machine that runs the suite must offer Landlock:
// the case says so and fails where it does not.)
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <string>

#include "sandbox/landlock.hpp"
#include "temp_dir.hpp"

namespace host = sidecar::host;
using sidecar::test::TempDir;

namespace {

// Runs `body` in a child restricted to `plan`; its exit status (255: the restriction failed).
int restricted(const host::LandlockPlan& plan, const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string why;
    _exit(host::landlock_restrict(plan, why) ? body() : 255);
  }
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
