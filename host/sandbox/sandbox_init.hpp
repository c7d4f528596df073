// The first process of a run's OS sandbox (`sidecar sandbox-init`, started by bwrap --as-pid-1 in
// a pid namespace of its own): it starts the agent, carries the network out through Sidecar's
// proxy (host/sandbox/sandbox_forward.hpp), reaps every orphan, and once the agent has exited waits a
// moment for what it left to end by itself, then kills whatever is still there and reports it.
//
// Nothing of the agent can outlive this process: when it exits the kernel kills every process of
// the namespace, and it dies with bwrap, which dies with the run's owner (--die-with-parent), so
// a `kill -9` of the owner ends the whole sandbox, escapees that cleared their environment, left
// their session or moved to another cgroup included.
//
// With --subreaper (where user namespaces are refused: no bwrap, no pid namespace) it is the child
// subreaper of the agent instead: what the agent leaves is reparented to it, and it ends its own
// descendants, never another process of the machine: once asked to stop, after the agent's grace
// (--stop-grace-ms, shorter than the watchdog's), or at once when its parent is gone. The agent
// may be confined with Landlock
// (host/sandbox/landlock.hpp) before it starts. Only the run's cgroup (host/process/run_cgroup.hpp)
// then holds a process that escaped both, and a `kill -9` of this process leaves that to it.
//
// The report, one JSON object on descriptor `report_fd` (a file the owner opened, never reachable
// by the agent: close-on-exec here, and this process is not dumpable so /proc/1/fd is closed to
// it): {"exit_code": N} or {"signal": N}, "escapees": [{"pid", "command", "left_session"}],
// "stopped": true when a SIGTERM/SIGINT/SIGHUP asked the sandbox to end, and with a limit set,
// "limits": {"tasks_peak", "rss_peak", "hit": "pids" | "memory", "killed": [{"pid", "command",
// "rss"}]} (the peaks sampled, so a lower bound); "sockets": {"refused": [{"path", "count"}]} when
// the connect guard refused any (host/sandbox/socket_guard.hpp), or "socket_guard_off": why, when
// its filter could not be set (a kernel without seccomp's user notifications).
//
// Limits (issue 45, item 8). `pids` bounds the tasks (processes and threads) of the namespace:
// RLIMIT_NPROC, set before the agent starts, makes a fork past it fail with EAGAIN; the kernel
// counts it per user of the sandbox's own user namespace (so only the sandbox's tasks), but does
// not apply it at all to a process that is root outside (kuid 0): there a watch, which samples
// the namespace every 200 ms, is the bound. Reaching the bound ends the sandbox: everything in it
// is killed and "hit" says "pids". `memory` is that watch alone, for where the run's cgroup
// cannot bound it (host/process/run_cgroup.hpp): the anonymous resident memory of the namespace's
// processes is summed and, past the bound, the largest process is killed, as the kernel's OOM
// killer would. No rlimit for memory: RLIMIT_AS and RLIMIT_DATA count address space reserved,
// not used, and programs that reserve much (node's WebAssembly, every AddressSanitizer build)
// would fail to start.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/landlock.hpp"

namespace sidecar::host {

struct SandboxInitOptions {
  std::vector<std::string> argv;      // the agent's command (searched in PATH)
  int report_fd = -1;                 // -1: no report
  int64_t settle_ms = 5000;           // what the agent left may take this long to end by itself
  std::string proxy_socket;           // "": no network forwarding
  std::vector<uint16_t> direct_ports;  // loopback ports forwarded as they are
  bool proxy_env = false;             // an HTTPS proxy port, named in HTTPS_PROXY and the like
  int64_t pids = 0;                   // the namespace's tasks at most; 0: no bound
  int64_t memory = 0;                 // the resident bytes of its processes at most (a watch); 0: none
  // Files Sidecar made for the sandbox in memory (its hooks' events, copies of a CLI's state), which
  // its processes write: what they hold, in all, at most (a watch, since no tmpfs of the sandbox's
  // own bounds them); past it every process of the sandbox is killed. 0: no bound.
  std::vector<std::string> shared_files;
  int64_t shared_max = 0;
  std::vector<std::string> socket_allow;  // Unix sockets (or folders of them) the agent may connect to
  bool host_network = false;          // the sandbox shares the host's network namespace
  // Where user namespaces are refused (issue 49): no pid namespace of its own. This process makes
  // itself the child subreaper of what the agent starts, and ends only its own descendants.
  bool subreaper = false;
  int64_t stop_grace_ms = 1500;       // with --subreaper: once asked to stop, the agent's time to end
  bool landlock = false;              // the agent restricted by `landlock_plan` before it starts
  LandlockPlan landlock_plan;
};

// Runs the sandbox until its agent has ended and nothing is left; returns the exit status to end
// with: the agent's, or 128 + the signal that ended it; 125 when the sandbox could not be set up
// (said on stderr), 127 when the agent could not be started.
int run_sandbox_init(const SandboxInitOptions& options);

// Parses `sidecar sandbox-init` arguments (after the command's name):
//   [--report-fd N] [--settle-ms N] [--proxy SOCKET] [--forward PORT]... [--proxy-env]
//   [--pids N] [--memory BYTES] [--shared-max BYTES] [--shared-file PATH]... [--socket-allow PATH]...
//   [--host-network]
//   [--subreaper [--stop-grace-ms N]] [--landlock-read PATH]... [--landlock-write PATH]...
//   [--landlock-paths FILE] [--landlock-tcp] [--landlock-connect PORT]... -- PROGRAM ARGS...
// (--landlock-paths: a file of "l", "r" or "w" then an absolute path, each ended by a NUL: a plan of
// thousands of paths, past what a command line holds)
// (with --subreaper, --pids and --memory are the watch over its descendants alone: RLIMIT_NPROC
// would count every process of the user.) --shared-file: a path as the sandbox sees it.
// True, or false and why.
bool parse_sandbox_init(const std::vector<std::string>& args, SandboxInitOptions& options, std::string& why);

}  // namespace sidecar::host
