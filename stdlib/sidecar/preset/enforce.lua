--- The one re-prompt: an agent's answer read in its format (JSON, or one of the markdown formats),
--- checked against a spec (sidecar.preset.schema), and when it does not match, the agent asked once
--- more with every problem listed; a second miss escalates. schema.enforce is this enforce.
---
---   local enforce = require("sidecar.preset.enforce")
---   local r = enforce.enforce(function(suffix) return run_agent(prompt .. (suffix or "")) end, spec)
---   local r = enforce.enforce(run_fn, nil, { format = "precommit" })   -- precommit.SPEC, its reply
---   if r.ok then use(r.value) elseif r.escalate then ask_a_person(r.problems, r.raw) end
---
--- A failed agent run ends enforce at once ({ok = false, error}): it is not a format problem, and
--- retrying runs is the runner's business. Wrong argument types raise.
local errors = require("sidecar.core.errors")
local json_extract = require("sidecar.core.json_extract")
local personalization = require("sidecar.formats.personalization")
local precommit = require("sidecar.formats.precommit")
local schema = require("sidecar.preset.schema")

local M = {}

-- The formats an answer can be in: how it is read (text -> value | nil, why), the spec it is
-- checked against by default, and what the re-prompt asks for.
local FORMATS = {
  json = { read = json_extract.extract,
    reply = "Reply again with only the corrected answer: one JSON value in a single ```json block, and no other text." },
  precommit = { read = precommit.parse, spec = precommit.SPEC, reply = precommit.REPLY },
  personalization = { read = personalization.parse, spec = personalization.SPEC, reply = personalization.REPLY },
}
local NAMES = "json, precommit, personalization"

---The value in an answer: JSON (json_extract.extract) or one of the markdown formats (their
---parse). nil, why when there is none.
---@param text string
---@param format? "json"|"precommit"|"personalization"  default "json"
---@return any value, string? why
function M.read(text, format)
  local f = FORMATS[format or "json"]
  if not f then
    errors.raise("bad_argument", ("enforce.read: unknown format %s (formats: %s)"):format(schema.describe(format),
      NAMES), nil, 2)
  end
  local value, why = f.read(text)
  if value == nil then
    return nil, why
  end
  return value
end

---The text appended to the prompt for the one re-prompt: every problem (up to
---schema.MAX_LISTED_PROBLEMS), then what to reply.
---@param problems {path: string, message: string}[]
---@param format? string   default "json"
---@return string
function M.reprompt(problems, format)
  local f = FORMATS[format or "json"] or FORMATS.json
  return "\n\nYour previous answer did not match the required format:\n" .. schema.format_problems(problems)
    .. "\n" .. f.reply .. "\n"
end

local function check_answer(text, spec, format)
  local value, why = M.read(text, format)
  if value == nil then
    return nil, { { path = "", message = why } }
  end
  local ok, problems = schema.check(value, spec)
  if ok then
    return true, value
  end
  return nil, problems
end

---Runs an agent until its answer matches `spec`, re-prompting at most once.
---`run_fn(prompt_suffix)` runs the agent (suffix nil the first time, then the re-prompt of
---M.reprompt) and returns its final message, or nil and why when the run itself failed (that
---ends enforce at once: a failed run is not a format problem, and retrying runs is the runner's
---business).
---Returns {ok = true, value, attempts = 1|2} or {ok = false, escalate = true, problems, attempts,
---raw = the last answer} (with `error` instead of raw when a run failed).
---@param run_fn fun(prompt_suffix: string|nil): string|nil, string?
---@param spec? table   default the format's spec (none for "json")
---@param opts? {format?: "json"|"precommit"|"personalization"}
---@return table
function M.enforce(run_fn, spec, opts)
  if type(run_fn) ~= "function" then
    errors.raise("bad_argument", "schema.enforce: run_fn must be a function, got " .. type(run_fn), nil, 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    errors.raise("bad_argument", "schema.enforce: opts must be a table, got " .. type(opts), nil, 2)
  end
  local format = opts.format or "json"
  if not FORMATS[format] then
    errors.raise("bad_argument", ("schema.enforce: unknown format %s (formats: %s)")
      :format(schema.describe(format), NAMES), nil, 2)
  end
  spec = spec or FORMATS[format].spec
  if type(spec) ~= "table" then
    errors.raise("bad_argument", "schema.enforce: spec must be a table, got " .. type(spec), nil, 2)
  end
  local suffix, problems, raw
  for attempt = 1, 2 do
    local text, why = run_fn(suffix)
    if text == nil then
      return { ok = false, escalate = true, attempts = attempt, error = why or "the agent run failed",
        problems = { { path = "", message = "the agent run failed: " .. tostring(why or "no reason given") } } }
    elseif type(text) ~= "string" then
      errors.raise("bad_argument", "schema.enforce: run_fn must return the answer text or nil, why; got " .. type(text),
        nil, 2)
    end
    raw = text
    local ok, result = check_answer(text, spec, format)
    if ok then
      return { ok = true, value = result, attempts = attempt }
    end
    problems = result
    suffix = M.reprompt(problems, format)
  end
  return { ok = false, escalate = true, problems = problems, attempts = 2, raw = raw }
end

return M
