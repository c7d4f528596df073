// host.digest: SHA-256 of strings and files (host/util/digest.hpp).
#include <string>

#include "boundary.hpp"
#include "modules.hpp"
#include "util/digest.hpp"

namespace sidecar::lua {
namespace {

// digest.sha256(data) -> hex string
int digest_sha256(lua_State* L) {
  std::size_t len;
  const char* data = luaL_checklstring(L, 1, &len);
  lua_pushstring(L, host::sha256_hex({data, len}).c_str());
  return 1;
}

// digest.sha256_file(path) -> hex string | nil, message
int digest_sha256_file(lua_State* L) {
  std::string error;
  auto hex = host::sha256_file_hex(luaL_checkstring(L, 1), error);
  if (!hex) {
    lua_pushnil(L);
    lua_pushstring(L, error.c_str());
    return 2;
  }
  lua_pushstring(L, hex->c_str());
  return 1;
}

}  // namespace

int open_host_digest(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"sha256", guarded<digest_sha256>},
      {"sha256_file", guarded<digest_sha256_file>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
