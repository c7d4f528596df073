--- `sidecar run T-0001 …` and `sidecar run list|show|approve|block|review|replay|answer|queue|
--- start-ready|tail|kill|wait|apply|discard`: each takes the options the command line parsed, prints (text for
--- people, or the JSON envelope with --json), and returns the exit status: 0 done (a run that
--- ended in review or completed), 1 could not be done or the run did not succeed, 2 the command
--- line is wrong. Progress goes to stderr.
local duration = require("sidecar.core.duration")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local prompt = require("sidecar.prompt.compile")
local prompt_kit = require("sidecar.prompt.kit")
local review = require("sidecar.task.review")
local run_control = require("sidecar.executor.run_control")
local run_progress = require("sidecar.service.run_progress")
local run_start = require("sidecar.service.run_start")
local runs_service = require("sidecar.service.runs")
local run_view = require("sidecar.cli.run_view")
local cli_root = require("sidecar.cli.root")
local service_store = require("sidecar.service.store")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
local GOOD = require("sidecar.task.runs").GOOD -- a run that did its work: exit 0

local failed = out.fail

local open = cli_root.open_runs

-- A run id, or the exit status after saying why it is not one (sidecar.service.runs.check_id).
local function check_id(o, command, id)
  local bad = runs_service.check_id(id)
  if bad then
    return nil, failed(o, command, bad.errors[1].message, EXIT_USAGE)
  end
  return true
end

local function prompt_hint(r)
  return ".agent/" .. (r.prompt_path or ("runs/" .. r.run_id .. "/prompt.md"))
end

