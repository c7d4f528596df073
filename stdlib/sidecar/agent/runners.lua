--- The runner registry: how to launch each agent CLI. A runner turns a run's context into an
--- argv and process options; `agent_run` does the rest (watchdog, parsing, records). Users add
--- their own with `runners.register(name, spec)` in Lua.
---
---   runners.register("aider", {
---     describe = "Aider in message mode",
---     dialect = nil,                          -- nil: stdout is the final message
---     command = function(ctx) return {"aider", "--message-file", ctx.prompt_file} end,
---     prompt = "file",                        -- "stdin" (default) or "file" (ctx.prompt_file)
---     version = {"aider", "--version"},       -- for `sidecar doctor`
---     install = "pipx install aider-chat",
---   })
---
--- ctx: prompt, prompt_file, repo, run_dir, model, sandbox, session_id (a new session's id, when
--- the caller chose one), resume_session_id (the session this run continues), ephemeral (true:
--- the CLI keeps no session, so the run cannot be continued), args (extra argv from the caller),
--- program (an argv prefix replacing the CLI's name, e.g. a wrapper), command (the command
--- runner's argv), os_sandbox (true: the agent runs in Sidecar's OS sandbox, which enforces the
--- run's sandbox level; a CLI's own sandbox may step aside). `command(ctx)` returns the argv and optionally {prompt = "file"} when the
--- prompt must not come on stdin. The prompt goes on stdin (or in a file), never on argv. A
--- runner whose CLI can continue a session says `can_resume = true` and honours
--- ctx.resume_session_id.
local codex_session = require("sidecar.agent.codex_session_usage")
local option_keys = require("sidecar.core.option_keys")
local paths = require("sidecar.host.paths")
local sandbox_state = require("sidecar.run.sandbox_state")

local M = {}

local registry = {}
local order = {}

local SANDBOXES = { ["read-only"] = true, ["workspace-write"] = true, ["danger-full-access"] = true }

