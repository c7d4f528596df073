--- Notices: a person told when a background run ends, when they asked for it (`run --background
--- --notify CMD`, or `notify` in the config). The command is the run's `--notify CMD`, else the
--- config's `notify` (a string for /bin/sh, a list, or true), else (`--notify auto`, `notify = true`)
--- `notify-send` when it is on PATH; each gets the run's id, the event and a message in its
--- environment (SIDECAR_RUN, SIDECAR_EVENT, SIDECAR_MESSAGE: never spliced into a command line),
--- and runs once per event and run (notices.jsonl in the run's folder says which were sent).
---
---   notices.send(s, cfg, run, "ended", "R-0004 ended review: 2 files changed", launch.notify)
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local secrets = require("sidecar.core.secrets")

local M = {}

M.FILE = "notices.jsonl"

-- The events sent for this run already (notices.jsonl).
local function sent(s, run_id)
  local seen = {}
  local f = io.open(s.root .. "/runs/" .. run_id .. "/" .. M.FILE, "rb")
  if f then
    for line in f:lines() do
      local ok, e = pcall(json.decode, line)
      if ok and type(e) == "table" and type(e.event) == "string" then
        seen[type(e.key) == "string" and e.key or e.event] = true
      end
    end
    f:close()
  end
  return seen
end

local function on_path(program)
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local f = io.open(dir .. "/" .. program, "rb")
    if f then
      f:close()
      return true
    end
  end
  return false
end

---The argv that tells a person: `given` (a string, run by /bin/sh, or a list), else the config's
---`notify`, else notify-send with a title and the message; nil when there is none.
---@return string[]|nil argv, string how  ("command" | "config" | "notify-send" | "none")
function M.command(cfg, given, title, message)
  local cmd, how = given, "command"
  if cmd == nil or cmd == "auto" then
    cmd, how = type(cfg) == "table" and rawget(cfg, "notify") or nil, "config"
  end
  if type(cmd) == "string" and cmd ~= "" then
    return proc.shell(cmd), how
  elseif type(cmd) == "table" and #cmd > 0 then
    return cmd, how
  end
  if on_path("notify-send") then
    return { "notify-send", "--app-name=sidecar", title, message }, "notify-send"
  end
  return nil, "none"
end

---Sends the notice for `event` on `run` once (a second call for the same event does nothing).
---Returns true when a command ran and succeeded; false and why otherwise (no command, it failed,
---or it was sent before). Never raises for the command's failure: a notice is a courtesy.
---@param s table  an open store
---@param cfg table|nil  the config
---@param run table  the run record
---@param event string  "ended", "stuck", "waiting_input", ...
---@param message string
---@param given? string|string[]  the run's own --notify
---@param key? string  what makes this notice one of its own (default: the event): "waiting_input#2"
function M.send(s, cfg, run, event, message, given, key)
  if sent(s, run.run_id)[key or event] then
    return false, "sent before"
  end
  message = secrets.redact(message)
  local argv, how = M.command(cfg, given, ("Sidecar: %s %s"):format(run.run_id, event), message)
  local entry = { event = event, key = key, at = require("sidecar.core.store").now(), how = how }
  local ok, why = false, "no notify command: give --notify CMD or notify in .agent/config.lua, or install notify-send"
  if argv then
    local r = proc.run(argv, { timeout_ms = 30000, env = { SIDECAR_EVENT = event, SIDECAR_RUN = run.run_id,
      SIDECAR_MESSAGE = message, SIDECAR_STATUS = tostring(run.status or "") } })
    ok = r.ok == true
    why = not ok and ("the notify command failed (%s)"):format(r.error or ("exit " .. tostring(r.code))) or nil
    entry.exit_code = r.code
  end
  entry.ok, entry.why = ok, why
  local dir = s:run_dir(run.run_id)
  if dir then
    dir:append(M.FILE, json.encode(entry) .. "\n")
    dir:close()
  end
  return ok, why
end

return M
