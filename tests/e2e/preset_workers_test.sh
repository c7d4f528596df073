#!/usr/bin/env bash
# End-to-end: a preset's pool (stdlib/sidecar/preset/worker_pool.lua, worker.lua's serve;
# sidecar.core.coop). One process, made ready once, runs the agents of a batch side by side, none
# forked; `run kill` of one step stops it alone, saying so, and leaves nothing running; a batch
# wider than max_agents waits for slots its own runs hold; a kill -9 of the preset itself, of the
# pool, or Ctrl-C, ends the pool and its agents, every run in an end state.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
cd "$work" || exit 1
M=94813 # the marker of this test's sleeps (lib.sh's left)
git_repo pool
# The fake agent: agent N's start in $AGENT_LOG/N, then it sleeps: AGENT_SLEEP seconds, except
# that when that is 1 (the default) or long, agent 2 sleeps long ($M.2 s; the others $M.1 when long),
# and when it is gate, every agent waits until the test makes $AGENT_LOG/gate.
cat >"$work/agent.sh" <<SH
#!/bin/sh
n=\$(cat | grep -o 'Agent [0-9]*:' | grep -o '[0-9]*')
echo started >"\$AGENT_LOG/\$n"
if [ "\${AGENT_SLEEP:-1}" = gate ]; then # every agent waits for the test's word (10 minutes at most)
  i=0; while [ ! -e "\$AGENT_LOG/gate" ] && [ \$i -lt 12000 ]; do sleep 0.05; i=\$((i+1)); done
  echo done; exit 0
fi
case "\$n" in
  2) case "\${AGENT_SLEEP:-1}" in 1|long) sleep $M.2 ;; *) sleep "\$AGENT_SLEEP" ;; esac ;;
  31) i=0; while [ ! -e src/a/.env ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i+1)); done ;; # the test makes it
  32) cat src/a/.env src/b/g 2>&1 ;;
  *) if [ "\${AGENT_SLEEP:-1}" = long ]; then sleep $M.1; else sleep "\${AGENT_SLEEP:-1}"; fi ;;
esac
echo done
SH
fan_of_agents "$work/agent.sh"

# SERVE: the pool's command line, as a pattern that matches no command line holding it.
SERVE="preset[.]worker'[)][.]serve"
# pool_of PID: the pid of the preset PID's pool (its child running worker.serve), or nothing.
pool_of() { pgrep -o -P "$1" -f "$SERVE"; }
# has_pool PID: the preset PID has started its pool.
has_pool() { pool_of "$1" >/dev/null; }
# ours PATTERN: the processes of this test (its state folder in their environment) PATTERN matches.
ours() {
  local p
  for p in $(pgrep -f "$1"); do
    grep -qaF "XDG_STATE_HOME=$work/state" "/proc/$p/environ" 2>/dev/null && echo "$p"
  done
}
# no_pool: no pool of this test runs.
no_pool() { [ -z "$(ours "$SERVE")" ]; }
# no_agent: no agent of this test sleeps.
no_agent() { [ -z "$(left '[0-9]')" ]; }
# nothing_left: neither.
nothing_left() { no_pool && no_agent; }
# status_of RUN: the run's status, as the store holds it now (run show settles a run whose owner is gone).
status_of() { "$S" run show "$1" --json | jv .data.status; }
# agents_started N: N agents have written their start.
agents_started() { [ "$(ls "$work"/agents | wc -l)" -ge "$1" ]; }
# run_of_agent N: the run whose prompt is agent N's.
run_of_agent() { grep -l "Agent $1:" .agent/runs/R-*/prompt.md 2>/dev/null | head -1 | xargs -r dirname | xargs -r basename; }

