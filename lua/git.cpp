// host.git: a repository read in-process (host/git/git_repo.hpp), for Lua.
//
//   local repo, why = git.open(path)          -- nil, why, "ENOTREPO" | "ENOGIT" when it cannot
//   repo:head()    -> {id?, ref?, branch?, detached}
//   repo:refs()    -> {["refs/heads/main"] = id, ...}
//   repo:status()  -> the text of `git status --short --branch`
//   local before = repo:snapshot{exclude = {".agent"}}
//   repo:changes(before, {deadline_ns = ...}) -> {head_before?, head_after?, files = {{path, change, by_stat?}}}
//   repo:diff{from = "HEAD", to?, patch?, stat?, exclude?} and repo:status_entries(): lua/git_diff.cpp
//
// Repositories and snapshots are full userdata made closed and then filled (as liolib does);
// close, __close and __gc share one idempotent reset. Reads that fail return nil and why.
#include <memory>
#include <optional>
#include <string>

#include "boundary.hpp"
#include "git/git_repo.hpp"
#include "git_binding.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "userdata_box.hpp"

namespace sidecar::lua {

int git_fail(lua_State* L, const std::string& why, const char* code) {
  lua_pushnil(L);
  lua_pushstring(L, why.c_str());
  if (!code) {
    return 2;
  }
  lua_pushstring(L, code);
  return 3;
}

std::vector<std::string> git_string_list(lua_State* L, int index, const char* what) {
  std::vector<std::string> out;
  if (lua_isnoneornil(L, index)) {
    return out;
  }
  luaL_checktype(L, index, LUA_TTABLE);
  for (lua_Integer i = 1, n = luaL_len(L, index); i <= n; ++i) {
    lua_geti(L, index, i);
    if (lua_type(L, -1) != LUA_TSTRING) {
      luaL_error(L, "%s[%d] must be a string", what, int(i));
    }
    out.emplace_back(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return out;
}

namespace {

namespace hg = host::git;

constexpr char kRepoType[] = "sidecar.git_repo";
constexpr char kSnapshotType[] = "sidecar.git_snapshot";
using RepoHolder = std::unique_ptr<hg::Repo>;
using SnapshotHolder = std::optional<hg::Snapshot>;

hg::Repo& check_repo(lua_State* L) { return check_open<RepoHolder>(L, kRepoType, "git repository"); }

void set_string(lua_State* L, const char* key, const std::string& value) {
  if (!value.empty()) {
    lua_pushstring(L, value.c_str());
    lua_setfield(L, -2, key);
  }
}

// git.open(path) -> repo | nil, why, code
int git_open(lua_State* L) {
  std::string path(check_text(L, 1));
  auto* box = new_box<RepoHolder>(L, kRepoType);
  std::string why;
  box->value = hg::Repo::open(path, why);
  if (!box->value) {
    return git_fail(L, why, why.rfind("libgit2", 0) == 0 ? "ENOGIT" : "ENOTREPO");
  }
  return 1;
}

// git.preload(): starts loading libgit2 in the background (host/git/git_lib.hpp)
int git_preload(lua_State*) {
  hg::preload();
  return 0;
}

// repo:workdir() / repo:gitdir() / repo:commondir() -> path
template <std::string (hg::Repo::*Dir)() const>
int repo_dir(lua_State* L) {
  lua_pushstring(L, (check_repo(L).*Dir)().c_str());
  return 1;
}

// repo:head() -> {id?, ref?, branch?, detached} | nil, why
int repo_head(lua_State* L) {
  std::string why;
  auto h = check_repo(L).head(why);
  if (!h) {
    return git_fail(L, why);
  }
  lua_createtable(L, 0, 4);
  set_string(L, "id", h->id);
  set_string(L, "ref", h->ref);
  if (h->ref.rfind("refs/heads/", 0) == 0) {
    set_string(L, "branch", h->ref.substr(11));
  }
  lua_pushboolean(L, h->detached);
  lua_setfield(L, -2, "detached");
  return 1;
}

// repo:refs() -> {[full name] = id} (every ref under refs/: branches, tags, notes, stash...) | nil, why
int repo_refs(lua_State* L) {
  std::string why;
  auto refs = check_repo(L).refs(why);
  if (!refs) {
    return git_fail(L, why);
  }
  lua_createtable(L, 0, int(refs->size()));
  for (const auto& [name, id] : *refs) {
    set_string(L, name.c_str(), id);
  }
  return 1;
}

// repo:tracked({path...}) -> {[path] = true} for those the index holds (a folder: one of its files)
int repo_tracked(lua_State* L) {
  hg::Repo& repo = check_repo(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  std::vector<std::string> paths;
  for (lua_Integer i = 1, n = luaL_len(L, 2); i <= n; ++i) {
    lua_geti(L, 2, i);
    paths.emplace_back(luaL_checkstring(L, -1));
    lua_pop(L, 1);
  }
  std::string why;
  auto found = repo.tracked(paths, why);
  if (!found) {
    return git_fail(L, why);
  }
  lua_createtable(L, 0, int(found->size()));
  for (const std::string& p : *found) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, p.c_str());
  }
  return 1;
}

// repo:new_commits(tips, hidden, limit) -> {{id, subject}, ...} newest first | nil, why
int repo_new_commits(lua_State* L) {
  hg::Repo& repo = check_repo(L);
  auto tips = git_string_list(L, 2, "tips");
  auto hidden = git_string_list(L, 3, "hidden");
  lua_Integer limit = luaL_checkinteger(L, 4);
  std::string why;
  auto commits = repo.new_commits(tips, hidden, std::size_t(limit < 0 ? 0 : limit), why);
  if (!commits) {
    return git_fail(L, why);
  }
  lua_createtable(L, int(commits->size()), 0);
  for (std::size_t i = 0; i < commits->size(); ++i) {
    lua_createtable(L, 0, 2);
    set_string(L, "id", (*commits)[i].id);
    lua_pushstring(L, (*commits)[i].subject.c_str());
    lua_setfield(L, -2, "subject");
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

// repo:status() -> the text of `git status --short --branch` | nil, why
int repo_status(lua_State* L) {
  std::string why;
  auto text = check_repo(L).status_short(why);
  if (!text) {
    return git_fail(L, why);
  }
  lua_pushlstring(L, text->data(), text->size());
  return 1;
}

hg::SnapshotOptions snapshot_options(lua_State* L, int index) {
  hg::SnapshotOptions o;
  if (lua_isnoneornil(L, index)) {
    return o;
  }
  luaL_checktype(L, index, LUA_TTABLE);
  lua_getfield(L, index, "within");
  o.within = luaL_optstring(L, -1, "");
  lua_pop(L, 1);
  lua_getfield(L, index, "exclude");
  o.exclude = git_string_list(L, lua_gettop(L), "exclude");
  lua_pop(L, 1);
  lua_getfield(L, index, "max_hash_bytes");
  o.max_hash_bytes = luaL_optinteger(L, -1, o.max_hash_bytes);
  lua_getfield(L, index, "deadline_ns");
  o.deadline_ns = luaL_optinteger(L, -1, 0);
  lua_pop(L, 2);
  return o;
}

// repo:snapshot{exclude?, max_hash_bytes?, deadline_ns?} -> snapshot | nil, why
int repo_snapshot(lua_State* L) {
  hg::Repo& repo = check_repo(L);
  hg::SnapshotOptions o = snapshot_options(L, 2);
  auto* box = new_box<SnapshotHolder>(L, kSnapshotType);
  std::string why;
  box->value = repo.snapshot(o, why);
  if (!box->value) {
    return git_fail(L, why);
  }
  return 1;
}

// repo:changes(before, {deadline_ns?, max_hash_bytes?}) -> {head_before?, head_after?, files} | nil, why
// The work tree now against `before`: each file whose content differs, sorted by path.
int repo_changes(lua_State* L) {
  hg::Repo& repo = check_repo(L);
  auto* before_box = static_cast<UserdataBox<SnapshotHolder>*>(luaL_checkudata(L, 2, kSnapshotType));
  if (!before_box->value) {
    return luaL_error(L, "attempt to use a closed git snapshot");
  }
  const hg::Snapshot& before = *before_box->value;
  hg::SnapshotOptions o = snapshot_options(L, 3);
  o.within = before.within;
  o.exclude = before.exclude;
  std::string why;
  auto after = repo.snapshot(o, why);
  if (!after) {
    return git_fail(L, why);
  }
  const std::vector<hg::FileChange> files = repo.changes(before, *after);
  lua_createtable(L, 0, 3);
  set_string(L, "head_before", before.head);
  set_string(L, "head_after", after->head);
  lua_createtable(L, int(files.size()), 0);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const hg::FileChange& f = files[i];
    lua_createtable(L, 0, 3);
    set_string(L, "path", f.path);
    set_string(L, "change", f.change);
    if (f.by_stat) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "by_stat");
    }
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "files");
  return 1;
}

// snapshot:head() -> id | nil (no commits yet)
int snapshot_head(lua_State* L) {
  const auto& s = check_open<SnapshotHolder>(L, kSnapshotType, "git snapshot");
  if (s.head.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushstring(L, s.head.c_str());
  }
  return 1;
}

}  // namespace

hg::Repo& check_git_repo(lua_State* L) { return check_repo(L); }

int open_host_git(lua_State* L) {
  static const luaL_Reg repo_methods[] = {
      {"workdir", guarded<repo_dir<&hg::Repo::workdir>>},
      {"gitdir", guarded<repo_dir<&hg::Repo::gitdir>>},
      {"commondir", guarded<repo_dir<&hg::Repo::commondir>>},
      {"head", guarded<repo_head>},
      {"refs", guarded<repo_refs>},
      {"tracked", guarded<repo_tracked>},
      {"new_commits", guarded<repo_new_commits>},
      {"status", guarded<repo_status>},
      {"snapshot", guarded<repo_snapshot>},
      {"changes", guarded<repo_changes>},
      {"close", guarded<box_close<RepoHolder, kRepoType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg repo_meta[] = {
      {"__close", guarded<box_close<RepoHolder, kRepoType>>},
      {"__gc", guarded<box_gc<RepoHolder, kRepoType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg snapshot_methods[] = {
      {"head", guarded<snapshot_head>},
      {"close", guarded<box_close<SnapshotHolder, kSnapshotType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg snapshot_meta[] = {
      {"__close", guarded<box_close<SnapshotHolder, kSnapshotType>>},
      {"__gc", guarded<box_gc<SnapshotHolder, kSnapshotType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"open", guarded<git_open>},
      {"preload", guarded<git_preload>},
      {nullptr, nullptr},
  };
  register_type(L, kRepoType, repo_meta, repo_methods);
  luaL_getmetatable(L, kRepoType);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, git_diff_methods, 0);
  lua_pop(L, 2);
  register_type(L, kSnapshotType, snapshot_meta, snapshot_methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
