--- The `claude -p --output-format stream-json --verbose` event dialect for `agent_events`
--- (Claude Code 2.1, AGENT-CLIS.md).
---
--- Usage comes from the final `result` line: input = input_tokens + cache_creation_input_tokens +
--- cache_read_input_tokens (every input token, as OpenAI counts them), cached_input =
--- cache_read_input_tokens, output = output_tokens, reasoning_output =
--- output_tokens_details.thinking_tokens when reported, total = input + output; cost_usd =
--- total_cost_usd (cumulative over a resumed session: the runner subtracts the previous run's).
--- On API errors `subtype` still says "success": `is_error`, `api_error_status` and
--- `terminal_reason` decide; a run that never reached the API (a session to resume that does not
--- exist) says why in `errors[]`.
local ev = require("agent_events")

local M = { name = "claude" }

---What a resumed session reports for the whole session rather than for this run.
M.cumulative = { usage = false, cost = true }

-- Why a failed result failed: its text, else its errors, else the API status.
local function failure(e)
  if type(e.result) == "string" and e.result ~= "" then
    return e.result
  end
  local said = type(e.errors) == "table" and e.errors[1]
  if type(said) == "string" and said ~= "" then
    return ev.clip(said)
  end
  return "API error" .. (e.api_error_status and (" " .. tostring(e.api_error_status)) or "")
    .. (e.terminal_reason and (" (" .. tostring(e.terminal_reason) .. ")") or "")
end

local function on_result(s, e, emit)
  s.completed = true
  if type(e.result) == "string" then
    s.final_message = e.result
  end
  s.session_id = e.session_id or s.session_id
  local u = type(e.usage) == "table" and e.usage or {}
  local fresh, made, read = ev.count(u.input_tokens), ev.count(u.cache_creation_input_tokens),
    ev.count(u.cache_read_input_tokens)
  local input = ev.plus(ev.plus(fresh, made or 0), read or 0)
  local output = ev.count(u.output_tokens)
  local details = type(u.output_tokens_details) == "table" and u.output_tokens_details or {}
  s.usage = ev.usage(input, read, output, ev.count(details.thinking_tokens), ev.plus(input, output))
  s.usage_raw = u
  if type(e.total_cost_usd) == "number" and e.total_cost_usd >= 0 then
    s.cost_usd = e.total_cost_usd
  end
  for _, d in ipairs(type(e.permission_denials) == "table" and e.permission_denials or {}) do
    ev.keep(s, "permission_denials", d)
  end
  s.terminal_reason = e.terminal_reason
  s.num_turns = ev.count(e.num_turns)
  if e.is_error == true or (e.terminal_reason ~= nil and e.terminal_reason ~= "completed") then
    s.is_error = true
    s.failure = failure(e)
  end
  emit("result", { usage = s.usage, cost_usd = s.cost_usd, is_error = s.is_error })
end

-- Bash calls waiting for their result, by tool_use id (at most MAX_KEPT: calls whose result
-- never comes must not pile up).
local function bash_started(s, id, command)
  s.bash_running = s.bash_running or {}
  s.bash_waiting = s.bash_waiting or 0
  if s.bash_waiting < ev.MAX_KEPT and not s.bash_running[id] then
    s.bash_running[id] = type(command) == "string" and ev.clip(command) or true
    s.bash_waiting = s.bash_waiting + 1
  end
end

local function on_assistant(s, e, emit)
  local m = type(e.message) == "table" and e.message or {}
  for _, block in ipairs(type(m.content) == "table" and m.content or {}) do
    if block.type == "text" and type(block.text) == "string" then
      s.messages, s.last_message = s.messages + 1, block.text
      emit("message", { chars = #block.text })
    elseif block.type == "tool_use" then
      ev.keep(s, "tool_calls", { id = block.id, name = block.name })
      emit("tool_call", { name = block.name })
      local input = type(block.input) == "table" and block.input or {}
      if block.name == "Bash" and block.id ~= nil then
        bash_started(s, block.id, input.command)
      end
      if (block.name == "Edit" or block.name == "Write" or block.name == "MultiEdit" or block.name == "NotebookEdit")
          and type(input.file_path or input.notebook_path) == "string" then
        local path = input.file_path or input.notebook_path
        ev.keep(s, "file_changes", { path = ev.clip(path), kind = block.name == "Write" and "write" or "edit" })
        emit("file_change", { path = path })
      end
    elseif block.type == "thinking" then
      emit("reasoning", {})
    end
  end
  if m.model and m.model ~= "<synthetic>" then
    s.model = m.model
  end
end

-- Tool results: a Bash result becomes a command with its output.
local function on_user(s, e)
  local m = type(e.message) == "table" and e.message or {}
  for _, block in ipairs(type(m.content) == "table" and m.content or {}) do
    local command = block.type == "tool_result" and s.bash_running and s.bash_running[block.tool_use_id]
    if command then
      s.bash_running[block.tool_use_id] = nil
      s.bash_waiting = s.bash_waiting - 1
      local content = type(block.content) == "string" and block.content or nil
      ev.keep(s, "commands", { command = command ~= true and command or nil,
        status = block.is_error and "failed" or "completed", output_tail = ev.tail(content) })
    end
  end
end

---@return boolean known
function M.handle(s, e, emit)
  local t = e.type
  if t == "system" then
    if e.subtype == "init" then
      s.session_id = e.session_id
      s.model = e.model
      emit("session", { id = e.session_id, model = e.model })
    elseif e.subtype == "api_retry" then
      s.retries = s.retries + 1
      emit("retry", {})
    elseif e.subtype == "permission_denied" then
      ev.keep(s, "warnings", ev.clip("permission denied: " .. tostring(e.tool_name) .. ": " .. tostring(e.message)))
      emit("permission_denied", { tool = e.tool_name })
    end
  elseif t == "assistant" then
    on_assistant(s, e, emit)
  elseif t == "user" then
    on_user(s, e)
  elseif t == "result" then
    on_result(s, e, emit)
  else
    return false
  end
  return true
end

return M
