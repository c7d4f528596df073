-- One run's budgets for its page (stdlib/sidecar/service/usage_budgets.lua of_run): the run's own
-- figures against per_run, its task's runs so far against per_task, a limit not set left null, a run
-- of no task, a run whose figures nobody reported, and a run that is not there.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local store = require("sidecar.core.store")
local usage_budgets = require("sidecar.service.usage_budgets")

local function fixture()
  local dir = os.tmpname()
  os.remove(dir)
  local s = assert(store.open(dir .. "/.agent", { create = true }))
  local task = assert(s:create_task({ title = "spends", status = "ready" }))
  local first = assert(s:create_run({ task_id = task.task_id, status = "review", usage = { total = 300 }, cost_usd = 0.5 }))
  local second = assert(s:create_run({ task_id = task.task_id, status = "review", usage = { total = 450 }, cost_usd = 0.25 }))
  local loose = assert(s:create_run({ status = "review", runner_type = "codex" })) -- no task, nothing reported
  return s, task, first, second, loose
end

describe("a run's budgets", function()
  it("its own figures against per_run, its task's runs against per_task", function()
    local s, task, _, second = fixture()
    local cfg = { budgets = { per_run = { tokens = 400 }, per_task = { tokens = 500, usd = 2 } } }
    local b = assert(usage_budgets.of_run(s, cfg, second.run_id))
    expect(b.per_run.tokens):equals(450)
    expect(b.per_run.limit.tokens):equals(400)
    expect(b.per_run.limit.usd):equals(json.null)
    expect(b.per_run.exceeded):is_true()
    expect(b.per_task.task_id):equals(task.task_id)
    expect(b.per_task.tokens):equals(750)
    expect(b.per_task.usd):equals(0.75)
    expect(b.per_task.runs):equals(2)
    expect(b.per_task.limit):equals({ tokens = 500, usd = 2 })
    expect(b.per_task.exceeded):is_true()
    s:close()
  end)

  it("a run of no task has no task's budget; figures its runner reports and it did not are unknown", function()
    local s, _, _, _, loose = fixture()
    local b = assert(usage_budgets.of_run(s, { budgets = { per_run = { usd = 1 } } }, loose.run_id))
    expect(b.per_task):equals(json.null)
    expect(b.per_run.tokens):equals(0)
    expect(b.per_run.unknown_runs):equals(1)
    expect(b.per_run.exceeded):is_false()
    s:close()
  end)

  it("a runner that reports no tokens is not unknown, nor a run still going", function()
    local s = fixture()
    local command = assert(s:create_run({ status = "review", runner_type = "command" }))
    local going = assert(s:create_run({ status = "running", runner_type = "codex" }))
    for _, id in ipairs({ command.run_id, going.run_id }) do
      local b = assert(usage_budgets.of_run(s, { budgets = {} }, id))
      expect(b.per_run.unknown_runs):equals(0)
      expect(b.per_run.tokens):equals(0)
    end
    s:close()
  end)

  it("a run that is not there is not_found, as data", function()
    local s = fixture()
    local b, message, code = usage_budgets.of_run(s, { budgets = {} }, "R-9999")
    expect(b):is_nil()
    expect(message):contains("no run R-9999")
    expect(code):equals("not_found")
    s:close()
  end)
end)
