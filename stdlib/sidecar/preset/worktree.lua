--- The worktree of a preset run that writes (stdlib/sidecar/preset/context.lua uses it). A preset's
--- writing steps never touch the user's tree: the first writer makes ONE worktree for the whole
--- preset run (stdlib/sidecar/run/worktree.lua: `.agent/worktrees/R-0007` on `sidecar/R-0007`, from HEAD
--- plus the user's uncommitted changes), and every step after it, readers and writers, runs
--- there, so a verifier sees the implementer's edits. Each writer's run records the preset's
--- combined change so far (changes.patch from the first writer's base, a commit on the branch),
--- continuing the writer before it (worktree.reused_from): the LAST writer's run carries the
--- whole change, and applying it marks the earlier ones applied with it. When the preset run
--- ends, the folder goes and `apply` names the commands to print:
---
---   local w, failed = preset_worktree.enter(ctx, opts)  -- a writer: opts.repo into the worktree
---   run = preset_worktree.finish(ctx, run, w)          -- its result recorded
---   local done = preset_worktree.close(ctx)            -- {run_id, files, apply, discard} or nil
---
--- Readers beside a writer in one batch (ctx:agents): the batch's tree is chosen when it starts.
--- Before any writer has run, its readers work in the user's tree, which the writer (in its new
--- worktree) never changes, so their gates see only their own effect. Once the worktree exists,
--- the readers share it with the writer; they then run without gates, and after the batch
--- `judge` weighs their OWN effect: files and history changes the writer's run also made are left
--- out (a file both changed counts as the writer's: the one case this rule cannot tell apart).
local gates = require("sidecar.run.gates")
local json = require("sidecar.core.json")
local run_record = require("sidecar.run.record")
local run_worktree = require("sidecar.run.worktree")
local worktree_apply = require("sidecar.run.worktree_apply")
local worktree_result = require("sidecar.run.worktree_result")
local worktree_setup = require("sidecar.task.worktree_setup")

local M = {}

-- The fields of the first writer's worktree record that every later writer shares.
local SHARED = { "path", "branch", "repo", "base_commit", "base_tree", "start_commit", "created_branch",
  "custom_path" }

---Where the steps of a batch started now run: the preset's worktree once made, else the user's
---tree (ctx.repo); and the store's folder as seen from there.
---@param ctx table  a preset context
---@return string repo, string root
function M.place(ctx)
  if ctx.wt then
    return ctx.wt.dir, ctx.s.root
  end
  return ctx.repo, ctx.root
end

---Before a writer's agent (opts.run_id: its run recorded ahead): the first writer makes the
---preset's worktree, a later one continues in it; opts.repo points into it. Returns the run's
---worktree record, or nil (no worktree: not git, or worktree.enabled = false; the writer then
---writes in place, as opts.record.worktree says), and a failed run record as a second value when
---the worktree could not be made.
---@param ctx table
---@param opts table  agent_run.execute's options
function M.enter(ctx, opts)
  if ctx.wt then
    local w = { state = "open", reused_from = ctx.wt.last, made_by = ctx.wt.first_id }
    for _, k in ipairs(SHARED) do
      w[k] = ctx.wt.record[k]
    end
    opts.repo, opts.record.worktree = ctx.wt.dir, w
    return w
  end
  if not ctx.use_worktree then
    return nil -- a script's own context (preset_context.new without worktree = true): in place
  end
  local wt, failed = run_worktree.enter(ctx:store(), ctx.cfg, ctx.task, { sandbox = opts.sandbox }, opts, {})
  if wt then
    failed = worktree_setup.run(ctx:store(), ctx.cfg, wt, opts)
    wt = not failed and wt or nil
  end
  if wt then
    ctx.wt = { record = wt, dir = opts.repo, first_id = opts.run_id, last = opts.run_id }
  end
  return wt, failed
end

---After a writer's agent (and its gates): the preset's change so far recorded on its run
---(changes.patch, a commit on the branch; state ready). Returns the run.
function M.finish(ctx, run, w)
  if not (w and run) then
    return run
  end
  run = worktree_result.finish(ctx.s, run, w)
  ctx.wt.last = run.run_id
  return run
end

-- The items of `list` whose `key` (or themselves, key nil) is not among `theirs`'.
local function minus(list, theirs, key)
  local seen = {}
  for _, x in ipairs(type(theirs) == "table" and theirs or {}) do
    seen[key and x[key] or x] = true
  end
  local out = json.array({})
  for _, x in ipairs(type(list) == "table" and list or {}) do
    if not seen[key and x[key] or x] then
      out[#out + 1] = x
    end
  end
  return out
end

---A reader's own effect beside a writer in the same tree: a copy of its record without the
---changed files, commits and ref changes the writer's run also has (and without a HEAD switch
---the writer made). The reader's push attempts are its own (its commands, its push log).
---@param reader table  the reader's run record
---@param writer table  the writer's run record
---@return table
function M.own_effect(reader, writer)
  local own = {}
  for k, v in pairs(reader) do
    own[k] = v
  end
  if type(reader.changed_files) == "table" then
    own.changed_files = minus(reader.changed_files, writer.changed_files)
    own.symlinks_out = minus(reader.symlinks_out, writer.symlinks_out, "path")
  end
  local g, wg = reader.git, writer.git
  if type(g) == "table" and type(wg) == "table" then
    local mine = {}
    for k, v in pairs(g) do
      mine[k] = v
    end
    mine.commits = minus(g.commits, wg.commits, "sha")
    for _, k in ipairs({ "branches_created", "branches_deleted", "branches_moved", "tags_created", "tags_deleted",
      "tags_moved" }) do
      mine[k] = minus(g[k], wg[k], "name")
    end
    if wg.head_branch_after ~= wg.head_branch_before and g.head_branch_after == wg.head_branch_after then
      mine.head_branch_after, mine.head_after = g.head_branch_before, g.head_before
    end
    own.git = mine
  end
  return own
end

---After a batch that shared the worktree with a writer: weighs each reader's gates on its own
---effect (see own_effect), records the verdict on its run and saves it. Returns the record.
---@param ctx table
---@param record table  the reader's run record (run without gates)
---@param writer? table  the writer's run record (nil: it did not run; nothing is left out)
function M.judge(ctx, record, writer)
  local own = writer and M.own_effect(record, writer) or record
  gates.apply(record, gates.evaluate(own, ctx.task, ctx.cfg.gates))
  if writer then
    record.gates.judged = ("on the reader's own effect: what writer %s also changed in the shared worktree is left out")
        :format(writer.run_id)
  end
  assert(run_record.save(ctx.s, record))
  return record
end

---When the preset run ends: the worktree's folder goes (branch and changes.patch keep the
---change). Returns {run_id (the run that carries the combined change), files, apply, discard
---(the commands)} or nil when the preset made no worktree. Never raises on a git failure.
---@param ctx table
function M.close(ctx)
  local wt = ctx.wt
  if not wt then
    return nil
  end
  ctx.wt = nil
  local s = ctx.s
  local first = s:get_run(wt.first_id)
  if first then
    -- A writer interrupted before its result was recorded: record what the worktree holds.
    local last = s:get_run(wt.last)
    if last and type(last.worktree) == "table" and last.worktree.state == "open" then
      pcall(worktree_result.finish, s, last, last.worktree)
    end
    pcall(worktree_result.release, s, first, wt.record, ctx.cfg)
  end
  local last = s:get_run(wt.last) or {}
  local w = type(last.worktree) == "table" and last.worktree or {}
  local files = json.array({})
  for i, f in ipairs(type(w.files) == "table" and w.files or {}) do
    files[i] = f.path
  end
  if #files == 0 and w.state ~= "discarded" then
    -- Writers that changed nothing leave nothing to apply: their branch goes at once.
    local ok, run = pcall(worktree_apply.discard, s, wt.last)
    local discarded = ok and run ~= nil
    return { run_id = wt.last, files = files, state = discarded and "discarded" or w.state, branch = w.branch }
  end
  return { run_id = wt.last, files = files, branch = w.branch, state = w.state,
    apply = "sidecar run apply " .. wt.last, discard = "sidecar run discard " .. wt.last }
end

return M
