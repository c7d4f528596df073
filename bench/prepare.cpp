// `sidecar prepare` benchmark: the precommit-classifier preset with two --input commands on a
// small git repository (a commit and one changed file), whole process from spawn to exit, beside
// `python3 -c pass` (the floor of the original Python tool, which took about 145 ms for this) and
// each input command run alone: the target (issue 40) is the slowest of them + 5 ms.
//
//   bench_prepare path/to/sidecar [runs] [--breakdown]
//
// --breakdown also times, in the same loop, the parts prepare is made of, each as a whole
// process: the start-up, loading its modules, each child alone, the wave of children as
// git.facts runs it, the writes, and the cost of creating files beside the repository (ext4
// without a journal skips inodes freed in the last minutes, so right after a large rm -rf this
// can cost more than all the rest). The breakdown writes into a folder beside the repository,
// never into it, so the prepare runs see the same repository either way. The headline stays
// the whole `sidecar prepare` run.
#include <fcntl.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <climits>
#include <cstdlib>
#include <ctime>
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

// Creating (and closing) 11 empty files in a new folder under `parent`, as prepare creates nine
// files and two folders: the file system's share, with nothing of Sidecar in it.
double create_files_ms(const std::string& parent, int i) {
  const std::string dir = parent + "/.bench-create-" + std::to_string(i);
  long long t0 = now_ns();
  if (mkdir(dir.c_str(), 0755) != 0) return -1;
  for (int k = 0; k < 11; ++k) {
    int fd = open((dir + "/f" + std::to_string(k)).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    close(fd);
  }
  return (now_ns() - t0) / 1e6;
}

// One part of the breakdown: its label, and the median of its runs.
struct Part {
  std::string label;
  std::vector<double> ms;
};

// The Lua of the breakdown's sidecar runs. The wave is git.facts (libgit2, its load included)
// with the two input commands, as prepare runs it; the writes are the task folder of one prepare (nine files, the inputs/
// folder, every fsync), through the same artifact calls.
const char* kWave =
    "require('sidecar.core.git').facts('.', {{cmd = {'git', 'status', '--short'}}, {cmd = {'git', 'diff'}}})";
std::string write_lua(const std::string& scratch, int i) {
  return "local root = assert(require('sidecar.core.artifact').open('" + scratch + "/writes', {create = true}))\n"
         "local id = 'w-" + std::to_string(i) + "'\n"
         "assert(root:create_dir(id))\n"
         "local files = {}\n"
         "for k, size in ipairs({909, 492, 0, 88, 170, 456, 659}) do\n"
         "  files[#files + 1] = {id .. '/f' .. k .. '.md', ('x'):rep(size)}\n"
         "end\n"
         "files[#files + 1] = {id .. '/inputs/01.txt', ('x'):rep(24)}\n"
         "files[#files + 1] = {id .. '/inputs/02.txt', ('x'):rep(125)}\n"
         "assert(root:write_all(files))\n";
}

}  // namespace

