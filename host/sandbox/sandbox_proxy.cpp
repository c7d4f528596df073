#include "sandbox/sandbox_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace {

constexpr std::size_t kMaxHead = 8192;

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A thread that never takes a signal meant for the process (Ctrl-C goes to the main thread).
template <typename Fn>
std::thread quiet_thread(Fn&& fn) {
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  std::thread t(std::forward<Fn>(fn));
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return t;
}

void send_all(int fd, const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string reply(int code, const char* status, const std::string& why) {
  std::string body = "Sidecar's sandbox proxy: " + why + "\n";
  return "HTTP/1.1 " + std::to_string(code) + " " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Reads until the end of the request head (or kMaxHead bytes, EOF, or the deadline). Whatever came
// after the head is left in `extra`.
bool read_head(int fd, std::string& head, std::string& extra) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(SandboxProxy::kHeadTimeoutMs);
  char buf[2048];
  while (head.size() < kMaxHead) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      if (errno == EINTR) continue;
      return false;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    head.append(buf, static_cast<std::size_t>(n));
    const std::size_t end = head.find("\r\n\r\n");
    if (end != std::string::npos) {
      extra = head.substr(end + 4);
      head.resize(end + 4);
      return true;
    }
  }
  return false;
}

// Connects to host:port within the timeout: a socket, or -1 and why.
int connect_to(const std::string& host, uint16_t port, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  if (int r = getaddrinfo(host.c_str(), service.c_str(), &hints, &list); r != 0) {
    why = "cannot resolve " + host + ": " + gai_strerror(r);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = list; a && fd < 0; a = a->ai_next) {
    UniqueFd s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (s.fd < 0) continue;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = std::strerror(errno);
      continue;
    }
    pollfd p{s.fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::poll(&p, 1, SandboxProxy::kConnectTimeoutMs) != 1 ||
        getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
      why = soerr != 0 ? std::strerror(soerr) : "timed out";
      continue;
    }
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) & ~O_NONBLOCK);
    fd = s.release();
  }
  freeaddrinfo(list);
  if (fd < 0) why = "cannot connect to " + host + ":" + service + ": " + why;
  return fd;
}

// Copies bytes both ways until both sides have ended (or `stopping`). Counts what went each way.
void relay(int a, int b, const std::atomic<bool>& stopping, uint64_t& a_to_b, uint64_t& b_to_a) {
  bool a_open = true, b_open = true;
  char buf[16384];
  while ((a_open || b_open) && !stopping) {
    pollfd p[2] = {{a, static_cast<short>(a_open ? POLLIN : 0), 0}, {b, static_cast<short>(b_open ? POLLIN : 0), 0}};
    if (::poll(p, 2, 1000) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int from = i == 0 ? a : b, to = i == 0 ? b : a;
      ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        (i == 0 ? a_open : b_open) = false;
        ::shutdown(to, SHUT_WR);
        if (n < 0) return;  // reset: nothing more either way
        continue;
      }
      send_all(to, std::string(buf, static_cast<std::size_t>(n)));
      (i == 0 ? a_to_b : b_to_a) += static_cast<uint64_t>(n);
    }
  }
}

}  // namespace

bool proxy_allows(const std::vector<ProxyRule>& rules, const std::string& host, uint16_t port) {
  const std::string h = lower(host);
  for (const ProxyRule& r : rules) {
    if (r.host == "*" && r.port == 0) return true;  // every host (network "full": recorded, not bounded)
    if (r.port != port) continue;
    const std::string want = lower(r.host);
    if (want == h) return true;
    if (want.size() > 2 && want.compare(0, 2, "*.") == 0 && h.size() > want.size() - 1 &&
        h.compare(h.size() - (want.size() - 1), want.size() - 1, want, 1, std::string::npos) == 0)
      return true;
  }
  return false;
}

bool parse_connect(const std::string& head, std::string& host, uint16_t& port, std::string& why) {
  const std::size_t eol = head.find("\r\n");
  const std::string line = head.substr(0, eol);
  if (line.compare(0, 8, "CONNECT ") != 0) {
    why = "only CONNECT requests are taken (an HTTPS proxy); got '" + line.substr(0, line.find(' ')) + "'";
    return false;
  }
  const std::size_t end = line.find(' ', 8);
  std::string target = line.substr(8, end == std::string::npos ? std::string::npos : end - 8);
  std::size_t colon = target.rfind(':');
  if (!target.empty() && target[0] == '[') {  // [::1]:443
    const std::size_t close = target.find(']');
    if (close == std::string::npos || close + 1 != colon) {
      why = "bad target '" + target + "'";
      return false;
    }
    host = target.substr(1, close - 1);
  } else {
    if (colon == std::string::npos || colon == 0) {
      why = "bad target '" + target + "' (host:port wanted)";
      return false;
    }
    host = target.substr(0, colon);
  }
  const std::string digits = target.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(digits) == 0 || std::stoi(digits) > 65535) {
    why = "bad port in '" + target + "'";
    return false;
  }
  port = static_cast<uint16_t>(std::stoi(digits));
  return true;
}

struct Connection {
  UniqueFd client, upstream;
  std::thread thread;
  std::atomic<bool> done{false};
};

