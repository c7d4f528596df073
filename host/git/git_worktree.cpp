// The worktrees of writing runs through libgit2 (see git_tree.hpp): adding one, bringing its
// files to a tree, cleaning and removing it, and writing a merge into the user's work tree.
// libgit2 has no `git clean` and its worktree removal keeps git's record: the small parts
// here do what git does (clean -ffdx, worktree remove --force --force).
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "git/git_tree.hpp"
#include "util/xdg.hpp"

namespace sidecar::host::git {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Adding or removing a worktree while another process does the same to the same repository
// races: libgit2's check that a branch is not checked out elsewhere reads every worktree's
// record, and one half written or half removed makes it answer "already checked out". Sidecar's
// own processes take turns on a lock (flock: dropped when the holder dies, whatever kills it),
// held for the few milliseconds each change of the records takes. The lock file is in the user's
// runtime folder (else the state folder), named by the repository's common folder: never in the
// repository, where an agent, which may read .git, could take it and hold every run back. A holder
// stuck for longer than `kWait` is not waited for: the change goes ahead, as git's own would.
class WorktreesLock {
 public:
  explicit WorktreesLock(const std::string& commondir) {
    std::string dir = locks_dir(), error;
    if (dir.empty() || !xdg::make_dirs(dir, error)) return;
    std::string real = real_path(commondir);
    char name[64];
    std::snprintf(name, sizeof name, "/worktrees-%016zx.lock", std::hash<std::string>{}(real.empty() ? commondir : real));
    fd_ = open((dir + name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    auto until = std::chrono::steady_clock::now() + kWait;
    while (fd_ >= 0 && flock(fd_, LOCK_EX | LOCK_NB) != 0 && (errno == EWOULDBLOCK || errno == EINTR) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ~WorktreesLock() {
    if (fd_ >= 0) close(fd_);
  }
  WorktreesLock(const WorktreesLock&) = delete;
  WorktreesLock& operator=(const WorktreesLock&) = delete;

 private:
  static std::string locks_dir() {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    if (runtime && runtime[0] == '/') return std::string(runtime) + "/sidecar/locks";
    std::string state = xdg::state_dir();
    return state.empty() ? state : state + "/locks";
  }
  static constexpr std::chrono::seconds kWait{10};
  int fd_ = -1;
};

// The real path of `admin` when it is one of the records of `main`'s worktrees (a folder directly
// under its worktrees folder), else "".
std::string record_path(const Repo& main, const std::string& admin) {
  std::string records = real_path(main.commondir() + "/worktrees"), real_admin = real_path(admin);
  bool under = !records.empty() && real_admin.compare(0, records.size() + 1, records + "/") == 0 &&
               real_admin.find('/', records.size() + 1) == std::string::npos;
  return under ? real_admin : std::string();
}

// The name of the worktree's admin folder: the folder's own name, with a number after it when
// that is taken (as `git worktree add` chooses it).
std::string admin_name(const Repo& main, const std::string& path) {
  std::string name = base_name(path), dir = main.commondir() + "/worktrees/";
  if (!exists(dir + name)) {
    return name;
  }
  int n = 1;
  while (exists(dir + name + std::to_string(n))) {
    ++n;
  }
  return name + std::to_string(n);
}

// The paths libgit2 reports as conflicts while checking a checkout, for the message.
int on_conflict(git_checkout_notify_t, const char* path, const git_diff_file*, const git_diff_file*,
                const git_diff_file*, void* payload) {
  auto* paths = static_cast<std::vector<std::string>*>(payload);
  if (path && paths->size() < 20) {
    paths->push_back(path);
  }
  return 0;
}

std::string joined(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) {
    out += (out.empty() ? "" : ", ") + p;
  }
  return out;
}

// Removes what `index_paths` (sorted) does not name below `dir` (`rel`: its path from the top).
bool clean_folder(const std::string& dir, const std::string& rel, const std::vector<std::string>& index_paths) {
  DIR* d = opendir(dir.c_str());
  if (!d) {
    return false;
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || (rel.empty() && name == ".git")) {
      continue;
    }
    struct stat st {};
    bool folder = lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    entries.emplace_back(name, folder);
  }
  closedir(d);
  bool ok = true;
  for (const auto& [name, folder] : entries) {
    std::string path = rel + name, full = dir + "/" + name;
    if (std::binary_search(index_paths.begin(), index_paths.end(), path)) {
      continue;  // tracked: a file, or a submodule's folder, never entered
    }
    auto below = std::lower_bound(index_paths.begin(), index_paths.end(), path + "/");
    bool holds_tracked = below != index_paths.end() && below->compare(0, path.size() + 1, path + "/") == 0;
    if (folder && holds_tracked) {
      ok = clean_folder(full, path + "/", index_paths) && ok;
    } else {
      ok = remove_all(full) && ok;
    }
  }
  return ok;
}

int remove_one(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);
  return 0;  // keep going: what cannot go is reported by the caller's check
}

}  // namespace

std::string admin_dir(const std::string& path) {
  std::string text = read_text(path + "/.git");
  if (text.rfind("gitdir:", 0) != 0) {
    return "";
  }
  std::size_t start = text.find_first_not_of(' ', 7), end = text.find_first_of("\r\n", start);
  std::string dir = start == std::string::npos ? "" : text.substr(start, end == std::string::npos ? end : end - start);
  return dir.empty() || dir[0] == '/' ? dir : path + "/" + dir;
}

bool remove_all(const std::string& path) {
  nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS);
  return !exists(path);
}

