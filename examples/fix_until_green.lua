-- Fix until green: run the tests; while they fail, ask an implementer to fix the code, then run
-- them again. (Tasks get the same loop from the config: reactions.validation_failed = {action = "fix"},
-- stdlib/sidecar/task/reactions.lua, whose failure signature this script uses.) Two brakes: a cap on fixes (--max, default 3) and a circuit breaker that stops as
-- soon as a failure comes back that was seen before (the same signature twice: the fixes are not
-- helping, a person should look). An implementer's [BLOCKED] or [QUESTION] stops it too.
-- Shows: a preset context outside a preset, prompt_kit's implementer template with a section of
-- our own, the output markers, and proc for the test command.
--
--   sidecar script examples/fix_until_green.lua [--repo DIR] [--runner R[:MODEL]] [--max N]
--     [--budget-tokens N] -- TEST COMMAND...
--   sidecar script examples/fix_until_green.lua --max 2 --budget-tokens 200000 -- make test
--
-- The test command runs with /bin/sh in DIR. The implementer may write to the work tree
-- (workspace-write); it never commits. --budget-tokens caps what all the fixes spend together (the
-- config's `budgets` apply too): a fix that crosses it is stopped, and no fix starts once it is
-- spent. Exit 0 when the tests pass, 1 when they still fail.
local markers = require("sidecar.agent.markers")
local preset_context = require("sidecar.preset.context")
local proc = require("sidecar.core.proc")
local prompt = require("sidecar.prompt.compile")
local prompt_kit = require("sidecar.prompt.kit")
local reactions = require("sidecar.task.reactions")
local runners = require("sidecar.agent.runners")

local TEST_TIMEOUT_MS = 10 * 60 * 1000
local OUTPUT_LINES = 40 -- the tail of the test output the implementer sees

-- Options before "--"; the test command after it.
local o, i = { repo = ".", max = "3" }, 1
local OPTIONS = { ["--repo"] = "repo", ["--runner"] = "runner", ["--max"] = "max", ["--budget-tokens"] = "budget" }
while i <= #arg and arg[i] ~= "--" and OPTIONS[arg[i]] do
  o[OPTIONS[arg[i]]], i = arg[i + 1], i + 2
end
local test_command = table.concat(arg, " ", arg[i] == "--" and i + 1 or i)
local max = math.tointeger(tonumber(o.max))
local budget_tokens = o.budget and math.tointeger(tonumber(o.budget))
if test_command == "" or not max or max < 0 or (o.budget and not (budget_tokens and budget_tokens > 0)) then
  io.stderr:write("usage: sidecar script examples/fix_until_green.lua [--repo DIR] [--runner R[:MODEL]] "
    .. "[--max N] [--budget-tokens N] -- TEST COMMAND...\n")
  os.exit(2)
end
local runner, model = (o.runner or ""):match("^([^:]*):?(.*)$")
runner, model = runner ~= "" and runner or nil, model ~= "" and model or nil
local ctx = preset_context.new({ repo = o.repo, preset = { name = "fix-until-green", summary = "fix until green" },
  runner = runner, model = model, budget_tokens = budget_tokens,
  on_progress = function(line) io.stderr:write(line, "\n") end })
local known, unknown_why = runners.get(runner or "codex") -- the config's runners are registered by now
if not known then
  io.stderr:write(unknown_why, "\n")
  os.exit(2)
end

local function run_tests()
  local r = proc.run(proc.shell(test_command), { cwd = o.repo, timeout_ms = TEST_TIMEOUT_MS, stderr = true,
    max_output = 256 * 1024 })
  return { ok = r.ok, code = r.code, timed_out = r.timed_out, output = (r.stdout or "") .. (r.stderr or "") }
end

-- A failure's signature (stdlib/sidecar/task/reactions.lua: what changes between two runs of the
-- same failure, durations, addresses, temporary paths, is blanked out), and the first line that
-- says what failed (else the last line), to show.
local function signature(test)
  local sig = reactions.signature({ { kind = "test", command = test_command, exit_code = test.code,
    timed_out = test.timed_out, output = test.output } })
  local last
  for line in test.output:gmatch("[^\n]+") do
    local lower = line:lower()
    if lower:find("fail") or lower:find("error") or lower:find("assert") or lower:find("expected") then
      return sig, line
    end
    last = line
  end
  return sig, last or "(no output)"
