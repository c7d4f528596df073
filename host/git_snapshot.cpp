// Snapshots of a work tree that write nothing: what a run changed, found as `git status` finds
// it. libgit2 compares the work tree with the index by stat data and hashes, in memory, only
// the files whose stat changed (racy entries included); untracked files are hashed here, unless
// larger than max_hash_bytes, when their stat data stands for their content. No object, index
// or lock file is written into the repository.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>

#include "git_repo.hpp"

namespace sidecar::host::git {
namespace {

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct DiffPayload {
  std::int64_t deadline_ns;
  bool expired = false;
};

// Called by libgit2 for each file it looks at: past the deadline, the diff stops.
int on_progress(const git_diff*, const char*, const char*, void* payload) {
  auto* p = static_cast<DiffPayload*>(payload);
  if (p->deadline_ns && monotonic_ns() > p->deadline_ns) {
    p->expired = true;
    return -1;
  }
  return 0;
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

// What one delta of the index-to-work-tree diff says the work tree holds at its path.
Content delta_content(const Repo& r, const git_diff_delta& d, const std::string& path, std::int64_t max_hash_bytes) {
  if (d.status == GIT_DELTA_DELETED) {
    return Content{};
  }
  const Api& g = r.api();
  bool known = (d.new_file.flags & GIT_DIFF_FLAG_VALID_ID) && !g.git_oid_is_zero(&d.new_file.id);
  if (known && d.status != GIT_DELTA_UNTRACKED) {
    Content c;
    c.present = true;
    c.mode = d.new_file.mode;
    c.id = d.new_file.id;
    return c;
  }
  return work_content(r, path, max_hash_bytes);
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
  for (std::size_t i = 0; i < n; ++i) {
    const git_index_entry* e = g_->git_index_get_byindex(raw_index, i);
    if (GIT_INDEX_ENTRY_STAGE(e) == 0 && !left_out(o.within, o.exclude, e->path)) {
      s.index.push_back(IndexEntry{e->path, e->mode, e->id});
    }
  }
  DiffPayload payload{o.deadline_ns};
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS | GIT_DIFF_INCLUDE_TYPECHANGE |
               GIT_DIFF_SKIP_BINARY_CHECK;
  opts.ignore_submodules = GIT_SUBMODULE_IGNORE_DIRTY;  // a submodule's commit, never its files
  opts.progress_cb = on_progress;
  opts.payload = &payload;
  git_diff* raw_diff = nullptr;
  if (g_->git_diff_index_to_workdir(&raw_diff, raw(), raw_index, &opts) < 0) {
    why = payload.expired ? "the deadline passed while the work tree was read"
                          : last_error(*g_, "the work tree could not be compared with the index");
    return std::nullopt;
  }
  DiffPtr diff(raw_diff);
  for (std::size_t i = 0, count = g_->git_diff_num_deltas(raw_diff); i < count; ++i) {
    const git_diff_delta* d = g_->git_diff_get_delta(raw_diff, i);
    std::string path = d->new_file.path ? d->new_file.path : d->old_file.path;
    if (!path.empty() && path.back() == '/') {
      path.pop_back();  // an untracked repository inside the tree
    }
    if (!left_out(o.within, o.exclude, path)) {
      s.dirty[path] = delta_content(*this, *d, path, o.max_hash_bytes);
    }
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
