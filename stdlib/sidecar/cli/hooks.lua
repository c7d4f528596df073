--- `sidecar hooks print|install`, `sidecar hook EVENT` and `sidecar session list|show`: Claude
--- Code hooks that record what a session does and, inside a Sidecar run, deny what an agent may
--- not do (stdlib/sidecar/agent/hooks.lua, hook_record.lua).
---
--- `sidecar hook` always exits 0 and prints nothing but a permission decision: a broken hook must
--- never break the session it watches. What it could not do is said in one line on stderr
--- (Claude Code shows it in its debug output only).
local host_artifact = require("sidecar.host.artifact")
local hook_record = require("sidecar.agent.hook_record")
local hooks = require("sidecar.agent.hooks")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local store = require("sidecar.core.store")
local text = require("sidecar.core.text")

local M = {}

local EXIT_OK = 0
---The largest hook input read; a larger one is drained and not recorded (nothing can be known of it).
M.MAX_INPUT = 64 * 1024 * 1024

-- hooks print / install --------------------------------------------------------------------------

local function settings_text(settings)
  return json.encode(settings, { indent = 2 }) .. "\n"
end

---`sidecar hooks print`: the settings JSON with Sidecar's hooks.
function M.print(o)
  local settings = hooks.settings(proc.executable())
  if o.json then
    out.envelope("hooks print", true, settings, nil, o.version)
  else
    io.write(settings_text(settings))
  end
  return EXIT_OK
end

-- The folder of the project: the nearest one holding .git, else the current one.
local function project_dir()
  local dir = paths.real(".") or "."
  local at = dir
  while at ~= "" do
    if paths.real(at .. "/.git") then
      return at
    end
    at = at:match("^(.*)/[^/]*$") or ""
  end
  return dir
end

-- The settings file to change: the project's .claude/settings.json or the user's settings.json
-- (CLAUDE_CONFIG_DIR, default ~/.claude). Returns folder, file name.
local function settings_path(o)
  if o.user then
    local dir = os.getenv("CLAUDE_CONFIG_DIR")
    if not dir or dir == "" then
      dir = (os.getenv("HOME") or "") .. "/.claude"
    end
    return dir, "settings.json"
  end
  return project_dir() .. "/.claude", "settings.json"
end

-- The existing settings (nil when there is no file), or false and why it cannot be used.
local function read_settings(file)
  local f = io.open(file, "rb")
  if not f then
    return nil
  end
  local raw = f:read(16 * 1024 * 1024 + 1)
  f:close()
  if not raw or #raw > 16 * 1024 * 1024 then
    return false, "it cannot be read or is larger than 16 MiB"
  elseif raw:match("^%s*$") then
    return nil -- an empty file holds no settings yet
  end
  local ok, settings = json.try_decode(raw)
  if not ok then
    local e = settings
    return false, ("it is not valid JSON (line %s, column %s)"):format(tostring(e.line), tostring(e.column))
  end
  return settings
end

