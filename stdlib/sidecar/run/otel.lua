--- OpenTelemetry of runs (docs/telemetry.md), on the run's side: the trace context a run records and
--- hands its agent, the workflow (a preset, a pipeline) its runs nest under, and the queuing of
--- what is exported when each ends. The export itself (spans and metrics built from the run's record
--- and events, OTLP/HTTP, retries) is a detached `sidecar otel --deliver`
--- (stdlib/sidecar/run/otel_deliver.lua): a slow or dead collector costs a run nothing. Nothing of
--- this happens unless `otel` or the OTEL_EXPORTER_OTLP_* variables name an endpoint
--- (stdlib/sidecar/core/otel_settings.lua).
---
--- A run's span nests under, in order: the workflow this process runs (M.workflow), else the
--- TRACEPARENT of Sidecar's own environment (a CI job's trace, or an agent's when an agent runs
--- Sidecar), else it starts a trace.
---
---   local wf <close> = otel.workflow(root, "pipeline", "T-0001")   -- nil when nothing is exported
---   ... runs ...
---   otel.workflow_ended(wf, { status = "review", runs = ids })
local artifact = require("sidecar.core.artifact")
local coop = require("sidecar.core.coop")
local otel_settings = require("sidecar.core.otel_settings")

local M = {}

M.DIR = "otel" -- under the store folder: queue/ (what a sender is to send), log.jsonl (its attempts)
M.SENDER_MARK = "sidecar-otel" -- the senders' own (stdlib/sidecar/run/detached_sender.lua)

local memo = {} -- by store folder: {text (of its config.lua), settings}

-- The text of the config at `root` ("" when there is none).
local function config_text(root)
  local f = io.open(root .. "/" .. require("sidecar.core.config").FILE, "rb")
  local text = f and f:read(1048577) or ""
  if f then
    f:close()
  end
  return text
end

