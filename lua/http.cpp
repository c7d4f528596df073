// host.http: one bounded HTTP POST (host/net/http_post.hpp), for what Sidecar sends itself
// (notifications). Never for an agent: an agent's network is its sandbox's.
//
//   local status, excerpt = http.post("http://127.0.0.1:8080/hook", body, {
//     headers = { "Content-Type: application/json" }, timeout_ms = 5000 })
//   -- status: the HTTP status; or nil, why (no answer: refused, timed out, a bad URL)
//   -- a third value: the answer's Retry-After in seconds (nil without one)
#include "boundary.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "net/http_post.hpp"

namespace sidecar::lua {
namespace {

int http_post(lua_State* L) {
  host::net::HttpPost request;
  request.url = std::string(check_text(L, 1));
  request.body = std::string(check_text(L, 2));
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "headers") == LUA_TTABLE) {
      for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; ++i) {
        std::string line = lua_tostring(L, -1);
        luaL_argcheck(L, line.find_first_of("\r\n") == std::string::npos, 3, "a header holds a line break");
        request.headers.push_back(line);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 3, "timeout_ms") != LUA_TNIL) {
      lua_Integer ms = luaL_checkinteger(L, -1);
      luaL_argcheck(L, ms > 0 && ms <= 600000, 3, "timeout_ms: expected 1 to 600000");
      request.timeout_ms = static_cast<long>(ms);
    }
    lua_pop(L, 1);
  }
  host::net::HttpAnswer answer = host::net::http_post(request);
  if (!answer.error.empty()) {
    lua_pushnil(L);
    lua_pushstring(L, answer.error.c_str());
    return 2;
  }
  lua_pushinteger(L, answer.status);
  lua_pushlstring(L, answer.body_excerpt.data(), answer.body_excerpt.size());
  if (answer.retry_after_s <= 0) return 2;
  lua_pushinteger(L, answer.retry_after_s);
  return 3;
}

}  // namespace

int open_host_http(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"post", guarded<http_post>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
