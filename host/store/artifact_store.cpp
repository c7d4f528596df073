#include "store/artifact_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "util/fsync_all.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace {

constexpr std::size_t kMaxComponent = 255, kMaxPath = 4096;

std::string quoted(std::string_view path) { return "'" + std::string(path) + "'"; }

using Fd = UniqueFd;  // a descriptor closed when it goes out of scope

// The error for a failed openat/mkdirat of `what` while resolving `path`.
FsError resolve_error(int err, std::string_view path, const std::string& what) {
  switch (err) {
    case ELOOP:
      return {quoted(path) + ": " + quoted(what) + " is a symbolic link; artifact folders never follow links",
              "ESYMLINK"};
    case ENOTDIR: return {quoted(path) + ": " + quoted(what) + " is not a folder", "ENOTDIR"};
    case EISDIR: return {quoted(path) + " is a folder, not a file", "EISDIR"};
    case ENOENT: return {quoted(path) + ": no such file or folder", "ENOENT"};
    case EEXIST: return {quoted(path) + ": already exists", "EEXIST"};
    case EACCES: return {quoted(path) + ": permission denied", "EACCES"};
    case ENAMETOOLONG: return {quoted(path) + ": name too long", "EINVAL"};
    default: return {quoted(path) + ": " + std::strerror(err), "EIO"};
  }
}

// Unique among processes (pid) and threads (counter) writing into one folder at once.
std::string temp_name(const std::string& name) {
  static std::atomic<unsigned> counter{0};
  return "." + name.substr(0, 200) + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

// Regular file, one link: anything else is refused before its bytes are touched.
bool check_regular(int fd, std::string_view path, FsError& error) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    error = resolve_error(errno, path, std::string(path));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    error = {quoted(path) + " is not a regular file", S_ISDIR(st.st_mode) ? "EISDIR" : "EINVAL"};
    return false;
  }
  if (st.st_nlink > 1) {
    error = {quoted(path) + " has " + std::to_string(st.st_nlink) +
                 " hard links; one may be outside the artifact folder, so Sidecar will not use it",
             "EHARDLINK"};
    return false;
  }
  return true;
}

