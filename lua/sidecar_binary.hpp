// Which sidecar binary an embedding program's Host starts Sidecar's other processes with
// (background workers, sandbox-init, hooks): never the embedding program itself, which would run
// again inside every sandbox.
#pragma once
#include <string>

namespace sidecar::lua {

// The binary for a Host: `named` (HostOptions::sidecar_binary) when given, which must be an
// executable file; else the `sidecar` installed beside the shared library this code is in
// (the library's folder, then ../bin and ../../bin from it); else `sidecar` in one of PATH's
// absolute folders (an empty or relative entry would be a repository's own). A candidate
// that is the running program is skipped. Returns the path, absolute with links resolved, or an
// empty string with `why` saying what was tried and what to do.
std::string find_sidecar_binary(const std::string& named, std::string& why);

}  // namespace sidecar::lua
