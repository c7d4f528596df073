// A sandboxed run's commits into the repository, object by object (see git_import.hpp).
//
// The private folder is the agent's: any file in it may lie. A pack's index may name an id the
// repository already has with other bytes behind it (renamed into .git/objects, it would shadow
// the user's file), a loose object may wait under the id of a content someone adds later,
// info/alternates or a commit-graph would change how git reads the whole repository. So only
// what the agent's commit reaches is taken, only what the repository lacks, and each object is
// hashed here before the repository's own store writes it under the id its bytes give.
#include "git/git_import.hpp"

#include "git/git_object_names.hpp"
#include "git/git_tree.hpp"  // remove_all

#include <dirent.h>
#include <git2/sys/odb_backend.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

namespace sidecar::host::git {
namespace {

// An object store and an object read from it, freed through the loaded table.
struct Odb {
  const Api& g;
  git_odb* p = nullptr;
  ~Odb() {
    if (p) g.git_odb_free(p);
  }
};
struct OdbObject {
  const Api& g;
  git_odb_object* p = nullptr;
  ~OdbObject() {
    if (p) g.git_odb_object_free(p);
  }
};

// Removes the folder on every way out of import_objects.
struct RemoveAfter {
  const std::string& path;
  ~RemoveAfter() { remove_all(path); }
};

const char* type_name(git_object_t t) {
  switch (t) {
    case GIT_OBJECT_COMMIT: return "commit";
    case GIT_OBJECT_TREE: return "tree";
    case GIT_OBJECT_BLOB: return "blob";
    case GIT_OBJECT_TAG: return "tag";
    default: return "object of no known type";
  }
}

bool same(const git_oid& a, const git_oid& b) { return std::memcmp(a.id, b.id, GIT_OID_RAWSZ) == 0; }

// Unlinks what is neither a folder nor a regular file in `folder` and, `depth` levels down, in
// its folders (the loose and pack back-ends open files one level down): a FIFO there would hang
// the read, a link would lead it out of the folder. The agent's processes have all ended by now.
void sweep(const std::string& folder, int depth) {
  DIR* d = opendir(folder.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  closedir(d);
  for (const auto& n : names) {
    std::string path = folder + "/" + n;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth > 0) sweep(path, depth - 1);
    } else if (!S_ISREG(st.st_mode)) {
      ::unlink(path.c_str());
    }
  }
}

// Whether `dir` is a folder (not a link to one), swept of what is not a plain file.
bool plain_files_only(const std::string& dir) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return false;
  }
  sweep(dir, 1);
  return true;
}

// Hands the back-end `b` to the store, which frees it from then on; freed here when refused.
bool add_backend(const Api& g, git_odb* odb, git_odb_backend* b, int priority) {
  if (g.git_odb_add_backend(odb, b, priority) == 0) return true;
  b->free(b);
  return false;
}

// A store of the folder's own loose objects and packs: git_odb_new adds no back-end and reads no
// alternates, so nothing outside the folder answers.
bool open_private(const Api& g, const std::string& dir, Odb& odb, std::string& why) {
  if (g.git_odb_new(&odb.p) < 0) {
    why = last_error(g, "an object store could not be made");
    return false;
  }
  git_odb_backend* loose = nullptr;
  git_odb_backend* pack = nullptr;
  if (g.git_odb_backend_loose(&loose, dir.c_str(), -1, 0, 0, 0) < 0 || !add_backend(g, odb.p, loose, 2) ||
      g.git_odb_backend_pack(&pack, dir.c_str()) < 0 || !add_backend(g, odb.p, pack, 1)) {
    why = last_error(g, "the agent's object folder could not be read") + ": " + dir;
    return false;
  }
  return true;
}

