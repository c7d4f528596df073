#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/run_store.hpp"
#include "temp_dir.hpp"

using sidecar::host::format_id;
using sidecar::host::parse_id;
using sidecar::host::RecordKind;
using sidecar::host::RecordMatch;
using sidecar::host::RunFields;
using sidecar::host::RunQuery;
using sidecar::host::RunStore;
using sidecar::host::StoreError;
using sidecar::host::TaskFields;
using sidecar::host::TaskQuery;
using sidecar::host::ValidationResult;

using TempDir = sidecar::test::TempDir;

namespace {


RunStore open_store(const std::string& path) {
  RunStore store;
  StoreError error;
  bool ok = store.open(path, error);
  INFO(error.message);
  REQUIRE(ok);
  return store;
}

std::string create_run(RunStore& store, const std::string& status = "completed", const std::string& task = "T-0001") {
  StoreError error;
  RunFields fields;
  fields.task_id = task;
  fields.status = status;
  fields.runner_type = "codex";
  auto id = store.create_run(fields, R"({"status":")" + status + R"("})", error);
  INFO(error.message);
  REQUIRE(id);
  return *id;
}

// Sets the schema version behind the store's back, as a newer Sidecar would have.
void set_user_version(const std::string& path, int version) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  std::string sql = "PRAGMA user_version = " + std::to_string(version);
  CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

// Reads whitespace-separated words from `fd` until EOF.
std::vector<std::string> read_words(int fd) {
  std::string all;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) all.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  std::vector<std::string> words;
  std::size_t start = 0;
  while ((start = all.find_first_not_of(" \n", start)) != std::string::npos) {
    std::size_t end = all.find_first_of(" \n", start);
    if (end == std::string::npos) end = all.size();
    words.push_back(all.substr(start, end - start));
    start = end;
  }
  return words;
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

TEST_CASE("store: a new database gets the schema, and reopening keeps the data", "[store]") {
  TempDir dir;
  std::string id;
  {
    RunStore store = open_store(dir.db());
    CHECK(store.is_open());
    CHECK(store.schema_version() == RunStore::kSchemaVersion);
    StoreError error;
    auto ok = store.integrity_check(error);
    REQUIRE(ok);
    CHECK(*ok == "ok");
    id = create_run(store);
  }
  // The version is in the file, and the file is in WAL mode.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == RunStore::kSchemaVersion);
  sqlite3_finalize(st);
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);

  RunStore again = open_store(dir.db());
  StoreError error;
  auto run = again.get_run(id, error);
  REQUIRE(run);
  CHECK(run->record_json == R"({"status":"completed","revision":1})");
  CHECK(run->revision == 1);
  CHECK(run->fields.runner_type == "codex");
  CHECK(create_run(again) == "R-0002");

  // The fsync-per-commit setting opens the same store.
  RunStore durable;
  sidecar::host::StoreOptions options;
  options.durable_fsync = true;
  REQUIRE(durable.open(dir.db(), error, options));
  CHECK(create_run(durable) == "R-0003");
}

TEST_CASE("store: opening fails clearly", "[store]") {
  TempDir dir;
  StoreError error;
  RunStore store;

  SECTION("on a database newer than the code") {
    open_store(dir.db());
    set_user_version(dir.db(), RunStore::kSchemaVersion + 1);
    CHECK_FALSE(store.open(dir.db(), error));
    CHECK(error.code == "ESCHEMA");
    CHECK(error.message.find("schema version " + std::to_string(RunStore::kSchemaVersion + 1)) != std::string::npos);
    CHECK(error.message.find("newer than this Sidecar knows") != std::string::npos);
    CHECK_FALSE(store.is_open());
  }
  SECTION("when the folder is missing (it is not created)") {
    std::string path = dir.path + "/no-such/sidecar.db";
    CHECK_FALSE(store.open(path, error));
    CHECK(error.code == "ENOENT");
    CHECK(error.message.find("folder " + dir.path + "/no-such does not exist") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path + "/no-such"));
  }
  SECTION("on a file that is not a database") {
    std::ofstream(dir.db()) << "these are not the bytes you are looking for, not at all, not even close\n";
    CHECK_FALSE(store.open(dir.db(), error));
    CHECK(error.code == "ENOTDB");
    CHECK(error.message.find("not an SQLite database") != std::string::npos);
  }
  SECTION("on another program's SQLite database, which is left alone") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE notes (body TEXT)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_FALSE(store.open(dir.db(), error));
    CHECK(error.code == "ESCHEMA");
    CHECK(error.message.find("another program") != std::string::npos);
  }
  SECTION("and a closed store says so") {
    CHECK_FALSE(store.get_run("R-0001", error));
    CHECK(error.code == "EBADF");
  }
}

