local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local symlinks_out = require("sidecar.run.symlinks_out")
local proc = require("sidecar.core.proc")

local function out(path, target, links)
  return symlinks_out.leads_out(path, target, links)
end

describe("symlinks_out.leads_out", function()
  it("takes absolute targets and `..` above the top as out", function()
    expect(out("evil", "/etc/passwd")):is_true()
    expect(out("a/b/key", "/home/u/.ssh/id_rsa")):is_true()
    expect(out("up", "..")):is_true()
    expect(out("docs/up", "../../outside")):is_true()
    expect(out("docs/x/up", "../../../x")):is_true()
    expect(out("docs/up", "./.././../x")):is_true()
    expect(out("a/b", "c/../../../d")):is_true()
  end)

  it("keeps targets that stay inside, however they are spelled", function()
    expect(out("link", "a.txt")):is_false()
    expect(out("docs/link", "../a.txt")):is_false()
    expect(out("docs/x/link", "../../src/./a.c")):is_false()
    expect(out("link", "a/../b")):is_false()
    expect(out("link", "dir//sub/")):is_false()
    expect(out("link", ".")):is_false()
    expect(out("docs/link", "..")):is_false() -- the top itself
    expect(out("link", "~/.ssh/id_rsa")):is_false() -- a folder named ~: the kernel does not expand it
    expect(out("link", "")):is_false()
  end)

  it("takes the repository's .git folder as out", function()
    expect(out("hook", ".git/hooks/pre-commit")):is_true()
    expect(out("docs/cfg", "../.git/config")):is_true()
    expect(out("docs/cfg", "../x/../.git")):is_true()
    expect(out("link", "sub/.git")):is_false() -- a name like any other below the top
  end)

  it("follows the tree's other links on the way, as the kernel would", function()
    local links = { ["sub/up"] = "..", ["etc"] = "/etc", ["d"] = "sub", ["loop"] = "loop" }
    expect(out("x", "sub/up/..", links)):is_true() -- sub/up is the top; its .. is above
    expect(out("x", "sub/up/a.txt", links)):is_false()
    expect(out("x", "etc", links)):is_true() -- a link to a link that leads out
    expect(out("x", "etc/passwd", links)):is_true()
    expect(out("x", "d/../..", links)):is_true() -- d is sub: sub/.. is the top, then above
    expect(out("x", "d/..", links)):is_false()
    expect(out("x", "loop/a", links)):is_false() -- resolves nowhere, not out
    local chain = {}
    for i = 1, 100 do
      chain["l" .. i] = "l" .. (i + 1)
    end
    chain.l101 = "/etc"
    expect(out("x", "l1", chain)):is_false() -- past MAX_FOLLOWS the kernel gives up too
    chain.l101, chain.l30 = nil, "/etc"
    expect(out("x", "l1", chain)):is_true()
  end)
end)

describe("symlinks_out.policy", function()
  it("lets a link through when the run's gate or config's gates now allow or warn", function()
    local run = { gates = { results = { symlinks_out = { policy = "block" } } } }
    expect(symlinks_out.policy(run, nil)):equals("block")
    expect(symlinks_out.policy(run, { symlinks_out = "allow" })):equals("allow")
    expect(symlinks_out.policy({}, { symlinks_out = "warn" })):equals("warn")
    run.gates.results.symlinks_out.policy = "allow"
    expect(symlinks_out.policy(run, { symlinks_out = "block" })):equals("allow")
    expect(symlinks_out.policy({}, {})):equals("block")
  end)

  it("clips a long target in what it says", function()
    expect(symlinks_out.phrase({ path = "a", target = "/etc/passwd" })):equals("a -> /etc/passwd")
    expect(#symlinks_out.phrase({ path = "a", target = "/" .. ("x"):rep(5000) })):equals(#"a -> " + 203)
  end)
end)

describe("symlinks_out.between", function()
  it("reads the links a change adds or changes from the trees, in-process", function()
    local dir = os.tmpname()
    os.remove(dir)
    local function sh(script)
      local r = proc.run({ "sh", "-c", script }, { cwd = dir })
      assert(r.code == 0, r.stderr)
      return (r.stdout:gsub("\n$", ""))
    end
    proc.run({ "mkdir", "-p", dir })
    sh("git init -q . && mkdir sub && ln -s .. sub/up && ln -s a.txt inside && echo a >a.txt && git add -A && "
      .. "git -c user.email=t@e -c user.name=t commit -qm base")
    local base = sh("git rev-parse HEAD^{tree}")
    sh("ln -s /etc/passwd evil && ln -s sub/up/../outside sneaky && ln -sfn ../../x inside && rm a.txt && "
      .. "ln -s a.txt fine && git add -A")
    local result = sh("git write-tree")
    local links = symlinks_out.between(dir, base, result)
    expect(links):equals({ { path = "evil", target = "/etc/passwd" }, { path = "inside", target = "../../x" },
      { path = "sneaky", target = "sub/up/../outside" } })
    expect(symlinks_out.between(dir, base, base)):equals({})
    local all = symlinks_out.tree_links(dir, result)
    expect(all["sub/up"]):equals("..")
    local none, why = symlinks_out.between(dir, base, ("0"):rep(40))
    expect(none):is_nil()
    expect(why):contains("0000000000")
    proc.run({ "rm", "-rf", dir })
  end)
end)

describe("symlinks_out.of_change", function()
  it("reads the changed files that are links now, from the tree or from the links themselves", function()
    local dir = os.tmpname()
    os.remove(dir)
    local function sh(script)
      local r = proc.run({ "sh", "-c", script }, { cwd = dir })
      assert(r.code == 0, r.stderr)
      return (r.stdout:gsub("\n$", ""))
    end
    proc.run({ "mkdir", "-p", dir })
    sh("git init -q . && ln -s /etc/passwd pw && ln -s a.txt in && echo a >a.txt && mkdir d && ln -s ../../x d/up "
      .. "&& git add -A")
    local tree = sh("git write-tree")
    local files = { { path = "a.txt", change = "added" }, { path = "d/up", change = "added" },
      { path = "gone", change = "deleted" }, { path = "in", change = "added" }, { path = "pw", change = "added" } }
    local want = { { path = "d/up", target = "../../x" }, { path = "pw", target = "/etc/passwd" } }
    expect(symlinks_out.of_change(dir .. "/d", files, tree)):equals(want)
    expect(symlinks_out.of_change(dir, files, nil)):equals(want)
    expect(symlinks_out.of_change(dir, { { path = "a.txt", change = "modified" } }, tree)):equals({})
    expect(symlinks_out.of_change(dir, {}, nil)):equals({})
    proc.run({ "rm", "-rf", dir })
  end)
end)
