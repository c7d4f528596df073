--- Notifications: the channels of `notify` in .agent/config.lua (stdlib/sidecar/core/notify_settings.lua)
--- told of what happens to runs. A run's end is told when its record ends (run_record.finish, whoever
--- ends it: a foreground run, a worker, `run kill`, a reconciler); a run that needs someone when it is
--- flagged (stuck, waiting for input); a preset or a pipeline once for the whole, by the one that runs
--- it (its steps are not told one by one).
---
--- Off the run's path: choosing the channels, leaving out what was sent before (the same event of the
--- same run, to the same channel) and what is over a channel's rate (`rate` a minute) takes a lock
--- and a few file reads; then each channel's sending is a detached `sidecar notify --deliver`
--- (stdlib/sidecar/run/notify_deliver.lua), whose time limits and retries cost the run nothing. What
--- its rate left out is recorded now (notify.skipped in the run's events), each attempt by its sender.
---
---   notify.run_ended(s, run)                   -- the event its status is, if a channel wants it
---   notify.whole(s, { kind = "pipeline", name = "P-1 (title)", id = "P-1", status = "review", runs = {...} })
---   notify.preset_ended(s, { name = "triangulated-review", task_id = "T-0001", status = "review" })
local artifact = require("sidecar.core.artifact")
local json = require("sidecar.core.json")
local notify_settings = require("sidecar.core.notify_settings")
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local run_processes = require("sidecar.run.processes")
local secrets = require("sidecar.core.secrets")
local store = require("sidecar.core.store")
local telemetry = require("sidecar.core.telemetry")
local text = require("sidecar.core.text")

local M = {}

M.DIR = "notify" -- under the store folder: sent.jsonl (what was sent, for the dedupe and rate), queue/
M.SENT = "sent.jsonl"
M.LOG = "log.jsonl" -- every attempt of every sender
M.WINDOW_MS = 60000 -- a channel's rate is counted over this window
M.MESSAGE_BYTES = 1500
M.LOG_LINES = 2000

---The event a run's end is, by its status.
M.EVENT_OF_STATUS = { review = "review", blocked = "blocked", failed = "failed", budget_exceeded = "budget",
  outcome_unknown = "unknown", interrupted = "stopped", completed = "completed" }

local function clean(s, n)
  s = text.visible(secrets.redact(tostring(s or "")))
  return text.clip(s, n or M.MESSAGE_BYTES)
end

-- `fields` (a redacted copy) with each string in it shown harmlessly (text.visible), in place: a
-- summary, a task's title or a reason reaches a webhook or a terminal without its escapes.
local function visible_fields(fields, depth)
  for k, v in pairs(fields) do
    if type(v) == "string" then
      fields[k] = (text.visible(v))
    elseif type(v) == "table" and (depth or 1) < 8 then
      visible_fields(v, (depth or 1) + 1)
    end
  end
  return fields
end

-- The config's channels, or nil (none, today's single command, or a config that cannot be read:
-- a courtesy never fails what told it).
local function channels_of(s)
  local ok, cfg = pcall(require("sidecar.core.config").load, s.root)
  return ok and type(cfg) == "table" and notify_settings.channels(rawget(cfg, "notify")) or nil
end

local function now_ms()
  return require("sidecar.host.time").wall_ms()
end

