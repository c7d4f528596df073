// The host.* modules: each binding file defines one open function, registered in package.preload.
#pragma once
#include <lua.hpp>

namespace sidecar::lua {

int open_host_json(lua_State* L);  // lua/json.cpp
int open_host_time(lua_State* L);  // lua/time.cpp
int open_host_proc(lua_State* L);  // lua/proc.cpp
int open_host_artifact(lua_State* L);  // lua/artifact.cpp
int open_host_digest(lua_State* L);  // lua/digest.cpp
int open_host_secrets(lua_State* L);  // lua/secrets.cpp
int open_host_store(lua_State* L);  // lua/store.cpp
int open_host_telemetry(lua_State* L);  // lua/telemetry.cpp
int open_host_lock(lua_State* L);  // lua/lock.cpp
int open_host_logfile(lua_State* L);  // lua/log_file.cpp
int open_host_memfile(lua_State* L);  // lua/memory_file.cpp
int open_host_git(lua_State* L);  // lua/git.cpp
int open_host_git_tree(lua_State* L);  // lua/git_tree.cpp
int open_host_procinfo(lua_State* L);  // lua/process_info.cpp
int open_host_paths(lua_State* L);  // lua/paths.cpp
int open_host_text(lua_State* L);  // lua/text.cpp
int open_host_stdio(lua_State* L);  // lua/stdio.cpp
int open_host_sandbox(lua_State* L);  // lua/sandbox.cpp
int open_host_docs(lua_State* L);  // lua/docs.cpp
int open_host_http(lua_State* L);  // lua/http.cpp

// Registry field where host.proc leaves a function that stops its children and raises
// "interrupted! stopped N child processes"; the engine's interrupt hook calls it when it is there.
inline constexpr const char* kInterruptKey = "sidecar.interrupt";

// Registry fields of the sidecar binary that starts Sidecar's other processes (background workers,
// sandbox-init, hooks): its path (set by Engine::set_sidecar_binary), or why there is none.
inline constexpr const char* kSidecarBinaryKey = "sidecar.binary";
inline constexpr const char* kSidecarBinaryMissingKey = "sidecar.binary_missing";

// Puts every host.* module into package.preload (loaded on first require).
void preload_host_modules(lua_State* L);

}  // namespace sidecar::lua
