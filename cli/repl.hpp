// The interactive prompt (`sidecar repl`), shaped like lua.c's: `=expr` and bare expressions print
// their values, incomplete input continues on a second prompt, Ctrl-C interrupts a running chunk.
#pragma once

namespace sidecar::lua {
class Engine;
}

namespace sidecar::cli {

// Runs until end of input. Returns the exit status: 0, or 1 when input was piped and some chunk
// failed (so a script feeding the REPL notices).
int run_repl(lua::Engine& engine);

}  // namespace sidecar::cli
