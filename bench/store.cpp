// Run store benchmark: what listing and showing runs cost as the store grows to 100 000 runs.
//
//   bench_store [runs]        (default 100000; --quick = 20000, for smoke tests, not for figures)
//
// One temporary database under /tmp (removed at the end), in the store's default settings (WAL,
// synchronous=NORMAL). It is filled through the public API, create_run, in batches of 1 000 runs
// per transaction, with run records of about 1 KB shaped like docs/formats.md §6, statuses skewed as a
// real history is (mostly completed, few queued). Measured as it grows, at 1 000, 10 000 and the
// full size: get_run of random existing ids, timed call by call (the median is reported). At full
// size: "newest 50 runs with status X" for a common and a rare status, unfiltered, and by task,
// each repeated and the median reported, plus the first call on a newly opened connection (SQLite's
// page cache empty; the OS's warm). Then create_run in its own transaction per run, the cost of
// one recorded run as Sidecar pays it. Last, what revisions add: the look for pending copies on
// every open, and the transaction clearing a write's mark.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/run_store.hpp"

using namespace sidecar::host;

#include "bench_folder.hpp"
#include "bench_stats.hpp"

namespace {

using sidecar::bench::median;

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

[[noreturn]] void die(const std::string& what, const StoreError& error) {
  std::fprintf(stderr, "bench_store: %s: %s (%s)\n", what.c_str(), error.message.c_str(), error.code.c_str());
  std::exit(1);
}

// Skewed like a real history: mostly completed, some failed, few in flight.
const char* status_for(std::mt19937& rng) {
  int r = static_cast<int>(rng() % 100);
  if (r < 70) return "completed";
  if (r < 85) return "failed";
  if (r < 92) return "review";
  if (r < 97) return "blocked";
  if (r < 99) return "running";
  return "queued";
}

// A run record of about 1 KB, keys sorted as the stdlib writes them.
std::string record_for(const std::string& id, const RunFields& f, int n) {
  std::string num = std::to_string(n);
  return R"({"agent_role":"implementer","blockers":[],"branch":"sidecar/)" + f.task_id +
         R"(","changed_files":["src/parser.cpp","src/parser.hpp","tests/parser_test.cpp"],)"
         R"("commands_run":["cmake --build build","ctest --output-on-failure"],"completed_at":")" + f.completed_at +
         R"(","follow_ups":[],"parent_run_id":null,"pipeline_id":null,"prompt_path":"prompts/)" + id +
         R"(.md","review_state":"pending","run_id":")" + id + R"(","runner_type":")" + f.runner_type +
         R"(","started_at":")" + f.created_at + R"(","status":")" + f.status +
         R"(","summary":"Run )" + num +
         R"(: fixed the tokenizer's handling of escaped quotes and added tests for the edge cases found.",)"
         R"("task_id":")" + f.task_id +
         R"(","validation":[{"command":"cmake --build build","duration_ms":41234,"exit_code":0,"kind":"build",)"
         R"("ok":true,"output_snippet":"[100%] Built target parser","timed_out":false,"timeout_ms":600000},)"
         R"({"command":"ctest --output-on-failure","duration_ms":9120,"exit_code":0,"kind":"test","ok":true,)"
         R"("output_snippet":"100% tests passed, 0 tests failed out of 212","timed_out":false,"timeout_ms":600000}],)"
         R"("worktree":".agent/worktrees/)" + id + R"("})";
}

struct Filler {
  RunStore& store;
  std::mt19937 rng{12345};
  int count = 0;
  double fill_ms = 0;
  std::size_t record_bytes = 0;

  void fill_to(int target, int batch) {
    StoreError error;
    auto t0 = Clock::now();
    while (count < target) {
      if (!store.begin_batch(error)) die("begin_batch", error);
      int end = std::min(target, count + batch);
      for (; count < end; ++count) {
        RunFields f;
        f.status = status_for(rng);
        f.task_id = format_id(RecordKind::Task, 1 + count / 8);  // about 8 runs per task
        f.runner_type = count % 3 ? "codex" : "claude";
        f.created_at = "2025-06-01T12:00:00Z";
        f.completed_at = "2025-06-01T12:10:00Z";
        int n = count + 1;
        auto id = store.create_run(f, [&](const std::string& id) {
          std::string r = record_for(id, f, n);
          record_bytes += r.size();
          return r;
        }, error);
        if (!id) die("create_run", error);
      }
      if (!store.commit_batch(error)) die("commit_batch", error);
    }
    fill_ms += ms_since(t0);
  }
};