-- The channels of the store `s` (its config's notify) that want `event`.
local function wanting(s, event)
  local wanted = {}
  for _, c in ipairs(channels_of(s) or {}) do
    if c.events[event] then
      wanted[#wanted + 1] = c
    end
  end
  return wanted
end

-- Takes the store's notification lock, waiting up to 2 s for another dispatcher's few
-- milliseconds. The lock file is among the user's lock folders (sidecar.core.user_locks), named by
-- the store's folder: never in the store, which an agent may read and so could lock.
local function locked(s)
  local dir = require("sidecar.core.user_locks").dir("locks")
  if not (dir and paths.make_dirs(dir)) then
    return nil
  end
  local real = paths.real(s.root) or s.root
  local name = ("%s/notify-%s.lock"):format(dir, require("sidecar.host.digest").sha256(real):sub(1, 16))
  local hostlock = require("sidecar.host.lock")
  for _ = 1, 400 do
    local held, _, code = hostlock.try(name)
    if held or code ~= "EWOULDBLOCK" then
      return held
    end
    require("sidecar.core.coop").sleep(5) -- a preset's other runs in its pool go on meanwhile
  end
  return nil
end

M.SENT_MAX_BYTES = 16 * 1024 * 1024 -- far past a day of sends: a larger sent.jsonl is not Sidecar's
M.KEEP_MS = 86400000 -- sent.jsonl keeps a day: what was sent before is told again, not silenced

-- The sends of the last window, by channel label, and the keys sent in the last day; and whether
-- the file holds what is to go (a line older than a day, or from the future, or not Sidecar's: a
-- cloned repository's, planted to silence a channel), which the caller trims away now. A file too
-- large to be Sidecar's (planted to slow every run's end) is emptied unread.
local function recent(d, at)
  local keys, counts, stale = {}, {}, false
  local st = paths.lstat(d:root() .. "/" .. M.SENT)
  if st and (st.size or 0) > M.SENT_MAX_BYTES then
    d:write(M.SENT, "")
    return keys, counts, false
  end
  for _, e in ipairs(d:read_jsonl(M.SENT) or {}) do
    if type(e) == "table" and type(e.key) == "string" and type(e.at_ms) == "number" and e.at_ms <= at
      and at - e.at_ms < M.KEEP_MS then
      keys[e.key] = true
      if at - e.at_ms < M.WINDOW_MS then
        counts[e.channel] = (counts[e.channel] or 0) + 1
      end
    else
      stale = true
    end
  end
  return keys, counts, stale
end

-- Keeps sent.jsonl to its last day (a line from the future, or not one of Sidecar's, is dropped),
-- so its reading stays short, and the senders' log to its last M.LOG_LINES attempts.
local function trim(d, at)
  local kept = {}
  for _, e in ipairs(d:read_jsonl(M.SENT) or {}) do
    if type(e) == "table" and type(e.key) == "string" and type(e.at_ms) == "number" and e.at_ms <= at
      and at - e.at_ms < M.KEEP_MS then
      kept[#kept + 1] = json.encode(e)
    end
  end
  d:write(M.SENT, #kept > 0 and (table.concat(kept, "\n") .. "\n") or "")
  d:keep_last_lines(M.LOG, M.LOG_LINES)
end

-- Which channels send `n` and which are left out over their rate (each {channel, why}), recorded
-- in sent.jsonl under the lock. One that was sent `n` before is neither.
local function choose(s, d, channels, n)
  local held <close> = locked(s)
  local at = now_ms()
  local keys, counts, stale = recent(d, at)
  local send, skipped = {}, {}
  for _, c in ipairs(channels) do
    local key = c.label .. "|" .. n.key .. (n.stamp and ("@" .. n.stamp) or "")
    if keys[key] then -- sent before (the same end told twice): nothing to send or record
      key = nil
    elseif (counts[c.label] or 0) >= c.rate then
      skipped[#skipped + 1] = { channel = c, why = ("over its rate (%d a minute)"):format(c.rate) }
      key = nil
    end
    if key then
      counts[c.label] = (counts[c.label] or 0) + 1
      send[#send + 1] = c
      d:append_jsonl(M.SENT, { key = key, channel = c.label, at_ms = at })
    end
  end
  if stale or math.random(50) == 1 then
    trim(d, at)
  end
  return send, skipped
end

local function record(s, run_id, kind, fields)
  if run_id then
    pcall(telemetry.run_event, s, run_id, kind, fields)
  end
end

M.SENDER_MARK = "sidecar-notify" -- the senders' own (stdlib/sidecar/run/detached_sender.lua)

-- Starts the sender of one channel; false and why when it cannot start (its queued file removed).
local function sender_argv(s, file)
  return { proc.executable(), "notify", "--deliver", file, "--root", s.root }
end

local function start_sender(s, d, id, c, n)
  local file = ("queue/%s-%d.json"):format(id, c.index)
  return require("sidecar.run.detached_sender").start(d, file,
    { id = id, channel = c.index, label = c.label, notification = n }, sender_argv(s, file), M.SENDER_MARK)
end

---Tells the channels that want `n.event`. n: {event, key (what makes it one: "R-0001:review"),
---run_id (where attempts are recorded; nil for none), run (its record, when the caller has it: else
---read), title, message, fields (the webhook body's facts)}. Returns the number of senders started
---(0 when no channel wants it). Never raises.
---@param s table  the store
---@param n {event: string, key: string, run_id: string?, run: table?, title: string, message: string, fields: table?}
---@return integer
function M.send(s, n)
  local wanted = wanting(s, n.event)
  if #wanted == 0 then
    return 0
  end
  -- the title one line (a pipeline named by its task's title, which may hold newlines): a channel
  -- showing it above the message (Slack's text, a desktop's summary, ntfy's Title) keeps its layout
  -- The key is made one of this store's by its run's start (to the millisecond): a line planted
  -- ahead in sent.jsonl cannot name it, and so cannot silence the notification.
  local run = n.run or (n.run_id and s:get_run(n.run_id)) -- the caller's record, when it has it
  local stamp = run and (run.created_at or run.started_at)
  n = { event = n.event, key = n.key, stamp = type(stamp) == "string" and stamp or nil, run_id = n.run_id,
    title = (clean(n.title, 200):gsub("[\n\t]", " ")), message = clean(n.message),
    fields = visible_fields(secrets.redact_value(n.fields or {})), at = store.now() }
  local d <close> = artifact.open(s.root .. "/" .. M.DIR, { create = true })
  if not d or not d:make_dirs("queue") then
    record(s, n.run_id, "notify.skipped", { event = n.event, why = "the notify folder cannot be written" })
    return 0
  end
  -- what a sender killed before it was done left queued goes again first (nothing lost silently)
  require("sidecar.run.detached_sender").recover(d, function(file) return sender_argv(s, file) end, M.SENDER_MARK,
    M.LOG)
  local send, skipped = choose(s, d, wanted, n)
  for _, k in ipairs(skipped) do -- in the run's events, and in the log beside every attempt
    record(s, n.run_id, "notify.skipped", { event = n.event, channel = k.channel.label, why = k.why })
    d:append_jsonl(M.LOG, { kind = "notify.skipped", event = n.event, channel = k.channel.label, why = k.why,
      run_id = n.run_id, at = n.at })
  end
  local id, started = ("%d-%d"):format(now_ms(), math.random(1e9)), 0
  for _, c in ipairs(send) do
    local ok, why = start_sender(s, d, id, c, n)
    started = started + (ok and 1 or 0)
    if not ok then
      record(s, n.run_id, "notify.failed", { event = n.event, channel = c.label, why = "not sent: " .. tostring(why) })
    end
  end
  return started
end

-- The facts of a run a webhook carries.
local function run_fields(run)
  return { run_id = run.run_id, task_id = run.task_id, status = run.status, reason = run.failure_reason,
    runner = run.runner_type, model = run.model, summary = run.summary, cost_usd = run.cost_usd,
    preset = run.preset, pipeline_id = run.pipeline_id }
end

-- Whether the process that ran the preset of step `run` (recorded in its record: preset/context.lua)
-- is gone, here: a step found dead while its preset goes on (a worker killed alone) is the preset's
-- to tell, at its end. Not for a step run elsewhere (a Slurm job) or recorded without it.
local function preset_gone(run)
  local p = run_processes.preset_of(run)
  return p ~= nil and (run.executor or "local") == "local" and not run_processes.same(p.pid, p.start)
end

---Tells of a run's end (its status's event), unless it is a step of a preset or pipeline (told as a
---whole by what runs it). A preset's step found dead by a later command (its preset killed while it
---ran the step itself) tells the preset's end instead (M.preset_ended). Never raises.
---@param s table
---@param run table  the ended run's record
function M.run_ended(s, run)
  local event = M.EVENT_OF_STATUS[run.status]
  -- A pipeline's step is told with the whole, unless its end is the pipeline's too: interrupted (its
  -- process stopped: Ctrl-C, `run kill`, SIGTERM) or found dead by a later command (kill -9,
  -- reconciled): nothing would tell it then. (An agent that answered but would not exit is
  -- outcome_unknown too, and its pipeline goes on: told with the whole.)
  local found_dead = run.reconciled_at ~= nil and (run.status == "outcome_unknown" or run.status == "failed")
  local ends_pipeline = run.status == "interrupted" or (run.status == "outcome_unknown" and run.reconciled_at ~= nil)
  local step = run.pipeline_id or (tonumber(run.pipeline_total) or 1) > 1
  if event and run.preset and found_dead and run.task_id and preset_gone(run) then
    -- A preset's step found dead by a later command, its preset gone too: killed (SIGKILL) while it ran
    -- the step in its own process, or while its workers' pool could not record the step; nothing
    -- else tells its end. Once for the preset, whoever tells it (M.preset_ended's key).
    return M.preset_ended(s, { name = run.preset, task_id = run.task_id, status = run.status,
      reason = run.failure_reason })
  elseif not event or run.preset or (step and not ends_pipeline) then
    return 0
  end
  local blockers = type(run.blockers) == "table" and run.blockers or {}
  local why = run.failure_reason or blockers[1] or run.summary
  local fields = run_fields(run)
  fields.reason = run.failure_reason or blockers[1]
  return M.send(s, { event = event, key = run.run_id .. ":" .. event, run_id = run.run_id, run = run,
    title = ("Sidecar: %s %s"):format(run.run_id, run.status),
    message = ("%s ended %s%s"):format(run.run_id, run.status, why and (": " .. tostring(why)) or ""),
    fields = fields })
end

---Tells that a run needs someone: its attention mark (stuck, waiting_input), once per occurrence.
---@param s table
---@param run table  the record, with `attention`
function M.attention(s, run)
  local a = type(run.attention) == "table" and run.attention or nil
  if not a or type(a.state) ~= "string" then
    return 0
  end
  local fields = run_fields(run)
  fields.attention = a.state
  return M.send(s, { event = "needs_input", run = run,
    key = ("%s:%s#%s"):format(run.run_id, a.state, tostring(a.occurrence or 1)),
    run_id = run.run_id, title = ("Sidecar: %s needs you (%s)"):format(run.run_id, a.state),
    message = ("%s %s: %s"):format(run.run_id, a.state == "stuck" and "is stuck" or "is waiting for input",
      tostring(a.evidence or "")), fields = fields })
end

---Tells of a preset's or pipeline's end, once for the whole. w: {kind = "preset"|"pipeline", name,
---id (what makes it one), status (the worst of its runs: M.EVENT_OF_STATUS's keys), reason, runs
---(their records or ids), task_id, key (what it is told once by: default "KIND:ID:EVENT")}.
---@param s table
---@param w table
function M.whole(s, w)
  local event = M.EVENT_OF_STATUS[w.status]
  if not event then
    return 0
  end
  local ids = {}
  for i, r in ipairs(w.runs or {}) do
    ids[i] = type(r) == "table" and r.run_id or r
  end
  local last = ids[#ids]
  return M.send(s, { event = event, key = w.key or ("%s:%s:%s"):format(w.kind, w.id, event), run_id = last,
    title = ("Sidecar: %s %s %s"):format(w.kind, w.name, w.status),
    message = ("%s %s ended %s (%d run%s: %s)%s"):format(w.kind, w.name, w.status, #ids, #ids == 1 and "" or "s",
      table.concat(ids, ", "), w.reason and (": " .. tostring(w.reason)) or ""),
    fields = { kind = w.kind, name = w.name, status = w.status, reason = w.reason, runs = json.array(ids),
      task_id = w.task_id } })
end

---Tells of a preset's end, once for the whole, with the runs of its task (read from the store: a
---run still going when the preset was stopped is one of them), keyed by the task, so that whoever
---tells it (the preset, or its workers' pool when the preset was killed: stdlib/sidecar/preset/worker.lua)
---tells it once. p: {name, task_id, status, reason}. Never raises.
---@param s table
---@param p {name: string, task_id: string, status: string, reason: string?}
function M.preset_ended(s, p)
  local event = M.EVENT_OF_STATUS[p.status]
  if not event or #wanting(s, event) == 0 then -- no channel to tell: its runs (a record each) not read
    return 0
  end
  local ok, runs = pcall(s.list_runs, s, { task_id = p.task_id, oldest_first = true, limit = 0 })
  if not (ok and runs and runs[1]) then
    return 0
  end
  return M.whole(s, { kind = "preset", name = p.name, id = p.task_id, status = p.status, reason = p.reason,
    runs = runs, task_id = p.task_id, key = "preset:" .. p.task_id }) -- one end, whatever its event
end

return M
