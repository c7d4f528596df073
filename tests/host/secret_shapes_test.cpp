// The redactor's shapes beyond single tokens: values assigned to secret names, AWS secret keys
// near their id, URL passwords, Authorization headers, PEM blocks of every kind, and the newer
// token shapes. Every key is built at run time (secret_fixtures.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "secret_fixtures.hpp"
#include "secrets/secrets.hpp"
#include "util/json_text.hpp"

using namespace secret_fixtures;
using sidecar::host::is_secret_variable_name;
using sidecar::host::Redactor;

// ---- Names ---------------------------------------------------------------------------------------

TEST_CASE("secret names: PASSWORD anywhere, *_SECRET*, *_PASSWD, *_APIKEY, and header-style names", "[secrets]") {
  for (const char* name : {"PASSWORD_HASH", "DB_PASSWORD_PROD", "MYPASSWORD", "ROOT_PASSWD", "SMTP_PASSWD",
                           "CLIENT_SECRET_VALUE", "MY_SECRET_THING", "STRIPE_APIKEY", "APIKEY", "PASSWD",
                           "KEY_PASSPHRASE", "X-Api-Key", "db.password", "aws-secret-access-key", "x-auth-token"}) {
    INFO(name);
    CHECK(is_secret_variable_name(name));
  }
  // Where, how big or whether, not what: and keys and tokens that are identifiers.
  for (const char* name : {"PASSWORD_MIN_LENGTH", "DB_PASSWORD_FILE", "CLIENT_SECRET_URL", "PASSWORD_RESET_ENABLED",
                           "MY_SECRETS_DIR", "PUBLIC_KEY", "SSH_PUBLIC_KEY", "SORT_KEY", "sort_key", "primary_key",
                           "cache-key", "NEXT_TOKEN", "page_token", "eos_token", "TOKEN_COUNT", "token_count",
                           "max_tokens", "API_KEY_NAME", "SECRET_NAME", "KEYS", "PASSPORT"}) {
    INFO(name);
    CHECK_FALSE(is_secret_variable_name(name));
  }
}

// ---- Assignments -------------------------------------------------------------------------------

TEST_CASE("assignments: the value of a secret name goes, the name stays", "[secrets]") {
  CHECK(shapes("DB_PASSWORD=hunter22\n", 1) == "DB_PASSWORD=[REDACTED:DB_PASSWORD]\n");
  CHECK(shapes("export MY_API_KEY=" + alnum(32), 1) == "export MY_API_KEY=[REDACTED:MY_API_KEY]");
  CHECK(shapes("FOO_SECRET: " + alnum(24) + "\n", 1) == "FOO_SECRET: [REDACTED:FOO_SECRET]\n");
  CHECK(shapes("DB_PASSWORD = 'two words'", 1) == "DB_PASSWORD = '[REDACTED:DB_PASSWORD]'");
  CHECK(shapes("PASSWORD=\"a \\\"quoted\\\" one\" next", 1) == "PASSWORD=\"[REDACTED:PASSWORD]\" next");
  CHECK(shapes("{\"user\": \"ada\", \"password\": \"" + alnum(18) + "\"}", 1) ==
        "{\"user\": \"ada\", \"password\": \"[REDACTED:password]\"}");
  CHECK(shapes("{\"token\":\"" + alnum(20) + "\",\"n\":1}", 1) == "{\"token\":\"[REDACTED:token]\",\"n\":1}");
  CHECK(shapes("password: " + alnum(12) + ", user: ada", 1) == "password: [REDACTED:password], user: ada");
  CHECK(shapes("mysql --password=" + alnum(10) + " db", 1) == "mysql --password=[REDACTED:password] db");
  CHECK(shapes("curl -H 'X-Api-Key: " + alnum(20) + "' x", 1) == "curl -H 'X-Api-Key: [REDACTED:X-Api-Key]' x");
  CHECK(shapes("SECRET := " + alnum(10), 1) == "SECRET := [REDACTED:SECRET]");
  CHECK(shapes("env: {CLIENT_SECRET: " + alnum(10) + "}", 1) == "env: {CLIENT_SECRET: [REDACTED:CLIENT_SECRET]}");
  // An unterminated quote runs to the end of the line.
  CHECK(shapes("TOKEN=\"" + alnum(10) + "\r\nnext", 1) == "TOKEN=\"[REDACTED:TOKEN]\r\nnext");
}

