// host.memfile's files (lua/memory_file.cpp), for host.proc's options: a memory file given as a
// process's descriptor 3.
#pragma once
#include <lua.hpp>

namespace sidecar::lua {

// The descriptor of the open memory file at `index`; -1 when the value there is not a memory
// file; raises when it is one that was closed.
int memory_file_fd(lua_State* L, int index);

}  // namespace sidecar::lua
