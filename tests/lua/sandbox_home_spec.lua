local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local home = require("sidecar.run.sandbox_home")
local mounts = require("sidecar.run.sandbox_mounts")
local state = require("sidecar.run.sandbox_state")
local paths = require("sidecar.host.paths")

local write = test.write

local temp_dir = test.temp_dir

-- The index of the first argument sequence `a, b, c` in list, or nil.
local function find(list, ...)
  local want = { ... }
  for i = 1, #list - #want + 1 do
    local all = true
    for j, w in ipairs(want) do
      all = all and list[i + j - 1] == w
    end
    if all then
      return i
    end
  end
end

describe("sandbox_home.without_credentials", function()
  it("leaves out credential sections, sections named by a URL with a token, and secret lines", function()
    local text = table.concat({ "[user]", "\tname = T", "[credential]", "\thelper = store",
      "[credential \"https://x\"]", "\tusername = u", "[url \"https://u:tok@git.example/\"]", "\tinsteadOf = https://g/",
      "[http]", "\textraHeader = Authorization: Bearer abc", "\tsslVerify = true", "[core]", "\teditor = vi" }, "\n")
    expect(home.without_credentials(text)):equals(table.concat({ "[user]", "\tname = T", "[http]", "\tsslVerify = true",
      "[core]", "\teditor = vi", "" }, "\n"))
  end)
end)

