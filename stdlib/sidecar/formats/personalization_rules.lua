--- The deterministic half of the personalization-scanner preset (docs/formats.md §3): reading the
--- listed inputs safely, and the writeback policy. The format itself (template, parser, spec,
--- report) is sidecar.formats.personalization. The agent only proposes; nothing here writes
--- memory or any target file.
---
---   local files, why = rules.read_inputs(".", { "notes/*.md", "AGENTS.md" })
---   local plan = rules.plan(report, files, { target = "" })   -- report: personalization.parse, checked
---   io.write(personalization.render(plan, files))
---
--- Inputs: a path or a glob (`*`, `?`, `[...]`, `**`; relative to the repository, or absolute),
--- matched files in sorted order, each read once. A secret file (secrets.is_secret_file), a path
--- that does not exist, a glob that matches nothing and a file that is not text are refused.
--- Each file is cut at personalization.MAX_INPUT_BYTES (at a line end) and redacted
--- (secrets.redact); more than personalization.MAX_TOTAL_BYTES in all is refused (list fewer files).
---
--- The writeback policy ("write back automatically only what the user stated or what is
--- repeated in at least two artifacts"). A row of Recommended Writeback is written only when the
--- agent's action is write and
---   * confidence user-stated, and its Evidence names at least one of the inputs, or
---   * confidence repeated, and its Evidence names at least two different inputs.
--- An input is named when its path, or its file name, appears in the Evidence (any case). Every
--- other row is not written: scope discard or action reject is rejected; action defer stays
--- deferred; promote is deferred (promoting to a public skill is a person's decision); a write
--- the policy refuses becomes defer, with the reason in Deferred.
local artifact = require("sidecar.core.artifact")
local personalization = require("sidecar.formats.personalization")
local secrets = require("sidecar.core.secrets")

local M = {}

-- Inputs -----------------------------------------------------------------------------------------

local function is_glob(s)
  return s:find("[*?%[]") ~= nil
end

-- A glob's folder (the components before the first with a wildcard) and the rest.
local function glob_parts(repo, glob)
  local absolute = glob:sub(1, 1) == "/"
  local fixed, rest, wild = {}, {}, false
  for part in glob:gmatch("[^/]+") do
    wild = wild or is_glob(part)
    if wild then
      rest[#rest + 1] = part
    else
      fixed[#fixed + 1] = part
    end
  end
  local prefix = table.concat(fixed, "/")
  local dir = absolute and ("/" .. prefix) or (prefix == "" and repo or (repo .. "/" .. prefix))
  return dir, prefix, table.concat(rest, "/"), absolute
end

local function expand(repo, input)
  if not is_glob(input) then
    return { input }
  end
  local dir, prefix, pattern, absolute = glob_parts(repo, input)
  local d = artifact.open(dir)
  local found = d and d:list(pattern) or {}
  if d then
    d:close()
  end
  local out = {}
  for i, p in ipairs(found) do
    out[i] = prefix == "" and p or ((absolute and "/" or "") .. prefix .. "/" .. p)
  end
  return out
end

local function full_path(repo, path)
  return path:sub(1, 1) == "/" and path or (repo .. "/" .. path)
end

local read_all = require("sidecar.core.files").read

local function cut(text, max)
  if #text <= max then
    return text, false
  end
  local head = text:sub(1, max)
  return head:match("^(.*\n)") or head, true
end

---The input files: {{path, text (cut and redacted), bytes (whole file), truncated, redactions}},
---or nil and why the inputs are refused.
---@param repo string
---@param inputs string[]  paths and globs
---@param opts? {max_input_bytes?: integer, max_total_bytes?: integer}
---@return table|nil files, string? why
function M.read_inputs(repo, inputs, opts)
  opts = opts or {}
  local max_one, max_all = opts.max_input_bytes or personalization.MAX_INPUT_BYTES,
    opts.max_total_bytes or personalization.MAX_TOTAL_BYTES
  if #inputs == 0 then
    return nil, "inputs: list the files (or globs) the scanner may read"
  end
  local files, seen, total = {}, {}, 0
  for _, input in ipairs(inputs) do
    local paths = expand(repo, input)
    if #paths == 0 then
      return nil, ("inputs: %s matched no file"):format(input)
    end
    for _, path in ipairs(paths) do
      local denied, why = secrets.is_secret_file(path)
      if denied then
        return nil, "inputs: refused: " .. why
      end
      if not seen[path] then
        seen[path] = true
        local raw, err = read_all(full_path(repo, path))
        if not raw then
          return nil, ("inputs: cannot read %s (%s)"):format(path, (tostring(err):gsub("^.*: ", "")))
        elseif raw:find("\0", 1, true) then
          return nil, ("inputs: %s is not a text file"):format(path)
        end
        local text, truncated = cut(raw, max_one)
        local redacted, count = secrets.redact(text)
        total = total + #redacted
        if total > max_all then
          return nil, ("inputs: more than %d bytes in all; list fewer or smaller files"):format(max_all)
        end
        files[#files + 1] = { path = path, text = redacted, bytes = #raw, truncated = truncated, redactions = count }
      end
    end
  end
  return files
end

-- The policy -------------------------------------------------------------------------------------

---The input paths an Evidence text names (by path or file name, any case), in input order.
---@param evidence string
---@param files {path: string}[]
---@return string[]
function M.evidence_inputs(evidence, files)
  local text, out = (evidence or ""):lower(), {}
  for _, f in ipairs(files) do
    local path = f.path:lower()
    local name = path:match("([^/]+)$")
    if text:find(path, 1, true) or text:find(name, 1, true) then
      out[#out + 1] = f.path
    end
  end
  return out
end

-- "write" or "defer" | "reject" with the reason and the evidence needed.
local function decide(row, files)
  if row.scope == "discard" or row.action == "reject" then
    return "reject", row.scope == "discard" and "scope discard" or "the scanner rejected it"
  elseif row.action == "defer" then
    return "defer", "the scanner deferred it", "what the scanner asked for"
  elseif row.action == "promote" then
    return "defer", "promoting to a public skill is a person's decision", "a person's approval"
  end
  local named = M.evidence_inputs(row.evidence, files)
  if row.confidence == "user-stated" and #named >= 1 then
    return "write", nil, nil, named
  elseif row.confidence == "repeated" and #named >= 2 then
    return "write", nil, nil, named
  elseif row.confidence == "repeated" or row.confidence == "user-stated" then
    local need = row.confidence == "repeated" and 2 or 1
    return "defer", ("writeback policy: %s, but the evidence names %d of the inputs (needs %d)"):format(
      row.confidence, #named, need), ("evidence naming %d input%s"):format(need, need == 1 and "" or "s")
  end
  return "defer", ("writeback policy: confidence %s is not enough to write"):format(tostring(row.confidence)),
    "the user stating it, or a second input showing it"
end

---The report with the policy applied: {recommended_writeback (action = the policy's), deferred
---(the scanner's, then those the policy deferred), reject, privacy_notes, writes = {{target,
---preference, scope, type, confidence, inputs}}}. opts.target, when not empty, replaces every
---Suggested target in the plan.
---@param report table  personalization.parse(text), checked
---@param files table  read_inputs
---@param opts? {target?: string}
---@return table
function M.plan(report, files, opts)
  opts = opts or {}
  local out = { recommended_writeback = {}, deferred = {}, reject = {}, privacy_notes = {}, writes = {} }
  for _, r in ipairs(report.deferred or {}) do
    out.deferred[#out.deferred + 1] = r
  end
  for _, r in ipairs(report.reject or {}) do
    out.reject[#out.reject + 1] = r
  end
  for _, n in ipairs(report.privacy_notes or {}) do
    out.privacy_notes[#out.privacy_notes + 1] = n
  end
  for _, row in ipairs(report.recommended_writeback or {}) do
    local action, reason, needed, named = decide(row, files)
    local copy = {}
    for k, v in pairs(row) do
      copy[k] = v
    end
    copy.action = row.action == "promote" and "promote" or action
    out.recommended_writeback[#out.recommended_writeback + 1] = copy
    local target = (opts.target and opts.target ~= "") and opts.target or row.suggested_target
    if action == "write" then
      out.writes[#out.writes + 1] = { target = target, preference = row.preference, scope = row.scope,
        type = row.type, confidence = row.confidence, inputs = named }
    elseif action == "reject" and row.action ~= "reject" then
      out.reject[#out.reject + 1] = { candidate = row.preference, reason_rejected = reason }
    elseif (action == "defer" and row.action == "write") or row.action == "promote" then
      out.deferred[#out.deferred + 1] = { candidate = row.preference, reason_deferred = reason,
        needed_evidence = needed }
    end
  end
  return out
end

return M
