--- What Sidecar exports of a run or a workflow (docs/telemetry.md), as OTLP requests
--- (stdlib/sidecar/core/otlp.lua): built by the sender (stdlib/sidecar/run/otel_deliver.lua) from
--- what stdlib/sidecar/run/otel.lua queued, the run's record and its events.jsonl.
---
--- Spans follow the OpenTelemetry GenAI conventions where they have a name (`gen_ai.*`), `sidecar.*`
--- for the rest:
---   invoke_workflow <name>   a preset or pipeline; its runs under it
---   invoke_agent <runner>    a run: usage, cost, status, runner, sandbox; under it the agent's
---                            process (`agent`), each validation step and each gate that applied
--- Metrics (delta sums and histograms, one point per run): gen_ai.client.token.usage ({token},
--- by gen_ai.token.type), sidecar.runs ({run}), sidecar.cost (USD), each by runner, model and status.
local json = require("sidecar.core.json")
local otel = require("sidecar.run.otel")
local otlp = require("sidecar.core.otlp")
local secrets = require("sidecar.core.secrets")
local text = require("sidecar.core.text")

local M = {}

M.CONTENT_BYTES = 16384 -- a prompt or output exported (otel.content), at most
M.TOKEN_BOUNDS = { 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864 }
M.PROVIDERS = { codex = "openai", claude = "anthropic", gemini = "gcp.gemini" }

