#!/bin/sh
# Integration tests of the `cas` command-line tool: output formats and exit codes.
set -u
CAS=${1:-build/cas}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL cli: $*" >&2; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }

# Known answers from tests/vectors/chunking.txt (oracle: xet-core).
# 1 MiB of the `random` kind, seed 1: regenerate with Python (same splitmix64 as the C tests).
python3 - "$T/r1" <<'PY'
import sys
M = (1 << 64) - 1
s = 1
out = bytearray()
while len(out) < 1048576:
    s = (s + 0x9E3779B97F4A7C15) & M
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    z ^= z >> 31
    out += z.to_bytes(8, "little")
open(sys.argv[1], "wb").write(out[:1048576])
PY
awk '/^case random 1 1048576$/{on=1;next} on&&/^chunk /{print $2" "$3} on&&/^file /{print "FILE "$2; exit}' \
    tests/vectors/chunking.txt > "$T/want"
grep -v '^FILE' "$T/want" > "$T/want.chunks"
"$CAS" chunk "$T/r1" > "$T/got.chunks"; rc=$?
check "chunk exit 0" '[ $rc -eq 0 ]'
check "chunk output equals oracle" 'cmp -s "$T/got.chunks" "$T/want.chunks"'
"$CAS" chunk - < "$T/r1" > "$T/got2.chunks"
check "chunk from stdin" 'cmp -s "$T/got2.chunks" "$T/want.chunks"'
want_file=$(awk '/^FILE/{print $2}' "$T/want")
check "hash output" '[ "$("$CAS" hash "$T/r1")" = "$want_file  $T/r1" ]'
check "hash stdin name" '[ "$("$CAS" hash < "$T/r1")" = "$want_file  -" ]'
: > "$T/empty"
check "hash of empty file is zeros" '[ "$("$CAS" hash "$T/empty")" = "0000000000000000000000000000000000000000000000000000000000000000  $T/empty" ]'
check "chunk of empty file prints nothing" '[ -z "$("$CAS" chunk "$T/empty")" ]'
check "sha256 like sha256sum" '[ "$("$CAS" hash --sha256 "$T/r1" "$T/empty")" = "$(sha256sum "$T/r1" "$T/empty")" ]'
check "two files, two lines" '[ $("$CAS" hash "$T/r1" "$T/empty" | wc -l) -eq 2 ]'
"$CAS" hash "$T/missing" > /dev/null 2> "$T/err"; rc=$?
check "missing file exits 2" '[ $rc -eq 2 ]'
check "missing file names the file" 'grep -q "missing" "$T/err"'
"$CAS" frobnicate > /dev/null 2>&1; rc=$?
check "unknown command exits 2" '[ $rc -eq 2 ]'
"$CAS" > /dev/null 2>&1; rc=$?
check "no command exits 2" '[ $rc -eq 2 ]'
"$CAS" version > "$T/v"; rc=$?
check "version exits 0" '[ $rc -eq 0 ]'
check "version names paths" 'grep -q "^blake3: " "$T/v" && grep -q "^sha256: " "$T/v" && grep -q "^chunker: " "$T/v"'
# xorb pack / ls / cat / verify round trips
python3 - "$T/f32" <<'PY'
import struct, sys
# N(0, 0.02)-like float32 weights (Irwin-Hall of 4 LCG uniforms): BG4 territory
s = 12345
out = bytearray()
for i in range(300000):
    t = 0.0
    for k in range(4):
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        t += (s >> 11) / float(1 << 53)
    out += struct.pack("<f", (t - 2.0) * 0.035)
open(sys.argv[1], "wb").write(out)
PY
for f in "$T/r1" "$T/f32" cas.h; do
  for c in auto none lz4 bg4; do
    h=$("$CAS" xorb pack "$f" -o "$T/x.xorb" --compression $c 2>/dev/null); rc=$?
    check "xorb pack $c $(basename "$f")" '[ $rc -eq 0 ] && [ ${#h} -eq 64 ]'
    check "xorb cat round trip $c $(basename "$f")" '"$CAS" xorb cat "$T/x.xorb" | cmp -s - "$f"'
    check "xorb verify --hash $c" '"$CAS" xorb verify "$T/x.xorb" --hash "$h" > /dev/null'
  done
