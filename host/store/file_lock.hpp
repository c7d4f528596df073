// An exclusive lock on a file that lasts exactly as long as the process holding it: flock(2) on a
// descriptor opened with O_CLOEXEC. The kernel drops it when the descriptor closes, and it closes
// when the process ends, however it ends (SIGKILL included), so "the lock can be taken" means
// "its holder is gone". Unlike a pid in a file, this never confuses a dead holder with an
// unrelated process that got the same pid later.
//
// flock, not fcntl(F_SETLK): a POSIX record lock belongs to the process, so a second lock of the
// same file by the same process would succeed and closing any descriptor of the file would drop
// it; a flock lock belongs to the open file description, so two opens conflict even within one
// process (what a test, or a reconciler checking a worker it started, needs). O_CLOEXEC: a
// program the holder starts never inherits the lock (see the run worker in stdlib/sidecar/run/reconcile.lua).
#pragma once
#include <string>
#include <string_view>

namespace sidecar::host {

class FileLock {
 public:
  FileLock() = default;
  ~FileLock() { release(); }
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Opens `path` (created 0644 when missing) and takes the lock without waiting. Returns 0 with
  // `out` holding it, EWOULDBLOCK when another open file description holds it, or the errno of
  // the open or flock that failed (ENOENT: the folder does not exist; ELOOP: `path` is a symbolic
  // link, never followed; EINVAL: it is not a regular file, a FIFO say, never waited on).
  static int try_lock(const std::string& path, FileLock& out);
  // The same for a file already open (`fd`, opened O_CLOEXEC, such as by
  // ArtifactDir::open_lock_file, which never follows a link): the lock takes the descriptor
  // whatever happens, so it is closed on failure.
  static int try_lock_descriptor(int fd, FileLock& out);

  bool held() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Replaces what the locked file holds with `data` (what the holder is, for whoever looks): written
  // from the start, then cut to its length, so a reader sees the old bytes, the new ones, or for a
  // moment the new over the old's end; never an empty file between. Returns 0 or the errno (EBADF:
  // not held). A holder that dies leaves its last words there, under a lock that is free again.
  int write_content(std::string_view data) const;
  // Drops the lock (closes the descriptor); harmless when not held.
  void release();

 private:
  int fd_ = -1;
};

}  // namespace sidecar::host
