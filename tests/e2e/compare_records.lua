-- sidecar script compare_records.lua A.json B.json FIELD,FIELD...: the differences between two
-- JSON records (run.json, a task's copy, a preset's result), one "path: a | b" line each, sorted;
-- nothing when they agree. A key named in the list (times, ids, where it ran) is left out at
-- any depth. Used by the Slurm tests to compare a local run with the same run through Slurm.
local json = require("sidecar.core.json")
local function load(p)
  local f = assert(io.open(p))
  local t = json.decode(f:read("a"))
  f:close()
  return t
end
local skip = {}
for w in (arg[3] or ""):gmatch("[^,]+") do
  skip[w] = true
end
local diffs = {}
local function walk(path, x, y)
  if skip[path:match("([^.]+)$") or ""] then
    return
  end
  if type(x) == "table" and type(y) == "table" then
    local keys = {}
    for k in pairs(x) do
      keys[k] = true
    end
    for k in pairs(y) do
      keys[k] = true
    end
    for k in pairs(keys) do
      walk(path .. "." .. tostring(k), x[k], y[k])
    end
  elseif x ~= y then
    diffs[#diffs + 1] = path .. ": " .. tostring(x) .. " | " .. tostring(y)
  end
end
walk("", load(arg[1]), load(arg[2]))
table.sort(diffs)
io.write(table.concat(diffs, "\n"))
