#include "modules.hpp"

#include "boundary.hpp"

namespace sidecar::lua {

void preload_host_modules(lua_State* L) {
  static const luaL_Reg modules[] = {
      {"host.json", guarded<open_host_json>},
      {"host.time", guarded<open_host_time>},
      {"host.proc", guarded<open_host_proc>},
      {"host.artifact", guarded<open_host_artifact>},
      {"host.digest", guarded<open_host_digest>},
      {"host.secrets", guarded<open_host_secrets>},
      {"host.store", guarded<open_host_store>},
      {"host.telemetry", guarded<open_host_telemetry>},
      {"host.lock", guarded<open_host_lock>},
      {"host.procinfo", guarded<open_host_procinfo>},
      {"host.paths", guarded<open_host_paths>},
      {"host.text", guarded<open_host_text>},
      {nullptr, nullptr},
  };
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, modules, 0);
  lua_pop(L, 1);
}

}  // namespace sidecar::lua
