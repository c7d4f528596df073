// `sidecar sandbox-init`: the first process inside a run's OS sandbox (host/sandbox_init.hpp).
// Sidecar starts it itself (stdlib/sidecar/run/sandbox.lua), never a person; it is dispatched
// before any argument parsing or Lua, so the sandbox adds no start-up of Sidecar's own.
#include <cstdio>
#include <string>
#include <vector>

#include "sandbox_init.hpp"

namespace sidecar::cli {

int sandbox_init_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 2, argv + argc);
  host::SandboxInitOptions options;
  std::string why;
  if (!host::parse_sandbox_init(args, options, why)) {
    std::fprintf(stderr, "sidecar sandbox-init: %s\n", why.c_str());
    return 125;
  }
  return host::run_sandbox_init(options);
}

}  // namespace sidecar::cli
