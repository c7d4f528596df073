--- Helpers the fuzz drivers share: deep comparison, a deterministic cutting of a text into
--- pieces (for "any chunking gives the same result"), and splitting an input into fields.
local M = {}

---Raises a finding: what property broke, formatted.
function M.fail(fmt, ...)
  error("property broken: " .. fmt:format(...), 2)
end

-- Where two values first differ ("$.a[2]: 1 vs 2"), or nil when they are equal: same types,
-- same integer/float subtypes, same metatables (json markers), same keys and values.
local function diff(a, b, path, seen)
  if type(a) ~= type(b) then
    return ("%s: a %s vs a %s"):format(path, type(a), type(b))
  elseif type(a) == "number" then
    if math.type(a) ~= math.type(b) or (a ~= b and a == a) then
      return ("%s: %s vs %s"):format(path, tostring(a), tostring(b))
    end
    return nil
  elseif type(a) ~= "table" then
    return a ~= b and ("%s: %q vs %q"):format(path, tostring(a), tostring(b)) or nil
  end
  if seen[a] == b then
    return nil
  end
  seen[a] = b
  if getmetatable(a) ~= getmetatable(b) then
    return path .. ": different metatables"
  end
  for k, v in pairs(a) do
    local d = diff(v, b[k], ("%s[%s]"):format(path, tostring(k)), seen)
    if d then
      return d
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return ("%s[%s]: missing on the left"):format(path, tostring(k))
    end
  end
  return nil
end

---Raises when `a` and `b` differ, saying where.
function M.same(a, b, what)
  local d = diff(a, b, "$", {})
  if d then
    M.fail("%s: %s", what, d)
  end
end

---`text` cut into 1 to 64 pieces at places that depend only on the text (some pieces empty,
---some a single byte), so a finding reproduces from the input alone.
function M.pieces(text)
  local n = #text
  local seed = n
  for i = 1, math.min(n, 8) do
    seed = (seed * 31 + text:byte(i)) % 2147483648
  end
  local count = seed % 64 + 1
  local cuts = {}
  local x = seed
  for i = 1, count - 1 do
    x = (x * 1103515245 + 12345) % 2147483648
    cuts[i] = (x >> 4) % (n + 1)
  end
  table.sort(cuts)
  local out, from = {}, 1
  for _, c in ipairs(cuts) do
    out[#out + 1] = text:sub(from, c)
    from = c + 1
  end
  out[#out + 1] = text:sub(from)
  return out
end

---The input's lines (at most `max`, the last one holding the rest), for drivers that fill fields.
function M.fields(text, max)
  local out, from = {}, 1
  while #out < max - 1 do
    local nl = text:find("\n", from, true)
    if not nl then
      break
    end
    out[#out + 1] = text:sub(from, nl - 1)
    from = nl + 1
  end
  out[#out + 1] = text:sub(from)
  return out
end

---A small whole number from the byte at `i` of `text` (0 when there is none).
function M.byte(text, i)
  return text:byte(i) or 0
end

return M
