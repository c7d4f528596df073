-- A summary of a repository, as JSON on stdout: branch, HEAD, files by extension, largest files.
--   sidecar script examples/repo_summary.lua [REPO]
-- Outside a git repository it says so instead of failing.
local json = require("sidecar.core.json")
local proc = require("sidecar.core.proc")

local repo = arg[1] or "."

-- Output of a git command in the repository, or nil and the reason. No shell: git gets its
-- arguments as they are, and a hung git is stopped after 30 s.
local function git(...)
  local ok, r = pcall(proc.run, { "git", ... }, { cwd = repo, timeout_ms = 30000 })
  if not ok then
    return nil, tostring(r.message or r)
  elseif not r.ok then
    return nil, "git " .. table.concat({ ... }, " ") .. " failed: " .. (r.stderr:match("[^\n]*") or "")
  end
  return r.stdout
end

local summary = { repo = repo }
local files, why = git("ls-files", "-z")
if not files then
  summary.error = "not a git repository (or git is missing): " .. why
  print(json.encode(summary, { indent = 2 }))
  os.exit(1)
end

summary.branch = (git("rev-parse", "--abbrev-ref", "HEAD") or "(none)"):gsub("%s+$", "")
summary.head = (git("rev-parse", "--short", "HEAD") or "(no commits)"):gsub("%s+$", "")

local by_ext, sizes, count = {}, {}, 0
for path in files:gmatch("([^%z]+)") do
  count = count + 1
  local ext = path:match("%.([%w_]+)$") or "(none)"
  by_ext[ext] = (by_ext[ext] or 0) + 1
  local f = io.open(repo .. "/" .. path, "rb")
  if f then
    sizes[#sizes + 1] = { path = path, bytes = f:seek("end") }
    f:close()
  end
end
table.sort(sizes, function(a, b)
  return a.bytes > b.bytes or (a.bytes == b.bytes and a.path < b.path)
end)

summary.files = count
summary.by_extension = json.object(by_ext)
summary.largest = json.array({ table.unpack(sizes, 1, math.min(5, #sizes)) })
print(json.encode(summary, { indent = 2 }))
