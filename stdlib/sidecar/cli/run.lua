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
local run_background = require("sidecar.task.background")
local runs_service = require("sidecar.service.runs")
local run_view = require("sidecar.cli.run_view")
local runs = require("sidecar.task.runs")
local cli_root = require("sidecar.cli.root")
local service_store = require("sidecar.service.store")
local task_packet = require("sidecar.task.packet")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
local GOOD = { review = true, completed = true, dry_run = true }

local failed = out.fail

local open = cli_root.open_runs

local function check_id(o, command, kind, id)
  local bad = kind == "run" and runs_service.check_id(id)
  if bad then
    return nil, failed(o, command, bad.errors[1].message, EXIT_USAGE)
  end
  if kind == "task" and id == nil then -- an empty argument (`run ""`): the parser leaves it out
    return nil, failed(o, command, "give a task id (T-0001)", EXIT_USAGE)
  end
  if kind == "task" and not task_packet.is_task_id(id) then
    return nil, failed(o, command, ("'%s' is not a task id (task ids look like T-0001)"):format(id), EXIT_USAGE)
  end
  return true
end

local function prompt_hint(r)
  return ".agent/" .. (r.prompt_path or ("runs/" .. r.run_id .. "/prompt.md"))
end

-- Prints a finished run (or a pipeline's steps) and returns the exit status.
local function report_steps(o, command, result)
  local steps = result.steps
  local all_good = true
  for _, r in ipairs(steps) do
    all_good = all_good and GOOD[r.status] == true
  end
  all_good = all_good and not result.budget -- a step the budget could not cover was not started
  if o.explain and not o.json then
    for _, r in ipairs(steps) do
      local b = r.prompt_budget
      print(("%s prompt %s"):format(r.run_id, b and prompt.explain(b) or "given as it is (not compiled)"))
      local asked = require("sidecar.agent.effort").describe(r.effort, r.search)
      print(("  agent: %s%s%s"):format(r.runner_type or "?", r.model and (", model " .. r.model) or "",
        asked and (", " .. asked) or ", effort and search: the CLI's defaults"))
      local f = io.open(service_store.root(o) .. "/runs/" .. r.run_id .. "/prompt.md", "rb")
      if f then
        local warnings = prompt_kit.lint(f:read("a"))
        f:close()
        for _, w in ipairs(warnings) do
          print(("  lint: %s"):format(w.message))
        end
      end
    end
  end
  if o.json then
    local data = { steps = json.array(steps), pipeline_id = result.pipeline_id or json.null,
      stopped_after = result.stopped_after or json.null, budget = result.budget }
    out.envelope(command, all_good, data, result.budget and { result.budget } or nil, o.version)
    return all_good and EXIT_OK or EXIT_FAILURE
  end
  if #steps > 1 or result.pipeline_id then
    io.write(run_view.pipeline_lines(steps))
    if result.budget then
      print(("pipeline stopped after step %d: %s"):format(result.stopped_after, result.budget))
    elseif result.stopped_after then
      print(("pipeline stopped after step %d (%s): pipeline.stop_on_failure is on"):format(result.stopped_after,
        steps[#steps].status))
    end
  else
    local r = steps[1]
    print(("%s %s%s"):format(r.run_id, r.status,
      r.status == "dry_run" and (": prompt in " .. prompt_hint(r)) or
      (r.failure_reason and (": " .. r.failure_reason) or (r.summary and (": " .. r.summary) or ""))))
    for _, b in ipairs(type(r.blockers) == "table" and r.blockers or {}) do
      print("  blocker: " .. tostring(b))
    end
    if r.review_state == "approved" and r.reviewed_by == review.AUTO_DECIDER then
      print(r.review_note)
    elseif r.status == "review" then
      print(("waiting for review: sidecar run show %s, then sidecar run approve|block %s"):format(r.run_id, r.run_id))
    end
  end
  return all_good and EXIT_OK or EXIT_FAILURE
end

-- The previous run of the task whose agent session can be continued.
local function session_run(s, task_id)
  for _, r in ipairs(s:list_runs({ task_id = task_id, limit = 0 }) or {}) do
    if r.session_id and r.session_id ~= json.null and r.ephemeral == false and not r.dry_run then
      return r
    end
  end
end

-- --continue: the session of the task's last run that kept one goes into `extra.resume`, and its
-- runner into `st`. Nil, or the exit status after saying why it cannot be continued.
local function continuation(o, s, task, st, extra)
  local prev = session_run(s, task.task_id)
  if not prev then
    return failed(o, "run", ("task %s has no run with a kept session to continue (first-pass runs are "
      .. "ephemeral: run it once with --keep-session)"):format(task.task_id))
  end
  if o.runner and o.runner ~= prev.runner_type then
    return failed(o, "run", ("--continue resumes %s's session of run %s: it cannot change the runner to %s"):format(
      prev.runner_type, prev.run_id, o.runner), EXIT_USAGE)
  end
  local why
  extra.resume, why = require("sidecar.agent.run").continuation(prev)
  if not extra.resume then
    return failed(o, "run", why)
  end
  st.runners = { prev.runner_type }
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
  local ok, status = check_id(o, "run", "task", o.task)
  if not ok then
    return status
  end
  if o.notify and not o.background then
    return failed(o, "run", "--notify tells you when a background run ends: give --background too", EXIT_USAGE)
  end
  local s, cfg = open(o, "run")
  if not s then
    return cfg
  end
  local task = s:get_task(o.task)
  if not task then
    s:close()
    return failed(o, "run", ("no task %s (see sidecar task list)"):format(o.task))
  end
  -- A task stored before a rule refused its inputs (or imported by an older Sidecar) stops here.
  local refused = task_packet.refused_inputs(task)
  o.on_progress = out.progress
  local st, why = runs.settings(cfg, task, o)
  if refused then
    s:close()
    return failed(o, "run", ("task %s: %s"):format(task.task_id, refused))
  end
  if not st then
    s:close()
    return failed(o, "run", why, EXIT_USAGE)
  end
  local extra = { keep_session = o.keep_session }
  if o.continue then
    local status = continuation(o, s, task, st, extra)
    if status then
      s:close()
      return status
    end
  end
  if o.continue and #st.runners > 1 then
    s:close()
    return failed(o, "run", "--background and --continue run one runner: give --runner one name", EXIT_USAGE)
  end
  -- --background, or another executor (a Slurm job): started there (or nil: this command runs it)
  local started = require("sidecar.cli.run_executor").start(o, s, cfg, task, st, extra, report_steps)
  if started then
    return started
  end
  local result, message = runs.run_task(s, cfg, task, st, extra)
  s:close()
  if not result then
    return failed(o, "run", message)
  end
  return report_steps(o, "run", result)
end

---`sidecar run replay R-…`
function M.replay(o)
  local ok, status = check_id(o, "run replay", "run", o.id)
  if not ok then
    return status
  end
  local s, cfg = open(o, "run replay")
  if not s then
    return cfg
  end
  o.on_progress = out.progress
  local result, message, code = runs.replay(s, cfg, o.id, o)
  s:close()
  if not result then
    return failed(o, "run replay", message, code == "usage" and EXIT_USAGE or EXIT_FAILURE)
  end
  if o.background and not o.dry_run then
    return require("sidecar.cli.run_executor").report_started(o, "run replay", result.steps[1])
  end
  return report_steps(o, "run replay", result)
end

---`sidecar run answer R-… TEXT`
function M.answer(o)
  local ok, status = check_id(o, "run answer", "run", o.id)
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
  local result, message, code = require("sidecar.task.answer").answer(s, cfg, o.id, text, o)
  s:close()
  if not result then
    return failed(o, "run answer", message, code == "usage" and EXIT_USAGE or EXIT_FAILURE)
  end
  if not result.same_session then
    out.progress(("run %s kept no agent session: the answer went to a new session, given its prompt and what "
      .. "it said"):format(o.id))
  end
  return report_steps(o, "run answer", result)
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
  local ok, status = check_id(o, command, "run", o.id)
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
    run_background.reconcile(s, s:get_run(o.id))
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
    local run, message = run_background.tail(s, o.id, o.follow, function(line)
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
    local run, message = run_background.wait(s, o.id, timeout_ms)
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
