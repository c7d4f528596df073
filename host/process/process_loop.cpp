#include "process/process_loop.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "process/memory_file.hpp"
#include "process/process_state.hpp"
#include "process/program_path.hpp"
#include "process/pty.hpp"
#include "process/spawn_child.hpp"

namespace sidecar::host {
namespace detail {
namespace {

// Loops that interrupt_all() wakes and that the exit handler reaches. A fixed table of atomics,
// because a signal handler reads it.
constexpr int kMaxLoops = 64;
std::atomic<uint64_t> g_interrupts{0};
std::atomic<uv_async_t*> g_wakers[kMaxLoops];
std::atomic<ProcessLoop::Impl*> g_loops[kMaxLoops];

}  // namespace

static void kill_groups_at_exit() {
  for (auto& slot : g_loops) {
    if (ProcessLoop::Impl* impl = slot.load()) impl->kill_groups_now();
  }
}

std::string uv_message(int status) { return std::string(uv_err_name(status)) + ": " + uv_strerror(status); }

void on_handle_closed(uv_handle_t* h) {
  Process* p = static_cast<Process*>(h->data);
  if (--p->handles == 0 && p->released) p->loop->processes.erase(p->id);  // frees p
}

void close_handle(uv_handle_t* h) {
  if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

void queue_event(Process& p, ProcessEvent::Kind kind, bool line, std::string data) {
  p.loop->events.push_back(ProcessEvent{p.id, kind, line, std::move(data)});
}

}  // namespace detail

using namespace detail;

ProcessLoop::ProcessLoop() : impl_(std::make_unique<Impl>()) {
  Impl& L = *impl_;
  int r = uv_loop_init(&L.loop);
  if (r < 0) throw std::runtime_error("cannot start the process loop: " + uv_message(r));
  uv_async_init(&L.loop, &L.waker, [](uv_async_t*) {});
  uv_unref(reinterpret_cast<uv_handle_t*>(&L.waker));  // wakes the loop, never keeps it alive
  uv_timer_init(&L.loop, &L.step_timer);
  uv_signal_init(&L.loop, &L.sigchld);
  L.sigchld.data = &L;
  uv_signal_start(&L.sigchld, on_sigchld, SIGCHLD);
  uv_unref(reinterpret_cast<uv_handle_t*>(&L.sigchld));  // referenced only while children run
  // A child that stops reading its stdin must not kill Sidecar with SIGPIPE: writes fail with
  // EPIPE instead. Children get the default back (libuv resets dispositions before exec).
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
  static const bool exit_hook = std::atexit(kill_groups_at_exit) == 0;
  (void)exit_hook;
  for (int i = 0; i < kMaxLoops; ++i) {
    uv_async_t* none = nullptr;
    if (g_wakers[i].compare_exchange_strong(none, &L.waker)) {
      g_loops[i].store(&L);
      L.slot = i;
      break;
    }
  }
}

ProcessLoop::~ProcessLoop() {
  Impl& L = *impl_;
  stop_all(false);
  if (L.slot >= 0) {
    // Blocks the signals whose handlers call interrupt_all() while this loop leaves the table.
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    g_wakers[L.slot].store(nullptr);
    g_loops[L.slot].store(nullptr);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  }
  for (auto& [id, p] : L.processes) p->released = true;
  std::vector<Process*> idle;
  for (auto& [id, p] : L.processes) {
    if (p->handles == 0) idle.push_back(p.get());
  }
  for (Process* p : idle) L.processes.erase(p->id);
  uv_close(reinterpret_cast<uv_handle_t*>(&L.waker), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&L.step_timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&L.sigchld), nullptr);
  uv_run(&L.loop, UV_RUN_DEFAULT);
  uv_loop_close(&L.loop);
}

uint64_t ProcessLoop::spawn(SpawnOptions o, SpawnError& error) {
  Impl& L = *impl_;
  if (!check_command(o.argv, o.cwd, error)) return 0;
  const std::string program = o.argv[0];  // a copy: `o` moves into the process below
  std::vector<std::string> env = build_environment(o.env, o.clear_env);
  std::optional<std::string> file = resolve_program(program, environment_value(env, "PATH"), o.cwd, error);
  if (!file) return 0;

  // Every fd below closes itself if we return early; the child's ends close after the spawn.
  Fd out_file, err_file, out_ours, out_theirs, err_ours, err_theirs, in_ours, in_theirs, slave, fd3;
  if (!open_tee(o.out, "stdout", out_file, error) || !open_tee(o.err, "stderr", err_file, error)) return 0;
  ChildSpec child;  // stdio -1: /dev/null
  if (!o.fd3_file.empty()) {
    // Above the standard three, whatever this process has closed: the child's dup2 must not
    // overwrite a descriptor it is given as its stdin, stdout or stderr.
    Fd opened(open(o.fd3_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (opened.fd >= 0) fd3.reset(fcntl(opened.fd, F_DUPFD_CLOEXEC, 10));
    if (fd3.fd < 0) {
      error = {"cannot open the descriptor-3 file " + o.fd3_file + ": " + std::strerror(errno),
               errno == ENOENT ? "ENOENT" : errno == EACCES ? "EACCES" : "EIO"};
      return 0;
    }
    child.fd3 = fd3.fd;
  } else if (o.fd3_memory >= 0) {
    int e = empty_memory_file(o.fd3_memory);
    if (e == 0) fd3.reset(fcntl(o.fd3_memory, F_DUPFD_CLOEXEC, 10));  // above the standard three, as above
    if (e == 0 && fd3.fd < 0) e = errno;
    if (e != 0) {
      error = {std::string("cannot hand the memory file over as descriptor 3: ") + std::strerror(e), "EIO"};
      return 0;
    }
    child.fd3 = fd3.fd;
  }
  child.term_ignored = o.term_ignored;
  bool direct[2] = {false, false};
  off_t direct_start[2] = {0, 0};
  if (o.pty) {
    std::string why;
    if (!open_pty(out_ours.fd, slave.fd, o.pty_cols, o.pty_rows, why)) {
      error = {why, "EPTY"};
      return 0;
    }
    for (int& fd : child.stdio) fd = slave.fd;
    // Input goes to the master through a second descriptor: the reader owns the first.
    in_ours.reset(fcntl(out_ours.fd, F_DUPFD_CLOEXEC, 3));
  } else {
    if (o.stdin_mode != StdinMode::Null) {
      if (!make_pipe(in_ours, in_theirs, true, error)) return 0;
      child.stdio[0] = in_theirs.fd;
    }
    const OutputSink* sinks[2] = {&o.out, &o.err};
    Fd* ours[2] = {&out_ours, &err_ours};
    Fd* theirs[2] = {&out_theirs, &err_theirs};
    Fd* files[2] = {&out_file, &err_file};
    for (int i = 0; i < 2; ++i) {
      if (!sinks[i]->used() && o.idle_timeout_ms <= 0) continue;  // /dev/null: nothing to read
      if (files[i]->fd >= 0 && !sinks[i]->collect && !sinks[i]->chunks && !sinks[i]->lines && !sinks[i]->redact &&
          sinks[i]->max_bytes == 0 && o.idle_timeout_ms <= 0) {
        // Only a file, and no idle clock to feed: the child writes it itself, as a shell
        // redirection does, and the bytes never pass through Sidecar.
        child.stdio[i + 1] = files[i]->fd;
        direct[i] = true;
        // Its size now, before the child can write: what an append starts from.
        struct stat st {};
        if (fstat(files[i]->fd, &st) == 0) direct_start[i] = st.st_size;
        continue;
      }
      if (!make_pipe(*ours[i], *theirs[i], false, error)) return 0;
      if (files[i]->fd >= 0) fcntl(ours[i]->fd, F_SETPIPE_SZ, kPipeSizeForFiles);  // fewer wake-ups
      child.stdio[i + 1] = theirs[i]->fd;
    }
  }

  // The process keeps the options: argv, env and cwd below point into them during the spawn.
  auto owned = std::make_unique<Process>();
  Process& p = *owned;
  p.loop = &L;
  p.id = L.next_id++;
  p.opts = std::move(o);
  std::vector<char*> args, envp;
  for (std::string& a : p.opts.argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  child.file = file->c_str();
  child.argv = args.data();
  child.envp = envp.data();
  child.cwd = p.opts.cwd.empty() ? nullptr : p.opts.cwd.c_str();
  child.parent_death_signal = p.opts.parent_death_signal;  // no child outlives Sidecar unbidden
  p.started_ns = uv_hrtime();
  pid_t pid = 0;
  if (int r = spawn_child(child, pid); r != 0) {
    std::string why = r == ENOEXEC ? "not an executable format (a script needs a #! line)"
                      : r == EACCES ? "permission denied" : std::strerror(r);
    const char* code = r == ENOENT ? "ENOENT" : r == EACCES ? "EACCES" : r == ENOEXEC ? "ENOEXEC"
                     : r == EMFILE ? "EMFILE" : r == ENOMEM ? "ENOMEM" : r == EAGAIN ? "EAGAIN" : "ESPAWN";
    error = {"cannot run '" + program + "': " + why, code};
    return 0;
  }
  // The loop's clock is as old as its last step, and the pipes, the environment and the spawn
  // itself took time since (milliseconds, on a busy machine): the timeouts and the idle clock
  // start from now, so that none fires before its deadline counted from the child's start.
  uv_update_time(&L.loop);
  for (uv_timer_t* t : {&p.wall_timer, &p.idle_timer, &p.tick_timer}) {
    uv_timer_init(&L.loop, t);
    t->data = &p;
    ++p.handles;
  }
  note_spawned(pid);
  L.processes.emplace(p.id, std::move(owned));
  p.spawned = true;
  p.result.pid = pid;
  // While children run, their exit is something to wait for even with no pipe or timer open.
  if (L.running++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&L.sigchld));
  p.last_output_ms = uv_now(&L.loop);
  slave.reset();
  fd3.reset();
  in_theirs.reset();
  out_theirs.reset();
  err_theirs.reset();
  for (int i = 0; i < 2; ++i) {
    Stream& s = i == 0 ? p.out : p.err;
    if (direct[i]) {
      s.direct_fd = (i == 0 ? out_file : err_file).release();
      s.direct_start = direct_start[i];
    }
  }

  if (out_ours.fd >= 0) start_stream(p, p.out, ProcessEvent::Stdout, out_ours.release(), out_file.release(), p.opts.pty);
  if (err_ours.fd >= 0) start_stream(p, p.err, ProcessEvent::Stderr, err_ours.release(), err_file.release(), false);
  if (in_ours.fd >= 0) {
    uv_pipe_init(&L.loop, &p.stdin_pipe, 0);
    p.stdin_pipe.data = &p;
    ++p.handles;
    p.stdin_handle = true;
    if (uv_pipe_open(&p.stdin_pipe, in_ours.fd) == 0) {
      in_ours.release();  // the pipe handle owns it now
      p.stdin_open = true;
    } else {
      close_stdin_handle(p);
    }
    std::string ignored;
    if (p.opts.stdin_mode == StdinMode::Data) {
      if (queue_write(p, std::move(p.opts.stdin_data), ignored)) send_eof(p, ignored);
      p.opts.stdin_data.clear();
    }
  }
  start_timeouts(p);
  return p.id;
}

namespace {
Process* find(const ProcessLoop::Impl& L, uint64_t id) {
  auto it = L.processes.find(id);
  return it == L.processes.end() || it->second->released ? nullptr : it->second.get();
}
Process& get(const ProcessLoop::Impl& L, uint64_t id) {
  Process* p = find(L, id);
  if (!p) throw std::logic_error("unknown process id " + std::to_string(id));
  return *p;
}
}  // namespace

bool ProcessLoop::known(uint64_t id) const { return find(*impl_, id) != nullptr; }
bool ProcessLoop::finished(uint64_t id) const { return get(*impl_, id).finished; }
int ProcessLoop::pid(uint64_t id) const { return get(*impl_, id).result.pid; }
const ProcessResult& ProcessLoop::result(uint64_t id) const { return get(*impl_, id).result; }

bool ProcessLoop::write(uint64_t id, std::string data, std::string& error) {
  return queue_write(get(*impl_, id), std::move(data), error);
}

bool ProcessLoop::close_stdin(uint64_t id, std::string& error) { return send_eof(get(*impl_, id), error); }

std::size_t ProcessLoop::stdin_queued(uint64_t id) const { return get(*impl_, id).stdin_queued; }

bool ProcessLoop::signal(uint64_t id, int sig) {
  Process& p = get(*impl_, id);
  uv_update_time(&impl_->loop);
  if (p.finished || (p.exited && !group_alive(p))) return false;
  if (sig == SIGKILL) {
    kill_now(p);
  } else {
    kill(-p.result.pid, sig);
  }
  return true;
}

void ProcessLoop::stop(uint64_t id) {
  uv_update_time(&impl_->loop);
  begin_stop(get(*impl_, id));
}

void ProcessLoop::release(uint64_t id) {
  Process* p = find(*impl_, id);
  if (!p) return;
  p->released = true;
  if (!p->finished) {
    uv_update_time(&impl_->loop);
    begin_stop(*p);
  } else if (p->handles == 0) {
    impl_->processes.erase(id);
  }
}

void ProcessLoop::step(int64_t timeout_ms) {
  Impl& L = *impl_;
  if (timeout_ms == 0) {
    uv_run(&L.loop, UV_RUN_NOWAIT);
    return;
  }
  if (!uv_loop_alive(&L.loop)) return;  // nothing could happen: no child, pipe or timer
  // The timer stops the loop rather than merely firing: libuv runs due timers before it polls,
  // and a poll computed after our timer had fired would block with no deadline at all. It
  // starts from a fresh clock: the cached one is as old as the last step.
  if (timeout_ms > 0) {
    uv_update_time(&L.loop);
    uv_timer_start(&L.step_timer, [](uv_timer_t* t) { uv_stop(t->loop); }, static_cast<uint64_t>(timeout_ms), 0);
  }
  uv_run(&L.loop, UV_RUN_ONCE);
  uv_timer_stop(&L.step_timer);
}

bool ProcessLoop::take_event(ProcessEvent& event) {
  if (impl_->events.empty()) return false;
  event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return true;
}

std::size_t ProcessLoop::running() const { return impl_->running; }

std::size_t ProcessLoop::stop_all(bool interrupted, bool immediate) {
  Impl& L = *impl_;
  std::size_t count = L.running, left = 0;
  uint64_t seen = interrupt_count();
  uv_update_time(&L.loop);
  for (auto& [id, p] : L.processes) {
    if (!p->spawned || p->finished) continue;
    if (interrupted) p->result.interrupted = true;
    if (interrupted && !immediate && p->opts.caller_stops && !p->released) {
      ++left;  // its caller stops it (SpawnOptions::caller_stops)
      continue;
    }
    if (immediate) kill_now(*p); else begin_stop(*p);
  }
  while (L.running > left) {
    uv_run(&L.loop, UV_RUN_ONCE);
    if (interrupt_count() != seen) {  // asked twice: no more grace, for any
      seen = interrupt_count();
      for (auto& [id, p] : L.processes) kill_now(*p);
      left = 0;
    }
  }
  return count - left;
}

uint64_t ProcessLoop::interrupts() { return g_interrupts.load(); }

void ProcessLoop::interrupt() {
  impl_->interrupts.fetch_add(1);
  uv_async_send(&impl_->waker);
}

uint64_t ProcessLoop::interrupt_count() const { return g_interrupts.load() + impl_->interrupts.load(); }

void ProcessLoop::interrupt_all() {
  g_interrupts.fetch_add(1);
  for (auto& w : g_wakers) {
    if (uv_async_t* a = w.load()) uv_async_send(a);
  }
}

}  // namespace sidecar::host
