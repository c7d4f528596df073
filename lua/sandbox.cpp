// host.sandbox: the network door of a sandboxed run (host/sandbox/sandbox_proxy.hpp), for Lua.
//
//   local proxy = assert(sandbox.proxy("/tmp/sidecar-net-x/proxy.sock", {{host = "api.openai.com", port = 443}}))
//   ... the sandboxed agent runs ...
//   proxy:stop()                           -- its connections end, each logged (idempotent)
//   local entries, dropped = proxy:log()   -- {{host, port, allowed, error?, at_ms, bytes_up, bytes_down}...}
//   proxy:close()                          -- also __close and __gc
//   local found = sandbox.secret_files(repo, {"node_modules"})  -- what to hide (the whole tree read)
//   sandbox.init_protocol                  -- this build's sandbox-init (sandbox_init_protocol.hpp.in)
//
// A proxy is a full userdata ("sidecar.sandbox_proxy") made closed and then filled, as liolib does
// with files; close, __close and __gc share one idempotent stop, which joins the proxy's threads.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "sandbox/landlock.hpp"
#include "sandbox/sandbox_init_protocol.hpp"
#include "sandbox/sandbox_proxy.hpp"
#include "secrets/secret_file_find.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {
namespace {

constexpr char kProxyType[] = "sidecar.sandbox_proxy";
using ProxyHolder = std::unique_ptr<host::SandboxProxy>;

// The rules of argument 2: an array of {host = string, port = integer} ({host = "*", port = 0}: every
// host on every port); a bad entry raises.
std::vector<host::ProxyRule> check_rules(lua_State* L, int index) {
  luaL_checktype(L, index, LUA_TTABLE);
  std::vector<host::ProxyRule> rules;
  const lua_Integer n = luaL_len(L, index);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, index, i);
    if (!lua_istable(L, -1)) luaL_error(L, "sandbox.proxy: rule %d must be a table {host =, port =}", int(i));
    lua_getfield(L, -1, "host");
    lua_getfield(L, -2, "port");
    const bool any = lua_type(L, -2) == LUA_TSTRING && std::strcmp(lua_tostring(L, -2), "*") == 0 &&
                     lua_isinteger(L, -1) && lua_tointeger(L, -1) == 0;  // every host: network "full"
    if (!any && (lua_type(L, -2) != LUA_TSTRING || !lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
                 lua_tointeger(L, -1) > 65535))
      luaL_error(L, "sandbox.proxy: rule %d needs host (a string) and port (1 to 65535)", int(i));
    rules.push_back({lua_tostring(L, -2), static_cast<uint16_t>(lua_tointeger(L, -1))});
    lua_pop(L, 3);
  }
  return rules;
}

// sandbox.proxy(socket_path, rules) -> proxy | nil, message, code
int proxy_start(lua_State* L) {
  std::string path(check_text(L, 1));
  std::vector<host::ProxyRule> rules = check_rules(L, 2);
  auto* box = new_box<ProxyHolder>(L, kProxyType);
  std::string error;
  box->value = host::SandboxProxy::start(path, std::move(rules), error);
  if (!box->value) {
    lua_pushnil(L);
    lua_pushstring(L, error.c_str());
    lua_pushliteral(L, "EPROXY");
    return 3;
  }
  return 1;
}

// proxy:log() -> entries, dropped
int proxy_log(lua_State* L) {
  host::SandboxProxy& proxy = check_open<ProxyHolder>(L, kProxyType, "sandbox proxy");
  const std::vector<host::ProxyEntry> entries = proxy.log();
  lua_createtable(L, static_cast<int>(entries.size()), 0);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const host::ProxyEntry& e = entries[i];
    lua_createtable(L, 0, 7);
    lua_pushstring(L, e.host.c_str());
    lua_setfield(L, -2, "host");
    lua_pushinteger(L, e.port);
    lua_setfield(L, -2, "port");
    lua_pushboolean(L, e.allowed);
    lua_setfield(L, -2, "allowed");
    if (!e.error.empty()) {
      lua_pushstring(L, e.error.c_str());
      lua_setfield(L, -2, "error");
    }
    lua_pushinteger(L, e.at_ms);
    lua_setfield(L, -2, "at_ms");
    lua_pushinteger(L, static_cast<lua_Integer>(e.bytes_up));
    lua_setfield(L, -2, "bytes_up");
    lua_pushinteger(L, static_cast<lua_Integer>(e.bytes_down));
    lua_setfield(L, -2, "bytes_down");
    lua_seti(L, -2, static_cast<lua_Integer>(i) + 1);
  }
  lua_pushinteger(L, static_cast<lua_Integer>(proxy.dropped()));
  return 2;
}

