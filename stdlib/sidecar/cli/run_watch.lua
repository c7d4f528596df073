--- `sidecar run watch`: a live list of the active runs (queued, preparing, running), what each needs
--- (stuck, waiting for input: the run's `attention`), and the runs that ended while it watched.
---
--- On a terminal the list is redrawn in place every --interval. Elsewhere (a pipe, a log file) a
--- list is printed only when it changed, so a log of a long watch stays short; with --json each
--- change is one envelope on a line of its own (JSON Lines). `--until-idle` ends the watch, exit 0,
--- once no run is active; otherwise Ctrl-C ends it (exit 130, as every interrupted command).
--- Each round first ends the runs whose owner died (stdlib/sidecar/run/reconcile.lua), as `run
--- list` does, so a crashed worker is never watched forever.
local clock = require("sidecar.host.time")
local duration = require("sidecar.core.duration")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local service_result = require("sidecar.service.result")
local run_data = require("sidecar.service.run_data")
local run_view = require("sidecar.cli.run_view")
local terminal = require("sidecar.core.terminal")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
local ACTIVE_STATUSES = { "queued", "preparing", "running" }
local ENDED_KEPT = 10 -- the most recent ends shown under the list
local HEADERS = { "RUN", "TASK", "RUNNER", "STATUS", "ELAPSED", "ATTENTION" }

local function attention_text(run)
  local a = type(run.attention) == "table" and run.attention or nil
  if not a then
    return "-"
  end
  return ("%s: %s"):format(tostring(a.state), tostring(a.evidence or ""))
end

local function elapsed_ms(run, now)
  local from = run_data.epoch(run.started_at or run.created_at)
  return from and math.max(0, now - from) * 1000 or nil
end

-- The rows of the active runs, oldest first.
local function active_rows(active, now)
  local rows = {}
  for i, r in ipairs(active) do
    rows[i] = { r.run_id, tostring(r.task_id or "-"), tostring(r.runner_type or "-"), tostring(r.status),
      duration.format(elapsed_ms(r, now)), attention_text(r) }
  end
  return rows
end

-- One round: the store's active runs and the ends since the last round (state.seen: the ids
-- active last time; state.ended: the recent ends, newest first).
local function look(s, state)
  require("sidecar.executor.reconcile").reconcile_active(s)
  local active, message = s:list_runs({ statuses = ACTIVE_STATUSES, oldest_first = true, limit = 0 })
  if not active then
    return nil, message
  end
  local now_active = {}
  for _, r in ipairs(active) do
    now_active[r.run_id] = true
  end
  for id in pairs(state.seen) do
    if not now_active[id] then
      local r = s:get_run(id)
      if r then
        table.insert(state.ended, 1, { run_id = id, task_id = r.task_id, status = r.status,
          failure_reason = r.failure_reason })
        state.ended[ENDED_KEPT + 1] = nil
      end
    end
  end
  state.seen = now_active
  return active
end

-- The text of one round's list.
local function text_of(active, ended, interval_ms)
  local lines = {}
  if #active == 0 then
    lines[1] = "no active runs\n"
  else
    lines[1] = out.table(HEADERS, active_rows(active, os.time()), { [5] = true })
  end
  for i, e in ipairs(ended) do
    lines[#lines + 1] = (i == 1 and "\nended while watching:\n" or "") .. ("  %s %s %s%s\n"):format(e.run_id,
      tostring(e.task_id or "-"), e.status, e.failure_reason and (": " .. tostring(e.failure_reason)) or "")
  end
  lines[#lines + 1] = ("\n%d active · %s UTC · every %s · Ctrl-C to stop\n"):format(#active, os.date("!%H:%M:%S"),
    duration.format(interval_ms))
  return table.concat(lines)
end

-- What changes between rounds, for printing only on change (elapsed time left out).
local function shape_of(active, ended)
  local parts = {}
  for _, r in ipairs(active) do
    parts[#parts + 1] = table.concat({ r.run_id, r.status, attention_text(r) }, "|")
  end
  for _, e in ipairs(ended) do
    parts[#parts + 1] = e.run_id .. "=" .. e.status
  end
  return table.concat(parts, "\n")
end

local function parse_interval(o)
  if not o.interval then
    return 2000
  end
  local ms, why = duration.parse(o.interval)
  if not ms then
    return nil, "--interval: " .. why
  end
  if ms < 100 then
    return nil, ("--interval '%s': at least 100ms"):format(o.interval)
  end
  return ms
end

local function show(o, active, ended, interval_ms, live)
  if o.json then
    local data = { at = require("sidecar.core.store").now(), active = json.array(active), ended = json.array(ended) }
    print(json.encode(service_result.envelope_of("run watch", true, data, nil, o.version)))
  else
    if live then
      terminal.write_raw(io.stdout, "\27[H\27[2J") -- home, clear: redrawn in place
    end
    io.write(text_of(active, ended, interval_ms))
  end
  io.stdout:flush()
end

---`sidecar run watch [--interval D] [--until-idle] [--once]`
function M.watch(o)
  local interval_ms, why = parse_interval(o)
  if not interval_ms then
    return out.fail(o, "run watch", why, EXIT_USAGE)
  end
  local s, cfg = require("sidecar.cli.root").open_runs(o, "run watch")
  if not s then
    return cfg
  end
  local live = not o.json and clock.isatty(1)
  local state, last_shape = { seen = {}, ended = {} }, nil
  local okw, result = pcall(function()
    while true do
      local active, message = look(s, state)
      if not active then
        return out.fail(o, "run watch", message, EXIT_FAILURE)
      end
      local shape = shape_of(active, state.ended)
      if live or shape ~= last_shape then
        show(o, active, state.ended, interval_ms, live)
        last_shape = shape
      end
      if o.once or (o.until_idle and #active == 0) then
        return EXIT_OK
      end
      clock.sleep_ms(interval_ms)
    end
  end)
  s:close()
  if not okw then
    error(result, 0)
  end
  return result
end

return M
