// The secret-file denylist, the judgement of variable names, and the process's policy and rules
// compiled for the scans (host/secrets/secrets.hpp). What is secret is data (host/secrets/secret_data.hpp); the
// redactor's scans are in secret_shapes.cpp and secret_assignments.cpp.
#include <algorithm>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include "secrets/secret_data.hpp"
#include "secrets/secret_scan.hpp"

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

constexpr std::string_view kAdvice =
    "; Sidecar never passes such files to an agent \xE2\x80\x94 name a redacted copy instead";

std::string refusal(std::string_view path, std::string_view what, std::string_view rule) {
  std::string why = "'";
  why.append(path).append("' ").append(what).append(" (").append(rule).append(")").append(kAdvice);
  return why;
}

bool any_glob(const std::vector<std::string>& globs, std::string_view text) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return glob_match(g, text); });
}

// The name as the rules read it: upper case, '-' and '.' as '_'.
std::string normalized_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = (c == '-' || c == '.') ? '_' : ascii_upper(c);
  return out;
}

detail::NameGlobs name_globs(const std::vector<std::string>& globs) {
  detail::NameGlobs out;
  for (const std::string& g : globs) {
    std::string n = normalized_name(g);
    const std::size_t wild = n.find_first_of("*?");
    const std::size_t next = wild == npos ? npos : n.find_first_of("*?", wild + 1);
    if (wild == npos) {
      out.exact.push_back(std::move(n));
    } else if (wild == 0 && next == npos) {
      if (n[1] == '_') {
        out.word_cuts = std::max<std::size_t>(out.word_cuts, std::count(n.begin(), n.end(), '_'));
        out.words.push_back(n.substr(1));
      } else {
        out.suffixes.push_back(n.substr(1));
      }
    } else if (wild == 0 && n.size() > 2 && next == n.size() - 1 && n[next] == '*') {
      out.infixes.push_back(n.substr(1, n.size() - 2));
    } else {
      out.globs.push_back(std::move(n));
    }
  }
  std::sort(out.exact.begin(), out.exact.end());
  std::sort(out.words.begin(), out.words.end());
  return out;
}

// The words every name of `globs` holds (its longest run without a wildcard, without the '_'
// around it), none holding another; empty when some glob has no such word.
std::vector<std::string> name_words(const std::vector<std::string>& globs) {
  std::vector<std::string> words;
  for (const std::string& g : globs) {
    const std::string n = normalized_name(g);
    std::string_view best;
    for (std::size_t start = 0; start <= n.size();) {
      std::size_t end = n.find_first_of("*?", start);
      if (end == npos) end = n.size();
      std::string_view run = std::string_view(n).substr(start, end - start);
      while (!run.empty() && run.front() == '_') run.remove_prefix(1);
      while (!run.empty() && run.back() == '_') run.remove_suffix(1);
      if (run.size() > best.size()) best = run;
      start = end + 1;
    }
    if (best.empty()) return {};
    words.emplace_back(best);
  }
  std::sort(words.begin(), words.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  std::vector<std::string> kept;
  for (const std::string& w : words) {
    const bool covered = std::any_of(kept.begin(), kept.end(), [&](const std::string& k) { return w.find(k) != npos; });
    if (!covered) kept.push_back(w);
  }
  return kept;
}

// ---- The process's policy and rules --------------------------------------------------------------

std::mutex rules_mutex;
// Made on first use from the default policy, unless a policy was set before.
std::shared_ptr<const detail::CompiledRules> process_rules;
std::uint64_t rules_generation = 0;

// Under rules_mutex.
const detail::CompiledRules& locked_rules() {
  if (!process_rules) {
    process_rules = std::make_shared<const detail::CompiledRules>(detail::compile_rules(default_secret_policy(), {}));
  }
  return *process_rules;
}

}  // namespace

