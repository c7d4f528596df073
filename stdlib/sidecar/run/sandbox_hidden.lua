--- What a run's sandbox keeps from its agent: secret files and folders (the user's keys and cloud
--- credentials, the repository's `.env*` and private keys, the machine's own keys) and variables
--- of Sidecar's environment whose names say they hold a secret. The agent may still be given one
--- the task needs: `isolation.read` (paths) and `isolation.env` (names) in .agent/config.lua.
---
---   local hide = sandbox_hidden.paths({home = HOME, repos = {top, worktree}, skip = {".agent"}, read = {...}})
---   -- hide.dirs, hide.files, hide.entries (every folder of each repository is read: no cap)
---   local withheld = sandbox_hidden.env(env, keep)   -- names set to false in `env` (unset)
local host = require("sidecar.host.sandbox")
local paths = require("sidecar.host.paths")

local M = {}

---Folders of a home that hold keys, tokens or a browser's cookies: hidden whole.
M.HOME_DIRS = { ".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".kube", ".docker", ".password-store",
  ".config/gh", ".config/hub", ".terraform.d", ".local/share/keyrings", ".mozilla", ".config/google-chrome",
  ".config/chromium", ".config/BraveSoftware", ".pki", ".config/rclone", ".config/op", ".vault" }
---Agent CLIs' own folders and files in a home: their logins and every transcript of every
---project. Hidden from every agent but the runner's own CLI, which sees a folder of its run's
---there instead (stdlib/sidecar/run/sandbox_state.lua).
M.CLI_DIRS = { ".claude", ".codex", ".gemini", ".qwen", ".copilot", ".cursor", ".kiro", ".config/opencode",
  ".local/share/opencode", ".config/goose", ".local/share/goose", ".config/github-copilot", ".config/claude" }
M.CLI_FILES = { ".claude.json", ".claude.json.backup" }
---Files of a home that hold credentials.
M.HOME_FILES = { ".netrc", ".git-credentials", ".npmrc", ".pypirc", ".cargo/credentials", ".cargo/credentials.toml",
  ".gem/credentials", ".m2/settings.xml", ".config/git/credentials", ".pgpass", ".my.cnf", ".boto", ".s3cfg",
  ".terraformrc", ".dockercfg", ".vault-token", ".yarnrc.yml", ".config/pip/pip.conf", ".bash_history",
  ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".lesshst", ".viminfo" }
---The machine's own secrets (readable by an agent of root's).
M.SYSTEM_FILES = { "/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/munge/munge.key",
  "/etc/slurm/slurmdbd.conf" }
---Folders never looked through for secret files: packages that came from elsewhere.
M.SKIP = { "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache" }

---Variables that lead to a socket or a program of the user's session (an SSH or GPG agent, a
---container engine, the desktop's bus and display, a terminal multiplexer, an editor): withheld
---from every agent unless isolation.env names them.
M.SESSION_ENV = { "SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO", "DBUS_SESSION_BUS_ADDRESS", "DOCKER_HOST",
  "CONTAINER_HOST", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "TMUX", "TMUX_PANE", "STY", "KITTY_LISTEN_ON",
  "NVIM", "NVIM_LISTEN_ADDRESS", "VSCODE_IPC_HOOK_CLI", "VSCODE_GIT_IPC_HANDLE", "GIT_ASKPASS", "SSH_ASKPASS",
  "XDG_RUNTIME_DIR", "WEZTERM_UNIX_SOCKET", "ZELLIJ_SESSION_NAME", "EMACS_SOCKET_NAME" }
---Variables a runner's CLI needs whatever their names say (its own API key).
M.RUNNER_ENV = {
  codex = { "OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AZURE_OPENAI_API_KEY" },
  claude = { "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_BEARER_TOKEN_BEDROCK" },
}

local function kind(path)
  local st = paths.lstat(path)
  return st and st.kind
end

local function expand(p, home)
  if home and (p == "~" or p:sub(1, 2) == "~/") then
    return home .. p:sub(2)
  end
  return p
end

