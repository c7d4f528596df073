--- Task packets (version "1.0", docs/formats.md §4): the JSON a task is made of, checked strictly on
--- import, on `task create` and before export.
---
---   local task_packet = require("sidecar.task.packet")
---   local packet, message = task_packet.decode(text, "T-001.json")   -- JSON, then check()
---   if not packet then io.stderr:write(message, "\n") end
---   local fresh = assert(task_packet.new({ title = "Fix the parser", priority = "high",
---     validation = "typecheck:tsc --noEmit,test@30s:npm test" }))
---   io.write(assert(task_packet.encode(fresh)))   -- 2-space indent, keys sorted, final newline
---
--- check() answers a new, normalised packet, or nil and every problem found as {path, message}:
---   scope.in_scop: unknown field (known: in_scope, out_of_scope)
---   execution.commands.validation[2].timeout_ms: expected a positive integer, got string "30s"
--- Paths count list items from 1, as Lua and the json module's errors do.
---
--- Decisions:
--- * priority is a string, one of low | medium | high | urgent; numbers are refused (a number's
---   meaning, 1 = highest or lowest, differs between tools).
--- * Defaults: version "1.0", type "feature", status "draft", priority "medium". Other fields that
---   are left out stay out: no empty lists or objects are added.
--- * null on an optional field means "left out" and is dropped; only `name` and `exit_code` of
---   result.validation_results[] keep null, as validation.run writes them.
--- * title is the only required field; task_id is optional (the store allocates it on creation).
--- * List items are non-empty strings; dependencies are task ids, without repeats or the task itself.
--- * Validation entries are promoted to objects ("make test" → {kind = "custom", command = ...}).
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")
local texts = require("sidecar.core.text")
local validation = require("sidecar.task.validation")

local M = {}

M.VERSION = "1.0"
M.TYPES = { "feature", "bug", "chore", "research" }
M.STATUSES = { "draft", "ready", "queued", "running", "review", "blocked", "done" }
M.PRIORITIES = { "low", "medium", "high", "urgent" }

local ID_CHARS = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
local ID_MAX = 64

---True when `id` is a valid task id (^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$).
---@param id any
---@return boolean
function M.is_task_id(id)
  return type(id) == "string" and #id <= ID_MAX and id:find(ID_CHARS) ~= nil
end

-- Schema ---------------------------------------------------------------------------------------
-- A schema is {kind = ..., required?, default?, keep_null?} plus what its kind needs; objects list
-- their fields in order, which is the order their problems are reported in.

local function object(fields, after)
  local by_name, names = {}, {}
  for i, f in ipairs(fields) do
    by_name[f[1]] = f[2]
    names[i] = f[1]
  end
  table.sort(names)
  return { kind = "object", fields = fields, by_name = by_name, known = table.concat(names, ", "), after = after }
end

local function with(schema, extra)
  local out = {}
  for k, v in pairs(schema) do
    out[k] = v
  end
  for k, v in pairs(extra) do
    out[k] = v
  end
  return out
end

local function list(item)
  return { kind = "list", item = item }
end

local function enum(values, default)
  return { kind = "enum", values = values, default = default }
end

local TEXT = { kind = "string" }
local LINES = list({ kind = "string", non_empty = true })
local TASK_ID = { kind = "task_id" }

local RESULT_ENTRY = object({
  { "kind", with(enum(validation.KINDS), { required = true }) },
  { "command", { kind = "string", required = true } },
  { "name", { kind = "string", keep_null = true } },
  { "exit_code", { kind = "integer", keep_null = true } },
  { "ok", { kind = "boolean", required = true } },
  { "timed_out", { kind = "boolean" } },
  { "duration_ms", { kind = "integer", min = 0 } },
  { "timeout_ms", { kind = "integer", min = 1 } },
  { "output_snippet", TEXT },
  { "not_run", TEXT }, -- why the step did not run (its commands not trusted: stdlib/sidecar/task/finish.lua)
})

local join -- defined below

