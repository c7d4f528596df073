--- The run event bus of this process: every event a run's recorder writes to its events.jsonl
--- (sidecar.core.telemetry: the one writer of that file) is published here, once, as it was
--- written (its seq, kind and redacted fields), so that a surface in the same process (the
--- command line, a script, the REPL, an embedding program) follows a run without reading the
--- file back. Another process follows the file (`sidecar run tail -f`). The kinds are listed in
--- docs/formats.md ("A run's events").
---
---   local run_events = require("sidecar.core.run_events")
---   local sub <close> = run_events.subscribe(function(e) print(e.run_id, e.seq, e.kind) end, { run_id = "R-0001" })
---   -- e: {run_id (nil for a recorder of no run), seq, kind, fields}
---
--- A subscriber that raises is unsubscribed and its error kept on its handle (sub:error()): a
--- surface's bug never stops the run that publishes. Delivery is synchronous, in the order the
--- events were written, to the subscribers in the order they subscribed.
local errors = require("sidecar.core.errors")

local M = {}

-- The live subscriptions, in order.
local subscribers = {}

local Subscription = {}
Subscription.__index = Subscription
Subscription.__name = "sidecar.run_events_subscription"

---Stops the deliveries (idempotent).
function Subscription:close()
  for i, s in ipairs(subscribers) do
    if s == self then
      table.remove(subscribers, i)
      break
    end
  end
  self.closed = true
end

Subscription.__close = Subscription.close

---The error the subscriber raised, which ended its subscription; nil while it has raised none.
---@return any
function Subscription:error()
  return self.failed
end

-- Whether event `e` is one `filter` wants: {run_id = "R-0001"} and {prefix = "agent."} (both optional).
local function wanted(filter, e)
  return (filter.run_id == nil or filter.run_id == e.run_id)
    and (filter.prefix == nil or e.kind:sub(1, #filter.prefix) == filter.prefix)
end

---Calls `fn(event)` for each event published from now on that `filter` wants (every one without
---a filter). Returns the subscription: close it (or let `<close>` do it) to stop.
---@param fn fun(event: {run_id: string?, seq: integer, kind: string, fields: table})
---@param filter? {run_id: string?, prefix: string?}
---@return table subscription
function M.subscribe(fn, filter)
  if type(fn) ~= "function" then
    error("run_events.subscribe: expected a function, got " .. type(fn), 2)
  end
  if filter ~= nil and type(filter) ~= "table" then
    error("run_events.subscribe: the filter must be a table, got " .. type(filter), 2)
  end
  local s = setmetatable({ fn = fn, filter = filter or {} }, Subscription)
  subscribers[#subscribers + 1] = s
  return s
end

---Delivers `event` to the subscribers that want it (sidecar.core.telemetry calls this once per
---line it wrote). A subscriber that raises is unsubscribed, its error kept on its handle; an
---interrupt (Ctrl-C) goes on up.
---@param event {run_id: string?, seq: integer, kind: string, fields: table}
function M.publish(event)
  if #subscribers == 0 then
    return
  end
  for _, s in ipairs({ table.unpack(subscribers) }) do -- a subscriber may close itself, or another
    if not s.closed and wanted(s.filter, event) then
      local ok, err = pcall(s.fn, event)
      if not ok then
        if errors.is_interrupt(err) then
          error(err, 0)
        end
        s.failed = err
        s:close()
      end
    end
  end
end

---How many subscriptions are open (for tests and `inspect`).
---@return integer
function M.count()
  return #subscribers
end

return M
