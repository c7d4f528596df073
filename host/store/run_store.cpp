// Tasks, runs, lineage, validation results and events: the store's reads and writes.
#include <utility>

#include "store/run_store_sql.hpp"

namespace sidecar::host {

namespace {

// A new record in the caller's open write transaction: its number, its id and its JSON (made by
// `make_record` for that id, checked to be an object naming it). nullopt with `error` on failure,
// EINVAL first when the record has no status.
struct NewRecord {
  std::int64_t num;
  std::string id;
  std::string json;
};

template <typename Store>
std::optional<NewRecord> new_record(Store* s, RecordKind kind, const std::string& status,
                                    const RunStore::RecordMaker& make_record, StoreError& error) {
  const bool task = kind == RecordKind::Task;
  if (status.empty()) {
    fail(error, "EINVAL", task ? "a task needs a status" : "a run needs a status");
    return std::nullopt;
  }
  std::optional<std::int64_t> n = s->allocate(kind, error);
  if (!n) return std::nullopt;
  NewRecord r{*n, format_id(kind, *n), ""};
  r.json = make_record(r.id);
  if (!s->check_json_object(r.json, task ? "task record" : "run record", task ? "task_id" : "run_id", r.id, error)) {
    return std::nullopt;
  }
  return r;
}

}  // namespace

// --- tasks ----------------------------------------------------------------------------------------

std::optional<std::string> RunStore::create_task(const TaskFields& fields, const std::string& record_json,
                                                 StoreError& error) {
  return create_task(fields, [&](const std::string&) { return record_json; }, error);
}

std::optional<std::string> RunStore::create_task(const TaskFields& fields, const RecordMaker& make_record,
                                                 StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  WriteTx tx(*s);
  if (!tx.begin(error)) return std::nullopt;
  std::optional<NewRecord> made = new_record(s, RecordKind::Task, fields.status, make_record, error);
  if (!made) return std::nullopt;
  const std::string& id = made->id;
  Stmt st = s->statement(
      std::string("INSERT INTO tasks (num, task_id, title, status, created_at, updated_at, record, revision)"
                  " VALUES (?1, ?2, ?3, ?4, coalesce(?5, ") +
          kNowSeconds + "), coalesce(?6, ?5, " + kNowSeconds + "), " + with_revision("?7", "1") + ", 1)",
      error);
  if (!st) return std::nullopt;
  st.int64(1, made->num);
  st.text(2, id);
  st.text(3, fields.title);
  st.text(4, fields.status);
  st.text_or_null(5, fields.created_at);
  st.text_or_null(6, fields.updated_at);
  st.text(7, made->json);
  if (!s->run(st, error, "inserting task " + id) || !s->mark_pending(RecordKind::Task, id, 1, error) ||
      !tx.commit(error)) {
    return std::nullopt;
  }
  return id;
}

std::optional<std::int64_t> RunStore::update_task(const std::string& task_id, const TaskFields& fields,
                                                 const std::string& record_json, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (fields.status.empty()) {
    fail(error, "EINVAL", "a task needs a status");
    return std::nullopt;
  }
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Task, task_id, error)) return std::nullopt;
  if (!s->check_json_object(record_json, "task record", "task_id", task_id, error)) return std::nullopt;
  // The right-hand sides see the row as it was: revision + 1 is the new revision throughout.
  Stmt st = s->statement(std::string("UPDATE tasks SET title = ?2, status = ?3, created_at = coalesce(?4, created_at),"
                                     " updated_at = coalesce(?5, ") +
                             kNowSeconds + "), record = " + with_revision("?6", "revision + 1") +
                             ", revision = revision + 1 WHERE task_id = ?1 RETURNING revision",
                         error);
  if (!st) return std::nullopt;
  st.text(1, task_id);
  st.text(2, fields.title);
  st.text(3, fields.status);
  st.text_or_null(4, fields.created_at);
  st.text_or_null(5, fields.updated_at);
  st.text(6, record_json);
  std::optional<std::int64_t> revision = s->returned_int(st, error, "updating task " + task_id);
  if (!revision || !s->mark_pending(RecordKind::Task, task_id, *revision, error) || !tx.commit(error)) {
    return std::nullopt;
  }
  return revision;
}

