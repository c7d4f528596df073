// The replies both APIs make of a scenario step, event for event as the real CLIs accepted them
// (tests/fixtures/captures/sse_*.txt). Keys keep the order the real services send them in, so a
// reply reads like the capture beside it.
#include <nlohmann/json.hpp>

#include "model_scenario.hpp"

namespace sidecar::model_server::model {
namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string item_id(const char* prefix, const ReplyContext& c, std::size_t index) {
  return std::string(prefix) + "_" + c.tag + "_" + std::to_string(index);
}

// The step's output in reply order: reasoning, then the message, then the tool calls.
struct Item {
  enum class Kind { Reasoning, Text, Call } kind;
  const std::string* text = nullptr;
  const ToolCall* call = nullptr;
};

std::vector<Item> items_of(const Step& step) {
  std::vector<Item> items;
  if (step.reasoning) items.push_back({Item::Kind::Reasoning, &*step.reasoning, nullptr});
  if (step.text) items.push_back({Item::Kind::Text, &*step.text, nullptr});
  for (const ToolCall& call : step.tool_calls) items.push_back({Item::Kind::Call, nullptr, &call});
  return items;
}

// --- OpenAI Responses ------------------------------------------------------------------------

std::string call_id(const ToolCall& call, const ReplyContext& c, std::size_t index) {
  return call.id.empty() ? item_id("call", c, index) : call.id;
}

// A function_call's name and arguments text; a shell call is codex's exec_command.
std::pair<std::string, std::string> function_of(const ToolCall& call) {
  if (call.kind == ToolCall::Kind::Shell) return {"exec_command", dump(Json{{"cmd", call.command}})};
  return {call.name, call.arguments};
}

// One output item, as response.output_item.done and response.completed carry it.
Json responses_item(const Item& item, const ReplyContext& c, std::size_t index, bool done) {
  switch (item.kind) {
    case Item::Kind::Reasoning: {
      Json summary = Json::array();
      if (done) summary.push_back({{"type", "summary_text"}, {"text", *item.text}});
      return {{"id", item_id("rs", c, index)}, {"type", "reasoning"}, {"encrypted_content", nullptr}, {"summary", summary}};
    }
    case Item::Kind::Text: {
      Json content = Json::array();
      if (done) content.push_back({{"type", "output_text"}, {"text", *item.text}, {"annotations", Json::array()}});
      return {{"id", item_id("msg", c, index)}, {"type", "message"}, {"status", done ? "completed" : "in_progress"},
              {"role", "assistant"}, {"content", content}};
    }
    case Item::Kind::Call:
      break;
  }
  const ToolCall& call = *item.call;
  if (call.kind == ToolCall::Kind::Custom) {
    return {{"id", item_id("ctc", c, index)}, {"type", "custom_tool_call"}, {"status", done ? "completed" : "in_progress"},
            {"call_id", call_id(call, c, index)}, {"name", call.name}, {"input", done ? call.input : ""}};
  }
  auto [name, arguments] = function_of(call);
  Json out = {{"id", item_id("fc", c, index)}, {"type", "function_call"}, {"status", done ? "completed" : "in_progress"},
              {"call_id", call_id(call, c, index)}, {"name", name}, {"arguments", done ? arguments : ""}};
  if (!call.ns.empty()) out["namespace"] = call.ns;
  return out;
}

Json responses_usage(const Usage& u) {
  return {{"input_tokens", u.input},
          {"input_tokens_details", {{"cached_tokens", u.cached}}},
          {"output_tokens", u.output},
          {"output_tokens_details", {{"reasoning_tokens", u.reasoning}}},
          {"total_tokens", u.total ? *u.total : u.input + u.output}};
}

Json response_object(const Step& step, const ReplyContext& c, bool completed) {
  Json output = Json::array();
  if (completed) {
    std::vector<Item> items = items_of(step);
    for (std::size_t i = 0; i < items.size(); ++i) output.push_back(responses_item(items[i], c, i, true));
  }
  Json r = {{"id", "resp_" + c.tag}, {"object", "response"}, {"created_at", c.created_at}, {"model", c.model},
            {"status", completed ? "completed" : "in_progress"}, {"output", output}};
  if (completed) r["usage"] = responses_usage(step.usage);
  return r;
}

// --- Anthropic Messages ----------------------------------------------------------------------

// A tool_use block's id, name and input; a shell call is Claude Code's Bash.
struct ToolUse {
  std::string id, name;
  Json input;
};

ToolUse tool_use_of(const ToolCall& call, const ReplyContext& c, std::size_t index) {
  ToolUse t{call.id.empty() ? item_id("toolu", c, index) : call.id, call.name, Json::object()};
  if (call.kind == ToolCall::Kind::Shell) {
    t.name = "Bash";
    t.input = {{"command", call.command}};
  } else {
    t.input = Json::parse(call.arguments);  // written by parse_scenario: always an object
  }
  return t;
}

const char* stop_reason(const Step& step) {
  if (!step.stop_reason.empty()) return step.stop_reason.c_str();
  return step.tool_calls.empty() ? "end_turn" : "tool_use";
}

Json messages_usage(const Usage& u, uint64_t output) {
  return {{"input_tokens", u.input}, {"output_tokens", output}, {"cache_creation_input_tokens", u.cache_creation},
          {"cache_read_input_tokens", u.cached}};
}

}  // namespace

