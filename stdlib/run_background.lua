--- Background runs: `sidecar run T-0001 --background` records the run, starts a detached
--- `sidecar run --worker R-…` that executes it (in a session of its own, so closing the terminal
--- does not end it), and returns the run id at once. `run tail`, `run wait` and `run kill` work
--- on any run through the store and the run's folder.
local clock = require("host.time")
local json = require("json")
local proc = require("proc")
local runs = require("runs")

local M = {}

M.ACTIVE = { queued = true, preparing = true, running = true }
local KILL_WAIT_MS = 15000

local function sleep(ms)
  clock.sleep_ms(ms)
end

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---Records a queued run of `task` (its prompt compiled now) and starts its worker. st: settings
---with one runner; extra: keep_session, resume. Returns the run record or nil, message, code.
function M.start(s, cfg, task, st, extra)
  local text, budget = runs.compile(task, st)
  local run, message, code = s:create_run({ task_id = task.task_id, runner_type = st.runner,
    agent_role = st.agent_role, model = st.model, sandbox = st.sandbox, status = "queued", background = true,
    prompt_tokens = budget.estimated_tokens, prompt_budget = budget,
    launch = { runner = st.runner, agent_role = st.agent_role or json.null, model = st.model or json.null,
      sandbox = st.sandbox, timeout_ms = st.timeout_ms, idle_timeout_ms = st.idle_timeout_ms,
      allow_full_auto = st.allow_full_auto or false, keep_session = extra.keep_session or false,
      resume = extra.resume or json.null } }, { { "prompt.md", text } })
  if not run then
    return nil, message, code
  end
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  local log = s.root .. "/runs/" .. run.run_id .. "/worker.log"
  local pid, why, errno = proc.detach({ proc.executable(), "run", "--worker", run.run_id, "--root", s.root },
    { cwd = runs.repo_of(s), stdout = log, stderr = log })
  if not pid then
    run.status, run.failure_reason = "failed", "the background worker could not start: " .. tostring(why)
    assert(s:update_run(run))
    return nil, run.failure_reason, errno
  end
  run.worker_pid = pid
  assert(s:update_run(run))
  s:set_task_status(task.task_id, "queued")
  return run
end

---The worker's side: executes the queued run `run_id` with the settings recorded at its start.
---Returns the run record or nil, message, code.
function M.work(s, cfg, run_id)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s"):format(run_id), "not_found"
  end
  if run.status ~= "queued" or type(run.launch) ~= "table" then
    return nil, ("run %s is not a queued background run (status %s)"):format(run_id, tostring(run.status)), "bad_state"
  end
  local task = s:get_task(run.task_id)
  if not task then
    return nil, ("run %s belongs to task %s, which no longer exists"):format(run_id, tostring(run.task_id)), "not_found"
  end
  local l = run.launch
  local function v(x)
    return x ~= json.null and x or nil
  end
  local st = { runner = l.runner, agent_role = v(l.agent_role), model = v(l.model), sandbox = l.sandbox,
    timeout_ms = l.timeout_ms, idle_timeout_ms = l.idle_timeout_ms, allow_full_auto = l.allow_full_auto }
  local dir = assert(s:run_dir(run_id))
  local text = dir:read("prompt.md")
  dir:close()
  return runs.run_step(s, cfg, task, st, { run_id = run_id, prompt = text, keep_session = l.keep_session,
    resume = v(l.resume) })
end

---Waits until a run is no longer queued or running. Returns the record, or nil, "timeout".
function M.wait(s, run_id, timeout_ms)
  local deadline = timeout_ms and now_ms() + timeout_ms
  while true do
    local run = s:get_run(run_id)
    if not run then
      return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
    end
    if not M.ACTIVE[run.status] then
      return run
    end
    if deadline and now_ms() >= deadline then
      return nil, ("run %s is still %s after %d ms"):format(run_id, run.status, timeout_ms), "timeout"
    end
    sleep(100)
  end
end

---Stops a background run: SIGTERM to its worker, which stops the agent and records the run as
---interrupted. A worker that is already gone has its run recorded as interrupted here.
function M.kill(s, run_id)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  if not M.ACTIVE[run.status] then
    return nil, ("run %s already ended: %s"):format(run_id, run.status), "bad_state"
  end
  local pid = math.tointeger(run.worker_pid)
  if not pid then
    return nil, ("run %s is not a background run: stop it with Ctrl-C where it runs"):format(run_id), "bad_state"
  end
  if proc.alive(pid) then
    proc.signal(pid, "TERM")
    local ended = M.wait(s, run_id, KILL_WAIT_MS)
    if ended then
      return ended
    end
    proc.signal(pid, "KILL", { group = true })
  end
  run = assert(s:get_run(run_id))
  if M.ACTIVE[run.status] then
    run.status, run.failure_reason = "interrupted", ("the background worker (pid %d) is gone; the run was "
      .. "stopped by sidecar run kill"):format(pid)
    run.completed_at = require("store").now()
    assert(s:update_run(run))
    s:set_task_status(run.task_id, "ready")
  end
  return run
end

-- One event line for people: "12:00:01.234 agent.message  {...}", and the event itself.
local function event_line(line)
  local ok, e = pcall(json.decode, line)
  if not ok or type(e) ~= "table" then
    return line
  end
  local fields = e.fields ~= nil and json.encode(e.fields) or ""
  if #fields > 300 then
    fields = fields:sub(1, 297) .. "..."
  end
  local ts = type(e.ts) == "string" and e.ts:match("T([%d:.]+)") or ""
  return ("%s %-22s %s"):format(ts, tostring(e.kind), fields), e
end

---Hands a run's events (runs/R-…/events.jsonl) to `write(line_for_people, event)`; with
---`follow`, goes on until the run has ended and every event is handed over. Returns the final
---record.
function M.tail(s, run_id, follow, write)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  local path = s.root .. "/runs/" .. run_id .. "/events.jsonl"
  local offset, pending = 0, ""
  while true do
    local f = io.open(path, "rb")
    if f then
      f:seek("set", offset)
      local chunk = f:read("a") or ""
      f:close()
      offset = offset + #chunk
      pending = pending .. chunk
      local from = 1
      while true do
        local nl = pending:find("\n", from, true)
        if not nl then
          break
        end
        local text, event = event_line(pending:sub(from, nl - 1))
        write(text .. "\n", event)
        from = nl + 1
      end
      pending = pending:sub(from)
    end
    if not follow or not M.ACTIVE[run.status] then
      return run
    end
    sleep(200)
    run = s:get_run(run_id) or run
  end
end

return M
