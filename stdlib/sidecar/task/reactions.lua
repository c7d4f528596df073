--- Reactions: what Sidecar does by itself when a run ends badly, and the brakes on those loops
--- (`reactions = {...}` in .agent/config.lua).
---
---   validation_failed = { action = "fix", retries = 2 }
---       A fix run: a replay of the run (lineage kind "replay") whose prompt carries the failing
---       validation steps' output (redacted, the last lines of each). It stops, recording why on
---       the last run's `reaction`: "fixed" (validation passed), "retries exhausted", "same failure
---       repeated" (the same steps failed with the same normalised output), or "no change" (the
---       circuit breaker: the attempt changed no file). A fix run continues from the result of the
---       run it fixes (its worktree), so it sees the change that failed.
---   blocked = { action = "escalate" }
---       A run that ends blocked (a gate, the agent's own [BLOCKED], or a fix loop that gave up) is
---       never retried by this: it is marked for a person (`reaction.needs_person`) and a notice is
---       sent. { action = "notify" }: the notice only.
---   stuck = { action = "notify" }
---       A notice only (the PTY session's stuck detection calls M.notify).
---   Any event may take { action = "none" } (the default: nothing happens).
---
--- Notices go through M.notify: the config's `notify` command when one is set, else nothing.
local digest = require("sidecar.host.digest")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_record = require("sidecar.run.record")
local settings = require("sidecar.core.reaction_settings")
local secrets = require("sidecar.core.secrets")
local visible = require("sidecar.core.text").visible

local M = {}

---The events a reaction may name, and the actions each takes (sidecar.core.reaction_settings).
M.EVENTS = settings.EVENTS
---Fix runs after the first failure when `retries` is not given.
M.DEFAULT_RETRIES = 2
---Lines of each failing step's output the fix prompt carries (the tail).
M.OUTPUT_LINES = 40
---How the section a fix run's prompt gets begins.
M.SECTION_START = "\n\n## Validation failed\n\n"

---Checks the config's `reactions` table (sidecar.core.reaction_settings.check).
M.check = settings.check

---The failing validation steps of a run (each {kind, command, exit_code, timed_out, output}),
---or nil when its validation did not fail.
function M.failing_steps(run)
  if type(run) ~= "table" or type(run.validation) ~= "table" then
    return nil
  end
  local out = {}
  for _, r in ipairs(run.validation) do
    if type(r) == "table" and r.ok == false then
      out[#out + 1] = { kind = r.kind, command = r.command, exit_code = r.exit_code, timed_out = r.timed_out,
        output = type(r.output_snippet) == "string" and r.output_snippet or (r.not_run or "") }
    end
  end
  return #out > 0 and out or nil
end

-- What changes between two runs of the same failure, blanked: durations, addresses, temporary
-- paths, run ids, spacing.
local function normalise(text)
  text = text:gsub("%d+%.?%d*%s*[mun]?s%f[%W]", "<time>"):gsub("0x%x+", "<addr>")
    :gsub("/tmp/[%w._/-]+", "<tmp>"):gsub("R%-%d+", "<run>"):gsub("%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z?", "<when>")
  return (text:gsub("[ \t]+", " "):gsub("%s*\n%s*", "\n"))
end

---A failure's signature: the failing steps (kind, command, exit) and a digest of their normalised
---output. Two attempts with the same signature failed the same way.
function M.signature(failing)
  local parts = {}
  for i, f in ipairs(failing) do
    parts[i] = ("%s\t%s\t%s\t%s"):format(tostring(f.kind), tostring(f.command),
      f.timed_out and "timeout" or tostring(f.exit_code), digest.sha256(normalise(f.output or "")):sub(1, 16))
  end
  return table.concat(parts, "\n")
end

---The last `n` lines of `text` (trailing blank space dropped).
---@param text string
---@param n integer
function M.last_lines(text, n)
  local lines = {}
  for line in (text:gsub("%s+$", "") .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

---The section a fix run's prompt gets: each failing step, its exit and the redacted tail of its
---output (already redacted and bounded as stored; redacted again in case the rules grew), its
---escape sequences and other controls shown in caret notation, never passed on raw.
function M.fix_section(failing, attempt, retries, parent_id)
  local out = { ("Fix attempt %d of at most %d. The previous attempt at this task (run %s) failed the validation "
    .. "steps below; its change is in your work tree. Fix it so that they pass. Do not weaken, skip or delete the "
    .. "checks."):format(attempt, retries, tostring(parent_id)) }
  for _, f in ipairs(failing) do
    out[#out + 1] = ("\n### %s: `%s` (%s)\n```\n%s\n```"):format(tostring(f.kind), tostring(f.command),
      f.timed_out and "timed out" or ("exit " .. tostring(f.exit_code)),
      visible(M.last_lines(secrets.redact(f.output or ""), M.OUTPUT_LINES)))
  end
  return M.SECTION_START .. table.concat(out, "\n") .. "\n"
end

---Sends a notice for an event: runs the config's `notify` command (a string, run by /bin/sh, or a
---list) with SIDECAR_EVENT, SIDECAR_RUN and SIDECAR_MESSAGE set. The hook point for notices;
---returns true when a command ran, or false, why.
function M.notify(cfg, event, run_id, message)
  local cmd = require("sidecar.core.notify_settings").command(cfg) -- channels are told by run.notify
  if type(cmd) == "string" then
    cmd = proc.shell(cmd)
  elseif type(cmd) ~= "table" or #cmd == 0 then
    return false, "no notify command in the config"
  end
  local r = proc.run(cmd, { timeout_ms = 30000, env = { SIDECAR_EVENT = event, SIDECAR_RUN = run_id or "",
    SIDECAR_MESSAGE = secrets.redact(message or "") } })
  return r.ok == true, not r.ok and ("the notify command failed (exit %s)"):format(tostring(r.code)) or nil
end

-- Did an attempt change nothing? A fix run continues from the result of the run it fixes
-- (stdlib/sidecar/run/worktree.lua: reusable): its worktree's tree at the start and its result
-- are the same. (A run in place records no change of its own: the other brakes hold.)
local function changed_nothing(run)
  local w = type(run.worktree) == "table" and run.worktree or nil
  if not w then
    return false
  end
  local start = w.start_tree or w.base_tree
  return type(start) == "string" and start == w.result_tree
end

---The circuit breaker for loops of agent rounds (the task-executor preset's iterations): a round
---that changed no file and reported no [PROGRESS] line the previous round had not made no
---progress. Returns the reason, or nil when the round made progress.
---@param n integer  the round's number
---@param changed integer  how many files the round changed
---@param progress string[]  its [PROGRESS] lines
---@param before string[]|nil  the previous round's
function M.no_progress(n, changed, progress, before)
  if changed > 0 then
    return nil
  end
  local old = {}
  for _, line in ipairs(before or {}) do
    old[line] = true
  end
  for _, line in ipairs(progress) do
    if not old[line] then
      return nil
    end
  end
  return ("no progress: iteration %d changed no file and reported nothing new"):format(n)
end

local function settle(s, run, reaction)
  run.reaction = reaction
  assert(run_record.save(s, run))
  return run
end

---The policy for an event from the config, or nil when nothing should happen.
function M.policy(cfg, event)
  local r = type(cfg) == "table" and type(cfg.reactions) == "table" and cfg.reactions[event] or nil
  if type(r) ~= "table" or r.action == "none" then
    return nil
  end
  return r
end

-- A blocked run (after a fix loop that gave up, too): a notice, and with "escalate" the run is
-- marked for a person. Added to the run's reaction when a fix loop recorded one.
local function escalate(s, cfg, run, policy, h)
  local b = type(run.blockers) == "table" and run.blockers[1] or nil
  local why = type(b) == "table" and b.reason or b or run.failure_reason or "blocked"
  local sent = M.notify(cfg, "blocked", run.run_id, ("run %s is blocked: %s"):format(run.run_id, tostring(why)))
  local r = type(run.reaction) == "table" and run.reaction or { event = "blocked", action = policy.action }
  r.blocked, r.notified, r.reason = policy.action, sent, tostring(why)
  r.needs_person = policy.action == "escalate" or nil
  h.progress("run %s: blocked; %s%s", run.run_id, r.needs_person and "escalated to a person" or "notified",
    sent and " (notice sent)" or "")
  return settle(s, run, r)
end

---Reacts to a finished run. h: `replay(parent, prompt_section, reason)` -> run or nil, message (a
---fix run: a replay of `parent` with `prompt_section` appended to its prompt), `progress(fmt, ...)`.
---Returns the last run (the one to review), with `reaction` recorded on every run it touched.
function M.react(s, cfg, run, h)
  local failing = M.failing_steps(run)
  local fix = failing and M.policy(cfg, "validation_failed")
  if fix then
    run = M.fix_loop(s, run, fix, h)
  end
  local blocked = run.status == "blocked" and M.policy(cfg, "blocked")
  if blocked then
    return escalate(s, cfg, run, blocked, h)
  end
  return run
end

---The reason a fix run's record gives (its `replay_reason`).
function M.fix_reason(attempt, retries)
  return ("reaction: validation failed (%d of %d)"):format(attempt, retries)
end

---A fix run's prompt: its parent's prompt (without the section a fix run's own prompt got) with
---`section` appended.
---@param parent_prompt string
---@param section string  from M.fix_section
function M.fix_prompt(parent_prompt, section)
  local cut = parent_prompt:find(M.SECTION_START, 1, true)
  return (cut and parent_prompt:sub(1, cut - 1) or parent_prompt) .. section
end

---The fix loop's next move after its attempts so far (`chain`: the first run, then each fix run,
---their records): the number of the next fix run, or nil and why the loop stops.
---@param chain table[]
---@param policy table  the validation_failed reaction ({retries?})
---@return integer|nil attempt
---@return string|nil stop
function M.fix_decide(chain, policy)
  local last = chain[#chain]
  local failing = M.failing_steps(last)
  if #chain > 1 then
    if not failing then
      return nil, (last.status == "review" or last.status == "completed") and "fixed"
        or ("the fix run ended " .. tostring(last.status))
    elseif changed_nothing(last) then
      return nil, "no change"
    end
    local sig = M.signature(failing)
    for i = 1, #chain - 1 do
      local before = M.failing_steps(chain[i])
      if before and M.signature(before) == sig then
        return nil, "same failure repeated"
      end
    end
  end
  if #chain > (policy.retries or M.DEFAULT_RETRIES) then
    return nil, "retries exhausted"
  end
  return #chain
end

-- The ids of a chain's runs, as a JSON array.
local function ids_of(chain)
  local ids = json.array({})
  for i, r in ipairs(chain) do
    ids[i] = r.run_id
  end
  return ids
end

---Records why a fix loop stopped on every run of its chain (`reaction`: event, action, attempt,
---attempts, and on the last run `stopped` and `last`). Returns the last run.
function M.fix_settle(s, chain, stop)
  local attempts, last = ids_of(chain), chain[#chain]
  for i, id in ipairs(attempts) do
    local r = i == #chain and last or s:get_run(id)
    if r then
      settle(s, r, { event = "validation_failed", action = "fix", attempt = i - 1, attempts = attempts,
        stopped = i == #chain and stop or nil, last = i == #chain })
    end
  end
  return last
end

---The fix loop (see the module's comment), each fix run run to its end by h.replay. Returns the
---last run.
function M.fix_loop(s, first, policy, h)
  local retries = policy.retries or M.DEFAULT_RETRIES
  local chain = { first }
  local attempt, stop = M.fix_decide(chain, policy)
  while attempt do
    local run = chain[#chain]
    h.progress("run %s: validation failed; fix run %d of %d", run.run_id, attempt, retries)
    local fixed, why = h.replay(run, M.fix_section(M.failing_steps(run), attempt, retries, run.run_id),
      M.fix_reason(attempt, retries))
    if not fixed then
      stop = "the fix run could not start: " .. tostring(why)
      break
    end
    chain[#chain + 1] = fixed
    attempt, stop = M.fix_decide(chain, policy)
  end
  h.progress("run %s: reaction stopped: %s", chain[#chain].run_id, stop)
  return M.fix_settle(s, chain, stop)
end

-- The fix loop `run` is the latest attempt of, while it goes on (its parent's reaction names it as
-- the fix run under way): the chain's records and the retries it started with; nil otherwise.
local function chain_under_way(s, run)
  local parent = type(run.parent_run_id) == "string" and s:get_run(run.parent_run_id)
  local r = parent and parent.reaction
  if type(r) ~= "table" or r.fix_run ~= run.run_id or type(r.attempts) ~= "table" then
    return nil
  end
  local chain = {}
  for i, id in ipairs(r.attempts) do -- (a record edited by hand is no chain)
    chain[i] = id == run.run_id and run or type(id) == "string" and s:get_run(id) or nil
    if not chain[i] then
      return nil
    end
  end
  return chain, { retries = math.tointeger(r.retries) or M.DEFAULT_RETRIES }
end

---One step of the reactions, for runs whose fix runs end in another process (Slurm jobs: nothing
---waits in between). Called once when `run` has ended: starts the next fix run of its loop
---(h.submit(parent, prompt_section, reason) -> the started run, or nil, why), recording on `run`
---the loop so far (`reaction.fix_run`: the run under way, `attempts`, `retries`), which the step
---for that run's end goes on from; or, when the loop stops, records why as M.fix_loop does, and
---escalates a blocked run. The same brakes and records as M.react. Returns the fix run started,
---or nil when the reactions are done with `run`.
function M.react_step(s, cfg, run, h)
  local chain, policy = chain_under_way(s, run)
  if not chain then
    policy = M.failing_steps(run) and M.policy(cfg, "validation_failed")
    chain = policy and { run } or nil
  end
  if chain then
    local retries = policy.retries or M.DEFAULT_RETRIES
    local attempt, stop = M.fix_decide(chain, policy)
    if attempt then
      h.progress("run %s: validation failed; fix run %d of %d", run.run_id, attempt, retries)
      local fixed, why = h.submit(run, M.fix_section(M.failing_steps(run), attempt, retries, run.run_id),
        M.fix_reason(attempt, retries))
      if fixed then
        local attempts = ids_of(chain)
        attempts[#attempts + 1] = fixed.run_id
        settle(s, run, { event = "validation_failed", action = "fix", attempt = #chain - 1, attempts = attempts,
          fix_run = fixed.run_id, retries = retries })
        return fixed
      end
      stop = "the fix run could not start: " .. tostring(why)
    end
    h.progress("run %s: reaction stopped: %s", run.run_id, stop)
    run = M.fix_settle(s, chain, stop)
  end
  local blocked = run.status == "blocked" and M.policy(cfg, "blocked")
  if blocked then
    escalate(s, cfg, run, blocked, h)
  end
  return nil
end

return M
