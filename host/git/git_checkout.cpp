// A tree written into a new, empty worktree (see checkout_fresh in git_tree.hpp), faster than
// libgit2's checkout: that one looks at every path it writes several times over (realpath of
// each, attribute and filter lookups, stat before and after) and writes one file at a time.
// Here the tree is walked once, the folders made, the blobs read and the files written by a
// few threads (each with its own repository handle: libgit2 objects are not shared across
// threads), and the index is made from the stat data of the files written.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "git/git_tree.hpp"

namespace sidecar::host::git {
namespace {

constexpr std::uint32_t kTypeMask = 0170000, kTree = 0040000, kLink = 0120000, kGitlink = 0160000;

struct Item {
  std::string path;
  git_oid id{};
  std::uint32_t mode = 0;  // as the index keeps it: 0100644, 0100755, 0120000 or 0160000
  struct stat st {};
};

// ".git" in any case, also as Windows and macOS would read it (trailing dots and spaces, the
// short name "git~1"): git refuses to check out such a name on every system, and so do we.
bool names_git_folder(const char* name) {
  std::string lower;
  for (const char* c = name; *c; ++c) {
    lower += static_cast<char>(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
  }
  if (lower == "git~1") {
    return true;
  }
  while (!lower.empty() && (lower.back() == '.' || lower.back() == ' ')) {
    lower.pop_back();
  }
  return lower == ".git";
}

bool unsafe_name(const char* name) {
  return !*name || std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0 || std::strchr(name, '/') ||
         names_git_folder(name);
}

struct Walk {
  const Api* g = nullptr;
  std::vector<Item> files;          // blobs, links and gitlinks, in the tree's order
  std::vector<std::string> names;   // every path, folders too, to find one named twice
  bool attributes = false;          // a .gitattributes file somewhere in the tree
  std::string unsafe;
};

int visit(const char* root, const git_tree_entry* entry, void* payload) {
  auto* w = static_cast<Walk*>(payload);
  const char* name = w->g->git_tree_entry_name(entry);
  std::string path = std::string(root) + name;
  if (unsafe_name(name)) {
    w->unsafe = path;
    return -1;
  }
  w->names.push_back(path);
  std::uint32_t raw = w->g->git_tree_entry_filemode_raw(entry), type = raw & kTypeMask;
  if (type == kTree) {
    return 0;
  }
  Item item;
  item.path = std::move(path);
  item.id = *w->g->git_tree_entry_id(entry);
  // Modes git itself would not write (0100664 and the like) are read as git reads them.
  item.mode = type == kLink || type == kGitlink ? type : (raw & 0100) ? 0100755 : 0100644;
  w->attributes = w->attributes || std::strcmp(name, ".gitattributes") == 0;
  w->files.push_back(std::move(item));
  return 0;
}

bool exists(const std::string& path) {
  struct stat st {};
  return !path.empty() && lstat(path.c_str(), &st) == 0;
}

// True when git would change a file's bytes on the way out (eol, ident, encodings, filter
// drivers): attributes from any source, or core.autocrlf. Those trees take libgit2's checkout,
// which applies them. core.symlinks = false (links written as files) goes there too.
bool filters_may_apply(const Repo& r, const Walk& w, std::string& why) {
  if (w.attributes || exists(r.commondir() + "/info/attributes") || exists("/etc/gitattributes")) {
    return true;
  }
  auto values = r.config_values("^core\\.(autocrlf|attributesfile|symlinks)$", why);
  if (!values) {
    return true;
  }
  for (const auto& [name, value] : *values) {
    bool truth = value == "true" || value == "yes" || value == "on" || value == "1" || value.empty();
    if ((name == "core.autocrlf" && truth) || name == "core.attributesfile" ||
        (name == "core.symlinks" && !truth)) {
      return true;
    }
  }
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string user = xdg && *xdg ? std::string(xdg) + "/git/attributes"
                                 : home && *home ? std::string(home) + "/.config/git/attributes" : "";
  return exists(user);
}

// Nothing in the folder but its .git file.
bool holds_only_git(const std::string& top) {
  DIR* d = opendir(top.c_str());
  if (!d) {
    return false;
  }
  bool only = true;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    only = only && (name == "." || name == ".." || name == ".git");
  }
  closedir(d);
  return only;
}

// The folders the files need (an empty tree makes none, as in git), parents first.
std::vector<std::string> folders_for(const std::vector<Item>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::string path = f.path;
    if (f.mode == kGitlink) {
      out.push_back(path);  // git makes a submodule's folder, empty, and never enters it
    }
    for (auto slash = path.rfind('/'); slash != std::string::npos; slash = path.rfind('/')) {
      path.resize(slash);
      out.push_back(path);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct Failure {
  std::mutex lock;
  std::atomic<bool> set{false};
  std::string why;
  void note(const std::string& message) {
    std::lock_guard<std::mutex> hold(lock);
    if (!set.exchange(true)) {
      why = message;
    }
  }
};

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// One file, link or submodule folder, its stat data kept in `item`. O_EXCL and O_NOFOLLOW: a
// path that is already there (a name the tree holds twice) is an error, never followed.
std::string write_item(const Api& g, git_odb* odb, const std::string& top, Item& item) {
  std::string full = top + "/" + item.path;
  if (item.mode == kGitlink) {
    return lstat(full.c_str(), &item.st) == 0 ? "" : "cannot read " + full + ": " + std::strerror(errno);
  }
  git_odb_object* object = nullptr;
  if (g.git_odb_read(&object, odb, &item.id) < 0) {
    return last_error(g, "an object is missing") + " (for " + item.path + ")";
  }
  std::unique_ptr<git_odb_object, void (*)(git_odb_object*)> owned(object, g.git_odb_object_free);
  if (g.git_odb_object_type(object) != GIT_OBJECT_BLOB) {
    return "the tree names a non-file object for " + item.path;
  }
  const char* data = static_cast<const char*>(g.git_odb_object_data(object));
  std::size_t size = g.git_odb_object_size(object);
  if (item.mode == kLink) {
    std::string target(data, size);
    if (symlink(target.c_str(), full.c_str()) != 0 || lstat(full.c_str(), &item.st) != 0) {
      return "cannot make the link " + full + ": " + std::strerror(errno);
    }
    return "";
  }
  int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                item.mode == 0100755 ? 0777 : 0666);
  if (fd < 0) {
    return "cannot write " + full + ": " + std::strerror(errno);
  }
  bool ok = write_all(fd, data, size) && fstat(fd, &item.st) == 0;
  int err = errno;
  ok = ::close(fd) == 0 && ok;
  return ok ? "" : "cannot write " + full + ": " + std::strerror(ok ? errno : err);
}

// A writer thread: takes the next file until none is left or one has failed.
void write_some(const std::string& top, std::vector<Item>& files, std::atomic<std::size_t>& next,
                Failure& failure) {
  std::string why;
  auto r = Repo::open(top, why);
  git_odb* odb = nullptr;
  if (!r || r->api().git_repository_odb(&odb, r->raw()) < 0) {
    failure.note(r ? last_error(r->api(), "the object store could not be opened") : why);
    return;
  }
  const Api& g = r->api();
  for (std::size_t i = next++; i < files.size() && !failure.set; i = next++) {
    std::string error = write_item(g, odb, top, files[i]);
    if (!error.empty()) {
      failure.note(error);
    }
  }
  g.git_odb_free(odb);
}

git_index_time index_time(const struct timespec& t) {
  git_index_time out{};
  out.seconds = static_cast<std::int32_t>(t.tv_sec);
  out.nanoseconds = static_cast<std::uint32_t>(t.tv_nsec);
  return out;
}

// The index git would write after such a checkout: every entry with its file's stat data, so
// that `git status` trusts them without reading a file. The index is opened by its path, with no
// repository: libgit2 then does not read every blob's header again to check it exists.
bool write_index(const Api& g, const std::string& index_path, const std::vector<Item>& files, std::string& why) {
  git_index* index = nullptr;
  if (g.git_index_open(&index, index_path.c_str()) < 0) {
    why = last_error(g, "the index could not be opened");
    return false;
  }
  IndexPtr owned(index);
  for (const auto& f : files) {
    git_index_entry e{};
    e.ctime = index_time(f.st.st_ctim);
    e.mtime = index_time(f.st.st_mtim);
    e.dev = static_cast<std::uint32_t>(f.st.st_dev);
    e.ino = static_cast<std::uint32_t>(f.st.st_ino);
    e.uid = f.st.st_uid;
    e.gid = f.st.st_gid;
    e.file_size = f.mode == kGitlink ? 0 : static_cast<std::uint32_t>(f.st.st_size);
    e.mode = f.mode;
    e.id = f.id;
    e.path = f.path.c_str();
    if (g.git_index_add(index, &e) < 0) {
      why = last_error(g, "the index could not be made") + " (at " + f.path + ")";
      return false;
    }
  }
  if (g.git_index_write(index) < 0) {
    why = last_error(g, "the index could not be written");
    return false;
  }
  return true;
}

unsigned writer_count(std::size_t files) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // Writing is mostly waiting on the file system: a few more threads than cores help.
  unsigned wanted = std::min(8u, cores * 2);
  return files < 256 ? 1u : wanted;
}

}  // namespace

FreshCheckout checkout_fresh(const Repo& r, git_index* index, const git_oid& tree_id, std::string& why) {
  const Api& g = r.api();
  std::string top = r.workdir();
  if (top.empty() || g.git_index_entrycount(index) != 0 || !holds_only_git(top)) {
    return FreshCheckout::kUnsuitable;
  }
  git_tree* raw_tree = nullptr;
  if (g.git_tree_lookup(&raw_tree, r.raw(), &tree_id) < 0) {
    why = "not a tree: " + hex(g, tree_id);
    return FreshCheckout::kFailed;
  }
  TreePtr tree(raw_tree);
  Walk walk;
  walk.g = &g;
  if (g.git_tree_walk(raw_tree, GIT_TREEWALK_PRE, visit, &walk) < 0 || !walk.unsafe.empty()) {
    why = walk.unsafe.empty() ? last_error(g, "the tree could not be read")
                              : "the tree holds a path git refuses to write: " + walk.unsafe;
    return FreshCheckout::kFailed;
  }
  std::sort(walk.names.begin(), walk.names.end());
  auto twice = std::adjacent_find(walk.names.begin(), walk.names.end());
  if (twice != walk.names.end()) {
    why = "the tree names a path twice: " + *twice;
    return FreshCheckout::kFailed;
  }
  std::string ignored;
  if (filters_may_apply(r, walk, ignored)) {
    return FreshCheckout::kUnsuitable;
  }
  for (const auto& folder : folders_for(walk.files)) {
    if (mkdir((top + "/" + folder).c_str(), 0777) != 0) {
      why = "cannot make the folder " + top + "/" + folder + ": " + std::strerror(errno);
      return FreshCheckout::kFailed;
    }
  }
  Failure failure;
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> writers;
  for (unsigned i = 1; i < writer_count(walk.files.size()); ++i) {
    try {
      writers.emplace_back(write_some, std::cref(top), std::ref(walk.files), std::ref(next), std::ref(failure));
    } catch (const std::system_error&) {
      break;  // no more threads to be had: those there are (and this one) write every file
    }
  }
  write_some(top, walk.files, next, failure);
  for (auto& t : writers) {
    t.join();
  }
  if (failure.set) {
    why = failure.why;
    return FreshCheckout::kFailed;
  }
  // The tree's order is the index's order (a folder sorts as its name and a slash), so each
  // entry is added at the end.
  return write_index(g, r.gitdir() + "/index", walk.files, why) ? FreshCheckout::kDone : FreshCheckout::kFailed;
}

}  // namespace sidecar::host::git
