local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local byte_size = require("sidecar.core.byte_size")
local config = require("sidecar.core.config")
local log_caps = require("sidecar.core.log_caps")

describe("byte_size.parse", function()
  it("reads binary and decimal units, any case, with or without a space", function()
    expect(byte_size.parse("64MiB")):equals(64 * 1024 * 1024)
    expect(byte_size.parse("512KiB")):equals(512 * 1024)
    expect(byte_size.parse("1 GiB")):equals(1024 * 1024 * 1024)
    expect(byte_size.parse("2tib")):equals(2 * 1024 * 1024 * 1024 * 1024)
    expect(byte_size.parse("100MB")):equals(100000000)
    expect(byte_size.parse("3kB")):equals(3000)
    expect(byte_size.parse("1.5MiB")):equals(1572864)
    expect(byte_size.parse("4096B")):equals(4096)
    expect(byte_size.parse(" 4096 ")):equals(4096)
  end)

  it("takes a whole number as bytes", function()
    expect(byte_size.parse(4096)):equals(4096)
    expect(math.type(byte_size.parse("64MiB"))):equals("integer")
  end)

  it("refuses anything else, saying how to write a size", function()
    for _, bad in ipairs({ "lots", "64 Mibs", "MiB", "-1MiB", "1e6", "64MiB extra", "" }) do
      local bytes, why = byte_size.parse(bad)
      expect(bytes):is_nil()
      expect(why):equals(("'%s' is not a size (write 64MiB, 512KiB or a number of bytes)"):format(bad))
    end
    expect(select(2, byte_size.parse(0))):equals("0 is not a size: it must be more than 0 bytes")
    expect(select(2, byte_size.parse(-5))):equals("-5 is not a size: it must be more than 0 bytes")
    expect(select(2, byte_size.parse(1.5))):contains("is not a size")
    expect(select(2, byte_size.parse(true))):equals("a boolean is not a size (write 64MiB, 512KiB or a number of bytes)")
    expect(select(2, byte_size.parse({}))):equals("a table is not a size (write 64MiB, 512KiB or a number of bytes)")
    expect(select(2, byte_size.parse("1.5B"))):equals("'1.5B' is not a size: a number of bytes is a whole number")
    expect(select(2, byte_size.parse("2.5"))):equals("'2.5' is not a size: a number of bytes is a whole number")
    expect(byte_size.parse("1.5KiB")):equals(1536)
    expect(byte_size.parse("2.0B")):equals(2)
    expect(select(2, byte_size.parse("0KiB"))):equals("'0KiB' is not a size between 1 byte and 8 PiB")
    expect(select(2, byte_size.parse("9000TiB"))):equals("'9000TiB' is not a size between 1 byte and 8 PiB")
  end)
end)

describe("byte_size.format", function()
  it("keeps whole units whole and gives others one decimal", function()
    expect(byte_size.format(64 * 1024 * 1024)):equals("64 MiB")
    expect(byte_size.format(1887436800)):equals("1.8 GiB")
    expect(byte_size.format(1536)):equals("1.5 KiB")
    expect(byte_size.format(1023)):equals("1023 bytes")
    expect(byte_size.format(1)):equals("1 byte")
    expect(byte_size.format(nil)):equals("-")
  end)

  it("round-trips what it prints for whole units", function()
    for _, n in ipairs({ 1024, 512 * 1024, 64 * 1024 * 1024, 3 * 1024 * 1024 * 1024 }) do
      expect(byte_size.parse((byte_size.format(n):gsub(" ", "")))):equals(n)
    end
  end)
end)

