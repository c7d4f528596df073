// Telemetry of one run: events appended to the run's events.jsonl (one whole JSON line each, with
// a sequence number, a UTC timestamp, a kind and fields), spans timed on a monotonic clock, token
// usage and cost added up without ever presenting a guess as a measurement, and a summary.
//
// Plain C++, no Lua; the JSON library stays out of this header (fields travel as JSON text).
// Operational failures are data (TelemetryError), never exceptions. Secrets are the caller's
// business: the Lua facade redacts field values before they get here.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/artifact_store.hpp"

namespace sidecar::host {

struct TelemetryError {
  std::string message;  // names the field, span or file and what went wrong
  std::string code;     // EINVAL (bad kind, fields, usage, cost or span), or the file's FsError code
};

// Token counts as a runner reported them. Integers only; empty means unknown (never 0 by default).
struct TokenUsage {
  std::optional<std::int64_t> input, cached_input, output, reasoning_output, total;

  bool operator==(const TokenUsage& o) const {
    return input == o.input && cached_input == o.cached_input && output == o.output &&
           reasoning_output == o.reasoning_output && total == o.total;
  }
  bool operator!=(const TokenUsage& o) const { return !(*this == o); }
  bool any_known() const { return input || cached_input || output || reasoning_output || total; }
};

// Reads {"input": n, "cached_input": n, "output": n, "reasoning_output": n, "total": n}: each an
// integer >= 0, or null or absent for unknown. A float (even 2.0), a negative number, a string or
// an unknown key is an error naming the field: "usage.output: expected a whole number of tokens
// >= 0, got 1.5".
std::optional<TokenUsage> parse_token_usage(std::string_view json_text, TelemetryError& error);
// All five keys, sorted, compact; null for unknown.
std::string token_usage_json(const TokenUsage& usage);

// Two reports of one run added up: a field is known only when known in both (a partial sum is not
// a measurement). A sum that would overflow is unknown too.
TokenUsage usage_add(const TokenUsage& a, const TokenUsage& b);
// What happened between two cumulative reports (a resumed session reports totals for the whole
// thread): now - before per field, unknown when either is unknown or now < before.
TokenUsage usage_delta(const TokenUsage& now, const TokenUsage& before);

// ^[a-z][a-z0-9_.]*$, at most 64 bytes.
bool valid_event_kind(std::string_view kind);
// "2026-11-21T13:45:01.123Z" for milliseconds since the Unix epoch.
std::string format_utc_ms(std::int64_t unix_ms);

// The recorder of one run. Each event is one line appended to `file` in the run's folder:
//   {"fields":{...},"kind":"tool.call","seq":7,"ts":"2026-11-21T13:45:01.123Z"}
// (keys sorted, compact). A line is written with one append of whole lines, so a crash leaves at
// most an incomplete last line, which the next append drops. Sequence numbers continue after the
// last complete line of an existing file (a resumed run); counts, spans, usage and cost in the
// summary cover what this recorder recorded. One recorder per file; the methods may be called
// from several threads.
class RunTelemetry {
 public:
  // Opens (creating) the folder `root` and reads where the sequence stands in `file` (a path
  // relative to it, confined like every artifact path). Fails when the last complete line of an
  // existing file is not an event with a "seq": it belongs to some other writer.
  static std::unique_ptr<RunTelemetry> open(const std::string& root, const std::string& file,
                                            TelemetryError& error);
  RunTelemetry(const RunTelemetry&) = delete;
  RunTelemetry& operator=(const RunTelemetry&) = delete;

  // Appends an event; `fields_json` must be a JSON object (written back compact, keys sorted).
  // The kinds "span", "usage" and "cost" are the recorder's own (see below). Returns its sequence
  // number.
  std::optional<std::int64_t> event(std::string_view kind, std::string_view fields_json, TelemetryError& error);

  // Starts timing `name` (non-empty UTF-8, at most 128 bytes); returns the span's id.
  std::optional<std::int64_t> begin_span(std::string_view name, TelemetryError& error);
  // Ends a span: appends a "span" event with {name, duration_ms, started_at} and the caller's
  // fields (which may not set those three) and returns duration_ms (milliseconds, to the
  // microsecond). An unknown or ended span is an error; when the event cannot be written the span
  // stays open.
  std::optional<double> end_span(std::int64_t id, std::string_view fields_json, TelemetryError& error);

  // Appends a "usage" event {source, usage} and adds the report to the run's usage (usage_add).
  // An empty `source` is written as null. Returns the event's sequence number.
  std::optional<std::int64_t> add_usage(const TokenUsage& usage, std::string_view source, TelemetryError& error);
  // Appends a "cost" event {source, usd} and adds to the run's cost; `usd` finite and >= 0.
  std::optional<std::int64_t> add_cost(double usd, std::string_view source, TelemetryError& error);

  // {started_at, ended_at (last event's ts, or null), duration_ms (monotonic, since open), events,
  //  first_seq (or null), last_seq, events_by_kind {kind: n}, spans {name: {count, total_ms, max_ms}},
  //  open_spans, usage {5 fields}, usage_reports, cost_usd (or null)}, compact with sorted keys.
  std::string summary_json() const;

  std::int64_t last_seq() const;
  const std::string& root() const { return dir_.root(); }
  const std::string& file() const { return file_; }

 private:
  struct OpenSpan {
    std::string name;
    std::string started_at;
    std::chrono::steady_clock::time_point start;
  };
  struct SpanStats {
    std::int64_t count = 0;
    std::int64_t total_us = 0;  // whole microseconds, so totals do not drift
    std::int64_t max_us = 0;
  };

  RunTelemetry(ArtifactDir dir, std::string file, std::int64_t last_seq);
  // Writes one event line (fields already canonical JSON of an object); the lock is held.
  std::optional<std::int64_t> append_locked(std::string_view kind, std::string_view fields, TelemetryError& error);
  // The timestamp of now, formatted; the formatted second is reused while it lasts.
  std::string now_ts_locked();

  mutable std::mutex mutex_;
  ArtifactDir dir_;
  std::string file_;
  std::int64_t last_seq_ = 0;
  std::int64_t first_seq_ = 0;  // 0: nothing recorded yet
  std::int64_t events_ = 0;
  std::string started_at_;
  std::string ended_at_;
  std::chrono::steady_clock::time_point opened_;
  std::map<std::string, std::int64_t, std::less<>> by_kind_;
  std::map<std::string, SpanStats, std::less<>> spans_;
  std::unordered_map<std::int64_t, OpenSpan> open_spans_;
  std::int64_t next_span_ = 1;
  std::optional<TokenUsage> usage_;  // empty until the first report
  std::int64_t usage_reports_ = 0;
  std::optional<double> cost_usd_;
  std::int64_t ts_second_ = -1;  // the second ts_prefix_ formats
  std::string ts_prefix_;        // "2026-11-21T13:45:01"
};

}  // namespace sidecar::host
