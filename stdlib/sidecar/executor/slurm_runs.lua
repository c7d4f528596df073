--- Runs as Slurm jobs, once submitted (stdlib/sidecar/executor/slurm_submit.lua): what this side
--- reads of them and records.
---
--- The store stays on the submitting machine: the worker writes the run's folder only (its record's
--- copy, events, artifacts; stdlib/sidecar/executor/node.lua), and this side imports the record
--- when it reads the run (M.reconcile: from `run list`, `run show`, `run wait`, `run tail -f`),
--- the way `store rebuild` imports copies. This side writes the run only once Slurm says its job
--- has ended (before that the worker owns the record's copy). A job that ended without the
--- worker recording the run's end is recorded outcome_unknown (failed when nothing ran) with
--- Slurm's state and reason; a run the worker ended while Slurm ended its job (a time limit, a
--- cancel) keeps the worker's status, and both say what Slurm did (`slurm.state`).
local clock = require("sidecar.host.time")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local slurm = require("sidecar.executor.slurm_client")
local slurm_react = require("sidecar.executor.slurm_react")
local run_reconcile = require("sidecar.run.reconcile")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")
local store_copy = require("sidecar.core.store_copy")

local M = {}

local KILL_WAIT_MS = 30000 -- for Slurm to end a cancelled job (SIGTERM, KillWait, SIGKILL)
local END_WAIT_MS = 15000 -- for Slurm to end a job whose worker recorded the run's end

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

-- The copy of a record in the store's folder, as text, or nil.
local function copy_text(s, kind, id)
  return s.dir:read(store_copy.path(kind, id))
end

-- Imports the worker's copies (the run's and its task's) when they are newer than the store's.
-- Returns whether the run's was.
local function import_copies(s, run)
  local text = copy_text(s, "run", run.run_id)
  local imported = text and s.db:import_if_newer("run", run.run_id, text) == true
  local task_text = run.task_id and copy_text(s, "task", run.task_id)
  if task_text then
    s.db:import_if_newer("task", run.task_id, task_text)
  end
  return imported
end

-- Indexes the validation steps the worker recorded in its scratch store (the record carries them)
-- into this store, as a local run's are; its events stay in its events.jsonl, as a local run's do.
local function index_ended(s, run)
  if #(s:validation(run.run_id) or {}) == 0 and type(run.validation) == "table" then
    for _, step in ipairs(run.validation) do
      s:add_validation(run.run_id, step)
    end
  end
end

-- What Slurm said of the job, for the record.
local function slurm_fields(run, job)
  local f = type(run.slurm) == "table" and run.slurm or {}
  f.state, f.slurm_state, f.reason, f.exit_code = job.state, job.slurm, job.reason or json.null,
    job.exit_code or json.null
  return f
end

local function job_text(job_id, job)
  return ("Slurm job %s ended %s%s%s"):format(job_id, job.slurm, job.reason and (" (" .. job.reason .. ")") or "",
    job.exit_code and job.exit_code ~= "0:0" and (", exit code " .. job.exit_code) or "")
end

-- Ends a run whose job ended without the worker recording its end.
local function end_unrecorded(s, run, job, why)
  local job_id = run.slurm.job_id
  local nothing_ran = run.status == "queued"
  run.status = why and "interrupted" or (nothing_ran and "failed" or "outcome_unknown")
  run.failure_reason = ("%s%s; %s: see runs/%s/worker.log"):format(job_text(job_id, job),
    why and ("; " .. why) or "", nothing_ran and "the worker never started the run, nothing ran"
    or "the worker recorded no end, what the agent did is unknown", run.run_id)
  run.slurm = slurm_fields(run, job)
  run_record.settle(s, run)
end

-- Adds Slurm's end to a run the worker ended (a time limit, a cancel: the worker saw SIGTERM).
local function note_job(s, run, job)
  run.slurm = slurm_fields(run, job)
  if job.state ~= "completed" and run.failure_reason and not run.failure_reason:find("Slurm job", 1, true) then
    run.failure_reason = job_text(run.slurm.job_id, job) .. "; " .. run.failure_reason
  end
  assert(run_record.save(s, run))
