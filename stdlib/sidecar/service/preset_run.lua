--- Running a preset, as data (sidecar.service.result). `sidecar preset run` renders it (the preset's
--- text, the steps skipped, the change to apply); `sidecar mcp` answers with it.
---
---   local r = preset_run.run({ repo = ".", name = "triangulated-review", params = { "lenses=risks,security" } })
---   -- r.data: {preset, params, result, text, runs, skipped, change, source, path, shadows, passed_over}
local default_repo = require("sidecar.core.default_repo")
local json = require("sidecar.core.json")
local otel = require("sidecar.run.otel")
local preset = require("sidecar.preset.define")
local preset_context = require("sidecar.preset.context")
local presets = require("sidecar.service.presets")
local result = require("sidecar.service.result")

local M = {}

---Why a preset run failed for work that did not run: a step it needs whose CLI is not installed
---(none with --dry-run, which runs nothing by design). nil when every needed step ran.
---@param missed {step: string, why: string, run_id: string}[]  ctx.missed
---@return string|nil
function M.missed_error(missed)
  if #missed == 0 then
    return nil
  end
  local parts = {}
  for i, step in ipairs(missed) do
    parts[i] = ("%s (%s): %s"):format(step.step, step.run_id, step.why)
  end
  return ("%d step%s could not run, so the preset did not do its work: %s"):format(#missed,
    #missed == 1 and "" or "s", table.concat(parts, "; "))
end

---What a loaded preset replaced or passed over, for people: a project never silently replaces a
---built-in, and an untrusted one is never silently skipped.
---@return string[]
function M.origin_notes(name, source, path, info)
  local notes = {}
  if info.shadows then
    notes[#notes + 1] = ("%s is the %s preset %s, which replaces the %s one of that name"):format(name, source, path,
      info.shadows)
  end
  if info.passed_over then
    notes[#notes + 1] = ("%s is not trusted (%s), so the %s preset %s runs instead"):format(info.passed_over.path,
      info.passed_over.state, source, name)
  end
  return notes
end

-- The checks before a preset runs: the config, its parameters, -j, --runner, the budget and the
-- executor. {params, cfg, budget, executor}, or nil and a failed result.
local function checked(o, spec, repo)
  local config = require("sidecar.core.config")
  local cfg, cfg_err = config.load(repo .. "/.agent")
  if not cfg then
    return nil, result.fail(cfg_err)
  end
  local runners = require("sidecar.agent.runners")
  runners.register_config(cfg) -- so --runner, and a parameter naming runners, may name one of config.lua
  local cap, bad_cap = require("sidecar.run.agent_slots").cap(cfg.max_agents) -- as each step's would be
  bad_cap = bad_cap or runners.uncapped_names(cfg.max_agents_per_runner, cfg.path, cfg.runners)
  if not cap or bad_cap then
    return nil, result.fail(bad_cap)
  end
  local params, why = preset.params(spec, o.params)
  if not params then
    return nil, result.fail(why, "usage")
  end
  if o.jobs and o.jobs < 1 then
    return nil, result.fail(("-j %d: expected a whole number, 1 or more"):format(o.jobs), "usage")
  end
  if o.runner then
    local ok, message = runners.get(o.runner)
    if not ok then
      return nil, result.fail(config.untrusted_hint(cfg, message), "usage")
    end
  end
  local budget, bad_budget = require("sidecar.agent.budget").from_options(cfg.budgets, o)
  if budget == nil then
    return nil, result.fail(bad_budget, "usage")
  end
  local executor, bad_executor = require("sidecar.executor").choose(cfg, o.executor)
  if not executor then
    return nil, result.fail(bad_executor, "usage")
  end
  return { params = params, cfg = cfg, budget = budget, executor = executor }
end

-- The notification channels told of the preset's end, once for the whole (its steps are not told
-- one by one: stdlib/sidecar/run/notify.lua); its workflow span ended (stdlib/sidecar/run/otel.lua).
local function tell(spec, ctx, status, reason, wf)
  reason = type(reason) == "table" and reason.message or reason
  local task_id = ctx.task and ctx.task.task_id
  otel.workflow_ended(wf, { status = status, reason = reason, runs = ctx.runs, task_id = task_id })
  local s = task_id and require("sidecar.core.store").open(ctx.root)
  if s then
    require("sidecar.run.notify").preset_ended(s, { name = spec.name, task_id = task_id, status = status,
      reason = reason })
    s:close()
  end
end

M.ERROR_TEXT_BYTES = 4096 -- of a preset's error, kept and shown

-- What a preset's raised `err` says, for people, never raising (a __tostring that raises): an error
-- object as it prints (where, then its message), a table's `message`, anything else as tostring
-- gives it; clipped.
local function error_text(err)
  local ok, text = pcall(function()
    if type(err) == "table" and not require("sidecar.core.errors").is(err) and err.message ~= nil then
      return tostring(err.message)
    end
    return tostring(err)
  end)
  text = ok and type(text) == "string" and text or ("(an error that cannot be shown: a " .. type(err) .. ")")
  return require("sidecar.core.text").clip(text, M.ERROR_TEXT_BYTES)
