-- personalization-scanner: which preferences (workflow, writing, git habits...) are worth
-- remembering, from the inputs the user lists (docs/formats.md §3). It proposes; it never writes.
--
-- 1. Lua reads only the listed inputs (files or globs; sidecar.formats.personalization_rules): secret files
--    are refused, each file is cut in size and redacted.
-- 2. A fast read-only agent sees those contents inlined in its prompt (steps.prompt: the worker
--    preamble, the Context Pack, Inputs, Output format), nothing else, and answers
--    the §3 markdown: `# Personalization Candidates` with its four sections. The answer is
--    checked (sidecar.formats.personalization); a wrong one is re-prompted once, then escalated.
-- 3. Lua applies the writeback policy: only what the user stated, or what the evidence shows in
--    at least two of the inputs, would be written; everything else is deferred or rejected.
-- 4. The preset prints the tables and a writeback plan (what would go where). It writes no
--    memory and no target file: applying the plan is a person's (or another tool's) step.
local json = require("sidecar.core.json")
local personalization = require("sidecar.formats.personalization")
local preset = require("sidecar.preset.define")
local rules = require("sidecar.formats.personalization_rules")
local schema = require("sidecar.preset.schema")
local secrets = require("sidecar.core.secrets")
local steps = require("sidecar.preset.steps")

local OUTPUT_FORMAT = table.concat({
  "Reply with exactly this markdown and nothing else (a section with no rows says None.):",
  "",
  personalization.template(),
  "",
  "Scope: " .. table.concat(personalization.SCOPES, " | ") .. ".",
  "Type: " .. table.concat(personalization.TYPES, " | ") .. ".",
  "Confidence: observed (seen once) | repeated (seen in at least two inputs: name both in Evidence) | "
    .. "user-stated (the user said so: name the input) | inferred (your reading).",
  "Action: " .. table.concat(personalization.ACTIONS, " | ") .. "; write only with confidence "
    .. "user-stated or repeated.",
}, "\n")

-- The agent's role: it reads the inlined inputs and proposes; Lua decides what would be written.
local SCANNER = {
  role = "personalization scanner: you read the inputs below and propose preferences worth remembering",
  format = "the `# Personalization Candidates` markdown of Output format",
  output = OUTPUT_FORMAT,
}

-- The inputs, inlined: one fenced block per file.
local function inputs_section(files)
  local out = {}
  for i, f in ipairs(files) do
    out[i] = ("### %s (%d bytes%s)\n\n%s"):format(f.path, f.bytes, f.truncated and (", cut at " .. #f.text) or "",
      steps.fence(f.text))
  end
  return table.concat(out, "\n\n")
end

local function prompt_for(files)
  local paths = {}
  for i, f in ipairs(files) do
    paths[i] = f.path .. " (inlined under Inputs)"
  end
  return steps.prompt(SCANNER, {
    goal = "Find the user's preferences and habits in the inputs that are worth remembering, each with its "
      .. "scope, type, confidence and evidence.",
    non_goals = { "Asking the user anything", "Writing or editing memory or any file",
      "Reading anything besides the inputs below" },
    constraints = { "Use only the enum words listed under Output format.",
      "Propose action write only for what the user stated, or what at least two inputs show." },
    success_check = "Every candidate names the inputs it was seen in; nothing private or secret is quoted.",
    edits_allowed = false, inputs = paths, output_path = ".agent/runs/<run id>/output.md",
    escalate_when = { "the inputs hold nothing about the user's preferences" },
    privacy = "Quote no raw logs, secrets or credentials: Evidence names the input a preference was seen in and "
      .. "paraphrases it. Secrets in the inputs were redacted; never try to reconstruct them.",
  }, { { title = "Inputs", content = inputs_section(files) } }, { before = "Output format" })
end

local function input_data(files)
  local out = json.array({})
  for i, f in ipairs(files) do
    out[i] = { path = f.path, bytes = f.bytes, truncated = f.truncated, redactions = f.redactions }
  end
  return out
end

local function plan_data(plan)
  local writes = json.array({})
  for i, w in ipairs(plan.writes) do
    writes[i] = { target = w.target, preference = w.preference, scope = w.scope, type = w.type,
      confidence = w.confidence, inputs = json.array(w.inputs) }
  end
  return { recommended_writeback = json.array(plan.recommended_writeback), deferred = json.array(plan.deferred),
    reject = json.array(plan.reject), privacy_notes = json.array(plan.privacy_notes), writes = writes,
    written = 0 }
end

-- Dry run, or the agent CLI is missing: the inputs it would read and the command it would run.
local function not_run_text(files, last)
  local lines = { "# Personalization scan: " .. (last.status == "dry_run" and "dry run" or "not run"), "",
    "Inputs (only these are read):" }
  for _, f in ipairs(files) do
    lines[#lines + 1] = ("- %s (%d bytes)"):format(f.path, f.bytes)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("The scanner (%s) %s:"):format(last.route.runner,
    last.status == "dry_run" and "would run" or ("is not run, " .. last.why .. "; it would run"))
  lines[#lines + 1] = "  " .. tostring(last.command)
  return table.concat(lines, "\n") .. "\n"
end

-- Why the scan escalated: the run gave no answer, or its answer failed the format twice.
local function escalation(answer, last)
  if answer.error then
    return ("the run gave no answer: it ended %s%s"):format(last.status, last.why and (": " .. last.why) or "")
  end
  return "the answer failed the §3 format twice:\n" .. schema.format_problems(answer.problems)
end

return preset.define({
  name = "personalization-scanner",
  summary = "Propose preferences worth remembering from listed inputs, with a writeback plan (writes nothing)",
  description = "docs/formats.md §3: a fast read-only agent reads only the listed inputs (inlined, redacted, cut "
    .. "in size; secret files refused) and answers the Personalization Candidates tables. Lua applies the "
    .. "writeback policy (only user-stated, or repeated in at least two inputs) and prints the plan; no "
    .. "memory or target file is ever written.",
  params = {
    inputs = { type = "list", required = true, doc = "the files or globs the scanner may read, and nothing else" },
    target = { type = "string", default = "", doc = "where approved writebacks would go (default: each "
      .. "candidate's suggested target); only reported" },
  },
  escalates = { "an answer that fails the §3 format twice" },
  run = function(ctx, p)
    local files, why = rules.read_inputs(ctx.repo, p.inputs)
    if not files then
      return { ok = false, text = why .. "\n", errors = { why } }
    end
    local data = { inputs = input_data(files), target = p.target ~= "" and p.target or json.null }
    local job = { kind = "scan", prompt = prompt_for(files), role = "personalization-scanner" }
    local answer, last = steps.answer(ctx, job, ctx:agent(job), { format = "personalization" })
    data.agent = { run_id = last.run_id or json.null, status = last.status, attempts = answer.attempts,
      runner = last.route.runner, command = last.command or json.null }
    if steps.planned(last) then
      return { text = not_run_text(files, last), data = data }
    end
    if not answer.ok then
      data.escalate = true
      local problem = secrets.redact(escalation(answer, last))
      return { ok = false, data = data, errors = { problem },
        text = ("Personalization scan escalated (%s, %s): %s\n"):format(last.run_id or "-", last.status, problem) }
    end
    local plan = rules.plan(answer.value, files, { target = p.target })
    data.candidates = plan_data(plan)
    return { text = personalization.render(plan, files), data = data }
  end,
})
