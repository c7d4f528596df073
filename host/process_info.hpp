// Facts about processes that outlive their parent's knowledge of them, read from /proc: who a
// pid is now (its start time tells a reused pid from the one recorded), the members of a process
// group, and the processes that inherited a marker variable. Linux only; elsewhere the answers
// are empty, which callers treat as "nothing found".
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace sidecar::host {

struct ProcessInfo {
  int pid = 0, ppid = 0, pgid = 0, sid = 0;
  char state = 0;                   // R, S, D, T, Z (zombie), X (dead), ...
  unsigned long long start_ticks = 0;  // when it started: clock ticks since boot (never reused)
};

// The process `pid` as /proc/PID/stat says now; nullopt when there is no such process.
std::optional<ProcessInfo> read_process_info(int pid);

// The processes of group `pgid` that have not ended (zombies excluded).
std::vector<ProcessInfo> group_processes(int pgid);

// The processes that have not ended whose environment holds `entry` ("NAME=value") exactly.
// The environment is the one each process started with (/proc/PID/environ); a process whose
// environment cannot be read (another user's, or one made non-dumpable) is not found.
std::vector<ProcessInfo> processes_with_environment(const std::string& entry);

}  // namespace sidecar::host
