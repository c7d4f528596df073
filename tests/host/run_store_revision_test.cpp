// The run store's revisions and pending copies (host/store/run_store.hpp): what lets `sidecar store
// check` tell a stale copy from one ahead of the store or in conflict with it, and lets the next
// process finish the copies a crash cut off.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "store/run_store.hpp"
#include "temp_dir.hpp"

using sidecar::host::PendingCopy;
using sidecar::host::RecordKind;
using sidecar::host::RunFields;
using sidecar::host::RunStore;
using sidecar::host::StoreError;
using sidecar::host::TaskFields;

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

// "run R-0001 2, task T-0001 1": the pending marks, in order.
std::string marks(RunStore& store) {
  StoreError error;
  auto pending = store.pending_copies(error);
  INFO(error.message);
  REQUIRE(pending);
  std::string out;
  for (const PendingCopy& p : *pending) {
    if (!out.empty()) out += ", ";
    out += std::string(p.kind == RecordKind::Task ? "task " : "run ") + p.id + " " + std::to_string(p.revision);
  }
  return out;
}

void exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  INFO((message ? message : ""));
  CHECK(rc == SQLITE_OK);
  sqlite3_free(message);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("store revisions: 1 on create, one more per write, in the column and the record", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  RunFields f;
  f.status = "running";
  auto id = store.create_run(f, R"({"status":"running","revision":7})", error);
  REQUIRE(id);
  auto run = store.get_run(*id, error);
  REQUIRE(run);
  CHECK(run->revision == 1);  // whatever the record said
  CHECK(run->record_json == R"({"status":"running","revision":1})");

  f.status = "completed";
  CHECK(store.update_run(*id, f, R"({"status":"completed"})", error) == 2);
  // A record that already says the revision it gets is stored as given, byte for byte.
  const std::string third = R"({"revision":3,"status":"completed","summary":"done"})";
  CHECK(store.update_run(*id, f, third, error) == 3);
  run = store.get_run(*id, error);
  CHECK(run->revision == 3);
  CHECK(run->record_json == third);
  // Another writer's stale idea of the revision does not go backwards.
  CHECK(store.update_run(*id, f, R"({"revision":2,"status":"completed"})", error) == 4);
  CHECK(store.get_run(*id, error)->record_json == R"({"revision":4,"status":"completed"})");

  TaskFields tf;
  auto task = store.create_task(tf, "{}", error);
  REQUIRE(task);
  CHECK(store.get_task(*task, error)->revision == 1);
  CHECK(store.update_task(*task, tf, "{}", error) == 2);
  CHECK(store.update_task_status(*task, "ready", error) == 3);
  CHECK(store.get_task(*task, error)->record_json == R"({"revision":3,"status":"ready"})");
  // A failed write changes nothing.
  CHECK_FALSE(store.update_run(*id, f, "not json", error));
  CHECK(store.get_run(*id, error)->revision == 4);
}