// proxy:stop(): stops listening and ends every connection, waiting for each to be logged (a
// tunnel still open is in the log only once it has ended); the log stays readable. Idempotent.
int proxy_stop(lua_State* L) {
  check_open<ProxyHolder>(L, kProxyType, "sandbox proxy").stop();
  return 0;
}

// proxy:close(): stops it (its connections end); closing twice is harmless.
int proxy_close(lua_State* L) { return box_close<ProxyHolder, kProxyType>(L); }

void push_strings(lua_State* L, const std::vector<std::string>& list) {
  lua_createtable(L, static_cast<int>(list.size()), 0);
  for (std::size_t i = 0; i < list.size(); ++i) {
    lua_pushlstring(L, list[i].data(), list[i].size());
    lua_seti(L, -2, static_cast<lua_Integer>(i) + 1);
  }
}

// sandbox.secret_files(top, skip) -> {files, folders, sockets, entries, unread, reused}
// (host/secrets/secret_file_find.hpp): the secret files and folders and the Unix sockets under `top`,
// never entering `skip`; every other folder is read, or taken as this process's last search of
// the same tree read it while its status is unchanged (reused counts those:
// find_secret_files_again).
int secret_files(lua_State* L) {
  std::string top(check_text(L, 1));
  luaL_checktype(L, 2, LUA_TTABLE);
  std::vector<std::string> skip;
  const lua_Integer n = luaL_len(L, 2);
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_geti(L, 2, i);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "sandbox.secret_files: skip[%d] must be a string", int(i));
    skip.emplace_back(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  host::SecretFileSearch found = host::find_secret_files_again(top, skip);
  lua_createtable(L, 0, 6);
  push_strings(L, found.files);
  lua_setfield(L, -2, "files");
  push_strings(L, found.folders);
  lua_setfield(L, -2, "folders");
  push_strings(L, found.sockets);
  lua_setfield(L, -2, "sockets");
  lua_pushinteger(L, static_cast<lua_Integer>(found.entries));
  lua_setfield(L, -2, "entries");
  lua_pushinteger(L, static_cast<lua_Integer>(found.unread));
  lua_setfield(L, -2, "unread");
  lua_pushinteger(L, static_cast<lua_Integer>(found.reused));
  lua_setfield(L, -2, "reused");
  return 1;
}

// sandbox.uid() -> uid, gid: the real ids of this process (a sandbox of root's maps them to others)
int sandbox_uid(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(::getuid()));
  lua_pushinteger(L, static_cast<lua_Integer>(::getgid()));
  return 2;
}

// sandbox.environ() -> {names}: the names of this process's environment variables, sorted (the
// sandbox gives an agent those an allow-list names: stdlib/sidecar/run/sandbox_hidden.lua).
int environ_names(lua_State* L) {
  std::vector<std::string> names;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    std::string name(*e, static_cast<std::size_t>(eq - *e));
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  push_strings(L, names);
  return 1;
}

// sandbox.landlock_abi() -> n: the Landlock ABI the kernel offers (0: none; host/sandbox/landlock.hpp),
// for the sandbox where user namespaces are refused.
int landlock_abi(lua_State* L) {
  lua_pushinteger(L, host::landlock_abi());
  return 1;
}

int proxy_tostring(lua_State* L) {
  auto* box = to_box<ProxyHolder>(L, kProxyType);
  lua_pushstring(L, box->value ? "sandbox proxy" : "sandbox proxy (closed)");
  return 1;
}

}  // namespace

int open_host_sandbox(lua_State* L) {
  static const luaL_Reg meta[] = {{"__close", guarded<proxy_close>},
                                  {"__gc", guarded<box_gc<ProxyHolder, kProxyType>>},
                                  {"__tostring", guarded<proxy_tostring>},
                                  {nullptr, nullptr}};
  static const luaL_Reg methods[] = {{"log", guarded<proxy_log>}, {"stop", guarded<proxy_stop>},
                                     {"close", guarded<proxy_close>}, {nullptr, nullptr}};
  register_type(L, kProxyType, meta, methods);
  static const luaL_Reg functions[] = {
      {"proxy", guarded<proxy_start>}, {"secret_files", guarded<secret_files>}, {"uid", guarded<sandbox_uid>},
      {"environ", guarded<environ_names>}, {"landlock_abi", guarded<landlock_abi>},
      {nullptr, nullptr}};
  luaL_newlib(L, functions);
  lua_pushstring(L, SIDECAR_SANDBOX_INIT_PROTOCOL);
  lua_setfield(L, -2, "init_protocol");
  return 1;
}

}  // namespace sidecar::lua
