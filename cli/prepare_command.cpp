#include "prepare_command.hpp"

#include <lua.hpp>

#include "engine.hpp"
#include "version.hpp"

namespace sidecar::cli {

void add_prepare_command(CLI::App& app, PrepareCommand& c) {
  c.app = app.add_subcommand("prepare",
                             "Prepare a sidecar task folder (.agent/sidecars/<id>/: prompt, input manifest, model "
                             "files) and print the agent command to run next");
  CLI::App* p = c.app;
  p->add_option("--repo", c.repo, "The repository the sidecar inspects (default: .)")->type_name("DIR");
  p->add_option("--output-root", c.output_root, "Where task folders go (default: REPO/.agent/sidecars)")
      ->type_name("DIR");
  p->add_option("--task-id", c.task_id, "Task id (default: <UTC stamp>-<slug of title>)")->type_name("ID");
  p->add_option("--title", c.title, "A short title")->type_name("TEXT");
  p->add_option("--phase", c.phase, "Project phase, e.g. tooling, maintenance")->type_name("TEXT");
  p->add_option("--task-type", c.task_type, "e.g. audit, review, scan")->type_name("TEXT");
  p->add_option("--model", c.model, "Model for the launch command (default: gpt-5.3-codex-spark)")->type_name("MODEL");
  p->add_option("--sandbox", c.sandbox, "read-only (default) or workspace-write")->type_name("MODE");
  p->add_option("--preset", c.preset, "A built-in prompt: precommit-classifier, personalization-scanner")
      ->type_name("NAME");
  CLI::Option* prompt = p->add_option("--prompt", c.prompt, "The task instructions")->type_name("TEXT");
  CLI::Option* file = p->add_option("--prompt-file", c.prompt_file, "Read the instructions from FILE")->type_name("FILE");
  prompt->excludes(file);
  p->add_option("--input", c.inputs,
                "What the sidecar may inspect (repeatable): a command (its output is saved), a file, or a glob; "
                "prefix cmd: or path: to say which")
      ->type_name("INPUT")
      ->allow_extra_args(false);
  p->add_flag("--json", c.json, "Print a JSON envelope {ok, version, command, data, errors} instead of text");
}

namespace {

void set_field(lua_State* L, const char* key, const std::string& value) {
  if (value.empty()) return;
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

// The Lua call: require("sidecar_task").cli_prepare(options) -> status.
int call_prepare(lua_State* L) {
  const auto& c = *static_cast<const PrepareCommand*>(lua_touserdata(L, 1));
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sidecar_task");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "cli_prepare");
  lua_createtable(L, 0, 16);
  set_field(L, "repo", c.repo);
  set_field(L, "output_root", c.output_root);
  set_field(L, "task_id", c.task_id);
  set_field(L, "title", c.title);
  set_field(L, "phase", c.phase);
  set_field(L, "task_type", c.task_type);
  set_field(L, "model", c.model);
  set_field(L, "sandbox", c.sandbox);
  set_field(L, "preset", c.preset);
  set_field(L, "prompt", c.prompt);
  set_field(L, "prompt_file", c.prompt_file);
  set_field(L, "version", SIDECAR_VERSION);
  lua_pushboolean(L, c.json);
  lua_setfield(L, -2, "json");
  lua_createtable(L, static_cast<int>(c.inputs.size()), 0);
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    lua_pushlstring(L, c.inputs[i].data(), c.inputs[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "inputs");
  lua_call(L, 1, 1);
  return 1;
}

}  // namespace

bool run_prepare(lua::Engine& engine, const PrepareCommand& command, int& status, std::string& error) {
  lua_State* L = engine.state();
  lua_pushcfunction(L, call_prepare);
  lua_pushlightuserdata(L, const_cast<PrepareCommand*>(&command));
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
