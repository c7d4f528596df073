// What every fuzz target shares: the input expansion that lets a short input stand for a long
// adversarial text, the finding report, and for the Lua targets one engine per process that runs a
// driver from fuzz/drivers/ with libFuzzer seeing which Lua lines ran.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sidecar::fuzz {

// The bytes with each 0xFE N K replaced by the last (K % 16) + 1 bytes before it repeated
// 2^(N % 18) times, 1 to 131 072 (0xFE never occurs in UTF-8, so real texts pass unchanged). A few
// bytes can so say "128 KiB of spaces" or "[BLOCKED] ten thousand times", which is where a pass
// that is not linear shows: libFuzzer's -timeout turns that into a finding. Repeats stop at `cap`
// bytes (the input's own bytes are all kept): at 128 KiB a quadratic pass in Lua takes minutes, a
// linear one milliseconds. The count is a power of two so that texts of every scale occur, from a
// few repeats to the cap, and the few largest, which cost a Lua target 15 to 50 times an ordinary
// input, do not take nearly all of its time (with (N + 1) * 512, as before, most random N reached
// the cap).
constexpr unsigned kRepeatScales = 18;
constexpr std::size_t kMaxExpanded = 128 * 1024;
std::string expand(const std::uint8_t* data, std::size_t size, std::size_t cap = kMaxExpanded);

// Reports what broke and aborts, so libFuzzer records the input as a crash.
[[noreturn]] void finding(const char* target, const std::string& what);

// Runs the Lua driver `module` (fuzz/drivers/<name>.lua, required as "fuzz.<name>": a function
// of the input text that raises on a finding) on the expanded input. Any error is a finding: a
// driver calls each function only within its contract, so an error is the function's fault.
void run_lua_driver(const char* module, const std::uint8_t* data, std::size_t size);

}  // namespace sidecar::fuzz
