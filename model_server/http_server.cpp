// The HTTP server's connections on a libuv loop. A connection answers one request at a time (a
// pipelined one waits its turn) and keeps reading meanwhile, so a client that leaves during a
// slow or hanging reply is noticed and its connection freed.
#include "http_server.hpp"

#include <uv.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace sidecar::model_server {
namespace {

std::string uv_message(int status) { return std::string(uv_err_name(status)) + ": " + uv_strerror(status); }

// The body of a reply this file makes itself (a request it cannot read, a handler that threw).
// Invalid UTF-8 in `message` (a header line quoted back) becomes U+FFFD: the body stays JSON.
HttpReply error_reply(int status, const std::string& message) {
  using Json = nlohmann::ordered_json;
  Json body = {{"error", {{"message", message}, {"type", status >= 500 ? "server_error" : "invalid_request_error"}}}};
  HttpReply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  return r;
}

}  // namespace

struct Connection;

struct HttpServer::Impl {
  Handler handler;
  BadRequestHook on_bad_request;
  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t stopper{};
  bool stopping = false, closed = false;
  int init_error = 0;  // from uv_loop_init: listen() reports it
  int stop_signal = 0;
  std::vector<std::unique_ptr<uv_signal_t>> signals;
  std::vector<std::pair<int, struct sigaction>> saved_actions;
  std::unordered_set<Connection*> connections;
  std::atomic<std::size_t> open_connections{0};  // connections.size(), readable from other threads
  uv_timer_t ticker{};
  bool ticking = false;
  std::function<void()> tick;
  HttpLimits limits;
  uint64_t accepted = 0;  // connections so far

  void shut_down();
};

struct Connection {
  HttpServer::Impl* server = nullptr;
  uv_tcp_t tcp{};
  uv_timer_t timer{};  // the reply's delays
  uv_timer_t quiet{};  // HttpLimits::request_timeout_ms while no request is being answered
  int open_handles = 3;
  uint64_t accepted = 0;  // the order connections came in (the oldest goes first at the cap)
  bool closing = false;
  bool peer_done = false;  // the client sent EOF
  bool processing = false;
  HttpRequestParser parser;

  bool replying = false, hanging = false;
  HttpReply reply;
  std::size_t next_event = 0;
  bool keep_alive = true, chunked = false, head_only = false;
  // A reply sent before the request's body was read (a refusal from its head, a bad request):
  // after it, what the client still sends is read and dropped until it stops (a lingering close),
  // so that it gets to read the reply instead of a reset.
  bool body_unread = false, draining = false;
  uint64_t drained = 0;
};

namespace {

void on_connection_handle_closed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->open_handles == 0) {
    c->server->connections.erase(c);
    c->server->open_connections = c->server->connections.size();
    delete c;
  }
}

void close_connection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), on_connection_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), on_connection_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.quiet), on_connection_handle_closed);
}

// A connection waiting for its next request gets request_timeout_ms to send it whole.
void arm_quiet(Connection& c) {
  const uint64_t ms = c.server->limits.request_timeout_ms;
  if (ms == 0 || c.closing) return;
  uv_timer_start(&c.quiet, [](uv_timer_t* t) { close_connection(*static_cast<Connection*>(t->data)); }, ms, 0);
}

struct WriteRequest {
  uv_write_t req{};
  Connection* connection = nullptr;
  std::string data;  // alive until written
};

void write(Connection& c, std::string data) {
  if (c.closing || data.empty()) return;
  auto* w = new WriteRequest;
  w->data = std::move(data);
  w->connection = &c;
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int r = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1, [](uv_write_t* req, int status) {
    auto* done = static_cast<WriteRequest*>(req->data);
    Connection* conn = done->connection;
    delete done;
    // A client that went away: nothing more can be said to it. (ECANCELED: already closing.)
    if (status < 0 && status != UV_ECANCELED) close_connection(*conn);
  });
  if (r < 0) {
    delete w;
    close_connection(c);
  }
}

// At most this much of an unread body is read and dropped after the reply, for at most this long.
constexpr uint64_t kLingerBytes = 256ull << 20;
constexpr uint64_t kLingerMs = 5000;

