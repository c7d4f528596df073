// The scripted model server behind `sidecar model-server`: answers the OpenAI Responses API
// (POST /v1/responses, codex) and the Anthropic Messages API (POST /v1/messages, claude) from a
// JSON scenario, so agent CLIs can be driven offline and reproducibly. Pure request -> reply: the
// HTTP side is http_server.hpp, the command line is cli/model_server_command.cpp.
//
// The scenario (docs/model-server.md has examples):
//
//   {
//     "model": "mock-model",             optional: the model named in replies when a request
//                                        names none (requests naming one get it echoed)
//     "steps": [STEP, ...],              the replies, in order
//     "default_reply": STEP,             optional: answers every request once the steps ran out
//     "comment": "..."                   ignored
//   }
//
// Each API keeps its own cursor through "steps" and skips steps whose "api" names the other one,
// so one list can script the same conversation for codex and claude, and "api" can make a step
// one API's only. A request beyond the last step gets "default_reply", or HTTP 500 saying that
// the scenario ran out. A STEP is an object; every key is optional, unknown keys are errors:
//
//   "comment": "..."                      ignored
//   "api": "responses" | "messages"       only this API answers with the step
//   "reasoning": "text"                   Responses: a reasoning item (summary text);
//                                         Messages: a thinking block
//   "text": "text"                        the assistant message
//   "tool_calls": [CALL, ...]             after the text, in order. A CALL is one of
//       {"shell": "ls -la"}                 each CLI's shell tool: codex exec_command {"cmd"},
//                                           claude Bash {"command"}
//       {"name": "N", "arguments": {...}}   a function_call (Responses, arguments sent as JSON
//                                           text) or a tool_use block (Messages, the input object)
//       {"name": "N", "namespace": "NS", "arguments": {...}}
//                                           a function_call of a tool in a namespace (Responses
//                                           only: codex's MCP tools, "mcp__<server>")
//       {"name": "apply_patch", "input": "*** Begin Patch..."}
//                                           a custom_tool_call (Responses only: needs "api")
//     each with an optional "id" (call_id / tool_use id; made up when absent)
//   "usage": {"input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens",
//             "cache_creation_tokens", "total_tokens"}   integers >= 0, default 0; total is
//             input + output unless given. Responses: input_tokens_details.cached_tokens and
//             output_tokens_details.reasoning_tokens; Messages: cache_read_input_tokens and
//             cache_creation_input_tokens (reasoning and total are not part of that API)
//   "stop_reason": "end_turn"             Messages only; default tool_use with tool calls, else end_turn
//   "error": {"status": 500, "message": "...", "body": {...} | "text", "headers": {"k": "v"}}
//                                         an HTTP error instead of a reply: status 400-599, the
//                                         API's own error shape with "message", or "body" as is
//   "delay_ms": N                         before the status line
//   "event_delay_ms": N                   before each streamed event
//   "cut_after_events": N                 the stream stops after N events: the connection closes
//                                         without the completion event (0: after the headers)
//   "hang": true                          after the headers (or the first cut_after_events events)
//                                         nothing more is sent; the connection stays open
// A request without "stream": true gets the whole reply as one JSON object; there "hang" sends
// nothing at all and "cut_after_events" closes the connection without a reply.
//
// Every request, answered or not, makes one log line (JSON): time, seq, method, path, query,
// api, step (its index in "steps", or null), status, reply (stream, json, error, cut, hang,
// no_step, not_found, bad_method, bad_json, bad_request), events, user_agent and the request
// body (JSON when it parses, else a string).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http_server.hpp"

namespace sidecar::model_server {

struct ModelAnswer {
  HttpReply reply;
  std::string log_line;  // one JSON object, without the newline
  std::string summary;   // for people: "POST /v1/responses: step 0, 200, stream of 12 events"
};

class ModelServer {
 public:
  // Reads and checks a scenario. nullptr with `error` naming the file, the JSON path and what is
  // wrong: "s.json: $.steps[2].usage.input_tokens: expected an integer >= 0, got \"ten\"".
  static std::unique_ptr<ModelServer> load_file(const std::string& path, std::string& error);
  // The same from text; `name` stands for the file in errors.
  static std::unique_ptr<ModelServer> load(std::string_view text, const std::string& name, std::string& error);
  ~ModelServer();

  // Answers one request (and advances its API's cursor).
  ModelAnswer answer(const HttpRequest& request);
  // The log line and summary for a request the HTTP layer could not read.
  ModelAnswer bad_request(int status, const std::string& why);

  std::size_t steps() const;
  // Steps not yet answered, per API.
  std::size_t steps_left(std::string_view api) const;

  struct Impl;

 private:
  explicit ModelServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sidecar::model_server
