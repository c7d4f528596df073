--- Every process an agent starts runs in an OS sandbox (bubblewrap), so the bounds of a run come
--- from the kernel, not from variables the agent could unset or a prompt it could ignore.
---
---   local sb, why, code = sandbox.open({settings = s, spec = runner, argv = argv, env = env, cwd = dir,
---                                       level = "workspace-write", run_dir = run_dir, store_root = root, ...})
---   proc.spawn(sb.argv, {env = env, fd3 = sb.report, term_ignored = true, ...})
---   local report = sb:finish()     -- how the agent ended, what it left (killed), what the network refused
---
--- What the agent can do inside (docs/security.md has the whole threat model):
---   - write only its worktree (a writing run) and its git folder, the files the run's folder takes
---     from it (codex's last message, the push log, hook events) and its CLI's state folder (whose
---     config, which could start code outside any run, stays read-only); read everything else but
---     the secret files (sidecar.run.sandbox_hidden) and a private /tmp, /var/tmp and /run;
---   - reach the network only as `network` says: "model" (default): the runner's model endpoints
---     and `isolation.hosts`, through Sidecar's proxy (host/sandbox/sandbox_proxy.hpp); "none": nothing;
---     "full": every host, through the same proxy, which records each connection (no other route out:
---     git://, ssh and raw sockets have none); "host": the host's network namespace, unrecorded;
---   - leave nothing running: its processes live in a pid namespace whose first process
---     (sandbox-init: `sidecar-sandbox-init` beside the binary, else `sidecar sandbox-init`,
---     sidecar.run.sandbox_host's init_command) reports and kills what the agent left, and dies
---     with the run's owner.
--- The sidecar binary inside sees the store and the trust file read-only: it cannot decide, apply,
--- trust or write anything.
---
--- Where bubblewrap cannot make namespaces (a container under Docker's default seccomp profile,
--- Ubuntu's AppArmor rule), the sandbox is the kernel's Landlock instead (sidecar.run.sandbox_landlock:
--- the same view where Landlock can give it; docs/security.md compares the two). `isolation.sandbox`
--- = "auto" (the default: bubblewrap, else Landlock, said in the run's events and record), "bwrap",
--- "landlock" or "off" (or --os-sandbox, or SIDECAR_OS_SANDBOX): "off" runs agents without one, and is
--- never chosen by itself; the run records that it was asked for.
local files = require("sidecar.core.files")
local folder = require("sidecar.run.sandbox_folder")
local hidden = require("sidecar.run.sandbox_hidden")
local isolation_settings = require("sidecar.core.isolation_settings")
local limits = require("sidecar.run.sandbox_limits")
local home = require("sidecar.run.sandbox_home")
local host = require("sidecar.host.sandbox")
local json = require("sidecar.core.json")
local memfile = require("sidecar.host.memfile")
local mounts = require("sidecar.run.sandbox_mounts")
local sandbox_git = require("sidecar.run.sandbox_git")
local state = require("sidecar.run.sandbox_state")
local paths = require("sidecar.host.paths")
local sandbox_host = require("sidecar.run.sandbox_host")
local program = require("sidecar.run.sandbox_program")
local landlock = require("sidecar.run.sandbox_landlock")
local view = require("sidecar.run.sandbox_view")
local real, within = view.real, view.within

local M = {}

M.MODES = {}
for _, name in ipairs(isolation_settings.SANDBOXES) do
  M.MODES[name] = true
end
M.NETWORKS = {}
for _, name in ipairs(isolation_settings.NETWORKS) do
  M.NETWORKS[name] = true
end
M.SETTLE_MS = 5000 -- what the agent left may take this long to end by itself (run_owner.SETTLE_MS)
M.ROOT_MAPPED_TO = 1000 -- the user id root is inside a sandbox (see sandbox_mounts)

local LOOPBACK = { ["127.0.0.1"] = true, localhost = true, ["::1"] = true, ["[::1]"] = true }

---The config's `isolation` for a run's OS sandbox: what worktree.copy brings into a run's worktree
---(`.env.local`, say) the agent may read, as isolation.read says of other secret files.
---@param cfg table
function M.isolation_of(cfg)
  local iso = {}
  for k, v in pairs(cfg.isolation or {}) do
    iso[k] = v
  end
  iso.read = { table.unpack(iso.read or {}) }
  for _, path in ipairs(type(cfg.worktree) == "table" and cfg.worktree.copy or {}) do
    iso.read[#iso.read + 1] = path
  end
  return iso
end

---The sandbox settings of a run: the config's `isolation` section, then a runner's own `network`,
---then the run's options (o.os_sandbox, o.network: --os-sandbox, --network, a task's `network`).
---SIDECAR_OS_SANDBOX=off turns it off for the whole process (o.os_sandbox wins over it). Returns
---{sandbox, network, hosts, read, write, env, hide, limits, forced_by?} or nil and why.
---@param iso table|nil  config's isolation section
---@param entry table|nil  the runner's config entry
---@param o table  {os_sandbox?, network?}
function M.settings(iso, entry, o)
  iso = iso or {}
  local s = { sandbox = iso.sandbox or "auto", network = iso.network or "model", hosts = iso.hosts or {},
    read = iso.read or {}, write = iso.write or {}, env = iso.env or {}, hide = iso.hide or {} }
  if entry and entry.network then
    s.network = entry.network
  end
  s.network = o.network or s.network
  local forced = os.getenv("SIDECAR_OS_SANDBOX")
  if forced and forced ~= "" then
    if not M.MODES[forced] then
      return nil, ("SIDECAR_OS_SANDBOX is '%s': it takes %s"):format(forced,
        table.concat(isolation_settings.SANDBOXES, ", "))
    end
    s.sandbox, s.forced_by = forced, "SIDECAR_OS_SANDBOX"
  end
  if o.os_sandbox then -- the run's own option wins over the machine's variable
    s.sandbox, s.forced_by = o.os_sandbox, "--os-sandbox"
  end
  if not M.MODES[s.sandbox] then
    return nil, ("os sandbox '%s' is not one of %s"):format(tostring(s.sandbox),
      table.concat(isolation_settings.SANDBOXES, ", "))
  end
  if not M.NETWORKS[s.network] then
    return nil, ("network '%s' is not one of %s"):format(tostring(s.network),
      table.concat(isolation_settings.NETWORKS, ", "))
  end
  for _, h in ipairs(s.hide) do
    if type(h) ~= "string" or not (h:sub(1, 1) == "/" or h == "~" or h:sub(1, 2) == "~/") then
      return nil, ("isolation.hide: %s: expected an absolute path or one in the home (\"~/...\")"):format(
        type(h) == "string" and ("%q"):format(h) or type(h))
    end
  end
  local why
  s.limits, why = limits.resolve(iso.limits) -- pids, memory, tmp (sidecar.run.sandbox_limits)
  if not s.limits then
    return nil, why
  end
  return s
end

---"host:port" pairs from a URL or "host[:port]" (443 when no port is given for https or a bare
---host, 80 for http). nil for what is not one.
---@param text string
---@return string|nil host, integer? port
function M.endpoint(text)
  local scheme, rest = text:match("^(%a[%w+.-]*)://(.+)$")
  rest = rest or text
  local hostport = rest:match("^[^/?#]+") or ""
  hostport = hostport:gsub("^.*@", "") -- user:password@
  local h, p = hostport:match("^(%[[%x:]+%]):(%d+)$")
  if not h then
    h, p = hostport:match("^([^:]+):(%d+)$")
  end
  h = h or hostport:match("^%[[%x:]+%]$") or hostport:match("^[^:]+$")
  if not h or h == "" then
    return nil
  end
  p = tonumber(p) or (scheme == "http" and 80 or 443)
  if p < 1 or p > 65535 then
    return nil
  end
  return (h:gsub("^%[(.*)%]$", "%1")), math.tointeger(p)
end

-- The network plan: {rules = {{host, port}}, forward = {ports}, proxy_env = bool, hosts = {"host:port"}}.
local function network_plan(o, settings)
  local plan = { rules = {}, forward = {}, proxy_env = false, hosts = {} }
  local seen = {}
  local function allow(text)
    local h, p = M.endpoint(text)
    if not h or seen[h .. ":" .. p] then
      return
    end
    seen[h .. ":" .. p] = true
    plan.hosts[#plan.hosts + 1] = h .. ":" .. p
    if LOOPBACK[h] then
      plan.rules[#plan.rules + 1] = { host = "127.0.0.1", port = p }
      plan.forward[#plan.forward + 1] = p
    else
      plan.rules[#plan.rules + 1] = { host = h, port = p }
      plan.proxy_env = true
    end
  end
  local endpoints = o.spec.sandbox_endpoints
  for _, e in ipairs(endpoints and endpoints(o.argv, o.env_of, o.home) or {}) do
    allow(e)
  end
  for _, h in ipairs(settings.hosts) do
    allow(h)
  end
  for _, h in ipairs(o.hosts or {}) do -- the run's own: a collector its agent exports telemetry to
    allow(h)
  end
  return plan
end

-- A value of the agent's environment: what the run sets, else Sidecar's own.
local function env_of(env)
  return function(name)
    local v = env[name]
    if v == false then
      return nil
    end
    return v or os.getenv(name)
  end
end

-- What sandbox-init's connect guard needs (host/sandbox/socket_guard.hpp): the sockets isolation.read
-- lists (a socket, or a folder of them) stay connectable; with the host's network, its abstract
-- sockets are the machine's, not the sandbox's.
local function socket_guard_args(o, settings, network)
  local args = {}
  for _, p in ipairs(settings.read) do
    local r = real((p:gsub("^~", o.home or "~")))
    if r then
      args[#args + 1], args[#args + 2] = "--socket-allow", r
    end
  end
  if network == "host" then
    args[#args + 1] = "--host-network"
  end
  return args
end

local Sandbox = {}
Sandbox.__index = Sandbox

-- sandbox-init's first arguments: its report, how long what the agent left may take, and the
-- network's way out (the proxy's socket as the agent's side sees it; loopback ports forwarded
-- where the sandbox has a network of its own).
local function init_args(o, sb, socket, net)
  local init = sandbox_host.init_command()
  table.move({ "--report-fd", "3", "--settle-ms", tostring(o.settle_ms or M.SETTLE_MS) }, 1, 4, #init + 1, init)
  if sb.proxy then
    table.move({ "--proxy", socket }, 1, 2, #init + 1, init)
    for _, port in ipairs(sb.kind == "bwrap" and net.forward or {}) do
      table.move({ "--forward", tostring(port) }, 1, 2, #init + 1, init)
    end
    if net.proxy_env then
      init[#init + 1] = "--proxy-env"
    end
  end
  return init
end

-- The command line of a Landlock sandbox (sidecar.run.sandbox_landlock): sandbox-init as the
-- agent's subreaper, the view as Landlock's rules. Sets sb.guarded; nil and why when it cannot be.
local function landlock_argv(o, sb, plan, net)
  local ll, why = landlock.plan({ plan = plan, dir = sb.dir, env = o.env, cli_state = o.cli_state,
    network = sb.network, ports = net.forward, abi = host.landlock_abi() })
  if not ll then
    return nil, why
  end
  sb.guarded, sb.rules = ll.guarded, ll.rules
  local argv = init_args(o, sb, sb.dir .. "/proxy.sock", net)
  table.move(sb.limits.init_args, 1, #sb.limits.init_args, #argv + 1, argv)
  -- the agent's grace when stopped: shorter than the watchdog's, whose SIGKILL would end sandbox-init first
  local grace = ("%d"):format(math.max(0, (o.kill_grace_ms or 2000) - 500))
  table.move({ "--subreaper", "--stop-grace-ms", grace }, 1, 3, #argv + 1, argv)
  table.move(ll.args, 1, #ll.args, #argv + 1, argv)
  return argv
end

-- The files of its private folder the sandbox writes, as it sees them, when that folder is in
-- memory (a tmpfs: nothing of the sandbox's own bounds them): bubblewrap's events file (bound at
-- its own path), the copies of a CLI's state files (bound over the user's; Landlock's used where
-- they are).
local function shared_in_memory(sb, cli_state)
  if not paths.in_memory(sb.dir) then
    return {}
  end
  local out = {}
  if within(sb.events_file, { sb.dir }) then
    out[1] = sb.events_file
  end
  for _, b in ipairs(cli_state and cli_state.binds or {}) do
    if not b.persistent then
      out[#out + 1] = sb.kind == "bwrap" and b.to or b.from
    end
  end
  return out
end

-- What a sandbox's search for secret files never enters in the checkout `repo_top`: the store,
-- by its path there (".agent" when it lies elsewhere).
local function store_skip(store_root, repo_top)
  return { store_root and repo_top and store_root:sub(1, #repo_top + 1) == repo_top .. "/"
    and store_root:sub(#repo_top + 2) or ".agent" }
end

---Searches the checkout `repo_top` for secret files as a sandbox opened in it with the store
---`store_root` would (M.open), and lists the PATH folders it may replace, so that the sandboxes
---opened next in this process, or in the processes it forks afterwards (a preset's pool of
---workers), read again only the folders that changed since (sidecar.run.sandbox_hidden.search,
---sidecar.run.sandbox_view.warm_path).
---@param repo_top string
---@param store_root string
function M.warm(repo_top, store_root)
  hidden.search(real(repo_top) or repo_top, store_skip(store_root, repo_top))
  view.warm_path(os.getenv("HOME"))
end

---Opens the sandbox of one agent: plans its view, starts its proxy (network "model" and "full") and makes its
---command line (sb.argv; spawn it with fd3 = sb.report and term_ignored = true). o:
---settings (M.settings), spec (the runner), argv, env (the agent's additions: the variables of Sidecar's own
---that no allow-list names are withheld in it, sidecar.run.sandbox_hidden.env), cwd, level (the run's
---sandbox), repo_top (the main checkout), worktree (the run's worktree record, or nil), store_root, run_dir,
---outputs (files of the run's folder the agent writes), events_file (the name of a file the agent
---appends events to: sb.events_file is its path, which o.env's SIDECAR_HOOK_EVENTS names), hosts
---(endpoints of the run's own the agent reaches besides the runner's and isolation.hosts: an
---OpenTelemetry collector), home, name (for the private folder), no_commits (a
---worktree whose repository stays read-only: no private objects, sidecar.run.sandbox_git), state_seed (the
---CLI state folder of the run a resumed session comes from; sidecar.run.sandbox_state), cgroup (the run's
---cgroup v2 the sandbox starts in, which then holds what it can of settings.limits), kill_grace_ms (the
---watchdog's, between its SIGTERM and SIGKILL: a Landlock sandbox ends the agent before). Returns the sandbox, or
---nil, why, code ("no_sandbox", "EPROXY").
---@param o table
function M.open(o)
  local kind, why, code = sandbox_host.choose(o.settings.sandbox)
  if not kind then
    return nil, why, code
  end
  folder.sweep_once()
  local settings = o.settings
  o.home = o.home or os.getenv("HOME")
  o.env_of = env_of(o.env)
  local sb = setmetatable({ settings = settings, kind = kind, chosen = why }, Sandbox)
  local keep = { table.unpack(o.spec.env_names or {}) }
  for _, n in ipairs(settings.env) do
    keep[#keep + 1] = n
  end
  for _, n in ipairs(o.spec.sandbox_env and o.spec.sandbox_env(o.argv, o.env_of, o.home) or {}) do
    keep[#keep + 1] = n
  end
  for k, v in pairs(o.spec.sandboxed_env or {}) do -- the runner's, over Sidecar's own of the same name
    if o.env[k] == nil then
      o.env[k] = v
    end
  end
  sb.withheld_env = hidden.env(o.env, keep)
  -- "full": the model's endpoints as "model" has them, and every other host through the proxy, which
  -- records each connection; the agent has no other route out. Where the agent is given a proxy of
  -- the user's own (isolation.env names HTTPS_PROXY: a corporate network's), it needs the host's
  -- network to reach it: "full" is then "host", and says so.
  local function given(name)
    return o.env[name] ~= false and o.env_of(name) or nil
  end
  sb.network = settings.network
  if sb.network == "full" and (given("HTTPS_PROXY") or given("https_proxy")) then
    sb.network, sb.network_why = "host", "the user's HTTPS_PROXY (isolation.env)"
  end
  local proxied = sb.network == "model" or sb.network == "full"
  local net = proxied and network_plan(o, settings) or { rules = {}, forward = {}, hosts = {} }
  if sb.network == "full" then
    net.rules[#net.rules + 1], net.proxy_env = { host = "*", port = 0 }, true
  end
  sb.hosts = net.hosts
  local bad
  sb.dir, bad = folder.make(o.name, kind == "bwrap") -- in memory but for Landlock's (sidecar.run.sandbox_folder)
  if not sb.dir then
    return nil, bad, "no_sandbox"
  end
  sb.report, bad = memfile.open("sidecar-sandbox-report") -- sandbox-init's report: no file made
  if not sb.report then
    sb:finish()
    return nil, "cannot make the sandbox's report: " .. tostring(bad), "no_sandbox"
  end
  -- The events file: bubblewrap's in its private folder, in memory (no file of the run's made and
  -- removed on a disk), bound at its own path inside, which lies in a private tmpfs; Landlock's in
  -- the run's folder, which its agent may read.
  local events_in = kind == "bwrap" and sb.dir or o.run_dir
  if o.events_file and events_in then
    sb.events_file = events_in .. "/" .. o.events_file
    o.outputs = { sb.events_file, table.unpack(o.outputs or {}) }
    o.env.SIDECAR_HOOK_EVENTS = sb.events_file
  end
  if proxied then
    sb.proxy, why, code = host.proxy(sb.dir .. "/proxy.sock", net.rules)
    if not sb.proxy then
      sb:finish()
      return nil, why, code
    end
  end
  if o.spec.sandbox_state then -- the CLI's state: a folder of the run's (sidecar.run.sandbox_state)
    local st_dir = o.state_dir or (o.run_dir and (o.run_dir .. "/" .. state.FOLDER))
    if not st_dir then
      sb:finish()
      return nil, "a sandboxed " .. o.spec.name .. " needs its run's folder (run_dir) for its state", "no_sandbox"
    end
    o.cli_state, why = state.plan(o.spec.sandbox_state(o.env_of, o.home), { dir = st_dir, seed = o.state_seed,
      scratch = sb.dir })
    if not o.cli_state then
      sb:finish()
      return nil, why, "no_sandbox"
    end
    sb.cli_state = o.cli_state
  end
  local write, protect, outputs = view.write(o, settings)
  if o.worktree and o.level ~= "read-only" and not o.no_commits then
    local git_env
    sb.git, git_env = sandbox_git.prepare(o.worktree.path)
    for k, v in pairs(git_env or {}) do
      o.env[k] = v
    end
  end
  if type(o.env.TMPDIR) == "string" and real(o.env.TMPDIR) then
    write[#write + 1] = real(o.env.TMPDIR) -- the runner's own temporary folder (its config says so)
  elseif not within(real(o.env_of("TMPDIR")), write) then
    o.env.TMPDIR = "/tmp" -- the private one: a TMPDIR the agent cannot see or write would fail its tools
  end
  local skip = store_skip(o.store_root, o.repo_top)
  local repos = { real(o.repo_top) or real(o.cwd) }
  if o.worktree then
    repos[#repos + 1] = real(o.worktree.path)
  end
  local own, binds = {}, {}
  for _, b in ipairs(o.cli_state and o.cli_state.binds or {}) do
    own[#own + 1], binds[#binds + 1] = b.to, b
  end
  local home_plan = home.plan(real(o.home), settings.read, sb.dir)
  table.move(home_plan.binds, 1, #home_plan.binds, #binds + 1, binds)
  local hide = hidden.paths({ home = real(o.home), repos = repos, skip = skip, read = settings.read, own = own,
    hide = settings.hide })
  sb.hidden = { files = #hide.files - hide.sockets, folders = #hide.dirs, sockets = hide.sockets > 0 and hide.sockets or nil,
    reused = hide.reused > 0 and hide.reused or nil }
  sb.limits = limits.plan(settings.limits, o.cgroup, host.uid() == 0, kind == "landlock")
  limits.bound_shared(sb.limits, shared_in_memory(sb, o.cli_state))
  o.program = program.resolve(o.argv[1], o.cwd)
  local plan = { network = sb.network, private = mounts.private(paths.lstat("/var/run")
      and paths.lstat("/var/run").kind == "symlink"), read = view.read(o, settings, home_plan), write = write,
    home = home_plan.hidden and home_plan.home or nil, binds = binds, outputs = outputs, hide_dirs = hide.dirs,
    hide_files = hide.files,
    protect = protect, socket = sb.proxy and (sb.dir .. "/proxy.sock") or nil, cwd = real(o.cwd) or o.cwd,
    uid = host.uid() == 0 and M.ROOT_MAPPED_TO or nil, sizes = sb.limits.tmpfs }
  local unseen = program.unseen(o.program, function(path) return mounts.shows(plan, path) end)
  if unseen then
    sb:finish()
    return nil, unseen, "no_program"
  end
  sb.program = program.record(o.program)
  local argv
  if kind == "landlock" then
    argv, why = landlock_argv(o, sb, plan, net)
    if not argv then
      sb:finish()
      return nil, why, "no_sandbox"
    end
  else
    sb.plan = plan -- what sb:keeps reads
    argv = { "bwrap" }
    local args = mounts.args(plan)
    table.move(args, 1, #args, 2, argv)
    local init = init_args(o, sb, mounts.SOCKET_INSIDE, net)
    table.move(sb.limits.init_args, 1, #sb.limits.init_args, #init + 1, init)
    table.move(init, 1, #init, #argv + 1, argv)
  end
  local guard = socket_guard_args(o, settings, kind == "landlock" and "host" or sb.network)
  table.move(guard, 1, #guard, #argv + 1, argv)
  argv[#argv + 1] = "--"
  table.move(o.argv, 1, #o.argv, #argv + 1, argv)
  sb.argv = argv
  return sb
end

-- A sandbox held in a to-be-closed variable is finished (its proxy stopped, its private folder
-- gone) when an error leaves the scope before its agent ran; finishing it again changes nothing.
Sandbox.__close = function(self)
  self:finish()
end

---Whether no process in this sandbox can change a file of `dir` (absolute) nor of the folders in
---it, those of `skip` aside (sidecar.run.sandbox_mounts.keeps): bubblewrap's mounts keep them as
---they are. Never for Landlock, which cannot keep everything read-only (what it could not is
---put back after the agent: finish's put_back).
---@param dir string
---@param skip? string[]
---@return boolean
function Sandbox:keeps(dir, skip)
  local d = real(dir)
  if self.kind ~= "bwrap" or not self.plan or not d then
    return false
  end
  local own = {}
  for _, p in ipairs(skip or {}) do
    own[#own + 1] = real(p) or p
  end
  return mounts.keeps(self.plan, d, own)
end

---After the agent's process (bwrap) ended: the sandbox's report, its proxy stopped and its private
---folder gone. Returns {exit_code?, signal?, escapees = {{pid, command, left_session}},
---stopped?, network = {allowed = {{host, port, at_ms, bytes_up, bytes_down}...}, refused = {{host,
---port, error}...}}, missing = true when no report came (the sandbox was killed, or never started)}.
function Sandbox:finish()
  if self.finished then
    return self.finished
  end
  local report = { escapees = {}, network = { allowed = {}, refused = {} } }
  -- What Landlock could not keep read-only, put back before git or Sidecar reads it
  report.put_back = landlock.restore(self.guarded)
  if self.report then -- read once: a finish an interrupt cut short, called again, still has it
    self.report_text = self.report:read()
    self.report:close()
    self.report = nil
  end
  local decoded_ok, decoded = json.try_decode(self.report_text or "")
  if decoded_ok and type(decoded) == "table" then
    report.exit_code, report.signal, report.stopped = decoded.exit_code, decoded.signal, decoded.stopped
    report.escapees = type(decoded.escapees) == "table" and decoded.escapees or {}
    report.limits = limits.outcome(self.limits, decoded.limits)
    report.sockets_refused = type(decoded.sockets) == "table" and type(decoded.sockets.refused) == "table"
      and decoded.sockets.refused or nil
    report.socket_guard_off = type(decoded.socket_guard_off) == "string" and decoded.socket_guard_off or nil
  else
    report.missing = true
  end
  if self.git then
    local imported, why = sandbox_git.import(self.git)
    report.git = imported or { error = why }
    self.git = nil
  end
  if self.proxy then
    self.proxy:stop() -- first: a connection is logged once it has ended, and the agent's have by now
    local entries, dropped = self.proxy:log()
    self.proxy:close()
    for _, e in ipairs(entries) do
      local list = e.allowed and report.network.allowed or report.network.refused
      list[#list + 1] = e.allowed and e or { host = e.host, port = e.port, error = e.error }
    end
    report.network.dropped = dropped > 0 and dropped or nil
  end
  if self.cli_state then
    state.tidy(self.cli_state)
  end
  if self.dir then
    folder.remove(self.dir)
  end
  self.finished = report
  return report
end

-- The connections the proxy let through, one per host and port: {host, port, count, bytes_up,
-- bytes_down}, in the order first reached.
local function connections(allowed)
  local list, at = {}, {}
  for _, e in ipairs(allowed) do
    local key = e.host .. ":" .. e.port
    local c = at[key]
    if not c then
      c = json.object({ host = e.host, port = e.port, count = 0, bytes_up = 0, bytes_down = 0 })
      list[#list + 1], at[key] = c, c
    end
    c.count, c.bytes_up, c.bytes_down = c.count + 1, c.bytes_up + (e.bytes_up or 0), c.bytes_down + (e.bytes_down or 0)
  end
  return list
end

---What the run record keeps of its sandbox: {kind ("bwrap" or "landlock"), chosen (why "auto" chose
---Landlock), landlock_rules (how many paths its plan granted), put_back (the files Landlock could not
---keep read-only that the agent changed, put back), network (as the run had it: "full" given the
---user's own proxy is "host", network_why says so), hosts, connections (what the proxy let through:
---every connection of network "full"), refused, sockets_refused (the Unix sockets its connect guard
---refused: {{path, count}}), socket_guard_off (why there was no guard), withheld_env, hidden, git,
---cli_state, limits (sidecar.run.sandbox_limits.outcome)}.
---@param report table  finish()'s
function Sandbox:record(report)
  local refused = {}
  for i, e in ipairs(report.network.refused) do
    refused[i] = json.object({ host = e.host, port = e.port, error = e.error })
  end
  local reached = connections(report.network.allowed)
  return json.object({ kind = self.kind, chosen = self.chosen, landlock_rules = self.rules, put_back = #(report.put_back or {}) > 0
    and json.array(report.put_back) or nil, network = self.network, network_why = self.network_why, hosts = json.array(self.hosts or {}),
    connections = #reached > 0 and json.array(reached) or nil, connections_dropped = report.network.dropped,
    refused = #refused > 0 and json.array(refused) or nil,
    sockets_refused = report.sockets_refused and json.array(report.sockets_refused) or nil,
    socket_guard_off = report.socket_guard_off,
    withheld_env = #self.withheld_env > 0 and json.array(self.withheld_env) or nil,
    hidden = json.object(self.hidden or {}), git = report.git and next(report.git) and json.object(report.git) or nil,
    cli_state = state.record(self.cli_state), limits = report.limits or limits.outcome(self.limits),
    program = self.program and json.object(self.program) or nil })
end

return M
