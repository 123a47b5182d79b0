#!/bin/sh
# The deterministic inputs of the hf-*.shard vectors: text200k.txt (200000 bytes of words),
# empty.bin, rep.bin (one 3000-byte random block repeated 100 times).
set -eu
mkdir -p "$1"
python3 - "$1" <<'PY'
import random, sys
d = sys.argv[1]
r = random.Random(4)
words = [''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(2, 9))) for _ in range(500)]
out, n = [], 0
while n < 200000:
    w = r.choice(words) + (' ' if r.random() < 0.9 else '\n'); out.append(w); n += len(w)
open(d + '/text200k.txt', 'w').write(''.join(out)[:200000])
open(d + '/empty.bin', 'w').close()
r = random.Random(7)
blk = bytes(r.randrange(256) for _ in range(3000))
open(d + '/rep.bin', 'wb').write(blk * 100)
PY
