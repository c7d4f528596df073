// Internal to the process loop (host/process/process_*.cpp), not for its users: the state of one child
// and of the loop, and the functions the loop's files share. Single-threaded like the loop.
#pragma once
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "process/log_cap.hpp"
#include "process/output_buffer.hpp"
#include "process/process.hpp"
#include "process/process_loop.hpp"
#include "secrets/stream_redactor.hpp"
#include "util/unique_fd.hpp"

namespace sidecar::host {
namespace detail {

constexpr std::size_t kReadBuffer = 256 * 1024;
constexpr int kReadsPerWakeup = 64;      // then let timers and other processes have a turn
constexpr int kPipeSizeForFiles = 1 << 20;

// An fd closed on scope exit unless released: spawn's error paths leave nothing open.
using Fd = UniqueFd;

struct Process;

struct Stream {
  Process* owner = nullptr;
  ProcessEvent::Kind kind = ProcessEvent::Stdout;
  int fd = -1;           // our end of the pipe (or the pty master)
  uv_poll_t poll{};
  bool open = false;     // still being read
  bool pty = false;
  OutputSink sink;
  int file_fd = -1;      // the tee file, while it is written
  bool splice = false;   // pipe → file by splice(2): the bytes never pass through user space
  TailBuffer tail;
  LineSplitter splitter;
  uint64_t bytes = 0;
  int direct_fd = -1;    // the child writes this file itself (no pipe): counted from its size
  off_t direct_start = 0;
  std::unique_ptr<StreamRedactor> redactor;  // when the sink redacts
  LogCap cap;            // the tee file's bound (sink.max_bytes), after redaction
};

struct Process {
  ProcessLoop::Impl* loop = nullptr;
  uint64_t id = 0;
  SpawnOptions opts;
  ProcessResult result;
  uv_timer_t wall_timer{}, idle_timer{}, tick_timer{};
  Stream out, err;
  uv_pipe_t stdin_pipe{};
  bool stdin_handle = false;  // stdin_pipe initialised and not closing
  bool stdin_open = false;    // accepts writes
  std::string stdin_error;
  std::size_t stdin_queued = 0;
  int handles = 0;            // libuv handles not yet closed; freed at 0 once released
  bool spawned = false, exited = false, finished = false, released = false;
  bool term_sent = false, kill_sent = false;
  uint64_t started_ns = 0, last_output_ms = 0, exited_at = 0, term_at = 0, kill_at = 0;
};

struct WriteRequest {
  uv_write_t req{};
  std::string data;
};

// process_loop.cpp: lifecycle
std::string uv_message(int status);
void on_handle_closed(uv_handle_t* h);  // the close callback of every handle owned by a Process
void close_handle(uv_handle_t* h);
void queue_event(Process& p, ProcessEvent::Kind kind, bool line, std::string data);

// process_end.cpp: how a process ends
bool group_alive(const Process& p);  // a member of its process group is still running
void begin_stop(Process& p);         // SIGTERM to the group; SIGKILL follows after the grace
void kill_now(Process& p);           // SIGKILL to the group at once
void supervise(Process& p);  // re-examines an ending process (after output ends, exit, ticks)
void start_timeouts(Process& p);     // the wall and idle clocks, once it has started
void on_sigchld(uv_signal_t* h, int signum);  // reaps the loop's children that have exited

// process_output.cpp: reading stdout and stderr
bool make_pipe(Fd& ours, Fd& theirs, bool child_reads, SpawnError& error);
bool open_tee(const OutputSink& sink, const char* which, Fd& file, SpawnError& error);
void start_stream(Process& p, Stream& s, ProcessEvent::Kind kind, int fd, int file_fd, bool pty);
void end_stream(Stream& s);

// process_stdin.cpp: writing stdin
bool queue_write(Process& p, std::string data, std::string& error);
bool send_eof(Process& p, std::string& error);
void close_stdin_handle(Process& p);

}  // namespace detail

struct ProcessLoop::Impl {
  uv_loop_t loop{};
  uv_async_t waker{};
  uv_timer_t step_timer{};
  uv_signal_t sigchld{};
  int slot = -1;
  std::atomic<uint64_t> interrupts{0};  // this loop's own (interrupt()), beside the process-wide count
  uint64_t next_id = 1;
  std::size_t running = 0;
  std::unordered_map<uint64_t, std::unique_ptr<detail::Process>> processes;
  std::deque<ProcessEvent> events;
  // Not zeroed: a vector would touch all 256 KiB (64 page faults) at every start; reads only
  // touch the pages they fill.
  std::unique_ptr<char[]> buffer{new char[detail::kReadBuffer]};

  // Called at exit(): a script that calls os.exit() must not leave its children running.
  void kill_groups_now() {
    for (auto& [id, p] : processes) {
      if (p->spawned && !p->finished) kill(-p->result.pid, SIGKILL);
    }
  }
};

}  // namespace sidecar::host