-- Statuses a span says failed (a decision such as blocked or review is not the span's error).
local ERROR_STATUS = { failed = true, outcome_unknown = true, interrupted = true, budget_exceeded = true }

-- Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

-- Milliseconds since the epoch of an ISO-8601 UTC time ("2026-11-21T13:45:01.123Z", or to the second).
local function ms_of_iso(s)
  local y, mo, d, h, mi, sec, frac = tostring(s or ""):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$")
  if not y then
    return nil
  end
  local seconds = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
  return seconds * 1000 + tonumber((frac .. "000"):sub(1, 3))
end
M.ms_of_iso = ms_of_iso

local WANTED = { ["run.started"] = true, span = true, ["validation.started"] = true, ["validation.finished"] = true,
  gates = true, ["run.finished"] = true }

-- The events of a run that make its spans (only those lines are decoded: an agent's own can be
-- many), each with `ms`, its time.
local function events_of(root, run_id)
  local f = io.open(("%s/runs/%s/events.jsonl"):format(root, run_id), "rb")
  local out = {}
  if not f then
    return out
  end
  for line in f:lines() do
    -- The line's own kind (its keys are sorted: fields, kind, seq, ts), not one of its fields'.
    local kind = line:match('"kind":"([%w_.]+)","seq":%d+,"ts":"[^"]*"}%s*$')
    if kind and WANTED[kind] then
      local ok, e = json.try_decode(line)
      if ok and type(e) == "table" and e.kind == kind then
        e.ms = ms_of_iso(e.ts)
        out[#out + 1] = e
      end
    end
  end
  f:close()
  return out
end

local function ns(ms)
  return math.tointeger(ms) * 1000000
end

local function number(v)
  return type(v) == "number" and v or nil
end

local function string_of(v)
  return type(v) == "string" and v or nil
end

---The model that answered a run: the one its agent reported, else (nothing asked for) the run's; nil
---when a model was asked for and the agent did not say which answered.
---@param run table
---@param asked_model string|nil
---@return string|nil
function M.response_model(run, asked_model)
  return string_of(run.response_model) or (asked_model == nil and string_of(run.model)) or nil
end

-- The run's own span's attributes.
local function run_attributes(run, asked_model)
  local u = type(run.usage) == "table" and run.usage or {}
  local os_sandbox = type(run.os_sandbox) == "table" and run.os_sandbox or {}
  return {
    ["gen_ai.operation.name"] = "invoke_agent", ["gen_ai.agent.name"] = string_of(run.runner_type),
    ["gen_ai.provider.name"] = M.PROVIDERS[run.dialect] or M.PROVIDERS[run.runner_type],
    ["gen_ai.request.model"] = string_of(asked_model),
    ["gen_ai.response.model"] = M.response_model(run, asked_model),
    ["gen_ai.conversation.id"] = string_of(run.session_id),
    ["gen_ai.usage.input_tokens"] = number(u.input), ["gen_ai.usage.output_tokens"] = number(u.output),
    ["sidecar.usage.cached_input_tokens"] = number(u.cached_input),
    ["sidecar.usage.reasoning_output_tokens"] = number(u.reasoning_output), ["sidecar.usage.total_tokens"] = number(u.total),
    ["sidecar.cost_usd"] = number(run.cost_usd), ["sidecar.run.id"] = run.run_id, ["sidecar.task.id"] = string_of(run.task_id),
    ["sidecar.run.status"] = string_of(run.status), ["sidecar.run.reason"] = string_of(run.failure_reason),
    ["sidecar.runner"] = string_of(run.runner_type), ["sidecar.agent_role"] = string_of(run.agent_role),
    ["sidecar.sandbox"] = string_of(run.sandbox), ["sidecar.os_sandbox"] = string_of(os_sandbox.kind),
    -- a pipeline's first step is named its id only once it has ended: its own id is the pipeline's
    ["sidecar.pipeline.id"] = string_of(run.pipeline_id) or (run.pipeline_step == 1 and run.run_id or nil),
    ["sidecar.pipeline.step"] = number(run.pipeline_step),
    ["sidecar.preset"] = string_of(run.preset), ["sidecar.parent_run.id"] = string_of(run.parent_run_id),
    ["sidecar.exit_code"] = number(run.exit_code),
  }
end

local function status_of(status, reason)
  if ERROR_STATUS[status] then
    return "error", text.clip(tostring(reason or status), 512)
  end
  return nil
end

-- A file of the run's folder as one message of the GenAI conventions' gen_ai.input.messages or
-- gen_ai.output.messages (JSON: [{role, parts = [{type = "text", content}]}]; the text redacted and
-- bounded), or nil.
local function content(root, run_id, name, role)
  local f = io.open(("%s/runs/%s/%s"):format(root, run_id, name), "rb")
  local body = f and f:read(M.CONTENT_BYTES)
  if f then
    f:close()
  end
  if not body then
    return nil
  end
  local message = { role = role, parts = { { type = "text",
    content = text.clip(text.visible(secrets.redact(body)), M.CONTENT_BYTES) } } }
  return json.encode({ message })
end

-- The spans under the run's: its agent process, validation steps and gates.
local function step_spans(run, events, child)
  local spans, started = {}, {}
  for _, e in ipairs(events) do
    local f = type(e.fields) == "table" and e.fields or {}
    if e.kind == "span" and e.ms and number(f.duration_ms) then
      spans[#spans + 1] = child(tostring(f.name), ms_of_iso(f.started_at) or (e.ms - f.duration_ms), e.ms,
        { ["sidecar.exit_code"] = number(f.exit_code), ["sidecar.signal"] = string_of(f.signal),
          ["sidecar.timed_out"] = f.timed_out == true or nil })
    elseif e.kind == "validation.started" then
      started[f.step or 0] = f
    elseif e.kind == "validation.finished" and e.ms then
      local st = started[f.step or 0] or {}
      local span = child("validation " .. tostring(f.kind or st.kind), e.ms - (number(f.duration_ms) or 0), e.ms,
        { ["sidecar.validation.step"] = number(f.step), ["sidecar.validation.kind"] = string_of(f.kind),
          ["sidecar.validation.command"] = string_of(st.command), ["sidecar.validation.ok"] = f.ok == true,
          ["sidecar.exit_code"] = number(f.exit_code), ["sidecar.timed_out"] = f.timed_out == true or nil })
      if f.ok ~= true then
        span.status = { code = otlp.STATUS.error, message = "validation failed" }
      end
      spans[#spans + 1] = span
    elseif e.kind == "gates" and e.ms then
      local results = type(run.gates) == "table" and type(run.gates.results) == "table" and run.gates.results or {}
      local names = {}
      for name, r in pairs(results) do
        if type(r) == "table" and r.verdict ~= "skipped" then
          names[#names + 1] = name
        end
      end
      table.sort(names)
      for _, name in ipairs(names) do
        local r = results[name]
        local span = child("gate " .. name, e.ms, e.ms, { ["sidecar.gate.name"] = name,
          ["sidecar.gate.verdict"] = string_of(r.verdict), ["sidecar.gate.policy"] = string_of(r.policy),
          ["sidecar.gate.findings"] = type(r.findings) == "table" and #r.findings > 0 and r.findings or nil })
        if r.verdict == "blocked" then
          span.status = { code = otlp.STATUS.error, message = "blocked" }
        end
        spans[#spans + 1] = span
      end
    end
  end
  return spans
end

---The spans of an ended run: its own (invoke_agent) and its steps'. st: the export settings
---(content: its prompt and final message as gen_ai.input.messages / gen_ai.output.messages).
---@param root string  the store folder
---@param run table  the record queued at its end
---@param st table
---@param ended_ms integer  when it was queued (its end, when its events do not say)
---@return table[] spans
function M.run_spans(root, run, st, ended_ms)
  local trace = run.trace
  local events = events_of(root, run.run_id)
  local start_ms, end_ms, asked
  for _, e in ipairs(events) do
    if e.kind == "run.started" and not start_ms then
      start_ms, asked = e.ms, type(e.fields) == "table" and e.fields.model or nil
    elseif e.kind == "run.finished" then
      end_ms = e.ms
    end
  end
  start_ms = start_ms or ms_of_iso(run.started_at) or ended_ms
  end_ms = math.max(end_ms or ended_ms, start_ms)
  local attrs = run_attributes(run, asked)
  if st.content then
    attrs["gen_ai.input.messages"] = content(root, run.run_id, "prompt.md", "user")
    attrs["gen_ai.output.messages"] = content(root, run.run_id, "output.md", "assistant")
  end
  local code, message = status_of(run.status, run.failure_reason)
  local spans = { otlp.span({ trace_id = trace.trace_id, span_id = trace.span_id, parent_span_id = trace.parent_span_id,
    name = "invoke_agent " .. tostring(run.runner_type), start_ns = ns(start_ms), end_ns = ns(end_ms),
    attributes = attrs, status = code, status_message = message }) }
  local function child(name, from, to, attributes)
    return otlp.span({ trace_id = trace.trace_id, span_id = otel.new_id(8),
      parent_span_id = trace.span_id, name = name, start_ns = ns(math.max(from, start_ms)),
      end_ns = ns(math.max(to, from)), attributes = attributes })
  end
  for _, span in ipairs(step_spans(run, events, child)) do
    spans[#spans + 1] = span
  end
  return spans
end

---The span of a workflow (a preset or pipeline), from what M.workflow_ended queued, with the usage
---and cost of its runs added up (`s`: the store, to read them).
---@param s table
---@param wf table
---@return table span
function M.workflow_span(s, wf)
  local input, output, cost -- each left out when no run reported it, never a zero
  for _, id in ipairs(wf.runs or {}) do
    local r = s:get_run(id)
    local u = r and type(r.usage) == "table" and r.usage or {}
    input = number(u.input) and (input or 0) + u.input or input
    output = number(u.output) and (output or 0) + u.output or output
    cost = r and number(r.cost_usd) and (cost or 0) + r.cost_usd or cost
  end
  local code, message = status_of(wf.status, wf.reason)
  return otlp.span({ trace_id = wf.trace_id, span_id = wf.span_id, parent_span_id = wf.parent_span_id,
    name = ("invoke_workflow %s"):format(wf.name), start_ns = ns(wf.start_ms), end_ns = ns(math.max(wf.end_ms, wf.start_ms)),
    status = code, status_message = message,
    attributes = { ["gen_ai.operation.name"] = "invoke_workflow", ["sidecar.workflow.kind"] = wf.kind,
      ["sidecar.workflow.name"] = wf.name, ["sidecar.workflow.status"] = string_of(wf.status),
      ["sidecar.workflow.runs"] = #(wf.runs or {}) > 0 and wf.runs or nil, ["sidecar.task.id"] = string_of(wf.task_id),
      ["gen_ai.usage.input_tokens"] = input, ["gen_ai.usage.output_tokens"] = output, ["sidecar.cost_usd"] = cost } })
end

---The metrics of an ended run: one point each, by runner, model and status.
---@param run table
---@param ended_ms integer
---@return table[]
function M.run_metrics(run, ended_ms)
  local start = ns(ms_of_iso(run.started_at) or ended_ms)
  local at = ns(math.max(ms_of_iso(run.completed_at) or ended_ms, ms_of_iso(run.started_at) or 0))
  local by = { ["sidecar.runner"] = string_of(run.runner_type), ["gen_ai.response.model"] = M.response_model(run, nil),
    ["gen_ai.provider.name"] = M.PROVIDERS[run.dialect] or M.PROVIDERS[run.runner_type],
    ["sidecar.run.status"] = string_of(run.status) }
  local function with(extra)
    local t = { ["gen_ai.operation.name"] = "invoke_agent" }
    for k, v in pairs(by) do
      t[k] = v
    end
    for k, v in pairs(extra or {}) do
      t[k] = v
    end
    return t
  end
  local u = type(run.usage) == "table" and run.usage or {}
  local tokens = {}
  for _, kind in ipairs({ "input", "output" }) do
    if math.type(u[kind]) == "integer" then
      tokens[#tokens + 1] = { value = u[kind], attributes = with({ ["gen_ai.token.type"] = kind }), start_ns = start,
        time_ns = at }
    end
  end
  local metrics = { otlp.metric({ name = "sidecar.runs", unit = "{run}", description = "Runs ended", kind = "sum",
    points = { { value = 1, attributes = with(), start_ns = start, time_ns = at } } }) }
  if #tokens > 0 then
    metrics[#metrics + 1] = otlp.metric({ name = "gen_ai.client.token.usage", unit = "{token}", kind = "histogram",
      description = "Tokens a run's agent used", bounds = M.TOKEN_BOUNDS, points = tokens })
  end
  if number(run.cost_usd) then
    metrics[#metrics + 1] = otlp.metric({ name = "sidecar.cost", unit = "USD", kind = "sum",
      description = "What a run's agent cost, as its runner reported it",
      points = { { value = run.cost_usd + 0.0, attributes = with(), start_ns = start, time_ns = at } } })
  end
  return metrics
end

---The resource every export names: service.name and the rest of the settings' resource.
function M.resource(st)
  local r = {}
  for k, v in pairs(st.resource or {}) do
    r[k] = v
  end
  r["service.name"], r["telemetry.sdk.name"], r["telemetry.sdk.language"] = st.service_name, "sidecar", "lua"
  return r
end

return M