-- The name the hooks call Sidecar by. In a project's settings, shared through its repository,
-- plain `sidecar` when the `sidecar` on PATH is this very binary, so each teammate's own install
-- answers; otherwise (and in the user's settings) this binary's path, with a note saying why.
local function hook_executable(o)
  local exe = proc.executable()
  if o.user then
    return exe
  end
  local on_path = paths.program("sidecar")
  local found = on_path and paths.real(on_path)
  if found then
    if found == paths.real(exe) then
      return "sidecar"
    end
    return exe, ("the project's hooks call %s by its path: the `sidecar` on PATH is another one (%s)"):format(exe,
      found)
  end
  return exe, ("the project's hooks call %s by its path, as no `sidecar` is on PATH: a teammate needs Sidecar "
    .. "at that path, or on PATH (then run this again)"):format(exe)
end

---`sidecar hooks install [--project|--user] [--remove]`: Sidecar's hooks merged into (or taken out
---of) a Claude Code settings file; the user's other hooks and settings stay. Written atomically;
---a file that is not valid JSON is refused and left as it is.
function M.install(o)
  local command = o.remove and "hooks remove" or "hooks install"
  local dir, name = settings_path(o)
  local file = dir .. "/" .. name
  local real = paths.real(file) -- a settings.json that links to a dotfiles folder is changed there
  if real then
    dir, name = real:match("^(.*)/([^/]+)$")
  end
  local existing, why = read_settings(file)
  if existing == false then
    return out.fail(o, command, ("%s: %s; fix or move it, then run this again (nothing was changed)"):format(file, why))
  end
  local exe, note = hook_executable(o)
  local merged, changed = hooks.merge(existing, exe, { remove = o.remove })
  if not merged then
    return out.fail(o, command, ("%s: %s, as Claude Code reads it; fix it, then run this again (nothing was changed)")
      :format(file, changed))
  end
  if changed then
    -- The host's artifact folder writes atomically and does not redact: the user's settings may
    -- hold keys of their own, which must stay as they are.
    local d, message = host_artifact.open(dir, true)
    local ok = false
    if d then
      ok, message = d:write(name, settings_text(merged))
      d:close()
    end
    if not ok then
      return out.fail(o, command, ("cannot write %s: %s (nothing was changed)"):format(file, tostring(message)))
    end
  end
  local said = o.remove and (changed and "removed Sidecar's hooks from %s" or "no Sidecar hooks in %s: nothing changed")
    or (changed and "installed Sidecar's hooks in %s" or "Sidecar's hooks are already in %s: nothing changed")
  note = not o.remove and note or nil
  if o.json then
    out.envelope(command, true, { file = file, changed = changed, events = json.array(hooks.EVENTS),
      command = hooks.command(exe, "EVENT"), note = note }, nil, o.version)
  else
    print(said:format(file))
    if note then
      io.stderr:write("sidecar: note: ", note, "\n")
    end
  end
  return EXIT_OK
end

-- hook EVENT -------------------------------------------------------------------------------------

-- The hook's input, at most MAX_INPUT bytes; a larger one is read to its end (the writer must not
-- meet a closed pipe) and given as nil with its size.
local function read_input()
  local got = io.stdin:read(M.MAX_INPUT + 1) or ""
  if #got <= M.MAX_INPUT then
    return got
  end
  local size = #got
  got = nil
  while true do
    local more = io.stdin:read(1024 * 1024)
    if not more then
      return nil, size
    end
    size = size + #more
  end
end

local function note(message)
  io.stderr:write("sidecar hook: ", text.visible(tostring(message)), "\n")
end

-- The avoided files the runner put in SIDECAR_AVOID (a JSON array of strings).
local function avoided()
  local raw = os.getenv("SIDECAR_AVOID")
  local ok, list = json.try_decode(raw or "[]")
  return ok and json.is_array(list) and list or {}
end

-- The repository's spellings: as given, and its real path.
local function spellings(repo)
  local list = {}
  if type(repo) == "string" and repo ~= "" then
    list[1] = repo
    list[2] = paths.real(repo)
  end
  return list
end

-- Inside a Sidecar run: denies what the run does not allow (PreToolUse), marks an edit of an
-- avoided file (PostToolUse), and appends the event to the run's events.jsonl.
local function in_run(event, input, run_dir)
  local policy = { run_id = os.getenv("SIDECAR_RUN_ID"), repos = spellings(os.getenv("SIDECAR_REPO")), avoid = avoided() }
  local fields = hooks.fields(input, policy.repos)
  fields.run_id = policy.run_id
  local reason = (event == "PreToolUse" or event == "PostToolUse") and hooks.decide(input, policy) or nil
  if reason and event == "PreToolUse" then
    io.write(hooks.deny_output(reason), "\n") -- first: the denial must not wait on the record
    io.stdout:flush()
    fields.decision, fields.reason = "deny", reason
  elseif reason then
    fields.avoided = reason -- the edit happened: the run's gates weigh it (avoided_files)
  end
  local ok, why = hook_record.to_run(run_dir, event, fields)
  if not ok then
    note("not recorded in " .. run_dir .. "/events.jsonl: " .. tostring(why))
  end
