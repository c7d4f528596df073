// What a run costs as the repository grows (issue 16), side by side in one run, medians:
//   1. one codex run around a no-op agent (`sidecar -e` calling agent.run.execute, as
//      bench_run_overhead does) in a small git repository, outside git, and in a generated
//      repository of 20 000 committed files plus one untracked 200 MB file, beside the bare
//      agent and `git status --porcelain` on that repository; and the bytes the runs add to its
//      .git (`du -sb .git` before and after). Targets: small and outside git <= 1.2 x bare + 5 ms;
//      big: overhead <= 2 x git status + 10 ms, 0 bytes added. Then writing runs there (a command
//      agent that changes nothing, `--sandbox workspace-write`, each discarded): wall ms and the
//      bytes .git gained (target 0: a writing run adds only its worktree's metadata, removed after).
//   2. `sidecar prepare` (precommit-classifier preset, two --input commands, a 50-file repository
//      with one change) against the original Python script prepare_sidecar_task.py of
//      a-green-hand-jack/ml-research-skills (skills/sidecar-task-runner/scripts/, its templates/
//      beside it) on the same repository and inputs. Target: sidecar >= 10 x faster.
//   3. `sidecar -e ''` against `lua5.4 -e ''`. Target: <= 1.3 x.
//
//   bench_repo_cost path/to/sidecar path/to/capture.jsonl [--original path/to/prepare_sidecar_task.py]
//                   [--python PATH] [--quick] [--runs N] [--big-runs N] [--files N] [--big-mb N] [--keep]
//
// capture.jsonl: a recorded codex stream (tests/fixtures/captures/codex_exec_json_text_turn.jsonl).
// --original: without it the prepare row has no reference column (the script is not part of this
// repository; fetch it, e.g. `git clone https://github.com/a-green-hand-jack/ml-research-skills`).
// --python: the interpreter for it (default: the one behind `python3`, not a version manager's
// shim). --quick: 3 runs, 2 in the big repository (a smoke run; the figures are rough).
// --runs: runs of each small case (default 21); --big-runs: runs in the big repository (default
// 7; the first is shown apart, as it pays for what earlier runs leave cached). --files, --big-mb:
// the big repository's size. --keep: leave the temporary folder (its path is printed).
// The folder is made in $TMPDIR (default /tmp); the run prints what creating a file costs there.
//
// The big repository is generated once per bench run in a temporary folder: the files are
// written directly (no process per file), committed in one `git add -A`, and read once by `git
// status` before the timed runs, so that every row sees a warm page cache, as a user's repository
// would be. The cases alternate in one loop, so drift on a shared machine hits all alike.
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "bench_agent.hpp"
#include "bench_folder.hpp"
#include "bench_spawn.hpp"
#include "bench_stats.hpp"

