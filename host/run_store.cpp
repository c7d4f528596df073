#include "run_store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <unordered_map>
#include <utility>

namespace sidecar::host {
namespace {

// 'SIDC': marks the file as a Sidecar store, so another program's SQLite file is refused instead of
// having our tables added to it.
constexpr std::int32_t kApplicationId = 0x53494443;

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
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == RunStore::kSchemaVersion,
              "one migration per schema version");

constexpr const char* kNowSeconds = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

const char* table_of(RecordKind kind) { return kind == RecordKind::Task ? "tasks" : "runs"; }
const char* id_column(RecordKind kind) { return kind == RecordKind::Task ? "task_id" : "run_id"; }
const char* counter_name(RecordKind kind) { return kind == RecordKind::Task ? "task" : "run"; }
const char* noun(RecordKind kind) { return kind == RecordKind::Task ? "task" : "run"; }

std::string code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return "EBUSY";
    case SQLITE_NOTADB: return "ENOTDB";
    case SQLITE_CORRUPT: return "ECORRUPT";
    case SQLITE_FULL: return "ENOSPC";
    case SQLITE_READONLY: return "EROFS";
    case SQLITE_PERM:
    case SQLITE_AUTH: return "EACCES";
    case SQLITE_CONSTRAINT: return "EEXIST";
    case SQLITE_NOMEM: return "ENOMEM";
    default: return "EIO";
  }
}

bool fail(StoreError& error, std::string code, std::string message) {
  error = {std::move(message), std::move(code)};
  return false;
}

