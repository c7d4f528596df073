#!/usr/bin/env bash
# End-to-end: `sidecar ui` against a hostile client on this machine (issue 39): large bodies
# without the token are refused from their headers, never read; a body too large for its route
# is refused (413); a flood of half-open connections does not lock out the page; a request sent
# a byte at a time (slowloris) is dropped after the request timeout; a request that names a second
# host (two Host headers, an absolute-form target) is refused. Each is a case: prevented when the
# server held. Memory is measured from /proc, never time.
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers
. "$here/hostile_lib.sh"
cd "$work"
git_repo repo
"$S" task create --title "a task" --status ready >/dev/null

"$S" ui --no-open --port 0 >"$work/url" 2>"$work/ui.err" &
ui_pid=$!
trap 'kill $ui_pid 2>/dev/null; kill $(jobs -p) 2>/dev/null; [ "$failed" -eq 0 ] && rm -rf "$work"' EXIT
poll 20 test -s "$work/url"
url=$(head -1 "$work/url") && base=${url%%/\?token=*} && token=${url##*token=} && port=${base##*:}
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$ui_pid/status"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
eq "the page answers" 200 "$(code -H "X-Sidecar-Token: $token" "$base/api/tasks")"

# 1. Six 64 MiB POSTs without the token: refused from their headers; the body is never kept.
head -c $((64 * 1024 * 1024)) /dev/zero >"$work/big"
before=$(rss_kb)
refused=0
for _ in 1 2 3 4 5 6; do
  c=$(code -H 'Expect:' -H 'Content-Type: application/json' --data-binary @"$work/big" "$base/api/tasks")
  [ "$c" = 401 ] && refused=$((refused + 1))
done
after=$(rss_kb)
grown=$(((after - before) / 1024))
echo "six 64 MiB POSTs without the token: $refused refused 401, RSS $((before / 1024)) -> $((after / 1024)) MiB"
if [ "$refused" = 6 ] && [ "$grown" -lt 32 ]; then hostile_case "64 MiB bodies without the token" prevented
else hostile_case "64 MiB bodies without the token" silent "$refused refused, RSS grew $grown MiB"; fi

# 2. With the token, a body larger than the route takes: 413, not read either.
c=$(code -H 'Expect:' -H "X-Sidecar-Token: $token" -H 'Content-Type: application/json' --data-binary @"$work/big" \
  "$base/api/tasks")
if [ "$c" = 413 ]; then hostile_case "a body too large for its route" prevented
else hostile_case "a body too large for its route" silent "status $c"; fi
eq "a small POST still works (a dry run of the task)" yes "$(curl -s -H "X-Sidecar-Token: $token" \
  -H 'Content-Type: application/json' --data '{}' "$base/api/tasks/T-0001/dry-run" | grep -q '"ok":true' && echo yes || echo no)"

# 3. 1 100 half-open connections (fewer if the open-file limit is lower), then the page.
n=1100
limit=$(ulimit -n)
[ "$limit" -lt $((n + 50)) ] && n=$((limit - 50)) && echo "(open-file limit $limit: $n connections)"
python3 - "$port" "$n" >"$work/flood.out" 2>&1 <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    s.send(b"GET /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    socks.append(s)
print("opened", len(socks), flush=True)
time.sleep(120)
PY
flood=$!
poll 60 grep -q opened "$work/flood.out"
c=$(code --max-time 30 -H "X-Sidecar-Token: $token" "$base/api/tasks")
open_now=$(ls "/proc/$ui_pid/fd" | wc -l)
echo "with $n half-open connections: the page got $c; the server holds $open_now descriptors"
if [ "$c" = 200 ] && [ "$open_now" -lt 200 ]; then hostile_case "a flood of half-open connections" prevented
else hostile_case "a flood of half-open connections" silent "status $c, $open_now descriptors"; fi
kill "$flood" 2>/dev/null
wait "$flood" 2>/dev/null

# 4. Slowloris: a request sent a byte at a time never completes; the server drops it.
python3 - "$port" >"$work/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.connect(("127.0.0.1", int(sys.argv[1])))
start = time.time()
try:
    for b in b"GET /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 1000:
        s.send(bytes([b]))
        time.sleep(0.2)
        if time.time() - start > 100:
            break
    print("not dropped", flush=True)
except OSError:
    print("dropped after %d s" % (time.time() - start), flush=True)
PY
slow=$!
poll 90 grep -q "dropped\|not dropped" "$work/slow.out"
if grep -q "^dropped" "$work/slow.out"; then hostile_case "slowloris" prevented
else hostile_case "slowloris" silent "$(cat "$work/slow.out")"; fi
kill "$slow" 2>/dev/null
wait "$slow" 2>/dev/null
eq "the server is alive and answers" 200 "$(code -H "X-Sidecar-Token: $token" "$base/api/tasks")"

# 5. The Host rule, asked twice in one request (issue 45): a second Host header, and an absolute-form
# target (GET http://host/...) naming another host, each with a good Host and the token. A request
# head is written raw (curl sends one Host); the status the server answers is printed.
status_of() {
  python3 - "$port" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].replace("\n", "\r\n").encode() + b"\r\n")
got = b""
while b"\r\n" not in got:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/") else "none")
PY
}
good="Host: 127.0.0.1:$port"
auth="X-Sidecar-Token: $token"
head_case() { # head_case NAME EXPECTED REQUEST-HEAD
  local c
  c=$(status_of "$3")
  if [ "$c" = "$2" ]; then hostile_case "$1" prevented; else hostile_case "$1" silent "status $c"; fi
}
head_case "two Host headers, the second foreign" 400 "GET /api/tasks HTTP/1.1
$good
Host: evil.example
$auth
"
head_case "two Host headers, the first foreign" 400 "GET /api/tasks HTTP/1.1
Host: evil.example:$port
$good
$auth
"
head_case "an absolute-form target naming a foreign host" 421 "GET http://evil.example/api/tasks HTTP/1.1
$good
$auth
"
head_case "an absolute-form target naming a foreign host on this port" 421 "GET http://evil.example:$port/api/tasks HTTP/1.1
$good
$auth
"
head_case "an absolute-form target dressing a foreign host as this one" 400 "GET http://127.0.0.1:$port@evil.example/api/tasks HTTP/1.1
$good
$auth
"
# Consistent: the absolute form naming this server is served, its host checked as a Host header is.
eq "two Host headers, both this server's" 400 "$(status_of "GET /api/tasks HTTP/1.1
$good
$good
$auth
")"
eq "an absolute-form target naming this server" 200 "$(status_of "GET http://127.0.0.1:$port/api/tasks HTTP/1.1
$good
$auth
")"
eq "an absolute-form target naming localhost" 200 "$(status_of "GET http://localhost:$port/api/tasks HTTP/1.1
$good
$auth
")"
eq "an absolute-form target without the port" 421 "$(status_of "GET http://127.0.0.1/api/tasks HTTP/1.1
$good
$auth
")"
eq "an absolute-form target naming this server, a foreign Host" 403 "$(status_of "GET http://127.0.0.1:$port/api/tasks HTTP/1.1
Host: evil.example
$auth
")"
eq "the server still answers" 200 "$(code -H "X-Sidecar-Token: $token" "$base/api/tasks")"
hostile_summary ui
finish
