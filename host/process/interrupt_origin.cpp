#include "process/interrupt_origin.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

namespace sidecar::host {
namespace {

// Written by the handler, read after it: the signal number is stored last (release) and read
// first (acquire), so the pid and the name belong to it.
std::atomic<int> g_signo{0};
std::atomic<int> g_pid{0};
char g_name[32];

}  // namespace

void note_interrupt_signal(const siginfo_t* info) {
  if (!info) return;
  // si_code <= 0: sent by a process (kill, sigqueue), whose pid is 0 when it lies outside our pid
  // namespace (-1 here); else sent by the kernel (a terminal's Ctrl-C), 0 here.
  int pid = info->si_code <= 0 ? (info->si_pid > 0 ? static_cast<int>(info->si_pid) : -1) : 0;
  g_name[0] = '\0';
  if (pid > 0) {
    char path[32] = "/proc/";
    int at = 6;
    char digits[12];
    int n = 0;
    for (int v = pid; v > 0 && n < 11; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
    while (n > 0) path[at++] = digits[--n];
    for (const char* s = "/comm"; *s; ++s) path[at++] = *s;
    path[at] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, g_name, sizeof g_name - 1) : -1;
    if (fd >= 0) close(fd);
    int end = got > 0 ? static_cast<int>(got) : 0;
    for (int i = 0; i < end; ++i) {
      unsigned char c = static_cast<unsigned char>(g_name[i]);
      if (c == '\n') {
        end = i;
        break;
      }
      if (c < 0x20 || c > 0x7e || c == '(' || c == ')') g_name[i] = '?';  // a name is shown, never obeyed
    }
    g_name[end] = '\0';
  }
  g_pid.store(pid, std::memory_order_relaxed);
  g_signo.store(info->si_signo, std::memory_order_release);
}

std::string interrupt_origin() {
  int signo = g_signo.load(std::memory_order_acquire);
  if (signo == 0) return "";
  std::string name = signo == SIGINT    ? "SIGINT"
                     : signo == SIGTERM ? "SIGTERM"
                     : signo == SIGHUP  ? "SIGHUP"
                                        : "signal " + std::to_string(signo);
  int pid = g_pid.load(std::memory_order_relaxed);
  if (pid < 0) return name + " from a process outside Sidecar's view";
  if (pid == 0) {
    return name + (signo == SIGINT ? " from the terminal (Ctrl-C)" : signo == SIGHUP ? " from the terminal (it closed)"
                                                                                   : " from the kernel");
  }
  std::string out = name + " from pid " + std::to_string(pid);
  if (g_name[0]) out += std::string(" (") + g_name + ")";
  return out;
}

}  // namespace sidecar::host
