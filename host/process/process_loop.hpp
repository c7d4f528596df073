// The process loop: starts children (posix_spawn), drains their output on a libuv loop, enforces
// timeouts and ends whole process groups. Single-threaded and driven by its user: nothing happens between calls,
// and step() runs the loop until something does. Events (output chunks and lines, exits) queue
// up for the caller to take after step() returns, so callers never run inside a libuv callback.
//
// Every child runs in its own session and process group (pgid = pid), so signals reach its
// grandchildren too and a terminal's Ctrl-C never reaches it: Sidecar decides when it stops.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "process/process.hpp"

namespace sidecar::host {

class ProcessLoop {
 public:
  ProcessLoop();
  // Stops every process still running (SIGTERM, then SIGKILL after its grace) and waits for it.
  ~ProcessLoop();
  ProcessLoop(const ProcessLoop&) = delete;
  ProcessLoop& operator=(const ProcessLoop&) = delete;

  // Starts a process. Returns its id (never 0), or 0 with `error` filled when it could not start
  // (program not found or not executable, missing cwd, an output file that cannot be opened).
  uint64_t spawn(SpawnOptions options, SpawnError& error);

  bool known(uint64_t id) const;
  // True once the result is complete: the process was reaped and its output has ended.
  bool finished(uint64_t id) const;
  int pid(uint64_t id) const;
  const ProcessResult& result(uint64_t id) const;  // complete once finished(id)

  // Queues bytes for a process spawned with StdinMode::Stream; false with `error` when its stdin
  // is closed or broken. close_stdin() sends EOF once the queued bytes are written.
  bool write(uint64_t id, std::string data, std::string& error);
  bool close_stdin(uint64_t id, std::string& error);
  std::size_t stdin_queued(uint64_t id) const;  // bytes accepted but not yet written

  // Sends `sig` to the process group; false when the process has already ended.
  bool signal(uint64_t id, int sig);
  // Ends the process the way a timeout does: SIGTERM to its group, SIGKILL after the grace.
  void stop(uint64_t id);
  // Forgets a process: at once when finished, else it is stopped and forgotten when it ends.
  void release(uint64_t id);

  // Runs the loop until at least one callback ran, `timeout_ms` passed (< 0: no limit) or an
  // interrupt arrived. Returns at once when there is nothing to wait for.
  void step(int64_t timeout_ms);
  // Takes the oldest queued event; false when there is none.
  bool take_event(ProcessEvent& event);

  std::size_t running() const;  // processes not yet finished

  // Stops every running process (SIGKILL at once when `immediate`) and runs the loop until all
  // have finished; a new interrupt meanwhile escalates to SIGKILL. Results are marked
  // `interrupted` when `interrupted`; an interrupt leaves a process spawned with `caller_stops`
  // running, for its caller to stop. Returns how many it stopped.
  std::size_t stop_all(bool interrupted, bool immediate = false);

  // Interrupts counted so far, process-wide. A caller compares it with the value it saw before
  // stepping to learn whether Ctrl-C (or SIGTERM) arrived meanwhile.
  static uint64_t interrupts();
  // Counts an interrupt and wakes every loop blocked in step(). Async-signal-safe.
  static void interrupt_all();
  // Counts an interrupt of this loop alone and wakes it if it is blocked in step(): callable from
  // any thread, and async-signal-safe (an embedding program cancels its own Host's work).
  void interrupt();
  // The interrupts this loop has seen: the process-wide ones and its own.
  uint64_t interrupt_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sidecar::host
