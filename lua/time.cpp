// host.time: clocks. Monotonic time is system-wide on Linux, so a parent process can compare it
// with a child's (the start-up benchmark does).
#include <ctime>

#include "boundary.hpp"
#include "modules.hpp"

namespace sidecar::lua {
namespace {

lua_Integer clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<lua_Integer>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// time.monotonic_ns() -> integer nanoseconds since an arbitrary point (never goes back)
int time_monotonic_ns(lua_State* L) {
  lua_pushinteger(L, clock_ns(CLOCK_MONOTONIC));
  return 1;
}

// time.wall_ms() -> integer milliseconds since the Unix epoch
int time_wall_ms(lua_State* L) {
  lua_pushinteger(L, clock_ns(CLOCK_REALTIME) / 1000000);
  return 1;
}

}  // namespace

int open_host_time(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"monotonic_ns", guarded<time_monotonic_ns>},
      {"wall_ms", guarded<time_wall_ms>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
