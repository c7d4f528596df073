// Facts about a process group, read from the kernel.
#pragma once
#include <vector>

namespace sidecar::host {

// The processes of group `pgid` that are still running, zombies excluded: an orphaned zombie
// waits for init to reap it, and some inits (in containers especially) take seconds to.
std::vector<int> live_group_members(int pgid);

// live_group_members(pgid) is not empty; one kill(2) when the group is gone, the usual case.
bool group_has_live_members(int pgid);

}  // namespace sidecar::host
