#include "util/digest.hpp"

// The SHA256_* functions rather than EVP: EVP brings OpenSSL's provider machinery with it, whose
// tables cost every start of the (statically linked) binary ~16 000 relocations and ~100 page
// faults, about 0.25 ms, although most commands never hash anything. These are the same
// assembly routines (SHA extensions, AVX2), only without the dispatch layer.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidecar::host {
namespace {

std::string hex(const unsigned char* bytes, unsigned n) {
  static const char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

std::string finish(SHA256_CTX& ctx) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &ctx);
  return hex(md, SHA256_DIGEST_LENGTH);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  return finish(ctx);
}

std::optional<std::string> sha256_file_hex(const std::string& path, std::string& error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = path + ": " + std::strerror(errno);
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    SHA256_Update(&ctx, buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return finish(ctx);
}

}  // namespace sidecar::host
