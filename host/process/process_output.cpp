// Reading a child's stdout and stderr: pipes (or the pty master) watched by the loop, each chunk
// handed to the consumers its sink names, or spliced straight into a file.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "process/process_state.hpp"

extern char** environ;

namespace sidecar::host::detail {

static void on_poll_closed(uv_handle_t* h) {
  Stream* s = static_cast<Stream*>(h->data);
  close(s->fd);  // only now: libuv must not be watching an fd when it is closed
  s->fd = -1;
  h->data = s->owner;
  on_handle_closed(h);
}

static const char* stream_name(const Stream& s) { return s.kind == ProcessEvent::Stdout ? "stdout" : "stderr"; }

static void stop_tee(Stream& s, const char* what) {
  Process& p = *s.owner;
  if (p.result.error.empty()) {
    p.result.error = std::string("cannot write ") + stream_name(s) + " to " + s.sink.file + ": " + what;
  }
  close(s.file_fd);
  s.file_fd = -1;
  s.splice = false;
}

// Into the file, through its bound (host/process/log_cap.hpp): past it the tail waits in memory.
static void write_tee(Stream& s, const char* data, std::size_t n) {
  if (int e = s.cap.write(s.file_fd, {data, n}); e != 0) stop_tee(s, std::strerror(e));
}

// Hands bytes to every consumer the sink names.
static void consume(Stream& s, std::string_view chunk) {
  Process& p = *s.owner;
  if (chunk.empty()) return;
  if (s.file_fd >= 0) write_tee(s, chunk.data(), chunk.size());
  if (s.sink.collect) s.tail.append(chunk);
  if (s.sink.chunks) queue_event(p, s.kind, false, std::string(chunk));
  if (s.sink.lines) {
    std::vector<std::string> lines;
    s.splitter.feed(chunk, lines);
    for (std::string& line : lines) queue_event(p, s.kind, true, std::move(line));
  }
}

// Output arrived: count it (as read), reset the idle clock, and hand it on, redacted when the sink
// asks: then a secret cut by a read is only handed on once its end has arrived.
static void deliver(Stream& s, const char* data, std::size_t n) {
  Process& p = *s.owner;
  s.bytes += n;
  p.last_output_ms = uv_now(&p.loop->loop);
  if (s.redactor) {
    consume(s, s.redactor->feed({data, n}));
  } else {
    consume(s, {data, n});
  }
}

void end_stream(Stream& s) {
  if (!s.open) return;
  if (s.redactor) consume(s, s.redactor->finish());  // what was held back for a line's end
  s.open = false;
  std::string last;
  if (s.sink.lines && s.splitter.finish(last)) queue_event(*s.owner, s.kind, true, std::move(last));
  if (s.file_fd >= 0) {
    // A log past its bound gets its marker and tail now.
    if (int e = s.cap.finish(s.file_fd); e != 0) stop_tee(s, std::strerror(e));
  }
  ProcessResult& r = s.owner->result;
  (s.kind == ProcessEvent::Stdout ? r.out_log : r.err_log) = s.cap.stats();
  if (s.file_fd >= 0) {
    close(s.file_fd);
    s.file_fd = -1;
  }
  uv_poll_stop(&s.poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.poll), on_poll_closed);
}

static void on_readable(uv_poll_t* h, int status, int) {
  Stream& s = *static_cast<Stream*>(h->data);
  Process& p = *s.owner;
  char* buffer = p.loop->buffer.get();
  for (int i = 0; i < kReadsPerWakeup && s.open; ++i) {
    ssize_t n;
    if (s.splice) {
      // Spliced up to the log's bound; the bytes past it are read, for its tail.
      const uint64_t room = s.cap.direct_room();
      if (room == 0) {
        s.splice = false;
        continue;
      }
      const std::size_t most = static_cast<std::size_t>(std::min<uint64_t>(kPipeSizeForFiles, room));
      n = ::splice(s.fd, nullptr, s.file_fd, nullptr, most, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        s.bytes += static_cast<uint64_t>(n);
        s.cap.count_direct(static_cast<uint64_t>(n));
        p.last_output_ms = uv_now(&p.loop->loop);
        continue;
      }
      if (n < 0 && errno == EINVAL) {  // the file system cannot take spliced pages: copy instead
        s.splice = false;
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) {  // the file failed (ENOSPC, EIO): keep draining
        stop_tee(s, std::strerror(errno));
        continue;
      }
    } else {
      n = ::read(s.fd, buffer, kReadBuffer);
      if (n > 0) {
        deliver(s, buffer, static_cast<std::size_t>(n));
        continue;
      }
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (status < 0) break;  // nothing to read, yet an error was reported: give up below
      return;
    }
    // EOF, or EIO from a pty master whose terminal has no process left: the stream has ended.
    if (n < 0 && !(s.pty && errno == EIO) && p.result.error.empty()) {
      p.result.error = std::string("reading ") + stream_name(s) + ": " + std::strerror(errno);
    }
    end_stream(s);
    supervise(p);
    return;
  }
  if (status < 0 && s.open) {
    end_stream(s);
    supervise(p);
  }
}

