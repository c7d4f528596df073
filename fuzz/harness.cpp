#include "harness.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include <lua.hpp>

#include "engine.hpp"
#include "util/embedded_files.hpp"

namespace sidecar {
// fuzz/drivers/*.lua, embedded at build time (fuzz/CMakeLists.txt) as modules "fuzz.<name>".
EmbeddedFiles embedded_fuzz_drivers() noexcept;
}  // namespace sidecar

// libFuzzer reads this section as extra coverage counters (as it reads the compiler's own): the
// Lua code under test runs in an interpreter the compiler never instrumented, so without them
// every Lua branch would look alike and mutations would be blind.
extern "C" {
__attribute__((used, section("__libfuzzer_extra_counters"))) std::uint8_t sidecar_fuzz_lua_counters[1 << 16];
}

// The harness's own hot code, run at every Lua line: not itself under test, so neither
// instrumented for coverage nor checked by the sanitizers.
#define SIDECAR_FUZZ_UNINSTRUMENTED __attribute__((no_sanitize("coverage", "address", "undefined")))

namespace sidecar::fuzz {
namespace {

constexpr std::size_t kCounterMask = sizeof sidecar_fuzz_lua_counters - 1;
std::uint64_t g_previous = 0;  // the line that ran before, for edges rather than lines

// Lines an input may count before the hook goes until the next input. Tracing every line is about
// half of a Lua target's time, nearly all of it spent in the few inputs that expand into long
// texts (a median input runs about 1 400 lines, the longest millions), whose later lines repeat
// what the first ones covered. Past the budget they still run, raise and time out as before;
// only their coverage is no longer counted.
constexpr std::uint32_t kLineBudget = 1u << 16;
std::uint32_t g_lines_left = 0;
constexpr int kHookMask = LUA_MASKCALL | LUA_MASKLINE;

// The hash of a chunk's name ("@stdlib/sidecar/agent/markers.lua"), by the address of its source string: that
// string lives as long as the chunk, and the same name must give the same counters in every
// process (fork mode, corpus merges), which its address would not.
SIDECAR_FUZZ_UNINSTRUMENTED std::uint64_t source_hash(const char* source) {
  static std::unordered_map<const char*, std::uint64_t> known;
  static const char* last = nullptr;
  static std::uint64_t last_hash = 0;
  if (source == last) return last_hash;
  auto [it, added] = known.try_emplace(source, 0);
  if (added) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (const char* c = source; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ull;
    it->second = h;
  }
  last = source;
  return last_hash = it->second;
}

// The source hash of the function each active call runs, by its CallInfo (lua_Debug::i_ci, used
// only as a key): lua_getinfo at every line was a third of a Lua target's time. A call event
// (every call, Lua's or C's, made or tail) forgets what its CallInfo's slot says, so the first
// line the function runs looks its source up once; a CallInfo never holds another function
// without such an event, whatever unwinds or resumes meanwhile. A fixed table, not a map: an
// allocation during an input would make libFuzzer scan the whole heap for leaks after it.
struct CallSource {
  const void* call;
  std::uint64_t source;  // 0: not looked up
};
CallSource g_sources[4096];
const void* g_last_call = nullptr;  // the CallInfo of the previous line event, and its source
std::uint64_t g_last_source = 0;

SIDECAR_FUZZ_UNINSTRUMENTED CallSource& slot_of(const void* call) {
  return g_sources[(reinterpret_cast<std::uintptr_t>(call) >> 4) % (sizeof g_sources / sizeof g_sources[0])];
}

SIDECAR_FUZZ_UNINSTRUMENTED std::uint64_t running_source(lua_State* L, lua_Debug* ar) {
  if (ar->i_ci == g_last_call) return g_last_source;
  CallSource& slot = slot_of(ar->i_ci);
  if (slot.call != ar->i_ci || slot.source == 0) {
    if (!lua_getinfo(L, "S", ar)) return 0;
    slot = {ar->i_ci, source_hash(ar->source) | 1};  // never 0
  }
  g_last_call = ar->i_ci;
  return g_last_source = slot.source;
}

// The hook: a call event forgets its CallInfo's source; a line event counts the edge (previous
// line -> this line) as AFL does.
SIDECAR_FUZZ_UNINSTRUMENTED void coverage_hook(lua_State* L, lua_Debug* ar) {
  if (ar->event != LUA_HOOKLINE) {
    CallSource& slot = slot_of(ar->i_ci);
    if (slot.call == ar->i_ci) slot.source = 0;
    if (ar->i_ci == g_last_call) g_last_call = nullptr;
    return;
  }
  if (g_lines_left == 0) {
    lua_sethook(L, nullptr, 0, 0);
    return;
  }
  --g_lines_left;
  std::uint64_t here = running_source(L, ar) + static_cast<std::uint64_t>(ar->currentline);
  here *= 0x9E3779B97F4A7C15ull;
  here ^= here >> 29;
  std::uint8_t& counter = sidecar_fuzz_lua_counters[(here ^ (g_previous >> 1)) & kCounterMask];
  if (counter != 0xFF) ++counter;
  g_previous = here;
}

// package.preload loader of an embedded driver. Upvalue 1: its EmbeddedFile.
int load_driver(lua_State* L) {
  const auto* file = static_cast<const EmbeddedFile*>(lua_touserdata(L, lua_upvalueindex(1)));
  lua_pushfstring(L, "@%s", file->path);
  if (luaL_loadbuffer(L, file->source, file->size, lua_tostring(L, -1)) != LUA_OK) return lua_error(L);
  lua_pushstring(L, file->module);
  lua_call(L, 1, 1);
  return 1;
}

lua::Engine& engine() {
  static lua::Engine* e = [] {
    auto* made = new lua::Engine();  // kept for the whole process: one start-up, not one per input
    lua_State* L = made->state();
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    EmbeddedFiles drivers = embedded_fuzz_drivers();
    for (const EmbeddedFile* f = drivers.begin; f != drivers.end; ++f) {
      lua_pushlightuserdata(L, const_cast<EmbeddedFile*>(f));
      lua_pushcclosure(L, load_driver, 1);
      lua_setfield(L, -2, f->module);
    }
    lua_pop(L, 1);
    return made;
  }();
  return *e;
}

}  // namespace

std::string expand(const std::uint8_t* data, std::size_t size, std::size_t cap) {
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != 0xFE || i + 2 >= size) {
      out.push_back(static_cast<char>(data[i]));  // always: only repeats stop at the cap
      continue;
    }
    const std::size_t times = std::size_t{1} << (data[i + 1] % kRepeatScales);
    const std::size_t unit_size = std::min<std::size_t>(data[i + 2] % 16u + 1u, out.size());
    i += 2;
    if (unit_size == 0) continue;
    const std::string unit = out.substr(out.size() - unit_size);
    for (std::size_t n = 0; n < times && out.size() + unit_size <= cap; ++n) out += unit;
  }
  return out;
}

