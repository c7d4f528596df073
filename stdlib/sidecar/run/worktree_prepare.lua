--- Preparing a run's worktree (stdlib/sidecar/run/worktree.lua) before its agent: the files
--- `.agent/config.lua` names under worktree.copy, copied from the user's tree (they are usually
--- ignored by git, so the worktree lacks them: .env.local, node_modules), then worktree.setup
--- (`npm ci`) run in it under worktree.setup_timeout. A setup that fails fails the run.
local aside = require("sidecar.run.worktree_aside")
local duration = require("sidecar.core.duration")
local git = require("sidecar.run.worktree_git")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local sandbox = require("sidecar.run.sandbox")
local sandbox_host = require("sidecar.run.sandbox_host")
local worktree = require("sidecar.core.worktree")

local M = {}

local SETUP_LOG_BYTES = 1024 * 1024
local COPY_BATCH = 256 -- paths per cp, well under the system's bound on a command line

local function given(v)
  return type(v) == "string" and v:find("%S") and v or nil
end

---Copies the configured files (worktree.copy: ignored ones such as .env.local or node_modules)
---from the user's folder `from` into the worktree's `to`; wt.copied lists them. True or nil, why.
function M.copy_files(list, from, to, wt)
  local found = {}
  for _, rel in ipairs(list or {}) do
    if rel:sub(1, 1) == "/" or rel:find("%.%.") then
      return nil, ("worktree.copy: %q: give a path inside the repository (no leading / and no ..)"):format(rel)
    end
    local f = io.open(from .. rel, "rb")
    if f then
      f:close()
      found[#found + 1] = rel
    end
  end
  wt.copied = json.array(found)
  if #found == 0 then
    return true
  end
  local cmd = { "cp", "-a", "--parents", "--reflink=auto", "-t", to }
  table.move(found, 1, #found, #cmd + 1, cmd)
  local r = proc.run(cmd, { cwd = from, timeout_ms = git.TIMEOUT_MS })
  if not r.ok then
    return nil, "worktree.copy: cp failed: " .. tostring((r.stderr or ""):match("[^\n]+") or r.code)
  end
  return true
end

-- Whether `rel` can be copied into the worktree at `to`: nothing is there yet (a pipeline's later
-- step starts from the last step's commit, where an agent's version of the file is tracked and
-- stays), and each folder on the way is a real one or missing, never a symlink an agent
-- committed (cp would write through it, outside the worktree).
local function free_in(to, rel)
  local at = to
  for part in rel:gmatch("[^/]+") do
    at = at .. "/" .. part
    local st = paths.lstat(at)
    if st and (st.kind ~= "directory" or at == to .. "/" .. rel) then
      return false
    elseif not st then
      return true
    end
  end
  return true
end

---Copies the untracked files a snapshot of the user's tree left out (larger than
---worktree.max_untracked_bytes: a checkpoint, a dataset) from the top of the user's work tree
---`from` into the worktree's top `to`, as they are (cp -a, a reflink where the file system has
---them): the agent sees the user's files, and nothing of them is hashed into the repository.
---wt.left_out records each copy (path, size, mtime_ns): the worktree's snapshots leave it out
---while it is unchanged, so only a change of the agent's reaches the run's commit. The secret
---files it left out (reason "secret": an untracked .env, a key) are never copied: wt.left_out
---names them, as the snapshot saw them (worktree.copy brings one the user names). True or nil, why.
function M.copy_left_out(list, from, to, wt)
  local found, secret = {}, {}
  for _, f in ipairs(list or {}) do
    local rel = type(f) == "table" and aside.inside(f.path)
    local st = rel and f.reason ~= "secret" and paths.lstat(from .. "/" .. rel)
    if rel and f.reason == "secret" then
      secret[#secret + 1] = { path = rel, size = f.size, mtime_ns = f.mtime_ns, reason = "secret" }
    elseif st and st.kind == "file" and free_in(to, rel) then
      found[#found + 1] = rel
    end
  end
  wt.left_out = json.array(secret)
  for first = 1, #found, COPY_BATCH do
    local cmd = { "cp", "-a", "--parents", "--reflink=auto", "-t", to, "--" }
    table.move(found, first, math.min(first + COPY_BATCH - 1, #found), #cmd + 1, cmd)
    local r = proc.run(cmd, { cwd = from, timeout_ms = git.TIMEOUT_MS })
    if not r.ok then
      return nil, "copying the untracked files larger than worktree.max_untracked_bytes into the worktree: cp failed: "
        .. tostring((r.stderr or ""):match("[^\n]+") or r.code or r.error)
    end
  end
  for _, rel in ipairs(found) do
    local st = paths.lstat(to .. "/" .. rel)
    if st and st.kind == "file" then
      wt.left_out[#wt.left_out + 1] = { path = rel, size = st.size, mtime_ns = st.mtime_ns }
    end
  end
  return true
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
        table.concat(require("sidecar.core.isolation_settings").NETWORKS, ", "))
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
  r.stopped_by = require("sidecar.run.sandbox_limits").hit_text(rec.limits)
  return r, rec
end

---Runs the configured setup command (worktree.setup) in the worktree, its output in
---runs/R-…/setup.log; wt.setup records it. It runs in the run's OS sandbox (the worktree it may
---write can hold code a previous run's agent wrote: a pipeline step, a replay, `run answer`), with
---worktree.setup_network (else the run's network). at: {top, repo (the user's folder), dir (where to
---run it), tree (the worktree's files before it)}; o: agent_run's options (isolation,
---runner_entry, os_sandbox, network). True, or nil and why it failed.
function M.setup(s, cfg, run, at, wt, o)
  local command = given(cfg.worktree.setup)
  if not command then
    return true
  end
  local settings, bad = setup_sandbox(cfg, o or {})
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

return M
