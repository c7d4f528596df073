--- Validation steps of a task packet (`execution.commands.validation[]`, docs/formats.md §7): their
--- kinds and default timeouts, the CLI shorthand (sidecar.task.validation_entry, re-exported here), and
--- running them after an agent's run and judging the results (here).
---
---   local validation = require("sidecar.task.validation")
---   local steps = assert(validation.parse_cmds("typecheck:tsc --noEmit,test@30s:npm test,bash smoke.sh"))
---   local results = validation.run(steps, {
---     cwd = worktree,
---     on_result = function(i, r) assert(s:add_validation(run_id, r)) end,
---   })
---   validation.summary(results)   -- {total = 3, passed = 2, failed = 1, timed_out = 0}
---   validation.blocker(results)   -- nil when all passed, else "validation failed: test step ..."
---   validation.failure(result)    -- how one step failed: "test step 'npm test' exited with code 1"
---
--- Entries, their kinds and the `--validate-cmds` shorthand: see sidecar.task.validation_entry.
---
--- A result is exactly {kind, command, name, exit_code, ok, timed_out, duration_ms, timeout_ms,
--- output_snippet}: `name` and `exit_code` are json.null when absent (no name; ended by a signal or
--- never started), `output_snippet` is the last ~2000 bytes of stdout and stderr as they arrived,
--- cut at a character boundary, invalid UTF-8 replaced, secrets redacted.
---
--- This module knows nothing of the store or the CLI: callers store results through on_result.
--- Operational failures are data (nil, message; a failed result); wrong argument types raise.
local coop = require("sidecar.core.coop")
local entry_of = require("sidecar.task.validation_entry")
local errors = require("sidecar.core.errors")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local secrets = require("sidecar.core.secrets")

local M = {}

-- Entries (sidecar.task.validation_entry), re-exported.
M.KINDS = entry_of.KINDS
M.DEFAULT_TIMEOUT_MS = entry_of.DEFAULT_TIMEOUT_MS
M.is_kind = entry_of.is_kind
M.describe = entry_of.describe
M.normalise = entry_of.normalise
M.timeout_for = entry_of.timeout_for
M.parse_cmds = entry_of.parse_cmds

---Bytes of output kept in a result's output_snippet (at most; less after a character cut).
M.SNIPPET_BYTES = 2000

-- The tail of the output that redaction sees: far more than the snippet, so a secret cut in half
-- by the window's start is never inside the snippet.
local REDACT_WINDOW = 16384

local KIND_LIST = entry_of.KIND_LIST

-- Running ------------------------------------------------------------------------------------

local RUN_OPTIONS = {
  cwd = "string", env = "table", timeouts = "table", on_step = "function", on_result = "function",
  sandbox = "function", on_escapees = "function", stop_on_failure = "boolean", snippet_bytes = "integer",
}

-- Raised at the line that called run (bad_option <- check_options <- run <- its caller).
local function bad_option(message)
  errors.raise("bad_option", "validation.run: " .. message, nil, 4)
end

