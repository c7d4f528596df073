--- Trust: a repository's code runs only after its user said so. A cloned repository may carry
--- `.agent/config.lua` (Lua, which may point a runner at any program or set commands that run
--- in every worktree) and `.agent/presets/*.lua` (Lua with everything in reach). Sidecar runs
--- them only once `sidecar trust` recorded each file's SHA-256 for the repository's real path in
--- the user's state folder ($XDG_STATE_HOME/sidecar/trust.json); a file edited or added since
--- is not run until it is trusted again. Git does the same with a clone's hooks, direnv with
--- `direnv allow`, mise with `mise trust`. The other Lua files of the repository are recorded
--- too: trusted code loads them only as recorded (sidecar.core.trust_guard).
---
---   local ok, state = trust.allows(".", ".agent/config.lua", text)  -- true | false, "new" | "changed"
---   trust.status(".")   -- {repo, everything, trusted, trusted_by, files = {{path, kind, sha256, state}...}, removed}
---   trust.grant(".")    -- records every file that runs code, as it is now, and who did
---
--- Checks take the text the caller is about to run (read once, hashed, then run) so a file
--- swapped in between is never run. SIDECAR_TRUST=all trusts everything: for CI and tests, on
--- repositories they made themselves.
---
--- A task's validation commands run after each of its runs, so they are code too; a clone may
--- carry tasks in `.agent/` (its store, or the JSON copies `store check` imports), and a pull may
--- change a copy. Trust records the SHA-256 of each task's commands as this user made them
--- (`task create`, `task import`: record_validation) or reviewed them (`sidecar trust`), and
--- `allows_validation` lets only those run.
local digest = require("sidecar.host.digest")
local hostlock = require("sidecar.host.lock")
local paths = require("sidecar.host.paths")
local htime = require("sidecar.host.time")
local json = require("sidecar.core.json")

local M = {}

M.ENV = "SIDECAR_TRUST"
M.RUN_ENV = "SIDECAR_RUN_ID" -- set in every agent's environment by the run that started it
M.FILE = "trust.json"
M.VERSION = 1
M.MAX_MODULES = 5000 -- Lua files of a repository looked at by `sidecar trust`
-- Folders of .agent that hold Sidecar's records and worktrees, not code.
local AGENT_DATA = { runs = true, worktrees = true, tasks = true, sessions = true, presets = true }

local LOCK_WAIT_MS = 10000
local policy -- set_policy's answer for this process; nil: the environment decides
local state_dir_override -- use_state_dir's folder; nil: the user's state folder
local reporter -- on_untrusted's function

---Whether everything is trusted: SIDECAR_TRUST=all, or set_policy("all") in this process.
---@return boolean
function M.everything()
  if policy ~= nil then
    return policy == "all"
  end
  return os.getenv(M.ENV) == "all"
end

---For tests and programs that embed Sidecar on repositories they vet themselves: "all" trusts
---everything in this process (as SIDECAR_TRUST=all does), "none" nothing beyond what was
---granted, nil hands the decision back to the environment.
---@param mode? "all"|"none"
function M.set_policy(mode)
  assert(mode == nil or mode == "all" or mode == "none", "trust.set_policy: expected \"all\", \"none\" or nil")
  policy = mode
end

---Sets the function told of each file that was not run because it is not trusted:
---fn({repo, path, state}). The command layer turns it into its one-line notice; library code
---only reports. Returns the previous one.
---@param fn? function
function M.on_untrusted(fn)
  local previous = reporter
  reporter = fn
  return previous
end

---For tests and embedders: keep the trust file in `dir` instead of the user's state folder
---(nil: back to it).
---@param dir? string
function M.use_state_dir(dir)
  state_dir_override = dir
end

---The trust file's path, or nil and why (no state folder).
function M.state_path()
  local dir, why = state_dir_override, nil
  if not dir then
    dir, why = paths.state_dir()
  end
  if not dir then
    return nil, why
  end
  return dir .. "/" .. M.FILE, nil, dir
end

---The key of a repository: its real path (links resolved), or nil, message, code.
---@param repo string  a folder
function M.repo_key(repo)
  return paths.real(repo)
end

