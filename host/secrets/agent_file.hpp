// A file an agent's own processes wrote into its run folder, past Sidecar's stream sinks (codex's
// `-o` final message, the log the push block appends to): rewritten redacted before anything
// reads it, and bounded like the raw logs. The agent chose what is at that path, so only a
// regular file is read (a FIFO would block the read, a link to /dev/zero never end it), and only
// its last `max_bytes` are kept (the end is what Sidecar reads: the final message, the latest
// pushes), after a marker line saying what was dropped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "secrets/secrets.hpp"

namespace sidecar::host {

struct AgentFileResult {
  bool present = false;        // false: there was no file (nothing was done)
  std::uint64_t size = 0;      // its size before
  std::uint64_t dropped = 0;   // bytes cut from its start (0: kept whole)
  std::size_t redacted = 0;    // secrets replaced
  std::string error_code;      // on failure: "ELOOP" (a link), "ENOTREG" (not a regular file), "EIO"
};

// Rewrites `path` (atomically: a new file beside it, then a rename) redacted by `redactor`, keeping
// at most its last `max_bytes` (0: no bound). Returns false with `error` set when the path holds
// something other than a regular file (a link, a FIFO, a device, a folder) or cannot be rewritten;
// the caller removes it then. A missing file is not an error.
bool redact_agent_file(const Redactor& redactor, const std::string& path, std::uint64_t max_bytes,
                       AgentFileResult& result, std::string& error);

}  // namespace sidecar::host
