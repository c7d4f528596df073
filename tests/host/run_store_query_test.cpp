// The run store's lists and counts (host/store/run_store_query.cpp): the task search, the counts per
// status, runs of several statuses and of given review states, oldest first, the runs' text search.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "store/run_store.hpp"
#include "temp_dir.hpp"

using sidecar::host::RunFields;
using sidecar::host::RunQuery;
using sidecar::host::RunStore;
using sidecar::host::StoreError;
using sidecar::host::TaskFields;
using sidecar::host::TaskQuery;

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

void add_task(RunStore& store, const std::string& title, const std::string& status) {
  StoreError error;
  TaskFields f;
  f.title = title;
  f.status = status;
  REQUIRE(store.create_task(f, "{\"title\":\"x\"}", error));
}

// A run whose record has `review_state` (raw JSON: "null", "\"pending\"", ... or "" for none).
std::string add_run(RunStore& store, const std::string& status, const std::string& review_state) {
  StoreError error;
  RunFields f;
  f.status = status;
  std::string record = review_state.empty() ? "{}" : "{\"review_state\":" + review_state + "}";
  auto id = store.create_run(f, record, error);
  INFO(error.message);
  REQUIRE(id);
  return *id;
}

std::vector<std::string> ids(RunStore& store, const RunQuery& q) {
  StoreError error;
  auto runs = store.list_runs(q, error);
  INFO(error.message);
  REQUIRE(runs);
  std::vector<std::string> out;
  for (const auto& r : *runs) out.push_back(r.run_id);
  return out;
}

// Takes the store at `path` back to schema 6 (no text index), after running `before` (SQL) on it.
void back_to_schema_6(const std::string& path, const std::string& before = "") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  std::string sql = before + " DROP TRIGGER runs_text_insert; DROP TRIGGER runs_text_update;"
                             " DROP TRIGGER runs_text_delete; DROP TABLE runs_text; PRAGMA user_version = 6;";
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_close(db) == SQLITE_OK);  // the last connection: the WAL is folded in, the file whole
}

}  // namespace

TEST_CASE("tasks are searched by id or title, ASCII case ignored, with % and _ taken as they are") {
  TempDir dir("query");
  RunStore store = open_store(dir.db());
  add_task(store, "Fix the Parser", "ready");
  add_task(store, "100% done_now", "done");
  add_task(store, "parser docs", "done");
  add_task(store, "other", "draft");
  StoreError error;
  TaskQuery q;
  q.text = "PARSER";
  q.limit = 0;
  auto found = store.list_tasks(q, error);
  REQUIRE(found);
  REQUIRE(found->size() == 2);
  CHECK((*found)[0].task_id == "T-0003");  // newest first
  q.text = "t-0004";
  REQUIRE(store.list_tasks(q, error)->size() == 1);
  for (const char* literal : {"%", "e_n"}) {
    q.text = literal;
    auto hit = store.list_tasks(q, error);
    REQUIRE(hit->size() == 1);
    CHECK((*hit)[0].task_id == "T-0002");
  }
  q.text = "x_r";  // a LIKE pattern would match "Fix the Parser"
  CHECK(store.list_tasks(q, error)->empty());
}

TEST_CASE("tasks are counted per status, with the search or without") {
  TempDir dir("query");
  RunStore store = open_store(dir.db());
  for (int i = 0; i < 30; ++i) add_task(store, "task " + std::to_string(i), i % 3 == 0 ? "done" : "ready");
  StoreError error;
  auto all = store.count_tasks(TaskQuery{}, error);
  REQUIRE(all);
  std::map<std::string, std::int64_t> counts(all->begin(), all->end());
  CHECK(counts == std::map<std::string, std::int64_t>{{"done", 10}, {"ready", 20}});
  TaskQuery q;
  q.text = "task 1";  // 1, 10..19: done 12, 15, 18
  auto some = store.count_tasks(q, error);
  counts = std::map<std::string, std::int64_t>(some->begin(), some->end());
  CHECK(counts == std::map<std::string, std::int64_t>{{"done", 3}, {"ready", 8}});
}

