#!/bin/sh
# The upload pipeline's throughput (chunk + hash + SHA-256 + compress + xorb write, to memory:
# `cas pack --dry-run`, input from the page cache) with 1 thread and with N threads (chunk
# compression through the engine's parallel hook, SHA-256 on its own thread), on 200 MB of
# text (LZ4-heavy) and 200 MB of random bytes (stored uncompressed); best of 3 runs each. The
# stores that 1 and N threads write must be identical. Then the edited-copy workload: the
# random file packed into a store, and a copy with 8 edits (inserts, deletes, overwrites of
# 1..4 KiB) dry-run against it: dedup ratio and new bytes per edit. And `cas hash` of 512 MiB
# at 1 and N threads against b3sum at 1 and N threads, and on 1 GiB against the in-process
# chunk + hash speed.
# Usage: tests/bench_pack.sh [path/to/cas] [N]
set -u
CAS=${1:-./build/cas}
N=${2:-$(nproc 2>/dev/null || echo 2)}
[ "$N" -ge 2 ] 2>/dev/null || N=2
. "$(dirname "$0")/bench_lib.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 -c "
import random
r = random.Random(1)
w = [b'alpha', b'beta', b'xet', b'chunk', b'tensor', b'weights', b'layer', b'\n']
out = open('$T/text', 'wb')
block = b' '.join(r.choice(w) for _ in range(2000000))
while out.tell() < 200_000_000: out.write(block)
out.close()
data = bytearray(r.randbytes(200_000_000))
open('$T/random', 'wb').write(data)
for k in range(8):  # edits spread over the file, each 1..4 KiB
    at = (k + 1) * len(data) // 9 + r.randrange(1 << 20)
    n = r.randrange(1024, 4097)
    kind = k % 3
    if kind == 0: data[at:at] = r.randbytes(n)
    elif kind == 1: del data[at:at + n]
    else: data[at:at + n] = r.randbytes(n)
open('$T/edited', 'wb').write(data)
"
best_mbs() { # file threads: best MB/s of 3 dry runs; fails if a run fails
    secs=$(best_s "$CAS" pack --dry-run --threads "$2" "$1") || return 1
    python3 -c "print(round($(wc -c < "$1") / $secs / 1e6))"
}
status=0
for f in text random; do
    one=$(best_mbs "$T/$f" 1) || { status=1; continue; }
    many=$(best_mbs "$T/$f" "$N") || { status=1; continue; }
    same=identical
    for t in 1 "$N"; do "$CAS" pack --store "$T/s$t" --threads "$t" "$T/$f" > /dev/null 2>&1 || same=FAILED; done
    [ "$same" = identical ] && ! diff -r "$T/s1" "$T/s$N" > /dev/null && same=DIFFERENT
    [ "$same" = identical ] || status=1
    rm -rf "$T/s1" "$T/s$N"
    printf 'upload pipeline %-6s  1 thread %5s MB/s   %2s threads %5s MB/s   ratio %s   (%s stores)\n' \
        "$f" "$one" "$N" "$many" "$(python3 -c "print(round($many / $one, 2))")" "$same"
done
# cas hash of a 512 MiB file (page cache) at 1 and N threads (parallel chunking,
# cas_chunk_buffer), against b3sum at 1 and N threads on the same file (BLAKE3 alone: the
# floor for a Xet hash, which also chunks); best of 3 wall times, whole processes
head -c 536870912 /dev/urandom > "$T/h512"
h1=$(best_s "$CAS" hash --threads 1 "$T/h512") && hn=$(best_s "$CAS" hash --threads "$N" "$T/h512") || status=1
if command -v b3sum > /dev/null 2>&1; then
    b1=$(best_s b3sum --num-threads 1 "$T/h512"); bn=$(best_s b3sum --num-threads "$N" "$T/h512")
else
    b1= bn=
fi
python3 - "$h1" "$hn" "${b1:-0}" "${bn:-0}" "$N" <<'PY'
import sys
h1, hn, b1, bn, n = map(float, sys.argv[1:])
mb = 536870912 / 1e6
print("cas hash 512 MiB   1 thread %6.0f MB/s   %d threads %6.0f MB/s   ratio %.2f" % (mb / h1, n, mb / hn, h1 / hn))
if b1 and bn:
    print("b3sum    512 MiB   1 thread %6.0f MB/s   %d threads %6.0f MB/s   cas hash / b3sum time: %.2f (1 thread), %.2f (%d threads)"
          % (mb / b1, n, mb / bn, h1 / b1, hn / bn, n))
else:
    print("b3sum not installed (apt-get install b3sum): no BLAKE3-alone peer")
PY
rm -f "$T/h512"
# cas hash --threads 1 of a 1 GiB page-cached file as a whole process (mapping, faults, Merkle
# tree and all) against the in-process chunk + hash of the same bytes already in memory
# (build/bench --file; issue #17's goal: >= 0.9x); best of 3 each
BENCH=$(dirname "$CAS")/bench
if [ -x "$BENCH" ]; then
    head -c 1073741824 /dev/urandom > "$T/h1g"
    cat "$T/h1g" > /dev/null
    w=$(best_s "$CAS" hash --threads 1 "$T/h1g") && p=$("$BENCH" --file "$T/h1g") || status=1
    python3 -c "
w, (p, m) = $w, '$p'.split()
mbs, p, m = 1073741824 / w / 1e6, float(p), float(m)
print('cas hash 1 GiB     1 thread %6.0f MB/s whole process   in-process chunk + hash %6.0f MB/s   ratio %.2f (>= 0.9x)' % (mbs, p, mbs / p))
print('                   in-process over the file mapped (4 KiB page-cache pages) %6.0f MB/s: whole process / that %.2f' % (m, mbs / m))
" || status=1
    rm -f "$T/h1g"
else
    echo "$BENCH not built (make build/bench): no in-process figure for cas hash"
fi
"$CAS" pack --store "$T/store" "$T/random" > /dev/null 2>&1 || status=1
"$CAS" pack --dry-run --store "$T/store" "$T/edited" 2>&1 >/dev/null | python3 -c "
import re, sys
line = sys.stdin.read()
m = re.search(r'(\d+) bytes in, (\d+) new bytes to store .* (\d+) bytes deduplicated .* ([\d.]+) chunks per term', line)
if not m: sys.exit('unexpected summary: ' + line)
total, new, dedup, cpt = int(m[1]), int(m[2]), int(m[3]), float(m[4])
print('edited copy (8 edits of 1-4 KiB in 200 MB): dedup ratio %.4f, %d new bytes (%.0f KiB per edit), %.1f chunks per term'
      % (dedup / total, new, new / 8 / 1024, cpt))
" || status=1
exit $status
