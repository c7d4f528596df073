// HTTP/1.1 request parsing (RFC 9112), incremental: bytes arrive in pieces of any size, so every
// step either finishes a part of the request or leaves the buffer as it was and asks for more.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "http_server.hpp"

namespace sidecar::model_server {
namespace {

constexpr std::size_t kMaxChunkLine = 1024;  // a chunk-size line, extensions included

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_token_char(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return c != 0 && is_token_char(c); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated list `value` holds `token` (case-insensitive): "keep-alive, Upgrade".
bool list_has(std::string_view value, std::string_view token) {
  std::string v = lower(value);
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    if (trim(std::string_view(v).substr(start, comma - start)) == token) return true;
    start = comma + 1;
  }
  return false;
}

std::string body_too_large(std::size_t max) {
  if (max == 0) return "this request takes no body";
  return max % (1024 * 1024) == 0 ? "the body is larger than " + std::to_string(max / (1024 * 1024)) + " MiB"
         : max % 1024 == 0        ? "the body is larger than " + std::to_string(max / 1024) + " KiB"
                                  : "the body is larger than " + std::to_string(max) + " bytes";
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

HttpRequestParser::Status HttpRequestParser::fail(int status, std::string why) {
  error_status_ = status;
  error_ = std::move(why);
  return Status::Error;
}

HttpRequestParser::Status HttpRequestParser::feed(std::string_view data) {
  if (error_status_ != 0) return Status::Error;
  buffer_.append(data.data(), data.size());
  return parse();
}

HttpRequestParser::Status HttpRequestParser::parse() {
  if (error_status_ != 0) return Status::Error;
  if (complete_) return Status::Complete;
  if (!head_done_) {
    Status s = parse_head();
    if (s != Status::Complete) return s;
  }
  if (stop_at_head_ && !head_reported_) {
    head_reported_ = true;
    return Status::Head;
  }
  if (chunked_) {
    Status s = parse_chunked();
    if (s != Status::Complete) return s;
  } else {
    if (buffered() < content_length_) return Status::NeedMore;
    request_.body.assign(buffer_, offset_, content_length_);
    offset_ += content_length_;
  }
  complete_ = true;
  return Status::Complete;
}

void HttpRequestParser::limit_body(std::size_t max) {
  body_max_ = std::min(max, kMaxBody);
  if (!chunked_ && content_length_ > body_max_) fail(413, body_too_large(body_max_));
}

HttpRequest HttpRequestParser::take() {
  HttpRequest done = std::move(request_);
  request_ = HttpRequest();
  head_done_ = chunked_ = expect_continue_ = continue_answered_ = complete_ = in_trailers_ = chunk_crlf_due_ = false;
  head_reported_ = false;
  body_max_ = kMaxBody;
  content_length_ = chunk_left_ = 0;
  // Drops what was read, so a long keep-alive connection does not grow the buffer.
  buffer_.erase(0, offset_);
  offset_ = 0;
  return done;
}

HttpRequestParser::Status HttpRequestParser::parse_head() {
  // Empty lines before a request line are allowed (RFC 9112 §2.2).
  while (buffer_.compare(offset_, 2, "\r\n") == 0) offset_ += 2;
  std::size_t end = buffer_.find("\r\n\r\n", offset_);
  if (end == std::string::npos) {
    if (buffered() > kMaxHead) return fail(431, "the request line and headers are longer than 64 KiB");
    return Status::NeedMore;
  }
  if (end - offset_ > kMaxHead) return fail(431, "the request line and headers are longer than 64 KiB");
  std::string_view head(buffer_.data() + offset_, end - offset_);
  if (head.find('\0') != std::string_view::npos) return fail(400, "a NUL byte in the request head");

  std::size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line (expected METHOD TARGET HTTP/1.1)");
  }
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method in the request line");
  if (version.size() != 8 || version.compare(0, 5, "HTTP/") != 0 || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return fail(400, "malformed HTTP version in the request line");
  }
  if (version[5] != '1') return fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
  // Origin form "/path?query"; the absolute form "http://host/path" is reduced to it, its host
  // kept for the server to judge as it judges a Host header (RFC 9112 §3.2.2: it stands for one).
  std::string origin(target);
  std::string_view authority;
  if (lower(target.substr(0, 7)) == "http://") {
    const std::size_t end = std::min(target.find_first_of("/?", 7), target.size());
    authority = target.substr(7, end - 7);
    // No host, user information before it (deprecated, and a way to dress up a foreign host), a
    // fragment (never sent): not a target.
    if (authority.empty() || authority.find('@') != std::string_view::npos || target.find('#') != std::string_view::npos) {
      return fail(400, "malformed request target");
    }
    origin = (end < target.size() && target[end] == '/' ? "" : "/") + std::string(target.substr(end));
  }
  if (origin.empty() || (origin[0] != '/' && origin != "*")) return fail(400, "malformed request target");
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.authority = std::string(authority);
  std::size_t q = origin.find('?');
  request_.path = origin.substr(0, q);
  request_.query = q == std::string::npos ? std::string() : origin.substr(q + 1);
  request_.minor_version = version[7] - '0';

  bool has_length = false, has_te = false, has_host = false;
  std::string connection;
  std::size_t pos = line_end;
  while (pos != std::string_view::npos && pos < head.size()) {
    pos += 2;
    std::size_t next = head.find("\r\n", pos);
    std::string_view field = head.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    pos = next;
    if (!field.empty() && (field[0] == ' ' || field[0] == '\t')) return fail(400, "obsolete header line folding");
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) {
      return fail(400, "malformed header line '" + std::string(field.substr(0, 60)) + "'");
    }
    std::string name = lower(field.substr(0, colon));
    std::string value(trim(field.substr(colon + 1)));
    if (name == "content-length") {
      if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
        return fail(400, "malformed Content-Length '" + value.substr(0, 30) + "'");
      }
      std::size_t n = std::stoull(value);
      if (has_length && n != content_length_) return fail(400, "two different Content-Length headers");
      has_length = true;
      content_length_ = n;
    } else if (name == "transfer-encoding") {
      // Only "chunked" is understood, and it must come last (RFC 9112 §6.3).
      std::string v = lower(value);
      if (v != "chunked") return fail(501, "unsupported Transfer-Encoding '" + value.substr(0, 30) + "'");
      has_te = true;
    } else if (name == "connection") {
      connection += value + ",";
    } else if (name == "host") {
      // Which one would a proxy in front have read? Refused, as RFC 9112 §3.2 says.
      if (has_host) return fail(400, "more than one Host header");
      has_host = true;
    } else if (name == "expect") {
      if (lower(value) != "100-continue") return fail(417, "unsupported Expect '" + value.substr(0, 30) + "'");
      expect_continue_ = true;
    }
    request_.headers.emplace_back(std::move(name), std::move(value));
  }
  // Both framings at once is how requests are smuggled past proxies: refuse (RFC 9112 §6.1).
  if (has_length && has_te) return fail(400, "both Content-Length and Transfer-Encoding");
  if (content_length_ > kMaxBody) return fail(413, "the body is larger than 64 MiB");
  chunked_ = has_te;
  request_.keep_alive = request_.minor_version >= 1 ? !list_has(connection, "close") : list_has(connection, "keep-alive");
  offset_ = end + 4;
  head_done_ = true;
  if (!chunked_ && content_length_ == 0) expect_continue_ = false;  // no body to wait for
  return Status::Complete;
}

