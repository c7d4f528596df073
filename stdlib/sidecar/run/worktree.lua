--- One worktree per writing run. A run that may write (workspace-write, danger-full-access) in a
--- git repository works in a worktree of its own, `.agent/worktrees/R-0001` on the branch
--- `sidecar/R-0001`, made from HEAD plus the user's uncommitted changes (staged or not, untracked
--- files too, ignored ones not): any number of writers run side by side, and the user's files
--- change only when the user applies a run.
---
---   local wt = run_worktree.enter(s, cfg, task, st, o, extra) -- o.repo becomes the worktree
---   ... the agent, the gates ...
---   run = run_worktree.finish(s, run, wt)        -- changes.patch, and a commit on the branch
---   ... validation, in the worktree ...
---   run_worktree.release(s, run, wt, cfg)        -- the folder goes; branch and patch keep it
---   worktree_apply.apply(s, "R-0001")            -- three-way onto the user's tree, all or nothing
---   worktree_apply.discard(s, "R-0001")          -- the branch goes; changes.patch stays
---   run_worktree.sweep(s)                        -- worktrees whose process died, recovered
---
--- In the worktree, the user's uncommitted changes are staged (the index holds the base tree),
--- so `git diff` there shows the agent its own edits. record.worktree: {path, branch, repo,
--- base_commit, base_tree, start_commit, created_branch, reused_from?, state, patch, files,
--- result_commit, result_tree, ...}; state is open (the folder exists), ready (the result is
--- kept), applied, discarded or failed. A run that writes in place has {in_place = true, reason}.
--- Pipelines, replays and continued sessions go on from the task's latest writing run when it is
--- still ready: the new worktree starts from its result, and the base stays the first run's (the
--- patch sums them).
local artifact = require("sidecar.core.artifact")
local clock = require("sidecar.host.time")
local git = require("sidecar.run.worktree_git")
local json = require("sidecar.core.json")
local prepare = require("sidecar.run.worktree_prepare")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")
local worktree = require("sidecar.core.worktree")
local writer_lock = require("sidecar.core.writer_lock")

local M = {}

M.WRITES = { ["workspace-write"] = true, ["danger-full-access"] = true }

local function given(v)
  return type(v) == "string" and v:find("%S") and v or nil
end

local function now_ms()
  return clock.monotonic_ns() // 1000000
end

-- Where things are: the repository's top folder (absolute), the store's folder below it, the
-- worktrees' folder and the open-worktree markers. Nil and why outside git.
local function places(s)
  local repo = s.root:match("^(.*)/[^/]+$") or "."
  local t, why = git.top(repo)
  if not t then
    return nil, why
  end
  local name = s.root:match("[^/]+$")
  local root = t.top .. "/" .. t.prefix .. name
  return { top = t.top, prefix = t.prefix, own = t.prefix .. name, repo = t.top .. "/" .. t.prefix, root = root,
    trees = root .. "/worktrees", open = root .. "/worktrees/.open" }
end

-- Markers: `.agent/worktrees/.open/R-0001.json` names the process that holds the worktree
-- (pid and start time, which survive pid reuse): sweep leaves it alone while that one lives.
-- Written plainly (no fsync): a marker lost with the machine is only a folder left for later.
local function mark(dir, fields)
  local me = writer_lock.self()
  fields.pid, fields.pid_start = me.pid, me.pid_start
  assert(artifact.open(dir, { create = true })):close() -- the folder, made when missing
  local f = assert(io.open(dir .. "/" .. fields.run_id .. ".json", "wb"))
  f:write(json.encode(fields), "\n")
  f:close()
end

local function unmark(dir, run_id)
  os.remove(dir .. "/" .. run_id .. ".json")
end

---The task's latest run that had a worktree, when its result is still ready to continue from
---(not applied, not discarded); nil otherwise. `except`: a run id to pass over (the new run).
function M.reusable(s, task_id, except)
  for _, r in ipairs(s:list_runs({ task_id = task_id, limit = 0 }) or {}) do
    local w = r.worktree
    if r.run_id ~= except and type(w) == "table" and not w.in_place then
      return (w.state == "ready" and w.result_commit) and r or nil
    end
  end
