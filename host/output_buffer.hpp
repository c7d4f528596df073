// Two small pieces of output handling: a collector that keeps only the tail when a limit is set,
// and a splitter that turns chunks into lines.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::host {

// Keeps everything appended, or only the last `limit` bytes when limit > 0. Trimming happens
// when the buffer reaches twice the limit, so appending stays amortised O(1).
class TailBuffer {
 public:
  explicit TailBuffer(std::size_t limit = 0) : limit_(limit) {}
  void append(std::string_view data);
  // The kept bytes, trimmed to the limit; the buffer is left empty.
  std::string take();
  bool truncated() const { return truncated_; }

 private:
  std::size_t limit_;
  std::string data_;
  bool truncated_ = false;
};

// Splits a byte stream at '\n'. Lines are returned without the newline (a "\r" before it is kept:
// the bytes are the program's). finish() returns the last line when it had no newline.
class LineSplitter {
 public:
  // Appends to `lines` every line completed by `chunk`.
  void feed(std::string_view chunk, std::vector<std::string>& lines);
  bool finish(std::string& last);

 private:
  std::string partial_;
};

}  // namespace sidecar::host
