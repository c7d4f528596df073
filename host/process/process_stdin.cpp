// Writing a child's stdin: queued writes on a libuv pipe, then EOF (or ^D on a terminal).
#include "process/process_state.hpp"

namespace sidecar::host::detail {

void close_stdin_handle(Process& p) {
  p.stdin_open = false;
  if (p.stdin_handle) {
    p.stdin_handle = false;
    close_handle(reinterpret_cast<uv_handle_t*>(&p.stdin_pipe));
  }
}

static void on_written(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteRequest*>(req);
  Process& p = *static_cast<Process*>(req->data);
  p.stdin_queued -= w->data.size();
  if (status < 0 && status != UV_ECANCELED) {
    p.stdin_error = status == UV_EPIPE ? "stdin: the process stopped reading its input (EPIPE)"
                                       : "stdin: " + uv_message(status);
    close_stdin_handle(p);
  }
  delete w;
}

bool queue_write(Process& p, std::string data, std::string& error) {
  if (!p.stdin_open) {
    error = !p.stdin_error.empty() ? p.stdin_error
            : p.opts.stdin_mode != StdinMode::Stream && !p.opts.pty ? "stdin is not a stream (spawn with stdin = true)"
                                                                    : "stdin is closed";
    return false;
  }
  if (data.empty()) return true;
  auto* w = new WriteRequest;
  w->data = std::move(data);
  w->req.data = &p;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int r = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&p.stdin_pipe), &buf, 1, on_written);
  if (r < 0) {
    error = "stdin: " + uv_message(r);
    delete w;
    return false;
  }
  p.stdin_queued += w->data.size();
  return true;
}

static void on_shutdown(uv_shutdown_t* req, int) {
  Process& p = *static_cast<Process*>(req->data);
  delete req;
  if (p.stdin_handle) {
    p.stdin_handle = false;
    close_handle(reinterpret_cast<uv_handle_t*>(&p.stdin_pipe));
  }
}

// EOF for the child's stdin once the queued bytes are written: at once when they all are (a
// prompt the pipe holds whole: libuv writes it at once), so the child reads its end without
// waiting for this process's next turn of the loop, which a pool starting its next runs may be
// long in taking; else once the loop has written the rest. A terminal has no EOF of its own: it
// gets ^D, which a program reading the terminal takes as end of input.
bool send_eof(Process& p, std::string& error) {
  if (p.opts.pty) {
    if (!queue_write(p, "\x04", error)) return false;
    p.stdin_open = false;
    return true;
  }
  if (!p.stdin_open) {
    error = "stdin is already closed";
    return false;
  }
  if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&p.stdin_pipe)) == 0) {
    close_stdin_handle(p);  // written whole: the writes' callbacks still come, with their status
    return true;
  }
  p.stdin_open = false;
  auto* req = new uv_shutdown_t;
  req->data = &p;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&p.stdin_pipe), on_shutdown) < 0) {
    delete req;
    close_stdin_handle(p);
  }
  return true;
}

}  // namespace sidecar::host::detail
