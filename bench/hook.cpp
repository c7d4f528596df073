// Claude Code hook benchmark: the median wall time of `sidecar hook EVENT` (spawn to exit, its
// JSON on stdin) beside `node -e 0`, the floor of a hook written for Node, measured in one run
// with the runs interleaved. Claude Code waits for a hook on every tool call.
//
//   bench_hook path/to/sidecar [runs]     (default 60 runs of each)
//
// Two hook paths are timed: a person's session (PostToolUse of a Write, appended to the session
// record of a store, `sidecar session`), and a Sidecar run's PreToolUse of `git push` (denied: the
// decision printed, the event appended to the run's events.jsonl). Each run's input is distinct,
// so the session's once-per-event check never skips the write. Prints both medians and the ratios;
// the target is <= 10 ms and >= 10x faster than node.
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench_folder.hpp"
#include "bench_spawn.hpp"

using sidecar::bench::median;
using sidecar::bench::run_ms;

namespace {

std::string input(const std::string& dir, int i, bool push) {
  std::string id = "toolu_bench_" + std::to_string(i);
  if (push) {
    return R"({"hook_event_name":"PreToolUse","session_id":"0badc0de-0000-4000-8000-000000000000","cwd":")" + dir +
           R"(","tool_name":"Bash","tool_use_id":")" + id + R"(","tool_input":{"command":"git push origin HEAD"}})";
  }
  return R"({"hook_event_name":"PostToolUse","session_id":"0badc0de-0000-4000-8000-000000000000","cwd":")" + dir +
         R"(","tool_name":"Write","tool_use_id":")" + id + R"(","tool_input":{"file_path":")" + dir +
         R"(/NOTES.md","content":"hello\n"},"tool_response":{"type":"create"}})";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_hook path/to/sidecar [runs]\n");
    return 2;
  }
  char* real = realpath(argv[1], nullptr);  // the runs start in a folder of their own
  if (!real) {
    std::fprintf(stderr, "bench_hook: no such file: %s\n", argv[1]);
    return 2;
  }
  const std::string sidecar = real;
  std::free(real);
  const int runs = argc > 2 ? std::atoi(argv[2]) : 60;
  const std::string dir = sidecar::bench::temp_folder("sidecar-bench-hook");
  if (dir.empty()) {
    std::fprintf(stderr, "bench_hook: cannot make a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  mkdir((dir + "/.agent").c_str(), 0755);
  mkdir((dir + "/run").c_str(), 0755);

  // The run's environment: what the claude runner sets (stdlib/sidecar/agent/hooks.lua run_env).
  std::vector<std::string> run_env_text = {"SIDECAR_RUN_ID=R-0001", "SIDECAR_RUN_DIR=" + dir + "/run",
                                           "SIDECAR_REPO=" + dir, "SIDECAR_AVOID=[\"package-lock.json\"]"};
  std::vector<char*> run_env;
  for (char** e = environ; *e; ++e) run_env.push_back(*e);
  for (auto& e : run_env_text) run_env.push_back(e.data());
  run_env.push_back(nullptr);

  std::vector<double> session, run, node;
  for (int i = 0; i < runs; ++i) {
    const std::string in_session = dir + "/in-s-" + std::to_string(i), in_run = dir + "/in-r-" + std::to_string(i);
    std::ofstream(in_session) << input(dir, i, false);
    std::ofstream(in_run) << input(dir, i, true);
    double s = run_ms({sidecar, "hook", "PostToolUse"}, dir, environ, in_session);
    double r = run_ms({sidecar, "hook", "PreToolUse", "--run"}, dir, run_env.data(), in_run);
    double n = run_ms({"node", "-e", "0"}, dir);
    if (s < 0 || r < 0 || n < 0) {
      std::fprintf(stderr, "bench_hook: a run failed (sidecar %.1f, run hook %.1f, node %.1f)\n", s, r, n);
      return 1;
    }
    session.push_back(s);
    run.push_back(r);
    node.push_back(n);
  }
  std::string cleanup = "rm -rf '" + dir + "'";
  if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "bench_hook: could not remove %s\n", dir.c_str());

  const double ms = median(session), mr = median(run), mn = median(node);
  std::printf("runs: %d of each, interleaved\n", runs);
  std::printf("sidecar hook PostToolUse (session record): median %.2f ms\n", ms);
  std::printf("sidecar hook PreToolUse --run (git push denied): median %.2f ms\n", mr);
  std::printf("node -e 0: median %.2f ms\n", mn);
  std::printf("ratio node / hook: %.1fx (session), %.1fx (run)\n", mn / ms, mn / mr);
  std::printf("target: <= 10 ms and >= 10x: %s\n", ms <= 10 && mr <= 10 && mn / ms >= 10 && mn / mr >= 10 ? "met" : "NOT met");
  return 0;
}
