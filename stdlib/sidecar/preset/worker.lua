--- One agent run of a preset's ctx:agents, in a process of its own: the job comes as JSON on
--- stdin ({root, repo, runner, settings, prompt, task_id, run_id?, gates?, reported?, swept?,
--- budget?}: budget the step's (stdlib/sidecar/preset/budget.lua); run_id a run recorded
--- ahead, as a writer's is; gates true: weigh the run's gates here, with config's policy and the
--- preset's task, else the preset weighs them after its batch; reported: the agent run's option of
--- that name; swept: the preset swept killed owners' sandbox folders, sidecar.run.sandbox.sweep_once);
--- the run record goes to stdout.
--- A step run as a Slurm job runs M.execute on the node (stdlib/sidecar/executor/slurm_preset.lua).
local json = require("sidecar.core.json")

local M = {}

---Runs `job` (as main's, root aside) on the open store `s` with config `cfg`: the run record
---(its output in output.md), or nil and why.
---@param s table
---@param cfg table
---@param job table
function M.execute(s, cfg, job)
  local runs = require("sidecar.task.runs")
  local opts = runs.agent_options(cfg, job.runner, job.settings)
  opts.store, opts.repo, opts.prompt, opts.task_id, opts.agent_role, opts.record = s, job.repo, job.prompt,
      job.task_id, job.settings.agent_role, job.settings.record
  opts.run_id, opts.reported = job.run_id, job.reported
  if job.gates then
    opts.gates, opts.task = cfg.gates, s:get_task(job.task_id)
  end
  local why
  opts.budget, why = require("sidecar.preset.budget").worker_meter(s, job)
  if job.budget and not opts.budget then
    return nil, why
  end
  local record, message = require("sidecar.agent.run").execute(opts)
  if record then
    record.output = nil -- the preset reads output.md
  end
  return record, message
end

function M.main()
  local job = json.decode(io.read("a"))
  require("sidecar.run.otel").join(job.trace) -- its run nests under the preset's span
  if job.swept then
    require("sidecar.run.sandbox").sweep_once(true) -- the preset swept before it started its workers
  end
  local s, cfg = assert(require("sidecar.task.runs").open(job.root))
  require("sidecar.run.otel").remember(job.root, cfg) -- the config is read once
  local record, message = M.execute(s, cfg, job)
  s:close()
  if not record then
    io.stderr:write(message, "\n")
    return 1
  end
  print(json.encode(record)) -- stdout holds the record alone
  return 0
end

return M
