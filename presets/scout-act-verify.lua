-- scout-act-verify: pattern C of the codex-orchestration skill, for when missing context is the
-- biggest risk.
--
-- 1. A scout (read-only, fast) maps the minimum context for the goal: the files that matter and
--    why, an approach, the risks.
-- 2. The map is condensed for the implementer: the files it names become the Pointers, its
--    approach and risks a section of the prompt. No map (the scout failed): stop and escalate.
-- 3. One implementer (the only writer: it holds the work tree's writer lock) makes the change and
--    lists the files it changed ([FILES_MODIFIED]); the claims are checked against the real
--    change of the work tree during its run (markers.check_files).
-- 4. A verifier (read-only) checks the change against the goal and the success check: pass or fail.
local json = require("sidecar.core.json")
local preset = require("sidecar.preset.define")
local steps = require("sidecar.preset.steps")

local SCOUT = {
  role = "scout: you map the code a change will touch, so that an implementer can act without exploring",
  format = "Markdown: Relevant files, Approach, Risks (see Output format)",
  ["do"] = {
    "Start from the Pointers (or the repository's layout) and find the files the Goal touches.",
    "Read enough to say how they fit together and what could break.",
    "Suggest one approach, in a few steps.",
  },
  do_not = { "Change any file.", "Design beyond what the Goal needs.", "List a file you did not open." },
  output = table.concat({ "Markdown in three parts:", "",
    "- `## Relevant files`: one bullet per file: the path in backticks, then why it matters.",
    "- `## Approach`: the steps you suggest, numbered.",
    "- `## Risks`: what could break, and how to check it." }, "\n"),
}

local ESCALATE = { "the goal is ambiguous or contradicts the code", "the change needs a decision, a credential or "
  .. "access you do not have" }

-- Step 2: the scout's answer condensed: the files it names, and its approach and risks.
local function condense(answer)
  local parts = steps.sections(answer)
  local files = {}
  for path in (parts["relevant files"] or ""):gmatch("`([^`\n]+)`") do
    files[#files + 1] = path
  end
  local map = parts.approach and ("Approach:\n" .. parts.approach .. "\n\nRisks:\n" .. (parts.risks or "(none named)"))
  return files, map or answer
end

-- The printed report and the --json data.
local function report(p, all, files, map, check, verdict, escalate)
  local outcome = #escalate == 0 and "pass" or (verdict and verdict.verdict == "fail" and "fail" or "escalate")
  local lines = { "# scout-act-verify: " .. outcome, "", "Goal: " .. p.goal, "", "## Steps", "" }
  for _, r in ipairs(all) do
    lines[#lines + 1] = "- " .. steps.line(r)
  end
  lines[#lines + 1] = "\n## The scout's map\n\nRelevant files: " .. (#files > 0 and table.concat(files, ", ") or "-")
    .. "\n\n" .. map
  if check then
    lines[#lines + 1] = "\n## The change\n\n" .. steps.files_text(check)
  end
  lines[#lines + 1] = "\n## Verdict\n"
  lines[#lines + 1] = verdict and steps.verdict_text(verdict) or nil
  for _, e in ipairs(escalate) do
    lines[#lines + 1] = "Escalate: " .. e
  end
  return { ok = outcome == "pass", text = table.concat(lines, "\n") .. "\n", errors = #escalate > 0 and escalate or nil,
    data = { outcome = outcome, steps = steps.data_list(all), scout_files = json.array(files),
      files = steps.files_data(check), verdict = verdict or json.null, escalate = json.array(escalate) } }
end

return preset.define({
  name = "scout-act-verify",
  summary = "A scout maps the code for a goal, one implementer acts, a verifier checks (scout -> act -> verify)",
  description = "Pattern C of the codex-orchestration skill, for when missing context is the biggest risk. A "
    .. "read-only scout names the files that matter, an approach and the risks; one implementer, the only "
    .. "writer in the work tree, makes the change; the files it claims are checked against the real change; "
    .. "a read-only verifier answers pass or fail.",
  params = {
    goal = { type = "string", required = true, doc = "the change to make, and what good looks like" },
    success_check = { type = "string", default = "The goal is met and the existing checks still pass.",
      doc = "how the verifier knows it is done" },
    pointers = { type = "list", default = {}, doc = "where the scout starts (files or folders)" },
    constraints = { type = "list", default = {}, doc = "what the implementer must keep to" },
  },
  escalates = { "a scout that fails or blocks", "an implementer that reports [BLOCKED] or [QUESTION], or fails",
    "files the implementer claims but did not change", "a verification that fails" },
  run = function(ctx, p)
    -- 1. Scout.
    local scout = ctx:agent({ kind = "scan", role = "scout", prompt = steps.prompt(SCOUT, {
      goal = "Map what an implementer needs for this change: " .. p.goal, pointers = p.pointers,
      non_goals = { "Making the change", "Reviewing code the change does not touch" },
      inputs = { "the files of this repository", "git log and git grep" },
      success_check = "An implementer could start from your Relevant files and Approach without exploring.",
      escalate_when = ESCALATE }) })
    if steps.planned(scout) then
      steps.plan_only(ctx) -- the implementer would need the map
    elseif not steps.done(scout) then
      return report(p, { scout }, {}, "(no map)", nil, nil, { steps.why_not(scout) })
    end

    -- 2. Condense the map.
    local files, map = condense(scout.output or "")
    files = #files > 0 and files or p.pointers

    -- 3. Act: the only writer.
    local act = ctx:agent({ kind = "implement", role = "implementer", prompt = steps.prompt("implementer", {
      goal = p.goal, constraints = p.constraints, pointers = files, success_check = p.success_check
        .. " [FILES_MODIFIED] lists every file you changed, and only those.",
      non_goals = { "Work the goal does not ask for", "Refactors or reformatting" },
      inputs = { "the files of this repository", "git status and git diff" }, edits_allowed = true,
      escalate_when = ESCALATE,
    }, { { title = "The scout's map", content = map ~= "" and map or "(the scout's map goes here)" } }) })
    local check = steps.files_check(act, ctx.repo)

    -- 4. Verify, unless the implementer did not finish.
    local all, verdict, why = { scout, act }, nil, nil
    if steps.planned(act) or steps.done(act) then
      local prompt = steps.prompt("verifier", {
        goal = p.goal, success_check = p.success_check, pointers = check and check.confirmed or files,
        non_goals = { "Changing any file", "Problems the change did not cause" },
        inputs = { "git diff HEAD", "the files of this repository" }, escalate_when = ESCALATE,
      }, { { title = "The implementer's report", content = steps.report_of(act.output) or "(its report goes here)" } })
      verdict, why, all[3] = steps.verdict(ctx, { kind = "verify", role = "verifier", prompt = prompt })
    else
      why = steps.why_not(act)
    end
    if steps.any_planned(all) then
      return steps.planned_result("scout-act-verify", all,
        "Each step gets the answer of the one before it (placeholders in these prompts).")
    end

    local escalate = { why }
    if check and #check.claimed_not_changed > 0 then
      escalate[#escalate + 1] = "claimed but not changed: " .. table.concat(check.claimed_not_changed, ", ")
    end
    if verdict and verdict.verdict == "fail" then
      escalate[#escalate + 1] = "the verification failed"
    end
    return report(p, all, files, map, check, verdict, escalate)
  end,
})
