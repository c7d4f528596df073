// Reads newline-delimited messages from a file descriptor (a protocol on stdin) with a timeout,
// so a reader can wait for its next message and still do other work between waits (poll a run,
// send progress). A line longer than the bound is skipped whole and reported once, so one huge
// message never costs more memory than the bound and the next line still arrives intact.
#pragma once
#include <cstddef>
#include <string>

namespace sidecar::host {

class LineReader {
 public:
  enum class Status {
    Line,     // `line` holds the next line, without its "\n" (and a "\r" before it)
    Timeout,  // nothing whole arrived in time (or a signal interrupted the wait)
    TooLong,  // a line past the bound was skipped, up to and including its "\n"
    End,      // the writer closed its end and every line was handed out
    Error,    // reading failed: `line` holds the message
  };

  LineReader(int fd, std::size_t max_line) : fd_(fd), max_line_(max_line) {}

  // Waits at most `timeout_ms` (< 0: as long as it takes) for a whole line. The last line of
  // the stream counts even without a final "\n".
  Status next(int timeout_ms, std::string& line);

 private:
  // Hands out a line, or a skipped one, from what is buffered; false when none is whole yet.
  bool take(Status& status, std::string& line);

  int fd_;
  std::size_t max_line_;
  std::string buffer_;
  bool skipping_ = false;  // inside a line past the bound: its bytes are dropped
  bool ended_ = false;
};

}  // namespace sidecar::host
