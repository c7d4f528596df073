#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "secret_fixtures.hpp"
#include "secrets/secrets.hpp"

using sidecar::host::is_secret_file;
using sidecar::host::is_secret_variable_name;
using sidecar::host::Redactor;

using namespace secret_fixtures;

// ---- The denylist ------------------------------------------------------------------------------

TEST_CASE("secrets: .env files are refused, their templates are not", "[secrets]") {
  for (const char* path : {".env", ".env.local", ".env.production", "app/.env", "./.env.development.local"}) {
    INFO(path);
    CHECK(refused(path));
  }
  for (const char* path : {".env.example", ".env.sample", ".env.template", "app/.env.example", ".environment",
                           "env", "src/env.ts", "dotenv.py", ".envoy.yaml"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
  // The name rules judge the file, not its folders: a virtualenv called .env is not a secret.
  CHECK_FALSE(refused(".env/lib/python3.11/site.py"));
}

TEST_CASE("secrets: SSH private keys are refused, public keys are not", "[secrets]") {
  for (const char* path : {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ed25519_sk", "keys/id_rsa_work",
                           "backup/id_rsa.old", "id_ecdsa-cert"}) {
    INFO(path);
    CHECK(refused(path));
  }
  for (const char* path : {"id_rsa.pub", "id_ed25519.pub", "keys/id_ecdsa_work.pub", "key.pub", "deploy.pem.pub",
                           "id.txt", "my_id_rsa_notes.md"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
}

TEST_CASE("secrets: key and certificate stores are refused by extension", "[secrets]") {
  for (const char* path : {"server.pem", "tls/server.key", "cert.p12", "cert.pfx", "release.keystore",
                           "android/app/upload.jks", ".key", "a.b.pem"}) {
    INFO(path);
    CHECK(refused(path));
  }
  for (const char* path : {"keys.md", "monkey.keynote", "key", "pem.txt", "docs/keystore.md", "src/key.rs",
                           "server.pem.md", "p12.go"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
}

TEST_CASE("secrets: credential files are refused by exact name", "[secrets]") {
  for (const char* path : {".npmrc", ".netrc", "_netrc", ".pypirc", ".git-credentials", "credentials",
                           "credentials.json", ".htpasswd", "secrets.yml", "secrets.yaml", "secrets.json",
                           "config/secrets.yml", "gcp/credentials.json"}) {
    INFO(path);
    CHECK(refused(path));
  }
  // Exact names only: a document about credentials, or a file that merely contains the word, is fine.
  for (const char* path : {"notes/credentials.md", "credentials.py", "my_credentials", "npmrc", "secrets.md",
                           "secrets.yml.example", "app/secrets.ts", ".npmrc.d/readme", "netrc.c"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
}

TEST_CASE("secrets: everything under .ssh, .gnupg and .aws is refused, at any depth", "[secrets]") {
  for (const char* path : {"config/.ssh/known_hosts", "/home/u/.ssh/id_rsa.pub", ".ssh/config", ".ssh", ".ssh/",
                           "a/.gnupg/pubring.kbx", "~/.aws/config", "/root/.aws/cli/cache/x.json", "x/.aws"}) {
    INFO(path);
    CHECK(refused(path));
  }
  for (const char* path : {"ssh/config", "docs/.sshrc", "aws/config", "my.ssh/notes", "gnupg.md"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
}

TEST_CASE("secrets: .docker/config.json and .kube/config are refused, only in their folders", "[secrets]") {
  for (const char* path : {".docker/config.json", "/home/u/.docker/config.json", ".kube/config", "ci/.kube/config"}) {
    INFO(path);
    CHECK(refused(path));
  }
  for (const char* path : {"config.json", "config", ".docker/daemon.json", "docker/config.json", "kube/config",
                           ".kube/config.d/readme", ".kube/cache/x"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
}

TEST_CASE("secrets: names are judged case-insensitively", "[secrets]") {
  for (const char* path : {".ENV", ".Env.Local", "ID_RSA", "Server.PEM", "CREDENTIALS.JSON", "config/.SSH/known_hosts",
                           ".Docker/Config.json", ".KUBE/CONFIG", "Secrets.YAML"}) {
    INFO(path);
    CHECK(refused(path));
  }
  CHECK_FALSE(refused(".Env.Example"));
  CHECK_FALSE(refused("ID_RSA.PUB"));
}

TEST_CASE("secrets: odd paths", "[secrets]") {
  for (const char* path : {"", "/", ".", "./", "//", "a//b/c.txt", "../README.md"}) {
    INFO(path);
    CHECK_FALSE(refused(path));
  }
  CHECK(refused("a//.ssh//x"));
  CHECK(refused("../../.env"));
  CHECK(refused("deploy/.env/"));  // a trailing slash still names .env
}

TEST_CASE("secrets: the refusal names the path, the rule and what to do", "[secrets]") {
  CHECK(why_of(".env.local") ==
        "'.env.local' looks like a secrets file (.env*); Sidecar never passes such files to an agent "
        "\xE2\x80\x94 name a redacted copy instead");
  CHECK_THAT(why_of("keys/id_ed25519"), Catch::Contains("'keys/id_ed25519'") && Catch::Contains("id_ed25519*"));
  CHECK_THAT(why_of("tls/a.PEM"), Catch::Contains("(*.pem)"));
  CHECK_THAT(why_of(".npmrc"), Catch::Contains("(.npmrc)"));
  CHECK_THAT(why_of("config/.ssh/known_hosts"), Catch::Contains("is inside a secrets folder (.ssh/)"));
  CHECK_THAT(why_of(".gnupg"), Catch::Contains("is a secrets folder (.gnupg/)"));
  CHECK_THAT(why_of("x/.docker/config.json"), Catch::Contains("(.docker/config.json)"));

  // Left alone when the file is allowed.
  std::string why = "untouched";
  CHECK_FALSE(is_secret_file("README.md", why));
  CHECK(why == "untouched");
}

// ---- Redaction of key shapes -------------------------------------------------------------------

TEST_CASE("secrets: OpenAI and Anthropic keys", "[secrets]") {
  const std::string legacy = "sk-" + alnum(48);
  const std::string project = "sk-" "proj-" + alnum(40, 1) + "_" + alnum(20, 2) + "-" + alnum(20, 3);
  const std::string anthropic = "sk-" "ant-api03-" + alnum(60, 4) + "-" + alnum(20, 5) + "AA";
  CHECK(shapes("key=" + legacy + "\n", 1) == "key=[REDACTED:openai-key]\n");
  CHECK(shapes("OPENAI_API_KEY=\"" + project + "\"", 1) == "OPENAI_API_KEY=\"[REDACTED:openai-key]\"");
  CHECK(shapes(anthropic, 1) == "[REDACTED:anthropic-key]");  // the more precise shape names it
  // At least 20 bytes after "sk-".
  CHECK(shapes("sk-" + alnum(20) + ".", 1) == "[REDACTED:openai-key].");
  CHECK(shapes("sk-" + alnum(19) + ".", 0) == "sk-" + alnum(19) + ".");
  CHECK(shapes("sk-", 0) == "sk-");
}

TEST_CASE("secrets: GitHub tokens", "[secrets]") {
  for (const char* prefix : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}) {
    INFO(prefix);
    CHECK(shapes("token: " + std::string(prefix) + alnum(36), 1) == "token: [REDACTED:github-token]");
    CHECK(shapes(std::string(prefix) + alnum(29), 0) == std::string(prefix) + alnum(29));
  }
  const std::string pat = "github_pat_" + alnum(22, 3) + "_" + alnum(59, 4);
  CHECK(shapes("git clone https://x:" + pat + "@github.com/o/r", 1) ==
        "git clone https://x:[REDACTED:github-token]@github.com/o/r");
  CHECK(shapes("github_pat_" + alnum(39), 0) == "github_pat_" + alnum(39));
  CHECK(shapes("ghx_" + alnum(36), 0) == "ghx_" + alnum(36));
}

TEST_CASE("secrets: AWS, Google, Slack and Stripe keys", "[secrets]") {
  const std::string aws = "AKIA" + pseudo(16, kUpperDigit);
  const std::string sts = "ASIA" + pseudo(16, kUpperDigit, 9);
  CHECK(shapes("aws_access_key_id = " + aws + "\n", 1) == "aws_access_key_id = [REDACTED:aws-access-key]\n");
  CHECK(shapes(sts, 1) == "[REDACTED:aws-access-key]");
  CHECK(shapes("AKIA" + pseudo(15, kUpperDigit), 0) == "AKIA" + pseudo(15, kUpperDigit));
  CHECK(shapes("AKIA" + std::string(16, 'a'), 0) == "AKIA" + std::string(16, 'a'));  // upper case only

  const std::string google = "AIza" + alnum(30) + "_-" + alnum(3);
  CHECK(shapes("?key=" + google + "&q=1", 1) == "?key=[REDACTED:google-api-key]&q=1");
  CHECK(shapes("AIza" + alnum(34), 0) == "AIza" + alnum(34));

  for (const char* prefix : {"xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"}) {
    INFO(prefix);
    const std::string slack = std::string(prefix) + "1234567890-" + alnum(24);
    CHECK(shapes("SLACK: " + slack, 1) == "SLACK: [REDACTED:slack-token]");
  }
  CHECK(shapes("xoxb-123456789", 0) == "xoxb-123456789");  // 9 after the dash
  CHECK(shapes("xoxz-" + alnum(30), 0) == "xoxz-" + alnum(30));

  CHECK(shapes("sk_live_" + alnum(24), 1) == "[REDACTED:stripe-key]");
  CHECK(shapes("rk_live_" + alnum(16), 1) == "[REDACTED:stripe-key]");
  CHECK(shapes("sk_live_" + alnum(15), 0) == "sk_live_" + alnum(15));
  CHECK(shapes("sk_test_" + alnum(24), 0) == "sk_test_" + alnum(24));
}

TEST_CASE("secrets: JSON Web Tokens", "[secrets]") {
  const std::string jwt = "eyJ" + alnum(20, 1) + ".eyJ" + alnum(40, 2) + "." + alnum(30, 3) + "-_";
  CHECK(shapes("session=" + jwt + "; Path=/", 1) == "session=[REDACTED:jwt]; Path=/");
  // Three parts, each of at least 10 bytes, the first two starting eyJ.
  CHECK(shapes("eyJ" + alnum(20) + ".eyJ" + alnum(20), 0) == "eyJ" + alnum(20) + ".eyJ" + alnum(20));
  CHECK(shapes("eyJ" + alnum(6) + ".eyJ" + alnum(20) + "." + alnum(20), 0) ==
        "eyJ" + alnum(6) + ".eyJ" + alnum(20) + "." + alnum(20));
  CHECK(shapes("eyJ" + alnum(20) + ".abc" + alnum(20) + "." + alnum(20), 0) ==
        "eyJ" + alnum(20) + ".abc" + alnum(20) + "." + alnum(20));
  CHECK(shapes("eyJ" + alnum(20) + ".eyJ" + alnum(20) + "." + alnum(9), 0) ==
        "eyJ" + alnum(20) + ".eyJ" + alnum(20) + "." + alnum(9));
}

TEST_CASE("secrets: bearer tokens keep the word Bearer", "[secrets]") {
  const std::string token = alnum(24) + "._~+/" + alnum(8, 2) + "==";
  CHECK(shapes("Authorization: Bearer " + token + "\r\n", 1) == "Authorization: Bearer [REDACTED:bearer-token]\r\n");
  CHECK(shapes("authorization: bearer\t" + token, 1) == "authorization: bearer\t[REDACTED:bearer-token]");
  CHECK(shapes("BEARER  " + token, 1) == "BEARER  [REDACTED:bearer-token]");
  CHECK(shapes("Bearer " + alnum(16), 1) == "Bearer [REDACTED:bearer-token]");
  // Short words after Bearer are prose, and the word must stand alone.
  CHECK(shapes("Bearer " + alnum(15), 0) == "Bearer " + alnum(15));
  CHECK(shapes("the bearer of this letter", 0) == "the bearer of this letter");
  CHECK(shapes("Bearer ${GITHUB_TOKEN_VALUE_HERE}", 0) == "Bearer ${GITHUB_TOKEN_VALUE_HERE}");
  CHECK(shapes("Bearer" + alnum(30), 0) == "Bearer" + alnum(30));
  CHECK(shapes("NoBearer " + alnum(30), 0) == "NoBearer " + alnum(30));
  // A JWT as the bearer token is one replacement.
  const std::string jwt = "eyJ" + alnum(20, 1) + ".eyJ" + alnum(20, 2) + "." + alnum(20, 3);
  CHECK(shapes("Authorization: Bearer " + jwt, 1) == "Authorization: Bearer [REDACTED:bearer-token]");
}

TEST_CASE("secrets: PEM private key blocks go whole", "[secrets]") {
  const std::string label = std::string("RSA PRIV") + "ATE KEY";
  const std::string block = pem_block(label, 10);
  CHECK(shapes("before\n" + block + "\nafter\n", 1) == "before\n[REDACTED:private-key]\nafter\n");
  for (const char* kind : {"", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA "}) {
    INFO(kind);
    CHECK(shapes(pem_block(std::string(kind) + "PRIV" "ATE KEY", 5), 1) == "[REDACTED:private-key]");
  }
  // Inside a JSON string (lines joined by the two characters \n), indented, or flattened onto a line.
  CHECK(shapes("{\"key\": \"" + pem_block("PRIV" "ATE KEY", 4, "\\n") + "\\n\", \"x\": 1}", 1) ==
        "{\"key\": \"[REDACTED:private-key]\\n\", \"x\": 1}");
  // Under a secret name the whole string goes, named by the name.
  CHECK(shapes("{\"private_key\": \"" + pem_block("PRIV" "ATE KEY", 4, "\\n") + "\\n\", \"x\": 1}", 1) ==
        "{\"private_key\": \"[REDACTED:private_key]\", \"x\": 1}");
  CHECK(shapes("key: |\n  " + pem_block(label, 4, "\n  ") + "\nnext: 1", 1) ==
        "key: |\n  [REDACTED:private-key]\nnext: 1");
  CHECK(shapes("echo " + pem_block(label, 4, " ") + " done", 1) == "echo [REDACTED:private-key] done");

  // Headers between BEGIN and the base64 (legacy encryption, PGP armour) belong to the block.
  const std::string legacy = "-----BEGIN " + label + "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC," +
                             pseudo(32, kUpperDigit) + "\n\n" + pseudo(64, kBase64) + "\n-----END " + label + "-----";
  CHECK(shapes(legacy, 1) == "[REDACTED:private-key]");
  const std::string pgp = std::string("-----BEGIN PGP PRIV") + "ATE KEY BLOCK-----\nVersion: GnuPG v2\n\n" +
                          pseudo(64, kBase64) + "\n=" + alnum(4) + "\n-----END PGP PRIV" + "ATE KEY BLOCK-----";
  CHECK(shapes(pgp, 1) == "[REDACTED:private-key]");

  // Certificates and public keys are not secrets.
  const std::string cert = pem_block("CERTIFICATE", 5);
  CHECK(shapes(cert, 0) == cert);
  const std::string pub = pem_block("PUBLIC KEY", 3);
  CHECK(shapes(pub, 0) == pub);
}

TEST_CASE("secrets: code that only mentions a PEM header is left alone", "[secrets]") {
  const std::string label = std::string("RSA PRIV") + "ATE KEY";
  const std::string code = "if line == \"-----BEGIN " + label + "-----\":\n    in_key = True\n"
                           "elif line == \"-----END " + label + "-----\":\n    in_key = False\n";
  CHECK(shapes(code, 0) == code);
  const std::string concat = "pem = \"-----BEGIN " + label + "-----\\n\" + body + \"\\n-----END " + label + "-----\"";
  CHECK(shapes(concat, 0) == concat);
}

TEST_CASE("secrets: a PEM block cut at either end still loses its base64", "[secrets]") {
  const std::string label = std::string("OPENSSH PRIV") + "ATE KEY";
  const std::string block = pem_block(label, 6);
  // The tail of a log: the BEGIN line is gone, the END line is there.
  const std::string tail = block.substr(block.find('\n') + 20);
  CHECK(shapes(tail + "\n$ next command\n", 1) == "[REDACTED:private-key]\n$ next command\n");
  // The head of a log: the END line is gone.
  const std::string head = block.substr(0, block.rfind('\n'));
  CHECK(shapes("cat key:\n" + head + "\n(output truncated)\n", 1) ==
        "cat key:\n[REDACTED:private-key]\n(output truncated)\n");
}

TEST_CASE("secrets: a key shape starts at a word boundary", "[secrets]") {
  const std::string body = alnum(40);
  for (const std::string& text : {"mask-" + body, "task-" + body, "Xsk-" + body, "my_sk-" + body,
                                  "XAKIA" + pseudo(16, kUpperDigit), "_ghp_" + alnum(36), "2AIza" + alnum(35),
                                  "preyJ" + alnum(20) + ".eyJ" + alnum(20) + "." + alnum(20)}) {
    INFO(text);
    CHECK(shapes(text, 0) == text);
  }
  for (const std::string& text : {"(sk-" + body + ")", "=sk-" + body, "\"sk-" + body + "\"", "x-sk-" + body,
                                  "/sk-" + body, "\nsk-" + body}) {
    INFO(text);
    CHECK(shapes(text, 1).find("[REDACTED:openai-key]") != std::string::npos);
  }
}

// ---- Redaction of the environment's values -----------------------------------------------------

TEST_CASE("secrets: which variable names hold secrets", "[secrets]") {
  for (const char* name : {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GPG_KEY", "SSH_PRIVATE_KEY", "AWS_ACCESS_KEY_ID",
                           "AWS_SECRET_ACCESS_KEY", "MY_ACCESS_KEYS", "GITHUB_TOKEN", "NODE_AUTH_TOKEN",
                           "CLIENT_SECRET", "DB_PASSWORD", "SMTP_PASS", "GOOGLE_APPLICATION_CREDENTIALS",
                           "TOKEN", "SECRET", "PASSWORD", "github_token", "Db_Password", "token"}) {
    INFO(name);
    CHECK(is_secret_variable_name(name));
  }
  for (const char* name : {"PATH", "HOME", "KEY", "PASS", "KEYBOARD", "MONKEY", "API_KEYS_FILE", "TOKENIZER",
                           "SSH_ASKPASS", "GIT_ASKPASS", "PASSWORD_STORE_DIR", "SECRETS_DIR", "TOKEN_URL",
                           "SSH_AUTH_SOCK", "CREDENTIALS", "ACCESS", ""}) {
    INFO(name);
    CHECK_FALSE(is_secret_variable_name(name));
  }
}

TEST_CASE("secrets: values of secret variables are redacted by name", "[secrets]") {
  const Redactor redactor({"PATH=/usr/bin:/bin", "MY_SERVICE_TOKEN=tok-" + alnum(12), "DB_PASSWORD=hunter2!",
                           "db_admin_pass=correct horse battery", "SHORT_TOKEN=1234567", "DEBUG=1", "HOME=/home/u",
                           "NO_EQUALS_SIGN", "=nameless-value-here"});
  CHECK(redactor.secret_values() == 3);
  std::size_t count = 0;
  const std::string text = "calling with tok-" + alnum(12) + " as hunter2! from /home/u (pw: correct horse battery)"
                           " short 1234567 debug 1";
  CHECK(redactor.redact(text, &count) ==
        "calling with [REDACTED:MY_SERVICE_TOKEN] as [REDACTED:DB_PASSWORD] from /home/u "
        "(pw: [REDACTED:db_admin_pass]) short 1234567 debug 1");
  CHECK(count == 3);

  // Every occurrence, anywhere (a value has no word boundary to respect).
  CHECK(redactor.redact("hunter2!hunter2!xhunter2!", &count) ==
        "[REDACTED:DB_PASSWORD][REDACTED:DB_PASSWORD]x[REDACTED:DB_PASSWORD]");
  CHECK(count == 3);
}

TEST_CASE("secrets: exactly eight bytes is enough for a value", "[secrets]") {
  const Redactor eight({"API_KEY=12345678"});
  const Redactor seven({"API_KEY=1234567"});
  CHECK(eight.secret_values() == 1);
  CHECK(seven.secret_values() == 0);
  CHECK(eight.redact("id 12345678 and 1234567") == "id [REDACTED:API_KEY] and 1234567");
  CHECK(seven.redact("id 12345678 and 1234567") == "id 12345678 and 1234567");
}

TEST_CASE("secrets: a value set in two variables is searched once", "[secrets]") {
  const Redactor redactor({"A_TOKEN=same-value-123", "B_TOKEN=same-value-123"});
  CHECK(redactor.secret_values() == 1);
  CHECK(redactor.redact("x same-value-123 y") == "x [REDACTED:A_TOKEN] y");
}

TEST_CASE("secrets: a variable holding a key shape is named by the variable", "[secrets]") {
  const std::string key = "sk-" "proj-" + alnum(40);
  const Redactor redactor({"OPENAI_API_KEY=" + key});
  std::size_t count = 0;
  CHECK(redactor.redact("using " + key + ".", &count) == "using [REDACTED:OPENAI_API_KEY].");
  CHECK(count == 1);
  // Overlapping secrets become one replacement with nothing of either left over.
  const Redactor partial({"SOME_SECRET=" + key.substr(10) + "tail"});
  CHECK(partial.redact(key + "tail", &count) == "[REDACTED:openai-key]");
  CHECK(count == 1);
}

TEST_CASE("secrets: a name that holds a secret is not quoted as its value's label", "[secrets]") {
  // Found by fuzz/redactor.cpp: NAME=value is labelled with NAME as written, so a token or an
  // environment value inside the name came back out in its value's replacement.
  const std::string token = "ghp_" + alnum(36);
  const Redactor redactor({"DEPLOY_TOKEN=" + alnum(16, 5)});
  CHECK(redactor.redact("export " + token + "_PASSWORD=hunter2hunter2") ==
        "export [REDACTED:github-token]_PASSWORD=[REDACTED:secret]");
  CHECK(redactor.redact("x" + alnum(16, 5) + "_PASSWORD=hunter2hunter2") ==
        "x[REDACTED:DEPLOY_TOKEN]_PASSWORD=[REDACTED:secret]");
  CHECK(redactor.redact("DB_PASSWORD=hunter2hunter2") == "DB_PASSWORD=[REDACTED:DB_PASSWORD]");
}

TEST_CASE("secrets: Redactor::from_environ reads this process's environment", "[secrets]") {
  const std::string value = "env-" + alnum(20, 11);
  ScopedEnv env("SIDECAR_TEST_API_KEY", value);
  ScopedEnv harmless("SIDECAR_TEST_SETTING", "visible-setting-value");
  const Redactor redactor = Redactor::from_environ();
  CHECK(redactor.redact("a " + value + " b visible-setting-value") ==
        "a [REDACTED:SIDECAR_TEST_API_KEY] b visible-setting-value");
}

// ---- The text around the secrets ---------------------------------------------------------------

TEST_CASE("secrets: several secrets in one text, counted", "[secrets]") {
  const Redactor redactor({"DEPLOY_TOKEN=deploy-" + alnum(10, 21)});
  const std::string text = "1 sk-" + alnum(30) + "\n2 ghp_" + alnum(36) + "\n3 AKIA" + pseudo(16, kUpperDigit) +
                           "\n4 deploy-" + alnum(10, 21) + "\n5 Bearer " + alnum(20) + "\n6 nothing here\n";
  std::size_t count = 0;
  CHECK(redactor.redact(text, &count) ==
        "1 [REDACTED:openai-key]\n2 [REDACTED:github-token]\n3 [REDACTED:aws-access-key]\n"
        "4 [REDACTED:DEPLOY_TOKEN]\n5 Bearer [REDACTED:bearer-token]\n6 nothing here\n");
  CHECK(count == 5);
  // Two secrets side by side are two replacements.
  CHECK(redactor.redact("deploy-" + alnum(10, 21) + "deploy-" + alnum(10, 21), &count) ==
        "[REDACTED:DEPLOY_TOKEN][REDACTED:DEPLOY_TOKEN]");
  CHECK(count == 2);
}

TEST_CASE("secrets: text without secrets comes back byte for byte", "[secrets]") {
  const Redactor redactor({"API_KEY=" + alnum(32)});
  std::string text = "plain ascii, sk- too short, ghp_ alone, Bearer x, -----BEGIN CERTIFICATE-----\n";
  text += std::string("nul\0inside\0", 11);
  text += "\xff\xfe invalid \xc3\x28 utf-8 \xe2\x82 and valid caf\xc3\xa9 \xf0\x9f\x94\x91\n";
  text += std::string(1, '\0');
  std::size_t count = 42;
  const std::string out = redactor.redact(text, &count);
  CHECK(out.size() == text.size());
  CHECK(out == text);
  CHECK(count == 0);
  CHECK(redactor.redact("").empty());
  CHECK(redactor.redact("", &count).empty());
  CHECK(count == 0);
}

TEST_CASE("secrets: NUL bytes and invalid UTF-8 around a secret pass through", "[secrets]") {
  const std::string key = "ghp_" + alnum(36);
  const std::string text =
      std::string("\0\xff", 2) + key + std::string("\0\xc3", 2) + "sk-" + alnum(20) + std::string(1, '\0');
  const std::string out = shapes(text, 2);
  CHECK(out == std::string("\0\xff", 2) + "[REDACTED:github-token]" + std::string("\0\xc3", 2) +
                   "[REDACTED:openai-key]" + std::string(1, '\0'));
  // A secret value containing a NUL byte is still found.
  const Redactor redactor({std::string("BIN_SECRET=ab\0cdefgh", 20)});
  CHECK(redactor.redact(std::string("x ab\0cdefgh y", 13)) == "x [REDACTED:BIN_SECRET] y");
}

TEST_CASE("secrets: redacting twice changes nothing more", "[secrets]") {
  const std::string text = "Authorization: Bearer " + alnum(30) + " sk-" + alnum(30) + "\n" +
                           pem_block(std::string("PRIV") + "ATE KEY", 3);
  const Redactor redactor({});
  const std::string once = redactor.redact(text);
  std::size_t count = 9;
  CHECK(redactor.redact(once, &count) == once);
  CHECK(count == 0);
}
