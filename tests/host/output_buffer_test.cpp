#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "process/output_buffer.hpp"

using sidecar::host::LineSplitter;
using sidecar::host::TailBuffer;

TEST_CASE("output_buffer: TailBuffer with limit 0 keeps everything", "[output_buffer]") {
  TailBuffer buffer;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    std::string chunk = "chunk " + std::to_string(i) + "\n";
    buffer.append(chunk);
    expected += chunk;
  }
  buffer.append("");
  CHECK(buffer.take() == expected);
  CHECK_FALSE(buffer.truncated());
}

TEST_CASE("output_buffer: TailBuffer under its limit is not truncated", "[output_buffer]") {
  TailBuffer buffer(10);
  buffer.append("abc");
  buffer.append("defg");
  CHECK(buffer.take() == "abcdefg");
  CHECK_FALSE(buffer.truncated());

  TailBuffer exact(5);
  exact.append("abcde");  // exactly the limit: nothing was dropped
  CHECK(exact.take() == "abcde");
  CHECK_FALSE(exact.truncated());
}

TEST_CASE("output_buffer: TailBuffer keeps the tail and says it dropped the head", "[output_buffer]") {
  TailBuffer buffer(5);
  buffer.append("abc");
  buffer.append("def");  // 6 bytes: the ring overwrites its oldest byte
  buffer.append("g");
  CHECK(buffer.take() == "cdefg");
  CHECK(buffer.truncated());

  // Many small appends go round the ring many times.
  TailBuffer many(8);
  std::string all;
  for (int i = 0; i < 100; ++i) {
    std::string piece = std::to_string(i % 10);
    many.append(piece);
    all += piece;
  }
  CHECK(many.take() == all.substr(all.size() - 8));
  CHECK(many.truncated());
}

TEST_CASE("output_buffer: TailBuffer with a chunk larger than the limit", "[output_buffer]") {
  TailBuffer alone(4);
  alone.append("0123456789");
  CHECK(alone.take() == "6789");
  CHECK(alone.truncated());

  TailBuffer after(4);
  after.append("xy");
  after.append("abcd");  // as big as the limit: replaces what was kept
  CHECK(after.take() == "abcd");
  CHECK(after.truncated());

  TailBuffer then_small(4);
  then_small.append("0123456789");
  then_small.append("ab");
  CHECK(then_small.take() == "89ab");
  CHECK(then_small.truncated());
}

TEST_CASE("output_buffer: TailBuffer::take leaves the buffer empty", "[output_buffer]") {
  TailBuffer buffer(0);
  buffer.append("once");
  CHECK(buffer.take() == "once");
  CHECK(buffer.take().empty());
}

TEST_CASE("output_buffer: TailBuffer is a ring of exactly its limit, whatever the chunks", "[output_buffer]") {
  std::mt19937 rng(42);
  for (std::size_t limit : {1, 2, 5, 64, 1000}) {
    for (int round = 0; round < 20; ++round) {
      TailBuffer buffer(limit);
      std::string all;
      const std::size_t size = rng() % (5 * limit + 10);
      while (all.size() < size) {
        std::string chunk(rng() % (rng() % 3 == 0 ? 2 * limit + 1 : 4) + 1, '\0');
        for (char& c : chunk) c = static_cast<char>('a' + rng() % 26);
        buffer.append(chunk);
        all += chunk;
        CHECK(buffer.size() <= limit);  // never more than the limit in memory
      }
      INFO("limit " << limit << ", " << all.size() << " bytes");
      CHECK(buffer.truncated() == (all.size() > limit));
      CHECK(buffer.take() == (all.size() > limit ? all.substr(all.size() - limit) : all));
    }
  }
}

TEST_CASE("output_buffer: a 64 MiB flood into a 1 MiB TailBuffer allocates about 1 MiB", "[output_buffer]") {
  TailBuffer buffer(1 << 20);
  const std::string chunk(256 * 1024 - 7, 'y');
  for (int i = 0; i < 256; ++i) buffer.append(chunk);
  CHECK(buffer.size() == (1u << 20));
  std::string kept = buffer.take();
  CHECK(kept.capacity() <= (1u << 20) + 64);  // the ring never grew past its limit
  CHECK(kept == std::string(1 << 20, 'y'));
}

TEST_CASE("output_buffer: LineSplitter hands on a line longer than its bound in pieces", "[output_buffer]") {
  LineSplitter splitter(10);
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i) splitter.feed("abcdefg", lines);  // 35 bytes, no newline
  CHECK(lines == std::vector<std::string>{"abcdefgabc", "defgabcdef", "gabcdefgab"});
  splitter.feed("\nshort\n", lines);
  CHECK(lines.back() == "short");
  CHECK(lines[3] == "cdefg");
  std::string last;
  CHECK_FALSE(splitter.finish(last));
}

TEST_CASE("output_buffer: LineSplitter splits at newlines", "[output_buffer]") {
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.feed("one\ntwo\n\nfour\n", lines);
  CHECK(lines == std::vector<std::string>{"one", "two", "", "four"});
  std::string last;
  CHECK_FALSE(splitter.finish(last));
}

TEST_CASE("output_buffer: LineSplitter joins a line split across chunks", "[output_buffer]") {
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.feed("hel", lines);
  CHECK(lines.empty());
  splitter.feed("lo wo", lines);
  CHECK(lines.empty());
  splitter.feed("rld\nnext", lines);
  CHECK(lines == std::vector<std::string>{"hello world"});
  splitter.feed("\n", lines);
  CHECK(lines == std::vector<std::string>{"hello world", "next"});
}

TEST_CASE("output_buffer: LineSplitter::finish returns the last partial line once", "[output_buffer]") {
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.feed("a\nno newline", lines);
  CHECK(lines == std::vector<std::string>{"a"});
  std::string last;
  REQUIRE(splitter.finish(last));
  CHECK(last == "no newline");
  std::string again = "untouched";
  CHECK_FALSE(splitter.finish(again));
  CHECK(again == "untouched");
}

TEST_CASE("output_buffer: LineSplitter keeps a carriage return", "[output_buffer]") {
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.feed("dos\r\nunix\n\r", lines);
  splitter.feed("\n", lines);
  CHECK(lines == std::vector<std::string>{"dos\r", "unix", "\r"});
  splitter.feed("end\r", lines);
  std::string last;
  REQUIRE(splitter.finish(last));
  CHECK(last == "end\r");
}

TEST_CASE("output_buffer: LineSplitter keeps NUL bytes", "[output_buffer]") {
  LineSplitter splitter;
  std::vector<std::string> lines;
  splitter.feed(std::string("a\0b\n", 4), lines);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == std::string("a\0b", 3));
}
