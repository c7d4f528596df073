// The sandbox's connect guard (host/sandbox/socket_guard.hpp) answering a child's calls through
// the real seccomp filter (host/sandbox/socket_filter.hpp), outside any namespace: what a connect
// answers (the errors it would give, a relative path from the caller's folder, a listed socket),
// that other families pass untouched, and that io_uring is refused. Refusing a server's socket
// outside the sandbox needs the sandbox's namespaces: tests/e2e/hostile_edges_test.sh (sockets).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "sandbox/sandbox_init.hpp"
#include "sandbox/socket_filter.hpp"
#include "sandbox/socket_guard.hpp"
#include "temp_dir.hpp"

namespace host = sidecar::host;
using sidecar::test::TempDir;

namespace {

int listen_unix(const std::string& path) {
  const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(s, 8) == 0);
  return s;
}

// connect() of a new Unix stream socket to `path`: 0 or the errno.
int connect_unix(const std::string& path) {
  const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const int r = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  close(s);
  return r;
}

// Runs `calls` in a child under the filter, the guard answering here; returns what the child
// wrote on its stdout-like pipe.
std::string under_guard(host::SocketGuardOptions options, const std::function<std::string()>& calls) {
  int channel[2], out[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) == 0);
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  std::string off;
  const std::vector<sock_filter> program = host::socket_filter_program(off);
  REQUIRE(off == "");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const char* failed = "";
    host::hand_over_listener(channel[1], host::install_socket_filter(program, failed), failed);
    const std::string text = calls();
    (void)!write(out[1], text.data(), text.size());
    _exit(0);
  }
  close(channel[1]);
  close(out[1]);
  std::string why;
  const int listener = host::take_listener(channel[0], why);
  close(channel[0]);
  REQUIRE(listener >= 0);
  host::SocketGuard guard(listener, std::move(options));
  int status = 0;
  waitpid(child, &status, 0);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  return text;
}

}  // namespace

TEST_CASE("the guard answers a connect as the kernel would, and connects what it allows", "[sandbox][socket_guard]") {
  if (!host::socket_filter_supported()) return;  // no filter for this architecture: nothing to try
  TempDir dir;
  const int server = listen_unix(dir.path + "/own.sock");
  std::ofstream(dir.path + "/plain") << "not a socket";
  const std::string got = under_guard({{}, false, false, {}}, [&] {
    std::string r;
    r += "own " + std::to_string(connect_unix(dir.path + "/own.sock")) + "\n";
    if (chdir(dir.path.c_str()) == 0) r += "relative " + std::to_string(connect_unix("own.sock")) + "\n";
    int from_thread = -1;  // a thread not the process's first: its pidfd is the process's
    std::thread([&] { from_thread = connect_unix(dir.path + "/own.sock"); }).join();
    r += "thread " + std::to_string(from_thread) + "\n";
    r += "missing " + std::to_string(connect_unix(dir.path + "/missing.sock") == ENOENT) + "\n";
    r += "plain " + std::to_string(connect_unix(dir.path + "/plain") == ECONNREFUSED) + "\n";
    char params[120] = {};
    r += "io_uring " + std::to_string(syscall(__NR_io_uring_setup, 1, params) < 0 && errno == ENOSYS) + "\n";
    return r;
  });
  close(server);
  CHECK(got == "own 0\nrelative 0\nthread 0\nmissing 1\nplain 1\nio_uring 1\n");
}

TEST_CASE("the guard passes other families on, and sends a datagram it allows", "[sandbox][socket_guard]") {
  if (!host::socket_filter_supported()) return;  // no filter for this architecture: nothing to try
  const int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(tcp, 4) == 0);
  REQUIRE(bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  sockaddr_in tcp_at{}, udp_at{};
  socklen_t size = sizeof tcp_at;
  getsockname(tcp, reinterpret_cast<sockaddr*>(&tcp_at), &size);
  size = sizeof udp_at;
  getsockname(udp, reinterpret_cast<sockaddr*>(&udp_at), &size);
  const std::string got = under_guard({{}, false, false, {}}, [&] {
    const int c = socket(AF_INET, SOCK_STREAM, 0), d = socket(AF_INET, SOCK_DGRAM, 0);
    std::string r = "tcp " + std::to_string(connect(c, reinterpret_cast<sockaddr*>(&tcp_at), sizeof tcp_at));
    r += " udp " + std::to_string(sendto(d, "hello", 5, 0, reinterpret_cast<sockaddr*>(&udp_at), sizeof udp_at));
    return r;
  });
  char buf[16] = {};
  CHECK(got == "tcp 0 udp 5");
  CHECK(recv(udp, buf, sizeof buf, MSG_DONTWAIT) == 5);
  CHECK(std::string(buf) == "hello");
  close(tcp);
  close(udp);
}

TEST_CASE("with TCP limited, the guard connects a listed port only; datagrams pass", "[sandbox][socket_guard]") {
  if (!host::socket_filter_supported()) return;  // no filter for this architecture: nothing to try
  const int listed = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listed, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(bind(other, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(listed, 4) == 0);
  REQUIRE(listen(other, 4) == 0);
  sockaddr_in listed_at{}, other_at{};
  socklen_t size = sizeof listed_at;
  getsockname(listed, reinterpret_cast<sockaddr*>(&listed_at), &size);
  size = sizeof other_at;
  getsockname(other, reinterpret_cast<sockaddr*>(&other_at), &size);
  const int port = ntohs(listed_at.sin_port);
  const std::string got = under_guard({{}, true, true, {port}}, [&] {
    const int c = socket(AF_INET, SOCK_STREAM, 0), d = socket(AF_INET, SOCK_STREAM, 0);
    std::string r = "listed " + std::to_string(connect(c, reinterpret_cast<sockaddr*>(&listed_at), sizeof listed_at));
    const int refused = connect(d, reinterpret_cast<sockaddr*>(&other_at), sizeof other_at);
    r += " other " + std::to_string(refused == -1 && errno == EACCES);
    return r;
  });
  CHECK(got == "listed 0 other 1");
  close(listed);
  close(other);
}

TEST_CASE("sandbox-init takes the sockets to allow and the host network flag", "[sandbox][socket_guard]") {
  host::SandboxInitOptions o;
  std::string why;
  REQUIRE(host::parse_sandbox_init({"--socket-allow", "/srv/a.sock", "--socket-allow", "/var/lib/x", "--host-network",
                                    "--", "agent"},
                                   o, why));
  CHECK(o.socket_allow == std::vector<std::string>{"/srv/a.sock", "/var/lib/x"});
  CHECK(o.host_network);
  host::SandboxInitOptions bad;
  CHECK_FALSE(host::parse_sandbox_init({"--socket-allow"}, bad, why));
  CHECK(why == "--socket-allow needs a value");
}
