// host.proc: child processes for Lua, on the host's process loop (host/process/process_loop.hpp).
//
// One loop per Lua state, made when the module is first required. A process handle is a full
// userdata ("sidecar.process") holding a share of the loop and the process id. While a process
// runs, its handle is anchored in a registry table, so the collector never ends a process that
// nobody waits for. The loop only moves while Lua waits (wait, wait_any, poll, write), and its
// events reach Lua callbacks between steps, never from inside a libuv callback.
//
// This binding is the one place that checks a command and its options (lua/proc_options.cpp), and
// reads their shorthands (a function, a file name, false). The stdlib module `proc` passes them
// through, then names the function in a check's message and raises it at its caller's line.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "boundary.hpp"
#include "engine.hpp"
#include "modules.hpp"
#include "proc_options.hpp"
#include "process/interrupt_origin.hpp"
#include "process/process_detach.hpp"
#include "process/process_loop.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {
namespace {

using host::DetachOptions;
using host::OutputSink;
using host::ProcessEvent;
using host::ProcessLoop;
using host::ProcessResult;
using host::SpawnOptions;
using namespace proc_options;  // option and result tables (lua/proc_options.hpp)

constexpr const char* kHandleType = "sidecar.process";
constexpr const char* kLoopType = "sidecar.process_loop";
const char kLiveKey = 0;  // registry[&kLiveKey] = {[id] = handle} for processes still running

// write() stops queueing past this much unwritten stdin and lets the child catch up.
constexpr std::size_t kStdinHighWater = 4u << 20, kStdinLowWater = 1u << 20;

struct LoopBox {
  std::shared_ptr<ProcessLoop> loop;
};

struct Handle {
  std::shared_ptr<ProcessLoop> loop;  // empty once closed
  uint64_t id = 0;
};

// Deadlines are kept in nanoseconds and steps rounded up, so a wait never ends early.
int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

ProcessLoop& loop_of(lua_State* L) {
  return *static_cast<LoopBox*>(luaL_checkudata(L, lua_upvalueindex(1), kLoopType))->loop;
}

Handle& check_handle(lua_State* L, int index) {
  return *static_cast<Handle*>(luaL_checkudata(L, index, kHandleType));
}

Handle& check_open(lua_State* L, int index) {
  Handle& h = check_handle(L, index);
  if (!h.loop) luaL_error(L, "attempt to use a closed process handle");
  return h;
}


const char* callback_key(const ProcessEvent& e) {
  if (e.kind == ProcessEvent::Stdout) return e.line ? "stdout_line" : "stdout_chunk";
  return e.line ? "stderr_line" : "stderr_chunk";
}

// Hands queued events to Lua: output to its callbacks, exits to on_exit after the result is
// stored on the handle. With `run_callbacks` false only results are stored (after an interrupt
// no user code runs). A callback's error propagates; the events after it wait for the next call.
// Returns how many events it handed on.
int dispatch(lua_State* L, ProcessLoop& loop, bool run_callbacks = true) {
  int handed = 0;
  ProcessEvent event;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLiveKey);
  int live = lua_gettop(L);
  while (loop.take_event(event)) {
    if (lua_rawgeti(L, live, static_cast<lua_Integer>(event.id)) == LUA_TNIL || !loop.known(event.id)) {
      // Released meanwhile: closed after it ended, before its end was dispatched (a pool's
      // process that died, closed with the pool), its events go with it.
      lua_pushnil(L);
      lua_rawseti(L, live, static_cast<lua_Integer>(event.id));
      lua_settop(L, live);
      continue;
    }
    int handle = lua_gettop(L);
    ++handed;
    lua_getiuservalue(L, handle, 1);
    int callbacks = lua_gettop(L);
    if (event.kind == ProcessEvent::Exit) {
      push_result(L, loop.result(event.id), callbacks);
      lua_pushvalue(L, -1);
      lua_setfield(L, callbacks, "result");
      lua_pushnil(L);
      lua_rawseti(L, live, static_cast<lua_Integer>(event.id));  // no longer anchored
      lua_getfield(L, callbacks, "on_exit");
      if (run_callbacks && lua_isfunction(L, -1)) {
        lua_insert(L, -2);
        lua_call(L, 1, 0);
      } else {
        lua_pop(L, 2);
      }
    } else {
      lua_getfield(L, callbacks, callback_key(event));
      if (run_callbacks && lua_isfunction(L, -1)) {
        lua_pushlstring(L, event.data.data(), event.data.size());
        lua_call(L, 1, 0);
      } else {
        lua_pop(L, 1);
      }
    }
    lua_settop(L, live);
  }
  lua_pop(L, 1);
  return handed;
}

