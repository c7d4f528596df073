// `sidecar store check|rebuild` and `sidecar usage`: the run store, handed to
// stdlib/sidecar/cli/store.lua.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct StoreCommands {
  CLI::App* store = nullptr;
  CLI::App* check = nullptr;
  CLI::App* rebuild = nullptr;
  CLI::App* usage = nullptr;
  std::string root, since, until, by;
  bool json = false, csv = false, dry_run = false;
};

// Declares the subcommands and their flags on `app`.
void add_store_commands(CLI::App& app, StoreCommands& commands);

// The parsed one, as the stdlib function to call and its options; false when none was parsed.
bool store_command_call(const StoreCommands& commands, const char*& function, LuaOptions& options);

}  // namespace sidecar::cli
