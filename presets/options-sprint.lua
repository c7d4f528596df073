-- options-sprint: pattern F of the codex-orchestration skill, for choosing a direction.
--
-- 1. N drafters (read-only, fast), side by side, each draft one complete option for the goal,
--    each from its own angle (given, or "option 1", "option 2" ...).
-- 2. A judge (strong tier, read-only) compares the options against the criteria and answers as
--    JSON: a ranking with a score and a reason for each, the choice, and how to refine it. A
--    wrong answer is re-prompted once; a choice that is not one of the options is a wrong answer.
local json = require("sidecar.core.json")
local preset = require("sidecar.preset.define")
local schema = require("sidecar.preset.schema")
local steps = require("sidecar.preset.steps")

local DRAFTER = {
  role = "option drafter: you propose one complete option for the Goal, from the angle you are given",
  format = "Markdown: Option, Summary, How, Pros, Cons, Risks, Effort (see Output format)",
  ["do"] = {
    "Make the option concrete enough to be judged: what is done, in what order, with what.",
    "Take your angle seriously; the other drafters take other angles.",
    "Be honest about the cons and risks.",
  },
  do_not = { "Change any file.", "Compare with other options or hedge between several: propose one." },
  output = table.concat({ "Markdown, each part a `##` heading:", "",
    "`## Option: <a short name>`, then Summary, How, Pros, Cons, Risks, Effort." }, "\n"),
}

local JUDGE = {
  role = "judge: you compare options against criteria, rank them and choose one",
  format = "Markdown notes, then one JSON block (see Output format)",
  ["do"] = {
    "Judge every option against every criterion, and say which criterion decided.",
    "Rank all options, best first; give each a score from 0 to 10.",
    "Say how to refine the chosen option, taking the best of the others.",
  },
  do_not = { "Invent an option of your own.", "Rank an option you did not read." },
  output = table.concat({ "Notes if they help, then exactly one fenced JSON block and nothing after it:", "",
    "```json",
    '{"ranking": [{"option": 2, "score": 8, "why": "..."}, {"option": 1, "score": 5, "why": "..."}],',
    ' "choice": 2, "refinements": ["take the rollback plan of option 1"]}',
    "```", "", "`option` and `choice` are the options' numbers." }, "\n"),
}

-- The judge's answer, for N options.
local function ranking_spec(n)
  local option = { type = "integer", min = 1, max = n, required = true }
  return { type = "object", additional = true, fields = {
    ranking = { type = "array", required = true, min_items = 1, items = { type = "object", additional = true,
      fields = { option = option, score = { type = "number" }, why = { type = "string", required = true } } } },
    choice = option,
    refinements = { type = "array", items = { type = "string" } },
  } }
end

-- One angle per drafter: the ones given, else "option 1" ... "option N".
local function angles_of(p)
  if #p.angles > 0 then
    return p.angles
  end
  local angles = {}
  for i = 1, p.options do
    angles[i] = "option " .. i
  end
  return angles
end

