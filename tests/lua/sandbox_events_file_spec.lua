-- A sandbox's events file (sidecar.run.sandbox's events_file: what a sandboxed run's hooks append
-- to): bubblewrap's is made in the sandbox's private folder, in memory, and bound at its own path
-- inside, so a run makes and removes no file of its own on a disk for it; the agent finds it by
-- SIDECAR_HOOK_EVENTS; its events reach the run's events.jsonl (hook_record.merge_sandboxed) before
-- the folder goes.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local files = require("sidecar.core.files")
local hook_record = require("sidecar.agent.hook_record")
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local sandbox = require("sidecar.run.sandbox")
local sandbox_folder = require("sidecar.run.sandbox_folder")

-- A sandbox of `kind` ("bwrap", "landlock") around `script` (sh), with an events file, in a new
-- store's run folder (and the bounds `limits`, isolation.limits's): the sandbox (or nil, why), the
-- agent's additions to its environment, the run's folder.
local function open(kind, script, limits)
  local dir = paths.real(test.temp_dir())
  local run_dir = dir .. "/.agent/runs/R-0001"
  assert(paths.make_dirs(run_dir))
  local env = {}
  local settings = assert(sandbox.settings({ network = "none", sandbox = kind, limits = limits }, nil, {}))
  local sb, why = sandbox.open({ settings = settings,
    spec = { name = "spec" }, env = env, cwd = dir, argv = { "sh", "-c", script }, level = "read-only",
    repo_top = dir, store_root = dir .. "/.agent", run_dir = run_dir, outputs = {}, name = "R-0001",
    events_file = hook_record.SANDBOX_FILE })
  return sb, why, env, run_dir
end

-- As open, or nil once `what` is marked pending where no sandbox of `kind` can be made here.
local function open_or_pending(what, kind, script, limits)
  local sb, why, env, run_dir = open(kind, script, limits)
  if not sb then
    test.pending(("%s (no %s sandbox here: %s)"):format(what, kind == "bwrap" and "bubblewrap" or "Landlock",
      tostring(why)))
  end
  return sb, env, run_dir
end

-- Runs the sandbox's agent with its environment `env` (sandbox.open's additions) and `extra`.
local function run_agent(sb, env, extra)
  local run_env = extra or {}
  for k, v in pairs(env) do
    run_env[k] = v
  end
  return proc.run(sb.argv, { env = run_env, fd3 = sb.report, term_ignored = true, timeout_ms = 60000 })
end

describe("a sandbox's events file", function()
  local line = json.encode(json.object({ fields = json.object({ tool = "Write" }), kind = "hook.PostToolUse",
    seq = 1, ts = "2026-11-29T08:00:00.000Z", source = "hook" }))
  local sb, env, run_dir = open_or_pending("bubblewrap's events file", "bwrap",
    "printf '%s\\n' \"$LINE\" >>\"$SIDECAR_HOOK_EVENTS\"")
  if not sb then
    return
  end

  it("is in the private folder, in memory where there is one, and the agent appends to it there", function()
    expect(sb.events_file):equals(sb.dir .. "/" .. hook_record.SANDBOX_FILE)
    expect(env.SIDECAR_HOOK_EVENTS):equals(sb.events_file)
    expect(sb.dir:sub(1, #sandbox_folder.base(true) + 1)):equals(sandbox_folder.base(true) .. "/")
    expect(run_agent(sb, env, { LINE = line }).code):equals(0)
    expect(files.read(sb.events_file)):equals(line .. "\n")
    expect(paths.lstat(run_dir .. "/" .. hook_record.SANDBOX_FILE)):equals(nil) -- nothing made in the run's folder
  end)

  it("is merged into the run's events.jsonl, then goes with the folder", function()
    expect(hook_record.merge_sandboxed(run_dir, sb.events_file)):equals(1)
    expect(json.decode(files.read(run_dir .. "/events.jsonl")).kind):equals("hook.PostToolUse")
    expect(paths.lstat(sb.events_file)):equals(nil)
    sb:finish()
    expect(paths.lstat(sb.dir)):equals(nil)
  end)
end)

describe("a bubblewrap sandbox's events file, in memory", function()
  -- A hostile agent fills it: nothing of the sandbox's own (its tmpfs) bounds it, so the watch of
  -- sandbox-init does, by the tmp bound, and ends every process of the sandbox past it.
  local script = "head -c 67108864 /dev/zero >>\"$SIDECAR_HOOK_EVENTS\"; sleep 60"
  local sb, env = open_or_pending("a bounded events file", "bwrap", script, { tmp = "8MiB" })
  if not sb then
    return
  end
  if not paths.in_memory(sb.dir) then
    sb:finish()
    test.pending("a bounded events file (the sandbox's folder is not in memory here)")
    return
  end

  it("holds the tmp bound at most: past it, every process of the sandbox is killed, and the record says why", function()
    local clock = require("sidecar.host.time")
    local t0 = clock.monotonic_ns()
    local r = run_agent(sb, env)
    expect(r.code == 0):is_false()
    expect((clock.monotonic_ns() - t0) // 1000000 < 50000):is_true() -- its sleep 60 never ended by itself
    local report = sb:finish()
    local rec = report.limits
    expect(rec.hit):equals("tmp")
    expect(rec.shared_file):equals(sb.events_file)
    expect(rec.peak_shared > 8 * 1024 * 1024):is_true()
    expect(rec.by.shared):equals("watch")
    expect(require("sidecar.run.sandbox_limits").hit_text(rec)):contains("stopped by the tmp limit (8 MiB)")
    expect(#report.escapees):equals(0) -- killed for the bound, not left behind by the agent
    expect(paths.lstat(sb.dir)):equals(nil)
  end)
end)

describe("a Landlock sandbox's events file", function()
  local sb, env, run_dir = open_or_pending("Landlock's events file", "landlock", "echo x >>\"$SIDECAR_HOOK_EVENTS\"")
  if not sb then
    return
  end

  it("is in the run's folder, which its agent may read, and the agent may append to it alone", function()
    expect(sb.events_file):equals(run_dir .. "/" .. hook_record.SANDBOX_FILE)
    expect(sb.dir:find("^/tmp/")):equals(1) -- the agent's private home and files: never in memory
    expect(run_agent(sb, env).code):equals(0)
    expect(files.read(sb.events_file)):equals("x\n")
    sb:finish()
  end)
end)
