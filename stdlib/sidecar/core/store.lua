--- The run and task store of a repository's `.agent/` folder: `sidecar.db` (SQLite) answers
--- questions fast, and every record also has a JSON copy in the folder, written atomically right
--- after each change, so the folders alone can rebuild the database (`s:rebuild()`).
---
---   local store = require("sidecar.core.store")
---   local s <close> = assert(store.open(".agent", {create = true}))
---   local task = assert(s:create_task({title = "Fix the parser", summary = "..."}))  -- T-0001
---   local run = assert(s:create_run({task_id = task.task_id, runner_type = "codex"}))
---   run.status = "completed"
---   assert(s:update_run(run))
---
--- Layout below the `.agent` folder:
---   sidecar.db                  the store (WAL mode; -wal and -shm files beside it)
---   tasks/T-0001.json           each task's record (the task packet)
---   runs/R-0001/run.json        each run's record, in the run's artifact folder
---   runs/R-0001/events.jsonl    the run's events (written by `telemetry`)
---
--- Run records may carry `usage` ({input, cached_input, output, reasoning_output, total}: whole
--- numbers, json.null when unknown), `cost_usd` and `model`; `s:usage()` totals them.
---
--- Every record carries a `revision`, set by the store: 1 when created, one more on every write.
--- Its copy carries the same, so `store check` tells a stale copy from one ahead of the store or
--- in conflict with it (stdlib/sidecar/task/repair.lua). A write the copy of which a crash cut off is
--- finished by the next process that opens the store: it writes the copy from the store.
---
--- Operational failures return nil, message, code; programming errors (wrong types) raise.
local artifact = require("sidecar.core.artifact")
local default_repo = require("sidecar.core.default_repo")
local host = require("sidecar.host.store")
local files = require("sidecar.core.files")
local json = require("sidecar.core.json")
local option_keys = require("sidecar.core.option_keys")
local paths = require("sidecar.host.paths")
local secrets = require("sidecar.core.secrets")
local store_copy = require("sidecar.core.store_copy")
local text = require("sidecar.core.text")

local M = {}

M.DB_NAME = "sidecar.db"
M.SCHEMA_VERSION = host.SCHEMA_VERSION
---Every status a run may have; the first three are active (something still runs it).
M.RUN_STATUSES = { "queued", "preparing", "running", "review", "blocked", "completed", "failed", "outcome_unknown",
  "interrupted", "budget_exceeded", "dry_run" }
---The active statuses, as a set: a run in one of them has not reached its end.
M.ACTIVE = { queued = true, preparing = true, running = true }

local Store = {}
Store.__index = Store
Store.__name = "sidecar.store"

local KINDS = {
  task = { id_key = "task_id", default_status = "draft" },
  run = { id_key = "run_id", default_status = "queued" },
}

