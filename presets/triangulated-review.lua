-- triangulated-review: Pattern A of the codex-orchestration skill. Reviewers with different lenses
-- (and, when asked, on different runners) read the same change side by side; their findings are
-- merged into one ranked list with duplicates removed, each finding saying who reported it.
--
-- 1. Lua gathers the target (stdlib/sidecar/preset/target.lua): the working change against HEAD with
--    the untracked files (default), `git diff BASE...HEAD` (base=REF) or named files (paths=...).
-- 2. One read-only reviewer per lens × runner, all started together (ctx:agents), each with a
--    reviewer prompt (prompt_kit) that carries its lens and the diff.
-- 3. Each answer must be the findings JSON (schema.formats.findings). A worker whose answer does
--    not check is asked once more (ctx:agent, the same prompt plus the problems); a worker that
--    fails twice, or whose run failed, is an escalation and is not merged.
-- 4. merge.combine over the good answers; the text is merge.report_md (never a worker's raw
--    output), the --json data merge.to_json plus every worker's runs and attempts.
-- The preset edits nothing; with --dry-run, or without the agent CLI, it prints each reviewer's
-- lens, runner and the exact command it would run.
local json = require("sidecar.core.json")
local merge = require("sidecar.preset.merge")
local preset = require("sidecar.preset.define")
local review_target = require("sidecar.preset.target")
local runners = require("sidecar.agent.runners")
local schema = require("sidecar.preset.schema")
local secrets = require("sidecar.core.secrets")
local steps = require("sidecar.preset.steps")

