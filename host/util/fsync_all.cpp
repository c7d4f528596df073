#include "util/fsync_all.hpp"

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

namespace sidecar::host {

bool fsync_is_noop(int fd) noexcept {
  struct statfs fs {};
  return fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

int fsync_all(const std::vector<int>& fds) noexcept {
  std::atomic<int> failed{0};
  auto sync_one = [&failed](int fd) {
    if (fsync(fd) != 0) failed = errno;
  };
  std::vector<int> needed;
  try {
    for (int fd : fds) {
      if (!fsync_is_noop(fd)) needed.push_back(fd);
    }
  } catch (...) {  // no memory for the list: each in turn, here
    for (int fd : fds) sync_one(fd);
    return failed;
  }
  std::vector<std::thread> syncers;
  for (std::size_t i = 1; i < needed.size(); ++i) {
    try {
      syncers.emplace_back(sync_one, needed[i]);
    } catch (...) {
      sync_one(needed[i]);  // no thread for it (the user's process limit, no memory): here, in turn
    }
  }
  if (!needed.empty()) sync_one(needed.front());
  for (std::thread& t : syncers) t.join();
  return failed;
}

}  // namespace sidecar::host
