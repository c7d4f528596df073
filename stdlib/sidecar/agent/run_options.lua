--- The options of agent_run.execute (stdlib/sidecar/agent/run.lua), checked before anything runs:
--- a bad one is the caller's bug and raises, naming the caller of execute. An option that is not
--- one of M.NAMES (a misspelt `promt`, a key meant for someone else) is such a bug too: it would
--- otherwise be ignored without a word. Execute works on M.check's copy, so the caller's table is
--- never written (the defaults, the runner's config settings go in the copy).
local agent_budget = require("sidecar.agent.budget")
local agent_session = require("sidecar.agent.session")
local errors = require("sidecar.core.errors")
local log_caps = require("sidecar.core.log_caps")
local option_keys = require("sidecar.core.option_keys")

local M = {}

---The names of execute's options, in the order of the `sidecar.AgentRunOptions` class above
---agent_run.execute, one `---@field` each (tests/lua/run_options_spec.lua holds the two equal).
M.NAMES = {
  "runner", "prompt", "repo", "root", "store", "run_id", "task_id", "agent_role", "model", "record",
  "sandbox", "allow_full_auto", "os_sandbox", "network", "isolation", "runner_entry",
  "program", "args", "command", "env",
  "ephemeral", "session_id", "resume",
  "timeout_ms", "idle_timeout_ms", "exit_deadline_ms", "kill_grace_ms", "max_log_bytes", "max_agents",
  "max_agents_per_runner",
  "stuck_after_ms", "on_attention", "pty", "prompt_patterns", "answers", "on_stuck",
  "on_event", "on_spawn", "before", "gates", "task", "owner", "budget", "budget_tokens", "budget_usd",
  "budget_allow_unknown", "reported",
}

---Each of M.NAMES as a key (true): the options execute knows.
M.KNOWN = {}
for _, name in ipairs(M.NAMES) do
  M.KNOWN[name] = true
end

---Raises a "bad_option" error for the first option execute does not know, or of the wrong type
---or value; else returns a shallow copy of `o`, execute's own to fill in. Called by execute
---itself, never through another function or as a tail call: the error levels name execute's caller.
---@param o sidecar.AgentRunOptions  execute's options
---@return sidecar.AgentRunOptions copy
function M.check(o)
  if type(o) ~= "table" then
    errors.raise("bad_option", "agent_run.execute: expected an options table", nil, 3)
  end
  local copy = {}
  for k, v in pairs(o) do
    if not M.KNOWN[k] then
      errors.raise("bad_option", option_keys.unknown_message("agent_run.execute", k, M.NAMES), nil, 3)
    end
    copy[k] = v
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
  local bad_budget = agent_budget.check_options(o)
  if bad_budget then
    errors.raise("bad_option", "agent_run.execute: " .. bad_budget, nil, 3)
  end
  if o.budget ~= nil and (o.budget_tokens ~= nil or o.budget_usd ~= nil) then
    errors.raise("bad_option", "agent_run.execute: give either `budget` (a meter) or `budget_tokens`/`budget_usd`",
      nil, 3)
  end
  local max_log, bad_log = log_caps.resolve(o.max_log_bytes)
  if not max_log then
    errors.raise("bad_option", "agent_run.execute: `max_log_bytes`: " .. bad_log .. " (or false: no bound)", nil, 3)
  end
  if o.resume ~= nil then
    agent_session.check_resume(o)
  end
  return copy
end

return M
