// Fuzz target: the redactor (host/secrets/redactor.cpp, secret_*.cpp) and its streaming form
// (host/secrets/stream_redactor.cpp). Properties: a text fed in pieces redacts byte for byte as the whole
// does; a text with nothing redacted comes back unchanged; no secret value of the environment
// survives, nor a token after a JSON escape or a terminal sequence; a user's pattern, when it
// reads as valid, makes a working redactor; the reader of the
// policy's data file takes any text without crashing.
//
// Input: byte 0 chooses (bit 0: read a user pattern; the rest seeds where the stream is cut);
// with a pattern, byte 1 is its length and the pattern follows; the rest is the text (expanded,
// harness.hpp).
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "secrets/secret_data.hpp"
#include "secrets/secrets.hpp"
#include "secrets/stream_redactor.hpp"

namespace {

using sidecar::host::Redactor;
using sidecar::host::SecretRules;
using sidecar::host::StreamRedactor;

void check(bool ok, const std::string& what) {
  if (!ok) sidecar::fuzz::finding("redactor", what);
}

// Secret values made only of token bytes, so no shape of their own cuts them short; one spans
// two lines (each line is a secret alone).
const std::vector<std::string> kEnv = {
    "FUZZ_API_KEY=Zq9vW2xk7Lp3Rt8Y",
    "DEPLOY_TOKEN=mKz4Qf7Tb2Xw9Hs1\nPu6Vd3Ny8Ge5Jc0A",
    "HOME=/home/fuzz",
    "SHORT_KEY=abc",
};
const std::vector<std::string> kSecretValues = {"Zq9vW2xk7Lp3Rt8Y", "mKz4Qf7Tb2Xw9Hs1", "Pu6Vd3Ny8Ge5Jc0A"};

// A token of a known shape, put after whatever the input is and one of these escapes: a JSON
// string's, a colour, grep --color's, raw or JSON-escaped; it must never survive (issue 39).
const std::string kShaped = std::string("ghp_") + "Fz7Qm2Kx9Lw4Rt8Yb3Nv6Hc1Jd5Gs0Pq";
const std::vector<std::string> kEscapes = {"\\n", "\\\"", "\\u001b[31m", "\x1b[31m", "\x1b[01;31m\x1b[K",
                                           "\\u001b[01;31m\\u001b[K", "\x1b]8;;u\x07", "\\t", " "};

// Cut points for the stream: a small generator seeded from the input, 1 to 64 pieces, some of
// them a single byte.
std::vector<std::size_t> cuts(std::size_t size, std::uint32_t seed) {
  std::vector<std::size_t> at;
  const std::size_t pieces = seed % 64 + 1;
  std::uint32_t x = seed * 2654435761u + static_cast<std::uint32_t>(size);
  for (std::size_t i = 0; i + 1 < pieces && size > 0; ++i) {
    x = x * 1664525u + 1013904223u;
    at.push_back((x >> 8) % (size + 1));
  }
  std::sort(at.begin(), at.end());
  return at;
}

std::string streamed(const Redactor& redactor, std::string_view text, std::uint32_t seed) {
  StreamRedactor stream(redactor);
  std::string out;
  std::size_t from = 0;
  for (std::size_t at : cuts(text.size(), seed)) {
    out += stream.feed(text.substr(from, at - from));
    from = at;
  }
  out += stream.feed(text.substr(from));
  out += stream.finish();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::size_t at = 1;
  SecretRules rules;
  bool custom = false;
  if ((flags & 1) && size > 2) {
    const std::size_t len = std::min<std::size_t>(data[1] % 48, size - 2);
    const std::string_view text(reinterpret_cast<const char*>(data + 2), len);
    sidecar::host::TokenPattern pattern;
    if (sidecar::host::parse_token_pattern(text, pattern).empty()) {
      rules.patterns.push_back(pattern);
      custom = sidecar::host::check_secret_rules(rules).empty();
    }
    at = 2 + len;
  }
  const std::string text = sidecar::fuzz::expand(data + at, size - at);
  // Never throws for rules that checked clean; the built-in rules alone otherwise.
  const Redactor redactor = custom ? Redactor(kEnv, rules) : Redactor(kEnv);

  std::size_t count = 0;
  const std::string whole = redactor.redact(text, &count);
  check(count > 0 || whole == text, "nothing was redacted but the text changed");
  check(count == 0 || whole.find("[REDACTED:") != std::string::npos, "a replacement without its [REDACTED:] mark");
  for (const std::string& secret : kSecretValues)
    check(whole.find(secret) == std::string::npos, "an environment secret survived: " + secret);

  // Within kMaxHold the stream holds back whatever a later piece could change, so it must match
  // exactly; past it the header documents where it may differ.
  if (text.size() <= StreamRedactor::kMaxHold) {
    const std::string pieces = streamed(redactor, text, flags >> 1 | static_cast<std::uint32_t>(size) << 7);
    check(pieces == whole, "fed in pieces, the text redacts otherwise than whole");
  }

  const std::string shaped = text + kEscapes[(flags >> 1) % kEscapes.size()] + kShaped + "\\n";
  const std::string shaped_out = redactor.redact(shaped);
  // (only when the input holds no such token itself: one inside a word rightly stays)
  check(text.find(kShaped.substr(0, 4)) != std::string::npos || shaped_out.find(kShaped) == std::string::npos,
        "a token after an escape survived: ..." + shaped_out.substr(shaped_out.size() > 160 ? shaped_out.size() - 160 : 0));
  if (shaped.size() <= StreamRedactor::kMaxHold) {
    check(streamed(redactor, shaped, flags | static_cast<std::uint32_t>(size) << 5) == shaped_out,
          "after an escape, fed in pieces, the text redacts otherwise than whole");
  }

  // Names and paths from the same bytes: classifiers that must not crash on any text.
  const std::string_view first_line = std::string_view(text).substr(0, text.find('\n'));
  std::string why;
  sidecar::host::is_secret_file(first_line, why);
  sidecar::host::is_secret_variable_name(first_line);

  // The reader of secret_rules.lua's text (host/secrets/secret_data.hpp): any bytes, read or refused.
  sidecar::host::DataValue tree;
  if (sidecar::host::read_lua_data(text, tree, why)) {
    sidecar::host::SecretPolicy policy;
    sidecar::host::secret_policy_from_data(tree, policy);
  }
  return 0;
}
