--- Decisions on finished runs: a person approves or blocks a run, or Sidecar approves a strictly
--- green one by itself (opt-in); each decision is written to the run's record, its task and
--- `runs/R-0001/decision.md` (docs/formats.md §1).
---
---   local review = require("sidecar.task.review")
---   local run = assert(review.approve(s, "R-0001", {note = "looks right"}))
---   assert(review.block(s, "R-0002", {reason = "breaks the parser", decision = "escalate"}))
---   local run, outcome = review.after_validation(s, run, results, config)  -- approved|blocked|pending
---   for _, item in ipairs(assert(review.queue(s))) do print(item.run.run_id, item.task_title) end
---
--- The states (run.status / run.review_state):
---   approve   review, blocked, outcome_unknown, or completed but not yet approved
---             -> completed / approved; its task -> done. A blocked run can be approved: the person
---             overrides the blocker (it stays in blockers[] for the record).
---   block     review, blocked, outcome_unknown, or completed and approved but not merged
---             -> blocked / blocked; its task -> blocked, the reason in both blockers[].
---   refused   queued, preparing or running (wait for it); failed or interrupted (nothing to
---             review: replay it); already approved (approve) or blocked (block); merged.
--- A validation failure blocks the run but leaves review_state pending: the run waits in the queue
--- until a person approves, blocks or replays it.
---
--- Operational failures return nil, message, code (not_found, bad_state, bad_option, or the
--- store's code); wrong argument types raise.
local gates = require("sidecar.run.gates")
local json = require("sidecar.core.json")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")
local validation = require("sidecar.task.validation")

local M = {}

M.AUTO_DECIDER = "sidecar:auto"
M.WAITING = { review = true, blocked = true, outcome_unknown = true } -- statuses that need a person
local WAITING_LIST = { "review", "blocked", "outcome_unknown" }

local STILL_GOING = store.ACTIVE
local APPROVE_DECISIONS = { accept = true, ["partially accept"] = true }
local BLOCK_DECISIONS = { reject = true, escalate = true }

-- Helpers ----------------------------------------------------------------------------------------

local function check_args(s, run_id, opts, fname)
  if type(s) ~= "table" then
    error(("review.%s: expected a store, got %s"):format(fname, type(s)), 3)
  end
  if type(run_id) ~= "string" then
    error(("review.%s: run_id must be a string, got %s"):format(fname, type(run_id)), 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("review.%s: opts must be a table, got %s"):format(fname, type(opts)), 3)
  end
end

local function present(v)
  return v ~= nil and v ~= json.null and v ~= ""
end

-- Appends to a JSON array member, creating it when missing; a value already there is not repeated
-- (validation run twice gives the same blockers).
local function append(record, key, value)
  local list = record[key]
  if type(list) ~= "table" then
    list = json.array({})
    record[key] = list
  end
  for _, v in ipairs(list) do
    if v == value then
      return
    end
  end
  list[#list + 1] = value
end

local function load_run(s, run_id)
  local run, message, code = s:get_run(run_id)
  if run then
    return run
  end
  if code == "ENOENT" then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  return nil, message, code
end

-- Why a run in this status cannot be decided on now, or nil when it can.
local function status_refusal(run)
  local id, status = run.run_id, run.status
  if STILL_GOING[status] then
    return ("run %s is still %s: wait for it (sidecar run wait %s)"):format(id, status, id)
  elseif status == "failed" or status == "interrupted" then
    return ("run %s %s: there is nothing to review; replay it (sidecar run replay %s)"):format(
      id, status == "failed" and "failed" or "was interrupted", id)
  elseif not (M.WAITING[status] or status == "completed") then
    return ("run %s has status %s, which cannot be reviewed"):format(id, tostring(status))
  end
  return nil
end

local function decided_by(run)
  local who = present(run.reviewed_by) and (" by " .. run.reviewed_by) or ""
  local when = present(run.reviewed_at) and (" at " .. run.reviewed_at) or ""
  return who .. when
end

---The text of decision.md (docs/formats.md §1).
---@param run table  the run record (its run_id and follow_ups)
---@param d {decision: string, by: string, date: string, rationale: string?}
---@return string
function M.decision_md(run, d)
  local lines = {
    "# Main-Agent Decision: " .. run.run_id, "",
    "Decision: " .. d.decision,
    "Decider: " .. d.by,
    "Date: " .. d.date, "",
    "## Rationale", "",
    present(d.rationale) and d.rationale or "(none given)", "",
    "## Follow-Up", "",
  }
  local follow_ups = type(run.follow_ups) == "table" and run.follow_ups or {}
  if #follow_ups == 0 then
    lines[#lines + 1] = "None."
  end
  for _, f in ipairs(follow_ups) do
    lines[#lines + 1] = "- " .. tostring(f)
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Moves the run's task (when the store holds it) to `status`, appending `blockers` to its own.
local function move_task(s, run, status, blockers)
  if not present(run.task_id) then
    return run
  end
  local task, message, code = s:get_task(run.task_id)
  if not task then
    if code == "ENOENT" then
      return run -- the run names a task the store does not hold: the run's decision stands alone
    end
    return nil, ("run %s is saved, but its task %s could not be read: %s"):format(run.run_id, run.task_id, message), code
  end
  task.status = status
  for _, b in ipairs(blockers or {}) do
    append(task, "blockers", b)
  end
  local ok
  ok, message, code = s:update_task(task)
  if not ok then
    return nil, ("run %s is saved, but its task %s could not be updated: %s"):format(run.run_id, run.task_id, message), code
  end
  return run
end

-- decision.md of a decided run, from what the run records of its decision.
local function decision_file(run)
  return { { "decision.md", M.decision_md(run, { decision = run.review_decision, by = run.reviewed_by,
    date = run.reviewed_at, rationale = run.review_note }) } }
end

---Finishes a decision that a crash cut short: the run records it with what it still owed in
---`decision_todo` (its task's move); that is done, decision.md written again, and the todo
---cleared. A run with nothing owed is returned as it is. Returns the run, or nil, message, code.
---@param s table  an open store
---@param run table  a run record
function M.finish_decision(s, run)
  local todo = run.decision_todo
  if type(todo) ~= "table" then
    return run
  end
  local ok, message, code = move_task(s, run, todo.task_status, todo.task_blockers)
  if not ok then
    return nil, message, code
  end
  run.decision_todo = nil
  ok, message, code = run_record.decide(s, run, decision_file(run))
  if not ok then
    return nil, message, code
  end
  return run
end

-- Saves the run with its decision.md (one batch of writes) and what the decision still owes (its
-- task's move), then does that: a crash in between leaves the run saying what is owed, for
-- `store check` or the same decision again to finish (finish_decision).
local function record_decision(s, run, task_status, task_blockers)
  run.decision_todo = { task_status = task_status, task_blockers = json.array(task_blockers or {}) }
  local ok, message, code = run_record.decide(s, run, decision_file(run))
  if not ok then
    return nil, message, code
  end
  return M.finish_decision(s, run)
end

local function stamp(run, by, note, decision)
  run.reviewed_by = by
  run.reviewed_at = store.now()
  run.review_note = present(note) and note or nil
  run.review_decision = decision
end

local function default_decider()
  local user = os.getenv("USER")
  return present(user) and user or "human"
end

-- Approves a loaded run (no state checks): the shared end of approve and the auto-approval.
local function approve_record(s, run, by, note, decision)
  stamp(run, by, note, decision)
  run.review_state = "approved"
  run.status = "completed"
  return record_decision(s, run, "done")
end

-- Decisions by people -------------------------------------------------------------------------

-- The run, when a person may decide it now: not already `state` (or merged), not still running,
-- not failed or interrupted. Else nil, why, code.
local function decidable(s, run_id, state)
  local run, message, code = load_run(s, run_id)
  if not run then
    return nil, message, code
  end
  if run.review_state == state and type(run.decision_todo) == "table" then
    return run, nil, nil, true -- decided, then cut short: the same decision finishes it
  end
  if run.review_state == state or run.review_state == "merged" then
    return nil, ("run %s is already %s%s"):format(run_id, run.review_state, decided_by(run)), "bad_state"
  end
  local refusal = status_refusal(run)
  if refusal then
    return nil, refusal, "bad_state"
  end
  return run
end

---Approves a finished run: review_state approved, status completed, its task done; writes
---decision.md.
---@param s table  an open store
---@param run_id string
---@param opts? {note: string?, by: string?, decision: "accept"|"partially accept"?}
---@return table|nil run, string? message, string? code
function M.approve(s, run_id, opts)
  check_args(s, run_id, opts, "approve")
  opts = opts or {}
  local decision = opts.decision or "accept"
  if not APPROVE_DECISIONS[decision] then
    return nil, ("an approval's decision is accept or partially accept, not %q"):format(tostring(decision)), "bad_option"
  end
  local run, message, code, cut_short = decidable(s, run_id, "approved")
  if not run then
    return nil, message, code
  elseif cut_short then
    return M.finish_decision(s, run)
  end
  return approve_record(s, run, opts.by or default_decider(), opts.note, decision)
end

---Blocks a finished run: review_state and status blocked, the reason appended to the run's and
---its task's blockers, the task blocked; writes decision.md with the reason as its rationale.
---@param s table  an open store
---@param run_id string
---@param opts {reason: string, by: string?, decision: "reject"|"escalate"?}
---@return table|nil run, string? message, string? code
function M.block(s, run_id, opts)
  check_args(s, run_id, opts, "block")
  opts = opts or {}
  if type(opts.reason) ~= "string" or not opts.reason:find("%S") then
    return nil, ("blocking run %s needs a reason (--reason \"what is wrong\")"):format(run_id), "bad_option"
  end
  local decision = opts.decision or "reject"
  if not BLOCK_DECISIONS[decision] then
    return nil, ("a block's decision is reject or escalate, not %q"):format(tostring(decision)), "bad_option"
  end
  local run, message, code, cut_short = decidable(s, run_id, "blocked")
  if not run then
    return nil, message, code
  elseif cut_short then
    return M.finish_decision(s, run)
  end
  stamp(run, opts.by or default_decider(), opts.reason, decision)
  run.review_state = "blocked"
  run.status = "blocked"
  append(run, "blockers", opts.reason)
  return record_decision(s, run, "blocked", { opts.reason })
end

-- Decisions after validation ----------------------------------------------------------------------

local function auto_enabled(config)
  local r = type(config) == "table" and config.review
  if type(r) ~= "table" then
    return false
  end
  if r.auto_approve_on_all_green ~= nil then
    return r.auto_approve_on_all_green == true
  end
  return r.autoApproveOnAllGreen == true
end

local function steps_text(n)
  return n == 1 and "1 validation step" or (n .. " validation steps")
end

---The blocker message for a failed validation step, naming its kind.
---@param step table  {kind, command, name?, exit_code?, timed_out?, timeout_ms?}
---@return string  e.g. "validation failed: test step 'npm test' exited with code 1"
function M.failure_message(step)
  return "validation failed: " .. validation.failure(step)
end

---Decides, without any I/O, what validation results mean for a run.
---`approve` only when auto-approval is on (config.review.auto_approve_on_all_green, or the
---camelCase autoApproveOnAllGreen), the run is waiting for review (status review), no gate
---blocked it (run.gates, stdlib/sidecar/run/gates.lua), and at least one step ran and every step passed.
---`blockers` holds one message per failed step, whatever the config says.
---@param run table  the run record
---@param results? table[]  validation results (default run.validation)
---@param config? table
---@return {approve: boolean, reason: string, blockers: string[], passed: integer, failed: integer}
function M.auto(run, results, config)
  results = results or run.validation or {}
  local blockers = {}
  for _, step in ipairs(results) do
    if step.ok ~= true or step.timed_out == true then
      blockers[#blockers + 1] = M.failure_message(step)
    end
  end
  local n, failed = #results, #blockers
  local d = { approve = false, blockers = blockers, passed = n - failed, failed = failed }
  if failed > 0 then
    d.reason = ("%d of %s failed"):format(failed, steps_text(n))
  elseif n == 0 then
    d.reason = "no validation steps: a runner-only success needs a person's approval"
  elseif not auto_enabled(config) then
    d.reason = ("all %s passed; auto-approval is off (review.autoApproveOnAllGreen)"):format(steps_text(n))
  elseif gates.blocked(run) then
    -- Whatever the status says: a gate's blocker is for a person to weigh.
    d.reason = ("all %s passed, but a gate blocked the run (%s): a person decides"):format(steps_text(n),
      run.gates.blockers[1])
  elseif run.status ~= "review" then
    d.reason = ("all %s passed, but the run is %s: a person decides"):format(steps_text(n), tostring(run.status))
  else
    d.approve = true
    d.reason = ("auto-approved: all %s passed"):format(steps_text(n))
  end
  return d
end

---Acts on validation results: a failed step blocks the run (status blocked, review_state still
---pending) and its task, with one blocker message per failed step; an all-green run is approved
---by "sidecar:auto" when `auto` says so; otherwise the run waits for a person unchanged.
---Runs that are not waiting for review (still running, failed, already decided) are left alone.
---@param s table  an open store
---@param run table|string  the run record, saved as given (with the validation[] the caller put
---  in it) whenever it is waiting for review, or its id
---@param results? table[]  validation results (default run.validation)
---@param config? table
---@return table|nil run, string outcome_or_message, table|string decision_or_code
---  outcome: "approved" | "blocked" | "pending" | "unchanged"; decision: review.auto's answer
function M.after_validation(s, run, results, config)
  if type(run) == "string" then
    local message, code
    run, message, code = load_run(s, run)
    if not run then
      return nil, message, code
    end
  elseif type(run) ~= "table" then
    error("review.after_validation: run must be a record or a run id, got " .. type(run), 2)
  end
  local d = M.auto(run, results, config)
  local state = run.review_state
  if not M.WAITING[run.status] or (present(state) and state ~= "pending") then
    return run, "unchanged", d
  end
  local ok, message, code
  if #d.blockers > 0 then
    run.status = "blocked"
    for _, b in ipairs(d.blockers) do
      append(run, "blockers", b)
    end
    run.review_state = "pending"
    ok, message, code = run_record.decide(s, run)
    if ok then
      ok, message, code = move_task(s, run, "blocked", d.blockers)
    end
    if not ok then
      return nil, message, code
    end
    return run, "blocked", d
  elseif d.approve then
    ok, message, code = approve_record(s, run, M.AUTO_DECIDER, d.reason, "accept")
    if not ok then
      return nil, message, code
    end
    return run, "approved", d
  end
  -- Saved even so: the caller may have added the results (validation[]) to the record.
  ok, message, code = run_record.decide(s, run)
  if not ok then
    return nil, message, code
  end
  return run, "pending", d
end

---The name docs/formats.md §7 gives auto-approval; the same as after_validation.
M.apply_auto = M.after_validation

-- The review queue ---------------------------------------------------------------------------------

local function waiting_reason(run)
  if run.status == "review" then
    return "ready for review"
  elseif run.status == "blocked" then
    local b = type(run.blockers) == "table" and run.blockers[#run.blockers]
    return present(b) and tostring(b) or "blocked"
  end
  return present(run.failure_reason) and ("outcome unknown: " .. run.failure_reason) or "outcome unknown"
end

---The runs waiting for a person's decision, oldest first: review_state pending (or not set) and
---status review (finished), blocked (a blocker from the agent or a failed validation: approve
---over it, block it for good, or replay) or outcome_unknown (nobody can tell whether it worked
---without looking). Failed and interrupted runs are not here: there is nothing to approve; they
---are replayed instead.
---Asked with `opts.limit` (> 0), only the oldest that many; `total` counts them all. The store
---picks them on its index of status and review state: the runs that need no decision, however
---many, are never read.
---@param s table  an open store
---@param opts? {limit: integer?}
---@return table[]|nil items  each {run = record, task_title = string?, why = string}
---@return integer|string total  how many runs wait in all; or the message
---@return string? code
function M.queue(s, opts)
  local limit = opts and opts.limit or 0
  local waiting = { statuses = WAITING_LIST, review_states = { "", "pending" }, oldest_first = true, limit = limit }
  local runs, message, code = s:list_runs(waiting)
  if not runs then
    return nil, message, code
  end
  local total = #runs
  if limit > 0 and total == limit then
    total, message, code = s:count_runs(waiting)
    if not total then
      return nil, message, code
    end
  end
  local titles, items = {}, {}
  for i, run in ipairs(runs) do
    local id = run.task_id
    if present(id) and titles[id] == nil then
      local task = s:get_task(id)
      titles[id] = task and task.title or false
    end
    items[i] = { run = run, task_title = present(id) and titles[id] or nil, why = waiting_reason(run) }
  end
  return items, total
end

return M
