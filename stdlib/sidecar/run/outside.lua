--- What a run changed outside the place it may change: read before the agent starts and after it
--- ends, so a run whose agent left code to run later, or moved what is not its own, is blocked
--- and named (the `outside_changes` gate, stdlib/sidecar/run/gates.lua) even where no OS sandbox
--- stopped it (isolation.sandbox = "off", docs/security.md).
---
---   local before = outside.snapshot({repo = run.repo, store_root = root, home = os.getenv("HOME")})
---   ... the agent runs ...
---   record.outside = outside.compare(before)   -- {changed = {"changed .git/hooks/pre-commit", ...}, checked = N,
---                                              --  kept = M: left unread, the OS sandbox keeps them as they are}
---
--- Watched: the repository's git folder (config, config.worktree, HEAD, info/attributes,
--- info/exclude, every hook), the refs of its remotes that are folders on this machine, the user's
--- git config and shell start-up files, Sidecar's config, presets and trust file, and, for a run in
--- a worktree of its own, the main checkout's files (.agent aside). Refs in every namespace are
--- the git facts' (stdlib/sidecar/run/git_refs.lua).
--- Files are compared by content (SHA-256; a few hundred small files at most).
local digest = require("sidecar.host.digest")
local files = require("sidecar.core.files")
local git = require("sidecar.core.git")
local paths = require("sidecar.host.paths")

local M = {}

M.GIT_FILES = { "config", "config.worktree", "HEAD", "info/attributes", "info/exclude" }
M.HOME_FILES = { ".gitconfig", ".config/git/config", ".config/git/attributes", ".bashrc", ".bash_profile", ".profile",
  ".zshrc", ".zprofile", ".zshenv", ".ssh/config", ".ssh/authorized_keys", ".ssh/rc" }
M.MAX_HOOKS = 200

-- SHA-256 of a file's bytes, "absent", or "folder"/"other" for what is not a regular file.
local function state_of(path)
  local st = paths.lstat(path)
  if not st then
    return "absent"
  end
  if st.kind == "symlink" then
    return "link to " .. tostring(paths.real(path) or "nowhere")
  end
  if st.kind ~= "file" then
    return st.kind
  end
  local text = files.read(path)
  return text and digest.sha256(text) or "unreadable"
end

-- The remotes of the repository that are folders on this machine (a path or file:// URL in its
-- config): name -> folder. A push to one shows in its refs.
local function local_remotes(common)
  local out, name = {}, nil
  for line in ((common and files.read(common .. "/config")) or ""):gmatch("[^\n]+") do
    local section = line:match("^%s*%[(.-)%]")
    if section then
      name = section:match('^remote "([^"]+)"$')
    end
    local url = name and line:match("^%s*push[uU]rl%s*=%s*(.-)%s*$") or name and line:match("^%s*url%s*=%s*(.-)%s*$")
    if url then
      url = url:gsub("^file://", "")
      if url:sub(1, 1) == "/" and paths.lstat(url) then
        out["remote " .. name .. " (" .. url .. ")"] = url
      end
    end
  end
  return out
end

