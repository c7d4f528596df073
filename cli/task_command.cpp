#include "task_command.hpp"

namespace sidecar::cli {
namespace {

const char* const kRootHelp = "The .agent folder (default: the nearest .agent in or above the current directory)";
const char* const kJsonHelp = "Print a JSON envelope {ok, version, command, data, errors}";

}  // namespace

void add_task_commands(CLI::App& app, TaskCommands& c) {
  c.task = app.add_subcommand("task", "Task packets: create, list, show, import, export, set-status");
  c.task->require_subcommand(1);

  c.create = c.task->add_subcommand("create", "Create a task packet (T-0001, ...) in the store");
  c.create->add_option("--title", c.title, "Short title (required)")->required()->type_name("TEXT");
  c.create->add_option("--summary", c.summary, "What the task is about")->type_name("TEXT");
  c.create->add_option("--goal", c.goal, "What done looks like")->type_name("TEXT");
  c.create->add_option("--type", c.type, "feature (default), bug, chore or research")->type_name("TYPE");
  c.create->add_option("--priority", c.priority, "low, medium (default), high or urgent")->type_name("P");
  c.create->add_option("--status", c.status, "draft (default) or ready (ready tasks join `run queue`)")
      ->type_name("STATUS");
  c.create->add_option("--validate-cmds", c.validate_cmds,
                       "Validation after each run, comma separated: \"typecheck:tsc --noEmit,test@30s:npm test\" "
                       "(kinds typecheck, lint, test, build, custom; no prefix: custom)")
      ->type_name("LIST");
  c.create->add_option("--read", c.read, "A file the agent should read first (repeatable)")->type_name("FILE");
  c.create->add_option("--avoid", c.avoid, "A file the agent must not change (repeatable)")->type_name("FILE");
  c.create->add_option("--depends-on", c.depends_on, "A task that must be done first (repeatable)")
      ->type_name("T-ID");
  c.create->add_option("--tag", c.tags, "A tag (repeatable)")->type_name("TAG");
  c.create->add_option("--done-when", c.done_when, "A definition-of-done item (repeatable)")->type_name("TEXT");
  c.create->add_option("--agent-role", c.role, "The agent role runs of this task take by default")
      ->type_name("ROLE");
  c.create->add_option("--runner", c.runner, "The runner runs of this task use by default")->type_name("NAME");

  c.list = c.task->add_subcommand("list", "List tasks, newest first");
  c.list->add_option("--status", c.status, "Only tasks with this status")->type_name("STATUS");

  c.show = c.task->add_subcommand("show", "Show one task and its runs");
  c.show->add_option("id", c.id, "The task id")->required()->type_name("T-ID");

  c.import = c.task->add_subcommand("import", "Import a task packet (JSON, version 1.0); strict: unknown fields are errors");
  c.import->add_option("file", c.file, "The packet file (- reads standard input)")->required()->type_name("FILE");

  c.export_ = c.task->add_subcommand("export", "Print a task as a task packet (JSON)");
  c.export_->add_option("id", c.id, "The task id")->required()->type_name("T-ID");
  c.export_->add_option("-o,--output", c.output, "Write the packet to FILE (atomically) instead of stdout")
      ->type_name("FILE");

  c.set_status = c.task->add_subcommand("set-status", "Set a task's status");
  c.set_status->add_option("id", c.id, "The task id")->required()->type_name("T-ID");
  c.set_status->add_option("status", c.status, "draft, ready, queued, running, review, blocked or done")
      ->required()
      ->type_name("STATUS");

  for (CLI::App* sub : {c.create, c.list, c.show, c.import, c.export_, c.set_status}) {
    sub->add_option("--root", c.root, kRootHelp)->type_name("DIR");
    sub->add_flag("--json", c.json, kJsonHelp);
  }
}

bool task_command_call(const TaskCommands& c, const char*& function, LuaOptions& options) {
  if (c.create->parsed()) function = "create";
  else if (c.list->parsed()) function = "list";
  else if (c.show->parsed()) function = "show";
  else if (c.import->parsed()) function = "import";
  else if (c.export_->parsed()) function = "export";
  else if (c.set_status->parsed()) function = "set_status";
  else return false;
  options = {{"root", c.root},         {"id", c.id},           {"file", c.file},
             {"output", c.output},     {"status", c.status},   {"title", c.title},
             {"summary", c.summary},   {"goal", c.goal},       {"type", c.type},
             {"priority", c.priority}, {"validate_cmds", c.validate_cmds}, {"agent_role", c.role},
             {"runner", c.runner},     {"read", c.read},       {"avoid", c.avoid},
             {"depends_on", c.depends_on}, {"tags", c.tags},   {"done_when", c.done_when},
             {"json", c.json}};
  return true;
}

}  // namespace sidecar::cli
