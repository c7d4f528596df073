--- docs/lua-api.md, generated from the code: for each module of the public API (the `public`
--- table of stdlib/sidecar/init.lua) its head comment, then each function it exports (`function
--- M.name`, methods `function Type:name`, `M.name = other.name`) and each documented value or
--- `---@class`, with the `---` comment above it and its `---@param`, `---@return` and `---@field`
--- annotations (LuaLS style). The doc cannot drift from the code: `scripts/lua-api --check`
--- compares docs/lua-api.md with what this makes now, and a test runs it.
---
---   local api_doc = require("sidecar.dev.api_doc")
---   io.write(api_doc.generate({stdlib = "stdlib", head = read("docs/lua-api.head.md")}))
---
--- It reads the files as text and never runs a module; whatever it does not understand is left
--- out, never an error.
local layers = require("sidecar.dev.layers")

local M = {}

-- A `---` comment line's text ("---foo" and "--- foo" both give "foo"); nil for other lines.
local function doc_text(line)
  local rest = line:match("^%-%-%-(.*)$")
  if not rest or rest:match("^%-") then
    return nil
  end
  return (rest:gsub("^ ", "", 1))
end

-- The text up to the first space outside brackets (a type such as `{a?: integer}`), and the rest.
local function split_type(s)
  local depth = 0
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == "{" or c == "(" or c == "[" or c == "<" then
      depth = depth + 1
    elseif c == "}" or c == ")" or c == "]" or c == ">" then
      depth = depth - 1
    elseif c:match("%s") and depth <= 0 and not s:sub(1, i - 1):match(":$") then -- `fun(x): string` goes on
      return s:sub(1, i - 1), (s:sub(i + 1):gsub("^%s+", ""))
    end
  end
  return s, ""
end

-- One annotation line ("@param o table  the options") as {tag, name, type, text}.
local function parse_tag(line)
  local tag, rest = line:match("^@(%w+)%s*(.*)$")
  if tag == "param" or tag == "field" then
    local name, after = rest:match("^(%S+)%s*(.*)$")
    local ty, text = split_type(after or "")
    return { tag = tag, name = name or "?", type = ty, text = text }
  elseif tag == "return" or tag == "type" then
    local ty, text = split_type(rest)
    return { tag = tag, type = ty, text = text }
  elseif tag == "class" or tag == "alias" then
    local name, text = rest:match("^(%S+)%s*(.*)$")
    return { tag = tag, name = name or rest, text = text or "" }
  end
  return { tag = tag or "?", text = rest or line }
end

