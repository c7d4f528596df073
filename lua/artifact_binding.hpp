// Shared by host.artifact (lua/artifact.cpp) and host.lock (lua/lock.cpp, whose try_in opens a
// lock file through a folder): the folder handle type.
#pragma once
#include <optional>

#include <lua.hpp>

#include "store/artifact_store.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua::artifact_binding {

inline constexpr char kDirType[] = "sidecar.artifact_dir";
using DirHolder = std::optional<host::ArtifactDir>;

// The open folder at argument `arg`; raises when it is not one, or is closed.
inline host::ArtifactDir& check_dir(lua_State* L, int arg) {
  auto* box = static_cast<UserdataBox<DirHolder>*>(luaL_checkudata(L, arg, kDirType));
  if (!box->value) luaL_error(L, "attempt to use a closed artifact folder");
  return *box->value;
}

}  // namespace sidecar::lua::artifact_binding
