// SIGINT handling for the CLI: Ctrl-C interrupts the running Lua chunk, not the process.
#pragma once

#include <string>

namespace sidecar::lua {
class Engine;
}

namespace sidecar::cli {

// While alive, SIGINT makes `engine`'s running chunk raise "interrupted!" (as lua.c does) and a
// process wait stop its children. A second Ctrl-C skips their grace period; a third kills
// a process stuck outside Lua.
class LuaInterruptScope {
 public:
  explicit LuaInterruptScope(lua::Engine& engine);
  ~LuaInterruptScope();
  LuaInterruptScope(const LuaInterruptScope&) = delete;
  LuaInterruptScope& operator=(const LuaInterruptScope&) = delete;
};

// While alive, SIGINT only sets a flag and interrupts blocking system calls (EINTR), so a prompt
// can abandon its line.
class PromptInterruptScope {
 public:
  PromptInterruptScope();
  ~PromptInterruptScope();
  PromptInterruptScope(const PromptInterruptScope&) = delete;
  PromptInterruptScope& operator=(const PromptInterruptScope&) = delete;
};

// From now on SIGTERM (and SIGHUP, unless ignored: nohup) interrupts like Ctrl-C (children are
// stopped) and then ends the program: the running chunk raises, the REPL stops reading. A second
// one terminates at once.
void install_termination_handler();
// The signal that ended the program (SIGTERM, SIGHUP), or 0.
int termination_signal();

// True once SIGTERM arrived.
bool terminated();

// True when a SIGINT arrived since the last call (and clears the flag).
bool take_interrupt();

// Whether an error is the interruption a Ctrl-C or SIGTERM raised ("interrupted!").
bool is_interruption(const std::string& error);

// What is worth saying of an interruption's error: its first line from "interrupted!" on, without
// where Lua was then ("stdlib/sidecar/agent/watch.lua:119: interrupted! stopped 1 child process;
// run R-0001 recorded interrupted" -> "interrupted! stopped 1 child process; run R-0001 ...").
std::string interruption_text(const std::string& error);

}  // namespace sidecar::cli
