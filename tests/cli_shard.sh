#!/bin/sh
# Tests of `cas shard dump|verify` (cli_shard.c). Usage: sh test_cli_shard.sh CAS_BINARY [VECTOR_DIR]
# (VECTOR_DIR defaults to tests/vectors/shard; this folder: vectors). Ends with "N passed, M failed".
set -u
CAS=$1
V=${2:-tests/vectors/shard}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() { # expect STATUS PATTERN-in-output CMD...
  want=$1 pat=$2; shift 2
  "$@" > "$T/out" 2> "$T/err"; got=$?
  if [ "$got" -ne "$want" ]; then no "$* -> exit $got, want $want: $(head -c 300 "$T/err")"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/out" "$T/err"; then no "$*: no '$pat' in output"; return; fi
  ok
}

# dump: text and JSON of HF-written shards
expect 0 "file 533eba3d91b5b55abd589e000ee06c75cf37edb28aa07f1ff2bc8f3edca58bad flags 0xc0000000 terms 1 size 200000" "$CAS" shard dump "$V/hf-text200k.shard"
expect 0 "sha256 73d8b6d29dca0b80dc98c4f14adfacfcbef5e337fe814064344162b3a9726973" "$CAS" shard dump "$V/hf-text200k.shard"
expect 0 "verification ac0d47ebbd9af9e1f2e0b590d5b801bb805bb5fcb52bdf75614d7e8ff5b1d058" "$CAS" shard dump "$V/hf-text200k.shard"
expect 0 "chunk 3 c0ea32ce5e1d1611f8a0273f13799e88f9ba4fc94b5437424d4471c1a0dee773 start 170776 size 29224" "$CAS" shard dump "$V/hf-text200k.shard"
expect 0 '"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"' "$CAS" shard dump "$V/hf-empty.shard" --json
expect 0 "chunks 5 at 960" "$CAS" shard dump "$V/cas-keyed.shard"
expect 0 "(chunk hashes are keyed)" "$CAS" shard dump "$V/cas-keyed.shard"
expect 0 '"footer":null' "$CAS" shard dump --json "$V/cas-upload.shard"
expect 0 "files: 2" "$CAS" shard dump - < "$V/cas-full.shard"
if command -v python3 >/dev/null 2>&1; then
  for f in "$V"/*.shard; do
    if "$CAS" shard dump "$f" --json | python3 -c 'import json,sys; json.load(sys.stdin)'; then ok; else no "invalid JSON for $f"; fi
  done
fi

# verify: structure, then terms against the shard's own CAS info or a store of xorbs
expect 0 "32 terms verified" "$CAS" shard verify "$V/hf-rep300k.shard"
expect 0 "32 terms verified" "$CAS" shard verify "$V/hf-rep300k.shard" --store "$V/store"
expect 0 "3 terms verified" "$CAS" shard verify "$V/cas-full.shard"
expect 0 "0 terms verified, 3 not" "$CAS" shard verify "$V/cas-keyed.shard" # keyed: hashes are HMACs
# The file section alone (terms pointing at a xorb the shard does not describe), upload form.
python3 - "$V/hf-rep300k.shard" "$T/files-only.shard" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
cas_start = 48 + 48 * (1 + 32 + 32 + 1) + 48
out = bytearray(d[:cas_start]) + b'\xff' * 32 + b'\0' * 16
out[40:48] = b'\0' * 8
open(sys.argv[2], 'wb').write(out)
PY
expect 0 "0 terms verified, 32 not (xorb not in the shard: use --store)" "$CAS" shard verify "$T/files-only.shard"
expect 0 "32 terms verified" "$CAS" shard verify "$T/files-only.shard" --store "$V/store"
mkdir -p "$T/flat" "$T/empty"
for x in "$V"/store/xorbs/*.xorb; do cp "$x" "$T/flat/$(basename "$x" .xorb)"; done
expect 0 "32 terms verified" "$CAS" shard verify "$T/files-only.shard" --store "$T/flat"
expect 1 "missing from the store" "$CAS" shard verify "$T/files-only.shard" --store "$T/empty"
# A damaged xorb in the store: its chunks no longer hash to its name.
for x in "$T"/flat/*; do
  python3 -c "import sys; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); d[len(d)//2]^=1; open(p,'wb').write(d)" "$x"
done
expect 1 "" "$CAS" shard verify "$T/files-only.shard" --store "$T/flat"
expect 1 "" "$CAS" shard verify "$V/hf-rep300k.shard" --store "$T/flat"
# A damaged verification hash in the shard.
python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[48+48*33+5]^=1; open(sys.argv[2],'wb').write(d)" "$T/files-only.shard" "$T/badverif.shard"
expect 1 "CAS_E_SHARD_VERIFICATION" "$CAS" shard verify "$T/badverif.shard" --store "$V/store"
expect 1 "at byte 1632" "$CAS" shard verify "$T/badverif.shard" --store "$V/store"

# structural errors: code, detail and byte offset
head -c 600 "$V/hf-text200k.shard" > "$T/trunc.shard"
expect 1 "CAS_E_TRUNCATED" "$CAS" shard verify "$T/trunc.shard"
expect 1 "CAS_E_SHARD_HEADER: not a shard: wrong header tag at byte 0" "$CAS" shard dump "$V/store/xorbs/bf519ffec9a085179f956c13b56a98ffa21934540e084d5bc6d254125543d6d0.xorb"
python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[-200]=2; open(sys.argv[2],'wb').write(d)" "$V/hf-text200k.shard" "$T/footer.shard"
expect 1 "CAS_E_SHARD_FOOTER: footer version is not 1 at byte 576" "$CAS" shard verify "$T/footer.shard"

# usage and I/O
expect 2 "" "$CAS" shard
expect 2 "" "$CAS" shard dump
expect 2 "" "$CAS" shard frob "$V/hf-empty.shard"
expect 2 "" "$CAS" shard verify "$V/hf-empty.shard" --store
expect 2 "" "$CAS" shard dump "$T/nonexistent.shard"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
