// `sidecar run T-0001 …` and `sidecar run list|show|approve|block|review|replay|answer|queue|
// start-ready|tail|watch|send|attach|kill|wait|apply|discard`: runs, handed to stdlib/sidecar/cli/run.lua.
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> run_commands() {
  const char* const m = "sidecar.cli.run";
  const char* const m_send = "sidecar.cli.run_send";  // run send: type on a --pty run's terminal
  const char* const m_attach = "sidecar.cli.run_attach";  // run attach: take the terminal over
  const Flags root_json = {kRootFlag, kJsonFlag};
  const Flags id = {{"id", "id", kText, "R-ID", "The run id", nullptr, kRequired}};
  const Flags id_root_json = id + root_json;
  // Budgets for all the runs one command starts (stdlib/sidecar/agent/budget.lua).
  const Flags budget = {
      {"--budget-tokens", "budget_tokens", kInteger, "N",
       "Stop at N tokens over this command's runs: a run crossing it ends budget_exceeded, no further step starts"},
      {"--budget-usd", "budget_usd", kText, "X", "As --budget-tokens, in US dollars the runners report (2.5)"},
      {"--budget-allow-unknown", "budget_allow_unknown", kBool, "",
       "Under a budget, allow runs whose runner reports no usage (counted as unknown)"},
  };
  // The flags that choose how an agent runs: on `run T-…` and on `run replay`.
  const Flags agent = Flags{
      {"--runner", "runner", kText, "NAME",
       "codex, claude, command or a runner of your own; a comma-separated list (codex,claude) runs a pipeline, one "
       "after another"},
      {"--agent-role", "agent_role", kText, "ROLE", "The agent role, passed into the compiled prompt"},
      {"--model", "model", kText, "MODEL", "The model the runner asks for"},
      {"--effort", "effort", kText, "LEVEL",
       "Reasoning effort, as the runner's CLI takes it: codex minimal, low, medium, high, xhigh (-c "
       "model_reasoning_effort); claude low, medium, high, xhigh, max (--effort)"},
      {"--search", "search", kBool, "", "Let the agent search the web (codex: -c web_search=live)", nullptr, 0,
       "--no-search"},
      {"--no-search", "no_search", kBool, "",
       "No web search (codex: -c web_search=disabled; claude: WebSearch and WebFetch denied)"},
      {"--sandbox", "sandbox", kText, "MODE", "read-only (default), workspace-write, or danger-full-access"},
      {"--allow-full-auto", "allow_full_auto", kBool, "", "Allow danger-full-access (every approval bypassed)"},
      {"--os-sandbox", "os_sandbox", kText, "MODE",
       "auto (the default, or the config's isolation.sandbox): bubblewrap, or Landlock where bubblewrap cannot make "
       "namespaces; bwrap or landlock: that one; off: without one (docs/security.md)"},
      {"--network", "network", kText, "MODE",
       "The agent's network in its OS sandbox: model (its model endpoints and isolation.hosts only; the default), "
       "none, full (every host through Sidecar's proxy, each connection recorded) or host (the host's network, "
       "unrecorded)"},
      {"--timeout", "timeout", kText, "DURATION", "Wall-clock limit for the agent: 90s, 30m (default), 2h"},
      {"--idle-timeout", "idle_timeout", kText, "DURATION", "Stop the agent after this long without output (default 5m)"},
      {"--dry-run", "dry_run", kBool, "", "Compile the prompt and record the run without executing the agent"},
      {"--explain", "explain", kBool, "", "Print how the prompt was fitted to its token budget: what was trimmed and why"},
  } + budget;
  return {
      {"run", "Run a task on an agent (sidecar run T-0001), or inspect and decide on runs", m, "run",
       Flags{{"task", "task", kText, "T-ID", "The task to run"}} + agent +
           Flags{{"--background", "background", kBool, "",
                  "Return at once with the run id; the run goes on after the terminal closes (see run tail, run "
                  "wait, run kill)"},
                 {"--pty", "pty", kBool, "",
                  "Run the agent on a pseudo-terminal: type to it with run send, take it over with run attach; a "
                  "prompt on its screen marks the run waiting_input"},
                 {"--on-stuck", "on_stuck", kText, "POLICY",
                  "With --pty: poke (type Enter once when the run is marked stuck or waiting_input) or none"},
                 {"--executor", "executor", kText, "NAME",
                  "Where the run's worker runs: local (default: the config's executor) or slurm (a batch job; "
                  "see docs/scale.md)"},
                 {"--notify", "notify", kText, "CMD",
                  "With --background: when the run ends, run CMD (by /bin/sh; SIDECAR_RUN, SIDECAR_EVENT, "
                  "SIDECAR_STATUS, SIDECAR_MESSAGE in its environment); auto: the config's notify (its channels, "
                  "when it is a list of them), else notify-send"},
                 {"--continue", "continue", kBool, "",
                  "Continue the agent session of the task's last session run (codex exec resume, claude --resume)"},
                 {"--keep-session", "keep_session", kBool, "",
                  "Keep the agent's session so a later --continue can resume it (first-pass runs are ephemeral)"},
                 {"--prepared", "prepared", kText, "DIR",
                  "Run a folder `sidecar prepare` made (.agent/sidecars/<id>) and fill its output.md, model.json, "
                  "model.md and events"},
                 {"--worker", "worker", kText, "TEXT", "(internal) execute a prepared background run", nullptr,
                  kHidden}} +
           root_json},
      {"run list", "List runs, newest first: an aligned table, or --json", m, "list",
       Flags{{"--task", "task", kText, "T-ID", "Only runs of this task"},
             {"--status", "status", kText, "STATUS", "Only runs with this status"},
             {"--limit", "limit", kInteger, "N", "At most N runs; 0: all", "50"}} +
           root_json},
      {"run show", "One run: prompt, status, lifecycle, validation, changes, usage, lineage", m, "show",
       Flags{{"--raw", "raw", kBool, "",
              "Print what the agent and the task wrote as it is (redacted, but escape sequences not made visible)"}} +
           id_root_json},
      {"run approve", "Approve a run waiting for review (writes decision.md)", m, "approve",
       Flags{{"--note", "note", kText, "TEXT", "Why: the decision's rationale"},
             {"--decision", "decision", kText, "TEXT", "accept (default) or \"partially accept\""},
             {"--apply", "apply", kBool, "", "Then apply the run's change to your work tree (see run apply)"}} +
           id_root_json},
      {"run block", "Block a run: the task is blocked with the reason (writes decision.md)", m, "block",
       Flags{{"--reason", "reason", kText, "TEXT", "What is wrong (required)", nullptr, kRequired},
             {"--decision", "decision", kText, "TEXT", "reject (default) or escalate"}} +
           id_root_json},
      {"run review", "The runs waiting for a decision, oldest first", m, "review", root_json},
      {"run replay", "A new run of the same task, linked to this one", m, "replay",
       agent +
           Flags{{"--reason", "reason", kText, "TEXT", "Why: stored on the new run as replay_reason"},
                 {"--same-prompt", "same_prompt", kBool, "", "Reuse the stored prompt byte for byte (default: recompile)"},
                 {"--edit-prompt", "edit_prompt", kBool, "", "Open the prompt in $VISUAL or $EDITOR before the run"},
                 {"--background", "background", kBool, "",
                  "Return at once with the new run id; a worker runs it (see run tail, run wait, run kill)"}} +
           id_root_json},
      {"run answer",
       "Answer the question or blocker a run ended with: in its agent session when it kept one, linked to it", m,
       "answer",
       id + Flags{{"answer", "answer", kText, "TEXT", "The answer (or - to read it from stdin)", nullptr, kRequired},
             {"--model", "model", kText, "MODEL", "The model the runner asks for (default: the answered run's)"},
             {"--timeout", "timeout", kText, "DURATION", "Wall-clock limit for the agent: 90s, 30m (default), 2h"},
             {"--idle-timeout", "idle_timeout", kText, "DURATION",
              "Stop the agent after this long without output (default 5m)"},
             {"--dry-run", "dry_run", kBool, "", "Record the answering run without executing the agent"}} +
           root_json},
      {"run queue", "Ready tasks whose dependencies are done; the others with why they wait", m, "queue", root_json},
      {"run start-ready", "Run every ready task, N at a time, until none is ready", m, "start_ready",
       Flags{{"-j,--jobs", "jobs", kInteger, "N", "Runs at a time (default: the config's queue.jobs, else 2)"},
             {"--dry-run", "dry_run", kBool, "", "Record each ready task's run without executing it"},
             {"--runner", "runner", kText, "NAME", "The runner for every task (default: each task's own)"},
             {"--executor", "executor", kText, "NAME",
              "Where each run's worker runs: local or slurm (default: the config's executor)"}} +
           budget + root_json},
      {"run tail", "Print a run's log (its events); -f follows it until the run ends", m, "tail",
       Flags{{"-f,--follow", "follow", kBool, "", "Keep printing as the run goes on, until it ends"},
             {"--raw", "raw", kBool, "",
              "Print the log as it is (redacted, but escape sequences not made visible: they reach your terminal)"}} +
           id_root_json},
      {"run watch", "A live list of the active runs, what needs attention, and the runs that end meanwhile",
       "sidecar.cli.run_watch", "watch",
       Flags{{"--interval", "interval", kText, "DURATION", "How often the list is read: 2s (default), 500ms"},
             {"--until-idle", "until_idle", kBool, "", "End (exit 0) once no run is active"},
             {"--once", "once", kBool, "", "Print the list once and end"}} +
           root_json},
      {"run send", "Type on the terminal of a run started with --pty: TEXT then Enter, or one --key", m_send, "send",
       id + Flags{{"text", "text", kText, "TEXT", "What to type (followed by Enter unless --no-enter)"},
                  {"--key", "key", kText, "NAME",
                   "One key instead: enter, tab, esc, space, backspace, up, down, left, right, ctrl-c, ctrl-d, ctrl-z, "
                   "y, n"},
                  {"--no-enter", "no_enter", kBool, "", "Type TEXT without Enter after it"}} +
           root_json},
      {"run attach",
       "Take over the terminal of a run started with --pty: see its screen, type to it; Ctrl-] detaches (the run "
       "goes on)",
       m_attach, "attach", id + Flags{kRootFlag}},
      {"run kill",
       "Stop a running run, foreground or background, and every process of it (recorded as interrupted)", m, "kill",
       id_root_json},
      {"run wait", "Wait for a run to end; exit 0 when it ended in review or completed", m, "wait",
       Flags{{"--timeout", "timeout", kText, "DURATION", "Give up after this long (exit 1): 90s, 10m"}} + id_root_json},
      {"run apply",
       "Apply a writing run's change to your work tree: three-way, unstaged; on a conflict nothing changes", m,
       "apply", id_root_json},
      {"run discard", "Drop a writing run's change: its branch goes, changes.patch stays", m, "discard",
       id_root_json},
  };
}

}  // namespace sidecar::cli
