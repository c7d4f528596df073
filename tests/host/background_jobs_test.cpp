// Background jobs (host/util/background_jobs.hpp): exit() joins a job still running, so the
// process's statics and libraries are not torn down under it; a forked child does not wait for
// its parent's jobs, which it has no thread of.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "temp_dir.hpp"
#include "util/background_jobs.hpp"

using sidecar::host::start_background_job;

namespace {

// The child's exit status, once it has exited (-1 if it was killed by a signal).
int wait_child(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("exit waits for a background job that is still running", "[background_jobs]") {
  sidecar::test::TempDir dir("jobs");
  const std::string done = dir.path + "/done";
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    start_background_job([done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // still running when exit() comes
      std::ofstream(done) << "finished";
    });
    std::exit(7);  // without the wait, the process ends with the thread mid-sleep
  }
  CHECK(wait_child(child) == 7);
  CHECK(read_file(done) == "finished");
}

TEST_CASE("a forked child does not wait for its parent's jobs", "[background_jobs]") {
  std::mutex lock;
  std::condition_variable cv;
  bool release = false;
  start_background_job([&] {
    std::unique_lock<std::mutex> hold(lock);
    cv.wait(hold, [&] { return release; });
  });
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) std::exit(3);  // the parent's job never ends in the child: waiting would hang
  CHECK(wait_child(child) == 3);
  {
    std::lock_guard<std::mutex> hold(lock);
    release = true;
  }
  cv.notify_all();
  sidecar::host::wait_for_background_jobs();  // joins the job, which has been released
}

TEST_CASE("a job that can end early is told the process is ending", "[background_jobs]") {
  sidecar::test::TempDir dir("jobs");
  const std::string told = dir.path + "/told";
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    start_background_job([told] {
      while (!sidecar::host::background_jobs_stopping()) std::this_thread::yield();  // without it, exit hangs
      std::ofstream(told) << "stopping";
    });
    std::exit(5);
  }
  CHECK(wait_child(child) == 5);
  CHECK(read_file(told) == "stopping");
  CHECK_FALSE(sidecar::host::background_jobs_stopping());  // only the ending process is told
}

namespace {
std::atomic<bool> torn_down{false};
// A slow thread-local destructor, as libgit2's and OpenSSL's per-thread state have at a
// thread's end (namespace scope: a block-scope thread_local is only set up where declared).
struct Teardown {
  std::atomic<bool>* seen = nullptr;
  ~Teardown() {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (seen) seen->store(true);
  }
};
thread_local Teardown teardown;
}  // namespace

TEST_CASE("a job's thread is over, its teardown included, when the wait returns", "[background_jobs]") {
  start_background_job([] { teardown.seen = &torn_down; });
  sidecar::host::wait_for_background_jobs();
  CHECK(torn_down.load());  // a count dropped at the end of the work would return before it
}
