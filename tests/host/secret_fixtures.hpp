// Shared by the redactor's tests: made-up credential bodies and small helpers.
#pragma once
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "secrets/secrets.hpp"

namespace secret_fixtures {

// Made-up credential bodies: deterministic letters and digits from a small LCG. Every key in this
// file is built at run time from a prefix and one of these, so no secret scanner takes the source
// for a leak (and none of them is, or ever was, a real key).
inline std::string pseudo(std::size_t n, std::string_view alphabet, std::uint32_t seed = 7) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 1103515245u + 12345u;
    out.push_back(alphabet[(seed >> 16) % alphabet.size()]);
  }
  return out;
}
inline constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
inline constexpr std::string_view kUpperDigit = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
inline constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline std::string alnum(std::size_t n, std::uint32_t seed = 7) { return pseudo(n, kAlnum, seed); }

inline bool refused(std::string_view path) {
  std::string why;
  return sidecar::host::is_secret_file(path, why);
}

inline std::string why_of(std::string_view path) {
  std::string why;
  sidecar::host::is_secret_file(path, why);
  return why;
}

// Redacts with no environment, returning the text and checking the number of replacements.
inline std::string shapes(std::string_view text, std::size_t expected_count) {
  std::size_t count = 99;
  std::string out = sidecar::host::Redactor({}).redact(text, &count);
  CHECK(count == expected_count);
  return out;
}

// A PEM block of `lines` lines of 64 base64 bytes, lines joined by `br`.
inline std::string pem_block(std::string_view label, int lines, std::string_view br = "\n") {
  std::string out = std::string("-----BEGIN ") + std::string(label) + "-----";
  for (int i = 0; i < lines; ++i) out += std::string(br) + pseudo(64, kBase64, 100 + i);
  out += std::string(br) + "-----END " + std::string(label) + "-----";
  return out;
}

struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { setenv(name.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

// Sets the process's secret rules for one test, and the built-in rules alone again after it.
struct ScopedRules {
  explicit ScopedRules(const sidecar::host::SecretRules& rules) { sidecar::host::set_secret_rules(rules); }
  ~ScopedRules() { sidecar::host::set_secret_rules({}); }
  ScopedRules(const ScopedRules&) = delete;
  ScopedRules& operator=(const ScopedRules&) = delete;
};

}  // namespace secret_fixtures
