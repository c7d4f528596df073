--- Running a folder `sidecar prepare` made (`sidecar run --prepared .agent/sidecars/<id>`): the
--- agent runs as the folder says (its model, sandbox and repository, prompt.md on stdin) under
--- Sidecar's watchdog, recorded as a run of the store; then the folder gets what the run left:
--- output.md (the final answer), model.json and model.md (the usage the agent reported, exactly,
--- and the command that ran), events.jsonl (the run's events) and run.json (the run's record).
--- decision.md stays as it was: deciding is the caller's.
local agent_run = require("sidecar.agent.run")
local artifact = require("sidecar.core.artifact")
local json = require("sidecar.core.json")
local runs = require("sidecar.task.runs")
local telemetry = require("sidecar.core.telemetry")

local M = {}

local RUNNERS = { ["codex-cli"] = "codex", codex = "codex", ["claude-code"] = "claude", claude = "claude" }

-- A regular file of the folder, at most `max` bytes (default 1 MiB): nil, why, code otherwise, so
-- a planted FIFO or /dev/zero is an error, not a hang.
local read = require("sidecar.host.paths").read_code

---The largest prompt.md a run takes (model.json and output.md are read up to 1 MiB).
M.MAX_PROMPT_BYTES = 16 * 1024 * 1024

local function has_usage(usage)
  if type(usage) ~= "table" then
    return false
  end
  for _, v in pairs(usage) do
    if v ~= json.null then
      return true
    end
  end
  return false
end

---What a prepared folder says: {dir, meta (model.json), prompt, runner, root (the `.agent` folder
---whose store records the run)}, or nil, why and a code: "usage" when `dir` is not a prepared
---folder (the command line named the wrong one), "bad_folder" for a broken one (model.json),
---"already_run" when its answer is there already.
---@param dir string
function M.read(dir)
  dir = dir:gsub("/+$", "")
  local meta_text, why, code = read(dir .. "/model.json")
  local prompt
  if meta_text then
    prompt, why, code = read(dir .. "/prompt.md", M.MAX_PROMPT_BYTES)
  end
  if code == "ENOENT" then
    return nil, ("%s is not a prepared folder (it needs model.json and prompt.md: make one with sidecar prepare)")
      :format(dir), "usage"
  elseif not prompt then
    return nil, ("%s cannot be run: %s"):format(dir, why), "bad_folder"
  end
  local ok, meta = json.try_decode(meta_text)
  if not ok or type(meta) ~= "table" then
    return nil, ("%s/model.json is not a JSON object: %s"):format(dir, ok and "another value" or tostring(meta)),
      "bad_folder"
  end
  for _, key in ipairs({ "task_id", "model", "repo" }) do
    if type(meta[key]) ~= "string" or meta[key] == "" then
      return nil, ("%s/model.json: %s is missing (it should name the %s)"):format(dir, key,
        key == "repo" and "repository" or key == "model" and "model" or "task"), "bad_folder"
    end
  end
  local output, _, output_code = read(dir .. "/output.md")
  if has_usage(meta.usage) or (output or "") ~= "" or output_code == "EFBIG" then
    return nil, ("%s has been run already (output.md and the usage are filled in): prepare a new folder to run "
      .. "it again"):format(dir), "already_run"
  end
  local runner = RUNNERS[meta.runner or "codex-cli"]
  if not runner then
    return nil, ("%s/model.json: runner '%s' is not one Sidecar runs (codex-cli or claude-code)"):format(dir,
      tostring(meta.runner)), "bad_folder"
  end
  -- The repository the folder lies in (<repo>/.agent/sidecars/<id>), if it does: its store records
  -- the run, and a relative repository in model.json (prepare's default is ".") is that one.
  local home = dir:match("^(.*)/%.agent/sidecars/[^/]+$") or (dir:match("^%.agent/sidecars/[^/]+$") and ".")
  if home and meta.repo:sub(1, 1) ~= "/" then
    meta.repo = home
  end
  return { dir = dir, meta = meta, prompt = prompt, runner = runner, root = (home or meta.repo) .. "/.agent" }
end

-- The files the folder gets from the run, as {name, text}.
local function results(p, run, events, record_text)
  local meta = {}
  for k, v in pairs(p.meta) do
    meta[k] = v
  end
  meta.command = run.command or meta.command
  meta.runner = p.runner == "claude" and "claude-code" or "codex-cli"
  local summary = { usage = run.usage ~= json.null and run.usage or nil,
    cost_usd = run.cost_usd ~= json.null and run.cost_usd or nil }
  local record = telemetry.model_json(meta, summary)
  record.run_id = run.run_id
  return {
    -- ending with a newline, as a run's own output.md does (agent_run)
    { "output.md", ((run.output or ""):gsub("([^\n])$", "%1\n")) },
    { "model.json", json.encode(record, { indent = 2 }) .. "\n" },
    { "model.md", telemetry.model_md(meta, summary) },
    { "events.jsonl", events or "" },
    { "run.json", record_text or (json.encode(run, { indent = 2 }) .. "\n") },
  }
end

---Runs the prepared folder `p` (M.read's) with the store `s` and its config, and fills the folder.
---o: runner (instead of the folder's), timeout, idle_timeout (durations, as on the command line),
---allow_full_auto (a folder asking for danger-full-access runs only with it).
---Returns the run record (its status says how it went), or nil, why, code ("usage" for bad options).
function M.run(p, s, cfg, o)
  local st, why = runs.settings(cfg, {}, { runner = o.runner or p.runner, model = p.meta.model,
    sandbox = p.meta.sandbox ~= json.null and p.meta.sandbox or nil, allow_full_auto = o.allow_full_auto,
    timeout = o.timeout, idle_timeout = o.idle_timeout })
  if not st then
    return nil, why, "usage"
  end
  if #st.runners ~= 1 then
    return nil, "a prepared folder runs one runner: give --runner one name", "usage"
  end
  local a = runs.agent_options(cfg, st.runners[1], st)
  a.prompt, a.repo, a.store = p.prompt, p.meta.repo, s
  a.record = { prepared = p.dir, prepared_task_id = p.meta.task_id }
  local run, message, code = agent_run.execute(a)
  if not run then
    return nil, message, code
  end
  local events, record_text
  local run_dir = s:run_dir(run.run_id)
  if run_dir then
    events, record_text = run_dir:read("events.jsonl"), run_dir:read("run.json")
    run_dir:close()
  end
  local dir
  dir, why = artifact.open(p.dir)
  if not dir then
    return nil, ("run %s ended %s, but %s could not be opened to fill it: %s"):format(run.run_id, run.status, p.dir,
      tostring(why))
  end
  local ok
  ok, why = dir:write_all(results(p, run, events, record_text))
  dir:close()
  if not ok then
    return nil, ("run %s ended %s, but %s could not be filled: %s"):format(run.run_id, run.status, p.dir, tostring(why))
  end
  return run
end

return M
