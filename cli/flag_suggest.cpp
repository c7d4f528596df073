#include "flag_suggest.hpp"

#include <algorithm>
#include <vector>

#include <CLI/CLI.hpp>

namespace sidecar::cli {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string first_word(const std::string& s) { return s.substr(0, s.find('-')); }

// The chain of parsed subcommands, deepest last.
std::vector<CLI::App*> parsed_chain(CLI::App& app) {
  std::vector<CLI::App*> chain{&app};
  for (CLI::App* at = &app;;) {
    std::vector<CLI::App*> subs = at->get_subcommands();
    if (subs.empty()) break;
    at = subs.front();
    chain.push_back(at);
  }
  return chain;
}

}  // namespace

std::string closest_option(CLI::App& app, const std::string& given) {
  std::string best;
  std::size_t best_distance = 0;
  const std::vector<CLI::App*> chain = parsed_chain(app);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (const CLI::Option* o : (*it)->get_options()) {
      for (const std::string& name : o->get_lnames()) {
        if (name == "help") continue;
        const std::size_t d = edit_distance(given, name);
        const bool near = d <= std::max<std::size_t>(2, given.size() / 3) ||
                          (first_word(given).size() >= 3 && first_word(given) == first_word(name));
        if (near && (best.empty() || d < best_distance)) {
          best = name;
          best_distance = d;
        }
      }
    }
    if (!best.empty()) break;  // the deepest command's own flags first
  }
  return best;
}

std::string unexpected_arguments(CLI::App& app) {
  std::string message = "unknown option or argument:";
  std::string hints;
  for (const std::string& arg : app.remaining(true)) {
    message += " " + arg;
    if (arg.rfind("--", 0) != 0 || arg.size() <= 2) continue;
    const std::string name = arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    const std::string near = closest_option(app, name);
    if (!near.empty()) hints += (hints.empty() ? " (did you mean --" : ", --") + near;
  }
  if (!hints.empty()) message += hints + "?)";
  return message;
}

std::string misplaced_subcommand(CLI::App& app) {
  CLI::App* at = parsed_chain(app).back();
  std::vector<CLI::App*> subs = at->get_subcommands({});
  if (subs.empty()) return "";
  for (const CLI::Option* o : at->get_options()) {
    const std::string kind = o->get_type_name();  // "T-ID"
    if (!o->get_positional() || o->count() == 0 || kind.size() != 4 || kind.compare(1, 3, "-ID") != 0) continue;
    const std::string word = o->as<std::string>();
    const bool id = word.size() > 2 && word[0] == kind[0] && word[1] == '-';
    if (id || word.empty() || word[0] < 'a' || word[0] > 'z') continue;
    std::string names, near;
    std::size_t near_distance = 3;
    for (const CLI::App* sub : subs) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      const std::size_t d = edit_distance(word, sub->get_name());
      if (d < near_distance) {
        near = sub->get_name();
        near_distance = d;
      }
    }
    const std::string& name = at->get_name();
    return name + ": " + word + " is not a " + (kind[0] == 'T' ? "task id (T-0001)" : "run id (R-0001)") +
           " nor a subcommand of " + name + (near.empty() ? "" : " (did you mean " + near + "?)") +
           "; subcommands: " + names;
  }
  return "";
}

}  // namespace sidecar::cli
