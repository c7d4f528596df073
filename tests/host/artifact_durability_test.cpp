// When the artifact folder makes the names of folders it creates durable: fsync is counted here
// (this test executable defines it, forwarding to the system call) while a test watches.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "store/artifact_store.hpp"
#include "util/fsync_all.hpp"
#include "util/unique_fd.hpp"

using sidecar::host::ArtifactDir;
using sidecar::host::FsError;

namespace {

using Key = std::pair<dev_t, ino_t>;

std::mutex g_mutex;
bool g_watching = false;
std::multiset<Key> g_synced;  // the folders and files fsynced while watching
std::set<Key> g_failing;      // fsyncs of these fail with EIO (a disk that lost the write)
bool g_failing_files = false;  // and so do those of every regular file

Key key_of(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return {st.st_dev, st.st_ino};
}

struct Watch {
  Watch() {
    std::lock_guard<std::mutex> hold(g_mutex);
    g_synced.clear();
    g_watching = true;
  }
  ~Watch() {
    std::lock_guard<std::mutex> hold(g_mutex);
    g_watching = false;
    g_failing.clear();
    g_failing_files = false;
  }
  void fail_files() {
    std::lock_guard<std::mutex> hold(g_mutex);
    g_failing_files = true;
  }
  void fail(const std::string& path) {
    Key k = key_of(path);
    std::lock_guard<std::mutex> hold(g_mutex);
    g_failing.insert(k);
  }
  std::size_t count(const std::string& path) {
    std::lock_guard<std::mutex> hold(g_mutex);
    return g_synced.count(key_of(path));
  }
  // Fsyncs of `base` and everything under it (never another test's or thread's files).
  std::size_t total_under(const std::string& base) {
    std::set<Key> keys;
    collect(base, keys);
    std::lock_guard<std::mutex> hold(g_mutex);
    std::size_t n = 0;
    for (const Key& k : g_synced) n += keys.count(k);
    return n;
  }

 private:
  static void collect(const std::string& path, std::set<Key>& keys) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return;
    keys.insert({st.st_dev, st.st_ino});
    if (!S_ISDIR(st.st_mode)) return;
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") collect(path + "/" + name, keys);
    }
    closedir(d);
  }
};

// A fresh folder for one test: under the first of /var/tmp, /tmp and the working folder whose
// file system needs an fsync (one held in memory, a tmpfs /tmp, is never fsynced: its fsyncs would
// not be seen here); or under `in` when given. on_disk: false when none does (the test is skipped).
struct Base {
  std::string path;
  bool on_disk = false;
  explicit Base(const char* in = nullptr) {
    for (const char* parent : {"/var/tmp", "/tmp", "."}) {
      const std::string where = in ? in : parent;
      std::string tmpl = where + "/sidecar-durability-XXXXXX";
      if (mkdtemp(tmpl.data()) == nullptr) continue;
      const sidecar::host::UniqueFd dir(::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      path = tmpl;
      on_disk = !sidecar::host::fsync_is_noop(dir.fd);
      if (on_disk || in) break;
      rmdir(path.c_str());
      path.clear();
    }
    if (path.empty()) {
      WARN("no file system here needs an fsync (/var/tmp, /tmp and the working folder are in memory): skipped");
    }
  }
  ~Base() {
    if (!path.empty()) std::system(("rm -rf '" + path + "'").c_str());
  }
  // The folder itself, opened (it exists: nothing is created, nothing left to sync).
  ArtifactDir open() const {
    FsError error;
    auto dir = ArtifactDir::open(path, false, error);
    REQUIRE(dir);
    return std::move(*dir);
  }
};

}  // namespace

extern "C" int fsync(int fd) {
  {
    std::lock_guard<std::mutex> hold(g_mutex);
    struct stat st {};
    if (g_watching && fstat(fd, &st) == 0) {
      g_synced.insert({st.st_dev, st.st_ino});
      if (g_failing.count({st.st_dev, st.st_ino}) != 0 || (g_failing_files && S_ISREG(st.st_mode))) {
        errno = EIO;
        return -1;
      }
    }
  }
  return static_cast<int>(syscall(SYS_fsync, fd));
}

