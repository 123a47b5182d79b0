# Sourced by the benchmark scripts (tests/bench_pack.sh, tests/bench_unpack.sh): a wall clock
# and the best wall time of whole processes.
# GNU date gives nanoseconds without starting an interpreter (python3's ~20 ms start would
# count in every measurement); elsewhere python3.
if date +%N | grep -q '^[0-9]'; then
    now() { date +%s.%N; }
else
    now() { python3 -c 'import time; print(time.time())'; }
fi
best_s() { # command...: best wall seconds of 3 runs, output discarded; fails if a run fails
    best=
    for _ in 1 2 3; do
        a=$(now); "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }; b=$(now)
        best=$(python3 -c "print(min(x for x in ($b - $a, ${best:-1e9})))")
    done
    echo "$best"
}
