// Commands whose work is Lua: the options CLI11 parsed become a table handed to a stdlib
// function, `require(module)[function](options)`, which prints and returns the exit status.
#pragma once
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace sidecar::lua {
class Engine;
}

namespace sidecar::cli {

// One option: text (left out when empty), a flag, or a list of texts.
using LuaOptionValue = std::variant<std::string, bool, std::vector<std::string>>;
using LuaOptions = std::vector<std::pair<std::string, LuaOptionValue>>;

// Calls the function with the options (plus `version`, Sidecar's version) and sets `status` to
// the integer it returns. False (with `error`) only when the Lua side raised.
bool call_lua_command(lua::Engine& engine, const char* module, const char* function, const LuaOptions& options,
                      int& status, std::string& error);

}  // namespace sidecar::cli
