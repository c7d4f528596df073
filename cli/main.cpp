// sidecar: the command line. Parses arguments (CLI11), then hands each command to the engine.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <lua.hpp>

#include "engine.hpp"
#include "error_envelope.hpp"
#include "flag_suggest.hpp"
#include "lua_command.hpp"
#include "model_server_command.hpp"
#include "repl.hpp"
#include "secrets/secrets.hpp"
#include "signals.hpp"
#include "ui_command.hpp"
#include "util/background_jobs.hpp"
#include "util/utf8.hpp"
#include "util/version.hpp"

namespace fs = std::filesystem;
using sidecar::lua::Engine;

namespace {

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitInterrupted = 130;

// What reaches the terminal is redacted and neutralised: a parse error echoes the argument it could
// not take (`--input "echo KEY=sk-..."`, an escape sequence), and a Lua error may quote a value
// (the engine's own error filter has done this to Lua errors already, with the config's rules;
// this catches the rest).
std::string redacted(const std::string& text) {
  return sidecar::terminal_visible(sidecar::host::Redactor::from_environ().redact(text));
}

// Set when the command line asks for --json: the command's words ("run show"), for the envelope a
// failure prints in place of a message on stderr.
std::string json_command;
bool json_wanted = false;

int report_error(const std::string& message, const char* code = "failed") {
  std::fflush(stdout);
  if (json_wanted) {
    sidecar::cli::print_error_envelope(json_command.empty() ? "sidecar" : json_command, code,
                                       sidecar::host::Redactor::from_environ().redact(message));
    return kExitFailure;
  }
  std::fprintf(stderr, "sidecar: %s\n", redacted(message).c_str());
  return kExitFailure;
}

int usage_error(const std::string& message) {
  if (json_wanted) {
    const std::string help = json_command.empty() ? "sidecar --help" : "sidecar " + json_command + " --help";
    sidecar::cli::print_error_envelope(json_command.empty() ? "sidecar" : json_command, "usage",
                                       sidecar::host::Redactor::from_environ().redact(message) + " (run '" +
                                           help + "' for usage)");
    return kExitUsage;
  }
  std::fprintf(stderr, "sidecar: %s\nRun 'sidecar --help' for usage.\n", redacted(message).c_str());
  return kExitUsage;
}

// Whether a Ctrl-C (or SIGTERM) arrived while the last chunk ran. A library pcall may have caught
// the "interrupted!" it raised and turned it into an ordinary failure; the failure is then the
// interruption's, and is reported as one.
bool last_chunk_interrupted = false;

// 128 + the signal that ended the program (143: SIGTERM; 129: SIGHUP), else Ctrl-C's 130.
int terminated_exit() { return 128 + sidecar::cli::termination_signal(); }
int interrupted_exit() { return sidecar::cli::terminated() ? terminated_exit() : kExitInterrupted; }

// Runs Lua under the Ctrl-C scope and turns its outcome into an exit status.
template <typename Run>
int run_lua(Engine& engine, Run&& run) {
  std::string error;
  bool ok;
  sidecar::cli::take_interrupt();  // a Ctrl-C before this chunk is not its
  {
    sidecar::cli::LuaInterruptScope interruptible(engine);
    ok = run(error);
  }
  last_chunk_interrupted = sidecar::cli::take_interrupt();
  std::fflush(stdout);
  // A SIGTERM the chunk caught (a pcall) and went on from still ends the program, as its own.
  if (ok && !sidecar::cli::terminated()) return kExitOk;
  if (ok || (!sidecar::cli::is_interruption(error) && last_chunk_interrupted)) {
    report_error("interrupted!", "interrupted");
    return interrupted_exit();
  }
  if (!sidecar::cli::is_interruption(error)) return report_error(error, "internal");
  // Ctrl-C or SIGTERM: what was stopped matters, neither the traceback nor where Lua was then.
  const std::string first = sidecar::cli::interruption_text(error);
  report_error(first, "interrupted");
  return interrupted_exit();
}

// Spec files named by `paths`: files as given, directories searched for *_spec.lua.
bool collect_specs(const std::vector<std::string>& paths, std::vector<std::string>& specs, std::string& error) {
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (fs::is_regular_file(st)) {
      specs.push_back(p);
    } else if (fs::is_directory(st)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (it->is_directory() && !name.empty() && name[0] == '.') {
          it.disable_recursion_pending();  // .git and friends
        } else if (it->is_regular_file() && name.size() > 9 && name.compare(name.size() - 9, 9, "_spec.lua") == 0) {
          found.push_back(it->path().string());
        }
      }
      if (ec) {
        error = "cannot read " + p + ": " + ec.message();
        return false;
      }
      std::sort(found.begin(), found.end());
      specs.insert(specs.end(), found.begin(), found.end());
    } else {
      error = "no such file or directory: " + p;
      return false;
    }
  }
  return true;
}

