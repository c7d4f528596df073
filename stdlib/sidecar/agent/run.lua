--- One agent run: spawn a runner's CLI under a watchdog with the prompt on stdin, read its event
--- stream as it arrives, and record everything.
---
---   local record = assert(agent_run.execute({runner = "codex", prompt = text, repo = "."}))
---   record.status   -- review | blocked | failed | outcome_unknown | interrupted | budget_exceeded
---   record.output   -- the agent's final answer (also in output.md)
---
--- `runner` may be one of `.agent/config.lua`'s runners. A run that cannot be made (an unknown
--- runner, a refused sandbox) returns nil, message, code and records nothing: check it. A run whose
--- folder cannot be made (a symbolic link planted there) also returns nil, message, code, after
--- recording the run `failed`: no agent started.
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
local acp_run = require("sidecar.agent.acp_run")
local agent_budget = require("sidecar.agent.budget")
local agent_events = require("sidecar.agent.events")
local agent_session = require("sidecar.agent.session")
local agent_slots = require("sidecar.run.agent_slots")
local agent_watch = require("sidecar.agent.watch")
local clock = require("sidecar.host.time")
local coop = require("sidecar.core.coop")
local default_repo = require("sidecar.core.default_repo")
local errors = require("sidecar.core.errors")
local git = require("sidecar.core.git")
local git_refs = require("sidecar.run.git_refs")
local ids = require("sidecar.core.ids")
local json = require("sidecar.core.json")
local log_caps = require("sidecar.core.log_caps")
local otel = require("sidecar.run.otel")
local run_options = require("sidecar.agent.run_options")
local run_record = require("sidecar.run.record")
local run_result = require("sidecar.agent.run_result")
local run_start = require("sidecar.agent.run_start")
local run_owner = require("sidecar.run.owner")
local run_sandbox = require("sidecar.agent.run_sandbox")
local runners = require("sidecar.agent.runners")
local store = require("sidecar.core.store")
local telemetry = require("sidecar.core.telemetry")
local worktree = require("sidecar.core.worktree")

local M = {}

M.DEFAULTS = {
  timeout_ms = 30 * 60 * 1000,
  idle_timeout_ms = 5 * 60 * 1000,
  exit_deadline_ms = 10 * 1000,
  kill_grace_ms = 2000,
}
---After the agent exits, reading its output (markers) stops at the run's deadline, but is given
---at least this long (ms): a run that used all its time still has a short answer read.
M.MIN_POST_MS = 1000
---The longest final message kept (output.md, markers, summary): its last bytes when longer; the
---whole output stays in agent.jsonl or stdout.log.
M.MAX_FINAL = 8 * 1024 * 1024
M.MAX_AGENT_EVENTS = 200000 -- agent events written to events.jsonl per run (about 20 MB)

---A random (version 4) UUID, e.g. for a claude session id.
M.uuid = ids.uuid

---Shows an argv for people (model.md, events): words with spaces or quotes are quoted.
function M.shown(argv)
  local out = {}
  for i, a in ipairs(argv) do
    out[i] = a:find("[%s'\"$`\\]") and ("'" .. a:gsub("'", "'\\''") .. "'") or a
  end
  return table.concat(out, " ")
end

M.continuation = agent_session.continuation

-- The runner's spec. A standalone call (no `store`: a script, the REPL) knows the project's
-- runners as `sidecar run` does (runners.from_config), and the runner's settings there fill in
-- execute's copy of the options; a caller with a store has read the config.
local function find_runner(o, repo)
  local spec = runners.get(o.runner)
  if spec and o.store then
    return spec
  end
  local entry, code
  spec, entry, code = runners.from_config(o.runner, o.root or (repo .. "/.agent"))
  for _, key in ipairs(spec and { "program", "args", "env", "command" } or {}) do
    o[key] = o[key] == nil and entry[key] or o[key]
  end
  return spec, entry, code
