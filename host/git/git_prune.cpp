// A discarded run's blobs out of the repository (see git_prune.hpp).
//
// Two walks over raw objects: first what the run's commits reach below their tips down to the
// history they started from, keeping the blobs stored loose; then everything the repository
// still names, each commit and tree read once, until none of those blobs is left unaccounted
// for. What is left is named by nothing but the run, and its file goes.
#include "git/git_prune.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "git/git_object_names.hpp"

namespace sidecar::host::git {
namespace {

using Key = std::string;  // an id's 20 bytes

Key key_of(const git_oid& id) { return Key(reinterpret_cast<const char*>(id.id), GIT_OID_RAWSZ); }

struct OdbHolder {
  const Api& g;
  git_odb* p = nullptr;
  ~OdbHolder() {
    if (p) g.git_odb_free(p);
  }
};

// Reads each object once, from `todo` down: commits to their tree and parents (not below a
// `stop`), trees to their entries, tags to what they name. Each blob met goes to `blob`; a walk
// that `blob` says is done stops early. An object the store does not have is passed over; false
// when one cannot be read or is malformed.
template <typename OnBlob>
bool walk(const Api& g, git_odb* odb, std::vector<Named> todo, const std::set<Key>& stops, OnBlob blob,
          std::string& why) {
  std::set<Key> seen;
  while (!todo.empty()) {
    Named next = todo.back();
    todo.pop_back();
    if (next.type == GIT_OBJECT_BLOB) {
      if (blob(next.id)) return true;
      continue;
    }
    Key k = key_of(next.id);
    if (stops.count(k) || !seen.insert(k).second) continue;
    git_odb_object* o = nullptr;
    const int rc = g.git_odb_read(&o, odb, &next.id);
    if (rc == GIT_ENOTFOUND) continue;  // a shallow clone's edge: git cannot reach past it either
    if (rc < 0) {
      why = last_error(g, "unreadable") + " (object " + hex(g, next.id) + ")";
      return false;
    }
    const char* data = static_cast<const char*>(g.git_odb_object_data(o));
    const std::size_t size = g.git_odb_object_size(o);
    const git_object_t type = g.git_odb_object_type(o);
    if (type == GIT_OBJECT_BLOB) {  // a ref or a reflog may name a blob itself
      g.git_odb_object_free(o);
      if (blob(next.id)) return true;
      continue;
    }
    bool ok = type == GIT_OBJECT_COMMIT ? commit_names(g, data, size, todo)
              : type == GIT_OBJECT_TREE ? tree_names(data, size, todo)
              : type == GIT_OBJECT_TAG  ? tag_names(g, data, size, todo)
                                        : true;
    g.git_odb_object_free(o);
    if (!ok) {
      why = "object " + hex(g, next.id) + " is malformed";
      return false;
    }
  }
  return true;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return out;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Every object id a file names: each run of exactly 40 hex digits, wherever it stands (a HEAD, a
// reflog's "OLD NEW ..." lines, FETCH_HEAD, a rebase's todo). An id in a message is kept too: a
// blob kept that could have gone costs a little room, one taken that something needs costs data.
// The walk reads each one's real type.
void ids_of_file(const Api& g, const std::string& path, std::vector<Named>& out) {
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 0;
  while (at < text.size()) {
    if (!is_hex(text[at])) {
      ++at;
      continue;
    }
    std::size_t end = at;
    while (end < text.size() && is_hex(text[end])) ++end;
    git_oid id;
    if (end - at == GIT_OID_HEXSZ && g.git_oid_fromstr(&id, text.substr(at, GIT_OID_HEXSZ).c_str()) == 0 &&
        !g.git_oid_is_zero(&id)) {
      out.push_back(Named{id, GIT_OBJECT_COMMIT});
    }
    at = end;
  }
}

// Every file under `dir` (a logs folder, a rebase's or the sequencer's state), read for ids.
void ids_under(const Api& g, const std::string& dir, std::vector<Named>& out) {
  for (const std::string& name : entries(dir)) {
    const std::string path = dir + "/" + name;
    if (is_dir(path)) {
      ids_under(g, path, out);
    } else {
      ids_of_file(g, path, out);
    }
  }
}

// The blobs an index names (gitlinks aside), and those of its resolve-undo entries (the sides of a
// conflict resolved, which `git checkout -m` brings back).
void index_blobs(const Api& g, const std::string& path, std::vector<Named>& out) {
  git_index* index = nullptr;
  if (access(path.c_str(), F_OK) != 0 || g.git_index_open(&index, path.c_str()) < 0) return;
  for (std::size_t i = 0, n = g.git_index_entrycount(index); i < n; ++i) {
    const git_index_entry* e = g.git_index_get_byindex(index, i);
    if (e && (e->mode & 0170000) != 0160000) out.push_back(Named{e->id, GIT_OBJECT_BLOB});
  }
  for (std::size_t i = 0, n = g.git_index_reuc_entrycount(index); i < n; ++i) {
    const git_index_reuc_entry* e = g.git_index_reuc_get_byindex(index, i);
    for (int side = 0; e && side < 3; ++side) {
      if (e->mode[side] != 0 && (e->mode[side] & 0170000) != 0160000) out.push_back(Named{e->oid[side], GIT_OBJECT_BLOB});
    }
  }
  g.git_index_free(index);
}

// The files and folders of a git folder that name objects a merge, a cherry-pick, a revert, a
// rebase, a bisect or a fetch under way will use.
constexpr const char* kStateFiles[] = {"HEAD", "ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD",
                                       "REBASE_HEAD", "FETCH_HEAD", "AUTO_MERGE", "BISECT_HEAD"};
constexpr const char* kStateFolders[] = {"logs", "rebase-merge", "rebase-apply", "sequencer"};

// What the repository names besides the run: every ref (tags peeled by the walk), every HEAD,
// reflog and index, and the state of a merge, rebase, cherry-pick or fetch under way, of the main
// worktree and of each linked one.
std::vector<Named> roots(const Api& g, git_repository* repo, const std::string& common) {
  std::vector<Named> out;
  git_reference_iterator* it = nullptr;
  if (g.git_reference_iterator_new(&it, repo) == 0) {
    git_reference* ref = nullptr;
    while (g.git_reference_next(&ref, it) == 0) {
      git_reference* resolved = nullptr;
      if (g.git_reference_resolve(&resolved, ref) == 0) {
        if (const git_oid* id = g.git_reference_target(resolved)) out.push_back(Named{*id, GIT_OBJECT_ANY});
        g.git_reference_free(resolved);
      }
      g.git_reference_free(ref);
    }
    g.git_reference_iterator_free(it);
  }
  std::vector<std::string> admins{common};
  for (const std::string& name : entries(common + "/worktrees")) admins.push_back(common + "/worktrees/" + name);
  for (const std::string& admin : admins) {
    for (const char* name : kStateFiles) ids_of_file(g, admin + "/" + name, out);
    for (const char* name : kStateFolders) ids_under(g, admin + "/" + name, out);
    index_blobs(g, admin + "/index", out);
  }
  // A ref names any kind of object: the walk reads its type.
  for (Named& n : out) {
    if (n.type == GIT_OBJECT_ANY) n.type = GIT_OBJECT_COMMIT;
  }
  return out;
}

bool parse_ids(const Api& g, const std::vector<std::string>& ids, std::vector<Named>& out, std::string& why) {
  for (const std::string& text : ids) {
    git_oid id;
    if (text.size() != GIT_OID_HEXSZ || g.git_oid_fromstr(&id, text.c_str()) < 0) {
      why = "not a commit id: " + text;
      return false;
    }
    out.push_back(Named{id, GIT_OBJECT_COMMIT});
  }
  return true;
}

}  // namespace

std::optional<Pruned> prune_run_blobs(const Repo& r, const std::vector<std::string>& tips,
                                      const std::vector<std::string>& stops, std::string& why) {
  const Api& g = r.api();
  std::vector<Named> from, below;
  if (!parse_ids(g, tips, from, why) || !parse_ids(g, stops, below, why)) return std::nullopt;
  OdbHolder odb{g};
  if (g.git_repository_odb(&odb.p, r.raw()) < 0) {
    why = last_error(g, "the repository's object store could not be opened");
    return std::nullopt;
  }
  std::string common = g.git_repository_commondir(r.raw());
  while (common.size() > 1 && common.back() == '/') common.pop_back();
  std::set<Key> stop;
  for (const Named& n : below) stop.insert(key_of(n.id));
  // The run's loose blobs: path of each file by id.
  std::map<Key, std::string> loose;
  auto candidate = [&](const git_oid& id) {
    const std::string h = hex(g, id);
    const std::string path = common + "/objects/" + h.substr(0, 2) + "/" + h.substr(2);
    if (!loose.count(key_of(id)) && access(path.c_str(), F_OK) == 0) loose.emplace(key_of(id), path);
    return false;
  };
  if (!walk(g, odb.p, from, stop, candidate, why)) return std::nullopt;
  Pruned out;
  if (loose.empty()) return out;
  // Whatever else the repository names keeps its blobs.
  auto reached = [&](const git_oid& id) {
    if (loose.erase(key_of(id))) ++out.kept;
    return loose.empty();
  };
  if (!walk(g, odb.p, roots(g, r.raw(), common), {}, reached, why)) return std::nullopt;
  for (const auto& [k, path] : loose) {
    struct stat st {};
    const bool sized = lstat(path.c_str(), &st) == 0;
    if (::unlink(path.c_str()) == 0) {
      ++out.blobs;
      out.bytes += sized ? static_cast<std::uint64_t>(st.st_size) : 0;
    }
  }
  return out;
}

}  // namespace sidecar::host::git
