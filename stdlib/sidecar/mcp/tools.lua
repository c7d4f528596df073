--- The tools `sidecar mcp` offers a main agent (Claude Code, Codex): their names are a contract.
--- Each does what a command does, by calling the service function the command renders
--- (sidecar.service.*) and taking its envelope, so a tool and its command can never disagree; what
--- a tool gives back is a bounded summary, never a transcript. The schemas
--- are in sidecar.mcp.tool_schemas.
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local run_control = require("sidecar.executor.run_control")
local run_progress = require("sidecar.service.run_progress")
local preset_run = require("sidecar.service.preset_run")
local presets = require("sidecar.service.presets")
local result = require("sidecar.service.result")
local tasks = require("sidecar.service.tasks")
local run_data = require("sidecar.service.run_data")
local run_start = require("sidecar.service.run_start")
local runs_service = require("sidecar.service.runs")
local schemas = require("sidecar.mcp.tool_schemas")
local store = require("sidecar.core.store")
local text = require("sidecar.core.text")
local clock = require("sidecar.host.time")

local M = {}

local DEFAULT_WAIT_S = 300
local DECIDER = "agent:mcp" -- reviewed_by of a decision made through run_decide
local LIMITS = { summary = 2000, line = 500, files = 100, blockers = 20, validation = 20, preset_text = 8000 }

local function present(v)
  return v ~= nil and v ~= json.null
end

-- `s` cut to `n` bytes at a character boundary, with "..." when cut; null when absent.
local function cut(s, n)
  if not present(s) then
    return json.null
  end
  return text.clip(tostring(s), n)
end

local function first(list, n, each)
  local got = {}
  for i, v in ipairs(type(list) == "table" and list or {}) do
    if i > n then
      break
    end
    got[#got + 1] = each(v)
  end
  return json.array(got)
end

local function file_name(f)
  return cut(type(f) == "table" and (f.path or f.file) or f, LIMITS.line)
end

local function line(v)
  return cut(v, LIMITS.line)
end

local function validation_step(v)
  return { kind = v.kind or json.null, command = cut(v.command or v.name, LIMITS.line),
    ok = v.ok == true and not v.timed_out, exit_code = math.type(v.exit_code) and v.exit_code or json.null,
    timed_out = v.timed_out == true }
end

---A run record (or `run show --json` data) as the tools give it: bounded.
---@param r table
---@return table
function M.run_summary(r)
  return { run_id = r.run_id, task_id = r.task_id or json.null, status = r.status,
    review_state = r.review_state or json.null, runner = r.runner_type or json.null,
    summary = cut(r.summary, LIMITS.summary), failure_reason = cut(r.failure_reason, LIMITS.summary),
    changed_files = first(r.changed_files, LIMITS.files, file_name),
    validation = first(r.validation, LIMITS.validation, validation_step),
    usage = type(r.usage) == "table" and r.usage or json.null,
    cost_usd = type(r.cost_usd) == "number" and r.cost_usd or json.null,
    blockers = first(r.blockers, LIMITS.blockers, line),
    budget_exceeded = type(r.budget_exceeded) == "table" and r.budget_exceeded or json.null,
    -- what an active run needs (stdlib/sidecar/run/stuck.lua, agent/terminal.lua); nothing once it ended
    attention = type(r.attention) == "table" and (r.status == "running" or r.status == "queued") and r.attention
      or json.null }
end

-- The command-line flags a command's messages name, as the tools' fields are called.
local FIELD_OF_FLAG = { ["--validate-cmds"] = "validate", ["--depends-on"] = "depends_on", ["--agent-role"] = "role",
  ["--read"] = "read", ["--avoid"] = "avoid", ["--title"] = "title", ["--goal"] = "goal", ["--summary"] = "summary",
  ["--type"] = "type", ["--runner"] = "runner", ["--model"] = "model", ["--sandbox"] = "sandbox",
  ["--reason"] = "note", ["--note"] = "note", ["--param"] = "params", ["-p"] = "params" }

local function as_fields(message)
  return (tostring(message):gsub("%-%-?[%a][%w%-]*", function(flag) return FIELD_OF_FLAG[flag] end))
end

-- An envelope's data, or nil and its errors (named as the tools' fields are).
local function data_of(envelope)
  if not envelope.ok and #envelope.errors > 0 then
    return nil, as_fields(table.concat(errors.messages(envelope), "; ")), envelope
  end
  return envelope.data, nil, envelope
