// `sidecar prepare`: the sidecar-task-runner skill's flags, handed to stdlib/sidecar_task.lua.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace sidecar::lua {
class Engine;
}

namespace sidecar::cli {

struct PrepareCommand {
  CLI::App* app = nullptr;
  std::string repo = ".", output_root, task_id, title, phase, task_type, model, sandbox, preset, prompt, prompt_file;
  std::vector<std::string> inputs;
  bool json = false;
};

// Declares the subcommand and its flags on `app`.
void add_prepare_command(CLI::App& app, PrepareCommand& command);

// Runs it; `status` is the exit status. False (with `error`) only when the Lua side failed.
bool run_prepare(lua::Engine& engine, const PrepareCommand& command, int& status, std::string& error);

}  // namespace sidecar::cli
