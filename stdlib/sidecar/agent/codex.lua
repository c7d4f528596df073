--- The `codex exec --json` event dialect for `agent_events` (codex-cli 0.169, docs/agent-clis.md).
---
--- Usage comes from `turn.completed.usage`: input = input_tokens, cached_input =
--- cached_input_tokens, output = output_tokens, reasoning_output = reasoning_output_tokens, and
--- total = input + output (the Responses API's own identity: cached tokens are part of the input,
--- reasoning tokens part of the output). After `codex exec resume` the figures are cumulative for
--- the thread: the runner subtracts the previous run's (telemetry.delta).
local ev = require("sidecar.agent.events")

local M = { name = "codex" }

---What a resumed session reports for the whole session rather than for this run.
M.cumulative = { usage = true, cost = false }

local TOOLS = { mcp_tool_call = true, web_search = true, todo_list = true, collab_tool_call = true }

local function on_item(s, item, done, emit)
  local t = item.type
  if not done then
    return t ~= nil
  end
  if t == "agent_message" then
    local text = ev.str(s, item.text, "item.text", math.maxinteger)
    if text then
      s.messages, s.last_message = s.messages + 1, text
      emit("message", { chars = #text, text = ev.clip(text, 2000) }) -- its text for a live tail (redacted as written)
    end
  elseif t == "reasoning" then
    emit("reasoning", {})
  elseif t == "command_execution" then
    local c = { command = ev.str(s, item.command, "item.command"), exit_code = ev.count(item.exit_code),
      status = ev.str(s, item.status, "item.status", 200), output_tail = ev.tail(item.aggregated_output) }
    ev.keep(s, "commands", c)
    emit("command", { command = c.command, exit_code = c.exit_code, status = c.status })
  elseif t == "file_change" then
    for i, change in ipairs(ev.objects(s, item.changes, "item.changes")) do
      local path = ev.str(s, change.path, ("item.changes[%d].path"):format(i))
      local kind = ev.str(s, change.kind, ("item.changes[%d].kind"):format(i), 200)
      if path then
        ev.keep(s, "file_changes", { path = path, kind = kind })
        emit("file_change", { path = path, kind = kind })
      end
    end
  elseif t == "error" then
    local message = ev.str(s, item.message, "item.message")
    ev.keep(s, "warnings", message or "an error item without a message")
    emit("warning", { message = message })
  elseif TOOLS[t] then
    local name = ev.str(s, item.tool or item.name, "item.tool", 200) or t
    ev.keep(s, "tool_calls", { id = ev.str(s, item.id, "item.id", 200), name = name })
    emit("tool_call", { name = name })
  else
    return false
  end
  return true
end

---@return boolean known
function M.handle(s, e, emit)
  local t = e.type
  if t == "thread.started" then
    s.session_id = ev.str(s, e.thread_id, "thread_id", 200)
    emit("session", { id = s.session_id })
  elseif t == "turn.started" then
    emit("turn_started", {})
  elseif t == "item.started" or t == "item.completed" or t == "item.updated" then
    if type(e.item) ~= "table" then
      return false
    end
    local known = on_item(s, e.item, t == "item.completed", emit)
    if not known then
      ev.unknown(s, t .. "/" .. (type(e.item.type) == "string" and e.item.type or "(" .. type(e.item.type) .. ")"))
    end
  elseif t == "turn.completed" then
    local u = ev.tab(s, e.usage, "usage") or {}
    local input, output = ev.count(u.input_tokens), ev.count(u.output_tokens)
    s.usage = ev.usage(input, ev.count(u.cached_input_tokens), output, ev.count(u.reasoning_output_tokens),
      ev.plus(input, output))
    s.usage_raw = u
    s.completed = true
    emit("turn_completed", { usage = s.usage })
  elseif t == "turn.failed" then
    local err = ev.tab(s, e.error, "error")
    local message = err and ev.str(s, err.message, "error.message") or "turn failed"
    s.completed, s.is_error, s.failure = true, true, message
    emit("turn_failed", { message = message })
  elseif t == "error" then
    local message = ev.str(s, e.message, "message") or "an error event without a readable message"
    ev.keep(s, "errors", message)
    local lower = message:lower()
    if lower:find("reconnecting", 1, true) or lower:find("retry", 1, true) then
      s.retries = s.retries + 1
    end
    emit("error", { message = message })
  else
    return false
  end
  return true
end

return M
