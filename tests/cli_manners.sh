#!/bin/sh
# The tool's manners (issue #16): help on stdout with exit 0, one-line usage errors that name
# the argument, -V, `cas hash -c` (sha256sum conventions, odd names), progress lines only on
# a terminal and never with -q, retries that say what failed and when the next try comes, a
# refused connection in one line.
# Usage: tests/cli_manners.sh build/cas
NAME=cli_manners
CAS=${1:-build/cas}
CAS=$(cd "$(dirname "$CAS")" && pwd)/$(basename "$CAS") # (used after cd)
. "$(dirname "$0")/hubserver.sh"

# ---- help ----
for form in "--help" "-h" "help"; do
    "$CAS" $form > "$T/out" 2> "$T/err"
    check '[ $? -eq 0 ] && [ ! -s "$T/err" ] && grep -q "HF_TOKEN" "$T/out" && grep -q "HF_ENDPOINT" "$T/out" && grep -q "exit status" "$T/out"' "cas $form: stdout, exit 0, environment and exit statuses"
done
for c in chunk hash xorb shard pack store unpack reconstruct get put version help; do
    "$CAS" --help | grep -q "^  cas $c " || bad "cas --help lists $c with a description"
    "$CAS" help $c > "$T/a" 2>&1; ra=$?
    "$CAS" $c --help > "$T/b" 2>&1; rb=$?
    check '[ $ra -eq 0 ] && [ $rb -eq 0 ] && cmp -s "$T/a" "$T/b" && grep -q "^usage: cas $c" "$T/a"' "cas help $c = cas $c --help, exit 0"
done
"$CAS" -V > "$T/out"
check '[ $? -eq 0 ] && grep -q "^cas [0-9]" "$T/out"' "cas -V"

# ---- usage errors: one line, naming the argument, pointing at the help; exit 2 ----
usage_err() { # NEEDLE ARGS...: exit 2, one line on stderr containing NEEDLE and --help, no stdout
    needle=$1; shift
    "$CAS" "$@" > "$T/out" 2> "$T/err"
    rc=$?
    check "[ $rc -eq 2 ] && [ \$(wc -l < '$T/err') -eq 1 ] && grep -q -- '$needle' '$T/err' && grep -q -- '--help' '$T/err' && [ ! -s '$T/out' ]" "usage error for '$*' (exit $rc: $(cat "$T/err"))"
}
usage_err "frobnicate" frobnicate
usage_err "9-0" get acme/demo f.bin --range 9-0
usage_err "-o OUT" unpack --store "$T" 0000
usage_err "--jobs 0" get acme/demo f.bin --jobs 0
usage_err "--bogus" hash --bogus
usage_err "--repo-type thing" get acme/demo f.bin --repo-type thing
usage_err "FILE" xorb pack
usage_err "frob" xorb frob
usage_err "--store DIR" pack "$T/x"