# One pool, no process per agent: the pool's own children are the agents' sandboxes. `run kill` of
# one step stops that run alone; the others go on to their end.
"$S" preset run fan -p n=3 -j 3 >"$work/killed.out" 2>"$work/killed.err" &
preset=$!
wait_until "the pool starts" 60 has_pool "$preset"
pool=$(pool_of "$preset")
wait_until "the three agents start" 60 agents_started 3
eq "one pool, which forked nothing: no process of it but the pool runs the pool's code" "1 0" \
  "$(pgrep -P "$preset" -f "$SERVE" | wc -l) $(pgrep -P "$pool" -f "$SERVE" | wc -l)"
eq "one store connection for its three runs (the store's database open once)" 1 \
  "$(ls -l "/proc/$pool/fd" 2>/dev/null | grep -c '/sidecar[.]db$')"
victim=$(run_of_agent 2)
"$S" run kill "$victim" >"$work/kill.out" 2>&1
eq "run kill of one step: it ends" "0" "$?"
wait "$preset"
eq "the preset ends, two of its three steps done" "1" "$?"
eq "it says so" "2 of 3 agents done" "$(cat "$work/killed.out")"
eq "the batch's three steps of one route are announced in one line" \
  "1 fan: 3 steps: scan on command" "$(grep -c "scan on" "$work/killed.err") $(grep -o "fan: 3 steps: scan on command" "$work/killed.err")"
eq "the killed step's agent is gone" "" "$(left 2)"
eq "no pool is left" "" "$(ours "$SERVE")"
runs=$(ls .agent/runs | sort)
statuses=$(for r in $runs; do status_of "$r"; done | sort | tr '\n' ' ')
eq "every run has ended: two reported, the killed one interrupted" "interrupted review review " "$statuses"
eq "the killed run says what stopped it" "interrupted (sidecar run kill, pid" \
  "$("$S" run show "$victim" --json | jv .data.failure_reason | grep -o "^interrupted (sidecar run kill, pid")"
eq "it records the pool as its owner, shared" "true $pool" \
  "$(field ".agent/runs/$victim/run.json" .owner_shared) $(field ".agent/runs/$victim/run.json" .owner_pid)"

# A batch wider than max_agents: its runs wait for the slots the others of the pool hold, giving
# way to them meanwhile (else the pool would wait on itself); never more than the cap alive.
rm -f "$work"/agents/*
SIDECAR_MAX_AGENTS=1 AGENT_SLEEP=1.$M "$S" preset run fan -p n=3 -j 3 >"$work/capped.out" 2>"$work/capped.err" &
preset=$!
# strays: a run's agent outside its run's cgroup, or a process in a run's cgroup without that run's
# mark (the cgroup is armed around its own agent's spawn alone: armed longer, another run's spawn
# would start in it, and its own agent outside it). A process is one only if it still is on a second
# look 0.3 s later, the same process (its start time): one caught between its clone and its exec
# still shows the pool's environment, one caught exiting none.
started_at() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; } # its field 22
environment() { { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null; }
marked() { environment "$1" | grep -qxF "SIDECAR_RUN_MARK=$2"; }
unmarked() { # pid mark: alive (not exiting), its environment read, and without the mark
  local env
  [ -r "/proc/$1/environ" ] && env=$(environment "$1") && ! grep -qxF "SIDECAR_RUN_MARK=$2" <<<"$env" &&
    ! grep -q '^State:.*[ZX]' "/proc/$1/status" 2>/dev/null
}
strays() {
  local f cg mark p seen=""
  for f in .agent/runs/R-*/agent_process.json; do
    cg=$(grep -o '"cgroup": "[^"]*"' "$f" 2>/dev/null | cut -d'"' -f4)
    mark=$(grep -o '"mark": "[^"]*"' "$f" 2>/dev/null | cut -d'"' -f4)
    p=$(grep -o '"pid": [0-9]*' "$f" 2>/dev/null | grep -o '[0-9]*$')
    [ -n "$cg" ] && [ -n "$mark" ] || continue
    if [ -n "$p" ] && marked "$p" "$mark" &&
      ! grep -qF "${cg##*/}" "/proc/$p/cgroup" 2>/dev/null; then
      seen="$seen outside:$p:$(started_at "$p"):$cg:$mark"
    fi
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
      unmarked "$p" "$mark" && seen="$seen in:$p:$(started_at "$p"):$cg:$mark"
    done
  done
  [ -n "$seen" ] || return 0
  sleep 0.3
  local what at
  for f in $seen; do
    IFS=: read -r what p at cg mark <<<"$f"
    [ -n "$at" ] && [ "$(started_at "$p")" = "$at" ] || continue # gone meanwhile
    if [ "$what" = in ]; then
      grep -qxF "$p" "$cg/cgroup.procs" 2>/dev/null && unmarked "$p" "$mark" &&
        echo "$p ($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)) in ${cg##*/} without its mark; "
    elif ! grep -qF "${cg##*/}" "/proc/$p/cgroup" 2>/dev/null; then
      echo "$p ($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)) outside ${cg##*/}; "
    fi
  done
}
most=0 deadline=$((SECONDS + 120)) stray=""
while kill -0 "$preset" 2>/dev/null; do
  n=$(pgrep -fc "sleep 1[.]$M\$")
  [ "$n" -gt "$most" ] && most=$n
  stray="$stray$(strays)"
  if [ "$SECONDS" -ge "$deadline" ]; then # a pool that waits on its own slots never ends
    echo "  the batch has not ended after 120 s: interrupted"
    kill -INT "$preset"
    deadline=$((SECONDS + 3600))
  fi
  sleep 0.1
