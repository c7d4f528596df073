// `sidecar preset list|show|run`: presets, handed to stdlib/sidecar/cli/preset.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> preset_commands() {
  const char* const m = "sidecar.cli.preset";
  const Flags name = {{"name", "name", kText, "NAME", "The preset", nullptr, kRequired}};
  const Flags repo_json = {
      {"--repo", "repo", kText, "DIR", "The repository (default: the current directory)"},
      kJsonFlag,
  };
  return {
      {"preset", "Presets: orchestration scripts in Lua (built-in, ./.agent/presets, ~/.config/sidecar/presets)", m,
       nullptr, {}},
      {"preset list", "Every preset: name, where it comes from, what it does", m, "list", repo_json},
      {"preset show", "A preset's parameters (types, defaults), what it escalates, its file", m, "show",
       name + repo_json},
      {"preset run", "Run a preset on a repository", m, "run",
       name +
           Flags{{"-p,--param", "params", kList, "K=V", "A parameter, NAME=VALUE (repeatable)"},
                 {"--runner", "runner", kText, "NAME",
                  "Send every agent step to this runner (default: the routing table)"},
                 {"--model", "model", kText, "MODEL", "The model for every agent step"},
                 {"--dry-run", "dry_run", kBool, "",
                  "Record each agent step's prompt and the command it would run; run none"},
                 {"-j,--jobs", "jobs", kInteger, "N",
                  "Agents at a time where a preset runs several (default 4; with --executor slurm the job array's "
                  "throttle unless the config's slurm.array_throttle sets one)"},
                 {"--executor", "executor", kText, "NAME",
                  "Where the agent steps run: local (default: the config's executor) or slurm (each read-only step "
                  "a batch job, a side-by-side batch one job array; writers still run here; see docs/scale.md)"},
                 {"--budget-tokens", "budget_tokens", kInteger, "N",
                  "Stop at N tokens over the preset's agent steps: a step crossing it ends budget_exceeded, no "
                  "further step starts (exit 1)"},
                 {"--budget-usd", "budget_usd", kText, "X", "As --budget-tokens, in US dollars the runners report"},
                 {"--budget-allow-unknown", "budget_allow_unknown", kBool, "",
                  "Under a budget, allow steps whose runner reports no usage (counted as unknown)"}} +
           repo_json},
  };
}

}  // namespace sidecar::cli
