// The run and task store: one SQLite database (Sidecar uses `.agent/sidecar.db`) holding tasks,
// runs, their lineage, validation results and events, shared by every Sidecar process working in a
// repository. Plain C++ over SQLite, no Lua; SQLite and JSON libraries stay out of this header
// (records travel as JSON text). Operational failures are data (StoreError), never exceptions.
//
// One RunStore is one connection: use it from one thread at a time, and never carry an open one
// across fork() (the child opens its own). Several processes may write at once: every write is a
// BEGIN IMMEDIATE transaction, so writers queue (up to `busy_timeout_ms`) instead of failing, and
// ids are allocated inside the transaction that inserts the row.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::host {

struct StoreError {
  std::string message;  // for people: names the store, the record and what went wrong
  std::string code;     // ENOENT (no such record or folder), EINVAL (bad input), EBUSY (locked
                        // longer than the busy timeout), ESCHEMA (database newer than this code,
                        // or not a Sidecar store), ENOTDB, ECORRUPT, ENOSPC, EROFS, EACCES,
                        // EEXIST (an id clash), EBADF (store not open), EIO (anything else)
};

struct StoreOptions {
  // The store runs in WAL mode. With synchronous=NORMAL (false, the default) a commit appends to
  // the WAL with write() and returns: a committed transaction survives the process being killed at
  // any point (the OS has the bytes), and the database can never be corrupted, but the last commits
  // before a power loss or kernel crash may be lost. FULL (true) adds an fsync of the WAL per commit
  // to close that window, at a cost of milliseconds per write on most disks. Run records are also
  // kept as JSON copies on disk and the store can be rebuilt from them, so the default is NORMAL.
  bool durable_fsync = false;
  // How long a writer waits for another process's write transaction before failing with EBUSY.
  int busy_timeout_ms = 10000;
};

enum class RecordKind { Task, Run };

// "task" or "run".
std::optional<RecordKind> parse_record_kind(std::string_view name);
// T-0001, R-0042, R-10000: the prefix and at least four digits.
std::string format_id(RecordKind kind, std::int64_t number);
// The number in an id of that kind (T-<digits> or R-<digits>, leading zeros allowed), if it is one.
std::optional<std::int64_t> parse_id(RecordKind kind, std::string_view id);

// The columns of a task beside its record. Text fields: empty means "not set".
struct TaskFields {
  std::string title;
  std::string status = "draft";  // required
  std::string created_at;        // as the caller formats it; empty: now (UTC, ISO-8601)
  std::string updated_at;        // empty: created_at on create, now on update
};

struct Task {
  std::string task_id;
  TaskFields fields;
  std::string record_json;
  std::int64_t revision = 0;  // see RunStore: 1 when created, one more per write (0: written before revisions)
};

// Tasks newest first (by id number).
struct TaskQuery {
  std::string status;  // empty: any
  std::string text;    // empty: any; else only tasks whose id or title holds it (ASCII case ignored)
  int limit = 50;      // <= 0: no limit
};

// The columns of a run beside its record. Text fields: empty means "not set" (stored as NULL).
struct RunFields {
  std::string task_id;
  std::string status = "queued";  // required
  std::string runner_type;
  std::string created_at;         // empty: now on create, unchanged on update
  std::string completed_at;
  std::string parent_run_id;      // when set the run is linked to its parent (see add_lineage):
  std::string pipeline_id;        // a "pipeline" link when pipeline_id is set, else "replay",
  std::string link_kind;          // unless this names it ("answer": the run answers its parent's question)
};

struct Run {
  std::string run_id;
  RunFields fields;
  std::string record_json;
  std::int64_t revision = 0;
};

// Runs newest first (by id number: the order they were created in).
struct RunQuery {
  std::string status;   // empty: any
  std::vector<std::string> statuses;  // any of these (beside `status`, when both are given: both hold)
  std::string task_id;  // empty: any
  std::string before;   // a run id: only runs older than it (paging); empty: from the newest
  std::string after;    // a run id: only runs newer than it (paging oldest first); empty: from the oldest
  std::string runner;   // the runner's name (runner_type); empty: any
  std::string preset;   // the record's `preset`; empty: any
  // Only runs whose id, task id or record's `summary` holds it, case ignored (three characters or
  // more: from the trigram index runs_text; fewer: every record read, ASCII case ignored); empty: any.
  std::string text;
  // Only runs whose record's `review_state` is one of these ("" for none: absent, null or empty).
  // Empty: any. Read from the index runs_by_review_state, not from the records.
  std::vector<std::string> review_states;
  bool oldest_first = false;
  int limit = 50;       // <= 0: no limit
};

struct LineageLink {
  std::string parent_run_id, child_run_id;
  std::string kind;  // "replay", "pipeline" or "answer"
};

struct Lineage {
  std::vector<LineageLink> parents;   // links where the run is the child
  std::vector<LineageLink> children;  // links where the run is the parent (its replays, next steps)
};