std::optional<std::string> worktree_add(const Repo& main, const WorktreeSpec& spec, std::string& why) {
  const Api& g = main.api();
  WorktreesLock turn(main.commondir());
  std::string ref_name = "refs/heads/" + spec.branch;
  git_reference* raw_ref = nullptr;
  if (spec.existing) {
    if (g.git_reference_lookup(&raw_ref, main.raw(), ref_name.c_str()) < 0) {
      why = "invalid reference: " + spec.branch;
      return std::nullopt;
    }
  } else {
    auto start = peel(main, spec.start, GIT_OBJECT_COMMIT, why);
    git_oid id;
    git_commit* c = nullptr;
    if (!start || g.git_oid_fromstr(&id, start->c_str()) < 0 || g.git_commit_lookup(&c, main.raw(), &id) < 0) {
      why = start ? last_error(g, "not a commit") : why;
      return std::nullopt;
    }
    int rc = g.git_branch_create(&raw_ref, main.raw(), spec.branch.c_str(), c, 0);
    g.git_commit_free(c);
    if (rc < 0) {
      why = rc == GIT_EEXISTS ? "a branch named '" + spec.branch + "' already exists"
                              : last_error(g, "the branch could not be made");
      return std::nullopt;
    }
  }
  ReferencePtr ref(raw_ref);
  git_worktree_add_options opts = GIT_WORKTREE_ADD_OPTIONS_INIT;
  opts.ref = raw_ref;
  // --no-checkout: a dry run that writes no file and no index (the caller checks a tree out).
  opts.checkout_options.checkout_strategy = GIT_CHECKOUT_NONE | GIT_CHECKOUT_DONT_WRITE_INDEX;
  std::string name = admin_name(main, spec.path);
  // git makes the folders leading to the worktree; libgit2 makes only the last.
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(spec.path).parent_path(), ignored);
  git_worktree* wt = nullptr;
  if (g.git_worktree_add(&wt, main.raw(), name.c_str(), spec.path.c_str(), &opts) < 0) {
    why = last_error(g, "the worktree could not be added");
    if (!spec.existing) {
      g.git_reference_delete(raw_ref);
    }
    return std::nullopt;
  }
  g.git_worktree_free(wt);
  return main.commondir() + "/worktrees/" + name;
}

bool checkout(const std::string& path, const std::string& tree, Checkout how, bool clean_after, std::string& why) {
  auto r = Repo::open(path, why);
  if (!r) {
    return false;
  }
  const Api& g = r->api();
  git_object* raw_tree = nullptr;
  if (g.git_revparse_single(&raw_tree, r->raw(), (tree + "^{tree}").c_str()) < 0) {
    why = "not a tree: " + tree;
    return false;
  }
  ObjectPtr target(raw_tree);
  git_index* index = nullptr;
  if (g.git_repository_index(&index, r->raw()) < 0) {
    why = last_error(g, "the worktree's index could not be read");
    return false;
  }
  IndexPtr owned(index);
  if (how == Checkout::kForce) {
    // A new worktree (nothing there, an empty index) is written by our own checkout.
    auto fresh = checkout_fresh(*r, index, *g.git_object_id(raw_tree), why);
    if (fresh != FreshCheckout::kUnsuitable) {
      return fresh == FreshCheckout::kDone && (!clean_after || clean(path, why));
    }
  }
  std::vector<std::string> conflicts;
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  // The index says what the files are: a file whose id and stat match it is not written again.
  opts.baseline_index = index;
  opts.checkout_strategy = how == Checkout::kForce ? GIT_CHECKOUT_FORCE : GIT_CHECKOUT_SAFE;
  opts.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT;
  opts.notify_cb = on_conflict;
  opts.notify_payload = &conflicts;
  if (g.git_checkout_tree(r->raw(), raw_tree, &opts) < 0) {
    why = conflicts.empty() ? last_error(g, "the tree could not be checked out")
                            : "local changes would be overwritten: " + joined(conflicts);
    return false;
  }
  // The checkout wrote the index: the tree's entries, each with the stat data of its file.
  return !clean_after || clean(path, why);
}

