-- Sandbox:finish (stdlib/sidecar/run/sandbox.lua) reads sandbox-init's report from its memory file
-- once: a finish an interrupt cut short (a Ctrl-C, scancel's SIGTERM while the proxy stops), called
-- again as the sandbox's <close> runs, gives the same report instead of raising on the closed file.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local sandbox = require("sidecar.run.sandbox")

-- A sandbox opened around `true` in a temporary folder, or nil and why (no bubblewrap here).
local function open(network)
  local dir = paths.real(test.temp_dir())
  local settings = sandbox.settings({ network = network or "none" }, nil, {})
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
    s.proxy = { stop = function() end, log = function() error("interrupted! (spec)", 0) end, close = function() end }
    local ok, err = pcall(s.finish, s)
    expect(ok):equals(false)
    expect(err):contains("interrupted!")
    s.proxy = nil
    local report = s:finish() -- as its <close> would
    expect(report.missing):is_nil()
    expect(report.exit_code):equals(0)
    expect(paths.lstat(s.dir)):equals(nil)
  end)

  it("records a connection through its proxy that was still open when it finished", function()
    -- A tunnel is logged once it ends: read before the proxy stopped, an upload whose relay had
    -- not yet seen its end was missing from the run's record (hostile_edges: 'recorded nil:nil').
    local s = assert(open("full"))
    local r = proc.run(s.argv, { fd3 = s.report, term_ignored = true, timeout_ms = 60000 })
    expect(r.code):equals(0)
    local dir = test.temp_dir()
    local script = [[
import socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1])
c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % srv.getsockname()[1])
up = srv.accept()[0]
reply = c.recv(100)
open(sys.argv[2], "w").write("%d %s" % (srv.getsockname()[1], reply.split(b"\r\n")[0].decode()))
time.sleep(30)
]]
    local tunnel = proc.spawn({ "python3", "-c", script, s.dir .. "/proxy.sock", dir .. "/open" })
    for _ = 1, 1200 do -- (a busy machine may take seconds to start python)
      if paths.lstat(dir .. "/open") or not tunnel:running() then
        break
      end
      require("sidecar.host.time").sleep_ms(50)
    end
    local port, status = (require("sidecar.core.files").read(dir .. "/open") or ""):match("^(%d+) (.*)$")
    if not status then
      tunnel:kill()
      error("the tunnel through the proxy did not open: " .. tostring(tunnel:wait().stderr), 0)
    end
    expect(status):equals("HTTP/1.1 200 Connection established")
    local report = s:finish()
    tunnel:close()
    local seen = {}
    for _, e in ipairs(report.network.allowed) do
      seen[#seen + 1] = e.host .. ":" .. tostring(e.port)
    end
    expect(seen):equals({ "127.0.0.1:" .. port })
  end)
end)
