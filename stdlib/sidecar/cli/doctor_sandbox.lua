--- `sidecar doctor`'s check of a runner inside the OS sandbox a run gets: its version command is
--- started there (no network: it needs none), so that "ready" means a run will start. A CLI that
--- answers outside but not inside lives where the sandbox does not show it (a private /tmp, a
--- hidden folder, a sibling package it loads): the advice names the path and the setting that
--- shows it (`isolation.read` in .agent/config.lua).
---
---   local inside = doctor_sandbox.open(cfg, repo, root)   -- nil when runs have no OS sandbox
---   local spec = inside:wrap(c, argv, env)                -- a proc.parallel spec, in the sandbox
---   local advice = inside:judge(c, result)                -- nil when it started inside
---   inside:close()
local git_tree = require("sidecar.host.git_tree")
local paths = require("sidecar.host.paths")
local sandbox = require("sidecar.run.sandbox")
local sandbox_program = require("sidecar.run.sandbox_program")

local M = {}

local Inside = {}
Inside.__index = Inside

---The sandbox runs in `repo` would get (cfg's isolation), or nil when runs have none (off). Call it
---only where a sandbox starts (sandbox_host.check: doctor says apart why one does not).
---@param cfg table|nil  the project's config
---@param repo string  the repository (the sandbox's working folder)
---@param root string|nil  the .agent folder
function M.open(cfg, repo, root)
  local settings = sandbox.settings(cfg and cfg.isolation, nil, { network = "none" })
  if not settings or settings.sandbox == "off" then
    return nil
  end
  local dir = os.tmpname()
  os.remove(dir)
  if not paths.make_dirs(dir) then
    return nil
  end
  return setmetatable({ settings = settings, repo = repo, root = root, dir = dir, open = {} }, Inside)
end

---The proc.parallel spec that starts `argv` (runner check `c`'s version command, with `env`) in
---the sandbox; nil and why when its sandbox cannot be made.
function Inside:wrap(c, argv, env, timeout_ms)
  local run_dir = ("%s/%s"):format(self.dir, c.name)
  paths.make_dirs(run_dir)
  local sb, why = sandbox.open({ settings = self.settings, spec = c.spec, argv = argv, env = env, cwd = self.repo,
    level = "read-only", repo_top = self.repo, store_root = self.root, run_dir = run_dir, outputs = {},
    name = "doctor-" .. c.name, settle_ms = 0 })
  if not sb then
    return nil, why
  end
  self.open[#self.open + 1] = sb
  return { cmd = sb.argv, env = env, timeout_ms = timeout_ms, fd3 = sb.report, term_ignored = true }
end

-- What the sandbox does not show: the first path the error names that exists outside (a file the
-- program loads: `exec: /opt/x/lib/real: not found`), else the program itself (its real path).
local function unseen(argv, said)
  local resolved = sandbox_program.resolve(argv[1], ".")
  local program = resolved and resolved.real or argv[1]
  for path in said:gmatch("/[%w%._%-/@+]+") do
    if path ~= program and path ~= argv[1] and paths.lstat(path) then
      return path
    end
  end
  return program
end

---nil when the version command started inside (result: proc's), else the advice: what it said,
---where the program lives, and how to show it to runs.
function Inside:judge(c, argv, result)
  if result.ok then
    return nil
  end
  local said = (result.stderr or ""):match("^%s*([^\n]+)") or result.error or ("exit " .. tostring(result.code))
  local at = unseen(argv, said)
  return ("it answers outside but does not start inside the OS sandbox runs get (%s): %s is where the "
    .. "sandbox does not show it; show its folder with isolation = { read = { %q } } in .agent/config.lua, or "
    .. "install it elsewhere (docs/security.md)"):format(said, at, (at:match("^(.*)/[^/]*$") or at))
end

---Ends the sandboxes and removes their folders.
function Inside:close()
  for _, sb in ipairs(self.open) do
    sb:finish()
  end
  self.open = {}
  git_tree.remove_all(self.dir)
end

return M
