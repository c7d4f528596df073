--- The names of the cases a hostile test records, read out of its text (tests/e2e/hostile_*_test.sh)
--- for tests/lua/security_table_spec.lua: the first argument of each `hostile_case` call, expanded as
--- the shell would where the text tells: the words of the enclosing for loops (a list in a
--- variable split), what a variable is assigned (in the function that assigns it, else outside any),
--- ${x%%…} ${x%…} ${x##…} ${x#…} ${x:-…}, an array's elements and an associative array's keys, and a
--- function's "$1" from its calls (a wrapper such as `verdict NAME WHY`). Here-documents (the fake
--- agents' scripts) are skipped. What the text does not tell ($(command), $RANDOM) stands as M.WILD.
---
---   local cases = dofile(here .. "hostile_cases.lua")
---   cases.case_names(text, {"hostile_case"})   -- {{name = "push (bwrap)", line = 108}, ...}
local M = {}

---A value the text does not tell: any text.
M.WILD = "\1"
local WILD = M.WILD
local CAP = 5000 -- more values than this for one word: any text

-- The end of what opens at i (text:sub(i, i) is the opener): a $(…) or ${…}, counting nesting and
-- skipping quoted text. Returns the index of the closer.
local function closing(text, i, open, close)
  local depth, j, quote = 0, i, nil
  while j <= #text do
    local c = text:sub(j, j)
    if quote then
      if c == "\\" and quote == '"' then
        j = j + 1
      elseif c == quote then
        quote = nil
      end
    elseif c == "\\" then
      j = j + 1
    elseif c == "'" and open == "(" or c == '"' then
      quote = c
    elseif c == open then
      depth = depth + 1
    elseif c == close then
      depth = depth - 1
      if depth == 0 then
        return j
      end
    end
    j = j + 1
  end
  return #text
end

-- A ${…} expansion's inside as a part: {var, op, arg} or {wild}.
local function brace_part(inner, quoted)
  local name = inner:match("^!([%a_][%w_]*)%[[@*]%]$")
  if name then
    return { var = name, op = "keys", quoted = quoted }
  end
  name = inner:match("^([%a_][%w_]*)%[[@*]%]$")
  if name then
    return { var = name, op = "all", quoted = quoted }
  end
  name = inner:match("^([%a_][%w_]*)$") or inner:match("^(%d+)$")
  if name then
    return { var = name, quoted = quoted }
  end
  local op, arg
  name, op, arg = inner:match("^([%a_][%w_]*)([%%#:]?[%%#%-+=?]?)(.*)$")
  if not name then
    name, op, arg = inner:match("^(%d)([%%#:]?[%%#%-+=?]?)(.*)$")
  end
  if name and op ~= "" then
    return { var = name, op = op, arg = arg, quoted = quoted }
  end
  return { wild = true }
end

-- The tokens of a script: {word = parts, line}, {op = ";" | "&&" | … | "(" | ")" | "<" (a
-- redirection), line}, {nl = true}. A word's parts: {lit}, {var, op?, arg?, quoted}, {wild}.
local function lex(text)
  local toks, i, line = {}, 1, 1
  local parts, lit, word_line
  local heredocs = {} -- the here-documents whose bodies start after this line: {word, dash}
  local function start()
    if not parts then
      parts, lit, word_line = {}, "", line
    end
  end
  local function flush()
    if lit and lit ~= "" then
      parts[#parts + 1] = { lit = lit }
    end
    lit = ""
  end
  local function add(part)
    start()
    flush()
    parts[#parts + 1] = part
  end
  local function finish()
    if parts then
      flush()
      toks[#toks + 1] = { word = parts, line = word_line }
      parts = nil
    end
  end
  local function op(o)
    finish()
    toks[#toks + 1] = { op = o, line = line }
  end
  -- A $ expansion at i; returns the index after it.
  local function dollar(quoted)
    local nxt = text:sub(i + 1, i + 1)
    if nxt == "(" then
      local j = closing(text, i + 1, "(", ")")
      local _, nl = text:sub(i, j):gsub("\n", "")
      line = line + nl
      add({ wild = true })
      return j + 1
    elseif nxt == "{" then
      local j = closing(text, i + 1, "{", "}")
      add(brace_part(text:sub(i + 2, j - 1), quoted))
      return j + 1
    elseif nxt:match("[%a_]") then
      local name = text:match("^[%a_][%w_]*", i + 1)
      add({ var = name, quoted = quoted })
      return i + 1 + #name
    elseif nxt:match("%d") then
      add({ var = nxt, quoted = quoted })
      return i + 2
    elseif nxt:match("[@*#?$!%-]") then
      add({ wild = true })
      return i + 2
    elseif nxt == "'" and not quoted then -- $'…': ANSI-C quoting
      local j = text:find("'", i + 2, true) or #text
      start()
      lit = lit .. text:sub(i + 2, j - 1):gsub("\\n", "\n"):gsub("\\t", "\t")
      return j + 1
    end
    start()
    lit = lit .. "$"
    return i + 1
  end
  while i <= #text do
    local c = text:sub(i, i)
    if c == " " or c == "\t" then
      finish()
      i = i + 1
    elseif c == "\n" then
      finish()
      toks[#toks + 1] = { nl = true, line = line }
      line = line + 1
      i = i + 1
      for _, h in ipairs(heredocs) do -- a body (a fake agent's script) is skipped up to its word
        while i <= #text do
          local e = text:find("\n", i, true) or #text + 1
          local l = text:sub(i, e - 1)
          i, line = e + 1, line + 1
          if (h.dash and l:gsub("^\t+", "") or l) == h.word then
            break
          end
        end
      end
      heredocs = {}
    elseif c == "#" and not parts then
      i = text:find("\n", i, true) or #text + 1
    elseif c == "\\" then
      if text:sub(i + 1, i + 1) == "\n" then
        line = line + 1
      else
        start()
        lit = lit .. text:sub(i + 1, i + 1)
      end
      i = i + 2
    elseif c == "'" then
      local j = text:find("'", i + 1, true) or #text + 1
      start()
      local s = text:sub(i + 1, j - 1)
      lit = lit .. s
      line = line + select(2, s:gsub("\n", ""))
      i = j + 1
    elseif c == '"' then
      start()
      i = i + 1
      while i <= #text and text:sub(i, i) ~= '"' do
        local d = text:sub(i, i)
        if d == "\\" and text:sub(i + 1, i + 1):match('["\\$`\n]') then
          if text:sub(i + 1, i + 1) == "\n" then
            line = line + 1
          else
            lit = lit .. text:sub(i + 1, i + 1)
          end
          i = i + 2
        elseif d == "$" then
          i = dollar(true)
        elseif d == "`" then
          local j = text:find("`", i + 1, true) or #text
          add({ wild = true })
          i = j + 1
        else
          if d == "\n" then
            line = line + 1
          end
          lit = lit .. d
          i = i + 1
        end
      end
      i = i + 1
    elseif c == "$" then
      i = dollar(false)
    elseif c == "`" then
      local j = text:find("`", i + 1, true) or #text
      add({ wild = true })
      i = j + 1
    elseif c == ";" then
      if text:sub(i + 1, i + 1) == ";" then
        op(";;")
        i = i + 2
      else
        op(";")
        i = i + 1
      end
    elseif c == "&" or c == "|" then
      local two = text:sub(i, i + 1)
      if two == "&&" or two == "||" then
        op(two)
        i = i + 2
      elseif two == "&>" then
        op("<")
        i = i + 2 + (text:sub(i + 2, i + 2) == ">" and 1 or 0)
      else
        op(c)
        i = i + 1
      end
    elseif c == "<" or c == ">" then
      if parts and #parts == 0 and lit:match("^%d+$") then
        parts = nil -- a descriptor number (2>&1): not a word
      end
      local j = i
      while text:sub(j, j):match("[<>&|]") do
        j = j + 1
      end
      local o = text:sub(i, j - 1)
      if o == "<<" then -- a here-document: <<WORD, <<-'WORD'
        local dash = text:sub(j, j) == "-"
        local word = text:match("^%s*['\"]?([%w_]+)['\"]?", dash and j + 1 or j)
        if word then
          heredocs[#heredocs + 1] = { word = word, dash = dash }
          finish()
          i = select(2, text:find("^%s*['\"]?[%w_]+['\"]?", dash and j + 1 or j)) + 1
        else
          op("<")
          i = j
        end
      elseif o:match(">&$") or o:match("<&$") then
        while text:sub(j, j):match("[%d%-]") do -- >&2, <&-: no target word
          j = j + 1
        end
        finish()
        i = j
      else
        op("<") -- a redirection: its target is the next word
        i = j
      end
    elseif c == "(" then
      if parts and #parts == 0 and lit:match("^[%a_][%w_]*%+?=$") then
        finish()
        toks[#toks].array = true -- NAME=( … ): the words up to ")" are its elements
      else
        op("(")
      end
      i = i + 1
    elseif c == ")" then
      op(")")
      i = i + 1
    else
      start()
      lit = lit .. c
      i = i + 1
    end
  end
  finish()
  return toks
end

-- A word's text when it is all literal, else nil.
local function literal(word)
  local s = {}
  for _, p in ipairs(word) do
    if not p.lit then
      return nil
    end
    s[#s + 1] = p.lit
  end
  return table.concat(s)
end

-- NAME=VALUE (or NAME+=, NAME[KEY]=) as name, key, value's parts; nil when the word is not one.
local function assignment(word)
  local first = word[1]
  if not (first and first.lit) then
    return nil
  end
  local name, key, rest = first.lit:match("^([%a_][%w_]*)%[([^%]]*)%]%+?=(.*)$")
  if not name then
    name, rest = first.lit:match("^([%a_][%w_]*)%+?=(.*)$")
  end
  if not name then
    return nil
  end
  local value = { table.unpack(word, 2) }
  if rest ~= "" then
    table.insert(value, 1, { lit = rest })
  end
  return name, key, value
end

local STARTERS = { ["if"] = true, ["then"] = true, ["else"] = true, ["elif"] = true, ["while"] = true,
  ["until"] = true, ["!"] = true, ["time"] = true }
local DECLARERS = { ["local"] = true, export = true, declare = true, readonly = true, typeset = true }

---What a script's text says of its variables and commands: {assigns = {[name] = {{value, scope}}},
---arrays = {[name] = {{value, scope}}}, keys = {[name] = {keys}}, calls = {{name, args, scope, line}},
---calls_of = {[name] = {call…}}}. A scope is {loops = {{var, words, scope}} (outermost first), func}.
---@param text string
local function read_script(text)
  local sh = { assigns = {}, arrays = {}, keys = {}, calls = {}, calls_of = {} }
  local toks = lex(text)
  local loops, funcs, braces = {}, {}, 0
  local pending_for, pending_func, cases = nil, nil, {}
  local function scope()
    return { loops = { table.unpack(loops) }, func = funcs[#funcs] and funcs[#funcs].name }
  end
  local function assign(name, key, value)
    if key then
      sh.keys[name] = sh.keys[name] or {}
      table.insert(sh.keys[name], key)
    else
      sh.assigns[name] = sh.assigns[name] or {}
      table.insert(sh.assigns[name], { value = value, scope = scope() })
    end
  end
  local i, cmd = 1, nil
  local function finish_cmd()
    if cmd and cmd.name then
      local call = { name = cmd.name, args = cmd.args, scope = cmd.scope, line = cmd.line }
      sh.calls[#sh.calls + 1] = call
      sh.calls_of[cmd.name] = sh.calls_of[cmd.name] or {}
      table.insert(sh.calls_of[cmd.name], call)
      if DECLARERS[cmd.name] then
        for _, a in ipairs(cmd.args) do
          local name, key, value = assignment(a)
          if name then
            assign(name, key, value)
          end
        end
      end
    end
    cmd = nil
  end
  while i <= #toks do
    local t = toks[i]
    local case = cases[#cases]
    if t.nl or (t.op and t.op ~= "<") then
      finish_cmd()
      if t.op == ";;" and case then
        case.patterns = true
      elseif t.op == ")" and case and case.patterns then
        case.patterns = false
      end
      i = i + 1
    elseif t.op == "<" then -- a redirection and its target
      i = i + 2
    elseif case and case.patterns then
      if literal(t.word) == "esac" then
        table.remove(cases)
      end
      i = i + 1
    elseif cmd and cmd.name then
      cmd.args[#cmd.args + 1] = t.word
      i = i + 1
    else
      local text = literal(t.word)
      if text == "for" and toks[i + 1] and toks[i + 1].word then
        local var = literal(toks[i + 1].word)
        local words, j = {}, i + 2
        if toks[j] and toks[j].word and literal(toks[j].word) == "in" then
          j = j + 1
          while toks[j] and toks[j].word do
            words[#words + 1] = toks[j].word
            j = j + 1
          end
        else
          words[1] = { { wild = true } }
        end
        pending_for = { var = var, words = words, scope = scope() }
        i = j
      elseif text == "do" then
        loops[#loops + 1] = pending_for or {}
        pending_for = nil
        i = i + 1
      elseif text == "done" then
        table.remove(loops)
        cmd = {}
        i = i + 1
      elseif text == "case" then
        cases[#cases + 1] = { patterns = true }
        i = i + 3 -- case WORD in
      elseif text == "{" then
        if pending_func then
          funcs[#funcs + 1] = { name = pending_func, braces = braces }
          pending_func = nil
        end
        braces = braces + 1
        i = i + 1
      elseif text == "}" then
        braces = braces - 1
        if funcs[#funcs] and funcs[#funcs].braces == braces then
          table.remove(funcs)
        end
        cmd = {}
        i = i + 1
      elseif text == "fi" or text == "esac" then
        if text == "esac" then
          table.remove(cases)
        end
        cmd = {}
        i = i + 1
      elseif text and STARTERS[text] then
        i = i + 1
      else
        local name, key, value = assignment(t.word)
        if t.array and name then
          sh.arrays[name] = sh.arrays[name] or {}
          local j = i + 1
          while toks[j] and not (toks[j].op == ")") do
            if toks[j].word then
              table.insert(sh.arrays[name], { value = toks[j].word, scope = scope() })
            end
            j = j + 1
          end
          i = j + 1
        elseif name then
          assign(name, key, value)
          i = i + 1
        else
          if toks[i + 1] and toks[i + 1].op == "(" and toks[i + 2] and toks[i + 2].op == ")" then
            pending_func = text -- NAME() { … }
            i = i + 3
          else
            cmd = { name = text or "?", args = {}, scope = scope(), line = t.line }
            i = i + 1
          end
        end
      end
    end
  end
  finish_cmd()
  return sh
end

-- Expanding a word to the values it takes --------------------------------------------------------

local function append(out, list)
  for _, v in ipairs(list) do
    out[#out + 1] = v
  end
  return out
end

local function dedupe(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if not seen[v] then
      seen[v], out[#out + 1] = true, v
    end
  end
  return out
end

-- A glob (the pattern of ${x%%…}) as an anchored Lua pattern.
local function glob(g)
  local out = g:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".")
  return "^" .. out .. "$"
end

local function trim(op, pattern, s)
  local p = glob(pattern)
  if op == "%%" or op == "%" then
    local from, to, step = 1, #s + 1, 1
    if op == "%" then
      from, to, step = #s + 1, 1, -1
    end
    for k = from, to, step do
      if s:sub(k):match(p) then
        return s:sub(1, k - 1)
      end
    end
  else
    local from, to, step = 0, #s, 1
    if op == "##" then
      from, to, step = #s, 0, -1
    end
    for k = from, to, step do
      if s:sub(1, k):match(p) then
        return s:sub(k + 1)
      end
    end
  end
  return s
end

local expand

-- The values of variable `name` where `scope` is: its innermost for loop's words, else what it is
-- assigned (in the function `scope` is in, when that assigns it; else outside any function).
local function values_of(sh, name, scope, busy)
  for k = #scope.loops, 1, -1 do
    local frame = scope.loops[k]
    if frame.var == name then
      local out = {}
      for _, w in ipairs(frame.words) do
        local split = false
        for _, p in ipairs(w) do
          split = split or (p.var and not p.quoted and p.op ~= "all" and p.op ~= "keys")
        end
        for _, v in ipairs(expand(sh, w, frame.scope, busy)) do
          if split then
            for piece in v:gmatch("%S+") do
              out[#out + 1] = piece
            end
          else
            out[#out + 1] = v
          end
        end
      end
      return out
    end
  end
  if name:match("^%d$") then -- a function's argument: what its calls give it
    if not scope.func then
      return { WILD }
    end
    local out = {}
    for _, call in ipairs(sh.calls_of[scope.func] or {}) do
      local arg = call.args[tonumber(name)]
      append(out, arg and expand(sh, arg, call.scope, busy) or { "" })
    end
    return out
  end
  local mine, outside = {}, {}
  for _, a in ipairs(sh.assigns[name] or {}) do
    if scope.func and a.scope.func == scope.func then
      mine[#mine + 1] = a
    elseif a.scope.func == nil then
      outside[#outside + 1] = a
    end
  end
  local list = #mine > 0 and mine or outside
  if #list == 0 then
    return { WILD }
  end
  local out = {}
  for _, a in ipairs(list) do
    append(out, expand(sh, a.value, a.scope, busy))
  end
  return out
end

-- The values one part of a word takes.
local function part_values(sh, p, scope, busy)
  if p.lit then
    return { p.lit }
  elseif p.wild then
    return { WILD }
  end
  local key = p.var .. "@" .. tostring(scope)
  if busy[key] then
    return { WILD }
  end
  busy[key] = true
  local vals
  if p.op == "keys" then
    vals = sh.keys[p.var] or { WILD }
  elseif p.op == "all" then
    vals = {}
    for _, e in ipairs(sh.arrays[p.var] or {}) do
      append(vals, expand(sh, e.value, e.scope, busy))
    end
  else
    vals = values_of(sh, p.var, scope, busy)
    if p.op == "%%" or p.op == "%" or p.op == "##" or p.op == "#" then
      for k, v in ipairs(vals) do
        vals[k] = trim(p.op, p.arg, v)
      end
    elseif p.op == ":-" or p.op == "-" then
      vals[#vals + 1] = p.arg:find("$", 1, true) and WILD or p.arg
    elseif p.op then
      vals = { WILD }
    end
  end
  busy[key] = nil
  return vals
end

---Every value a word takes where `scope` is (WILD where the text does not tell).
---@return string[]
function expand(sh, word, scope, busy)
  local acc = { "" }
  for _, p in ipairs(word) do
    local vals, nxt = dedupe(part_values(sh, p, scope, busy or {})), {}
    for _, a in ipairs(acc) do
      for _, v in ipairs(vals) do
        nxt[#nxt + 1] = a .. v
      end
    end
    acc = dedupe(nxt)
    if #acc > CAP then
      return { WILD }
    end
  end
  return acc
end

---The names of a script's cases: the first argument of each call of one of `commands`
---(hostile_case), as {name, line}; a name holding M.WILD matches any text there.
---@param text string
---@param commands string[]
---@return {name: string, line: integer}[]
function M.case_names(text, commands)
  local sh, out, seen = read_script(text), {}, {}
  local wanted = {}
  for _, c in ipairs(commands) do
    wanted[c] = true
  end
  for _, call in ipairs(sh.calls) do
    if wanted[call.name] and call.args[1] then
      for _, name in ipairs(expand(sh, call.args[1], call.scope)) do
        if not seen[name] then
          seen[name] = true
          out[#out + 1] = { name = name, line = call.line }
        end
      end
    end
  end
  return out
end

return M
