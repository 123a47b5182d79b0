#!/bin/sh
# Upload tests of the cas tool: `cas put` against tests/hubserver.py (the loopback test double
# of the Hub + CAS API) on an empty store, then `cas get` of every file back (a round trip
# through the server), the order of the requests in the server's log, global dedup on a second
# put, the dedup prefix fallback, /v2/shards, retries under upload faults, a permanent failure
# (no shard sent), --store, and the output line against sha256sum and `cas hash`.
# Usage: tests/cli_put.sh [path/to/cas]   (needs python3 and a libcurl build of cas)
# The server hashes in pure Python (~1 MB/s): the uploaded data is kept to ~2 MB in all.
CAS=${1:-./build/cas}
NAME=cli_put
. "$(dirname "$0")/hubserver.sh"
[ -n "${DEBUG:-}" ] && set -x

if "$CAS" put 2>&1 | grep -q 'no libcurl'; then
    echo "cli_put: skipped (cas built without libcurl)"
    [ "${CI:-}" = true ] && { echo "cli_put: 0 passed, 1 failed (CI: libcurl's headers should be installed)"; exit 1; }
    exit 0
fi

# inputs: random, a repeat of it around new data, small, empty; more for the fault cases
python3 - "$T" <<'PY'
import random, sys
t = sys.argv[1]
r = random.Random(11)
a = r.randbytes(600000)
open(f"{t}/a.bin", "wb").write(a)
open(f"{t}/b.bin", "wb").write(a[:200000] + r.randbytes(150000) + a)
open(f"{t}/c.bin", "wb").write(r.randbytes(777))
open(f"{t}/e.bin", "wb").write(b"")
for n in ("f1", "f2", "f3", "f4", "f5", "f6"):
    open(f"{t}/{n}.bin", "wb").write(r.randbytes(90000))
PY

mkdir -p "$T/s/xorbs" "$T/s/shards"
start_server

XORBS='[e for e in L if e["method"]=="POST" and e["path"].startswith("/v1/xorbs/")]'
SHARDS='[e for e in L if e["method"]=="POST" and e["path"].endswith("/shards")]'
WTOK=$(token write)
RTOK=$(token read)
check '[ -n "$WTOK" ] && [ -n "$RTOK" ]' "tokens from the test server"

# ---- Hub mode: the write token comes from xet-write-token with HF_TOKEN ----
ctl reset
HF_TOKEN=hf_test "$CAS" put acme/demo "$T/a.bin" "$T/b.bin" "$T/c.bin" "$T/e.bin" --endpoint "$URL" --jobs 3 \
    --no-commit > "$T/out" 2> "$T/err"
check '[ $? -eq 0 ]' "put (Hub mode): status ($(cat "$T/err"))"
check '[ $(wc -l < "$T/out") -eq 4 ]' "put: one line per file"
for f in a b c e; do
    line=$(grep " $T/$f.bin\$" "$T/out")
    xh=$(echo "$line" | awk '{print $1}'); sh=$(echo "$line" | awk '{print $2}'); sz=$(echo "$line" | awk '{print $3}')
    check '[ "$xh" = "$("$CAS" hash "$T/$f.bin" | cut -c1-64)" ]' "put $f: xet hash = cas hash"
    check '[ "$sh" = "$(sha256sum "$T/$f.bin" | cut -c1-64)" ]' "put $f: sha256 = sha256sum"
    check '[ "$sz" = "$(wc -c < "$T/$f.bin" | tr -d " ")" ]' "put $f: size"
done
check 'logq "any(e[\"path\"].endswith(\"/xet-write-token/main\") and e[\"status\"]==200 for e in L)"' "Hub mode asked for a write token"
check 'logq "len($XORBS) >= 1 and all(e[\"status\"]==200 for e in $XORBS)"' "xorbs uploaded"
check 'logq "[e[\"status\"] for e in $SHARDS] == [404, 200] and $SHARDS[0][\"path\"] == \"/v2/shards\" and $SHARDS[1][\"path\"] == \"/v1/shards\""' \
    "shard: /v2/shards 404, then /v1/shards"
