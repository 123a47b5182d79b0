#!/bin/sh
# CLI tests of `cas pack --store DIR FILE...`. Usage: tests/cli_pack.sh [path/to/cas]
# Optional: ORACLE=/path/to/oracle (with node_modules) compares file hashes with HF's upload.
set -u
CAS=${1:-./build/cas}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/clilib.sh"
count() { ls "$1" 2>/dev/null | grep -c '^[0-9a-f]\{64\}$'; }

# inputs: 6 MiB of pseudo-random bytes, the same with 100 bytes inserted in the middle, empty
head -c 6291456 /dev/urandom > "$T/a.bin" 2>/dev/null ||
    dd if=/dev/urandom of="$T/a.bin" bs=1048576 count=6 2>/dev/null
head -c 3145728 "$T/a.bin" > "$T/b.bin"
head -c 100 /dev/urandom >> "$T/b.bin"
tail -c +3145729 "$T/a.bin" >> "$T/b.bin"
: > "$T/empty"
cp "$T/a.bin" "$T/a-copy.bin"

# 1. output format: "<hash>  <name>", the hash of `cas hash`
"$CAS" pack --store "$T/s" "$T/a.bin" > "$T/out1" 2> "$T/err1"
check '[ $? -eq 0 ]' "pack exit status"
check '[ "$(cat "$T/out1")" = "$("$CAS" hash "$T/a.bin")" ]' "pack prints what cas hash prints"
check 'grep -q "^[0-9a-f]\{64\}  $T/a.bin\$" "$T/out1"' "output format"
check 'grep -q "bytes in" "$T/err1" && grep -q "chunks per term" "$T/err1"' "summary on stderr"
x1=$(count "$T/s/xorbs")
check '[ "$x1" -ge 1 ] && [ "$(count "$T/s/shards")" -eq 1 ]' "xorbs and one shard written"
check '[ -z "$(ls "$T/s/xorbs" "$T/s/shards" | grep "\.tmp$")" ]' "no temporaries left"

# 2. the store verifies: every term's verification hash against the stored xorbs
for sh in "$T"/s/shards/*; do
    check '"$CAS" shard verify "$sh" --store "$T/s" > /dev/null' "shard verify --store"
done
for xb in "$T"/s/xorbs/*; do
    check '[ "$("$CAS" xorb verify "$xb" 2>/dev/null | tail -n 1 | cut -c1-64)" = "$(basename "$xb")" ]' "xorb name = its hash"
done

# 3. the same file again (another name): no new xorb, one new shard
"$CAS" pack --store "$T/s" "$T/a-copy.bin" > "$T/out2" 2> "$T/err2"
check '[ $? -eq 0 ]' "second pack"
check '[ "$(count "$T/s/xorbs")" -eq "$x1" ]' "same file twice: no new xorb"
check 'grep -q " 0 new bytes stored" "$T/err2"' "same file twice: 0 new bytes ($(cat "$T/err2"))"

# 4. --dry-run: the insertion against the store, nothing written; then the same, for real:
# only the chunks around the edit are stored, as many as the dry run said
nshards=$(count "$T/s/shards")
"$CAS" pack --dry-run --store "$T/s" "$T/b.bin" > "$T/out3d" 2> "$T/err3d"
check '[ $? -eq 0 ]' "dry run exit status"
check '[ "$(cat "$T/out3d")" = "$("$CAS" hash "$T/b.bin")" ]' "dry run: file hash"
check '[ "$(count "$T/s/xorbs")" -eq "$x1" ] && [ "$(count "$T/s/shards")" -eq "$nshards" ]' "dry run: nothing written"
check 'grep -q "1 xorbs and 1 shards built (dry run: none written)" "$T/err3d"' "dry run summary ($(cat "$T/err3d"))"
dry=$(sed -n 's/.* new bytes to store (\([0-9]*\) chunks.*/\1/p' "$T/err3d")
"$CAS" pack --dry-run "$T/a.bin" > /dev/null 2> "$T/err3e"
check '[ $? -eq 0 ] && grep -q " 6291456 new bytes to store" "$T/err3e"' "dry run without a store: every byte new"
"$CAS" pack --dry-run --store "$T/nope" "$T/a.bin" > /dev/null 2>&1
check '[ $? -eq 2 ] && [ ! -e "$T/nope" ]' "dry run against a missing store: exit 2, nothing created"
"$CAS" pack --store "$T/s" "$T/b.bin" > "$T/out3" 2> "$T/err3"
check '[ $? -eq 0 ]' "insertion pack"
chunks=$(sed -n 's/.* new bytes stored (\([0-9]*\) chunks.*/\1/p' "$T/err3")
check '[ -n "$chunks" ] && [ "$chunks" -ge 1 ] && [ "$chunks" -le 3 ]' "insertion: $chunks new chunks ($(cat "$T/err3"))"
check '[ "$chunks" = "$dry" ]' "dry run predicted $dry new chunks, pack stored $chunks"
check '[ "$(count "$T/s/xorbs")" -eq $((x1 + 1)) ]' "insertion: one small xorb"
check '[ "$(cat "$T/out3")" = "$("$CAS" hash "$T/b.bin")" ]' "insertion: file hash"

# 5. several files in one session, the empty file included
"$CAS" pack --store "$T/s2" "$T/empty" "$T/a.bin" "$T/b.bin" > "$T/out4" 2> "$T/err4"
check '[ $? -eq 0 ] && [ "$(wc -l < "$T/out4")" -eq 3 ]' "three files"
check 'head -n 1 "$T/out4" | grep -q "^0\{64\}  "' "empty file: zero hash"
for sh in "$T"/s2/shards/*; do
    check '"$CAS" shard verify "$sh" --store "$T/s2" > /dev/null' "shard verify (3 files)"
done

# 6. errors
"$CAS" pack "$T/a.bin" > /dev/null 2>&1
check '[ $? -eq 2 ]' "no --store: usage"
"$CAS" pack --store "$T/s3" "$T/missing" > /dev/null 2>&1
check '[ $? -eq 2 ]' "missing file: exit 2"
echo garbage > "$T/s/shards/0000000000000000000000000000000000000000000000000000000000000000"
"$CAS" pack --store "$T/s" "$T/a.bin" > /dev/null 2>&1
check '[ $? -eq 1 ]' "corrupt shard in the store: exit 1"

# 7. oracle: HF's own upload gives the same file hashes
if [ -n "${ORACLE:-}" ] && [ -d "$ORACLE/node_modules" ]; then
    (cd "$ORACLE" && node xet-oracle.mjs upload "$T/o" "$T/a.bin" "$T/b.bin" "$T/empty" > "$T/oracle.log" 2>&1)
    for f in a.bin b.bin empty; do
        h=$(grep -o "[0-9a-f]\{64\}  $T/$f\$" "$T/out4" | cut -c1-64)
        check '[ -n "$h" ] && grep -q "$h" "$T/o/upload.json"' "oracle file hash of $f ($h)"
    done
fi

echo "cli_pack: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
