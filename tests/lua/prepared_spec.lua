-- `sidecar prepare`: what sidecar.task.prepared writes into a task folder, what it refuses before
-- anything is created, and the preset prompts sidecar.cli.prepare gives it (their answer formats
-- written by sidecar.formats, so an answer in them reads back).
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local cli_prepare = require("sidecar.cli.prepare")
local json = require("sidecar.core.json")
local personalization = require("sidecar.formats.personalization")
local precommit = require("sidecar.formats.precommit")
local prepared = require("sidecar.task.prepared")

local NOW = 1767225600 -- 2026-01-01T00:00:00Z
local SEVEN = { "prompt.md", "input-manifest.md", "output.md", "findings.md", "decision.md", "model.md",
  "model.json" }

local dir
test.before_each(function()
  dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "/repo/docs' && printf 'notes\\n' >'" .. dir .. "/repo/docs/notes.md'")
end)
test.after_each(function()
  os.execute("rm -rf '" .. dir .. "'")
end)

local function read(path) -- nil when there is no such file
  local f <close> = io.open(path, "rb")
  return f and f:read("a")
end

local function prepare(o)
  o.repo = o.repo or (dir .. "/repo")
  o.output_root = o.output_root or (dir .. "/out")
  o.now = NOW
  return prepared.prepare(o)
end

-- The message of what prepare raised.
local function refusal(o)
  local ok, err = pcall(prepare, o)
  expect(ok):is_false()
  expect(err.code):equals("prepare")
  return err.message
end

describe("prepared.prepare: the task folder", function()
  it("writes the seven files, a command's output, and the command that runs the agent", function()
    local r = prepare({ title = "Check the notes!", prompt = "Read the notes.", inputs = { "docs/notes.md",
      "cmd:printf hello" }, phase = "maintenance", model = "m1" })
    expect(r.task_id):equals("20260101-000000-check-the-notes")
    expect(r.dir):equals(dir .. "/out/" .. r.task_id)
    local files = {}
    table.move(SEVEN, 1, #SEVEN, 1, files)
    files[#files + 1] = "inputs/02-printf-hello.txt"
    expect(r.files):equals(files)
    expect(r.command):equals({ "codex", "exec", "--ephemeral", "-m", "m1", "-C", dir .. "/repo", "-s", "read-only",
      "-o", r.dir .. "/output.md", "-" })
    expect(r.command_line):equals(table.concat(r.command, " ") .. " < " .. r.dir .. "/prompt.md")
    expect(read(r.dir .. "/prompt.md")):equals("Read the notes.")
    expect(read(r.dir .. "/output.md")):equals("")
    expect(read(r.dir .. "/inputs/02-printf-hello.txt")):equals("hello")
    local manifest = read(r.dir .. "/input-manifest.md")
    expect(manifest):contains("# Sidecar Input Manifest: " .. r.task_id .. "\n\n- Created at: 2026-01-01T00:00:00Z\n")
    expect(manifest):contains("- Phase: maintenance\n- Task type: unspecified\n")
    expect(manifest):matches("%- `docs/notes%.md` %(file; sha256 `%x+`%)")
    expect(manifest):contains("- `printf hello` (command; exit 0; output: `inputs/02-printf-hello.txt`, 5 bytes)")
    expect(read(r.dir .. "/decision.md")):contains("Decision: pending (accept | partially accept | reject | escalate)")
    local model = json.decode(read(r.dir .. "/model.json"))
    expect({ model.task_id, model.model, model.sandbox, model.phase }):equals({ r.task_id, "m1", "read-only", "maintenance" })
    -- Not a git repository: said, not fatal.
    expect(r.warnings[1]):matches("^HEAD not recorded: ")
  end)

  it("takes a preset's prompt from the ones it is given", function()
    local r = prepare({ task_id = "pc", preset = "precommit-classifier", preset_prompts = cli_prepare.PRESET_PROMPTS })
    expect(read(r.dir .. "/prompt.md")):equals(cli_prepare.PRESET_PROMPTS["precommit-classifier"])
    expect(r.files):equals(SEVEN)
  end)

  it("gives a default id taken in the same second a suffix, and refuses a chosen one", function()
    local first = prepare({ title = "same", prompt = "p" })
    local second = prepare({ title = "same", prompt = "p" })
    expect({ first.task_id, second.task_id }):equals({ "20260101-000000-same", "20260101-000000-same-2" })
    expect(refusal({ task_id = first.task_id, prompt = "p" })):contains("already exists: choose another --task-id")
  end)
end)

describe("prepared.prepare: refused before anything is created", function()
  it("wants a folder, a title, a prompt, an allowed sandbox and a valid id", function()
    expect(refusal({ repo = dir .. "/missing", title = "t", prompt = "p" })):contains("is not a folder")
    expect(refusal({ prompt = "p" })):equals("give --title (or --task-id)")
    expect(refusal({ title = "t" })):equals("give the task: --prompt TEXT, --prompt-file FILE or --preset NAME")
    expect(refusal({ title = "t", prompt = "p", sandbox = "danger-full-access" }))
      :contains("--sandbox danger-full-access is not allowed")
    expect(refusal({ task_id = "../x", prompt = "p" })):contains("task id '../x' is not valid")
  end)

  it("names the known presets for an unknown one", function()
    expect(refusal({ title = "t", preset = "nope", preset_prompts = cli_prepare.PRESET_PROMPTS }))
      :equals("unknown --preset 'nope' (known: personalization-scanner, precommit-classifier)")
  end)

  it("refuses a secret file as input and claims no folder", function()
    local f = assert(io.open(dir .. "/repo/.env", "wb"))
    f:write("API_KEY=x\n")
    f:close()
    expect(refusal({ task_id = "secret", prompt = "p", inputs = { ".env" } })):contains("looks like a secrets file")
    expect(read(dir .. "/out/secret/prompt.md")):is_nil()
  end)
end)

describe("sidecar.cli.prepare: the preset prompts ask for the formats' own templates", function()
  it("asks the precommit classifier for the §2 template, which reads back with every field", function()
    local prompt = cli_prepare.PRESET_PROMPTS["precommit-classifier"]
    expect(prompt):contains("the highest that applies: Risk > Code > Skill > Fast.\n")
    expect(prompt):contains("Answer in this format:\n" .. precommit.template() .. "\n")
    local bare = precommit.parse(precommit.template())
    for _, f in ipairs(precommit.FIELDS) do
      expect(bare[f.key] ~= nil):is_true() -- every label is found, empty as yet
    end
  end)

  it("asks the personalization scanner for the §3 sections and lists every enum word", function()
    local prompt = cli_prepare.PRESET_PROMPTS["personalization-scanner"]
    expect(prompt):contains("Answer in this format:\n" .. personalization.template({ compact = true }) .. "\n")
    local flat = prompt:gsub("\n", " ")
    for _, list in ipairs({ personalization.SCOPES, personalization.TYPES, personalization.CONFIDENCE,
      personalization.ACTIONS }) do
      expect(flat):contains(table.concat(list, " | ") .. ".")
    end
    for line in prompt:gmatch("[^\n]+") do
      expect(#line <= 95):is_true()
    end
  end)
end)
