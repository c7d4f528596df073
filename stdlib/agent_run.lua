--- One agent run: spawn a runner's CLI under a watchdog with the prompt on stdin, read its event
--- stream as it arrives, and record everything.
---
---   local record = agent_run.execute({runner = "codex", prompt = text, repo = "."})
---   record.status   -- review | blocked | failed | outcome_unknown | interrupted
---
--- Records, under the store's folder (`.agent/` of the repository unless `root` says otherwise):
--- the run in `sidecar.db` and `runs/R-0001/run.json`; in `runs/R-0001/`: prompt.md, agent.jsonl
--- (the CLI's raw stream), stderr.log, events.jsonl (telemetry), output.md (the final message),
--- model.json and model.md.
---
--- The watchdog: `timeout_ms` (wall clock), `idle_timeout_ms` (no output for that long), and
--- `exit_deadline_ms` (the process must exit that soon after its final result event); any of them
--- ends the CLI's whole process group. An outcome that cannot be known (killed after its result,
--- a stream cut mid-line, an exit without a result) is `outcome_unknown`, never success or failure.
--- Ctrl-C records the run as `interrupted` and then raises as usual.
---
--- Sessions. A run is ephemeral by default: the CLI keeps no session (codex --ephemeral, claude
--- --no-session-persistence). `ephemeral = false` makes it continuable, and a later run continues
--- it with `resume`, most simply built from the earlier record:
---
---   local first = agent_run.execute({runner = "codex", prompt = p1, ephemeral = false})
---   local resume = assert(agent_run.continuation(first))
---   local second = agent_run.execute({runner = first.runner_type, prompt = p2, resume = resume})
---
--- resume = {session_id = "...", usage = <the previous run's `usage_reported`, or nil>,
--- cost_usd = <the previous run's `cost_reported_usd`, or nil>, run_id = <that run, or nil>}.
--- A resumed session reports some figures for the whole session (codex: usage; claude:
--- total_cost_usd): the record's `usage` and `cost_usd` (and telemetry, model.json) are this run's
--- own, the report minus the previous report, field by field; `usage_reported` and
--- `cost_reported_usd` keep what the CLI said, for the next continuation to subtract. A share that
--- cannot be known that way (no previous report, or a smaller one) is unknown (json.null / nil),
--- never a guess, and `warnings` says why. The record also has `session_id`, `ephemeral`, and for a
--- continuation `resumed_session` (and `resumed_run`).
local agent_events = require("agent_events")
local agent_result = require("agent_result")
local agent_session = require("agent_session")
local clock = require("host.time")
local errors = require("errors")
local gates = require("gates")
local git_refs = require("git_refs")
local json = require("json")
local proc = require("proc")
local runners = require("runners")
local store = require("store")
local telemetry = require("telemetry")
local worktree = require("worktree")

local M = {}

M.DEFAULTS = {
  timeout_ms = 30 * 60 * 1000,
  idle_timeout_ms = 5 * 60 * 1000,
  exit_deadline_ms = 10 * 1000,
  kill_grace_ms = 2000,
}
local STDERR_TAIL = 64 * 1024
local SUMMARY_CHARS = 200
---The longest final message kept (output.md, markers, summary): its last bytes when longer; the
---whole output stays in agent.jsonl or stdout.log.
M.MAX_FINAL = 8 * 1024 * 1024
local PROVIDERS = { codex = "openai", claude = "anthropic" }

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

---A random (version 4) UUID, e.g. for a claude session id.
function M.uuid()
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = { f:read(16):byte(1, 16) }
  f:close()
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local hex = ("%02x"):rep(16):format(table.unpack(b))
  return ("%s-%s-%s-%s-%s"):format(hex:sub(1, 8), hex:sub(9, 12), hex:sub(13, 16), hex:sub(17, 20), hex:sub(21, 32))
end

local function first_line(text)
  if type(text) ~= "string" then
    return nil
  end
  local line = text:match("^%s*([^\n]*)") or ""
  if #line > SUMMARY_CHARS then
    line = line:sub(1, SUMMARY_CHARS - 3) .. "..."
  end
  return line
end

local function last_line(text)
  return type(text) == "string" and text:match("([^\n]+)\n*$") or nil
end

-- The line of stderr that says why: the last "Error: ..." line (codex follows it with a stack
-- backtrace), else the last line.
local function reason_line(text)
  if type(text) ~= "string" then
    return nil
  end
  local said
  for line in text:gmatch("[^\n]+") do
    if line:match("^%s*[Ee]rror[:%s]") then
      said = line
    end
  end
  return said or last_line(text)
end

---Shows an argv for people (model.md, events): words with spaces or quotes are quoted.
function M.shown(argv)
  local out = {}
  for i, a in ipairs(argv) do
    out[i] = a:find("[%s'\"$`\\]") and ("'" .. a:gsub("'", "'\\''") .. "'") or a
  end
  return table.concat(out, " ")
end

-- The run's outcome from what the process and its stream said, most certain first.
local function outcome(r, s, dialect, killed_after_result, o)
  if r.interrupted then
    return "interrupted", "interrupted (Ctrl-C or SIGTERM)"
  elseif killed_after_result then
    return "outcome_unknown", ("the agent gave its final result but did not exit within %d ms; it was stopped"):format(
      o.exit_deadline_ms)
  elseif r.timed_out then
    if r.timeout_reason == "idle" then
      return "failed", ("idle timeout: no output for %d ms; the agent was stopped"):format(o.idle_timeout_ms)
    end
    return "failed", ("wall timeout: still running after %d ms; the agent was stopped"):format(o.timeout_ms)
  elseif dialect and s.cut_mid_line then
    return "outcome_unknown", "the event stream stopped in the middle of a line"
  elseif dialect and s.is_error then
    return "failed", s.failure or "the agent reported an error"
  elseif r.code ~= 0 then
    local why = r.code and ("exited with code " .. r.code) or ("ended by " .. tostring(r.signal_name))
    local said = reason_line(r.stderr)
    return "failed", said and (why .. ": " .. said) or why
  elseif dialect and not s.completed then
    return "outcome_unknown", "the agent exited without a final result event"
  end
  return "review", nil
end

local function check_options(o)
  if type(o) ~= "table" then
    errors.raise("bad_option", "agent_run.execute: expected an options table", nil, 3)
  end
  if type(o.prompt) ~= "string" or o.prompt == "" then
    errors.raise("bad_option", "agent_run.execute: `prompt` must be a non-empty string", nil, 3)
  end
  for _, key in ipairs({ "timeout_ms", "idle_timeout_ms", "exit_deadline_ms", "kill_grace_ms" }) do
    local v = o[key]
    if v ~= nil and (math.type(v) ~= "integer" or v <= 0) then
      errors.raise("bad_option", ("agent_run.execute: `%s` must be a positive integer (ms)"):format(key), nil, 3)
    end
  end
  if o.run_id ~= nil and type(o.run_id) ~= "string" then
    errors.raise("bad_option", "agent_run.execute: `run_id` must be a run id such as \"R-0001\"", nil, 3)
  end
  if o.on_spawn ~= nil and type(o.on_spawn) ~= "function" then
    errors.raise("bad_option", "agent_run.execute: `on_spawn` must be a function(pid)", nil, 3)
  end
  if o.ephemeral ~= nil and type(o.ephemeral) ~= "boolean" then
    errors.raise("bad_option", "agent_run.execute: `ephemeral` must be true or false", nil, 3)
  end
  if o.resume ~= nil then
    agent_session.check_resume(o)
  end
end

M.continuation = agent_session.continuation

-- Puts the run's record in the store: a new run, or the run `run_id` already there (queued by a
-- background start), its fields kept unless this run sets them. Returns the record.
local function store_run(s, record, run_id)
  if not run_id then
    local ok, message, code = s:create_run(record, nil, { copy_later = true })
    if not ok then
      return nil, message, code
    end
    return record
  end
  local existing, message, code = s:get_run(run_id)
  if not existing then
    return nil, message, code
  end
  for k, v in pairs(record) do
    existing[k] = v
  end
  return s:update_run(existing)
