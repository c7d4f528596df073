#include "sandbox/sandbox_watch.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "sandbox/sandbox_init.hpp"
#include "sandbox/sandbox_processes.hpp"
#include "util/json_text.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace {

// The number of the line "Name:   123 kB" of a /proc status-like text, or -1.
long long field_of(const char* text, const char* name) {
  const std::size_t n = std::strlen(name);
  for (const char* line = text; line && *line; line = std::strchr(line, '\n'), line = line ? line + 1 : nullptr) {
    if (std::strncmp(line, name, n) == 0 && line[n] == ':') return std::atoll(line + n + 1);
  }
  return -1;
}

// Reads a small /proc file of process `name` (a folder of `dir`) into buf; false when it is gone.
bool read_small(int dir, const std::string& path, char* buf, std::size_t size) {
  UniqueFd fd(openat(dir, path.c_str(), O_RDONLY | O_CLOEXEC));
  const ssize_t n = fd.fd >= 0 ? ::read(fd.fd, buf, size - 1) : -1;
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

}  // namespace

NamespaceUse sample_namespace(const std::string& proc, bool precise, int descendants_of) {
  NamespaceUse u;
  std::vector<long> only;
  for (const SandboxProcess& p : descendants_of != 0 ? sandbox_processes(descendants_of) : std::vector<SandboxProcess>{}) only.push_back(p.pid);
  DIR* d = opendir(proc.c_str());
  if (!d) return u;
  char buf[4096];
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (descendants_of != 0 && std::find(only.begin(), only.end(), pid) == only.end()) continue;
    if (!read_small(dirfd(d), std::string(e->d_name) + "/status", buf, sizeof buf)) continue;  // gone meanwhile
    u.tasks += std::max(1LL, field_of(buf, "Threads"));
    // Anonymous memory only: a library's pages, mapped by every process, are counted once by the
    // kernel, and so not here either. A page a fork still shares counts in both: `precise` asks
    // the proportional share instead (smaps_rollup: the kernel walks the process's page tables).
    long long kib = field_of(buf, "RssAnon");
    if (precise && read_small(dirfd(d), std::string(e->d_name) + "/smaps_rollup", buf, sizeof buf)) {
      const long long pss = field_of(buf, "Pss_Anon");
      kib = pss >= 0 ? pss : kib;
    }
    const int64_t bytes = std::max(0LL, kib) * 1024;
    u.rss += bytes;
    if (pid != 1 && bytes > u.largest_rss) {
      u.largest_rss = bytes;
      u.largest_pid = static_cast<int>(pid);
    }
  }
  closedir(d);
  return u;
}

namespace {

// The shared files' sizes for the watch: what they hold in memory, in all (their allocated blocks:
// a sparse file holds no more than it wrote); past the bound, every process ends. Whether it is
// near the bound.
bool watch_shared(const SandboxInitOptions& o, SandboxWatch& w, int mine) {
  int64_t total = 0, largest = -1;
  std::string largest_path;
  for (const auto& [fd, path] : w.shared_open) {
    struct stat st {};
    if (fstat(fd, &st) != 0) continue;
    const int64_t held = int64_t(st.st_blocks) * 512;
    total += held;
    if (held > largest) {
      largest = held;
      largest_path = path;
    }
  }
  w.shared_peak = std::max(w.shared_peak, total);
  if (total > o.shared_max && w.hit.empty()) {
    w.hit = "tmp";
    w.shared_file = largest_path;
    kill_sandbox_now(mine);
  }
  return total * 4 >= o.shared_max * 3;
}

}  // namespace

SandboxWatch::~SandboxWatch() {
  for (const auto& f : shared_open) ::close(f.first);
}

void start_watch(const SandboxInitOptions& o, SandboxWatch& w) {
  w.shared = o.shared_max > 0 && !o.shared_files.empty();
  w.on = o.pids > 0 || o.memory > 0 || w.shared;
  for (const std::string& path : w.shared ? o.shared_files : std::vector<std::string>{}) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      w.shared_open.emplace_back(fd, path);
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
}

int64_t watch_limits(const SandboxInitOptions& o, SandboxWatch& w) {
  const int mine = o.subreaper ? getpid() : 0;
  const bool near_shared = w.shared && watch_shared(o, w, mine);
  if (o.pids <= 0 && o.memory <= 0) return near_shared ? kWatchNearMs : kWatchMs;
  NamespaceUse u = sample_namespace("/proc", false, mine);
  w.tasks_peak = std::max(w.tasks_peak, u.tasks);
  if (o.memory > 0 && u.rss > o.memory) u = sample_namespace("/proc", true, mine);  // only then: it costs more
  w.rss_peak = std::max(w.rss_peak, u.rss);
  if (o.pids > 0 && u.tasks >= o.pids) {
    // A fork past the bound fails (or, for a root outside, is about to): the run is a runaway.
    w.hit = "pids";
    kill_sandbox_now(mine);
  } else if (o.memory > 0 && u.rss > o.memory && u.largest_pid > 0 && w.hit != "tmp") {
    SandboxProcess p;
    w.hit = "memory";
    const bool again =
        std::any_of(w.killed.begin(), w.killed.end(), [&](const auto& k) { return k.pid == u.largest_pid; });
    if (!again) w.killed.push_back({u.largest_pid, read_sandbox_process(u.largest_pid, p) ? p.command : "?", u.largest_rss});
    kill(u.largest_pid, SIGKILL);  // again: a process killed is counted until it is gone
  }
  const bool near =
      near_shared || (o.pids > 0 && u.tasks * 4 >= o.pids * 3) || (o.memory > 0 && u.rss * 4 >= o.memory * 3);
  return near ? kWatchNearMs : kWatchMs;
}

std::string limits_json(const SandboxWatch& w) {
  std::string r = ",\"limits\":{\"tasks_peak\":" + std::to_string(w.tasks_peak) +
                  ",\"rss_peak\":" + std::to_string(w.rss_peak);
  if (w.shared) r += ",\"shared_peak\":" + std::to_string(w.shared_peak);
  if (!w.hit.empty()) r += ",\"hit\":" + json_text::quoted(w.hit);
  if (!w.shared_file.empty()) r += ",\"shared_file\":" + json_text::quoted(w.shared_file);
  r += ",\"killed\":[";
  for (std::size_t i = 0; i < w.killed.size(); ++i) {
    r += (i ? "," : "") + std::string("{\"pid\":") + std::to_string(w.killed[i].pid) + ",\"command\":" +
         json_text::quoted(w.killed[i].command) + ",\"rss\":" + std::to_string(w.killed[i].rss) + "}";
  }
  return r + "]}";
}

}  // namespace sidecar::host
