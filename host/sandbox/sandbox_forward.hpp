// The inside of a sandboxed run's network (network = "model"): its namespace has only a loopback,
// and this forwarder, run by the sandbox's first process (host/sandbox/sandbox_init.hpp), is the way out.
// It listens on the loopback inside and carries each connection over the Unix socket of Sidecar's
// proxy (host/sandbox/sandbox_proxy.hpp), which decides what may pass:
//   - "direct" ports: the port of a model server on the host's loopback (127.0.0.1:PORT) is
//     listened on inside at the same port, so the CLI's base URL works unchanged; each connection
//     is opened with a CONNECT to 127.0.0.1:PORT;
//   - the proxy port: an HTTPS proxy (HTTPS_PROXY=http://127.0.0.1:N) for named hosts, passed
//     through as it is: the client speaks CONNECT itself.
// Single-threaded and non-blocking: it adds its descriptors to the caller's poll set.
#pragma once
#include <poll.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

namespace sidecar::host {

class SandboxForwarder {
 public:
  explicit SandboxForwarder(std::string proxy_socket);
  ~SandboxForwarder();
  SandboxForwarder(const SandboxForwarder&) = delete;
  SandboxForwarder& operator=(const SandboxForwarder&) = delete;

  // Listens on 127.0.0.1:port (and [::1]:port where the loopback has IPv6) for a direct port.
  bool listen_direct(uint16_t port, std::string& error);
  // Listens on a free port of 127.0.0.1 for the proxy port; sets `port`.
  bool listen_proxy(uint16_t& port, std::string& error);

  // Appends the descriptors to poll to `fds`; `serve` then takes the same entries back.
  void fill(std::vector<pollfd>& fds);
  void serve(const pollfd* fds, std::size_t count);
  // Closes every listener and connection (the descriptors are close-on-exec in any case).
  void close_all();

  struct Conn;

 private:
  struct Listener {
    int fd = -1;
    uint16_t port = 0;  // the direct port; 0: the proxy port
  };
  void accept_from(const Listener& l);
  std::string socket_;
  std::vector<Listener> listeners_;
  std::list<std::unique_ptr<Conn>> conns_;
};

}  // namespace sidecar::host