// `script --json`, `test --json`: require(module)[fn]{file, list, filter, verbose, version} -> exit
// status (it prints the envelope): sidecar.cli.json_run's script, sidecar.dev.test_report's tests.
int run_json(Engine& engine, const char* module, const char* fn, const std::string& file,
             const std::vector<std::string>& list, const std::string& filter, bool verbose) {
  lua_State* L = engine.state();
  int status = kExitFailure;
  int lua_status = run_lua(engine, [&](std::string& err) {
    if (!engine.require(module, err)) return false;
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, file.c_str());
    lua_setfield(L, -2, "file");
    lua_createtable(L, static_cast<int>(list.size()), 0);
    for (std::size_t i = 0; i < list.size(); ++i) {
      lua_pushlstring(L, list[i].data(), list[i].size());
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_setfield(L, -2, "list");
    if (!filter.empty()) {
      lua_pushstring(L, filter.c_str());
      lua_setfield(L, -2, "filter");
    }
    lua_pushboolean(L, verbose);
    lua_setfield(L, -2, "verbose");
    lua_pushstring(L, SIDECAR_VERSION);
    lua_setfield(L, -2, "version");
    if (!engine.pcall(1, 1)) {
      err = lua_tostring(L, -1);
      lua_pop(L, 1);
      return false;
    }
    status = static_cast<int>(lua_tointeger(L, -1));
    lua_pop(L, 1);
    return true;
  });
  return lua_status != kExitOk ? lua_status : status;
}

// sidecar test: test.run_files(specs, {filter, verbose}) -> {passed, failed, skipped}
int run_tests(Engine& engine, std::vector<std::string> paths, const std::string& filter, bool verbose, bool json) {
  if (paths.empty()) {
    for (const char* d : {"tests", "spec"})
      if (fs::is_directory(d)) paths.emplace_back(d);
    if (paths.empty()) return usage_error("test: no PATH given and neither ./tests nor ./spec exists");
  }
  std::vector<std::string> specs;
  std::string error;
  if (!collect_specs(paths, specs, error)) return usage_error("test: " + error);
  if (specs.empty()) return report_error("test: no *_spec.lua files found");
  if (json) return run_json(engine, "sidecar.dev.test_report", "tests", "", specs, filter, verbose);

  lua_State* L = engine.state();
  int counts_failed = 0, counts_total = 0;
  int status = run_lua(engine, [&](std::string& err) {
    if (!engine.require("sidecar.dev.test", err)) return false;
    lua_getfield(L, -1, "run_files");
    lua_remove(L, -2);
    lua_createtable(L, static_cast<int>(specs.size()), 0);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      lua_pushstring(L, specs[i].c_str());
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_createtable(L, 0, 2);
    if (!filter.empty()) {
      lua_pushstring(L, filter.c_str());
      lua_setfield(L, -2, "filter");
    }
    lua_pushboolean(L, verbose);
    lua_setfield(L, -2, "verbose");
    if (!engine.pcall(2, 1)) {
      err = lua_tostring(L, -1);
      lua_pop(L, 1);
      return false;
    }
    auto count = [&](const char* field) {
      lua_getfield(L, -1, field);
      int n = static_cast<int>(lua_tointeger(L, -1));
      lua_pop(L, 1);
      return n;
    };
    counts_failed = count("failed");
    counts_total = count("passed") + counts_failed + count("skipped");
    lua_pop(L, 1);
    return true;
  });
  if (status != kExitOk) return status;
  if (counts_total == 0) return report_error("test: no tests ran" + (filter.empty() ? "" : " (filter '" + filter + "')"));
  return counts_failed == 0 ? kExitOk : kExitFailure;
}

