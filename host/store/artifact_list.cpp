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

// The kind of entry `e` of `d`, from readdir where the file system says it (no stat), else from
// lstat: 'd' a folder, 'f' a regular file, 0 anything else (a link is neither listed nor followed).
char kind_of(DIR* d, const dirent* e) {
  if (e->d_type == DT_DIR) return 'd';
  if (e->d_type == DT_REG) return 'f';
  if (e->d_type != DT_UNKNOWN) return 0;
  struct stat st {};
  if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  return S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 0;
}

// Walks `dir` (owned), at `depth` components below the folder, adding regular files matching
// `pattern` to `out`. `bounded`: the pattern has no "**", so an entry whose name its component at
// this depth does not match is passed over unlooked-at (a folder of many lock files, or of many
// runs, costs a name comparison each, not a stat or a walk).
void walk(int dir, const std::string& prefix, std::size_t depth, const std::vector<std::string>& pattern,
          bool bounded, std::vector<std::string>& out) {
  DIR* d = fdopendir(dir);
  if (!d) {
    close(dir);
    return;
  }
  while (dirent* e = readdir(d)) {
    const char* name = e->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    if (bounded && (depth >= pattern.size() || fnmatch(pattern[depth].c_str(), name, FNM_PERIOD) != 0)) continue;
    const char kind = kind_of(d, e);
    if (kind == 0 || (bounded && (kind == 'd') == (depth + 1 == pattern.size()))) continue;
    std::string rel = prefix.empty() ? name : prefix + "/" + name;
    if (kind == 'd') {
      int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) walk(sub, rel, depth + 1, pattern, bounded, out);
    } else if (bounded || match_parts(pattern, 0, split_slash(rel), 0)) {
      out.push_back(std::move(rel));
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
  const std::vector<std::string> parts = split_slash(pattern);
  const bool bounded = std::find(parts.begin(), parts.end(), "**") == parts.end();
  walk(dir, "", 0, parts, bounded, out);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace sidecar::host
