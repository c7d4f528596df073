-- Best of N: the same task to several runners (or models), then a judge picks the best answer.
-- (For changes to the code, use the built-in preset: `sidecar preset run best-of-n`, whose
-- candidates each write in a worktree of their own and are validated before the judge.)
-- Shows: a preset context outside a preset (preset_context.new), one agent per runner, a judge
-- prompt built from prompt_kit pieces, and its JSON answer checked with schema.enforce (one
-- re-prompt, then it says so).
--
--   sidecar script examples/best_of_n.lua [--repo DIR] [--runners R[:MODEL],...] [--judge R[:MODEL]] TASK...
--   sidecar script examples/best_of_n.lua --runners codex,claude,codex:gpt-5.5 "Name this CLI flag"
--
-- The candidates are read-only (they answer in their final message; no files change) and run one
-- after another, each with its own runner. Every run is recorded in DIR/.agent like a preset's.
-- Prints each candidate's run, the winner and why, then the winning answer. Exit 1 when no
-- candidate finished or the judge could not decide.
local preset_context = require("sidecar.preset.context")
local prompt = require("sidecar.prompt.compile")
local prompt_kit = require("sidecar.prompt.kit")
local runners = require("sidecar.agent.runners")
local schema = require("sidecar.preset.schema")

local EXAMPLE = { name = "best-of-n", summary = "best of N answers, picked by a judge" }

-- Options (--repo DIR, --runners LIST, --judge R[:MODEL]); the other words are the task.
local o, words = { repo = ".", runners = "codex,claude" }, {}
local OPTIONS = { ["--repo"] = "repo", ["--runners"] = "runners", ["--judge"] = "judge" }
local i = 1
while i <= #arg do
  if OPTIONS[arg[i]] and arg[i + 1] then
    o[OPTIONS[arg[i]]], i = arg[i + 1], i + 2
  else
    words[#words + 1], i = arg[i], i + 1
  end
end
local task = table.concat(words, " ")
if task == "" then
  io.stderr:write("usage: sidecar script examples/best_of_n.lua [--repo DIR] [--runners R[:MODEL],...] "
    .. "[--judge R[:MODEL]] TASK...\n")
  os.exit(2)
end

-- "codex:gpt-5.5" -> {runner = "codex", model = "gpt-5.5"}
local function runner_model(text)
  local runner, model = text:match("^([^:]+):?(.*)$")
  return { runner = runner, model = model ~= "" and model or nil }
end

-- A context whose every agent goes to one runner (what --runner and --model do for a preset);
-- no runner: the routing of .agent/config.lua decides.
local function context(rm)
  local ctx = preset_context.new({ repo = o.repo, preset = EXAMPLE, runner = rm and rm.runner,
    model = rm and rm.model, on_progress = function(line) io.stderr:write(line, "\n") end })
  if rm then
    local known, why = runners.get(rm.runner) -- the config's own runners are registered by now
    if not known then
      io.stderr:write(why, "\n")
      os.exit(2)
    end
  end
  return ctx
end

local function preamble(role)
  return prompt_kit.worker_preamble({ role = role, edits_allowed = false, inputs = { "the files of this repository" },
    output_path = "your final message", privacy = prompt_kit.DEFAULT_PRIVACY,
    escalate_when = { "the task cannot be answered from what you may read" } })
end

-- 1. The candidates: the same prompt to every runner (contexts first, so a typo stops us early).
local candidates = {}
for text in o.runners:gmatch("[^,]+") do
  local rm = runner_model(text)
  candidates[#candidates + 1] = { n = #candidates + 1, runner = rm.runner, model = rm.model or "-", ctx = context(rm) }
end
local judge_ctx = context(o.judge and runner_model(o.judge))

local sections = prompt_kit.context_pack({ goal = task, non_goals = { "Changing any file" },
  success_check = "A reader can act on the answer without asking a follow-up question." })
sections[#sections + 1] = { title = "Output format", content = "Markdown: the answer first, then the reasons." }
local candidate_prompt = prompt.compile(sections,
  { header = preamble("candidate: you answer the task as well as you can") })

for _, c in ipairs(candidates) do
  local r = c.ctx:agent({ kind = "draft", role = "candidate", prompt = candidate_prompt })
  c.ctx:close()
  c.run_id, c.status, c.why, c.answer = r.run_id or "-", r.status, r.why, r.status == "review" and r.output or nil
end

print("Task: " .. task)
for _, c in ipairs(candidates) do
  print(("  %d  %-8s %-12s %-7s %s"):format(c.n, c.runner, c.model, c.run_id,
    c.answer and "finished" or (c.status .. ": " .. tostring(c.why))))
end
local finished = {}
for _, c in ipairs(candidates) do
  if c.answer then
    finished[#finished + 1] = c
  end
end
if #finished == 0 then
  judge_ctx:close()
  print("No candidate finished: nothing to judge.")
  os.exit(1)
end

-- 2. The judge: the finished answers, without the runners' names (no brand loyalty), and a JSON verdict.
local winner, why
if #finished == 1 then
  winner, why = finished[1], "the only candidate that finished"
else
  local jsections = { { title = "Goal", content = "Pick the best answer to this task:\n\n" .. task, required = true } }
  for k, c in ipairs(finished) do
    jsections[#jsections + 1] = { title = "Candidate " .. k, content = c.answer }
  end
  jsections[#jsections + 1] = { title = "Output format", required = true, content = "Exactly one fenced JSON "
    .. "block: {\"winner\": <the candidate's number>, \"why\": \"<one or two sentences>\"}. Judge correctness "
    .. "first, then completeness, then clarity." }
  local judge_prompt = prompt.compile(jsections, { header = preamble("judge: you compare answers and pick the best") })
  local spec = { type = "object", fields = {
    winner = { type = "integer", min = 1, max = #finished, required = true },
    why = { type = "string", non_empty = true, required = true } } }
  local verdict = schema.enforce(function(suffix)
    local r = judge_ctx:agent({ kind = "review", role = "judge", prompt = judge_prompt .. (suffix or "") })
    if r.status ~= "review" then
      return nil, ("%s %s: %s"):format(r.run_id or "the judge", r.status, tostring(r.why))
    end
    return r.output
  end, spec)
  judge_ctx:close()
  if not verdict.ok then
    print("The judge could not decide: " .. (verdict.error or schema.format_problems(verdict.problems)))
    os.exit(1)
  end
  winner, why = finished[verdict.value.winner], verdict.value.why
end

-- 3. The winner.
print(("Winner: candidate %d (%s, %s)"):format(winner.n, winner.runner, winner.run_id))
print("Why: " .. why)
print("")
io.write((winner.answer:gsub("%s*$", "\n")))
