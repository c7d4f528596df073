#include "secret_file_find.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "secrets.hpp"

namespace sidecar::host {
namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool skipped(const std::string& name, const std::string& rel, const std::vector<std::string>& skip) {
  if (name == ".git" || name == ".hg" || name == ".svn") return true;
  return std::find(skip.begin(), skip.end(), name) != skip.end() ||
         std::find(skip.begin(), skip.end(), rel) != skip.end();
}

}  // namespace

SecretFileSearch find_secret_files(const std::string& top, const std::vector<std::string>& skip,
                                   std::size_t max_entries, int64_t deadline_ns) {
  SecretFileSearch out;
  std::vector<std::pair<int, std::string>> stack;  // an open folder and its path relative to top
  int root = ::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return out;
  stack.emplace_back(root, "");
  std::string why;
  while (!stack.empty()) {
    auto [fd, rel] = std::move(stack.back());
    stack.pop_back();
    DIR* d = fdopendir(fd);
    if (!d) {
      ::close(fd);
      continue;
    }
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (++out.entries > max_entries || (deadline_ns > 0 && (out.entries & 255) == 0 && monotonic_ns() > deadline_ns)) {
        out.capped = true;
        break;
      }
      const std::string path = rel.empty() ? name : rel + "/" + name;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
      }
      if (type == DT_DIR) {
        // A folder whose every file the rules name (".ssh"): hidden whole.
        if (is_secret_file(path + "/\x01", why)) {
          out.folders.push_back(top + "/" + path);
          continue;
        }
        if (skipped(name, path, skip)) continue;
        int child = openat(dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child >= 0) stack.emplace_back(child, path);
      } else if ((type == DT_REG || type == DT_LNK) && is_secret_file(path, why)) {
        out.files.push_back(top + "/" + path);
      }
    }
    closedir(d);
    if (out.capped) break;
  }
  for (auto& [fd, rel] : stack) ::close(fd);
  std::sort(out.files.begin(), out.files.end());
  std::sort(out.folders.begin(), out.folders.end());
  return out;
}

}  // namespace sidecar::host
