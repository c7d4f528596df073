--- The `codex exec --json` event dialect for `agent_events` (codex-cli 0.169, AGENT-CLIS.md).
---
--- Usage comes from `turn.completed.usage`: input = input_tokens, cached_input =
--- cached_input_tokens, output = output_tokens, reasoning_output = reasoning_output_tokens, and
--- total = input + output (the Responses API's own identity: cached tokens are part of the input,
--- reasoning tokens part of the output). After `codex exec resume` the figures are cumulative for
--- the thread: the runner subtracts the previous run's (telemetry.delta).
local ev = require("agent_events")

local M = { name = "codex" }

---What a resumed session reports for the whole session rather than for this run.
M.cumulative = { usage = true, cost = false }

local function on_item(s, item, done, emit)
  local t = item.type
  if not done then
    return t ~= nil
  end
  if t == "agent_message" then
    if type(item.text) == "string" then
      s.messages, s.last_message = s.messages + 1, item.text
      emit("message", { chars = #item.text })
    end
  elseif t == "reasoning" then
    emit("reasoning", {})
  elseif t == "command_execution" then
    local c = { command = ev.clip(item.command), exit_code = ev.count(item.exit_code), status = item.status,
      output_tail = ev.tail(item.aggregated_output) }
    ev.keep(s, "commands", c)
    emit("command", { command = c.command, exit_code = c.exit_code, status = c.status })
  elseif t == "file_change" then
    for _, change in ipairs(type(item.changes) == "table" and item.changes or {}) do
      ev.keep(s, "file_changes", { path = ev.clip(change.path), kind = change.kind })
      emit("file_change", { path = change.path, kind = change.kind })
    end
  elseif t == "error" then
    ev.keep(s, "warnings", ev.clip(item.message))
    emit("warning", { message = item.message })
  elseif t == "mcp_tool_call" or t == "web_search" or t == "todo_list" or t == "collab_tool_call" then
    ev.keep(s, "tool_calls", { id = item.id, name = item.tool or item.name or t })
    emit("tool_call", { name = item.tool or item.name or t })
  else
    return false
  end
  return true
end

---@return boolean known
function M.handle(s, e, emit)
  local t = e.type
  if t == "thread.started" then
    s.session_id = e.thread_id
    emit("session", { id = e.thread_id })
  elseif t == "turn.started" then
    emit("turn_started", {})
  elseif t == "item.started" or t == "item.completed" or t == "item.updated" then
    if type(e.item) ~= "table" then
      return false
    end
    local known = on_item(s, e.item, t == "item.completed", emit)
    if not known then
      ev.unknown(s, t .. "/" .. tostring(e.item.type))
    end
  elseif t == "turn.completed" then
    local u = type(e.usage) == "table" and e.usage or {}
    local input, output = ev.count(u.input_tokens), ev.count(u.output_tokens)
    s.usage = ev.usage(input, ev.count(u.cached_input_tokens), output, ev.count(u.reasoning_output_tokens),
      ev.plus(input, output))
    s.usage_raw = u
    s.completed = true
    emit("turn_completed", { usage = s.usage })
  elseif t == "turn.failed" then
    local message = type(e.error) == "table" and e.error.message or "turn failed"
    s.completed, s.is_error, s.failure = true, true, message
    emit("turn_failed", { message = message })
  elseif t == "error" then
    local message = ev.clip(tostring(e.message))
    ev.keep(s, "errors", message)
    if message:lower():find("reconnecting") or message:lower():find("retry") then
      s.retries = s.retries + 1
    end
    emit("error", { message = message })
  else
    return false
  end
  return true
end

return M
