-- A detached sender's queue (stdlib/sidecar/run/detached_sender.lua): what a sender claimed is
-- removed once done; what one killed before it was done left (its claim, or a file none claimed)
-- is queued again, and the log says so: nothing lost silently.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local artifact = require("sidecar.core.artifact")
local sender = require("sidecar.run.detached_sender")

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    out[#out + 1] = line
  end
  return out
end

describe("a detached sender's queue", function()
  it("claims a queued file once, and removes it when done", function()
    local dir = test.temp_dir()
    test.write(dir .. "/queue/1-a.json", "{}")
    local d <close> = assert(artifact.open(dir))
    local claimed = assert(sender.claim(d, "queue/1-a.json"))
    expect(claimed):matches("^queue/1%-a%.json%.sending%-%d+$")
    expect(sender.claim(d, "queue/1-a.json")):is_nil() -- a second sender has nothing to send
    sender.done(d, claimed)
    expect(#assert(d:list("queue/*"))):equals(0)
  end)

  it("queues again what a killed sender left: its claim, or a file none claimed in time", function()
    local dir = test.temp_dir()
    local gone = require("sidecar.core.proc").run({ "true" }).pid -- a sender that is no more
    test.write(dir .. "/queue/1-a.json.sending-" .. gone, "{}")
    test.write(dir .. "/queue/2-b.json", "{}") -- its sender never started: left until it is old
    test.write(dir .. "/queue/3-c.json.sending-" .. require("sidecar.host.procinfo").self().pid, "{}") -- alive
    local d <close> = assert(artifact.open(dir))
    local marker = dir .. "/started"
    local function argv(file)
      return { "sh", "-c", 'echo "$1" >>"$0"', marker, file }
    end
    expect(sender.recover(d, argv, "test-mark", "log.jsonl")):equals(1)
    os.execute("touch -d '-20 minutes' '" .. dir .. "/queue/2-b.json'")
    expect(sender.recover(d, argv, "test-mark", "log.jsonl")):equals(1)
    for _ = 1, 200 do -- the detached senders write at once; 10 s at most
      local f = io.open(marker)
      local n = f and #lines(marker) or 0
      if f then f:close() end
      if n == 2 then break end
      require("sidecar.host.time").sleep_ms(50)
    end
    local started = lines(marker)
    table.sort(started)
    expect(table.concat(started, " ")):equals("queue/1-a.json queue/2-b.json")
    local log = table.concat(lines(dir .. "/log.jsonl"), "\n")
    expect(log):contains("its sender ended before it was done")
    expect(select(2, log:gsub("\n", ""))):equals(1) -- two lines
    expect(require("sidecar.host.paths").lstat(dir .. "/queue/1-a.json").kind):equals("file") -- back in line
  end)
end)