// A cached statement in use: bindings and results, reset (and its bindings cleared) when it goes
// out of scope so the next user starts clean and no read transaction is left open.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  explicit operator bool() const { return s_ != nullptr; }

  // Bound as copies: a temporary argument cannot dangle.
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void text_or_null(int i, const std::string& v) {
    if (v.empty()) sqlite3_bind_null(s_, i); else text(i, v);
  }
  void int64(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void int64_or_null(int i, const std::optional<std::int64_t>& v) {
    if (v) sqlite3_bind_int64(s_, i, *v); else sqlite3_bind_null(s_, i);
  }
  int step() { return sqlite3_step(s_); }

  bool is_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::int64_t int64_at(int i) const { return sqlite3_column_int64(s_, i); }
  std::string text_at(int i) const {
    const unsigned char* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

std::string folder_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

struct RunStore::Impl {
  sqlite3* db = nullptr;
  std::string path;
  StoreOptions options;
  int schema_version = 0;
  bool in_batch = false;
  // Prepared once per connection; keyed by the SQL text.
  std::unordered_map<std::string, sqlite3_stmt*> statements;

  ~Impl() {
    for (auto& entry : statements) sqlite3_finalize(entry.second);
    if (db) sqlite3_close(db);  // rolls back an open transaction
  }

  // Fills `error` from the connection's last failure; `what` says what we were doing.
  bool sql_fail(StoreError& error, const std::string& what, int rc) {
    std::string message = "store " + path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
      message += " (another process held the write lock for more than " +
                 std::to_string(options.busy_timeout_ms) + " ms)";
    }
    return fail(error, code_of(rc), std::move(message));
  }

  Stmt statement(const std::string& sql, StoreError& error) {
    auto it = statements.find(sql);
    if (it != statements.end()) return Stmt(it->second);
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sql_fail(error, "preparing a statement", rc);
      return Stmt(nullptr);
    }
    statements.emplace(sql, s);
    return Stmt(s);
  }

  bool exec(const char* sql, StoreError& error, const char* what) {
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK || sql_fail(error, what, rc);
  }

  // Reads the schema version, the application id and whether there are tables, in one statement so
  // they come from one snapshot (separately, another process's migration could land between the
  // reads and make a half-created store look foreign). Sets schema_version; fails on a schema newer
  // than ours or a database that is not a Sidecar store.
  bool check_header(StoreError& error) {
    Stmt st = statement(
        "SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id),"
        " (SELECT count(*) FROM sqlite_schema)",
        error);
    if (!st) {
      if (error.code == "ENOTDB") error.message = "cannot open the store " + path + ": it is not an SQLite database";
      return false;
    }
    int rc = st.step();
    if (rc != SQLITE_ROW) {
      sql_fail(error, "reading the schema version", rc);
      if (error.code == "ENOTDB") error.message = "cannot open the store " + path + ": it is not an SQLite database";
      return false;
    }
    std::int64_t version = st.int64_at(0), app = st.int64_at(1), tables = st.int64_at(2);
    if (version > RunStore::kSchemaVersion) {
      return fail(error, "ESCHEMA",
                  "the store " + path + " has schema version " + std::to_string(version) +
                      ", newer than this Sidecar knows (" + std::to_string(RunStore::kSchemaVersion) +
                      "): use a newer Sidecar, or move the file away to start a new store");
    }
    if (version > 0 ? app != kApplicationId : tables > 0) {
      return fail(error, "ESCHEMA", "cannot open the store " + path + ": it is an SQLite database of another program");
    }
    schema_version = static_cast<int>(version);
    return true;
  }

  // Runs a statement that returns no rows.
  bool run(Stmt& st, StoreError& error, const std::string& what) {
    int rc = st.step();
    return rc == SQLITE_DONE || sql_fail(error, what, rc);
  }

  // Whether a row with that id exists; nullopt on a failure.
  std::optional<bool> exists(RecordKind kind, const std::string& id, StoreError& error) {
    Stmt st = statement(std::string("SELECT 1 FROM ") + table_of(kind) + " WHERE " + id_column(kind) + " = ?1", error);
    if (!st) return std::nullopt;
    st.text(1, id);
    int rc = st.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sql_fail(error, std::string("looking up ") + noun(kind) + " " + id, rc);
    return std::nullopt;
  }

  // Fails with ENOENT unless the record exists.
  bool require(RecordKind kind, const std::string& id, StoreError& error, const char* role = nullptr) {
    std::optional<bool> found = exists(kind, id, error);
    if (!found) return false;
    if (*found) return true;
    return fail(error, "ENOENT",
                std::string(role ? role : noun(kind)) + " " + id + " not found in the store " + path);
  }

  // A record must be a JSON object, and a member naming its id (`id_key`), when present and not
  // null, must name `id`. SQLite's own parser decides what JSON is, as it does for the CHECKs.
  bool check_json_object(const std::string& text, const char* what, const char* id_key, const std::string& id,
                         StoreError& error) {
    Stmt st = statement(
        "SELECT json_valid(?1), CASE WHEN json_valid(?1) THEN json_type(?1) END,"
        " CASE WHEN json_valid(?1) THEN json_type(?1, ?2) END, CASE WHEN json_valid(?1) THEN json_extract(?1, ?2) END",
        error);
    if (!st) return false;
    st.text(1, text);
    st.text(2, std::string("$.") + (id_key ? id_key : "_"));
    int rc = st.step();
    if (rc != SQLITE_ROW) return sql_fail(error, std::string("checking the ") + what, rc);
    if (st.int64_at(0) == 0) return fail(error, "EINVAL", std::string("the ") + what + " is not valid JSON");
    if (st.text_at(1) != "object") {
      return fail(error, "EINVAL", std::string("the ") + what + " is JSON " + st.text_at(1) + ", not an object");
    }
    if (id_key && !st.is_null(2) && st.text_at(2) != "null") {
      if (st.text_at(2) != "text" || st.text_at(3) != id) {
        return fail(error, "EINVAL",
                    std::string("the ") + what + " says " + id_key + " is " + st.text_at(3) + ", but it is " + id);
      }
    }
    return true;
  }

  // The next number of that kind; the caller's write transaction holds the lock.
  std::optional<std::int64_t> allocate(RecordKind kind, StoreError& error) {
    Stmt st = statement("UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value", error);
    if (!st) return std::nullopt;
    st.text(1, counter_name(kind));
    int rc = st.step();
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_DONE) fail(error, "ECORRUPT", "store " + path + ": the id counter is missing");
      else sql_fail(error, "allocating an id", rc);
      return std::nullopt;
    }
    std::int64_t n = st.int64_at(0);
    while ((rc = st.step()) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
      sql_fail(error, "allocating an id", rc);
      return std::nullopt;
    }
    return n;
  }

  bool link(const std::string& parent, const std::string& child, const std::string& kind, StoreError& error) {
    Stmt st = statement(
        "INSERT INTO lineage (parent_run_id, child_run_id, kind) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (parent_run_id, child_run_id) DO UPDATE SET kind = excluded.kind",
        error);
    if (!st) return false;
    st.text(1, parent);
    st.text(2, child);
    st.text(3, kind);
    return run(st, error, "linking run " + child + " to " + parent);
  }
};

namespace {

using Impl = RunStore::Impl;

// One write: BEGIN IMMEDIATE takes the write lock up front (waiting out other writers through the
// busy timeout) so a transaction never fails half-way on a lock it could not upgrade. Inside a batch
// it is a savepoint of the batch's transaction instead. Rolled back unless committed.
class WriteTx {
 public:
  explicit WriteTx(Impl& s) : s_(s) {}
  ~WriteTx() {
    if (active_) rollback();
  }
  WriteTx(const WriteTx&) = delete;
  WriteTx& operator=(const WriteTx&) = delete;

