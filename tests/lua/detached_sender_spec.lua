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
    expect(claimed):matches("^queue/1%-a%.json%.sending~[^~]+~%d+~%d+$")
    expect(sender.claim(d, "queue/1-a.json")):is_nil() -- a second sender has nothing to send
    sender.done(d, claimed)
    expect(#assert(d:list("queue/*"))):equals(0)
  end)

  it("queues again what a killed sender left: its claim, or a file none claimed in time", function()
    local dir = test.temp_dir()
    local gone = require("sidecar.core.proc").run({ "true" }).pid -- a sender that is no more
    local host = io.open("/proc/sys/kernel/hostname"):read("l"):gsub("[^%w.-]", "_")
    test.write(dir .. "/queue/1-a.json.sending~" .. host .. "~" .. gone .. "~1", "{}")
    test.write(dir .. "/queue/2-b.json", "{}") -- its sender never started: left until it is old
    local d <close> = assert(artifact.open(dir))
    test.write(dir .. "/queue/3-c.json", "{}") -- claimed by this process, alive: its sender's
    assert(sender.claim(d, "queue/3-c.json"))
    test.write(dir .. "/queue/4-d.json.sending~another-machine~" .. gone .. "~1", "{}") -- a node's: not seen here
    os.execute("touch -d '-30 minutes' '" .. dir .. "/queue/'*.sending*") -- a claim's age says nothing
    local marker = dir .. "/started"
    local function argv(file) -- a sender: once let go (or after 20 s), says which it took, and takes it
      return { "sh", "-c", 'i=0; while [ ! -e "$2/go" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; '
        .. 'echo "$1" >>"$0" && rm "$2/$1"', marker, file, dir }
    end
    expect(sender.recover(d, argv, "test-mark", "log.jsonl")):equals(1)
    local requeued = assert(require("sidecar.host.paths").lstat(dir .. "/queue/1-a.json"))
    expect(requeued.mtime_ns // 1000000 > require("sidecar.host.time").wall_ms() - 60000):is_true() -- young again
    os.execute("touch -d '-20 minutes' '" .. dir .. "/queue/2-b.json'")
    expect(sender.recover(d, argv, "test-mark", "log.jsonl")):equals(1) -- 1-a, not taken yet, is not lost
    test.write(dir .. "/go", "")
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
    expect(log):contains("its sender ended before it was done (killed, or the machine stopped): sent again")
    expect(log):contains("no sender took it in 10 minutes")
    expect(select(2, log:gsub("\n", ""))):equals(1) -- two lines
    expect(#assert(d:list("queue/3-c.json.sending~*"))):equals(1) -- an alive sender's claim stays
    expect(#assert(d:list("queue/4-d.json.sending~*"))):equals(1) -- so does another machine's
  end)

  it("ends what a killed sender had started and left running (its mark), before it sends again", function()
    local dir = test.temp_dir()
    local proc = require("sidecar.core.proc")
    local gone = proc.run({ "true" }).pid -- a sender that is no more
    local host = io.open("/proc/sys/kernel/hostname"):read("l"):gsub("[^%w.-]", "_")
    test.write(dir .. "/queue/1-a.json.sending~" .. host .. "~" .. gone .. "~7", "{}")
    local function marked(mark) -- a grandchild the sender left, carrying its mark
      return proc.spawn({ "sleep", "30" }, { env = { SIDECAR_RUN_MARK = mark } })
    end
    local left, others = marked("test-mark~" .. gone .. "~7"), marked("test-mark~" .. gone .. "~8")
    local d <close> = assert(artifact.open(dir))
    expect(sender.recover(d, function() return { "true" } end, "test-mark", "log.jsonl")):equals(1)
    local ended = left:wait(10000)
    expect(ended and ended.signal_name):equals("KILL")
    expect(others:wait(200)):is_nil() -- another sender's (alive: its claim's start is not this one's)
    others:kill("KILL")
    others:wait()
    expect(table.concat(lines(dir .. "/log.jsonl"), "\n")):contains(
      "its sender ended before it was done (killed, or the machine stopped); 1 process it had started, left running, ended: sent again")
  end)
end)
