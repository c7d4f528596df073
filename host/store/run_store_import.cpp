// Rebuilding the store from the JSON copies of its records, and checking it against them.
#include "store/run_store_sql.hpp"

namespace sidecar::host {
namespace {

// An imported record's revision: its `revision` member when that is a whole number, else 0 (a copy
// written before revisions existed).
constexpr const char* kRevisionOf3 =
    "CASE WHEN json_type(?3, '$.revision') = 'integer' THEN max(json_extract(?3, '$.revision'), 0) ELSE 0 END";

}  // namespace

// --- rebuild and check ----------------------------------------------------------------------------

bool RunStore::import_record(RecordKind kind, const std::string& id, const std::string& record_json,
                             StoreError& error) {
  bool imported = false;
  return import(kind, id, record_json, false, imported, error);
}

std::optional<bool> RunStore::import_if_newer(RecordKind kind, const std::string& id, const std::string& record_json,
                                              StoreError& error) {
  bool imported = false;
  if (!import(kind, id, record_json, true, imported, error)) return std::nullopt;
  return imported;
}

bool RunStore::import(RecordKind kind, const std::string& id, const std::string& record_json, bool newer_only,
                      bool& imported, StoreError& error) {
  imported = false;
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
  if (newer_only) {
    // Compared under the write lock: a write that lands first makes the copy not newer after all.
    Stmt st = s->statement(std::string("SELECT revision >= ") + kRevisionOf3 + " FROM " + table_of(kind) + " WHERE " +
                               id_column(kind) + " = ?2",
                           error);
    if (!st) return false;
    st.text(2, id);
    st.text(3, record_json);
    int rc = st.step();
    if (rc == SQLITE_ROW && st.int64_at(0)) return tx.commit(error);  // the store's is as new: kept
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s->sql_fail(error, "importing " + id, rc);
  }

  if (kind == RecordKind::Task) {
    Stmt st = s->statement(
        std::string("INSERT INTO tasks (num, task_id, title, status, created_at, updated_at, record, revision)"
                    " VALUES (?1, ?2, coalesce(json_extract(?3, '$.title'), ''),"
                    " coalesce(json_extract(?3, '$.status'), 'draft'), coalesce(json_extract(?3, '$.created_at'), ''),"
                    " coalesce(json_extract(?3, '$.updated_at'), json_extract(?3, '$.created_at'), ''), ?3, ") +
            kRevisionOf3 +
            ") ON CONFLICT (task_id) DO UPDATE SET title = excluded.title, status = excluded.status,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at, record = excluded.record,"
            " revision = excluded.revision",
        error);
    if (!st) return false;
    st.int64(1, *n);
    st.text(2, id);
    st.text(3, record_json);
    if (!s->run(st, error, "importing " + id)) return false;
  } else {
    Stmt st = s->statement(
        std::string("INSERT INTO runs (num, run_id, task_id, status, runner_type, created_at, completed_at,"
                    " parent_run_id, pipeline_id, record, revision)"
                    " VALUES (?1, ?2, json_extract(?3, '$.task_id'), coalesce(json_extract(?3, '$.status'), 'queued'),"
                    " coalesce(json_extract(?3, '$.runner_type'), ''),"
                    " coalesce(json_extract(?3, '$.created_at'), json_extract(?3, '$.started_at'), ''),"
                    " json_extract(?3, '$.completed_at'), nullif(json_extract(?3, '$.parent_run_id'), ''),"
                    " nullif(json_extract(?3, '$.pipeline_id'), ''), ?3, ") +
            kRevisionOf3 +
            ") ON CONFLICT (run_id) DO UPDATE SET task_id = excluded.task_id, status = excluded.status,"
            " runner_type = excluded.runner_type, created_at = excluded.created_at,"
            " completed_at = excluded.completed_at, parent_run_id = excluded.parent_run_id,"
            " pipeline_id = excluded.pipeline_id, record = excluded.record, revision = excluded.revision"
            " RETURNING parent_run_id, pipeline_id, json_extract(?3, '$.link_kind')",
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
    link.link_kind = st.text_at(2);
    if (!link.link_kind.empty() && !is_lineage_kind(link.link_kind)) link.link_kind.clear();  // an unknown kind: derived
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

  // The store now holds what the copy holds: nothing is owed to it.
  Stmt settled = s->statement("DELETE FROM pending_copies WHERE kind = ?1 AND id = ?2", error);
  if (!settled) return false;
  settled.text(1, noun(kind));
  settled.text(2, id);
  if (!s->run(settled, error, "importing " + id)) return false;

  // Later allocations continue after the imported number, never reusing it.
  Stmt bump = s->statement("UPDATE counters SET value = max(value, ?2) WHERE name = ?1", error);
  if (!bump) return false;
  bump.text(1, counter_name(kind));
  bump.int64(2, *n);
  if (!s->run(bump, error, "importing " + id) || !tx.commit(error)) return false;
  imported = true;
  return true;
}

std::optional<std::vector<PendingCopy>> RunStore::pending_copies(StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Stmt st = s->statement("SELECT kind, id, revision FROM pending_copies ORDER BY kind DESC, id, revision", error);
  if (!st) return std::nullopt;
  std::vector<PendingCopy> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    std::optional<RecordKind> kind = parse_record_kind(st.text_at(0));
    if (kind) out.push_back({*kind, st.text_at(1), st.int64_at(2)});
  }
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "listing the pending copies", rc);
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> RunStore::copy_written(RecordKind kind, const std::string& id, std::int64_t revision,
                                                   std::int64_t written, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  WriteTx tx(*s);
  if (!tx.begin(error)) return std::nullopt;
  // Read under the write lock, so no write can land between the look and the clearing.
  std::int64_t now = 0;
  bool found = false;
  {
    Stmt st = s->statement(std::string("SELECT revision FROM ") + table_of(kind) + " WHERE " + id_column(kind) + " = ?1",
                           error);
    if (!st) return std::nullopt;
    st.text(1, id);
    int rc = st.step();
    if (rc == SQLITE_ROW) {
      now = st.int64_at(0);
      found = true;
    } else if (rc != SQLITE_DONE) {
      s->sql_fail(error, "reading the revision of " + id, rc);
      return std::nullopt;
    }
  }
  if (found && now > written) {
    // Overtaken: the copy just written may sit on top of a newer one. The mark stays (put back,
    // should a repair have taken it meanwhile) until this writer has written the newest.
    if (!s->mark_pending(kind, id, revision, error)) return std::nullopt;
  } else {
    // A record no longer in the store owes no copy at all.
    Stmt st = s->statement(found ? "DELETE FROM pending_copies WHERE kind = ?1 AND id = ?2 AND revision = ?3"
                                 : "DELETE FROM pending_copies WHERE kind = ?1 AND id = ?2",
                           error);
    if (!st) return std::nullopt;
    st.text(1, noun(kind));
    st.text(2, id);
    if (found) st.int64(3, revision);
    if (!s->run(st, error, "clearing the pending copy of " + id)) return std::nullopt;
  }
  if (!tx.commit(error)) return std::nullopt;
  return now;
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

std::optional<std::vector<std::string>> RunStore::ids(RecordKind kind, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Stmt st = s->statement(std::string("SELECT ") + id_column(kind) + " FROM " + table_of(kind) + " ORDER BY num", error);
  if (!st) return std::nullopt;
  std::vector<std::string> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(st.text_at(0));
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, std::string("listing ") + noun(kind) + " ids", rc);
    return std::nullopt;
  }
  return out;
}

bool RunStore::clear_records(StoreError& error) {
  Impl* s = ready(error);
  if (!s) return false;
  WriteTx tx(*s);
  return tx.begin(error) &&
         s->exec("DELETE FROM events; DELETE FROM validation_results; DELETE FROM lineage; DELETE FROM runs;"
                 " DELETE FROM tasks; DELETE FROM pending_copies;",
                 error, "clearing the records") &&
         tx.commit(error);
}

const char* const kUsageFieldNames[kUsageFields] = {"input", "cached_input", "output", "reasoning_output", "total"};

std::optional<std::vector<UsageRow>> RunStore::usage(const UsageQuery& query, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  static const std::pair<const char*, const char*> groups[] = {
      {"", "''"},
      {"runner", "runner_type"},
      {"model", "coalesce(json_extract(record, '$.model'), '')"},
      {"task", "coalesce(task_id, '')"},
      {"status", "status"},
      {"day", "substr(created_at, 1, 10)"},
      {"run", "run_id"},
      // Over time: "<runner> <day>" and "<model> <day>" (the day always its last 10 characters).
      {"runner_day", "runner_type || ' ' || substr(created_at, 1, 10)"},
      {"model_day", "coalesce(json_extract(record, '$.model'), '') || ' ' || substr(created_at, 1, 10)"},
  };
  const char* group = nullptr;
  for (const auto& g : groups)
    if (query.group_by == g.first) group = g.second;
  if (!group) {
    fail(error, "EINVAL", "cannot group usage by '" + query.group_by +
                    "' (runner, model, task, status, day, run, runner_day or model_day)");
    return std::nullopt;
  }
  // Only whole numbers a run can report count as figures (json_type 'integer', from 0 to a trillion
  // tokens; a cost from 0 to a million dollars: the bounds of stdlib/sidecar/agent/events.lua); anything
  // else is unknown, so that no record, an imported one included, makes a total overflow.
  std::string sql = std::string("SELECT ") + group + ", count(*)";
  for (const char* field : kUsageFieldNames) {
    std::string path = std::string("'$.usage.") + field + "'";
    std::string known = "(json_type(record, " + path + ") = 'integer' AND json_extract(record, " + path +
                        ") BETWEEN 0 AND 1000000000000)";
    sql += ", sum(CASE WHEN " + known + " THEN json_extract(record, " + path + ") END), sum(" + known + ")";
  }
  const std::string cost_known = "(json_type(record, '$.cost_usd') IN ('integer', 'real') AND "
                                 "json_extract(record, '$.cost_usd') BETWEEN 0 AND 1000000)";
  sql += ", total(CASE WHEN " + cost_known + " THEN json_extract(record, '$.cost_usd') END), sum(" + cost_known +
         "), min(created_at), "
         "max(created_at) FROM runs WHERE created_at >= ?1 AND (?2 IS NULL OR created_at < ?2) AND (?3 IS NULL OR "
         "task_id = ?3) AND (?4 IS NULL OR json_extract(record, '$.budget_group') = ?4) GROUP BY 1 ORDER BY 1";
  Stmt st = s->statement(sql, error);
  if (!st) return std::nullopt;
  st.text(1, query.since);
  st.text_or_null(2, query.until);
  st.text_or_null(3, query.task_id);
  st.text_or_null(4, query.budget_group);
  std::vector<UsageRow> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    UsageRow row;
    row.group = st.text_at(0);
    row.runs = st.int64_at(1);
    for (std::size_t i = 0; i < kUsageFields; ++i) {
      row.sums[i] = st.int64_at(static_cast<int>(2 + 2 * i));
      row.reported[i] = st.int64_at(static_cast<int>(3 + 2 * i));
    }
    row.cost_usd = st.double_at(12);
    row.cost_reported = st.int64_at(13);
    row.first_at = st.text_at(14);
    row.last_at = st.text_at(15);
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, "totalling usage", rc);
    return std::nullopt;
  }
  return out;
}

}  // namespace sidecar::host
