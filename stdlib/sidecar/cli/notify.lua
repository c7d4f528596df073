--- `sidecar notify`: the notification channels of `notify` in .agent/config.lua
--- (stdlib/sidecar/core/notify_settings.lua). `--test` sends a test notification to each channel
--- now and says what each answered; exit 0 when every channel that wants the event took it, 1
--- otherwise.
---
--- `sidecar notify --deliver FILE` is the sender of one queued notification (started detached by
--- stdlib/sidecar/run/notify.lua; stdlib/sidecar/run/notify_deliver.lua): it prints nothing.
local notify_deliver = require("sidecar.run.notify_deliver")
local notify_settings = require("sidecar.core.notify_settings")
local out = require("sidecar.cli.output")
local service_store = require("sidecar.service.store")

local M = {}

local function render(results)
  local rows = {}
  for i, r in ipairs(results) do
    rows[i] = { r.channel, r.kind, not r.wanted and "not wanted" or (r.sent and "sent" or "failed"), r.why or "" }
  end
  io.write(out.table({ "CHANNEL", "KIND", "RESULT", "WHY" }, rows))
end

---`sidecar notify`
function M.cli(o)
  local root = service_store.root(o)
  if o.deliver then
    return notify_deliver.deliver(root, o.deliver) and 0 or 1
  end
  local event = o.event or "review"
  if not notify_settings.EVENTS[event] then
    return out.fail(o, "notify", ("--event %s: unknown event (known: review, needs_input, budget, failed, blocked, "
      .. "unknown, stopped, completed)"):format(event), 2)
  end
  if not o.test then
    return out.fail(o, "notify", "give --test to send a test notification to each channel", 2)
  end
  local results, why = notify_deliver.test(root, event)
  if not results then
    return out.fail(o, "notify", why)
  end
  local all = true
  for _, r in ipairs(results) do
    all = all and (r.sent or not r.wanted)
  end
  if o.json then
    out.envelope("notify", all, require("sidecar.core.json").array(results), nil, o.version)
  else
    render(results)
  end
  return all and 0 or 1
end

return M
