// A work tree's large files made blobs without holding them in memory (host/git/git_blob_stream.cpp).
//
// libgit2 streams a file into the object store when no filter applies to it, but reads it whole
// (twice its size, with the filtered copy) when one does: with `* text=auto` in .gitattributes or
// core.autocrlf set, the crlf filter applies to every file, and a 1 GiB file an agent wrote costs
// Sidecar 2 GiB to snapshot. That filter leaves as they are the bytes of a file without a CR LF
// pair, and, in its "auto" mode, of a binary one (a NUL byte says so), so such a file's blob is
// its bytes: LargeBlobs writes it through the object store's stream, a buffer at a time, looking
// for both as it goes, and finalizes the blob only if the file is one. Any other file (text with
// CR LF ends, a file another filter applies to, such as ident; any file with core.safecrlf set,
// which may refuse one for its line ends) is left to libgit2, which reads it whole.
//
//   LargeBlobs large(repo);
//   ... git_index_add_all's callback: if (large.take(path)) return 1;   // skip it there
//   if (!large.add(index, why)) ...                                      // then add what it took
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "git/git_repo.hpp"

namespace sidecar::host::git {

class LargeBlobs {
 public:
  static constexpr std::int64_t kFrom = 8 << 20;  // smaller files are read whole by libgit2: cheap

  explicit LargeBlobs(const Repo& r);
  ~LargeBlobs();
  LargeBlobs(const LargeBlobs&) = delete;
  LargeBlobs& operator=(const LargeBlobs&) = delete;

  // Whether the file at `path` (relative to the work tree's top) was written as a blob here: a
  // regular file of kFrom bytes or more whose blob is its bytes. False for any other (libgit2 adds
  // it), and for one whose writing failed (libgit2 then tries, and says what is wrong).
  bool take(const char* path);

  // Adds every file taken to `index`, with the stat data of the file read (the mode git would
  // record: core.fileMode false keeps the index's). False, and why, when one cannot be added.
  bool add(git_index* index, std::string& why);

  std::size_t taken() const { return files_.size(); }

 private:
  struct File {
    std::string path;
    git_oid id{};
    struct stat st {};
  };
  bool settle();  // reads the config and opens the object store, once
  std::optional<File> write(const char* full, bool automatic);

  const Repo& r_;
  bool settled_ = false, usable_ = false, file_mode_ = true, auto_crlf_ = false;
  git_odb* odb_ = nullptr;
  std::vector<File> files_;
};

}  // namespace sidecar::host::git
