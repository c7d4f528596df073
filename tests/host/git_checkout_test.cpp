// host/git_checkout: a tree written into a new worktree by our own checkout, checked against
// what `git worktree add` writes for the same commit (contents, modes, links, a submodule's
// folder, no folder for an empty tree, the index), a tree with .gitattributes left to libgit2
// (eol applied), and hostile trees (`..`, `.git` in any spelling, a name twice) refused with
// nothing written outside the worktree.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "git/git_tree.hpp"
#include "git_shell.hpp"
#include "temp_dir.hpp"

namespace {

namespace hg = sidecar::host::git;
using sidecar::test::sh;
using sidecar::test::TempDir;

std::string out(const std::string& dir, const std::string& script) { return sidecar::test::shell_out(dir, script); }
std::string line(const std::string& text) { return sidecar::test::first_line(text); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Every path below the folder but .git: its type, permissions, link target and content digest.
const char* kListing =
    "find . -path ./.git -prune -o -mindepth 1 -printf '%y %m %p %l\\n' | sort && "
    "find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha1sum";

// A commit holding text in folders, an executable, links (to a file, to a folder, dangling), a
// file with no final newline, binary bytes, a submodule (a gitlink) and an empty tree.
std::string varied_commit(const std::string& dir) {
  sh(dir, "git init -q -b main && mkdir -p a/b/c d && printf 'x\\ny\\n' > a/b/c/deep.txt && echo top > t.txt "
          "&& printf 'nonl' > n.txt && head -c 5000 /dev/urandom > d/bin.dat && printf '#!/bin/sh\\n' > run.sh "
          "&& chmod +x run.sh && ln -s t.txt link && ln -s a/b to_dir && ln -s missing dangling "
          "&& git add -A && git update-index --add --cacheinfo 160000,1111111111111111111111111111111111111111,sub "
          "&& tree=$(git write-tree) && empty=$(git mktree </dev/null) "
          "&& full=$({ git ls-tree $tree; printf '040000 tree %s\\tempty\\n' $empty; } | git mktree) "
          "&& git reset -q && git update-ref refs/heads/main $(echo v | git commit-tree $full)");
  return line(out(dir, "git rev-parse main"));
}

// A tree object written as given (git's own commands refuse such names): entries of
// "MODE NAME ID" separated by ';', ids in hex.
std::string literal_tree(const std::string& dir, const std::string& entries) {
  return line(out(dir, "perl -e 'for (split /;/, $ARGV[0]) { my ($m, $n, $i) = split / /; "
                       "print \"$m $n\\0\", pack(\"H*\", $i) }' '" + entries +
                       "' | git hash-object -t tree --literally -w --stdin"));
}

struct Worktree {
  std::string path, admin;
};

Worktree add_worktree(const std::string& dir, const std::string& name, const std::string& start) {
  std::string why;
  auto repo = hg::Repo::open(dir, why);
  REQUIRE(repo);
  std::string path = dir + "/../" + name;
  auto admin = hg::worktree_add(*repo, hg::WorktreeSpec{path, name, start, false}, why);
  INFO(why);
  REQUIRE(admin);
  return {path, *admin};
}

// Our checkout itself, to know which one ran: kDone, kUnsuitable or kFailed.
hg::FreshCheckout fresh(const std::string& path, const std::string& tree, std::string& why) {
  auto wt = hg::Repo::open(path, why);
  REQUIRE(wt);
  const hg::Api& g = wt->api();
  git_index* index = nullptr;
  REQUIRE(g.git_repository_index(&index, wt->raw()) == 0);
  hg::IndexPtr owned(index);
  git_oid id;
  REQUIRE(g.git_oid_fromstr(&id, tree.c_str()) == 0);
  return hg::checkout_fresh(*wt, index, id, why);
}

}  // namespace

TEST_CASE("git_checkout: a new worktree holds what git worktree add writes, and git status is clean") {
  TempDir t("checkout");
  std::string dir = t.path + "/repo";
  sh(t.path, "mkdir repo");
  std::string commit = varied_commit(dir), tree = line(out(dir, "git rev-parse main^{tree}"));
  sh(dir, "git worktree add -q --detach ../by-git main");
  auto wt = add_worktree(dir, "ours", "main");
  std::string why;
  REQUIRE(fresh(wt.path, tree, why) == hg::FreshCheckout::kDone);
  INFO(why);
  std::string listing = out(wt.path, kListing), by_git = out(t.path + "/by-git", kListing);
  CHECK(listing == by_git);
  CHECK(listing.find("l 777 ./link t.txt") != std::string::npos);
  CHECK(listing.find("f 755 ./run.sh") != std::string::npos);
  CHECK(listing.find("d 755 ./sub") != std::string::npos);  // the submodule's folder, empty
  CHECK_FALSE(exists(wt.path + "/empty"));                  // an empty tree makes no folder
  CHECK(out(wt.path, "ls -A sub") == "");
  CHECK(out(wt.path, "git ls-files -s") == out(t.path + "/by-git", "git ls-files -s"));
  CHECK(out(wt.path, "git ls-files -s sub") == "160000 1111111111111111111111111111111111111111 0\tsub\n");
  CHECK(out(wt.path, "git status --porcelain --ignore-submodules=none") == "");
  // git trusts the stat data: a refresh rewrites nothing, and a changed file is seen.
  CHECK(out(wt.path, "git diff-files --name-only") == "");
  sh(wt.path, "echo more >> a/b/c/deep.txt");
  CHECK(out(wt.path, "git status --porcelain") == " M a/b/c/deep.txt\n");
  CHECK(line(out(wt.path, "git rev-parse HEAD")) == commit);
}

TEST_CASE("git_checkout: checkout kForce on a new worktree writes it; a second one is libgit2's") {
  TempDir t("checkout");
  std::string dir = t.path + "/repo";
  sh(t.path, "mkdir repo");
  varied_commit(dir);
  std::string tree = line(out(dir, "git rev-parse main^{tree}")), why;
  auto wt = add_worktree(dir, "ours", "main");
  REQUIRE(hg::checkout(wt.path, tree, hg::Checkout::kForce, true, why));
  CHECK(out(wt.path, "git status --porcelain --ignore-submodules=none") == "");
  // No longer empty: our checkout declines, and the caller's libgit2 checkout repairs files.
  CHECK(fresh(wt.path, tree, why) == hg::FreshCheckout::kUnsuitable);
  sh(wt.path, "rm t.txt && echo changed > n.txt && echo u > untracked");
  REQUIRE(hg::checkout(wt.path, tree, hg::Checkout::kForce, true, why));
  CHECK(out(wt.path, "git status --porcelain --ignore-submodules=none --untracked-files=all") == "");
  CHECK(read_file(wt.path + "/n.txt") == "nonl");
}

TEST_CASE("git_checkout: a tree with .gitattributes is left to libgit2, which applies eol") {
  TempDir t("checkout");
  std::string dir = t.path + "/repo";
  sh(t.path, "mkdir repo");
  sh(dir, "git init -q -b main && printf '*.txt eol=crlf\\n' > .gitattributes && printf 'a\\nb\\n' > x.txt "
          "&& printf 'a\\nb\\n' > y.dat && git add -A && git commit -qm 1");
  std::string tree = line(out(dir, "git rev-parse main^{tree}")), why;
  auto wt = add_worktree(dir, "ours", "main");
  CHECK(fresh(wt.path, tree, why) == hg::FreshCheckout::kUnsuitable);
  CHECK_FALSE(exists(wt.path + "/x.txt"));  // declined before writing anything
  REQUIRE(hg::checkout(wt.path, tree, hg::Checkout::kForce, false, why));
  CHECK(read_file(wt.path + "/x.txt") == "a\r\nb\r\n");
  CHECK(read_file(wt.path + "/y.dat") == "a\nb\n");
  CHECK(out(wt.path, "git status --porcelain") == "");
  // core.autocrlf in the repository's config is a filter too.
  sh(dir, "git rm -q .gitattributes && git commit -qm 2 && git config core.autocrlf true");
  std::string plain = line(out(dir, "git rev-parse main^{tree}"));
  auto second = add_worktree(dir, "second", "main");
  CHECK(fresh(second.path, plain, why) == hg::FreshCheckout::kUnsuitable);
}

TEST_CASE("git_checkout: hostile trees are refused and nothing is written outside the worktree") {
  TempDir t("checkout");
  std::string dir = t.path + "/repo";
  sh(t.path, "mkdir repo");
  sh(dir, "git init -q -b main && echo a > a && git add a && git commit -qm 1");
  std::string blob = line(out(dir, "echo evil | git hash-object -w --stdin"));
  std::string inner = literal_tree(dir, "100644 escaped " + blob);
  auto wt = add_worktree(dir, "ours", "main");
  std::string dot_git = read_file(wt.path + "/.git");
  const char* names[] = {"..", ".", ".git", ".GIT", ".Git.", "git~1"};
  for (const char* name : names) {
    INFO(name);
    std::string tree = literal_tree(dir, "100644 a " + blob + ";40000 " + name + " " + inner);
    std::string why;
    CHECK(fresh(wt.path, tree, why) == hg::FreshCheckout::kFailed);
    CHECK(why.find("refuses") != std::string::npos);
    CHECK(why.find(name) != std::string::npos);
    CHECK_FALSE(hg::checkout(wt.path, tree, hg::Checkout::kForce, false, why));
  }
  CHECK_FALSE(exists(t.path + "/escaped"));
  CHECK_FALSE(exists(wt.path + "/a"));  // refused before anything was written
  CHECK(read_file(wt.path + "/.git") == dot_git);
  // A name twice (a link `x` to the parent, and a folder `x` whose file would go through it).
  std::string up = line(out(dir, "printf .. | git hash-object -w --stdin"));
  std::string twice = literal_tree(dir, "120000 x " + up + ";40000 x " + inner);
  std::string why;
  CHECK(fresh(wt.path, twice, why) == hg::FreshCheckout::kFailed);
  CHECK(why.find("twice: x") != std::string::npos);
  CHECK_FALSE(exists(t.path + "/escaped"));
  // A file entry naming a tree object is an error, not a file.
  std::string wrong = literal_tree(dir, "100644 f " + inner);
  CHECK(fresh(wt.path, wrong, why) == hg::FreshCheckout::kFailed);
  CHECK(why.find("f") != std::string::npos);
}