done
h=$("$CAS" xorb pack "$T/f32" -o "$T/f.xorb" 2>"$T/err")
check "auto picks bg4 for float32" 'grep -q "bg4 [1-9]" "$T/err"'
"$CAS" xorb pack "$T/f32" -o "$T/ff.xorb" --footer > /dev/null 2>&1
check "footer xorb verifies" '"$CAS" xorb verify "$T/ff.xorb" --hash "$h" | grep -q "footer checked"'
check "footer xorb cats" '"$CAS" xorb cat "$T/ff.xorb" | cmp -s - "$T/f32"'
n=$("$CAS" xorb ls "$T/f.xorb" | wc -l)
check "ls: one line per chunk" '[ "$n" -eq "$("$CAS" chunk "$T/f32" | wc -l)" ]'
check "ls columns" '"$CAS" xorb ls "$T/f.xorb" | awk "NF!=6{exit 1}"'
check "ls hashes are the chunk hashes" '[ "$("$CAS" xorb ls "$T/f.xorb" | awk "{print \$6}")" = "$("$CAS" chunk "$T/f32" | awk "{print \$1}")" ]'
"$CAS" chunk "$T/f32" | awk '{print $2}' > "$T/sizes"
first2=$(head -2 "$T/sizes" | awk '{s+=$1} END{print s}')
check "cat --chunks 0-1" '[ "$("$CAS" xorb cat "$T/f.xorb" --chunks 0-1 | wc -c)" -eq "$first2" ]'
"$CAS" xorb verify "$T/f.xorb" --hash 0000000000000000000000000000000000000000000000000000000000000000 > /dev/null 2>&1; rc=$?
check "verify wrong hash exits 1" '[ $rc -eq 1 ]'
cp "$T/f.xorb" "$T/bad.xorb"
printf '\377' | dd of="$T/bad.xorb" bs=1 seek=4 conv=notrunc 2>/dev/null
"$CAS" xorb verify "$T/bad.xorb" > /dev/null 2> "$T/err"; rc=$?
check "corrupt xorb exits 1" '[ $rc -eq 1 ]'
check "corrupt xorb names the byte" 'grep -q "scheme.*at byte 4" "$T/err"'
head -c 1000 "$T/f.xorb" > "$T/trunc.xorb"
"$CAS" xorb cat "$T/trunc.xorb" > /dev/null 2> "$T/err"; rc=$?
check "truncated xorb exits 1" '[ $rc -eq 1 ] && grep -q "truncated\|ends" "$T/err"'
head -c 20000000 /dev/zero > "$T/big0"
cat "$T/big0" "$T/big0" "$T/big0" "$T/big0" > "$T/big"
"$CAS" xorb pack "$T/big" -o "$T/big.xorb" --compression none > /dev/null 2> "$T/err"; rc=$?
check "over 64 MiB: refused" '[ $rc -eq 1 ] && grep -q "does not fit" "$T/err" && [ ! -e "$T/big.xorb" ]'

# --threads N: parallel chunking gives the same chunks and hashes as one thread, on files
# whose segment seams are easy (random), never meet (zeros: 128 KiB cuts from any start) or
# repeat (periodic), past one 256 MiB window, and a file under the 32 MiB the threads need
python3 - "$T" <<'PY'
import os, random, sys
t = sys.argv[1]
r = random.Random(5)
open(t + "/pr.bin", "wb").write(os.urandom(300_000_000))
blk = r.randbytes(4096)
open(t + "/pp.bin", "wb").write(blk * 12000 + bytes(3_000_000) + r.randbytes(5_000_000))
open(t + "/ps.bin", "wb").write(r.randbytes(1_000_000))
PY
# (a regular file of 32 MiB or more is mapped, with any --threads; a pipe is streamed, the
# reference)
for f in pr.bin pp.bin ps.bin big; do
    "$CAS" hash --threads 1 "$T/$f" > "$T/h1"; "$CAS" hash --threads 2 "$T/$f" > "$T/h2"; "$CAS" hash --threads 3 "$T/$f" > "$T/h3"
    cat "$T/$f" | "$CAS" hash - | sed "s|  -\$|  $T/$f|" > "$T/h0"
    check "hash --threads 1, 2 and 3 = the stream of a pipe ($f)" 'cmp -s "$T/h0" "$T/h1" && cmp -s "$T/h1" "$T/h2" && cmp -s "$T/h1" "$T/h3" && [ -s "$T/h1" ]'
