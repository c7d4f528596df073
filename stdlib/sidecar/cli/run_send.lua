--- `sidecar run send R-0004 TEXT` and `run send R-0004 --key y`: input typed on the terminal of a run
--- started with --pty (stdlib/sidecar/agent/input_channel.lua; its owner types it from its wait loop and
--- records it as an event). TEXT is followed by Enter unless --no-enter.
local input_channel = require("sidecar.agent.input_channel")
local input_keys = require("sidecar.core.input_keys")
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")

local M = {}

local EXIT_OK, EXIT_USAGE = 0, 2
local ACTIVE = { queued = true, running = true }

---The run `id` ready to be typed to: the run record and its folder, or nil, message, exit status.
---@param s table  an open store
---@param id string
function M.terminal_of(s, id)
  local run = s:get_run(id)
  if not run then
    return nil, ("no run %s (see sidecar run list)"):format(id), 1
  end
  run = require("sidecar.executor.reconcile").reconcile(s, run) -- a dead worker's run is ended first
  if not ACTIVE[run.status] then
    return nil, ("run %s is not running (it ended %s): there is nothing to type to"):format(id, tostring(run.status)), 1
  end
  local launched = type(run.launch) == "table" and run.launch.pty == true
  local run_dir = s.root .. "/runs/" .. id
  if not (run.pty == true or launched) then
    return nil, ("run %s was not started with --pty: its agent has no terminal to type to (start one with sidecar "
      .. "run T-… --background --pty)"):format(id), 1
  end
  if run.status == "running" and not input_channel.exists(run_dir) then
    return nil, ("run %s has no input channel yet (its agent is starting): try again in a moment"):format(id), 1
  end
  return run, run_dir
end

-- What to type, from the options: {bytes, text, key, enter}, or nil and why (a usage error).
local function input_of(o)
  if o.key and o.text then
    return nil, "give TEXT or --key NAME, not both"
  elseif o.key then
    local bytes = input_keys.BYTES[o.key]
    if not bytes then
      return nil, ("unknown key '%s' (keys: %s)"):format(o.key, input_keys.names())
    end
    return { bytes = bytes, key = o.key }
  elseif o.text then
    local enter = not o.no_enter
    return { bytes = o.text .. (enter and input_keys.BYTES.enter or ""), text = o.text, enter = enter }
  end
  return nil, "what to type? sidecar run send R-0004 TEXT, or --key enter (keys: " .. input_keys.names() .. ")"
end

---`sidecar run send R-… TEXT | --key NAME [--no-enter]`
function M.send(o)
  if not (o.id and o.id:match("^R%-%d+$")) then
    return out.fail(o, "run send", ("'%s' is not a run id (run ids look like R-0001)"):format(tostring(o.id)),
      EXIT_USAGE)
  end
  local entry, why = input_of(o)
  if not entry then
    return out.fail(o, "run send", why, EXIT_USAGE)
  end
  local s, cfg = require("sidecar.cli.root").open_runs(o, "run send")
  if not s then
    return cfg
  end
  local run, run_dir, status = M.terminal_of(s, o.id)
  s:close()
  if not run then
    return out.fail(o, "run send", run_dir, status)
  end
  entry.by = "run send"
  if run.status == "queued" then
    input_channel.open(run_dir) -- typed once its agent has started
  end
  local ok, bad = input_channel.post(run_dir, entry)
  if not ok then
    return out.fail(o, "run send", bad)
  end
  if o.json then
    out.envelope("run send", true, { run_id = o.id, key = entry.key or json.null, text = entry.text or json.null,
      enter = entry.enter or false, bytes = #entry.bytes }, nil, o.version)
  end
  return EXIT_OK
end

return M
