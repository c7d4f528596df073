// LogCap (host/process/log_cap.hpp): a log's head in its file, its tail in a ring, a marker between.
#include "process/log_cap.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>

#include "util/unique_fd.hpp"

namespace sidecar::host {

namespace {

constexpr std::size_t kReadBack = 1u << 20;  // the piece read back from the file at a time

// Writes all of `data`; `done` counts what reached the file. 0 or an errno.
int write_all(int fd, std::string_view data, uint64_t& done) {
  std::size_t written = 0;
  const int err = write_fully(fd, data, &written);
  done += written;
  return err;
}

}  // namespace

void LogCap::attach(int fd) {
  struct stat st {};
  regular_ = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  base_ = regular_ ? static_cast<uint64_t>(st.st_size) : 0;
}

int LogCap::write(int fd, std::string_view chunk) {
  seen_ += chunk.size();
  if (over_) {
    tail_.append(chunk);
    return 0;
  }
  if (!capped() || in_file_ + chunk.size() <= max_) return write_all(fd, chunk, in_file_);
  return overflow(fd, chunk);
}

// The first chunk past the bound: the head completed from it, the tail (the last max - head
// bytes of what the file holds past the head, and of the chunk) taken into the ring, and the
// file cut back to the head. Between the bound and the end, the file holds only the head.
int LogCap::overflow(int fd, std::string_view rest) {
  if (in_file_ < head_) {
    const std::size_t h = static_cast<std::size_t>(head_ - in_file_);
    if (int e = write_all(fd, rest.substr(0, h), in_file_)) return e;
    rest.remove_prefix(h);
  }
  const uint64_t room = max_ - head_;
  tail_ = TailBuffer(static_cast<std::size_t>(room));
  // in_file_ + rest > max, so the file has at least `from_file` bytes past the head.
  const uint64_t from_file = room - std::min<uint64_t>(rest.size(), room);
  if (from_file > 0) {
    std::unique_ptr<char[]> piece(new char[kReadBack]);
    uint64_t at = base_ + in_file_ - from_file;
    const uint64_t end = base_ + in_file_;
    while (at < end) {
      const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(kReadBack, end - at));
      ssize_t n = ::pread(fd, piece.get(), want, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) break;  // cut short by someone else: the tail is what there was
      tail_.append({piece.get(), static_cast<std::size_t>(n)});
      at += static_cast<uint64_t>(n);
    }
  }
  tail_.append(rest);
  const off_t cut = static_cast<off_t>(base_ + head_);
  if (::ftruncate(fd, cut) != 0) return errno;
  if (::lseek(fd, cut, SEEK_SET) < 0) return errno;  // O_APPEND files append at the new end anyway
  in_file_ = head_;
  over_ = true;
  return 0;
}

uint64_t LogCap::direct_room() const {
  if (!capped()) return std::numeric_limits<uint64_t>::max();
  return over_ ? 0 : max_ - in_file_;
}

void LogCap::count_direct(uint64_t n) {
  seen_ += n;
  in_file_ += n;
}

int LogCap::finish(int fd) {
  if (!over_ || finished_) return 0;  // within the bound, or finished already
  finished_ = true;
  const LogCapStats s = stats();
  uint64_t written = 0;
  if (int e = write_all(fd, marker(s.dropped, max_), written)) return e;
  return write_all(fd, tail_.take(), written);
}

LogCapStats LogCap::stats() const {
  LogCapStats s;
  s.max_bytes = max_;
  s.seen = seen_;
  s.truncated = over_;
  s.kept = over_ ? max_ : seen_;
  s.dropped = s.seen - s.kept;
  return s;
}

std::string LogCap::size_text(uint64_t bytes) {
  static const struct {
    uint64_t size;
    const char* unit;
  } kUnits[] = {{1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& u : kUnits) {
    if (bytes >= u.size && bytes % u.size == 0) return std::to_string(bytes / u.size) + " " + u.unit;
  }
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

std::string LogCap::marker(uint64_t dropped, uint64_t max_bytes) {
  return "\n[sidecar: " + std::to_string(dropped) + " bytes dropped here: the log passed max_log_bytes = " +
         size_text(max_bytes) + "]\n";
}

}  // namespace sidecar::host
