#include "git/work_tree_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

namespace sidecar::host {
namespace {

constexpr std::size_t kEntriesPerThread = 2000;  // below this, a thread costs more than it saves

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// A folder of the work tree to read, and the range of index entries under it.
struct Folder {
  std::string rel;  // "" for the top
  std::size_t lo = 0, hi = 0;
};

struct Found {
  std::vector<std::size_t> changed;
  std::vector<std::string> untracked_files, untracked_dirs;
};

bool under(const std::string& folder, const std::string& path) {
  return path.compare(0, folder.size(), folder) == 0 && (path.size() == folder.size() || path[folder.size()] == '/');
}

class Walk {
 public:
  Walk(const std::vector<StatEntry>& index, const WalkOptions& o) : index_(index), o_(o), visited_(index.size(), 0) {}

  WalkResult run() {
    WalkResult result;
    top_ = open(o_.top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top_ < 0) {
      result.error = "cannot read the work tree " + o_.top + ": " + std::strerror(errno);
      return result;
    }
    Folder root{o_.within, 0, index_.size()};
    if (!o_.within.empty()) {
      root.lo = find(o_.within + "/", 0, index_.size());
      root.hi = find(o_.within + "0", root.lo, index_.size());  // '0' follows '/'
    }
    queue_.push_back(root);
    std::size_t threads = std::clamp<std::size_t>(index_.size() / kEntriesPerThread, 1, std::max(1, o_.threads));
    std::vector<std::thread> helpers;
    for (std::size_t i = 1; i < threads; ++i) helpers.emplace_back([this] { work(); });
    work();
    for (auto& t : helpers) t.join();
    close(top_);
    result.expired = expired_;
    result.changed = std::move(found_.changed);
    std::sort(result.changed.begin(), result.changed.end());
    result.untracked_files = std::move(found_.untracked_files);
    result.untracked_dirs = std::move(found_.untracked_dirs);
    for (std::size_t k = root.lo; k < root.hi; ++k) {
      if (!visited_[k] && !index_[k].skip_worktree && !excluded(*index_[k].path)) result.missing.push_back(k);
    }
    return result;
  }

 private:
  // The first entry in [lo, hi) not before `path`.
  std::size_t find(const std::string& path, std::size_t lo, std::size_t hi) const {
    auto it = std::lower_bound(index_.begin() + lo, index_.begin() + hi, path,
                               [](const StatEntry& e, const std::string& p) { return *e.path < p; });
    return static_cast<std::size_t>(it - index_.begin());
  }

  bool excluded(const std::string& path) const {
    for (const auto& e : o_.exclude) {
      if (under(e, path)) return true;
    }
    return false;
  }

  bool racy(const StatEntry& e) const {
    return e.mtime_s > o_.index_mtime_s || (e.mtime_s == o_.index_mtime_s && e.mtime_ns >= o_.index_mtime_ns);
  }

  // Whether the stat data differ from the entry's (nanoseconds only where the index kept them).
  bool stat_differs(const StatEntry& e, const struct stat& st) const {
    if (static_cast<std::uint32_t>(st.st_size) != e.size || st.st_mtim.tv_sec != e.mtime_s) return true;
    if (o_.minimal_stat) return false;
    if (e.mtime_ns && static_cast<std::uint32_t>(st.st_mtim.tv_nsec) != e.mtime_ns) return true;
    if (o_.trust_ctime && (st.st_ctim.tv_sec != e.ctime_s ||
                           (e.ctime_ns && static_cast<std::uint32_t>(st.st_ctim.tv_nsec) != e.ctime_ns))) {
      return true;
    }
    return e.ino && static_cast<std::uint32_t>(st.st_ino) != e.ino;
  }

