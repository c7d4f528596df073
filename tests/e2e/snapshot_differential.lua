-- Run by snapshot_differential_test.sh: `sidecar script snapshot_differential.lua WORK SEED ROUNDS`.
-- One repository of a few thousand files (enough for the walk to use its threads,
-- host/git/work_tree_walk.cpp); each round takes a snapshot of the clean tree, makes a random set of changes
-- (edits, same-size rewrites within the second, deletions, chmod, new files and folders, ignored
-- files, a file turned folder and a folder turned file, links, touches, a repository inside the
-- tree), and checks that the change the snapshot finds is exactly what `git status -uall`
-- reports, then resets the tree. Prints one line per mismatch and "rounds N mismatches M".
local worktree = require("sidecar.core.worktree")

local work, seed, rounds = arg[1], tonumber(arg[2]), tonumber(arg[3])
math.randomseed(seed)

local function sh(command)
  local ok = os.execute(command)
  assert(ok, "failed: " .. command)
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local FOLDERS, PER_FOLDER = 60, 40 -- 2 400 tracked files

local function build(repo)
  sh("rm -rf '" .. repo .. "' && mkdir -p '" .. repo .. "' && cd '" .. repo .. "' && git init -q -b main")
  for d = 1, FOLDERS do
    local dir = ("%s/d%02d/s%d"):format(repo, d, d % 3)
    sh("mkdir -p '" .. dir .. "'")
    for f = 1, PER_FOLDER do
      write(("%s/f%02d.txt"):format(dir, f), ("folder %d file %d\n"):format(d, f))
    end
  end
  write(repo .. "/.gitignore", "*.log\nignored/\n.agent/\n")
  sh("cd '" .. repo .. "' && git add -A && git -c user.name=t -c user.email=t@e commit -qm init")
end

local function tracked(repo)
  local d, f = math.random(FOLDERS), math.random(PER_FOLDER)
  return ("d%02d/s%d/f%02d.txt"):format(d, d % 3, f), ("d%02d/s%d"):format(d, d % 3)
end

-- Each change is a shell command run in the repository.
local CHANGES = {
  function(repo) return "printf more >> " .. tracked(repo) end,
  function(repo) -- same size, same second: only the racy check can see it
    local p = tracked(repo)
    return ("sed -i 's/file/fil3/' %s"):format(p)
  end,
  function(repo) return "rm -f " .. tracked(repo) end,
  function(repo) return "chmod +x " .. tracked(repo) end,
  function(repo) local _, d = tracked(repo) return ("echo new > %s/new%d.txt"):format(d, math.random(99)) end,
  function() return ("mkdir -p n%d/a/b && echo deep > n%d/a/b/x.txt"):format(math.random(9), math.random(9)) end,
  function(repo) local _, d = tracked(repo) return ("echo log > %s/run.log && mkdir -p ignored && echo x > ignored/y"):format(d) end,
  function(repo) local p = tracked(repo) return ("rm -f %s && mkdir %s && echo in > %s/inner.txt"):format(p, p, p) end,
  function(repo) local _, d = tracked(repo) return ("rm -rf %s && echo was-a-folder > %s"):format(d, d) end,
  function(repo) local p = tracked(repo) return ("rm -f %s && ln -s target-%d %s"):format(p, math.random(9), p) end,
  function(repo) return "touch " .. tracked(repo) end,
  function() return ("mkdir -p inner%d && cd inner%d && git init -q && echo x > x && git add x && "
    .. "git -c user.name=t -c user.email=t@e commit -qm x"):format(math.random(3), math.random(3)) end,
  function() return "mkdir -p .agent && echo own > .agent/run.json" end,
}

local KINDS = { ["??"] = "added", [" M"] = "modified", [" D"] = "deleted", [" T"] = "type_changed" }

local function git_status(repo)
  local p = assert(io.popen("cd '" .. repo .. "' && git status --porcelain=v1 -uall --no-renames -z"))
  local out = p:read("a")
  p:close()
  local set = {}
  for entry in out:gmatch("([^%z]+)") do
    local code, path = entry:sub(1, 2), entry:sub(4)
    set[path:gsub("/$", "")] = KINDS[code] or ("git:" .. code)
  end
  return set
end

local mismatches = 0
local repo = work .. "/repo"
build(repo)
for round = 1, rounds do
  local before = assert(worktree.snapshot(repo, { ".agent" }))
  local done = {}
  for _ = 1, math.random(3, 9) do
    local command = CHANGES[math.random(#CHANGES)](repo)
    done[#done + 1] = command
    os.execute("cd '" .. repo .. "' && { " .. command .. "; } 2>/dev/null")
  end
  local got = {}
  for _, f in ipairs(assert(worktree.changes(repo, before)).files) do
    got[f.path] = f.change
  end
  local want = git_status(repo)
  for path, kind in pairs(want) do
    if got[path] ~= kind then
      mismatches = mismatches + 1
      print(("round %d: %s: git status says %s, the snapshot %s (changes: %s)"):format(round, path, kind,
        tostring(got[path]), table.concat(done, "; ")))
    end
  end
  for path, kind in pairs(got) do
    if not want[path] then
      mismatches = mismatches + 1
      print(("round %d: %s: the snapshot says %s, git status nothing (changes: %s)"):format(round, path, kind,
        table.concat(done, "; ")))
    end
  end
  -- Back to the commit: the files reset rewrites are racy against the new index, the next
  -- round's snapshot must hash them rather than trust their stat data.
  sh("cd '" .. repo .. "' && git reset -q --hard && git clean -qffdx")
end
print(("rounds %d mismatches %d"):format(rounds, mismatches))
