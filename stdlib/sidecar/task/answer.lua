--- Answering a run that ended with a question or a blocker (`sidecar run answer R-0003 TEXT`):
--- a new run of the same task whose prompt is the answer, linked to the run it answers ("answer").
--- When that run kept its agent session (--keep-session, --continue, or an earlier answer), the
--- answer goes into the same session (codex exec resume, claude --resume) and the new run's
--- usage is its own share of the session's; when the session is gone (first-pass runs are
--- ephemeral), a new session is given the task's prompt, what the agent said and the answer.
local agent_run = require("sidecar.agent.run")
local runs = require("sidecar.task.runs")
local text = require("sidecar.core.text")

local M = {}

---The most of an answer kept (longer ones are refused: an answer is a reply, not a document).
M.MAX_ANSWER_BYTES = 64 * 1024

local ASKED = { question = true, blocked = true }

-- The prompt of a new session: what the first one was told and said, then the answer.
local function fresh_prompt(s, run, answer)
  local told = runs.run_file(s, run, "prompt.md") or "(the prompt was not kept)"
  local said = runs.run_file(s, run, "output.md") or run.summary or "(the answer was not kept)"
  return table.concat({
    "You worked on the task below and stopped with a question or a blocker. It has been answered: continue the "
      .. "task with this answer, under the same rules and output format.",
    "", "## The answer", "", answer, "",
    "## What you said when you stopped", "", text.rtrim(tostring(said)), "",
    "## The task you were given", "", text.rtrim(told), "",
  }, "\n")
end

-- Checks the run and the answer. Returns the run and its task, or nil, why, code.
local function answerable(s, run_id, answer)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  if run.status == "running" or run.status == "queued" then
    return nil, ("run %s is still %s: wait for it to end (sidecar run wait %s)"):format(run_id, run.status, run_id),
      "usage"
  end
  local said = type(run.markers) == "table" and run.markers.status
  if not ASKED[said] then
    return nil, ("run %s did not end with [QUESTION] or [BLOCKED] (it ended %s): there is nothing to answer; "
      .. "sidecar run replay %s runs its task again"):format(run_id, run.status, run_id), "usage"
  end
  if answer:match("^%s*$") then
    return nil, "the answer is empty: sidecar run answer " .. run_id .. " \"TEXT\"", "usage"
  end
  if #answer > M.MAX_ANSWER_BYTES then
    return nil, ("the answer has %d bytes, more than the %d an answer may have"):format(#answer, M.MAX_ANSWER_BYTES),
      "usage"
  end
  local task = s:get_task(run.task_id or "")
  if not task then
    return nil, ("run %s belongs to task %s, which no longer exists"):format(run_id, tostring(run.task_id)), "not_found"
  end
  return run, task
end

---Answers run `run_id` with `answer`. o: model, timeout, idle_timeout, dry_run, on_progress (as
---for a replay; the runner, role and sandbox are the answered run's). Returns {steps = {run},
---same_session = bool}, or nil, why, code ("not_found", "usage" or a run's code).
---@param s table  the open store
---@param cfg table
---@param run_id string
---@param answer string
---@param o? table
function M.answer(s, cfg, run_id, answer, o)
  o = o or {}
  local run, task, code = answerable(s, run_id, answer)
  if not run then
    return nil, task, code
  end
  local st, why = runs.settings(cfg, task, { runner = run.runner_type, agent_role = run.agent_role,
    model = o.model or run.model, sandbox = run.sandbox, timeout = o.timeout, idle_timeout = o.idle_timeout,
    dry_run = o.dry_run, on_progress = o.on_progress })
  if not st then
    return nil, why, "usage"
  end
  st.runner = run.runner_type
  local extra = { parent_run_id = run.run_id, link_kind = "answer", answer = answer, keep_session = true }
  -- The run's own session when it kept one (agent_run.continuation says why not, otherwise).
  extra.resume = agent_run.continuation(run)
  local same = extra.resume ~= nil
  extra.prompt = same and answer or fresh_prompt(s, run, answer)
  local result, message, rcode = runs.run_step(s, cfg, task, st, extra)
  if not result then
    return nil, message, rcode
  end
  return { steps = { result }, same_session = same }
end

return M
