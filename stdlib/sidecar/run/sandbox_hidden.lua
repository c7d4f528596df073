--- What a run's sandbox keeps from its agent: secret files and folders (the user's keys and cloud
--- credentials, the repository's `.env*` and private keys, the machine's own keys) and the
--- variables of Sidecar's environment that an allow-list does not name. The agent may still be given
--- what the task needs: `isolation.read` (paths) and `isolation.env` (names) in .agent/config.lua.
---
---   local hide = sandbox_hidden.paths({home = HOME, repos = {top, worktree}, skip = {".agent"}, read = {...}})
---   -- hide.dirs, hide.files, hide.entries (every folder of each repository is read: no cap)
---   local withheld = sandbox_hidden.env(env, keep)   -- names set to false in `env` (unset)
local host = require("sidecar.host.sandbox")
local paths = require("sidecar.host.paths")
local within = require("sidecar.run.sandbox_view").within

local M = {}

---Folders of a home that hold keys, tokens or a browser's cookies: hidden whole.
M.HOME_DIRS = { ".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".kube", ".docker", ".password-store",
  ".config/gh", ".config/hub", ".terraform.d", ".local/share/keyrings", ".mozilla", ".config/google-chrome",
  ".config/chromium", ".config/BraveSoftware", ".pki", ".config/rclone", ".config/op", ".vault",
  -- where password managers' SSH agents and container engines keep their sockets (an engine is the host)
  ".1password", ".colima", ".lima", ".rd", ".orbstack", ".local/share/containers", ".var/app/com.bitwarden.desktop" }
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
  ".zsh_history", ".python_history", ".psql_history", ".mysql_history", ".lesshst", ".viminfo",
  ".bitwarden-ssh-agent.sock" }
---The machine's own secrets (readable by an agent of root's).
M.SYSTEM_FILES = { "/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/munge/munge.key",
  "/etc/slurm/slurmdbd.conf" }
