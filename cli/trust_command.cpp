#include "trust_command.hpp"

namespace sidecar::cli {

void add_trust_command(CLI::App& app, TrustCommand& c) {
  c.app = app.add_subcommand(
      "trust", "Let this repository's .agent/config.lua and .agent/presets/*.lua run (Sidecar runs none of them "
               "until then, nor after they change)");
  c.app->add_option("path", c.path, "The repository (default: the nearest one with .agent in or above the current "
                                    "directory)")
      ->type_name("PATH");
  CLI::Option* show = c.app->add_flag(
      "--show", c.show, "List each file that would run, its SHA-256 and whether it is trusted, changed or new; "
                        "trust nothing");
  CLI::Option* revoke = c.app->add_flag("--revoke", c.revoke, "Take the trust back: none of the files runs again "
                                                              "until `sidecar trust`");
  show->excludes(revoke);
  c.app->add_flag("--json", c.json, "Print a JSON envelope {ok, version, command, data, errors}");
}

bool trust_command_call(const TrustCommand& c, const char*& function, LuaOptions& options) {
  if (!c.app->parsed()) return false;
  function = "cli";
  options = {{"path", c.path}, {"show", c.show}, {"revoke", c.revoke}, {"json", c.json}};
  return true;
}

}  // namespace sidecar::cli
