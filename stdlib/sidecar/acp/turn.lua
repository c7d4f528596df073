--- One prompt of a `sidecar acp` session, from the request to its answer: what it asks for
--- (sidecar.acp.commands), the client's permission first where it decides or writes (a writing run,
--- approve, apply), the work in a process of its own (sidecar.acp.turn_worker), and that process's
--- run events as `session/update`s: a `tool_call` per agent run (its id the run id, updated as the
--- run goes and ends), a `plan` of a preset's runs, `usage_update`s with the tokens and cost so far,
--- and the answer as an `agent_message_chunk`. The prompt is answered with its stop reason:
--- `end_turn`, or `cancelled` after `session/cancel` (the work's process is interrupted as Ctrl-C
--- would: its runs end `interrupted`; a second signal after CANCEL_GRACE_MS ends it).
---
---   local t = turn.start(server, session, request_id, prompt_text)
---   t:poll()     -- between the messages the server reads; true once answered
---   t:cancel()
local commands = require("sidecar.acp.commands")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local presets = require("sidecar.service.presets")
local run_changes = require("sidecar.service.run_changes")
local runs_service = require("sidecar.service.runs")
local sessions = require("sidecar.acp.sessions")
local clock = require("sidecar.host.time")

local M = {}

M.CANCEL_GRACE_MS = 10000
M.PUMP_MS = 20 -- how long a poll lets the work's process run its course (its output read) at most
local GOOD = { review = true, completed = true }

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

local Turn = {}
Turn.__index = Turn

