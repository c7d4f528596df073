--- An agent's structured answer: read in its format (JSON found in the message by
--- sidecar.core.json_extract, or one of the markdown formats, sidecar.formats.precommit and
--- sidecar.formats.personalization), checked against the spec a preset declares, and when it does
--- not match, the agent asked once more with every problem listed (enforce); a second miss
--- escalates.
---
---   local schema = require("sidecar.preset.schema")
---   local spec = { type = "object", fields = {
---     findings = { type = "array", required = true, items = { type = "object", fields = {
---       file = { type = "string", required = true },
---       line = { type = "integer", min = 1 },
---       severity = { type = "enum", enum = { "critical", "high", "medium", "low", "info" }, required = true },
---       claim = { type = "string", non_empty = true, required = true },
---     } } } } }
---   local ok, problems = schema.check(value, spec)   -- true, or nil and every problem
---   print(schema.format_problems(problems))          -- "- findings[2].severity: expected one of ..."
---   local r = schema.enforce(function(suffix) return run_agent(prompt .. (suffix or "")) end, spec)
---   if r.ok then use(r.value) elseif r.escalate then ask_a_person(r.problems, r.raw) end
---   local r = schema.enforce(run_fn, nil, { format = "precommit" })   -- precommit.SPEC, its reply
---
--- The schema language (plain tables):
---   type        "object" | "array" | "string" | "integer" | "number" | "boolean" | "enum"
---   required    (in an object's fields) the field must be present and not null
---   nullable    json.null is accepted as the value (an absent optional field always is)
---   enum        the allowed values (type "enum", or a string/number type narrowed to a list)
---   fields      object: name -> spec;  additional = true allows unknown fields (default false)
---   items       array: the spec of every item;  min_items, max_items
---   pattern     string: a Lua pattern it must match (anchor it yourself);  non_empty: not blank
---   min, max    integer/number bounds
---   what        how messages name the expected value ("a commit subject") instead of the default
---   check       function(value) -> nil when fine, else message[, field]; runs after the rest of
---               the value checked clean (cross-field rules)
--- Problems are {path, message}; paths count array items from 1 ("findings[2].severity"), "" is
--- the whole value. A bad spec (unknown type, missing enum) is a programming error and raises.
---
--- A value that does not match is a value (nil and its problems); wrong argument types raise. A
--- failed agent run ends enforce at once ({ok = false, error}): it is not a format problem, and
--- retrying runs is the runner's business.
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local json_extract = require("sidecar.core.json_extract")
local option_keys = require("sidecar.core.option_keys")
local personalization = require("sidecar.formats.personalization")
local precommit = require("sidecar.formats.precommit")

local M = {}

M.TYPES = { "object", "array", "string", "integer", "number", "boolean", "enum" }
local KNOWN_TYPE = {}
for _, t in ipairs(M.TYPES) do
  KNOWN_TYPE[t] = true
end

---How many problems a re-prompt lists before "... and N more".
M.MAX_LISTED_PROBLEMS = 20

-- Values ---------------------------------------------------------------------------------------

local shape = json.shape

---How a problem message shows a value: "urgent" (quoted, cut at 60 bytes), 12, 1.5, true, null,
---nothing, an object, an array, an empty table.
---@param v any
---@return string
function M.describe(v)
  if v == nil then
    return "nothing"
  elseif v == json.null then
    return "null"
  end
  local t = type(v)
  if t == "string" then
    local shown = #v > 60 and (v:sub(1, 57) .. "...") or v
    return (("%q"):format(shown):gsub("\\\n", "\\n"))
  elseif t == "number" then
    return math.type(v) == "float" and ("%.14g"):format(v):gsub("^(%-?%d+)$", "%1.0") or tostring(v)
  elseif t == "table" then
    local s = shape(v)
    return s == "empty" and "an empty table" or (s == "mixed" and "a table with mixed keys" or "an " .. s)
  end
  return tostring(v)
end

-- Checking -------------------------------------------------------------------------------------

local function join(path, key)
  if type(key) ~= "string" or not key:find("^[%a_][%w_]*$") then
    return path .. ("[%q]"):format(tostring(key))
  end
  return path == "" and key or (path .. "." .. key)
end

local function add(problems, path, message)
  problems[#problems + 1] = { path = path, message = message }
end

local function expected(problems, spec, path, default_what, v)
  add(problems, path, ("expected %s, got %s"):format(spec.what or default_what, M.describe(v)))
end

local function bad_spec(path, message)
  local where = path == "" and "the top" or path
  errors.raise("bad_spec", ("schema.check: bad spec at %s: %s"):format(where, message), nil, 0)
end

local function one_of(list, v)
  for _, x in ipairs(list) do
    if x == v then
      return true
    end
  end
  return false
end

local function enum_text(list)
  local parts = {}
  for i, x in ipairs(list) do
    parts[i] = tostring(x)
  end
  return table.concat(parts, ", ")
end

local check_value

local CHECK = {}

function CHECK.string(spec, v, path, problems)
  if type(v) ~= "string" then
    return expected(problems, spec, path, "a string", v)
  elseif spec.non_empty and not v:find("%S") then
    return expected(problems, spec, path, "a non-empty string", v)
  elseif spec.pattern and not v:find(spec.pattern) then
    return expected(problems, spec, path, "a string matching " .. spec.pattern, v)
  end
  return true
end

local function bounds(spec, v, path, problems, what)
  if (spec.min and v < spec.min) or (spec.max and v > spec.max) then
    local range = spec.min and spec.max and ("between %s and %s"):format(spec.min, spec.max)
      or (spec.min and (">= " .. spec.min) or ("<= " .. spec.max))
    return expected(problems, spec, path, what .. " " .. range, v)
  end
  return true
end

function CHECK.integer(spec, v, path, problems)
  if math.type(v) ~= "integer" then
    return expected(problems, spec, path, "an integer", v)
  end
  return bounds(spec, v, path, problems, "an integer")
end

function CHECK.number(spec, v, path, problems)
  if type(v) ~= "number" then
    return expected(problems, spec, path, "a number", v)
  end
  return bounds(spec, v, path, problems, "a number")
end

function CHECK.boolean(spec, v, path, problems)
  if type(v) ~= "boolean" then
    return expected(problems, spec, path, "true or false", v)
  end
  return true
end

function CHECK.enum(spec, v, path, problems)
  if not one_of(spec.enum, v) then
    return expected(problems, spec, path, "one of " .. enum_text(spec.enum), v)
  end
  return true
end

function CHECK.array(spec, v, path, problems)
  local s = type(v) == "table" and shape(v)
  if s ~= "array" and s ~= "empty" then
    return expected(problems, spec, path, "an array", v)
  end
  local n = #v
  local function items(k)
    return k .. (k == 1 and " item" or " items")
  end
  if spec.min_items and n < spec.min_items then
    add(problems, path, ("expected at least %s, got %d"):format(items(spec.min_items), n))
  elseif spec.max_items and n > spec.max_items then
    add(problems, path, ("expected at most %s, got %d"):format(items(spec.max_items), n))
  end
  if spec.items then
    for i = 1, n do
      check_value(spec.items, v[i], path .. "[" .. i .. "]", problems)
    end
  end
  return true
end

local function sorted_keys(t, only_strings)
  local keys = {}
  for k in pairs(t) do
    if not only_strings or type(k) == "string" then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  return keys
end

function CHECK.object(spec, v, path, problems)
  local s = type(v) == "table" and shape(v)
  if s ~= "object" and s ~= "empty" then
    return expected(problems, spec, path, "an object", v)
  end
  local fields = spec.fields or {}
  local names = sorted_keys(fields)
  for _, name in ipairs(names) do
    local fs, x = fields[name], v[name]
    if x == nil or (x == json.null and not fs.nullable) then
      if fs.required then
        add(problems, join(path, name), x == nil and "required field missing" or "required field is null")
      end
    else
      check_value(fs, x, join(path, name), problems)
    end
  end
  if not spec.additional then
    for _, k in ipairs(sorted_keys(v)) do
      if fields[k] == nil then
        add(problems, join(path, k), "unknown field (known: " .. table.concat(names, ", ") .. ")")
      end
    end
  end
  return true
end

local function validate_spec(spec, path)
  if type(spec) ~= "table" then
    bad_spec(path, "expected a table, got " .. type(spec))
  elseif not KNOWN_TYPE[spec.type] then
    bad_spec(path, ("unknown type %s (types: %s)"):format(M.describe(spec.type), table.concat(M.TYPES, ", ")))
  elseif spec.type == "enum" and type(spec.enum) ~= "table" then
    bad_spec(path, "type enum needs an `enum` list")
  elseif spec.check ~= nil and type(spec.check) ~= "function" then
    bad_spec(path, "`check` must be a function")
  end
end

function check_value(spec, v, path, problems)
  validate_spec(spec, path)
  if v == json.null and spec.nullable then
    return
  end
  local before = #problems
  CHECK[spec.type](spec, v, path, problems)
  if #problems == before and spec.enum and spec.type ~= "enum" then
    CHECK.enum(spec, v, path, problems)
  end
  if #problems == before and spec.check then
    local message, field = spec.check(v)
    if message then
      add(problems, field and join(path, field) or path, message)
    end
  end
end

---Checks `value` against `spec`. Returns true, or nil and every problem found as {path, message}.
---@param value any
---@param spec table
---@return true|nil ok, {path: string, message: string}[]? problems
function M.check(value, spec)
  if type(spec) ~= "table" then
    errors.raise("bad_argument", "schema.check: spec must be a table, got " .. type(spec), nil, 2)
  end
  local problems = {}
  check_value(spec, value, "", problems)
  if #problems > 0 then
    return nil, problems
  end
  return true
end

---One line per problem, "- path: message" ("- (the whole answer): ..." for the top).
---@param problems {path: string, message: string}[]
---@return string
function M.format_problems(problems)
  if type(problems) ~= "table" then
    errors.raise("bad_argument", "schema.format_problems: expected a list of problems, got " .. type(problems), nil, 2)
  end
  local out = {}
  for i, p in ipairs(problems) do
    if i > M.MAX_LISTED_PROBLEMS then
      out[#out + 1] = ("- ... and %d more"):format(#problems - M.MAX_LISTED_PROBLEMS)
      break
    end
    out[#out + 1] = ("- %s: %s"):format(p.path == "" and "(the whole answer)" or p.path, p.message)
  end
  return table.concat(out, "\n")
end

---The specs of the JSON answers presets share.
M.formats = {}

---The findings list reviewers answer with (the input of merge.combine), as JSON.
M.formats.findings = {
  type = "object",
  fields = {
    findings = {
      type = "array", required = true,
      items = {
        type = "object",
        fields = {
          file = { type = "string", non_empty = true, required = true },
          line = { type = "integer", min = 1, nullable = true },
          severity = { type = "enum", enum = { "critical", "high", "medium", "low", "info" }, required = true },
          claim = { type = "string", non_empty = true, required = true },
          evidence = { type = "string", nullable = true },
          suggestion = { type = "string", nullable = true },
          category = { type = "string", nullable = true },
        },
      },
    },
  },
}

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
    errors.raise("bad_argument", ("schema.read: unknown format %s (formats: %s)"):format(M.describe(format),
      NAMES), nil, 2)
  end
  local value, why = f.read(text)
  if value == nil then
    return nil, why
  end
  return value
end

---The text appended to the prompt for the one re-prompt: every problem (up to
---M.MAX_LISTED_PROBLEMS), then what to reply.
---@param problems {path: string, message: string}[]
---@param format? string   default "json"
---@return string
function M.reprompt(problems, format)
  local f = FORMATS[format or "json"] or FORMATS.json
  return "\n\nYour previous answer did not match the required format:\n" .. M.format_problems(problems)
    .. "\n" .. f.reply .. "\n"
end

local ENFORCE_OPTIONS = { "format" }

local function check_answer(text, spec, format)
  local value, why = M.read(text, format)
  if value == nil then
    return nil, { { path = "", message = why } }
  end
  local ok, problems = M.check(value, spec)
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
---raw = the last answer} (with `error` instead of raw when a run failed). An option other than
---format raises a bad_option error.
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
  option_keys.check("schema.enforce", opts, ENFORCE_OPTIONS, 2)
  local format = opts.format or "json"
  if not FORMATS[format] then
    errors.raise("bad_argument", ("schema.enforce: unknown format %s (formats: %s)")
      :format(M.describe(format), NAMES), nil, 2)
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
