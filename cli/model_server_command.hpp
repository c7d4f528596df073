// `sidecar model-server`: the scripted model server (model_server/model_server.hpp) on 127.0.0.1,
// until SIGTERM or Ctrl-C. Plain C++: it runs before, and without, any Lua engine.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace sidecar::cli {

struct ModelServerCommand {
  CLI::App* app = nullptr;
  std::string scenario;  // the scenario file
  int port = 0;          // 0: any free port
  std::string log;       // JSONL request log, appended to; empty: none
  bool json = false;     // the ready line as JSON
};

void add_model_server_command(CLI::App& app, ModelServerCommand& command);

// Runs the server until it is told to stop; returns the exit status.
int run_model_server(const ModelServerCommand& command);

}  // namespace sidecar::cli
