#!/bin/sh
# cas get fetches each byte once (issue #16): the test server's request log shows which xorb
# ranges were fetched. A file of several ~64 MB xorbs and a heavily self-deduplicated one,
# with --jobs 1, 4, 8, 16, into a file (positional writes into OUT.part) and to stdout (the
# sequential sink, its window sized from the ranges in flight); then a download killed with
# kill -9 and resumed from OUT.part's journal fetches only what was missing or in flight,
# and a journaled term damaged on disk is fetched again.
# Usage: tests/cli_fetch.sh build/cas
NAME=cli_fetch
CAS=${1:-build/cas}
. "$(dirname "$0")/hubserver.sh"

if "$CAS" get 2>&1 | grep -q "no libcurl"; then
    echo "cli_fetch: cas built without libcurl: skipped" >&2
    [ "${CI:-}" = true ] && { echo "FAIL: CI: cas built without libcurl" >&2; exit 1; }
    exit 0
fi

# big.bin: 240 MB of random bytes (4 xorbs of ~64 MB); dup.bin: one 6 MB random block 24
# times, each copy followed by 64 KB of its own (one xorb's range serves 24 terms)
python3 - "$T" <<'PY'
import os, random, sys
t = sys.argv[1]
open(t + "/big.bin", "wb").write(os.urandom(240_000_000))
r = random.Random(7)
block = r.randbytes(6_000_000)
with open(t + "/dup.bin", "wb") as f:
    for i in range(24):
        f.write(block)
        f.write(r.randbytes(64_000))
PY
"$CAS" pack --store "$T/s" "$T/big.bin" "$T/dup.bin" > "$T/hashes" 2>/dev/null || { echo "FAIL: pack" >&2; exit 1; }
hash_of() { grep " $T/$1\$" "$T/hashes" | cut -c1-64; }
start_server --file "model/acme/demo/big.bin=$(hash_of big.bin)" --file "model/acme/demo/dup.bin=$(hash_of dup.bin)"
export HF_TOKEN=hf_test

# fetched FILE: "<bytes of xorb ranges fetched> <ranges fetched twice> <ratio to FILE's size>"
# from the log since the last reset (206 answers; a range asked for twice counts twice)
fetched() {
    python3 - "$URL" "$T/$1" <<'PY'
import json, os, sys, urllib.request as u
log = json.load(u.urlopen(sys.argv[1] + "/_control/log"))
total, seen, twice = 0, set(), 0
for r in log:
    if not r["path"].startswith("/xorb/") or r["status"] != 206: continue
    for part in (r["range"] or "").split("=", 1)[1].split(","):
        a, b = (int(x) for x in part.split("-"))
        total += b - a + 1
        key = (r["path"], a, b)
        twice += key in seen
        seen.add(key)
print(total, twice, "%.4f" % (total / os.path.getsize(sys.argv[2])))
PY
}
# once_ok NAME FILE: the last download fetched no range twice and <= 1.01x the file
once_ok() {
    set -- "$1" "$2" $(fetched "$2")
    echo "cli_fetch: $1: $3 bytes of xorb ranges for $(wc -c < "$T/$2") bytes ($5x), $4 ranges fetched twice"
    check "[ $4 -eq 0 ] && python3 -c 'import sys; sys.exit(not $5 <= 1.01)'" "$1: each byte fetched once ($3 bytes, ${5}x, $4 twice)"
}

for f in big.bin dup.bin; do
    for j in 1 4 8 16; do
        ctl reset; rm -f "$T/out"
        "$CAS" get acme/demo "$f" --endpoint "$URL" --jobs $j -o "$T/out" > /dev/null 2> "$T/err"
        check '[ $? -eq 0 ] && cmp -s "$T/out" "$T/$f" && [ ! -e "$T/out.part" ] && [ ! -e "$T/out.part.journal" ]' "get $f --jobs $j ($(tail -c 200 "$T/err"))"
        once_ok "get $f --jobs $j" "$f"
    done
    ctl reset
    "$CAS" get acme/demo "$f" --endpoint "$URL" --jobs 8 -o - > "$T/out" 2> "$T/err"
    check '[ $? -eq 0 ] && cmp -s "$T/out" "$T/$f"' "get $f -o - ($(tail -c 200 "$T/err"))"
    once_ok "get $f -o - --jobs 8" "$f"
done

# killed (kill -9) once OUT.part's journal records a finished term: the next run keeps
# what the journal says and fetches the rest
killed_get() {
    rm -f "$T/k" "$T/k.part" "$T/k.part.journal"
    "$CAS" get acme/demo big.bin --endpoint "$URL" --jobs 2 -o "$T/k" > /dev/null 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 600 ] && [ "$( (wc -l < "$T/k.part.journal") 2>/dev/null || echo 0)" -lt 2 ]; do sleep 0.02; i=$((i + 1)); done
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
}
killed_get
check '[ -f "$T/k.part" ] && [ -f "$T/k.part.journal" ] && [ ! -e "$T/k" ]' "kill -9: OUT.part and its journal stay, no OUT"
ctl reset
"$CAS" get acme/demo big.bin --endpoint "$URL" --jobs 2 -o "$T/k" > /dev/null 2> "$T/err"
check '[ $? -eq 0 ] && cmp -s "$T/k" "$T/big.bin" && [ ! -e "$T/k.part" ] && [ ! -e "$T/k.part.journal" ]' "resumed after kill -9 ($(tail -c 200 "$T/err"))"
kept=$(sed -n 's/.*resuming .*: \([0-9]*\) of [0-9]* bytes already there/\1/p' "$T/err")
set -- $(fetched big.bin)
echo "cli_fetch: resumed after kill -9: ${kept:-0} bytes kept, $1 fetched"
# (the rest of the file, plus at most the two ranges that were in flight: 2 x 64 MiB)
check "[ -n '$kept' ] && [ ${kept:-0} -gt 0 ] && [ $1 -le \$((240000000 - ${kept:-0} + 2 * 67108864)) ] && [ $2 -eq 0 ]" "the resumed run fetched only what was missing"

# a journaled term damaged on disk after it was written: fetched again, the file is right
killed_get
python3 -c "f=open('$T/k.part','r+b'); f.seek(1000); b=f.read(1); f.seek(1000); f.write(bytes([b[0]^1]))"
"$CAS" get acme/demo big.bin --endpoint "$URL" -o "$T/k" > /dev/null 2> "$T/err"
check '[ $? -eq 0 ] && cmp -s "$T/k" "$T/big.bin"' "a damaged journaled term is fetched again ($(tail -c 200 "$T/err"))"

# a journal of another file (the repo's file changed): OUT.part starts over
killed_get
python3 -c "p='$T/k.part.journal'; d=bytearray(open(p,'rb').read()); d[20]=ord('0') if d[20]!=ord('0') else ord('1'); open(p,'wb').write(d)"
ctl reset
"$CAS" get acme/demo big.bin --endpoint "$URL" -o "$T/k" > /dev/null 2> "$T/err"
check '[ $? -eq 0 ] && cmp -s "$T/k" "$T/big.bin" && ! grep -q resuming "$T/err"' "a journal of another file: started over"

stop_server
echo "cli_fetch: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
