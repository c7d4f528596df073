--- One finding from an agent, read and normalised: the severities and their synonyms, paths made
--- relative, lines read from "12", "L12-L15" or "src/a.c:12", and the form claims compare in
--- (canonical text, word-set similarity). sidecar.preset.merge combines findings read here.
---
--- A finding is {file, line?, severity, claim, evidence?, suggestion?, category?}; normalise() adds
--- the provenance {worker, lens, runner, run_id} (provenance.root, the worker's work tree, makes
--- absolute paths under it relative). Severities, most serious first: critical, high, medium,
--- low, info; blocker, major, error, warning, minor, nit and nitpick (and a few more, see
--- M.SEVERITY_SYNONYMS) are read as one of them.
---
--- A finding is data from an agent, so a malformed one is a value (normalise: nil, why); wrong
--- argument types from the caller raise. The public names are merge.normalise, merge.severity,
--- merge.path and merge.similarity (the same functions).
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local text_lines = require("sidecar.core.text")

local M = {}

---The severities, most serious first.
M.SEVERITIES = { "critical", "high", "medium", "low", "info" }

---Severity -> rank (1 = most serious).
M.SEVERITY_RANK = {}
for i, s in ipairs(M.SEVERITIES) do
  M.SEVERITY_RANK[s] = i
end

---Other words for the severities (compared case-insensitively).
M.SEVERITY_SYNONYMS = {
  blocker = "critical", blocking = "critical",
  major = "high", error = "high",
  warning = "medium", warn = "medium", moderate = "medium",
  minor = "low",
  nit = "info", nitpick = "info", note = "info", informational = "info",
}

-- Words that carry no claim of their own; hedges included ("may", "could").
local STOP_WORDS = {}
for w in ([[a an the is are was were be been being of to in on at for from and or if when
  this that these those it its with by as can may might could should would will not no]]):gmatch("%a+") do
  STOP_WORDS[w] = true
end

local PROVENANCE_FIELDS = { "worker", "lens", "runner", "run_id" }

-- Text helpers ---------------------------------------------------------------------------------

-- Linear (stdlib/sidecar/core/text.lua): a gsub("%s+$", "") is quadratic on a run of spaces in agent text.
local trim = text_lines.trim

local function one_line(s)
  return trim((s:gsub("%s+", " ")))
end

---Lowercase, punctuation as spaces, single spaces: the form claims and suggestions compare in.
---@param s string
---@return string
local function canonical(s)
  return one_line((s:lower():gsub("%p", " ")))
end
M.canonical = canonical

local function words(canon)
  local set, n = {}, 0
  for w in canon:gmatch("[%w_\128-\255]+") do
    if not STOP_WORDS[w] and not set[w] then
      set[w] = true
      n = n + 1
    end
  end
  return set, n
end

---The Jaccard index of two claims' word sets (0..1), or nil when either has no words.
---@param a string
---@param b string
---@return number|nil
function M.similarity(a, b)
  local sa, na = words(canonical(a))
  local sb, nb = words(canonical(b))
  if na == 0 or nb == 0 then
    return nil
  end
  local common = 0
  for w in pairs(sa) do
    if sb[w] then
      common = common + 1
    end
  end
  return common / (na + nb - common)
end

---How messages show a value from an agent: `null`, a quoted string (cut at 40 bytes), `a table`.
---@param v any
---@return string
local function describe(v)
  if v == json.null then
    return "null"
  elseif type(v) == "string" then
    local shown = #v > 40 and (v:sub(1, 37) .. "...") or v
    return (("%q"):format(shown):gsub("\\\n", "\\n"))
  elseif type(v) == "table" then
    return "a table"
  end
  return tostring(v)
end
M.describe = describe

-- Normalising ----------------------------------------------------------------------------------

-- Optional text: nil for absent, null or blank; a number becomes its text.
local function text_field(finding, name)
  local v = finding[name]
  if v == nil or v == json.null then
    return nil
  elseif type(v) == "number" then
    v = tostring(v)
  elseif type(v) ~= "string" then
    return nil, ("%s: expected text, got %s"):format(name, describe(v))
  end
  v = trim(v)
  return v ~= "" and v or nil
end

---A normalised severity or nil, why.
---@param s any
---@return string|nil severity, string? why
function M.severity(s)
  if type(s) ~= "string" then
    return nil, "severity: expected one of " .. table.concat(M.SEVERITIES, ", ") .. ", got " .. describe(s)
  end
  local key = trim(s):lower()
  local sev = M.SEVERITY_RANK[key] and key or M.SEVERITY_SYNONYMS[key]
  if not sev then
    return nil, "severity: expected one of " .. table.concat(M.SEVERITIES, ", ") .. ", got " .. describe(s)
  end
  return sev
end

