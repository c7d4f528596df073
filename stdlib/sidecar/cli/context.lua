--- `sidecar context [--json] [--budget TOKENS]`: what a main agent should know now
--- (stdlib/sidecar/service/context.lua), as text or the JSON envelope. Exit 0, 1 when there is no
--- store, 2 when the budget is not a positive number.
local out = require("sidecar.cli.output")
local context = require("sidecar.service.context")
local service_store = require("sidecar.service.store")

local M = {}

---`sidecar context`
function M.context(o)
  local budget = o.budget or context.DEFAULT_BUDGET -- an integer: the command line checked it
  if budget < 1 then
    return out.fail(o, "context", ("--budget %d: expected a whole number of tokens, 1 or more"):format(budget), 2)
  end
  local root = service_store.root(o)
  local applied, why = service_store.apply_config(o) -- its secret rules apply to what is printed
  if not applied then
    return out.fail(o, "context", why)
  end
  local data, message = context.gather(root, budget)
  if not data then
    return out.fail(o, "context", service_store.hint(o, message))
  end
  if o.json then
    out.envelope("context", true, data, nil, o.version)
  else
    io.write(context.render(data))
  end
  return 0
end

return M