// One validation step of a run (docs/formats.md §7, `validation[]`).
struct ValidationResult {
  std::int64_t seq = 0;  // its place in the run, from 1 (set by the store)
  std::string kind;      // typecheck|lint|test|build|custom
  std::string command;
  std::string name;      // empty: none
  std::optional<std::int64_t> exit_code;  // none: it never exited (spawn failure, killed)
  bool ok = false;
  bool timed_out = false;
  std::int64_t duration_ms = 0;
  std::optional<std::int64_t> timeout_ms;
  std::string output_snippet;
};

struct Event {
  std::int64_t seq = 0;     // from 1, in the order appended
  std::string ts;
  std::string kind;
  std::string fields_json;  // a JSON object
};

// A record whose JSON copy may not have caught up with the store yet (see RunStore, revisions).
struct PendingCopy {
  RecordKind kind;
  std::string id;
  std::int64_t revision = 0;  // the revision the copy must reach
};

// How the store's copy of a record compares with one given (for `sidecar store check`).
enum class RecordMatch {
  Missing,     // the store has no record with that id
  Same,        // byte for byte
  Equivalent,  // the same JSON once both are minified (key order and values equal)
  Different,
};

// Token usage over runs (`sidecar usage`), read from each run record's `usage` object ({input,
// cached_input, output, reasoning_output, total}: whole numbers, null when unknown) and `cost_usd`.
struct UsageQuery {
  std::string since;     // runs created at or after this (ISO-8601 UTC, as created_at); empty: all
  std::string until;     // runs created before this; empty: up to now
  std::string group_by;  // "" (one row for all), "runner", "model", "task", "status", "day", "run",
                         // "runner_day" or "model_day" (groups "<runner> <day>": each over time)
  std::string task_id;       // only the runs of this task; empty: every task
  std::string budget_group;  // only the runs whose record's `budget_group` is this (the runs of one
                             // command sharing a budget: stdlib/sidecar/agent/budget.lua); empty: all
};

constexpr std::size_t kUsageFields = 5;  // input, cached_input, output, reasoning_output, total
extern const char* const kUsageFieldNames[kUsageFields];

struct UsageRow {
  std::string group;  // the group's value ("" for the single row, or for runs without one)
  std::int64_t runs = 0;
  // Per field: the sum over the runs that reported it, and how many did. A run without a figure
  // adds nothing and is counted out, never estimated.
  std::array<std::int64_t, kUsageFields> sums{}, reported{};
  double cost_usd = 0;
  std::int64_t cost_reported = 0;
  std::string first_at, last_at;  // created_at of the oldest and newest run in the group
};

// Revisions: every task and run carries one, in its `revision` column and as the `revision` member
// of its record (the store sets it: 1 on create, one more on every write, whatever the record
// said). Its JSON copy carries the record, so a copy older than the store (stale), newer (the
// store lost a write) and one that disagrees at the same revision (a conflict) can be told apart.
// Records from before revisions existed are revision 0. Every write also marks the record's copy
// pending, in the same transaction; the writer calls copy_written once the copy of that revision
// is on disk. A crash in between leaves the mark, and the next process that opens the store
// writes those copies from the store (pending_copies). Each write's mark is its own, so while any
// copy on disk is older than the store, the mark of the write that put it there (or of the newer
// write whose copy is still to come) is in the table.
class RunStore {
 public:
  // Called inside the transaction that creates a record, with its new id, so the record can
  // contain its own id. An exception thrown here rolls the transaction back and propagates.
  using RecordMaker = std::function<std::string(const std::string& id)>;

  static constexpr int kSchemaVersion = 7;  // the newest schema this code knows

  RunStore();  // closed; open() opens
  ~RunStore();
  RunStore(RunStore&&) noexcept;
  RunStore& operator=(RunStore&&) noexcept;
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  // Opens (creating the file, not its folder) and migrates the store at `path`. Fails on a missing
  // folder, a file that is not a Sidecar store, or a schema newer than kSchemaVersion. Closes any
  // store this object had open first.
  bool open(const std::string& path, StoreError& error, const StoreOptions& options = {});
  void close();  // rolls back an open batch; idempotent
  bool is_open() const;
  const std::string& path() const;
  int schema_version() const;  // of the open database (user_version); 0 when closed

  // A batch: every write until commit_batch() joins one transaction (each write still all or
  // nothing, as a savepoint). For bulk imports and rebuilds; holds the write lock throughout.
  bool begin_batch(StoreError& error);
  bool commit_batch(StoreError& error);
  void rollback_batch();

