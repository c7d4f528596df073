// The seccomp filter that hands a sandboxed agent's socket addresses to `sandbox-init` (issue 45:
// "sockets anywhere it can see are not connectable unless listed").
//
// bubblewrap can hide a socket's file but cannot refuse a connect() to one the agent can see (a
// server's under /var/lib or /srv, one created after the sandbox started), and Landlock's scoping
// of Unix sockets is not in the kernels Sidecar targets. So every connect(), and every sendto()
// that names an address, of the agent and all it starts stops in the kernel and is sent, as a
// seccomp user notification, to the sandbox's first process (host/sandbox/socket_guard.hpp), which
// decides and makes the call itself on a copy of the address. The filter also refuses what would
// go round it: io_uring (its IORING_OP_CONNECT never passes through a system call), the x32 ABI,
// and, from 32-bit programs on x86-64, the socket calls (socketcall and its direct forms).
//
// Not covered: an unconnected datagram sent with sendmsg() or sendmmsg() to a path (their address
// lies in a structure a filter cannot read). Datagram servers live under /run and /dev, which
// the sandbox replaces.
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

namespace sidecar::host {

// True where this build knows the system calls to filter (x86-64, AArch64).
bool socket_filter_supported();

// The filter's program, made before the agent's process starts (making it allocates); empty, and
// why, where the filter cannot be had (an architecture this build has none for, a kernel without
// pidfd_getfd: the guard could take no socket, so every connect would fail).
std::vector<sock_filter> socket_filter_program(std::string& why);

// Installs `program` on the calling thread (and so on all it execs and starts), with no_new_privs
// set; returns its listener descriptor (close-on-exec), or -1 and what failed, errno set. System
// calls only: a vfork()ed child calls it just before exec; from then on, every connect() of this
// process waits for the listener's answer.
int install_socket_filter(const std::vector<sock_filter>& program, const char*& failed);

// The child hands the listener (or, when it could not install the filter, why) to the sandbox's
// first process over `channel`, a Unix socket pair made before the child started. System calls only.
void hand_over_listener(int channel, int listener, const char* why);
// The first process takes it: the listener, or -1 and why.
int take_listener(int channel, std::string& why);

}  // namespace sidecar::host