---Now, UTC, ISO-8601 to the second (the store's own format for created_at).
function M.now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

local function is_dir(path)
  return files.exists(path .. "/.")
end

---The `.agent` folder that holds the store for `start` (default ".", or an embedding Host's root:
---sidecar.core.default_repo): the nearest one in it or a folder above it (as git finds `.git`),
---else `start/.agent`.
function M.find_root(start)
  start = start or default_repo.get()
  local dir = start
  for _ = 0, files.depth(start) or -1 do -- each folder up to "/" once (".." is the physical parent)
    if is_dir(dir .. "/.agent") then
      return dir .. "/.agent"
    end
    dir = dir .. "/.."
  end
  return start .. "/.agent"
end

-- The store's text of a record, and the redacted copy of the record it was encoded from (its copy
-- on disk is written from the same: store_copy.put).
-- Text that is not UTF-8 (an agent's Latin-1 answer) is rewritten in the record itself, which says
-- so in `invalid_utf8` (stdlib/sidecar/core/text.lua); the raw bytes stay in the run's logs.
local function encode(record)
  text.mark_invalid_utf8(record)
  local redacted = secrets.redact_value(record)
  return json.encode(redacted), redacted
end

-- What the store writes through by name: SQLite and git follow a link there (the run, task and
-- session folders are made and opened without following one, host/store/artifact_store.cpp).
local STORE_ENTRIES = { "", "/" .. M.DB_NAME, "/" .. M.DB_NAME .. "-wal", "/" .. M.DB_NAME .. "-shm",
  "/" .. M.DB_NAME .. "-journal", "/runs", "/runs-aside", "/tasks", "/sessions", "/worktrees", "/notify", "/otel",
  "/acp", "/ui" }

---Why the store folder `root` must not be written: it is a symbolic link, or holds one where the
---store writes (a clone's `.agent -> /somewhere`, `.agent/sidecar.db -> ~/x`), which would put the
---store where the repository chose. What, where and what to do; nil when there is none. open()
---checks it before anything is written; so does whatever writes there without opening the store.
---@param root string  the `.agent` folder
---@return string|nil why
function M.planted_link(root)
  for _, rel in ipairs(STORE_ENTRIES) do
    local path = root .. rel
    local st = paths.lstat(path)
    if st and st.kind == "symlink" then
      local target = paths.real(path) or "a path that does not exist"
      return ("%s is a symbolic link (to %s): Sidecar writes its store only in real folders and files, "
        .. "never through a link a repository could plant; %s"):format(path, target,
        rel == "" and "remove the link and run `sidecar init` there, or give --root the folder itself"
          or "remove the link (Sidecar makes it itself)")
    end
  end
  return nil
end

---Whether the folder `root` is a store's, or one to make a store in without `sidecar init`: an
---`.agent` folder, or one holding a store's database or config (a clone's `.agent`, its database
---never committed, holds config.lua).
---@param root string
---@return boolean
function M.looks_like_store(root)
  return root:match("^%.agent/*$") ~= nil or root:match("/%.agent/*$") ~= nil
    or paths.lstat(root .. "/" .. M.DB_NAME) ~= nil
    or paths.lstat(root .. "/config.lua") ~= nil
end

local OPEN_OPTIONS = { "create", "durable_fsync", "busy_timeout_ms", "settle", "db_path" }

---Opens the store in an `.agent` folder, and writes the copies a crash left owing (one query when
---none is): `s.settled` says which ({written = {ids}, failed = {{kind, id, message}...}}).
---`settle = false` leaves them for `store check` to report. `db_path` puts the database elsewhere
---than `root` (a Slurm worker's scratch database on its node's local disk: SQLite is never written
---over a shared file system; the copies and run folders stay under `root`). An unknown option
---raises a bad_option error, as do unknown keys of the option and query tables of the methods below.
---@param root string  the `.agent` folder
---@param opts? {create: boolean?, durable_fsync: boolean?, busy_timeout_ms: integer?, settle: boolean?, db_path: string?}
---@return table|nil store, string? message, string? code
function M.open(root, opts)
  opts = opts or {}
  option_keys.check("store.open", opts, OPEN_OPTIONS, 2)
  local linked = M.planted_link(root)
  if linked then
    return nil, linked, "ESYMLINK"
  end
  local made = not is_dir(root)
  if not opts.create and made then
    return nil, "no Sidecar store at " .. root .. ": the folder does not exist", "ENOENT"
  end
  if not opts.create and not M.looks_like_store(root) then -- `--root` given a repository, or any folder
    local inner = is_dir(root .. "/.agent") and (" (did you mean " .. root .. "/.agent?)") or ""
    return nil, ("no Sidecar store at %s: the folder holds no %s nor %s, and is no .agent folder%s"):format(root,
      M.DB_NAME, "config.lua", inner), "ENOENT"
  end
  local dir, message, code = artifact.open(root, { create = opts.create })
  if not dir then
    return nil, message, code
  end
  if made then -- made here, before any `sidecar init`: it ignores itself as init's does ("*")
    dir:write(".gitignore", "*\n")
  end
  local db
  db, message, code = host.open(opts.db_path or (root .. "/" .. M.DB_NAME),
    { durable_fsync = opts.durable_fsync, busy_timeout_ms = opts.busy_timeout_ms })
  if not db then
    dir:close()
    return nil, message, code
  end
  -- owed: the text stored of records created with copy_later, whose copies are still to come.
  local s = setmetatable({ db = db, dir = dir, root = root, owed = {}, settled = { written = {}, failed = {} } },
    Store)
  local pending = opts.settle ~= false and db:pending()
  if pending and #pending > 0 then
    store_copy.settle(s)
  end
  return s
end

-- The store's columns for a record (the record is the truth; the columns index it).
local function task_fields(t)
  return { title = t.title, status = t.status, created_at = t.created_at, updated_at = t.updated_at }
end

local function run_fields(r)
  return {
    task_id = r.task_id, status = r.status, runner_type = r.runner_type,
    created_at = r.created_at or r.started_at, completed_at = r.completed_at,
    parent_run_id = r.parent_run_id, pipeline_id = r.pipeline_id, link_kind = r.link_kind,
  }
end

local function check_record(record, what)
  if type(record) ~= "table" then
    error(what .. " must be a table, got " .. type(record), 3)
  end
  for _, key in ipairs({ "title", "status", "task_id", "runner_type", "created_at", "started_at",
    "completed_at", "parent_run_id", "pipeline_id", "link_kind", "updated_at" }) do
    local v = record[key]
    if v ~= nil and v ~= json.null and type(v) ~= "string" then
      error(("%s.%s must be a string, got %s"):format(what, key, type(v)), 3)
    end
  end
end

-- null members are left out of the columns (json.null is not a string).
local function strings_only(fields)
  for k, v in pairs(fields) do
    if type(v) ~= "string" then
      fields[k] = nil
    end
  end
  return fields
end

---Writes a record's JSON copy (atomic; keys sorted, 2-space indent): the copy a create with
---`copy_later` left to the caller. A run's `files` ({{name, text}...}, names relative to its
---folder runs/R-0001/) are written in the same batch: each atomic, with their fsyncs side by side.
---A record changed since it was stored is stored again first (a new revision), so a copy never
---holds what the store does not.
function Store:write_copy(kind, id, record, files)
  local key = kind .. " " .. id
  local owed = self.owed[key]
  if owed then
    local stored, redacted = encode(record)
    if owed == stored then
      self.owed[key] = nil
      return store_copy.put(self, kind, id, record, files, nil, redacted)
    end
  end
  assert(record[KINDS[kind].id_key] == id, "write_copy: the record is not " .. tostring(id))
  local saved, message, code
  if kind == "task" then
    assert(not files, "write_copy: only a run has a folder for files")
    saved, message, code = self:update_task(record)
  else
    saved, message, code = self:update_run(record, files)
  end
  if not saved then
    return nil, message, code
  end
  return true