-- The refs of a bare repository folder as one digest: its packed-refs and every loose ref file
-- (read as files: no repository is opened, whatever its state).
local function refs_digest(dir)
  local parts = { files.read(dir .. "/packed-refs") or "" }
  local function walk(rel, depth)
    for _, name in ipairs(paths.entries(dir .. "/" .. rel) or {}) do
      local child = rel .. "/" .. name
      local st = paths.lstat(dir .. "/" .. child)
      if st and st.kind == "directory" and depth < 8 then
        walk(child, depth + 1)
      elseif st then
        parts[#parts + 1] = child .. " " .. (files.read(dir .. "/" .. child) or "?")
      end
    end
  end
  walk("refs", 1)
  return digest.sha256(table.concat(parts, "\n"))
end

-- The files watched, by the name a person knows them by -> path. What the run's OS sandbox keeps as
-- it is cannot change: left out, by name in `kept` (a folder of hooks or presets by its own name,
-- none of its files read), once `o.kept(path)` says so at the snapshot; the comparison leaves out
-- the same.
local function watched(o, kept)
  local list = {}
  local function leaves_out(name, path)
    if kept[name] == nil then
      kept[name] = o.kept ~= nil and o.kept(path) == true
    end
    return kept[name]
  end
  local function watch(name, path)
    if not leaves_out(name, path) then
      list[name] = path
    end
  end
  local function watch_folder(name, dir, max)
    if leaves_out(name, dir) then
      return
    end
    for i, entry in ipairs(paths.entries(dir) or {}) do
      if i <= max then
        watch(name .. entry, dir .. "/" .. entry)
      end
    end
  end
  local _, common = git.dirs(o.repo)
  if common then
    for _, rel in ipairs(M.GIT_FILES) do
      watch(".git/" .. rel, common .. "/" .. rel)
    end
    watch_folder(".git/hooks/", common .. "/hooks", M.MAX_HOOKS)
  end
  if o.home then
    for _, rel in ipairs(M.HOME_FILES) do
      watch("~/" .. rel, o.home .. "/" .. rel)
    end
  end
  if o.store_root then
    watch(".agent/config.lua", o.store_root .. "/config.lua")
    watch_folder(".agent/presets/", o.store_root .. "/presets", math.huge)
  end
  local trust_file = require("sidecar.core.trust").state_path()
  if trust_file then
    watch("the trust file", trust_file)
  end
  return list, common
end

---Reads what is watched. o: repo (where the agent works), store_root, home, main (the main checkout
---of a run in its own worktree: its files are compared too), allowed (absolute folders the run
---may write, left out of the checkout's comparison), kept (optional: `kept(path)` true when the
---run's OS sandbox keeps that path and all below it as they are, as
---sidecar.agent.run_sandbox.keeps_path says: not read, then or after).
---@param o table
---@return table before
function M.snapshot(o)
  local before = { o = o, files = {}, remotes = {}, kept = {} }
  for name, path in pairs(watched(o, before.kept)) do
    before.files[name] = state_of(path)
  end
  for name, dir in pairs(local_remotes(select(2, git.dirs(o.repo)))) do
    if not (o.kept and o.kept(dir)) then
      before.remotes[name] = { dir = dir, refs = refs_digest(dir) }
    else
      before.kept[name] = true
    end
  end
  if o.main and o.kept and o.kept(o.main) then
    before.kept["your checkout"] = true
  elseif o.main then
    -- The store, and the folders the run may write (a CLI's state, TMPDIR, isolation.write) when
    -- they lie in the checkout, are left out.
    local main = paths.real(o.main) or o.main
    local exclude = {}
    for _, p in ipairs({ o.store_root, table.unpack(o.allowed or {}) }) do
      p = type(p) == "string" and (paths.real(p) or p) or ""
      if p:sub(1, #main + 1) == main .. "/" then
        exclude[#exclude + 1] = p:sub(#main + 2)
      end
    end
    if #exclude == 0 then
      exclude[1] = ".agent"
    end
    before.tree, before.tree_why = require("sidecar.core.worktree").snapshot(o.main, exclude)
  end
  return before
end

---What changed since `before`: {changed = {"changed .git/hooks/pre-commit", ...}, checked = N,
---kept = M (what the OS sandbox kept as it is: not read)}; a hook or preset that appeared or went
---is named too.
---@param before table  M.snapshot's
---@return table
function M.compare(before)
  local list = watched(before.o, before.kept)
  local changed, checked = {}, 0
  local names = {}
  for name in pairs(list) do
    names[name] = true
  end
  for name in pairs(before.files) do
    names[name] = true
  end
  for name in pairs(names) do
    checked = checked + 1
    local was, now = before.files[name] or "absent", list[name] and state_of(list[name]) or "absent"
    if was ~= now then
      changed[#changed + 1] = (was == "absent" and "created %s" or now == "absent" and "deleted %s" or "changed %s")
        :format(name)
    end
  end
  for name, r in pairs(before.remotes) do
    checked = checked + 1
    if refs_digest(r.dir) ~= r.refs then
      changed[#changed + 1] = ("changed the refs of %s: a push got out"):format(name)
    end
  end
  table.sort(changed)
  if before.tree then
    local diff = require("sidecar.core.worktree").changes(before.o.main, before.tree)
    local paths_changed = {}
    for _, f in ipairs(type(diff) == "table" and (diff.files or diff) or {}) do
      paths_changed[#paths_changed + 1] = type(f) == "table" and (f.path or f[1]) or tostring(f)
    end
    if #paths_changed > 0 then
      changed[#changed + 1] = ("changed %s in your checkout, outside the run's worktree"):format(
        table.concat(paths_changed, ", ", 1, math.min(#paths_changed, 5)) ..
        (#paths_changed > 5 and (" and %d more"):format(#paths_changed - 5) or ""))
    end
  end
  local kept = 0
  for _, is in pairs(before.kept) do
    kept = kept + (is and 1 or 0)
  end
  return { changed = changed, checked = checked, kept = kept > 0 and kept or nil }
end

return M