check 'logq "max(L.index(e) for e in $XORBS) < L.index($SHARDS[0])"' "every xorb POST before the shard POST"
check 'logq "not any(\"/commit/\" in e[\"path\"] for e in L)"' "put --no-commit: no commit"
HF_TOKEN=hf_test "$CAS" get acme/demo a.bin --endpoint "$URL" -o "$T/nc.bin" > /dev/null 2>&1
check '[ $? -ne 0 ] && [ ! -e "$T/nc.bin" ]' "put --no-commit: nothing to get"

# ---- Hub mode commits, as hf upload: preupload, the session, LFS batch (xet), the commit ----
printf '# readme\nsmall text, stored as a regular file\n' > "$T/README.md"
ctl reset
HF_TOKEN=hf_test "$CAS" put acme/demo "$T/a.bin" "$T/c.bin" "$T/e.bin" "$T/README.md" --endpoint "$URL" \
    --path-in-repo up -m "cas put test" > "$T/cout" 2> "$T/err"
check '[ $? -eq 0 ] && tail -n 1 "$T/cout" | grep -q "^http://127.0.0.1:[0-9]*/acme/demo/commit/[0-9a-f]\{40\}$"' "put commits and prints the commit URL ($(tail -c 300 "$T/err"))"
check 'logq "[e[\"path\"].split(\"/\")[-2] if \"/api/\" in e[\"path\"] else e[\"path\"] for e in L if e[\"method\"]==\"POST\" and (\"preupload\" in e[\"path\"] or \"commit\" in e[\"path\"] or e[\"path\"].endswith(\"/objects/batch\"))] == [\"preupload\", \"/acme/demo.git/info/lfs/objects/batch\", \"commit\"]"' "preupload, then LFS batch, then commit"
check 'logq "max(L.index(e) for e in $SHARDS) < min(L.index(e) for e in L if \"/commit/\" in e[\"path\"])"' "the shard before the commit"
for f in a c; do
    rm -f "$T/back"
    HF_TOKEN=hf_test "$CAS" get acme/demo up/$f.bin --endpoint "$URL" -o "$T/back" > /dev/null 2> "$T/err"
    check '[ $? -eq 0 ] && cmp -s "$T/back" "$T/$f.bin"' "put then get up/$f.bin: the same bytes ($(tail -c 200 "$T/err"))"
done
for f in e.bin README.md; do # regular files (empty; small text): inline in the commit, not Xet
    python3 -c "import sys, urllib.request as u; r = u.urlopen(u.Request('$URL/acme/demo/resolve/main/up/$f', headers={'Authorization': 'Bearer hf_test'})); sys.exit(r.read() != open('$T/$f', 'rb').read())"
    check '[ $? -eq 0 ]' "put committed $f as a regular file"
done
# one file with --path-in-repo: that exact path; a repo the token cannot write: refused
HF_TOKEN=hf_test "$CAS" put acme/demo "$T/c.bin" --endpoint "$URL" --path-in-repo deep/dir/named.bin > /dev/null 2> "$T/err"
HF_TOKEN=hf_test "$CAS" get acme/demo deep/dir/named.bin --endpoint "$URL" -o "$T/back2" > /dev/null 2>&1
check '[ $? -eq 0 ] && cmp -s "$T/back2" "$T/c.bin"' "put --path-in-repo P (one file): committed at P"
HF_TOKEN=hf_test "$CAS" put nobody/nothing "$T/c.bin" --endpoint "$URL" > "$T/cout" 2> "$T/err"
check '[ $? -eq 1 ] && [ ! -s "$T/cout" ] && [ $(wc -l < "$T/err") -eq 1 ] && grep -q "preupload: HTTP 404" "$T/err"' "put to an unknown repo: one line, nothing printed ($(cat "$T/err"))"
check 'logq "all(e[\"method\"] != \"GET\" or not e[\"path\"].startswith(\"/v1/chunks/\") or e[\"status\"] in (200, 404) for e in L)"' "dedup queries answered"

# ---- round trip: every file back through cas get ----
for f in a b c e; do
    h=$(grep " $T/$f.bin\$" "$T/out" | cut -c1-64)
    "$CAS" get --cas-url "$URL" --token "$RTOK" "$h" -o "$T/back.$f" > /dev/null 2>&1 && cmp -s "$T/back.$f" "$T/$f.bin"
    check '[ $? -eq 0 ]' "round trip $f"
done

