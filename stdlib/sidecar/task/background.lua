--- Background runs: `sidecar run T-0001 --background` records the run, starts a detached
--- `sidecar run --worker R-…` that executes it (in a session of its own, so closing the terminal
--- does not end it), and returns the run id at once. `run tail`, `run wait` and `run kill` work
--- on any run through the store and the run's folder.
---
--- A worker that dies without recording an end (kill -9, a crash) is noticed by the next `run
--- list`, `run show`, `run wait` or `run tail -f` (stdlib/sidecar/run/reconcile.lua: the worker holds a
--- lock for its whole life), which ends the run and kills what is left of it; so is a foreground
--- `sidecar run` that dies. `run kill` works on any active run, foreground or background, and
--- leaves no process of it alive: its owner (the worker, or the foreground `sidecar`) is asked to
--- stop as Ctrl-C would ask it, and stops its agent's group; whatever is left after the owner has
--- gone (a grandchild that left the group with setsid(), say) is found by the mark every process
--- of the run inherits and killed. A pid is only ever signalled while it is still the recorded
--- process (its start time, checked through a pidfd): never a stranger that reused the number.
local clock = require("sidecar.host.time")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_processes = require("sidecar.run.processes")
local procinfo = run_processes.host -- host.procinfo
local run_reconcile = require("sidecar.run.reconcile")
local runs = require("sidecar.task.runs")

local M = {}

M.ACTIVE = run_reconcile.ACTIVE
M.reconcile = run_reconcile.reconcile
M.reconcile_active = run_reconcile.reconcile_active
local KILL_WAIT_MS = 15000 -- for the worker to stop its agent (its grace is 2 s) and record the run
local LEFTOVER_GRACE_MS = 2000

local function sleep(ms)
  clock.sleep_ms(ms)
end

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

-- The local executor's launcher: a detached worker on this machine. Returns the fields that name
-- it in the record ({worker_pid, worker_start}), or nil, why, errno.
local function launch_here(s, run)
  local log = s.root .. "/runs/" .. run.run_id .. "/worker.log"
  local started, pid = pcall(proc.detach, { proc.executable(), "run", "--worker", run.run_id, "--root", s.root },
    { cwd = runs.repo_of(s), stdout = log, stderr = log, env = { [run_reconcile.MARK_VARIABLE] = run.process_mark } })
  if not started then
    local why = type(pid) == "table" and pid.message or tostring(pid)
    return nil, "the background worker could not start: " .. why, type(pid) == "table" and pid.errno or nil
  end
  -- pid and start time together name the worker even after the pid is reused.
  return { worker_pid = pid, worker_start = run_reconcile.start_of(pid) }
end

