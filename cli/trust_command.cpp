// `sidecar trust [PATH]`: let a repository's own code (.agent/config.lua, .agent/presets/*.lua)
// run, list what would run (--show), or take the trust back (--revoke); handed to
// stdlib/sidecar/cli/trust.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> trust_commands() {
  return {{"trust",
           "Let this repository's .agent/config.lua and .agent/presets/*.lua run (Sidecar runs none of them until "
           "then, nor after they change)",
           "sidecar.cli.trust", "cli",
           {{"path", "path", kText, "PATH",
             "The repository (default: the nearest one with .agent in or above the current directory)"},
            {"--show", "show", kBool, "",
             "List each file that would run, its SHA-256 and whether it is trusted, changed or new; trust nothing",
             nullptr, 0, "--revoke"},
            {"--revoke", "revoke", kBool, "",
             "Take the trust back: none of the files runs again until `sidecar trust`"},
            kJsonFlag}}};
}

}  // namespace sidecar::cli
