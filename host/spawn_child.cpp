#include "spawn_child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

namespace sidecar::host {

int spawn_child(const ChildSpec& spec, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);

  int r = 0;
  for (int fd = 0; fd < 3 && r == 0; ++fd) {
    if (spec.stdio[fd] >= 0) {
      // dup2 onto itself clears close-on-exec (glibc follows POSIX 2024 here).
      r = posix_spawn_file_actions_adddup2(&actions, spec.stdio[fd], fd);
    } else {
      r = posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  if (r == 0 && spec.cwd) r = posix_spawn_file_actions_addchdir_np(&actions, spec.cwd);

  // Signals Sidecar ignores (SIGPIPE) or handles must not stay ignored or blocked in the child.
  sigset_t defaults, none;
  sigemptyset(&defaults);
  for (int sig = 1; sig < 32; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
  }
  sigemptyset(&none);
  if (r == 0) r = posix_spawnattr_setsigdefault(&attr, &defaults);
  if (r == 0) r = posix_spawnattr_setsigmask(&attr, &none);
  if (r == 0) r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (r == 0) r = posix_spawn(&pid, spec.file, &actions, &attr, spec.argv, spec.envp);

  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return r;
}

}  // namespace sidecar::host
