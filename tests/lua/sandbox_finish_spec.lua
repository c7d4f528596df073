-- Sandbox:finish (stdlib/sidecar/run/sandbox.lua) reads sandbox-init's report from its memory file
-- once: a finish an interrupt cut short (a Ctrl-C, scancel's SIGTERM while the proxy stops), called
-- again as the sandbox's <close> runs, gives the same report instead of raising on the closed file.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local sandbox = require("sidecar.run.sandbox")

-- A sandbox opened around `true` in a temporary folder, or nil and why (no bubblewrap here).
local function open()
  local dir = paths.real(test.temp_dir())
  local settings = sandbox.settings({ network = "none" }, nil, {})
  return sandbox.open({ settings = settings, spec = { name = "spec" }, argv = { "true" }, env = {}, cwd = dir,
    level = "read-only", repo_top = dir, store_root = dir .. "/.agent", run_dir = dir, outputs = {}, name = "spec",
    settle_ms = 0 })
end

describe("Sandbox:finish", function()
  local sb, why = open()
  if not sb then
    test.pending("a finish cut short and called again (no OS sandbox here: " .. tostring(why) .. ")")
    return
  end
  sb:finish()

  it("cut short by an interrupt after the report was read, gives the same report when called again", function()
    local s = assert(open())
    local r = proc.run(s.argv, { fd3 = s.report, term_ignored = true, timeout_ms = 60000 })
    expect(r.code):equals(0)
    s.proxy = { log = function() error("interrupted! (spec)", 0) end, close = function() end }
    local ok, err = pcall(s.finish, s)
    expect(ok):equals(false)
    expect(err):contains("interrupted!")
    s.proxy = nil
    local report = s:finish() -- as its <close> would
    expect(report.missing):is_nil()
    expect(report.exit_code):equals(0)
    expect(paths.lstat(s.dir)):equals(nil)
  end)
end)