end

-- The run this worktree is for: the queued one given (a background run), else a new one,
-- "preparing" while its worktree is made.
local function ensure_run(s, o)
  if o.run_id then
    local run = assert(s:get_run(o.run_id))
    run.status = "preparing"
    return assert(run_record.save(s, run))
  end
  local fields = {}
  for k, v in pairs(o.record or {}) do
    fields[k] = v
  end
  fields.runner_type, fields.model, fields.sandbox, fields.status = o.runner, o.model, o.sandbox, "preparing"
  -- Its copy and prompt.md are written when the agent starts (or the run fails before).
  local run = assert(run_record.create(s, fields, nil, { copy_later = true }))
  o.run_id = run.run_id
  return run
end

local function fail_run(s, run, o, why)
  run.status, run.failure_reason = "failed", why
  run.prompt_path = "runs/" .. run.run_id .. "/prompt.md"
  assert(run_record.finish(s, run, { { "prompt.md", o.prompt } }))
  return run
end

-- Where the run's worktree starts: {path, branch, start, tree (its files), base_commit,
-- base_tree (what its change is measured from), existing (the branch is there already),
-- created_branch, reused_from}, or nil and why.
local function plan_of(task, id, p, prev)
  local tracking = type(task.tracking) == "table" and task.tracking or {}
  local custom = given(tracking.worktree)
  local plan = { branch = given(tracking.branch) or ("sidecar/" .. id), name = id, custom_path = custom and true,
    path = custom and (custom:sub(1, 1) == "/" and custom or (p.repo .. custom)) or (p.trees .. "/" .. id) }
  -- (sidecar/R-… is new: when it is not, `git worktree add -b` says so.)
  local tip = (prev or given(tracking.branch)) and git.branch_tip(p.top, plan.branch)
  if prev then
    local pw = prev.worktree
    if tip and pw.branch ~= plan.branch then
      return nil, ("branch %s (tracking.branch) exists and is not the branch of run %s, which this run continues")
          :format(plan.branch, prev.run_id)
    end
    plan.reused_from, plan.base_commit, plan.base_tree = prev.run_id, pw.base_commit, pw.base_tree
    plan.left_out = pw.left_out -- copied again from the user's tree
    plan.existing, plan.start, plan.created_branch = tip ~= nil, tip or pw.result_commit, pw.created_branch
  elseif tip then
    -- The task names a branch that exists: the run works on it, from its tip.
    plan.existing, plan.start, plan.created_branch = true, tip, false
  else
    -- From HEAD plus the user's uncommitted changes: see make.
    plan.fresh, plan.start, plan.tree, plan.created_branch = true, "HEAD", "HEAD", true
    return plan
  end
  if not plan.tree then
    plan.tree = git.tree_of(p.top, plan.start)
  end
  plan.head_tree = plan.tree -- the start commit's own tree
  if not plan.base_tree then
    plan.base_commit, plan.base_tree = plan.start, plan.tree
  end
  if not (plan.start and plan.tree) then
    return nil, "the start of the run's worktree could not be read from git"
  end
  return plan
end

