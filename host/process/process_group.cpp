#include "process/process_group.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sidecar::host {
namespace {

// Reads the state and process group from /proc/PID/stat: "pid (comm) S ppid pgrp ...". The
// command name may hold spaces and parentheses, so parsing starts after the last ')'.
bool read_stat(const char* pid, char& state, int& pgrp) {
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (!p || std::strlen(p) < 4) return false;
  state = p[2];
  int ppid = 0;
  return std::sscanf(p + 3, "%d %d", &ppid, &pgrp) == 2;
}

}  // namespace

std::vector<int> live_group_members(int pgid) {
  std::vector<int> members;
  DIR* proc = opendir("/proc");
  if (!proc) return members;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char state = 0;
    int pgrp = 0;
    if (read_stat(e->d_name, state, pgrp) && pgrp == pgid && state != 'Z' && state != 'X') {
      members.push_back(std::atoi(e->d_name));
    }
  }
  closedir(proc);
  return members;
}

bool group_has_live_members(int pgid) {
  if (kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  return !live_group_members(pgid).empty();
}

}  // namespace sidecar::host
