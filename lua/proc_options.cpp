// host.proc's option tables and result tables (lua/proc.cpp is the binding itself): reading the
// normalised options stdlib/sidecar/core/proc.lua builds, and pushing a process's result.
#include "proc_options.hpp"

#include <signal.h>

#include <cstdlib>
#include <string_view>

namespace sidecar::lua::proc_options {

using host::OutputSink;
using host::ProcessResult;
using host::SpawnOptions;

namespace {

struct Signal {
  const char* name;
  int number;
};
const Signal kSignals[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
                           {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT},
                           {"STOP", SIGSTOP}, {"WINCH", SIGWINCH}};

}  // namespace

const char* signal_name(int sig) {
  for (const auto& s : kSignals) {
    if (s.number == sig) return s.name;
  }
  return nullptr;
}

void push_signals(lua_State* L) {
  lua_createtable(L, 0, sizeof kSignals / sizeof kSignals[0]);
  for (const auto& s : kSignals) {
    lua_pushinteger(L, s.number);
    lua_setfield(L, -2, s.name);
  }
}

// --- options: the normalised table built by stdlib/sidecar/core/proc.lua ----------------------------------

namespace {

[[noreturn]] void bad_option(lua_State* L, const char* name, const char* expected) {
  luaL_error(L, "option '%s' must be %s, got %s", name, expected, luaL_typename(L, -1));
  std::abort();  // not reached: luaL_error raises
}

}  // namespace

// Pushes opts[name]; true when it is present.
bool field(lua_State* L, int opts, const char* name) {
  if (opts == 0) {
    lua_pushnil(L);
    return false;
  }
  lua_getfield(L, opts, name);
  return !lua_isnil(L, -1);
}

int64_t int_option(lua_State* L, int opts, const char* name, int64_t fallback) {
  int64_t value = fallback;
  if (field(L, opts, name)) {
    int ok = 0;
    value = lua_tointegerx(L, -1, &ok);
    if (!ok || value < 0) bad_option(L, name, "a non-negative integer");
  }
  lua_pop(L, 1);
  return value;
}

bool bool_option(lua_State* L, int opts, const char* name) {
  bool value = false;
  if (field(L, opts, name)) {
    if (!lua_isboolean(L, -1)) bad_option(L, name, "a boolean");
    value = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

std::string string_option(lua_State* L, int opts, const char* name) {
  std::string value;
  if (field(L, opts, name)) {
    if (lua_type(L, -1) != LUA_TSTRING) bad_option(L, name, "a string");
    value = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

// Copies a function option into the handle's callback table (at `callbacks`) under `key`.
bool callback_option(lua_State* L, int table, const char* name, int callbacks, const char* key) {
  bool present = field(L, table, name);
  if (present && !lua_isfunction(L, -1)) bad_option(L, name, "a function");
  lua_setfield(L, callbacks, key);
  return present;
}

// stdout = {collect =, file =, append =, redact =, max_bytes =, on_chunk =, on_line =}
void sink_option(lua_State* L, int opts, const char* name, OutputSink& sink, int callbacks) {
  if (!field(L, opts, name)) {
    lua_pop(L, 1);
    return;  // the default: collect
  }
  if (!lua_istable(L, -1)) bad_option(L, name, "a table");
  int t = lua_gettop(L);
  sink.collect = bool_option(L, t, "collect");
  sink.file = string_option(L, t, "file");
  sink.append = bool_option(L, t, "append");
  sink.redact = bool_option(L, t, "redact");
  sink.max_bytes = static_cast<uint64_t>(int_option(L, t, "max_bytes", 0));
  std::string prefix = name;
  sink.chunks = callback_option(L, t, "on_chunk", callbacks, (prefix + "_chunk").c_str());
  sink.lines = callback_option(L, t, "on_line", callbacks, (prefix + "_line").c_str());
  lua_pop(L, 1);
}

// env = {NAME = "value" | false}, clear_env = boolean (for spawn and detach alike)
void env_option(lua_State* L, int opts, EnvChanges& env, bool& clear_env) {
  if (field(L, opts, "env")) {
    if (!lua_istable(L, -1)) bad_option(L, "env", "a table");
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "option 'env' must have string keys (variable names)");
      std::string name = lua_tostring(L, -2);
      if (name.empty() || name.find('=') != std::string::npos) {
        luaL_error(L, "option 'env': '%s' is not a valid variable name", name.c_str());
      }
      if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        env.emplace_back(name, std::string(lua_tostring(L, -1)));
      } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        env.emplace_back(name, std::nullopt);  // false removes it
      } else {
        luaL_error(L, "option 'env': %s must be a string, or false to remove it, got %s", name.c_str(),
                   luaL_typename(L, -1));
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  clear_env = bool_option(L, opts, "clear_env");
}

void stdin_option(lua_State* L, int opts, SpawnOptions& o) {
  if (field(L, opts, "stdin")) {
    if (lua_type(L, -1) == LUA_TSTRING) {
      std::size_t len;
      const char* data = lua_tolstring(L, -1, &len);
      o.stdin_mode = host::StdinMode::Data;
      o.stdin_data.assign(data, len);
    } else if (lua_isboolean(L, -1) && lua_toboolean(L, -1)) {
      o.stdin_mode = host::StdinMode::Stream;
    } else if (!(lua_isboolean(L, -1))) {
      bad_option(L, "stdin", "a string, true (write it later) or false");
    }
  }
  lua_pop(L, 1);
}

// parent_death = "term" (the default) | "kill": the signal the process gets when Sidecar dies.
void parent_death_option(lua_State* L, int opts, SpawnOptions& o) {
  if (field(L, opts, "parent_death")) {
    const char* v = lua_tostring(L, -1);
    if (v && std::string_view(v) == "kill") o.parent_death_signal = SIGKILL;
    else if (v && std::string_view(v) == "term") o.parent_death_signal = SIGTERM;
    else bad_option(L, "parent_death", "\"term\" or \"kill\"");
  }
  lua_pop(L, 1);
}

void pty_option(lua_State* L, int opts, SpawnOptions& o) {
  if (field(L, opts, "pty")) {
    if (lua_istable(L, -1)) {
      int t = lua_gettop(L);
      o.pty = true;
      o.pty_cols = static_cast<uint16_t>(int_option(L, t, "cols", 80));
      o.pty_rows = static_cast<uint16_t>(int_option(L, t, "rows", 24));
    } else if (lua_isboolean(L, -1)) {
      o.pty = lua_toboolean(L, -1);
    } else {
      bad_option(L, "pty", "a boolean or {cols =, rows =}");
    }
  }
  lua_pop(L, 1);
}

// Reads argv at `index` into `argv` and keeps a copy in the callback table (when given) as `cmd`.
void read_argv(lua_State* L, int index, std::vector<std::string>& argv, int callbacks) {
  luaL_checktype(L, index, LUA_TTABLE);
  lua_Integer n = luaL_len(L, index);
  if (n == 0) luaL_argerror(L, index, "the command is empty (expected {program, args...})");
  lua_createtable(L, static_cast<int>(n), 0);
  for (lua_Integer i = 1; i <= n; ++i) {
    int type = lua_geti(L, index, i);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      luaL_error(L, "command argument %d must be a string, got %s", static_cast<int>(i), luaL_typename(L, -1));
    }
    std::size_t len;
    const char* arg = lua_tolstring(L, -1, &len);
    if (std::string_view(arg, len).find('\0') != std::string_view::npos) {
      luaL_error(L, "command argument %d contains a NUL byte", static_cast<int>(i));
    }
    argv.emplace_back(arg, len);
    lua_seti(L, -2, i);
  }
  if (callbacks != 0) lua_setfield(L, callbacks, "cmd"); else lua_pop(L, 1);
}

// A signal at `index`: a name such as "TERM" or "SIGKILL" (see host.proc.signals), or a number.
// Anything else raises.
int check_signal(lua_State* L, int index) {
  if (lua_type(L, index) == LUA_TNUMBER) {
    lua_Integer sig = luaL_checkinteger(L, index);
    luaL_argcheck(L, sig > 0 && sig < 65, index, "not a signal number");
    return static_cast<int>(sig);
  }
  std::string name = luaL_checkstring(L, index);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  for (const auto& s : kSignals) {
    if (name == s.name) return s.number;
  }
  luaL_argerror(L, index, lua_pushfstring(L, "unknown signal '%s'", lua_tostring(L, index)));
  return 0;  // not reached: luaL_argerror raises
}

// The pid argument of signal and alive: a positive integer (kill(2) reads 0 and -1 as "my
// group" and "everyone", never what a caller holding a pid meant).
pid_t check_pid(lua_State* L, int index) {
  lua_Integer pid = luaL_checkinteger(L, index);
  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, index, "a pid must be a positive integer");
  return static_cast<pid_t>(pid);
}

// --- results and events -----------------------------------------------------------------------

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

void set_bool(lua_State* L, const char* key, bool value) {
  lua_pushboolean(L, value);
  lua_setfield(L, -2, key);
}

void set_integer(lua_State* L, const char* key, lua_Integer value) {
  lua_pushinteger(L, value);
  lua_setfield(L, -2, key);
}

namespace {

// result.stdout_log = {max_bytes, seen, kept, dropped, truncated}: what a bounded file received.
void set_log(lua_State* L, const char* key, const host::LogCapStats& log) {
  if (log.max_bytes == 0) return;
  lua_createtable(L, 0, 5);
  set_integer(L, "max_bytes", static_cast<lua_Integer>(log.max_bytes));
  set_integer(L, "seen", static_cast<lua_Integer>(log.seen));
  set_integer(L, "kept", static_cast<lua_Integer>(log.kept));
  set_integer(L, "dropped", static_cast<lua_Integer>(log.dropped));
  set_bool(L, "truncated", log.truncated);
  lua_setfield(L, -2, key);
}

}  // namespace

// Pushes the result table; `callbacks` is the handle's callback table (for cmd, name and which
// streams were collected).
void push_result(lua_State* L, const ProcessResult& r, int callbacks) {
  lua_createtable(L, 0, 24);
  lua_getfield(L, callbacks, "cmd");
  lua_setfield(L, -2, "cmd");
  lua_getfield(L, callbacks, "name");
  lua_setfield(L, -2, "name");
  set_integer(L, "pid", r.pid);
  if (r.code) set_integer(L, "code", *r.code);
  if (r.signal) {
    set_integer(L, "signal", r.signal);
    if (const char* name = signal_name(r.signal)) set_string(L, "signal_name", name);
  }
  set_bool(L, "ok", r.code && *r.code == 0 && !r.timed_out);
  set_bool(L, "timed_out", r.timed_out);
  if (!r.timeout_reason.empty()) set_string(L, "timeout_reason", r.timeout_reason);
  lua_getfield(L, callbacks, "collect_stdout");
  bool collect_out = lua_toboolean(L, -1);
  lua_getfield(L, callbacks, "collect_stderr");
  bool collect_err = lua_toboolean(L, -1);
  lua_pop(L, 2);
  if (collect_out) set_string(L, "stdout", r.out);
  if (collect_err) set_string(L, "stderr", r.err);
  set_bool(L, "truncated", r.out_truncated || r.err_truncated);
  set_integer(L, "stdout_bytes", static_cast<lua_Integer>(r.out_bytes));
  set_integer(L, "stderr_bytes", static_cast<lua_Integer>(r.err_bytes));
  set_log(L, "stdout_log", r.out_log);
  set_log(L, "stderr_log", r.err_log);
  lua_pushnumber(L, static_cast<double>(static_cast<int64_t>(r.duration_ms * 1000)) / 1000);
  lua_setfield(L, -2, "duration_ms");
  set_bool(L, "interrupted", r.interrupted);
  set_bool(L, "stopped", r.stopped);
  set_bool(L, "killed", r.killed);
  set_bool(L, "descendants_killed", r.descendants_killed);
  if (!r.error.empty()) set_string(L, "error", r.error);
}

}  // namespace sidecar::lua::proc_options
