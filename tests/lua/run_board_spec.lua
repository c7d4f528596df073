-- The board's runs by state (stdlib/sidecar/service/run_board.lua): which column each run is in,
-- the counts, pages by cursor (newest first; review oldest first), the filters by runner, status,
-- task, preset and text, a card's facts (a figure nobody reported left out), and what it refuses.
-- Checked against what the spec itself put in the store.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local json = require("sidecar.core.json")
local run_board = require("sidecar.service.run_board")
local store = require("sidecar.core.store")

-- {status, review_state, attention, the column it belongs in}
local KINDS = {
  { "running", "pending", { state = "stuck", since = "x", evidence = "quiet" }, "needs_you" },
  { "running", "pending", nil, "running" },
  { "queued", "pending", nil, "running" },
  { "blocked", "pending", nil, "needs_you" },
  { "budget_exceeded", "pending", nil, "needs_you" },
  { "outcome_unknown", nil, nil, "needs_you" },
  { "review", "pending", nil, "review" },
  { "review", "reported", nil, "done" }, -- a preset's read-only step: reported to it
  { "failed", "pending", nil, "failed" },
  { "interrupted", "pending", nil, "failed" },
  { "blocked", "blocked", nil, "failed" },
  { "completed", "approved", nil, "done" },
  { "dry_run", nil, nil, "done" },
}
local ROUNDS = 6 -- each kind this many times, alternating runners

