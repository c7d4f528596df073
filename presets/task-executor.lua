-- task-executor: implement a task from a plan file (the codex-task-executor skill, docs/formats.md §5).
--
-- 1. Read the plan file and take a snapshot of the work tree.
-- 2. Up to max_iterations times: compile an implementer prompt (the plan; from the second
--    iteration on, what the previous one reported), run a strong implementer that may write to
--    the work tree, and read the markers in its final message.
--    - [CODEX_COMPLETE] with no open [BLOCKED] or [QUESTION]: done.
--    - [BLOCKED] or [QUESTION]: stop and hand it to a person (a completion never overrides it).
--    - an iteration that changed no file and reported no new [PROGRESS]: stop (the circuit breaker,
--      stdlib/sidecar/task/reactions.lua), exit 1 with the reason.
--    - anything else: another iteration, told what was done and what remains.
-- 3. Check the union of the [FILES_MODIFIED] claims against what really changed in the work tree
--    since the snapshot: confirmed, claimed but not changed, changed but not claimed.
local json = require("sidecar.core.json")
local markers = require("sidecar.agent.markers")
local preset = require("sidecar.preset.define")
local reactions = require("sidecar.task.reactions")
local secrets = require("sidecar.core.secrets")
local steps = require("sidecar.preset.steps")
local text_lines = require("sidecar.core.text")
local worktree = require("sidecar.core.worktree")

-- A run that finished: "blocked" is the agent's own [BLOCKED] or [QUESTION], read below.
local FINISHED = { review = true, blocked = true }

