// `sidecar prepare`: the sidecar-task-runner skill's flags, handed to stdlib/sidecar/cli/prepare.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> prepare_commands() {
  return {{"prepare",
           "Prepare a sidecar task folder (.agent/sidecars/<id>/: prompt, input manifest, model files) and print the "
           "agent command to run next",
           "sidecar.cli.prepare", "run",
           {{"--repo", "repo", kText, "DIR", "The repository the sidecar inspects", "."},
            {"--output-root", "output_root", kText, "DIR", "Where task folders go (default: REPO/.agent/sidecars)"},
            {"--task-id", "task_id", kText, "ID", "Task id (default: <UTC stamp>-<slug of title>)"},
            {"--title", "title", kText, "TEXT", "A short title"},
            {"--phase", "phase", kText, "TEXT", "Project phase, e.g. tooling, maintenance"},
            {"--task-type", "task_type", kText, "TEXT", "e.g. audit, review, scan"},
            {"--model", "model", kText, "MODEL", "Model for the launch command (default: gpt-5.3-codex-spark)"},
            {"--sandbox", "sandbox", kText, "MODE", "read-only (default) or workspace-write"},
            {"--preset", "preset", kText, "NAME", "A built-in prompt: precommit-classifier, personalization-scanner"},
            {"--prompt", "prompt", kText, "TEXT", "The task instructions", nullptr, 0, "--prompt-file"},
            {"--prompt-file", "prompt_file", kText, "FILE", "Read the instructions from FILE"},
            {"--input", "inputs", kList, "INPUT",
             "What the sidecar may inspect (repeatable): a command (its output is saved), a file, or a glob; prefix "
             "cmd: or path: to say which",
             nullptr, kOneValue},
            {"--json", "json", kBool, "",
             "Print a JSON envelope {ok, version, command, data, errors} instead of text"}}}};
}

}  // namespace sidecar::cli
