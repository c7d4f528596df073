--- The Agent Client Protocol dialect for `agent_events`: an ACP agent's stdout is JSON-RPC, one
--- message a line, and each is handed to the run's conversation (sidecar.agent.acp_client, set as
--- the summary's `acp` before the agent starts), whose facts become the summary's.
---
--- The turn's end (the prompt's answer) is the final result: `stopReason` says the run's status
--- (end_turn: review; refusal: blocked; cancelled: interrupted, or blocked when it followed a denied
--- permission, as codex-acp ends a turn; max_tokens, max_turn_requests: failed). Usage comes from
--- the answer's `usage` when the agent reports it: input = inputTokens + cachedReadTokens +
--- cachedWriteTokens (every input token, as OpenAI counts them), cached_input = cachedReadTokens,
--- output = outputTokens, reasoning_output = thoughtTokens, total = totalTokens; the cost from the
--- last `usage_update` in USD. Both are this run's own: the answer's usage is the turn's (as ACP
--- defines it), and the adapters count the cost from their own start (each run is a process of its
--- own, a resumed session too). Usage read from elsewhere (codex-acp's session file) is the
--- session's so far: the summary's `cumulative` says so, and a run that goes on with that session
--- has the previous run's subtracted (telemetry.delta).
local ev = require("sidecar.agent.events")

local M = { name = "acp" }

---What a session reports for the whole session rather than for this run.
M.cumulative = { usage = false, cost = false }

-- The run's status and reason for how the turn stopped.
local function stopped(c)
  local r = c.stop_reason
  if r == "end_turn" then
    return nil
  elseif r == "refusal" then
    return "blocked", "the agent refused to go on (stopReason refusal)"
  elseif r == "cancelled" and not c.cancelled then
    for _, p in ipairs(c.permissions) do
      if p.decision == "deny" then
        return "blocked", ("the agent stopped after a permission was denied: %s (%s)"):format(tostring(p.tool),
          tostring(p.why))
      end
    end
    return "interrupted", "the agent cancelled its turn"
  elseif r == "cancelled" then
    return "interrupted", "the turn was cancelled (session/cancel)"
  end
  return "failed", ("the agent stopped: %s"):format(tostring(r or "no stopReason"))
end

-- The answer's usage, in the summary's shape.
local function usage(s, u)
  local input, read, write = ev.count(u.inputTokens), ev.count(u.cachedReadTokens), ev.count(u.cachedWriteTokens)
  local all_input = ev.plus(ev.plus(input, read or 0), write or 0)
  s.usage = ev.usage(all_input, read, ev.count(u.outputTokens), ev.count(u.thoughtTokens), ev.count(u.totalTokens))
  s.usage_raw = u
end

---@return boolean known
function M.handle(s, e, emit)
  local c = s.acp
  if not c then
    return false
  end
  c:message(e)
  s.session_id = c.session_id
  if c.done and not s.completed then
    s.completed = true
    if c.failure then
      s.is_error, s.failure = true, c.failure
    else
      s.stop_status, s.stop_why = stopped(c)
    end
    local answer = c:answer()
    if answer ~= "" then
      s.messages, s.last_message = s.messages + 1, answer
      emit("message", { chars = #answer, text = ev.clip(answer, ev.MESSAGE_TEXT) })
    end
    if c.usage then
      usage(s, c.usage)
      s.cumulative = c.usage_whole_session and { usage = true, cost = false } or nil
    end
    s.cost_usd = c.cost_usd
    for _, p in ipairs(c.permissions) do
      if p.decision == "deny" then
        ev.keep(s, "permission_denials", { tool = p.tool, why = p.why })
      end
    end
  end
  return true
end

return M
