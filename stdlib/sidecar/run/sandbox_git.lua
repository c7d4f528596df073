--- A writing run's commits in its OS sandbox: objects and refs of its own, never the user's.
---
--- The repository's objects and refs (its common .git) are read-only in the sandbox. Before the
--- agent starts, its worktree's HEAD is detached at the branch's commit (HEAD lives in the
--- worktree's own admin folder, which the agent may write) and git is pointed at a private object
--- folder there, with the repository's objects as alternates. A commit the agent makes writes
--- only those two. After the run, Sidecar (outside the sandbox) copies the objects that commit
--- reaches into the repository, each checked against its id (never the folder's files as they
--- are: a pack or loose object there may lie about an id the repository has, or will have), and
--- moves the run's branch to where HEAD went, then re-attaches HEAD: the gates see the
--- commit on the run's branch as they would without a sandbox. A tag, another branch, a note or
--- a stash cannot be written at all.
---
--- The environment only makes legitimate commits work: an agent that unsets it cannot commit,
--- since the repository's objects stay read-only whatever it sets.
local git_tree = require("sidecar.host.git_tree")
local paths = require("sidecar.host.paths")

local M = {}

M.OBJECTS = "sidecar-objects" -- in the worktree's admin folder (.git/worktrees/<name>/)

local function read_line(path)
  local text = require("sidecar.core.files").read(path)
  return text and text:match("^[^\n]*")
end

local function write_file(path, text)
  local tmp = path .. ".sidecar-tmp"
  local f = io.open(tmp, "wb")
  if not f then
    return false
  end
  f:write(text)
  f:close()
  return os.rename(tmp, path) ~= nil
end

---Prepares a worktree for a sandboxed writing run. Returns {admin, common, objects, branch, start}
---and the variables to add to the agent's environment, or nil when the worktree is not on a
---branch (nothing to do: a commit then fails in the read-only repository).
---@param worktree_path string
function M.prepare(worktree_path)
  local admin = git_tree.admin_dir(worktree_path)
  local head = admin and read_line(admin .. "/HEAD")
  local ref = head and head:match("^ref: (refs/heads/.+)$")
  local common = admin and read_line(admin .. "/commondir")
  if not (ref and common) then
    return nil
  end
  common = common:sub(1, 1) == "/" and common or (admin .. "/" .. common)
  common = paths.real(common) or common
  local start = read_line(common .. "/" .. ref) or git_tree.peel(worktree_path, ref, "commit")
  if not (start and start:match("^%x+$")) then
    return nil
  end
  local p = { admin = admin, common = common, objects = admin .. "/" .. M.OBJECTS, ref = ref, start = start }
  if not (paths.make_dirs(p.objects) and write_file(admin .. "/HEAD", start .. "\n")) then
    return nil
  end
  return p, { GIT_OBJECT_DIRECTORY = p.objects, GIT_ALTERNATE_OBJECT_DIRECTORIES = common .. "/objects" }
end

---After the agent: the objects its commit reaches, and those its worktree's index names (what it
---staged), into the repository (git_tree.import_objects: only those, each checked against its id;
---packs, alternates and stray files of the private folder never come in), the run's branch to its
---HEAD (git_tree.set_ref checks the branch is still where the run started), HEAD attached to the
---branch again. The private object folder is gone afterwards whatever happened. Returns {moved =
---true, to = commit, objects = N, bytes = B} when the agent committed, {} when not (objects and
---bytes when it staged new files), with head_was (what HEAD named when it was not a commit) and
---unstaged (index entries dropped: their objects could not come in); or nil and why (a commit
---refused: the branch stays where it was).
---@param p table  M.prepare's
function M.import(p)
  local head = read_line(p.admin .. "/HEAD")
  local committed = head and head:match("^%x+$") and head ~= p.start
  local counts, why = git_tree.import_objects(p.common, p.objects, committed and head or nil, p.admin .. "/index")
  if not counts then
    -- the commit is not in the repository: HEAD back on the branch, which never moved
    write_file(p.admin .. "/HEAD", "ref: " .. p.ref .. "\n")
    if not committed then
      return nil, "the agent's staged objects could not come in: " .. tostring(why)
    end
    return nil, ("the agent's commit %s was refused, %s stays where it was: %s"):format(head, p.ref, tostring(why))
  end
  local result = { unstaged = counts.unstaged }
  if committed or counts.objects > 0 then
    result.objects, result.bytes = counts.objects, counts.bytes
  end
  if committed then
    local ok, set_why = git_tree.set_ref(p.common, p.ref, head, p.start)
    if not ok then
      return nil, ("the agent's commit %s could not become %s: %s"):format(head, p.ref, tostring(set_why))
    end
    result.moved, result.to = true, head
  end
  if not (head and head:match("^%x+$")) then
    result.head_was = head or "" -- the agent pointed HEAD elsewhere: put back, and said so
  end
  write_file(p.admin .. "/HEAD", "ref: " .. p.ref .. "\n")
  return result
end

return M
