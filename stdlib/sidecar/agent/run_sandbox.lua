--- An agent run's OS sandbox (stdlib/sidecar/run/sandbox.lua), as agent_run.execute uses it: the
--- settings resolved before anything is recorded, the sandbox opened around the agent's command,
--- and what it reported read back into the run.
---
---   local settings, why, code = run_sandbox.settings(o, cfg)    -- in resolve: nil when it cannot be
---   local sb, why = run_sandbox.open(settings, c)                 -- nil, nil when the sandbox is off
---   ... the agent runs (agent_watch.spawn with sandbox = sb) ...
---   local report = run_sandbox.finish(sb, r, record, escapees, run_dir)   -- before the record is read
---   run_sandbox.record(sb, report, record)                                 -- after
local hook_record = require("sidecar.agent.hook_record")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local sandbox = require("sidecar.run.sandbox")
local sandbox_host = require("sidecar.run.sandbox_host")

local M = {}

---The sandbox settings of a run: o.isolation (a caller that read the config), else `cfg` (the
---config of the run's store folder, read by the caller: its `isolation` section and the runner's
---`network`), then the run's options (os_sandbox, network). nil, why, code ("bad_sandbox",
---"no_sandbox": bwrap not found).
---@param o sidecar.AgentRunOptions  agent_run.execute's (read, never written)
---@param cfg table|nil  the config, when o.isolation is nil
function M.settings(o, cfg)
  local iso, entry = o.isolation, o.runner_entry
  if iso == nil then
    iso = cfg and cfg.isolation
    entry = cfg and cfg.runners and cfg.runners[o.runner]
  end
  local s, why = sandbox.settings(iso, entry, o)
  if not s then
    return nil, why, "bad_sandbox"
  end
  if s.sandbox ~= "off" then
    local kind, message, code = sandbox_host.choose(s.sandbox)
    if not kind then
      return nil, message, code
    end
  end
  return s
end