end

local save -- a changed record stored, its copy written (below)

-- A new run's folder is made new: one already there (a clone of a repository that committed
-- `.agent/runs/R-0001/` holding links to files of the user's, a store whose database was replaced)
-- is moved into `runs-aside/` whole, never written into nor read as the run's. nil, why, code when
-- the folder cannot be made.
local function new_run_dir(self, id)
  local rel = "runs/" .. id
  local made, message, code = self.dir:create_dir(rel)
  if made or code ~= "EEXIST" then
    return made, message, code
  end
  local aside = ("runs-aside/%s-%d"):format(id, require("sidecar.host.time").wall_ms())
  made, message, code = self.dir:make_dirs("runs-aside") -- never through a symbolic link
  local moved, why = made and os.rename(self.root .. "/" .. rel, self.root .. "/" .. aside)
  if not moved then
    return nil, ("%s/%s was there before run %s was made, and cannot be moved aside: %s"):format(self.root, rel, id,
      tostring(why or message)), code or "EEXIST"
  end
  return self.dir:create_dir(rel)
end

local function create(self, kind, record, fields_of, create_fn, files, later)
  local spec = KINDS[kind]
  record.status = record.status or spec.default_status
  record.created_at = record.created_at or M.now()
  if kind == "task" then
    record.updated_at = record.updated_at or record.created_at
  end
  -- A new record is revision 1, whatever the record it was made from said.
  local was, stored = record.revision, nil
  record.revision = 1
  local redacted
  local id, message, code = create_fn(self.db, strings_only(fields_of(record)), function(new_id)
    record[spec.id_key] = new_id
    stored, redacted = encode(record)
    return stored
  end)
  if not id then
    record[spec.id_key], record.revision = nil, was
    return nil, message, code
  end
  if kind == "run" then
    local made
    made, message, code = new_run_dir(self, id)
    if not made then -- the row ends failed, saying why, rather than left running with nothing behind it
      record.status, record.failure_reason, record.completed_at = "failed", message, M.now()
      save(self, kind, record, fields_of, self.db.update_run) -- its copy cannot be written: the store holds it
      return nil, message, code
    end
  end
  if later then
    self.owed[kind .. " " .. id] = stored
    return record -- the caller writes the copy with write_copy
  end
  local ok
  ok, message, code = store_copy.put(self, kind, id, record, files, nil, redacted)
  if not ok then
    return nil, message, code
  end
  return record
