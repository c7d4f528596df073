-- The Lua side of "no secret leaves": one refusal of secret input files for every command, files
-- an agent wrote rewritten redacted, names derived from inputs made from redacted text, and the
-- config's `secrets` section.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local config = require("sidecar.core.config")
local secrets = require("sidecar.core.secrets")
local sidecar_task = require("sidecar.task.prepared")
local task_packet = require("sidecar.task.packet")

local KEY = "sk-" .. "proj-" .. ("Qx7"):rep(16) -- in pieces: no whole key in this file

local write = test.write

local function read(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

local dir
test.before_each(function()
  dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
end)
test.after_each(function()
  os.execute("rm -rf '" .. dir .. "'")
  secrets.configure({})
end)

describe("secrets.refuse_inputs", function()
  it("is nil when no path is a secret file", function()
    expect(secrets.refuse_inputs({ "notes.txt", "src/a.lua", ".env.example" }, "--read")):is_nil()
    expect(secrets.refuse_inputs({}, "--read")):is_nil()
    expect(secrets.refuse_inputs(nil, "--read")):is_nil()
  end)

  it("names the option, the rule that matched and what to do instead", function()
    local m = secrets.refuse_inputs({ "notes.txt", "config/.env" }, "--read")
    expect(m):equals("--read: 'config/.env' looks like a secrets file (.env*); Sidecar never passes such files to an "
      .. "agent — name a redacted copy instead")
  end)

  it("puts the index where the label asks for it", function()
    expect(secrets.refuse_inputs({ "a", "b", "home/.ssh/id_ed25519" }, "files[%d]")):matches("^files%[3%]: ")
  end)
end)

describe("task_packet.refused_inputs", function()
  it("refuses a packet that tells the agent to read a secret file", function()
    local p = assert(task_packet.check({ title = "t", implementation = { files_to_read = { "a.md", "id_rsa" } } }))
    expect(task_packet.refused_inputs(p)):matches("^implementation%.files_to_read%[2%]: 'id_rsa' looks like")
    p = assert(task_packet.check({ title = "t", context = { related_notes = { "deploy/.npmrc" } } }))
    expect(task_packet.refused_inputs(p)):matches("^context%.related_notes%[1%]: '")
  end)

  it("lets files to avoid name secret files: they keep the agent away", function()
    local p = assert(task_packet.check({ title = "t", implementation = { files_to_avoid = { ".env" },
      files_to_read = { "README.md" } } }))
    expect(task_packet.refused_inputs(p)):is_nil()
  end)
end)

describe("secrets.redact_file", function()
  it("rewrites the file redacted, with nothing left beside it", function()
    local path = dir .. "/last-message.txt"
    write(path, "found " .. KEY .. "\nbye")
    expect(secrets.redact_file(path)):is_true()
    expect(read(path)):equals("found [REDACTED:openai-key]\nbye")
    expect(read(path .. ".redacting")):is_nil()
  end)

  it("leaves a missing file missing", function()
    expect(secrets.redact_file(dir .. "/none.txt")):is_true()
    expect(read(dir .. "/none.txt")):is_nil()
  end)

  it("catches a secret that straddles two of its reads", function()
    local path = dir .. "/big.txt"
    local pad = ("x"):rep((1 << 16) - 20) .. " "
    write(path, pad .. KEY .. " end")
    expect(secrets.redact_file(path)):is_true()
    expect(read(path)):equals(pad .. "[REDACTED:openai-key] end")
  end)
end)

describe("names derived from inputs", function()
  it("a prepare input's file name comes from the redacted command", function()
    expect(sidecar_task.slug("echo OPENAI_API_KEY=" .. KEY)):equals("echo-openai-api-key-redacted-openai-key")
    expect(sidecar_task.slug("git status --short")):equals("git-status-short")
  end)
end)

describe("config: the secrets section", function()
  local function load(text)
    os.execute("mkdir -p '" .. dir .. "/.agent'")
    write(dir .. "/.agent/config.lua", text)
    require("sidecar.core.trust").set_policy("all") -- this spec's own repository: no `sidecar trust` needed
    local cfg, why, code = config.load(dir .. "/.agent")
    require("sidecar.core.trust").set_policy(nil)
    return cfg, why, code
  end

  it("defaults to empty lists", function()
    local cfg = assert(load("return {}"))
    expect(#cfg.secrets.patterns + #cfg.secrets.names + #cfg.secrets.allow_names + #cfg.secrets.files
      + #cfg.secrets.allow_files):equals(0)
  end)

  it("refuses a wrong type or an unknown key, naming it", function()
    local cfg, why, code = load('return { secrets = { names = "X_PIN" } }')
    expect(cfg):is_nil()
    expect(code):equals("bad_config")
    expect(why):contains("secrets.names: expected a list of strings, got string")
    cfg, why = load("return { secrets = { patterns = { 42 } } }")
    expect(why):contains("secrets.patterns[1]: expected a string, got number")
    cfg, why = load("return { secrets = { pattern = {} } }")
    expect(why):contains("secrets.pattern: unknown setting")
  end)

  it("applies its rules to every later redact and is_secret_file", function()
    local token = "acme_" .. "live_" .. ("9f"):rep(16)
    assert(load('return { secrets = { patterns = { "acme_live_[0-9a-f]{32}" }, names = { "LOCKER_*" }, '
      .. 'files = { "*.vault" }, allow_files = { "fixtures/test.pem" } } }'))
    expect((secrets.redact("t " .. token))):equals("t [REDACTED:acme-live]")
    expect((secrets.redact("LOCKER_PIN=12345678"))):equals("LOCKER_PIN=[REDACTED:LOCKER_PIN]")
    expect(secrets.refuse_inputs({ "prod.vault" }, "--read")):contains("secrets.files")
    expect(secrets.refuse_inputs({ "fixtures/test.pem" }, "--read")):is_nil()
    assert(load("return {}")) -- another project's config replaces them
    expect((secrets.redact("t " .. token))):equals("t " .. token)
    expect(secrets.refuse_inputs({ "fixtures/test.pem" }, "--read")):contains("*.pem")
  end)

  it("refuses a rule the matcher cannot take, naming it", function()
    local cfg, why, code = load('return { secrets = { patterns = { "ab" } } }')
    expect(cfg):is_nil()
    expect(code):equals("bad_config")
    expect(why):matches("config%.lua: secrets%.patterns%[1%]: expected PREFIX%[CLASS%]{COUNT}")
  end)

  it("documents the section in the template, which loads", function()
    expect(config.TEMPLATE):contains("  secrets = {")
    local cfg = assert(load(config.TEMPLATE))
    expect(#cfg.secrets.patterns):equals(0)
  end)
end)
