#include "util/background_jobs.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sidecar::host {
namespace {

struct Job {
  std::thread* thread;  // never deleted in a forked child, where the thread does not exist
  std::shared_ptr<std::atomic<bool>> done;
};

// Never destroyed: exit() runs the handler that reads them, and statics made before the first
// job would be destroyed before it.
struct Jobs {
  std::mutex lock;
  std::vector<Job> running;
  pid_t owner = 0;  // the process whose threads `running` holds
  std::atomic<bool> stopping{false};
};

Jobs& jobs() {
  static Jobs* all = new Jobs();
  return *all;
}

void wait_at_exit() { wait_for_background_jobs(); }

// This process's jobs, taken out of the list (all of them, or those whose work is done). In a
// forked child the parent's entries are dropped, unjoined: their threads are not there.
std::vector<Job> take(Jobs& j, bool only_done) {
  std::vector<Job> out, keep;
  if (j.owner != getpid()) {
    j.owner = getpid();
    j.running.clear();
    return out;
  }
  for (Job& job : j.running) (only_done && !job.done->load() ? keep : out).push_back(job);
  j.running.swap(keep);
  return out;
}

void join(std::vector<Job>& taken) {
  for (Job& job : taken) {
    job.thread->join();
    delete job.thread;
  }
}

}  // namespace

void start_background_job(std::function<void()> work) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(wait_at_exit); });
  Jobs& j = jobs();
  std::vector<Job> finished;
  {
    std::lock_guard<std::mutex> hold(j.lock);
    finished = take(j, true);
    auto done = std::make_shared<std::atomic<bool>>(false);
    j.running.push_back({new std::thread([work = std::move(work), done] {
                           try {
                             work();
                           } catch (...) {  // a job reports its own failures; one escaping must not end the process
                           }
                           done->store(true);
                         }),
                         done});
  }
  join(finished);  // their work is over: this waits only for their threads' teardown
}

void wait_for_background_jobs() {
  Jobs& j = jobs();
  j.stopping = true;
  for (;;) {
    std::vector<Job> taken;
    {
      std::lock_guard<std::mutex> hold(j.lock);
      taken = take(j, false);
    }
    if (taken.empty()) break;
    join(taken);
  }
  j.stopping = false;
}

bool background_jobs_stopping() { return jobs().stopping.load(std::memory_order_relaxed); }

}  // namespace sidecar::host
