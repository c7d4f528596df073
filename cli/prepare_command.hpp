// `sidecar prepare`: the sidecar-task-runner skill's flags, handed to stdlib/sidecar/cli/prepare.lua.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct PrepareCommand {
  CLI::App* app = nullptr;
  std::string repo = ".", output_root, task_id, title, phase, task_type, model, sandbox, preset, prompt, prompt_file;
  std::vector<std::string> inputs;
  bool json = false;
};

// Declares the subcommand and its flags on `app`.
void add_prepare_command(CLI::App& app, PrepareCommand& command);

// Its options for require("sidecar.cli.prepare").run (see call_lua_command).
LuaOptions prepare_options(const PrepareCommand& command);

}  // namespace sidecar::cli
