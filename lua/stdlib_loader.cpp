#include "stdlib_loader.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "boundary.hpp"
#include "util/embedded_files.hpp"

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

const EmbeddedFile* find_embedded(const char* module) {
  for (EmbeddedFiles files : {embedded_stdlib(), embedded_presets()}) {
    auto before = [](const EmbeddedFile& f, const char* m) { return std::strcmp(f.module, m) < 0; };
    const EmbeddedFile* at = std::lower_bound(files.begin, files.end, module, before);
    if (at != files.end && std::strcmp(at->module, module) == 0) return at;
  }
  return nullptr;
}

void push_loader(lua_State* L, const EmbeddedFile* file) {
  lua_pushlightuserdata(L, const_cast<EmbeddedFile*>(file));
  lua_pushcclosure(L, guarded<load_embedded>, 1);
}

// package.preload's __index: (preload, name) -> the embedded module's loader, or nil. Made when
// asked for, so a start does not build a closure for each of some 150 modules it will not load.
int preload_index(lua_State* L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  std::size_t size = 0;
  const char* name = lua_tolstring(L, 2, &size);
  const EmbeddedFile* file = std::strlen(name) == size ? find_embedded(name) : nullptr;  // no NUL inside
  if (file == nullptr) return 0;
  push_loader(L, file);
  return 1;
}

// package.preload's __pairs: iterates over a copy holding the table's own entries and a loader
// for every embedded module the table does not set itself. Upvalue 1: the base library's next.
int preload_pairs(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  int count = 0;
  for (EmbeddedFiles files : {embedded_stdlib(), embedded_presets()}) {
    count += static_cast<int>(files.end - files.begin);
  }
  lua_createtable(L, 0, count);
  for (EmbeddedFiles files : {embedded_stdlib(), embedded_presets()}) {
    for (const EmbeddedFile* f = files.begin; f != files.end; ++f) {
      push_loader(L, f);
      lua_setfield(L, -2, f->module);
    }
  }
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_pushnil(L);
  return 3;
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
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, guarded<preload_index>);
  lua_setfield(L, -2, "__index");
  lua_getglobal(L, "next");
  lua_pushcclosure(L, guarded<preload_pairs>, 1);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

}  // namespace sidecar::lua
