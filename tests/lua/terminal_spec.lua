-- What the `sidecar` executable prints passes the redactor (stdlib/sidecar/core/terminal.lua), seen from
-- outside: each case runs the binary on a chunk and reads its stdout and stderr.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local proc = require("sidecar.core.proc")

-- Built from pieces so that this file, and any listing of it, holds no whole key.
local KEY = "sk-" .. "proj-" .. ("Zq9"):rep(16)
local LABEL = "[REDACTED:openai-key]"

local function sidecar(args, opts)
  local argv = { proc.executable() }
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  opts = opts or {}
  opts.env = opts.env or {}
  opts.env.PLANTED_TEXT = KEY
  return proc.run(argv, opts)
end

local function lua(code, opts)
  return sidecar({ "-e", code }, opts)
end

describe("terminal: what Lua prints", function()
  it("print redacts, and keeps tabs, tostring and the newline", function()
    local r = lua('print("key " .. os.getenv("PLANTED_TEXT"), 1, 2.5, nil, true)')
    expect(r.code):equals(0)
    expect(r.stdout):equals("key " .. LABEL .. "\t1\t2.5\tnil\ttrue\n")
  end)

  it("print() prints an empty line", function()
    expect(lua("print()").stdout):equals("\n")
  end)

  it("io.write redacts a secret split across its arguments, numbers as liolib writes them", function()
    local r = lua('local k = os.getenv("PLANTED_TEXT"); io.write(k:sub(1, 10), k:sub(11), " ", 1, " ", 1.0, "\\n")')
    expect(r.stdout):equals(LABEL .. " 1 1\n")
  end)

  it("io.stdout:write and io.stderr:write redact and still chain", function()
    local r = lua('io.stdout:write(os.getenv("PLANTED_TEXT"), "\\n"):write("next\\n"); '
      .. 'io.stderr:write("err ", os.getenv("PLANTED_TEXT"), "\\n")')
    expect(r.stdout):equals(LABEL .. "\nnext\n")
    expect(r.stderr):equals("err " .. LABEL .. "\n")
  end)

  it("a bad argument to write is the error write gives", function()
    local r = lua("io.write({})")
    expect(r.code):equals(1)
    expect(r.stderr):contains("bad argument #1 to 'write' (string expected, got table)")
  end)

  it("a file the script opens is written as it is, io.write to it too", function()
    local path = os.tmpname()
    local r = lua(('local f = assert(io.open(%q, "w")); f:write(os.getenv("PLANTED_TEXT")); io.output(f); '
      .. 'io.write(" ", os.getenv("PLANTED_TEXT")); io.close(f)'):format(path))
    expect(r.code):equals(0)
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    os.remove(path)
    expect(text):equals(KEY .. " " .. KEY)
  end)

  it("an error message is redacted, its traceback kept", function()
    local r = lua('error("cannot use " .. os.getenv("PLANTED_TEXT"))')
    expect(r.code):equals(1)
    expect(r.stderr):contains("cannot use " .. LABEL)
    expect(r.stderr):contains("stack traceback:")
    expect(r.stderr:find(KEY, 1, true)):is_nil()
  end)

  it("a script's own output is redacted too", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write('print(...) io.stderr:write(os.getenv("PLANTED_TEXT"), "\\n")')
    f:close()
    local r = sidecar({ "script", path, KEY })
    os.remove(path)
    expect(r.stdout):equals(LABEL .. "\n")
    expect(r.stderr):equals(LABEL .. "\n")
  end)

  it("a syntax error quoting a secret is redacted, in the REPL and in a script", function()
    local r = sidecar({ "repl" }, { stdin = ("x = 1 %q\n"):format(KEY) })
    expect(r.stderr):contains("unexpected symbol near '\"" .. LABEL .. "\"'")
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(("x = 1 %q"):format(KEY))
    f:close()
    r = sidecar({ "script", path })
    os.remove(path)
    expect(r.stderr):contains(LABEL)
    expect(r.stderr:find(KEY, 1, true)):is_nil()
  end)

  it("the REPL's shown results are redacted", function()
    local r = sidecar({ "repl" }, { stdin = 'os.getenv("PLANTED_TEXT")\nprint(os.getenv("PLANTED_TEXT"))\n' })
    expect(r.stdout):equals('"' .. LABEL .. '"\n' .. LABEL .. "\n")
  end)
end)

