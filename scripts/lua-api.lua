-- Writes docs/lua-api.md on stdout (scripts/lua-api runs it): the generator and the modules are
-- read from the checkout ROOT, whichever sidecar binary runs this.
--
--   sidecar script scripts/lua-api.lua [ROOT] > docs/lua-api.md
local root = arg[1] or "."
local api_doc = dofile(root .. "/stdlib/sidecar/dev/api_doc.lua")
local f = assert(io.open(root .. "/docs/lua-api.head.md", "rb"))
local head = f:read("a")
f:close()
io.write(api_doc.generate({ stdlib = root .. "/stdlib", head = head }))