---@class RunnerSpec  what runners.register takes
---@field command fun(ctx: table): string[]  the argv for a run (ctx: above); it may also return {prompt = "file"}
---@field describe? string  one line for people (`sidecar doctor`, listings)
---@field dialect? string  "codex" or "claude": the event stream to read; nil: stdout is the final message
---@field env? table<string, string>  added to the CLI's environment
---@field prompt? string  "stdin" (default) or "file": the prompt in ctx.prompt_file, stdin /dev/null
---@field pty_prompt? string  "file": on a terminal (`pty`), the CLI reads no prompt from it: its stdin is the prompt file
---@field final_message_file? string  a file in the run's folder where the CLI writes its final message
---@field can_resume? boolean  the CLI continues a session given ctx.resume_session_id
---@field version? string[]  the argv printing the CLI's version (`sidecar doctor`)
---@field probe? {cmd: string[], flags: string[]}  a help command and the flags it must list (`sidecar doctor`)
---@field install? string  how to install the CLI, shown when it is not on PATH
---@field provider? string  the model provider, recorded in model.json ("openai", "anthropic")
---@field names_session? boolean  the CLI takes a session id of ours (ctx.session_id): a new one is made
---  for each run that keeps its session, so the record names it even if the run fails
---@field sandbox_state? fun(env: fun(name): string?, home: string?): table[]  in a run's OS sandbox, where the
---  CLI keeps its state: {path, dir = true for a folder, env = the variable that moves that folder (a
---  Landlock sandbox, which cannot bind another over it, sets it), keep = {names in it of the user's own:
---  credentials and configuration}}. The agent writes a folder of the run's instead (stdlib/sidecar/run/sandbox_state.lua), and
---  sees only the `keep` names of the user's, read-only.
---@field from_config? boolean  defined by a project's config.lua (runners.<name>.command or .acp)
---@field session_usage? fun(run_dir: string, env: table, session_id: string): table|nil  an ACP agent's usage
---  in ACP's shape, where its answer has none (codex-acp: its session file)
---@field sandboxed_env? table<string, string>  variables the agent gets in Sidecar's OS sandbox (unless the run sets them)
---@field sandbox_endpoints? fun(argv: string[], env: function, home: string?): string[]  the model endpoints
---  (URLs or host:port) a sandboxed run with network = "model" may reach
---@field env_names? string[]  the variables the CLI reads (names, or prefixes ending in `*`): its API key,
---  base URL and settings. In a run's OS sandbox they are given beside sidecar.run.sandbox_hidden's ENV;
---  every other variable of Sidecar's environment is withheld.
---@field sandbox_env? fun(argv: string[], env: function, home: string?): string[]  more variables the CLI
---  needs, found in its configuration (codex's `env_key`s)

---Adds (or replaces) the runner `name`; `agent.execute{runner = name}` then runs it.
---@param name string  letters, digits, '.', '_' and '-'
---@param spec RunnerSpec
function M.register(name, spec)
  assert(type(name) == "string" and name:match("^[%w][%w._-]*$"), "runners.register: bad runner name")
  assert(type(spec) == "table" and type(spec.command) == "function",
    "runners.register: the spec needs a command(ctx) function")
  if not registry[name] then
    order[#order + 1] = name
  end
  spec.name = name
  registry[name] = spec
end

---The spec of a runner, or nil and a message listing the known ones.
---@param name string
---@return RunnerSpec|nil spec, string? why
function M.get(name)
  local spec = registry[name]
  if spec then
    return spec
  end
  return nil, ("unknown runner '%s' (known: %s; add one with runners.register)"):format(
    tostring(name), table.concat(order, ", "))
end

---Why a cap per runner (the config's max_agents_per_runner) names no runner there is (a typo, a
---runner not defined: its cap would bound nothing), or nil when each names one.
---@param caps table|nil  {[runner name] = agents}
---@param path string|nil  the config file that set them, named first
---@param defined table|nil  the config's `runners` (runners it defines, registered or not yet)
---@return string|nil why
function M.uncapped_names(caps, path, defined)
  local names = {}
  for name in pairs(caps or {}) do
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    if not registry[name] and not (type(defined) == "table" and defined[name] ~= nil) then
      local near = option_keys.nearest(name, order)
      return ("%smax_agents_per_runner.%s: no runner is named %s, so it would cap nothing%s (known: %s)"):format(
        path and (path .. ": ") or "", name, name, near and (" (did you mean %s?)"):format(near) or "",
        table.concat(order, ", "))
    end
  end
  return nil
end

---The runners' names, in the order they were registered.
---@return string[]
function M.names()
  return { table.unpack(order) }
end

---Checks a sandbox setting: read-only (the default), workspace-write, or danger-full-access,
---which needs `allow_full_auto`. Returns the sandbox or nil and why.
---@param sandbox? string
---@param allow_full_auto? boolean
---@return string|nil sandbox, string? why
function M.check_sandbox(sandbox, allow_full_auto)
  sandbox = sandbox or "read-only"
  if not SANDBOXES[sandbox] then
    return nil, ("sandbox '%s' is not one of read-only, workspace-write, danger-full-access"):format(sandbox)
  end
  if sandbox == "danger-full-access" and not allow_full_auto then
    return nil, "sandbox danger-full-access bypasses every approval: it needs --allow-full-auto"
  end
  return sandbox
end

-- Forgets the runners an earlier config registered: a process that serves several repositories
-- (an embedding program, `sidecar ui`, the REPL) must not run one's `alice` for another.
local function forget_config_runners()
  for i = #order, 1, -1 do
    local name = order[i]
    if registry[name].from_config then
      registry[name] = nil
      table.remove(order, i)
    end
  end
end

---Registers the runners a project's config defines with `command` (runners of the user's own,
---`.agent/config.lua`: `runners = { alice = { command = {"alice-review", "--quiet"} } }`), each
---a `command` runner running that argv, or with `acp` (`mine = { acp = {"my-agent", "--acp"} }`),
---an agent spoken to over ACP. They replace the runners of the config registered before (another
---repository's: none of them stays); a name registered otherwise (built in, or by
---runners.register) is left as it is.
---@param cfg table  what sidecar.core.config.load returned
function M.register_config(cfg)
  forget_config_runners()
  local names = {}
  for name in pairs(cfg.runners or {}) do
    names[#names + 1] = name
  end
  table.sort(names) -- listed in a stable order (runners.get's message)
  for _, name in ipairs(names) do
    local entry = cfg.runners[name]
    if entry.acp and not registry[name] then
      M.register_acp(name, entry.acp, { describe = entry.describe or ("from config.lua, over ACP: "
        .. table.concat(entry.acp, " ")), version = false, from_config = true })
    elseif entry.command and not registry[name] then
      local base = registry.command
      M.register(name, {
        describe = entry.describe or ("from config.lua: " .. table.concat(entry.command, " ")),
        dialect = entry.dialect, from_config = true,
        command = function(ctx)
          ctx.command = entry.command
          return base.command(ctx)
        end,
      })
    end
  end
end

---A runner as a project knows it: `root`/config.lua (an `.agent` folder) is read, its runners of
---their own registered (register_config), and the runner's spec returned with its entry there
---(program, args, env, command; {} when it has none). nil, why, code when the config cannot be
---read ("bad_config") or no runner has that name ("unknown_runner").
---@param name string
---@param root string  the .agent folder
---@return RunnerSpec|nil spec, table|string entry_or_why, string? code
function M.from_config(name, root)
  local config = require("sidecar.core.config")
  local cfg, message, code = config.load(root)
  if not cfg then
    return nil, message, code
  end
  M.register_config(cfg)
  local spec, why = M.get(name)
  if not spec then
    return nil, config.untrusted_hint(cfg, why), "unknown_runner"
  end
  return spec, cfg.runners[name] or {}
end

-- argv = program prefix (or the default name) followed by args.
local function with_program(ctx, default, args)
  local argv = {}
  for _, a in ipairs(ctx.program or { default }) do
    argv[#argv + 1] = a
  end
  for _, a in ipairs(args) do
    argv[#argv + 1] = a
  end
  return argv
end

-- The values `key` is given in codex's -c arguments (model_providers.x.base_url=URL) and in
-- CODEX_HOME's config.toml (base_url = "URL"), without quotes.
local function codex_settings(argv, env, home, key)
  local out = {}
  for _, a in ipairs(argv) do
    local v = a:match("^[%w_.]*" .. key .. "%s*=%s*(.+)$")
    if v then
      out[#out + 1] = v:gsub("^[\"']", ""):gsub("[\"']$", "")
    end
  end
  local dir = env("CODEX_HOME") or (home and home .. "/.codex")
  local text = dir and paths.read_code(dir .. "/config.toml", 1024 * 1024)
  for v in (text or ""):gmatch("\n%s*" .. key .. "%s*=%s*[\"']([^\"'\n]+)[\"']") do
    out[#out + 1] = v
  end
  return out
end

local function append(list, more)
  for _, a in ipairs(more or {}) do
    list[#list + 1] = a
  end
  return list
end

M.register("codex", {
  describe = "OpenAI Codex CLI: codex exec --json, prompt on stdin",
  dialect = "codex",
  provider = "openai",
  install = "npm install -g @openai/codex",
  version = { "codex", "--version" },
  probe = { cmd = { "codex", "exec", "--help" }, flags = { "--json", "--ephemeral", "--output-last-message", "--sandbox",
    "--cd", "--skip-git-repo-check", "--model" } },
  -- codex writes the final message with -o: the folder must exist and the path be normalised.
  final_message_file = "last-message.txt",
  -- In a run's OS sandbox (stdlib/sidecar/run/sandbox.lua): codex writes a state folder of the run's
  -- (sessions, logs) in place of CODEX_HOME, where it reads the user's login, config and
  -- instructions read-only; it reaches the providers' base URLs it is given and OpenAI's own
  -- hosts, with the API keys they name.
  sandbox_state = function(env, home)
    local dir = env("CODEX_HOME") or (home and home .. "/.codex")
    return dir and { { path = dir, dir = true, env = "CODEX_HOME", keep = { "auth.json", "config.toml", ".env", "AGENTS.md",
      "AGENTS.override.md", "instructions.md", "prompts", "skills", "rules" } } } or {}
  end,
  sandbox_endpoints = function(argv, env, home)
    local list = codex_settings(argv, env, home, "base_url")
    append(list, { "https://api.openai.com", "https://chatgpt.com", "https://auth.openai.com", env("OPENAI_BASE_URL") })
    return list
  end,
  env_names = { "OPENAI_*", "CODEX_*", "AZURE_OPENAI_*", "RUST_LOG" },
  sandbox_env = function(argv, env, home)
    return codex_settings(argv, env, home, "env_key")
  end,
  can_resume = true,
  -- First pass: exec [--ephemeral] --json --skip-git-repo-check -C REPO -s SANDBOX -o FILE ... -
  -- Resumed:    exec -C REPO -s SANDBOX resume --json --skip-git-repo-check -o FILE ... ID -
  command = function(ctx)
    local session = ctx.resume_session_id
    -- In Sidecar's OS sandbox, which bounds it as ctx.sandbox says, codex's own would nest a second
    -- bubblewrap that cannot see the first one's private /tmp: codex runs "externally sandboxed".
    local level = ctx.os_sandbox and "danger-full-access" or ctx.sandbox
    local args = { "exec" }
    if session then
      -- `exec resume` refuses -C and -s; before `resume` they are exec's and apply to the turn.
      append(args, { "-C", ctx.repo, "-s", level, "resume" })
    end
    if ctx.ephemeral ~= false then
      args[#args + 1] = "--ephemeral" -- no session file: nothing to resume later
    end
    append(args, { "--json", "--skip-git-repo-check" })
    if not session then
      append(args, { "-C", ctx.repo, "-s", level })
    end
    append(args, { "-o", ctx.run_dir .. "/last-message.txt" })
    if ctx.model then
      append(args, { "-m", ctx.model })
    end
    append(args, ctx.args)
    args[#args + 1] = session
    args[#args + 1] = "-" -- the prompt comes on stdin
    return with_program(ctx, "codex", args)
  end,
})

local CLAUDE_EDIT_TOOLS = "Edit,Write,MultiEdit,NotebookEdit"

M.register("claude", {
  describe = "Claude Code: claude -p --output-format stream-json --verbose, prompt on stdin",
  dialect = "claude",
  provider = "anthropic",
  names_session = true,
  pty_prompt = "file", -- on a terminal (run --pty), `claude -p` reads no stdin: the prompt comes from its file
  -- In a run's OS sandbox: Claude Code writes a config folder of the run's (and a copy of
  -- ~/.claude.json without CLAUDE_CONFIG_DIR), where it reads the user's login, settings and
  -- instructions read-only; it reaches ANTHROPIC_BASE_URL or Anthropic's API.
  sandbox_state = function(env, home)
    local keep = { ".credentials.json", "settings.json", "CLAUDE.md", "commands", "agents", "skills", "output-styles" }
    local dir = env("CLAUDE_CONFIG_DIR")
    if dir then
      return { { path = dir, dir = true, env = "CLAUDE_CONFIG_DIR", keep = keep }, { path = dir .. "/.claude.json" } }
    end
    return home and { { path = home .. "/.claude", dir = true, keep = keep }, { path = home .. "/.claude.json" } } or {}
  end,
  sandbox_endpoints = function(_, env)
    return { env("ANTHROPIC_BASE_URL") or "https://api.anthropic.com" }
  end,
  -- As root (a container's user, in the Landlock sandbox), Claude Code bypasses its permissions only
  -- inside a sandbox it is told of.
  sandboxed_env = { IS_SANDBOX = "1" },
  env_names = { "ANTHROPIC_*", "CLAUDE_*", "DISABLE_*", "AWS_BEARER_TOKEN_BEDROCK", "MAX_THINKING_TOKENS",
    "MAX_MCP_OUTPUT_TOKENS", "MCP_TIMEOUT", "MCP_TOOL_TIMEOUT", "BASH_DEFAULT_TIMEOUT_MS", "BASH_MAX_TIMEOUT_MS" },
  install = "npm install -g @anthropic-ai/claude-code",
  version = { "claude", "--version" },
  probe = { cmd = { "claude", "--help" }, flags = { "--print", "--output-format", "--verbose", "--model",
    "--session-id", "--resume", "--no-session-persistence", "--permission-mode", "--disallowedTools", "--settings" } },
  can_resume = true,
  command = function(ctx)
    local args = { "-p", "--output-format", "stream-json", "--verbose" }
    if ctx.model then
      append(args, { "--model", ctx.model })
    end
    if ctx.resume_session_id then
      append(args, { "--resume", ctx.resume_session_id })
    elseif ctx.session_id then
      append(args, { "--session-id", ctx.session_id })
    end
    if ctx.ephemeral ~= false then
      args[#args + 1] = "--no-session-persistence" -- nothing saved: nothing to resume later
    end
    -- Permissions follow the sandbox: no edits when read-only (in -p mode nobody can approve a
    -- prompt, so anything else needing approval is denied and reported), edits accepted for
    -- workspace-write, everything only when full auto was explicitly allowed.
    if ctx.sandbox == "read-only" then
      append(args, { "--disallowedTools", CLAUDE_EDIT_TOOLS })
    elseif ctx.sandbox == "workspace-write" then
      append(args, { "--permission-mode", "acceptEdits" })
    else
      append(args, { "--dangerously-skip-permissions" })
    end
    -- The run's own hooks (stdlib/sidecar/agent/hooks.lua): events into the run's events.jsonl,
    -- and a push, a tag or an edit of an avoided file denied, whatever the user installed.
    append(args, { "--settings", require("sidecar.agent.hooks").write_run_settings(ctx.run_dir) })
    append(args, ctx.args)
    return with_program(ctx, "claude", args)
  end,
})

-- codex-acp's usage: from the session file in CODEX_HOME (the run's state folder in its OS sandbox,
-- else the runner's or the user's), as it reports no split over ACP.
local function codex_session_usage(run_dir, env, id)
  local homes = {}
  local state = run_dir .. "/" .. sandbox_state.FOLDER
  for _, name in ipairs(paths.entries(state) or {}) do
    homes[#homes + 1] = state .. "/" .. name
  end
  local home = os.getenv("HOME")
  homes[#homes + 1] = type(env.CODEX_HOME) == "string" and env.CODEX_HOME or os.getenv("CODEX_HOME")
    or (home and home .. "/.codex")
  return codex_session.find(homes, id)
end

-- An Agent Client Protocol agent (stdlib/sidecar/agent/acp_client.lua): its argv, which speaks ACP
-- on stdio; the prompt goes as `session/prompt`, the sandbox level decides its permissions.
local function acp_command(default)
  return function(ctx)
    local argv = {}
    for _, a in ipairs(ctx.program or default) do
      argv[#argv + 1] = a
    end
    return append(argv, ctx.args), { prompt = "acp" }
  end
end

---Registers an ACP agent as runner `name`: argv (the default command; a config's `program`
---replaces it), and fields of its spec (describe, install, version, sandbox_state, ...).
---@param name string
---@param argv string[]
---@param fields table
function M.register_acp(name, argv, fields)
  local spec = { dialect = "acp", can_resume = true, command = acp_command(argv),
    version = fields.version or { argv[1], "--version" } }
  for k, v in pairs(fields) do
    spec[k] = v
  end
  M.register(name, spec)
end

-- The agents that speak ACP themselves, and the adapters of the two CLIs above (which bring their
-- own copy of the CLI: the CLI's settings, state folder and endpoints are the same).
M.register_acp("gemini", { "gemini", "--acp" }, { describe = "Gemini CLI over ACP: gemini --acp",
  install = "npm install -g @google/gemini-cli", provider = "google",
  sandbox_endpoints = function(_, env) return { env("GOOGLE_GEMINI_BASE_URL") or "https://generativelanguage.googleapis.com" } end,
  env_names = { "GEMINI_*", "GOOGLE_*" } })
M.register_acp("opencode", { "opencode", "acp" }, { describe = "OpenCode over ACP: opencode acp",
  install = "npm install -g opencode-ai" })
M.register_acp("qwen", { "qwen", "--acp" }, { describe = "Qwen Code over ACP: qwen --acp",
  install = "npm install -g @qwen-code/qwen-code", env_names = { "OPENAI_*", "DASHSCOPE_*", "QWEN_*" } })
M.register_acp("goose", { "goose", "acp" }, { describe = "goose over ACP: goose acp",
  install = "curl -fsSL https://github.com/block/goose/releases/download/stable/download_cli.sh | bash",
  env_names = { "GOOSE_*" } })
M.register_acp("copilot", { "copilot", "--acp", "--stdio" }, { describe = "GitHub Copilot CLI over ACP: copilot --acp",
  install = "npm install -g @github/copilot", env_names = { "GH_TOKEN", "GITHUB_TOKEN", "COPILOT_*" } })
for _, pair in ipairs({ { "claude-acp", "claude" }, { "codex-acp", "codex" } }) do
  local name, cli = pair[1], pair[2]
  local base = registry[cli]
  M.register_acp(name, { cli == "claude" and "claude-agent-acp" or "codex-acp" }, {
    describe = ("%s over ACP: the %s adapter (%s)"):format(cli == "claude" and "Claude Code" or "Codex",
      cli == "claude" and "claude-agent-acp" or "codex-acp", cli == "claude" and "@zed-industries/claude-agent-acp"
      or "@zed-industries/codex-acp"),
    install = cli == "claude" and "npm install -g @zed-industries/claude-agent-acp"
      or "npm install -g @zed-industries/codex-acp",
    version = false, provider = base.provider, sandbox_state = base.sandbox_state,
    sandbox_endpoints = base.sandbox_endpoints, sandbox_env = base.sandbox_env, env_names = base.env_names,
    sandboxed_env = base.sandboxed_env, session_usage = cli == "codex" and codex_session_usage or nil })
end

M.register("command", {
  describe = "Any command: the prompt on stdin (or in a file), its stdout the final message",
  dialect = nil,
  command = function(ctx)
    assert(type(ctx.command) == "table" and #ctx.command > 0,
      "the command runner needs `command`, an argv array such as {\"my-agent\", \"--quiet\"}")
    local argv, in_file = {}, false
    for i, a in ipairs(ctx.command) do
      in_file = in_file or a:find("{prompt_file}", 1, true) ~= nil
      argv[i] = (a:gsub("{prompt_file}", function() return ctx.prompt_file end))
    end
    -- A command that names {prompt_file} reads the prompt there; stdin is then /dev/null.
    return append(argv, ctx.args), { prompt = in_file and "file" or "stdin" }
  end,
})

return M
