// Opening a store (creating and migrating its schema), ids, and batches.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "store/run_store_sql.hpp"

namespace sidecar::host {
namespace {

// Applied in order on open, each in its own write transaction together with its user_version bump,
// so a crash leaves the database at one version or the next. Append; never edit a shipped entry.
struct Migration {
  int version;
  const char* sql;
};
const Migration kMigrations[] = {
    {1, R"sql(
-- Ids are allocated here, inside the transaction that inserts the row.
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('task', 0), ('run', 0);

-- num is the number in the id and the rowid: "newest first" is a walk backwards along a b-tree, and
-- R-10000 sorts after R-9999 (the id text would not).
CREATE TABLE tasks (
  num INTEGER PRIMARY KEY,
  task_id TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  record TEXT NOT NULL CHECK (json_valid(record))
);
CREATE INDEX tasks_by_status ON tasks (status, num);

CREATE TABLE runs (
  num INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL UNIQUE,
  task_id TEXT,
  status TEXT NOT NULL,
  runner_type TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  completed_at TEXT,
  parent_run_id TEXT,
  pipeline_id TEXT,
  record TEXT NOT NULL CHECK (json_valid(record))
);
-- "newest N runs with status X" and "runs of task T": an index range read backwards, N rows.
CREATE INDEX runs_by_status ON runs (status, num);
CREATE INDEX runs_by_task ON runs (task_id, num);
CREATE INDEX runs_by_pipeline ON runs (pipeline_id, num) WHERE pipeline_id IS NOT NULL;

CREATE TABLE lineage (
  parent_run_id TEXT NOT NULL,
  child_run_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('replay', 'pipeline')),
  PRIMARY KEY (parent_run_id, child_run_id)
) WITHOUT ROWID;
CREATE INDEX lineage_by_child ON lineage (child_run_id);

CREATE TABLE validation_results (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  command TEXT NOT NULL,
  name TEXT,
  exit_code INTEGER,
  ok INTEGER NOT NULL,
  timed_out INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  timeout_ms INTEGER,
  output_snippet TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts TEXT NOT NULL,
  kind TEXT NOT NULL,
  fields TEXT NOT NULL CHECK (json_valid(fields)),
  PRIMARY KEY (run_id, seq)
);

PRAGMA application_id = 1397310531;
)sql"},
    {2, R"sql(
-- Each record's revision (see run_store.hpp): records written before this are revision 0, as are
-- their copies, which carry no revision member.
ALTER TABLE tasks ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- Records whose JSON copy may be behind: one row per write, made in the transaction of the write
-- and removed by its writer once a copy at least that new is on disk. Whatever a crash leaves here,
-- the next open writes from the store.
CREATE TABLE pending_copies (
  kind TEXT NOT NULL CHECK (kind IN ('task', 'run')),
  id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  PRIMARY KEY (kind, id, revision)
) WITHOUT ROWID;
)sql"},
    {3, R"sql(
-- A run may answer the question its parent ended with (`sidecar run answer`): a third kind of
-- link. SQLite cannot change a CHECK, so the table is made again.
CREATE TABLE lineage_v3 (
  parent_run_id TEXT NOT NULL,
  child_run_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('replay', 'pipeline', 'answer')),
  PRIMARY KEY (parent_run_id, child_run_id)
) WITHOUT ROWID;
INSERT INTO lineage_v3 SELECT parent_run_id, child_run_id, kind FROM lineage;
DROP TABLE lineage;
ALTER TABLE lineage_v3 RENAME TO lineage;
CREATE INDEX lineage_by_child ON lineage (child_run_id);
)sql"},
    {4, R"sql(
-- The review queue (runs of a waiting status whose record's review_state is pending or not set:
-- stdlib/sidecar/task/review.lua) counted and listed without reading a record. The expression is
-- kRunReviewState of run_store_sql.hpp, as the queries write it: SQLite uses the index only then.
CREATE INDEX IF NOT EXISTS runs_by_review_state ON runs (status, coalesce(json_extract(record, '$.review_state'), ''), num);
)sql"},
    {5, R"sql(
-- Usage since a time (`sidecar usage --since`, a per_day budget, the runs of one command sharing a
-- budget, checked about once a second while their agents run) without reading every run.
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
)sql"},
    {6, R"sql(
-- The board of `sidecar ui` (stdlib/sidecar/service/run_board.lua): runs of one runner or one preset
-- counted by status and listed a page at a time without reading every record. The preset's
-- expression is kRunPreset of run_store_sql.hpp, as the queries write it.
CREATE INDEX IF NOT EXISTS runs_by_runner ON runs (runner_type, status, num);
CREATE INDEX IF NOT EXISTS runs_by_preset ON runs (json_extract(record, '$.preset'), status, num);
)sql"},
    {7, R"sql(
-- The text filter of the board and of run queries (RunQuery::text): each run's id, task id and
-- summary in a trigram index (rowid = num), so that a text of three characters or more reads the
-- runs that hold it instead of every record. Kept by triggers: a write that changes neither the
-- task nor the summary leaves the index alone.
CREATE VIRTUAL TABLE IF NOT EXISTS runs_text USING fts5(run_id, task_id, summary, tokenize = 'trigram');
DELETE FROM runs_text;
INSERT INTO runs_text (rowid, run_id, task_id, summary)
  SELECT num, run_id, coalesce(task_id, ''), coalesce(json_extract(record, '$.summary'), '') FROM runs;
CREATE TRIGGER IF NOT EXISTS runs_text_insert AFTER INSERT ON runs BEGIN
  INSERT INTO runs_text (rowid, run_id, task_id, summary)
    VALUES (new.num, new.run_id, coalesce(new.task_id, ''), coalesce(json_extract(new.record, '$.summary'), ''));
END;
CREATE TRIGGER IF NOT EXISTS runs_text_update AFTER UPDATE OF task_id, record ON runs
  WHEN old.task_id IS NOT new.task_id
    OR json_extract(old.record, '$.summary') IS NOT json_extract(new.record, '$.summary') BEGIN
  UPDATE runs_text SET task_id = coalesce(new.task_id, ''), summary = coalesce(json_extract(new.record, '$.summary'), '')
    WHERE rowid = new.num;
END;
CREATE TRIGGER IF NOT EXISTS runs_text_delete AFTER DELETE ON runs BEGIN
  DELETE FROM runs_text WHERE rowid = old.num;
END;
)sql"},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == RunStore::kSchemaVersion,
              "one migration per schema version");

