// The one exception boundary between C++ and Lua (the shape of LÖVE's luax_catchexcept).
//
// Every function Sidecar binds into Lua is registered as guarded<f>. A C++ exception thrown by its
// body is caught, its message copied into a plain buffer, and the Lua error raised only after the
// try block has ended, so no C++ object is alive while Lua unwinds. Lua is linked as its C++ build
// (lua5.4-c++): a Lua error raised inside a body is a C++ throw that runs destructors on the way out,
// and we deliberately never catch it here (no catch (...)), so pcall still sees it.
#pragma once
#include <cstring>
#include <exception>

#include <lua.hpp>

namespace sidecar::lua {

template <typename Body>
int guarded_call(lua_State* L, Body&& body) {
  char message[1024];
  try {
    return body();
  } catch (const std::exception& e) {
    std::strncpy(message, e.what(), sizeof message - 1);
    message[sizeof message - 1] = '\0';
  }
  return luaL_error(L, "%s", message);
}

template <lua_CFunction F>
int guarded(lua_State* L) {
  return guarded_call(L, [L] { return F(L); });
}

}  // namespace sidecar::lua
