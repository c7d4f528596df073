#include "process/process_info.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "process/spawn_child.hpp"

namespace sidecar::host {

bool read_proc_file(const char* path, std::string& out, std::size_t limit) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[8192];
  while (out.size() < limit) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // ESRCH: the process ended meanwhile; what was read stands
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return true;
}

namespace {

constexpr std::size_t kMaxEnvironment = 4 << 20;  // far beyond ARG_MAX's usual share for it


bool parse_stat(int pid, const std::string& text, ProcessInfo& info) {
  // "pid (comm) S ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads itrealvalue starttime ...": the command name may
  // hold spaces and parentheses, so fields are counted from the last ')'.
  std::size_t close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return false;
  const char* p = text.c_str() + close_paren + 1;
  info.pid = pid;
  unsigned flags = 0;
  int n = std::sscanf(p, " %c %d %d %d %*d %*d %u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                      &info.state, &info.ppid, &info.pgid, &info.sid, &flags, &info.start_ticks);
  constexpr unsigned kPfExiting = 0x4;  // PF_EXITING (include/linux/sched.h): set as do_exit() begins
  info.exiting = (flags & kPfExiting) != 0;
  return n == 6;
}

// Whether a "SigPnd:"/"ShdPnd:" line of /proc/PID/status (a hex mask, bit N-1 for signal N)
// holds SIGKILL.
bool mask_has_sigkill(const std::string& status, const char* key) {
  std::size_t at = status.find(key);
  if (at == std::string::npos) return false;
  unsigned long long mask = std::strtoull(status.c_str() + at + std::strlen(key), nullptr, 16);
  return (mask >> (SIGKILL - 1)) & 1ULL;
}

bool ended(const ProcessInfo& info) { return info.state == 'Z' || info.state == 'X'; }

// Calls `fn(pid)` for every numeric entry of /proc.
template <typename Fn>
void each_pid(Fn&& fn) {
  DIR* proc = opendir("/proc");
  if (!proc) return;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    fn(std::atoi(e->d_name));
  }
  closedir(proc);
}

// Whether the NUL-separated `environ` holds `entry` as one whole variable.
bool holds_entry(const std::string& environ, const std::string& entry) {
  std::size_t at = 0;
  while ((at = environ.find(entry, at)) != std::string::npos) {
    bool starts = at == 0 || environ[at - 1] == '\0';
    std::size_t end = at + entry.size();
    if (starts && (end == environ.size() || environ[end] == '\0')) return true;
    at = end;
  }
  return false;
}

}  // namespace

std::optional<ProcessInfo> read_process_info(int pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::string text;
  ProcessInfo info;
  if (!read_proc_file(path, text, 4096) || !parse_stat(pid, text, info)) return std::nullopt;
  return info;
}

bool process_doomed(int pid) {
  std::optional<ProcessInfo> info = read_process_info(pid);
  if (!info) return false;
  if (info->exiting) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  std::string status;
  if (!read_proc_file(path, status, 16384)) return false;
  return mask_has_sigkill(status, "\nSigPnd:") || mask_has_sigkill(status, "\nShdPnd:");
}

std::vector<ProcessInfo> group_processes(int pgid) {
  std::vector<ProcessInfo> members;
  if (pgid <= 0) return members;
  // An empty group (the usual answer once a run's agent has ended) in one system call, rather
  // than by reading every /proc/PID/stat (about 10 us each, the kernel's slowest /proc file).
  if (kill(-pgid, 0) != 0 && errno == ESRCH) return members;
  each_pid([&](int pid) {
    std::optional<ProcessInfo> info = read_process_info(pid);
    if (info && info->pgid == pgid && !ended(*info)) members.push_back(*info);
  });
  return members;
}

std::vector<ProcessInfo> processes_with_environment(const std::string& entry) {
  std::vector<ProcessInfo> found;
  if (entry.find('=') == std::string::npos) return found;
  std::string environ;
  each_pid([&](int pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/environ", pid);
    if (!read_proc_file(path, environ, kMaxEnvironment) || !holds_entry(environ, entry)) return;
    std::optional<ProcessInfo> info = read_process_info(pid);
    if (info && !ended(*info)) found.push_back(*info);
  });
  return found;
}

