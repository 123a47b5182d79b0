#!/bin/sh
# The download path as whole processes: `cas unpack` of a ~1 GiB file from a directory store
# to /dev/null (shards read, the manifest built, every xorb range read, decoded, each chunk
# checked against the shards and the file hash against the one asked for), against `cat` of
# the file's bytes (the floor: reading them) and `lz4 -d` of an LZ4 frame file of them made
# by the lz4 CLI (-1, the compressor level xet-core's LZ4 is; 64 KiB independent blocks, as a
# Xet chunk is one 64 KiB-ish independent block; the frame's content checksum kept: lz4's
# own check of what it decoded). Every input is in the page cache; best of 3 wall times.
# The file: BENCH_UNPACK_MB MiB (default 1024): half text-like (lines of words drawn at random
# from 65536 lines: LZ4 takes it to ~0.55, and no chunk repeats, so nothing is deduplicated),
# then half random bytes (stored uncompressed). Peak disk use: ~2.7x the file, in a
# directory under ${TMPDIR:-/tmp} removed at exit.
# Usage: tests/bench_unpack.sh [path/to/cas]
set -u
CAS=${1:-./build/cas}
MB=${BENCH_UNPACK_MB:-1024}
. "$(dirname "$0")/bench_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/cas-bench-unpack.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
half=$((MB * 1048576 / 2))
python3 - "$T/file" "$half" <<'PY' || exit 2
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
r = random.Random(1)
letters = 'etaoinshrdlcumwfgypbvkjxqz'
vocab = [''.join(r.choices(letters, k=r.randrange(2, 10))).encode() for _ in range(5000)]
cum, total = [], 0.0
for i in range(len(vocab)):  # Zipf-like: the i-th word is used 1/i as often as the first
    total += 1.0 / (i + 1)
    cum.append(total)
lines = [b' '.join(r.choices(vocab, cum_weights=cum, k=r.randrange(4, 16))) + b'\n' for _ in range(65536)]
with open(path, 'wb') as out:
    n = 0
    while n < size:
        block = b''.join(r.choices(lines, k=200000))[:size - n]
        out.write(block)
        n += len(block)
PY
head -c "$half" /dev/urandom >> "$T/file"
size=$(wc -c < "$T/file")
hash=$("$CAS" pack -q --store "$T/store" "$T/file" 2>/dev/null | awk '{print $1}')
[ -n "$hash" ] || { echo "bench_unpack: cas pack failed" >&2; exit 1; }
stored=$(du -sb "$T/store/xorbs" | awk '{print $1}')
status=0
unpack=$(best_s "$CAS" unpack -q --store "$T/store" "$hash" -o -) || status=1
cat=$(best_s cat "$T/file") || status=1
if command -v lz4 > /dev/null 2>&1; then
    lz4 -q -1 -B4 "$T/file" "$T/file.lz4" || status=1
    lz4d=$(best_s lz4 -q -d -c "$T/file.lz4") || status=1
    framed=$(wc -c < "$T/file.lz4")
else
    lz4d=0 framed=0
fi
[ $status -eq 0 ] || exit 1
python3 - "$size" "$stored" "$unpack" "$cat" "$lz4d" "$framed" <<'PY'
import sys
size, stored, unpack, cat, lz4d, framed = map(float, sys.argv[1:])
mib, gb = size / 1048576, size / 1e9
print("whole processes, %.0f MiB (half text-like, half random), page cache to /dev/null, best of 3:" % mib)
print("  cas unpack (store: xorbs %.3f of the size) %6.3f s  %5.2f GB/s" % (stored / size, unpack, gb / unpack))
print("  cat of the file                            %6.3f s  %5.2f GB/s  cas unpack / cat: %.2fx the speed"
      % (cat, gb / cat, cat / unpack))
if lz4d:
    print("  lz4 -d (-1 -B4 frame, %.3f of the size)    %6.3f s  %5.2f GB/s  cas unpack / lz4 -d: %.2fx the speed"
          % (framed / size, lz4d, gb / lz4d, lz4d / unpack))
else:
    print("  lz4 CLI not installed (apt-get install lz4): no lz4 -d peer")
PY
