--- Sidecar task folders (`.agent/sidecars/<task-id>/`): the seven files of the sidecar-task-runner
--- layout, prepared before an agent runs (docs/formats.md §1). `sidecar prepare` is `M.prepare`
--- plus printing (sidecar.cli.prepare, which also knows the presets' prompts).
local artifact = require("sidecar.core.artifact")
local default_repo = require("sidecar.core.default_repo")
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

local read_file = require("sidecar.core.files").read

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

-- The task's prompt: --prompt-file (never a secret file), --prompt, or the prompt of --preset
-- among o.preset_prompts (name -> text; sidecar.cli.prepare gives the built-in ones).
local function task_prompt(o)
  if o.prompt_file then
    local refused = secrets.refuse_inputs({ o.prompt_file }, "--prompt-file")
    if refused then
      fail(refused)
    end
    local prompt, why = read_file(o.prompt_file)
    if not prompt then
      fail("cannot read --prompt-file: " .. tostring(why))
    end
    return prompt
  elseif not o.prompt and o.preset then
    local known = o.preset_prompts or {}
    local prompt = known[o.preset]
    if not prompt then
      local names = {}
      for name in pairs(known) do
        names[#names + 1] = name
      end
      table.sort(names)
      fail(("unknown --preset '%s' (known: %s)"):format(o.preset, table.concat(names, ", ")))
    end
    return prompt
  end
  return o.prompt
end

-- Phase 1: the options checked, nothing created yet. Returns {repo, title, sandbox, now, task_id,
-- prompt}.
local function checked_options(o)
  local t = { repo = o.repo or default_repo.get() }
  if not is_folder(t.repo) then
    fail("--repo " .. t.repo .. " is not a folder")
  end
  -- The repository's secret rules (.agent/config.lua, when there is one) decide what is refused
  -- and redacted below.
  local cfg, cfg_why = require("sidecar.core.config").load(t.repo .. "/.agent")
  if not cfg then
    fail(cfg_why)
  end
  t.title = o.title or o.task_id
  if not t.title or t.title == "" then
    fail("give --title (or --task-id)")
  end
  t.sandbox = o.sandbox or "read-only"
  if not SANDBOXES[t.sandbox] then
    fail(("--sandbox %s is not allowed: use read-only (the default) or workspace-write"):format(t.sandbox))
  end
  t.now = o.now or os.time()
  t.task_id = o.task_id or M.default_id(t.title, t.now)
  if not M.valid_id(t.task_id) then
    fail(("task id '%s' is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
      :format(t.task_id))
  elseif select(2, secrets.redact(t.task_id)) > 0 then
    fail(("task id '%s' holds a secret, and it would name a folder: choose another --task-id"):format(t.task_id))
  end
  t.prompt = task_prompt(o)
  if not t.prompt or t.prompt == "" then
    fail("give the task: --prompt TEXT, --prompt-file FILE or --preset NAME")
  end
  return t
end

-- Phase 2: secret files among the inputs are refused before anything is created or run.
local function refuse_secret_inputs(repo, inputs)
  for i, input in ipairs(inputs) do
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
end

-- Phase 3: the folder claimed with one mkdir, so two processes can never get the same id. A
-- default id taken already (same title, same second) gets a suffix; a chosen one is an error.
-- Returns the task id claimed.
local function claim_folder(root, output_root, task_id, chosen)
  local ok, why, code = root:create_dir(task_id)
  local base, n = task_id, 1
  while not ok and code == "EEXIST" and not chosen and n < 100 do
    n = n + 1
    task_id = base .. "-" .. n
    ok, why, code = root:create_dir(task_id)
  end
  if not ok then
    root:close()
    fail(code == "EEXIST" and ("task folder %s/%s already exists: choose another --task-id"):format(output_root, task_id)
      or why)
  end
  return task_id
end

-- Phase 4: the inputs that are commands, run side by side in the repository. Returns their
-- results by input index.
local function run_commands(repo, inputs)
  local specs, command_index = {}, {}
  for i, input in ipairs(inputs) do
    local kind, what = classify(repo, input)
    if kind == "command" then
      specs[#specs + 1] = { cmd = command_argv(what), cwd = repo, timeout_ms = COMMAND_TIMEOUT_MS,
        max_output = COMMAND_MAX_OUTPUT }
      command_index[#specs] = i
    end
  end
  local results = #specs > 0 and proc.parallel(specs, { max_jobs = 6 }) or {}
  local command_results = {}
  for k, r in ipairs(results) do
    command_results[command_index[k]] = r
  end
  return command_results
end

-- Phase 5: input-manifest.md, from the task, the git facts and the inputs' bullets.
local function manifest_text(t, o, created_at, facts, bullets)
  local manifest = {
    "# Sidecar Input Manifest: " .. t.task_id, "",
    "- Created at: " .. created_at,
    "- Repo: " .. t.repo,
    "- Title: " .. t.title,
    "- Phase: " .. (o.phase or "unspecified"),
    "- Task type: " .. (o.task_type or "unspecified"),
    "- HEAD: " .. (facts.head or ("unavailable (" .. tostring(facts.head_error) .. ")")),
    "- Branch: " .. (facts.branch or ("unavailable (" .. tostring(facts.branch_error) .. ")")),
    "", "## Allowed Inputs", "",
  }
  if #bullets == 0 then
    manifest[#manifest + 1] = "- None listed: the sidecar works from the prompt alone."
  end
  table.move(bullets, 1, #bullets, #manifest + 1, manifest)
  manifest[#manifest + 1] = ""
  manifest[#manifest + 1] = "## Git Status"
  manifest[#manifest + 1] = ""
  manifest[#manifest + 1] = facts.status and code_block(facts.status)
    or ("Unavailable: " .. tostring(facts.status_error) .. "\n")
  return table.concat(manifest, "\n")
end

-- Phase 6: the seven files (and the commands' outputs) as {path under the root, text}.
local function task_files(t, o, created_at, command_line, manifest, input_files)
  -- Nothing is measured before the agent runs: usage stays unknown.
  local meta = { task_id = t.task_id, created_at = created_at, runner = "codex-cli", model_provider = "openai",
    model = t.model, sandbox = t.sandbox, preset = o.preset or "none", repo = t.repo, phase = o.phase,
    task_type = o.task_type, command = command_line }
  local decision = table.concat({
    "# Main-Agent Decision: " .. t.task_id, "",
    "Decision: pending (accept | partially accept | reject | escalate)",
    "Decider:", "Date:", "", "## Rationale", "", "## Follow-Up", "",
  }, "\n")
  local id = t.task_id
  local files = {
    { id .. "/prompt.md", t.prompt },
    { id .. "/input-manifest.md", manifest },
    { id .. "/output.md", "" },
    { id .. "/findings.md", "# Sidecar Findings\n\nNot written yet: distilled results of the sidecar's output go here.\n" },
    { id .. "/decision.md", decision },
    { id .. "/model.md", telemetry.model_md(meta) },
    { id .. "/model.json", json.encode(telemetry.model_json(meta), { indent = 2 }) .. "\n" },
  }
  for _, f in ipairs(input_files) do
    files[#files + 1] = { id .. "/" .. f[1], f[2] }
  end
  return files
end

---Prepares a task folder with the seven files. Raises {code = "prepare", message} for bad input.
---@param o table  repo, output_root, task_id, title, phase, task_type, model, sandbox, preset,
---                preset_prompts (name -> prompt), prompt, prompt_file, inputs (list), now
---                (epoch seconds, for tests)
---@return table summary  task_id, dir, files, command (argv), command_line, warnings
function M.prepare(o)
  git.preload(o.repo or default_repo.get()) -- libgit2 loads while the options are checked and the folder claimed
  local t = checked_options(o)
  local inputs = o.inputs or {}
  refuse_secret_inputs(t.repo, inputs)
  local output_root = o.output_root or (t.repo .. "/.agent/sidecars")
  local root, message = artifact.open(output_root, { create = true })
  if not root then
    fail("cannot open the output root: " .. message)
  end
  -- The git facts only read (status takes no optional locks, and the folder claimed below is
  -- empty until they are done), so they run while it is claimed; the input commands, which may
  -- do anything, start only once it is ours. All of them run side by side.
  local facts_pending <close> = git.start_facts(t.repo)
  t.task_id = claim_folder(root, output_root, t.task_id, o.task_id ~= nil)
  local command_results = run_commands(t.repo, inputs)
  local facts = facts_pending:wait()
  local warnings = {}
  if not facts.head then
    warnings[#warnings + 1] = "HEAD not recorded: " .. tostring(facts.head_error)
  end
  if not facts.status then
    warnings[#warnings + 1] = "git status not recorded: " .. tostring(facts.status_error)
  end
  local bullets, input_files, input_warnings = gather_inputs(t.repo, inputs, command_results)
  table.move(input_warnings, 1, #input_warnings, #warnings + 1, warnings)

  local dir = output_root .. "/" .. t.task_id
  local created_at = os.date("!%Y-%m-%dT%H:%M:%SZ", t.now)
  t.model = o.model or M.DEFAULT_MODEL
  local argv = { "codex", "exec", "--ephemeral", "-m", t.model, "-C", t.repo, "-s", t.sandbox, "-o",
    dir .. "/output.md", "-" }
  local command_line = table.concat(argv, " ") .. " < " .. dir .. "/prompt.md"
  local files = task_files(t, o, created_at, command_line, manifest_text(t, o, created_at, facts, bullets),
    input_files)
  local written, write_why = root:write_all(files)
  root:close()
  if not written then
    fail("cannot write the task folder: " .. tostring(write_why))
  end
  local names = {}
  for i, f in ipairs(files) do
    names[i] = f[1]:sub(#t.task_id + 2)
  end
  return { task_id = t.task_id, dir = dir, files = names, command = argv, command_line = command_line,
    warnings = warnings }
end

return M
