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
echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