end

-- Stores a changed record and writes its copy. The store gives it its next revision; guessed
-- here from the record's own, which is right for a record read from the store, so the text
-- encoded is kept as it is.
function save(self, kind, record, fields_of, update_fn, files)
  local id = record[KINDS[kind].id_key]
  local was = record.revision
  record.revision = (math.type(was) == "integer" and was or 0) + 1
  local stored, redacted = encode(record)
  local revision, message, code = update_fn(self.db, id, strings_only(fields_of(record)), stored)
  if not revision then
    record.revision = was
    return nil, message, code
  end
  record.revision, redacted.revision = revision, revision
  local ok
  ok, message, code = store_copy.put(self, kind, id, record, files, nil, redacted)
  if not ok then
    return nil, message, code
  end
  if self.owed[kind .. " " .. id] then
    -- Created with copy_later and changed before its copy came: this copy settles the create too.
    self.owed[kind .. " " .. id] = nil
    ok, message, code = self.db:copy_written(kind, id, 1, revision)
    if not ok then
      return nil, message, code
    end
  end
  return record
end

---Creates a task: allocates its id (T-0001, ...) inside the transaction that stores it, sets
---`task_id`, `status` ("draft" unless given), `created_at` and `updated_at`, and writes its copy.
---@return table|nil record, string? message, string? code
function Store:create_task(record)
  check_record(record, "task")
  return create(self, "task", record, task_fields, self.db.create_task)
end

local CREATE_RUN_OPTIONS = { "copy_later" }

---Creates a run (R-0001, ...): `status` "queued" unless given; `parent_run_id` links it to its
---parent (a pipeline step when `pipeline_id` is set, else a replay). `files` ({{name, text}...})
---go into the run's folder together with its copy. With `opts.copy_later` the copy is left to
---the caller's write_copy (say, once the agent has started, so the fsyncs overlap its run).
---@param opts? {copy_later: boolean?}
function Store:create_run(record, files, opts)
  option_keys.check("store:create_run", opts, CREATE_RUN_OPTIONS, 2)
  check_record(record, "run")
  return create(self, "run", record, run_fields, self.db.create_run, files, opts and opts.copy_later)
end

---Saves a changed task record (by its task_id) and its copy; `updated_at` becomes now.
function Store:update_task(record)
  check_record(record, "task")
  assert(type(record.task_id) == "string", "update_task: the record has no task_id")
  record.updated_at = M.now()
  return save(self, "task", record, task_fields, self.db.update_task)
end

---Saves a changed run record (by its run_id) and its copy, with `files` as in create_run.
function Store:update_run(record, files)
  check_record(record, "run")
  assert(type(record.run_id) == "string", "update_run: the record has no run_id")
  return save(self, "run", record, run_fields, self.db.update_run, files)