---What the store at `root` configures (its config's `otel`, the OTEL_* variables:
---otel_settings.resolve's, with the problems of a signal that cannot be sent), or nil when nothing
---is, and why when something turns an endpoint off. A config that cannot be read leaves the
---variables' alone.
---@param root string
---@return table|nil settings, string? why_none
function M.configured(root)
  -- Asked several times a run: the config is read again only when its text changed.
  local text = config_text(root)
  local m = memo[root]
  if m and m.text == text then
    return m.settings, m.why_none
  end
  local ok, cfg = pcall(require("sidecar.core.config").load, root)
  local st, why_none = otel_settings.resolve(ok and type(cfg) == "table" and rawget(cfg, "otel") or nil)
  memo[root] = { text = text, settings = st, why_none = why_none }
  return st, why_none
end

---Takes `cfg`, the config of the store at `root` its caller has just read (config.load's), as
---M.configured's answer while the file's text stays the same: a process that runs one agent (a
---preset's worker) reads its config once.
---@param root string
---@param cfg table
function M.remember(root, cfg)
  local st, why_none = otel_settings.resolve(rawget(cfg, "otel"))
  memo[root] = { text = config_text(root), settings = st, why_none = why_none }
end

---The export settings for the store at `root`, or nil when nothing can be exported (no endpoint,
---or only signals that cannot be sent, such as a grpc protocol: `sidecar otel` says why).
---@param root string
---@return table|nil
function M.settings(root)
  local st = M.configured(root)
  return st and (st.traces or st.metrics) and st or nil
end

-- fn(...), or `fallback` should it raise: what runs on a run's path never fails the run (an
-- interrupt, Ctrl-C, still goes on up).
local function safely(fallback, fn, ...)
  local ok, v = require("sidecar.core.errors").keep_interrupt(pcall(fn, ...))
  if ok then
    return v
  end
  return fallback
end

---A random id of `bytes` bytes, as hex (16: a trace id, 8: a span id).
---@param bytes integer
---@return string
function M.new_id(bytes)
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = f:read(bytes)
  f:close()
  return (b:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

---The {trace_id, span_id} of a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"), or nil.
---@param text string|nil
---@return table|nil
function M.parse_traceparent(text)
  local version, trace, span = (text or ""):match("^(%x%x)%-(%x+)%-(%x+)%-%x%x$")
  if not version or version:lower() == "ff" or #trace ~= 32 or #span ~= 16 or trace:match("^0+$")
      or span:match("^0+$") then
    return nil
  end
  return { trace_id = trace:lower(), span_id = span:lower() }
end

---The W3C traceparent of a span (sampled).
function M.traceparent(ctx)
  return ("00-%s-%s-01"):format(ctx.trace_id, ctx.span_id)
end

local process_workflows = {} -- this process's, innermost last

-- The open workflows, innermost last: this process's, or, in a task of sidecar.core.coop (a run
-- among a preset's others in its pool), that task's own.
local function open_workflows()
  local task = coop.task()
  if not task then
    return process_workflows
  end
  task.locals.workflows = task.locals.workflows or {}
  return task.locals.workflows
end

---What a span started now nests under: {trace_id, span_id}, or nil.
function M.parent()
  local workflows = open_workflows()
  local wf = workflows[#workflows]
  return wf and { trace_id = wf.trace_id, span_id = wf.span_id } or M.parse_traceparent(os.getenv("TRACEPARENT"))
end

---Makes `ctx` ({trace_id, span_id}: a workflow of another process, such as a preset's worker's
---preset) what this process's runs nest under (in a task of sidecar.core.coop, that task's runs).
---Nothing for nil or a malformed one.
---@param ctx table|nil
function M.join(ctx)
  if type(ctx) == "table" and M.parse_traceparent(("00-%s-%s-01"):format(tostring(ctx.trace_id),
      tostring(ctx.span_id))) then
    local workflows = open_workflows()
    workflows[#workflows + 1] = { trace_id = ctx.trace_id, span_id = ctx.span_id, ended = true }
  end
end

---The trace context a run records (`trace` of its record): {trace_id, span_id, parent_span_id?};
---the one it has, or a new one under M.parent(); nil when nothing is exported.
---@param root string  the store folder
---@param record table
---@return table|nil
function M.run_context(root, record)
  if type(record.trace) == "table" and record.trace.span_id then
    return record.trace
  end
  return safely(nil, function()
    if not M.settings(root) then
      return nil
    end
    local p = M.parent()
    return { trace_id = p and p.trace_id or M.new_id(16), span_id = M.new_id(8), parent_span_id = p and p.span_id }
  end)
end

-- The exporter settings of one signal as an agent's OTEL_* variables.
local function signal_env(env, signal, e)
  local upper = signal:upper()
  local headers = {}
  for _, line in ipairs(e.headers) do
    local k, v = line:match("^([^:]+): (.*)$")
    headers[#headers + 1] = k .. "=" .. v:gsub("[%%,=%s]", function(c) return ("%%%02X"):format(c:byte()) end)
  end
  env["OTEL_" .. upper .. "_EXPORTER"] = "otlp"
  env["OTEL_EXPORTER_OTLP_" .. upper .. "_ENDPOINT"] = e.url
  env["OTEL_EXPORTER_OTLP_" .. upper .. "_PROTOCOL"] = e.protocol
  env["OTEL_EXPORTER_OTLP_" .. upper .. "_HEADERS"] = #headers > 0 and table.concat(headers, ",") or nil
end

-- Claude Code's own telemetry, to Sidecar's collector: its spans (traces are its enhanced
-- telemetry's), under TRACEPARENT, and its metrics. What the runner's env sets stays.
local function claude_env(env, st)
  local add = { CLAUDE_CODE_ENABLE_TELEMETRY = "1", CLAUDE_CODE_ENHANCED_TELEMETRY_BETA = "1" }
  for signal in pairs({ traces = true, metrics = true }) do
    if st[signal] then
      signal_env(add, signal, st[signal])
    end
  end
  for k, v in pairs(add) do
    if env[k] == nil then
      env[k] = v
    end
  end
end

---The run's args with, when `otel.agents` asks for it, Codex's own spans sent to Sidecar's collector
---(its `[otel]` settings as a -c override): `args` itself when nothing is added. No header goes
---there: the command line is recorded with the run (a collector that needs one gets Codex's spans
---through the runner's own args). Never raises.
---@param root string
---@param spec table  the runner
---@param trace table|nil  the run's context
---@param args string[]|nil
---@return string[]|nil
function M.agent_args(root, spec, trace, args)
  return safely(args, function()
    local st = trace and spec.dialect == "codex" and M.settings(root)
    if not (st and st.agents and st.traces) then
      return args
    end
    local out = { table.unpack(args or {}) }
    out[#out + 1] = "-c"
    out[#out + 1] = ("otel.trace_exporter={otlp-http={endpoint=%q,protocol=%q}}"):format(st.traces.url,
      st.traces.protocol == "http/json" and "json" or "binary")
    return out
  end)
end

local ENDPOINT_VARIABLES = { "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" }

-- M.agent_env's work (it may raise; M.agent_env never does).
local function set_agent_env(root, spec, trace, env)
  local st = trace and M.settings(root)
  local hosts = {}
  if st then
    env.TRACEPARENT = M.traceparent(trace)
    if st.agents and spec.dialect == "claude" then
      claude_env(env, st)
    end
    if st.agents and (spec.dialect == "claude" or spec.dialect == "codex") then
      hosts[#hosts + 1] = st.traces and st.traces.url
      hosts[#hosts + 1] = st.metrics and st.metrics.url
    end
  end
  for _, name in ipairs(ENDPOINT_VARIABLES) do
    if type(env[name]) == "string" and env[name] ~= "" then
      hosts[#hosts + 1] = env[name]
    end
  end
  return hosts
end

---Sets the agent's part of a run's telemetry in `env` (its environment's additions): TRACEPARENT
---(the run's span, which Claude Code and Codex continue), and with `otel.agents` Claude Code's
---exporter settings. Returns the collector endpoints the agent's OS sandbox is to let it reach:
---Sidecar's when the agent exports there, and those the runner's own env names (its config's choice).
---Never raises.
---@param root string
---@param spec table  the runner
---@param trace table|nil  the run's context (M.run_context)
---@param env table
---@return string[]
function M.agent_env(root, spec, trace, env)
  return safely({}, set_agent_env, root, spec, trace, env)
end

-- Queues `item` for a detached sender (stdlib/sidecar/run/otel_deliver.lua). The number of senders
-- started (0 or 1). Never raises.
local function queue(root, item)
  local ok, started = pcall(function()
    local d <close> = artifact.open(root .. "/" .. M.DIR, { create = true })
    if not d or not d:make_dirs("queue") then
      return 0
    end
    local proc, sender = require("sidecar.core.proc"), require("sidecar.run.detached_sender")
    local function argv(file)
      return { proc.executable(), "otel", "--deliver", file, "--root", root }
    end
    sender.recover(d, argv, M.SENDER_MARK, "log.jsonl") -- what a killed sender left goes again first
    local file = ("queue/%d-%s.json"):format(require("sidecar.host.time").wall_ms(), M.new_id(4))
    return sender.start(d, file, item, argv(file), M.SENDER_MARK) and 1 or 0
  end)
  return ok and started or 0
end

---Queues the export of an ended run (its span, its steps' spans, its metrics). Never raises.
---@param s table  the store
---@param run table  the ended run's record
---@return integer  senders started
function M.run_ended(s, run)
  if type(run.trace) ~= "table" or not M.settings(s.root) then
    return 0
  end
  return queue(s.root, { run = run, ended_ms = require("sidecar.host.time").wall_ms() })
end

local Workflow = {}
Workflow.__index = Workflow

-- Out of scope before it was ended (an error, an interrupt): ended as interrupted.
function Workflow:__close(err)
  if not self.ended then
    M.workflow_ended(self, { status = err and "interrupted" or "completed", reason = err and tostring(err) or nil })
  end
end

---Starts the span of a workflow (kind "preset" or "pipeline"), which the runs this process starts
---nest under until it ends; nil when nothing is exported. Use with <close>.
---@param root string
---@param kind "preset"|"pipeline"
---@param name string
---@return table|nil
function M.workflow(root, kind, name)
  if not safely(nil, M.settings, root) then
    return nil
  end
  local p = M.parent()
  local wf = setmetatable({ root = root, kind = kind, name = name, trace_id = p and p.trace_id or M.new_id(16),
    span_id = M.new_id(8), parent_span_id = p and p.span_id, start_ms = require("sidecar.host.time").wall_ms() },
    Workflow)
  local workflows = open_workflows()
  workflows[#workflows + 1] = wf
  return wf
end

---Ends a workflow's span (M.workflow's; nil: nothing) and queues its export. w: {status, reason?,
---runs (records or ids), task_id?}. Never raises.
---@param wf table|nil
---@param w table
---@return integer  senders started
function M.workflow_ended(wf, w)
  if not wf or wf.ended then
    return 0
  end
  wf.ended = true
  local workflows = open_workflows()
  for i = #workflows, 1, -1 do
    if workflows[i] == wf then
      table.remove(workflows, i)
    end
  end
  local ids = {}
  for i, r in ipairs(w.runs or {}) do
    ids[i] = type(r) == "table" and r.run_id or r
  end
  return queue(wf.root, { workflow = { kind = wf.kind, name = wf.name, trace_id = wf.trace_id, span_id = wf.span_id,
    parent_span_id = wf.parent_span_id, start_ms = wf.start_ms, end_ms = require("sidecar.host.time").wall_ms(),
    status = w.status, reason = w.reason, runs = ids, task_id = w.task_id } })
end

return M