// The object `id` of the private store, checked: there, of type `want`, and its bytes hash to
// `id` (computed here: libgit2's own check can be switched off process-wide).
bool read_checked(const Api& g, git_odb* odb, const git_oid& id, git_object_t want, OdbObject& out,
                  std::string& why) {
  int rc = g.git_odb_read(&out.p, odb, &id);
  if (rc == GIT_ENOTFOUND) {
    why = std::string(type_name(want)) + " " + hex(g, id) + " is missing from the agent's object folder";
    return false;
  }
  if (rc == GIT_EMISMATCH) {
    why = "object " + hex(g, id) + " in the agent's object folder does not hash to its id";
    return false;
  }
  if (rc < 0) {
    why = last_error(g, "unreadable") + " (object " + hex(g, id) + " in the agent's object folder)";
    return false;
  }
  git_object_t type = g.git_odb_object_type(out.p);
  if (type != want) {
    why = "object " + hex(g, id) + " is a " + type_name(type) + " where a " + type_name(want) + " was named";
    return false;
  }
  git_oid computed;
  if (g.git_odb_hash(&computed, g.git_odb_object_data(out.p), g.git_odb_object_size(out.p), type) < 0 ||
      !same(computed, id)) {
    why = "object " + hex(g, id) + " in the agent's object folder does not hash to its id";
    return false;
  }
  return true;
}

// Copies the object `n` from the private store into the repository's, checked on the way.
bool copy_checked(const Api& g, git_odb* mine, git_odb* theirs, const Named& n, Imported& counts, std::string& why) {
  OdbObject o{g};
  if (!read_checked(g, mine, n.id, n.type, o, why)) return false;
  std::size_t size = g.git_odb_object_size(o.p);
  git_oid written;
  if (g.git_odb_write(&written, theirs, g.git_odb_object_data(o.p), size, n.type) < 0) {
    why = last_error(g, "the object could not be written") + " (" + hex(g, n.id) + ")";
    return false;
  }
  if (!same(written, n.id)) {
    why = "object " + hex(g, n.id) + " was written as " + hex(g, written);
    return false;
  }
  counts.objects += 1;
  counts.bytes += size;
  return true;
}

// The commit `tip` and what it reaches that the repository lacks. First every object is read and
// checked; only then is any written, so a commit that cannot come in whole leaves nothing of
// itself in the repository.
bool import_commit(const Api& g, git_odb* mine, git_odb* theirs, const git_oid& tip, Imported& counts,
                   std::string& why) {
  std::vector<Named> todo{Named{tip, GIT_OBJECT_COMMIT}}, to_write;
  std::set<std::string> seen;
  while (!todo.empty()) {
    Named next = todo.back();
    todo.pop_back();
    if (!seen.insert(std::string(reinterpret_cast<const char*>(next.id.id), GIT_OID_RAWSZ)).second) continue;
    if (g.git_odb_exists(theirs, &next.id)) {
      std::size_t size = 0;
      git_object_t type = GIT_OBJECT_INVALID;
      if (g.git_odb_read_header(&size, &type, theirs, &next.id) < 0 || type != next.type) {
        why = "object " + hex(g, next.id) + " is a " + type_name(type) + " in the repository where the agent's " +
              "commit names a " + type_name(next.type);
        return false;
      }
      continue;  // the repository's own: never written again, nor what it reaches
    }
    OdbObject o{g};
    if (!read_checked(g, mine, next.id, next.type, o, why)) return false;
    const char* data = static_cast<const char*>(g.git_odb_object_data(o.p));
    std::size_t size = g.git_odb_object_size(o.p);
    bool ok = next.type == GIT_OBJECT_COMMIT ? commit_names(g, data, size, todo)
              : next.type == GIT_OBJECT_TREE ? tree_names(data, size, todo)
                                             : true;
    if (!ok) {
      why = std::string(type_name(next.type)) + " " + hex(g, next.id) + " in the agent's object folder is malformed";
      return false;
    }
    to_write.push_back(next);
  }
  // Blobs first, then trees, then commits, each kind in the reverse of the walk: the tip comes
  // last, so the repository holds no commit of the agent's before what it names.
  std::reverse(to_write.begin(), to_write.end());
  auto rank = [](git_object_t t) { return t == GIT_OBJECT_BLOB ? 0 : t == GIT_OBJECT_TREE ? 1 : 2; };
  std::stable_sort(to_write.begin(), to_write.end(),
                   [&](const Named& a, const Named& b) { return rank(a.type) < rank(b.type); });
  for (const Named& n : to_write) {
    if (!copy_checked(g, mine, theirs, n, counts, why)) return false;
  }
  return true;
}

