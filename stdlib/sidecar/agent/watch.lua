--- The agent's process during one run (stdlib/sidecar/agent/run.lua): where its output goes, its start
--- under the watchdog, and the wait for its end.
---
---   local started, h, watch = agent_watch.spawn(argv, {cwd, env, stdin, run_dir, parser, max_log,
---                                                      timeout_ms, idle_timeout_ms, kill_grace_ms, name,
---                                                      stop_now?, stuck?, terminal?, sandbox?, owner?})
---   (owner: the run's sidecar.run.owner guard, whose cgroup is armed around the spawn alone)
---   local r, killed_after_result, interruption = agent_watch.wait(h, watch, exit_deadline_ms)
---
--- Output: with an event parser, stdout goes to agent.jsonl and to the parser chunk by chunk (the
--- parser itself must see whether the last line ended); without one, to stdout.log, read back
--- after the exit. stderr goes to stderr.log, and its tail is collected for the failure reason.
--- On a terminal (`terminal`, stdlib/sidecar/agent/terminal.lua) both streams are one, which it reads,
--- and the wait loop lets it type what was sent and read the screen for prompts.
--- Each stream is redacted as read (host/secrets/stream_redactor.hpp: the file and the parser see the same
--- bytes) and each log bounded by `max_log` (head and tail kept, stdlib/sidecar/core/log_caps.lua).
local clock = require("sidecar.host.time")
local coop = require("sidecar.core.coop")
local errors = require("sidecar.core.errors")
local proc = require("sidecar.core.proc")

local M = {}

M.STDERR_TAIL = 64 * 1024 -- the most of stderr kept in memory (the reason a run failed)
M.ACP_EXIT_MS = 300 -- an ACP agent's time to exit by itself once its turn has ended
M.ACP_CANCEL_GRACE_MS = 2000 -- an ACP agent's time to end its turn once asked to (session/cancel)
local ACP_BACKSTOP_MS = M.ACP_CANCEL_GRACE_MS + 1000 -- past an ACP agent's timeout, the watchdog's own

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

-- What a run owes once its agent has started (its start copy: sidecar.agent.run's after_start) is
-- put off, in a preset's pool, until the pool has started no agent for SETTLE_QUIET_MS, and at most
-- SETTLE_MAX_MS after its own agent started: a fan-out's machine starts the agents first, their
-- sandboxes and all, and writes the copies while they run.
M.SETTLE_QUIET_MS = 300
M.SETTLE_MAX_MS = 2000

local last_start_ms = 0 -- when this process last started an agent (M.spawn)

-- `fn` as an output callback whose error (a parser's, the budget's, an ACP client's) is this run's
-- alone: kept in `watch.failed` and raised by M.wait, where the run handles it, rather than in
-- whichever wait read the output (in a preset's pool, another run's, or the pool's own). An
-- interrupt goes on at once; after an error the rest of the output is written, not handled.
local function kept(watch, fn)
  return function(...)
    if watch.failed == nil then
      local ok, err = pcall(fn, ...)
      if not ok then
        errors.keep_interrupt(false, err)
        watch.failed = err
      end
    end
  end
end

---Starts the agent. Returns true, the process handle and the watch (its `result_seen_at`, in
---monotonic ms, is set once the parser has the final result); or false and the spawn error.
---@param argv string[]
---@param o table
---@return boolean started, any handle_or_error, table watch
function M.spawn(argv, o)
  -- stop_now(): true when the agent must be stopped (a budget); stuck: stdlib/sidecar/run/stuck.lua
  local acp = o.parser ~= nil and o.parser.summary.acp ~= nil
  local watch = { stop_now = o.stop_now, stuck = o.stuck, last_output = now_ms(), parser = o.parser,
    timeouts = acp and { wall_at = o.timeout_ms and now_ms() + o.timeout_ms, idle_ms = o.idle_timeout_ms } or nil }
  local function heard()
    watch.last_output = now_ms()
  end
  local stdout
  if o.terminal then -- on a pseudo-terminal: stdlib/sidecar/agent/terminal.lua reads it
    stdout = o.terminal:sink(heard, function()
      watch.result_seen_at = watch.result_seen_at or now_ms()
    end)
    watch.terminal = o.terminal
  elseif o.parser then
    stdout = { collect = false, file = o.run_dir .. "/agent.jsonl", redact = true, on_chunk = kept(watch, function(chunk)
      heard()
      o.parser:feed(chunk)
      if o.parser.summary.completed and not watch.result_seen_at then
        watch.result_seen_at = now_ms()
      end
    end) }
  else
    stdout = { collect = false, file = o.run_dir .. "/stdout.log", redact = true, on_chunk = heard }
  end
  stdout.max_bytes = not o.terminal and o.max_log or nil
  if o.owner then
    o.owner:arm() -- its run's cgroup, for this spawn alone
  end
  local started, h = pcall(proc.spawn, argv, {
    cwd = o.cwd, env = o.env, stdout = stdout,
    stdin = o.terminal and true or o.stdin, pty = o.terminal and o.terminal.size or nil, -- typed: type_prompt
    stderr = { collect = true, file = o.run_dir .. "/stderr.log", redact = true, max_bytes = o.max_log,
      on_chunk = heard },
    max_output = M.STDERR_TAIL,
    -- An ACP agent's timeouts are this module's (M.wait: session/cancel first); the watchdog's
    -- come after the cancel's grace, should the agent not end then.
    timeout_ms = acp and o.timeout_ms and o.timeout_ms + ACP_BACKSTOP_MS or o.timeout_ms,
    idle_timeout_ms = acp and o.idle_timeout_ms and o.idle_timeout_ms + ACP_BACKSTOP_MS or o.idle_timeout_ms,
    kill_grace_ms = o.kill_grace_ms,
    -- An agent never outlives Sidecar, whatever it ignores. A Landlock sandbox's first process, the
    -- agent's subreaper, takes SIGTERM: it then ends everything the agent started, which a SIGKILL
    -- of its own would leave running (no pid namespace ends with it).
    name = o.name, parent_death = o.sandbox and o.sandbox.kind == "landlock" and "term" or "kill",
    -- In an OS sandbox (stdlib/sidecar/run/sandbox.lua): its report file, and bwrap outliving the
    -- group's SIGTERM so that the agent inside ends in its grace period.
    fd3 = o.sandbox and o.sandbox.report, term_ignored = o.sandbox ~= nil,
    -- An ACP agent is asked to cancel its turn before its group is ended (M.wait)
    caller_stops = acp,
  })
  if o.owner then
    o.owner:disarm()
  end
  last_start_ms = now_ms()
  watch.started_ms = last_start_ms
  if started and o.terminal then
    o.terminal:type_prompt(h, o.stdin) -- the terminal stays open for what is typed later
  elseif o.terminal then
    o.terminal:finish() -- its logs closed, its input folder gone
  end
  -- a Ctrl-C (an ACP client's cancel) while the agent was being started goes on up: the run is
  -- interrupted (its owner records it so, and stops whatever had started), not failed to start
  errors.keep_interrupt(started, h)
  return started, h, watch
end

-- The terminal's logs closed: r.stdout_log says what its text log (agent.jsonl or stdout.log)
-- kept, r.terminal_log what terminal.log did.
local function finish_terminal(r, watch)
  if watch.terminal then
    r.stdout_log, r.terminal_log = watch.terminal:finish()
  end
  return r
end

-- Calls fn(...), its failure dropped; a Ctrl-C that arrived meanwhile goes on up.
local function quietly(fn, ...)
  errors.keep_interrupt(pcall(fn, ...))
end

-- The ACP conversation of the agent (sidecar.agent.acp_client), when it speaks ACP.
local function acp_of(watch)
  return watch.parser and watch.parser.summary.acp
end

-- An ACP agent's turn is its run: once it answered (or was asked to stop), Sidecar closes its
-- stdin and ends its group after a moment, since adapters do not exit by themselves.
local function ends_acp(h, watch)
  local c = acp_of(watch)
  if not c then
    return
  end
  if watch.result_seen_at and not watch.stdin_closed then
    watch.stdin_closed = true
    watch.end_at = math.min(watch.end_at or math.maxinteger, watch.result_seen_at + M.ACP_EXIT_MS)
    quietly(h.write, h) -- stdin closed: an agent that exits on it does so now
  end
  if watch.end_at and now_ms() >= watch.end_at and not watch.ended then
    watch.ended = true
    h:kill()
  end
end

-- Interrupted (Ctrl-C, SIGTERM, `run kill`): an ACP agent is asked to cancel its turn, and given
-- ACP_CANCEL_GRACE_MS to answer it; a second interrupt meanwhile cuts that short.
local function cancel_acp(h, watch, err)
  local c = acp_of(watch)
  if not (c and errors.is_interrupt(err)) then
    return
  end
  c:cancel()
  local deadline = now_ms() + M.ACP_CANCEL_GRACE_MS
  -- A second interrupt ends the wait (raised in it, dropped here: the first one is on its way up).
  pcall(function()
    while now_ms() < deadline and not watch.parser.summary.completed do
      if coop.wait(h, 50) then
        return
      end
    end
  end)
end

-- An ACP agent past its wall or idle timeout is asked to cancel its turn (once), then ended after
-- the grace, as a budget stops it; the result then says it timed out.
local function acp_timeout(watch)
  local t = watch.timeouts
  if not t or watch.timeout_reason or watch.stopped then
    return
  end
  local now = now_ms()
  local why = (t.wall_at and now >= t.wall_at and "wall") or (t.idle_ms and now - watch.last_output >= t.idle_ms
    and "idle") or nil
  if why then
    watch.timeout_reason = why
    acp_of(watch):cancel()
    watch.end_at = now + M.ACP_CANCEL_GRACE_MS
  end
end

---Flags an agent silent for its `stuck.after_ms` once, and clears the flag when it speaks again.
function M.check_silence(watch)
  local s = watch.stuck
  if not s then
    return
  end
  local silence = now_ms() - watch.last_output
  -- A flag that cannot be written (the store busy, say) is a courtesy missed, never the run's end.
  if not watch.flagged_at and silence >= s.after_ms then
    watch.flagged_at = now_ms()
    quietly(s.flag, silence)
  elseif watch.flagged_at and watch.last_output > watch.flagged_at then
    watch.flagged_at = nil
    quietly(s.clear)
  end
end

-- Calls watch.after_start once, when it is due (SETTLE_QUIET_MS, SETTLE_MAX_MS), or at once when
-- `now` (the agent ended, or the wait is cut short).
local function settle(watch, now)
  local f, t = watch.after_start, now_ms()
  if f and (now or t - last_start_ms >= M.SETTLE_QUIET_MS or t - watch.started_ms >= M.SETTLE_MAX_MS) then
    watch.after_start = nil
    f()
  end
end

---Waits for the agent to end; one whose `stop_now()` (spawn's option) says so is stopped (r.stopped).
---`watch.after_start` (a function the caller set, or none) runs once while it waits, when it is due
---(M.SETTLE_QUIET_MS), and at the latest before the wait returns.
---An agent that gave its final result but has not exited
---`exit_deadline_ms` later is stopped (killed_after_result). An error raised while waiting (an
---interrupt between two waits, not inside one, has not stopped the agent) stops its group
---(SIGTERM, grace, SIGKILL) rather than waiting for it to end by itself, and is returned as the
---interruption for the caller to raise once the run is recorded.
---@return table r, boolean? killed_after_result, any interruption
function M.wait(h, watch, exit_deadline_ms)
  local r, killed_after_result
  local waited, err = pcall(function()
    while true do
      r = coop.wait(h, 100) -- giving way to a preset's other runs in its pool (sidecar.core.coop)
      if watch.failed ~= nil then
        error(watch.failed, 0) -- an output callback's (kept)
      end
      settle(watch, r ~= nil)
      if r then
        return
      end
      if watch.stop_now and not watch.stopped and watch.stop_now() then
        watch.stopped = true
        if acp_of(watch) then -- asked to stop its turn first, then ended after a grace
          acp_of(watch):cancel()
          watch.end_at = now_ms() + M.ACP_CANCEL_GRACE_MS
        else
          h:kill() -- its whole group, as the watchdog does (TERM, grace, KILL)
        end
      end
      acp_timeout(watch)
      ends_acp(h, watch)
      M.check_silence(watch)
      if watch.terminal then
        watch.terminal:poll(h) -- input typed, prompts read
      end
      if watch.result_seen_at and not acp_of(watch) and not killed_after_result and
          now_ms() - watch.result_seen_at > exit_deadline_ms then
        killed_after_result = true
        h:kill()
      end
    end
  end)
  if waited then
    r.stopped = watch.stopped
    if watch.timeout_reason then -- ended here, after its session/cancel (acp_timeout)
      r.timed_out, r.timeout_reason = true, watch.timeout_reason
    end
    return finish_terminal(r, watch), killed_after_result, nil
  end
  cancel_acp(h, watch, err)
  h:kill()
  r = coop.wait(h) or { interrupted = true }
  r.interrupted = true
  quietly(settle, watch, true) -- what the run owes still written; its failure is not the interruption's
  return finish_terminal(r, watch), killed_after_result, err
end

return M
