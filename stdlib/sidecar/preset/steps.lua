--- Pieces the presets share (the orchestration patterns and the seed presets: triangulated-review,
--- precommit-classifier, personalization-scanner): a worker prompt for a role of their own,
--- answers checked in their format (JSON or markdown) with one re-prompt, markdown sections of an
--- answer, and the lines that say what ran (or, in a dry run, what would run and the exact command).
---
---   local steps = require("sidecar.preset.steps")
---   local text = steps.prompt("reviewer", fields, { {title = "Findings", content = md} })
---   local text = steps.prompt({ role = "scout: you map ...", ["do"] = {...}, do_not = {...},
---     output = "..." }, fields)                          -- a role prompt_kit has no template for
---   if steps.planned(r) then ... end                     -- dry run, or the CLI is missing
---   local answer, last = steps.json_answer(ctx, job, r, schema.formats.findings)
---   local answer, last = steps.answer(ctx, job, r, { format = "precommit" })   -- a markdown format
---   io.write(steps.plan_text(name, results))             -- what a dry run prints
local json = require("sidecar.core.json")
local markers = require("sidecar.agent.markers")
local option_keys = require("sidecar.core.option_keys")
local prompt = require("sidecar.prompt.compile")
local prompt_kit = require("sidecar.prompt.kit")
local schema = require("sidecar.preset.schema")
local text_lines = require("sidecar.core.text")

local M = {}

---Whether a step did not run: --dry-run, its runner's CLI is not installed (or the runner is
---unknown), or the budget could not cover it (not_started).
function M.planned(r)
  return r.status == "dry_run" or r.status == "not_run" or r.status == "not_started"
end

---Whether a step ran and its agent finished its work (status "review").
function M.done(r)
  return r.status == "review"
end