-- Prints a finished run (or a pipeline's steps: sidecar.service.run_start's result) and returns the
-- exit status.
local function report_steps(o, command, r)
  local steps = r.steps
  if not steps or o.json then
    return out.answer(o, command, r)
  end
  if o.explain then
    for _, run in ipairs(steps) do
      local b = run.prompt_budget
      print(("%s prompt %s"):format(run.run_id, b and prompt.explain(b) or "given as it is (not compiled)"))
      local asked = require("sidecar.agent.effort").describe(run.effort, run.search)
      print(("  agent: %s%s%s"):format(run.runner_type or "?", run.model and (", model " .. run.model) or "",
        asked and (", " .. asked) or ", effort and search: the CLI's defaults"))
      local f = io.open(service_store.root(o) .. "/runs/" .. run.run_id .. "/prompt.md", "rb")
      if f then
        local warnings = prompt_kit.lint(f:read("a"))
        f:close()
        for _, w in ipairs(warnings) do
          print(("  lint: %s"):format(w.message))
        end
      end
    end
  end
  local d = r.data
  if #steps > 1 or d.pipeline_id ~= json.null then
    io.write(run_view.pipeline_lines(steps))
    if d.budget then
      print(("pipeline stopped after step %d: %s"):format(d.stopped_after, d.budget))
    elseif d.stopped_after ~= json.null then
      print(("pipeline stopped after step %d (%s): pipeline.stop_on_failure is on"):format(d.stopped_after,
        steps[#steps].status))
    end
  else
    local run = steps[1]
    print(("%s %s%s"):format(run.run_id, run.status,
      run.status == "dry_run" and (": prompt in " .. prompt_hint(run)) or
      (run.failure_reason and (": " .. run.failure_reason) or (run.summary and (": " .. run.summary) or ""))))
    for _, b in ipairs(type(run.blockers) == "table" and run.blockers or {}) do
      print("  blocker: " .. tostring(b))
    end
    if run.review_state == "approved" and run.reviewed_by == review.AUTO_DECIDER then
      print(run.review_note)
    elseif run.status == "review" then
      print(("waiting for review: sidecar run show %s, then sidecar run approve|block %s"):format(run.run_id,
        run.run_id))
    end
  end
  return r.status
end

---`sidecar run T-0001`, and the background worker (`--worker R-…`).
function M.run(o)
  require("sidecar.core.git").preload(".") -- loads while the task, store and prompt are made ready
  if o.worker then
    return require("sidecar.cli.run_executor").work(o, open)
  end
  if o.prepared then
    if o.task then
      return failed(o, "run", "give a task or --prepared DIR, not both", EXIT_USAGE)
    end
    return require("sidecar.cli.run_prepared").run(o)
  end
  if not o.task then
    return failed(o, "run", "which task? sidecar run T-0001 (or sidecar run --help for the subcommands)", EXIT_USAGE)
  end
  o.on_progress = out.progress
  local lines <close> = run_progress.follow(out.progress) -- validation steps, from the runs' events
  local p, bad = run_start.prepare(o)
  if not p then
    return out.answer(o, "run", bad)
  end
  local run_executor = require("sidecar.cli.run_executor")
  if p.executor ~= "local" and not o.background then
    return run_executor.follow(o, p, report_steps) -- a Slurm job, followed to its end
  end
  local ok, r = pcall(o.background and run_start.start_background or run_start.run_here, p)
  p.s:close()
  if not ok then
    error(r, 0)
  end
  if o.background then
    return run_executor.report_started(o, "run", r)
  end
  return report_steps(o, "run", r)
end

---`sidecar run replay R-…`
function M.replay(o)
  o.on_progress = out.progress
  local lines <close> = run_progress.follow(out.progress)
  local r = run_start.replay(o)
  if r.ok and o.background and not o.dry_run then
    return require("sidecar.cli.run_executor").report_started(o, "run replay", r)
  end
  return report_steps(o, "run replay", r)
end

---`sidecar run answer R-… TEXT`
function M.answer(o)
  local ok, status = check_id(o, "run answer", o.id)
  if not ok then
    return status
  end
  local text = o.answer
  if text == "-" then
    text = io.read("a") or ""
  end
  local s, cfg = open(o, "run answer")
  if not s then
    return cfg
  end
  o.on_progress = out.progress
  local lines <close> = run_progress.follow(out.progress)
  local result, message, code = require("sidecar.task.answer").answer(s, cfg, o.id, text, o)
  s:close()
  if not result then
    return failed(o, "run answer", message, code == "usage" and EXIT_USAGE or EXIT_FAILURE)
  end
  if not result.same_session then
    out.progress(("run %s kept no agent session: the answer went to a new session, given its prompt and what "
      .. "it said"):format(o.id))
  end
  return report_steps(o, "run answer", run_start.ended(result))
end

---`sidecar run list`
function M.list(o)
  return out.answer(o, "run list", runs_service.list(o), function(list)
    if #list == 0 then
      print("no runs" .. (o.task and (" of " .. o.task) or "") .. (o.status and (" with status " .. o.status) or ""))
    else
      io.write(run_view.list_table(list))
    end
  end)
end

-- Commands on one run id: opens the store, calls fn(s, cfg) -> status.
local function with_run(o, command, fn)
  local ok, status = check_id(o, command, o.id)
  if not ok then
    return status
  end
  local s, cfg = open(o, command)
  if not s then
    return cfg
  end
  local okc, result = pcall(fn, s, cfg)
  s:close()
  if not okc then
    error(result, 0)
  end
  return result
end

---`sidecar run show R-…`
-- Text an agent or a task wrote, to stdout: with its control characters made visible
-- (sidecar.core.terminal), or with --raw as it is, redacted all the same.
local function write_text(o, text)
  if o.raw then
    local terminal = require("sidecar.core.terminal")
    terminal.write_raw(io.stdout, (require("sidecar.core.secrets").redact(text)))
  else
    io.write(text)
  end
end

function M.show(o)
  if o.json then
    return out.answer(o, "run show", runs_service.show(o))
  end
  return with_run(o, "run show", function(s)
    require("sidecar.executor.reconcile").reconcile(s, s:get_run(o.id))
    local text, message = run_view.show(s, o.id)
    if not text then
      return failed(o, "run show", message)
    end
    write_text(o, text)
    return EXIT_OK
  end)
end

-- The line of a decision: "R-0001 approved by you; task T-0001; decision in .agent/runs/R-0001/decision.md".
local function decided_line(run)
  print(("%s %s by %s; task %s; decision in %s/runs/%s/decision.md"):format(run.run_id, run.review_state,
    run.reviewed_by, tostring(run.task_id), ".agent", run.run_id))
end

---`sidecar run approve R-… [--apply]`
function M.approve(o)
  local r = runs_service.approve(o)
  if not (r.ok and o.apply) then
    return out.answer(o, "run approve", r, decided_line)
  end
  return require("sidecar.cli.run_worktree").after_approve(o, r.data)
end

---`sidecar run apply R-…` and `run discard R-…`: stdlib/sidecar/cli/run_worktree.lua.
function M.apply(o) return require("sidecar.cli.run_worktree").apply(o) end
function M.discard(o) return require("sidecar.cli.run_worktree").discard(o) end

---`sidecar run block R-… --reason …`
function M.block(o)
  return out.answer(o, "run block", runs_service.block(o), decided_line)
end

---`sidecar run review`: the runs waiting for a decision.
function M.review(o)
  return out.answer(o, "run review", runs_service.review(o), function(items)
    if #items == 0 then
      print("no runs waiting for a decision")
    else
      io.write(run_view.queue_table(items))
    end
  end)
end

-- The queue's commands live in stdlib/sidecar/cli/run_queue.lua.
function M.queue(o) return require("sidecar.cli.run_queue").queue(o) end
function M.start_ready(o) return require("sidecar.cli.run_queue").start_ready(o) end

---`sidecar run tail R-… [-f]`
function M.tail(o)
  if o.json then
    return out.answer(o, "run tail", runs_service.events(o))
  end
  return with_run(o, "run tail", function(s)
    local run, message = run_control.tail(s, o.id, o.follow, function(line)
      write_text(o, line)
      io.stdout:flush()
    end)
    if not run then
      return failed(o, "run tail", message)
    end
    return EXIT_OK
  end)
end

---`sidecar run kill R-…`
function M.kill(o)
  return out.answer(o, "run kill", runs_service.kill(o), function(run)
    print(("%s %s"):format(run.run_id, run.status))
  end)
end

---`sidecar run wait R-… [--timeout D]`
function M.wait(o)
  local timeout_ms
  if o.timeout then
    local why
    timeout_ms, why = duration.parse(o.timeout)
    if not timeout_ms then
      return failed(o, "run wait", "--timeout: " .. why, EXIT_USAGE)
    end
  end
  return with_run(o, "run wait", function(s)
    local run, message = run_control.wait(s, o.id, timeout_ms)
    if not run then
      return failed(o, "run wait", message)
    end
    if o.json then
      out.envelope("run wait", GOOD[run.status] == true, run, nil, o.version)
    else
      print(("%s %s%s"):format(run.run_id, run.status, run.failure_reason and (": " .. run.failure_reason) or ""))
    end
    return GOOD[run.status] and EXIT_OK or EXIT_FAILURE
  end)
end

return M
