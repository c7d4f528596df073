// One Lua fuzz target: SIDECAR_FUZZ_DRIVER names its driver ("fuzz.markers" runs
// fuzz/drivers/markers.lua); fuzz/CMakeLists.txt builds this file once per driver.
#include <cstddef>
#include <cstdint>

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sidecar::fuzz::run_lua_driver(SIDECAR_FUZZ_DRIVER, data, size);
  return 0;
}
