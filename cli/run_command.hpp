// `sidecar run T-0001 …` and `sidecar run list|show|approve|block|review|replay|queue|
// start-ready|tail|kill|wait|apply|discard`: runs, handed to stdlib/sidecar/cli/run.lua.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "lua_command.hpp"

namespace sidecar::cli {

struct RunCommands {
  CLI::App* run = nullptr;
  CLI::App *list = nullptr, *show = nullptr, *approve = nullptr, *block = nullptr, *review = nullptr,
           *replay = nullptr, *queue = nullptr, *start_ready = nullptr, *tail = nullptr, *kill = nullptr,
           *wait = nullptr, *apply = nullptr, *discard = nullptr;
  std::string root, task, id, runner, role, model, sandbox, timeout, idle_timeout, reason, note, decision, status,
      limit, jobs, worker;
  bool json = false, dry_run = false, background = false, continue_session = false, keep_session = false,
       allow_full_auto = false, edit_prompt = false, same_prompt = false, follow = false, explain = false,
       and_apply = false;
};

// Declares `run` and its subcommands on `app`.
void add_run_commands(CLI::App& app, RunCommands& commands);

// The parsed command as the stdlib function to call and its options; false when `run` was not
// given.
bool run_command_call(const RunCommands& commands, const char*& function, LuaOptions& options);

}  // namespace sidecar::cli
