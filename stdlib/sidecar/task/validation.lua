--- Validation steps of a task packet (`execution.commands.validation[]`, docs/formats.md §7): their
--- kinds and default timeouts, the CLI shorthand, and running them after an agent's run.
---
---   local validation = require("sidecar.task.validation")
---   local steps = assert(validation.parse_cmds("typecheck:tsc --noEmit,test@30s:npm test,bash smoke.sh"))
---   local results = validation.run(steps, {
---     cwd = worktree,
---     on_result = function(i, r) assert(s:add_validation(run_id, r)) end,
---   })
---   validation.summary(results)   -- {total = 3, passed = 2, failed = 1, timed_out = 0}
---   validation.blocker(results)   -- nil when all passed, else "validation failed: test step ..."
---   validation.failure(result)    -- how one step failed: "test step 'npm test' exited with code 1"
---
--- An entry is {kind, command, name?, timeout_ms?}; a plain string is a `custom` entry. Kinds and
--- their default timeouts: typecheck 3 min, lint 3 min, test 10 min, build 10 min, custom 5 min.
---
--- Shorthand (`--validate-cmds`): entries are separated by commas; `kind:cmd` tags an entry,
--- `kind@30s:cmd` also sets its timeout (ms, s, m, h; "1m30s" too); anything else is a `custom`
--- command ("echo a:b" stays whole: a prefix is a kind only when it is one of the kinds). A comma
--- inside single or double quotes does not split, and `\,` is a literal comma.
---
--- A result is exactly {kind, command, name, exit_code, ok, timed_out, duration_ms, timeout_ms,
--- output_snippet}: `name` and `exit_code` are json.null when absent (no name; ended by a signal or
--- never started), `output_snippet` is the last ~2000 bytes of stdout and stderr as they arrived,
--- cut at a character boundary, invalid UTF-8 replaced, secrets redacted.
---
--- This module knows nothing of the store or the CLI: callers store results through on_result.
--- Operational failures are data (nil, message; a failed result); wrong argument types raise.
local duration_text = require("sidecar.core.duration")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local secrets = require("sidecar.core.secrets")
local text_lines = require("sidecar.core.text")

local M = {}

---The kinds, in the order messages list them.
M.KINDS = { "typecheck", "lint", "test", "build", "custom" }

---Each kind's default timeout in milliseconds.
M.DEFAULT_TIMEOUT_MS = {
  typecheck = 3 * 60000, lint = 3 * 60000, test = 10 * 60000, build = 10 * 60000, custom = 5 * 60000,
}

---Bytes of output kept in a result's output_snippet (at most; less after a character cut).
M.SNIPPET_BYTES = 2000

-- The tail of the output that redaction sees: far more than the snippet, so a secret cut in half
-- by the window's start is never inside the snippet.
local REDACT_WINDOW = 16384

local ENTRY_FIELDS = { "command", "kind", "name", "timeout_ms" }
local KIND_LIST = table.concat(M.KINDS, ", ")

---True when `kind` is one of the validation kinds.
---@param kind any
---@return boolean
function M.is_kind(kind)
  return M.DEFAULT_TIMEOUT_MS[kind] ~= nil
end

local function escape_char(c)
  local named = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }
  return named[c] or ("\\x%02x"):format(c:byte())
end

-- A table is an "array" or "object" by its json mark, else by its keys; "empty" is either,
-- "mixed" neither (holes, or number and string keys together).
---The shape of a table as JSON sees it.
---@param t table
---@return "array"|"object"|"empty"|"mixed"
local function shape(t)
  if json.is_array(t) then
    return "array"
  elseif json.is_object(t) then
    return "object"
  elseif next(t) == nil then
    return "empty"
  end
  local n, strings = 0, true
  for k in pairs(t) do
    n = n + 1
    strings = strings and type(k) == "string"
  end
  if strings then
    return "object"
  end
  for i = 1, n do
    if rawget(t, i) == nil then
      return "mixed"
    end
  end
  return "array"
end
M.shape = shape