end

local function handle(o)
  local raw, size = read_input()
  if not raw then
    return note(("the input is %d bytes, more than the %d read: not recorded"):format(size, M.MAX_INPUT))
  end
  raw = text.repair_utf8(raw) -- bytes that are not UTF-8 become U+FFFD: recorded, never broken
  local ok, input = json.try_decode(raw)
  if not ok or not json.is_object(input) then
    return note("the input is not a JSON object: not recorded")
  end
  local run_dir = os.getenv("SIDECAR_RUN_DIR")
  if run_dir and run_dir ~= "" then
    if o.run then
      in_run(o.event, input, run_dir)
    end -- else a hook installed by the user, inside a run: the run's own hook (--run) does the work
    return
  end
  local cwd = type(input.cwd) == "string" and input.cwd or "."
  local root = store.find_root(cwd)
  if not paths.real(root) then
    return -- no Sidecar store for this session: nothing to record
  end
  local linked = store.planted_link(root)
  if linked then
    return note("not recorded: " .. linked)
  end
  local fields = hooks.fields(input, spellings(cwd))
  local done, why = hook_record.to_session(root, raw, input, fields)
  if done == nil then
    note("not recorded in " .. root .. "/sessions: " .. tostring(why))
  end
end

---`sidecar hook EVENT [--run]`: one Claude Code hook event on stdin. Always 0.
function M.hook(o)
  local ok, err = pcall(handle, o)
  if not ok then
    note(err)
  end
  return EXIT_OK
end

-- session list / show ----------------------------------------------------------------------------

local function root_of(o)
  return o.root or store.find_root(".")
end

---`sidecar session list`: the Claude Code sessions the hooks recorded, most recent first.
function M.session_list(o)
  local list = hook_record.list(root_of(o))
  if o.json then
    for _, s in ipairs(list) do
      s.list = nil
    end
    out.envelope("session list", true, json.array(list), nil, o.version)
    return EXIT_OK
  end
  if #list == 0 then
    print("no sessions recorded (install the hooks: sidecar hooks install)")
    return EXIT_OK
  end
  local rows = {}
  for _, s in ipairs(list) do
    rows[#rows + 1] = { s.id, s.updated_at or "-", tostring(s.events), tostring(#s.files),
      s.ended and "ended" or "open", text.clip(s.last_prompt or "", 60) }
  end
  io.write(out.table({ "SESSION", "UPDATED", "EVENTS", "FILES", "STATE", "LAST PROMPT" }, rows, { [3] = true, [4] = true }))
  return EXIT_OK
end

---`sidecar session show ID`: one session's summary, edited files and events.
function M.session_show(o)
  local s, why = hook_record.show(root_of(o), o.id)
  if not s then
    return out.fail(o, "session show", why)
  end
  if o.json then
    s.events_list, s.list = json.array(s.list), nil
    out.envelope("session show", true, s, nil, o.version)
    return EXIT_OK
  end
  print(("%s  %s  %d events, %d prompts, %d tool calls%s"):format(s.id, s.cwd or "", s.events, s.prompts,
    s.tool_calls, s.ended and ", ended" or ""))
  print("started " .. tostring(s.started_at) .. ", last " .. tostring(s.updated_at))
  print(#s.files > 0 and ("files edited:\n  " .. table.concat(s.files, "\n  ")) or "files edited: none")
  for _, e in ipairs(s.list) do
    local f = type(e.fields) == "table" and e.fields or {}
    local what = f.prompt or f.command or (type(f.files) == "table" and f.files[1]) or f.source or f.reason or ""
    print(("%s %-22s %s"):format(tostring(e.ts):match("T([%d:.]+)") or "", tostring(e.kind), text.clip(tostring(what), 200)))
  end
  return EXIT_OK
end

return M
