// The sandbox's connect guard: `sandbox-init` answers the seccomp notifications of its socket
// filter (host/sandbox/socket_filter.hpp), so that an agent connects only to sockets of its own or
// to those the run lists.
//
// A thread of the guard's receives the notifications (never the sandbox's first process itself: a
// notification withdrawn between poll and receive leaves the receive waiting for the next one),
// and each (a connect(), or a sendto() naming an address) is answered on a thread of its own,
// since a connect may wait. The guard takes a duplicate of the agent's socket (pidfd_getfd)
// and a copy of the address (process_vm_readv), decides on that copy, and makes the call itself on
// that socket: the kernel never reads the agent's memory again, so a second thread of the agent
// that rewrites the address, or swaps the descriptor, after the decision changes nothing.
//
// A Unix socket's path is opened (O_PATH) as the agent would (its working folder for a relative
// path) and the connection made through that open file, so the socket decided on is the one
// connected to, whatever links or renames happen meanwhile. It is allowed when
//   - a process of the sandbox bound it (host/sandbox/unix_socket_owner.hpp): an agent's own test
//     server, in its worktree or /tmp, works as outside a sandbox;
//   - or its real path is one of `allow` or under one (isolation.read names it).
// Anything else (a server's socket under /var/lib or /srv, in a toolchain folder, in the
// repository, created after the sandbox started) is refused with EACCES and counted by path.
// Abstract names are namespaced with the network: with a namespace of its own the sandbox sees only
// its own; with the host's network they follow the same rule as paths. Addresses of other families
// (TCP, UDP) are passed on as they are: the network namespace and the proxy bound them; but where
// the sandbox has no network namespace and limits TCP (`limit_tcp`, the Landlock sandbox), a
// stream connect() to a port not in `tcp_ports` is refused with EACCES and counted ("tcp
// host:port"), as Landlock refuses it to the agent: the guard makes the call outside the agent's
// Landlock domain, so it must hold the same rule.
//
// Side effects of making the call in the guard: a server in the sandbox that asks its peer's
// credentials (SO_PEERCRED) sees the sandbox's first process, not the agent's; a sendto on a
// closed connection fails with EPIPE but raises no SIGPIPE in the agent.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace sidecar::host {

struct SocketGuardOptions {
  std::vector<std::string> allow;  // real paths: a socket there, or under one, is connectable
  bool host_network = false;       // the sandbox shares the host's network namespace
  bool limit_tcp = false;          // stream connections only to `tcp_ports` (any address)
  std::vector<int> tcp_ports;
  int subreaper = 0;               // no pid namespace: the sandbox's processes descend from this one
};

class SocketGuard {
 public:
  // Takes `listener` (the filter's notification descriptor) and starts answering on it, until no
  // process is left under the filter; the descriptor is closed once the guard and every answer
  // still under way are done with it.
  SocketGuard(int listener, SocketGuardOptions options);
  // ,"sockets":{"refused":[{"path": ..., "count": N}...]} for the sandbox's report ("" when none).
  std::string report_json() const;

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with the answers under way, which may outlive the guard
};

}  // namespace sidecar::host
