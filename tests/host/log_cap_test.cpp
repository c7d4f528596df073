// LogCap (host/process/log_cap.hpp) alone and through the process loop: a log within its bound is the
// stream byte for byte; past it, exactly the head, the marker and the tail, however the stream
// was cut into chunks (or spliced); every byte counted; a secret cut by the bound never shows.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "process/log_cap.hpp"
#include "process/process_loop.hpp"
#include "secret_fixtures.hpp"
#include "secrets/secrets.hpp"
#include "temp_dir.hpp"

extern char** environ;

using sidecar::host::LogCap;
using sidecar::host::ProcessEvent;
using sidecar::host::ProcessLoop;
using sidecar::host::ProcessResult;
using sidecar::host::Redactor;
using sidecar::host::SpawnError;
using sidecar::host::SpawnOptions;
using sidecar::test::TempDir;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What a log of `stream` must hold under `max` (0: no bound).
std::string expected_log(const std::string& stream, uint64_t max) {
  if (max == 0 || stream.size() <= max) return stream;
  const std::size_t head = max / 2, tail = max - head;
  return stream.substr(0, head) + LogCap::marker(stream.size() - max, max) + stream.substr(stream.size() - tail);
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Writes `stream` through a LogCap into a fresh file, cut into random chunks; some chunks go
// "around" it as splice(2) would (written to the fd directly, within direct_room()).
std::string through_cap(const std::string& path, const std::string& stream, uint64_t max, std::mt19937& rng,
                        bool direct, int flags = O_RDWR | O_CREAT | O_TRUNC) {
  int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  LogCap cap(max);
  cap.attach(fd);
  std::size_t at = 0;
  while (at < stream.size()) {
    const std::size_t pick = rng() % 4;
    std::size_t n = pick == 0 ? 1 : pick == 1 ? rng() % 17 : pick == 2 ? rng() % (2 * max + 3) : stream.size() - at;
    n = std::min(std::max<std::size_t>(n, 1), stream.size() - at);
    const uint64_t room = cap.direct_room();
    if (direct && rng() % 2 == 0 && room > 0) {
      n = static_cast<std::size_t>(std::min<uint64_t>(n, room));
      REQUIRE(write(fd, stream.data() + at, n) == static_cast<ssize_t>(n));
      cap.count_direct(n);
    } else {
      REQUIRE(cap.write(fd, std::string_view(stream).substr(at, n)) == 0);
    }
    at += n;
  }
  REQUIRE(cap.finish(fd) == 0);
  REQUIRE(cap.finish(fd) == 0);  // a second finish writes nothing more
  const auto s = cap.stats();
  CHECK(s.seen == stream.size());
  CHECK(s.truncated == (max > 0 && stream.size() > max));
  CHECK(s.kept == (s.truncated ? max : stream.size()));
  CHECK(s.dropped == stream.size() - s.kept);
  close(fd);
  return read_file(path);
}

}  // namespace

TEST_CASE("log_cap: the marker names the bytes dropped and the bound", "[log_cap]") {
  CHECK(LogCap::marker(1887436800, 64u << 20) ==
        "\n[sidecar: 1887436800 bytes dropped here: the log passed max_log_bytes = 64 MiB]\n");
  CHECK(LogCap::size_text(512 * 1024) == "512 KiB");
  CHECK(LogCap::size_text(3ull << 30) == "3 GiB");
  CHECK(LogCap::size_text(1536) == "1536 bytes");
  CHECK(LogCap::size_text(1) == "1 byte");
}

TEST_CASE("log_cap: head, marker and tail are exact on random chunkings", "[log_cap]") {
  TempDir dir("log_cap");
  const std::string path = dir.path + "/log";
  std::mt19937 rng(1234);
  for (uint64_t max : {1ull, 2ull, 3ull, 7ull, 64ull, 1000ull, 4096ull}) {
    for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(max - 1), std::size_t(max),
                             std::size_t(max + 1), std::size_t(2 * max), std::size_t(2 * max + 5),
                             std::size_t(10 * max + 3), std::size_t(100000)}) {
      for (int round = 0; round < 8; ++round) {
        const std::string stream = random_bytes(rng, size);
        const bool direct = round % 2 == 1;
        INFO("max " << max << ", " << size << " bytes, round " << round);
        CHECK(through_cap(path, stream, max, rng, direct) == expected_log(stream, max));
      }
    }
  }
}

TEST_CASE("log_cap: no bound, or a file that is not a regular one, gets every byte", "[log_cap]") {
  TempDir dir("log_cap");
  std::mt19937 rng(99);
  const std::string stream = random_bytes(rng, 5000);
  CHECK(through_cap(dir.path + "/log", stream, 0, rng, true) == stream);

  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  LogCap cap(10);
  cap.attach(fd);
  CHECK_FALSE(cap.capped());
  CHECK(cap.write(fd, stream) == 0);
  CHECK(cap.finish(fd) == 0);
  CHECK_FALSE(cap.stats().truncated);
  CHECK(cap.stats().kept == stream.size());
  close(fd);
}

TEST_CASE("log_cap: an appended log keeps what the file held before", "[log_cap]") {
  TempDir dir("log_cap");
  const std::string path = dir.path + "/log";
  std::ofstream(path, std::ios::binary) << "an earlier run\n";
  std::mt19937 rng(5);
  const std::string stream = random_bytes(rng, 3000);
  CHECK(through_cap(path, stream, 100, rng, false, O_RDWR | O_CREAT | O_APPEND) ==
        "an earlier run\n" + expected_log(stream, 100));
}

