--- Delegation prompts for worker agents, after the codex-orchestration skill: a Context Pack, a
--- worker preamble that begins with the line `CONTEXT: WORKER`, four templates (reviewer,
--- research, implementer, verifier) and a lint for finished prompts.
---
---   local prompt_kit = require("sidecar.prompt.kit")
---   local text, budget = prompt_kit.compile("reviewer", {
---     goal = "The CRLF change in src/parse.c is correct and tested.",
---     non_goals = { "Style nits" }, constraints = { "C99 only" },
---     pointers = { "src/parse.c", "tests/parse_test.c" }, prior_decisions = { "CR alone stays an error" },
---     success_check = "Every finding names a file and line.",
---     inputs = { "git diff main", "src/" }, edits_allowed = false,
---     output_path = ".agent/sidecars/t1/output.md", output_format = "Markdown with a JSON block",
---     escalate_when = { "the change needs a design decision" },
---     privacy = prompt_kit.DEFAULT_PRIVACY, lens = "correctness", target = 1200, max = 1500,
---   })
---   for _, w in ipairs(prompt_kit.lint(text)) do print(w.code, w.message) end
---
--- Pieces, for presets that add their own sections:
---   prompt_kit.context_pack(p)            -- sections: Goal … Success check
---   prompt_kit.worker_preamble(o)         -- text: CONTEXT: WORKER, ROLE, RULES, EDITS, INPUTS, OUTPUT …
---   prompt_kit.template(kind, o)          -- sections, {header, target, max} for prompt.compile
---   prompt_kit.insert_sections(sections, {before = "Lens"}, { {title = "Diff", content = d} })
---
--- A template's sections, in order: the Context Pack (Goal, Non-goals, Constraints, Pointers, Prior
--- decisions, Success check), Lens (reviewer, when given), Do, Do not, Output format. The preamble
--- is the header, so it is never trimmed: it carries the boundaries (edits, inputs, output,
--- escalation, privacy). Empty sections and preamble lines for missing fields are left out, which
--- is what lets `lint` notice them. Reviewer, research and verifier are read-only unless
--- `edits_allowed = true`; an implementer states nothing about edits until told.
---
--- Lint: see `lint` below for the headings and phrases each check accepts.
local prompt = require("sidecar.prompt.compile")
local text_lines = require("sidecar.core.text")
local option_keys = require("sidecar.core.option_keys")

local M = {}

---The template kinds.
M.KINDS = { "implementer", "research", "reviewer", "verifier" }

---Severities of a reviewer finding, most serious first.
M.SEVERITIES = { "critical", "high", "medium", "low" }

---A privacy boundary to pass as `privacy` when there is nothing more specific to say.
M.DEFAULT_PRIVACY = "Do not copy raw private logs, secrets, credentials or unrelated conversation "
  .. "text into your output or into any file; quote only the lines a claim needs."

-- Argument helpers ------------------------------------------------------------------------------

-- A list field: nil is empty, a string is one item, a table is taken as it is.
local function as_list(v, name)
  if v == nil then
    return {}
  elseif type(v) == "string" then
    return v ~= "" and { v } or {}
  end
  assert(type(v) == "table", ("prompt_kit: %s must be a string or a list"):format(name))
  return v
end

local function as_text(v, name)
  assert(v == nil or type(v) == "string", ("prompt_kit: %s must be a string"):format(name))
  if v == "" then
    return nil
  end
  return v
end

local function bullets(items)
  local out = {}
  for i, v in ipairs(items) do
    out[i] = "- " .. tostring(v)
  end
  return table.concat(out, "\n")
end

-- The Context Pack ------------------------------------------------------------------------------

---The Context Pack as prompt sections: Goal and Success check required, Non-goals kept whole
---(they are the guard rails), Constraints and Pointers cut from the end when over budget,
---Prior decisions cut and, under the strict pass, dropped.
---@param p table {goal, non_goals, constraints, pointers, prior_decisions, success_check}; lists may be a string
---@return table sections
function M.context_pack(p)
  assert(type(p) == "table", "prompt_kit.context_pack: expected a table")
  local success = p.success_check
  local success_sec = { title = "Success check", required = true }
  if type(success) == "table" then
    success_sec.list, success_sec.trim = success, "keep"
  else
    success_sec.content = as_text(success, "success_check")
  end
  return {
    { title = "Goal", content = as_text(p.goal, "goal"), required = true },
    { title = "Non-goals", list = as_list(p.non_goals, "non_goals"), trim = "keep" },
    { title = "Constraints", list = as_list(p.constraints, "constraints"), trim = "trim-last", limit = 10,
      strict_limit = 6, label = "constraints" },
    { title = "Pointers", list = as_list(p.pointers, "pointers"), trim = "trim-last", limit = 12, strict_limit = 5,
      label = "pointers" },
    { title = "Prior decisions", list = as_list(p.prior_decisions, "prior_decisions"), trim = "drop", limit = 6,
      strict_limit = 3, label = "decisions" },
    success_sec,
  }
