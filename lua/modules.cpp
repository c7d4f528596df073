#include "modules.hpp"

#include "boundary.hpp"

namespace sidecar::lua {

void preload_host_modules(lua_State* L) {
  static const luaL_Reg modules[] = {
      {"sidecar.host.json", guarded<open_host_json>},
      {"sidecar.host.time", guarded<open_host_time>},
      {"sidecar.host.proc", guarded<open_host_proc>},
      {"sidecar.host.artifact", guarded<open_host_artifact>},
      {"sidecar.host.digest", guarded<open_host_digest>},
      {"sidecar.host.secrets", guarded<open_host_secrets>},
      {"sidecar.host.store", guarded<open_host_store>},
      {"sidecar.host.telemetry", guarded<open_host_telemetry>},
      {"sidecar.host.lock", guarded<open_host_lock>},
      {"sidecar.host.logfile", guarded<open_host_logfile>},
      {"sidecar.host.memfile", guarded<open_host_memfile>},
      {"sidecar.host.procinfo", guarded<open_host_procinfo>},
      {"sidecar.host.paths", guarded<open_host_paths>},
      {"sidecar.host.text", guarded<open_host_text>},
      {"sidecar.host.git", guarded<open_host_git>},
      {"sidecar.host.stdio", guarded<open_host_stdio>},
      {"sidecar.host.git_tree", guarded<open_host_git_tree>},
      {"sidecar.host.sandbox", guarded<open_host_sandbox>},
      {"sidecar.host.docs", guarded<open_host_docs>},
      {"sidecar.host.http", guarded<open_host_http>},
      {nullptr, nullptr},
  };
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  luaL_setfuncs(L, modules, 0);
  lua_pop(L, 1);
}

}  // namespace sidecar::lua
