#!/bin/sh
# A user's program: `#define CAS_IMPLEMENTATION` + `#include "cas.h"`, compiled with plain
# `cc -O2 -c user.c` (no -m flags, no other .c files) and linked with nothing but libc. It
# must still select the CPU's best SIMD paths at run time.
set -eu
CC=${CC:-cc}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
top=$(pwd)
cat > "$T/user.c" <<'C'
#define CAS_IMPLEMENTATION
#include "cas.h"
#include <stdio.h>
#include <string.h>
int main(void) {
    cas_hash h;
    char hex[65];
    cas_chunk_hash("abc", 3, &h);
    cas_hash_to_hex(&h, hex);
    printf("%s %s %s\n", hex, cas_blake3_path(), cas_sha256_path());
    return strcmp(hex, "a8803506f7aff014f19aa9e9b79dc6455c49672570f96156071329698dd0284e") != 0;
}
C
cd "$T"
$CC -O2 -I"$top" -c user.c
$CC user.o -o user
./user > out
# Only cas_* symbols may leave the object file.
leaked=$(nm -g --defined-only user.o | awk '{print $3}' | grep -v -e '^cas_' -e '^main$' || true)
pass=0 fail=0
if [ -z "$leaked" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL single-tu: symbols leak: $leaked" >&2; fi
# The best path this CPU has is used (x86-64 with AVX-512/AVX2 here).
if grep -q avx512 /proc/cpuinfo 2>/dev/null && [ "$(uname -m)" = x86_64 ]; then
  if grep -q " avx512 " out; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL single-tu: not avx512: $(cat out)" >&2; fi
fi
if grep -q " sha_ni" /proc/cpuinfo 2>/dev/null; then
  if grep -q "sha-ni" out; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL single-tu: not sha-ni: $(cat out)" >&2; fi
fi
# Linked with nothing but libc: no libraries beyond libc (and the loader / vdso).
libs=$(ldd user | grep -v -E 'libc\.so|ld-linux|linux-vdso|ld64' || true)
if [ -z "$libs" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL single-tu: links $libs" >&2; fi
# CAS_BLAKE3_EXTERNAL: the caller's BLAKE3 (here the same C sources built as a separate
# static library, portable only) instead of the vendored one; the hashes must not change.
for f in blake3.c blake3_dispatch.c blake3_portable.c; do
  $CC -O2 -c -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 -DBLAKE3_NO_AVX512 "$top/vendor/blake3/$f" -o "ext_$f.o"
done
ar rcs libblake3.a ext_*.o
$CC -O2 -DCAS_BLAKE3_EXTERNAL -I"$top" -I"$top/vendor/blake3" -c user.c -o user_ext.o
$CC user_ext.o -L. -lblake3 -o user_ext
if ./user_ext > out_ext && grep -q " external " out_ext; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL single-tu: CAS_BLAKE3_EXTERNAL: $(cat out_ext)" >&2; fi
if nm user_ext.o | grep -q " U blake3_hasher_init_keyed"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL single-tu: CAS_BLAKE3_EXTERNAL still compiles the vendored BLAKE3" >&2; fi
echo "single-tu: $pass passed, $fail failed"
[ $fail -eq 0 ]
