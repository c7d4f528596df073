#include "store/telemetry.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "util/json_text.hpp"
#include "util/utf8.hpp"

namespace sidecar::host {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kMaxDepth = 1000;          // as host.json: deeper is an error, never a deep recursion
constexpr std::size_t kMaxKindSize = 64;
constexpr std::size_t kMaxSpanNameSize = 128;
const char* const kUsageFields = "input, cached_input, output, reasoning_output or total";

TelemetryError invalid(std::string message) { return {std::move(message), "EINVAL"}; }

TelemetryError from_fs(const FsError& e) { return {e.message, e.code}; }

// Compact JSON with sorted keys (nlohmann's objects are std::maps), as host.json writes it.
// Strings were checked as UTF-8 by the parser; replace rather than throw all the same.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A value for an error message: its JSON, cut short.
std::string shown(const Json& j) {
  std::string text = dump(j);
  if (text.size() > 40) {
    std::size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// Text from a caller for an error message: invalid bytes escaped, cut short.
std::string shown(std::string_view text) {
  std::string out = utf8_escape_invalid(text.substr(0, 64));
  if (text.size() > 64) out += "...";
  return out;
}

// Parses `text`, which must hold one JSON object. `what` names it in errors ("fields").
bool parse_object(std::string_view text, const std::string& what, Json& out, TelemetryError& error) {
  // nlohmann's lexer takes a NUL byte for the end of input; JSON text never holds a raw one.
  if (std::memchr(text.data(), '\0', text.size())) {
    error = invalid(what + ": invalid JSON: a NUL byte (write \\u0000 inside a string)");
    return false;
  }
  if (json_text::nesting_offset(text, kMaxDepth) < text.size()) {  // writing back recurses per level
    error = invalid(what + ": nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    return false;
  }
  try {
    out = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." without the tag.
    const char* reason = std::strstr(e.what(), "] ");
    error = invalid(what + ": invalid JSON: " + (reason ? reason + 2 : e.what()));
    return false;
  }
  if (!out.is_object()) {
    error = invalid(what + ": expected a JSON object, got " + out.type_name());
    return false;
  }
  return true;
}

std::optional<std::int64_t>* usage_field(TokenUsage& u, std::string_view key) {
  if (key == "input") return &u.input;
  if (key == "cached_input") return &u.cached_input;
  if (key == "output") return &u.output;
  if (key == "reasoning_output") return &u.reasoning_output;
  if (key == "total") return &u.total;
  return nullptr;
}

std::string bad_tokens(std::string_view key, const std::string& got) {
  return "usage." + std::string(key) + ": expected a whole number of tokens >= 0, got " + got;
}

// A usage built in C++ may hold anything; a report must hold counts.
bool check_usage(const TokenUsage& u, TelemetryError& error) {
  const std::pair<const char*, const std::optional<std::int64_t>*> fields[] = {
      {"input", &u.input},   {"cached_input", &u.cached_input}, {"output", &u.output},
      {"reasoning_output", &u.reasoning_output}, {"total", &u.total},
  };
  for (const auto& [name, value] : fields) {
    if (*value && **value < 0) {
      error = invalid(bad_tokens(name, std::to_string(**value)));
      return false;
    }
  }
  return true;
}

Json usage_object(const TokenUsage& u) {
  auto field = [](const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(nullptr); };
  return Json{{"input", field(u.input)},
              {"cached_input", field(u.cached_input)},
              {"output", field(u.output)},
              {"reasoning_output", field(u.reasoning_output)},
              {"total", field(u.total)}};
}

std::optional<std::int64_t> add_known(const std::optional<std::int64_t>& a, const std::optional<std::int64_t>& b) {
  std::int64_t sum;
  if (!a || !b || __builtin_add_overflow(*a, *b, &sum)) return std::nullopt;
  return sum;
}

std::optional<std::int64_t> sub_known(const std::optional<std::int64_t>& now,
                                      const std::optional<std::int64_t>& before) {
  if (!now || !before || *now < *before) return std::nullopt;
  return *now - *before;
}

std::int64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// "2026-11-21T13:45:01" for a second since the epoch.
std::string format_second(std::int64_t second) {
  time_t t = static_cast<time_t>(second);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[80];  // room for any int, so the compiler can see nothing is cut
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  return buf;
}

std::string with_millis(std::string prefix, std::int64_t millis) {
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03dZ", static_cast<int>(millis));
  return prefix + buf;
}

double micros_to_ms(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

std::int64_t micros_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
}

// The "seq" of the last event in `tail`, an events file's last bytes (its line ends
// `,"seq":N,"ts":"..."}`; inside a string a quote is escaped, so the pattern is the line's own), or 0.
std::int64_t seq_in_tail(std::string_view tail) {
  const std::size_t at = tail.rfind(",\"seq\":");
  if (at == std::string_view::npos) return 0;
  std::int64_t seq = 0;
  for (std::size_t i = at + 7; i < tail.size() && tail[i] >= '0' && tail[i] <= '9' && seq < (INT64_MAX - 9) / 10; ++i) {
    seq = seq * 10 + (tail[i] - '0');
  }
  return seq;
}

// The "seq" of the last complete line of an events file (0 when it has none), or an error when
// that line is not an event: another writer's file must not be continued.
bool last_complete_seq(std::string_view text, const std::string& file, std::int64_t& seq, TelemetryError& error) {
  seq = 0;
  std::size_t end = text.rfind('\n');  // a text after it is an unfinished line: never committed
  while (end != std::string_view::npos) {
    std::size_t start = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    std::string_view line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      Json j = Json::parse(line.begin(), line.end(), nullptr, false);
      auto it = j.is_object() ? j.find("seq") : j.end();
      if (!j.is_object() || it == j.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
        error = invalid(file + ": the last line is not a telemetry event (no \"seq\"): " + shown(line) +
                        "; give the recorder a file of its own");
        return false;
      }
      seq = it->get<std::int64_t>();
      return true;
    }
    if (start == 0) break;
    end = start - 1;
  }
  return true;
}

}  // namespace

std::optional<TokenUsage> parse_token_usage(std::string_view json_text, TelemetryError& error) {
  Json j;
  if (!parse_object(json_text, "usage", j, error)) return std::nullopt;
  TokenUsage u;
  for (const auto& [key, value] : j.items()) {
    std::optional<std::int64_t>* slot = usage_field(u, key);
    if (!slot) {
      error = invalid("usage." + shown(std::string_view(key)) + ": unknown field (expected " + kUsageFields + ")");
      return std::nullopt;
    }
    if (value.is_null()) continue;
    // Non-negative integers parse as unsigned; above INT64_MAX they cannot be counted here.
    if (value.is_number_unsigned() &&
        value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      *slot = value.get<std::int64_t>();
    } else {
      error = invalid(bad_tokens(key, shown(value)));
      return std::nullopt;
    }
  }
  return u;
}

std::string token_usage_json(const TokenUsage& usage) { return dump(usage_object(usage)); }

TokenUsage usage_add(const TokenUsage& a, const TokenUsage& b) {
  return {add_known(a.input, b.input), add_known(a.cached_input, b.cached_input), add_known(a.output, b.output),
          add_known(a.reasoning_output, b.reasoning_output), add_known(a.total, b.total)};
}

TokenUsage usage_delta(const TokenUsage& now, const TokenUsage& before) {
  return {sub_known(now.input, before.input), sub_known(now.cached_input, before.cached_input),
          sub_known(now.output, before.output), sub_known(now.reasoning_output, before.reasoning_output),
          sub_known(now.total, before.total)};
}

bool valid_event_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxKindSize || kind[0] < 'a' || kind[0] > 'z') return false;
  for (char c : kind) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

std::string format_utc_ms(std::int64_t unix_ms) {
  std::int64_t second = unix_ms / 1000, millis = unix_ms % 1000;
  if (millis < 0) {  // before 1970: round the second down, keep the milliseconds positive
    millis += 1000;
    --second;
  }
  return with_millis(format_second(second), millis);
}

// --- RunTelemetry -------------------------------------------------------------------------------

RunTelemetry::RunTelemetry(ArtifactDir dir, std::string file, std::int64_t last_seq)
    : dir_(std::move(dir)), file_(std::move(file)), last_seq_(last_seq), opened_(Clock::now()) {
  started_at_ = now_ts_locked();
}

std::unique_ptr<RunTelemetry> RunTelemetry::open(const std::string& root, const std::string& file,
                                                 TelemetryError& error) {
  FsError fs;
  std::optional<ArtifactDir> dir = ArtifactDir::open(root, true, fs);
  if (!dir) {
    error = from_fs(fs);
    return nullptr;
  }
  std::int64_t last = 0;
  std::optional<std::string> text = dir->read(file, fs);
  if (text) {
    if (!last_complete_seq(*text, file, last, error)) return nullptr;
  } else if (fs.code != "ENOENT") {
    error = from_fs(fs);  // a refused path, a link, ...
    return nullptr;
  }
  return std::unique_ptr<RunTelemetry>(new RunTelemetry(std::move(*dir), file, last));
}

std::string RunTelemetry::now_ts_locked() {
  std::int64_t ms = wall_ms();
  std::int64_t second = ms / 1000;
  if (second != ts_second_) {  // gmtime once a second, not once an event
    ts_second_ = second;
    ts_prefix_ = format_second(second);
  }
  return with_millis(ts_prefix_, ms % 1000);
}

std::optional<std::int64_t> RunTelemetry::append_locked(std::string_view kind, std::string_view fields,
                                                        TelemetryError& error) {
  std::string ts = now_ts_locked();
  std::int64_t seq = 0;
  // The number follows the file's last event, whoever wrote it (a notification's sender, a hook,
  // in processes of their own), not only this writer's last: two events never share one.
  auto make = [&](std::string_view tail) {
    seq = std::max(last_seq_, seq_in_tail(tail)) + 1;
    std::string line;
    line.reserve(fields.size() + kind.size() + 64);
    line += "{\"fields\":";
    line += fields;
    line += ",\"kind\":\"";
    line += kind;  // checked: nothing to escape
    line += "\",\"seq\":";
    json_text::append_integer(line, seq);
    line += ",\"ts\":\"";
    line += ts;
    line += "\"}\n";
    return line;
  };
  FsError fs;
  if (!dir_.append_after(file_, make, false, fs)) {
    error = from_fs(fs);
    return std::nullopt;
  }
  last_seq_ = seq;
  if (first_seq_ == 0) first_seq_ = seq;
  ++events_;
  ended_at_ = std::move(ts);
  auto it = by_kind_.find(kind);
  if (it == by_kind_.end()) {
    by_kind_.emplace(std::string(kind), 1);
  } else {
    ++it->second;
  }
  return seq;
}

std::optional<std::int64_t> RunTelemetry::event(std::string_view kind, std::string_view fields_json,
                                                 TelemetryError& error) {
  if (!valid_event_kind(kind)) {
    error = invalid("event kind \"" + shown(kind) +
                    "\" is not valid: use a-z, 0-9, '_' and '.', starting with a letter (at most 64 bytes)");
    return std::nullopt;
  }
  // The recorder's own kinds are written only with what they promise (a measured duration, a
  // checked usage): a look-alike would be counted differently by whoever replays the file.
  for (const char* own : {"span", "usage", "cost"}) {
    if (kind == own) {
      error = invalid(std::string("event kind \"") + own + "\" is the recorder's own: use " +
                      (kind == "span" ? "begin_span/end_span" : kind == "usage" ? "add_usage" : "add_cost") +
                      ", or another kind");
      return std::nullopt;
    }
  }
  Json fields;  // parsed outside the lock: other threads keep recording meanwhile
  if (!parse_object(fields_json, "fields", fields, error)) return std::nullopt;
  std::string text = dump(fields);
  std::lock_guard<std::mutex> lock(mutex_);
  return append_locked(kind, text, error);
}

std::optional<std::int64_t> RunTelemetry::begin_span(std::string_view name, TelemetryError& error) {
  if (name.empty() || name.size() > kMaxSpanNameSize || !utf8_valid(name)) {
    error = invalid("span name \"" + shown(name) + "\" is not valid: give 1 to 128 bytes of UTF-8");
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::int64_t id = next_span_++;
  open_spans_.emplace(id, OpenSpan{std::string(name), now_ts_locked(), Clock::now()});
  return id;
}

std::optional<double> RunTelemetry::end_span(std::int64_t id, std::string_view fields_json, TelemetryError& error) {
  Clock::time_point end = Clock::now();
  Json fields = Json::object();
  if (!fields_json.empty() && !parse_object(fields_json, "span fields", fields, error)) return std::nullopt;
  for (const char* own : {"name", "duration_ms", "started_at"}) {
    if (fields.contains(own)) {
      error = invalid(std::string("span fields: \"") + own + "\" is set by the span itself: use another key");
      return std::nullopt;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = open_spans_.find(id);
  if (it == open_spans_.end()) {
    error = invalid("span " + std::to_string(id) + " is not open (never begun, or ended already)");
    return std::nullopt;
  }
  const OpenSpan& span = it->second;
  std::int64_t us = micros_between(span.start, end);
  double ms = micros_to_ms(us);
  fields["name"] = span.name;
  fields["duration_ms"] = ms;
  fields["started_at"] = span.started_at;
  if (!append_locked("span", dump(fields), error)) return std::nullopt;  // the span stays open
  SpanStats& stats = spans_[span.name];
  ++stats.count;
  stats.total_us += us;
  if (us > stats.max_us) stats.max_us = us;
  open_spans_.erase(it);
  return ms;
}

std::optional<std::int64_t> RunTelemetry::add_usage(const TokenUsage& usage, std::string_view source,
                                                    TelemetryError& error) {
  if (!check_usage(usage, error)) return std::nullopt;
  std::string fields = "{\"source\":";
  if (source.empty()) {
    fields += "null";
  } else if (!json_text::append_string(fields, source)) {
    error = invalid("usage source \"" + shown(source) + "\" is not valid UTF-8");
    return std::nullopt;
  }
  fields += ",\"usage\":";
  fields += token_usage_json(usage);
  fields += '}';
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<std::int64_t> seq = append_locked("usage", fields, error);
  if (!seq) return std::nullopt;
  usage_ = usage_ ? usage_add(*usage_, usage) : usage;
  ++usage_reports_;
  return seq;
}

std::optional<std::int64_t> RunTelemetry::add_cost(double usd, std::string_view source, TelemetryError& error) {
  std::string fields = "{\"source\":";
  if (source.empty()) {
    fields += "null";
  } else if (!json_text::append_string(fields, source)) {
    error = invalid("cost source \"" + shown(source) + "\" is not valid UTF-8");
    return std::nullopt;
  }
  fields += ",\"usd\":";
  if (!(usd >= 0) || !json_text::append_float(fields, usd)) {  // NaN fails the first test
    char got[40];
    std::snprintf(got, sizeof got, "%g", usd);
    error = invalid(std::string("cost: expected a finite number of US dollars >= 0, got ") + got);
    return std::nullopt;
  }
  fields += '}';
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<std::int64_t> seq = append_locked("cost", fields, error);
  if (!seq) return std::nullopt;
  cost_usd_ = cost_usd_.value_or(0.0) + usd;
  return seq;
}

std::string RunTelemetry::summary_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Json spans = Json::object();
  for (const auto& [name, stats] : spans_) {
    spans[name] = {{"count", stats.count}, {"total_ms", micros_to_ms(stats.total_us)},
                   {"max_ms", micros_to_ms(stats.max_us)}};
  }
  Json by_kind = Json::object();
  for (const auto& [kind, n] : by_kind_) by_kind[kind] = n;
  Json out = {
      {"started_at", started_at_},
      {"ended_at", events_ ? Json(ended_at_) : Json(nullptr)},
      {"duration_ms", micros_to_ms(micros_between(opened_, Clock::now()))},
      {"events", events_},
      {"first_seq", first_seq_ ? Json(first_seq_) : Json(nullptr)},
      {"last_seq", last_seq_},
      {"events_by_kind", std::move(by_kind)},
      {"spans", std::move(spans)},
      {"open_spans", static_cast<std::int64_t>(open_spans_.size())},
      {"usage", usage_object(usage_.value_or(TokenUsage{}))},
      {"usage_reports", usage_reports_},
      {"cost_usd", cost_usd_ ? Json(*cost_usd_) : Json(nullptr)},
  };
  return dump(out);
}

std::int64_t RunTelemetry::last_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_seq_;
}

}  // namespace sidecar::host
