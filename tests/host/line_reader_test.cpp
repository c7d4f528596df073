// host/line_reader: lines from a pipe with a timeout, split writes, CRLF, a line past the bound
// (skipped whole, the next one intact), the last line without "\n", and the end.
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "util/line_reader.hpp"

using sidecar::host::LineReader;
using Status = LineReader::Status;

namespace {

struct Pipe {
  int fds[2];
  Pipe() { REQUIRE(::pipe(fds) == 0); }
  ~Pipe() {
    ::close(fds[0]);
    if (fds[1] >= 0) ::close(fds[1]);
  }
  void write(const std::string& s) const { REQUIRE(::write(fds[1], s.data(), s.size()) == static_cast<ssize_t>(s.size())); }
  void close_writer() {
    ::close(fds[1]);
    fds[1] = -1;
  }
};

}  // namespace

TEST_CASE("line_reader: whole lines, whatever the writes", "[line_reader]") {
  Pipe p;
  LineReader r(p.fds[0], 64);
  std::string line;
  CHECK(r.next(0, line) == Status::Timeout);  // nothing yet: returns at once
  p.write("{\"a\":");
  CHECK(r.next(0, line) == Status::Timeout);  // half a line is not a line
  p.write("1}\r\nsecond\nthird");
  REQUIRE(r.next(-1, line) == Status::Line);
  CHECK(line == "{\"a\":1}");
  REQUIRE(r.next(-1, line) == Status::Line);
  CHECK(line == "second");
  CHECK(r.next(0, line) == Status::Timeout);
  p.close_writer();
  REQUIRE(r.next(-1, line) == Status::Line);  // the last line needs no "\n"
  CHECK(line == "third");
  CHECK(r.next(-1, line) == Status::End);
  CHECK(r.next(-1, line) == Status::End);
}

TEST_CASE("line_reader: a line past the bound is skipped whole, once", "[line_reader]") {
  Pipe p;
  LineReader r(p.fds[0], 16);
  std::string line;
  p.write(std::string(40, 'x'));
  CHECK(r.next(0, line) == Status::Timeout);  // dropped as it comes, its end not here yet
  p.write(std::string(30000, 'y'));
  CHECK(r.next(0, line) == Status::Timeout);
  p.write("zz\nnext\n" + std::string(17, 'w') + "\n");
  CHECK(r.next(-1, line) == Status::TooLong);
  REQUIRE(r.next(-1, line) == Status::Line);
  CHECK(line == "next");
  CHECK(r.next(-1, line) == Status::TooLong);  // past the bound with its "\n" in one read
  p.write(std::string(30, 'v'));
  p.close_writer();
  CHECK(r.next(-1, line) == Status::TooLong);  // cut off by the end
  CHECK(r.next(-1, line) == Status::End);
}
