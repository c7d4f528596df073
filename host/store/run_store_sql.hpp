// Internal to the run store's source files (run_store*.cpp): the SQLite connection with its
// cached statements, statement and write-transaction helpers, and the row readers. Only those
// files include it, so sqlite3.h stays out of everything else.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/run_store.hpp"

namespace sidecar::host {
namespace store_detail {

// 'SIDC': marks the file as a Sidecar store, so another program's SQLite file is refused instead of
// having our tables added to it.
inline constexpr std::int32_t kApplicationId = 0x53494443;

// A run's review state as the index runs_by_review_state holds it (migration 4): "" when its record
// has none (absent, null or empty). A query must write it exactly so for SQLite to use the index.
inline constexpr const char* kRunReviewState = "coalesce(json_extract(record, '$.review_state'), '')";

// A run's preset as the index runs_by_preset holds it (migration 6), written so by the queries.
inline constexpr const char* kRunPreset = "json_extract(record, '$.preset')";

inline constexpr const char* kNowSeconds = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

inline const char* table_of(RecordKind kind) { return kind == RecordKind::Task ? "tasks" : "runs"; }
inline const char* id_column(RecordKind kind) { return kind == RecordKind::Task ? "task_id" : "run_id"; }
inline const char* counter_name(RecordKind kind) { return kind == RecordKind::Task ? "task" : "run"; }
inline const char* noun(RecordKind kind) { return kind == RecordKind::Task ? "task" : "run"; }

inline std::string code_of(int rc) {
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

inline bool fail(StoreError& error, std::string code, std::string message) {
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
  double double_at(int i) const { return sqlite3_column_double(s_, i); }
  std::string text_at(int i) const {
    const unsigned char* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_;
};

}  // namespace store_detail

using namespace store_detail;  // this header is internal to the store

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

  // Marks the copy of the record's write `revision` as owed (inside the caller's write transaction).
  bool mark_pending(RecordKind kind, const std::string& id, std::int64_t revision, StoreError& error) {
    Stmt st = statement("INSERT OR IGNORE INTO pending_copies (kind, id, revision) VALUES (?1, ?2, ?3)", error);
    if (!st) return false;
    st.text(1, noun(kind));
    st.text(2, id);
    st.int64(3, revision);
    return run(st, error, std::string("marking the copy of ") + noun(kind) + " " + id);
  }

  // Steps a statement that returns one integer (UPDATE ... RETURNING): the value, or nullopt (with
  // ENOENT when no row matched).
  std::optional<std::int64_t> returned_int(Stmt& st, StoreError& error, const std::string& what) {
    int rc = st.step();
    if (rc == SQLITE_DONE) {
      fail(error, "ENOENT", what + ": not found in the store " + path);
      return std::nullopt;
    }
    if (rc != SQLITE_ROW) {
      sql_fail(error, what, rc);
      return std::nullopt;
    }
    std::int64_t value = st.int64_at(0);
    while ((rc = st.step()) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
      sql_fail(error, what, rc);
      return std::nullopt;
    }
    return value;
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

namespace store_detail {

// One write: BEGIN IMMEDIATE takes the write lock up front (waiting out other writers through the
// busy timeout) so a transaction never fails half-way on a lock it could not upgrade. Inside a batch
// it is a savepoint of the batch's transaction instead. Rolled back unless committed.
class WriteTx {
 public:
  explicit WriteTx(RunStore::Impl& s) : s_(s) {}
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

  RunStore::Impl& s_;
  bool active_ = false;
  bool savepoint_ = false;
};

inline constexpr const char* kRunColumns =
    "run_id, task_id, status, runner_type, created_at, completed_at, parent_run_id, pipeline_id, record, revision";

inline Run read_run(const Stmt& st) {
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
  r.revision = st.int64_at(9);
  return r;
}

inline constexpr const char* kTaskColumns = "task_id, title, status, created_at, updated_at, record, revision";

inline Task read_task(const Stmt& st) {
  Task t;
  t.task_id = st.text_at(0);
  t.fields.title = st.text_at(1);
  t.fields.status = st.text_at(2);
  t.fields.created_at = st.text_at(3);
  t.fields.updated_at = st.text_at(4);
  t.record_json = st.text_at(5);
  t.revision = st.int64_at(6);
  return t;
}

inline std::string lineage_kind_for(const RunFields& f) {
  if (!f.link_kind.empty()) return f.link_kind;
  return f.pipeline_id.empty() ? "replay" : "pipeline";
}

// The kinds of link between two runs (the lineage table's CHECK).
inline bool is_lineage_kind(const std::string& kind) {
  return kind == "replay" || kind == "pipeline" || kind == "answer";
}

// SQL for the record text `record` with its `revision` member set to `revision` (both SQL
// expressions). Left as given when it already says so, which is the stdlib's case: the text the
// caller encoded is kept byte for byte.
inline std::string with_revision(const std::string& record, const std::string& revision) {
  return "CASE WHEN json_extract(" + record + ", '$.revision') IS " + revision + " THEN " + record +
         " ELSE json_set(" + record + ", '$.revision', " + revision + ") END";
}

}  // namespace store_detail
}  // namespace sidecar::host