# ---- a second put of the same file: global dedup, no xorb ----
ctl reset
"$CAS" put --cas-url "$URL/" --token "$WTOK" "$T/a.bin" > "$T/out2" 2> "$T/err"
check '[ $? -eq 0 ]' "second put: status"
check 'cmp -s "$T/out2" "$(grep " $T/a.bin\$" "$T/out" > "$T/a.line"; echo "$T/a.line")"' "second put: same line"
check 'logq "len($XORBS) == 0 and len($SHARDS) >= 1"' "second put: no xorb uploaded (global dedup)"
check 'logq "any(e[\"path\"].startswith(\"/v1/chunks/default-merkledb/\") and e[\"status\"] == 200 for e in L)"' "second put: a dedup query found it"

# ---- the dedup prefix: default-merkledb answers 404 for the route, `default` works ----
ctl reset
fault dedup-merkledb-404 -1
"$CAS" put --cas-url "$URL" --token "$WTOK" "$T/b.bin" > /dev/null 2> "$T/err"
check '[ $? -eq 0 ]' "prefix fallback: status"
check 'logq "any(e[\"path\"].startswith(\"/v1/chunks/default/\") and e[\"status\"] == 200 for e in L) and len($XORBS) == 0"' \
    "prefix fallback: the default prefix answered, nothing uploaded"
fault dedup-merkledb-404 0

# ---- retries: bursts of 500 and 429 on xorb uploads, a 500 on the shard ----
ctl reset
fault upload-500 2
fault upload-429 2
fault shard-500 1
"$CAS" put --cas-url "$URL" --token "$WTOK" --jobs 2 "$T/f1.bin" "$T/f2.bin" > "$T/out3" 2> "$T/err"
check '[ $? -eq 0 ]' "faults: retried and succeeded ($(cat "$T/err"))"
check 'logq "sum(1 for e in L if e.get(\"fault\") in (\"upload-500\", \"upload-429\", \"shard-500\")) == 5"' "faults: all five were hit"
check 'logq "all(e[\"status\"]==200 for e in $XORBS if not e.get(\"fault\")) and $SHARDS[-1][\"status\"] == 200"' "faults: then accepted"
check 'grep -q " 5 retries" "$T/err"' "faults: 5 retries in the summary"
h=$(grep " $T/f2.bin\$" "$T/out3" | cut -c1-64)
"$CAS" get --cas-url "$URL" --token "$RTOK" "$h" -o "$T/back.f2" > /dev/null 2>&1 && cmp -s "$T/back.f2" "$T/f2.bin"
check '[ $? -eq 0 ]' "faults: round trip"

# ---- a permanent failure: exit 1, nothing printed, no shard sent ----
ctl reset
fault upload-500 -1
"$CAS" put --cas-url "$URL" --token "$WTOK" --tries 3 "$T/f3.bin" > "$T/out4" 2> "$T/err"
check '[ $? -eq 1 ] && [ ! -s "$T/out4" ]' "permanent 500: exit 1, no output"
check 'logq "len($XORBS) == 3 and len($SHARDS) == 0"' "permanent 500: 3 tries, no shard POST"
fault upload-500 0
# an error body with terminal controls: shown, but escaped (no raw ESC, BEL, CR or C1 byte)
ctl reset
fault upload-ansi 1
"$CAS" put --cas-url "$URL" --token "$WTOK" "$T/f3.bin" > /dev/null 2> "$T/err"
check '[ $? -eq 1 ] && grep -q "server said: bad xorb" "$T/err"' "an error body is shown"
check 'python3 -c "import sys; d=open(sys.argv[1],\"rb\").read(); sys.exit(any(c in d for c in (b\"\\x1b\", b\"\\x07\", b\"\\r\", b\"\\xc2\\x9b\")))" "$T/err"' \
    "an error body's control characters are escaped"
# a read token cannot upload
"$CAS" put --cas-url "$URL" --token "$RTOK" "$T/f3.bin" > /dev/null 2>&1
check '[ $? -eq 1 ]' "read token: exit 1"

# ---- /v2/shards served: NDJSON events ----
ctl config '{"shards_v2": true}'
ctl reset
"$CAS" put --cas-url "$URL" --token "$WTOK" "$T/f4.bin" > "$T/out5" 2> "$T/err"
check '[ $? -eq 0 ]' "v2 shards: status"
check 'logq "[(e[\"path\"], e[\"status\"]) for e in $SHARDS] == [(\"/v2/shards\", 200)]"' "v2 shards: one POST /v2/shards"
h=$(cut -c1-64 "$T/out5")
"$CAS" get --cas-url "$URL" --token "$RTOK" "$h" -o "$T/back.f4" > /dev/null 2>&1 && cmp -s "$T/back.f4" "$T/f4.bin"
check '[ $? -eq 0 ]' "v2 shards: round trip"
ctl config '{"shards_v2": false}'

