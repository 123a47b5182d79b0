#!/bin/sh
# Runs one of the short programs of examples/ against real data: make test runs each as a
# step, tests/portability.sh runs `hash` again as wasm32-wasi.
#   sh tests/examples.sh hash     "RUNNER"    Xet file hashes = tests/vectors/chunking.txt's
#   sh tests/examples.sh local    PROG CAS    a store packed by CAS, read back with no network
#   sh tests/examples.sh upload   PROG CAS    the dry run's xorbs and shard = what CAS stores
#   sh tests/examples.sh curl     PROG CAS    a Hub download through libcurl, tests/hubserver.py
#   sh tests/examples.sh firmware PROG CAS    the no-heap arena download of a server manifest
# RUNNER/PROG is the example's command (may be "node tests/wasi_run.mjs x.wasm"); CAS the
# cas tool that makes the fixtures. EXAMPLES_TMP: where the scratch directory goes (the WASI
# run needs one below the current directory, the only one its sandbox sees).
set -u
what=$1 PROG=$2 CAS=${3:-build/cas}
NAME=example_$what
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$what" = curl ] || [ "$what" = firmware ]; then
    . "$HERE/hubserver.sh" # $T, start_server, fault, fetch (tests/hubserver.py), clilib.sh
else
    T=$(mktemp -d "${EXAMPLES_TMP:-${TMPDIR:-/tmp}}/examples.XXXXXX")
    trap 'rm -rf "$T"' EXIT
    . "$HERE/clilib.sh"
fi

# gen KIND SEED SIZE OUT: the generated inputs of tests/oracle/README.md (splitmix64)
gen() {
    python3 - "$@" <<'PY'
import sys
kind, seed, size, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
M = (1 << 64) - 1
s = seed
def nxt():
    global s
    s = (s + 0x9E3779B97F4A7C15) & M
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)
b = bytearray()
if kind == "zero":
    b = bytearray(size)
elif kind == "random":
    while len(b) < size: b += nxt().to_bytes(8, "little")
elif kind == "text":
    W = b"the of and model tensor weight layer xet chunk hash data file byte merkle shard hub".split()
    while len(b) < size:
        r = nxt(); b += W[r & 15] + (b"\n" if ((r >> 8) & 7) == 0 else b" ")
elif kind == "lowent":
    b = bytearray(nxt() >> 61 for _ in range(size))
open(out, "wb").write(bytes(b[:size]))
PY
}
# the file hash chunking.txt gives for case KIND SEED SIZE
want_hash() { awk -v c="case $1 $2 $3" '$0 == c { on = 1; next } on && /^file / { print $2; exit }' "$HERE/vectors/chunking.txt"; }

# pack FILE...: the files into the store $T/s with the cas tool; sets hash_<n> per file
store_files() { "$CAS" pack --store "$T/s" "$@" > "$T/packed" 2>/dev/null; }
hash_of() { grep " $1\$" "$T/packed" | cut -c1-64; }

# inputs of the download and upload examples: random, then text with the random part again
# (terms reuse a range), a small file, an empty one
inputs() {
    gen random 1 1500000 "$T/a.bin"
    gen text 4 400000 "$T/t.bin"
    cat "$T/t.bin" "$T/a.bin" > "$T/b.bin"
    head -c 777 "$T/t.bin" > "$T/c.bin"
    : > "$T/e.bin"
}

case $what in
hash)
    # Cases of every kind, sizes around the chunk limits, and empty; one run, several files.
    set -- "zero 0 0" "zero 0 131073" "random 1 1" "random 1 8193" "random 1 1048576" \
        "random 2 3000000" "text 4 200000" "lowent 5 2000000"
    : > "$T/want"
    files=
    for c in "$@"; do
        set -- $c
        gen "$1" "$2" "$3" "$T/$1-$2-$3"
        echo "$(want_hash "$1" "$2" "$3")  $T/$1-$2-$3" >> "$T/want"
        files="$files $T/$1-$2-$3"
    done
    $PROG $files > "$T/got"
    check '[ $? -eq 0 ]' "hash: exit 0"
    check 'cmp -s "$T/got" "$T/want"' "hash: every file hash equals tests/vectors/chunking.txt's"
    [ $fail -eq 0 ] || diff "$T/want" "$T/got" >&2
    check '[ "$($PROG - < "$T/random-1-1048576")" = "$(want_hash random 1 1048576)  -" ]' "hash: stdin"
    $PROG "$T/missing" > /dev/null 2>&1
    check '[ $? -eq 2 ]' "hash: a missing file exits 2"
    ;;
