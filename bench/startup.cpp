// Start-up benchmark: median wall time from process start to the first Lua line executed, beside
// `python3 -c pass` and `lua5.4 -e ''` measured in the same run.
//
//   bench_startup path/to/sidecar [runs]
//
// "First line" is measured exactly: the parent reads CLOCK_MONOTONIC just before fork, and the
// child's first Lua line prints CLOCK_MONOTONIC (system-wide on Linux). Whole runs (fork to exit)
// are timed for every program, so the comparison with python3 is like for like.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Runs argv to completion with stdout captured; returns the wall time in ns (-1 on failure).
long long run(const std::vector<std::string>& argv, std::string* out, long long* start) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  long long t0 = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  long long t1 = now_ns();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  if (out) *out = text;
  if (start) *start = t0;
  return t1 - t0;
}

double median_ms(std::vector<long long> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2] / 1e6;
}

// Median whole-run time of argv, or -1 when it cannot run.
double whole_run(const std::vector<std::string>& argv, int runs) {
  std::vector<long long> t;
  for (int i = 0; i < runs; ++i) {
    long long ns = run(argv, nullptr, nullptr);
    if (ns < 0) return -1;
    t.push_back(ns);
  }
  return median_ms(t);
}

std::string python_path() {
  // The interpreter itself, not a version manager's shell shim in front of it.
  std::string out;
  if (run({"python3", "-c", "import sys; print(sys.executable)"}, &out, nullptr) < 0) return "";
  out.erase(out.find_last_not_of("\n") + 1);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_startup path/to/sidecar [runs]\n");
    return 2;
  }
  const std::string sidecar = argv[1];
  const int runs = argc > 2 ? std::max(3, std::atoi(argv[2])) : 51;

  // Warm the page cache so the first samples do not measure the disk.
  for (int i = 0; i < 3; ++i) run({sidecar, "-e", ""}, nullptr, nullptr);

  std::vector<long long> first_line;
  for (int i = 0; i < runs; ++i) {
    std::string out;
    long long start = 0;
    if (run({sidecar, "-e", "io.write(require('sidecar.host.time').monotonic_ns())"}, &out, &start) < 0) {
      std::fprintf(stderr, "bench_startup: %s failed to run\n", sidecar.c_str());
      return 1;
    }
    first_line.push_back(std::atoll(out.c_str()) - start);
  }
  double sidecar_first = median_ms(first_line);
  double sidecar_whole = whole_run({sidecar, "-e", ""}, runs);

  std::printf("start-up, median of %d runs (ms)\n", runs);
  std::printf("  %-34s %8.3f\n", "sidecar: start -> first Lua line", sidecar_first);
  std::printf("  %-34s %8.3f\n", "sidecar -e '' (whole run)", sidecar_whole);

  // Every python3 there is: the one on PATH (here possibly a version manager's build) and the
  // distribution's, which can differ several-fold in start-up.
  std::vector<std::string> pythons;
  for (const std::string& p : {python_path(), std::string("/usr/bin/python3")})
    if (!p.empty() && access(p.c_str(), X_OK) == 0 && std::find(pythons.begin(), pythons.end(), p) == pythons.end())
      pythons.push_back(p);
  std::vector<double> python_ms;
  for (const std::string& p : pythons) {
    python_ms.push_back(whole_run({p, "-c", "pass"}, runs));
    std::printf("  %-34s %8.3f   (%s)\n", "python3 -c pass (whole run)", python_ms.back(), p.c_str());
  }
  if (pythons.empty()) std::printf("  python3 not found\n");
  double lua = whole_run({"lua5.4", "-e", ""}, runs);
  if (lua > 0) std::printf("  %-34s %8.3f\n", "lua5.4 -e '' (whole run)", lua);
  else std::printf("  lua5.4 not installed\n");
  double floor = whole_run({"/bin/true"}, runs);
  std::printf("  %-34s %8.3f   (fork + exec + exit floor)\n", "/bin/true (whole run)", floor);

  std::printf("ratios\n");
  for (std::size_t i = 0; i < pythons.size(); ++i) {
    if (python_ms[i] <= 0) continue;
    std::printf("  python3 / sidecar first line   %6.1fx  (target >= 20x)  %s\n", python_ms[i] / sidecar_first,
                pythons[i].c_str());
    std::printf("  python3 / sidecar whole run    %6.1fx                   %s\n", python_ms[i] / sidecar_whole,
                pythons[i].c_str());
  }
  if (lua > 0) std::printf("  sidecar whole run / lua5.4 whole run  %6.2fx\n", sidecar_whole / lua);
  std::printf("target: first Lua line <= 5 ms: %s\n", sidecar_first <= 5.0 ? "met" : "NOT met");
  return 0;
}