TEST_CASE("assignments: code, references, placeholders and short values stay", "[secrets]") {
  for (const std::string& text : std::vector<std::string>{
           "password = input()", "password: str", "password: string;", "token = os.environ[\"TOKEN\"]",
           "PASSWORD=getpass.getpass(prompt)", "API_KEY=$API_KEY", "API_KEY=${API_KEY}", "TOKEN=$(cat token.txt)",
           "SECRET=%SECRET%", "api_key: {{ secrets.key }}", "DB_PASSWORD=<your password>", "PASSWORD=********",
           "TOKEN=xxxxxxxx", "password: null", "password = None", "token: true", "DB_PASSWORD=abc",
           "PASSWORD=\"\"", "token_count = 3", "sort_key = 'created_at'", "if password == stored:",
           "password != other", "password => x", "Secret::new(x)", "password:", "max_tokens: 4096",
           "12:00:00 token", "DB_PASSWORD=[REDACTED:DB_PASSWORD]", "the password is strong", "a-token-b: value"}) {
    INFO(text);
    CHECK(shapes(text, 0) == text);
  }
  // A name too long for a variable, and a name glued to a longer word, are not names.
  const std::string long_name = std::string(200, 'A') + "_TOKEN=" + alnum(20);
  CHECK(shapes(long_name, 0) == long_name);
}

// ---- AWS secret access keys --------------------------------------------------------------------

TEST_CASE("AWS secret keys: on the line of the key id or the five after it", "[secrets]") {
  const std::string id = "AKIA" + pseudo(16, kUpperDigit);
  const std::string secret = pseudo(40, kBase64, 3);
  CHECK(shapes(id + " " + secret, 2) == "[REDACTED:aws-access-key] [REDACTED:aws-secret-key]");
  CHECK(shapes(secret + "," + id, 2) == "[REDACTED:aws-secret-key],[REDACTED:aws-access-key]");
  CHECK(shapes("[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n", 2) ==
        "[default]\naws_access_key_id = [REDACTED:aws-access-key]\naws_secret_access_key = [REDACTED:aws-secret-key]\n");
  CHECK(shapes("{\n  \"AccessKeyId\": \"" + id + "\",\n  \"SecretAccessKey\": \"" + secret + "\"\n}", 2) ==
        "{\n  \"AccessKeyId\": \"[REDACTED:aws-access-key]\",\n  \"SecretAccessKey\": \"[REDACTED:aws-secret-key]\"\n}");
  CHECK(shapes(id + "\n1\n2\n3\n4\n" + secret, 2) == "[REDACTED:aws-access-key]\n1\n2\n3\n4\n[REDACTED:aws-secret-key]");
  // Six lines on, or with no id at all, 40 base64 bytes are anything (a hash, a path).
  CHECK(shapes(id + "\n1\n2\n3\n4\n5\n" + secret, 1) == "[REDACTED:aws-access-key]\n1\n2\n3\n4\n5\n" + secret);
  CHECK(shapes(secret, 0) == secret);
  CHECK(shapes(secret + "\n" + id, 1) == secret + "\n[REDACTED:aws-access-key]");
  // Not a key: a git hash (one case), 39 or 41 bytes, base64 padding after it.
  for (const std::string& other : {pseudo(40, "0123456789abcdef"), secret.substr(1), secret + "A", secret + "="}) {
    INFO(other);
    CHECK(shapes(id + " " + other, 1) == "[REDACTED:aws-access-key] " + other);
  }
  // A name that says so is enough on its own.
  CHECK(shapes("AWS_SECRET_ACCESS_KEY=" + secret, 1) == "AWS_SECRET_ACCESS_KEY=[REDACTED:AWS_SECRET_ACCESS_KEY]");
}

