// `sidecar ui`: the web page over the store (ui/ui_server.hpp), its API answered by
// stdlib/sidecar/ui/api.lua in the command's one Lua state, a request at a time.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace sidecar::lua {
class Engine;
}

namespace sidecar::cli {

struct UiCommand {
  CLI::App* app = nullptr;
  int port = 4310;
  bool no_open = false;
  std::string host = "127.0.0.1";
  std::string root;  // the .agent folder; empty: the nearest
};

void add_ui_command(CLI::App& app, UiCommand& command);

// Serves until SIGINT or SIGTERM; returns the exit status.
int run_ui(lua::Engine& engine, const UiCommand& command);

}  // namespace sidecar::cli
