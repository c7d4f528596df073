// SIGINT handling for the CLI: Ctrl-C interrupts the running Lua chunk, not the process.
#pragma once

namespace sidecar::lua {
class Engine;
}

namespace sidecar::cli {

// While alive, SIGINT makes `engine`'s running chunk raise "interrupted!" (as lua.c does). The
// handler then resets itself, so a second Ctrl-C kills a process stuck outside Lua.
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

// True when a SIGINT arrived since the last call (and clears the flag).
bool take_interrupt();

}  // namespace sidecar::cli
