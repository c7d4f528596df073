#include "util/line_reader.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sidecar::host {

bool LineReader::take(Status& status, std::string& line) {
  const std::size_t nl = buffer_.find('\n');
  if (nl == std::string::npos) {
    if (buffer_.size() > max_line_) {  // past the bound with no end in sight: drop it as it comes
      skipping_ = true;
      buffer_.clear();
    }
    if (!ended_) return false;
    // The stream's last bytes: a line without its "\n", or the end of a skipped one.
    status = skipping_ ? Status::TooLong : buffer_.empty() ? Status::End : Status::Line;
    line.swap(buffer_);
    buffer_.clear();
    skipping_ = false;
    if (status != Status::Line) line.clear();
    return true;
  }
  if (skipping_ || nl > max_line_) {
    skipping_ = false;
    buffer_.erase(0, nl + 1);
    line.clear();
    status = Status::TooLong;
    return true;
  }
  line.assign(buffer_, 0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  buffer_.erase(0, nl + 1);
  status = Status::Line;
  return true;
}

LineReader::Status LineReader::next(int timeout_ms, std::string& line) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  Status status;
  while (!take(status, line)) {
    int wait = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      wait = left > 0 ? static_cast<int>(left) : 0;
    }
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, wait);
    if (ready < 0 && errno != EINTR) {
      line = std::string("cannot wait for input: ") + std::strerror(errno);
      return Status::Error;
    }
    if (ready <= 0) return Status::Timeout;  // EINTR too: the caller may have a signal to see
    char chunk[65536];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      line = std::string("cannot read input: ") + std::strerror(errno);
      return Status::Error;
    }
    if (n == 0) {
      ended_ = true;
    } else {
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  return status;
}

}  // namespace sidecar::host
