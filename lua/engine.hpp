// Engine: one Lua state with the host modules and the stdlib installed, entered only through
// a protected call with a traceback handler (the shape of lua.c's docall/msghandler).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct lua_State;
struct lua_Debug;

namespace sidecar::host {
class ProcessLoop;
}

namespace sidecar::lua {

class Engine {
 public:
  // Loads the stdlib from `stdlib_dir` when given, else from $SIDECAR_STDLIB_DIR when set,
  // else from the copy embedded in the binary.
  explicit Engine(const std::string& stdlib_dir = "");
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  lua_State* state() const { return L_; }

  // Calls the function below `nargs` arguments on the stack. On success the results are on the
  // stack and it returns true; on failure the stack holds one string, the error message followed
  // by a traceback, and it returns false.
  bool pcall(int nargs, int nresults);

  // Loads a Lua file and sets the global `arg` as in lua.c (arg[0] = path, arg[1..] = args).
  // On success pushes the chunk and then `args` as strings (its `...`) and returns true; on
  // failure (missing file, syntax error) sets `error` and pushes nothing.
  bool load_file(const std::string& path, const std::vector<std::string>& args, std::string& error);

  // Loads a chunk of code and pushes it, or sets `error`. `chunk_name` as in lua_load.
  bool load_string(const std::string& code, const std::string& chunk_name, std::string& error);

  // Pushes require(module), or sets `error` (message and traceback) and pushes nothing.
  bool require(const char* module, std::string& error);

  // Runs a Lua file with a global `arg` as in lua.c (arg[0] = path, arg[1..] = args, also passed
  // as `...`). On failure `error` receives the message and traceback.
  bool run_file(const std::string& path, const std::vector<std::string>& args, std::string& error);

  // Runs a chunk of code; `chunk_name` as in lua_load ("=(command line)").
  bool run_string(const std::string& code, const std::string& chunk_name, std::string& error);

  // Makes the running chunk raise "interrupted!" at its next instruction. Async-signal-safe
  // (lua_sethook is), so a SIGINT handler may call it.
  void interrupt();

  // Withdraws an interrupt that arrived too late to stop anything (so the next chunk runs).
  void clear_interrupt();

  // Interrupts from another thread (an embedding program's Host::interrupt): a flag that the hook
  // of watch_interrupts() checks every few thousand instructions, and a wake-up of this engine's
  // process loop, whose wait then stops its children and raises "interrupted!". Safe to call from
  // any thread while the engine lives.
  void interrupt_from_any_thread();
  // Installs that hook on the engine's thread, before a call an interrupt should stop, and clears
  // an interrupt that came while nothing ran.
  void watch_interrupts();
  // How many times interrupt_from_any_thread() was called: a call that failed while the count
  // moved was interrupted, whatever the Lua code made of the error on its way out.
  unsigned interrupts_asked() const { return interrupts_asked_.load(); }
  // Takes an interrupt from another thread that waits for the hook to see it (true once per
  // interrupt): a C function that waits (a sleep) looks, and calls interrupt() to have it raised at
  // once, as the hook would have.
  bool take_interrupt_pending() { return interrupt_asked_.exchange(false); }
  // The process loop interrupt_from_any_thread() wakes (lua/proc.cpp, when host.proc is loaded).
  void attach_loop(std::weak_ptr<host::ProcessLoop> loop);
  // The engine that made the Lua state `L` (or one of its coroutines); only for states an Engine made.
  static Engine* of(lua_State* L);

  // Says that the process ends once this engine is closed (the CLI's). The close still runs every
  // finalizer (files synced, stores closed, children stopped) but leaves the state's memory to the
  // process's end instead of thousands of free()s. Not in sanitizer builds, which check for leaks.
  void process_ends_at_close() { process_ends_at_close_ = true; }

  // The sidecar binary that starts Sidecar's other processes (background workers, sandbox-init,
  // hooks: proc.executable()), or, with an empty `path`, why there is none (said when one is
  // needed). The CLI names itself; an embedding program's Host finds one (sidecar.hpp).
  void set_sidecar_binary(const std::string& path, const std::string& why_missing = "");

  // Caps the Lua state's memory at `bytes` (0: no cap) from now on: an allocation past it fails,
  // which Lua raises as "not enough memory" and the state survives. memory_refused() says whether
  // one was refused since the last take.
  void limit_memory(size_t bytes);
  bool take_memory_refused();

  // The `code` of the last error value the engine's pcall caught that was a stdlib error
  // (sidecar.core.errors: a table with a string `code`), then forgotten; empty for other errors.
  std::string take_error_code();

  // Where the stdlib comes from: "embedded" or the directory.
  const std::string& stdlib_source() const { return stdlib_source_; }

 private:
  bool load_with(int (*loader)(lua_State*), void* request, std::string& error);
  static void watch_hook(lua_State* L, lua_Debug* ar);
  static void* limited_alloc(void* ud, void* block, size_t old_size, size_t size);
  static int traceback_handler(lua_State* L);

  struct MemoryCap {
    void* (*base)(void*, void*, size_t, size_t) = nullptr;  // lua_Alloc
    void* base_ud = nullptr;
    size_t limit = 0;
    size_t used = 0;
    bool refused = false;
  };

  lua_State* L_;
  std::string stdlib_source_;
  bool process_ends_at_close_ = false;
  std::atomic<bool> interrupt_asked_{false};
  std::atomic<unsigned> interrupts_asked_{0};
  MemoryCap memory_;
  std::string error_code_;
  std::mutex loop_mutex_;
  std::weak_ptr<host::ProcessLoop> loop_;
};

}  // namespace sidecar::lua
