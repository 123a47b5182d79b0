#!/bin/sh
# The one test runner: tests/run.sh TITLE "name|command" ... runs each step in order, shows
# its output, and ends with a table of the steps' wall times and one closing line over all
# of them: "N passed, M failed". A step's count is the last "N passed, M failed" it prints; a
# step that exits non-zero without reporting a failure counts one more failure, and one that
# prints no count counts one pass (or one failure) by its exit status. Exit status: 0 if
# nothing failed.
title=$1
shift
log=$(mktemp)
times=$(mktemp)
trap 'rm -f "$log" "$times"' EXIT
total_pass=0 total_fail=0 t_all=$(date +%s.%N)
for step in "$@"; do
    name=${step%%|*}
    cmd=${step#*|}
    t0=$(date +%s.%N)
    sh -c "$cmd" > "$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    cat "$log"
    line=$(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | awk '{print $1}')
        f=$(echo "$line" | awk '{print $3}')
    elif [ $rc -eq 0 ]; then
        p=1 f=0
    else
        p=0 f=0
    fi
    [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1 && echo "run.sh: $name exited $rc" >&2
    total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
    printf '%-24s %8s s  %7d passed %4d failed\n' "$name" "$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")" "$p" "$f" >> "$times"
done
echo
echo "== $title: wall time per step"
cat "$times"
printf '%-24s %8s s\n' "total" "$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t_all }")"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
