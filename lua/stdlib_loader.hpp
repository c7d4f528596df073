// Makes the stdlib's Lua modules require()-able.
#pragma once
#include <string>

#include <lua.hpp>

namespace sidecar::lua {

// Embedded (dir empty): each module, and each built-in preset as "presets.<name>", goes into
// package.preload, loaded from the binary with chunk name "@stdlib/<file>.lua" (or
// "@presets/<file>.lua") so tracebacks point at the source file. Development (dir given): the
// directory, and the presets folder beside it, are put first on package.path, so edits take
// effect without a rebuild.
void install_stdlib(lua_State* L, const std::string& dir);

}  // namespace sidecar::lua