-- The sections and compile options for a custom role: the preamble, the Context Pack, Do, Do not
-- and Output format, as prompt_kit's templates have them.
local function custom(role, fields)
  local header = prompt_kit.worker_preamble({ role = role.role, edits_allowed = fields.edits_allowed == true,
    inputs = fields.inputs, output_path = fields.output_path, output_format = role.format or fields.output_format,
    escalate_when = fields.escalate_when, privacy = fields.privacy or prompt_kit.DEFAULT_PRIVACY })
  local sections = prompt_kit.context_pack(fields)
  sections[#sections + 1] = { title = "Do", list = role["do"], trim = "keep" }
  sections[#sections + 1] = { title = "Do not", list = role.do_not, trim = "keep" }
  sections[#sections + 1] = { title = "Output format", content = role.output, required = true }
  return sections, { header = header }
end

---Where a worker's final message is kept (the preamble's OUTPUT PATH).
M.OUTPUT_PATH = ".agent/runs/<this run>/output.md"

---A worker prompt: `kind` is a prompt_kit template (reviewer, research, implementer, verifier) or
---a table describing a role of the preset's own ({role, format, do, do_not, output}). `fields`
---are the template's (goal, non_goals, ..., escalate_when, privacy, lens); `extra` sections
---({title, content}) are kept whole (the budget grows with them) and go, in order, where `at`
---names (prompt_kit.insert_sections): after the Context Pack unless it says {after = "Goal"} or
---{before = "Lens"}, say.
---@return string text
function M.prompt(kind, fields, extra, at)
  fields.output_path = fields.output_path or M.OUTPUT_PATH
  local sections, opts
  if type(kind) == "string" then
    fields.privacy = fields.privacy or prompt_kit.DEFAULT_PRIVACY
    sections, opts = prompt_kit.template(kind, fields)
    assert(sections, opts)
  else
    sections, opts = custom(kind, fields)
  end
  local kept, grow = {}, 0
  for i, sec in ipairs(extra or {}) do
    kept[i], grow = { title = sec.title, content = sec.content, required = true }, grow + prompt.estimate(sec.content)
  end
  prompt_kit.insert_sections(sections, at or { after = "Success check" }, kept)
  opts.target, opts.max = prompt.TARGET + grow, prompt.MAX + grow
  return (prompt.compile(sections, opts))
end

---A fenced code block of `text` (`info` after the opening fence, "diff" say) whose fence is longer
---than any run of backticks in the text, and at least `min` long (default 3), so nothing in the
---text can close it.
function M.fence(text, info, min)
  local longest = (min or 3) - 1
  for run in text:gmatch("`+") do
    longest = math.max(longest, #run)
  end
  local f = ("`"):rep(longest + 1)
  return f .. (info or "") .. "\n" .. text .. (text:sub(-1) == "\n" and "" or "\n") .. f
end

---The diff of a review target (sidecar.preset.target), fenced, with a line saying where the rest
---is when it was cut; nil when the target has no diff (named files: the worker reads them).
function M.diff_md(t)
  if not t.diff or t.diff == "" then
    return nil
  end
  local md = M.fence(t.diff, "diff")
  if t.truncated then
    md = md .. ("\n(cut at %d bytes: run %s for the rest)"):format(#t.diff, t.inputs[1])
  end
  return md
end

local ANSWER_OPTIONS = { "format", "spec" }

---The answer of a step in one of the formats schema.read reads: `first` is the step's
---result (a step that did not finish is an answer that failed); a wrong answer is re-prompted once
---with the same job (ctx:agent). `opts`: {format = "json" (default) | "precommit" |
---"personalization", spec = what to check it against (default: the format's own)}; another option
---raises a bad_option error. Returns enforce's result, with `runs` (the step results asked, in
---order), and the last step result.
---@param opts? {format: string?, spec: table?}
---@return table answer {ok, value | problems, error, attempts, runs}, table last
function M.answer(ctx, job, first, opts)
  opts = opts or {}
  option_keys.check("steps.answer", opts, ANSWER_OPTIONS, 2)
  local last, runs = first, {}
  local answer = schema.enforce(function(suffix)
    if suffix then
      local again = {}
      for k, v in pairs(job) do
        again[k] = v
      end
      again.prompt = job.prompt .. suffix
      last = ctx:agent(again)
      last.reprompted = true
    end
    runs[#runs + 1] = last
    if not M.done(last) then
      return nil, M.why_not(last)
    end
    return last.output or ""
  end, opts.spec, { format = opts.format })
  answer.runs = runs
  return answer, last
end

---The structured (JSON) answer of a step, checked against `spec`: M.answer in the json format.
---@return table answer, table last
function M.json_answer(ctx, job, first, spec)
  return M.answer(ctx, job, first, { spec = spec })
end

---The `## Heading` sections of a markdown answer: {title (lower case) = body}, and the titles in
---order. Headings inside fenced code are text.
function M.sections(text)
  local out, order, current, fenced = {}, {}, nil, false
  for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*```") then
      fenced = not fenced
    end
    local hashes, title, first = text_lines.heading(line) -- linear (stdlib/sidecar/core/text.lua)
    title = not fenced and hashes == "##" and first == 1 and title or nil
    if title then
      current = title:lower()
      order[#order + 1] = current
      out[current] = {}
    elseif current then
      table.insert(out[current], line)
    end
  end
  for k, lines in pairs(out) do
    out[k] = text_lines.trim(table.concat(lines, "\n"))
  end
  return out, order
end

---A markdown document cut at its headings of `level` (2 = "## "), headings in fenced code not
---counted: {{title, text (the heading line included), first, last (line numbers)}...}. Text
---before the first such heading is a section too when it is not blank, titled by the heading it
---starts with (the document's title, say), else "(before the first heading)".
function M.split_markdown(text, level)
  local out, fenced, n = {}, false, 0
  local current = { title = "(before the first heading)", lines = {}, first = 1 }
  local function close()
    local body = table.concat(current.lines, "\n")
    if current.heading or body:find("%S") then
      local start = body:find("%S")
      local _, said = text_lines.heading(start and body:match("^[^\n]*", start) or "")
      local title = current.heading and current.title or said or current.title
      out[#out + 1] = { title = title, text = text_lines.rtrim(body), first = current.first, last = n }
    end
  end
  for line in (text:gsub("\n?$", "\n")):gmatch("([^\n]*)\n") do
    if line:match("^%s*```") or line:match("^%s*~~~") then
      fenced = not fenced
    end
    local hashes, title, first = text_lines.heading(line)
    if not fenced and hashes and first == 1 and #hashes == level then
      close()
      current = { title = title, lines = {}, first = n + 1, heading = true }
    end
    n = n + 1
    table.insert(current.lines, line)
  end
  close()
  return out
end

-- Calls fn(line, in_fence) for each line of text.
local function each_line(text, fn)
  local fenced = false
  for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do
    local fence = line:match("^%s*```") or line:match("^%s*~~~")
    fn(line, fenced or fence ~= nil)
    if fence then
      fenced = not fenced
    end
  end
end

---A worker's markdown with its headings moved so that its top ones are of `level` (3 = "###"),
---to nest under the preset's own headings. Headings in fenced code stay as they are.
function M.nest(text, level)
  local top = 7
  each_line(text, function(line, fenced)
    local hashes = not fenced and line:match("^(#+)%s")
    if hashes and #hashes < top then
      top = #hashes
    end
  end)
  local out = {}
  each_line(text, function(line, fenced)
    local hashes, rest = line:match("^(#+)(%s.*)$")
    if hashes and not fenced then
      line = ("#"):rep(math.min(6, #hashes + level - top)) .. rest
    end
    out[#out + 1] = line
  end)
  return text_lines.rtrim(table.concat(out, "\n"))
end

---The verdict a verifier answers with (prompt_kit's verifier template): {verdict = "pass" | "fail",
---checks = {{name, result}...}, issues = {{claim}...}}, other fields allowed.
M.VERDICT = { type = "object", additional = true, fields = {
  verdict = { type = "enum", enum = { "pass", "fail" }, required = true },
  checks = { type = "array", items = { type = "object", additional = true, fields = {
    name = { type = "string", required = true }, result = { type = "string", required = true } } } },
  issues = { type = "array", items = { type = "object", additional = true, fields = {
    claim = { type = "string", required = true } } } },
} }

---Why a step did not finish, for people: "the implementer failed: the runner timed out".
function M.why_not(r)
  return ("the %s %s: %s"):format(r.role or "worker", r.status, r.why or "no reason given")
end

---Runs a verifier job and reads its verdict (one re-prompt, see json_answer). Returns the verdict,
---nil and the last step result; or nil, why not and the last step result.
function M.verdict(ctx, job)
  local r = ctx:agent(job)
  if not M.done(r) then
    return nil, not M.planned(r) and M.why_not(r) or nil, r
  end
  local answer, last = M.json_answer(ctx, job, r, M.VERDICT)
  if not answer.ok then
    return nil, ("the %s's answer is not a verdict: %s"):format(r.role or "verifier",
      answer.error or schema.format_problems(answer.problems):gsub("\n", " ")), last
  end
  return answer.value, nil, last
end

---An implementer's claimed files ([FILES_MODIFIED]) against the real change of the work tree
---during its run (markers.check_files), or nil when it did not run.
function M.files_check(r, repo)
  if r.record then
    return markers.check_files(markers.parse(r.output).files_modified, r.record.changed_files or {}, repo)
  end
end

---A verdict for people: a line, then one per check and per issue.
function M.verdict_text(v)
  local nc, ni = #(v.checks or {}), #(v.issues or {})
  local lines = { ("Verification: %s (%d check%s, %d issue%s)"):format(v.verdict, nc, nc == 1 and "" or "s", ni,
    ni == 1 and "" or "s") }
  for _, c in ipairs(v.checks or {}) do
    lines[#lines + 1] = ("  - check %s: %s"):format(c.name, c.result)
  end
  for _, issue in ipairs(v.issues or {}) do
    lines[#lines + 1] = "  - issue: " .. issue.claim
  end
  return table.concat(lines, "\n")
end

---An implementer's report: its final message up to its first line that starts with a marker
---(the markers come last), trimmed; nil when there is no message.
function M.report_of(output)
  if type(output) ~= "string" then
    return nil
  end
  -- Line by line: a lazy "^(.-)\n%s*%[" retries the whole run of white space at every newline of it.
  local at = 1
  while at <= #output do
    local nl = output:find("\n", at, true) or #output + 1
    if output:sub(at, nl - 1):find("^%s*%[[A-Z_]+%]") then
      return text_lines.trim(output:sub(1, at - 1))
    end
    at = nl + 1
  end
  return text_lines.trim(output) -- linear on any run of spaces (stdlib/sidecar/core/text.lua)
end

local FILE_LISTS = { { "confirmed", "confirmed" }, { "claimed_not_changed", "claimed but not changed" },
  { "changed_not_claimed", "changed but not claimed" } }

---The result of markers.check_files for people: on one line, or with a `heading`, under it one
---indented line a list, with its count.
function M.files_text(check, heading)
  local function list(l)
    return #l > 0 and table.concat(l, ", ") or "-"
  end
  if not heading then
    return ("Files: confirmed %s; claimed but not changed %s; changed but not claimed %s."):format(
      list(check.confirmed), list(check.claimed_not_changed), list(check.changed_not_claimed))
  end
  local lines = { heading }
  for _, l in ipairs(FILE_LISTS) do
    lines[#lines + 1] = ("  %s (%d): %s"):format(l[2], #check[l[1]], list(check[l[1]]))
  end
  return table.concat(lines, "\n")
end

---The same for --json (lists as arrays, so an empty one stays []).
function M.files_data(check)
  return check and { confirmed = json.array(check.confirmed),
    claimed_not_changed = json.array(check.claimed_not_changed),
    changed_not_claimed = json.array(check.changed_not_claimed) }
end

---The text of a step for people: its role, lens and tier, e.g. "reviewer [security]".
function M.label(r)
  return (r.role or "worker") .. (r.lens and (" [" .. r.lens .. "]") or "")
end

---One line for a step that ran: "reviewer [security]  R-0003  done  (codex, strong tier)"; a step
---that did not finish shows its status and why, a re-prompted one says so.
function M.line(r)
  local status = (r.status == "review" and "done" or r.status) .. (r.reprompted and " (after one re-prompt)" or "")
  local why = (r.status ~= "review" and r.why) and (": " .. tostring(r.why):match("[^\n]*")) or ""
  return ("%s  %s  %s%s  (%s, %s tier)"):format(M.label(r), r.run_id or "-", status, why, r.route.runner, r.route.tier)
end

---What a dry run (or a missing CLI) prints: each step's role and lens, its runner, model, tier and
---sandbox, and the exact command, then `how` (how the steps connect: which run side by side,
---which get the answers of others, planned with placeholders).
function M.plan_text(name, results, how)
  local missing
  for _, r in ipairs(results) do
    missing = missing or (r.status == "not_run" and r.why)
  end
  local lines = { ("# %s: %s"):format(name, missing and "not run" or "dry run"), "",
    missing and ("Nothing ran: %s. These steps would run, in order:"):format(missing)
      or "Nothing ran (--dry-run). These steps would run, in order:" }
  for i, r in ipairs(results) do
    local sandbox = r.route.sandbox == "read-only" and "read-only"
      or (r.route.sandbox .. ": the writer, it holds the work tree's writer lock")
    local asked = require("sidecar.agent.effort").describe(r.route.effort, r.route.search)
    lines[#lines + 1] = ("%d. %s: %s%s, %s tier%s, %s"):format(i, M.label(r), r.route.runner,
      r.route.model and (" " .. r.route.model) or "", r.route.tier, asked and (" (" .. asked .. ")") or "", sandbox)
    lines[#lines + 1] = "   " .. (r.command or "(the runner cannot show its command)")
  end
  if how then
    lines[#lines + 1] = ""
    lines[#lines + 1] = how
  end
  return table.concat(lines, "\n") .. "\n"
end

---A step for --json: {role, lens, run_id, status, why, runner, model, tier, effort, search, sandbox, command}.
function M.data(r)
  return { role = r.role, lens = r.lens, run_id = r.run_id, status = r.status, why = r.why,
    runner = r.route and r.route.runner, model = r.route and r.route.model, tier = r.route and r.route.tier,
    effort = r.route and r.route.effort, search = r.route and r.route.search,
    sandbox = r.route and r.route.sandbox, command = r.command }
end

---Steps for --json, as an array.
function M.data_list(results)
  local out = json.array({})
  for i, r in ipairs(results) do
    out[i] = M.data(r)
  end
  return out
end

---Once a step could not run, the steps that need its answer are only planned: from now on every
---agent of this preset run is recorded as a dry run with its command, none runs.
function M.plan_only(ctx)
  ctx.dry_run = true
end

---Whether any of the results did not run (dry run or a missing CLI).
function M.any_planned(results)
  for _, r in ipairs(results) do
    if M.planned(r) then
      return true
    end
  end
  return false
end

---The result a preset returns for a dry run: the plan as text (see plan_text) and data.
function M.planned_result(name, results, how)
  return { text = M.plan_text(name, results, how), data = { dry_run = true, steps = M.data_list(results) } }
end

return M