TEST_CASE("artifact durability: a folder open creates is made durable by sync(), not before it returns") {
  Base base;
  if (!base.on_disk) return;
  Watch watch;
  FsError error;
  auto dir = ArtifactDir::open(base.path + "/runs/R-0001", true, error);
  REQUIRE(dir);
  CHECK(watch.total_under(base.path) == 0);  // no fsync before the caller's first write
  REQUIRE(dir->sync(error));
  CHECK(watch.count(base.path) == 1);          // holds the new "runs"
  CHECK(watch.count(base.path + "/runs") == 1);  // holds the new "R-0001"
  CHECK(watch.total_under(base.path) == 2);
  REQUIRE(dir->sync(error));
  CHECK(watch.total_under(base.path) == 2);  // once only
}

TEST_CASE("artifact durability: the close makes them durable when sync() was not called") {
  Base base;
  if (!base.on_disk) return;
  Watch watch;
  {
    FsError error;
    auto dir = ArtifactDir::open(base.path + "/runs", true, error);
    REQUIRE(dir);
    auto moved = std::move(*dir);  // a moved-from folder owes nothing; the new owner does
    CHECK(watch.total_under(base.path) == 0);
  }
  CHECK(watch.count(base.path) == 1);
  CHECK(watch.total_under(base.path) == 1);
}

TEST_CASE("artifact durability: opening an existing folder leaves nothing to sync") {
  Base base;
  if (!base.on_disk) return;
  REQUIRE(mkdir((base.path + "/runs").c_str(), 0755) == 0);
  Watch watch;
  FsError error;
  auto dir = ArtifactDir::open(base.path + "/runs", true, error);
  REQUIRE(dir);
  REQUIRE(dir->sync(error));
  CHECK(watch.total_under(base.path) == 0);
}

TEST_CASE("artifact durability: a durable write fsyncs its data and its folder before it returns") {
  Base base;
  if (!base.on_disk) return;
  FsError error;
  ArtifactDir dir = base.open();
  Watch watch;
  REQUIRE(dir.write("run.json", "{}\n", error));
  CHECK(watch.count(base.path + "/run.json") == 1);
  CHECK(watch.count(base.path) == 1);
}

TEST_CASE("artifact durability: on a file system held in memory nothing is fsynced (it would do nothing)") {
  if (!sidecar::host::fsync_is_noop(sidecar::host::UniqueFd(::open("/dev/shm", O_RDONLY | O_DIRECTORY)).fd)) {
    WARN("/dev/shm is not held in memory here: not checked");
    return;
  }
  Base base("/dev/shm");
  REQUIRE_FALSE(base.on_disk);
  FsError error;
  ArtifactDir dir = base.open();
  Watch watch;
  REQUIRE(dir.write("run.json", "{}\n", error));
  REQUIRE(dir.write_all({{"a/b.txt", "b"}, {"c.txt", "c"}}, error));
  REQUIRE(dir.sync(error));
  CHECK(watch.total_under(base.path) == 0);
}

TEST_CASE("artifact durability: create_dir's new name is fsynced with the next durable write, side by side") {
  Base base;
  if (!base.on_disk) return;
  FsError error;
  ArtifactDir dir = base.open();
  Watch watch;
  REQUIRE(dir.create_dir("t-1", error));
  CHECK(watch.total_under(base.path) == 0);  // the claim waits for no disk
  REQUIRE(dir.write_all({{"t-1/prompt.md", "hello\n"}, {"t-1/inputs/a.txt", "a\n"}}, error));
  CHECK(watch.count(base.path + "/t-1/prompt.md") == 1);
  CHECK(watch.count(base.path + "/t-1/inputs/a.txt") == 1);
  CHECK(watch.count(base.path) == 1);                // holds "t-1"
  CHECK(watch.count(base.path + "/t-1") == 1);       // holds prompt.md and "inputs"
  CHECK(watch.count(base.path + "/t-1/inputs") == 1);  // holds a.txt
  CHECK(watch.total_under(base.path) == 5);
  REQUIRE(dir.sync(error));
  CHECK(watch.total_under(base.path) == 5);  // nothing left pending
}

