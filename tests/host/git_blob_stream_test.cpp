// Large files into blobs without holding them (host/git/git_blob_stream.hpp), as tree_snapshot makes
// them: the tree is git's own (`git add --all` then `git write-tree`) for every line-end setting,
// and a 48 MiB file under `* text=auto` raises this process's peak memory by a few MiB, not by
// the file's size (libgit2 alone reads such a file whole, twice over). The whole run, with a
// larger file, is tests/e2e/worktree_big_file_test.sh.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <fstream>
#include <string>

#include "git/git_tree.hpp"
#include "git_shell.hpp"
#include "temp_dir.hpp"

namespace {

namespace hg = sidecar::host::git;
using sidecar::test::first_line;
using sidecar::test::git_out;
using sidecar::test::sh;
using sidecar::test::shell_out;
using sidecar::test::TempDir;

// This process's VmRSS or VmHWM, in KiB.
long status_kib(const std::string& name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::stol(line.substr(name.size() + 1));
  }
  return -1;
}

std::string our_tree(const std::string& dir) {
  std::string why;
  auto s = hg::tree_snapshot(dir, hg::TreeSnapshotOptions{{".agent"}, "", 0, 0, {}}, why);
  INFO(why);
  REQUIRE(s);
  return s->tree;
}

// `git add --all` into a copy of the index, then `git write-tree`: the repository's index untouched.
std::string gits_tree(const std::string& dir) {
  const std::string index = "../git-index-" + std::to_string(getpid());
  return first_line(shell_out(dir, "{ cp .git/index " + index + " 2>/dev/null || true; } && GIT_INDEX_FILE=" + index +
                                     " git add --all && GIT_INDEX_FILE=" + index + " git write-tree; rm -f " + index));
}

}  // namespace

TEST_CASE("git_blob_stream: large files become the blobs git makes, for every line-end setting", "[git][large]") {
  struct Setting {
    const char* name;
    const char* setup;
  } settings[] = {
      {"no filter", ""},
      {"text=auto", "echo '* text=auto' > .gitattributes"},
      {"text=auto eol=crlf", "echo '* text=auto eol=crlf' > .gitattributes"},
      {"core.autocrlf input", "git config core.autocrlf input"},
      {"core.autocrlf true", "git config core.autocrlf true"},
      {"text (binary converted)", "echo '*.bin text' > .gitattributes"},
      {"ident", "echo '* ident' > .gitattributes"},
  };
  for (const auto& s : settings) {
    SECTION(s.name) {
      TempDir t;
      // Binary with NULs and CR LF pairs; text without CR; text with CR LF (converted); an
      // executable; one under the bound.
      sh(t.path, std::string("git init -q && ") + (*s.setup ? std::string(s.setup) + " && " : "") +
                     "head -c 9437184 /dev/urandom > random.bin && yes 'a line' | head -c 9437184 > plain.txt && "
                     "yes 'dos line' | sed 's/$/\\r/' | head -c 9437184 > dos.txt && cp plain.txt tool.sh && "
                     "chmod +x tool.sh && printf 'small\\r\\n' > small.txt && echo '$Id$' >> plain.txt");
      CHECK(our_tree(t.path) == gits_tree(t.path));
    }
  }
}

TEST_CASE("git_blob_stream: a tracked large file changed, and core.fileMode false, as git has them", "[git][large]") {
  TempDir t;
  sh(t.path, "git init -q && echo '* text=auto' > .gitattributes && head -c 9437184 /dev/urandom > data.bin && "
             "git add -A && git -c user.name=t -c user.email=t@t commit -qm 1 && git config core.fileMode false && "
             "head -c 1000 /dev/urandom >> data.bin && chmod +x data.bin");
  CHECK(our_tree(t.path) == gits_tree(t.path));
  CHECK(git_out(t.path, "ls-files -s data.bin").rfind("100644 ", 0) == 0);  // our snapshot left the index alone
}

TEST_CASE("git_blob_stream: a 48 MiB file under text=auto is never held whole", "[git][large]") {
  TempDir t;
  sh(t.path, "git init -q && echo '* text=auto' > .gitattributes && head -c 50331648 /dev/urandom > model.bin");
  {
    std::ofstream reset("/proc/self/clear_refs");
    reset << "5";  // VmHWM starts again from VmRSS
  }
  const long before = status_kib("VmRSS");
  const std::string ours = our_tree(t.path);
  const long grown = status_kib("VmHWM") - before;
  INFO("peak grew by " << grown << " KiB for a 49152 KiB file");
  CHECK(grown < 12 * 1024);
  CHECK(ours == gits_tree(t.path));
}
