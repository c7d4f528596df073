-- Budgets (stdlib/sidecar/agent/budget.lua): the limits from the config and the command line,
-- counting a run's spending from its parsed events as they arrive, the decision whether a next
-- run may start, and a run of a codex-dialect agent stopped when it crosses its budget.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_events = require("sidecar.agent.events")
local budget = require("sidecar.agent.budget")
local budget_settings = require("sidecar.core.budget_settings")
local config = require("sidecar.core.config")
local json = require("sidecar.core.json")

-- A codex stream's events, fed to a meter through the real parser, `chunk` bytes at a time.
local function feed(meter, lines, chunk)
  local p = agent_events.parser(require("sidecar.agent.codex"), { on_event = function(kind, fields)
    meter:observe(kind, fields)
  end })
  local text = table.concat(lines, "\n") .. "\n"
  for i = 1, #text, chunk or #text do
    p:feed(text:sub(i, i + (chunk or #text) - 1))
  end
  return p:finish()
end

local function turn(input, output)
  return json.encode({ type = "turn.completed", usage = { input_tokens = input, output_tokens = output } })
end

local NONE = { tokens = 0, usd = 0, unknown = 0, unknown_usd = 0, runs = 0 }

describe("budget limits", function()
  it("read the command line and the config; none at all is false", function()
    expect(budget.from_options(nil, {})):is_false()
    local b = assert(budget.from_options({ per_day = { usd = 5 } }, { budget_tokens = 2000, budget_usd = "1.5" }))
    expect(b.command):equals({ tokens = 2000, usd = 1.5 })
    expect(b.per_day):equals({ usd = 5 })
    expect(b.allow_unknown):is_false()
    expect(budget.from_options({ allow_unknown = true, per_run = { tokens = 9 } }, {}).allow_unknown):is_true()
  end)

  it("refuse what is not a limit, saying where", function()
    local _, why = budget.from_options({}, { budget_tokens = 0 })
    expect(why):contains("--budget-tokens: expected a whole number > 0")
    _, why = budget.from_options({}, { budget_usd = "lots" })
    expect(why):contains("--budget-usd: expected a number")
    _, why = budget.from_options({}, { budget_usd = "nan" })
    expect(why):contains("--budget-usd")
    expect(select(2, budget_settings.check_limit("budgets.per_run", { tokens = 1.5 }))):contains("budgets.per_run.tokens")
    expect(select(2, budget_settings.check_limit("budgets.per_run", { usd = -1 }))):contains("budgets.per_run.usd")
    expect(select(2, budget_settings.check_limit("budgets.per_run", { dollars = 1 }))):contains("unknown setting")
    expect(select(2, budget_settings.check_limit("budgets.per_day", 5))):contains("expected a table")
  end)

  it("are checked when the config loads: unknown keys and bad limits are errors", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p '" .. dir .. "'")
    local function load_with(text)
      local f = assert(io.open(dir .. "/config.lua", "w"))
      f:write("return { budgets = " .. text .. " }")
      f:close()
      return config.load(dir)
    end
    local cfg = assert(load_with("{ per_task = { tokens = 100 }, allow_unknown = true }"))
    expect(cfg.budgets.per_task):equals({ tokens = 100 })
    expect(cfg.budgets.allow_unknown):is_true()
    expect(select(2, load_with("{ per_week = { tokens = 1 } }"))):contains("budgets.per_week: unknown setting")
    expect(select(2, load_with("{ per_run = { tokens = 'many' } }"))):contains("budgets.per_run.tokens")
    expect(assert(load_with("{}")).budgets.per_run):is_nil()
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("budget meter", function()
  it("counts a codex stream's reported usage as it arrives, split anywhere, and stops at the crossing", function()
    local b = assert(budget.from_options({}, { budget_tokens = 2000 }))
    local m = budget.meter(budget.allowance(b, { command = NONE }))
    feed(m, { json.encode({ type = "thread.started", thread_id = "t" }), turn(900, 100) }, 7)
    expect(m.tokens):equals(1000)
    expect(m:stop_now()):is_false()
    feed(m, { turn(2900, 433) }, 3)
    expect(m:stop_now()):is_true()
    expect(m.exceeded):equals({ scope = "command", kind = "tokens", limit = 2000, spent = 3333, left_at_start = 2000,
      run_spent = 3333, at_final = false })
    local record = m:apply({ status = "failed" }, true)
    expect(record.status):equals("budget_exceeded")
    expect(record.failure_reason):equals("budget exceeded: 3333 tokens spent, over the limit of 2000 tokens "
      .. "(--budget-tokens); the agent was stopped")
    expect(m:apply({}, false).failure_reason):contains("; the agent had ended with that report")
    expect(budget.meter({}):apply({ status = "review" }).status):equals("review") -- nothing crossed: untouched
  end)

  it("says the limit set and the spending in all, what was left and the run's own; a cost in the final result stopped nothing", function()
    local b = assert(budget.from_options({}, { budget_usd = 0.03 }))
    local m = budget.meter(budget.allowance(b, { command = { tokens = 0, usd = 0.008, unknown = 0, runs = 1 } }))
    m:observe("message", { text = "working" })
    m:observe("result", { cost_usd = 0.03 })
    expect(m:stop_now()):is_true()
    -- however soon the agent exited after its result (stopped or not by the watchdog), the same record
    local a, b2 = m:apply({}, true), m:apply({}, false)
    expect(a.budget_exceeded):equals(b2.budget_exceeded)
    expect(a.budget_exceeded.stopped):is_false()
    expect(a.budget_exceeded.limit):equals(0.03)
    expect(math.abs(a.budget_exceeded.spent - 0.038) < 1e-9):is_true()
    expect(math.abs(a.budget_exceeded.left_at_start - 0.022) < 1e-9):is_true()
    expect(a.budget_exceeded.run_spent):equals(0.03)
    expect(a.failure_reason):contains("over the limit of $0.0300 (--budget-usd)")
  end)

  it("counts what earlier runs spent against the command's and the task's limits", function()
    local b = assert(budget.from_options({ per_task = { tokens = 5000 } }, { budget_tokens = 10000 }))
    local spent = { command = { tokens = 1000, usd = 0, unknown = 0, runs = 1 },
      per_task = { tokens = 4500, usd = 0, unknown = 0, runs = 3 } }
    local m = budget.meter(budget.allowance(b, spent))
    m:observe("turn_completed", { usage = agent_events.usage(400, 0, 100, 0, 500) })
    expect(m:stop_now()):is_false() -- exactly the 500 left
    m:observe("turn_completed", { usage = agent_events.usage(400, 0, 101, 0, 501) })
    expect(m.exceeded):equals({ scope = "per_task", kind = "tokens", limit = 5000, spent = 5001, left_at_start = 500,
      run_spent = 501, at_final = false })
  end)

  it("counts dollars, less a continued session's earlier report, and ignores what is not a figure", function()
    local b = assert(budget.from_options({ per_run = { usd = 0.5 } }, {}))
    local m = budget.meter(budget.allowance(b, {}), { usd = 2.0 })
    m:observe("result", { cost_usd = 2.4, usage = { total = json.null } })
    expect(m:stop_now()):is_false()
    expect(m.tokens):is_nil()
    m:observe("result", { cost_usd = 0 / 0 })
    m:observe("result", "not a table")
    m:observe("result", { usage = { total = -5 } })
    expect(m:stop_now()):is_false()
    m:observe("result", { cost_usd = 2.6 })
    expect(m.exceeded.scope .. " " .. m.exceeded.kind):equals("per_run usd")
  end)
end)

describe("budget meter on hostile streams", function()
  it("counts only whole reported figures: malformed lines, strings, floats, huge and negative counts are not spending", function()
    local b = assert(budget.from_options({}, { budget_tokens = 2000 }))
    local m = budget.meter(budget.allowance(b, { command = NONE }))
    local s = feed(m, {
      '{"type":"turn.completed","usage":{"input_tokens":"99999","output_tokens":1}}', -- a string: unknown
      '{"type":"turn.completed","usage":{"input_tokens":1e30,"output_tokens":1}}',
      '{"type":"turn.completed","usage":{"input_tokens":-5000,"output_tokens":1}}',
      '{"type":"turn.completed","usage":', -- cut
      "\27]0;title\7 not json \255\254",
      '{"type":"turn.completed","usage":[1,2,3]}',
    }, 5)
    expect(m.tokens):is_nil()
    expect(m:stop_now()):is_false()
    expect(s.malformed_lines > 0):is_true()
    feed(m, { turn(1500, 501) }) -- then a real report over the limit
    expect(m.exceeded.spent):equals(2001)
  end)

  it("keeps counting a flood of reports and stops at the first crossing", function()
    local b = assert(budget.from_options({}, { budget_tokens = 1000000 }))
    local m = budget.meter(budget.allowance(b, { command = NONE }))
    local lines = {}
    for i = 1, 20000 do
      lines[i] = turn(i * 100, 0)
    end
    feed(m, lines, 4096)
    expect(m.exceeded):equals({ scope = "command", kind = "tokens", limit = 1000000, spent = 1000100,
      left_at_start = 1000000, run_spent = 1000100, at_final = false })
  end)
end)

describe("budget.may_start", function()
  local b = assert(budget.from_options({ per_day = { tokens = 100000 } }, { budget_tokens = 2000 }))

  it("lets a run start while every scope has something left", function()
    expect(budget.may_start(b, { command = NONE, per_day = NONE }, budget.reports("codex"))):is_true()
    expect(budget.may_start(false, {}, budget.reports(nil))):is_true()
  end)

  it("refuses once a scope is spent, with the figures", function()
    local ok, why, crossed = budget.may_start(b, { command = { tokens = 3333, usd = 0, unknown = 0, runs = 1 },
      per_day = NONE }, budget.reports("claude"))
    expect(ok):is_nil()
    expect(why):equals("budget exceeded: 3333 tokens spent, over the limit of 2000 tokens (--budget-tokens): "
      .. "nothing is left for another run")
    expect(crossed):equals({ scope = "command", kind = "tokens", limit = 2000, spent = 3333 })
  end)

  it("refuses unknown usage unless it is allowed", function()
    local unknown = { tokens = 10, usd = 0, unknown = 1, runs = 2 }
    local ok, why = budget.may_start(b, { command = unknown }, budget.reports("codex"))
    expect(ok):is_nil()
    expect(why):contains("1 run under the command budget reported no token usage")
    expect(select(2, budget.may_start(b, { command = NONE }, budget.reports(nil)))):contains(
      "this runner reports no token usage, so the command budget cannot be kept")
    local allowing = assert(budget.from_options({}, { budget_tokens = 2000, budget_allow_unknown = true }))
    expect(budget.may_start(allowing, { command = unknown }, budget.reports(nil))):is_true()
  end)

  it("refuses a dollar budget for a runner that reports no cost (codex), not one that does (claude)", function()
    local usd = assert(budget.from_options({}, { budget_usd = "1" }))
    expect(select(2, budget.may_start(usd, { command = NONE }, budget.reports("codex")))):contains(
      "this runner reports no cost, so the command budget cannot be kept")
    expect(budget.may_start(usd, { command = NONE }, budget.reports("claude"))):is_true()
    local costless = { tokens = 0, usd = 0, unknown = 0, unknown_usd = 1, runs = 1 }
    expect(select(2, budget.may_start(usd, { command = costless }, budget.reports("claude")))):contains(
      "1 run under the command budget reported no cost")
  end)

  it("sums recorded runs: usage.total and cost_usd, unknown where none was reported", function()
    local spent = budget.spent_of({ { status = "review", dialect = "claude", usage = { total = 3333 }, cost_usd = 0.25 },
      { status = "review", dialect = "claude", usage = { total = json.null } }, { dry_run = true, status = "dry_run" } })
    expect(spent):equals({ tokens = 3333, usd = 0.25, unknown = 1, unknown_usd = 1, unmetered = 0, unmetered_usd = 0,
      runs = 3, in_flight = 0 })
  end)

  it("counts a run still going as in flight, with what it reported so far, never as unknown", function()
    local spent = budget.spent_of({ { status = "running", dialect = "codex", usage = { total = json.null } },
      { status = "queued", runner_type = "claude" }, { status = "running", dialect = "codex", usage = { total = 500 } } })
    expect(spent):equals({ tokens = 500, usd = 0, unknown = 0, unknown_usd = 0, unmetered = 0, unmetered_usd = 0,
      runs = 3, in_flight = 3 })
    local b = assert(budget.from_options({ per_task = { tokens = 100000 } }, {}))
    expect(budget.may_start(b, { per_task = spent }, budget.reports("codex"))):is_true()
  end)

  it("holds nothing against a finished run whose runner reports no such figure: it is unmetered", function()
    local spent = budget.spent_of({ { status = "review", dialect = false, usage = { total = json.null } },
      { status = "failed", runner_type = "command" }, -- a record from before `dialect`: by its runner's name
      { status = "review", dialect = "codex", usage = { total = 10 } }, -- codex reports no cost
      { status = "review", runner_type = "codex", usage = { total = json.null } } })
    expect(spent):equals({ tokens = 10, usd = 0, unknown = 1, unknown_usd = 0, unmetered = 2, unmetered_usd = 4,
      runs = 4, in_flight = 0 })
    local day = assert(budget.from_options({ per_day = { tokens = 100000 } }, {}))
    local unmetered_only = budget.spent_of({ { status = "review", dialect = false } })
    expect(budget.may_start(day, { per_day = unmetered_only }, budget.reports("claude"))):is_true()
    expect(select(2, budget.may_start(day, { per_day = spent }, budget.reports("claude")))):contains(
      "1 run under the per_day budget reported no token usage")
  end)
end)

describe("a run under a budget", function()
  it("is stopped mid-turn when its stream crosses the budget, its whole group, and recorded so", function()
    local repo = os.tmpname()
    os.remove(repo)
    os.execute("mkdir -p '" .. repo .. "' && cd '" .. repo .. "' && git init -q")
    local b = assert(budget.from_options({}, { budget_tokens = 2000 }))
    local m = budget.meter(budget.allowance(b, { command = NONE }))
    local script = "cat >/dev/null; echo '" .. turn(3000, 333) .. "'; sleep 30 & sleep 30"
    local record = assert(require("sidecar.agent.run").execute({ runner = "codex", repo = repo, prompt = "spend",
      program = { "sh", "-c", script, "codex" }, budget = m, kill_grace_ms = 200 }))
    expect(record.status):equals("budget_exceeded")
    expect(record.budget_exceeded):equals({ scope = "command", kind = "tokens", limit = 2000, spent = 3333,
      left_at_start = 2000, run_spent = 3333, stopped = true }) -- by the budget, not by the exit deadline after its result
    expect(record.usage.total):equals(3333)
    expect(record.signal):equals("TERM") -- stopped, not waited for: the sleeps would take 30 s
    os.execute("rm -rf '" .. repo .. "'")
  end)

  it("takes budget_tokens from a script as agent_run.execute's option, with the config's budgets", function()
    local repo = os.tmpname()
    os.remove(repo)
    os.execute("mkdir -p '" .. repo .. "/.agent' && cd '" .. repo .. "' && git init -q")
    local agent_run = require("sidecar.agent.run")
    local script = "cat >/dev/null; echo '" .. turn(3000, 333) .. "'; sleep 30 & sleep 30"
    local record = assert(agent_run.execute({ runner = "codex", repo = repo, prompt = "spend",
      program = { "sh", "-c", script, "codex" }, budget_tokens = 2000, kill_grace_ms = 200 }))
    expect({ record.status, record.budget_exceeded.scope, record.budget_exceeded.limit })
      :equals({ "budget_exceeded", "command", 2000 })
    -- The config's per_day budget is spent now: the next run is refused before anything is recorded.
    local f = assert(io.open(repo .. "/.agent/config.lua", "w"))
    f:write("return { budgets = { per_day = { tokens = 3000 } } }\n")
    f:close()
    local none, why, code = agent_run.execute({ runner = "codex", repo = repo, prompt = "again",
      program = { "sh", "-c", script, "codex" }, budget_tokens = 100000 })
    expect({ none, code }):equals({ nil, "budget_refused" })
    expect(why):contains("budget exceeded: 3333 tokens spent, over the limit of 3000 tokens (config budgets.per_day")
    local s = assert(require("sidecar.core.store").open(repo .. "/.agent"))
    expect(#s:list_runs({ limit = 0 })):equals(1)
    s:close()
    expect(function() agent_run.execute({ runner = "codex", prompt = "x", budget_tokens = 0 }) end)
      :raises("agent_run.execute: budget_tokens: expected a whole number > 0, got 0")
    expect(function() agent_run.execute({ runner = "codex", prompt = "x", budget_tokens = 5, budget = false }) end)
      :raises("give either `budget` (a meter) or `budget_tokens`/`budget_usd`")
    os.execute("rm -rf '" .. repo .. "'")
  end)
end)

describe("a budget shared by runs going at once (sidecar.agent.budget_live)", function()
  local budget_live = require("sidecar.agent.budget_live")
  -- A store that totals `others` (what the scope's other runs spent) and this run's saved figures.
  local function shared_meter(limit, others)
    local saves, queries = {}, {}
    local m = budget.meter(budget.allowance({ command = { tokens = limit } }, { command = { tokens = 0, usd = 0 } }))
    m.group = { id = "g-1", since = "2026-11-26T00:00:00Z" }
    local fake = { usage = function(_, q)
      queries[#queries + 1] = q
      local own = m.saved and m.saved.tokens or 0
      return { { total = { sum = others.tokens + own }, cost_usd = { sum = 0 } } }
    end }
    m:share(fake, function(figures) saves[#saves + 1] = figures end)
    return m, saves, queries
  end

  it("saves the run's figures so far, and stops it once its scope's runs crossed the limit together", function()
    local others = { tokens = 300 }
    local m, saves, queries = shared_meter(1000, others)
    feed(m, { turn(500, 100) })
    expect(m:stop_now()):equals(false) -- 300 + 600: under the limit
    expect(#saves):equals(1)
    expect(saves[1].tokens):equals(600)
    expect(queries[1].budget_group):equals("g-1")
    expect(queries[1].since):equals("2026-11-26T00:00:00Z")
    others.tokens = 500 -- a sibling went on
    m.checked_at = m.checked_at - budget_live.CHECK_MS -- a second later
    expect(m:stop_now()):equals(true)
    expect(m.exceeded.spent):equals(1100) -- its own counted once, as it has it now
    expect(m.exceeded.run_spent):equals(600)
    expect(m.exceeded.shared):equals(true)
    local record = m:apply({ status = "review" }, true)
    expect(record.status):equals("budget_exceeded")
    expect(record.failure_reason):matches("1100 tokens spent, over the limit of 1000 tokens %(%-%-budget%-tokens%), with the runs going beside it; the agent was stopped")
  end)

  it("reads the store at most once a second, and writes only changed figures", function()
    local m, saves, queries = shared_meter(1000, { tokens = 0 })
    for _ = 1, 20 do
      m:stop_now()
    end
    expect(#queries):equals(1)
    expect(#saves):equals(0) -- nothing reported yet
  end)

  it("holds a flood of reports to a write of its record every SAVE_MS, the last figure kept", function()
    local m, saves = shared_meter(10 ^ 9, { tokens = 0 })
    for i = 1, 2000 do
      feed(m, { turn(i, 0) })
      m:stop_now()
    end
    expect(#saves <= 2):is_true() -- a hostile stream cannot turn into thousands of store writes
    m.saved_at = m.saved_at - budget_live.SAVE_MS -- later: what came since is written once
    m:stop_now()
    expect(saves[#saves].tokens):equals(2000)
  end)

  it("puts the runs of a fan-out in the group of the command that started them", function()
    local g = budget_live.group(false)
    expect(g.id):matches("^%x+%-")
    local env = budget_live.group_env(g)
    expect(env.SIDECAR_BUDGET_GROUP):equals(g.id .. " " .. g.since)
  end)
end)
