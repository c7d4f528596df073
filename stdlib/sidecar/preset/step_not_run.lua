--- The steps of a preset that do not run: a dry run or a runner whose CLI is not installed (a run
--- recorded, with the exact command that would have run), a runner nobody defined (nothing
--- recorded), and a step the budget cannot cover (not started). Each is a result ctx:agent and
--- ctx:agents give as they give a run's; the work that did not run is listed in ctx.missed (or
--- ctx.skipped, for an optional step) and the budget stops in ctx.budget_stops.
local config = require("sidecar.core.config")
local files = require("sidecar.core.files")
local json = require("sidecar.core.json")
local run_processes = require("sidecar.run.processes")
local run_record = require("sidecar.run.record")
local runners = require("sidecar.agent.runners")
local runs = require("sidecar.task.runs")

local M = {}

-- The argv a runner would run (for dry runs and "not installed" reports); run_dir the run's folder
-- when it is recorded, so the command can be run as shown.
local function preview(cfg, r, prompt_file, run_dir)
  local spec = assert(runners.get(r.runner))
  local entry = cfg.runners[r.runner] or {}
  local args = runs.agent_options(cfg, r.runner, r).args -- the runner's own, then effort and search
  local ok, argv = pcall(spec.command, { prompt = "", prompt_file = prompt_file, repo = ".",
    run_dir = run_dir or ".agent/runs/R-…",
    model = r.model, sandbox = r.sandbox, args = args, program = entry.program, command = entry.command })
  if not ok then
    return nil, spec
  end
  return require("sidecar.agent.run").shown(argv) .. " < " .. prompt_file, spec, argv[1]
end

-- A step that could not run: in ctx.skipped when the preset marked it optional, else ctx.missed.
local function not_run(self, o, r, run_id, why)
  local step = { run_id = run_id, step = ("%s%s on %s"):format(o.role or o.kind or "scan",
    o.lens and (" [" .. o.lens .. "]") or "", r.runner), why = why }
  local list = o.optional and self.skipped or self.missed
  list[#list + 1] = step
end

-- A run recorded without executing the agent (dry run, or the CLI is missing).
local function record_not_run(self, o, r, status, why)
  local s = self:store()
  local pid, start = run_processes.preset_self() -- the preset's process: is it gone? (executor/reconcile.lua)
  local run = assert(run_record.create(s, { task_id = self.task.task_id, runner_type = r.runner, model = r.model,
    sandbox = r.sandbox, agent_role = o.role, status = "dry_run", dry_run = true, review_state = json.null,
    preset = self.preset.name, preset_pid = pid, preset_start = start, lens = o.lens,
    route = { kind = o.kind, tier = r.tier, why = r.why } },
    { { "prompt.md", o.prompt } }))
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  local command = preview(self.cfg, r, self.root .. "/" .. run.prompt_path, self.root .. "/runs/" .. run.run_id)
  run.command, run.not_run_reason = command, why
  assert(run_record.save(s, run))
  self.runs[#self.runs + 1] = run.run_id -- a run this preset run made, though nothing ran
  if status == "not_run" then
    not_run(self, o, r, run.run_id, why)
  end
  return { run_id = run.run_id, status = status, command = command, why = why, route = r, lens = o.lens,
    role = o.role, skipped = status == "not_run" and o.optional == true or nil }
end

---nil when the runner of route `r` can run here (ctx's config), else why not (with how to install it).
---@param ctx table  a preset's context
---@param r table  a route (Ctx:route)
---@return string|nil why
function M.missing(ctx, r)
  local command, spec, program = preview(ctx.cfg, r, "prompt.md")
  if command and program and not files.on_path(program) then
    return ("%s is not installed (%s)"):format(program, spec.install and ("install it: " .. spec.install) or
      "put it on PATH")
  end
end

---The result of step `o` (route `r`) that the budget cannot cover (`why`: which limit, with the
---figures): not started, nothing recorded; the stop is kept in ctx.budget_stops for `sidecar
---preset run` to report.
function M.budget_stop(self, o, r, why)
  self.budget_stops[#self.budget_stops + 1] = why
  return { status = "not_started", why = why, route = r, lens = o.lens, role = o.role,
    command = (preview(self.cfg, r, "prompt.md")) }
end

-- The result of a step whose runner is not known (a typo, or defined by a config that is not
-- trusted): it cannot be made, so nothing is recorded; it is missed (or skipped, when optional).
local function unknown_runner(self, o, r, why)
  why = config.untrusted_hint(self.cfg, why)
  not_run(self, o, r, nil, why)
  return { status = "not_run", why = why, route = r, lens = o.lens, role = o.role,
    skipped = o.optional == true or nil }
end

---The result of step `o` (route `r`) when it does not run (its runner unknown, a dry run, or its
---CLI is not installed), recorded but for an unknown runner; nil when it runs.
function M.of(self, o, r)
  local known, unknown = runners.get(r.runner)
  if not known then
    return unknown_runner(self, o, r, unknown)
  end
  local missing = M.missing(self, r)
  if self.dry_run or missing then
    return record_not_run(self, o, r, self.dry_run and "dry_run" or "not_run", self.dry_run and "--dry-run" or missing)
  end
end

return M
