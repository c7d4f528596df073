-- The crash harness's reader of Sidecar's JSON envelopes (tests/crash/crash_harness.sh runs it
-- with `sidecar script`): prints one fact per line, fields separated by tabs, so the harness
-- never parses JSON in bash.
--
--   sidecar script crash_state.lua runs RUN_LIST.json     -- `run list --json --limit 0`
--     run  ID  STATUS  REVIEW_STATE  TASK  BACKGROUND  WORKER_PID  PROCESS_MARK  FAILURE_REASON
--   sidecar script crash_state.lua tasks TASK_LIST.json   -- `task list --json`
--     task  ID  STATUS
--   sidecar script crash_state.lua store STORE_CHECK.json -- `store check --json`
--     store  OK  INTEGRITY  PROBLEMS  REPAIRED
--     problem  KIND  ID  PROBLEM  PATH  DETAIL      (those it did not repair on its own)
--     repaired  PROBLEM                           (one per problem it repaired on its own)
--   sidecar script crash_state.lua created CREATE.json    -- `task create --json`, `run --background --json`
--     created  ID  WORKER_PID
--
-- A file that is not such an envelope prints `unreadable  WHY` and the script exits 1: the
-- harness counts it as a failed command.
local json = require("sidecar.core.json")

local mode, path = ...

local function field(v)
  if v == nil or v == json.null then
    return "-"
  end
  -- One line per fact: tabs and newlines inside a value would split it.
  return (tostring(v):gsub("[\t\r\n]", " "))
end

local function emit(...)
  local parts = {}
  for i = 1, select("#", ...) do
    parts[i] = field((select(i, ...)))
  end
  io.write(table.concat(parts, "\t"), "\n")
end

local function fail(why)
  emit("unreadable", why)
  os.exit(1)
end

local f = io.open(path or "", "rb")
if not f then
  fail("no file " .. tostring(path))
end
local text = f:read("a")
f:close()
local ok, envelope = pcall(json.decode, text)
if not ok or type(envelope) ~= "table" then
  fail(("%s is not JSON (%d bytes): %s"):format(path, #text, text:sub(1, 200)))
end
local data = envelope.data
if type(data) ~= "table" then
  fail(("%s has no data (ok = %s, errors: %s)"):format(path, tostring(envelope.ok),
    type(envelope.errors) == "table" and table.concat(envelope.errors, "; ") or "-"))
end

if mode == "runs" then
  for _, r in ipairs(data) do
    emit("run", r.run_id, r.status, r.review_state, r.task_id, r.background, r.worker_pid, r.process_mark,
      r.failure_reason)
  end
elseif mode == "tasks" then
  for _, t in ipairs(data) do
    emit("task", t.task_id, t.status)
  end
elseif mode == "store" then
  local problems = type(data.problems) == "table" and data.problems or {}
  -- A self-repairing check may say what it repaired under one of these names.
  local repaired = data.repaired or data.repairs or data.repaired_problems
  emit("store", envelope.ok, data.integrity, #problems, type(repaired) == "table" and #repaired or repaired)
  for _, p in ipairs(problems) do
    if p.repaired ~= true then -- one store check repaired on its own is counted in REPAIRED
      emit("problem", p.kind, p.id, p.problem, p.path, p.detail)
    else
      emit("repaired", p.problem)
    end
  end
elseif mode == "created" then
  -- task create: data is the task; run --background: data is the run (or {steps = {run}}).
  local r = data
  if type(data.steps) == "table" and type(data.steps[1]) == "table" then
    r = data.steps[1]
  end
  emit("created", r.run_id or r.task_id, r.worker_pid)
else
  error("usage: crash_state.lua runs|tasks|store|created FILE", 0)
end
