// The model server's routing: which API a request is for, which step answers it, how the step
// becomes an HTTP reply (delays, a stream cut short, a hang), and the log line that records it.
#include "model_server.hpp"

#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model_scenario.hpp"
#include "util/json_text.hpp"

namespace sidecar::model_server {
namespace {

using Json = nlohmann::ordered_json;
using model::Api;
using model::Step;

constexpr int kMaxLoggedDepth = 256;  // deeper request bodies are logged as text

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The request body as JSON when it is JSON, else as it is (a string), for the log.
Json parse_body(const std::string& body, bool& is_json) {
  is_json = false;
  if (body.empty()) return nullptr;
  if (json_text::nesting_offset(body, kMaxLoggedDepth) == body.size()) {
    Json j = Json::parse(body, nullptr, false);
    if (!j.is_discarded()) {
      is_json = true;
      return j;
    }
  }
  return body;
}

std::string now_iso() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  return buf;
}

HttpReply json_reply(int status, std::string body) {
  HttpReply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

}  // namespace

struct ModelServer::Impl {
  model::Scenario scenario;
  std::size_t cursor[2] = {0, 0};  // per API: the next index of `steps` to look at
  uint64_t requests = 0;

  // The next step for `api`, or nullptr; `index` is its place in `steps`.
  const Step* next_step(Api api, std::size_t& index) {
    std::size_t& at = cursor[static_cast<int>(api)];
    while (at < scenario.steps.size()) {
      const Step& s = scenario.steps[at++];
      if (!s.api || *s.api == api) {
        index = at - 1;
        return &s;
      }
    }
    return nullptr;
  }

  std::size_t left(Api api) const {
    std::size_t n = 0;
    for (std::size_t i = cursor[static_cast<int>(api)]; i < scenario.steps.size(); ++i) {
      if (!scenario.steps[i].api || *scenario.steps[i].api == api) ++n;
    }
    return n;
  }
};

ModelServer::ModelServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModelServer::~ModelServer() = default;

std::unique_ptr<ModelServer> ModelServer::load(std::string_view text, const std::string& name, std::string& error) {
  auto impl = std::make_unique<Impl>();
  if (!model::parse_scenario(text, name, impl->scenario, error)) return nullptr;
  return std::unique_ptr<ModelServer>(new ModelServer(std::move(impl)));
}

std::unique_ptr<ModelServer> ModelServer::load_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read: " + std::strerror(errno);
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    error = path + ": cannot read: " + std::strerror(errno);
    return nullptr;
  }
  return load(text.str(), path, error);
}

std::size_t ModelServer::steps() const { return impl_->scenario.steps.size(); }

std::size_t ModelServer::steps_left(std::string_view api) const {
  return impl_->left(api == "messages" ? Api::Messages : Api::Responses);
}

