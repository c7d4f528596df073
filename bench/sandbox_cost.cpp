// What the OS sandbox costs one agent run (issue 39): a no-op agent (a recorded codex stream) run
// bare, through Sidecar's codex runner without a sandbox (SIDECAR_OS_SANDBOX=off), and through it
// in its sandbox (bubblewrap, sidecar sandbox-init, the network proxy, the secret-file walk), side
// by side in the same loop; and bubblewrap alone around `true`, for the floor.
//
// Beside it, what two of issue 45's pieces add to that sandboxed run: the run's limits (the run
// given `isolation = {limits = {}}`, the defaults, against all three set to false) and the CLI's
// per-run state folder (the codex runner against a copy of it without `sandbox_state`, so nothing
// is bound over CODEX_HOME); each run checks its record says what its column claims. Then the
// state folder's preparation alone (sandbox_state.plan, record, tidy: what sandbox.open and the
// run's end do), timed in one process for codex and claude. CODEX_HOME (and CLAUDE_CONFIG_DIR for
// the latter) is a folder of the bench's holding what a logged-in user's has, so the user's own is
// neither read nor made.
//
// Beside them, the same run in the sandbox where user namespaces are refused (Landlock, asked by
// name: SIDECAR_OS_SANDBOX=landlock), and with "auto", the default (bubblewrap here, after its check
// that namespaces can be made).
//
// Last, what the connect guard adds to each connect() (host/sandbox/socket_guard.hpp): a loop of
// connects to a Unix socket and to a TCP port of a server in the same sandbox, timed inside it,
// under sandbox-init (every connect answered by the guard) and, the reference, in the same
// bubblewrap sandbox without it.
//
//   bench_sandbox_cost path/to/sidecar path/to/capture.jsonl [runs]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_agent.hpp"
#include "bench_folder.hpp"
#include "bench_spawn.hpp"
#include "bench_stats.hpp"

namespace {

using sidecar::bench::first_line;
using sidecar::bench::median;
using sidecar::bench::run_ms;
using sidecar::bench::write_file;

constexpr double kFewMs = 5;  // issue 45: "must not cost more than a few milliseconds"
constexpr int kPrepareTimes = 200;

int sh(const std::string& command) { return std::system(command.c_str()); }

// The environment with one more variable (NAME=VALUE), for posix_spawn.
std::vector<char*> environ_with(std::vector<std::string>& keep, const std::string& entry) {
  std::vector<char*> env;
  keep.push_back(entry);
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(const_cast<char*>(keep.back().c_str()));
  env.push_back(nullptr);
  return env;
}

// Registers "codex-stateless": the codex runner but for its state folder (no sandbox_state).
const char* const kStateless =
    "local runners = require('sidecar.agent.runners') local spec = {} "
    "for k, v in pairs(assert(runners.get('codex'))) do spec[k] = v end "
    "spec.sandbox_state = nil runners.register('codex-stateless', spec) ";

// `sidecar -e` code for one sandboxed run of `agent` like bench_agent's execute_lua, with `runner`
// and `isolation` given; it fails unless `check` (Lua on `sb`, the record's os_sandbox) holds.
std::string variant_lua(const std::string& agent, const std::string& runner, const std::string& isolation,
                        const std::string& check, const std::string& after = "") {
  return std::string(runner == "codex-stateless" ? kStateless : "") +
         "local r = assert(require('sidecar.agent.run').execute({runner = '" + runner + "', repo = '.', program = {'" +
         agent + "'}, prompt = 'Say hello.\\n', isolation = " + isolation +
         "})) assert(r.status == 'review', r.failure_reason) local sb = r.os_sandbox "
         "assert(type(sb) == 'table' and sb.kind == 'bwrap', 'not sandboxed') "
         "assert(" + check + ", 'the record is not what the column claims') " + after;
}

// The state folder's preparation for a runner's entries, `times` times, each for a new run's folder
// under `base`: prints the median ms. arg: base, times, runner names.
const char* const kPrepareLua = R"(local state = require('sidecar.run.sandbox_state')
local runners = require('sidecar.agent.runners')
local clock = require('sidecar.host.time')
local base, times = arg[1], tonumber(arg[2])
local out = {}
for i = 3, #arg do
  local spec = assert(runners.get(arg[i]))
  local ms = {}
  for n = 0, times do -- 0: a warm-up, not counted
    local dir = ('%s/prepare/%s/%d'):format(base, arg[i], n)
    local t0 = clock.monotonic_ns()
    local st = assert(state.plan(spec.sandbox_state(os.getenv, os.getenv('HOME')),
      { dir = dir .. '/cli-state', scratch = base .. '/prepare' }))
    state.record(st)
    state.tidy(st)
    if n > 0 then
      ms[n] = (clock.monotonic_ns() - t0) / 1e6
    end
  end
  table.sort(ms)
  out[#out + 1] = ('%.3f'):format(#ms % 2 == 1 and ms[(#ms + 1) // 2] or (ms[#ms // 2] + ms[#ms // 2 + 1]) / 2)
end
io.write(table.concat(out, ' '), '\n')
)";

const char* within(double ms) { return ms <= kFewMs ? "yes" : "NO"; }

constexpr int kConnects = 2000;
// Times kConnects connects to a Unix and a TCP server of its own; prints microseconds per connect.
const char* const kConnectLoop = R"(import socket, threading, time, sys
n = int(sys.argv[1])
def serve(s):
    while True: s.accept()[0].close()
unix = socket.socket(socket.AF_UNIX); unix.bind("/tmp/bench.sock"); unix.listen(4096)
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(4096)
for s in (unix, tcp): threading.Thread(target=serve, args=(s,), daemon=True).start()
out = []
for family, addr in ((socket.AF_UNIX, "/tmp/bench.sock"), (socket.AF_INET, tcp.getsockname())):
    t = time.perf_counter()
    for _ in range(n):
        c = socket.socket(family); c.connect(addr); c.close()
    out.append("%.2f" % ((time.perf_counter() - t) / n * 1e6))
print(" ".join(out)))";

