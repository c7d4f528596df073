--- The checks of the terminal settings of `.agent/config.lua` (runs on a terminal, `run --pty`:
--- stdlib/sidecar/agent/prompts.lua uses them): `waiting_patterns` and a runner's `prompt_patterns`
--- (lists of Lua patterns), `answers` ({pattern, send | key, enter?} each) and `on_stuck`.
local keys = require("sidecar.core.input_keys")

local M = {}

---What `on_stuck` may be: "poke" (Enter, once, to a stuck or waiting run) or "none".
M.ON_STUCK = { poke = true, none = true }

-- Why `p` is not a Lua pattern, or nil. Lua finds a malformed pattern only when a match reaches
-- the bad part, so the shape is read here: each %, [ ] set, %b, %f and ( ) in turn.
local function malformed(p)
  local i, depth = 1, 0
  while i <= #p do
    local c = p:sub(i, i)
    if c == "%" then
      local n = p:sub(i + 1, i + 1)
      if n == "" then
        return "it ends with '%'"
      elseif n == "b" then
        if #p < i + 3 then
          return "%b needs two characters (%b())"
        end
        i = i + 4
      elseif n == "f" then
        if p:sub(i + 2, i + 2) ~= "[" then
          return "%f needs a set ([...])"
        end
        i = i + 2
      else
        i = i + 2
      end
    elseif c == "[" then
      local j = i + 1
      if p:sub(j, j) == "^" then
        j = j + 1
      end
      if p:sub(j, j) == "]" then
        j = j + 1 -- a first "]" is the character itself
      end
      while p:sub(j, j) ~= "]" do
        if j > #p then
          return "a set ([...]) has no closing ']'"
        end
        j = j + (p:sub(j, j) == "%" and 2 or 1)
      end
      i = j + 1
    else
      depth = depth + (c == "(" and 1 or c == ")" and -1 or 0)
      if depth < 0 then
        return "a ')' closes no capture"
      end
      i = i + 1
    end
  end
  return depth > 0 and "a capture '(' is not closed" or nil
end

-- Checks one pattern: a string Lua's string.find reads.
local function check_pattern(path, p)
  if type(p) ~= "string" or p == "" then
    return nil, ("%s: expected a Lua pattern (a non-empty string), got %s"):format(path, type(p))
  end
  local why = malformed(p)
  local ok = why == nil
  if ok then
    ok, why = pcall(string.find, p, p)
  end
  if not ok then
    return nil, ("%s: %q is not a valid Lua pattern: %s (escape magic characters with %%, as in \"Continue%%?\")")
      :format(path, p, tostring(why):gsub("^.-:%d+: ", ""))
  end
  return true
end

---Checks a list of patterns (config's waiting_patterns, runners.<name>.prompt_patterns).
---@return boolean|nil ok, string? why
function M.check_patterns(path, v)
  if type(v) ~= "table" then
    return nil, ("%s: expected a list of Lua patterns, got %s"):format(path, type(v))
  end
  for i, p in ipairs(v) do
    local ok, why = check_pattern(("%s[%d]"):format(path, i), p)
    if not ok then
      return nil, why
    end
  end
  return true
end

---Checks config's `answers`: a list of {pattern = P, send = TEXT | key = NAME, enter = bool?}.
---@return boolean|nil ok, string? why
function M.check_answers(path, v)
  if type(v) ~= "table" then
    return nil, ("%s: expected a list of { pattern = \"...\", send = \"y\" }, got %s"):format(path, type(v))
  end
  for i, a in ipairs(v) do
    local at = ("%s[%d]"):format(path, i)
    if type(a) ~= "table" then
      return nil, ("%s: expected { pattern = \"...\", send = \"y\" }, got %s"):format(at, type(a))
    end
    for k in pairs(a) do
      if k ~= "pattern" and k ~= "send" and k ~= "key" and k ~= "enter" then
        return nil, ("%s.%s: unknown setting (known: enter, key, pattern, send)"):format(at, tostring(k))
      end
    end
    local ok, why = check_pattern(at .. ".pattern", a.pattern)
    if not ok then
      return nil, why
    end
    if (type(a.send) == "string") == (a.key ~= nil) then
      return nil, ("%s: give send = \"text\" or key = \"name\" (one of them)"):format(at)
    end
    if a.key ~= nil and not keys.BYTES[a.key] then
      return nil, ("%s.key: unknown key %s (known: %s)"):format(at, tostring(a.key), keys.names())
    end
    if a.enter ~= nil and type(a.enter) ~= "boolean" then
      return nil, ("%s.enter: expected true or false, got %s"):format(at, type(a.enter))
    end
  end
  return true
end

---Checks config's `on_stuck`: "poke" (Enter once) or "none".
function M.check_on_stuck(path, v)
  if not M.ON_STUCK[v] then
    return nil, ("%s: expected \"poke\" (send Enter once to a stuck or waiting run) or \"none\", got %s"):format(path,
      type(v) == "string" and ("%q"):format(v) or type(v))
  end
  return true
end

return M