-- Runs the drafters side by side: their results, the options drafted ({angle, text}) and the
-- options as blocks of the judge's prompt.
local function draft(ctx, p, angles)
  local jobs = {}
  for i, angle in ipairs(angles) do
    jobs[i] = { kind = "draft", role = "option drafter", lens = angle, prompt = steps.prompt(DRAFTER, {
      goal = p.goal, pointers = p.pointers, inputs = { "the files of this repository" },
      non_goals = { "Choosing between options: a judge does that" },
      success_check = "A judge can weigh the option against: " .. table.concat(p.criteria, ", ") .. ".",
      escalate_when = { "the goal cannot be met from this angle" },
    }, { { title = "Angle", content = angle } }) }
  end
  local results = ctx:agents(jobs)
  local drafted, blocks = {}, {}
  for i, r in ipairs(results) do
    if steps.done(r) then
      drafted[#drafted + 1] = { angle = angles[i], text = r.output }
      blocks[#blocks + 1] = ("### Option %d (%s)\n\n%s"):format(#drafted, angles[i], steps.nest(r.output, 4))
    end
  end
  return results, drafted, blocks
end

local function judge_job(p, blocks)
  return { kind = "review", role = "judge", prompt = steps.prompt(JUDGE, {
    goal = "Choose the best option for: " .. p.goal, constraints = p.criteria,
    non_goals = { "Options of your own" }, inputs = { "the options below", "the files of this repository" },
    success_check = "Every option ranked, with a reason naming the criteria.",
    escalate_when = { "no option meets the goal" },
  }, { { title = "Criteria", content = "- " .. table.concat(p.criteria, "\n- ") },
    { title = "Options", content = table.concat(blocks, "\n\n") } }) }
end

-- The ranking and choice, or why there is none.
local function judgement_md(p, drafted, answer, judge)
  local parts = {}
  if answer and answer.ok then
    local v = answer.value
    parts[#parts + 1] = ("## Ranking (criteria: %s)\n"):format(table.concat(p.criteria, ", "))
    for i, r in ipairs(v.ranking) do
      parts[#parts + 1] = ("%d. Option %d (%s)%s: %s"):format(i, r.option, drafted[r.option].angle,
        r.score and ("; score " .. r.score) or "", r.why)
    end
    parts[#parts + 1] = ("\n## Chosen: option %d (%s)\n"):format(v.choice, drafted[v.choice].angle)
    for _, refine in ipairs(v.refinements or {}) do
      parts[#parts + 1] = "- Refine: " .. refine
    end
  else
    parts[#parts + 1] = "Escalate: the judge gave no usable ranking ("
      .. (answer and (answer.error or schema.format_problems(answer.problems)) or (judge.status .. ": "
      .. tostring(judge.why))) .. "); compare the options below yourself.\n"
  end
  return table.concat(parts, "\n")
end

-- The preset's result: the report (judgement, options, steps) and its data.
local function report(p, drafted, results, answer, judge)
  local ok = answer and answer.ok
  local parts = { ("# options-sprint: %s\n"):format(p.goal), judgement_md(p, drafted, answer, judge) }
  parts[#parts + 1] = "\n## The options\n"
  for i, d in ipairs(drafted) do
    parts[#parts + 1] = ("### Option %d (%s)\n\n%s\n"):format(i, d.angle, steps.nest(d.text, 4))
  end
  parts[#parts + 1] = "## Steps\n"
  for _, r in ipairs(results) do
    parts[#parts + 1] = "- " .. steps.line(r)
  end
  local options = json.array({})
  for i, d in ipairs(drafted) do
    options[i] = { n = i, angle = d.angle, text = d.text }
  end
  return { ok = ok or false, text = table.concat(parts, "\n") .. "\n",
    errors = not ok and { "no usable ranking" } or nil,
    data = { goal = p.goal, options = options, judgement = ok and answer.value or json.null,
      steps = steps.data_list(results) } }
end

return preset.define({
  name = "options-sprint",
  summary = "N drafters each propose one option side by side; a strong judge ranks them against criteria",
  description = "Pattern F of the codex-orchestration skill, for choosing a direction (an outline, a design, "
    .. "a plan). Read-only drafters (fast tier), one per angle, each draft one option; a strong, read-only judge "
    .. "ranks them against the criteria, chooses one and says how to refine it.",
  params = {
    goal = { type = "string", required = true, doc = "what the options are for" },
    options = { type = "integer", default = 3, doc = "how many drafters (2 to 5), unless angles are given",
      check = function(v) return (v < 2 or v > 5) and "expected 2 to 5" or nil end },
    angles = { type = "list", default = {}, doc = "one drafter per angle (e.g. minimal,robust,fast)" },
    criteria = { type = "list", default = { "fit to the goal", "risk", "effort" }, doc = "what the judge weighs" },
    pointers = { type = "list", default = {}, doc = "files the drafters should read first" },
  },
  escalates = { "fewer than two options drafted", "a judge whose answer is not a ranking after one re-prompt" },
  run = function(ctx, p)
    local angles = angles_of(p)
    -- 1. Draft, side by side.
    local results, drafted, blocks = draft(ctx, p, angles)
    if steps.any_planned(results) then
      steps.plan_only(ctx) -- the judge would need the options
      blocks = { "(the drafted options go here)" }
    elseif #drafted < 2 then
      local why = ("only %d of %d options were drafted"):format(#drafted, #angles)
      return { ok = false, text = "# options-sprint: escalate\n\n" .. why .. "\n", errors = { why },
        data = { steps = steps.data_list(results) } }
    end

    -- 2. Judge.
    local job = judge_job(p, blocks)
    local judge = ctx:agent(job)
    results[#results + 1] = judge
    if steps.any_planned(results) then
      return steps.planned_result("options-sprint", results,
        "The drafters run side by side; the judge gets their options (a placeholder in its prompt).")
    end
    local answer
    if steps.done(judge) then
      answer, results[#results] = steps.json_answer(ctx, job, judge, ranking_spec(#drafted))
    end
    return report(p, drafted, results, answer, judge)
  end,
})