// ---- URLs and Authorization headers ------------------------------------------------------------

TEST_CASE("URL passwords go, the user and the host stay", "[secrets]") {
  const std::string pw = alnum(20);
  CHECK(shapes("git clone https://deploy:" + pw + "@git.example.com/o/r.git", 1) ==
        "git clone https://deploy:[REDACTED:url-password]@git.example.com/o/r.git");
  CHECK(shapes("postgres://app:" + pw + "@db:5432/x?sslmode=require", 1) ==
        "postgres://app:[REDACTED:url-password]@db:5432/x?sslmode=require");
  CHECK(shapes("redis://:" + pw + "@cache", 1) == "redis://:[REDACTED:url-password]@cache");
  CHECK(shapes("amqp://u:p@ss:w" + pw + "@mq/", 1) == "amqp://u:[REDACTED:url-password]@mq/");
  for (const std::string& text : {std::string("https://example.com:8080/a@b"), std::string("ssh://git@host:22/x"),
                                  std::string("https://user@host/"), std::string("https://u:@host"),
                                  std::string("https://u:${PASS}@host"), std::string("x://u:****@h"),
                                  std::string("mailto:ada@example.com"), std::string("https://host/x:y@z")}) {
    INFO(text);
    CHECK(shapes(text, 0) == text);
  }
}

TEST_CASE("Authorization headers: the credentials go, named by their scheme", "[secrets]") {
  const std::string basic = alnum(12) + "==";
  CHECK(shapes("Authorization: Basic " + basic + "\r\n", 1) == "Authorization: Basic [REDACTED:basic-auth]\r\n");
  CHECK(shapes("authorization: token " + alnum(20), 1) == "authorization: token [REDACTED:authorization]");
  CHECK(shapes("curl -H 'Authorization: Bearer " + alnum(8) + "' https://x", 1) ==
        "curl -H 'Authorization: Bearer [REDACTED:bearer-token]' https://x");
  CHECK(shapes("{\"Authorization\": \"Digest username=\\\"a\\\", response=\\\"" + alnum(32) + "\\\"\"}", 1) ==
        "{\"Authorization\": \"Digest [REDACTED:authorization]\"}");
  CHECK(shapes("Proxy-Authorization: Basic " + basic, 1) == "Proxy-Authorization: Basic [REDACTED:basic-auth]");
  CHECK(shapes("AUTHORIZATION=" + alnum(30), 1) == "AUTHORIZATION=[REDACTED:authorization]");
  for (const std::string& text : {std::string("Authorization: Bearer $TOKEN"), std::string("Authorization: Basic <b64>"),
                                  std::string("Authorization: required"), std::string("Authorization: Basic abc"),
                                  std::string("Authorization:"), std::string("Authorizations: x y")}) {
    INFO(text);
    CHECK(shapes(text, 0) == text);
  }
}

// ---- PEM blocks --------------------------------------------------------------------------------

TEST_CASE("PEM: every private or secret key label, whole, and only those", "[secrets]") {
  for (const char* label : {"RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY",
                            "ENCRYPTED PRIVATE KEY", "PRIVATE KEY", "PGP PRIVATE KEY BLOCK", "PGP SECRET KEY BLOCK",
                            "SSH2 ENCRYPTED PRIVATE KEY", "X9 SECRET KEY"}) {
    INFO(label);
    CHECK(shapes("a\n" + pem_block(label, 3) + "\nb", 1) == "a\n[REDACTED:private-key]\nb");
  }
  for (const char* label : {"CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE REQUEST", "X509 CRL",
                            "PGP PUBLIC KEY BLOCK", "PGP SIGNATURE"}) {
    INFO(label);
    const std::string block = pem_block(label, 3);
    CHECK(shapes(block, 0) == block);
  }
}

