// Redaction reads what it scans (issue 39): a secret right after a JSON escape (agent.jsonl holds
// an answer's newlines as \n) or a terminal sequence (grep --color, a coloured log, an OSC 8 link)
// is found as it is at a word's start, and only its bytes go: the escapes stay. Fed whole, and to
// the stream redactor cut at every point. Every key is built at run time (secret_fixtures.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "secret_fixtures.hpp"
#include "secrets/secrets.hpp"
#include "secrets/stream_redactor.hpp"

using namespace secret_fixtures;
using sidecar::host::Redactor;
using sidecar::host::StreamRedactor;

namespace {

// One secret of each kind the policy knows by its shape, and the label its replacement has.
std::vector<std::pair<std::string, std::string>> samples() {
  return {
      {"ghp_" + alnum(36, 1), "github-token"},
      {"github_pat_" + alnum(50, 2), "github-token"},
      {"sk-" "proj-" + alnum(40, 3), "openai-key"},
      {"sk-ant-api03-" + alnum(50, 4), "anthropic-key"},
      {"sk_live_" + alnum(24, 5), "stripe-key"},
      {"glpat-" + alnum(24, 6), "gitlab-token"},
      {"npm_" + alnum(36, 7), "npm-token"},
      {"hf_" + alnum(34, 8), "huggingface-token"},
      {"AIza" + alnum(35, 9), "google-api-key"},
      {"xoxb-123-" + alnum(20, 10), "slack-token"},
      {"AKIA" + pseudo(16, kUpperDigit, 11), "aws-access-key"},
      {"eyJ" + alnum(20, 12) + ".eyJ" + alnum(30, 13) + "." + alnum(20, 14), "jwt"},
      {"dop_v1_" + pseudo(64, "0123456789abcdef", 15), "digitalocean-token"},
      {"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0t" + pseudo(120, kBase64, 16), "private-key-base64"},
      {"LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0t" + pseudo(120, kBase64, 17), "private-key-base64"},
  };
}

// What comes right before a secret: escapes a JSON writer or a terminal puts there.
const std::vector<std::string> kBefore = {
    "x\\n",                            // a JSON string's newline
    "x\\t",                            // a tab
    "\\\"",                            // a quote
    "x\\u001b[31m",                    // a colour, its ESC escaped in JSON
    "\\u001b[01;31m\\u001b[K",         // grep --color, in JSON
    "x\x1b[31m",                       // a colour on a terminal
    "\x1b[01;31m\x1b[K",               // grep --color on a terminal
    "\x1b]8;;https://example.com\x07",  // an OSC 8 link's text (ended by BEL; by ESC \\ below)
    "x\\u0007",                        // a BEL, in JSON
};
const std::vector<std::string> kAfter = {"\\n", "\x1b[m\x1b[K", "\\u001b[0m", "\"", ""};

}  // namespace

TEST_CASE("redaction after escapes: every kind, after JSON escapes and terminal sequences", "[secrets]") {
  const Redactor redactor({});
  for (const auto& [secret, label] : samples()) {
    for (const std::string& before : kBefore) {
      for (const std::string& after : kAfter) {
        const std::string text = "{\"text\":\"" + before + secret + after + " tail\"}";
        INFO(label << " after " << before << " then " << after);
        const std::string out = redactor.redact(text);
        CHECK(out.find(secret) == std::string::npos);
        CHECK(out == "{\"text\":\"" + before + "[REDACTED:" + label + "]" + after + " tail\"}");
      }
    }
  }
}

namespace {

// A value found by the name before it (NAME=value, an Authorization header) after the same
// escapes (issue 45): the name starts where the escape ends, as a shape does. Each with the text
// the redactor makes of it.
std::vector<std::pair<std::string, std::string>> named_samples() {
  const std::string value = alnum(24, 71);
  const std::string basic = alnum(20, 72) + "==";
  return {
      {"TOKEN=" + value, "TOKEN=[REDACTED:TOKEN]"},
      {"SECRET=" + value, "SECRET=[REDACTED:SECRET]"},
      {"GITHUB_TOKEN: " + value, "GITHUB_TOKEN: [REDACTED:GITHUB_TOKEN]"},
      {"Authorization: token " + value, "Authorization: token [REDACTED:authorization]"},
      {"Authorization: Basic " + basic, "Authorization: Basic [REDACTED:basic-auth]"},
      {"Proxy-Authorization: Basic " + basic, "Proxy-Authorization: Basic [REDACTED:basic-auth]"},
  };
}

}  // namespace

TEST_CASE("redaction after escapes: names and Authorization headers, after every escape", "[secrets]") {
  const Redactor redactor({});
  for (const auto& [text_of, redacted] : named_samples()) {
    const std::string secret = text_of.substr(text_of.rfind(' ') == std::string::npos ? text_of.find('=') + 1
                                                                                       : text_of.rfind(' ') + 1);
    for (const std::string& before : kBefore) {
      for (const std::string& after : kAfter) {
        const std::string text = "{\"text\":\"" + before + text_of + after + " tail\"}";
        INFO(redacted << " after " << before << " then " << after);
        const std::string out = redactor.redact(text);
        CHECK(out.find(secret) == std::string::npos);
        CHECK(out == "{\"text\":\"" + before + redacted + after + " tail\"}");
      }
    }
  }
}

