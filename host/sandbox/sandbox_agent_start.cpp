#include "sandbox/sandbox_agent_start.hpp"

#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "process/close_fds.hpp"
#include "sandbox/landlock.hpp"
#include "sandbox/socket_filter.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace {

// A line the child writes, made without allocating: a buffer on its stack, cut short when full.
class ChildText {
 public:
  explicit ChildText(const char* start = "") { *this << start; }
  ChildText& operator<<(const char* s) {
    for (; s && *s; ++s) put(*s);
    return *this;
  }
  ChildText& operator<<(long n) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits - 1, n);  // never allocates
    *r.ptr = '\0';
    return *this << digits;
  }
  // errno's description (never translated, never allocated; strerror may do both, under a lock),
  // or its number where the C library has no such call (glibc before 2.32).
  ChildText& error(int e) {
#if defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 32)
    if (const char* text = strerrordesc_np(e)) return *this << text;
#endif
#endif
    return *this << "error " << long{e};
  }
  const char* c_str() const { return text_; }
  // Writes it on stderr, a line, and ends the child with `code`.
  [[noreturn]] void exit_with(int code) {
    text_[size_++] = '\n';  // put() leaves room for it
    write_fully(2, std::string_view(text_, size_));
    _exit(code);
  }

 private:
  void put(char c) {
    if (size_ + 2 < sizeof text_) text_[size_++] = c;
  }
  char text_[512] = {};  // ends with '\0' (c_str) until exit_with
  std::size_t size_ = 0;
};

// What the child needs, made before it starts.
struct Prepared {
  std::vector<char*> argv;  // null-ended
  int ruleset = -1;         // Landlock's, or -1: none
  std::vector<sock_filter> filter;
  const char* filter_off = "";  // why `filter` is empty
  int channel = -1;             // the listener goes back over it
  bool drop_capabilities = false;
  rlim_t nproc = 0;  // RLIMIT_NPROC; 0: none
};

// Without a user namespace of its own, an agent started by root would keep root's capabilities
// (bubblewrap drops them all): every one is dropped, from the bounding set too, so that no program
// it runs, setuid ones included, gets one back. false, and `why` saying so, when one stays.
bool drop_capabilities(ChildText& why) {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 || errno == EINVAL) continue;
    const int e = errno;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
      why << "cannot drop capability " << long{cap} << ": ";
      why.error(e);
      return false;
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0) {
    why << "cannot clear the capabilities: ";
    why.error(errno);
    return false;
  }
  return true;
}

// The vfork()ed child, on the first process's memory until execvp succeeds: system calls only,
// nothing that allocates, takes a lock or returns into the parent's frames. This function is not
// instrumented (sanitizer bookkeeping here would write into the suspended parent's state); the
// helpers it calls are, and rely on the sanitizers' own handling of vfork. Every signal stays
// blocked until just before exec, its handler reset first, as in host/process/spawn_child.cpp.
[[noreturn]] __attribute__((noinline, no_sanitize("address", "undefined"))) void exec_agent(const Prepared& p) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // EINVAL for libc's own: fine
  }
  ChildText line("sidecar sandbox: ");
  if (p.drop_capabilities && !drop_capabilities(line)) line.exit_with(125);
  if (p.ruleset >= 0) {
    if (const char* failed = landlock_enforce(p.ruleset)) {
      const int e = errno;
      (line << "cannot confine the agent with Landlock: " << failed << ": ").error(e).exit_with(125);
    }
  }
  ChildText off;
  int listener = -1;
  if (p.filter.empty()) {
    off << p.filter_off;
  } else {
    const char* failed = "";
    listener = install_socket_filter(p.filter, failed);
    if (listener < 0) (off << failed << ": ").error(errno);
  }
  // From here no connect() or sendto() with an address before exec: its notification would wait
  // for the parent, which is frozen until this child executes.
  hand_over_listener(p.channel, listener, off.c_str());
  close_descriptors_from(3);  // the report, the signal and forwarding descriptors are not the agent's
  if (p.nproc > 0) {
    // Both values: raising a hard limit takes CAP_SYS_RESOURCE outside the sandbox.
    const rlimit nproc{p.nproc, p.nproc};
    if (setrlimit(RLIMIT_NPROC, &nproc) != 0) {
      const int e = errno;
      (line << "cannot bound the processes: ").error(e).exit_with(125);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvp(p.argv[0], p.argv.data());
  const int e = errno;
  (line << "cannot run '" << p.argv[0] << "': ").error(e).exit_with(127);
}

}  // namespace

AgentStart start_agent(const SandboxInitOptions& o) {
  AgentStart out;
  Prepared p;
  for (const std::string& a : o.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  UniqueFd ruleset;
  if (o.landlock) {
    ruleset.reset(landlock_ruleset(o.landlock_plan, out.error));
    if (ruleset.fd < 0) {
      out.error = "cannot confine the agent with Landlock: " + out.error;
      return out;
    }
    p.ruleset = ruleset.fd;
  }
  std::string filter_off;
  p.filter = socket_filter_program(filter_off);
  p.filter_off = filter_off.c_str();
  p.drop_capabilities = o.subreaper;
  // Without a user namespace (--subreaper), RLIMIT_NPROC would count all the user's processes.
  if (o.pids > 0 && !o.subreaper) p.nproc = static_cast<rlim_t>(o.pids);
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    out.error = std::string("cannot start the agent: ") + std::strerror(errno);
    return out;
  }
  UniqueFd mine(channel[0]), theirs(channel[1]);
  p.channel = theirs.fd;
  // Every signal blocked from before the vfork until the child has reset them all: a handler of
  // this process's running in the child would run on this process's stack.
  sigset_t all, saved;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &saved);
  const pid_t pid = vfork();
  if (pid == 0) exec_agent(p);
  const int vfork_errno = errno;
  sigprocmask(SIG_SETMASK, &saved, nullptr);
  theirs.reset();
  if (pid < 0) {
    out.error = std::string("cannot start the agent: ") + std::strerror(vfork_errno);
    return out;
  }
  out.pid = pid;
  out.listener = take_listener(mine.fd, out.guard_off);
  return out;
}

}  // namespace sidecar::host
