// The scripted model server: the replies of both APIs parsed back as Server-Sent Events, errors,
// cuts and hangs as reply plans, the steps each API walks, the log line, and the scenario checks.
// (Its HTTP side is tested in http_server_test.cpp.)
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model_server.hpp"
#include "temp_dir.hpp"

using sidecar::model_server::HttpReply;
using sidecar::model_server::HttpRequest;
using sidecar::model_server::ModelAnswer;
using sidecar::model_server::ModelServer;
using Json = nlohmann::json;

namespace {

// --- Server-Sent Events, read back -----------------------------------------------------------

struct Event {
  std::string name;
  Json data;
};

// Parses framed events as a client does: blocks end at an empty line; "event:" and "data:" lines.
std::vector<Event> parse_sse(const std::string& text) {
  std::vector<Event> events;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\n\n", start);
    REQUIRE(end != std::string::npos);  // every event is complete
    std::string block = text.substr(start, end - start), name, data;
    std::size_t pos = 0;
    while (pos <= block.size()) {
      std::size_t nl = block.find('\n', pos);
      std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (line.rfind("event: ", 0) == 0) name = line.substr(7);
      else if (line.rfind("data: ", 0) == 0) data += (data.empty() ? "" : "\n") + line.substr(6);
      else FAIL("unexpected SSE line: " << line);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    Json parsed = Json::parse(data);
    CHECK(parsed["type"] == name);  // both APIs repeat the event name as "type"
    events.push_back({name, parsed});
    start = end + 2;
  }
  return events;
}

std::vector<Event> events_of(const HttpReply& reply) {
  std::string text;
  for (const std::string& e : reply.events) text += e;
  return parse_sse(text);
}

std::vector<std::string> names(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(e.name);
  return out;
}

HttpRequest post(const std::string& path, const std::string& body) {
  HttpRequest r;
  r.method = "POST";
  r.target = path;
  std::size_t q = path.find('?');
  r.path = path.substr(0, q);
  if (q != std::string::npos) r.query = path.substr(q + 1);
  r.headers = {{"content-type", "application/json"}, {"user-agent", "test/1"}};
  r.body = body;
  return r;
}

std::string header(const HttpReply& reply, const std::string& name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "(none)";
}

std::unique_ptr<ModelServer> load(const std::string& text) {
  std::string error;
  std::unique_ptr<ModelServer> m = ModelServer::load(text, "scenario.json", error);
  INFO(error);
  REQUIRE(m);
  return m;
}

std::string load_error(const std::string& text) {
  std::string error;
  std::unique_ptr<ModelServer> m = ModelServer::load(text, "s.json", error);
  CHECK(!m);
  return error;
}

}  // namespace

