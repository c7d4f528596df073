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

local function result_of(r)
  return not r.wanted and "not wanted" or (r.sent and "sent" or (r.skipped and "skipped" or "failed"))
end

local function render(results)
  local rows = {}
  for i, r in ipairs(results) do
    rows[i] = { r.channel, r.kind, result_of(r), r.why or "" }
  end
  io.write(out.table({ "CHANNEL", "KIND", "RESULT", "WHY" }, rows))
end

---`sidecar notify`
function M.cli(o)
  if o.deliver then
    return notify_deliver.deliver(service_store.root(o), o.deliver) and 0 or 1
  end
  local s, bad = service_store.open(o) -- a store here, its config read and checked
  if not s then
    return out.fail(o, "notify", bad)
  end
  local root = s.root
  s:close()
  local event = o.event or "review"
  if not notify_settings.EVENTS[event] then
    return out.fail(o, "notify", ("--event %s: unknown event (known: review, needs_input, budget, failed, blocked, "
      .. "unknown, stopped, completed)"):format(event), 2)
  end
  if not o.test then
    return out.fail(o, "notify", "give --test to send a test notification to each channel", 2)
  end
  local results, why = notify_deliver.test(root, event, out.progress)
  if not results then
    return out.fail(o, "notify", why)
  end
  -- fine when each channel that wants the event took it or had nothing to show it (a desktop with
  -- no session bus), and one at least was tried
  local failed, tried = {}, 0
  for _, r in ipairs(results) do
    tried = tried + (r.wanted and 1 or 0)
    if r.wanted and not (r.sent or r.skipped) then
      failed[#failed + 1] = ("%s: %s"):format(r.channel, r.why or "not sent")
    end
  end
  if tried == 0 then
    failed[1] = ("no channel wants the %s event: nothing was sent (give --event one a channel's `events` lists)")
      :format(event)
  end
  if o.json then
    out.envelope("notify", #failed == 0, require("sidecar.core.json").array(results), #failed > 0 and failed or nil,
      o.version)
  else
    render(results)
    for _, f in ipairs(tried == 0 and failed or {}) do
      out.error("notify", f)
    end
  end
  return #failed == 0 and 0 or 1
end

return M
