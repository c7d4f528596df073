--- `sidecar trust [--show] [--revoke] [PATH]`, and the one-line notice every command prints
--- (once, on stderr) when it left a repository's file unrun because it is not trusted
--- (stdlib/sidecar/core/trust.lua). Exit status: 0 done, 1 could not be done, 2 the command line is wrong.
local json = require("sidecar.core.json")
local out = require("sidecar.cli.output")
local trust = require("sidecar.core.trust")

local M = {}

local EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

-- A path as the shell takes it, on one line: as is when it has nothing special, else
-- single-quoted; with control characters (a newline, ESC), as $'...' with them escaped.
local function shell_word(path)
  if path:match("^[%w/._+:@%%-]+$") then
    return path
  elseif path:find("[%c\127]") then
    local escaped = path:gsub("[\\']", "\\%0"):gsub("[%c\127]", function(c)
      return ("\\x%02x"):format(c:byte())
    end)
    return "$'" .. escaped .. "'"
  end
  return "'" .. path:gsub("'", "'\\''") .. "'"
end

---The notice for a file not run: which files, where, and the commands that review and trust
---them. One line. A module (a Lua file trusted code loads) is named alone: the other modules
---waiting do not run unless loaded.
---@param info table  {repo, path, state}: what trust.allows reported
---@return string
function M.notice_text(info)
  local module = not info.task_id and trust.kind(info.path) == "module"
  local status = not (info.task_id or module) and trust.status(info.repo) or nil
  local waiting = {}
  for _, f in ipairs(status and status.files or {}) do
    if f.state ~= "trusted" and f.kind ~= "module" then
      waiting[#waiting + 1] = f.path
    end
  end
  if #waiting == 0 then
    waiting[1] = info.path
  end
  local what = waiting[1] .. (#waiting > 1 and (" and %d more file%s"):format(#waiting - 1, #waiting > 2 and "s" or "")
    or "")
  local repo = shell_word(status and status.repo or info.repo)
  local meanwhile = info.task_id and "the run is blocked" or module and "the code that loads it fails"
    or "Sidecar uses its defaults and built-in presets"
  return ("sidecar: not trusted, so not run: %s of %s; %s until you review %s (sidecar trust --show %s) and "
    .. "run: sidecar trust %s"):format(what, repo, meanwhile, #waiting > 1 and "them" or "it", repo, repo)
end

local noticed = false

-- `path` (package.path or cpath) without its entries in the current folder ("./?.lua").
local function without_current_folder(path)
  local kept = {}
  for entry in path:gmatch("[^;]+") do
    if entry:sub(1, 2) ~= "./" then
      kept[#kept + 1] = entry
    end
  end
  return table.concat(kept, ";")
end

---Makes trust report to stderr: the first file left unrun prints the notice, later ones nothing
---(one notice per command). With `command` (a Sidecar command, not a user's script, `-e` chunk
---or REPL), the module search also leaves the current folder out: Lua's default "./?.lua" would
---let a cloned repository's `x_events.lua` or `util.lua` answer a require made by Sidecar or by
---a user's own preset. Idempotent.
---@param command? boolean
function M.install(command)
  trust.on_untrusted(function(info)
    if not noticed then
      noticed = true
      io.stderr:write(M.notice_text(info), "\n")
    end
  end)
  if command then
    package.path, package.cpath = without_current_folder(package.path), without_current_folder(package.cpath)
  end
end

-- The repository a command means: the nearest folder with .agent in or above PATH (default:
-- the current folder), else PATH itself.
local function repository(o)
  local start = o.path or "."
  local root = require("sidecar.core.store").find_root(start)
  return root:match("^(.*)/%.agent$") or start
end

-- The tasks of the repository's store (their validation commands run after their runs), or {}
-- when it has none; nil and why when the store is there but cannot be read.
local function store_tasks(repo)
  local store = require("sidecar.core.store")
  if not require("sidecar.host.paths").real(repo .. "/.agent/" .. store.DB_NAME) then
    return {}
  end
  local s, why = store.open(repo .. "/.agent")
  if not s then
    return nil, why
  end
  local tasks, list_why = s:list_tasks({ limit = 0 })
  s:close()
  return tasks, list_why
end

local function status_data(st, action)
  local files, tasks = {}, {}
  for i, f in ipairs(st.files) do
    files[i] = { path = f.path, kind = f.kind, sha256 = f.sha256, state = f.state }
  end
  for i, t in ipairs(st.tasks) do
    tasks[i] = { task_id = t.task_id, sha256 = t.sha256, state = t.state }
  end
  return { action = action, repo = st.repo, trusted = st.trusted, everything = st.everything,
    trusted_at = st.trusted_at or json.null, trusted_by = st.trusted_by or json.null, files = json.array(files),
    removed = json.array(st.removed), tasks = json.array(tasks) }
end

local NOTHING = "nothing here runs code (no .agent/config.lua, no .agent/presets/*.lua, no task with validation "
  .. "commands)"

local function show(o, st)
  if o.json then
    out.envelope("trust", true, status_data(st, "show"), nil, o.version)
    return EXIT_OK
  end
  local repo = shell_word(st.repo)
  if #st.files == 0 and #st.removed == 0 and #st.tasks == 0 then
    print(("%s: %s"):format(st.repo, NOTHING))
    return EXIT_OK
  end
  print(("%s: %s%s"):format(st.repo, st.trusted and "trusted" or "not trusted",
    st.everything and " (but SIDECAR_TRUST=all trusts everything in this environment)" or ""))
  if st.trusted_at then
    print(("Last trusted %s by %s."):format(st.trusted_at, st.trusted_by or "someone (not recorded)"))
  end
  local rows, modules = {}, 0
  for _, f in ipairs(st.files) do
    rows[#rows + 1] = { f.path, f.state, f.sha256 }
    modules = modules + (f.kind == "module" and 1 or 0)
  end
  for _, rel in ipairs(st.removed) do
    rows[#rows + 1] = { rel, "removed", "-" }
  end
  for _, t in ipairs(st.tasks) do
    rows[#rows + 1] = { trust.task_label(t.task_id), t.state, t.sha256 }
  end
  io.write(out.table({ "WHAT RUNS", "STATE", "SHA-256" }, rows))
  if modules > 0 then
    print("Lua files beside config.lua and the presets run only when trusted code loads them (require, dofile).")
  end
  if #st.tasks > 0 and not st.trusted then
    print("A task's validation commands: `sidecar task show ID` lists them.")
  end
  if not st.trusted then
    print(("Read them; then `sidecar trust %s` lets them run as they are now."):format(repo))
  end
  return EXIT_OK
end

local function revoke(o, repo)
  local ok, had = trust.revoke(repo)
  if not ok then
    return out.fail(o, "trust", had)
  end
  local st = assert(trust.status(repo))
  if o.json then
    out.envelope("trust", true, status_data(st, "revoke"), nil, o.version)
  elseif had then
    print(("%s: trust taken back; its config.lua and presets do not run until `sidecar trust %s`"):format(st.repo,
      shell_word(st.repo)))
  else
    print(("%s was not trusted: nothing to take back"):format(st.repo))
  end
  return EXIT_OK
end

local function grant(o, repo, before, tasks)
  if #before.files == 0 and #before.tasks == 0 then
    if o.json then
      out.envelope("trust", true, status_data(before, "none"), nil, o.version)
    else
      print(("%s: %s: nothing to trust"):format(before.repo, NOTHING))
    end
    return EXIT_OK
  end
  local st, why = trust.grant(repo, tasks)
  if not st then
    return out.fail(o, "trust", why)
  end
  if o.json then
    out.envelope("trust", true, status_data(st, "trust"), nil, o.version)
    return EXIT_OK
  end
  local names, unreadable, modules = {}, {}, 0
  for _, f in ipairs(st.files) do
    if f.state == "unreadable" then
      unreadable[#unreadable + 1] = f.why or f.path
    elseif f.kind == "module" then
      modules = modules + 1
    else
      names[#names + 1] = f.path
    end
  end
  if modules > 0 then
    names[#names + 1] = ("%d Lua file%s they may load (trust --show lists them)"):format(modules,
      modules == 1 and "" or "s")
  end
  if #st.tasks > 0 then
    names[#names + 1] = ("the validation commands of %d task%s"):format(#st.tasks, #st.tasks == 1 and "" or "s")
  end
  if #names > 0 then
    print(("%s: trusted %s; a change to any of them needs `sidecar trust` again"):format(st.repo,
      table.concat(names, ", ")))
  end
  for _, why in ipairs(unreadable) do
    out.error("trust", why .. ": not trusted (it cannot be read as code)")
  end
  return #unreadable == 0 and EXIT_OK or EXIT_FAILURE
end

---`sidecar trust`
---@param o table  {path, show, revoke, json, version}
function M.cli(o)
  local repo = repository(o)
  local f = io.open(repo .. "/.", "rb")
  if not f then
    return out.fail(o, "trust", ("%s is not a folder: give the repository to trust"):format(repo), EXIT_USAGE)
  end
  f:close()
  local tasks, tasks_why = store_tasks(repo)
  if not tasks then
    return out.fail(o, "trust", tasks_why, EXIT_FAILURE)
  end
  local st, why = trust.status(repo, tasks)
  if not st then
    return out.fail(o, "trust", why, EXIT_FAILURE)
  end
  if o.show then
    return show(o, st)
  elseif o.revoke then
    return revoke(o, repo)
  end
  -- An agent trusting its own code: refused here as a courtesy; what stops a hostile one is its OS
  -- sandbox, in which the trust file is read-only (docs/security.md).
  local run_id = trust.inside_run()
  if run_id then
    return out.fail(o, "trust", trust.refusal_inside_run(run_id, "`sidecar trust`"), EXIT_FAILURE)
  end
  return grant(o, repo, st, tasks)
end

return M
