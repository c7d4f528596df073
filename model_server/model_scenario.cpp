// Reading a model-server scenario: every mistake is reported with the JSON path it sits at, and
// unknown keys are mistakes too, so a misspelt "cut_after_event" cannot silently do nothing.
#include <cstring>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "model_scenario.hpp"

namespace sidecar::model_server::model {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxDelayMs = 24ull * 3600 * 1000;
constexpr uint64_t kMaxCount = 1ull << 53;  // what every JSON reader keeps exact

// A value for an error message: its JSON, cut short.
std::string shown(const Json& j) {
  std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 40) {
    std::size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// Walks the document; the first problem found is kept with its path.
struct Checker {
  std::string error;

  bool fail(const std::string& path, const std::string& what) {
    if (error.empty()) error = path + ": " + what;
    return false;
  }
  bool expected(const std::string& path, const char* what, const Json& got) {
    return fail(path, std::string("expected ") + what + ", got " + shown(got));
  }

  bool only_keys(const Json& object, const std::string& path, std::initializer_list<const char*> known) {
    for (auto it = object.begin(); it != object.end(); ++it) {
      bool ok = false;
      for (const char* k : known) ok = ok || it.key() == k;
      if (ok) continue;
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return fail(path, "unknown key \"" + it.key() + "\" (known: " + list + ")");
    }
    return true;
  }

  bool string(const Json& j, const std::string& path, std::string& out, bool non_empty = false) {
    if (!j.is_string()) return expected(path, non_empty ? "a non-empty string" : "a string", j);
    out = j.get<std::string>();
    if (non_empty && out.empty()) return expected(path, "a non-empty string", j);
    return true;
  }

  bool count(const Json& j, const std::string& path, uint64_t& out, uint64_t max = kMaxCount) {
    if (!j.is_number_integer() || (j.is_number_integer() && !j.is_number_unsigned() && j.get<int64_t>() < 0) ||
        j.get<uint64_t>() > max) {
      return expected(path, max == kMaxDelayMs ? "milliseconds: an integer from 0 to 86400000" : "an integer >= 0", j);
    }
    out = j.get<uint64_t>();
    return true;
  }

  bool usage(const Json& j, const std::string& path, Usage& u) {
    if (!j.is_object()) return expected(path, "an object", j);
    if (!only_keys(j, path, {"input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens",
                             "cache_creation_tokens", "total_tokens"})) {
      return false;
    }
    const std::pair<const char*, uint64_t*> fields[] = {
        {"input_tokens", &u.input},         {"output_tokens", &u.output},
        {"cached_tokens", &u.cached},       {"reasoning_tokens", &u.reasoning},
        {"cache_creation_tokens", &u.cache_creation},
    };
    for (const auto& [key, field] : fields) {
      if (j.contains(key) && !count(j[key], path + "." + key, *field)) return false;
    }
    if (j.contains("total_tokens")) {
      uint64_t total = 0;
      if (!count(j["total_tokens"], path + ".total_tokens", total)) return false;
      u.total = total;
    }
    return true;
  }

  bool tool_call(const Json& j, const std::string& path, const Step& step, ToolCall& call) {
    if (!j.is_object()) return expected(path, "an object: {\"shell\": CMD} or {\"name\": N, \"arguments\": {...}}", j);
    if (!only_keys(j, path, {"shell", "name", "namespace", "arguments", "input", "id"})) return false;
    if (j.contains("id") && !string(j["id"], path + ".id", call.id, true)) return false;
    if (j.contains("shell")) {
      if (j.contains("name") || j.contains("namespace") || j.contains("arguments") || j.contains("input")) {
        return fail(path, "\"shell\" stands alone: it takes no name, namespace, arguments or input");
      }
      call.kind = ToolCall::Kind::Shell;
      return string(j["shell"], path + ".shell", call.command, true);
    }
    if (!j.contains("name")) return fail(path, "a tool call needs \"shell\" or \"name\"");
    if (!string(j["name"], path + ".name", call.name, true)) return false;
    if (j.contains("namespace")) {
      if (!string(j["namespace"], path + ".namespace", call.ns, true)) return false;
      if (j.contains("input") || step.api != Api::Responses) {
        return fail(path, "\"namespace\" is for a Responses function call: give the step \"api\": \"responses\" and "
                          "the call \"arguments\", not \"input\"");
      }
    }
    if (j.contains("input")) {
      if (j.contains("arguments")) return fail(path, "\"arguments\" (a function call) or \"input\" (a custom tool call), not both");
      if (!string(j["input"], path + ".input", call.input)) return false;
      if (step.api != Api::Responses) {
        return fail(path, "a custom tool call (\"input\") exists only in the Responses API: give the step \"api\": \"responses\"");
      }
      call.kind = ToolCall::Kind::Custom;
      return true;
    }
    call.kind = ToolCall::Kind::Function;
    Json args = j.contains("arguments") ? j["arguments"] : Json::object();
    if (!args.is_object()) return expected(path + ".arguments", "an object", args);
    call.arguments = args.dump(-1, ' ', false, Json::error_handler_t::replace);
    return true;
  }

  bool error_reply(const Json& j, const std::string& path, ErrorReply& e) {
    if (!j.is_object()) return expected(path, "an object like {\"status\": 500, \"message\": \"...\"}", j);
    if (!only_keys(j, path, {"status", "message", "body", "headers"})) return false;
    if (!j.contains("status")) return fail(path, "an error needs \"status\" (400 to 599)");
    const Json& status = j["status"];
    if (!status.is_number_integer() || status.get<int64_t>() < 400 || status.get<int64_t>() > 599) {
      return expected(path + ".status", "an HTTP error status from 400 to 599", status);
    }
    e.status = status.get<int>();
    if (j.contains("message") && j.contains("body")) return fail(path, "\"message\" or \"body\", not both");
    if (j.contains("message") && !string(j["message"], path + ".message", e.message)) return false;
    if (!j.contains("message")) e.message = "scripted error " + std::to_string(e.status);
    if (j.contains("body")) {
      const Json& body = j["body"];
      e.body_is_json = !body.is_string();
      e.body = body.is_string() ? body.get<std::string>() : body.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    if (j.contains("headers")) {
      const Json& headers = j["headers"];
      if (!headers.is_object()) return expected(path + ".headers", "an object of header names to strings", headers);
      for (auto it = headers.begin(); it != headers.end(); ++it) {
        std::string value;
        if (!string(it.value(), path + ".headers." + it.key(), value)) return false;
        bool clean = !it.key().empty() && it.key().find_first_of(" :\r\n\t") == std::string::npos &&
                     value.find_first_of("\r\n") == std::string::npos;
        if (!clean) return fail(path + ".headers." + it.key(), "not a valid header name and value");
        e.headers.emplace_back(it.key(), value);
      }
    }
    return true;
  }

  bool step(const Json& j, const std::string& path, Step& s) {
    if (!j.is_object()) return expected(path, "an object (a step)", j);
    if (!only_keys(j, path, {"comment", "api", "reasoning", "text", "tool_calls", "usage", "stop_reason", "error",
                             "delay_ms", "event_delay_ms", "cut_after_events", "hang"})) {
      return false;
    }
    std::string ignored;
    if (j.contains("comment") && !string(j["comment"], path + ".comment", ignored)) return false;
    if (j.contains("api")) {
      const Json& api = j["api"];
      if (api == "responses") s.api = Api::Responses;
      else if (api == "messages") s.api = Api::Messages;
      else return expected(path + ".api", "\"responses\" or \"messages\"", api);
    }
    for (const char* key : {"reasoning", "text"}) {
      if (!j.contains(key)) continue;
      std::string value;
      if (!string(j[key], path + "." + key, value)) return false;
      (std::strcmp(key, "text") == 0 ? s.text : s.reasoning) = std::move(value);
    }
    if (j.contains("tool_calls")) {
      const Json& calls = j["tool_calls"];
      if (!calls.is_array()) return expected(path + ".tool_calls", "an array", calls);
      for (std::size_t i = 0; i < calls.size(); ++i) {
        ToolCall call;
        if (!tool_call(calls[i], path + ".tool_calls[" + std::to_string(i) + "]", s, call)) return false;
        s.tool_calls.push_back(std::move(call));
      }
    }
    if (j.contains("usage") && !usage(j["usage"], path + ".usage", s.usage)) return false;
    if (j.contains("stop_reason") && !string(j["stop_reason"], path + ".stop_reason", s.stop_reason, true)) return false;
    if (j.contains("delay_ms") && !count(j["delay_ms"], path + ".delay_ms", s.delay_ms, kMaxDelayMs)) return false;
    if (j.contains("event_delay_ms") && !count(j["event_delay_ms"], path + ".event_delay_ms", s.event_delay_ms, kMaxDelayMs)) {
      return false;
    }
    if (j.contains("cut_after_events")) {
      uint64_t n = 0;
      if (!count(j["cut_after_events"], path + ".cut_after_events", n)) return false;
      s.cut_after_events = n;
    }
    if (j.contains("hang")) {
      if (!j["hang"].is_boolean()) return expected(path + ".hang", "true or false", j["hang"]);
      s.hang = j["hang"].get<bool>();
    }
    if (j.contains("error")) {
      for (const char* key : {"reasoning", "text", "tool_calls", "usage", "stop_reason", "event_delay_ms",
                              "cut_after_events", "hang"}) {
        if (j.contains(key)) return fail(path, std::string("\"error\" replaces the reply: \"") + key + "\" cannot go with it");
      }
      ErrorReply e;
      if (!error_reply(j["error"], path + ".error", e)) return false;
      s.error = std::move(e);
    }
    return true;
  }
};

}  // namespace

const char* api_name(Api api) { return api == Api::Responses ? "responses" : "messages"; }

bool parse_scenario(std::string_view text, const std::string& name, Scenario& out, std::string& error) {
  Json doc;
  if (std::memchr(text.data(), '\0', text.size())) {
    error = name + ": invalid JSON: a NUL byte";
    return false;
  }
  try {
    doc = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." without the tag.
    const char* reason = std::strstr(e.what(), "] ");
    error = name + ": invalid JSON: " + (reason ? reason + 2 : e.what());
    return false;
  }
  Checker check;
  Scenario s;
  bool ok = [&] {
    if (!doc.is_object()) return check.expected("$", "an object like {\"steps\": [...]}", doc);
    if (!check.only_keys(doc, "$", {"comment", "model", "steps", "default_reply"})) return false;
    std::string ignored;
    if (doc.contains("comment") && !check.string(doc["comment"], "$.comment", ignored)) return false;
    if (doc.contains("model") && !check.string(doc["model"], "$.model", s.model, true)) return false;
    if (!doc.contains("steps")) return check.fail("$", "a scenario needs \"steps\": [...] (it may be empty)");
    const Json& steps = doc["steps"];
    if (!steps.is_array()) return check.expected("$.steps", "an array of steps", steps);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      Step step;
      if (!check.step(steps[i], "$.steps[" + std::to_string(i) + "]", step)) return false;
      s.steps.push_back(std::move(step));
    }
    if (doc.contains("default_reply")) {
      Step step;
      if (!check.step(doc["default_reply"], "$.default_reply", step)) return false;
      s.default_reply = std::move(step);
    }
    return true;
  }();
  if (!ok) {
    error = name + ": " + check.error;
    return false;
  }
  out = std::move(s);
  return true;
}

}  // namespace sidecar::model_server::model
