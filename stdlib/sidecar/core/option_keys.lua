--- The keys an options table may have: a key that is not one of a function's options (a misspelt
--- `promt`, a key meant for someone else) is the caller's bug, which would otherwise be ignored
--- without a word. It raises a `bad_option` error naming the known ones, and the one the key was
--- likely meant to be.
---
---   option_keys.check("preset_context.new", o, { "repo", "preset", "jobs" }, 3)
---   --> preset_context.new: unknown option `job` (did you mean `jobs`?) (known: repo, preset, jobs)
local errors = require("sidecar.core.errors")

local M = {}

-- The edit distance of a and b (insertions, deletions, substitutions, swaps of two neighbours).
local function distance(a, b)
  local d = {}
  for i = 0, #a do
    d[i] = { [0] = i }
  end
  for j = 1, #b do
    d[0][j] = j
  end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
      end
    end
  end
  return d[#a][#b]
end

---The keys of `t`, as strings, sorted.
---@param t table
---@return string[]
function M.sorted(t)
  local out = {}
  for k in pairs(t) do
    out[#out + 1] = tostring(k)
  end
  table.sort(out)
  return out
end

---The keys of `t`, sorted and joined with ", ": what an error lists as the known ones.
---@param t table
---@return string
function M.known(t)
  return table.concat(M.sorted(t), ", ")
end

---The name of `names` that `key` was likely meant to be: the one it begins with its unit left off
---(`timeout` for timeout_ms), else the closest one near enough to be a slip (a third of its
---letters, at least one, at most two); nil when none is.
---@param key string
---@param names string[]
---@return string|nil
function M.nearest(key, names)
  for _, name in ipairs(names) do
    if name:sub(1, #key + 1) == key .. "_" then
      return name
    end
  end
  local best, best_d = nil, math.min(2, math.max(1, #key // 3)) + 1
  for _, name in ipairs(names) do
    local d = distance(key, name)
    if d < best_d then
      best, best_d = name, d
    end
  end
  return best
end

---The message for the option `key` that `where` does not know.
---@param where string  the function, as its callers name it ("agent_run.execute")
---@param key any
---@param names string[]  its options
---@return string
function M.unknown_message(where, key, names)
  local shown = type(key) == "string" and key or ("[" .. tostring(key) .. "]")
  local near = type(key) == "string" and M.nearest(key, names)
  return ("%s: unknown option `%s`%s (known: %s)"):format(where, shown,
    near and (" (did you mean `" .. near .. "`?)") or "", table.concat(names, ", "))
end

---Raises a `bad_option` error for the first key of `o` that is not one of `names`; `level` as in
---error() counted from the caller of check (2: check's caller's caller).
---@param where string
---@param o table|nil  (anything but a table is let through)
---@param names string[]
---@param level? integer  default 2
function M.check(where, o, names, level)
  if type(o) ~= "table" then -- none given (nil), or not an options table: not this check's to judge
    return
  end
  local known = {}
  for _, name in ipairs(names) do
    known[name] = true
  end
  for k in pairs(o) do
    if not known[k] then
      errors.raise("bad_option", M.unknown_message(where, k, names), nil, (level or 2) + 1)
    end
  end
end

return M
