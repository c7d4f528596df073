--- Telemetry of a run: events appended to the run's events.jsonl, timed spans, token usage and
--- cost, a summary, and the task folder's model.json and model.md written from it.
---
---   local telemetry = require("sidecar.core.telemetry")
---   local t <close> = assert(telemetry.open(run_dir))        -- a path or an artifact folder
---   t:event("agent.started", {model = "gpt-5"})              -- -> seq; field values redacted
---   local s = t:span("agent.turn")
---   ...
---   s:finish({exit_code = 0})                                -- -> duration_ms (monotonic)
---   t:usage({input = 1200, cached_input = 300, output = 450, reasoning_output = 120}, "codex")
---   t:cost(0.0123, "claude")
---   local summary = t:summary()    -- events, spans, usage (json.null when unknown), cost_usd
---   t:write_model(task_dir, {task_id = id, created_at = at, runner = "codex-cli", ...})
---
--- Each event is one line {"fields":{...},"kind":"...","seq":N,"ts":"2026-11-21T13:45:01.123Z"},
--- appended whole (a crash leaves no half line behind), numbered on from the last line of an
--- existing file. Token counts are integers or unknown (nil or json.null), never a guess: adding
--- a report with an unknown field makes that field of the run's total unknown.
---
--- Bad input (a kind outside [a-z][a-z0-9_.]*, a float token count, a span finished twice)
--- raises; a file that cannot be written returns nil, message, code.
local host = require("sidecar.host.telemetry")
local errors = require("sidecar.core.errors")
local run_events = require("sidecar.core.run_events")
local json = require("sidecar.core.json")
local option_keys = require("sidecar.core.option_keys")
local secrets = require("sidecar.core.secrets")
local texts = require("sidecar.core.text")

local M = {}

---The token usage fields, in the order model.md lists them.
M.USAGE_FIELDS = { "input", "cached_input", "output", "reasoning_output", "total" }
---The usage keys of model.json, for each field.
M.MODEL_JSON_KEYS = {
  input = "input_tokens", cached_input = "cached_input_tokens", output = "output_tokens",
  reasoning_output = "reasoning_output_tokens", total = "total_tokens",
}
local USAGE_LABELS = {
  input = "Input", cached_input = "Cached input", output = "Output", reasoning_output = "Reasoning output",
  total = "Total",
}
local IS_USAGE_FIELD = {}
for _, k in ipairs(M.USAGE_FIELDS) do
  IS_USAGE_FIELD[k] = true
end
M.UNAVAILABLE = "Token usage: unavailable from ephemeral run output."

local null = json.null

local function redact(text)
  return (secrets.redact(text))
end

local function fail(message, level)
  errors.raise("telemetry", message, nil, level + 1)
end

-- Fields as the core wants them: a JSON object's text, values redacted, and that redacted copy
-- (what the bus is given). `level` names the caller to blame, counted from the function calling this.
local function fields_json(fields, level)
  if fields == nil then
    return "{}", json.object({})
  end
  if type(fields) ~= "table" then
    fail("fields must be a table, got " .. type(fields), level + 1)
  end
  local copy = secrets.redact_value(fields)
  texts.repair_value(copy) -- an agent's text may not be UTF-8: events carry U+FFFD for its bytes
  local ok, text = pcall(json.encode, copy)
  if not ok then
    fail("fields: " .. tostring(type(text) == "table" and text.message or text), level + 1)
  end
  return text, copy
end

-- The core's answer: bad input (EINVAL) is the caller's mistake and raises at the caller's line
-- (two levels up: the method, then its caller); anything else is returned as data.
local function answer(value, message, code)
  if value == nil and code == "EINVAL" then
    fail(message, 3)
  end
  return value, message, code
end

-- Checks a usage table; raises at `level` naming the first bad key.
local function check_usage(u, what, level)
  if type(u) ~= "table" then
    fail(what .. ": expected a table of token counts, got " .. type(u), level + 1)
  end
  for k, v in pairs(u) do
    if not IS_USAGE_FIELD[k] then
      fail(("%s.%s: unknown field (expected %s)"):format(what, tostring(k), table.concat(M.USAGE_FIELDS, ", ")),
        level + 1)
    end
    if v ~= null and not (math.type(v) == "integer" and v >= 0) then
      local ok, shown = pcall(json.encode, v) -- the value as it would be written: 1.5, "12", true
      shown = ok and shown or ("a " .. type(v))
      fail(("%s.%s: expected a whole number of tokens >= 0, got %s"):format(what, k, shown), level + 1)
    end
  end
