// Redaction reads what it scans (issue 39): a secret right after a JSON escape (agent.jsonl holds
// an answer's newlines as \n) or a terminal sequence (grep --color, a coloured log, an OSC 8 link)
// is found as it is at a word's start, and only its bytes go: the escapes stay. Fed whole, and to
// the stream redactor cut at every point. Every key is built at run time (secret_fixtures.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "secret_fixtures.hpp"
#include "secrets.hpp"
#include "stream_redactor.hpp"

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