// Closes once everything written so far has been sent: a FIN after the last byte. A connection
// whose request body was never read lingers: it goes on reading (and dropping) what the client
// sends until the client stops, kLingerBytes or kLingerMs, whichever comes first; closed with
// unread bytes, the socket would send a reset that can cost the client the reply itself.
void end_connection(Connection& c) {
  if (c.closing) return;
  c.draining = c.body_unread && !c.peer_done;
  if (c.draining) {
    uv_timer_start(&c.quiet, [](uv_timer_t* t) { close_connection(*static_cast<Connection*>(t->data)); },
                   kLingerMs, 0);
  } else {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
  }
  auto* req = new uv_shutdown_t;
  req->data = &c;
  int r = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c.tcp), [](uv_shutdown_t* s, int) {
    auto* conn = static_cast<Connection*>(s->data);
    delete s;
    // A no-op when it closed meanwhile (the request was cancelled); a draining one closes when
    // the client stops sending (on_read) or its linger time ends.
    if (!conn->draining) close_connection(*conn);
  });
  if (r < 0) {
    delete req;
    close_connection(c);
  }
}

void process(Connection& c);
void send_events(Connection& c);

void finish_reply(Connection& c) {
  c.replying = false;
  c.reply = HttpReply();
  if (!c.keep_alive) return end_connection(c);
  arm_quiet(c);
  process(c);  // a pipelined request may be waiting
}

void send_head(Connection& c) {
  HttpReply& r = c.reply;
  if (!r.stream && r.end != HttpReply::End::Complete) {
    // A whole reply cut or left hanging: not one byte of it.
    if (r.end == HttpReply::End::Close) return close_connection(c);
    c.hanging = true;
    if (c.peer_done) close_connection(c);
    return;
  }
  // A stream to an HTTP/1.0 client has no chunked encoding: closing the connection ends it.
  c.chunked = r.stream && c.keep_alive;
  if (r.stream && !c.chunked) c.keep_alive = false;
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + http_reason(r.status) + "\r\n";
  for (const auto& [name, value] : r.headers) head += name + ": " + value + "\r\n";
  if (c.chunked) head += "Transfer-Encoding: chunked\r\n";
  else if (!r.stream) head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  head += c.keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!r.stream) {
    if (!c.head_only) head += r.body;
    write(c, std::move(head));
    return finish_reply(c);
  }
  write(c, std::move(head));
  send_events(c);
}

// Runs `then` after `ms`, never sooner: from a fresh clock (the loop's is as old as this
// iteration) and one millisecond more, as the loop counts whole milliseconds.
void pause(Connection& c, uint64_t ms, uv_timer_cb then) {
  uv_update_time(c.tcp.loop);
  uv_timer_start(&c.timer, then, ms + 1, 0);
}

void send_event(Connection& c) {
  std::string& event = c.reply.events[c.next_event++];
  if (!c.chunked) return write(c, std::move(event));
  char size[24];
  std::snprintf(size, sizeof size, "%zx\r\n", event.size());
  write(c, size + event + "\r\n");
}

// Sends the events due now; after a pause the timer comes back here.
void send_events(Connection& c) {
  HttpReply& r = c.reply;
  while (!c.closing && c.next_event < r.events.size()) {
    if (r.event_delay_ms > 0) {
      pause(c, r.event_delay_ms, [](uv_timer_t* t) {
        Connection& conn = *static_cast<Connection*>(t->data);
        send_event(conn);
        send_events(conn);
      });
      return;
    }
    send_event(c);
  }
  if (c.closing) return;
  switch (r.end) {
    case HttpReply::End::Complete:
      if (c.chunked) write(c, "0\r\n\r\n");
      return finish_reply(c);
    case HttpReply::End::Close:
      return end_connection(c);
    case HttpReply::End::Hang:
      c.hanging = true;
      if (c.peer_done) close_connection(c);
      return;
  }
}

void start_reply(Connection& c, const HttpRequest& request) {
  HttpReply reply;
  try {
    reply = c.server->handler(request);
  } catch (const std::exception& e) {
    reply = error_reply(500, std::string("the server failed: ") + e.what());
  }
  uv_timer_stop(&c.quiet);
  c.replying = true;
  c.hanging = false;
  c.reply = std::move(reply);
  c.next_event = 0;
  c.keep_alive = request.keep_alive && !c.peer_done;
  c.head_only = request.method == "HEAD";
  if (c.reply.delay_ms == 0) return send_head(c);
  pause(c, c.reply.delay_ms, [](uv_timer_t* t) { send_head(*static_cast<Connection*>(t->data)); });
}