  bool begin(StoreError& error) {
    savepoint_ = s_.in_batch;
    if (!s_.exec(savepoint_ ? "SAVEPOINT op" : "BEGIN IMMEDIATE", error, "starting a write")) return false;
    active_ = true;
    return true;
  }

  bool commit(StoreError& error) {
    active_ = false;
    if (s_.exec(savepoint_ ? "RELEASE op" : "COMMIT", error, "committing")) return true;
    if (!sqlite3_get_autocommit(s_.db)) {
      active_ = true;
      rollback();
    }
    return false;
  }

 private:
  void rollback() {
    active_ = false;
    // An I/O or memory error may already have rolled back the whole transaction (the batch's too):
    // then there is nothing left to roll back, and the batch is over.
    if (sqlite3_get_autocommit(s_.db)) {
      s_.in_batch = false;
      return;
    }
    if (savepoint_) sqlite3_exec(s_.db, "ROLLBACK TO op; RELEASE op", nullptr, nullptr, nullptr);
    else sqlite3_exec(s_.db, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  Impl& s_;
  bool active_ = false;
  bool savepoint_ = false;
};

const char* kRunColumns =
    "run_id, task_id, status, runner_type, created_at, completed_at, parent_run_id, pipeline_id, record";

Run read_run(const Stmt& st) {
  Run r;
  r.run_id = st.text_at(0);
  r.fields.task_id = st.text_at(1);
  r.fields.status = st.text_at(2);
  r.fields.runner_type = st.text_at(3);
  r.fields.created_at = st.text_at(4);
  r.fields.completed_at = st.text_at(5);
  r.fields.parent_run_id = st.text_at(6);
  r.fields.pipeline_id = st.text_at(7);
  r.record_json = st.text_at(8);
  return r;
}

const char* kTaskColumns = "task_id, title, status, created_at, updated_at, record";

Task read_task(const Stmt& st) {
  Task t;
  t.task_id = st.text_at(0);
  t.fields.title = st.text_at(1);
  t.fields.status = st.text_at(2);
  t.fields.created_at = st.text_at(3);
  t.fields.updated_at = st.text_at(4);
  t.record_json = st.text_at(5);
  return t;
}

std::string lineage_kind_for(const RunFields& f) { return f.pipeline_id.empty() ? "replay" : "pipeline"; }

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

// --- tasks ----------------------------------------------------------------------------------------

std::optional<std::string> RunStore::create_task(const TaskFields& fields, const std::string& record_json,
                                                 StoreError& error) {
  return create_task(fields, [&](const std::string&) { return record_json; }, error);
}

std::optional<std::string> RunStore::create_task(const TaskFields& fields, const RecordMaker& make_record,
                                                 StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (fields.status.empty()) {
    fail(error, "EINVAL", "a task needs a status");
    return std::nullopt;
  }
  WriteTx tx(*s);
  if (!tx.begin(error)) return std::nullopt;
  std::optional<std::int64_t> n = s->allocate(RecordKind::Task, error);
  if (!n) return std::nullopt;
  std::string id = format_id(RecordKind::Task, *n);
  std::string record = make_record(id);
  if (!s->check_json_object(record, "task record", "task_id", id, error)) return std::nullopt;
  Stmt st = s->statement(std::string("INSERT INTO tasks (num, task_id, title, status, created_at, updated_at, record)"
                                     " VALUES (?1, ?2, ?3, ?4, coalesce(?5, ") + kNowSeconds + "), coalesce(?6, ?5, " +
                             kNowSeconds + "), ?7)",
                         error);
  if (!st) return std::nullopt;
  st.int64(1, *n);
  st.text(2, id);
  st.text(3, fields.title);
  st.text(4, fields.status);
  st.text_or_null(5, fields.created_at);
  st.text_or_null(6, fields.updated_at);
  st.text(7, record);
  if (!s->run(st, error, "inserting task " + id) || !tx.commit(error)) return std::nullopt;
  return id;
}

bool RunStore::update_task(const std::string& task_id, const TaskFields& fields, const std::string& record_json,
                           StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (fields.status.empty()) return fail(error, "EINVAL", "a task needs a status");
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Task, task_id, error)) return false;
  if (!s->check_json_object(record_json, "task record", "task_id", task_id, error)) return false;
  Stmt st = s->statement(std::string("UPDATE tasks SET title = ?2, status = ?3, created_at = coalesce(?4, created_at),"
                                     " updated_at = coalesce(?5, ") + kNowSeconds + "), record = ?6 WHERE task_id = ?1",
                         error);
  if (!st) return false;
  st.text(1, task_id);
  st.text(2, fields.title);
  st.text(3, fields.status);
  st.text_or_null(4, fields.created_at);
  st.text_or_null(5, fields.updated_at);
  st.text(6, record_json);
  return s->run(st, error, "updating task " + task_id) && tx.commit(error);
}

bool RunStore::update_task_status(const std::string& task_id, const std::string& status, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (status.empty()) return fail(error, "EINVAL", "a task needs a status");
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Task, task_id, error)) return false;
  Stmt st = s->statement(std::string("UPDATE tasks SET status = ?2, updated_at = ") + kNowSeconds +
                             ", record = json_set(record, '$.status', ?2) WHERE task_id = ?1",
                         error);
  if (!st) return false;
  st.text(1, task_id);
  st.text(2, status);
  return s->run(st, error, "updating task " + task_id) && tx.commit(error);
}

