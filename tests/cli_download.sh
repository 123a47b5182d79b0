#!/bin/sh
# Download tests of the cas tool: `cas unpack` (a directory store), `cas reconstruct`
# (manifests as the CAS API returns them) and `cas get` against tests/hubserver.py, the
# loopback test double of the Hub + CAS API, for each of its faults.
# Usage: tests/cli_download.sh [path/to/cas]   (needs python3; `get` needs a libcurl build)
CAS=${1:-./build/cas}
NAME=cli_download
. "$(dirname "$0")/hubserver.sh"

# inputs: random, the random part again after text (terms reuse a range), small, empty
python3 - "$T" <<'PY'
import os, random, sys
t = sys.argv[1]
r = random.Random(7)
a = r.randbytes(1500000)
words = [b"alpha", b"beta", b"gamma", b"delta", b"xet", b"chunk", b"\n"]
b = b" ".join(r.choice(words) for _ in range(150000))
open(f"{t}/a.bin", "wb").write(a)
open(f"{t}/b.bin", "wb").write(a[:700000] + b + a + b[:1000])
open(f"{t}/c.bin", "wb").write(b[:777])
open(f"{t}/e.bin", "wb").write(b"")
open(f"{t}/d.bin", "wb").write(a[:300000] + a[1000000:1300000])  # two disjoint ranges of a's xorb
PY
"$CAS" pack --store "$T/s" "$T/a.bin" "$T/b.bin" "$T/c.bin" "$T/e.bin" "$T/d.bin" > "$T/hashes" 2>/dev/null
check '[ $? -eq 0 ]' "pack"
hash_of() { grep " $T/$1\$" "$T/hashes" | cut -c1-64; }

# ---- unpack: whole files, both plan modes, stdout, ranges ----
for f in a b c d e; do
    h=$(hash_of $f.bin)
    "$CAS" unpack --store "$T/s" "$h" -o "$T/u.$f" && cmp -s "$T/u.$f" "$T/$f.bin"
    check '[ $? -eq 0 ]' "unpack $f"
    "$CAS" unpack --store "$T/s" "$h" -o - --per-range | cmp -s - "$T/$f.bin"
    check '[ $? -eq 0 ]' "unpack $f --per-range to stdout"