end

-- A usage table with all five keys (json.null where unknown), and as JSON text.
local function usage_object(u)
  local out = json.object()
  for _, k in ipairs(M.USAGE_FIELDS) do
    out[k] = u[k] == nil and null or u[k]
  end
  return out
end

local function usage_json(u)
  return json.encode(usage_object(u))
end

-- Decoded usage from the core, or raises (the core only refuses what check_usage let through by
-- mistake).
local function decode_usage(text, message)
  if not text then
    fail(message, 3)
  end
  return json.decode(text)
end

---Usage between two cumulative reports (after resuming a session, runners report totals for the
---whole thread): now - before per field; json.null when either is unknown or now < before.
---@param now table
---@param before table
---@return table usage  all five fields, json.null when unknown
function M.delta(now, before)
  check_usage(now, "now", 2)
  check_usage(before, "before", 2)
  local usage = decode_usage(host.usage_delta(usage_json(now), usage_json(before)))
  return usage
end

---Two reports added up: a field is known only when known in both.
---@param a table
---@param b table
---@return table usage  all five fields, json.null when unknown
function M.add(a, b)
  check_usage(a, "a", 2)
  check_usage(b, "b", 2)
  local usage = decode_usage(host.usage_add(usage_json(a), usage_json(b)))
  return usage
end

-- Recorder ---------------------------------------------------------------------------------------

local Recorder = {}
Recorder.__index = Recorder
Recorder.__name = "sidecar.telemetry"

local Span = {}
Span.__index = Span
Span.__name = "sidecar.telemetry_span"

local OPEN_OPTIONS = { "file", "run_id" }

---Opens the recorder of a run: events go to `opts.file` (default "events.jsonl") in the folder
---(created when missing), and each one written to the bus of this process (sidecar.core.run_events)
---with `opts.run_id`. An unknown option raises a bad_option error.
---@param root string|table  a folder path, or an artifact folder from artifact.open
---@param opts? {file: string?, run_id: string?}
---@return table|nil recorder, string? message, string? code
function M.open(root, opts)
  option_keys.check("telemetry.open", opts, OPEN_OPTIONS, 2)
  if type(root) == "table" and type(root.root) == "function" then
    root = root:root()
  end
  if type(root) ~= "string" then
    fail("telemetry.open: expected a folder path or an artifact folder, got " .. type(root), 2)
  end
  local handle, message, code = host.open(root, opts and opts.file or "events.jsonl")
  if not handle then
    return nil, message, code
  end
  return setmetatable({ handle = handle, run_id = opts and opts.run_id }, Recorder)
end

-- Publishes what was just written as event `seq` (nil: nothing was written).
local function published(self, seq, kind, fields)
  if seq then
    run_events.publish({ run_id = self.run_id, seq = seq, kind = kind, fields = fields })
  end
end

---Appends an event. "span", "usage" and "cost" are the recorder's own kinds (t:span, t:usage,
---t:cost), refused here.
---@param kind string      ^[a-z][a-z0-9_.]*$, e.g. "agent.message"
---@param fields? table     a JSON object; string values are redacted, keys are not
---@return integer|nil seq, string? message, string? code
function Recorder:event(kind, fields)
  if type(kind) ~= "string" then
    fail("event kind must be a string, got " .. type(kind), 2)
  end
  local text, copy = fields_json(fields, 2)
  local seq, message, code = answer(self.handle:event(kind, text))
  published(self, seq, kind, copy)
  return seq, message, code -- not a tail call: answer blames the caller's line
end

---Starts a span, timed on a monotonic clock until span:finish(fields). With `local s <close> =`
---a span not finished by the end of the scope finishes then (with {error = ...} when an error
---is unwinding it).
---@param name string
---@return table span
function Recorder:span(name)
  if type(name) ~= "string" then
    fail("span name must be a string, got " .. type(name), 2)
  end
  local id = answer(self.handle:begin_span(redact(name)))
  return setmetatable({ recorder = self, id = id, name = name }, Span)
end

---Ends the span: appends a "span" event {name, duration_ms, started_at, ...fields}. Finishing
---twice raises.
---@param fields? table  may not set name, duration_ms or started_at
---@return number|nil duration_ms, string? message, string? code
function Span:finish(fields)
  local text, copy = fields_json(fields, 2)
  local ms, message, code = answer(self.recorder.handle:end_span(self.id, text))
  if ms then
    self.finished = true
    copy.name, copy.duration_ms = redact(self.name), ms
    published(self.recorder, self.recorder:last_seq(), "span", copy)
  end
  return ms, message, code
