// Finding the secret files of a folder tree (the repository a sandboxed run can see), so that the sandbox can
// hide them: each file and folder the secret-file rules name (host/secrets/secrets.hpp: `.env*`, private
// keys, `.npmrc`, `.ssh/`...), and each Unix socket (a dev server's, an editor's). Folders are read with
// openat relative to their own descriptor, on a few threads; links are never followed; VCS folders and the
// named folders are not entered. There is no cap: the whole tree is read, however large (a 224 000-file
// repository takes about as long as `git status` on it: bench/secret_search.cpp), since a search that stops
// early would leave the rest of the secrets in the agent's view.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace sidecar::host {

struct SecretFileSearch {
  std::vector<std::string> files;    // absolute paths of secret files (and links), sorted
  std::vector<std::string> folders;  // absolute paths of folders whose every file is secret (.ssh), sorted
  std::vector<std::string> sockets;  // absolute paths of Unix sockets (a server's: hidden too), sorted
  std::size_t entries = 0;           // entries looked at
  std::size_t unread = 0;            // folders that could not be opened (not this user's to read)
};

// Looks through `top` (absolute). `skip` names folders never entered, by name ("node_modules") or
// by path relative to `top` (".agent/runs"); `.git`, `.hg` and `.svn` are never entered either.
// `threads`: how many read folders at once (at least one).
SecretFileSearch find_secret_files(const std::string& top, const std::vector<std::string>& skip, int threads = 2);

}  // namespace sidecar::host