std::optional<Task> RunStore::get_task(const std::string& task_id, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Stmt st = s->statement(std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE task_id = ?1", error);
  if (!st) return std::nullopt;
  st.text(1, task_id);
  int rc = st.step();
  if (rc == SQLITE_ROW) return read_task(st);
  if (rc == SQLITE_DONE) fail(error, "ENOENT", "task " + task_id + " not found in the store " + s->path);
  else s->sql_fail(error, "reading task " + task_id, rc);
  return std::nullopt;
}

std::optional<std::vector<Task>> RunStore::list_tasks(const TaskQuery& query, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks";
  if (!query.status.empty()) sql += " WHERE status = ?1";
  sql += " ORDER BY num DESC LIMIT ?2";
  Stmt st = s->statement(sql, error);
  if (!st) return std::nullopt;
  if (!query.status.empty()) st.text(1, query.status);
  st.int64(2, query.limit > 0 ? query.limit : -1);
  std::vector<Task> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_task(st));
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "listing tasks", rc);
    return std::nullopt;
  }
  return out;
}

// --- runs -----------------------------------------------------------------------------------------

std::optional<std::string> RunStore::create_run(const RunFields& fields, const std::string& record_json,
                                                StoreError& error) {
  return create_run(fields, [&](const std::string&) { return record_json; }, error);
}

std::optional<std::string> RunStore::create_run(const RunFields& fields, const RecordMaker& make_record,
                                                StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (fields.status.empty()) {
    fail(error, "EINVAL", "a run needs a status");
    return std::nullopt;
  }
  WriteTx tx(*s);
  if (!tx.begin(error)) return std::nullopt;
  if (!fields.parent_run_id.empty() && !s->require(RecordKind::Run, fields.parent_run_id, error, "parent run")) {
    return std::nullopt;
  }
  std::optional<std::int64_t> n = s->allocate(RecordKind::Run, error);
  if (!n) return std::nullopt;
  std::string id = format_id(RecordKind::Run, *n);
  std::string record = make_record(id);
  if (!s->check_json_object(record, "run record", "run_id", id, error)) return std::nullopt;
  Stmt st = s->statement(std::string("INSERT INTO runs (num, ") + kRunColumns +
                             ") VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, " + kNowSeconds + "), ?7, ?8, ?9, ?10)",
                         error);
  if (!st) return std::nullopt;
  st.int64(1, *n);
  st.text(2, id);
  st.text_or_null(3, fields.task_id);
  st.text(4, fields.status);
  st.text(5, fields.runner_type);
  st.text_or_null(6, fields.created_at);
  st.text_or_null(7, fields.completed_at);
  st.text_or_null(8, fields.parent_run_id);
  st.text_or_null(9, fields.pipeline_id);
  st.text(10, record);
  if (!s->run(st, error, "inserting run " + id)) return std::nullopt;
  if (!fields.parent_run_id.empty() && !s->link(fields.parent_run_id, id, lineage_kind_for(fields), error)) {
    return std::nullopt;
  }
  if (!tx.commit(error)) return std::nullopt;
  return id;
}