std::string folder_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

// --- ids ----------------------------------------------------------------------------------------

std::optional<RecordKind> parse_record_kind(std::string_view name) {
  if (name == "task") return RecordKind::Task;
  if (name == "run") return RecordKind::Run;
  return std::nullopt;
}

std::string format_id(RecordKind kind, std::int64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c-%04lld", kind == RecordKind::Task ? 'T' : 'R', static_cast<long long>(number));
  return buf;
}

std::optional<std::int64_t> parse_id(RecordKind kind, std::string_view id) {
  char prefix = kind == RecordKind::Task ? 'T' : 'R';
  // At most 18 digits, so the number fits an int64 without overflow checks.
  if (id.size() < 3 || id.size() > 20 || id[0] != prefix || id[1] != '-') return std::nullopt;
  std::int64_t n = 0;
  for (char c : id.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n == 0) return std::nullopt;  // numbering starts at 1
  return n;
}

// --- opening --------------------------------------------------------------------------------------

RunStore::RunStore() = default;
RunStore::~RunStore() = default;
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;

bool RunStore::is_open() const { return impl_ != nullptr; }

const std::string& RunStore::path() const {
  static const std::string none;
  return impl_ ? impl_->path : none;
}

int RunStore::schema_version() const { return impl_ ? impl_->schema_version : 0; }

void RunStore::close() { impl_.reset(); }

RunStore::Impl* RunStore::ready(StoreError& error) {
  if (!impl_) {
    fail(error, "EBADF", "the store is not open");
    return nullptr;
  }
  return impl_.get();
}

