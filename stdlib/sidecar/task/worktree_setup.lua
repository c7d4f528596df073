--- The project's setup command (`worktree.setup` in .agent/config.lua: `npm ci`) in a writing run's
--- new worktree, before its agent, under worktree.setup_timeout: beside validation, the project's
--- other command around a run. It runs in the run's OS sandbox (the worktree it may write can hold
--- code a previous run's agent wrote: a pipeline step, a replay, `run answer`), with
--- worktree.setup_network (else the run's network); its output goes to runs/R-…/setup.log and
--- record.worktree.setup says how it went. A setup that fails fails the run, and its worktree goes.
---
---   local wt, failed = run_worktree.enter(s, cfg, task, st, o, extra)
---   if wt then failed = worktree_setup.run(s, cfg, wt, o) end
local duration = require("sidecar.core.duration")
local git = require("sidecar.run.worktree_git")
local isolation_settings = require("sidecar.core.isolation_settings")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local run_worktree = require("sidecar.run.worktree")
local sandbox = require("sidecar.run.sandbox")
local sandbox_host = require("sidecar.run.sandbox_host")
local sandbox_limits = require("sidecar.run.sandbox_limits")
local worktree = require("sidecar.core.worktree")

local M = {}

local SETUP_LOG_BYTES = 1024 * 1024

local function given(v)
  return type(v) == "string" and v:find("%S") and v or nil
end

-- Files the setup made or changed that git does not ignore are not the agent's change: they join
-- the base the change is measured from (apply then leaves them out of the user's tree); the
-- large untracked ones it made are left out as the user's are (wt.left_out), and so are the
-- secret ones (a .env it wrote). The user's secrets the worktree never had stay named.
local function setup_into_base(top, wt, tree)
  local snap = wt.base_tree == tree and worktree.tree_snapshot(wt.path, nil,
    { leave_out = wt.left_out, max_untracked_bytes = wt.max_untracked_bytes })
  if snap then
    local now, seen = json.array(snap.left_out or {}), {}
    for _, f in ipairs(now) do
      seen[f.path] = true
    end
    for _, f in ipairs(wt.left_out or {}) do
      if f.reason == "secret" and not seen[f.path] then
        now[#now + 1] = f
      end
    end
    wt.left_out = now
  end
  if snap and snap.tree ~= tree then
    wt.setup.files = json.array(git.diff_files(top, tree, snap.tree) or {})
    wt.base_tree = snap.tree
  end
end

-- The OS sandbox of the setup: the run's settings (the config's isolation, the runner's network,
-- --os-sandbox and --network), with worktree.setup_network over the network when it is given.
-- nil when the run has none (the setup then runs as the user, recorded "off"); nil, why when the
-- settings are bad or bwrap is missing.
local function setup_sandbox(cfg, o)
  local s, why = sandbox.settings(o.isolation or sandbox.isolation_of(cfg), o.runner_entry, o)
  if not s then
    return nil, why
  end
  if s.sandbox == "off" then
    return false
  end
  local net = cfg.worktree.setup_network
  if net ~= nil then
    if not sandbox.NETWORKS[net] then
      return nil, ("worktree.setup_network is '%s': it takes %s"):format(tostring(net),
        table.concat(isolation_settings.NETWORKS, ", "))
    end
    s.network = net
  end
  local kind, missing = sandbox_host.choose(s.sandbox)
  if not kind then
    return nil, missing
  end
  return s
end

-- Runs the setup's command, in its OS sandbox when `settings` is one: returns the process result
-- (its code the command's own, not bwrap's) and what wt.setup records of the sandbox.
local function run_setup(s, run, at, wt, settings, argv, po)
  if not settings then
    return proc.run(argv, po), json.object({ kind = "off" })
  end
  local sb, why = sandbox.open({ settings = settings, spec = { name = "setup" }, argv = argv, env = po.env,
    cwd = at.dir, level = "workspace-write", repo_top = at.top, worktree = wt, no_commits = true,
    store_root = s.root, run_dir = s.root .. "/runs/" .. run.run_id, outputs = {}, name = run.run_id .. "-setup",
    settle_ms = 0 })
  if not sb then
    local failed = { ok = false, stderr = "the OS sandbox could not be opened: " .. tostring(why) }
    return failed, json.object({ kind = settings.sandbox })
  end
  po.fd3, po.term_ignored = sb.report, true
  local r = proc.run(sb.argv, po)
  local report = sb:finish()
  if report.exit_code or report.signal then
    r.code = report.exit_code -- the command's own status, not the sandbox's
    r.ok = r.code == 0 and not r.timed_out
  end
  local rec = sb:record(report)
  rec.escapees = #report.escapees > 0 and #report.escapees or nil
  r.stopped_by = sandbox_limits.hit_text(rec.limits)
  return r, rec
end

-- Runs the configured setup command in the worktree (at: run_worktree.place), its output in
-- runs/R-…/setup.log; wt.setup records it. True, or nil and why it failed.
local function setup(s, cfg, command, at, wt, o)
  local run = at.run
  local settings, bad = setup_sandbox(cfg, o)
  if settings == nil then
    return nil, ("worktree setup `%s`: %s"):format(command, tostring(bad))
  end
  local timeout = duration.parse(cfg.worktree.setup_timeout or "10m") or 600000
  local r, rec = run_setup(s, run, at, wt, settings, { "sh", "-c", command }, { cwd = at.dir, timeout_ms = timeout,
    max_output = SETUP_LOG_BYTES, env = { SIDECAR_RUN_ID = run.run_id, SIDECAR_REPO = at.repo,
      SIDECAR_WORKTREE = wt.path } })
  local log = "runs/" .. run.run_id .. "/setup.log"
  local d = assert(s:run_dir(run.run_id))
  d:write("setup.log", (r.stdout or "") .. (r.stderr or ""))
  d:close()
  wt.setup = { command = command, ok = r.ok, exit_code = r.code or json.null,
    duration_ms = math.floor(r.duration_ms or 0), log = log, sandbox = rec }
  if r.ok then
    setup_into_base(at.top, wt, at.tree)
    return true
  end
  local how = r.timed_out and ("timed out after " .. duration.format(timeout)) or
      (r.code and ("exited with code " .. r.code)) or (r.signal_name and ("exited with " .. r.signal_name)) or
      "could not start"
  local said = r.stopped_by or ((r.stderr or "") ~= "" and r.stderr or r.stdout or ""):match("([^\n]*%S[^\n]*)\n*$")
  return nil, ("worktree setup `%s` %s%s (its output: .agent/%s)"):format(command, how,
    said and (": " .. said) or "", log)
end

---Runs worktree.setup, when the config names one, in the worktree `wt` that run_worktree.enter
---just made (o: agent_run's options: isolation, runner_entry, os_sandbox, network, prompt). Nil
---when it went well (or there is none); else the worktree is undone and the failed run record
---returned.
---@param s table  the store
---@param cfg table
---@param wt table
---@param o table
---@return table|nil failed
function M.run(s, cfg, wt, o)
  local command = given((cfg.worktree or {}).setup)
  if not command then
    return nil
  end
  o.before = nil -- the files the agent starts from are the setup's now: read them again
  local ok, why = setup(s, cfg, command, run_worktree.place(wt), wt, o)
  if not ok then
    return run_worktree.undo(s, wt, o, why)
  end
end

return M
