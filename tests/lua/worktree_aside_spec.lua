local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local aside = require("sidecar.run.worktree_aside")
local paths = require("sidecar.host.paths")

local top, dir
local write = test.write
local function read(path)
  local f = io.open(path, "rb")
  local text = f and f:read("a")
  if f then
    f:close()
  end
  return text
end
-- A left_out entry of the file as it is now.
local function entry(rel)
  local st = assert(paths.lstat(top .. "/" .. rel))
  return { path = rel, size = st.size, mtime_ns = st.mtime_ns }
end

test.before_each(function()
  top = os.tmpname()
  os.remove(top)
  assert(paths.make_dirs(top .. "/data"))
  dir = top .. "/.agent/runs/R-0001/aside"
  write(top .. "/data/a.bin", "user's a")
  write(top .. "/data/b.bin", "user's b")
end)
test.after_each(function()
  os.execute("rm -rf '" .. top .. "'")
end)

describe("worktree_aside", function()
  it("moves only files as the run found them; another left-out file in the way is a conflict", function()
    local a, b = entry("data/a.bin"), entry("data/b.bin")
    local files = { { path = "data/a.bin" }, { path = "data/b.bin" }, { path = "other.txt" } }
    local movable, in_the_way = aside.pick(files, { a, b }, { a }) -- the run never saw b
    expect(#movable):equals(1)
    expect(movable[1].path):equals("data/a.bin")
    expect(in_the_way):equals({ "data/b.bin" })
  end)

  it("never moves a secret the run left out: the agent never had it, so an agent's file there is a conflict", function()
    local a = entry("data/a.bin")
    local secret = { path = a.path, size = a.size, mtime_ns = a.mtime_ns, reason = "secret" }
    local movable, in_the_way = aside.pick({ { path = "data/a.bin" } }, { a }, { secret })
    expect(#movable):equals(0)
    expect(in_the_way):equals({ "data/a.bin" })
  end)

  it("moves nothing when a file changed since the snapshot", function()
    local a, b = entry("data/a.bin"), entry("data/b.bin")
    write(top .. "/data/b.bin", "changed by the user, longer")
    local moves, why, path = aside.move(dir, top, { a, b })
    expect(moves):is_nil()
    expect(why):contains("changed since the snapshot")
    expect(path):equals("data/b.bin")
    expect(read(top .. "/data/a.bin")):equals("user's a") -- put back
    expect(read(dir .. "/moved.json")):is_nil()
  end)

  it("removes what it moved after a write, keeps one that changed while aside, restores after a failure", function()
    local moves = assert(aside.move(dir, top, { entry("data/a.bin"), entry("data/b.bin") }))
    expect(paths.lstat(top .. "/data/a.bin")):is_nil()
    write(dir .. "/2", "b changed while aside by a program still writing it")
    local kept, note = aside.finish(top, dir, moves, true)
    expect(kept):equals({ "data/b.bin" })
    expect(note):contains(dir .. "/2")
    expect(paths.lstat(dir .. "/1")):is_nil()
    write(top .. "/data/c.bin", "user's c")
    moves = assert(aside.move(top .. "/aside2", top, { entry("data/c.bin") }))
    kept, note = aside.finish(top, top .. "/aside2", moves, false)
    expect(kept):equals({})
    expect(note):is_nil()
    expect(read(top .. "/data/c.bin")):equals("user's c")
  end)

  it("puts back what a crashed apply left aside, never over a file there now", function()
    local moves = assert(aside.move(dir, top, { entry("data/a.bin"), entry("data/b.bin") }))
    expect(#moves):equals(2)
    write(top .. "/data/b.bin", "the agent's b, written before the crash")
    local why = aside.restore(top, dir)
    expect(read(top .. "/data/a.bin")):equals("user's a")
    expect(read(top .. "/data/b.bin")):equals("the agent's b, written before the crash")
    expect(why):contains("data/b.bin")
    expect(read(dir .. "/2")):equals("user's b") -- kept, and still listed
    os.remove(top .. "/data/b.bin")
    expect(aside.restore(top, dir)):is_nil()
    expect(read(top .. "/data/b.bin")):equals("user's b")
    expect(paths.lstat(dir)):is_nil()
  end)

  it("ignores a list naming a path outside the work tree", function()
    assert(paths.make_dirs(dir))
    write(dir .. "/moved.json", '[{"path":"../../escape","aside":"1"},{"path":"/etc/x","aside":"2"}]')
    write(dir .. "/1", "x")
    expect(aside.restore(top, dir)):is_nil()
    expect(paths.lstat(top .. "/../../escape")):is_nil()
  end)
end)
