// A model-server scenario read into plain structs (the format is in model_server.hpp), and the
// replies each API makes of a step. Internal to model_server*.cpp and their tests.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_server.hpp"

namespace sidecar::model_server::model {

enum class Api { Responses, Messages };

const char* api_name(Api api);  // "responses", "messages"

struct ToolCall {
  enum class Kind { Shell, Function, Custom };
  Kind kind = Kind::Function;
  std::string name;       // Function, Custom
  std::string ns;         // Function, Responses: the namespace a tool sits in (codex's "mcp__server")
  std::string command;    // Shell
  std::string arguments;  // Function: the arguments object as compact JSON text
  std::string input;      // Custom: free-form text (apply_patch)
  std::string id;         // empty: made up per reply
};

struct Usage {
  uint64_t input = 0, output = 0, cached = 0, reasoning = 0, cache_creation = 0;
  std::optional<uint64_t> total;  // default: input + output
};

struct ErrorReply {
  int status = 500;
  std::string message;            // for the API's own error shape
  std::optional<std::string> body;  // as is, instead of the shape
  bool body_is_json = false;
  HttpHeaders headers;
};

struct Step {
  std::optional<Api> api;  // none: both APIs answer with it
  std::optional<std::string> reasoning, text;
  std::vector<ToolCall> tool_calls;
  Usage usage;
  std::string stop_reason;  // Messages; empty: derived
  std::optional<ErrorReply> error;
  uint64_t delay_ms = 0, event_delay_ms = 0;
  std::optional<uint64_t> cut_after_events;
  bool hang = false;
};

struct Scenario {
  std::string model = "mock-model";
  std::vector<Step> steps;
  std::optional<Step> default_reply;
};

// Parses and checks `text`; false with `error` "NAME: $.path: what is wrong".
bool parse_scenario(std::string_view text, const std::string& name, Scenario& out, std::string& error);

// What a reply needs besides the step: names and times that vary per request.
struct ReplyContext {
  std::string model;
  std::string tag;          // unique per request ("0001"): ids are made from it
  int64_t created_at = 0;   // seconds since the epoch
};

// Streamed replies, as framed Server-Sent Events in order.
std::vector<std::string> responses_events(const Step& step, const ReplyContext& context);
std::vector<std::string> messages_events(const Step& step, const ReplyContext& context);
// The same replies as one JSON object (a request without "stream": true).
std::string responses_object(const Step& step, const ReplyContext& context);
std::string messages_object(const Step& step, const ReplyContext& context);
// An error body in the API's own shape.
std::string error_body(Api api, int status, const std::string& message);

}  // namespace sidecar::model_server::model
