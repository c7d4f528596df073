// The processes of a sandbox as its first process sees them: the /proc of its own PID namespace, or,
// as a subreaper where there is none (issue 49), its own descendants; and how they are ended.
#pragma once
#include <string>
#include <vector>

namespace sidecar::host {

// One of them, from its /proc entry: its command line cut to a readable length.
struct SandboxProcess {
  int pid = 0;
  char state = '?';
  long ppid = 0;
  long pgrp = 0;
  long sid = 0;
  std::string command;
};

// Process `pid` of the namespace; false when it is gone.
bool read_sandbox_process(int pid, SandboxProcess& p);

// Every live process of the namespace but this one (zombies are about to be reaped: not counted);
// with `descendants_of` (a subreaper's own pid, outside a pid namespace), only those that descend
// from it.
std::vector<SandboxProcess> sandbox_processes(int descendants_of = 0);

// Kills every other process of the sandbox: as a namespace's first process, all of the namespace
// (kill(-1)); as a subreaper, its descendants, again until none is left (one may fork meanwhile).
void kill_sandbox(int descendants_of);

// Kills every process of the sandbox but this one, at once, not waiting (the caller reaps them): a
// runaway past a bound that ends the whole sandbox. `mine`: this process's pid when a subreaper,
// else 0.
void kill_sandbox_now(int mine);

}  // namespace sidecar::host
