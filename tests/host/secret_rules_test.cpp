// The rules a project adds (host/secrets/secrets.hpp SecretRules): their checks and messages, the compact
// pattern form, and their effect on the redactor, the names and the denylist; the policy as data.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "secret_fixtures.hpp"
#include "secrets/secret_data.hpp"
#include "secrets/secrets.hpp"

using namespace secret_fixtures;
using sidecar::host::check_secret_rules;
using sidecar::host::is_secret_variable_name;
using sidecar::host::parse_token_pattern;
using sidecar::host::Redactor;
using sidecar::host::SecretRules;
using sidecar::host::TokenPattern;

TEST_CASE("rules: the compact pattern form", "[secrets]") {
  TokenPattern p;
  CHECK(parse_token_pattern("acme_live_[0-9a-f]{32}", p).empty());
  CHECK(p.prefix == "acme_live_");
  CHECK(p.charset == "[0-9a-f]");
  CHECK((p.min == 32 && p.max == 32));
  CHECK(p.kind.empty());  // made from the prefix when compiled: "acme-live"
  CHECK(parse_token_pattern("tok-[A-Z2-7]{16,64}", p).empty());
  CHECK((p.min == 16 && p.max == 64));
  CHECK(parse_token_pattern("tok-[a-z]{8,}", p).empty());
  CHECK((p.min == 8 && p.max == 4096));
  CHECK(parse_token_pattern("tok-[a-z]+", p).empty());
  CHECK((p.min == 1 && p.max == 4096));
  CHECK_THAT(parse_token_pattern("acme_live_", p), Catch::Contains("expected PREFIX[CLASS]{COUNT}"));
  CHECK_THAT(parse_token_pattern("acme_[0-9]", p), Catch::Contains("expected a count"));
  CHECK_THAT(parse_token_pattern("acme_[0-9]{x}", p), Catch::Contains("expected a count"));
  CHECK_THAT(parse_token_pattern("acme_[0-9]{3,x}", p), Catch::Contains("expected a count"));
}

TEST_CASE("rules: each bad entry is named by its path", "[secrets]") {
  auto bad = [](SecretRules rules) { return check_secret_rules(rules); };
  CHECK(bad({}).empty());
  SecretRules r;
  r.patterns = {TokenPattern{"acme", "acme_", "alnum", 16, 64}, TokenPattern{"x", "ab", "alnum", 16, 64}};
  CHECK(bad(r) == "patterns[2].prefix: expected a string of at least 3 bytes (and at most 64)");
  r.patterns = {TokenPattern{"bad kind!", "acme_", "alnum", 16, 64}};
  CHECK_THAT(bad(r), Catch::StartsWith("patterns[1].kind: expected a name of letters"));
  r.patterns = {TokenPattern{"k", "acme_", "letters", 16, 64}};
  CHECK_THAT(bad(r), Catch::StartsWith("patterns[1].charset: expected alnum, base64, base64url, hex, token"));
  r.patterns = {TokenPattern{"k", "acme_", "[a-z ]", 16, 64}};  // a blank would swallow prose
  CHECK_THAT(bad(r), Catch::StartsWith("patterns[1].charset:"));
  r.patterns = {TokenPattern{"k", "acme_", "[z-a]", 16, 64}};
  CHECK_THAT(bad(r), Catch::StartsWith("patterns[1].charset:"));
  r.patterns = {TokenPattern{"k", "acme_", "hex", 0, 64}};
  CHECK(bad(r) == "patterns[1].min: expected a whole number from 1 to 4096");
  r.patterns = {TokenPattern{"k", "acme_", "hex", 16, 8}};
  CHECK(bad(r) == "patterns[1].max: expected a whole number from min (16) to 4096");
  r.patterns = {TokenPattern{"k", "ac me", "hex", 16, 32}};
  CHECK(bad(r) == "patterns[1].prefix: expected no blanks or line breaks");
  r = {};
  r.names = {"GOOD_NAME", "bad name"};
  CHECK(bad(r) == "names[2]: expected a variable name or a glob of one, such as MY_*_PHRASE");
  r = {};
  r.allow_names = {""};
  CHECK_THAT(bad(r), Catch::StartsWith("allow_names[1]: "));
  r = {};
  r.files = {"ok.vault", std::string("a\nb")};
  CHECK(bad(r) == "files[2]: expected a file name or a glob, such as *.vault or config/*.pem");
  r = {};
  r.allow_files = {""};
  CHECK_THAT(bad(r), Catch::StartsWith("allow_files[1]: "));
  // set_secret_rules refuses them the same way and keeps what it had.
  CHECK_THROWS_WITH(sidecar::host::set_secret_rules(r), Catch::StartsWith("allow_files[1]: "));
  CHECK(sidecar::host::secret_rules().allow_files.empty());
}