---The sockets of the machine's own engines and servers that lie outside the private /run, /tmp and
---/var/tmp: a container or package daemon that answers there is the host (LXD and Incus, MicroK8s'
---containerd, Nix's daemon), a database its data (MySQL where RHEL puts its socket). Covered like a
---socket found in the repository, unless isolation.read names one.
M.SYSTEM_SOCKETS = { "/var/snap/lxd/common/lxd/unix.socket", "/var/lib/lxd/unix.socket", "/var/lib/incus/unix.socket",
  "/var/snap/microk8s/common/run/containerd.sock", "/nix/var/nix/daemon-socket/socket", "/var/lib/mysql/mysql.sock" }
---Folders never looked through for secret files: packages that came from elsewhere.
M.SKIP = { "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache" }

---The variables of Sidecar's environment an agent is given (an allow-list: everything else is
---withheld, and the run's record names it): where it is and who for, the locale and terminal, the
---XDG folders, the toolchains' own variables (their folders are shown read-only:
---sidecar.run.sandbox_home) and the certificates a TLS-inspecting network needs. A name ending in
---`*` stands for every name that begins with what comes before it. A runner adds the variables its
---CLI reads (RunnerSpec.env_names, sandbox_env), `isolation.env` adds more, and what the run sets
---itself (a runner's `env`) is always given. Not here, so withheld unless listed: the session's
---sockets and programs (SSH_AUTH_SOCK, DOCKER_HOST, DBUS_SESSION_BUS_ADDRESS, DISPLAY, TMUX,
---XDG_RUNTIME_DIR, an editor's server), proxies (their URLs may hold a password), LD_PRELOAD and
---LD_LIBRARY_PATH, and every secret a variable holds, whatever its name (DATABASE_URL, SENTRY_DSN).
M.ENV = { "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "COLORTERM",
  "NO_COLOR", "TERMINFO", "TERMINFO_DIRS", "TMPDIR", "EDITOR", "VISUAL", "PAGER", "EMAIL",
  "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
  "GIT_COMMITTER_DATE",
  "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_DIRS",
  "GOPATH", "GOROOT", "GOBIN", "GOMODCACHE", "GOCACHE", "GOTOOLCHAIN", "CARGO_HOME", "RUSTUP_HOME",
  "RUSTUP_TOOLCHAIN", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
  "PIPX_HOME", "UV_CACHE_DIR", "NVM_DIR", "NVM_BIN", "VOLTA_HOME", "PNPM_HOME", "BUN_INSTALL", "DENO_DIR",
  "JAVA_HOME", "GEM_HOME", "GEM_PATH", "RBENV_ROOT", "ASDF_DIR", "ASDF_DATA_DIR", "SDKMAN_DIR",
  "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONIOENCODING",
  "PYTHONUTF8", "RUST_BACKTRACE",
  "SSL_CERT_FILE", "SSL_CERT_DIR", "NIX_SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
  "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "AWS_CA_BUNDLE", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
  "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "HTTPLIB2_CA_CERTS", "PIP_CERT", "NPM_CONFIG_CAFILE", "CARGO_HTTP_CAINFO" }

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
  return st ~= nil and (st.kind == "symlink" or can(st, st.kind == "other" and 2 or 4)) -- a socket: connect writes
end

-- Adds `path` to the list to hide, unless the task may read it after all (it or a folder above it
-- is in `read`) or the agent could not reach it anyway.
local function add(list, path, read)
  if not within(path, read) and reachable(path) then
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
      if real and kind(real) == want and not (skip_own and (mine[p] or mine[real])) and not within(p, read) then
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

---The secret files, folders and sockets of the folder tree `repo`, never entering M.SKIP and
---`skip` (relative or by name): sidecar.host.sandbox.secret_files's. This process remembers the
---search, so the next one of the same tree (here, or in a process forked after it: a preset's
---pool searches before it forks its workers) reads again only the folders that changed.
---@param repo string
---@param skip? string[]
---@return table
function M.search(repo, skip)
  local list = { table.unpack(M.SKIP) }
  table.move(skip or {}, 1, #(skip or {}), #list + 1, list)
  return host.secret_files(repo, list)
end

---The secret paths of a run's sandbox: {dirs, files (Unix sockets found there too), sockets (how
---many of them), entries, reused (folders taken from the last search: M.search)}. o: home (nil: not looked
---at), repos (folders to look through: the main checkout, the worktree), skip (folders there
---never entered, relative or by name), read (absolute paths, or relative to each repository, or
---"~/…": shown all the same), own (the paths of the runner's own CLI state: not hidden, a folder of
---the run's covers them), hide (absolute or "~/…" paths hidden as well: isolation.hide). A folder or
---file of the home reached through a link is hidden where the link leads (a stowed ~/.ssh).
---@param o {home: string?, repos: string[], skip: string[]?, read: string[]?, own: string[]?, hide: string[]?}
---@return {dirs: string[], files: string[], sockets: integer, entries: integer, reused: integer}
function M.paths(o)
  local out = { dirs = {}, files = {}, sockets = 0, entries = 0, reused = 0 }
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
  for _, h in ipairs(o.hide or {}) do -- isolation.hide: where it really is, whatever isolation.read says
    local real = kind(expand(h, o.home)) and paths.real(expand(h, o.home))
    local k = real and reachable(real) and kind(real) -- what the user cannot reach, the agent cannot either
    if k == "directory" then
      out.dirs[#out.dirs + 1] = real
    elseif k then
      out.files[#out.files + 1] = real
    end
  end
  for _, f in ipairs(M.SYSTEM_SOCKETS) do
    if kind(f) == "other" then -- a socket
      local before = #out.files
      add(out.files, f, read)
      out.sockets = out.sockets + #out.files - before
    end
  end
  for _, name in ipairs(paths.entries("/etc/ssh") or {}) do
    if name:match("^ssh_host_.*_key$") then
      add(out.files, "/etc/ssh/" .. name, read)
    end
  end
  for _, repo in ipairs(o.repos or {}) do
    local found = M.search(repo, o.skip) -- the whole tree, however large: no cap
    out.entries, out.reused = out.entries + found.entries, out.reused + found.reused
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
    for _, f in ipairs(found.sockets) do -- a server's socket: not connectable unless isolation.read names it
      local before = #out.files
      add(out.files, f, read)
      out.sockets = out.sockets + #out.files - before
    end
  end
  return out
end

-- Whether a name is one of `list` (names, and prefixes ending in `*`): a function of the name. The
-- names are looked up at once, the prefixes (few) tried in turn.
local function listed(list)
  local names, prefixes = {}, {}
  for _, n in ipairs(list) do
    if n:sub(-1) == "*" then
      prefixes[#prefixes + 1] = n:sub(1, -2)
    else
      names[n] = true
    end
  end
  return function(name)
    if names[name] then
      return true
    end
    for _, p in ipairs(prefixes) do
      if name:sub(1, #p) == p then
        return true
      end
    end
    return false
  end
end

---Withholds from the agent every variable of Sidecar's environment that M.ENV and `keep` (the
---runner's and isolation.env's names or `PREFIX*`s) do not name: each one that `env` (the agent's
---additions, changed in place) does not set itself is set to false there (unset). Returns the names
---withheld, sorted.
---@param env table
---@param keep string[]
---@return string[]
function M.env(env, keep)
  local withheld, shown, kept = {}, listed(M.ENV), listed(keep or {})
  for _, name in ipairs(host.environ()) do
    if env[name] == nil and not shown(name) and not kept(name) then
      env[name] = false
      withheld[#withheld + 1] = name
    end
  end
  return withheld
end

return M