namespace {

// The children the kernel lists for each thread of `ppid` (/proc/PID/task/TID/children: orphans
// adopted by a subreaper included), without a walk over every process; false when the kernel
// has no such files (built without CONFIG_PROC_CHILDREN) or the process is gone.
bool children_from_task_files(int ppid, std::vector<ProcessInfo>& children) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", ppid);
  DIR* tasks = opendir(path);
  if (!tasks) return false;
  bool listed = false;
  std::string text;
  while (dirent* e = readdir(tasks)) {
    int tid = std::atoi(e->d_name);
    if (tid <= 0) continue;
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", ppid, tid);
    if (!read_proc_file(path, text, 1 << 20)) continue;  // a thread that just ended
    listed = true;
    for (const char* p = text.c_str(); *p;) {
      char* end = nullptr;
      long pid = std::strtol(p, &end, 10);
      if (end == p) break;
      p = end;
      std::optional<ProcessInfo> info = pid > 0 ? read_process_info(static_cast<int>(pid)) : std::nullopt;
      if (info && info->ppid == ppid) children.push_back(*info);  // not one reparented meanwhile
    }
  }
  closedir(tasks);
  return listed;
}

}  // namespace

std::vector<ProcessInfo> child_processes(int ppid) {
  std::vector<ProcessInfo> children;
  if (ppid <= 0 || children_from_task_files(ppid, children)) return children;
  each_pid([&](int pid) {
    std::optional<ProcessInfo> info = read_process_info(pid);
    if (info && info->ppid == ppid) children.push_back(*info);
  });
  return children;
}

std::optional<std::string> environment_value(int pid, const std::string& name) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/environ", pid);
  std::string environ;
  if (name.empty() || !read_proc_file(path, environ, kMaxEnvironment)) return std::nullopt;
  std::string prefix = name + "=";
  std::size_t at = 0;
  while (at < environ.size()) {
    std::size_t end = environ.find('\0', at);
    if (end == std::string::npos) end = environ.size();
    if (environ.compare(at, prefix.size(), prefix) == 0 && end - at >= prefix.size()) {
      return environ.substr(at + prefix.size(), end - at - prefix.size());
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::string process_command(int pid, std::size_t limit) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  std::string text;
  if (read_proc_file(path, text, limit) && !text.empty()) {
    while (!text.empty() && text.back() == '\0') text.pop_back();
    for (char& c : text) {
      if (c == '\0') c = ' ';
    }
    if (text.size() > limit) text.resize(limit);
    return text;
  }
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (!read_proc_file(path, text, 4096)) return "";
  std::size_t open = text.find('('), close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return "[" + text.substr(open + 1, close - open - 1) + "]";
}

int signal_if_same(int pid, unsigned long long start_ticks, int sig) {
  if (pid <= 0) return ESRCH;
  int pidfd = -1;
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
  pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0 && errno != ENOSYS) return errno;  // ESRCH: gone
#endif
  // With the pid pinned, its start time says whether the pinned process is the recorded one.
  std::optional<ProcessInfo> now = read_process_info(pid);
  int result = 0;
  if (!now || ended(*now) || now->start_ticks != start_ticks) {
    result = ESRCH;
  } else if (pidfd >= 0) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0) result = errno;
#endif
  } else if (kill(pid, sig) != 0) {
    result = errno;
  }
  if (pidfd >= 0) close(pidfd);
  return result;
}

int become_subreaper(bool on) { return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) == 0 ? 0 : errno; }

int reap_child(int pid) {
  if (pid <= 0) return -ECHILD;
  if (spawned_here(pid)) return -EPERM;
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, WNOHANG); while (r < 0 && errno == EINTR);
  if (r == pid) return 1;
  return r == 0 ? 0 : -errno;
}

}  // namespace sidecar::host
