-- precommit-classifier: which gates a change needs before it is committed (docs/formats.md §2).
--
-- 1. Lua reads the git change and classifies it, the highest path winning: Risk > Code > Skill >
--    Fast. That alone gives the path and the minimal validation, with or without an agent.
-- 2. A fast agent (read-only) writes what Lua cannot: why this path, the blockers, the commit
--    message, in the §2 format. Its prompt (steps.prompt) carries the rules' classification and
--    the diff summary. Its answer is checked; a wrong one is re-prompted once, then the
--    preset says so. A change on the Risk path goes to the strong tier.
-- 3. The report keeps the rules' path, confidence and validation whatever the agent answers; an
--    agent that says otherwise is shown as a disagreement (and `data.disagreement` in --json).
-- The preset never stages, commits, pushes or tags.
local precommit = require("sidecar.formats.precommit")
local preset = require("sidecar.preset.define")
local rules = require("sidecar.formats.precommit_rules")
local schema = require("sidecar.preset.schema")
local steps = require("sidecar.preset.steps")

local TITLES = precommit.TITLES

local function changed_files(c)
  local out = {}
  for _, f in ipairs(c.files) do
    out[#out + 1] = f.path
  end
  return out
end

-- The §2 template with the rules' fields filled in, and what the agent writes as placeholders.
local function answer_template(c)
  local fill = precommit.values(rules.rules_report(c))
  fill.why_this_path = " <one or two sentences>"
  fill.commit_scope_risk = " <low|medium|high: why>"
  fill.blockers = " None. | <list>"
  fill.suggested_commit_message = " <subject line, then body>"
  return precommit.template(fill, { bold = true })
end

-- What the rules decided, for the agent to explain.
local function classification_md(c)
  return table.concat({
    "Path: " .. TITLES[c.path] .. " (confidence " .. c.confidence .. ")",
    "Risk notes: " .. (#c.risk_notes > 0 and table.concat(c.risk_notes, "; ") or "none"),
    "Files:" .. precommit.list_md(changed_files(c), true),
  }, "\n")
end

-- The agent's role: the rules have decided; it explains, finds blockers, drafts the message.
local function classifier(c)
  return {
    role = "precommit classifier: you explain why a change takes the path the rules gave it, and draft its "
      .. "commit message",
    format = "the `# Precommit Classification` markdown of Output format",
    ["do"] = { "Read the diff of the changed files listed under Classification (by rules).",
      "Say why the change takes this path, what blocks its commit, and how risky its scope is.",
      "Draft the commit message: a subject line, then a body." },
    do_not = { "Edit, stage, commit, push or tag anything.", "Run the validation." },
    output = "Reply with exactly this markdown. The Path, the confidence, the minimal validation and the "
      .. "reinstall are decided by rules and stand as given; if you think one is wrong, say why under "
      .. "Blockers.\n\n" .. answer_template(c),
  }
end

local function prompt_for(c, change)
  return steps.prompt(classifier(c), {
    goal = "Explain the classification below and draft the commit message. The path is decided: "
      .. TITLES[c.path] .. ".",
    non_goals = { "Reviewing the code in depth", "Running the validation", "Changing any file" },
    success_check = "Every bullet of the format is there; the Path, confidence, validation and reinstall are "
      .. "the ones given.",
    inputs = { "`git status --short`", "`git diff` and `git diff --cached` (plain, --name-only, --stat)",
      "the changed files" },
    edits_allowed = false, escalate_when = { "the change cannot be classified from these inputs" },
    privacy = "Quote no secrets or credentials from the diff.",
  }, { { title = "Classification (by rules)", content = classification_md(c) },
    { title = "Diff summary", content = steps.fence(change.stat ~= "" and change.stat or "(no tracked changes)") } })
end

-- The report when the agent did not settle: not run (dry run, no CLI), or escalated.
local function unsettled(text, data, answer, last)
  if steps.planned(last) then
    return { text = text .. ("\nAgent: not run (%s). It would run:\n  %s\n"):format(last.why, last.command),
      data = data }
  end
  data.escalate = true
  local why = answer.error and (last.why or last.status) or ("its answer did not match the format twice:\n"
    .. schema.format_problems(answer.problems or {}))
  text = text .. ("\nAgent (%s, %s): %s\nEscalate: classify the why and blockers by hand.\n"):format(
    last.run_id or "-", last.status, why)
  return { ok = false, text = text, data = data }
end

return preset.define({
  name = "precommit-classifier",
  summary = "Classify the working change (Risk > Code > Skill > Fast) and the minimal validation it needs",
  description = "Rules in Lua decide the path and the validation; a fast read-only agent writes the why, "
    .. "the blockers and the commit message (docs/formats.md §2). Works without an agent: then it prints the "
    .. "classification and the exact agent command it would run.",
  params = {
    agent = { type = "boolean", default = true, doc = "ask an agent for the why, blockers and commit message" },
  },
  escalates = { "a change on the Risk path goes to the strong tier", "an answer that fails the §2 format twice" },
  run = function(ctx, p)
    local change, why = rules.collect(ctx.repo)
    if not change then
      return { ok = false, text = "not a git repository: " .. tostring(why) .. "\n", errors = { why } }
    end
    local c = rules.classify(change, ctx.repo)
    local data = { path = c.path, confidence = c.confidence, files = c.files, validation = c.validation,
      risk_notes = c.risk_notes }
    local text = precommit.render(rules.rules_report(c))
    if not p.agent or #c.files == 0 then
      return { text = text, data = data }
    end
    -- Optional by design when left to its default: no agent installed is a skipped step, not a
    -- failure; asked for with --param agent=true, it must run.
    local job = { kind = "classify", risk = c.path == "risk" and "high" or "low", prompt = prompt_for(c, change),
      optional = not ctx:given("agent") }
    local answer, last = steps.answer(ctx, job, ctx:agent(job), { format = "precommit" })
    data.agent = { run_id = last.run_id, status = last.status, command = last.command, why = last.why,
      runner = last.route.runner, model = last.route.model, tier = last.route.tier }
    if not answer.ok then
      return unsettled(text, data, answer, last)
    end
    -- The rules' path, confidence and validation stand; the agent's own are kept as a disagreement.
    local report, disagreement = rules.merge(c, answer.value)
    data.report, data.disagreement = report, disagreement
    text = precommit.render(report)
    if disagreement then
      text = text .. "\n" .. precommit.disagreement_text(disagreement, last.run_id) .. "\n"
    end
    return { text = text, data = data }
  end,
})
