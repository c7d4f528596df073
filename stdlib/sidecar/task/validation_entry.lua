--- Validation entries of a task packet (`execution.commands.validation[]`, docs/formats.md §7):
--- their kinds and default timeouts, checking an entry, and the CLI shorthand. Running them is
--- sidecar.task.validation's, which re-exports everything here (the public names are
--- validation.KINDS, validation.normalise, validation.parse_cmds, ...).
---
--- An entry is {kind, command, name?, timeout_ms?}; a plain string is a `custom` entry. Kinds and
--- their default timeouts: typecheck 3 min, lint 3 min, test 10 min, build 10 min, custom 5 min.
---
--- Shorthand (`--validate-cmds`): entries are separated by commas; `kind:cmd` tags an entry,
--- `kind@30s:cmd` also sets its timeout (ms, s, m, h; "1m30s" too); anything else is a `custom`
--- command ("echo a:b" stays whole: a prefix is a kind only when it is one of the kinds). A comma
--- inside single or double quotes does not split, and `\,` is a literal comma.
local duration_text = require("sidecar.core.duration")
local json = require("sidecar.core.json")
local text_lines = require("sidecar.core.text")

local M = {}

---The kinds, in the order messages list them.
M.KINDS = { "typecheck", "lint", "test", "build", "custom" }

---Each kind's default timeout in milliseconds.
M.DEFAULT_TIMEOUT_MS = {
  typecheck = 3 * 60000, lint = 3 * 60000, test = 10 * 60000, build = 10 * 60000, custom = 5 * 60000,
}

---The kinds as messages list them: "typecheck, lint, test, build, custom".
M.KIND_LIST = table.concat(M.KINDS, ", ")

local ENTRY_FIELDS = { "command", "kind", "name", "timeout_ms" }
local KIND_LIST = M.KIND_LIST

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

local shape = json.shape

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

return M
