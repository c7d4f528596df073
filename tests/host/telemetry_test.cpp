// Telemetry: token usage parsed strictly and added without guessing, event lines (format, sorted
// keys, sequence numbers continuing across reopen and a torn line), spans, cost, the summary, and
// many events from two threads landing as whole lines.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/telemetry.hpp"
#include "temp_dir.hpp"

using sidecar::host::RunTelemetry;
using sidecar::host::TelemetryError;
using sidecar::host::TokenUsage;
using sidecar::test::TempDir;
using Json = nlohmann::json;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The complete lines of a file, each checked to be JSON.
std::vector<Json> lines_of(const std::string& path) {
  std::string text = slurp(path);
  REQUIRE((text.empty() || text.back() == '\n'));
  std::vector<Json> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(Json::parse(text.substr(start, nl - start)));
  }
  return out;
}

std::unique_ptr<RunTelemetry> open_run(const std::string& root, const std::string& file = "events.jsonl") {
  TelemetryError error;
  auto t = RunTelemetry::open(root, file, error);
  INFO(error.message);
  REQUIRE(t);
  return t;
}

TokenUsage parse_ok(const std::string& text) {
  TelemetryError error;
  auto u = sidecar::host::parse_token_usage(text, error);
  INFO(error.message);
  REQUIRE(u);
  return *u;
}

std::string parse_error(const std::string& text) {
  TelemetryError error;
  auto u = sidecar::host::parse_token_usage(text, error);
  REQUIRE_FALSE(u);
  CHECK(error.code == "EINVAL");
  return error.message;
}

Json summary_of(const RunTelemetry& t) { return Json::parse(t.summary_json()); }

