#include "sandbox/sandbox_forward.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidecar::host {
namespace {

constexpr std::size_t kBufferCap = 256 * 1024;  // bytes queued one way before reading pauses
constexpr std::size_t kMaxReply = 8192;          // the proxy's answer to a direct port's CONNECT

void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int listen_on(int family, uint16_t port, uint16_t& bound, std::string& error) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  bound = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                  : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return fd;
}

// Moves what `fd` has to read onto the end of `into`. False once the side has ended (EOF or error).
bool pull(int fd, std::string& into, bool& failed) {
  char buf[16384];
  for (;;) {
    if (into.size() >= kBufferCap) return true;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      into.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    failed = n < 0;
    return false;
  }
}

// Writes what it can of `from` to `fd`. False on an error.
bool push(int fd, std::string& from) {
  while (!from.empty()) {
    ssize_t n = ::send(fd, from.data(), from.size(), MSG_NOSIGNAL);
    if (n > 0) {
      from.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

}  // namespace

struct SandboxForwarder::Conn {
  int client = -1, upstream = -1;
  std::string to_up, to_client, reply;  // reply: the proxy's answer, while awaited
  bool awaiting_reply = false;
  bool client_ended = false, upstream_ended = false;
  bool dead = false;
  ~Conn() {
    if (client >= 0) ::close(client);
    if (upstream >= 0) ::close(upstream);
  }
};

SandboxForwarder::SandboxForwarder(std::string proxy_socket) : socket_(std::move(proxy_socket)) {}

SandboxForwarder::~SandboxForwarder() { close_all(); }

bool SandboxForwarder::listen_direct(uint16_t port, std::string& error) {
  uint16_t bound = 0;
  int fd = listen_on(AF_INET, port, bound, error);
  if (fd < 0) {
    error = "cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + error;
    return false;
  }
  listeners_.push_back({fd, port});
  std::string ignored;
  if (int six = listen_on(AF_INET6, port, bound, ignored); six >= 0) listeners_.push_back({six, port});
  return true;
}

bool SandboxForwarder::listen_proxy(uint16_t& port, std::string& error) {
  int fd = listen_on(AF_INET, 0, port, error);
  if (fd < 0) {
    error = "cannot listen on the loopback for the proxy port: " + error;
    return false;
  }
  listeners_.push_back({fd, 0});
  return true;
}

void SandboxForwarder::accept_from(const Listener& l) {
  for (;;) {
    int client = ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) return;
    auto c = std::make_unique<Conn>();
    c->client = client;
    c->upstream = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
    if (c->upstream < 0 || ::connect(c->upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      continue;  // no way out: the client sees its connection closed
    }
    nonblocking(c->upstream);
    if (l.port != 0) {
      const std::string target = "127.0.0.1:" + std::to_string(l.port);
      c->to_up = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
      c->awaiting_reply = true;
    }
    conns_.push_back(std::move(c));
  }
}

void SandboxForwarder::fill(std::vector<pollfd>& fds) {
  for (const Listener& l : listeners_) fds.push_back({l.fd, POLLIN, 0});
  for (auto& c : conns_) {
    short in_client = (!c->client_ended && c->to_up.size() < kBufferCap) ? POLLIN : 0;
    short in_up = (!c->upstream_ended && c->to_client.size() < kBufferCap) ? POLLIN : 0;
    fds.push_back({c->client, static_cast<short>(in_client | (c->to_client.empty() ? 0 : POLLOUT)), 0});
    fds.push_back({c->upstream, static_cast<short>(in_up | (c->to_up.empty() ? 0 : POLLOUT)), 0});
  }
}

void SandboxForwarder::serve(const pollfd* fds, std::size_t count) {
  std::size_t i = 0;
  const std::size_t listeners = listeners_.size();
  std::vector<const Listener*> ready;
  for (; i < listeners && i < count; ++i) {
    if (fds[i].revents & POLLIN) ready.push_back(&listeners_[i]);
  }
  for (auto& c : conns_) {  // the connections that were polled, in the order fill() gave them
    if (i + 1 >= count) break;
    const pollfd& pc = fds[i++];
    const pollfd& pu = fds[i++];
    bool failed = false;
    if ((pc.revents & (POLLIN | POLLHUP | POLLERR)) && !c->client_ended) c->client_ended = !pull(c->client, c->to_up, failed);
    if ((pu.revents & (POLLIN | POLLHUP | POLLERR)) && !c->upstream_ended) {
      std::string& into = c->awaiting_reply ? c->reply : c->to_client;
      c->upstream_ended = !pull(c->upstream, into, failed);
    }
    if (c->awaiting_reply) {
      const std::size_t end = c->reply.find("\r\n\r\n");
      if (end != std::string::npos) {
        // "HTTP/1.1 200 ...": through. Anything else: the proxy refused; the client is cut off.
        const bool through = c->reply.compare(0, 9, "HTTP/1.1 ") == 0 && c->reply.compare(9, 3, "200") == 0;
        c->to_client = c->reply.substr(end + 4);
        c->reply.clear();
        c->awaiting_reply = false;
        failed = failed || !through;
      } else if (c->reply.size() > kMaxReply || c->upstream_ended) {
        failed = true;
      }
    }
    if (!failed && !c->to_up.empty()) failed = !push(c->upstream, c->to_up);
    if (!failed && !c->to_client.empty()) failed = !push(c->client, c->to_client);
    if (c->client_ended && c->to_up.empty()) ::shutdown(c->upstream, SHUT_WR);
    if (c->upstream_ended && c->to_client.empty() && !c->awaiting_reply) ::shutdown(c->client, SHUT_WR);
    c->dead = failed || (c->client_ended && c->upstream_ended && c->to_up.empty() && c->to_client.empty());
  }
  conns_.remove_if([](const std::unique_ptr<Conn>& c) { return c->dead; });
  for (const Listener* l : ready) accept_from(*l);  // new connections join the next poll
}

void SandboxForwarder::close_all() {
  for (Listener& l : listeners_) ::close(l.fd);
  listeners_.clear();
  conns_.clear();
}

}  // namespace sidecar::host