HttpRequestParser::Status HttpRequestParser::parse_chunked() {
  for (;;) {
    if (in_trailers_) {
      // Trailer fields are read and dropped; an empty line ends the body.
      std::size_t eol = buffer_.find("\r\n", offset_);
      if (eol == std::string::npos) {
        return buffered() > kMaxHead ? fail(431, "chunked trailers longer than 64 KiB") : Status::NeedMore;
      }
      bool last = eol == offset_;
      offset_ = eol + 2;
      if (last) return Status::Complete;
      continue;
    }
    if (chunk_left_ > 0) {
      std::size_t n = std::min(chunk_left_, buffered());
      request_.body.append(buffer_, offset_, n);
      offset_ += n;
      chunk_left_ -= n;
      if (chunk_left_ > 0) return Status::NeedMore;
      chunk_crlf_due_ = true;
    }
    if (chunk_crlf_due_) {
      if (buffered() < 2) return Status::NeedMore;
      if (buffer_.compare(offset_, 2, "\r\n") != 0) return fail(400, "malformed chunked body (no CRLF after a chunk)");
      offset_ += 2;
      chunk_crlf_due_ = false;
    }
    std::size_t eol = buffer_.find("\r\n", offset_);
    if (eol == std::string::npos) {
      return buffered() > kMaxChunkLine ? fail(400, "malformed chunked body (chunk-size line too long)") : Status::NeedMore;
    }
    std::string_view line(buffer_.data() + offset_, eol - offset_);
    std::string_view digits = trim(line.substr(0, line.find(';')));
    if (digits.empty() || digits.size() > 15 ||
        !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isxdigit(c); })) {
      return fail(400, "malformed chunked body (bad chunk size '" + std::string(line.substr(0, 30)) + "')");
    }
    std::size_t size = std::stoull(std::string(digits), nullptr, 16);
    offset_ = eol + 2;
    if (size == 0) {
      in_trailers_ = true;
      continue;
    }
    if (request_.body.size() + size > body_max_) return fail(413, body_too_large(body_max_));
    chunk_left_ = size;
  }
}

std::string sse_event(std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(name.size() + data.size() + 16);
  if (!name.empty()) out.append("event: ").append(name).append("\n");
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = data.find('\n', start);
    out.append("data: ").append(data.substr(start, nl == std::string_view::npos ? nl : nl - start)).append("\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.append("\n");
  return out;
}

const char* http_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 529: return "Overloaded";
    default: return "Unknown";
  }
}

}  // namespace sidecar::model_server
