--- A run's control, whoever runs it: `run wait`, `run kill` and `run tail` on any run, foreground
--- or background, on this machine or another executor's (a Slurm job is asked of Slurm).
---
--- `run kill` leaves no process of a local run alive: its owner (the background worker, or the
--- foreground `sidecar`) is asked to stop as Ctrl-C would ask it, and stops its agent's group;
--- whatever is left after the owner has gone (a grandchild that left the group with setsid(), say)
--- is found by the mark every process of the run inherits and killed. A pid is only ever signalled
--- while it is still the recorded process (its start time, checked through a pidfd): never a
--- stranger that reused the number.
---
---   local run = run_control.wait(s, "R-0001", 60000)
---   run_control.kill(s, "R-0001")
---   run_control.tail(s, "R-0001", true, function(line, event) io.write(line) end)
local clock = require("sidecar.host.time")
local executor = require("sidecar.executor")
local json = require("sidecar.core.json")
local reconcile = require("sidecar.executor.reconcile").reconcile
local run_processes = require("sidecar.run.processes")
local procinfo = run_processes.host -- host.procinfo
local run_owner = require("sidecar.run.owner")
local run_reconcile = require("sidecar.run.reconcile")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")

local M = {}

local ACTIVE = store.ACTIVE
local KILL_WAIT_MS = 15000 -- for the worker to stop its agent (its grace is 2 s) and record the run
local LEFTOVER_GRACE_MS = 2000

local function sleep(ms)
  clock.sleep_ms(ms)
end

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---Waits until a run is no longer queued or running; a run whose worker died is ended then
---(sidecar.executor.reconcile), so this never waits for a dead worker. Returns the record, or nil, "timeout".
function M.wait(s, run_id, timeout_ms)
  local deadline = timeout_ms and now_ms() + timeout_ms
  while true do
    local run = s:get_run(run_id)
    if not run then
      return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
    end
    run = reconcile(s, run)
    if not ACTIVE[run.status] then
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

-- Stops a run whose owner runs others beside it (owner_shared: a preset's pool): a stop request
-- (run_owner.ask_to_stop), which its owner takes as an interrupt of that run alone; an owner that
-- has not ended the run within KILL_WAIT_MS gets SIGTERM (its other runs end too), then SIGKILL.
-- What happened, as run kill's reason says it.
local function stop_alone(s, run_id, owner)
  local me = procinfo.self()
  local asked, refused = run_owner.ask_to_stop(s.root, run_id, ("sidecar run kill, pid %d"):format(me and me.pid or 0))
  local ended, _, code
  if asked then
    ended, _, code = M.wait(s, run_id, KILL_WAIT_MS)
  end
  if ended or code == "not_found" then
    return "stopped it"
  end
  procinfo.signal(owner.pid, owner.start, "TERM")
  local alone = asked and "did not stop it alone" or ("could not be asked to stop it alone (" .. tostring(refused) .. ")")
  if wait_owner(owner, KILL_WAIT_MS) then
    return alone .. ", and was stopped with its other runs"
  end
  kill_owner(owner)
  wait_owner(owner, 5000)
  return ("%s, nor stopped within %d s of SIGTERM; it was killed with its other runs"):format(alone,
    KILL_WAIT_MS // 1000)
end

---Stops an active run, foreground or background, and every process of it: SIGTERM to its owner
---(the worker, or the foreground `sidecar`, which takes it as Ctrl-C: it stops the agent's process
---group with SIGTERM, grace, SIGKILL, records the run interrupted and exits); an owner that does
---not end within KILL_WAIT_MS is killed (a worker with its group). A run among others of one
---process (owner_shared: a preset's step in its pool) is asked to stop alone instead, and its
---owner is signalled only when it has not within KILL_WAIT_MS (stop_alone). Then whatever of the run is
---still alive (run_reconcile.stop_processes: grandchildren that left the group included) is
---stopped, and a run its owner did not record is settled as interrupted here (run_record.settle: a
---run.finished event, its task ready again, a preset's step's excepted). Signals reach the owner
---only while it is the recorded process (pid and start time).
function M.kill(s, run_id)
  local run = s:get_run(run_id)
  if not run then
    return nil, ("no run %s (see sidecar run list)"):format(run_id), "not_found"
  end
  if not ACTIVE[run.status] then
    return nil, ("run %s already ended: %s"):format(run_id, run.status), "bad_state"
  end
  if run.executor ~= nil and run.executor ~= "local" then -- a Slurm job: scancel (stdlib/sidecar/executor)
    return executor.kill(s, run)
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
  if live and run.owner_shared == true then
    -- one run among others of its process (a preset's pool): asked to stop alone
    who = ("the preset's pool (pid %d)"):format(live.pid)
    why = stop_alone(s, run_id, live)
  elseif live then
    procinfo.signal(live.pid, live.start, "TERM")
    if not wait_owner(live, KILL_WAIT_MS) then
      why = ("did not stop within %d s of SIGTERM; it was killed"):format(KILL_WAIT_MS // 1000)
      kill_owner(live)
      wait_owner(live, 5000)
    end
  end
  local lock = run_reconcile.try_lock(s, run_id)
  run = s:get_run(run_id)
  if not run then -- its record went meanwhile (`store` repair, a folder removed)
    if lock then
      lock:release()
    end
    return nil, ("run %s: %s %s, and its record is gone (see sidecar run list)"):format(run_id, who, why), "not_found"
  end
  local killed = run_reconcile.stop_processes(s, run, LEFTOVER_GRACE_MS)
  if ACTIVE[run.status] then
    run.status = "interrupted"
    run.failure_reason = ("%s %s; the run was stopped by sidecar run kill%s"):format(who, why,
      killed > 0 and (" (%d process%s of it killed)"):format(killed, killed == 1 and "" or "es") or "")
    run_record.settle(s, run)
  end
  if lock then
    lock:release()
  end
  return run
end

---What the agent said and ran, as text: "agent: ..." (each further line indented) and "$ command
---[exit N]" (a --pty run's screen, what was typed at it too); nil for any other event.
---@param e table  an event of events.jsonl, decoded
---@return string|nil
function M.said(e)
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

-- One event line for people: "12:00:01.234 agent.message  {...}", and the event itself.
local function event_line(line)
  local ok, e = json.try_decode(line)
  if not ok or type(e) ~= "table" then
    return line
  end
  local said = M.said(e)
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
    if not follow or not ACTIVE[run.status] then
      return run
    end
    sleep(200)
    run = reconcile(s, s:get_run(run_id) or run) -- a dead worker ends the following too
  end
end

return M
