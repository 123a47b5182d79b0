# Sourced by the CLI test scripts: the pass/fail counters and check COND MESSAGE (COND is
# eval'd; a failure prints "FAIL: MESSAGE"). The script prints "<name>: N passed, M failed".
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