std::optional<std::int64_t> RunStore::update_task_status(const std::string& task_id, const std::string& status,
                                                        StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (status.empty()) {
    fail(error, "EINVAL", "a task needs a status");
    return std::nullopt;
  }
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Task, task_id, error)) return std::nullopt;
  Stmt st = s->statement(std::string("UPDATE tasks SET status = ?2, updated_at = ") + kNowSeconds +
                             ", record = json_set(record, '$.status', ?2, '$.revision', revision + 1),"
                             " revision = revision + 1 WHERE task_id = ?1 RETURNING revision",
                         error);
  if (!st) return std::nullopt;
  st.text(1, task_id);
  st.text(2, status);
  std::optional<std::int64_t> revision = s->returned_int(st, error, "updating task " + task_id);
  if (!revision || !s->mark_pending(RecordKind::Task, task_id, *revision, error) || !tx.commit(error)) {
    return std::nullopt;
  }
  return revision;
}

namespace {

// One record by its id (`sql` selects it by ?1): what `read` makes of its row, or nullopt with
// ENOENT when there is none, or the SQL error. `what`: "task" or "run", for the messages.
template <typename Store, typename Read>
auto read_by_id(Store* s, const std::string& sql, const char* what, const std::string& id, Read read,
                StoreError& error) -> std::optional<decltype(read(std::declval<Stmt&>()))> {
  if (!s) return std::nullopt;
  Stmt st = s->statement(sql, error);
  if (!st) return std::nullopt;
  st.text(1, id);
  int rc = st.step();
  if (rc == SQLITE_ROW) return read(st);
  if (rc == SQLITE_DONE) fail(error, "ENOENT", std::string(what) + " " + id + " not found in the store " + s->path);
  else s->sql_fail(error, std::string("reading ") + what + " " + id, rc);
  return std::nullopt;
}

}  // namespace

std::optional<Task> RunStore::get_task(const std::string& task_id, StoreError& error) {
  return read_by_id(ready(error), std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE task_id = ?1", "task",
                    task_id, read_task, error);
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
  WriteTx tx(*s);
  if (!tx.begin(error)) return std::nullopt;
  if (!fields.parent_run_id.empty() && !s->require(RecordKind::Run, fields.parent_run_id, error, "parent run")) {
    return std::nullopt;
  }
  std::optional<NewRecord> made = new_record(s, RecordKind::Run, fields.status, make_record, error);
  if (!made) return std::nullopt;
  const std::string& id = made->id;
  Stmt st = s->statement(std::string("INSERT INTO runs (num, ") + kRunColumns +
                             ") VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, " + kNowSeconds + "), ?7, ?8, ?9, " +
                             with_revision("?10", "1") + ", 1)",
                         error);
  if (!st) return std::nullopt;
  st.int64(1, made->num);
  st.text(2, id);
  st.text_or_null(3, fields.task_id);
  st.text(4, fields.status);
  st.text(5, fields.runner_type);
  st.text_or_null(6, fields.created_at);
  st.text_or_null(7, fields.completed_at);
  st.text_or_null(8, fields.parent_run_id);
  st.text_or_null(9, fields.pipeline_id);
  st.text(10, made->json);
  if (!s->run(st, error, "inserting run " + id)) return std::nullopt;
  if (!fields.parent_run_id.empty() && !s->link(fields.parent_run_id, id, lineage_kind_for(fields), error)) {
    return std::nullopt;
  }
  if (!s->mark_pending(RecordKind::Run, id, 1, error) || !tx.commit(error)) return std::nullopt;
  return id;
}

