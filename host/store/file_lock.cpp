#include "store/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace sidecar::host {

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

int FileLock::try_lock(const std::string& path, FileLock& out) {
  int fd;
  // Never through a link (one planted where a lock is made would have it made wherever it leads,
  // as whoever runs: root under `sudo -E`), nor waiting on a FIFO planted there.
  do fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0644);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return EINVAL;
  }
  return try_lock_descriptor(fd, out);
}

int FileLock::try_lock_descriptor(int fd, FileLock& out) {
  int r;
  do r = flock(fd, LOCK_EX | LOCK_NB);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno == EAGAIN ? EWOULDBLOCK : errno;
    close(fd);
    return e;
  }
  out.release();
  out.fd_ = fd;
  return 0;
}

void FileLock::release() {
  if (fd_ < 0) return;
  close(fd_);  // the last descriptor of the description: the kernel drops the lock
  fd_ = -1;
}

}  // namespace sidecar::host
