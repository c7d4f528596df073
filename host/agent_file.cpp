#include "agent_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "stream_redactor.hpp"

namespace sidecar::host {
namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string failed(const std::string& path, const char* what, int err) {
  return "cannot redact " + path + ": " + what + (err ? std::string(": ") + std::strerror(err) : std::string());
}

}  // namespace

bool redact_agent_file(const Redactor& redactor, const std::string& path, std::uint64_t max_bytes,
                       AgentFileResult& result, std::string& error) {
  result = {};
  // O_NOFOLLOW and O_NONBLOCK: a link is refused, and opening a FIFO does not wait for a writer.
  Fd in(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (in.fd < 0) {
    if (errno == ENOENT) return true;
    error = failed(path, errno == ELOOP ? "it is a symbolic link" : "cannot open it", errno == ELOOP ? 0 : errno);
    return false;
  }
  result.present = true;
  struct stat st {};
  if (::fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = failed(path, "it is not a regular file (a FIFO, device or folder)", 0);
    return false;
  }
  result.size = static_cast<std::uint64_t>(st.st_size);
  if (max_bytes > 0 && result.size > max_bytes) {
    result.dropped = result.size - max_bytes;
    if (::lseek(in.fd, static_cast<off_t>(result.dropped), SEEK_SET) < 0) {
      error = failed(path, "cannot seek in it", errno);
      return false;
    }
  }
  const std::string tmp = path + ".redacting";
  ::unlink(tmp.c_str());
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (out.fd < 0) {
    error = failed(path, "cannot create its redacted copy", errno);
    return false;
  }
  bool ok = true;
  if (result.dropped > 0) {
    char marker[160];
    std::snprintf(marker, sizeof marker, "[sidecar: the first %llu bytes of this file were dropped: it passed %llu bytes]\n",
                  static_cast<unsigned long long>(result.dropped), static_cast<unsigned long long>(max_bytes));
    ok = write_all(out.fd, marker);
  }
  StreamRedactor stream(redactor);
  std::uint64_t left = result.size - result.dropped;  // never more than was there when it was seen
  char buf[65536];
  while (ok && left > 0) {
    const ssize_t n = ::read(in.fd, buf, left < sizeof buf ? static_cast<std::size_t>(left) : sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = failed(path, "cannot read it", errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    left -= static_cast<std::uint64_t>(n);
    ok = write_all(out.fd, stream.feed(std::string_view(buf, static_cast<std::size_t>(n))));
  }
  ok = ok && write_all(out.fd, stream.finish());
  result.redacted = stream.replacements();
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = false;
  if (!ok) {
    if (error.empty()) error = failed(path, "cannot write its redacted copy", errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace sidecar::host
