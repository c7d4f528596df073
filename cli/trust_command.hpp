// `sidecar trust [PATH]`: let a repository's own code (.agent/config.lua, .agent/presets/*.lua)
// run, list what would run (--show), or take the trust back (--revoke); handed to
// stdlib/sidecar/cli/trust.lua.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct TrustCommand {
  CLI::App* app = nullptr;
  std::string path;
  bool show = false, revoke = false, json = false;
};

// Declares the command and its flags on `app`.
void add_trust_command(CLI::App& app, TrustCommand& command);

// When it was parsed: the stdlib function to call and its options; else false.
bool trust_command_call(const TrustCommand& command, const char*& function, LuaOptions& options);

}  // namespace sidecar::cli
