// `sidecar task create|list|show|import|export|set-status`: task packets, handed to
// stdlib/sidecar/cli/task.lua.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct TaskCommands {
  CLI::App* task = nullptr;
  CLI::App *create = nullptr, *list = nullptr, *show = nullptr, *import = nullptr, *export_ = nullptr,
           *set_status = nullptr;
  std::string root, id, file, output, status, title, summary, goal, type, priority, validate_cmds, role, runner;
  std::vector<std::string> read, avoid, depends_on, tags, done_when;
  bool json = false;
};

// Declares `task` and its subcommands on `app`.
void add_task_commands(CLI::App& app, TaskCommands& commands);

// The parsed subcommand as the stdlib function to call and its options; false when none was.
bool task_command_call(const TaskCommands& commands, const char*& function, LuaOptions& options);

}  // namespace sidecar::cli
