// What the files of the host.git binding share: the repository handle and the methods that
// other files add to it (lua/git.cpp registers them all).
#pragma once
#include <string>
#include <vector>

#include <lua.hpp>

namespace sidecar::host::git {
class Repo;
}

namespace sidecar::lua {

// Pushes nil, why (and code, when given): a read that failed. Returns the number pushed.
int git_fail(lua_State* L, const std::string& why, const char* code = nullptr);

// The strings of the list at `index` (nil: none); raises naming `what`[i] for a value that is not one.
std::vector<std::string> git_string_list(lua_State* L, int index, const char* what);

// The open repository of argument 1; raises once it is closed.
host::git::Repo& check_git_repo(lua_State* L);

// repo:diff, repo:status_entries and repo:config_values (lua/git_diff.cpp), ending with
// {nullptr, nullptr}.
extern const luaL_Reg git_diff_methods[];

}  // namespace sidecar::lua
