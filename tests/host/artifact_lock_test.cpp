// A lock file opened through an artifact folder (ArtifactDir::open_lock_file, then
// FileLock::try_lock_descriptor): what a run's worker.lock goes through. The run's folder sits in
// a repository an agent writes into, so the folder or the file itself may be a planted link, or be
// swapped for one between a check and the open; none may make the lock open or create a file
// outside the folder.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "store/artifact_store.hpp"
#include "store/file_lock.hpp"
#include "temp_dir.hpp"

using sidecar::host::ArtifactDir;
using sidecar::host::FileLock;
using sidecar::host::FsError;
using TempDir = sidecar::test::TempDir;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

struct Folders {
  TempDir tmp{"artifact-lock"};
  std::string inside = tmp.path + "/inside", outside = tmp.path + "/outside";
  ArtifactDir dir;
  Folders() : dir(open()) { REQUIRE(mkdir(outside.c_str(), 0755) == 0); }
  ArtifactDir open() {
    FsError error;
    auto d = ArtifactDir::open(inside, true, error);
    REQUIRE(d);
    return std::move(*d);
  }
  // The result of locking `path`: 0 with `lock` held, else the failure's code in `code`.
  int lock(const std::string& path, FileLock& out, std::string& code) {
    FsError error;
    const int fd = dir.open_lock_file(path, error);
    if (fd < 0) {
      code = error.code;
      return -1;
    }
    return FileLock::try_lock_descriptor(fd, out);
  }
};

}  // namespace

TEST_CASE("a lock file through an artifact folder: made when missing, and held against every other open") {
  Folders f;
  REQUIRE(mkdir((f.inside + "/runs").c_str(), 0755) == 0);
  REQUIRE(mkdir((f.inside + "/runs/R-0001").c_str(), 0755) == 0);
  FileLock held, second, by_path;
  std::string code;
  REQUIRE(f.lock("runs/R-0001/worker.lock", held, code) == 0);
  CHECK(held.held());
  CHECK(exists(f.inside + "/runs/R-0001/worker.lock"));
  CHECK(f.lock("runs/R-0001/worker.lock", second, code) == EWOULDBLOCK);
  CHECK(FileLock::try_lock(f.inside + "/runs/R-0001/worker.lock", by_path) == EWOULDBLOCK);
  held.release();
  CHECK(f.lock("runs/R-0001/worker.lock", second, code) == 0);
  CHECK(f.lock("runs/R-0002/worker.lock", by_path, code) == -1);  // folders are never made
  CHECK(code == "ENOENT");
  CHECK_FALSE(exists(f.inside + "/runs/R-0002"));
}

TEST_CASE("a lock file through an artifact folder never follows a planted link, nor takes a hard link, FIFO, folder") {
  Folders f;
  REQUIRE(mkdir((f.inside + "/runs").c_str(), 0755) == 0);
  REQUIRE(symlink(f.outside.c_str(), (f.inside + "/runs/R-0001").c_str()) == 0);  // the run's folder
  REQUIRE(mkdir((f.inside + "/runs/R-0002").c_str(), 0755) == 0);                 // the lock file itself,
  REQUIRE(symlink((f.outside + "/made.lock").c_str(), (f.inside + "/runs/R-0002/worker.lock").c_str()) == 0);
  REQUIRE(mkdir((f.inside + "/runs/R-0003").c_str(), 0755) == 0);  // a hard link to a file outside
  FileLock made;
  REQUIRE(FileLock::try_lock(f.outside + "/target.lock", made) == 0);
  REQUIRE(link((f.outside + "/target.lock").c_str(), (f.inside + "/runs/R-0003/worker.lock").c_str()) == 0);
  REQUIRE(mkdir((f.inside + "/runs/R-0004").c_str(), 0755) == 0);  // a FIFO: refused, without waiting
  REQUIRE(mkfifo((f.inside + "/runs/R-0004/worker.lock").c_str(), 0644) == 0);
  REQUIRE(mkdir((f.inside + "/runs/R-0005").c_str(), 0755) == 0);  // a folder
  REQUIRE(mkdir((f.inside + "/runs/R-0005/worker.lock").c_str(), 0755) == 0);

  const struct {
    const char* run;
    const char* code;
  } cases[] = {{"R-0001", "ESYMLINK"}, {"R-0002", "ESYMLINK"}, {"R-0003", "EHARDLINK"}, {"R-0004", "EINVAL"},
                 {"R-0005", "EISDIR"}};
  for (const auto& c : cases) {
    INFO(c.run);
    FileLock lock;
    std::string code;
    CHECK(f.lock(std::string("runs/") + c.run + "/worker.lock", lock, code) == -1);
    CHECK(code == c.code);
    CHECK_FALSE(lock.held());
  }
  CHECK_FALSE(exists(f.outside + "/worker.lock"));  // nothing was created through either link
  CHECK_FALSE(exists(f.outside + "/made.lock"));
}

TEST_CASE("a run folder swapped for a link while its lock is taken never leads the lock outside") {
  Folders f;
  const std::string race = f.inside + "/runs/R-0001", parked = f.inside + "/runs/parked";
  REQUIRE(mkdir((f.inside + "/runs").c_str(), 0755) == 0);
  REQUIRE(mkdir(race.c_str(), 0755) == 0);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    while (!stop) {
      rename(race.c_str(), parked.c_str());      // the real folder steps aside
      symlink(f.outside.c_str(), race.c_str());  // a link to outside takes its name
      unlink(race.c_str());
      rename(parked.c_str(), race.c_str());
    }
  });
  int taken = 0, refused = 0;
  for (int i = 0; i < 2000; ++i) {
    FileLock lock;
    std::string code;
    if (f.lock("runs/R-0001/worker.lock", lock, code) == 0) {
      ++taken;
    } else {
      ++refused;
      CHECK((code == "ESYMLINK" || code == "ENOENT" || code == "ENOTDIR"));
    }
  }
  stop = true;
  swapper.join();
  INFO(taken << " taken, " << refused << " refused");
  CHECK(taken + refused == 2000);
  CHECK_FALSE(exists(f.outside + "/worker.lock"));
}
