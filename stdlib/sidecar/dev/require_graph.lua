--- The require graph of the stdlib, read from its files as text: every `require("sidecar.x")`,
--- `require "x"`, `require('x')`, `pcall(require, "x")` and a call through an alias (`local r =
--- require`), at the top of a file or inside a function body (lazy). Comments and the insides of
--- strings are skipped, so a require in a comment or in a `-e` script is no edge. A name built at
--- run time from a literal prefix (`require("sidecar.agent." .. dialect)`) is an edge to
--- `sidecar.agent.*`: checked against the order, left out of cycles and load counts; a name with
--- no literal part cannot be read and is counted as unread.
---
---   local graph = require("sidecar.dev.require_graph").scan("stdlib")
---   local problems = require("sidecar.dev.require_graph").check(graph, require("sidecar.dev.layers"))
local files = require("sidecar.core.files")
local paths = require("sidecar.host.paths")

local M = {}

-- Lexer ---------------------------------------------------------------------------------------

-- The level of a long bracket at `i` (`[[` 0, `[==[` 2), or nil.
local function long_level(src, i)
  local eqs = src:match("^%[(=*)%[", i)
  return eqs and #eqs
end

-- The end of a long bracket of `level` opened before `i`, and the lines it spans.
local function long_end(src, i, level)
  local close = "]" .. ("="):rep(level) .. "]"
  local j = src:find(close, i, true)
  local stop = j and j + #close - 1 or #src
  local _, lines = src:sub(i, stop):gsub("\n", "")
  return stop, lines
end

-- A quoted string starting at `i`: its end and its text (escapes kept as written, which is all a
-- module name needs).
local function quoted_end(src, i)
  local q = src:sub(i, i)
  local j = i + 1
  while j <= #src do
    local c = src:sub(j, j)
    if c == "\\" then
      j = j + 2
    elseif c == q or c == "\n" then
      return j, src:sub(i + 1, j - 1)
    else
      j = j + 1
    end
  end
  return #src, src:sub(i + 1)
end

