// host.git_tree: what writing runs ask of git, in-process (host/git/git_tree.hpp), for Lua.
//
//   local t = git_tree.top(dir)                        -- {top, prefix} | nil, why
//   git_tree.peel(dir, "HEAD", "tree")                 -- id | nil, why
//   local snap = git_tree.tree_snapshot(dir, {exclude = {".agent"}, keep_index = path?})
//   local pending = git_tree.start_tree_snapshot(dir, opts); ...; pending:wait()
//
// Each function opens the repository holding `dir` for itself. Failures are nil and why; bad
// arguments raise.
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "boundary.hpp"
#include "git/git_import.hpp"
#include "git/git_prune.hpp"
#include "git_binding.hpp"  // git_string_list
#include "git/git_tree.hpp"
#include "lua_args.hpp"
#include "modules.hpp"
#include "userdata_box.hpp"
#include "util/background_jobs.hpp"

namespace sidecar::lua {
namespace {

namespace hg = host::git;

constexpr char kPendingType[] = "sidecar.git_tree_snapshot";

struct SnapshotResult {
  std::optional<hg::TreeSnapshot> snap;
  std::string why;
};
using PendingHolder = std::optional<std::future<SnapshotResult>>;

int fail(lua_State* L, const std::string& why) {
  lua_pushnil(L);
  lua_pushstring(L, why.c_str());
  return 2;
}

int done(lua_State* L, bool ok, const std::string& why) {
  if (!ok) {
    return fail(L, why);
  }
  lua_pushboolean(L, 1);
  return 1;
}

int push_id(lua_State* L, const std::optional<std::string>& id, const std::string& why) {
  if (!id) {
    return fail(L, why);
  }
  lua_pushstring(L, id->c_str());
  return 1;
}

void set_string(lua_State* L, const char* key, const std::string& value) {
  if (!value.empty()) {
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, key);
  }
}

std::string arg(lua_State* L, int index) { return std::string(check_text(L, index)); }

// The repository holding argument 1, or nullptr with the failure pushed (nil, why: 2 values).
std::unique_ptr<hg::Repo> repo_at(lua_State* L, std::string& why) { return hg::Repo::open(arg(L, 1), why); }

// git_tree.top(dir) -> {top, prefix} | nil, why
int tree_top(lua_State* L) {
  std::string why;
  auto t = hg::top_of(arg(L, 1), why);
  if (!t) {
    return fail(L, why);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, t->top.c_str());
  lua_setfield(L, -2, "top");
  lua_pushstring(L, t->prefix.c_str());
  lua_setfield(L, -2, "prefix");
  return 1;
}

// git_tree.peel(dir, rev, "tree" | "commit") -> id | nil, why
int tree_peel(lua_State* L) {
  static const char* const kinds[] = {"tree", "commit", nullptr};
  std::string rev = arg(L, 2);
  git_object_t type = luaL_checkoption(L, 3, nullptr, kinds) == 0 ? GIT_OBJECT_TREE : GIT_OBJECT_COMMIT;
  std::string why;
  auto r = repo_at(L, why);
  return r ? push_id(L, hg::peel(*r, rev, type, why), why) : fail(L, why);
}

// git_tree.commit(dir, tree, parent?, message) -> id | nil, why
int tree_commit(lua_State* L) {
  std::string tree = arg(L, 2), parent = luaL_optstring(L, 3, ""), message = arg(L, 4), why;
  auto r = repo_at(L, why);
  return r ? push_id(L, hg::commit(*r, tree, parent, message, why), why) : fail(L, why);
}

// git_tree.set_ref(dir, name, id, old?) -> true | nil, why  (old "": only a new ref)
int tree_set_ref(lua_State* L) {
  std::string name = arg(L, 2), id = arg(L, 3), why;
  std::optional<std::string> old;
  if (!lua_isnoneornil(L, 4)) {
    old = arg(L, 4);
  }
  auto r = repo_at(L, why);
  return done(L, r && hg::set_ref(*r, name, id, old ? &*old : nullptr, why), why);
}

// git_tree.delete_ref(dir, name, old) -> true | nil, why
int tree_delete_ref(lua_State* L) {
  std::string name = arg(L, 2), old = arg(L, 3), why;
  auto r = repo_at(L, why);
  return done(L, r && hg::delete_ref(*r, name, old, why), why);
}

// git_tree.diff_files(dir, from, to) -> {{path, status = "A"|"M"|"D"|"T"}} | nil, why
int tree_diff_files(lua_State* L) {
  std::string from = arg(L, 2), to = arg(L, 3), why;
  auto r = repo_at(L, why);
  auto files = r ? hg::diff_files(*r, from, to, why) : std::nullopt;
  if (!files) {
    return fail(L, why);
  }
  lua_createtable(L, int(files->size()), 0);
  for (std::size_t i = 0; i < files->size(); ++i) {
    lua_createtable(L, 0, 2);
    set_string(L, "path", (*files)[i].path);
    lua_pushlstring(L, &(*files)[i].status, 1);
    lua_setfield(L, -2, "status");
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  return 1;
}

// git_tree.links(dir, tree) -> {[path] = target} (every symbolic link of the tree) | nil, why
int tree_links(lua_State* L) {
  std::string tree = arg(L, 2), why;
  auto r = repo_at(L, why);
  auto links = r ? hg::tree_links(*r, tree, why) : std::nullopt;
  if (!links) {
    return fail(L, why);
  }
  lua_createtable(L, 0, int(links->size()));
  for (const hg::Link& link : *links) {
    set_string(L, link.path.c_str(), link.target);
  }
  return 1;
}

// git_tree.patch(dir, from, to, max_bytes) -> text, cut | nil, why
int tree_patch(lua_State* L) {
  std::string from = arg(L, 2), to = arg(L, 3), why;
  lua_Integer max = luaL_checkinteger(L, 4);
  auto r = repo_at(L, why);
  auto p = r ? hg::patch(*r, from, to, std::size_t(max < 0 ? 0 : max), why) : std::nullopt;
  if (!p) {
    return fail(L, why);
  }
  lua_pushlstring(L, p->text.data(), p->text.size());
  lua_pushboolean(L, p->cut);
  return 2;
}

// git_tree.merge(dir, base, ours, theirs) -> {tree} | {conflicts = {paths}} | nil, why
int tree_merge(lua_State* L) {
  std::string base = arg(L, 2), ours = arg(L, 3), theirs = arg(L, 4), why;
  auto r = repo_at(L, why);
  auto m = r ? hg::merge(*r, base, ours, theirs, why) : std::nullopt;
  if (!m) {
    return fail(L, why);
  }
  lua_createtable(L, 0, 1);
  if (m->conflicts.empty()) {
    set_string(L, "tree", m->tree);
    return 1;
  }
  lua_createtable(L, int(m->conflicts.size()), 0);
  for (std::size_t i = 0; i < m->conflicts.size(); ++i) {
    lua_pushstring(L, m->conflicts[i].c_str());
    lua_seti(L, -2, lua_Integer(i + 1));
  }
  lua_setfield(L, -2, "conflicts");
  return 1;
}

hg::TreeSnapshotOptions snapshot_options(lua_State* L, int index) {
  hg::TreeSnapshotOptions o;
  if (lua_isnoneornil(L, index)) {
    return o;
  }
  luaL_checktype(L, index, LUA_TTABLE);
  if (lua_getfield(L, index, "exclude") == LUA_TTABLE) {
    for (lua_Integer i = 1, n = luaL_len(L, -1); i <= n; ++i) {
      lua_geti(L, -1, i);
      o.exclude.emplace_back(luaL_checkstring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_getfield(L, index, "keep_index");
  o.keep_index = luaL_optstring(L, -1, "");
  lua_getfield(L, index, "deadline_ns");
  o.deadline_ns = luaL_optinteger(L, -1, 0);
  lua_getfield(L, index, "max_untracked_bytes");
  o.max_untracked_bytes = luaL_optinteger(L, -1, 0);
  lua_pop(L, 4);
  if (lua_getfield(L, index, "leave_out") == LUA_TTABLE) {
    for (lua_Integer i = 1, n = luaL_len(L, -1); i <= n; ++i) {
      if (lua_geti(L, -1, i) != LUA_TTABLE) {
        luaL_error(L, "leave_out[%d]: expected a table {path, size, mtime_ns}", static_cast<int>(i));
      }
      lua_getfield(L, -1, "path");
      lua_getfield(L, -2, "size");
      lua_getfield(L, -3, "mtime_ns");
      lua_getfield(L, -4, "reason");
      o.leave_out.push_back({luaL_checkstring(L, -4), luaL_checkinteger(L, -3), luaL_checkinteger(L, -2),
                             luaL_optstring(L, -1, "")});
      lua_pop(L, 5);
    }
  }
  lua_pop(L, 1);
  return o;
}

// {{path, size, mtime_ns, reason?}, ...}: reason "secret" for a file the secret-file rules name
void push_left_out(lua_State* L, const std::vector<hg::LeftOut>& left_out) {
  lua_createtable(L, static_cast<int>(left_out.size()), 0);
  for (std::size_t i = 0; i < left_out.size(); ++i) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, left_out[i].path.c_str());
    lua_setfield(L, -2, "path");
    lua_pushinteger(L, left_out[i].size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, left_out[i].mtime_ns);
    lua_setfield(L, -2, "mtime_ns");
    if (!left_out[i].reason.empty()) {
      lua_pushstring(L, left_out[i].reason.c_str());
      lua_setfield(L, -2, "reason");
    }
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
}

int push_snapshot(lua_State* L, const SnapshotResult& r) {
  if (!r.snap) {
    return fail(L, r.why);
  }
  lua_createtable(L, 0, 3);
  set_string(L, "head", r.snap->head);
  set_string(L, "head_tree", r.snap->head_tree);
  set_string(L, "tree", r.snap->tree);
  if (!r.snap->left_out.empty()) {
    push_left_out(L, r.snap->left_out);
    lua_setfield(L, -2, "left_out");
  }
  return 1;
}

// git_tree.tree_snapshot(dir, {exclude?, keep_index?, deadline_ns?, max_untracked_bytes?, leave_out?})
//   -> {head?, head_tree?, tree, left_out?} | nil, why (host/git/git_tree.hpp)
int tree_snapshot(lua_State* L) {
  std::string dir = arg(L, 1);
  SnapshotResult r;
  r.snap = hg::tree_snapshot(dir, snapshot_options(L, 2), r.why);
  return push_snapshot(L, r);
}

// git_tree.start_tree_snapshot(dir, opts?) -> pending: the same, read on a thread of its own
// while the caller does other work; pending:wait() gives what tree_snapshot gives.
int tree_start_snapshot(lua_State* L) {
  std::string dir = arg(L, 1);
  hg::TreeSnapshotOptions o = snapshot_options(L, 2);
  auto* box = new_box<PendingHolder>(L, kPendingType);
  auto result = std::make_shared<std::promise<SnapshotResult>>();
  box->value = result->get_future();
  // A background job: the process's end joins its thread, should the command end without wait().
  host::start_background_job([dir, o, result] {
    SnapshotResult r;
    try {
      r.snap = hg::tree_snapshot(dir, o, r.why);
    } catch (const std::exception& e) {
      r.why = e.what();
    }
    result->set_value(std::move(r));
  });
  return 1;
}

// pending:wait() -> {head?, head_tree?, tree} | nil, why (once: the pending is closed then)
int pending_wait(lua_State* L) {
  auto& future = check_open<PendingHolder>(L, kPendingType, "pending tree snapshot");
  SnapshotResult r = future.get();
  to_box<PendingHolder>(L, kPendingType)->value.reset();
  return push_snapshot(L, r);
}

// git_tree.worktree_add(dir, {path, branch, start?, existing?}) -> admin folder | nil, why
int tree_worktree_add(lua_State* L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  hg::WorktreeSpec spec;
  lua_getfield(L, 2, "path");
  spec.path = luaL_checkstring(L, -1);
  lua_getfield(L, 2, "branch");
  spec.branch = luaL_checkstring(L, -1);
  lua_getfield(L, 2, "start");
  spec.start = luaL_optstring(L, -1, "HEAD");
  lua_getfield(L, 2, "existing");
  spec.existing = lua_toboolean(L, -1);
  lua_pop(L, 4);
  std::string why;
  auto r = repo_at(L, why);
  return r ? push_id(L, hg::worktree_add(*r, spec, why), why) : fail(L, why);
}

// git_tree.checkout(path, tree, "force" | "from_head", clean?) -> true | nil, why
int tree_checkout(lua_State* L) {
  static const char* const hows[] = {"force", "from_head", nullptr};
  std::string path = arg(L, 1), tree = arg(L, 2), why;
  auto how = luaL_checkoption(L, 3, nullptr, hows) == 0 ? hg::Checkout::kForce : hg::Checkout::kFromHead;
  return done(L, hg::checkout(path, tree, how, lua_toboolean(L, 4), why), why);
}

// git_tree.clean(path) -> true | nil, why
int tree_clean(lua_State* L) {
  std::string why;
  return done(L, hg::clean(arg(L, 1), why), why);
}

// git_tree.write_files(dir, index_path, from, to) -> true | nil, why
int tree_write_files(lua_State* L) {
  std::string dir = arg(L, 1), index = arg(L, 2), from = arg(L, 3), to = arg(L, 4), why;
  return done(L, hg::write_files(dir, index, from, to, why), why);
}

// git_tree.worktree_remove(dir, path) -> true | nil, why
int tree_worktree_remove(lua_State* L) {
  std::string path = arg(L, 2), why;
  auto r = repo_at(L, why);
  return done(L, r && hg::worktree_remove(*r, path, why), why);
}

// git_tree.worktree_forget(dir, admin) -> true | nil, why
int tree_worktree_forget(lua_State* L) {
  std::string admin = arg(L, 2), why;
  auto r = repo_at(L, why);
  return done(L, r && hg::worktree_forget(*r, admin, why), why);
}

// git_tree.import_objects(dir, objects_dir, tip?, index?) -> {objects, bytes, unstaged?} | nil, why
// Only what the commit `tip` and the index name comes in, each object checked; objects_dir is gone
// afterwards either way (host/git/git_import.hpp).
int tree_import_objects(lua_State* L) {
  hg::ImportSpec spec{arg(L, 2), luaL_optstring(L, 3, ""), luaL_optstring(L, 4, "")};
  std::string why;
  auto r = repo_at(L, why);
  auto counts = r ? hg::import_objects(*r, spec, why) : std::nullopt;
  if (!r) {
    hg::remove_all(spec.objects_dir);  // no repository to take them: the run's objects go all the same
  }
  if (!counts) {
    return fail(L, why);
  }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, lua_Integer(counts->objects));
  lua_setfield(L, -2, "objects");
  lua_pushinteger(L, lua_Integer(counts->bytes));
  lua_setfield(L, -2, "bytes");
  if (!counts->unstaged.empty()) {
    lua_createtable(L, int(counts->unstaged.size()), 0);
    for (std::size_t i = 0; i < counts->unstaged.size(); ++i) {
      lua_pushstring(L, counts->unstaged[i].c_str());
      lua_seti(L, -2, lua_Integer(i + 1));
    }
    lua_setfield(L, -2, "unstaged");
  }
  return 1;
}

// git_tree.prune_run_blobs(dir, tips, stops) -> {blobs, bytes, kept} | nil, why
// The loose blobs only the commits `tips` reach (down to `stops`) out of the repository
// (host/git/git_prune.hpp): what a discarded run left in .git/objects.
int tree_prune_run_blobs(lua_State* L) {
  auto tips = git_string_list(L, 2, "tips");
  auto stops = git_string_list(L, 3, "stops");
  std::string why;
  auto r = repo_at(L, why);
  auto pruned = r ? hg::prune_run_blobs(*r, tips, stops, why) : std::nullopt;
  if (!pruned) {
    return fail(L, why);
  }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, lua_Integer(pruned->blobs));
  lua_setfield(L, -2, "blobs");
  lua_pushinteger(L, lua_Integer(pruned->bytes));
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, lua_Integer(pruned->kept));
  lua_setfield(L, -2, "kept");
  return 1;
}

// git_tree.remove_all(path) -> true when nothing is left there
int tree_remove_all(lua_State* L) {
  lua_pushboolean(L, hg::remove_all(arg(L, 1)));
  return 1;
}

// git_tree.admin_dir(path) -> the git folder PATH/.git names | nil
int tree_admin_dir(lua_State* L) {
  std::string admin = hg::admin_dir(arg(L, 1));
  if (admin.empty()) {
    lua_pushnil(L);
  } else {
    lua_pushstring(L, admin.c_str());
  }
  return 1;
}

}  // namespace

