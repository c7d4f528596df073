--- `GET /api/board`: what the page's board shows, in one answer whose size does not grow with the
--- store: the count of tasks in each status, the newest `per_status` tasks of each status (those
--- whose id or title holds `q` when given), the oldest runs waiting for a decision with how
--- many wait in all, the active runs (the oldest first), each with what it needs (`attention`:
--- stuck, waiting for input), and the machine's agent slots (the cap on agents at once and who holds
--- them: sidecar.service.agent_slots). Every part of the store's is one query on an index of the
--- store (stdlib/sidecar/core/store.lua): with 10 000 runs the answer reads about as much as with ten.
---
---   GET /api/board?q=parser&per_status=40&shown=done=120
---   -> data = {counts = {draft = 3, ...}, matched = {...}, per_status = 40,
---              tasks = [task...], review = {total = 7, items = [{run, task_title, why}...]},
---              active = [{run_id, task_id, status, runner_type, ..., attention}...],
---              agents = {cap, source, holders = [{number, run_id, runner, pid, since}...], runners = [...]}}
local json = require("sidecar.core.json")
local result = require("sidecar.service.result")
local review = require("sidecar.task.review")
local store = require("sidecar.core.store")
local task_packet = require("sidecar.task.packet")

local M = {}

M.PER_STATUS = 40 -- cards a column shows at first
M.MAX_PER_STATUS = 1000
M.REVIEW_ITEMS = 50 -- runs of the review queue listed (the oldest)
M.ACTIVE_ITEMS = 50 -- active runs listed (the oldest)

-- What a review item says of its run: enough for a line of the queue, not the whole record.
local RUN_SUMMARY = { "run_id", "task_id", "status", "runner_type", "agent_role", "created_at", "completed_at" }

local KNOWN = {}
for _, status in ipairs(task_packet.STATUSES) do
  KNOWN[status] = true
end

-- `shown`: "done=120,ready=80", the columns the person asked to see more of: {[status] = count},
-- or nil and why.
local function parse_shown(text)
  local shown = {}
  for part in (text or ""):gmatch("[^,]+") do
    local status, n = part:match("^(%l+)=(%d+)$")
    n = n and math.tointeger(tonumber(n))
    if not KNOWN[status] or not n or n < 1 or n > M.MAX_PER_STATUS then
      return nil, ("'shown' takes status=count pairs (a task status, a count 1..%d) separated by commas; "
        .. "got '%s'"):format(M.MAX_PER_STATUS, part)
    end
    shown[status] = n
  end
  return shown
end

-- The board's data, or nil, why and the exit status (2: a wrong option).
local function gather(s, o)
  local per_status = o.per_status or M.PER_STATUS
  if per_status < 1 or per_status > M.MAX_PER_STATUS then
    return nil, ("'per_status' must be 1..%d, got %d"):format(M.MAX_PER_STATUS, per_status), 2
  end
  local shown, why = parse_shown(o.shown)
  if not shown then
    return nil, why, 2
  end
  local text = o.q ~= nil and o.q ~= "" and o.q or nil
  local counts, matched, message
  counts, message = s:count_tasks()
  matched = counts
  if counts and text then
    matched, message = s:count_tasks({ text = text })
  end
  if not matched then
    return nil, message
  end
  local tasks = {}
  for _, status in ipairs(task_packet.STATUSES) do
    counts[status], matched[status] = counts[status] or 0, matched[status] or 0
    if matched[status] > 0 then
      local list
      list, message = s:list_tasks({ status = status, text = text, limit = shown[status] or per_status })
      if not list then
        return nil, message
      end
      table.move(list, 1, #list, #tasks + 1, tasks)
    end
  end
  local items, total, code = review.queue(s, { limit = M.REVIEW_ITEMS })
  if not items then
    return nil, total .. (code and (" (" .. code .. ")") or "")
  end
  for i, item in ipairs(items) do
    local run = {}
    for _, key in ipairs(RUN_SUMMARY) do
      run[key] = item.run[key]
    end
    items[i] = { run = run, task_title = item.task_title or json.null, why = item.why }
  end
  local active
  active, message = s:list_runs({ statuses = { "queued", "preparing", "running" }, oldest_first = true,
    limit = M.ACTIVE_ITEMS })
  if not active then
    return nil, message
  end
  for i, r in ipairs(active) do
    local run = { attention = type(r.attention) == "table" and r.attention or json.null, started_at = r.started_at }
    for _, key in ipairs(RUN_SUMMARY) do
      run[key] = r[key]
    end
    active[i] = run
  end
  local cfg = require("sidecar.core.config").load(s.root)
  return { counts = counts, matched = matched, per_status = per_status, tasks = json.array(tasks),
    review = { total = total, items = json.array(items) }, active = json.array(active),
    agents = require("sidecar.service.agent_slots").report(cfg) }
end

---The board route's answer, a result (sidecar.service.result): failed when the store cannot be
---read, "usage" for a wrong option.
---@param o {root: string, q: string?, per_status: integer?, shown: string?}
function M.board(o)
  local s, message = store.open(o.root)
  if not s then
    return result.fail(message)
  end
  require("sidecar.executor.reconcile").reconcile_active(s) -- a run whose owner died shows as ended
  local data, status
  data, message, status = gather(s, o)
  s:close()
  return data and result.ok(data) or result.fail(message, status == 2 and "usage" or nil)
end

return M
