// Reading a work tree against the stat data of an index, as `git status` does, without libgit2:
// directories are read with openat/fstatat relative to their own descriptor (no lookup of the
// whole path per file) on a few threads. What stat data cannot settle is handed back for the
// caller to decide with git's own rules (hashing, .gitignore): host/git/git_snapshot.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sidecar::host {

// One stage-0 entry of the index, with the stat data it recorded. Entries are sorted by path
// (bytewise, as the index keeps them).
struct StatEntry {
  const std::string* path = nullptr;  // owned by the caller
  std::uint32_t mode = 0;             // 0100644, 0100755, 0120000 (link) or 0160000 (submodule)
  std::uint32_t size = 0;             // as the index keeps it: the low 32 bits
  std::uint32_t ino = 0;
  std::int64_t mtime_s = 0, ctime_s = 0;
  std::uint32_t mtime_ns = 0, ctime_ns = 0;
  bool skip_worktree = false;  // a sparse checkout's entry: never in the work tree
};

struct WalkOptions {
  std::string top;                   // the work tree's top folder (absolute)
  std::string within;                // only this folder (relative to the top); "" for all
  std::vector<std::string> exclude;  // folders and files (relative to the top) never looked at
  std::int64_t index_mtime_s = 0;    // the index file's mtime: an entry not older is racy
  std::uint32_t index_mtime_ns = 0;
  bool trust_ctime = true;           // core.trustctime
  bool file_mode = true;             // core.fileMode: the executable bit counts
  bool minimal_stat = false;         // core.checkStat = minimal: size and mtime seconds only
  int threads = 2;
  std::int64_t deadline_ns = 0;      // CLOCK_MONOTONIC; 0: none
};

struct WalkResult {
  std::vector<std::size_t> changed;  // entries whose stat data differ, or are racy: to be hashed
  std::vector<std::size_t> missing;  // entries with nothing (or a folder) at their path
  std::vector<std::string> untracked_files;  // files and links in no entry (ignored ones too)
  std::vector<std::string> untracked_dirs;   // folders holding no entry, not entered
  bool expired = false;                      // the deadline passed: the result is partial
  std::string error;                         // the top (or `within`) could not be read
};

WalkResult walk_work_tree(const std::vector<StatEntry>& index, const WalkOptions& options);

// Opens the folder `rel` below the folder open as `top` ("" for `top` itself) without following
// a symbolic link on the way (openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; openat with
// O_NOFOLLOW, for its last component, where the kernel has no openat2). A descriptor, or -1.
int open_folder_beneath(int top, const std::string& rel);

}  // namespace sidecar::host
