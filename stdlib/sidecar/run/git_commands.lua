--- The git commands a shell command line runs, read well enough to refuse the ones an agent may not
--- run inside a Sidecar run: `git push` (sidecar.run.push_block finds the attempts, the Claude Code
--- hook denies them: sidecar.agent.hooks) and a `git tag` that changes tags.
---
---   git_commands.push_in("cd x && git -C y push origin HEAD; echo $?")  -- "git -C y push origin HEAD"
---   git_commands.tag_in("git tag -a v1 -m v1")                          -- "git tag -a v1 -m v1"
---   git_commands.tag_in("git tag --list 'v*'")                          -- nil: only lists
---
--- Global options of git (-C dir, -c k=v, --git-dir=...) may stand between `git` and the
--- subcommand. Quotes are dropped, not understood: `bash -lc "git push"` is found too.
local M = {}

-- Global options of git that take the next word as their value.
local TAKES_VALUE = { ["-C"] = true, ["-c"] = true, ["--git-dir"] = true, ["--work-tree"] = true,
  ["--namespace"] = true, ["--super-prefix"] = true, ["--config-env"] = true }
local PUSHES = { push = true, ["send-pack"] = true }

-- Calls visit(subcommand, words_after_it, git_text) for each git invocation in `command`, until
-- visit returns something, which is returned.
local function each_git(command, visit)
  for git in command:gmatch("%f[%w_%-]git%s+[^;&|\n]*") do
    local skip, first, sub, words = false, true, nil, {}
    for word in git:gmatch("%S+") do
      word = word:gsub("[\"'\\]", "")
      if sub then
        words[#words + 1] = word
      elseif first then
        first = false -- "git" itself
      elseif skip then
        skip = false
      elseif TAKES_VALUE[word] then
        skip = true
      elseif word:sub(1, 1) ~= "-" then
        sub = word
      end
    end
    local found = sub and visit(sub, words, (git:gsub("[\"'%s]+$", ""):gsub("%s+", " ")))
    if found then
      return found
    end
  end
  return nil
end

---The `git push` (or `git send-pack`) a shell command runs: "git push origin HEAD" out of
---`/bin/bash -lc "cd x && git push origin HEAD; echo $?"`; nil when it runs none.
---@param command string
---@return string|nil
function M.push_in(command)
  return each_git(command, function(sub, _, shown)
    return PUSHES[sub] and shown or nil
  end)
end

-- `git tag` options that only look: listing, verifying.
local LOOKS = { ["-l"] = true, ["--list"] = true, ["-v"] = true, ["--verify"] = true, ["--contains"] = true,
  ["--no-contains"] = true, ["--points-at"] = true, ["--merged"] = true, ["--no-merged"] = true }
local DELETES = { ["-d"] = true, ["--delete"] = true }

-- Whether the words after `git tag` change tags: a deletion always; a listing or verification
-- never; else a tag name (or an option that makes one: -a, -s, -m, -f ...) does.
local function changes_tags(words)
  local looks, names = false, false
  for _, w in ipairs(words) do
    if DELETES[w] then
      return true
    end
    looks = looks or LOOKS[w] or LOOKS[w:match("^(%-%-[%w-]+)=") or ""] or w:match("^%-n%d*$") ~= nil
    names = names or w:sub(1, 1) ~= "-" or w:match("^%-[asumfFe]") ~= nil
  end
  return names and not looks
end

---The `git tag` a shell command runs that creates, moves or deletes a tag ("git tag v1.0"); nil
---when it runs none (`git tag`, `git tag -l 'v*'` only list).
---@param command string
---@return string|nil
function M.tag_in(command)
  return each_git(command, function(sub, words, shown)
    return sub == "tag" and changes_tags(words) and shown or nil
  end)
end

return M
