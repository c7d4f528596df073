// What the OS sandbox costs one agent run (issue 39): a no-op agent (a recorded codex stream) run
// bare, through Sidecar's codex runner without a sandbox (SIDECAR_OS_SANDBOX=off), and through it
// in its sandbox (bubblewrap, sidecar sandbox-init, the network proxy, the secret-file walk), side
// by side in the same loop; and bubblewrap alone around `true`, for the floor.
//
//   bench_sandbox_cost path/to/sidecar path/to/capture.jsonl [runs]
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

// The environment with one more variable (NAME=VALUE), for posix_spawn.
std::vector<char*> environ_with(std::vector<std::string>& keep, const std::string& entry) {
  std::vector<char*> env;
  keep.push_back(entry);
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(keep.back().c_str()));
  env.push_back(nullptr);
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_sandbox_cost path/to/sidecar path/to/capture.jsonl [runs]\n");
    return 2;
  }
  char sidecar_path[4096], capture[4096];
  if (!realpath(argv[1], sidecar_path) || !realpath(argv[2], capture)) {
    std::fprintf(stderr, "bench_sandbox_cost: no such file: %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  const int runs = argc > 3 ? std::atoi(argv[3]) : 31;
  const std::string base = sidecar::bench::temp_folder("bench_sandbox_cost");
  const std::string agent = base + "/noop-agent", prompt = base + "/prompt.md", repo = base + "/git";
  if (base.empty() || !sidecar::bench::make_noop_agent(agent, capture, prompt) ||
      sh("mkdir " + repo + " && cd " + repo + " && git init -q -b main && printf 'x\\n' > README.md && git add . && "
         "git -c user.name=b -c user.email=b@b commit -qm init") != 0) {
    std::fprintf(stderr, "bench_sandbox_cost: cannot set up %s\n", base.c_str());
    return 1;
  }
  std::vector<std::string> keep;
  keep.reserve(2);
  std::vector<char*> off = environ_with(keep, "SIDECAR_OS_SANDBOX=off");
  std::vector<char*> on = environ_with(keep, "SIDECAR_OS_SANDBOX=bwrap");
  const std::string lua = sidecar::bench::execute_lua(agent);
  const std::vector<std::string> floor = {"bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                                          "--dev", "/dev", "--proc", "/proc", "true"};
  std::vector<double> bare, unsandboxed, sandboxed, bwrap;
  for (int i = 0; i < runs; ++i) {  // interleaved, so drift on a shared machine hits every column alike
    double b = run_ms({agent, "exec", "--json", "-"}, repo, environ, prompt);
    double u = run_ms({sidecar_path, "-e", lua}, repo, off.data());
    double s = run_ms({sidecar_path, "-e", lua}, repo, on.data());
    double w = run_ms(floor, repo);
    if (b < 0 || u < 0 || s < 0 || w < 0) {
      std::fprintf(stderr, "bench_sandbox_cost: a run failed (run %d): bare %.1f off %.1f on %.1f bwrap %.1f\n", i, b,
                   u, s, w);
      return 1;
    }
    bare.push_back(b), unsandboxed.push_back(u), sandboxed.push_back(s), bwrap.push_back(w);
  }
  sh("rm -rf " + base);
  const double mb = median(bare), mu = median(unsandboxed), ms = median(sandboxed), mw = median(bwrap);
  std::printf("one codex run around a no-op agent in a git repository, %d runs each, median wall ms\n", runs);
  std::printf("  bare agent                  %7.2f\n", mb);
  std::printf("  sidecar, no OS sandbox      %7.2f  (%.2fx bare)\n", mu, mu / mb);
  std::printf("  sidecar, in its OS sandbox  %7.2f  (%.2fx bare, %.2fx unsandboxed: %+.2f ms)\n", ms, ms / mb, ms / mu,
              ms - mu);
  std::printf("  bwrap around true (floor)   %7.2f\n", mw);
  return 0;
}
