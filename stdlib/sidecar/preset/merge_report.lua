--- Merged findings written out: a markdown report for people (report_md) and JSON data for
--- --json (to_json). Only the normalised fields of what sidecar.preset.merge's combine() returned
--- are written, never a worker's raw text. The public names are merge.report_md and merge.to_json
--- (the same functions).
local errors = require("sidecar.core.errors")
local finding = require("sidecar.preset.finding")
local json = require("sidecar.core.json")

local M = {}

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
  for _, s in ipairs(finding.SEVERITIES) do
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

---Options of report_md; every one is optional.
---@class sidecar.MergeReportOptions
---@field title? string  the report's heading, after "# " (default "Merged findings")
---@field workers? integer|string[]  how many workers ran, or their names: the "of N workers" of the
---  summary and of each finding's agreement. Default: the distinct workers named in the sources,
---  which misses a worker that found nothing, so give it when you know it.
---@field rejected? integer|table[]  how many findings combine() could not use, or its `rejected`
---  list; when above 0 the report says "N malformed findings dropped." under the summary
---  (default: nothing said).

---A markdown report of merged findings: a title, a summary line ("5 findings from 3 workers:
---1 critical, 4 low."), then one section per finding in the merged order, with its location,
---severity, claim, agreement (which lenses and runners reported it), category, evidence (fenced)
---and suggestions. Only the normalised fields are written.
---@param merged table[]  the merged findings, as combine() returned them (raises when not a table)
---@param opts? sidecar.MergeReportOptions
---@return string markdown  ends with a newline
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