// Whether `fd` is still the file `name` names in `dir` (a rewrite renames a new file over it).
bool still_named(int dir, const std::string& name, int fd) {
  struct stat held {}, named {};
  return fstat(fd, &held) == 0 && fstatat(dir, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

// Opens `name` in `dir` with `flags`, checks it is a regular file of one link (check_regular, with
// `path` for its error), and takes its exclusive flock, the lock of every append and rewrite of the
// file. A rewrite (keep_last_lines) renames a new file over the old one while it holds the old
// one's lock: whoever waited for that lock opens the name again, so nothing is written to a file
// that has no name any more. `wait` false: a lock held by another is EWOULDBLOCK at once. Returns
// the descriptor, or -1 with `error`.
int open_locked(int dir, const std::string& name, int flags, bool wait, std::string_view path, FsError& error) {
  for (int tries = 0; tries < 16; ++tries) {
    Fd file(openat(dir, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (file.fd < 0) {
      error = resolve_error(errno, path, name);
      return -1;
    }
    if (!check_regular(file.fd, path, error)) return -1;
    int locked;
    while ((locked = flock(file.fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (locked != 0) {
      error = {quoted(path) + ": " + std::strerror(errno), errno == EWOULDBLOCK ? "EBUSY" : "EIO"};
      return -1;
    }
    if (still_named(dir, name, file.fd)) return file.release();
  }
  error = {quoted(path) + ": replaced again and again while Sidecar waited for its lock; not written", "EAGAIN"};
  return -1;
}

}  // namespace

bool split_relative_path(std::string_view path, std::vector<std::string>& parts, FsError& error) {
  parts.clear();
  auto fail = [&](const std::string& why, const char* code) {
    error = {"refused path " + quoted(path) + ": " + why, code};
    return false;
  };
  if (path.empty()) return fail("it is empty", "EINVAL");
  if (path.find('\0') != std::string_view::npos) return fail("it contains a NUL byte", "EINVAL");
  if (path.size() > kMaxPath) return fail("it is longer than 4096 bytes", "EINVAL");
  if (path.front() == '/') return fail("absolute paths are not allowed; give a path inside the folder", "ESCAPE");
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty()) return fail("it has an empty component (\"//\" or a trailing \"/\")", "EINVAL");
    if (part == "..") return fail("\"..\" would leave the folder", "ESCAPE");
    if (part == ".") return fail("\".\" components are not allowed", "EINVAL");
    if (part.size() > kMaxComponent) return fail("a component is longer than 255 bytes", "EINVAL");
    parts.emplace_back(part);
    start = end + 1;
  }
  return true;
}

std::vector<std::string> split_slash(std::string_view s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) parts.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::optional<ArtifactDir> ArtifactDir::open(const std::string& root, bool create, FsError& error) {
  std::vector<int> new_parents;  // parents of the folders made here: fsynced by sync() or the close
  auto fail = [&new_parents] {
    for (int up : new_parents) close(up);
    return std::nullopt;
  };
  if (create) {
    std::string partial;
    for (const std::string& part : split_slash(root)) {
      partial += (partial.empty() && root[0] != '/') ? part : "/" + part;
      if (mkdir(partial.c_str(), 0755) == 0) {
        std::string parent = partial.find('/') == std::string::npos ? "." : partial.substr(0, partial.rfind('/'));
        int up = ::open(parent.empty() ? "/" : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (up < 0) {
          error = {"cannot make " + partial + " durable: cannot open its parent: " + std::strerror(errno), "EIO"};
          return fail();
        }
        new_parents.push_back(up);
      } else if (errno != EEXIST) {
        error = resolve_error(errno, root, partial);
        return fail();
      }
    }
  }
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = resolve_error(errno, root, root);
    return fail();
  }
  ArtifactDir dir(fd, root);
  // A new folder's name lives in its parent. Its fsync (a flush to the disk: milliseconds, the
  // largest single wait of a run's start) waits for the first Now write, sync() or the close,
  // side by side with theirs, so a run's folder costs no fsync of its own before its agent starts.
  for (int up : new_parents) dir.defer_sync(up);
  return dir;
}

ArtifactDir::ArtifactDir(ArtifactDir&& other) noexcept
    : fd_(other.fd_), root_(std::move(other.root_)), unsynced_folders_(std::move(other.unsynced_folders_)) {
  other.fd_ = -1;
  other.unsynced_folders_.clear();
}

ArtifactDir& ArtifactDir::operator=(ArtifactDir&& other) noexcept {
  if (this != &other) {
    FsError ignored;
    sync(ignored);
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    root_ = std::move(other.root_);
    unsynced_folders_ = std::move(other.unsynced_folders_);
    other.fd_ = -1;
    other.unsynced_folders_.clear();
  }
  return *this;
}

ArtifactDir::~ArtifactDir() {
  FsError ignored;  // nobody is left to tell; the writes themselves are whole either way
  sync(ignored);
  if (fd_ >= 0) close(fd_);
}

bool ArtifactDir::sync(FsError& error) {
  std::vector<int> fds;
  for (const auto& [key, fd] : unsynced_folders_) fds.push_back(fd);
  unsynced_folders_.clear();
  const int failed = fsync_all(fds);
  for (int fd : fds) close(fd);
  if (failed != 0) error = {"fsync of a folder failed: " + std::string(std::strerror(failed)), "EIO"};
  return failed == 0;
}

int ArtifactDir::open_parent(const std::vector<std::string>& parts, bool create, std::string_view path,
                             FsError& error, std::vector<int>* new_parents) {
  Fd dir(fcntl(fd_, F_DUPFD_CLOEXEC, 3));
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const char* name = parts[i].c_str();
    int next = openat(dir.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(dir.fd, name, 0755) == 0) {
        // The new folder's entry lives in its parent: durable with the parent's fsync.
        const int up = new_parents ? fcntl(dir.fd, F_DUPFD_CLOEXEC, 3) : -1;  // -1: no descriptor left
        if (up >= 0) {
          new_parents->push_back(up);
        } else if (fsync(dir.fd) != 0) {
          error = {"cannot make folder " + quoted(parts[i]) + " durable: fsync failed: " + std::strerror(errno), "EIO"};
          return -1;
        }
      } else if (errno != EEXIST) {
        error = resolve_error(errno, path, parts[i]);
        return -1;
      }
      next = openat(dir.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      // O_DIRECTORY reports a symbolic link as ENOTDIR: say which it is.
      int err = errno;
      struct stat st {};
      if (err == ENOTDIR && fstatat(dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) err = ELOOP;
      error = resolve_error(err, path, parts[i]);
      return -1;
    }
    dir.reset(next);
  }
  int fd = dir.fd;
  dir.fd = -1;
  return fd;
}

bool ArtifactDir::write(std::string_view path, std::string_view data, FsError& error, Durability durability) {
  return write_all({{std::string(path), std::string(data)}}, error, durability);
}

bool ArtifactDir::write_all(const std::vector<std::pair<std::string, std::string>>& files, FsError& error,
                            Durability durability) {
  struct Pending {
    int dir;
    std::string tmp, name;
    int fd = -1;
  };
  std::vector<Pending> pending;
  std::vector<int> new_parents;  // parents of folders created on the way: fsynced with the rest
  auto cleanup = [&pending, &new_parents] {
    for (Pending& p : pending) {
      if (p.fd >= 0) close(p.fd);
      if (!p.tmp.empty()) unlinkat(p.dir, p.tmp.c_str(), 0);
      close(p.dir);
    }
    for (int fd : new_parents) close(fd);
  };
  std::vector<std::string> parts;
  for (const auto& [path, data] : files) {
    if (!split_relative_path(path, parts, error)) return cleanup(), false;
    int dir = open_parent(parts, true, path, error, &new_parents);
    if (dir < 0) return cleanup(), false;
    pending.push_back({dir, temp_name(parts.back()), parts.back(), -1});
    int fd = openat(dir, pending.back().tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write_fully(fd, data) != 0) {
      error = resolve_error(errno, path, path);
      if (fd >= 0) close(fd);
      return cleanup(), false;
    }
    pending.back().fd = fd;
  }
  // Every temp file's bytes reach the disk before any rename, the fsyncs side by side.
  int sync_errno = 0;
  if (durability != Durability::Atomic) {
    std::vector<int> fds;
    for (const Pending& p : pending) fds.push_back(p.fd);
    sync_errno = fsync_all(fds);
  }
  for (Pending& p : pending) {
    close(p.fd);
    p.fd = -1;
  }
  if (sync_errno != 0) {
    error = {"fsync failed: " + std::string(std::strerror(sync_errno)), "EIO"};
    return cleanup(), false;
  }
  // All written and on disk: now each rename makes one file visible, whole.
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    if (renameat(p.dir, p.tmp.c_str(), p.dir, p.name.c_str()) != 0) {
      error = resolve_error(errno, files[i].first, files[i].first);
      if (errno == EISDIR) error = {quoted(files[i].first) + " is a folder", "EISDIR"};
      return cleanup(), false;
    }
    p.tmp.clear();
  }
  // The folders that hold the new names: Now fsyncs them (and any this folder left pending) side
  // by side before returning; Whole leaves them to sync(), once however many writes named them.
  std::vector<int> folders;
  for (Pending& p : pending) folders.push_back(std::exchange(p.dir, -1));
  pending.clear();
  folders.insert(folders.end(), new_parents.begin(), new_parents.end());
  new_parents.clear();
  if (durability == Durability::Atomic) {
    for (int fd : folders) close(fd);
    return true;
  }
  for (int fd : folders) defer_sync(fd);
  return durability == Durability::Whole || sync(error);
}

void ArtifactDir::defer_sync(int folder_fd) {
  struct stat st {};
  if (fstat(folder_fd, &st) != 0) {
    fsync(folder_fd);  // it cannot be keyed: synced now (fstat of an open folder does not fail)
    close(folder_fd);
  } else if (!unsynced_folders_.emplace(std::make_pair(st.st_dev, st.st_ino), folder_fd).second) {
    close(folder_fd);  // already pending
  }
}

bool ArtifactDir::append(std::string_view path, std::string_view data, bool sync, FsError& error) {
  return append_locked(path, data, nullptr, sync, error);
}

bool ArtifactDir::append_after(std::string_view path, const std::function<std::string(std::string_view tail)>& make,
                               bool sync, FsError& error) {
  return append_locked(path, {}, &make, sync, error);
}

bool ArtifactDir::append_locked(std::string_view path, std::string_view data,
                                const std::function<std::string(std::string_view tail)>* make, bool sync,
                                FsError& error) {
  std::vector<std::string> parts;
  if (!split_relative_path(path, parts, error)) return false;
  Fd dir(open_parent(parts, true, path, error));
  if (dir.fd < 0) return false;
  // Another process may append to the same file (a Claude Code hook writing into a run's
  // events.jsonl while the run does): the look at the last byte below and the write are one step
  // under an exclusive lock, so neither writer takes the other's line in flight for a crash's
  // leftover. Released when the file is closed.
  Fd file(open_locked(dir.fd, parts.back(), O_RDWR | O_APPEND | O_CREAT, true, path, error));
  if (file.fd < 0) return false;
  // A crash in the middle of an earlier append can leave a line without its newline: it was
  // never whole, so it is dropped rather than glued to the next one.
  off_t size = lseek(file.fd, 0, SEEK_END);
  char last = '\n';
  if (size > 0 && pread(file.fd, &last, 1, size - 1) == 1 && last != '\n') {
    off_t keep = size - 1;
    char c = 0;
    while (keep > 0 && pread(file.fd, &c, 1, keep - 1) == 1 && c != '\n') --keep;
    if (ftruncate(file.fd, keep) != 0) {
      error = resolve_error(errno, path, std::string(path));
      return false;
    }
  }
  std::string made;
  if (make) {  // the file's last bytes, whole lines only, for `make` to continue from (under the same lock)
    char tail[kAppendTail];
    const off_t end = lseek(file.fd, 0, SEEK_END);
    const off_t from = end > static_cast<off_t>(sizeof tail) ? end - static_cast<off_t>(sizeof tail) : 0;
    const ssize_t got = end > 0 ? pread(file.fd, tail, static_cast<std::size_t>(end - from), from) : 0;
    made = (*make)(std::string_view(tail, got > 0 ? static_cast<std::size_t>(got) : 0));
    data = made;
  }
  if (write_fully(file.fd, data) != 0 || (sync && fsync(file.fd) != 0)) {
    error = resolve_error(errno, path, std::string(path));
    return false;
  }
  return true;
}

bool ArtifactDir::keep_last_lines(std::string_view path, std::size_t max_lines, FsError& error) {
  std::vector<std::string> parts;
  if (!split_relative_path(path, parts, error)) return false;
  Fd dir(open_parent(parts, false, path, error));
  if (dir.fd < 0) return error.code == "ENOENT";
  // A lock held long (an appender stopped, or another user's lock on the file) is not waited for:
  // the trim is only a bound on the log's size, and the next one will do.
  Fd file(open_locked(dir.fd, parts.back(), O_RDONLY | O_NONBLOCK, false, path, error));
  if (file.fd < 0) return error.code == "ENOENT" || error.code == "EBUSY";
  // a file far larger than its lines (planted) is read from its last kKeepReadMax bytes on, and
  // the byte before them, which says whether they start a line
  const off_t size = lseek(file.fd, 0, SEEK_END);
  const off_t start = size > static_cast<off_t>(kKeepReadMax) ? size - static_cast<off_t>(kKeepReadMax) - 1 : 0;
  lseek(file.fd, start, SEEK_SET);
  std::string data;
  char buf[65536];
  for (ssize_t n; (n = ::read(file.fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = resolve_error(errno, path, std::string(path));
      return false;
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  if (start > 0) {  // up to the first whole line
    const std::size_t newline = data.find('\n');
    data.erase(0, newline == std::string::npos ? data.size() : newline + 1);
  }
  // from the end: past the last whole line's newline, back over max_lines of them
  std::size_t from = data.rfind('\n'), lines = 0;
  while (from != std::string::npos && from > 0 && lines < max_lines) {
    from = data.rfind('\n', from - 1);
    ++lines;
  }
  if (start == 0 && (from == std::string::npos || lines < max_lines)) return true;  // no more than max_lines
  // renamed over the file while its lock is held: the next appender opens the new one
  return write(path, std::string_view(data).substr(from == std::string::npos ? 0 : from + 1), error,
               Durability::Whole);
}

std::optional<std::string> ArtifactDir::read(std::string_view path, FsError& error, std::size_t max_bytes) {
  std::vector<std::string> parts;
  if (!split_relative_path(path, parts, error)) return std::nullopt;
  Fd dir(open_parent(parts, false, path, error));
  if (dir.fd < 0) return std::nullopt;
  // O_NONBLOCK: a FIFO planted here must not block the read forever.
  Fd file(openat(dir.fd, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.fd < 0) {
    error = resolve_error(errno, path, parts.back());
    return std::nullopt;
  }
  if (!check_regular(file.fd, path, error)) return std::nullopt;
  struct stat st {};
  fstat(file.fd, &st);
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    error = {quoted(path) + " is larger than " + std::to_string(max_bytes) + " bytes", "EFBIG"};
    return std::nullopt;
  }
  std::string data;
  data.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(file.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = resolve_error(errno, path, std::string(path));
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      error = {quoted(path) + " is larger than " + std::to_string(max_bytes) + " bytes", "EFBIG"};
      return std::nullopt;
    }
  }
  return data;
}

bool ArtifactDir::exists(std::string_view path) {
  std::vector<std::string> parts;
  FsError ignored;
  if (!split_relative_path(path, parts, ignored)) return false;
  Fd dir(open_parent(parts, false, path, ignored));
  struct stat st {};
  return dir.fd >= 0 && fstatat(dir.fd, parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool ArtifactDir::make_dirs(std::string_view path, FsError& error) {
  std::vector<std::string> parts;
  if (!split_relative_path(path, parts, error)) return false;
  parts.emplace_back("x");  // open_parent creates every component before the last
  std::vector<int> new_parents;  // fsynced with the next Now write, sync() or the close
  Fd dir(open_parent(parts, true, path, error, &new_parents));
  for (int fd : new_parents) defer_sync(fd);
  return dir.fd >= 0;
}

bool ArtifactDir::create_dir(std::string_view path, FsError& error) {
  std::vector<std::string> parts;
  if (!split_relative_path(path, parts, error)) return false;
  Fd dir(open_parent(parts, true, path, error));
  if (dir.fd < 0) return false;
  if (mkdirat(dir.fd, parts.back().c_str(), 0755) != 0) {
    error = resolve_error(errno, path, parts.back());
    return false;
  }
  defer_sync(dir.release());  // with the next durable write, sync() or the close
  return true;
}

int ArtifactDir::open_lock_file(std::string_view path, FsError& error) {
  std::vector<std::string> parts;
  if (!split_relative_path(path, parts, error)) return -1;
  Fd dir(open_parent(parts, false, path, error));
  if (dir.fd < 0) return -1;
  // O_NONBLOCK: opening a FIFO planted there does not wait (check_regular refuses it then).
  Fd file(openat(dir.fd, parts.back().c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                 0644));
  if (file.fd < 0) {
    error = resolve_error(errno, path, parts.back());
    return -1;
  }
  if (!check_regular(file.fd, path, error)) return -1;
  return file.release();
}

}  // namespace sidecar::host
