// How a process ends (internal to the process loop, host/process/process_state.hpp): its timeouts, the
// SIGTERM-then-SIGKILL escalation over its whole group, reaping on SIGCHLD, and the supervision
// that finishes it once it has exited, its output has ended and no member of its group is left.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>

#include "process/process_group.hpp"
#include "process/process_state.hpp"
#include "process/spawn_child.hpp"

namespace sidecar::host::detail {
namespace {

constexpr uint64_t kDrainMs = 100;       // how long a group may hold the pipes after its leader exits
constexpr uint64_t kTickMs = 10;         // supervision period while a process is ending
constexpr uint64_t kForceCloseMs = 500;  // after SIGKILL: stop waiting for pipes held outside the group

}  // namespace

bool group_alive(const Process& p) { return p.spawned && group_has_live_members(p.result.pid); }

static void start_tick(Process& p);

// SIGTERM to the whole group; SIGKILL follows after the grace (see supervise).
void begin_stop(Process& p) {
  if (p.finished || p.term_sent || !p.spawned) return;
  p.term_sent = true;
  p.term_at = uv_now(&p.loop->loop);
  p.result.stopped = true;
  kill(-p.result.pid, SIGTERM);
  start_tick(p);
}

void kill_now(Process& p) {
  if (p.finished || p.kill_sent || !p.spawned) return;
  uint64_t now = uv_now(&p.loop->loop);
  if (!p.term_sent) {
    p.term_sent = true;
    p.term_at = now;
    p.result.stopped = true;
  }
  p.kill_sent = true;
  p.kill_at = now;
  p.result.killed = true;
  kill(-p.result.pid, SIGKILL);
  start_tick(p);
}

static void finish(Process& p) {
  p.finished = true;
  if (--p.loop->running == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&p.loop->sigchld));
  p.result.duration_ms = static_cast<double>(uv_hrtime() - p.started_ns) / 1e6;
  for (Stream* s : {&p.out, &p.err}) {
    if (s->direct_fd >= 0) {
      struct stat st {};
      if (fstat(s->direct_fd, &st) == 0 && st.st_size > s->direct_start) {
        s->bytes = static_cast<uint64_t>(st.st_size - s->direct_start);
      }
      close(s->direct_fd);
      s->direct_fd = -1;
    }
    std::string& text = s == &p.out ? p.result.out : p.result.err;
    bool& truncated = s == &p.out ? p.result.out_truncated : p.result.err_truncated;
    (s == &p.out ? p.result.out_bytes : p.result.err_bytes) = s->bytes;
    text = s->tail.take();
    truncated = s->tail.truncated();
  }
  if (p.result.error.empty() && !p.stdin_error.empty()) p.result.error = p.stdin_error;
  close_stdin_handle(p);
  for (uv_timer_t* t : {&p.wall_timer, &p.idle_timer, &p.tick_timer}) {
    close_handle(reinterpret_cast<uv_handle_t*>(t));
  }
  queue_event(p, ProcessEvent::Exit, false, std::string());
}

// Drives a process that is ending: escalates SIGTERM to SIGKILL, ends a group that outlives its
// leader, stops waiting for pipes held outside the group, and finishes when all is quiet.
void supervise(Process& p) {
  if (p.finished || !p.spawned) return;
  uint64_t now = uv_now(&p.loop->loop);
  auto streams_open = [&p] { return p.out.open || p.err.open; };
  if (p.exited && !streams_open() && !group_alive(p)) return finish(p);
  if (p.exited && !p.term_sent && now - p.exited_at >= kDrainMs) {
    p.result.descendants_killed = group_alive(p);
    begin_stop(p);
  }
  if (p.term_sent && !p.kill_sent && now - p.term_at >= static_cast<uint64_t>(p.opts.kill_grace_ms)) kill_now(p);
  if (p.kill_sent && now - p.kill_at >= kForceCloseMs && streams_open()) {
    if (p.result.error.empty()) {
      p.result.error = "its output pipes were still held open after SIGKILL (by a process outside its group); closed them";
    }
    end_stream(p.out);
    end_stream(p.err);
  }
  if (p.exited && !streams_open() && !group_alive(p)) return finish(p);
  if (p.exited || p.term_sent) start_tick(p);
}

static void on_tick(uv_timer_t* t) { supervise(*static_cast<Process*>(t->data)); }

static void start_tick(Process& p) {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&p.tick_timer))) {
    uv_timer_start(&p.tick_timer, on_tick, kTickMs, kTickMs);
  }
}

static void on_wall_timeout(uv_timer_t* t) {
  Process& p = *static_cast<Process*>(t->data);
  if (p.exited || p.term_sent) return;
  p.result.timed_out = true;
  p.result.timeout_reason = "wall";
  begin_stop(p);
}

// Fires at the earliest moment the idle limit could be reached; re-arms when output came since.
static void on_idle_check(uv_timer_t* t) {
  Process& p = *static_cast<Process*>(t->data);
  if (p.exited || p.term_sent) return;
  uint64_t now = uv_now(&p.loop->loop), limit = static_cast<uint64_t>(p.opts.idle_timeout_ms);
  uint64_t quiet = now - p.last_output_ms;
  if (quiet < limit) {
    uv_timer_start(t, on_idle_check, limit - quiet + 1, 0);
    return;
  }
  p.result.timed_out = true;
  p.result.timeout_reason = "idle";
  begin_stop(p);
}

static void on_exit(Process& p, int status) {
  p.exited = true;
  p.exited_at = uv_now(&p.loop->loop);
  if (WIFSIGNALED(status)) {
    p.result.signal = WTERMSIG(status);
  } else {
    p.result.code = WEXITSTATUS(status);
  }
  uv_timer_stop(&p.wall_timer);
  uv_timer_stop(&p.idle_timer);
  close_stdin_handle(p);  // nobody reads it any more; pending writes are cancelled
  supervise(p);
}

// One millisecond more than asked: the loop clock counts whole milliseconds, and a timeout must
// never fire before its deadline.
void start_timeouts(Process& p) {
  if (p.opts.timeout_ms > 0) {
    uv_timer_start(&p.wall_timer, on_wall_timeout, static_cast<uint64_t>(p.opts.timeout_ms) + 1, 0);
  }
  if (p.opts.idle_timeout_ms > 0) {
    uv_timer_start(&p.idle_timer, on_idle_check, static_cast<uint64_t>(p.opts.idle_timeout_ms) + 1, 0);
  }
}

// SIGCHLD: reaps whichever of this loop's children have exited. Only our own pids are waited
// for, so children started elsewhere in the program (io.popen, os.execute) are left alone.
void on_sigchld(uv_signal_t* h, int) {
  auto* L = static_cast<ProcessLoop::Impl*>(h->data);
  for (auto& [id, p] : L->processes) {
    if (!p->spawned || p->exited) continue;
    int status = 0;
    pid_t r;
    do r = waitpid(p->result.pid, &status, WNOHANG); while (r < 0 && errno == EINTR);
    if (r == p->result.pid) {
      note_reaped(r);
      on_exit(*p, status);
    }
  }
}

}  // namespace sidecar::host::detail
