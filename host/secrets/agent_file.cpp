#include "secrets/agent_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "secrets/stream_redactor.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace {

std::string failed(const std::string& path, const char* what, int err) {
  return "cannot redact " + path + ": " + what + (err ? std::string(": ") + std::strerror(err) : std::string());
}

constexpr std::uint64_t kReadFirst = 64 * 1024;  // files up to this size are read before any rewrite

// Whether the first `size` bytes of `fd` hold nothing the redactor would replace (read from
// offset 0 with pread, so the file offset stays where it was).
bool nothing_to_redact(const Redactor& redactor, int fd, std::uint64_t size) {
  std::string text(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // an error, or the file shrank: the rewrite decides
    got += static_cast<std::size_t>(n);
  }
  StreamRedactor stream(redactor);
  stream.feed(text);
  stream.finish();
  return stream.replacements() == 0;
}

}  // namespace

bool redact_agent_file(const Redactor& redactor, const std::string& path, std::uint64_t max_bytes,
                       AgentFileResult& result, std::string& error) {
  result = {};
  // O_NOFOLLOW and O_NONBLOCK: a link is refused, and opening a FIFO does not wait for a writer.
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (in.fd < 0) {
    if (errno == ENOENT) return true;
    const int err = errno;
    error = failed(path, err == ELOOP ? "it is a symbolic link" : "cannot open it", err == ELOOP ? 0 : err);
    result.error_code = err == ELOOP ? "ELOOP" : "EIO";
    return false;
  }
  result.present = true;
  struct stat st {};
  if (::fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    result.error_code = "ENOTREG";
    error = failed(path, "it is not a regular file (a FIFO, device or folder)", 0);
    return false;
  }
  result.size = static_cast<std::uint64_t>(st.st_size);
  // Empty or small with nothing to redact (the log of refused pushes on nearly every run holds
  // its first line only): a rewrite would cost a file's creation and a rename for nothing.
  if (result.size == 0) return true;
  const bool within = max_bytes == 0 || result.size <= max_bytes;
  if (within && result.size <= kReadFirst && nothing_to_redact(redactor, in.fd, result.size)) return true;
  if (max_bytes > 0 && result.size > max_bytes) {
    result.dropped = result.size - max_bytes;
    // The cut may fall inside a secret, whose rest no rule would know again: what is kept starts
    // after the next line break (the redactor reads whole lines), or, in a flood without one,
    // past the redactor's overlap.
    char head[StreamRedactor::kMaxHold];
    const ssize_t n = ::pread(in.fd, head, sizeof head, static_cast<off_t>(result.dropped));
    if (n > 0) {
      const void* nl = std::memchr(head, '\n', static_cast<std::size_t>(n));
      result.dropped += nl ? static_cast<std::uint64_t>(static_cast<const char*>(nl) - head + 1)
                           : std::min<std::uint64_t>(StreamRedactor::kOverlap, static_cast<std::uint64_t>(n));
    }
    if (::lseek(in.fd, static_cast<off_t>(result.dropped), SEEK_SET) < 0) {
      error = failed(path, "cannot seek in it", errno);
      result.error_code = "EIO";
      return false;
    }
  }
  const std::string tmp = path + ".redacting";
  ::unlink(tmp.c_str());
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (out.fd < 0) {
    error = failed(path, "cannot create its redacted copy", errno);
    result.error_code = "EIO";
    return false;
  }
  bool ok = true;
  if (result.dropped > 0) {
    char marker[160];
    std::snprintf(marker, sizeof marker, "[sidecar: the first %llu bytes of this file were dropped: it passed %llu bytes]\n",
                  static_cast<unsigned long long>(result.dropped), static_cast<unsigned long long>(max_bytes));
    ok = write_fully(out.fd, marker) == 0;
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
    ok = write_fully(out.fd, stream.feed(std::string_view(buf, static_cast<std::size_t>(n)))) == 0;
  }
  ok = ok && write_fully(out.fd, stream.finish()) == 0;
  result.redacted = stream.replacements();
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = false;
  if (!ok) {
    if (error.empty()) error = failed(path, "cannot write its redacted copy", errno);
    result.error_code = "EIO";
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace sidecar::host
