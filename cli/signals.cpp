#include "signals.hpp"

#include <cctype>
#include <csignal>

#include "engine.hpp"
#include "process/interrupt_origin.hpp"
#include "process/process_loop.hpp"

namespace sidecar::cli {
namespace {

lua::Engine* g_engine = nullptr;
volatile std::sig_atomic_t g_interrupted = 0;
volatile std::sig_atomic_t g_sigints = 0;
volatile std::sig_atomic_t g_terminated = 0;

// The running chunk raises "interrupted!" and a process wait stops its children. A second
// Ctrl-C makes that stop immediate (SIGKILL); the third terminates, in case Lua never gets
// control back.
extern "C" void on_sigint_lua(int, siginfo_t* info, void*) {
  sidecar::host::note_interrupt_signal(info);
  if (++g_sigints >= 2) std::signal(SIGINT, SIG_DFL);
  g_interrupted = 1;
  if (g_engine) g_engine->interrupt();
  sidecar::host::ProcessLoop::interrupt_all();
}

// Like Ctrl-C, then ends the program. A second SIGTERM (or SIGHUP: the terminal closed) terminates
// at once (the default action), in case Lua never gets control back (a long call inside one C
// function).
extern "C" void on_sigterm(int signo, siginfo_t* info, void*) {
  sidecar::host::note_interrupt_signal(info);
  std::signal(signo, SIG_DFL);
  g_terminated = signo;
  g_interrupted = 1;
  if (g_engine) g_engine->interrupt();
  sidecar::host::ProcessLoop::interrupt_all();
}

extern "C" void on_sigint_prompt(int, siginfo_t*, void*) { g_interrupted = 1; }

// The handler gets the sender (SA_SIGINFO): a run that ends interrupted says who stopped it.
void install(int signo, void (*handler)(int, siginfo_t*, void*), struct sigaction* previous) {
  struct sigaction sa {};
  sa.sa_sigaction = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: a blocking read or poll returns EINTR
  sigaction(signo, &sa, previous);
}

struct sigaction g_saved_lua, g_saved_prompt;

}  // namespace

LuaInterruptScope::LuaInterruptScope(lua::Engine& engine) {
  g_engine = &engine;
  g_sigints = 0;
  install(SIGINT, on_sigint_lua, &g_saved_lua);
  // A SIGTERM (or SIGHUP) ends the program, whenever it came: before this chunk (between two, or
  // caught by a pcall of the one before), this one is interrupted at its first instruction. (A
  // Ctrl-C before a chunk is not its: the REPL goes on.)
  if (g_terminated != 0) {
    g_interrupted = 1;
    engine.interrupt();
  }
}

LuaInterruptScope::~LuaInterruptScope() {
  sigaction(SIGINT, &g_saved_lua, nullptr);
  g_engine->clear_interrupt();
  g_engine = nullptr;
}

PromptInterruptScope::PromptInterruptScope() { install(SIGINT, on_sigint_prompt, &g_saved_prompt); }

PromptInterruptScope::~PromptInterruptScope() { sigaction(SIGINT, &g_saved_prompt, nullptr); }

void install_termination_handler() {
  install(SIGTERM, on_sigterm, nullptr);
  // The terminal's hangup ends a foreground run as SIGTERM does (recorded interrupted, its agent
  // stopped), not as an unknown death; unless it is ignored (nohup), which stays so.
  struct sigaction hup {};
  if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) install(SIGHUP, on_sigterm, nullptr);
}

bool terminated() { return g_terminated != 0; }

int termination_signal() { return g_terminated; }

bool take_interrupt() {
  bool was = g_interrupted != 0;
  g_interrupted = 0;
  return was;
}

bool is_interruption(const std::string& error) { return error.find("interrupted!") != std::string::npos; }

std::string interruption_text(const std::string& error) {
  std::string first = error.substr(0, error.find('\n'));
  std::size_t at = first.find("interrupted!");
  if (at != std::string::npos && at >= 2 && first.compare(at - 2, 2, ": ") == 0) {
    // "stdlib/sidecar/agent/run.lua:374: " or "(command line):1: ": a chunk's name and a line number.
    std::size_t digits = at - 2;
    while (digits > 0 && std::isdigit(static_cast<unsigned char>(first[digits - 1]))) --digits;
    if (digits < at - 2 && digits > 0 && first[digits - 1] == ':') first.erase(0, at);
  }
  return first;
}

}  // namespace sidecar::cli
