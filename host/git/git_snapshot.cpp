// Snapshots of a work tree that write nothing: what a run changed, found as `git status` finds
// it. The work tree is read against the index's stat data on a few threads
// (host/git/work_tree_walk.hpp), and only the files whose stat changed (racy entries included) are
// hashed, in memory, with git's filters (libgit2); untracked files are hashed too, unless larger
// than max_hash_bytes, when their stat data stands for their content; .gitignore is git's
// (libgit2). No object, index or lock file is written into the repository.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>
#include <thread>

#include "git/git_repo.hpp"
#include "git/work_tree_walk.hpp"

namespace sidecar::host::git {
namespace {

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool under(const std::string& folder, const std::string& path) {
  return path.compare(0, folder.size(), folder) == 0 && (path.size() == folder.size() || path[folder.size()] == '/');
}

// Whether a snapshot leaves `path` out: outside its folder, or under one of its exclusions.
bool left_out(const std::string& within, const std::vector<std::string>& exclude, const std::string& path) {
  if (!within.empty() && !under(within, path)) {
    return true;
  }
  for (const auto& e : exclude) {
    if (under(e, path)) {
      return true;
    }
  }
  return false;
}

bool same_id(const git_oid& a, const git_oid& b) { return std::memcmp(a.id, b.id, GIT_OID_RAWSZ) == 0; }

// The content of `rel` in the work tree as git add would record it, hashed in memory; a regular
// file over max_hash_bytes is described by its stat data instead. Absent when it is gone.
Content work_content(const Repo& r, const std::string& rel, std::int64_t max_hash_bytes) {
  const Api& g = r.api();
  Content c;
  std::string full = r.workdir() + "/" + rel;
  struct stat st {};
  if (lstat(full.c_str(), &st) != 0) {
    return c;
  }
  c.present = true;
  if (S_ISLNK(st.st_mode)) {
    c.mode = GIT_FILEMODE_LINK;
    std::string target(std::size_t(st.st_size) + 1, '\0');
    ssize_t n = readlink(full.c_str(), target.data(), target.size());
    g.git_odb_hash(&c.id, target.data(), n > 0 ? std::size_t(n) : 0, GIT_OBJECT_BLOB);
    return c;
  }
  if (S_ISDIR(st.st_mode)) {  // a repository of its own inside the tree: its HEAD, not entered
    c.mode = GIT_FILEMODE_COMMIT;
    std::string why;
    if (auto inner = Repo::open(full, why)) {
      if (auto h = inner->head(why); h && !h->id.empty()) {
        g.git_oid_fromstr(&c.id, h->id.c_str());
      }
    }
    return c;
  }
  c.mode = (st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
  if (st.st_size > max_hash_bytes ||
      g.git_repository_hashfile(&c.id, r.raw(), full.c_str(), GIT_OBJECT_BLOB, rel.c_str()) < 0) {
    c.by_stat = true;
    c.size = st.st_size;
    c.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    c.ctime_ns = std::int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    c.ino = std::int64_t(st.st_ino);
  }
  return c;
}

bool same_content(const Content& a, const Content& b) {
  if (a.present != b.present) {
    return false;
  }
  if (!a.present) {
    return true;
  }
  if (a.by_stat || b.by_stat) {
    return a.by_stat && b.by_stat && a.mode == b.mode && a.size == b.size && a.mtime_ns == b.mtime_ns &&
           a.ctime_ns == b.ctime_ns && a.ino == b.ino;
  }
  return a.mode == b.mode && same_id(a.id, b.id);
}

const IndexEntry* find_entry(const std::vector<IndexEntry>& index, const std::string& path) {
  auto it = std::lower_bound(index.begin(), index.end(), path,
                             [](const IndexEntry& e, const std::string& p) { return e.path < p; });
  return it != index.end() && it->path == path ? &*it : nullptr;
}

// A path's content in a snapshot: what the work tree held if it differed from the index, else
// the index's entry, else nothing.
Content content_at(const Snapshot& s, const std::string& path) {
  if (auto it = s.dirty.find(path); it != s.dirty.end()) {
    return it->second;
  }
  Content c;
  if (const IndexEntry* e = find_entry(s.index, path)) {
    c.present = true;
    c.mode = e->mode;
    c.id = e->id;
  }
  return c;
}

// The paths whose index entries differ between two snapshots (both lists are sorted).
void index_differences(const std::vector<IndexEntry>& a, const std::vector<IndexEntry>& b, std::set<std::string>& out) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      out.insert(a[i++].path);
    } else if (i == a.size() || b[j].path < a[i].path) {
      out.insert(b[j++].path);
    } else {
      if (a[i].mode != b[j].mode || !same_id(a[i].id, b[j].id)) {
        out.insert(a[i].path);
      }
      ++i, ++j;
    }
  }
}

