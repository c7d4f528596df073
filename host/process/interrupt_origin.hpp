// Where the last interrupt came from: the signal (SIGINT, SIGTERM) and the process that sent it,
// as the kernel told the handler (siginfo). A run that ends "interrupted" says who stopped it:
// the terminal's Ctrl-C, `run kill`, a service manager, a stray `kill` of a reused pid.
#pragma once
#include <signal.h>

#include <string>

namespace sidecar::host {

// Records `info` (a handler installed with SA_SIGINFO calls it first). Async-signal-safe: the
// sender's name is read from /proc/PID/comm with open and read into a fixed buffer.
void note_interrupt_signal(const siginfo_t* info);

// "SIGTERM from pid 4242 (bash)", "SIGINT from the terminal (Ctrl-C)"; "" when no signal was
// recorded. Read it after the interrupt was seen (the handler has returned by then).
std::string interrupt_origin();

}  // namespace sidecar::host
