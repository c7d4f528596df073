// StreamRedactor: fed in chunks of any size it gives what Redactor::redact gives for the whole
// text, byte for byte, and holds back a bounded amount.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "secret_fixtures.hpp"
#include "secrets/secrets.hpp"
#include "secrets/stream_redactor.hpp"

using namespace secret_fixtures;
using sidecar::host::Redactor;
using sidecar::host::StreamRedactor;

namespace {

const std::vector<std::string> kEnv = {"DEPLOY_TOKEN=deploy-" + alnum(14, 61), "MULTI_SECRET=line-one-" + alnum(8, 62) +
                                                                                  "\nline-two-" + alnum(8, 63)};

// A text with every kind of secret the redactor knows, between ordinary lines.
std::string corpus() {
  const std::string label = std::string("RSA PRIV") + "ATE KEY";
  const std::string id = "AKIA" + pseudo(16, kUpperDigit, 11);
  std::string pem_tail = pem_block("OPENSSH PRIV" "ATE KEY", 5);
  pem_tail = pem_tail.substr(pem_tail.find('\n') + 10);
  std::string flat = pem_block(label, 3, "\\n");
  std::string text;
  text += "2024-05-01T12:00:00Z INFO start: key sk-" "proj-" + alnum(40, 1) + " ok\n";
  text += "export MY_API_KEY=" + alnum(32, 2) + "\nDB_PASSWORD='" + alnum(12, 3) + "'\n";
  text += "{\"type\":\"item\",\"text\":\"" + flat + "\",\"password\": \"" + alnum(16, 4) + "\"}\n";
  text += "aws_access_key_id = " + id + "\nregion = eu-west-1\n\naws_secret_access_key = " + pseudo(40, kBase64, 5) +
          "\n";
  text += "noise line\n" + pseudo(40, kBase64, 6) + " (not near an id any more? two lines on: it is)\n";
  for (int i = 0; i < 8; ++i) text += "filler " + std::to_string(i) + "\n";
  text += pseudo(40, kBase64, 7) + " far from any id\n";
  text += "$ cat key\n" + pem_block(label, 6) + "\nafter the key\n";
  text += "tail of a log:\n" + pem_tail + "\n$ next\n";
  text += "git clone https://deploy:" + alnum(20, 8) + "@git.example.com/o/r.git\n";
  text += "curl -H 'Authorization: Basic " + alnum(24, 9) + "==' -H \"Authorization: Bearer " + alnum(30, 10) + "\"\n";
  text += "ghp_" + alnum(36, 11) + " glpat-" + alnum(24, 12) + " xoxb-123-" + alnum(20, 13) + " eyJ" + alnum(20, 14) +
          ".eyJ" + alnum(30, 15) + "." + alnum(20, 16) + "\n";
  text += "deploy-" + alnum(14, 61) + " and line-one-" + alnum(8, 62) + " and line-two-" + alnum(8, 63) + "\n";
  text += std::string("nul\0and \xff invalid", 17) + " AIza" + alnum(35, 17) + "\r\n";
  text += "$ cat head\n" + pem_block("EC PRIV" "ATE KEY", 4).substr(0, 200) + "\n(cut)\n";
  text += "last line without a break: sk-ant-api03-" + alnum(50, 18);
  return text;
}

// Feeds `text` cut at `cuts` (sorted positions), returning everything the stream gave.
std::string streamed(const Redactor& redactor, const std::string& text, const std::vector<std::size_t>& cuts,
                     std::size_t* max_held = nullptr) {
  StreamRedactor stream(redactor);
  std::string out;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    out += stream.feed(std::string_view(text).substr(from, cut - from));
    if (max_held) *max_held = std::max(*max_held, stream.held());
    from = cut;
  }
  out += stream.feed(std::string_view(text).substr(from));
  out += stream.finish();
  return out;
}

}  // namespace

