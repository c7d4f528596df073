-- precommit-classifier: which gates a change needs before it is committed (docs/formats.md §2).
--
-- 1. Lua reads the git change and classifies it, the highest path winning: Risk > Code > Skill >
--    Fast. That alone gives the path and the minimal validation, with or without an agent.
-- 2. A fast agent (read-only) writes what Lua cannot: why this path, the blockers, the commit
--    message, in the §2 format. Its answer is checked; a wrong one is re-prompted once, then the
--    preset says so. A change on the Risk path goes to the strong tier.
-- 3. The report keeps the rules' path, confidence and validation whatever the agent answers; an
--    agent that says otherwise is shown as a disagreement (and `data.disagreement` in --json).
-- The preset never stages, commits, pushes or tags.
local enforce = require("sidecar.preset.enforce")
local precommit = require("sidecar.formats.precommit")
local preset = require("sidecar.preset.define")
local rules = require("sidecar.formats.precommit_rules")
local schema = require("sidecar.preset.schema")

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

local function prompt_for(c, change)
  return table.concat({
    "CONTEXT: WORKER. You are a read-only precommit classifier. Do not edit, stage, commit, push or tag.",
    "",
    "## Goal",
    "Explain the classification below and draft the commit message. The path is decided: " .. TITLES[c.path] .. ".",
    "",
    "## Non-goals",
    "Reviewing the code in depth; running the validation; changing any file.",
    "",
    "## Allowed inputs",
    "`git status --short`, `git diff`, `git diff --cached` (plain, --name-only, --stat) and the changed files.",
    "",
    "## Classification (by rules)",
    "Path: " .. TITLES[c.path] .. " (confidence " .. c.confidence .. ")",
    "Risk notes: " .. (#c.risk_notes > 0 and table.concat(c.risk_notes, "; ") or "none"),
    "Files:" .. precommit.list_md(changed_files(c), true),
    "",
    "## Diff summary",
    "```", change.stat ~= "" and change.stat or "(no tracked changes)", "```",
    "",
    "## Output format",
    "Reply with exactly this markdown. The Path, the confidence, the minimal validation and the reinstall are decided",
    "by rules and stand as given; if you think one is wrong, say why under Blockers.",
    answer_template(c),
    "",
    "Escalate with [BLOCKED] if the change cannot be classified from these inputs.",
    "Privacy: quote no secrets or credentials from the diff.",
  }, "\n")
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
    local change, why = rules.collect(function(args) return ctx:git(args) end)
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
    local prompt = prompt_for(c, change)
    local last
    local answer = enforce.enforce(function(suffix)
      -- Optional by design when left to its default: no agent installed is a skipped step, not a
      -- failure; asked for with --param agent=true, it must run.
      last = ctx:agent({ kind = "classify", risk = c.path == "risk" and "high" or "low", prompt = prompt .. (suffix or ""),
        optional = not ctx:given("agent") })
      if last.status ~= "review" then
        return nil, last.why or last.status
      end
      return last.output
    end, nil, { format = "precommit" })
    data.agent = { run_id = last.run_id, status = last.status, command = last.command, why = last.why,
      runner = last.route.runner, model = last.route.model, tier = last.route.tier }
    if answer.ok then
      -- The rules' path, confidence and validation stand; the agent's own are kept as a disagreement.
      local report, disagreement = rules.merge(c, answer.value)
      data.report, data.disagreement = report, disagreement
      text = precommit.render(report)
      if disagreement then
        text = text .. "\n" .. precommit.disagreement_text(disagreement, last.run_id) .. "\n"
      end
      return { text = text, data = data }
    end
    if last.status == "dry_run" or last.status == "not_run" then
      text = text .. ("\nAgent: not run (%s). It would run:\n  %s\n"):format(last.why, last.command)
      return { text = text, data = data }
    end
    data.escalate = true
    local why = answer.error or ("its answer did not match the format twice:\n" ..
      schema.format_problems(answer.problems or {}))
    text = text .. ("\nAgent (%s, %s): %s\nEscalate: classify the why and blockers by hand.\n"):format(
      last.run_id or "-", last.status, why)
    return { ok = false, text = text, data = data }
  end,
})
