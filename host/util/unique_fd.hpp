// A file descriptor closed when it goes out of scope, and a write that goes on until everything is
// written: what every core that handles descriptors itself shares. Header-only and allocation-free,
// so a forked child may use them too.
#pragma once
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string_view>

namespace sidecar::host {

struct UniqueFd {
  int fd = -1;
  UniqueFd() = default;
  explicit UniqueFd(int f) : fd(f) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  void reset(int next = -1) {
    if (fd >= 0) ::close(fd);
    fd = next;
  }
  int release() {
    const int f = fd;
    fd = -1;
    return f;
  }
};

// Writes all of `data` to `fd`, retrying short writes and EINTR. Returns 0, or the errno of the
// failure (EIO for a write that wrote nothing); `written`, when given, counts what got through.
inline int write_fully(int fd, std::string_view data, std::size_t* written = nullptr) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    data.remove_prefix(static_cast<std::size_t>(n));
    if (written) *written += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace sidecar::host