// A pipe for one standard stream: the child's end blocking (as programs expect), ours
// non-blocking. Both close-on-exec; the child gets a duplicate.
bool make_pipe(Fd& ours, Fd& theirs, bool child_reads, SpawnError& error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error = {std::string("cannot create a pipe: ") + std::strerror(errno), errno == EMFILE ? "EMFILE" : "EPIPE"};
    return false;
  }
  ours.reset(child_reads ? fds[1] : fds[0]);
  theirs.reset(child_reads ? fds[0] : fds[1]);
  fcntl(ours.fd, F_SETFL, fcntl(ours.fd, F_GETFL) | O_NONBLOCK);
  return true;
}

bool open_tee(const OutputSink& sink, const char* which, Fd& file, SpawnError& error) {
  if (sink.file.empty()) return true;
  // A bounded log reads back its tail when it passes the bound (host/process/log_cap.hpp). Never
  // through a symbolic link (one planted in a run's folder would have the log written, or
  // emptied, wherever it leads), and never waiting on a FIFO planted there.
  int flags = (sink.max_bytes > 0 ? O_RDWR : O_WRONLY) | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
              (sink.append ? O_APPEND : O_TRUNC);
  file.reset(open(sink.file.c_str(), flags, 0644));
  struct stat st {};
  if (file.fd >= 0 && (fstat(file.fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))) {
    // a FIFO (opened for reading and writing, a bounded log's, it would not have refused), a socket
    file.reset(-1);
    error = {std::string("cannot open the ") + which + " file " + sink.file + ": it is not a regular file", "EINVAL"};
    return false;
  }
  if (file.fd >= 0) fcntl(file.fd, F_SETFL, fcntl(file.fd, F_GETFL) & ~O_NONBLOCK);
  if (file.fd < 0) {
    error = {std::string("cannot open the ") + which + " file " + sink.file + ": " +
                 (errno == ELOOP ? std::string("it is a symbolic link") : std::strerror(errno)),
             errno == ENOENT ? "ENOENT" : errno == EACCES ? "EACCES" : "EIO"};
    return false;
  }
  return true;
}

void start_stream(Process& p, Stream& s, ProcessEvent::Kind kind, int fd, int file_fd, bool pty) {
  s.owner = &p;
  s.kind = kind;
  s.fd = fd;
  s.pty = pty;
  s.sink = kind == ProcessEvent::Stdout ? p.opts.out : p.opts.err;
  s.tail = TailBuffer(p.opts.max_output);
  s.file_fd = file_fd;
  s.cap = LogCap(s.sink.max_bytes);
  if (file_fd >= 0) s.cap.attach(file_fd);
  s.splice = file_fd >= 0 && !pty && !s.sink.collect && !s.sink.chunks && !s.sink.lines && !s.sink.append &&
             !s.sink.redact;
  if (s.sink.redact) {
    // The secrets of Sidecar's environment and of the one the child was given.
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    for (const auto& [name, value] : p.opts.env) {
      if (value) env.push_back(name + "=" + *value);
    }
    s.redactor = std::make_unique<StreamRedactor>(Redactor(env));
  }
  s.open = true;
  uv_poll_init(&p.loop->loop, &s.poll, fd);
  s.poll.data = &s;
  ++p.handles;
  uv_poll_start(&s.poll, UV_READABLE | UV_DISCONNECT, on_readable);
}

}  // namespace sidecar::host::detail
