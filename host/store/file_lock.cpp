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

int FileLock::write_content(std::string_view data) const {
  if (fd_ < 0) return EBADF;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<std::size_t>(n);
  }
  int r;
  do r = ftruncate(fd_, static_cast<off_t>(data.size()));
  while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

void FileLock::release() {
  if (fd_ < 0) return;
  close(fd_);  // the last descriptor of the description: the kernel drops the lock
  fd_ = -1;
}

}  // namespace sidecar::host