int open_host_git_tree(lua_State* L) {
  static const luaL_Reg pending_methods[] = {
      {"wait", guarded<pending_wait>},
      {nullptr, nullptr},
  };
  // A pending snapshot dropped unwaited: its thread goes on, joined later (host/util/background_jobs.hpp).
  static const luaL_Reg pending_meta[] = {
      {"__close", guarded<box_close<PendingHolder, kPendingType>>},
      {"__gc", guarded<box_gc<PendingHolder, kPendingType>>},
      {nullptr, nullptr},
  };
  static const luaL_Reg functions[] = {
      {"top", guarded<tree_top>},
      {"peel", guarded<tree_peel>},
      {"commit", guarded<tree_commit>},
      {"set_ref", guarded<tree_set_ref>},
      {"delete_ref", guarded<tree_delete_ref>},
      {"diff_files", guarded<tree_diff_files>},
      {"links", guarded<tree_links>},
      {"patch", guarded<tree_patch>},
      {"merge", guarded<tree_merge>},
      {"tree_snapshot", guarded<tree_snapshot>},
      {"start_tree_snapshot", guarded<tree_start_snapshot>},
      {"worktree_add", guarded<tree_worktree_add>},
      {"checkout", guarded<tree_checkout>},
      {"clean", guarded<tree_clean>},
      {"write_files", guarded<tree_write_files>},
      {"worktree_remove", guarded<tree_worktree_remove>},
      {"worktree_forget", guarded<tree_worktree_forget>},
      {"import_objects", guarded<tree_import_objects>},
      {"prune_run_blobs", guarded<tree_prune_run_blobs>},
      {"remove_all", guarded<tree_remove_all>},
      {"admin_dir", guarded<tree_admin_dir>},
      {nullptr, nullptr},
  };
  register_type(L, kPendingType, pending_meta, pending_methods);
  luaL_newlib(L, functions);
  return 1;
}

}  // namespace sidecar::lua
