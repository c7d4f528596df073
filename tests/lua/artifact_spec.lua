local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local artifact = require("sidecar.core.artifact")
local json = require("sidecar.core.json")

local root
test.before_each(function()
  root = os.tmpname()
  os.remove(root)
end)
test.after_each(function()
  os.execute("rm -rf '" .. root .. "'")
end)

describe("artifact folders", function()
  it("write atomically and read back, creating folders on the way", function()
    local dir = assert(artifact.open(root, { create = true }))
    expect(dir:write("a/b/prompt.md", "# Prompt\n")):is_true()
    expect(dir:read("a/b/prompt.md")):equals("# Prompt\n")
    expect(dir:exists("a/b/prompt.md")):is_true()
    expect(dir:list("**/*.md")):equals({ "a/b/prompt.md" })
  end)

  it("write JSON with sorted keys, 2-space indent and a trailing newline", function()
    local dir = assert(artifact.open(root, { create = true }))
    assert(dir:write_json("model.json", { task_id = "t", usage = { total_tokens = json.null }, created_at = "x" }))
    expect(dir:read("model.json")):equals(
      '{\n  "created_at": "x",\n  "task_id": "t",\n  "usage": {\n    "total_tokens": null\n  }\n}\n')
    expect(dir:read_json("model.json").task_id):equals("t")
  end)

  it("keep a log's last lines, a missing log being fine", function()
    local dir = assert(artifact.open(root, { create = true }))
    for i = 1, 5 do
      assert(dir:append_jsonl("log.jsonl", { i = i }))
    end
    expect(dir:keep_last_lines("log.jsonl", 2)):is_true()
    expect(dir:read("log.jsonl")):equals('{"i":4}\n{"i":5}\n')
    expect(dir:keep_last_lines("missing.jsonl", 2)):is_true()
    expect(function() dir:keep_last_lines("log.jsonl", -1) end):raises("count of lines")
  end)

  it("append JSON lines and read them back, ignoring an unfinished last line", function()
    local dir = assert(artifact.open(root, { create = true }))
    assert(dir:append_jsonl("events.jsonl", { kind = "a" }))
    assert(dir:append_jsonl("events.jsonl", { kind = "b" }, true))
    local f = assert(io.open(root .. "/events.jsonl", "a"))
    f:write('{"kind":"c"') -- a crash mid-line
    f:close()
    local events = assert(dir:read_jsonl("events.jsonl"))
    expect(#events):equals(2)
    expect(events[2].kind):equals("b")
  end)

  it("refuse paths that leave the folder, as data with a code", function()
    local dir = assert(artifact.open(root, { create = true }))
    local cases = {
      { "../x", "ESCAPE" }, { "/etc/passwd", "ESCAPE" }, { "a/../../x", "ESCAPE" }, { "", "EINVAL" },
    }
    for _, c in ipairs(cases) do
      local ok, message, code = dir:write(c[1], "x")
      expect(ok):is_nil()
      expect(code):equals(c[2])
      expect(message):contains("refused path")
    end
    os.execute("ln -s /etc '" .. root .. "/etc_link'")
    local data, message, code = dir:read("etc_link/passwd")
    expect(data):is_nil()
    expect(code):equals("ESYMLINK")
    expect(message):contains("symbolic link")
  end)

  it("redact secrets from everything written", function()
    local dir = assert(artifact.open(root, { create = true }))
    local key = "sk-proj-" .. string.rep("Ab3", 12)
    assert(dir:write("out.md", "the key is " .. key .. "\n"))
    assert(dir:append_jsonl("events.jsonl", { text = key }))
    assert(dir:write_json("model.json", { key = key }))
    for _, name in ipairs({ "out.md", "events.jsonl", "model.json" }) do
      local text = dir:read(name)
      expect(text:find(key, 1, true)):is_nil()
      expect(text):contains("[REDACTED:openai-key]")
    end
  end)

  it("create_dir is exclusive: the second creator gets EEXIST", function()
    local dir = assert(artifact.open(root, { create = true }))
    expect(dir:create_dir("sidecars/T-1")):is_true()
    local ok, message, code = dir:create_dir("sidecars/T-1")
    expect(ok):is_nil()
    expect(code):equals("EEXIST")
    expect(message):contains("already exists")
  end)

  it("report a missing file and malformed JSON as data", function()
    local dir = assert(artifact.open(root, { create = true }))
    local v, _, code = dir:read_json("none.json")
    expect(v):is_nil()
    expect(code):equals("ENOENT")
    assert(dir:write("bad.json", "{nope"))
    v, _, code = dir:read_json("bad.json")
    expect(v):is_nil()
    expect(code):equals("EJSON")
  end)

  it("open fails as data for a missing folder without create, and closes with <close>", function()
    local dir, message, code = artifact.open(root .. "/missing")
    expect(dir):is_nil()
    expect(code):equals("ENOENT")
    expect(message):contains("missing")
    do
      local d <close> = assert(artifact.open(root, { create = true }))
      expect(tostring(d)):contains(root)
    end
  end)
end)