done
wait "$preset"
eq "max_agents 1, three agents in one pool: all three done" "0 3 of 3 agents done" "$? $(cat "$work/capped.out")"
eq "never more than one agent alive (sampled)" 1 "$most"
eq "each run's agent in its own cgroup, and nothing else there (sampled; where one can be made)" "" "$stray"
eq "the waits are said" 1 "$([ "$(grep -c "waiting for an agent slot: 1 of 1 running" "$work/capped.err")" -ge 1 ] && echo 1)"
runs=$(ls .agent/runs | sort)

# A kill -9 of the preset: its pool and their agents all end; every run ends.
rm -f "$work"/agents/*
AGENT_SLEEP=long "$S" preset run fan -p n=3 -j 3 >"$work/k9.out" 2>"$work/k9.err" &
preset=$!
wait_until "kill -9: the three agents start" 60 agents_started 3 ||
  echo "  the preset: $(tail -3 "$work/k9.out" "$work/k9.err" | tr '\n' ' ')"
kill -9 "$preset"
wait "$preset" 2>/dev/null
wait_until "kill -9: the pool ends" 60 no_pool
wait_until "kill -9: every agent ends" 60 no_agent
new=$(comm -13 <(echo "$runs") <(ls .agent/runs | sort))
eq "kill -9: three runs, each ended interrupted" "interrupted interrupted interrupted " \
  "$(for r in $new; do status_of "$r"; done | tr '\n' ' ')"
eq "kill -9: no agent slot is held" nil "$("$S" doctor --json | jv .data.agent_slots.holders.1.run_id)"
# the killed holders' slot files are free to take (SIGKILL frees the lock; nothing else is left)
eq "kill -9: every slot's lock is free" 0 "$(for f in "$work"/runtime/sidecar/agent-slots/slot-*.lock; do
  [ -e "$f" ] || { echo "no slot files"; continue; }
  flock -n "$f" true || echo held; done | wc -l)"

# A kill -9 of the pool: its agents end with it (their sandboxes' parent-death signal); the preset
# goes on to its end, every step failed, and each run is ended by whoever reads it next (its
# owner gone: outcome unknown).
rm -f "$work"/agents/*
runs=$(ls .agent/runs | sort)
AGENT_SLEEP=long "$S" preset run fan -p n=3 -j 3 >"$work/pool.out" 2>"$work/pool.err" &
preset=$!
wait_until "kill -9 of the pool: the three agents start" 60 agents_started 3
kill -9 "$(pool_of "$preset")"
wait "$preset"
eq "kill -9 of the pool: the preset ends, no step done" "1 0 of 3 agents done" "$? $(cat "$work/pool.out")"
wait_until "kill -9 of the pool: no pool and no agent is left" 60 nothing_left
new=$(comm -13 <(echo "$runs") <(ls .agent/runs | sort))
eq "kill -9 of the pool: three runs, each ended, its owner gone" "outcome_unknown outcome_unknown outcome_unknown " \
  "$(for r in $new; do status_of "$r"; done | tr '\n' ' ')"
# killed before or after the pool wrote their copies (once it has started no agent for a while),
# nothing of them is lost: each prompt is there from its agent's start, each copy (owed) written
eq "kill -9 of the pool: each run's prompt.md and copy are there" "3 3" \
  "$(grep -l "^Agent [123]: say done[.]$" $(for r in $new; do echo ".agent/runs/$r/prompt.md"; done) 2>/dev/null |
    wc -l) $(for r in $new; do grep -q "\"run_id\": \"$r\"" ".agent/runs/$r/run.json" 2>/dev/null &&
    grep -l '"status": "outcome_unknown"' ".agent/runs/$r/run.json"; done | wc -l)"

# A wide batch: its runs spread over a pool process per 16 of them, one per core at most (on 2
# cores or more, 32 runs: 2), each made ready once; a kill -9 of one of them fails its own steps
# alone, the other's run on to their end.
rm -f "$work"/agents/*
runs=$(ls .agent/runs | sort)
cores=$(grep -c '^processor' /proc/cpuinfo)
want=$((cores >= 2 ? 2 : 1))
SIDECAR_MAX_AGENTS=32 AGENT_SLEEP=gate "$S" preset run fan -p n=32 -j 32 >"$work/wide.out" 2>"$work/wide.err" &
preset=$!
wait_until "a wide batch: its 32 agents start" 120 agents_started 32
pools=$(pgrep -P "$preset" -f "$SERVE")
eq "a wide batch on $cores cores: $want pool processes, which forked nothing" "$want 0" \
  "$(echo $pools | wc -w) $(for p in $pools; do pgrep -P "$p" -f "$SERVE"; done | wc -l)"
eq "each runs its share of the runs: 16 sandboxes each" "$(for _ in $pools; do printf '16 '; done)" \
  "$(for p in $pools; do printf '%s ' "$(pgrep -P "$p" | wc -l)"; done)"
if [ "$want" = 2 ]; then
  kill -9 "$(echo $pools | cut -d' ' -f1)"
  sleep 1 # its sandboxes end with it; the other pool's agents still wait for the word
fi
touch "$work/agents/gate"
wait "$preset"
code=$?
if [ "$want" = 2 ]; then
  eq "kill -9 of one pool process: the preset ends, the other's 16 steps done" "1 16 of 32 agents done" \
    "$code $(cat "$work/wide.out")"
  new=$(comm -13 <(echo "$runs") <(ls .agent/runs | sort))
  eq "its 16 runs end with their owner gone, the other 16 reported" "16 16" \
    "$(for r in $new; do status_of "$r"; done | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
else
  eq "one core: the batch's 32 steps done" "0 32 of 32 agents done" "$code $(cat "$work/wide.out")"
fi
wait_until "a wide batch: no pool and no agent is left" 60 nothing_left

# Ctrl-C: the preset stops its pool and ends 130; every run interrupted, nothing left.
rm -f "$work"/agents/*
runs=$(ls .agent/runs | sort)
AGENT_SLEEP=long "$S" preset run fan -p n=3 -j 3 >/dev/null 2>"$work/int.err" &
preset=$!
wait_until "Ctrl-C: the three agents start" 60 agents_started 3
kill -INT "$preset"
wait "$preset"
eq "Ctrl-C: the preset ends interrupted" 130 "$?"
eq "Ctrl-C: no pool and no agent is left" "" "$(ours "$SERVE")$(left '[0-9]')"
new=$(comm -13 <(echo "$runs") <(ls .agent/runs | sort))
eq "Ctrl-C: three runs, each interrupted" "interrupted interrupted interrupted " \
  "$(for r in $new; do status_of "$r"; done | tr '\n' ' ')"

# A batch's prompt that is not UTF-8 (one quoting a Latin-1 file): its run gets it byte for byte.
rm -f "$work"/agents/*
runs=$(ls .agent/runs | sort)
cat >.agent/presets/latin.lua <<'LUA'
return require("sidecar.preset.define").define({
  name = "latin", summary = "a batch with a Latin-1 prompt",
  run = function(ctx)
    local out = ctx:agents({ { prompt = "Agent 7: caf\xe9 na\xefve" }, { prompt = "Agent 8: plain" } })
    return { ok = true, text = out[1].status .. " " .. out[2].status .. "\n" }
  end,
})
LUA
AGENT_SLEEP=0 expect_run "a Latin-1 prompt in a batch: both steps run" 0 "^review review\n$" "" -- \
  "$S" preset run latin
new=$(comm -13 <(echo "$runs") <(ls .agent/runs | sort))
printf 'Agent 7: caf\351 na\357ve' >"$work/latin1"
eq "its run's prompt.md holds its bytes" "1 2" \
  "$(for r in $new; do cmp -s "$work/latin1" .agent/runs/"$r"/prompt.md && echo "$r"; done | wc -l) $(echo $new | wc -w)"

# The pool searches the repository for secret files once, before its first run; each run's
# sandbox then reads again only the folders that changed since, taking the others as that search
# read them (host/secrets/secret_file_find.hpp). A secret file made after that search is hidden
# all the same from the agent started next.
rm -f "$work"/agents/*
mkdir -p src/a src/b && echo plain >src/a/f && echo "seen by agent 32" >src/b/g
sleep 1.2 # older than the search's margin for racy timestamps: the pool's search may take them as read
cat >.agent/presets/late.lua <<'LUA'
return require("sidecar.preset.define").define({
  name = "late", summary = "two agents of one batch, one after the other",
  run = function(ctx)
    local out = ctx:agents({ { prompt = "Agent 31: wait" }, { prompt = "Agent 32: read" } })
    local function id(r) return r.run_id or ("(no run: %s, %s)"):format(r.status, r.why) end -- said, should it fail
    return { ok = true, text = id(out[1]) .. " " .. id(out[2]) .. "\n" }
  end,
})
LUA
late=unmasked-late-$$
"$S" preset run late -j 1 >"$work/late.out" 2>"$work/late.err" &
preset=$!
wait_until "a secret made after the pool's search: the first agent runs" 60 agents_started 1
echo "$late" >src/a/.env
wait "$preset"
got="$? $(run_ids "$work/late.out" | wc -l)"
eq "a secret made after the pool's search: the preset ends, each agent with its run" "0 2" "$got"
[ "$got" = "0 2" ] || echo "  the preset said: $(cat "$work/late.out" "$work/late.err" | tr '\n' ' ')"
second=$(run_ids "$work/late.out" | sed -n 2p)
eq "a secret made after the pool's search: hidden from the agent started next" "0 1" \
  "$(grep -c "$late" ".agent/runs/$second/stdout.log") $(grep -c "seen by agent 32" ".agent/runs/$second/stdout.log")"
eq "its sandbox took the folders that did not change as the pool's search read them" yes \
  "$([ "$(field ".agent/runs/$second/run.json" .os_sandbox.hidden.reused)" -gt 2 ] 2>/dev/null && echo yes)"
rm -rf src
finish
