// host.procinfo: facts about processes from /proc (host/process/process_info.hpp), for Lua. Each process
// is a table {pid, ppid, pgid, sid, state, start, exiting}: `start` is its start time in clock
// ticks since boot, which tells the process recorded under a pid from a later one that reused it;
// `exiting`, that it has begun to exit (procinfo.doomed also counts a pending SIGKILL).
// And the acts that must never reach a stranger: signal (only the process that started at the
// recorded time), subreaper, reap (an adopted orphan).
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include <string>
#include <vector>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "process/process_info.hpp"
#include "process/run_cgroup.hpp"
#include "process/spawn_child.hpp"

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
  lua_pushboolean(L, info.exiting);
  lua_setfield(L, -2, "exiting");
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

// procinfo.doomed(pid) -> boolean: it is exiting, or a SIGKILL is pending for it (it can only
// die, but still holds its descriptors and locks until the kernel has let it)
int procinfo_doomed(lua_State* L) {
  lua_pushboolean(L, host::process_doomed(check_id(L, 1)));
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

// procinfo.children(pid?) -> {process...}: the children of `pid` (default: this process),
// zombies included
int procinfo_children(lua_State* L) {
  int pid = lua_isnoneornil(L, 1) ? static_cast<int>(getpid()) : check_id(L, 1);
  return push_list(L, host::child_processes(pid));
}

// procinfo.env_value(pid, name) -> string | nil: `name` in the environment `pid` started with
int procinfo_env_value(lua_State* L) {
  int pid = check_id(L, 1);
  auto value = host::environment_value(pid, std::string(check_text(L, 2)));
  if (!value) return 0;
  lua_pushlstring(L, value->data(), value->size());
  return 1;
}

// procinfo.command(pid) -> string: its command line for people ("" when it is gone)
int procinfo_command(lua_State* L) {
  std::string text = host::process_command(check_id(L, 1));
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

const struct {
  const char* name;
  int number;
} kSignals[] = {{"TERM", SIGTERM}, {"KILL", SIGKILL}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"INT", SIGINT},
                {"HUP", SIGHUP}};

// procinfo.signal(pid, start, sig) -> true | nil, message, code ("ESRCH": that process has
// ended, or the pid now belongs to another). sig: "TERM", "KILL", "STOP", "CONT", "INT", "HUP".
int procinfo_signal(lua_State* L) {
  int pid = check_id(L, 1);
  lua_Integer start = luaL_checkinteger(L, 2);
  luaL_argcheck(L, start >= 0, 2, "expected a start time (clock ticks)");
  std::string_view name = check_text(L, 3);
  if (name.rfind("SIG", 0) == 0) name.remove_prefix(3);
  int sig = 0;
  for (const auto& s : kSignals) {
    if (name == s.name) sig = s.number;
  }
  luaL_argcheck(L, sig != 0, 3, "expected TERM, KILL, STOP, CONT, INT or HUP");
  int e = host::signal_if_same(pid, static_cast<unsigned long long>(start), sig);
  if (e != 0) return push_errno(L, e, lua_pushfstring(L, "signal to process %d", pid));
  lua_pushboolean(L, 1);
  return 1;
}

// procinfo.subreaper(on = true) -> true | nil, message, code: orphaned descendants come to this
// process (on), or to the nearest subreaper above it again (false)
int procinfo_subreaper(lua_State* L) {
  int e = host::become_subreaper(lua_isnoneornil(L, 1) || lua_toboolean(L, 1));
  if (e != 0) return push_errno(L, e, "PR_SET_CHILD_SUBREAPER");
  lua_pushboolean(L, 1);
  return 1;
}

// procinfo.reap(pid) -> true (reaped) | false (still running) | nil, message, code ("ECHILD": not
// a child of this process; "EPERM": a child the process loop owns and reaps itself)
int procinfo_reap(lua_State* L) {
  int pid = check_id(L, 1);
  int r = host::reap_child(pid);
  if (r < 0) return push_errno(L, -r, lua_pushfstring(L, "reap process %d", pid));
  lua_pushboolean(L, r == 1);
  return 1;
}

// procinfo.spawned(pid) -> boolean: a child the process loop started and has not reaped yet
int procinfo_spawned(lua_State* L) {
  lua_pushboolean(L, host::spawned_here(check_id(L, 1)));
  return 1;
}

// procinfo.cgroup_create(name) -> path | nil, message, code: a cgroup v2 "sidecar-…" of this
// process's own (host/process/run_cgroup.hpp); code "ENOTSUP" when none can be made here
int procinfo_cgroup_create(lua_State* L) {
  std::string why;
  auto path = host::cgroup_create(std::string(check_text(L, 1)), why);
  if (!path) {
    lua_pushnil(L);
    lua_pushlstring(L, why.data(), why.size());
    lua_pushstring(L, "ENOTSUP");
    return 3;
  }
  lua_pushlstring(L, path->data(), path->size());
  return 1;
}

std::string check_cgroup(lua_State* L, int index) {
  std::string path(check_text(L, index));
  luaL_argcheck(L, host::is_run_cgroup(path) || path.find("/sidecar-") != std::string::npos, index,
                "expected a run cgroup's folder (…/sidecar-…)");
  return path;
}

// procinfo.cgroup_members(path) -> {pid...}: empty once the cgroup is gone
int procinfo_cgroup_members(lua_State* L) {
  std::vector<int> pids = host::cgroup_members(check_cgroup(L, 1));
  lua_createtable(L, static_cast<int>(pids.size()), 0);
  for (std::size_t i = 0; i < pids.size(); ++i) {
    lua_pushinteger(L, pids[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// procinfo.cgroup_kill(path) / cgroup_remove(path) / cgroup_arm(path) -> true | nil, message, code
template <int (*fn)(const std::string&)>
int cgroup_act(lua_State* L) {
  std::string path = check_cgroup(L, 1);
  int e = fn(path);
  if (e != 0) return push_errno(L, e, lua_pushfstring(L, "cgroup %s", path.c_str()));
  lua_pushboolean(L, 1);
  return 1;
}

// procinfo.cgroup_limit(path, {pids = N?, memory = BYTES?}) -> {pids, memory, swap}: which bounds the
// cgroup now enforces (false: its controller is not there; host/process/run_cgroup.hpp)
int procinfo_cgroup_limit(lua_State* L) {
  std::string path = check_cgroup(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  host::CgroupLimits limits;
  lua_getfield(L, 2, "pids");
  limits.pids = luaL_optinteger(L, -1, 0);
  lua_getfield(L, 2, "memory");
  limits.memory = luaL_optinteger(L, -1, 0);
  lua_pop(L, 2);
  host::CgroupApplied applied = host::cgroup_limit(path, limits);
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, applied.pids);
  lua_setfield(L, -2, "pids");
  lua_pushboolean(L, applied.memory);
  lua_setfield(L, -2, "memory");
  lua_pushboolean(L, applied.swap);
  lua_setfield(L, -2, "swap");
  return 1;
}

// procinfo.cgroup_events(path) -> {oom_kill, memory_max, pids_max, memory_peak?}: what the kernel
// counted against the cgroup's bounds (memory_peak absent where the kernel keeps none)
int procinfo_cgroup_events(lua_State* L) {
  host::CgroupEvents e = host::cgroup_events(check_cgroup(L, 1));
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, e.oom_kill);
  lua_setfield(L, -2, "oom_kill");
  lua_pushinteger(L, e.memory_max);
  lua_setfield(L, -2, "memory_max");
  lua_pushinteger(L, e.pids_max);
  lua_setfield(L, -2, "pids_max");
  if (e.memory_peak >= 0) {
    lua_pushinteger(L, e.memory_peak);
    lua_setfield(L, -2, "memory_peak");
  }
  return 1;
}

// procinfo.cgroup_disarm(): the next spawn starts where this process is again
int procinfo_cgroup_disarm(lua_State*) {
  host::cgroup_disarm();
  return 0;
}

}  // namespace

int open_host_procinfo(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"get", guarded<procinfo_get>},
      {"self", guarded<procinfo_self>},
      {"doomed", guarded<procinfo_doomed>},
      {"group", guarded<procinfo_group>},
      {"with_env", guarded<procinfo_with_env>},
      {"children", guarded<procinfo_children>},
      {"env_value", guarded<procinfo_env_value>},
      {"command", guarded<procinfo_command>},
      {"signal", guarded<procinfo_signal>},
      {"subreaper", guarded<procinfo_subreaper>},
      {"reap", guarded<procinfo_reap>},
      {"spawned", guarded<procinfo_spawned>},
      {"cgroup_create", guarded<procinfo_cgroup_create>},
      {"cgroup_members", guarded<procinfo_cgroup_members>},
      {"cgroup_kill", guarded<cgroup_act<host::cgroup_kill>>},
      {"cgroup_remove", guarded<cgroup_act<host::cgroup_remove>>},
      {"cgroup_arm", guarded<cgroup_act<host::cgroup_arm>>},
      {"cgroup_disarm", guarded<procinfo_cgroup_disarm>},
      {"cgroup_limit", guarded<procinfo_cgroup_limit>},
      {"cgroup_events", guarded<procinfo_cgroup_events>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
