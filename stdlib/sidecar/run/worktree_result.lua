--- A writing run's worktree after its agent (the worktrees stdlib/sidecar/run/worktree.lua makes):
--- its result recorded (changes.patch, a commit on the run's branch), its folder released, a run
--- that ended early abandoned, and worktrees whose process died swept; where they all live.
---
---   run = worktree_result.finish(s, run, wt)     -- changes.patch, and a commit on the branch
---   ... validation, in the worktree ...
---   worktree_result.release(s, run, wt, cfg)     -- the folder goes; branch and patch keep it
---   worktree_result.sweep(s)                     -- worktrees whose process died, recovered
local artifact = require("sidecar.core.artifact")
local git = require("sidecar.run.worktree_git")
local json = require("sidecar.core.json")
local run_record = require("sidecar.run.record")
local store = require("sidecar.core.store")
local worktree = require("sidecar.core.worktree")
local writer_lock = require("sidecar.core.writer_lock")

local M = {}

---Where things are: the repository's top folder (absolute), the store's folder below it, the
---worktrees' folder and the open-worktree markers: {top, prefix, own, repo, root, trees, open},
---or nil and why outside git.
function M.places(s)
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

---Removes the open-worktree marker of `run_id` from `dir` (the markers' folder: places(s).open).
function M.unmark(dir, run_id)
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

-- The result ---------------------------------------------------------------------------------

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
  M.unmark(s.root .. "/worktrees/.open", run.run_id)
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
  M.unmark(open_dir, id)
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

return M
