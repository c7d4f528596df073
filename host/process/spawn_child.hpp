// Starting a child program: vfork(), so the parent's memory is never copied (a fork() would copy
// its page tables and then take a copy-on-write fault on every page Sidecar touches next), and a
// few system calls in the child before it executes the program: its own session, its standard
// descriptors, its folder, default signals and, when asked, the parent-death signal, which
// posix_spawn has no way to set.
#pragma once
#include <sys/types.h>

namespace sidecar::host {

struct ChildSpec {
  const char* file = nullptr;   // the program to execute (a path; no PATH search here)
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;    // nullptr: the parent's
  int stdio[3] = {-1, -1, -1};  // descriptors for the child's 0, 1, 2; -1 means /dev/null
  // The signal the child gets when the thread that started it ends (PR_SET_PDEATHSIG), whichever
  // way Sidecar ends, kill -9 included; 0: none (detached programs). Start such children from a
  // thread that lives as long as they should (Sidecar starts them all from its main thread).
  int parent_death_signal = 0;
  int fd3 = -1;               // given to the child as its descriptor 3 (-1: none); must be above 2
  bool term_ignored = false;  // SIGTERM starts ignored (SpawnOptions::term_ignored)
};

// Starts the child in its own session and process group (setsid), with every signal at its
// default disposition and none blocked. Returns 0 and sets `pid`, or the errno of the failure
// (exec errors such as ENOENT, EACCES, ENOEXEC are reported here, not as an exit status).
int spawn_child(const ChildSpec& spec, pid_t& pid);

// The children the process loop started and has not reaped yet, so that a reaper of orphans
// (a child subreaper adopts every orphaned descendant) never waits for one of them. The loop
// notes each child it starts and each it reaps; thread-safe.
void note_spawned(pid_t pid);
void note_reaped(pid_t pid);
bool spawned_here(pid_t pid);

}  // namespace sidecar::host