TEST_CASE("stream: any split gives the one-shot result, byte for byte", "[secrets]") {
  const Redactor redactor(kEnv);
  const std::string text = corpus();
  const std::string whole = redactor.redact(text);
  REQUIRE(whole != text);
  std::mt19937 rng(20240501);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::size_t> cuts(1 + rng() % 40);
    for (std::size_t& c : cuts) c = rng() % (text.size() + 1);
    std::sort(cuts.begin(), cuts.end());
    INFO("round " << round);
    REQUIRE(streamed(redactor, text, cuts) == whole);
  }
  // One byte at a time, and the whole text at once.
  std::vector<std::size_t> every(text.size());
  for (std::size_t i = 0; i < every.size(); ++i) every[i] = i;
  CHECK(streamed(redactor, text, every) == whole);
  CHECK(streamed(redactor, text, {}) == whole);
}

TEST_CASE("stream: a secret cut by a read is caught, and held only until its line ends", "[secrets]") {
  StreamRedactor stream{Redactor({})};
  const std::string key = "ghp_" + alnum(36);
  CHECK(stream.feed("found " + key.substr(0, 12)).empty());
  CHECK(stream.feed(key.substr(12) + " in the remote\nnext li") == "found [REDACTED:github-token] in the remote\n");
  CHECK(stream.held() == 7);
  CHECK(stream.finish() == "next li");
  CHECK(stream.held() == 0);
  // The stream starts over after finish.
  CHECK(stream.feed("DB_PASSWORD=hunter2") == "");
  CHECK(stream.finish() == "DB_PASSWORD=[REDACTED:DB_PASSWORD]");
  CHECK(stream.replacements() == 2);
}

TEST_CASE("stream: a PEM block is held from its BEGIN line until it is whole", "[secrets]") {
  StreamRedactor stream{Redactor({})};
  const std::string block = pem_block("PRIV" "ATE KEY", 8);
  std::string out = stream.feed("before\n");
  std::size_t line_start = 0;
  for (std::size_t nl; (nl = block.find('\n', line_start)) != std::string::npos; line_start = nl + 1) {
    out += stream.feed(block.substr(line_start, nl + 1 - line_start));
  }
  CHECK(out == "before\n");  // nothing of the key yet
  // (A line that is one word of base64, like "after", would wait for the next line: an END
  // line could still claim it.)
  out += stream.feed(block.substr(line_start) + "\nafter it\n");
  CHECK(out == "before\n[REDACTED:private-key]\nafter it\n");
  // An END line later claims the lines of base64 above it.
  std::string tail = pem_block("OPENSSH PRIV" "ATE KEY", 4);
  tail = tail.substr(tail.find('\n') + 1);
  const std::size_t end = tail.rfind('\n') + 1;
  CHECK(stream.feed(tail.substr(0, end)).empty());
  CHECK(stream.feed(tail.substr(end) + "\n") == "[REDACTED:private-key]\n");
}

TEST_CASE("stream: an AWS secret key lines after its id, in a later read", "[secrets]") {
  StreamRedactor stream{Redactor({})};
  const std::string id = "ASIA" + pseudo(16, kUpperDigit);
  const std::string secret = pseudo(40, kBase64, 21);
  std::string out = stream.feed("id " + id + "\nx\n");
  out += stream.feed("y\n");
  out += stream.feed("secret " + secret.substr(0, 20));
  out += stream.feed(secret.substr(20) + "\n");
  out += stream.finish();
  CHECK(out == "id [REDACTED:aws-access-key]\nx\ny\nsecret [REDACTED:aws-secret-key]\n");
}

// Found by fuzz_redactor (fuzz/findings/redactor/aws-key-id-inside-secret-key): a 40-byte run that
// starts with a key id is both a key id and a secret key. Its label depended on whether a later
// line held a token, so a stream cut before that line labelled it otherwise than the whole did.
TEST_CASE("stream: a key id that starts a secret key is labelled alike, whatever follows", "[secrets]") {
  const Redactor redactor({});
  const std::string key = "ASIA" + pseudo(32, kUpperDigit, 23) + "zKIA";  // 40 bytes, upper and lower
  for (const std::string& after : {std::string(""), std::string("Bearer ") + alnum(40, 24), std::string("x")}) {
    const std::string text = key + ".\n" + after;
    const std::string whole = redactor.redact(text);
    CHECK(whole.rfind("[REDACTED:aws-secret-key].\n", 0) == 0);
    CHECK(streamed(redactor, text, {key.size() + 2}) == whole);
  }
}