  // Tasks. Records must be JSON objects; a `task_id` member, when present, must be the task's id.
  std::optional<std::string> create_task(const TaskFields& fields, const std::string& record_json,
                                         StoreError& error);
  std::optional<std::string> create_task(const TaskFields& fields, const RecordMaker& make_record,
                                         StoreError& error);
  // Returns the task's new revision.
  std::optional<std::int64_t> update_task(const std::string& task_id, const TaskFields& fields,
                                          const std::string& record_json, StoreError& error);
  // Sets the status column and `status` inside the record (which SQLite then stores minified: the
  // caller rewrites its JSON copy; check_record calls the two Equivalent). Returns the new revision.
  std::optional<std::int64_t> update_task_status(const std::string& task_id, const std::string& status,
                                                 StoreError& error);
  std::optional<Task> get_task(const std::string& task_id, StoreError& error);
  std::optional<std::vector<Task>> list_tasks(const TaskQuery& query, StoreError& error);
  // How many tasks of each status the query matches (its limit ignored), by status name.
  std::optional<std::vector<std::pair<std::string, std::int64_t>>> count_tasks(const TaskQuery& query,
                                                                                StoreError& error);

  // Runs. Records must be JSON objects; a `run_id` member, when present, must be the run's id.
  std::optional<std::string> create_run(const RunFields& fields, const std::string& record_json,
                                        StoreError& error);
  std::optional<std::string> create_run(const RunFields& fields, const RecordMaker& make_record,
                                        StoreError& error);
  // Replaces every column (created_at only when given) and the record. Returns the new revision.
  std::optional<std::int64_t> update_run(const std::string& run_id, const RunFields& fields,
                                         const std::string& record_json, StoreError& error);
  std::optional<Run> get_run(const std::string& run_id, StoreError& error);
  std::optional<std::vector<Run>> list_runs(const RunQuery& query, StoreError& error);
  // How many runs the query matches (its limit ignored).
  std::optional<std::int64_t> count_runs(const RunQuery& query, StoreError& error);

  // Links two existing runs (setting the kind again replaces it); lineage_of gives both directions.
  bool add_lineage(const std::string& parent_run_id, const std::string& child_run_id, const std::string& kind,
                   StoreError& error);
  std::optional<Lineage> lineage_of(const std::string& run_id, StoreError& error);

  // Returns the result's seq.
  std::optional<std::int64_t> add_validation_result(const std::string& run_id, const ValidationResult& result,
                                                    StoreError& error);
  std::optional<std::vector<ValidationResult>> validation_results(const std::string& run_id, StoreError& error);

  // `ts` empty: now (UTC, milliseconds); `fields_json` empty: {}. Returns the event's seq.
  std::optional<std::int64_t> append_event(const std::string& run_id, const std::string& ts, const std::string& kind,
                                           const std::string& fields_json, StoreError& error);
  // Events after `after_seq`, in order; limit <= 0: all.
  std::optional<std::vector<Event>> events(const std::string& run_id, StoreError& error, std::int64_t after_seq = 0,
                                           int limit = 0);

  // Rebuild from the JSON copies on disk: inserts or replaces the record under its own id (which must
  // be T-<n> or R-<n>), takes the columns from the record's members (a run's also its validation[]
  // and its parent link; the revision from `revision`, 0 when absent), and raises the id counter to
  // at least n so no later id reuses it. The record came from its copy: its pending mark is dropped.
  bool import_record(RecordKind kind, const std::string& id, const std::string& record_json, StoreError& error);
  // The same, only when the record's revision is above the store's (or the store lacks it), decided
  // inside the transaction: true when imported, false when the store's was kept.
  std::optional<bool> import_if_newer(RecordKind kind, const std::string& id, const std::string& record_json,
                                      StoreError& error);
  std::optional<RecordMatch> check_record(RecordKind kind, const std::string& id, const std::string& record_json,
                                          StoreError& error);

  // The records whose copies may be behind (what a crash between a write and its copy leaves).
  std::optional<std::vector<PendingCopy>> pending_copies(StoreError& error);
  // The writer of `revision` has put a copy of `written` (>= revision) on disk: drops that write's
  // pending mark, unless a newer write came since (the copy may then have landed on top of a newer
  // one; the mark stays until the writer has written the newest). Returns the record's revision
  // now (0 when it is not in the store, whose marks are all dropped then).
  std::optional<std::int64_t> copy_written(RecordKind kind, const std::string& id, std::int64_t revision,
                                           std::int64_t written, StoreError& error);

  // Every id of that kind in the store, in creation order (for `sidecar store check`).
  std::optional<std::vector<std::string>> ids(RecordKind kind, StoreError& error);
  // Deletes every task, run, link, validation result, event and pending mark, keeping the id counters
  // (so an id once given out is never given again). For a rebuild, inside a batch.
  bool clear_records(StoreError& error);
  // Usage totals, one row per group, ordered by group.
  std::optional<std::vector<UsageRow>> usage(const UsageQuery& query, StoreError& error);

  // The last number allocated (or imported) for ids of that kind.
  std::optional<std::int64_t> counter(RecordKind kind, StoreError& error);
  // SQLite's integrity_check: "ok", or the problems it found, one a line.
  std::optional<std::string> integrity_check(StoreError& error);

  struct Impl;  // defined in run_store.cpp

 private:
  Impl* ready(StoreError& error);
  bool import(RecordKind kind, const std::string& id, const std::string& record_json, bool newer_only,
              bool& imported, StoreError& error);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sidecar::host
