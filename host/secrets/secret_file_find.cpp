#include "secrets/secret_file_find.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "git/work_tree_walk.hpp"
#include "secrets/secrets.hpp"

namespace sidecar::host {
namespace {

struct Found {
  std::vector<std::string> files, folders, sockets;
  std::size_t entries = 0, unread = 0;
};

class Search {
 public:
  Search(const std::string& top, const std::vector<std::string>& skip) : top_(top), skip_(skip) {}

  SecretFileSearch run(int threads) {
    SecretFileSearch out;
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
    std::sort(out.files.begin(), out.files.end());
    std::sort(out.folders.begin(), out.folders.end());
    std::sort(out.sockets.begin(), out.sockets.end());
    return out;
  }

 private:
  bool skipped(const char* name, const std::string& path) const {
    if (std::strcmp(name, ".git") == 0 || std::strcmp(name, ".hg") == 0 || std::strcmp(name, ".svn") == 0) {
      return true;
    }
    return std::find(skip_.begin(), skip_.end(), name) != skip_.end() ||
           std::find(skip_.begin(), skip_.end(), path) != skip_.end();
  }

  // Reads the folder `rel` (opened by its path below the top: the folders waiting hold no
  // descriptor, however many there are): its secret entries into `out`, the folders to enter
  // into `next`. Only a folder's path or a secret's is made into a string: most entries cost
  // a name match.
  void read(const std::string& rel, Found& out, std::vector<std::string>& next) const {
    int fd = open_folder_beneath(root_, rel);
    DIR* d = fd < 0 ? nullptr : fdopendir(fd);
    if (!d) {
      if (fd >= 0) ::close(fd);
      ++out.unread;
      return;
    }
    auto path_of = [&](const char* name) { return rel.empty() ? std::string(name) : rel + "/" + name; };
    while (dirent* e = readdir(d)) {
      const char* name = e->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      ++out.entries;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {  // a file system that does not say: asked, never followed
        struct stat st {};
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode)    ? DT_DIR
               : S_ISLNK(st.st_mode)  ? DT_LNK
               : S_ISREG(st.st_mode)  ? DT_REG
               : S_ISSOCK(st.st_mode) ? DT_SOCK
                                      : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        std::string path = path_of(name);
        if (judge_.folder(rel, name)) {  // a folder whose every file the rules name (".ssh"): hidden whole
          out.folders.push_back(top_ + "/" + path);
        } else if (!skipped(name, path)) {
          next.push_back(std::move(path));
        }
      } else if ((type == DT_REG || type == DT_LNK) && judge_.file(rel, name)) {
        out.files.push_back(top_ + "/" + path_of(name));
      } else if (type == DT_SOCK) {  // a server's socket (a dev server, an editor): not the agent's to reach
        out.sockets.push_back(top_ + "/" + path_of(name));
      }
    }
    closedir(d);
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
      read(f, out, next);
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
  }

  const std::string& top_;
  const std::vector<std::string>& skip_;
  const SecretFileJudge judge_;  // the rules as they are now, for the whole search
  std::mutex lock_;
  std::condition_variable more_;
  int root_ = -1;
  std::deque<std::string> queue_;  // folders to read, by path from the top
  std::size_t busy_ = 0;
  Found found_;
};

}  // namespace

SecretFileSearch find_secret_files(const std::string& top, const std::vector<std::string>& skip, int threads) {
  return Search(top, skip).run(threads);
}

}  // namespace sidecar::host
