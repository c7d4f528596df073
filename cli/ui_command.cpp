#include "ui_command.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string_view>

#include <lua.hpp>

#include "engine.hpp"
#include "secrets/secrets.hpp"
#include "ui_server.hpp"
#include "util/utf8.hpp"
#include "util/version.hpp"

extern char** environ;

namespace sidecar::cli {

// The page's files, compiled in from ui/ (cmake/embed_text.cmake).
std::string_view ui_index_html() noexcept;
std::string_view ui_app_js() noexcept;
std::string_view ui_views_js() noexcept;
std::string_view ui_app_css() noexcept;

namespace {

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;

int fail(int status, const std::string& message) {
  std::string text = terminal_visible(host::Redactor::from_environ().redact(message));
  std::fprintf(stderr, "sidecar ui: %s\n", text.c_str());
  return status;
}

// Starts the desktop's browser on `url`, quietly; whether it came up is the user's to see.
void open_browser(const std::string& url) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // a Ctrl-C meant for the server does not reach the browser
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  std::string program = "xdg-open";
  char* argv[] = {program.data(), const_cast<char*>(url.c_str()), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "xdg-open", &files, &attr, argv, environ) != 0) {
    std::fprintf(stderr, "sidecar ui: could not start xdg-open: open the URL above yourself\n");
  }
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
}

// The Lua side: api.start(opts) once, then api.handle(ctx, ...) per request (one at a time: the
// server has one thread).
class LuaApi {
 public:
  explicit LuaApi(lua::Engine& engine) : engine_(engine) {}

  // require("sidecar.ui.api").start({root, version}) -> ctx, kept in the registry.
  bool start(const std::string& root, std::vector<std::string>& watch, std::string& error) {
    lua_State* L = engine_.state();
    // require("sidecar.cli.trust").install(true): a command's trust (its notice on stderr, no
    // module of the current folder), as every command of the command line has.
    if (!engine_.require("sidecar.cli.trust", error)) return false;
    lua_getfield(L, -1, "install");
    lua_remove(L, -2);
    lua_pushboolean(L, 1);
    if (!engine_.pcall(1, 0)) {
      error = lua_tostring(L, -1);
      lua_pop(L, 1);
      return false;
    }
    if (!engine_.require("sidecar.ui.api", error)) return false;
    lua_getfield(L, -1, "handle");
    handle_ = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "start");
    lua_remove(L, -2);
    lua_createtable(L, 0, 2);
    if (!root.empty()) {
      lua_pushstring(L, root.c_str());
      lua_setfield(L, -2, "root");
    }
    lua_pushstring(L, SIDECAR_VERSION);
    lua_setfield(L, -2, "version");
    if (!engine_.pcall(1, 2)) {
      error = lua_tostring(L, -1);
      lua_pop(L, 1);
      return false;
    }
    if (lua_isnil(L, -2)) {
      error = luaL_optstring(L, -1, "the store could not be opened");
      lua_pop(L, 2);
      return false;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "watch");
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; ++i) {
      watch.emplace_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
    ctx_ = luaL_ref(L, LUA_REGISTRYINDEX);
    return true;
  }

  // api.handle(ctx, method, path, query, body) -> status, content_type, body, allow?
  ui::UiReply handle(const ui::UiRequest& r) {
    lua_State* L = engine_.state();
    lua_rawgeti(L, LUA_REGISTRYINDEX, handle_);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ctx_);
    lua_pushlstring(L, r.method.data(), r.method.size());
    lua_pushlstring(L, r.path.data(), r.path.size());
    lua_createtable(L, 0, static_cast<int>(r.params.size()));
    for (const auto& [key, value] : r.params) {
      lua_pushlstring(L, value.data(), value.size());
      lua_setfield(L, -2, key.c_str());
    }
    lua_pushlstring(L, r.body.data(), r.body.size());
    ui::UiReply reply;
    if (!engine_.pcall(5, 4)) {
      std::string error = lua_tostring(L, -1);
      lua_pop(L, 1);
      fail(0, r.method + " " + r.path + ": " + error);
      reply.status = 500;
      reply.body = "{\"ok\":false,\"command\":\"ui\",\"data\":null,\"errors\":[\"internal error (see the server's stderr)\"]}";
      return reply;
    }
    reply.status = static_cast<int>(lua_tointeger(L, -4));
    reply.content_type = lua_tostring(L, -3);
    reply.body = lua_tostring(L, -2);
    if (lua_isstring(L, -1)) reply.allow = lua_tostring(L, -1);
    lua_pop(L, 4);
    return reply;
  }

 private:
  lua::Engine& engine_;
  int handle_ = LUA_NOREF, ctx_ = LUA_NOREF;
};

}  // namespace

void add_ui_command(CLI::App& app, UiCommand& c) {
  c.app = app.add_subcommand("ui",
                             "Serve a web page over the store: the board of tasks, runs and their review, presets and "
                             "usage (on 127.0.0.1; see docs/api.md)");
  c.app->add_option("--port", c.port, "The port to listen on (default 4310; 0: any free port)")
      ->type_name("N")
      ->check(CLI::Range(0, 65535));
  c.app->add_flag("--no-open", c.no_open, "Print the URL only; do not open a browser");
  c.app->add_option("--host", c.host,
                    "The address to listen on (default 127.0.0.1). Anything else lets other machines reach the "
                    "page, guarded by its token only: a warning is printed")
      ->type_name("ADDRESS");
  c.app->add_option("--root", c.root, "The .agent folder (default: the nearest .agent in or above the current directory)")
      ->type_name("DIR");
}

int run_ui(lua::Engine& engine, const UiCommand& c) {
  LuaApi api(engine);
  std::vector<std::string> watch;
  std::string error;
  if (!api.start(c.root, watch, error)) return fail(kExitFailure, error);

  ui::UiServerOptions options;
  options.host = c.host;
  options.port = c.port;
  options.token = ui::ui_new_token();
  if (options.token.empty()) return fail(kExitFailure, "cannot read random bytes for the access token (/dev/urandom)");
  options.version = SIDECAR_VERSION;
  options.assets = {{"/", "text/html; charset=utf-8", ui_index_html()},
                    {"/app.js", "text/javascript; charset=utf-8", ui_app_js()},
                    {"/views.js", "text/javascript; charset=utf-8", ui_views_js()},
                    {"/app.css", "text/css; charset=utf-8", ui_app_css()}};
  options.api = [&api](const ui::UiRequest& r) { return api.handle(r); };
  options.watched_files = watch;

  ui::UiServer server(options);
  if (!server.bind(error)) return fail(kExitFailure, error + (c.port != 0 ? " (in use? --port 0 takes any free port)" : ""));
  const bool loopback = c.host == "127.0.0.1" || c.host == "localhost";
  if (!loopback) {
    std::fprintf(stderr, "sidecar ui: warning: listening on %s, not only on this machine: anyone who can reach it "
                 "and has the token can read the store and start runs\n", c.host.c_str());
  }
  const std::string url = "http://" + (loopback ? std::string("127.0.0.1") : c.host) + ":" +
                          std::to_string(server.port()) + "/?token=" + options.token;
  std::printf("%s\n", url.c_str());
  std::fflush(stdout);
  if (!c.no_open) open_browser(url);
  server.run();
  std::fprintf(stderr, "sidecar ui: stopped\n");
  return kExitOk;
}

}  // namespace sidecar::cli