describe("terminal: control sequences are shown, never obeyed", function()
  it("print, io.write and both streams' write neutralise escapes, keeping newlines, tabs and CRLF", function()
    local r = lua([[print("\27[31mred\27[0m\tok") io.write("a\rb\r\n") io.stdout:write("\27]0;t\7\n")
      io.stderr:write("\u{9b}2J \u{202e}cod.exe R\xe9sum\xe9\n")]])
    expect(r.code):equals(0)
    expect(r.stdout):equals("^[[31mred^[[0m\tok\na^Mb\r\n^[]0;t^G\n")
    expect(r.stderr):equals("<U+009B>2J <U+202E>cod.exe R\\xE9sum\\xE9\n")
  end)

  it("an error message is neutralised too, its traceback kept", function()
    local r = lua('error("bad \\27[2J title")')
    expect(r.stderr):contains("bad ^[[2J title")
    expect(r.stderr):contains("stack traceback:\n\t")
  end)

  it("write_raw is for Sidecar's own sequences: redacted, not neutralised", function()
    local r = lua('require("sidecar.core.terminal").write_raw(io.stderr, "\\r\\27[K ", os.getenv("PLANTED_TEXT"))')
    expect(r.stderr):equals("\r\27[K " .. LABEL)
  end)

  it("JSON output passes unchanged: the writer escapes what a terminal would obey", function()
    local r = lua([[print(require("sidecar.core.json").encode({ t = "\27[31m \u{9b} \u{202e} \u{2028} \127 é" }))]])
    expect(r.stdout):equals('{"t":"\\u001b[31m \\u009b \\u202e \\u2028 \\u007f é"}\n')
    expect(require("sidecar.core.json").decode(r.stdout).t):equals("\27[31m \u{9b} \u{202e} \u{2028} \127 é")
  end)
end)

describe("terminal: the project's own rules", function()
  it("apply to a script run anywhere below the project's .agent/config.lua", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p '" .. dir .. "/.agent' '" .. dir .. "/src/deep'")
    local f = assert(io.open(dir .. "/.agent/config.lua", "w"))
    f:write('return { secrets = { patterns = { "acme_live_[0-9a-f]{32}" }, names = { "LOCKER_COMBINATION" } } }')
    f:close()
    local token = "acme_" .. "live_" .. ("0a1b"):rep(8)
    -- This spec's own repository: its config runs without `sidecar trust` (stdlib/sidecar/core/trust.lua).
    local r = lua(('print(%q, "LOCKER_COMBINATION=12345678")'):format(token),
      { cwd = dir .. "/src/deep", env = { SIDECAR_TRUST = "all" } })
    local outside = lua(('print(%q)'):format(token), { cwd = "/" })
    os.execute("rm -rf '" .. dir .. "'")
    expect(r.stdout):equals("[REDACTED:acme-live]\tLOCKER_COMBINATION=[REDACTED:LOCKER_COMBINATION]\n")
    expect(outside.stdout):equals(token .. "\n")
  end)
end)

describe("terminal: what the command line echoes", function()
  it("a parse error does not echo a secret argument", function()
    local r = sidecar({ "prepare", "echo OPENAI_API_KEY=" .. KEY })
    expect(r.code):equals(2)
    expect(r.stderr):contains(LABEL)
    expect(r.stderr:find(KEY, 1, true)):is_nil()
  end)

  it("an unknown command named by a secret is not echoed", function()
    local r = sidecar({ KEY })
    expect(r.code):equals(2)
    expect(r.stderr):contains("unknown command '" .. LABEL .. "'")
  end)
end)
