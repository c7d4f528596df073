--- Notices: a person told when a background run ends, when they asked for it (`run --background
--- --notify CMD`, or `notify` in the config). The command is the run's `--notify CMD`, else the
--- config's `notify` (a string for /bin/sh, a list, or true), else (`--notify auto`, `notify = true`)
--- `notify-send` when it is on PATH, else the terminal bell: rung on the terminal the run was
--- started from (`launch.tty`), while it is still open; each gets the run's id, the event and a
--- message in its environment (SIDECAR_RUN, SIDECAR_EVENT, SIDECAR_MESSAGE: never spliced into
--- a command line), and runs once per event and run (notices.jsonl in the run's folder says which
--- were sent).
---
---   notices.send(s, cfg, run, "ended", "R-0004 ended review: 2 files changed", launch.notify)
local files = require("sidecar.core.files")
local json = require("sidecar.core.json")
local notify_settings = require("sidecar.core.notify_settings")
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
      local ok, e = json.try_decode(line)
      if ok and type(e) == "table" and type(e.event) == "string" then
        seen[type(e.key) == "string" and e.key or e.event] = true
      end
    end
    f:close()
  end
  return seen
end

---The terminal this process was started from (its stderr's, else its stdout's or stdin's), or nil:
---where a background run's bell rings (`launch.tty`).
---@return string|nil
function M.terminal()
  local isatty = require("sidecar.host.time").isatty
  for _, fd in ipairs({ 2, 1, 0 }) do
    if isatty(fd) then
      local path = require("sidecar.host.paths").real("/proc/self/fd/" .. fd)
      if path and path:match("^/dev/") then
        return path
      end
    end
  end
  return nil
end

-- Rings the bell on $SIDECAR_TTY. A child opens it, never the worker: a session leader without a
-- terminal that opened one would take it as its controlling terminal (and its hang-up with it).
local BELL = { "sh", "-c", 'test -c "$SIDECAR_TTY" && printf "\a" >"$SIDECAR_TTY"' }

---The argv that tells a person: `given` (a string, run by /bin/sh, or a list), else the config's
---`notify`, else notify-send with a title and the message, else the bell on `tty`; nil when there
---is none.
---@return string[]|nil argv, string how  ("command" | "config" | "notify-send" | "bell" | "none")
function M.command(cfg, given, title, message, tty)
  local cmd, how = given, "command"
  if cmd == nil or cmd == "auto" then
    cmd, how = notify_settings.command(cfg), "config"
  end
  if type(cmd) == "string" and cmd ~= "" then
    return proc.shell(cmd), how
  elseif type(cmd) == "table" and #cmd > 0 then
    return cmd, how
  end
  if files.on_path("notify-send") then
    return { "notify-send", "--app-name=sidecar", title, message }, "notify-send"
  end
  if type(tty) == "string" then
    return BELL, "bell"
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
  message = require("sidecar.core.text").visible(secrets.redact(message)) -- no escape reaches a terminal
  -- Only a terminal's device: the record names it, and a bell is never written anywhere else.
  local tty = type(run.launch) == "table" and type(run.launch.tty) == "string" and run.launch.tty or nil
  tty = tty and (tty:match("^/dev/pts/%d+$") or tty:match("^/dev/tty[%w]*$")) or nil
  local argv, how = M.command(cfg, given, ("Sidecar: %s %s"):format(run.run_id, event), message, tty)
  local entry = { event = event, key = key, at = require("sidecar.core.store").now(), how = how }
  local ok, why = false, "no notify command: give --notify CMD or notify in .agent/config.lua, or install "
    .. "notify-send (the run was started from no terminal to ring)"
  if argv then
    local r = proc.run(argv, { timeout_ms = 30000, env = { SIDECAR_EVENT = event, SIDECAR_RUN = run.run_id,
      SIDECAR_MESSAGE = message, SIDECAR_STATUS = tostring(run.status or ""), SIDECAR_TTY = tty } })
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

---Tells whoever asked (`given`: the run's --notify; else the config's `notify`) that `run` ended,
---with its status and why (or its summary): once per run. Never raises: returns whether it was
---sent and, when it was not, why.
---@return boolean sent
---@return string|nil why
function M.run_ended(s, cfg, run, given)
  if given == nil and notify_settings.command(cfg) == nil then
    return false, "no notice was asked for"
  elseif given == "auto" and notify_settings.is_channels(type(cfg) == "table" and rawget(cfg, "notify") or nil) then
    return false, "the config's channels tell it" -- stdlib/sidecar/run/notify.lua: not notify-send besides
  end
  local message = ("%s ended %s%s"):format(run.run_id, tostring(run.status), run.failure_reason
    and (": " .. run.failure_reason) or (run.summary and (": " .. run.summary) or ""))
  local ok, sent, why = pcall(M.send, s, cfg, run, "ended", message, given)
  return ok and sent, ok and why or tostring(sent)
end

return M
