// "Did you mean --budget-usd?": the known flag closest to one a user typed wrong.
#pragma once
#include <string>

namespace CLI {
class App;
}

namespace sidecar::cli {

// The long option (without "--") of the deepest subcommand `app` parsed, or of the ones above it,
// closest to `given` (without "--"): within a few edits, or sharing its first word
// (--budget-cost -> budget-usd). "" when none is close.
std::string closest_option(CLI::App& app, const std::string& given);

// The message for arguments CLI11 did not expect: each named, and for a flag close to a known
// one, that one ("unknown option --budget-cost (did you mean --budget-usd?)").
std::string unexpected_arguments(CLI::App& app);

// When the deepest command parsed has subcommands and an id argument of its own (T-ID, R-ID) took
// a word that is no id (`sidecar run diff R-1`: `diff` taken for the task): the message naming
// its subcommands, and the closest one ("run: diff is not a task id (T-0001) nor a subcommand of
// run (did you mean discard?); subcommands: list, show, ..."). "" otherwise.
std::string misplaced_subcommand(CLI::App& app);

}  // namespace sidecar::cli