end

---Saves a run's end (its status and completed_at set) like update_run, except that a copy that
---cannot be written (a symbolic link planted at its folder, a full disk) is no error once the store
---holds the end: `store check` reports the copy and writes it once it can. Raises when the store
---does not hold it.
function Store:save_run_end(record)
  local saved, why = self:update_run(record)
  if not saved then
    local held = self:get_run(record.run_id)
    assert(held and held.status == record.status and held.completed_at == record.completed_at, why)
  end
  return record
end

---Writes a record's copy from what the store holds (a missing or stale copy: `store check`).
---@param kind "task"|"run"
function Store:restore_copy(kind, id)
  local row, message, code = store_copy.row(self.db, kind, id)
  if not row then
    return nil, message, code
  end
  return store_copy.put(self, kind, id, json.decode(row.record))
end

---Sets a task's status (record, column and copy).
function Store:set_task_status(task_id, status)
  local task, message, code = self:get_task(task_id)
  if not task then
    return nil, message, code
  end
  task.status = status
  return self:update_task(task)
end

local function decoded(row, message, code)
  if not row then
    return nil, message, code
  end
  return json.decode(row.record)
end

local function decoded_list(rows, message, code)
  if not rows then
    return nil, message, code
  end
  local out = {}
  for i, row in ipairs(rows) do
    out[i] = json.decode(row.record)
  end
  return out
end

function Store:get_task(task_id)
  return decoded(self.db:get_task(task_id))
end

function Store:get_run(run_id)
  return decoded(self.db:get_run(run_id))
end

-- The keys of the query tables, as the binding reads them (lua/store_query.cpp, lua/store.cpp). A
-- count takes its list's query, limit and all (a caller asks both with one table), and ignores limit.
local TASK_QUERY = { "status", "text", "limit" }
local RUN_QUERY = { "status", "statuses", "task_id", "runner", "preset", "text", "before", "after", "review_states",
  "oldest_first", "limit" }
local USAGE_QUERY = { "since", "until", "group_by", "task_id", "budget_group" }

-- `q`, its keys checked when it is a table (the caller of the method is blamed).
local function query(where, q, keys)
  option_keys.check(where, q, keys, 3)
  return q
end

---Tasks, newest first. `text`: only those whose id or title holds it (ASCII case ignored).
---@param q? {status: string?, text: string?, limit: integer?} (limit 50; 0: all)
function Store:list_tasks(q)
  return decoded_list(self.db:list_tasks(query("store:list_tasks", q, TASK_QUERY)))
end

---How many tasks of each status match `q` (as list_tasks; a limit is ignored): {[status] = count}.
---@param q? {status: string?, text: string?, limit: integer?}
---@return table<string, integer>|nil counts, string? message, string? code
function Store:count_tasks(q)
  return self.db:count_tasks(query("store:count_tasks", q, TASK_QUERY))
end

---Runs, newest first (oldest first with `oldest_first`). `statuses`: any of them; `runner`: the
---runner's name; `preset`: the record's preset; `text`: in the run id, task id or summary (case
---ignored; three characters or more come from a trigram index); `before`/`after`: older/newer
---than that run (pages); `review_states`: only runs whose record's review_state is one of them
---("" for none set).
---@param q? {status: string?, statuses: string[]?, task_id: string?, runner: string?, preset: string?, text: string?, before: string?, after: string?, review_states: string[]?, oldest_first: boolean?, limit: integer?}
function Store:list_runs(q)
  return decoded_list(self.db:list_runs(query("store:list_runs", q, RUN_QUERY)))
end

---How many runs match `q` (as list_runs; a limit is ignored).
---@param q? {status: string?, statuses: string[]?, task_id: string?, before: string?, review_states: string[]?, oldest_first: boolean?, limit: integer?}
---@return integer|nil count, string? message, string? code
function Store:count_runs(q)
  return self.db:count_runs(query("store:count_runs", q, RUN_QUERY))
