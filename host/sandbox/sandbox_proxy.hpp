// The network door of a sandboxed run: an HTTP CONNECT proxy on a Unix socket that Sidecar binds
// into the run's sandbox, whose network namespace has no other way out. It lets through only the
// hosts the run may reach (its runner's model endpoints and what the config adds), and keeps a
// log of every connection asked for, let through or refused.
//
// It runs on threads of the process that owns the run (one listens, one per connection), so it
// lives and dies with the owner: were the owner killed, the sandbox dies with it too (bwrap's
// --die-with-parent). No Lua here; lua/sandbox.cpp binds it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sidecar::host {

// A host a run may reach: "api.openai.com" (exactly), "*.example.com" (any name below it, not the
// domain itself) or an address ("127.0.0.1", "::1"), on one port; host "*" with port 0: any host on
// any port (network "full", where the proxy only records).
struct ProxyRule {
  std::string host;
  uint16_t port = 443;
};

// One connection asked for.
struct ProxyEntry {
  std::string host;     // as asked ("" when the request could not be read)
  uint16_t port = 0;
  bool allowed = false;
  std::string error;    // why it was refused or failed ("" when it went through)
  int64_t at_ms = 0;    // wall clock, ms since the epoch
  uint64_t bytes_up = 0, bytes_down = 0;
};

// Whether `rules` let `host`:`port` through (names compared without regard to case).
bool proxy_allows(const std::vector<ProxyRule>& rules, const std::string& host, uint16_t port);

// Reads the target of a request head ("CONNECT host:port HTTP/1.1\r\n..."): true and host, port,
// or false and why ("not a CONNECT request", a bad port ...). IPv6 literals come in brackets.
bool parse_connect(const std::string& head, std::string& host, uint16_t& port, std::string& why);

class SandboxProxy {
 public:
  static constexpr std::size_t kMaxLog = 1000;       // entries kept; later ones are only counted
  static constexpr int kMaxConnections = 256;         // at once; more are refused
  static constexpr int kHeadTimeoutMs = 30000;        // to send the request head
  static constexpr int kConnectTimeoutMs = 15000;     // to reach the host

  // Listens on a new Unix socket at `socket_path` (its folder must exist; a file there is
  // replaced). Returns the proxy, or nullptr and `error`.
  static std::unique_ptr<SandboxProxy> start(const std::string& socket_path, std::vector<ProxyRule> rules,
                                             std::string& error);
  ~SandboxProxy();
  SandboxProxy(const SandboxProxy&) = delete;
  SandboxProxy& operator=(const SandboxProxy&) = delete;

  // Stops listening, ends every connection and waits for its threads; removes the socket file.
  // Idempotent.
  void stop();
  // What has been asked for so far (a copy), and how many entries were not kept.
  std::vector<ProxyEntry> log() const;
  uint64_t dropped() const;

  struct Impl;

 private:
  explicit SandboxProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sidecar::host
