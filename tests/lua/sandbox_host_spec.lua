-- Which OS sandbox "auto" chooses (stdlib/sidecar/run/sandbox_host.lua), bubblewrap's check
-- stubbed: a failed check is kept for the process, unless bwrap had worked in it before (a
-- preset's pool runs many runs: one run's passing trouble is not every later run's).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

-- The module loaded afresh (its memory of the check is the process's), with `check` as its check.
local function fresh(check)
  package.loaded["sidecar.run.sandbox_host"] = nil
  local host = require("sidecar.run.sandbox_host")
  host.check = check
  host.forget() -- nothing known from the state folder either
  return host
end

local function works() return true end
local function fails() return nil, "bwrap cannot make a sandbox here (short)", "short" end

describe("bubblewrap's check, once per process", function()
  test.after_each(function()
    package.loaded["sidecar.run.sandbox_host"] = nil
  end)

  it("keeps a failure found first; after bwrap worked, a failure is looked at again next time", function()
    if not require("sidecar.run.sandbox_host").available() then
      print("  (skipped: no bubblewrap here)")
      return
    end
    local host = fresh(fails)
    expect(host.choose("auto")):not_equals("bwrap")
    host.check = works
    expect(host.choose("auto")):not_equals("bwrap") -- kept: bwrap never worked in this process

    host = fresh(works)
    expect(host.choose("auto")):equals("bwrap")
    host.forget() -- a run's sandbox of bwrap failed after all
    host.check = fails
    expect(host.choose("auto")):not_equals("bwrap")
    host.check = works
    expect(host.choose("auto")):equals("bwrap") -- the next run looks again
    host.check = fails
    expect(host.choose("auto")):equals("bwrap") -- and keeps what it found working
  end)
end)

local proc = require("sidecar.core.proc")

-- Whether sidecar-sandbox-init lies beside this binary (the build's layout), which the check's
-- tests need: else they say they are skipped.
local function init_program_beside()
  local paths = require("sidecar.host.paths")
  local exe = paths.real(proc.executable())
  if paths.lstat(exe:match("^(.*)/") .. "/sidecar-sandbox-init") then
    return true
  end
  print("  (skipped: no sidecar-sandbox-init beside " .. exe .. ")")
  return false
end

-- Runs `body(host)` on a fresh sandbox_host whose `--protocol` checks are counted (proc.run, spied
-- on; `on_check(n)` is called with each one's number first, and may raise in its place); proc.run
-- is put back however `body` ends. Returns how many checks there were.
local function counting_checks(on_check, body)
  local host, asked, run = fresh(works), 0, proc.run
  proc.run = function(argv, opts)
    if argv[2] == "--protocol" then
      asked = asked + 1
      on_check(asked)
    end
    return run(argv, opts)
  end
  local ok, err = pcall(body, host)
  proc.run = run
  assert(ok, err)
  return asked
end

describe("sidecar-sandbox-init's check, once per process", function()
  test.after_each(function()
    package.loaded["sidecar.run.sandbox_host"] = nil
  end)

  it("asks --protocol once when a pool's tasks all start a sandbox at once", function()
    if not init_program_beside() then
      return
    end
    local got = {}
    local asked = counting_checks(function() end, function(host)
      local sched = require("sidecar.core.coop").new()
      for i = 1, 5 do
        sched:spawn(function() return host.init_command() end, function(ok, command, why)
          got[i] = ok and (command[1] .. " " .. tostring(why)) or tostring(command)
        end)
      end
      while sched:count() > 0 do
        sched:step(50)
      end
    end)
    expect(asked):equals(1)
    for i = 2, 5 do
      expect(got[i]):equals(got[1])
    end
  end)

  it("forgets a check that raised: the next asks again, and gets its answer", function()
    if not init_program_beside() then
      return
    end
    local ok, err, command
    local asked = counting_checks(function(n)
      if n == 1 then
        error("interrupted!", 0)
      end
    end, function(host)
      ok, err = pcall(host.init_command)
      command = ok or select(2, pcall(host.init_command))
    end)
    expect(ok):equals(false)
    expect(err):equals("interrupted!")
    expect(type(command)):equals("table")
    expect(asked):equals(2)
  end)
end)
