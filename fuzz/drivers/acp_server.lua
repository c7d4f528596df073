--- Fuzz driver: a client's lines to `sidecar acp` (stdlib/sidecar/acp/server.lua): any bytes are
--- data. The server never raises; every line it writes is a JSON-RPC 2.0 message that decodes; and
--- each request a client sends with an id (a string or an integer) gets exactly one answer with
--- that id, whatever came before it. A prompt's work is not the server's: here a turn answers its
--- prompt at once, and no preset is looked up (no process is started, no repository code loaded).
local common = require("fuzz.common")
local json = require("sidecar.core.json")
local server = require("sidecar.acp.server")
local turn = require("sidecar.acp.turn")

turn.presets_of = function()
  return {}, {}
end
turn.start = function(srv, _, id)
  srv:reply(id, { stopReason = "end_turn" })
  return { done = true, poll = function() return true end, cancel = function() end }
end

local function id_key(id)
  return math.type(id) == "integer" and ("i" .. id) or (type(id) == "string" and ("s" .. id)) or nil
end

-- The answers a line asks for: one for a request object with a valid id, none for an answer to
-- the server (result or error, no method), a notification or what is not an object.
local function expects(line, counts)
  local ok, m = json.try_decode(line)
  if not (ok and json.is_object(m)) then
    return
  end
  local key = id_key(m.id)
  if key and not (m.method == nil and (m.result ~= nil or m.error ~= nil)) then
    counts[key] = (counts[key] or 0) + 1
  end
end

return function(text)
  local written = {}
  local out = { write = function(_, s) written[#written + 1] = s end, flush = function() end }
  local srv = server.new(out, { version = "fuzz" })
  local want = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    expects(line, want)
    srv:handle_line(line)
  end
  local got = {}
  for _, s in ipairs(written) do
    local ok, m = json.try_decode(s)
    if not (ok and json.is_object(m) and m.jsonrpc == "2.0") then
      common.fail("a line written that is not JSON-RPC 2.0: %s", s:sub(1, 200))
    end
    local key = m.method == nil and id_key(m.id)
    if key then
      got[key] = (got[key] or 0) + 1
    end
  end
  for key, n in pairs(want) do
    if got[key] ~= n then
      common.fail("request id %s: %d request(s), %d answer(s)", key, n, got[key] or 0)
    end
  end
  for key, n in pairs(got) do
    if not want[key] then
      common.fail("%d answer(s) to id %s, which no request had", n, key)
    end
  end
end
