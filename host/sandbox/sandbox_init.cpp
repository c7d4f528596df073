#include "sandbox/sandbox_init.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "sandbox/sandbox_agent_start.hpp"
#include "sandbox/sandbox_forward.hpp"
#include "sandbox/sandbox_processes.hpp"
#include "sandbox/sandbox_watch.hpp"
#include "sandbox/socket_guard.hpp"
#include "util/json_text.hpp"
#include "util/unique_fd.hpp"
#include "util/utf8.hpp"

namespace sidecar::host {
namespace {

constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void noop_handler(int) {}

void write_report(int fd, int status, const std::vector<SandboxProcess>& left, long own_sid, bool stopped, const SandboxWatch& w,
                  const std::string& sockets) {
  if (fd < 0) return;
  std::string r = WIFSIGNALED(status) ? "{\"signal\":" + std::to_string(WTERMSIG(status))
                                      : "{\"exit_code\":" + std::to_string(WEXITSTATUS(status));
  r += ",\"stopped\":";
  r += stopped ? "true" : "false";
  r += ",\"escapees\":[";
  for (std::size_t i = 0; i < left.size(); ++i) {
    r += (i ? "," : "") + std::string("{\"pid\":") + std::to_string(left[i].pid) + ",\"command\":" +
         json_text::quoted(left[i].command) + ",\"left_session\":" + (left[i].sid != own_sid ? "true" : "false") + "}";
  }
  r += "]";
  if (w.on) r += limits_json(w);
  r += sockets;
  r += "}\n";
  write_fully(fd, r);
  ::close(fd);
}

// Listens for the agent's connections; `proxy_port` is set to the proxy port's (0: none).
bool set_up_network(const SandboxInitOptions& o, SandboxForwarder& fwd, uint16_t& proxy_port) {
  std::string error;
  for (uint16_t port : o.direct_ports) {
    if (!fwd.listen_direct(port, error)) {
      std::fprintf(stderr, "sidecar sandbox: %s\n", error.c_str());
      return false;
    }
  }
  if (o.proxy_env) {
    if (!fwd.listen_proxy(proxy_port, error)) {
      std::fprintf(stderr, "sidecar sandbox: %s\n", error.c_str());
      return false;
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(proxy_port);
    for (const char* name : {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"}) {
      setenv(name, url.c_str(), 1);
    }
    for (const char* name : {"NO_PROXY", "no_proxy"}) setenv(name, "localhost,127.0.0.1,::1", 1);
  }
  return true;
}

}  // namespace

namespace {

// The whole of a file the host wrote for this process (with plain reads: no stream library in
// sidecar-sandbox-init, whose every start pays for its size); false, saying why, when it cannot be
// read whole.
bool read_whole_file(const std::string& file, std::string& text, std::string& why) {
  constexpr std::size_t kMax = 64 << 20;
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[16384];
  for (ssize_t n = 0; fd.fd >= 0 && text.size() <= kMax;) {
    n = ::read(fd.fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    if (n < 0 && errno != EINTR) break;
  }
  const int error = errno;
  why = text.size() > kMax ? file + " is over 64 MiB" : "cannot read " + file + ": " + std::strerror(error);
  return false;
}

// A file of Landlock paths (--landlock-paths): "l" (list), "r" (read) or "w" (write), then a path,
// each ended by a NUL (a path may hold any other byte, a newline included).
bool read_landlock_paths(const std::string& file, LandlockPlan& plan, std::string& why) {
  std::string text;
  if (!read_whole_file(file, text, why)) {
    why = "--landlock-paths: " + why;
    return false;
  }
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t kind_end = text.find('\0', at);
    const std::size_t path_end = kind_end == std::string::npos ? kind_end : text.find('\0', kind_end + 1);
    const std::string kind = text.substr(at, kind_end - at);
    if ((kind != "l" && kind != "r" && kind != "w") || path_end == std::string::npos || text[kind_end + 1] != '/') {
      why = "--landlock-paths: " + file + " is not a list of \"l\", \"r\" or \"w\" and an absolute path, each ended by "
            "a NUL";
      return false;
    }
    auto& list = kind == "l" ? plan.list : kind == "r" ? plan.read : plan.write;
    list.push_back(text.substr(kind_end + 1, path_end - kind_end - 1));
    at = path_end + 1;
  }
  return true;
}

}  // namespace

bool parse_sandbox_init(const std::vector<std::string>& args, SandboxInitOptions& o, std::string& why) {
  auto number = [&](const std::string& flag, const std::string& value, int64_t max, int64_t& out) {
    char* end = nullptr;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n < 0 || n > max) {
      why = flag + " takes a number from 0 to " + std::to_string(max) + ", got '" + value + "'";
      return false;
    }
    out = n;
    return true;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      o.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      if (o.argv.empty()) break;
      if (o.subreaper && !o.direct_ports.empty()) {
        why = "--forward needs the sandbox's network namespace: with --subreaper the agent reaches a loopback "
              "port itself (--landlock-connect)";
        return false;
      }
      return true;
    }
    const bool has_value = a == "--report-fd" || a == "--settle-ms" || a == "--proxy" || a == "--forward" ||
                           a == "--pids" || a == "--memory" || a == "--socket-allow" || a == "--landlock-read" ||
                           a == "--landlock-write" || a == "--landlock-connect" || a == "--stop-grace-ms" ||
                           a == "--landlock-paths" || a == "--shared-file" || a == "--shared-max";
    if (has_value && i + 1 >= args.size()) {
      why = a + " needs a value";
      return false;
    }
    int64_t n = 0;
    if (a == "--report-fd") {
      if (!number(a, args[++i], 1 << 20, n)) return false;
      o.report_fd = static_cast<int>(n);
    } else if (a == "--settle-ms") {
      if (!number(a, args[++i], 3600000, n)) return false;
      o.settle_ms = n;
    } else if (a == "--proxy") {
      o.proxy_socket = args[++i];
    } else if (a == "--forward") {
      if (!number(a, args[++i], 65535, n) || n == 0) {
        why = "--forward takes a port from 1 to 65535, got '" + args[i] + "'";
        return false;
      }
      o.direct_ports.push_back(static_cast<uint16_t>(n));
    } else if (a == "--pids") {
      if (!number(a, args[++i], 1 << 22, o.pids)) return false;
    } else if (a == "--memory") {
      if (!number(a, args[++i], int64_t(1) << 50, o.memory)) return false;
    } else if (a == "--shared-max") {
      if (!number(a, args[++i], int64_t(1) << 50, o.shared_max)) return false;
    } else if (a == "--shared-file") {
      o.shared_files.push_back(args[++i]);
    } else if (a == "--socket-allow") {
      o.socket_allow.push_back(args[++i]);
    } else if (a == "--host-network") {
      o.host_network = true;
    } else if (a == "--stop-grace-ms") {
      if (!number(a, args[++i], 3600000, o.stop_grace_ms)) return false;
    } else if (a == "--subreaper") {
      o.subreaper = true;
    } else if (a == "--landlock-read" || a == "--landlock-write") {
      o.landlock = true;
      (a == "--landlock-read" ? o.landlock_plan.read : o.landlock_plan.write).push_back(args[++i]);
    } else if (a == "--landlock-paths") {
      if (!read_landlock_paths(args[++i], o.landlock_plan, why)) return false;
      o.landlock = true;
    } else if (a == "--landlock-tcp") {
      o.landlock = o.landlock_plan.tcp = true;
    } else if (a == "--landlock-connect") {
      if (!number(a, args[++i], 65535, n) || n == 0) {
        why = "--landlock-connect takes a port from 1 to 65535, got '" + args[i] + "'";
        return false;
      }
      o.landlock = o.landlock_plan.tcp = true;
      o.landlock_plan.connect_ports.push_back(static_cast<int>(n));
    } else if (a == "--proxy-env") {
      o.proxy_env = true;
    } else {
      why = "unknown option '" + a + "'";
      return false;
    }
  }
  why = "no program given (… -- PROGRAM ARGS...)";
  return false;
}

int run_sandbox_init(const SandboxInitOptions& options) {
  SandboxInitOptions o = options;
  if (o.subreaper) {
    prctl(PR_SET_CHILD_SUBREAPER, 1);  // what the agent leaves behind is reparented here, not to init
  } else if (getpid() != 1) {
    std::fprintf(stderr, "sidecar sandbox-init: must be the first process of a pid namespace of its own "
                         "(it is started by bwrap --unshare-pid --as-pid-1, never by hand)\n");
    return 125;
  }
  prctl(PR_SET_DUMPABLE, 0);  // /proc/1/fd (the report's descriptor) closed to the agent
  if (o.report_fd >= 0) fcntl(o.report_fd, F_SETFD, FD_CLOEXEC);
  SandboxForwarder fwd(o.proxy_socket);
  uint16_t proxy_port = 0;
  if ((!o.proxy_socket.empty() || o.proxy_env) && !set_up_network(o, fwd, proxy_port)) return 125;
  // Outside a network namespace (--subreaper), the proxy listens on the machine's loopback: the
  // one port, beside those given, a Landlock-limited agent may connect to.
  if (proxy_port != 0 && o.landlock_plan.tcp) o.landlock_plan.connect_ports.push_back(proxy_port);

  // Handlers, not SIG_DFL: the first process of a namespace gets signals from outside it only when
  // it handles them. They stay blocked and are read from a signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  struct sigaction sa {};
  sa.sa_handler = noop_handler;
  sigemptyset(&sa.sa_mask);
  for (int sig : kStopSignals) sigaction(sig, &sa, nullptr), sigaddset(&mask, sig);
  sigaction(SIGCHLD, &sa, nullptr);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  UniqueFd sigfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  SandboxProcess self;
  read_sandbox_process(o.subreaper ? getpid() : 1, self);
  const int mine = o.subreaper ? getpid() : 0;  // sandbox_processes(mine): the processes that are the sandbox's
  const pid_t owner = getppid();

  SandboxWatch watch;
  start_watch(o, watch);

  const AgentStart started = start_agent(o);
  if (started.pid < 0) {
    std::fprintf(stderr, "sidecar sandbox: %s\n", started.error.c_str());
    return 125;
  }
  const pid_t agent = started.pid;
  const std::string& guard_off = started.guard_off;
  std::unique_ptr<SocketGuard> guard;
  if (started.listener >= 0) {
    guard = std::make_unique<SocketGuard>(started.listener, SocketGuardOptions{o.socket_allow, o.host_network,
                                                                               o.landlock_plan.tcp,
                                                                               o.landlock_plan.connect_ports, mine});
  }

  bool stopped = false, agent_done = false, group_ended = false;
  std::vector<int> group;  // the pids killed with the agent's group
  auto killed_in_group = [&group](int pid) { return std::find(group.begin(), group.end(), pid) != group.end(); };
  int status = 0;
  int64_t deadline = 0, stop_at = 0;
  int64_t next_watch = watch.on ? now_ms() + kWatchMs : 0;
  std::vector<pollfd> fds;
  for (;;) {
    fds.assign(1, pollfd{sigfd.fd, POLLIN, 0});
    fwd.fill(fds);
    int wait_ms = agent_done || stop_at != 0 ? 20 : 1000;
    if (watch.on) wait_ms = static_cast<int>(std::clamp<int64_t>(next_watch - now_ms(), 0, wait_ms));
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) break;
    signalfd_siginfo si{};
    while (::read(sigfd.fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (si.ssi_signo != SIGCHLD) stopped = true;
    }
    // As a subreaper, nothing ends the agent with this process: when the run's owner is gone (its
    // death sends the stop signal), everything it started ends now.
    // As a subreaper, nothing ends the agent with this process, and the watchdog's SIGKILL of the
    // group would end this one first: once asked to stop, the agent has its grace (shorter than the
    // watchdog's), then everything it started ends; at once when the run's owner is gone (its death
    // sent the stop signal).
    if (o.subreaper && stopped && !agent_done) {
      if (stop_at == 0) stop_at = now_ms() + (getppid() != owner ? 0 : o.stop_grace_ms);
      if (now_ms() >= stop_at) {
        kill_sandbox(mine);  // reaps the agent too
        agent_done = true;
        status = SIGKILL;  // a wait status: ended by SIGKILL
        deadline = now_ms();
      }
    }
    int st = 0;
    for (pid_t p; (p = waitpid(-1, &st, WNOHANG)) > 0;) {
      if (p == agent) {
        status = st;
        agent_done = true;
        deadline = now_ms() + o.settle_ms;
      }
    }
    if (n > 0) fwd.serve(fds.data() + 1, fds.size() - 1);
    if (watch.on && now_ms() >= next_watch) {
      next_watch = now_ms() + watch_limits(o, watch);
    }
    if (!agent_done) continue;
    if (!group_ended) {
      // What stayed in the agent's process group and session ends with it, as outside a sandbox
      // (the watchdog ends the agent's group): only what left them is an escapee. A process
      // killed here may show as running for a moment: it is not waited for, nor reported.
      group_ended = true;
      for (const SandboxProcess& p : sandbox_processes(mine)) {
        if (p.pgrp == self.pgrp && p.sid == self.sid && kill(p.pid, SIGKILL) == 0) group.push_back(p.pid);
      }
    }
    std::vector<SandboxProcess> left;
    for (const SandboxProcess& p : sandbox_processes(mine)) {
      if (!killed_in_group(p.pid)) left.push_back(p);
    }
    // A runaway stopped by the pids bound is not waited for: all it left goes at once.
    if (!left.empty() && !stopped && !watch.runaway() && now_ms() < deadline) continue;
    kill_sandbox(mine);  // every other process of the sandbox, and only those
    while (waitpid(-1, &st, 0) > 0 || errno == EINTR) {
    }
    fwd.close_all();
    if (watch.runaway()) left.clear();  // killed for the bound, not escapees of the agent
    std::string sockets = guard ? guard->report_json() : "";
    if (!guard) json_text::append_string(sockets.append(",\"socket_guard_off\":"), utf8_repair(guard_off));
    write_report(o.report_fd, status, left, self.sid, stopped, watch, sockets);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  }
  std::fprintf(stderr, "sidecar sandbox: poll failed: %s\n", std::strerror(errno));
  return 125;
}

}  // namespace sidecar::host
