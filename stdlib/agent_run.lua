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
local agent_events = require("agent_events")
local clock = require("host.time")
local errors = require("errors")
local json = require("json")
local markers = require("markers")
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

-- Shows an argv for people (model.md, events): words with spaces or quotes are quoted.
local function shown(argv)
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
    local said = last_line(r.stderr)
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
end

---Runs an agent and records it. Options: runner (name, required), prompt (required), repo
---(default "."), root (the .agent folder), store (an open store), task_id, agent_role, model,
---sandbox, allow_full_auto, session_id, ephemeral, args (extra argv), program (argv prefix
---replacing the CLI's name), command (the command runner's argv), env, timeout_ms,
---idle_timeout_ms, exit_deadline_ms, kill_grace_ms, record (extra fields for the run record),
---on_event(kind, fields) (each parsed event, as it arrives).
---Returns the run record; nil, message, code for an unknown runner or a refused sandbox (nothing
---is recorded then). Raises on bad option types and after recording an interrupted run.
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

  local record = { task_id = o.task_id, runner_type = spec.name, agent_role = o.agent_role, model = o.model,
    sandbox = sandbox, status = "running", started_at = store.now(), repo = repo, review_state = "pending" }
  for k, v in pairs(o.record or {}) do
    record[k] = v
  end
  -- The record is in the store now; its copy and prompt.md follow as one batch of writes (below).
  local ok, message, code = s:create_run(record, nil, { copy_later = true })
  if not ok then
    return nil, message, code
  end
  local id = record.run_id
  record.created_at = record.created_at or record.started_at
  local dir = assert(s:run_dir(id))
  local run_dir = dir:root()
  record.prompt_path = "runs/" .. id .. "/prompt.md" -- relative to the store's folder

  -- Sidecar's own folder, when it is inside the repository, is not the agent's change.
  local own = s.root:sub(1, #repo + 1) == repo .. "/" and s.root:sub(#repo + 2) or nil
  local before, snapshot_why = worktree.snapshot(repo, own and { own } or nil)
  local t <close> = assert(telemetry.open(dir))
  if spec.name == "claude" and not o.session_id and o.ephemeral == false then
    o.session_id = M.uuid()
  end
  local ctx = { prompt = o.prompt, prompt_file = run_dir .. "/prompt.md", repo = repo, run_dir = run_dir,
    model = o.model, sandbox = sandbox, session_id = o.session_id, ephemeral = o.ephemeral, args = o.args,
    program = o.program, command = o.command }
  local argv, how = spec.command(ctx)
  how = how or {}
  record.command = shown(argv)
  record.session_id = o.session_id
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
    stdout = { collect = false, file = run_dir .. "/agent.jsonl", on_chunk = function(chunk)
      parser:feed(chunk)
      if parser.summary.completed and not result_seen_at then
        result_seen_at = now_ms()
      end
    end }
  else
    stdout = { collect = false, file = run_dir .. "/stdout.log" } -- read back whole after the exit
  end
  local env = {}
  for k, v in pairs(spec.env or {}) do
    env[k] = v
  end
  for k, v in pairs(o.env or {}) do
    env[k] = v
  end

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
    stderr = { collect = true, file = run_dir .. "/stderr.log" }, max_output = STDERR_TAIL,
    timeout_ms = o.timeout_ms, idle_timeout_ms = o.idle_timeout_ms, kill_grace_ms = o.kill_grace_ms,
    name = spec.name,
  })
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
      r = h:wait() or { interrupted = true }
      r.interrupted = true
    end
  end
  span:finish({ exit_code = r.code, signal = r.signal_name, timed_out = r.timed_out })
  local summary = parser and parser:finish() or { usage = agent_events.usage() }

  -- The final message: codex's -o file, else the last message in the stream, else plain stdout.
  local final
  if spec.final_message_file then
    local text = dir:read(spec.final_message_file)
    if text and text ~= "" then
      final = text
    end
  end
  if final == nil then
    if parser then
      final = summary.final_message
    elseif not r.spawn_failed then
      final = dir:read("stdout.log")
    end
  end
  if not r.spawn_failed then
    record.status, record.failure_reason = outcome(r, summary, spec.dialect, killed_after_result, o)
  end

  local found = markers.parse(final or "")
  if record.status == "review" and (found.status == "blocked" or found.status == "question") then
    record.status = "blocked"
    record.blockers = {}
    for _, b in ipairs(found.blockers) do
      record.blockers[#record.blockers + 1] = b.reason
    end
    for _, q in ipairs(found.questions) do
      record.blockers[#record.blockers + 1] = "question: " .. q.text
    end
  end
  record.markers = { status = found.status, progress = json.array(found.progress),
    files_modified = json.array(found.files_modified), complete = found.complete and found.complete.text or json.null,
    warnings = json.array(found.warnings) }

  -- What changed in the work tree, and whether the agent's claims match it.
  if before then
    local change, change_why = worktree.changes(repo, before)
    if change then
      record.head_before, record.head_after = change.head_before, change.head_after
      record.changed_files = json.array(worktree.paths(change))
      record.changes = json.array(change.files)
      if #found.files_modified > 0 then
        local check = markers.check_files(found.files_modified, record.changed_files, repo)
        record.files_check = { confirmed = json.array(check.confirmed),
          claimed_not_changed = json.array(check.claimed_not_changed),
          changed_not_claimed = json.array(check.changed_not_claimed) }
      end
    else
      record.changes_unavailable = change_why
    end
  else
    record.changes_unavailable = snapshot_why
  end

  if parser then
    t:usage(summary.usage, spec.name)
    if summary.cost_usd then
      t:cost(summary.cost_usd, spec.name)
    end
  end
  local tsum = t:summary()
  record.usage = tsum.usage
  record.cost_usd = summary.cost_usd
  record.session_id = summary.session_id or record.session_id
  record.model = record.model or summary.model
  record.exit_code, record.signal = r.code, r.signal_name
  record.timed_out = r.timed_out or false
  record.duration_ms = r.duration_ms and math.floor(r.duration_ms) or nil
  record.completed_at = store.now()
  record.summary = first_line(final)
  record.commands_run = json.array(summary.commands or {})
  record.stream = parser and {
    events = summary.events, unknown_types = json.object(summary.unknown_types),
    malformed_lines = summary.malformed_lines, cut_mid_line = summary.cut_mid_line or false,
    retries = summary.retries, errors = json.array(summary.errors), warnings = json.array(summary.warnings),
    permission_denials = #summary.permission_denials, tool_calls = #summary.tool_calls,
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
