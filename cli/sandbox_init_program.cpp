// `sidecar-sandbox-init`: sandbox-init (host/sandbox/sandbox_init.hpp) as a program of its own,
// built and installed beside the `sidecar` binary. Every sandboxed agent starts under it, so its
// start counts once per agent: linked statically and holding only the sandbox's code, it maps a
// tenth of the binary's pages and has no dynamic loading, relocations or start-up constructors
// of Sidecar's own to run (about 2 ms against 4.6 alone, and 14 ms of the machine's CPU per
// agent less in a fan-out of 100: docs/scale.md). Sidecar uses `sidecar sandbox-init` instead
// where this program is not beside its binary (stdlib/sidecar/run/sandbox_host.lua).
namespace sidecar::cli {
int sandbox_init_main(int argc, char** argv, int first);  // cli/sandbox_init_command.cpp
}

int main(int argc, char** argv) { return sidecar::cli::sandbox_init_main(argc, argv, 1); }
