--- `sidecar doctor`: each runner checked as a run will really start it: the built-in CLIs with the
--- project's settings (a `program` wrapper, `args`, `env` from `.agent/config.lua`) and the runners a
--- project defines there (`runners = {alice = {command = {...}}}`). For each: whether its program is
--- found, its version, whether it accepts the flags Sidecar relies on, and what exactly to fix.
---
---   local report = doctor.check({ root = ".agent" })
---   -- {ok, usable, config, sandbox = {mode, network, ok, advice?, init?, init_why?}, agent_slots = {cap, source, holders, runners, machine},
---   --  runners = {{name, origin, argv, ok, installed, version, missing_flags, advice}}}
local service_slots = require("sidecar.service.agent_slots")
local cli_output = require("sidecar.cli.output")
local doctor_sandbox = require("sidecar.cli.doctor_sandbox")
local executor = require("sidecar.executor")
local json = require("sidecar.core.json")
local landlock = require("sidecar.run.sandbox_landlock")
local proc = require("sidecar.core.proc")
local runners = require("sidecar.agent.runners")
local sandbox_host = require("sidecar.run.sandbox_host")

local M = {}

local TIMEOUT_MS = 20000

local function first_line(text)
  return text and text:match("^%s*([^\n]-)%s*\n") or (text and text:match("^%s*(.-)%s*$")) or nil
end

-- Whether `flag` appears in help text as a flag of its own (not inside a longer one).
local function mentions(help, flag)
  local at = 1
  while true do
    local s, e = help:find(flag, at, true)
    if not s then
      return false
    end
    local before, after = help:sub(s - 1, s - 1), help:sub(e + 1, e + 1)
    if not before:match("[%w-]") and not after:match("[%w-]") then
      return true
    end
    at = e + 1
  end
end

-- The project's config (nil when there is no store): {runners = entries, path, untrusted} or an
-- error message.
local function project_config(root)
  if not root then
    return nil
  end
  local cfg, message = require("sidecar.core.config").load(root)
  if not cfg then
    return nil, message
  end
  runners.register_config(cfg)
  return cfg
end