done
hb=$(hash_of b.bin)
for r in 0-0 1-1 0-99 65535-65536 700000-2199999 1000000-2900000 2000000-99999999; do
    a=${r%-*}; b=${r#*-}
    "$CAS" unpack --store "$T/s" "$hb" -o "$T/r" --range "$r"
    check '[ $? -eq 0 ]' "unpack --range $r status"
    python3 -c "import sys; d=open('$T/b.bin','rb').read()[$a:$b+1]; sys.exit(open('$T/r','rb').read()!=d)"
    check '[ $? -eq 0 ]' "unpack --range $r bytes"
done
"$CAS" unpack --store "$T/s" "$hb" -o "$T/r2" --range 99999999-100000000 2>/dev/null
check '[ $? -eq 1 ] && [ ! -e "$T/r2" ] && [ ! -e "$T/r2.part" ]' "unpack: a range past the end fails, no output"
"$CAS" unpack --store "$T/s" 0000000000000000000000000000000000000000000000000000000000000001 -o "$T/r3" 2>/dev/null
check '[ $? -eq 1 ] && [ ! -e "$T/r3" ]' "unpack: unknown file"
# a corrupted xorb: a clear error and no output file
cp -r "$T/s" "$T/bad"
x=$(ls "$T/bad/xorbs" | head -1)
python3 -c "p='$T/bad/xorbs/$x'; d=bytearray(open(p,'rb').read()); d[len(d)//2]^=0x20; open(p,'wb').write(d)"
for f in a b; do
    "$CAS" unpack --store "$T/bad" "$(hash_of $f.bin)" -o "$T/bad.$f" 2>"$T/bad.err"
    rc=$?
    if [ $rc -eq 0 ]; then cmp -s "$T/bad.$f" "$T/$f.bin"; check '[ $? -eq 0 ]' "corrupt store: output must be right when accepted"; else
        check '[ $rc -eq 1 ] && [ ! -e "$T/bad.$f" ] && [ ! -e "$T/bad.$f.part" ] && [ -s "$T/bad.err" ]' "corrupt xorb: error, no output ($f)"; fi
done

# a range of a damaged store: every decoded chunk is checked against the store's shards
cp -r "$T/s" "$T/bad2"
for x in "$T"/bad2/xorbs/*; do # the first record's payload: a stored chunk stays decodable
    python3 -c "p='$x'; d=bytearray(open(p,'rb').read()); d[8 + 100] ^= 0x20; open(p,'wb').write(d)"
done
for r in 0-99 0-0 50-150; do
    rm -f "$T/bad2.out"
    "$CAS" unpack --store "$T/bad2" "$(hash_of a.bin)" -o "$T/bad2.out" --range "$r" 2> "$T/bad2.err"
    check '[ $? -eq 1 ] && [ ! -e "$T/bad2.out" ] && [ -s "$T/bad2.err" ]' "unpack --range $r of a damaged xorb fails"
done

# ---- the loopback server ----
start_server --max-ranges-per-url 3 --file "model/acme/demo/data/b.bin=$hb" \
    --file "model/acme/demo/data/d.bin=$(hash_of d.bin)" --file "dataset/acme/set/a.bin=$(hash_of a.bin)"

# ---- reconstruct: v1 and v2 manifests from the server, whole and ranged ----
for v in 1 2; do
    fetch "$URL/v$v/reconstructions/$hb" "$T/m$v.json"
    "$CAS" reconstruct "$T/m$v.json" --xorbs "$T/s/xorbs" -o "$T/rc$v" --hash "$hb" && cmp -s "$T/rc$v" "$T/b.bin"
    check '[ $? -eq 0 ]' "reconstruct v$v"
    fetch "$URL/v$v/reconstructions/$hb" "$T/mr$v.json" 100000-2500000
    "$CAS" reconstruct "$T/mr$v.json" --xorbs "$T/s/xorbs" -o - --range 100000-2500000 |
        python3 -c "import sys; sys.exit(sys.stdin.buffer.read()!=open('$T/b.bin','rb').read()[100000:2500001])"
    check '[ $? -eq 0 ]' "reconstruct v$v --range"
done
# d.bin's v2 manifest has two ranges of one xorb: answered as a multipart/byteranges body
fetch "$URL/v2/reconstructions/$(hash_of d.bin)" "$T/md.json"
check 'python3 -c "import json,sys; sys.exit(not any(len(f[\"ranges\"]) > 1 for fs in json.load(open(\"$T/md.json\"))[\"xorbs\"].values() for f in fs))"' "d.bin's manifest has a fetch entry with several ranges"
"$CAS" reconstruct "$T/md.json" --xorbs "$T/s/xorbs" -o "$T/rcd" --hash "$(hash_of d.bin)" && cmp -s "$T/rcd" "$T/d.bin"
check '[ $? -eq 0 ]' "reconstruct a multi-range manifest (multipart)"
"$CAS" reconstruct "$T/m2.json" --xorbs "$T/s/xorbs" -o "$T/rcx" --hash "$(hash_of a.bin)" 2>/dev/null
check '[ $? -eq 1 ] && [ ! -e "$T/rcx" ]' "reconstruct: wrong --hash fails, no output"
# a lying manifest with --hash: refused (offset) or the hash fails (terms), for v1 and v2
for v in 1 2; do
    for lie in offset drop swap; do
        python3 - "$T/m$v.json" "$T/lie.json" $lie <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); lie = sys.argv[3]
if lie == "offset": m["offset_into_first_range"] = 1
if lie == "drop": m["terms"].pop()
if lie == "swap": m["terms"][0], m["terms"][1] = m["terms"][1], m["terms"][0]
json.dump(m, open(sys.argv[2], "w"))
PY
        rm -f "$T/rcl"
        "$CAS" reconstruct "$T/lie.json" --xorbs "$T/s/xorbs" -o "$T/rcl" --hash "$hb" 2>"$T/rcl.err"
        check '[ $? -eq 1 ] && [ ! -e "$T/rcl" ] && [ -s "$T/rcl.err" ]' "reconstruct --hash with a lying v$v manifest ($lie)"
    done
done

# ---- get ----
if "$CAS" get 2>&1 | grep -q "no libcurl"; then
    echo "cli_download: cas built without libcurl: get tests skipped" >&2
    [ "${CI:-}" = true ] && bad "CI: cas built without libcurl (its headers should be installed)"
else
    export HF_TOKEN=hf_test
    get_ok() { # name, then cas get args: the right bytes of b.bin, no .part left
        name=$1; shift
        rm -f "$T/g" "$T/g.part"
        "$CAS" get "$@" -o "$T/g" > "$T/g.out" 2> "$T/g.err"
        rc=$?
        if [ $rc -eq 0 ] && cmp -s "$T/g" "$T/${EXPECT:-b.bin}" && [ ! -e "$T/g.part" ]; then ok; else bad "get $name (exit $rc: $(tail -c 300 "$T/g.err"))"; fi
    }
    get_fails() { # name, then args: exit 1, no output file
        name=$1; shift
        rm -f "$T/g" "$T/g.part"
        "$CAS" get "$@" -o "$T/g" > "$T/g.out" 2> "$T/g.err"
        rc=$?
        if [ $rc -eq 1 ] && [ ! -e "$T/g" ] && [ -s "$T/g.err" ]; then ok; else bad "get $name should fail cleanly (exit $rc)"; fi
    }
    get_ok "hub" acme/demo data/b.bin --endpoint "$URL"
    check 'grep -q "^$hb  $T/g\$" "$T/g.out"' "get prints hash and name"
    # an existing OUT: the same file is "up to date" (nothing fetched); another is kept
    # unless -f, for a range too (which never looks like the file)
    ctl reset
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" > "$T/g.out" 2> "$T/g.err"
    check '[ $? -eq 0 ] && grep -q "up to date" "$T/g.err" && grep -q "^$hb  $T/g\$" "$T/g.out" && logq "not any(r[\"path\"].startswith(\"/xorb/\") for r in L)"' "get: an OUT that is the file is up to date, nothing fetched"
    printf 'mine' > "$T/g"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" > /dev/null 2> "$T/g.err"
    check '[ $? -eq 2 ] && [ "$(cat "$T/g")" = mine ] && grep -q -- "-f replaces it" "$T/g.err"' "get: another file at OUT is kept without -f"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" --range 0-9 > /dev/null 2> "$T/g.err"
    check '[ $? -eq 2 ] && [ "$(cat "$T/g")" = mine ]' "get --range: an existing OUT is kept without -f"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" -f > /dev/null 2> "$T/g.err"
    check '[ $? -eq 0 ] && cmp -s "$T/g" "$T/b.bin"' "get -f replaces another file"
    cas_abs=$(cd "$(dirname "$CAS")" && pwd)/$(basename "$CAS")
    cp "$T/b.bin" "$T/data.bin"; (cd "$T" && "$cas_abs" get acme/demo data/b.bin --endpoint "$URL" --range 0-9 > /dev/null 2>&1)
    check '[ $? -eq 2 ] && cmp -s "$T/b.bin" "$T/data.bin"' "get --range with no -o, ./b.bin there: refused, b.bin intact"
    get_ok "cas-url" --cas-url "$URL" --token "$(token read)" "$hb"
    get_ok "jobs 1 per-range" acme/demo data/b.bin --endpoint "$URL" --jobs 1 --per-range
    # d.bin needs two ranges of one xorb: one multipart/byteranges request (v2), or two
    ctl reset
    EXPECT=d.bin get_ok "multipart" acme/demo data/d.bin --endpoint "$URL"
    check 'logq "any(\",\" in (r.get(\"range\") or \"\") and r[\"path\"].startswith(\"/xorb/\") for r in L)"' "a multi-range xorb request was made"
    EXPECT=d.bin get_ok "multipart, per range" acme/demo data/d.bin --endpoint "$URL" --per-range
    ctl reset; fault xorb-drop 1
    EXPECT=d.bin get_ok "multipart, dropped" acme/demo data/d.bin --endpoint "$URL"
    # ranges are verified against the file hash through /v2/file-chunk-hashes
    get_range() { # A-B, then cas get args; checks the bytes and that the range verified
        r=$1; shift
        rm -f "$T/gr"
        "$CAS" get acme/demo data/b.bin --endpoint "$URL" --range "$r" -o "$T/gr" "$@" > "$T/gr.out" 2> "$T/gr.err"
        rc=$?
        python3 -c "import sys; a,b='$r'.split('-'); d=open('$T/b.bin','rb').read()[int(a):int(b)+1]; sys.exit(open('$T/gr','rb').read()!=d)" 2>/dev/null
        [ $rc -eq 0 ] && [ $? -eq 0 ] && [ ! -s "$T/gr.out" ]
    }
    for r in 12345-1999999 0-0 0-99 1000000-1000000 2899999-2899999 0-99999999 2000000-2999999; do
        ctl reset
        check 'get_range $r && grep -q "verified against the file hash" "$T/gr.err"' "get --range $r verified"
        check 'logq "any(r[\"path\"].startswith(\"/v2/file-chunk-hashes/\") for r in L)"' "get --range $r asked file-chunk-hashes"
    done
    ctl config '{"fch_extend": true}'
    check 'get_range 700000-700100 && grep -q "verified against" "$T/gr.err"' "get --range verified, windows extended to stable chunks"
    ctl config '{"fch_extend": false}'
    # a lying server: a gap subtree that is not the file's, a corrupt range, no endpoint
    ctl reset; fault fch-lie 1
    rm -f "$T/gr"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" --range 1500000-1600000 -o "$T/gr" > /dev/null 2> "$T/gr.err"
    check '[ $? -eq 1 ] && [ ! -e "$T/gr" ] && grep -q "range verification" "$T/gr.err"' "get --range: a lying gap subtree fails, no output"
    ctl reset; fault xorb-corrupt 100
    rm -f "$T/gr"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" --range 100-200 -o "$T/gr" > /dev/null 2> "$T/gr.err"
    check '[ $? -eq 1 ] && [ ! -e "$T/gr" ]' "get --range: a corrupt xorb range fails, no output"
    ctl reset; fault fch-404 1
    check 'get_range 12345-1999999 && grep -q "NOT verified" "$T/gr.err"' "get --range without file-chunk-hashes: downloaded, said to be unverified"
    ctl reset; fault fch-404 1
    rm -f "$T/gr"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" --range 12345-1999999 --verify-range -o "$T/gr" > /dev/null 2> "$T/gr.err"
    check '[ $? -eq 1 ] && [ ! -e "$T/gr" ] && grep -q "cannot be verified" "$T/gr.err"' "get --range --verify-range without file-chunk-hashes fails"
    ctl reset
    HF_ENDPOINT=$URL "$CAS" get acme/set a.bin --repo-type dataset -o "$T/ga" > /dev/null 2>&1 && cmp -s "$T/ga" "$T/a.bin"
    check '[ $? -eq 0 ]' "get a dataset file with HF_ENDPOINT"
    for f in xorb-429:3 xorb-500:3 recon-429:2 recon-500:2 xorb-drop:2 xorb-truncate:2 token-401:1 v2-404:1; do
        ctl reset; fault "${f%:*}" "${f#*:}"
        get_ok "fault ${f%:*}" acme/demo data/b.bin --endpoint "$URL"
    done
    ctl reset; fault token-expired 1
    get_ok "fault token-expired (refresh)" acme/demo data/b.bin --endpoint "$URL"
    ctl reset; fault xorb-corrupt 100
    get_fails "fault xorb-corrupt" acme/demo data/b.bin --endpoint "$URL"
    ctl reset; fault recon-wrong-length 100
    get_fails "fault recon-wrong-length" acme/demo data/b.bin --endpoint "$URL"
    check 'grep -q "unpacked_length" "$T/g.err"' "wrong unpacked_length is named"
    # a lying CAS cannot switch the whole-file check off: every lie, v2 and v1, fresh and
    # resumed, fails with no output (and no .part that a later run would trust)
    for lie in recon-offset recon-drop-term recon-swap-terms; do
        for v in 2 1; do
            ctl reset; fault $lie 100
            [ $v = 1 ] && fault v2-404 -1
            get_fails "lying manifest $lie v$v" acme/demo data/b.bin --endpoint "$URL"
            check '[ ! -e "$T/g.part" ]' "lying manifest $lie v$v: no .part kept"
            head -c 1234567 "$T/b.bin" > "$T/g.part"
            get_fails "lying manifest $lie v$v, resumed" acme/demo data/b.bin --endpoint "$URL"
            check '[ ! -e "$T/g.part" ]' "lying manifest $lie v$v resumed: no .part kept"
        done
    done
    check 'grep -q "offset_into_first_range" "$T/g.err" || grep -q "hash" "$T/g.err"' "the lie is named"
    ctl reset; fault recon-offset 100
    get_fails "lying offset, named" acme/demo data/b.bin --endpoint "$URL"
    check 'grep -q "offset_into_first_range" "$T/g.err"' "a lying offset is named"
    # a server that ignores Range (200 + the whole xorb): one clear error, no retries
    ctl reset; fault xorb-200 100
    get_fails "fault xorb-200" acme/demo data/b.bin --endpoint "$URL" --jobs 1
    check 'grep -q "answered 200" "$T/g.err" && logq "sum(1 for r in L if r.get(\"fault\") == \"xorb-200\") == 1"' "a 200 to a Range request is not retried"
    ctl reset; fault xorb-500 100
    get_fails "fault xorb-500 forever" acme/demo data/b.bin --endpoint "$URL" --jobs 2
    ctl reset
    get_fails "unknown file" acme/demo data/nope.bin --endpoint "$URL"
    HF_TOKEN=wrong "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" > /dev/null 2>&1
    check '[ $? -eq 1 ] && [ ! -e "$T/g" ]' "get with a bad HF token"
    # an OUT.part with no journal (another tool's, or an older cas's) is not trusted: the
    # download starts over and is right, even when that .part holds damaged bytes
    # (resuming from the journal: tests/cli_fetch.sh)
    for planted in prefix damaged foreign; do
        rm -f "$T/g" "$T/g.part.journal"
        case $planted in
        prefix) head -c 1234567 "$T/b.bin" > "$T/g.part" ;;
        damaged) python3 -c "d=bytearray(open('$T/b.bin','rb').read()[:1500000]); d[100]^=1; open('$T/g.part','wb').write(d)" ;;
        foreign) head -c 999999 "$T/a.bin" > "$T/g.part" ;;
        esac
        "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" > /dev/null 2> "$T/g.err"
        check '[ $? -eq 0 ] && cmp -s "$T/g" "$T/b.bin" && ! grep -q resuming "$T/g.err" && [ ! -e "$T/g.part" ] && [ ! -e "$T/g.part.journal" ]' "a $planted OUT.part without a journal: started over"
    done
    # a .part that is a hard link to another file is not resumed into (that file would be
    # truncated and renamed): refused, the other file untouched
    head -c 1234567 "$T/b.bin" > "$T/other"; cp "$T/other" "$T/other.want"; rm -f "$T/g" "$T/g.part"
    ln "$T/other" "$T/g.part"
    "$CAS" get acme/demo data/b.bin --endpoint "$URL" -o "$T/g" > /dev/null 2> "$T/g.err"
    check '[ $? -ne 0 ] && [ ! -e "$T/g" ] && cmp -s "$T/other" "$T/other.want" && grep -q "one link" "$T/g.err"' "a hard-linked .part is refused"
    rm -f "$T/g.part" "$T/g.part.journal"
fi
stop_server
echo "cli_download: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
