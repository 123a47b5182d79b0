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
# Chunk + hash use no heap (README "Memory bounds"): the cas code's malloc/calloc/realloc
# references are redirected (--wrap: libc's own calls are untouched) to functions that abort,
# and 3 MB of data goes through cas_chunk_stream, cas_merkle and cas_sha256 in odd pieces.
cat > noheap.c <<'C'
#define CAS_IMPLEMENTATION
#include "cas.h"
#include <stdio.h>
#include <stdlib.h>
void *__wrap_malloc(size_t n) { (void)n; abort(); }
void *__wrap_calloc(size_t n, size_t m) { (void)n, (void)m; abort(); }
void *__wrap_realloc(void *p, size_t n) { (void)p, (void)n; abort(); }
static unsigned char data[3000000];
int main(void) {
    cas_chunk_stream cs;
    cas_merkle m;
    cas_sha256 sh;
    cas_chunk c;
    cas_hash file;
    unsigned char d[32];
    size_t off = 0, i, chunks = 0;
    unsigned x = 1;
    for (i = 0; i < sizeof data; i++) data[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 24);
    cas_chunk_stream_init(&cs);
    cas_merkle_init(&m);
    cas_sha256_init(&sh);
    while (off < sizeof data) {
        size_t want = sizeof data - off < 7777 ? sizeof data - off : 7777, used;
        cas_sha256_update(&sh, data + off, want);
        for (used = 0; used < want;) {
            used += cas_chunk_stream_push(&cs, data + off + used, want - used, &c);
            if (c.size) chunks++, cas_merkle_push(&m, &c);
        }
        off += want;
    }
    if (cas_chunk_stream_finish(&cs, &c)) chunks++, cas_merkle_push(&m, &c);
    cas_merkle_file_hash(&m, &file);
    cas_sha256_final(&sh, d);
    printf("%u chunks, no heap\n", (unsigned)chunks);
    return chunks < 10;
}
C
if $CC -O2 -I"$top" noheap.c -o noheap -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc && ./noheap > out_noheap; then
  pass=$((pass+1))
else
  fail=$((fail+1)); echo "FAIL single-tu: chunk + hash touched the heap (or did not build): $(cat out_noheap 2>/dev/null)" >&2
fi
# CAS_API=static: the library private to the one file, warning-free under -Wall -Wextra
# -Werror (the functions user.c does not call are marked unused), with gcc and clang; no
# public cas_ function is left global. (The vendored BLAKE3's renamed cas__blake3_* stay
# global: two such files still cannot be linked into one program.)
for cc in gcc clang; do
  command -v $cc > /dev/null 2>&1 || continue
  if $cc -std=c99 -pedantic -Wall -Wextra -Werror -O0 -DCAS_API=static -I"$top" -c user.c -o user_static.o &&
     ! nm -g --defined-only user_static.o | awk '{print $3}' | grep -q '^cas_[a-z0-9]'; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL single-tu: $cc -DCAS_API=static -Werror (or a public function left global)" >&2
  fi
done
echo "single-tu: $pass passed, $fail failed"
[ $fail -eq 0 ]
