// A cgroup v2 of its own for a run's agent, where this process may make one: a child of the
// cgroup this process is in, named "sidecar-…". Every process the agent starts stays in it,
// whatever it does (setsid, a cleared environment, a double fork), so the run's processes are
// all found by reading its cgroup.procs and all killed by its cgroup.kill. Optional: a machine
// without a writable cgroup v2 (cgroup v1 only, or a cgroup this user may not write) gets a
// reason instead, and Sidecar finds the run's processes the other ways (process_info.hpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace sidecar::host {

// Makes the cgroup `name` (which must start with "sidecar-") under this process's own cgroup v2.
// Returns its folder, or nullopt with `why` (no cgroup v2 mounted, not permitted, ...).
std::optional<std::string> cgroup_create(const std::string& name, std::string& why);

// The pids in the run cgroup at `path` (its cgroup.procs); empty when it is gone.
std::vector<int> cgroup_members(const std::string& path);

// Kills every process of the cgroup at once (cgroup.kill, Linux 5.14+). Returns 0 or an errno.
int cgroup_kill(const std::string& path);

// Removes the (empty) cgroup. Returns 0 or an errno (EBUSY while a process is still in it).
int cgroup_remove(const std::string& path);

// Whether `path` names a run cgroup: a folder "sidecar-…" holding a cgroup.procs file.
bool is_run_cgroup(const std::string& path);

// The bounds a run's cgroup may hold (0: none). pids counts tasks: processes and their threads.
struct CgroupLimits {
  long long pids = 0;
  long long memory = 0;  // bytes of memory; its swap is then bounded at 0 where the kernel allows
};

// Which of them the cgroup now enforces: a controller the cgroup lacks (its parent has not
// enabled it for its children, which cgroup v2 allows only for a cgroup holding no process of its
// own, so rarely for this process's) is left to the sandbox (host/sandbox/sandbox_init.hpp).
struct CgroupApplied {
  bool pids = false;
  bool memory = false;
  bool swap = false;
};
CgroupApplied cgroup_limit(const std::string& path, const CgroupLimits& limits);

// What the kernel counted against those bounds: memory.events' oom_kill (processes the OOM
// killer ended) and max (times memory.max was reached), pids.events' max (forks refused), and
// memory.peak (-1 where the kernel keeps none). Zero for what the cgroup does not have.
struct CgroupEvents {
  long long oom_kill = 0;
  long long memory_max = 0;
  long long pids_max = 0;
  long long memory_peak = -1;
};
CgroupEvents cgroup_events(const std::string& path);

// Arms the next spawn_child() of this thread to start its child in the cgroup at `path` (the
// child moves itself there before it executes the program, so no process of it is ever
// outside). Returns 0 or an errno; cgroup_disarm() ends it (whether or not a child started).
int cgroup_arm(const std::string& path);
void cgroup_disarm();

// spawn_child's side: the armed cgroup's cgroup.procs and folder descriptors, or -1.
int armed_cgroup_fd();
int armed_cgroup_dir_fd();

}  // namespace sidecar::host