local function check_options(opts)
  if type(opts) ~= "table" then
    bad_option("options must be a table, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local want = RUN_OPTIONS[k]
    if not want then
      local names = {}
      for name in pairs(RUN_OPTIONS) do
        names[#names + 1] = name
      end
      table.sort(names)
      bad_option(("unknown option '%s' (options: %s)"):format(tostring(k), table.concat(names, ", ")))
    elseif (want == "integer" and (math.type(v) ~= "integer" or v < 1)) or (want ~= "integer" and type(v) ~= want) then
      bad_option(("option '%s' must be a %s, got %s"):format(k, want == "integer" and "positive integer" or want, M.describe(v)))
    end
  end
  for kind, ms in pairs(opts.timeouts or {}) do
    if not M.is_kind(kind) then
      bad_option(("timeouts: unknown kind '%s' (kinds: %s)"):format(tostring(kind), KIND_LIST))
    elseif math.type(ms) ~= "integer" or ms < 1 then
      bad_option(("timeouts.%s must be a positive integer, got %s"):format(kind, M.describe(ms)))
    end
  end
end

-- The last `keep` bytes of a stream, kept without holding all of it.
local function new_tail(keep)
  local parts, size = {}, 0
  local tail = {}
  function tail.add(chunk)
    parts[#parts + 1] = chunk
    size = size + #chunk
    if size > 2 * keep then
      local s = table.concat(parts):sub(-keep)
      parts, size = { s }, #s
    end
  end
  function tail.text()
    local s = table.concat(parts)
    return #s > keep and s:sub(-keep) or s
  end
  return tail
end

-- `s` with each byte that is not part of valid UTF-8 replaced by U+FFFD.
local function valid_utf8(s)
  if utf8.len(s) then
    return s
  end
  local out, i = {}, 1
  while i <= #s do
    local ok, bad = utf8.len(s, i)
    if ok then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
  end
  return table.concat(out)
end

local function redact_window(limit)
  return math.max(REDACT_WINDOW, 4 * limit)
end

---The snippet stored for an output: redacted, valid UTF-8, its last `limit` bytes (fewer when
---the cut would split a character).
---@param output string
---@param limit? integer  default SNIPPET_BYTES
---@return string
function M.snippet(output, limit)
  limit = limit or M.SNIPPET_BYTES
  local window = redact_window(limit)
  if #output > window then
    output = output:sub(-window)
  end
  local s = valid_utf8((secrets.redact(output)))
  if #s <= limit then
    return s
  end
  local start = #s - limit + 1
  while start <= #s and s:byte(start) >= 0x80 and s:byte(start) < 0xC0 do -- a continuation byte
    start = start + 1
  end
  return s:sub(start)
end

local function result_of(entry, timeout_ms, fields)
  return json.object({
    kind = entry.kind, command = entry.command, name = entry.name or json.null,
    exit_code = fields.exit_code or json.null, ok = fields.ok, timed_out = fields.timed_out,
    duration_ms = fields.duration_ms, timeout_ms = timeout_ms, output_snippet = fields.output_snippet,
  })
end

local function run_step(entry, opts)
  local timeout_ms = M.timeout_for(entry, opts.timeouts)
  local limit = opts.snippet_bytes or M.SNIPPET_BYTES
  local tail = new_tail(redact_window(limit))
  local cmd, env, sb = proc.shell(entry.command), opts.env, nil
  if opts.sandbox then -- the step in an OS sandbox: it may run code the agent wrote
    env = {}
    for k, v in pairs(opts.env or {}) do
      env[k] = v
    end
    local why
    sb, why = opts.sandbox(cmd, env)
    if not sb then
      return result_of(entry, timeout_ms, { ok = false, timed_out = false, duration_ms = 0,
        output_snippet = M.snippet("could not start: the OS sandbox could not be opened: " .. tostring(why), limit) })
    end
    cmd = sb.argv
  end
  local started, handle = pcall(proc.spawn, cmd, {
    cwd = opts.cwd, env = env, timeout_ms = timeout_ms, stdout = tail.add, stderr = tail.add,
    name = "validation " .. entry.kind, fd3 = sb and sb.report, term_ignored = sb and true or nil,
  })
  if not started then
    if sb then
      sb:finish()
    end
    if not errors.is(handle, "spawn_failed") then
      error(handle, 0) -- a bad option is the caller's mistake
    end
    return result_of(entry, timeout_ms, {
      ok = false, timed_out = false, duration_ms = 0,
      output_snippet = M.snippet("could not start: " .. tostring(handle.message), limit),
    })
  end
  local h <close> = handle -- an interrupt raised by wait still stops the step's processes
  local r = coop.wait_or_stop(h) -- a preset's other runs in its pool go on meanwhile (sidecar.core.coop)
  local report = sb and sb:finish()
  if report and (report.exit_code or report.signal) then
    r.code = report.exit_code -- the step's own status, not the sandbox's
  end
  local stopped_by = report and require("sidecar.run.sandbox_limits").hit_text(report.limits)
  if stopped_by then -- said last, where a reader of the snippet looks first
    tail.add("\n[sidecar: " .. stopped_by .. "]\n")
  end
  if report and #report.escapees > 0 and opts.on_escapees then
    opts.on_escapees(report.escapees)
  end
  return result_of(entry, timeout_ms, {
    exit_code = r.code, ok = r.code == 0 and not r.timed_out, timed_out = r.timed_out == true,
    duration_ms = math.tointeger(math.floor(r.duration_ms + 0.5)),
    output_snippet = M.snippet(tail.text(), limit),
  })
end

---Runs each entry in order with /bin/sh -c in opts.cwd, under its timeout (the entry's
---timeout_ms, else opts.timeouts[kind], else the kind's default); a timeout ends the step's whole
---process group. Every step runs unless opts.stop_on_failure (then the results end at the first
---failure). A step that cannot start is a failed result with exit_code null. Ctrl-C raises.
---opts.sandbox(argv, env) opens an OS sandbox around each step (stdlib/sidecar/run/sandbox.lua:
---returns the sandbox, or nil and why: the step fails saying so); opts.on_escapees(list) gets what
---a sandboxed step left running (killed by its sandbox).
---@param entries (string|table)[]  entries as normalise() accepts them (a bad one raises)
---@param opts? {cwd: string?, env: table?, timeouts: table<string, integer>?, on_step: fun(i, entry)?, on_result: fun(i, result)?, stop_on_failure: boolean?, snippet_bytes: integer?, sandbox: function?, on_escapees: function?}
---@return table[] results
function M.run(entries, opts)
  opts = opts or {}
  if type(entries) ~= "table" then
    errors.raise("bad_argument", "validation.run: entries must be an array, got " .. type(entries), nil, 2)
  end
  check_options(opts)
  local steps = {}
  for i, e in ipairs(entries) do -- every entry is checked before anything runs
    local entry, message = M.normalise(e)
    if not entry then
      errors.raise("bad_argument", ("validation.run: entries[%d]: %s"):format(i, message), nil, 2)
    end
    steps[i] = entry
  end
  local results = json.array({})
  for i, entry in ipairs(steps) do
    if opts.on_step then
      opts.on_step(i, entry)
    end
    local result = run_step(entry, opts)
    results[i] = result
    if opts.on_result then
      opts.on_result(i, result)
    end
    if opts.stop_on_failure and not result.ok then
      break
    end
  end
  return results
end

-- The first bytes of `s`, at most `n`, not splitting a character.
local function utf8_head(s, n)
  local stop = n + 1
  while stop > 1 and (s:byte(stop) or 0) >= 0x80 and (s:byte(stop) or 0) < 0xC0 do
    stop = stop - 1
  end
  return s:sub(1, stop - 1)
end

-- Verdicts -----------------------------------------------------------------------------------

---Counts: failed includes the timed-out steps, which timed_out counts again.
---@param results table[]
---@return {total: integer, passed: integer, failed: integer, timed_out: integer}
function M.summary(results)
  local s = { total = #results, passed = 0, failed = 0, timed_out = 0 }
  for _, r in ipairs(results) do
    if r.ok then
      s.passed = s.passed + 1
    else
      s.failed = s.failed + 1
    end
    if r.timed_out then
      s.timed_out = s.timed_out + 1
    end
  end
  return s
end

---How one failed step failed, naming its kind: "test step 'npm test' exited with code 1",
---"... timed out after 30000 ms", "... ended without an exit code (...)".
---@param r table  a result (or any {kind, command, name?, exit_code?, timed_out?, timeout_ms?})
---@return string
function M.failure(r)
  local what = ("%s step '%s'"):format(r.kind or "custom", r.command or r.name or "?")
  if type(r.not_run) == "string" then
    return what .. " was not run: " .. r.not_run
  elseif r.timed_out then
    return what .. (math.type(r.timeout_ms) and (" timed out after %d ms"):format(r.timeout_ms) or " timed out")
  elseif math.type(r.exit_code) == "integer" then
    return what .. (r.exit_code == 0 and " failed its check (exit code 0)" or (" exited with code %d"):format(r.exit_code))
  end
  return what .. " ended without an exit code (killed by a signal, or it could not start)"
end

---nil when every step passed (or there were none); else a blocker message naming the first
---failing step and the kinds of the others: "validation failed: test step 'npm test' exited with
---code 1 (2 of 3 steps passed)".
---@param results table[]
---@return string|nil
function M.blocker(results)
  local first, others, seen = nil, {}, {}
  local passed = 0
  for _, r in ipairs(results) do
    if r.ok then
      passed = passed + 1
    elseif not first then
      first = r
    elseif not seen[r.kind] then
      seen[r.kind] = true
      others[#others + 1] = r.kind
    end
  end
  if not first then
    return nil
  end
  local shown = setmetatable({ command = first.command }, { __index = first })
  if #first.command > 80 then
    shown.command = utf8_head(first.command, 77) .. "..."
  end
  local also = #others > 0 and ("; also failed: " .. table.concat(others, ", ")) or ""
  return ("validation failed: %s (%d of %d steps passed%s)"):format(M.failure(shown), passed, #results, also)
end

return M
