#include "lua_command.hpp"

#include <lua.hpp>

#include "engine.hpp"
#include "version.hpp"

namespace sidecar::cli {
namespace {

struct Call {
  const char* module;
  const char* function;
  const LuaOptions* options;
};

void push_value(lua_State* L, const LuaOptionValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) {
    lua_pushlstring(L, text->data(), text->size());
  } else if (const auto* flag = std::get_if<bool>(&value)) {
    lua_pushboolean(L, *flag);
  } else {
    const auto& list = std::get<std::vector<std::string>>(value);
    lua_createtable(L, static_cast<int>(list.size()), 0);
    for (std::size_t i = 0; i < list.size(); ++i) {
      lua_pushlstring(L, list[i].data(), list[i].size());
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
  }
}

// Runs under the engine's pcall: require(module)[function](options) -> status.
int call(lua_State* L) {
  const Call& c = *static_cast<const Call*>(lua_touserdata(L, 1));
  // Every command tells, once on stderr, of a repository file it left unrun because it is not
  // trusted (stdlib/sidecar/cli/trust.lua; the library only reports it), and finds no module in the
  // folder it runs in (a cloned repository's ./x.lua must not answer a require).
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sidecar.cli.trust");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "install");
  lua_pushboolean(L, 1);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushstring(L, c.module);
  lua_call(L, 1, 1);
  lua_getfield(L, -1, c.function);
  lua_createtable(L, 0, static_cast<int>(c.options->size()) + 1);
  for (const auto& [key, value] : *c.options) {
    if (const auto* text = std::get_if<std::string>(&value); text && text->empty()) continue;
    push_value(L, value);
    lua_setfield(L, -2, key.c_str());
  }
  lua_pushstring(L, SIDECAR_VERSION);
  lua_setfield(L, -2, "version");
  lua_call(L, 1, 1);
  return 1;
}

}  // namespace

bool call_lua_command(lua::Engine& engine, const char* module, const char* function, const LuaOptions& options,
                      int& status, std::string& error) {
  lua_State* L = engine.state();
  Call c{module, function, &options};
  lua_pushcfunction(L, call);
  lua_pushlightuserdata(L, &c);
  if (!engine.pcall(1, 1)) {
    error = lua_tostring(L, -1);
    lua_pop(L, 1);
    return false;
  }
  status = static_cast<int>(lua_tointeger(L, -1));
  lua_pop(L, 1);
  return true;
}

}  // namespace sidecar::cli