// --- through the process loop -------------------------------------------------------------------

namespace {

// Runs `o` to its end (or kills it after `limit_ms`); the chunks it handed on are appended to
// `chunks`.
ProcessResult run(SpawnOptions o, std::string* chunks = nullptr, int64_t limit_ms = 30000) {
  ProcessLoop loop;
  SpawnError error;
  const uint64_t id = loop.spawn(std::move(o), error);
  INFO(error.message);
  REQUIRE(id != 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  ProcessEvent event;
  while (!loop.finished(id) && std::chrono::steady_clock::now() < deadline) {
    loop.step(100);
    while (loop.take_event(event)) {
      if (chunks && event.kind == ProcessEvent::Stdout) *chunks += event.data;
    }
  }
  if (!loop.finished(id)) kill(-loop.pid(id), SIGKILL);
  REQUIRE(loop.finished(id));
  while (loop.take_event(event)) {
    if (chunks && event.kind == ProcessEvent::Stdout) *chunks += event.data;
  }
  return loop.result(id);
}

std::string seq_text(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += std::to_string(i) + "\n";
  return s;
}

}  // namespace

TEST_CASE("log_cap: a capped tee keeps head and tail; chunks still see every byte", "[log_cap][proc]") {
  TempDir dir("log_cap");
  const std::string file = dir.path + "/out.log";
  const std::string stream = seq_text(300000);  // 2 MB
  const uint64_t max = 64 * 1024 + 1;            // odd: the tail is one byte longer than the head
  SpawnOptions o;
  o.argv = {"seq", "1", "300000"};
  o.out.collect = false;
  o.out.file = file;
  o.out.max_bytes = max;
  std::string chunks;
  SECTION("spliced into the file up to the bound") {}
  SECTION("read and redacted") { o.out.redact = true; }
  SECTION("read for an idle clock and for chunks") {
    o.idle_timeout_ms = 60000;
    o.out.chunks = true;
  }
  ProcessResult r = run(o, &chunks);
  CHECK(r.code == 0);
  CHECK(r.error.empty());
  CHECK(r.out_bytes == stream.size());
  CHECK(read_file(file) == expected_log(stream, max));
  CHECK(r.out_log.truncated);
  CHECK(r.out_log.seen == stream.size());
  CHECK(r.out_log.kept == max);
  CHECK(r.out_log.dropped == stream.size() - max);
  if (!chunks.empty()) CHECK(chunks == stream);
}

TEST_CASE("log_cap: a flood is drained past the bound and the wall timeout still ends it", "[log_cap][proc]") {
  TempDir dir("log_cap");
  const std::string file = dir.path + "/out.log";
  SpawnOptions o;
  o.argv = {"yes"};
  o.out.collect = false;
  o.out.file = file;
  o.out.redact = true;
  o.out.max_bytes = 1 << 20;
  o.timeout_ms = 700;
  o.kill_grace_ms = 500;
  ProcessResult r = run(o);
  CHECK(r.timed_out);
  CHECK(r.out_log.truncated);
  CHECK(r.out_log.seen > 4 * o.out.max_bytes);  // far past the bound: the pipe was drained
  const std::string log = read_file(file);
  const std::string marker = LogCap::marker(r.out_log.dropped, o.out.max_bytes);
  CHECK(log.size() == o.out.max_bytes + marker.size());
  CHECK(log.find(marker) == o.out.max_bytes / 2);
  CHECK(log.substr(0, 8) == "y\ny\ny\ny\n");
}

TEST_CASE("log_cap: the bound cuts the redacted stream, so a secret it cuts never shows", "[log_cap][proc]") {
  using namespace secret_fixtures;
  TempDir dir("log_cap");
  const std::string token = "deploy-" + alnum(24, 71);
  // Secrets at every offset around both cuts: lines of 0..40 dots, the token, a word.
  std::string raw;
  for (int i = 0; raw.size() < 300000; ++i) raw += std::string(i % 41, '.') + token + " ok\n";
  const std::string input = dir.path + "/input";
  std::ofstream(input, std::ios::binary) << raw;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("DEPLOY_TOKEN=" + token);
  const std::string redacted = Redactor(env).redact(raw);
  REQUIRE(redacted.find(token.substr(7, 6)) == std::string::npos);

  for (uint64_t max : {1000ull, 4097ull, 65536ull, 100003ull}) {
    const std::string file = dir.path + "/out.log";
    SpawnOptions o;
    o.argv = {"cat", input};
    o.env = {{"DEPLOY_TOKEN", token}};
    o.out.collect = false;
    o.out.file = file;
    o.out.redact = true;
    o.out.max_bytes = max;
    ProcessResult r = run(o);
    const std::string log = read_file(file);
    INFO("max " << max);
    CHECK(log == expected_log(redacted, max));
    for (std::size_t at = 7; at + 6 <= token.size(); ++at) {
      INFO("the token's bytes " << at << ".." << at + 6);
      CHECK(log.find(token.substr(at, 6)) == std::string::npos);
    }
    CHECK(r.out_log.seen == redacted.size());
  }
}
