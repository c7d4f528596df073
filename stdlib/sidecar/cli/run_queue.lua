--- `sidecar run queue` and `sidecar run start-ready`: the ready tasks, and running them N at a time.
local cli_root = require("sidecar.cli.root")
local clock = require("sidecar.host.time")
local duration = require("sidecar.core.duration")
local executor = require("sidecar.executor")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local run_queue = require("sidecar.task.queue")
local runs = require("sidecar.task.runs")
local terminal = require("sidecar.core.terminal")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

local failed = out.fail
local open = cli_root.open_runs

---`sidecar run queue`
function M.queue(o)
  local s, cfg = open(o, "run queue")
  if not s then
    return cfg
  end
  require("sidecar.executor.reconcile").reconcile_active(s) -- a task whose run's owner died is ready again first
  local q = run_queue.queue(s)
  s:close()
  if o.json then
    local blocked = {}
    for i, b in ipairs(q.blocked) do
      blocked[i] = { task_id = b.task.task_id, title = b.task.title, reasons = json.array(b.reasons) }
    end
    local ready = {}
    for i, t in ipairs(q.ready) do
      ready[i] = { task_id = t.task_id, title = t.title, priority = t.priority }
    end
    out.envelope("run queue", true, { ready = json.array(ready), blocked = json.array(blocked) }, nil, o.version)
    return EXIT_OK
  end
  local rows = {}
  for _, t in ipairs(q.ready) do
    rows[#rows + 1] = { t.task_id, "ready", t.title or "" }
  end
  for _, b in ipairs(q.blocked) do
    rows[#rows + 1] = { b.task.task_id, "blocked: " .. table.concat(b.reasons, "; "), b.task.title or "" }
  end
  if #rows == 0 then
    print("no tasks are ready (sidecar task set-status T-0001 ready)")
  else
    io.write(out.table({ "TASK", "QUEUE", "TITLE" }, rows))
  end
  return EXIT_OK
end

---`sidecar run start-ready [-j N] [--dry-run]`
-- start-ready's progress on stderr: on a terminal, one live line redrawn in place ("done 3 ·
-- running 2 · failed 1 · 12.3s"); otherwise a line as each run starts and ends.
local function start_ready_progress(live, t0_ns)
  local function live_line(state)
    return ("\r\27[Kstart-ready: done %d · running %d · failed %d · %s"):format(state.done, state.running,
      state.failed, duration.format((clock.monotonic_ns() - t0_ns) // 1000000))
  end
  return function(event, state, detail)
    if live and (event == "waiting" or event == "finished") then
      -- its own "\r\27[K", not neutralised
      terminal.write_raw(io.stderr, live_line(state), event == "finished" and "\n" or "")
    elseif not live and event == "started" then
      out.progress(("start-ready: %s started"):format(detail.task_id))
    elseif not live and event == "ended" then
      out.progress(("start-ready: %s %s%s"):format(detail.task_id, detail.status,
        detail.run_id and (" (" .. detail.run_id .. ")") or ""))
    end
  end
end

function M.start_ready(o)
  local s, cfg = open(o, "run start-ready")
  if not s then
    return cfg
  end
  require("sidecar.executor.reconcile").reconcile_active(s) -- a task whose run's owner died is ready again first
  local jobs = cfg.queue.jobs
  if o.jobs then -- an integer: the command line checked it
    jobs = o.jobs
    if jobs < 1 then
      s:close()
      return failed(o, "run start-ready", ("-j '%d': expected a whole number of runs at a time, 1 or more"):format(
        jobs), EXIT_USAGE)
    end
  end
  if o.runner then
    local names, why = runs.runner_list(o.runner)
    if not names then
      s:close()
      return failed(o, "run start-ready", why, EXIT_USAGE)
    end
  end
  local b, why = require("sidecar.agent.budget").from_options({}, o) -- the config's budgets apply in each run
  if b == nil then
    s:close()
    return failed(o, "run start-ready", why, EXIT_USAGE)
  end
  local name, bad = executor.choose(cfg, o.executor)
  if not name then
    s:close()
    return failed(o, "run start-ready", bad, EXIT_USAGE)
  end
  local e = assert(executor.of(name))
  local t0 = clock.monotonic_ns()
  local on_progress = start_ready_progress(not o.json and clock.isatty(2), t0)
  local outcomes
  if e.start_ready and not o.dry_run then -- its own way (Slurm: job arrays, wave by wave); a dry run executes nothing
    if b and b.command then
      s:close()
      return failed(o, "run start-ready", "--budget-tokens and --budget-usd are not shared across Slurm job arrays: "
        .. "give per-run budgets in .agent/config.lua (budgets.per_run), or run without --executor slurm", EXIT_USAGE)
    end
    outcomes = e.start_ready(s, cfg, { jobs = jobs, runner = o.runner,
      on_progress = on_progress })
  else
    outcomes = run_queue.start_ready(s, { jobs = jobs, runner = o.runner, dry_run = o.dry_run, budget = b,
      on_progress = on_progress })
  end
  s:close()
  local all_ok = true
  for _, r in ipairs(outcomes) do
    all_ok = all_ok and (r.ok or r.status == "dry_run")
  end
  if o.json then
    out.envelope("run start-ready", all_ok, { runs = json.array(outcomes), jobs = jobs }, nil, o.version)
  elseif #outcomes == 0 then
    print("no tasks are ready (sidecar run queue says why)")
  else
    local rows = {}
    for i, r in ipairs(outcomes) do
      rows[i] = { r.task_id, r.run_id or "-", r.status, duration.format(r.duration_ms), r.reason or "" }
    end
    io.write(out.table({ "TASK", "RUN", "STATUS", "DURATION", "WHY" }, rows))
    local ran, not_started = 0, 0 -- a task never started is no run (its budget, say, was spent)
    for _, r in ipairs(outcomes) do
      if r.status == "not_started" then
        not_started = not_started + 1
      else
        ran = ran + 1
      end
    end
    print(("%d run%s in %s%s"):format(ran, ran == 1 and "" or "s",
      duration.format((clock.monotonic_ns() - t0) // 1000000),
      not_started > 0 and ("; %d task%s not started"):format(not_started, not_started == 1 and "" or "s") or ""))
  end
  return all_ok and EXIT_OK or EXIT_FAILURE
end

return M
