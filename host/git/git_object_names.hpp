// What a commit, a tree or a tag names, read from its raw bytes (as an object store gives them):
// the walks over objects that must not trust libgit2's parsed view of an agent's object (the
// import of a run's commits, host/git/git_import.cpp) or that read many objects once each (the
// pruning of a discarded run's, host/git/git_prune.cpp).
#pragma once
#include <cstddef>
#include <vector>

#include "git/git_lib.hpp"

namespace sidecar::host::git {

struct Named {
  git_oid id;
  git_object_t type;
};

// A commit names its tree and its parents in its first lines ("tree ID", "parent ID"...).
// False when they are malformed.
bool commit_names(const Api& g, const char* data, std::size_t size, std::vector<Named>& out);

// A tree is entries "MODE NAME\0" and 20 bytes of id: folders are trees, files and links blobs,
// a gitlink (a submodule's commit) lives in another repository and is left out. False when an
// entry is malformed.
bool tree_names(const char* data, std::size_t size, std::vector<Named>& out);

// An annotated tag names one object ("object ID", "type KIND"). False when it does not.
bool tag_names(const Api& g, const char* data, std::size_t size, std::vector<Named>& out);

}  // namespace sidecar::host::git
