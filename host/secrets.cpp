// The secret-file denylist, the judgement of variable names, and the process's extra rules
// (host/secrets.hpp). The redactor's scans are in secret_shapes.cpp and secret_assignments.cpp.
#include <algorithm>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include "secret_scan.hpp"

namespace sidecar::host {
namespace detail {

bool glob_match(std::string_view glob, std::string_view text) {
  // Greedy with one backtrack point (the last '*'): each '*' only ever moves forward, so the
  // work is at most |glob| * |text| and usually linear.
  std::size_t g = 0, t = 0, star = npos, resume = 0;
  while (t < text.size()) {
    if (g < glob.size() && (glob[g] == '?' || ascii_lower(glob[g]) == ascii_lower(text[t]))) {
      ++g;
      ++t;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = t;
    } else if (star != npos) {
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

}  // namespace detail

using detail::ascii_lower;
using detail::ascii_upper;
using detail::ends_with;
using detail::glob_match;
using detail::npos;
using detail::starts_with;

namespace {

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// ---- The denylist ------------------------------------------------------------------------------

enum class Match { Exact, Prefix, Suffix };

struct NameRule {
  Match match;
  std::string_view text;  // lower case
  std::string_view rule;  // as the message names it; empty means `text`
};

constexpr NameRule kNameRules[] = {
    {Match::Exact, ".env", ".env*"},
    {Match::Prefix, ".env.", ".env*"},
    {Match::Prefix, "id_rsa", "SSH private key id_rsa*"},
    {Match::Prefix, "id_dsa", "SSH private key id_dsa*"},
    {Match::Prefix, "id_ecdsa", "SSH private key id_ecdsa*"},
    {Match::Prefix, "id_ed25519", "SSH private key id_ed25519*"},
    {Match::Suffix, ".pem", "*.pem"},
    {Match::Suffix, ".key", "*.key"},
    {Match::Suffix, ".p12", "*.p12"},
    {Match::Suffix, ".pfx", "*.pfx"},
    {Match::Suffix, ".keystore", "*.keystore"},
    {Match::Suffix, ".jks", "*.jks"},
    {Match::Exact, ".npmrc", {}},
    {Match::Exact, ".netrc", {}},
    {Match::Exact, "_netrc", {}},
    {Match::Exact, ".pypirc", {}},
    {Match::Exact, ".git-credentials", {}},
    {Match::Exact, "credentials", {}},
    {Match::Exact, "credentials.json", {}},
    {Match::Exact, ".htpasswd", {}},
    {Match::Exact, "secrets.yml", {}},
    {Match::Exact, "secrets.yaml", {}},
    {Match::Exact, "secrets.json", {}},
};

// Names the rules above would catch that hold no secret by convention: .env templates are
// committed on purpose, and a *.pub is the public half of a key pair.
constexpr std::string_view kTemplateNames[] = {".env.example", ".env.sample", ".env.template"};

// Folders that hold nothing but secrets: every file under them is refused, whatever its name.
constexpr std::string_view kSecretFolders[] = {".ssh", ".gnupg", ".aws"};

// Files whose name alone is innocent but which are credential stores in their folder.
struct FolderFile {
  std::string_view folder;
  std::string_view name;
};
constexpr FolderFile kSecretFolderFiles[] = {{".docker", "config.json"}, {".kube", "config"}};

constexpr std::string_view kAdvice =
    "; Sidecar never passes such files to an agent \xE2\x80\x94 name a redacted copy instead";

bool matches(const NameRule& rule, std::string_view name) {
  switch (rule.match) {
    case Match::Exact: return name == rule.text;
    case Match::Prefix: return starts_with(name, rule.text);
    case Match::Suffix: return ends_with(name, rule.text);
  }
  return false;
}

bool allowed_name(std::string_view name) {
  if (ends_with(name, ".pub")) return true;
  return std::find(std::begin(kTemplateNames), std::end(kTemplateNames), name) != std::end(kTemplateNames);
}

std::string refusal(std::string_view path, std::string_view what, std::string_view rule) {
  std::string why = "'";
  why.append(path).append("' ").append(what).append(" (").append(rule).append(")").append(kAdvice);
  return why;
}


// ---- Variable names ----------------------------------------------------------------------------

constexpr std::string_view kSecretNames[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY"};
// The last words (after '_') that make a name secret: *_KEY, *_TOKEN, *_SECRET, ...
constexpr std::string_view kSecretWords[] = {"KEY",    "TOKEN",  "SECRET",      "PASS",
                                             "PASSWD", "APIKEY", "CREDENTIALS", "PASSPHRASE"};
constexpr std::string_view kSecretInfixes[] = {"PASSWORD", "PASSWD", "_SECRET", "_ACCESS_KEY"};
// Last words that say where a secret is, how it looks or whether it is needed, not what it is.
constexpr std::string_view kAboutWords[] = {
    "DIR",    "FILE",   "PATH",     "URL",     "URI",     "HOST",     "PORT",  "USER",    "USERNAME",
    "NAME",   "LENGTH", "LEN",      "SIZE",    "COUNT",   "MIN",      "MAX",   "POLICY",  "PROMPT",
    "CMD",    "COMMAND", "ENABLED", "REQUIRED", "TYPE",   "FORMAT",   "TTL",   "EXPIRY",  "EXPIRES",
    "HEADER", "FIELD",  "PATTERN",  "REGEX",   "ARN"};
// Keys and tokens that are identifiers in code and data, never credentials: the word before
// _KEY or _TOKEN.
constexpr std::string_view kIdentifierKeys[] = {
    "PUBLIC", "PUB",   "PRIMARY", "FOREIGN", "SORT",   "PARTITION", "CACHE",  "ROUTING", "INDEX",
    "UNIQUE", "LOOKUP", "HASH",   "IDEMPOTENCY", "SHORTCUT", "HOT", "RANGE", "COMPOSITE", "SHARD",
    "GROUP",  "MAP",   "DICT",    "ROW",     "COLUMN", "I18N",      "TRANSLATION", "REGISTRY"};
constexpr std::string_view kIdentifierTokens[] = {"NEXT", "PAGE", "CONTINUATION", "CURSOR", "MAX", "MIN",
                                                  "EOS",  "BOS",  "PAD", "UNK", "SEP", "CLS", "MASK",
                                                  "START", "END", "STOP", "SPECIAL", "BEGIN"};

template <std::size_t N>
bool listed(const std::string_view (&list)[N], std::string_view word) {
  return std::find(std::begin(list), std::end(list), word) != std::end(list);
}

// The word after the last '_' of `upper`, and the one before it ("SORT" and "KEY" in "DB_SORT_KEY").
std::string_view last_word(std::string_view upper, std::size_t& cut) {
  cut = upper.rfind('_');
  return cut == npos ? std::string_view() : upper.substr(cut + 1);
}

bool builtin_secret_name(std::string_view upper) {
  if (listed(kSecretNames, upper)) return true;
  std::size_t cut = 0;
  const std::string_view last = last_word(upper, cut);
  if (cut != npos && listed(kAboutWords, last)) return false;
  if (cut != npos && listed(kSecretWords, last)) {
    std::size_t before_cut = 0;
    const std::string_view head = upper.substr(0, cut);
    std::string_view before = last_word(head, before_cut);
    if (before_cut == npos) before = head;
    if (last == "KEY") return !listed(kIdentifierKeys, before);
    if (last == "TOKEN") return !listed(kIdentifierTokens, before);
    return true;
  }
  for (std::string_view infix : kSecretInfixes) {
    if (upper.find(infix) != npos) return true;
  }
  return false;
}

// The name as the rules read it: upper case, '-' and '.' as '_'.
std::string normalized_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = (c == '-' || c == '.') ? '_' : ascii_upper(c);
  return out;
}

// ---- The process's rules -------------------------------------------------------------------------

std::mutex rules_mutex;
std::shared_ptr<const detail::CompiledRules> process_rules = std::make_shared<detail::CompiledRules>();
std::uint64_t rules_generation = 0;

}  // namespace

namespace detail {

std::shared_ptr<const CompiledRules> current_rules() {
  std::lock_guard<std::mutex> lock(rules_mutex);
  return process_rules;
}

bool is_secret_name(std::string_view name, const CompiledRules& rules) {
  // On the stack: the scan asks this for every name before a separator that might be secret.
  char buffer[256];
  if (name.empty() || name.size() > sizeof buffer) return false;
  for (std::size_t i = 0; i < name.size(); ++i) buffer[i] = (name[i] == '-' || name[i] == '.') ? '_' : ascii_upper(name[i]);
  const std::string_view upper(buffer, name.size());
  for (const std::string& glob : rules.allow_names) {
    if (glob_match(glob, upper)) return false;
  }
  for (const std::string& glob : rules.names) {
    if (glob_match(glob, upper)) return true;
  }
  return builtin_secret_name(upper);
}

CompiledRules compile_rules(const SecretRules& rules) {
  const std::string bad = check_secret_rules(rules);
  if (!bad.empty()) throw std::invalid_argument(bad);
  CompiledRules out;
  out.rules = rules;
  for (const TokenPattern& p : rules.patterns) {
    CompiledPattern c;
    c.kind = p.kind.empty() ? kind_from_prefix(p.prefix) : p.kind;
    c.prefix = p.prefix;
    charset_table(p.charset, c.body);
    c.min = p.min;
    c.max = p.max;
    out.pattern_first[static_cast<unsigned char>(p.prefix[0])] = true;
    out.triggers[static_cast<unsigned char>(p.prefix[0])] = true;
    out.patterns.push_back(std::move(c));
  }
  for (const std::string& g : rules.names) out.names.push_back(normalized_name(g));
  for (const std::string& g : rules.allow_names) out.allow_names.push_back(normalized_name(g));
  return out;
}

}  // namespace detail

void set_secret_rules(const SecretRules& rules) {
  auto compiled = std::make_shared<const detail::CompiledRules>(detail::compile_rules(rules));
  std::lock_guard<std::mutex> lock(rules_mutex);
  process_rules = std::move(compiled);
  ++rules_generation;
}

SecretRules secret_rules() { return detail::current_rules()->rules; }

std::uint64_t secret_rules_generation() {
  std::lock_guard<std::mutex> lock(rules_mutex);
  return rules_generation;
}

bool is_secret_variable_name(std::string_view name) {
  return detail::is_secret_name(name, *detail::current_rules());
}

bool is_secret_file(std::string_view path, std::string& why) {
  std::vector<std::string> parts;  // lower case, without empty and "." components
  for (std::size_t start = 0; start < path.size();) {
    std::size_t slash = path.find('/', start);
    if (slash == npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    if (!part.empty() && part != ".") parts.push_back(lowered(part));
    start = slash + 1;
  }
  if (parts.empty()) return false;

  // The project's rules: a glob with a '/' against the path's last components, one without
  // against its last component.
  const auto rules = detail::current_rules();
  std::string joined;
  std::vector<std::size_t> starts;
  for (const std::string& part : parts) {
    starts.push_back(joined.size() + (joined.empty() ? 0 : 1));
    joined.append(joined.empty() ? "" : "/").append(part);
  }
  auto project_rule = [&](const std::vector<std::string>& globs) -> const std::string* {
    for (const std::string& glob : globs) {
      if (glob.find('/') == npos) {
        if (glob_match(glob, parts.back())) return &glob;
        continue;
      }
      for (std::size_t s : starts) {
        if (glob_match(glob, std::string_view(joined).substr(s))) return &glob;
      }
    }
    return nullptr;
  };
  if (project_rule(rules->rules.allow_files)) return false;

  const std::string& name = parts.back();
  if (!allowed_name(name)) {
    for (const NameRule& rule : kNameRules) {
      if (!matches(rule, name)) continue;
      why = refusal(path, "looks like a secrets file", rule.rule.empty() ? rule.text : rule.rule);
      return true;
    }
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (std::string_view folder : kSecretFolders) {
      if (parts[i] != folder) continue;
      const bool last = i + 1 == parts.size();
      why = refusal(path, last ? "is a secrets folder" : "is inside a secrets folder", std::string(folder) + "/");
      return true;
    }
    if (i + 1 == parts.size()) break;
    for (const FolderFile& file : kSecretFolderFiles) {
      if (parts[i] != file.folder || parts[i + 1] != file.name) continue;
      why = refusal(path, "looks like a secrets file", std::string(file.folder) + "/" + std::string(file.name));
      return true;
    }
  }
  if (const std::string* glob = project_rule(rules->rules.files)) {
    why = refusal(path, "looks like a secrets file", *glob + ", a rule of the project's secrets.files");
    return true;
  }
  return false;
}

}  // namespace sidecar::host
