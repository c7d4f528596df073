// A pseudo-terminal pair for programs that insist on a terminal.
#pragma once
#include <cstdint>
#include <string>

namespace sidecar::host {

// Opens a pty: `master` for Sidecar (non-blocking), `slave` for the child's stdin, stdout and
// stderr. Both are close-on-exec (the child gets duplicates). The terminal does not echo input
// and writes "\n" as is (no "\r\n"), so captured output holds the program's own bytes.
// On failure returns false with `error` set and nothing left open.
bool open_pty(int& master, int& slave, uint16_t cols, uint16_t rows, std::string& error);

}  // namespace sidecar::host
