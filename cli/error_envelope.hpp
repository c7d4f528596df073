// Under --json a command answers with the envelope {ok, version, command, data, errors[]} even when
// it never ran: a command line that cannot be taken, or a Lua error that escaped the command. The
// commands' own envelopes come from stdlib/sidecar/cli/output.lua; this is the same shape, printed
// from C++ (nlohmann's header stays out of main.cpp).
#pragma once
#include <string>

namespace sidecar::cli {

// Prints {ok: false, version, command, data: null, errors: [{code, message}]} on stdout. `message`
// is already redacted; invalid UTF-8 in it is replaced, never a broken document.
void print_error_envelope(const std::string& command, const std::string& code, const std::string& message);

}  // namespace sidecar::cli
