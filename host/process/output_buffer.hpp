// Two small pieces of output handling: a collector that keeps only the tail when a limit is set,
// and a splitter that turns chunks into lines. Both hold a bounded amount of memory whatever a
// child writes (a flood without line breaks included).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::host {

// Keeps everything appended, or only the last `limit` bytes when limit > 0. Past the limit the
// buffer becomes a ring of exactly `limit` bytes: memory never exceeds the limit, and appending
// stays O(size of the chunk).
class TailBuffer {
 public:
  explicit TailBuffer(std::size_t limit = 0) : limit_(limit) {}
  void append(std::string_view data);
  // The kept bytes, in order; the buffer is left empty.
  std::string take();
  bool truncated() const { return truncated_; }  // bytes were dropped (stays set after take())
  std::size_t size() const { return data_.size(); }

 private:
  std::size_t limit_;
  std::string data_;
  std::size_t start_ = 0;  // once the ring is full: where its oldest byte is (and the next write goes)
  bool truncated_ = false;
};

// Splits a byte stream at '\n'. Lines are returned without the newline (a "\r" before it is kept:
// the bytes are the program's). finish() returns the last line when it had no newline. A line
// longer than `max_line` bytes is handed on in pieces of `max_line` bytes, so a stream without
// line breaks cannot grow the pending line without bound.
class LineSplitter {
 public:
  static constexpr std::size_t kMaxLine = 16u << 20;
  explicit LineSplitter(std::size_t max_line = kMaxLine) : max_line_(max_line) {}
  // Appends to `lines` every line completed by `chunk`.
  void feed(std::string_view chunk, std::vector<std::string>& lines);
  bool finish(std::string& last);

 private:
  std::size_t max_line_;
  std::string partial_;
};

}  // namespace sidecar::host
