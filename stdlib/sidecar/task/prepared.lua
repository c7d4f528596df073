--- Sidecar task folders (`.agent/sidecars/<task-id>/`): the seven files of the sidecar-task-runner
--- layout, prepared before an agent runs. `sidecar prepare` is `M.prepare` plus printing.
local artifact = require("sidecar.core.artifact")
local cli_output = require("sidecar.cli.output")
local digest = require("sidecar.host.digest")
local git = require("sidecar.core.git")
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")
local secrets = require("sidecar.core.secrets")
local telemetry = require("sidecar.core.telemetry")

local M = {}

M.ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
M.DEFAULT_MODEL = "gpt-5.3-codex-spark"
local SANDBOXES = { ["read-only"] = true, ["workspace-write"] = true }
local COMMAND_TIMEOUT_MS = 120000
local COMMAND_MAX_OUTPUT = 10 * 1024 * 1024

-- Prompts of the presets `prepare --preset` knows (the full presets live in presets/).
local PRESET_PROMPTS = {
  ["precommit-classifier"] = [[
CONTEXT: WORKER
You are a read-only precommit classifier. Inspect only the git state and files listed in
input-manifest.md. Do not stage, commit, push, tag, or edit anything.

Choose one path, the highest that applies: Risk > Code > Skill > Fast.
- Fast: small prose, README or docs text, comments.
- Skill: agent-instruction files (skills/*/SKILL.md, references/, AGENTS.md, CLAUDE.md).
- Code: scripts and source, templates, tests, validators, lockfiles, configs, CI.
- Risk: branch or worktree operations, conflicts, destructive operations, release or
  publication, security, privacy or credentials, broad or unclear scope.

Answer in this format:
# Precommit Classification
- Path:
- Confidence: high|medium|low
- Changed files:
- Why this path:
- Minimal validation:
- Reinstall needed: no | yes, specific skills: <names> | yes, full install
- Commit scope risk:
- Blockers:
- Suggested commit message:
]],
  ["personalization-scanner"] = [[
CONTEXT: WORKER
You scan only the inputs listed in input-manifest.md for reusable preferences. Never ask the
user, never edit memory, and quote no raw logs or secrets.

Answer in this format:
# Personalization Candidates
## Recommended Writeback
| Preference | Scope | Type | Confidence | Evidence | Suggested target | Action |
## Deferred
| Candidate | Reason deferred | Needed evidence |
## Reject
| Candidate | Reason rejected |
## Privacy Notes
Scope: private-user | project | public-skill-candidate | discard. Type: workflow | writing |
layout | figure-style | code-review | git | compute | toolchain | collaboration. Confidence:
observed | repeated | user-stated | inferred. Action: write | defer | promote | reject.
Only what the user stated, or what repeats in at least two artifacts, may be written back.
]],
}

local function fail(message)
  error({ code = "prepare", message = message }, 0)
end

---A title as a folder-name slug: lowercase letters, digits and dashes, at most 48 characters.
---Made from the redacted title: a file name is not redacted when it is written, so a command
---such as `echo KEY=sk-...` must not become one.
function M.slug(title)
  local s = secrets.redact(title):lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  s = s:sub(1, 48):gsub("%-+$", "")
  return s ~= "" and s or "task"
end

---The default task id: `<UTC %Y%m%d-%H%M%S>-<slug>`.
function M.default_id(title, time)
  return os.date("!%Y%m%d-%H%M%S", time) .. "-" .. M.slug(title)
end

---Whether `id` is a valid task id (`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`).
function M.valid_id(id)
  return type(id) == "string" and #id <= 64 and id:match(M.ID_PATTERN) ~= nil
end

local function read_file(path)
  local f, why = io.open(path, "rb")
  if not f then
    return nil, why
  end
  local text = f:read("a")
  f:close()
  return text
end

local function exists(path)
  return os.rename(path, path) ~= nil
end

local function is_folder(path)
  local dir = artifact.open(path)
  if dir then
    dir:close()
  end
  return dir ~= nil
end

-- An --input is a command, a file or folder, or a glob; "cmd:" and "path:" say which outright.
local function classify(repo, input)
  local forced, rest = input:match("^(%a+):(.+)$")
  if forced == "cmd" then
    return "command", rest
  elseif forced == "path" or forced == "file" then
    return rest:find("[*?%[]") and "glob" or "path", rest
  end
  if input:find("[*?%[]") and not input:find("%s") then
    return "glob", input
  end
  if exists(repo .. "/" .. input) then
    return "path", input
  end
  return "command", input
end

local code_block = require("sidecar.core.text").code_block

-- Runs or hashes each input. Returns manifest bullets, files to write into the task folder,
-- and warnings.
-- A command's argv: run directly when it is plain words, through /bin/sh when it uses the shell.
local function command_argv(text)
  if text:find("[|&;<>()$`\\\"'*?%[#~=%%\n]") then
    return proc.shell(text)
  end
  local argv = {}
  for word in text:gmatch("%S+") do
    argv[#argv + 1] = word
  end
  return #argv > 0 and argv or proc.shell(text)
end

local function gather_inputs(repo, inputs, command_results)
  local bullets, files, warnings = {}, {}, {}
  local repo_dir = artifact.open(repo)
  for i, input in ipairs(inputs) do
    local kind, what = classify(repo, input)
    if kind == "command" then
      local r = command_results[i]
      local name = ("inputs/%02d-%s.txt"):format(i, M.slug(what))
      if r.error and not r.code and not r.signal then
        warnings[#warnings + 1] = ("input %d (%s) could not run: %s"):format(i, what, r.error)
        bullets[#bullets + 1] = ("- `%s` (command; could not run: %s)"):format(what, r.error)
      else
        local status = r.code and ("exit " .. r.code) or ("killed by " .. tostring(r.signal_name or r.signal))
        if r.timed_out then
          status = status .. ", timed out after " .. COMMAND_TIMEOUT_MS // 1000 .. " s"
        end
        local text = r.stdout
        if r.stderr ~= "" then
          text = text .. "\n--- stderr ---\n" .. r.stderr
        end
        files[#files + 1] = { name, text }
        bullets[#bullets + 1] = ("- `%s` (command; %s; output: `%s`, %d bytes%s)"):format(
          what, status, name, #r.stdout, r.truncated and ", truncated to the last 10 MiB" or "")
        if r.code ~= 0 then
          warnings[#warnings + 1] = ("input %d (%s): %s"):format(i, what, status)
        end
      end
    else
      local paths
      if kind == "glob" then
        paths = repo_dir and repo_dir:list(what) or {}
        if #paths == 0 then
          warnings[#warnings + 1] = ("input %d (%s) matched no file"):format(i, what)
        end
      else
        paths = { what }
      end
      local lines = {}
      for _, p in ipairs(paths) do
        local hex, err = digest.sha256_file(repo .. "/" .. p)
        if not hex then
          warnings[#warnings + 1] = ("input %d: %s"):format(i, err)
        end
        lines[#lines + 1] = hex and ("sha256 `%s`"):format(hex) or ("unreadable: " .. err)
      end
      if kind == "path" then
        bullets[#bullets + 1] = ("- `%s` (file; %s)"):format(what, lines[1])
      else
        bullets[#bullets + 1] = ("- `%s` (glob; %d file%s)"):format(what, #paths, #paths == 1 and "" or "s")
        for k, p in ipairs(paths) do
          bullets[#bullets + 1] = ("  - `%s` %s"):format(p, lines[k])
        end
      end
    end
  end
  if repo_dir then
    repo_dir:close()
  end
  return bullets, files, warnings
end

---Prepares a task folder with the seven files. Raises {code = "prepare", message} for bad input.
---@param o table  repo, output_root, task_id, title, phase, task_type, model, sandbox, preset,
---                prompt, prompt_file, inputs (list), now (epoch seconds, for tests)
---@return table summary  task_id, dir, files, command (argv), command_line, warnings
function M.prepare(o)
  local repo = o.repo or "."
  if not is_folder(repo) then
    fail("--repo " .. repo .. " is not a folder")
  end
  -- The repository's secret rules (.agent/config.lua, when there is one) decide what is refused
  -- and redacted below.
  local cfg, cfg_why = require("sidecar.core.config").load(repo .. "/.agent")
  if not cfg then
    fail(cfg_why)
  end
  local title = o.title or o.task_id
  if not title or title == "" then
    fail("give --title (or --task-id)")
  end
  local sandbox = o.sandbox or "read-only"
  if not SANDBOXES[sandbox] then
    fail(("--sandbox %s is not allowed: use read-only (the default) or workspace-write"):format(sandbox))
  end
  local now = o.now or os.time()
  local task_id = o.task_id or M.default_id(title, now)
  if not M.valid_id(task_id) then
    fail(("task id '%s' is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
      :format(task_id))
  elseif select(2, secrets.redact(task_id)) > 0 then
    fail(("task id '%s' holds a secret, and it would name a folder: choose another --task-id"):format(task_id))
  end
  local prompt = o.prompt
  if o.prompt_file then
    local refused = secrets.refuse_inputs({ o.prompt_file }, "--prompt-file")
    if refused then
      fail(refused)
    end
    local why
    prompt, why = read_file(o.prompt_file)
    if not prompt then
      fail("cannot read --prompt-file: " .. tostring(why))
    end
  elseif not prompt and o.preset then
    prompt = PRESET_PROMPTS[o.preset]
    if not prompt then
      local names = {}
      for name in pairs(PRESET_PROMPTS) do
        names[#names + 1] = name
      end
      table.sort(names)
      fail(("unknown --preset '%s' (known: %s)"):format(o.preset, table.concat(names, ", ")))
    end
  end
  if not prompt or prompt == "" then
    fail("give the task: --prompt TEXT, --prompt-file FILE or --preset NAME")
  end

  -- Secret files are refused before anything is created or run.
  for i, input in ipairs(o.inputs or {}) do
    local kind, what = classify(repo, input)
    if kind ~= "command" then
      local repo_dir = artifact.open(repo)
      local paths = kind == "glob" and repo_dir and repo_dir:list(what) or { what }
      if repo_dir then
        repo_dir:close()
      end
      local refused = secrets.refuse_inputs(paths, "--input " .. i)
      if refused then
        fail(refused)
      end
    end
  end

  local output_root = o.output_root or (repo .. "/.agent/sidecars")
  local root, message = artifact.open(output_root, { create = true })
  if not root then
    fail("cannot open the output root: " .. message)
  end
  -- The git facts only read (status takes no optional locks, and the folder claimed below is
  -- empty until they are done), so they run while it is claimed; the input commands, which may
  -- do anything, start only once it is ours. All of them run side by side.
  local facts_pending <close> = git.start_facts(repo)
  -- The folder is claimed with one mkdir, so two processes can never get the same id. A default
  -- id taken already (same title, same second) gets a suffix; a chosen one is an error.
  local ok, why, code = root:create_dir(task_id)
  local base, n = task_id, 1
  while not ok and code == "EEXIST" and not o.task_id and n < 100 do
    n = n + 1
    task_id = base .. "-" .. n
    ok, why, code = root:create_dir(task_id)
  end
  if not ok then
    root:close()
    fail(code == "EEXIST" and ("task folder %s/%s already exists: choose another --task-id"):format(output_root, task_id)
      or why)
  end

  local specs, command_index = {}, {}
  for i, input in ipairs(o.inputs or {}) do
    local kind, what = classify(repo, input)
    if kind == "command" then
      specs[#specs + 1] = { cmd = command_argv(what), cwd = repo, timeout_ms = COMMAND_TIMEOUT_MS,
        max_output = COMMAND_MAX_OUTPUT }
      command_index[#specs] = i
    end
  end
  local results = #specs > 0 and proc.parallel(specs, { max_jobs = 6 }) or {}
  local facts = facts_pending:wait()
  local command_results = {}
  for k, r in ipairs(results) do
    command_results[command_index[k]] = r
  end
  local warnings = {}
  local head, head_why = facts.head, facts.head_error
  local branch, branch_why = facts.branch, facts.branch_error
  local status, status_why = facts.status, facts.status_error
  if not head then
    warnings[#warnings + 1] = "HEAD not recorded: " .. tostring(head_why)
  end
  if not status then
    warnings[#warnings + 1] = "git status not recorded: " .. tostring(status_why)
  end
  local bullets, input_files, input_warnings = gather_inputs(repo, o.inputs or {}, command_results)
  table.move(input_warnings, 1, #input_warnings, #warnings + 1, warnings)

  local dir = output_root .. "/" .. task_id
  local created_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now)
  local model = o.model or M.DEFAULT_MODEL
  local argv = { "codex", "exec", "--ephemeral", "-m", model, "-C", repo, "-s", sandbox, "-o", dir .. "/output.md", "-" }
  local command_line = table.concat(argv, " ") .. " < " .. dir .. "/prompt.md"

  local manifest = {
    "# Sidecar Input Manifest: " .. task_id, "",
    "- Created at: " .. created_at,
    "- Repo: " .. repo,
    "- Title: " .. title,
    "- Phase: " .. (o.phase or "unspecified"),
    "- Task type: " .. (o.task_type or "unspecified"),
    "- HEAD: " .. (head or ("unavailable (" .. tostring(head_why) .. ")")),
    "- Branch: " .. (branch or ("unavailable (" .. tostring(branch_why) .. ")")),
    "", "## Allowed Inputs", "",
  }
  if #bullets == 0 then
    manifest[#manifest + 1] = "- None listed: the sidecar works from the prompt alone."
  end
  table.move(bullets, 1, #bullets, #manifest + 1, manifest)
  manifest[#manifest + 1] = ""
  manifest[#manifest + 1] = "## Git Status"
  manifest[#manifest + 1] = ""
  manifest[#manifest + 1] = status and code_block(status) or ("Unavailable: " .. tostring(status_why) .. "\n")

  -- Nothing is measured before the agent runs: usage stays unknown.
  local meta = { task_id = task_id, created_at = created_at, runner = "codex-cli", model_provider = "openai",
    model = model, sandbox = sandbox, preset = o.preset or "none", repo = repo, phase = o.phase,
    task_type = o.task_type, command = command_line }
  local model_md = telemetry.model_md(meta)
  local model_json = telemetry.model_json(meta)
  local decision = table.concat({
    "# Main-Agent Decision: " .. task_id, "",
    "Decision: pending (accept | partially accept | reject | escalate)",
    "Decider:", "Date:", "", "## Rationale", "", "## Follow-Up", "",
  }, "\n")

  local files = {
    { task_id .. "/prompt.md", prompt },
    { task_id .. "/input-manifest.md", table.concat(manifest, "\n") },
    { task_id .. "/output.md", "" },
    { task_id .. "/findings.md", "# Sidecar Findings\n\nNot written yet: distilled results of the sidecar's output go here.\n" },
    { task_id .. "/decision.md", decision },
    { task_id .. "/model.md", model_md },
    { task_id .. "/model.json", json.encode(model_json, { indent = 2 }) .. "\n" },
  }
  for _, f in ipairs(input_files) do
    files[#files + 1] = { task_id .. "/" .. f[1], f[2] }
  end
  local written, write_why = root:write_all(files)
  root:close()
  if not written then
    fail("cannot write the task folder: " .. tostring(write_why))
  end
  local names = {}
  for i, f in ipairs(files) do
    names[i] = f[1]:sub(#task_id + 2)
  end
  return { task_id = task_id, dir = dir, files = names, command = argv, command_line = command_line,
    warnings = warnings }
end

---`sidecar prepare`: prepares, then prints the next command (or a JSON envelope). Returns the
---exit status.
function M.cli_prepare(o)
  local ok, result = pcall(M.prepare, o)
  if o.json then
    if ok then
      result.warnings = json.array(result.warnings)
    end
    cli_output.envelope("prepare", ok, ok and result or json.null,
      ok and {} or { tostring(result.message or result) }, o.version)
    return ok and 0 or 1
  end
  if not ok then
    io.stderr:write("sidecar: prepare: ", tostring(result.message or result), "\n")
    return 1
  end
  for _, w in ipairs(result.warnings) do
    io.stderr:write("sidecar: prepare: warning: ", w, "\n")
  end
  print("Prepared " .. result.dir .. " (" .. table.concat(result.files, ", ") .. ")")
  print("Run the sidecar (the prompt goes on stdin, never on the command line):")
  print("  " .. result.command_line)
  return 0
end

return M