-- A comment block's lines as {text = {lines}, tags = {...}}: lines after a tag continue it.
local function parse_block(lines)
  local doc = { text = {}, tags = {} }
  local last
  for _, line in ipairs(lines) do
    if line:match("^@%w") then
      last = parse_tag(line)
      doc.tags[#doc.tags + 1] = last
    elseif last then
      local more = line:gsub("^%s+", "")
      last.text = last.text == "" and more or (last.text .. " " .. more)
    else
      doc.text[#doc.text + 1] = line
    end
  end
  return doc
end

-- A function's argument list, joined across lines when it spans several: the text between the
-- parentheses and the index of the line it ends on.
local function arguments(lines, i)
  local text = lines[i]
  local j = i
  while not text:find(")", 1, true) and j < #lines and j < i + 10 do
    j = j + 1
    text = text .. " " .. lines[j]:gsub("^%s+", "")
  end
  return (text:match("%((.-)%)") or ""):gsub("%s+", " "), j
end

-- The item a line declares (after its comment block), or nil: a function of the module or of a
-- type, an alias or a documented value of the module, or a block holding a `---@class`.
local function declared(lines, i, block)
  local line = lines[i]
  local owner, sep, name = line:match("^function ([%a_][%w_]*)([.:])([%a_][%w_]*)%s*%(")
  if owner and not name:match("^_") then
    return { kind = "function", owner = owner, sep = sep, name = name, args = (arguments(lines, i)), doc = block }
  end
  owner, name = line:match("^([%a_][%w_]*)%.([%a_][%w_]*)%s*=")
  if owner == "M" and not name:match("^_") then
    local rhs = line:match("=%s*(.-)%s*$")
    local fn_args = rhs:match("^function%s*%((.-)%)")
    if fn_args then
      return { kind = "function", owner = owner, sep = ".", name = name, args = fn_args, doc = block }
    end
    local is_alias = rhs:match("^[%a_][%w_.]*$") and not rhs:match("^%u[%u%d_]*$")
    if is_alias or #block.text > 0 or #block.tags > 0 then
      local params = {}
      for _, t in ipairs(block.tags) do
        params[#params + 1] = t.tag == "param" and t.name or nil
      end
      if #params > 0 then -- documented as a function (`M.encode = host.encode`)
        return { kind = "function", owner = owner, sep = ".", name = name, args = table.concat(params, ", "), doc = block }
      end
      return { kind = "value", owner = owner, name = name, value = rhs, doc = block }
    end
  end
  for _, t in ipairs(block.tags) do
    if t.tag == "class" then
      return { kind = "class", name = t.name, doc = block }
    end
  end
end

---Reads one module's source: its head comment (the `---` lines it starts with) and the items it
---declares, in file order.
---@param text string  the module's Lua source
---@return {head: string[], items: table[]}
function M.parse(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  local head, i = {}, 1
  while lines[i] and doc_text(lines[i]) do
    head[#head + 1] = doc_text(lines[i])
    i = i + 1
  end
  local items, block = {}, {}
  while i <= #lines do
    local d = doc_text(lines[i])
    if d then
      block[#block + 1] = d
    else
      local item = declared(lines, i, parse_block(block))
      items[#items + 1] = item
      block = {}
    end
    i = i + 1
  end
  return { head = head, items = items }
end

-- Comment text as Markdown: an indented run of lines after a blank line or a line ending in ':'
-- is code (fenced as Lua); other lines are prose, as written.
local function markdown(lines)
  local out, in_code, prev = {}, false, ""
  local function close()
    while out[#out] == "" do
      out[#out] = nil
    end
    out[#out + 1] = "```"
    out[#out + 1] = ""
    in_code = false
  end
  for _, line in ipairs(lines) do
    local indented = line:match("^%s%s+%S") ~= nil
    if in_code and not indented and line ~= "" then
      close()
    end
    if not in_code and indented and (prev == "" or prev:match(":%s*$")) then
      if out[#out] ~= "" and #out > 0 then
        out[#out + 1] = ""
      end
      out[#out + 1] = "```lua"
      in_code = true
    end
    out[#out + 1] = in_code and line:gsub("^  ", "", 1) or line
    prev = line
  end
  if in_code then
    close()
  end
  while out[#out] == "" do
    out[#out] = nil
  end
  return table.concat(out, "\n")
end

-- "`type`" for a type, "" for none.
local function code(s)
  if not s or s == "" then
    return ""
  end
  return "`" .. s:gsub("`", "'") .. "`"
end

-- The annotations of a doc block as Markdown lines.
local function tag_lines(doc)
  local out = {}
  for _, t in ipairs(doc.tags) do
    if t.tag == "param" or t.tag == "field" then
      out[#out + 1] = ("- `%s`%s%s"):format(t.name, t.type ~= "" and (" (" .. code(t.type) .. ")") or "",
        t.text ~= "" and (": " .. t.text) or "")
    elseif t.tag == "return" then
      out[#out + 1] = ("- returns %s%s"):format(code(t.type), t.text ~= "" and (" " .. t.text) or "")
    elseif t.tag == "type" then
      out[#out + 1] = ("- type %s%s"):format(code(t.type), t.text ~= "" and (" " .. t.text) or "")
    end
  end
  return out
end

-- One item as a Markdown section; `short` is the module's short name.
local function render_item(short, item)
  local title
  if item.kind == "function" then
    local owner = item.owner == "M" and short or item.owner
    title = ("`%s%s%s(%s)`"):format(owner, item.sep, item.name, item.args)
  elseif item.kind == "value" then
    title = ("`%s.%s`"):format(short, item.name)
  else
    title = ("`%s` (a table type)"):format(item.name)
  end
  local parts = { "### " .. title }
  local text = markdown(item.doc.text)
  if text ~= "" then
    parts[#parts + 1] = text
  elseif item.kind == "value" then
    parts[#parts + 1] = ("= `%s`"):format(item.value)
  end
  local tags = tag_lines(item.doc)
  if #tags > 0 then
    parts[#parts + 1] = table.concat(tags, "\n")
  end
  return table.concat(parts, "\n\n")
end

-- A heading's anchor as GitHub makes it.
local function anchor(heading)
  return (heading:lower():gsub("[^%w%s_-]", ""):gsub("%s", "-"))
end

-- The public modules, each {short, module, path}, in layer order: `sidecar` itself, then each
-- group bottom up, by short name within a group.
local function modules(public)
  local rank, groups = {}, layers.groups()
  for i, g in ipairs(groups) do
    rank[g] = i
  end
  local list = {}
  for short, module in pairs(public) do
    local group = module:match("^sidecar%.([%w_]+)%.") or ""
    list[#list + 1] = { short = short, module = module, rank = rank[group] or #groups + 1 }
  end
  table.sort(list, function(a, b)
    return a.rank < b.rank or (a.rank == b.rank and a.short < b.short)
  end)
  table.insert(list, 1, { short = "sidecar", module = "sidecar" })
  return list
end

-- A file's text, or nil.
local function read(path)
  local f <close> = io.open(path, "rb")
  return f and f:read("a")
end

---The path of a module's source under a stdlib folder: sidecar.core.json is
---`stdlib`/sidecar/core/json.lua, sidecar itself `stdlib`/sidecar/init.lua.
---@param stdlib string
---@param module string
---@return string
function M.source_path(stdlib, module)
  if module == "sidecar" then
    return stdlib .. "/sidecar/init.lua"
  end
  return stdlib .. "/" .. module:gsub("%.", "/") .. ".lua"
end

-- The `public` table of init.lua, read by running that file alone (it requires nothing).
local function public_of(stdlib)
  local path = M.source_path(stdlib, "sidecar")
  local chunk = assert(loadfile(path, "t", { setmetatable = setmetatable, pairs = pairs, rawget = rawget,
    require = require, table = table }))
  return assert(chunk().public, path .. ": no `public` table")
end

---docs/lua-api.md: `head` (hand-written: the recipes), a list of the modules, then each public
---module's section, generated from its source under `stdlib`.
---@param opts {stdlib: string, head?: string}  stdlib: the folder holding sidecar/; head: Markdown put first
---@return string markdown
function M.generate(opts)
  local list = modules(public_of(opts.stdlib))
  local sections, toc = {}, {}
  for _, m in ipairs(list) do
    local heading = ("%s: %s"):format(m.short, m.module)
    toc[#toc + 1] = ("- [`%s`](#%s) `%s`"):format(m.short, anchor(heading), m.module)
    local text = read(M.source_path(opts.stdlib, m.module))
    local parts = { "## " .. heading }
    if not text then
      parts[#parts + 1] = "(its source was not found)"
    else
      local parsed = M.parse(text)
      local head = markdown(parsed.head)
      parts[#parts + 1] = head ~= "" and head or nil
      for _, item in ipairs(parsed.items) do
        parts[#parts + 1] = render_item(m.short, item)
      end
    end
    sections[#sections + 1] = table.concat(parts, "\n\n")
  end
  local head = opts.head and (opts.head:gsub("%s+$", "") .. "\n\n") or ""
  return head .. "<!-- Generated from the code by scripts/lua-api (stdlib/sidecar/dev/api_doc.lua): edit the "
    .. "annotations, or docs/lua-api.head.md for the part above, then run scripts/lua-api. -->\n\n"
    .. "## The modules\n\n" .. table.concat(toc, "\n") .. "\n\n" .. table.concat(sections, "\n\n") .. "\n"
end

return M