done
"$CAS" chunk --threads 1 "$T/pp.bin" > "$T/c1"; "$CAS" chunk --threads 2 "$T/pp.bin" > "$T/c2"; cat "$T/pp.bin" | "$CAS" chunk - > "$T/c0"
check "chunk --threads 1 and 2 = the stream of a pipe" 'cmp -s "$T/c0" "$T/c1" && cmp -s "$T/c1" "$T/c2" && [ $(wc -l < "$T/c1") -gt 300 ]'
# A mapped file that shrinks while it is hashed: a message and status 2, not death by
# SIGBUS. cas chunk prints a window's chunks after chunking it; 300 MiB of zeros make 2400
# lines (> a pipe's 64 KiB) for the first 256 MiB window, so cas blocks on the pipe until
# the reader has truncated the file, and the second window is gone when it is read.
truncate -s 300M "$T/shrink.bin"
( "$CAS" chunk --threads 1 "$T/shrink.bin" 2> "$T/err"; echo $? > "$T/rc" ) | { head -c 100 > /dev/null; truncate -s 0 "$T/shrink.bin"; cat > /dev/null; }
check "a mapped file that shrinks: said, status 2" '[ "$(cat "$T/rc")" = 2 ] && grep -q "shrank while it was read" "$T/err" && grep -q "shrink.bin" "$T/err"'
rm -f "$T/shrink.bin"
"$CAS" hash --threads 0 "$T/ps.bin" > /dev/null 2> "$T/err"; rc=$?
check "hash --threads 0: a usage error" '[ $rc -eq 2 ] && grep -q -- "--threads 0" "$T/err"'
# and the upload engine's parallel chunking (cas pack --threads: its lookahead scanned by
# cas_chunk_buffer): the stores 1 and 3 threads write are the same bytes
head -c 40000000 "$T/pr.bin" > "$T/pr40"
for t in 1 3; do "$CAS" pack --store "$T/st$t" --threads $t "$T/pr40" "$T/pp.bin" > "$T/pk$t" 2>/dev/null; done
check "pack --threads 3 writes the store 1 thread writes" 'cmp -s "$T/pk1" "$T/pk3" && diff -r "$T/st1" "$T/st3" > /dev/null && [ -n "$(ls "$T/st1/xorbs")" ]'
# (both files are mapped, >= 32 MiB; from FIFOs they are read: the same store)
mkfifo "$T/fifo1" "$T/fifo2"
cat "$T/pr40" > "$T/fifo1" & cat "$T/pp.bin" > "$T/fifo2" &
"$CAS" pack --store "$T/st0" --threads 3 "$T/fifo1" "$T/fifo2" > "$T/pk0" 2>/dev/null
wait
check "pack of mapped files = pack of the same bytes from FIFOs" '[ "$(cut -c1-64 "$T/pk0")" = "$(cut -c1-64 "$T/pk1")" ] && diff -r "$T/st0" "$T/st1" > /dev/null'
rm -f "$T/fifo1" "$T/fifo2"
# A mapped file changed (not shrunk) while it is read: an error, not a hash of a mix of old
# and new bytes (cas chunk blocked on its pipe after the first window, as above).
truncate -s 300M "$T/change.bin"
( "$CAS" chunk --threads 2 "$T/change.bin" 2> "$T/err"; echo $? > "$T/rc" ) | { head -c 100 > /dev/null; printf x | dd of="$T/change.bin" bs=1 seek=5 conv=notrunc 2> /dev/null; cat > /dev/null; }
check "a mapped file changed while read: said, status 2" '[ "$(cat "$T/rc")" = 2 ] && grep -q "changed while it was read" "$T/err"'
rm -rf "$T/pr.bin" "$T/pp.bin" "$T/pr40" "$T/st0" "$T/st1" "$T/st3" "$T/change.bin"

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
