-- run_reconcile on synthetic background runs: a store whose records say what a worker would
-- have left, this process playing the worker (its lock) or a stranger (a reused pid), and real
-- processes carrying a run's mark or standing in for its agent's group.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local hostlock = require("sidecar.host.lock")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local procinfo = require("sidecar.host.procinfo")
local reconcile = require("sidecar.executor.reconcile")
local run_processes = require("sidecar.run.processes")
local run_reconcile = require("sidecar.run.reconcile")
local store = require("sidecar.core.store")

local root, s, handles
local saved_wait
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
  root = root .. "/.agent"
  os.execute("mkdir -p '" .. root .. "'")
  s = assert(store.open(root, { create = true }))
  handles = {}
  saved_wait = { run_reconcile.CLAIM_WAIT_MS, run_reconcile.HANDOVER_WAIT_MS }
end)
test.after_each(function()
  run_reconcile.CLAIM_WAIT_MS, run_reconcile.HANDOVER_WAIT_MS = saved_wait[1], saved_wait[2]
  for _, h in ipairs(handles) do
    h:close() -- kills whatever a failed test left running
  end
  s:close()
  os.execute("rm -rf '" .. root:gsub("/%.agent$", "") .. "'")
end)

local function read(path)
  local f = io.open(path, "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  return text
end

-- The pid of a process that has ended.
local function dead_pid()
  local r = proc.run({ "sh", "-c", "echo $$" })
  return math.tointeger(tonumber(r.stdout:match("%d+")))
end

-- A task (running) and a background run of it; `fields` override the run's.
local function background_run(fields)
  local task = assert(s:create_task({ title = "t", status = "running" }))
  local record = { task_id = task.task_id, runner_type = "command", status = "running", background = true,
    worker_pid = dead_pid(), process_mark = "R-test." .. tostring(os.time()) .. "." .. math.random(1 << 30) }
  for k, v in pairs(fields or {}) do
    record[k] = v
  end
  return assert(s:create_run(record)), task
end

local function spawn(cmd, opts)
  local h = proc.spawn(cmd, opts)
  handles[#handles + 1] = h
  return h
end

local function lock_path(run)
  return root .. "/runs/" .. run.run_id .. "/worker.lock"
end

-- A process holding the run's lock (flock(1) on worker.lock, running sleep), once it holds it.
local function lock_holder(run)
  local h = spawn({ "flock", "-x", "-o", lock_path(run), "sleep", "30" }) -- -o: sleep does not hold it
  local deadline = os.time() + 10
  while select(3, run_reconcile.try_lock(s, run.run_id)) ~= "EWOULDBLOCK" and os.time() < deadline do
    require("sidecar.host.time").sleep_ms(5)
  end
  return h
end

-- Reconcile leaves `run` running while its recorded worker lives, and ends it once it is killed.
local function kept_until_killed(run, worker)
  local now, ended = reconcile.reconcile(s, run)
  expect(ended):is_false()
  expect(now.status):equals("running")
  expect(s:get_run(run.run_id).status):equals("running")
  expect(worker:kill()):is_true()
  worker:wait(10000)
  now, ended = reconcile.reconcile(s, run)
  expect(ended):is_true()
  expect(now.status):equals("outcome_unknown")
end

describe("executor.reconcile.reconcile", function()
  it("ends a running run whose worker is gone: outcome_unknown, the reason, an event, the task ready", function()
    local run, task = background_run()
    local now, ended = reconcile.reconcile(s, run)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    expect(now.failure_reason):contains(("the background worker (pid %d) died without recording an end"):format(
      run.worker_pid))
    expect(now.completed_at):exists()
    expect(s:get_run(run.run_id).status):equals("outcome_unknown")
    expect(s:get_task(task.task_id).status):equals("ready")
    expect(read(root .. "/runs/" .. run.run_id .. "/events.jsonl")):contains('"kind":"run.finished"')
    local again, twice = reconcile.reconcile(s, now)
    expect(twice):is_false()
    expect(again.status):equals("outcome_unknown")
  end)

  it("ends a run whose folder was replaced by a symbolic link, and creates nothing where it points", function()
    local run = background_run()
    local outside = root:gsub("/%.agent$", "") .. "/outside"
    os.execute("rm -rf '" .. root .. "/runs/" .. run.run_id .. "' && mkdir -p '" .. outside .. "' && ln -s '"
      .. outside .. "' '" .. root .. "/runs/" .. run.run_id .. "'")
    local now, ended = reconcile.reconcile(s, run)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    local listing = io.popen("ls -A '" .. outside .. "'")
    expect(listing:read("a")):equals("") -- no worker.lock, no events.jsonl through the link
    listing:close()
  end)

  it("takes no lock through a link planted as the run's lock file, and makes nothing where it points", function()
    local run = background_run()
    local outside = root:gsub("/%.agent$", "") .. "/outside"
    os.execute("mkdir -p '" .. outside .. "' && ln -s '" .. outside .. "/made.lock' '" .. lock_path(run) .. "'")
    local lock, why, code = run_reconcile.try_lock(s, run.run_id)
    expect(lock):is_nil()
    expect(code):equals("ESYMLINK")
    expect(why):contains("worker.lock")
    expect(why):contains("remove it")
    lock, why, code = run_reconcile.claim(s, run.run_id)
    expect(lock):is_nil()
    expect(code):equals("ESYMLINK")
    local listing = io.popen("ls -A '" .. outside .. "'")
    expect(listing:read("a")):equals("") -- the dangling link's target was never created
    listing:close()
  end)

  it("leaves a run alone while its worker holds the lock, and ends it once the worker is gone", function()
    local run = background_run()
    local worker = lock_holder(run) -- the worker, holding the lock
    run.worker_pid, run.worker_start = worker:pid(), run_processes.start_of(worker:pid())
    assert(s:update_run(run))
    kept_until_killed(run, worker)
  end)

  it("ends a dead worker's run whose lock file an agent swapped for one it holds, or for a folder", function()
    run_reconcile.HANDOVER_WAIT_MS = 50
    local held = background_run()
    os.execute("rm -f '" .. lock_path(held) .. "'")
    local stranger = lock_holder(held) -- a process of the agent, on a lock file of its own
    local lock, why, code = run_reconcile.take_lock(s, held)
    expect(lock):is_nil()
    expect(code):equals("ESTALE")
    expect(why):contains("stayed locked for 50 ms after the process that should hold it")
    local now, ended = reconcile.reconcile(s, held)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    expect(stranger:kill()):is_true() -- it carries no mark of the run: reconcile left it alone
    local folder = background_run()
    os.execute("rm -f '" .. lock_path(folder) .. "' && mkdir '" .. lock_path(folder) .. "'")
    lock, why, code = run_reconcile.try_lock(s, folder.run_id)
    expect(lock):is_nil()
    expect(code):equals("EISDIR")
    expect(why):contains("remove it")
    now, ended = reconcile.reconcile(s, folder)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
  end)

  it("leaves a background run alone while its recorded worker lives, its lock file free (an agent swapped it)",
    function()
      local worker = spawn({ "sleep", "30" })
      local run = background_run({ worker_pid = worker:pid(), worker_start = run_processes.start_of(worker:pid()) })
      kept_until_killed(run, worker)
    end)

  it("leaves a foreground run whose owner lives alone, and ended runs", function()
    local me = procinfo.self()
    local fg = background_run({ background = false, worker_pid = false, owner_pid = me.pid, owner_start = me.start })
    expect(select(2, reconcile.reconcile(s, fg))):is_false()
    expect(s:get_run(fg.run_id).status):equals("running")
    local done = background_run({ status = "review" })
    expect(select(2, reconcile.reconcile(s, done))):is_false()
    expect(s:get_run(done.run_id).status):equals("review")
  end)

  it("ends a running run that names no owner (imported from a copy) once past the starting grace", function()
    local fresh = background_run({ background = false, worker_pid = false })
    expect(select(2, reconcile.reconcile(s, fresh))):is_false() -- its owner may be starting
    local old = background_run({ background = false, worker_pid = false })
    old.created_at = "2026-01-01T00:00:00Z"
    assert(s:update_run(old))
    local now, ended = reconcile.reconcile(s, old)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    expect(now.failure_reason):contains("the record names no owner")
  end)

  it("waits for a queued run's worker that is still starting, and not for a pid reused by a stranger", function()
    local me = procinfo.self()
    local starting = background_run({ status = "queued", worker_pid = me.pid, worker_start = me.start })
    expect(select(2, reconcile.reconcile(s, starting))):is_false()
    expect(s:get_run(starting.run_id).status):equals("queued")
    local reused = background_run({ status = "queued", worker_pid = me.pid, worker_start = me.start + 1 })
    local now, ended = reconcile.reconcile(s, reused)
    expect(ended):is_true()
    expect(now.status):equals("failed") -- nothing ran
    expect(now.failure_reason):contains(("the background worker (pid %d) ended before it started the run"):format(
      me.pid))
    local dead = background_run({ status = "queued" })
    expect(reconcile.reconcile(s, dead).status):equals("failed")
  end)

  it("gives a queued run with no worker recorded a grace, measured from its creation", function()
    local fresh = background_run({ status = "queued", worker_pid = json.null })
    expect(select(2, reconcile.reconcile(s, fresh))):is_false()
    local old = background_run({ status = "queued", worker_pid = json.null })
    old = s:get_run(old.run_id)
    old.created_at = "2001-01-01T00:00:00Z"
    assert(s:update_run(old))
    local now, ended = reconcile.reconcile(s, old)
    expect(ended):is_true()
    expect(now.status):equals("failed")
    expect(now.failure_reason):contains("ended before it started a worker")
  end)

  it("kills every process carrying the run's mark, and only those", function()
    local run = background_run()
    local var = run_reconcile.MARK_VARIABLE
    local marked = spawn({ "sleep", "30" }, { env = { [var] = run.process_mark } })
    local near = spawn({ "sleep", "30" }, { env = { [var] = run.process_mark .. "0" } })
    -- Until the child has exec'd, /proc shows the environment it was forked with: wait for it.
    local found, deadline = {}, os.time() + 10
    while #found == 0 and os.time() < deadline do
      found = run_reconcile.processes(s, run)
      require("sidecar.host.time").sleep_ms(5)
    end
    expect(#found):equals(1)
    expect(found[1].pid):equals(marked:pid())
    local now = reconcile.reconcile(s, run)
    expect(now.failure_reason):contains("1 process of the run left behind, killed")
    expect(marked:wait(10000).signal_name):equals("KILL")
    expect(near:running()):is_true()
  end)

  it("kills the recorded agent's group when it is the agent's, not a group that reuses the number", function()
    local run = background_run({ process_mark = json.null })
    local agent = spawn({ "sh", "-c", "sleep 30 & sleep 30; wait" },
      { clear_env = true, env = { PATH = os.getenv("PATH") } }) -- no mark: found as the agent's group
    run_processes.record_agent(s, run.run_id, agent:pid())
    local a = json.decode(read(root .. "/runs/" .. run.run_id .. "/agent_process.json"))
    expect(a.pgid):equals(agent:pid())
    expect(a.start):equals(procinfo.get(agent:pid()).start)
    -- The same group recorded with another start time: a stranger's, left alone.
    local other = background_run({ process_mark = json.null })
    local dir = assert(s:run_dir(other.run_id))
    dir:write_json("agent_process.json", { pid = a.pid, pgid = a.pgid, sid = a.sid, start = a.start + 1 })
    dir:close()
    expect(#run_reconcile.processes(s, other)):equals(0)
    local deadline = os.time() + 10
    while #run_reconcile.processes(s, run) < 3 and os.time() < deadline do -- sh and its two sleeps
      require("sidecar.host.time").sleep_ms(10)
    end
    expect(#run_reconcile.processes(s, run)):equals(3)
    reconcile.reconcile(s, run)
    expect(agent:wait(10000).signal_name):equals("KILL")
    expect(#procinfo.group(a.pgid)):equals(0)
  end)
end)

-- A task (running) and a foreground run of it, owned by `owner` ({pid, start}; default: a process
-- that has ended); `fields` override the run's.
local function foreground_run(owner, fields)
  owner = owner or { pid = dead_pid(), start = 1 }
  local all = { background = json.null, worker_pid = json.null, owner_pid = owner.pid, owner_start = owner.start }
  for k, v in pairs(fields or {}) do
    all[k] = v
  end
  return background_run(all)
end

describe("run_reconcile.reconcile of foreground runs", function()
  it("ends a running run whose owner is gone: outcome_unknown, why, its processes killed, the task ready", function()
    local run, task = foreground_run()
    local marked = spawn({ "sleep", "30" }, { env = { [run_reconcile.MARK_VARIABLE] = run.process_mark } })
    local deadline = os.time() + 10
    while #run_reconcile.processes(s, run) < 1 and os.time() < deadline do -- findable by its mark
      require("sidecar.host.time").sleep_ms(10)
    end
    local now, ended = reconcile.reconcile(s, run)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    expect(now.failure_reason):contains(("the sidecar process that ran it (pid %d) died without recording an end")
      :format(run.owner_pid))
    expect(now.failure_reason):contains("1 process of the run left behind, killed")
    expect(marked:wait(10000).signal_name):equals("KILL")
    expect(s:get_task(task.task_id).status):equals("ready")
  end)

  it("leaves a run alone while its owner lives, lock or not, and not for a stranger with its pid", function()
    local me = procinfo.self()
    local mine = foreground_run(me)
    expect(select(2, reconcile.reconcile(s, mine))):is_false() -- between its record and its lock
    local lock = assert(hostlock.try(lock_path(mine)))
    expect(select(2, reconcile.reconcile(s, mine))):is_false()
    lock:release()
    expect(s:get_run(mine.run_id).status):equals("running")
    local reused = foreground_run({ pid = me.pid, start = me.start + 1 })
    expect(reconcile.reconcile(s, reused).status):equals("outcome_unknown")
  end)

  -- Issue 14's crash-harness failure: a `sidecar run` SIGKILLed while a child it had just vforked
  -- was not yet exec'd (the child holds a copy of the lock's descriptor until it execs or exits),
  -- or a start-ready child still dying of its parent-death SIGKILL, left the lock held for a few
  -- ms after the owner was gone; a `run list` then took the run for alive and left it running.
  it("waits for a lock held after its owner is gone, by a process on its way out, then ends the run", function()
    local run = foreground_run()
    local script = root .. "/hold_lock.lua"
    local f = assert(io.open(script, "wb"))
    f:write([[
      local ms, ready, path = ...
      local lock = assert(require("sidecar.host.lock").try(path))
      assert(io.open(ready, "w")):close() -- held: the spec may go on
      for _ = 1, tonumber(ms) // 50 do -- sleep_ms takes at most a second
        require("sidecar.host.time").sleep_ms(50)
      end
    ]])
    f:close()
    -- Waits for the helper's word that it holds the lock (never by trying the lock here: a lock
    -- this process took would be held by it until collected, and the reader would wait on it).
    local function hold(ms, of)
      local ready = root .. "/held-" .. ms
      local h = spawn({ proc.executable(), "script", script, tostring(ms), ready, lock_path(of) }, { stdout = false })
      local deadline = os.time() + 30
      local files = require("sidecar.core.files")
      while not files.exists(ready) and os.time() < deadline do
        require("sidecar.host.time").sleep_ms(5)
      end
      expect(files.exists(ready)):is_true()
      return h
    end
    -- Held for longer than a reader waits: the reader does not hang, and the holder is not the
    -- owner (a process of the agent's holding a lock file of its own, or one stuck on its way out):
    -- the run is judged by its owner, gone, and ended.
    run_reconcile.HANDOVER_WAIT_MS = 50
    local stuck = foreground_run()
    local h = hold(3000, stuck)
    local now, ended = reconcile.reconcile(s, stuck)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    h:kill()
    h:wait(10000)
    -- Let go within the wait: the run is ended by this one read.
    run_reconcile.HANDOVER_WAIT_MS = 10000
    hold(300, run)
    now, ended = reconcile.reconcile(s, run)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    expect(now.failure_reason):contains("died without recording an end")
  end)

  it("never waits for a lock its owner holds while it lives", function()
    run_reconcile.HANDOVER_WAIT_MS = 10000
    local mine = foreground_run(procinfo.self())
    local lock = assert(hostlock.try(lock_path(mine)))
    local clock = require("sidecar.host.time")
    local t0 = clock.monotonic_ns()
    expect(select(2, reconcile.reconcile(s, mine))):is_false()
    expect(reconcile.reconcile_active(s)):equals(0)
    expect((clock.monotonic_ns() - t0) // 1000000 < 5000):is_true() -- well under the 10 s a wait would take
    lock:release()
    expect(s:get_run(mine.run_id).status):equals("running")
  end)

  it("counts an owner that is exiting (a zombie not reaped yet) as gone", function()
    local h = spawn({ "sh", "-c", "exit 0" })
    local pid = h:pid()
    local deadline = os.time() + 10
    while (procinfo.get(pid) or {}).state ~= "Z" and os.time() < deadline do
      require("sidecar.host.time").sleep_ms(5)
    end
    local p = assert(procinfo.get(pid))
    expect(p.state):equals("Z")
    expect(p.exiting):is_true()
    expect(procinfo.doomed(pid)):is_true()
    expect(procinfo.doomed(procinfo.self().pid)):is_false()
    expect(procinfo.self().exiting):is_false()
    local run = foreground_run({ pid = pid, start = p.start })
    expect(reconcile.reconcile(s, run).status):equals("outcome_unknown")
    h:wait(10000)
  end)

  it("fails a run whose owner died before its agent started: nothing ran", function()
    local run = foreground_run(nil, { status = "preparing" })
    local now = reconcile.reconcile(s, run)
    expect(now.status):equals("failed")
    expect(now.failure_reason):contains("ended while the run was preparing, before its agent started")
    expect(now.failure_reason):contains("nothing ran")
  end)

  it("reconcile_active settles a task its dead owner left running after the run ended", function()
    local done, task = foreground_run(nil, { status = "review" })
    local me = procinfo.self()
    local alive, busy = foreground_run(me, { status = "review" })
    expect(reconcile.reconcile_active(s)):equals(1)
    expect(s:get_task(task.task_id).status):equals("review")
    expect(s:get_task(busy.task_id).status):equals("running") -- its owner may be validating still
    expect(s:get_run(done.run_id).status):equals("review")
    expect(alive.status):equals("review")
  end)

  it("reconcile_active leaves a preset's task to its preset while it lives, then blocks it", function()
    local me = procinfo.self()
    local _, living = foreground_run(nil, { status = "review", preset = "p", preset_pid = me.pid, preset_start = me.start })
    local _, killed = foreground_run(nil, { status = "review", preset = "p", preset_pid = dead_pid(), preset_start = 1 })
    local step, going = foreground_run(nil, { preset = "p", preset_pid = me.pid, preset_start = me.start })
    expect(reconcile.reconcile_active(s)):equals(2)
    expect(s:get_task(living.task_id).status):equals("running") -- between two steps: its worker gone, not it
    expect(s:get_run(step.run_id).status):equals("outcome_unknown") -- a step found dead while its preset goes on
    expect(s:get_task(going.task_id).status):equals("running") -- never ready: `run queue` would run it
    local blocked = s:get_task(killed.task_id) -- its preset gone too: blocked, saying why (never ready)
    expect(blocked.status):equals("blocked")
    expect(blocked.blockers[1]):equals("preset p: " .. reconcile.PRESET_GONE)
  end)

  it("blocks a preset's task its preset left before its first step, and a step's task found by reconcile", function()
    local me = procinfo.self()
    local function preset_task(pid, start)
      return assert(s:create_task({ title = "preset p", status = "running", preset = "p", preset_pid = pid,
        preset_start = start }))
    end
    local alive, gone = preset_task(me.pid, me.start), preset_task(dead_pid(), 1)
    local plain = assert(s:create_task({ title = "t", status = "running" })) -- no run, no preset: nothing tells
    expect(reconcile.reconcile_active(s)):equals(1)
    expect(s:get_task(alive.task_id).status):equals("running")
    expect(s:get_task(plain.task_id).status):equals("running")
    local blocked = s:get_task(gone.task_id)
    expect(blocked.status):equals("blocked")
    expect(blocked.blockers[1]):equals("preset p: " .. reconcile.PRESET_GONE)
    -- one run read on its own (`run show`): its step found dead, its preset gone, its task blocked now
    local step, task = foreground_run(nil, { preset = "p", preset_pid = dead_pid(), preset_start = 1 })
    local now, ended = reconcile.reconcile(s, step)
    expect(ended):is_true()
    expect(now.status):equals("outcome_unknown")
    expect(s:get_task(task.task_id).status):equals("blocked")
    local living_step, going = foreground_run(nil, { preset = "p", preset_pid = me.pid, preset_start = me.start })
    expect(select(2, reconcile.reconcile(s, living_step))):is_true()
    expect(s:get_task(going.task_id).status):equals("running") -- its preset goes on
  end)

  it("reconcile_active judges a preset's Slurm step by its preset, here; and waits for its other runs", function()
    local me = procinfo.self()
    local slurm = { status = "review", executor = "slurm", owner_pid = json.null, owner_start = json.null, preset = "p" }
    local function step(preset_pid, preset_start)
      local fields = { preset_pid = preset_pid, preset_start = preset_start }
      for k, v in pairs(slurm) do
        fields[k] = v
      end
      return foreground_run(nil, fields)
    end
    local _, living = step(me.pid, me.start)
    local _, gone = step(dead_pid(), 1)
    -- a preset gone whose older step is still active (its pool still recording its steps): left alone
    local older, busy = foreground_run(me, { preset = "p", preset_pid = dead_pid(), preset_start = 1 })
    local newer = foreground_run(nil, { status = "review", preset = "p", preset_pid = dead_pid(), preset_start = 1,
      task_id = busy.task_id })
    expect(newer.task_id):equals(busy.task_id)
    expect(reconcile.reconcile_active(s)):equals(1)
    expect(s:get_task(living.task_id).status):equals("running") -- its preset lives: between two steps
    expect(s:get_task(gone.task_id).status):equals("blocked") -- no owner recorded here: its preset tells
    expect(s:get_task(busy.task_id).status):equals("running")
    expect(s:get_run(older.run_id).status):equals("running")
  end)
end)

describe("run_reconcile.stop_processes and claim", function()
  it("asks with SIGTERM first and kills what ignores it after the grace", function()
    local run = background_run()
    local env = { [run_reconcile.MARK_VARIABLE] = run.process_mark }
    local polite = spawn({ "sleep", "30" }, { env = env })
    local stubborn = spawn({ "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done" },
      { env = env, stdout = true })
    local deadline = os.time() + 10
    while #run_reconcile.processes(s, run) < 3 and os.time() < deadline do
      require("sidecar.host.time").sleep_ms(10)
    end
    expect(run_reconcile.stop_processes(s, run, 300) >= 3):is_true()
    expect(polite:wait(10000).signal_name):equals("TERM")
    expect(stubborn:wait(10000).signal_name):equals("KILL")
    expect(#run_reconcile.processes(s, run)):equals(0)
  end)

  it("claims a run's lock once; a second worker is told the run is taken", function()
    local run = background_run({ status = "queued" })
    local first = assert(run_reconcile.claim(s, run.run_id))
    run_reconcile.CLAIM_WAIT_MS = 50
    local second, why, code = run_reconcile.claim(s, run.run_id)
    expect(second):is_nil()
    expect(code):equals("busy")
    expect(why):contains("already being run by another worker")
    first:release()
    local third = assert(run_reconcile.claim(s, run.run_id))
    third:release()
  end)

  it("reconcile_active ends every dead background run of the store", function()
    local a = background_run()
    local b = background_run({ status = "preparing" })
    local me = procinfo.self()
    local alive = background_run({ worker_pid = me.pid, worker_start = me.start }) -- this process, at work
    local lock = assert(hostlock.try(lock_path(alive)))
    expect(reconcile.reconcile_active(s)):equals(2)
    expect(s:get_run(a.run_id).status):equals("outcome_unknown")
    expect(s:get_run(b.run_id).status):equals("outcome_unknown")
    expect(s:get_run(alive.run_id).status):equals("running")
    lock:release()
  end)
end)
