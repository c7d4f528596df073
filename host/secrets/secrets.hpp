// Keeping secrets away from agents and out of artifacts: a denylist of files never passed to an
// agent as task input, and a redactor run over every artifact Sidecar writes. This is the matcher;
// what it looks for is data: the SecretPolicy (stdlib/sidecar/core/secret_rules.lua, the host's
// default read from its embedded text: host/secrets/secret_data.hpp), extended by a project's
// .agent/config.lua with SecretRules. Both are set for the whole process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::host {

// A token shape of the user's own: `prefix` then a run of `min`..`max` bytes of one class,
// redacted as [REDACTED:kind]. The class is a named set (alnum, hex, base64, base64url, token,
// upper_digit, word) or a bracket expression of bytes and ranges ("[0-9a-f]", "[A-Z2-7_-]").
// Without a kind, it is made from the prefix: "acme_live_" gives "acme-live". A max of
// kMaxCount (what {N,} and + give) bounds nothing: the run may be longer.
struct TokenPattern {
  std::string kind;
  std::string prefix;
  std::string charset = "base64url";
  std::size_t min = 16;
  std::size_t max = 256;

  static constexpr std::size_t kMaxCount = 4096;
};

// What a user adds to the built-in rules. Name and file rules are globs ('*' any run of bytes,
// '?' one byte), matched ASCII case-insensitively.
struct SecretRules {
  std::vector<TokenPattern> patterns;
  std::vector<std::string> names;          // variables whose values are secret ("LOCKER_*")
  std::vector<std::string> allow_names;    // variables never secret, whatever else matches
  std::vector<std::string> files;          // secret files: a glob with a '/' is matched against
  std::vector<std::string> allow_files;    // the whole path, one without against its last part
};

// A secret-file rule of the policy: a glob matched against a path's last component, and how a
// refusal names it (".env*", "SSH private key id_rsa*").
struct FileRule {
  std::string glob;
  std::string rule;
};

// What is secret (stdlib/sidecar/core/secret_rules.lua documents each list). The project's
// SecretRules are judged before it: their allow_names and names, then these; their allow_files
// first, their files last.
struct SecretPolicy {
  std::vector<TokenPattern> patterns;      // token shapes, in order, each with its kind
  std::vector<std::string> names;          // secret variable names (globs)
  std::vector<std::string> allow_names;    // never secret, whatever `names` says
  std::vector<FileRule> files;             // secret files by their last component
  std::vector<std::string> allow_files;    // exempt from `files` (not from the folders)
  std::vector<std::string> folders;        // every file under one of these is secret
  std::vector<std::string> folder_files;   // "folder/name": a pair of components anywhere in a path
};

// Reads the compact form of a pattern, PREFIX[CLASS]{N} / {N,M} / {N,} / + ("acme_live_[0-9a-f]{32}":
// the prefix is taken literally) into `out`, leaving its kind empty. An empty result means it was
// read; otherwise the result says what is wrong with it.
std::string parse_token_pattern(std::string_view text, TokenPattern& out);

// What is wrong with `rules`, as "patterns[2].prefix: expected a string of at least 3 bytes"
// (indices count from 1, as in the Lua table they came from); empty when nothing is.
std::string check_secret_rules(const SecretRules& rules);

// What is wrong with `policy`, as check_secret_rules says it (a pattern's prefix may be 2 bytes).
std::string check_secret_policy(const SecretPolicy& policy);

// Replaces the process's policy (the default: default_secret_policy() of host/secrets/secret_data.hpp,
// until this is called); throws std::invalid_argument with check_secret_policy's message when it
// is not valid. Counted with the rules' generation.
void set_secret_policy(const SecretPolicy& policy);
SecretPolicy secret_policy();

// Replaces the process's rules (the policy always applies too); throws std::invalid_argument
// with check_secret_rules's message when they are not valid. Redactors made before keep the rules
// they were made with.
void set_secret_rules(const SecretRules& rules);
SecretRules secret_rules();
// Counts set_secret_rules calls: a cached redactor is stale when it differs.
std::uint64_t secret_rules_generation();

// Every kind of shape the redactor names by itself: the matcher's own (jwt, private-key,
// url-password, ...) and the policy's patterns' kinds, sorted (a value found by its variable's
// name is labelled with that name instead).
std::vector<std::string> builtin_secret_kinds();

// True when `path` names a file Sidecar refuses to pass to an agent; `why` then names the rule and
// what to do instead (it is left alone otherwise). Judged on the text of the path alone, with no
// file system access, ASCII case-insensitively: the last component against the policy's files
// (.env, .env.*, id_rsa*, *.pem, *.key, .npmrc, credentials.json, ...; .env.example and *.pub are
// allowed), every component against its folders (.ssh, .gnupg, .aws), its folder_files
// (.docker/config.json, .kube/config) anywhere in the path, then the process's extra rules
// (allow_files first: an allowed path is never refused).
bool is_secret_file(std::string_view path, std::string& why);

namespace detail {
struct CompiledRules;
}

