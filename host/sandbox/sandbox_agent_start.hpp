// Starting the agent from the sandbox's first process (host/sandbox/sandbox_init.hpp).
//
// With vfork(), so that the first process's memory is never copied: a fork() copies its page
// tables, takes a copy-on-write fault on each page either side writes next, and the agent's exec
// then tears that copy down again, about 2 ms of CPU an agent, twice that in a fan-out. The child
// runs on the first process's memory until it executes the agent, so it makes system calls only,
// in this order: every signal at its default and none blocked; with --subreaper, every capability
// dropped; Landlock; the socket filter (host/sandbox/socket_filter.hpp), last before exec so that
// its own calls are not the guard's to answer, its listener handed back; every descriptor from 3
// closed; RLIMIT_NPROC; then the agent's program, searched in PATH. Whatever allocates is made
// before it starts: the Landlock ruleset, the filter's program, the argument list.
//
// A failure in the child is said on its stderr ("sidecar sandbox: …") and ends it with 125 (127:
// the program could not be run), reported as the agent's exit; one before it (a Landlock ruleset
// that cannot be made) is the sandbox's own: no agent is started.
#pragma once
#include <sys/types.h>

#include <string>

#include "sandbox/sandbox_init.hpp"

namespace sidecar::host {

struct AgentStart {
  pid_t pid = -1;         // -1: not started, and `error` says why
  std::string error;
  int listener = -1;      // the socket filter's listener (close-on-exec), or -1 and why:
  std::string guard_off;  // the filter could not be had or set
};

AgentStart start_agent(const SandboxInitOptions& o);

}  // namespace sidecar::host
