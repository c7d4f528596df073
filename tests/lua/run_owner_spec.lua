-- The owner's side of a run (stdlib/sidecar/run/owner.lua) and how a run's processes are found and ended
-- (stdlib/sidecar/run/processes.lua): this process plays the owner, real processes play the agent, its
-- escapees and strangers.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local clock = require("sidecar.host.time")
local proc = require("sidecar.core.proc")
local procinfo = require("sidecar.host.procinfo")
local run_owner = require("sidecar.run.owner")
local run_processes = require("sidecar.run.processes")
local store = require("sidecar.core.store")

local root, s, handles
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
  os.execute("mkdir -p '" .. root .. "'")
  s = assert(store.open(root, { create = true }))
  handles = {}
  run_owner.CGROUPS = false -- the other ways of finding processes; the cgroup has its own case
end)
test.after_each(function()
  run_owner.CGROUPS = true
  for _, h in ipairs(handles) do
    h:close()
  end
  s:close()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function spawn(cmd, opts)
  local h = proc.spawn(cmd, opts)
  handles[#handles + 1] = h
  return h
end

-- Polls `fn` until it returns a truthy value, for at most 10 s; returns that value.
local function eventually(fn)
  local deadline = os.time() + 10
  local v = fn()
  while not v and os.time() < deadline do
    clock.sleep_ms(10)
    v = fn()
  end
  return v
end

local function running_run()
  return assert(s:create_run(run_owner.stamp({ runner_type = "command", status = "running" })))
end

describe("procinfo.signal", function()
  it("signals a process only while it is the one that started at the given time", function()
    local h = spawn({ "sleep", "30" })
    local p = procinfo.get(h:pid())
    local ok, why, code = procinfo.signal(h:pid(), p.start + 1, "KILL")
    expect(ok):is_nil()
    expect(code):equals("ESRCH")
    expect(why):contains("signal to process")
    expect(h:running()):is_true()
    expect(procinfo.signal(h:pid(), p.start, "KILL")):is_true()
    expect(h:wait(10000).signal_name):equals("KILL")
  end)
end)

describe("run_owner", function()
  it("stamps a record with this process and its start time", function()
    local me = procinfo.self()
    local r = run_owner.stamp({})
    expect(r.owner_pid):equals(me.pid)
    expect(r.owner_start):equals(me.start)
  end)

  it("gives the run a mark and the agent's environment that mark", function()
    local run = running_run()
    local owner <close> = run_owner.own(s, run)
    expect(run.process_mark):matches("^" .. run.run_id:gsub("%-", "%%-") .. "%.%x+$")
    local env = {}
    owner:prepare(env)
    expect(env.SIDECAR_RUN_MARK):equals(run.process_mark)
  end)

  it("kills, reaps and returns an escapee that left the session and cleared its environment", function()
    local run = running_run()
    local owner <close> = run_owner.own(s, run)
    owner:prepare({})
    -- The agent: starts a grandchild with no environment in a session of its own, and exits.
    local agent = spawn({ "sh", "-c", "env -i setsid sleep 31 & echo started" }, { stdout = true })
    owner:spawned(agent:pid())
    expect(agent:wait(10000).code):equals(0)
    local orphan = eventually(function()
      for _, p in ipairs(procinfo.children()) do
        if procinfo.command(p.pid) == "sleep 31" then
          return p
        end
      end
    end)
    expect(orphan ~= nil):is_true() -- adopted: this process is a child subreaper
    expect(procinfo.env_value(orphan.pid, "SIDECAR_RUN_MARK")):is_nil()
    local found = run_processes.find(s, run, { owner = true })
    expect(#found):equals(1)
    expect(found[1].how):equals("orphan")
    expect(#run_processes.find(s, run)):equals(0) -- only the owner can tell an orphan is the run's
    local left = owner:sweep(300, 100)
    expect(#left):equals(1)
    expect(left[1].pid):equals(orphan.pid)
    expect(left[1].command):equals("sleep 31")
    expect(left[1].found_by):equals("orphan")
    expect(left[1].left_session):is_true()
    expect(procinfo.get(orphan.pid)):is_nil() -- killed and reaped: not even a zombie
  end)

  it("does not count what ends by itself within the settle time", function()
    local run = running_run()
    local owner <close> = run_owner.own(s, run)
    local env = { PATH = os.getenv("PATH") }
    owner:prepare(env)
    local agent = spawn({ "sh", "-c", "setsid sleep 1.5 >/dev/null 2>&1 & echo started" },
      { env = env, clear_env = true, stdout = true })
    owner:spawned(agent:pid())
    agent:wait(10000)
    expect(#run_processes.find(s, run, { owner = true }) > 0):is_true() -- its grandchild is still there
    expect(#owner:sweep(100, 10000)):equals(0)
    expect(#run_processes.find(s, run, { owner = true })):equals(0)
  end)

  it("never takes a child it started itself, nor another run's marked process", function()
    local run = running_run()
    local owner <close> = run_owner.own(s, run)
    owner:prepare({})
    local agent = spawn({ "sh", "-c", "SIDECAR_RUN_MARK=other setsid sleep 32 & echo started" }, { stdout = true })
    owner:spawned(agent:pid())
    agent:wait(10000)
    local mine = spawn({ "sleep", "33" }, { env = { SIDECAR_RUN_MARK = run.process_mark } })
    expect(eventually(function()
      for _, p in ipairs(procinfo.children()) do
        if procinfo.command(p.pid) == "sleep 32" then
          return true
        end
      end
    end)):is_true()
    expect(#run_processes.find(s, run, { owner = true })):equals(0)
    expect(#owner:sweep(100, 0)):equals(0)
    expect(mine:running()):is_true()
    for _, p in ipairs(procinfo.children()) do
      if procinfo.command(p.pid) == "sleep 32" then
        procinfo.signal(p.pid, p.start, "KILL")
        eventually(function() return procinfo.reap(p.pid) end)
      end
    end
  end)

  it("with a cgroup of the run's own: finds what left the session, cleared its environment and whose parent lives",
    function()
      local probe = procinfo.cgroup_create("sidecar-probe-" .. procinfo.self().pid)
      if not probe then
        print("  (skipped: no cgroup v2 can be made here)")
        return
      end
      procinfo.cgroup_remove(probe)
      run_owner.CGROUPS = true
      local run = running_run()
      local owner <close> = run_owner.own(s, run)
      owner:prepare({})
      local unarmed <close> = spawn({ "sleep", "36" }) -- between prepare and arm: another run's, say
      -- Its child left the session and lives on (no orphan to adopt); the grandchild left that
      -- session too, with no environment: no mark, no group, no orphan finds it.
      owner:arm()
      local agent = spawn({ "sh", "-c", "setsid sh -c 'env -i setsid sleep 34 >/dev/null 2>&1 & exec sleep 35' "
        .. ">/dev/null 2>&1 & echo started" }, { stdout = true })
      owner:disarm()
      local after <close> = spawn({ "sleep", "37" }) -- after the spawn: not the run's either
      owner:spawned(agent:pid())
      local cgroup = require("sidecar.core.json").decode(io.open(root .. "/runs/" .. run.run_id .. "/agent_process.json"):read("a"))
        .cgroup
      expect(cgroup):contains("/sidecar-" .. run.process_mark)
      agent:wait(10000)
      local escapee = eventually(function()
        for _, pid in ipairs(procinfo.cgroup_members(cgroup)) do
          if procinfo.command(pid) == "sleep 34" then
            return procinfo.get(pid)
          end
        end
      end)
      expect(escapee ~= nil):is_true()
      expect(procinfo.env_value(escapee.pid, "SIDECAR_RUN_MARK")):is_nil()
      expect(procinfo.command(escapee.ppid)):equals("sleep 35") -- its parent lives: not an orphan
      eventually(function() return #procinfo.cgroup_members(cgroup) == 2 end)
      local left = owner:sweep(300, 0)
      local commands = {}
      for _, e in ipairs(left) do
        commands[#commands + 1] = e.command .. " " .. e.found_by
      end
      table.sort(commands)
      expect(table.concat(commands, ",")):equals("sleep 34 cgroup,sleep 35 cgroup") -- not 36 nor 37
      expect(unarmed:running() and after:running()):is_true()
      expect(#procinfo.cgroup_members(cgroup)):equals(0)
      owner:release()
      expect(io.open(cgroup .. "/cgroup.procs")):is_nil() -- removed
    end)

  it("records escapees with a blocker; a review becomes blocked", function()
    local record = { status = "review" }
    run_owner.apply(record, {})
    expect(record.status):equals("review")
    expect(record.escapees):is_nil()
    run_owner.apply(record, { { pid = 12, command = "sleep 300", found_by = "mark", left_session = true },
      { pid = 13, command = "x", found_by = "group", left_session = false } })
    expect(record.status):equals("blocked")
    expect(#record.escapees):equals(2)
    expect(record.blockers[1]):contains("2 processes of the agent outlived it and were killed (1 had left the "
      .. "agent's session with setsid): 12 sleep 300 (left its session); 13 x")
    local failed = { status = "failed" }
    run_owner.apply(failed, { { pid = 1, command = "y", found_by = "mark", left_session = true } })
    expect(failed.status):equals("failed")
    expect(#failed.blockers):equals(1)
    -- Only slow to end, still in the agent's session: killed, recorded, a warning; still a review.
    local slow = { status = "review", warnings = { "earlier" } }
    run_owner.apply(slow, { { pid = 14, command = "bash -lc snapshot", found_by = "group", left_session = false } })
    expect(slow.status):equals("review")
    expect(slow.blockers):is_nil()
    expect(#slow.escapees):equals(1)
    expect(slow.warnings[2]):contains("1 process of the agent outlived it and was killed: 14 bash -lc snapshot")
  end)

  it("holds the run's lock while open, its folder made when the run has none yet (copy_later)", function()
    local run = assert(s:create_run({ status = "preparing", runner_type = "command" }, nil, { copy_later = true }))
    local owner <close> = run_owner.own(s, run)
    local none, _, code = require("sidecar.run.reconcile").try_lock(s, run.run_id)
    expect(none):is_nil()
    expect(code):equals("EWOULDBLOCK")
    local reconcile = require("sidecar.run.reconcile")
    local wait = reconcile.CLAIM_WAIT_MS
    reconcile.CLAIM_WAIT_MS = 50
    local again, why, code = run_owner.own(s, run) -- a second owner is refused, as data
    reconcile.CLAIM_WAIT_MS = wait
    expect(again):is_nil()
    expect(why):contains("cannot take run " .. run.run_id)
    expect(code):equals("busy")
    owner:release()
    local lock = assert(require("sidecar.run.reconcile").try_lock(s, run.run_id))
    lock:release()
  end)

  it("reads a stop request as one line of valid UTF-8, whatever the file holds", function()
    local run = running_run()
    expect(run_owner.stop_asked(root, run.run_id)):is_nil()
    assert(run_owner.ask_to_stop(root, run.run_id, "sidecar run kill, pid 7\27[2J\r\nforged\255 line"))
    local by = run_owner.stop_asked(root, run.run_id)
    expect(by:find("%c")):is_nil()
    expect(utf8.len(by)):exists()
    expect(by):contains("sidecar run kill, pid 7")
    expect(by):contains("forged")
  end)

  it("records a run an error left active, and releases its lock", function()
    local run = running_run()
    local ok, err = pcall(function()
      local owner <close> = run_owner.own(s, run)
      error("boom")
    end)
    expect(ok):is_false()
    expect(tostring(err)):contains("boom")
    local now = s:get_run(run.run_id)
    expect(now.status):equals("outcome_unknown")
    expect(now.failure_reason):contains("Sidecar failed while running the agent or recording the run")
    expect(now.failure_reason):contains("boom")
    local lock = assert(require("sidecar.run.reconcile").try_lock(s, run.run_id))
    lock:release()
    pcall(function()
      local owner <close> = run_owner.own(s, running_run())
      error("interrupted!")
    end)
    expect(s:list_runs({ limit = 1 })[1].status):equals("interrupted")
  end)
end)
