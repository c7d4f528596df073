// The first process of a run's OS sandbox (`sidecar sandbox-init`, started by bwrap --as-pid-1 in
// a pid namespace of its own): it starts the agent, carries the network out through Sidecar's
// proxy (host/sandbox_forward.hpp), reaps every orphan, and once the agent has exited waits a
// moment for what it left to end by itself, then kills whatever is still there and reports it.
//
// Nothing of the agent can outlive this process: when it exits the kernel kills every process of
// the namespace, and it dies with bwrap, which dies with the run's owner (--die-with-parent), so
// a `kill -9` of the owner ends the whole sandbox, escapees that cleared their environment, left
// their session or moved to another cgroup included.
//
// The report, one JSON object on descriptor `report_fd` (a file the owner opened, never reachable
// by the agent: close-on-exec here, and this process is not dumpable so /proc/1/fd is closed to
// it): {"exit_code": N} or {"signal": N}, "escapees": [{"pid", "command", "left_session"}],
// "stopped": true when a SIGTERM/SIGINT/SIGHUP asked the sandbox to end.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sidecar::host {

struct SandboxInitOptions {
  std::vector<std::string> argv;      // the agent's command (searched in PATH)
  int report_fd = -1;                 // -1: no report
  int64_t settle_ms = 5000;           // what the agent left may take this long to end by itself
  std::string proxy_socket;           // "": no network forwarding
  std::vector<uint16_t> direct_ports;  // loopback ports forwarded as they are
  bool proxy_env = false;             // an HTTPS proxy port, named in HTTPS_PROXY and the like
};

// Runs the sandbox until its agent has ended and nothing is left; returns the exit status to end
// with: the agent's, or 128 + the signal that ended it; 125 when the sandbox could not be set up
// (said on stderr), 127 when the agent could not be started.
int run_sandbox_init(const SandboxInitOptions& options);

// Parses `sidecar sandbox-init` arguments (after the command's name):
//   [--report-fd N] [--settle-ms N] [--proxy SOCKET] [--forward PORT]... [--proxy-env] -- PROGRAM ARGS...
// True, or false and why.
bool parse_sandbox_init(const std::vector<std::string>& args, SandboxInitOptions& options, std::string& why);

}  // namespace sidecar::host
