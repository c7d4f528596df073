#include "sandbox/sandbox_processes.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "process/process_info.hpp"

namespace sidecar::host {
namespace {

constexpr std::size_t kCommandChars = 200;

}  // namespace

bool read_sandbox_process(int pid, SandboxProcess& p) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string line;
  if (!read_proc_file((dir + "/stat").c_str(), line, 4096) || line.empty()) return false;
  const std::size_t open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) return false;
  p.pid = pid;
  if (std::sscanf(line.c_str() + close + 2, "%c %ld %ld %ld", &p.state, &p.ppid, &p.pgrp, &p.sid) != 4) return false;
  std::string args;
  read_proc_file((dir + "/cmdline").c_str(), args, 64 * 1024);
  while (!args.empty() && args.back() == '\0') args.pop_back();
  for (char& c : args) c = c == '\0' ? ' ' : c;
  p.command = args.empty() ? "[" + line.substr(open + 1, close - open - 1) + "]" : args;
  if (p.command.size() > kCommandChars) p.command = p.command.substr(0, kCommandChars - 3) + "...";
  return true;
}

std::vector<SandboxProcess> sandbox_processes(int descendants_of) {
  std::vector<SandboxProcess> all;
  DIR* d = opendir("/proc");
  if (!d) return all;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    SandboxProcess p;
    if (*end != '\0' || pid <= 1 || pid == descendants_of || !read_sandbox_process(static_cast<int>(pid), p)) continue;
    all.push_back(p);
  }
  closedir(d);
  std::vector<SandboxProcess> out;
  for (const SandboxProcess& p : all) {
    bool in = descendants_of == 0;
    // Up the parents (a bounded walk: a pid reused meanwhile cannot make it loop).
    for (long at = p.ppid, steps = 0; !in && at > 1 && steps < 4096; ++steps) {
      if (at == descendants_of) in = true;
      auto parent = std::find_if(all.begin(), all.end(), [at](const SandboxProcess& q) { return q.pid == at; });
      at = parent == all.end() ? 0 : parent->ppid;
    }
    if (in && p.state != 'Z') out.push_back(p);
  }
  return out;
}

void kill_sandbox(int descendants_of) {
  if (descendants_of == 0) {
    kill(-1, SIGKILL);
    return;
  }
  for (int round = 0; round < 100; ++round) {
    std::vector<SandboxProcess> left = sandbox_processes(descendants_of);
    if (left.empty()) return;
    for (const SandboxProcess& p : left) kill(p.pid, SIGKILL);
    int st = 0;
    while (waitpid(-1, &st, WNOHANG) > 0) {
    }
    timespec pause{0, 5 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

void kill_sandbox_now(int mine) {
  if (mine == 0) kill(-1, SIGKILL);
  for (const SandboxProcess& p : mine != 0 ? sandbox_processes(mine) : std::vector<SandboxProcess>{}) kill(p.pid, SIGKILL);
}

}  // namespace sidecar::host