// is_secret_file's judgement for a walk of a folder tree from its top down (host/
// secret_file_find.cpp), which asks about each entry it reads by the entry's name and its
// folder's, with the rules as they were when the judge was made: the same answers, without
// splitting, lowering or copying the path. It leans on the walk's order: a folder is asked about
// before it is entered and a secret one is never entered, so nothing above an entry is secret
// (no folder rule matches a component above it, no folder_files pair lies above it). With a
// project's own file rules (SecretRules::files, allow_files: globs that may span components) each
// question goes to is_secret_file with the whole path instead.
class SecretFileJudge {
 public:
  SecretFileJudge();
  // The entry `name` of the folder `folder` (its path from the top, "" for the top itself). A
  // folder is secret when every file in it would be (".ssh", a folder_files pair's folder: as
  // is_secret_file(path + "/\x01") says).
  bool file(std::string_view folder, std::string_view name) const;
  bool folder(std::string_view folder, std::string_view name) const;

 private:
  struct Names;  // the policy's file, allow_files and folder globs, sorted by their form
  std::shared_ptr<const detail::CompiledRules> rules_;
  std::shared_ptr<const Names> names_;
  bool whole_paths_ = false;  // the project has file rules: is_secret_file decides
  bool marker_ = false;       // a rule of the policy matches the "\x01" of a folder's question
};

// True when a variable of this name holds a secret by its name, ASCII case-insensitively, with
// '-' and '.' read as '_' (so an HTTP header or a YAML key is judged like a variable). The
// default policy says: *_KEY,
// *_TOKEN, *_SECRET*, *PASSWORD*, *PASSWD*, *_PASS, *_CREDENTIALS, *_APIKEY, *_PASSPHRASE,
// *_ACCESS_KEY*, and exactly TOKEN, SECRET, PASSWORD, PASSWD, APIKEY. Not: names that say
// where or how big a secret is (PASSWORD_STORE_DIR, *_PASSWORD_FILE, *_SECRET_URL,
// PASSWORD_MIN_LENGTH), and the keys and tokens that are identifiers, not credentials
// (PUBLIC_KEY, SORT_KEY, PRIMARY_KEY, NEXT_TOKEN, PAGE_TOKEN, ...). The process's rules come
// first: their allow_names win over everything, their names over the policy.
bool is_secret_variable_name(std::string_view name);

// Replaces the secrets in a text with [REDACTED:<label>]. Byte-oriented (NUL and invalid UTF-8
// pass through untouched) and linear in the size of the text: no regular expressions.
//   - the values of the environment's secret variables, labelled with the variable's name (a value
//     of several lines is searched for line by line);
//   - the policy's token shapes anywhere (openai-key, anthropic-key, github-token, aws-access-key,
//     google-api-key, slack-token, ...: builtin_secret_kinds()), JSON web tokens (jwt), and the
//     user's patterns;
//   - values assigned to a secret-looking name (NAME=value, NAME: value, export NAME=value,
//     "NAME": "value"), labelled with the name as written: DB_PASSWORD=[REDACTED:DB_PASSWORD];
//   - AWS secret access keys near their key id (aws-secret-key), passwords in URLs
//     (url-password), Authorization headers (basic-auth, bearer-token, authorization), and PEM
//     blocks of private and secret keys (private-key).
class Redactor {
 public:
  // `env` as "NAME=value" strings. Only values of at least kMinValueSize bytes are searched for:
  // a variable set to "1" would otherwise redact every 1 in every artifact. The process's
  // policy and SecretRules as they are now apply.
  explicit Redactor(const std::vector<std::string>& env);
  Redactor(const std::vector<std::string>& env, const SecretRules& rules);
  // A redactor for this process's environment.
  static Redactor from_environ();

  static constexpr std::size_t kMinValueSize = 8;

  // `text` with each secret replaced; `count`, when given, receives the number of replacements
  // (overlapping secrets count once). A text without secrets comes back byte for byte.
  std::string redact(std::string_view text, std::size_t* count = nullptr) const;

  // How many distinct environment values (lines of values) are searched for.
  std::size_t secret_values() const { return secrets_.size(); }

  // What carries over from one part of a text to the next when a stream is redacted part by
  // part (StreamRedactor): how many lines, counting the one the next part starts on, may still
  // hold an AWS secret key because a key id came shortly before.
  struct Carry {
    int aws_lines = 0;
  };
  // Redacts one part of a longer text, cut by the caller where no secret can straddle the cut.
  std::string redact_part(std::string_view text, Carry& carry, std::size_t* count = nullptr) const;

 private:
  friend class StreamRedactor;
  Redactor(const std::vector<std::string>& env, std::shared_ptr<const detail::CompiledRules> rules);
  // redact_part, also reporting where a PEM block that ran into the end of the text begins.
  std::string redact_scan(std::string_view text, Carry& carry, std::size_t* count, std::size_t* open_pem) const;

  struct Secret {
    std::string value;
    std::string name;
  };
  std::vector<Secret> secrets_;
  std::shared_ptr<const detail::CompiledRules> rules_;
};

}  // namespace sidecar::host
