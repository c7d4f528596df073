// host.proc's tables (for lua/proc.cpp): a command and its options, checked and read into the
// host's SpawnOptions (the only place they are checked), and a process's result pushed back as a
// table. Bad arguments raise.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <lua.hpp>

#include "process/process.hpp"
#include "process/process_detach.hpp"

namespace sidecar::lua::proc_options {

using EnvChanges = std::vector<std::pair<std::string, std::optional<std::string>>>;

// Signals by name ("TERM"), and the table host.proc.signals ({TERM = 15, ...}) pushed.
const char* signal_name(int sig);
void push_signals(lua_State* L);
// Every check of host.proc's arguments is in these readers; a bad argument raises a message
// without position or function name (stdlib/sidecar/core/proc.lua names the function and the
// caller's line).

// A signal at `index`: a name such as "TERM" or "SIGKILL", or a number; anything else raises.
int check_signal(lua_State* L, int index);
// A positive pid at `index` (never 0 or -1, which kill(2) reads as groups).
pid_t check_pid(lua_State* L, int index);
// proc.signal's options at `index` (nil or {group = boolean}): whether to signal the group.
bool signal_group_option(lua_State* L, int index);

// The options table at `index` as an absolute index, or 0 when it is nil; raises on a non-table.
int options_table(lua_State* L, int index);
// Pushes opts[name] (nil when opts is 0); true when it is present.
bool field(lua_State* L, int opts, const char* name);
// opts[name]: an integer >= 0 (`unit` names it in the message), or `fallback` when absent.
// `label` is the name messages show (default `name`).
int64_t count_option(lua_State* L, int opts, const char* name, const char* unit, int64_t fallback,
                     const char* label = nullptr);
bool bool_option(lua_State* L, int opts, const char* name, const char* label = nullptr);
std::string string_option(lua_State* L, int opts, const char* name, const char* label = nullptr);
// stdout: nil or true (collect) | false | "file" | function(chunk) |
// {collect =, file =, append =, redact =, max_bytes =, on_chunk =, on_line =}; functions go into
// the handle's callback table (at `callbacks`) as stdout_chunk and stdout_line.
void sink_option(lua_State* L, int opts, const char* name, host::OutputSink& sink, int callbacks);
// env = {NAME = "value" | false}, clear_env = boolean
void env_option(lua_State* L, int opts, EnvChanges& env, bool& clear_env);
// Reads argv at `index` into `argv` and keeps a copy in the callback table (when given) as `cmd`.
void read_argv(lua_State* L, int index, std::vector<std::string>& argv, int callbacks = 0);
// proc.spawn's arguments: the command at `cmd`, the options at `opts` (nil: none), on_exit at
// `on_exit` (nil: none), into `o`; the callbacks, cmd, name and which streams are collected go
// into the callback table at `callbacks`. `max_output` is the bound when the options give none.
void read_spawn(lua_State* L, int cmd, int opts, int on_exit, int callbacks, host::SpawnOptions& o,
                int64_t max_output);
// proc.detach's arguments: the command at `cmd` and {cwd, env, clear_env, stdout, stderr} at `opts`.
void read_detach(lua_State* L, int cmd, int opts, host::DetachOptions& o);

void set_string(lua_State* L, const char* key, const std::string& value);
void set_bool(lua_State* L, const char* key, bool value);
void set_integer(lua_State* L, const char* key, lua_Integer value);
// Pushes the result table; `callbacks` is the handle's callback table (for cmd, name and which
// streams were collected).
void push_result(lua_State* L, const host::ProcessResult& r, int callbacks);
// Pushes {max_bytes, seen, kept, dropped, truncated}: what a bounded log received (host/process/log_cap.hpp).
void push_log_stats(lua_State* L, const host::LogCapStats& log);

}  // namespace sidecar::lua::proc_options
