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
--- This module is the public face of three: one finding read and normalised (normalise, severity,
--- path, similarity: sidecar.preset.finding), combining (combine, here) and writing the result
--- (report_md, to_json: sidecar.preset.merge_report).
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
local finding = require("sidecar.preset.finding")
local json = require("sidecar.core.json")
local option_keys = require("sidecar.core.option_keys")
local report = require("sidecar.preset.merge_report")

local M = {}

-- One finding (sidecar.preset.finding) and the output (sidecar.preset.merge_report), re-exported.
M.SEVERITIES = finding.SEVERITIES
M.SEVERITY_RANK = finding.SEVERITY_RANK
M.SEVERITY_SYNONYMS = finding.SEVERITY_SYNONYMS
M.similarity = finding.similarity
M.severity = finding.severity
M.path = finding.path
M.normalise = finding.normalise
M.report_md = report.report_md
M.to_json = report.to_json

---combine's default opts.similarity: the Jaccard index at which two claims are the same.
M.DEFAULT_SIMILARITY = 0.6
---combine's default opts.line_window: how many lines apart two findings may be and still merge.
M.DEFAULT_LINE_WINDOW = 0

local SEVERITY_RANK = finding.SEVERITY_RANK
local canonical = finding.canonical

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
  local ra, rb = SEVERITY_RANK[a.severity], SEVERITY_RANK[b.severity]
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
  local sim = finding.similarity(a.claim, b.claim)
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
    local rf, rb = SEVERITY_RANK[f.severity], SEVERITY_RANK[best.severity]
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
  local ra, rb = SEVERITY_RANK[a.severity], SEVERITY_RANK[b.severity]
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
  local ra, rb = SEVERITY_RANK[a.severity], SEVERITY_RANK[b.severity]
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

local COMBINE_OPTIONS = { "similarity", "line_window" }

local function check_opts(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    errors.raise("bad_argument", "merge.combine: opts must be a table, got " .. type(opts), nil, 3)
  end
  option_keys.check("merge.combine", opts, COMBINE_OPTIONS, 3)
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

---Options of combine; every one is optional, and a bad value raises bad_argument (another option,
---bad_option).
---@class sidecar.MergeOptions
---@field similarity? number  in (0, 1], default M.DEFAULT_SIMILARITY (0.6): the Jaccard index of
---  two claims' word sets at or above which they are one claim. Lower merges more loosely worded
---  reports; 1 merges only claims with the same words. Claims equal after canonicalising (case,
---  punctuation, whitespace) always merge.
---@field line_window? integer  >= 0, default M.DEFAULT_LINE_WINDOW (0): how many lines apart two
---  findings in one file may be and still merge (the merged one spans them). 0: the same line
---  only. Findings without a line merge only with findings without a line.

---One list of a worker's findings, as combine reads it.
---@class sidecar.MergeList
---@field provenance? {worker?: string, lens?: string, runner?: string, run_id?: string, root?: string}
---  who found them, copied into every finding's sources (root: the worker's work tree, stripped
---  from absolute paths). Without worker, the worker is called "worker N" (N: its place in lists).
---@field findings? table[]  the worker's findings as decoded from its answer; nil or null is none,
---  anything else that is not a list is one `rejected` entry

---Merges the findings of several workers into one ranked list (see the header for the rules).
---Malformed findings are not errors: they come back in `rejected`, each {worker, index, why}
---(index nil when the whole list was unusable).
---@param lists sidecar.MergeList[]  one per worker
---@param opts? sidecar.MergeOptions
---@return table[] merged  ranked: severity, agreement, file, line, claim
---@return {worker: string, index: integer|nil, why: string}[] rejected
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
    local prov = finding.check_provenance(list.provenance, "merge.combine")
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
      local got = type(findings) == "table" and "an object" or finding.describe(findings)
      rejected[#rejected + 1] = { worker = p.worker, why = "findings: expected a list, got " .. got }
      findings = {}
    end
    for j, raw in ipairs(findings) do
      local f, why = finding.normalise(raw, p)
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

return M