TEST_CASE("PEM: without its END line a block takes the base64 after BEGIN, up to 64 KiB", "[secrets]") {
  const std::string begin = "-----BEGIN RSA PRIV" "ATE KEY-----\n";
  std::string body;
  for (int i = 0; i < 8; ++i) body += pseudo(64, kBase64, 200 + i) + "\n";
  // The text ends in the middle of the key: all of it goes.
  CHECK(shapes("$ cat key\n" + begin + body, 1) == "$ cat key\n[REDACTED:private-key]\n");
  // A JSON string cut after the key: its closing quote ends the block, the line stays valid.
  std::string flat = begin + body;
  for (std::size_t k; (k = flat.find('\n')) != std::string::npos;) flat.replace(k, 1, "\\n");
  CHECK(shapes("{\"text\":\"" + flat + "\"}\n", 1) == "{\"text\":\"[REDACTED:private-key]\\n\"}\n");
  // 64 KiB from BEGIN at most: what comes after is not taken for the key.
  std::string huge;
  while (huge.size() < 70 * 1024) huge += pseudo(64, kBase64, static_cast<std::uint32_t>(huge.size())) + "\n";
  const std::string out = shapes(begin + huge, 1);
  CHECK(out.rfind("[REDACTED:private-key]", 0) == 0);
  CHECK(out.size() > 5 * 1024);
  CHECK(out.size() < 7 * 1024);
}

TEST_CASE("PEM: an END line takes the lines of base64 above it, 16 KiB at most", "[secrets]") {
  const std::string end = "-----END OPENSSH PRIV" "ATE KEY-----";
  std::string lines;
  for (int i = 0; i < 4; ++i) lines += "  " + pseudo(64, kBase64, 300 + i) + "\n";
  CHECK(shapes("$ tail key\n" + lines + end + "\nok\n", 1) == "$ tail key\n  [REDACTED:private-key]\nok\n");
  // A blank line, or prose, stops the climb.
  CHECK(shapes("keep me\n\n" + lines + end, 1) == "keep me\n\n  [REDACTED:private-key]");
  std::string far;
  while (far.size() < 20 * 1024) far += pseudo(64, kBase64, static_cast<std::uint32_t>(far.size())) + "\n";
  const std::string out = shapes(far + end, 1);
  CHECK(out.size() > 3 * 1024);  // the first lines, beyond 16 KiB, stay
  CHECK(out.find(far.substr(0, 64)) == 0);
}

// ---- Newer token shapes ------------------------------------------------------------------------

