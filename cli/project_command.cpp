#include "project_command.hpp"

namespace sidecar::cli {

void add_project_commands(CLI::App& app, ProjectCommands& c) {
  c.init = app.add_subcommand(
      "init", "Create .agent/ here: the store, a commented config.lua of defaults, and a .gitignore entry");
  c.init->add_option("--root", c.root, "The .agent folder to create (default: ./.agent)")->type_name("DIR");
  c.init->add_flag("--force", c.force, "Write config.lua again with the defaults, even when one exists");
  c.capabilities = app.add_subcommand("capabilities", "The features this Sidecar has and its contract version");
  for (CLI::App* sub : {c.init, c.capabilities}) {
    sub->add_flag("--json", c.json, "Print a JSON envelope {ok, version, command, data, errors}");
  }
}

bool project_command_call(const ProjectCommands& c, const char*& function, LuaOptions& options) {
  if (c.init->parsed()) function = "init";
  else if (c.capabilities->parsed()) function = "capabilities";
  else return false;
  options = {{"root", c.root}, {"json", c.json}, {"force", c.force}};
  return true;
}

}  // namespace sidecar::cli