const char* change_kind(const Content& before, const Content& after) {
  if (!before.present) {
    return "added";
  }
  if (!after.present) {
    return "deleted";
  }
  return (before.mode & 0170000) == (after.mode & 0170000) ? "modified" : "type_changed";
}

// How the walk reads stat data: core.trustctime, core.fileMode and core.checkStat as git does,
// and the index file's mtime (an entry not older than it is racy: hashed, as git would).
WalkOptions walk_options(const Repo& r, const SnapshotOptions& o) {
  WalkOptions w;
  w.top = r.workdir();
  w.within = o.within;
  w.exclude = o.exclude;
  w.deadline_ns = o.deadline_ns;
  w.threads = static_cast<int>(std::min(4u, std::max(1u, std::thread::hardware_concurrency())));
  std::string why;
  if (auto values = r.config_values("^core\\.(trustctime|filemode|checkstat)$", why)) {
    for (const auto& [name, value] : *values) {  // the last one set wins, as in git
      bool off = value == "false" || value == "no" || value == "off" || value == "0";
      if (name == "core.trustctime") w.trust_ctime = !off;
      if (name == "core.filemode") w.file_mode = !off;
      if (name == "core.checkstat") w.minimal_stat = value == "minimal";
    }
  }
  struct stat st {};
  if (stat((std::string(r.api().git_repository_path(r.raw())) + "index").c_str(), &st) == 0) {
    w.index_mtime_s = st.st_mtim.tv_sec;
    w.index_mtime_ns = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
  }
  return w;
}

StatEntry stat_entry(const git_index_entry& e, const std::string& path) {
  StatEntry s;
  s.path = &path;
  s.mode = e.mode;
  s.size = e.file_size;
  s.ino = e.ino;
  s.mtime_s = e.mtime.seconds;
  s.mtime_ns = e.mtime.nanoseconds;
  s.ctime_s = e.ctime.seconds;
  s.ctime_ns = e.ctime.nanoseconds;
  s.skip_worktree = (e.flags_extended & GIT_INDEX_ENTRY_SKIP_WORKTREE) != 0;
  return s;
}

bool ignored(const Repo& r, const std::string& path) {
  int yes = 0;
  return r.api().git_ignore_path_is_ignored(&yes, r.raw(), path.c_str()) == 0 && yes;
}

// The untracked files the walk found, and those in the untracked folders it did not enter, as
// `git status -uall` lists them: ignored ones left out (an ignored folder is not entered), a
// repository of its own inside the tree reported as one entry, its HEAD as content.
// False when the deadline passed first (a flood of new files is not read without end).
bool add_untracked(const Repo& r, const SnapshotOptions& o, const WalkResult& found,
                   std::map<std::string, Content>& dirty) {
  std::size_t looked = 0;
  auto expired = [&] { return o.deadline_ns && ++looked % 256 == 0 && monotonic_ns() > o.deadline_ns; };
  for (const auto& path : found.untracked_files) {
    if (expired()) return false;
    if (!ignored(r, path)) dirty[path] = work_content(r, path, o.max_hash_bytes);
  }
  std::vector<std::string> folders(found.untracked_dirs);
  while (!folders.empty()) {
    if (expired()) return false;
    std::string folder = std::move(folders.back());
    folders.pop_back();
    const std::string full = r.workdir() + "/" + folder;
    struct stat st {};
    if (left_out(o.within, o.exclude, folder) || ignored(r, folder + "/")) continue;
    if (lstat((full + "/.git").c_str(), &st) == 0) {
      dirty[folder] = work_content(r, folder, o.max_hash_bytes);
      continue;
    }
    DIR* dir = opendir(full.c_str());
    while (dir) {
      dirent* d = readdir(dir);
      if (!d) break;
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      if (expired()) {
        closedir(dir);
        return false;
      }
      std::string path = folder + "/" + d->d_name;
      if (lstat((r.workdir() + "/" + path).c_str(), &st) != 0 || left_out(o.within, o.exclude, path)) continue;
      if (S_ISDIR(st.st_mode)) {
        folders.push_back(path);
      } else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && !ignored(r, path)) {
        dirty[path] = work_content(r, path, o.max_hash_bytes);
      }
    }
    if (dir) closedir(dir);
  }
  return true;
}

}  // namespace