-- Makes the plan's worktree (see run_worktree_git.create). A fresh one is made from HEAD while
-- the user's tree is read, side by side (on a big repository each takes a look at every file),
-- then only the files of the uncommitted changes are written into it; the plan gets its start
-- and base. Returns what create returns.
local function make(p, plan, wc, id)
  local spec = { path = plan.path, branch = plan.branch, existing = plan.existing, start = plan.start,
    tree = plan.tree, name = id, spares = not plan.custom_path and wc.spares or 0,
    spares_dir = not plan.custom_path and p.trees or nil }
  local snapping = plan.fresh
    and worktree.start_snapshot(p.top, { p.own }, { max_untracked_bytes = wc.max_untracked_bytes })
  local made, why = git.create(p.top, spec)
  if not snapping then
    return made, why
  end
  local snap, snap_why = snapping:wait()
  plan.left_out = snap and snap.left_out
  if made and snap and snap.head then
    plan.start, plan.base_commit, plan.base_tree, plan.tree = snap.head, snap.head, snap.tree, snap.tree
    plan.head_tree = snap.head_tree
    local ok = snap.tree == snap.head_tree -- nothing uncommitted: the worktree is there already
    if not ok then
      ok, why = git.advance(plan.path, snap.tree)
    end
    if ok then
      return made
    end
  end
  if made then
    git.remove(p.top, plan.path)
    git.delete_branch(p.top, plan.branch, snap and snap.head or "HEAD")
  end
  if not (snap and not snap.head) then
    return nil, why or snap_why
  end
  -- A repository without commits: the branch starts at a commit of the snapshot.
  spec.start = git.commit(p.top, snap.tree, nil, ("sidecar %s: base (a repository without commits)"):format(id))
  spec.tree, plan.start, plan.base_tree, plan.tree = snap.tree, spec.start, snap.tree, snap.tree
  plan.head_tree = snap.tree
  return git.create(p.top, spec)
end

local function in_place(o, reason)
  o.record = o.record or {}
  o.record.worktree = { in_place = true, reason = reason }
end