namespace {

// The statuses of a run that something still runs; every other status is an end.
bool is_active_status(const std::string& status) {
  return status == "queued" || status == "preparing" || status == "running";
}

// A run that ended stays ended: a write that would make it active again (a stale writer, a worker
// starting a run that `run kill` ended meanwhile) is refused with EENDED. The caller's write
// transaction holds the lock, so nothing ends the run between this read and the write.
bool ended_stays_ended(RunStore::Impl& s, const std::string& run_id, const std::string& status, StoreError& error) {
  if (!is_active_status(status)) return true;
  Stmt st = s.statement("SELECT status FROM runs WHERE run_id = ?1", error);
  if (!st) return false;
  st.text(1, run_id);
  int rc = st.step();
  if (rc != SQLITE_ROW) return rc == SQLITE_DONE || s.sql_fail(error, "reading run " + run_id, rc);
  std::string stored = st.text_at(0);
  while ((rc = st.step()) == SQLITE_ROW) {
  }
  if (is_active_status(stored)) return true;
  return fail(error, "EENDED",
              "run " + run_id + " has ended (" + stored + "): it is not made " + status +
                  " again; start a new run (sidecar run, run replay) instead");
}

}  // namespace

std::optional<std::int64_t> RunStore::update_run(const std::string& run_id, const RunFields& fields,
                                                const std::string& record_json, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  if (fields.status.empty()) {
    fail(error, "EINVAL", "a run needs a status");
    return std::nullopt;
  }
  if (fields.parent_run_id == run_id) {
    fail(error, "EINVAL", "run " + run_id + " cannot be its own parent");
    return std::nullopt;
  }
  WriteTx tx(*s);
  if (!tx.begin(error) || !s->require(RecordKind::Run, run_id, error)) return std::nullopt;
  if (!fields.parent_run_id.empty() && !s->require(RecordKind::Run, fields.parent_run_id, error, "parent run")) {
    return std::nullopt;
  }
  if (!s->check_json_object(record_json, "run record", "run_id", run_id, error)) return std::nullopt;
  if (!ended_stays_ended(*s, run_id, fields.status, error)) return std::nullopt;
  Stmt st = s->statement(
      "UPDATE runs SET task_id = ?2, status = ?3, runner_type = ?4, created_at = coalesce(?5, created_at),"
      " completed_at = ?6, parent_run_id = ?7, pipeline_id = ?8, record = " +
          with_revision("?9", "revision + 1") + ", revision = revision + 1 WHERE run_id = ?1 RETURNING revision",
      error);
  if (!st) return std::nullopt;
  st.text(1, run_id);
  st.text_or_null(2, fields.task_id);
  st.text(3, fields.status);
  st.text(4, fields.runner_type);
  st.text_or_null(5, fields.created_at);
  st.text_or_null(6, fields.completed_at);
  st.text_or_null(7, fields.parent_run_id);
  st.text_or_null(8, fields.pipeline_id);
  st.text(9, record_json);
  std::optional<std::int64_t> revision = s->returned_int(st, error, "updating run " + run_id);
  if (!revision) return std::nullopt;
  if (!fields.parent_run_id.empty() && !s->link(fields.parent_run_id, run_id, lineage_kind_for(fields), error)) {
    return std::nullopt;
  }
  if (!s->mark_pending(RecordKind::Run, run_id, *revision, error) || !tx.commit(error)) return std::nullopt;
  return revision;
}

std::optional<Run> RunStore::get_run(const std::string& run_id, StoreError& error) {
  return read_by_id(ready(error), std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id = ?1", "run", run_id,
                    read_run, error);
}

// --- lineage --------------------------------------------------------------------------------------

bool RunStore::add_lineage(const std::string& parent_run_id, const std::string& child_run_id, const std::string& kind,
                           StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  if (!is_lineage_kind(kind)) {
    return fail(error, "EINVAL", "lineage kind '" + kind + "' is not replay, pipeline or answer");
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

}  // namespace sidecar::host
