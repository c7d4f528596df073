-- The board's API (stdlib/sidecar/ui/board.lua) over a store of thousands of tasks: the counts per
-- status, the cap per column and "show more", the server's search, and the review queue (the
-- oldest first, how many wait in all), each checked against what the spec itself put in the store.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local api = require("sidecar.ui.api")
local board = require("sidecar.ui.board")
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local review = require("sidecar.task.review")
local store = require("sidecar.core.store")

local TASKS = 2100
local STATUS_CYCLE = { "done", "done", "done", "ready", "draft", "blocked", "review", "running", "queued", "done" }
-- A run's status and review state, in turn: which of them wait for a decision.
local RUN_CYCLE = {
  { "review", "pending", true }, { "completed", "approved", false }, { "blocked", nil, true },
  { "blocked", "blocked", false }, { "outcome_unknown", nil, true }, { "failed", nil, false },
  { "review", json.null, true }, { "completed", "approved", false }, { "review", "", true },
}
local RUNS = 180

-- One store for the whole file (made once: thousands of records take seconds), and what was put in.
local made
local function fixture()
  if made then
    return made
  end
  local dir = os.tmpname()
  os.remove(dir)
  local root = dir .. "/.agent"
  local s = assert(store.open(root, { create = true }))
  local want = { root = root, dir = dir, counts = {}, titles = {}, waiting = {} }
  assert(s.db:begin_batch())
  for i = 1, TASKS do
    local status = STATUS_CYCLE[i % #STATUS_CYCLE + 1]
    local title = i == 7 and "100% done_now" or ("Fix module %d"):format(i)
    local t = assert(s:create_task({ title = title, status = status }))
    want.counts[status] = (want.counts[status] or 0) + 1
    want.titles[t.task_id] = { title = title, status = status }
  end
  for i = 1, RUNS do
    local kind = RUN_CYCLE[i % #RUN_CYCLE + 1]
    local r = assert(s:create_run({ task_id = ("T-%04d"):format(i), status = kind[1], review_state = kind[2] }))
    if kind[3] then
      want.waiting[#want.waiting + 1] = r.run_id
    end
  end
  assert(s.db:commit_batch())
  s:close()
  made = want
  return want
end

local function board_of(o)
  local want = fixture()
  o = o or {}
  o.root, o.version = want.root, "test"
  local r = board.board(o)
  return result.envelope(r, "ui board", o.version), r.status
end

local function cards(data, status)
  local ids = {}
  for _, t in ipairs(data.tasks) do
    if t.status == status then
      ids[#ids + 1] = t.task_id
    end
  end
  return ids
end

-- The ids of the `n` newest tasks of `status` (whose title holds `text`), from what was put in.
local function newest(status, n, text)
  local ids = {}
  for id, t in pairs(fixture().titles) do
    if t.status == status and (not text or (id .. "\0" .. t.title):lower():find(text:lower(), 1, true)) then
      ids[#ids + 1] = id
    end
  end
  table.sort(ids, function(a, b) return a > b end)
  return { table.unpack(ids, 1, math.min(n, #ids)) }, #ids
end

describe("the board's API with thousands of tasks", function()
  it("counts every task of each status, and shows the newest 40 of each", function()
    local e = board_of()
    expect(e.ok):is_true()
    for _, status in ipairs({ "draft", "ready", "queued", "running", "review", "blocked", "done" }) do
      expect(e.data.counts[status]):equals(fixture().counts[status])
      expect(cards(e.data, status)):equals((newest(status, board.PER_STATUS)))
    end
    expect(e.data.counts.done > board.PER_STATUS * 10):is_true()
    expect(e.data.matched):equals(e.data.counts)
  end)

  it("shows more of the columns asked for, the others as before", function()
    local e = board_of({ shown = "done=150,draft=41" })
    expect(cards(e.data, "done")):equals((newest("done", 150)))
    expect(#cards(e.data, "draft")):equals(41)
    expect(#cards(e.data, "ready")):equals(board.PER_STATUS)
    expect(#board_of({ per_status = 3 }).data.tasks):equals(3 * 7)
  end)

  it("searches every task, not only those shown, and says how many match", function()
    local e = board_of({ q = "MODULE 20" }) -- ids and titles, ASCII case ignored
    local total = 0
    for _, status in ipairs({ "done", "ready", "draft", "blocked", "review", "running", "queued" }) do
      local ids, matching = newest(status, board.PER_STATUS, "module 20")
      expect(cards(e.data, status)):equals(ids)
      expect(e.data.matched[status]):equals(matching)
      total = total + matching
    end
    expect(total):equals(111) -- modules 20, 200..209, 2000..2099
    expect(e.data.counts):equals(board_of().data.counts) -- the headings still count all
  end)

  it("takes the search text as it is: % and _ are not wildcards", function()
    expect(#board_of({ q = "%" }).data.tasks):equals(1)
    expect(board_of({ q = "e_n" }).data.tasks[1].title):equals("100% done_now")
    expect(#board_of({ q = "x_m" }).data.tasks):equals(0) -- as a LIKE pattern: every "Fix module"
    expect(#board_of({ q = "no such title" }).data.tasks):equals(0)
  end)

  it("lists the 50 oldest runs waiting for a decision and counts them all", function()
    local want = fixture().waiting
    local e = board_of()
    expect(e.data.review.total):equals(#want)
    expect(#want > board.REVIEW_ITEMS):is_true()
    local ids = {}
    for i, item in ipairs(e.data.review.items) do
      ids[i] = item.run.run_id
      expect(item.run.record):is_nil()
    end
    expect(ids):equals({ table.unpack(want, 1, board.REVIEW_ITEMS) })
    local first = e.data.review.items[1]
    expect(first.task_title):equals(fixture().titles[first.run.task_id].title)
  end)

  it("leaves the review queue of the CLI whole, oldest first", function()
    local s <close> = assert(store.open(fixture().root))
    local items, total = review.queue(s)
    local ids = {}
    for i, item in ipairs(items) do
      ids[i] = item.run.run_id
    end
    expect(ids):equals(fixture().waiting)
    expect(total):equals(#fixture().waiting)
  end)

  it("refuses options out of range as usage errors, and the route says 400", function()
    for _, o in ipairs({ { per_status = 0 }, { per_status = 1001 }, { shown = "done=0" }, { shown = "nope=3" },
      { shown = "done=5000" }, { shown = "done" } }) do
      local e, status = board_of(o)
      expect(e.ok):is_false()
      expect(status):equals(2)
    end
    local ctx = assert(api.start({ root = fixture().root, version = "test" }))
    expect((api.handle(ctx, "GET", "/api/board", { per_status = "many" }, ""))):equals(400)
    expect((api.handle(ctx, "GET", "/api/board", { shown = "done=9999" }, ""))):equals(400)
    local code, _, body = api.handle(ctx, "GET", "/api/board", { q = "module 7", per_status = "2" }, "")
    expect(code):equals(200)
    expect(json.decode(body).data.per_status):equals(2)
  end)

  it("cleans up", function()
    os.execute("rm -rf '" .. fixture().dir .. "'")
    made = nil
  end)
end)
