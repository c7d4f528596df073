// host.proc's tables (for lua/proc.cpp): the normalised options stdlib/sidecar/core/proc.lua builds, read into
// the host's SpawnOptions, and a process's result pushed back as a table. Bad options raise.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <lua.hpp>

#include "process.hpp"

namespace sidecar::lua::proc_options {

using EnvChanges = std::vector<std::pair<std::string, std::optional<std::string>>>;

// Signals by name ("TERM"), and the table host.proc.signals ({TERM = 15, ...}) pushed.
const char* signal_name(int sig);
void push_signals(lua_State* L);
// A signal at `index`: a name such as "TERM" or "SIGKILL", or a number; anything else raises.
int check_signal(lua_State* L, int index);
// A positive pid at `index` (never 0 or -1, which kill(2) reads as groups).
pid_t check_pid(lua_State* L, int index);

// Pushes opts[name] (nil when opts is 0); true when it is present.
bool field(lua_State* L, int opts, const char* name);
int64_t int_option(lua_State* L, int opts, const char* name, int64_t fallback);
bool bool_option(lua_State* L, int opts, const char* name);
std::string string_option(lua_State* L, int opts, const char* name);
// Copies a function option into the handle's callback table (at `callbacks`) under `key`.
bool callback_option(lua_State* L, int table, const char* name, int callbacks, const char* key);
// stdout = {collect =, file =, append =, redact =, max_bytes =, on_chunk =, on_line =}
void sink_option(lua_State* L, int opts, const char* name, host::OutputSink& sink, int callbacks);
// env = {NAME = "value" | false}, clear_env = boolean
void env_option(lua_State* L, int opts, EnvChanges& env, bool& clear_env);
void stdin_option(lua_State* L, int opts, host::SpawnOptions& o);
void pty_option(lua_State* L, int opts, host::SpawnOptions& o);
// parent_death = "term" | "kill": the signal the process gets when Sidecar dies.
void parent_death_option(lua_State* L, int opts, host::SpawnOptions& o);
// Reads argv at `index` into `argv` and keeps a copy in the callback table (when given) as `cmd`.
void read_argv(lua_State* L, int index, std::vector<std::string>& argv, int callbacks = 0);

void set_string(lua_State* L, const char* key, const std::string& value);
void set_bool(lua_State* L, const char* key, bool value);
void set_integer(lua_State* L, const char* key, lua_Integer value);
// Pushes the result table; `callbacks` is the handle's callback table (for cmd, name and which
// streams were collected).
void push_result(lua_State* L, const host::ProcessResult& r, int callbacks);

}  // namespace sidecar::lua::proc_options