end

---Links two runs ("replay", "pipeline" or "answer").
function Store:link(parent_run_id, child_run_id, kind)
  return self.db:add_lineage(parent_run_id, child_run_id, kind)
end

---{parents = {{parent_run_id, child_run_id, kind}...}, children = {...}}
function Store:lineage(run_id)
  return self.db:lineage(run_id)
end

---Stores one validation step's result; returns its seq.
function Store:add_validation(run_id, result)
  local fields = {} -- json.null (an unknown exit code, no name) is a missing field to the store
  for k, v in pairs(result) do
    if v ~= json.null then
      fields[k] = v
    end
  end
  return self.db:add_validation(run_id, fields)
end

function Store:validation(run_id)
  return self.db:validation(run_id)
end

---Indexes one event of a run (telemetry writes the run's events.jsonl; this is the store's copy).
function Store:append_event(run_id, kind, fields, ts)
  return self.db:append_event(run_id, ts, kind, (encode(fields or json.object({}))))
end

---Events after `after_seq`, each {seq, ts, kind, fields = table}.
function Store:events(run_id, after_seq, limit)
  local events, message, code = self.db:events(run_id, after_seq, limit)
  if not events then
    return nil, message, code
  end
  for _, e in ipairs(events) do
    e.fields = json.decode(e.fields)
  end
  return events
end

-- What is wrong with a run folder that is a symbolic link (planted by an agent, or in a cloned
-- repository's .agent), and what to do.
local function planted(folder)
  return ("%s is a symbolic link: Sidecar never follows one out of its store; remove it (Sidecar "
    .. "makes run folders itself)"):format(folder)
end

---The path of `file` in run `run_id`'s folder under the store folder `root`; nil, why, "ESYMLINK"
---when that folder is a symbolic link (a lock or file made there would land wherever it points).
---@return string|nil path, string? why, string? code
function M.run_path(root, run_id, file)
  local folder = root .. "/runs/" .. run_id
  local st = paths.lstat(folder)
  if st and st.kind == "symlink" then
    return nil, planted(folder), "ESYMLINK"
  end
  return folder .. "/" .. file
end

---The artifact folder of a run (`runs/R-0001/`), created when missing; nil, why, code when it
---cannot be (ESYMLINK: a symbolic link is there). A new folder's name is made durable with the
---copies' folders, when the store closes (store_copy.put), not before the run can start.
function Store:run_dir(run_id)
  assert(host.parse_id("run", run_id), "run_dir: not a run id: " .. tostring(run_id))
  local rel = "runs/" .. run_id
  local made, message, code = self.dir:make_dirs(rel) -- never through a symbolic link
  if not made then
    return nil, code == "ESYMLINK" and planted(self.root .. "/" .. rel) or message, code
  end
  return artifact.open(self.root .. "/" .. rel)
end

---Usage totals: one row per group ("" for all runs, or runner, model, task, status, day, run),
---each {group, runs, input = {sum, reported}, cached_input, output, reasoning_output, total,
---cost_usd = {sum, reported}, first_at, last_at}. `since`/`until`: ISO-8601 UTC text; `task_id`:
---that task's runs only; `budget_group`: the runs of one command sharing a budget only.
---@param q? {since: string?, until: string?, group_by: string?, task_id: string?, budget_group: string?}
function Store:usage(q)
  return self.db:usage(query("store:usage", q, USAGE_QUERY))
end

function Store:path()
  return self.db:path()
end

---Fsyncs the folders the copies written so far were renamed into, each once (store_copy.put):
---what `close` does too, for a store that stays open (a preset's pool, whose runs share it,
---does it at each run's end). A failure leaves every copy whole, at worst the one before it after
---a power loss, so it is not raised.
function Store:sync()
  self.dir:sync()
end

function Store:close()
  self.db:close()
  self:sync()
  self.dir:close()
end

Store.__close = Store.close

function Store:__tostring()
  return "sidecar.store (" .. self.root .. ")"
end

M.Store = Store
return M
