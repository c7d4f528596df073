#include "sandbox/socket_guard.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "process/process_info.hpp"
#include "sandbox/unix_socket_owner.hpp"
#include "util/json_text.hpp"
#include "util/unique_fd.hpp"
#include "util/utf8.hpp"

namespace sidecar::host {

struct SocketGuard::State {
  UniqueFd listener;
  SocketGuardOptions options;
  std::mutex mutex;
  std::map<std::string, int64_t> refused;  // by the path (or @name) the agent gave
};

namespace {

constexpr std::size_t kMaxRefusedPaths = 100;       // then counted under "..."
constexpr std::size_t kMaxDatagram = 4 * 1024 * 1024;  // a sendto's bytes copied at most

// One notification under way: the agent's socket (a duplicate), its address and, for a sendto,
// its bytes and flags, all copied out of the agent before anything is decided.
struct Call {
  seccomp_notif req{};
  bool sendto = false;
  UniqueFd sock;
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::vector<char> data;
  int flags = 0;
  UniqueFd target;  // the Unix socket's file, opened by the guard, when the address names one
};

bool still_waiting(const SocketGuard::State& s, const seccomp_notif& req) {
  __u64 id = req.id;
  return ioctl(s.listener.fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

// The process (thread group) of thread `tid`, for pidfd_open, which takes no other thread before 6.9.
// Read with plain reads: a thread that ends meanwhile fails the read (ESRCH), on which a stream
// would throw, ending the guard and leaving every notification unanswered (ENOSYS to the agent).
int thread_group_of(int tid) {
  std::string status;
  if (!read_proc_file(("/proc/" + std::to_string(tid) + "/status").c_str(), status, 16384)) return 0;
  const std::size_t at = status.find("\nTgid:");
  return at == std::string::npos ? 0 : std::atoi(status.c_str() + at + 6);
}

bool read_memory(int tid, uint64_t from, void* to, std::size_t size) {
  if (size == 0) return true;
  iovec local{to, size}, remote{reinterpret_cast<void*>(from), size};
  return process_vm_readv(tid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
}

// Copies what the call needs out of the agent; 0, or the errno to answer with.
int take(const SocketGuard::State& s, Call& c) {
  const int tid = static_cast<int>(c.req.pid);
  const auto& a = c.req.data.args;
  const uint64_t addr = c.sendto ? a[4] : a[1];
  const uint32_t len = static_cast<uint32_t>(c.sendto ? a[5] : a[2]);  // an int: a negative one is too long
  if (len > sizeof c.addr) return EINVAL;
  c.len = static_cast<socklen_t>(len);
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, tid, 0)));  // a thread group's first thread (most calls)
  if (pidfd.fd < 0) pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, thread_group_of(tid), 0)));
  if (pidfd.fd < 0 || !still_waiting(s, c.req)) return ESRCH;  // gone: the answer goes nowhere
  c.sock.reset(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.fd, static_cast<int>(a[0]), 0)));
  if (c.sock.fd < 0) return errno == EBADF ? EBADF : EACCES;  // EPERM: the agent made itself undumpable
  if (!read_memory(tid, addr, &c.addr, c.len)) return EFAULT;
  if (c.sendto) {
    if (a[2] > kMaxDatagram) return EMSGSIZE;
    c.data.resize(a[2]);
    if (!read_memory(tid, a[1], c.data.data(), c.data.size())) return EFAULT;
    c.flags = static_cast<int>(a[3]);
  }
  return still_waiting(s, c.req) ? 0 : ESRCH;  // the memory read was the waiting thread's
}

bool under(const std::string& path, const std::vector<std::string>& roots) {
  for (const std::string& r : roots) {
    if (path == r || (path.size() > r.size() && path.compare(0, r.size(), r) == 0 &&
                      (r.back() == '/' || path[r.size()] == '/'))) {
      return true;
    }
  }
  return false;
}