// get_run of `calls` random existing ids, each timed alone; median and p99 in microseconds.
std::pair<double, double> time_get_run(RunStore& store, int size, int calls, std::mt19937& rng) {
  StoreError error;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(calls));
  std::size_t bytes = 0;
  for (int i = 0; i < calls; ++i) {
    std::string id = format_id(RecordKind::Run, 1 + static_cast<std::int64_t>(rng() % static_cast<unsigned>(size)));
    auto t0 = Clock::now();
    auto run = store.get_run(id, error);
    us.push_back(ms_since(t0) * 1000);
    if (!run) die("get_run " + id, error);
    bytes += run->record_json.size();
  }
  if (bytes == 0) std::abort();
  return {median(us), percentile(us, 0.99)};
}

// list_runs(query) repeated; median in milliseconds; checks it returned `expect` rows.
double time_list(RunStore& store, const RunQuery& q, int reps, std::size_t expect) {
  StoreError error;
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    auto runs = store.list_runs(q, error);
    ms.push_back(ms_since(t0));
    if (!runs) die("list_runs", error);
    if (runs->size() != expect) {
      std::fprintf(stderr, "bench_store: list_runs returned %zu runs, expected %zu\n", runs->size(), expect);
      std::exit(1);
    }
  }
  return median(ms);
}

