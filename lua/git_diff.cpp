// host.git, what a review and a run's push block read: `git diff`, `git status --porcelain` and
// `git config --get-regexp` through libgit2 (host/git/git_diff.cpp, git_status.cpp, git_repo.cpp).
//
//   repo:diff{from = "HEAD" | "main...HEAD" | rev, to = nil (work tree) | ":index" | rev,
//             patch = bool, stat = bool, exclude = {paths}, max_patch_bytes = n}
//     -> {files = {{path, change}}, patch?, patch_cut?, stat?} | nil, why
//   repo:status_entries() -> {{xy, path, from?}} (`--untracked-files=all`) | nil, why
//   repo:config_values(regex) -> {{name, value}} (`git config --get-regexp`) | nil, why
#include <string>

#include "boundary.hpp"
#include "git/git_repo.hpp"
#include "git_binding.hpp"

namespace sidecar::lua {
namespace {

namespace hg = host::git;

void set_field(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

std::string opt_field(lua_State* L, int index, const char* key, const char* fallback) {
  lua_getfield(L, index, key);
  std::string out = luaL_optstring(L, -1, fallback);
  lua_pop(L, 1);
  return out;
}

bool bool_field(lua_State* L, int index, const char* key) {
  lua_getfield(L, index, key);
  bool out = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return out;
}

hg::DiffRequest diff_request(lua_State* L, int index) {
  luaL_checktype(L, index, LUA_TTABLE);
  hg::DiffRequest r;
  r.from = opt_field(L, index, "from", "HEAD");
  r.to = opt_field(L, index, "to", "");
  r.patch = bool_field(L, index, "patch");
  r.stat = bool_field(L, index, "stat");
  lua_getfield(L, index, "max_patch_bytes");
  lua_Integer max = luaL_optinteger(L, -1, lua_Integer(r.max_patch_bytes));
  r.max_patch_bytes = max < 0 ? 0 : std::size_t(max);
  lua_pop(L, 1);
  lua_getfield(L, index, "exclude");
  r.exclude = git_string_list(L, lua_gettop(L), "exclude");
  lua_pop(L, 1);
  return r;
}

int repo_diff(lua_State* L) {
  hg::Repo& repo = check_git_repo(L);
  hg::DiffRequest r = diff_request(L, 2);
  std::string why;
  auto d = repo.diff(r, why);
  if (!d) {
    return git_fail(L, why);
  }
  lua_createtable(L, 0, 4);
  lua_createtable(L, int(d->files.size()), 0);
  for (std::size_t i = 0; i < d->files.size(); ++i) {
    lua_createtable(L, 0, 2);
    set_field(L, "path", d->files[i].path);
    set_field(L, "change", d->files[i].change);
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "files");
  if (r.patch) {
    set_field(L, "patch", d->patch);
    lua_pushboolean(L, d->patch_cut);
    lua_setfield(L, -2, "patch_cut");
  }
  if (r.stat) {
    set_field(L, "stat", d->stat);
  }
  return 1;
}

int repo_status_entries(lua_State* L) {
  std::string why;
  auto entries = check_git_repo(L).status_entries(why);
  if (!entries) {
    return git_fail(L, why);
  }
  lua_createtable(L, int(entries->size()), 0);
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const hg::StatusEntry& e = (*entries)[i];
    lua_createtable(L, 0, 3);
    set_field(L, "xy", e.xy);
    set_field(L, "path", e.path);
    if (!e.from.empty()) {
      set_field(L, "from", e.from);
    }
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

int repo_config_values(lua_State* L) {
  std::string pattern(luaL_checkstring(L, 2));
  std::string why;
  auto values = check_git_repo(L).config_values(pattern, why);
  if (!values) {
    return git_fail(L, why);
  }
  lua_createtable(L, int(values->size()), 0);
  for (std::size_t i = 0; i < values->size(); ++i) {
    lua_createtable(L, 0, 2);
    set_field(L, "name", (*values)[i].first);
    set_field(L, "value", (*values)[i].second);
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

}  // namespace

const luaL_Reg git_diff_methods[] = {
    {"config_values", guarded<repo_config_values>},
    {"diff", guarded<repo_diff>},
    {"status_entries", guarded<repo_status_entries>},
    {nullptr, nullptr},
};

}  // namespace sidecar::lua
