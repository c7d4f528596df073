// JSON throughput: decode and encode a generated document of about 100 MB through the embedded
// host (the same path as a script's json.decode / json.encode).
//
//   bench_json [megabytes]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sidecar/sidecar.hpp>

int main(int argc, char** argv) {
  int mb = argc > 1 ? std::atoi(argv[1]) : 100;
  sidecar::Host host;
  std::string code = R"(
    local json, time = require('sidecar.core.json'), require('sidecar.host.time')
    local target = )" + std::to_string(mb) + R"( * 1000 * 1000
    -- Records like an agent's event log: strings, integers, floats, nested arrays and objects.
    local parts, size, i = {}, 0, 0
    while size < target do
      i = i + 1
      local rec = json.encode({id = i, kind = 'item.completed', ok = i % 3 == 0, score = i / 7,
        text = 'line ' .. i .. ' of the agent output, with "quotes" and unicode \u{e9}\u{20ac}',
        tags = {'a', 'b', 'c'}, usage = {input_tokens = i * 3, output_tokens = i, cached = json.null}})
      parts[i] = rec
      size = size + #rec + 1
    end
    local text = '[' .. table.concat(parts, ',') .. ']'
    parts = nil
    collectgarbage()
    local function median(f)
      local t = {}
      for r = 1, 3 do
        local t0 = time.monotonic_ns(); f(); t[r] = (time.monotonic_ns() - t0) / 1e9
      end
      table.sort(t)
      return t[2]
    end
    local doc
    local dec = median(function() doc = json.decode(text) end)
    local out
    local enc = median(function() out = json.encode(doc) end)
    assert(out == text, 'round trip changed the document')
    local mbytes = #text / 1e6
    return string.format('%d records, %.1f MB: decode %.2f s (%.0f MB/s), encode %.2f s (%.0f MB/s), round trip exact',
      i, mbytes, dec, mbytes / dec, enc, mbytes / enc)
  )";
  sidecar::Result r = host.run_string(code, "=bench_json");
  if (!r.ok) {
    std::fprintf(stderr, "bench_json: %s\n", r.error.c_str());
    return 1;
  }
  std::printf("%s\n", r.json.c_str());
  return 0;
}