end

-- Records the end of a run whose job has ended (holding its lock): the worker's copy read once
-- more, Slurm's end, then the config's reactions (stdlib/sidecar/executor/slurm_react.lua).
local function record_ended(s, run, job, why_ended)
  import_copies(s, run)
  local fresh = s:get_run(run.run_id) or run
  if store.ACTIVE[fresh.status] then
    end_unrecorded(s, fresh, job, why_ended)
  else
    note_job(s, fresh, job)
  end
  errors.keep_interrupt(pcall(index_ended, s, fresh))
  slurm_react.after_end(s, assert(s:get_run(run.run_id)))
end

---Asks squeue once of these runs' jobs (before each is reconciled on its own).
---@param runs table[]
function M.prefetch(runs)
  local ids = {}
  for _, run in ipairs(runs) do
    if type(run.slurm) == "table" and run.slurm.job_id then
      ids[#ids + 1] = run.slurm.job_id
    end
  end
  slurm.prefetch(ids)
end

---M.prefetch of the runs named by id (those still in the store).
---@param run_ids string[]
function M.prefetch_named(s, run_ids)
  local runs = {}
  for _, run_id in ipairs(run_ids) do
    runs[#runs + 1] = s:get_run(run_id)
  end
  M.prefetch(runs)
end

---reconcile for a Slurm run (see stdlib/sidecar/run/reconcile.lua): imports what the worker
---recorded; once Slurm says the job ended, records Slurm's end, or ends a run the worker left
---active. Returns the run as it is now, whether it was ended here, and why not when it failed.
function M.reconcile(s, run, why_ended)
  local job_id = type(run.slurm) == "table" and run.slurm.job_id
  if not job_id then
    return run, false -- still being submitted (or the submission failed and says so)
  end
  import_copies(s, run)
  local fresh = s:get_run(run.run_id) or run
  local active = store.ACTIVE[fresh.status] ~= nil
  -- (A wait loop asks squeue once a second, not at every look at the folder: slurm.job_state.)
  local job, why = slurm.job_state(job_id)
  -- The worker recorded the end and is exiting: Slurm's end follows within moments (longer when
  -- Slurm stopped the job: SIGTERM, KillWait, SIGKILL), and the record says what it was.
  local deadline = now_ms() + END_WAIT_MS
  while not active and job and not job.ended and now_ms() < deadline do
    clock.sleep_ms(100)
    job, why = slurm.job_state(job_id)
  end
  if not job then
    return fresh, false, why
  end
  if not job.ended then
    return fresh, false
  end
  -- The job has ended (the worker wrote all it will, and holds the run's lock no more): its end
  -- is recorded under the lock, so two commands reconciling at once record it, and react to it,
  -- one after the other, the second seeing what the first did.
  local lock, busy, code = run_reconcile.claim(s, run.run_id)
  if not lock then -- another command is recording it right now, or the lock cannot be taken at all
    return fresh, false, code ~= "busy" and busy or nil
  end
  local ok, err = pcall(record_ended, s, run, job, why_ended)
  lock:release()
  errors.keep_interrupt(ok, err)
  return s:get_run(run.run_id) or fresh, ok and store.ACTIVE[run.status] ~= nil, not ok and tostring(err) or nil
end

---`run kill` of a Slurm run: scancel, then waits for Slurm to end the job and records the run
---(interrupted when its worker could not). Returns the run, or nil, why, code.
function M.kill(s, run)
  local job_id = type(run.slurm) == "table" and run.slurm.job_id
  if not job_id then
    return nil, ("run %s has no Slurm job yet (it is being submitted): try again in a moment"):format(run.run_id),
      "bad_state"
  end
  local ok, why = slurm.cancel(job_id)
  if not ok then
    return nil, why
  end
  local deadline = now_ms() + KILL_WAIT_MS
  repeat
    local job = slurm.job_state(job_id)
    if job and job.ended then
      break
    end
    clock.sleep_ms(100)
  until now_ms() >= deadline
  local fresh, _, err = M.reconcile(s, run, "the run was stopped by sidecar run kill (scancel)")
  if err then
    return nil, err
  end
  return fresh
end

return M
