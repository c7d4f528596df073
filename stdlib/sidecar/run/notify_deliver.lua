--- The sender of one notification to one channel: `sidecar notify --deliver FILE`, started detached
--- by stdlib/sidecar/run/notify.lua, so its time limits and retries never touch a run.
---
--- Each channel kind's delivery:
---   webhook  POST of the JSON body below (or Slack's {"text"} / Discord's {"content"} with `format`)
---   ntfy     POST of the message to the topic URL, with Title, Tags and Priority headers
---   desktop  notify-send (else gdbus) on the session bus; skipped, and recorded so, when there is none
---   command  the command, with SIDECAR_EVENT, SIDECAR_RUN, SIDECAR_TITLE, SIDECAR_MESSAGE and
---            SIDECAR_NOTIFICATION (the JSON body) in its environment
---
--- The JSON body (docs/notifications.md): {source = "sidecar", version = 1, event, title, message,
--- at, repo, ...the facts: run_id, task_id, status, reason, runner, model, cost_usd, preset, runs}.
--- A webhook or ntfy channel: up to three tries (M.BACKOFF_MS), each bounded by the channel's
--- `timeout`; a 4xx answer other than 408 and 429 is not tried again. A desktop or command channel:
--- once (a program that failed may still have shown it). Each attempt is recorded: notify.sent or
--- notify.failed in the run's events, and a line of notify/log.jsonl.
local artifact = require("sidecar.core.artifact")
local detached_sender = require("sidecar.run.detached_sender")
local duration = require("sidecar.core.duration")
local http_retry = require("sidecar.run.http_retry")
local json = require("sidecar.core.json")
local notify_settings = require("sidecar.core.notify_settings")
local proc = require("sidecar.core.proc")
local store = require("sidecar.core.store")
local telemetry = require("sidecar.core.telemetry")
local text = require("sidecar.core.text")

local M = {}

M.BACKOFF_MS = { 1000, 4000 } -- after the first attempt, after the second: three in all

-- The JSON body; the repository's path shown harmlessly (a folder's name may hold any byte).
local function body_of(n, repo)
  local b = { source = "sidecar", version = 1, event = n.event, title = n.title, message = n.message, at = n.at,
    repo = (text.visible(repo)) }
  for k, v in pairs(n.fields or {}) do
    if b[k] == nil then
      b[k] = v
    end
  end
  return b
end

local PRIORITY = { needs_input = "high", failed = "high", budget = "high", unknown = "high" }

local BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- `s` in base64 (RFC 4648, padded): each 3 bytes as 4 characters of 6 bits.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a << 16 | (b or 0) << 8 | (c or 0)
    local used = math.min(#s - i + 1, 3) + 1 -- characters the bytes fill; '=' pads the rest
    for k = 1, 4 do
      local six = n >> (24 - 6 * k) & 63
      out[#out + 1] = k <= used and BASE64:sub(six + 1, six + 1) or "="
    end
  end
  return table.concat(out)
end

---A header value (ntfy's Title): as it is in printable ASCII, else an RFC 2047 encoded word
---("=?UTF-8?B?...?="), which ntfy reads back to its UTF-8.
---@param s string
---@return string
function M.header_text(s)
  if not s:find("[^\32-\126]") then
    return s
  end
  return "=?UTF-8?B?" .. base64(s) .. "?="
end

-- Text with &, < and > escaped: a desktop notification's body is read as markup, and Slack's text as its own (`<a href=...>`, `<!channel>`, `<url|words>` in an
-- agent's words would be a link, an image or a mention there).
local function markup_escaped(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local function http_request(c, n, repo)
  local headers = { table.unpack(c.headers) }
  if c.kind == "ntfy" then
    headers[#headers + 1] = "Title: " .. M.header_text(n.title)
    headers[#headers + 1] = "Tags: sidecar," .. n.event
    headers[#headers + 1] = "Priority: " .. (PRIORITY[n.event] or "default")
    headers[#headers + 1] = "Content-Type: text/plain; charset=utf-8"
    return c.url, n.message, headers, c.timeout_ms
  end
  headers[#headers + 1] = "Content-Type: application/json"
  local b = body_of(n, repo)
  if c.format == "slack" then -- <, > and & escaped: no <!channel> nor link an agent's words could make
    b = { text = markup_escaped(n.title .. "\n" .. n.message) }
  elseif c.format == "discord" then -- no @everyone, no mention an agent's words could make
    -- and no masked link ([words](url)) either: its brackets, parentheses and backslashes escaped
    -- as Markdown reads them (an escaped backslash first would unescape the bracket after it)
    local content = (n.title .. "\n" .. n.message):gsub("([\\%[%]()])", "\\%1")
    b = { content = text.clip(content, 1900), allowed_mentions = { parse = json.array({}) } }
  end
  return c.url, json.encode(b), headers, c.timeout_ms
end

-- A program's run (proc.run's result) as one attempt: ok, facts {exit_code, error: why it failed,
-- with the first line it wrote on stderr}, and never again (it may have shown something).
local function ran(r, c)
  if r.ok == true then
    return true, { exit_code = r.code }, false
  end
  local why = r.timed_out and ("timed out after %s"):format(duration.format(c.timeout_ms))
    or r.error or ("exit " .. tostring(r.code))
  return false, { exit_code = r.code, error = why .. http_retry.said(r.stderr) }, false
end

-- Whether a session bus is there to carry a desktop notification.
local function session_bus()
  local addr = os.getenv("DBUS_SESSION_BUS_ADDRESS")
  if addr and addr ~= "" then
    return true
  end
  local runtime = os.getenv("XDG_RUNTIME_DIR")
  local st = runtime and require("sidecar.host.paths").lstat(runtime .. "/bus")
  return st ~= nil and st.kind == "other" -- the bus's socket (dbus-user-session)
end

local function desktop(c, n)
  if not session_bus() then
    return false, { skipped = true, error = "no session bus (DBUS_SESSION_BUS_ADDRESS unset): nothing to show it" }
  end
  local files = require("sidecar.core.files")
  local title, message = n.title, markup_escaped(n.message) -- the summary is plain text; the body, markup
  local argv
  if files.on_path("notify-send") then
    argv = { "notify-send", "--app-name=sidecar", title, message }
  elseif files.on_path("gdbus") then
    argv = { "gdbus", "call", "--session", "--dest", "org.freedesktop.Notifications", "--object-path",
      "/org/freedesktop/Notifications", "--method", "org.freedesktop.Notifications.Notify", "sidecar", "0", "",
      title, message, "[]", "{}", "-1" }
  else
    return false, { skipped = true, error = "neither notify-send nor gdbus is installed" }
  end
  return ran(proc.run(argv, { timeout_ms = c.timeout_ms }), c)
end

-- `mark`: a detached sender's (detached_sender.children_mark), so that what the command leaves
-- running when its sender is killed is ended by the next sender's recovery; nil: `notify --test`'s.
local function command(c, n, repo, mark)
  local argv = type(c.command) == "string" and proc.shell(c.command) or c.command
  local run_id = n.fields and n.fields.run_id or ""
  return ran(proc.run(argv, { timeout_ms = c.timeout_ms, cwd = repo, env = { SIDECAR_EVENT = n.event,
    SIDECAR_RUN = run_id, SIDECAR_TITLE = n.title, SIDECAR_MESSAGE = n.message,
    SIDECAR_NOTIFICATION = json.encode(body_of(n, repo)), SIDECAR_RUN_MARK = mark } }), c)
end

-- One attempt on channel `c` to send `item` (its notification): ok, facts, retry?
local function try(c, item, repo)
  local n = item.notification
  if c.kind == "desktop" then
    return desktop(c, n)
  elseif c.kind == "command" then
    return command(c, n, repo, item.mark)
  end
  return http_retry.post(http_request(c, n, repo))
end

-- try(), with what it raised (a command channel's program not found) a failed attempt, not tried again.
local function attempt(c, item, repo)
  local ran, ok, facts, again = pcall(try, c, item, repo)
  if not ran then
    return false, { error = type(ok) == "table" and tostring(ok.message or ok.code) or tostring(ok) }, false
  end
  return ok, facts, again
end

local function record(s, d, item, facts)
  local kind = facts.ok and "notify.sent" or (facts.skipped and "notify.skipped" or "notify.failed")
  local fields = { event = item.notification.event, channel = item.label, attempt = facts.attempt,
    http_status = facts.http_status, exit_code = facts.exit_code, why = facts.error }
  if item.notification.run_id then
    pcall(telemetry.run_event, s, item.notification.run_id, kind, fields)
  end
  fields.kind, fields.id, fields.run_id, fields.at = kind, item.id, item.notification.run_id, store.now()
  d:append_jsonl("log.jsonl", fields)
end

---The repository of the store folder `root`, as an absolute path when it can be had.
function M.repo_of(root)
  local repo = root:match("^(.*)/[^/]+$") or "."
  return require("sidecar.host.paths").real(repo) or repo
end

-- Tries channel `c` up to three times (`backoff_ms`, default M.BACKOFF_MS), recording each
-- attempt: ok, why, the last attempt's facts.
local function send(s, d, item, c, repo, backoff_ms)
  return http_retry.attempts(backoff_ms or M.BACKOFF_MS, function() return attempt(c, item, repo) end,
    function(facts) record(s, d, item, facts) end)
end

-- The store's channels, or nil and why.
local function channels(root)
  local cfg, why = require("sidecar.core.config").load(root)
  if not cfg then
    return nil, why
  end
  local list = notify_settings.channels(rawget(cfg, "notify"))
  if not list then
    return nil, require("sidecar.core.config").untrusted_hint(cfg, "no notification channels: notify in " .. root
      .. "/config.lua is not a list of channels (docs/notifications.md)")
  end
  return list
end

local function open(root)
  local d, why = artifact.open(root .. "/notify", { create = true })
  local s, message = d and store.open(root)
  if not s then
    if d then
      d:close()
    end
    return nil, nil, why or message
  end
  return d, s
end

---Sends the queued notification `file` (relative to the store's notify folder) to its channel, then
---removes it. Returns true when the channel took it.
---@param root string  the store folder
---@param file string  "queue/<id>-<channel>.json"
---@return boolean sent, string? why
function M.deliver(root, file)
  if not file:match("^queue/[%w-]+%.json$") then
    return false, "not a queued notification: " .. file
  end
  local dir, st, why = open(root)
  local d <close> = dir
  local s <close> = st
  local claimed = d and detached_sender.claim(d, file) -- one sender sends it; one killed leaves it
  if not claimed then
    return false, why or ("cannot read " .. file)
  end
  local item = d:read_json(claimed)
  if type(item) == "table" then
    item.mark = detached_sender.children_mark()
  end
  local list = type(item) == "table" and channels(root)
  local c = list and list[item.channel]
  local sent, said, unsaid = false, nil, nil -- unsaid: why it was not sent, not yet in the log
  if type(item) ~= "table" or type(item.notification) ~= "table" then
    unsaid = "not sent: " .. file .. " is not a queued notification"
  elseif not c or c.label ~= item.label then
    unsaid = "not sent: the channel is no longer in the config"
  else
    local ok, done, why_not = pcall(send, s, d, item, c, M.repo_of(root)) -- each attempt logged by send
    sent, said = ok and done, ok and why_not or nil
    unsaid = not ok and ("not sent: " .. tostring(type(done) == "table" and done.message or done)) or nil
  end
  if unsaid then -- in the log whatever happened, and done with: never sent again and again
    d:append_jsonl("log.jsonl", { at = store.now(), id = type(item) == "table" and item.id or nil, kind = "notify.failed",
      run_id = type(item) == "table" and type(item.notification) == "table" and item.notification.run_id or nil,
      why = unsaid })
  end
  detached_sender.done(d, claimed)
  return sent, unsaid or said
end

---`sidecar notify --test`: a notification of `event` sent now, once, to every channel that wants it
---(no rate, no dedupe, no retry: what each answers now), each attempt recorded in notify/log.jsonl.
---Returns {channel, kind, wanted, sent, skipped?, why} for each channel, or nil and why.
---`on_progress`, when given, is told of each channel before it is tried (one that does not answer is
---waited for up to its timeout).
---@param root string  the store folder
---@param event string
---@param on_progress? fun(line: string)
---@return table[]|nil results, string? why
function M.test(root, event, on_progress)
  local list, why = channels(root)
  if not list then
    return nil, why
  end
  local dir, st, message = open(root)
  if not dir then
    return nil, message
  end
  local d <close> = dir
  local s <close> = st
  local repo = M.repo_of(root)
  local n = { event = event, title = "Sidecar: a test notification", at = store.now(),
    message = ("A test of the %s event from sidecar notify --test in %s"):format(event, text.visible(repo)),
    fields = {} }
  local results = {}
  for _, c in ipairs(list) do
    local r = { channel = c.label, kind = c.kind, wanted = c.events[event] == true }
    if r.wanted then
      if on_progress then
        on_progress(("notify: trying channel %s (%s; its answer awaited up to %s)"):format(text.visible(c.label),
          c.kind, duration.format(c.timeout_ms)))
      end
      local facts
      r.sent, r.why, facts = send(s, d, { id = "test", label = c.label, notification = n }, c, repo, {}) -- once: now
      r.skipped = facts.skipped == true or nil -- a desktop with no session here: not a failure
    end
    results[#results + 1] = r
  end
  return results
end

return M
