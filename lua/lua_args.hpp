// Argument helpers the bindings share.
#pragma once
#include <cstddef>
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

}  // namespace sidecar::lua