-- Dependencies: no repeats, and not the task itself.
local function check_dependencies(packet, path, problems)
  local first_at = {}
  for i, id in ipairs(packet.dependencies or {}) do
    local at = join(path, "dependencies") .. "[" .. i .. "]"
    if id == packet.task_id then
      problems[#problems + 1] = { path = at, message = "a task cannot depend on itself" }
    elseif first_at[id] then
      problems[#problems + 1] = { path = at, message = ("'%s' is listed twice (also at [%d])"):format(id, first_at[id]) }
    else
      first_at[id] = i
    end
  end
end

local PACKET = object({
  { "task_id", TASK_ID },
  { "source_task_id", TEXT }, -- the id an imported packet had where it came from
  { "version", { kind = "version", default = M.VERSION } },
  { "title", { kind = "string", non_empty = true, required = true } },
  { "type", enum(M.TYPES, "feature") },
  { "status", enum(M.STATUSES, "draft") },
  { "priority", enum(M.PRIORITIES, "medium") },
  { "summary", TEXT },
  { "goal", TEXT },
  { "scope", object({ { "in_scope", LINES }, { "out_of_scope", LINES } }) },
  { "context", object({ { "related_decisions", LINES }, { "related_notes", LINES } }) },
  { "implementation", object({ { "files_to_read", LINES }, { "files_to_avoid", LINES } }) },
  { "constraints", object({ { "technical", LINES }, { "design", LINES } }) },
  { "execution", object({ { "commands", object({ { "validation", list({ kind = "validation_entry" }) } }) } }) },
  { "dependencies", list(TASK_ID) },
  { "tags", LINES },
  { "target_areas", LINES },
  { "definition_of_done", LINES },
  { "tracking", object({
    { "branch", TEXT }, { "worktree", TEXT }, { "assigned_agent_role", TEXT }, { "assigned_runner", TEXT },
    { "assignment_reason", TEXT }, { "assigned_at", TEXT },
  }) },
  { "result", object({
    { "summary", TEXT }, { "changed_files", LINES }, { "validation_results", list(RESULT_ENTRY) },
  }) },
  { "blockers", LINES },
  { "created_at", TEXT },
  { "updated_at", TEXT },
}, check_dependencies)

---The names of a packet's top-level fields, sorted.
M.FIELDS = {}
for i, f in ipairs(PACKET.fields) do
  M.FIELDS[i] = f[1]
end
table.sort(M.FIELDS)

-- Checking -------------------------------------------------------------------------------------

function join(path, key)
  if not key:find("^[%a_][%w_]*$") then
    return path .. ('["%s"]'):format(key)
  end
  return path == "" and key or (path .. "." .. key)
end

local function problem(problems, path, message)
  problems[#problems + 1] = { path = path, message = message }
end

local function expected(problems, path, what, v)
  problem(problems, path, ("expected %s, got %s"):format(what, validation.describe(v)))
end

local function is_one_of(values, v)
  for _, x in ipairs(values) do
    if x == v then
      return true
    end
  end
  return false
end

local check_value -- (schema, value, path, problems) -> normalised value (nil after a problem)

local CHECK = {}

function CHECK.string(schema, v, path, problems)
  if type(v) ~= "string" then
    return expected(problems, path, "a string", v)
  elseif schema.non_empty and not v:find("%S") then
    return expected(problems, path, "a non-empty string", v)
  end
  local valid, bad = texts.valid_utf8(v)
  if not valid then -- a record is UTF-8: say which byte, rather than store a rewritten text
    return problem(problems, path, ("expected UTF-8 text, but byte %d (0x%02X) is not part of a UTF-8 character; " ..
      "convert it (e.g. iconv -f latin1 -t utf-8)"):format(bad, v:byte(bad)))
  end
  return v
end

function CHECK.enum(schema, v, path, problems)
  if not is_one_of(schema.values, v) then
    return expected(problems, path, "one of " .. table.concat(schema.values, ", "), v)
  end
  return v
end

function CHECK.version(_, v, path, problems)
  if v ~= M.VERSION then
    return expected(problems, path, ('version "%s"'):format(M.VERSION), v)
  end
  return v
end

function CHECK.task_id(_, v, path, problems)
  if not M.is_task_id(v) then
    return expected(problems, path, "a task id (up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)", v)
  end
  return v
end

function CHECK.integer(schema, v, path, problems)
  local min = schema.min
  if math.type(v) ~= "integer" or (min and v < min) then
    local what = min == 1 and "a positive integer" or (min == 0 and "an integer >= 0" or "an integer")
    return expected(problems, path, what, v)
  end
  return v
end

function CHECK.boolean(_, v, path, problems)
  if type(v) ~= "boolean" then
    return expected(problems, path, "true or false", v)
  end
  return v
end

function CHECK.list(schema, v, path, problems)
  local shape = type(v) == "table" and json.shape(v)
  if shape ~= "array" and shape ~= "empty" then
    return expected(problems, path, "an array", v)
  end
  local out = json.array({})
  for i = 1, #v do
    out[i] = check_value(schema.item, v[i], path .. "[" .. i .. "]", problems)
  end
  return out
end

function CHECK.validation_entry(_, v, path, problems)
  local entry, _, found = validation.normalise(v)
  for _, p in ipairs(found or {}) do
    problem(problems, p.field and join(path, p.field) or path, p.message)
  end
  for _, field in ipairs({ "command", "name" }) do -- text, as every string of a record is
    if entry and type(entry[field]) == "string" then
      CHECK.string(TEXT, entry[field], join(path, field), problems)
    end
  end
  return entry
end

local function unknown_fields(schema, v, path, problems)
  local unknown = {}
  for k in pairs(v) do
    if schema.by_name[k] == nil then
      unknown[#unknown + 1] = tostring(k)
    end
  end
  table.sort(unknown)
  for _, k in ipairs(unknown) do
    problem(problems, join(path, k), "unknown field (known: " .. schema.known .. ")")
  end
end

function CHECK.object(schema, v, path, problems)
  local shape = type(v) == "table" and json.shape(v)
  if shape ~= "object" and shape ~= "empty" then
    return expected(problems, path, "an object", v)
  end
  local out = json.object({})
  for _, f in ipairs(schema.fields) do
    local name, fs = f[1], f[2]
    local x = v[name]
    if x == json.null and fs.keep_null then
      out[name] = x
    elseif x == nil or x == json.null then
      if fs.required then
        problem(problems, join(path, name), "required field missing")
      end
      out[name] = fs.default
    else
      out[name] = check_value(fs, x, join(path, name), problems)
    end
  end
  unknown_fields(schema, v, path, problems)
  if schema.after then
    schema.after(out, path, problems)
  end
  return out
end

function check_value(schema, v, path, problems)
  return CHECK[schema.kind](schema, v, path, problems)
end

---A new, normalised packet (defaults filled, validation entries as objects), or nil and the
---list of every problem, each {path, message}. The packet given is left as it is.
---@param packet any
---@return table|nil packet, {path: string, message: string}[]? problems
function M.check(packet)
  local problems = {}
  local out = check_value(PACKET, packet, "", problems)
  if #problems > 0 then
    return nil, problems
  end
  return out
end

---One line per problem: "path: message" ("packet: ..." for the packet itself).
---@param problems {path: string, message: string}[]
---@return string
function M.format_errors(problems)
  if type(problems) ~= "table" then
    error("task_packet.format_errors: expected a list of problems, got " .. type(problems), 2)
  end
  local lines = {}
  for i, p in ipairs(problems) do
    lines[i] = (p.path == "" and "packet" or p.path) .. ": " .. p.message
  end
  return table.concat(lines, "\n")
end

local function invalid(source, problems)
  local n = #problems
  return ("%s: not a valid task packet (%d problem%s):\n  %s"):format(source, n, n == 1 and "" or "s",
    (M.format_errors(problems):gsub("\n", "\n  ")))
end

---Reads a packet from JSON text and checks it. On bad JSON: nil and a message with the line and
---column; on a bad packet: nil, a message listing every problem, and the problems.
---@param text string
---@param source_name? string  what messages call the text (a file name); default "task packet"
---@return table|nil packet, string? message, table? problems
function M.decode(text, source_name)
  if type(text) ~= "string" then
    error("task_packet.decode: expected a string, got " .. type(text), 2)
  end
  local source = source_name or "task packet"
  local ok, value = json.try_decode(text)
  if not ok then
    if not errors.is(value, "json_decode") then
      error(value, 0)
    end
    return nil, source .. ": " .. value.message
  end
  local packet, problems = M.check(value)
  if not packet then
    return nil, invalid(source, problems), problems
  end
  return packet
end

---The packet as JSON for export: checked and normalised, 2-space indent, keys sorted, a final
---newline; decode(encode(p)) equals check(p). A packet that does not check: nil, message, problems.
---@param packet table
---@return string|nil text, string? message, table? problems
function M.encode(packet)
  if type(packet) ~= "table" then
    error("task_packet.encode: expected a table, got " .. type(packet), 2)
  end
  local checked, problems = M.check(packet)
  if not checked then
    return nil, invalid(packet.task_id and tostring(packet.task_id) or "task packet", problems), problems
  end
  return json.encode(checked, { indent = 2 }) .. "\n"
end

-- `task create` fields and where each goes in the packet (nil: the same name at the top).
local NEW_FIELDS = {
  task_id = false, title = false, summary = false, goal = false, type = false, status = false,
  priority = false, dependencies = false, tags = false, target_areas = false, definition_of_done = false,
  files_to_read = "implementation", files_to_avoid = "implementation",
  in_scope = "scope", out_of_scope = "scope", validation = "execution",
}

local function new_field_names()
  local names = {}
  for k in pairs(NEW_FIELDS) do
    names[#names + 1] = k
  end
  table.sort(names)
  return table.concat(names, ", ")
end

---A checked packet from `task create` fields: title, summary, goal, type, status, priority,
---validation (a list of entries, or the shorthand text of validation.parse_cmds), files_to_read,
---files_to_avoid, in_scope, out_of_scope, dependencies, tags, target_areas, definition_of_done,
---task_id. Returns as check() does; an unknown field name raises (it is the caller's mistake).
---@param fields table
---@return table|nil packet, {path: string, message: string}[]? problems
function M.new(fields)
  if type(fields) ~= "table" then
    errors.raise("bad_argument", "task_packet.new: expected a table of fields, got " .. type(fields), nil, 2)
  end
  local packet = {}
  for k, v in pairs(fields) do
    local parent = NEW_FIELDS[k]
    if parent == nil then
      errors.raise("bad_argument", ("task_packet.new: unknown field '%s' (fields: %s)"):format(tostring(k),
        new_field_names()), nil, 2)
    elseif k == "validation" then
      if type(v) == "string" then
        local entries, message = validation.parse_cmds(v)
        if not entries then
          return nil, { { path = "execution.commands.validation", message = message } }
        end
        v = entries
      end
      packet.execution = { commands = { validation = v } }
    elseif parent then
      packet[parent] = packet[parent] or {}
      packet[parent][k] = v
    else
      packet[k] = v
    end
  end
  return M.check(packet)
end

-- The lists of a packet that name files an agent is told to read.
local READ_LISTS = { { "implementation", "files_to_read" }, { "context", "related_decisions" },
  { "context", "related_notes" } }

---The refusal of a packet that tells the agent to read a secret file (secrets.refuse_inputs,
---naming the list: "implementation.files_to_read[2]: '.env' looks like a secrets file ..."), or
---nil. Files to avoid may name secret files: they keep the agent away.
---@param packet table
---@return string|nil message
function M.refused_inputs(packet)
  for _, at in ipairs(READ_LISTS) do
    local parent = type(packet[at[1]]) == "table" and packet[at[1]] or {}
    local list = type(parent[at[2]]) == "table" and parent[at[2]] or {}
    local refused = secrets.refuse_inputs(list, at[1] .. "." .. at[2] .. "[%d]")
    if refused then
      return refused
    end
  end
  return nil
end

---The validation entries of a checked packet (an empty list when it has none).
---@param packet table
---@return table[]
function M.validation_entries(packet)
  local e = packet.execution
  return e and e.commands and e.commands.validation or json.array({})
end

return M
