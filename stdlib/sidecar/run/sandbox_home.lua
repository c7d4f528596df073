--- What of the user's home an agent sees in its OS sandbox: an allow-list, never a list of
--- exceptions.
---
--- A home holds far more than secret-looking files a rule could name: other tools' logins and
--- histories, transcripts of other agents, sockets of SSH agents, container engines and editors
--- (a read-only folder does not stop a connect()). So the sandbox replaces the home with an empty
--- folder of its own (written there is gone with the sandbox), and shows again, read-only:
---   - the toolchains a build needs to work (M.TOOLS: language managers, their packages and
---     caches: ~/.nvm, ~/.pyenv, ~/.cargo, ~/.rustup, ~/.local/bin, ~/go, …), their own secret
---     files still hidden (sidecar.run.sandbox_hidden);
---   - git's configuration, without credentials: as it is when it holds none, else a copy
---     ([credential] sections, and URLs that carry a user's password or token, left out);
---   - what the run needs anyway (the repository, the store, the agent's program and the package
---     it lives in, PATH's folders: sidecar.run.sandbox) and the CLI's state folder of the run's
---     (sidecar.run.sandbox_state);
---   - what `isolation.read` lists ("~" shows the whole home again, as before).
---
---   local h = sandbox_home.plan(home, read, scratch)   -- {hidden = true, read = {paths}, binds = {{from, to}}}
local paths = require("sidecar.host.paths")

local M = {}

---Toolchain folders of a home shown read-only to every agent (when they exist).
M.TOOLS = { ".local/bin", ".local/lib", ".local/share/pnpm", ".nvm", ".volta", ".fnm", ".bun", ".deno", ".npm-global",
  ".pyenv", ".rbenv", ".rustup", ".cargo", "go", ".go", ".sdkman", ".jdks", ".gradle/wrapper", ".m2/repository",
  ".gem", ".elan", ".ghcup", ".opam", ".nix-profile", ".asdf", ".local/share/mise", ".config/git/ignore",
  ".config/git/attributes", ".gitignore_global", ".gitignore" }
---Git's configuration files of a home: shown read-only, or as a copy without credentials when they hold any.
M.GIT_CONFIG = { ".gitconfig", ".config/git/config" }

local function kind(p)
  local st = paths.lstat(p)
  return st and st.kind
end

-- Whether a line of git's config carries a credential: a URL with a password or token in it, a
-- token, a password or an extra header (an Authorization header).
local function secret_line(line)
  return line:find("://[^/%s@]+:[^/%s@]+@") ~= nil or line:find("[Tt]oken%s*=") ~= nil
    or line:find("[Pp]assword%s*=") ~= nil or line:find("[Ee]xtra[Hh]eader%s*=") ~= nil
end

---The text of a git config file without its credentials: [credential…] sections and sections
---whose name carries a password (a [url "https://user:token@host/"]) left out whole, and lines
---with a URL's password, a token, a password or an extra header. Every line ends with a newline.
---@param text string
---@return string
function M.without_credentials(text)
  local out, dropping = {}, false
  for line in text:gsub("\n?$", "\n"):gmatch("([^\n]*)\n") do
    local name = line:match("^%s*%[%s*([^%]]-)%s*%]")
    if name then
      dropping = name:lower():find("^credential") ~= nil or secret_line(name)
    end
    if not dropping and not secret_line(line) then
      out[#out + 1] = line .. "\n"
    end
  end
  return table.concat(out)
end

-- Whether the settings show the whole home again ("~" or the home itself in isolation.read).
local function home_read(home, read)
  for _, p in ipairs(read or {}) do
    if p == "~" or p == "~/" or p == home or p == home .. "/" then
      return true
    end
  end
  return false
end

---The home's plan for one sandbox: {hidden = false} when isolation.read shows it whole, else
---{hidden = true, home = real path, read = {paths shown read-only}, binds = {{from, to}} (copies
---of git config files that hold credentials, written into `scratch` without them)}.
---@param home string|nil  the home (a real path) or nil (then nothing to hide)
---@param read string[]  isolation.read
---@param scratch string  the sandbox's private folder
function M.plan(home, read, scratch)
  if not home or home == "/" or kind(home) ~= "directory" or home_read(home, read) then
    return { hidden = false, read = {}, binds = {} }
  end
  local plan = { hidden = true, home = home, read = {}, binds = {} }
  for _, rel in ipairs(M.TOOLS) do
    local p = home .. "/" .. rel
    local k = kind(p)
    if k == "directory" or k == "file" or k == "symlink" then
      plan.read[#plan.read + 1] = paths.real(p) or p -- a link (a stowed ~/.cargo) shown where it leads
      if k == "symlink" then
        plan.read[#plan.read + 1] = p
      end
    end
  end
  for i, rel in ipairs(M.GIT_CONFIG) do
    local p = home .. "/" .. rel
    local text = kind(p) == "file" and paths.read_code(p, 1024 * 1024)
    local clean = text and M.without_credentials(text)
    if text and clean == text then -- nothing to leave out: shown as it is (no copy to write)
      plan.read[#plan.read + 1] = p
    elseif text then
      local copy = ("%s/gitconfig-%d"):format(scratch, i)
      local f = io.open(copy, "wb")
      if f then
        f:write(clean)
        f:close()
        plan.binds[#plan.binds + 1] = { from = copy, to = p }
      end
    end
  end
  return plan
end

return M
