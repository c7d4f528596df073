// What a child process is asked to do and what became of it: the plain data the process loop
// (process_loop.hpp) consumes and produces. No libuv and no Lua in here.
#pragma once
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "process/log_cap.hpp"

namespace sidecar::host {

// Where one output stream (stdout or stderr) goes. Any combination may be on at once.
struct OutputSink {
  bool collect = true;   // keep it for the result (the tail of it when max_output is set)
  bool chunks = false;   // queue an event per chunk read
  bool lines = false;    // queue an event per line (without its "\n"; a last partial line at EOF)
  std::string file;      // also write it into this file (created or truncated, or appended); a
                         // sink that is only a file, with no idle timeout, becomes the child's
                         // own stdout/stderr: the bytes then never pass through Sidecar
  bool append = false;
  bool redact = false;   // secrets redacted (host/secrets/stream_redactor.hpp) before any consumer sees the
                         // bytes: the file, chunks, lines and the collected text alike
  uint64_t max_bytes = 0;  // the file kept to this many bytes, after redaction: its head and tail
                           // with a marker between (host/process/log_cap.hpp); 0 = no bound. Chunks,
                           // lines and the collected text still see every byte.
  bool used() const { return collect || chunks || lines || !file.empty(); }
};

enum class StdinMode {
  Null,    // /dev/null: never an open pipe by default (agent CLIs wait forever on one)
  Data,    // `stdin_data` is written, then the pipe is closed
  Stream,  // kept open for write() until close_stdin()
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is searched in PATH unless it contains a '/'
  std::string cwd;                // empty: the parent's
  // Variables set (a value) or removed (nullopt) on top of the parent's environment, or of an
  // empty one when `clear_env`.
  std::vector<std::pair<std::string, std::optional<std::string>>> env;
  bool clear_env = false;
  StdinMode stdin_mode = StdinMode::Null;
  std::string stdin_data;
  OutputSink out, err;
  int64_t timeout_ms = 0;         // wall clock; 0 = none
  int64_t idle_timeout_ms = 0;    // no output for this long ends the process; 0 = none
  int64_t kill_grace_ms = 2000;   // between SIGTERM and SIGKILL to the process group
  std::size_t max_output = 0;     // bytes kept per collected stream (the tail); 0 = all
  bool pty = false;               // stdin, stdout and stderr on one pseudo-terminal
  uint16_t pty_cols = 80, pty_rows = 24;
  std::string name;               // a label for telemetry and messages
  // What the process gets when Sidecar dies, however it dies (kill -9 included): SIGTERM lets a
  // program such as git remove its lock files; an agent gets SIGKILL, which nothing ignores.
  int parent_death_signal = SIGTERM;
  // A file created (or truncated) and handed to the program as its descriptor 3: where an OS
  // sandbox's first process (cli/sandbox_init.cpp) reports how its agent ended. Empty: none.
  std::string fd3_file;
  // Or a memory file the caller holds (process/memory_file.hpp), emptied and handed over as the
  // program's descriptor 3; the caller reads it once the program has ended. -1: none.
  int fd3_memory = -1;
  // The program starts with SIGTERM ignored: a sandbox's outer process (bwrap) must outlive the
  // group's SIGTERM so that the agent inside, which gets it too, can end in its grace period.
  bool term_ignored = false;
  // An interrupt (Ctrl-C, SIGTERM) leaves the process to its caller, who stops it its own way (an
  // ACP agent is asked to cancel its turn first, then its group ended); a second interrupt, or
  // the caller's release of it, stops it as any other.
  bool caller_stops = false;
};

struct ProcessResult {
  int pid = 0;
  std::optional<int> code;        // exit status; none when a signal ended the process
  int signal = 0;                 // the signal that ended it, or 0
  bool timed_out = false;
  std::string timeout_reason;     // "wall", "idle" or empty
  bool interrupted = false;       // stopped because the host was interrupted (Ctrl-C, SIGTERM)
  bool stopped = false;           // Sidecar sent the group SIGTERM (or SIGKILL) to end it
  bool killed = false;            // ... and had to escalate to SIGKILL
  bool descendants_killed = false;  // processes of its group outlived it and were ended
  std::string out, err;           // collected output (empty when not collected)
  bool out_truncated = false, err_truncated = false;
  uint64_t out_bytes = 0, err_bytes = 0;  // everything read, kept or not
  LogCapStats out_log, err_log;   // what became of each stream's file under its max_bytes
  double duration_ms = 0;         // from spawn until its output ended and it was reaped
  std::string error;              // a failure after spawning (writing a tee file, stdin)
};

struct ProcessEvent {
  enum Kind { Stdout, Stderr, Exit };
  uint64_t id = 0;
  Kind kind = Exit;
  bool line = false;  // a whole line (else a raw chunk)
  std::string data;
};

struct SpawnError {
  std::string message;  // for people: names the program and what was searched
  std::string code;     // "ENOENT", "EACCES", ...
};

}  // namespace sidecar::host
