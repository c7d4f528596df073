// `sidecar init` and `sidecar capabilities`: a project's .agent folder and what this Sidecar can
// do, handed to stdlib/sidecar/cli/project.lua.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct ProjectCommands {
  CLI::App *init = nullptr, *capabilities = nullptr;
  std::string root;
  bool json = false, force = false;
};

void add_project_commands(CLI::App& app, ProjectCommands& commands);

bool project_command_call(const ProjectCommands& commands, const char*& function, LuaOptions& options);

}  // namespace sidecar::cli