TEST_CASE("model server: a Responses stream of reasoning, text and tool calls", "[model_server]") {
  auto m = load(R"({"steps": [{"reasoning": "Think.", "text": "Let me look.",
    "tool_calls": [{"shell": "ls -la"}, {"name": "lookup", "arguments": {"q": 1}, "id": "call_given"}],
    "usage": {"input_tokens": 100, "output_tokens": 20, "cached_tokens": 7, "reasoning_tokens": 3}}]})");
  ModelAnswer a = m->answer(post("/v1/responses", R"({"model": "gpt-5.5", "stream": true, "input": "Say hi"})"));
  CHECK(a.reply.status == 200);
  REQUIRE(a.reply.stream);
  CHECK(a.reply.end == HttpReply::End::Complete);
  std::vector<Event> ev = events_of(a.reply);
  CHECK(names(ev) == std::vector<std::string>{
      "response.created", "response.in_progress",
      "response.output_item.added", "response.output_item.done",                                  // reasoning
      "response.output_item.added", "response.content_part.added", "response.output_text.delta",  // message
      "response.output_text.done", "response.output_item.done",
      "response.output_item.added", "response.function_call_arguments.done", "response.output_item.done",  // shell
      "response.output_item.added", "response.function_call_arguments.done", "response.output_item.done",
      "response.completed"});
  for (std::size_t i = 0; i < ev.size(); ++i) CHECK(ev[i].data["sequence_number"] == i);
  CHECK(ev[0].data["response"]["model"] == "gpt-5.5");  // the request's model is echoed
  CHECK(ev[0].data["response"]["status"] == "in_progress");
  CHECK(ev[3].data["item"]["summary"][0]["text"] == "Think.");
  CHECK(ev[6].data["delta"] == "Let me look.");
  CHECK(ev[8].data["item"]["content"][0]["text"] == "Let me look.");
  Json shell = ev[11].data["item"];
  CHECK(shell["type"] == "function_call");
  CHECK(shell["name"] == "exec_command");
  CHECK(Json::parse(shell["arguments"].get<std::string>()) == Json{{"cmd", "ls -la"}});
  CHECK(ev[14].data["item"]["call_id"] == "call_given");
  CHECK(Json::parse(ev[14].data["item"]["arguments"].get<std::string>()) == Json{{"q", 1}});
  Json done = ev.back().data["response"];
  CHECK(done["status"] == "completed");
  CHECK(done["output"].size() == 4);
  CHECK(done["usage"] == Json::parse(R"({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 7},
    "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 120})"));
  // Every item keeps its id from added to done, and ids differ between requests.
  CHECK(ev[2].data["item"]["id"] == ev[3].data["item"]["id"]);
  CHECK(shell["call_id"] != ev[14].data["item"]["call_id"]);
}

TEST_CASE("model server: a custom tool call (apply_patch) and a plain JSON reply", "[model_server]") {
  auto m = load(R"({"model": "scripted", "steps": [
    {"api": "responses", "tool_calls": [{"name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"}]},
    {"text": "whole", "usage": {"input_tokens": 5, "output_tokens": 6, "total_tokens": 99}}]})");
  std::vector<Event> ev = events_of(m->answer(post("/responses", R"({"stream": true})")).reply);
  CHECK(ev[0].data["response"]["model"] == "scripted");  // no model in the request
  REQUIRE(ev.size() == 6);
  CHECK(ev[3].name == "response.custom_tool_call_input.done");
  CHECK(ev[3].data["input"] == "*** Begin Patch\n*** End Patch\n");
  CHECK(ev[4].data["item"]["type"] == "custom_tool_call");
  CHECK(ev[4].data["item"]["name"] == "apply_patch");
  CHECK(ev[4].data["item"]["input"] == "*** Begin Patch\n*** End Patch\n");

  ModelAnswer a = m->answer(post("/v1/responses", R"({"input": []})"));
  CHECK_FALSE(a.reply.stream);
  CHECK(header(a.reply, "Content-Type") == "application/json");
  Json body = Json::parse(a.reply.body);
  CHECK(body["object"] == "response");
  CHECK(body["output"][0]["content"][0]["text"] == "whole");
  CHECK(body["usage"]["total_tokens"] == 99);
}

TEST_CASE("model server: a function call in a namespace (codex's MCP tools)", "[model_server]") {
  auto m = load(R"({"steps": [{"api": "responses", "tool_calls": [
    {"name": "task_create", "namespace": "mcp__sidecar", "arguments": {"title": "t"}}, {"name": "plain"}]}]})");
  std::vector<Event> ev = events_of(m->answer(post("/v1/responses", R"({"stream": true})")).reply);
  std::vector<Json> calls;
  for (const Event& e : ev) {
    if (e.name == "response.output_item.done") calls.push_back(e.data["item"]);
  }
  REQUIRE(calls.size() == 2);
  CHECK(calls[0]["type"] == "function_call");
  CHECK(calls[0]["name"] == "task_create");
  CHECK(calls[0]["namespace"] == "mcp__sidecar");
  CHECK(calls[0]["arguments"] == R"({"title":"t"})");
  CHECK_FALSE(calls[1].contains("namespace"));  // only when the scenario names one
}

