-- best-of-n: one task, N candidate changes, the best one kept.
--
-- 1. N implementers get the same prompt (across --param runners and/or repeats), one after another,
--    each in a worktree of its own made from your tree (stdlib/sidecar/preset/candidates.lua).
-- 2. Each candidate's change is validated in its worktree (--param validate=CMD).
-- 3. A judge compares the changes that passed (schema-checked JSON: the winner and the reasons;
--    one re-prompt). A single passing candidate wins without a judge.
-- 4. The winner's run waits in review: `sidecar run apply R-…` brings its change into your tree
--    (or `run approve R-… --apply`). The losers' branches are discarded; every run's record stays.
local json = require("sidecar.core.json")
local candidates = require("sidecar.preset.candidates")
local preset = require("sidecar.preset.define")
local steps = require("sidecar.preset.steps")

local function runner_list(p)
  local names = {}
  for name in p.runners:gmatch("[^,%s]+") do
    names[#names + 1] = name
  end
  local n = p.n > 0 and p.n or math.max(#names, 1)
  local out = {}
  for i = 1, n do
    out[i] = #names > 0 and names[(i - 1) % #names + 1] or "" -- "": the routing decides
  end
  return out
end

local function candidate_prompt(p)
  return steps.prompt("implementer", {
    goal = p.task,
    non_goals = { "Work the task does not ask for", "Commits, pushes, tags or releases" },
    constraints = { "Stay inside this repository", "Follow the code around the change" },
    success_check = p.validate ~= "" and ("`" .. p.validate .. "` passes and the task is done.") or "The task is done.",
    inputs = { "the files of this repository" },
    edits_allowed = true,
    escalate_when = { "the task is ambiguous or contradicts the code" },
  })
end

local function line_of(c, winner)
  local mark = c == winner and "winner" or (c.passed and "passed" or "did not pass")
  local why = c.status ~= "review" and (": " .. tostring(c.why)) or ""
  return ("  %d  %-8s %-7s %s%s  (%d file%s)"):format(c.n, tostring(c.runner), c.run_id or "-", mark, why, #c.files,
    #c.files == 1 and "" or "s")
end

local function report(p, list, verdict, discarded)
  local lines = { "Best of " .. #list .. ": " .. p.task }
  for _, c in ipairs(list) do
    lines[#lines + 1] = line_of(c, verdict.winner)
  end
  local data = { candidates = json.array({}), discarded = discarded, judge_run = verdict.judge_run }
  for i, c in ipairs(list) do
    data.candidates[i] = { n = c.n, runner = c.runner, run_id = c.run_id, status = c.status, passed = c.passed,
      files = c.files, validation = c.validation and json.array(c.validation) or nil }
  end
  if not verdict.ok then
    lines[#lines + 1] = "No winner: " .. verdict.why .. "."
    data.outcome = "no_winner"
    return { ok = false, text = table.concat(lines, "\n") .. "\n", data = data, errors = { verdict.why } }
  end
  local w = verdict.winner
  data.outcome, data.winner, data.reasons = "winner", w.run_id, verdict.reasons
  lines[#lines + 1] = ("Winner: candidate %d (%s)"):format(w.n, w.run_id)
  lines[#lines + 1] = "Why: " .. verdict.reasons
  lines[#lines + 1] = ("Your work tree is untouched. Apply the winner: sidecar run apply %s (or run approve %s "
    .. "--apply)"):format(w.run_id, w.run_id)
  return { ok = true, text = table.concat(lines, "\n") .. "\n", data = data }
end

return preset.define({
  name = "best-of-n",
  summary = "N candidate changes in separate worktrees, validated, a judge keeps the best",
  description = "The same implementer prompt runs N times (across runners and/or repeats), each candidate in a "
    .. "worktree of its own; each change is validated there; a judge compares those that passed and answers "
    .. "with schema-checked JSON. The winner waits in review (apply it with `sidecar run apply`); the losers' "
    .. "branches are discarded, their records kept. Your work tree is never touched.",
  params = {
    task = { type = "string", required = true, doc = "what each candidate implements" },
    runners = { type = "string", default = "", doc = "runners, comma-separated (default: the routing's)" },
    n = { type = "integer", default = 0, doc = "how many candidates (default: one per runner), cycling the runners" },
    validate = { type = "string", default = "", doc = "a shell command each candidate's change must pass" },
    judge = { type = "string", default = "", doc = "the judge's runner (default: the routing's)" },
  },
  escalates = { "no candidate passed validation", "the judge's answer stays invalid after one re-prompt" },
  run = function(ctx, p)
    if p.n < 0 or p.n > 10 then
      return { ok = false, text = "best-of-n: n must be 0 to 10\n", errors = { "n must be 0 to 10" } }
    end
    local list, planned = candidates.run(ctx, { prompt = candidate_prompt(p), runners = runner_list(p),
      validate = p.validate })
    if not list then -- a dry run, or a CLI that is missing: what the first candidate would run
      return steps.planned_result("best-of-n", { planned }, ("%d candidates, one after another, each in its own "
        .. "worktree; each validated; then a judge."):format(#runner_list(p)))
    end
    local verdict = candidates.judge(ctx, p.task, list, p.judge ~= "" and p.judge or nil)
    local discarded = candidates.settle(ctx, list, verdict.ok and verdict.winner or nil)
    return report(p, list, verdict, discarded)
  end,
})
