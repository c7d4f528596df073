// Where the milliseconds of one run and of one `sidecar prepare` go (issue 16, point 3), each
// row a median of wall times, the cases alternated in one loop so that drift hits all alike:
//   exec floor         `sidecar --version`: the binary loaded and started, no Lua
//   Lua state          `sidecar -e ''` minus the floor: the state, host modules, the redactor
//   modules            requiring exactly the modules the command loads (found from its second run,
//                      the first making the store)
//   the command's own  the whole command minus the above and minus its children run bare (the
//                      no-op agent; the longer of prepare's two --input commands, which it runs
//                      side by side): store, files, fsyncs, git reads, spawning and waiting. A lower
//                      bound: what Sidecar does while its children run (a run's JSON copy is written
//                      while the agent starts) hides behind them.
// The run is the one bench_run_overhead and bench_repo_cost time (`sidecar -e` calling
// agent_run.execute with the codex runner around a no-op agent), in a small git repository and
// outside git; prepare is bench_repo_cost's (precommit-classifier, `git status --short` and `git
// diff` as inputs, a 50-file repository with one change).
//
//   bench_run_phases path/to/sidecar path/to/capture.jsonl [--runs N]
#include <algorithm>
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

// Lua that, once the chunks before it and the command have run, writes to `path` a chunk that
// requires every stdlib and preset module then loaded (the host's are part of the Lua state).
std::string modules_writer(const std::string& path) {
  return "KEEP = setmetatable({}, {__gc = function() local names = {} "
         "for name in pairs(package.loaded) do if (name:match('^sidecar%.') or name:match('^presets')) "
         "and not name:match('^sidecar%.host%.') then names[#names + 1] = name end end table.sort(names) "
         "local f = assert(io.open('" + path + "', 'w')) "
         "for _, name in ipairs(names) do f:write('require(\"', name, '\") ') end f:close() end})";
}