end

-- The runner, its sandbox, whether the run is ephemeral, the repository and the OS sandbox's
-- settings ({spec, sandbox, ephemeral, repo, isolation, max_agents, runner_cap}), with the defaults filled in o (execute's copy of the
-- options: M.DEFAULTS, the runner's config settings); nil, message, code when the run
-- cannot be made (nothing is recorded then).
local function resolve(o)
  local repo = o.repo or default_repo.get()
  local spec, why, code = find_runner(o, repo)
  if not spec then
    return nil, why, code
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
  -- The config of the run's store, read once, for what a caller that read it gives: its isolation
  -- and caps. A caller with a store and the isolation has read it (runs.agent_options): a cap it
  -- leaves out is not set there.
  local read = o.store ~= nil and o.isolation ~= nil
  local cfg = not read and (o.isolation == nil or o.max_agents == nil or o.max_agents_per_runner == nil)
    and require("sidecar.core.config").load(o.root or (o.store and o.store.root) or (repo .. "/.agent")) or nil
  local isolation
  isolation, why, code = run_sandbox.settings(o, cfg) -- the OS sandbox: bwrap found, settings valid
  if not isolation then
    return nil, why, code
  end
  local max_agents, cap_source
  max_agents, why, cap_source = agent_slots.cap(o.max_agents or (cfg and cfg.max_agents))
  if not max_agents then
    return nil, why, "bad_option"
  end
  local per_runner = o.max_agents_per_runner or (cfg and cfg.max_agents_per_runner) or {}
  if type(per_runner) ~= "table" then
    return nil, ("max_agents_per_runner: expected a table of runner names and numbers ({ claude = 3 }), got %s")
      :format(type(per_runner)), "bad_option"
  end
  for name, n in pairs(per_runner) do
    why = why or agent_slots.bad_cap(n, "max_agents_per_runner." .. tostring(name))
  end
  why = why or runners.uncapped_names(per_runner, not o.max_agents_per_runner and cfg and cfg.path or nil,
    cfg and cfg.runners)
  if why then
    return nil, why, "bad_option"
  end
  return { spec = spec, sandbox = sandbox, ephemeral = ephemeral, repo = repo, isolation = isolation,
    max_agents = max_agents, cap_source = cap_source, runner_cap = per_runner[spec.name] }
end

-- The record a run starts with, owned by this process (a run whose owner dies is noticed,
-- stdlib/sidecar/run/reconcile.lua).
local function new_record(o, run)
  local record = { task_id = o.task_id, runner_type = run.spec.name, dialect = run.spec.dialect or false,
    agent_role = o.agent_role, model = o.model,
    sandbox = run.sandbox, status = "running", started_at = store.now(), repo = run.repo, review_state = "pending",
    ephemeral = run.ephemeral, resumed_session = o.resume and o.resume.session_id,
    resumed_run = o.resume and o.resume.run_id, budget_group = (o.budget and o.budget.group or {}).id }
  for k, v in pairs(o.record or {}) do
    record[k] = v
  end
  return run_owner.stamp(record)
end

-- The runner's argv for this run and how it takes the prompt ({prompt = "file"} or {}); sets the
-- record's command and session. A runner whose command() raises (its own bug) leaves the run
-- failed before the error goes on up.
local function build_command(o, run, record, run_dir)
  local spec, resumed = run.spec, o.resume and o.resume.session_id
  local session_id = o.session_id
  if spec.names_session and not session_id and not resumed and not run.ephemeral then
    session_id = ids.uuid() -- known before the start, so the record names the session even if it fails
  end
  local ctx = { prompt = o.prompt, prompt_file = run_dir .. "/prompt.md", repo = run.repo, run_dir = run_dir,
    model = o.model, sandbox = run.sandbox, session_id = session_id, resume_session_id = resumed,
    ephemeral = run.ephemeral, args = o.args, program = o.program, command = o.command,
    os_sandbox = run.isolation and run.isolation.sandbox ~= "off" }
  local built, argv, how = pcall(spec.command, ctx)
  if not built then
    record.status = "failed"
    record.failure_reason = ("runner '%s' could not build its command: %s"):format(spec.name, tostring(argv))
    run_record.finish(run.store, record, { { "prompt.md", o.prompt } })
    error(argv, 0)
  end
  record.command = M.shown(argv)
  record.session_id = session_id or resumed
  return argv, how or {}
end

-- With gates, before the agent starts and once its sandbox `sb` is planned: what lies outside the
-- run's place, compared after it (the outside_changes gate; stdlib/sidecar/run/outside.lua). What
-- the sandbox keeps as it is cannot change, and is not read.
local function watch_outside(o, run, record, sb)
  if not o.gates then
    return nil
  end
  local wt = type(record.worktree) == "table" and not record.worktree.in_place and record.worktree or nil
  local allowed = { table.unpack(type(run.isolation) == "table" and run.isolation.write or {}) }
  for _, v in pairs(o.env or {}) do
    allowed[#allowed + 1] = type(v) == "string" and v:sub(1, 1) == "/" and v or nil
  end
  local folders = {}
  return require("sidecar.run.outside").snapshot({ repo = run.repo, store_root = run.store.root,
    home = os.getenv("HOME"), main = wt and wt.repo or nil, allowed = allowed,
    kept = sb and function(path) return run_sandbox.keeps_path(sb, path, folders) end or nil })
end

-- Before the agent starts, once its sandbox `sb` is planned: what its changes to the work tree
-- will be measured against. A run in its own worktree knows the tree it was made from (o.before):
-- no second read of it. A tree the sandbox keeps as it is (a read-only run under bubblewrap) is
-- not read: the third value says so (record.tree_kept). Sidecar's own folder, when it is inside
-- the repository, is not the agent's change. Returns before, snapshot_why, kept.
local function tree_before(o, run, sb)
  if o.before then
    return o.before, nil, nil
  end
  local root, repo = run.store.root, run.repo
  if run_sandbox.keeps_tree(sb, repo, root, run.top) then -- run.top: found by run_sandbox.open, for run.repo
    return nil, nil, "bwrap"
  end
  local own = root:sub(1, #repo + 1) == repo .. "/" and root:sub(#repo + 2) or nil
  return worktree.snapshot(repo, own and { own } or nil)
end

-- An agent that could not start: the run failed, saying why (and how to install its CLI).
local function spawn_failed(record, spec, err)
  local install = spec.install and not err.sandbox and (" (install it: " .. spec.install .. ")") or ""
  record.status, record.failure_reason = "failed", tostring(err.message or err) .. install
  return { code = nil, ok = false, error = tostring(err.message or err), spawn_failed = true }
end

-- The event parser of a runner with a dialect (nil without one). Each event goes to on_event and
-- to events.jsonl, which is bounded like the raw logs: past MAX_AGENT_EVENTS a flood of tiny
-- events stops being written there (the parser and the result still see every one); `counts`
-- keeps how many were kept and dropped.
local function event_parser(spec, t, o, counts)
  return spec.dialect and agent_events.parser(require("sidecar.agent." .. spec.dialect), {
    on_event = function(kind, fields)
      if counts.kept < M.MAX_AGENT_EVENTS then
        counts.kept = counts.kept + 1
        t:event("agent." .. kind, fields)
      else
        counts.dropped = counts.dropped + 1
      end
      if o.budget then
        o.budget:observe(kind, fields) -- a crossed budget stops the agent (agent_watch.wait)
      end
      if o.on_event then
        o.on_event(kind, fields)
      end
    end,
  })
end

-- The agent's environment additions: the runner's, then the caller's.
local function agent_env(spec, o)
  local env = {}
  for k, v in pairs(spec.env or {}) do
    env[k] = v
  end
  for k, v in pairs(o.env or {}) do
    env[k] = v
  end
  return env
end

-- A slot among the machine's agents (stdlib/sidecar/run/agent_slots.lua), waited for in turn with
-- an event saying so; record.agent_slot says which, of how many, after how long. Where the slots
-- cannot be had (no state folder, a slots' folder or file that cannot be used) the run goes on
-- without the cap: its event (a progress line) and its record say why.
local function take_slot(o, run, record, t)
  local slot, why = agent_slots.acquire_for(run.spec.name, { cap = run.max_agents, runner_cap = run.runner_cap,
    run_id = record.run_id, on_wait = function(running, cap, runner, unusable)
      t:event("agent_slot.waiting", { running = running, cap = cap, runner = runner, unusable = unusable,
        source = not runner and run.cap_source or nil })
    end })
  if not slot then
    t:event("agent_slot.none", { why = why })
    record.agent_slot = { cap = run.max_agents, source = run.cap_source, none = why }
    return nil
  end
  if slot.runner_none then
    t:event("agent_slot.none", { why = slot.runner_none, runner = run.spec.name })
  end
  local runner_waited = slot.runner and slot.runner.waited_ms or 0
  record.agent_slot = { number = slot.number, cap = run.max_agents, source = run.cap_source,
    waited_ms = slot.waited_ms + runner_waited,
    runner = run.runner_cap and { name = run.spec.name, number = slot.runner and slot.runner.number,
      cap = run.runner_cap, waited_ms = slot.runner and runner_waited, none = slot.runner_none } or nil }
  return slot
end

-- Starts the agent (agent_watch.spawn). A command that reads the prompt from its file needs the
-- file first; otherwise the copy and prompt.md are written once the agent has started: at once in a
-- process of its own; in a preset's pool, once the pool has started the agents it can
-- (coop.give_way, then agent_watch.wait's after_start: a fan-out's agents start sooner, its copies
-- follow; a pool killed first leaves prompt.md, and the copy owed, which the next store open writes).
-- The owner records its process group (agent_process.json, for whoever must end it) and the
-- caller learns it (on_spawn) before anything else can fail. Returns started, the handle or error,
-- the watch.
local function start_agent(o, run, record, owner, a)
  local function write_copy()
    assert(run.store:write_copy("run", record.run_id, record, { { "prompt.md", o.prompt } }))
  end
  local max_log = assert(log_caps.resolve(o.max_log_bytes))
  local terminal = o.pty and require("sidecar.agent.terminal").open(o, { store = run.store, record = record, -- pty
    run_dir = a.run_dir, t = a.t, parser = a.parser, max_log = max_log, spec = run.spec, argv = a.argv,
    how = a.how }) or nil
  if a.how.prompt == "file" then
    write_copy()
  end
  if a.sandbox_failed then -- its OS sandbox could not be opened: no agent starts
    return false, { message = a.sandbox_failed, sandbox = true }, nil
  end
  -- An ACP agent is spoken to on its stdin (sidecar.agent.acp_run): the prompt is a message there.
  local usage_of = run.spec.session_usage and function(id) return run.spec.session_usage(a.run_dir, a.env, id) end
  local acp = a.how.prompt == "acp" and acp_run.attach(a.parser, { prompt = o.prompt, cwd = run.repo,
    sandbox = run.sandbox, resume_session_id = o.resume and o.resume.session_id, usage_of = usage_of })
  local stdin = acp and true or (a.how.prompt ~= "file" and o.prompt or nil)
  local started, h, watch = agent_watch.spawn(a.argv, {
    cwd = run.repo, env = a.env, stdin = stdin, run_dir = a.run_dir,
    parser = a.parser, max_log = max_log, terminal = terminal, timeout_ms = o.timeout_ms,
    idle_timeout_ms = o.idle_timeout_ms, kill_grace_ms = o.kill_grace_ms, name = run.spec.name,
    stop_now = o.budget and function() return o.budget:stop_now() end,
    stuck = require("sidecar.run.stuck").watcher(run.store, record, o), -- silence flagged, not killed
    sandbox = a.sandbox, owner = owner, -- its cgroup armed around the spawn alone
  })
  if started and acp then
    acp(h)
  end
  owner:spawned(started and h:pid() or nil)
  if started and o.on_spawn then
    o.on_spawn(h:pid())
  end
  local later = a.how.prompt ~= "file" and started and coop.task() ~= nil -- in a preset's pool
  if later then
    -- prompt.md now, whole should the pool be killed (renamed into place, not yet synced), and the
    -- copy, prompt.md synced with it, once the pool has started its agents
    assert(a.dir:write("prompt.md", o.prompt, "atomic"))
    watch.after_start = write_copy
  end
  coop.give_way()
  if a.how.prompt ~= "file" and not later then
    write_copy()
  end
  return started, h, watch
end

-- The error an interruption raises on, once the run is recorded: the interruption's own (what a
-- Ctrl-C stopped: "interrupted! stopped 1 child process"), without where Lua was, and the run it
-- ended ("; run R-0001 recorded interrupted"). Another error goes on as it is.
local function interruption_said(err, record)
  if not errors.is_interrupt(err) then
    return err
  end
  local what = err:match("interrupted!.*$"):gsub("\n.*$", "")
  return ("%s%srun %s recorded %s"):format(what, what == "interrupted!" and " " or "; ", record.run_id, record.status)
end

-- Saves the run's end with its files, and the run has finished; or, for a run the caller owns
-- (o.owner) and finishes itself (its worktree's result, validation: stdlib/sidecar/task/finish.lua),
-- writes nothing and returns the files, which the owner stores with the outcome
-- (run_record.hold). An interrupted run ends here either way.
local function save_end(s, o, t, record, files, interruption)
  if o.owner and not interruption then
    return files
  end
  if o.reported and record.sandbox == "read-only" and record.status == "review" and record.review_state == "pending" then
    record.review_state = "reported" -- in the end's one write: the caller writes the record no more
  end
  t:event("run.finished", { status = record.status, reason = record.failure_reason })
  assert(run_record.finish(s, record, files))
end

-- Runs the agent of one run in the open store `s` (execute's path, whoever opened the store): its
-- start recorded (run_start), the agent under its watchdog and sandbox, its end read and saved, or
-- returned to the owner that finishes the run (save_end).
local function run_agent(s, o, run)
  run.store = s
  local spec = run.spec
  local started, message, code = run_start.start(s, o, new_record(o, run))
  if not started then
    return nil, message, code
  end
  local record, dir = started.record, started.dir
  local id = record.run_id
  record.created_at = record.created_at or record.started_at
  local owned <close> = started.own
  local owner = o.owner or owned
  local run_dir = dir:root()
  record.process_mark = owner.mark
  record.prompt_path = "runs/" .. id .. "/prompt.md" -- relative to the store's folder
  record.trace = otel.run_context(s.root, record) -- its span's ids, when runs are traced (sidecar.run.otel)
  o.args = otel.agent_args(s.root, spec, record.trace, o.args)

  -- HEAD, branches and tags before the agent starts (stdlib/sidecar/run/git_refs.lua)
  local refs = git_refs.watch(run.repo, { run_id = id, push_log = run_dir .. "/push_attempts.log" })
  local t <close> = assert(telemetry.open(dir, { run_id = id }))
  local argv, how = build_command(o, run, record, run_dir)
  t:event("run.started", { runner = spec.name, command = record.command, sandbox = run.sandbox, model = o.model })
  local events = { kept = 0, dropped = 0 }
  local parser = event_parser(spec, t, o, events)
  if o.budget and parser then
    o.budget:share(s, function(figures) -- what it spent so far, for the budgets of the runs beside it
      record.usage, record.cost_usd = { total = figures.tokens }, figures.usd
      run_record.save(s, record) -- refused once the run was ended from outside (run kill): nothing to add
    end)
  end
  local env = agent_env(spec, o)
  refs:block_push(env) -- no push leaves a run: git's config in the agent's environment refuses it
  require("sidecar.agent.hooks").run_env(env, { run_id = id, run_dir = run_dir, repo = run.repo, task = o.task })
  owner:prepare(env) -- the run's mark, inherited by every process of the agent
  local collectors = otel.agent_env(s.root, spec, record.trace, env) -- TRACEPARENT; where the agent may export
  local slot <close> = take_slot(o, run, record, t) -- one of the machine's agents: waited for in turn
  -- the cgroup holds what it can of the sandbox's limits
  local sb <close>, sandbox_why = run_sandbox.open(run.isolation, { run = run, record = record, run_dir = run_dir,
    argv = argv, env = env, cgroup = owner.cgroup, t = t, kill_grace_ms = o.kill_grace_ms, hosts = collectors })
  local before, snapshot_why, kept = tree_before(o, run, sb)
  refs.outside = watch_outside(o, run, record, sb)

  local span = t:span("agent")
  local spawned_ns = clock.monotonic_ns()
  local started, h, watch = start_agent(o, run, record, owner, { argv = sb and sb.argv or argv, how = how, env = env,
    parser = parser, run_dir = run_dir, dir = dir, t = t, sandbox = sb,
    sandbox_failed = sandbox_why and ("the OS sandbox could not be opened: " .. sandbox_why) })
  local r, killed_after_result, interruption
  if started then
    r, killed_after_result, interruption = agent_watch.wait(h, watch, o.exit_deadline_ms)
    require("sidecar.run.stuck").settle(record) -- attention ends with the agent (kept in history)
  else
    r = spawn_failed(record, spec, h)
  end
  -- Whatever of the agent outlived it (a grandchild that called setsid(), say) is ended now,
  -- before its changes are read, and recorded below; at once when the agent was stopped.
  local stopped = r.interrupted or r.timed_out or killed_after_result or r.stopped
  -- bubblewrap's namespace ended with its first process when nothing stopped it: all of it ended.
  local contained = sb ~= nil and sb.kind == "bwrap" and not stopped and r.signal_name == nil
  local escapees = started and owner:sweep(o.kill_grace_ms, stopped and 0 or nil, contained) or {}
  local sandbox_report = run_sandbox.finish(sb, r, record, escapees, run_dir) -- the agent's own exit, its escapees
  span:finish({ exit_code = r.code, signal = r.signal_name, timed_out = r.timed_out })

  local final, tsum = run_result.read(record, {
    o = o, run = run, run_dir = run_dir, parser = parser, r = r, killed_after_result = killed_after_result,
    refs = refs, before = before, snapshot_why = snapshot_why, kept = kept, t = t, events = events, escapees = escapees,
    -- Post-processing that grows with the agent's output is bounded by the run's deadline.
    deadline_ns = math.max(spawned_ns + o.timeout_ms * 1000000, clock.monotonic_ns() + M.MIN_POST_MS * 1000000),
    max_final = M.MAX_FINAL, max_events = M.MAX_AGENT_EVENTS,
  })
  run_sandbox.record(sb, sandbox_report, record)
  if o.budget then
    o.budget:apply(record, r.stopped) -- budget_exceeded, with the figures
  end
  local owed = save_end(s, o, t, record, run_result.files(o, record, run, run_dir, tsum, final), interruption)
  if interruption then
    error(interruption_said(interruption, record), 0)
  end
  if owed then
    return record, owed
  end
  record.output = final -- after it was stored: output.md holds it, the record does not
  return record
end

---The options of agent_run.execute, each declared here once: stdlib/sidecar/agent/run_options.lua
---checks them, and an option not named here is a `bad_option` error that lists these. Execute reads
---them and never writes the caller's table (the defaults and the runner's config go in its copy).
---@class sidecar.AgentRunOptions
---@field runner string  required: codex, claude, command, one registered with runners.register, or one of .agent/config.lua's `runners`
---@field prompt string  required, non-empty: on the agent's stdin, or in prompt.md for a command naming {prompt_file}
---@field repo? string  the repository the agent works in (default ".", or an embedding Host's root: sidecar.core.default_repo)
---@field root? string  the store's folder (default the repository's .agent)
---@field store? table  an open store (left open); a caller with a store has read the config
---@field run_id? string  a run already in the store (queued by a background start or a preset, or preparing) to record this run in instead of a new one
---@field task_id? string  the task the run is of
---@field agent_role? string  recorded with the run
---@field model? string  the model asked of the CLI (default: its own)
---@field record? table  extra fields for the run record
---@field sandbox? string  the CLI's sandbox: read-only, workspace-write, or danger-full-access (only with allow_full_auto)
---@field allow_full_auto? boolean  lets sandbox danger-full-access run
---@field os_sandbox? "auto"|"bwrap"|"landlock"|"off"  the agent's OS sandbox (stdlib/sidecar/run/sandbox.lua), over `isolation`'s
---@field network? "model"|"none"|"full"|"host"  what the OS sandbox lets the agent reach, over `isolation`'s and runner_entry's
---@field isolation? table  the config's `isolation` section (read from the store's config when nil)
---@field runner_entry? table  the runner's config entry (its `network`), given with `isolation`
---@field program? string[]  an argv prefix replacing the CLI's name
---@field args? string[]  extra argv
---@field command? string[]  the command runner's argv
---@field env? table<string, string>  added to the agent's environment
---@field ephemeral? boolean  default true (the CLI keeps no session), false when resuming
---@field session_id? string  a new session's id; claude gets a fresh one when ephemeral is false
---@field resume? table  {session_id, usage?, cost_usd?, run_id?}: the session this run continues (above)
---@field timeout_ms? integer  the wall clock (default 30 min)
---@field idle_timeout_ms? integer  no output for that long ends the agent (default 5 min)
---@field exit_deadline_ms? integer  the CLI must exit that soon after its final result event (default 10 s)
---@field kill_grace_ms? integer  from SIGTERM to SIGKILL when the agent is ended (default 2 s)
---@field max_log_bytes? integer|string|false  each raw log's bound (stdlib/sidecar/core/log_caps.lua): a size, or false for none (default 64 MiB)
---@field max_agents? integer  agents at once on this machine, over every Sidecar process (stdlib/sidecar/run/agent_slots.lua; default: the config's max_agents, else the machine's; SIDECAR_MAX_AGENTS over both)
---@field max_agents_per_runner? table<string, integer>  agents of one runner at once on this machine, by runner name, within max_agents (default: the config's)
---@field stuck_after_ms? integer  an agent silent that long is flagged on its record, not stopped (stdlib/sidecar/run/stuck.lua)
---@field on_attention? fun(record: table)  called when the run is flagged (stuck, or waiting for input on its terminal)
---@field pty? boolean|{cols: integer, rows: integer}  the agent on a pseudo-terminal (stdlib/sidecar/agent/terminal.lua)
---@field prompt_patterns? string[]  with pty: the screen lines that are prompts waiting for an answer
---@field answers? table[]  with pty: answers to known prompts, {pattern, send or key, enter?}
---@field on_stuck? string  with pty: "poke" sends Enter once to a stuck or waiting run
---@field on_event? fun(kind: string, fields: table)  each parsed event, as it arrives
---@field on_spawn? fun(pid: integer)  the agent's pid, which is also its process group, right after it starts
---@field before? table  the tree the run's worktree was made from ({head, tree, left_out}: stdlib/sidecar/run/worktree.lua), not read again
---@field gates? table  a policy (config's `gates`): the run's git facts and changed files are weighed by stdlib/sidecar/run/gates.lua, and a "block" finding blocks the run
---@field task? table  the task packet the gates read (files_to_avoid, scope)
---@field owner? table  a run_owner guard the caller opened for the run: it then also finishes the run; its end is not written here but returned with its files, for the owner to hold (run_record.hold) and finish
---@field budget? table|false  a sidecar.agent.budget meter: the agent is stopped once it crosses it, the run `budget_exceeded`
---@field budget_tokens? integer  what this run may spend in tokens (as --budget-tokens), the config's `budgets` with it; instead of `budget`
---@field budget_usd? number  what this run may spend in US dollars (as --budget-usd), the config's `budgets` with it; instead of `budget`
---@field budget_allow_unknown? boolean  with budget_tokens or budget_usd: a runner that reports no such figure may run (as --budget-allow-unknown)
---@field reported? boolean  the caller reads and reports the run's answer (a preset's step): a read-only run that ends in review waits for no decision of its own, and is recorded so at its end (review_state "reported")

-- run_agent under execute's own budget when budget_tokens or budget_usd is given: those limits and
-- the config's `budgets` (agent_budget.from_options), checked before anything is recorded (nil,
-- why, "budget_refused" when the run may not start), then a meter that stops the agent.
local function budgeted(s, o, run)
  if o.budget_tokens ~= nil or o.budget_usd ~= nil then
    local cfg = require("sidecar.core.config").load(run.repo .. "/.agent") or {}
    local b = assert(agent_budget.from_options(cfg.budgets, o)) -- the values were checked (run_options)
    local meter, why = agent_budget.before_run(s, b, { task_id = o.task_id, spec = run.spec, resume = o.resume })
    if not meter then
      return nil, why, "budget_refused"
    end
    o.budget = meter
  end
  return run_agent(s, o, run)
end

---Runs an agent and records it, with the options `o` (sidecar.AgentRunOptions, above). Without `store` (a
---script, the REPL), the runner's config.lua settings (program, args, env, command) apply where the options give
---none. Returns the run record: run_id, status,
---output (the whole final answer, as in output.md; nil when none, absent with `owner`), summary (its first line),
---failure_reason, usage, cost_usd, changed_files, session_id, command... (with `owner`, the agent's outcome, not yet
---written, and the files of its end ({name, text}...) as a second value); or nil, message, code ("unknown_runner",
---"bad_sandbox", "no_sandbox" (bwrap missing: the message says what to do), "cannot_resume", "bad_config", "budget_refused" (budget_tokens or budget_usd, or the config's budgets with them, leave nothing for it), the store's for a run_id, "bad_state" for a run_id of a run that runs
---or ended: it is left as it was) when the run cannot be made: nothing
---is recorded then; when its folder cannot be made (ESYMLINK: a symbolic link planted there) or its lock cannot be
---taken (the lock's code), the run is recorded `failed` with that reason and no agent starts ("busy": another
---process runs it, and it is left to that one). Raises a `bad_option` error on an unknown option or a bad type,
---and after recording an interrupted run.
---@param o sidecar.AgentRunOptions  read, never written
---@return table|nil record, string? message, string? code
function M.execute(o)
  o = run_options.check(o) -- execute's own copy: whatever is filled in below never reaches the caller
  git.preload(o.repo or default_repo.get()) -- libgit2 loads while the store is opened
  local run, message, code = resolve(o)
  if not run then
    return nil, message, code
  end
  if o.store then
    return budgeted(o.store, o, run)
  end
  -- A script's or the REPL's run: the store of the repository's .agent, opened for this run.
  local s <close>, why, failed = store.open(o.root or (run.repo .. "/.agent"), { create = true })
  if not s then
    return nil, why, failed
  end
  return budgeted(s, o, run)
end

return M