TEST_CASE("store revisions: every write owes its copy until its writer says it is on disk", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  RunFields f;
  auto id = store.create_run(f, "{}", error);
  REQUIRE(id);
  CHECK(marks(store) == "run R-0001 1");
  CHECK(store.copy_written(RecordKind::Run, *id, 1, 1, error) == 1);
  CHECK(marks(store).empty());

  // Two writers of one record: the older copy lands last, on top of the newer one. Its writer
  // learns it was overtaken, and its mark stays until it has written the newest.
  CHECK(store.update_run(*id, f, "{}", error) == 2);
  CHECK(store.update_run(*id, f, "{}", error) == 3);
  CHECK(marks(store) == "run R-0001 2, run R-0001 3");
  CHECK(store.copy_written(RecordKind::Run, *id, 3, 3, error) == 3);
  CHECK(store.copy_written(RecordKind::Run, *id, 2, 2, error) == 3);
  CHECK(marks(store) == "run R-0001 2");
  CHECK(store.copy_written(RecordKind::Run, *id, 2, 3, error) == 3);
  CHECK(marks(store).empty());

  // A mark taken away meanwhile (a repair by another process) is put back while overtaken.
  CHECK(store.update_run(*id, f, "{}", error) == 4);
  CHECK(store.copy_written(RecordKind::Run, *id, 4, 4, error) == 4);
  CHECK(store.copy_written(RecordKind::Run, *id, 3, 3, error) == 4);
  CHECK(marks(store) == "run R-0001 3");

  // A record no longer in the store owes nothing.
  CHECK(store.copy_written(RecordKind::Run, "R-0099", 1, 1, error) == 0);
  REQUIRE(store.clear_records(error));
  CHECK(marks(store).empty());
  TaskFields tf;
  auto task = store.create_task(tf, "{}", error);
  CHECK(marks(store) == "task T-0001 1");
  CHECK(store.copy_written(RecordKind::Task, "T-0001", 5, 5, error) == 1);  // not this write's mark
  CHECK(marks(store) == "task T-0001 1");
}

TEST_CASE("store revisions: imports take the copy's revision, and import_if_newer only a newer one", "[store]") {
  TempDir dir;
  RunStore store = open_store(dir.db());
  StoreError error;
  RunFields f;
  auto id = store.create_run(f, "{}", error);
  REQUIRE(id);
  f.status = "completed";
  CHECK(store.update_run(*id, f, R"({"status":"completed"})", error) == 2);

  // Older or the same: the store's is kept.
  CHECK(store.import_if_newer(RecordKind::Run, *id, R"({"revision":1,"status":"running"})", error) == false);
  CHECK(store.import_if_newer(RecordKind::Run, *id, R"({"revision":2,"status":"running"})", error) == false);
  CHECK(store.get_run(*id, error)->fields.status == "completed");
  // Newer: imported, with its revision; the record's marks are dropped (the copy is the truth).
  CHECK(store.import_if_newer(RecordKind::Run, *id, R"({"revision":5,"status":"failed"})", error) == true);
  auto run = store.get_run(*id, error);
  CHECK(run->fields.status == "failed");
  CHECK(run->revision == 5);
  CHECK(marks(store).empty());
  CHECK(store.update_run(*id, f, "{}", error) == 6);
  // Not in the store: imported; without a revision it is revision 0 (written before revisions).
  CHECK(store.import_if_newer(RecordKind::Run, "R-0007", R"({"status":"review"})", error) == true);
  CHECK(store.get_run("R-0007", error)->revision == 0);
  REQUIRE(store.import_record(RecordKind::Run, "R-0008", R"({"revision":"x"})", error));
  CHECK(store.get_run("R-0008", error)->revision == 0);
  CHECK_FALSE(store.import_if_newer(RecordKind::Run, "R-007", R"({"revision":9})", error));
  CHECK(error.code == "EEXIST");
}

TEST_CASE("store revisions: a schema 1 store opens, migrated, its records at revision 0", "[store]") {
  TempDir dir;
  {
    RunStore store = open_store(dir.db());
    StoreError error;
    RunFields f;
    f.status = "completed";
    REQUIRE(store.create_run(f, R"({"status":"completed"})", error));
    TaskFields tf;
    REQUIRE(store.create_task(tf, R"({"title":"t"})", error));
  }
  // What the previous Sidecar left: no revision anywhere, schema version 1.
  exec(dir.db(),
       "DROP TABLE pending_copies; ALTER TABLE runs DROP COLUMN revision; ALTER TABLE tasks DROP COLUMN revision;"
       " UPDATE runs SET record = json_remove(record, '$.revision');"
       " UPDATE tasks SET record = json_remove(record, '$.revision'); PRAGMA user_version = 1;");

  RunStore store = open_store(dir.db());
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  StoreError error;
  auto run = store.get_run("R-0001", error);
  REQUIRE(run);
  CHECK(run->revision == 0);
  CHECK(run->record_json == R"({"status":"completed"})");
  CHECK(store.get_task("T-0001", error)->revision == 0);
  CHECK(marks(store).empty());
  RunFields f;
  f.status = "failed";
  CHECK(store.update_run("R-0001", f, R"({"status":"failed"})", error) == 1);
  CHECK(marks(store) == "run R-0001 1");
}