end

function Span:__close(err)
  if not self.finished then
    -- Nothing to report a failure to here, and it must not replace an error being unwound.
    pcall(self.finish, self, err ~= nil and { error = tostring(err) } or nil)
  end
end

function Span:__tostring()
  return ("sidecar.telemetry_span (%s%s)"):format(self.name, self.finished and ", finished" or "")
end

---Records a token usage report and adds it to the run's usage.
---@param u table  {input, cached_input, output, reasoning_output, total}: integers >= 0, or
---               nil / json.null when the runner did not report them
---@param source? string  where the figures come from, e.g. "codex:turn.completed"
---@return integer|nil seq, string? message, string? code
function Recorder:usage(u, source)
  check_usage(u, "usage", 2)
  if source ~= nil and type(source) ~= "string" then
    fail("usage source must be a string, got " .. type(source), 2)
  end
  local usage = usage_object(u)
  local seq, message, code = answer(self.handle:add_usage(json.encode(usage), source and redact(source)))
  published(self, seq, "usage", { source = source and redact(source) or null, usage = usage })
  return seq, message, code
end

---Records a cost in US dollars (finite, >= 0) and adds it to the run's cost.
---@param usd number
---@param source? string
---@return integer|nil seq, string? message, string? code
function Recorder:cost(usd, source)
  if type(usd) ~= "number" then
    fail("cost must be a number of US dollars, got " .. type(usd), 2)
  end
  if source ~= nil and type(source) ~= "string" then
    fail("cost source must be a string, got " .. type(source), 2)
  end
  local seq, message, code = answer(self.handle:add_cost(usd, source and redact(source)))
  published(self, seq, "cost", { source = source and redact(source) or null, usd = usd })
  return seq, message, code
end

---What this recorder recorded: started_at, ended_at, duration_ms, events, first_seq, last_seq,
---events_by_kind, spans {name = {count, total_ms, max_ms}}, open_spans, usage (five fields,
---json.null when unknown), usage_reports, cost_usd (json.null until reported).
---@return table
function Recorder:summary()
  return json.decode(self.handle:summary())
end

