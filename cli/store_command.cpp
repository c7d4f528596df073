// `sidecar store check|rebuild` and `sidecar usage`: the run store, handed to
// stdlib/sidecar/cli/store.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> store_commands() {
  const char* const m = "sidecar.cli.store";
  return {
      {"store", "Check the run store against the JSON copies of its records, or rebuild it", m, nullptr, {}},
      {"store check",
       "Compare .agent/sidecar.db with the record copies by revision, repair missing, stale and newer copies, and "
       "report what needs you (exit 1 if anything does)",
       m, "check", {{"--dry-run", "dry_run", kBool, "", "Report only: repair nothing"}, kRootFlag, kJsonFlag}},
      {"store rebuild",
       "Rebuild the store from the record copies (tasks/*.json, runs/*/run.json) and run events, keeping the newer "
       "revision of each record",
       m, "rebuild", {kRootFlag, kJsonFlag}},
      {"usage",
       "Token usage and cost totalled over runs, and over prepared folders run outside Sidecar (marked prepared)",
       m, "usage",
       {{"--since", "since", kText, "WHEN",
         "Runs created since WHEN: 2026-11-01, 2026-11-01T09:30:00Z, or an age: 90m, 24h, 7d, 2w"},
        {"--until", "until", kText, "WHEN", "Runs created before WHEN (same forms as --since)"},
        {"--by", "by", kText, "GROUP", "One row per runner, model, task, status, day or run; runner_day, model_day: each runner's or model's days; "
         "none: one total",
         "runner"},
        kRootFlag,
        {"--json", "json", kBool, "", kJsonFlag.help, nullptr, 0, "--csv"},
        {"--csv", "csv", kBool, "", "Print CSV: a header, one line per group"},
        {"--jsonl", "jsonl", kBool, "", "Print JSON Lines: one object per group, then the total"},
        {"--budgets", "budgets", kBool, "",
         "Spent against each budget of .agent/config.lua (today, each task, the largest run), and the runs a "
         "budget stopped"}}},
  };
}

}  // namespace sidecar::cli
