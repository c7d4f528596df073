--- Whether this machine can make a run's OS sandbox, and what to do when it cannot: bubblewrap and
--- a sidecar binary for `sandbox-init` found (`available`, before every sandbox), a user namespace
--- really made (`check`, for `sidecar doctor`), and for bubblewrap's words when it could not make
--- one, the likely cause and what to change (`advice`): a security module's rule (Ubuntu's
--- AppArmor), namespaces turned off, or a container's seccomp profile (Docker's default refuses
--- them). Where namespaces are refused, the sandbox is Landlock's (sidecar.run.sandbox_landlock):
--- `choose` says which one a run gets.
---
---   local ok, why, code = sandbox_host.available()   -- nil, why, "no_sandbox"
---   local ok, why = sandbox_host.check()              -- bwrap tried: nil, its words and what to do
---   local kind, fell_back = sandbox_host.choose("auto") -- "bwrap", or "landlock" and why
local coop = require("sidecar.core.coop")
local errors = require("sidecar.core.errors")
local files = require("sidecar.core.files")
local host = require("sidecar.host.sandbox")
local paths = require("sidecar.host.paths")
local proc = require("sidecar.core.proc")
local text = require("sidecar.core.text")

local M = {}

local OFF = "run without an OS sandbox: isolation = { sandbox = \"off\" } in .agent/config.lua, --os-sandbox off, "
  .. "or SIDECAR_OS_SANDBOX=off (docs/security.md)"
local LANDLOCK = "isolation = { sandbox = \"landlock\" } (\"auto\", the default, chooses it where bubblewrap cannot make "
  .. "namespaces), the sandbox of the kernel's Landlock, which docs/security.md compares"
M.HINT = "install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces "
  .. "(sysctl kernel.unprivileged_userns_clone=1), or use " .. LANDLOCK .. ", or " .. OFF

---Whether a sandbox can start here: bwrap on PATH and a sidecar binary for sandbox-init. nil, why (with
---what to do), "no_sandbox" if not.
function M.available()
  if not paths.program("bwrap") then
    return nil, "the OS sandbox needs bubblewrap (bwrap), which is not on PATH: " .. M.HINT, "no_sandbox"
  end
  local found, why = proc.find_executable() -- sandbox-init runs the agent
  if not found then
    return nil, "the OS sandbox starts the agent under `sidecar sandbox-init`: " .. why, "no_sandbox"
  end
  return true
end

M.INIT_PROGRAM = "sidecar-sandbox-init"

-- The command that starts a sandbox's first process, and why it is the binary's own, found once
-- per process; `checking` while a task finds it.
local init_command, init_why, checking

M.INIT_CHECK_MS = 2000 -- how long sidecar-sandbox-init has to answer --protocol
local WRITABLE_BY_OTHERS = 18 -- 0022: its group or others may write it

-- What a program said on its way out, as one short line a terminal shows harmlessly.
local function one_line(said)
  return (text.visible(text.first_line(said or "", 200)))
end

