#include "process/spawn_child.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_set>

#include "process/close_fds.hpp"
#include "process/run_cgroup.hpp"

#if defined(__x86_64__)
#include <linux/sched.h>  // struct clone_args, CLONE_INTO_CGROUP (Linux 5.7)

// clone3() the way vfork() is made: the child runs on the parent's stack until it executes, so
// the return address is kept in a register across the system call and pushed back by each side
// (a child returning through the stack would leave the parent a clobbered one). Returns the
// child's pid in the parent, 0 in the child, or -errno.
extern "C" long sidecar_clone3_vfork(struct clone_args* args, unsigned long size) __attribute__((returns_twice));
asm(R"(
  .text
  .globl sidecar_clone3_vfork
  .hidden sidecar_clone3_vfork
  .type sidecar_clone3_vfork, @function
sidecar_clone3_vfork:
  .cfi_startproc
  popq %rdx
  .cfi_adjust_cfa_offset -8
  .cfi_register %rip, %rdx
  movl $435, %eax
  syscall
  pushq %rdx
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rip, 0
  ret
  .cfi_endproc
  .size sidecar_clone3_vfork, .-sidecar_clone3_vfork
)");
#endif

namespace sidecar::host {
namespace {

// Runs in the vfork()ed child, on the parent's memory until execve succeeds: system calls only,
// nothing that allocates, takes a lock or returns into the parent's frames. A failure goes back
// to the parent through `*error` (the parent resumes only once the child has exec'd or exited).
// Not instrumented: sanitizer bookkeeping here would write into the suspended parent's state.
[[noreturn]] __attribute__((noinline, no_sanitize("address", "undefined"))) void exec_child(
    const ChildSpec& spec, pid_t parent, int cgroup_fd, volatile int* error) {
  int e = 0;
  // Into the run's cgroup first (run_cgroup.hpp), so nothing the program starts is ever outside
  // it. Optional: a refusal leaves the child where it is.
  if (cgroup_fd >= 0) {
    ssize_t moved = write(cgroup_fd, "0", 1);
    (void)moved;
  }
  if (setsid() < 0) e = errno;
  for (int fd = 0; fd < 3 && e == 0; ++fd) {
    int from = spec.stdio[fd];
    if (from == fd) {  // already in place: only its close-on-exec flag goes
      int flags = fcntl(fd, F_GETFD);
      if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) e = errno;
    } else if (from >= 0) {
      if (dup2(from, fd) < 0) e = errno;
    } else {
      int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      if (null < 0) {
        e = errno;
      } else if (null != fd) {
        if (dup2(null, fd) < 0) e = errno;
        close(null);
      }
    }
  }
  if (e == 0 && spec.fd3 >= 0) {
    if (spec.fd3 == 3) {
      int flags = fcntl(3, F_GETFD);
      if (flags < 0 || fcntl(3, F_SETFD, flags & ~FD_CLOEXEC) < 0) e = errno;
    } else if (dup2(spec.fd3, 3) < 0) {
      e = errno;
    }
  }
  // Nothing else the caller left open reaches the program (close_fds.hpp): only what it is given.
  if (e == 0) e = close_descriptors_from(spec.fd3 >= 0 ? 4 : 3);
  if (e == 0 && spec.cwd && chdir(spec.cwd) != 0) e = errno;
  // Signals Sidecar ignores (SIGPIPE) or handles must be at their defaults in the program; every
  // one is reset before any is unblocked, so no Sidecar handler can run in this child.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG && e == 0; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // EINVAL for libc's own: fine
  }
  if (spec.term_ignored) {
    struct sigaction ign = dfl;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &ign, nullptr);
  }
  if (e == 0 && spec.parent_death_signal != 0) {
    if (prctl(PR_SET_PDEATHSIG, spec.parent_death_signal) != 0) {
      e = errno;
    } else if (getppid() != parent) {
      _exit(127);  // the parent died before the signal was armed: nobody wants this program now
    }
  }
  if (e == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(spec.file, spec.argv, spec.envp);
    e = errno;
  }
  *error = e;
  _exit(127);
}

std::mutex g_spawned_mutex;
std::unordered_set<pid_t>& spawned() {
  static auto* set = new std::unordered_set<pid_t>();  // never destroyed: children may end at exit
  return *set;
}

}  // namespace

int spawn_child(const ChildSpec& spec, pid_t& pid) {
  // Every signal stays blocked from before the vfork until the child has reset them all: a
  // handler of Sidecar's running in the child would run on the parent's stack.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t parent = getpid();
  volatile int error = 0;
  pid_t child = -1;
#if defined(__x86_64__)
  // Started in the run's cgroup by the kernel (CLONE_INTO_CGROUP): moving a process later, by
  // writing cgroup.procs, waits for the kernel to quiesce every CPU and costs a run 5 to 15 ms.
  if (armed_cgroup_dir_fd() >= 0) {
    struct clone_args args {};
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<unsigned>(armed_cgroup_dir_fd());
    long r = sidecar_clone3_vfork(&args, sizeof args);
    if (r == 0) exec_child(spec, parent, -1, &error);
    child = r > 0 ? pid_t(r) : -1;  // refused (an older kernel, a seccomp filter): vfork below
  }
#endif
  int vfork_errno = 0;
  if (child < 0) {
    int cgroup_fd = armed_cgroup_fd();
    child = vfork();
    if (child == 0) exec_child(spec, parent, cgroup_fd, &error);
    vfork_errno = errno;
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (child < 0) return vfork_errno;
  if (error != 0) {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return error;
  }
  pid = child;
  return 0;
}

void note_spawned(pid_t pid) {
  std::lock_guard<std::mutex> hold(g_spawned_mutex);
  spawned().insert(pid);
}

void note_reaped(pid_t pid) {
  std::lock_guard<std::mutex> hold(g_spawned_mutex);
  spawned().erase(pid);
}

bool spawned_here(pid_t pid) {
  std::lock_guard<std::mutex> hold(g_spawned_mutex);
  return spawned().count(pid) > 0;
}

}  // namespace sidecar::host
