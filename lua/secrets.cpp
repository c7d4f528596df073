// host.secrets: the secret-file denylist and the redactor (host/secrets.hpp) for Lua.
#include <new>
#include <optional>
#include <string>

#include "boundary.hpp"
#include "modules.hpp"
#include "secrets.hpp"

namespace sidecar::lua {
namespace {

constexpr const char* kRedactorType = "sidecar.redactor";

struct Box {
  std::optional<host::Redactor> redactor;  // built from the environment on first use
};

// secrets.is_secret_file(path) -> false | true, why
int secrets_is_secret_file(lua_State* L) {
  std::size_t len;
  const char* path = luaL_checklstring(L, 1, &len);
  std::string why;
  bool denied = host::is_secret_file({path, len}, why);
  lua_pushboolean(L, denied);
  if (!denied) return 1;
  lua_pushstring(L, why.c_str());
  return 2;
}

// secrets.redact(text) -> text, count
// Uses this process's environment as it was on the first call.
int secrets_redact(lua_State* L) {
  std::size_t len;
  const char* text = luaL_checklstring(L, 1, &len);
  auto* box = static_cast<Box*>(luaL_checkudata(L, lua_upvalueindex(1), kRedactorType));
  if (!box->redactor) box->redactor = host::Redactor::from_environ();
  std::size_t count = 0;
  std::string out = box->redactor->redact({text, len}, &count);
  lua_pushlstring(L, out.data(), out.size());
  lua_pushinteger(L, static_cast<lua_Integer>(count));
  return 2;
}

int box_gc(lua_State* L) {
  static_cast<Box*>(luaL_checkudata(L, 1, kRedactorType))->~Box();
  return 0;
}

}  // namespace

int open_host_secrets(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"is_secret_file", guarded<secrets_is_secret_file>},
      {"redact", guarded<secrets_redact>},
      {nullptr, nullptr},
  };
  luaL_newlibtable(L, functions);
  new (lua_newuserdatauv(L, sizeof(Box), 0)) Box();
  if (luaL_newmetatable(L, kRedactorType)) {
    lua_pushcfunction(L, guarded<box_gc>);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  luaL_setfuncs(L, functions, 1);
  return 1;
}

}  // namespace sidecar::lua
