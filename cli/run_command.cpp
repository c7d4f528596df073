#include "run_command.hpp"

namespace sidecar::cli {
namespace {

const char* const kRootHelp = "The .agent folder (default: the nearest .agent in or above the current directory)";
const char* const kJsonHelp = "Print a JSON envelope {ok, version, command, data, errors}";

// The flags that choose how an agent runs: on `run T-…` and on `run replay`.
void add_agent_flags(CLI::App* app, RunCommands& c) {
  app->add_option("--runner", c.runner,
                  "codex, claude, command or a runner of your own; a comma-separated list (codex,claude) runs a "
                  "pipeline, one after another")
      ->type_name("NAME");
  app->add_option("--agent-role", c.role, "The agent role, passed into the compiled prompt")->type_name("ROLE");
  app->add_option("--model", c.model, "The model the runner asks for")->type_name("MODEL");
  app->add_option("--sandbox", c.sandbox, "read-only (default), workspace-write, or danger-full-access")
      ->type_name("MODE");
  app->add_flag("--allow-full-auto", c.allow_full_auto, "Allow danger-full-access (every approval bypassed)");
  app->add_option("--timeout", c.timeout, "Wall-clock limit for the agent: 90s, 30m (default), 2h")
      ->type_name("DURATION");
  app->add_option("--idle-timeout", c.idle_timeout, "Stop the agent after this long without output (default 5m)")
      ->type_name("DURATION");
  app->add_flag("--dry-run", c.dry_run, "Compile the prompt and record the run without executing the agent");
  app->add_flag("--explain", c.explain, "Print how the prompt was fitted to its token budget: what was trimmed and why");
}

}  // namespace

void add_run_commands(CLI::App& app, RunCommands& c) {
  c.run = app.add_subcommand("run", "Run a task on an agent (sidecar run T-0001), or inspect and decide on runs");
  c.run->require_subcommand(0, 1);
  c.run->add_option("task", c.task, "The task to run")->type_name("T-ID");
  add_agent_flags(c.run, c);
  c.run->add_flag("--background", c.background,
                  "Return at once with the run id; the run goes on after the terminal closes (see run tail, "
                  "run wait, run kill)");
  c.run->add_flag("--continue", c.continue_session,
                  "Continue the agent session of the task's last session run (codex exec resume, claude --resume)");
  c.run->add_flag("--keep-session", c.keep_session,
                  "Keep the agent's session so a later --continue can resume it (first-pass runs are ephemeral)");
  c.run->add_option("--worker", c.worker, "(internal) execute a prepared background run")->group("");

  c.list = c.run->add_subcommand("list", "List runs, newest first: an aligned table, or --json");
  c.list->add_option("--task", c.task, "Only runs of this task")->type_name("T-ID");
  c.list->add_option("--status", c.status, "Only runs with this status")->type_name("STATUS");
  c.list->add_option("--limit", c.limit, "At most N runs (default 50; 0: all)")->type_name("N");

  c.show = c.run->add_subcommand("show", "One run: prompt, status, lifecycle, validation, changes, usage, lineage");
  c.approve = c.run->add_subcommand("approve", "Approve a run waiting for review (writes decision.md)");
  c.approve->add_option("--note", c.note, "Why: the decision's rationale")->type_name("TEXT");
  c.approve->add_option("--decision", c.decision, "accept (default) or \"partially accept\"")->type_name("TEXT");
  c.approve->add_flag("--apply", c.and_apply, "Then apply the run's change to your work tree (see run apply)");
  c.block = c.run->add_subcommand("block", "Block a run: the task is blocked with the reason (writes decision.md)");
  c.block->add_option("--reason", c.reason, "What is wrong (required)")->required()->type_name("TEXT");
  c.block->add_option("--decision", c.decision, "reject (default) or escalate")->type_name("TEXT");
  c.review = c.run->add_subcommand("review", "The runs waiting for a decision, oldest first");

  c.replay = c.run->add_subcommand("replay", "A new run of the same task, linked to this one");
  add_agent_flags(c.replay, c);
  c.replay->add_option("--reason", c.reason, "Why: stored on the new run as replay_reason")->type_name("TEXT");
  c.replay->add_flag("--same-prompt", c.same_prompt, "Reuse the stored prompt byte for byte (default: recompile)");
  c.replay->add_flag("--edit-prompt", c.edit_prompt, "Open the prompt in $VISUAL or $EDITOR before the run");

  c.queue = c.run->add_subcommand("queue", "Ready tasks whose dependencies are done; the others with why they wait");
  c.start_ready = c.run->add_subcommand("start-ready", "Run every ready task, N at a time, until none is ready");
  c.start_ready->add_option("-j,--jobs", c.jobs, "Runs at a time (default: the config's queue.jobs, else 2)")
      ->type_name("N");
  c.start_ready->add_flag("--dry-run", c.dry_run, "Record each ready task's run without executing it");
  c.start_ready->add_option("--runner", c.runner, "The runner for every task (default: each task's own)")
      ->type_name("NAME");

  c.tail = c.run->add_subcommand("tail", "Print a run's log (its events); -f follows it until the run ends");
  c.tail->add_flag("-f,--follow", c.follow, "Keep printing as the run goes on, until it ends");
  c.kill = c.run->add_subcommand("kill", "Stop a running run, foreground or background, and every process of it (recorded as interrupted)");
  c.wait = c.run->add_subcommand("wait", "Wait for a run to end; exit 0 when it ended in review or completed");
  c.wait->add_option("--timeout", c.timeout, "Give up after this long (exit 1): 90s, 10m")->type_name("DURATION");
  c.apply = c.run->add_subcommand(
      "apply", "Apply a writing run's change to your work tree: three-way, unstaged; on a conflict nothing changes");
  c.discard = c.run->add_subcommand("discard", "Drop a writing run's change: its branch goes, changes.patch stays");

  for (CLI::App* sub : {c.show, c.approve, c.block, c.replay, c.tail, c.kill, c.wait, c.apply, c.discard}) {
    sub->add_option("id", c.id, "The run id")->required()->type_name("R-ID");
  }
  for (CLI::App* sub : {c.run, c.list, c.show, c.approve, c.block, c.review, c.replay, c.queue, c.start_ready,
                        c.tail, c.kill, c.wait, c.apply, c.discard}) {
    sub->add_option("--root", c.root, kRootHelp)->type_name("DIR");
    sub->add_flag("--json", c.json, kJsonHelp);
  }
}

bool run_command_call(const RunCommands& c, const char*& function, LuaOptions& options) {
  if (!c.run->parsed()) return false;
  const std::pair<CLI::App*, const char*> subs[] = {
      {c.list, "list"},       {c.show, "show"},         {c.approve, "approve"}, {c.block, "block"},
      {c.review, "review"},   {c.replay, "replay"},     {c.queue, "queue"},     {c.start_ready, "start_ready"},
      {c.tail, "tail"},       {c.kill, "kill"},         {c.wait, "wait"},       {c.apply, "apply"},
      {c.discard, "discard"}};
  function = "run";
  for (const auto& [app, name] : subs) {
    if (app->parsed()) function = name;
  }
  options = {{"root", c.root},
             {"task", c.task},
             {"id", c.id},
             {"runner", c.runner},
             {"agent_role", c.role},
             {"model", c.model},
             {"sandbox", c.sandbox},
             {"timeout", c.timeout},
             {"idle_timeout", c.idle_timeout},
             {"reason", c.reason},
             {"note", c.note},
             {"decision", c.decision},
             {"status", c.status},
             {"limit", c.limit},
             {"jobs", c.jobs},
             {"worker", c.worker},
             {"json", c.json},
             {"dry_run", c.dry_run},
             {"background", c.background},
             {"continue", c.continue_session},
             {"keep_session", c.keep_session},
             {"allow_full_auto", c.allow_full_auto},
             {"edit_prompt", c.edit_prompt},
             {"same_prompt", c.same_prompt},
             {"follow", c.follow},
             {"explain", c.explain},
             {"apply", c.and_apply}};
  return true;
}

}  // namespace sidecar::cli
