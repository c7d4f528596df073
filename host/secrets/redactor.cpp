// The Redactor (host/secrets/secrets.hpp): the environment's values, then the scans of secret_scan.hpp,
// then one replacement per group of overlapping secrets.
#include <string.h>  // memmem

#include <algorithm>
#include <functional>

#include "secrets/secret_scan.hpp"

extern char** environ;

namespace sidecar::host {

using detail::npos;
using detail::Span;

namespace {

std::size_t find_bytes(std::string_view text, std::size_t from, std::string_view needle) {
  const void* hit = memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) : npos;
}

}  // namespace

Redactor::Redactor(const std::vector<std::string>& env) : Redactor(env, nullptr) {}

Redactor::Redactor(const std::vector<std::string>& env, const SecretRules& rules)
    : Redactor(env, std::make_shared<const detail::CompiledRules>(
                        detail::compile_rules(detail::current_rules()->policy, rules))) {}

Redactor::Redactor(const std::vector<std::string>& env, std::shared_ptr<const detail::CompiledRules> rules)
    : rules_(rules ? std::move(rules) : detail::current_rules()) {
  for (const std::string& entry : env) {
    const std::size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    if (!detail::is_secret_name(std::string_view(entry).substr(0, eq), *rules_)) continue;
    // Line by line: a stream is redacted a line at a time, and a value's line seen alone (a key
    // file's body line) is as secret as the whole value.
    const std::string_view value = std::string_view(entry).substr(eq + 1);
    for (std::size_t start = 0; start < value.size();) {
      std::size_t nl = value.find('\n', start);
      if (nl == npos) nl = value.size();
      const std::string_view line = value.substr(start, nl - start);
      start = nl + 1;
      if (line.size() < kMinValueSize) continue;
      const bool seen = std::any_of(secrets_.begin(), secrets_.end(), [&](const Secret& s) { return s.value == line; });
      if (!seen) secrets_.push_back({std::string(line), entry.substr(0, eq)});
    }
  }
}

Redactor Redactor::from_environ() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return Redactor(env);
}

std::string Redactor::redact(std::string_view text, std::size_t* count) const {
  Carry carry;
  return redact_scan(text, carry, count, nullptr);
}

std::string Redactor::redact_part(std::string_view text, Carry& carry, std::size_t* count) const {
  return redact_scan(text, carry, count, nullptr);
}

std::string Redactor::redact_scan(std::string_view text, Carry& carry, std::size_t* count,
                                  std::size_t* open_pem) const {
  std::vector<Span> spans;
  // The environment's values first: on a tie with a shape, the variable's name is the better label.
  for (const Secret& secret : secrets_) {
    for (std::size_t pos = 0; (pos = find_bytes(text, pos, secret.value)) != npos; pos += secret.value.size()) {
      spans.push_back({pos, pos + secret.value.size(), secret.name});
    }
  }
  detail::ScanResult scan;
  detail::scan_text(text, *rules_, scan);
  carry.aws_lines = detail::scan_aws_secrets(text, scan.aws_ids, carry.aws_lines, scan.shapes);
  if (open_pem) *open_pem = scan.open_pem;
  // Shapes before names: on a tie, "[REDACTED:github-token]" says more than "[REDACTED:TOKEN]".
  spans.insert(spans.end(), scan.shapes.begin(), scan.shapes.end());
  spans.insert(spans.end(), scan.named.begin(), scan.named.end());
  if (spans.empty()) {
    if (count) *count = 0;
    return std::string(text);
  }
  // Never cut an escape in two (a JSON string's \n or \"): the replacement would leave a lone
  // backslash escaping '[', or an escaped byte without its backslash, and the JSON line broken.
  auto escape_before = [&](std::size_t pos) {  // text[pos - 1] is a backslash that starts an escape
    std::size_t run = 0;
    while (run < pos && text[pos - 1 - run] == '\\') ++run;
    return run % 2 == 1;
  };
  for (Span& span : spans) {
    if (span.begin > 0 && escape_before(span.begin)) --span.begin;
    if (span.end < text.size() && text[span.end] != '\n' && escape_before(span.end)) ++span.end;
  }

  // Overlapping secrets become one replacement covering all of them, so no piece of one survives;
  // it takes the label of the one that starts first (the longest on a tie).
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::size_t kept = 0;
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[kept].end) {
      spans[kept].end = std::max(spans[kept].end, spans[i].end);
    } else {
      spans[++kept] = spans[i];
    }
  }
  spans.resize(kept + 1);

  // A label taken from the text (a name as written: NAME=value) must not carry a secret that was
  // found inside that name (a token, an environment value: "ghp_..._PASSWORD=x"), or the
  // replacement would print what it hides. Such a name is labelled "secret" instead. The spans are
  // sorted and disjoint now, so their ends rise too: one binary search per label.
  const std::less<const char*> before;  // a total order, also for labels outside the text
  for (Span& span : spans) {
    const char* label = span.label.data();
    if (before(label, text.data()) || !before(label, text.data() + text.size())) continue;
    const std::size_t from = static_cast<std::size_t>(label - text.data());
    const auto after = std::upper_bound(spans.begin(), spans.end(), from,
                                        [](std::size_t pos, const Span& s) { return pos < s.end; });
    if (after != spans.end() && after->begin < from + span.label.size()) span.label = "secret";
  }

  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (const Span& span : spans) {
    out.append(text.substr(pos, span.begin - pos));
    out.append("[REDACTED:").append(span.label).push_back(']');
    pos = span.end;
  }
  out.append(text.substr(pos));
  if (count) *count = spans.size();
  return out;
}

}  // namespace sidecar::host