TEST_CASE("store: ids are T-0001, R-0001, ... and grow past 9999", "[store]") {
  CHECK(format_id(RecordKind::Task, 1) == "T-0001");
  CHECK(format_id(RecordKind::Run, 42) == "R-0042");
  CHECK(format_id(RecordKind::Run, 9999) == "R-9999");
  CHECK(format_id(RecordKind::Task, 10000) == "T-10000");
  CHECK(parse_id(RecordKind::Run, "R-0042") == 42);
  CHECK(parse_id(RecordKind::Run, "R-001") == 1);
  CHECK(parse_id(RecordKind::Run, "R-10000") == 10000);
  CHECK_FALSE(parse_id(RecordKind::Run, "T-0001"));
  CHECK_FALSE(parse_id(RecordKind::Run, "R-"));
  CHECK_FALSE(parse_id(RecordKind::Run, "R-0000"));
  CHECK_FALSE(parse_id(RecordKind::Run, "R-12a"));
  CHECK_FALSE(parse_id(RecordKind::Run, "R-1234567890123456789"));

  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  TaskFields task;
  task.title = "first";
  CHECK(store.create_task(task, "{}", error) == "T-0001");
  CHECK(store.create_task(task, "{}", error) == "T-0002");
  CHECK(create_run(store) == "R-0001");
  CHECK(create_run(store) == "R-0002");
  CHECK(store.counter(RecordKind::Task, error) == 2);
  CHECK(store.counter(RecordKind::Run, error) == 2);

  // Past 9999 (the counter raised by an import, as a rebuild would).
  REQUIRE(store.import_record(RecordKind::Task, "T-9998", "{}", error));
  CHECK(store.create_task(task, "{}", error) == "T-9999");
  CHECK(store.create_task(task, "{}", error) == "T-10000");
  REQUIRE(store.import_record(RecordKind::Run, "R-9999", "{}", error));
  CHECK(create_run(store) == "R-10000");
  CHECK(create_run(store) == "R-10001");
  // Newest first is by number, not by text ("R-9999" > "R-10001" as text).
  RunQuery q;
  q.limit = 3;
  auto runs = store.list_runs(q, error);
  REQUIRE(runs);
  REQUIRE(runs->size() == 3);
  CHECK((*runs)[0].run_id == "R-10001");
  CHECK((*runs)[1].run_id == "R-10000");
  CHECK((*runs)[2].run_id == "R-9999");

  // A record made inside the transaction knows its own id.
  auto id = store.create_run(RunFields{}, [](const std::string& id) { return R"({"run_id":")" + id + R"("})"; },
                             error);
  REQUIRE(id);
  CHECK(store.get_run(*id, error)->record_json == R"({"run_id":"R-10002","revision":1})");
}

