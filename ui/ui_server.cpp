// `sidecar ui`'s server on the project's HTTP server (one libuv loop): the rules every request
// obeys, the assets, the API handler, and one timer that looks at the store's files and tells every
// open event stream when they changed.
#include "ui_server.hpp"

#include <sys/stat.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "http_server.hpp"

namespace sidecar::ui {
namespace {

constexpr const char* kCookie = "sidecar_token";
constexpr std::size_t kUiMaxConnections = 64;         // the page holds one event stream and a few requests
constexpr uint64_t kUiRequestTimeoutMs = 10000;       // to send a whole request, and idle keep-alive
constexpr std::size_t kUiMaxPostBody = 64 * 1024;     // the API's POSTs carry a small JSON object
// Nothing inline, nothing from elsewhere: an agent's text that slipped through escaping still
// could not run a script or load an image from another host.
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string refusal_body(const std::string& version, const std::string& message) {
  nlohmann::ordered_json error = {{"code", "refused"}, {"message", message}};
  nlohmann::ordered_json e = {{"ok", false}, {"version", version}, {"command", "ui"}, {"data", nullptr}};
  e["errors"] = nlohmann::ordered_json::array({error});
  return e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// (mtime in ns, size) of each file, folded into one value: any write to the store moves it.
unsigned long long files_signature(const std::vector<std::string>& files) {
  unsigned long long sig = 1469598103934665603ULL;
  for (const std::string& f : files) {
    struct stat st {};
    unsigned long long parts[2] = {0, 0};
    if (::stat(f.c_str(), &st) == 0) {
      parts[0] = static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL +
                 static_cast<unsigned long long>(st.st_mtim.tv_nsec);
      parts[1] = static_cast<unsigned long long>(st.st_size);
    }
    for (unsigned long long p : parts) sig = (sig ^ p) * 1099511628211ULL;
  }
  return sig;
}

std::string_view host_of(std::string_view host_and_port, int port, bool& ok) {
  const std::string suffix = ":" + std::to_string(port);
  ok = host_and_port.size() > suffix.size() &&
       host_and_port.compare(host_and_port.size() - suffix.size(), suffix.size(), suffix) == 0;
  return ok ? host_and_port.substr(0, host_and_port.size() - suffix.size()) : std::string_view();
}

}  // namespace

bool ui_host_allowed(std::string_view host_header, int port, std::string_view extra_host) {
  bool ok = false;
  std::string_view host = host_of(host_header, port, ok);
  return ok && (host == "127.0.0.1" || host == "localhost" || (!extra_host.empty() && host == extra_host));
}

bool ui_origin_allowed(std::string_view origin, int port, std::string_view extra_host) {
  constexpr std::string_view scheme = "http://";
  if (origin.substr(0, scheme.size()) != scheme) return false;
  return ui_host_allowed(origin.substr(scheme.size()), port, extra_host);
}

std::string ui_cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    std::size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return {};
}

bool ui_token_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::vector<std::pair<std::string, std::string>> ui_query_params(std::string_view query) {
  auto decode = [](std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '+') {
        out += ' ';
      } else if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += in[i];
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    std::size_t end = query.find('&');
    std::string_view field = query.substr(0, end);
    std::size_t eq = field.find('=');
    if (!field.empty()) {
      params.emplace_back(decode(field.substr(0, eq)), eq == std::string_view::npos ? "" : decode(field.substr(eq + 1)));
    }
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return params;
}

std::string ui_new_token() {
  unsigned char bytes[32];
  std::FILE* f = std::fopen("/dev/urandom", "rb");
  if (!f) return {};
  std::size_t got = std::fread(bytes, 1, sizeof bytes, f);
  std::fclose(f);
  if (got != sizeof bytes) return {};
  static const char* const kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

using model_server::HttpReply;
using model_server::HttpRequest;

struct UiServer::Impl {
  UiServerOptions options;
  std::unique_ptr<model_server::HttpServer> http;
  int port = 0;
  std::string extra_host;  // --host when it is not 127.0.0.1
  unsigned long long signature = 0;

  static std::string header(const HttpRequest& req, std::string_view name) {
    const std::string* v = req.header(name);
    return v ? *v : std::string();
  }
  HttpReply refusal(int status, const std::string& message) const {
    HttpReply r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = refusal_body(options.version, message);
    return r;
  }
  bool has_token(const HttpRequest& req) const {
    const std::string given = header(req, "x-sidecar-token");
    if (!given.empty()) return ui_token_equal(given, options.token);
    return ui_token_equal(ui_cookie_value(header(req, "cookie"), kCookie), options.token);
  }
  std::optional<HttpReply> screen(const HttpRequest& req) const;
  static void add_safety_headers(HttpReply& reply);
  HttpReply answer(const HttpRequest& req);
  HttpReply serve_asset(const HttpRequest& req) const;
  HttpReply serve_api(const HttpRequest& req) const;
};

// The rules a request's head must pass, before any of its body is read: its Host (one Host header,
// the parser says; and the host of an absolute-form target), its Origin, its method, and the token
// for the API. A refusal carries the safety headers.
std::optional<HttpReply> UiServer::Impl::screen(const HttpRequest& req) const {
  std::optional<HttpReply> reply;
  if (!ui_host_allowed(header(req, "host"), port, extra_host)) {
    reply = refusal(403, "refused: the Host header is not this server's (open the URL sidecar ui printed)");
  } else if (!req.authority.empty() && !ui_host_allowed(req.authority, port, extra_host)) {
    // http://host/... as the target stands for the Host header (RFC 9112 §3.2.2): the same rule.
    reply = refusal(421, "refused: the request's target names another host than this server");
  } else if (req.header("origin") && !ui_origin_allowed(header(req, "origin"), port, extra_host)) {
    reply = refusal(403, "refused: a request from another origin");
  } else if (req.method != "GET" && req.method != "POST" && req.method != "HEAD") {
    reply = refusal(405, "only GET and POST");
  } else if (req.path.rfind("/api/", 0) == 0 && !has_token(req)) {
    reply = refusal(401, "refused: no valid access token (open the URL with ?token= that sidecar ui printed)");
  }
  if (reply) add_safety_headers(*reply);
  return reply;
}

// Every request: first the rules, then what it asked for; the same safety headers on all.
HttpReply UiServer::Impl::answer(const HttpRequest& req) {
  if (std::optional<HttpReply> refused = screen(req)) return *refused;
  HttpReply reply;
  if (req.path.rfind("/api/", 0) != 0) {
    reply = serve_asset(req);
  } else if (req.path == "/api/events" && req.method == "GET") {
    reply.headers = {{"Content-Type", "text/event-stream"}};
    reply.stream = true;
    reply.events = {"retry: 1000\nevent: hello\ndata: {}\n\n"};
    reply.end = HttpReply::End::Hang;
    reply.subscribe = true;
  } else {
    reply = serve_api(req);
  }
  add_safety_headers(reply);
  return reply;
}

void UiServer::Impl::add_safety_headers(HttpReply& reply) {
  reply.headers.emplace_back("Content-Security-Policy", kPolicy);
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  reply.headers.emplace_back("X-Frame-Options", "DENY");
  reply.headers.emplace_back("Referrer-Policy", "no-referrer");
  reply.headers.emplace_back("Cache-Control", "no-store");
}

HttpReply UiServer::Impl::serve_asset(const HttpRequest& req) const {
  if (req.method == "POST") return refusal(405, "only GET here");
  // The printed URL's token becomes a cookie the page cannot read, and leaves the address bar.
  for (const auto& [key, value] : ui_query_params(req.query)) {
    if (key != "token") continue;
    if (!ui_token_equal(value, options.token)) return refusal(401, "refused: wrong token");
    HttpReply r;
    r.status = 303;
    r.headers = {{"Location", req.path},
                 {"Set-Cookie", std::string(kCookie) + "=" + options.token + "; HttpOnly; SameSite=Strict; Path=/"}};
    return r;
  }
  for (const UiAsset& a : options.assets) {
    if (a.path == req.path) {
      HttpReply r;
      r.headers = {{"Content-Type", a.content_type}};
      r.body = std::string(a.body);
      return r;
    }
  }
  return refusal(404, "no such page: " + req.path);
}

HttpReply UiServer::Impl::serve_api(const HttpRequest& req) const {
  UiRequest r{req.method == "HEAD" ? "GET" : req.method, req.path, ui_query_params(req.query), req.body};
  UiReply answered;
  try {
    answered = options.api(r);
  } catch (const std::exception& e) {
    return refusal(500, std::string("internal error: ") + e.what());
  }
  HttpReply reply;
  reply.status = answered.status;
  reply.headers = {{"Content-Type", answered.content_type}};
  if (!answered.allow.empty()) reply.headers.emplace_back("Allow", answered.allow);
  reply.body = std::move(answered.body);
  return reply;
}

UiServer::UiServer(UiServerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = std::move(options);
  if (m.options.host != "127.0.0.1" && m.options.host != "localhost") m.extra_host = m.options.host;
  m.http = std::make_unique<model_server::HttpServer>([&m](const HttpRequest& req) { return m.answer(req); });
  // A page on this machine needs a few connections: a flood of them, a slow or half-sent request
  // or a body too large for its route is dropped before it costs memory (kUi* below).
  model_server::HttpLimits limits;
  limits.max_connections = kUiMaxConnections;
  limits.request_timeout_ms = kUiRequestTimeoutMs;
  limits.screen = [&m](const HttpRequest& head) { return m.screen(head); };
  limits.max_body = [](const HttpRequest& head) { return head.method == "POST" ? kUiMaxPostBody : std::size_t{0}; };
  m.http->set_limits(std::move(limits));
}

UiServer::~UiServer() = default;

bool UiServer::bind(std::string& error) {
  Impl& m = *impl_;
  const std::string address = m.options.host == "localhost" ? "127.0.0.1" : m.options.host;
  if (!m.http->listen(address, m.options.port, error)) return false;
  m.port = m.http->port();
  return true;
}

int UiServer::port() const { return impl_->port; }

int UiServer::run() {
  Impl& m = *impl_;
  m.signature = files_signature(m.options.watched_files);
  m.http->every(static_cast<uint64_t>(m.options.watch_interval_ms), [&m] {
    unsigned long long now = files_signature(m.options.watched_files);
    if (now == m.signature) return;
    m.signature = now;
    m.http->broadcast("event: change\ndata: {}\n\n");
  });
  m.http->stop_on_signals({SIGINT, SIGTERM});
  return m.http->run();
}

void UiServer::stop() { impl_->http->stop(); }

}  // namespace sidecar::ui
