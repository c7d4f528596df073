// host.procinfo: facts about processes from /proc (host/process_info.hpp), for Lua. Each process
// is a table {pid, ppid, pgid, sid, state, start}: `start` is its start time in clock ticks
// since boot, which tells the process recorded under a pid from a later one that reused it.
#include <unistd.h>

#include <string>
#include <vector>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "process_info.hpp"

namespace sidecar::lua {
namespace {

void push_info(lua_State* L, const host::ProcessInfo& info) {
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, info.pid);
  lua_setfield(L, -2, "pid");
  lua_pushinteger(L, info.ppid);
  lua_setfield(L, -2, "ppid");
  lua_pushinteger(L, info.pgid);
  lua_setfield(L, -2, "pgid");
  lua_pushinteger(L, info.sid);
  lua_setfield(L, -2, "sid");
  char state[2] = {info.state, '\0'};
  lua_pushstring(L, state);
  lua_setfield(L, -2, "state");
  lua_pushinteger(L, static_cast<lua_Integer>(info.start_ticks));
  lua_setfield(L, -2, "start");
}

int push_list(lua_State* L, const std::vector<host::ProcessInfo>& list) {
  lua_createtable(L, static_cast<int>(list.size()), 0);
  for (std::size_t i = 0; i < list.size(); ++i) {
    push_info(L, list[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int check_id(lua_State* L, int index) {
  lua_Integer id = luaL_checkinteger(L, index);
  luaL_argcheck(L, id > 0 && id <= 0x7fffffff, index, "expected a positive process id");
  return static_cast<int>(id);
}

// procinfo.get(pid) -> process | nil   (a zombie is still returned: its state says "Z")
int procinfo_get(lua_State* L) {
  auto info = host::read_process_info(check_id(L, 1));
  if (!info) return 0;
  push_info(L, *info);
  return 1;
}

// procinfo.self() -> process: this one
int procinfo_self(lua_State* L) {
  auto info = host::read_process_info(static_cast<int>(getpid()));
  if (!info) return 0;  // no /proc
  push_info(L, *info);
  return 1;
}

// procinfo.group(pgid) -> {process...}: the members that have not ended
int procinfo_group(lua_State* L) { return push_list(L, host::group_processes(check_id(L, 1))); }

// procinfo.with_env(entry) -> {process...}: those whose environment holds "NAME=value" exactly
int procinfo_with_env(lua_State* L) {
  std::string entry(check_text(L, 1));
  luaL_argcheck(L, entry.find('=') != std::string::npos && entry.front() != '=', 1, "expected NAME=value");
  return push_list(L, host::processes_with_environment(entry));
}

}  // namespace

int open_host_procinfo(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"get", guarded<procinfo_get>},
      {"self", guarded<procinfo_self>},
      {"group", guarded<procinfo_group>},
      {"with_env", guarded<procinfo_with_env>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
