#include "preset_command.hpp"

namespace sidecar::cli {

void add_preset_commands(CLI::App& app, PresetCommands& c) {
  c.preset = app.add_subcommand("preset", "Presets: orchestration scripts in Lua (built-in, ./.agent/presets, "
                                          "~/.config/sidecar/presets)");
  c.preset->require_subcommand(1);
  c.list = c.preset->add_subcommand("list", "Every preset: name, where it comes from, what it does");
  c.show = c.preset->add_subcommand("show", "A preset's parameters (types, defaults), what it escalates, its file");
  c.run = c.preset->add_subcommand("run", "Run a preset on a repository");
  for (CLI::App* sub : {c.show, c.run}) {
    sub->add_option("name", c.name, "The preset")->required()->type_name("NAME");
  }
  c.run->add_option("-p,--param", c.params, "A parameter, NAME=VALUE (repeatable)")->type_name("K=V");
  c.run->add_option("--runner", c.runner, "Send every agent step to this runner (default: the routing table)")
      ->type_name("NAME");
  c.run->add_option("--model", c.model, "The model for every agent step")->type_name("MODEL");
  c.run->add_flag("--dry-run", c.dry_run, "Record each agent step's prompt and the command it would run; run none");
  c.run->add_option("-j,--jobs", c.jobs, "Agents at a time where a preset runs several (default 4)")->type_name("N");
  for (CLI::App* sub : {c.list, c.show, c.run}) {
    sub->add_option("--repo", c.repo, "The repository (default: the current directory)")->type_name("DIR");
    sub->add_flag("--json", c.json, "Print a JSON envelope {ok, version, command, data, errors}");
  }
}

bool preset_command_call(const PresetCommands& c, const char*& function, LuaOptions& options) {
  if (c.list->parsed()) function = "list";
  else if (c.show->parsed()) function = "show";
  else if (c.run->parsed()) function = "run";
  else return false;
  options = {{"name", c.name}, {"repo", c.repo},   {"runner", c.runner},   {"model", c.model},
             {"jobs", c.jobs}, {"params", c.params}, {"json", c.json}, {"dry_run", c.dry_run}};
  return true;
}

}  // namespace sidecar::cli