# ---- --store: the local shards are a dedup cache; xorbs and shards are kept there ----
ctl reset
"$CAS" put --cas-url "$URL" --token "$WTOK" --store "$T/local" "$T/f5.bin" > /dev/null 2> "$T/err"
check '[ $? -eq 0 ] && [ $(ls "$T/local/xorbs" | wc -l) -eq 1 ] && [ $(ls "$T/local/shards" | wc -l) -eq 1 ]' "--store: xorb and shard kept"
check '"$CAS" shard verify "$T/local/shards/"* --store "$T/local" > /dev/null' "--store: the kept shard verifies"
ctl reset
"$CAS" put --cas-url "$URL" --token "$WTOK" --store "$T/local" "$T/f5.bin" > /dev/null 2> "$T/err"
check '[ $? -eq 0 ]' "--store again: status"
check 'logq "len($XORBS) == 0 and not any(e[\"path\"].startswith(\"/v1/chunks/\") for e in L)"' "--store again: local dedup, no query, no xorb"

# ---- --threads: compression on a pool and SHA-256 on its own thread send the same bytes. Fresh
# compressible data to a fresh server each time, so nothing dedups and LZ4 runs; then a FIFO
# (read once: the SHA-256 must be of the bytes pushed, not of a second read) ----
python3 -c "
import random
r = random.Random(5)
w = [b'alpha', b'beta', b'xet', b'chunk', b'tensor', b'weights', b'layer', b'\\n']
open('$T/t.txt', 'wb').write(b' '.join(r.choice(w) for _ in range(60000)))
"
for t in 1 3; do
    stop_server
    rm -rf "$T/s"
    mkdir -p "$T/s/xorbs" "$T/s/shards"
    start_server
    WTOK=$(token write)
    "$CAS" put --cas-url "$URL" --token "$WTOK" --threads $t --store "$T/th$t" "$T/t.txt" "$T/c.bin" > "$T/th$t.out" 2> "$T/err"
    check '[ $? -eq 0 ]' "--threads $t: status ($(cat "$T/err"))"
    check '[ "$(ls "$T/th$t/xorbs" | wc -l)" -ge 1 ]' "--threads $t: new xorbs sent and kept"
done
check '[ -s "$T/th1.out" ] && cmp -s "$T/th1.out" "$T/th3.out"' "--threads 1 and 3: the same hashes, SHA-256s and sizes"
check 'diff -r "$T/th1" "$T/th3" > /dev/null' "--threads 1 and 3: byte-identical xorbs and shards"
mkfifo "$T/fifo"
cat "$T/t.txt" > "$T/fifo" &
writer=$!
"$CAS" put --cas-url "$URL" --token "$WTOK" --threads 3 "$T/fifo" > "$T/fifo.out" 2> "$T/err"
check '[ $? -eq 0 ]' "--threads 3 from a FIFO: status ($(cat "$T/err"))"
check '[ "$(cut -d" " -f1-5 "$T/fifo.out")" = "$(grep "t.txt" "$T/th1.out" | cut -d" " -f1-5)" ]' "FIFO: xet hash, SHA-256 and size of the bytes read"
kill "$writer" 2>/dev/null # only if put failed before reading it all
wait "$writer" 2>/dev/null

# ---- usage and I/O errors ----
"$CAS" put > /dev/null 2>&1
check '[ $? -eq 2 ]' "put without arguments: usage"
"$CAS" put --cas-url "$URL" > /dev/null 2>&1
check '[ $? -eq 2 ]' "put without files: usage"
"$CAS" put --cas-url "$URL" --token "$WTOK" "$T/missing.bin" > /dev/null 2>&1
check '[ $? -eq 2 ]' "missing file: exit 2"
HF_TOKEN=wrong "$CAS" put acme/demo "$T/f6.bin" --endpoint "$URL" > /dev/null 2>&1
check '[ $? -eq 1 ]' "Hub mode with a bad HF_TOKEN: exit 1"

echo "cli_put: $pass passed, $fail failed"
[ $fail -eq 0 ]
