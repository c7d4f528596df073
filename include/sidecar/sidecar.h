/* Embedding Sidecar from C (or any language with a C foreign-function interface).
 *
 *   char *error = NULL;
 *   sidecar_host *host = sidecar_host_new("{\"sidecar_binary\": \"/usr/bin/sidecar\"}", &error);
 *   if (!host) { fprintf(stderr, "%s\n", error); sidecar_free(error); return 1; }
 *   char *reply = sidecar_eval(host, "return {answer = 6 * 7}");
 *   puts(reply);                         -- {"ok":true,"value":{"answer":42}}
 *   sidecar_free(reply);
 *   sidecar_host_free(host);
 *
 * Values cross as JSON text. A reply is {"ok":true,"value":...} or
 * {"ok":false,"error":{"kind":...,"message":...,"traceback":...[,"code":...]}} (kinds and code as
 * in sidecar.hpp's Result; "usage" also for a bad argument to these functions). Every string the library returns is
 * freed with sidecar_free. No C++ exception crosses these functions. A host is used from one
 * thread at a time; only sidecar_interrupt may be called from another. */
#ifndef SIDECAR_H
#define SIDECAR_H

#ifdef __cplusplus
extern "C" {
#endif

/* The API level this header describes; sidecar_api_level() gives the library's. A later level
 * only adds.
 *   Level 1: hosts, eval, call, events, native functions, interrupt.
 *   Level 2: the options "trust", "memory_limit" and "root"; the error kinds "memory" and "not_trusted",
 *            "usage" for a wrong argument in Lua too, and the stdlib's "code" beside the kind. */
#define SIDECAR_API_LEVEL 2

typedef struct sidecar_host sidecar_host;
typedef struct sidecar_reply sidecar_reply;

int sidecar_api_level(void);

/* A new host. `options_json` may be NULL or an object with any of "stdlib_dir" (string),
 * "sidecar_binary" (string), "redact_output" (boolean), "trust" ("environment", "granted" or
 * "all"), "memory_limit" (bytes) and "root" (the repository's folder), as sidecar.hpp's
 * HostOptions. NULL, with *error set (free
 * it), when the options are wrong or the host cannot start. */
sidecar_host *sidecar_host_new(const char *options_json, char **error);
/* The last host of the process to be freed joins Sidecar's background threads (libgit2 loading, a
 * snapshot): free every host before the program exits. */
void sidecar_host_free(sidecar_host *host);

/* Runs Lua code; the reply holds the chunk's first value. */
char *sidecar_eval(sidecar_host *host, const char *lua_code);
/* require(module)[function](args...) with `args_json` a JSON array (NULL: none). */
char *sidecar_call(sidecar_host *host, const char *module, const char *function, const char *args_json);

/* Each run event, as JSON, on the thread that called into the host, while the call runs. NULL
 * unsubscribes. */
typedef void (*sidecar_event_fn)(void *userdata, const char *event_json);
void sidecar_on_event(sidecar_host *host, sidecar_event_fn fn, void *userdata);

/* A native function callable from Lua as require("<module>").<function>(...) for `name`
 * "<module>.<function>". It receives the Lua arguments as a JSON array and answers through
 * `reply`: sidecar_reply_value (JSON, copied; none given: null) or sidecar_reply_error (a Lua
 * error), returning 0; a non-zero return without an error is an error too. Returns 0 when
 * registered, -1 otherwise. */
typedef int (*sidecar_native_fn)(void *userdata, const char *args_json, sidecar_reply *reply);
int sidecar_register_function(sidecar_host *host, const char *name, sidecar_native_fn fn, void *userdata);
void sidecar_reply_value(sidecar_reply *reply, const char *value_json);
void sidecar_reply_error(sidecar_reply *reply, const char *message);

/* Stops the call running on the host's thread (from any thread): its reply is an error of kind
 * "interrupted", its agents are stopped and their runs recorded interrupted. */
void sidecar_interrupt(sidecar_host *host);

void sidecar_free(char *text);

#ifdef __cplusplus
}
#endif

#endif /* SIDECAR_H */
