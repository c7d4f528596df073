#include "secrets/secret_file_find.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "git/work_tree_walk.hpp"
#include "secrets/secrets.hpp"

namespace sidecar::host {
namespace {

// What a search read of one folder: its status then, and what it found in it. The next search
// (find_secret_files_again) takes it as it is while the folder's status is the same.
struct FolderRead {
  std::string rel;  // the folder's path below the top ("": the top)
  dev_t dev = 0;
  ino_t ino = 0;
  timespec mtime{}, ctime{};
  std::int64_t searched_ns = 0;  // when the search that read it started (the file system's clock)
  std::vector<std::string> files, folders, sockets;  // absolute paths, as SecretFileSearch has them
  std::vector<std::string> enter;                    // the folders to enter, by path below the top
  std::size_t entries = 0;
};

std::int64_t ns_of(const timespec& t) { return std::int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

bool same_status(const FolderRead& r, const struct stat& st) {
  return S_ISDIR(st.st_mode) && r.dev == st.st_dev && r.ino == st.st_ino && ns_of(r.mtime) == ns_of(st.st_mtim) &&
         ns_of(r.ctime) == ns_of(st.st_ctim);
}

// A tree's last search: the folders it read, by path below the top.
struct Memo {
  std::string top;
  std::vector<std::string> skip;
  std::uint64_t rules = 0;  // secret_rules_generation() then
  std::unordered_map<std::string, std::shared_ptr<const FolderRead>> folders;
};

struct Found {
  std::vector<std::string> files, folders, sockets;
  std::size_t entries = 0, unread = 0, reused = 0;
  std::vector<std::shared_ptr<const FolderRead>> reads;
};

class Search {
 public:
  // `last`: the tree's last search, whose folders are taken where unchanged (nullptr: none);
  // `racy_ns`: how close to a search's start a change makes a folder's status untrustworthy.
  Search(const std::string& top, const std::vector<std::string>& skip, const Memo* last = nullptr,
         std::int64_t racy_ns = 0)
      : top_(top), skip_(skip), last_(last), racy_ns_(racy_ns) {}

  SecretFileSearch run(int threads) {
    SecretFileSearch out;
    timespec now{};
    clock_gettime(CLOCK_REALTIME_COARSE, &now);  // what the kernel stamps files with
    started_ns_ = ns_of(now);
    root_ = ::open(top_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_ < 0) {
      out.unread = 1;
      return out;
    }
    queue_.emplace_back();
    std::vector<std::thread> helpers;
    for (int i = 1; i < std::max(1, threads); ++i) helpers.emplace_back([this] { work(); });
    work();
    for (auto& t : helpers) t.join();
    ::close(root_);
    out.files = std::move(found_.files);
    out.folders = std::move(found_.folders);
    out.sockets = std::move(found_.sockets);
    out.entries = found_.entries;
    out.unread = found_.unread;
    out.reused = found_.reused;
    std::sort(out.files.begin(), out.files.end());
    std::sort(out.folders.begin(), out.folders.end());
    std::sort(out.sockets.begin(), out.sockets.end());
    return out;
  }

  // What this search read or took of each folder (after run), for the next one.
  std::vector<std::shared_ptr<const FolderRead>>& reads() { return found_.reads; }

 private:
  bool skipped(const char* name, const std::string& path) const {
    if (std::strcmp(name, ".git") == 0 || std::strcmp(name, ".hg") == 0 || std::strcmp(name, ".svn") == 0) {
      return true;
    }
    return std::find(skip_.begin(), skip_.end(), name) != skip_.end() ||
           std::find(skip_.begin(), skip_.end(), path) != skip_.end();
  }

  // Adds what `r` found to `out`, and its folders to enter to `next`.
  static void take(const FolderRead& r, Found& out, std::vector<std::string>& next) {
    out.files.insert(out.files.end(), r.files.begin(), r.files.end());
    out.folders.insert(out.folders.end(), r.folders.begin(), r.folders.end());
    out.sockets.insert(out.sockets.end(), r.sockets.begin(), r.sockets.end());
    next.insert(next.end(), r.enter.begin(), r.enter.end());
    out.entries += r.entries;
  }

  // Takes the last search's read of the folder `rel` when its status is as it was then, and
  // that read was not racy (the folder changed well before the search started). False: it must
  // be read.
  bool reuse(const std::string& rel, Found& out, std::vector<std::string>& next) const {
    if (!last_) return false;
    const auto it = last_->folders.find(rel);
    if (it == last_->folders.end()) return false;
    const FolderRead& r = *it->second;
    struct stat st {};
    if (fstatat(root_, rel.empty() ? "." : rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !same_status(r, st) ||
        ns_of(r.ctime) >= r.searched_ns - racy_ns_ || ns_of(r.mtime) >= r.searched_ns - racy_ns_) {
      return false;
    }
    take(r, out, next);
    ++out.reused;
    out.reads.push_back(it->second);
    return true;
  }

  // Reads the folder `rel` (opened by its path below the top: the folders waiting hold no
  // descriptor, however many there are): its secret entries into `out`, the folders to enter
  // into `next`. Only a folder's path or a secret's is made into a string: most entries cost
  // a name match. Its status is taken before its entries, so a change while it is read shows
  // as one to the next search.
  void read(const std::string& rel, Found& out, std::vector<std::string>& next) const {
    int fd = open_folder_beneath(root_, rel);
    struct stat st {};
    DIR* d = fd < 0 || fstat(fd, &st) != 0 ? nullptr : fdopendir(fd);
    if (!d) {
      if (fd >= 0) ::close(fd);
      ++out.unread;
      return;
    }
    auto made = std::make_shared<FolderRead>();
    FolderRead& r = *made;
    r.rel = rel;
    r.dev = st.st_dev;
    r.ino = st.st_ino;
    r.mtime = st.st_mtim;
    r.ctime = st.st_ctim;
    r.searched_ns = started_ns_;
    auto path_of = [&](const char* name) { return rel.empty() ? std::string(name) : rel + "/" + name; };
    while (dirent* e = readdir(d)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      ++r.entries;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {  // a file system that does not say: asked, never followed
        struct stat est {};
        if (fstatat(dirfd(d), name, &est, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(est.st_mode)    ? DT_DIR
               : S_ISLNK(est.st_mode)  ? DT_LNK
               : S_ISREG(est.st_mode)  ? DT_REG
               : S_ISSOCK(est.st_mode) ? DT_SOCK
                                       : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        std::string path = path_of(name);
        if (judge_.folder(rel, name)) {  // a folder whose every file the rules name (".ssh"): hidden whole
          r.folders.push_back(top_ + "/" + path);
        } else if (!skipped(name, path)) {
          r.enter.push_back(std::move(path));
        }
      } else if ((type == DT_REG || type == DT_LNK) && judge_.file(rel, name)) {
        r.files.push_back(top_ + "/" + path_of(name));
      } else if (type == DT_SOCK) {  // a server's socket (a dev server, an editor): not the agent's to reach
        r.sockets.push_back(top_ + "/" + path_of(name));
      }
    }
    closedir(d);
    take(r, out, next);
    out.reads.push_back(std::move(made));
  }

  void work() {
    Found out;
    std::vector<std::string> next;
    while (true) {
      std::string f;
      {
        std::unique_lock<std::mutex> hold(lock_);
        more_.wait(hold, [this] { return !queue_.empty() || busy_ == 0; });
        if (queue_.empty()) break;
        f = std::move(queue_.back());  // depth first: few folders open at once
        queue_.pop_back();
        ++busy_;
      }
      if (!reuse(f, out, next)) read(f, out, next);
      std::lock_guard<std::mutex> hold(lock_);
      for (auto& n : next) queue_.push_back(std::move(n));
      next.clear();
      if (--busy_ == 0 || !queue_.empty()) more_.notify_all();
    }
    std::lock_guard<std::mutex> hold(lock_);
    more_.notify_all();
    found_.files.insert(found_.files.end(), out.files.begin(), out.files.end());
    found_.folders.insert(found_.folders.end(), out.folders.begin(), out.folders.end());
    found_.sockets.insert(found_.sockets.end(), out.sockets.begin(), out.sockets.end());
    found_.entries += out.entries;
    found_.unread += out.unread;
    found_.reused += out.reused;
    std::move(out.reads.begin(), out.reads.end(), std::back_inserter(found_.reads));
  }

  const std::string& top_;
  const std::vector<std::string>& skip_;
  const Memo* last_;
  const std::int64_t racy_ns_;
  const SecretFileJudge judge_;  // the rules as they are now, for the whole search
  std::int64_t started_ns_ = 0;
  std::mutex lock_;
  std::condition_variable more_;
  int root_ = -1;
  std::deque<std::string> queue_;  // folders to read, by path from the top
  std::size_t busy_ = 0;
  Found found_;
};

// Below this many folders (the last search's), a search takes no helper thread.
constexpr std::size_t kFoldersPerHelper = 64;

// The trees searched last in this process, the latest first: a few (a run's repository and its
// worktree, a preset's).
constexpr std::size_t kMemos = 4;
std::mutex memo_lock;
std::list<std::shared_ptr<const Memo>>& memos() {
  static std::list<std::shared_ptr<const Memo>> list;
  return list;
}

}  // namespace

SecretFileSearch find_secret_files(const std::string& top, const std::vector<std::string>& skip, int threads) {
  return Search(top, skip).run(threads);
}

SecretFileSearch find_secret_files_again(const std::string& top, const std::vector<std::string>& skip, int threads,
                                         std::int64_t racy_ms, std::size_t keep_folders) {
  const std::uint64_t rules = secret_rules_generation();
  auto same_tree = [&](const std::shared_ptr<const Memo>& m) {
    return m->top == top && m->skip == skip && m->rules == rules;
  };
  std::shared_ptr<const Memo> last;
  {
    std::lock_guard<std::mutex> hold(memo_lock);
    const auto it = std::find_if(memos().begin(), memos().end(), same_tree);
    if (it != memos().end()) last = *it;
  }
  Search search(top, skip, last.get(), racy_ms * 1000000);
  // A tree the last search found small is searched on this thread alone: a helper costs more to
  // start than its share of a few folders (each forked worker of a preset searches its tree again).
  const std::size_t known = last ? last->folders.size() : std::numeric_limits<std::size_t>::max();
  SecretFileSearch out = search.run(known < kFoldersPerHelper ? 1 : threads);
  if (last && out.reused == search.reads().size()) return out;  // every folder as the last search read it
  auto memo = std::make_shared<Memo>();
  memo->top = top;
  memo->skip = skip;
  memo->rules = rules;
  for (auto& r : search.reads()) memo->folders.emplace(r->rel, std::move(r));
  std::lock_guard<std::mutex> hold(memo_lock);
  memos().remove_if(same_tree);
  const std::size_t size = memo->folders.size();
  if (secret_rules_generation() == rules && size > 0 && size <= keep_folders) {  // the rules the judge had
    memos().push_front(std::move(memo));
    auto kept = [] {
      std::size_t n = 0;
      for (const auto& m : memos()) n += m->folders.size();
      return n;
    };
    while (memos().size() > kMemos || kept() > keep_folders) memos().pop_back();  // the newest stays
  }
  return out;
}

}  // namespace sidecar::host
