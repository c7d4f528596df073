--- Child processes: run a command and get its result, or spawn it and stream its output.
---
--- The shape of Neovim's vim.system: `cmd` is an argv array (a shell only through proc.shell),
--- stdin is /dev/null unless given, every child gets its own process group, and timeouts end the
--- whole group (SIGTERM, then SIGKILL after `kill_grace_ms`). A program that cannot start raises
--- an error naming it and the PATH searched; a non-zero exit is data in the result.
---
--- Options (all optional):
---   cwd, env ({NAME = "value" | false}), clear_env,
---   stdin: a string | true (write later with handle:write) | nil (/dev/null),
---   stdout, stderr: nil or true (collect) | false (discard) | "file/path" | function(chunk) |
---                   {collect =, file =, append =, redact =, max_bytes =, on_chunk =, on_line =}
---                   (redact: secrets are replaced, host/secrets/stream_redactor.hpp, before the file,
---                   the callbacks or the result see a byte; held back to a line's end;
---                   max_bytes: the file keeps its first and last max_bytes/2 with a marker line
---                   between them past that size, host/process/log_cap.hpp; the callbacks still see all;
---                   a file is never opened through a symbolic link: one there is an error),
---   timeout_ms, idle_timeout_ms, kill_grace_ms (default 2000), max_output (bytes kept per
---   collected stream, the tail; default proc.MAX_OUTPUT, 256 MiB, so that a flood cannot exhaust
---   memory; 0: no bound), pty (true or {cols =, rows =}: both streams arrive as stdout), name,
---   parent_death ("term", the default, or "kill": the signal the process gets when Sidecar dies,
---   however it dies; SIGTERM lets a program such as git remove its lock files, an agent gets
---   SIGKILL), fd3 (the child's fd 3: a path, opened for writing, or a memory file of
---   sidecar.host.memfile, emptied first: the OS sandbox's report),
---   term_ignored (the child starts with SIGTERM ignored: a sandbox's pid 1 sets its own handler),
---   caller_stops (an interrupt leaves the child to the caller, who stops it its own way: an ACP
---   agent is asked to cancel its turn first; a second interrupt stops it as any other).
---
--- Result: cmd, name, pid, code (nil when a signal ended it), signal, signal_name, ok,
--- timed_out, timeout_reason ("wall" | "idle"), stdout, stderr (when collected), truncated,
--- stdout_bytes, stderr_bytes, duration_ms, interrupted, stopped, killed, descendants_killed,
--- error (a failure after the start, such as a tee file that could not be written), and for a
--- sink with max_bytes stdout_log / stderr_log = {max_bytes, seen, kept, dropped, truncated}.
---
--- Detached processes are the one exception to "no child outlives Sidecar": proc.detach(cmd,
--- opts) starts a program meant to outlive it (a background run's worker) and returns its pid.
--- It runs in its own session (a closing terminal's SIGHUP never reaches it), with stdin
--- /dev/null and descriptors beyond stderr closed; Sidecar never waits for it, never stops it
--- at exit, and leaves no zombie (it is reparented to init at once). A program that cannot start
--- raises spawn_failed, as proc.spawn does. Options: cwd, env ({NAME = "value" | false}),
--- clear_env, stdout, stderr (a file path, appended to | false or nil: /dev/null).
--- proc.signal(pid, sig?, {group = true}?) and proc.alive(pid) then reach it by pid.
---
--- Commands, options and signals are checked in one place, the binding (lua/proc_options.cpp);
--- this module passes them through and raises what it finds as a bad_option error naming the
--- function and the caller's line.
local coop = require("sidecar.core.coop")
local host = require("sidecar.host.proc")
local errors = require("sidecar.core.errors")

local M = {}

M.signals = host.signals

---The bytes kept of a collected stream (its tail) when the caller sets no max_output.
M.MAX_OUTPUT = 256 * 1024 * 1024

---The sidecar binary that starts Sidecar's other processes (background workers, every sandboxed
---agent's sandbox-init, hooks), or nil and why there is none: the running binary in the CLI; in a
---program that embeds Sidecar, its Host's (HostOptions::sidecar_binary, else the `sidecar`
---installed beside the library, else `sidecar` on PATH), never the program itself.
---@return string|nil path, string? why
M.find_executable = host.executable

---The path of that binary (find_executable); raises, saying what was tried, when there is none.
---@return string path
function M.executable()
  local path, why = host.executable()
  if not path then
    error(why, 2)
  end
  return path
end

local function fail(what, message, level)
  errors.raise("bad_option", what .. ": " .. message, nil, level + 1)
end

-- Commands and options are checked in one place, the host (lua/proc_options.cpp): its message
-- becomes a bad_option error naming the function (`what`) at the caller's line (`level`, counted
-- as fail's). An interrupt that lands meanwhile (Ctrl-C, SIGTERM) goes on up as it is: made a
-- bad_option, no caller would know it for one (errors.is_interrupt), and a pcall on the way would
-- swallow it.
local function checked(what, level, fn, ...)
  local ok, a, b, c = pcall(fn, ...)
  if not ok then
    if type(a) ~= "string" or errors.is_interrupt(a) then
      error(a, 0)
    end
    fail(what, a, level + 1)
  end
  return a, b, c
end

local function spawn(what, cmd, opts, on_exit, level)
  local handle, message, code = checked(what, level + 1, host.spawn, cmd, opts, on_exit, M.MAX_OUTPUT)
  if not handle then
    errors.raise("spawn_failed", message, { errno = code, cmd = cmd }, level + 1)
  end
  return handle
end

---Starts a process and returns its handle at once.
---handle:wait(ms?) → result | nil, "timeout" (the process keeps running); handle:kill(sig?)
---(no signal: SIGTERM to the group, SIGKILL after the grace); handle:write(data | nil);
---handle:pid(); handle:running(); handle:close() (stops it if running; also `<close>`).
---@param cmd string[]
---@param opts? table
---@param on_exit? fun(result: table)  called with the result when it ends (during a wait or poll)
---@return userdata handle
function M.spawn(cmd, opts, on_exit)
  local handle = spawn("proc.spawn", cmd, opts, on_exit, 2)
  return handle -- not a tail call: error levels count this frame
end

---Runs a process to its end and returns the result.
---@param cmd string[]
---@param opts? table
---@return table result
function M.run(cmd, opts)
  local handle <close> = spawn("proc.run", cmd, opts, nil, 2)
  return coop.wait_or_stop(handle) -- giving way to the other tasks when in one (a preset's agent runs)
end

---Starts `cmd` detached: it outlives Sidecar, which never waits for it nor stops it (see the
---header). Returns the program's pid once it has started; a program that cannot start (not
---found, not executable, a missing cwd, an output file that cannot be opened) raises
---spawn_failed at once.
---@param cmd string[]
---@param opts? {cwd: string?, env: table?, clear_env: boolean?, stdout: string|false|nil, stderr: string|false|nil}
---@return integer pid
function M.detach(cmd, opts)
  local pid, message, code = checked("proc.detach", 2, host.detach, cmd, opts)
  if not pid then
    errors.raise("spawn_failed", message, { errno = code, cmd = cmd }, 2)
  end
  return pid
end

---Sends `sig` (a name such as "TERM" or "SIGKILL", or a number; default "TERM") to process
---`pid`, or to process group `pid` with `group = true` (a detached process leads its own).
---Returns true, or nil, message and code when it is gone ("ESRCH") or not ours ("EPERM").
---@param pid integer
---@param sig? string|integer
---@param opts? {group: boolean?}
---@return true|nil ok
---@return string? message
---@return string? code
function M.signal(pid, sig, opts)
  local ok, message, code = checked("proc.signal", 2, host.signal, pid, sig, opts)
  return ok, message, code
end

---Whether process `pid` is running (a zombie, ended but not yet reaped, is not).
---@param pid integer
---@return boolean
function M.alive(pid)
  local alive = checked("proc.alive", 2, host.alive, pid)
  return alive
end

---Who sent the last Ctrl-C or SIGTERM this process took ("SIGTERM from pid 4242 (bash)",
---"SIGINT from the terminal (Ctrl-C)"), or nil when none came (or Sidecar is embedded: the
---program's own interrupt is no signal).
---@return string|nil
M.interrupt_origin = host.interrupt_origin

---What a run stopped by an interrupt records as its reason: "interrupted (SIGTERM from pid 4242
---(bash))", or "interrupted (Ctrl-C or SIGTERM)" when the sender is not known.
---@return string
function M.interrupted_reason()
  local task = coop.task() -- a task stopped alone (a run among others of its process) says by what
  return ("interrupted (%s)"):format(task and task.reason or host.interrupt_origin() or "Ctrl-C or SIGTERM")
end

---The argv that runs `script` with /bin/sh -c.
---@param script string
---@return string[]
function M.shell(script)
  if type(script) ~= "string" then
    fail("proc.shell", "the script must be a string, got " .. type(script), 2)
  end
  return { "/bin/sh", "-c", script }
end

---The first of `handles` to finish, and its index; nil, "timeout" after `ms`.
---@param handles userdata[]
---@param ms? integer
function M.wait_any(handles, ms)
  return host.wait_any(handles, ms)
end

---Runs the loop for up to `ms` (default 0), dispatching callbacks; returns how many are running.
---It returns once callbacks have run: those of what the loop had read already (handle:running()
---reads without dispatching) at once, else those of the first events to come.
---@param ms? integer
---@return integer
function M.poll(ms)
  return host.poll(ms)
end

-- A parallel spec is {cmd = argv, <options>} or an argv array with options as named fields.
local function split_spec(spec, i)
  local what = ("proc.parallel: specs[%d]"):format(i)
  if type(spec) ~= "table" then
    fail(what, "must be a table, got " .. type(spec), 3)
  end
  local cmd, opts, on_exit = spec.cmd, {}, spec.on_exit
  for k, v in pairs(spec) do
    if type(k) ~= "number" and k ~= "cmd" and k ~= "on_exit" then
      opts[k] = v
    end
  end
  if cmd == nil then
    cmd = table.move(spec, 1, #spec, 1, {})
  end
  return what, cmd, opts, on_exit
end

---Runs every spec, at most `max_jobs` at a time, and returns the results in input order and
---whether all succeeded. A spec that cannot start gets {ok = false, error =, errno =}. With
---`fail_fast`, the first failure stops the running ones (`cancelled = true`) and skips the rest
---(`skipped = true`).
---@param specs table[]
---@param opts? {max_jobs: integer?, fail_fast: boolean?}
---@return table[] results
---@return boolean all_ok
function M.parallel(specs, opts)
  opts = opts or {}
  if type(specs) ~= "table" then
    fail("proc.parallel", "specs must be an array, got " .. type(specs), 2)
  end
  for k in pairs(opts) do
    if k ~= "max_jobs" and k ~= "fail_fast" then
      fail("proc.parallel", ("unknown option '%s' (options: fail_fast, max_jobs)"):format(tostring(k)), 2)
    end
  end
  local max_jobs = opts.max_jobs or 8
  if math.type(max_jobs) ~= "integer" or max_jobs < 1 then
    fail("proc.parallel", "max_jobs must be an integer >= 1, got " .. tostring(opts.max_jobs), 2)
  end
  local n = #specs
  local prepared = {}
  for i = 1, n do -- every spec is checked before anything starts
    local what, cmd, o, on_exit = split_spec(specs[i], i)
    checked(what, 2, host.check, cmd, o, on_exit)
    prepared[i] = { what = what, cmd = cmd, opts = o, on_exit = on_exit }
  end

  local results, running, index_of = {}, {}, {}
  local next_i, all_ok, stopping = 1, true, false
  -- If a callback raises, the processes still running are stopped on the way out.
  local _ <close> = setmetatable({}, { __close = function()
    for _, h in ipairs(running) do
      h:close()
    end
  end })
  local function failed()
    all_ok = false
    if opts.fail_fast and not stopping then
      stopping = true
      for _, h in ipairs(running) do
        h:kill()
      end
    end
  end
  while next_i <= n or #running > 0 do
    while not stopping and next_i <= n and #running < max_jobs do
      local p = prepared[next_i]
      local handle, message, code = checked(p.what, 2, host.spawn, p.cmd, p.opts, p.on_exit, M.MAX_OUTPUT)
      if handle then
        running[#running + 1] = handle
        index_of[handle] = next_i
      else
        results[next_i] = { cmd = p.cmd, ok = false, error = message, errno = code }
        failed()
      end
      next_i = next_i + 1
    end
    if #running == 0 then
      break
    end
    local handle, k = host.wait_any(running)
    local result = handle:wait()
    handle:close()
    table.remove(running, k)
    results[index_of[handle]] = result
    if stopping and result.stopped then
      result.cancelled = true
    elseif not result.ok then
      failed()
    end
  end
  for i = next_i, n do
    results[i] = { cmd = prepared[i].cmd, ok = false, skipped = true }
  end
  return results, all_ok
end

return M
