-- host.memfile (lua/memory_file.cpp): a file in memory a process writes as its descriptor 3 (an OS
-- sandbox's report), read back once it has ended; emptied before each spawn given it.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local memfile = require("sidecar.host.memfile")
local proc = require("sidecar.core.proc")
local errors = require("sidecar.core.errors")

describe("host.memfile", function()
  it("holds what a process wrote to its descriptor 3, and starts empty for the next one", function()
    local f <close> = assert(memfile.open("spec-report"))
    expect(f:read()):equals("")
    local r = proc.run({ "sh", "-c", "printf 'first report, longer' >&3" }, { fd3 = f })
    expect(r.code):equals(0)
    expect(f:read()):equals("first report, longer")
    expect(f:read(5)):equals("first")
    r = proc.run({ "sh", "-c", "printf second >&3" }, { fd3 = f })
    expect(r.code):equals(0)
    expect(f:read()):equals("second") -- nothing of the first left after it
    r = proc.run({ "sh", "-c", "true" }, { fd3 = f })
    expect(f:read()):equals("")
  end)

  it("reaches the process as its descriptor 3 only, and not once it closes that", function()
    local f <close> = assert(memfile.open("spec-report"))
    local r = proc.run({ "sh", "-c", "ls -l /proc/self/fd/ | grep -c memfd: || true" }, { fd3 = f })
    expect(r.stdout):equals("1\n") -- its descriptor 3 only
    r = proc.run({ "sh", "-c", "exec 3>&-; ls -l /proc/self/fd/ | grep -c memfd: || true" }, { fd3 = f })
    expect(r.stdout):equals("0\n")
  end)

  it("refuses fd3 of another kind, and a memory file once closed", function()
    local err = expect(function()
      proc.run({ "true" }, { fd3 = 3 })
    end):raises()
    expect(errors.is(err, "bad_option")):is_true()
    expect(err.message):contains("option 'fd3' must be a path or a memory file, got number")
    local f = assert(memfile.open())
    f:close()
    f:close() -- twice: harmless
    expect(tostring(f)):equals("memory file (closed)")
    expect(function()
      f:read()
    end):raises("attempt to use a closed memory file")
    expect(function()
      proc.run({ "true" }, { fd3 = f })
    end):raises("attempt to use a closed memory file")
  end)
end)