  // One entry found at its path: settled by stat data, or handed on to be hashed.
  void tracked(std::size_t k, const struct stat& st, const std::string& full, Found& out) {
    const StatEntry& e = index_[k];
    const std::uint32_t type = e.mode & 0170000;
    if (type != 0160000 && S_ISDIR(st.st_mode)) {  // a folder where a file was: the file is gone
      out.untracked_dirs.push_back(full);
      return;
    }
    visited_[k] = 1;
    if (type == 0160000) {  // a submodule: its HEAD decides, never its files
      out.changed.push_back(k);
      return;
    }
    const bool same_type = type == 0120000 ? S_ISLNK(st.st_mode) : S_ISREG(st.st_mode);
    const bool executable = (st.st_mode & S_IXUSR) != 0;
    const bool exec_differs = o_.file_mode && type == 0100000 && executable != ((e.mode & 0100) != 0);
    if (!same_type || exec_differs || stat_differs(e, st) || racy(e)) out.changed.push_back(k);
  }

  void read_folder(const Folder& f, Found& out) {
    int fd = open_folder_beneath(top_, f.rel);
    if (fd < 0) return;  // gone, or no longer a folder: its entries stay unvisited (missing)
    DIR* dir = fdopendir(fd);
    if (!dir) {
      close(fd);
      return;
    }
    std::vector<std::string> names;
    while (dirent* d = readdir(dir)) {
      const char* n = d->d_name;
      if (std::strcmp(n, ".") != 0 && std::strcmp(n, "..") != 0 && std::strcmp(n, ".git") != 0) names.emplace_back(n);
    }
    std::vector<Folder> subfolders;
    for (const std::string& name : names) {
      std::string full = f.rel.empty() ? name : f.rel + "/" + name;
      struct stat st {};
      if (excluded(full) || fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::size_t k = find(full, f.lo, f.hi);
      if (k < f.hi && *index_[k].path == full) {
        tracked(k, st, full, out);
        continue;
      }
      std::size_t in = find(full + "/", k, f.hi);
      if (in < f.hi && under(full, *index_[in].path)) {
        if (S_ISDIR(st.st_mode)) {
          subfolders.push_back(Folder{full, in, find(full + "0", in, f.hi)});
        } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
          out.untracked_files.push_back(full);  // a file where a folder of entries was
        }
      } else if (S_ISDIR(st.st_mode)) {
        out.untracked_dirs.push_back(full);
      } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
        out.untracked_files.push_back(full);  // FIFOs, sockets and devices: git has no such thing
      }
    }
    closedir(dir);
    std::lock_guard<std::mutex> hold(lock_);
    for (auto& s : subfolders) queue_.push_back(std::move(s));
    if (!subfolders.empty()) more_.notify_all();
  }

  void work() {
    Found out;
    while (true) {
      Folder f;
      {
        std::unique_lock<std::mutex> hold(lock_);
        more_.wait(hold, [this] { return !queue_.empty() || busy_ == 0 || expired_; });
        if (queue_.empty() || expired_) break;
        f = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
      }
      if (o_.deadline_ns && monotonic_ns() > o_.deadline_ns) {
        expired_ = true;
      } else {
        read_folder(f, out);
      }
      std::lock_guard<std::mutex> hold(lock_);
      if (--busy_ == 0 || expired_) more_.notify_all();
    }
    std::lock_guard<std::mutex> hold(lock_);
    more_.notify_all();
    auto append = [](auto& to, auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(found_.changed, out.changed);
    append(found_.untracked_files, out.untracked_files);
    append(found_.untracked_dirs, out.untracked_dirs);
  }

  const std::vector<StatEntry>& index_;
  const WalkOptions& o_;
  std::vector<unsigned char> visited_;  // each entry is visited by one thread only
  int top_ = -1;
  std::mutex lock_;
  std::condition_variable more_;
  std::deque<Folder> queue_;
  std::size_t busy_ = 0;
  std::atomic<bool> expired_{false};
  Found found_;
};

}  // namespace

WalkResult walk_work_tree(const std::vector<StatEntry>& index, const WalkOptions& options) {
  return Walk(index, options).run();
}

// A folder swapped for a link while a tree is read is not followed out of it.
int open_folder_beneath(int top, const std::string& rel) {
  const char* path = rel.empty() ? "." : rel.c_str();
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = syscall(SYS_openat2, top, path, &how, sizeof how);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {  // EPERM: a seccomp filter that knows no openat2
    fd = openat(top, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  return static_cast<int>(fd);
}

}  // namespace sidecar::host
