// libcurl, loaded on first use (see http_post.hpp).
#include "net/http_post.hpp"

#include <curl/curl.h>
#include <dlfcn.h>

#include <algorithm>
#include <mutex>

#ifndef SIDECAR_LIBCURL_SONAME
#define SIDECAR_LIBCURL_SONAME "libcurl.so.4"
#endif

namespace sidecar::host::net {
namespace {

// The libcurl functions Sidecar calls; only their types come from <curl/curl.h>.
#define SIDECAR_CURL_FUNCTIONS(X)                                                                  \
  X(curl_global_init) X(curl_easy_init) X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_cleanup) \
  X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_slist_append) X(curl_slist_free_all)

struct Api {
#define SIDECAR_CURL_POINTER(name) decltype(&::name) name = nullptr;
  SIDECAR_CURL_FUNCTIONS(SIDECAR_CURL_POINTER)
#undef SIDECAR_CURL_POINTER
  std::string why;  // empty once loaded
};

Api load() {
  Api a;
  // RTLD_LOCAL: libcurl's TLS libraries stay out of the global namespace (Sidecar links its own
  // libcrypto statically).
  void* lib = dlopen(SIDECAR_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    a.why = std::string("libcurl could not be loaded (install libcurl4: apt-get install libcurl4): ") +
            (e ? e : SIDECAR_LIBCURL_SONAME);
    return a;
  }
#define SIDECAR_CURL_RESOLVE(name)                                                   \
  a.name = reinterpret_cast<decltype(a.name)>(dlsym(lib, #name));                   \
  if (!a.name) {                                                                     \
    a.why = "libcurl (" SIDECAR_LIBCURL_SONAME ") has no " #name ": a newer one is needed"; \
    return a;                                                                        \
  }
  SIDECAR_CURL_FUNCTIONS(SIDECAR_CURL_RESOLVE)
#undef SIDECAR_CURL_RESOLVE
  if (a.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    a.why = "libcurl could not start";
  }
  return a;  // the library stays loaded for the life of the process
}

const Api& api() {
  static std::once_flag once;
  static Api* loaded = nullptr;
  std::call_once(once, [] { loaded = new Api(load()); });
  return *loaded;
}

constexpr std::size_t kExcerpt = 2048;

size_t keep_excerpt(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  size_t n = size * count;
  if (out->size() < kExcerpt) {
    out->append(data, std::min(n, kExcerpt - out->size()));
  }
  return n;  // the rest is read and dropped, so the endpoint is never cut off mid-answer
}

struct Easy {
  const Api& c;
  CURL* h;
  curl_slist* headers = nullptr;
  ~Easy() {
    if (headers) c.curl_slist_free_all(headers);
    if (h) c.curl_easy_cleanup(h);
  }
};

}  // namespace

HttpAnswer http_post(const HttpPost& request) {
  HttpAnswer answer;
  const Api& c = api();
  if (!c.why.empty()) {
    answer.error = c.why;
    return answer;
  }
  if (request.url.rfind("http://", 0) != 0 && request.url.rfind("https://", 0) != 0) {
    answer.error = "not an http or https URL";
    return answer;
  }
  Easy e{c, c.curl_easy_init()};
  if (!e.h) {
    answer.error = "libcurl could not make a request";
    return answer;
  }
  for (const auto& h : request.headers) {
    curl_slist* more = c.curl_slist_append(e.headers, h.c_str());
    if (!more) {
      answer.error = "out of memory";
      return answer;
    }
    e.headers = more;
  }
  c.curl_easy_setopt(e.h, CURLOPT_URL, request.url.c_str());
  c.curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
  c.curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 0L);
  c.curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  c.curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  c.curl_easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT_MS, request.timeout_ms);
  c.curl_easy_setopt(e.h, CURLOPT_POST, 1L);
  c.curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, request.body.data());
  c.curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  c.curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  c.curl_easy_setopt(e.h, CURLOPT_USERAGENT, "sidecar");
  c.curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, keep_excerpt);
  c.curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &answer.body_excerpt);
  CURLcode rc = c.curl_easy_perform(e.h);
  if (rc != CURLE_OK) {
    answer.error = c.curl_easy_strerror(rc);
    return answer;
  }
  c.curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_off_t retry_after = 0;  // libcurl reads the header, in seconds or as a date (7.66)
  if (c.curl_easy_getinfo(e.h, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
    answer.retry_after_s = static_cast<long>(std::min<curl_off_t>(retry_after, 86400));
  }
  return answer;
}

}  // namespace sidecar::host::net
