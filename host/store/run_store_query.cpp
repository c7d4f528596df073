// The store's lists and counts of tasks and runs: one SQL statement per combination of filters (a
// "?1 IS NULL OR status = ?1" form would defeat the planner), each planned onto an index of
// host/store/run_store_open.cpp (tasks_by_status, runs_by_status, runs_by_task, runs_by_review_state,
// runs_by_runner, runs_by_preset), cached by its text.
#include <utility>

#include "store/run_store_sql.hpp"

namespace sidecar::host {

namespace {

// A WHERE clause and the text values its `?` placeholders take, in order.
struct Filter {
  std::string sql;
  std::vector<std::string> values;

  void add(const std::string& condition) { sql += (sql.empty() ? " WHERE " : " AND ") + condition; }
  void equals(const char* column, const std::string& value) {
    add(std::string(column) + " = ?");
    values.push_back(value);
  }
  // column IN (?, ?, ...)
  void one_of(const std::string& column, const std::vector<std::string>& list) {
    std::string marks;
    for (const std::string& v : list) {
      marks += marks.empty() ? "?" : ", ?";
      values.push_back(v);
    }
    add(column + " IN (" + marks + ")");
  }
  void bind(Stmt& st) const {
    for (std::size_t i = 0; i < values.size(); ++i) st.text(static_cast<int>(i + 1), values[i]);
  }
};

Filter task_filter(const TaskQuery& q) {
  Filter f;
  if (!q.status.empty()) f.equals("status", q.status);
  if (!q.text.empty()) {
    // instr, not LIKE: the text's % and _ are plain characters. lower() folds ASCII only.
    f.add("(instr(lower(task_id), lower(?)) > 0 OR instr(lower(title), lower(?)) > 0)");
    f.values.insert(f.values.end(), {q.text, q.text});
  }
  return f;
}

// The characters of UTF-8 `text` (its bytes that begin one).
std::size_t characters(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// "num < N" (before) or "num > N" (after) of a run id; false with `error` when it is not one.
bool add_bound(Filter& f, const std::string& run_id, const char* op, StoreError& error) {
  if (run_id.empty()) return true;
  std::optional<std::int64_t> n = parse_id(RecordKind::Run, run_id);
  if (!n) {
    fail(error, "EINVAL", "'" + run_id + "' is not a run id (R-0001)");
    return false;
  }
  f.add(std::string("num ") + op + " " + std::to_string(*n));
  return true;
}

std::optional<Filter> run_filter(const RunQuery& q, StoreError& error) {
  Filter f;
  if (!add_bound(f, q.before, "<", error) || !add_bound(f, q.after, ">", error)) return std::nullopt;
  if (!q.task_id.empty()) f.equals("task_id", q.task_id);
  if (!q.runner.empty()) f.equals("runner_type", q.runner);  // on runs_by_runner
  if (!q.preset.empty()) f.equals(kRunPreset, q.preset);     // on runs_by_preset
  if (!q.review_states.empty()) f.one_of(kRunReviewState, q.review_states);  // on runs_by_review_state
  if (!q.text.empty() && characters(q.text) >= 3) {
    // The trigram index (migration 7): the text as one phrase, its quotes doubled; case folded.
    std::string phrase = "\"";
    for (char c : q.text) phrase += c == '"' ? std::string("\"\"") : std::string(1, c);
    f.add("num IN (SELECT rowid FROM runs_text WHERE runs_text MATCH ?)");
    f.values.push_back(phrase + "\"");
  } else if (!q.text.empty()) {
    // Too short for trigrams: every run read. instr, not LIKE: the text's % and _ are plain
    // characters. lower() folds ASCII only.
    f.add("(instr(lower(run_id), lower(?)) > 0 OR instr(lower(coalesce(task_id, '')), lower(?)) > 0"
          " OR instr(lower(coalesce(json_extract(record, '$.summary'), '')), lower(?)) > 0)");
    f.values.insert(f.values.end(), {q.text, q.text, q.text});
  }
  if (!q.status.empty()) f.equals("status", q.status);
  if (!q.statuses.empty()) f.one_of("status", q.statuses);
  return f;
}

std::string limit_clause(int limit) { return " LIMIT " + std::to_string(limit > 0 ? limit : -1); }

// Steps `st` to its end, each row read by `read`; nullopt with `error` on failure.
template <typename T, typename Store, typename Read>
std::optional<std::vector<T>> rows(Store* s, Stmt& st, Read read, const char* what, StoreError& error) {
  std::vector<T> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(read(st));
  if (rc != SQLITE_DONE) {
    s->sql_fail(error, what, rc);
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::vector<Task>> RunStore::list_tasks(const TaskQuery& query, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Filter f = task_filter(query);
  Stmt st = s->statement(std::string("SELECT ") + kTaskColumns + " FROM tasks" + f.sql + " ORDER BY num DESC" +
                             limit_clause(query.limit),
                         error);
  if (!st) return std::nullopt;
  f.bind(st);
  return rows<Task>(s, st, read_task, "listing tasks", error);
}

std::optional<std::vector<std::pair<std::string, std::int64_t>>> RunStore::count_tasks(const TaskQuery& query,
                                                                                       StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  Filter f = task_filter(query);
  Stmt st = s->statement("SELECT status, count(*) FROM tasks" + f.sql + " GROUP BY status", error);
  if (!st) return std::nullopt;
  f.bind(st);
  auto read = [](const Stmt& row) { return std::make_pair(row.text_at(0), row.int64_at(1)); };
  return rows<std::pair<std::string, std::int64_t>>(s, st, read, "counting tasks", error);
}

std::optional<std::vector<Run>> RunStore::list_runs(const RunQuery& query, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  std::optional<Filter> f = run_filter(query, error);
  if (!f) return std::nullopt;
  Stmt st = s->statement(std::string("SELECT ") + kRunColumns + " FROM runs" + f->sql + " ORDER BY num " +
                             (query.oldest_first ? "ASC" : "DESC") + limit_clause(query.limit),
                         error);
  if (!st) return std::nullopt;
  f->bind(st);
  return rows<Run>(s, st, read_run, "listing runs", error);
}

std::optional<std::int64_t> RunStore::count_runs(const RunQuery& query, StoreError& error) {
  Impl* s = ready(error);
  if (!s) return std::nullopt;
  std::optional<Filter> f = run_filter(query, error);
  if (!f) return std::nullopt;
  Stmt st = s->statement("SELECT count(*) FROM runs" + f->sql, error);
  if (!st) return std::nullopt;
  f->bind(st);
  auto counted = rows<std::int64_t>(s, st, [](const Stmt& row) { return row.int64_at(0); }, "counting runs", error);
  if (!counted) return std::nullopt;
  return counted->empty() ? 0 : counted->front();
}

}  // namespace sidecar::host
