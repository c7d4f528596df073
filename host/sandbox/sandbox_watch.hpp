// The limits' watch of a sandbox's first process: what it samples (the namespace's tasks and
// anonymous memory, the sizes of the files Sidecar shares with it in memory), and what it ends past
// a bound (stdlib/sidecar/run/sandbox_limits.lua says who holds each bound, and when the watch does).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sidecar::host {

struct SandboxInitOptions;

constexpr int64_t kWatchMs = 200;     // how often the limits' watch samples the namespace
constexpr int64_t kWatchNearMs = 20;  // and near a bound, where a runaway may not stay long

// One sample of the namespace's processes: their tasks, their anonymous resident memory (what
// a leak or a hog grows: libraries and files mapped are left out), and the largest of them.
struct NamespaceUse {
  int64_t tasks = 0;
  int64_t rss = 0;
  int largest_pid = 0;       // the process of most memory (never this one, pid 1)
  int64_t largest_rss = 0;
};

// Reads /proc (the namespace's own): each process's status (Threads, RssAnon); `precise`: its
// proportional share of anonymous memory instead (smaps_rollup's Pss_Anon), so that pages a fork
// shares count once. pid 1 is counted but never the largest.
// With `descendants_of` (a subreaper's own pid: no pid namespace), only its descendants count.
NamespaceUse sample_namespace(const std::string& proc = "/proc", bool precise = false, int descendants_of = 0);

// What the limits' watch saw: its peaks, the limit that was reached, what it killed for it.
struct SandboxWatch {
  SandboxWatch() = default;
  SandboxWatch(const SandboxWatch&) = delete;
  SandboxWatch& operator=(const SandboxWatch&) = delete;
  ~SandboxWatch();  // closes the shared files' descriptors
  bool on = false;
  bool shared = false;  // the shared files are watched
  // The shared files, opened before the agent starts, and watched through these descriptors: one
  // the agent unlinks or renames (where it may: Landlock's) is still measured.
  std::vector<std::pair<int, std::string>> shared_open;
  int64_t tasks_peak = 0, rss_peak = 0, shared_peak = 0;
  std::string hit;          // "pids", "memory" or "tmp" (the shared files)
  std::string shared_file;  // with "tmp": the largest of them then
  struct Killed {
    int pid;
    std::string command;
    int64_t rss;
  };
  std::vector<Killed> killed;
  // Whether a bound ended every process of the sandbox (what is left was killed for it, not left
  // behind by the agent).
  bool runaway() const { return hit == "pids" || hit == "tmp"; }
};

// Sets up the watch that `o` asks for: on or not, and the shared files opened, before the agent
// starts (so each is still Sidecar's own: a regular file, never through a link); one that is not
// there is not watched.
void start_watch(const SandboxInitOptions& o, SandboxWatch& w);

// Samples what the watch bounds; past a bound, kills what the bound says. Returns when to sample
// next, in ms.
int64_t watch_limits(const SandboxInitOptions& o, SandboxWatch& w);

// The report's "limits" member (with its leading comma) of what the watch saw.
std::string limits_json(const SandboxWatch& w);

}  // namespace sidecar::host