---Records a queued run of `task` (its prompt compiled now, or extra.prompt as it is) and starts its
---worker. st: settings with one runner; extra: keep_session, resume, and for a replay
---parent_run_id, replay_reason. `launcher` (stdlib/sidecar/executor): {name, launch(s, run) ->
---fields for the record | nil, why, errno} starts the worker elsewhere (a Slurm job); default: a
---detached process here. Returns the run record or nil, message, code.
function M.start(s, cfg, task, st, extra, launcher)
  local text, budget = extra.prompt, nil
  if not text then
    text, budget = runs.compile(task, st)
  end
  -- The starting command is named in the record from the first write, so a reconciler can tell at
  -- once that it died before it recorded a worker (no grace period to wait out).
  local me = require("sidecar.host.procinfo").self() or {}
  local run, message, code = s:create_run({ task_id = task.task_id, runner_type = st.runner,
    starter_pid = me.pid, starter_start = me.start,
    agent_role = st.agent_role, model = st.model, sandbox = st.sandbox, status = "queued", background = true,
    executor = launcher and launcher.name or nil,
    prompt_tokens = budget and budget.estimated_tokens or require("sidecar.prompt.compile").estimate(text),
    prompt_budget = budget, parent_run_id = extra.parent_run_id, replay_reason = extra.replay_reason,
    launch = { runner = st.runner, agent_role = st.agent_role or json.null, model = st.model or json.null,
      effort = st.effort or json.null, search = st.search == nil and json.null or st.search, sandbox = st.sandbox,
      timeout_ms = st.timeout_ms, idle_timeout_ms = st.idle_timeout_ms,
      allow_full_auto = st.allow_full_auto or false, keep_session = extra.keep_session or false,
      resume = extra.resume or json.null, budget = st.budget or json.null, notify = st.notify or json.null,
      tty = require("sidecar.task.notices").terminal() or json.null, -- where a notice's bell rings
      pty = st.pty == true, on_stuck = st.on_stuck or json.null, -- stdlib/sidecar/agent/terminal.lua
      os_sandbox = st.os_sandbox or json.null, network = st.network or json.null, -- stdlib/sidecar/run/sandbox.lua
      parent_run_id = extra.parent_run_id or json.null, replay_reason = extra.replay_reason or json.null } },
      { { "prompt.md", text } })
  if not run then
    return nil, message, code
  end
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  -- Every process of the run inherits the mark, so `run kill` and a reconciler find them all.
  run.process_mark = run_reconcile.new_mark(run.run_id)
  -- The run's lock is held until the worker is recorded: the worker waits for it (claim), so
  -- nothing it writes is overwritten here, and no reconciler takes this start for a dead worker.
  local lock <close> = run_reconcile.try_lock(s, run.run_id)
  s:set_task_status(task.task_id, "queued")
  local fields, why, errno = (launcher and launcher.launch or launch_here)(s, run)
  if not fields then
    run.status, run.failure_reason = "failed", why
    run.completed_at = require("sidecar.core.store").now()
    assert(s:update_run(run))
    s:set_task_status(task.task_id, task.status)
    return nil, run.failure_reason, errno
  end
  for k, v in pairs(fields) do
    run[k] = v
  end
  assert(s:update_run(run))
  return run
end

local function v(x)
  return x ~= json.null and x or nil
end

---The run settings a background run's `launch` record holds (what M.start recorded of `st`).
---@param l table  run.launch
function M.launch_settings(l)
  return { runner = l.runner, agent_role = v(l.agent_role), model = v(l.model), effort = v(l.effort),
    search = v(l.search), sandbox = l.sandbox,
    timeout_ms = l.timeout_ms, idle_timeout_ms = l.idle_timeout_ms, allow_full_auto = l.allow_full_auto,
    budget = v(l.budget), notify = v(l.notify), pty = l.pty == true or nil, on_stuck = v(l.on_stuck),
    os_sandbox = v(l.os_sandbox), network = v(l.network) }
end

