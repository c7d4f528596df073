// Makes the stdlib's Lua modules require()-able.
#pragma once
#include <string>

#include <lua.hpp>

namespace sidecar::lua {

// Every module of ours is named sidecar.<group>.<name> (stdlib/sidecar/<group>/<name>.lua), so
// none shadows a user's module of the same short name. Embedded (dir empty): each module, and
// each built-in preset as "sidecar.presets.<name>", is in package.preload through its
// metatable (looked up when asked for, listed by pairs; rawget and next do not see them, and
// setting an entry overrides one), loaded from the binary with chunk name
// "@stdlib/sidecar/<group>/<name>.lua" (or "@presets/<file>.lua") so tracebacks point at the
// source file. Development (dir given): the directory is put first on
// package.path, so edits take effect without a rebuild (the built-in presets are then read from
// the presets folder beside it by sidecar.preset.define).
void install_stdlib(lua_State* L, const std::string& dir);

}  // namespace sidecar::lua