namespace {

using sidecar::bench::first_line;
using sidecar::bench::median;
using sidecar::bench::now_ns;
using sidecar::bench::run_ms;
using sidecar::bench::write_file;

int sh(const std::string& command) { return std::system(command.c_str()); }

struct Options {
  std::string sidecar, capture, original, python;
  bool quick = false, keep = false;
  int runs = 21, big_runs = 7, files = 20000, big_mb = 200;
};

long long du_bytes(const std::string& path) { return std::atoll(first_line("du -sb '" + path + "'").c_str()); }

// `count` small files in folders of 100 under dir/src, committed; a git repository there.
bool make_committed_files(const std::string& dir, int count) {
  if (sh("mkdir -p '" + dir + "/src' && cd '" + dir + "' && git init -q -b main && git config user.email b@b && "
         "git config user.name b && git config gc.auto 0") != 0)
    return false;
  for (int i = 0; i < count; ++i) {
    const std::string folder = dir + "/src/d" + std::to_string(i / 100);
    if (i % 100 == 0 && mkdir(folder.c_str(), 0755) != 0) return false;
    const std::string text = "// file " + std::to_string(i) + "\nint f" + std::to_string(i) + "() { return " +
                             std::to_string(i * 7) + "; }\n";
    if (!write_file(folder + "/f" + std::to_string(i % 100) + ".c", text)) return false;
  }
  return sh("cd '" + dir + "' && git add -A && git commit -qm init") == 0;
}

// An untracked file of `mb` MiB that does not compress (like a checkpoint or a dataset shard).
bool write_big_file(const std::string& path, int mb) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  bool ok = true;
  for (int i = 0; i < mb && ok; ++i) {
    for (auto& w : block) {  // xorshift64: cheap bytes that zlib cannot shrink
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    ok = std::fwrite(block.data(), sizeof block[0], block.size(), f) == block.size();
  }
  return std::fclose(f) == 0 && ok;
}

// One row of the table: where its runs happen and what they took.
struct Row {
  std::string name, folder;
  std::vector<double> bare, sidecar, status;
};

bool parse(int argc, char** argv, Options& o) {
  std::vector<std::string> positional;
  const std::pair<const char*, int*> counts[] = {
      {"--runs", &o.runs}, {"--big-runs", &o.big_runs}, {"--files", &o.files}, {"--big-mb", &o.big_mb}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    int* count = nullptr;
    for (const auto& c : counts) count = a == c.first ? c.second : count;
    if (a == "--quick") {
      o.quick = true, o.runs = 3, o.big_runs = 2;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (next && (a == "--original" || a == "--python")) {
      (a == "--original" ? o.original : o.python) = next, ++i;
    } else if (next && count) {
      if ((*count = std::atoi(next)) <= 0) return false;
      ++i;
    } else if (a.rfind("--", 0) == 0) {
      return false;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) return false;
  char resolved[4096];
  for (std::string* p : {&positional[0], &positional[1], &o.original}) {
    if (p->empty()) continue;
    if (!realpath(p->c_str(), resolved)) {
      std::fprintf(stderr, "bench_repo_cost: no such file: %s\n", p->c_str());
      return false;
    }
    *p = resolved;
  }
  o.sidecar = positional[0], o.capture = positional[1];
  o.big_runs = std::max(2, o.big_runs);
  if (!o.original.empty() && o.python.empty())
    o.python = first_line("python3 -c 'import sys; print(sys.executable)' 2>/dev/null");
  return true;
}

// `prepare`'s arguments after the program, the same for Sidecar and the original script.
std::vector<std::string> prepare_args(std::vector<std::string> program, const std::string& task_id) {
  for (const char* a : {"--repo", ".", "--title", "Precommit classifier", "--phase", "maintenance", "--task-type",
                        "audit", "--preset", "precommit-classifier", "--input", "git status --short", "--input",
                        "git diff", "--task-id"})
    program.push_back(a);
  program.push_back(task_id);
  return program;
}

// Writing runs in the big repository: `sidecar run --sandbox workspace-write` with a command
// agent that changes nothing, each discarded after. Made after the read-only rows, which the
// store and worktrees in the folder would disturb. Fills the runs' wall ms (the first apart: it
// checks out every file, the later ones start from its spare) and what .git gained, after all.
bool writing_runs(const Options& o, const std::string& big, std::vector<double>& ms, double& first,
                  long long& added) {
  const std::string in = "cd '" + big + "' && ";
  setenv("SIDECAR_TRUST", "all", 1);  // the bench's own repository: its config needs no `sidecar trust`
  if (sh(in + "'" + o.sidecar + "' init >/dev/null && printf '%s' 'return { runners = { noop = { command = "
         "{ \"sh\", \"-c\", \"cat >/dev/null; echo done\" } } } }' > .agent/config.lua") != 0) {
    return false;
  }
  const long long before = du_bytes(big + "/.git");
  for (int i = 0; i < o.big_runs; ++i) {
    const std::string task = first_line(in + "'" + o.sidecar + "' task create --title 'Write " + std::to_string(i) +
                                        "' | grep -o 'T-[0-9]*' | head -n 1");
    double t = run_ms({o.sidecar, "run", task, "--runner", "noop", "--sandbox", "workspace-write"}, big);
    const std::string run = first_line(in + "'" + o.sidecar + "' run list --task " + task +
                                       " | grep -o 'R-[0-9]*' | head -n 1");
    const bool discarded = !run.empty() && sh(in + "'" + o.sidecar + "' run discard " + run + " >/dev/null") == 0;
    if (task.empty() || t < 0 || !discarded) {
      return false;
    }
    if (i == 0) first = t;
    else ms.push_back(t);
  }
  added = du_bytes(big + "/.git") - before;
  return true;
}

void print_run_row(const Row& r) {
  double bare = median(r.bare), side = median(r.sidecar), limit = 1.2 * bare + 5;
  std::printf("  %-44s %9.2f   bare agent %8.2f   %6.2fx   overhead %+8.2f ms, target <= %.2f ms: %s\n",
              r.name.c_str(), side, bare, side / bare, side - bare, limit, side <= limit ? "met" : "NOT met");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: bench_repo_cost path/to/sidecar path/to/capture.jsonl [--original path/to/"
                         "prepare_sidecar_task.py] [--python PATH] [--quick] [--runs N] [--big-runs N] [--files N] "
                         "[--big-mb N] [--keep]\n");
    return 2;
  }
  const std::string base = sidecar::bench::temp_folder("bench_repo_cost");
  if (base.empty()) {
    std::fprintf(stderr, "bench_repo_cost: cannot make a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  const std::string agent = base + "/noop-agent", prompt = base + "/prompt.md";
  const std::string big = base + "/big", prep = base + "/prepare";
  long long t0 = now_ns();
  // The small repository is bench_run_overhead's; the prepare one has 50 files and one change.
  bool ok = sidecar::bench::make_noop_agent(agent, o.capture, prompt) && make_committed_files(base + "/small", 1) &&
            sh("mkdir '" + base + "/plain'") == 0 && make_committed_files(prep, 50) &&
            sh("echo '// changed' >> '" + prep + "/src/d0/f0.c'") == 0 && make_committed_files(big, o.files) &&
            write_big_file(big + "/checkpoint.bin", o.big_mb);
  // git status reads every file once: the timed runs find them in the page cache. The runs'
  // git status does not refresh the index, so .git changes by Sidecar's runs alone.
  ok = ok && sh("cd '" + big + "' && git status --porcelain >/dev/null && git status --porcelain >/dev/null") == 0;
  if (!ok) {
    std::fprintf(stderr, "bench_repo_cost: cannot set up %s\n", base.c_str());
    return 1;
  }
  std::printf("set-up: %d committed files + %d MiB untracked generated in %.1f s (%s)\n", o.files, o.big_mb,
              (now_ns() - t0) / 1e9, base.c_str());
  std::printf("creating a file there takes %.0f us (median; set TMPDIR to measure elsewhere)\n",
              sidecar::bench::file_create_us(base));
  std::vector<char*> env;
  std::string no_locks = "GIT_OPTIONAL_LOCKS=0";
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(no_locks.data());
  env.push_back(nullptr);

  const std::string lua = sidecar::bench::execute_lua(agent);
  const std::vector<std::string> bare_cmd = {agent, "exec", "--json", "-"};
  std::vector<Row> rows = {{"run, small git repository", base + "/small", {}, {}, {}},
                           {"run, outside git", base + "/plain", {}, {}, {}}};
  Row big_row{"run, " + std::to_string(o.files) + " files + " + std::to_string(o.big_mb) + " MiB untracked", big,
              {}, {}, {}};
  double big_first = 0;
  const long long git_before = du_bytes(big + "/.git");
  long long git_after_first = 0;
  std::vector<double> prepare_ms, original_ms, python_floor, sidecar_e, lua_e;
  const bool have_lua = run_ms({"lua5.4", "-e", ""}, "") >= 0;
  auto fail = [&](const char* what, int i) {
    std::fprintf(stderr, "bench_repo_cost: %s failed (run %d); folder kept: %s\n", what, i, base.c_str());
    return 1;
  };
  for (int i = 0; i < std::max(o.runs, o.big_runs); ++i) {
    for (Row& r : rows) {
      if (i >= o.runs) break;
      r.bare.push_back(run_ms(bare_cmd, r.folder, environ, prompt));
      r.sidecar.push_back(run_ms({o.sidecar, "-e", lua}, r.folder));
      if (r.bare.back() < 0 || r.sidecar.back() < 0) return fail(r.name.c_str(), i);
    }
    if (i < o.big_runs) {
      double bare = run_ms(bare_cmd, big, environ, prompt), side = run_ms({o.sidecar, "-e", lua}, big);
      double status = run_ms({"git", "status", "--porcelain"}, big, env.data());
      if (bare < 0 || side < 0 || status < 0) return fail("the big repository's run", i);
      if (i == 0) big_first = side, git_after_first = du_bytes(big + "/.git");
      else big_row.sidecar.push_back(side);
      big_row.bare.push_back(bare);
      big_row.status.push_back(status);
    }
    if (i >= o.runs) continue;
    prepare_ms.push_back(run_ms(prepare_args({o.sidecar, "prepare"}, "s-" + std::to_string(i)), prep));
    if (prepare_ms.back() < 0) return fail("sidecar prepare", i);
    if (!o.original.empty()) {
      original_ms.push_back(run_ms(prepare_args({o.python, o.original}, "p-" + std::to_string(i)), prep));
      python_floor.push_back(run_ms({o.python, "-c", "pass"}, ""));
      if (original_ms.back() < 0) return fail("the original prepare_sidecar_task.py", i);
    }
    for (int k = 0; k < 3; ++k) {  // start-up is short and noisy: three pairs per round
      sidecar_e.push_back(run_ms({o.sidecar, "-e", ""}, ""));
      if (have_lua) lua_e.push_back(run_ms({"lua5.4", "-e", ""}, ""));
    }
  }
  const long long git_after = du_bytes(big + "/.git");
  std::vector<double> writing_ms;
  double writing_first = 0;
  long long writing_added = 0;
  if (!writing_runs(o, big, writing_ms, writing_first, writing_added)) return fail("a writing run", 0);
  if (o.keep) std::printf("kept: %s\n", base.c_str());
  else sh("rm -rf '" + base + "'");

  std::printf("\nrepository cost (issue 16): median wall ms, %d runs (big repository: %d, the first apart)\n", o.runs,
              o.big_runs);
  std::printf("  %-44s %9s   %-19s   %7s\n", "case", "sidecar", "reference", "ratio");
  for (const Row& r : rows) print_run_row(r);
  double bare = median(big_row.bare), side = median(big_row.sidecar), status = median(big_row.status);
  double limit = 2 * status + 10;
  std::printf("  %-44s %9.2f   bare agent %8.2f   %6.2fx   overhead %+8.2f ms\n", big_row.name.c_str(), side, bare,
              side / bare, side - bare);
  std::printf("  %-44s %9s   git status %8.2f   %6.2fx   target overhead <= 2 x git status + 10 = %.2f ms: %s\n",
              "", "", status, (side - bare) / status, limit, side - bare <= limit ? "met" : "NOT met");
  std::printf("  %-44s %9.2f\n", "  its first run", big_first);
  std::printf("  %-44s %9.1f MB before; +%.1f MB after the first run, +%.1f MB after all %d (target 0): %s\n",
              "  .git of that repository (du -sb)", git_before / 1e6, (git_after_first - git_before) / 1e6,
              (git_after - git_before) / 1e6, o.big_runs, git_after == git_before ? "met" : "NOT met");
  std::printf("  %-44s %9.2f   git status %8.2f   (its first run %.2f; then each discarded)\n",
              "writing run, the same repository", median(writing_ms), status, writing_first);
  std::printf("  %-44s %+lld bytes after %d writing runs and their discards (target 0: the worktrees' "
              "metadata goes with them): %s\n", "  .git of that repository (du -sb)", writing_added, o.big_runs,
              writing_added <= 0 ? "met" : "NOT met");
  double prep_m = median(prepare_ms);
  if (o.original.empty()) {
    std::printf("  %-44s %9.2f   original script: not measured (give --original path/to/prepare_sidecar_task.py)\n",
                "prepare (precommit-classifier, 2 inputs)", prep_m);
  } else {
    double orig = median(original_ms);
    std::printf("  %-44s %9.2f   original %10.2f   %6.1fx faster, target >= 10x: %s\n",
                "prepare (precommit-classifier, 2 inputs)", prep_m, orig, orig / prep_m,
                orig / prep_m >= 10 ? "met" : "NOT met");
    std::printf("  %-44s %9s   python -c pass %4.2f   (%s)\n", "", "", median(python_floor), o.python.c_str());
  }
  if (have_lua) {
    double s = median(sidecar_e), l = median(lua_e);
    std::printf("  %-44s %9.2f   lua5.4 -e '' %6.2f   %6.2fx   target <= 1.3x: %s\n", "sidecar -e ''", s, l, s / l,
                s <= 1.3 * l ? "met" : "NOT met");
  } else {
    std::printf("  %-44s %9.2f   lua5.4: not installed\n", "sidecar -e ''", median(sidecar_e));
  }
  return 0;
}