void finding(const char* target, const std::string& what) {
  constexpr std::size_t kShown = 6000;  // an error may quote the whole (expanded) input
  std::fprintf(stderr, "\n== fuzz finding in %s ==\n%.*s%s\n", target,
               static_cast<int>(std::min(what.size(), kShown)), what.data(),
               what.size() > kShown ? "\n[... message cut]" : "");
  std::fflush(stderr);
  std::abort();
}

void run_lua_driver(const char* module, const std::uint8_t* data, std::size_t size) {
  lua::Engine& e = engine();
  lua_State* L = e.state();
  const int base = lua_gettop(L);
  std::string error;
  if (!e.require(module, error)) finding(module, "cannot load the driver: " + error);
  const std::string text = expand(data, size);
  lua_pushlstring(L, text.data(), text.size());
  g_previous = 0;
  g_lines_left = kLineBudget;
  lua_sethook(L, coverage_hook, kHookMask, 0);
  if (!e.pcall(1, 0)) {
    std::size_t len = 0;
    const char* msg = lua_tolstring(L, -1, &len);
    finding(module, msg ? std::string(msg, len) : std::string("(an error without a message)"));
  }
  lua_settop(L, base);
  // Free what the input made now, not in a later input: libFuzzer runs a leak check on every input
  // that ends with more allocations than frees, and one such check scans the whole heap.
  lua_gc(L, LUA_GCCOLLECT);
}

}  // namespace sidecar::fuzz