---The worker's side: executes the queued run `run_id` with the settings recorded at its start,
---holding the run's lock (run_reconcile.claim) from before the run is marked running until its
---end is recorded. `on_progress(line)` is given each progress line (optional). Returns the run
---record or nil, message, code.
function M.work(s, cfg, run_id, on_progress)
  if not s:get_run(run_id) then
    return nil, ("no run %s"):format(run_id), "not_found"
  end
  local lock, why, code = run_reconcile.claim(s, run_id)
  if not lock then
    return nil, why, code
  end
  -- Read again under the lock: a reconciler may have ended the run while this worker started.
  local run = assert(s:get_run(run_id))
  if run.status ~= "queued" or type(run.launch) ~= "table" then
    lock:release()
    return nil, ("run %s is not a queued background run (status %s)"):format(run_id, tostring(run.status)), "bad_state"
  end
  if run.worker_start == nil then -- the starting command died before it recorded this worker
    local me = require("sidecar.host.procinfo").self()
    run.worker_pid, run.worker_start = me and me.pid or json.null, me and me.start or json.null
    assert(s:update_run(run))
  end
  local task = s:get_task(run.task_id)
  if not task then
    lock:release()
    return nil, ("run %s belongs to task %s, which no longer exists"):format(run_id, tostring(run.task_id)), "not_found"
  end
  local l = run.launch
  local st = M.launch_settings(l)
  st.on_progress = on_progress
  local dir = assert(s:run_dir(run_id))
  local text = dir:read("prompt.md")
  dir:close()
  -- (agent_run records the agent's process group itself: agent_process.json)
  local ok, result, message, err_code = pcall(runs.run_step, s, cfg, task, st, { run_id = run_id, prompt = text,
    keep_session = l.keep_session, resume = v(l.resume), parent_run_id = v(l.parent_run_id),
    replay_reason = v(l.replay_reason) })
  if not ok then
    -- Stopped (SIGTERM, Ctrl-C): the agent's group is gone; so is anything that escaped it.
    run_reconcile.stop_processes(s, s:get_run(run_id) or run, LEFTOVER_GRACE_MS)
  end
  lock:release() -- the run's end is recorded (by agent_run, even when interrupted)
  if not ok then
    error(result, 0)
  end
  -- The config's reactions (fix runs), run by this worker after the run's own end; not by a worker
  -- on a Slurm node, whose scratch store cannot number new runs (stdlib/sidecar/executor/node.lua).
  if result and not s.scratch then
    result = runs.react(s, cfg, task, st, result)
  end
  -- The person who started it is told it ended (its --notify, the config's notify, notify-send);
  -- for a run on a Slurm node, by the submitting side, where its terminal is
  -- (stdlib/sidecar/executor/slurm_react.lua).
  local ended = result or s:get_run(run_id)
  if ended and not s.scratch then
    require("sidecar.task.notices").run_ended(s, cfg, ended, v(l.notify))
  end
  return result, message, err_code
end

---Waits until a run is no longer queued or running; a run whose worker died is ended then
---(run_reconcile), so this never waits for a dead worker. Returns the record, or nil, "timeout".
function M.wait(s, run_id, timeout_ms)
  local deadline = timeout_ms and now_ms() + timeout_ms
  while true do
    local run = s:get_run(run_id)
    if not run then
      return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
    end
    run = run_reconcile.reconcile(s, run)
    if not M.ACTIVE[run.status] then
      return run
    end
    if deadline and now_ms() >= deadline then
      return nil, ("run %s is still %s after %d ms"):format(run_id, run.status, timeout_ms), "timeout"
    end
    sleep(100)
  end
end

-- The run's owner (the background worker, or the foreground `sidecar`) as recorded, when it is
-- still that process (pid and start time): {pid, start}; nil otherwise, and nil when no start time
-- was recorded (nothing would tell the owner from a stranger that reused its pid).
local function live_owner(run)
  local owner = run_reconcile.owner(run)
  if owner and owner.start and run_processes.same(owner.pid, owner.start) then
    return owner
  end
end

-- Polls until the owner process has ended, for at most `ms`; true when it has. (It lets go of the
-- run's lock just before it exits: "no process of the run" includes the owner.)
local function wait_owner(owner, ms)
  local deadline = now_ms() + ms
  while run_processes.same(owner.pid, owner.start) do
    if now_ms() >= deadline then
      return false
    end
    sleep(50)
  end
  return true
end

-- SIGKILL to the owner and, when it leads a process group of its own (a worker does), to the
-- members of that group in its session that started after it: each one checked, one at a time.
local function kill_owner(owner)
  local p = procinfo.get(owner.pid)
  if p and p.pgid == owner.pid then
    for _, m in ipairs(procinfo.group(owner.pid)) do
      if m.sid == p.sid and m.start >= owner.start then
        procinfo.signal(m.pid, m.start, "KILL")
      end
    end
  end
  procinfo.signal(owner.pid, owner.start, "KILL")
end

---Stops an active run, foreground or background, and every process of it: SIGTERM to its owner
---(the worker, or the foreground `sidecar`, which takes it as Ctrl-C: it stops the agent's process
---group with SIGTERM, grace, SIGKILL, records the run interrupted and exits); an owner that does
---not end within KILL_WAIT_MS is killed (a worker with its group). Then whatever of the run is
---still alive (run_reconcile.stop_processes: grandchildren that left the group included) is
---stopped, and a run its owner did not record is recorded as interrupted here. Signals reach the
---owner only while it is the recorded process (pid and start time).
function M.kill(s, run_id)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  if not M.ACTIVE[run.status] then
    return nil, ("run %s already ended: %s"):format(run_id, run.status), "bad_state"
  end
  if run.executor ~= nil and run.executor ~= "local" then -- a Slurm job: scancel (stdlib/sidecar/executor)
    return require("sidecar.executor").kill(s, run)
  end
  local owner = run_reconcile.owner(run)
  if not owner and run.background ~= true then
    return nil, ("run %s names no owner process (recorded by an older Sidecar): stop it with Ctrl-C where it runs")
      :format(run_id), "bad_state"
  end
  local who = ("the %s%s"):format(run.background == true and "background worker" or "sidecar process running it",
    owner and (" (pid %d)"):format(owner.pid) or "")
  local live = live_owner(run)
  local why = live and "stopped" or "is gone"
  if live then
    procinfo.signal(live.pid, live.start, "TERM")
    if not wait_owner(live, KILL_WAIT_MS) then
      why = ("did not stop within %d s of SIGTERM; it was killed"):format(KILL_WAIT_MS // 1000)
      kill_owner(live)
      wait_owner(live, 5000)
    end
  end
  local lock = run_reconcile.try_lock(s, run_id)
  run = assert(s:get_run(run_id))
  local killed = run_reconcile.stop_processes(s, run, LEFTOVER_GRACE_MS)
  if M.ACTIVE[run.status] then
    run.status = "interrupted"
    run.failure_reason = ("%s %s; the run was stopped by sidecar run kill%s"):format(who, why,
      killed > 0 and (" (%d process%s of it killed)"):format(killed, killed == 1 and "" or "es") or "")
    run.completed_at = require("sidecar.core.store").now()
    assert(s:update_run(run))
    local task = s:get_task(run.task_id)
    if task and (task.status == "running" or task.status == "queued") then
      s:set_task_status(run.task_id, "ready")
    end
  end
  if lock then
    lock:release()
  end
  return run
end

-- One event line for people: "12:00:01.234 agent.message  {...}", and the event itself.
-- What the agent said and ran, as text: "agent: ..." (each further line indented) and "$ command
-- [exit N]"; nil for any other event.
local function agent_text(e)
  local f = type(e.fields) == "table" and e.fields or {}
  if e.kind == "agent.message" and type(f.text) == "string" then
    return "agent: " .. f.text:gsub("\n+$", ""):gsub("\n", "\n                                ")
  elseif e.kind == "agent.command" and type(f.command) == "string" then
    local exit = math.type(f.exit_code) and (" [exit " .. f.exit_code .. "]") or ""
    return "$ " .. f.command:gsub("\n", " ") .. exit
  elseif e.kind == "agent.terminal" and type(f.text) == "string" then -- a --pty run's screen, as text
    return "| " .. f.text:gsub("\n", "\n                                | ")
  elseif e.kind == "terminal.input" then
    local typed = type(f.text) == "string" and ("%q"):format(f.text) or ("key " .. tostring(f.key))
    return ("typed %s%s (%s)"):format(typed, f.enter == true and " + enter" or "", tostring(f.by))
  end
end

local function event_line(line)
  local ok, e = json.try_decode(line)
  if not ok or type(e) ~= "table" then
    return line
  end
  local said = agent_text(e)
  if said then
    local ts = type(e.ts) == "string" and e.ts:match("T([%d:.]+)") or ""
    return ("%s %-22s %s"):format(ts, tostring(e.kind), said), e
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
    run = run_reconcile.reconcile(s, s:get_run(run_id) or run) -- a dead worker ends the following too
  end
end

return M
