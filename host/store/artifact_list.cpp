// ArtifactDir::list and glob_match: which files below an artifact folder match a glob. Links are
// neither listed nor followed (host/store/artifact_store.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/artifact_store.hpp"

namespace sidecar::host {
namespace {

// Matches path components against pattern components; "**" spans any number of components.
bool match_parts(const std::vector<std::string>& pat, std::size_t pi, const std::vector<std::string>& path,
                 std::size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    // Spans any number of components, but (like "*") none that starts with a dot: hidden
    // files, and the temp files of writes in flight, are only matched by naming them.
    for (std::size_t k = si; k <= path.size(); ++k) {
      if (match_parts(pat, pi + 1, path, k)) return true;
      if (k < path.size() && path[k][0] == '.') return false;
    }
    return false;
  }
  return si < path.size() && fnmatch(pat[pi].c_str(), path[si].c_str(), FNM_PERIOD) == 0 &&
         match_parts(pat, pi + 1, path, si + 1);
}

// Walks `dir` (owned), adding regular files matching `pattern` to `out`.
void walk(int dir, const std::string& prefix, const std::vector<std::string>& pattern, std::vector<std::string>& out) {
  DIR* d = fdopendir(dir);
  if (!d) {
    close(dir);
    return;
  }
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string rel = prefix.empty() ? name : prefix + "/" + name;
    struct stat st {};
    if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) walk(sub, rel, pattern, out);
    } else if (S_ISREG(st.st_mode) && match_parts(pattern, 0, split_slash(rel), 0)) {
      out.push_back(rel);
    }
  }
  closedir(d);
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return match_parts(split_slash(pattern), 0, split_slash(path), 0);
}

std::optional<std::vector<std::string>> ArtifactDir::list(std::string_view pattern, FsError& error) {
  if (pattern.empty() || pattern.front() == '/' || pattern.find("..") != std::string_view::npos) {
    error = {"refused pattern '" + std::string(pattern) + "': give a glob relative to the folder", "EINVAL"};
    return std::nullopt;
  }
  std::vector<std::string> out;
  int dir = openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // its own position for readdir
  if (dir < 0) {
    const int err = errno;
    error = {"'" + root_ + "': cannot read the folder: " + std::strerror(err),
             err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : "EIO"};
    return std::nullopt;
  }
  walk(dir, "", split_slash(pattern), out);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sidecar::host
