// What a discarded run leaves in the repository's object store, taken out again. A writing run's
// commits (the agent's, imported by host/git/git_import.cpp, and the one Sidecar makes of its
// worktree) write objects into `.git/objects`; once the run's branch is gone nothing names them,
// yet git keeps unreachable objects for two weeks and a 200 MB file of the agent's would stay as
// long. Only blobs are taken out (the bytes; trees and commits are small, and an index's cache
// may still name a tree), only loose ones (a pack is git's to repack), and only those nothing
// else reaches: every ref and its reflog, every worktree's HEAD, reflog and index.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "git/git_repo.hpp"

namespace sidecar::host::git {

struct Pruned {
  std::size_t blobs = 0;      // loose blobs removed
  std::uint64_t bytes = 0;    // their files' size (compressed, as on disk)
  std::size_t kept = 0;       // loose blobs of the run that something else still reaches
};

// Removes the loose blobs that the commits `tips` reach (walking down from them, but not below
// the commits `stops`: the history the run started from) and that nothing else in `r` reaches.
// Fails (nothing removed) when a tip is not a commit id or an object along a walk cannot be read
// (one the store lacks, past a shallow clone's edge, is passed over: git cannot reach past it either).
std::optional<Pruned> prune_run_blobs(const Repo& r, const std::vector<std::string>& tips,
                                      const std::vector<std::string>& stops, std::string& why);

}  // namespace sidecar::host::git
