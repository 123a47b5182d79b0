#!/bin/sh
# A round trip past 4 GiB of logical file size, and the download's peak memory.
# A 4.5 GB stream (a 16 MiB random block repeated, then 1 MiB of unique bytes, so that every
# 32-bit offset bug shows while the store stays ~17 MB) is packed from stdin into a store,
# unpacked to stdout (the sequential sink: the reorder window, refetches, the whole-file hash
# check) and compared by SHA-256. /usr/bin/time -v reports the unpack's maximum resident set,
# which must stay within the documented bound: the 64 MiB window + per-request buffers +
# tables, here checked against 64 + 48 MiB. Usage: tests/big_roundtrip.sh [path/to/cas]
set -u
CAS=${1:-./build/cas}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
gen() {
    python3 -c '
import random, sys
r = random.Random(11)
block = r.randbytes(16 << 20)
out = sys.stdout.buffer
for _ in range(268):          # 268 x 16 MiB = 4.496 GB > 4 GiB
    out.write(block)
out.write(r.randbytes(1 << 20))
'
}
fail=0
gen | sha256sum | cut -c1-64 > "$T/sha.in"
gen | "$CAS" pack --store "$T/s" - > "$T/hash" 2> "$T/pack.err" || { echo "FAIL: pack" >&2; cat "$T/pack.err" >&2; exit 1; }
h=$(cut -c1-64 "$T/hash")
stored=$(du -sk "$T/s" | cut -f1)
if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$CAS" unpack --store "$T/s" "$h" -o - 2> "$T/time" | sha256sum | cut -c1-64 > "$T/sha.out"
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time")
else
    "$CAS" unpack --store "$T/s" "$h" -o - | sha256sum | cut -c1-64 > "$T/sha.out"
    rss=
fi
if cmp -s "$T/sha.in" "$T/sha.out"; then echo "big round trip: 4.5 GB through a ${stored} KB store, identical"; else
    echo "FAIL: big round trip: SHA-256 differs" >&2; cat "$T/time" >&2; fail=1; fi
if [ -n "$rss" ]; then
    echo "big round trip: unpack peak RSS ${rss} KB (bound: 64 MiB window + 48 MiB)"
    [ "$rss" -le $(( (64 + 48) * 1024 )) ] || { echo "FAIL: unpack used ${rss} KB" >&2; fail=1; }
fi
exit $fail
