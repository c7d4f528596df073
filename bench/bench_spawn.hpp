// Shared by the benchmarks that time whole processes: one run of a command, spawn to exit.
#pragma once
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "bench_stats.hpp"

extern char** environ;

namespace sidecar::bench {

// Wall time of one run of argv in `cwd` (stdin from `stdin_path`, else /dev/null; stdout and
// stderr to /dev/null), in ms; -1 when it cannot start or does not exit 0.
inline double run_ms(const std::vector<std::string>& argv, const std::string& cwd, char** env = environ,
                     const std::string& stdin_path = "/dev/null") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  long long t0 = now_ns();
  pid_t pid;
  int r = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), env);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  double ms = (now_ns() - t0) / 1e6;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

}  // namespace sidecar::bench