end

---Runs an agent and records it. Options: runner (name, required), prompt (required), repo
---(default "."), root (the .agent folder), store (an open store), task_id, agent_role, model,
---sandbox, allow_full_auto, run_id (a run already in the store, such as a queued background run,
---to record this run in instead of a new one), session_id (a new session's id; claude gets a fresh one when
---ephemeral is false), ephemeral (default true, false when resuming), resume (above), args
---(extra argv), program (argv prefix replacing the CLI's name), command (the command runner's
---argv), env, timeout_ms, idle_timeout_ms, exit_deadline_ms, kill_grace_ms, record (extra fields
---for the run record), on_event(kind, fields) (each parsed event, as it arrives), on_spawn(pid)
---(the agent's pid, which is also its process group, right after it starts), gates (a policy,
---config's `gates`: the run's git facts and changed files are weighed by stdlib/gates.lua, and a
---"block" finding blocks the run) with task (the task packet: files_to_avoid, scope).
---Returns the run record; nil, message, code for an unknown runner or run_id, a refused sandbox or a
---runner that cannot resume (nothing is recorded then). Raises on bad option types and after
---recording an interrupted run.
function M.execute(o)
  check_options(o)
  local spec, why = runners.get(o.runner)
  if not spec then
    return nil, why, "unknown_runner"
  end
  local sandbox
  sandbox, why = runners.check_sandbox(o.sandbox, o.allow_full_auto)
  if not sandbox then
    return nil, why, "bad_sandbox"
  end
  if o.resume and not spec.can_resume then
    return nil, ("runner '%s' cannot continue a session"):format(spec.name), "cannot_resume"
  end
  local ephemeral = o.ephemeral
  if ephemeral == nil then
    ephemeral = o.resume == nil -- a continued session stays continuable
  end
  for k, v in pairs(M.DEFAULTS) do
    if o[k] == nil then
      o[k] = v
    end
  end
  local repo = o.repo or "."
  local s = o.store
  if not s then
    local message, code
    s, message, code = store.open(o.root or (repo .. "/.agent"), { create = true })
    if not s then
      return nil, message, code
    end
  end

  local resumed = o.resume and o.resume.session_id
  local record = { task_id = o.task_id, runner_type = spec.name, agent_role = o.agent_role, model = o.model,
    sandbox = sandbox, status = "running", started_at = store.now(), repo = repo, review_state = "pending",
    ephemeral = ephemeral, resumed_session = resumed, resumed_run = o.resume and o.resume.run_id }
  for k, v in pairs(o.record or {}) do
    record[k] = v
  end
  -- The record is in the store now; its copy and prompt.md follow as one batch of writes (below).
  local message, code
  record, message, code = store_run(s, record, o.run_id)
  if not record then
    return nil, message, code
  end
  local id = record.run_id
  record.created_at = record.created_at or record.started_at
  local dir = assert(s:run_dir(id))
  local run_dir = dir:root()
  record.prompt_path = "runs/" .. id .. "/prompt.md" -- relative to the store's folder

  -- Sidecar's own folder, when it is inside the repository, is not the agent's change.
  local own = s.root:sub(1, #repo + 1) == repo .. "/" and s.root:sub(#repo + 2) or nil
  -- HEAD, branches and tags are read side by side with the snapshot (stdlib/git_refs.lua).
  local refs = git_refs.watch(repo, { run_id = id, push_log = run_dir .. "/push_attempts.log" })
  -- A run in its own worktree knows the tree it was made from (o.before): no second read of it.
  local before, snapshot_why = o.before, nil
  if not before then
    before, snapshot_why = worktree.snapshot(repo, own and { own } or nil)
  end
  local t <close> = assert(telemetry.open(dir))
  local session_id = o.session_id
  if spec.name == "claude" and not session_id and not resumed and not ephemeral then
    session_id = M.uuid() -- known before the start, so the record names the session even if it fails
  end
  local ctx = { prompt = o.prompt, prompt_file = run_dir .. "/prompt.md", repo = repo, run_dir = run_dir,
    model = o.model, sandbox = sandbox, session_id = session_id, resume_session_id = resumed, ephemeral = ephemeral,
    args = o.args, program = o.program, command = o.command }
  local built, argv, how = pcall(spec.command, ctx)
  if not built then
    -- A runner's own bug: the run is closed as failed before the error goes on up.
    record.status, record.completed_at = "failed", store.now()
    record.failure_reason = ("runner '%s' could not build its command: %s"):format(spec.name, tostring(argv))
    s:update_run(record, { { "prompt.md", o.prompt } })
    error(argv, 0)
  end
  how = how or {}
  record.command = M.shown(argv)
  record.session_id = session_id or resumed
  t:event("run.started", { runner = spec.name, command = record.command, sandbox = sandbox, model = o.model })

  local parser = spec.dialect and agent_events.parser(require(spec.dialect .. "_events"), {
    on_event = function(kind, fields)
      t:event("agent." .. kind, fields)
      if o.on_event then
        o.on_event(kind, fields)
      end
    end,
  })
  local result_seen_at
  local stdout
  if parser then
    -- Chunks, not lines: the parser itself must see whether the last line ended.
    -- Redacted as read (host/stream_redactor.hpp): the file and the parser see the same bytes.
    stdout = { collect = false, file = run_dir .. "/agent.jsonl", redact = true, on_chunk = function(chunk)
      parser:feed(chunk)
      if parser.summary.completed and not result_seen_at then
        result_seen_at = now_ms()
      end
    end }
  else
    stdout = { collect = false, file = run_dir .. "/stdout.log", redact = true } -- read back whole after the exit
  end
  local env = {}
  for k, v in pairs(spec.env or {}) do
    env[k] = v
  end
  for k, v in pairs(o.env or {}) do
    env[k] = v
  end
  refs:block_push(env) -- no push leaves a run: git's config in the agent's environment refuses it

  -- A command that reads the prompt from its file needs the file first; otherwise the copy and
  -- prompt.md are written while the agent starts.
  local function write_copy()
    assert(s:write_copy("run", id, record, { { "prompt.md", o.prompt } }))
  end
  if how.prompt == "file" then
    write_copy()
  end
  local span = t:span("agent")
  local started, h = pcall(proc.spawn, argv, {
    cwd = repo, env = env, stdin = how.prompt ~= "file" and o.prompt or nil, stdout = stdout,
    stderr = { collect = true, file = run_dir .. "/stderr.log", redact = true }, max_output = STDERR_TAIL,
    timeout_ms = o.timeout_ms, idle_timeout_ms = o.idle_timeout_ms, kill_grace_ms = o.kill_grace_ms,
    name = spec.name,
  })
  if started and o.on_spawn then
    o.on_spawn(h:pid()) -- before anything else can fail: the caller learns the agent's group at once
  end
  if how.prompt ~= "file" then
    write_copy()
  end
  local r, killed_after_result, interruption
  if not started then
    local err = h
    local install = spec.install and (" (install it: " .. spec.install .. ")") or ""
    r = { code = nil, ok = false, error = tostring(err.message or err), spawn_failed = true }
    record.status, record.failure_reason = "failed", tostring(err.message or err) .. install
  else
    local waited, err = pcall(function()
      while true do
        r = h:wait(100)
        if r then
          return
        end
        if result_seen_at and not killed_after_result and now_ms() - result_seen_at > o.exit_deadline_ms then
          killed_after_result = true
          h:kill()
        end
      end
    end)
    if not waited then
      interruption = err
      -- An interrupt raised in Lua between two waits (not inside one) has not stopped the agent:
      -- stop its group (SIGTERM, grace, SIGKILL) rather than wait for it to end by itself.
      h:kill()
      r = h:wait() or { interrupted = true }
      r.interrupted = true
    end
  end
  span:finish({ exit_code = r.code, signal = r.signal_name, timed_out = r.timed_out })
  local summary = parser and parser:finish() or { usage = agent_events.usage() }

  local warnings = {}
  local final = agent_result.final_message(record, { spec = spec, run_dir = run_dir, parser = parser, summary = summary,
    spawn_failed = r.spawn_failed, max = M.MAX_FINAL }, warnings)
  if not r.spawn_failed then
    record.status, record.failure_reason = outcome(r, summary, spec.dialect, killed_after_result, o)
  end

  local found = agent_result.apply_markers(record, final)

  refs:after()
  agent_result.record_changes(record, repo, before, snapshot_why, found)

  if parser then
    local usage, cost = agent_session.own_share(summary, require(spec.dialect .. "_events"), o.resume, warnings)
    t:usage(usage, spec.name)
    if cost then
      t:cost(cost, spec.name)
    end
    record.cost_usd = cost
    record.usage_reported, record.cost_reported_usd = summary.usage, summary.cost_usd
  end
  local tsum = t:summary()
  record.usage = tsum.usage
  record.warnings = #warnings > 0 and json.array(warnings) or nil
  record.session_id = summary.session_id or record.session_id
  record.model = record.model or summary.model
  record.exit_code, record.signal = r.code, r.signal_name
  record.timed_out = r.timed_out or false
  record.duration_ms = r.duration_ms and math.floor(r.duration_ms) or nil
  record.completed_at = store.now()
  record.summary = first_line(final)
  record.commands_run = json.array(summary.commands or {})
  record.git = refs:facts(record.head_before, record.head_after, record.commands_run)
  if o.gates then
    gates.apply(record, gates.evaluate(record, o.task, o.gates))
  end
  record.stream = parser and {
    events = summary.events, unknown_types = json.object(summary.unknown_types),
    malformed_lines = summary.malformed_lines, cut_mid_line = summary.cut_mid_line or false,
    retries = summary.retries, errors = json.array(summary.errors), warnings = json.array(summary.warnings),
    permission_denials = #summary.permission_denials, tool_calls = #summary.tool_calls,
    dropped = next(summary.dropped) and json.object(summary.dropped) or nil,
  } or nil

  -- The run's files in one batch: each atomic, their fsyncs side by side.
  local meta = {
    task_id = o.task_id or id, created_at = record.started_at,
    runner = spec.name == "command" and "command" or (spec.name .. "-cli"),
    model_provider = PROVIDERS[spec.name], model = record.model or "default", sandbox = sandbox,
    repo = repo, command = record.command .. " < " .. run_dir .. "/prompt.md",
  }
  local files = {
    { "model.json", json.encode(telemetry.model_json(meta, tsum), { indent = 2 }) .. "\n" },
    { "model.md", telemetry.model_md(meta, tsum) },
  }
  if final then
    files[#files + 1] = { "output.md", final:sub(-1) == "\n" and final or final .. "\n" }
  end
  t:event("run.finished", { status = record.status, reason = record.failure_reason })
  assert(s:update_run(record, files))
  if not o.store then
    s:close()
  end
  if interruption then
    error(interruption, 0)
  end
  return record
end

return M
