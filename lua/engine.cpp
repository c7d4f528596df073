#include "engine.hpp"

#include <cstdlib>
#include <stdexcept>

#include <lua.hpp>

#include "boundary.hpp"
#include "modules.hpp"
#include "process/process_loop.hpp"
#include "stdlib_loader.hpp"
#include "util/background_jobs.hpp"

namespace sidecar::lua {
namespace {

// The CLI installs a redactor in the registry (stdlib/sidecar/core/terminal.lua): an error message may quote
// a secret, and every error the engine reports ends up on a terminal or in a log. Replaces the
// string on top of the stack by its filtered copy; leaves it when there is no filter or it fails.
void filter_error(lua_State* L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "sidecar.error_filter") == LUA_TFUNCTION) {
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
      lua_replace(L, -2);
      return;
    }
  }
  lua_pop(L, 1);  // the filter (or its error, or nil)
}

// Hook set by interrupt(): clears itself and raises in the running chunk, through host.proc when
// it is loaded, so the children it started are stopped and counted wherever Ctrl-C lands.
void interrupt_hook(lua_State* L, lua_Debug*) {
  lua_sethook(L, nullptr, 0, 0);
  if (lua_getfield(L, LUA_REGISTRYINDEX, kInterruptKey) == LUA_TFUNCTION) lua_call(L, 0, 0);
  luaL_error(L, "interrupted!");
}

