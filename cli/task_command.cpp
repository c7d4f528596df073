// `sidecar task create|list|show|import|export|set-status`: task packets, handed to
// stdlib/sidecar/cli/task.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> task_commands() {
  const char* const m = "sidecar.cli.task";
  const Flags root_json = {kRootFlag, kJsonFlag};
  const Flags id = {{"id", "id", kText, "T-ID", "The task id", nullptr, kRequired}};
  return {
      {"task", "Task packets: create, list, show, import, export, set-status", m, nullptr, {}},
      {"task create", "Create a task packet (T-0001, ...) in the store", m, "create",
       Flags{{"--title", "title", kText, "TEXT", "Short title (required)", nullptr, kRequired},
             {"--summary", "summary", kText, "TEXT", "What the task is about"},
             {"--goal", "goal", kText, "TEXT", "What done looks like"},
             {"--type", "type", kText, "TYPE", "feature (default), bug, chore or research"},
             {"--priority", "priority", kText, "P", "low, medium (default), high or urgent"},
             {"--status", "status", kText, "STATUS", "draft (default) or ready (ready tasks join `run queue`)"},
             {"--validate-cmds", "validate_cmds", kText, "LIST",
              "Validation after each run, comma separated: \"typecheck:tsc --noEmit,test@30s:npm test\" (kinds "
              "typecheck, lint, test, build, custom; no prefix: custom)"},
             {"--read", "read", kList, "FILE", "A file the agent should read first (repeatable)"},
             {"--avoid", "avoid", kList, "FILE", "A file the agent must not change (repeatable)"},
             {"--depends-on", "depends_on", kList, "T-ID", "A task that must be done first (repeatable)"},
             {"--tag", "tags", kList, "TAG", "A tag (repeatable)"},
             {"--done-when", "done_when", kList, "TEXT", "A definition-of-done item (repeatable)"},
             {"--agent-role", "agent_role", kText, "ROLE", "The agent role runs of this task take by default"},
             {"--runner", "runner", kText, "NAME", "The runner runs of this task use by default"}} +
           root_json},
      {"task list", "List tasks, newest first", m, "list",
       Flags{{"--status", "status", kText, "STATUS", "Only tasks with this status"}} + root_json},
      {"task show", "Show one task and its runs", m, "show", id + root_json},
      {"task import", "Import a task packet (JSON, version 1.0); strict: unknown fields are errors", m, "import",
       Flags{{"file", "file", kText, "FILE", "The packet file (- reads standard input)", nullptr, kRequired}} +
           root_json},
      {"task export", "Print a task as a task packet (JSON)", m, "export",
       id + Flags{{"-o,--output", "output", kText, "FILE", "Write the packet to FILE (atomically) instead of stdout"}} +
           root_json},
      {"task set-status", "Set a task's status", m, "set_status",
       id +
           Flags{{"status", "status", kText, "STATUS", "draft, ready, queued, running, review, blocked or done", nullptr,
                  kRequired}} +
           root_json},
  };
}

}  // namespace sidecar::cli
