-- Drives one run of a real agent CLI through agent_run against `sidecar model-server` and prints
-- the record as JSON: sidecar script agent_run.lua RUNNER REPO PORT PROMPT [IDLE_MS] [SESSION]
-- The CLIs get a fresh home, TMPDIR and retries off, as docs/agent-clis.md says; the home is kept per
-- repository, so a later run there can continue a session. SESSION: "continuable" (the run is
-- not ephemeral), or the file of an earlier run's record, whose session this run continues.
-- AGENT_RUN_PTY=1: the CLI runs on a pseudo-terminal (agent_run's `pty`).
local agent_run = require("sidecar.agent.run")
local json = require("sidecar.core.json")

local runner, repo, port, prompt, idle_ms, session = ...
local scratch = repo .. "/../" .. runner .. "-scratch"
os.execute("mkdir -p '" .. scratch .. "/home' '" .. scratch .. "/tmp'")
local base = "http://127.0.0.1:" .. port
local opts = { runner = runner, repo = repo, prompt = prompt, idle_timeout_ms = tonumber(idle_ms),
  kill_grace_ms = 500, env = { TMPDIR = scratch .. "/tmp" }, pty = os.getenv("AGENT_RUN_PTY") == "1" or nil }
if session == "continuable" then
  opts.ephemeral = false
elseif session and session ~= "" then
  local f = assert(io.open(session))
  opts.resume = assert(agent_run.continuation(json.decode(f:read("a"))))
  f:close()
end
if runner == "codex" then
  opts.model = "gpt-5.5"
  opts.env.CODEX_HOME = scratch .. "/home"
  opts.env.MOCK_API_KEY = "sk-mock"
  opts.args = { "-c", "model_provider=mock", "-c", "model_providers.mock.name=mock",
    "-c", "model_providers.mock.base_url=" .. base .. "/v1", "-c", "model_providers.mock.wire_api=responses",
    "-c", "model_providers.mock.env_key=MOCK_API_KEY", "-c", "model_providers.mock.request_max_retries=0",
    "-c", "model_providers.mock.stream_max_retries=0", "--disable", "plugins", "-c", "analytics.enabled=false",
    "--disable", "unbounded_connection_retries" }
else
  for k, v in pairs({ ANTHROPIC_BASE_URL = base, ANTHROPIC_API_KEY = "sk-ant-mock", CLAUDE_CONFIG_DIR = scratch .. "/home",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1", DISABLE_TELEMETRY = "1", DISABLE_AUTOUPDATER = "1",
    DISABLE_ERROR_REPORTING = "1", CLAUDE_CODE_MAX_RETRIES = "0" }) do
    opts.env[k] = v
  end
end
local record, message = agent_run.execute(opts)
if not record then
  io.stderr:write(message, "\n")
  os.exit(1)
end
print(json.encode(record))
