-- The queue of ready tasks (stdlib/sidecar/task/queue.lua): which tasks can run and why the
-- others wait, and start-ready's runs reported through on_progress (the library never prints).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local queue = require("sidecar.task.queue")
local store = require("sidecar.core.store")

local root, s
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
  s = assert(store.open(root, { create = true }))
end)
test.after_each(function()
  s:close()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function task(title, status, dependencies)
  return assert(s:create_task({ title = title, status = status, dependencies = dependencies }))
end

local function ids(tasks)
  local out = {}
  for i, t in ipairs(tasks) do
    out[i] = t.task_id or t.task.task_id
  end
  return out
end

describe("queue.queue", function()
  it("lists ready tasks oldest first; a task waits for each dependency not done, saying which", function()
    local a = task("first", "ready")
    local b = task("second", "done")
    local c = task("waits", "ready", { a.task_id, b.task_id })
    local d = task("orphan", "ready", { "T-0999" })
    task("not ready", "draft")
    local q = queue.queue(s)
    expect(ids(q.ready)):equals({ a.task_id })
    expect(ids(q.blocked)):equals({ c.task_id, d.task_id })
    expect(q.blocked[1].reasons):equals({ ("waits for %s (ready)"):format(a.task_id) })
    expect(q.blocked[2].reasons):equals({ "depends on T-0999, which does not exist" })
  end)

  it("makes a task ready once every task it depends on is done", function()
    local a = task("first", "done")
    local c = task("then", "ready", { a.task_id })
    expect(ids(queue.queue(s).ready)):equals({ c.task_id })
  end)
end)

describe("queue.start_ready", function()
  it("runs each ready task (dry runs here) and reports through on_progress, in order", function()
    local a = task("one", "ready")
    local b = task("two", "ready")
    local events = {}
    local outcomes = queue.start_ready(s, { jobs = 1, dry_run = true, on_progress = function(event, state, detail)
      events[#events + 1] = { event = event, done = state.done, id = detail and detail.task_id }
    end })
    expect(#outcomes):equals(2)
    for _, o in ipairs(outcomes) do
      expect(o.status):equals("dry_run")
    end
    -- one at a time: each task starts, then ends, before the next starts; "finished" closes
    local seen = {}
    for _, e in ipairs(events) do
      if e.event ~= "waiting" then
        seen[#seen + 1] = e.event .. (e.id and (" " .. e.id) or "")
      end
    end
    expect(seen):equals({ "started " .. a.task_id, "ended " .. a.task_id, "started " .. b.task_id,
      "ended " .. b.task_id, "finished" })
    expect(events[#events].done):equals(2)
  end)

  it("reports nothing and starts nothing when no task is ready", function()
    task("draft only", "draft")
    local events = {}
    local outcomes = queue.start_ready(s, { jobs = 2, on_progress = function(event)
      events[#events + 1] = event
    end })
    expect(outcomes):equals({})
    expect(events):equals({ "finished" })
  end)
end)