std::vector<std::string> responses_events(const Step& step, const ReplyContext& c) {
  std::vector<std::string> events;
  uint64_t seq = 0;
  auto emit = [&](const char* type, Json body) {
    Json event = {{"type", type}};
    for (auto& [key, value] : body.items()) event[key] = std::move(value);
    event["sequence_number"] = seq++;
    events.push_back(sse_event(type, dump(event)));
  };
  emit("response.created", {{"response", response_object(step, c, false)}});
  emit("response.in_progress", {{"response", response_object(step, c, false)}});
  std::vector<Item> items = items_of(step);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    emit("response.output_item.added", {{"output_index", i}, {"item", responses_item(item, c, i, false)}});
    if (item.kind == Item::Kind::Text) {
      std::string id = item_id("msg", c, i);
      emit("response.content_part.added",
           {{"item_id", id}, {"output_index", i}, {"content_index", 0},
            {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}}}});
      emit("response.output_text.delta", {{"item_id", id}, {"output_index", i}, {"content_index", 0}, {"delta", *item.text}});
      emit("response.output_text.done", {{"item_id", id}, {"output_index", i}, {"content_index", 0}, {"text", *item.text}});
    } else if (item.kind == Item::Kind::Call && item.call->kind == ToolCall::Kind::Custom) {
      emit("response.custom_tool_call_input.done",
           {{"item_id", item_id("ctc", c, i)}, {"output_index", i}, {"input", item.call->input}});
    } else if (item.kind == Item::Kind::Call) {
      emit("response.function_call_arguments.done",
           {{"item_id", item_id("fc", c, i)}, {"output_index", i}, {"arguments", function_of(*item.call).second}});
    }
    emit("response.output_item.done", {{"output_index", i}, {"item", responses_item(item, c, i, true)}});
  }
  emit("response.completed", {{"response", response_object(step, c, true)}});
  return events;
}

std::string responses_object(const Step& step, const ReplyContext& c) { return dump(response_object(step, c, true)); }

std::vector<std::string> messages_events(const Step& step, const ReplyContext& c) {
  std::vector<std::string> events;
  auto emit = [&](const char* type, Json body) {
    Json event = {{"type", type}};
    for (auto& [key, value] : body.items()) event[key] = std::move(value);
    events.push_back(sse_event(type, dump(event)));
  };
  // message_start carries the input side; the real service counts one output token so far.
  Json message = {{"id", "msg_" + c.tag}, {"type", "message"}, {"role", "assistant"}, {"model", c.model},
                  {"content", Json::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                  {"usage", messages_usage(step.usage, std::min<uint64_t>(step.usage.output, 1))}};
  emit("message_start", {{"message", message}});
  emit("ping", Json::object());
  std::vector<Item> items = items_of(step);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    auto delta = [&](Json d) { emit("content_block_delta", {{"index", i}, {"delta", std::move(d)}}); };
    if (item.kind == Item::Kind::Reasoning) {
      emit("content_block_start", {{"index", i}, {"content_block", {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}}});
      delta({{"type", "thinking_delta"}, {"thinking", *item.text}});
      delta({{"type", "signature_delta"}, {"signature", "mock-signature"}});
    } else if (item.kind == Item::Kind::Text) {
      emit("content_block_start", {{"index", i}, {"content_block", {{"type", "text"}, {"text", ""}}}});
      delta({{"type", "text_delta"}, {"text", *item.text}});
    } else {
      ToolUse t = tool_use_of(*item.call, c, i);
      emit("content_block_start",
           {{"index", i}, {"content_block", {{"type", "tool_use"}, {"id", t.id}, {"name", t.name}, {"input", Json::object()}}}});
      delta({{"type", "input_json_delta"}, {"partial_json", dump(t.input)}});
    }
    emit("content_block_stop", {{"index", i}});
  }
  // Usage totals come from message_delta: that is where Claude Code reads them.
  emit("message_delta", {{"delta", {{"stop_reason", stop_reason(step)}, {"stop_sequence", nullptr}}},
                         {"usage", messages_usage(step.usage, step.usage.output)}});
  emit("message_stop", Json::object());
  return events;
}

std::string messages_object(const Step& step, const ReplyContext& c) {
  Json content = Json::array();
  std::vector<Item> items = items_of(step);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    if (item.kind == Item::Kind::Reasoning) {
      content.push_back({{"type", "thinking"}, {"thinking", *item.text}, {"signature", "mock-signature"}});
    } else if (item.kind == Item::Kind::Text) {
      content.push_back({{"type", "text"}, {"text", *item.text}});
    } else {
      ToolUse t = tool_use_of(*item.call, c, i);
      content.push_back({{"type", "tool_use"}, {"id", t.id}, {"name", t.name}, {"input", t.input}});
    }
  }
  return dump(Json{{"id", "msg_" + c.tag}, {"type", "message"}, {"role", "assistant"}, {"model", c.model},
                   {"content", content}, {"stop_reason", stop_reason(step)}, {"stop_sequence", nullptr},
                   {"usage", messages_usage(step.usage, step.usage.output)}});
}

std::string error_body(Api api, int status, const std::string& message) {
  if (api == Api::Responses) {
    const char* type = status >= 500 ? "server_error" : status == 429 ? "rate_limit_exceeded" : "invalid_request_error";
    return dump(Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}});
  }
  const char* type = status == 400 ? "invalid_request_error" : status == 401 ? "authentication_error"
                   : status == 403 ? "permission_error"      : status == 404 ? "not_found_error"
                   : status == 413 ? "request_too_large"     : status == 429 ? "rate_limit_error"
                   : status == 529 ? "overloaded_error"      : status >= 500 ? "api_error" : "invalid_request_error";
  return dump(Json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}

}  // namespace sidecar::model_server::model
