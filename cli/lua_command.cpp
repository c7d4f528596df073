#include "lua_command.hpp"

#include <charconv>
#include <iterator>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <lua.hpp>

#include "engine.hpp"
#include "util/version.hpp"

namespace sidecar::cli {
namespace {

// A kInteger value: a whole number in decimal, as a user writes it (no 0x, no 010 as octal).
bool whole_number(const std::string& text, long long& n) {
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, n);
  return !text.empty() && ec == std::errc() && stop == end;
}

// CLI11 checks a kInteger flag as it parses, so a bad value is a usage error naming the flag
// ("--limit: 'ten' is not a whole number"); the description is empty so --help stays as it is.
CLI::Validator whole_number_check() {
  return CLI::Validator(
      [](std::string& text) {
        long long n = 0;
        return whole_number(text, n) ? std::string() : "'" + text + "' is not a whole number";
      },
      "", "");
}

// A kText value given empty (`--event ""`, `run show ""`, an unset shell variable) is a usage error
// naming the flag or argument: taken as not given, it silently meant the default.
CLI::Validator non_empty_check(const Flag& f) {
  const std::string why = std::string("an empty value; give ") + (*f.value ? f.value : "one") +
                          (f.names[0] == '-' ? ", or leave the flag out" : "");
  return CLI::Validator([why](std::string& text) { return text.empty() ? why : std::string(); }, "", "");
}

void push_scalar(lua_State* L, FlagType type, const std::string& text) {
  long long n = 0;
  if (type == kInteger && whole_number(text, n)) {
    lua_pushinteger(L, static_cast<lua_Integer>(n));
  } else {
    lua_pushlstring(L, text.data(), text.size());
  }
}

void push_list(lua_State* L, const std::vector<std::string>& list) {
  lua_createtable(L, static_cast<int>(list.size()), 0);
  for (std::size_t i = 0; i < list.size(); ++i) {
    lua_pushlstring(L, list[i].data(), list[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
}

// True when the table on top of the stack has no field `key` yet.
bool unset(lua_State* L, const char* key) {
  bool none = lua_getfield(L, -1, key) == LUA_TNIL;
  lua_pop(L, 1);
  return none;
}

}  // namespace

Flags operator+(Flags a, const Flags& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<LuaCommand> lua_commands() {
  std::vector<LuaCommand> all;
  for (auto* table : {prepare_commands, project_commands, task_commands, run_commands, preset_commands,
                      store_commands, trust_commands, doctor_commands, hooks_commands, agent_commands}) {
    std::vector<LuaCommand> some = table();
    all.insert(all.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return all;
}

// What the parser found for one flag: the member its type uses.
struct Value {
  std::string text;
  std::vector<std::string> list;
  bool on = false;
};

struct LuaCommands::Declared {
  CLI::App* app = nullptr;
  int parent = -1;            // index in declared_; -1: a command of `sidecar` itself
  std::vector<Value> values;  // one per flag; sized once, as CLI11 holds references into it
};

namespace {

CLI::Option* add_flag(CLI::App& app, const Flag& f, Value& v) {
  std::string help = f.help;
  if (f.fallback) help += std::string(" (default: ") + f.fallback + ")";
  CLI::Option* o = nullptr;
  if (f.type == kBool) {
    o = app.add_flag(f.names, v.on, help);
  } else if (f.type == kList) {
    o = app.add_option(f.names, v.list, help);
    if (f.mods & kOneValue) o->allow_extra_args(false);
  } else {
    o = app.add_option(f.names, v.text, help);
    o->check(f.type == kInteger ? whole_number_check() : non_empty_check(f));
  }
  if (*f.value) o->type_name(f.value);
  if (f.mods & kRequired) o->required();
  if (f.mods & kHidden) o->group("");
  return o;
}

}  // namespace

LuaCommands::LuaCommands(CLI::App& app, std::vector<LuaCommand> table) : table_(std::move(table)) {
  for (const LuaCommand& c : table_) {
    auto d = std::make_unique<Declared>();
    const std::string path = c.path;
    const std::size_t space = path.rfind(' ');
    CLI::App* parent = &app;
    if (space != std::string::npos) {
      for (std::size_t i = 0; i < declared_.size(); ++i) {
        if (path.compare(0, space, table_[i].path) == 0) d->parent = static_cast<int>(i);
      }
      if (d->parent < 0) throw std::logic_error(path + ": its parent command is not declared before it");
      parent = declared_[static_cast<std::size_t>(d->parent)]->app;
      // A parent that works on its own (`run T-0001`) takes at most one subcommand.
      if (table_[static_cast<std::size_t>(d->parent)].function) parent->require_subcommand(0, 1);
    }
    d->app = parent->add_subcommand(path.substr(space == std::string::npos ? 0 : space + 1), c.help);
    if (!c.function) d->app->require_subcommand(1);
    d->values.resize(c.flags.size());
    std::vector<CLI::Option*> options;
    for (std::size_t i = 0; i < c.flags.size(); ++i) options.push_back(add_flag(*d->app, c.flags[i], d->values[i]));
    for (std::size_t i = 0; i < c.flags.size(); ++i) {
      if (c.flags[i].excludes) options[i]->excludes(d->app->get_option(c.flags[i].excludes));
    }
    declared_.push_back(std::move(d));
  }
}

LuaCommands::~LuaCommands() = default;

bool LuaCommands::parsed(const char* path) const {
  for (std::size_t i = 0; i < table_.size(); ++i) {
    if (std::string(table_[i].path) == path) return declared_[i]->app->parsed();
  }
  return false;
}

const LuaCommand* LuaCommands::called() const {
  const LuaCommand* found = nullptr;
  for (std::size_t i = 0; i < table_.size(); ++i) {
    if (table_[i].function && declared_[i]->app->parsed()) found = &table_[i];  // a subcommand comes after its parent
  }
  return found;
}

void LuaCommands::push_options(lua_State* L) const {
  const auto leaf = static_cast<int>(called() - table_.data());
  lua_createtable(L, 0, static_cast<int>(table_[static_cast<std::size_t>(leaf)].flags.size()) + 1);
  // What was given: the command's own flags first, then its parents' (`run --json list`).
  for (int at = leaf; at >= 0; at = declared_[static_cast<std::size_t>(at)]->parent) {
    const LuaCommand& c = table_[static_cast<std::size_t>(at)];
    const Declared& d = *declared_[static_cast<std::size_t>(at)];
    for (std::size_t i = 0; i < c.flags.size(); ++i) {
      const Flag& f = c.flags[i];
      const Value& v = d.values[i];
      const bool given = f.type == kBool ? v.on : f.type == kList ? !v.list.empty() : !v.text.empty();
      if (!given || !unset(L, f.key)) continue;
      if (f.type == kBool) {
        lua_pushboolean(L, 1);
      } else if (f.type == kList) {
        push_list(L, v.list);
      } else {
        push_scalar(L, f.type, v.text);
      }
      lua_setfield(L, -2, f.key);
    }
  }
  // Then what was not: a default, false, an empty list; a text without a default stays nil.
  for (const Flag& f : table_[static_cast<std::size_t>(leaf)].flags) {
    if (!unset(L, f.key)) continue;
    if (f.type == kBool) {
      lua_pushboolean(L, 0);
    } else if (f.type == kList) {
      lua_createtable(L, 0, 0);
    } else if (f.fallback) {
      push_scalar(L, f.type, f.fallback);
    } else {
      continue;
    }
    lua_setfield(L, -2, f.key);
  }
}

namespace {

struct Call {
  const LuaCommands* commands;
  const LuaCommand* command;
};

// Runs under the engine's pcall: require(module)[function](options) -> status.
int call_command(lua_State* L) {
  const Call& c = *static_cast<const Call*>(lua_touserdata(L, 1));
  // Every command tells, once on stderr, of a repository file it left unrun because it is not
  // trusted (stdlib/sidecar/cli/trust.lua; the library only reports it), and finds no module in the
  // folder it runs in (a cloned repository's ./x.lua must not answer a require).
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sidecar.cli.trust");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "install");
  lua_pushboolean(L, 1);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushstring(L, c.command->module);
  lua_call(L, 1, 1);
  lua_getfield(L, -1, c.command->function);
  c.commands->push_options(L);
  lua_pushstring(L, SIDECAR_VERSION);
  lua_setfield(L, -2, "version");
  lua_call(L, 1, 1);
  return 1;
}

}  // namespace

namespace {

// require("sidecar.cli.declared") -> {{path, help, runs (false: a group), flags = {{names, key,
// type, value, help, required}...}}...}: every command as its table declares it, so what is made
// from the declarations (the skill file for agents) says what the parser takes.
int push_declared(lua_State* L) {
  static const char* const kTypes[] = {"text", "integer", "bool", "list"};
  std::vector<LuaCommand> all = lua_commands();
  lua_createtable(L, static_cast<int>(all.size()), 0);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const LuaCommand& c = all[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, c.path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, c.help);
    lua_setfield(L, -2, "help");
    lua_pushboolean(L, c.function != nullptr);
    lua_setfield(L, -2, "runs");
    lua_createtable(L, static_cast<int>(c.flags.size()), 0);
    for (std::size_t j = 0; j < c.flags.size(); ++j) {
      const Flag& f = c.flags[j];
      lua_createtable(L, 0, 6);
      lua_pushstring(L, f.names);
      lua_setfield(L, -2, "names");
      lua_pushstring(L, f.key);
      lua_setfield(L, -2, "key");
      lua_pushstring(L, kTypes[f.type]);
      lua_setfield(L, -2, "type");
      lua_pushstring(L, f.value);
      lua_setfield(L, -2, "value");
      lua_pushstring(L, f.help);
      lua_setfield(L, -2, "help");
      lua_pushboolean(L, (f.mods & kRequired) != 0);
      lua_setfield(L, -2, "required");
      lua_pushboolean(L, (f.mods & kHidden) != 0);
      lua_setfield(L, -2, "hidden");
      lua_rawseti(L, -2, static_cast<lua_Integer>(j + 1));
    }
    lua_setfield(L, -2, "flags");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

}  // namespace

void register_declared(lua_State* L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, push_declared);
  lua_setfield(L, -2, "sidecar.cli.declared");
  lua_pop(L, 2);
}

bool LuaCommands::call(lua::Engine& engine, int& status, std::string& error) const {
  lua_State* L = engine.state();
  Call c{this, called()};
  lua_pushcfunction(L, call_command);
  lua_pushlightuserdata(L, &c);
  if (!engine.pcall(1, 1)) {
    error = lua_tostring(L, -1);
    lua_pop(L, 1);
    return false;
  }
  status = static_cast<int>(lua_tointeger(L, -1));
  lua_pop(L, 1);
  return true;
}

}  // namespace sidecar::cli
