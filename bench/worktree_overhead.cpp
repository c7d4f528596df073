// What worktree isolation adds to a writing run (issue 13): `sidecar run T-0001 --sandbox
// workspace-write` with a command runner that appends a line to one file, on a repository of
// 20 000 files (200 folders of 100, one uncommitted change, one untracked file), once with
// `worktree = {enabled = false}` (the run edits the tree in place) and once in a worktree of
// its own (made from HEAD plus the uncommitted change, the result recorded as changes.patch and
// a commit on sidecar/R-…, the folder kept as a spare copy for the next run). Both repositories
// are the same copy; the runs alternate, so drift on a shared machine hits both alike. Beside
// them, for reference: one `git status` (a look at every file, the least any snapshot costs) and
// a plain `git worktree add` + `git worktree remove` (a full checkout, what a worktree costs
// without a spare). Target: the worktree run <= the in-place run + 150 ms (medians).
//
//   bench_worktree_overhead path/to/sidecar [files] [runs]
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_folder.hpp"
#include "bench_spawn.hpp"
#include "bench_stats.hpp"

namespace {

using sidecar::bench::median;
using sidecar::bench::now_ns;
using sidecar::bench::run_ms;

int sh(const std::string& command) { return std::system(command.c_str()); }

// A repository of `files` small files with `sidecar init` done, one uncommitted change and one
// untracked file.
bool make_repo(const std::string& dir, int files) {
  const int per_folder = 100;
  std::string script = "set -e; mkdir -p '" + dir + "' && cd '" + dir +
                       "' && git init -q -b main && git config user.email b@b && git config user.name b && "
                       "git config gc.auto 0 && "
                       "for d in $(seq 0 " +
                       std::to_string((files + per_folder - 1) / per_folder - 1) +
                       "); do mkdir -p src/d$d; for f in $(seq 0 " + std::to_string(per_folder - 1) +
                       "); do echo \"file $d $f\" > src/d$d/f$f.txt; done; done && git add -A && "
                       "git commit -qm init && echo changed >> src/d1/f1.txt && echo new > untracked.txt";
  return sh(script) == 0;
}

bool configure(const std::string& sidecar, const std::string& dir, bool isolated) {
  const std::string config = std::string("return {\n  runner = \"append\",\n") +
                             "  runners = { append = { command = { \"sh\", \"-c\", "
                             "\"cat >/dev/null; echo more >> src/d0/f0.txt; echo done\" } } },\n" +
                             (isolated ? "" : "  worktree = { enabled = false },\n") + "}\n";
  std::FILE* f = nullptr;
  if (sh("cd '" + dir + "' && '" + sidecar + "' init >/dev/null") != 0) return false;
  f = std::fopen((dir + "/.agent/config.lua").c_str(), "w");
  if (!f) return false;
  std::fputs(config.c_str(), f);
  std::fclose(f);
  return sh("cd '" + dir + "' && '" + sidecar + "' task create --title 'Append a line' >/dev/null") == 0;
}

double shell_ms(const std::string& command) {
  long long t0 = now_ns();
  if (sh(command) != 0) return -1;
  return (now_ns() - t0) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_worktree_overhead path/to/sidecar [files] [runs]\n");
    return 2;
  }
  // The repositories are the benchmark's own, made in a temporary folder: their config.lua runs
  // without `sidecar trust` (as the e2e tests' do).
  setenv("SIDECAR_TRUST", "all", 1);
  char sidecar_path[4096];
  if (!realpath(argv[1], sidecar_path)) {
    std::fprintf(stderr, "bench_worktree_overhead: no such file: %s\n", argv[1]);
    return 2;
  }
  const std::string sidecar = sidecar_path;
  const int files = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 15;
  const std::string base = sidecar::bench::temp_folder("bench_worktree_overhead");
  if (base.empty()) {
    std::fprintf(stderr, "bench_worktree_overhead: cannot make a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  const std::string in_place = base + "/in-place", isolated = base + "/worktree";
  // The copy's index is refreshed (its files have new inodes): both start with an index git trusts.
  if (!make_repo(in_place, files) || sh("cp -a '" + in_place + "' '" + isolated + "'") != 0 ||
      sh("git -C '" + isolated + "' status --porcelain >/dev/null") != 0 ||
      !configure(sidecar, in_place, false) || !configure(sidecar, isolated, true)) {
    std::fprintf(stderr, "bench_worktree_overhead: cannot set up %s\n", base.c_str());
    return 1;
  }
  const std::vector<std::string> run = {sidecar, "run", "T-0001", "--sandbox", "workspace-write"};
  // The first worktree run has no spare copy yet: a full checkout, timed on its own; then the
  // disk is given time to write it back.
  double cold = run_ms(run, isolated);
  run_ms(run, in_place);
  sh("sync");
  std::vector<double> place_ms, tree_ms, status_ms, add_ms;
  for (int i = 0; i < runs; ++i) {
    double a = run_ms(run, in_place);
    double b = run_ms(run, isolated);
    if (a < 0 || b < 0 || cold < 0) {
      std::fprintf(stderr, "bench_worktree_overhead: a run failed (run %d); see %s\n", i, base.c_str());
      return 1;
    }
    place_ms.push_back(a);
    tree_ms.push_back(b);
  }
  // The references last: a full checkout leaves the disk busy writing back for a while.
  for (int i = 0; i < 3; ++i) {
    status_ms.push_back(shell_ms("git -C '" + in_place + "' status --porcelain >/dev/null"));
    add_ms.push_back(shell_ms("git -C '" + in_place + "' worktree add -q --detach '" + base +
                              "/plain' HEAD && git -C '" + in_place + "' worktree remove --force '" + base + "/plain'"));
  }
  bool worktree_used = sh("test -n \"$(git -C '" + isolated + "' branch --list 'sidecar/*')\"") == 0;
  bool place_untouched = sh("git -C '" + isolated + "' diff --quiet -- src/d0/f0.txt") == 0;
  sh("rm -rf '" + base + "'");
  if (!worktree_used || !place_untouched) {
    std::fprintf(stderr, "bench_worktree_overhead: the isolated runs did not use worktrees\n");
    return 1;
  }
  double place = median(place_ms), tree = median(tree_ms), limit = place + 150;
  std::printf("a writing run on a repository of %d files, %d runs each, median wall ms\n", files, runs);
  std::printf("  in place (worktree.enabled = false)   %8.1f\n", place);
  std::printf(
      "  in a worktree of its own              %8.1f   overhead %+7.1f ms  ratio %4.2fx  target <= %.1f ms: %s\n", tree,
      tree - place, tree / place, limit, tree <= limit ? "met" : "NOT met");
  std::printf("  the first worktree run (no spare yet) %8.1f   overhead %+7.1f ms\n", cold, cold - place);
  std::printf("reference: git status %.1f ms; git worktree add + remove (full checkout) %.1f ms\n", median(status_ms),
              median(add_ms));
  return 0;
}