-- `argv` with its program (argv[1]) replaced by a `program` prefix: how a wrapper starts it.
local function through(program, argv)
  if not program then
    return argv
  end
  local out = { table.unpack(program) }
  for i = 2, #argv do
    out[#out + 1] = argv[i]
  end
  return out
end

-- The argv a run starts (an empty prompt, a placeholder run folder), or nil and why.
local function started_argv(spec, entry, os_sandbox)
  local ctx = { prompt = "", prompt_file = "<run>/prompt.md", repo = ".", run_dir = "<run>", sandbox = "read-only",
    ephemeral = true, program = entry.program, args = entry.args, command = entry.command, os_sandbox = os_sandbox }
  local ok, argv = pcall(spec.command, ctx)
  if not ok or type(argv) ~= "table" or type(argv[1]) ~= "string" then
    return nil, ok and "its command(ctx) returned no argv" or tostring(argv)
  end
  return argv
end

local function environment(spec, entry)
  local env = {}
  for k, v in pairs(spec.env or {}) do env[k] = v end
  for k, v in pairs(entry.env or {}) do env[k] = v end
  return env
end

-- What to check for each runner: {name, spec, entry, origin, argv, version?, probe?, lookup?}.
-- The generic command runner is left out (it has no program until a run names one).
local function plan(cfg)
  local checks = {}
  local isolation = require("sidecar.run.sandbox").settings(cfg and cfg.isolation, nil, {})
  local os_sandbox = isolation and isolation.sandbox ~= "off" -- codex's own sandbox then steps aside
  for _, name in ipairs(runners.names()) do
    local spec = runners.get(name)
    local entry = cfg and cfg.runners and cfg.runners[name] or {}
    if name ~= "command" or entry.command then
      local c = { name = name, spec = spec, entry = entry, env = environment(spec, entry) }
      local from_config = spec.from_config or (not spec.version and name == "command")
      c.origin = from_config and "config.lua" or next(entry) and "built-in, with config.lua settings" or "built-in"
      c.argv, c.why = started_argv(spec, entry, os_sandbox)
      if spec.version then
        c.version = through(entry.program, spec.version)
        c.probe = through(entry.program, spec.probe and spec.probe.cmd or spec.version)
      elseif c.argv then
        c.lookup = { "sh", "-c", 'command -v -- "$1"', "sh", c.argv[1] }
      end
      checks[#checks + 1] = c
    end
  end
  return checks
end

-- Where a setting is fixed: the runner's entry in config.lua, or the CLI itself.
local function fix_where(c, key)
  return ("runners.%s.%s in .agent/config.lua"):format(c.name, key)
end

local function judge_cli(c, version, probe)
  local e = { installed = true, missing_flags = {} }
  local shown = table.concat(c.version, " ")
  if version.error and version.code == nil and not version.signal then
    e.installed, e.ok = false, false
    e.advice = c.entry.program and ("`%s` cannot start (%s): fix %s"):format(c.version[1], first_line(version.error)
      or "not found", fix_where(c, "program"))
      or ("%s is not on PATH: install it with `%s`"):format(c.version[1], c.spec.install or "?")
    return e
  end
  e.version = first_line(version.stdout) or first_line(version.stderr)
  local help = (probe.stdout or "") .. (probe.stderr or "")
  for _, flag in ipairs(c.spec.probe and c.spec.probe.flags or {}) do
    if not mentions(help, flag) then
      e.missing_flags[#e.missing_flags + 1] = flag
    end
  end
  if not version.ok then
    e.ok = false
    e.advice = ("`%s` failed (%s): %s"):format(shown, first_line(version.stderr) or ("exit " .. tostring(version.code)),
      c.entry.program and "fix " .. fix_where(c, "program") or "reinstall it with `" .. (c.spec.install or "?") .. "`")
  elseif #e.missing_flags > 0 then
    e.ok = false
    e.advice = ("its help does not mention %s, which Sidecar relies on: update it with `%s@latest`"):format(
      table.concat(e.missing_flags, ", "), c.spec.install or "?")
  else
    e.ok = true
  end
  return e
end

local function judge_command(c, lookup)
  local e = { installed = lookup.ok == true, missing_flags = {}, ok = lookup.ok == true }
  if not e.ok and c.origin == "built-in" and c.spec.install then
    e.advice = ("%s is not on PATH: install it with `%s`"):format(c.argv[1], c.spec.install)
  elseif not e.ok then
    e.advice = ("`%s` is not found (not on PATH, or not executable): fix %s"):format(c.argv[1],
      fix_where(c, c.spec.dialect == "acp" and "acp" or "command"))
  end
  return e
end

---Checks every runner as a run in `opts.root`'s project would start it, all at once.
---@param opts? {root: string?}  the .agent folder (default: the nearest; none: built-ins only)
---@return table report
function M.check(opts)
  local root = (opts and opts.root) or require("sidecar.core.store").find_root(".")
  local cfg, config_error = project_config(root)
  local checks, specs = plan(cfg), {}
  local sandbox_report = M.sandbox(cfg)
  local inside = sandbox_report.ok and doctor_sandbox.open(cfg, root and root:match("^(.*)/[^/]*$") or ".", root)
  for _, c in ipairs(checks) do
    c.results = {}
    for _, key in ipairs({ "version", "probe", "lookup" }) do
      if c[key] then
        specs[#specs + 1] = { cmd = c[key], env = c.env, timeout_ms = TIMEOUT_MS }
        c.results[#c.results + 1] = #specs
      end
    end
    -- The same program started in the OS sandbox a run gets: "ready" means a run will start.
    c.inside_argv = inside and (c.version or c.lookup)
    local wrapped = c.inside_argv and inside:wrap(c, c.inside_argv, c.env, TIMEOUT_MS)
    if wrapped then
      specs[#specs + 1] = wrapped
      c.inside_at = #specs
    end
  end
  local results = proc.parallel(specs, { max_jobs = 8 })
  if inside then
    inside:close()
  end
  local report = { runners = {}, usable = 0, config = cfg and (cfg.path or json.null) or json.null }
  for _, c in ipairs(checks) do
    local got = {}
    for i, at in ipairs(c.results) do got[i] = results[at] end
    local e = not c.argv and { installed = false, ok = false, missing_flags = {}, advice = ("its argv cannot be made (%s): "
        .. "fix %s"):format(c.why, fix_where(c, "command")) } or c.version and judge_cli(c, got[1], got[2])
        or judge_command(c, got[1])
    local refused = e.ok and c.inside_at and inside:judge(c, c.inside_argv, results[c.inside_at])
    if refused then
      e.ok, e.advice = false, refused
    end
    e.name, e.origin, e.describe, e.argv = c.name, c.origin, c.spec.describe, c.argv or json.null
    report.runners[#report.runners + 1] = e
    report.usable = report.usable + (e.ok and 1 or 0)
  end
  report.sandbox = sandbox_report
  -- a config that cannot be read may set the cap: what runs would get is not known until it is fixed
  report.agent_slots = config_error and { error = "not known while the config cannot be read" }
    or service_slots.report(cfg)
  report.errors = M.problems(report, config_error)
  report.notes = json.array(cfg and cfg.untrusted and { require("sidecar.core.config").untrusted_hint(cfg,
    "config.lua's runners were not checked") } or {})
  report.ok = report.usable > 0 and #report.errors == 0
  return report
end

-- The OS sandbox agents would run in (M.sandbox, without `init`).
local function sandbox_mode(cfg)
  local sandbox = require("sidecar.run.sandbox")
  local s, why = sandbox.settings(cfg and cfg.isolation, nil, {})
  if not s then
    return { mode = "?", network = "?", ok = false, advice = why }
  end
  if s.sandbox == "off" then
    return { mode = "off", network = "host", ok = true, advice = "agents run without an OS sandbox" ..
      (s.forced_by and (" (" .. s.forced_by .. ")") or " (isolation.sandbox = \"off\")") .. ": see docs/security.md" }
  end
  if s.sandbox == "bwrap" then
    local ok, problem = sandbox_host.check()
    return { mode = "bwrap", network = s.network, ok = ok == true, advice = problem }
  end
  local kind, why = sandbox_host.choose(s.sandbox)
  local abi = kind == "landlock" and sandbox_host.landlock()
  if abi and abi < landlock.TCP_ABI and s.network ~= "host" then
    kind, why = nil, ("network \"%s\" in the Landlock sandbox needs Landlock ABI %d (Linux 6.7 or later); this "
      .. "kernel offers ABI %d: set isolation.network = \"host\", or run where bubblewrap works"):format(s.network,
      landlock.TCP_ABI, abi)
  end
  return { mode = kind or s.sandbox, network = s.network, ok = kind ~= nil,
    advice = kind == "landlock" and ("Landlock ABI %d%s"):format(abi, why and ("; " .. why) or "") or why }
end

---The OS sandbox agents would run in (the config's `isolation`, SIDECAR_OS_SANDBOX): {mode (the
---sandbox they get: "auto" resolved), network, ok, advice?, init? (the command that starts each
---sandbox's first process: {sidecar-sandbox-init} beside the binary, or {binary, "sandbox-init"}
---with init_why saying why)};
---one that cannot start is an error (every run would fail). Where "auto" chose Landlock, advice
---says why.
---@param cfg table|nil
function M.sandbox(cfg)
  local r = sandbox_mode(cfg)
  if r.mode ~= "off" and require("sidecar.core.proc").find_executable() then
    r.init, r.init_why = sandbox_host.init_command()
  end
  return r
end

---What is wrong, one line each: a config that cannot be read, each installed runner that would fail
---every run, and no usable runner at all. (An untrusted config is a note: its runners are unchecked.)
---@param report table  M.check's, without errors yet
---@param config_error? string
---@return string[]
function M.problems(report, config_error)
  local errors = {}
  if config_error then
    errors[#errors + 1] = "config: " .. config_error .. " (fix it; until then only the built-in runners are checked)"
  end
  for _, e in ipairs(report.runners) do
    if not e.ok and (e.installed or e.origin ~= "built-in") then
      errors[#errors + 1] = e.name .. ": " .. e.advice
    end
  end
  if report.sandbox and not report.sandbox.ok then
    errors[#errors + 1] = "os sandbox: " .. tostring(report.sandbox.advice)
  end
  for _, p in ipairs(report.agent_slots and report.agent_slots.problems or {}) do
    errors[#errors + 1] = "agents at once: " .. p
  end
  if report.agent_slots and report.agent_slots.error then
    errors[#errors + 1] = "agents at once: " .. report.agent_slots.error
  end
  if report.usable == 0 then
    errors[#errors + 1] = "no agent CLI is usable: install codex or claude (see each runner's advice), or run a plain "
        .. "command with the command runner"
  end
  return errors
end

-- An argv for people: words with spaces or quotes are quoted.
local function shell_words(argv)
  local words = {}
  for i, a in ipairs(argv) do
    words[i] = a:find("[%s'\"\\$`]") and ("'" .. a:gsub("'", "'\\''") .. "'") or a
  end
  return table.concat(words, " ")
end

-- `sidecar doctor --executor NAME [--json]`: the executor's own checks (Slurm's: its client
-- commands, the config's section and a probe job, stdlib/sidecar/executor/slurm_doctor.lua),
-- rendered; exit 1 when a check failed.
local function executor_cli(o, e)
  local root = require("sidecar.service.store").root(o)
  local cfg, why = require("sidecar.core.config").load(root)
  if not cfg then
    return cli_output.fail(o, "doctor", why)
  end
  local checks, ok = e.doctor(root, cfg)
  if o.json then
    cli_output.envelope("doctor", ok, { executor = e.name, checks = json.array(checks) }, nil, o.version)
    return ok and 0 or 1
  end
  local rows = {}
  for i, c in ipairs(checks) do
    rows[i] = { c.name, c.ok and "ok" or "FAILED", c.detail }
  end
  io.write(cli_output.table({ e.name:upper() .. " CHECK", "STATUS", "DETAIL" }, rows))
  return ok and 0 or 1
end

-- What set the cap, as the line says it; the default with the machine it was read from.
local function cap_source(slots)
  local m = slots.source == "default" and slots.machine
  if not m then
    return slots.source
  end
  local memory = math.type(m.memory_bytes) == "integer"
      and (" and %.1f GiB"):format(m.memory_bytes / (1024 * 1024 * 1024)) or ""
  return ("default: %d core%s%s this process may use"):format(m.cores, m.cores == 1 and "" or "s", memory)
end

-- The line of who waits for slots (oldest first, by pid; a stopped one is passed over), if any.
local function print_waiting(indent, waiting)
  local shown = {}
  for _, w in ipairs(waiting or {}) do
    shown[#shown + 1] = ("pid %d%s"):format(w.pid, w.stopped and " (stopped: passed over)" or "")
  end
  if #shown > 0 then
    print(("%s%d waiting, oldest first: %s"):format(indent, #shown, table.concat(shown, ", ")))
  end
end

---`sidecar doctor [--json]`: prints the report; exit 1 when no runner is usable, the config is
---broken, or a configured or installed runner would fail.
function M.cli(o)
  if o.executor and o.executor ~= "local" then -- e.g. the Slurm client and a probe job (stdlib/sidecar/executor)
    local e, why = executor.of(o.executor)
    if not (e and e.doctor) then
      return cli_output.fail(o, "doctor", "--executor " .. (why or ("'%s': has no doctor"):format(o.executor)), 2)
    end
    return executor_cli(o, e)
  end
  local report = M.check({ root = o.root })
  if o.json then
    for _, e in ipairs(report.runners) do
      e.missing_flags = json.array(e.missing_flags)
    end
    report.runners = json.array(report.runners)
    local errors = report.errors
    report.errors = nil -- the envelope's
    cli_output.envelope("doctor", report.ok, report, errors, o.version)
    return report.ok and 0 or 1
  end
  local rows, started = {}, {}
  for _, e in ipairs(report.runners) do
    rows[#rows + 1] = { e.name, e.ok and "ok" or (e.installed and "BROKEN" or "missing"), e.version or "-",
      e.advice or "ready" }
    if e.argv ~= json.null then
      started[#started + 1] = ("  %s (%s): %s"):format(e.name, e.origin, shell_words(e.argv))
    end
  end
  rows[#rows + 1] = { "command", "ok", "-", "any argv you give the command runner; nothing to install" }
  io.write(cli_output.table({ "RUNNER", "STATUS", "VERSION", "NOTES" }, rows))
  if report.usable == 0 then
    print("No agent CLI is usable: install one of the above (or run a plain command with the command runner).")
  end
  local sb = report.sandbox
  print(("OS sandbox: %s%s: %s"):format(sb.mode, sb.mode == "off" and "" or (", network " .. sb.network),
    sb.ok and (sb.advice or "ok") or "CANNOT START (below)"))
  if sb.init then
    print(("  each agent starts under %s%s"):format(table.concat(sb.init, " "), sb.init_why and (" (" .. sb.init_why
      .. "; " .. sandbox_host.INIT_PROGRAM .. " starts quicker: reinstall Sidecar to have this build's beside it)") or ""))
  end
  local slots = report.agent_slots
  if slots.error then
    print("Agents at once: " .. slots.error .. " (below)")
  else
    local held = {}
    for _, h in ipairs(slots.holders) do
      held[#held + 1] = ("%s (%s, pid %s, since %s)"):format(h.run_id or "?", h.runner or "?", tostring(h.pid or "?"),
        h.since or "?")
    end
    print(("Agents at once: %d running of %d (%s)%s%s"):format(#slots.holders, slots.cap, cap_source(slots),
      #held > 0 and (": " .. table.concat(held, ", ")) or "", #slots.problems > 0 and " (a problem below)" or ""))
    print_waiting("  ", slots.waiting)
    for _, r in ipairs(slots.runners) do
      print(("  %s agents: %d running of %d (max_agents_per_runner.%s)"):format(r.name, #r.holders, r.cap, r.name))
      print_waiting("    ", r.waiting) -- who waits for this runner's own slots, as for the machine's
    end
  end
  print("A run starts each as (the prompt on stdin, or in <run>/prompt.md):")
  print(table.concat(started, "\n"))
  for _, line in ipairs(report.errors) do
    if not line:find("^no agent CLI") then
      io.stderr:write("sidecar: doctor: ", line, "\n")
    end
  end
  for _, line in ipairs(report.notes) do
    print("Note: " .. line)
  end
  return report.ok and 0 or 1
end

return M