namespace {

std::optional<Api> api_of(const std::string& path) {
  if (path == "/v1/responses" || path == "/responses") return Api::Responses;
  if (path == "/v1/messages" || path == "/messages") return Api::Messages;
  return std::nullopt;
}

// The reply a step makes to a request `body` (a JSON object); `kind` names it for the log.
HttpReply step_reply(const Step& step, Api api, const Json& body, const model::Scenario& scenario, uint64_t seq,
                     std::string& kind) {
  HttpReply r;
  if (step.error) {
    const model::ErrorReply& e = *step.error;
    kind = "error";
    r = json_reply(e.status, e.body ? *e.body : model::error_body(api, e.status, e.message));
    if (e.body && !e.body_is_json) r.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    r.headers.insert(r.headers.end(), e.headers.begin(), e.headers.end());
    r.delay_ms = step.delay_ms;
    return r;
  }
  model::ReplyContext context;
  auto model = body.find("model");
  context.model = model != body.end() && model->is_string() && !model->get<std::string>().empty()
                      ? model->get<std::string>() : scenario.model;
  char tag[24];
  std::snprintf(tag, sizeof tag, "%04llu", static_cast<unsigned long long>(seq));
  context.tag = tag;
  context.created_at = static_cast<int64_t>(::time(nullptr));
  auto stream = body.find("stream");
  if (stream != body.end() && *stream == true) {
    kind = "stream";
    r.stream = true;
    r.headers = {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-cache"}};
    r.events = api == Api::Responses ? model::responses_events(step, context) : model::messages_events(step, context);
    r.event_delay_ms = step.event_delay_ms;
  } else {
    kind = "json";
    r = json_reply(200, api == Api::Responses ? model::responses_object(step, context) : model::messages_object(step, context));
  }
  if (step.cut_after_events || step.hang) {
    std::size_t keep = step.cut_after_events ? static_cast<std::size_t>(*step.cut_after_events) : 0;
    if (r.events.size() > keep) r.events.resize(keep);
    r.end = step.hang ? HttpReply::End::Hang : HttpReply::End::Close;
    kind = step.hang ? "hang" : "cut";
  }
  r.delay_ms = step.delay_ms;
  return r;
}

}  // namespace

ModelAnswer ModelServer::answer(const HttpRequest& request) {
  Impl& S = *impl_;
  uint64_t seq = ++S.requests;
  ModelAnswer a;
  bool body_is_json = false;
  Json body = parse_body(request.body, body_is_json);
  std::optional<Api> api = api_of(request.path);
  std::string kind;
  Json step_index = nullptr;
  bool from_default = false;

  if (!api) {
    kind = "not_found";
    a.reply = json_reply(404, dump(Json{{"error", {{"type", "not_found_error"},
        {"message", "sidecar model-server: no endpoint " + request.method + " " + request.path +
                    " (it serves POST /v1/responses and POST /v1/messages)"}}}}));
  } else if (request.method != "POST") {
    kind = "bad_method";
    a.reply = json_reply(405, model::error_body(*api, 405, request.method + " " + request.path + ": only POST is served"));
    a.reply.headers.emplace_back("Allow", "POST");
  } else if (!body_is_json || !body.is_object()) {
    kind = "bad_json";
    a.reply = json_reply(400, model::error_body(*api, 400, "the request body is not a JSON object"));
  } else {
    std::size_t index = 0;
    const Step* step = S.next_step(*api, index);
    if (step) {
      step_index = index;
    } else if (S.scenario.default_reply) {
      step = &*S.scenario.default_reply;
      from_default = true;
    }
    if (step) {
      a.reply = step_reply(*step, *api, body, S.scenario, seq, kind);
    } else {
      kind = "no_step";
      a.reply = json_reply(500, model::error_body(*api, 500,
          "sidecar model-server: the scenario has no reply left for the " + std::string(model::api_name(*api)) +
          " API (all its steps were answered and there is no default_reply)"));
    }
    a.reply.headers.emplace_back("x-request-id", "req_" + std::to_string(seq));
  }

  const std::string* agent = request.header("user-agent");
  Json log = {{"time", now_iso()}, {"seq", seq}, {"method", request.method}, {"path", request.path}};
  if (!request.query.empty()) log["query"] = request.query;
  log["api"] = api ? Json(model::api_name(*api)) : Json(nullptr);
  log["step"] = step_index;
  if (from_default) log["default_reply"] = true;
  log["status"] = a.reply.status;
  log["reply"] = kind;
  if (a.reply.stream) log["events"] = a.reply.events.size();
  log["user_agent"] = agent ? Json(*agent) : Json(nullptr);
  log["body"] = std::move(body);
  a.log_line = dump(log);

  a.summary = request.method + " " + request.path + " -> ";
  if (step_index.is_number()) a.summary += "step " + std::to_string(step_index.get<std::size_t>()) + ": ";
  if (from_default) a.summary += "default_reply: ";
  a.summary += std::to_string(a.reply.status) + " " + kind;
  if (a.reply.stream) a.summary += ", " + std::to_string(a.reply.events.size()) + " events";
  if (a.reply.delay_ms) a.summary += ", after " + std::to_string(a.reply.delay_ms) + " ms";
  return a;
}

ModelAnswer ModelServer::bad_request(int status, const std::string& why) {
  ModelAnswer a;
  uint64_t seq = ++impl_->requests;
  a.log_line = dump(Json{{"time", now_iso()}, {"seq", seq}, {"method", nullptr}, {"path", nullptr}, {"api", nullptr},
                         {"step", nullptr}, {"status", status}, {"reply", "bad_request"}, {"error", why}, {"body", nullptr}});
  a.summary = "unreadable request -> " + std::to_string(status) + ": " + why;
  return a;
}

}  // namespace sidecar::model_server