TEST_CASE("model server: a Messages stream of thinking, text and tool use", "[model_server]") {
  auto m = load(R"({"steps": [{"reasoning": "Think.", "text": "Let me look.",
    "tool_calls": [{"shell": "ls -la"}, {"name": "Read", "arguments": {"file_path": "/x"}}],
    "usage": {"input_tokens": 100, "output_tokens": 20, "cached_tokens": 7, "cache_creation_tokens": 2}}]})");
  ModelAnswer a = m->answer(post("/v1/messages?beta=true", R"({"model": "claude-x", "stream": true, "messages": []})"));
  std::vector<Event> ev = events_of(a.reply);
  CHECK(names(ev) == std::vector<std::string>{
      "message_start", "ping",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",  // thinking
      "content_block_start", "content_block_delta", "content_block_stop",                         // text
      "content_block_start", "content_block_delta", "content_block_stop",                         // Bash
      "content_block_start", "content_block_delta", "content_block_stop",                         // Read
      "message_delta", "message_stop"});
  Json start = ev[0].data["message"];
  CHECK(start["model"] == "claude-x");
  CHECK(start["usage"] == Json::parse(R"({"input_tokens": 100, "output_tokens": 1,
    "cache_creation_input_tokens": 2, "cache_read_input_tokens": 7})"));
  CHECK(ev[2].data["content_block"]["type"] == "thinking");
  CHECK(ev[3].data["delta"] == Json{{"type", "thinking_delta"}, {"thinking", "Think."}});
  CHECK(ev[4].data["delta"]["type"] == "signature_delta");
  CHECK(ev[7].data["delta"] == Json{{"type", "text_delta"}, {"text", "Let me look."}});
  Json bash = ev[9].data["content_block"];
  CHECK(bash["type"] == "tool_use");
  CHECK(bash["name"] == "Bash");
  CHECK(bash["input"] == Json::object());
  CHECK(ev[10].data["delta"]["type"] == "input_json_delta");
  CHECK(Json::parse(ev[10].data["delta"]["partial_json"].get<std::string>()) == Json{{"command", "ls -la"}});
  CHECK(ev[12].data["content_block"]["name"] == "Read");
  for (int i : {2, 3, 5}) CHECK(ev[i].data["index"] == 0);
  CHECK(ev[14].data["index"] == 3);
  CHECK(ev[15].data["delta"]["stop_reason"] == "tool_use");
  CHECK(ev[15].data["usage"]["output_tokens"] == 20);

  // Without tool calls the turn ends; a stop_reason can be scripted; no "stream": one object.
  auto plain = load(R"({"steps": [{"text": "Hi."}, {"text": "Long", "stop_reason": "max_tokens"}]})");
  CHECK(events_of(plain->answer(post("/v1/messages", R"({"stream": true})")).reply)[5].data["delta"]["stop_reason"] == "end_turn");
  Json whole = Json::parse(plain->answer(post("/v1/messages", "{}")).reply.body);
  CHECK(whole["type"] == "message");
  CHECK(whole["content"] == Json::parse(R"([{"type": "text", "text": "Long"}])"));
  CHECK(whole["stop_reason"] == "max_tokens");
}

