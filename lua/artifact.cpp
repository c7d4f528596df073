// host.artifact: folders confined to themselves (host/store/artifact_store.hpp) for Lua.
//
// A folder is a full userdata ("sidecar.artifact_dir") made closed and then opened, as liolib
// does with files; __gc and __close share one idempotent close. Operational failures (a missing
// file, a refused path) come back as nil, message, code; wrong argument types raise.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "artifact_binding.hpp"
#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "store/artifact_store.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {
namespace {

using host::ArtifactDir;
using host::FsError;

using artifact_binding::DirHolder;
using artifact_binding::kDirType;

ArtifactDir& check_dir(lua_State* L) {
  return artifact_binding::check_dir(L, 1);
}

int push_failure(lua_State* L, const FsError& error) {
  lua_pushnil(L);
  lua_pushstring(L, error.message.c_str());
  lua_pushstring(L, error.code.c_str());
  return 3;
}

int push_ok(lua_State* L, bool ok, const FsError& error) {
  if (!ok) return push_failure(L, error);
  lua_pushboolean(L, 1);
  return 1;
}

// artifact.open(root, create?) -> dir | nil, message, code
int artifact_open(lua_State* L) {
  std::string root = luaL_checkstring(L, 1);
  bool create = lua_toboolean(L, 2);
  auto* box = new_box<DirHolder>(L, kDirType);
  FsError error;
  box->value = ArtifactDir::open(root, create, error);
  if (!box->value) return push_failure(L, error);
  return 1;
}

// A write's durability argument: "now" (the default), "whole" or "atomic" (host::Durability).
host::Durability check_durability(lua_State* L, int arg) {
  static const char* const names[] = {"now", "whole", "atomic", nullptr};
  static const host::Durability values[] = {host::Durability::Now, host::Durability::Whole,
                                            host::Durability::Atomic};
  return values[luaL_checkoption(L, arg, "now", names)];
}

// dir:write(path, data, durability?) -> true | nil, message, code   (atomic)
int dir_write(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  bool ok = dir.write(check_text(L, 2), check_text(L, 3), error, check_durability(L, 4));
  return push_ok(L, ok, error);
}

// dir:sync() -> true | nil, message, code   (the folders whose fsync the folder holds back)
int dir_sync(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  bool ok = dir.sync(error);
  return push_ok(L, ok, error);
}

// dir:write_all({{path, data}, ...}, durability?) -> true | nil, message, code
// (each atomic, fsyncs batched)
int dir_write_all(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  std::vector<std::pair<std::string, std::string>> files;
  lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; ++i) {
    if (lua_geti(L, 2, i) != LUA_TTABLE) luaL_error(L, "write_all: entry %d must be {path, data}", static_cast<int>(i));
    lua_geti(L, -1, 1);
    lua_geti(L, -2, 2);
    if (!lua_isstring(L, -2) || !lua_isstring(L, -1)) {
      luaL_error(L, "write_all: entry %d must be {path, data} (two strings)", static_cast<int>(i));
    }
    std::size_t plen, dlen;
    const char* p = lua_tolstring(L, -2, &plen);
    const char* d = lua_tolstring(L, -1, &dlen);
    files.emplace_back(std::string(p, plen), std::string(d, dlen));
    lua_pop(L, 3);
  }
  FsError error;
  bool ok = dir.write_all(files, error, check_durability(L, 3));
  return push_ok(L, ok, error);
}

// dir:append(path, data, sync?) -> true | nil, message, code   (one write; whole lines)
int dir_append(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  bool ok = dir.append(check_text(L, 2), check_text(L, 3), lua_toboolean(L, 4), error);
  return push_ok(L, ok, error);
}

// dir:keep_last_lines(path, max_lines) -> true | nil, message, code   (under the appends' lock)
int dir_keep_last_lines(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  lua_Integer max_lines = luaL_checkinteger(L, 3);
  luaL_argcheck(L, max_lines >= 0, 3, "a count of lines (0 or more)");
  FsError error;
  bool ok = dir.keep_last_lines(check_text(L, 2), static_cast<std::size_t>(max_lines), error);
  return push_ok(L, ok, error);
}

// dir:read(path) -> data | nil, message, code
int dir_read(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  std::optional<std::string> data = dir.read(check_text(L, 2), error);
  if (!data) return push_failure(L, error);
  lua_pushlstring(L, data->data(), data->size());
  return 1;
}

// dir:exists(path) -> boolean
int dir_exists(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  lua_pushboolean(L, dir.exists(check_text(L, 2)));
  return 1;
}

// dir:make_dirs(path) -> true | nil, message, code
int dir_make_dirs(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  bool ok = dir.make_dirs(check_text(L, 2), error);
  return push_ok(L, ok, error);
}

// dir:create_dir(path) -> true | nil, message, "EEXIST"   (exclusive: one creator wins)
int dir_create_dir(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  bool ok = dir.create_dir(check_text(L, 2), error);
  return push_ok(L, ok, error);
}

// dir:list(glob) -> {paths...} | nil, message, code   (sorted; links neither listed nor followed)
int dir_list(lua_State* L) {
  ArtifactDir& dir = check_dir(L);
  FsError error;
  auto paths = dir.list(luaL_optstring(L, 2, "**"), error);
  if (!paths) return push_failure(L, error);
  lua_createtable(L, static_cast<int>(paths->size()), 0);
  for (std::size_t i = 0; i < paths->size(); ++i) {
    lua_pushlstring(L, (*paths)[i].data(), (*paths)[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// dir:root() -> string
int dir_root(lua_State* L) {
  lua_pushstring(L, check_dir(L).root().c_str());
  return 1;
}

int dir_tostring(lua_State* L) {
  auto* box = to_box<DirHolder>(L, kDirType);
  if (box->value) {
    lua_pushfstring(L, "sidecar.artifact_dir (%s)", box->value->root().c_str());
  } else {
    lua_pushliteral(L, "sidecar.artifact_dir (closed)");
  }
  return 1;
}

}  // namespace

int open_host_artifact(lua_State* L) {
  static const luaL_Reg methods[] = {
      {"write", guarded<dir_write>},         {"write_all", guarded<dir_write_all>}, {"append", guarded<dir_append>},
      {"keep_last_lines", guarded<dir_keep_last_lines>},
      {"read", guarded<dir_read>},           {"exists", guarded<dir_exists>},       {"make_dirs", guarded<dir_make_dirs>},
      {"create_dir", guarded<dir_create_dir>}, {"list", guarded<dir_list>},         {"root", guarded<dir_root>},
      {"sync", guarded<dir_sync>},
      {"close", guarded<box_close<DirHolder, kDirType>>},         {nullptr, nullptr},
  };
  static const luaL_Reg meta[] = {
      {"__close", guarded<box_close<DirHolder, kDirType>>},
      {"__gc", guarded<box_gc<DirHolder, kDirType>>},
      {"__tostring", guarded<dir_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"open", guarded<artifact_open>},
      {nullptr, nullptr},
  };
  register_type(L, kDirType, meta, methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