describe("sandbox_home.plan", function()
  it("hides the home but its toolchains, and gives git's config as a copy without credentials", function()
    local h, scratch = temp_dir(), temp_dir()
    assert(paths.make_dirs(h .. "/.cargo/bin") and paths.make_dirs(h .. "/.aws"))
    write(h .. "/.gitconfig", "[user]\n\tname = T\n[credential]\n\thelper = store\n")
    local p = home.plan(h, {}, scratch)
    expect(p.hidden):equals(true)
    expect(p.read):equals({ h .. "/.cargo" })
    expect(#p.binds):equals(1)
    expect(p.binds[1].to):equals(h .. "/.gitconfig")
    expect(require("sidecar.core.files").read(p.binds[1].from)):equals("[user]\n\tname = T\n")
  end)

  it("shows a git config without credentials as it is, read-only, and writes no copy", function()
    local h, scratch = temp_dir(), temp_dir()
    write(h .. "/.gitconfig", "[user]\n\tname = T\n[core]\n\teditor = vi\n")
    local p = home.plan(h, {}, scratch)
    expect(p.read):equals({ h .. "/.gitconfig" })
    expect(#p.binds):equals(0)
    expect(paths.entries(scratch)):equals({})
    local args = mounts.args({ network = "none", read = p.read, home = h, cwd = h })
    local hidden_at = find(args, "--tmpfs", h)
    local shown_at = find(args, "--ro-bind", h .. "/.gitconfig", h .. "/.gitconfig")
    expect(hidden_at ~= nil and shown_at ~= nil and shown_at > hidden_at):is_true()
    expect(find(args, "--bind", h .. "/.gitconfig", h .. "/.gitconfig")):equals(nil)
  end)

  it("shows the whole home when isolation.read names it", function()
    local h = temp_dir()
    expect(home.plan(h, { "~" }, h).hidden):equals(false)
    expect(home.plan(h, { h }, h).hidden):equals(false)
  end)
end)

describe("sandbox_mounts with a hidden home", function()
  it("makes the home empty after a folder above it is shown again, and shows its toolchains after that", function()
    local args = mounts.args({ network = "none", read = { "/tmp/w", "/tmp/w/home/.nvm", "/usr" },
      home = "/tmp/w/home", write = { "/tmp/w/home/src/repo" }, binds = { { from = "/s/1-.claude", to = "/tmp/w/home/.claude" } },
      cwd = "/tmp/w/home/src/repo" })
    local shown = find(args, "--ro-bind", "/tmp/w", "/tmp/w")
    local emptied = find(args, "--tmpfs", "/tmp/w/home")
    local nvm = find(args, "--ro-bind", "/tmp/w/home/.nvm", "/tmp/w/home/.nvm")
    local claude = find(args, "--bind", "/s/1-.claude", "/tmp/w/home/.claude")
    local repo = find(args, "--bind", "/tmp/w/home/src/repo", "/tmp/w/home/src/repo")
    expect(shown and emptied and nvm and claude and repo and true):equals(true)
    expect(shown < emptied and emptied < nvm and emptied < claude and emptied < repo):equals(true)
  end)

  it("binds the run's CLI state folder, and a writable checkout, after another bind of the same path", function()
    -- the mounts are sorted, and a sort of equal keys may give either order: plans of many shapes
    for n = 0, 5 do
      for m = 0, 5 do
        local write, hide, outputs = { "/w/repo", "/w/codex-home" }, {}, {}
        for i = 1, n do
          write[#write + 1] = ("/w/a%d"):format(i)
        end
        for i = 1, m do
          hide[#hide + 1], outputs[#outputs + 1] = ("/w/codex-home/x%d"):format(i), ("/w/repo/o%d"):format(i)
        end
        local args = mounts.args({ network = "none", write = write, hide_files = hide, outputs = outputs,
          binds = { { from = "/s/1-codex-home", to = "/w/codex-home" }, { from = "/s/gitconfig", to = "/w/.gitconfig" } },
          cwd = "/w/repo" })
        local users = find(args, "--bind", "/w/codex-home", "/w/codex-home")
        local runs = find(args, "--bind", "/s/1-codex-home", "/w/codex-home")
        expect(users and runs and users < runs):equals(true)
        -- a checkout in the hidden home, written in place and shown read-only too (a PATH folder)
        local in_home = { "/h" }
        for i = 1, n + m do
          in_home[#in_home + 1] = ("/h/bin%d"):format(i)
        end
        in_home[#in_home + 1] = "/h/src/repo"
        local shown = mounts.args({ network = "none", home = "/h", read = in_home, write = { "/h/src/repo", "/w/a" },
          hide_files = hide, outputs = outputs, binds = { { from = "/s/g", to = "/h/.gitconfig" } }, cwd = "/h/src/repo" })
        local ro = find(shown, "--ro-bind", "/h/src/repo", "/h/src/repo")
        local rw = find(shown, "--bind", "/h/src/repo", "/h/src/repo")
        expect(ro and rw and ro < rw):equals(true)
      end
    end
  end)
end)

describe("sandbox_state.plan", function()
  it("binds a folder of the run's over the CLI's, shows only the user's own files in it, copies state files", function()
    local h, run, scratch = temp_dir(), temp_dir(), temp_dir()
    assert(paths.make_dirs(h .. "/.codex/sessions"))
    write(h .. "/.codex/auth.json", "{}")
    write(h .. "/.claude.json", "{\"n\":1}")
    local p = assert(state.plan({ { path = h .. "/.codex", dir = true, keep = { "auth.json", "config.toml" } },
      { path = h .. "/.claude.json" } }, { dir = run, scratch = scratch }))
    expect(p.binds[1].from):equals(run .. "/1-.codex")
    expect(p.binds[1].to):equals(h .. "/.codex")
    expect(p.keep):equals({ h .. "/.codex/auth.json" }) -- config.toml does not exist: nothing to show
    expect(p.binds[2].to):equals(h .. "/.claude.json")
    expect(require("sidecar.core.files").read(p.binds[2].from)):equals("{\"n\":1}")
    expect(state.record(p)[1].path):equals(h .. "/.codex")
    expect(state.record({ binds = { { from = "/x/.agent/runs/R-0007/cli-state/1-.codex", to = "/h/.codex",
      persistent = true } } })[1].folder):equals("runs/R-0007/cli-state/1-.codex")
  end)

  it("starts a resumed run's folder from the resumed run's", function()
    local h, old, new, scratch = temp_dir(), temp_dir(), temp_dir(), temp_dir()
    assert(paths.make_dirs(h .. "/.codex") and paths.make_dirs(old .. "/1-.codex/sessions"))
    write(old .. "/1-.codex/sessions/s.jsonl", "turn one")
    assert(state.plan({ { path = h .. "/.codex", dir = true, keep = {} } }, { dir = new, seed = old, scratch = scratch }))
    expect(require("sidecar.core.files").read(new .. "/1-.codex/sessions/s.jsonl")):equals("turn one")
  end)
end)
