#include "repl.hpp"

#include <cstdio>
#include <string>
#include <unistd.h>

#include <lua.hpp>

#include "engine.hpp"
#include "repl_input.hpp"
#include "signals.hpp"
#include "util/version.hpp"
#include "util/xdg.hpp"

namespace sidecar::cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class Repl {
 public:
  explicit Repl(lua::Engine& engine)
      : engine_(engine),
        L_(engine.state()),
        interactive_(isatty(STDIN_FILENO) != 0),
        reader_(interactive_, history_file(), [this](const std::string& word) { return complete(word); }) {}

  int run() {
    if (interactive_) {
      std::printf("Sidecar %s (%s) - Ctrl-D exits, Ctrl-C interrupts\n", SIDECAR_VERSION, LUA_RELEASE);
      std::fflush(stdout);
    }
    if (!require_repl_module()) return 1;
    for (;;) {
      std::string chunk;
      LineReader::Status status = read_chunk(chunk);
      if (status == LineReader::Status::Eof) break;
      if (status == LineReader::Status::Interrupted) {
        if (!interactive_) return 130;
        continue;
      }
      if (!chunk.empty()) execute_top();
    }
    if (!reader_.history_problem().empty())
      std::fprintf(stderr, "sidecar: history not saved: %s\n", reader_.history_problem().c_str());
    return (!interactive_ && failures_ > 0) ? 1 : 0;
  }

 private:
  static std::string history_file() {
    std::string dir = xdg::state_dir();
    return dir.empty() ? "" : dir + "/repl_history";
  }

  // The REPL module and its globals: the public modules under their short names (json, proc,
  // inspect, ...: stdlib/sidecar/init.lua lists them), sidecar, help and progress
  // (stdlib/sidecar/dev/repl.lua); require is left to the user's modules.
  bool require_repl_module() {
    std::string error;
    if (!engine_.run_string("require('sidecar.dev.repl').install(_G)", "=(repl)", error) ||
        !engine_.require("sidecar.dev.repl", error)) {
      fail(error);
      return false;
    }
    repl_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
    return true;
  }

  // Reads one complete chunk, leaving it compiled on the stack (or nothing, after a syntax error
  // that was reported). `chunk` receives the source as typed, for the history.
  LineReader::Status read_chunk(std::string& chunk) {
    std::string line;
    LineReader::Status status = reader_.read("> ", line);
    if (status != LineReader::Status::Line) return status;
    const std::string typed = line;
    if (!line.empty() && line[0] == '=') line = "return " + line.substr(1);  // Lua 5.1's "=expr"
    chunk = line;

    std::string error;
    // An expression first, so "1+1" prints 2; then as statements.
    if (engine_.load_string("return " + chunk + ";", "=stdin", error)) {
      reader_.remember(typed);
      return LineReader::Status::Line;
    }
    for (;;) {
      if (engine_.load_string(chunk, "=stdin", error)) break;
      if (!ends_with(error, "<eof>")) {  // a real syntax error, not just unfinished input
        reader_.remember(chunk);
        fail(error);
        chunk.clear();
        return LineReader::Status::Line;
      }
      status = reader_.read(">> ", line);
      if (status == LineReader::Status::Interrupted) {
        chunk.clear();
        return status;
      }
      if (status == LineReader::Status::Eof) {  // input ended inside a statement
        fail(error);
        chunk.clear();
        return LineReader::Status::Line;
      }
      chunk += "\n" + line;
    }
    reader_.remember(chunk);
    return LineReader::Status::Line;
  }

  // Runs the compiled chunk on top of the stack and prints what it returned.
  void execute_top() {
    const int base = lua_gettop(L_) - 1;
    bool ok;
    take_interrupt();  // a Ctrl-C before this chunk is not its
    {
      LuaInterruptScope interruptible(engine_);
      ok = engine_.pcall(0, LUA_MULTRET);
    }
    const bool interrupted = take_interrupt();
    if (!ok) {
      const char* msg = lua_tostring(L_, -1);
      const std::string error = msg ? msg : "";
      if (interrupted || is_interruption(error)) {
        lua_pop(L_, 1);
        report_interruption(error);
      } else {
        report();
      }
      return;
    }
    const int n = lua_gettop(L_) - base;
    if (n == 0) return;
    lua_rawgeti(L_, LUA_REGISTRYINDEX, repl_ref_);
    lua_getfield(L_, -1, "format_results");
    lua_remove(L_, -2);
    lua_insert(L_, base + 1);
    lua_pushinteger(L_, n);
    lua_insert(L_, base + 2);
    if (!engine_.pcall(n + 1, 1)) {
      report();
      return;
    }
    if (const char* text = lua_tostring(L_, -1)) {
      std::fputs(text, stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    }
    lua_settop(L_, base);
  }

  std::vector<std::string> complete(const std::string& word) {
    std::vector<std::string> out;
    const int base = lua_gettop(L_);
    lua_rawgeti(L_, LUA_REGISTRYINDEX, repl_ref_);
    lua_getfield(L_, -1, "complete");
    lua_remove(L_, -2);
    lua_pushlstring(L_, word.data(), word.size());
    if (engine_.pcall(1, 1) && lua_istable(L_, -1)) {
      lua_Integer n = luaL_len(L_, -1);
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L_, -1, i);
        if (const char* s = lua_tostring(L_, -1)) out.emplace_back(s);
        lua_pop(L_, 1);
      }
    }
    lua_settop(L_, base);
    return out;
  }

  // An interruption says what it stopped, in one line: no traceback, nor where Lua was
  // ("interrupted (stopped 1 child process; run R-0001 recorded interrupted)").
  void report_interruption(const std::string& error) {
    const std::string text = interruption_text(error);
    const std::size_t at = text.find("interrupted!");
    std::string rest = at == std::string::npos ? std::string() : text.substr(at + 12);
    while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    fail(rest.empty() ? "interrupted" : "interrupted (" + rest + ")");
  }

  // Prints the error on top of the stack (message and traceback) and pops it.
  void report() {
    const char* msg = lua_tostring(L_, -1);
    fail(msg ? msg : "(error without a message)");
    lua_pop(L_, 1);
  }

  void fail(const std::string& message) {
    ++failures_;
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
  }

  lua::Engine& engine_;
  lua_State* L_;
  bool interactive_;
  LineReader reader_;
  int repl_ref_ = LUA_NOREF;
  int failures_ = 0;
};

}  // namespace

int run_repl(lua::Engine& engine) { return Repl(engine).run(); }

}  // namespace sidecar::cli