bool RunStore::update_run(const std::string& run_id, const RunFields& fields, const std::string& record_json,
                          StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (fields.status.empty()) return fail(error, "EINVAL", "a run needs a status");
  if (fields.parent_run_id == run_id) return fail(error, "EINVAL", "run " + run_id + " cannot be its own parent");
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Run, run_id, error)) return false;
  if (!fields.parent_run_id.empty() && !s->require(RecordKind::Run, fields.parent_run_id, error, "parent run")) {
    return false;
  }
  if (!s->check_json_object(record_json, "run record", "run_id", run_id, error)) return false;
  Stmt st = s->statement(
      "UPDATE runs SET task_id = ?2, status = ?3, runner_type = ?4, created_at = coalesce(?5, created_at),"
      " completed_at = ?6, parent_run_id = ?7, pipeline_id = ?8, record = ?9 WHERE run_id = ?1",
      error);
  if (!st) return false;
  st.text(1, run_id);
  st.text_or_null(2, fields.task_id);
  st.text(3, fields.status);
  st.text(4, fields.runner_type);
  st.text_or_null(5, fields.created_at);
  st.text_or_null(6, fields.completed_at);
  st.text_or_null(7, fields.parent_run_id);
  st.text_or_null(8, fields.pipeline_id);
  st.text(9, record_json);
  if (!s->run(st, error, "updating run " + run_id)) return false;
  if (!fields.parent_run_id.empty() && !s->link(fields.parent_run_id, run_id, lineage_kind_for(fields), error)) {
    return false;
  }
  return tx.commit(error);
}

std::optional<Run> RunStore::get_run(const std::string& run_id, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Stmt st = s->statement(std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id = ?1", error);
  if (!st) return std::nullopt;
  st.text(1, run_id);
  int rc = st.step();
  if (rc == SQLITE_ROW) return read_run(st);
  if (rc == SQLITE_DONE) fail(error, "ENOENT", "run " + run_id + " not found in the store " + s->path);
  else s->sql_fail(error, "reading run " + run_id, rc);
  return std::nullopt;
}

std::optional<std::vector<Run>> RunStore::list_runs(const RunQuery& query, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  std::int64_t before = INT64_MAX;
  if (!query.before.empty()) {
    std::optional<std::int64_t> n = parse_id(RecordKind::Run, query.before);
    if (!n) {
      fail(error, "EINVAL", "'" + query.before + "' is not a run id (R-0001)");
      return std::nullopt;
    }
    before = *n;
  }
  // One statement per combination of filters, so each is planned onto its own index (a
  // "?1 IS NULL OR status = ?1" form would defeat the planner).
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE num < ?3";
  if (!query.status.empty()) sql += " AND status = ?1";
  if (!query.task_id.empty()) sql += " AND task_id = ?2";
  sql += " ORDER BY num DESC LIMIT ?4";
  Stmt st = s->statement(sql, error);
  if (!st) return std::nullopt;
  if (!query.status.empty()) st.text(1, query.status);
  if (!query.task_id.empty()) st.text(2, query.task_id);
  st.int64(3, before);
  st.int64(4, query.limit > 0 ? query.limit : -1);
  std::vector<Run> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_run(st));
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "listing runs", rc);
    return std::nullopt;
  }
  return out;
}

// --- lineage --------------------------------------------------------------------------------------

bool RunStore::add_lineage(const std::string& parent_run_id, const std::string& child_run_id, const std::string& kind,
                           StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (kind != "replay" && kind != "pipeline") {
    return fail(error, "EINVAL", "lineage kind '" + kind + "' is neither replay nor pipeline");
  }
  if (parent_run_id == child_run_id) {
    return fail(error, "EINVAL", "run " + child_run_id + " cannot be its own parent");
  }
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Run, parent_run_id, error, "parent run") ||
      !s->require(RecordKind::Run, child_run_id, error, "child run")) {
    return false;
  }
  return s->link(parent_run_id, child_run_id, kind, error) && tx.commit(error);
}

std::optional<Lineage> RunStore::lineage_of(const std::string& run_id, StoreError& error) {
  Impl* s = ready(error);
  if (!s || !s->require(RecordKind::Run, run_id, error)) return std::nullopt;
  Lineage out;
  // Ordered by the other run's number (creation order); a run not (yet) in the store goes last.
  const char* queries[2] = {
      "SELECT l.parent_run_id, l.child_run_id, l.kind FROM lineage l LEFT JOIN runs r ON r.run_id = l.parent_run_id"
      " WHERE l.child_run_id = ?1 ORDER BY r.num IS NULL, r.num, l.parent_run_id",
      "SELECT l.parent_run_id, l.child_run_id, l.kind FROM lineage l LEFT JOIN runs r ON r.run_id = l.child_run_id"
      " WHERE l.parent_run_id = ?1 ORDER BY r.num IS NULL, r.num, l.child_run_id",
  };
  for (int i = 0; i < 2; ++i) {
    Stmt st = s->statement(queries[i], error);
    if (!st) return std::nullopt;
    st.text(1, run_id);
    std::vector<LineageLink>& links = i == 0 ? out.parents : out.children;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) links.push_back({st.text_at(0), st.text_at(1), st.text_at(2)});
    if (rc != SQLITE_DONE) {
      s->sql_fail(error, "reading the lineage of run " + run_id, rc);
      return std::nullopt;
    }
  }
  return out;
}