namespace detail {

bool NameGlobs::match(std::string_view upper) const {
  if (std::binary_search(exact.begin(), exact.end(), upper)) return true;
  // A word starts at one of the name's last word_cuts '_'s.
  std::size_t cut = upper.size();
  for (std::size_t k = 0; k < word_cuts && cut > 0 && (cut = upper.rfind('_', cut - 1)) != npos; ++k) {
    if (std::binary_search(words.begin(), words.end(), upper.substr(cut))) return true;
  }
  for (const std::string& s : suffixes) {
    if (ends_with(upper, s)) return true;
  }
  for (const std::string& s : infixes) {
    if (upper.find(s) != npos) return true;
  }
  return any_glob(globs, upper);
}

std::shared_ptr<const CompiledRules> current_rules() {
  std::lock_guard<std::mutex> lock(rules_mutex);
  locked_rules();
  return process_rules;
}

bool is_secret_name(std::string_view name, const CompiledRules& rules) {
  // On the stack: the scan asks this for every name before a separator that might be secret.
  char buffer[256];
  if (name.empty() || name.size() > sizeof buffer) return false;
  for (std::size_t i = 0; i < name.size(); ++i) buffer[i] = (name[i] == '-' || name[i] == '.') ? '_' : ascii_upper(name[i]);
  const std::string_view upper(buffer, name.size());
  if (rules.allow_names.match(upper)) return false;
  if (rules.names.match(upper)) return true;
  // Allowed names are exceptions to secret ones: looked at only for a name the policy calls secret.
  return rules.policy_names.match(upper) && !rules.policy_allow_names.match(upper);
}

CompiledRules compile_rules(const SecretPolicy& policy, const SecretRules& rules) {
  const std::string bad = check_secret_rules(rules);
  if (!bad.empty()) throw std::invalid_argument(bad);
  CompiledRules out;
  out.policy = policy;
  out.rules = rules;
  out.policy_patterns = policy.patterns.size();
  for (const std::vector<TokenPattern>* list : {&policy.patterns, &rules.patterns}) {
    for (const TokenPattern& p : *list) {
      CompiledPattern c;
      c.kind = p.kind.empty() ? kind_from_prefix(p.prefix) : p.kind;
      c.prefix = p.prefix;
      charset_table(p.charset, c.body);
      c.min = p.min;
      c.max = p.max;
      c.aws_key_id = c.kind == "aws-access-key";
      out.triggers[static_cast<unsigned char>(p.prefix[0])] = true;
      out.patterns.push_back(std::move(c));
    }
  }
  if (out.patterns.size() > 0xFFFF) throw std::invalid_argument("patterns: more than 65535");
  // A counting sort of the patterns by first byte, each byte's in order.
  for (const CompiledPattern& p : out.patterns) ++out.first[static_cast<unsigned char>(p.prefix[0]) + 1u];
  for (std::size_t c = 1; c < out.first.size(); ++c) out.first[c] += out.first[c - 1];
  out.by_first.resize(out.patterns.size());
  std::array<std::uint32_t, 257> next = out.first;
  for (std::size_t k = 0; k < out.patterns.size(); ++k) {
    out.by_first[next[static_cast<unsigned char>(out.patterns[k].prefix[0])]++] = static_cast<std::uint16_t>(k);
  }
  out.names = name_globs(rules.names);
  out.allow_names = name_globs(rules.allow_names);
  out.policy_names = name_globs(policy.names);
  out.policy_allow_names = name_globs(policy.allow_names);
  out.name_words = name_words(policy.names);
  for (const std::string& pair : policy.folder_files) {
    const std::size_t slash = pair.find('/');
    out.folder_files.emplace_back(lowered(pair.substr(0, slash)), slash == npos ? "" : lowered(pair.substr(slash + 1)));
  }
  return out;
}

}  // namespace detail