TEST_CASE("store: 8 processes recording 100 runs each at once lose nothing", "[store]") {
  TempDir dir;
  constexpr int kProcs = 8, kRuns = 100;
  // No process opens the store before the children do: they race to create it as well.
  std::vector<pid_t> pids;
  std::vector<int> fds;
  for (int p = 0; p < kProcs; ++p) {
    int fd[2];
    REQUIRE(pipe(fd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fd[0]);
      RunStore store;
      StoreError error;
      if (!store.open(dir.db(), error)) {
        write_all(fd[1], "open-failed:" + error.code + "\n");
        _exit(1);
      }
      for (int i = 0; i < kRuns; ++i) {
        RunFields fields;
        fields.task_id = "T-000" + std::to_string(p);
        fields.status = i % 2 ? "completed" : "failed";
        auto id = store.create_run(fields, R"({"writer":)" + std::to_string(p) + "}", error);
        if (!id) {
          write_all(fd[1], "create-failed:" + error.code + "\n");
          _exit(2);
        }
        write_all(fd[1], *id + "\n");
      }
      store.close();
      _exit(0);
    }
    close(fd[1]);
    pids.push_back(pid);
    fds.push_back(fd[0]);
  }
  std::multiset<std::string> reported;
  for (int p = 0; p < kProcs; ++p) {
    for (const std::string& w : read_words(fds[p])) reported.insert(w);
    close(fds[p]);
    int status = 0;
    REQUIRE(waitpid(pids[p], &status, 0) == pids[p]);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::set<std::string> unique(reported.begin(), reported.end());
  CHECK(reported.size() == kProcs * kRuns);
  CHECK(unique.size() == kProcs * kRuns);

  RunStore store = open_store(dir.db());
  StoreError error;
  RunQuery all;
  all.limit = 0;
  auto runs = store.list_runs(all, error);
  REQUIRE(runs);
  std::set<std::string> stored;
  for (const auto& r : *runs) stored.insert(r.run_id);
  CHECK(runs->size() == kProcs * kRuns);
  CHECK(stored == unique);
  CHECK(store.counter(RecordKind::Run, error) == kProcs * kRuns);
  // No gaps: R-0001 .. R-0800.
  std::set<std::string> expected;
  for (int i = 1; i <= kProcs * kRuns; ++i) expected.insert(format_id(RecordKind::Run, i));
  CHECK(stored == expected);
  CHECK(store.integrity_check(error) == std::string("ok"));
}

TEST_CASE("store: writers killed mid-way lose no committed run", "[store]") {
  TempDir dir;
  open_store(dir.db()).close();
  std::set<std::string> committed;
  std::size_t unreported_max = 0;  // runs a child may have committed but not yet reported
  // Three writers in turn, each SIGKILLed after a different number of commits; each later one
  // starts on the store its predecessor left (recovering its write-ahead log).
  for (int stop_after : {100, 150, 250}) {
    int fd[2];
    REQUIRE(pipe(fd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fd[0]);
      RunStore store;
      StoreError error;
      if (!store.open(dir.db(), error)) _exit(1);
      // Records spanning pages, so a kill often lands inside a transaction's writes.
      const std::string padding(8192, 'x');
      for (;;) {
        RunFields fields;
        fields.status = "running";
        auto id = store.create_run(fields, R"({"pad":")" + padding + R"("})", error);
        if (!id) _exit(2);
        write_all(fd[1], *id + "\n");  // only once the commit has returned
      }
    }
    close(fd[1]);
    std::string seen;
    char buf[256];
    while (std::count(seen.begin(), seen.end(), '\n') < stop_after) {
      ssize_t n = read(fd[0], buf, sizeof buf);
      REQUIRE(n > 0);
      seen.append(buf, static_cast<std::size_t>(n));
    }
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    // What it reported before it died (the rest of a line split by a read included).
    std::vector<std::string> ids = read_words(fd[0]);
    close(fd[0]);
    std::size_t start = 0;
    for (std::size_t nl; (nl = seen.find('\n', start)) != std::string::npos; start = nl + 1) {
      committed.insert(seen.substr(start, nl - start));
    }
    if (start < seen.size()) {
      REQUIRE_FALSE(ids.empty());
      ids.front() = seen.substr(start) + ids.front();
    }
    committed.insert(ids.begin(), ids.end());
    ++unreported_max;

    RunStore store = open_store(dir.db());
    StoreError error;
    CHECK(store.integrity_check(error) == std::string("ok"));
    for (const std::string& id : committed) {
      INFO(id);
      CHECK(store.get_run(id, error));
    }
    auto count = store.counter(RecordKind::Run, error);
    REQUIRE(count);
    CHECK(*count >= static_cast<std::int64_t>(committed.size()));
    CHECK(*count <= static_cast<std::int64_t>(committed.size() + unreported_max));
  }
  CHECK(committed.size() >= 500);
  RunStore store = open_store(dir.db());
  StoreError error;
  auto count = store.counter(RecordKind::Run, error);
  REQUIRE(count);
  CHECK(create_run(store) == format_id(RecordKind::Run, *count + 1));
}

TEST_CASE("store: a writer waits for another, and past the busy timeout fails with EBUSY", "[store]") {
  TempDir dir;
  RunStore holder = open_store(dir.db());
  RunStore waiter;
  StoreError error;
  sidecar::host::StoreOptions options;
  options.busy_timeout_ms = 200;
  REQUIRE(waiter.open(dir.db(), error, options));
  std::string id = create_run(holder);

  REQUIRE(holder.begin_batch(error));  // holds the write lock
  create_run(holder);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(waiter.create_run(RunFields{}, "{}", error));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(error.code == "EBUSY");
  CHECK(error.message.find("more than 200 ms") != std::string::npos);
  CHECK(waited >= std::chrono::milliseconds(150));
  // Readers are not blocked by the writer (WAL), and see only what was committed.
  CHECK(waiter.get_run(id, error));
  CHECK_FALSE(waiter.get_run("R-0002", error));
  REQUIRE(holder.commit_batch(error));
  CHECK(waiter.create_run(RunFields{}, "{}", error) == "R-0003");
}

TEST_CASE("store: runs are listed newest first, by status, task and page", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  // R-0001..R-0010: odd ones failed, tasks alternate by pairs.
  for (int i = 1; i <= 10; ++i) {
    RunFields f;
    f.status = i % 2 ? "failed" : "completed";
    f.task_id = (i - 1) / 2 % 2 ? "T-0002" : "T-0001";
    f.runner_type = "claude";
    f.created_at = "2025-01-01T00:00:0" + std::to_string(i % 10) + "Z";
    REQUIRE(store.create_run(f, "{\"n\":" + std::to_string(i) + "}", error));
  }
  auto ids = [&](const RunQuery& q) {
    std::vector<std::string> out;
    auto runs = store.list_runs(q, error);
    REQUIRE(runs);
    for (const auto& r : *runs) out.push_back(r.run_id);
    return out;
  };
  RunQuery q;
  q.limit = 3;
  CHECK(ids(q) == std::vector<std::string>{"R-0010", "R-0009", "R-0008"});
  q.status = "failed";
  CHECK(ids(q) == std::vector<std::string>{"R-0009", "R-0007", "R-0005"});
  q.before = "R-0005";
  CHECK(ids(q) == std::vector<std::string>{"R-0003", "R-0001"});
  q = RunQuery{};
  q.task_id = "T-0002";
  CHECK(ids(q) == std::vector<std::string>{"R-0008", "R-0007", "R-0004", "R-0003"});
  q.status = "completed";
  CHECK(ids(q) == std::vector<std::string>{"R-0008", "R-0004"});
  q = RunQuery{};
  q.status = "no-such-status";
  CHECK(ids(q).empty());
  q = RunQuery{};
  q.before = "T-0001";
  CHECK_FALSE(store.list_runs(q, error));
  CHECK(error.code == "EINVAL");

  auto run = store.get_run("R-0004", error);
  REQUIRE(run);
  CHECK(run->run_id == "R-0004");
  CHECK(run->fields.status == "completed");
  CHECK(run->fields.task_id == "T-0002");
  CHECK(run->fields.runner_type == "claude");
  CHECK(run->fields.created_at == "2025-01-01T00:00:04Z");
  CHECK(run->fields.completed_at.empty());
  CHECK(run->record_json == R"({"n":4,"revision":1})");

  // update_run replaces the columns and the record; list by status follows.
  RunFields f = run->fields;
  f.status = "failed";
  f.completed_at = "2025-01-01T00:01:00Z";
  f.created_at.clear();  // keeps the one it had
  CHECK(store.update_run("R-0004", f, R"({"n":4,"status":"failed"})", error) == 2);
  run = store.get_run("R-0004", error);
  REQUIRE(run);
  CHECK(run->fields.status == "failed");
  CHECK(run->fields.completed_at == "2025-01-01T00:01:00Z");
  CHECK(run->fields.created_at == "2025-01-01T00:00:04Z");
  CHECK(run->record_json == R"({"n":4,"status":"failed","revision":2})");
  q = RunQuery{};
  q.status = "failed";
  q.limit = 2;
  CHECK(ids(q) == std::vector<std::string>{"R-0009", "R-0007"});
  q.before = "R-0007";
  CHECK(ids(q) == std::vector<std::string>{"R-0005", "R-0004"});
}

TEST_CASE("store: tasks are created, updated, read and listed", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  TaskFields f;
  f.title = "Fix the parser";
  f.status = "ready";
  f.created_at = "2025-02-01T10:00:00Z";
  auto id = store.create_task(f, R"({"status":"ready","title":"Fix the parser"})", error);
  REQUIRE(id);
  f.title = "Write docs";
  f.status = "draft";
  REQUIRE(store.create_task(f, "{}", error) == "T-0002");

  auto task = store.get_task(*id, error);
  REQUIRE(task);
  CHECK(task->fields.title == "Fix the parser");
  CHECK(task->fields.created_at == "2025-02-01T10:00:00Z");
  CHECK(task->fields.updated_at == "2025-02-01T10:00:00Z");

  CHECK(store.update_task_status(*id, "running", error) == 2);
  task = store.get_task(*id, error);
  REQUIRE(task);
  CHECK(task->fields.status == "running");
  CHECK(task->fields.updated_at != "2025-02-01T10:00:00Z");
  // The record's status follows; as JSON it matches the caller's rewritten copy.
  CHECK(store.check_record(RecordKind::Task, *id, R"({"status": "running", "title": "Fix the parser", "revision": 2})",
                           error) == RecordMatch::Equivalent);

  TaskQuery q;
  auto tasks = store.list_tasks(q, error);
  REQUIRE(tasks);
  REQUIRE(tasks->size() == 2);
  CHECK((*tasks)[0].task_id == "T-0002");
  q.status = "running";
  tasks = store.list_tasks(q, error);
  REQUIRE(tasks);
  REQUIRE(tasks->size() == 1);
  CHECK((*tasks)[0].task_id == "T-0001");

  f.status = "done";
  REQUIRE(store.update_task("T-0002", f, R"({"task_id":"T-0002","status":"done"})", error));
  CHECK(store.get_task("T-0002", error)->fields.status == "done");
  CHECK_FALSE(store.update_task("T-0003", f, "{}", error));
  CHECK(error.code == "ENOENT");
  CHECK_FALSE(store.get_task("T-0003", error));
  CHECK(error.code == "ENOENT");
}

TEST_CASE("store: lineage is seen from both ends", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  std::string first = create_run(store);  // R-0001
  RunFields step;
  step.status = "completed";
  step.parent_run_id = first;
  step.pipeline_id = "P-1";
  auto second = store.create_run(step, "{}", error);  // R-0002: pipeline step after R-0001
  REQUIRE(second);
  RunFields replay;
  replay.status = "queued";
  replay.parent_run_id = first;
  auto third = store.create_run(replay, "{}", error);  // R-0003: replay of R-0001
  REQUIRE(third);
  std::string fourth = create_run(store);
  REQUIRE(store.add_lineage(*third, fourth, "replay", error));

  auto of_first = store.lineage_of(first, error);
  REQUIRE(of_first);
  CHECK(of_first->parents.empty());
  REQUIRE(of_first->children.size() == 2);
  CHECK(of_first->children[0].child_run_id == "R-0002");
  CHECK(of_first->children[0].kind == "pipeline");
  CHECK(of_first->children[1].child_run_id == "R-0003");
  CHECK(of_first->children[1].kind == "replay");

  auto of_third = store.lineage_of(*third, error);
  REQUIRE(of_third);
  REQUIRE(of_third->parents.size() == 1);
  CHECK(of_third->parents[0].parent_run_id == first);
  CHECK(of_third->parents[0].kind == "replay");
  REQUIRE(of_third->children.size() == 1);
  CHECK(of_third->children[0].child_run_id == fourth);

  CHECK_FALSE(store.add_lineage(first, "R-0099", "replay", error));
  CHECK(error.code == "ENOENT");
  CHECK(error.message.find("child run R-0099") != std::string::npos);
  CHECK_FALSE(store.add_lineage(first, fourth, "fork", error));
  CHECK(error.code == "EINVAL");
  CHECK_FALSE(store.add_lineage(first, first, "replay", error));
  CHECK(error.code == "EINVAL");
  step.parent_run_id = "R-0099";
  CHECK_FALSE(store.create_run(step, "{}", error));
  CHECK(error.code == "ENOENT");
  CHECK(store.counter(RecordKind::Run, error) == 4);  // the failed create allocated nothing
  CHECK_FALSE(store.lineage_of("R-0099", error));
  CHECK(error.code == "ENOENT");
}

TEST_CASE("store: validation results round trip in order", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  std::string id = create_run(store);
  ValidationResult a;
  a.kind = "test";
  a.command = "ctest --output-on-failure";
  a.name = "unit";
  a.exit_code = 0;
  a.ok = true;
  a.duration_ms = 1234;
  a.timeout_ms = 600000;
  a.output_snippet = "100% tests passed\n";
  ValidationResult b;
  b.kind = "lint";
  b.command = "clang-tidy x.cpp";
  b.timed_out = true;
  b.duration_ms = 180000;
  b.output_snippet = std::string("with a NUL \0 inside", 19);
  CHECK(store.add_validation_result(id, a, error) == 1);
  CHECK(store.add_validation_result(id, b, error) == 2);
  auto results = store.validation_results(id, error);
  REQUIRE(results);
  REQUIRE(results->size() == 2);
  const auto& r0 = (*results)[0];
  CHECK(r0.seq == 1);
  CHECK(r0.kind == "test");
  CHECK(r0.command == a.command);
  CHECK(r0.name == "unit");
  CHECK(r0.exit_code == 0);
  CHECK(r0.ok);
  CHECK_FALSE(r0.timed_out);
  CHECK(r0.duration_ms == 1234);
  CHECK(r0.timeout_ms == 600000);
  CHECK(r0.output_snippet == a.output_snippet);
  const auto& r1 = (*results)[1];
  CHECK(r1.seq == 2);
  CHECK(r1.name.empty());
  CHECK_FALSE(r1.exit_code);
  CHECK_FALSE(r1.ok);
  CHECK(r1.timed_out);
  CHECK_FALSE(r1.timeout_ms);
  CHECK(r1.output_snippet == b.output_snippet);

  CHECK(store.validation_results(create_run(store), error)->empty());
  CHECK_FALSE(store.add_validation_result("R-0099", a, error));
  CHECK(error.code == "ENOENT");
}

TEST_CASE("store: events come back in the order appended", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  std::string id = create_run(store);
  std::string other = create_run(store);
  for (int i = 1; i <= 20; ++i) {
    CHECK(store.append_event(i % 3 ? id : other, "2025-01-01T00:00:00.0" + std::to_string(i % 10) + "Z",
                             "item." + std::to_string(i), "{\"i\":" + std::to_string(i) + "}", error));
  }
  auto events = store.events(id, error);
  REQUIRE(events);
  REQUIRE(events->size() == 14);
  std::int64_t seq = 0;
  int last = 0;
  for (const auto& e : *events) {
    CHECK(e.seq == ++seq);
    int i = std::stoi(e.kind.substr(5));
    CHECK(i > last);
    CHECK(e.fields_json == "{\"i\":" + std::to_string(i) + "}");
    last = i;
  }
  // Tailing: after a seq, with a limit.
  auto tail = store.events(id, error, 12, 5);
  REQUIRE(tail);
  REQUIRE(tail->size() == 2);
  CHECK((*tail)[0].seq == 13);
  // Defaults: a timestamp from the store, {} fields.
  CHECK(store.append_event(other, "", "done", "", error) == 7);
  auto last_event = store.events(other, error, 6);
  REQUIRE(last_event);
  REQUIRE(last_event->size() == 1);
  CHECK((*last_event)[0].fields_json == "{}");
  CHECK((*last_event)[0].ts.size() == std::string("2025-01-01T00:00:00.000Z").size());

  CHECK_FALSE(store.append_event(id, "", "x", "[1,2]", error));
  CHECK(error.code == "EINVAL");
  CHECK_FALSE(store.append_event(id, "", "x", "{nope", error));
  CHECK(error.code == "EINVAL");
  CHECK_FALSE(store.append_event("R-0099", "", "x", "{}", error));
  CHECK(error.code == "ENOENT");
  CHECK_FALSE(store.events("R-0099", error));
  CHECK(error.code == "ENOENT");
}

TEST_CASE("store: imported records keep their ids, and check_record compares", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  const std::string parent = R"({"run_id":"R-0040","status":"completed","task_id":"T-0007"})";
  const std::string child =
      R"({"completed_at":"2025-03-01T12:05:00Z","parent_run_id":"R-0040","pipeline_id":null,"replay_reason":"flaky",)"
      R"("run_id":"R-0042","runner_type":"codex","started_at":"2025-03-01T12:00:00Z","status":"failed",)"
      R"("task_id":"T-0007","validation":[{"command":"make test","duration_ms":900,"exit_code":2,"kind":"test",)"
      R"("ok":false,"output_snippet":"1 failed","timed_out":false,"timeout_ms":600000},"make lint"]})";
  // The child comes first: files are read in any order.
  REQUIRE(store.import_record(RecordKind::Run, "R-0042", child, error));
  REQUIRE(store.import_record(RecordKind::Run, "R-0040", parent, error));
  REQUIRE(store.import_record(RecordKind::Task, "T-0007", R"({"task_id":"T-0007","title":"t","status":"review"})",
                              error));

  auto run = store.get_run("R-0042", error);
  REQUIRE(run);
  CHECK(run->record_json == child);
  CHECK(run->fields.status == "failed");
  CHECK(run->fields.task_id == "T-0007");
  CHECK(run->fields.runner_type == "codex");
  CHECK(run->fields.created_at == "2025-03-01T12:00:00Z");
  CHECK(run->fields.completed_at == "2025-03-01T12:05:00Z");
  CHECK(run->fields.parent_run_id == "R-0040");
  CHECK(run->fields.pipeline_id.empty());
  auto lineage = store.lineage_of("R-0040", error);
  REQUIRE(lineage);
  REQUIRE(lineage->children.size() == 1);
  CHECK(lineage->children[0].child_run_id == "R-0042");
  CHECK(lineage->children[0].kind == "replay");
  auto results = store.validation_results("R-0042", error);
  REQUIRE(results);
  REQUIRE(results->size() == 2);
  CHECK((*results)[0].kind == "test");
  CHECK((*results)[0].exit_code == 2);
  CHECK((*results)[0].timeout_ms == 600000);
  CHECK((*results)[1].kind == "custom");
  CHECK((*results)[1].command == "make lint");
  CHECK(store.get_task("T-0007", error)->fields.status == "review");

  // Allocation continues after the highest imported id.
  CHECK(create_run(store) == "R-0043");
  TaskFields tf;
  CHECK(store.create_task(tf, "{}", error) == "T-0008");
  // Importing a lower id later does not lower the counter.
  REQUIRE(store.import_record(RecordKind::Run, "R-0005", "{}", error));
  CHECK(create_run(store) == "R-0044");
  // Importing again replaces (and its validation results follow).
  const std::string fixed = R"({"run_id":"R-0042","status":"completed","validation":[]})";
  REQUIRE(store.import_record(RecordKind::Run, "R-0042", fixed, error));
  CHECK(store.get_run("R-0042", error)->fields.status == "completed");
  CHECK(store.validation_results("R-0042", error)->empty());

  CHECK(store.check_record(RecordKind::Run, "R-0042", fixed, error) == RecordMatch::Same);
  CHECK(store.check_record(RecordKind::Run, "R-0042", "{ \"run_id\": \"R-0042\", \"status\": \"completed\", "
                                                      "\"validation\": [] }\n",
                           error) == RecordMatch::Equivalent);
  CHECK(store.check_record(RecordKind::Run, "R-0042", R"({"run_id":"R-0042","status":"failed","validation":[]})",
                           error) == RecordMatch::Different);
  CHECK(store.check_record(RecordKind::Run, "R-0077", fixed, error) == RecordMatch::Missing);
  CHECK(store.check_record(RecordKind::Task, "T-0007", R"({"task_id":"T-0007","title":"t","status":"review"})",
                           error) == RecordMatch::Same);
  CHECK_FALSE(store.check_record(RecordKind::Run, "R-0042", "{oops", error));
  CHECK(error.code == "EINVAL");

  // Bad imports.
  CHECK_FALSE(store.import_record(RecordKind::Run, "run-7", "{}", error));
  CHECK(error.code == "EINVAL");
  CHECK_FALSE(store.import_record(RecordKind::Run, "R-0050", R"({"run_id":"R-0051"})", error));
  CHECK(error.code == "EINVAL");
  CHECK(error.message.find("R-0051") != std::string::npos);
  CHECK_FALSE(store.import_record(RecordKind::Run, "R-042", "{}", error));
  CHECK(error.code == "EEXIST");
  CHECK(error.message.find("R-0042") != std::string::npos);
}

TEST_CASE("store: bad inputs are errors as data", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  RunFields f;
  CHECK_FALSE(store.create_run(f, "{\"a\":", error));
  CHECK(error.code == "EINVAL");
  CHECK(error.message.find("not valid JSON") != std::string::npos);
  CHECK_FALSE(store.create_run(f, "[1,2,3]", error));
  CHECK(error.code == "EINVAL");
  CHECK(error.message.find("not an object") != std::string::npos);
  CHECK_FALSE(store.create_run(f, "", error));
  CHECK(error.code == "EINVAL");
  CHECK_FALSE(store.create_run(f, R"({"run_id":"R-0777"})", error));
  CHECK(error.code == "EINVAL");
  f.status.clear();
  CHECK_FALSE(store.create_run(f, "{}", error));
  CHECK(error.code == "EINVAL");
  // Nothing above used up an id.
  CHECK(store.counter(RecordKind::Run, error) == 0);

  CHECK_FALSE(store.get_run("R-0001", error));
  CHECK(error.code == "ENOENT");
  CHECK(error.message.find("run R-0001 not found") != std::string::npos);
  CHECK_FALSE(store.get_run("'; DROP TABLE runs; --", error));
  CHECK(error.code == "ENOENT");
  CHECK_FALSE(store.update_run("R-0001", RunFields{}, "{}", error));
  CHECK(error.code == "ENOENT");
  std::string id = create_run(store);
  CHECK_FALSE(store.update_run(id, RunFields{}, "not json", error));
  CHECK(error.code == "EINVAL");
  CHECK(store.get_run(id, error)->record_json == R"({"status":"completed","revision":1})");  // unchanged

  // A record maker that throws leaves nothing behind.
  CHECK_THROWS(store.create_run(
      RunFields{}, [](const std::string&) -> std::string { throw std::runtime_error("encoder failed"); }, error));
  CHECK(store.counter(RecordKind::Run, error) == 1);
  CHECK(create_run(store) == "R-0002");
}

TEST_CASE("store: a run that ended is never made active again", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  std::string id = create_run(store, "queued");
  auto write = [&](const std::string& status) {
    RunFields f;
    f.task_id = "T-0001";
    f.status = status;
    f.runner_type = "codex";
    return store.update_run(id, f, R"({"status":")" + status + R"("})", error);
  };
  // Active to active, active to an end, an end to another end (a review decided): all written.
  CHECK(write("preparing") == 2);
  CHECK(write("running") == 3);
  CHECK(write("interrupted") == 4);
  CHECK(write("failed") == 5);
  // An end back to active: refused, the run left as it was.
  for (const char* active : {"queued", "preparing", "running"}) {
    CHECK_FALSE(write(active));
    CHECK(error.code == "EENDED");
    CHECK(error.message.find("run " + id + " has ended (failed): it is not made " + active + " again") !=
          std::string::npos);
  }
  auto run = store.get_run(id, error);
  REQUIRE(run);
  CHECK(run->fields.status == "failed");
  CHECK(run->record_json == R"({"status":"failed","revision":5})");
}

TEST_CASE("store: a batch commits together or not at all", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  REQUIRE(store.begin_batch(error));
  CHECK_FALSE(store.begin_batch(error));
  for (int i = 0; i < 5; ++i) create_run(store);
  // A failing write inside the batch undoes only itself.
  CHECK_FALSE(store.create_run(RunFields{}, "nope", error));
  create_run(store);
  REQUIRE(store.commit_batch(error));
  CHECK(store.counter(RecordKind::Run, error) == 6);

  REQUIRE(store.begin_batch(error));
  for (int i = 0; i < 5; ++i) create_run(store);
  store.rollback_batch();
  CHECK(store.counter(RecordKind::Run, error) == 6);
  RunQuery all;
  all.limit = 0;
  CHECK(store.list_runs(all, error)->size() == 6);
  CHECK_FALSE(store.commit_batch(error));
  CHECK(error.code == "EINVAL");

  // Closing with a batch open rolls it back.
  REQUIRE(store.begin_batch(error));
  create_run(store);
  store.close();
  RunStore again = open_store(dir.db());
  CHECK(again.counter(RecordKind::Run, error) == 6);
}

TEST_CASE("store: ids lists every record, and clear_records keeps the counters", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  TaskFields tf;
  REQUIRE(store.create_task(tf, "{}", error) == "T-0001");
  for (int i = 0; i < 3; ++i) create_run(store);
  REQUIRE(store.append_event("R-0002", "", "note", "{}", error));
  CHECK(store.ids(RecordKind::Run, error) == std::vector<std::string>{"R-0001", "R-0002", "R-0003"});
  CHECK(store.ids(RecordKind::Task, error) == std::vector<std::string>{"T-0001"});

  REQUIRE(store.clear_records(error));
  CHECK(store.ids(RecordKind::Run, error)->empty());
  CHECK(store.ids(RecordKind::Task, error)->empty());
  CHECK_FALSE(store.get_run("R-0002", error));
  CHECK(error.code == "ENOENT");
  // An id once given out is never given again, even after the records are gone.
  CHECK(create_run(store) == "R-0004");
  CHECK(store.create_task(tf, "{}", error) == "T-0002");
  CHECK(store.events("R-0004", error)->empty());
}

TEST_CASE("store: usage totals only the figures runs reported", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  auto add = [&](const std::string& runner, const std::string& created, const std::string& extra) {
    RunFields f;
    f.status = "completed";
    f.runner_type = runner;
    f.created_at = created;
    REQUIRE(store.create_run(f, "{" + extra + "}", error));
  };
  add("codex", "2026-11-01T10:00:00Z",
      R"("model":"gpt","usage":{"input":100,"cached_input":40,"output":10,"reasoning_output":3,"total":110})");
  add("codex", "2026-11-02T10:00:00Z",
      R"("model":"gpt","usage":{"input":200,"cached_input":null,"output":20,"reasoning_output":null,"total":220})");
  // Not whole numbers: never counted as measurements.
  add("codex", "2026-11-03T10:00:00Z", R"("model":"gpt","usage":{"input":1.5,"output":"7","total":null})");
  add("claude", "2026-11-04T10:00:00Z",
      R"("model":"sonnet","usage":{"input":5,"cached_input":1,"output":2,"reasoning_output":null,"total":8},"cost_usd":0.25)");
  add("claude", "2026-11-05T10:00:00Z", R"("cost_usd":1)");

  sidecar::host::UsageQuery q;
  q.group_by = "runner";
  auto rows = store.usage(q, error);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  const auto& claude = (*rows)[0];
  const auto& codex = (*rows)[1];
  CHECK(claude.group == "claude");
  CHECK(claude.runs == 2);
  CHECK(claude.sums[0] == 5);
  CHECK(claude.reported[0] == 1);
  CHECK(claude.cost_usd == Approx(1.25));
  CHECK(claude.cost_reported == 2);
  CHECK(claude.first_at == "2026-11-04T10:00:00Z");
  CHECK(claude.last_at == "2026-11-05T10:00:00Z");
  CHECK(codex.group == "codex");
  CHECK(codex.runs == 3);
  CHECK(codex.sums == std::array<std::int64_t, 5>{300, 40, 30, 3, 330});
  CHECK(codex.reported == std::array<std::int64_t, 5>{2, 1, 2, 1, 2});
  CHECK(codex.cost_reported == 0);

  q.group_by = "";
  q.since = "2026-11-02T00:00:00Z";
  q.until = "2026-11-05T00:00:00Z";
  rows = store.usage(q, error);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].runs == 3);
  CHECK((*rows)[0].sums[0] == 205);
  CHECK((*rows)[0].reported[0] == 2);

  q = {};
  q.group_by = "model";
  rows = store.usage(q, error);
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].group.empty());  // the run without a model
  CHECK((*rows)[1].group == "gpt");
  CHECK((*rows)[2].group == "sonnet");
  q.group_by = "day";
  CHECK(store.usage(q, error)->size() == 5);

  q.group_by = "colour";
  CHECK_FALSE(store.usage(q, error));
  CHECK(error.code == "EINVAL");
  CHECK(error.message.find("colour") != std::string::npos);
}

TEST_CASE("store: usage of one task's runs, or of one budget group's", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  auto add = [&](const std::string& task, const std::string& extra) {
    RunFields f;
    f.status = "running";
    f.runner_type = "codex";
    f.task_id = task;
    REQUIRE(store.create_run(f, "{" + extra + "}", error));
  };
  add("T-0001", R"("usage":{"total":100},"budget_group":"g-1")");
  add("T-0001", R"("usage":{"total":20})");
  add("T-0002", R"("usage":{"total":3},"budget_group":"g-1")");
  add("T-0002", R"("usage":{"total":4000},"budget_group":"g-2")");
  sidecar::host::UsageQuery q;
  q.task_id = "T-0001";
  auto rows = store.usage(q, error);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].runs == 2);
  CHECK((*rows)[0].sums[4] == 120);
  q = {};
  q.budget_group = "g-1";  // across tasks
  rows = store.usage(q, error);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].runs == 2);
  CHECK((*rows)[0].sums[4] == 103);
  q.task_id = "T-0002";
  CHECK((*store.usage(q, error))[0].sums[4] == 3);
  q.budget_group = "g-3";
  CHECK(store.usage(q, error)->empty());
}