// Ctrl-C (or SIGTERM) arrived: stop every child, then raise the interrupt with their count. Called
// by a wait that sees it, and by the engine's hook when it lands while Lua runs (interrupt_now).
[[noreturn]] void raise_interrupt(lua_State* L, ProcessLoop& loop) {
  lua_sethook(L, nullptr, 0, 0);
  std::size_t stopped = loop.stop_all(true);
  dispatch(L, loop, false);
  if (stopped == 0) luaL_error(L, "interrupted!");
  luaL_error(L, "interrupted! stopped %d child process%s", static_cast<int>(stopped), stopped == 1 ? "" : "es");
  std::abort();  // not reached: luaL_error raises
}

// registry[kInterruptKey](): raise_interrupt on the loop box that is upvalue 1.
[[noreturn]] int interrupt_now(lua_State* L) { raise_interrupt(L, loop_of(L)); }

// Steps the loop once, at most until `deadline` (< 0: none), and dispatches what happened.
void step(lua_State* L, ProcessLoop& loop, int64_t deadline, uint64_t interrupts_seen) {
  loop.step(deadline < 0 ? -1 : std::max<int64_t>(0, (deadline - now_ns() + 999999) / 1000000));
  if (loop.interrupt_count() != interrupts_seen) raise_interrupt(L, loop);
  dispatch(L, loop);
}

int64_t deadline_after(lua_State* L, int index) {
  if (lua_isnoneornil(L, index)) return -1;
  lua_Integer ms = luaL_checkinteger(L, index);
  luaL_argcheck(L, ms >= 0, index, "milliseconds must be >= 0");
  return now_ns() + ms * 1000000;
}