-- Whether `path` is one the task may read after all (it or a folder above it is listed).
local function allowed(path, read)
  for _, r in ipairs(read) do
    if path == r or path:sub(1, #r + 1) == r .. "/" then
      return true
    end
  end
  return false
end

local uid, gid = host.uid()

-- Whether a process of the sandbox could open `path` at all: in its user namespace only this
-- process's own user and group are mapped and it has no capabilities, so another user's file is
-- reached through its "other" bits alone (bwrap cannot even cover what it cannot reach).
local function reachable(path)
  local function can(st, bit) -- bit: 4 read, 1 search
    return (st.uid == uid and st.mode & (bit * 64) ~= 0) or (st.gid == gid and st.mode & (bit * 8) ~= 0)
      or st.mode & bit ~= 0
  end
  local at = ""
  for part in path:gmatch("[^/]+") do
    local dir = paths.lstat(at == "" and "/" or at)
    if not (dir and can(dir, 1)) then
      return false
    end
    at = at .. "/" .. part
  end
  local st = paths.lstat(path)
  return st ~= nil and (st.kind == "symlink" or can(st, 4))
end

local function add(list, path, read)
  if not allowed(path, read) and reachable(path) then
    list[#list + 1] = path
  end
end

-- The home's secret folders and files, and the agent CLIs' but the runner's own (`own`), each
-- where it really is: a link (GNU stow, chezmoi) is followed, and what it leads to is hidden.
local function home_paths(out, home, read, own)
  local mine = {}
  for _, p in ipairs(own) do
    mine[p] = true
  end
  local function each(list, want, into, skip_own)
    for _, rel in ipairs(list) do
      local p = home .. "/" .. rel
      local real = kind(p) and paths.real(p)
      if real and kind(real) == want and not (skip_own and (mine[p] or mine[real])) and not allowed(p, read) then
        add(into, real, read)
      end
    end
  end
  each(M.HOME_DIRS, "directory", out.dirs)
  each(M.HOME_FILES, "file", out.files)
  each(M.CLI_DIRS, "directory", out.dirs, true)
  each(M.CLI_FILES, "file", out.files, true)
end

-- Of the secret-looking files and folders found in a repository, those git tracks (a folder: that
-- holds a tracked file): {[path] = true}. Their contents are in the repository's objects, which the
-- agent reads anyway; hiding them would only make `git commit -a` fail or stage them emptied.
local function tracked_of(repo, found)
  local rel, by_rel = {}, {}
  for _, list in ipairs({ found.folders, found.files }) do
    for _, p in ipairs(list) do
      if p:sub(1, #repo + 1) == repo .. "/" then
        rel[#rel + 1] = p:sub(#repo + 2)
        by_rel[rel[#rel]] = p
      end
    end
  end
  local tracked = {}
  if #rel == 0 then
    return tracked
  end
  local r = require("sidecar.core.git").open(repo) -- in-process: no git runs for it
  local found = r and r:tracked(rel)
  if r then
    r:close()
  end
  for name in pairs(found or {}) do
    tracked[by_rel[name]] = true
  end
  return tracked
end

---The secret paths of a run's sandbox: {dirs, files, entries}. o: home (nil: not looked
---at), repos (folders to look through: the main checkout, the worktree), skip (folders there
---never entered, relative or by name), read (absolute paths, or relative to each repository, or
---"~/…": shown all the same), own (the paths of the runner's own CLI state: not hidden, a folder of
---the run's covers them). A folder or file of the home reached through a link is hidden where the
---link leads (a stowed ~/.ssh).
---@param o {home: string?, repos: string[], skip: string[]?, read: string[]?, own: string[]?}
---@return {dirs: string[], files: string[], entries: integer}
function M.paths(o)
  local out = { dirs = {}, files = {}, entries = 0 }
  local read = {}
  for _, r in ipairs(o.read or {}) do
    r = expand(r, o.home)
    if r:sub(1, 1) == "/" then
      read[#read + 1] = r
    else
      for _, repo in ipairs(o.repos or {}) do
        read[#read + 1] = repo .. "/" .. r
      end
    end
  end
  if o.home then
    home_paths(out, o.home, read, o.own or {})
  end
  for _, f in ipairs(M.SYSTEM_FILES) do
    if kind(f) == "file" then
      add(out.files, f, read)
    end
  end
  for _, name in ipairs(paths.entries("/etc/ssh") or {}) do
    if name:match("^ssh_host_.*_key$") then
      add(out.files, "/etc/ssh/" .. name, read)
    end
  end
  local skip = { table.unpack(M.SKIP) }
  for _, s in ipairs(o.skip or {}) do
    skip[#skip + 1] = s
  end
  for _, repo in ipairs(o.repos or {}) do
    local found = host.secret_files(repo, skip) -- the whole tree, however large: no cap
    out.entries = out.entries + found.entries
    local tracked = tracked_of(repo, found)
    for _, d in ipairs(found.folders) do
      if not tracked[d] then
        add(out.dirs, d, read)
      end
    end
    for _, f in ipairs(found.files) do
      if not tracked[f] then
        add(out.files, f, read)
      end
    end
  end
  return out
end

---Withholds the secret-looking variables of Sidecar's environment, and those of M.SESSION_ENV,
---from the agent: each one that `env` (the agent's additions, changed in place) does not set and
---`keep` does not name is set to false there (unset). Returns the names withheld, sorted.
---@param env table
---@param keep string[]
---@return string[]
function M.env(env, keep)
  local kept = {}
  for _, name in ipairs(keep or {}) do
    kept[name] = true
  end
  local withheld, names = {}, host.secret_environ()
  for _, name in ipairs(M.SESSION_ENV) do
    if os.getenv(name) then
      names[#names + 1] = name
    end
  end
  for _, name in ipairs(names) do
    if env[name] == nil and not kept[name] then
      env[name] = false
      withheld[#withheld + 1] = name
    end
  end
  table.sort(withheld)
  return withheld
end

return M