---The presets of the store at `root`'s repository that would run (the untrusted ones of a
---project left out), and the names of those left out for want of trust.
---@param root string
---@return {name: string, summary: string?}[], table<string, boolean>
function M.presets_of(root)
  local r = presets.list({ repo = root:match("^(.*)/[^/]+$") or "." })
  local out, untrusted = {}, {}
  for _, p in ipairs(r.ok and r.data or {}) do
    if p.trusted == false then
      untrusted[p.name] = true
    elseif p.active ~= false then
      out[#out + 1] = { name = p.name, summary = p.summary }
    end
  end
  return out, untrusted
end

local function text_block(s)
  return { type = "text", text = s }
end

function Turn:update(u)
  self.server:update(self.session.sessionId, u)
end

function Turn:say(s)
  self.text = (self.text and (self.text .. "\n\n") or "") .. s
  self:update({ sessionUpdate = "agent_message_chunk", content = text_block(s) })
end

-- The usage so far, over the turn's runs: each run's last `usage` and `cost` events.
function Turn:usage_update()
  local total, input, output, usd, any_usd = 0, 0, 0, 0, false
  for _, id in ipairs(self.runs) do
    local r = self.run_info[id]
    total = total + (r.total or 0)
    input, output = input + (r.input or 0), output + (r.output or 0)
    if r.usd then
      usd, any_usd = usd + r.usd, true
    end
  end
  self.usage = { inputTokens = input, outputTokens = output, totalTokens = total }
  -- A session of Sidecar's has no context window of its own: size is what was used.
  self:update({ sessionUpdate = "usage_update", used = total, size = total,
    cost = any_usd and { amount = usd, currency = "USD" } or nil })
end

function Turn:plan_update()
  if self.req.kind ~= "preset" then
    return
  end
  local entries = {}
  for i, id in ipairs(self.runs) do
    local r = self.run_info[id]
    entries[i] = { content = ("%s on %s%s"):format(id, r.runner or "?", r.status and (": " .. r.status) or ""),
      priority = "medium", status = r.status and "completed" or "in_progress" }
  end
  self:update({ sessionUpdate = "plan", entries = json.array(entries) })
end

local ON_EVENT = {}

function ON_EVENT.run_started(self, id, f)
  if self.run_info[id] then
    return
  end
  self.runs[#self.runs + 1] = id
  self.run_info[id] = { runner = type(f.runner) == "string" and f.runner or nil }
  self:update({ sessionUpdate = "tool_call", toolCallId = id, title = ("%s on %s"):format(id, tostring(f.runner)),
    kind = "execute", status = "in_progress", rawInput = { run_id = id, runner = f.runner, sandbox = f.sandbox,
      model = f.model } })
  self:plan_update()
end

function ON_EVENT.run_finished(self, id, f)
  local r = self.run_info[id]
  if not r then
    return
  end
  r.status = tostring(f.status)
  local said = ("%s ended %s%s"):format(id, r.status, type(f.reason) == "string" and (": " .. f.reason) or "")
  self:update({ sessionUpdate = "tool_call_update", toolCallId = id, status = GOOD[r.status] and "completed"
    or "failed", content = json.array({ { type = "content", content = text_block(said) } }),
    rawOutput = { run_id = id, status = r.status, reason = f.reason } })
  self:plan_update()
end

function ON_EVENT.usage(self, id, f)
  local r, u = self.run_info[id], type(f.usage) == "table" and f.usage or {}
  if r then
    r.total, r.input, r.output = math.tointeger(u.total), math.tointeger(u.input), math.tointeger(u.output)
    self:usage_update()
  end
end

function ON_EVENT.cost(self, id, f)
  local r = self.run_info[id]
  if r and type(f.usd) == "number" then
    r.usd = f.usd
    self:usage_update()
  end
end

function ON_EVENT.validation_started(self, id, f)
  if self.run_info[id] then
    self:update({ sessionUpdate = "tool_call_update", toolCallId = id, content = json.array({ { type = "content",
      content = text_block(("validation %s/%s: %s"):format(tostring(f.step), tostring(f.steps),
        tostring(f.command))) } }) })
  end
end

-- One line of the work's process.
function Turn:line(line)
  local ok, m = json.try_decode(line)
  if not (ok and type(m) == "table") then
    self.server.log("the work's process wrote a line that is not JSON: " .. line:sub(1, 200))
    return
  end
  if type(m.event) == "table" and type(m.event.run_id) == "string" and type(m.event.kind) == "string" then
    local on = ON_EVENT[m.event.kind:gsub("%.", "_")]
    if on then
      on(self, m.event.run_id, type(m.event.fields) == "table" and m.event.fields or {})
    end
  elseif m.result or m.interrupted then
    self.outcome = m
  end
end

function Turn:spawn(req)
  local repo = self.session.root:match("^(.*)/[^/]+$") or "."
  local request = { kind = req.kind == "preset" and "preset" or "task", root = self.session.root, repo = repo,
    title = req.title, goal = req.goal, sandbox = req.kind == "write" and "workspace-write" or nil,
    name = req.name, params = req.params and json.array(req.params) or nil }
  -- a Ctrl-C or SIGTERM in the spawn goes on up (it ends the server): not work that could not start
  local ok, handle = errors.keep_interrupt(pcall(proc.spawn, { proc.executable(), "acp", "--turn" }, { cwd = repo,
    stdin = json.encode(request) .. "\n", name = "acp turn", kill_grace_ms = 5000,
    stdout = { on_line = function(l) self:line((l:gsub("\n$", ""))) end },
    stderr = { on_line = function(l) self.server.log((l:gsub("\n$", ""))) end } }))
  if not ok then
    return self:finish("the work could not start: " .. tostring(type(handle) == "table" and handle.message or handle))
  end
  self.handle = handle
end

-- The permission a request needs before it runs, asked of the client; `go` runs once allowed.
function Turn:ask(title, kind, go)
  self.asking = true
  local call = { toolCallId = ("sidecar-%s-%d"):format(self.req.kind, self.id_n), title = title, kind = kind,
    status = "pending", rawInput = { command = self.req.kind, run_id = self.req.run_id } }
  local options = json.array({ { optionId = "allow", name = "Allow", kind = "allow_once" },
    { optionId = "reject", name = "Reject", kind = "reject_once" } })
  self.server:request("session/request_permission", { sessionId = self.session.sessionId, toolCall = call,
    options = options }, function(res, err)
      self.asking = false
      local outcome = type(res) == "table" and type(res.outcome) == "table" and res.outcome or {}
      if self.cancelled or outcome.outcome == "cancelled" then
        return self:finish(nil, "cancelled")
      elseif err or outcome.outcome ~= "selected" or outcome.optionId ~= "allow" then
        return self:finish(err and ("Not done: the permission request failed: " .. tostring(err.message))
          or ("Not done: permission to %s was refused."):format(title:sub(1, 1):lower() .. title:sub(2)))
      end
      local _, why = self.server:guard(title, go)
      if why then
        self:finish(why)
      end
    end)
end

local function errors_of(r)
  local parts = {}
  for _, e in ipairs(r.errors or {}) do
    parts[#parts + 1] = tostring(e.message)
  end
  return table.concat(parts, "; ")
end

local DECIDE = {
  approve = function(self)
    local r = runs_service.approve({ root = self.session.root, id = self.req.run_id, note = self.req.note,
      by = "agent:acp" })
    return r.ok and ("%s approved."):format(self.req.run_id) or ("%s was not approved: %s"):format(self.req.run_id,
      errors_of(r))
  end,
  apply = function(self)
    local r = run_changes.apply({ root = self.session.root, id = self.req.run_id })
    if not r.ok then
      return ("%s was not applied: %s"):format(self.req.run_id, errors_of(r))
    end
    return ("%s applied: %d file(s) changed in the work tree%s."):format(self.req.run_id, #r.data.files,
      r.data.no_changes and " (it changed nothing)" or "")
  end,
}

---Starts the turn of prompt request `id` in `session` with `prompt` (its text). Returns the turn.
---@param server table  sidecar.acp.server's
---@param session table  sidecar.acp.sessions'
---@param id any  the session/prompt request's id
---@param prompt string
---@param n integer  a number unique to this turn in the server
function M.start(server, session, id, prompt, n)
  local t = setmetatable({ server = server, session = session, id = id, id_n = n, prompt = prompt, runs = {},
    run_info = {} }, Turn)
  local names, list, untrusted = {}, M.presets_of(session.root)
  for _, p in ipairs(list) do
    names[#names + 1] = p.name
  end
  local req, why = commands.parse(prompt, names, untrusted)
  t.req = req or { kind = "none" }
  if not req then
    t:finish(why)
  elseif req.kind == "approve" or req.kind == "apply" then
    t:ask(("%s run %s"):format(req.kind == "approve" and "Approve" or "Apply the change of", req.run_id), "edit",
      function() t:finish(DECIDE[req.kind](t)) end)
  elseif req.kind == "write" then
    t:ask("Start a run that may write (in a worktree of its own): " .. req.title, "edit", function() t:spawn(req) end)
  else
    t:spawn(req)
  end
  return t
end

-- Answers the prompt (once): `said` as the answer when given, the session's file written.
function Turn:finish(said, stop_reason)
  if self.done then
    return true
  end
  self.done = true
  if said and said ~= "" then
    self:say(said)
  end
  local stop = stop_reason or (self.cancelled and "cancelled") or "end_turn"
  local ok, why = sessions.add_turn(self.session, { prompt = self.prompt, runs = json.array(self.runs),
    task_id = self.task_id, text = self.text, stop_reason = stop })
  if not ok then
    self.server.log("the session could not be recorded: " .. tostring(why))
  end
  self.server:reply(self.id, { stopReason = stop, usage = self.usage })
  return true
end

-- The work's process has ended: its answer (or why there is none).
function Turn:ended(r)
  local o = self.outcome
  if o and o.interrupted then
    return self:finish(nil, "cancelled")
  elseif not (o and type(o.result) == "table") then
    return self:finish(("The work ended without a result (%s): see `sidecar acp`'s stderr."):format(
      r.code and ("exit " .. r.code) or tostring(r.signal_name)))
  end
  self.task_id = type(o.task_id) == "string" and o.task_id or nil
  local answer = type(o.text) == "string" and o.text or ""
  if o.result.ok ~= true then
    local failed = errors_of(o.result)
    answer = answer ~= "" and (answer .. "\n\n" .. failed) or failed
  end
  return self:finish(answer)
end

---Pumps the work's process (its lines become updates); true once the prompt is answered.
---@return boolean
function Turn:poll()
  if self.done then
    return true
  end
  if not self.handle then
    return false -- asking the client
  end
  local r = self.handle:wait(M.PUMP_MS) -- its output read and its lines handled meanwhile
  if r then
    self.handle:close()
    return self:ended(r)
  end
  if self.cancel_at and now_ms() - self.cancel_at > M.CANCEL_GRACE_MS and not self.forced then
    self.forced = true
    self.handle:kill() -- SIGTERM to its group, SIGKILL after the grace
  end
  return false
end

---`session/cancel`: the work is interrupted (its runs end `interrupted`); the prompt is answered
---`cancelled` once its process has ended. Before the work started (asking), at once.
function Turn:cancel()
  if self.done or self.cancelled then
    return
  end
  self.cancelled = true
  if self.handle then
    self.cancel_at = now_ms()
    self.handle:kill("INT")
  elseif not self.asking then
    self:finish(nil, "cancelled")
  end
end

return M
