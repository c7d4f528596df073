// Engine: one Lua state with the host modules and the stdlib installed, entered only through
// a protected call with a traceback handler (the shape of lua.c's docall/msghandler).
#pragma once
#include <string>
#include <vector>

struct lua_State;

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

  // Says that the process ends once this engine is closed (the CLI's). The close still runs every
  // finalizer (files synced, stores closed, children stopped) but leaves the state's memory to the
  // process's end instead of thousands of free()s. Not in sanitizer builds, which check for leaks.
  void process_ends_at_close() { process_ends_at_close_ = true; }

  // The sidecar binary that starts Sidecar's other processes (background workers, sandbox-init,
  // hooks: proc.executable()), or, with an empty `path`, why there is none (said when one is
  // needed). The CLI names itself; an embedding program's Host finds one (sidecar.hpp).
  void set_sidecar_binary(const std::string& path, const std::string& why_missing = "");

  // Where the stdlib comes from: "embedded" or the directory.
  const std::string& stdlib_source() const { return stdlib_source_; }

 private:
  bool load_with(int (*loader)(lua_State*), void* request, std::string& error);

  lua_State* L_;
  std::string stdlib_source_;
  bool process_ends_at_close_ = false;
};

}  // namespace sidecar::lua
