--- Claude Code hooks: the settings that make Claude Code call `sidecar hook EVENT`, merged into a
--- settings file without touching anyone else's hooks, and what a hook makes of the JSON Claude
--- Code hands it on stdin (docs: /work/shared/reference/AGENT-CLIS.md, "Claude Code hooks").
---
---   local settings = hooks.settings(proc.executable())          -- {hooks = {...}}
---   local merged, changed = hooks.merge(existing, exe)            -- idempotent; {remove = true} undoes
---   local fields = hooks.fields(input, repo)                      -- what an event records
---   local reason = hooks.decide(input, {repo = r, avoid = {...}}) -- nil, or why the tool is denied
---
--- Ours are the hook commands ending in `sidecar hook EVENT` (the program's name may be quoted
--- and prefixed with its folder, and a run's own hooks add ` --run`); every other hook, matcher
--- group and setting is kept as it was.
local git_commands = require("sidecar.run.git_commands")
local json = require("sidecar.core.json")
local secrets = require("sidecar.core.secrets")
local text = require("sidecar.core.text")

local M = {}

---The events a hook is installed for, in the order the settings list them.
M.EVENTS = { "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd" }
---The tools whose calls are handed to the hook: PreToolUse sees the shell and the edits (to deny a
---push, a tag or an avoided file), PostToolUse the edits (the files changed).
M.MATCHERS = { PreToolUse = "Bash|Edit|Write|MultiEdit|NotebookEdit", PostToolUse = "Edit|Write|MultiEdit|NotebookEdit" }
M.EDIT_TOOLS = { Edit = true, Write = true, MultiEdit = true, NotebookEdit = true }
M.PROMPT_CHARS = 200 -- the first characters of a prompt recorded
M.TIMEOUT_S = 10 -- what Claude Code waits for a hook at most (the hook takes milliseconds)
local COMMAND_BYTES, PATH_BYTES, TEXT_BYTES = 1000, 1000, 300
local REDACT_BYTES = 64 * 1024 -- a prompt is redacted on at most this much before it is clipped

local function shell_quote(s)
  return s:find("^[%w/._+-]+$") and s or ("'" .. s:gsub("'", "'\\''") .. "'")
end

---The hook command for `event`: `'/path/to/sidecar' hook EVENT`, with ` --run` for a run's own.
---@param exe string  the sidecar executable
---@param event string
---@param run? boolean
---@return string
function M.command(exe, event, run)
  return shell_quote(exe) .. " hook " .. event .. (run and " --run" or "")
end

---Whether a hook command is one of ours.
---@param command any
---@return boolean
function M.is_ours(command)
  if type(command) ~= "string" then
    return false
  end
  local rest = command:gsub("%s+%-%-run$", "") -- a run's own hook
  return rest:find("sidecar'?%s+hook%s+%u%a+$") ~= nil
end

local function group(exe, event, run)
  local g = { hooks = json.array({ { type = "command", command = M.command(exe, event, run), timeout = M.TIMEOUT_S } }) }
  g.matcher = M.MATCHERS[event]
  return g
end

---The settings JSON (as a table) holding our hooks and nothing else.
---@param exe string
---@param opts? {run: boolean?}  run: the hooks of a Sidecar run (`hook EVENT --run`)
---@return table
function M.settings(exe, opts)
  local hooks = json.object({})
  for _, event in ipairs(M.EVENTS) do
    hooks[event] = json.array({ group(exe, event, opts and opts.run) })
  end
  return json.object({ hooks = hooks })
end

-- A matcher group without our hooks: nil when nothing else was in it.
local function without_ours(g)
  if type(g) ~= "table" or not json.is_array(g.hooks) then
    return g -- not a group we know the shape of: someone else's, kept
  end
  local kept = json.array({})
  for _, h in ipairs(g.hooks) do
    if not (type(h) == "table" and M.is_ours(h.command)) then
      kept[#kept + 1] = h
    end
  end
  if #kept == #g.hooks then
    return g
  elseif #kept == 0 then
    return nil
  end
  local copy = json.object({})
  for k, v in pairs(g) do
    copy[k] = v
  end
  copy.hooks = kept
  return copy
end

---Our hooks merged into a settings table (decoded from settings.json), or taken out of it with
---`remove`. Every other key, event, group and hook stays as it was. Returns the new settings and
---whether anything changed, or nil and why when the settings' shape is not what Claude Code reads.
---@param settings table|nil  nil: no file yet
---@param exe string
---@param opts? {remove: boolean?}
---@return table|nil settings, boolean|string changed_or_why
function M.merge(settings, exe, opts)
  settings = settings or json.object({})
  if not json.is_object(settings) then
    return nil, "the settings are not a JSON object"
  end
  local hooks = settings.hooks or json.object({})
  if not json.is_object(hooks) then
    return nil, "\"hooks\" is not a JSON object"
  end
  local before = json.encode(settings)
  local out = json.object({})
  for event, groups in pairs(hooks) do
    if not json.is_array(groups) then
      return nil, ("\"hooks.%s\" is not a JSON array"):format(event)
    end
    local kept = json.array({})
    for _, g in ipairs(groups) do
      kept[#kept + 1] = without_ours(g)
    end
    out[event] = kept
  end
  for event, groups in pairs(out) do
    if #groups == 0 and #hooks[event] > 0 then
      out[event] = nil -- an event only we used goes with our hook (an empty list someone wrote stays)
    end
  end
  if not (opts and opts.remove) then
    for _, event in ipairs(M.EVENTS) do
      out[event] = out[event] or json.array({})
      table.insert(out[event], group(exe, event))
    end
  end
  local merged = json.object({})
  for k, v in pairs(settings) do
    merged[k] = v
  end
  -- No hooks left: the key goes too, unless it was empty already (then it stays as it was).
  merged.hooks = next(out) and out or (next(hooks) == nil and settings.hooks or nil)
  return merged, json.encode(merged) ~= before
end

-- A string field of the input, or nil.
local function str(t, key)
  local v = type(t) == "table" and t[key]
  return type(v) == "string" and v or nil
end

---The file an edit tool's input names (file_path, or notebook_path for NotebookEdit), or nil.
function M.edited_file(input)
  local tool_input = type(input.tool_input) == "table" and input.tool_input or {}
  return M.EDIT_TOOLS[str(input, "tool_name") or ""] and (str(tool_input, "file_path") or str(tool_input,
    "notebook_path")) or nil
end

---`path` relative to `repo` when it is inside it (then true), else as it is (then false).
---@param path string
---@param repos string[]  the repository's spellings (as given, real path)
function M.relative(path, repos)
  for _, repo in ipairs(repos) do
    if repo ~= "" and path:sub(1, #repo + 1) == repo .. "/" then
      return path:sub(#repo + 2), true
    end
  end
  return path, path:sub(1, 1) ~= "/"
end

---The first PROMPT_CHARS characters of a prompt, redacted before it is cut (a secret cut in two
---would no longer be recognised).
function M.prompt_start(prompt)
  local redacted = secrets.redact(text.clip(prompt, REDACT_BYTES, ""))
  local cut = utf8.offset(redacted, M.PROMPT_CHARS + 1)
  return cut and redacted:sub(1, cut - 1) .. "..." or redacted
end

---What an event records (bounded; the writer redacts every string): the session, the tool and its
---file or command, a prompt's start, why a session ended. `repos`: the repository's spellings, to
---name files relative to it.
---@param input table  the hook's JSON
---@param repos? string[]
---@return table
function M.fields(input, repos)
  local f = json.object({ session_id = text.clip(str(input, "session_id"), 200) })
  local event = str(input, "hook_event_name")
  local tool_input = type(input.tool_input) == "table" and input.tool_input or {}
  f.tool = text.clip(str(input, "tool_name"), 100)
  f.tool_use_id = text.clip(str(input, "tool_use_id"), 200)
  if event == "UserPromptSubmit" and str(input, "prompt") then
    f.prompt = M.prompt_start(input.prompt)
  elseif f.tool == "Bash" then
    f.command = text.clip(secrets.redact(text.clip(str(tool_input, "command") or "", REDACT_BYTES, "")), COMMAND_BYTES)
  end
  local file = M.edited_file(input)
  if file then
    local rel, inside = M.relative(file, repos or {})
    f.files = json.array({ text.clip(rel, PATH_BYTES) })
    f.outside_repo = not inside or nil
  end
  f.source = text.clip(str(input, "source"), TEXT_BYTES) -- SessionStart: startup, resume, ...
  f.reason = text.clip(str(input, "reason"), TEXT_BYTES) -- SessionEnd
  return f
end

---Why a Sidecar run denies this tool call (a PreToolUse input), or nil to let it run: a `git
---push`, a `git tag` that creates, moves or deletes a tag, an edit of a file the task avoids.
---@param input table
---@param policy {run_id: string?, repos: string[]?, avoid: string[]?}
---@return string|nil reason
function M.decide(input, policy)
  local who = "Sidecar run " .. (policy.run_id or "")
  local tool = str(input, "tool_name")
  local tool_input = type(input.tool_input) == "table" and input.tool_input or {}
  if tool == "Bash" then
    local command = str(tool_input, "command") or ""
    if git_commands.push_in(command) then
      return who .. ": agents may not push from inside a Sidecar run; whoever reviews the run pushes"
    elseif git_commands.tag_in(command) then
      return who .. ": agents may not create, move or delete tags inside a Sidecar run; whoever reviews the run tags"
    end
    return nil
  end
  local file = M.edited_file(input)
  if not file then
    return nil
  end
  local rel = M.relative(file, policy.repos or {})
  local gates = require("sidecar.run.gates") -- here: a run's start needs only run_env of this module
  for _, entry in ipairs(policy.avoid or {}) do
    local pattern, folder = gates.pattern(entry)
    if pattern and gates.matches(pattern, rel, folder) then
      return ("%s: the task says to avoid changing %s (files_to_avoid: %s); leave it as it is"):format(who,
        text.clip(rel, PATH_BYTES), text.clip(entry, PATH_BYTES))
    end
  end
  return nil
end

---Writes the settings of a run's own hooks (`hook EVENT --run`) into the run's folder, as
---claude_settings.json, and returns the file's absolute path (for `claude --settings`). A folder
---that does not exist is a preview (a dry run shows the argv): the path only. Raises when the file
---cannot be written: the run then fails before its agent starts.
---@param run_dir string
---@return string
function M.write_run_settings(run_dir)
  local dir = require("sidecar.core.artifact").open(run_dir)
  if not dir then
    return run_dir .. "/claude_settings.json"
  end
  assert(dir:write("claude_settings.json", json.encode(M.settings(require("sidecar.core.proc").executable(),
    { run = true }), { indent = 2 }) .. "\n"))
  local path = dir:root() .. "/claude_settings.json"
  dir:close()
  return require("sidecar.host.paths").real(path) or path
end

---Adds what a run's hooks need to the agent's environment `env`: SIDECAR_RUN_ID, SIDECAR_RUN_DIR,
---SIDECAR_REPO (absolute) and SIDECAR_AVOID (the task's files_to_avoid, a JSON array).
---@param env table
---@param run {run_id: string, run_dir: string, repo: string, task: table?}
function M.run_env(env, run)
  local real = require("sidecar.host.paths").real
  local impl = type(run.task) == "table" and type(run.task.implementation) == "table" and run.task.implementation
  local avoid = impl and type(impl.files_to_avoid) == "table" and impl.files_to_avoid or {}
  env.SIDECAR_RUN_ID, env.SIDECAR_RUN_DIR = run.run_id, real(run.run_dir) or run.run_dir
  env.SIDECAR_REPO, env.SIDECAR_AVOID = real(run.repo) or run.repo, json.encode(json.array({ table.unpack(avoid) }))
  return env
end

---The output that makes Claude Code deny a tool call, showing `reason` to the agent.
function M.deny_output(reason)
  return json.encode(json.object({ hookSpecificOutput = json.object({ hookEventName = "PreToolUse",
    permissionDecision = "deny", permissionDecisionReason = reason }) }))
end

return M