std::string read_all(const std::string& path) {
  std::string text;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

// One command broken down: its argv, the argv that only requires its modules, its children bare.
struct Command {
  std::string name, folder;
  std::vector<std::string> whole, modules;
  std::vector<std::vector<std::string>> children;  // each timed alone; the longest is subtracted
  std::string child_stdin = "/dev/null";
  std::vector<double> whole_ms, modules_ms, children_ms;
};

std::vector<std::string> prepare_argv(const std::string& sidecar, const std::string& task_id) {
  return {sidecar,     "prepare", "--repo",     ".",        "--title", "Phases", "--phase", "maintenance",
          "--task-type", "audit",   "--preset",   "precommit-classifier", "--input", "git status --short",
          "--input",   "git diff", "--task-id", task_id};
}

bool sample(Command& c, const std::string& sidecar, int i) {
  if (c.name == "prepare") c.whole = prepare_argv(sidecar, "p-" + std::to_string(i));
  double whole = run_ms(c.whole, c.folder), modules = run_ms(c.modules, c.folder), children = 0;
  for (const auto& child : c.children) {  // prepare runs its inputs side by side: the longer counts
    double ms = run_ms(child, c.folder, environ, c.child_stdin);
    if (ms < 0) return false;
    children = std::max(children, ms);
  }
  c.whole_ms.push_back(whole);
  c.modules_ms.push_back(modules);
  c.children_ms.push_back(children);
  return whole >= 0 && modules >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_run_phases path/to/sidecar path/to/capture.jsonl [--runs N]\n");
    return 2;
  }
  char sidecar_path[4096], capture[4096];
  if (!realpath(argv[1], sidecar_path) || !realpath(argv[2], capture)) {
    std::fprintf(stderr, "bench_run_phases: no such file: %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  int runs = 21;
  if (argc == 5 && std::string(argv[3]) == "--runs") runs = std::atoi(argv[4]);
  if (runs < 1 || (argc != 3 && argc != 5) || (argc == 5 && std::string(argv[3]) != "--runs")) {
    std::fprintf(stderr, "bench_run_phases: expected [--runs N] with N >= 1 after the two paths\n");
    return 2;
  }
  const std::string sidecar = sidecar_path, base = sidecar::bench::temp_folder("bench_run_phases");
  const std::string agent = base + "/noop-agent", prompt = base + "/prompt.md";
  if (base.empty() || !sidecar::bench::make_noop_agent(agent, capture, prompt) ||
      sh("cd '" + base + "' && mkdir git plain prep && (cd git && git init -q && git -c user.name=b -c "
         "user.email=b@b commit -q --allow-empty -m init) && cd prep && git init -q && for i in $(seq 1 50); do "
         "echo \"line $i\" > f$i.txt; done && git add -A && git -c user.name=b -c user.email=b@b commit -qm init && "
         "echo x >> f1.txt") != 0) {
    std::fprintf(stderr, "bench_run_phases: cannot set up a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  const std::string run = sidecar::bench::execute_lua(agent);
  std::vector<Command> commands(3);
  commands[0].name = "a run in a small git repository", commands[0].folder = base + "/git";
  commands[1].name = "a run outside git", commands[1].folder = base + "/plain";
  for (int k : {0, 1}) {
    commands[k].whole = {sidecar, "-e", run};
    commands[k].children = {{agent, "exec", "-"}};
    commands[k].child_stdin = prompt;
  }
  commands[2].name = "prepare", commands[2].folder = base + "/prep";
  commands[2].children = {{"git", "status", "--short"}, {"git", "diff"}};
  // Each command twice (the first makes the store), the second writing the chunk that requires
  // what it loaded.
  for (size_t k = 0; k < commands.size(); ++k) {
    Command& c = commands[k];
    const std::string list = base + "/modules-" + std::to_string(k) + ".lua";
    std::vector<std::string> first = c.name == "prepare" ? prepare_argv(sidecar, "p-first") : c.whole;
    std::vector<std::string> second = c.name == "prepare" ? prepare_argv(sidecar, "p-second") : c.whole;
    second.insert(second.begin() + 1, {"-e", modules_writer(list)});
    const bool ran = run_ms(first, c.folder) >= 0 && run_ms(second, c.folder) >= 0;
    const std::string chunk = ran ? read_all(list) : "";
    if (chunk.empty()) {
      std::fprintf(stderr, "bench_run_phases: %s failed (run it by hand in %s)\n", c.name.c_str(), c.folder.c_str());
      return 1;
    }
    c.modules = {sidecar, "-e", chunk};
  }
  std::vector<double> floor_ms, state_ms;
  for (int i = 0; i < runs; ++i) {
    floor_ms.push_back(run_ms({sidecar, "--version"}, ""));
    state_ms.push_back(run_ms({sidecar, "-e", ""}, ""));
    if (floor_ms.back() < 0 || state_ms.back() < 0) {
      std::fprintf(stderr, "bench_run_phases: `sidecar --version` or `sidecar -e ''` failed (run %d)\n", i);
      return 1;
    }
    for (Command& c : commands) {
      if (!sample(c, sidecar, i)) {
        std::fprintf(stderr, "bench_run_phases: %s failed (run %d)\n", c.name.c_str(), i);
        return 1;
      }
    }
  }
  sh("rm -rf '" + base + "'");
  const double floor = median(floor_ms), state = median(state_ms) - floor;
  std::printf("where the milliseconds go, %d runs each, medians of wall ms (differences of medians)\n", runs);
  std::printf("  %-34s %8s %8s %8s %10s %12s\n", "command", "whole", "floor", "Lua", "modules", "children");
  for (const Command& c : commands) {
    double whole = median(c.whole_ms), modules = median(c.modules_ms) - floor - state, kids = median(c.children_ms);
    std::printf("  %-34s %8.2f %8.2f %8.2f %10.2f %12.2f   its own work %6.2f\n", c.name.c_str(), whole, floor, state,
                modules, kids, whole - floor - state - modules - kids);
  }
  std::printf("  floor: `sidecar --version`; Lua: `sidecar -e ''` minus the floor; modules: requiring what the\n"
              "  command loads, minus both; children: the agent run bare, or the longer of prepare's two inputs (it\n"
              "  runs them side by side); its own work: the rest, a lower bound (work done while children run\n"
              "  hides behind them)\n");
  return 0;
}