bool RunStore::open(const std::string& path, StoreError& error, const StoreOptions& options) {
  close();
  // SQLite would only say "unable to open database file": name the folder, which is the caller's
  // to create (Sidecar creates .agent/ where it decides to).
  std::string folder = folder_of(path);
  struct stat st {};
  if (stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(error, "ENOENT", "cannot open the store " + path + ": folder " + folder + " does not exist");
  }

  auto s = std::make_unique<Impl>();
  s->path = path;
  s->options = options;
  // NOMUTEX: a connection belongs to one thread, so SQLite's per-connection mutex is only cost.
  int rc = sqlite3_open_v2(path.c_str(), &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return s->sql_fail(error, "cannot open", rc);
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, options.busy_timeout_ms);
  // Each `sidecar` command is a short process. By default the last connection to close copies the
  // WAL into the database and deletes it, and the next one makes it anew: four syncs (the WAL,
  // the database, the folder twice) on every command. The WAL is kept and copied back only when
  // it has grown (SQLite's automatic checkpoint), which changes nothing a reader sees and nothing
  // a crash can do. It is copied back every kWalPages pages rather than SQLite's 1000: the first
  // connection of each command reads the whole log back to rebuild its index, and a run writes
  // about 20 pages (an open took 1.06 ms with 414 pages in the log, 0.32 ms with none; the copy
  // costs two syncs every few runs).
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  int persist_wal = 1;
  sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal);
  constexpr int kWalPages = 100;
  sqlite3_wal_autocheckpoint(s->db, kWalPages);

  // Look before changing anything: a newer schema or someone else's database is left untouched.
  if (!s->check_header(error)) return false;

  // WAL: readers never block the writer or each other, and a commit is one append to the log.
  // Switching a new file to WAL needs a moment of exclusive access, which SQLite does not wait
  // for; several processes opening a fresh store at once retry here within the busy timeout.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.busy_timeout_ms);
  for (;;) {
    sqlite3_stmt* raw = nullptr;
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &raw, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(raw);
      if (rc == SQLITE_ROW) rc = SQLITE_OK;
    }
    sqlite3_finalize(raw);
    if (rc == SQLITE_OK) break;
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) {
      return s->sql_fail(error, "switching to WAL mode", rc);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // See StoreOptions::durable_fsync for why NORMAL is the default.
  if (!s->exec(options.durable_fsync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", error,
               "setting synchronous")) {
    return false;
  }

  for (const Migration& m : kMigrations) {
    if (m.version <= s->schema_version) continue;
    WriteTx tx(*s);
    if (!tx.begin(error)) return false;
    // Another process may have migrated while we waited for the lock: look again under it.
    if (!s->check_header(error)) return false;
    if (s->schema_version >= m.version) continue;
    if (!s->exec(m.sql, error, ("migrating to schema version " + std::to_string(m.version)).c_str())) return false;
    if (!s->exec(("PRAGMA user_version = " + std::to_string(m.version)).c_str(), error, "setting the schema version")) {
      return false;
    }
    if (!tx.commit(error)) return false;
    s->schema_version = m.version;
  }
  impl_ = std::move(s);
  return true;
}

// --- batches --------------------------------------------------------------------------------------

bool RunStore::begin_batch(StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (s->in_batch) return fail(error, "EINVAL", "a batch is already open on the store " + s->path);
  if (!s->exec("BEGIN IMMEDIATE", error, "starting a batch")) return false;
  s->in_batch = true;
  return true;
}

bool RunStore::commit_batch(StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (!s->in_batch) {
    return fail(error, "EINVAL", "no batch is open on the store " + s->path + " (or it was rolled back by an error)");
  }
  s->in_batch = false;
  if (s->exec("COMMIT", error, "committing a batch")) return true;
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", nullptr, nullptr, nullptr);
  return false;
}

void RunStore::rollback_batch() {
  if (!impl_ || !impl_->in_batch) return;
  impl_->in_batch = false;
  if (!sqlite3_get_autocommit(impl_->db)) sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace sidecar::host
