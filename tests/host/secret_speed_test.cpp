#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "secret_fixtures.hpp"
#include "secrets/secrets.hpp"
#include "secrets/stream_redactor.hpp"

using namespace secret_fixtures;
using sidecar::host::Redactor;

// ---- Speed ---------------------------------------------------------------------------------------

namespace {

double seconds_to_redact(const Redactor& redactor, const std::string& text, std::string& out) {
  const auto start = std::chrono::steady_clock::now();
  out = redactor.redact(text);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// This thread's CPU time: what the work cost, whatever else the machine runs meanwhile.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double cpu_seconds_to_redact(const Redactor& redactor, const std::string& text, std::string& out) {
  const double start = thread_seconds();
  out = redactor.redact(text);
  return thread_seconds() - start;
}

}  // namespace

TEST_CASE("secrets: 10 MB of ordinary text is redacted well under a second", "[secrets]") {
  // Source, logs and prose, heavy in the bytes that start a check (s, r, g, e, b, x, A, -).
  const std::string paragraph =
      "2024-05-01T12:00:00Z INFO server: request GET /api/v1/users?sort=asc returned 200 in 12ms\n"
      "    def get_secret_name(self, key: str) -> str:  # see the docs at https://example.org/a-b-c\n"
      "Bearer authentication is described in RFC 6750; the bearer sends a token to the resource server.\n"
      "--- a/src/engine.cpp\n+++ b/src/engine.cpp\n@@ -10,7 +10,7 @@ static int resolve(lua_State* L) {\n"
      "- AKIA is the prefix of an access key id; sk- starts OpenAI keys, eyJ starts a JSON web token.\n"
      "  xox, ghp, github and AIza show up in docs too: every one of these is a near miss.\n";
  std::string text;
  text.reserve(10 * 1024 * 1024 + paragraph.size());
  while (text.size() < 10 * 1024 * 1024) text += paragraph;
  const Redactor redactor({"OPENAI_API_KEY=sk-" + alnum(48), "GITHUB_TOKEN=ghp_" + alnum(36),
                           "DB_PASSWORD=" + alnum(16)});

  std::string out;
  const double elapsed = seconds_to_redact(redactor, text, out);
  CHECK(out == text);
  const double mb = static_cast<double>(text.size()) / (1024.0 * 1024.0);
  // A figure to read, not a pass mark: timings belong to benchmarks (sanitizer builds are slower).
  WARN("secrets: redacted " << mb << " MB of ordinary text in " << elapsed * 1000.0 << " ms ("
                            << mb / elapsed << " MB/s)");
}

// Linear, not quadratic: 4 MiB of each unit (one line: no newline ends a scan) is redacted in
// well under 20 s of this thread's CPU time (a busy machine's other processes do not count); a
// linear pass takes about a second at most, a sanitizer build a few, and a quadratic one hours
// (a pass that looks ahead a capped 64 KiB from every byte, minutes). Absolute, with that margin,
// because a ratio of two sizes also measures the caches: a linear pass is slower per byte on a
// text that no longer fits them.
TEST_CASE("secrets: adversarial runs of near misses stay linear", "[secrets]") {
  const Redactor redactor({});
  const std::vector<std::string> units = {
      "sk-", "eyJ-", "eyJaaaaaaaaaaa.", "Bearer ", std::string("-----BEGIN X PRIV") + "ATE KEY-----\n",
      std::string("-----END X PRIV") + "ATE KEY-----\n", "AAAA\n", std::string("AAAA-----END X PRIV") + "ATE KEY-----",
      // Separators: many on one long line, each with a secret name before it.
      "TOKEN=", "PASSWORD=\"", "TOKEN='", "TOKEN=\"\\\"", "api_key: ", "x://u:", "a://", "Authorization:",
      "Authorization: Basic ", "Authorization: Digest x ", "authorization=\"", "AUTHORIZATION: Basic a    ",
      // AWS key ids, and runs of base64 near them.
      "AKIAAAAAAAAAAAAAAAAA ", "AKIAAAAAAAAAAAAAAAAA/", "AKIAAAAAAAAAAAAAAAAA\n", std::string(41, 'a') + "+"};
  for (const std::string& unit : units) {
    INFO(unit);
    std::string text;
    while (text.size() < 4 * 1024 * 1024) text += unit;
    std::string out;
    const double seconds = cpu_seconds_to_redact(redactor, text, out);
    INFO("4 MiB: " << seconds * 1000 << " ms of CPU time");
    CHECK(seconds < 20.0);
  }
}

// A figure for the report, not a test: `sidecar_tests "[.secrets-benchmark]"`. 100 MB of logs,
// code and JSON Lines at once and through a stream in 64 KiB reads.
TEST_CASE("secrets: 100 MB benchmark, one shot and streamed", "[.secrets-benchmark]") {
  const std::string paragraph =
      "2024-05-01T12:00:00Z INFO server: request GET /api/v1/users?sort=asc returned 200 in 12ms\n"
      "    def get_secret_name(self, key: str) -> str:  # see the docs at https://example.org/a-b-c\n"
      "Bearer authentication is described in RFC 6750; the bearer sends a token to the resource server.\n"
      "--- a/src/engine.cpp\n+++ b/src/engine.cpp\n@@ -10,7 +10,7 @@ static int resolve(lua_State* L) {\n"
      "- AKIA is the prefix of an access key id; sk- starts OpenAI keys, eyJ starts a JSON web token.\n"
      "{\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\",\"type\":\"command_execution\"}}\n"
      "config: timeout = 30, retries = 3, api_key_file = /etc/x, password_min_length = 12\n";
  std::string text;
  text.reserve(100 * 1024 * 1024 + paragraph.size());
  while (text.size() < 100 * 1024 * 1024) text += paragraph;
  const Redactor redactor({"OPENAI_API_KEY=sk-" + alnum(48), "DB_PASSWORD=" + alnum(16)});
  std::string out;
  double best = 1e9;
  for (int i = 0; i < 3; ++i) best = std::min(best, seconds_to_redact(redactor, text, out));
  CHECK(out == text);
  WARN("one shot: " << 100 / best << " MB/s");
  best = 1e9;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    sidecar::host::StreamRedactor stream(redactor);
    std::size_t bytes = 0;
    for (std::size_t at = 0; at < text.size(); at += 65536) bytes += stream.feed(std::string_view(text).substr(at, 65536)).size();
    bytes += stream.finish().size();
    CHECK(bytes == text.size());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  WARN("streamed: " << 100 / best << " MB/s");
}

// 1 GB without a line break, in 256 KiB reads (the size a child's pipe is read in): what the
// stream holds stays bounded, and the figure goes in the report.
TEST_CASE("secrets: a 1 GB flood without line breaks, streamed", "[.secrets-benchmark]") {
  const Redactor redactor({});
  sidecar::host::StreamRedactor stream(redactor);
  std::string chunk(256 * 1024, 'x');
  for (std::size_t i = 0; i < chunk.size(); i += 4099) chunk.replace(i, 1, " ");
  std::size_t max_held = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 4096; ++i) {
    bytes += stream.feed(chunk).size();
    max_held = std::max(max_held, stream.held());
  }
  bytes += stream.finish().size();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(bytes == 4096 * chunk.size());
  CHECK(max_held <= sidecar::host::StreamRedactor::kMaxHold + chunk.size());
  WARN("1 GB flood: " << 1024 / elapsed << " MB/s, at most " << max_held << " bytes held");
}
