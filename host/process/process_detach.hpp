// Starting a program that deliberately outlives Sidecar (a background run's worker), and the two
// facts a caller needs about it later: signalling it and whether it still runs.
//
// Unlike the process loop's children (process_loop.hpp), a detached process is nobody's child:
// it is never killed when Sidecar exits, never waited for, and never left as a zombie. It runs in
// its own session (setsid), so a closing terminal's SIGHUP and Ctrl-C never reach it.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "process/process.hpp"

namespace sidecar::host {

struct DetachOptions {
  std::vector<std::string> argv;  // argv[0] is searched in PATH unless it contains a '/'
  std::string cwd;                // empty: the parent's
  // Variables set (a value) or removed (nullopt) on top of the parent's environment, or of an
  // empty one when `clear_env` (as SpawnOptions).
  std::vector<std::pair<std::string, std::optional<std::string>>> env;
  bool clear_env = false;
  std::string out_file, err_file;  // appended to (created 0644 when missing); empty: /dev/null
};

// Starts `options.argv` detached: stdin /dev/null, stdout and stderr appended to their files, in
// a new session with every signal at its default and none blocked, reparented to init (or the
// nearest subreaper) at once by a double fork whose middle process is reaped here. Returns the
// program's own pid once it has exec'd, or 0 with `error` filled when it could not start (program
// not found or not executable, missing cwd, an output file that cannot be opened): the caller
// learns that synchronously, never as an exit status nobody will read.
pid_t detach_process(const DetachOptions& options, SpawnError& error);

// Sends `sig` to process `pid`, or to process group `pid` when `group`. Returns 0 or the errno
// (ESRCH: no such process; EPERM: not ours). A pid <= 0 is EINVAL: kill(2) would read it as "my
// group" or "everyone".
int signal_process(pid_t pid, int sig, bool group);

// Whether `pid` names a running process; a zombie (ended, not yet reaped) counts as gone.
bool process_alive(pid_t pid);

}  // namespace sidecar::host
