// Embedding Sidecar in another C++ program.
//
//   sidecar::Host host;                                     // Lua state + host modules + stdlib
//   sidecar::Result r = host.run_string("return {ok = true}");
//   if (r.ok) std::cout << r.json << "\n";                  // {"ok":true}
//   else std::cerr << r.error << "\n";                      // message and traceback
//
// Values cross the boundary as JSON text, so this header needs neither Lua nor a JSON library.
// A Host is not thread-safe: use one per thread; only interrupt() may be called from another.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sidecar {

namespace lua {
class Engine;
}

struct Result {
  bool ok = false;
  std::string json;   // the first value the code returned, as JSON ("null" when none)
  std::string error;  // when !ok: "file:line: message" and a stack traceback
  // When !ok, the error as parts: what kind it is, the message alone, the traceback (may be empty).
  // Kinds:
  //   "interrupted"  Host::interrupt() was called during the call
  //   "memory"       the Lua state reached HostOptions::memory_limit
  //   "not_trusted"  a repository's code that was not trusted was asked for (code "untrusted")
  //   "usage"        the call was given a wrong argument (code "bad_argument", "bad_option" or "usage")
  //   "lua"          any other error the code raised, or a syntax error
  //   "result"       the value cannot be given as JSON
  //   "internal"     the Host itself failed (a C++ exception inside it, such as std::bad_alloc)
  std::string kind;
  std::string message;
  std::string traceback;
  // The stdlib's code of the error when it raised one of its own (sidecar.core.errors: "bad_argument",
  // "json_decode", "untrusted", ...); empty otherwise.
  std::string code;
};

// A run event as JSON ({"run_id", "seq", "kind", "fields"}: docs/formats.md, "A run's events").
using EventCallback = std::function<void(const std::string& event_json)>;
// A native function: its Lua arguments as a JSON array in, its result as JSON text out.
using NativeFunction = std::function<std::string(const std::string& args_json)>;

struct HostOptions {
  // Load the stdlib from this directory instead of the copy built into the library
  // (empty: $SIDECAR_STDLIB_DIR when set, else the built-in copy).
  std::string stdlib_dir;
  // The sidecar binary that starts Sidecar's other processes: every sandboxed agent runs under its
  // `sandbox-init`, and background runs and hooks are its commands. Empty: the `sidecar` installed
  // beside the shared library, else `sidecar` in an absolute PATH folder; never this program. With
  // none found, what needs one fails saying what was tried (proc.find_executable() answers nil, why).
  std::string sidecar_binary;
  // What the Host's Lua writes to stdout and stderr (print, io.write) and the errors it returns
  // pass the redactor, as the CLI's do: secrets (the nearest project's config adds its rules)
  // come out as [REDACTED:…], and control characters are shown rather than obeyed.
  bool redact_output = true;
  // Whose repository code runs (a repository's .agent/config.lua, presets, tasks' commands):
  //   "environment"  what `sidecar trust` granted, or everything when SIDECAR_TRUST=all (the CLI's rule)
  //   "granted"      only what `sidecar trust` granted, whatever the environment says
  //   "all"          everything: for a program that vets the repositories it works on itself
  // Another value makes the constructor throw std::invalid_argument.
  std::string trust = "environment";
  // The repository the Host's work is about when a call names none (agent runs, preset contexts,
  // presets, the store): a folder, made absolute. Empty: the process's current folder, as the CLI.
  // The process's folder is not changed (every thread shares it). A folder that does not exist
  // makes the constructor throw std::invalid_argument.
  std::string root;
  // The most memory the Host's Lua state may hold, in bytes (0: no cap). A call that needs more
  // fails with kind "memory" and the Host stays usable. The stdlib takes about 10 MiB once loaded,
  // so a cap below about 16 MiB leaves little for the work. Agents' processes are not counted.
  size_t memory_limit = 0;
};

class Host {
 public:
  // Throws std::runtime_error when the Lua state cannot be set up (out of memory, a stdlib_dir
  // without the stdlib), std::invalid_argument for an option's wrong value. The calls below never
  // throw: what fails inside the Host is a Result of kind "internal".
  explicit Host(const HostOptions& options = {});
  // The last Host of the process to go joins Sidecar's background threads (libgit2 loading, a
  // snapshot): free every Host before the program exits, as exit's handlers would otherwise tear
  // down what such a thread still uses.
  ~Host();
  Host(Host&&) noexcept;
  Host& operator=(Host&&) noexcept;

  // Runs Lua source. `chunk_name` names it in error messages.
  Result run_string(const std::string& code, const std::string& chunk_name = "=(embed)");

  // Runs a Lua file with `arg` and `...` set from `args`, as `sidecar script` does.
  Result run_file(const std::string& path, const std::vector<std::string>& args = {});

  // require(module)[function](args...) where `args_json` is a JSON array of the arguments.
  Result call(const std::string& module, const std::string& function, const std::string& args_json = "[]");

  // Calls `callback` with every run event as it is written (each line of a run's events.jsonl),
  // on the thread that called into the Host, during that call: an agent's progress arrives while
  // it runs. A callback that throws is unsubscribed; the run goes on. An empty one unsubscribes.
  void on_event(EventCallback callback);

  // Makes `fn` callable from the Host's Lua as require("<module>").<function>(...), for `name`
  // "<module>.<function>": the Lua arguments arrive as a JSON array, the JSON it returns comes
  // back decoded, and what it throws is a Lua error carrying its what(). False, with `error` set,
  // for a name without a module or a module of Sidecar's own (sidecar.*).
  bool register_function(const std::string& name, NativeFunction fn, std::string* error = nullptr);

  // Stops the call running now (run_string, run_file, call), from any thread: Lua raises
  // "interrupted!" within a few thousand instructions or at once where it waits on processes,
  // whose agents are stopped (their process groups: SIGTERM, then SIGKILL) and whose runs are
  // recorded `interrupted`; the call returns !ok. With no call running it does nothing. Not
  // while the Host is being destroyed.
  void interrupt();

  static const char* version();

 private:
  std::unique_ptr<lua::Engine> engine_;
};

}  // namespace sidecar
