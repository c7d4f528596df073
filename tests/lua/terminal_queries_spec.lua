-- A full-screen program on a run's terminal: its questions to the terminal answered
-- (stdlib/sidecar/agent/terminal_queries.lua), and its screen, placed with cursor moves, read as
-- lines (stdlib/sidecar/agent/screen.lua), as codex's interactive screen draws its dialogs.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local queries = require("sidecar.agent.terminal_queries")
local screen = require("sidecar.agent.screen")

describe("terminal_queries: a terminal's answers", function()
  it("answers the cursor, device, colour and keyboard questions, in order, once each", function()
    local q = queries.new()
    expect(q:feed("hello")):equals("")
    expect(q:feed("\27[?u\27[c\27[6n\27]10;?\27\\\27]11;?\7")):equals(
      "\27[?0u\27[?62;22c\27[1;1R\27]10;rgb:dddd/dddd/dddd\27\\\27]11;rgb:1111/1111/1111\7")
    expect(q:feed("more text")):equals("") -- what was answered is not answered again
  end)

  it("finds a question cut between two chunks, at any byte", function()
    local ask = "x\27]11;?\27\\y"
    for cut = 1, #ask - 1 do
      local q = queries.new()
      expect(q:feed(ask:sub(1, cut)) .. q:feed(ask:sub(cut + 1))):equals("\27]11;rgb:1111/1111/1111\27\\")
    end
  end)

  it("answers a program that asks without end only so often", function()
    local q = queries.new()
    local total = 0
    for _ = 1, 30 do
      total = total + #q:feed(("\27[6n"):rep(1000))
    end
    expect(total):equals(queries.MAX_ANSWERS * #"\27[1;1R")
  end)
end)

describe("screen: a full-screen program's words", function()
  it("reads a move to another row as a line end and a move along it as a space", function()
    local s = screen.stripper()
    local text = s:feed("\27[?1049h\27[2;3HTrust\27[2;9Hthis\27[2;14Hfolder?\27[4;3H\27[1m›\27[22m 1.\27[4;8HTrust"
      .. "\27[6;3Henter\27[2m continue\27[5Cesc back")
    local lines, partial = screen.lines(text)
    expect(lines[2]):equals("Trust this folder?")
    expect(lines[3]):equals("› 1. Trust")
    expect(partial):equals("enter continue esc back")
  end)
end)
