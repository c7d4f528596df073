--- What a preset's `run(ctx, params)` works with: the repository, routing, agents (one, or
--- several side by side), git, and progress on stderr. Every agent call is a run in the store,
--- under one task per preset run, so `sidecar run list` and `run show` cover presets too.
---
---   local r = ctx:agent({ kind = "review", prompt = text, lens = "security" })
---   r.status, r.output, r.run_id, r.command     -- r.status "not_run" when the CLI is missing
---   local rs = ctx:agents({ {kind = "review", prompt = a}, {kind = "review", prompt = b} })
---
--- With --dry-run (or when the runner's CLI is not installed) no agent runs: the prompt is
--- recorded as a dry run and `r.command` says exactly what would have run. A step whose CLI is
--- not installed is work that did not run: it is listed in `ctx.missed`, and `sidecar preset run`
--- then exits 1 (not with --dry-run); a step the preset marks `optional = true` is listed in
--- `ctx.skipped` instead (r.skipped is true), and the preset may still succeed.
---
--- Outside `sidecar preset run` (a script of one's own), `preset_context.new{}` gives the same
--- ctx: `local ctx = preset_context.new({repo = "."})`, then ctx:agent / ctx:agents, ctx:close().
---
--- Many readers, one writer: a step whose sandbox is not read-only (kind "implement", or an
--- explicit `sandbox`) is a writer, and holds the work tree's writer lock while it runs
--- (stdlib/sidecar/core/writer_lock.lua), so two writers never overlap, whichever Sidecar process runs them.
--- A writer that finds the lock taken waits for it (bounded; progress on stderr) and, if it stays
--- taken, ends as status "failed" with a `why` naming the holder. Its run is recorded before it
--- starts, so the lock names the run. ctx:agents given two writers in one batch raises: writers
--- side by side on one work tree are a bug in the preset; run them one after another.
---
--- Where writers write: a preset run's first writer makes one worktree for the whole preset run,
--- and every later step runs there; the user's tree changes only with `sidecar run apply` of the
--- run ctx:close names (stdlib/sidecar/preset/worktree.lua). Every agent run's gates are weighed
--- (stdlib/sidecar/run/gates.lua: cfg.gates, the preset's task); a gate-blocked step has status "blocked"
--- and its blockers as `why`. The writer lock still keeps writers one at a time.
local agent_budget = require("sidecar.agent.budget")
local default_repo = require("sidecar.core.default_repo")
local errors = require("sidecar.core.errors")
local executor = require("sidecar.executor")
local files = require("sidecar.core.files")
local option_keys = require("sidecar.core.option_keys")
local preset_worktree = require("sidecar.preset.worktree")
local proc = require("sidecar.core.proc")
local route = require("sidecar.agent.route")
local run_processes = require("sidecar.run.processes")
local run_record = require("sidecar.run.record")
local runners = require("sidecar.agent.runners")
local step_not_run = require("sidecar.preset.step_not_run")
local runs = require("sidecar.task.runs")
local store = require("sidecar.core.store")
local writer_lock = require("sidecar.core.writer_lock")
local preset_budget = require("sidecar.preset.budget")
local worker_pool = require("sidecar.preset.worker_pool")

local M = {}

local Ctx = {}
Ctx.__index = Ctx
local writers_in, settle_batch -- below

-- The options of M.new, in the order its doc gives them.
local OPTIONS = { "repo", "preset", "params", "explicit", "dry_run", "runner", "model", "jobs", "worktree",
  "on_progress", "executor", "budget_tokens", "budget_usd", "budget_allow_unknown", "budget" }

-- What a script's own context (no preset given) is named after: the script's file ("script
-- review" for `sidecar script review.lua`), else "script".
local function script_preset()
  local path = type(arg) == "table" and type(arg[0]) == "string" and arg[0] or ""
  return { name = path:match("([^/]+)%.lua$") or "script", script = true }
end

-- The budget of a context: `budget` as given (`sidecar preset run` made it), else the config's
-- budgets with the budget_* options (agent_budget.from_options); false for none. A bad option raises.
local function budget_of(o, cfg)
  if o.budget ~= nil then
    return o.budget
  end
  local bad = agent_budget.check_options(o)
  if bad then
    errors.raise("bad_option", "preset_context.new: " .. bad, nil, 3)
  end
  return (agent_budget.from_options(cfg.budgets, o))
end

---A preset's context, or a script's own. The repository's .agent/config.lua is read (raises when
---it is wrong) and its runners registered; runs go to its store, under one task named after the
---preset.
---@param o {repo?: string, preset?: table, params?: table, explicit?: table, dry_run?: boolean, runner?: string, model?: string, jobs?: integer, worktree?: boolean, on_progress?: fun(line: string), executor?: string, budget_tokens?: integer, budget_usd?: number, budget_allow_unknown?: boolean}
---repo (default ".", or an embedding Host's root: sidecar.core.default_repo); preset (the
---definition; default: named after the script's file, its task titled "script NAME"); params;
---explicit (the set of parameters the user gave, the rest being defaults: ctx:given); dry_run
---(record each prompt, run nothing); runner and model (as --runner and --model: every step's,
---unless the preset names a runner); jobs (ctx:agents' agents at a time, default 4); worktree
---(true: writers work in the preset run's worktree, as `sidecar preset run` asks; else in place);
---on_progress (given each line of ctx:progress; `sidecar preset run` prints them on stderr; without
---it progress is not shown); executor ("slurm": read-only steps run as Slurm jobs,
---executor/slurm_preset.lua); budget_tokens, budget_usd, budget_allow_unknown (as `sidecar preset
---run --budget-tokens`, `--budget-usd`, `--budget-allow-unknown`: every agent step of the context
---shares them, and the config's `budgets` apply as to a preset; a step the budget cannot cover is
---not started: its result has status `not_started` and why, and ctx.budget_stops lists each such
---why). An option not in this list raises a bad_option error naming the known ones.
---@return table ctx
function M.new(o)
  if type(o) ~= "table" then
    errors.raise("bad_option", "preset_context.new: expected an options table", nil, 2)
  end
  option_keys.check("preset_context.new", o, OPTIONS, 2)
  local repo = o.repo or default_repo.get()
  local root = repo .. "/.agent"
  local cfg = assert(require("sidecar.core.config").load(root))
  runners.register_config(cfg)
  return setmetatable({ repo = repo, root = root, preset = o.preset or script_preset(),
    params = o.params or {}, dry_run = o.dry_run or false, cfg = cfg, overrides = { runner = o.runner, model = o.model },
    jobs = o.jobs or 4, runs = {}, reported = {}, missed = {}, skipped = {}, budget_stops = {},
    use_worktree = o.worktree == true,
    on_progress = o.on_progress, explicit = o.explicit or {}, budget = budget_of(o, cfg) or nil,
    executor = o.executor }, Ctx)
end

---Whether the user gave parameter `name` (`--param name=…`) rather than leaving it to its default.
---@param name string
---@return boolean
function Ctx:given(name)
  return self.explicit[name] == true
end

---A progress line ("<preset>: <text>") to the caller's on_progress; a library never prints.
function Ctx:progress(fmt, ...)
  if self.on_progress then
    self.on_progress(("%s: %s"):format(self.preset.name, fmt:format(...)))
  end
end

---The store, opened (and the preset run's task created) on first use.
function Ctx:store()
  if not self.s then
    self.s = assert(store.open(self.root, { create = true }))
    local title = (self.preset.script and "script " or "preset ") .. self.preset.name
    local pid, start = run_processes.preset_self() -- gone before its first step? (executor/reconcile.lua)
    self.task = assert(self.s:create_task({ title = title, type = "chore", status = "running",
      summary = self.preset.summary, tags = { "preset", self.preset.name }, preset = self.preset.name,
      preset_pid = pid, preset_start = start }))
  end
  return self.s
end

-- The preset's read-only steps that ended cleanly were read by the preset, whose report is what a
-- person reads: they wait for no decision of their own (review_state "reported"). A writer's run,
-- and a reader's that a gate blocked or whose outcome is unknown, still do. Most are recorded so by
-- their own end (agent run's `reported`); a reader judged after its batch, or run as a Slurm job,
-- is marked here.
local function mark_reported(self)
  for _, id in ipairs(self.runs) do
    local run = not self.reported[id] and self.s:get_run(id) -- one its end recorded so is not read again
    if run and run.sandbox == "read-only" and run.status == "review"
      and (run.review_state == nil or run.review_state == "pending") then
      run.review_state = "reported"
      run_record.save(self.s, run)
    end
  end
end

---Ends the preset run: its clean read-only steps reported, its worktree's folder gone. Returns
---what preset_worktree.close returns (the run that carries the change and the apply/discard
---commands), or nil.
function Ctx:close()
  local done
  if self.s then
    mark_reported(self)
    done = preset_worktree.close(self)
    self.task.status = "done"
    self.s:update_task(self.task)
    self.s:close()
    self.s = nil
  end
  return done
end

---Where work of `kind` goes: {runner, model, sandbox, tier, why} (stdlib/sidecar/agent/route.lua).
---`runner`, when given, is one the preset picks for this step (say one per reviewer); it runs its
---own default model unless it is also the --runner. Otherwise --runner, then config's `routes`,
---then config's `runner` decide.
---@param kind string
---@param risk? string
---@param sandbox? string
---@param runner? string
---@return table route  {runner, model, sandbox, tier, why}
function Ctx:route(kind, risk, sandbox, runner)
  local r = route.resolve(kind, { risk = risk, sandbox = sandbox, routes = self.cfg.routes,
    runner = self.overrides.runner, model = self.overrides.model, config_runner = self.cfg.runner,
    config_model = self.cfg.model })
  if runner and runner ~= r.runner then
    r.runner, r.model, r.why = runner, nil, r.why .. "; runner " .. runner .. " named by the preset"
  end
  return r
end

---nil when the runner of route `r` can run here, else why not (with how to install it).
---@param r table  a route (Ctx:route)
---@return string|nil why
function Ctx:missing(r)
  return step_not_run.missing(self, r)
end

local function read_output(root, run_id)
  return (files.read(root .. "/runs/" .. run_id .. "/output.md"))
end

-- What ctx:agent returns for a finished run (output: the answer, when the caller has it). A run
-- the budget stopped is a budget stop of the preset run as well (ctx.budget_stops).
local function finished(self, o, r, record, output)
  self.runs[#self.runs + 1] = record.run_id
  self.reported[record.run_id] = record.review_state == "reported" or nil -- as its end recorded it
  if record.status == "budget_exceeded" then
    self.budget_stops[#self.budget_stops + 1] = ("preset %s: the step on %s (%s) was stopped: %s"):format(
      self.preset.name, r.runner, record.run_id, record.failure_reason or "budget exceeded")
  end
  return { run_id = record.run_id, status = record.status, output = output or read_output(self.root, record.run_id),
    record = record, route = r, lens = o.lens, role = o.role, why = M.why(record) }
end

---Why a run did not simply finish: its failure, or for a blocked run its blockers.
function M.why(record)
  if record.failure_reason then
    return record.failure_reason
  end
  if record.status == "blocked" and type(record.blockers) == "table" and #record.blockers > 0 then
    return table.concat(record.blockers, "; ")
  end
end

-- What a step (ctx:agent's table, each of ctx:agents') may say.
local STEP = { "kind", "prompt", "risk", "sandbox", "runner", "role", "lens", "optional", "timeout_ms" }

-- The options of one agent run: a route, the prompt, the record fields.
local function plan(self, o)
  assert(type(o) == "table" and type(o.prompt) == "string", "ctx:agent: needs {kind =, prompt =}")
  option_keys.check("ctx:agent", o, STEP, 3)
  local r = self:route(o.kind or "scan", o.risk, o.sandbox, o.runner)
  local pid, start = run_processes.preset_self() -- the preset's process: is it gone? (run/notify.lua)
  return r, { runner = r.runner, model = r.model, effort = r.effort, search = r.search, sandbox = r.sandbox,
    timeout_ms = o.timeout_ms or self.cfg.timeout_ms,
    idle_timeout_ms = self.cfg.idle_timeout_ms, agent_role = o.role,
    record = { preset = self.preset.name, preset_pid = pid, preset_start = start, lens = o.lens,
      effort = r.effort, search = r.search, route = { kind = o.kind or "scan", tier = r.tier, why = r.why } } }
end

-- The writer lock ------------------------------------------------------------------------------

-- The executor's way of running a batch's readers (Slurm: one job array), or nil: here, as workers.
local function remote_readers(self)
  return assert(executor.of(self.executor)).submit_readers
end

local function is_writer(r)
  return r.sandbox ~= "read-only"
end

-- A run recorded ahead whose agent never reported back: failed, saying why.
local function fail_reserved(self, run_id, why)
  local run = run_id and self.s:get_run(run_id)
  if run and run.status == "queued" then
    run.status, run.failure_reason = "failed", why
    run_record.finish(self.s, run)
    self.runs[#self.runs + 1] = run_id
  end
end

-- Records step o's run ahead (so the lock can name it), then takes the writer lock, waiting with
-- progress on stderr. Returns the lock and the run id; nil, the run id and why when another
-- writer keeps the lock (the run is then recorded as failed).
local function hold_writer(self, o, r, st)
  local run = { task_id = self.task.task_id, runner_type = r.runner, model = r.model, sandbox = r.sandbox,
    agent_role = o.role, status = "queued" }
  for k, v in pairs(st.record) do
    run[k] = v
  end
  require("sidecar.run.owner").stamp(run) -- a preset killed while it waits leaves a run run_reconcile ends
  run = assert(run_record.create(self:store(), run))
  local ok, lock, why = pcall(writer_lock.acquire, self.root, {
    owner = { preset = self.preset.name, task_id = self.task.task_id, run_id = run.run_id, role = o.role },
    on_wait = function(holder, waited_ms)
      self:progress("%s (%s) waits for the work tree's writer lock (%d s so far), held by %s",
        o.role or o.kind or "a writer", run.run_id, waited_ms // 1000, writer_lock.describe(holder))
    end,
    on_takeover = function(holder)
      self:progress("took over a stale writer lock: %s no longer runs", writer_lock.describe(holder))
    end })
  if not ok or not lock then
    fail_reserved(self, run.run_id, ok and why or ("interrupted while waiting for the writer lock: " .. tostring(lock)))
    if not ok then
      error(lock, 0)
    end
  end
  return lock, run.run_id, why
end

-- Agents ---------------------------------------------------------------------------------------

---Runs one agent (or records why not). A writer waits for the writer lock first (see the header).
---@param o {prompt: string, kind?: string, risk?: string, lens?: string, role?: string, sandbox?: string, timeout_ms?: integer, runner?: string, optional?: boolean}
---prompt (required); kind (default "scan": the route, stdlib/sidecar/agent/route.lua); risk ("high"
---escalates to the strong tier); lens and role (recorded with the run); sandbox (default by kind:
---read-only but for implement); timeout_ms (default config's `timeout`); runner (a runner this
---step must use, see Ctx:route); optional (true: a step the preset can do without, skipped when
---its CLI is not installed, see the header). Another key raises a bad_option error naming these.
---@return table result  {run_id, status, output, why, route, lens, role, record; command for a step that did not run, skipped}
function Ctx:agent(o)
  local r, st = plan(self, o)
  local skipped = step_not_run.of(self, o, r)
  if skipped then
    return skipped
  elseif remote_readers(self) and not is_writer(r) then
    return self:agents({ o })[1] -- one job of the executor's (a Slurm batch job)
  end
  local s = self:store()
  local opts = runs.agent_options(self.cfg, r.runner, st)
  opts.store, opts.repo, opts.prompt, opts.task_id, opts.agent_role, opts.record = s, self.repo, o.prompt,
      self.task.task_id, o.role, st.record
  opts.gates, opts.task, opts.reported = self.cfg.gates, self.task, true -- its answer is the preset's to report
  local refused
  opts.budget, refused = preset_budget.meter(self, r.runner)
  if refused then
    return step_not_run.budget_stop(self, o, r, refused)
  end
  local lock, busy, w, failed
  if is_writer(r) then
    lock, opts.run_id, busy = hold_writer(self, o, r, st)
    if not lock then
      return { run_id = opts.run_id, status = "failed", why = busy, route = r, lens = o.lens, role = o.role }
    end
    w, failed = preset_worktree.enter(self, opts)
    if failed then
      lock:release()
      self.runs[#self.runs + 1] = failed.run_id
      return { run_id = failed.run_id, status = "failed", why = failed.failure_reason, route = r, lens = o.lens,
        role = o.role }
    end
  else
    opts.repo = preset_worktree.place(self)
  end
  self:progress("%s", self:step_label(o, r))
  local ok, record, message = pcall(require("sidecar.agent.run").execute, opts)
  local output = ok and record and record.output
  if ok and record then
    record.output = nil -- output.md has it; the record is stored again
    ok, record = pcall(preset_worktree.finish, self, record, w) -- under the lock: it commits on the branch
  end
  if lock then
    lock:release() -- on an error (Ctrl-C included) too
  end
  if not ok then
    error(record, 0)
  end
  if not record then
    fail_reserved(self, opts.run_id, message)
    return { run_id = opts.run_id, status = "failed", why = message, route = r, lens = o.lens, role = o.role }
  end
  return finished(self, o, r, record, output)
end

-- The writers of a batch, as "2 (role, sandbox workspace-write)".
function writers_in(self, list)
  local writers = {}
  for i, o in ipairs(list) do
    local r = plan(self, o)
    if is_writer(r) then
      writers[#writers + 1] = ("%d (%s, sandbox %s)"):format(i, o.role or o.kind or "scan", r.sandbox)
    end
  end
  return writers
end

-- After a batch: the writer's result recorded (only now, so no reader saw its branch move), its
-- lock released; readers that shared its worktree judged on their own effect.
function settle_batch(self, out, writer, readers)
  if writer and writer.record then
    preset_worktree.finish(self, writer.record, writer.w)
  end
  if writer and writer.lock then
    writer.lock:release()
  end
  for _, p in ipairs(readers) do
    local record = preset_worktree.judge(self, p.record, writer and writer.record)
    out[p.i].status, out[p.i].why = record.status, M.why(record)
  end
end

-- A batch's writer: the lock, then the preset's worktree; job (its worker's) then points there.
-- False (out[p.i] says why) when either could not be had.
local function start_writer(self, p, out, job)
  local busy, failed
  p.lock, p.run_id, busy = hold_writer(self, p.o, p.r, p.st)
  if not p.lock then
    out[p.i] = { run_id = p.run_id, status = "failed", why = busy, route = p.r, lens = p.o.lens, role = p.o.role }
    return false
  end
  local opts = { run_id = p.run_id, sandbox = p.r.sandbox, prompt = p.o.prompt, record = p.st.record }
  p.w, failed = preset_worktree.enter(self, opts)
  if failed then
    p.lock:release()
    out[p.i] = { run_id = failed.run_id, status = "failed", why = failed.failure_reason, route = p.r,
      lens = p.o.lens, role = p.o.role }
    self.runs[#self.runs + 1] = failed.run_id
    return false
  end
  job.repo, job.root, job.run_id, job.gates = opts.repo, self.s.root, p.run_id, true
  return true
end

local LOCAL_BATCH = { wait = function() end, cancel = function() end } -- a batch with no Slurm part

---How progress names an agent step (`o`, Ctx:agent's) routed by `r`: kind, lens, runner and why.
function Ctx:step_label(o, r)
  return ("%s%s on %s (%s)"):format(o.kind or "scan", o.lens and (" [" .. o.lens .. "]") or "", r.runner, r.why)
end

-- Says what a batch's steps (those run here) are, each label once: a label several steps share
-- (a fan of one prompt's agents) with how many, not once per step.
local function announce(self, pending)
  local labels, count = {}, {}
  for _, p in ipairs(pending) do
    local label = self:step_label(p.o, p.r)
    if not count[label] then
      labels[#labels + 1] = label
    end
    count[label] = (count[label] or 0) + 1
  end
  for _, label in ipairs(labels) do
    if count[label] > 1 then
      self:progress("%d steps: %s", count[label], label)
    else
      self:progress("%s", label)
    end
  end
end

-- ctx:agents refuses a batch with two writers: side by side they would edit one work tree at once.
local function check_one_writer(self, list)
  local writers = writers_in(self, list)
  if #writers > 1 then
    errors.raise("two_writers", ("ctx:agents: steps %s may %s write to the work tree; at most one writer runs at "
      .. "a time (many readers, one writer): run the writers one after another with ctx:agent"):format(
      table.concat(writers, " and "), #writers == 2 and "both" or "all"),
      { preset = self.preset.name }, 3)
  end
end

---Runs several agents side by side (at most ctx.jobs at a time), each in a `sidecar` process of
---its own; returns their results in order. At most one of them may be a writer (else it raises);
---it holds the writer lock from its start to its end. With executor "slurm" the readers run as
---one Slurm job array instead (stdlib/sidecar/executor/slurm_preset.lua); a writer runs here.
---`o.budget_tokens`, `o.budget_usd`: what this call's agents may spend together, on top of the
---context's own budget (stdlib/sidecar/preset/budget.lua): counted as they go, a step it cannot
---cover not started, a running one that crosses it stopped.
---@param list table[]  each what Ctx:agent takes
---@param o? {budget_tokens: integer?, budget_usd: number?}
---@return table[] results  each what Ctx:agent returns
function Ctx:agents(list, o)
  check_one_writer(self, list)
  local _ <close> = preset_budget.narrow(self, o)
  local out, pending = {}, {}
  for i, o in ipairs(list) do
    local r, st = plan(self, o)
    out[i] = step_not_run.of(self, o, r)
    if not out[i] then
      pending[#pending + 1] = { i = i, o = o, r = r, st = st }
    end
  end
  if #pending > 0 then
    self:store()
  end
  -- The batch's tree, fixed as it starts (see stdlib/sidecar/preset/worktree.lua): readers that share the
  -- preset's worktree with a writer are judged after the batch, on their own effect.
  local repo, root = preset_worktree.place(self)
  local shared = self.wt ~= nil and #writers_in(self, list) > 0
  local running, n_running, writer, readers, pool = {}, 0, nil, {}, nil
  local submit = remote_readers(self)
  local remote = submit and submit(self, pending, { repo = repo, gates = not shared,
    budget_of = function(runner) return preset_budget.job(self, runner) end }) or LOCAL_BATCH
  announce(self, pending)
  local function start(p)
    local budget, refused = preset_budget.job(self, p.r.runner)
    if refused then
      out[p.i] = step_not_run.budget_stop(self, p.o, p.r, refused)
      return
    end
    local job = { root = root, repo = repo, runner = p.r.runner, settings = p.st, prompt = p.o.prompt,
      task_id = self.task.task_id, gates = not shared, reported = not shared, budget = budget,
      trace = require("sidecar.run.otel").parent() } -- its run nests under the preset's span
    if is_writer(p.r) then
      if not start_writer(self, p, out, job) then
        return
      end
      writer = p
    end
    if not pool then
      require("sidecar.run.sandbox_folder").sweep_once() -- for all its workers: killed owners' sandbox folders
      pool = worker_pool.open(root, repo, worker_pool.processes_for(math.min(#pending, self.jobs)))
    end
    running[pool:submit(job)] = p
    n_running = n_running + 1
  end
  local function finish(p, res) -- res: {record} (a Slurm job's), {run_id} or {why} (a local worker's)
    local record = res.record or (res.run_id and self:store():get_run(res.run_id))
    if record then
      out[p.i] = finished(self, p.o, p.r, record)
      p.record = record
      if not is_writer(p.r) then
        readers[#readers + 1] = p
      end
    else
      local why = res.why or "the worker failed"
      fail_reserved(self, p.run_id, why)
      out[p.i] = { run_id = p.run_id, status = "failed", why = why, route = p.r, lens = p.o.lens, role = p.o.role }
    end
  end
  local ok, err = pcall(function()
    local next_i = 1
    while next_i <= #pending or n_running > 0 do
      while next_i <= #pending and n_running < self.jobs do
        start(pending[next_i])
        next_i = next_i + 1
      end
      for _, r in ipairs(n_running > 0 and pool:wait(1000) or {}) do
        local p = running[r.k]
        running[r.k], n_running = nil, n_running - 1
        finish(p, r)
      end
    end
    if pool then
      pool:finish(10000)
    end
    remote:wait(finish)
    settle_batch(self, out, writer, shared and readers or {})
  end)
  if not ok then -- an error or Ctrl-C: no lock outlives the batch, no Slurm job goes on
    if pool then
      pool:close() -- its workers stop with it
    end
    remote:cancel()
    for _, p in ipairs(pending) do
      if p.lock then
        p.lock:release()
      end
    end
    error(err, 0)
  end
  return out
end

---The folder the preset's work is in: its worktree once a writer made one, else the repository.
function Ctx:workdir()
  return (preset_worktree.place(self))
end

---Runs git in the repository: its stdout, or nil and why.
function Ctx:git(args)
  local argv = { "git" }
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  local ok, r = pcall(proc.run, argv, { cwd = self.repo, timeout_ms = 30000 })
  if not ok then
    return nil, tostring(r.message or r)
  end
  if not r.ok then
    return nil, require("sidecar.core.text").trim(r.stderr or "")
  end
  return r.stdout
end

return M
