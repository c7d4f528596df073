--- An ACP agent's conversation in a run (sidecar.agent.run): made before the agent starts and set
--- on its event parser's summary (the `acp` dialect reads it), then started once its process is
--- there, on whose stdin it writes. Permissions are decided by sidecar.agent.acp_permission from
--- the run's sandbox level and folder; what happened goes to the run's events through the parser.
---
---   local start = acp_run.attach(parser, { prompt = o.prompt, cwd = run.repo, sandbox = run.sandbox })
---   local started, h = agent_watch.spawn(argv, { stdin = true, parser = parser, ... })
---   if started then start(h) end
local acp_client = require("sidecar.agent.acp_client")
local acp_permission = require("sidecar.agent.acp_permission")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")

local M = {}

---Makes the conversation and sets it on `parser` (an agent_events parser of the acp dialect).
---o: {prompt, cwd (the run's folder), sandbox (its level), resume_session_id?, version?, usage_of?
---(acp_client's)}.
---Returns start(h): sends `initialize` on the agent's process handle.
---@param parser table
---@param o table
---@return fun(h: any)
function M.attach(parser, o)
  local h
  local root = paths.real(o.cwd) or o.cwd
  local client = acp_client.new({ cwd = root, prompt = o.prompt, resume_session_id = o.resume_session_id,
    client_version = o.version, usage_of = o.usage_of,
    send = function(message)
      if h then
        h:write(json.encode(message) .. "\n") -- refused once the agent is gone: nothing left to say
      end
    end,
    decide = function(params)
      return acp_permission.decide(params, { sandbox = o.sandbox, root = root })
    end,
    on = function(kind, fields)
      parser:emit(kind, fields)
    end })
  parser.summary.acp = client
  return function(handle)
    h = handle
    client:start()
  end
end

return M
