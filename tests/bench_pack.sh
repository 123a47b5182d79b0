#!/bin/sh
# `cas pack` throughput with one thread and with --threads N (chunk compression through the
# engine's parallel hook, SHA-256 on its own thread): 200 MB of text (LZ4-heavy) and 200 MB
# of random bytes (stored uncompressed), each packed into a fresh store. Prints MB/s and the
# ratio; the stores must be identical. Usage: tests/bench_pack.sh [path/to/cas] [N]
set -u
CAS=${1:-./build/cas}
N=${2:-$(nproc 2>/dev/null || echo 2)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 -c "
import random, sys
r = random.Random(1)
w = [b'alpha', b'beta', b'xet', b'chunk', b'tensor', b'weights', b'layer', b'\n']
out = open('$T/text', 'wb')
block = b' '.join(r.choice(w) for _ in range(2000000))
while out.tell() < 200_000_000: out.write(block)
open('$T/random', 'wb').write(r.randbytes(200_000_000))
"
now() { python3 -c 'import time; print(time.time())'; }
for f in text random; do
    size=$(wc -c < "$T/$f")
    for t in 1 "$N"; do
        rm -rf "$T/s$t"
        a=$(now); "$CAS" pack --store "$T/s$t" --threads "$t" "$T/$f" > /dev/null 2>&1; b=$(now)
        eval "mbs_$t=\$(python3 -c \"print(round($size / ($b - $a) / 1e6))\")"
    done
    same=identical; [ "$(ls "$T/s1/xorbs")" = "$(ls "$T/s$N/xorbs")" ] || same=DIFFERENT
    eval "one=\$mbs_1 many=\$mbs_$N"
    printf 'cas pack %-6s  1 thread %5s MB/s   %2s threads %5s MB/s   ratio %s   (%s stores)\n' \
        "$f" "$one" "$N" "$many" "$(python3 -c "print(round($many / $one, 2))")" "$same"
done
