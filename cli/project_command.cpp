// `sidecar init`, `sidecar capabilities`, `sidecar completion`, `sidecar doctor`, `sidecar notify` and `sidecar otel`: a project's .agent folder, what this
// Sidecar can do and whether the agent CLIs it runs are fit, handed to stdlib/sidecar/cli/project.lua
// and stdlib/sidecar/cli/doctor.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> project_commands() {
  return {
      {"init", "Create .agent/ here: the store, a commented config.lua of defaults, and a .gitignore entry",
       "sidecar.cli.project", "init",
       {{"--root", "root", kText, "DIR", "The .agent folder to create", "./.agent"},
        {"--force", "force", kBool, "", "Write config.lua again with the defaults, even when one exists"},
        kJsonFlag}},
      {"capabilities", "The features this Sidecar has and its contract version", "sidecar.cli.project",
       "capabilities", {kJsonFlag}},
      {"completion",
       "Print a shell completion script (commands, subcommands, flags): source <(sidecar completion bash), "
       "source <(sidecar completion zsh), sidecar completion fish | source",
       "sidecar.cli.completion", "print",
       {{"shell", "shell", kText, "SHELL", "bash, zsh or fish", nullptr, kRequired}, kJsonFlag}},
  };
}

std::vector<LuaCommand> doctor_commands() {
  return {{"doctor",
           "Check each runner as a run starts it (the project's program wrapper, args and env, and the runners "
           "config.lua defines): found, its version, the flags Sidecar relies on, and what to fix if not; "
           "the OS sandbox; and the agents at once (max_agents): who holds the slots, who waits (docs/scale.md)",
           "sidecar.cli.doctor", "cli",
           {kRootFlag, kJsonFlag,
            {"--executor", "executor", kText, "NAME",
             "slurm: check the Slurm client commands, and from a node (a probe job) the shared folder, sidecar "
             "and the agent CLIs"}}},
          {"notify",
           "Send a test notification to each channel of notify in .agent/config.lua (webhook, ntfy, desktop, "
           "command) and say what each answered (docs/notifications.md)",
           "sidecar.cli.notify", "cli",
           {{"--test", "test", kBool, "", "Send the test notification now (required: without it, nothing is sent)"},
            {"--event", "event", kText, "EVENT",
             "The event the test is: review, needs_input, budget, failed, blocked, unknown, stopped or completed",
             "review"},
            {"--deliver", "deliver", kText, "FILE", "Send one queued notification (Sidecar starts this)", nullptr,
             kHidden},
            kRootFlag, kJsonFlag}},
          {"otel",
           "Show where runs' OpenTelemetry goes (otel in .agent/config.lua, the OTEL_EXPORTER_OTLP_* variables), or "
           "send a test span and metric to each endpoint (docs/telemetry.md)",
           "sidecar.cli.otel", "cli",
           {{"--test", "test", kBool, "", "Send a test span and metric point now and say what each endpoint answered"},
            {"--deliver", "deliver", kText, "FILE", "Send one queued export (Sidecar starts this)", nullptr, kHidden},
            kRootFlag, kJsonFlag}}};
}

}  // namespace sidecar::cli
