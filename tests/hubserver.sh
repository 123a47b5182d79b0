# Sourced by the tests that run the cas tool against tests/hubserver.py (cli_download.sh,
# cli_put.sh) once they have set NAME (their name in messages) and CAS: a scratch directory $T
# (removed on exit with the server), the check counters, and the server's helpers.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
. "$HERE/clilib.sh"

# start_server [ARGS]: hubserver.py on a free loopback port, the store $T/s, HF token hf_test
# and ARGS; sets URL.
start_server() {
    rm -f "$T/port"
    python3 "$HERE/hubserver.py" --store "$T/s" --port 0 --port-file "$T/port" --hf-token hf_test "$@" > /dev/null 2>&1 &
    SERVER_PID=$!
    i=0
    while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    PORT=$(cat "$T/port" 2>/dev/null)
    if [ -z "$PORT" ]; then echo "$NAME: the test server did not start" >&2; exit 1; fi
    URL=http://127.0.0.1:$PORT
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }

# ctl NAME [JSON]: POST /_control/NAME (reset, fault, config, ...)
ctl() {
    python3 -c "import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], sys.argv[2].encode(), {'Content-Type': 'application/json'}))" \
        "$URL/_control/$1" "${2:-{\}}" > /dev/null
}
# fault NAME [COUNT]: the server's next COUNT (default 1; -1 unlimited, 0 clears) NAME faults
fault() { ctl fault "{\"name\":\"$1\",\"count\":${2:-1}}"; }
# token read|write: a CAS access token for acme/demo
token() {
    python3 -c "import json, sys, urllib.request as u; print(json.load(u.urlopen(u.Request(sys.argv[1], headers={'Authorization': 'Bearer hf_test'})))['accessToken'])" \
        "$URL/api/models/acme/demo/xet-$1-token/main"
}
# fetch URL OUT [RANGE]: GET with a CAS read token
fetch() {
    python3 - "$(token read)" "$@" <<'PY'
import sys, urllib.request as u
tok, url, out = sys.argv[1:4]
h = {"Authorization": "Bearer " + tok}
if len(sys.argv) > 4: h["Range"] = "bytes=" + sys.argv[4]
open(out, "wb").write(u.urlopen(u.Request(url, headers=h)).read())
PY
}
# logq EXPR: true when EXPR holds with L = the server's log (list of {method, path, status, range, fault?})
logq() { python3 -c "import json, urllib.request as u; L = json.load(u.urlopen('$URL/_control/log')); raise SystemExit(0 if ($1) else 1)"; }