# ---- cas hash -c: what cas hash printed, read back; odd names escaped as sha256sum does ----
mkdir "$T/h"
printf 'one' > "$T/h/plain"
printf 'two' > "$T/h/back\\slash"
printf 'three' > "$T/h/new
line"
(cd "$T/h" && "$CAS" hash plain 'back\slash' 'new
line') > "$T/list"
check '[ $(wc -l < "$T/list") -eq 3 ] && grep -q "^\\\\[0-9a-f]*  back\\\\\\\\slash$" "$T/list" && grep -q "^\\\\[0-9a-f]*  new\\\\nline$" "$T/list"' "cas hash escapes a backslash and a newline as sha256sum does"
(cd "$T/h" && "$CAS" hash -c "$T/list") > "$T/out" 2> "$T/err"
check '[ $? -eq 0 ] && [ $(grep -c ": OK$" "$T/out") -eq 3 ]' "cas hash -c: every file OK"
printf 'One' > "$T/h/plain"
(cd "$T/h" && "$CAS" hash --check "$T/list") > "$T/out" 2> "$T/err"
check '[ $? -eq 1 ] && grep -q "^plain: FAILED$" "$T/out" && [ $(grep -c ": OK$" "$T/out") -eq 2 ] && grep -q "did NOT match" "$T/err"' "cas hash --check: a changed file FAILED, exit 1"
rm "$T/h/plain"
(cd "$T/h" && "$CAS" hash -c < "$T/list") > "$T/out" 2> "$T/err"
check '[ $? -eq 1 ] && grep -q "^plain: FAILED open or read$" "$T/out"' "cas hash -c (stdin): a missing file"
echo "not a hash line" | "$CAS" hash -c > "$T/out" 2> "$T/err"
check '[ $? -eq 1 ] && grep -q "improperly formatted" "$T/err"' "cas hash -c: a list with no hash lines fails"

# ---- progress: on a terminal only (script(1) gives the tool one), never with -q ----
head -c 100000000 /dev/urandom > "$T/p.bin"
if command -v script > /dev/null 2>&1; then
    script -qec "'$CAS' pack --dry-run '$T/p.bin'" /dev/null > "$T/tty" 2>&1
    check 'grep -q "MB/s" "$T/tty" && grep -q "pack" "$T/tty"' "pack on a terminal shows a progress line"
    script -qec "'$CAS' pack --dry-run -q '$T/p.bin'" /dev/null > "$T/tty" 2>&1
    check '! grep -q "MB/s" "$T/tty"' "pack -q: no progress"
else
    [ "${CI:-}" = true ] && bad "CI: script(1) missing (util-linux)"
fi
"$CAS" pack --dry-run "$T/p.bin" > /dev/null 2> "$T/err"
check '! grep -q "MB/s" "$T/err"' "pack with stderr not a terminal: no progress"

# ---- the network: retries said, a refused connection in one line ----
if "$CAS" get 2>&1 | grep -q "no libcurl"; then
    echo "cli_manners: cas built without libcurl: network checks skipped" >&2
    [ "${CI:-}" = true ] && bad "CI: cas built without libcurl"
else
    export HF_TOKEN=hf_test
    "$CAS" pack --store "$T/s" "$T/p.bin" > "$T/hashes" 2>/dev/null
    start_server --file "model/acme/demo/p.bin=$(cut -c1-64 "$T/hashes")"
    if command -v script > /dev/null 2>&1; then
        # (stdout into a pipe that waits a second first: the download lasts long enough to show)
        script -qec "'$CAS' get acme/demo p.bin --endpoint '$URL' -o - | (sleep 1; cat > '$T/g1')" /dev/null > "$T/tty" 2>&1
        check 'cmp -s "$T/g1" "$T/p.bin" && grep -q "MB/s" "$T/tty" && grep -q "left" "$T/tty"' "get on a terminal: bytes, rate and time left"
        script -qec "'$CAS' get -q acme/demo p.bin --endpoint '$URL' -o '$T/g2'" /dev/null > "$T/tty" 2>&1
        check 'cmp -s "$T/g2" "$T/p.bin" && ! grep -q "MB/s" "$T/tty"' "get -q: no progress"
    fi
    fault xorb-500 2
    "$CAS" get acme/demo p.bin --endpoint "$URL" --jobs 1 -o "$T/g3" > /dev/null 2> "$T/err"
    check '[ $? -eq 0 ] && cmp -s "$T/g3" "$T/p.bin" && grep -q "xorb range: HTTP 500; try 2 of 8 in" "$T/err" && grep -q "try 3 of 8" "$T/err"' "each retry says what failed and when the next try comes"
    ctl reset
    fault recon-500 1
    "$CAS" get acme/demo p.bin --endpoint "$URL" -o "$T/g4" > /dev/null 2> "$T/err"
    check '[ $? -eq 0 ] && grep -q "reconstructions.*HTTP 500; try 2 of 8 in" "$T/err"' "a retried manifest request is said"
    stop_server
    # a port nobody listens on (the server's, now closed): one line, at once
    t0=$(date +%s)
    "$CAS" get acme/demo p.bin --endpoint "$URL" -o "$T/g5" > /dev/null 2> "$T/err"
    rc=$?; t1=$(date +%s)
    check "[ $rc -ne 0 ] && [ \$(wc -l < '$T/err') -eq 1 ] && grep -q 'onnect' '$T/err' && [ $((t1 - t0)) -lt 5 ] && [ ! -e '$T/g5' ]" "a refused connection: one line, no wait ($(cat "$T/err"))"
fi

echo "cli_manners: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