// --- validation results ---------------------------------------------------------------------------

std::optional<std::int64_t> RunStore::add_validation_result(const std::string& run_id, const ValidationResult& result,
                                                            StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (result.kind.empty()) {
    fail(error, "EINVAL", "a validation result needs a kind");
    return std::nullopt;
  }
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Run, run_id, error)) return std::nullopt;
  // seq is max + 1, which is safe here: the write lock is held from BEGIN IMMEDIATE.
  Stmt st = s->statement(
      "INSERT INTO validation_results (run_id, seq, kind, command, name, exit_code, ok, timed_out, duration_ms,"
      " timeout_ms, output_snippet)"
      " SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM validation_results"
      " WHERE run_id = ?1 RETURNING seq",
      error);
  if (!st) return std::nullopt;
  st.text(1, run_id);
  st.text(2, result.kind);
  st.text(3, result.command);
  st.text_or_null(4, result.name);
  st.int64_or_null(5, result.exit_code);
  st.int64(6, result.ok ? 1 : 0);
  st.int64(7, result.timed_out ? 1 : 0);
  st.int64(8, result.duration_ms);
  st.int64_or_null(9, result.timeout_ms);
  st.text(10, result.output_snippet);
  int rc = st.step();
  if (rc != SQLITE_ROW) {
    s->sql_fail(error, "adding a validation result to run " + run_id, rc);
    return std::nullopt;
  }
  std::int64_t seq = st.int64_at(0);
  while ((rc = st.step()) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "adding a validation result to run " + run_id, rc);
    return std::nullopt;
  }
  if (!tx.commit(error)) return std::nullopt;
  return seq;
}

std::optional<std::vector<ValidationResult>> RunStore::validation_results(const std::string& run_id,
                                                                          StoreError& error) {
  Impl* s = ready(error);
  if (!s || !s->require(RecordKind::Run, run_id, error)) return std::nullopt;
  Stmt st = s->statement(
      "SELECT seq, kind, command, name, exit_code, ok, timed_out, duration_ms, timeout_ms, output_snippet"
      " FROM validation_results WHERE run_id = ?1 ORDER BY seq",
      error);
  if (!st) return std::nullopt;
  st.text(1, run_id);
  std::vector<ValidationResult> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    ValidationResult v;
    v.seq = st.int64_at(0);
    v.kind = st.text_at(1);
    v.command = st.text_at(2);
    v.name = st.text_at(3);
    if (!st.is_null(4)) v.exit_code = st.int64_at(4);
    v.ok = st.int64_at(5) != 0;
    v.timed_out = st.int64_at(6) != 0;
    v.duration_ms = st.int64_at(7);
    if (!st.is_null(8)) v.timeout_ms = st.int64_at(8);
    v.output_snippet = st.text_at(9);
    out.push_back(std::move(v));
  }
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "reading the validation results of run " + run_id, rc);
    return std::nullopt;
  }
  return out;
}

// --- events ---------------------------------------------------------------------------------------

std::optional<std::int64_t> RunStore::append_event(const std::string& run_id, const std::string& ts,
                                                   const std::string& kind, const std::string& fields_json,
                                                   StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (kind.empty()) {
    fail(error, "EINVAL", "an event needs a kind");
    return std::nullopt;
  }
  const std::string fields = fields_json.empty() ? "{}" : fields_json;
  if (!s->check_json_object(fields, "event's fields", nullptr, {}, error)) return std::nullopt;
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Run, run_id, error)) return std::nullopt;
  Stmt st = s->statement(
      "INSERT INTO events (run_id, seq, ts, kind, fields)"
      " SELECT ?1, coalesce(max(seq), 0) + 1, coalesce(?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?3, ?4"
      " FROM events WHERE run_id = ?1 RETURNING seq",
      error);
  if (!st) return std::nullopt;
  st.text(1, run_id);
  st.text_or_null(2, ts);
  st.text(3, kind);
  st.text(4, fields);
  int rc = st.step();
  if (rc != SQLITE_ROW) {
    s->sql_fail(error, "appending an event to run " + run_id, rc);
    return std::nullopt;
  }
  std::int64_t seq = st.int64_at(0);
  while ((rc = st.step()) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "appending an event to run " + run_id, rc);
    return std::nullopt;
  }
  if (!tx.commit(error)) return std::nullopt;
  return seq;
}

