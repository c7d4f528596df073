-- The progress lines a surface makes of a run's events (stdlib/sidecar/service/run_progress.lua):
-- the validation steps' lines `sidecar run` shows, from events published on the run event bus.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local run_progress = require("sidecar.service.run_progress")
local telemetry = require("sidecar.core.telemetry")

describe("sidecar.service.run_progress", function()
  it("makes a validation step's lines, and none of other kinds", function()
    expect(run_progress.line({ run_id = "R-0001", kind = "validation.started",
      fields = { step = 1, steps = 2, kind = "test", command = "make test" } }))
      :equals("run R-0001: validation 1/2 test: make test")
    expect(run_progress.line({ run_id = "R-0001", kind = "validation.finished",
      fields = { step = 1, ok = true, duration_ms = 1500 } })):contains("run R-0001:   ok in ")
    expect(run_progress.line({ run_id = "R-0001", kind = "validation.finished",
      fields = { step = 2, ok = false, exit_code = 3, duration_ms = 10 } })):contains("FAILED (exit 3)")
    expect(run_progress.line({ run_id = "R-0001", kind = "validation.finished",
      fields = { step = 2, ok = false, timed_out = true, duration_ms = 10 } })):contains("TIMED OUT")
    expect(run_progress.line({ run_id = "R-0001", kind = "agent.message", fields = { text = "hi" } })):equals(nil)
  end)

  it("follows the bus while subscribed: the lines of the events a run's recorder writes", function()
    local dir = test.temp_dir()
    local got = {}
    local sub = run_progress.follow(function(line) got[#got + 1] = line end)
    local t <close> = assert(telemetry.open(dir, { run_id = "R-0009" }))
    t:event("validation.started", { step = 1, steps = 1, kind = "lint", command = "true" })
    t:event("run.started", { runner = "codex" })
    sub:close()
    t:event("validation.started", { step = 1, steps = 1, kind = "lint", command = "after close" })
    expect(got):equals({ "run R-0009: validation 1/1 lint: true" })
  end)

  it("watches another process's events.jsonl: the latest event in a short line, partial lines left for later", function()
    local root = test.temp_dir()
    local dir = root .. "/runs/R-0003"
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local path = dir .. "/events.jsonl"
    local function append(text)
      local f = assert(io.open(path, "ab"))
      f:write(text)
      f:close()
    end
    local now = run_progress.watcher({ root = root }, "R-0003")
    expect(now()):equals(nil) -- no file yet
    append('{"seq":1,"kind":"run.started","fields":{}}\n{"seq":2,"kind":"agent.command","fields":{"comm')
    expect(now()):equals("run.started")
    append('and":"make  test\\nnow","exit_code":0}}\n')
    expect(now()):equals("$ make test now [exit 0]")
    append('{"seq":3,"kind":"validation.started","fields":{"step":1,"steps":1,"kind":"test","command":"true"}}\n')
    expect(now()):equals("run R-0003: validation 1/1 test: true")
    append('{"seq":4,"kind":"agent.message","fields":{"text":"' .. string.rep("x", 400) .. '"}}\n')
    expect(#now()):equals(run_progress.SHORT_BYTES)
    -- far behind: it skips to the end, the line cut in the middle dropped
    local later = run_progress.watcher({ root = root }, "R-0003")
    local saved = run_progress.CATCH_UP_BYTES
    run_progress.CATCH_UP_BYTES = 600
    local ok, got = pcall(later)
    run_progress.CATCH_UP_BYTES = saved
    expect(ok):equals(true)
    expect(got):equals(now())
  end)
end)
