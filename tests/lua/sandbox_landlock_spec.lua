-- What a Landlock sandbox grants for reading (stdlib/sidecar/run/sandbox_landlock.lua): everything
-- around what is hidden, since Landlock cannot take back a path beneath a granted one.
local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local landlock = require("sidecar.run.sandbox_landlock")

-- A file system as a table of folders: { ["/"] = {"etc", "home"}, ["/home"] = {"u"}, ... }.
local function tree(t)
  return function(dir) return t[dir] end
end

local FS = tree({
  ["/"] = { "etc", "home", "tmp", "usr" },
  ["/home"] = { "other", "u" },
  ["/home/u"] = { ".nvm", ".ssh", "notes", "src" },
  ["/home/u/.nvm"] = { "bin", "secret.env" },
  ["/home/u/src"] = { "app" },
  ["/home/u/src/app"] = { ".env", "main.c" },
})

describe("sandbox_landlock.read_paths", function()
  it("grants a folder whole when nothing in it is hidden, and splits the ones that hold a hidden path", function()
    local read = assert(landlock.read_paths({ "/home/u/.ssh", "/home/u/src/app/.env" }, nil, FS))
    table.sort(read)
    expect(read):equals({ "/etc", "/home/other", "/home/u/.nvm", "/home/u/notes", "/home/u/src/app/main.c", "/tmp",
      "/usr" })
  end)

  it("hides a hidden home whole, then grants what is shown of it, around what is hidden within", function()
    local read = assert(landlock.read_paths({ "/home/u", "/home/u/.nvm/secret.env" }, { "/home/u/.nvm" }, FS))
    table.sort(read)
    expect(read):equals({ "/etc", "/home/other", "/home/u/.nvm/bin", "/tmp", "/usr" })
  end)

  it("grants / whole when nothing is hidden, and refuses a plan past its bound", function()
    expect(landlock.read_paths({}, nil, FS)):equals({ "/" })
    local wide = { ["/"] = {} }
    for i = 1, landlock.MAX_RULES + 1 do
      wide["/"][i] = "d" .. i
    end
    wide["/"][#wide["/"] + 1] = "x"
    wide["/x"] = { "secret" }
    local read, why = landlock.read_paths({ "/x/secret" }, nil, tree(wide))
    expect(read):is_nil()
    expect(why):contains("too many folders to split")
  end)
end)
