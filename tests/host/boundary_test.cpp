// The exception boundary: C++ exceptions become Lua errors, Lua errors unwind C++ frames, and
// no C++ object outlives either.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "boundary.hpp"

using sidecar::lua::guarded;

namespace {

struct Counted {
  static int live;
  std::string payload = std::string(64, 'x');  // owns heap memory, so a skipped destructor leaks
  Counted() { ++live; }
  Counted(const Counted&) = delete;
  ~Counted() { --live; }
};
int Counted::live = 0;

int throws_cpp(lua_State*) {
  Counted a, b;
  throw std::runtime_error("c++ failure with two objects alive");
}

int raises_lua(lua_State* L) {
  Counted a;
  return luaL_error(L, "lua error with an object alive");
}

int calls_failing_lua(lua_State* L) {
  Counted a;
  lua_getglobal(L, "failing");
  lua_call(L, 0, 0);  // raises through this frame
  return 0;
}

int bad_argument(lua_State* L) {
  Counted a;
  luaL_checkinteger(L, 1);
  return 0;
}

int succeeds(lua_State* L) {
  Counted a;
  lua_pushinteger(L, Counted::live);
  return 1;
}

struct State {
  lua_State* L = luaL_newstate();
  State() {
    luaL_openlibs(L);
    lua_register(L, "throws_cpp", guarded<throws_cpp>);
    lua_register(L, "raises_lua", guarded<raises_lua>);
    lua_register(L, "calls_failing_lua", guarded<calls_failing_lua>);
    lua_register(L, "bad_argument", guarded<bad_argument>);
    lua_register(L, "succeeds", guarded<succeeds>);
    luaL_dostring(L, "function failing() error('from lua', 0) end");
  }
  ~State() { lua_close(L); }

  // Runs `code` under pcall (in Lua) and returns the error message it caught, or "ok".
  std::string pcall(const std::string& code) {
    std::string wrapped = "local ok, e = pcall(function() " + code + " end) return ok and 'ok' or tostring(e)";
    REQUIRE(luaL_dostring(L, wrapped.c_str()) == LUA_OK);
    std::string r = lua_tostring(L, -1);
    lua_pop(L, 1);
    return r;
  }
};

}  // namespace

TEST_CASE("boundary: a C++ exception becomes a Lua error after its objects are destroyed") {
  State s;
  CHECK(s.pcall("throws_cpp()").find("c++ failure with two objects alive") != std::string::npos);
  CHECK(Counted::live == 0);
}

TEST_CASE("boundary: a Lua error raised in a bound function unwinds its C++ objects") {
  State s;
  CHECK(s.pcall("raises_lua()").find("lua error with an object alive") != std::string::npos);
  CHECK(Counted::live == 0);
  CHECK(s.pcall("calls_failing_lua()") == "from lua");
  CHECK(Counted::live == 0);
  CHECK(s.pcall("bad_argument('x')").find("bad argument #1") != std::string::npos);
  CHECK(Counted::live == 0);
}

TEST_CASE("boundary: a guarded function that succeeds returns normally") {
  State s;
  CHECK(s.pcall("assert(succeeds() == 1)") == "ok");
  CHECK(Counted::live == 0);
}

TEST_CASE("boundary: many errors in a row leak nothing") {
  State s;
  for (int i = 0; i < 1000; ++i) {
    s.pcall("throws_cpp()");
    s.pcall("raises_lua()");
  }
  CHECK(Counted::live == 0);
  CHECK(lua_gettop(s.L) == 0);
}