-- Why a `--protocol` run (pcall's `ran`, `r`) gave no protocol.
local function no_answer(ran, r)
  if not ran then
    return "it cannot run: " .. one_line(tostring(type(r) == "table" and r.message or r))
  elseif r.timed_out then
    return ("it did not answer --protocol within %d ms"):format(M.INIT_CHECK_MS)
  end
  local said = one_line(r.stderr)
  return ("to --protocol it ended %s%s"):format(r.signal_name and ("by SIG" .. r.signal_name) or ("with exit "
    .. tostring(r.code)), said ~= "" and (": " .. said) or "")
end

-- sidecar-sandbox-init beside the binary's real path `exe`, through its links, when it is the
-- binary's own (a file of its folder, owned by its owner or root, that no one else may write) and
-- of this build (asked with an empty environment, outside any sandbox, so it must be all that):
-- its real path, or nil and why not.
local function init_program(exe)
  local dir = exe:match("^(.*)/") or "."
  local named = dir .. "/" .. M.INIT_PROGRAM
  if not paths.lstat(named) then
    return nil, M.INIT_PROGRAM .. " is not beside the binary"
  end
  local real = paths.real(named)
  if not (real and real:match("^(.*)/") == dir and paths.program(real)) then -- a link elsewhere: not the binary's
    return nil, named .. " is not an executable file of the binary's own folder"
  end
  local st, bin = paths.lstat(real), paths.lstat(exe)
  if not (st and bin and (st.uid == bin.uid or st.uid == 0) and st.mode & WRITABLE_BY_OTHERS == 0) then
    return nil, named .. " is not the binary's owner's alone (another user's, or others may write it)"
  end
  local ran, r = pcall(proc.run, { real, "--protocol" }, { timeout_ms = M.INIT_CHECK_MS, clear_env = true,
    max_output = 4096 })
  if not ran and errors.is_interrupt(r) then
    error(r, 0)
  end
  local said = ran and r.code == 0 and (r.stdout or ""):match("^(%S+)\n$")
  if said ~= host.init_protocol then
    return nil, ("%s is not this build's (%s; this binary's protocol is %s)"):format(named,
      said and ("its protocol is " .. one_line(said)) or no_answer(ran, r), host.init_protocol)
  end
  return real
end

---The command that starts sandbox-init, before its arguments: `sidecar-sandbox-init` where it is
---beside the sidecar binary's real path (where the build and `cmake --install` put it: a small
---program that starts in half the time), a file of that folder, and of this build (it answers
---`--protocol` with this binary's host.sandbox.init_protocol); else `{binary, "sandbox-init"}`,
---and why as a second value. Never searched in PATH: it is as trusted as the binary. Raises when
---there is no sidecar binary (M.available says it).
---@return string[] command, string? why
function M.init_command()
  -- Another task asks it (a pool's runs start together): its answer. Where this one cannot give
  -- way (outside a task, or called through C), the asking task cannot go on meanwhile: asked again.
  while checking and coop.task() and coroutine.isyieldable() do
    coop.sleep(5)
  end
  if not init_command then
    local exe = proc.executable()
    local first = not checking -- the flag is the first asker's to clear
    checking = true
    local ok, helper, why = pcall(init_program, paths.real(exe) or exe)
    checking = checking and not first
    if not ok then
      error(helper, 0)
    end
    init_command, init_why = helper and { helper } or { exe, "sandbox-init" }, why
  end
  return { table.unpack(init_command) }, init_why
end

-- The first word of a small file (a sysctl), or "".
local function sysctl(path)
  return (files.read(path) or ""):match("^%s*(%S*)") or ""
end

-- Why new user namespaces are refused here, most likely first, and what to change.
local function userns_advice()
  local causes = {}
  if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" then
    causes[#causes + 1] = "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later): allow them with "
      .. "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or give bwrap an AppArmor profile with `userns,`"
  end
  if sysctl("/proc/sys/user/max_user_namespaces") == "0" or sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0" then
    causes[#causes + 1] = "user namespaces are turned off: `sysctl user.max_user_namespaces=15000` (and "
      .. "`kernel.unprivileged_userns_clone=1` where it exists)"
  end
  local container = files.exists("/.dockerenv") or files.exists("/run/.containerenv")
  if container or #causes == 0 then
    causes[#causes + 1] = (container and "this is a container" or "a seccomp filter refuses them (a container's, most "
      .. "often)") .. ": Docker's default profile refuses new namespaces; start it with "
      .. "`--security-opt seccomp=unconfined` or a profile that allows unshare and clone(CLONE_NEWUSER)"
  end
  return "new user namespaces are refused here, which the bubblewrap sandbox needs: " .. table.concat(causes, "; or ")
    .. "; else " .. LANDLOCK .. "; else " .. OFF
end

---What to do when bubblewrap, saying `said` (its first line), could not make a sandbox: for a user
---namespace refused, the likely cause and what to change; else M.HINT.
---@param said string
---@return string
function M.advice(said)
  local refused = said:find("create new namespace", 1, true) or said:find("setting up uid map", 1, true)
  return refused and userns_advice() or M.HINT
end

---Whether a sandbox really starts here (`sidecar doctor`): bwrap found, and a user namespace made.
---true, or nil and why (bwrap's own words and what to do).
function M.check()
  local ok, why = M.available()
  if not ok then
    return nil, why
  end
  local r = proc.run({ "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true" },
    { timeout_ms = 10000 })
  if r.code == 0 then
    return true
  end
  local said = ((r.stderr or ""):match("^%s*([^\n]*)") or "")
  said = said ~= "" and said or ("exit " .. tostring(r.code))
  return nil, ("bwrap cannot make a sandbox here (%s): %s"):format(said, M.advice(said)), said
end

---Whether the Landlock sandbox can start here: the kernel's ABI (>= 1), or nil and why.
---@return integer|nil abi, string? why
function M.landlock()
  local found, why = proc.find_executable() -- sandbox-init runs the agent
  if not found then
    return nil, "the OS sandbox starts the agent under `sidecar sandbox-init`: " .. why
  end
  local abi = host.landlock_abi()
  if abi < 1 then
    return nil, "this kernel offers no Landlock (it needs Linux 5.13 or later, with landlock in its lsm= list): " .. OFF
  end
  return abi
end

-- What bwrap's check said, once per process: true, or {why, said}.
local checked
-- A sandbox of bwrap failed after it had worked in this process (M.forget): a failed check is not
-- kept then, so that one run's passing trouble (namespaces short while many sandboxes start) is not
-- every later run's of a process that runs many (a preset's pool).
local rechecking = false

M.CHECKED_FILE = "bwrap-works" -- in the user's state folder: the last check that passed, and where

-- What decides whether bwrap can make its namespaces here, as one line: the boot, the user, the
-- bwrap program, the sysctls that allow or refuse them, and the seccomp filters this process runs
-- under (a container's profile). nil where one cannot be read.
local function host_key()
  local bwrap = paths.program("bwrap")
  local st = bwrap and paths.lstat(paths.real(bwrap) or bwrap)
  local status = files.read("/proc/self/status") or ""
  local boot = files.read("/proc/sys/kernel/random/boot_id")
  if not (st and boot) then
    return nil
  end
  return table.concat({ boot:match("%S+"), tostring(host.uid()), bwrap, tostring(st.mtime_ns), tostring(st.size),
    sysctl("/proc/sys/user/max_user_namespaces"), sysctl("/proc/sys/kernel/unprivileged_userns_clone"),
    sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"), status:match("Seccomp:%s*(%d+)") or "?",
    status:match("Seccomp_filters:%s*(%d+)") or "?" }, " ")
end

local function checked_path()
  local dir = paths.state_dir()
  return dir and (dir .. "/" .. M.CHECKED_FILE)
end

-- Whether bwrap made its sandbox here before, on this very host_key (a check costs a bwrap start,
-- about 15 ms, on every command that starts an agent).
local function known_to_work()
  local file, key = checked_path(), host_key()
  return key ~= nil and file ~= nil and files.read(file) == key .. "\n"
end

local function remember_it_works()
  local file, key = checked_path(), host_key()
  if not (file and key) or not paths.make_dirs(file:match("^(.*)/")) then
    return
  end
  local tmp = file .. "." .. tostring(host.uid()) .. ".tmp"
  local f = io.open(tmp, "wb")
  if f and f:write(key, "\n") and f:close() then
    os.rename(tmp, file)
  end
end

---Forgets that bwrap worked here: a sandbox of it failed to start after all (its next "auto" tries
---again, and chooses Landlock if it must).
function M.forget()
  local file = checked_path()
  rechecking = rechecking or checked == true
  checked = nil
  if file then
    os.remove(file)
  end
end

---The sandbox a run gets for `asked` (isolation.sandbox: "auto", "bwrap" or "landlock"): "bwrap" or
---"landlock", and when "auto" chose Landlock, why (bubblewrap's words). "auto" chooses Landlock only
---where bwrap is there but cannot make its sandbox (namespaces refused, most often); bwrap is tried
---once per process, and not at all where it worked before on the same boot, user, bwrap, sysctls
---and seccomp filters (the state folder's M.CHECKED_FILE). nil, why, "no_sandbox" when none can
---start.
---@param asked string
---@return string|nil kind, string? why, string? code
function M.choose(asked)
  if asked == "landlock" then
    local abi, why = M.landlock()
    if not abi then
      return nil, why, "no_sandbox"
    end
    return "landlock"
  end
  local ok, why, code = M.available()
  if not ok then
    return nil, why, code
  end
  if asked == "bwrap" then
    return "bwrap"
  end
  local found = checked
  if found == nil and known_to_work() then
    found = true
  elseif found == nil then
    local works, problem, said = M.check()
    found = works and true or { why = problem, said = said }
    if works then
      remember_it_works()
    end
  end
  if found == true or not rechecking then
    checked = found
  end
  if found == true then
    return "bwrap"
  end
  if not M.landlock() then
    return nil, found.why, "no_sandbox"
  end
  local said = tostring(found.said):gsub("%s*See <.*$", "") -- its pointer to a README
  return "landlock", "bubblewrap cannot make a sandbox here (" .. said .. ")"
end

return M
