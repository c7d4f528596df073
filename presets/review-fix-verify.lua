-- review-fix-verify: pattern B of the codex-orchestration skill, a serial funnel.
--
-- Each round (at most max_rounds):
-- 1. Reviewers, one per lens, read the target side by side (read-only) and answer with findings
--    as JSON; a wrong answer is re-prompted once.
-- 2. Their findings are merged into one ranked list (duplicates removed, agreement counted).
--    Nothing found: nothing to fix, done.
-- 3. One implementer (the only writer: it holds the work tree's writer lock) fixes the `top`
--    findings; the files it claims ([FILES_MODIFIED]) are checked against the real change.
-- 4. A verifier (read-only) checks those findings are fixed and nothing regressed: pass or fail,
--    as JSON. Pass ends the rounds; fail starts another, whose reviewers hear what failed.
-- A dry run (or a missing CLI) plans round 1 and prints each step's command.
local json = require("sidecar.core.json")
local merge = require("sidecar.preset.merge")
local preset = require("sidecar.preset.define")
local review_target = require("sidecar.preset.target")
local schema = require("sidecar.preset.schema")
local steps = require("sidecar.preset.steps")

local ESCALATE = { "a decision the findings alone cannot settle", "a fix that needs access or credentials you lack" }

local function where(f)
  return f.file .. (f.line and (":" .. f.line) or "")
end

-- The findings for the implementer and the verifier: numbered, with evidence and suggestions.
local function findings_md(list)
  if #list == 0 then
    return "(the reviewers' merged findings go here)"
  end
  local out = {}
  for i, f in ipairs(list) do
    out[#out + 1] = ("%d. [%s] %s: %s"):format(i, f.severity, where(f), f.claim)
    out[#out + 1] = f.evidence and ("   Evidence: " .. f.evidence) or nil
    for _, s in ipairs(f.suggestions) do
      out[#out + 1] = "   Suggestion: " .. s
    end
  end
  return table.concat(out, "\n")
end

-- Steps 1-2: reviewers side by side, their findings merged.
local function review(ctx, p, t, round)
  local jobs, diff = {}, steps.diff_md(t)
  for _, lens in ipairs(p.lenses) do
    jobs[#jobs + 1] = { kind = "review", role = "reviewer", lens = lens, prompt = steps.prompt("reviewer", {
      goal = p.goal .. " Review " .. t.describe .. ".", lens = lens,
      non_goals = { "Fixing anything: another worker fixes what you find", "Style nits that change nothing" },
      pointers = t.files, prior_decisions = round.failed_before, inputs = t.inputs,
      success_check = "Every finding names a file (and a line when it can) and the evidence you saw.",
      escalate_when = ESCALATE,
    }, diff and { { title = "Diff", content = diff } }) }
  end
  local lists = {}
  for i, r in ipairs(ctx:agents(jobs)) do
    local last = r
    if steps.done(r) then
      local answer
      answer, last = steps.json_answer(ctx, jobs[i], r, schema.formats.findings)
      if answer.ok then
        lists[#lists + 1] = { provenance = { worker = "reviewer " .. i, lens = r.lens, runner = last.route.runner,
          run_id = last.run_id }, findings = answer.value.findings }
      else
        round.notes[#round.notes + 1] = ("reviewer [%s]: no usable findings (%s)"):format(r.lens,
          answer.error or schema.format_problems(answer.problems):gsub("\n", " "))
      end
    elseif not steps.planned(r) then
      round.notes[#round.notes + 1] = ("reviewer [%s] %s: %s"):format(r.lens, r.status, r.why or "no reason given")
    end
    round.steps[#round.steps + 1] = last
  end
  round.merged = merge.combine(lists)
  round.top = { table.unpack(round.merged, 1, math.min(p.top, #round.merged)) }
end

-- Step 3: the implementer fixes the top findings; its claims are checked against the change.
local function fix(ctx, p, t, round)
  local r = ctx:agent({ kind = "implement", role = "implementer", prompt = steps.prompt("implementer", {
    goal = ("Fix the findings listed below: the %d most serious of a review."):format(#round.top > 0 and #round.top
      or p.top),
    non_goals = { "Findings not listed here", "Refactors, reformatting or other improvements" },
    constraints = { "Change only what the findings need, in the style of the code around it" },
    pointers = t.files, inputs = { "the files of this repository", "git status and git diff" }, edits_allowed = true,
    success_check = "Every finding listed is fixed; [FILES_MODIFIED] lists every file you changed, and only those.",
    escalate_when = ESCALATE,
  }, { { title = "Findings to fix", content = findings_md(round.top) } }) })
  round.steps[#round.steps + 1] = r
  round.files = steps.files_check(r, ctx.repo)
  return r
end

-- Step 4: the verifier's verdict {verdict, checks, issues}, or nil and why not.
local function verify(ctx, p, fixed, round)
  local prompt = steps.prompt("verifier", {
    goal = "The findings below are fixed, and the fix broke nothing else. " .. p.goal,
    non_goals = { "New findings unrelated to the fix", "Changing any file" },
    pointers = round.files and round.files.confirmed, inputs = { "git diff HEAD", "the files of this repository" },
    success_check = "Each finding has a check in `checks`; a finding not fixed is an issue and the verdict fail.",
    escalate_when = ESCALATE,
  }, { { title = "Findings that were to be fixed", content = findings_md(round.top) },
    { title = "The implementer's report", content = steps.report_of(fixed.output) or "(its report goes here)" } })
  local verdict, why, last = steps.verdict(ctx, { kind = "verify", role = "verifier", prompt = prompt })
  round.steps[#round.steps + 1] = last
  return verdict, why
end

local function round_text(n, round)
  local lines = { ("## Round %d"):format(n), "" }
  for _, r in ipairs(round.steps) do
    lines[#lines + 1] = "- " .. steps.line(r)
  end
  for _, note in ipairs(round.notes) do
    lines[#lines + 1] = "- note: " .. note
  end
  lines[#lines + 1] = ("\nFindings, merged and ranked (%d):"):format(#round.merged)
  for i, f in ipairs(round.merged) do
    local lenses = {}
    for _, s in ipairs(f.sources) do
      lenses[#lenses + 1] = s.lens
    end
    lines[#lines + 1] = ("%d. [%s] %s: %s (%s)%s"):format(i, f.severity, where(f), f.claim, table.concat(lenses, ", "),
      i <= #round.top and " - to fix" or "")
  end
  if round.files then
    lines[#lines + 1] = "\n" .. steps.files_text(round.files)
  end
  if round.verdict then
    lines[#lines + 1] = "\n" .. steps.verdict_text(round.verdict)
  end
  return table.concat(lines, "\n") .. "\n"
end

return preset.define({
  name = "review-fix-verify",
  summary = "Reviewers find, one implementer fixes the top findings, a verifier checks (review -> fix -> verify)",
  description = "Pattern B of the codex-orchestration skill. Read-only reviewers (one per lens, side by side) "
    .. "report findings as JSON; the findings are merged and ranked; one implementer, the only writer in the "
    .. "work tree, fixes the top ones; a read-only verifier answers pass or fail. A failed verification starts "
    .. "another round, up to max_rounds.",
  params = {
    goal = { type = "string", default = "The change is correct, safe and clear.", doc = "what good looks like" },
    paths = { type = "list", default = {}, doc = "review these files (default: the working change against HEAD)" },
    base = { type = "string", default = "", doc = "review the change BASE...HEAD instead of the working change" },
    lenses = { type = "list", default = { "correctness", "risks", "clarity" }, doc = "one reviewer per lens" },
    top = { type = "integer", default = 3, doc = "the implementer fixes at most this many findings, most serious first",
      check = function(v) return v < 1 and "expected 1 or more" or nil end },
    max_rounds = { type = "integer", default = 1, doc = "at most this many review -> fix -> verify rounds",
      check = function(v) return v < 1 and "expected 1 or more" or nil end },
  },
  escalates = { "a verification that still fails after max_rounds", "an implementer that reports [BLOCKED] or "
    .. "[QUESTION], or fails", "files the implementer claims but did not change", "a verifier or every reviewer "
    .. "whose answer is not usable after one re-prompt" },
  run = function(ctx, p)
    local function target() -- collected again each round: a fix changes it
      return review_target.collect({ repo = ctx.repo, paths = p.paths, base = p.base })
    end
    local t, why = target()
    if not t then
      return { ok = false, text = "review-fix-verify: " .. why .. "\n", errors = { why } }
    elseif t.empty then
      return { text = "# review-fix-verify: nothing to review\n\n" .. t.describe .. " has no files.\n",
        data = { outcome = "nothing to review" } }
    end

    local rounds, outcome, escalate, failed_before = {}, nil, {}, nil
    for n = 1, p.max_rounds do
      t = n == 1 and t or assert(target())
      local round = { steps = {}, notes = {}, failed_before = failed_before }
      rounds[n] = round
      review(ctx, p, t, round)
      if steps.any_planned(round.steps) then
        steps.plan_only(ctx) -- the later steps would need the reviewers' answers
      elseif #round.merged == 0 then
        outcome = #round.notes == #p.lenses and "escalate" or "clean"
        escalate = outcome == "escalate" and round.notes or escalate
        break
      end
      local fixed = fix(ctx, p, t, round)
      if not steps.planned(fixed) and not steps.done(fixed) then
        outcome = "escalate"
        escalate[#escalate + 1] = steps.why_not(fixed)
        break
      end
      if round.files and #round.files.claimed_not_changed > 0 then
        escalate[#escalate + 1] = "claimed but not changed: " .. table.concat(round.files.claimed_not_changed, ", ")
      end
      local verdict, vwhy = verify(ctx, p, fixed, round)
      if steps.any_planned(round.steps) then
        return steps.planned_result("review-fix-verify", round.steps, "The reviewers run side by side; the "
          .. "implementer gets their merged findings and the verifier the implementer's report (placeholders in "
          .. "these prompts). Another round runs only when a verification fails.")
      end
      round.verdict, outcome = verdict, verdict and verdict.verdict or "escalate"
      escalate[#escalate + 1] = vwhy
      if outcome ~= "fail" then
        break
      end
      failed_before = {}
      for _, issue in ipairs(verdict.issues or {}) do
        failed_before[#failed_before + 1] = ("Round %d's fix failed verification: %s"):format(n, issue.claim)
      end
    end

    local rounds_text = ("%d round%s"):format(#rounds, #rounds == 1 and "" or "s")
    if outcome == "fail" then
      escalate[#escalate + 1] = "verification still fails after " .. rounds_text
    elseif #escalate > 0 then
      outcome = "escalate"
    end
    local parts = { ("# review-fix-verify: %s\n\nReviewed: %s\n"):format(outcome, t.describe) }
    local data_rounds = json.array({})
    for n, round in ipairs(rounds) do
      parts[#parts + 1] = round_text(n, round)
      data_rounds[n] = { steps = steps.data_list(round.steps), findings = merge.to_json(round.merged),
        files = steps.files_data(round.files), verdict = round.verdict }
    end
    parts[#parts + 1] = "## Verdict\n\n" .. (outcome == "clean" and "Nothing to fix: the reviewers found nothing."
      or ("%s after %s."):format(outcome, rounds_text))
    for _, e in ipairs(escalate) do
      parts[#parts + 1] = "Escalate: " .. e
    end
    local ok = outcome == "pass" or outcome == "clean"
    return { ok = ok, text = table.concat(parts, "\n") .. "\n", errors = not ok and escalate or nil,
      data = { outcome = outcome, target = t.describe, rounds = data_rounds, escalate = json.array(escalate) } }
  end,
})
