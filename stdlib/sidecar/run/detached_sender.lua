--- A sender started off a run's path: what it sends is queued in a file of the store, then a detached
--- `sidecar` process (its own session, reaped by nobody's wait) reads it, sends it within its own
--- time limits and retries, and removes it (claimed first, so that one killed meanwhile leaves it to
--- be sent again: M.claim, M.recover). Notifications (stdlib/sidecar/run/notify.lua) and
--- OpenTelemetry exports (stdlib/sidecar/run/otel.lua) go this way, so a slow or dead endpoint
--- costs a run nothing. Each sender logs its attempts in a file of its folder (kept to its last lines
--- by dir:keep_last_lines).
---
--- A sender carries a mark of its own in SIDECAR_RUN_MARK (sidecar.run.processes' variable): never a
--- run's, so the sweep of a run still ending in this process (which adopts orphans while an agent
--- runs) does not take it for the agent's. What a sender starts (a command channel's program) carries
--- that mark and the sender's pid and start (M.children_mark): a sender killed while it ran one
--- leaves its grandchildren, which no parent-death signal reaches, and M.recover ends them.
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local procinfo = require("sidecar.host.procinfo")
local run_processes = require("sidecar.run.processes")

local M = {}

---Queues `payload` (as JSON) in `file` of the open folder `d`, then starts `argv` detached with
---`mark`. True, or false and why it could not start (its queued file removed).
---@param d table  an open artifact folder
---@param file string  relative to d
---@param payload table
---@param argv string[]
---@param mark string
---@return boolean started, string? why
function M.start(d, file, payload, argv, mark)
  local ok, why = d:write(file, json.encode(payload))
  if not ok then
    return false, why
  end
  local started, err = pcall(proc.detach, argv,
    { stdout = "/dev/null", stderr = "/dev/null", env = { SIDECAR_RUN_MARK = mark } })
  if not started then
    os.remove(d:root() .. "/" .. file)
  end
  return started, not started and (type(err) == "table" and err.message or tostring(err)) or nil
end

M.UNCLAIMED_MS = 600000 -- a queued file no sender took in this time: its sender never started, or died first

-- This machine's name, as a claim holds it (a store on a shared file system: a Slurm node's sender
-- is alive there, not here).
local function host_name()
  local name = require("sidecar.core.files").read("/proc/sys/kernel/hostname") or "?"
  return ((name:match("^%s*(.-)%s*$")):gsub("[^%w.-]", "_"))
end

-- The start time of process `pid` (since boot), or nil when it is gone or a zombie.
local function started_at(pid)
  local info = procinfo.get(pid)
  return info and info.state ~= "Z" and info.start or nil
end

-- The name of this process's claim of the queued `file`.
local function claim_name(file)
  local me = procinfo.self()
  return ("%s.sending~%s~%d~%d"):format(file, host_name(), me.pid, started_at(me.pid) or 0)
end

-- The mark of what the sender with `mark`, `pid` and `start` starts.
local function mark_of_children(mark, pid, start)
  return ("%s~%d~%d"):format(mark, pid, start)
end

---The mark (SIDECAR_RUN_MARK) this sender gives what it starts: its own mark (as it was started
---with), pid and start, which its claims name too; M.recover ends what still carries it once this
---sender is found gone.
---@return string
function M.children_mark()
  local me = procinfo.self()
  return mark_of_children(os.getenv(run_processes.MARK_VARIABLE) or "sidecar-sender", me.pid,
    started_at(me.pid) or 0)
end

-- Ends (SIGKILL) every process carrying `mark`, found again until no new one is (one that forked
-- meanwhile is found in the next round; a few rounds at most). Returns how many were ended.
local function end_marked(mark)
  local killed, count = {}, 0
  for _ = 1, 5 do
    local new = 0
    for _, p in ipairs(procinfo.with_env(run_processes.MARK_VARIABLE .. "=" .. mark)) do
      local key = p.pid .. "~" .. p.start
      if not killed[key] and p.state ~= "Z" and procinfo.signal(p.pid, p.start, "KILL") then
        killed[key], new = true, new + 1
      end
    end
    count = count + new
    if new == 0 then
      break
    end
  end
  return count
end

