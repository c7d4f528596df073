// `sidecar preset list|show|run`: presets, handed to stdlib/sidecar/cli/preset.lua.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct PresetCommands {
  CLI::App *preset = nullptr, *list = nullptr, *show = nullptr, *run = nullptr;
  std::string name, repo, runner, model, jobs;
  std::vector<std::string> params;
  bool json = false, dry_run = false;
};

void add_preset_commands(CLI::App& app, PresetCommands& commands);

bool preset_command_call(const PresetCommands& commands, const char*& function, LuaOptions& options);

}  // namespace sidecar::cli
