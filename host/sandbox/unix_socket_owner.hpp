// Whose is a Unix socket: one of the sandbox's own (bound by a process inside it) or a server's
// outside. The sandbox's connect guard (host/sandbox/socket_guard.hpp) asks it before it connects
// an agent's socket to a path or an abstract name.
//
// The kernel's socket diagnostics (NETLINK_SOCK_DIAG, what `ss -x` reads) list the Unix sockets of
// the caller's network namespace, each with the file it is bound to (device and inode) or its
// abstract name, and the socket's own inode. A sandbox with a network namespace of its own
// ("none", "model", "full") sees only the sockets made inside it: a server's outside is not listed
// at all. With the host's namespace ("host") every socket of the machine is listed, so there the
// socket's inode must also be held open by a process of the sandbox's pid namespace (/proc/*/fd);
// without a pid namespace (the Landlock sandbox), by a descendant of its first process.
#pragma once
#include <sys/types.h>

#include <string>

namespace sidecar::host {

struct UnixSocketQuery {
  dev_t dev = 0;             // the socket's file (as fstat gives it), or
  ino_t ino = 0;
  std::string name;          // an abstract name, without its leading NUL
  bool host_network = false; // the sandbox shares the host's network namespace
  pid_t subreaper = 0;       // no pid namespace: only this process's descendants are the sandbox's
};

// True when a socket bound inside the sandbox answers to the query; false when none does (a
// server's outside, or nothing listening), or when the diagnostics cannot be read (the caller then
// refuses: a guard that cannot tell says no).
bool unix_socket_is_inside(const UnixSocketQuery& query);

}  // namespace sidecar::host