std::optional<std::vector<Event>> RunStore::events(const std::string& run_id, StoreError& error,
                                                   std::int64_t after_seq, int limit) {
  Impl* s = ready(error);
  if (!s || !s->require(RecordKind::Run, run_id, error)) return std::nullopt;
  Stmt st = s->statement(
      "SELECT seq, ts, kind, fields FROM events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3", error);
  if (!st) return std::nullopt;
  st.text(1, run_id);
  st.int64(2, after_seq);
  st.int64(3, limit > 0 ? limit : -1);
  std::vector<Event> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back({st.int64_at(0), st.text_at(1), st.text_at(2), st.text_at(3)});
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "reading the events of run " + run_id, rc);
    return std::nullopt;
  }
  return out;
}

// --- rebuild and check ----------------------------------------------------------------------------

bool RunStore::import_record(RecordKind kind, const std::string& id, const std::string& record_json,
                             StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  std::optional<std::int64_t> n = parse_id(kind, id);
  if (!n) {
    return fail(error, "EINVAL", "'" + id + "' is not a " + noun(kind) + " id (" + format_id(kind, 1) + ")");
  }
  WriteTx tx(*s);
  if (!tx.begin(error)) return false;
  const std::string what = std::string(noun(kind)) + " record " + id;
  if (!s->check_json_object(record_json, what.c_str(), id_column(kind), id, error)) return false;

  // R-001 and R-0001 are the same number: one of them would shadow the other.
  {
    Stmt st = s->statement(std::string("SELECT ") + id_column(kind) + " FROM " + table_of(kind) + " WHERE num = ?1",
                           error);
    if (!st) return false;
    st.int64(1, *n);
    int rc = st.step();
    if (rc == SQLITE_ROW && st.text_at(0) != id) {
      return fail(error, "EEXIST", "cannot import " + id + ": the store has " + st.text_at(0) + ", the same number");
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s->sql_fail(error, "importing " + id, rc);
  }

  if (kind == RecordKind::Task) {
    Stmt st = s->statement(
        "INSERT INTO tasks (num, task_id, title, status, created_at, updated_at, record)"
        " VALUES (?1, ?2, coalesce(json_extract(?3, '$.title'), ''), coalesce(json_extract(?3, '$.status'), 'draft'),"
        " coalesce(json_extract(?3, '$.created_at'), ''),"
        " coalesce(json_extract(?3, '$.updated_at'), json_extract(?3, '$.created_at'), ''), ?3)"
        " ON CONFLICT (task_id) DO UPDATE SET title = excluded.title, status = excluded.status,"
        " created_at = excluded.created_at, updated_at = excluded.updated_at, record = excluded.record",
        error);
    if (!st) return false;
    st.int64(1, *n);
    st.text(2, id);
    st.text(3, record_json);
    if (!s->run(st, error, "importing " + id)) return false;
  } else {
    Stmt st = s->statement(
        "INSERT INTO runs (num, run_id, task_id, status, runner_type, created_at, completed_at, parent_run_id,"
        " pipeline_id, record)"
        " VALUES (?1, ?2, json_extract(?3, '$.task_id'), coalesce(json_extract(?3, '$.status'), 'queued'),"
        " coalesce(json_extract(?3, '$.runner_type'), ''),"
        " coalesce(json_extract(?3, '$.created_at'), json_extract(?3, '$.started_at'), ''),"
        " json_extract(?3, '$.completed_at'), nullif(json_extract(?3, '$.parent_run_id'), ''),"
        " nullif(json_extract(?3, '$.pipeline_id'), ''), ?3)"
        " ON CONFLICT (run_id) DO UPDATE SET task_id = excluded.task_id, status = excluded.status,"
        " runner_type = excluded.runner_type, created_at = excluded.created_at, completed_at = excluded.completed_at,"
        " parent_run_id = excluded.parent_run_id, pipeline_id = excluded.pipeline_id, record = excluded.record"
        " RETURNING parent_run_id, pipeline_id",
        error);
    if (!st) return false;
    st.int64(1, *n);
    st.text(2, id);
    st.text(3, record_json);
    int rc = st.step();
    if (rc != SQLITE_ROW) return s->sql_fail(error, "importing " + id, rc);
    RunFields link;
    link.parent_run_id = st.text_at(0);
    link.pipeline_id = st.text_at(1);
    while ((rc = st.step()) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return s->sql_fail(error, "importing " + id, rc);
    // The parent may not be imported yet (files come in any order): link without looking it up.
    if (!link.parent_run_id.empty() && link.parent_run_id != id &&
        !s->link(link.parent_run_id, id, lineage_kind_for(link), error)) {
      return false;
    }
    // validation[] becomes the run's validation results, replacing any from before.
    Stmt del = s->statement("DELETE FROM validation_results WHERE run_id = ?1", error);
    if (!del) return false;
    del.text(1, id);
    if (!s->run(del, error, "importing " + id)) return false;
    Stmt add = s->statement(
        "INSERT INTO validation_results (run_id, seq, kind, command, name, exit_code, ok, timed_out, duration_ms,"
        " timeout_ms, output_snippet)"
        " SELECT ?1, key + 1,"
        "  CASE WHEN type = 'object' THEN coalesce(json_extract(value, '$.kind'), 'custom') ELSE 'custom' END,"
        "  CASE WHEN type = 'object' THEN coalesce(json_extract(value, '$.command'), '') ELSE value END,"
        "  CASE WHEN type = 'object' THEN json_extract(value, '$.name') END,"
        "  CASE WHEN type = 'object' THEN json_extract(value, '$.exit_code') END,"
        "  CASE WHEN type = 'object' THEN coalesce(json_extract(value, '$.ok'), 0) ELSE 0 END,"
        "  CASE WHEN type = 'object' THEN coalesce(json_extract(value, '$.timed_out'), 0) ELSE 0 END,"
        "  CASE WHEN type = 'object' THEN coalesce(json_extract(value, '$.duration_ms'), 0) ELSE 0 END,"
        "  CASE WHEN type = 'object' THEN json_extract(value, '$.timeout_ms') END,"
        "  CASE WHEN type = 'object' THEN coalesce(json_extract(value, '$.output_snippet'), '') ELSE '' END"
        " FROM json_each(?2, '$.validation') WHERE json_type(?2, '$.validation') = 'array'",
        error);
    if (!add) return false;
    add.text(1, id);
    add.text(2, record_json);
    if (!s->run(add, error, "importing the validation results of " + id)) return false;
  }

  // Later allocations continue after the imported number, never reusing it.
  Stmt bump = s->statement("UPDATE counters SET value = max(value, ?2) WHERE name = ?1", error);
  if (!bump) return false;
  bump.text(1, counter_name(kind));
  bump.int64(2, *n);
  return s->run(bump, error, "importing " + id) && tx.commit(error);
}

std::optional<RecordMatch> RunStore::check_record(RecordKind kind, const std::string& id,
                                                  const std::string& record_json, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  // Only valid JSON can be compared as JSON (json() would raise on anything else).
  {
    Stmt valid = s->statement("SELECT json_valid(?1)", error);
    if (!valid) return std::nullopt;
    valid.text(1, record_json);
    int rc = valid.step();
    if (rc != SQLITE_ROW) {
      s->sql_fail(error, "checking " + id, rc);
      return std::nullopt;
    }
    if (valid.int64_at(0) == 0) {
      fail(error, "EINVAL", "the " + std::string(noun(kind)) + " record " + id + " given to compare is not valid JSON");
      return std::nullopt;
    }
  }
  Stmt st = s->statement(std::string("SELECT record = ?2, json(record) = json(?2) FROM ") + table_of(kind) + " WHERE " +
                             id_column(kind) + " = ?1",
                         error);
  if (!st) return std::nullopt;
  st.text(1, id);
  st.text(2, record_json);
  int rc = st.step();
  if (rc == SQLITE_DONE) return RecordMatch::Missing;
  if (rc != SQLITE_ROW) {
    s->sql_fail(error, "checking " + id, rc);
    return std::nullopt;
  }
  if (st.int64_at(0)) return RecordMatch::Same;
  return st.int64_at(1) ? RecordMatch::Equivalent : RecordMatch::Different;
}

std::optional<std::int64_t> RunStore::counter(RecordKind kind, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Stmt st = s->statement("SELECT value FROM counters WHERE name = ?1", error);
  if (!st) return std::nullopt;
  st.text(1, counter_name(kind));
  int rc = st.step();
  if (rc == SQLITE_ROW) return st.int64_at(0);
  if (rc == SQLITE_DONE) fail(error, "ECORRUPT", "store " + s->path + ": the id counter is missing");
  else s->sql_fail(error, "reading the id counter", rc);
  return std::nullopt;
}

std::optional<std::string> RunStore::integrity_check(StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Stmt st = s->statement("PRAGMA integrity_check", error);
  if (!st) return std::nullopt;
  std::string out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    if (!out.empty()) out += '\n';
    out += st.text_at(0);
  }
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "checking integrity", rc);
    return std::nullopt;
  }
  return out;
}

}  // namespace sidecar::host