---Writes model.json and model.md (from this run's summary) into a task folder, atomically and
---redacted.
---@param dir string|table  a folder path or an artifact folder
---@param meta table        see telemetry.model_json
---@return true|nil ok, string? message, string? code
function Recorder:write_model(dir, meta)
  local summary = self:summary()
  local files = {
    { "model.json", json.encode(M.model_json(meta, summary), { indent = 2 }) .. "\n" },
    { "model.md", M.model_md(meta, summary) },
  }
  if type(dir) ~= "string" and not (type(dir) == "table" and type(dir.write_all) == "function") then
    fail("write_model: expected a folder path or an artifact folder, got " .. type(dir), 2)
  end
  if type(dir) == "string" then
    local opened, message, code = require("sidecar.core.artifact").open(dir, { create = true })
    if not opened then
      return nil, message, code
    end
    local ok, why, why_code = opened:write_all(files)
    opened:close()
    return ok, why, why_code
  end
  return dir:write_all(files)
end

---The sequence number of the last event in the file (0 for a new file).
function Recorder:last_seq()
  return self.handle:last_seq()
end

function Recorder:root()
  return self.handle:root()
end

function Recorder:file()
  return self.handle:file()
end

function Recorder:close()
  self.handle:close()
end

Recorder.__close = Recorder.close

function Recorder:__tostring()
  return tostring(self.handle)
end

-- model.json and model.md ------------------------------------------------------------------------

local code_block = require("sidecar.core.text").code_block

local function required(meta, key, what)
  local v = meta[key]
  if type(v) ~= "string" then
    fail(("%s: meta.%s must be a string, got %s"):format(what, key, type(v)), 3)
  end
  return v
end

-- The summary's usage, checked; {} when there is none.
local function summary_usage(summary, what)
  local u = summary and summary.usage or {}
  check_usage(u, what .. ": summary.usage", 3)
  return u
end

local function known_cost(summary)
  local c = summary and summary.cost_usd
  return type(c) == "number" and c or nil
end

-- Dollars without float noise: 0.0123, 12.5, 0 (and 3e-07 for the very small).
local function format_usd(usd)
  if usd ~= 0 and usd < 1e-6 then
    return ("%.3g"):format(usd)
  end
  return (("%.6f"):format(usd):gsub("0+$", ""):gsub("%.$", ""))
end

---The record of model.json (docs/formats.md §1): task_id, created_at, runner, model_provider, model,
---sandbox, repo, phase, task_type, command, usage {input_tokens, cached_input_tokens,
---output_tokens, reasoning_output_tokens, total_tokens} with json.null when unknown, and cost_usd
---only when a cost was reported (so a run without one writes exactly the original keys).
---@param meta table     task_id, created_at, runner, model, command (strings, required);
---                      model_provider, sandbox, repo, phase, task_type (json.null when nil)
---@param summary? table  a recorder's summary (nil: nothing measured)
---@return table  encode with json.encode(t, {indent = 2})
function M.model_json(meta, summary)
  if type(meta) ~= "table" then
    fail("model_json: meta must be a table, got " .. type(meta), 2)
  end
  local u = summary_usage(summary, "model_json")
  local usage = json.object()
  for _, k in ipairs(M.USAGE_FIELDS) do
    usage[M.MODEL_JSON_KEYS[k]] = u[k] == nil and null or u[k]
  end
  local function optional(key)
    local v = meta[key]
    if v == nil then
      return null
    end
    return v
  end
  local record = json.object({
    task_id = required(meta, "task_id", "model_json"),
    created_at = required(meta, "created_at", "model_json"),
    runner = required(meta, "runner", "model_json"),
    model_provider = optional("model_provider"),
    model = required(meta, "model", "model_json"),
    sandbox = optional("sandbox"),
    repo = optional("repo"),
    phase = optional("phase"),
    task_type = optional("task_type"),
    command = required(meta, "command", "model_json"),
    usage = usage,
  })
  record.cost_usd = known_cost(summary)
  return record
end

---The text of model.md: runner, model, sandbox, preset, the launch command, and the token usage:
---a table of the fields that are known (and the cost when known), or the sentence
---"Token usage: unavailable from ephemeral run output." when none is.
---@param meta table     task_id, runner, model, command (required); sandbox, preset
---@param summary? table
---@return string
function M.model_md(meta, summary)
  if type(meta) ~= "table" then
    fail("model_md: meta must be a table, got " .. type(meta), 2)
  end
  local u = summary_usage(summary, "model_md")
  local lines = {
    "# Sidecar Model: " .. required(meta, "task_id", "model_md"), "",
    "- Runner: " .. required(meta, "runner", "model_md"),
    "- Model: " .. required(meta, "model", "model_md"),
    "- Sandbox: " .. (meta.sandbox or "unspecified"),
    "- Preset: " .. (meta.preset or "none"),
    "", "## Launch Command", "",
    code_block(required(meta, "command", "model_md"), "sh"),
    "## Token Usage", "",
  }
  local rows, missing = {}, {}
  for _, k in ipairs(M.USAGE_FIELDS) do
    if u[k] ~= nil and u[k] ~= null then
      rows[#rows + 1] = ("| %s | %d |"):format(USAGE_LABELS[k], u[k])
    else
      missing[#missing + 1] = USAGE_LABELS[k]:lower()
    end
  end
  if #rows == 0 then
    lines[#lines + 1] = M.UNAVAILABLE
  else
    lines[#lines + 1] = "| Tokens | Count |"
    lines[#lines + 1] = "| --- | ---: |"
    table.move(rows, 1, #rows, #lines + 1, lines)
    if #missing > 0 then
      lines[#lines + 1] = ""
      lines[#lines + 1] = "Not reported by the runner: " .. table.concat(missing, ", ") .. "."
    end
  end
  local cost = known_cost(summary)
  if cost then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Cost: " .. format_usd(cost) .. " USD"
  end
  lines[#lines + 1] = ""
  return table.concat(lines, "\n")
end

---Writes the event `run.finished` ({status, reason}) into a stored run's events.jsonl, for
---`run tail -f` and the UI to see the run end; nothing when the folder cannot be opened.
---@param s table  the store
---@param run table  the run record, as it ended
function M.run_finished(s, run)
  M.run_event(s, run.run_id, "run.finished", { status = run.status, reason = run.failure_reason })
end

---Appends one event to a run's events.jsonl, published on the run event bus as every written event
---is: for a step of the run after its agent's recorder has closed (validation, the end). Nothing
---when the run's folder cannot be opened (a run imported without one).
---@param s table  the store
---@param run_id string
---@param kind string
---@param fields? table
function M.run_event(s, run_id, kind, fields)
  local dir = s:run_dir(run_id)
  local t = dir and M.open(dir, { run_id = run_id })
  if t then
    t:event(kind, fields)
    t:close()
  end
  if dir then
    dir:close()
  end
end

return M
