-- precommit-classifier: which gates a change needs before it is committed (FORMATS.md §2).
--
-- 1. Lua reads the git change and classifies it, the highest path winning: Risk > Code > Skill >
--    Fast. That alone gives the path and the minimal validation, with or without an agent.
-- 2. A fast agent (read-only) writes what Lua cannot: why this path, the blockers, the commit
--    message, in the §2 format. Its answer is checked; a wrong one is re-prompted once, then the
--    preset says so. A change on the Risk path goes to the strong tier.
-- The preset never stages, commits, pushes or tags.
local precommit = require("precommit")
local preset = require("preset")
local schema = require("schema")

local TITLES = { fast = "Fast", skill = "Skill", code = "Code", risk = "Risk" }

local function bullets(list, indent)
  if #list == 0 then
    return " None."
  end
  local out = {}
  for _, item in ipairs(list) do
    out[#out + 1] = "\n" .. (indent or "  ") .. "- `" .. item .. "`"
  end
  return table.concat(out)
end

local function changed_files(c)
  local out = {}
  for _, f in ipairs(c.files) do
    out[#out + 1] = f.path
  end
  return out
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
    "Files:" .. bullets(changed_files(c)),
    "",
    "## Diff summary",
    "```", change.stat ~= "" and change.stat or "(no tracked changes)", "```",
    "",
    "## Output format",
    "Reply with exactly this markdown (keep the Path, the confidence and the validation given):",
    "# Precommit Classification",
    "- **Path:** " .. TITLES[c.path],
    "- **Confidence:** " .. c.confidence,
    "- **Changed files:**" .. bullets(changed_files(c)),
    "- **Why this path:** <one or two sentences>",
    "- **Minimal validation:**" .. bullets(c.validation),
    "- **Reinstall needed:** no | yes, specific skills: <names> | yes, full install",
    "- **Commit scope risk:** <low|medium|high: why>",
    "- **Blockers:** None. | <list>",
    "- **Suggested commit message:** <subject line, then body>",
    "",
    "Escalate with [BLOCKED] if the change cannot be classified from these inputs.",
    "Privacy: quote no secrets or credentials from the diff.",
  }, "\n")
end

-- Why the rules chose the path: the risk notes, else the first file that decided it.
local function rules_why(c)
  if #c.risk_notes > 0 then
    return table.concat(c.risk_notes, "; ")
  end
  for _, f in ipairs(c.files) do
    if f.path_kind == c.path then
      return f.why
    end
  end
  return "no changes"
end

-- The report from the rules alone (no agent, or its answer did not check).
local function rules_report(c)
  return table.concat({
    "# Precommit Classification",
    "- **Path:** " .. TITLES[c.path],
    "- **Confidence:** " .. c.confidence,
    "- **Changed files:**" .. bullets(changed_files(c)),
    "- **Why this path:** " .. rules_why(c),
    "- **Minimal validation:**" .. bullets(c.validation),
    "- **Reinstall needed:** " .. (c.reinstall == "specific" and ("yes, specific skills: " .. table.concat(c.skills, ", ")) or "no"),
  }, "\n") .. "\n"
end

return preset.define({
  name = "precommit-classifier",
  summary = "Classify the working change (Risk > Code > Skill > Fast) and the minimal validation it needs",
  description = "Rules in Lua decide the path and the validation; a fast read-only agent writes the why, "
    .. "the blockers and the commit message (FORMATS.md §2). Works without an agent: then it prints the "
    .. "classification and the exact agent command it would run.",
  params = {
    agent = { type = "boolean", default = true, doc = "ask an agent for the why, blockers and commit message" },
  },
  escalates = { "a change on the Risk path goes to the strong tier", "an answer that fails the §2 format twice" },
  run = function(ctx, p)
    local change, why = precommit.collect(function(args) return ctx:git(args) end)
    if not change then
      return { ok = false, text = "not a git repository: " .. tostring(why) .. "\n", errors = { why } }
    end
    local c = precommit.classify(change, ctx.repo)
    local data = { path = c.path, confidence = c.confidence, files = c.files, validation = c.validation,
      risk_notes = c.risk_notes }
    local text = rules_report(c)
    if not p.agent or #c.files == 0 then
      return { text = text, data = data }
    end
    local prompt = prompt_for(c, change)
    local last
    local answer = schema.enforce(function(suffix)
      last = ctx:agent({ kind = "classify", risk = c.path == "risk" and "high" or "low", prompt = prompt .. (suffix or "") })
      if last.status ~= "review" then
        return nil, last.why or last.status
      end
      return last.output
    end, nil, { format = "precommit" })
    data.agent = { run_id = last.run_id, status = last.status, command = last.command, why = last.why,
      runner = last.route.runner, model = last.route.model, tier = last.route.tier }
    if answer.ok then
      data.report = answer.value
      return { text = last.output:gsub("%s*$", "\n"), data = data }
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
