#include "prepare_command.hpp"


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

LuaOptions prepare_options(const PrepareCommand& c) {
  return {{"repo", c.repo},           {"output_root", c.output_root}, {"task_id", c.task_id},
          {"title", c.title},         {"phase", c.phase},             {"task_type", c.task_type},
          {"model", c.model},         {"sandbox", c.sandbox},         {"preset", c.preset},
          {"prompt", c.prompt},       {"prompt_file", c.prompt_file}, {"json", c.json},
          {"inputs", c.inputs}};
}

}  // namespace sidecar::cli