end

local function fix_prompt(test, earlier)
  local sections, opts = prompt_kit.template("implementer", {
    goal = "Make the test command pass: `" .. test_command .. "`",
    non_goals = { "Weakening, skipping or deleting tests to make them pass", "Unrelated changes" },
    constraints = { "Fix the code under test; change a test only when the test itself is wrong, and say so" },
    prior_decisions = earlier,
    success_check = "`" .. test_command .. "` exits 0.",
    inputs = { "the files of this repository", "the test output below" },
    edits_allowed = true, output_path = "your final message",
    escalate_when = { "the failure needs a decision about the intended behaviour", "the tests need a service, "
      .. "credential or tool that is not here" },
    privacy = prompt_kit.DEFAULT_PRIVACY,
  })
  prompt_kit.insert_sections(sections, { after = "Goal" }, { { title = "Test output", required = true,
    content = ("Exit %s. The last %d lines:\n```\n%s\n```"):format(
      test.timed_out and "timed out" or tostring(test.code), OUTPUT_LINES, reactions.last_lines(test.output, OUTPUT_LINES)) } })
  return (prompt.compile(sections, opts))
end

local function finish(status, message)
  ctx:close()
  print(message)
  os.exit(status)
end

local seen, earlier = {}, {} -- signature -> the test run that first showed it; what each fix did
for attempt = 1, max + 1 do
  local test = run_tests()
  if test.ok then
    print(("test %d: pass"):format(attempt))
    finish(0, ("Green after %d fix%s."):format(attempt - 1, attempt == 2 and "" or "es"))
  end
  local sig, shown = signature(test)
  print(("test %d: FAIL (%s): %s"):format(attempt, test.timed_out and "timed out" or ("exit " .. tostring(test.code)),
    shown))
  if seen[sig] then
    finish(1, ("Circuit breaker: the same failure as test %d; the fixes are not helping. Escalate to a person.")
      :format(seen[sig]))
  elseif attempt > max then
    finish(1, ("Still failing after %d fix%s (--max %d)."):format(max, max == 1 and "" or "es", max))
  end
  seen[sig] = attempt

  local r = ctx:agent({ kind = "implement", role = "fixer", sandbox = "workspace-write",
    prompt = fix_prompt(test, earlier) })
  if r.status == "not_started" then -- the budget is spent
    finish(1, "No more fixes: " .. r.why)
  end
  local m = markers.parse(r.output or "")
  local files = {}
  for _, f in ipairs(m.files_modified) do
    files[#files + 1] = f.path
  end
  print(("fix %d: %s %s: %s (files: %s)"):format(attempt, r.run_id or "-", r.status,
    m.complete and m.complete.text or r.why or m.status, #files > 0 and table.concat(files, ", ") or "none"))
  if r.status == "dry_run" or r.status == "not_run" then
    finish(1, "The fixer did not run: " .. tostring(r.why) .. "\n  " .. tostring(r.command))
  elseif m.status == "blocked" or m.status == "question" then
    local what = m.blockers[1] and m.blockers[1].reason or m.questions[1].text
    finish(1, ("The fixer needs a person: [%s] %s"):format(m.status == "blocked" and "BLOCKED" or "QUESTION", what))
  end
  earlier[#earlier + 1] = ("Fix %d (%s) changed %s, and the tests still failed"):format(
    attempt, r.run_id or "-", #files > 0 and table.concat(files, ", ") or "nothing")
end
