#include "sandbox/socket_filter.hpp"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace sidecar::host {
namespace {

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
constexpr unsigned kX32Bit = 0x40000000;
// i386's socket calls, which a 32-bit program on x86-64 reaches with int 0x80.
constexpr unsigned kI386Socketcall = 102, kI386Connect = 362, kI386Sendto = 369, kI386Sendmsg = 370,
                   kI386Sendmmsg = 345, kI386IoUringSetup = 425;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#endif

constexpr unsigned kNr = offsetof(seccomp_data, nr);
constexpr unsigned kArchField = offsetof(seccomp_data, arch);
// sendto's fifth argument, the address: its two 32-bit halves.
constexpr unsigned kAddrLow = offsetof(seccomp_data, args) + 4 * sizeof(__u64);
constexpr unsigned kAddrHigh = kAddrLow + sizeof(__u32);

sock_filter load(unsigned offset) { return BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset); }
sock_filter ret(unsigned action) { return BPF_STMT(BPF_RET | BPF_K, action); }
// Jumps `skip` instructions on equal, none otherwise.
sock_filter if_eq(unsigned value, unsigned char skip) { return BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, skip, 0); }

#if defined(__x86_64__) || defined(__aarch64__)
std::vector<sock_filter> program() {
  const sock_filter notify = ret(SECCOMP_RET_USER_NOTIF), allow = ret(SECCOMP_RET_ALLOW),
                    nosys = ret(SECCOMP_RET_ERRNO | ENOSYS), refuse = ret(SECCOMP_RET_ERRNO | EACCES);
  std::vector<sock_filter> p;
  p.push_back(load(kArchField));
#if defined(__x86_64__)
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 9));  // not i386: to the native calls
  p.push_back(load(kNr));
  const unsigned refused[] = {kI386Socketcall, kI386Connect, kI386Sendto, kI386Sendmsg, kI386Sendmmsg, kI386IoUringSetup};
  for (unsigned i = 0; i < 6; ++i) p.push_back(if_eq(refused[i], static_cast<unsigned char>(6 - i)));
  p.push_back(allow);
  p.push_back(refuse);
  // native
  p.push_back(load(kArchField));
#endif
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  p.push_back(nosys);  // another ABI (32-bit ARM on AArch64): none of its calls
  p.push_back(load(kNr));
#if defined(__x86_64__)
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
  p.push_back(nosys);
#endif
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1));
  p.push_back(notify);
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1));
  p.push_back(nosys);
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 6));
  p.push_back(load(kAddrLow));  // sendto: only when it names an address
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3));
  p.push_back(load(kAddrHigh));
  p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1));
  p.push_back(allow);
  p.push_back(notify);
  p.push_back(allow);
  return p;
}
#endif

}  // namespace

bool socket_filter_supported() {
#if defined(__x86_64__) || defined(__aarch64__)
  return true;
#else
  return false;
#endif
}

std::vector<sock_filter> socket_filter_program(std::string& why) {
#if defined(__x86_64__) || defined(__aarch64__)
  if (syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno == ENOSYS) {
    why = "the kernel has no pidfd_getfd (Linux 5.6)";
    return {};
  }
  return program();
#else
  why = "no socket filter for this architecture";
  return {};
#endif
}

int install_socket_filter(const std::vector<sock_filter>& program, const char*& failed) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    failed = "no_new_privs";
    return -1;
  }
  const long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0) failed = "seccomp";
  return static_cast<int>(fd);
}

void hand_over_listener(int channel, int listener, const char* why) {
  const char* text = listener >= 0 ? "ok" : why;
  iovec iov{const_cast<char*>(text), std::strlen(text)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (listener >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
  }
  while (sendmsg(channel, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

int take_listener(int channel, std::string& why) {
  char text[512];
  iovec iov{text, sizeof text};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) {
    why = "the agent's process ended before its socket filter was set";
    return -1;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  why.assign(text, static_cast<std::size_t>(n));
  return -1;
}

}  // namespace sidecar::host
