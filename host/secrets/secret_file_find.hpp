// Finding the secret files of a folder tree (the repository a sandboxed run can see), so that the sandbox can
// hide them: each file and folder the secret-file rules name (host/secrets/secrets.hpp: `.env*`, private
// keys, `.npmrc`, `.ssh/`...), and each Unix socket (a dev server's, an editor's). Folders are read with
// openat relative to their own descriptor, on a few threads; links are never followed; VCS folders and the
// named folders are not entered. There is no cap: the whole tree is read, however large (a 224 000-file
// repository takes about as long as `git status` on it: bench/secret_search.cpp), since a search that stops
// early would leave the rest of the secrets in the agent's view.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sidecar::host {

struct SecretFileSearch {
  std::vector<std::string> files;    // absolute paths of secret files (and links), sorted
  std::vector<std::string> folders;  // absolute paths of folders whose every file is secret (.ssh), sorted
  std::vector<std::string> sockets;  // absolute paths of Unix sockets (a server's: hidden too), sorted
  std::size_t entries = 0;           // entries looked at
  std::size_t unread = 0;            // folders that could not be opened (not this user's to read)
  std::size_t reused = 0;            // folders not read again: find_secret_files_again's
};

// Looks through `top` (absolute). `skip` names folders never entered, by name ("node_modules") or
// by path relative to `top` (".agent/runs"); `.git`, `.hg` and `.svn` are never entered either.
// `threads`: how many read folders at once (at least one).
SecretFileSearch find_secret_files(const std::string& top, const std::vector<std::string>& skip, int threads = 2);

// As find_secret_files, and remembered for the next search of the same `top` with the same `skip`
// and secret rules in this process, or in a process it forks afterwards (a preset's pool of
// workers searches a repository once; each worker it forks searches it again for its agent's
// sandbox). That search reads again only the folders whose status changed: each folder the last
// search read is looked at (its device, inode, mtime and ctime: an entry made, removed or renamed
// in it changes its mtime and ctime, and a ctime is the kernel's to set, never a process's) and
// taken as it was read when the status is the same. Git's rule for racy timestamps: a folder
// whose ctime is within `racy_ms` before the start of the search that read it (or after it) is
// read again whatever its status says, since a change right after that read could bear the same
// time. A folder that could not be read is tried again every time. The last few trees are kept,
// `keep_folders` folders in all at most (a few hundred bytes each): the oldest tree is forgotten
// first, and a tree of more folders is not kept (each search of it reads it whole, as
// find_secret_files does), so a process that stays up (`sidecar ui`, `mcp`) beside a huge
// repository holds a bounded memory. A tree the last search found small (under 64 folders) is
// searched on the calling thread alone, whatever `threads` says.
constexpr std::size_t kKeepFolders = 100000;
SecretFileSearch find_secret_files_again(const std::string& top, const std::vector<std::string>& skip,
                                         int threads = 2, std::int64_t racy_ms = 1000,
                                         std::size_t keep_folders = kKeepFolders);

}  // namespace sidecar::host
