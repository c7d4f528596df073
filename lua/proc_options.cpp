// host.proc's arguments and result tables (lua/proc.cpp is the binding itself): checking and
// reading a command and its options (the one place they are checked: stdlib/sidecar/core/proc.lua
// passes them through) and pushing a process's result.
#include "proc_options.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdarg>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "memory_file.hpp"

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

// --- arguments and options: every check of host.proc's arguments is here ---------------------
//
// A bad argument raises a message without position or function name: stdlib/sidecar/core/proc.lua
// prefixes the function ("proc.run: ") and raises it as a bad_option error at its caller's line.

namespace {

[[noreturn]] void fail(lua_State* L, const char* format, ...) {
  va_list args;
  va_start(args, format);
  lua_pushvfstring(L, format, args);
  va_end(args);
  lua_error(L);
  std::abort();  // not reached: lua_error raises
}

// The first key of table `t` not among `names`, as tostring() shows it.
std::optional<std::string> unknown_key(lua_State* L, int t, std::initializer_list<std::string_view> names) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    bool known = false;
    if (lua_type(L, -1) == LUA_TSTRING) {
      std::string_view key = lua_tostring(L, -1);
      for (std::string_view n : names) known = known || key == n;
    }
    if (!known) {
      std::string key = luaL_tolstring(L, -1, nullptr);
      lua_pop(L, 2);
      return key;
    }
  }
  return std::nullopt;
}

// Raises on a key of table `t` not among `names` (sorted); `format` gets the key and the names.
void check_names(lua_State* L, int t, std::initializer_list<std::string_view> names, const std::string& format) {
  std::optional<std::string> key = unknown_key(L, t, names);
  if (!key) return;
  std::string list;
  for (std::string_view n : names) list.append(list.empty() ? "" : ", ").append(n);
  fail(L, format.c_str(), key->c_str(), list.c_str());
}

const char* shown(lua_State* L, int index) { return luaL_tolstring(L, index, nullptr); }  // pushes it

}  // namespace

int options_table(lua_State* L, int index) {
  if (lua_isnoneornil(L, index)) return 0;
  if (!lua_istable(L, index)) fail(L, "options must be a table, got %s", luaL_typename(L, index));
  return lua_absindex(L, index);
}

// Pushes opts[name]; true when it is present.
bool field(lua_State* L, int opts, const char* name) {
  if (opts == 0) {
    lua_pushnil(L);
    return false;
  }
  lua_getfield(L, opts, name);
  return !lua_isnil(L, -1);
}

