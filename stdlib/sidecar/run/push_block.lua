--- No push leaves a run: git configuration in the agent's environment refuses every push, and
--- the pushes an agent tried are found in its commands and in the refusals' log.
---
---   local pb = push_block.prepare(repo, run_dir .. "/push_attempts.log")
---   push_block.add_to(pb, env)                      -- before the agent starts
---   local attempts = push_block.attempts(record.commands_run, pb.log)
---
--- The configuration (GIT_CONFIG_COUNT/KEY/VALUE, after the entries already counted):
--- `url."sidecar-blocked-push::".pushInsteadOf = ""` rewrites every push URL (a remote's, a
--- path, file://, ssh, https, given on the command line or not) to a transport whose helper is
--- a git alias (`alias.remote-sidecar-blocked-push`) that appends the attempt to the log and
--- fails with "Sidecar blocked this push". A remote with an explicit pushurl ignores
--- pushInsteadOf, so each pushurl configured when the run starts (in the repository's config or
--- the user's) is rewritten with `insteadOf` (a fetch from that very URL is then refused too).
--- What still gets through: plumbing (`git send-pack URL`), a pushurl added during the run, an
--- agent that rewrites its own git configuration or environment. Such pushes show in the
--- agent's commands (push_in), which is why attempts are looked for there too.
local git = require("sidecar.core.git")
local git_commands = require("sidecar.run.git_commands")
local errors = require("sidecar.core.errors")
local proc = require("sidecar.core.proc")
local text_lines = require("sidecar.core.text")

local M = {}

M.TRANSPORT = "sidecar-blocked-push"
local MARK = "# sidecar push log " -- the log's first line: proves where the file is
---The most push attempts a run records from the log (the rest are counted in one more entry).
M.MAX_ATTEMPTS = 100

-- Starts a command whose stdout is wanted later; one that cannot start answers nothing (a Ctrl-C
-- meanwhile goes on up).
local function start(cmd)
  local ok, h = errors.keep_interrupt(pcall(proc.spawn, cmd, { stderr = false, timeout_ms = 60000 }))
  return ok and h or { wait = function() return { stdout = "" } end }
end

local read = require("sidecar.core.files").read

local ESCAPES = { n = "\n", t = "\t", b = "\b", ["\\"] = "\\", ['"'] = '"' }

-- A config value as git reads it: "quoted" parts, backslash escapes, a ; or # comment after it.
local function config_value(raw)
  local out, quoted, i, pending_space = {}, false, 1, ""
  while i <= #raw do
    local c = raw:sub(i, i)
    if c == "\\" then
      out[#out + 1] = pending_space .. (ESCAPES[raw:sub(i + 1, i + 1)] or "")
      pending_space, i = "", i + 1
    elseif c == '"' then
      quoted = not quoted
    elseif not quoted and (c == ";" or c == "#") then
      break
    elseif not quoted and c:match("%s") then
      pending_space = pending_space .. c -- kept only when something follows
    else
      out[#out + 1] = pending_space .. c
      pending_space = ""
    end
    i = i + 1
  end
  return table.concat(out)
end

-- The pushurl values of `[remote "..."]` sections in a git config file's text.
local function pushurls_in(text, out)
  local remote = false
  for line in (text or ""):gmatch("[^\n]+") do
    local section = line:match("^%s*%[%s*([^%]]*)%]")
    if section then
      remote = section:lower():match("^remote%s") ~= nil
    elseif remote then
      local key, value = line:match("^%s*([%a%-]+)%s*=%s*(.-)%s*$")
      if key and key:lower() == "pushurl" then
        out[#out + 1] = config_value(value)
      end
    end
  end
  return out
end

-- The config files git reads for a repository whose common folder is `common`.
local function config_files(common)
  local home, files = os.getenv("HOME"), { common .. "/config" }
  local global = os.getenv("GIT_CONFIG_GLOBAL")
  if global then
    files[#files + 1] = global
  elseif home then
    files[#files + 1] = home .. "/.gitconfig"
    files[#files + 1] = (os.getenv("XDG_CONFIG_HOME") or (home .. "/.config")) .. "/git/config"
  end
  if not os.getenv("GIT_CONFIG_NOSYSTEM") then
    files[#files + 1] = os.getenv("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"
  end
  return files
end

-- The log's absolute path: the alias runs wherever the agent's git runs. $PWD is trusted when
-- the log, made through the relative path, reads back the same through $PWD (a worker started
-- in another folder keeps its parent's PWD). Else nil.
local function absolute(log)
  if log:sub(1, 1) == "/" then
    return log
  end
  local pwd = os.getenv("PWD")
  local full = pwd and (pwd .. "/" .. log:gsub("^%./", ""))
  return full and read(full) == read(log) and full or nil
end

---Gets a run ready for the push block: the pushurls to refuse, and the log made, with its
---absolute path (a shell's pwd is asked only when $PWD cannot be trusted). No git runs: the
---config files are read here, or through libgit2 when GIT_DIR names the repository.
---@param repo string
---@param log? string  the file refusals are appended to (the run's folder)
---@return table  {pushurls, log, log_abs?, pending_pwd?}
function M.prepare(repo, log)
  local pb = { pushurls = {}, log = log }
  local own, common = git.dirs(repo)
  if own == false then -- GIT_DIR and its kin choose the repository: read as git reads it
    local r = git.open(repo)
    for _, e in ipairs(r and r:config_values([[^remote\..*\.pushurl$]]) or {}) do
      pb.pushurls[#pb.pushurls + 1] = e.value
    end
  elseif own then
    for _, path in ipairs(config_files(common)) do
      pushurls_in(read(path), pb.pushurls)
    end
  end
  if log then
    local f = io.open(log, "wb")
    if f then
      f:write(MARK, tostring(pb):match("0x%x+") or "", "\n")
      f:close()
      pb.log_abs = absolute(log)
      if not pb.log_abs then
        pb.pending_pwd = start({ "sh", "-c", "pwd -P" })
      end
    end
  end
  return pb
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

---The git alias that stands for the refusing transport's helper: it appends "remote<TAB>url"
---to `log` (when given) and fails saying Sidecar blocked the push. It reads git's first command
---("capabilities") before it exits: git writes it unasked, and a helper already gone would end
---git by SIGPIPE instead of the refusal's exit code 128 (run by hand at a terminal, it reads
---nothing).
---@param log string|nil  an absolute path
---@return string
function M.refusal_alias(log)
  local record = log and ([[printf '%s\t%s\n' "$1" "$2" 2>/dev/null >>]] .. shell_quote(log) .. "; ") or ""
  return "!f() { " .. record .. "[ -t 0 ] || read -r _; " ..
    [[echo "fatal: Sidecar blocked this push (to $1${2:+ $2}): agents may not push ]] ..
    [[from inside a Sidecar run; whoever reviews the run pushes" >&2; exit 128; }; f]]
end

---Adds the push block to `env` (changed in place, and returned): git configuration entries
---after those env (else Sidecar's own environment) already counts.
---@param pb table  M.prepare's answer
---@param env table
---@return table env
function M.add_to(pb, env)
  if pb.pending_pwd then
    local cwd = (pb.pending_pwd:wait().stdout or ""):match("^(/[^\n]*)")
    pb.pending_pwd = nil
    pb.log_abs = cwd and (cwd .. "/" .. pb.log:gsub("^%./", "")) or nil
  end
  local n = tonumber(env.GIT_CONFIG_COUNT or os.getenv("GIT_CONFIG_COUNT") or "0") or 0
  local entries = { { "url." .. M.TRANSPORT .. "::.pushInsteadOf", "" },
    { "alias.remote-" .. M.TRANSPORT, M.refusal_alias(pb.log_abs) } }
  for _, url in ipairs(pb.pushurls) do
    entries[#entries + 1] = { "url." .. M.TRANSPORT .. "::.insteadOf", url }
  end
  for i, e in ipairs(entries) do
    env["GIT_CONFIG_KEY_" .. (n + i - 1)], env["GIT_CONFIG_VALUE_" .. (n + i - 1)] = e[1], e[2]
  end
  env.GIT_CONFIG_COUNT = tostring(n + #entries)
  return env
end

---The push attempts seen: the agent's commands that push ({source = "command", push (the git
---push), command (the whole command), exit_code}), then the pushes the push block refused
---({source = "git", remote, url}, the lines of `log`).
---@param commands? table[]  {command = "...", exit_code = n?}
---@param log? string  the push block's log file
---@return table[]
function M.attempts(commands, log)
  local list = {}
  for _, c in ipairs(commands or {}) do
    local push = type(c.command) == "string" and git_commands.push_in(c.command)
    if push then
      list[#list + 1] = { source = "command", push = push, command = c.command, exit_code = c.exit_code }
    end
  end
  -- The log is the agent's to write as well (its path is in the agent's environment): what it
  -- holds is bounded (stdlib/sidecar/agent/result.lua cuts it to its end) and so is what is kept of it.
  local more = 0
  for line in (log and read(log) or ""):gmatch("[^\n]+") do
    if line:sub(1, #MARK) ~= MARK and line:sub(1, 9) ~= "[sidecar:" then
      if #list < M.MAX_ATTEMPTS then
        local remote, url = line:match("^([^\t]*)\t?(.*)$")
        list[#list + 1] = { source = "git", remote = text_lines.clip(remote, 300), url = text_lines.clip(url, 1000) }
      else
        more = more + 1
      end
    end
  end
  if more > 0 then
    local url = ("and %d more refused pushes (push_attempts.log)"):format(more)
    list[#list + 1] = { source = "git", remote = "...", url = url }
  end
  return list
end

return M
