#include "stdlib_loader.hpp"

#include <string>

#include "boundary.hpp"
#include "embedded_files.hpp"

namespace sidecar::lua {
namespace {

// package.preload loader: (modname, extra) -> module. Upvalue 1: the EmbeddedFile.
int load_embedded(lua_State* L) {
  const auto* file = static_cast<const EmbeddedFile*>(lua_touserdata(L, lua_upvalueindex(1)));
  lua_pushfstring(L, "@%s", file->path);
  const char* chunk_name = lua_tostring(L, -1);
  if (luaL_loadbuffer(L, file->source, file->size, chunk_name) != LUA_OK) return lua_error(L);
  lua_pushstring(L, file->module);
  lua_pushstring(L, file->path);
  lua_call(L, 2, 1);  // as a file searcher's loader is called: (modname, filename)
  return 1;
}

}  // namespace

void install_stdlib(lua_State* L, const std::string& dir) {
  if (!dir.empty()) {
    lua_getglobal(L, "package");
    std::string path = dir + "/?.lua;" + dir + "/?/init.lua;";
    lua_getfield(L, -1, "path");
    path += lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_pushlstring(L, path.data(), path.size());
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    return;
  }
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (EmbeddedFiles files : {embedded_stdlib(), embedded_presets()}) {
    for (const EmbeddedFile* f = files.begin; f != files.end; ++f) {
      lua_pushlightuserdata(L, const_cast<EmbeddedFile*>(f));
      lua_pushcclosure(L, guarded<load_embedded>, 1);
      lua_setfield(L, -2, f->module);
    }
  }
  lua_pop(L, 1);
}

}  // namespace sidecar::lua
