// `sidecar mcp` (the MCP server on stdio), `sidecar acp` (an ACP agent on stdio) and `sidecar context`, for
// main agents and editors: handed to stdlib/sidecar/cli/mcp.lua, acp.lua and context.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> agent_commands() {
  return {
      {"mcp",
       "Serve Sidecar's tools to a main agent over MCP on stdio (claude mcp add sidecar -- sidecar mcp): "
       "task_create, run_task, run_wait, run_show, run_list, run_decide, preset_list, preset_run, context",
       "sidecar.cli.mcp", "serve", Flags{kRootFlag}},
      {"acp",
       "Serve Sidecar as an Agent Client Protocol agent on stdio, for editors (Zed, CodeCompanion) and acpx: a prompt "
       "is a task run on the configured runner, /preset NAME key=value runs a preset (docs/acp.md)",
       "sidecar.cli.acp", "serve",
       Flags{{"--turn", "turn", kBool, "", "Do one prompt's work (the server starts this)", nullptr, kHidden}}},
      {"context", "What a main agent should know now: open tasks, runs waiting for review, decisions, spend",
       "sidecar.cli.context", "context",
       Flags{{"--budget", "budget", kInteger, "TOKENS", "Fit the answer in about this many tokens (4 characters each)",
              "2000"},
             kRootFlag, kJsonFlag}},
  };
}

}  // namespace sidecar::cli