std::optional<Snapshot> Repo::snapshot(const SnapshotOptions& o, std::string& why) const {
  if (workdir().empty()) {
    why = "a bare repository has no work tree";
    return std::nullopt;
  }
  Snapshot s;
  s.within = o.within;
  s.exclude = o.exclude;
  git_oid head_id;
  if (g_->git_reference_name_to_id(&head_id, raw(), "HEAD") == 0) {
    s.head = hex(*g_, head_id);
  }
  git_index* raw_index = nullptr;
  if (g_->git_repository_index(&raw_index, raw()) < 0) {
    why = last_error(*g_, "the index could not be read");
    return std::nullopt;
  }
  IndexPtr index(raw_index);
  g_->git_index_read(raw_index, 0);  // the file on disk, if it changed since this repo last read it
  std::size_t n = g_->git_index_entrycount(raw_index);
  s.index.reserve(n);
  std::vector<const git_index_entry*> kept;
  kept.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const git_index_entry* e = g_->git_index_get_byindex(raw_index, i);
    if (GIT_INDEX_ENTRY_STAGE(e) == 0 && !left_out(o.within, o.exclude, e->path)) {
      s.index.push_back(IndexEntry{e->path, e->mode, e->id});
      kept.push_back(e);
    }
  }
  WalkOptions w = walk_options(*this, o);
  std::vector<StatEntry> entries(kept.size());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    entries[i] = stat_entry(*kept[i], s.index[i].path);
  }
  WalkResult found = walk_work_tree(entries, w);
  if (!found.error.empty() || found.expired) {
    why = found.expired ? "the deadline passed while the work tree was read" : found.error;
    return std::nullopt;
  }
  for (std::size_t k : found.changed) {
    const IndexEntry& e = s.index[k];
    Content c = work_content(*this, e.path, o.max_hash_bytes);
    if (!w.file_mode && c.present && (c.mode & 0170000) == 0100000 && (e.mode & 0170000) == 0100000) {
      c.mode = e.mode;  // core.fileMode false: the executable bit is the index's
    }
    // A submodule not checked out (an empty folder) is unchanged, as `git status` has it.
    bool unread_submodule =
        e.mode == GIT_FILEMODE_COMMIT && c.mode == GIT_FILEMODE_COMMIT && g_->git_oid_is_zero(&c.id);
    if (!unread_submodule && !(c.present && !c.by_stat && c.mode == e.mode && same_id(c.id, e.id))) {
      s.dirty[e.path] = c;
    }
  }
  for (std::size_t k : found.missing) {
    s.dirty[s.index[k].path] = Content{};
  }
  if (!add_untracked(*this, o, found, s.dirty)) {
    why = "the deadline passed while the work tree was read";
    return std::nullopt;
  }
  return s;
}

std::vector<FileChange> Repo::changes(const Snapshot& before, const Snapshot& after) const {
  std::set<std::string> paths;
  for (const auto& [path, c] : before.dirty) {
    paths.insert(path);
  }
  for (const auto& [path, c] : after.dirty) {
    paths.insert(path);
  }
  index_differences(before.index, after.index, paths);
  std::vector<FileChange> out;
  for (const auto& path : paths) {
    if (left_out(before.within, before.exclude, path)) {
      continue;
    }
    Content a = content_at(before, path), b = content_at(after, path);
    if (!same_content(a, b)) {
      out.push_back(FileChange{path, change_kind(a, b), a.by_stat || b.by_stat});
    }
  }
  return out;
}

}  // namespace sidecar::host::git
