// Shared by the benchmarks that time one agent run through Sidecar: a no-op agent, and the Lua
// that runs it with Sidecar's codex runner.
#pragma once
#include <cstdlib>
#include <string>

namespace sidecar::bench {

// Writes the agent to `agent` and a prompt to `prompt`: it reads its prompt like a CLI, prints the
// recorded stream `capture`, exits 0, and ignores codex's flags. False when it cannot.
inline bool make_noop_agent(const std::string& agent, const std::string& capture, const std::string& prompt) {
  const std::string script = "printf '#!/bin/sh\\ncat >/dev/null\\nexec cat \"%s\"\\n' '" + capture + "' > '" + agent +
                             "' && chmod +x '" + agent + "' && printf 'Say hello.\\n' > '" + prompt + "'";
  return std::system(script.c_str()) == 0;
}

// `sidecar -e` code for one run of `agent` in the current folder: the store record and its JSON
// copy, prompt.md, the stream parsed and kept, events.jsonl, output.md, model.json/md, and in a
// git repository the work-tree snapshots before and after.
inline std::string execute_lua(const std::string& agent) {
  return "local r = assert(require('sidecar.agent.run').execute({runner = 'codex', repo = '.', program = {'" + agent +
         "'}, prompt = 'Say hello.\\n'})) assert(r.status == 'review', r.failure_reason)";
}

}  // namespace sidecar::bench