// Answers the requests buffered so far, one at a time. A loop rather than recursion: replies that
// finish at once would otherwise nest one call per pipelined request.
void process(Connection& c) {
  if (c.processing) return;  // finish_reply inside the loop below: the loop goes on
  c.processing = true;
  while (!c.closing && !c.replying) {
    HttpRequestParser::Status status = c.parser.parse();
    if (status == HttpRequestParser::Status::Complete) {
      HttpRequest request = c.parser.take();
      start_reply(c, request);
      continue;
    }
    if (status == HttpRequestParser::Status::Head) {  // (with limits) before any of its body
      const HttpLimits& limits = c.server->limits;
      std::optional<HttpReply> refused = limits.screen ? limits.screen(c.parser.head()) : std::nullopt;
      if (refused) {
        uv_timer_stop(&c.quiet);
        c.replying = true;
        c.hanging = false;
        c.reply = std::move(*refused);
        c.next_event = 0;
        c.keep_alive = false;  // its body is never read: the connection ends with the reply
        c.body_unread = true;
        c.head_only = c.parser.head().method == "HEAD";
        send_head(c);
        break;
      }
      if (limits.max_body) c.parser.limit_body(limits.max_body(c.parser.head()));
      continue;
    }
    if (status == HttpRequestParser::Status::Error) {
      int code = c.parser.error_status();
      if (c.server->on_bad_request) c.server->on_bad_request(code, c.parser.error());
      c.replying = true;
      c.reply = error_reply(code, "bad request: " + c.parser.error());
      c.keep_alive = false;  // the rest of the stream cannot be trusted to frame a request
      c.body_unread = true;
      c.head_only = false;
      send_head(c);
      break;
    }
    if (c.parser.wants_continue()) {
      c.parser.continue_answered();
      write(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (c.peer_done) close_connection(c);  // half a request, and no more coming
    break;
  }
  c.processing = false;
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Connection& c = *static_cast<Connection*>(stream->data);
  if (c.body_unread) {  // a body never read: dropped as it comes, until the client stops (after the
                        // reply: end_connection), it sends too much, or the linger time ends
    if (nread > 0) c.drained += static_cast<uint64_t>(nread);
    if (nread == UV_EOF) c.peer_done = true;
    if ((nread < 0 && (nread != UV_EOF || c.draining)) || c.drained > kLingerBytes) close_connection(c);
    delete[] buf->base;
    return;
  }
  if (nread > 0) {
    // While a reply is under way the bytes wait in the parser, to be parsed after it; a client
    // that sends more than one request could hold meanwhile is not served any further.
    if (c.parser.buffered() > HttpRequestParser::kMaxHead + HttpRequestParser::kMaxBody) {
      close_connection(c);
    } else {
      c.parser.append(std::string_view(buf->base, static_cast<std::size_t>(nread)));
      process(c);
    }
  } else if (nread == UV_EOF) {
    c.peer_done = true;
    uv_read_stop(stream);
    if (!c.replying) process(c);
    else if (c.hanging) close_connection(c);
    else c.keep_alive = false;
  } else if (nread < 0) {
    close_connection(c);  // reset by the client
  }
  delete[] buf->base;
}

// At the connection cap: the oldest connection that is not being answered (half-open, idle, or
// slow to send its request) makes room, so a flood of them never locks a client out.
void make_room(HttpServer::Impl& server) {
  const std::size_t cap = server.limits.max_connections;
  std::size_t open = 0;
  Connection* oldest = nullptr;
  for (Connection* c : server.connections) {
    if (c->closing) continue;
    ++open;
    if (!c->replying && (!oldest || c->accepted < oldest->accepted)) oldest = c;
  }
  if (cap > 0 && open >= cap && oldest) close_connection(*oldest);
}

void on_connection(uv_stream_t* listener, int status) {
  auto* server = static_cast<HttpServer::Impl*>(listener->data);
  if (status < 0 || server->stopping) return;
  if (server->limits.max_connections > 0) make_room(*server);
  auto* c = new Connection;
  c->server = server;
  c->accepted = ++server->accepted;
  uv_tcp_init(&server->loop, &c->tcp);
  uv_timer_init(&server->loop, &c->timer);
  uv_timer_init(&server->loop, &c->quiet);
  c->tcp.data = c->timer.data = c->quiet.data = c;
  c->parser.stop_at_head(server->limits.screen || server->limits.max_body);
  server->connections.insert(c);
  server->open_connections = server->connections.size();
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) < 0) return close_connection(*c);
  arm_quiet(*c);
  uv_tcp_nodelay(&c->tcp, 1);  // events are small and must arrive when sent
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp),
                [](uv_handle_t*, std::size_t suggested, uv_buf_t* buf) {
                  *buf = uv_buf_init(new char[suggested], static_cast<unsigned>(suggested));
                },
                on_read);
}

}  // namespace

