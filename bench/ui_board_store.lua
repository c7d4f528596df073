-- Fills the `.agent` store of the current folder for bench/ui_board.sh: TASKS tasks over every
-- status and RUNS runs over them (every run status; some waiting for review, some of those pending
-- for days), through the store's own functions in batches of 500 (each record and its JSON copy
-- written as `sidecar run` would, without 10 000 processes).
--
--   sidecar script bench/ui_board_store.lua TASKS RUNS [MINUTES_APART]
--
-- The runs start MINUTES_APART (default 1) apart, the newest a minute ago: 400 runs 1314 minutes
-- apart fill a year.
local store = require("sidecar.core.store")

local tasks_wanted = math.tointeger(tonumber(arg and arg[1] or "")) or 2000
local runs_wanted = math.tointeger(tonumber(arg and arg[2] or "")) or 10000
local apart = math.tointeger(tonumber(arg and arg[3] or "")) or 1
local s = assert(store.open(".agent"))

-- Task statuses as a long-lived repository has them, most done. None running or queued: with no
-- run at work, the server's first call would settle such tasks (a write), not what is measured.
local TASK_MIX = { { "done", 52 }, { "ready", 16 }, { "draft", 16 }, { "blocked", 8 }, { "review", 8 } }
-- Run statuses: most finished and decided; `review` with no decision waits in the queue.
local RUN_MIX = { { "completed", 60 }, { "review", 15 }, { "failed", 10 }, { "blocked", 7 },
  { "outcome_unknown", 3 }, { "dry_run", 5 } }

local function pick(mix, i)
  local total = 0
  for _, m in ipairs(mix) do
    total = total + m[2]
  end
  local at = (i * 37) % total -- spread evenly, the same every time
  for _, m in ipairs(mix) do
    if at < m[2] then
      return m[1]
    end
    at = at - m[2]
  end
end

local function stamp(minutes_ago)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - minutes_ago * 60)
end

local WORDS = { "parser", "cache", "retry", "login", "export", "index", "schema", "docs", "flaky test", "timeout" }

local function batch(n, make)
  local done = 0
  while done < n do
    assert(s.db:begin_batch())
    for _ = 1, math.min(500, n - done) do
      done = done + 1
      make(done)
    end
    assert(s.db:commit_batch())
    if done % 10000 == 0 then -- the store keeps each written folder open to sync it at its close
      s:close()
      s = assert(store.open(".agent"))
    end
  end
end

local task_ids = {}
batch(tasks_wanted, function(i)
  local t = assert(s:create_task({
    title = ("Fix the %s of module %d"):format(WORDS[i % #WORDS + 1], i),
    status = pick(TASK_MIX, i), priority = ({ "low", "normal", "high" })[i % 3 + 1], type = "bugfix",
    goal = ("Make the %s of module %d behave: see the failing case in tests/m%d."):format(WORDS[i % #WORDS + 1], i, i),
    acceptance_criteria = { "the failing case passes", "no other test breaks" },
    validation = { { kind = "test", command = "make test" } }, dependencies = {},
    created_at = stamp(tasks_wanted - i + runs_wanted * apart),
  }))
  task_ids[i] = t.task_id
end)

batch(runs_wanted, function(i)
  local status = pick(RUN_MIX, i)
  local minutes_ago = (runs_wanted - i) * apart + 1
  assert(s:create_run({
    task_id = task_ids[(i * 7) % #task_ids + 1], status = status, runner_type = ({ "codex", "claude" })[i % 2 + 1],
    agent_role = "implementer", model = "gpt-5", sandbox = "workspace-write",
    created_at = stamp(minutes_ago), started_at = stamp(minutes_ago),
    completed_at = status ~= "dry_run" and stamp(minutes_ago - 1) or nil,
    summary = ("Changed %d files; tests pass."):format(i % 5 + 1),
    review_state = status == "review" and "pending" or (status == "completed" and "approved" or nil),
    changed_files = { "src/m" .. i .. ".c", "tests/m" .. i .. "_test.c" },
    usage = { input = 12000 + i, output = 800 + i % 100, total = 12800 + i + i % 100 }, cost_usd = 0.02,
  }))
end)
s:close()
print(("%d tasks, %d runs"):format(tasks_wanted, runs_wanted))
