#include "process/run_cgroup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sidecar::host {
namespace {

thread_local int t_armed_fd = -1;      // its cgroup.procs
thread_local int t_armed_dir_fd = -1;  // its folder (clone3's CLONE_INTO_CGROUP)

// The lines of a small text file (/proc/self/mountinfo, /proc/self/cgroup, cgroup.procs).
std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return lines;
  char* line = nullptr;
  std::size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) >= 0) {
    std::string text(line, static_cast<std::size_t>(n));
    if (!text.empty() && text.back() == '\n') text.pop_back();
    lines.push_back(std::move(text));
  }
  std::free(line);
  std::fclose(f);
  return lines;
}

// The first cgroup2 mount: {its root within the hierarchy, its mount point}. A mountinfo line:
// "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw".
std::optional<std::pair<std::string, std::string>> cgroup2_mount() {
  for (const std::string& line : read_lines("/proc/self/mountinfo")) {
    std::size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    char root[4096], point[4096];
    if (std::sscanf(line.c_str(), "%*s %*s %*s %4095s %4095s", root, point) == 2) {
      return std::make_pair(std::string(root), std::string(point));
    }
  }
  return std::nullopt;
}

// This process's cgroup v2 ("0::/path" in /proc/self/cgroup).
std::optional<std::string> own_cgroup() {
  for (const std::string& line : read_lines("/proc/self/cgroup")) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return std::nullopt;
}

// Writes `value` into the cgroup file `path`; false when it is not there or refuses it.
bool write_value(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  close(fd);
  return ok;
}

// The number after `key` in a flat-keyed cgroup file ("oom_kill 2"), or 0.
long long keyed_value(const std::string& path, const std::string& key) {
  for (const std::string& line : read_lines(path)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ' ') {
      return std::atoll(line.c_str() + key.size() + 1);
    }
  }
  return 0;
}

std::string base_name(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::optional<std::string> cgroup_create(const std::string& name, std::string& why) {
  if (name.rfind("sidecar-", 0) != 0 || name.find('/') != std::string::npos) {
    why = "a run cgroup's name is sidecar-… (no slash)";
    return std::nullopt;
  }
  auto mount = cgroup2_mount();
  if (!mount) {
    why = "no cgroup v2 is mounted";
    return std::nullopt;
  }
  auto own = own_cgroup();
  if (!own) {
    why = "this process is in no cgroup v2 (the machine uses cgroup v1)";
    return std::nullopt;
  }
  const auto& [root, point] = *mount;
  // The path the kernel shows is relative to the mount's root when that is not "/".
  std::string rel = *own;
  if (root != "/") {
    if (rel.rfind(root, 0) != 0) {
      why = "this process's cgroup (" + rel + ") is outside the mounted cgroup v2 (" + root + ")";
      return std::nullopt;
    }
    rel = rel.substr(root.size());
  }
  if (rel == "/") rel.clear();
  std::string dir = point + rel + "/" + name;
  if (mkdir(dir.c_str(), 0755) != 0) {
    why = "cannot make the cgroup " + dir + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return dir;
}

std::vector<int> cgroup_members(const std::string& path) {
  std::vector<int> pids;
  if (!is_run_cgroup(path)) return pids;
  for (const std::string& line : read_lines(path + "/cgroup.procs")) {
    int pid = std::atoi(line.c_str());
    if (pid > 0) pids.push_back(pid);
  }
  return pids;
}

int cgroup_kill(const std::string& path) {
  if (!is_run_cgroup(path)) return EINVAL;
  int fd = open((path + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    bool ok = write(fd, "1", 1) == 1;
    int e = errno;
    close(fd);
    if (ok) return 0;
    if (e != EINVAL && e != ENOENT) return e;
  }
  // Kernels before 5.14: each member (a member cannot leave the cgroup by itself, so a pid read
  // here is one of the run's until it ends).
  for (int pid : cgroup_members(path)) kill(pid, SIGKILL);
  return 0;
}

int cgroup_remove(const std::string& path) {
  // Already gone (removed by an earlier sweep, or never made): nothing to wait for.
  if (!path.empty() && path[0] == '/' && base_name(path).rfind("sidecar-", 0) == 0 &&
      access(path.c_str(), F_OK) != 0 && errno == ENOENT)
    return 0;
  if (!is_run_cgroup(path)) return EINVAL;
  return rmdir(path.c_str()) == 0 ? 0 : errno;
}

bool is_run_cgroup(const std::string& path) {
  return !path.empty() && path[0] == '/' && base_name(path).rfind("sidecar-", 0) == 0 &&
         access((path + "/cgroup.procs").c_str(), F_OK) == 0;
}

CgroupApplied cgroup_limit(const std::string& path, const CgroupLimits& l) {
  CgroupApplied applied;
  if (!is_run_cgroup(path)) return applied;
  // A controller's files exist only where the parent enabled it for this cgroup.
  if (l.pids > 0) applied.pids = write_value(path + "/pids.max", std::to_string(l.pids));
  if (l.memory > 0) {
    applied.memory = write_value(path + "/memory.max", std::to_string(l.memory));
    // Without this the kernel would swap the run out rather than end it, and the machine with it.
    applied.swap = applied.memory && write_value(path + "/memory.swap.max", "0");
  }
  return applied;
}

CgroupEvents cgroup_events(const std::string& path) {
  CgroupEvents e;
  if (!is_run_cgroup(path)) return e;
  e.oom_kill = keyed_value(path + "/memory.events", "oom_kill");
  e.memory_max = keyed_value(path + "/memory.events", "max");
  e.pids_max = keyed_value(path + "/pids.events", "max");
  std::vector<std::string> peak = read_lines(path + "/memory.peak");
  if (!peak.empty() && !peak[0].empty()) e.memory_peak = std::atoll(peak[0].c_str());
  return e;
}

int cgroup_arm(const std::string& path) {
  cgroup_disarm();
  if (!is_run_cgroup(path)) return EINVAL;
  int fd = open((path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  t_armed_fd = fd;
  t_armed_dir_fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // -1: moved by cgroup.procs only
  return 0;
}

void cgroup_disarm() {
  if (t_armed_fd >= 0) close(t_armed_fd);
  if (t_armed_dir_fd >= 0) close(t_armed_dir_fd);
  t_armed_fd = t_armed_dir_fd = -1;
}

int armed_cgroup_fd() { return t_armed_fd; }
int armed_cgroup_dir_fd() { return t_armed_dir_fd; }

}  // namespace sidecar::host
