--- The progress lines a run's events make, for a surface that shows progress as text: the command
--- line's stderr, the MCP server's progress notifications. In the process that runs it, the surface
--- subscribes to the run event bus (sidecar.core.run_events) for as long as its command works (the
--- library itself prints nothing); from another process it follows the run's events.jsonl.
---
---   local sub <close> = run_progress.follow(out.progress)   -- "run R-0001: validation 1/2 test: make test"
---   local now = run_progress.watcher(s, "R-0001")          -- now() -> "$ make test [exit 0]" (the latest)
local duration = require("sidecar.core.duration")
local json = require("sidecar.core.json")
local run_control = require("sidecar.executor.run_control")
local run_events = require("sidecar.core.run_events")
local text = require("sidecar.core.text")

local M = {}

-- Each kind's line, from the event's run id and fields.
local LINES = {
  ["agent_slot.waiting"] = function(id, f)
    local unusable = type(f.unusable) == "string" and ("; " .. f.unusable) or ""
    if type(f.runner) == "string" then
      return ("run %s: waiting for an agent slot: %s of %s %s agents running (max_agents_per_runner.%s%s)"):format(id,
        tostring(f.running), tostring(f.cap), f.runner, f.runner, unusable)
    end
    local source = require("sidecar.run.agent_slots").source_text(f.source)
    return ("run %s: waiting for an agent slot: %s of %s running (%s%s)"):format(id, tostring(f.running),
      tostring(f.cap), source, unusable)
  end,
  ["agent_slot.none"] = function(id, f)
    return ("run %s: no agent slot to take, so it runs without the %s: %s"):format(id, type(f.runner) == "string"
      and ("cap of %s's agents"):format(f.runner) or "machine's cap on agents", tostring(f.why))
  end,
  ["sandbox.chosen"] = function(id, f)
    return ("run %s: OS sandbox %s: %s"):format(id, tostring(f.kind), tostring(f.why))
  end,
  ["validation.started"] = function(id, f)
    return ("run %s: validation %s/%s %s: %s"):format(id, tostring(f.step), tostring(f.steps), tostring(f.kind),
      tostring(f.command))
  end,
  ["validation.finished"] = function(id, f)
    local how = f.ok == true and "ok" or (f.timed_out == true and "TIMED OUT" or
      ("FAILED (exit " .. tostring(f.exit_code) .. ")"))
    return ("run %s:   %s in %s"):format(id, how, duration.format(tonumber(f.duration_ms) or 0))
  end,
}

---The line of event `e` ({run_id, kind, fields}), or nil for a kind that makes none.
---@param e table
---@return string|nil
function M.line(e)
  local make = LINES[e.kind]
  return make and make(tostring(e.run_id), type(e.fields) == "table" and e.fields or {}) or nil
end

M.SHORT_BYTES = 160 -- what watcher() says of an event, at most
M.CATCH_UP_BYTES = 65536 -- further behind than this, a watcher skips to the file's end

-- An event in one short line: its progress line, what the agent said or ran, else its kind.
local function short(e)
  local said = M.line(e) or run_control.said(e) or tostring(e.kind)
  return text.clip((said:gsub("%s+", " ")), M.SHORT_BYTES)
end

---A watcher of run `run_id`'s events.jsonl, which another process writes: each call reads what was
---appended since the last (skipping ahead when far behind) and returns the latest event in one
---short line (its progress line, what the agent said or ran, else its kind), or nil before any.
---@param s table  the store
---@param run_id string
---@return fun(): string|nil
function M.watcher(s, run_id)
  local path = s.root .. "/runs/" .. run_id .. "/events.jsonl"
  local offset, pending, latest = 0, "", nil
  return function()
    local f = io.open(path, "rb")
    if not f then
      return latest
    end
    local size, skip_cut = f:seek("end"), false
    if size and size - offset > M.CATCH_UP_BYTES then
      offset, pending, skip_cut = size - M.CATCH_UP_BYTES, "", true
    end
    f:seek("set", offset)
    local chunk = f:read("a") or ""
    f:close()
    offset = offset + #chunk
    local buffer = pending .. chunk
    if skip_cut then -- read from the middle of a line: that line is dropped
      buffer = buffer:gsub("^[^\n]*\n", "", 1)
    end
    for line in buffer:gmatch("([^\n]*)\n") do
      local ok, e = json.try_decode(line)
      if ok and type(e) == "table" and type(e.kind) == "string" then
        e.run_id = run_id -- a line of the file names no run: it is this one's
        latest = short(e)
      end
    end
    pending = buffer:match("[^\n]*$")
    return latest
  end
end

-- The kinds a step of a run makes a line of (step_line), beside the validation's.
local STEPS = {
  ["run.started"] = function(id, f)
    return ("run %s: started%s"):format(id, type(f.runner) == "string" and (" on " .. f.runner) or "")
  end,
  ["run.finished"] = function(id, f)
    return ("run %s: %s%s"):format(id, tostring(f.status), type(f.reason) == "string" and (": " .. f.reason) or "")
  end,
}

---A line for each step of a run, for a person watching it (the REPL): started, each command the
---agent runs, the validation's lines, its end; nil for another event.
---@param e table  {run_id, kind, fields}
---@return string|nil
function M.step_line(e)
  local f = type(e.fields) == "table" and e.fields or {}
  local make = STEPS[e.kind]
  if make then
    return make(tostring(e.run_id), f)
  elseif e.kind == "agent.command" then
    return text.clip(("run %s: %s"):format(tostring(e.run_id), run_control.said(e):gsub("%s+", " ")), M.SHORT_BYTES)
  end
  return M.line(e)
end

---Hands `write` the line of each event published from now on that makes one, until the returned
---subscription is closed.
---@param write fun(line: string)
---@return table subscription
function M.follow(write)
  return run_events.subscribe(function(e)
    local line = M.line(e)
    if line then
      write(line)
    end
  end)
end

return M