TEST_CASE("runs of several statuses and review states, oldest first, and their count") {
  TempDir dir("query");
  RunStore store = open_store(dir.db());
  std::vector<std::string> waiting;
  waiting.push_back(add_run(store, "review", "\"pending\""));
  add_run(store, "completed", "\"approved\"");
  waiting.push_back(add_run(store, "blocked", ""));
  add_run(store, "blocked", "\"blocked\"");
  waiting.push_back(add_run(store, "outcome_unknown", "null"));
  waiting.push_back(add_run(store, "review", "\"\""));
  add_run(store, "review", "1");  // not a state at all: not one of those asked for
  add_run(store, "failed", "");
  RunQuery q;
  q.statuses = {"review", "blocked", "outcome_unknown"};
  q.review_states = {"", "pending"};
  q.oldest_first = true;
  q.limit = 0;
  CHECK(ids(store, q) == waiting);
  StoreError error;
  CHECK(store.count_runs(q, error) == std::int64_t(4));
  q.limit = 2;
  CHECK(ids(store, q) == std::vector<std::string>{waiting[0], waiting[1]});
  q.oldest_first = false;
  CHECK(ids(store, q) == std::vector<std::string>{waiting[3], waiting[2]});
  q.before = "R-0005";  // paging still works with the new filters
  CHECK(ids(store, q) == std::vector<std::string>{waiting[1], waiting[0]});
  CHECK(store.count_runs(q, error) == std::int64_t(2));
  q.before = "nonsense";
  CHECK_FALSE(store.count_runs(q, error));
  CHECK(error.code == "EINVAL");
}

