// Fsyncing several descriptors (host/util/fsync_all.hpp): a file system held in memory needs no
// fsync (and so no thread for one); any other is fsynced, and a failure is reported.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

#include "util/fsync_all.hpp"
#include "util/unique_fd.hpp"

using sidecar::host::fsync_all;
using sidecar::host::fsync_is_noop;

namespace {

// The type of the file system mounted at `mount_point`, as the mount table says (not statfs,
// which the code under test reads); "" when nothing is mounted there.
std::string mounted_type(const std::string& mount_point) {
  std::ifstream mounts("/proc/self/mounts");
  std::string line, found;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, where, type;
    if (fields >> device >> where >> type && where == mount_point) found = type;  // the last mount wins
  }
  return found;
}

}  // namespace

TEST_CASE("fsync_all: none for a file system in memory; any other fsynced, its failure reported", "[artifact]") {
  sidecar::host::UniqueFd proc(open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(proc.fd >= 0);
  CHECK_FALSE(fsync_is_noop(proc.fd));  // procfs: not one held in memory as tmpfs is
  CHECK_FALSE(fsync_is_noop(-1));       // unknown: fsynced, never skipped
  CHECK(fsync_all({-1}) == EBADF);
  CHECK(fsync_all({}) == 0);
  if (mounted_type("/dev/shm") != "tmpfs") {
    WARN("/dev/shm is not a tmpfs here: the in-memory case is not checked");
    return;
  }
  sidecar::host::UniqueFd shm(open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(shm.fd >= 0);
  CHECK(fsync_is_noop(shm.fd));
  CHECK(fsync_all({shm.fd, shm.fd, shm.fd}) == 0);
  CHECK(fsync_all({shm.fd, -1}) == EBADF);  // one in memory skipped, the other still fsynced
}