TEST_CASE("redaction after escapes: names and headers through the stream redactor, cut at every point",
          "[secrets]") {
  const Redactor redactor({});
  for (const auto& [text_of, redacted] : named_samples()) {
    for (const std::string& before : kBefore) {
      for (const std::string& after : kAfter) {
        const std::string text = "line " + before + text_of + after + " tail\nnext " + before + text_of + "\n";
        const std::string whole = "line " + before + redacted + after + " tail\nnext " + before + redacted + "\n";
        INFO(redacted << " after " << before << " then " << after);
        REQUIRE(redactor.redact(text) == whole);
        for (std::size_t cut = 1; cut < text.size(); ++cut) {
          StreamRedactor stream(redactor);
          std::string out = stream.feed(std::string_view(text).substr(0, cut));
          out += stream.feed(std::string_view(text).substr(cut));
          out += stream.finish();
          INFO("cut at " << cut);
          CHECK(out == whole);
        }
      }
    }
  }
}

TEST_CASE("redaction after escapes: a value's own escapes", "[secrets]") {
  const Redactor redactor({});
  const std::string value = alnum(24, 81);
  // grep --color marking part of a value: the whole value goes, the marks inside it too.
  CHECK(redactor.redact("TOKEN=\x1b[01;31m\x1b[K" + value.substr(0, 5) + "\x1b[m\x1b[K" + value.substr(5) + " x") ==
        "TOKEN=\x1b[01;31m\x1b[K[REDACTED:TOKEN] x");
  // A coloured value: the colours around it stay.
  CHECK(redactor.redact("TOKEN=\x1b[1m" + value + "\x1b[0m x") == "TOKEN=\x1b[1m[REDACTED:TOKEN]\x1b[0m x");
  CHECK(redactor.redact("SECRET=\\u001b[1m" + value + "\\u001b[0m,") == "SECRET=\\u001b[1m[REDACTED:SECRET]\\u001b[0m,");
  // A reference stays one, coloured or not.
  CHECK(redactor.redact("TOKEN=\x1b[1m$GITHUB_TOKEN\x1b[0m") == "TOKEN=\x1b[1m$GITHUB_TOKEN\x1b[0m");
}

TEST_CASE("redaction after escapes: a name glued to a word is not one", "[secrets]") {
  const Redactor redactor({});
  const std::string value = alnum(24, 91);
  // Not an escape before the name: a word that ends in n, m, K or b (none of these names is secret
  // as a whole), a colour whose ESC is missing, a backslash that escapes nothing JSON knows.
  for (const std::string& text : {"x anTOKEN=" + value, "x[32mTOKEN=" + value, "x\\u32mSECRET=" + value,
                                  "x\\qTOKEN=" + value, "x bKTOKEN=" + value, "x[KAuthorization: token " + value,
                                  "fooAuthorization: token " + value}) {
    INFO(text);
    CHECK(redactor.redact(text) == text);
  }
}

TEST_CASE("redaction after escapes: an OSC 8 link ended by ESC \\", "[secrets]") {
  // A backslash right before a secret goes with it (a JSON escape must not be left dangling).
  const std::string secret = "ghp_" + alnum(36, 61);
  CHECK(Redactor({}).redact("\x1b]8;;https://example.com\x1b\\" + secret + "\x1b]8;;\x1b\\") ==
        "\x1b]8;;https://example.com\x1b[REDACTED:github-token]\x1b]8;;\x1b\\");
}

TEST_CASE("redaction after escapes: an AWS secret key on its id's line after \\n or a colour", "[secrets]") {
  const Redactor redactor({});
  const std::string id = "AKIA" + pseudo(16, kUpperDigit, 21);
  const std::string key = pseudo(40, kBase64, 22);
  for (const std::string& sep : {std::string("\\n"), std::string("\x1b[32m"), std::string("\\u001b[32m")}) {
    const std::string out = redactor.redact("id " + id + sep + key + " done");
    INFO(sep);
    CHECK(out == "id [REDACTED:aws-access-key]" + sep + "[REDACTED:aws-secret-key] done");
  }
}

TEST_CASE("redaction after escapes: Azure connection strings", "[secrets]") {
  const Redactor redactor({});
  const std::string key = pseudo(86, kBase64, 31) + "==";
  const std::string out =
      redactor.redact("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core");
  CHECK(out.find(key) == std::string::npos);
  CHECK(out.find("AccountKey=[REDACTED:AccountKey]") != std::string::npos);
  const std::string sas = alnum(40, 32);
  CHECK(redactor.redact("Endpoint=sb://x/;SharedAccessKeyName=Root;SharedAccessKey=" + sas).find(sas) ==
        std::string::npos);
}

TEST_CASE("redaction after escapes: the words before stay whole", "[secrets]") {
  const Redactor redactor({});
  // Not an escape: a word that merely ends in n, m or a digit before a shape's prefix.
  const std::string inside = "xghp_" + alnum(36, 41);
  CHECK(redactor.redact(inside) == inside);
  const std::string after_word = "anmghp_" + alnum(36, 42);
  CHECK(redactor.redact(after_word) == after_word);
}

TEST_CASE("redaction after escapes: the stream redactor, cut at every point", "[secrets]") {
  const Redactor redactor({});
  const std::string secret = "ghp_" + alnum(36, 51);
  const std::string text = "{\"a\":\"line\\n\x1b[01;31m\x1b[K" + secret + "\x1b[m\x1b[K\\nnext\"}\n" +
                           "plain \\u001b[31m" + secret + "\\u001b[0m\n";
  const std::string whole = redactor.redact(text);
  REQUIRE(whole.find(secret) == std::string::npos);
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    StreamRedactor stream(redactor);
    std::string out = stream.feed(std::string_view(text).substr(0, cut));
    out += stream.feed(std::string_view(text).substr(cut));
    out += stream.finish();
    INFO("cut at " << cut);
    CHECK(out == whole);
  }
}
