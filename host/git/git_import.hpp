// A sandboxed writing run's commits brought into the repository object by object
// (host/git/git_import.cpp). The agent wrote its objects into a private folder; nothing of that
// folder is trusted or copied as it is: each object its commit reaches is read, checked against
// its id, and written again through the repository's own object store.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "git/git_repo.hpp"

namespace sidecar::host::git {

struct ImportSpec {
  std::string objects_dir;  // the private folder; removed afterwards, whatever happened
  std::string tip;          // the agent's commit; "" when it made none
  std::string index;        // its worktree's index; "" to leave it
};

struct Imported {
  std::size_t objects = 0;            // written into the repository
  std::uint64_t bytes = 0;            // their contents' size, uncompressed
  std::vector<std::string> unstaged;  // index entries dropped: their blobs could not come in
};

// Writes into `r`'s object store every object reachable from the commit `tip` (its parents,
// trees and blobs; gitlinks skipped) that `r` does not have yet, reading each from the folder
// `objects_dir` alone: its loose objects and packs, never its alternates, info/ or commit-graph.
// Descent stops at an object `r` has, which is never written again. Each object must be there,
// of the type that names it, and hash to its id; else nothing of the commit is written and `why`
// names the object. Then the blobs `index` names that `r` lacks come in the same way (what the
// agent staged); an entry whose blob cannot is dropped from the index (`why` names the first
// ones when the commit was refused). `objects_dir` is removed afterwards, whatever happened.
std::optional<Imported> import_objects(const Repo& r, const ImportSpec& spec, std::string& why);

}  // namespace sidecar::host::git