end

-- The data of a preset's failed result: its runs, and the change its writers left (the CLI names it).
local function ended_data(p)
  return { preset = p.spec.name, params = p.params, runs = json.array(p.ctx.runs), change = p.change or json.null }
end

-- A preset whose run raised `err` (p: {spec, ctx, wf, params, change, frames, warnings}): a step the
-- budget could not cover (the Slurm executor's), the interruption (Ctrl-C, SIGTERM, its terminal
-- closed: raised again once told), or an error of its Lua: a failed result (code "preset_error")
-- naming where, with the preset's frames (never a traceback of Sidecar's). Each is an end, told;
-- the failed results carry its runs and the change its writers left.
local function ended_badly(o, p, err)
  local errors = require("sidecar.core.errors")
  local budget, stopped = errors.is(err, "budget_exceeded"), errors.is_interrupt(err)
  local text = budget and tostring(err.message) or error_text(err)
  local first = stopped and text:match("interrupted![^\n]*") or text:match("^[^\n]*")
  if not o.dry_run then
    tell(p.spec, p.ctx, budget and "budget_exceeded" or (stopped and "interrupted" or "failed"), first, p.wf)
  end
  if stopped then
    error(err, 0)
  end
  local r = result.fail(budget and text or ("preset %s raised an error: %s"):format(p.spec.name, first), "failed",
    ended_data(p))
  r.data.traceback = not budget and text .. (p.frames or "") or nil
  r.errors[1].code = budget and "budget_exceeded" or "preset_error"
  r.warnings, r.change, r.skipped = p.warnings, p.change, p.ctx.skipped
  return r
end

---Runs preset o.name of o.repo (default ".", or an embedding Host's root:
---sidecar.core.default_repo) with o.params ({"name=value"...}), o.dry_run, o.runner, o.model,
---o.jobs, budget options, o.executor; progress lines go to o.on_progress and notes on its origin to
---o.on_note (else into the result's warnings). A preset that cannot load fails (an untrusted one
---with data {code = "untrusted", name, repo}). The result also carries `text`, `skipped`, `change`
---and `missed` for the command line's lines.
---@param o table
function M.run(o)
  local repo = o.repo or default_repo.get()
  local spec, source, path, info = presets.load(o.name, o.repo)
  if not spec then
    return source
  end
  local warnings = {}
  for _, note in ipairs(M.origin_notes(o.name, source, path, info)) do
    if o.on_note then
      o.on_note(note)
    else
      warnings[#warnings + 1] = note
    end
  end
  local c, bad = checked(o, spec, repo)
  if not c then
    return bad
  end
  local ctx = preset_context.new({ repo = repo, preset = spec, params = c.params, dry_run = o.dry_run,
    runner = o.runner, model = o.model, jobs = o.jobs, worktree = true, on_progress = o.on_progress,
    explicit = preset.explicit(o.params), budget = c.budget, executor = c.executor })
  -- Its runs nest under the preset's span, when runs are traced (in its workers too: preset/context.lua).
  local wf <close> = not o.dry_run and otel.workflow(ctx.root, "preset", spec.name) or nil
  local frames
  local ok, ran = xpcall(spec.run, function(err)
    frames = debug.traceback("", 2):gsub("\n\t%[C%]: in function 'xpcall'.*$", "") -- the preset's, not ours
    return err
  end, ctx, c.params)
  local change = ctx:close()
  if not ok then
    return ended_badly(o, { spec = spec, ctx = ctx, wf = wf, params = c.params, change = change, frames = frames,
      warnings = warnings }, ran)
  end
  ran = ran or {}
  local missed = not o.dry_run and M.missed_error(ctx.missed) or nil
  local errors = {}
  for _, e in ipairs(ran.errors or {}) do
    errors[#errors + 1] = type(e) == "table" and e or { code = "failed", message = tostring(e) }
  end
  errors[#errors + 1] = missed and { code = "failed", message = missed } or nil
  for _, why in ipairs(ctx.budget_stops) do -- what the preset made of the steps that ran stays the report
    errors[#errors + 1] = { code = "budget_exceeded", message = why }
  end
  local good = ran.ok ~= false and not missed and #ctx.budget_stops == 0
  if not o.dry_run then
    local stops = ctx.budget_stops
    tell(spec, ctx, #stops > 0 and "budget_exceeded" or (good and "review" or "failed"),
      stops[1] or missed or (ran.errors and ran.errors[1]), wf)
  end
  return { ok = good, status = good and 0 or 1, errors = errors, warnings = warnings, text = ran.text,
    skipped = ctx.skipped, change = change, missed = missed,
    data = { preset = spec.name, params = c.params, result = json.empty_as_arrays(ran.data) or json.null, text = ran.text or json.null,
      runs = json.array(ctx.runs), skipped = json.array(ctx.skipped), change = change or json.null, source = source,
      path = path, shadows = info.shadows or json.null, passed_over = info.passed_over or json.null } }
end

return M