TEST_CASE("token shapes: GitLab, npm, Hugging Face, PyPI, SendGrid, Twilio, Google OAuth, age, Slack", "[secrets]") {
  const struct {
    std::string text;
    const char* kind;
  } cases[] = {
      {"glpat-" + alnum(20), "gitlab-token"},
      {"npm_" + alnum(36), "npm-token"},
      {"hf_" + alnum(34), "huggingface-token"},
      {"pypi-" + alnum(60), "pypi-token"},
      {"SG." + alnum(22) + "." + alnum(43), "sendgrid-key"},
      {"SK" + pseudo(32, "0123456789abcdef"), "twilio-key"},
      {"GOCSPX-" + alnum(28), "google-oauth-secret"},
      {"AGE-SECRET-KEY-1" + pseudo(58, kUpperDigit), "age-secret-key"},
      {"xapp-1-" + alnum(30), "slack-token"},
      {"https://hooks.slack.com/services/T0" + alnum(8) + "/B0" + alnum(8) + "/" + alnum(24), "slack-webhook"},
      {"dop_v1_" + pseudo(64, "0123456789abcdef"), "digitalocean-token"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(shapes("x " + c.text + " y", 1) == std::string("x [REDACTED:") + c.kind + "] y");
    CHECK(shapes("x" + c.text, 0) == "x" + c.text);  // inside a longer word
  }
  for (const std::string& text : {"glpat-" + alnum(19), "npm_" + alnum(35), "hf_" + alnum(29), "SKIP_" + alnum(40),
                                  "SK" + pseudo(31, "0123456789abcdef")}) {
    INFO(text);
    CHECK(shapes(text, 0) == text);
  }
}

TEST_CASE("every new shape is redacted once: redacting again changes nothing", "[secrets]") {
  const std::string text = "DB_PASSWORD=" + alnum(12) + "\nAKIA" + pseudo(16, kUpperDigit) + " " +
                           pseudo(40, kBase64, 5) + "\nhttps://u:" + alnum(9) + "@h/\nAuthorization: Basic " +
                           alnum(16) + "\n\"password\": \"" + alnum(10) + "\"\n" + pem_block("EC PRIV" "ATE KEY", 2);
  const Redactor redactor({});
  std::size_t count = 0;
  const std::string once = redactor.redact(text, &count);
  CHECK(count == 7);
  CHECK(redactor.redact(once, &count) == once);
  CHECK(count == 0);
}

// ---- Text inside a JSON string (an agent's event stream) --------------------------------------

namespace {

// The text of a JSON string literal (quotes included), or "<invalid>" when an escape is broken or
// a quote is left unescaped inside.
std::string json_string_text(std::string_view literal) {
  if (literal.size() < 2 || literal.front() != '"' || literal.back() != '"') return "<invalid>";
  std::string out;
  for (std::size_t i = 1; i + 1 < literal.size(); ++i) {
    const char c = literal[i];
    if (c == '"') return "<invalid>";
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    const char e = literal[++i];
    if (i + 1 >= literal.size() || std::string_view("\"\\/bfnrtu").find(e) == std::string_view::npos) return "<invalid>";
    out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e);
  }
  return out;
}

}  // namespace

TEST_CASE("inside a JSON string: every shape is found, and the string stays valid", "[secrets]") {
  struct Planted {
    std::string line, value, label;
  };
  const std::vector<Planted> lines = {
      {"DB_PASSWORD=", alnum(16, 1), "DB_PASSWORD"},
      {"export MY_API_KEY=", alnum(20, 2), "MY_API_KEY"},
      {"{\"user\": \"ada\", \"password\": \"", alnum(18, 3), "password"},
      {"Authorization: Basic ", alnum(20, 4) + "==", "basic-auth"},
      {"Authorization: Bearer ", alnum(30, 5), "bearer-token"},
      {"FOO_SECRET: ", alnum(24, 6), "FOO_SECRET"},
      {"X_TOKEN=\"", alnum(24, 7), "X_TOKEN"},
      {"clone https://deploy:", alnum(20, 8), "url-password"},
  };
  std::string text = "notes\n";
  for (const Planted& p : lines) {
    text += p.line + p.value;
    text += p.line.back() == '"' ? "\"" : p.label == "url-password" ? "@git.example.com/x" : "";
    text += p.label == "password" ? "}\n" : "\n";
  }
  text += pem_block("RSA PRIV" "ATE KEY", 3) + "\nend\n";
  std::string literal;
  REQUIRE(sidecar::json_text::append_string(literal, text));
  const std::string redacted = Redactor({}).redact(literal);
  const std::string decoded = json_string_text(redacted);
  REQUIRE(decoded != "<invalid>");
  for (const Planted& p : lines) {
    INFO(p.line + p.value);
    CHECK(decoded.find(p.line + "[REDACTED:" + p.label + "]") != std::string::npos);
    CHECK(decoded.find(p.value) == std::string::npos);
  }
  CHECK(decoded.find("[REDACTED:private-key]\nend\n") != std::string::npos);
  // A span that would end inside an escape takes the escaped byte too.
  const std::string cut = Redactor({}).redact("\"TOKEN=" + alnum(10) + "\\\\\"");
  CHECK(json_string_text(cut) != "<invalid>");
}
