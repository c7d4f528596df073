--- An agent CLI's state in a run's OS sandbox: a folder of the run's, never the user's own.
---
--- A CLI writes its state folder as it works (`~/.claude`, `$CODEX_HOME`: sessions, logs, caches,
--- settings, instructions). Were that the user's folder, an agent could plant there what the
--- user's next session of the CLI runs or reads, outside any sandbox: an MCP server, hooks, a
--- `.env` that sets PATH, instructions injected into every prompt. So the sandbox binds a folder
--- of the run's (`runs/R-…/cli-state/`) over the user's path, and shows in it, read-only, only
--- what the runner names as the user's own (`keep`: the login, the configuration, the user's
--- instructions). A state file (`~/.claude.json`) becomes a copy of the user's in the sandbox's
--- private folder, dropped with it. Nothing is ever written back.
---
--- The folder stays with the run: a run that resumes a session starts from a copy of the resumed
--- run's folder (its sessions are there), so `run answer`, `--continue` and replays go on.
---
---   local st = sandbox_state.plan(entries, {dir = run_dir .. "/cli-state", seed = resumed_dir, scratch = sb.dir})
---   -- st.binds: {{from, to}} writable, st.keep: {paths} read-only (the user's, bound over them)
---   sandbox_state.tidy(st)   -- after the run: the mount points of `keep` made in the run's folder
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")

local M = {}

M.FOLDER = "cli-state" -- in a run's folder

local function kind(p)
  local st = paths.lstat(p)
  return st and st.kind
end

local function basename(p)
  return p:match("([^/]+)/*$") or "state"
end

-- Copies `from` (a folder) into `to` with its contents, as `cp -a` does; true or nil, why.
local function copy_tree(from, to)
  local r = require("sidecar.core.proc").run({ "cp", "-a", "--reflink=auto", "--", from .. "/.", to },
    { timeout_ms = 10 * 60 * 1000 })
  return r.code == 0 or nil, (r.stderr or ""):match("[^\n]*")
end

-- Copies a file's bytes (the user's state file) into a new file `to`, mode 0600.
local function copy_file(from, to)
  local src = io.open(from, "rb")
  if not src then
    return false
  end
  local dst = io.open(to, "wb")
  if not dst then
    src:close()
    return false
  end
  while true do
    local chunk = src:read(1 << 16)
    if not chunk then
      break
    end
    dst:write(chunk)
  end
  src:close()
  dst:close()
  return true
end

---The mounts of a CLI's state for one sandbox. entries: the runner's sandbox_state(...) (real
---paths or not yet existing ones); o: {dir = the run's state folder, seed = a resumed run's state
---folder or nil, scratch = the sandbox's private folder (for state files)}. An entry's `env` names
---the variable that moves the folder (CODEX_HOME), for a sandbox that cannot bind over it. Returns
---{binds = {{from, to, persistent?, env?}}, keep = {paths}, made = {paths made as mount points}}
---or nil and why.
---@param entries table[]
---@param o {dir: string, seed: string?, scratch: string}
function M.plan(entries, o)
  local out = { binds = {}, keep = {}, made = {} }
  for i, e in ipairs(entries or {}) do
    local to = paths.real(e.path) or e.path
    local name = ("%d-%s"):format(i, basename(to))
    if e.dir then
      local mine = o.dir .. "/" .. name
      local fresh = kind(mine) == nil
      local ok, why = paths.make_dirs(mine)
      if not ok then
        return nil, ("cannot make the CLI's state folder %s: %s"):format(mine, tostring(why))
      end
      if fresh and o.seed and kind(o.seed .. "/" .. name) == "directory" then
        ok, why = copy_tree(o.seed .. "/" .. name, mine)
        if not ok then
          return nil, ("cannot copy the resumed run's CLI state: %s"):format(tostring(why))
        end
      end
      if kind(to) == nil then
        paths.make_dirs(to) -- a mount point (empty): the CLI was never run here
      end
      if kind(to) == "directory" then
        out.binds[#out.binds + 1] = { from = mine, to = to, persistent = true, env = e.env }
        for _, k in ipairs(e.keep or {}) do
          local user = kind(to .. "/" .. k)
          if user == "file" or user == "directory" then -- a link is not followed: it could lead anywhere
            out.keep[#out.keep + 1] = to .. "/" .. k
            if kind(mine .. "/" .. k) == nil then
              out.made[#out.made + 1] = mine .. "/" .. k
            end
          end
        end
      end
    elseif kind(to) == "file" then
      local copy = o.scratch .. "/" .. name
      if copy_file(to, copy) then
        out.binds[#out.binds + 1] = { from = copy, to = to }
      end
    end
  end
  return out
end

---What the run record keeps: [{path (the user's), folder (the run's in its place, relative to the
---store: runs/R-…/cli-state/1-.codex)}], or nil.
---@param st table|nil  M.plan's
function M.record(st)
  local list = {}
  for _, b in ipairs(st and st.binds or {}) do
    if b.persistent then
      local rel = b.from:match("(runs/[^/]+/" .. M.FOLDER:gsub("%-", "%%-") .. "/[^/]+)$") or b.from
      list[#list + 1] = json.object({ path = b.to, folder = rel })
    end
  end
  return #list > 0 and json.array(list) or nil
end

---After the run: removes the mount points bwrap made in the run's state folder for the user's
---`keep` files (empty, they would hide the user's own from a resumed run's copy), or the links to
---them a Landlock sandbox made there (sidecar.run.sandbox_landlock).
---@param st table  M.plan's
function M.tidy(st)
  for i = #st.made, 1, -1 do
    local p = st.made[i]
    local s = paths.lstat(p)
    if s and ((s.kind == "file" and s.size == 0) or s.kind == "directory" or s.kind == "symlink") then
      os.remove(p) -- a folder goes only when empty
    end
  end
end

return M