local function read_plan(ctx, path)
  local refused = secrets.refuse_inputs({ path }, "plan")
  if refused then
    return nil, refused
  end
  local full = path:sub(1, 1) == "/" and path or (ctx.repo .. "/" .. path)
  local f, why = io.open(full, "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  if not text then
    why = why and why:sub(1, #full + 2) == full .. ": " and why:sub(#full + 3) or why or "it is a folder"
    return nil, ("cannot read the plan file %s (%s)"):format(path, why)
  elseif not text:find("%S") then
    return nil, ("the plan file %s is empty"):format(path)
  end
  return text_lines.rtrim(text)
end

local function bullets(list, fmt)
  local out = {}
  for i, item in ipairs(list) do
    out[i] = "- " .. (fmt and fmt(item) or item)
  end
  return #out > 0 and table.concat(out, "\n") or "- (none)"
end

-- What the next iteration is told about the previous one.
local function previous_text(prev, n, max)
  local lines = { ("This is iteration %d of at most %d. The previous iteration (run %s) did not finish the task; "
    .. "continue from where it stopped, do not start over."):format(n, max, prev.run_id or "-") }
  if not FINISHED[prev.run_status] then
    lines[#lines + 1] = ("Its run ended %s: %s."):format(prev.run_status, prev.why or "no reason given")
  end
  lines[#lines + 1] = "Its progress:\n" .. bullets(prev.markers.progress)
  lines[#lines + 1] = "Files it reported modified:\n" .. bullets(prev.markers.files_modified,
    function(f) return ("%s (%s)"):format(f.path, f.change) end)
  lines[#lines + 1] = "Blockers or questions: none."
  lines[#lines + 1] = "Its report (what it did and what remains):\n" .. (prev.report ~= "" and prev.report
    or "(none: compare the plan with the work tree)")
  return table.concat(lines, "\n\n")
end

-- The implementer's prompt: the plan (kept whole, the budget grows with it) right after the Goal,
-- then what the previous iteration reported.
local function prompt_for(p, plan, n, prev)
  local extra = { { title = "Plan", content = plan } }
  if prev then
    extra[2] = { title = "Previous iteration", content = previous_text(prev, n, p.max_iterations) }
  end
  return steps.prompt("implementer", {
    goal = p.task ~= "" and p.task or ("Carry out the plan below (" .. p.plan .. "), all of it."),
    non_goals = { "Work the plan does not ask for", "Commits, pushes, tags or releases" },
    constraints = { "Keep to the plan; where it is silent, follow the code around the change",
      "Stay inside this repository",
      "When you stop before the task is done, say in your report what remains, and print no [CODEX_COMPLETE]" },
    pointers = { p.plan },
    success_check = "Everything the task asks for is done and its checks pass; [FILES_MODIFIED] lists every "
      .. "file you changed, and only those.",
    inputs = { "the files of this repository", "git status and git diff" },
    edits_allowed = true,
    escalate_when = { "the plan is ambiguous or contradicts the code", "a step needs a decision, a credential or "
      .. "access you do not have", "a check fails for a reason outside the task" },
  }, extra, { after = "Goal" })
end

local function one_line(it)
  local m = it.markers
  local what
  if not FINISHED[it.run_status] then
    what = ("run %s: %s"):format(it.run_status, it.why or "no reason given")
  elseif m.status == "complete" then
    what = "complete: " .. m.complete.text
  elseif m.status == "blocked" then
    what = "blocked: " .. m.blockers[1].reason
  elseif m.status == "question" then
    what = "question: " .. m.questions[1].text:match("[^\n]*")
  else
    what = ("%s: %d progress, %d claimed"):format(m.status == "none" and "no markers" or "in progress",
      #m.progress, #m.files_modified)
  end
  return ("Iteration %d/%d  %s  %s"):format(it.n, it.max, it.run_id or "-", what)
end

local function escalation_text(m)
  local out = {}
  for _, b in ipairs(m.blockers) do
    out[#out + 1] = "  [BLOCKED] " .. b.reason
    for _, c in ipairs(b.context) do
      out[#out + 1] = "    " .. c
    end
  end
  for _, q in ipairs(m.questions) do
    out[#out + 1] = "  [QUESTION] " .. q.text:gsub("\n", "\n    ")
    for i, o in ipairs(q.options) do
      out[#out + 1] = ("    %d. %s"):format(i, o)
    end
  end
  return table.concat(out, "\n")
end

-- The union of the claims, one entry per path (the latest claim's change wins), in order.
local function union(claims, more)
  for _, f in ipairs(more) do
    local seen = false
    for _, c in ipairs(claims) do
      if c.path == f.path then
        c.change, seen = f.change, true
      end
    end
    if not seen then
      claims[#claims + 1] = { path = f.path, change = f.change }
    end
  end
end

local function files_text(files)
  if not files.checked then
    return "Files: not checked (" .. files.why .. ")"
  end
  return steps.files_text(files, "Files claimed in [FILES_MODIFIED] against the work tree since the start:")
end

-- The printed report: one line per iteration, the outcome, the file check.
local function report_text(p, iterations, outcome, files)
  local last = iterations[#iterations]
  local lines = { "Task executor: " .. p.plan .. (p.task ~= "" and (" (" .. p.task .. ")") or "") }
  for _, it in ipairs(iterations) do
    lines[#lines + 1] = one_line(it)
    for _, w in ipairs(it.markers.warnings) do
      lines[#lines + 1] = "  note: " .. w
    end
  end
  if outcome == "complete" then
    lines[#lines + 1] = ("Outcome: complete after %d iteration%s."):format(#iterations, #iterations == 1 and "" or "s")
  elseif outcome == "no_progress" then
    lines[#lines + 1] = ("Outcome: stopped by the circuit breaker (%s). Escalate to a person."):format(last.stopped)
  elseif outcome == "max_iterations" then
    lines[#lines + 1] = ("Outcome: not complete after %d iterations (max_iterations). What remains, from the "
      .. "last report:"):format(#iterations)
    lines[#lines + 1] = "  " .. (last.report ~= "" and last.report:gsub("\n", "\n  ") or "(it did not say)")
  else
    lines[#lines + 1] = ("Outcome: %s. Escalate to a person:"):format(outcome)
    lines[#lines + 1] = escalation_text(last.markers)
  end
  return table.concat(lines, "\n") .. "\n\n" .. files_text(files) .. "\n"
end

-- The same for --json, lists marked as arrays so an empty one stays [].
local function report_data(p, iterations, outcome, claims, files)
  local last = iterations[#iterations].markers
  local runs = json.array({})
  for i, it in ipairs(iterations) do
    runs[i] = { run_id = it.run_id, run_status = it.run_status, markers = it.markers.status,
      progress = json.array(it.markers.progress), complete = it.markers.complete and it.markers.complete.text or nil }
  end
  local files_data = files.checked and steps.files_data(files) or {}
  files_data.checked, files_data.why = files.checked, files.why
  for _, b in ipairs(last.blockers) do
    b.context = json.array(b.context)
  end
  for _, q in ipairs(last.questions) do
    q.options = json.array(q.options)
  end
  return { outcome = outcome, stopped = iterations[#iterations].stopped, plan = p.plan, iterations = runs,
    claimed = json.array(claims), files = files_data, blockers = json.array(last.blockers),
    questions = json.array(last.questions), escalate = outcome ~= "complete" }
end

-- What a dry run (or a missing CLI) prints: the first iteration's command and prompt.
local function not_run(ctx, p, r)
  local prompt_path = (ctx.root .. "/runs/" .. r.run_id .. "/prompt.md"):gsub("^%./", "")
  local text = ("Iteration 1 would run:\n  %s\nPrompt: %s\n"):format(r.command, prompt_path)
  if r.status == "not_run" then
    text = ("Not run: %s.\n"):format(r.why) .. text
  end
  return { ok = r.status == "dry_run", text = text, errors = r.status == "not_run" and { r.why } or nil,
    data = { outcome = r.status, plan = p.plan, run_id = r.run_id, command = r.command, prompt = prompt_path } }
end

local function failure(why)
  return { ok = false, text = "task-executor: " .. why .. "\n", errors = { why } }
end

local STOPS = { complete = true, blocked = true, question = true }

-- The circuit breaker (stdlib/sidecar/task/reactions.lua): a finished round that changed no file in the
-- work tree and reported no new progress ends the loop. Returns its reason (or nil) and the
-- snapshot the next round is compared with. A failed run is not weighed: the next round retries it.
local function round_breaker(ctx, it, prev, round_before)
  if not round_before or not FINISHED[it.run_status] then
    return nil, round_before
  end
  local change = worktree.changes(ctx:workdir(), round_before)
  if not change then
    return nil, round_before
  end
  local why = reactions.no_progress(it.n, #worktree.paths(change), it.markers.progress,
    prev and prev.markers.progress)
  return why, worktree.snapshot(ctx:workdir(), { ".agent" }) or round_before
end

return preset.define({
  name = "task-executor",
  summary = "Implement a task from a plan file, in bounded iterations, and check the files it claims",
  description = "A strong implementer (workspace-write) works from the plan and reports with the output "
    .. "markers (docs/formats.md §5). It stops at [CODEX_COMPLETE] with nothing blocked, escalates a [BLOCKED] "
    .. "or [QUESTION] to a person, stops when an iteration changes no file and reports no new progress (the "
    .. "circuit breaker), and gives up after max_iterations. At the end the files it claimed "
    .. "([FILES_MODIFIED]) are compared with the real change of the work tree.",
  params = {
    plan = { type = "string", required = true, doc = "the plan file (a path, relative to the repository)" },
    task = { type = "string", default = "", doc = "the part of the plan to implement (default: all of it)" },
    max_iterations = { type = "integer", default = 3, doc = "at most this many implementer runs" },
    sandbox = { type = "string", default = "workspace-write", choices = { "workspace-write", "danger-full-access" },
      doc = "what the implementer may do" },
  },
  escalates = { "a [BLOCKED] or [QUESTION] from the implementer", "an iteration without progress (no file changed, "
    .. "nothing new reported)", "max_iterations reached without completion" },
  run = function(ctx, p)
    local plan, why = read_plan(ctx, p.plan)
    if not plan then
      return failure(why)
    elseif p.max_iterations < 1 then
      return failure("max_iterations must be 1 or more")
    end
    local before, snap_why
    if not ctx.dry_run then
      before, snap_why = worktree.snapshot(ctx.repo, { ".agent" })
    end

    local iterations, claims, prev, round_before = {}, {}, nil, before
    for n = 1, p.max_iterations do
      ctx:progress("iteration %d of %d", n, p.max_iterations)
      local r = ctx:agent({ kind = "implement", role = "implementer", sandbox = p.sandbox,
        prompt = prompt_for(p, plan, n, prev) })
      if steps.planned(r) then
        return not_run(ctx, p, r)
      end
      local it = { n = n, max = p.max_iterations, run_id = r.run_id, run_status = r.status, why = r.why,
        markers = markers.parse(r.output), report = steps.report_of(r.output) or "" }
      iterations[n] = it
      union(claims, it.markers.files_modified)
      ctx:progress("%s", one_line(it))
      if STOPS[it.markers.status] then
        break
      end
      it.stopped, round_before = round_breaker(ctx, it, prev, round_before)
      if it.stopped then
        ctx:progress("%s", it.stopped)
        break
      end
      prev = it
    end
    local last = iterations[#iterations]
    local outcome = STOPS[last.markers.status] and last.markers.status or last.stopped and "no_progress"
      or "max_iterations"

    local files, change = { checked = false, why = snap_why }, nil
    if before then -- the implementers wrote in the preset run's worktree (ctx:workdir)
      change, files.why = worktree.changes(ctx:workdir(), before)
    end
    if change then
      files = markers.check_files(claims, worktree.paths(change), ctx:workdir())
      files.checked = true
    end
    return { ok = outcome == "complete", text = report_text(p, iterations, outcome, files),
      data = report_data(p, iterations, outcome, claims, files),
      errors = outcome ~= "complete" and { "outcome: " .. outcome .. (last.stopped and (" (" .. last.stopped .. ")")
        or "") } or nil }
  end,
})
