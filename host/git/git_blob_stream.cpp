#include "git/git_blob_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sidecar::host::git {
namespace {

constexpr std::size_t kBuffer = 1 << 20;

bool is_true(const std::string& value) {
  return value == "true" || value == "yes" || value == "on" || value == "1" || value.empty();
}

git_index_time index_time(const struct timespec& t) {
  git_index_time out{};
  out.seconds = static_cast<std::int32_t>(t.tv_sec);
  out.nanoseconds = static_cast<std::uint32_t>(t.tv_nsec);
  return out;
}

}  // namespace

LargeBlobs::LargeBlobs(const Repo& r) : r_(r) {}

LargeBlobs::~LargeBlobs() {
  if (odb_) r_.api().git_odb_free(odb_);
}

bool LargeBlobs::settle() {
  if (settled_) return usable_;
  settled_ = true;
  std::string why;
  bool safe_crlf = false;
  if (auto values = r_.config_values("^core\\.(filemode|safecrlf|autocrlf)$", why)) {
    for (const auto& [name, value] : *values) {  // the last one set wins, as in git
      if (name == "core.filemode") file_mode_ = is_true(value);
      if (name == "core.safecrlf") safe_crlf = value != "false" && value != "no" && value != "off" && value != "0";
      if (name == "core.autocrlf") auto_crlf_ = value == "input" || is_true(value);
    }
  }
  usable_ = !safe_crlf && r_.api().git_repository_odb(&odb_, r_.raw()) == 0;
  return usable_;
}

bool LargeBlobs::take(const char* path) {
  std::string full = r_.workdir();
  if (!full.empty() && full.back() != '/') full += '/';
  full += path;
  struct stat st {};
  if (lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < kFrom || !settle()) return false;
  const Api& g = r_.api();
  // No filter: libgit2 streams the file itself. Only crlf: this file may be written here.
  git_filter_list* raw_filters = nullptr;
  if (g.git_filter_list_load(&raw_filters, r_.raw(), nullptr, path, GIT_FILTER_TO_ODB, GIT_FILTER_DEFAULT) < 0 ||
      !raw_filters) {
    return false;
  }
  std::unique_ptr<git_filter_list, void (*)(git_filter_list*)> filters(raw_filters, g.git_filter_list_free);
  if (g.git_filter_list_length(raw_filters) != 1 || !g.git_filter_list_contains(raw_filters, "crlf")) return false;
  // The filter's "auto" (text=auto, or core.autocrlf without a text, crlf or eol attribute)
  // passes a binary file as it is, CRLF pairs and all.
  const char* names[] = {"text", "crlf", "eol"};
  const char* values[3] = {nullptr, nullptr, nullptr};
  bool automatic = false;
  if (g.git_attr_get_many(values, r_.raw(), 0, path, 3, names) == 0) {
    auto unset = [&](const char* v) { return g.git_attr_value(v) == GIT_ATTR_VALUE_UNSPECIFIED; };
    automatic = (g.git_attr_value(values[0]) == GIT_ATTR_VALUE_STRING && std::strcmp(values[0], "auto") == 0) ||
                (auto_crlf_ && unset(values[0]) && unset(values[1]) && unset(values[2]));
  }
  auto file = write(full.c_str(), automatic);
  if (!file) return false;
  file->path = path;
  files_.push_back(std::move(*file));
  return true;
}

// The file's bytes into a blob, a buffer at a time, finalized only when the crlf filter would
// leave them as they are: no CR LF pair in them, or (`automatic`) a NUL byte, which makes the file
// binary to that filter. Else nothing is finalized, so nothing written: libgit2 adds the file.
std::optional<LargeBlobs::File> LargeBlobs::write(const char* full, bool automatic) {
  const Api& g = r_.api();
  File f;
  int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  if (fstat(fd, &f.st) != 0 || !S_ISREG(f.st.st_mode)) {
    close(fd);
    return std::nullopt;
  }
  git_odb_stream* raw = nullptr;
  if (g.git_odb_open_wstream(&raw, odb_, static_cast<git_object_size_t>(f.st.st_size), GIT_OBJECT_BLOB) < 0) {
    close(fd);
    return std::nullopt;
  }
  std::unique_ptr<git_odb_stream, void (*)(git_odb_stream*)> stream(raw, g.git_odb_stream_free);
  std::unique_ptr<char[]> buffer(new char[kBuffer]);
  std::int64_t left = f.st.st_size;
  bool ok = true, crlf = false, nul = false, cr_last = false;
  while (ok && left > 0) {
    ssize_t n = ::read(fd, buffer.get(), static_cast<std::size_t>(std::min<std::int64_t>(left, kBuffer)));
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0 && g.git_odb_stream_write(raw, buffer.get(), static_cast<std::size_t>(n)) == 0;  // shrank: libgit2's
    const char* b = buffer.get();
    for (ssize_t i = 0; ok && i < n && !crlf; ++i) {
      crlf = b[i] == '\n' && (i > 0 ? b[i - 1] == '\r' : cr_last);
    }
    nul = nul || (ok && std::memchr(b, '\0', static_cast<std::size_t>(n)) != nullptr);
    cr_last = ok && b[n - 1] == '\r';
    left -= n > 0 ? n : 0;
  }
  char extra = 0;
  ok = ok && ::read(fd, &extra, 1) == 0 && (!crlf || (automatic && nul));  // grown, or the filter's to convert
  close(fd);
  if (!ok || g.git_odb_stream_finalize_write(&f.id, raw) < 0) return std::nullopt;
  return f;
}

bool LargeBlobs::add(git_index* index, std::string& why) {
  const Api& g = r_.api();
  for (const File& f : files_) {
    git_index_entry e{};
    e.ctime = index_time(f.st.st_ctim);
    e.mtime = index_time(f.st.st_mtim);
    e.dev = static_cast<std::uint32_t>(f.st.st_dev);
    e.ino = static_cast<std::uint32_t>(f.st.st_ino);
    e.uid = f.st.st_uid;
    e.gid = f.st.st_gid;
    e.file_size = static_cast<std::uint32_t>(f.st.st_size);  // git keeps the low 32 bits too
    e.mode = (f.st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
    const git_index_entry* was = g.git_index_get_bypath(index, f.path.c_str(), 0);
    if (!file_mode_ && was && (was->mode & 0170000) == 0100000) e.mode = was->mode;
    e.id = f.id;
    e.path = f.path.c_str();
    if (g.git_index_add(index, &e) < 0) {
      why = last_error(g, "a large file could not be added") + " (" + f.path + ")";
      return false;
    }
  }
  return true;
}

}  // namespace sidecar::host::git