// The worktree's index names blobs too: what the agent staged and did not commit, and, when its
// commit was refused, that commit's files. Each the repository lacks comes in checked, as the
// commit's do; an entry whose blob cannot is dropped, so the next snapshot reads that file from
// the work tree again instead of naming an object the repository never gets. An index that
// cannot be read or written goes whole: the snapshot then reads every file.
void import_staged(const Api& g, git_odb* mine, git_odb* theirs, const std::string& path, Imported& counts) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;
  git_index* raw = nullptr;
  if (!S_ISREG(st.st_mode) || g.git_index_open(&raw, path.c_str()) < 0) {
    ::unlink(path.c_str());
    return;
  }
  IndexPtr index(raw);
  std::vector<std::pair<std::string, int>> drop;
  for (std::size_t i = 0, n = g.git_index_entrycount(raw); i < n; ++i) {
    const git_index_entry* e = g.git_index_get_byindex(raw, i);
    if ((e->mode & 0170000) == 0160000 || g.git_odb_exists(theirs, &e->id)) continue;  // a gitlink, or the repository's
    std::string ignored;
    if (!copy_checked(g, mine, theirs, Named{e->id, GIT_OBJECT_BLOB}, counts, ignored)) {
      drop.emplace_back(e->path, GIT_INDEX_ENTRY_STAGE(e));
    }
  }
  for (const auto& [name, stage] : drop) {
    g.git_index_remove(raw, name.c_str(), stage);
    counts.unstaged.push_back(name);
  }
  if (!drop.empty() && g.git_index_write(raw) < 0) {
    ::unlink(path.c_str());
  }
}

}  // namespace

std::optional<Imported> import_objects(const Repo& r, const ImportSpec& spec, std::string& why) {
  RemoveAfter remove{spec.objects_dir};
  const Api& g = r.api();
  git_oid tip;
  if (!spec.tip.empty() && (spec.tip.size() != GIT_OID_HEXSZ || g.git_oid_fromstr(&tip, spec.tip.c_str()) < 0)) {
    why = "not a commit id: " + spec.tip;
    return std::nullopt;
  }
  Odb mine{g}, theirs{g};
  if (g.git_repository_odb(&theirs.p, r.raw()) < 0) {
    why = last_error(g, "the repository's object store could not be opened");
    return std::nullopt;
  }
  // A folder that is gone, or is a link, is read as an empty store: nothing in it is followed.
  bool ok = !plain_files_only(spec.objects_dir) || open_private(g, spec.objects_dir, mine, why);
  if (ok && !mine.p && g.git_odb_new(&mine.p) < 0) {
    why = last_error(g, "an object store could not be made");
    ok = false;
  }
  Imported counts;
  ok = ok && (spec.tip.empty() || import_commit(g, mine.p, theirs.p, tip, counts, why));
  if (!spec.index.empty() && mine.p) {
    Imported staged;
    import_staged(g, mine.p, theirs.p, spec.index, staged);
    counts.objects += staged.objects;
    counts.bytes += staged.bytes;
    counts.unstaged = std::move(staged.unstaged);
  }
  if (!ok) {
    for (std::size_t i = 0; i < counts.unstaged.size() && i < 3; ++i) {
      why += (i ? ", " : "; dropped from the worktree's index: ") + counts.unstaged[i];
    }
    return std::nullopt;
  }
  return counts;
}

}  // namespace sidecar::host::git
