// A ready process's copies: fork() without exec, for a process that made itself ready once (its
// modules loaded, its libraries started) and runs each job in a copy of itself (a preset's pool of
// workers, stdlib/sidecar/preset/worker.lua).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "process/process_loop.hpp"

namespace sidecar::host {

// Forks this process: the copy's pid in the original, 0 in the copy, or -1 with `error` when it
// was refused or failed. Refused while a child of `loop` runs or another thread does (the copy
// would share their state); a thread that has ended is waited for, up to a second, to be gone. The copy's loop gets kernel state of its own (ProcessLoop::after_fork;
// a copy that cannot have it exits with 127), it reads /dev/null as its standard input (the
// original's stays the original's), and it gets SIGTERM when the original ends.
pid_t fork_copy(ProcessLoop& loop, std::string& error);

// How a copy ended: its exit code, or the signal that ended it (0 when it exited).
struct CopyEnd {
  pid_t pid = 0;
  int code = 0;
  int signal = 0;
};

// Waits, without blocking, for those of `pids` (copies made by fork_copy, never the loop's own
// children) that have ended.
std::vector<CopyEnd> reap_copies(const std::vector<pid_t>& pids);

}  // namespace sidecar::host
