// What the files of the host.git binding share: the repository handle and the methods that
// other files add to it (lua/git.cpp registers them all).
#pragma once
#include <lua.hpp>

namespace sidecar::host::git {
class Repo;
}

namespace sidecar::lua {

// The open repository of argument 1; raises once it is closed.
host::git::Repo& check_git_repo(lua_State* L);

// repo:diff, repo:status_entries and repo:config_values (lua/git_diff.cpp), ending with
// {nullptr, nullptr}.
extern const luaL_Reg git_diff_methods[];

}  // namespace sidecar::lua
