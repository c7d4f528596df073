// Reading a work tree against index stat data (host/git/work_tree_walk.hpp), without git: entries made
// from lstat of files written here stand for an index git would have written.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "git/work_tree_walk.hpp"
#include "temp_dir.hpp"

using sidecar::host::StatEntry;
using sidecar::host::walk_work_tree;
using sidecar::host::WalkOptions;
using sidecar::host::WalkResult;
using sidecar::test::TempDir;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The files below `top` named by `paths` (sorted), as an index records them right after `git add`.
struct Index {
  std::vector<std::string> paths;
  std::vector<StatEntry> entries;
  Index(const std::string& top, std::vector<std::string> names) : paths(std::move(names)) {
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      struct stat st {};
      REQUIRE(lstat((top + "/" + p).c_str(), &st) == 0);
      StatEntry e;
      e.path = &p;
      e.mode = S_ISLNK(st.st_mode) ? 0120000 : (st.st_mode & S_IXUSR) ? 0100755 : 0100644;
      e.size = static_cast<std::uint32_t>(st.st_size);
      e.ino = static_cast<std::uint32_t>(st.st_ino);
      e.mtime_s = st.st_mtim.tv_sec;
      e.mtime_ns = static_cast<std::uint32_t>(st.st_mtim.tv_nsec);
      e.ctime_s = st.st_ctim.tv_sec;
      e.ctime_ns = static_cast<std::uint32_t>(st.st_ctim.tv_nsec);
      entries.push_back(e);
    }
  }
};

WalkOptions options(const std::string& top) {
  WalkOptions o;
  o.top = top;
  o.index_mtime_s = std::time(nullptr) + 10;  // written after every file: nothing racy
  return o;
}

std::vector<std::string> names(const Index& index, const std::vector<std::size_t>& at) {
  std::vector<std::string> out;
  for (std::size_t k : at) out.push_back(index.paths[k]);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("work_tree_walk: stat data settle what did not change; the rest is handed back", "[walk]") {
  TempDir dir("walk");
  const std::string& t = dir.path;
  REQUIRE(mkdir((t + "/a").c_str(), 0755) == 0);
  REQUIRE(mkdir((t + "/a-b").c_str(), 0755) == 0);
  for (const char* f : {"a/1", "a/2", "a-b/3", "top", "gone"}) write(t + "/" + f, f);
  Index index(t, {"a/1", "a/2", "a-b/3", "top", "gone"});
  WalkOptions o = options(t);
  CHECK(walk_work_tree(index.entries, o).changed.empty());

  write(t + "/a/2", "changed");       // size and mtime differ
  unlink((t + "/gone").c_str());      // missing
  write(t + "/a/new", "n");           // untracked in a tracked folder
  REQUIRE(mkdir((t + "/fresh").c_str(), 0755) == 0);  // a folder of no entry: not entered
  write(t + "/fresh/x", "x");
  REQUIRE(mkfifo((t + "/a/pipe").c_str(), 0644) == 0);  // git has no FIFOs
  WalkResult r = walk_work_tree(index.entries, o);
  CHECK(r.error.empty());
  CHECK(names(index, r.changed) == std::vector<std::string>{"a/2"});
  CHECK(names(index, r.missing) == std::vector<std::string>{"gone"});
  CHECK(r.untracked_files == std::vector<std::string>{"a/new"});
  CHECK(r.untracked_dirs == std::vector<std::string>{"fresh"});
}

TEST_CASE("work_tree_walk: racy entries, within, exclude and skip-worktree", "[walk]") {
  TempDir dir("walk");
  const std::string& t = dir.path;
  REQUIRE(mkdir((t + "/in").c_str(), 0755) == 0);
  REQUIRE(mkdir((t + "/out").c_str(), 0755) == 0);
  for (const char* f : {"in/1", "out/2", "sparse"}) write(t + "/" + f, f);
  Index index(t, {"in/1", "out/2", "sparse"});
  WalkOptions o = options(t);
  o.index_mtime_s = index.entries[0].mtime_s;  // written in the same instant as the files
  o.index_mtime_ns = 0;
  CHECK(walk_work_tree(index.entries, o).changed.size() == 3);  // racy: all hashed
  o = options(t);
  o.within = "in";
  write(t + "/out/2", "changed outside");
  unlink((t + "/sparse").c_str());
  CHECK(walk_work_tree(index.entries, o).changed.empty());
  CHECK(walk_work_tree(index.entries, o).missing.empty());  // outside `within`: not looked at
  o = options(t);
  o.exclude = {"out"};
  index.entries[2].skip_worktree = true;  // a sparse checkout's entry is never missing
  WalkResult r = walk_work_tree(index.entries, o);
  CHECK(r.missing.empty());
  CHECK(r.changed.empty());
}

TEST_CASE("work_tree_walk: a folder turned into a link is not followed out of the tree", "[walk]") {
  TempDir dir("walk"), outside("walk-outside");
  const std::string& t = dir.path;
  REQUIRE(mkdir((t + "/d").c_str(), 0755) == 0);
  write(t + "/d/f", "f");
  write(outside.path + "/f", "f");
  write(outside.path + "/secret", "s");
  Index index(t, {"d/f"});
  REQUIRE(rename((t + "/d").c_str(), (t + "/moved").c_str()) == 0);
  REQUIRE(symlink(outside.path.c_str(), (t + "/d").c_str()) == 0);
  WalkResult r = walk_work_tree(index.entries, options(t));
  CHECK(names(index, r.missing) == std::vector<std::string>{"d/f"});
  CHECK(sorted(r.untracked_files) == std::vector<std::string>{"d"});  // the link itself
  CHECK(r.untracked_dirs == std::vector<std::string>{"moved"});
}

TEST_CASE("work_tree_walk: many folders on several threads; a deadline; a missing top", "[walk]") {
  TempDir dir("walk");
  const std::string& t = dir.path;
  std::vector<std::string> files;
  for (int d = 0; d < 50; ++d) {
    std::string folder = "f" + std::to_string(d);
    REQUIRE(mkdir((t + "/" + folder).c_str(), 0755) == 0);
    for (int i = 0; i < 100; ++i) {
      files.push_back(folder + "/" + std::to_string(i));
      write(t + "/" + files.back(), files.back());
    }
  }
  Index index(t, files);
  WalkOptions o = options(t);
  o.threads = 4;
  write(t + "/f7/13", "a change of size");
  unlink((t + "/f42/99").c_str());
  WalkResult r = walk_work_tree(index.entries, o);
  CHECK(names(index, r.changed) == std::vector<std::string>{"f7/13"});
  CHECK(names(index, r.missing) == std::vector<std::string>{"f42/99"});
  o.deadline_ns = 1;  // long past
  CHECK(walk_work_tree(index.entries, o).expired);
  o = options(t + "/nothing-here");
  CHECK(walk_work_tree(index.entries, o).error.find("cannot read the work tree") != std::string::npos);
}
