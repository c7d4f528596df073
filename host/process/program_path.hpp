// Finding the program a command names and building the environment it runs with, before any
// fork: a missing or unusable program is reported with what was searched, not as a bare ENOENT.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "process/process.hpp"

namespace sidecar::host {

// The child's environment as "NAME=value" strings: the parent's (or none when `clear`), with
// `changes` applied in order (a value sets, nullopt removes).
std::vector<std::string> build_environment(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes, bool clear);

// The value of `name` in an environment built by build_environment, if set.
std::optional<std::string> environment_value(const std::vector<std::string>& env, const std::string& name);

// Whether a command can be started at all, before any lookup: `argv` is not empty and `cwd`
// (when given) is a directory. False with `error` filled ("cannot run 'x': working directory
// ... does not exist") otherwise.
bool check_command(const std::vector<std::string>& argv, const std::string& cwd, SpawnError& error);

// Resolves `program` the way execvp would: a name with a '/' relative to `cwd` (when given),
// anything else searched in `path`. Returns the path to execute, or fills `error`.
std::optional<std::string> resolve_program(const std::string& program, const std::optional<std::string>& path,
                                           const std::string& cwd, SpawnError& error);

}  // namespace sidecar::host