TEST_CASE("a schema 3 store gains the review state index, its runs indexed, when opened") {
  TempDir dir("query");
  {
    RunStore store = open_store(dir.db());
    add_run(store, "review", "\"pending\"");
    add_run(store, "review", "\"approved\"");
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "DROP INDEX runs_by_review_state; PRAGMA user_version = 3;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  RunStore store = open_store(dir.db());
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  RunQuery q;
  q.review_states = {"pending"};
  StoreError error;
  CHECK(store.count_runs(q, error) == std::int64_t(1));
}

TEST_CASE("the review states are read from their index, not from the records") {
  TempDir dir("query");
  { RunStore store = open_store(dir.db()); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
  // The WHERE clause run_store_query.cpp writes for {statuses, review_states}.
  const char* sql =
      "EXPLAIN QUERY PLAN SELECT count(*) FROM runs WHERE status IN (?, ?) AND "
      "coalesce(json_extract(record, '$.review_state'), '') IN (?, ?)";
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  std::string plan;
  while (sqlite3_step(st) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  sqlite3_close(db);
  INFO(plan);
  CHECK(plan.find("USING INDEX runs_by_review_state (status=? AND <expr>=?)") != std::string::npos);
}

// A run with `summary` (JSON-escaped here) on task `task_id`.
std::string add_summarised(RunStore& store, const std::string& task_id, const std::string& summary) {
  StoreError error;
  RunFields f;
  f.status = "review";
  f.task_id = task_id;
  auto id = store.create_run(f, "{\"summary\":\"" + summary + "\"}", error);
  INFO(error.message);
  REQUIRE(id);
  return *id;
}

TEST_CASE("runs are searched by id, task or summary through the trigram index, kept as runs change") {
  TempDir dir("query");
  RunStore store = open_store(dir.db());
  add_task(store, "a", "ready");
  std::string parser = add_summarised(store, "T-0001", "Fixed the Parser; 100% of tests pass");
  std::string quoted = add_summarised(store, "", "said \\\"done\\\" twice");
  std::string other = add_summarised(store, "", "nothing to see");
  RunQuery q;
  q.text = "PARSER";  // the index folds case
  CHECK(ids(store, q) == std::vector<std::string>{parser});
  q.text = "t-0001";
  CHECK(ids(store, q) == std::vector<std::string>{parser});
  q.text = "R-0002";
  CHECK(ids(store, q) == std::vector<std::string>{quoted});
  q.text = "100% of";  // taken as it is, no pattern
  CHECK(ids(store, q) == std::vector<std::string>{parser});
  q.text = "\"done\"";  // quotes in the text: part of it, never the query language's
  CHECK(ids(store, q) == std::vector<std::string>{quoted});
  q.text = "done OR see";  // no operator either
  CHECK(ids(store, q).empty());
  q.text = "TH";  // too short for trigrams: read from every record, ASCII case ignored
  CHECK(ids(store, q) == std::vector<std::string>{other, parser});
  q.text = "Parser; 100";  // across a word boundary, as instr would
  CHECK(ids(store, q) == std::vector<std::string>{parser});
  q.text = "0001 Fixed";  // never across two fields
  CHECK(ids(store, q).empty());
  // A summary rewritten: found by its new text only; its task moved: found by the new task.
  StoreError error;
  RunFields f;
  f.status = "review";
  f.task_id = "T-0002";
  REQUIRE(store.update_run(other, f, "{\"summary\":\"now a lexer change\"}", error));
  q.text = "lexer";
  CHECK(ids(store, q) == std::vector<std::string>{other});
  q.text = "nothing to";
  CHECK(ids(store, q).empty());
  q.text = "T-0002";
  CHECK(ids(store, q) == std::vector<std::string>{other});
  CHECK(store.count_runs(q, error) == std::int64_t(1));
}

TEST_CASE("a schema 6 store gains the text index of its runs when opened") {
  TempDir dir("query");
  std::string old;
  {
    RunStore store = open_store(dir.db());
    old = add_summarised(store, "", "written before the index");
  }
  back_to_schema_6(dir.db());
  RunStore store = open_store(dir.db());
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  RunQuery q;
  q.text = "before the";
  CHECK(ids(store, q) == std::vector<std::string>{old});
}

// The text index's migration runs in one transaction with its version bump: a process killed with
// SIGKILL in the middle of it (30 001 runs to index) leaves schema 6 whole, and the next open
// indexes every run. Killed at several moments, each in a copy of the same schema 6 store.
TEST_CASE("a store killed with SIGKILL while it gains the text index opens whole and indexed") {
  TempDir dir("query");
  std::string needle;
  {
    RunStore store = open_store(dir.db());
    needle = add_summarised(store, "", "the needle");
  }
  back_to_schema_6(dir.db(),  // with 30 000 runs more, in one statement (the API writes one at a time)
                   "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 30001)"
                   " INSERT INTO runs (num, run_id, status, created_at, record)"
                   " SELECT i, printf('R-%04d', i), 'review', '2026-11-27T00:00:00Z',"
                   " json_object('summary', 'haystack ' || i) FROM n;");
  int killed_before_commit = 0;
  for (int delay_ms : {0, 20, 60, 120, 250, 400}) {
    TempDir copy("query-kill");
    std::filesystem::copy_file(dir.db(), copy.db());
    int ready[2];
    REQUIRE(pipe(ready) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(ready[0]);
      char c = 1;
      if (::write(ready[1], &c, 1) != 1) _exit(3);
      RunStore store;
      StoreError error;
      _exit(store.open(copy.db(), error) ? 0 : 2);
    }
    close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);  // the child is about to open (and migrate)
    close(ready[0]);
    usleep(delay_ms * 1000);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) {
      sqlite3* peek = nullptr;
      REQUIRE(sqlite3_open(copy.db().c_str(), &peek) == SQLITE_OK);
      sqlite3_stmt* st = nullptr;
      REQUIRE(sqlite3_prepare_v2(peek, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK);
      REQUIRE(sqlite3_step(st) == SQLITE_ROW);
      killed_before_commit += sqlite3_column_int(st, 0) == 6 ? 1 : 0;
      sqlite3_finalize(st);
      sqlite3_close(peek);
    }
    INFO("killed " << delay_ms << " ms after the child started");
    RunStore store = open_store(copy.db());
    CHECK(store.schema_version() == RunStore::kSchemaVersion);
    StoreError error;
    CHECK(store.count_runs(RunQuery{}, error) == std::int64_t(30001));
    RunQuery q;
    q.text = "the needle";
    CHECK(ids(store, q) == std::vector<std::string>{needle});
    q.text = "haystack 29999";
    CHECK(ids(store, q) == std::vector<std::string>{"R-29999"});
  }
  CHECK(killed_before_commit > 0);  // at least one kill came before the migration was committed
}