-- The top folder of the checkout `repo` (git's work tree; `repo` itself when none is found).
local function checkout_top(repo)
  local found = require("sidecar.run.worktree_git").top(repo)
  return found and found.top or repo
end

-- The repository's top folder (the main checkout), whatever folder the agent works in. Found once
-- for a run without a worktree of its own (run.top: M.keeps_tree asks it again for the same
-- folder, and each asking opens the repository).
local function top_of(run, wt)
  if wt then
    return wt.repo
  end
  run.top = run.top or checkout_top(run.repo)
  return run.top
end

---Opens the sandbox around the agent's command: sb.argv replaces it, agent_watch.spawn takes sb
---(its report file), and `env` loses the secret-looking variables the agent is not given. When
---"auto" chose Landlock, the run's telemetry `c.t` gets a `sandbox.chosen` event. nil, nil
---when the sandbox is off (the record says so); nil, why when it cannot be opened.
---@param settings table  M.settings'
---@param c {o: table, run: table, record: table, run_dir: string, argv: string[], env: table, cgroup: string?, t: table?, kill_grace_ms: integer?, hosts: string[]?}
function M.open(settings, c)
  if settings.sandbox == "off" then
    c.record.os_sandbox = json.object({ kind = "off", asked_by = settings.forced_by or "config or option",
      network = "host" })
    return nil, nil
  end
  local spec = c.run.spec
  if not require("sidecar.host.paths").program(c.argv[1], c.run.repo) then
    -- a program that cannot be found fails to start as it would anywhere: said so, and how to install it
    return nil, nil
  end
  local wt = c.record.worktree
  wt = type(wt) == "table" and wt.path and not wt.in_place and wt or nil
  local outputs = { c.run_dir .. "/push_attempts.log" }
  if spec.final_message_file then
    outputs[#outputs + 1] = c.run_dir .. "/" .. spec.final_message_file
  end
  -- A resumed session's files are in the CLI state folder of the run it resumes.
  local resumed = type(c.record.resumed_run) == "string" and c.record.resumed_run:match("^R%-%d+$")
  local seed = resumed and
      (c.run.store.root .. "/runs/" .. resumed .. "/" .. require("sidecar.run.sandbox_state").FOLDER)
  -- A worktree shared with other runs (a preset's, reused) keeps its HEAD where they see it: no
  -- commits of the agent's own there (sidecar.run.sandbox_git detaches HEAD while it runs).
  local sb, why = sandbox.open({ settings = settings, spec = spec, argv = c.argv, env = c.env, cwd = c.run.repo,
    level = c.run.sandbox, repo_top = top_of(c.run, wt), worktree = wt, store_root = c.run.store.root,
    run_dir = c.run_dir, outputs = outputs, events_file = hook_record.SANDBOX_FILE, name = c.record.run_id,
    no_commits = wt and wt.reused_from ~= nil,
    state_seed = seed, cgroup = c.cgroup, kill_grace_ms = c.kill_grace_ms, hosts = c.hosts })
  if sb and sb.chosen and c.t then -- "auto" chose Landlock: said where the run is watched
    c.t:event("sandbox.chosen", { kind = sb.kind, why = sb.chosen })
  end
  return sb, why
end

---Whether the work tree the agent works in (`repo`, or the checkout it is a folder of) and its git
---folders stay as they are whatever the agent does: its bubblewrap sandbox `sb` makes nothing
---writable in them or above them but the store (`store_root`), as a read-only run's has it
---(sidecar.run.sandbox_mounts.keeps). Then what the run changed there need not be read: nothing
---can have changed. False when there is no sandbox, when it is Landlock's, or when git's folders
---are not found without git.
---@param sb table|nil  M.open's
---@param repo string
---@param store_root string
---@param top? string  the top folder of `repo`'s checkout when the caller has it (run.top, once M.open found it)
---@return boolean
function M.keeps_tree(sb, repo, store_root, top)
  local own, common = require("sidecar.core.git").dirs(repo)
  if not sb or not own then
    return false
  end
  for _, dir in ipairs({ top or checkout_top(repo), own, common or own }) do
    if not sb:keeps(dir, { store_root }) then
      return false
    end
  end
  return true
end

---Whether no process of its sandbox `sb` can change what lies at `path` (absolute), nor anything
---below it: the folder holding it is kept as it is (sidecar.run.sandbox_mounts.keeps: nothing
---writable is that folder, lies above it or in it), so the entry cannot be replaced or changed.
---False for a link (what it leads to is elsewhere), without a sandbox, under Landlock, and where
---the folder is not there. `folders` (optional) remembers the answer for each folder, for many
---paths asked of one sandbox.
---@param sb table|nil  M.open's
---@param path string
---@param folders? table<string, boolean>
---@return boolean
function M.keeps_path(sb, path, folders)
  local dir = path:match("^(.*)/[^/]+/?$")
  if not sb or not dir then
    return false
  end
  dir = dir == "" and "/" or dir
  local kept = folders and folders[dir]
  if kept == nil then
    kept = sb:keeps(dir)
    if folders then
      folders[dir] = kept
    end
  end
  if not kept then
    return false
  end
  local st = paths.lstat(path)
  return not (st and st.kind == "symlink")
end

---The OS sandbox for a run's validation steps, as validation.run's `sandbox` option: a function
---(argv, env) -> sandbox | nil, why; nil when the run had none (its record says os_sandbox off, or
---it has no record of one). A step writes where the run's agent could (its worktree; in place, the
---checkout but .git), never commits, and reaches only the config's `isolation.hosts`.
---@param cfg table  the config
---@param s table  the store
---@param run table  the run's record
---@param wt table|nil  the run's worktree
---@param dir string  where the steps run
function M.for_validation(cfg, s, run, wt, dir)
  local kind = type(run.os_sandbox) == "table" and run.os_sandbox.kind
  if kind ~= "bwrap" and kind ~= "landlock" then
    return nil
  end
  local settings = sandbox.settings(cfg.isolation, nil, { network = run.os_sandbox.network, os_sandbox = kind })
  if not settings then
    return nil
  end
  wt = type(wt) == "table" and wt.path and not wt.in_place and wt or nil
  local run_dir = s.root .. "/runs/" .. run.run_id
  return function(argv, env)
    return sandbox.open({ settings = settings, spec = { name = "validation" }, argv = argv, env = env, cwd = dir,
      level = "workspace-write", repo_top = top_of({ repo = dir }, wt), worktree = wt, no_commits = true,
      store_root = s.root, run_dir = run_dir, outputs = {}, name = run.run_id .. "-check", settle_ms = 0 })
  end
end

local function signal_name(number)
  for name, n in pairs(require("sidecar.core.proc").signals) do
    if n == number then
      return name
    end
  end
  return tostring(number)
end

---After the agent: how it ended as the sandbox saw it (the exit status of the agent itself, not of
---bwrap), what it left (appended to `escapees`, found by "sandbox"), the hooks' events moved into
---events.jsonl from the sandbox's events file. A sandbox that could not start fails the run, saying
---why and what to do. Returns the sandbox's report (nil without a sandbox).
---@param sb table|nil
---@param r table  the process result (changed)
---@param record table
---@param escapees table[]
---@param run_dir string
function M.finish(sb, r, record, escapees, run_dir)
  if sb and sb.events_file then -- before the sandbox's folder, which holds it, goes
    hook_record.merge_sandboxed(run_dir, sb.events_file)
  end
  if not sb then
    return
  end
  local report = sb:finish()
  if report.exit_code or report.signal then
    r.code, r.signal, r.signal_name = report.exit_code, report.signal, report.signal and signal_name(report.signal)
  elseif not (r.stopped or r.interrupted or r.timed_out) and (r.code == 1 or r.code == 125) then
    local first = (r.stderr or ""):match("^[^\n]*") or ""
    if first:find("^bwrap:") or first:find("^sidecar sandbox") then
      if first:find("^bwrap:") then
        sandbox_host.forget() -- it worked here before: the next run checks again
      end
      r.spawn_failed = true
      record.status = "failed"
      record.failure_reason = "the OS sandbox could not start (" .. first .. "): " .. sandbox_host.advice(first)
    end
  end
  for _, e in ipairs(report.escapees) do
    escapees[#escapees + 1] = { pid = e.pid, command = tostring(e.command or ""), found_by = "sandbox",
      left_session = e.left_session == true }
  end
  return report
end

-- What an agent says when a file it needs is not there: inside the OS sandbox, often a file the
-- sandbox does not show (a module beside the CLI, a folder in /tmp or the home).
local MISSING_FILE = { "not found", "No such file or directory", "Cannot find module", "Missing optional dependency",
  "cannot open" }

-- The hint a failed run's reason gets when its agent could not find a file (MISSING_FILE).
local function missing_file_hint(record)
  local why = type(record.failure_reason) == "string" and record.failure_reason or ""
  if why:find("^the OS sandbox could not start") then -- its own words say what to do
    return ""
  end
  for _, text in ipairs(record.status == "failed" and MISSING_FILE or {}) do
    if why:find(text, 1, true) then
      return "; if it needs files the OS sandbox does not show, name their folder in isolation = { read = "
        .. "{ ... } } in .agent/config.lua (sidecar doctor starts each CLI inside the sandbox)"
    end
  end
  return ""
end

---Once the run's record is read (after agent_run's read_result): record.os_sandbox, a warning
---naming the network connections the sandbox refused, and for an agent that failed for a file
---it could not find, where to show it.
---@param sb table|nil
---@param report table|nil  M.finish's
---@param record table
function M.record(sb, report, record)
  if not (sb and report) then
    return
  end
  record.os_sandbox = sb:record(report)
  if type(record.failure_reason) == "string" then
    record.failure_reason = record.failure_reason .. missing_file_hint(record)
  end
  local stopped_by = require("sidecar.run.sandbox_limits").hit_text(record.os_sandbox.limits)
  if stopped_by then -- a bound stopped the agent (the failure) or one of its processes (a warning)
    if record.status == "failed" then
      record.failure_reason = stopped_by .. (type(record.failure_reason) == "string" and
        ("; the agent " .. record.failure_reason) or "")
    else
      local warnings = type(record.warnings) == "table" and record.warnings or json.array({})
      warnings[#warnings + 1] = stopped_by
      record.warnings = warnings
    end
  end
  local git = report.git or {}
  if git.error or git.head_was then
    local warnings = type(record.warnings) == "table" and record.warnings or json.array({})
    warnings[#warnings + 1] = git.error or
      ("the agent pointed its worktree's HEAD at '%s': put back on the run's branch"):format(git.head_was)
    record.warnings = warnings
  end
  if type(git.unstaged) == "table" and #git.unstaged > 0 then
    local warnings = type(record.warnings) == "table" and record.warnings or json.array({})
    warnings[#warnings + 1] = ("the agent's index named %d object%s that could not come in (%s): read from the "
      .. "worktree's files instead"):format(#git.unstaged, #git.unstaged == 1 and "" or "s",
      table.concat(git.unstaged, ", ", 1, math.min(#git.unstaged, 3)))
    record.warnings = warnings
  end
  if #report.network.refused > 0 then
    local shown = {}
    for i, e in ipairs(report.network.refused) do
      if i <= 3 then
        shown[#shown + 1] = ("%s:%s (%s)"):format(e.host, tostring(e.port), e.error or "refused")
      end
    end
    local warnings = type(record.warnings) == "table" and record.warnings or json.array({})
    warnings[#warnings + 1] = ("the sandbox refused %d network connection%s: %s%s"):format(#report.network.refused,
      #report.network.refused == 1 and "" or "s", table.concat(shown, "; "),
      #report.network.refused > 3 and "; see os_sandbox.refused in run.json" or "")
    record.warnings = warnings
  end
end

return M
