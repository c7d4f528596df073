--- The `claude -p --output-format stream-json --verbose` event dialect for `agent_events`
--- (Claude Code 2.1, docs/agent-clis.md).
---
--- Usage comes from the final `result` line: input = input_tokens + cache_creation_input_tokens +
--- cache_read_input_tokens (every input token, as OpenAI counts them), cached_input =
--- cache_read_input_tokens, output = output_tokens, reasoning_output =
--- output_tokens_details.thinking_tokens when reported, total = input + output; cost_usd =
--- total_cost_usd (cumulative over a resumed session: the runner subtracts the previous run's).
--- On API errors `subtype` still says "success": `is_error`, `api_error_status` and
--- `terminal_reason` decide; a run that never reached the API (a session to resume that does not
--- exist) says why in `errors[]`.
local ev = require("sidecar.agent.events")

local M = { name = "claude" }

---What a resumed session reports for the whole session rather than for this run.
M.cumulative = { usage = false, cost = true }

-- Why a failed result failed: its text, else its errors, else the API status.
local function failure(s, e)
  if type(e.result) == "string" and e.result ~= "" then
    return ev.clip(e.result)
  end
  local said = type(e.errors) == "table" and e.errors[1]
  if type(said) == "string" and said ~= "" then
    return ev.clip(said)
  end
  local status = e.api_error_status
  status = (type(status) == "number" or type(status) == "string") and tostring(status) or nil
  local reason = ev.str(s, e.terminal_reason, "terminal_reason", 200)
  return "API error" .. (status and (" " .. ev.clip(status, 200)) or "") .. (reason and (" (" .. reason .. ")") or "")
end

local function on_result(s, e, emit)
  s.completed = true
  s.final_message = ev.str(s, e.result, "result", math.maxinteger) or s.final_message
  s.session_id = ev.str(s, e.session_id, "session_id", 200) or s.session_id
  local u = ev.tab(s, e.usage, "usage") or {}
  local fresh, made, read = ev.count(u.input_tokens), ev.count(u.cache_creation_input_tokens),
    ev.count(u.cache_read_input_tokens)
  local input = ev.plus(ev.plus(fresh, made or 0), read or 0)
  local output = ev.count(u.output_tokens)
  local details = ev.tab(s, u.output_tokens_details, "usage.output_tokens_details") or {}
  s.usage = ev.usage(input, read, output, ev.count(details.thinking_tokens), ev.plus(input, output))
  s.usage_raw = u
  if type(e.total_cost_usd) == "number" and e.total_cost_usd >= 0 and e.total_cost_usd <= ev.MAX_COST_USD then
    s.cost_usd = e.total_cost_usd
  end
  for _, d in ipairs(ev.tab(s, e.permission_denials, "permission_denials") or {}) do
    ev.keep(s, "permission_denials", d)
  end
  s.terminal_reason = ev.str(s, e.terminal_reason, "terminal_reason", 200)
  s.num_turns = ev.count(e.num_turns)
  if e.is_error == true or (s.terminal_reason ~= nil and s.terminal_reason ~= "completed") then
    s.is_error = true
    s.failure = failure(s, e)
  end
  emit("result", { usage = s.usage, cost_usd = s.cost_usd, is_error = s.is_error })
end

-- Bash calls waiting for their result, by tool_use id (at most MAX_KEPT: calls whose result
-- never comes must not pile up).
local function bash_started(s, id, command)
  s.bash_running = s.bash_running or {}
  s.bash_waiting = s.bash_waiting or 0
  if s.bash_waiting < ev.MAX_KEPT and not s.bash_running[id] then
    s.bash_running[id] = ev.clip(command) or true
    s.bash_waiting = s.bash_waiting + 1
  end
end

local EDITS = { Edit = "edit", Write = "write", MultiEdit = "edit", NotebookEdit = "edit" }

local function on_tool_use(s, block, emit)
  local name = ev.str(s, block.name, "tool_use.name", 200)
  local id = ev.str(s, block.id, "tool_use.id", 200)
  ev.keep(s, "tool_calls", { id = id, name = name })
  emit("tool_call", { name = name })
  local input = ev.tab(s, block.input, "tool_use.input") or {}
  if name == "Bash" and id ~= nil then
    bash_started(s, id, input.command)
  end
  local path = EDITS[name] and ev.str(s, input.file_path or input.notebook_path, "tool_use.input.file_path")
  if path then
    ev.keep(s, "file_changes", { path = path, kind = EDITS[name] })
    emit("file_change", { path = path })
  end
end

local function on_assistant(s, e, emit)
  local m = ev.tab(s, e.message, "message") or {}
  for _, block in ipairs(ev.objects(s, m.content, "message.content")) do
    local text = block.type == "text" and ev.str(s, block.text, "message.content[].text", math.maxinteger)
    if text then
      s.messages, s.last_message = s.messages + 1, text
      emit("message", { chars = #text, text = ev.clip(text, 2000) }) -- its text for a live tail (redacted as written)
    elseif block.type == "tool_use" then
      on_tool_use(s, block, emit)
    elseif block.type == "thinking" then
      emit("reasoning", {})
    end
  end
  local model = ev.str(s, m.model, "message.model", 200)
  if model and model ~= "<synthetic>" then
    s.model = model
  end
end

-- Tool results: a Bash result becomes a command with its output.
local function on_user(s, e)
  local m = ev.tab(s, e.message, "message") or {}
  for _, block in ipairs(ev.objects(s, m.content, "message.content")) do
    local id = type(block.tool_use_id) == "string" and block.tool_use_id
    local command = block.type == "tool_result" and id and s.bash_running and s.bash_running[id]
    if command then
      s.bash_running[id] = nil
      s.bash_waiting = s.bash_waiting - 1
      ev.keep(s, "commands", { command = command ~= true and command or nil,
        status = block.is_error == true and "failed" or "completed", output_tail = ev.tail(block.content) })
    end
  end
end

local function on_system(s, e, emit)
  if e.subtype == "init" then
    s.session_id = ev.str(s, e.session_id, "session_id", 200)
    s.model = ev.str(s, e.model, "model", 200)
    emit("session", { id = s.session_id, model = s.model })
  elseif e.subtype == "api_retry" then
    s.retries = s.retries + 1
    emit("retry", {})
  elseif e.subtype == "permission_denied" then
    local tool = ev.str(s, e.tool_name, "tool_name", 200)
    local said = ev.str(s, e.message, "message")
    ev.keep(s, "warnings", ev.clip("permission denied: " .. (tool or "(a tool)") .. (said and (": " .. said) or "")))
    emit("permission_denied", { tool = tool })
  end
end

---@return boolean known
function M.handle(s, e, emit)
  local t = e.type
  if t == "system" then
    on_system(s, e, emit)
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
