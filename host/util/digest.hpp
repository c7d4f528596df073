// SHA-256 digests (OpenSSL's libcrypto), as lowercase hex.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sidecar::host {

std::string sha256_hex(std::string_view data);

// The digest of a file's contents, read in blocks; nullopt with `error` set when it cannot be read.
std::optional<std::string> sha256_file_hex(const std::string& path, std::string& error);

}  // namespace sidecar::host
