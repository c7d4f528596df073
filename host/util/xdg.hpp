// XDG base directories (https://specifications.freedesktop.org/basedir-spec/).
#pragma once
#include <string>

namespace sidecar::xdg {

// $XDG_STATE_HOME/sidecar, or ~/.local/state/sidecar; "" when neither variable gives a home.
// Only computes the path: callers create it when they first write there.
std::string state_dir();

// Creates `dir` and its missing parents (mode 0700). Returns false and sets `error` on failure.
bool make_dirs(const std::string& dir, std::string& error);

}  // namespace sidecar::xdg
