// `sidecar hooks print|install`, `sidecar hook EVENT`, `sidecar session list|show` (Claude Code
// hooks: stdlib/sidecar/cli/hooks.lua) and `sidecar skill print|install` (the skill file for main
// agents: stdlib/sidecar/cli/skill.lua).
#include "lua_command.hpp"

namespace sidecar::cli {

std::vector<LuaCommand> hooks_commands() {
  const char* const m = "sidecar.cli.hooks";
  const Flags root_json = {kRootFlag, kJsonFlag};
  return {
      {"hooks", "Claude Code hooks that record sessions and enforce a run's rules: print, install", m, nullptr, {}},
      {"hooks print", "Print the Claude Code settings JSON with Sidecar's hooks", m, "print", {kJsonFlag}},
      {"hooks install",
       "Merge Sidecar's hooks into Claude Code's settings (the project's .claude/settings.json, or the user's); "
       "other hooks stay, a second install changes nothing",
       m, "install",
       {{"--project", "project", kBool, "", "The project's .claude/settings.json (the default)"},
        {"--user", "user", kBool, "", "The user's settings.json ($CLAUDE_CONFIG_DIR, default ~/.claude)", nullptr, 0,
         "--project"},
        {"--remove", "remove", kBool, "", "Take Sidecar's hooks out instead"},
        kJsonFlag}},
      {"hook",
       "Handle one Claude Code hook event, its JSON on stdin: record it (a run's events.jsonl, else the session's "
       "record) and, in a Sidecar run, deny a push, a tag or an edit of an avoided file. Always exits 0",
       m, "hook",
       {{"event", "event", kText, "EVENT",
         "SessionStart, SessionEnd, UserPromptSubmit, PreToolUse, PostToolUse or Stop", nullptr, kRequired},
        {"--run", "run", kBool, "", "The hook of a Sidecar run (set by the claude runner)", nullptr, kHidden}}},
      {"session", "Claude Code sessions the hooks recorded: list, show", m, nullptr, {}},
      {"session list", "List recorded sessions, most recent first", m, "session_list", root_json},
      {"session show", "Show one session: its edited files, prompts and events", m, "session_show",
       Flags{{"id", "id", kText, "ID", "The session (claude-code:1a2b3c4d)", nullptr, kRequired}} + root_json},
      {"skill", "The skill file that teaches a main agent to hand work to Sidecar: print, install",
       "sidecar.cli.skill", nullptr, {}},
      {"skill print", "Print the skill file (SKILL.md), made from the presets and commands there are now",
       "sidecar.cli.skill", "print",
       {{"--claude", "claude", kBool, "", "For Claude Code (the default)"},
        {"--codex", "codex", kBool, "", "For Codex", nullptr, 0, "--claude"}}},
      {"skill install",
       "Write the skill file: .claude/skills/sidecar/SKILL.md for Claude Code, .agents/skills/sidecar/SKILL.md for "
       "Codex (in the project; --user: the user's folder)",
       "sidecar.cli.skill", "install",
       {{"--claude", "claude", kBool, "", "For Claude Code (the default)"},
        {"--codex", "codex", kBool, "", "For Codex", nullptr, 0, "--claude"},
        {"--user", "user", kBool, "", "In the user's folder (~/.claude or $CLAUDE_CONFIG_DIR; ~/.agents) instead"},
        kJsonFlag}},
  };
}

}  // namespace sidecar::cli