std::uintmax_t file_bytes(const std::string& path) {
  std::error_code ec;
  std::uintmax_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::uintmax_t n = std::filesystem::file_size(path + suffix, ec);
    if (!ec) total += n;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  int total = 100000;
  if (argc > 1) total = std::strcmp(argv[1], "--quick") == 0 ? 20000 : std::atoi(argv[1]);
  if (total < 10000) total = 10000;
  const std::string dir = sidecar::bench::temp_folder("sidecar-bench-store"), path = dir + "/sidecar.db";
  if (dir.empty()) {
    std::perror("bench_store: cannot make a folder in $TMPDIR or /tmp");
    return 1;
  }
  bool all_met = true;
  {
    RunStore store;
    StoreError error;
    if (!store.open(path, error)) die("open", error);
    Filler filler{store};
    std::mt19937 rng(777);
    const int kCalls = 5000, kReps = 200, kBatch = 1000;

    std::printf("bench_store: %s (WAL, synchronous=NORMAL), %d runs\n", path.c_str(), total);
    std::printf("1. get_run of random existing ids as the store grows: median (p99) per call, %d calls each\n", kCalls);
    std::vector<std::pair<int, double>> medians;
    for (int size : {1000, 10000, total}) {
      filler.fill_to(size, kBatch);
      auto [med, p99] = time_get_run(store, size, kCalls, rng);
      medians.push_back({size, med});
      std::printf("   %7d runs: %7.1f us  (p99 %7.1f us)\n", size, med, p99);
    }
    std::printf("   fill: %d runs via create_run in transactions of %d: %.2f s (%.0f runs/s), records %.2f KB on"
                " average, database %.0f MB\n",
                filler.count, kBatch, filler.fill_ms / 1000, filler.count / (filler.fill_ms / 1000),
                filler.record_bytes / 1024.0 / filler.count, file_bytes(path) / 1e6);
    double worst = 0;
    for (auto& m : medians) worst = std::max(worst, m.second);
    double ratio = medians.back().second / medians.front().second;
    bool abs_met = worst <= 1000, flat_met = ratio <= 2.0;
    all_met = all_met && abs_met && flat_met;
    std::printf("   target: median <= 1 ms at every size: %s; %d/%d runs ratio %.2fx (target <= 2x: size does not"
                " matter): %s\n",
                abs_met ? "met" : "NOT met", total, medians.front().first, ratio, flat_met ? "met" : "NOT met");

    std::printf("2. list_runs at %d runs, median of %d calls (ms)\n", total, kReps);
    struct Case {
      const char* name;
      RunQuery q;
      bool targeted;
    };
    std::vector<Case> cases;
    RunQuery q;
    q.limit = 50;
    q.status = "failed";
    cases.push_back({"newest 50, status=failed (15% of runs)", q, true});
    q.status = "queued";
    cases.push_back({"newest 50, status=queued (1% of runs)", q, true});
    q.status.clear();
    cases.push_back({"newest 50, any status", q, false});
    q.task_id = format_id(RecordKind::Task, total / 16);
    q.limit = 0;
    cases.push_back({"all runs of one task (8)", q, false});
    for (const Case& c : cases) {
      std::size_t expect = c.q.task_id.empty() ? 50 : 8;
      double med = time_list(store, c.q, kReps, expect);
      if (c.targeted) {
        bool met = med <= 50;
        all_met = all_met && met;
        std::printf("   %-42s %8.3f  (target <= 50 ms) %s\n", c.name, med, met ? "met" : "NOT met");
      } else {
        std::printf("   %-42s %8.3f\n", c.name, med);
      }
    }
    {
      RunStore fresh;
      if (!fresh.open(path, error)) die("reopen", error);
      RunQuery failed;
      failed.status = "failed";
      auto t0 = Clock::now();
      auto runs = fresh.list_runs(failed, error);
      double first = ms_since(t0);
      if (!runs) die("list_runs", error);
      std::printf("   %-42s %8.3f  (one call: new connection, statement not yet prepared)\n",
                  "first call, status=failed", first);
    }

    std::printf("3. create_run, one BEGIN IMMEDIATE transaction per run (record built inside), at %d runs\n", total);
    std::vector<double> us;
    StoreError e;
    for (int i = 0; i < 1000; ++i) {
      RunFields f;
      f.status = "queued";
      f.task_id = "T-0001";
      f.runner_type = "codex";
      auto t0 = Clock::now();
      auto id = store.create_run(f, [&](const std::string& id) { return record_for(id, f, i); }, e);
      us.push_back(ms_since(t0) * 1000);
      if (!id) die("create_run", e);
    }
    std::printf("   median %.1f us, p99 %.1f us per run (no fsync: synchronous=NORMAL)\n", median(us),
                percentile(us, 0.99));

    // What revisions add to every command and every write (run_store.hpp): the look for copies a
    // crash left owing when a store opens, and the transaction that clears a write's mark once
    // its copy is on disk. On a store of its own, whose marks are all cleared.
    std::printf("4. revisions: open + pending_copies with nothing owed, and copy_written per write\n");
    const std::string small = dir + "/small.db";
    {
      RunStore s;
      if (!s.open(small, e)) die("open small", e);
      std::vector<double> clear_us;
      for (int i = 0; i < 1000; ++i) {
        RunFields f;
        f.status = "completed";
        auto id = s.create_run(f, [&](const std::string& id) { return record_for(id, f, i); }, e);
        if (!id) die("create_run", e);
        auto t0 = Clock::now();
        if (!s.copy_written(RecordKind::Run, *id, 1, 1, e)) die("copy_written", e);
        clear_us.push_back(ms_since(t0) * 1000);
      }
      std::printf("   copy_written: median %.1f us, p99 %.1f us per write\n", median(clear_us),
                  percentile(clear_us, 0.99));
    }
    std::vector<double> open_us, look_us;
    for (int i = 0; i < kReps; ++i) {
      RunStore s;
      auto t0 = Clock::now();
      if (!s.open(small, e)) die("reopen small", e);
      auto t1 = Clock::now();
      auto pending = s.pending_copies(e);
      if (!pending || !pending->empty()) die("pending_copies", e);
      open_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      look_us.push_back(ms_since(t1) * 1000);
    }
    std::printf("   open: median %.1f us; pending_copies on it: median %.1f us (p99 %.1f us), %.1f%% of the open\n",
                median(open_us), median(look_us), percentile(look_us, 0.99),
                100 * median(look_us) / median(open_us));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::printf("all targets %s\n", all_met ? "met" : "NOT met");
  return 0;
}
