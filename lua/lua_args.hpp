// Argument and failure helpers the bindings share.
#pragma once
#include <cstddef>
#include <cstring>
#include <string_view>

#include <lua.hpp>

namespace sidecar::lua {

// The string argument at `index` (raises a Lua argument error when it is not one); the view lives
// as long as the value stays on the stack.
inline std::string_view check_text(lua_State* L, int index) {
  std::size_t len;
  const char* s = luaL_checklstring(L, index, &len);
  return {s, len};
}

// An operational failure from an errno: pushes nil, "<what>: <strerror>", the errno's name
// ("ENOENT"...) and returns 3, the count a binding returns.
inline int push_errno(lua_State* L, int e, const char* what) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", what, std::strerror(e));
  const char* name = strerrorname_np(e);
  lua_pushstring(L, name ? name : "EIO");
  return 3;
}

}  // namespace sidecar::lua
