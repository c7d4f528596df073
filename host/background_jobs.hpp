// Work a command starts on a thread of its own and may never wait for (a snapshot read while the
// run starts, then abandoned when an error or os.exit ends the command first). exit() must not
// tear down the process's statics and libraries under such a thread, so every job is counted and
// the first job registers an atexit handler that waits for the count to reach zero.
#pragma once

namespace sidecar::host {

// Counts one job for as long as it lives: make it on the thread that starts the job (before the
// thread exists, so an exit in between still waits), move it into the job, and let the job's
// end destroy it.
class BackgroundJob {
 public:
  BackgroundJob();
  ~BackgroundJob();
  BackgroundJob(BackgroundJob&& other) noexcept;
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;
  BackgroundJob& operator=(BackgroundJob&&) = delete;

 private:
  bool counted_;
};

// Returns once no job of this process is running (at once in a forked child, which has no
// threads of its parent). While it waits, background_jobs_stopping() is true, so a job that can
// end early does (a snapshot no one will read stops reading the work tree). exit() calls it, but exit handlers run last-registered first, and a
// job may start libraries that register their own (OpenSSL, through libgit2, as it loads): those
// would tear down what the job still uses before this handler ran. So main returns, and Lua's
// os.exit exits, only after calling this (lua/engine.cpp); the exit handler is the last resort.
void wait_for_background_jobs();

// True while wait_for_background_jobs() waits: the process is ending, and a job whose result
// no one will read should stop.
bool background_jobs_stopping();

}  // namespace sidecar::host
