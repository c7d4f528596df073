--- The options of agent_run.execute (stdlib/sidecar/agent/run.lua), checked before anything runs:
--- a bad one is the caller's bug and raises, naming the caller of execute.
local agent_session = require("sidecar.agent.session")
local errors = require("sidecar.core.errors")
local log_caps = require("sidecar.core.log_caps")

local M = {}

---Raises a "bad_option" error for the first option of the wrong type or value. Called by execute
---itself, never through another function or as a tail call: the error levels name execute's caller.
---@param o table  execute's options
function M.check(o)
  if type(o) ~= "table" then
    errors.raise("bad_option", "agent_run.execute: expected an options table", nil, 3)
  end
  if type(o.prompt) ~= "string" or o.prompt == "" then
    errors.raise("bad_option", "agent_run.execute: `prompt` must be a non-empty string", nil, 3)
  end
  for _, key in ipairs({ "timeout_ms", "idle_timeout_ms", "exit_deadline_ms", "kill_grace_ms", "stuck_after_ms" }) do
    local v = o[key]
    if v ~= nil and (math.type(v) ~= "integer" or v <= 0) then
      errors.raise("bad_option", ("agent_run.execute: `%s` must be a positive integer (ms)"):format(key), nil, 3)
    end
  end
  if o.run_id ~= nil and type(o.run_id) ~= "string" then
    errors.raise("bad_option", "agent_run.execute: `run_id` must be a run id such as \"R-0001\"", nil, 3)
  end
  if o.on_spawn ~= nil and type(o.on_spawn) ~= "function" then
    errors.raise("bad_option", "agent_run.execute: `on_spawn` must be a function(pid)", nil, 3)
  end
  if o.ephemeral ~= nil and type(o.ephemeral) ~= "boolean" then
    errors.raise("bad_option", "agent_run.execute: `ephemeral` must be true or false", nil, 3)
  end
  local max_log, bad_log = log_caps.resolve(o.max_log_bytes)
  if not max_log then
    errors.raise("bad_option", "agent_run.execute: `max_log_bytes`: " .. bad_log .. " (or false: no bound)", nil, 3)
  end
  if o.resume ~= nil then
    agent_session.check_resume(o)
  end
end

return M