end

-- The worker preamble ---------------------------------------------------------------------------

local function edits_line(allowed)
  if allowed == true then
    return "EDITS: allowed. Change only what this task needs and leave everything else as it is."
  elseif allowed == false then
    return "EDITS: none; this run is read-only. Create, change or delete no files; describe a change instead of making it."
  end
  assert(allowed == nil, "prompt_kit: edits_allowed must be a boolean")
end

local PREAMBLE_FIELDS = { "role", "edits_allowed", "inputs", "output_path", "output_format", "escalate_when",
  "privacy" }

---The worker preamble: the line `CONTEXT: WORKER`, then the role and the boundaries, one labelled
---line (or block) each. Lines whose field is missing are left out; another field raises a
---bad_option error.
---@param o table {role, edits_allowed, inputs, output_path, output_format, escalate_when, privacy}
---@return string
function M.worker_preamble(o)
  o = o or {}
  assert(type(o) == "table", "prompt_kit.worker_preamble: expected a table")
  option_keys.check("prompt_kit.worker_preamble", o, PREAMBLE_FIELDS, 2)
  local role = as_text(o.role, "role") or "worker"
  local lines = {
    "CONTEXT: WORKER",
    ("ROLE: %s. An orchestrator started you for this one task and reads your final message; it makes "
      .. "the decisions, you do the legwork."):format(role),
    "RULES: Do only this task: nothing beyond it, no other workers or sub-agents, no commits, pushes, "
      .. "tags or releases.",
  }
  lines[#lines + 1] = edits_line(o.edits_allowed)
  local inputs = as_list(o.inputs, "inputs")
  if #inputs > 0 then
    lines[#lines + 1] = "INPUTS: you may inspect these and nothing else:\n" .. bullets(inputs)
  end
  local path = as_text(o.output_path, "output_path")
  if path then
    lines[#lines + 1] = ("OUTPUT PATH: %s (your final message is saved there, so put the whole result in it)")
      :format(path)
  end
  local format = as_text(o.output_format, "output_format")
  if format then
    lines[#lines + 1] = "OUTPUT FORMAT: " .. format
  end
  local escalate = as_list(o.escalate_when, "escalate_when")
  if #escalate > 0 then
    lines[#lines + 1] = "ESCALATE: instead of guessing, stop and report with [BLOCKED] or [QUESTION] when\n"
      .. bullets(escalate)
  end
  local privacy = as_text(o.privacy, "privacy")
  if privacy then
    lines[#lines + 1] = "PRIVACY: " .. privacy
  end
  return table.concat(lines, "\n")
end

-- The templates ---------------------------------------------------------------------------------

local function fenced_json(example)
  return "```json\n" .. example .. "\n```"
end

-- Each kind: its role, whether it is read-only unless told otherwise, the one-line format of the
-- preamble, what to do and not do, and the Output format section.
local KIND = {
  reviewer = {
    role = "reviewer: you read the work and report what is wrong with it",
    read_only = true,
    format = "Markdown notes, then one JSON block of findings (see Output format)",
    lens = true,
    ["do"] = {
      "Read the work the Goal names, starting from the Pointers, and judge it against the Success check.",
      "Rank findings by impact, most serious first; leave out nitpicks that change nothing.",
      "Back every finding with evidence you saw: a file and line, a quoted snippet or a command's output.",
    },
    do_not = { "Fix what you find; report it with a suggestion.", "Report a finding you cannot point to." },
    output = table.concat({
      "A few lines of overview if they help, then exactly one fenced JSON block and nothing after it:",
      "",
      fenced_json('{"findings": [\n  {"file": "src/parse.c", "line": 42, "severity": "high",\n'
        .. '   "claim": "what is wrong", "evidence": "what you saw that shows it",\n'
        .. '   "suggestion": "how to fix it"}\n]}'),
      "",
      "`severity` is one of " .. table.concat(M.SEVERITIES, ", ") .. ". `line` is a number, or null when "
        .. "the finding is about a whole file. An empty list means nothing worth reporting.",
    }, "\n"),
  },
  research = {
    role = "researcher: you find reliable information and summarise it with its sources",
    read_only = true,
    format = "Markdown: Summary, Sources, Uncertainty (see Output format)",
    ["do"] = {
      "Prefer primary sources: official documentation, specifications, source code, maintainers' own words.",
      "Give a source for every claim, with its version or date when that matters.",
      "Note where sources disagree and what is still unknown.",
    },
    do_not = { "Claim more than the sources support; mark a guess as a guess.",
      "Pad the summary with background the Goal does not need." },
    output = table.concat({
      "Markdown in three parts:",
      "",
      "- `## Summary`: 5 to 10 bullets, each ending with the sources it rests on, as [1], [2].",
      "- `## Sources`: a numbered list: title or path, address, one line on why it matters.",
      "- `## Uncertainty`: disagreements, gaps, and what would settle them.",
    }, "\n"),
  },
  implementer = {
    role = "implementer: you make the change the Goal describes",
    read_only = false,
    format = "a short report, then the markers listed under Output format",
    ["do"] = {
      "Follow the Context Pack: keep to the Constraints and the Prior decisions.",
      "Make the change in proportion to the request, in the style of the code around it.",
      "Run the Success check yourself before you report, when you can.",
    },
    do_not = { "Drift into unrelated improvements, refactors or reformatting.",
      "Report the work as done when part of it is not." },
    output = table.concat({
      "Your final message, in this order:",
      "",
      "1. What you changed and why, briefly.",
      "2. How to check it: the commands to run.",
      "3. Risks and follow-ups, if any.",
      "",
      "Then these markers, each at the start of its own line:",
      "",
      "- `[PROGRESS] text` for a step done (optional)",
      "- `[FILES_MODIFIED]`, then one `- path (created|modified|deleted)` line for every file you changed",
      "- `[BLOCKED] reason`, then lines of context, when you could not finish",
      "- `[QUESTION] question`, then `Options:` and numbered lines, when a decision is needed",
      "- `[CODEX_COMPLETE] summary`, only when the task is done and nothing is blocked",
    }, "\n"),
  },
  verifier = {
    role = "verifier: you check whether the work meets the Goal and the Success check",
    read_only = true,
    format = "Markdown notes, then one JSON block with the verdict (see Output format)",
    ["do"] = {
      "Run the checks that apply (tests, builds, linters, reference checks) and note each with its result.",
      "Look for omissions and regressions too, not only for what the Success check names.",
      "Give steps to reproduce every issue.",
    },
    do_not = { "Count a check as passed when you did not run it.", "Soften a failure into a suggestion." },
    output = table.concat({
      "Notes if they help, then exactly one fenced JSON block and nothing after it:",
      "",
      fenced_json('{"verdict": "fail",\n'
        .. ' "checks": [{"name": "unit tests", "command": "make test", "result": "fail",\n'
        .. '             "detail": "2 of 40 failed"}],\n'
        .. ' "issues": [{"claim": "what is wrong", "repro": "how to see it", "suggestion": "how to fix it"}]}'),
      "",
      "`verdict` is pass only when every check you ran passed and no issue stands between the work and "
        .. "the Goal; otherwise fail. `result` of a check is pass, fail or skipped (say why in `detail`).",
    }, "\n"),
  },
}

local function lens_text(lens)
  local lenses = as_list(lens, "lens")
  if #lenses == 0 then
    return nil
  end
  local names = #lenses == 1 and lenses[1] or table.concat(lenses, ", ", 1, #lenses - 1) .. " and " .. lenses[#lenses]
  return ("Review through the %s lens: look for problems of that kind first; mention others only when "
    .. "they are serious."):format(names)
end

-- The task fields of a template (and of compile).
local TEMPLATE_FIELDS = { "goal", "non_goals", "constraints", "pointers", "prior_decisions", "success_check",
  "inputs", "edits_allowed", "output_path", "output_format", "escalate_when", "privacy", "lens", "target", "max" }

---The sections of a template and the options to compile them with. A field not in this list
---raises a bad_option error.
---@param kind string "reviewer" | "research" | "implementer" | "verifier"
---@param o table task fields: goal, non_goals, constraints, pointers, prior_decisions, success_check,
---  inputs, edits_allowed, output_path, output_format, escalate_when, privacy, lens, target, max
---@return table|nil sections
---@return table|string opts {header, target, max} for prompt.compile, or the message for an unknown kind
function M.template(kind, o)
  o = o or {}
  assert(type(o) == "table", "prompt_kit.template: expected a table of task fields")
  option_keys.check("prompt_kit.template", o, TEMPLATE_FIELDS, 2)
  local k = KIND[kind]
  if not k then
    return nil, ("prompt_kit: unknown template kind %s (kinds: %s)"):format(tostring(kind),
      table.concat(M.KINDS, ", "))
  end
  local edits = o.edits_allowed
  if edits == nil and k.read_only then
    edits = false
  end
  local header = M.worker_preamble({
    role = k.role, edits_allowed = edits, inputs = o.inputs, output_path = o.output_path,
    output_format = as_text(o.output_format, "output_format") or k.format, escalate_when = o.escalate_when,
    privacy = o.privacy,
  })
  local sections = M.context_pack(o)
  if k.lens then
    sections[#sections + 1] = { title = "Lens", content = lens_text(o.lens) }
  end
  sections[#sections + 1] = { title = "Do", list = k["do"], trim = "keep" }
  sections[#sections + 1] = { title = "Do not", list = k.do_not, trim = "keep" }
  sections[#sections + 1] = { title = "Output format", content = k.output, required = true }
  return sections, { header = header, target = o.target, max = o.max }
end

---A template compiled: the prompt text and its budget (see prompt.compile), or nil and a message
---for an unknown kind. `o`: the task fields of prompt_kit.template (another raises a bad_option error).
---@return string|nil text
---@return table|string budget_or_message
function M.compile(kind, o)
  option_keys.check("prompt_kit.compile", o, TEMPLATE_FIELDS, 2)
  local sections, opts = M.template(kind, o)
  if not sections then
    return nil, opts
  end
  return prompt.compile(sections, opts)
end

---Puts a preset's own sections into a template's `sections` by name, in the order given: right
---before the section titled `at.before`, or right after the one titled `at.after`. Raises when no
---section has that title. Returns `sections`, changed in place.
function M.insert_sections(sections, at, list)
  local name = at.before or at.after
  for i, sec in ipairs(sections) do
    if sec.title == name then
      for j, new in ipairs(list) do
        table.insert(sections, (at.before and i or i + 1) + j - 1, new)
      end
      return sections
    end
  end
  error(("prompt_kit.insert_sections: no section titled %s"):format(tostring(name)), 2)
end

-- The lint --------------------------------------------------------------------------------------
--
-- A check passes when the prompt has one of its headings with something under it, or contains one
-- of its phrases. Headings are Markdown headings (`## Goal`) and labels at the start of a line
-- (`GOAL: …`, `**Goal:** …`), compared in lower case without punctuation around them; a label
-- counts when text follows it on its line or on the next. Phrases are Lua patterns matched against
-- the lower-cased text outside headings. Fenced code blocks are ignored, so an example in a prompt
-- proves nothing.
-- The markers ([BLOCKED], [QUESTION]) are a format, not escalation criteria, and do not count.

local CHECKS = {
  { code = "goal",
    headings = { "goal", "goals", "objective", "task", "task goal" },
    phrases = { "your goal is", "the goal is" },
    message = "no goal: say what the worker should achieve and what good looks like (a Goal section)" },
  { code = "non_goals",
    headings = { "non-goals", "non goals", "nongoals", "out of scope", "not in scope" },
    phrases = { "non%-goal", "out of scope", "not in scope" },
    message = "no non-goals: say what the worker should leave alone (a Non-goals section)" },
  { code = "inputs",
    headings = { "allowed inputs", "inputs", "read these first", "files to read", "may read", "may inspect" },
    phrases = { "allowed inputs", "you may inspect", "you may read", "may only read", "inspect only" },
    message = "no allowed inputs: list the files, folders and commands the worker may look at" },
  { code = "edits",
    headings = { "edits", "edits allowed", "edit scope", "write access" },
    phrases = { "read%-only", "edits are allowed", "edits allowed", "you may edit", "you may change",
      "you may modify", "do not edit", "must not edit", "no edits" },
    message = "no statement whether edits are allowed: say read-only, or which files the worker may change" },
  { code = "output" }, -- path and format, see output_warning
  { code = "escalation",
    headings = { "escalate", "escalation", "escalate when", "escalation criteria", "when to stop",
      "when to escalate" },
    phrases = { "escalat", "stop and ask", "stop and report", "stop and say so" },
    message = "no escalation criteria: say when the worker should stop and hand back instead of guessing" },
  { code = "privacy",
    headings = { "privacy", "privacy boundary", "data handling", "confidentiality" },
    phrases = { "privacy", "confidential", "personal data", "%f[%w]pii%f[%W]" },
    message = "no privacy boundary: say what must not be copied into output or files (raw logs, secrets, "
      .. "unrelated conversation)" },
}

local OUTPUT_PATH = {
  headings = { "output path", "output file", "output location", "write to", "save to" },
  phrases = { "output path", "write the result to", "write your result to", "write your output to",
    "save the result to", "save your result to", "output file" },
}
local OUTPUT_FORMAT = {
  headings = { "output format", "output", "format", "response format", "final response format", "output schema",
    "return format" },
  phrases = { "output format", "response format", "respond with", "reply with", "in this format" },
}

local function set(list)
  local s = {}
  for _, v in ipairs(list) do
    s[v] = true
  end
  return s
end

for _, c in ipairs(CHECKS) do
  c.heading_set = set(c.headings or {})
end
OUTPUT_PATH.heading_set, OUTPUT_FORMAT.heading_set = set(OUTPUT_PATH.headings), set(OUTPUT_FORMAT.headings)

local function normalize(name)
  name = name:lower():gsub("^%d+[%.%)]%s*", ""):gsub("[%*_`:]", ""):gsub("%s+", " ")
  return (name:gsub("^ ", ""):gsub(" $", ""))
end

-- The prompt outside fenced code blocks: its lines, and the set of headings with something under them.
local function read(text)
  local lines, fenced = {}, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*```") or line:match("^%s*~~~") then
      fenced = not fenced
    elseif not fenced then
      lines[#lines + 1] = line
    end
  end
  local headings, body = {}, {}
  local function blank(i)
    return lines[i] == nil or lines[i]:match("^%s*$") ~= nil
  end
  for i, line in ipairs(lines) do
    local _, md = text_lines.heading(line) -- linear: "(.-)%s*$" is quadratic on a run of blanks
    if md then
      local j = i + 1
      while blank(j) and j <= #lines do
        j = j + 1
      end
      if lines[j] and not lines[j]:match("^%s*#+%s") then
        headings[normalize(md)] = true
      end
    else
      local label, rest = line:match("^%s*[%*_]*([%a][%w %-/']*)[%*_]*:[%*_]*(.*)$")
      rest = rest and text_lines.trim(rest)
      if label and #label <= 40 and (rest ~= "" or not blank(i + 1)) then
        headings[normalize(label)] = true
      end
      -- An empty label is an empty heading: its words prove nothing.
      if not (label and #label <= 40 and rest == "") then
        body[#body + 1] = line
      end
    end
  end
  return table.concat(body, "\n"):lower(), headings
end

local function found(rule, body, headings)
  for name in pairs(headings) do
    if rule.heading_set[name] then
      return true
    end
  end
  for _, pattern in ipairs(rule.phrases) do
    if body:find(pattern) then
      return true
    end
  end
  return false
end

local function output_warning(body, headings)
  local path, format = found(OUTPUT_PATH, body, headings), found(OUTPUT_FORMAT, body, headings)
  if path and format then
    return nil
  end
  local what = (not path and not format) and "no output path or format" or not path and "no output path"
      or "no output format"
  return what .. ": say where the result goes (a file, or the final message) and in what shape"
end

---Warnings for a finished prompt text, in a fixed order: goal, non_goals, inputs, edits, output,
---escalation, privacy. Each is {code, message}; none means the prompt states all seven.
---@param text string
---@return table warnings
function M.lint(text)
  assert(type(text) == "string", "prompt_kit.lint: expected the prompt text")
  local body, headings = read(text)
  local warnings = {}
  for _, c in ipairs(CHECKS) do
    local message
    if c.code == "output" then
      message = output_warning(body, headings)
    elseif not found(c, body, headings) then
      message = c.message
    end
    if message then
      warnings[#warnings + 1] = { code = c.code, message = message }
    end
  end
  return warnings
end

---The warnings for people: one line each, or a line saying there are none.
---@param warnings table from lint
---@return string
function M.lint_text(warnings)
  assert(type(warnings) == "table", "prompt_kit.lint_text: expected the warnings of lint")
  if #warnings == 0 then
    return "prompt lint: no warnings"
  end
  local lines = { ("prompt lint: %d warning%s"):format(#warnings, #warnings == 1 and "" or "s") }
  for _, w in ipairs(warnings) do
    lines[#lines + 1] = ("  %s: %s"):format(w.code, w.message)
  end
  return table.concat(lines, "\n")
end

return M
