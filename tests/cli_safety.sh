#!/bin/sh
# File-safety tests of the cas tool (issue #13): outputs are never written through a symlink
# or a planted name, never truncated before the new content is complete, never one of the
# inputs; packs into one store may run at once; `cas store verify` finds a damaged xorb or
# shard and `cas pack --verify-existing` repairs the xorb. Usage: tests/cli_safety.sh [path/to/cas]
set -u
CAS=${1:-./build/cas}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/clilib.sh"
# no temporaries (*.tmp, *.part) left in the given directories
no_temps() { [ -z "$(ls -a "$@" | grep '\.tmp$\|\.part$')" ]; }
# the start of a message file, for a failure's description
said() { head -n 2 "$1" | cut -c1-200; }
# flips the bits of byte $2 of file $1 in place
flip_byte() {
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
umask 022

# inputs: 1 MB and 20 MB of pseudo-random bytes (one xorb each), a victim a hostile user
# points symlinks at
head -c 1000000 /dev/urandom > "$T/a.bin"
head -c 20000000 /dev/urandom > "$T/big.bin"
head -c 3000000 /dev/urandom > "$T/c.bin"
mkdir "$T/w"
echo "victim's data" > "$T/victim"
cp "$T/victim" "$T/victim.orig"
victim_intact() { cmp -s "$T/victim" "$T/victim.orig"; }
# a symlink to the victim at $1 (its content restored first, so each test stands alone)
plant() { cp "$T/victim.orig" "$T/victim" && ln -s "$T/victim" "$1"; }

# 1. xorb pack: OUT a symlink is replaced, not followed; the new file has the umask's mode
plant "$T/w/link.xorb"
"$CAS" xorb pack "$T/a.bin" -o "$T/w/link.xorb" > /dev/null 2>&1
check '[ $? -eq 0 ] && victim_intact' "xorb pack -o SYMLINK: the symlink's target is untouched"
check '[ -f "$T/w/link.xorb" ] && [ ! -L "$T/w/link.xorb" ] && "$CAS" xorb verify "$T/w/link.xorb" > /dev/null' "xorb pack -o SYMLINK: OUT is the new xorb"
check '[ "$(ls -l "$T/w/link.xorb" | cut -c1-10)" = "-rw-r--r--" ]' "xorb pack: OUT has mode 0666 less the umask"

# 2. xorb pack: OUT that is the input (same name, or a hard link) is refused, input unchanged
cp "$T/a.bin" "$T/w/f"
"$CAS" xorb pack "$T/w/f" -o "$T/w/f" > "$T/out2" 2> "$T/err2"
check '[ $? -eq 2 ] && cmp -s "$T/w/f" "$T/a.bin" && [ ! -s "$T/out2" ]' "xorb pack f -o f: refused, f unchanged, no hash printed"
check 'grep -q "$T/w/f: is also an input" "$T/err2"' "xorb pack f -o f: says why ($(said "$T/err2"))"
ln "$T/w/f" "$T/w/f-hardlink"
"$CAS" xorb pack "$T/w/f" -o "$T/w/f-hardlink" > /dev/null 2>&1
check '[ $? -eq 2 ] && cmp -s "$T/w/f" "$T/a.bin"' "xorb pack f -o HARDLINK-OF-f: refused"

# 3. xorb pack that fails (the input is a directory: a read error) leaves OUT as it was
"$CAS" xorb pack "$T/a.bin" -o "$T/w/keep.xorb" > /dev/null 2>&1
cp "$T/w/keep.xorb" "$T/keep.orig"
"$CAS" xorb pack "$T/w" -o "$T/w/keep.xorb" > /dev/null 2>&1
check '[ $? -eq 2 ] && cmp -s "$T/w/keep.xorb" "$T/keep.orig"' "failed xorb pack: the existing OUT untouched"
check 'no_temps "$T/w"' "failed xorb pack: no temporary left"

# 4. pack: a planted symlink at the store's old temporary name <hash>.tmp is not followed
"$CAS" pack --store "$T/s0" "$T/a.bin" > /dev/null 2>&1
x=$(ls "$T/s0/xorbs")
mkdir -p "$T/s1/xorbs" "$T/s1/shards"
plant "$T/s1/xorbs/$x.tmp"
"$CAS" pack --store "$T/s1" "$T/a.bin" > /dev/null 2>&1
check '[ $? -eq 0 ] && victim_intact' "pack: planted DIR/xorbs/HASH.tmp symlink not followed"
check '[ -f "$T/s1/xorbs/$x" ] && [ ! -L "$T/s1/xorbs/$x" ] && cmp -s "$T/s1/xorbs/$x" "$T/s0/xorbs/$x"' "pack: the xorb is a regular file"

# 5. unpack: a planted OUT.part symlink is not followed; OUT gets the file's bytes
"$CAS" pack --store "$T/s" "$T/a.bin" > "$T/hash" 2>/dev/null
h=$(cut -c1-64 "$T/hash")
plant "$T/w/u.part"
"$CAS" unpack --store "$T/s" "$h" -o "$T/w/u" 2>/dev/null
check '[ $? -eq 0 ] && victim_intact && cmp -s "$T/w/u" "$T/a.bin"' "unpack: OUT.part symlink not followed"
plant "$T/w/u2"
"$CAS" unpack --store "$T/s" "$h" -o "$T/w/u2" 2>/dev/null
check '[ $? -eq 0 ] && victim_intact && [ ! -L "$T/w/u2" ] && cmp -s "$T/w/u2" "$T/a.bin"' "unpack -o SYMLINK: replaced, target untouched"
"$CAS" unpack --store "$T/s" "$h" -o "$T/w/u" --range 99999999-100000000 2>/dev/null
check '[ $? -eq 1 ] && cmp -s "$T/w/u" "$T/a.bin"' "failed unpack: the existing OUT untouched"
x=$(ls "$T/s/xorbs")
cp "$T/s/xorbs/$x" "$T/x.orig"
"$CAS" unpack --store "$T/s" "$h" -o "$T/s/xorbs/$x" 2> "$T/err5"
check '[ $? -eq 2 ] && cmp -s "$T/s/xorbs/$x" "$T/x.orig" && grep -q "is also an input" "$T/err5"' "unpack -o STORE-XORB: refused, xorb unchanged"
sh=$(ls "$T/s/shards")
cp "$T/s/shards/$sh" "$T/sh.orig"
"$CAS" unpack --store "$T/s" "$h" -o "$T/s/shards/$sh" 2>/dev/null
check '[ $? -eq 2 ] && cmp -s "$T/s/shards/$sh" "$T/sh.orig"' "unpack -o STORE-SHARD: refused, shard unchanged"
rm -f "$T/w/u.part" # planted above
check 'no_temps "$T/w" "$T/s/xorbs" "$T/s/shards"' "unpack: no temporary left"

# 6. reconstruct (a v2 manifest of a.bin's one term, written by hand): the same
n=$("$CAS" xorb ls "$T/s/xorbs/$x" | wc -l)
printf '{"offset_into_first_range":0,"terms":[{"hash":"%s","unpacked_length":1000000,"range":{"start":0,"end":%d}}],"xorbs":{"%s":[{"url":"http://cas.invalid/%s","ranges":[{"chunks":{"start":0,"end":%d},"bytes":{"start":0,"end":%d}}]}]}}\n' \
    "$x" "$n" "$x" "$x" "$n" $(($(wc -c < "$T/s/xorbs/$x") - 1)) > "$T/w/m.json"
cp "$T/w/m.json" "$T/m.orig"
plant "$T/w/r.part"
"$CAS" reconstruct "$T/w/m.json" --xorbs "$T/s/xorbs" -o "$T/w/r" --hash "$h" 2>/dev/null
check '[ $? -eq 0 ] && victim_intact && cmp -s "$T/w/r" "$T/a.bin"' "reconstruct: OUT.part symlink not followed"
"$CAS" reconstruct "$T/w/m.json" --xorbs "$T/s/xorbs" -o "$T/w/m.json" 2> "$T/err6"
check '[ $? -eq 2 ] && cmp -s "$T/w/m.json" "$T/m.orig" && grep -q "is also an input" "$T/err6"' "reconstruct -o MANIFEST: refused, manifest unchanged"
"$CAS" reconstruct "$T/w/m.json" --xorbs "$T/s/xorbs" -o "$T/s/xorbs/$x" 2>/dev/null
check '[ $? -eq 2 ] && cmp -s "$T/s/xorbs/$x" "$T/x.orig"' "reconstruct -o XORB: refused, xorb unchanged"
"$CAS" reconstruct "$T/w/m.json" --xorbs "$T/s/xorbs" -o "$T/w/r" --hash "$(cut -c1-64 "$T/hash" | tr 0-9a-f 1-9a-f0)" 2>/dev/null
check '[ $? -eq 1 ] && cmp -s "$T/w/r" "$T/a.bin"' "failed reconstruct: the existing OUT untouched"
rm -f "$T/w/r.part" # planted above
check 'no_temps "$T/w" "$T/s/xorbs"' "reconstruct: no temporary left"

# 7. packs at once into one store: 8 of one file (they race for its xorb's name: 4 lost
# the race in half the runs of the old tool, 8 in every run) and 2 others, 3 times; each
# one succeeds, the store verifies, no temporaries are left
for round in 1 2 3; do
    rm -rf "$T/c"
    pids=
    for k in 1 2 3 4 5 6 7 8; do "$CAS" pack --store "$T/c" "$T/big.bin" > /dev/null 2> "$T/cerr$k" & pids="$pids $!"; done
    "$CAS" pack --store "$T/c" "$T/a.bin" > /dev/null 2> "$T/cerr9" & pids="$pids $!"
    "$CAS" pack --store "$T/c" "$T/c.bin" > /dev/null 2> "$T/cerr10" & pids="$pids $!"
    failed=0
    for p in $pids; do wait "$p" || failed=$((failed + 1)); done
    check '[ $failed -eq 0 ]' "concurrent packs, round $round: $failed failed ($(cat "$T"/cerr* | grep -v ' files, ' | head -n 2))"
    check '"$CAS" store verify "$T/c" > /dev/null' "concurrent packs, round $round: the store verifies"
    check 'no_temps "$T/c/xorbs" "$T/c/shards"' "concurrent packs, round $round: no temporary left"
done

# 8. store verify: a good store passes
"$CAS" store verify "$T/s" > "$T/out8" 2> "$T/err8"
check '[ $? -eq 0 ] && grep -q ": 1 xorbs, 1 shards: ok$" "$T/out8" && [ ! -s "$T/err8" ]' "store verify: good store ($(said "$T/out8") $(said "$T/err8"))"

# 9. one flipped payload byte in the xorb: store verify fails, naming the xorb
flip_byte "$T/s/xorbs/$x" 5000
"$CAS" store verify "$T/s" > "$T/out9" 2> "$T/err9"
check '[ $? -eq 1 ] && grep -q "$T/s/xorbs/$x: " "$T/err9"' "store verify: a flipped byte in a xorb ($(said "$T/err9"))"
check 'grep -q "with problems" "$T/out9"' "store verify: the summary counts problems"

# 10. pack --verify-existing replaces the damaged xorb (and says so): the store verifies
# again and unpack gives the right bytes
"$CAS" pack --verify-existing --store "$T/s" "$T/a.bin" > /dev/null 2> "$T/err10"
check '[ $? -eq 0 ] && grep -q "$T/s/xorbs/$x: .*replaced" "$T/err10"' "pack --verify-existing: replaces the damaged xorb ($(said "$T/err10"))"
check '"$CAS" store verify "$T/s" > /dev/null' "pack --verify-existing: the store verifies again"
rm -f "$T/w/u"
"$CAS" unpack --store "$T/s" "$h" -o "$T/w/u" 2>/dev/null
check '[ $? -eq 0 ] && cmp -s "$T/w/u" "$T/a.bin"' "pack --verify-existing: unpack gives the file's bytes"
"$CAS" pack --verify-existing --store "$T/s" "$T/a.bin" > /dev/null 2> "$T/err10b"
check '[ $? -eq 0 ] && ! grep -q replaced "$T/err10b" && grep -q " 0 new bytes stored" "$T/err10b"' "pack --verify-existing: a good store is trusted (dedup, nothing replaced)"
check 'no_temps "$T/s/xorbs" "$T/s/shards"' "pack --verify-existing: no temporary left"

# 11. a truncated shard: store verify fails, naming the shard
sz=$(wc -c < "$T/s/shards/$sh")
head -c $((sz - 40)) "$T/s/shards/$sh" > "$T/trunc" && cat "$T/trunc" > "$T/s/shards/$sh"
"$CAS" store verify "$T/s" > /dev/null 2> "$T/err11"
check '[ $? -eq 1 ] && grep -q "$T/s/shards/$sh: " "$T/err11"' "store verify: a truncated shard ($(said "$T/err11"))"

echo "cli_safety: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
