--- `sidecar run attach R-0004`: the terminal of a run started with --pty, given to the user. What
--- its screen showed so far and what follows (terminal.log) is written to this terminal as it is;
--- each key typed goes to the run's input (stdlib/sidecar/agent/input_channel.lua), which its owner
--- types on the agent's terminal. Ctrl-] detaches: the run goes on. So does the end of the run.
---
--- This terminal is in raw mode meanwhile (stty: keys arrive one by one, unechoed, Ctrl-C
--- as a key for the agent) and is restored on every way out: detaching, the run's end, an error,
--- Ctrl-C from outside or SIGTERM (both raised as an interrupt in Lua, which closes the guard).
local input_channel = require("sidecar.agent.input_channel")
local out = require("sidecar.cli.output")
local proc = require("sidecar.core.proc")
local terminal = require("sidecar.core.terminal")
local time = require("sidecar.host.time")

local M = {}

M.DETACH = "\29" -- Ctrl-]
local READ_CHUNK = 4096

-- Raw mode on the terminal of stdin: a guard whose close restores the settings saved before; nil,
-- why. (stty runs in a session of its own, as every child: it is given the terminal's path.)
local function raw_mode()
  local tty = require("sidecar.host.paths").real("/proc/self/fd/0")
  if not tty then
    return nil, "cannot find the terminal of stdin (/proc/self/fd/0)"
  end
  local saved = proc.run({ "stty", "-F", tty, "-g" })
  if not saved.ok then
    return nil, "cannot read the terminal's settings (stty -g): " .. tostring(saved.stderr or saved.error)
  end
  local settings = saved.stdout:gsub("%s+$", "")
  -- min 0 time 1: a read returns what was typed, or nothing after 0.1 s (the loop goes on)
  local set = proc.run({ "stty", "-F", tty, "raw", "-echo", "min", "0", "time", "1" })
  if not set.ok then
    return nil, "cannot put the terminal in raw mode (stty raw): " .. tostring(set.stderr or set.error)
  end
  return setmetatable({}, { __close = function()
    proc.run({ "stty", "-F", tty, settings })
  end })
end

-- Writes what terminal.log gained since `offset` to this terminal, as it is (a log cut shorter
-- than what was shown is read again from its start). Returns the new offset.
local function show_log(path, offset)
  local f = io.open(path, "rb")
  if not f then
    return offset
  end
  local size = f:seek("end")
  if size < offset then
    offset = 0
  end
  f:seek("set", offset)
  local chunk = f:read(1024 * 1024) or ""
  f:close()
  if #chunk > 0 then
    terminal.write_raw(io.stdout, chunk)
    io.stdout:flush()
  end
  return offset + #chunk
end

-- Keys typed since the last call ("" when none), read without blocking more than 0.1 s.
local function keys()
  local got = io.stdin:read(1)
  if not got then
    return ""
  end
  local more = { got }
  while #more < READ_CHUNK do
    local b = io.stdin:read(1)
    if not b then
      break
    end
    more[#more + 1] = b
  end
  return table.concat(more)
end

-- The attached loop: until the key that detaches, or the run's end. Returns how it ended.
local function follow(s, o, run_dir)
  local log, offset = run_dir .. "/terminal.log", 0
  local state_checked = 0
  while true do
    offset = show_log(log, offset)
    local typed = keys()
    local cut = typed:find(M.DETACH, 1, true)
    local send = cut and typed:sub(1, cut - 1) or typed
    if #send > 0 then
      input_channel.post(run_dir, { bytes = send, text = send, by = "run attach" })
    end
    if cut then
      return "detached"
    end
    local now = time.monotonic_ns() // 1000000
    if now - state_checked >= 500 then
      state_checked = now
      local run = require("sidecar.executor.reconcile").reconcile(s, s:get_run(o.id))
      if run.status ~= "running" and run.status ~= "queued" then
        show_log(log, offset)
        return "ended " .. tostring(run.status)
      end
    end
  end
end

---`sidecar run attach R-…`
function M.attach(o)
  if not (o.id and o.id:match("^R%-%d+$")) then
    return out.fail(o, "run attach", ("'%s' is not a run id (run ids look like R-0001)"):format(tostring(o.id)), 2)
  end
  if not time.isatty(0) or not time.isatty(1) then
    return out.fail(o, "run attach", "run attach needs a terminal on stdin and stdout (to type from a script, use "
      .. "sidecar run send)", 2)
  end
  local s, cfg = require("sidecar.cli.root").open_runs(o, "run attach")
  if not s then
    return cfg
  end
  local run, run_dir, status = require("sidecar.cli.run_send").terminal_of(s, o.id)
  if not run then
    s:close()
    return out.fail(o, "run attach", run_dir, status)
  end
  io.stderr:write(("sidecar: attached to %s: Ctrl-] detaches (the run goes on)\r\n"):format(o.id))
  local how
  do
    local raw <close>, why = raw_mode()
    if not raw then
      s:close()
      return out.fail(o, "run attach", why)
    end
    io.stdin:setvbuf("no")
    local ok, err = pcall(follow, s, o, run_dir)
    if not ok then
      s:close()
      error(err, 0) -- raw mode is restored first (the guard closes on the way out)
    end
    how = err
  end
  s:close()
  io.stderr:write(("\nsidecar: %s: %s\n"):format(o.id, how == "detached" and "detached; the run goes on" or
    ("the run " .. how)))
  return 0
end

return M