// True once the exit is dispatched, with the result table pushed.
bool push_if_done(lua_State* L, Handle& h, int index) {
  if (!h.loop->finished(h.id)) return false;
  lua_getiuservalue(L, index, 1);
  lua_getfield(L, -1, "result");
  lua_remove(L, -2);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

// --- the handle -------------------------------------------------------------------------------

// handle:wait(ms?) -> result | nil, "timeout"   (a timeout leaves the process running)
int handle_wait(lua_State* L) {
  Handle& h = check_open(L, 1);
  int64_t deadline = deadline_after(L, 2);
  std::shared_ptr<ProcessLoop> loop = h.loop;
  uint64_t seen = loop->interrupt_count();
  dispatch(L, *loop);
  while (!push_if_done(L, h, 1)) {
    if (deadline >= 0 && now_ns() >= deadline) {
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
    step(L, *loop, deadline, seen);
  }
  return 1;
}

// handle:kill(sig?) -> boolean
// No signal: stop it as a timeout would (SIGTERM to the group, SIGKILL after the grace).
// A signal (name such as "TERM" or "SIGKILL", or a number) goes to the whole process group.
// False when the process has already ended.
int handle_kill(lua_State* L) {
  Handle& h = check_open(L, 1);
  if (lua_isnoneornil(L, 2)) {
    bool running = !h.loop->finished(h.id);
    h.loop->stop(h.id);
    lua_pushboolean(L, running);
    return 1;
  }
  lua_pushboolean(L, h.loop->signal(h.id, check_signal(L, 2)));
  return 1;
}

// handle:write(data) -> true | nil, message     handle:write(nil) sends EOF
// Needs stdin = true (or pty). Past a few MiB of unwritten input it waits for the child to read,
// draining its output meanwhile, so a writer can never outrun memory or deadlock with a reader.
int handle_write(lua_State* L) {
  Handle& h = check_open(L, 1);
  std::shared_ptr<ProcessLoop> loop = h.loop;
  std::string error;
  bool ok;
  if (lua_isnoneornil(L, 2)) {
    ok = loop->close_stdin(h.id, error);
  } else {
    std::size_t len;
    const char* data = luaL_checklstring(L, 2, &len);
    ok = loop->write(h.id, std::string(data, len), error);
    uint64_t seen = loop->interrupt_count();
    if (ok && loop->stdin_queued(h.id) > kStdinHighWater) {
      while (loop->stdin_queued(h.id) > kStdinLowWater && !loop->finished(h.id)) step(L, *loop, -1, seen);
    }
  }
  if (!ok) {
    lua_pushnil(L);
    lua_pushstring(L, error.c_str());
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// handle:pid() -> integer
int handle_pid(lua_State* L) {
  Handle& h = check_open(L, 1);
  lua_pushinteger(L, h.loop->pid(h.id));
  return 1;
}

// handle:running() -> boolean   (looks at what is pending without blocking)
int handle_running(lua_State* L) {
  Handle& h = check_open(L, 1);
  if (!h.loop->finished(h.id)) h.loop->step(0);
  lua_pushboolean(L, !h.loop->finished(h.id));
  return 1;
}

// handle:close()   (also __close and __gc)
// Stops a running process (SIGTERM, SIGKILL after the grace), waits for it and forgets it.
// Closing twice is harmless.
int handle_close(lua_State* L) {
  Handle& h = check_handle(L, 1);
  if (!h.loop) return 0;
  if (!h.loop->finished(h.id)) {
    h.loop->stop(h.id);
    lua_pushcfunction(L, guarded<handle_wait>);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 0);
  }
  h.loop->release(h.id);
  h.loop.reset();
  return 0;
}

// At collection (or lua_close): a handle still running here is only reachable because the
// state is closing; releasing it stops the process without waiting in a finaliser.
int handle_gc(lua_State* L) {
  Handle& h = check_handle(L, 1);
  if (h.loop) h.loop->release(h.id);
  h.~Handle();
  return 0;
}

int handle_tostring(lua_State* L) {
  Handle& h = check_handle(L, 1);
  if (!h.loop) {
    lua_pushliteral(L, "sidecar.process (closed)");
  } else {
    lua_pushfstring(L, "sidecar.process (pid %d, %s)", h.loop->pid(h.id),
                    h.loop->finished(h.id) ? "finished" : "running");
  }
  return 1;
}

// --- module functions -------------------------------------------------------------------------

// proc.spawn(cmd, opts?, on_exit?, max_output?) -> handle | nil, message, code
// opts as documented in stdlib/sidecar/core/proc.lua; on_exit(result) runs when it ends;
// max_output is the bound of a collected stream when opts gives none (nil: no bound).
int proc_spawn(lua_State* L) {
  lua_settop(L, 4);
  int64_t max_output = 0;
  if (!lua_isnil(L, 4)) {
    luaL_argcheck(L, lua_isinteger(L, 4) && lua_tointeger(L, 4) >= 0, 4, "max_output must be an integer >= 0");
    max_output = lua_tointeger(L, 4);
  }
  // The handle exists, closed, before the process does (as liolib does with files).
  auto* h = static_cast<Handle*>(lua_newuserdatauv(L, sizeof(Handle), 1));
  new (h) Handle();
  luaL_setmetatable(L, kHandleType);
  int handle = lua_gettop(L);
  lua_createtable(L, 0, 8);
  int callbacks = lua_gettop(L);

  SpawnOptions o;
  read_spawn(L, 1, 2, 3, callbacks, o, max_output);
  lua_setiuservalue(L, handle, 1);

  ProcessLoop& loop = loop_of(L);
  host::SpawnError error;
  uint64_t id = loop.spawn(std::move(o), error);
  if (id == 0) {
    lua_pushnil(L);
    lua_pushstring(L, error.message.c_str());
    lua_pushstring(L, error.code.c_str());
    return 3;
  }
  h->loop = static_cast<LoopBox*>(lua_touserdata(L, lua_upvalueindex(1)))->loop;
  h->id = id;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLiveKey);
  lua_pushvalue(L, handle);
  lua_rawseti(L, -2, static_cast<lua_Integer>(id));
  lua_settop(L, handle);
  return 1;
}

// proc.check(cmd, opts?, on_exit?)
// Raises what proc.spawn would raise for these arguments, and starts nothing (proc.parallel
// checks every spec before it starts any).
int proc_check(lua_State* L) {
  lua_settop(L, 3);
  lua_newtable(L);
  SpawnOptions o;
  read_spawn(L, 1, 2, 3, lua_gettop(L), o, 0);
  return 0;
}

// proc.wait_any(handles, ms?) -> handle, index | nil, "timeout"
// The first of `handles` (an array) to finish; one already finished returns at once.
int proc_wait_any(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int64_t deadline = deadline_after(L, 2);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n > 0, 1, "no handles to wait for");
  ProcessLoop& loop = loop_of(L);
  uint64_t seen = loop.interrupt_count();
  dispatch(L, loop);
  for (;;) {
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_geti(L, 1, i);
      Handle* h = static_cast<Handle*>(luaL_testudata(L, -1, kHandleType));
      if (!h) luaL_error(L, "wait_any: handles[%d] is not a process handle", static_cast<int>(i));
      if (!h->loop) luaL_error(L, "wait_any: handles[%d] is closed", static_cast<int>(i));
      if (push_if_done(L, *h, lua_gettop(L))) {
        lua_pop(L, 1);
        lua_pushinteger(L, i);
        return 2;
      }
      lua_pop(L, 1);
    }
    if (deadline >= 0 && now_ns() >= deadline) {
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    }
    step(L, loop, deadline, seen);
  }
}