end

-- Calls a service function (sidecar.service.*) with these options; its data (redacted, as every
-- envelope's), or nil and its errors.
local function served(ctx, fn, command_name, o)
  o.root, o.version = ctx.root, ctx.version
  local r = fn(o)
  for _, w in ipairs(r.warnings) do
    if ctx.log then ctx.log(command_name .. ": " .. w) end
  end
  return data_of(result.envelope(r, command_name, ctx.version))
end

-- A call that waits for a run to end, for at most wait_s seconds: it polls the store between
-- the messages the server reads. cancel_stops: a cancellation stops the run (run_task's own).
local function run_waiter(ctx, run_id, wait_s, cancel_stops)
  local s, message = store.open(ctx.root)
  if not s then
    return nil, message
  end
  local deadline = clock.monotonic_ns() // 1000000 + wait_s * 1000
  local started = clock.monotonic_ns()
  local status = "queued"
  local now_doing = run_progress.watcher(s, run_id)
  local function done(result, why)
    s:close()
    return result, why
  end
  return {
    poll = function()
      local run, why, code = run_control.wait(s, run_id, 0)
      if not run and code ~= "timeout" then
        return done(nil, why)
      end
      if run then
        return done(M.run_summary(assert(run_data.show(s, run))))
      end
      run = s:get_run(run_id)
      status = run and run.status or status
      if clock.monotonic_ns() // 1000000 >= deadline then
        local summary = M.run_summary(run)
        summary.status = "running" -- still going: run_wait picks it up again
        return done(summary)
      end
    end,
    progress = function() -- "R-0001 running, 12 s: $ make test [exit 0]": the latest of its events
      local latest = now_doing()
      return ("%s %s, %d s%s"):format(run_id, status, (clock.monotonic_ns() - started) // 1000000000,
        latest and (": " .. latest) or "")
    end,
    cancel = function()
      if cancel_stops then
        local run, why = run_control.kill(s, run_id)
        ctx.log(run and ("%s stopped: %s"):format(run_id, run.status) or ("%s: %s"):format(run_id, why))
      end
      s:close()
    end,
  }
end

local CALLS = {}

function CALLS.task_create(a, ctx)
  local data, why = served(ctx, tasks.create, "task create", { title = a.title, goal = a.goal,
    summary = a.summary, type = a.type, validate_cmds = a.validate, read = a.read or {}, avoid = a.avoid or {},
    depends_on = a.depends_on or {}, tags = {}, done_when = {} })
  if not data then
    return nil, why
  end
  return { task_id = data.task_id, status = data.status, title = data.title }
end

function CALLS.run_task(a, ctx)
  local data, why = served(ctx, run_start.start, "run", { task = a.task_id, runner = a.runner,
    agent_role = a.role, model = a.model, sandbox = a.sandbox, background = true, budget_tokens = a.budget_tokens,
    budget_usd = a.budget_usd })
  if not data then
    return nil, why
  end
  ctx.log(("%s started for %s (worker pid %s)"):format(data.run_id, a.task_id, tostring(data.worker_pid)))
  return run_waiter(ctx, data.run_id, a.wait_s or DEFAULT_WAIT_S, true)
end

function CALLS.run_wait(a, ctx)
  if not a.run_id:match("^R%-%d+$") then
    return nil, ("run_id: '%s' is not a run id (run ids look like R-0001)"):format(a.run_id)
  end
  return run_waiter(ctx, a.run_id, a.wait_s or DEFAULT_WAIT_S, false)
end

function CALLS.run_show(a, ctx)
  local data, why = served(ctx, runs_service.show, "run show", { id = a.run_id })
  if not data then
    return nil, why
  end
  local summary = M.run_summary(data)
  summary.started_at, summary.completed_at = data.started_at or json.null, data.completed_at or json.null
  summary.model = data.model or json.null
  return summary
end

function CALLS.run_list(a, ctx)
  local data, why = served(ctx, runs_service.list, "run list", { status = a.status, task = a.task_id,
    limit = a.limit or 20 })
  if not data then
    return nil, why
  end
  local runs = {}
  for i, r in ipairs(data) do
    runs[i] = { run_id = r.run_id, task_id = r.task_id or json.null, status = r.status,
      review_state = r.review_state or json.null, runner = r.runner_type or json.null,
      summary = cut(r.summary, 200), created_at = r.created_at or json.null }
  end
  return { runs = json.array(runs) }
end

function CALLS.run_decide(a, ctx)
  local cfg, message = require("sidecar.core.config").load(ctx.root)
  if not cfg then
    return nil, message
  end
  if not (cfg.mcp and cfg.mcp.allow_decide) then
    return nil, "agents may not decide on runs in this repository: a person decides (sidecar run approve|block), "
      .. "or sets mcp = { allow_decide = true } in .agent/config.lua"
  end
  local data, why
  if a.decision == "approve" then
    data, why = served(ctx, runs_service.approve, "run approve", { id = a.run_id, note = a.note, by = DECIDER })
  else
    data, why = served(ctx, runs_service.block, "run block", { id = a.run_id, reason = a.note, by = DECIDER })
  end
  if not data then
    return nil, why
  end
  return { run_id = data.run_id, status = data.status, review_state = data.review_state or json.null,
    reviewed_by = data.reviewed_by or json.null }
end

function CALLS.preset_list(_, ctx)
  local data, why = served(ctx, presets.list, "preset list", { repo = ctx.repo })
  if not data then
    return nil, why
  end
  local list = {}
  for i, p in ipairs(data) do
    list[i] = { name = p.name, summary = cut(p.summary, LIMITS.line), origin = p.origin, trusted = p.trusted,
      active = p.active }
  end
  return { presets = json.array(list) }
end

function CALLS.preset_run(a, ctx)
  local params = {}
  for k, v in pairs(a.params or {}) do
    params[#params + 1] = ("%s=%s"):format(k, type(v) == "table" and table.concat(v, ",") or tostring(v))
  end
  table.sort(params)
  local data, why, envelope = served(ctx, preset_run.run, "preset run", { name = a.preset, params = params,
    runner = a.runner, dry_run = a.dry_run == true, repo = ctx.repo,
    on_progress = ctx.log and function(line) ctx.log("preset run: " .. line) end })
  if not data and not (envelope and envelope.data ~= json.null) then
    return nil, why
  end
  data = envelope.data
  local runs = first(data.runs, 50, function(r) return r.run_id or json.null end)
  return { ok = envelope.ok, text = cut(data.text, LIMITS.preset_text), data = data.result, runs = runs,
    errors = first(errors.messages(envelope), LIMITS.blockers, line) }
end

function CALLS.context(_, ctx)
  local context = require("sidecar.service.context")
  local data, why = context.gather(ctx.root, context.DEFAULT_BUDGET)
  if not data then
    return nil, why
  end
  return data, context.render(data)
end

---The tools, each with its schemas and a call(args, request) for sidecar.mcp.server. ctx: root
---(the .agent folder), repo, version, log(line).
---@param ctx table
---@return table[]
function M.list(ctx)
  local tools = {}
  for i, t in ipairs(schemas.TOOLS) do
    local call = assert(CALLS[t.name], t.name)
    tools[i] = { name = t.name, title = t.title, description = t.description, inputSchema = t.input,
      outputSchema = t.output, annotations = t.annotations, call = function(args) return call(args, ctx) end }
  end
  return tools
end

return M
