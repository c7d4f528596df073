--- The progress lines a run's events make, for a surface that shows progress as text: the command
--- line's stderr, the MCP server's log notifications. The surface subscribes to the run event bus
--- (sidecar.core.run_events) for as long as its command works; the library itself prints nothing.
---
---   local sub <close> = run_progress.follow(out.progress)   -- "run R-0001: validation 1/2 test: make test"
local duration = require("sidecar.core.duration")
local run_events = require("sidecar.core.run_events")

local M = {}

-- Each kind's line, from the event's run id and fields.
local LINES = {
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
