// Reading a file whose text Sidecar is about to run or hash (a repository's .agent/config.lua or
// a preset): symbolic links are followed, as a user's own dotfiles link them, but what is at the
// end must be a regular file of bounded size. A repository that plants a FIFO (a read that blocks
// forever) or a link to /dev/zero (a read that never ends) gets an error naming the file instead.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace sidecar {

struct CodeFileError {
  std::string message;  // names the file and what is wrong with it
  std::string code;     // "ENOENT", "EACCES", "ENOTREG", "EFBIG", "EIO"
};

// The whole file at `path`, or nullopt with `error` set. Never blocks on a FIFO or device.
std::optional<std::string> read_code_file(const std::string& path, std::size_t max_bytes, CodeFileError& error);

}  // namespace sidecar