TEST_CASE("store: a schema 2 store keeps its links as it migrates, and a run can answer another", "[store]") {
  TempDir dir;
  {
    RunStore store = open_store(dir.db());
    StoreError error;
    RunFields f;
    f.status = "blocked";
    REQUIRE(store.create_run(f, "{}", error));  // R-0001
    f.parent_run_id = "R-0001";
    REQUIRE(store.create_run(f, "{}", error));  // R-0002: a replay of it
  }
  // What schema 2 had: a lineage table that knows no answers.
  exec(dir.db(),
       "DROP TABLE lineage; CREATE TABLE lineage (parent_run_id TEXT NOT NULL, child_run_id TEXT NOT NULL,"
       " kind TEXT NOT NULL CHECK (kind IN ('replay', 'pipeline')), PRIMARY KEY (parent_run_id, child_run_id))"
       " WITHOUT ROWID; CREATE INDEX lineage_by_child ON lineage (child_run_id);"
       " INSERT INTO lineage VALUES ('R-0001', 'R-0002', 'replay'); PRAGMA user_version = 2;");
  RunStore store = open_store(dir.db());
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  StoreError error;
  RunFields answer;
  answer.status = "review";
  answer.parent_run_id = "R-0001";
  answer.link_kind = "answer";
  REQUIRE(store.create_run(answer, R"({"status":"review"})", error));  // R-0003
  // A copy names its link's kind too: a rebuild from copies keeps it.
  REQUIRE(store.import_record(RecordKind::Run, "R-0004",
                              R"({"status":"review","parent_run_id":"R-0002","link_kind":"answer"})", error));
  REQUIRE(store.import_record(RecordKind::Run, "R-0005",
                              R"({"status":"review","parent_run_id":"R-0002","link_kind":"nonsense"})", error));
  auto of_first = store.lineage_of("R-0001", error);
  REQUIRE(of_first);
  REQUIRE(of_first->children.size() == 2);
  CHECK(of_first->children[0].kind == "replay");
  CHECK(of_first->children[1].child_run_id == "R-0003");
  CHECK(of_first->children[1].kind == "answer");
  auto of_second = store.lineage_of("R-0002", error);
  REQUIRE(of_second);
  REQUIRE(of_second->children.size() == 2);
  CHECK(of_second->children[0].kind == "answer");
  CHECK(of_second->children[1].kind == "replay");  // an unknown kind in a copy: the kind its fields give
  CHECK(store.add_lineage("R-0003", "R-0005", "answer", error));
}

// Each command's first connection reads the whole write-ahead log back to rebuild its index
// (host/store/run_store_open.cpp), so the log is copied into the database every hundred pages or so
// rather than SQLite's thousand.
TEST_CASE("run store: the write-ahead log stays short, so the next command reads little back") {
  TempDir dir("wal");
  RunStore store = open_store(dir.db());
  RunFields fields;
  fields.task_id = "T-0001";
  fields.status = "completed";
  fields.runner_type = "codex";
  const std::string record = R"({"status":"completed","note":")" + std::string(2000, 'x') + R"("})";
  std::uintmax_t largest = 0;
  StoreError error;
  for (int i = 0; i < 400; ++i) {  // about 800 KiB of records: 200 pages and more
    INFO(error.message);
    REQUIRE(store.create_run(fields, record, error));
    largest = std::max(largest, std::filesystem::file_size(dir.db() + "-wal"));
  }
  constexpr std::uintmax_t kFrame = 4096 + 24;  // a page and its frame header
  CHECK(largest < 160 * kFrame);
}
