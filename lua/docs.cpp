// host.docs: the documentation compiled into the binary, for help() (stdlib/sidecar/dev/help.lua).
//   docs.lua_api() -> the text of docs/lua-api.md as it was built
#include <string_view>

#include <lua.hpp>

#include "modules.hpp"

namespace sidecar::lua {

std::string_view embedded_lua_api_doc() noexcept;  // generated/embedded_lua_api_doc.cpp

namespace {

int lua_api(lua_State* L) {
  const std::string_view text = embedded_lua_api_doc();
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

}  // namespace

int open_host_docs(lua_State* L) {
  const luaL_Reg functions[] = {{"lua_api", lua_api}, {nullptr, nullptr}};
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
