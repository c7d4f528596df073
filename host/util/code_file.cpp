#include "util/code_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidecar {
namespace {

std::string code_of(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return "ENOENT";
    case EACCES:
    case EPERM:
      return "EACCES";
    default:
      return "EIO";
  }
}

}  // namespace

std::optional<std::string> read_code_file(const std::string& path, std::size_t max_bytes, CodeFileError& error) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    error = {path + ": " + std::strerror(err), code_of(err)};
    return std::nullopt;
  }
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    error = {path + ": " + std::strerror(err), code_of(err)};
  } else if (!S_ISREG(st.st_mode)) {
    error = {path + ": not a regular file (a folder, FIFO, socket or device): Sidecar reads code only from files",
             "ENOTREG"};
  } else if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    error = {path + ": larger than " + std::to_string(max_bytes) + " bytes", "EFBIG"};
  } else {
    std::string data;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        error = {path + ": " + std::strerror(err), code_of(err)};
        break;
      }
      if (n == 0) {
        out = std::move(data);
        break;
      }
      data.append(buf, static_cast<std::size_t>(n));
      if (data.size() > max_bytes) {  // grew while read
        error = {path + ": larger than " + std::to_string(max_bytes) + " bytes", "EFBIG"};
        break;
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace sidecar
