// What a writing run's worktree costs to make (issue 16), Sidecar against `git worktree add`,
// on a generated repository of 20 000 small files (200 folders of 100), once with its objects
// loose (as `git add` + `git commit` leave them) and once packed (as a clone or `git gc` leave
// them). Each round, in alternating order:
//   cold   Sidecar's worktree_git.create with no spare (a new branch, every file written and
//          the index made) vs `git worktree add -b BRANCH PATH HEAD` (the same work);
//   spare  Sidecar's create when a spare copy is waiting (retired by the run before) vs the
//          same `git worktree add`, which has no such thing.
// Both are whole processes (`sidecar script`, `git`), spawn to exit; removal is not timed, and
// the disk is synced before each timed step so write-back of the one before does not land on
// it. Medians of the rounds; the machine may be shared, so the ratios matter more.
//
//   bench_worktree_checkout path/to/sidecar [files] [rounds]
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_folder.hpp"
#include "bench_spawn.hpp"
#include "bench_stats.hpp"

namespace {

using sidecar::bench::median;
using sidecar::bench::run_ms;

int sh(const std::string& command) { return std::system(command.c_str()); }

bool make_repo(const std::string& dir, int files, bool packed) {
  const int per_folder = 100;
  std::string script = "set -e; mkdir -p '" + dir + "' && cd '" + dir +
                       "' && git init -q -b main && git config user.email b@b && git config user.name b && "
                       "git config gc.auto 0 && for d in $(seq 0 " +
                       std::to_string((files + per_folder - 1) / per_folder - 1) +
                       "); do mkdir -p src/d$d; for f in $(seq 0 " + std::to_string(per_folder - 1) +
                       "); do echo \"file $d $f\" > src/d$d/f$f.txt; done; done && git add -A && "
                       "git commit -qm init" + (packed ? " && git gc -q" : "");
  return sh(script) == 0;
}

// The Lua side: create (cold or from a spare), retire to a spare, or remove, through the same
// stdlib module a run uses. Prints nothing; fails (exit 1) when create or retire does.
const char* kScript = R"(local wg = require("sidecar.run.worktree_git")
local what, dir, path, branch, spares_dir = ...
local spec = { spares_dir = spares_dir, spares = 1 }
if what == "create" then
  local tree = assert(wg.tree_of(dir, "HEAD"))
  local name = path:match("[^/]+$")
  local made = assert(wg.create(dir, { path = path, branch = branch, start = "HEAD", tree = tree, name = name,
    spares_dir = spares_dir, spares = 1 }))
  if arg[6] and (made.warm and "spare" or "cold") ~= arg[6] then error("expected a " .. arg[6] .. " create") end
elseif what == "retire" then
  assert(wg.retire(dir, path, spec) == "spare", "not kept as a spare")
else
  wg.remove(dir, path)
end
)";

struct Case {
  std::string label, repo, trees;
  std::vector<double> cold, git, spare, git_again;
};

// One round on one repository; false when a step failed.
bool round(const std::string& sidecar, const std::string& script, Case& c, int i) {
  std::string path = c.trees + "/R-" + std::to_string(i), name = "sidecar/R-" + std::to_string(i);
  std::string plain = c.trees + "/../plain", plain_branch = "plain-" + std::to_string(i);
  auto lua = [&](const std::string& what, const std::string& expect = "") {
    std::vector<std::string> argv = {sidecar, "script", script, what, c.repo, path, name, c.trees};
    if (!expect.empty()) argv.push_back(expect);
    return run_ms(argv, c.repo);
  };
  auto git_add = [&]() {
    sh("sync");
    double ms = run_ms({"git", "-C", c.repo, "worktree", "add", "-q", "-b", plain_branch, plain, "HEAD"}, "");
    sh("git -C '" + c.repo + "' worktree remove --force '" + plain + "' && git -C '" + c.repo +
       "' branch -q -D " + plain_branch);
    return ms;
  };
  double git_first = i % 2 == 0 ? git_add() : 0;
  sh("sync");
  double cold = lua("create", "cold");
  double git_second = i % 2 == 1 ? git_add() : 0;
  if (cold < 0 || lua("retire") < 0) return false;
  sh("git -C '" + c.repo + "' branch -q -D " + name);
  path += "b";
  name += "b";
  sh("sync");
  double spare = lua("create", "spare");
  double git_again = git_add();
  lua("remove");
  sh("git -C '" + c.repo + "' branch -q -D " + name);
  if (spare < 0 || git_first < 0 || git_second < 0 || git_again < 0) return false;
  c.cold.push_back(cold);
  c.git.push_back(git_first + git_second);
  c.spare.push_back(spare);
  c.git_again.push_back(git_again);
  return true;
}

void report(const Case& c) {
  double cold = median(c.cold), git = median(c.git), spare = median(c.spare), again = median(c.git_again);
  std::printf("%s objects\n", c.label.c_str());
  std::printf("  cold worktree   sidecar %8.1f   git worktree add %8.1f   ratio %4.2fx  (<= 1: met)\n", cold, git,
              cold / git);
  std::printf("  spare reused    sidecar %8.1f   git worktree add %8.1f   ratio %4.2fx\n", spare, again,
              spare / again);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_worktree_checkout path/to/sidecar [files] [rounds]\n");
    return 2;
  }
  char sidecar_path[4096];
  if (!realpath(argv[1], sidecar_path)) {
    std::fprintf(stderr, "bench_worktree_checkout: no such file: %s\n", argv[1]);
    return 2;
  }
  const std::string sidecar = sidecar_path;
  const int files = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 7;
  const std::string base = sidecar::bench::temp_folder("bench_worktree_checkout"), script = base + "/bench.lua";
  if (base.empty()) {
    std::fprintf(stderr, "bench_worktree_checkout: cannot make a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  if (std::FILE* f = std::fopen(script.c_str(), "w")) {
    std::fputs(kScript, f);
    std::fclose(f);
  }
  setenv("SIDECAR_TRUST", "all", 1);
  std::vector<Case> cases = {{"loose", base + "/loose/repo", base + "/loose/trees", {}, {}, {}, {}},
                             {"packed", base + "/packed/repo", base + "/packed/trees", {}, {}, {}, {}}};
  for (auto& c : cases) {
    if (!make_repo(c.repo, files, c.label == "packed") || sh("mkdir -p '" + c.trees + "'") != 0) {
      std::fprintf(stderr, "bench_worktree_checkout: cannot set up %s\n", base.c_str());
      return 1;
    }
  }
  for (int i = 0; i < rounds; ++i) {
    for (auto& c : cases) {
      if (!round(sidecar, script, c, i)) {
        std::fprintf(stderr, "bench_worktree_checkout: round %d on %s failed; see %s\n", i, c.label.c_str(),
                     base.c_str());
        return 1;
      }
    }
  }
  sh("rm -rf '" + base + "'");
  std::printf("making a worktree of a repository of %d files, %d rounds, median wall ms (whole processes)\n", files,
              rounds);
  for (const auto& c : cases) report(c);
  return 0;
}