TEST_CASE("rules: a user's patterns are redacted by their kind", "[secrets]") {
  SecretRules rules;
  TokenPattern compact;
  REQUIRE(parse_token_pattern("acme_live_[0-9a-f]{32}", compact).empty());
  rules.patterns = {compact, TokenPattern{"corp-token", "CORP-", "upper_digit", 20, 40}};
  const Redactor redactor({}, rules);
  const std::string hex = pseudo(32, "0123456789abcdef");
  std::size_t count = 0;
  CHECK(redactor.redact("client acme_live_" + hex + " and CORP-" + pseudo(24, kUpperDigit) + ".", &count) ==
        "client [REDACTED:acme-live] and [REDACTED:corp-token].");
  CHECK(count == 2);
  // The count bounds the run both ways, and a word boundary comes first.
  for (const std::string& text : {"acme_live_" + hex + "0", "acme_live_" + hex.substr(1), "xacme_live_" + hex,
                                  "CORP-" + pseudo(19, kUpperDigit), "CORP-" + pseudo(41, kUpperDigit)}) {
    INFO(text);
    CHECK(redactor.redact(text) == text);
  }
  // A redactor made before other rules are set keeps its own.
  CHECK(Redactor({}).redact("acme_live_" + hex) == "acme_live_" + hex);
}

TEST_CASE("rules: names add secret variables, allowed names remove them", "[secrets]") {
  SecretRules rules;
  rules.names = {"LOCKER_COMBINATION", "*_PHRASE"};
  rules.allow_names = {"DB_PASSWORD", "public_*"};
  ScopedRules scoped(rules);
  CHECK(is_secret_variable_name("LOCKER_COMBINATION"));
  CHECK(is_secret_variable_name("locker-combination"));
  CHECK(is_secret_variable_name("RECOVERY_PHRASE"));
  CHECK_FALSE(is_secret_variable_name("DB_PASSWORD"));
  CHECK_FALSE(is_secret_variable_name("PUBLIC_DEPLOY_TOKEN"));
  CHECK(is_secret_variable_name("OTHER_PASSWORD"));
  const Redactor redactor({"LOCKER_COMBINATION=" + alnum(12, 3), "DB_PASSWORD=" + alnum(12, 4)});
  CHECK(redactor.secret_values() == 1);
  CHECK(redactor.redact("RECOVERY_PHRASE=" + alnum(20) + " DB_PASSWORD=visible1 " + alnum(12, 3)) ==
        "RECOVERY_PHRASE=[REDACTED:RECOVERY_PHRASE] DB_PASSWORD=visible1 [REDACTED:LOCKER_COMBINATION]");
}

TEST_CASE("rules: files and allowed files extend the denylist", "[secrets]") {
  SecretRules rules;
  rules.files = {"*.vault", "deploy/*.json"};
  rules.allow_files = {"fixtures/test.pem", "*.example.key"};
  ScopedRules scoped(rules);
  CHECK(refused("x/prod.vault"));
  CHECK(refused("deploy/prod.json"));
  CHECK(refused("repo/deploy/prod.json"));  // a glob with '/' matches the path's last components
  CHECK_FALSE(refused("deploy.json"));
  CHECK_FALSE(refused("other/prod.json"));
  CHECK_THAT(why_of("prod.VAULT"), Catch::Contains("(*.vault, a rule of the project's secrets.files)"));
  CHECK_FALSE(refused("tests/fixtures/test.pem"));
  CHECK_FALSE(refused("server.example.key"));
  CHECK(refused("fixtures/other.pem"));
  CHECK(refused(".env"));
}

TEST_CASE("rules: the process's rules are replaced whole, and counted", "[secrets]") {
  const auto before = sidecar::host::secret_rules_generation();
  {
    SecretRules rules;
    rules.names = {"ONE_*"};
    ScopedRules scoped(rules);
    CHECK(sidecar::host::secret_rules().names == std::vector<std::string>{"ONE_*"});
    CHECK(sidecar::host::secret_rules_generation() == before + 1);
  }
  CHECK(sidecar::host::secret_rules().names.empty());
  CHECK(sidecar::host::secret_rules_generation() == before + 2);
  CHECK(sidecar::host::builtin_secret_kinds().size() >= 20);
}

// ---- The policy is data --------------------------------------------------------------------------

using sidecar::host::DataValue;
using sidecar::host::SecretPolicy;

namespace {

// A policy in force for one test, the default again after it.
struct ScopedPolicy {
  explicit ScopedPolicy(const SecretPolicy& policy) { sidecar::host::set_secret_policy(policy); }
  ~ScopedPolicy() { sidecar::host::set_secret_policy(sidecar::host::default_secret_policy()); }
};

}  // namespace

