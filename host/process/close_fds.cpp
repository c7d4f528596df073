#include "process/close_fds.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace sidecar::host {
namespace {

// One entry of getdents64's buffer (the kernel's struct linux_dirent64).
struct Dirent64 {
  unsigned long long ino;
  long long off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

int parse_fd(const char* s) {
  int n = 0;
  if (*s == '\0') return -1;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || n > 100000000) return -1;
    n = n * 10 + (*s - '0');
  }
  return n;
}

// The fallback for kernels without close_range: closes what /proc/self/fd lists. Closing while the
// folder is read is safe here: each pass starts again from the beginning until a pass closes nothing.
__attribute__((no_sanitize("address", "undefined"))) int close_listed(int first) {
  for (;;) {
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return errno;
    bool closed_any = false;
    alignas(8) char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
      for (long at = 0; at < n;) {
        const auto* d = reinterpret_cast<const Dirent64*>(buf + at);
        const int fd = parse_fd(d->name);
        if (fd >= first && fd != dir) {
          close(fd);
          closed_any = true;
        }
        at += d->reclen;
      }
    }
    const int e = n < 0 ? errno : 0;
    close(dir);
    if (e != 0) return e;
    if (!closed_any) return 0;
  }
}

}  // namespace

__attribute__((no_sanitize("address", "undefined"))) int close_descriptors_from(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return 0;
  if (errno != ENOSYS && errno != EPERM) return errno;  // EPERM: a seccomp filter refusing it
#endif
  return close_listed(first);
}

}  // namespace sidecar::host
