// A log file kept to a bound: past `max_bytes`, the first half of the stream stays in the file,
// the last half is kept in memory (a ring of exactly that size), and at the end the file gets
// a marker line saying how many bytes were dropped, then that tail:
//
//   <head: max/2 bytes>
//   \n[sidecar: 1887436800 bytes dropped here: the log passed max_log_bytes = 1 MiB]\n
//   <tail: max - max/2 bytes>
//
// Bytes are written straight through while the stream stays within the bound, so a log that
// never passes it is the stream, byte for byte, and readable while it grows. When a chunk first
// passes the bound, the part of the tail already in the file is read back from it and the file
// is cut to the head. No Lua and no libuv in here: the process loop (host/process/process_output.cpp)
// feeds it from the pipe, after redaction.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "process/output_buffer.hpp"

namespace sidecar::host {

// What became of one capped log (all counts in bytes of the stream as the log received it).
struct LogCapStats {
  uint64_t max_bytes = 0;  // the bound; 0: none
  uint64_t seen = 0;       // written to the log, kept or not
  uint64_t kept = 0;       // of them, in the file (the marker line not counted)
  uint64_t dropped = 0;    // seen - kept
  bool truncated = false;  // the bound was passed: the file has the marker
};

class LogCap {
 public:
  explicit LogCap(uint64_t max_bytes = 0) : max_(max_bytes), head_(max_bytes / 2) {}

  // The file the log goes to, open for reading and writing (O_RDWR: the tail already written is
  // read back when the bound is passed) at its end (created, truncated or appended to). A file
  // that is not a regular file (a pipe, /dev/null) cannot be cut: it gets every byte.
  void attach(int fd);
  // Writes `chunk`: into the file while within the bound, else into the tail. 0 or an errno.
  int write(int fd, std::string_view chunk);
  // How many bytes may still go into the file directly (splice(2)), without passing the bound;
  // no limit (UINT64_MAX) when there is none. count_direct(n) records them.
  uint64_t direct_room() const;
  void count_direct(uint64_t n);
  // The end of the stream: the marker and the tail, when the bound was passed. 0 or an errno.
  int finish(int fd);

  LogCapStats stats() const;
  bool capped() const { return max_ > 0 && regular_; }
  // The line written between head and tail, its newlines included.
  static std::string marker(uint64_t dropped, uint64_t max_bytes);
  // 1 MiB, 512 KiB, 1536 B: a size for people, exact (a whole number of its unit) when it can be.
  static std::string size_text(uint64_t bytes);

 private:
  int overflow(int fd, std::string_view rest);

  uint64_t max_;
  uint64_t head_;             // bytes of the stream kept at the file's start
  uint64_t base_ = 0;         // the file's size before this stream (appending)
  uint64_t in_file_ = 0;      // bytes of this stream in the file now
  uint64_t seen_ = 0;
  bool regular_ = false;
  bool over_ = false;         // the bound was passed: new bytes go to the tail
  bool finished_ = false;     // the marker and the tail are written
  TailBuffer tail_;
};

}  // namespace sidecar::host