local)
    inputs
    store_files "$T/a.bin" "$T/b.bin" "$T/c.bin" "$T/e.bin"
    check '[ $? -eq 0 ]' "local: cas pack"
    for f in a b c e; do
        $PROG "$(hash_of "$T/$f.bin")" "$T/out.$f" "$T/s/xorbs" "$T"/s/shards/*
        check '[ $? -eq 0 ] && cmp -s "$T/out.$f" "$T/$f.bin"' "local: $f.bin read back from the store"
    done
    $PROG 0000000000000000000000000000000000000000000000000000000000000001 "$T/out.x" "$T/s/xorbs" "$T"/s/shards/* 2> /dev/null
    check '[ $? -eq 1 ]' "local: a file no shard knows fails"
    # one flipped byte inside a chunk's payload: decoding or the file hash must refuse it
    cp -r "$T/s" "$T/bad"
    for x in "$T"/bad/xorbs/*; do
        python3 -c "import sys; p = sys.argv[1]; d = bytearray(open(p, 'rb').read()); d[len(d) // 2] ^= 1; open(p, 'wb').write(d)" "$x"
    done
    $PROG "$(hash_of "$T/a.bin")" "$T/out.bad" "$T/bad/xorbs" "$T"/bad/shards/* 2> "$T/err"
    check '[ $? -eq 1 ] && [ -s "$T/err" ]' "local: a damaged xorb fails with a message"
    ;;
curl)
    inputs
    store_files "$T/a.bin" "$T/b.bin" "$T/c.bin"
    check '[ $? -eq 0 ]' "curl: cas pack"
    start_server --file "model/acme/demo/a.bin=$(hash_of "$T/a.bin")" \
        --file "model/acme/demo/data/b.bin=$(hash_of "$T/b.bin")" --file "model/acme/demo/c.bin=$(hash_of "$T/c.bin")"
    for f in a.bin data/b.bin c.bin; do
        n=$(basename $f .bin)
        HF_TOKEN=hf_test $PROG "$URL" acme/demo $f "$T/out.$n" > "$T/said.$n"
        check '[ $? -eq 0 ] && cmp -s "$T/out.$n" "$T/$n.bin"' "curl: $f downloaded"
        check '[ "$(cat "$T/said.$n")" = "$(hash_of "$T/$n.bin")  $T/out.$n" ]' "curl: $f: prints <xet-hash>  <out>"
    done
    HF_TOKEN=hf_wrong $PROG "$URL" acme/demo a.bin "$T/out.x" 2> /dev/null
    check '[ $? -eq 1 ]' "curl: a refused token fails"
    HF_TOKEN=hf_test $PROG "$URL" acme/demo missing.bin "$T/out.x" 2> /dev/null
    check '[ $? -eq 1 ]' "curl: a file the repo does not have fails"
    # lying servers: a corrupted chunk, a manifest that drops the last term
    for f in xorb-corrupt recon-drop-term; do
        fault $f
        HF_TOKEN=hf_test $PROG "$URL" acme/demo data/b.bin "$T/out.f" > /dev/null 2> "$T/err"
        check '[ $? -eq 1 ] && [ -s "$T/err" ]' "curl: fault $f is refused"
    done
    ;;
firmware)
    inputs
    store_files "$T/a.bin" "$T/b.bin" "$T/c.bin"
    check '[ $? -eq 0 ]' "firmware: cas pack"
    start_server
    for n in a b c; do
        h=$(hash_of "$T/$n.bin")
        fetch "$URL/v2/reconstructions/$h" "$T/m.$n.json" # what the device would receive
        $PROG "$T/m.$n.json" "$T/s/xorbs" "$h" "$T/out.$n" > "$T/said" 2> "$T/err"
        check '[ $? -eq 0 ] && cmp -s "$T/out.$n" "$T/$n.bin" && [ "$(cat "$T/said")" = "$h  $T/out.$n" ]' "firmware: $n.bin"
        # the arena of cas_download_memory() bytes held the engine, and was not all needed
        check 'awk "/engine arena/ { exit !(\$4 > 0 && \$8 + 0 > 0 && \$8 + 0 <= \$4) }" "$T/err"' "firmware: $n.bin: peak within the arena ($(cat "$T/err"))"
    done
    $PROG "$T/m.b.json" "$T/s/xorbs" "$(hash_of "$T/a.bin")" "$T/out.x" > /dev/null 2>&1
    check '[ $? -eq 1 ]' "firmware: the manifest of another file is refused (create: not its hash, or the hash check)"
    ;;
upload)
    inputs
    set -- "$T/a.bin" "$T/b.bin" "$T/c.bin" "$T/e.bin"
    $PROG "$@" > "$T/out"
    check '[ $? -eq 0 ]' "upload: exit 0"
    store_files "$@"
    check '[ $? -eq 0 ]' "upload: cas pack of the same files"
    for f in "$@"; do
        line="$(hash_of "$f")  $(sha256sum < "$f" | cut -c1-64)  $(wc -c < "$f" | tr -d ' ')  $f"
        check 'grep -qxF "$line" "$T/out"' "upload: $f: <xet-hash>  <sha256>  <size>  <name> as cas pack and sha256sum say"
    done
    # the xorbs and the shard: the very objects `cas pack` stores (names and sizes)
    for kind in xorb shard; do
        awk -v k=$kind '$1 == k { print $2, $3 }' "$T/out" | sort > "$T/got.$kind"
        for x in "$T/s/${kind}s"/*; do echo "$(basename "$x") $(wc -c < "$x" | tr -d ' ')"; done | sort > "$T/want.$kind"
        check '[ -s "$T/want.$kind" ] && cmp -s "$T/got.$kind" "$T/want.$kind"' "upload: every $kind as cas pack --store writes it"
    done
    $PROG "$T/missing" > /dev/null 2>&1
    check '[ $? -ne 0 ]' "upload: a missing file fails"
    ;;
*)
    echo "usage: tests/examples.sh hash|local|upload|curl|firmware PROG [CAS]" >&2
    exit 2
    ;;
esac
echo "$NAME: $pass passed, $fail failed"
[ $fail -eq 0 ]
