// Trees, commits, refs, diffs and merges for writing runs, through libgit2 (see git_tree.hpp).
#include "git/git_tree.hpp"

#include "git/git_blob_stream.hpp"
#include "secrets/secrets.hpp"
#include "util/background_jobs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string_view>
#include <unordered_map>

namespace sidecar::host::git {
namespace {

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool parse_id(const Api& g, const std::string& text, git_oid& out) {
  return text.size() == GIT_OID_HEXSZ && g.git_oid_fromstr(&out, text.c_str()) == 0;
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

// The tree `id` (a tree's or a commit's id), or nullptr with why.
TreePtr tree_at(const Repo& r, const std::string& id, std::string& why) {
  const Api& g = r.api();
  std::string tree_id = id;
  if (auto peeled = peel(r, id, GIT_OBJECT_TREE, why)) {
    tree_id = *peeled;
  } else {
    return nullptr;
  }
  git_oid oid;
  git_tree* t = nullptr;
  if (!parse_id(g, tree_id, oid) || g.git_tree_lookup(&t, r.raw(), &oid) < 0) {
    why = last_error(g, "not a tree") + ": " + id;
    return nullptr;
  }
  return TreePtr(t);
}

struct DiffHolder {
  TreePtr from, to;
  DiffPtr diff;
};

bool diff_trees(const Repo& r, const std::string& from, const std::string& to, const git_diff_options& opts,
                DiffHolder& out, std::string& why) {
  out.from = tree_at(r, from, why);
  out.to = out.from ? tree_at(r, to, why) : nullptr;
  if (!out.to) {
    return false;
  }
  git_diff* d = nullptr;
  if (r.api().git_diff_tree_to_tree(&d, r.raw(), out.from.get(), out.to.get(), &opts) < 0) {
    why = last_error(r.api(), "the trees could not be compared");
    return false;
  }
  out.diff.reset(d);
  return true;
}

struct PatchSink {
  std::string* text;
  std::size_t max;
  bool cut = false;
};

// Each line of the patch as git prints it: the origin character before context, added and
// removed lines (libgit2 hands it apart from the text).
int on_patch_line(const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line, void* payload) {
  auto* sink = static_cast<PatchSink*>(payload);
  char o = line->origin;
  bool marked = o == GIT_DIFF_LINE_CONTEXT || o == GIT_DIFF_LINE_ADDITION || o == GIT_DIFF_LINE_DELETION;
  if (sink->text->size() + line->content_len + 1 > sink->max) {
    sink->cut = true;
    return 1;  // stops the printing: a patch cut short is of no use to anyone
  }
  if (marked) {
    sink->text->push_back(o);
  }
  if (o != GIT_DIFF_LINE_FILE_HDR) {
    sink->text->append(line->content, line->content_len);
    return 0;
  }
  // git ends a "--- a/x y" or "+++ b/x y" line whose name holds a space with a tab (so that
  // other patch tools find where the name ends); libgit2 does not.
  std::string_view header(line->content, line->content_len);
  while (!header.empty()) {
    std::size_t end = header.find('\n');
    std::string_view one = header.substr(0, end);
    sink->text->append(one);
    bool names = one.rfind("--- ", 0) == 0 || one.rfind("+++ ", 0) == 0;
    if (names && one.find(' ', 4) != std::string_view::npos) {
      sink->text->push_back('\t');
    }
    if (end == std::string_view::npos) {
      break;
    }
    sink->text->push_back('\n');
    header.remove_prefix(end + 1);
  }
  return 0;
}

struct LinkWalk {
  const Api* g = nullptr;
  std::vector<std::pair<std::string, git_oid>> found;
};

int on_tree_entry(const char* root, const git_tree_entry* entry, void* payload) {
  auto* w = static_cast<LinkWalk*>(payload);
  if ((w->g->git_tree_entry_filemode_raw(entry) & 0170000) == 0120000) {
    w->found.emplace_back(std::string(root) + w->g->git_tree_entry_name(entry), *w->g->git_tree_entry_id(entry));
  }
  return 0;
}

// Whether a file of the diff, before or after, is larger than `max` bytes (its size read from
// the object's header). Its patch could not be kept (a text patch holds its lines, a binary one
// its bytes deflated), and libgit2 would hold the whole file, deflated and encoded too, to make it:
// three times a 300 MiB file in this process's memory.
bool larger_than(const Repo& r, git_diff* diff, std::size_t max) {
  const Api& g = r.api();
  git_odb* raw = nullptr;
  if (g.git_repository_odb(&raw, r.raw()) < 0) return false;  // the diff will say what is wrong
  std::unique_ptr<git_odb, void (*)(git_odb*)> odb(raw, g.git_odb_free);
  for (std::size_t i = 0, n = g.git_diff_num_deltas(diff); i < n; ++i) {
    const git_diff_delta* delta = g.git_diff_get_delta(diff, i);
    for (const git_diff_file* f : {&delta->old_file, &delta->new_file}) {
      std::size_t size = 0;
      git_object_t type = GIT_OBJECT_INVALID;
      if (f->mode == GIT_FILEMODE_COMMIT || g.git_oid_is_zero(&f->id)) continue;
      if (g.git_odb_read_header(&size, &type, odb.get(), &f->id) == 0 && size > max) return true;
    }
  }
  return false;
}

bool under(const std::string& folder, const char* path) {
  std::size_t n = folder.size();
  return std::char_traits<char>::compare(path, folder.c_str(), n) == 0 && (path[n] == '\0' || path[n] == '/');
}

struct AddPayload {
  const TreeSnapshotOptions* o;
  const Api* g;
  git_index* index;
  std::string top;  // the work tree, ending in '/'
  std::vector<LeftOut>* left_out;
  std::unordered_map<std::string_view, const LeftOut*> known;  // o->leave_out by path
  bool expired = false;
  bool abandoned = false;
  LargeBlobs* large = nullptr;  // large files written as blobs without reading them whole
};

// Whether `path` is an untracked file the snapshot leaves out (TreeSnapshotOptions); then it
// joins the payload's left_out.
bool leave_out(AddPayload& p, const char* path) {
  const TreeSnapshotOptions& o = *p.o;
  std::size_t at = 0;  // in the index at any stage (a conflicted path is tracked): not untracked
  if ((!o.leave_out_secrets && o.max_untracked_bytes <= 0 && o.leave_out.empty()) ||
      p.g->git_index_find(&at, p.index, path) == 0) {
    return false;
  }
  struct stat st;
  if (lstat((p.top + path).c_str(), &st) != 0) {
    return false;
  }
  LeftOut now{path, static_cast<std::int64_t>(st.st_size),
              static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, ""};
  std::string why;
  // Judged by its path alone, a link too: one named .env is left out whatever it leads to. (Each
  // untracked file costs this check; it saves hashing it.)
  if (o.leave_out_secrets && is_secret_file(now.path, why)) {
    now.reason = "secret";
    p.left_out->push_back(std::move(now));
    return true;
  }
  if (!S_ISREG(st.st_mode)) {
    return false;
  }
  bool out = o.max_untracked_bytes > 0 && now.size > o.max_untracked_bytes;
  if (!out) {
    auto was = p.known.find(now.path);
    out = was != p.known.end() && was->second->size == now.size && was->second->mtime_ns == now.mtime_ns;
  }
  if (out) {
    p.left_out->push_back(std::move(now));
  }
  return out;
}

// git_index_add_all asks about each path: 1 leaves it as the index has it, -1 stops.
int on_add(const char* path, const char*, void* payload) {
  auto* p = static_cast<AddPayload*>(payload);
  if (p->o->deadline_ns && monotonic_ns() > p->o->deadline_ns) {
    p->expired = true;
    return -1;
  }
  if (background_jobs_stopping()) {  // a snapshot on a thread whose process is ending: no one reads it
    p->abandoned = true;
    return -1;
  }
  for (const auto& e : p->o->exclude) {
    if (under(e, path)) {
      return 1;
    }
  }
  return leave_out(*p, path) || (p->large && p->large->take(path)) ? 1 : 0;
}

// Copies the index file to `to`, keeping its times: entries not older than the index are
// "racy" and hashed again, which a newer copy would hide.
bool copy_index(const std::string& from, const std::string& to, std::string& why) {
  struct stat st {};
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!out) {
    why = "could not write " + to;
    return false;
  }
  if (in && stat(from.c_str(), &st) == 0) {
    out << in.rdbuf();
    out.close();
    timespec times[2] = {st.st_atim, st.st_mtim};
    utimensat(AT_FDCWD, to.c_str(), times, 0);
  } else {
    out.close();
    std::remove(to.c_str());  // no index yet: git starts from nothing
  }
  return true;
}

}  // namespace

std::optional<Top> top_of(const std::string& dir, std::string& why) {
  auto r = Repo::open(dir, why);
  if (!r) {
    return std::nullopt;
  }
  if (r->workdir().empty()) {
    why = "this operation must be run in a work tree (the repository is bare)";
    return std::nullopt;
  }
  Top t{real_path(r->workdir()), ""};
  std::string here = real_path(dir);
  if (t.top.empty() || here.empty()) {
    why = "could not resolve " + dir;
    return std::nullopt;
  }
  if (here.size() > t.top.size() && here.compare(0, t.top.size() + 1, t.top + "/") == 0) {
    t.prefix = here.substr(t.top.size() + 1) + "/";
  }
  return t;
}

std::optional<std::string> peel(const Repo& r, const std::string& rev, git_object_t type, std::string& why) {
  const Api& g = r.api();
  git_object* raw = nullptr;
  if (g.git_revparse_single(&raw, r.raw(), rev.c_str()) < 0) {
    why = "unknown revision: " + rev;
    return std::nullopt;
  }
  ObjectPtr obj(raw);
  git_object* peeled = nullptr;
  if (g.git_object_peel(&peeled, raw, type) < 0) {
    why = last_error(g, "cannot be peeled") + ": " + rev;
    return std::nullopt;
  }
  ObjectPtr owned(peeled);
  return hex(g, *g.git_object_id(peeled));
}

std::optional<std::string> commit(const Repo& r, const std::string& tree, const std::string& parent,
                                  const std::string& message, std::string& why) {
  const Api& g = r.api();
  TreePtr t = tree_at(r, tree, why);
  if (!t) {
    return std::nullopt;
  }
  git_commit* p = nullptr;
  git_oid parent_id;
  if (!parent.empty() && (!parse_id(g, parent, parent_id) || g.git_commit_lookup(&p, r.raw(), &parent_id) < 0)) {
    why = "not a commit: " + parent;
    return std::nullopt;
  }
  git_signature* sig = nullptr;
  if (g.git_signature_now(&sig, "Sidecar", "sidecar@localhost") < 0) {
    g.git_commit_free(p);
    why = last_error(g, "the commit's signature could not be made");
    return std::nullopt;
  }
  std::string text = message;
  if (text.empty() || text.back() != '\n') {
    text += '\n';  // as commit-tree -m completes the line
  }
  const git_commit* parents[] = {p};
  git_oid id;
  int rc = g.git_commit_create(&id, r.raw(), nullptr, sig, sig, nullptr, text.c_str(), t.get(), p ? 1 : 0, parents);
  g.git_signature_free(sig);
  g.git_commit_free(p);
  if (rc < 0) {
    why = last_error(g, "the commit could not be written");
    return std::nullopt;
  }
  return hex(g, id);
}

bool set_ref(const Repo& r, const std::string& name, const std::string& id, const std::string* old,
             std::string& why) {
  const Api& g = r.api();
  git_oid target, current;
  if (!parse_id(g, id, target) || (old && !old->empty() && !parse_id(g, *old, current))) {
    why = "not an object id: " + (old && !parse_id(g, id, target) ? id : old ? *old : id);
    return false;
  }
  git_reference* ref = nullptr;
  const char* log = "sidecar";
  int rc = !old ? g.git_reference_create(&ref, r.raw(), name.c_str(), &target, 1, log)
           : old->empty() ? g.git_reference_create(&ref, r.raw(), name.c_str(), &target, 0, log)
                          : g.git_reference_create_matching(&ref, r.raw(), name.c_str(), &target, 1, &current, log);
  if (rc < 0) {
    why = last_error(g, "the ref could not be updated") + " (" + name + ")";
    return false;
  }
  g.git_reference_free(ref);
  return true;
}

bool delete_ref(const Repo& r, const std::string& name, const std::string& old, std::string& why) {
  const Api& g = r.api();
  git_reference* raw = nullptr;
  if (g.git_reference_lookup(&raw, r.raw(), name.c_str()) < 0) {
    why = "no such ref: " + name;
    return false;
  }
  ReferencePtr ref(raw);
  const git_oid* at = g.git_reference_target(raw);
  if (!at || hex(g, *at) != old) {
    why = "cannot delete " + name + ": it is at " + (at ? hex(g, *at) : "a symbolic ref") + ", expected " + old;
    return false;
  }
  // libgit2 deletes only while the ref is still where this lookup saw it.
  if (g.git_reference_delete(raw) < 0) {
    why = last_error(g, "the ref could not be deleted") + " (" + name + ")";
    return false;
  }
  return true;
}

std::optional<std::vector<NameStatus>> diff_files(const Repo& r, const std::string& from, const std::string& to,
                                                  std::string& why) {
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE;  // a file that became a link is "T", as diff-tree says
  DiffHolder d;
  if (!diff_trees(r, from, to, opts, d, why)) {
    return std::nullopt;
  }
  const Api& g = r.api();
  std::vector<NameStatus> out;
  for (std::size_t i = 0, n = g.git_diff_num_deltas(d.diff.get()); i < n; ++i) {
    const git_diff_delta* delta = g.git_diff_get_delta(d.diff.get(), i);
    char s = delta->status == GIT_DELTA_ADDED     ? 'A'
             : delta->status == GIT_DELTA_DELETED ? 'D'
             : delta->status == GIT_DELTA_TYPECHANGE ? 'T'
                                                     : 'M';
    out.push_back(NameStatus{delta->new_file.path ? delta->new_file.path : delta->old_file.path, s});
  }
  std::sort(out.begin(), out.end(), [](const NameStatus& a, const NameStatus& b) { return a.path < b.path; });
  return out;
}

std::optional<Patch> patch(const Repo& r, const std::string& from, const std::string& to, std::size_t max_bytes,
                           std::string& why) {
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_SHOW_BINARY;  // binary files as `git apply` takes them (--binary)
  opts.id_abbrev = GIT_OID_HEXSZ;     // --full-index
  DiffHolder d;
  if (!diff_trees(r, from, to, opts, d, why)) {
    return std::nullopt;
  }
  Patch p;
  if (larger_than(r, d.diff.get(), max_bytes)) {
    p.cut = true;  // its patch would not be kept: the file is never read whole to make it
    return p;
  }
  PatchSink sink{&p.text, max_bytes};
  int rc = r.api().git_diff_print(d.diff.get(), GIT_DIFF_FORMAT_PATCH, on_patch_line, &sink);
  if (sink.cut) {
    p.text.clear();
    p.cut = true;
  } else if (rc < 0) {
    why = last_error(r.api(), "the patch could not be made");
    return std::nullopt;
  }
  return p;
}

std::optional<std::vector<Link>> tree_links(const Repo& r, const std::string& tree, std::string& why) {
  TreePtr t = tree_at(r, tree, why);
  if (!t) {
    return std::nullopt;
  }
  const Api& g = r.api();
  LinkWalk walk;
  walk.g = &g;
  if (g.git_tree_walk(t.get(), GIT_TREEWALK_PRE, on_tree_entry, &walk) < 0) {
    why = last_error(g, "the tree could not be read") + ": " + tree;
    return std::nullopt;
  }
  git_odb* raw_odb = nullptr;
  if (!walk.found.empty() && g.git_repository_odb(&raw_odb, r.raw()) < 0) {
    why = last_error(g, "the object store could not be opened");
    return std::nullopt;
  }
  std::unique_ptr<git_odb, void (*)(git_odb*)> odb(raw_odb, g.git_odb_free);
  std::vector<Link> out;
  for (const auto& [path, id] : walk.found) {
    git_odb_object* object = nullptr;
    if (g.git_odb_read(&object, odb.get(), &id) < 0) {
      why = last_error(g, "an object is missing") + " (the link " + path + ")";
      return std::nullopt;
    }
    std::unique_ptr<git_odb_object, void (*)(git_odb_object*)> owned(object, g.git_odb_object_free);
    if (g.git_odb_object_type(object) != GIT_OBJECT_BLOB) {
      why = "the tree names a non-file object for the link " + path;
      return std::nullopt;
    }
    out.push_back(Link{path, std::string(static_cast<const char*>(g.git_odb_object_data(object)),
                                         g.git_odb_object_size(object))});
  }
  std::sort(out.begin(), out.end(), [](const Link& a, const Link& b) { return a.path < b.path; });
  return out;
}

std::optional<Merge> merge(const Repo& r, const std::string& base, const std::string& ours, const std::string& theirs,
                           std::string& why) {
  const Api& g = r.api();
  TreePtr b = tree_at(r, base, why), o = b ? tree_at(r, ours, why) : nullptr, t = o ? tree_at(r, theirs, why) : nullptr;
  if (!t) {
    return std::nullopt;
  }
  git_merge_options opts = GIT_MERGE_OPTIONS_INIT;  // renames followed, as merge-ort does
  git_index* raw = nullptr;
  if (g.git_merge_trees(&raw, r.raw(), b.get(), o.get(), t.get(), &opts) < 0) {
    why = last_error(g, "the trees could not be merged");
    return std::nullopt;
  }
  IndexPtr index(raw);
  Merge m;
  if (g.git_index_has_conflicts(raw)) {
    git_index_conflict_iterator* it = nullptr;
    if (g.git_index_conflict_iterator_new(&it, raw) < 0) {
      why = last_error(g, "the merge's conflicts could not be read");
      return std::nullopt;
    }
    const git_index_entry *anc, *our, *their;
    while (g.git_index_conflict_next(&anc, &our, &their, it) == 0) {
      const git_index_entry* e = our ? our : their ? their : anc;
      m.conflicts.push_back(e->path);
    }
    g.git_index_conflict_iterator_free(it);
    std::sort(m.conflicts.begin(), m.conflicts.end());
    m.conflicts.erase(std::unique(m.conflicts.begin(), m.conflicts.end()), m.conflicts.end());
    return m;
  }
  git_oid id;
  if (g.git_index_write_tree_to(&id, raw, r.raw()) < 0) {
    why = last_error(g, "the merged tree could not be written");
    return std::nullopt;
  }
  m.tree = hex(g, id);
  return m;
}

std::optional<TreeSnapshot> tree_snapshot(const std::string& dir, const TreeSnapshotOptions& o, std::string& why) {
  // A repository object of its own: the index it is given below must not become the one other
  // readers of this repository see.
  auto r = Repo::open(dir, why);
  if (!r) {
    return std::nullopt;
  }
  const Api& g = r->api();
  if (r->workdir().empty()) {
    why = "a bare repository has no work tree";
    return std::nullopt;
  }
  std::string index_path = r->gitdir() + "/index";
  if (!o.keep_index.empty()) {
    if (!copy_index(index_path, o.keep_index, why)) {
      return std::nullopt;
    }
    index_path = o.keep_index;
  }
  // Read from the file, changed only in memory; written (to the copy) only when it is kept.
  git_index* raw = nullptr;
  if (g.git_index_open(&raw, index_path.c_str()) < 0 || g.git_repository_set_index(r->raw(), raw) < 0) {
    why = last_error(g, "the index could not be read");
    if (raw) {
      g.git_index_free(raw);
    }
    return std::nullopt;
  }
  IndexPtr index(raw);
  TreeSnapshot s;
  AddPayload payload{&o, &g, raw, r->workdir(), &s.left_out, {}};
  if (payload.top.empty() || payload.top.back() != '/') {
    payload.top += '/';
  }
  for (const LeftOut& l : o.leave_out) {
    payload.known.emplace(l.path, &l);
  }
  LargeBlobs large(*r);
  payload.large = &large;
  git_oid tree;
  std::string large_why;
  if (g.git_index_add_all(raw, nullptr, GIT_INDEX_ADD_DEFAULT, on_add, &payload) < 0 ||
      !large.add(raw, large_why) || g.git_index_write_tree(&tree, raw) < 0) {
    why = payload.expired     ? "the deadline passed while the work tree was read"
          : payload.abandoned ? "the process ended while the work tree was read"
          : !large_why.empty() ? large_why
                              : last_error(g, "the work tree could not be added to a tree");
    return std::nullopt;
  }
  if (!o.keep_index.empty() && g.git_index_write(raw) < 0) {
    why = last_error(g, "the private index could not be written");
    return std::nullopt;
  }
  s.tree = hex(g, tree);
  std::string no_head;
  if (auto h = peel(*r, "HEAD", GIT_OBJECT_COMMIT, no_head)) {
    s.head = *h;
    s.head_tree = peel(*r, "HEAD", GIT_OBJECT_TREE, no_head).value_or("");
  }
  return s;
}

}  // namespace sidecar::host::git