---How error messages show a value: `string "30s"`, `integer 3`, `null`, `array`, `object`.
---@param v any
---@return string
function M.describe(v)
  if v == json.null then
    return "null"
  elseif v == nil then
    return "nothing"
  end
  local t = type(v)
  if t == "string" then
    local shown = #v > 60 and (v:sub(1, 57) .. "...") or v
    return 'string "' .. shown:gsub('[%c"\\]', escape_char) .. '"'
  elseif t == "number" then
    return (math.type(v) == "integer" and "integer " or "number ") .. tostring(v)
  elseif t == "boolean" then
    return "boolean " .. tostring(v)
  elseif t == "table" then
    local s = shape(v)
    return s == "mixed" and "a table with mixed keys" or (s == "empty" and "empty table" or s)
  end
  return t
end

local function is_blank(s)
  return s:find("^%s*$") ~= nil
end

-- Problems are {field = name | nil (the entry itself), message}.
local function check_field(entry, field, problems)
  local v = entry[field]
  if v == nil or v == json.null then
    if field == "command" then
      problems[#problems + 1] = { field = field, message = "required field missing" }
    end
    return nil
  end
  local function bad(expected)
    problems[#problems + 1] = { field = field, message = ("expected %s, got %s"):format(expected, M.describe(v)) }
  end
  if field == "timeout_ms" then
    if math.type(v) ~= "integer" or v <= 0 then
      return bad("a positive integer")
    end
  elseif type(v) ~= "string" then
    return bad("a string")
  elseif field == "kind" and not M.is_kind(v) then
    problems[#problems + 1] = { field = field, message = ("unknown kind '%s' (kinds: %s)"):format(v, KIND_LIST) }
    return nil
  elseif is_blank(v) then
    return bad(field == "command" and "a non-empty command" or "a non-empty string")
  end
  return v
end

local function problems_message(problems)
  local lines = {}
  for i, p in ipairs(problems) do
    lines[i] = (p.field and (p.field .. ": ") or "") .. p.message
  end
  return table.concat(lines, "; ")
end

---A validation entry in its object form: a string becomes {kind = "custom", command = s}; an
---object is checked ({kind?, command, name?, timeout_ms?}; a missing kind is "custom"). Nulls
---count as absent. On a bad entry: nil, one message, and the problems as {field?, message}.
---@param entry string|table
---@return table|nil entry, string? message, table? problems
function M.normalise(entry)
  local problems = {}
  if type(entry) == "string" then
    if is_blank(entry) then
      problems[1] = { message = "expected a non-empty command, got " .. M.describe(entry) }
      return nil, problems_message(problems), problems
    end
    return json.object({ kind = "custom", command = entry })
  end
  if type(entry) ~= "table" or not (shape(entry) == "object" or shape(entry) == "empty") then
    problems[1] = { message = "expected a command string or an object {kind, command, name?, timeout_ms?}, got "
      .. M.describe(entry) }
    return nil, problems_message(problems), problems
  end
  local known = {}
  for _, f in ipairs(ENTRY_FIELDS) do
    known[f] = true
  end
  local unknown = {}
  for k in pairs(entry) do
    if not known[k] then
      unknown[#unknown + 1] = tostring(k)
    end
  end
  table.sort(unknown)
  for _, k in ipairs(unknown) do
    problems[#problems + 1] = { field = k, message = "unknown field (known: " .. table.concat(ENTRY_FIELDS, ", ") .. ")" }
  end
  local out = json.object({})
  for _, f in ipairs(ENTRY_FIELDS) do
    out[f] = check_field(entry, f, problems)
  end
  if #problems > 0 then
    return nil, problems_message(problems), problems
  end
  out.kind = out.kind or "custom"
  return out
end

---The timeout of an entry: its own timeout_ms, else `timeouts[kind]`, else the kind's default.
---@param entry table  a normalised entry
---@param timeouts? table<string, integer>
---@return integer
function M.timeout_for(entry, timeouts)
  return entry.timeout_ms or (timeouts and timeouts[entry.kind]) or M.DEFAULT_TIMEOUT_MS[entry.kind]
end

-- Splits the shorthand at commas outside quotes; `\,` becomes a comma, other text is kept as it
-- is (quotes and backslashes are the shell's). Returns the pieces, or nil, index, quote char.
local function split_shorthand(text)
  local pieces, buf, quote = {}, {}, nil
  local i, n = 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if quote then
      buf[#buf + 1] = c
      if c == quote then
        quote = nil
      elseif c == "\\" and quote == '"' and i < n then -- \" does not end a double-quoted string
        i = i + 1
        buf[#buf + 1] = text:sub(i, i)
      end
    elseif c == "\\" and i < n then
      i = i + 1
      local next_c = text:sub(i, i)
      buf[#buf + 1] = next_c == "," and "," or (c .. next_c) -- \' and \" never open a quote
    elseif c == "," then
      pieces[#pieces + 1] = table.concat(buf)
      buf = {}
    else
      if c == "'" or c == '"' then
        quote = c
      end
      buf[#buf + 1] = c
    end
    i = i + 1
  end
  pieces[#pieces + 1] = table.concat(buf)
  if quote then
    return nil, #pieces, quote
  end
  return pieces
end


-- One shorthand entry → entry, or nil, message (without the "entry N" part).
local function parse_entry(s)
  local kind, duration, command = s:match("^(%a+)@([^:%s]*):(.*)$")
  local timeout_ms
  if kind and (M.is_kind(kind) or duration:find("^%d")) then
    if not M.is_kind(kind) then
      return nil, ("unknown kind '%s' (kinds: %s)"):format(kind, KIND_LIST)
    end
    local message
    timeout_ms, message = duration_text.parse(duration, { bare = false })
    if not timeout_ms then
      return nil, message
    end
  else
    kind, command = s:match("^(%a+):(.*)$")
    if not M.is_kind(kind) then
      kind, command = "custom", s
    end
  end
  command = text_lines.trim(command) -- linear on any run of blanks (stdlib/sidecar/core/text.lua)
  if command == "" then
    return nil, "empty command after '" .. kind .. "'"
  end
  return json.object({ kind = kind, command = command, timeout_ms = timeout_ms })
end

---Parses the CLI shorthand "typecheck:tsc --noEmit,lint:eslint .,test@30s:npm test,bash x.sh"
---into entries. Blank text is no entries. Errors name the entry: "entry 2 'tset@30s:npm test':
---unknown kind 'tset' (kinds: ...)".
---@param text string
---@return table|nil entries, string? message
function M.parse_cmds(text)
  if type(text) ~= "string" then
    error("validation.parse_cmds: expected a string, got " .. type(text), 2)
  end
  local entries = json.array({})
  if is_blank(text) then
    return entries
  end
  local pieces, index, quote = split_shorthand(text)
  if not pieces then
    return nil, ("entry %d: unterminated %s quote"):format(index, quote == "'" and "single" or "double")
  end
  for i, piece in ipairs(pieces) do
    local s = text_lines.trim(piece)
    if s == "" then
      return nil, ("entry %d is empty (two commas in a row, or a comma at the start or end?)"):format(i)
    end
    local entry, message = parse_entry(s)
    if not entry then
      return nil, ("entry %d '%s': %s"):format(i, s, message)
    end
    entries[i] = entry
  end
  return entries
end

-- Running ------------------------------------------------------------------------------------

local RUN_OPTIONS = {
  cwd = "string", env = "table", timeouts = "table", on_step = "function", on_result = "function",
  stop_on_failure = "boolean", snippet_bytes = "integer",
}

local function bad_option(message)
  errors.raise("bad_option", "validation.run: " .. message, nil, 3)
end

local function check_options(opts)
  if type(opts) ~= "table" then
    bad_option("options must be a table, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local want = RUN_OPTIONS[k]
    if not want then
      local names = {}
      for name in pairs(RUN_OPTIONS) do
        names[#names + 1] = name
      end
      table.sort(names)
      bad_option(("unknown option '%s' (options: %s)"):format(tostring(k), table.concat(names, ", ")))
    elseif (want == "integer" and (math.type(v) ~= "integer" or v < 1)) or (want ~= "integer" and type(v) ~= want) then
      bad_option(("option '%s' must be a %s, got %s"):format(k, want == "integer" and "positive integer" or want, M.describe(v)))
    end
  end
  for kind, ms in pairs(opts.timeouts or {}) do
    if not M.is_kind(kind) then
      bad_option(("timeouts: unknown kind '%s' (kinds: %s)"):format(tostring(kind), KIND_LIST))
    elseif math.type(ms) ~= "integer" or ms < 1 then
      bad_option(("timeouts.%s must be a positive integer, got %s"):format(kind, M.describe(ms)))
    end
  end
end

-- The last `keep` bytes of a stream, kept without holding all of it.
local function new_tail(keep)
  local parts, size = {}, 0
  local tail = {}
  function tail.add(chunk)
    parts[#parts + 1] = chunk
    size = size + #chunk
    if size > 2 * keep then
      local s = table.concat(parts):sub(-keep)
      parts, size = { s }, #s
    end
  end
  function tail.text()
    local s = table.concat(parts)
    return #s > keep and s:sub(-keep) or s
  end
  return tail
end

-- `s` with each byte that is not part of valid UTF-8 replaced by U+FFFD.
local function valid_utf8(s)
  if utf8.len(s) then
    return s
  end
  local out, i = {}, 1
  while i <= #s do
    local ok, bad = utf8.len(s, i)
    if ok then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
  end
  return table.concat(out)
end

local function redact_window(limit)
  return math.max(REDACT_WINDOW, 4 * limit)
end

---The snippet stored for an output: redacted, valid UTF-8, its last `limit` bytes (fewer when
---the cut would split a character).
---@param output string
---@param limit? integer  default SNIPPET_BYTES
---@return string
function M.snippet(output, limit)
  limit = limit or M.SNIPPET_BYTES
  local window = redact_window(limit)
  if #output > window then
    output = output:sub(-window)
  end
  local s = valid_utf8((secrets.redact(output)))
  if #s <= limit then
    return s
  end
  local start = #s - limit + 1
  while start <= #s and s:byte(start) >= 0x80 and s:byte(start) < 0xC0 do -- a continuation byte
    start = start + 1
  end
  return s:sub(start)
end

local function result_of(entry, timeout_ms, fields)
  return json.object({
    kind = entry.kind, command = entry.command, name = entry.name or json.null,
    exit_code = fields.exit_code or json.null, ok = fields.ok, timed_out = fields.timed_out,
    duration_ms = fields.duration_ms, timeout_ms = timeout_ms, output_snippet = fields.output_snippet,
  })
end

local function run_step(entry, opts)
  local timeout_ms = M.timeout_for(entry, opts.timeouts)
  local limit = opts.snippet_bytes or M.SNIPPET_BYTES
  local tail = new_tail(redact_window(limit))
  local started, handle = pcall(proc.spawn, proc.shell(entry.command), {
    cwd = opts.cwd, env = opts.env, timeout_ms = timeout_ms, stdout = tail.add, stderr = tail.add,
    name = "validation " .. entry.kind,
  })
  if not started then
    if not errors.is(handle, "spawn_failed") then
      error(handle, 0) -- a bad option is the caller's mistake
    end
    return result_of(entry, timeout_ms, {
      ok = false, timed_out = false, duration_ms = 0,
      output_snippet = M.snippet("could not start: " .. tostring(handle.message), limit),
    })
  end
  local h <close> = handle -- an interrupt raised by wait still stops the step's processes
  local r = h:wait()
  return result_of(entry, timeout_ms, {
    exit_code = r.code, ok = r.code == 0 and not r.timed_out, timed_out = r.timed_out == true,
    duration_ms = math.tointeger(math.floor(r.duration_ms + 0.5)),
    output_snippet = M.snippet(tail.text(), limit),
  })
end

---Runs each entry in order with /bin/sh -c in opts.cwd, under its timeout (the entry's
---timeout_ms, else opts.timeouts[kind], else the kind's default); a timeout ends the step's whole
---process group. Every step runs unless opts.stop_on_failure (then the results end at the first
---failure). A step that cannot start is a failed result with exit_code null. Ctrl-C raises.
---@param entries (string|table)[]  entries as normalise() accepts them (a bad one raises)
---@param opts? {cwd: string?, env: table?, timeouts: table<string, integer>?, on_step: fun(i, entry)?, on_result: fun(i, result)?, stop_on_failure: boolean?, snippet_bytes: integer?}
---@return table[] results
function M.run(entries, opts)
  opts = opts or {}
  if type(entries) ~= "table" then
    errors.raise("bad_argument", "validation.run: entries must be an array, got " .. type(entries), nil, 2)
  end
  check_options(opts)
  local steps = {}
  for i, e in ipairs(entries) do -- every entry is checked before anything runs
    local entry, message = M.normalise(e)
    if not entry then
      errors.raise("bad_argument", ("validation.run: entries[%d]: %s"):format(i, message), nil, 2)
    end
    steps[i] = entry
  end
  local results = json.array({})
  for i, entry in ipairs(steps) do
    if opts.on_step then
      opts.on_step(i, entry)
    end
    local result = run_step(entry, opts)
    results[i] = result
    if opts.on_result then
      opts.on_result(i, result)
    end
    if opts.stop_on_failure and not result.ok then
      break
    end
  end
  return results
end

-- The first bytes of `s`, at most `n`, not splitting a character.
local function utf8_head(s, n)
  local stop = n + 1
  while stop > 1 and (s:byte(stop) or 0) >= 0x80 and (s:byte(stop) or 0) < 0xC0 do
    stop = stop - 1
  end
  return s:sub(1, stop - 1)
end

-- Verdicts -----------------------------------------------------------------------------------

---Counts: failed includes the timed-out steps, which timed_out counts again.
---@param results table[]
---@return {total: integer, passed: integer, failed: integer, timed_out: integer}
function M.summary(results)
  local s = { total = #results, passed = 0, failed = 0, timed_out = 0 }
  for _, r in ipairs(results) do
    if r.ok then
      s.passed = s.passed + 1
    else
      s.failed = s.failed + 1
    end
    if r.timed_out then
      s.timed_out = s.timed_out + 1
    end
  end
  return s
end

---How one failed step failed, naming its kind: "test step 'npm test' exited with code 1",
---"... timed out after 30000 ms", "... ended without an exit code (...)".
---@param r table  a result (or any {kind, command, name?, exit_code?, timed_out?, timeout_ms?})
---@return string
function M.failure(r)
  local what = ("%s step '%s'"):format(r.kind or "custom", r.command or r.name or "?")
  if type(r.not_run) == "string" then
    return what .. " was not run: " .. r.not_run
  elseif r.timed_out then
    return what .. (math.type(r.timeout_ms) and (" timed out after %d ms"):format(r.timeout_ms) or " timed out")
  elseif math.type(r.exit_code) == "integer" then
    return what .. (r.exit_code == 0 and " failed its check (exit code 0)" or (" exited with code %d"):format(r.exit_code))
  end
  return what .. " ended without an exit code (killed by a signal, or it could not start)"
end

---nil when every step passed (or there were none); else a blocker message naming the first
---failing step and the kinds of the others: "validation failed: test step 'npm test' exited with
---code 1 (2 of 3 steps passed)".
---@param results table[]
---@return string|nil
function M.blocker(results)
  local first, others, seen = nil, {}, {}
  local passed = 0
  for _, r in ipairs(results) do
    if r.ok then
      passed = passed + 1
    elseif not first then
      first = r
    elseif not seen[r.kind] then
      seen[r.kind] = true
      others[#others + 1] = r.kind
    end
  end
  if not first then
    return nil
  end
  local shown = setmetatable({ command = first.command }, { __index = first })
  if #first.command > 80 then
    shown.command = utf8_head(first.command, 77) .. "..."
  end
  local also = #others > 0 and ("; also failed: " .. table.concat(others, ", ")) or ""
  return ("validation failed: %s (%d of %d steps passed%s)"):format(M.failure(shown), passed, #results, also)
end

return M
