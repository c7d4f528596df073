// Sidecar's own overhead for one agent run (issue 5): a no-op agent that reads its prompt and
// prints a recorded codex event stream, run bare (spawn to exit, prompt on stdin) and through
// Sidecar's codex runner (`sidecar -e` calling agent_run.execute: store record and JSON copy,
// prompt.md, the stream parsed and kept, events.jsonl, output.md, model.json/md, and in a git
// repository the work-tree snapshots before and after). Targets: sidecar <= 1.2 x bare + 5 ms
// (issue 5) and <= bare + 10 ms (issue 40). Each case also runs with SIDECAR_OS_SANDBOX=off, so
// the OS sandbox's share (bwrap, sandbox-init, the proxy) shows beside the rest.
//
//   bench_run_overhead path/to/sidecar path/to/capture.jsonl [runs]
//
// The folder is made in $TMPDIR (default /tmp); the run prints what creating a file costs there.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_agent.hpp"
#include "bench_folder.hpp"
#include "bench_spawn.hpp"
#include "bench_stats.hpp"

namespace {

using sidecar::bench::median;
using sidecar::bench::run_ms;

int sh(const std::string& command) { return std::system(command.c_str()); }

struct Case {
  const char* name;
  std::string folder;  // where the runs happen
  std::vector<double> bare, sidecar, unsandboxed;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_run_overhead path/to/sidecar path/to/capture.jsonl [runs]\n");
    return 2;
  }
  char sidecar_path[4096], capture[4096];
  if (!realpath(argv[1], sidecar_path) || !realpath(argv[2], capture)) {
    std::fprintf(stderr, "bench_run_overhead: no such file: %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  const int runs = argc > 3 ? std::atoi(argv[3]) : 31;
  const std::string base = sidecar::bench::temp_folder("bench_run_overhead");
  if (base.empty()) {
    std::fprintf(stderr, "bench_run_overhead: cannot make a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  const std::string agent = base + "/noop-agent";
  const std::string prompt = base + "/prompt.md";
  if (!sidecar::bench::make_noop_agent(agent, capture, prompt) ||
      sh("mkdir " + base + "/git " + base + "/plain && cd " + base + "/git && git init -q -b main && printf 'x\\n' > "
         "README.md && git add . && git -c user.name=b -c user.email=b@b commit -qm init") != 0) {
    std::fprintf(stderr, "bench_run_overhead: cannot set up %s\n", base.c_str());
    return 1;
  }
  const std::string lua = sidecar::bench::execute_lua(agent);
  std::vector<Case> cases = {{"in a git repository (snapshots on)", base + "/git", {}, {}, {}},
                             {"outside git (no snapshots)", base + "/plain", {}, {}, {}}};
  std::string sandbox_off = "SIDECAR_OS_SANDBOX=off";
  std::vector<char*> env_off;
  for (char** e = environ; *e; ++e) env_off.push_back(*e);
  env_off.push_back(sandbox_off.data());
  env_off.push_back(nullptr);
  for (int i = 0; i < runs; ++i) {
    for (Case& c : cases) {  // alternate, so drift on a shared machine hits both alike
      double bare = run_ms({agent, "exec", "--json", "-"}, c.folder, environ, prompt);
      double side = run_ms({sidecar_path, "-e", lua}, c.folder);
      double off = run_ms({sidecar_path, "-e", lua}, c.folder, env_off.data());
      if (bare < 0 || side < 0 || off < 0) {
        std::fprintf(stderr, "bench_run_overhead: a run failed (%s, run %d)\n", c.name, i);
        return 1;
      }
      c.bare.push_back(bare);
      c.sidecar.push_back(side);
      c.unsandboxed.push_back(off);
    }
  }
  const double create_us = sidecar::bench::file_create_us(base);
  sh("rm -rf " + base);
  std::printf("one codex run around a no-op agent (%s), %d runs each, median wall ms\n", argv[2], runs);
  std::printf("in %s: creating a file there takes %.0f us (median; set TMPDIR to measure elsewhere)\n", base.c_str(),
              create_us);
  for (const Case& c : cases) {
    double bare = median(c.bare), side = median(c.sidecar), off = median(c.unsandboxed);
    double limit5 = 1.2 * bare + 5, limit40 = bare + 10;
    std::printf("  %-38s bare %7.2f  sidecar %7.2f  ratio %5.2fx  overhead %+7.2f ms\n", c.name, bare, side,
                side / bare, side - bare);
    std::printf("  %-38s targets: <= %.2f ms (1.2 x bare + 5): %s; <= %.2f ms (bare + 10): %s\n", "", limit5,
                side <= limit5 ? "met" : "NOT met", limit40, side <= limit40 ? "met" : "NOT met");
    std::printf("  %-38s without the OS sandbox %7.2f (the sandbox's share %+.2f ms); bare + 10: %s\n", "", off,
                side - off, off <= limit40 ? "met" : "NOT met");
  }
  return 0;
}