TEST_CASE("model server: errors, cuts, hangs and delays become reply plans", "[model_server]") {
  auto m = load(R"({"steps": [
    {"error": {"status": 500, "message": "mock internal error"}, "delay_ms": 5},
    {"error": {"status": 429, "body": "slow down", "headers": {"retry-after": "1"}}},
    {"text": "cut", "cut_after_events": 3, "event_delay_ms": 7},
    {"text": "hang", "hang": true},
    {"text": "hang later", "hang": true, "cut_after_events": 2},
    {"text": "whole but cut", "cut_after_events": 1}]})");
  ModelAnswer e = m->answer(post("/v1/messages", R"({"stream": true})"));
  CHECK(e.reply.status == 500);
  CHECK(e.reply.delay_ms == 5);
  CHECK(Json::parse(e.reply.body) ==
        Json::parse(R"({"type": "error", "error": {"type": "api_error", "message": "mock internal error"}})"));
  ModelAnswer r = m->answer(post("/v1/responses", R"({"stream": true})"));
  CHECK(Json::parse(r.reply.body)["error"]["message"] == "mock internal error");  // the same step, its own API
  CHECK(Json::parse(r.reply.body)["error"]["type"] == "server_error");

  ModelAnswer raw = m->answer(post("/v1/responses", R"({"stream": true})"));
  CHECK(raw.reply.status == 429);
  CHECK(raw.reply.body == "slow down");
  CHECK(header(raw.reply, "retry-after") == "1");
  CHECK(header(raw.reply, "Content-Type") == "text/plain; charset=utf-8");

  ModelAnswer cut = m->answer(post("/v1/responses", R"({"stream": true})"));
  CHECK(cut.reply.events.size() == 3);
  CHECK(cut.reply.event_delay_ms == 7);
  CHECK(cut.reply.end == HttpReply::End::Close);
  ModelAnswer hang = m->answer(post("/v1/responses", R"({"stream": true})"));
  CHECK(hang.reply.events.empty());
  CHECK(hang.reply.end == HttpReply::End::Hang);
  ModelAnswer later = m->answer(post("/v1/responses", R"({"stream": true})"));
  CHECK(later.reply.events.size() == 2);
  CHECK(later.reply.end == HttpReply::End::Hang);
  ModelAnswer whole = m->answer(post("/v1/responses", "{}"));
  CHECK_FALSE(whole.reply.stream);
  CHECK(whole.reply.end == HttpReply::End::Close);
  CHECK(Json::parse(whole.log_line)["reply"] == "cut");
}

TEST_CASE("model server: each API keeps its own place in the steps; then default_reply or 500", "[model_server]") {
  auto m = load(R"({"steps": [{"text": "both"}, {"api": "messages", "text": "claude only"}, {"text": "both again"}],
                    "default_reply": {"text": "again and again"}})");
  auto text_of = [&](const std::string& path) {
    ModelAnswer a = m->answer(post(path, "{}"));
    Json body = Json::parse(a.reply.body);
    return path == "/v1/messages" ? body["content"][0]["text"].get<std::string>()
                                  : body["output"][0]["content"][0]["text"].get<std::string>();
  };
  CHECK(m->steps_left("responses") == 2);
  CHECK(m->steps_left("messages") == 3);
  CHECK(text_of("/v1/responses") == "both");
  CHECK(text_of("/v1/messages") == "both");
  CHECK(text_of("/v1/responses") == "both again");
  CHECK(text_of("/v1/messages") == "claude only");
  CHECK(text_of("/v1/responses") == "again and again");
  ModelAnswer last = m->answer(post("/v1/messages", "{}"));
  Json log = Json::parse(last.log_line);
  CHECK(log["step"] == 2);
  ModelAnswer extra = m->answer(post("/v1/messages", "{}"));
  log = Json::parse(extra.log_line);
  CHECK(log["step"] == nullptr);
  CHECK(log["default_reply"] == true);
  CHECK_THAT(extra.summary, Catch::Contains("default_reply"));

  auto strict = load(R"({"steps": [{"text": "one"}]})");
  strict->answer(post("/v1/responses", "{}"));
  ModelAnswer none = strict->answer(post("/v1/responses", R"({"stream": true})"));
  CHECK(none.reply.status == 500);
  CHECK_FALSE(none.reply.stream);
  CHECK_THAT(none.reply.body, Catch::Contains("the scenario has no reply left for the responses API"));
  CHECK(Json::parse(none.log_line)["reply"] == "no_step");
}

