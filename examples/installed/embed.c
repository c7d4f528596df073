/* An installed Sidecar from C (pkg-config sidecar): the same as embed.cpp.
 *   embed_c REPO */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sidecar/sidecar.h>

static int failures = 0;
static volatile int started = 0;

static void expect(const char *what, int ok, const char *reply) {
  printf("%s %s%s%s\n", ok ? "ok" : "FAIL", what, ok ? "" : ": ", ok ? "" : reply);
  failures += !ok;
}

/* {"fields":{...},"kind":"run.started","run_id":...}: prints the kind. */
static void on_event(void *userdata, const char *event) {
  const char *kind = strstr(event, "\"kind\":\"");
  (void)userdata;
  kind = kind ? kind + 8 : "?\"";
  printf("event %.*s\n", (int)strcspn(kind, "\""), kind);
  if (strncmp(kind, "run.started\"", 12) == 0) started = 1;
}

static int greet(void *userdata, const char *args, sidecar_reply *reply) {
  char value[256];
  (void)userdata;
  snprintf(value, sizeof value, "{\"text\":\"hello\",\"args\":%s}", args);
  sidecar_reply_value(reply, value);
  return 0;
}

static void *stopper(void *host) {
  for (int i = 0; i < 1200 && !started; ++i) usleep(50000);
  usleep(500000);
  sidecar_interrupt(host);
  return NULL;
}

static char *run(sidecar_host *host, const char *repo, const char *command) {
  char code[1024];
  snprintf(code, sizeof code,
           "return assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', repo = '%s', "
           "command = { %s } })).output", repo, command);
  return sidecar_eval(host, code);
}

int main(int argc, char **argv) {
  char *error = NULL, *reply;
  pthread_t thread;
  if (argc != 2) return 2;
  sidecar_host *host = sidecar_host_new(NULL, &error);
  if (!host) {
    fprintf(stderr, "%s\n", error);
    sidecar_free(error);
    return 1;
  }
  sidecar_on_event(host, on_event, NULL);
  sidecar_register_function(host, "app.greet", greet, NULL);
  reply = sidecar_eval(host, "local g = require('app').greet('world') return g.text .. ' ' .. g.args[1]");
  expect("native function", strcmp(reply, "{\"ok\":true,\"value\":\"hello world\"}") == 0, reply);
  sidecar_free(reply);
  reply = run(host, argv[1], "'sh', '-c', 'echo from-the-agent'");
  expect("agent output", strcmp(reply, "{\"ok\":true,\"value\":\"from-the-agent\\n\"}") == 0, reply);
  sidecar_free(reply);
  started = 0;
  pthread_create(&thread, NULL, stopper, host);
  reply = run(host, argv[1], "'sleep', '60'");
  pthread_join(thread, NULL);
  expect("cancelled", strstr(reply, "\"kind\":\"interrupted\"") != NULL, reply);
  sidecar_free(reply);
  sidecar_host_free(host);
  return failures == 0 ? 0 : 1;
}
