--- Running tasks: one run of a task on a runner (compile the prompt, run the agent, validate,
--- review), pipelines of runners, replays, and the settings a run takes from the config.
---
---   local s <close>, cfg = assert(runs.open(".agent"))
---   local result = assert(runs.run_task(s, cfg, "T-0001", {runner = "codex,claude"}))
---   result.steps[1].status   -- review | completed | blocked | failed | outcome_unknown | ...
---
--- What decides a run's settings, first found wins: the command line, the task
--- (tracking.assigned_runner, tracking.assigned_agent_role), the config (`.agent/config.lua`).
local agent_budget = require("sidecar.agent.budget")
local agent_run = require("sidecar.agent.run")
local config = require("sidecar.core.config")
local duration = require("sidecar.core.duration")
local effort = require("sidecar.agent.effort")
local json = require("sidecar.core.json")
local notify = require("sidecar.run.notify")
local notify_settings = require("sidecar.core.notify_settings")
local otel = require("sidecar.run.otel")
local run_finish = require("sidecar.task.finish")
local run_record = require("sidecar.run.record")
local run_worktree = require("sidecar.run.worktree")
local worktree_result = require("sidecar.run.worktree_result")
local worktree_setup = require("sidecar.task.worktree_setup")
local run_owner = require("sidecar.run.owner")
local reactions = require("sidecar.task.reactions")
local runners = require("sidecar.agent.runners")
local sandbox = require("sidecar.run.sandbox")
local store = require("sidecar.core.store")
local task_prompt = require("sidecar.task.prompt")
local validation = require("sidecar.task.validation")

local M = {}

local LOG_TAIL_BYTES = 4096
---The statuses of a run that did its work: a pipeline goes on after one (with stop_on_failure), and
---a command that ran it exits 0.
M.GOOD = { review = true, completed = true, dry_run = true }
local GOOD = M.GOOD

-- Progress goes to the caller's `on_progress(line)` (the command line prints it on stderr); a
-- library never prints.
local function progress(st, fmt, ...)
  if st.on_progress then
    st.on_progress(fmt:format(...))
  end
end

---The store and config of an `.agent` folder. Returns s, cfg or nil, message, code.
function M.open(root, opts)
  local s, message, code = store.open(root, opts)
  if not s then
    return nil, message, code
  end
  local cfg
  cfg, message, code = config.load(root)
  if not cfg then
    s:close()
    return nil, message, code
  end
  runners.register_config(cfg)
  return s, cfg
end

---The repository a store belongs to: the folder holding `.agent`.
function M.repo_of(s)
  return s.root:match("^(.*)/[^/]+$") or "."
end

