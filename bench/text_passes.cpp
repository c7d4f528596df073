// Text passes over hostile agent output: adversarial texts of about 8 MB (runs of spaces, of
// brackets, of marker prefixes, an unterminated line, ...) through the markers parser, both
// event-stream parsers (fed in 64 KB chunks, as a run reads them), the JSON finder of
// structured answers (sidecar.core.json_extract, what presets check) and the parsers of the
// precommit and personalization presets' markdown answers (sidecar.formats.*), the redactor (whole,
// and as a stream fed in 64 KB chunks: sidecar.core.secrets), each timed, beside `lua5.4`
// doing one plain linear scan (string.find of a substring that is not there) over the same text.
// Every pass must stay within a small factor of that scan: a quadratic one takes hours here.
//
//   bench_text_passes [megabytes]      (default 8; lua5.4 on PATH for the reference column)
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>

#include <sidecar/sidecar.hpp>

namespace {

// Plain Lua shared by both sides: texts[name] = the adversarial text, ORDER their names in order.
// `MB` is set before this runs.
const char* const kTexts = R"(
local n = MB * 1000 * 1000
local function fill(unit, prefix, suffix)
  prefix, suffix = prefix or "", suffix or ""
  return prefix .. unit:rep((n - #prefix - #suffix) // #unit) .. suffix
end
local function event(text) -- an agent message line of each dialect around `text`
  return '{"type":"item.completed","item":{"type":"agent_message","text":"' .. text .. '"}}\n' ..
    '{"type":"assistant","message":{"content":[{"type":"text","text":"' .. text .. '"}]}}\n'
end
ORDER = { "spaces", "space lines", "brackets", "marker prefixes", "blocked context", "question options",
  "file lines", "unterminated", "newlines", "event strings", "odd events", "nested spans", "empty fences",
  "json escapes", "colour lines" }
texts = {
  ["spaces"] = fill(" ", "[PROGRESS] a", "b"),
  ["space lines"] = fill("x" .. (" "):rep(4093) .. "y\n", "[BLOCKED] why\n"),
  ["brackets"] = fill("["),
  ["marker prefixes"] = fill("[BLOCKED][QUESTION][FILES_MODIFIED]"),
  ["blocked context"] = fill("  context line  \n", "[BLOCKED] why\n"),
  ["question options"] = fill("1.    option    \n", "[QUESTION] which\n"),
  ["file lines"] = fill("- a/b.c " .. (" "):rep(60) .. "(modified) x\n", "[FILES_MODIFIED]\n"),
  ["unterminated"] = fill("x"),
  ["newlines"] = fill("\n", "x"),
  ["event strings"] = event((" "):rep(n // 2 - 200)),
  ["odd events"] = fill('{"type":"item.completed","item":{"type":"file_change","changes":[1,"x",{}]}}\n' ..
    '{"type":"assistant","message":{"content":[1,null,"x",{"type":"tool_use","input":"y"}]}}\n'),
  -- spans nested in one another, each decoding to its very end before it fails
  ["nested spans"] = fill("1,", ("["):rep(150), "x" .. ("]"):rep(150)),
  ["empty fences"] = fill("```\n"),
  -- what the redactor reads through: JSON escapes and terminal sequences (grep --color, OSC 8)
  ["json escapes"] = event(('line\\n\\u001b[01;31m\\u001b[Kpassword\\u001b[m\\u001b[K = \\"x\\" \\t'):rep(n // 160)),
  ["colour lines"] = fill("src/a.c:12:\27[01;31m\27[Kkey\27[m\27[K = 1; \27]8;;http://x\27\\ link\27]8;;\27\\\n"),
}
)";

// The passes, in Sidecar: prints "name<TAB>bytes<TAB>markers<TAB>codex<TAB>claude<TAB>json<TAB>precommit
// <TAB>personalization<TAB>redact<TAB>redact stream" per text.
const char* const kPasses = R"(
local agent_events, markers = require("sidecar.agent.events"), require("sidecar.agent.markers")
local json_extract = require("sidecar.core.json_extract")
local precommit, personalization = require("sidecar.formats.precommit"), require("sidecar.formats.personalization")
local time, secrets = require("sidecar.host.time"), require("sidecar.core.secrets")
local CHUNK = 64 * 1024
local function timed(f)
  local t0 = time.monotonic_ns()
  f()
  return (time.monotonic_ns() - t0) / 1e9
end
local function stream(dialect, text)
  local p = agent_events.parser(require("sidecar.agent." .. dialect))
  for i = 1, #text, CHUNK do
    p:feed(text:sub(i, i + CHUNK - 1))
  end
  p:finish()
end
local function redact_stream(text)
  local s = secrets.stream()
  for i = 1, #text, CHUNK do
    s:feed(text:sub(i, i + CHUNK - 1))
  end
  s:finish()
end
for _, name in ipairs(ORDER) do
  local text = texts[name]
  local m = timed(function() markers.parse(text) end)
  local c = timed(function() stream("codex", text) end)
  local l = timed(function() stream("claude", text) end)
  local j = timed(function() json_extract.extract(text) end)
  local pc = timed(function() precommit.parse(text) end)
  local ps = timed(function() personalization.parse(text) end)
  local r = timed(function() secrets.redact(text) end)
  local rs = timed(function() redact_stream(text) end)
  io.write(("%s\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\n"):format(name, #text, m, c, l, j, pc, ps, r, rs))
  io.stdout:flush()
end
)";

// The reference, in lua5.4: one plain scan of each text; prints "name<TAB>seconds".
const char* const kReference = R"(
for _, name in ipairs(ORDER) do
  local text = texts[name]
  local t0 = os.clock()
  assert(not string.find(text, "not in the text", 1, true))
  io.write(("%s\t%.6f\n"):format(name, os.clock() - t0))
end
)";

std::string mb_assignment(int mb) { return "MB = " + std::to_string(mb) + "\n"; }

// lua5.4's seconds per text name, or an empty map when lua5.4 cannot run.
std::map<std::string, double> reference(int mb) {
  std::map<std::string, double> out;
  std::string code = mb_assignment(mb) + kTexts + kReference;
  char path[] = "/tmp/bench_text_passes_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return out;
  FILE* f = fdopen(fd, "w");
  std::fputs(code.c_str(), f);
  std::fclose(f);
  std::string command = std::string("lua5.4 ") + path + " 2>/dev/null";
  if (FILE* p = popen(command.c_str(), "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
      std::string s(line);
      std::size_t tab = s.find('\t');
      if (tab != std::string::npos) out[s.substr(0, tab)] = std::atof(s.c_str() + tab + 1);
    }
    pclose(p);
  }
  std::remove(path);
  return out;
}

double mbps(double bytes, double seconds) { return seconds > 0 ? bytes / 1e6 / seconds : 0; }

}  // namespace

int main(int argc, char** argv) {
  int mb = argc > 1 ? std::atoi(argv[1]) : 8;
  if (mb <= 0) mb = 8;
  std::map<std::string, double> ref = reference(mb);

  // The Sidecar side writes its rows to a temporary file (the host's io.write is plain stdio).
  char path[] = "/tmp/bench_text_passes_out_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  sidecar::Host host;
  std::string code = mb_assignment(mb) + kTexts + "io.output(" + "'" + path + "')\n" + kPasses + "io.close()\n";
  sidecar::Result r = host.run_string(code, "=bench_text_passes");
  if (!r.ok) {
    std::fprintf(stderr, "bench_text_passes: %s\n", r.error.c_str());
    std::remove(path);
    return 1;
  }
  std::printf("Text passes over adversarial agent output, %d MB each (seconds, MB/s); reference: lua5.4\n"
              "string.find of an absent plain substring over the same text (%s)\n\n",
              mb, ref.empty() ? "lua5.4 not found" : "one linear scan");
  std::printf("%-18s %16s %16s %16s %16s %16s %16s %16s %16s %16s\n", "text", "markers", "codex events",
              "claude events", "json extract", "precommit", "personalization", "redact", "redact stream",
              "lua5.4 find");
  FILE* f = std::fopen(path, "r");
  char line[512];
  double worst = 0;
  while (f && std::fgets(line, sizeof line, f)) {
    std::istringstream in(line);
    std::string name;
    std::getline(in, name, '\t');
    constexpr int kTimed = 8;  // then lua5.4's scan
    double bytes = 0, secs[kTimed + 1] = {};
    in >> bytes;
    for (int i = 0; i < kTimed; ++i) in >> secs[i];
    secs[kTimed] = ref.count(name) ? ref[name] : 0;
    char cell[kTimed + 1][40];
    for (int i = 0; i <= kTimed; ++i) {
      if (i == kTimed && ref.empty()) std::snprintf(cell[i], sizeof cell[i], "-");
      else std::snprintf(cell[i], sizeof cell[i], "%.3f s %6.0f", secs[i], mbps(bytes, secs[i]));
    }
    for (int i = 0; i < kTimed; ++i) worst = secs[i] > worst ? secs[i] : worst;
    std::printf("%-18s %16s %16s %16s %16s %16s %16s %16s %16s %16s\n", name.c_str(), cell[0], cell[1], cell[2],
                cell[3], cell[4], cell[5], cell[6], cell[7], cell[8]);
  }
  if (f) std::fclose(f);
  std::remove(path);
  std::printf("\nslowest pass: %.3f s for %d MB\n", worst, mb);
  return 0;
}
