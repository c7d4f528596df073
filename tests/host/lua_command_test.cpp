// The command tables (cli/*_command.cpp) declared on CLI11: what a command line turns into in the
// options table a stdlib function gets, with Lua types; bad numbers stop at the parser.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <lua.hpp>

#include "engine.hpp"
#include "lua_command.hpp"

using sidecar::cli::LuaCommands;
using sidecar::lua::Engine;

namespace {

struct Parsed {
  CLI::App app{"test", "sidecar"};
  LuaCommands commands{app, sidecar::cli::lua_commands()};
  Engine engine;

  explicit Parsed(const std::string& line) {
    app.require_subcommand(0, 1);
    app.parse(line, false);
  }
  // As main() gives them: the words of argv, last first (for an empty word, which a line drops).
  explicit Parsed(std::vector<std::string> reversed) {
    app.require_subcommand(0, 1);
    app.parse(reversed);
  }

  std::string function() const {
    const sidecar::cli::LuaCommand* c = commands.called();
    return c ? std::string(c->module) + "." + c->function : "";
  }

  // Runs `check` with the options table as `o`: true when it returns true.
  bool holds(const std::string& check) {
    lua_State* L = engine.state();
    commands.push_options(L);
    lua_setglobal(L, "o");
    std::string error;
    bool ok = engine.run_string("assert(" + check + ")", "=check", error);
    if (!ok) FAIL_CHECK(check << ": " << error);
    return ok;
  }
};

template <typename Args>
std::string parse_error(const Args& args) {
  try {
    Parsed p(args);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("lua commands: every table declares on CLI11, and each command calls its function") {
  CHECK(Parsed("run T-0001").function() == "sidecar.cli.run.run");
  CHECK(Parsed("run list").function() == "sidecar.cli.run.list");
  CHECK(Parsed("run start-ready").function() == "sidecar.cli.run.start_ready");
  CHECK(Parsed("task set-status T-0001 ready").function() == "sidecar.cli.task.set_status");
  CHECK(Parsed("usage").function() == "sidecar.cli.store.usage");
  CHECK(Parsed("doctor").function() == "sidecar.cli.doctor.cli");
  CHECK(Parsed("prepare").function() == "sidecar.cli.prepare.run");
  CHECK(Parsed("").function().empty());
  CHECK(parse_error("task") == "A subcommand is required");
}

TEST_CASE("lua commands: numbers arrive as integers, defaults included") {
  CHECK(Parsed("run list --limit 7").holds("math.type(o.limit) == 'integer' and o.limit == 7"));
  CHECK(Parsed("run list").holds("math.type(o.limit) == 'integer' and o.limit == 50"));
  CHECK(Parsed("run list --limit -1").holds("o.limit == -1"));  // the range is run.lua's to check
  CHECK(Parsed("run start-ready -j 010").holds("math.type(o.jobs) == 'integer' and o.jobs == 10"));
  CHECK(Parsed("run start-ready").holds("o.jobs == nil"));
  CHECK(Parsed("preset run x --jobs 3").holds("math.type(o.jobs) == 'integer' and o.jobs == 3"));
}

TEST_CASE("lua commands: a value that is not a whole number is a parse error naming the flag") {
  CHECK(parse_error("run start-ready -j ten") == "--jobs: 'ten' is not a whole number");
  CHECK(parse_error("run list --limit 1.5") == "--limit: '1.5' is not a whole number");
  CHECK(parse_error("run list --limit 0x10") == "--limit: '0x10' is not a whole number");
  CHECK(parse_error("run list --limit 99999999999999999999") ==
        "--limit: '99999999999999999999' is not a whole number");
  CHECK(parse_error(std::vector<std::string>{"", "-j", "x", "run", "preset"}) == "--jobs: '' is not a whole number");
}

TEST_CASE("lua commands: texts, flags and lists take their Lua types") {
  Parsed p("task create --title T --tag a --tag b --depends-on T-0001 --json");
  CHECK(p.function() == "sidecar.cli.task.create");
  CHECK(p.holds("o.title == 'T' and o.json == true and o.summary == nil"));
  CHECK(p.holds("#o.tags == 2 and o.tags[1] == 'a' and o.tags[2] == 'b' and o.depends_on[1] == 'T-0001'"));
  CHECK(p.holds("type(o.read) == 'table' and #o.read == 0"));  // a list not given is empty, not nil
  CHECK(Parsed("task list").holds("o.json == false and o.status == nil"));
  CHECK(Parsed("task set-status T-0001 ready").holds("o.id == 'T-0001' and o.status == 'ready'"));
  // --input takes one value each time, so a command with spaces is one input.
  CHECK(Parsed("prepare --input 'git diff' --input b").holds("#o.inputs == 2 and o.inputs[1] == 'git diff'"));
  CHECK(parse_error("prepare --input a b").find("b") != std::string::npos);
  CHECK(Parsed("prepare").holds("o.repo == '.'"));
  CHECK(Parsed("init").holds("o.root == './.agent' and o.force == false"));
  CHECK(Parsed("usage").holds("o.by == 'runner'"));
  CHECK(Parsed("run approve R-0001 --apply").holds("o.apply == true and o.id == 'R-0001'"));
  CHECK(Parsed("run T-0001 --continue").holds("o.continue == true and o.task == 'T-0001'"));
}

TEST_CASE("lua commands: a parent's flag reaches its subcommand unless the subcommand's own is given") {
  CHECK(Parsed("run --json list").holds("o.json == true"));
  CHECK(Parsed("run --root a list --root b").holds("o.root == 'b'"));
  CHECK(Parsed("run --root a list").holds("o.root == 'a'"));
  CHECK(Parsed("run --runner codex list").holds("o.runner == 'codex'"));
}

TEST_CASE("lua commands: exclusive and required flags, and --help from the table") {
  CHECK(parse_error("usage --json --csv") == "--json excludes --csv");
  CHECK(parse_error("trust --show --revoke") == "--show excludes --revoke");
  CHECK(parse_error("prepare --prompt a --prompt-file b") == "--prompt excludes --prompt-file");
  CHECK(parse_error("run block R-0001") == "--reason is required");
  CHECK(parse_error("run show") == "id is required");

  CLI::App app{"test", "sidecar"};
  LuaCommands commands(app, sidecar::cli::lua_commands());
  const std::string list = app.get_subcommand("run")->get_subcommand("list")->help();
  CHECK(list.find("--limit N") != std::string::npos);
  CHECK(list.find("At most N runs; 0: all (default: 50)") != std::string::npos);
  const std::string run = app.get_subcommand("run")->help();
  CHECK(run.find("--background") != std::string::npos);
  CHECK(run.find("--worker") == std::string::npos);  // internal: hidden
  CHECK(run.find("start-ready") != std::string::npos);
}