void set_secret_policy(const SecretPolicy& policy) {
  const std::string bad = check_secret_policy(policy);
  if (!bad.empty()) throw std::invalid_argument(bad);
  std::lock_guard<std::mutex> lock(rules_mutex);
  const SecretRules rules = process_rules ? process_rules->rules : SecretRules{};
  process_rules = std::make_shared<const detail::CompiledRules>(detail::compile_rules(policy, rules));
  ++rules_generation;
}

SecretPolicy secret_policy() { return detail::current_rules()->policy; }

void set_secret_rules(const SecretRules& rules) {
  std::lock_guard<std::mutex> lock(rules_mutex);
  // Not locked_rules(): with no rules yet, its compile of the default policy would be replaced at once.
  const SecretPolicy& policy = process_rules ? process_rules->policy : default_secret_policy();
  auto compiled = std::make_shared<const detail::CompiledRules>(detail::compile_rules(policy, rules));
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

namespace {

bool same_lowered(std::string_view text, std::string_view lower) {
  return text.size() == lower.size() &&
         std::equal(text.begin(), text.end(), lower.begin(), [](char a, char b) { return ascii_lower(a) == b; });
}

// The three tests of the policy (glob_match is case-insensitive by itself): a file rule on a
// path's last component, a folder rule on any component, a folder_files pair on two in a row.
const FileRule* policy_file_rule(const SecretPolicy& policy, std::string_view name) {
  if (any_glob(policy.allow_files, name)) return nullptr;
  for (const FileRule& rule : policy.files) {
    if (glob_match(rule.glob, name)) return &rule;
  }
  return nullptr;
}

const std::string* policy_folder(const SecretPolicy& policy, std::string_view part) {
  for (const std::string& folder : policy.folders) {
    if (glob_match(folder, part)) return &folder;
  }
  return nullptr;
}

const std::pair<std::string, std::string>* policy_pair(const detail::CompiledRules& rules, std::string_view folder,
                                                       std::string_view file) {
  for (const auto& pair : rules.folder_files) {
    if (same_lowered(folder, pair.first) && same_lowered(file, pair.second)) return &pair;
  }
  return nullptr;
}

constexpr std::string_view kFolderMarker = "\x01";  // a folder's question: a file of it, by no name

// is_secret_file under `rules`.
bool secret_file(const detail::CompiledRules& rules, std::string_view path, std::string& why) {
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
  if (project_rule(rules.rules.allow_files)) return false;

  if (const FileRule* rule = policy_file_rule(rules.policy, parts.back())) {
    why = refusal(path, "looks like a secrets file", rule->rule);
    return true;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (const std::string* folder = policy_folder(rules.policy, parts[i])) {
      const bool last = i + 1 == parts.size();
      why = refusal(path, last ? "is a secrets folder" : "is inside a secrets folder", *folder + "/");
      return true;
    }
    if (i + 1 == parts.size()) break;
    if (const auto* pair = policy_pair(rules, parts[i], parts[i + 1])) {
      why = refusal(path, "looks like a secrets file", pair->first + "/" + pair->second);
      return true;
    }
  }
  if (const std::string* glob = project_rule(rules.rules.files)) {
    why = refusal(path, "looks like a secrets file", *glob + ", a rule of the project's secrets.files");
    return true;
  }
  return false;
}

}  // namespace

bool is_secret_file(std::string_view path, std::string& why) {
  return secret_file(*detail::current_rules(), path, why);
}

// Globs over one path component by their form, as NameGlobs sorts variable names: an exact name
// costs a binary search, "*.pem" a compare of its end, and only the rest a glob match each. A walk
// asks about every name of a tree, and most names match nothing.
struct SecretFileJudge::Names {
  struct Globs {
    std::vector<std::string> exact;                         // lower case, sorted
    std::vector<std::string> prefixes, suffixes, infixes;  // "X*", "*X", "*X*" as lower-case X
    std::vector<std::string> rest;

    explicit Globs(const std::vector<std::string>& globs) {
      for (const std::string& g : globs) {
        const std::string l = lowered(g);
        const std::size_t wild = l.find_first_of("*?"), last = l.find_last_of("*?");
        const bool one_star = wild == last && wild != npos && l[wild] == '*';
        if (wild == npos) {
          exact.push_back(l);
        } else if (one_star && wild == 0) {
          suffixes.push_back(l.substr(1));
        } else if (one_star && wild + 1 == l.size()) {
          prefixes.push_back(l.substr(0, wild));
        } else if (l.size() > 2 && l.front() == '*' && l.back() == '*' &&
                   l.find_first_of("*?", 1) == l.size() - 1) {
          infixes.push_back(l.substr(1, l.size() - 2));
        } else {
          rest.push_back(g);
        }
      }
      std::sort(exact.begin(), exact.end());
    }

    bool match(std::string_view lower) const {
      auto any = [](const std::vector<std::string>& list, auto test) {
        return std::any_of(list.begin(), list.end(), test);
      };
      return std::binary_search(exact.begin(), exact.end(), lower) ||
             any(suffixes, [&](const std::string& x) { return ends_with(lower, x); }) ||
             any(prefixes, [&](const std::string& x) { return starts_with(lower, x); }) ||
             any(infixes, [&](const std::string& x) { return lower.find(x) != npos; }) || any_glob(rest, lower);
    }
  };

  Globs allow, files, folders;

  static std::vector<std::string> globs_of(const std::vector<FileRule>& rules) {
    std::vector<std::string> out;
    for (const FileRule& r : rules) out.push_back(r.glob);
    return out;
  }
  explicit Names(const SecretPolicy& p) : allow(p.allow_files), files(globs_of(p.files)), folders(p.folders) {}
};

SecretFileJudge::SecretFileJudge()
    : rules_(detail::current_rules()), names_(std::make_shared<const Names>(rules_->policy)) {
  whole_paths_ = !rules_->rules.files.empty() || !rules_->rules.allow_files.empty();
  marker_ = policy_file_rule(rules_->policy, kFolderMarker) || policy_folder(rules_->policy, kFolderMarker);
}

namespace {

std::string_view last_part(std::string_view folder) {
  const std::size_t slash = folder.rfind('/');
  return slash == npos ? folder : folder.substr(slash + 1);
}

std::string joined_path(std::string_view folder, std::string_view name) {
  std::string path(folder);
  return path.append(path.empty() ? "" : "/").append(name);
}

// `name` in lower case, in `buffer` (256 bytes); false for a longer one (a file system's names
// are at most 255 bytes).
bool lowered_name(std::string_view name, char* buffer, std::string_view& out) {
  if (name.size() > 256) return false;
  for (std::size_t i = 0; i < name.size(); ++i) buffer[i] = ascii_lower(name[i]);
  out = std::string_view(buffer, name.size());
  return true;
}

}  // namespace

bool SecretFileJudge::file(std::string_view folder, std::string_view name) const {
  char buffer[256];
  std::string_view lower;
  std::string why;
  if (whole_paths_ || !lowered_name(name, buffer, lower)) return secret_file(*rules_, joined_path(folder, name), why);
  const std::string_view parent = last_part(folder);
  return (names_->files.match(lower) && !names_->allow.match(lower)) || names_->folders.match(lower) ||
         (!parent.empty() && policy_pair(*rules_, parent, name));
}

bool SecretFileJudge::folder(std::string_view folder, std::string_view name) const {
  char buffer[256];
  std::string_view lower;
  std::string why;
  if (whole_paths_ || !lowered_name(name, buffer, lower)) {
    return secret_file(*rules_, joined_path(folder, name) + "/" + std::string(kFolderMarker), why);
  }
  const std::string_view parent = last_part(folder);
  return marker_ || names_->folders.match(lower) || (!parent.empty() && policy_pair(*rules_, parent, name)) ||
         policy_pair(*rules_, name, kFolderMarker);
}

}  // namespace sidecar::host