// os.exit, waiting first for the work a command left running on threads of its own (a load of
// libgit2, a snapshot): see host/util/background_jobs.hpp for why exit() alone is not enough.
int exit_after_background_jobs(lua_State* L) {
  host::wait_for_background_jobs();
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// Everything below runs inside Engine::pcall, so even an allocation failure is a Lua error.

// (&dir) -> nothing. Opens the libraries and makes host.* and the stdlib require()-able.
int setup_state(lua_State* L) {
  const auto& dir = *static_cast<const std::string*>(lua_touserdata(L, 1));
  luaL_openlibs(L);
  lua_getglobal(L, "os");
  lua_getfield(L, -1, "exit");
  lua_pushcclosure(L, exit_after_background_jobs, 1);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  preload_host_modules(L);
  install_stdlib(L, dir);
  return 0;
}

struct FileRequest {
  const std::string* path;
  const std::vector<std::string>* args;
};

// (request) -> chunk, args... | nil, message. Sets the global `arg`; a load error is returned, not
// raised, so a syntax error prints without a traceback of the host's own frames.
int load_file_chunk(lua_State* L) {
  const auto* req = static_cast<const FileRequest*>(lua_touserdata(L, 1));
  const auto& args = *req->args;
  luaL_checkstack(L, static_cast<int>(args.size()) + 3, "too many script arguments");
  lua_createtable(L, static_cast<int>(args.size()), 1);
  lua_pushstring(L, req->path->c_str());
  lua_rawseti(L, -2, 0);
  for (std::size_t i = 0; i < args.size(); ++i) {
    lua_pushstring(L, args[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setglobal(L, "arg");
  const char* file = *req->path == "-" ? nullptr : req->path->c_str();  // "-": standard input
  if (luaL_loadfile(L, file) != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  for (const std::string& a : args) lua_pushstring(L, a.c_str());
  return 1 + static_cast<int>(args.size());
}

struct StringRequest {
  const std::string* code;
  const std::string* chunk_name;
};

// (request) -> chunk | nil, message
int load_string_chunk(lua_State* L) {
  const auto* req = static_cast<const StringRequest*>(lua_touserdata(L, 1));
  if (luaL_loadbuffer(L, req->code->data(), req->code->size(), req->chunk_name->c_str()) != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

}  // namespace

Engine::Engine(const std::string& stdlib_dir) : L_(luaL_newstate()) {
  if (L_ == nullptr) throw std::runtime_error("cannot create a Lua state: out of memory");
  std::string dir = stdlib_dir;
  if (dir.empty()) {
    const char* env = std::getenv("SIDECAR_STDLIB_DIR");
    if (env && *env) dir = env;
  }
  stdlib_source_ = dir.empty() ? "embedded" : dir;
  *static_cast<Engine**>(lua_getextraspace(L_)) = this;  // coroutines copy it: Engine::of
  lua_pushcfunction(L_, guarded<setup_state>);
  lua_pushlightuserdata(L_, &dir);
  if (!pcall(1, 0)) {
    std::string error = lua_tostring(L_, -1);
    lua_close(L_);
    throw std::runtime_error("cannot set up the Lua state: " + error);
  }
}

void Engine::set_sidecar_binary(const std::string& path, const std::string& why_missing) {
  if (path.empty()) {
    lua_pushnil(L_);
    lua_setfield(L_, LUA_REGISTRYINDEX, kSidecarBinaryKey);
    lua_pushlstring(L_, why_missing.data(), why_missing.size());
  } else {
    lua_pushlstring(L_, path.data(), path.size());
    lua_setfield(L_, LUA_REGISTRYINDEX, kSidecarBinaryKey);
    lua_pushnil(L_);
  }
  lua_setfield(L_, LUA_REGISTRYINDEX, kSidecarBinaryMissingKey);
}

#if defined(__SANITIZE_ADDRESS__)
#define SIDECAR_LEAK_CHECKED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SIDECAR_LEAK_CHECKED 1
#endif
#endif

// The allocator of a close the process's end follows: lauxlib's, except that it frees nothing.
static void* keep_at_close(void*, void* block, size_t, size_t size) {
  if (size == 0) return nullptr;
  return std::realloc(block, size);
}

Engine::~Engine() {
#ifndef SIDECAR_LEAK_CHECKED
  if (process_ends_at_close_) lua_setallocf(L_, keep_at_close, nullptr);
#endif
  lua_close(L_);
}

// Message handler: turns any error value into "message\nstack traceback:..." (as lua.c does),
// keeping a stdlib error's `code` aside for take_error_code().
int Engine::traceback_handler(lua_State* L) {
  if (lua_type(L, 1) == LUA_TTABLE) {
    Engine* e = of(L);
    if (lua_getfield(L, 1, "code") == LUA_TSTRING && e) e->error_code_ = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  const char* msg = lua_tostring(L, 1);
  if (msg == nullptr) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
    else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  filter_error(L);
  return 1;
}

bool Engine::pcall(int nargs, int nresults) {
  int base = lua_gettop(L_) - nargs;  // the function's slot
  error_code_.clear();
  lua_pushcfunction(L_, traceback_handler);
  lua_insert(L_, base);
  int status = lua_pcall(L_, nargs, nresults, base);
  lua_remove(L_, base);
  return status == LUA_OK;
}

// Takes the error text off the stack (restoring it to `base`) and returns false.
static bool take_error(lua_State* L, int base, std::string& error) {
  const char* msg = lua_tostring(L, -1);
  error = msg ? msg : "(no error message)";
  lua_settop(L, base);
  return false;
}

// Runs `loader(request)` protected; it leaves the chunk (and its arguments) or nil and a message.
bool Engine::load_with(int (*loader)(lua_State*), void* request, std::string& error) {
  const int base = lua_gettop(L_);
  lua_pushcfunction(L_, loader);
  lua_pushlightuserdata(L_, request);
  if (!pcall(1, LUA_MULTRET)) return take_error(L_, base, error);
  if (lua_isnil(L_, base + 1)) {
    filter_error(L_);  // a syntax error quotes the source near it
    return take_error(L_, base, error);
  }
  return true;
}

bool Engine::load_file(const std::string& path, const std::vector<std::string>& args, std::string& error) {
  FileRequest req{&path, &args};
  return load_with(guarded<load_file_chunk>, &req, error);
}

bool Engine::load_string(const std::string& code, const std::string& chunk_name, std::string& error) {
  StringRequest req{&code, &chunk_name};
  return load_with(guarded<load_string_chunk>, &req, error);
}

bool Engine::require(const char* module, std::string& error) {
  const int base = lua_gettop(L_);
  lua_getglobal(L_, "require");
  lua_pushstring(L_, module);
  if (!pcall(1, 1)) return take_error(L_, base, error);
  return true;
}

bool Engine::run_file(const std::string& path, const std::vector<std::string>& args, std::string& error) {
  const int base = lua_gettop(L_);
  if (!load_file(path, args, error)) return false;
  if (!pcall(lua_gettop(L_) - base - 1, 0)) return take_error(L_, base, error);
  return true;
}

bool Engine::run_string(const std::string& code, const std::string& chunk_name, std::string& error) {
  const int base = lua_gettop(L_);
  if (!load_string(code, chunk_name, error)) return false;
  if (!pcall(0, 0)) return take_error(L_, base, error);
  return true;
}

void Engine::interrupt() {
  lua_sethook(L_, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void Engine::clear_interrupt() { lua_sethook(L_, nullptr, 0, 0); }

// Instructions between two looks at an interrupt asked from another thread: a few microseconds of
// Lua, and no measurable cost.
constexpr int kInterruptCheckCount = 4096;

void Engine::watch_hook(lua_State* L, lua_Debug* ar) {
  Engine* e = of(L);
  if (e && e->interrupt_asked_.exchange(false)) interrupt_hook(L, ar);
}

void Engine::watch_interrupts() {
  interrupt_asked_.store(false);
  lua_sethook(L_, watch_hook, LUA_MASKCOUNT, kInterruptCheckCount);
}

void Engine::interrupt_from_any_thread() {
  interrupts_asked_.fetch_add(1);
  interrupt_asked_.store(true);
  std::shared_ptr<host::ProcessLoop> loop;
  {
    std::lock_guard<std::mutex> hold(loop_mutex_);
    loop = loop_.lock();
  }
  if (loop) loop->interrupt();
}

void Engine::attach_loop(std::weak_ptr<host::ProcessLoop> loop) {
  std::lock_guard<std::mutex> hold(loop_mutex_);
  loop_ = std::move(loop);
}

Engine* Engine::of(lua_State* L) { return *static_cast<Engine**>(lua_getextraspace(L)); }

std::string Engine::take_error_code() {
  std::string code;
  code.swap(error_code_);
  return code;
}

// lauxlib's allocator, counted: growth past the cap is refused (Lua raises "not enough memory");
// a shrink or a free never is, as Lua requires.
void* Engine::limited_alloc(void* ud, void* block, size_t old_size, size_t size) {
  auto* cap = static_cast<MemoryCap*>(ud);
  const size_t old_bytes = block ? old_size : 0;
  if (size > old_bytes && cap->limit && cap->used - old_bytes + size > cap->limit) {
    cap->refused = true;
    return nullptr;
  }
  void* out = cap->base(cap->base_ud, block, old_size, size);
  if (out || size == 0) cap->used = cap->used - old_bytes + size;
  return out;
}

void Engine::limit_memory(size_t bytes) {
  if (!memory_.base) {
    memory_.base = lua_getallocf(L_, &memory_.base_ud);
    memory_.used = static_cast<size_t>(lua_gc(L_, LUA_GCCOUNT)) * 1024 + static_cast<size_t>(lua_gc(L_, LUA_GCCOUNTB));
    lua_setallocf(L_, limited_alloc, &memory_);
  }
  memory_.limit = bytes;
}

bool Engine::take_memory_refused() {
  bool refused = memory_.refused;
  memory_.refused = false;
  return refused;
}

}  // namespace sidecar::lua