struct SandboxProxy::Impl {
  std::string path;
  std::vector<ProxyRule> rules;
  UniqueFd listener, wake_read, wake_write;
  std::thread accepter;
  std::atomic<bool> stopping{false};
  bool stopped = false;
  mutable std::mutex mutex;  // guards log, dropped, connections
  std::vector<ProxyEntry> entries;
  uint64_t not_kept = 0;
  std::list<Connection> connections;

  void note(ProxyEntry e) {
    std::lock_guard<std::mutex> hold(mutex);
    if (entries.size() < kMaxLog) entries.push_back(std::move(e));
    else ++not_kept;
  }

  void serve(Connection& c) {
    ProxyEntry e;
    e.at_ms = wall_ms();
    std::string head, extra, why;
    if (!read_head(c.client.fd, head, extra)) {
      e.error = "no request head within " + std::to_string(kHeadTimeoutMs / 1000) + " s";
    } else if (!parse_connect(head, e.host, e.port, why)) {
      e.error = why;
      send_all(c.client.fd, reply(405, "Method Not Allowed", why));
    } else if (!proxy_allows(rules, e.host, e.port)) {
      e.error = "not in the run's network allowlist";
      send_all(c.client.fd, reply(403, "Forbidden", e.host + ":" + std::to_string(e.port) +
                                  " is not in this run's network allowlist (network = \"model\" lets "
                                  "through only the runner's model endpoints and network_hosts)"));
    } else {
      const int up = connect_to(e.host, e.port, why);
      if (up < 0) {
        e.error = why;
        send_all(c.client.fd, reply(502, "Bad Gateway", why));
      } else {
        {
          std::lock_guard<std::mutex> hold(mutex);
          c.upstream.reset(up);
        }
        e.allowed = true;
        send_all(c.client.fd, "HTTP/1.1 200 Connection established\r\n\r\n");
        if (!extra.empty()) {
          send_all(up, extra);
          e.bytes_up += extra.size();
        }
        relay(c.client.fd, up, stopping, e.bytes_up, e.bytes_down);
      }
    }
    note(std::move(e));
    c.done = true;
  }

  // Joins the threads of connections that ended (their sockets close with them).
  void reap(bool all) {
    std::list<Connection> ended;
    {
      std::lock_guard<std::mutex> hold(mutex);
      for (auto it = connections.begin(); it != connections.end();) {
        auto next = std::next(it);
        if (all || it->done) ended.splice(ended.end(), connections, it);
        it = next;
      }
    }
    for (Connection& c : ended) {
      if (c.thread.joinable()) c.thread.join();
    }
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p[2] = {{listener.fd, POLLIN, 0}, {wake_read.fd, POLLIN, 0}};
      if (::poll(p, 2, 1000) < 0 && errno != EINTR) return;
      reap(false);
      if (stopping || !(p[0].revents & POLLIN)) continue;
      UniqueFd client(::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (client.fd < 0) continue;
      std::lock_guard<std::mutex> hold(mutex);
      if (connections.size() >= static_cast<std::size_t>(kMaxConnections)) {
        send_all(client.fd, reply(503, "Service Unavailable", "too many connections at once"));
        if (entries.size() < kMaxLog) entries.push_back({"", 0, false, "too many connections at once", wall_ms(), 0, 0});
        continue;
      }
      Connection& c = connections.emplace_back();
      c.client.reset(client.release());
      c.thread = quiet_thread([this, &c] { serve(c); });
    }
  }
};

SandboxProxy::SandboxProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SandboxProxy::~SandboxProxy() { stop(); }

std::unique_ptr<SandboxProxy> SandboxProxy::start(const std::string& socket_path, std::vector<ProxyRule> rules,
                                                  std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->path = socket_path;
  impl->rules = std::move(rules);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    error = "the proxy's socket path is too long for a Unix socket: " + socket_path;
    return nullptr;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  impl->listener.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ::unlink(socket_path.c_str());
  int pipe_fds[2];
  if (impl->listener.fd < 0 || ::bind(impl->listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl->listener.fd, 64) != 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    error = "cannot listen on " + socket_path + ": " + std::strerror(errno);
    return nullptr;
  }
  impl->wake_read.reset(pipe_fds[0]);
  impl->wake_write.reset(pipe_fds[1]);
  Impl* raw = impl.get();
  impl->accepter = quiet_thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<SandboxProxy>(new SandboxProxy(std::move(impl)));
}

void SandboxProxy::stop() {
  Impl& I = *impl_;
  if (I.stopped) return;
  I.stopped = true;
  I.stopping = true;
  write_fully(I.wake_write.fd, "x");
  if (I.accepter.joinable()) I.accepter.join();
  {
    std::lock_guard<std::mutex> hold(I.mutex);
    for (Connection& c : I.connections) {  // wakes threads blocked in poll or recv at once
      ::shutdown(c.client.fd, SHUT_RDWR);
      if (c.upstream.fd >= 0) ::shutdown(c.upstream.fd, SHUT_RDWR);
    }
  }
  I.reap(true);
  ::unlink(I.path.c_str());
}

std::vector<ProxyEntry> SandboxProxy::log() const {
  std::lock_guard<std::mutex> hold(impl_->mutex);
  return impl_->entries;
}

uint64_t SandboxProxy::dropped() const {
  std::lock_guard<std::mutex> hold(impl_->mutex);
  return impl_->not_kept;
}

}  // namespace sidecar::host
