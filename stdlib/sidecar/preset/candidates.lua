--- Candidates side by side: the same writing prompt run N times (across runners and/or repeats),
--- each in a worktree of its own, each validated there, then a judge's schema-checked verdict on
--- those that passed. The winner's run is left in review (its branch and changes.patch: `sidecar
--- run apply` brings it into the user's tree); the losers' results are discarded (their branch
--- goes; every run's record stays). The user's tree is never touched.
---
---   local c = candidates.run(ctx, { prompt = text, runners = { "codex", "claude", "codex" },
---     validate = "make test" })                   -- c[i] = {n, runner, run_id, status, passed, ...}
---   local verdict = candidates.judge(ctx, task, c) -- {ok, winner, reasons} or {ok = false, why}
---   candidates.settle(ctx, c, verdict.winner)      -- losers discarded
local json = require("sidecar.core.json")
local preset_worktree = require("sidecar.preset.worktree")
local prompt = require("sidecar.prompt.compile")
local prompt_kit = require("sidecar.prompt.kit")
local run_record = require("sidecar.run.record")
local worktree_apply = require("sidecar.run.worktree_apply")
local schema = require("sidecar.preset.schema")
local secrets = require("sidecar.core.secrets")
local visible = require("sidecar.core.text").visible
local validation = require("sidecar.task.validation")

local M = {}

---Bytes of a candidate's change the judge sees (the head of its changes.patch).
M.PATCH_BYTES = 12000

---The judge's verdict: the winner's number (a candidate's own, among those shown), and the reasons.
M.VERDICT = { type = "object", fields = {
  winner = { type = "integer", min = 1, required = true },
  reasons = { type = "string", non_empty = true, required = true },
} }

local function patch_of(ctx, run_id)
  local dir = ctx:store():run_dir(run_id)
  local text = dir and dir:read("changes.patch")
  if dir then
    dir:close()
  end
  return text
end

---Runs the candidates one after another, each a writer in a fresh worktree (the preset's
---worktree is closed after each, so the next starts again from the user's tree), and validates
---each there. o: prompt, runners (a runner name per candidate; nil entries: the routing decides),
---validate (a shell command run in the candidate's worktree; "" or nil: no validation, all pass),
---sandbox (default workspace-write). Returns the candidates, or the first step's result when
---nothing ran (a dry run, a CLI that is missing: see steps.planned).
function M.run(ctx, o)
  local out = {}
  for n, runner in ipairs(o.runners) do
    ctx:progress("candidate %d of %d%s", n, #o.runners, runner ~= "" and (" on " .. runner) or "")
    local r = ctx:agent({ kind = "implement", role = "candidate " .. n, sandbox = o.sandbox or "workspace-write",
      runner = runner ~= "" and runner or nil, prompt = o.prompt })
    if r.status == "dry_run" or r.status == "not_run" then
      preset_worktree.close(ctx)
      return nil, r
    end
    local c = { n = n, runner = r.route and r.route.runner or runner, run_id = r.run_id, status = r.status,
      why = r.why, output = r.output or "" }
    if r.status == "review" and o.validate and o.validate ~= "" then
      c.validation = validation.run({ { kind = "test", command = o.validate } }, { cwd = ctx:workdir() })
      c.passed = c.validation[1].ok == true
    else
      c.passed = r.status == "review"
    end
    local closed = preset_worktree.close(ctx) -- the folder goes; the branch keeps the result
    c.files = closed and closed.files or json.array({})
    ctx:progress("candidate %d %s: %s%s", n, c.run_id or "-", c.status, c.passed and ", passed" or ", did not pass")
    out[n] = c
  end
  return out
end

local function judge_prompt(task, shown)
  local sections = { { title = "Goal", required = true, content = "Several candidates did this task, each in a "
    .. "copy of the repository, and each passed its validation. Pick the best change.\n\nThe task:\n\n" .. task } }
  for _, c in ipairs(shown) do
    sections[#sections + 1] = { title = "Candidate " .. c.n, content = ("Files changed: %s\n\nIts report:\n%s\n\n"
      .. "Its change:\n```diff\n%s\n```"):format(#c.files > 0 and table.concat(c.files, ", ") or "none",
      c.report, c.patch) }
  end
  sections[#sections + 1] = { title = "Output format", required = true, content = "Exactly one fenced JSON block: "
    .. "{\"winner\": <the candidate's number>, \"reasons\": \"<why it is better than the others>\"}. Judge "
    .. "correctness first, then completeness, then the size and clarity of the change." }
  return prompt.compile(sections, { header = prompt_kit.worker_preamble({ role = "judge: you compare changes and "
    .. "pick the best", edits_allowed = false, inputs = { "the changes below" }, output_path = "your final message",
    privacy = prompt_kit.DEFAULT_PRIVACY, escalate_when = { "no candidate does the task" } }) })
end

---The judge's verdict over the candidates that passed (the runners' names are not shown). One
---passing candidate wins without a judge. Returns {ok = true, winner = candidate, reasons,
---judge_run?} or {ok = false, why}.
function M.judge(ctx, task, list, judge_runner)
  local shown = {}
  for _, c in ipairs(list) do
    if c.passed then
      local patch = patch_of(ctx, c.run_id) or ""
      -- Redacted, and controls shown rather than passed on (an agent's bytes, going to another agent).
      c.patch = visible(secrets.redact(#patch > M.PATCH_BYTES and (patch:sub(1, M.PATCH_BYTES) .. "\n[cut]") or patch))
      c.report = visible(secrets.redact(c.output))
      shown[#shown + 1] = c
    end
  end
  if #shown == 0 then
    return { ok = false, why = "no candidate passed validation" }
  elseif #shown == 1 then
    return { ok = true, winner = shown[1], reasons = "the only candidate that passed validation" }
  end
  -- The candidates keep their own numbers: the verdict must name one of those shown.
  local numbers, by_number = {}, {}
  for i, c in ipairs(shown) do
    numbers[i], by_number[c.n] = c.n, c
  end
  local spec = { type = "object", fields = { winner = { type = "integer", enum = numbers, required = true },
    reasons = M.VERDICT.fields.reasons } }
  local text, judge_run = judge_prompt(task, shown), nil
  local verdict = schema.enforce(function(suffix)
    local r = ctx:agent({ kind = "review", role = "judge", runner = judge_runner, prompt = text .. (suffix or "") })
    judge_run = r.run_id
    if r.status ~= "review" then
      return nil, ("%s %s: %s"):format(r.run_id or "the judge", r.status, tostring(r.why))
    end
    return r.output
  end, spec)
  if not verdict.ok then
    return { ok = false, judge_run = judge_run, why = "the judge could not decide: "
      .. (verdict.error or schema.format_problems(verdict.problems)) }
  end
  return { ok = true, winner = by_number[verdict.value.winner], reasons = verdict.value.reasons, judge_run = judge_run }
end

---Discards every candidate's result but the winner's (nil: all of them): their branches go, their
---records stay, each noting `candidate` {n, of, passed, winner} and its `validation`. Returns the
---ids discarded.
function M.settle(ctx, list, winner)
  local s, gone = ctx:store(), json.array({})
  for _, c in ipairs(list) do
    if c ~= winner and c.run_id then
      local ok, run = pcall(worktree_apply.discard, s, c.run_id)
      if ok and run then
        gone[#gone + 1] = c.run_id
      end
    end
    local run = c.run_id and s:get_run(c.run_id)
    if run then
      run.candidate = { n = c.n, of = #list, passed = c.passed, winner = c == winner }
      run.validation = c.validation and json.array(c.validation) or run.validation
      run_record.save(s, run)
    end
  end
  return gone
end

return M
