--- The end of a task's run after its agent (stdlib/sidecar/task/runs.lua): the worktree's result, the task's
--- validation, review's decision. Until they are done the run stays `running` (phase
--- "finishing", its agent's outcome in `outcome`, as task.runs held it: run_record.hold): nobody approves,
--- blocks or waits on an outcome that is not final, `run kill` can stop it (the owner guard
--- records the interruption), and a crash leaves it to run_reconcile, which ends it
--- outcome_unknown saying validation did not complete.
---
--- Validation commands are code: those of a task that came with the repository run only once
--- trusted (stdlib/sidecar/core/trust.lua). Each step's processes carry the run's mark, so what a step leaves
--- running is found, ended and recorded (run_owner.apply), and so by run_reconcile should the
--- owner die meanwhile.
local config = require("sidecar.core.config")
local json = require("sidecar.core.json")
local notify = require("sidecar.run.notify")
local otel = require("sidecar.run.otel")
local review = require("sidecar.task.review")
local run_owner = require("sidecar.run.owner")
local run_processes = require("sidecar.run.processes")
local run_record = require("sidecar.run.record")
local worktree_result = require("sidecar.run.worktree_result")
local telemetry = require("sidecar.core.telemetry")
local trust = require("sidecar.core.trust")
local validation = require("sidecar.task.validation")

local M = {}

-- A progress reporter: lines go to the caller's `on_progress` (the command line prints them on
-- stderr); a library never prints.
local function reporter(on_progress)
  return function(fmt, ...)
    if on_progress then
      on_progress(fmt:format(...))
    end
  end
end

local function validation_entries(task)
  local e = type(task.execution) == "table" and type(task.execution.commands) == "table"
      and task.execution.commands.validation or nil
  return type(e) == "table" and e or {}
end

-- The validation of a task whose commands are not trusted: each step recorded as not run, saying
-- why, so review blocks the run (stdlib/sidecar/task/validation.lua: failure).
local function untrusted_validation(s, cfg, task, run, entries, state, progress)
  local why = state == "changed" and "its commands changed outside Sidecar since they were trusted"
    or "its commands are not trusted (they came with the repository or from a copy, not from this user)"
  why = ("%s; review them with `sidecar trust --show`, then run `sidecar trust`"):format(why)
  local results = {}
  for i, entry in ipairs(entries) do
    results[i] = { kind = entry.kind, command = entry.command, ok = false, not_run = why }
  end
  progress("run %s: validation of %s not run: %s", run.run_id, task.task_id, why)
  run.validation = json.array(results)
  run.validation_summary = validation.summary(results)
  return review.after_validation(s, run, results, cfg)
end

-- The refs the validation steps created, deleted or moved (git facts): each a blocker of the run.
local function refs_changed_by_validation(run, f)
  local said = {}
  for _, what in ipairs({ "branches", "tags", "refs" }) do
    for _, verb in ipairs({ "created", "deleted", "moved" }) do
      for _, r in ipairs(type(f[what .. "_" .. verb]) == "table" and f[what .. "_" .. verb] or {}) do
        said[#said + 1] = verb .. " " .. tostring(r.name)
      end
    end
  end
  if #said > 0 then
    local blockers = type(run.blockers) == "table" and run.blockers or json.array({})
    blockers[#blockers + 1] = "the validation steps changed the repository's refs: " .. table.concat(said, ", ")
    run.blockers = blockers
    if run.status == "review" then
      run.status = "blocked"
    end
  end
end

-- Runs the task's validation after a run that ended in review (or that only a gate blocked: the
-- results help whoever decides), stores each result, and lets review decide (auto-approve, or
-- block naming the failing kind).
local function validate(s, cfg, task, run, repo, owner, progress, wt)
  run.status, run.outcome, run.phase = run.outcome or run.status, nil, nil -- saved with the decision
  local entries = validation_entries(task)
  local gated = type(run.gates) == "table" and run.gates.agent_status == "review"
  if #entries == 0 or (run.status ~= "review" and not gated) then
    run.validation = json.array({})
    run_record.finish(s, run)
    return run
  end
  -- Commands that came with the repository (a cloned store, an imported or edited copy) run only
  -- once trusted: until then each step is recorded as not run, and the run is blocked.
  local allowed, state = trust.allows_validation(config.owner(s.root), task)
  if not allowed then
    return untrusted_validation(s, cfg, task, run, entries, state, progress)
  end
  local left = {}
  -- Steps may run code the agent wrote: they get the push block, and what they did to the
  -- repository's refs is read after them (their OS sandbox stops it first where there is one).
  local refs = require("sidecar.run.git_refs").watch(repo, { run_id = run.run_id })
  local env = owner and { [run_processes.MARK_VARIABLE] = owner.mark } or {}
  refs:block_push(env)
  local results = validation.run(entries, {
    -- In the run's OS sandbox: a step may run code the agent wrote.
    sandbox = require("sidecar.agent.run_sandbox").for_validation(cfg, s, run, wt, repo),
    on_escapees = function(list)
      for _, e in ipairs(list) do
        left[#left + 1] = { pid = e.pid, command = tostring(e.command or ""), found_by = "sandbox",
          left_session = e.left_session == true }
      end
    end,
    -- Each step's processes carry the run's mark: what one leaves running is found below, and
    -- by run_reconcile should this process die meanwhile.
    cwd = repo, timeouts = cfg.validation.timeouts, env = env,
    on_step = function(i, entry)
      -- (the surfaces show it as a line: sidecar.service.run_progress)
      telemetry.run_event(s, run.run_id, "validation.started", { step = i, steps = #entries, kind = entry.kind,
        command = entry.command })
    end,
    on_result = function(i, result)
      s:add_validation(run.run_id, result)
      telemetry.run_event(s, run.run_id, "validation.finished", { step = i, kind = result.kind, ok = result.ok,
        exit_code = result.exit_code, timed_out = result.timed_out, duration_ms = result.duration_ms })
    end,
  })
  if owner then -- what a step left running (a server, a setsid() escapee): ended and recorded
    for _, e in ipairs(owner:sweep(nil, 0)) do
      left[#left + 1] = e
    end
  end
  run_owner.apply(run, left, "validation")
  refs_changed_by_validation(run, refs:facts(nil, nil, {}))
  run.validation = json.array(results)
  run.validation_summary = validation.summary(results)
  return review.after_validation(s, run, results, cfg)
end

---After the agent (agent_run.execute with `owner`): its worktree's result and its validation,
---then the run.finished event, the notification channels told and its OpenTelemetry exported.
---Returns the finished run (or nil, message, code when it could not be saved).
---@param s table  the store
---@param cfg table  the config
---@param task table  the run's task
---@param run table  the run, held (status running, phase finishing: run_record.hold)
---@param wt table|nil  the run's worktree (run_worktree.enter), nil for a run in place
---@param o {repo: string, owner: table, on_progress: fun(line: string)?}  where validation runs, the
---  run_owner guard, and a function given each progress line
function M.finish(s, cfg, task, run, wt, o)
  run = worktree_result.finish(s, run, wt) -- after the gates: a commit of the agent's stays its own
  run = validate(s, cfg, task, run, o.repo, o.owner, reporter(o.on_progress), wt)
  if run then
    telemetry.run_finished(s, run)
    if type(run.validation) == "table" and #run.validation > 0 then -- ended by review's decision, not run_record.finish: told here
      pcall(notify.run_ended, s, run)
      pcall(otel.run_ended, s, run)
    end
  end
  return run
end

return M