bool clean(const std::string& path, std::string& why) {
  auto r = Repo::open(path, why);
  if (!r) {
    return false;
  }
  const Api& g = r->api();
  git_index* index = nullptr;
  if (g.git_repository_index(&index, r->raw()) < 0) {
    why = last_error(g, "the index could not be read");
    return false;
  }
  IndexPtr owned(index);
  std::vector<std::string> paths;
  for (std::size_t i = 0, n = g.git_index_entrycount(index); i < n; ++i) {
    paths.emplace_back(g.git_index_get_byindex(index, i)->path);
  }
  std::sort(paths.begin(), paths.end());
  if (!clean_folder(r->workdir(), "", paths)) {
    why = "some untracked files in " + path + " could not be removed";
    return false;
  }
  return true;
}

bool write_files(const std::string& dir, const std::string& index_path, const std::string& from,
                 const std::string& to, std::string& why) {
  auto r = Repo::open(dir, why);
  if (!r) {
    return false;
  }
  const Api& g = r->api();
  git_object* raw_to = nullptr;
  if (g.git_revparse_single(&raw_to, r->raw(), (to + "^{tree}").c_str()) < 0) {
    why = "not a tree: " + to;
    return false;
  }
  ObjectPtr target(raw_to);
  git_index* index = nullptr;
  // The private index (tree `from`, with the stat data of the files it was read from) stands in
  // for the repository's own, which is never read or written here.
  if (g.git_index_open(&index, index_path.c_str()) < 0 || g.git_repository_set_index(r->raw(), index) < 0) {
    why = last_error(g, "the snapshot's index could not be read");
    if (index) {
      g.git_index_free(index);
    }
    return false;
  }
  IndexPtr owned(index);
  std::vector<std::string> conflicts;
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  opts.baseline_index = index;
  // Every file checked before any is written; an ignored file in the way is not overwritten.
  opts.checkout_strategy = GIT_CHECKOUT_SAFE | GIT_CHECKOUT_DONT_OVERWRITE_IGNORED;
  opts.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT;
  opts.notify_cb = on_conflict;
  opts.notify_payload = &conflicts;
  if (g.git_checkout_tree(r->raw(), raw_to, &opts) < 0) {
    why = conflicts.empty() ? last_error(g, "the merge could not be written")
                            : "changed since the snapshot, not overwritten: " + joined(conflicts);
    return false;
  }
  (void)from;  // the index holds it
  return true;
}

namespace {

// Removes, under the worktrees lock, main's records whose gitdir names `path`'s .git.
void forget_records_naming(const Repo& main, const std::string& path) {
  std::string records = real_path(main.commondir() + "/worktrees"), want = real_path(path);
  WorktreesLock turn(main.commondir());
  DIR* d = records.empty() ? nullptr : opendir(records.c_str());
  while (dirent* e = d ? readdir(d) : nullptr) {
    std::string record = records + "/" + e->d_name, named = read_text(record + "/gitdir");
    named = named.substr(0, named.find('\n'));
    if (e->d_name[0] != '.' && !named.empty() && (named == path + "/.git" || (!want.empty() && named == want + "/.git"))) {
      remove_all(record);
    }
  }
  if (d) {
    closedir(d);
  }
}

}  // namespace

bool worktree_remove(const Repo& main, const std::string& path, std::string& why) {
  std::string admin = admin_dir(path);
  if (admin.empty()) {
    // No .git file: a folder half made or half removed. git's record of it, if any, goes.
    forget_records_naming(main, path);
    why = "not a linked worktree: " + path;
    return false;
  }
  if (record_path(main, admin).empty()) {
    // A .git file naming no record of main's (whoever had the worktree wrote it): main's own
    // record of the path goes all the same, the folder named is left alone.
    forget_records_naming(main, path);
    why = path + " is not a worktree of " + main.commondir();
    return false;
  }
  bool forgotten = worktree_forget(main, admin, why);
  if (!remove_all(path)) {
    why = "could not remove all of " + path;
    return false;
  }
  return forgotten;
}

bool worktree_forget(const Repo& main, const std::string& admin, std::string& why) {
  std::string real_admin = record_path(main, admin);
  if (real_admin.empty()) {
    why = admin + " is not a worktree record of " + main.commondir();
    return false;
  }
  // git's record leaves the list at once (a rename, under the lock); its files go after, while
  // other processes go on adding and removing worktrees. Records deleted in place, two at once,
  // get past the filter of libgit2's list of worktrees (1.5 skips the entry after one it drops),
  // and another process's add then refuses with "reference is already checked out".
  std::string aside = main.commondir() + "/sidecar-removed-" + base_name(real_admin) + "-" + std::to_string(getpid());
  {
    WorktreesLock turn(main.commondir());
    if (std::rename(real_admin.c_str(), aside.c_str()) != 0) {
      aside = real_admin;  // removed in place, as before
    }
  }
  if (!remove_all(aside)) {
    why = "could not remove all of " + aside;
    return false;
  }
  return true;
}

}  // namespace sidecar::host::git
