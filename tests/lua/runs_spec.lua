-- Running tasks (stdlib/sidecar/task/runs.lua): the settings of a run (command line, then the
-- task's tracking, then the config), runner lists, and a run of the command runner from end to
-- end, its progress given to on_progress (the library never prints).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local proc = require("sidecar.core.proc")
local runs = require("sidecar.task.runs")

local repo, s, cfg
local function sh(command)
  assert(os.execute("cd '" .. repo .. "' && " .. command .. " >/dev/null 2>&1"), command)
end

local write = test.write

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "/.agent'")
  sh("git init -q -b main && git config user.email t@example.com && git config user.name T && " ..
    "echo a > a.txt && git add -A && git commit -qm init")
  -- The command runner: an agent that reads the prompt and answers one line.
  local agent = { proc.executable(), "-e", "io.read('a') io.write('looked at it\\n')" }
  local quoted = {}
  for i, a in ipairs(agent) do
    quoted[i] = ("%q"):format(a)
  end
  write(repo .. "/.agent/config.lua", ("return { timeout = '2m', runners = { command = { command = { %s } } } }\n")
    :format(table.concat(quoted, ", ")))
  s, cfg = assert(runs.open(repo .. "/.agent"))
end)
test.after_each(function()
  s:close()
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("runs.runner_list", function()
  it("reads a --runner value into names, each a known runner", function()
    expect(runs.runner_list("codex")):equals({ "codex" })
    expect(runs.runner_list(" codex , claude ")):equals({ "codex", "claude" })
  end)

  it("refuses an empty name and an unknown runner, saying which", function()
    local names, why = runs.runner_list("codex,,claude")
    expect(names):is_nil()
    expect(why):equals("--runner 'codex,,claude': an empty runner name (write codex,claude)")
    local _, unknown = runs.runner_list("codex,nope")
    expect(unknown):contains("nope")
  end)
end)

describe("runs.settings", function()
  it("takes the command line first, then the task's tracking, then the config", function()
    local task = { tracking = { assigned_runner = "claude", assigned_agent_role = "reviewer" } }
    local from_task = assert(runs.settings(cfg, task, {}))
    expect(from_task.runners):equals({ "claude" })
    expect(from_task.agent_role):equals("reviewer")
    expect(from_task.timeout_ms):equals(120000)
    local from_line = assert(runs.settings(cfg, task, { runner = "codex", agent_role = "scout", timeout = "90s" }))
    expect(from_line.runners):equals({ "codex" })
    expect(from_line.agent_role):equals("scout")
    expect(from_line.timeout_ms):equals(90000)
  end)

  it("says which option is wrong", function()
    local st, why = runs.settings(cfg, {}, { runner = "codex", timeout = "soon" })
    expect(st):is_nil()
    expect(why):equals("--timeout: 'soon' is not a duration (write 90s, 5m, 2h or 1h30m)")
    local _, idle = runs.settings(cfg, {}, { runner = "codex", idle_timeout = "0s" })
    expect(idle):contains("--idle-timeout: '0s' is too short: a duration is 1ms or more")
  end)

  it("passes the caller's on_progress on", function()
    local function say() end
    expect(assert(runs.settings(cfg, {}, { runner = "codex", on_progress = say })).on_progress):is(say)
  end)
end)

describe("runs.run_task", function()
  it("runs a task on the command runner; progress goes to on_progress only", function()
    local task = assert(s:create_task({ title = "Look at a.txt", status = "ready", goal = "Look at a.txt" }))
    local lines = {}
    local st = assert(runs.settings(cfg, task, { runner = "command", on_progress = function(line)
      lines[#lines + 1] = line
    end }))
    local result = assert(runs.run_task(s, cfg, task, st))
    local run = result.steps[#result.steps]
    expect(run.status):equals("review")
    expect(lines[1]):equals(("task %s: command started"):format(task.task_id))
    expect(lines[2]):equals(("run %s: agent ended review"):format(run.run_id))
    expect(#lines):equals(2)
    expect(s:get_task(task.task_id).status):equals("review")
  end)

  it("records a dry run without running anything, and without progress", function()
    local task = assert(s:create_task({ title = "Dry", status = "ready", goal = "Nothing" }))
    local lines = {}
    local st = assert(runs.settings(cfg, task, { runner = "command", dry_run = true, on_progress = function(line)
      lines[#lines + 1] = line
    end }))
    local result = assert(runs.run_task(s, cfg, task, st))
    expect(result.steps[1].status):equals("dry_run")
    expect(lines):equals({})
  end)
end)
