--- The config's reactions (stdlib/sidecar/task/reactions.lua) for runs that ran as Slurm jobs.
--- The worker on the node does not react (its scratch store cannot number new runs): the
--- submitting side does, once it has recorded the job's end (stdlib/sidecar/executor/slurm_runs.lua,
--- under the run's lock), one step at a time (reactions.react_step): a fix run is recorded here and
--- submitted as a Slurm job of its own, a replay of the failed run that continues from its
--- worktree, as locally; when that job ends, the next step decides (fixed, retries exhausted, same
--- failure repeated, no change) and records the same `reaction` fields a local loop does. Whoever
--- reconciles the run's end makes the step (the foreground `run`, `start-ready`, or for a
--- --background run the next `run list`, `run show`, `run wait`); the run's `reaction` is the
--- marker that it was made, read again under the run's lock, so it is made exactly once.
local background = require("sidecar.task.background")
local json = require("sidecar.core.json")
local notices = require("sidecar.task.notices")
local reactions = require("sidecar.task.reactions")
local runners = require("sidecar.agent.runners")
local runs = require("sidecar.task.runs")
local slurm_settings = require("sidecar.executor.slurm_settings")
local slurm_submit = require("sidecar.executor.slurm_submit")
local store = require("sidecar.core.store")

local M = {}

-- Whether a task's run is one this reacts to: ended, not reacted to yet.
local function eligible(run)
  return not store.ACTIVE[run.status] and run.reaction == nil
end

---Submits a fix run of `parent` (a Slurm run) as a Slurm job: a replay with its recorded settings,
---its prompt the parent's with `section` appended. Returns the run, or nil and why.
function M.submit_fix(s, cfg, parent, section, reason)
  local task = s:get_task(parent.task_id)
  if not task then
    return nil, ("task %s no longer exists"):format(tostring(parent.task_id))
  end
  local prompt = runs.run_file(s, parent, "prompt.md")
  if not prompt then
    return nil, ("run %s has no prompt.md to replay"):format(parent.run_id)
  end
  local launcher = slurm_submit.launcher(assert(slurm_settings.check(cfg)))
  return background.start(s, cfg, task, background.launch_settings(parent.launch),
    { parent_run_id = parent.run_id, replay_reason = reason, prompt = reactions.fix_prompt(prompt, section) }, launcher)
end

---The fix run the reactions started after `run` ended (its `reaction.fix_run`), or nil.
function M.fix_run(s, run)
  local r = type(run.reaction) == "table" and run.reaction or nil
  return r and type(r.fix_run) == "string" and s:get_run(r.fix_run) or nil
end

---The reactions' step for a Slurm run whose end this command has just recorded, holding the run's
---lock (`run`: read under it); when the run ends its chain (no fix run follows), whoever asked is
---told it ended (stdlib/sidecar/task/notices.lua: once per run, here where the person's terminal
---is, not on the node). Returns the fix run it submitted, or nil (nothing to do, or the loop is
---over; a config that cannot be read is nothing to do: the reason is returned second).
function M.after_end(s, run)
  if type(run.launch) ~= "table" or slurm_submit.is_preset_step(s.root, run.run_id) then
    return nil -- not a task's run (a preset's steps neither react nor notify, as locally)
  end
  local cfg, why = require("sidecar.core.config").load(s.root)
  if not cfg then
    return nil, why
  end
  local fix
  if eligible(run) then
    runners.register_config(cfg)
    fix, why = reactions.react_step(s, cfg, run, {
      progress = function() end, -- the records say it all; the following command reports them
      submit = function(parent, section, reason)
        return M.submit_fix(s, cfg, parent, section, reason)
      end,
    })
  end
  local fresh = s:get_run(run.run_id) or run
  local r = type(fresh.reaction) == "table" and fresh.reaction or nil
  if not (fix or r and (r.fix_run or r.last == false)) then -- the chain ends with this run
    local notify = run.launch.notify
    notices.run_ended(s, cfg, fresh, notify ~= json.null and notify or nil)
  end
  return fix, why
end

return M
