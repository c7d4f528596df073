--- `sidecar run T-0001 --background` and `--executor slurm`: a run whose worker runs elsewhere than
--- this command (a detached process here, or a Slurm job). In the foreground (`--executor slurm`
--- without --background) the command follows the run to its end through its folder, and Ctrl-C
--- cancels the job.
local background = require("sidecar.task.background")
local run_control = require("sidecar.executor.run_control")
local executor = require("sidecar.executor")
local out = require("sidecar.cli.output")
local run_start = require("sidecar.service.run_start")

local M = {}

local EXIT_OK = 0

-- The run's id at once, and where it runs.
---Renders a run started in the background (sidecar.service.run_start's result): its id on stdout
---and where it runs on stderr, or the envelope with --json.
---@param o table  the command's options
---@param command string
---@param r table  the result
function M.report_started(o, command, r)
  return out.answer(o, command, r, function(data)
    print(data.run_id)
    local where = assert(executor.of(r.run.executor)).where(r.run)
    io.stderr:write(("sidecar: %s runs %s: sidecar run tail -f %s, run wait, run kill\n")
      :format(data.run_id, where, data.run_id))
  end)
end

-- Follows a submitted run to its end, its events on stderr as `run tail -f` shows them (the worker
-- on the node writes them to the run's folder, so this is the agent's progress); Ctrl-C (an error
-- raised in the wait) cancels its job first.
local function follow(s, run)
  local ok, ended, why = pcall(run_control.tail, s, run.run_id, true, function(line)
    io.stderr:write(line)
  end)
  if not ok then
    pcall(run_control.kill, s, run.run_id)
    error(ended, 0)
  end
  return ended, why
end

-- What the reactions did in the end, as a local run's progress says it.
local function report_reaction(run)
  local r = run and type(run.reaction) == "table" and run.reaction or nil
  if r and r.stopped then
    out.progress(("run %s: reaction stopped: %s"):format(run.run_id, tostring(r.stopped)))
  end
  if r and r.blocked then
    out.progress(("run %s: blocked; %s%s"):format(run.run_id, r.needs_person and "escalated to a person" or "notified",
      r.notified and " (notice sent)" or ""))
  end
end

---Runs the prepared run (sidecar.service.run_start.prepare's `p`) on an executor other than local,
---in the foreground: submits it, follows it to its end (and its reactions' fix runs), and reports
---that end with `report_steps(o, command, result)`. Closes the store. Returns the exit status.
function M.follow(o, p, report_steps)
  local r = run_start.start_background(p)
  if not r.ok then
    p.s:close()
    return out.answer(o, "run", r)
  end
  local s, run = p.s, r.run
  local e = assert(executor.of(p.executor))
  out.progress(("run %s: submitted %s"):format(run.run_id, e.where(run)))
  local ended, wait_why = follow(s, run)
  -- The config's reactions: a fix run is a job of its own, followed in turn (the executor made it
  -- when this command recorded the run's end: stdlib/sidecar/executor/slurm_react.lua).
  local fix_run = e.fix_run or function() end
  local fix = ended and fix_run(s, ended)
  while fix do
    out.progress(("run %s: validation failed; fix run %d of %d submitted %s"):format(ended.run_id,
      ended.reaction.attempt + 1, ended.reaction.retries, e.where(fix)))
    ended, wait_why = follow(s, fix)
    fix = ended and fix_run(s, ended)
  end
  report_reaction(ended)
  s:close()
  if not ended then
    return out.fail(o, "run", wait_why)
  end
  return report_steps(o, "run", run_start.ended({ steps = { ended } }))
end

local GOOD = require("sidecar.task.runs").GOOD -- a run that did its work: exit 0

---`sidecar run --worker R-…`: a background run's worker, here or on a Slurm node, where the
---store's database is a scratch one (stdlib/sidecar/executor/node.lua). `open(o, command)` opens
---the store (cli/run.lua's).
function M.work(o, open)
  local node = require("sidecar.executor.node")
  local root = require("sidecar.service.store").root(o)
  local remote = node.remote(root, o.worker)
  local s, cfg
  if remote then
    s, cfg = node.open(root, o.worker)
    if not s then
      return out.fail(o, "run", cfg)
    end
  else
    s, cfg = open(o, "run")
    if not s then
      return cfg
    end
  end
  -- A preset's step run as a Slurm job runs as the preset's own workers do (executor/slurm_preset.lua).
  local step = remote and require("sidecar.executor.slurm_submit").is_preset_step(root, o.worker)
  local work = background.work
  if step then -- the node runs the step as a local preset worker would (preset.worker's execute)
    local preset_step, execute = require("sidecar.executor.slurm_preset"), require("sidecar.preset.worker").execute
    work = function(ws, wcfg, run_id) return preset_step.work(ws, wcfg, run_id, execute) end
  end
  local lines <close> = require("sidecar.service.run_progress").follow(out.progress) -- validation steps
  local ok, run, message = pcall(work, s, cfg, o.worker, out.progress)
  if remote then
    node.close(s) -- its scratch database goes, even when the worker was stopped (SIGTERM)
  else
    s:close()
  end
  if not ok then
    error(run, 0)
  end
  if not run then
    return out.fail(o, "run", message)
  end
  return GOOD[run.status] and EXIT_OK or 1
end

return M