// "2026-11-21T13:45:01.123Z": a digit wherever the shape has a 9.
bool is_ts(const std::string& s) {
  const std::string shape = "9999-99-99T99:99:99.999Z";
  if (s.size() != shape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == '9' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("telemetry: token usage is parsed as whole numbers or unknown", "[telemetry]") {
  TokenUsage all = parse_ok(R"({"input":1200,"cached_input":300,"output":450,"reasoning_output":120,"total":1650})");
  CHECK(all == TokenUsage{1200, 300, 450, 120, 1650});
  TokenUsage some = parse_ok(R"({"input":7,"output":null})");
  CHECK(some.input == 7);
  CHECK_FALSE(some.output);
  CHECK_FALSE(some.cached_input);
  CHECK_FALSE(some.total);
  CHECK_FALSE(parse_ok("{}").any_known());
  CHECK(parse_ok(R"({"total":0})").total == 0);
  CHECK(parse_ok(R"({"total":9223372036854775807})").total == std::numeric_limits<std::int64_t>::max());

  CHECK(parse_error(R"({"output":1.5})") == "usage.output: expected a whole number of tokens >= 0, got 1.5");
  CHECK(parse_error(R"({"input":2.0})") == "usage.input: expected a whole number of tokens >= 0, got 2.0");
  CHECK(parse_error(R"({"cached_input":-3})") ==
        "usage.cached_input: expected a whole number of tokens >= 0, got -3");
  CHECK(parse_error(R"({"total":"12"})") == "usage.total: expected a whole number of tokens >= 0, got \"12\"");
  CHECK(parse_error(R"({"reasoning_output":true})") ==
        "usage.reasoning_output: expected a whole number of tokens >= 0, got true");
  CHECK(parse_error(R"({"input":[1]})") == "usage.input: expected a whole number of tokens >= 0, got [1]");
  CHECK(parse_error(R"({"total":9223372036854775808})") ==
        "usage.total: expected a whole number of tokens >= 0, got 9223372036854775808");
  CHECK(parse_error(R"({"input_tokens":5})").rfind("usage.input_tokens: unknown field", 0) == 0);
  CHECK(parse_error("[1,2]") == "usage: expected a JSON object, got array");
  CHECK(parse_error("{\"input\":").rfind("usage: invalid JSON: ", 0) == 0);
  CHECK(parse_error(std::string("{}\0{\"input\":-1}", 15)).find("NUL byte") != std::string::npos);
}

TEST_CASE("telemetry: usage JSON always has the five keys, null when unknown", "[telemetry]") {
  using sidecar::host::token_usage_json;
  CHECK(token_usage_json(TokenUsage{}) ==
        R"({"cached_input":null,"input":null,"output":null,"reasoning_output":null,"total":null})");
  TokenUsage u{10, std::nullopt, 5, 0, 15};
  CHECK(token_usage_json(u) == R"({"cached_input":null,"input":10,"output":5,"reasoning_output":0,"total":15})");
  CHECK(parse_ok(token_usage_json(u)) == u);
}

TEST_CASE("telemetry: adding reports keeps a field only when known in both", "[telemetry]") {
  using sidecar::host::usage_add;
  TokenUsage a{100, 20, 50, 10, 150};
  TokenUsage b{30, std::nullopt, 5, 1, std::nullopt};
  TokenUsage sum = usage_add(a, b);
  CHECK(sum.input == 130);
  CHECK_FALSE(sum.cached_input);  // 20 + unknown is not 20
  CHECK(sum.output == 55);
  CHECK(sum.reasoning_output == 11);
  CHECK_FALSE(sum.total);
  CHECK(usage_add(TokenUsage{}, TokenUsage{}) == TokenUsage{});
  TokenUsage big{std::numeric_limits<std::int64_t>::max(), 1, 1, 1, 1};
  CHECK_FALSE(usage_add(big, big).input);  // an overflow is not a count either
  CHECK(usage_add(big, big).output == 2);
}

TEST_CASE("telemetry: the delta of cumulative reports, unknown when it would go back", "[telemetry]") {
  using sidecar::host::usage_delta;
  TokenUsage before{1000, 200, 300, 50, 1300};
  TokenUsage now{1500, 200, 250, std::nullopt, 1750};
  TokenUsage d = usage_delta(now, before);
  CHECK(d.input == 500);
  CHECK(d.cached_input == 0);
  CHECK_FALSE(d.output);            // now < before: not a count
  CHECK_FALSE(d.reasoning_output);  // unknown now
  CHECK(d.total == 450);
  CHECK_FALSE(usage_delta(before, TokenUsage{}).any_known());
}

TEST_CASE("telemetry: event kinds and timestamps", "[telemetry]") {
  using sidecar::host::format_utc_ms;
  using sidecar::host::valid_event_kind;
  for (const char* good : {"a", "span", "agent.message", "turn.completed", "x_1.y2", "z9"}) {
    INFO(good);
    CHECK(valid_event_kind(good));
  }
  for (const char* bad : {"", "Agent", "1abc", ".a", "_a", "a-b", "a b", "a/b", "kind\n", "é"}) {
    INFO(bad);
    CHECK_FALSE(valid_event_kind(bad));
  }
  CHECK(valid_event_kind(std::string(64, 'a')));
  CHECK_FALSE(valid_event_kind(std::string(65, 'a')));
  CHECK(format_utc_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc_ms(1795268701123) == "2026-11-21T13:45:01.123Z");
  CHECK(format_utc_ms(951868799999) == "2000-02-29T23:59:59.999Z");
  CHECK(format_utc_ms(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("telemetry: an event is one compact line with sorted keys", "[telemetry]") {
  TempDir dir("telemetry");
  auto t = open_run(dir.path + "/run");  // the folder is created
  TelemetryError error;
  auto seq = t->event("agent.message", "{\n  \"text\": \"hi\\n\\\"there\\\"\",\n  \"b\": [1, 2.0, null],\n"
                                       "  \"a\": {\"z\": 1, \"y\": {}}\n}",
                      error);
  REQUIRE(seq == 1);
  REQUIRE(t->event("done", "{}", error) == 2);
  const std::string text = slurp(dir.path + "/run/events.jsonl");
  const std::string first = text.substr(0, text.find('\n'));
  const std::string want = R"({"fields":{"a":{"y":{},"z":1},"b":[1,2.0,null],"text":"hi\n\"there\""},)"
                           R"("kind":"agent.message","seq":1,"ts":")";
  INFO(first);
  REQUIRE(first.size() == want.size() + 26);
  CHECK(first.substr(0, want.size()) == want);
  CHECK(is_ts(first.substr(want.size(), 24)));
  CHECK(first.substr(want.size() + 24) == "\"}");
  auto lines = lines_of(dir.path + "/run/events.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["kind"] == "done");
  CHECK(lines[1]["fields"] == Json::object());
  CHECK(lines[1]["seq"] == 2);
  CHECK(t->last_seq() == 2);
}

TEST_CASE("telemetry: bad kinds and fields are refused and nothing is written", "[telemetry]") {
  TempDir dir("telemetry");
  auto t = open_run(dir.path);
  struct Bad {
    std::string kind, fields, message;
  };
  std::string deep(1001, '[');
  const std::vector<Bad> cases = {
      {"Bad.Kind", "{}", "event kind \"Bad.Kind\" is not valid"},
      {"a-b", "{}", "event kind \"a-b\" is not valid"},
      {"", "{}", "event kind \"\" is not valid"},
      {"usage", R"({"usage":{"input":1}})", "event kind \"usage\" is the recorder's own: use add_usage"},
      {"span", "{}", "event kind \"span\" is the recorder's own: use begin_span/end_span"},
      {"cost", "{}", "event kind \"cost\" is the recorder's own: use add_cost"},
      {"ok", "[1]", "fields: expected a JSON object, got array"},
      {"ok", "\"text\"", "fields: expected a JSON object, got string"},
      {"ok", "{\"a\":", "fields: invalid JSON: "},
      {"ok", "{} {}", "fields: invalid JSON: "},
      {"ok", "", "fields: invalid JSON: "},
      {"ok", std::string("{}\0x", 4), "fields: invalid JSON: a NUL byte"},
      {"ok", "{\"a\":\"\xff\"}", "fields: invalid JSON: "},
      {"ok", "{\"a\":" + deep, "fields: nesting deeper than 1000 levels"},
  };
  for (const Bad& c : cases) {
    TelemetryError error;
    INFO(c.kind << " " << c.fields.substr(0, 20));
    CHECK_FALSE(t->event(c.kind, c.fields, error));
    CHECK(error.code == "EINVAL");
    CHECK(error.message.rfind(c.message, 0) == 0);
  }
  CHECK(t->last_seq() == 0);
  CHECK(slurp(dir.path + "/events.jsonl").empty());
  TelemetryError error;
  CHECK(t->event("ok", "{\"a\":" + std::string(999, '[') + std::string(999, ']') + "}", error) == 1);
}

TEST_CASE("telemetry: two writers of one run's events (a run, a notification's sender) never share a seq",
          "[telemetry]") {
  TempDir dir("telemetry");
  TelemetryError error;
  auto run = open_run(dir.path);
  REQUIRE(run->event("run.started", "{}", error) == 1);
  auto sender = open_run(dir.path);  // another process's, opened while the run goes on
  CHECK(run->event("agent.said", R"({"note":",\"seq\":99,\"ts\":\"x\"}"})", error) == 2);  // a field quoting a line
  CHECK(sender->event("notify.sent", "{}", error) == 3);  // after the run's latest, not its own last seen
  CHECK(run->event("run.finished", "{}", error) == 4);
  auto lines = lines_of(dir.path + "/events.jsonl");
  REQUIRE(lines.size() == 4);
  for (std::size_t i = 0; i < lines.size(); ++i) CHECK(lines[i]["seq"] == static_cast<int>(i) + 1);
}

TEST_CASE("telemetry: seq continues after reopen, after a torn last line, and refuses a foreign file",
          "[telemetry]") {
  TempDir dir("telemetry");
  TelemetryError error;
  {
    auto t = open_run(dir.path);
    REQUIRE(t->event("a", "{}", error));
    REQUIRE(t->event("b", "{}", error));
  }
  {
    auto t = open_run(dir.path);
    CHECK(t->last_seq() == 2);
    CHECK(t->event("c", "{}", error) == 3);
    CHECK(summary_of(*t)["first_seq"] == 3);
  }
  // A crash in the middle of a line: the line was never committed.
  std::string text = slurp(dir.path + "/events.jsonl");
  put(dir.path + "/events.jsonl", text + R"({"fields":{},"kind":"d","seq":4,"ts":"2026-)");
  {
    auto t = open_run(dir.path);
    CHECK(t->last_seq() == 3);
    CHECK(t->event("e", "{}", error) == 4);
  }
  auto lines = lines_of(dir.path + "/events.jsonl");
  REQUIRE(lines.size() == 4);
  CHECK(lines[3]["kind"] == "e");
  CHECK(lines[3]["seq"] == 4);

  // Blank lines at the end are skipped; a file with only a torn line starts at 1.
  put(dir.path + "/blank.jsonl", "{\"seq\":41}\n\n  \n");
  CHECK(open_run(dir.path, "blank.jsonl")->last_seq() == 41);
  put(dir.path + "/torn.jsonl", "{\"fields\":{},\"ki");
  CHECK(open_run(dir.path, "torn.jsonl")->last_seq() == 0);
  put(dir.path + "/empty.jsonl", "");
  CHECK(open_run(dir.path, "empty.jsonl")->last_seq() == 0);

  // Another writer's stream (an agent's raw events) is not continued.
  put(dir.path + "/raw.jsonl", "{\"type\":\"thread.started\"}\n");
  CHECK_FALSE(RunTelemetry::open(dir.path, "raw.jsonl", error));
  CHECK(error.code == "EINVAL");
  CHECK(error.message.find("raw.jsonl: the last line is not a telemetry event") == 0);
  CHECK(slurp(dir.path + "/raw.jsonl") == "{\"type\":\"thread.started\"}\n");
  // Paths stay inside the folder.
  CHECK_FALSE(RunTelemetry::open(dir.path, "../events.jsonl", error));
  CHECK(error.code == "ESCAPE");
  CHECK(open_run(dir.path, "logs/run-1/events.jsonl")->event("x", "{}", error) == 1);
  CHECK(lines_of(dir.path + "/logs/run-1/events.jsonl").size() == 1);
}

TEST_CASE("telemetry: spans are timed on a monotonic clock and end once", "[telemetry]") {
  TempDir dir("telemetry");
  auto t = open_run(dir.path);
  TelemetryError error;
  auto slow = t->begin_span("agent.turn", error);
  auto quick = t->begin_span("agent.turn", error);
  REQUIRE(slow);
  REQUIRE(quick);
  CHECK(*slow != *quick);
  auto q = t->end_span(*quick, R"({"exit_code":0})", error);
  REQUIRE(q);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto ms = t->end_span(*slow, "", error);
  REQUIRE(ms);
  CHECK(*ms >= 30.0);
  CHECK(*q >= 0.0);

  auto lines = lines_of(dir.path + "/events.jsonl");
  REQUIRE(lines.size() == 2);
  const Json& f = lines[0]["fields"];
  CHECK(lines[0]["kind"] == "span");
  CHECK(f["name"] == "agent.turn");
  CHECK(f["exit_code"] == 0);
  CHECK(f["duration_ms"].get<double>() == *q);
  CHECK(is_ts(f["started_at"].get<std::string>()));
  CHECK(lines[1]["fields"]["duration_ms"].get<double>() == *ms);

  // Ended, unknown, or fields that would overwrite the measurement: errors.
  CHECK_FALSE(t->end_span(*slow, "{}", error));
  CHECK(error.code == "EINVAL");
  CHECK(error.message == "span " + std::to_string(*slow) + " is not open (never begun, or ended already)");
  CHECK_FALSE(t->end_span(999, "{}", error));
  CHECK(error.message.find("span 999 is not open") == 0);
  auto third = t->begin_span("validation", error);
  REQUIRE(third);
  CHECK_FALSE(t->end_span(*third, R"({"duration_ms":1})", error));
  CHECK(error.message.find("\"duration_ms\" is set by the span itself") != std::string::npos);
  CHECK_FALSE(t->end_span(*third, "[]", error));
  CHECK(summary_of(*t)["open_spans"] == 1);
  CHECK(t->end_span(*third, R"({"ok":true})", error));  // still open after the refusals
  CHECK_FALSE(t->begin_span("", error));
  CHECK_FALSE(t->begin_span("bad \xff", error));
  CHECK_FALSE(t->begin_span(std::string(129, 'x'), error));

  Json s = summary_of(*t);
  CHECK(s["open_spans"] == 0);
  const Json& turn = s["spans"]["agent.turn"];
  CHECK(turn["count"] == 2);
  CHECK(turn["max_ms"].get<double>() == *ms);
  CHECK(std::abs(turn["total_ms"].get<double>() - (*ms + *q)) < 0.0015);
  CHECK(s["spans"]["validation"]["count"] == 1);
}

TEST_CASE("telemetry: usage and cost accumulate; the summary says what was recorded", "[telemetry]") {
  TempDir dir("telemetry");
  auto t = open_run(dir.path);
  TelemetryError error;
  Json s = summary_of(*t);
  CHECK(s["events"] == 0);
  CHECK(s["ended_at"].is_null());
  CHECK(s["first_seq"].is_null());
  CHECK(s["usage_reports"] == 0);
  CHECK(s["usage"] == Json::parse(sidecar::host::token_usage_json(TokenUsage{})));
  CHECK(s["cost_usd"].is_null());
  CHECK(s["events_by_kind"] == Json::object());
  CHECK(s["spans"] == Json::object());
  CHECK(is_ts(s["started_at"].get<std::string>()));

  REQUIRE(t->add_usage(TokenUsage{1000, 200, 300, 50, 1300}, "codex:turn.completed", error) == 1);
  REQUIRE(t->add_usage(TokenUsage{500, 100, 200, std::nullopt, 700}, "", error) == 2);
  REQUIRE(t->add_cost(0.25, "claude:result", error) == 3);
  REQUIRE(t->add_cost(0.5, "", error) == 4);
  REQUIRE(t->event("agent.message", R"({"n":1})", error) == 5);
  // Refused: a negative count, a cost that is not a finite amount >= 0. Nothing is added.
  CHECK_FALSE(t->add_usage(TokenUsage{-1, 0, 0, 0, 0}, "", error));
  CHECK(error.message == "usage.input: expected a whole number of tokens >= 0, got -1");
  for (double bad : {-0.01, std::nan(""), std::numeric_limits<double>::infinity()}) {
    CHECK_FALSE(t->add_cost(bad, "", error));
    CHECK(error.code == "EINVAL");
    CHECK(error.message.find("cost: expected a finite number of US dollars >= 0") == 0);
  }
  CHECK_FALSE(t->add_usage(TokenUsage{}, "bad \xff", error));

  auto lines = lines_of(dir.path + "/events.jsonl");
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["fields"] == Json::parse(R"({"source":"codex:turn.completed","usage":{"cached_input":200,)"
                                          R"("input":1000,"output":300,"reasoning_output":50,"total":1300}})"));
  CHECK(lines[1]["fields"]["source"].is_null());
  CHECK(lines[1]["fields"]["usage"]["reasoning_output"].is_null());
  CHECK(lines[2]["kind"] == "cost");
  CHECK(lines[2]["fields"] == Json::parse(R"({"source":"claude:result","usd":0.25})"));

  s = summary_of(*t);
  CHECK(s["usage"] == Json::parse(R"({"cached_input":300,"input":1500,"output":500,"reasoning_output":null,)"
                                  R"("total":2000})"));
  CHECK(s["usage_reports"] == 2);
  CHECK(s["cost_usd"].get<double>() == 0.75);
  CHECK(s["events"] == 5);
  CHECK(s["first_seq"] == 1);
  CHECK(s["last_seq"] == 5);
  CHECK(s["events_by_kind"] == Json::parse(R"({"agent.message":1,"cost":2,"usage":2})"));
  CHECK(s["ended_at"] == lines[4]["ts"]);
  CHECK(s["duration_ms"].get<double>() >= 0.0);
  CHECK(s.size() == 12);  // no key added without a test
}

TEST_CASE("telemetry: 10 000 events from two threads are 10 000 whole lines, numbered in order",
          "[telemetry]") {
  TempDir dir("telemetry");
  auto t = open_run(dir.path);
  const int per_thread = 5000;
  std::atomic<int> failures{0};  // Catch2 assertions are for the main thread only
  auto writer = [&](const std::string& kind) {
    TelemetryError error;
    for (int i = 0; i < per_thread; ++i) {
      if (!t->event(kind, "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(i % 200, 'x') + "\"}", error)) {
        ++failures;
      }
    }
  };
  std::thread a(writer, "thread.a"), b(writer, "thread.b");
  a.join();
  b.join();
  REQUIRE(failures == 0);
  auto lines = lines_of(dir.path + "/events.jsonl");
  REQUIRE(lines.size() == 2 * per_thread);
  std::vector<int> next(2, 0);
  for (std::size_t n = 0; n < lines.size(); ++n) {
    REQUIRE(lines[n]["seq"] == static_cast<std::int64_t>(n + 1));  // file order is seq order
    int which = lines[n]["kind"] == "thread.a" ? 0 : 1;
    REQUIRE(lines[n]["fields"]["i"] == next[which]);  // each thread's events in its own order
    ++next[which];
  }
  Json s = summary_of(*t);
  CHECK(s["events"] == 2 * per_thread);
  CHECK(s["events_by_kind"]["thread.a"] == per_thread);
  CHECK(s["events_by_kind"]["thread.b"] == per_thread);
}
