#include "process/memory_file.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sidecar::host {

int open_memory_file(const char* name) { return memfd_create(name, MFD_CLOEXEC); }

int empty_memory_file(int fd) {
  if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) return errno;
  return 0;
}

std::optional<std::string> read_memory_file(int fd, std::size_t max, int& error) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    error = errno;
    return std::nullopt;
  }
  std::string text(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      return std::nullopt;
    }
    if (n == 0) break;  // shrunk meanwhile
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace sidecar::host