---Claims the queued `file` of the open folder `d` for this sender: renamed to
---`file.sending~HOST~PID~START` (this process, on this machine), which it removes once it has sent
---it (M.done) or said why it could not. A sender killed meanwhile leaves the claim, which M.recover
---queues again. The claimed name, or nil when another sender claimed it first (or it is gone).
---@param d table
---@param file string
---@return string|nil claimed
function M.claim(d, file)
  local claimed = claim_name(file)
  return os.rename(d:root() .. "/" .. file, d:root() .. "/" .. claimed) and claimed or nil
end

---Removes a claimed file (M.claim's name): what it held was sent, or its failure recorded.
function M.done(d, claimed)
  os.remove(d:root() .. "/" .. claimed)
end

-- Why what `path` (in queue/) holds is to be sent again, or nil: a claim of this machine's whose
-- sender is gone (its pid no more, or another process's now; also its {pid, start}), or a file no
-- sender claimed in time.
local function lost(d, path, now)
  local file, host, pid, start = path:match("^(queue/[%w-]+%.json)%.sending~([^~/]+)~(%d+)~(%d+)$")
  if file then
    pid, start = math.tointeger(tonumber(pid)), math.tointeger(tonumber(start))
    local alive = pid and started_at(pid)
    if host == host_name() and not (alive and alive == start) then
      return file, "its sender ended before it was done (killed, or the machine stopped)",
        pid and start and { pid = pid, start = start } or nil
    end
    return nil
  end
  local st = path:match("^queue/[%w-]+%.json$") and require("sidecar.host.paths").lstat(d:root() .. "/" .. path)
  if st and now - st.mtime_ns // 1000000 > M.UNCLAIMED_MS then
    return path, "no sender took it in 10 minutes (none started, or it died first)"
  end
  return nil
end

-- Puts the lost `path` back in the queue as `file`, young again: taken first under this process's
-- claim (a rename: of two processes recovering at once, one does), its time set to now, then
-- renamed to `file`; no other recovery takes it for one no sender claimed in time before its new
-- sender claims it. False when another took it first (a queued file found young once taken: another
-- recovery put it back since this one saw it old).
local function requeue(d, path, file, now)
  local root, mine = d:root() .. "/", claim_name(file)
  if not os.rename(root .. path, root .. mine) then
    return false
  end
  local paths = require("sidecar.host.paths")
  local st = path == file and paths.lstat(root .. mine)
  if st and now - st.mtime_ns // 1000000 <= M.UNCLAIMED_MS then
    os.rename(root .. mine, root .. file)
    return false
  end
  paths.touch(root .. mine)
  return os.rename(root .. mine, root .. file) and true or false
end

---Queues again what a sender never finished (a `kill -9`, a crash, the machine's end: nothing is
---lost silently): a claim of this machine's whose sender is gone, or a queued file no sender claimed
---in M.UNCLAIMED_MS. Each is renamed back and `argv_of(file)` started for it, with a line in the log
---`log` of `d` saying so; what a gone sender had started and left running (M.children_mark) is
---ended first. Returns how many were started.
---@param d table  an open artifact folder (its queue/)
---@param argv_of fun(file: string): string[]
---@param mark string
---@param log string
---@return integer
function M.recover(d, argv_of, mark, log)
  local now = require("sidecar.host.time").wall_ms()
  local started = 0
  for _, path in ipairs(d:list("queue/*") or {}) do
    local file, why, sender = lost(d, path, now)
    -- What a gone sender left running is ended before its claim, the one thing that names it, is
    -- renamed away: a recovery killed in between leaves the claim, and so them, to the next one
    -- (two recoveries ending them is harmless).
    local left = file and sender and end_marked(mark_of_children(mark, sender.pid, sender.start)) or 0
    if file and requeue(d, path, file, now) then
      if left > 0 then
        why = ("%s; %d process%s it had started, left running, ended"):format(why, left, left == 1 and "" or "es")
      end
      local ok = pcall(proc.detach, argv_of(file), { stdout = "/dev/null", stderr = "/dev/null",
        env = { SIDECAR_RUN_MARK = mark } })
      d:append_jsonl(log, { at = require("sidecar.core.store").now(), file = file,
        error = why .. (ok and ": sent again" or ": and no sender could be started again") })
      started = started + (ok and 1 or 0)
    end
  end
  return started
end

return M
