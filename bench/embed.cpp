// The embedding library's costs, each beside its reference in the same run:
//   - an embedded Host's start (and end) against a whole `sidecar -e ''` process;
//   - a call through the C ABI (sidecar_call: JSON arguments in, a JSON reply out) and through
//     Host::call, against the same call made in Lua.
//
//   bench_embed path/to/sidecar [runs]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sidecar/sidecar.h>
#include <sidecar/sidecar.hpp>

#include "bench_spawn.hpp"

using sidecar::bench::median;
using sidecar::bench::now_ns;

namespace {

constexpr int kCalls = 20000;  // calls per timed batch; the median of the batches is reported

// Median µs per call of `call`, over `runs` batches of kCalls.
template <typename Call>
double per_call_us(int runs, Call&& call) {
  std::vector<double> batches;
  for (int r = 0; r < runs; ++r) {
    long long t0 = now_ns();
    for (int i = 0; i < kCalls; ++i) call();
    batches.push_back((now_ns() - t0) / 1e3 / kCalls);
  }
  return median(batches);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_embed path/to/sidecar [runs]\n");
    return 2;
  }
  const std::string binary = argv[1];
  const int runs = argc > 2 ? std::atoi(argv[2]) : 21;

  std::vector<double> host_start, process_start;
  for (int r = 0; r < runs; ++r) {
    long long t0 = now_ns();
    {
      sidecar::Host host;
      sidecar::Result warm = host.run_string("return 1");
      if (!warm.ok) return 1;
    }
    host_start.push_back((now_ns() - t0) / 1e6);
    double ms = sidecar::bench::run_ms({binary, "-e", ""}, "");
    if (ms < 0) {
      std::fprintf(stderr, "bench_embed: %s -e '' failed\n", binary.c_str());
      return 1;
    }
    process_start.push_back(ms);
  }

  char* error = nullptr;
  sidecar_host* c_host = sidecar_host_new(nullptr, &error);
  if (!c_host) {
    std::fprintf(stderr, "bench_embed: %s\n", error);
    return 1;
  }
  double c_call = per_call_us(runs, [&] { sidecar_free(sidecar_call(c_host, "sidecar.core.text", "trim", "[\" x \"]")); });
  sidecar_host_free(c_host);
  sidecar::Host host;
  double cpp_call = per_call_us(runs, [&] { host.call("sidecar.core.text", "trim", "[\" x \"]"); });
  sidecar::Result lua = host.run_string(
      "local trim, time = require('sidecar.core.text').trim, require('sidecar.host.time')\n"
      "local batches = {}\n"
      "for r = 1, " + std::to_string(runs) + " do\n"
      "  local t0 = time.monotonic_ns()\n"
      "  for i = 1, " + std::to_string(kCalls) + " do trim(' x ') end\n"
      "  batches[r] = (time.monotonic_ns() - t0) / 1e3 / " + std::to_string(kCalls) + "\n"
      "end\n"
      "table.sort(batches)\n"
      "return batches[(#batches + 1) // 2]");
  if (!lua.ok) {
    std::fprintf(stderr, "bench_embed: %s\n", lua.error.c_str());
    return 1;
  }
  double lua_call = std::atof(lua.json.c_str());

  std::printf("medians of %d runs (start: ms; call: µs per call, %d calls a run)\n", runs, kCalls);
  std::printf("  %-48s %10.3f\n", "Host start and end (embedded)", median(host_start));
  std::printf("  %-48s %10.3f   (%.2fx the Host)\n", "sidecar -e '' (a whole process)", median(process_start),
              median(process_start) / median(host_start));
  std::printf("  %-48s %10.3f   (%.0fx the Lua call)\n", "sidecar_call text.trim (C ABI, JSON in and out)", c_call,
              c_call / lua_call);
  std::printf("  %-48s %10.3f   (%.0fx the Lua call)\n", "Host::call text.trim (C++)", cpp_call, cpp_call / lua_call);
  std::printf("  %-48s %10.3f\n", "text.trim called in Lua", lua_call);
  return 0;
}
