// Keeping secrets away from agents and out of artifacts: a denylist of files never passed to an
// agent as task input, and a redactor run over every artifact Sidecar writes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::host {

// True when `path` names a file Sidecar refuses to pass to an agent; `why` then names the rule and
// what to do instead (it is left alone otherwise). Judged on the text of the path alone, with no
// file system access, ASCII case-insensitively: the last component against the file-name rules
// (.env, .env.*, id_rsa*, *.pem, *.key, .npmrc, credentials.json, ...; .env.example and *.pub are
// allowed), every component against the secret folders (.ssh, .gnupg, .aws), and the pairs
// .docker/config.json and .kube/config anywhere in the path.
bool is_secret_file(std::string_view path, std::string& why);

// True when an environment variable of this name holds a secret by its name, ASCII
// case-insensitively: *_KEY (so *_API_KEY, *_PRIVATE_KEY), *_ACCESS_KEY*, *_TOKEN, *_SECRET,
// *_PASSWORD, *_PASS, *_CREDENTIALS, and exactly TOKEN, SECRET or PASSWORD.
bool is_secret_variable_name(std::string_view name);

// Replaces the secrets in a text: the values of the environment's secret variables, written
// [REDACTED:NAME], and well-known credential shapes wherever they appear, written [REDACTED:kind]
// (openai-key, github-token, aws-access-key, google-api-key, slack-token, stripe-key, jwt,
// bearer-token, private-key). Byte-oriented (NUL and invalid UTF-8 pass through untouched) and
// linear in the size of the text: no regular expressions.
class Redactor {
 public:
  // `env` as "NAME=value" strings. Only values of at least kMinValueSize bytes are searched for:
  // a variable set to "1" would otherwise redact every 1 in every artifact.
  explicit Redactor(const std::vector<std::string>& env);
  // A redactor for this process's environment.
  static Redactor from_environ();

  static constexpr std::size_t kMinValueSize = 8;

  // `text` with each secret replaced; `count`, when given, receives the number of replacements
  // (overlapping secrets count once). A text without secrets comes back byte for byte.
  std::string redact(std::string_view text, std::size_t* count = nullptr) const;

  // How many distinct environment values are searched for.
  std::size_t secret_values() const { return secrets_.size(); }

 private:
  struct Secret {
    std::string value;
    std::string name;
  };
  std::vector<Secret> secrets_;
};

}  // namespace sidecar::host
