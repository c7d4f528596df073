// Shared by the benchmarks that make files: where their temporary folder goes, writing a file and
// reading a command's first line, and what creating a file costs there. That cost is part of every figure they print, and it varies more than one
// would think: on one machine and one ext4 disk, 12 us in one folder and 570 us in another (ext4
// without a journal skips inodes freed in the last minutes; bench/prepare.cpp's --breakdown
// times the same cost for prepare's eleven files).
#pragma once
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_stats.hpp"

namespace sidecar::bench {

// Writes `text` to `path` whole; false when it cannot.
inline bool write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

// The first line a shell command prints, without its newline ("" when it prints nothing).
inline std::string first_line(const std::string& command) {
  std::string out;
  if (std::FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    if (std::fgets(buf, sizeof buf, p)) out = buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// A new folder "<$TMPDIR or /tmp>/<name>.XXXXXX"; empty when it cannot be made.
inline std::string temp_folder(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + name + ".XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  return mkdtemp(buf.data()) ? std::string(buf.data()) : std::string();
}

// The median microseconds to create (and close) an empty file in `folder`, over 100 files that are
// removed afterwards; -1 when one cannot be made.
inline double file_create_us(const std::string& folder) {
  std::vector<double> us;
  std::vector<std::string> made;
  for (int i = 0; i < 100; ++i) {
    made.push_back(folder + "/.create-probe-" + std::to_string(i));
    long long t = now_ns();
    int fd = open(made.back().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    close(fd);
    us.push_back((now_ns() - t) / 1e3);
  }
  for (const std::string& f : made) unlink(f.c_str());
  return median(us);
}

}  // namespace sidecar::bench
