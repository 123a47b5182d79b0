#!/bin/sh
# Interop with Hugging Face's own code (the oracle in ../shared/oracle, see its README):
# xorbs written by our `cas xorb pack` are decoded by HF's TypeScript reader (XetBlob), which
# must return the same bytes and the same xorb hash. (The other direction -- xorbs written by
# HF's TypeScript read by us -- is in the test runner: tests/vectors/xorbs/.)
# Skips (exit 0, with a message) when node or the oracle is not available.
set -u
CAS=${1:-build/cas}
ORACLE_SRC=${CAS_ORACLE:-../shared/oracle}
command -v node > /dev/null 2>&1 || { echo "interop: SKIP (node not installed)"; exit 0; }
[ -f "$ORACLE_SRC/xet-oracle.mjs" ] || { echo "interop: SKIP (no oracle at $ORACLE_SRC)"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ORACLE=${CAS_ORACLE_WORK:-/tmp/cas-oracle}
if [ ! -d "$ORACLE/node_modules" ]; then
  mkdir -p "$ORACLE" && cp -r "$ORACLE_SRC"/. "$ORACLE"/ && (cd "$ORACLE" && npm ci --no-audit --no-fund > "$T/npm.log" 2>&1) ||
    { echo "interop: SKIP (npm ci failed: $(tail -1 "$T/npm.log"))"; exit 0; }
fi
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL interop: $1" >&2; fi; }
python3 - "$T" <<'PY'
import random, struct, sys
d = sys.argv[1]
r = random.Random(7)
open(d + "/random", "wb").write(bytes(r.getrandbits(8) for _ in range(400000)))
words = ["the", "model", "tensor", "weight", "layer", "xet", "chunk", "hash"]
open(d + "/text", "w").write(" ".join(r.choice(words) for _ in range(90000)))
open(d + "/float32", "wb").write(b"".join(struct.pack("<f", r.gauss(0, 0.02)) for _ in range(100000)))
open(d + "/tiny", "wb").write(b"x")
PY
for f in random text float32 tiny; do
  for c in auto none lz4 bg4; do
    ours=$("$CAS" xorb pack "$T/$f" -o "$T/$f.$c.xorb" --compression $c 2>/dev/null)
    theirs=$(node "$ORACLE/xet-oracle.mjs" decode-xorb "$T/$f.$c.xorb" "$T/$f.$c.out" 2>"$T/err" | tail -1 | awk '{print $NF}')
    check "$f $c: HF decodes our xorb to the same bytes" 'cmp -s "$T/$f.$c.out" "$T/$f"'
    check "$f $c: HF computes our xorb hash ($ours vs $theirs)" '[ -n "$ours" ] && [ "$ours" = "$theirs" ]'
  done
done
# Shards: HF's parser (parse-shard: its layout view and parseShardData) reads the shards we
# write and the ones it wrote, and both agree with `cas shard dump --json` field by field.
for f in tests/vectors/shard/cas-*.shard tests/vectors/shard/hf-*.shard; do
  n=$(basename "$f" .shard)
  node "$ORACLE/xet-oracle.mjs" parse-shard "$f" > "$T/$n.oracle.json" 2> "$T/err"
  "$CAS" shard dump "$f" --json > "$T/$n.ours.json"
  check "shard $n: HF's parser agrees with ours" 'node tests/oracle/shard_compare.mjs "$T/$n.ours.json" "$T/$n.oracle.json" > "$T/cmp" 2>&1'
done
echo "interop: $pass passed, $fail failed"
[ $fail -eq 0 ]