-- A file of code as it would run (config.lua, a preset): a regular file of bounded size, else nil
-- (host/util/code_file.hpp: a FIFO or /dev/zero is never read).
local read_code = paths.read_code
local MAX_STATE_BYTES = 64 * 1024 * 1024 -- trust.json: a hash per file and per task

-- Only plain string-to-string entries of a decoded map (a hand-edited `[]` or a number where a
-- hash belongs would otherwise break the next write).
local function strings(map)
  local out = {}
  for k, v in pairs(type(map) == "table" and map or {}) do
    if type(k) == "string" and type(v) == "string" then
      out[k] = v
    end
  end
  return out
end

-- A path as a key of trust.json, whose keys are JSON strings (UTF-8): as it is, else (bytes that are
-- not UTF-8 in a folder's or a file's name, or a name that reads as such a key) "hex:" and its bytes.
local function stored_key(path)
  if require("sidecar.core.text").valid_utf8(path) and path:sub(1, 4) ~= "hex:" then
    return path
  end
  return "hex:" .. path:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
end

-- A key of trust.json as the path it stands for (stored_key's inverse).
local function path_of_key(key)
  local hex = key:match("^hex:(%x*)$")
  return hex and #hex % 2 == 0 and hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end) or key
end

-- `map` with each key passed through `fn` (stored_key or path_of_key).
local function rekeyed(map, fn)
  local out = {}
  for k, v in pairs(map) do
    out[type(k) == "string" and fn(k) or k] = v
  end
  return out
end

-- The recorded trust: {version, repositories = {[key] = {trusted_at, files = {[rel] = sha256},
-- validation = {[task_id] = sha256}}}}; nil and why when the file is there but not readable as
-- trust (nothing is trusted then).
local function read_state()
  local path, why = M.state_path()
  if not path then
    return nil, why
  end
  local text, unreadable, code = read_code(path, MAX_STATE_BYTES)
  if not text and code ~= "ENOENT" then
    return nil, unreadable .. " (remove it, then run `sidecar trust` again)"
  elseif not text then
    return { version = M.VERSION, repositories = {} }
  end
  local ok, state = json.try_decode(text)
  if not ok or type(state) ~= "table" or type(state.repositories) ~= "table" then
    return nil, path .. ": not a trust file Sidecar wrote (remove it, then run `sidecar trust` again)"
  end
  local repos = {}
  for key, entry in pairs(state.repositories) do
    if type(key) == "string" and type(entry) == "table" and type(entry.files) == "table" then
      repos[path_of_key(key)] = { trusted_at = type(entry.trusted_at) == "string" and entry.trusted_at or nil,
        trusted_by = type(entry.trusted_by) == "string" and entry.trusted_by or nil,
        files = rekeyed(strings(entry.files), path_of_key), validation = strings(entry.validation) }
    end
  end
  return { version = M.VERSION, repositories = repos }
end

-- The recorded hashes of a repository's files and tasks ({} when none), and its entry.
local function recorded(key)
  local state = read_state()
  local entry = state and state.repositories[key]
  return entry and entry.files or {}, entry, entry and entry.validation or {}
end

-- Who records trust: the user's name, uid and machine ("ana (uid 1000) on box"), for `trust
-- --show`. The trust file is the user's own: this says which account wrote an entry, and is no
-- proof against a process of that account that rewrites the file (docs/security.md).
local function who()
  local name = os.getenv("USER") or os.getenv("LOGNAME") or "?"
  local ok, uid = pcall(function()
    return require("sidecar.host.sandbox").uid()
  end)
  local host = (require("sidecar.core.files").read("/proc/sys/kernel/hostname") or ""):match("^%s*(.-)%s*$")
  return ("%s (uid %s)%s"):format(name, ok and tostring(uid) or "?", host ~= "" and (" on " .. host) or "")
end

---The run this process belongs to (an agent, or a command an agent started), from SIDECAR_RUN_ID;
---nil outside runs. `getenv` stands in for os.getenv (tests).
---@param getenv? fun(name: string): string?
---@return string|nil run_id
function M.inside_run(getenv)
  local id = (getenv or os.getenv)(M.RUN_ENV)
  return id ~= "" and id or nil
end

---Why `what` (trusting code, recording a task's commands as this user's) is refused inside run
---`run_id`. A courtesy, not a bound: an agent can unset the variable; what stops a hostile one is
---its OS sandbox, in which the trust file is read-only.
---@param run_id string
---@param what string
function M.refusal_inside_run(run_id, what)
  return ("%s is refused inside a Sidecar run (%s): an agent cannot trust code, its own or anyone's; the "
    .. "person who reviews the run does, from their own shell (sidecar trust --show, then sidecar trust)")
    :format(what, run_id)
end

---How Sidecar treats a file trust records: "config" (.agent/config.lua), "preset"
---(.agent/presets/NAME.lua), or "module" (a Lua file trusted code may load).
---@param rel string
function M.kind(rel)
  if rel == ".agent/config.lua" then
    return "config"
  elseif rel:match("^%.agent/presets/[^/]+%.lua$") then
    return "preset"
  end
  return "module"
end

local function report(info)
  if reporter then
    reporter(info)
  end
end

---The files of `repo` that run code when Sidecar reads them, relative to it: `.agent/config.lua`,
---then `.agent/presets/*.lua`, then the Lua files they may load (module_files), each part sorted.
---@param repo string
---@return string[]
function M.code_files(repo)
  -- What is there and is no folder: a FIFO or a device is listed too (as unreadable, by status).
  local function there(path)
    return paths.real(path) ~= nil and paths.entries(path) == nil
  end
  local out = {}
  if there(repo .. "/.agent/config.lua") then
    out[1] = ".agent/config.lua"
  end
  -- Every name a preset could be loaded by, symbolic links included (the content is what is
  -- hashed, wherever it lives).
  for _, name in ipairs(paths.entries(repo .. "/.agent/presets") or {}) do
    if name:match("%.lua$") and there(repo .. "/.agent/presets/" .. name) then
      out[#out + 1] = ".agent/presets/" .. name
    end
  end
  local listed = {}
  for _, rel in ipairs(out) do
    listed[rel] = true
  end
  for _, rel in ipairs(M.module_files(repo)) do
    if not listed[rel] then
      out[#out + 1] = rel
    end
  end
  return out
end

---The other Lua files of `repo` that trusted code may load (`require` through a package.path into
---the repository, `dofile`, `loadfile`): the repository's own *.lua files (tracked or not, as git
---lists them, ignored ones aside) and those under .agent/ outside its records. Relative, sorted.
---Why all of them rather than those a dry load of each preset touches: a preset may require a
---module only on one branch of its code, so a dry load would miss it, and the next run would be
---refused after all; listing every Lua file git knows is sound and cheap. A file not listed
---(ignored, beyond MAX_MODULES, deeper than six folders under .agent) is refused when loaded.
---@param repo string
---@return string[]
function M.module_files(repo)
  local out, seen = {}, {}
  local function add(rel)
    if #out < M.MAX_MODULES and not seen[rel] and rel:match("%.lua$") then
      seen[rel] = true
      out[#out + 1] = rel
    end
  end
  local r = require("sidecar.core.proc").run({ "git", "-C", repo, "ls-files", "-z", "-co", "--exclude-standard", "--",
    "*.lua" }, { timeout_ms = 20000, stderr = false })
  for rel in ((r.code == 0 and r.stdout) or ""):gmatch("[^%z]+") do
    if not rel:match("^%.agent/") then
      add(rel)
    end
  end
  local function walk(rel, depth)
    for _, name in ipairs(paths.entries(repo .. "/" .. rel) or {}) do
      local child = rel .. "/" .. name
      local st = paths.lstat(repo .. "/" .. child)
      if st and st.kind == "directory" and depth < 6 and not (depth == 1 and AGENT_DATA[name]) then
        walk(child, depth + 1)
      elseif st and st.kind ~= "directory" and child ~= ".agent/config.lua" then
        add(child)
      end
    end
  end
  walk(".agent", 1)
  table.sort(out)
  return out
end

---Whether the file `rel` of `repo`, whose content is `text`, may run. Returns true, or false
---and its state: "new" (never trusted) or "changed" (trusted with other content), or
---"unknown" (the repository's path or the trust file cannot be read). A file not trusted is
---reported to the on_untrusted function.
---@param repo string  the folder holding `.agent`
---@param rel string  the file, relative to it (".agent/config.lua")
---@param text string  the content about to run
---@return boolean ok, string? state
function M.allows(repo, rel, text)
  if M.everything() then
    return true
  end
  local key = M.repo_key(repo)
  local state = "unknown"
  if key then
    local hash = recorded(key)[rel]
    if hash == digest.sha256(text) then
      return true
    end
    state = hash and "changed" or "new"
  end
  report({ repo = key or repo, path = rel, state = state })
  return false, state
end

---The SHA-256 trust records for the validation commands of `task` (a task record), or nil when
---it has none.
---@param task table
---@return string|nil
function M.validation_hash(task)
  local e = type(task) == "table" and type(task.execution) == "table" and type(task.execution.commands) == "table"
    and task.execution.commands.validation
  if type(e) ~= "table" or next(e) == nil then
    return nil
  end
  local ok, text = pcall(json.encode, e)
  return digest.sha256(ok and text or "unencodable: " .. tostring(text))
end

---How a task's validation commands are named in trust's reports and notice.
---@param task_id string
function M.task_label(task_id)
  return ("task %s (its validation commands)"):format(tostring(task_id))
end

---Whether the validation commands of `task`, a task of the store in `repo`/.agent, may run:
---true when it has none, under SIDECAR_TRUST=all, or when they are as trust recorded them; else
---false and "new" (never trusted: from a clone, or imported from a copy), "changed" (edited
---outside Sidecar since) or "unknown", reported to the on_untrusted function.
---@param repo string
---@param task table
---@return boolean ok, string? state
function M.allows_validation(repo, task)
  local hash = M.validation_hash(task)
  if not hash or M.everything() then
    return true
  end
  local key = M.repo_key(repo)
  local state = "unknown"
  if key then
    local known = select(3, recorded(key))[task.task_id]
    if known == hash then
      return true
    end
    state = known and "changed" or "new"
  end
  report({ repo = key or repo, path = M.task_label(task.task_id), state = state, task_id = task.task_id })
  return false, state
end

---What runs code in `repo` and whether it is trusted:
---{repo (its real path), everything (SIDECAR_TRUST=all), trusted (every file and task trusted, no
---file removed), trusted_at, trusted_by (who recorded it: "name (uid N) on host"), files = {{path,
---kind (M.kind), sha256, state = "trusted"|"changed"|"new"|"unreadable", why?}...} (unreadable: a
---FIFO, device or folder, or too large; never run nor trusted),
---removed = {paths trusted once and gone}, tasks = {{task_id, sha256, state}...} (those of
---`tasks`, the store's task records, that have validation commands)}. nil, message when the
---folder cannot be resolved.
---@param repo string
---@param tasks? table[]
function M.status(repo, tasks)
  local key, why = M.repo_key(repo)
  if not key then
    return nil, why
  end
  local hashes, entry, validated = recorded(key)
  local out = { repo = key, everything = M.everything(), trusted = true, files = {}, removed = {}, tasks = {},
    trusted_at = entry and entry.trusted_at or nil, trusted_by = entry and entry.trusted_by or nil }
  for _, task in ipairs(tasks or {}) do
    local hash = M.validation_hash(task)
    if hash then
      local known = validated[task.task_id]
      local state = known == nil and "new" or (known == hash and "trusted" or "changed")
      out.tasks[#out.tasks + 1] = { task_id = task.task_id, sha256 = hash, state = state }
      out.trusted = out.trusted and state == "trusted"
    end
  end
  table.sort(out.tasks, function(a, b)
    return tostring(a.task_id) < tostring(b.task_id)
  end)
  local present = {}
  for _, rel in ipairs(M.code_files(key)) do
    -- A FIFO, a device, a folder or a file too large is never read, run or trusted: "unreadable".
    local text, why = read_code(key .. "/" .. rel)
    local hash = text and digest.sha256(text)
    local state = not text and "unreadable" or hashes[rel] == nil and "new" or (hashes[rel] == hash and "trusted"
      or "changed")
    out.files[#out.files + 1] = { path = rel, kind = M.kind(rel), sha256 = hash or "-", state = state, why = why }
    out.trusted = out.trusted and state == "trusted"
    present[rel] = true
  end
  for rel in pairs(hashes) do
    if not present[rel] then
      out.removed[#out.removed + 1] = rel
      out.trusted = false
    end
  end
  table.sort(out.removed)
  return out
end

-- Runs change(state) on the trust file under its lock and writes the result atomically.
local function update(change)
  local path, why, dir = M.state_path()
  if not path then
    return nil, why
  end
  local made, bad = paths.make_dirs(dir)
  if not made then
    return nil, bad
  end
  local lock, lock_why
  local deadline = htime.monotonic_ns() + LOCK_WAIT_MS * 1000000
  repeat
    lock, lock_why = hostlock.try(dir .. "/trust.lock")
    if not lock then
      htime.sleep_ms(20)
    end
  until lock or htime.monotonic_ns() > deadline
  if not lock then
    return nil, ("cannot update %s: %s"):format(path, tostring(lock_why))
  end
  local state, read_why = read_state()
  if not state then
    lock:release()
    return nil, read_why
  end
  change(state)
  local stored = {}
  for key, entry in pairs(state.repositories) do
    stored[stored_key(key)] = { trusted_at = entry.trusted_at, trusted_by = entry.trusted_by,
      files = rekeyed(entry.files or {}, stored_key), validation = entry.validation }
  end
  local d, open_why = require("sidecar.host.artifact").open(dir, false)
  local ok, write_why = false, open_why
  if d then
    ok, write_why = d:write(M.FILE, json.encode({ version = M.VERSION, repositories = stored }, { indent = 2 }) .. "\n")
    d:close()
  end
  lock:release()
  if not ok then
    return nil, ("cannot write %s: %s"):format(path, tostring(write_why))
  end
  return true
end

-- Runs change(entry) on `repo`'s entry of the trust file (made empty when there is none), leaving
-- the other repositories and the entry's other parts as they were.
local function update_entry(repo, change)
  local key, why = M.repo_key(repo)
  if not key then
    return nil, why
  end
  return update(function(state)
    local entry = state.repositories[key] or { files = {}, validation = {} }
    state.repositories[key] = entry
    change(entry)
  end)
end

---Trusts every file of `repo` that runs code and the validation commands of `tasks` (the
---store's tasks), as they are now (what was trusted before and is gone now is forgotten).
---Returns the status after, or nil and why.
---@param repo string
---@param tasks? table[]
function M.grant(repo, tasks)
  local before, why = M.status(repo, tasks)
  if not before then
    return nil, why
  end
  local files, validation = {}, {}
  for _, f in ipairs(before.files) do
    files[f.path] = f.state ~= "unreadable" and f.sha256 or nil
  end
  for _, t in ipairs(before.tasks) do
    validation[t.task_id] = t.sha256
  end
  local ok, bad = update(function(state)
    state.repositories[before.repo] = { trusted_at = os.date("!%Y-%m-%dT%H:%M:%SZ"), trusted_by = who(),
      files = files, validation = validation }
  end)
  if not ok then
    return nil, bad
  end
  return M.status(repo, tasks)
end

---Trusts the validation commands of `tasks` as they are now, leaving the rest of the
---repository's trust as it was: for tasks this user made through Sidecar (`task create`,
---`task import`). Returns true (also when none has commands), or nil and why.
---@param repo string
---@param tasks table[]
function M.record_validation(repo, tasks)
  local hashes = {}
  for _, task in ipairs(tasks) do
    hashes[task.task_id] = M.validation_hash(task)
  end
  if next(hashes) == nil then
    return true
  end
  return update_entry(repo, function(entry)
    for id, hash in pairs(hashes) do
      entry.validation[id] = hash
    end
  end)
end

---Trusts one file with the content Sidecar itself wrote there (`sidecar init`'s config.lua),
---leaving the repository's other files as they were. Returns true, or nil and why.
---@param repo string
---@param rel string
---@param text string
function M.record(repo, rel, text)
  return update_entry(repo, function(entry)
    entry.trusted_at, entry.trusted_by = os.date("!%Y-%m-%dT%H:%M:%SZ"), who()
    entry.files[rel] = digest.sha256(text)
  end)
end

---Forgets `repo`'s trust: none of its files runs until it is trusted again. Returns true and
---whether there was anything to forget, or nil and why.
---@param repo string
function M.revoke(repo)
  local key, why = M.repo_key(repo)
  if not key then
    return nil, why
  end
  local had = false
  local ok, bad = update(function(state)
    had = state.repositories[key] ~= nil
    state.repositories[key] = nil
  end)
  if not ok then
    return nil, bad
  end
  return true, had
end

return M