TEST_CASE("policy: the built-in rules are secret_rules.lua, read without Lua", "[secrets]") {
  CHECK(sidecar::host::default_secret_policy_error().empty());
  const SecretPolicy& policy = sidecar::host::default_secret_policy();
  REQUIRE(policy.patterns.size() >= 29);
  CHECK(policy.patterns[0].kind == "anthropic-key");  // before openai's sk-: the more precise first
  CHECK(policy.patterns[0].prefix == "sk-ant-");
  CHECK(policy.files[0].rule == ".env*");
  CHECK(sidecar::host::embedded_secret_rules().find("return {") != std::string_view::npos);
  // What Lua would read: the file's tree has the lists the policy was made from.
  const DataValue& data = sidecar::host::default_secret_data();
  REQUIRE(data.field("patterns"));
  CHECK(data.field("patterns")->items.size() == policy.patterns.size());
}

TEST_CASE("policy: what the data leaves out is not redacted, what it adds is", "[secrets]") {
  const std::string openai = "sk-" + alnum(40), github = "ghp_" + alnum(36);
  const std::string pem = pem_block("RSA PRIV" "ATE KEY", 2);
  {
    ScopedPolicy empty(SecretPolicy{});
    CHECK(Redactor({}).redact(openai + " " + github) == openai + " " + github);
    CHECK_FALSE(is_secret_variable_name("DB_PASSWORD"));
    CHECK_FALSE(refused(".env"));
    CHECK_FALSE(refused(".ssh/config"));
    // The matcher's own finds stay: PEM blocks, bearer tokens.
    CHECK(Redactor({}).redact(pem) == "[REDACTED:private-key]");
    CHECK(sidecar::host::builtin_secret_kinds() ==
          std::vector<std::string>{"authorization", "aws-secret-key", "basic-auth", "bearer-token", "jwt",
                                   "private-key", "url-password"});
  }
  SecretPolicy added = sidecar::host::default_secret_policy();
  TokenPattern zq;
  REQUIRE(parse_token_pattern("zq_[0-9a-f]{24,}", zq).empty());
  zq.kind = "zq-token";
  added.patterns.push_back(zq);
  added.names.push_back("*_COMBINATION");
  added.folders.push_back(".vault");
  const std::string token = "zq_" + pseudo(30, "0123456789abcdef");
  CHECK(Redactor({}).redact(token) == token);
  ScopedPolicy scoped(added);
  CHECK(Redactor({}).redact("t " + token + " " + openai) == "t [REDACTED:zq-token] [REDACTED:openai-key]");
  CHECK(is_secret_variable_name("SAFE_COMBINATION"));
  CHECK_THAT(why_of("x/.vault/a.txt"), Catch::Contains("is inside a secrets folder (.vault/)"));
  // A project's rules still come first: its allowed name wins over the policy.
  SecretRules rules;
  rules.allow_names = {"SAFE_COMBINATION"};
  ScopedRules project(rules);
  CHECK_FALSE(is_secret_variable_name("SAFE_COMBINATION"));
}

TEST_CASE("policy: the data reader takes the literal subset and names the line of anything else", "[secrets]") {
  DataValue v;
  std::string error;
  REQUIRE(sidecar::host::read_lua_data("-- c\nreturn { a = { 'x', \"y\\n\" }, 3, -4; b = {} }\n", v, error));
  CHECK(v.field("a")->items[1].text == "y\n");
  CHECK(v.items[1].integer == -4);
  auto why = [](std::string_view text) {
    DataValue d;
    std::string e;
    CHECK_FALSE(sidecar::host::read_lua_data(text, d, e));
    return e;
  };
  CHECK(why("{}") == "line 1: expected `return {`");
  CHECK(why("return {\n  a = x,\n}") == "line 2: expected a table, a quoted string or an integer");
  CHECK(why("return { 'open\n' }") == "line 1: unfinished string");
  CHECK(why("return { a = 1, a = 2 }") == "line 1: the key a twice");
  CHECK(why("return {} x") == "line 1: expected the end of the file after the table");
  CHECK_THAT(why("--[[ long ]] return {}"), Catch::Contains("long comments are not read here"));
  SecretPolicy p;
  REQUIRE(sidecar::host::read_lua_data("return { patterns = { { pattern = 'ab_[a-z]{4}' } } }", v, error));
  CHECK_THAT(sidecar::host::secret_policy_from_data(v, p), Catch::StartsWith("patterns[1]: expected {pattern ="));
  REQUIRE(sidecar::host::read_lua_data("return { colours = {} }", v, error));
  CHECK_THAT(sidecar::host::secret_policy_from_data(v, p), Catch::StartsWith("colours: unknown field"));
}