local function check_lenses(lenses)
  if #lenses < 2 or #lenses > 4 then
    return ("give 2 to 4 lenses, got %d: fewer is not a triangulation, more repeat each other"):format(#lenses)
  end
  local seen = {}
  for _, lens in ipairs(lenses) do
    if seen[lens] then
      return ("the lens %s is given twice"):format(lens)
    end
    seen[lens] = true
  end
end

-- The reviewer prompt for one lens: prompt_kit's template, the change under review before the lens.
local function prompt_for(target, lens, p)
  local diff = steps.diff_md(target)
  return steps.prompt("reviewer", {
    goal = ("Find what is wrong with %s, seen through the %s lens, ranked by impact."):format(target.describe, lens),
    non_goals = { "Problems in code the change does not touch", "Style nits that change nothing",
      "Fixing anything: describe the fix instead" },
    constraints = { ("Report at most %d findings, most serious first."):format(p.max_findings) },
    pointers = target.pointers,
    success_check = "Every finding names a file, a line when it has one, and the evidence seen there.",
    inputs = target.inputs, edits_allowed = false, output_path = ".agent/runs/<run id>/output.md",
    escalate_when = { "the change cannot be judged from these inputs" }, lens = lens,
  }, diff and { { title = "Change under review", content = diff } }, { before = "Lens" })
end

-- Every lens on every runner: {worker, lens, runner (nil: the routed one), prompt}.
local function plan_workers(target, p)
  local workers, runner_list = {}, #p.runners > 0 and p.runners or { false }
  for _, lens in ipairs(p.lenses) do
    local text = prompt_for(target, lens, p)
    for _, runner in ipairs(runner_list) do
      workers[#workers + 1] = { worker = "W" .. (#workers + 1), lens = lens, runner = runner or nil, prompt = text }
    end
  end
  return workers
end

local function ask(w)
  return { kind = "review", prompt = w.prompt, lens = w.lens, role = "reviewer", runner = w.runner }
end

-- The worker's answer checked, re-prompted once (a new run) when it does not match.
local function settle(ctx, w, job, first)
  local answer, last = steps.json_answer(ctx, job, first, schema.formats.findings)
  w.run_ids, w.attempts, w.runner = {}, answer.attempts, last.route and last.route.runner or w.runner
  for i, r in ipairs(answer.runs) do
    w.run_ids[i] = r.run_id
  end
  if answer.ok then
    w.status, w.findings = "ok", answer.value.findings
  else
    w.status = "escalated"
    w.problem = secrets.redact(answer.error or ("the answer failed the findings format twice:\n"
      .. schema.format_problems(answer.problems)))
  end
end

-- Every worker settled: the findings lists to merge (with provenance, cut at max), how many
-- workers escalated and how many did not run (dry run, or the CLI is missing).
local function settle_all(ctx, workers, asks, results, max)
  local lists, escalated, not_run = {}, 0, 0
  for i, w in ipairs(workers) do
    local r = results[i]
    if steps.planned(r) then
      not_run = not_run + 1
      w.status, w.run_ids, w.attempts, w.runner, w.command, w.why = r.status, { r.run_id }, 0, r.route.runner,
        r.command, r.why
    else
      settle(ctx, w, asks[i], r)
    end
    if w.status == "ok" then
      if #w.findings > max then
        w.cut = #w.findings - max
        w.findings = table.move(w.findings, 1, max, 1, {})
      end
      lists[#lists + 1] = { provenance = { worker = w.worker, lens = w.lens, runner = w.runner,
        run_id = w.run_ids[#w.run_ids] }, findings = w.findings }
    elseif w.status == "escalated" then
      escalated = escalated + 1
    end
  end
  return lists, escalated, not_run
end

local function label(w)
  return w.lens .. "/" .. tostring(w.runner)
end

local function runs_text(w)
  return #w.run_ids > 0 and table.concat(w.run_ids, ", ") or "no run"
end

-- Dry run, or the agent CLI is missing: what each reviewer would run.
local function not_run_report(target, workers, dry_run)
  local out = { "# Triangulated review: " .. (dry_run and "dry run" or "not run"), "",
    ("Target: %s; %d file%s."):format(target.describe, #target.files, #target.files == 1 and "" or "s"), "" }
  for _, w in ipairs(workers) do
    out[#out + 1] = ("- %s %s on %s: %s"):format(w.worker, w.lens, w.runner,
      w.status == "dry_run" and "would run:" or ("not run, " .. w.why .. "; would run:"))
    out[#out + 1] = "  " .. tostring(w.command)
  end
  return table.concat(out, "\n") .. "\n"
end

local function workers_md(workers, max)
  local out = { "## Reviewers", "" }
  for _, w in ipairs(workers) do
    local runs = ("%d attempt%s: %s"):format(w.attempts, w.attempts == 1 and "" or "s", runs_text(w))
    local what
    if w.status == "ok" then
      what = ("%d finding%s%s (%s)"):format(#w.findings, #w.findings == 1 and "" or "s",
        w.cut and (", %d more cut by max_findings=%d"):format(w.cut, max) or "", runs)
    elseif w.status == "escalated" then
      what = ("escalated (%s)"):format(runs)
    else
      what = ("not run, %s; would run: %s"):format(w.why, w.command)
    end
    out[#out + 1] = ("- %s %s: %s"):format(w.worker, label(w), what)
  end
  return table.concat(out, "\n") .. "\n"
end

local function escalations_md(workers)
  local out = { "## Escalations", "" }
  for _, w in ipairs(workers) do
    if w.status == "escalated" then
      out[#out + 1] = ("- %s %s (%s): %s"):format(w.worker, label(w), runs_text(w), (w.problem:gsub("\n", "\n  ")))
    end
  end
  return #out > 2 and (table.concat(out, "\n") .. "\n") or nil
end

-- A runner list naming a runner that is not known (a typo, or one of a config that did not run).
local function check_runners(list)
  for _, name in ipairs(list) do
    local ok, why = runners.get(name)
    if not ok then
      return why
    end
  end
end

local function worker_data(w)
  return { worker = w.worker, lens = w.lens, runner = w.runner or json.null, status = w.status,
    run_ids = json.array(w.run_ids or {}), attempts = w.attempts or 0, findings = w.findings and #w.findings or 0,
    problem = w.problem or json.null, command = w.command or json.null, why = w.why or json.null }
end

return preset.define({
  name = "triangulated-review",
  summary = "Review a change with 2-4 lenses side by side and merge the findings into one ranked list",
  description = "Pattern A of the codex-orchestration skill: one read-only reviewer per lens and runner, "
    .. "each answering schema-checked findings JSON (one re-prompt, then escalation), merged into one "
    .. "ranked list without duplicates, with provenance and agreement counts. Reviews the working change "
    .. "against HEAD (with untracked files) unless base= or paths= says otherwise.",
  params = {
    lenses = { type = "list", default = { "correctness", "risks", "clarity", "security" }, check = check_lenses,
      doc = "2 to 4 review lenses, e.g. correctness,risks,clarity,security" },
    runners = { type = "list", default = json.array({}), check = check_runners,
      doc = "run every lens on each of these runners (default: the routed one)" },
    paths = { type = "list", default = json.array({}), doc = "review these files instead of a diff" },
    base = { type = "string", default = "", doc = "review git diff BASE...HEAD instead of the working change" },
    max_findings = { type = "integer", default = 10, doc = "findings each reviewer may report",
      check = function(n) return n < 1 and "expected 1 or more" or nil end },
  },
  escalates = { "a reviewer whose answer fails the findings format twice (or whose run fails)" },
  run = function(ctx, p)
    local target, why = review_target.collect({ repo = ctx.repo, paths = p.paths, base = p.base })
    if not target then
      return { ok = false, text = "nothing to review: " .. why .. "\n", errors = { why } }
    end
    local data = { target = { kind = target.kind, describe = target.describe, files = json.array(target.files),
      secret_files_left_out = json.array(target.secret_files), diff_truncated = target.truncated or false },
      lenses = json.array(p.lenses), runners = json.array(p.runners) }
    if target.empty then
      data.findings, data.workers = json.array({}), json.array({})
      return { text = ("# Triangulated review\n\nNothing to review: %s has no files.\n"):format(target.describe),
        data = data }
    end

    local workers = plan_workers(target, p)
    local asks = {}
    for i, w in ipairs(workers) do
      asks[i] = ask(w)
    end
    local lists, escalated, not_run = settle_all(ctx, workers, asks, ctx:agents(asks), p.max_findings)
    data.workers = json.array({})
    for i, w in ipairs(workers) do
      data.workers[i] = worker_data(w)
    end
    if not_run == #workers then
      return { text = not_run_report(target, workers, ctx.dry_run), data = data }
    end
    local merged, rejected = merge.combine(lists)
    local parts = { merge.report_md(merged, { title = "Triangulated review", workers = #lists, rejected = rejected }),
      workers_md(workers, p.max_findings), escalations_md(workers) }
    data.findings, data.rejected = merge.to_json(merged), json.array(rejected)
    data.escalations = escalated
    local errors = escalated > 0 and { ("%d of %d reviewers escalated"):format(escalated, #workers) } or nil
    return { ok = escalated == 0, text = table.concat(parts, "\n"), data = data, errors = errors }
  end,
})
