// An anonymous file in memory (memfd_create): what a child writes to a descriptor it is given, read
// back once the child has ended, with nothing made on a file system (where each file made costs:
// docs/scale.md). An OS sandbox's first process reports through one as its descriptor 3
// (host/sandbox/sandbox_init.hpp); the descriptor stays close-on-exec in this process.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace sidecar::host {

// A new memory file; `name` is only a label (/proc/PID/fd shows "memfd:<name>"). -1 and errno when
// the kernel cannot make one.
int open_memory_file(const char* name);

// Empties the file and moves its offset to the start, so that a child given a copy of the
// descriptor (which shares the offset) writes from the beginning. 0, or the errno of the failure.
int empty_memory_file(int fd);

// The file's contents from its start, at most `max` bytes; nullopt with `error` set when it cannot
// be read.
std::optional<std::string> read_memory_file(int fd, std::size_t max, int& error);

}  // namespace sidecar::host
