--- The worker's store on a Slurm node. The real store (SQLite) stays on the submitting machine:
--- SQLite must not be written over a shared file system such as NFS. The worker opens a scratch
--- database on the node's local disk ($TMPDIR, else /tmp) instead, seeded from the copies of its run
--- and its task; everything else it writes goes to the shared `.agent` folder as always: the
--- records' copies (atomically, with their revisions), events.jsonl and the run's artifacts. The
--- submitting side imports them (stdlib/sidecar/executor/slurm_runs.lua). The scratch database is
--- removed when the worker ends.
local artifact = require("sidecar.core.artifact")
local json = require("sidecar.core.json")
local run_reconcile = require("sidecar.run.reconcile")
local runs = require("sidecar.task.runs")
local store = require("sidecar.core.store")
local store_copy = require("sidecar.core.store_copy")

local M = {}

-- The copy of a run in the shared folder, decoded, or nil.
local function run_copy(root, run_id)
  local f = io.open(root .. "/" .. store_copy.path("run", run_id), "rb")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  local ok, record = json.try_decode(text)
  return ok and type(record) == "table" and record or nil
end

---Whether run `run_id` of the store at `root` runs on another executor (its copy names one).
function M.remote(root, run_id)
  local record = run_copy(root, run_id)
  return record ~= nil and record.executor ~= nil and record.executor ~= "local"
end

local function remove_scratch(path)
  for _, suffix in ipairs({ "", "-wal", "-shm", "-journal" }) do
    os.remove(path .. suffix)
  end
end

---Where a worker keeps its scratch database on the node: $TMPDIR (else /tmp)/sidecar-R-…-<job>.db.
---The job's script removes it too, after a worker that could not (kill -9).
function M.scratch_path(run_id, job_id)
  return ("%s/sidecar-%s-%s.db"):format(os.getenv("TMPDIR") or "/tmp", run_id, job_id)
end

---Opens the worker's store: the shared `.agent` folder at `root`, a scratch database of its own.
---Waits for the run's lock first (the submitting side holds it until the job is recorded), so
---the copies it seeds from are final. Returns the store (with `scratch` = the database's path,
---removed by M.close) and the config, or nil, message.
function M.open(root, run_id)
  local dir, why = artifact.open(root) -- the lock is opened through it, never through a link
  if not dir then
    return nil, why
  end
  local lock
  lock, why = run_reconcile.claim({ root = root, dir = dir }, run_id)
  dir:close()
  if not lock then
    return nil, why
  end
  lock:release()
  local path = M.scratch_path(run_id, os.getenv("SLURM_JOB_ID") or "nojob")
  remove_scratch(path)
  local s, cfg = runs.open(root, { db_path = path })
  if not s then
    return nil, cfg
  end
  s.scratch = path
  local run_text = s.dir:read(store_copy.path("run", run_id))
  local record = run_text and run_copy(root, run_id)
  local task_text = record and record.task_id and s.dir:read(store_copy.path("task", record.task_id))
  if not (run_text and task_text) then
    M.close(s)
    return nil, ("run %s: its record or its task's is missing from %s (is the folder shared with this node?)")
      :format(run_id, root)
  end
  local ok, message = s.db:import("task", record.task_id, task_text)
  -- A replay (a fix run of the config's reactions) goes on from its parent's worktree, which the
  -- worktree code finds among the task's runs (stdlib/sidecar/run/worktree.lua: reusable).
  local parent = type(record.parent_run_id) == "string" and s.dir:read(store_copy.path("run", record.parent_run_id))
  if ok and parent then
    ok, message = s.db:import("run", record.parent_run_id, parent)
  end
  if ok then
    ok, message = s.db:import("run", run_id, run_text)
  end
  if not ok then
    M.close(s)
    return nil, ("run %s: its record could not be read into the scratch store: %s"):format(run_id, tostring(message))
  end
  return s, cfg
end

---Closes the worker's store and removes its scratch database.
function M.close(s)
  s:close()
  remove_scratch(s.scratch)
end

return M
