// Loading libgit2 with dlopen (see git_lib.hpp for why).
#include "git/git_lib.hpp"

#include "util/background_jobs.hpp"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

#ifndef SIDECAR_LIBGIT2_SONAME
#define SIDECAR_LIBGIT2_SONAME "libgit2.so"
#endif

namespace sidecar::host::git {
namespace {

struct Loaded {
  Api api;
  std::string why;  // empty once loaded
};

Loaded load() {
  Loaded l;
  // RTLD_LOCAL: libgit2's own dependencies (a second libcrypto among them) stay out of the
  // global namespace, so they cannot interpose on the libcrypto Sidecar links statically.
  void* lib = dlopen(SIDECAR_LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    l.why = std::string("libgit2 could not be loaded (install libgit2: apt-get install libgit2-1.5): ") +
            (e ? e : SIDECAR_LIBGIT2_SONAME);
    return l;
  }
#define SIDECAR_GIT_RESOLVE(name)                                                   \
  l.api.name = reinterpret_cast<decltype(l.api.name)>(dlsym(lib, #name));          \
  if (!l.api.name) {                                                                \
    l.why = "libgit2 (" SIDECAR_LIBGIT2_SONAME ") has no " #name ": a newer one is needed"; \
    return l;                                                                       \
  }
  SIDECAR_GIT_FUNCTIONS(SIDECAR_GIT_RESOLVE)
#undef SIDECAR_GIT_RESOLVE
  if (l.api.git_libgit2_init() < 0) {
    l.why = "libgit2 could not start";
  }
  return l;  // the library stays loaded for the life of the process
}

// Set once api() has loaded it (or failed to): a copy of this process made by fork (a preset's
// worker) knows it has nothing left to preload.
std::atomic<bool> g_loaded{false};

}  // namespace

const Api* api(std::string& why) {
  static std::once_flag once;
  static Loaded* loaded = nullptr;
  std::call_once(once, [] {
    loaded = new Loaded(load());
    g_loaded.store(true, std::memory_order_release);
  });
  if (!loaded->why.empty()) {
    why = loaded->why;
    return nullptr;
  }
  return &loaded->api;
}

void preload() {
  if (g_loaded.load(std::memory_order_acquire)) return;  // no thread started for nothing
  static std::once_flag once;
  std::call_once(once, [] {
    // A background job: the process's end waits for the load (background_jobs.hpp).
    start_background_job([] {
      std::string why;
      api(why);
    });
  });
}

namespace {
const Api& loaded_api() {
  std::string why;
  return *api(why);  // only called to free what the loaded library made
}
}  // namespace

std::string last_error(const Api& g, const char* fallback) {
  const git_error* e = g.git_error_last();
  return e && e->message && *e->message ? e->message : fallback;
}

void RepoFree::operator()(git_repository* r) const { loaded_api().git_repository_free(r); }
void IndexFree::operator()(git_index* i) const { loaded_api().git_index_free(i); }
void DiffFree::operator()(git_diff* d) const { loaded_api().git_diff_free(d); }
void ReferenceFree::operator()(git_reference* r) const { loaded_api().git_reference_free(r); }
void ObjectFree::operator()(git_object* o) const { loaded_api().git_object_free(o); }
void TreeFree::operator()(git_tree* t) const { loaded_api().git_tree_free(t); }

std::string hex(const Api& g, const git_oid& id) {
  char out[GIT_OID_HEXSZ + 1];
  g.git_oid_fmt(out, &id);
  out[GIT_OID_HEXSZ] = '\0';
  return out;
}

}  // namespace sidecar::host::git