// proc.executable() -> path | nil, why
// The sidecar binary that starts Sidecar's other processes: the running one in the CLI, the one the
// embedding program named or that was found for it (Engine::set_sidecar_binary); never the
// embedding program itself.
int proc_executable(lua_State* L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, kSidecarBinaryKey) == LUA_TSTRING) return 1;
  lua_pushnil(L);
  if (lua_getfield(L, LUA_REGISTRYINDEX, kSidecarBinaryMissingKey) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushliteral(L, "this Lua state was given no sidecar binary (Engine::set_sidecar_binary)");
  }
  return 2;
}

// proc.poll(ms?) -> integer
// Runs the loop for at most `ms` (default 0: only what is ready), dispatching callbacks; returns
// how many processes are still running, as soon as callbacks have run. For scripts that do other
// work between waits.
int proc_poll(lua_State* L) {
  ProcessLoop& loop = loop_of(L);
  lua_Integer ms = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, ms >= 0, 1, "milliseconds must be >= 0");
  uint64_t seen = loop.interrupt_count();
  // Events already read (a handle's running() reads without handing them on) are callbacks run
  // now: the loop is then only looked at, not waited on, as when a wait brings new ones.
  const bool handed = dispatch(L, loop) > 0;
  step(L, loop, handed ? now_ns() : now_ns() + ms * 1000000, seen);
  lua_pushinteger(L, static_cast<lua_Integer>(loop.running()));
  return 1;
}

// proc.detach(cmd, opts?) -> pid | nil, message, code
// opts: cwd, env, clear_env, stdout and stderr (file paths, appended to; absent: /dev/null).
// Starts a program that outlives Sidecar (host/process/process_detach.hpp): no handle, not part of the
// loop, never stopped at exit. The pid is the program's own, once it has exec'd.
int proc_detach(lua_State* L) {
  lua_settop(L, 2);
  DetachOptions o;
  read_detach(L, 1, 2, o);
  host::SpawnError error;
  pid_t pid = host::detach_process(o, error);
  if (pid == 0) {
    lua_pushnil(L);
    lua_pushstring(L, error.message.c_str());
    lua_pushstring(L, error.code.c_str());
    return 3;
  }
  lua_pushinteger(L, pid);
  return 1;
}