void HttpServer::Impl::shut_down() {
  if (closed) return;
  closed = true;
  stopping = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stopper), nullptr);
  for (auto& s : signals) uv_close(reinterpret_cast<uv_handle_t*>(s.get()), nullptr);
  if (ticking) uv_close(reinterpret_cast<uv_handle_t*>(&ticker), nullptr);
  std::vector<Connection*> open(connections.begin(), connections.end());
  for (Connection* c : open) close_connection(*c);
}

HttpServer::HttpServer(Handler handler, BadRequestHook on_bad_request) : impl_(std::make_unique<Impl>()) {
  Impl& S = *impl_;
  S.handler = std::move(handler);
  S.on_bad_request = std::move(on_bad_request);
  if ((S.init_error = uv_loop_init(&S.loop)) < 0) {
    S.closed = true;  // nothing to close
    return;
  }
  uv_async_init(&S.loop, &S.stopper, [](uv_async_t* a) { static_cast<Impl*>(a->data)->shut_down(); });
  S.stopper.data = &S;
  uv_tcp_init(&S.loop, &S.listener);
  S.listener.data = &S;
  // A client that leaves mid-reply must not end the server with SIGPIPE: writes fail instead.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
}

HttpServer::~HttpServer() {
  Impl& S = *impl_;
  if (S.init_error < 0) return;
  S.shut_down();
  uv_run(&S.loop, UV_RUN_DEFAULT);
  uv_loop_close(&S.loop);
  for (auto& [sig, action] : S.saved_actions) sigaction(sig, &action, nullptr);
}

bool HttpServer::listen(const std::string& host, int port, std::string& error) {
  Impl& S = *impl_;
  if (S.init_error < 0) {
    error = "cannot start the server loop: " + uv_message(S.init_error);
    return false;
  }
  sockaddr_in addr{};
  int r = uv_ip4_addr(host.c_str(), port, &addr);
  if (r < 0) {
    error = "bad address " + host + ": " + uv_message(r);
    return false;
  }
  r = uv_tcp_bind(&S.listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&S.listener), 128, on_connection);
  if (r < 0) {
    error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + uv_message(r);
    return false;
  }
  return true;
}

int HttpServer::port() const {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getsockname(&impl_->listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void HttpServer::stop_on_signals(const std::vector<int>& signals) {
  Impl& S = *impl_;
  if (S.init_error < 0) return;
  for (int sig : signals) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    S.saved_actions.emplace_back(sig, old);
    auto h = std::make_unique<uv_signal_t>();
    uv_signal_init(&S.loop, h.get());
    h->data = &S;
    uv_signal_start(h.get(), [](uv_signal_t* s, int signum) {
      auto* server = static_cast<Impl*>(s->data);
      if (server->stop_signal == 0) server->stop_signal = signum;
      server->shut_down();
    }, sig);
    S.signals.push_back(std::move(h));
  }
}

int HttpServer::run() {
  Impl& S = *impl_;
  if (S.init_error < 0) return 0;
  uv_run(&S.loop, UV_RUN_DEFAULT);  // returns once shut_down() closed every handle
  for (auto& [sig, action] : S.saved_actions) sigaction(sig, &action, nullptr);
  S.saved_actions.clear();
  return S.stop_signal;
}

void HttpServer::stop() {
  if (impl_->init_error == 0) uv_async_send(&impl_->stopper);
}

void HttpServer::every(uint64_t ms, std::function<void()> tick) {
  Impl& S = *impl_;
  if (S.init_error < 0 || S.ticking) return;
  S.tick = std::move(tick);
  S.ticking = true;
  uv_timer_init(&S.loop, &S.ticker);
  S.ticker.data = &S;
  uv_timer_start(&S.ticker, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->tick(); }, ms, ms);
}

void HttpServer::broadcast(const std::string& event) {
  for (Connection* c : impl_->connections) {
    if (c->closing || !c->hanging || !c->reply.subscribe || !c->reply.stream) continue;
    if (!c->chunked) {
      write(*c, event);
      continue;
    }
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", event.size());
    write(*c, size + event + "\r\n");
  }
}

void HttpServer::set_limits(HttpLimits limits) { impl_->limits = std::move(limits); }

std::size_t HttpServer::connections() const { return impl_->open_connections.load(); }

}  // namespace sidecar::model_server
