// Facts about processes that outlive their parent's knowledge of them, read from /proc: who a
// pid is now (its start time tells a reused pid from the one recorded), the members of a process
// group, a process's children, the processes that inherited a marker variable. And the few acts
// on such processes that must not hit a stranger: a signal only to the process that started at
// the recorded time (through a pidfd where the kernel has them), becoming a child subreaper,
// reaping an adopted orphan. Linux only; elsewhere the answers are empty, which callers treat as
// "nothing found".
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace sidecar::host {

struct ProcessInfo {
  int pid = 0, ppid = 0, pgid = 0, sid = 0;
  char state = 0;                   // R, S, D, T, Z (zombie), X (dead), ...
  unsigned long long start_ticks = 0;  // when it started: clock ticks since boot (never reused)
  // It has begun to exit (PF_EXITING in its stat flags): it runs no more of its own code, and
  // what it holds (descriptors, locks) goes as soon as the kernel has finished with it.
  bool exiting = false;
};

// Reads a whole /proc file (at most `limit` bytes) with plain reads, never a stream: a process that
// ends meanwhile makes a read fail (ESRCH), which a std::ifstream would throw on. False when it
// cannot be opened; what was read before an error stands.
bool read_proc_file(const char* path, std::string& out, std::size_t limit);

// The process `pid` as /proc/PID/stat says now; nullopt when there is no such process.
std::optional<ProcessInfo> read_process_info(int pid);

// Whether process `pid` is doomed: exiting (ProcessInfo::exiting), or a SIGKILL is pending for it
// (/proc/PID/status SigPnd or ShdPnd), which it can only die of, however long the kernel takes to
// let it (a busy machine, a write it must finish first). A killed process still holds its
// descriptors, flock()s included, until then. False when it is gone.
bool process_doomed(int pid);

// The processes of group `pgid` that have not ended (zombies excluded).
std::vector<ProcessInfo> group_processes(int pgid);

// The processes that have not ended whose environment holds `entry` ("NAME=value") exactly.
// The environment is the one each process started with (/proc/PID/environ); a process whose
// environment cannot be read (another user's, or one made non-dumpable) is not found.
std::vector<ProcessInfo> processes_with_environment(const std::string& entry);

// The children of `ppid` that have not ended (zombies included: their state says 'Z').
std::vector<ProcessInfo> child_processes(int ppid);

// The value of variable `name` in the environment process `pid` started with; nullopt when it
// has none or the environment cannot be read.
std::optional<std::string> environment_value(int pid, const std::string& name);

// What process `pid` runs, for people: its command line with spaces between the arguments (at
// most `limit` bytes), or "[name]" from its stat when the command line is empty (a zombie).
std::string process_command(int pid, std::size_t limit = 300);

// Sends `sig` to `pid` only when it is still the process that started at `start_ticks`: the pid
// is pinned with a pidfd before its start time is checked, so a pid reused in between is never
// signalled (kernels without pidfds: checked, then kill(), a window of microseconds). Returns 0,
// ESRCH when that process has ended (or the pid belongs to another now), or another errno.
int signal_if_same(int pid, unsigned long long start_ticks, int sig);

// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER), or no longer one (on = false):
// orphaned descendants are reparented to it instead of init, so they stay findable. Returns 0 or
// an errno.
int become_subreaper(bool on = true);

// Reaps child `pid` if it has ended (waitpid WNOHANG): 1 reaped, 0 still running, or -errno
// (-ECHILD: not a child of this process). Never for a child the process loop owns (it reaps
// its own): returns -EPERM then.
int reap_child(int pid);

}  // namespace sidecar::host
