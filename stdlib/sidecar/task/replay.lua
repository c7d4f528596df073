--- `sidecar run replay`: a new run of a run's task, linked to it (lineage kind "replay", with
--- its reason), on the run's own settings unless the options change them; with the same prompt, an
--- edited one, or the task's prompt compiled again; in this process or by a background worker.
---
---   local result = replay.replay(s, cfg, "R-0003", { reason = "flaky", same_prompt = true })
local json = require("sidecar.core.json")
local runs = require("sidecar.task.runs")

local M = {}

local function stored_prompt(s, run)
  return runs.run_file(s, run, "prompt.md")
end

---Opens `path` in $VISUAL or $EDITOR (on the terminal) and returns its new text, or nil, why.
function M.edit(path)
  local editor = os.getenv("VISUAL") or os.getenv("EDITOR")
  if not editor or editor == "" then
    return nil, "--edit-prompt needs $VISUAL or $EDITOR set to an editor"
  end
  local ok = os.execute(editor .. " '" .. path:gsub("'", "'\\''") .. "'")
  if not ok then
    return nil, ("the editor (%s) failed; the replay was not started"):format(editor)
  end
  local f = io.open(path, "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  if not text or text:match("^%s*$") then
    return nil, "the edited prompt is empty; the replay was not started"
  end
  return text
end

---A new run of a run's task, linked to it with replay_reason. o: reason, runner, agent_role,
---model, effort, search, no_search (default: the run's own), sandbox, timeout, dry_run, same_prompt,
---edit_prompt, background (a worker runs it: the run is returned queued). Returns {steps = {run}} or
---nil, message, code ("not_found" for an unknown run or task, "usage" for bad options).
function M.replay(s, cfg, run_id, o)
  local parent = s:get_run(run_id)
  if not parent then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  local task = s:get_task(parent.task_id or "")
  if not task then
    return nil, ("run %s belongs to task %s, which no longer exists"):format(run_id, tostring(parent.task_id)),
        "not_found"
  end
  local st, why = runs.settings(cfg, task, { runner = o.runner or parent.runner_type,
    agent_role = o.agent_role or parent.agent_role, model = o.model or parent.model, sandbox = o.sandbox or parent.sandbox,
    effort = o.effort or parent.effort, search = o.search or (not o.no_search and parent.search == true) or nil,
    no_search = o.no_search or (not o.search and parent.search == false) or nil,
    allow_full_auto = o.allow_full_auto, timeout = o.timeout, idle_timeout = o.idle_timeout, dry_run = o.dry_run,
    on_progress = o.on_progress, budget_tokens = o.budget_tokens, budget_usd = o.budget_usd,
    budget_allow_unknown = o.budget_allow_unknown })
  if not st then
    return nil, why, "usage"
  end
  if #st.runners ~= 1 then
    return nil, "replay runs one runner: give --runner one name", "usage"
  end
  st.runner = st.runners[1]
  local extra = { parent_run_id = parent.run_id, replay_reason = o.reason or json.null }
  if o.same_prompt then
    extra.prompt = stored_prompt(s, parent)
    if not extra.prompt then
      return nil, ("run %s has no stored prompt (runs/%s/prompt.md is missing)"):format(run_id, run_id), "not_found"
    end
  end
  if o.edit_prompt then
    extra.prompt = extra.prompt or runs.compile(task, st)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(extra.prompt)
    f:close()
    extra.prompt, why = M.edit(path)
    os.remove(path)
    if not extra.prompt then
      return nil, why, "edit_failed"
    end
  end
  local run, message, code
  if o.background and not st.dry_run then -- a worker runs it (required here: background requires this module)
    run, message, code = require("sidecar.task.background").start(s, cfg, task, st, extra)
  else
    run, message, code = runs.run_step(s, cfg, task, st, extra)
  end
  if not run then
    return nil, message, code
  end
  return { steps = { run } }
end


return M