---The runner names of a --runner value ("codex,claude"), or nil and why.
function M.runner_list(text)
  local names = {}
  for name in (text .. ","):gmatch("([^,]*),") do
    name = name:match("^%s*(.-)%s*$")
    if name == "" then
      return nil, ("--runner '%s': an empty runner name (write codex,claude)"):format(text)
    end
    local ok, why = runners.get(name)
    if not ok then
      return nil, why
    end
    names[#names + 1] = name
  end
  return names
end

-- A duration option (text) in ms, or the default; nil, message when it is not a duration.
local function ms_option(name, text, default)
  if text == nil then
    return default
  end
  local ms, why = duration.parse(text)
  if not ms then
    return nil, ("--%s: %s"):format(name, why)
  end
  return ms
end

---Resolves a run's settings from the options, the task and the config. Returns the settings
---{runners = {...}, agent_role, model, sandbox, timeout_ms, idle_timeout_ms, ...} or nil, message
---(a usage error).
function M.settings(cfg, task, o)
  local tracking = type(task.tracking) == "table" and task.tracking or {}
  local st = { agent_role = o.agent_role or tracking.assigned_agent_role, model = o.model or cfg.model,
    allow_full_auto = o.allow_full_auto, dry_run = o.dry_run, on_progress = o.on_progress }
  local why
  st.runners, why = M.runner_list(o.runner or tracking.assigned_runner or cfg.runner)
  if not st.runners then
    return nil, config.untrusted_hint(cfg, why)
  end
  for _, name in ipairs(st.runners) do
    if name == "command" and not (cfg.runners.command and cfg.runners.command.command) then
      return nil, config.untrusted_hint(cfg, "the command runner runs the argv set in .agent/config.lua: runners = "
          .. "{ command = { command = { \"my-agent\", \"--quiet\" } } } (the prompt comes on stdin, or in "
          .. "\"{prompt_file}\")")
    end
  end
  local _, bad_cap = require("sidecar.run.agent_slots").cap(cfg.max_agents) -- before any run is recorded
  bad_cap = bad_cap or runners.uncapped_names(cfg.max_agents_per_runner, cfg.path, cfg.runners)
  if bad_cap then
    return nil, bad_cap
  end
  -- Reasoning effort and web search (stdlib/sidecar/agent/effort.lua): asked on the command line,
  -- every runner must take them; from the config, the runners whose CLI has the setting do.
  local asked = o.effort ~= nil or o.search or o.no_search
  st.effort = o.effort or cfg.effort
  st.search = cfg.search
  if o.search or o.no_search then
    st.search = o.search == true
  end
  for _, name in ipairs(st.runners) do
    local ok, bad = effort.args(name, st.effort, st.search)
    if not ok and (asked or effort.applies(name)) then
      return nil, bad
    end
  end
  st.notify = o.notify -- a background run's notice when it ends (stdlib/sidecar/task/notices.lua)
  st.pty, st.on_stuck = o.pty or nil, o.on_stuck or rawget(cfg, "on_stuck") -- stdlib/sidecar/agent/terminal.lua
  if o.on_stuck ~= nil then
    local ok, bad = require("sidecar.core.terminal_settings").check_on_stuck("--on-stuck", o.on_stuck)
    if not ok or not o.pty then
      return nil, bad or "--on-stuck types Enter on the run's terminal: give --pty too"
    end
  end
  st.sandbox, why = runners.check_sandbox(o.sandbox or cfg.sandbox, o.allow_full_auto)
  if not st.sandbox then
    return nil, why
  end
  -- The OS sandbox (stdlib/sidecar/run/sandbox.lua): --os-sandbox and --network over the config's.
  st.os_sandbox, st.network = o.os_sandbox, o.network
  local checked, bad = require("sidecar.run.sandbox").settings(nil, nil, st)
  if not checked then
    return nil, (bad:gsub("^os sandbox", "--os-sandbox"):gsub("^network", "--network"))
  end
  st.timeout_ms, why = ms_option("timeout", o.timeout, cfg.timeout_ms)
  if not st.timeout_ms then
    return nil, why
  end
  st.idle_timeout_ms, why = ms_option("idle-timeout", o.idle_timeout, cfg.idle_timeout_ms)
  if not st.idle_timeout_ms then
    return nil, why
  end
  st.budget, why = agent_budget.from_options(cfg.budgets, o) -- false: no budget
  if st.budget == nil then
    return nil, why
  end
  return st
end

-- The tail of a run's final message (or its stderr): the "log tail" a next pipeline step sees.
local function log_tail(s, run)
  local dir = s:run_dir(run.run_id)
  local text = dir and (dir:read("output.md") or dir:read("stderr.log") or dir:read("stdout.log")) or ""
  if dir then
    dir:close()
  end
  return #text > LOG_TAIL_BYTES and text:sub(-LOG_TAIL_BYTES) or text
end

---What a later pipeline step is told about the run before it.
function M.previous_of(s, run)
  local sum = run.validation_summary or validation.summary(run.validation or {})
  return { run_id = run.run_id, runner = run.runner_type, agent_role = run.agent_role, status = run.status,
    validation = sum, changed_files = run.changed_files or {}, log = log_tail(s, run) }
end

-- The task's status after one of its runs ended (blockers added when it is blocked).
local function settle_task(s, task_id, run)
  local task = s:get_task(task_id)
  if not task then
    return
  end
  local status = ({ review = "review", completed = "done", blocked = "blocked", failed = "blocked",
    budget_exceeded = "blocked", outcome_unknown = "review", interrupted = "ready", dry_run = nil })[run.status]
  if not status then
    return
  end
  task.status = status
  task.result = { summary = run.summary, changed_files = run.changed_files or json.array({}),
    validation_results = run.validation or json.array({}) }
  if status == "blocked" then
    -- The run's blockers (review may have put them on the task already), or why it failed.
    task.blockers = type(task.blockers) == "table" and task.blockers or {}
    local known = {}
    for _, b in ipairs(task.blockers) do
      known[b] = true
    end
    local whys = (run.status == "failed" or run.status == "budget_exceeded") and { ("run %s failed: %s"):format(run.run_id, run.failure_reason or "?") }
        or (run.blockers and #run.blockers > 0 and run.blockers or { ("run %s is blocked"):format(run.run_id) })
    for _, why in ipairs(whys) do
      if not known[why] then
        task.blockers[#task.blockers + 1] = why
      end
    end
  end
  return assert(s:update_task(task))
end

---Sets a task's status (and result, blockers) from one of its ended runs, as a run's owner does
---when the run ends; run_reconcile calls it for a task whose owner died before doing so.
---Returns the task, or nil when the run's status says nothing about the task (dry_run).
M.settle_task = settle_task

-- A run recorded ahead (run_step) whose agent never started: ended with `status`, saying why.
local function fail_ahead(s, run_id, status, why)
  local run = run_id and s:get_run(run_id)
  if run and run.status == "preparing" then
    run.status, run.failure_reason = status, why
    run_record.finish(s, run) -- the store first: a copy that cannot be written (a planted link) leaves it ended
  end
end

-- A step whose agent could not be started: its worktree abandoned, its run ended `failed` with
-- the reason when it was still `preparing` (fail_ahead), its task as it was. Returns nil, message, code.
local function not_started(s, cfg, task, o, wt, message, code)
  worktree_result.abandon(s, o.run_id, wt, cfg, message)
  fail_ahead(s, o.run_id, "failed", message)
  s:set_task_status(task.task_id, task.status)
  return nil, message, code
end

---The agent_run options for one runner under the config (program, args, env from cfg.runners;
---max_log_bytes).
function M.agent_options(cfg, runner, st)
  local entry = cfg.runners[runner] or {}
  -- The runner's own args, then what effort and search ask of its CLI (checked by M.settings).
  local args = { table.unpack(entry.args or {}) }
  local more = effort.args(runner, st.effort, st.search) or {}
  table.move(more, 1, #more, #args + 1, args)
  return { runner = runner, program = entry.program, args = #args > 0 and args or nil, env = entry.env,
    command = entry.command,
    model = st.model, sandbox = st.sandbox, allow_full_auto = st.allow_full_auto,
    timeout_ms = st.timeout_ms, idle_timeout_ms = st.idle_timeout_ms, max_log_bytes = cfg.max_log_bytes,
    stuck_after_ms = cfg.stuck_after_ms, max_agents = cfg.max_agents,
    max_agents_per_runner = cfg.max_agents_per_runner, pty = st.pty, on_stuck = st.on_stuck, answers = rawget(cfg, "answers"),
    isolation = sandbox.isolation_of(cfg), runner_entry = entry, os_sandbox = st.os_sandbox, network = st.network,
    prompt_patterns = st.pty and require("sidecar.agent.prompts").patterns(runner, cfg) or nil }
end

---A task's prompt for a run with settings `st` (and a pipeline's previous step), and its budget
---as the run records it (passes, estimates, what was cut).
function M.compile(task, st, previous)
  local text, b = task_prompt.compile(task, { agent_role = st.agent_role, runner = st.runner, sandbox = st.sandbox,
    previous = previous })
  return text, { pass = b.pass, estimated_tokens = b.estimated_tokens, untrimmed_tokens = b.untrimmed_tokens,
    target = b.target, max = b.max, over_budget = b.over_budget, actions = json.array(b.actions) }
end

-- A dry run: the run recorded with its prompt, nothing started. Returns the run.
local function dry_run_step(s, st, fields, text, parent_run_id, link_kind)
  fields.runner_type, fields.model, fields.sandbox = st.runner, st.model, st.sandbox
  fields.status, fields.dry_run, fields.review_state = "dry_run", true, json.null
  local run, message, code = run_record.create(s, fields, { { "prompt.md", text } })
  if not run then
    return nil, message, code
  end
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  assert(run_record.save(s, run))
  if link_kind then
    s:link(parent_run_id, run.run_id, link_kind)
  end
  return run
end

-- The run recorded ahead of its start (status preparing), before its task says running: an owner
-- killed in between leaves a run that run_reconcile ends (and the task with it), never a running
-- task without a run. Returns its id, or nil, message, code.
local function record_ahead(s, st, fields)
  local ahead = { runner_type = st.runner, model = st.model, sandbox = st.sandbox, status = "preparing" }
  for k, v in pairs(fields) do
    ahead[k] = v
  end
  local run, message, code = run_record.create(s, ahead, nil, { copy_later = true })
  if not run then
    return nil, message, code
  end
  return run.run_id
end

-- The meter of a run of `runner` under st.budget (extra: budget_runs, the runs this command made
-- so far; resume), false without a budget, or nil and why it may not start, with the figures.
local function budget_meter(s, st, task, runner, extra)
  if not st.budget then
    return false
  end
  local meter, why = agent_budget.before_run(s, st.budget, { task_id = task.task_id, runs = extra.budget_runs,
    spec = runners.get(runner), resume = extra.resume })
  if not meter then
    return nil, ("task %s: %s not started: %s"):format(task.task_id, runner, why)
  end
  return meter
end

-- What a stuck agent's run does (stdlib/sidecar/run/stuck.lua): a progress line, and a notice when
-- the user asked for notices (--notify, or notify in the config).
local function on_attention(s, cfg, st)
  return function(rec)
    progress(st, "run %s: %s", rec.run_id, require("sidecar.run.stuck").text(rec) or "stuck")
    pcall(notify.attention, s, rec) -- the notification channels that want needs_input
    if st.notify ~= nil or notify_settings.command(cfg) ~= nil then
      local a = rec.attention -- stuck, or waiting_input (each prompt on the terminal told once)
      require("sidecar.task.notices").send(s, cfg, rec, a.state, a.evidence, st.notify,
        a.occurrence and (a.state .. "#" .. a.occurrence) or nil)
    end
  end
end

-- The record fields a step's run starts with (its task, role, effort, lineage, prompt budget).
local function step_fields(task, st, extra, text, budget)
  local applies = effort.applies(st.runner) -- a runner without the settings records neither
  return { task_id = task.task_id, agent_role = st.agent_role, effort = applies and st.effort or nil,
    search = (applies or nil) and st.search, parent_run_id = extra.parent_run_id,
    pipeline_id = extra.pipeline_id, pipeline_step = extra.pipeline_step, pipeline_total = extra.pipeline_total,
    replay_reason = extra.replay_reason, link_kind = extra.link_kind, answer = extra.answer,
    prompt_tokens = require("sidecar.prompt.compile").estimate(text), prompt_budget = budget }
end

---One run of a task on one runner. st: the settings (see M.settings) with `runner`; extra:
---record fields (parent_run_id, pipeline_id, pipeline_step, pipeline_total, replay_reason,
---link_kind: "answer" for a run answering its parent, answer: that answer), and
---`prompt` (a given prompt, used as it is) or `previous` (a pipeline's previous step), `resume`,
---`keep_session`, `run_id` (an existing queued run to execute, for background runs), `on_spawn(pid)`
---(agent_run's: the agent's pid, which is its process group, right after it started). This process
---owns the run until it is finished (agent, worktree result, validation: stdlib/sidecar/task/finish.lua).
---Returns the run record, or nil, message, code.
function M.run_step(s, cfg, task, st, extra)
  extra = extra or {}
  local text, budget = extra.prompt, nil
  if not text then
    text, budget = M.compile(task, st, extra.previous)
  end
  local fields = step_fields(task, st, extra, text, budget)
  local link_kind = extra.link_kind or (extra.pipeline_id and "pipeline") or (extra.parent_run_id and "replay") or nil
  if st.dry_run then
    return dry_run_step(s, st, fields, text, extra.parent_run_id, link_kind)
  end

  local o = M.agent_options(cfg, st.runner, st)
  local no_room
  o.budget, no_room = budget_meter(s, st, task, st.runner, extra) -- false: no budget; nil: it cannot cover the run
  if o.budget == nil then
    return nil, no_room, "budget_exceeded"
  end
  o.store, o.repo, o.prompt, o.task_id, o.agent_role, o.record = s, M.repo_of(s), text, task.task_id,
      st.agent_role, fields
  o.run_id, o.resume = extra.run_id, extra.resume
  o.on_spawn = extra.on_spawn -- the agent's pid (its process group), right after it started
  o.on_attention = on_attention(s, cfg, st)
  o.gates, o.task = cfg.gates, task -- weighed as the agent ends (stdlib/sidecar/run/gates.lua), before validation
  if extra.keep_session or extra.resume then
    o.ephemeral = false
  end
  run_owner.stamp(fields) -- every record of this run names its owner, this process
  -- A run that may write works in a worktree of its own (o.repo points into it).
  local wt, failed = run_worktree.enter(s, cfg, task, st, o, extra)
  if wt then
    failed = worktree_setup.run(s, cfg, wt, o) -- the project's setup command, in the run's OS sandbox
  end
  if failed then
    settle_task(s, task.task_id, failed)
    return failed
  end
  if not o.run_id then
    local message, code
    o.run_id, message, code = record_ahead(s, st, fields)
    if not o.run_id then
      return nil, message, code
    end
  end
  -- This process owns the run from here until it is finished (the agent, then validation): its
  -- lock, mark and orphans, and an error leaving it active is recorded (stdlib/sidecar/run/owner.lua).
  local owner <close>, message, code = run_owner.own(s, assert(s:get_run(o.run_id)))
  if not owner then
    return not_started(s, cfg, task, o, wt, message, code)
  end
  o.owner = owner
  s:set_task_status(task.task_id, "running")
  progress(st, "task %s: %s%s started", task.task_id, st.runner, st.agent_role and (" as " .. st.agent_role) or "")
  local ok, run, owed
  ok, run, owed, code = pcall(agent_run.execute, o)
  if not ok then -- interrupted (recorded by the owner guard): the task can be run again
    worktree_result.abandon(s, o.run_id, wt, cfg)
    fail_ahead(s, o.run_id, "interrupted", "interrupted before its agent started")
    s:set_task_status(task.task_id, "ready")
    error(run, 0)
  end
  if not run then
    return not_started(s, cfg, task, o, wt, owed, code)
  end
  -- The agent's outcome, stored while this process finishes the run: nobody decides, waits on or
  -- reads as final an outcome that is not, and a crash from here says validation did not complete.
  assert(run_record.hold(s, run, owed))
  if link_kind then
    s:link(extra.parent_run_id, run.run_id, link_kind)
  end
  progress(st, "run %s: agent ended %s%s", run.run_id, run.outcome or run.status,
    run.failure_reason and (": " .. run.failure_reason) or "")
  local finished, result = pcall(run_finish.finish, s, cfg, s:get_task(task.task_id) or task, run, wt,
    { repo = o.repo, owner = o.owner, on_progress = st.on_progress }) -- progress is the finish's, not the agent's
  if not finished then
    -- Stopped while finishing (run kill, Ctrl-C): the worktree's folder goes (its branch keeps the
    -- result), the task can run again; the owner guard records the run as it goes on up.
    pcall(worktree_result.release, s, s:get_run(run.run_id) or run, wt, cfg)
    s:set_task_status(task.task_id, "ready")
    error(result, 0)
  end
  run = result
  settle_task(s, task.task_id, run)
  return worktree_result.release(s, run, wt, cfg)
end

-- A pipeline's steps, one per runner (see M.run_task).
local function run_steps(s, cfg, task, st, extra)
  extra = extra or {}
  local steps, total = {}, #st.runners
  local pipeline_id, previous
  for i, runner in ipairs(st.runners) do
    local step_st = setmetatable({ runner = runner }, { __index = st })
    local step_extra = setmetatable({ budget_runs = steps }, { __index = extra })
    if total > 1 then
      step_extra.pipeline_id, step_extra.pipeline_step, step_extra.pipeline_total = pipeline_id, i, total
      if previous then
        step_extra.parent_run_id, step_extra.previous = previous.run_id, M.previous_of(s, previous)
      end
    end
    local run, message, code = M.run_step(s, cfg, task, step_st, step_extra)
    if not run and code == "budget_exceeded" and i > 1 then -- the budget cannot cover this step
      return { pipeline_id = pipeline_id, steps = steps, stopped_after = i - 1, budget = message }
    elseif not run then
      return nil, message, code
    end
    run = M.react(s, cfg, task, step_st, run)
    if total > 1 and i == 1 then
      pipeline_id = run.run_id -- the first step's id names the pipeline
      run.pipeline_id, run.pipeline_step, run.pipeline_total = pipeline_id, 1, total
      assert(run_record.save(s, run))
    end
    steps[i] = run
    previous = run
    if i < total and run.status == "budget_exceeded" then -- said with the next step's figures when it cannot start
      local _, why = budget_meter(s, st, task, st.runners[i + 1], { budget_runs = steps })
      return { pipeline_id = pipeline_id, steps = steps, stopped_after = i, budget = why or run.failure_reason }
    end
    if i < total and cfg.pipeline.stop_on_failure and not GOOD[run.status] then
      return { pipeline_id = pipeline_id, steps = steps, stopped_after = i }
    end
  end
  return { pipeline_id = pipeline_id, steps = steps }
end

-- The notification channels told of a pipeline's end, once for the whole: its last step's status,
-- or the budget's stop (stdlib/sidecar/run/notify.lua; its steps are not told one by one); and its
-- workflow span ended (stdlib/sidecar/run/otel.lua).
local function tell_pipeline(s, task, r, wf)
  local last = r.steps[#r.steps]
  if not (r.pipeline_id and last) then
    otel.workflow_ended(wf, { status = last and last.status or "failed", runs = r.steps, task_id = task.task_id })
    return
  end
  local status = r.budget and "budget_exceeded" or last.status
  pcall(notify.whole, s, { kind = "pipeline", name = r.pipeline_id .. " (" .. tostring(task.title) .. ")",
    id = r.pipeline_id, status = status, reason = r.budget or last.failure_reason, runs = r.steps,
    task_id = task.task_id })
  otel.workflow_ended(wf, { status = status, reason = r.budget or last.failure_reason, runs = r.steps,
    task_id = task.task_id })
end

---Runs a task: one step per runner in st.runners, each later step with the previous one's
---context, linked by parent_run_id and a shared pipeline_id. Returns {pipeline_id?, steps,
---stopped_after?, budget? (why a step was not started: the budget, with its figures)} or nil,
---message, code ("budget_exceeded" when the first step could not start).
function M.run_task(s, cfg, task, st, extra)
  -- A pipeline's runs nest under its span, when runs are traced.
  local wf <close> = #st.runners > 1 and not st.dry_run
    and otel.workflow(s.root, "pipeline", "pipeline " .. table.concat(st.runners, ",")) or nil
  local r, message, code = run_steps(s, cfg, task, st, extra)
  if r then
    tell_pipeline(s, task, r, wf)
  else
    otel.workflow_ended(wf, { status = "failed", reason = message, task_id = task.task_id })
  end
  return r, message, code
end

-- The text of a run's stored prompt.
---A file of a run's folder (`prompt.md`, `output.md`), or nil when it is missing.
function M.run_file(s, run, name)
  local dir = s:run_dir(run.run_id)
  local text = dir and dir:read(name)
  if dir then
    dir:close()
  end
  return text
end

---Runs the config's reactions on a finished run (stdlib/sidecar/task/reactions.lua). A fix run is a
---replay whose prompt is the first attempt's with the failing validation appended. Returns the last run.
function M.react(s, cfg, task, st, run)
  if st.dry_run or run.status == "dry_run" then
    return run
  end
  return reactions.react(s, cfg, run, {
    progress = function(fmt, ...) progress(st, fmt, ...) end,
    replay = function(parent, section, reason)
      local text = reactions.fix_prompt(M.run_file(s, parent, "prompt.md") or M.compile(task, st), section)
      return M.run_step(s, cfg, s:get_task(task.task_id) or task, st,
        { parent_run_id = parent.run_id, replay_reason = reason, prompt = text })
    end,
  })
end

return M
