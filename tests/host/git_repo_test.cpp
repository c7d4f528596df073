// host/git_repo: repository facts and in-memory snapshots through libgit2, checked against what
// the git program says and against the promise that a snapshot writes nothing.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "git/git_repo.hpp"
#include "temp_dir.hpp"

namespace {

namespace hg = sidecar::host::git;
using sidecar::test::TempDir;

// Runs a shell script in `dir` with a fixed identity; the test fails if it fails.
void sh(const std::string& dir, const std::string& script) {
  std::string cmd = "cd '" + dir + "' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t "
                    "GIT_COMMITTER_EMAIL=t@t && { " + script + "; } >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

std::string git_out(const std::string& dir, const std::string& args) {
  std::string cmd = "git -C '" + dir + "' " + args + " 2>/dev/null";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

std::unique_ptr<hg::Repo> open_repo(const std::string& dir) {
  std::string why;
  auto repo = hg::Repo::open(dir, why);
  INFO(why);
  REQUIRE(repo);
  return repo;
}

// Every file under .git with its size and mtime: what a read must leave as it was.
std::string git_folder_listing(const std::string& dir) {
  std::string out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/.git")) {
    struct stat st {};
    lstat(e.path().c_str(), &st);
    out += e.path().string() + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + "\n";
  }
  return out;
}

std::string changes_text(const hg::Repo& repo, const hg::Snapshot& before, const hg::SnapshotOptions& o) {
  std::string why;
  auto after = repo.snapshot(o, why);
  REQUIRE(after);
  std::string out;
  for (const auto& f : repo.changes(before, *after)) {
    out += f.path + " " + f.change + (f.by_stat ? " by_stat" : "") + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("git repo: head, refs and status as git says them", "[git]") {
  TempDir dir("git");
  sh(dir.path, "git init -q -b main && echo a > a && git add a && git commit -qm first && git tag -a v1 -m v1 "
               "&& git branch side && echo b >> a && echo n > n");
  auto repo = open_repo(dir.path);
  std::string why;
  auto head = repo->head(why);
  REQUIRE(head);
  CHECK(head->id + "\n" == git_out(dir.path, "rev-parse HEAD"));
  CHECK(head->ref == "refs/heads/main");
  CHECK_FALSE(head->detached);
  auto refs = repo->refs(why);
  REQUIRE(refs);
  CHECK(refs->size() == 3);
  CHECK((*refs)["refs/tags/v1"] + "\n" == git_out(dir.path, "rev-parse v1"));  // the tag's own id
  CHECK(repo->status_short(why) == git_out(dir.path, "status --short --branch"));
  CHECK(repo->workdir() == std::filesystem::canonical(dir.path).string());
}

TEST_CASE("git repo: the commits new tips bring, newest first, bounded", "[git]") {
  TempDir dir("git");
  sh(dir.path, "git init -q -b main && git commit -q --allow-empty -m one && git tag old "
               "&& git commit -q --allow-empty -m two && git commit -q --allow-empty -m three");
  auto repo = open_repo(dir.path);
  std::string why;
  std::string tip = git_out(dir.path, "rev-parse HEAD").substr(0, 40);
  std::string old = git_out(dir.path, "rev-parse old").substr(0, 40);
  auto commits = repo->new_commits({tip}, {old}, 10, why);
  REQUIRE(commits);
  REQUIRE(commits->size() == 2);
  CHECK((*commits)[0].subject == "three");
  CHECK((*commits)[1].subject == "two");
  CHECK(repo->new_commits({tip}, {old}, 1, why)->size() == 1);
  CHECK_FALSE(repo->new_commits({"not-an-id"}, {}, 10, why));
}

TEST_CASE("git repo: a snapshot's changes, written nowhere", "[git]") {
  TempDir dir("git");
  sh(dir.path, "git init -q -b main && printf 'x = 1' > a && echo b > b && mkdir .agent && echo r > .agent/r "
               "&& git add a b && git commit -qm first && printf 'x = 2' > a");  // racy: same size, same second
  auto repo = open_repo(dir.path);
  hg::SnapshotOptions o;
  o.exclude = {".agent"};
  o.max_hash_bytes = 1000;
  std::string listing = git_folder_listing(dir.path);
  std::string why;
  auto before = repo->snapshot(o, why);
  REQUIRE(before);
  CHECK(before->dirty.count("a") == 1);
  CHECK(before->dirty.count(".agent/r") == 0);
  CHECK(changes_text(*repo, *before, o).empty());

  sh(dir.path, "printf 'x = 3' > a && rm b && echo more >> .agent/r && head -c 5000 /dev/zero > big && touch c");
  CHECK(changes_text(*repo, *before, o) == "a modified\nb deleted\nbig added by_stat\nc added\n");
  auto middle = repo->snapshot(o, why);
  REQUIRE(middle);
  sh(dir.path, "echo grown >> big");
  CHECK(changes_text(*repo, *middle, o) == "big modified by_stat\n");
  CHECK(git_folder_listing(dir.path) == listing);
}

TEST_CASE("git repo: a snapshot past its deadline stops and says so; outside git, open says why", "[git]") {
  TempDir dir("git");
  sh(dir.path, "git init -q -b main && echo a > a");
  auto repo = open_repo(dir.path);
  hg::SnapshotOptions o;
  o.deadline_ns = 1;  // long past
  std::string why;
  CHECK_FALSE(repo->snapshot(o, why));
  CHECK(why.find("deadline") != std::string::npos);
  TempDir plain("plain");
  CHECK_FALSE(hg::Repo::open(plain.path + "/nowhere", why));
}

TEST_CASE("a diff is git diff's, and reading it writes nothing", "[git]") {
  TempDir dir("git");
  const std::string& d = dir.path;
  sh(d, "git init -q -b main && printf 'a\\nb\\n' > a.txt && printf 'k\\0' > b.bin && echo s > secret.txt "
        "&& git add -A && git commit -qm one && echo c >> a.txt && printf 'k\\1' > b.bin && echo t >> secret.txt "
        "&& echo n > n.txt && git add n.txt && echo u > untracked.txt");
  auto repo = open_repo(d);
  const std::string before = git_folder_listing(d);
  std::string why;
  hg::DiffRequest r;
  r.patch = r.stat = true;
  r.exclude = {"secret.txt"};
  auto diff = repo->diff(r, why);
  INFO(why);
  REQUIRE(diff);
  CHECK(diff->patch == git_out(d, "diff --no-color HEAD -- . ':(exclude)secret.txt'"));
  REQUIRE(diff->files.size() == 3);
  CHECK(diff->files[2].path == "n.txt");
  CHECK(diff->files[2].change == "added");
  CHECK(diff->stat.find("3 files changed, 2 insertions(+)") != std::string::npos);
  r.max_patch_bytes = 10;
  diff = repo->diff(r, why);
  REQUIRE(diff);
  CHECK(diff->patch_cut);
  CHECK(diff->patch == "diff --git");
  auto entries = repo->status_entries(why);
  REQUIRE(entries);
  CHECK(git_folder_listing(d) == before);  // before `git status`, which refreshes the index
  std::string porcelain;
  for (const auto& e : *entries) porcelain += e.xy + " " + e.path + "\n";
  CHECK(porcelain == git_out(d, "status --porcelain=v1 --untracked-files=all"));
}
