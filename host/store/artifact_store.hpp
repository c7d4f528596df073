// A folder that Sidecar writes artifacts into, confined to itself: every path is resolved one
// component at a time from the folder's own descriptor (openat with O_NOFOLLOW), so "..",
// absolute paths and symbolic links, even one swapped in between a check and a use, can never
// read or write outside it. Writes are atomic: a reader sees the old file or the new one, never
// part of either, and a crash leaves no partial file behind.
#pragma once
#include <cstddef>
#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::host {

struct FsError {
  std::string message;  // names the path and says what to do
  std::string code;     // "ESCAPE", "ESYMLINK", "EHARDLINK", "ENOENT", "EEXIST", "ENOTDIR", "EINVAL", ...
};

// Checks a path relative to an artifact folder and splits it into components. Refused: empty
// paths and components, ".", "..", a leading "/", NUL bytes, a component over 255 bytes or a
// path over 4096.
bool split_relative_path(std::string_view path, std::vector<std::string>& parts, FsError& error);

// The non-empty components of a "/"-separated path ("a//b/" gives "a", "b").
std::vector<std::string> split_slash(std::string_view s);

// Whether `path` (relative, "/"-separated) matches `pattern`: "*" and "?" and [...] within one
// component (a leading "." only matched explicitly), "**" as a whole component for any number of
// folders.
bool glob_match(std::string_view pattern, std::string_view path);

// How durable a write is when it returns. Every write is whole however the process dies, a
// kill -9 included: the temp file is renamed over the old one only once it is written, and the
// kernel holds the bytes of a dead process. What differs is a power loss or a kernel crash.
enum class Durability {
  // The data fsynced before the rename, the folder after it (with any folder whose fsync this
  // ArtifactDir holds back): on disk when the call returns.
  Now,
  // The data fsynced before the rename; the folder's fsync waits for sync() (or the close), so
  // that the writes of a run share one fsync per folder. A power loss before it may bring back
  // the file's previous version, whole, or no file where there was none; never a cut one.
  Whole,
  // No fsync at all: after a power loss the file may be gone or cut. For files that mean nothing
  // after a reboot (the pid of a process the power loss ended).
  Atomic,
};

class ArtifactDir {
 public:
  // Opens the folder `root` (creating it and its parents when `create`). The root itself is the
  // caller's choice and is trusted; everything below it is not. The names of folders it creates
  // are made durable with the first Now write, sync() or the close.
  static std::optional<ArtifactDir> open(const std::string& root, bool create, FsError& error);
  ArtifactDir(ArtifactDir&& other) noexcept;
  ArtifactDir& operator=(ArtifactDir&& other) noexcept;
  ArtifactDir(const ArtifactDir&) = delete;
  ArtifactDir& operator=(const ArtifactDir&) = delete;
  ~ArtifactDir();

  const std::string& root() const { return root_; }

  // Replaces (or creates) a file atomically: temp file in the same folder, fsync, rename, fsync of
  // the folder (as `durability` says). Missing folders on the way are created.
  bool write(std::string_view path, std::string_view data, FsError& error,
             Durability durability = Durability::Now);
  // Several files at once, each atomic, with one fsync per folder instead of one per file.
  bool write_all(const std::vector<std::pair<std::string, std::string>>& files, FsError& error,
                 Durability durability = Durability::Now);
  // Fsyncs, once each and side by side, the folders whose fsync this ArtifactDir holds back
  // (Durability::Whole writes' folders, the parents of folders it created). A failure is reported
  // once: a failed fsync is not retried (the kernel may have dropped the pages it could not
  // write). The destructor does it too, but cannot report a failure.
  bool sync(FsError& error);
  // Appends `data` (whole lines, for JSON Lines) in one write. A last line left incomplete by a
  // crash was never committed: it is cut off before appending. `sync` also fsyncs the file.
  // Appends from several processes are serialised (an exclusive flock on the file).
  bool append(std::string_view path, std::string_view data, bool sync, FsError& error);
  // As append, with the data made by `make` from the file's last bytes (up to kAppendTail, after a
  // cut line was dropped), under the same lock: what is appended may continue what another
  // process appended last (the next event's number).
  static constexpr std::size_t kAppendTail = 256;
  bool append_after(std::string_view path, const std::function<std::string(std::string_view tail)>& make, bool sync,
                    FsError& error);
  // Keeps the last `max_lines` lines of an appended file (a log), and a last line a crash cut off:
  // the rest is dropped by an atomic rewrite, under the appends' lock, so a line appended meanwhile
  // is never lost. A missing file is fine, and so is one whose lock another holds (left as it is:
  // the next trim does it). Only its last kKeepReadMax bytes are read.
  static constexpr std::size_t kKeepReadMax = 16u << 20;
  bool keep_last_lines(std::string_view path, std::size_t max_lines, FsError& error);
  // Reads a regular file; refuses symbolic links, hard links (a link to a file outside the
  // folder would read it), and anything larger than `max_bytes`.
  std::optional<std::string> read(std::string_view path, FsError& error, std::size_t max_bytes = 1u << 30);
  bool exists(std::string_view path);
  // Creates a folder and its parents (an existing one is fine). Their names are made durable
  // with the next Now write, sync() or the close.
  bool make_dirs(std::string_view path, FsError& error);
  // Creates one new folder; EEXIST when it is there already. Atomic, so two processes claiming
  // the same name cannot both succeed. Its name is made durable with the next Now write through
  // this folder, sync() or the close.
  bool create_dir(std::string_view path, FsError& error);
  // Opens `path` for reading and writing, creating it (0644) when missing, in folders that must
  // exist already: a lock file (host/store/file_lock.hpp). Never through a link, the file's own name
  // included, and never a file with another hard link. Returns the descriptor (O_CLOEXEC; the
  // caller closes it), or -1 with `error` (ENOENT: a folder is missing).
  int open_lock_file(std::string_view path, FsError& error);
  // Regular files below the folder whose relative path matches `pattern`, sorted. Symbolic links
  // are neither listed nor followed.
  std::optional<std::vector<std::string>> list(std::string_view pattern, FsError& error);

 private:
  ArtifactDir(int fd, std::string root) : fd_(fd), root_(std::move(root)) {}
  // Opens the folder holding the last component of `parts` (creating folders when `create`);
  // returns its descriptor or -1 with `error` set. A folder it creates is made durable by an
  // fsync of its parent: at once, or, when `new_parents` is given, by the caller, who gets a
  // descriptor of each such parent there (so one fsync can serve several writes).
  int open_parent(const std::vector<std::string>& parts, bool create, std::string_view path, FsError& error,
                  std::vector<int>* new_parents = nullptr);

  // Takes `folder_fd`: its fsync waits for the next Now write, sync() or the close.
  void defer_sync(int folder_fd);
  // append and append_after: `data`, or what `make` (when given) makes of the file's last bytes.
  bool append_locked(std::string_view path, std::string_view data,
                     const std::function<std::string(std::string_view tail)>* make, bool sync, FsError& error);

  int fd_ = -1;
  std::string root_;
  // Folders renamed or created into since the last sync(), each once (by device and inode): its
  // descriptor.
  std::map<std::pair<dev_t, ino_t>, int> unsynced_folders_;
};

}  // namespace sidecar::host
