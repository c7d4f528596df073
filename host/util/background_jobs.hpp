// Work a command starts on a thread of its own and may never wait for (a snapshot read while the
// run starts, then abandoned when an error or os.exit ends the command first; libgit2 loading).
// exit() must not tear down the process's statics and libraries under such a thread, so every
// job's thread is kept, and the process's end joins it: its work and its thread's own teardown
// (thread-local destructors, libgit2's and OpenSSL's among them) are over before exit goes on.
#pragma once

#include <functional>

namespace sidecar::host {

// Runs `work` on a thread of its own (an exception it lets out is dropped: a job reports its
// own failures). The thread is joined by wait_for_background_jobs(), or, once its work is done,
// by a later start.
void start_background_job(std::function<void()> work);

// Joins every job's thread of this process (none in a forked child, which has no threads of
// its parent). While it waits, background_jobs_stopping() is true, so a job that can end early
// does (a snapshot no one will read stops adding files). It is called as the process ends: exit
// calls it, but exit handlers run last-registered first, and a job may start libraries that
// register their own (OpenSSL, through libgit2, as it loads): those would tear down what the job
// still uses before this handler ran. So main returns, and Lua's os.exit exits, only after
// calling this (lua/engine.cpp); the exit handler is the last resort.
void wait_for_background_jobs();

// True while wait_for_background_jobs() waits: the process is ending, and a job whose result
// no one will read should stop.
bool background_jobs_stopping();

}  // namespace sidecar::host