local made
local function fixture()
  if made then
    return made
  end
  local dir = os.tmpname()
  os.remove(dir)
  local root = dir .. "/.agent"
  local s = assert(store.open(root, { create = true }))
  local task = assert(s:create_task({ title = "The board's task", status = "ready" }))
  local want = { root = root, column = {}, counts = {}, runner = {}, ids = {} }
  for round = 1, ROUNDS do
    for k, kind in ipairs(KINDS) do
      local runner = (round + k) % 2 == 0 and "claude" or "codex"
      local r = assert(s:create_run({ task_id = task.task_id, status = kind[1], review_state = kind[2],
        attention = kind[3], runner_type = runner, model = runner == "claude" and "opus" or nil,
        preset = round == 1 and "triangulated-review" or nil, summary = ("round %d kind %d"):format(round, k),
        usage = runner == "claude" and { input = 100, output = 20, total = 120 } or nil,
        cost_usd = runner == "claude" and 0.25 or nil, duration_ms = 1500 }))
      want.column[r.run_id], want.runner[r.run_id] = kind[4], runner
      want.counts[kind[4]] = (want.counts[kind[4]] or 0) + 1
      want.ids[#want.ids + 1] = r.run_id
    end
  end
  s:close()
  made = want
  return want
end

local function column(data, name)
  for _, c in ipairs(data.columns) do
    if c.name == name then
      return c
    end
  end
end

local function ids(c)
  local out = {}
  for i, card in ipairs(c.runs) do
    out[i] = card.run_id
  end
  return out
end

describe("the board's runs by state", function()
  it("puts each run in its column and counts them all", function()
    local f = fixture()
    local r = run_board.board({ root = f.root, limit = 200 })
    expect(r.ok):is_true()
    for _, c in ipairs(r.data.columns) do
      expect(c.count):equals(f.counts[c.name] or 0)
      expect(#c.runs):equals(c.count)
      for _, card in ipairs(c.runs) do
        expect(f.column[card.run_id]):equals(c.name)
      end
    end
  end)

  it("pages a column by cursor: newest first, review oldest first, none twice", function()
    local f = fixture()
    local first = column(run_board.board({ root = f.root, limit = 4 }).data, "needs_you")
    expect(#first.runs):equals(4)
    local second = column(run_board.board({ root = f.root, column = "needs_you", cursor = first.next, limit = 4 }).data,
      "needs_you")
    local all = ids(first)
    table.move(ids(second), 1, #second.runs, #all + 1, all)
    local sorted = { table.unpack(all) }
    table.sort(sorted, function(a, b) return tonumber(a:match("%d+")) > tonumber(b:match("%d+")) end)
    expect(table.concat(all, ",")):equals(table.concat(sorted, ",")) -- newest first, no repeat
    local review = column(run_board.board({ root = f.root, limit = 2 }).data, "review")
    expect(review.runs[1].run_id < review.runs[2].run_id):is_true()
    local after = column(run_board.board({ root = f.root, column = "review", cursor = review.next, limit = 10 }).data,
      "review")
    expect(#after.runs):equals(ROUNDS - 2)
    expect(after.next):equals(json.null)
  end)

  it("pages the running column past the runs that need someone", function()
    local f = fixture()
    local first = column(run_board.board({ root = f.root, column = "running", limit = 3 }).data, "running")
    local second = column(run_board.board({ root = f.root, column = "running", cursor = first.next, limit = 50 }).data,
      "running")
    expect(first.count):equals(f.counts.running)
    expect(#first.runs + #second.runs):equals(f.counts.running)
    for _, c in ipairs({ first, second }) do
      for _, card in ipairs(c.runs) do
        expect(f.column[card.run_id]):equals("running")
      end
    end
  end)

  it("filters by runner, status, preset, task and text, counting what it keeps", function()
    local f = fixture()
    local claude = run_board.board({ root = f.root, runner = "claude", limit = 200 }).data
    local n = 0
    for _, c in ipairs(claude.columns) do
      for _, card in ipairs(c.runs) do
        expect(f.runner[card.run_id]):equals("claude")
      end
      n = n + c.count
    end
    expect(n):equals(#f.ids // 2)
    local failed = run_board.board({ root = f.root, status = "failed" }).data
    expect(column(failed, "failed").count):equals(ROUNDS)
    expect(column(failed, "done").count):equals(0)
    local preset = run_board.board({ root = f.root, preset = "triangulated-review", limit = 200 }).data
    local m = 0
    for _, c in ipairs(preset.columns) do
      m = m + c.count
    end
    expect(m):equals(#KINDS)
    local text = run_board.board({ root = f.root, q = "ROUND 3 KIND 7" }).data -- the summary, case ignored
    expect(column(text, "review").count):equals(1)
    expect(run_board.board({ root = f.root, task = "T-9999" }).data.columns[1].count):equals(0)
  end)

  it("gives a card its facts, leaving out what nobody reported", function()
    local f = fixture()
    local c = run_board.board({ root = f.root, column = "needs_you", limit = 200 }).data.columns[1]
    local stuck, plain
    for _, card in ipairs(c.runs) do
      if card.attention == "stuck" then
        stuck = card
      end
    end
    for _, card in ipairs(run_board.board({ root = f.root, runner = "codex", column = "done" }).data.columns[1].runs) do
      plain = card
    end
    expect(stuck.reason):equals("stuck")
    expect(stuck.task_title):equals("The board's task")
    expect(plain.cost_usd):is_nil()
    expect(plain.tokens):is_nil()
    expect(plain.model):is_nil()
    expect(plain.duration_ms):equals(1500)
    local paid = run_board.board({ root = f.root, runner = "claude", column = "done" }).data.columns[1].runs[1]
    expect(paid.cost_usd):equals(0.25)
    expect(paid.tokens):equals(120)
    expect(paid.model):equals("opus")
  end)

  it("refuses a cursor, status or column it does not know, saying what it takes", function()
    local f = fixture()
    expect(run_board.board({ root = f.root, cursor = "x; drop" }).errors[1].message):contains("not a run id")
    expect(run_board.board({ root = f.root, cursor = "R-0001" }).errors[1].message):contains("give the column")
    expect(run_board.board({ root = f.root, status = "nope" }).errors[1].message):contains("not a run status")
    expect(run_board.board({ root = f.root, column = "later" }).errors[1].message):contains("no such column")
  end)
end)
