--- An agent's structured answer, checked against the schema a preset declares, with one re-prompt
--- when it does not match.
---
---   local schema = require("sidecar.preset.schema")
---   local spec = { type = "object", fields = {
---     findings = { type = "array", required = true, items = { type = "object", fields = {
---       file = { type = "string", required = true },
---       line = { type = "integer", min = 1 },
---       severity = { type = "enum", enum = { "critical", "high", "medium", "low", "info" }, required = true },
---       claim = { type = "string", non_empty = true, required = true },
---     } } } } }
---   local value = assert(schema.extract_json(final_message))
---   local ok, problems = schema.check(value, spec)   -- true, or nil and every problem
---   print(schema.format_problems(problems))          -- "- findings[2].severity: expected one of ..."
---   local r = schema.enforce(function(suffix) return run_agent(prompt .. (suffix or "")) end, spec)
---   if r.ok then use(r.value) elseif r.escalate then ask_a_person(r.problems, r.raw) end
---   local report = schema.parse_markdown(text, "precommit")   -- docs/formats.md §2; also "personalization"
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
--- Operational failures (no JSON in a message, an agent run that failed) are values: nil, why or
--- {ok = false, ...}; wrong argument types raise.
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")
local text_lines = require("sidecar.core.text")

local M = {}

M.TYPES = { "object", "array", "string", "integer", "number", "boolean", "enum" }
local KNOWN_TYPE = {}
for _, t in ipairs(M.TYPES) do
  KNOWN_TYPE[t] = true
end

---How many problems a re-prompt lists before "... and N more".
M.MAX_LISTED_PROBLEMS = 20

-- How many {...}/[...] spans extract_json tries to decode, and how many brackets and quotes it
-- steps over in all, before it gives up: a message full of unclosed brackets would otherwise cost
-- time quadratic in its length.
local MAX_SPAN_ATTEMPTS = 200
local MAX_SPAN_STEPS = 1000000

-- Values ---------------------------------------------------------------------------------------

-- Linear, whatever the agent wrote (stdlib/sidecar/core/text.lua): a gsub("%s+$", "") is quadratic on a run of
-- spaces, and every pass over an answer here must stay linear.
local trim = text_lines.trim

-- A fence line of `char` ("`" or "~"): the run of that character after the indentation and the
-- rest of the line, trimmed; nil when the line does not start with it.
local function fence_line(line, char)
  local first = line:find("%S")
  if not first or line:sub(first, first) ~= char then
    return nil
  end
  local stop = line:find(char == "`" and "[^`]" or "[^~]", first) or #line + 1
  return line:sub(first, stop - 1), trim(line:sub(stop))
end

-- "array", "object", "empty" (an unmarked {}) or "mixed".
local function shape(t)
  if json.is_array(t) then
    return "array"
  elseif json.is_object(t) then
    return "object"
  elseif next(t) == nil then
    return "empty"
  end
  local n = #t
  local count = 0
  for k in pairs(t) do
    count = count + 1
    if math.type(k) ~= "integer" or k < 1 or k > n then
      for k2 in pairs(t) do
        if type(k2) ~= "string" then
          return "mixed"
        end
      end
      return "object"
    end
  end
  return count == n and "array" or "mixed"
end

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

-- Finding JSON in a message --------------------------------------------------------------------

local function decode(text)
  local ok, v = pcall(json.decode, text)
  if ok then
    return true, v
  end
  return false, type(v) == "table" and v.message or tostring(v)
end

