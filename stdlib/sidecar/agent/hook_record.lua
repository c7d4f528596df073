--- Where Claude Code hook events are recorded, and reading them back.
---
--- Inside a Sidecar run (the runner sets SIDECAR_RUN_ID and SIDECAR_RUN_DIR in the agent's
--- environment) an event is one more line of the run's events.jsonl, kind `hook.<Event>`
--- ("hook.PostToolUse"), appended whole under the file's lock (host/store/artifact_store.cpp) while the
--- run writes its own: its `seq` follows the file's last line, which the run's recorder does not
--- see, so a number may repeat; the order of the lines is the order of the events.
---
--- Outside runs (a person's own Claude Code session), events go to a session record: the file
--- `sessions/claude-code-<first 8 of the session id>.jsonl` of the nearest `.agent` folder above the
--- session's folder (none: nothing is recorded). A folder of JSON Lines rather than a table of the
--- SQLite store: each hook appends one line with O_APPEND under a lock (no store to open, no
--- schema to migrate, no writer lock to wait for: the hook must take milliseconds), many sessions
--- write side by side without contention, and the files read like a run's events.jsonl. Each line
--- carries the SHA-256 of the hook's input (`key`), so an event handed over twice is recorded once.
--- Both files are bounded: past MAX_RUN_BYTES / MAX_SESSION_BYTES nothing more is added.
local artifact = require("sidecar.core.artifact")
local digest = require("sidecar.host.digest")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local clock = require("sidecar.host.time")

local M = {}

M.MAX_RUN_BYTES = 64 * 1024 * 1024
M.MAX_SESSION_BYTES = 8 * 1024 * 1024
M.PREFIX = "claude-code:"
local TAIL = 64 * 1024 -- the last line of events.jsonl is looked for in this much of its end

-- "2026-11-21T13:45:01.123Z", now.
local function now_ts()
  local ms = clock.wall_ms()
  return os.date("!%Y-%m-%dT%H:%M:%S", ms // 1000) .. (".%03dZ"):format(ms % 1000)
end

-- The seq of the last complete line of an events file (0: none found), and the file's size.
local function last_seq(path)
  local f = io.open(path, "rb")
  if not f then
    return 0, 0
  end
  local size = f:seek("end")
  f:seek("set", math.max(size - TAIL, 0))
  local tail = f:read("a") or ""
  f:close()
  -- Linear: the last line starts after the last newline but one ("([^\n]+)\n$" would retry at
  -- every position of the tail).
  if tail:sub(-1) ~= "\n" then
    return 0, size
  end
  local from = 1
  for at in tail:sub(1, -2):gmatch("()\n") do
    from = at + 1
  end
  local seq = 0 -- the line's own "seq" is its last one: keys are sorted, "fields" comes first
  for n in tail:sub(from):gmatch('"seq":(%d+)') do
    seq = tonumber(n) or seq
  end
  return seq, size
end

---The file a sandboxed run's hooks append to (events.jsonl is read-only in the sandbox: an agent
---must not be able to rewrite the run's record), made in the sandbox's private folder, in memory
---(sidecar.run.sandbox: the agent's SIDECAR_HOOK_EVENTS names its path); merged into events.jsonl
---when the agent has ended (M.merge_sandboxed).
M.SANDBOX_FILE = "hook_events.jsonl"

-- The folder and name of the file a hook inside a run appends to: the run's events.jsonl, or in a
-- sandbox the file SIDECAR_HOOK_EVENTS names (M.SANDBOX_FILE, by its absolute path).
local function run_file(run_dir)
  local sandboxed = os.getenv("SIDECAR_HOOK_EVENTS") or ""
  local folder, name = sandboxed:match("^(/.*)/([^/]+)$")
  if name == M.SANDBOX_FILE then
    return folder, name
  end
  return run_dir, "events.jsonl"
end

---Appends the event to a run's events.jsonl (in a sandbox, to its M.SANDBOX_FILE). Returns true,
---or nil and why.
---@param run_dir string  the run's folder (absolute)
---@param event string  "PostToolUse"
---@param fields table
---@return boolean|nil ok, string? why
function M.to_run(run_dir, event, fields)
  local folder, name = run_file(run_dir)
  local seq, size = last_seq(folder .. "/" .. name)
  if size >= M.MAX_RUN_BYTES then
    return nil, name .. " is full"
  end
  local dir, message = artifact.open(folder)
  if not dir then
    return nil, message
  end
  local line = json.object({ fields = fields, kind = "hook." .. event, seq = seq + 1, ts = now_ts(),
    source = "hook" })
  local ok, why = dir:append_jsonl(name, line)
  dir:close()
  return ok, why
end

-- The events of a sandboxed run's hooks file that are hook events (anything else the agent may
-- have written there is left out), at most MAX_RUN_BYTES of it.
local function sandboxed_events(path)
  local f = io.open(path, "rb")
  if not f then
    return {}
  end
  local text = f:read(M.MAX_RUN_BYTES) or ""
  f:close()
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local ok, e = json.try_decode(line)
    if ok and type(e) == "table" and type(e.kind) == "string" and e.kind:match("^hook%.%a+$") and e.source == "hook"
      and type(e.fields) == "table" then
      out[#out + 1] = e
    end
  end
  return out
end

---Moves the events a sandboxed run's hooks wrote (`path`: its M.SANDBOX_FILE) into the run's
---events.jsonl, numbered after its last line, and removes the file. Returns how many were moved.
---@param run_dir string
---@param path string
---@return integer
function M.merge_sandboxed(run_dir, path)
  local events = sandboxed_events(path)
  local dir = #events > 0 and artifact.open(run_dir)
  if dir then
    local seq = last_seq(run_dir .. "/events.jsonl")
    for _, e in ipairs(events) do
      seq = seq + 1
      dir:append_jsonl("events.jsonl", json.object({ fields = json.object(e.fields), kind = e.kind, seq = seq,
        ts = type(e.ts) == "string" and e.ts or now_ts(), source = "hook" }))
    end
    dir:close()
  end
  os.remove(path)
  return dir and #events or 0
end

---The session id as people see it: "claude-code:cebb53f8".
function M.session_id(claude_session)
  return M.PREFIX .. claude_session:sub(1, 8)
end

local function session_file(root, id)
  return root .. "/sessions/" .. id:gsub(":", "-", 1) .. ".jsonl"
end

---Appends the event to its session record, once: an input recorded before (the same bytes) is
---not added again. `root`: the .agent folder. Returns true (added), false (there already), or
---nil and why.
---@param root string
---@param input_text string  the hook's input, as it came
---@param input table  decoded
---@param fields table
function M.to_session(root, input_text, input, fields)
  local claude_session = type(input.session_id) == "string" and input.session_id:match("^[%w-]+$")
  if not claude_session then
    return nil, "the hook's input has no session_id"
  end
  local id = M.session_id(claude_session)
  local file = session_file(root, id)
  local key = digest.sha256(input_text):sub(1, 32)
  local f = io.open(file, "rb")
  if f then
    local held = f:read(M.MAX_SESSION_BYTES) or ""
    f:close()
    if #held >= M.MAX_SESSION_BYTES then
      return nil, "the session record is full"
    elseif held:find('"key":"' .. key .. '"', 1, true) then
      return false
    end
  end
  local dir, message = artifact.open(root .. "/sessions", { create = true })
  if not dir then
    return nil, message
  end
  fields.cwd = type(input.cwd) == "string" and input.cwd:sub(1, 1000) or nil
  local line = json.object({ fields = fields, key = key, kind = "hook." .. tostring(input.hook_event_name),
    session = id, ts = now_ts() })
  local ok, why = dir:append_jsonl(file:match("[^/]+$"), line)
  dir:close()
  return ok, why
end

-- A session's events, read leniently: a line that is not JSON (a crash's leftover) is skipped.
local function events_of(file)
  local f = io.open(file, "rb")
  if not f then
    return nil
  end
  local list = {}
  for line in f:lines() do
    local ok, e = json.try_decode(line)
    if ok and type(e) == "table" then
      list[#list + 1] = e
    end
  end
  f:close()
  return list
end

-- {id, started_at, updated_at, events, cwd, files = {...}, prompts, denied...} of a session's events.
local function summary(id, events)
  local s = { id = id, events = #events, files = json.array({}), prompts = 0, tool_calls = 0 }
  local seen = {}
  for _, e in ipairs(events) do
    local f = type(e.fields) == "table" and e.fields or {}
    s.started_at = s.started_at or e.ts
    s.updated_at = e.ts or s.updated_at
    s.cwd = s.cwd or f.cwd
    s.ended = s.ended or e.kind == "hook.SessionEnd"
    s.prompts = s.prompts + (e.kind == "hook.UserPromptSubmit" and 1 or 0)
    s.last_prompt = e.kind == "hook.UserPromptSubmit" and f.prompt or s.last_prompt
    s.tool_calls = s.tool_calls + (e.kind == "hook.PreToolUse" and 1 or 0)
    for _, path in ipairs(e.kind == "hook.PostToolUse" and type(f.files) == "table" and f.files or {}) do
      if not seen[path] then
        seen[path] = true
        s.files[#s.files + 1] = path
      end
    end
  end
  s.ended = s.ended or false
  return s
end

---The sessions recorded in the store `root`, most recently updated first (summaries).
---@param root string
---@return table[]
function M.list(root)
  local out = {}
  for _, name in ipairs(paths.entries(root .. "/sessions") or {}) do
    local id = name:match("^claude%-code%-([%w-]+)%.jsonl$")
    if id then
      out[#out + 1] = summary(M.PREFIX .. id, events_of(root .. "/sessions/" .. name) or {})
    end
  end
  table.sort(out, function(a, b)
    return (a.updated_at or "") > (b.updated_at or "")
  end)
  return out
end

---One session: its summary and its events; nil and why when there is none.
---@param root string
---@param id string  "claude-code:cebb53f8" (or the 8 characters alone)
function M.show(root, id)
  id = id:find(":", 1, true) and id or (M.PREFIX .. id)
  if not id:match("^claude%-code:[%w-]+$") then
    return nil, ("'%s' is not a session id (claude-code:<8 characters>; see sidecar session list)"):format(id)
  end
  local events = events_of(session_file(root, id))
  if not events then
    return nil, ("no session %s (see sidecar session list)"):format(id)
  end
  local s = summary(id, events)
  s.list = events
  return s
end

return M
