--- One worktree per writing run. A run that may write (workspace-write, danger-full-access) in a
--- git repository works in a worktree of its own, `.agent/worktrees/R-0001` on the branch
--- `sidecar/R-0001`, made from HEAD plus the user's uncommitted changes (staged or not, untracked
--- files too, ignored ones not): any number of writers run side by side, and the user's files
--- change only when the user applies a run.
---
---   local wt = run_worktree.enter(s, cfg, task, st, o, extra) -- o.repo becomes the worktree
---   ... the agent, the gates ...
---   run = worktree_result.finish(s, run, wt)     -- changes.patch, and a commit on the branch
---   ... validation, in the worktree ...
---   worktree_result.release(s, run, wt, cfg)     -- the folder goes; branch and patch keep it
---   worktree_apply.apply(s, "R-0001")            -- three-way onto the user's tree, all or nothing
---   worktree_apply.discard(s, "R-0001")          -- the branch goes; changes.patch stays
---   worktree_result.sweep(s)                     -- worktrees whose process died, recovered
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
local result = require("sidecar.run.worktree_result")
local run_record = require("sidecar.run.record")
local worktree = require("sidecar.core.worktree")
local writer_lock = require("sidecar.core.writer_lock")

local M = {}

M.WRITES = { ["workspace-write"] = true, ["danger-full-access"] = true }

-- The worktrees this process made, with where they are (place, undo); gone with them.
local made_here = setmetatable({}, { __mode = "k" })

local function given(v)
  return type(v) == "string" and v:find("%S") and v or nil
end

local function now_ms()
  return clock.monotonic_ns() // 1000000
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
---written), and as a second value a failed run record when the worktree could not be made. The
---project's setup command runs next, in the task layer (sidecar.task.worktree_setup).
---@param s table  an open store
---@param cfg table  the config (cfg.worktree)
---@param o table  agent_run.execute's options (runner, sandbox, repo, prompt, record, run_id)
---@param extra table  run_step's extra (parent_run_id: a pipeline step or a replay)
function M.enter(s, cfg, task, st, o, extra)
  -- Pipeline steps, replays and continued sessions go on from the task's worktree.
  local prev = (extra.parent_run_id or extra.resume) and result.reusable(s, task.task_id, o.run_id)
  if not (M.WRITES[st.sandbox] or prev) then
    return nil
  end
  local wc = cfg.worktree or {}
  if wc.enabled == false then
    return in_place(o, "worktree.enabled is false in .agent/config.lua: the run writes in your work tree")
  end
  local p, why = result.places(s)
  if not p then
    return in_place(o, "not a git repository: the run writes in place (" .. tostring(why) .. ")")
  end
  -- The agent works elsewhere now: paths into the store's folder handed to it (its prompt file,
  -- codex's -o file) must not be relative to this process's folder.
  s.root = p.root
  result.sweep(s)
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
    result.unmark(p.open, run.run_id)
    return nil, fail_run(s, run, o, "could not make the run's worktree: " .. why)
  end
  local wt = { path = plan.path, branch = plan.branch, repo = p.top, base_commit = plan.base_commit or json.null,
    base_tree = plan.base_tree, start_commit = plan.start, created_branch = plan.created_branch,
    custom_path = plan.custom_path, reused_from = plan.reused_from, state = "open", from_spare = made.warm,
    start_tree = plan.tree, start_head_tree = plan.head_tree, max_untracked_bytes = wc.max_untracked_bytes }
  run.worktree = wt -- saved as the agent starts (agent_run keeps o.record.worktree), or on a failure
  local dir = plan.path .. (p.prefix ~= "" and ("/" .. p.prefix:gsub("/$", "")) or "")
  made_here[wt] = { p = p, plan = plan, run = run, dir = dir }
  local ok
  ok, why = prepare.copy_left_out(plan.left_out, p.top, plan.path, wt)
  if ok then
    ok, why = prepare.copy_files(wc.copy, p.repo, plan.path .. "/" .. p.prefix, wt)
  end
  wt.made_ms = now_ms() - t0
  if not ok then
    return nil, M.undo(s, wt, o, why)
  end
  o.repo = dir
  o.record = o.record or {}
  o.record.worktree = wt
  -- What the agent starts from is known (its files are exactly this tree, until a setup runs in
  -- it: sidecar.task.worktree_setup): an agent_run that takes o.before need not read it again.
  o.before = { head = plan.start, tree = plan.tree, left_out = wt.left_out }
  return wt
end

---Where the worktree `wt` (this process's enter made it) is: {top (the repository), repo (the
---user's folder), dir (the run's folder in it), tree (its files when made), run (the record)}.
---@param wt table
function M.place(wt)
  local m = assert(made_here[wt], "run_worktree.place: a worktree this process did not make")
  return { top = m.p.top, repo = m.p.repo, dir = m.dir, tree = m.plan.tree, run = m.run }
end

---Undoes the worktree `wt` that enter made (a step after it failed: its setup): the folder and a
---branch it created go, and the run is recorded failed with `why`. Returns the failed run record.
---@param s table  the store
---@param wt table
---@param o table  agent_run.execute's options (prompt)
---@param why string
function M.undo(s, wt, o, why)
  local m = assert(made_here[wt], "run_worktree.undo: a worktree this process did not make")
  git.remove(m.p.top, m.plan.path)
  if m.plan.created_branch and not m.plan.existing then
    git.delete_branch(m.p.top, m.plan.branch, m.plan.start)
  end
  result.unmark(m.p.open, m.run.run_id)
  wt.state = "failed"
  return fail_run(s, m.run, o, why)
end

return M
