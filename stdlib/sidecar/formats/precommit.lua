--- The precommit classification (docs/formats.md §2), written once: its fields, the template an
--- agent answers in, the parser of an answer, the spec that checks it, and the renderer of a
--- report. The rules that decide a change's path, and the report they make with an agent's words,
--- are sidecar.formats.precommit_rules.
---
---   local text = precommit.template()                          -- the bare skeleton, with hints
---   local prompt = precommit.template(fill, { bold = true })   -- fill: key -> text after the label
---   local answer = precommit.parse(agent_text)                 -- lenient on the surface
---   local ok, problems = schema.check(answer, precommit.SPEC)
---   io.write(precommit.render(report))                         -- reads back with precommit.parse
local errors = require("sidecar.core.errors")
local md = require("sidecar.formats.markdown")
local text_lines = require("sidecar.core.text")

local M = {}

local trim = text_lines.trim

M.TITLE = "Precommit Classification"

---The paths, lowest to highest: the highest that applies wins (Risk > Code > Skill > Fast).
M.PATHS = { "fast", "skill", "code", "risk" }
M.TITLES = { fast = "Fast", skill = "Skill", code = "Code", risk = "Risk" }
---"Risk > Code > Skill > Fast".
M.ORDER = (function()
  local titles = {}
  for i = #M.PATHS, 1, -1 do
    titles[#titles + 1] = M.TITLES[M.PATHS[i]]
  end
  return table.concat(titles, " > ")
end)()
M.CONFIDENCE = { "high", "medium", "low" }
M.REINSTALL = { "no", "specific", "full" }
---How an answer writes each value of "Reinstall needed".
M.REINSTALL_TEXT = { no = "no", specific = "yes, specific skills: <names>", full = "yes, full install" }
local REINSTALL_WORDS = {}
for i, r in ipairs(M.REINSTALL) do
  REINSTALL_WORDS[i] = M.REINSTALL_TEXT[r]
end

---The bullets of the report, in order: the field, its label, and the hint the bare template shows.
M.FIELDS = {
  { key = "path", label = "Path" },
  { key = "confidence", label = "Confidence", hint = table.concat(M.CONFIDENCE, "|") },
  { key = "changed_files", label = "Changed files" },
  { key = "why_this_path", label = "Why this path" },
  { key = "minimal_validation", label = "Minimal validation" },
  { key = "reinstall_needed", label = "Reinstall needed", hint = table.concat(REINSTALL_WORDS, " | ") },
  { key = "commit_scope_risk", label = "Commit scope risk" },
  { key = "blockers", label = "Blockers" },
  { key = "suggested_commit_message", label = "Suggested commit message" },
}

-- A label as the parser meets it (lowercased), and the two short forms agents use.
local LABELS = { ["why"] = "why_this_path", ["commit message"] = "suggested_commit_message" }
local LABEL_OF = {}
for _, f in ipairs(M.FIELDS) do
  LABELS[f.label:lower()] = f.key
  LABEL_OF[f.key] = f.label
end

---What the one re-prompt asks for (sidecar.preset.schema enforce).
M.REPLY = "Reply again with only the corrected `# " .. M.TITLE .. "` report, every bullet of the "
  .. "required format present, and no other text."

local function text_list()
  return { type = "array", items = { type = "string", non_empty = true } }
end

---The spec (sidecar.preset.schema's language) of a parsed answer: every field is required.
M.SPEC = {
  type = "object",
  fields = {
    path = { type = "enum", enum = M.PATHS, required = true },
    confidence = { type = "enum", enum = M.CONFIDENCE, required = true },
    changed_files = { type = "array", items = { type = "string", non_empty = true }, required = true },
    why_this_path = { type = "string", non_empty = true, required = true },
    minimal_validation = { type = "array", items = { type = "string", non_empty = true }, required = true },
    reinstall_needed = { type = "enum", enum = M.REINSTALL, required = true,
      what = 'one of "' .. table.concat(REINSTALL_WORDS, '", "') .. '"' },
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

-- Reading an answer ----------------------------------------------------------------------------

-- The bullets of the classification: key -> {value = first-line text, items = nested bullets,
-- more = other lines (fenced blocks included, without their fences)}.
local function bullets(text)
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
      local indent, rest = md.bullet(line)
      local label, value
      if indent == nil then
        label, value = md.label_value(line)
      elseif indent < 2 then
        label, value = md.label_value(rest)
      end
      local key = label and LABELS[label]
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
    s = md.plain(s)
    if not md.is_none(s) then
      out[#out + 1] = s
    end
  end
  if not md.is_none(b.value) then
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
  local v = md.plain(b.value):lower()
  if v:match("^no%f[%W]") or v == "no" then
    return "no"
  elseif v:find("full", 1, true) then
    return "full"
  elseif v:find("specific", 1, true) then
    local skills = {}
    local names = b.value:match(":%s*(.*)$")
    for part in (names or ""):gmatch("[^,]+") do
      if md.plain(part) ~= "" then
        skills[#skills + 1] = md.plain(part)
      end
    end
    for _, item in ipairs(b.items) do
      skills[#skills + 1] = md.plain(item)
    end
    return "specific", skills
  end
  return v
end

---An agent's §2 answer as fields that schema.check(value, M.SPEC) validates: lenient on the
---surface (bold labels, backticks, the case of enum words, a ```markdown wrapper), so the check
---reports only what is really missing or wrong; unknown bullets are ignored. Field names are the
---labels in snake_case; "Reinstall needed" becomes reinstall_needed = "no" | "specific" | "full"
---and, for "yes, specific skills: a, b", reinstall_skills = {"a", "b"}.
---@param text string
---@return table
function M.parse(text)
  if type(text) ~= "string" then
    errors.raise("bad_argument", "precommit.parse: expected a string, got " .. type(text), nil, 2)
  end
  local b = bullets(md.unwrap(text))
  local out = {}
  if b.path then
    out.path = md.enum_word(b.path.value, M.PATHS)
  end
  if b.confidence then
    out.confidence = md.enum_word(b.confidence.value, M.CONFIDENCE)
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
    out.suggested_commit_message = msg:find("\n") and msg or md.plain(msg)
  end
  return out
end


-- Writing a report ------------------------------------------------------------------------------

---The items of a list as nested bullets (`code` marks when `quote`), or " None." when empty.
---@param list string[]
---@param quote? boolean
---@return string
function M.list_md(list, quote)
  if #list == 0 then
    return " None."
  end
  local out = {}
  for _, item in ipairs(list) do
    out[#out + 1] = "\n  - " .. (quote and ("`" .. item .. "`") or item)
  end
  return table.concat(out)
end

-- A text value: its first line on the bullet, the others indented under it.
local function text_md(s)
  local lines = {}
  for line in (s .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("%S") then
      lines[#lines + 1] = line
    end
  end
  return " " .. table.concat(lines, "\n  ")
end

-- A commit message of several lines goes in a fenced block, so its blank lines survive.
local function message_md(s)
  if not s:find("\n") then
    return " " .. s
  end
  local fence = "```"
  while s:find(fence, 1, true) do
    fence = fence .. "`"
  end
  local lines = {}
  for line in (s .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line == "" and "" or ("  " .. line)
  end
  return "\n  " .. fence .. "\n" .. table.concat(lines, "\n") .. "\n  " .. fence
end

---The "Reinstall needed" value of a report: "no", "yes, specific skills: a, b" or "yes, full install".
---@param r table  a report (precommit_rules.rules_report or merge)
---@return string
function M.reinstall_text(r)
  if r.reinstall_needed == "specific" then
    local names = table.concat(r.reinstall_skills or {}, ", ")
    return (M.REINSTALL_TEXT.specific:gsub("<names>", function() return names end, 1))
  end
  return M.REINSTALL_TEXT[r.reinstall_needed] or M.REINSTALL_TEXT.no
end

---The text after each label for the fields a report has (" Fast", "\n  - `a.lua`", ...): what
---render writes, and what a prompt's template can be filled with.
---@param r table  a report in the field names of M.SPEC
---@return table<string, string>
function M.values(r)
  local v = {}
  v.path = r.path and (" " .. M.TITLES[r.path])
  v.confidence = r.confidence and (" " .. r.confidence)
  v.changed_files = r.changed_files and M.list_md(r.changed_files, true)
  v.why_this_path = r.why_this_path and text_md(r.why_this_path)
  v.minimal_validation = r.minimal_validation and M.list_md(r.minimal_validation, true)
  v.reinstall_needed = r.reinstall_needed and (" " .. M.reinstall_text(r))
  v.commit_scope_risk = r.commit_scope_risk and text_md(r.commit_scope_risk)
  v.blockers = r.blockers and M.list_md(r.blockers)
  v.suggested_commit_message = r.suggested_commit_message and message_md(r.suggested_commit_message)
  return v
end

local function bullet_lines(fill, opts)
  local out = { "# " .. M.TITLE }
  for _, f in ipairs(M.FIELDS) do
    local value = fill[f.key] or (not opts.only_filled and f.hint and (" " .. f.hint))
    if value or not opts.only_filled then
      local label = opts.bold and ("**" .. f.label .. ":**") or (f.label .. ":")
      out[#out + 1] = "- " .. label .. (value or "")
    end
  end
  return out
end

---The skeleton an agent answers in: the title, then a bullet per field in order. `fill[key]` is
---the text after a label (M.values gives a report's); a field without one shows its hint
---("high|medium|low") or nothing. No final newline.
---@param fill? table<string, string>
---@param opts? {bold?: boolean}  bold labels, as render writes them
---@return string
function M.template(fill, opts)
  return table.concat(bullet_lines(fill or {}, { bold = opts and opts.bold }), "\n")
end

---The §2 markdown of a report (precommit_rules.rules_report or merge); absent fields are left out.
---It reads back with M.parse.
---@param r table
---@return string
function M.render(r)
  return table.concat(bullet_lines(M.values(r), { bold = true, only_filled = true }), "\n") .. "\n"
end

-- A ruled field's value in a disagreement line: Fast; `a`, `b`; none.
local function value_text(key, v)
  if key == "path" then
    return M.TITLES[v] or tostring(v)
  elseif key == "minimal_validation" then
    if #v == 0 then
      return "none"
    end
    local steps = {}
    for i, s in ipairs(v) do
      steps[i] = "`" .. s .. "`"
    end
    return table.concat(steps, ", ")
  end
  return tostring(v)
end

---One line saying where the agent disagreed and what the rules decide instead:
---"Agent disagreed: it said Path Fast, Minimal validation none; the rules decide Path Risk, ...
---because .env touches credentials, security or release."
---@param d table  precommit_rules.disagreement()'s result
---@param run_id? string  the agent's run, named when given
---@return string
function M.disagreement_text(d, run_id)
  local said, decide = {}, {}
  for _, key in ipairs(d.fields) do
    said[#said + 1] = LABEL_OF[key] .. " " .. value_text(key, d.agent[key])
    decide[#decide + 1] = LABEL_OF[key] .. " " .. value_text(key, d.rules[key])
  end
  return ("Agent disagreed%s: it said %s; the rules decide %s, because %s."):format(
    run_id and (" (" .. run_id .. ")") or "", table.concat(said, ", "), table.concat(decide, ", "),
    (d.reason:gsub("%.$", "")))
end

return M