TEST_CASE("stream: a flood without line breaks is held within bounds, and still redacted", "[secrets]") {
  const Redactor redactor({});
  StreamRedactor stream(redactor);
  std::mt19937 rng(7);
  std::string line, out;
  std::vector<std::string> keys;
  while (line.size() < 4 * 1024 * 1024) {
    line += std::string(1 + rng() % 5000, 'x') + " ";
    keys.push_back("sk-" + alnum(40, static_cast<std::uint32_t>(keys.size())));
    line += keys.back() + " ";
  }
  std::size_t max_held = 0;
  for (std::size_t at = 0; at < line.size(); at += 65536) {
    out += stream.feed(std::string_view(line).substr(at, 65536));
    max_held = std::max(max_held, stream.held());
  }
  out += stream.finish();
  CHECK(max_held <= StreamRedactor::kMaxHold + 65536);
  std::size_t leaked = 0;
  for (const std::string& key : keys) leaked += out.find(key) != std::string::npos ? 1 : 0;
  CHECK(leaked == 0);
  CHECK(out == redactor.redact(line));  // cuts fell between tokens: the same as at once
}

TEST_CASE("stream: a block that never ends is held within bounds", "[secrets]") {
  StreamRedactor stream{Redactor({})};
  std::string out = stream.feed("-----BEGIN RSA PRIV" "ATE KEY-----\n");
  std::size_t max_held = 0;
  const std::string first = pseudo(64, kBase64, 1);
  for (int i = 0; i < 4000; ++i) {
    out += stream.feed((i == 0 ? first : pseudo(64, kBase64, static_cast<std::uint32_t>(i))) + "\n");
    max_held = std::max(max_held, stream.held());
  }
  out += stream.finish();
  CHECK(max_held <= StreamRedactor::kMaxHold + 64 * 1024 + 128);
  CHECK(out.rfind("[REDACTED:private-key]", 0) == 0);
  CHECK(out.find(first) == std::string::npos);
}

// Texts made at random from pieces of every shape (whole and cut), separators, quotes, escapes,
// base64 lines and PEM boundaries: the stream and the one-shot result agree on all of them.
TEST_CASE("stream: random texts of secret fragments, random splits", "[secrets]") {
  const std::string label = std::string("EC PRIV") + "ATE KEY";
  const std::vector<std::string> pieces = {
      "\n", "\n", "\n", " ", "\t", "\r\n", "=", ": ", "\"", "'", "\\n", "\\\"", "\\", "x", "word ", "sk-",
      "sk-" + alnum(24, 1), "ghp_" + alnum(36, 2), "AKIA" + pseudo(16, kUpperDigit, 3), pseudo(40, kBase64, 4),
      pseudo(64, kBase64, 5) + "\n", "-----BEGIN " + label + "-----", "-----END " + label + "-----",
      "-----BEGIN " + label + "-----\n" + pseudo(64, kBase64, 6) + "\n", "Proc-Type: 4,ENCRYPTED\n",
      "DB_PASSWORD", "TOKEN=", "export MY_API_KEY=", "\"password\": \"", "Authorization: Basic ", "Bearer ",
      "https://u:", "@host/", "eyJ" + alnum(12, 7) + ".", "deploy-" + alnum(14, 61), "line-one-" + alnum(8, 62),
      std::string("\0\xff", 2), "${X}", "<key>", "AAAA\n", "  " + pseudo(64, kBase64, 8) + "\n"};
  const Redactor redactor(kEnv);
  std::mt19937 rng(42);
  for (int round = 0; round < 400; ++round) {
    std::string text;
    const std::size_t count = 1 + rng() % 120;
    for (std::size_t i = 0; i < count; ++i) text += pieces[rng() % pieces.size()];
    const std::string whole = redactor.redact(text);
    for (int split = 0; split < 4; ++split) {
      std::vector<std::size_t> cuts(rng() % 30);
      for (std::size_t& c : cuts) c = rng() % (text.size() + 1);
      std::sort(cuts.begin(), cuts.end());
      INFO("round " << round << ", split " << split);
      REQUIRE(streamed(redactor, text, cuts) == whole);
    }
  }
}