TEST_CASE("model server: unknown paths, methods and bodies; the log line", "[model_server]") {
  auto m = load(R"({"steps": [{"text": "one"}]})");
  HttpRequest get = post("/v1/models", "");
  get.method = "GET";
  ModelAnswer a = m->answer(get);
  CHECK(a.reply.status == 404);
  CHECK_THAT(Json::parse(a.reply.body)["error"]["message"].get<std::string>(), Catch::Contains("no endpoint GET /v1/models"));
  Json log = Json::parse(a.log_line);
  CHECK(log["reply"] == "not_found");
  CHECK(log["api"] == nullptr);
  CHECK(log["body"] == nullptr);

  HttpRequest wrong = post("/v1/responses", "");
  wrong.method = "PUT";
  CHECK(m->answer(wrong).reply.status == 405);
  ModelAnswer bad = m->answer(post("/v1/messages", "not json"));
  CHECK(bad.reply.status == 400);
  CHECK(Json::parse(bad.log_line)["body"] == "not json");  // kept as text
  CHECK(m->answer(post("/v1/messages", "[1]")).reply.status == 400);
  CHECK(m->steps_left("messages") == 1);  // none of these used a step

  ModelAnswer ok = m->answer(post("/v1/messages?beta=true", R"({"stream": true, "messages": [{"role": "user", "content": "the prompt"}]})"));
  log = Json::parse(ok.log_line);
  CHECK(log["seq"] == 5);
  CHECK(log["method"] == "POST");
  CHECK(log["path"] == "/v1/messages");
  CHECK(log["query"] == "beta=true");
  CHECK(log["api"] == "messages");
  CHECK(log["step"] == 0);
  CHECK(log["status"] == 200);
  CHECK(log["reply"] == "stream");
  CHECK(log["events"] == ok.reply.events.size());
  CHECK(log["user_agent"] == "test/1");
  CHECK(log["body"]["messages"][0]["content"] == "the prompt");
  CHECK_THAT(log["time"].get<std::string>(), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"));
  CHECK(ok.summary == "POST /v1/messages -> step 0: 200 stream, " + std::to_string(ok.reply.events.size()) + " events");

  // Nesting too deep to write back safely is logged as text.
  std::string deep = std::string(1000, '[') + std::string(1000, ']');
  CHECK(Json::parse(m->answer(post("/v1/messages", deep)).log_line)["body"].is_string());

  ModelAnswer unreadable = m->bad_request(400, "malformed request line");
  log = Json::parse(unreadable.log_line);
  CHECK(log["reply"] == "bad_request");
  CHECK(log["error"] == "malformed request line");
}

TEST_CASE("model server: scenario mistakes name the file, the JSON path and the problem", "[model_server]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "s.json: invalid JSON: parse error at line 1, column 1"},
      {"{\"steps\": [}", "s.json: invalid JSON: parse error at line 1, column 12"},
      {"[]", "s.json: $: expected an object like {\"steps\": [...]}, got []"},
      {"{}", "s.json: $: a scenario needs \"steps\""},
      {R"({"steps": {}})", "s.json: $.steps: expected an array of steps, got {}"},
      {R"({"steps": [], "modle": "x"})", "s.json: $: unknown key \"modle\" (known: comment, model, steps, default_reply)"},
      {R"({"steps": [3]})", "s.json: $.steps[0]: expected an object (a step), got 3"},
      {R"({"steps": [{"cut_after_event": 1}]})", "s.json: $.steps[0]: unknown key \"cut_after_event\""},
      {R"({"steps": [{}, {"text": 1}]})", "s.json: $.steps[1].text: expected a string, got 1"},
      {R"({"steps": [{"api": "chat"}]})", "s.json: $.steps[0].api: expected \"responses\" or \"messages\", got \"chat\""},
      {R"({"steps": [{"usage": {"input_tokens": "ten"}}]})", "s.json: $.steps[0].usage.input_tokens: expected an integer >= 0, got \"ten\""},
      {R"({"steps": [{"usage": {"output_tokens": -1}}]})", "$.steps[0].usage.output_tokens: expected an integer >= 0, got -1"},
      {R"({"steps": [{"usage": {"input": 1}}]})", "$.steps[0].usage: unknown key \"input\""},
      {R"({"steps": [{"tool_calls": {}}]})", "$.steps[0].tool_calls: expected an array, got {}"},
      {R"({"steps": [{"tool_calls": [{}]}]})", "$.steps[0].tool_calls[0]: a tool call needs \"shell\" or \"name\""},
      {R"({"steps": [{"tool_calls": [{"shell": ""}]}]})", "$.steps[0].tool_calls[0].shell: expected a non-empty string"},
      {R"({"steps": [{"tool_calls": [{"shell": "ls", "name": "x"}]}]})", "$.steps[0].tool_calls[0]: \"shell\" stands alone"},
      {R"({"steps": [{"tool_calls": [{"name": "f", "arguments": [1]}]}]})", "$.steps[0].tool_calls[0].arguments: expected an object, got [1]"},
      {R"({"steps": [{"tool_calls": [{"name": "apply_patch", "input": "x"}]}]})",
       "$.steps[0].tool_calls[0]: a custom tool call (\"input\") exists only in the Responses API"},
      {R"({"steps": [{"tool_calls": [{"name": "f", "namespace": "mcp__x"}]}]})",
       "$.steps[0].tool_calls[0]: \"namespace\" is for a Responses function call"},
      {R"({"steps": [{"api": "responses", "tool_calls": [{"name": "f", "namespace": "n", "input": "x"}]}]})",
       "$.steps[0].tool_calls[0]: \"namespace\" is for a Responses function call"},
      {R"({"steps": [{"api": "responses", "tool_calls": [{"name": "f", "namespace": ""}]}]})",
       "$.steps[0].tool_calls[0].namespace: expected a non-empty string"},
      {R"({"steps": [{"error": {"message": "x"}}]})", "$.steps[0].error: an error needs \"status\""},
      {R"({"steps": [{"error": {"status": 200}}]})", "$.steps[0].error.status: expected an HTTP error status from 400 to 599, got 200"},
      {R"({"steps": [{"error": {"status": 500}, "text": "x"}]})", "$.steps[0]: \"error\" replaces the reply: \"text\" cannot go with it"},
      {R"({"steps": [{"error": {"status": 500, "headers": {"a b": "c"}}}]})", "$.steps[0].error.headers.a b: not a valid header name"},
      {R"({"steps": [{"delay_ms": 1.5}]})", "$.steps[0].delay_ms: expected milliseconds: an integer from 0 to 86400000, got 1.5"},
      {R"({"steps": [{"hang": "yes"}]})", "$.steps[0].hang: expected true or false, got \"yes\""},
      {R"({"steps": [], "default_reply": {"text": false}})", "s.json: $.default_reply.text: expected a string, got false"},
  };
  for (const auto& [text, want] : cases) {
    INFO(text);
    CHECK_THAT(load_error(text), Catch::Contains(want));
  }
}

TEST_CASE("model server: scenario files", "[model_server]") {
  sidecar::test::TempDir dir("model-server");
  std::string error;
  CHECK_FALSE(ModelServer::load_file(dir.path + "/missing.json", error));
  CHECK_THAT(error, Catch::Contains("missing.json: cannot read: No such file or directory"));
  std::ofstream(dir.path + "/ok.json") << R"({"comment": "fine", "steps": [{"text": "a"}, {"api": "responses", "text": "b"}]})";
  auto m = ModelServer::load_file(dir.path + "/ok.json", error);
  REQUIRE(m);
  CHECK(m->steps() == 2);
  CHECK(m->steps_left("messages") == 1);
  // The fixtures the end-to-end tests use are valid.
  for (const char* name : {"text_turn.json", "tool_turn.json", "curl_checks.json"}) {
    std::string here = __FILE__;  // .../tests/host/model_server_test.cpp
    std::string path = here.substr(0, here.rfind("/host/")) + "/fixtures/scenarios/" + name;
    INFO(path);
    CHECK(ModelServer::load_file(path, error));
    INFO(error);
  }
}