int64_t count_option(lua_State* L, int opts, const char* name, const char* unit, int64_t fallback,
                     const char* label) {
  int64_t value = fallback;
  if (field(L, opts, name)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0) {
      fail(L, "option '%s' must be a whole number of %s >= 0, got %s", label ? label : name, unit, shown(L, -1));
    }
    value = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

bool bool_option(lua_State* L, int opts, const char* name, const char* label) {
  bool value = false;
  if (field(L, opts, name)) {
    if (!lua_isboolean(L, -1)) fail(L, "option '%s' must be a boolean, got %s", label ? label : name, luaL_typename(L, -1));
    value = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

std::string string_option(lua_State* L, int opts, const char* name, const char* label) {
  std::string value;
  if (field(L, opts, name)) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      fail(L, "option '%s' must be a string, got %s", label ? label : name, luaL_typename(L, -1));
    }
    value = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

namespace {

// Copies a function option into the handle's callback table (at `callbacks`) under `key`.
bool callback_option(lua_State* L, int table, const char* name, const char* label, int callbacks,
                     const char* key) {
  bool present = field(L, table, name);
  if (present && !lua_isfunction(L, -1)) fail(L, "option '%s' must be a function, got %s", label, luaL_typename(L, -1));
  lua_setfield(L, callbacks, key);
  return present;
}

// stdout = {collect =, file =, append =, redact =, max_bytes =, on_chunk =, on_line =} at `t`
void sink_table(lua_State* L, int t, const char* name, OutputSink& sink, int callbacks) {
  std::string n = name;
  check_names(L, t, {"append", "collect", "file", "max_bytes", "on_chunk", "on_line", "redact"},
              "option '" + n + "' has no field '%s' (expected %s)");
  bool has_collect = field(L, t, "collect");
  lua_pop(L, 1);
  bool has_file = field(L, t, "file");
  lua_pop(L, 1);
  sink.collect = bool_option(L, t, "collect", (n + ".collect").c_str());
  sink.file = string_option(L, t, "file", (n + ".file").c_str());
  sink.append = bool_option(L, t, "append", (n + ".append").c_str());
  sink.redact = bool_option(L, t, "redact", (n + ".redact").c_str());
  sink.max_bytes = static_cast<uint64_t>(count_option(L, t, "max_bytes", "bytes", 0, (n + ".max_bytes").c_str()));
  sink.chunks = callback_option(L, t, "on_chunk", (n + ".on_chunk").c_str(), callbacks, (n + "_chunk").c_str());
  sink.lines = callback_option(L, t, "on_line", (n + ".on_line").c_str(), callbacks, (n + "_line").c_str());
  if (sink.max_bytes > 0 && !has_file) fail(L, "option '%s.max_bytes' bounds a file: give '%s.file' too", name, name);
  // A table that names a destination collects only when asked; an empty one collects.
  if (!has_collect) sink.collect = !(has_file || sink.chunks || sink.lines);
}

}  // namespace

// stdout: nil or true (collect) | false (discard) | "file" | function(chunk) | a table
void sink_option(lua_State* L, int opts, const char* name, OutputSink& sink, int callbacks) {
  field(L, opts, name);
  int type = lua_type(L, -1);
  if (type == LUA_TNIL || (type == LUA_TBOOLEAN && lua_toboolean(L, -1))) {
    // the default: collect
  } else if (type == LUA_TBOOLEAN) {
    sink.collect = false;
  } else if (type == LUA_TFUNCTION) {
    lua_pushvalue(L, -1);
    lua_setfield(L, callbacks, (std::string(name) + "_chunk").c_str());
    sink.chunks = true;
    sink.collect = false;
  } else if (type == LUA_TSTRING) {
    sink.file = lua_tostring(L, -1);
    sink.collect = false;
  } else if (type == LUA_TTABLE) {
    sink_table(L, lua_gettop(L), name, sink, callbacks);
  } else {
    fail(L, "option '%s' must be true, false, a file name, a function or a table, got %s", name, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

// env = {NAME = "value" | false}, clear_env = boolean (for spawn and detach alike)
void env_option(lua_State* L, int opts, EnvChanges& env, bool& clear_env) {
  if (field(L, opts, "env")) {
    if (!lua_istable(L, -1)) fail(L, "option 'env' must be a table, got %s", luaL_typename(L, -1));
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      if (lua_type(L, -2) != LUA_TSTRING) fail(L, "option 'env' must have string keys (variable names)");
      std::string name = lua_tostring(L, -2);
      if (name.empty() || name.find('=') != std::string::npos) {
        fail(L, "option 'env': '%s' is not a valid variable name", name.c_str());
      }
      if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        env.emplace_back(name, std::string(lua_tostring(L, -1)));
      } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
        env.emplace_back(name, std::nullopt);  // false removes it
      } else {
        fail(L, "option 'env': %s must be a string, or false to remove it, got %s", name.c_str(), luaL_typename(L, -1));
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  clear_env = bool_option(L, opts, "clear_env");
}

namespace {

void stdin_option(lua_State* L, int opts, SpawnOptions& o) {
  if (field(L, opts, "stdin")) {
    if (lua_type(L, -1) == LUA_TSTRING) {
      std::size_t len;
      const char* data = lua_tolstring(L, -1, &len);
      o.stdin_mode = host::StdinMode::Data;
      o.stdin_data.assign(data, len);
    } else if (lua_isboolean(L, -1)) {
      if (lua_toboolean(L, -1)) o.stdin_mode = host::StdinMode::Stream;
    } else {
      fail(L, "option 'stdin' must be a string or boolean, got %s", luaL_typename(L, -1));
    }
  }
  lua_pop(L, 1);
}

// parent_death = "term" (the default) | "kill": the signal the process gets when Sidecar dies.
void parent_death_option(lua_State* L, int opts, SpawnOptions& o) {
  if (field(L, opts, "parent_death")) {
    std::string_view v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (v == "kill") o.parent_death_signal = SIGKILL;
    else if (v == "term") o.parent_death_signal = SIGTERM;
    else if (lua_type(L, -1) == LUA_TSTRING) fail(L, "option 'parent_death' must be \"term\" or \"kill\", got \"%s\"", lua_tostring(L, -1));
    else fail(L, "option 'parent_death' must be \"term\" or \"kill\", got %s", luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

// pty = true | {cols =, rows =}
void pty_option(lua_State* L, int opts, SpawnOptions& o) {
  if (field(L, opts, "pty")) {
    if (lua_istable(L, -1)) {
      int t = lua_gettop(L);
      o.pty = true;
      o.pty_cols = static_cast<uint16_t>(count_option(L, t, "cols", "columns", 80, "pty.cols"));
      o.pty_rows = static_cast<uint16_t>(count_option(L, t, "rows", "rows", 24, "pty.rows"));
    } else if (lua_isboolean(L, -1)) {
      o.pty = lua_toboolean(L, -1);
    } else {
      fail(L, "option 'pty' must be a boolean or table, got %s", luaL_typename(L, -1));
    }
  }
  lua_pop(L, 1);
}

}  // namespace

// Reads argv at `index` into `argv` and keeps a copy in the callback table (when given) as `cmd`.
void read_argv(lua_State* L, int index, std::vector<std::string>& argv, int callbacks) {
  if (!lua_istable(L, index)) {
    fail(L, "the command must be an argv array such as {\"git\", \"status\"} (or proc.shell(\"...\")), got %s",
         luaL_typename(L, index));
  }
  bool empty = lua_geti(L, index, 1) == LUA_TNIL;
  lua_pop(L, 1);
  if (empty) fail(L, "the command is empty");
  lua_Integer n = luaL_len(L, index);
  lua_createtable(L, static_cast<int>(n), 0);
  for (lua_Integer i = 1; i <= n; ++i) {
    int type = lua_geti(L, index, i);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      fail(L, "command argument %d must be a string, got %s", static_cast<int>(i), luaL_typename(L, -1));
    }
    std::size_t len;
    const char* arg = lua_tolstring(L, -1, &len);
    if (std::string_view(arg, len).find('\0') != std::string_view::npos) {
      fail(L, "command argument %d contains a NUL byte", static_cast<int>(i));
    }
    argv.emplace_back(arg, len);
    lua_seti(L, -2, i);
  }
  if (callbacks != 0) lua_setfield(L, callbacks, "cmd"); else lua_pop(L, 1);
}

void read_spawn(lua_State* L, int cmd, int opts_index, int on_exit, int callbacks, SpawnOptions& o,
                int64_t max_output) {
  read_argv(L, cmd, o.argv, callbacks);
  int opts = options_table(L, opts_index);
  if (opts != 0) {
    check_names(L, opts, {"caller_stops", "clear_env", "cwd", "env", "fd3", "idle_timeout_ms", "kill_grace_ms",
                          "max_output", "name", "parent_death", "pty", "stderr", "stdin", "stdout", "term_ignored",
                          "timeout_ms"},
                "unknown option '%s' (options: %s)");
  }
  if (!lua_isnoneornil(L, on_exit) && !lua_isfunction(L, on_exit)) {
    fail(L, "on_exit must be a function, got %s", luaL_typename(L, on_exit));
  }
  o.cwd = string_option(L, opts, "cwd");
  env_option(L, opts, o.env, o.clear_env);
  stdin_option(L, opts, o);
  sink_option(L, opts, "stdout", o.out, callbacks);
  sink_option(L, opts, "stderr", o.err, callbacks);
  o.timeout_ms = count_option(L, opts, "timeout_ms", "milliseconds", 0);
  o.idle_timeout_ms = count_option(L, opts, "idle_timeout_ms", "milliseconds", 0);
  o.kill_grace_ms = count_option(L, opts, "kill_grace_ms", "milliseconds", o.kill_grace_ms);
  o.max_output = static_cast<std::size_t>(count_option(L, opts, "max_output", "bytes", max_output));
  pty_option(L, opts, o);
  parent_death_option(L, opts, o);
  o.name = string_option(L, opts, "name");
  if (field(L, opts, "fd3")) {  // a path, or a memory file (host.memfile)
    o.fd3_memory = memory_file_fd(L, -1);
    if (o.fd3_memory < 0 && lua_type(L, -1) != LUA_TSTRING) {
      fail(L, "option 'fd3' must be a path or a memory file, got %s", luaL_typename(L, -1));
    }
    if (o.fd3_memory < 0) o.fd3_file = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  o.term_ignored = bool_option(L, opts, "term_ignored");
  o.caller_stops = bool_option(L, opts, "caller_stops");
  if (o.pty) o.err = OutputSink();  // the terminal carries both streams
  if (o.pty) o.err.collect = false;
  lua_pushvalue(L, on_exit);
  lua_setfield(L, callbacks, "on_exit");
  lua_pushboolean(L, o.out.collect);
  lua_setfield(L, callbacks, "collect_stdout");
  lua_pushboolean(L, o.err.collect);
  lua_setfield(L, callbacks, "collect_stderr");
  if (!o.name.empty()) {
    lua_pushstring(L, o.name.c_str());
    lua_setfield(L, callbacks, "name");
  }
}

void read_detach(lua_State* L, int cmd, int opts_index, host::DetachOptions& o) {
  read_argv(L, cmd, o.argv);
  int opts = options_table(L, opts_index);
  if (opts != 0) check_names(L, opts, {"clear_env", "cwd", "env", "stderr", "stdout"}, "unknown option '%s' (options: %s)");
  o.cwd = string_option(L, opts, "cwd");
  env_option(L, opts, o.env, o.clear_env);
  // stdout, stderr: a file path (appended to) | false or nil: /dev/null
  for (auto [name, file] : {std::pair{"stdout", &o.out_file}, std::pair{"stderr", &o.err_file}}) {
    if (field(L, opts, name) && !(lua_isboolean(L, -1) && !lua_toboolean(L, -1))) {
      if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0) {
        fail(L, "option '%s' must be a file path or false, got %s", name,
             lua_type(L, -1) == LUA_TSTRING ? "an empty string" : luaL_typename(L, -1));
      }
      *file = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
  }
}

// A signal at `index`: a name such as "TERM" or "SIGKILL" (see host.proc.signals), or a number.
// Anything else raises.
int check_signal(lua_State* L, int index) {
  if (lua_type(L, index) == LUA_TNUMBER) {
    int ok = 0;
    lua_Integer sig = lua_tointegerx(L, index, &ok);
    if (!ok || sig <= 0 || sig >= 65) fail(L, "not a signal number: %s", shown(L, index));
    return static_cast<int>(sig);
  }
  if (lua_type(L, index) == LUA_TSTRING) {
    std::string name = lua_tostring(L, index);
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
    for (const auto& s : kSignals) {
      if (name == s.name) return s.number;
    }
  }
  std::vector<std::string> names;
  for (const auto& s : kSignals) names.emplace_back(s.name);
  std::sort(names.begin(), names.end());
  std::string list;
  for (const std::string& n : names) list.append(list.empty() ? "" : ", ").append(n);
  fail(L, "unknown signal '%s' (signals: %s)", shown(L, index), list.c_str());
}

// The pid argument of signal and alive: a positive integer (kill(2) reads 0 and -1 as "my
// group" and "everyone", never what a caller holding a pid meant).
pid_t check_pid(lua_State* L, int index) {
  if (!lua_isinteger(L, index) || lua_tointeger(L, index) <= 0 || lua_tointeger(L, index) > 0x7fffffff) {
    fail(L, "the pid must be a positive integer, got %s", shown(L, index));
  }
  return static_cast<pid_t>(lua_tointeger(L, index));
}

// proc.signal's options: {group = boolean}
bool signal_group_option(lua_State* L, int index) {
  int opts = options_table(L, index);
  if (opts == 0) return false;
  check_names(L, opts, {"group"}, "unknown option '%s' (options: %s)");
  return bool_option(L, opts, "group");
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

void push_log_stats(lua_State* L, const host::LogCapStats& log) {
  lua_createtable(L, 0, 5);
  set_integer(L, "max_bytes", static_cast<lua_Integer>(log.max_bytes));
  set_integer(L, "seen", static_cast<lua_Integer>(log.seen));
  set_integer(L, "kept", static_cast<lua_Integer>(log.kept));
  set_integer(L, "dropped", static_cast<lua_Integer>(log.dropped));
  set_bool(L, "truncated", log.truncated);
}

namespace {

// result.stdout_log = push_log_stats's table, for a bounded file.
void set_log(lua_State* L, const char* key, const host::LogCapStats& log) {
  if (log.max_bytes == 0) return;
  push_log_stats(L, log);
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
