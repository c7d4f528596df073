-- What a preset's run(ctx, params) works with (stdlib/sidecar/preset/context.lua), in a
-- repository of its own: routing, agents that ran, were planned or could not run, progress given
-- to on_progress, and the store's task for the preset run.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local context = require("sidecar.preset.context")
local proc = require("sidecar.core.proc")
local store = require("sidecar.core.store")

local repo
local PRESET = { name = "spec-preset", summary = "a preset of this spec" }

local write = test.write

-- A config with `runners`: {name = argv} of command runners.
local function config(runner_argvs, extra)
  local parts = {}
  for name, argv in pairs(runner_argvs) do
    local quoted = {}
    for i, a in ipairs(argv) do
      quoted[i] = ("%q"):format(a)
    end
    parts[#parts + 1] = ("[%q] = { command = { %s } }"):format(name, table.concat(quoted, ", "))
  end
  write(repo .. "/.agent/config.lua", ("return { %s runners = { %s } }\n"):format(extra or "", table.concat(parts, ", ")))
end

-- An agent that reads the prompt and answers `text`.
local function answering(text)
  return { proc.executable(), "-e", ("io.read('a') io.write(%q)"):format(text) }
end

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  assert(os.execute("mkdir -p '" .. repo .. "/.agent' && cd '" .. repo .. "' && git init -q -b main"))
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("preset context", function()
  it("runs an agent of the config's and gives the whole answer", function()
    config({ ["ctx-alice"] = answering("line one\nline two\n") })
    local ctx = context.new({ repo = repo, preset = PRESET })
    local r = ctx:agent({ kind = "scan", prompt = "Look", runner = "ctx-alice" })
    expect(r.status):equals("review")
    expect(r.output):equals("line one\nline two\n")
    expect(r.route.runner):equals("ctx-alice")
    expect(r.route.why):contains("runner ctx-alice named by the preset")
    expect(ctx.runs):equals({ r.run_id })
    ctx:close()
    local s = assert(store.open(repo .. "/.agent"))
    local task = assert(s:get_run(r.run_id)).task_id
    expect(s:get_task(task).status):equals("done")
    expect(s:get_task(task).title):equals("preset spec-preset")
    s:close()
  end)

  it("publishes the start and end of each run its workers make (an embedder's on_event, the UI)", function()
    config({ ["ctx-alice"] = answering("done\n") })
    local seen = {}
    local sub <close> = require("sidecar.core.run_events").subscribe(function(e)
      if e.kind == "run.started" or e.kind == "run.finished" then
        seen[e.run_id] = seen[e.run_id] or {}
        table.insert(seen[e.run_id], e.kind .. ":" .. tostring(e.fields.status or e.fields.runner))
      end
    end)
    local ctx = context.new({ repo = repo, preset = PRESET, jobs = 2 })
    local rs = ctx:agents({ { kind = "scan", prompt = "one", runner = "ctx-alice" },
      { kind = "scan", prompt = "two", runner = "ctx-alice" } })
    ctx:close()
    for _, r in ipairs(rs) do
      expect(r.status):equals("review")
      expect(seen[r.run_id]):equals({ "run.started:ctx-alice", "run.finished:review" })
    end
  end)

  it("marks its clean read-only steps reported at its close, reading again only those whose end did not", function()
    config({ ["ctx-alice"] = answering("done\n") })
    local ctx = context.new({ repo = repo, preset = PRESET, jobs = 2 })
    local rs = ctx:agents({ { kind = "scan", prompt = "one", runner = "ctx-alice" },
      { kind = "scan", prompt = "two", runner = "ctx-alice" } })
    local s = ctx:store()
    -- A step recorded elsewhere (a Slurm job's, imported) whose end left it pending.
    local imported = assert(s:create_run({ status = "running", sandbox = "read-only" }))
    imported.status, imported.review_state = "review", "pending"
    assert(s:update_run(imported))
    ctx.runs[#ctx.runs + 1] = imported.run_id
    local read = {}
    s.get_run = function(self, id) -- the store's own, noted (the instance's field comes first)
      read[#read + 1] = id
      return getmetatable(self).__index.get_run(self, id)
    end
    do
      local _ <close> = setmetatable({}, { __close = function() s.get_run = nil end })
      ctx:close()
    end
    expect(read):equals({ imported.run_id })
    local check = assert(store.open(repo .. "/.agent"))
    for _, id in ipairs({ rs[1].run_id, rs[2].run_id, imported.run_id }) do
      expect(check:get_run(id).review_state):equals("reported")
    end
    check:close()
  end)

  it("plans without running on a dry run: the prompt recorded, the command shown", function()
    config({ ["ctx-bob"] = answering("never") })
    local ctx = context.new({ repo = repo, preset = PRESET, dry_run = true })
    local r = ctx:agent({ kind = "scan", prompt = "Plan me", runner = "ctx-bob" })
    ctx:close()
    expect(r.status):equals("dry_run")
    expect(r.why):equals("--dry-run")
    expect(r.command):contains(" < " .. repo .. "/.agent/runs/" .. r.run_id .. "/prompt.md")
    expect(#ctx.missed):equals(0)
  end)

  it("lists a step whose CLI is missing as missed, or as skipped when the preset marked it optional", function()
    config({ ["ctx-gone"] = { "/nonexistent/agent-of-this-spec" } })
    local ctx = context.new({ repo = repo, preset = PRESET })
    local needed = ctx:agent({ kind = "scan", prompt = "x", runner = "ctx-gone" })
    local optional = ctx:agent({ kind = "scan", prompt = "y", runner = "ctx-gone", optional = true })
    ctx:close()
    expect(needed.status):equals("not_run")
    expect(needed.why):contains("/nonexistent/agent-of-this-spec is not installed")
    expect(optional.skipped):is_true()
    expect(#ctx.missed):equals(1)
    expect(ctx.missed[1].step):equals("scan on ctx-gone")
    expect(#ctx.skipped):equals(1)
    expect(ctx.skipped[1].run_id):equals(optional.run_id)
  end)

  it("routes by kind and risk, the config's runner taking the built-in tiers' place", function()
    config({ ["ctx-carol"] = answering("x") }, 'runner = "ctx-carol", model = "m-c",')
    local ctx = context.new({ repo = repo, preset = PRESET })
    local r = ctx:route("review", "high")
    expect(r.runner):equals("ctx-carol")
    expect(r.model):equals("m-c")
    expect(r.tier):equals("strong")
    local overridden = context.new({ repo = repo, preset = PRESET, runner = "codex", model = "m-x" }):route("scan")
    expect(overridden.runner):equals("codex")
    expect(overridden.model):equals("m-x")
  end)

  it("gives progress lines to on_progress, named by the preset, and tells given parameters from defaults", function()
    config({})
    local lines = {}
    local ctx = context.new({ repo = repo, preset = PRESET, explicit = { agent = true },
      on_progress = function(line) lines[#lines + 1] = line end })
    ctx:progress("step %d of %d", 1, 2)
    expect(lines):equals({ "spec-preset: step 1 of 2" })
    expect(ctx:given("agent")):is_true()
    expect(ctx:given("limit")):is_false()
    context.new({ repo = repo, preset = PRESET }):progress("nobody listens") -- and nothing is printed
  end)

  it("raises when the repository's config is wrong, naming it", function()
    write(repo .. "/.agent/config.lua", "return { colour = 'red' }\n")
    expect(function() context.new({ repo = repo, preset = PRESET }) end):raises("colour: unknown setting")
  end)

  it("does not run a step on an unknown runner, records nothing, and says why (an untrusted config)", function()
    config({ mine = answering("hi") })
    local trust = require("sidecar.core.trust")
    trust.set_policy("none") -- the repository's config is not trusted, so `mine` is not defined
    local ok, ctx = pcall(context.new, { repo = repo, preset = PRESET })
    trust.set_policy(nil)
    assert(ok, ctx)
    local r = ctx:agent({ kind = "scan", runner = "mine", prompt = "hi" })
    expect(r.status):equals("not_run")
    expect(r.run_id):is_nil()
    expect(r.why):contains("unknown runner 'mine'")
    expect(r.why):contains("(untrusted: " .. repo .. "/.agent/config.lua is not trusted, so it did not run")
    expect(#ctx.missed):equals(1)
    local listed = ctx:agents({ { kind = "scan", runner = "mine", prompt = "again", optional = true } })
    expect(listed[1].status):equals("not_run")
    expect(#ctx.skipped):equals(1)
    ctx:close()
    local s = assert(store.open(repo .. "/.agent"))
    expect(#s:list_runs({ limit = 0 })):equals(0)
    s:close()
  end)

  it("refuses an option it does not know, naming the known ones", function()
    config({})
    expect(function() context.new({ repo = repo, budget_token = 2000 }) end)
      :raises("preset_context.new: unknown option `budget_token` (did you mean `budget_tokens`?) (known: repo,")
    expect(function() context.new({ repo = repo, budget_tokens = "lots" }) end)
      :raises("preset_context.new: budget_tokens: expected a whole number > 0, got lots")
    local ctx = context.new({ repo = repo })
    expect(function() ctx:agent({ kind = "scan", promt = "hi", prompt = "hi" }) end)
      :raises("ctx:agent: unknown option `promt` (did you mean `prompt`?) (known: kind, prompt,")
    expect(function() ctx:agents({ { kind = "scan", prompt = "hi", lense = "x" } }) end)
      :raises("ctx:agent: unknown option `lense` (did you mean `lens`?)")
  end)
end)

-- A codex-dialect agent that reports `tokens` and answers.
local function spending(tokens)
  return ("{ command = { %q, '-e', %q }, dialect = 'codex' }"):format(proc.executable(),
    ("io.read('a') print('{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":%d,\"output_tokens\":0}}') "
      .. "print('{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"spent\"}}')")
      :format(tokens))
end

describe("a script's context under a budget", function()
  it("shares budget_tokens among its agents: a step past it is not started, and says why", function()
    write(repo .. "/.agent/config.lua", "return { runners = { spender = " .. spending(3000) .. " } }\n")
    local ctx = context.new({ repo = repo, runner = "spender", budget_tokens = 2000, jobs = 1 })
    local first = ctx:agent({ kind = "scan", prompt = "spend" })
    expect(first.status):equals("budget_exceeded")
    local rest = ctx:agents({ { kind = "scan", prompt = "spend again" }, { kind = "scan", prompt = "and again" } })
    expect({ rest[1].status, rest[2].status, rest[1].run_id }):equals({ "not_started", "not_started", nil })
    expect(rest[1].why):contains("a step on spender not started: budget exceeded: 3000 tokens spent, over the limit "
      .. "of 2000 tokens")
    expect(#ctx.budget_stops):equals(3) -- the step it stopped, and the two it did not start
    expect(ctx.budget_stops[1]):contains("the step on spender (R-")
    expect(ctx.budget_stops[1]):contains(") was stopped: budget exceeded: 3000 tokens spent")
    ctx:close()
    local s = assert(store.open(repo .. "/.agent"))
    expect(#s:list_runs({ limit = 0 })):equals(1)
    s:close()
  end)

  it("takes a budget for one ctx:agents call: its steps share it, and the context's is back after", function()
    write(repo .. "/.agent/config.lua", "return { runners = { spender = " .. spending(1500) .. " } }\n")
    local ctx = context.new({ repo = repo, runner = "spender", jobs = 1 })
    local steps = { { kind = "scan", prompt = "one" }, { kind = "scan", prompt = "two" }, { kind = "scan", prompt = "three" } }
    local rs = ctx:agents(steps, { budget_tokens = 2000 })
    expect({ rs[1].status, rs[2].status, rs[3].status }):equals({ "review", "budget_exceeded", "not_started" })
    expect(rs[2].why):contains("3000 tokens spent, over the limit of 2000 tokens (ctx:agents' budget_tokens)")
    expect(rs[3].why):contains("over the limit of 2000 tokens (ctx:agents' budget_tokens): nothing is left")
    expect(not ctx.budget):is_true() -- the call's limit went with it
    expect(ctx:agent({ kind = "scan", prompt = "after" }).status):equals("review")
    expect(function() ctx:agents(steps, { budget_token = 5 }) end)
      :raises("ctx:agents: unknown option `budget_token` (did you mean `budget_tokens`?)")
    expect(function() ctx:agents(steps, { budget_tokens = -1 }) end)
      :raises("ctx:agents: budget_tokens: expected a whole number > 0, got -1")
    ctx:close()
  end)

  it("applies the config's budgets to a script as to a preset", function()
    write(repo .. "/.agent/config.lua", "return { budgets = { per_task = { tokens = 1000 } }, runners = { spender = "
      .. spending(1500) .. " } }\n")
    local ctx = context.new({ repo = repo, runner = "spender" })
    expect(ctx:agent({ kind = "scan", prompt = "spend" }).status):equals("budget_exceeded")
    local second = ctx:agent({ kind = "scan", prompt = "spend again" })
    expect(second.status):equals("not_started")
    expect(second.why):contains("over the limit of 1000 tokens (config budgets.per_task)")
    ctx:close()
  end)
end)
