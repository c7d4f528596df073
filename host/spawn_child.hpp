// Starting a child program: posix_spawn, which glibc runs as clone(CLONE_VM | CLONE_VFORK), so
// the parent's memory is never copied (a fork() would copy its page tables and then take a
// copy-on-write fault on every page Sidecar touches next).
#pragma once
#include <sys/types.h>

namespace sidecar::host {

struct ChildSpec {
  const char* file = nullptr;   // the program to execute (a path; no PATH search here)
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;    // nullptr: the parent's
  int stdio[3] = {-1, -1, -1};  // descriptors for the child's 0, 1, 2; -1 means /dev/null
};

// Starts the child in its own session and process group (setsid), with every signal at its
// default disposition and none blocked. Returns 0 and sets `pid`, or the errno of the failure
// (exec errors such as ENOENT, EACCES, ENOEXEC are reported here, not as an exit status).
int spawn_child(const ChildSpec& spec, pid_t& pid);

}  // namespace sidecar::host
