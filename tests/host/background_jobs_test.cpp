// Background jobs (host/background_jobs.hpp): exit() waits for a job still running, so the
// process's statics and libraries are not torn down under it; a forked child does not wait for
// its parent's jobs, which it has no thread of.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "background_jobs.hpp"
#include "temp_dir.hpp"

using sidecar::host::BackgroundJob;

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
    BackgroundJob job;
    std::thread([done, job = std::move(job)]() mutable {
      BackgroundJob running = std::move(job);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // still running when exit() comes
      std::ofstream(done) << "finished";
    }).detach();
    std::exit(7);  // without the wait, the process ends with the thread mid-sleep
  }
  CHECK(wait_child(child) == 7);
  CHECK(read_file(done) == "finished");
}

TEST_CASE("a forked child does not wait for its parent's jobs", "[background_jobs]") {
  std::mutex lock;
  std::condition_variable cv;
  bool release = false;
  BackgroundJob job;
  std::thread worker([&, job = std::move(job)]() mutable {
    BackgroundJob running = std::move(job);
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
  worker.join();
  sidecar::host::wait_for_background_jobs();  // returns: the job has ended
}

TEST_CASE("a job that can end early is told the process is ending", "[background_jobs]") {
  sidecar::test::TempDir dir("jobs");
  const std::string told = dir.path + "/told";
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    BackgroundJob job;
    std::thread([told, job = std::move(job)]() mutable {
      BackgroundJob running = std::move(job);
      while (!sidecar::host::background_jobs_stopping()) std::this_thread::yield();  // without it, exit hangs
      std::ofstream(told) << "stopping";
    }).detach();
    std::exit(5);
  }
  CHECK(wait_child(child) == 5);
  CHECK(read_file(told) == "stopping");
  CHECK_FALSE(sidecar::host::background_jobs_stopping());  // only the ending process is told
}