// proc.signal(pid, sig?, opts?) -> true | nil, message, code   (sig: default TERM)
// Any process by pid (a detached one, typically); opts.group sends it to process group `pid`
// instead. A process that is gone is ESRCH, one that is not ours EPERM: data, not errors.
int proc_signal(lua_State* L) {
  pid_t pid = check_pid(L, 1);
  int sig = lua_isnoneornil(L, 2) ? SIGTERM : check_signal(L, 2);
  bool group = signal_group_option(L, 3);
  if (int e = host::signal_process(pid, sig, group); e != 0) {
    const char* code = strerrorname_np(e);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: cannot signal %s %d: %s", code ? code : "EIO", group ? "process group" : "process",
                    static_cast<int>(pid), std::strerror(e));
    lua_pushstring(L, code ? code : "EIO");
    return 3;
  }
  lua_pushboolean(L, 1);
  return 1;
}

// proc.interrupt_origin() -> "SIGTERM from pid 4242 (bash)" | nil: who sent the last Ctrl-C or
// SIGTERM this process took (host/process/interrupt_origin.hpp).
int proc_interrupt_origin(lua_State* L) {
  std::string origin = host::interrupt_origin();
  if (origin.empty()) return 0;
  lua_pushlstring(L, origin.data(), origin.size());
  return 1;
}

// proc.alive(pid) -> boolean   (a zombie is not alive)
int proc_alive(lua_State* L) {
  lua_pushboolean(L, host::process_alive(check_pid(L, 1)));
  return 1;
}

int loop_gc(lua_State* L) {
  static_cast<LoopBox*>(luaL_checkudata(L, 1, kLoopType))->~LoopBox();
  return 0;
}

}  // namespace

int open_host_proc(lua_State* L) {
  static const luaL_Reg handle_methods[] = {
      {"wait", guarded<handle_wait>},   {"kill", guarded<handle_kill>},       {"write", guarded<handle_write>},
      {"pid", guarded<handle_pid>},     {"running", guarded<handle_running>}, {"close", guarded<handle_close>},
      {nullptr, nullptr},
  };
  static const luaL_Reg handle_meta[] = {
      {"__close", guarded<handle_close>},
      {"__gc", guarded<handle_gc>},
      {"__tostring", guarded<handle_tostring>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"spawn", guarded<proc_spawn>},
      {"check", guarded<proc_check>},
      {"wait_any", guarded<proc_wait_any>},
      {"poll", guarded<proc_poll>},
      {"executable", guarded<proc_executable>},
      {"detach", guarded<proc_detach>},
      {"signal", guarded<proc_signal>},
      {"alive", guarded<proc_alive>},
      {"interrupt_origin", guarded<proc_interrupt_origin>},
      {nullptr, nullptr},
  };
  register_type(L, kHandleType, handle_meta, handle_methods);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLiveKey);

  luaL_newlibtable(L, functions);
  auto* box = static_cast<LoopBox*>(lua_newuserdatauv(L, sizeof(LoopBox), 0));
  new (box) LoopBox();
  if (luaL_newmetatable(L, kLoopType)) {
    lua_pushcfunction(L, guarded<loop_gc>);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  box->loop = std::make_shared<ProcessLoop>();
  if (Engine* engine = Engine::of(L)) engine->attach_loop(box->loop);  // Host::interrupt wakes it
  // The engine's interrupt hook (lua/engine.cpp) calls this when Ctrl-C lands while Lua runs
  // rather than while a wait steps the loop: the children are stopped and counted the same way.
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, guarded<interrupt_now>, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, kInterruptKey);
  luaL_setfuncs(L, functions, 1);
  push_signals(L);
  lua_setfield(L, -2, "signals");
  return 1;
}

}  // namespace sidecar::lua