---A path as workers should have written it: "/" separators, no "./" segments or repeated "/",
---relative to `root` when it starts with it. ".." is kept (never resolved).
---@param path string
---@param root? string
---@return string
function M.path(path, root)
  local p = trim(path):gsub("\\", "/")
  if root and root ~= "" then
    root = root:gsub("\\", "/"):gsub("/+$", "")
    if p:sub(1, #root + 1) == root .. "/" then
      p = p:sub(#root + 2)
    end
  end
  p = p:gsub("/+", "/")
  repeat
    local n
    p, n = p:gsub("/%./", "/")
  until n == 0
  p = p:gsub("/%.$", "")
  while p:sub(1, 2) == "./" do
    p = p:sub(3)
  end
  return p
end

-- "12", "L12", "12-15", "L12-L15", "12:7" (line:column) -> 12, 15|nil; nil, nil when not a line.
local function parse_line_text(s)
  s = trim(s):gsub("\226\128[\147\148]", "-") -- en and em dashes
  local a, b = s:match("^[Ll]?(%d+)%s*%-%s*[Ll]?(%d+)$")
  if a then
    return math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
  end
  a = s:match("^[Ll]?(%d+)$") or s:match("^(%d+):%d+$")
  return a and math.tointeger(tonumber(a)), nil
end

local function line_field(finding)
  local v = finding.line
  local line, line_end
  if v == nil or v == json.null or v == "" then
    return nil, nil
  elseif type(v) == "number" then
    line = math.tointeger(v)
  elseif type(v) == "string" then
    line, line_end = parse_line_text(v)
  end
  if not line or line < 1 then
    return nil, nil, ('line: expected a line number like 12, "L12" or "12-15", got %s'):format(describe(v))
  end
  local e = finding.line_end
  if line_end == nil and e ~= nil and e ~= json.null then
    line_end = math.tointeger(e) or (type(e) == "string" and parse_line_text(e))
    if not line_end then
      return nil, nil, "line_end: expected a line number, got " .. describe(e)
    end
  end
  if line_end and line_end < line then
    return nil, nil, ("line: the range %d-%d ends before it starts"):format(line, line_end)
  end
  return line, (line_end ~= line) and line_end or nil
end

-- "src/a.c:12", "src/a.c:12:7", "src/a.c:12-15", "src/a.c#L12-L15" -> "src/a.c", "12..."; the
-- path unchanged when it names no line.
local function split_file_line(file)
  local path, where = file:match("^(.-)#(L%d+%-?L?%d*)$")
  if not path then
    path, where = file:match("^(.-):(%d+):%d+$") -- path:line:column
  end
  if not path then
    path, where = file:match("^(.-):(%d+%-?%d*)$")
  end
  if path and path ~= "" then
    return path, where
  end
  return file, nil
end

---The provenance a caller gave, checked (a table of strings; raises naming `fname` otherwise),
---or {} when none.
---@param provenance any
---@param fname string  the public function's name, for the message
---@return table
local function check_provenance(provenance, fname)
  if provenance == nil then
    return {}
  end
  if type(provenance) ~= "table" then
    errors.raise("bad_argument", fname .. ": provenance must be a table, got " .. type(provenance), nil, 3)
  end
  for _, k in ipairs({ "worker", "lens", "runner", "run_id", "root" }) do
    local v = provenance[k]
    if v ~= nil and type(v) ~= "string" then
      errors.raise("bad_argument", ("%s: provenance.%s must be a string, got %s"):format(fname, k, type(v)), nil, 3)
    end
  end
  return provenance
end
M.check_provenance = check_provenance

---A normalised finding (a new table holding only the known fields and the provenance), or nil
---and why it cannot be used. Text is trimmed (claim also to one line); severity synonyms are
---mapped (case-insensitive); the file path is normalised (see M.path; provenance.root, the
---worker's work tree, is stripped from absolute paths); "src/a.c:12" in `file` supplies the line;
---line accepts 12, "12", "L12" and "12-15" (line 12, line_end 15).
---@param finding any  data from an agent
---@param provenance? {worker?: string, lens?: string, runner?: string, run_id?: string, root?: string}
---@return table|nil finding, string? why
function M.normalise(finding, provenance)
  provenance = check_provenance(provenance, "merge.normalise")
  if type(finding) ~= "table" then
    return nil, "expected a finding object, got " .. describe(finding)
  end
  local out = {}
  local why
  for _, name in ipairs({ "claim", "evidence", "suggestion", "category" }) do
    out[name], why = text_field(finding, name)
    if why then
      return nil, why
    end
  end
  if not out.claim then
    return nil, "claim: missing"
  end
  out.claim = one_line(out.claim)
  out.category = out.category and out.category:lower()
  out.severity, why = M.severity(finding.severity)
  if not out.severity then
    return nil, why
  end
  local file = finding.file
  if type(file) ~= "string" or trim(file) == "" then
    return nil, "file: expected a path, got " .. describe(file)
  end
  local path, where = split_file_line(trim(file))
  local source = finding
  if where and (finding.line == nil or finding.line == json.null) then
    source = { line = where }
  end
  out.file = M.path(path, provenance.root)
  if out.file == "" or out.file == "." then
    return nil, "file: expected a path, got " .. describe(file)
  end
  out.line, out.line_end, why = line_field(source)
  if why then
    return nil, why
  end
  for _, k in ipairs(PROVENANCE_FIELDS) do
    out[k] = provenance[k]
  end
  return out
end

return M