TEST_CASE("artifact durability: a whole write leaves its folder to sync(); an atomic one fsyncs nothing") {
  Base base;
  if (!base.on_disk) return;
  FsError error;
  ArtifactDir dir = base.open();
  Watch watch;
  REQUIRE(dir.write("a.txt", "a\n", error, sidecar::host::Durability::Atomic));
  CHECK(watch.total_under(base.path) == 0);
  REQUIRE(dir.write("b.txt", "b\n", error, sidecar::host::Durability::Whole));
  REQUIRE(dir.write("c.txt", "c\n", error, sidecar::host::Durability::Whole));
  CHECK(watch.count(base.path + "/b.txt") == 1);
  CHECK(watch.count(base.path) == 0);
  REQUIRE(dir.sync(error));
  CHECK(watch.count(base.path) == 1);  // once for both
}

TEST_CASE("artifact durability: a folder moved over another makes the other's pending names durable first") {
  Base base;
  if (!base.on_disk) return;
  Watch watch;
  FsError error;
  auto a = ArtifactDir::open(base.path + "/a", true, error);
  auto b = ArtifactDir::open(base.path + "/b/c", true, error);
  REQUIRE(a);
  REQUIRE(b);
  *a = std::move(*b);  // a's pending name ("a", in base) is fsynced now; b's move to a
  CHECK(watch.count(base.path) == 1);
  CHECK(watch.count(base.path + "/b") == 0);
  REQUIRE(a->sync(error));
  CHECK(watch.count(base.path) == 2);  // holds "b"
  CHECK(watch.count(base.path + "/b") == 1);  // holds "c"
}

TEST_CASE("artifact durability: a failed fsync is an EIO error, and a failed data fsync changes nothing") {
  Base base;
  if (!base.on_disk) return;
  FsError error;
  ArtifactDir dir = base.open();
  REQUIRE(dir.write("run.json", "old\n", error));
  {
    Watch watch;
    watch.fail_files();  // the data never reaches the disk: no rename may happen
    CHECK_FALSE(dir.write_all({{"run.json", "new\n"}, {"model.json", "{}\n"}}, error));
    CHECK(error.code == "EIO");
  }
  auto text = dir.read("run.json", error);
  REQUIRE(text);
  CHECK(*text == "old\n");
  CHECK_FALSE(dir.exists("model.json"));
  DIR* d = opendir(base.path.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) CHECK(std::string(e->d_name).find(".tmp-") == std::string::npos);
  closedir(d);
  {
    Watch watch;
    watch.fail(base.path);  // the folder's fsync fails: the file is in place, whole, not durable
    CHECK_FALSE(dir.write("model.json", "{}\n", error));
    CHECK(error.code == "EIO");
    CHECK(error.message.find("fsync of a folder failed") != std::string::npos);
    CHECK(dir.exists("model.json"));
    REQUIRE(dir.sync(error));  // reported once, not again
  }
}

TEST_CASE("artifact durability: a whole write into new folders leaves their names to sync(), each once") {
  Base base;
  if (!base.on_disk) return;
  FsError error;
  ArtifactDir dir = base.open();
  Watch watch;
  REQUIRE(dir.write("x/y/z.txt", "z\n", error, sidecar::host::Durability::Whole));
  CHECK(watch.count(base.path + "/x/y/z.txt") == 1);  // the data, before the rename
  CHECK(watch.total_under(base.path) == 1);           // no folder waited for
  REQUIRE(dir.sync(error));
  CHECK(watch.count(base.path) == 1);           // holds "x"
  CHECK(watch.count(base.path + "/x") == 1);    // holds "y"
  CHECK(watch.count(base.path + "/x/y") == 1);  // holds z.txt
  REQUIRE(dir.sync(error));
  CHECK(watch.total_under(base.path) == 4);  // nothing left pending
}
