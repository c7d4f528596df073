// The one exception boundary between C++ and Lua (the shape of LÖVE's luax_catchexcept).
//
// Every function Sidecar binds into Lua is registered as guarded<f>. A C++ exception thrown by its
// body is caught, its message copied into a plain buffer, and the Lua error raised only after the
// try block has ended, so no C++ object is alive while Lua unwinds. Lua is linked as its C++ build
// (lua5.4-c++): a Lua error raised inside a body is a C++ throw that runs destructors on the way out,
// and we deliberately never catch it here (no catch (...)), so pcall still sees it.
#pragma once
#include <cstddef>
#include <cstring>
#include <exception>

#include <lua.hpp>

namespace sidecar::lua {

// Copies `text` into `out`; a message too long is cut at a UTF-8 character boundary and marked.
inline void copy_message(char* out, std::size_t size, const char* text) {
  std::size_t len = std::strlen(text);
  if (len < size) {
    std::memcpy(out, text, len + 1);
    return;
  }
  static const char kCut[] = " [...]";
  len = size - sizeof kCut;
  while (len > 0 && (static_cast<unsigned char>(text[len]) & 0xC0) == 0x80) --len;
  std::memcpy(out, text, len);
  std::memcpy(out + len, kCut, sizeof kCut);
}

template <typename Body>
int guarded_call(lua_State* L, Body&& body) {
  char message[4096];
  try {
    return body();
  } catch (const std::exception& e) {
    copy_message(message, sizeof message, e.what());
  }
  return luaL_error(L, "%s", message);
}

template <lua_CFunction F>
int guarded(lua_State* L) {
  return guarded_call(L, [L] { return F(L); });
}

}  // namespace sidecar::lua
