-- agent_run.execute on runs it cannot start as it should: a symbolic link planted at a new run's
-- folder or its lock file (in a cloned repository's .agent: the planted folder is moved aside and
-- the run made in a new one), at a queued run's folder (by an agent), a run another process holds,
-- and a run that runs or ended. Nothing is ever written through a link, never a traceback; a run
-- that cannot start ends with a clear failure and no agent starts.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local agent_run = require("sidecar.agent.run")
local read = require("sidecar.core.files").read

local repo

test.before_each(function()
  repo = os.tmpname()
  os.remove(repo)
  os.execute("mkdir -p '" .. repo .. "' && cd '" .. repo .. "' && git init -q -b main")
end)
test.after_each(function()
  os.execute("rm -rf '" .. repo .. "'")
end)

describe("a planted run folder", function()
  it("runs in a new folder when a link was planted at its folder's name, writing nothing through it", function()
    local outside = repo .. "/../" .. repo:match("[^/]+$") .. "-outside"
    os.execute("mkdir -p '" .. outside .. "' '" .. repo .. "/.agent/runs' && ln -s '" .. outside .. "' '" ..
      repo .. "/.agent/runs/R-0001'")
    local run = assert(agent_run.execute({ runner = "command", command = { "true" }, prompt = "x", repo = repo }))
    expect(run.run_id):equals("R-0001")
    expect(require("sidecar.host.paths").lstat(repo .. "/.agent/runs/R-0001").kind):equals("directory")
    local aside = io.popen("ls -A '" .. repo .. "/.agent/runs-aside'")
    expect(aside:read("a")):matches("^R%-0001%-%d+\n$") -- the link, kept aside as it was
    aside:close()
    local listing = io.popen("ls -A '" .. outside .. "'")
    expect(listing:read("a")):equals("") -- no log, lock or copy went through the link
    listing:close()
    os.execute("rm -rf '" .. outside .. "'")
  end)

  it("fails a run already in the store (a queued one) whose folder became a symbolic link", function()
    local store = require("sidecar.core.store")
    local s <close> = assert(store.open(repo .. "/.agent", { create = true }))
    local queued = assert(s:create_run({ status = "queued", background = true, launch = { runner = "command" } }))
    local outside = repo .. "/../" .. repo:match("[^/]+$") .. "-outside"
    os.execute("mkdir -p '" .. outside .. "' && rm -rf '" .. repo .. "/.agent/runs/" .. queued.run_id .. "' && ln -s '"
      .. outside .. "' '" .. repo .. "/.agent/runs/" .. queued.run_id .. "'")
    local none, why, code = agent_run.execute({ runner = "command", command = { "touch", outside .. "-started" },
      prompt = "x", repo = repo, store = s, run_id = queued.run_id })
    expect(none):is_nil()
    expect(why):contains("its folder cannot be made")
    expect(code):equals("ESYMLINK")
    local stored = assert(s:get_run(queued.run_id))
    expect(stored.status):equals("failed") -- not left `running` until the process ends
    expect(stored.completed_at ~= nil):is_true()
    local listing = io.popen("ls -A '" .. outside .. "'")
    expect(listing:read("a")):equals("")
    listing:close()
    expect(read(outside .. "-started")):is_nil()
    os.execute("rm -rf '" .. outside .. "'")
  end)

  it("leaves a run another process holds to that process: not started, nothing recorded failed", function()
    local store = require("sidecar.core.store")
    local reconcile = require("sidecar.run.reconcile")
    local s <close> = assert(store.open(repo .. "/.agent", { create = true }))
    local held = assert(s:create_run({ status = "queued", runner_type = "command", owner_pid = 1, owner_start = 7 }))
    local before = assert(s:get_run(held.run_id))
    local theirs <close> = assert(reconcile.claim(s, held.run_id)) -- another open of the lock: another owner
    local wait = reconcile.CLAIM_WAIT_MS
    reconcile.CLAIM_WAIT_MS = 50
    local none, why, code = agent_run.execute({ runner = "command", command = { "touch", repo .. "-started" },
      prompt = "x", repo = repo, store = s, run_id = held.run_id })
    reconcile.CLAIM_WAIT_MS = wait
    expect(none):is_nil()
    expect(code):equals("busy")
    expect(why):contains("run " .. held.run_id .. " not started: cannot take run")
    local after = assert(s:get_run(held.run_id))
    expect(after.revision):equals(before.revision) -- nothing of theirs written over: status, owner
    expect(after.status):equals("queued")
    expect(after.owner_pid):equals(1)
    expect(read(repo .. "-started")):is_nil()
  end)

  it("never starts again a run that runs or ended, leaving its record as it was", function()
    local store = require("sidecar.core.store")
    local s <close> = assert(store.open(repo .. "/.agent", { create = true }))
    for _, status in ipairs({ "running", "review", "failed" }) do
      local run = assert(s:create_run({ status = status, runner_type = "command", owner_pid = 1, owner_start = 7 }))
      local before = assert(s:get_run(run.run_id))
      local none, why, code = agent_run.execute({ runner = "command", command = { "touch", repo .. "-started" },
        prompt = "x", repo = repo, store = s, run_id = run.run_id })
      expect(none):is_nil()
      expect(code):equals("bad_state")
      expect(why):equals(("run %s is %s, not a run to start"):format(run.run_id, status))
      local after = assert(s:get_run(run.run_id))
      expect(after.revision):equals(before.revision)
      expect(after.status):equals(status)
      expect(after.owner_pid):equals(1)
    end
    expect(read(repo .. "-started")):is_nil()
  end)

  it("runs in a new folder when a lock file link was planted in its folder's name's place", function()
    local outside = repo .. "/../" .. repo:match("[^/]+$") .. "-outside"
    os.execute("mkdir -p '" .. outside .. "' '" .. repo .. "/.agent/runs/R-0001' && ln -s '" .. outside ..
      "/made.lock' '" .. repo .. "/.agent/runs/R-0001/worker.lock'")
    local run = assert(agent_run.execute({ runner = "command", command = { "true" }, prompt = "x", repo = repo }))
    expect(run.run_id):equals("R-0001")
    expect(require("sidecar.host.paths").lstat(repo .. "/.agent/runs/R-0001/worker.lock").kind):equals("file")
    expect(read(outside .. "/made.lock")):is_nil() -- the link's target was never created
    local kept = io.popen("ls -A '" .. repo .. "/.agent/runs-aside/'*")
    expect(kept:read("a")):equals("worker.lock\n") -- the planted folder, moved aside whole
    kept:close()
    os.execute("rm -rf '" .. outside .. "'")
  end)
end)
