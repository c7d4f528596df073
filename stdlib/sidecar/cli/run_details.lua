--- The parts of `sidecar run show` that say what the agent did and how the record was read: its
--- session, warnings, the files it claimed against those that changed, the commands it ran, the
--- permissions it was denied, and what the event stream held (malformed lines, retries, errors,
--- dropped events, bytes that were not UTF-8). Each is left out when the record has nothing for it;
--- `run show --json` carries the same fields in full.
---
---   for _, line in ipairs(run_details.lines(record)) do print(line) end
local M = {}

-- At most this many commands, denials and stream errors are listed; the rest are counted.
local SHOWN = 20

local function list(v)
  return type(v) == "table" and v or {}
end

local function section(lines, heading, items, shown_item)
  if #items == 0 then
    return
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = heading
  for i = 1, math.min(#items, SHOWN) do
    lines[#lines + 1] = "  " .. shown_item(items[i])
  end
  if #items > SHOWN then
    lines[#lines + 1] = ("  ... and %d more (run show --json)"):format(#items - SHOWN)
  end
end

local function one_line(text, max)
  text = tostring(text):gsub("%s+", " ")
  return #text > max and (text:sub(1, max) .. "...") or text
end

local function command_text(c)
  if type(c) ~= "table" then
    return one_line(c, 200)
  end
  local exit = math.type(c.exit_code) and ("exit " .. c.exit_code) or (type(c.status) == "string" and c.status) or "?"
  return ("[%s] %s"):format(exit, one_line(c.command or "?", 200))
end

local function denial_text(d)
  if type(d) ~= "table" then
    return one_line(d, 200)
  end
  local by = d.by == "hook" and ("by Sidecar's hook" .. (type(d.reason) == "string" and (": " .. d.reason) or ""))
      or "by claude"
  return ("%s %s (%s)"):format(tostring(d.tool or "?"), one_line(d.input or "", 160), by)
end

-- "Files check": what the agent said it modified against what changed.
local function files_check_lines(lines, check)
  if type(check) ~= "table" then
    return
  end
  local claimed, unclaimed = list(check.claimed_not_changed), list(check.changed_not_claimed)
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("Files check:   %d claimed and changed, %d claimed but not changed, %d changed but not claimed")
      :format(#list(check.confirmed), #claimed, #unclaimed)
  for _, p in ipairs(claimed) do
    lines[#lines + 1] = "  claimed, not changed: " .. tostring(p)
  end
  for _, p in ipairs(unclaimed) do
    lines[#lines + 1] = "  changed, not claimed: " .. tostring(p)
  end
end

-- "Stream": the event parser's counts, when anything in them is worth a look.
local function stream_lines(lines, s, r)
  if type(s) ~= "table" then
    return
  end
  local parts = { ("%s events"):format(tostring(s.events or 0)) }
  local function note(n, what)
    if math.type(n) and n > 0 then
      parts[#parts + 1] = ("%d %s"):format(n, what)
    end
  end
  note(s.malformed_lines, "malformed lines")
  note(s.odd_lines, "odd lines")
  note(s.retries, "retries")
  note(r.events_dropped, "events dropped past the cap")
  if s.cut_mid_line then
    parts[#parts + 1] = "cut mid-line"
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Stream:        " .. table.concat(parts, ", ")
  for i, e in ipairs(list(s.errors)) do
    if i > SHOWN then break end
    lines[#lines + 1] = "  error: " .. one_line(type(e) == "table" and (e.message or e.text) or e, 200)
  end
  local bad = r.invalid_utf8
  if type(bad) == "table" and math.type(bad.bytes) then
    lines[#lines + 1] = ("  %d bytes were not UTF-8 (shown as U+FFFD) in: %s"):format(bad.bytes,
      table.concat(list(bad.fields), ", "))
  end
end

---The lines of these parts for the record `r` (a run record), each part after a blank line.
---@param r table
---@return string[]
function M.lines(r)
  local lines = {}
  if type(r.session_id) == "string" and r.session_id ~= "" then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Session:       " .. r.session_id
  end
  section(lines, "Warnings:", list(r.warnings), function(w) return "- " .. one_line(w, 300) end)
  files_check_lines(lines, r.files_check)
  section(lines, ("Commands run (%d):"):format(#list(r.commands_run)), list(r.commands_run), command_text)
  section(lines, ("Permission denials (%d):"):format(#list(r.permission_denials)), list(r.permission_denials),
    denial_text)
  stream_lines(lines, r.stream, r)
  return lines
end

return M
