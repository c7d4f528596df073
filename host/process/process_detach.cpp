#include "process/process_detach.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "process/process_state.hpp"  // detail::Fd and detail::open_tee, shared with the process loop
#include "process/program_path.hpp"
#include "process/spawn_child.hpp"

namespace sidecar::host {
namespace {

// What the middle process tells us through the pipe: spawn_child's result and the program's pid.
struct Report {
  int error = 0;
  pid_t pid = 0;
};

std::string errno_code(int e) {
  const char* name = strerrorname_np(e);
  return name ? name : "ESPAWN";
}

void close_between(unsigned lo, unsigned hi) {
  if (lo > hi || close_range(lo, hi, 0) == 0) return;
  // Kernels before 5.9 have no close_range: one by one, up to the descriptor limit.
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > (1 << 20)) max = 1 << 20;
  for (unsigned long fd = lo; fd <= hi && fd < static_cast<unsigned long>(max); ++fd) close(static_cast<int>(fd));
}

// Closes every descriptor from 3 up except the three in `keep` (-1 entries keep nothing). Runs
// in the middle process, so it allocates nothing. A worker that lives for hours must not hold a
// file or pipe Sidecar happened to have open without close-on-exec (a Lua io.open, a pipe that
// a caller's `$(...)` waits on to end).
void close_other_fds(int keep[3]) {
  for (int i = 0; i < 3; ++i) {  // sorted ascending: three elements, three compares
    for (int j = i + 1; j < 3; ++j) {
      if (keep[j] < keep[i]) std::swap(keep[i], keep[j]);
    }
  }
  unsigned lo = 3;
  for (int i = 0; i < 3; ++i) {
    if (keep[i] < static_cast<int>(lo)) continue;
    close_between(lo, static_cast<unsigned>(keep[i]) - 1);
    lo = static_cast<unsigned>(keep[i]) + 1;
  }
  close_between(lo, ~0u);
}

}  // namespace

pid_t detach_process(const DetachOptions& o, SpawnError& error) {
  if (!check_command(o.argv, o.cwd, error)) return 0;
  const std::string& program = o.argv[0];
  // The lookups the process loop makes, before any fork: a missing program is reported with the
  // PATH searched, and the middle process only has to call spawn_child.
  std::vector<std::string> env = build_environment(o.env, o.clear_env);
  std::optional<std::string> file = resolve_program(program, environment_value(env, "PATH"), o.cwd, error);
  if (!file) return 0;
  detail::Fd out, err, report_read, report_write;
  OutputSink out_sink, err_sink;
  out_sink.file = o.out_file;
  err_sink.file = o.err_file;
  out_sink.append = err_sink.append = true;
  if (!detail::open_tee(out_sink, "stdout", out, error) || !detail::open_tee(err_sink, "stderr", err, error)) return 0;

  std::vector<std::string> args = o.argv;
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ChildSpec child;  // stdin -1: /dev/null, and so are outputs without a file
  child.file = file->c_str();
  child.argv = argv.data();
  child.envp = envp.data();
  child.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  child.stdio[1] = out.fd;
  child.stdio[2] = err.fd;

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error = {"cannot run '" + program + "': cannot create a pipe: " + std::strerror(errno), errno_code(errno)};
    return 0;
  }
  report_read.reset(fds[0]);
  report_write.reset(fds[1]);

  // A double fork: the middle process starts the program and exits at once, we reap it here,
  // and the program, an orphan from its first instant, is reaped by init when it ends (or, while
  // an agent's run makes Sidecar a child subreaper, by the reaping of adopted orphans that ends
  // it); never a lasting zombie of ours. The fork copies page tables once (spawn_child
  // avoids that for the loop's many children); one background start can afford it.
  // Every signal stays blocked across the fork, so the middle process never runs a Sidecar
  // handler; spawn_child unblocks them all and resets them to their defaults for the program.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t middle = fork();
  if (middle == 0) {
    // The middle process: nothing that allocates in Sidecar's code, no atexit hooks (which
    // would kill the loop's process groups), just spawn, report and _exit.
    int keep[3] = {report_write.fd, out.fd, err.fd};
    close_other_fds(keep);
    Report r;
    r.error = spawn_child(child, r.pid);
    write_fully(report_write.fd, std::string_view(reinterpret_cast<const char*>(&r), sizeof r));
    _exit(0);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (middle < 0) {
    error = {"cannot run '" + program + "': fork failed: " + std::strerror(fork_errno), errno_code(fork_errno)};
    return 0;
  }
  report_write.reset();  // so the read below ends when the middle process does

  Report r;
  std::size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = ::read(report_read.fd, reinterpret_cast<char*>(&r) + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  // Only this pid: the process loop reaps its own children by pid, and so do popen and system.
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof r) {
    error = {"cannot run '" + program + "': the process starting it ended without reporting", "ESPAWN"};
    return 0;
  }
  if (r.error != 0) {
    std::string why = r.error == ENOEXEC ? "not an executable format (a script needs a #! line)"
                      : r.error == EACCES ? "permission denied" : std::strerror(r.error);
    error = {"cannot run '" + program + "': " + why, errno_code(r.error)};
    return 0;
  }
  return r.pid;
}

int signal_process(pid_t pid, int sig, bool group) {
  if (pid <= 0 || sig < 0) return EINVAL;
  return kill(group ? -pid : pid, sig) == 0 ? 0 : errno;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;  // EPERM: it exists, someone else's
  // A zombie still answers kill(2): its state in /proc/PID/stat ("pid (comm) S ...", the
  // command name may hold spaces and parentheses) tells.
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;  // gone meanwhile, or no /proc to ask: kill(2) said alive
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (!p || std::strlen(p) < 3) return true;
  return p[2] != 'Z' && p[2] != 'X';
}

}  // namespace sidecar::host
