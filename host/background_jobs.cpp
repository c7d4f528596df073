#include "background_jobs.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

namespace sidecar::host {
namespace {

// Never destroyed: exit() runs the handler that reads them, and statics made before the first
// job would be destroyed before it.
struct Jobs {
  std::mutex lock;
  std::condition_variable ended;
  int running = 0;
  pid_t owner = 0;  // the process whose threads `running` counts
  std::atomic<bool> stopping{false};
};

Jobs& jobs() {
  static Jobs* all = new Jobs();
  return *all;
}

void wait_at_exit() { wait_for_background_jobs(); }

}  // namespace

BackgroundJob::BackgroundJob() : counted_(true) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(wait_at_exit); });
  Jobs& j = jobs();
  std::lock_guard<std::mutex> hold(j.lock);
  if (j.owner != getpid()) {  // the first job of this process (or of a forked child)
    j.owner = getpid();
    j.running = 0;
  }
  ++j.running;
}

BackgroundJob::BackgroundJob(BackgroundJob&& other) noexcept : counted_(other.counted_) { other.counted_ = false; }

BackgroundJob::~BackgroundJob() {
  if (!counted_) return;
  Jobs& j = jobs();
  std::lock_guard<std::mutex> hold(j.lock);
  if (j.owner == getpid() && --j.running == 0) j.ended.notify_all();
}

void wait_for_background_jobs() {
  Jobs& j = jobs();
  std::unique_lock<std::mutex> hold(j.lock);
  if (j.owner != getpid()) return;
  j.stopping = true;
  j.ended.wait(hold, [&] { return j.running == 0; });
  j.stopping = false;
}

bool background_jobs_stopping() { return jobs().stopping.load(std::memory_order_relaxed); }

}  // namespace sidecar::host
