--- The user's large untracked files an apply replaces (stdlib/sidecar/run/worktree_apply.lua).
---
--- A writing run leaves the user's untracked files larger than worktree.max_untracked_bytes out
--- of its commits (worktree.left_out). When its agent changed one, applying the run writes the
--- agent's version over the user's. git never overwrites an untracked file, so the user's file
--- is moved aside first, into the run's folder of the store (runs/R-…/aside/, listed in
--- moved.json before anything moves), and removed once the write succeeded, or put back when it
--- failed. A crash in between leaves it there, listed, and the next apply or discard of the run
--- puts it back (M.restore).
local json = require("sidecar.core.json")
local paths = require("sidecar.host.paths")

local M = {}

---`rel` when it is a path from the top of a work tree, else nil (an absolute path, or one with a
---".." part, names a place outside it).
function M.inside(rel)
  return type(rel) == "string" and rel ~= "" and rel:sub(1, 1) ~= "/" and not ("/" .. rel .. "/"):find("/%.%./")
    and rel or nil
end

local function key(f)
  return ("%s\0%s\0%s"):format(f.path, tostring(f.size), tostring(f.mtime_ns))
end

---Of the files a merge writes (`files`, {path}), those the snapshot of the user's tree left out
---(`left_out`, as the snapshot listed them): movable when the run left the same file out (path,
---size and mtime as it recorded them in `recorded`: the user's file is as the agent found it),
---else in the way (the user's file changed since, or the run never saw it: a secret file it left
---out, reason "secret", which the agent never had): a conflict.
---@return table[] movable  entries of left_out
---@return string[] in_the_way  paths
function M.pick(files, left_out, recorded)
  local known, out = {}, {}
  for _, f in ipairs(type(recorded) == "table" and recorded or {}) do
    if f.reason ~= "secret" then
      known[key(f)] = true
    end
  end
  for _, f in ipairs(left_out or {}) do
    out[f.path] = f
  end
  local movable, in_the_way = {}, {}
  for _, f in ipairs(files) do
    local l = out[f.path]
    if l and known[key(l)] then
      movable[#movable + 1] = l
    elseif l then
      in_the_way[#in_the_way + 1] = f.path
    end
  end
  return movable, in_the_way
end

-- True, or nil and why (a full disk, say).
local function write_list(dir, list)
  local f, why = io.open(dir .. "/moved.json", "wb")
  if not f then
    return nil, why
  end
  local written, write_why = f:write(json.encode(list), "\n")
  local closed, close_why = f:close()
  if written and closed then
    return true
  end
  return nil, write_why or close_why
end

local function same(a, b)
  return a and b and a.kind == "file" and a.size == b.size and a.mtime_ns == b.mtime_ns
end

---Moves each file of `list` (entries of M.pick's movable) from the work tree `top` into `dir`
---(made here), after checking it is still as the snapshot saw it. Returns the moves (for
---M.finish), or nil, why and the path that could not move, with nothing moved.
function M.move(dir, top, list)
  if #list == 0 then
    return {}
  end
  local made, why = paths.make_dirs(dir)
  if not made then
    return nil, "the folder to move files aside into could not be made: " .. tostring(why)
  end
  local moves = {}
  for i, f in ipairs(list) do
    moves[i] = { path = f.path, aside = tostring(i), size = f.size, mtime_ns = f.mtime_ns }
  end
  local listed, not_listed = write_list(dir, moves) -- before anything moves: a crash leaves a list
  if not listed then
    return nil, "the list of files to move aside could not be written: " .. tostring(not_listed), moves[1].path
  end
  for i, m in ipairs(moves) do
    local from, to = top .. "/" .. m.path, dir .. "/" .. m.aside
    local ok, why = same(paths.lstat(from), m), ("%s changed since the snapshot"):format(m.path)
    if ok then
      ok, why = os.rename(from, to)
    end
    if not ok then
      M.finish(top, dir, { table.unpack(moves, 1, i - 1) }, false)
      return nil, ("your %s could not be moved aside for the agent's version: %s"):format(m.path, tostring(why)),
        m.path
    end
  end
  return moves
end

---After the write: `written` true removes the moved files (one that changed while aside, as a
---program still writing it would change it, is kept there and its path returned); false puts
---each back. Returns the paths kept aside, and a message for any file that could not be put
---back (it stays in `dir`, listed).
function M.finish(top, dir, moves, written)
  local kept, stuck = {}, {}
  for _, m in ipairs(moves) do
    local aside = dir .. "/" .. m.aside
    if not written then
      local back = top .. "/" .. m.path -- rename replaces: never over a file there now
      if paths.lstat(back) or not os.rename(aside, back) then
        stuck[#stuck + 1] = m
      end
    elseif same(paths.lstat(aside), m) then
      os.remove(aside)
    else
      kept[#kept + 1] = m.path
      stuck[#stuck + 1] = m
    end
  end
  if #stuck > 0 then
    write_list(dir, stuck) -- at worst the longer list stays: restore skips what is gone
    local names = {}
    for i, m in ipairs(stuck) do
      names[i] = m.path .. " (as " .. dir .. "/" .. m.aside .. ")"
    end
    return kept, "kept aside: " .. table.concat(names, ", ")
  end
  os.remove(dir .. "/moved.json")
  os.remove(dir)
  return kept
end

---Puts back what an apply that crashed left aside in `dir` (where the user's file is missing).
---Returns nil, or a message naming what is still aside.
function M.restore(top, dir)
  local f = io.open(dir .. "/moved.json", "rb")
  if not f then
    return nil
  end
  local ok, moves = json.try_decode(f:read("a"))
  f:close()
  if not ok or type(moves) ~= "table" then
    return "the list of files moved aside is unreadable: " .. dir .. "/moved.json"
  end
  local left = {}
  for _, m in ipairs(moves) do
    local sane = type(m) == "table" and M.inside(m.path) and tostring(m.aside):match("^%d+$")
    if sane and paths.lstat(dir .. "/" .. m.aside) then
      left[#left + 1] = m
    end
  end
  local _, why = M.finish(top, dir, left, false)
  return why
end

return M
