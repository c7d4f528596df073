--- Findings from several workers combined into one ranked list (the "triangulated review" of the
--- codex-orchestration skill: reviewers with different lenses, then one list with duplicates
--- removed). Only normalised findings leave this module: a worker's raw output never does.
---
---   local merge = require("sidecar.preset.merge")
---   local merged, rejected = merge.combine({
---     { provenance = { worker = "w1", lens = "correctness", runner = "codex", run_id = "R-0007" },
---       findings = decoded_w1.findings },
---     { provenance = { worker = "w2", lens = "security", runner = "claude", run_id = "R-0008" },
---       findings = decoded_w2.findings },
---   }, { similarity = 0.6 })
---   io.write(merge.report_md(merged, { workers = 2, rejected = #rejected }))
---   local data = merge.to_json(merged)   -- for --json
---
--- A finding is {file, line?, severity, claim, evidence?, suggestion?, category?}; normalise() adds
--- the provenance {worker, lens, runner, run_id} (provenance.root, the worker's work tree, makes
--- absolute paths under it relative). Severities, most serious first: critical, high, medium,
--- low, info; blocker, major, error, warning, minor, nit and nitpick (and a few more, see
--- M.SEVERITY_SYNONYMS) are read as one of them.
---
--- Duplicates (combine). Two findings are the same when
---   * their files are equal (after normalising the paths),
---   * their lines are equal, or both are nil, or both are within opts.line_window (default 0) of
---     each other, and
---   * their claims are the same: equal after lowering case, turning punctuation into spaces and
---     collapsing whitespace, or near-identical: the Jaccard index of their word sets (words of
---     letters, digits and "_", without a few stop words such as "the", "is", "may") is at least
---     opts.similarity (default 0.6). Claims with no words left compare only by equality.
--- A finding joins the first group all of whose members it matches, so a group never holds two
--- findings that do not match each other (no chains A~B~C where A and C differ). Findings are put
--- in a canonical order first, so the result does not depend on the order the lists arrive in.
---
--- A merged finding: {file, line, line_end, severity, claim, evidence, suggestions, category,
--- agreement, sources}. severity is the highest reported; claim is the one from the most severe
--- report (then the longest); evidence the longest; suggestions every distinct one (compared like
--- claims) in source order; category the one given most often (ties: alphabetical); agreement the
--- number of distinct workers; sources one {worker, lens, runner, run_id, severity, claim} per
--- report (that report's own severity, synonyms mapped, and its claim), sorted by worker.
--- Order: severity (critical first), agreement (more first), file, line (nil last), claim.
--- The merged line is the smallest of the group and line_end the largest end, when it is larger.
---
--- A finding is data from an agent, so a malformed one is a value (normalise: nil, why; combine:
--- listed in `rejected`); wrong argument types from the caller raise.
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

M.DEFAULT_SIMILARITY = 0.6
M.DEFAULT_LINE_WINDOW = 0

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

-- Lowercase, punctuation as spaces, single spaces: the form claims and suggestions compare in.
local function canonical(s)
  return one_line((s:lower():gsub("%p", " ")))
end

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

-- Combining ------------------------------------------------------------------------------------

local function line_key(line)
  return line or math.maxinteger
end

-- A total order on normalised findings, so grouping never depends on input order.
local function canonical_before(a, b)
  if a.file ~= b.file then
    return a.file < b.file
  end
  if a.line ~= b.line then
    return line_key(a.line) < line_key(b.line)
  end
  local ra, rb = M.SEVERITY_RANK[a.severity], M.SEVERITY_RANK[b.severity]
  if ra ~= rb then
    return ra < rb
  end
  for _, k in ipairs({ "canon", "worker", "lens", "runner", "run_id", "claim", "evidence", "suggestion",
    "category" }) do
    local x, y = a[k] or "", b[k] or ""
    if x ~= y then
      return x < y
    end
  end
  return line_key(a.line_end) < line_key(b.line_end)
end

local function lines_match(a, b, window)
  if a.line == nil or b.line == nil then
    return a.line == b.line
  end
  return math.abs(a.line - b.line) <= window
end

local function same_finding(a, b, opts)
  if a.file ~= b.file or not lines_match(a, b, opts.line_window) then
    return false
  end
  if a.canon == b.canon then
    return true
  end
  local sim = M.similarity(a.claim, b.claim)
  return sim ~= nil and sim >= opts.similarity
end

local function group_findings(all, opts)
  local groups = {}
  for _, f in ipairs(all) do
    local home
    for _, g in ipairs(groups) do
      local fits = true
      for _, member in ipairs(g) do
        if not same_finding(f, member, opts) then
          fits = false
          break
        end
      end
      if fits then
        home = g
        break
      end
    end
    if home then
      home[#home + 1] = f
    else
      groups[#groups + 1] = { f }
    end
  end
  return groups
end

-- The report a group is named after: most severe, then the longest claim, then by worker.
local function representative(group)
  local best = group[1]
  for i = 2, #group do
    local f = group[i]
    local rf, rb = M.SEVERITY_RANK[f.severity], M.SEVERITY_RANK[best.severity]
    local longer = #f.claim > #best.claim or (#f.claim == #best.claim and canonical_before(f, best))
    if rf < rb or (rf == rb and longer) then
      best = f
    end
  end
  return best
end

local function source_before(a, b)
  for _, k in ipairs({ "worker", "lens", "runner", "run_id" }) do
    local x, y = a[k] or "", b[k] or ""
    if x ~= y then
      return x < y
    end
  end
  local ra, rb = M.SEVERITY_RANK[a.severity], M.SEVERITY_RANK[b.severity]
  if ra ~= rb then
    return ra < rb
  end
  return a.claim < b.claim
end

local function most_common(values)
  local count, best = {}, nil
  for _, v in ipairs(values) do
    count[v] = (count[v] or 0) + 1
  end
  for v, n in pairs(count) do
    if best == nil or n > count[best] or (n == count[best] and v < best) then
      best = v
    end
  end
  return best
end

local function merge_group(group)
  local sorted = {}
  for i, f in ipairs(group) do
    sorted[i] = f
  end
  table.sort(sorted, source_before)
  local rep = representative(group)
  local out = { file = rep.file, claim = rep.claim, severity = rep.severity, suggestions = {}, sources = {} }
  local workers, seen_suggestion, categories = {}, {}, {}
  out.agreement = 0
  for _, f in ipairs(sorted) do
    if not workers[f.worker] then
      workers[f.worker] = true
      out.agreement = out.agreement + 1
    end
    if f.line and (out.line == nil or f.line < out.line) then
      out.line = f.line
    end
    local last = f.line_end or f.line
    if last and (out.line_end == nil or last > out.line_end) then
      out.line_end = last
    end
    if f.evidence and (out.evidence == nil or #f.evidence > #out.evidence) then
      out.evidence = f.evidence
    end
    if f.suggestion then
      local key = canonical(f.suggestion)
      if not seen_suggestion[key] then
        seen_suggestion[key] = true
        out.suggestions[#out.suggestions + 1] = f.suggestion
      end
    end
    if f.category then
      categories[#categories + 1] = f.category
    end
    out.sources[#out.sources + 1] = {
      worker = f.worker, lens = f.lens, runner = f.runner, run_id = f.run_id, severity = f.severity, claim = f.claim,
    }
  end
  if out.line_end and (out.line == nil or out.line_end <= out.line) then
    out.line_end = nil
  end
  out.category = most_common(categories)
  return out
end

local function rank_before(a, b)
  local ra, rb = M.SEVERITY_RANK[a.severity], M.SEVERITY_RANK[b.severity]
  if ra ~= rb then
    return ra < rb
  end
  if a.agreement ~= b.agreement then
    return a.agreement > b.agreement
  end
  if a.file ~= b.file then
    return a.file < b.file
  end
  if a.line ~= b.line then
    return line_key(a.line) < line_key(b.line)
  end
  local ca, cb = canonical(a.claim), canonical(b.claim)
  if ca ~= cb then
    return ca < cb
  end
  return a.claim < b.claim
end

local function check_opts(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    errors.raise("bad_argument", "merge.combine: opts must be a table, got " .. type(opts), nil, 3)
  end
  local window = opts.line_window or M.DEFAULT_LINE_WINDOW
  if math.type(window) ~= "integer" or window < 0 then
    errors.raise("bad_argument", "merge.combine: opts.line_window must be an integer >= 0, got " .. tostring(window),
      nil, 3)
  end
  local sim = opts.similarity or M.DEFAULT_SIMILARITY
  if type(sim) ~= "number" or sim <= 0 or sim > 1 then
    errors.raise("bad_argument", "merge.combine: opts.similarity must be a number in (0, 1], got " .. tostring(sim),
      nil, 3)
  end
  return { line_window = window, similarity = sim }
end

---Merges the findings of several workers into one ranked list (see the header for the rules).
---A worker without provenance.worker is called "worker N" (N = its place in `lists`).
---Returns the merged findings and the findings that could not be used, each {worker, index, why}.
---@param lists {provenance?: table, findings: table[]}[]
---@param opts? {line_window?: integer, similarity?: number}
---@return table[] merged, {worker: string, index: integer|nil, why: string}[] rejected
function M.combine(lists, opts)
  if type(lists) ~= "table" then
    errors.raise("bad_argument", "merge.combine: lists must be a table, got " .. type(lists), nil, 2)
  end
  opts = check_opts(opts)
  local all, rejected = {}, {}
  for i, list in ipairs(lists) do
    if type(list) ~= "table" then
      errors.raise("bad_argument", ("merge.combine: lists[%d] must be a table, got %s"):format(i, type(list)), nil, 2)
    end
    local prov = check_provenance(list.provenance, "merge.combine")
    local p = {}
    for k, v in pairs(prov) do
      p[k] = v
    end
    p.worker = p.worker or ("worker " .. i)
    local findings = list.findings
    if findings == nil or findings == json.null then
      findings = {}
    end
    if type(findings) ~= "table" or (#findings == 0 and next(findings) ~= nil) then
      local got = type(findings) == "table" and "an object" or describe(findings)
      rejected[#rejected + 1] = { worker = p.worker, why = "findings: expected a list, got " .. got }
      findings = {}
    end
    for j, raw in ipairs(findings) do
      local f, why = M.normalise(raw, p)
      if f then
        f.canon = canonical(f.claim)
        all[#all + 1] = f
      else
        rejected[#rejected + 1] = { worker = p.worker, index = j, why = why }
      end
    end
  end
  table.sort(all, canonical_before)
  local merged = {}
  for i, g in ipairs(group_findings(all, opts)) do
    merged[i] = merge_group(g)
  end
  table.sort(merged, rank_before)
  return merged, rejected
end

-- Output ---------------------------------------------------------------------------------------

local function check_merged(merged, fname)
  if type(merged) ~= "table" then
    errors.raise("bad_argument", fname .. ": expected the list combine() returned, got " .. type(merged), nil, 3)
  end
end

local function location(f)
  if not f.line then
    return f.file
  end
  return f.file .. ":" .. f.line .. (f.line_end and ("-" .. f.line_end) or "")
end

-- "correctness/codex" for a source; the worker's name when it has no lens.
local function source_label(s)
  local name = s.lens or s.worker
  if s.runner and s.runner ~= name then
    name = name .. "/" .. s.runner
  end
  return name
end

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end

-- A fence longer than any run of backticks in the text.
local function fenced(text)
  local longest = 2
  for run in text:gmatch("`+") do
    longest = math.max(longest, #run)
  end
  local fence = ("`"):rep(longest + 1)
  return fence .. "text\n" .. text .. "\n" .. fence
end

local function worker_total(merged, workers)
  if type(workers) == "number" then
    return workers
  elseif type(workers) == "table" then
    return #workers
  end
  local seen, n = {}, 0
  for _, f in ipairs(merged) do
    for _, s in ipairs(f.sources) do
      if not seen[s.worker] then
        seen[s.worker] = true
        n = n + 1
      end
    end
  end
  return n
end

local function summary_line(merged, total)
  if #merged == 0 then
    return ("No findings from %s."):format(plural(total, "worker"))
  end
  local count = {}
  for _, f in ipairs(merged) do
    count[f.severity] = (count[f.severity] or 0) + 1
  end
  local parts = {}
  for _, s in ipairs(M.SEVERITIES) do
    if count[s] then
      parts[#parts + 1] = count[s] .. " " .. s
    end
  end
  return ("%s from %s: %s."):format(plural(#merged, "finding"), plural(total, "worker"), table.concat(parts, ", "))
end

local function finding_md(f, total)
  local out = { ("### [%s] %s — %s"):format(f.severity:upper(), location(f), f.claim), "" }
  local labels, seen = {}, {}
  for _, s in ipairs(f.sources) do
    if not seen[s.worker] then
      seen[s.worker] = true
      labels[#labels + 1] = source_label(s)
    end
  end
  out[#out + 1] = ("Agreement: %d of %s (%s)"):format(f.agreement, plural(total, "worker"), table.concat(labels, ", "))
  if f.category then
    out[#out + 1] = "Category: " .. f.category
  end
  if f.evidence then
    out[#out + 1] = ""
    out[#out + 1] = "Evidence:"
    out[#out + 1] = ""
    out[#out + 1] = fenced(f.evidence)
  end
  if #f.suggestions > 0 then
    out[#out + 1] = ""
    out[#out + 1] = #f.suggestions == 1 and "Suggestion:" or "Suggestions:"
    out[#out + 1] = ""
    for _, s in ipairs(f.suggestions) do
      out[#out + 1] = "- " .. s:gsub("\n", "\n  ")
    end
  end
  local text = table.concat(out, "\n")
  return text:sub(-1) == "\n" and text or text .. "\n"
end

---A markdown report of merged findings: a title, a summary line (N findings from M workers,
---counts per severity), then one section per finding. Only the normalised fields are written.
---@param merged table[]  from combine()
---@param opts? {title?: string, workers?: integer|string[], rejected?: integer|table[]}
---  workers: how many workers ran (default: the distinct workers in the sources, which misses a
---  worker that found nothing); rejected: how many findings combine() dropped (or its list)
---@return string
function M.report_md(merged, opts)
  check_merged(merged, "merge.report_md")
  opts = opts or {}
  local total = worker_total(merged, opts.workers)
  local parts = { "# " .. (opts.title or "Merged findings") .. "\n\n" .. summary_line(merged, total) .. "\n" }
  local rejected = type(opts.rejected) == "table" and #opts.rejected or opts.rejected
  if rejected and rejected > 0 then
    parts[1] = parts[1] .. plural(rejected, "malformed finding") .. " dropped.\n"
  end
  for _, f in ipairs(merged) do
    parts[#parts + 1] = finding_md(f, total)
  end
  return table.concat(parts, "\n")
end

local function or_null(v)
  if v == nil then
    return json.null
  end
  return v
end

---The merged findings as JSON data: every key present (json.null when absent), lists marked as
---arrays so an empty one stays `[]`.
---@param merged table[]  from combine()
---@return table
function M.to_json(merged)
  check_merged(merged, "merge.to_json")
  local out = json.array({})
  for i, f in ipairs(merged) do
    local sources = json.array({})
    for j, s in ipairs(f.sources) do
      sources[j] = json.object({
        worker = or_null(s.worker), lens = or_null(s.lens), runner = or_null(s.runner), run_id = or_null(s.run_id),
        severity = s.severity, claim = s.claim,
      })
    end
    local suggestions = json.array({})
    for j, s in ipairs(f.suggestions) do
      suggestions[j] = s
    end
    out[i] = json.object({
      file = f.file, line = or_null(f.line), line_end = or_null(f.line_end), severity = f.severity,
      claim = f.claim, evidence = or_null(f.evidence), suggestions = suggestions, category = or_null(f.category),
      agreement = f.agreement, sources = sources,
    })
  end
  return out
end

return M