---The fenced code blocks of a markdown text, in order: {lang = "json" | "" | ..., body = text}.
---A fence may be indented (inside a list item); an unclosed last fence runs to the end.
---@param text string
---@return {lang: string, body: string}[]
function M.fenced_blocks(text)
  local blocks, open = {}, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if open then
      local fence, rest = fence_line(line, open.char)
      if fence and rest == "" and #fence >= open.len then
        blocks[#blocks + 1] = { lang = open.lang, body = table.concat(open.lines, "\n") }
        open = nil
      else
        open.lines[#open.lines + 1] = line
      end
    else
      local fence, info = fence_line(line, "`")
      if fence and (#fence < 3 or info:find("`", 1, true)) then
        fence = nil
      elseif not fence then
        fence, info = fence_line(line, "~")
        fence = fence and #fence >= 3 and fence or nil
      end
      if fence then
        open = { char = fence:sub(1, 1), len = #fence, lang = (info:match("^(%S*)") or ""):lower(), lines = {} }
      end
    end
  end
  if open then
    blocks[#blocks + 1] = { lang = open.lang, body = table.concat(open.lines, "\n") }
  end
  return blocks
end

-- The index of the bracket closing the one at `i`, skipping JSON strings; nil when unbalanced or
-- when budget.steps runs out.
local function span_end(text, i, budget)
  local stack = { text:sub(i, i) }
  local j = i + 1
  while true do
    budget.steps = budget.steps - 1
    if budget.steps < 0 then
      return nil
    end
    j = text:find('[%[%]{}"]', j)
    if not j then
      return nil
    end
    local c = text:sub(j, j)
    if c == '"' then
      repeat
        budget.steps = budget.steps - 1
        j = text:find('["\\]', j + 1)
        if not j or budget.steps < 0 then
          return nil
        end
        local q = text:sub(j, j)
        if q == "\\" then
          j = j + 1
        end
      until q == '"'
    elseif c == "{" or c == "[" then
      stack[#stack + 1] = c
    else
      if (c == "}") ~= (stack[#stack] == "{") then
        return nil
      end
      stack[#stack] = nil
      if #stack == 0 then
        return j
      end
    end
    j = j + 1
  end
end

-- The longest {...} or [...] span that decodes (the last of equal ones), or nil.
local function best_span(text)
  local best, best_len
  local pos, attempts, budget = 1, 0, { steps = MAX_SPAN_STEPS }
  while attempts < MAX_SPAN_ATTEMPTS and budget.steps > 0 do
    local i = text:find("[%[{]", pos)
    if not i then
      break
    end
    attempts = attempts + 1
    local j = span_end(text, i, budget)
    local ok, v = false, nil
    if j then
      ok, v = decode(text:sub(i, j))
    end
    if ok then
      if not best_len or j - i + 1 >= best_len then
        best, best_len = { value = v }, j - i + 1
      end
      pos = j + 1
    else
      pos = i + 1
    end
  end
  return best
end

---The JSON value in an agent's final message, and where it was found ("text", "json block",
---"block" or "span"). Tried in order: the whole text; else the last ```json block (when it does
---not decode, that is the answer: nil and the decode error); else the last fenced block that
---decodes; else the longest {...} or [...] span that decodes. A decoded null is json.null.
---@param text string
---@return any value, string where_or_why  on failure: nil, why
function M.extract_json(text)
  if type(text) ~= "string" then
    errors.raise("bad_argument", "schema.extract_json: expected a string, got " .. type(text), nil, 2)
  end
  if not text:find("%S") then
    return nil, "the answer is empty"
  end
  local ok, v = decode(trim(text))
  if ok then
    return v, "text"
  end
  local blocks = M.fenced_blocks(text)
  for i = #blocks, 1, -1 do
    if blocks[i].lang == "json" then
      ok, v = decode(blocks[i].body)
      if ok then
        return v, "json block"
      end
      return nil, "the last ```json block is not valid JSON: " .. v
    end
  end
  for i = #blocks, 1, -1 do
    ok, v = decode(blocks[i].body)
    if ok then
      return v, "block"
    end
  end
  local span = best_span(text)
  if span then
    return span.value, "span"
  end
  return nil, "no JSON found: the answer is not JSON and has no ```json block, fenced block or {...} / [...] "
    .. "that is valid JSON"
end

-- Markdown formats (docs/formats.md §2 and §3) ------------------------------------------------

-- Bold, italics and code marks off a short value; an enum-like word lowercased.
local function plain(s)
  s = trim(s):gsub("%*%*", ""):gsub("__", "")
  s = trim(s)
  local inner = s:match("^`(.*)`$") or s:match("^%*(.*)%*$") or s:match("^_(.*)_$")
  return inner and trim(inner) or s
end

local function enum_word(s, values)
  local v = plain(s):lower():gsub("%.$", "")
  if one_of(values, v) then
    return v
  end
  local first = v:match("^([%w%-]+)")
  if first and one_of(values, first) then
    return first
  end
  return v
end

local NONE = { ["none"] = true, ["n/a"] = true, ["na"] = true, ["-"] = true, ["—"] = true, ["(none)"] = true,
  ["nothing"] = true, ["no"] = true, [""] = true }

local function is_none(s)
  return NONE[plain(s):lower():gsub("[%.!]$", "")] == true
end

local function bullet(line)
  local indent, rest = line:match("^(%s*)[-*+]%s+(.*)$")
  if not indent then
    indent, rest = line:match("^(%s*)%d+[.)]%s+(.*)$")
  end
  if indent then
    return #indent:gsub("\t", "    "), rest
  end
end

-- "**Why this path:** text" -> "why this path", "text".
local function label_value(text)
  local s = text:gsub("%*%*", ""):gsub("__", "")
  -- The label is what comes before the first colon (a lazy label matched with spaces retries
  -- every run of them: quadratic).
  local colon = s:find(":", 1, true)
  local label = colon and trim(s:sub(1, colon - 1))
  label = label and label:match("^[%a][%w %-/']*$")
  local value = label and s:sub(colon + 1)
  if label then
    return label:lower():gsub("%s+", " "), trim(value)
  end
end

-- When the whole answer is wrapped in a ```markdown block, its body.
local function unwrap(text)
  local blocks = M.fenced_blocks(text)
  for i = #blocks, 1, -1 do
    if blocks[i].lang == "markdown" or blocks[i].lang == "md" then
      return blocks[i].body
    end
  end
  return text
end

-- §2 -----------------------------------------------------------------------------------------
-- "Output `# Precommit Classification` with bullets `Path`, `Confidence: high|medium|low`,
-- `Changed files`, `Why this path`, `Minimal validation`, `Reinstall needed: no | yes, specific
-- skills: <names> | yes, full install`, `Commit scope risk`, `Blockers`, `Suggested commit
-- message`." Paths: "Risk > Code > Skill > Fast".

M.PRECOMMIT_PATHS = { "fast", "skill", "code", "risk" }
M.PRECOMMIT_CONFIDENCE = { "high", "medium", "low" }
M.PRECOMMIT_REINSTALL = { "no", "specific", "full" }

local PRECOMMIT_LABELS = {
  ["path"] = "path", ["confidence"] = "confidence", ["changed files"] = "changed_files",
  ["why this path"] = "why_this_path", ["why"] = "why_this_path", ["minimal validation"] = "minimal_validation",
  ["reinstall needed"] = "reinstall_needed", ["commit scope risk"] = "commit_scope_risk", ["blockers"] = "blockers",
  ["suggested commit message"] = "suggested_commit_message", ["commit message"] = "suggested_commit_message",
}

-- The bullets of the classification: key -> {value = first-line text, items = nested bullets,
-- more = other lines (fenced blocks included, without their fences)}.
local function precommit_bullets(text)
  local found, current, fence = {}, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if fence then
      if line:match("^%s*" .. fence.mark .. "%s*$") then
        fence = nil
      elseif current then
        local spaces = #line:match("^ *") -- as indented as its fence (up to that many spaces removed)
        current.more[#current.more + 1] = line:sub(math.min(spaces, fence.indent) + 1)
      end
    elseif line:match("^%s*```") or line:match("^%s*~~~") then
      local lead, mark = line:match("^(%s*)([`~]+)")
      fence = { mark = mark, indent = #lead }
    elseif line:match("^%s*#") then
      current = nil
    else
      local indent, rest = bullet(line)
      local label, value
      if indent == nil then
        label, value = label_value(line)
      elseif indent < 2 then
        label, value = label_value(rest)
      end
      local key = label and PRECOMMIT_LABELS[label]
      if key then
        current = { value = value, items = {}, more = {} }
        found[key] = found[key] or current -- the first one stands
      elseif current and indent and indent >= 2 then
        current.items[#current.items + 1] = trim(rest)
      elseif indent or (label and not line:match("^%s")) then
        current = nil -- another top-level bullet, or an unknown "Label: value" line
      elseif current and line:find("%S") then
        current.more[#current.more + 1] = trim(line)
      end
    end
  end
  return found
end

local function bullet_text(b)
  local parts = { b.value }
  for _, l in ipairs(b.more) do
    parts[#parts + 1] = l
  end
  for _, item in ipairs(b.items) do
    parts[#parts + 1] = "- " .. item
  end
  return trim(table.concat(parts, "\n"))
end

-- A list field: nested bullets, else the inline value (split on commas when `split`).
local function bullet_list(b, split)
  local out = {}
  local function add_item(s)
    s = plain(s)
    if not is_none(s) then
      out[#out + 1] = s
    end
  end
  if not is_none(b.value) then
    if split then
      for part in b.value:gmatch("[^,]+") do
        add_item(part)
      end
    else
      add_item(b.value)
    end
  end
  for _, item in ipairs(b.items) do
    add_item(item)
  end
  return out
end

-- "no" | "yes, specific skills: a, b" | "yes, full install" -> "no" | "specific" (+ skills) | "full";
-- anything else stays as written (lowercased) so the enum check names it.
local function reinstall(b)
  local v = plain(b.value):lower()
  if v:match("^no%f[%W]") or v == "no" then
    return "no"
  elseif v:find("full", 1, true) then
    return "full"
  elseif v:find("specific", 1, true) then
    local skills = {}
    local names = b.value:match(":%s*(.*)$")
    for part in (names or ""):gmatch("[^,]+") do
      if plain(part) ~= "" then
        skills[#skills + 1] = plain(part)
      end
    end
    for _, item in ipairs(b.items) do
      skills[#skills + 1] = plain(item)
    end
    return "specific", skills
  end
  return v
end

local function parse_precommit(text)
  local b = precommit_bullets(text)
  local out = {}
  if b.path then
    out.path = enum_word(b.path.value, M.PRECOMMIT_PATHS)
  end
  if b.confidence then
    out.confidence = enum_word(b.confidence.value, M.PRECOMMIT_CONFIDENCE)
  end
  if b.changed_files then
    out.changed_files = bullet_list(b.changed_files, true)
  end
  if b.minimal_validation then
    out.minimal_validation = bullet_list(b.minimal_validation, false)
  end
  if b.blockers then
    out.blockers = bullet_list(b.blockers, false)
  end
  if b.reinstall_needed then
    out.reinstall_needed, out.reinstall_skills = reinstall(b.reinstall_needed)
  end
  for _, key in ipairs({ "why_this_path", "commit_scope_risk" }) do
    if b[key] then
      out[key] = bullet_text(b[key])
    end
  end
  if b.suggested_commit_message then
    local msg = bullet_text(b.suggested_commit_message)
    out.suggested_commit_message = msg:find("\n") and msg or plain(msg)
  end
  return out
end

local function text_list()
  return { type = "array", items = { type = "string", non_empty = true } }
end

M.formats = {}

---docs/formats.md §2, read by parse_markdown(text, "precommit"). Field names are the bullets in
---snake_case; "Reinstall needed" becomes reinstall_needed = "no" | "specific" | "full" and, for
---"yes, specific skills: a, b", reinstall_skills = {"a", "b"}.
M.formats.precommit = {
  type = "object",
  fields = {
    path = { type = "enum", enum = M.PRECOMMIT_PATHS, required = true }, -- "Risk > Code > Skill > Fast"
    confidence = { type = "enum", enum = M.PRECOMMIT_CONFIDENCE, required = true }, -- "high|medium|low"
    changed_files = { type = "array", items = { type = "string", non_empty = true }, required = true },
    why_this_path = { type = "string", non_empty = true, required = true },
    minimal_validation = { type = "array", items = { type = "string", non_empty = true }, required = true },
    -- "no | yes, specific skills: <names> | yes, full install"
    reinstall_needed = { type = "enum", enum = M.PRECOMMIT_REINSTALL, required = true,
      what = 'one of "no", "yes, specific skills: <names>", "yes, full install"' },
    reinstall_skills = text_list(),
    commit_scope_risk = { type = "string", non_empty = true, required = true },
    blockers = { type = "array", items = { type = "string", non_empty = true }, required = true },
    suggested_commit_message = { type = "string", non_empty = true, required = true },
  },
  check = function(v)
    if v.reinstall_needed == "specific" and (v.reinstall_skills == nil or #v.reinstall_skills == 0) then
      return 'says "yes, specific skills" but names no skills', "reinstall_needed"
    end
  end,
}

-- §3 -----------------------------------------------------------------------------------------
-- "Scope `private-user | project | public-skill-candidate | discard`, Type `workflow | writing |
-- layout | figure-style | code-review | git | compute | toolchain | collaboration`, Confidence
-- `observed | repeated | user-stated | inferred`, Action `write | defer | promote | reject`."
-- "Output `# Personalization Candidates` with `## Recommended Writeback` (table: Preference, Scope,
-- Type, Confidence, Evidence, Suggested target, Action), `## Deferred` (Candidate, Reason deferred,
-- Needed evidence), `## Reject` (Candidate, Reason rejected), `## Privacy Notes`."

M.PERSONALIZATION_SCOPES = { "private-user", "project", "public-skill-candidate", "discard" }
M.PERSONALIZATION_TYPES = { "workflow", "writing", "layout", "figure-style", "code-review", "git", "compute",
  "toolchain", "collaboration" }
M.PERSONALIZATION_CONFIDENCE = { "observed", "repeated", "user-stated", "inferred" }
M.PERSONALIZATION_ACTIONS = { "write", "defer", "promote", "reject" }

local ENUM_COLUMNS = {
  scope = M.PERSONALIZATION_SCOPES, type = M.PERSONALIZATION_TYPES,
  confidence = M.PERSONALIZATION_CONFIDENCE, action = M.PERSONALIZATION_ACTIONS,
}

local SECTIONS = {
  ["recommended writeback"] = "recommended_writeback", ["deferred"] = "deferred", ["reject"] = "reject",
  ["rejected"] = "reject", ["privacy notes"] = "privacy_notes",
}

local function column_key(header)
  return (plain(header):lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", ""))
end

local function cells(line)
  -- "\|" is a pipe inside a cell: hidden as a NUL while splitting.
  local s = trim(line):gsub("^|", ""):gsub("\\|", "\0"):gsub("|$", "")
  local out = {}
  for cell in (s .. "|"):gmatch("([^|]*)|") do
    out[#out + 1] = trim((cell:gsub("\0", "|")))
  end
  return out
end

local function is_separator(line)
  return line:match("^%s*|?[%s:|%-]+$") ~= nil and line:find("-", 1, true) ~= nil
end

-- A section's table as a list of row objects; a section with no table is an empty list when it
-- says "none" (or nothing), else its text, so the check reports the missing table.
local function section_table(lines)
  local header, rows, other = nil, {}, {}
  for _, line in ipairs(lines) do
    if line:match("^%s*|") then
      if not header then
        header = cells(line)
      elseif not is_separator(line) then
        local row, filled = {}, false
        for i, cell in ipairs(cells(line)) do
          local key = header[i] and column_key(header[i]) or ("column_" .. i)
          if cell ~= "" and not (is_none(cell) and not cell:find("%a")) then -- "-" is an empty cell
            row[key] = ENUM_COLUMNS[key] and enum_word(cell, ENUM_COLUMNS[key]) or cell
            filled = filled or not is_none(cell)
          end
        end
        if filled then
          rows[#rows + 1] = row
        end
      end
    elseif line:find("%S") then
      other[#other + 1] = trim(line)
    end
  end
  if header then
    return rows
  end
  local said = table.concat(other, "\n")
  local item = said:match("^[-*+]%s+(.*)$")
  if said == "" or is_none(said) or (item and is_none(item)) then
    return {}
  end
  return said
end

local function section_notes(lines)
  local items = {}
  for _, line in ipairs(lines) do
    local indent, rest = bullet(line)
    if indent then
      items[#items + 1] = trim(rest)
    elseif line:find("%S") then
      if #items == 0 then
        items[1] = trim(line)
      else
        items[#items] = items[#items] .. " " .. trim(line)
      end
    end
  end
  if #items == 1 and is_none(items[1]) then
    return {}
  end
  return items
end

local function parse_personalization(text)
  local sections, current, fence = {}, nil, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if fence then
      fence = not line:match("^%s*" .. fence .. "%s*$") and fence or nil
    elseif line:match("^%s*```") then
      fence = "```"
    else
      local level, title = text_lines.heading(line)
      if level then
        local key = #level >= 2 and SECTIONS[plain(title):lower():gsub("%s+", " ")]
        current = nil
        if key and not sections[key] then
          current = {}
          sections[key] = current
        end
      elseif current then
        current[#current + 1] = line
      end
    end
  end
  local out = {}
  for key, lines in pairs(sections) do
    out[key] = key == "privacy_notes" and section_notes(lines) or section_table(lines)
  end
  return out
end

local function write_needs_support(row)
  if row.action == "write" and row.confidence ~= "user-stated" and row.confidence ~= "repeated" then
    -- "Write back automatically only what the user stated or what is repeated in at least two artifacts."
    return ('action "write" needs confidence user-stated or repeated (in at least two artifacts), got %s; '
      .. "use defer instead"):format(M.describe(row.confidence)), "action"
  end
end

local function text_cell()
  return { type = "string", non_empty = true, required = true }
end

-- "quotes no raw logs or secrets": evidence names where a preference was seen, never a secret.
local function no_secret(text)
  local _, found = secrets.redact(text)
  if found > 0 then
    return "quotes what looks like a secret (a key or token); name where the preference was seen instead"
  end
end

local function table_of(columns, row_spec)
  return { type = "array", required = true, items = row_spec, what = "a table with columns " .. columns }
end

---docs/formats.md §3, read by parse_markdown(text, "personalization"): each table a list of rows keyed by
---the column headers in snake_case (Suggested target -> suggested_target); Privacy Notes a list of
---notes. A section saying "None" is an empty list. Two rules of §3 are checked too: a row whose
---action is write needs confidence user-stated or repeated, and evidence never quotes a secret.
M.formats.personalization = {
  type = "object",
  fields = {
    recommended_writeback = table_of("Preference | Scope | Type | Confidence | Evidence | Suggested target | Action", {
      type = "object",
      fields = {
        preference = text_cell(),
        scope = { type = "enum", enum = M.PERSONALIZATION_SCOPES, required = true },
        type = { type = "enum", enum = M.PERSONALIZATION_TYPES, required = true },
        confidence = { type = "enum", enum = M.PERSONALIZATION_CONFIDENCE, required = true },
        evidence = { type = "string", non_empty = true, required = true, check = no_secret },
        suggested_target = text_cell(),
        action = { type = "enum", enum = M.PERSONALIZATION_ACTIONS, required = true },
      },
      check = write_needs_support,
    }),
    deferred = table_of("Candidate | Reason deferred | Needed evidence", {
      type = "object",
      fields = { candidate = text_cell(), reason_deferred = text_cell(), needed_evidence = text_cell() },
    }),
    reject = table_of("Candidate | Reason rejected", {
      type = "object",
      fields = { candidate = text_cell(), reason_rejected = text_cell() },
    }),
    privacy_notes = { type = "array", items = { type = "string", non_empty = true }, required = true },
  },
}

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

local PARSERS = { precommit = parse_precommit, personalization = parse_personalization }

---Reads one of the markdown formats ("precommit": docs/formats.md §2, "personalization": §3) into a
---table that schema.check(value, schema.formats[format]) validates. Lenient on the surface (bold
---labels, backticks, case of enum words, an answer wrapped in a ```markdown block), so that
---check() reports only what is really missing or wrong; unknown bullets and sections are ignored.
---@param text string
---@param format "precommit"|"personalization"
---@return table
function M.parse_markdown(text, format)
  if type(text) ~= "string" then
    errors.raise("bad_argument", "schema.parse_markdown: expected a string, got " .. type(text), nil, 2)
  end
  local parse = PARSERS[format]
  if not parse then
    errors.raise("bad_argument", ("schema.parse_markdown: unknown format %s (formats: precommit, personalization)")
      :format(M.describe(format)), nil, 2)
  end
  return parse(unwrap(text))
end

-- Enforcing ------------------------------------------------------------------------------------

local REPLY = {
  json = "Reply again with only the corrected answer: one JSON value in a single ```json block, and no other text.",
  precommit = "Reply again with only the corrected `# Precommit Classification` report, every bullet of the "
    .. "required format present, and no other text.",
  personalization = "Reply again with only the corrected `# Personalization Candidates` report, with its four "
    .. "sections and tables in the required format, and no other text.",
}

---The value in an answer: JSON (extract_json) or one of the markdown formats. nil, why when
---there is none.
---@param text string
---@param format? "json"|"precommit"|"personalization"  default "json"
---@return any value, string? why
function M.read(text, format)
  format = format or "json"
  if format == "json" then
    local v, where = M.extract_json(text)
    if v == nil then
      return nil, where
    end
    return v
  end
  return M.parse_markdown(text, format)
end

---The text appended to the prompt for the one re-prompt: every problem (up to
---M.MAX_LISTED_PROBLEMS), then what to reply.
---@param problems {path: string, message: string}[]
---@param format? string   default "json"
---@return string
function M.reprompt(problems, format)
  return "\n\nYour previous answer did not match the required format:\n" .. M.format_problems(problems)
    .. "\n" .. (REPLY[format or "json"] or REPLY.json) .. "\n"
end

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
---raw = the last answer} (with `error` instead of raw when a run failed).
---@param run_fn fun(prompt_suffix: string|nil): string|nil, string?
---@param spec? table   default schema.formats[opts.format]
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
  if format ~= "json" and not PARSERS[format] then
    errors.raise("bad_argument", ("schema.enforce: unknown format %s (formats: json, precommit, personalization)")
      :format(M.describe(format)), nil, 2)
  end
  spec = spec or M.formats[format]
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
