--- A run's record, and its one writer: every change a run's record gets in the store is one of the
--- steps below, whoever takes it (a foreground `sidecar run`, a background or Slurm worker, a
--- preset, `run kill`, a reader that finds the run's owner dead). The steps of a run's life:
---
---   create   queued | preparing | running (| dry_run: a run recorded without its agent)
---   save     a fact of the run while it is active or after (its command, its worktree, attention,
---            the agent's start); also queued → preparing → running
---   hold     the agent ended and the run's owner finishes it (its worktree's result, validation):
---            still running, phase "finishing", the agent's outcome in `outcome`
---   finish   active → an end (review, blocked, completed, failed, outcome_unknown, interrupted,
---            budget_exceeded): completed_at set, the phase gone; the notification channels that
---            want the end told (stdlib/sidecar/run/notify.lua)
---   settle   finish a run nobody else will end (its owner is gone, `run kill`, a Slurm job that
---            ended unrecorded): also reconciled_at, a run.finished event, its task ready again
---            (not a preset's step's: its task is the preset's, sidecar.executor.reconcile)
---   decide   an end to another (review → completed or blocked: a decision, a gate)
---
--- The store keeps the one rule no writer may break whatever it holds: a run that ended is never
--- made active again (EENDED: host/store/run_store.cpp).
---
---   local run = assert(run_record.create(s, { task_id = "T-0001", runner_type = "codex", status = "queued" }))
---   run.status, run.failure_reason = "failed", "its folder cannot be made"
---   run_record.finish(s, run)
local notify = require("sidecar.run.notify")
local otel = require("sidecar.run.otel")
local store = require("sidecar.core.store")
local telemetry = require("sidecar.core.telemetry")

local M = {}

-- The statuses a run is created with.
local CREATED = { queued = true, preparing = true, running = true, dry_run = true }

local function check_ended(run, step)
  if store.ACTIVE[run.status] or run.status == nil then
    error(("run_record.%s: run %s is %s, not an end"):format(step, tostring(run.run_id), tostring(run.status)), 3)
  end
end

---Creates a run (R-0001, ...) in the store: `files` and `opts` as in store:create_run.
---@param s table  the store
---@param fields table  the record; `status` one of queued, preparing, running, dry_run (default queued)
---@return table|nil run, string? message, string? code
function M.create(s, fields, files, opts)
  if fields.status ~= nil and not CREATED[fields.status] then
    error(("run_record.create: a run is not created %s"):format(tostring(fields.status)), 2)
  end
  return s:create_run(fields, files, opts)
end

---Saves a fact of a run (its record and `files`, as in store:update_run). An ended run made active
---again is refused by the store (nil, message, "EENDED").
---@return table|nil run, string? message, string? code
function M.save(s, run, files)
  return s:update_run(run, files)
end

---The agent of a run its caller owns has ended: the run stays running, in phase "finishing", the
---agent's outcome kept in `outcome`, so nobody decides, waits on or reads as final an outcome that
---is not, until the owner finishes it (stdlib/sidecar/task/finish.lua).
---@return table|nil run, string? message, string? code
function M.hold(s, run, files)
  check_ended(run, "hold")
  run.outcome, run.status, run.phase = run.status, "running", "finishing"
  return s:update_run(run, files)
end

---Ends a run (its status an end, its failure_reason set when it has one): completed_at now unless
---set, the phase gone (`outcome` stays: what the agent itself ended as). With no `files`, an end the
---store holds is no error when its copy cannot be written (a planted link, a full disk: `store
---check` writes it later); raises when the store does not hold it.
---@return table|nil run, string? message, string? code
function M.finish(s, run, files)
  check_ended(run, "finish")
  run.phase = nil
  run.completed_at = run.completed_at or store.now()
  local saved, message, code
  if files then
    saved, message, code = s:update_run(run, files)
  else
    saved, message, code = s:save_run_end(run)
  end
  if saved then
    pcall(notify.run_ended, s, run) -- the channels that want its end (a courtesy: never fails the run)
    pcall(otel.run_ended, s, run) -- its spans and metrics, when they are exported
  end
  return saved, message, code
end

---Finishes a run nobody else will end (its status and failure_reason set): completed and reconciled
---now, a run.finished event for `run tail`, its task ready to run again (not a preset's step's).
---@param s table
---@param run table
function M.settle(s, run)
  check_ended(run, "settle")
  run.completed_at = store.now()
  run.reconciled_at = run.completed_at
  M.finish(s, run)
  telemetry.run_finished(s, run)
  -- A preset's task is the preset's to settle, or once the preset is gone the reconciler's
  -- (sidecar.executor.reconcile): never made ready, which would give it to `run queue` to run.
  local task = run.task_id and not run.preset and s:get_task(run.task_id)
  if task and (task.status == "running" or task.status == "queued") then
    s:set_task_status(run.task_id, "ready")
  end
end

---Records a decision on an ended run (review → completed or blocked, a gate's finding), with
---`files` as in store:update_run.
---@return table|nil run, string? message, string? code
function M.decide(s, run, files)
  check_ended(run, "decide")
  return s:update_run(run, files)
end

return M