-- The tokens of a Lua source: {kind = "name" | "string" | "op", text, line}. Numbers come out as
-- names, which is all the scan needs of them.
local function tokens(src)
  local out, i, line = {}, 1, 1
  local function add(kind, text)
    out[#out + 1] = { kind = kind, text = text, line = line }
  end
  while i <= #src do
    local c = src:sub(i, i)
    if c == "\n" then
      line, i = line + 1, i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local level = long_level(src, i + 2)
      if level then
        local stop, lines = long_end(src, i + 2, level)
        i, line = stop + 1, line + lines
      else
        i = (src:find("\n", i, true) or #src + 1)
      end
    elseif c == "[" and long_level(src, i) then
      local start = line
      local stop, lines = long_end(src, i, long_level(src, i))
      out[#out + 1] = { kind = "string", text = "", line = start }
      i, line = stop + 1, line + lines
    elseif c == '"' or c == "'" then
      local stop, text = quoted_end(src, i)
      add("string", text)
      i = stop + 1
    elseif c:match("[%w_]") then
      local word = src:match("^[%w_]+", i)
      add("name", word)
      i = i + #word
    else
      local op = src:match("^%.%.%.?", i) or c
      add("op", op)
      i = i + #op
    end
  end
  return out
end

-- Scan ----------------------------------------------------------------------------------------

-- Words that open a block closed by `end` (or `until`): `while` and `for` open theirs with `do`,
-- `elseif` and `else` stay in their `if`'s.
local OPENS = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true }
local CLOSES = { ["end"] = true, ["until"] = true }

-- The text of token `i` ("" past either end), and whether it is a string literal.
local function at(toks, i)
  local t = toks[i]
  return t and t.text or "", t ~= nil and t.kind == "string"
end

-- How `require` (or an alias) at token `k` is called: "call" (`require "x"`, `require(…)`),
-- "pcall" (`pcall(require, …)`), or nil when it is only named (`local r = require`, a field).
local function call_kind(toks, k)
  local before = at(toks, k - 1)
  local after, after_is_string = at(toks, k + 1)
  if before == "." or before == ":" then
    return nil
  elseif after == "(" or after_is_string then
    return "call"
  elseif before == "(" and at(toks, k - 2) == "pcall" and after == "," then
    return "pcall"
  end
end

-- Each require of one file's source: {name, line, lazy, dynamic} and the count of those that
-- cannot be read (a name held in a variable).
local function requires_of(src)
  local toks = tokens(src)
  local found, unread = {}, 0
  local callers = { require = true } -- `require` and its local aliases
  local blocks = {} -- the open blocks: true for a function body
  local function lazy()
    for _, is_function in ipairs(blocks) do
      if is_function then
        return true
      end
    end
    return false
  end
  for k, t in ipairs(toks) do
    if t.kind == "name" and OPENS[t.text] then
      blocks[#blocks + 1] = t.text == "function"
    elseif t.kind == "name" and CLOSES[t.text] then
      blocks[#blocks] = nil
    end
    local kind = t.kind == "name" and callers[t.text] and call_kind(toks, k)
    if t.kind == "name" and callers[t.text] and not kind and at(toks, k - 1) == "=" and toks[k - 2]
        and toks[k - 2].kind == "name" then
      callers[toks[k - 2].text] = true -- local r = require
    elseif kind then
      local parens = kind == "pcall" or at(toks, k + 1) == "("
      local name, is_string = at(toks, parens and k + 2 or k + 1)
      if is_string then -- `"sidecar.agent." .. dialect`: only a prefix is known
        found[#found + 1] = { name = name, line = t.line, lazy = lazy(), dynamic = parens and at(toks, k + 3) == ".." }
      else
        unread = unread + 1
      end
    end
  end
  return found, unread
end
M.requires_of = requires_of

-- The module a file under stdlib/ defines: sidecar/core/json.lua -> sidecar.core.json,
-- sidecar/executor/init.lua -> sidecar.executor.
local function module_of(rel)
  return (rel:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
end

local function lua_files(root, rel, out)
  for _, name in ipairs(assert(paths.entries(root .. "/" .. rel))) do
    local child = rel == "" and name or rel .. "/" .. name
    local st = paths.lstat(root .. "/" .. child)
    if st and st.kind == "directory" then
      lua_files(root, child, out)
    elseif name:match("%.lua$") then
      out[#out + 1] = child
    end
  end
  return out
end

---Reads every .lua file under `root` (the stdlib folder) and returns the graph:
---modules (name -> {path, group}), edges ({from, to, path, line, lazy, dynamic}: each require as
---written, in file order), unread (requires whose name cannot be read: {path, count}).
---@param root string
---@param group_of fun(module: string): string?  the group of a module (sidecar.dev.layers.group_of)
---@return {modules: table, edges: table[], unread: table[]}
function M.scan(root, group_of)
  local graph = { modules = {}, edges = {}, unread = {} }
  for _, rel in ipairs(lua_files(root, "", {})) do
    local module = module_of(rel)
    graph.modules[module] = { path = "stdlib/" .. rel, group = group_of(module) }
    local found, unread = requires_of(assert(files.read(root .. "/" .. rel)))
    for _, r in ipairs(found) do
      local to = r.dynamic and r.name .. "*" or r.name
      graph.edges[#graph.edges + 1] = { from = module, to = to, path = "stdlib/" .. rel, line = r.line,
        lazy = r.lazy, dynamic = r.dynamic }
    end
    if unread > 0 then
      graph.unread[#graph.unread + 1] = { path = "stdlib/" .. rel, count = unread }
    end
  end
  return graph
end

-- Analysis ------------------------------------------------------------------------------------

-- module -> sorted list of the stdlib modules it requires (static names only, self left out),
-- and the modules, sorted (so that what is found comes out in the same order each time).
local function adjacency(graph)
  local adj, seen, nodes = {}, {}, {}
  for m in pairs(graph.modules) do
    adj[m], seen[m] = {}, {}
    nodes[#nodes + 1] = m
  end
  for _, e in ipairs(graph.edges) do
    if not e.dynamic and graph.modules[e.to] and e.to ~= e.from and not seen[e.from][e.to] then
      seen[e.from][e.to] = true
      table.insert(adj[e.from], e.to)
    end
  end
  for _, list in pairs(adj) do
    table.sort(list)
  end
  table.sort(nodes)
  return adj, nodes
end

---The require cycles: each strongly connected component of more than one module, as a sorted
---list of its modules (Tarjan's algorithm); the list sorted by size, largest first.
---@param graph table
---@return string[][]
function M.cycles(graph)
  local adj, nodes = adjacency(graph)
  local index, low, on_stack, stack, next_index, out = {}, {}, {}, {}, 0, {}
  local function connect(v)
    index[v], low[v], next_index = next_index, next_index, next_index + 1
    stack[#stack + 1], on_stack[v] = v, true
    for _, w in ipairs(adj[v]) do
      if not index[w] then
        connect(w)
        low[v] = math.min(low[v], low[w])
      elseif on_stack[w] then
        low[v] = math.min(low[v], index[w])
      end
    end
    if low[v] == index[v] then
      local component = {}
      repeat
        local w = table.remove(stack)
        on_stack[w] = nil
        component[#component + 1] = w
      until w == v
      if #component > 1 then
        table.sort(component)
        out[#out + 1] = component
      end
    end
  end
  for _, v in ipairs(nodes) do
    if not index[v] then
      connect(v)
    end
  end
  table.sort(out, function(a, b)
    return #a > #b or (#a == #b and a[1] < b[1])
  end)
  return out
end

---How many stdlib modules requiring `module` loads, itself included (every static require
---followed, lazy ones too: what a call may load).
---@param graph table
---@param module string
---@return integer
function M.loads(graph, module)
  local adj, seen, count = adjacency(graph), { [module] = true }, 1
  local todo = { module }
  while #todo > 0 do
    for _, w in ipairs(adj[table.remove(todo)]) do
      if not seen[w] then
        seen[w], count = true, count + 1
        todo[#todo + 1] = w
      end
    end
  end
  return count
end

-- The group of an edge's target: a module's, or the group a `sidecar.<group>.*` prefix names.
local function target_group(layers, to)
  return layers.group_of(to:gsub("%.?%*$", ""))
end

-- Where a group stands, for messages: "step 3", or "beside" the order.
local function place(layers, group)
  local rank = layers.rank(group)
  return rank == math.huge and "beside" or "step " .. rank
end

local function edge_key(from, to)
  return from .. " -> " .. to
end

-- Each require against the order, as a problem naming the file, line, edge and groups; marks the
-- exceptions it used in `used`.
local function edge_problems(graph, layers, allowed, used)
  local out = {}
  for _, e in ipairs(graph.edges) do
    local from_group, to_group = graph.modules[e.from].group, target_group(layers, e.to)
    local known = e.dynamic or graph.modules[e.to] or to_group == "host" or layers.provided[e.to]
    if not known then
      out[#out + 1] = ("%s:%d: %s requires %s, which is no module of stdlib/"):format(e.path, e.line, e.from, e.to)
    elseif not layers.rank(from_group or "?") or not layers.rank(to_group or "?") then
      out[#out + 1] = ("%s:%d: %s -> %s: group %s or %s is not declared in sidecar.dev.layers"):format(
        e.path, e.line, e.from, e.to, tostring(from_group), tostring(to_group))
    elseif not layers.allowed(from_group, to_group) then
      local key = edge_key(e.from, e.to)
      if allowed[key] then
        used[key] = true
      else
        out[#out + 1] = ("%s:%d: %s -> %s%s: group %s (%s) may not require group %s (%s)"):format(e.path, e.line,
          e.from, e.to, e.lazy and " (lazy)" or "", from_group, place(layers, from_group), to_group,
          place(layers, to_group))
      end
    end
  end
  return out
end

---Everything against the declared order, as messages: upward (or sideways) requires not in
---`layers.edge_exceptions`, cycles not in `layers.cycle_exceptions`, exceptions that no longer
---occur, requires of modules that do not exist and of groups not declared. Empty when all holds.
---@param graph table  from scan
---@param layers table  sidecar.dev.layers
---@return string[]
function M.check(graph, layers)
  local allowed, used = {}, {}
  for _, x in ipairs(layers.edge_exceptions) do
    allowed[edge_key(x.from, x.to)] = true
  end
  local out = edge_problems(graph, layers, allowed, used)
  local cycle_allowed, cycle_used = {}, {}
  for _, x in ipairs(layers.cycle_exceptions) do
    cycle_allowed[table.concat(x.modules, " ")] = true
  end
  for _, c in ipairs(M.cycles(graph)) do
    local key = table.concat(c, " ")
    if cycle_allowed[key] then
      cycle_used[key] = true
    else
      out[#out + 1] = ("a require cycle of %d modules: %s"):format(#c, key)
    end
  end
  for _, x in ipairs(layers.edge_exceptions) do
    if not used[edge_key(x.from, x.to)] then
      out[#out + 1] = ("stale exception in sidecar.dev.layers: %s no longer requires %s against the order"):format(
        x.from, x.to)
    end
  end
  for _, x in ipairs(layers.cycle_exceptions) do
    local key = table.concat(x.modules, " ")
    if not cycle_used[key] then
      out[#out + 1] = ("stale exception in sidecar.dev.layers: no cycle is exactly %s"):format(key)
    end
  end
  return out
end

---The figures: modules, edges (distinct module pairs within stdlib/, lazy and dynamic ones
---included), lazy (of those, required only inside a function), cycles, exceptions, and for each
---module of `group` how many modules requiring it loads (`loads`, sorted, largest first).
---@param graph table
---@param layers table
---@param group? string  default "run"
---@return table
function M.figures(graph, layers, group)
  group = group or "run"
  local f = { modules = 0, edges = 0, lazy = 0, dynamic = 0, unread = 0, cycles = M.cycles(graph), loads = {},
    exceptions = #layers.edge_exceptions + #layers.cycle_exceptions }
  for m, info in pairs(graph.modules) do
    f.modules = f.modules + 1
    if info.group == group then
      f.loads[#f.loads + 1] = { module = m, count = M.loads(graph, m) }
    end
  end
  local pairs_seen = {}
  for _, e in ipairs(graph.edges) do
    local key = edge_key(e.from, e.to)
    if (graph.modules[e.to] or e.dynamic) and e.from ~= e.to and not pairs_seen[key] then
      pairs_seen[key] = e.lazy and "lazy" or "top"
      f.edges = f.edges + 1
      f.dynamic = f.dynamic + (e.dynamic and 1 or 0)
    elseif pairs_seen[key] == "lazy" and not e.lazy then
      pairs_seen[key] = "top"
    end
  end
  for _, how in pairs(pairs_seen) do
    f.lazy = f.lazy + (how == "lazy" and 1 or 0)
  end
  for _, u in ipairs(graph.unread) do
    f.unread = f.unread + u.count
  end
  table.sort(f.loads, function(a, b)
    return a.count > b.count or (a.count == b.count and a.module < b.module)
  end)
  return f
end

---The figures as text, for a person.
---@param f table  from figures
---@return string
function M.report(f)
  local lines = {
    ("modules %d, edges %d (lazy only %d, built at run time %d, unread %d), cycles %d, exceptions %d"):format(
      f.modules, f.edges, f.lazy, f.dynamic, f.unread, #f.cycles, f.exceptions),
  }
  for _, c in ipairs(f.cycles) do
    lines[#lines + 1] = ("cycle of %d: %s"):format(#c, table.concat(c, " "))
  end
  lines[#lines + 1] = "modules requiring a run-layer module loads:"
  for _, l in ipairs(f.loads) do
    lines[#lines + 1] = ("  %4d  %s"):format(l.count, l.module)
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
