// Commands whose work is Lua, declared once: a table of commands and their flags, from which the
// CLI11 options (and so --help) are made and, once parsed, the options table handed to a stdlib
// function, `require(module)[function](options)`, which prints and returns the exit status.
// Adding a flag is one line in a table (run_command.cpp, task_command.cpp, ...) and its use in Lua.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
}
namespace sidecar::lua {
class Engine;
}
struct lua_State;

namespace sidecar::cli {

// What a flag's value is, and so what Lua gets: a string (left out when not given), an integer
// (checked by the parser: a whole number in decimal), a boolean (false when not given), or a
// list of strings (empty when not given).
enum FlagType { kText, kInteger, kBool, kList };

// Modifiers, or-ed: the flag must be given; a kList flag takes one value each time it is given
// (--input "a b" --input c), not every word up to the next flag; the flag is left out of --help.
enum FlagMods : unsigned { kRequired = 1u, kOneValue = 2u, kHidden = 4u };

struct Flag {
  const char* names;  // CLI11's spelling: "-j,--jobs", "--root"; a word without dashes ("id") is positional
  const char* key;    // its field in the options table: o.jobs
  FlagType type;
  const char* value;  // the value's name in --help: N, DIR, T-ID ("" for kBool)
  const char* help;
  const char* fallback = nullptr;  // the default: shown in --help as [value], given to Lua when the flag is not
  unsigned mods = 0;
  const char* excludes = nullptr;  // a flag of the same command that cannot be given with this one
};

struct LuaCommand {
  const char* path;      // the command's words after `sidecar`: "run start-ready"; its parent comes first
  const char* help;
  const char* module;    // the stdlib module whose function does the work
  const char* function;  // nullptr: a group, which needs one of its subcommands
  std::vector<Flag> flags;
};

using Flags = std::vector<Flag>;
Flags operator+(Flags a, const Flags& b);

// Flags many commands share.
inline constexpr Flag kRootFlag{"--root", "root", kText, "DIR",
                                "The .agent folder (default: the nearest .agent in or above the current directory)"};
inline constexpr Flag kJsonFlag{"--json", "json", kBool, "", "Print a JSON envelope {ok, version, command, data, errors}"};

// The tables, in the order their commands appear in `sidecar --help`.
std::vector<LuaCommand> prepare_commands();  // prepare_command.cpp
std::vector<LuaCommand> project_commands();  // init, capabilities: project_command.cpp
std::vector<LuaCommand> task_commands();     // task_command.cpp
std::vector<LuaCommand> run_commands();      // run_command.cpp
std::vector<LuaCommand> preset_commands();   // preset_command.cpp
std::vector<LuaCommand> store_commands();    // store, usage: store_command.cpp
std::vector<LuaCommand> trust_commands();    // trust_command.cpp
std::vector<LuaCommand> doctor_commands();   // project_command.cpp
std::vector<LuaCommand> hooks_commands();    // hooks, hook, session, skill: hooks_command.cpp
std::vector<LuaCommand> agent_commands();    // mcp, acp, context: mcp_command.cpp
// All of the above.
std::vector<LuaCommand> lua_commands();

// Registers the module `sidecar.cli.declared` (package.preload): every command of lua_commands()
// with its flags, as a Lua table, for what is generated from the declarations (the skill file).
void register_declared(lua_State* L);

// The commands of a table declared on a CLI11 app, holding what the parser finds.
class LuaCommands {
 public:
  LuaCommands(CLI::App& app, std::vector<LuaCommand> table);
  ~LuaCommands();
  LuaCommands(const LuaCommands&) = delete;
  LuaCommands& operator=(const LuaCommands&) = delete;

  // After parsing: whether the command at `path` ("store") was given.
  bool parsed(const char* path) const;

  // After parsing: the command given that has a function (the deepest one), or nullptr.
  const LuaCommand* called() const;

  // Pushes the options table of called(): its flags' values, a parent's (`run --json list`) where
  // the command's own flag was not given, then the defaults. Only when called() is not nullptr.
  void push_options(lua_State* L) const;

  // Calls require(module)[function](options), with `version` (Sidecar's version) added to the
  // options, and sets `status` to the integer it returns. False (with `error`) only when the Lua
  // side raised. Only when called() is not nullptr.
  bool call(lua::Engine& engine, int& status, std::string& error) const;

 private:
  struct Declared;
  std::vector<LuaCommand> table_;
  std::vector<std::unique_ptr<Declared>> declared_;  // one per command of table_, in its order
};

}  // namespace sidecar::cli
