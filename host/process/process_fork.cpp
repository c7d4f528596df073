// A ready process's copies (process_fork.hpp).
#include "process/process_fork.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sidecar::host {
namespace {

// Threads of this process (/proc/self/status), 0 when it cannot be read.
int thread_count() {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return 0;
  char line[256];
  int n = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "Threads: %d", &n) == 1) break;
  }
  std::fclose(f);
  return n;
}

// Threads of this process once the ones that have ended are gone, looked at every millisecond up
// to `wait_ms`: a thread joined a moment ago (its id cleared, so std::thread::join returned) still
// counts until the kernel has released it, which on a busy machine can come after the join (a
// preset's pool forks its first workers right after its search for secret files joined its
// threads: "runs 2 threads" now and then).
constexpr int kThreadSettleMs = 1000;
int settled_thread_count(int wait_ms) {
  int n = thread_count();
  for (int waited = 0; n > 1 && waited < wait_ms; ++waited) {
    ::usleep(1000);
    n = thread_count();
  }
  return n;
}

// In the copy, before it goes on: SIGTERM when the original ends (already gone: at once), no
// input of the original's, a process loop of its own.
void become_copy(ProcessLoop& loop, pid_t original) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != original) ::raise(SIGTERM);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, STDIN_FILENO) < 0) std::_Exit(127);
  if (null != STDIN_FILENO) ::close(null);
  std::string why;
  if (!loop.after_fork(why)) {
    std::fprintf(stderr, "sidecar: %s\n", why.c_str());
    std::_Exit(127);
  }
}

}  // namespace

pid_t fork_copy(ProcessLoop& loop, std::string& error) {
  if (loop.running() > 0) {
    error = "fork: a child process of this one is running";
    return -1;
  }
  if (int threads = settled_thread_count(kThreadSettleMs); threads != 1) {
    error = "fork: this process runs " + std::to_string(threads) + " threads, not one";
    return -1;
  }
  std::fflush(nullptr);
  pid_t original = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) become_copy(loop, original);
  return pid;
}

std::vector<CopyEnd> reap_copies(const std::vector<pid_t>& pids) {
  std::vector<CopyEnd> ended;
  for (pid_t pid : pids) {
    int status = 0;
    if (pid <= 0 || ::waitpid(pid, &status, WNOHANG) != pid) continue;
    CopyEnd e;
    e.pid = pid;
    if (WIFSIGNALED(status)) {
      e.signal = WTERMSIG(status);
    } else {
      e.code = WEXITSTATUS(status);
    }
    ended.push_back(e);
  }
  return ended;
}

}  // namespace sidecar::host