// Medians of the connect loop's two figures over `rounds`, with and without the guard.
struct ConnectCost {
  double unix_guarded, tcp_guarded, unix_bare, tcp_bare;
};

bool connect_cost(const std::string& sidecar_path, const std::string& base, int rounds, ConnectCost& c) {
  write_file(base + "/connects.py", kConnectLoop);
  const std::string sandbox = "bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --unshare-pid --unshare-user "
                              "--unshare-net --as-pid-1 --die-with-parent --ro-bind '" + base + "' '" + base + "' ";
  const std::string loop = " python3 '" + base + "/connects.py' " + std::to_string(kConnects) + " 2>&1";
  std::vector<double> ug, tg, ub, tb;
  for (int i = 0; i < rounds; ++i) {
    double u = -1, t = -1;
    if (std::sscanf(first_line(sandbox + "'" + sidecar_path + "' sandbox-init --" + loop).c_str(), "%lf %lf", &u, &t) != 2) {
      return false;
    }
    ug.push_back(u), tg.push_back(t);
    if (std::sscanf(first_line(sandbox + loop).c_str(), "%lf %lf", &u, &t) != 2) return false;
    ub.push_back(u), tb.push_back(t);
  }
  c = {median(ug), median(tg), median(ub), median(tb)};
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_sandbox_cost path/to/sidecar path/to/capture.jsonl [runs]\n");
    return 2;
  }
  char sidecar_path[4096], capture[4096];
  if (!realpath(argv[1], sidecar_path) || !realpath(argv[2], capture)) {
    std::fprintf(stderr, "bench_sandbox_cost: no such file: %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  const int runs = argc > 3 ? std::atoi(argv[3]) : 31;
  const std::string base = sidecar::bench::temp_folder("bench_sandbox_cost");
  const std::string agent = base + "/noop-agent", prompt = base + "/prompt.md", repo = base + "/git";
  const std::string codex_home = base + "/codex-home", claude_home = base + "/claude-home";
  if (base.empty() || !sidecar::bench::make_noop_agent(agent, capture, prompt) ||
      sh("mkdir " + repo + " && cd " + repo + " && git init -q -b main && printf 'x\\n' > README.md && git add . && "
         "git -c user.name=b -c user.email=b@b commit -qm init") != 0 ||
      sh("mkdir " + codex_home + " " + claude_home + " " + base + "/prepare && cd " + codex_home +
         " && printf '{\"auth_mode\":\"apikey\"}\\n' > auth.json && printf 'model = \"gpt-5\"\\n' > config.toml && "
         "printf '# mine\\n' > AGENTS.md && cd " + claude_home +
         " && printf '{}\\n' > .credentials.json && printf '{}\\n' > settings.json && printf '# mine\\n' > CLAUDE.md && "
         "printf '{\"numStartups\":1}\\n' > .claude.json") != 0 ||
      !write_file(base + "/prepare.lua", kPrepareLua)) {
    std::fprintf(stderr, "bench_sandbox_cost: cannot set up %s\n", base.c_str());
    return 1;
  }
  setenv("CODEX_HOME", codex_home.c_str(), 1);  // before the environments below are copied
  std::vector<std::string> keep;
  keep.reserve(4);
  std::vector<char*> off = environ_with(keep, "SIDECAR_OS_SANDBOX=off");
  std::vector<char*> on = environ_with(keep, "SIDECAR_OS_SANDBOX=bwrap");
  std::vector<char*> landlock = environ_with(keep, "SIDECAR_OS_SANDBOX=landlock");
  std::vector<char*> automatic = environ_with(keep, "SIDECAR_OS_SANDBOX=auto");
  const std::string lua = sidecar::bench::execute_lua(agent);
  const std::string defaults = "{limits = {}}", no_limits = "{limits = {pids = false, memory = false, tmp = false}}";
  const std::string limited = "type(sb.limits.pids) == 'number' and type(sb.limits.memory) == 'number'";
  const std::string unlimited = "type(sb.limits.pids) ~= 'number' and type(sb.limits.memory) ~= 'number' and "
                                "type(sb.limits.tmp) ~= 'number'";
  const std::string lua_limits = variant_lua(agent, "codex", defaults, limited + " and sb.cli_state ~= nil");
  const std::string lua_no_limits = variant_lua(agent, "codex", no_limits, unlimited + " and sb.cli_state ~= nil");
  const std::string lua_no_state = variant_lua(agent, "codex-stateless", defaults, limited + " and sb.cli_state == nil");
  // Who holds each bound here (cgroup, rlimit, watch, tmpfs): what the limits' figure is the cost of.
  const std::string held_by = first_line(
      "cd '" + repo + "' && SIDECAR_OS_SANDBOX=bwrap '" + sidecar_path + "' -e \"" +
      variant_lua(agent, "codex", defaults, limited,
                  "local by = sb.limits.by io.write(('pids by %s, memory by %s, /tmp by %s'):format("
                  "by.pids or 'nothing', by.memory or 'nothing', by.tmp or 'nothing'), '\\\\n')") +
      "\" 2>&1");
  const std::vector<std::string> floor = {"bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                                          "--dev", "/dev", "--proc", "/proc", "true"};
  // Issue 45's variants, in an order that turns each run so none always follows the same column.
  const std::vector<std::string> variants = {lua_limits, lua_no_limits, lua_no_state};
  std::vector<double> bare, unsandboxed, sandboxed, bwrap, limits_paired, state_paired, landlocked, auto_chosen;
  std::vector<std::vector<double>> variant_ms(variants.size());
  for (int i = 0; i < runs; ++i) {  // interleaved, so drift on a shared machine hits every column alike
    double b = run_ms({agent, "exec", "--json", "-"}, repo, environ, prompt);
    double u = run_ms({sidecar_path, "-e", lua}, repo, off.data());
    double s = run_ms({sidecar_path, "-e", lua}, repo, on.data());
    double w = run_ms(floor, repo);
    double l = run_ms({sidecar_path, "-e", lua}, repo, landlock.data());
    double a = run_ms({sidecar_path, "-e", lua}, repo, automatic.data());
    double v[3];
    for (std::size_t k = 0; k < variants.size(); ++k) {
      std::size_t j = (k + i) % variants.size();
      v[j] = run_ms({sidecar_path, "-e", variants[j]}, repo, on.data());
    }
    if (b < 0 || u < 0 || s < 0 || w < 0 || l < 0 || a < 0 || v[0] < 0 || v[1] < 0 || v[2] < 0) {
      std::fprintf(stderr,
                   "bench_sandbox_cost: a run failed (run %d): bare %.1f off %.1f on %.1f bwrap %.1f landlock %.1f "
                   "auto %.1f limits %.1f no limits %.1f no state %.1f\n",
                   i, b, u, s, w, l, a, v[0], v[1], v[2]);
      return 1;
    }
    bare.push_back(b), unsandboxed.push_back(u), sandboxed.push_back(s), bwrap.push_back(w);
    landlocked.push_back(l), auto_chosen.push_back(a);
    for (std::size_t j = 0; j < variants.size(); ++j) variant_ms[j].push_back(v[j]);
    limits_paired.push_back(v[0] - v[1]), state_paired.push_back(v[0] - v[2]);
  }
  const std::string prepared = first_line("CLAUDE_CONFIG_DIR='" + claude_home + "' '" + sidecar_path + "' script '" +
                                          base + "/prepare.lua' '" + base + "' " + std::to_string(kPrepareTimes) +
                                          " codex claude 2>&1");
  ConnectCost cc{};
  const bool connects = connect_cost(sidecar_path, base, std::max(3, runs / 4), cc);
  sh("rm -rf " + base);
  const double mb = median(bare), mu = median(unsandboxed), ms = median(sandboxed), mw = median(bwrap);
  std::printf("one codex run around a no-op agent in a git repository, %d runs each, median wall ms\n", runs);
  std::printf("  bare agent                  %7.2f\n", mb);
  std::printf("  sidecar, no OS sandbox      %7.2f  (%.2fx bare)\n", mu, mu / mb);
  std::printf("  sidecar, in its OS sandbox  %7.2f  (%.2fx bare, %.2fx unsandboxed: %+.2f ms)\n", ms, ms / mb, ms / mu,
              ms - mu);
  std::printf("  bwrap around true (floor)   %7.2f\n", mw);
  const double ml_ = median(landlocked), ma = median(auto_chosen);
  std::printf("  sidecar, Landlock sandbox   %7.2f  (%.2fx bare, %.2fx unsandboxed: %+.2f ms; %.2fx bubblewrap's)\n", ml_,
              ml_ / mb, ml_ / mu, ml_ - mu, ml_ / ms);
  std::printf("  sidecar, \"auto\" (bwrap)     %7.2f  (%+.2f ms beside bwrap asked by name: its check)\n", ma, ma - ms);
  const double ml = median(variant_ms[0]), mn = median(variant_ms[1]), mt = median(variant_ms[2]);
  const double dl = ml - mn, dt = ml - mt;
  std::printf("issue 45's pieces: the sandboxed run given isolation = {limits = ...}, same loop, median wall ms\n");
  std::printf("  (limits here: %s; no state folder: the codex runner without sandbox_state)\n", held_by.c_str());
  std::printf("  limits on (the defaults)    %7.2f  (%.2fx off: %+.2f ms; paired median %+.2f ms)\n", ml, ml / mn, dl,
              median(limits_paired));
  std::printf("  limits off (all false)      %7.2f\n", mn);
  std::printf("  limits on, no state folder  %7.2f  (the state folder: %.2fx, %+.2f ms; paired median %+.2f ms)\n", mt,
              ml / mt, dt, median(state_paired));
  std::printf("  within a few ms (<= %.0f ms, difference of medians): limits %s, state folder %s\n", kFewMs,
              within(dl), within(dt));
  std::printf("the CLI state folder prepared alone (sandbox_state.plan, record, tidy), %d times in one process, "
              "median ms\n  codex claude: %s\n",
              kPrepareTimes, prepared.c_str());
  if (!connects) {
    std::fprintf(stderr, "bench_sandbox_cost: the connect loop failed (python3 and bwrap needed)\n");
    return 1;
  }
  std::printf("the connect guard: %d connects to a server in the same sandbox, median us per connect (%d rounds)\n",
              kConnects, std::max(3, runs / 4));
  std::printf("  Unix socket  guarded %7.2f  bwrap alone %7.2f  (%.2fx, %+.2f us)\n", cc.unix_guarded, cc.unix_bare,
              cc.unix_guarded / cc.unix_bare, cc.unix_guarded - cc.unix_bare);
  std::printf("  TCP 127.0.0.1 guarded %6.2f  bwrap alone %7.2f  (%.2fx, %+.2f us)\n", cc.tcp_guarded, cc.tcp_bare,
              cc.tcp_guarded / cc.tcp_bare, cc.tcp_guarded - cc.tcp_bare);
  return 0;
}
