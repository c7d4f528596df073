// A git repository read in-process through libgit2: HEAD, branch, refs, status, the commits new
// refs bring, and snapshots of the work tree that write nothing into the repository.
// Failures are returned as std::nullopt/false with `why` set; nothing here throws for a
// repository that cannot be read.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "git/git_lib.hpp"

namespace sidecar::host::git {

struct Head {
  std::string id;      // empty when unborn (no commits yet)
  std::string ref;     // "refs/heads/main"; empty when detached
  bool detached = false;
};

struct Commit {
  std::string id, subject;
};

// What a path holds at one moment: its mode and blob (or gitlink) id, or, for a file too large
// to hash cheaply, its stat data (`by_stat`).
struct Content {
  bool present = false;
  std::uint32_t mode = 0;
  git_oid id{};
  bool by_stat = false;
  std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0, ino = 0;
};

struct IndexEntry {
  std::string path;
  std::uint32_t mode = 0;
  git_oid id{};
};

// The work tree at one moment, kept in memory: HEAD, the index's entries (sorted by path, as
// the index keeps them), and what differs from the index (modified, deleted and untracked
// files), each with its content.
struct Snapshot {
  std::string head;
  std::vector<IndexEntry> index;
  std::map<std::string, Content> dirty;
  std::string within;
  std::vector<std::string> exclude;
};

struct FileChange {
  std::string path;
  std::string change;  // added, modified, deleted, type_changed
  bool by_stat = false;
};

struct SnapshotOptions {
  std::string within;                       // only paths under this folder (relative to the top)
  std::vector<std::string> exclude;         // paths (relative to the top) never reported
  std::int64_t max_hash_bytes = 8 << 20;    // an untracked file larger than this is compared by stat
  std::int64_t deadline_ns = 0;             // CLOCK_MONOTONIC; 0: none
};

// A change between a revision and the index or the work tree, or between two revisions, as
// `git diff` shows it: `from` is a revision ("HEAD", a branch, an id) or "A...B" (from the merge
// base of A and B); `to` is "" (the work tree, read through the index as `git diff REV` does),
// ":index" (`git diff --cached REV`) or a revision. An unborn HEAD in `from` is the empty tree.
struct DiffRequest {
  std::string from = "HEAD", to;
  bool patch = false, stat = false;
  std::vector<std::string> exclude;  // paths (relative to the top) left out entirely
  std::size_t max_patch_bytes = std::size_t(64) << 20;
};

struct DiffResult {
  std::vector<FileChange> files;  // sorted by path; no renames (a rename is a delete and an add)
  std::string patch;              // `git diff` text (binary files named, not shown)
  bool patch_cut = false;         // the patch stopped at max_patch_bytes
  std::string stat;               // `git diff --stat` text, without its trailing newline
};

// One line of `git status --porcelain=v1 -z --untracked-files=all`: XY, the path, and for a
// staged rename the path it came from.
struct StatusEntry {
  std::string xy, path, from;
};

class Repo {
 public:
  // The repository holding `path` (its nearest .git, as git finds it), or nullptr with `why`.
  static std::unique_ptr<Repo> open(const std::string& path, std::string& why);

  std::string workdir() const;  // the top of the work tree, without a trailing slash; "" when bare
  std::string gitdir() const;   // this work tree's own git folder
  std::string commondir() const;

  std::optional<Head> head(std::string& why) const;
  // Every ref under refs/ (branches, tags, notes, stash, remotes, custom): full name -> id (a
  // tag's own id when annotated; symbolic refs left out).
  std::optional<std::map<std::string, std::string>> refs(std::string& why) const;
  // Commits reachable from `tips` and from none of `hidden`, newest first, at most `limit`.
  std::optional<std::vector<Commit>> new_commits(const std::vector<std::string>& tips,
                                                 const std::vector<std::string>& hidden, std::size_t limit,
                                                 std::string& why) const;
  // `git status --short --branch`, as git prints it (porcelain v1 letters, quoted paths).
  std::optional<std::string> status_short(std::string& why) const;
  // Every changed, conflicted and untracked path (untracked folders listed file by file), as
  // `git status --porcelain=v1 --untracked-files=all` names them, in its order.
  std::optional<std::vector<StatusEntry>> status_entries(std::string& why) const;
  std::optional<DiffResult> diff(const DiffRequest& r, std::string& why) const;
  // The configuration values (every level git reads, includes followed) whose names match the
  // regular expression `pattern`, as {name, value} in git's order: `git config --get-regexp`.
  std::optional<std::vector<std::pair<std::string, std::string>>> config_values(const std::string& pattern,
                                                                                 std::string& why) const;

  // Of `paths` (relative to the work tree's top), those the index holds: a file itself, or a
  // folder holding a tracked file.
  std::optional<std::set<std::string>> tracked(const std::vector<std::string>& paths, std::string& why) const;

  std::optional<Snapshot> snapshot(const SnapshotOptions& o, std::string& why) const;
  // The files whose content differs between two snapshots of this repository, sorted by path.
  std::vector<FileChange> changes(const Snapshot& before, const Snapshot& after) const;

  const Api& api() const { return *g_; }
  git_repository* raw() const { return repo_.get(); }

 private:
  Repo(const Api* g, RepoPtr repo) : g_(g), repo_(std::move(repo)) {}
  const Api* g_;
  RepoPtr repo_;
};

}  // namespace sidecar::host::git