int main(int argc, char** argv) {
  bool breakdown = false;
  std::vector<char*> args;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--breakdown") breakdown = true; else args.push_back(argv[i]);
  }
  if (args.empty()) {
    std::fprintf(stderr, "usage: bench_prepare path/to/sidecar [runs] [--breakdown]\n");
    return 2;
  }
  argc = static_cast<int>(args.size()) + 1;
  args.insert(args.begin(), argv[0]);
  argv = args.data();
  char resolved[4096];
  if (!realpath(argv[1], resolved)) {
    std::fprintf(stderr, "bench_prepare: no such file: %s\n", argv[1]);
    return 2;
  }
  const std::string sidecar = resolved;  // it runs in the test repository
  const int runs = argc > 2 ? std::atoi(argv[2]) : 31;
  const std::string repo = sidecar::bench::temp_folder("bench_prepare");
  if (repo.empty()) {
    std::fprintf(stderr, "bench_prepare: cannot make a folder in $TMPDIR or /tmp\n");
    return 1;
  }
  if (sh("cd " + repo + " && git init -q -b main && printf '# Demo\\n' > README.md && mkdir src && "
         "printf 'int main() {}\\n' > src/main.c && git add . && git -c user.name=b -c user.email=b@b "
         "commit -qm init && printf 'more\\n' >> README.md") != 0) {
    std::fprintf(stderr, "bench_prepare: cannot make the test repository in %s\n", repo.c_str());
    return 1;
  }
  std::vector<double> prepare, python_path, python_deb, input_status, input_diff;
  std::vector<Part> parts;
  const std::string scratch = repo + ".scratch";  // beside the repository, never in it
  if (mkdir(scratch.c_str(), 0755) != 0) {
    std::fprintf(stderr, "bench_prepare: cannot make %s\n", scratch.c_str());
    return 1;
  }
  // The file system's state before the runs: creating files is what prepare cannot avoid.
  std::vector<double> before;
  for (int i = 0; i < 3; ++i) before.push_back(create_files_ms(scratch, -1 - i));
  // The git rows of the breakdown are what the facts were before libgit2 (git processes), for
  // comparison; they take no optional locks, as git.facts takes none.
  std::string locks = "GIT_OPTIONAL_LOCKS=0";
  std::vector<char*> locks_off;
  for (char** e = environ; *e; ++e) locks_off.push_back(*e);
  locks_off.push_back(locks.data());
  locks_off.push_back(nullptr);
  for (int i = 0; i < runs; ++i) {
    // Alternate the programs so drift on a shared machine hits all alike.
    double p = run_ms({sidecar, "prepare", "--repo", ".", "--task-id", "bench-" + std::to_string(i), "--title",
                       "Precommit classifier", "--phase", "maintenance", "--task-type", "audit", "--preset",
                       "precommit-classifier", "--input", "git status --short", "--input", "git diff"},
                      repo);
    if (p < 0) {
      std::fprintf(stderr, "bench_prepare: sidecar prepare failed (run %d)\n", i);
      return 1;
    }
    prepare.push_back(p);
    input_status.push_back(run_ms({"git", "status", "--short"}, repo));
    input_diff.push_back(run_ms({"git", "diff"}, repo));
    python_path.push_back(run_ms({"python3", "-c", "pass"}, ""));
    python_deb.push_back(run_ms({"/usr/bin/python3", "-c", "pass"}, ""));
    if (breakdown) {
      std::size_t k = 0;
      auto add = [&](const std::string& label, double ms) {
        if (parts.size() <= k) parts.push_back({label, {}});
        if (ms >= 0) parts[k].ms.push_back(ms);
        ++k;
      };
      add("/bin/true (fork + exec + exit floor)", run_ms({"/bin/true"}, repo));
      add("sidecar -e '' (start-up and exit)", run_ms({sidecar, "-e", ""}, repo));
      add("sidecar -e 'require(\"sidecar.task.prepared\")' (+ its modules)", run_ms({sidecar, "-e", "require('sidecar.task.prepared')"}, repo));
      add("  git -C . status --short --branch", run_ms({"git", "-C", ".", "status", "--short", "--branch"}, repo, locks_off.data()));
      add("  git -C . rev-parse --verify --quiet HEAD", run_ms({"git", "-C", ".", "rev-parse", "--verify", "--quiet", "HEAD"}, repo, locks_off.data()));
      add("  git status --short", run_ms({"git", "status", "--short"}, repo));
      add("  git diff", run_ms({"git", "diff"}, repo));
      add("sidecar -e: git.facts + the 2 inputs in one wave", run_ms({sidecar, "-e", kWave}, repo));
      add("sidecar -e: write a task folder (9 files, all fsyncs)", run_ms({sidecar, "-e", write_lua(scratch, i)}, repo));
      add("create 11 empty files beside the repository (no Sidecar)", create_files_ms(scratch, i));
    }
  }
  sh("rm -rf " + repo + " " + scratch);
  double m = median(prepare), py = median(python_path), deb = median(python_deb);
  const double slowest = std::max(median(input_status), median(input_diff)), target = slowest + 5;
  std::printf("sidecar prepare (precommit-classifier, 2 --input commands), %d runs, median wall ms\n", runs);
  std::printf("  sidecar prepare                      %8.2f ms   target <= %.2f ms (slowest input + 5): %s\n", m,
              target, m <= target ? "met" : "NOT met");
  std::printf("  its inputs alone: git status --short %.2f ms, git diff %.2f ms; prepare - slowest %+.2f ms\n",
              median(input_status), median(input_diff), m - slowest);
  std::printf("  python3 -c pass (PATH)               %8.2f ms   ratio prepare / python3 %.2fx\n", py, m / py);
  std::printf("  /usr/bin/python3 -c pass             %8.2f ms   ratio prepare / python3 %.2fx\n", deb, m / deb);
  std::printf("  original Python tool (reported)        ~145 ms   ratio %.1fx faster\n", 145.0 / m);
  std::printf("  (prepare reads HEAD, the branch and the status in-process, with libgit2 loaded on a thread as it\n"
              "   starts, runs the two input commands side by side, then writes nine files and two folders)\n");
  std::printf("  file system: 11 empty files beside the repository took %.2f ms before the runs (about 0.2 ms\n"
              "   unless many inodes were freed there in the last minutes: ext4 without a journal skips them)\n",
              median(before));
  if (breakdown) {
    std::printf("breakdown, each a whole process in the same loop, median wall ms\n");
    for (const Part& part : parts) {
      std::printf("  %-58s %8.2f ms  (%zu runs)\n", part.label.c_str(), median(part.ms), part.ms.size());
    }
    // The sidecar rows are whole processes: less the start-up (and modules) they include.
    std::printf("  => start-up and exit %.2f, modules %.2f, the wave %.2f, the writes %.2f ms\n", median(parts[1].ms),
                median(parts[2].ms) - median(parts[1].ms), median(parts[7].ms) - median(parts[2].ms),
                median(parts[8].ms) - median(parts[1].ms));
  }
  return 0;
}
