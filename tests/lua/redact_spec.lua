-- Redaction through the Lua boundary: proc's `redact` sink option (a secret a child writes in two
-- pieces, a pause between them, is caught in the file, the chunks and the collected text), the
-- streaming redactor, the rules a project adds with secrets.configure, and the policy as data.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect

local proc = require("sidecar.core.proc")
local secrets = require("sidecar.core.secrets")
local host = require("sidecar.host.secrets")

local temp_files = {}

local function temp_path()
  local path = os.tmpname()
  temp_files[#temp_files + 1] = path
  return path
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

test.after_each(function()
  for _, path in ipairs(temp_files) do
    os.remove(path)
  end
  temp_files = {}
  assert(secrets.configure({})) -- every test starts from the built-in rules
end)

-- Made-up key bodies, built at run time (no scanner takes this file for a leak).
local function body(n, seed)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  local out = {}
  for i = 1, n do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local k = (seed // 65536) % #alphabet + 1
    out[i] = alphabet:sub(k, k)
  end
  return table.concat(out)
end

local GITHUB = "ghp_" .. body(36, 3)
local OPENAI = "sk-" .. "proj-" .. body(40, 5)

-- A shell script printing `before`, the first half of `key`, pausing, then the rest and `after`.
local function split_writer(key, before, after, fd)
  local half = #key // 2
  local redirect = fd == 2 and " >&2" or ""
  return { "sh", "-c", ("printf '%%s' \"$P1\"%s; sleep 0.2; printf '%%s\\n' \"$P2\"%s"):format(redirect, redirect),
    env = { P1 = before .. key:sub(1, half), P2 = key:sub(half + 1) .. after } }
end

describe("proc: the redact sink option", function()
  it("redacts a secret written in two pieces: the file, the chunks and the collected text", function()
    local out, err = temp_path(), temp_path()
    local w = split_writer(GITHUB, "token ", " in the remote", 1)
    local chunks = {}
    local h = proc.spawn({ w[1], w[2], w[3] .. "; " .. split_writer(OPENAI, "key=", "", 2)[3] }, {
      env = { P1 = w.env.P1, P2 = w.env.P2 },
      stdout = { file = out, redact = true, collect = true, on_chunk = function(c) chunks[#chunks + 1] = c end },
      stderr = { file = err, redact = true },
    })
    local r = h:wait()
    expect(r.code):equals(0)
    local want = "token [REDACTED:github-token] in the remote\n"
    expect(read(out)):equals(want)
    expect(r.stdout):equals(want)
    expect(table.concat(chunks)):equals(want)
    expect(r.stdout_bytes):equals(#("token " .. GITHUB .. " in the remote\n")) -- counted as read
    -- stderr printed the same two pieces (P1 and P2 again): redacted by name this time.
    expect(read(err)):equals("token [REDACTED:github-token] in the remote\n")
  end)

  it("proc.run collects redacted text, and a file-only sink is redacted too", function()
    local file = temp_path()
    local w = split_writer(OPENAI, "DB_PASSWORD=hunter22 key ", "", 1)
    local r = proc.run(w, { env = w.env, stdout = { redact = true } })
    expect(r.stdout):equals("DB_PASSWORD=[REDACTED:DB_PASSWORD] key [REDACTED:openai-key]\n")
    r = proc.run(w, { env = w.env, stdout = { file = file, collect = false, redact = true } })
    expect(r.stdout):is_nil()
    expect(read(file)):equals("DB_PASSWORD=[REDACTED:DB_PASSWORD] key [REDACTED:openai-key]\n")
  end)

  it("leaves the bytes alone without it, and checks its type", function()
    local w = split_writer(GITHUB, "", "", 1)
    expect(proc.run(w, { env = w.env }).stdout):equals(GITHUB .. "\n")
    local e = expect(function() proc.run({ "true" }, { stdout = { redact = "yes" } }) end):raises()
    expect(tostring(e)):contains("option 'stdout.redact' must be a boolean, got string")
  end)

  it("redacts the values of the variables the child was given", function()
    local value = "v-" .. body(20, 9)
    local r = proc.run({ "sh", "-c", "printf 'x %s y' \"$SERVICE_API_KEY\"" },
      { env = { SERVICE_API_KEY = value }, stdout = { redact = true } })
    expect(r.stdout):equals("x [REDACTED:SERVICE_API_KEY] y")
  end)
end)

describe("secrets.stream", function()
  it("holds an unfinished line and redacts it whole", function()
    local s <close> = secrets.stream()
    expect(s:feed("found " .. GITHUB:sub(1, 10))):equals("")
    expect(s:feed(GITHUB:sub(11) .. "\nnext")):equals("found [REDACTED:github-token]\n")
    local rest, count = s:finish()
    expect(rest):equals("next")
    expect(count):equals(1)
    expect(tostring(s)):equals("secret stream (closed)")
    local e = expect(function() s:feed("x") end):raises()
    expect(tostring(e)):contains("attempt to use a closed secret stream")
  end)

  it("gives what redact gives for the whole text, whatever the chunks", function()
    local text = table.concat({ "export MY_API_KEY=" .. body(30, 1), "plain line", "Authorization: Basic " .. body(20, 2),
      "https://u:" .. body(12, 3) .. "@host/x", OPENAI .. " " .. GITHUB, "tail without a break" }, "\n")
    local whole = secrets.redact(text)
    for size = 1, 40, 3 do
      local s = secrets.stream()
      local out = {}
      for at = 1, #text, size do
        out[#out + 1] = s:feed(text:sub(at, at + size - 1))
      end
      out[#out + 1] = s:finish()
      expect(table.concat(out)):equals(whole)
    end
  end)
end)

describe("secrets.configure", function()
  it("adds patterns, names and files, and replaces them on the next call", function()
    local hex = ("0123456789abcdef"):rep(2)
    expect(secrets.configure({ patterns = { "acme_live_[0-9a-f]{32}", { kind = "corp", prefix = "CORP-", charset = "alnum",
      min = 10, max = 20 } }, names = { "LOCKER_*" }, allow_names = { "DB_PASSWORD" }, files = { "*.vault" },
      allow_files = { "fixtures/*.pem" } })):is_true()
    expect(secrets.redact("a acme_live_" .. hex .. " b CORP-" .. body(12, 4) .. " LOCKER_CODE=" .. body(10, 5) ..
      " DB_PASSWORD=visible1")):equals("a [REDACTED:acme-live] b [REDACTED:corp] LOCKER_CODE=[REDACTED:LOCKER_CODE] " ..
      "DB_PASSWORD=visible1")
    expect(secrets.is_secret_file("x/prod.vault")):is_true()
    expect(secrets.is_secret_file("tests/fixtures/key.pem")):is_false()
    expect(secrets.configure({ names = { "OTHER_*" } })):is_true()
    expect(secrets.redact("acme_live_" .. hex)):equals("acme_live_" .. hex)
    expect(secrets.is_secret_file("x/prod.vault")):is_false()
    expect(secrets.is_secret_file("tests/fixtures/key.pem")):is_true()
  end)

  it("names a bad entry by its path", function()
    local cases = {
      { { patterns = { "acme_[0-9]{8}", { prefix = "ab" } } }, "patterns[2].prefix: expected a string of at least 3 bytes" },
      { { patterns = { { prefix = "abc_", min = 0 } } }, "patterns[1].min: expected a whole number from 1 to 4096" },
      { { patterns = { { prefix = "abc_", colour = 1 } } }, "patterns[1].colour: unknown field (expected charset, kind" },
      { { patterns = { "acme_live" } }, "patterns[1]: expected PREFIX[CLASS]{COUNT}" },
      { { patterns = { 42 } }, "patterns[1]: expected a string such as acme_live_[0-9a-f]{32} or a table" },
      { { names = { "OK", 3 } }, "names[2]: expected a string, got number" },
      { { names = { "bad name" } }, "names[1]: expected a variable name or a glob of one" },
      { { files = "x" }, "files: expected a list of strings, got string" },
      { { bogus = {} }, "bogus: unknown field (expected allow_files, allow_names, files, names, patterns)" },
    }
    for _, case in ipairs(cases) do
      local ok, why = secrets.configure(case[1])
      expect(ok):is_nil()
      expect(why:sub(1, #case[2])):equals(case[2])
    end
    -- The host function raises, under "secrets." unless told another place.
    local e = expect(function() host.configure({ patterns = { { prefix = "ab" } } }) end):raises()
    expect(tostring(e)):contains("secrets.patterns[1].prefix: expected a string of at least 3 bytes")
    e = expect(function() host.configure(7) end):raises()
    expect(tostring(e)):contains("secrets: expected a table of rules, got number")
    -- A refused table changes nothing.
    expect(secrets.configure({ names = { "KEEP_*" } })):is_true()
    expect(secrets.configure({ names = { "bad name" } })):is_nil()
    expect(secrets.redact("KEEP_X=" .. body(10, 6))):equals("KEEP_X=[REDACTED:KEEP_X]")
  end)

  it("lists the built-in kinds", function()
    local kinds = secrets.kinds()
    local set = {}
    for _, k in ipairs(kinds) do
      set[k] = true
    end
    for _, k in ipairs({ "openai-key", "anthropic-key", "github-token", "aws-secret-key", "private-key", "url-password",
      "basic-auth", "jwt" }) do
      expect(set[k]):is_true()
    end
  end)
end)

describe("the secrets policy (sidecar.core.secret_rules)", function()
  local rules = require("sidecar.core.secret_rules")
  local token = "zq_" .. ("0123456789abcdef"):rep(2)

  -- A copy of the policy with `edit` applied, in force for `body`; the module's own policy after.
  local function with_policy(edit, body)
    local copy = {}
    for k, v in pairs(rules) do
      copy[k] = table.move(v, 1, #v, 1, {})
    end
    edit(copy)
    host.set_policy(copy)
    local ok, err = pcall(body)
    host.set_policy(rules)
    assert(ok, err)
  end

  it("is what the host reads from the built-in file without Lua", function()
    local built_in, err = host.default_policy()
    expect(err):is_nil()
    expect(built_in):equals(rules)
  end)

  it("redacts a shape added to the data", function()
    expect(secrets.redact(token)):equals(token)
    with_policy(function(p)
      p.patterns[#p.patterns + 1] = { pattern = "zq_[0-9a-f]{24,}", kind = "zq-token" }
    end, function()
      expect(secrets.redact("a " .. token)):equals("a [REDACTED:zq-token]")
      local kinds = {}
      for _, k in ipairs(secrets.kinds()) do
        kinds[k] = true
      end
      expect(kinds["zq-token"]):is_true()
    end)
  end)

  it("redacts nothing of a kind the data leaves out", function()
    local key = "sk-" .. ("Ab3"):rep(14)
    with_policy(function(p)
      p.patterns, p.names, p.files, p.folders = {}, {}, {}, {}
    end, function()
      expect(secrets.redact(key .. " DB_PASSWORD=" .. ("x1"):rep(6))):equals(key .. " DB_PASSWORD=" .. ("x1"):rep(6))
      expect(secrets.is_secret_file(".env")):is_false()
      expect(secrets.redact("Authorization: Bearer " .. ("Ab3"):rep(8))):equals("Authorization: Bearer [REDACTED:bearer-token]")
    end)
    expect(secrets.redact(key)):equals("[REDACTED:openai-key]")
  end)

  it("names a bad entry by its path", function()
    local e = expect(function() host.set_policy({ patterns = { { pattern = "ab_[a-z]{4}" } } }) end):raises()
    expect(tostring(e)):contains("secret_rules: patterns[1]: expected {pattern =")
    e = expect(function() host.set_policy({ names = { 1.5 } }) end):raises()
    expect(tostring(e)):contains("secret_rules.names[1]: expected a string, an integer or a table, got number")
    expect(secrets.redact(("sk-" .. ("Ab3"):rep(14)))):equals("[REDACTED:openai-key]")
  end)
end)