---Before the agent: when the run may write (or continues a task's worktree), makes its worktree
---and points `o.repo` (the agent's folder, and validation's) into it; `o.run_id` is then set (a
---"preparing" run is recorded first: the worktree is named after it). Returns the worktree
---record, or nil (the run works in place; o.record.worktree says why when it would have
---written), and as a second value a failed run record when the worktree or its setup failed.
---@param s table  an open store
---@param cfg table  the config (cfg.worktree)
---@param o table  agent_run.execute's options (runner, sandbox, repo, prompt, record, run_id)
---@param extra table  run_step's extra (parent_run_id: a pipeline step or a replay)
function M.enter(s, cfg, task, st, o, extra)
  -- Pipeline steps, replays and continued sessions go on from the task's worktree.
  local prev = (extra.parent_run_id or extra.resume) and M.reusable(s, task.task_id, o.run_id)
  if not (M.WRITES[st.sandbox] or prev) then
    return nil
  end
  local wc = cfg.worktree or {}
  if wc.enabled == false then
    return in_place(o, "worktree.enabled is false in .agent/config.lua: the run writes in your work tree")
  end
  local p, why = places(s)
  if not p then
    return in_place(o, "not a git repository: the run writes in place (" .. tostring(why) .. ")")
  end
  -- The agent works elsewhere now: paths into the store's folder handed to it (its prompt file,
  -- codex's -o file) must not be relative to this process's folder.
  s.root = p.root
  M.sweep(s)
  local run = ensure_run(s, o)
  local t0 = now_ms()
  local plan
  plan, why = plan_of(task, run.run_id, p, prev)
  if not plan then
    return nil, fail_run(s, run, o, "the run's worktree: " .. why)
  end
  mark(p.open, { run_id = run.run_id, path = plan.path, repo = p.top })
  local made
  made, why = make(p, plan, wc, run.run_id)
  if not made then
    unmark(p.open, run.run_id)
    return nil, fail_run(s, run, o, "could not make the run's worktree: " .. why)
  end
  local wt = { path = plan.path, branch = plan.branch, repo = p.top, base_commit = plan.base_commit or json.null,
    base_tree = plan.base_tree, start_commit = plan.start, created_branch = plan.created_branch,
    custom_path = plan.custom_path, reused_from = plan.reused_from, state = "open", from_spare = made.warm,
    start_tree = plan.tree, start_head_tree = plan.head_tree, max_untracked_bytes = wc.max_untracked_bytes }
  run.worktree = wt -- saved as the agent starts (agent_run keeps o.record.worktree), or on a failure
  local dir = plan.path .. (p.prefix ~= "" and ("/" .. p.prefix:gsub("/$", "")) or "")
  local ok
  ok, why = prepare.copy_left_out(plan.left_out, p.top, plan.path, wt)
  if ok then
    ok, why = prepare.copy_files(wc.copy, p.repo, plan.path .. "/" .. p.prefix, wt)
  end
  if ok then
    ok, why = prepare.setup(s, cfg, run, { top = p.top, repo = p.repo, dir = dir, tree = plan.tree }, wt, o)
  end
  wt.made_ms = now_ms() - t0
  if not ok then
    git.remove(p.top, plan.path)
    if plan.created_branch and not plan.existing then
      git.delete_branch(p.top, plan.branch, plan.start)
    end
    unmark(p.open, run.run_id)
    wt.state = "failed"
    return nil, fail_run(s, run, o, why)
  end
  o.repo = dir
  o.record = o.record or {}
  o.record.worktree = wt
  -- What the agent starts from is known (its files are exactly this tree, unless a setup ran):
  -- an agent_run that takes o.before need not read the worktree again.
  o.before = not wt.setup and { head = plan.start, tree = plan.tree, left_out = wt.left_out } or nil
  return wt
end

local function commit_message(run)
  local lines = { ("sidecar %s: result of task %s"):format(run.run_id, tostring(run.task_id)) }
  if type(run.summary) == "string" and run.summary ~= "" then
    lines[#lines + 1] = ""
    lines[#lines + 1] = run.summary
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ("Run %s (%s, sandbox %s)."):format(run.run_id, tostring(run.runner_type), tostring(run.sandbox))
  return table.concat(lines, "\n")
end

-- What the agent run has read already and finish need not read again: the files changed (its
-- diff ran from the tree the worktree started with, which is the base only in a fresh run whose
-- files no setup changed) and the tree of the commit the agent left (when it made none).
local function known_of(run, w, after)
  local known = {}
  if type(run.changes) == "table" and after.tree == run.tree_after and not w.setup and w.start_tree
      and w.start_tree == w.base_tree then
    known.files = run.changes
  end
  if after.head and after.head == w.start_commit and type(w.start_head_tree) == "string" then
    known.head_tree = w.start_head_tree
  end
  return known
end

-- Reads the worktree's files into the result: changes.patch (base to now, in `files` for the
-- caller to write), the files, and a commit on the run's branch (on top of whatever HEAD the
-- agent left). True or nil, why.
local function record_result(run, w, files)
  -- The agent's run read the worktree as it ended (tree_after) when it could; else it is read now.
  local after, why
  if type(run.tree_after) == "string" and type(run.head_after) == "string" then
    after = { tree = run.tree_after, head = run.head_after }
  else
    after, why = worktree.tree_snapshot(w.path, nil, { leave_out = w.left_out })
  end
  if not after then
    return nil, "the run's result could not be read: " .. why
  end
  local change
  change, why = git.change(w.repo, w.base_tree, after.tree, after.head, known_of(run, w, after))
  if not change then
    return nil, why
  end
  local result = after.head
  if change.head_tree ~= after.tree then
    result, why = git.commit(w.repo, after.tree, after.head, commit_message(run))
    if not result then
      return nil, why
    end
  end
  local ok
  ok, why = git.set_branch(w.repo, w.branch, result)
  if not ok then
    return nil, why
  end
  files[#files + 1] = { "changes.patch", change.patch }
  w.patch, w.files = "runs/" .. run.run_id .. "/changes.patch", json.array(change.files)
  if change.patch_cut then
    w.patch_cut = true
    run.warnings = type(run.warnings) == "table" and run.warnings or json.array({})
    run.warnings[#run.warnings + 1] = ("the change's patch is larger than %d bytes: changes.patch says so, and the "
      .. "change is the commit on %s"):format(git.MAX_PATCH, w.branch)
  end
  w.result_commit, w.result_tree, w.agent_head = result, after.tree, after.head or json.null
  return true
end

-- Records the result and saves the run (changes.patch in the same batch of writes).
local function save_result(s, run, w)
  local files = {}
  local ok, why = record_result(run, w, files)
  w.error = not ok and why or nil
  -- Ready once the result is kept: apply and discard work from the branch, not the folder.
  w.state = w.result_commit and "ready" or "failed"
  assert(run_record.save(s, run, files))
  return ok
end

---After the agent (and the gates on what it did): records the run's result in record.worktree
---(patch, files, result_commit; state ready) and saves the run. Returns the run.
function M.finish(s, run, wt)
  if not wt then
    return run
  end
  if type(run.worktree) ~= "table" then
    run.worktree = wt
  end
  save_result(s, run, run.worktree)
  return run
end

---After validation: the worktree's folder goes (kept as a spare copy when a slot is free: see
---run_worktree_git); its branch and changes.patch keep the result. Returns the run.
function M.release(s, run, wt, cfg)
  if not wt then
    return run
  end
  local w = type(run.worktree) == "table" and run.worktree or wt
  local spares_dir = not w.custom_path and w.path:match("^(.*)/[^/]+$") or nil
  git.retire(w.repo, w.path, { spares_dir = spares_dir, spares = (cfg.worktree or {}).spares or 0 })
  unmark(s.root .. "/worktrees/.open", run.run_id)
  return run
end

---When the run ended by an error or Ctrl-C after its worktree was made: records what the
---worktree holds and removes it; a run still "preparing" is recorded as failed with `why`.
---Never raises (the error that brought it here goes on).
function M.abandon(s, run_id, wt, cfg, why)
  if not (wt and run_id) then
    return
  end
  pcall(function()
    local run = assert(s:get_run(run_id))
    if run.status == "preparing" then
      run.status, run.failure_reason, run.completed_at = "failed", why or "the run ended before its agent started",
          store.now()
    end
    if type(run.worktree) ~= "table" then
      run.worktree = wt
    end
    M.finish(s, run, wt)
    M.release(s, run, wt, cfg)
  end)
end

-- Sweep ----------------------------------------------------------------------------------------

-- A marker whose holder is gone becomes this process's (one sweeper wins: the rename).
local function take_over(dir, name, marker)
  local path = dir .. "/" .. name
  local me = writer_lock.self()
  local aside = path .. "." .. tostring(me.pid)
  if not os.rename(path, aside) then
    return false
  end
  marker.pid, marker.pid_start = me.pid, me.pid_start
  local d = artifact.open(dir)
  if d then
    d:write_json(name, marker)
    d:close()
  end
  os.remove(aside)
  return true
end

-- The worktree of a run whose process is gone: its result recorded (when it was not yet), the
-- folder removed (never kept as a spare: it may be half made), the marker gone.
local function recover(s, open_dir, id, marker)
  local run = s:get_run(id)
  local w = run and type(run.worktree) == "table" and run.worktree or nil
  if w and w.state == "open" then
    w.recovered = ("its process (pid %s) ended before removing it; recovered at %s"):format(tostring(marker.pid),
      store.now())
    if not w.result_commit then
      pcall(save_result, s, run, w)
    end
    git.remove(w.repo, w.path)
    w.state = w.result_commit and "ready" or "failed"
    assert(run_record.save(s, run))
  elseif type(marker.path) == "string" and type(marker.repo) == "string" then
    git.remove(marker.repo, marker.path)
  end
  unmark(open_dir, id)
end

---Finds worktrees whose process has ended (a crashed run, a killed worker) and recovers them:
---the result recorded as for any run (patch, branch) when it was not, the folder removed, git's
---record pruned. Safe from any command, and cheap when nothing is open (one readdir). Returns
---the ids of the runs swept.
---@param s table  an open store
---@return string[]
function M.sweep(s)
  local open_dir = s.root .. "/worktrees/.open"
  local d = artifact.open(open_dir)
  if not d then
    return {}
  end
  local names = d:list("*.json") or {}
  local swept = {}
  for _, name in ipairs(names) do
    local id = name:match("^(R%-%d+)%.json$")
    local marker = id and d:read_json(name)
    if type(marker) == "table" and not writer_lock.alive(marker) and take_over(open_dir, name, marker) then
      recover(s, open_dir, id, marker)
      swept[#swept + 1] = id
    end
  end
  d:close()
  return swept
end

---Where the repository and the store's folders are (see run_worktree_apply): {top, prefix, own,
---repo, trees, open}, or nil and why outside git.
M.places = places

return M