std::string real_path_of(int fd) {
  char buf[4096];
  const ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

void count_refused(SocketGuard::State& s, const std::string& path) {
  std::lock_guard<std::mutex> lock(s.mutex);
  const bool known = s.refused.count(path) > 0;
  ++s.refused[known || s.refused.size() < kMaxRefusedPaths ? path : "..."];
}

// A Unix address: 0 when the call may go on (c.addr then names the socket's file as the guard
// opened it), or the errno to answer with.
int decide_unix(SocketGuard::State& s, Call& c) {
  auto& un = reinterpret_cast<sockaddr_un&>(c.addr);
  const std::size_t path_at = offsetof(sockaddr_un, sun_path);
  if (c.len <= path_at) return 0;  // unnamed: the kernel answers
  const std::size_t room = c.len - path_at;
  if (un.sun_path[0] == '\0') {
    UnixSocketQuery q;
    q.name.assign(un.sun_path + 1, room - 1);
    q.host_network = true, q.subreaper = s.options.subreaper;
    if (!s.options.host_network || unix_socket_is_inside(q)) return 0;  // an own namespace: its own names
    count_refused(s, "@" + q.name);
    return EACCES;
  }
  const std::string path(un.sun_path, strnlen(un.sun_path, room));
  UniqueFd cwd;
  if (path[0] != '/') {
    cwd.reset(open(("/proc/" + std::to_string(c.req.pid) + "/cwd").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (cwd.fd < 0) return EACCES;
  }
  c.target.reset(openat(cwd.fd, path.c_str(), O_PATH | O_CLOEXEC));
  if (c.target.fd < 0) return errno;  // ENOENT, ENOTDIR, ELOOP: as connect would say
  struct stat st {};
  if (fstat(c.target.fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return ECONNREFUSED;
  UnixSocketQuery q;
  q.dev = st.st_dev, q.ino = st.st_ino, q.host_network = s.options.host_network, q.subreaper = s.options.subreaper;
  if (!under(real_path_of(c.target.fd), s.options.allow) && !unix_socket_is_inside(q)) {
    count_refused(s, path);
    return EACCES;
  }
  const std::string via = "/proc/self/fd/" + std::to_string(c.target.fd);
  std::memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, via.c_str(), via.size() + 1);
  c.len = static_cast<socklen_t>(path_at + via.size() + 1);
  return 0;
}

// Makes the agent's call on its socket; the value it returns, or -errno.
int64_t perform(const Call& c) {
  const auto* addr = reinterpret_cast<const sockaddr*>(&c.addr);
  const ssize_t r = c.sendto ? sendto(c.sock.fd, c.data.data(), c.data.size(), c.flags | MSG_NOSIGNAL, addr, c.len)
                             : connect(c.sock.fd, addr, c.len);
  return r < 0 ? -errno : r;
}

// An IPv4 or IPv6 address: 0 when a stream connection to its port is allowed (or TCP is not
// limited, or the socket is not a stream), else EACCES, counted.
int decide_inet(SocketGuard::State& s, const Call& c) {
  int type = 0;
  socklen_t size = sizeof type;
  if (!s.options.limit_tcp || c.sendto || getsockopt(c.sock.fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 ||
      type != SOCK_STREAM) {
    return 0;
  }
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (c.addr.ss_family == AF_INET && c.len >= sizeof(sockaddr_in)) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(c.addr);
    port = ntohs(in.sin_port);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
  } else if (c.addr.ss_family == AF_INET6 && c.len >= sizeof(sockaddr_in6)) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(c.addr);
    port = ntohs(in6.sin6_port);
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
  } else {
    return 0;  // too short: the kernel answers EINVAL
  }
  const auto& ports = s.options.tcp_ports;
  if (std::find(ports.begin(), ports.end(), port) != ports.end()) return 0;
  count_refused(s, "tcp " + std::string(host) + ":" + std::to_string(port));
  return EACCES;
}

void answer(const std::shared_ptr<SocketGuard::State>& s, const seccomp_notif& req) {
  Call c;
  c.req = req;
  c.sendto = req.data.nr != __NR_connect;
  int err = take(*s, c);
  int domain = 0;
  socklen_t size = sizeof domain;
  if (err == 0 && c.len >= sizeof(sa_family_t) && c.addr.ss_family == AF_UNIX &&
      getsockopt(c.sock.fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0 && domain == AF_UNIX) {
    err = decide_unix(*s, c);
  } else if (err == 0 && (c.addr.ss_family == AF_INET || c.addr.ss_family == AF_INET6)) {
    err = decide_inet(*s, c);
  }
  const int64_t r = err == 0 ? perform(c) : -err;
  seccomp_notif_resp resp{};
  resp.id = c.req.id;
  resp.val = r < 0 ? 0 : r;
  resp.error = r < 0 ? static_cast<int>(r) : 0;
  ioctl(s->listener.fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: the caller was interrupted or is gone
}

// Receives the notifications until the filter has no process left (the listener hangs up).
void receive(const std::shared_ptr<SocketGuard::State>& s) {
  for (;;) {
    pollfd p{s->listener.fd, POLLIN, 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR) return;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return;
    seccomp_notif req{};
    if (ioctl(s->listener.fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) continue;  // ENOENT: withdrawn meanwhile
    try {
      std::thread(answer, s, req).detach();
    } catch (const std::system_error&) {
      answer(s, req);  // no thread to be had (a machine at its limits): answered here, never left unanswered
    }
  }
}

}  // namespace

SocketGuard::SocketGuard(int listener, SocketGuardOptions options) : state_(std::make_shared<State>()) {
  state_->listener.reset(listener);
  state_->options = std::move(options);
  std::thread(receive, state_).detach();
}

std::string SocketGuard::report_json() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->refused.empty()) return "";
  std::string out = ",\"sockets\":{\"refused\":[";
  bool first = true;
  for (const auto& [path, count] : state_->refused) {
    out += first ? "{\"path\":" : ",{\"path\":";
    json_text::append_string(out, utf8_repair(path));
    out += ",\"count\":" + std::to_string(count) + "}";
    first = false;
  }
  return out + "]}";
}

}  // namespace sidecar::host
