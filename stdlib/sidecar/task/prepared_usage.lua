--- The usage of prepared folders (`.agent/sidecars/<task-id>/model.json`, made by `sidecar prepare`)
--- that were run outside Sidecar and had their usage filled in there: `sidecar usage` counts them
--- beside the store's runs, marked as prepared. A folder run with `sidecar run --prepared` names its
--- run in model.json (`run_id`) and is already counted as that run, so it is left out here.
---
---   local rows, skipped = prepared_usage.rows(".agent", { group_by = "runner", since = "2026-11-01T00:00:00Z" })
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")

local M = {}

-- model.json's usage keys, in the order of the store's usage fields (input, cached_input, output,
-- reasoning_output, total).
M.FIELDS = { input = "input_tokens", cached_input = "cached_input_tokens", output = "output_tokens",
  reasoning_output = "reasoning_output_tokens", total = "total_tokens" }
local ORDER = { "input", "cached_input", "output", "reasoning_output", "total" }

-- A model.json is small; a bigger one is not a prepared folder's.
local MAX_BYTES = 1024 * 1024

local function whole(v)
  return math.type(v) == "integer" and v >= 0 and v or nil
end

-- The folder's record, when it is one to count: usage filled in, never run by Sidecar.
local function counted(meta)
  if type(meta) ~= "table" or json.is_array(meta) or meta.run_id ~= nil or type(meta.usage) ~= "table" then
    return nil
  end
  for _, key in pairs(M.FIELDS) do
    if whole(meta.usage[key]) then
      return meta
    end
  end
  return nil
end

local function group_of(meta, by, name)
  local created = type(meta.created_at) == "string" and meta.created_at or ""
  local day = created:sub(1, 10)
  local values = { runner = meta.runner, model = meta.model, task = meta.task_id, run = name,
    status = "prepared", day = day, [""] = "", runner_day = tostring(meta.runner) .. " " .. day,
    model_day = tostring(meta.model) .. " " .. day }
  local v = values[by]
  return type(v) == "string" and v or ""
end

local function in_span(meta, q)
  local created = type(meta.created_at) == "string" and meta.created_at or nil
  if (q.since or q["until"]) and not created then
    return false
  end
  return (not q.since or created >= q.since) and (not q["until"] or created < q["until"])
end

local function new_row(group)
  local row = { group = group, runs = 0, prepared = true, cost_usd = { sum = 0, reported = 0 } }
  for _, f in ipairs(ORDER) do
    row[f] = { sum = 0, reported = 0 }
  end
  return row
end

local function add(row, meta)
  row.runs = row.runs + 1
  for _, f in ipairs(ORDER) do
    local v = whole(meta.usage[M.FIELDS[f]])
    if v then
      row[f].sum = row[f].sum + v
      row[f].reported = row[f].reported + 1
    end
  end
  if type(meta.cost_usd) == "number" and meta.cost_usd >= 0 then
    row.cost_usd.sum = row.cost_usd.sum + meta.cost_usd
    row.cost_usd.reported = row.cost_usd.reported + 1
  end
  local at = type(meta.created_at) == "string" and meta.created_at or nil
  if at and (not row.first_at or at < row.first_at) then row.first_at = at end
  if at and (not row.last_at or at > row.last_at) then row.last_at = at end
end

---Rows in the shape of the store's usage rows ({group, runs, <field> = {sum, reported}, cost_usd,
---first_at, last_at}, plus `prepared = true`), one per group, sorted by group; and the folders
---that could not be read ({name, why}) — a missing `sidecars` folder is no folder, not a problem.
---@param root string  the `.agent` folder
---@param q {group_by: string, since: string?, until: string?}  as the store's usage query
---@return table[] rows, table[] skipped
function M.rows(root, q)
  local dir = root .. "/sidecars"
  local names = paths.entries(dir) or {}
  local by_group, rows, skipped = {}, {}, {}
  for _, name in ipairs(names) do
    local text, why, code = paths.read_code(dir .. "/" .. name .. "/model.json", MAX_BYTES)
    if text then
      local ok, meta = json.try_decode(text)
      meta = ok and counted(meta) or nil
      if not ok then
        skipped[#skipped + 1] = { name = name, why = "model.json is not JSON" }
      elseif meta and in_span(meta, q) then
        local group = group_of(meta, q.group_by, name)
        if not by_group[group] then
          by_group[group] = new_row(group)
          rows[#rows + 1] = by_group[group]
        end
        add(by_group[group], meta)
      end
    elseif code ~= "ENOENT" and code ~= "ENOTDIR" then
      skipped[#skipped + 1] = { name = name, why = tostring(why) }
    end
  end
  table.sort(rows, function(a, b) return a.group < b.group end)
  return rows, skipped
end

return M
