#include "signals.hpp"

#include <csignal>

#include "engine.hpp"

namespace sidecar::cli {
namespace {

lua::Engine* g_engine = nullptr;
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint_lua(int) {
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C terminates, in case Lua never gets control back
  g_interrupted = 1;
  if (g_engine) g_engine->interrupt();
}

extern "C" void on_sigint_prompt(int) { g_interrupted = 1; }

void install(void (*handler)(int), struct sigaction* previous) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read or poll returns EINTR
  sigaction(SIGINT, &sa, previous);
}

struct sigaction g_saved_lua, g_saved_prompt;

}  // namespace

LuaInterruptScope::LuaInterruptScope(lua::Engine& engine) {
  g_engine = &engine;
  install(on_sigint_lua, &g_saved_lua);
}

LuaInterruptScope::~LuaInterruptScope() {
  sigaction(SIGINT, &g_saved_lua, nullptr);
  g_engine->clear_interrupt();
  g_engine = nullptr;
}

PromptInterruptScope::PromptInterruptScope() { install(on_sigint_prompt, &g_saved_prompt); }

PromptInterruptScope::~PromptInterruptScope() { sigaction(SIGINT, &g_saved_prompt, nullptr); }

bool take_interrupt() {
  bool was = g_interrupted != 0;
  g_interrupted = 0;
  return was;
}

}  // namespace sidecar::cli
