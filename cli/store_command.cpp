#include "store_command.hpp"

namespace sidecar::cli {
namespace {

const char* const kRootHelp = "The .agent folder (default: the nearest .agent in or above the current directory)";

}  // namespace

void add_store_commands(CLI::App& app, StoreCommands& c) {
  c.store = app.add_subcommand("store", "Check the run store against the JSON copies of its records, or rebuild it");
  c.store->require_subcommand(1);
  c.check = c.store->add_subcommand(
      "check",
      "Compare .agent/sidecar.db with the record copies by revision, repair missing, stale and newer copies, and "
      "report what needs you (exit 1 if anything does)");
  c.check->add_flag("--dry-run", c.dry_run, "Report only: repair nothing");
  c.rebuild = c.store->add_subcommand(
      "rebuild",
      "Rebuild the store from the record copies (tasks/*.json, runs/*/run.json) and run events, keeping the newer "
      "revision of each record");
  for (CLI::App* sub : {c.check, c.rebuild}) {
    sub->add_option("--root", c.root, kRootHelp)->type_name("DIR");
    sub->add_flag("--json", c.json, "Print a JSON envelope {ok, version, command, data, errors}");
  }

  c.usage = app.add_subcommand("usage", "Token usage and cost totalled over runs");
  c.usage->add_option("--since", c.since, "Runs created since WHEN: 2026-11-01, 2026-11-01T09:30:00Z, or an age: 90m, 24h, 7d, 2w")
      ->type_name("WHEN");
  c.usage->add_option("--until", c.until, "Runs created before WHEN (same forms as --since)")->type_name("WHEN");
  c.usage->add_option("--by", c.by, "One row per runner (default), model, task, status, day or run; none: one total")
      ->type_name("GROUP");
  c.usage->add_option("--root", c.root, kRootHelp)->type_name("DIR");
  CLI::Option* json = c.usage->add_flag("--json", c.json, "Print a JSON envelope {ok, version, command, data, errors}");
  CLI::Option* csv = c.usage->add_flag("--csv", c.csv, "Print CSV: a header, one line per group");
  json->excludes(csv);
}

bool store_command_call(const StoreCommands& c, const char*& function, LuaOptions& options) {
  if (c.check->parsed()) function = "check";
  else if (c.rebuild->parsed()) function = "rebuild";
  else if (c.usage->parsed()) function = "usage";
  else return false;
  options = {{"root", c.root}, {"since", c.since}, {"until", c.until}, {"by", c.by}, {"json", c.json}, {"csv", c.csv},
             {"dry_run", c.dry_run}};
  return true;
}

}  // namespace sidecar::cli