// The running binary, which starts Sidecar's other processes (workers, sandbox-init, hooks); empty
// when /proc/self/exe cannot be read.
std::string running_binary() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

}  // namespace

static int sidecar_main(int argc, char** argv) {
  sidecar::cli::install_termination_handler();
  CLI::App app{"Sidecar runs bounded tasks on AI coding-agent CLIs, scripted in Lua.", "sidecar"};
  app.set_version_flag("-V,--version", std::string("sidecar ") + SIDECAR_VERSION + " (" + LUA_RELEASE + ")");
  app.require_subcommand(0, 1);

  std::vector<std::string> code;
  app.add_option("-e", code, "Run Lua CODE (repeatable; runs before any command)")->type_name("CODE")->allow_extra_args(false);

  std::string script_file;
  std::vector<std::string> script_args;  // shown in --help; the real ones are cut off below
  CLI::App* script = app.add_subcommand("script", "Run a Lua script: sidecar script FILE.lua [ARGS...]");
  script->add_option("file", script_file, "The Lua file to run (- reads standard input); `arg` and `...` hold ARGS")->required()->type_name("FILE");
  bool script_json = false;
  script->add_flag("--json", script_json, "Print a JSON envelope {ok, version, command, data, errors} (before FILE): "
                   "what the script returned and printed, or its error");
  script->add_option("args", script_args, "Arguments for the script (everything after FILE, passed as they are)")
      ->type_name("ARGS");

  CLI::App* repl = app.add_subcommand("repl", "Interactive Lua prompt with the stdlib loaded (reads piped input without prompts)");

  std::vector<std::string> test_paths;
  std::string test_filter;
  bool test_verbose = false;
  CLI::App* test = app.add_subcommand("test", "Run Lua spec files (*_spec.lua under each PATH; default ./tests or ./spec)");
  test->add_option("paths", test_paths, "Spec files or directories")->type_name("PATH");
  test->add_option("--filter", test_filter, "Only tests whose full name contains TEXT")->type_name("TEXT");
  test->add_flag("-v,--verbose", test_verbose, "Print every test, not only failures");
  bool test_json = false;
  test->add_flag("--json", test_json, "Print a JSON envelope {ok, version, command, data, errors}: the counts, each failure, "
                 "and what the specs printed");
  test->footer("What a spec file made under a temporary name (os.tmpname, test.temp_dir) is removed, with what it "
               "holds, once that file's tests ran.");

  // Everything after `script FILE` belongs to the script, verbatim and in order, so it is cut
  // off before CLI11 sees it. The first word that is not an option (or -e's value) is the command.
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> script_rest;
  std::string command;
  std::size_t command_at = args.size();
  bool help_before_command = false;
  // --json anywhere before a script's own arguments (its FILE and what follows): every failure
  // answers with the envelope.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-e") {
      ++i;
    } else if (args[i] == "--json") {
      json_wanted = true;
    } else if (args[i] == "script") {
      for (std::size_t j = i + 1; j < args.size() && args[j].size() > 1 && args[j][0] == '-'; ++j)
        json_wanted = json_wanted || args[j] == "--json";
      break;
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-e") {
      ++i;
      continue;
    }
    if (args[i] == "-h" || args[i] == "--help" || args[i] == "--help-all") help_before_command = true;
    if (args[i].empty() || args[i][0] == '-') continue;
    command = json_command = args[i];
    command_at = i;
    static const char* const commands[] = {"init",   "task",    "run",   "preset", "capabilities", "script",
                                           "repl",   "test",    "prepare", "store", "usage",       "doctor",
                                           "model-server", "trust", "hooks", "hook", "session", "skill",
                                           "mcp",    "acp",     "context", "ui",   "completion", "notify",
                                           "otel"};
    if (std::find(std::begin(commands), std::end(commands), command) == std::end(commands)) {
      json_command.clear();
      return usage_error("unknown command '" + command +
                         "' (commands: init, task, run, preset, capabilities, script, repl, test, prepare, store, "
                         "usage, doctor, model-server, trust, hooks, hook, session, skill, mcp, acp, context, ui, "
                         "completion, notify, otel)");
    }
    if (command == "script") {
      std::size_t file = i + 1;
      while (file < args.size() && !args[file].empty() && args[file][0] == '-' && args[file] != "-") ++file;
      if (file < args.size()) {
        script_rest.assign(args.begin() + static_cast<std::ptrdiff_t>(file) + 1, args.end());
        args.resize(file + 1);
      }
    }
    break;
  }

  // prepare, init, capabilities, task, run, preset, store, usage, trust, doctor: their flags and
  // the stdlib function each calls, as their tables declare them (cli/*_command.cpp). Declaring
  // them all costs CLI11 hundreds of options, more than `sidecar -e ''` takes otherwise, so only
  // the named command is declared; all of them when the top-level help may list them.
  const bool declare_all = help_before_command || args.empty();
  std::vector<sidecar::cli::LuaCommand> table = sidecar::cli::lua_commands();
  if (!declare_all) {
    table.erase(std::remove_if(table.begin(), table.end(),
                               [&](const sidecar::cli::LuaCommand& c) {
                                 std::string path = c.path;
                                 return path.substr(0, path.find(' ')) != command;
                               }),
                table.end());
  }
  // The envelope names the subcommand when one is given ("run show"), else the command.
  for (std::size_t j = command_at + 1; j < args.size() && json_command == command; ++j) {
    for (const sidecar::cli::LuaCommand& c : table)
      if (c.path == command + " " + args[j]) json_command = c.path;
  }
  sidecar::cli::LuaCommands commands(app, std::move(table));
  sidecar::cli::ModelServerCommand model_server;
  if (declare_all || command == "model-server") sidecar::cli::add_model_server_command(app, model_server);
  sidecar::cli::UiCommand ui;
  if (declare_all || command == "ui") sidecar::cli::add_ui_command(app, ui);

  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.rfind("-e:", 0) == 0) return usage_error("-e needs Lua code, as in: sidecar -e 'print(1 + 1)'");
    if (what == "file is required") return usage_error("script needs a file: sidecar script FILE.lua [ARGS...]");
    if (what == "A subcommand is required") {
      if (commands.parsed("store")) return usage_error("store needs a subcommand: sidecar store check | sidecar store rebuild");
      if (commands.parsed("preset")) return usage_error("preset needs a subcommand: list, show or run (sidecar preset --help)");
      if (commands.parsed("task")) {
        return usage_error("task needs a subcommand: create, list, show, import, export or set-status (sidecar task --help)");
      }
    }
    if (std::string m = sidecar::cli::misplaced_subcommand(app); !m.empty()) return usage_error(m);
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) return usage_error(sidecar::cli::unexpected_arguments(app));
    return usage_error(what);
  }
  if (std::string m = sidecar::cli::misplaced_subcommand(app); !m.empty()) return usage_error(m);

  if (code.empty() && app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  }

  // Plain C++: no Lua engine needed.
  if (model_server.app && model_server.app->parsed()) return sidecar::cli::run_model_server(model_server);

  try {
    Engine engine;
    engine.process_ends_at_close();
    engine.set_sidecar_binary(running_binary(), "cannot read /proc/self/exe");
    sidecar::cli::register_declared(engine.state());
    // Before anything else runs: every byte printed from Lua passes the redactor from here on.
    // Only a SIDECAR_STDLIB_DIR without the module can make it fail; that is said, not hidden. A
    // Ctrl-C or SIGTERM while it loads stops the command (the pcall would have swallowed it, and
    // the command would have run on as if none came).
    static const char* const kInstall =
        "local ok, terminal = pcall(require, 'sidecar.core.terminal')\n"
        "if not ok and tostring(terminal):find('interrupted!', 1, true) then error(terminal, 0) end\n"
        "if not ok then io.stderr:write('sidecar: warning: output is not redacted: ', "
        "(tostring(terminal):match('^[^\\n]*')), '\\n') return end\n"
        "terminal.install()";
    if (int status = run_lua(engine, [&](std::string& err) { return engine.run_string(kInstall, "=(sidecar)", err); });
        status != kExitOk)
      return status;
    for (const std::string& c : code) {
      int status = run_lua(engine, [&](std::string& err) { return engine.run_string(c, "=(command line)", err); });
      if (status != kExitOk) return status;
    }
    if (script->parsed()) {
      // A script that reads a repository's config or presets is told, once on stderr, of a
      // file it left unrun because it is not trusted (stdlib/sidecar/cli/trust.lua), as commands are.
      if (int status = run_lua(engine, [&](std::string& err) {
            return engine.run_string("require('sidecar.cli.trust').install()", "=(sidecar)", err);
          });
          status != kExitOk)
        return status;
      if (script_json) return run_json(engine, "sidecar.cli.json_run", "script", script_file, script_rest, "", false);
      return run_lua(engine, [&](std::string& err) { return engine.run_file(script_file, script_rest, err); });
    }
    if (repl->parsed()) {
      int status = sidecar::cli::run_repl(engine);
      return sidecar::cli::terminated() ? terminated_exit() : status;
    }
    if (test->parsed()) return run_tests(engine, test_paths, test_filter, test_verbose, test_json);
    if (ui.app && ui.app->parsed()) return sidecar::cli::run_ui(engine, ui);
    // Commands whose work is a stdlib function: require(module)[function](options) -> status.
    if (!commands.called()) return kExitOk;
    int status = kExitFailure;
    int lua_status =
        run_lua(engine, [&](std::string& err) { return commands.call(engine, status, err); });
    if (lua_status == kExitOk && status != kExitOk && last_chunk_interrupted) {
      report_error("interrupted!", "interrupted");  // the command failed because it was interrupted
      return interrupted_exit();
    }
    return lua_status != kExitOk ? lua_status : status;
  } catch (const std::exception& e) {
    return report_error(e.what());
  }
}

// Whether the command is `sidecar hook`: Claude Code waits for it on every tool call, and a hook
// that fails must never break the session it watches, so it exits 0 whatever happened.
static bool hook_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return std::string(argv[i]) == "hook";
    if (std::string(argv[i]) == "-e") ++i;
  }
  return false;
}

namespace sidecar::cli {
int sandbox_init_main(int argc, char** argv, int first);  // cli/sandbox_init_command.cpp
}

int main(int argc, char** argv) {
  // The first process inside a run's sandbox: plain C++, before any parsing or Lua.
  if (argc >= 2 && std::string(argv[1]) == "sandbox-init") return sidecar::cli::sandbox_init_main(argc, argv, 2);
  int status = sidecar_main(argc, argv);
  if (hook_command(argc, argv)) status = 0;
  sidecar::host::wait_for_background_jobs();  // a load of libgit2 or a snapshot ends first
  return status;
}
