--- What a preset's `run(ctx, params)` works with: the repository, routing, agents (one, or
--- several side by side), git, and progress on stderr. Every agent call is a run in the store,
--- under one task per preset run, so `sidecar run list` and `run show` cover presets too.
---
---   local r = ctx:agent({ kind = "review", prompt = text, lens = "security" })
---   r.status, r.output, r.run_id, r.command     -- r.status "not_run" when the CLI is missing
---   local rs = ctx:agents({ {kind = "review", prompt = a}, {kind = "review", prompt = b} })
---
--- With --dry-run (or when the runner's CLI is not installed) no agent runs: the prompt is
--- recorded as a dry run and `r.command` says exactly what would have run.
local json = require("json")
local proc = require("proc")
local route = require("route")
local runners = require("runners")
local runs = require("runs")
local store = require("store")

local M = {}

local Ctx = {}
Ctx.__index = Ctx

---@param o table  {repo, preset (the definition), params, dry_run, runner, model, jobs}
function M.new(o)
  local root = (o.repo or ".") .. "/.agent"
  local cfg = assert(require("config").load(root))
  runs.register_config_runners(cfg)
  return setmetatable({ repo = o.repo or ".", root = root, preset = o.preset, params = o.params or {},
    dry_run = o.dry_run or false, cfg = cfg, overrides = { runner = o.runner, model = o.model },
    jobs = o.jobs or 4, runs = {} }, Ctx)
end

function Ctx:progress(fmt, ...)
  io.stderr:write(("sidecar: %s: "):format(self.preset.name), fmt:format(...), "\n")
end

---The store, opened (and the preset run's task created) on first use.
function Ctx:store()
  if not self.s then
    self.s = assert(store.open(self.root, { create = true }))
    self.task = assert(self.s:create_task({ title = "preset " .. self.preset.name, type = "chore",
      status = "running", summary = self.preset.summary, tags = { "preset", self.preset.name } }))
  end
  return self.s
end

function Ctx:close()
  if self.s then
    self.task.status = "done"
    self.s:update_task(self.task)
    self.s:close()
    self.s = nil
  end
end

---Where work of `kind` goes: {runner, model, sandbox, tier, why} (stdlib/route.lua).
---`runner`, when given, is one the preset picks for this step (say one per reviewer); it runs its
---own default model unless it is also the --runner.
function Ctx:route(kind, risk, sandbox, runner)
  local r = route.resolve(kind, { risk = risk, sandbox = sandbox, routes = self.cfg.routes,
    runner = self.overrides.runner, model = self.overrides.model })
  if runner and runner ~= r.runner then
    r.runner, r.model, r.why = runner, nil, r.why .. "; runner " .. runner .. " named by the preset"
  end
  return r
end

-- Whether a program is on PATH (or, with a slash, exists).
local function on_path(program)
  if program:find("/", 1, true) then
    return io.open(program, "rb") ~= nil
  end
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local f = io.open(dir .. "/" .. program, "rb")
    if f then
      f:close()
      return true
    end
  end
  return false
end

-- The argv a runner would run (for dry runs and "not installed" reports).
local function preview(cfg, r, prompt_file)
  local spec = assert(runners.get(r.runner))
  local entry = cfg.runners[r.runner] or {}
  local ok, argv = pcall(spec.command, { prompt = "", prompt_file = prompt_file, repo = ".", run_dir = ".agent/runs/R-…",
    model = r.model, sandbox = r.sandbox, args = entry.args, program = entry.program, command = entry.command })
  if not ok then
    return nil, spec
  end
  local shown = {}
  for i, a in ipairs(argv) do
    shown[i] = a:find("[%s'\"$`\\]") and ("'" .. a:gsub("'", "'\\''") .. "'") or a
  end
  return table.concat(shown, " ") .. " < " .. prompt_file, spec, argv[1]
end

-- A run recorded without executing the agent (dry run, or the CLI is missing).
local function record_not_run(self, o, r, status, why)
  local s = self:store()
  local run = assert(s:create_run({ task_id = self.task.task_id, runner_type = r.runner, model = r.model,
    sandbox = r.sandbox, agent_role = o.role, status = "dry_run", dry_run = true, review_state = json.null,
    preset = self.preset.name, lens = o.lens, route = { kind = o.kind, tier = r.tier, why = r.why } },
    { { "prompt.md", o.prompt } }))
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  local command = preview(self.cfg, r, self.root .. "/" .. run.prompt_path)
  run.command, run.not_run_reason = command, why
  assert(s:update_run(run))
  return { run_id = run.run_id, status = status, command = command, why = why, route = r, lens = o.lens,
    role = o.role }
end

-- nil when the runner can run here, else why not (with how to install it).
function Ctx:missing(r)
  local command, spec, program = preview(self.cfg, r, "prompt.md")
  if command and program and not on_path(program) then
    return ("%s is not installed (%s)"):format(program, spec.install and ("install it: " .. spec.install) or
      "put it on PATH")
  end
end

local function read_output(root, run_id)
  local f = io.open(root .. "/runs/" .. run_id .. "/output.md", "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  return text
end

-- What ctx:agent returns for a finished run.
local function finished(self, o, r, record)
  self.runs[#self.runs + 1] = record.run_id
  return { run_id = record.run_id, status = record.status, output = read_output(self.root, record.run_id),
    record = record, route = r, lens = o.lens, role = o.role, why = record.failure_reason }
end

-- The options of one agent run: a route, the prompt, the record fields.
local function plan(self, o)
  assert(type(o) == "table" and type(o.prompt) == "string", "ctx:agent: needs {kind =, prompt =}")
  local r = self:route(o.kind or "scan", o.risk, o.sandbox, o.runner)
  return r, { runner = r.runner, model = r.model, sandbox = r.sandbox, timeout_ms = o.timeout_ms or self.cfg.timeout_ms,
    idle_timeout_ms = self.cfg.idle_timeout_ms, agent_role = o.role,
    record = { preset = self.preset.name, lens = o.lens, route = { kind = o.kind or "scan", tier = r.tier, why = r.why } } }
end

---Runs one agent (or records why not). o: kind, risk, prompt, lens, role, sandbox, timeout_ms,
---runner (see Ctx:route).
function Ctx:agent(o)
  local r, st = plan(self, o)
  local missing = self:missing(r)
  if self.dry_run or missing then
    return record_not_run(self, o, r, self.dry_run and "dry_run" or "not_run", missing or "--dry-run")
  end
  local s = self:store()
  local opts = runs.agent_options(self.cfg, r.runner, st)
  opts.store, opts.repo, opts.prompt, opts.task_id, opts.agent_role, opts.record = s, self.repo, o.prompt,
      self.task.task_id, o.role, st.record
  self:progress("%s%s on %s (%s)", o.kind or "scan", o.lens and (" [" .. o.lens .. "]") or "", r.runner, r.why)
  local record, message = require("agent_run").execute(opts)
  if not record then
    return { status = "failed", why = message, route = r, lens = o.lens, role = o.role }
  end
  return finished(self, o, r, record)
end

---Runs several agents side by side (at most ctx.jobs at a time), each in a `sidecar` process of
---its own; returns their results in order.
function Ctx:agents(list)
  local out, pending = {}, {}
  for i, o in ipairs(list) do
    local r, st = plan(self, o)
    local missing = self:missing(r)
    if self.dry_run or missing then
      out[i] = record_not_run(self, o, r, self.dry_run and "dry_run" or "not_run", missing or "--dry-run")
    else
      pending[#pending + 1] = { i = i, o = o, r = r, st = st }
    end
  end
  local s = #pending > 0 and self:store() or nil
  local running = {}
  local function start(p)
    self:progress("%s%s on %s (%s)", p.o.kind or "scan", p.o.lens and (" [" .. p.o.lens .. "]") or "", p.r.runner, p.r.why)
    local job = { root = s.root, repo = self.repo, runner = p.r.runner, settings = p.st, prompt = p.o.prompt,
      task_id = self.task.task_id }
    p.handle = proc.spawn({ proc.executable(), "-e", "os.exit(require('preset_worker').main())" },
      { stdin = json.encode(job), stdout = true, stderr = { collect = true }, max_output = 8192 })
    running[#running + 1] = p
  end
  local next_i = 1
  while next_i <= #pending or #running > 0 do
    while next_i <= #pending and #running < self.jobs do
      start(pending[next_i])
      next_i = next_i + 1
    end
    local handles = {}
    for k, p in ipairs(running) do
      handles[k] = p.handle
    end
    local h, k = proc.wait_any(handles, 1000)
    if h then
      local p = table.remove(running, k)
      local res = h:wait()
      local ok, record = pcall(json.decode, res.stdout or "")
      if ok and type(record) == "table" and record.run_id then
        out[p.i] = finished(self, p.o, p.r, record)
      else
        out[p.i] = { status = "failed", why = (res.stderr or ""):match("([^\n]+)\n*$") or "the worker failed",
          route = p.r, lens = p.o.lens, role = p.o.role }
      end
    end
  end
  return out
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
    return nil, (r.stderr or ""):match("^%s*(.-)%s*$")
  end
  return r.stdout
end

return M