describe("log_caps", function()
  it("resolves a setting: the default, a size, or no bound", function()
    expect(log_caps.resolve(nil)):equals(64 * 1024 * 1024)
    expect(log_caps.resolve("1MiB")):equals(1048576)
    expect(log_caps.resolve(false)):equals(0)
    expect(log_caps.resolve(0)):equals(0)
    expect(log_caps.resolve("big")):is_nil()
  end)

  it("records the logs that were cut, with a warning each, and nothing for the others", function()
    local record, warnings = {}, {}
    log_caps.record(record, {
      { stream = "stdout", file = "stdout.log", log = { max_bytes = 1048576, seen = 5000000, kept = 1048576,
        dropped = 3951424, truncated = true } },
      { stream = "stderr", file = "stderr.log", log = { max_bytes = 1048576, seen = 10, kept = 10, dropped = 0,
        truncated = false } },
    }, warnings)
    expect(record.log_truncated):equals({ { stream = "stdout", file = "stdout.log", bytes_seen = 5000000,
      bytes_kept = 1048576, bytes_dropped = 3951424, max_log_bytes = 1048576 } })
    expect(warnings):equals({ "stdout.log passed max_log_bytes (1 MiB): 3951424 of its 5000000 bytes were dropped "
      .. "from its middle" })
    expect(log_caps.lines(record)):equals({ "stdout.log: 4.8 MiB written, 3.8 MiB dropped from its middle "
      .. "(max_log_bytes = 1 MiB)" })
    expect(log_caps.tail_bytes({ max_bytes = 1001 })):equals(501)

    local clean = {}
    log_caps.record(clean, { { stream = "stdout", file = "agent.jsonl", log = nil } }, warnings)
    expect(clean.log_truncated):is_nil()
    expect(log_caps.lines(clean)):equals({})
  end)
end)

describe("config's max_log_bytes", function()
  local function load_with(text)
    local root = os.tmpname()
    os.remove(root)
    assert(os.execute("mkdir -p '" .. root .. "'"))
    if text then
      local f = assert(io.open(root .. "/config.lua", "w"))
      f:write(text)
      f:close()
    end
    local cfg, why = config.load(root)
    os.execute("rm -rf '" .. root .. "'")
    return cfg, why
  end

  it("is 64 MiB by default, in bytes", function()
    expect(load_with(nil).max_log_bytes):equals(64 * 1024 * 1024)
  end)

  it("takes a size, a number of bytes, or false for no bound", function()
    expect(load_with('return { max_log_bytes = "512KiB" }').max_log_bytes):equals(524288)
    expect(load_with("return { max_log_bytes = 100000 }").max_log_bytes):equals(100000)
    expect(load_with("return { max_log_bytes = false }").max_log_bytes):equals(0)
  end)

  it("names the setting when the value is not a size", function()
    local cfg, why = load_with('return { max_log_bytes = "a lot" }')
    expect(cfg):is_nil()
    expect(why):contains("max_log_bytes: 'a lot' is not a size (write 64MiB, 512KiB or a number of bytes) "
      .. "(or false: no bound)")
  end)
end)

describe("host.logfile: a log Lua writes, bounded as the raw logs are", function()
  local logfile = require("sidecar.host.logfile")

  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
  end

  it("keeps every byte within the bound, readable as it grows", function()
    local path = os.tmpname()
    local log = assert(logfile.open(path, 64))
    expect(log:write("hello ")):is_true()
    expect(read(path)):equals("hello ") -- written through, not buffered
    log:write("world")
    local stats = log:close()
    expect(read(path)):equals("hello world")
    expect(stats.seen):equals(11)
    expect(stats.kept):equals(11)
    expect(stats.truncated):is_false()
    os.remove(path)
  end)

  it("past the bound keeps the head and the tail with a marker of what was dropped", function()
    local path = os.tmpname()
    local log = assert(logfile.open(path, 20))
    for i = 0, 9 do
      log:write(string.rep(tostring(i), 10)) -- 100 bytes in pieces of 10
    end
    local stats = log:close()
    expect(read(path)):equals("0000000000\n[sidecar: 80 bytes dropped here: the log passed max_log_bytes = 20 bytes]\n9999999999")
    expect(stats.seen):equals(100)
    expect(stats.kept):equals(20)
    expect(stats.dropped):equals(80)
    expect(stats.truncated):is_true()
    os.remove(path)
  end)

  it("bounds nothing with 0, and says why a file cannot be opened", function()
    local path = os.tmpname()
    local log = assert(logfile.open(path, 0))
    log:write(string.rep("x", 100000))
    expect(log:close().seen):equals(100000)
    expect(#read(path)):equals(100000)
    os.remove(path)
    local none, why, code = logfile.open("/nonexistent-sidecar-dir/log", 10)
    expect(none):is_nil()
    expect(why):contains("/nonexistent-sidecar-dir/log")
    expect(code):equals("ENOENT")
  end)

  it("refuses a closed log", function()
    local path = os.tmpname()
    local log = assert(logfile.open(path, 10))
    log:close()
    expect(function() log:write("x") end):raises("closed log")
    os.remove(path)
  end)
end)
