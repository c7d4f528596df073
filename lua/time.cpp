// host.time: clocks, a short sleep, and whether a stream is a terminal. Monotonic time is
// system-wide on Linux, so a parent process can compare it with a child's (the start-up
// benchmark does).
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "boundary.hpp"
#include "engine.hpp"
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

// time.sleep_ms(ms): sleeps up to 1000 ms at a time, so a loop of sleeps stays interruptible
// (Ctrl-C is seen between Lua instructions, never inside a C call).
// An interrupt from another thread (an embedding program's) is looked at every 10 ms: the sleep
// ends, and the next instruction raises, rather than the loop sleeping on until its hook looks.
int time_sleep_ms(lua_State* L) {
  lua_Integer ms = luaL_checkinteger(L, 1);
  luaL_argcheck(L, ms >= 0 && ms <= 1000, 1, "expected 0 to 1000 milliseconds");
  Engine* engine = Engine::of(L);
  for (lua_Integer left = ms; left > 0;) {
    if (engine && engine->take_interrupt_pending()) {
      engine->interrupt();
      return 0;
    }
    const lua_Integer slice = left < 10 ? left : 10;
    timespec ts{0, static_cast<long>(slice) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    left -= slice;
  }
  return 0;
}

// time.isatty(fd) -> boolean: whether fd (0, 1 or 2) is a terminal (for live progress lines)
int time_isatty(lua_State* L) {
  lua_pushboolean(L, isatty(static_cast<int>(luaL_checkinteger(L, 1))) == 1);
  return 1;
}

}  // namespace

int open_host_time(lua_State* L) {
  static const luaL_Reg functions[] = {
      {"monotonic_ns", guarded<time_monotonic_ns>},
      {"wall_ms", guarded<time_wall_ms>},
      {"sleep_ms", guarded<time_sleep_ms>},
      {"isatty", guarded<time_isatty>},
      {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
