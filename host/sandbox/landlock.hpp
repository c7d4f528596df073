// Landlock: the kernel's unprivileged access control, for a sandbox where user namespaces are
// refused (containers under Docker's default seccomp profile, Ubuntu's AppArmor rule; issue 49).
//
// A plan lists what stays reachable: beneath each `list` path, the names in folders (not what files
// hold); beneath each `read` path, reading and executing; beneath each
// `write` path, everything a file system allows (making, removing, writing, renaming within the
// handled rights). Once restricted, the calling thread and all it execs reach nothing else of the
// kinds the kernel's ABI handles: files from ABI 1 (refer: ABI 2, truncate: ABI 3, device ioctls:
// ABI 5); TCP from ABI 4, where `tcp` limits connect() to the listed ports and refuses every bind();
// from ABI 6, signals and abstract Unix sockets reach only the processes restricted with it (the
// agent cannot stop Sidecar, nor talk to a desktop's abstract sockets).
// Landlock only ever takes rights away: it cannot show what the user cannot reach, and a path not
// listed cannot be carved out of one that is (stdlib/sidecar/run/sandbox_landlock.lua plans the
// list around what must stay unreadable).
#pragma once
#include <string>
#include <vector>

namespace sidecar::host {

struct LandlockPlan {
  std::vector<std::string> list;   // absolute paths: folders beneath each may be listed (not read)
  std::vector<std::string> read;   // absolute paths: read and execute beneath each
  std::vector<std::string> write;  // absolute paths: every handled right beneath each
  bool tcp = false;                // limit TCP (ABI >= 4): connect only to connect_ports, no bind
  std::vector<int> connect_ports;
};

// The Landlock ABI the running kernel offers: 0 when none (not built in, or disabled).
int landlock_abi();

// The ruleset for `plan`, to be enforced by landlock_enforce: its descriptor (close-on-exec, as the
// kernel makes it), or -1 and why when the kernel offers no Landlock, a TCP limit needs an ABI it
// lacks, or a rule cannot be added (a path that does not exist is skipped: there is nothing
// beneath it to reach). Made before the agent's process starts: it opens the paths, and allocates.
int landlock_ruleset(const LandlockPlan& plan, std::string& why);

// Restricts the calling thread (and what it execs) with `ruleset`, no_new_privs set: nullptr, or
// what failed with errno set. System calls only, so that a vfork()ed child may call it just before
// it executes the agent.
const char* landlock_enforce(int ruleset);

}  // namespace sidecar::host
