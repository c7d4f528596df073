// `sidecar sandbox-init`: the first process inside a run's OS sandbox (host/sandbox/sandbox_init.hpp).
// Sidecar starts it itself (stdlib/sidecar/run/sandbox.lua), never a person: as the small program
// `sidecar-sandbox-init` installed beside the binary (cli/sandbox_init_program.cpp), or as the
// binary's own command where that program is not there. Either is dispatched before any argument
// parsing or Lua, so the sandbox adds no start-up of Sidecar's own.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sandbox/sandbox_init.hpp"
#include "sandbox/sandbox_init_protocol.hpp"

namespace sidecar::cli {

// `first`: the index of sandbox-init's first argument in argv (2 after `sidecar sandbox-init`, 1
// for sidecar-sandbox-init). `--protocol` alone prints which sandbox-init this is
// (host/sandbox/sandbox_init_protocol.hpp.in).
int sandbox_init_main(int argc, char** argv, int first) {
  std::vector<std::string> args(argv + first, argv + argc);
  if (args.size() == 1 && args[0] == "--protocol") {
    std::puts(SIDECAR_SANDBOX_INIT_PROTOCOL);
    return 0;
  }
  host::SandboxInitOptions options;
  std::string why;
  if (!host::parse_sandbox_init(args, options, why)) {
    std::fprintf(stderr, "%s: %s\n", first == 1 ? "sidecar-sandbox-init" : "sidecar sandbox-init", why.c_str());
    return 125;
  }
  const int code = host::run_sandbox_init(options);
  // Straight out: a sanitizer's exit checks (LeakSanitizer stops the world with ptrace, which the
  // sandbox forbids) would only add noise to the agent's stderr after its status was reported.
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace sidecar::cli
