#!/bin/sh
# `make check`: the test runner and CLI tests under ASan+UBSan with gcc and clang, strict
# C99 -pedantic builds, a CAS_NO_SIMD build, the header in C++, the portability matrix
# (tests/portability.sh), no leaked symbols or macros, and no VEX (AVX) instruction outside
# the functions compiled for AVX.
set -u
B=${BUILD:-build}/check
mkdir -p "$B"
fails=0
# step NAME: starts a step; the wall time of each is listed at the end
STEPS_LOG="$B/steps.log"
: > "$STEPS_LOG"
step_name= step_t0=
step_end() {
  [ -n "$step_name" ] && printf '%-70.70s %7s s\n' "$step_name" "$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $step_t0 }")" >> "$STEPS_LOG"
  step_name=
}
step() { step_end; echo "== $*"; step_name=$*; step_t0=$(date +%s.%N); }
check_t0=$(date +%s.%N)
run() { if "$@"; then :; else echo "FAIL: $*" >&2; fails=$((fails + 1)); fi; }
WARN="-std=c99 -pedantic -Wall -Wextra -Werror"
# README's quick start needs only gcc and make: with libcurl's headers hidden from the compiler
# (a curl/curl.h that is an #error first on the include path), `make` must still build
# build/cas, without get/put, and say so once; the tool then works and says why get is missing.
step "make without libcurl's headers: build/cas without get/put, said once"
mkdir -p "$B/nocurl-inc/curl"
printf '#error "libcurl hidden by tests/check.sh"\n' > "$B/nocurl-inc/curl/curl.h"
run sh -c "make --no-print-directory BUILD='$B/nocurl' CC='cc -I$B/nocurl-inc' '$B/nocurl/cas' > '$B/nocurl.log' 2>&1"
run sh -c "[ \"\$(grep -c 'without get/put' '$B/nocurl.log')\" = 1 ] && ! grep -q CAS_WITH_CURL '$B/nocurl.log'"
run sh -c "'$B/nocurl/cas' get acme/demo x 2>&1 | grep -q 'no libcurl' && '$B/nocurl/cas' hash cas.h > /dev/null"

for cc in gcc clang; do
  command -v $cc >/dev/null 2>&1 || { echo "FAIL: $cc not installed" >&2; fails=$((fails + 1)); continue; }
  step "$cc: ASan+UBSan: every suite and CLI test (the Makefile's list, one implementation object)"
  SAN="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  run env ASAN_OPTIONS=detect_leaks=1 make --no-print-directory -j2 BUILD="$B/san-$cc" CC=$cc CFLAGS="$SAN" WARN="$WARN" \
    LZ4_ARGS=--quick test-suites
  step "$cc: CAS_NO_SIMD"
  run $cc $WARN -O2 -DCAS_NO_SIMD tests/test_main.c -o "$B/test-nosimd-$cc"
  run "$B/test-nosimd-$cc"
  step "$cc: CAS_NO_ZSTD builds"
  run $cc $WARN -O2 -DCAS_NO_ZSTD examples/cas.c -o "$B/cas-nozstd-$cc"
  step "$cc: -O0 and -O3"
  run $cc $WARN -O0 tests/test_main.c -o "$B/test-O0-$cc"
  run "$B/test-O0-$cc"
  run $cc $WARN -O3 tests/test_main.c -o "$B/test-O3-$cc"
  run "$B/test-O3-$cc"
done

step "C++: the declarations compile in a .cpp file"
printf '#include "cas.h"\nint main() { cas_hash h = cas_hash(); char x[65]; cas_hash_to_hex(&h, x); return 0; }\n' > "$B/decl.cpp"
for cxx in g++ clang++; do
  command -v $cxx >/dev/null 2>&1 || continue
  run $cxx -std=c++11 -Wall -Wextra -Werror -pedantic -I. -c "$B/decl.cpp" -o "$B/decl-$cxx.o"
done

# -m32, big-endian (s390x under qemu), wasm32-wasi, the implementation as C++, CAS_NO_STDIO,
# clang -fsanitize=integer.
. tests/portability.sh

step "macro hygiene: nothing but CAS_* macros leaks out of the implementation"
hdrs=$(cat cas.h vendor/blake3/*.c vendor/blake3/*.h vendor/zstd/zstddeclib.c | sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' | sort -u | grep -v -e '^intrin.h$' -e arm_neon.h -e '^stdio.h$')
: > "$B/base.c"
for h in $hdrs; do
  printf '#include <%s>\n' "$h" > "$B/one.c"
  cc -E "$B/one.c" > /dev/null 2>&1 && printf '#include <%s>\n' "$h" >> "$B/base.c"
done
printf '#define CAS_IMPLEMENTATION\n#include "cas.h"\n' > "$B/impl.c"
cat "$B/base.c" >> "$B/impl.c"
for cc in gcc clang; do
  $cc -std=c99 -dM -E "$B/base.c" | awk '{print $2}' | sed 's/(.*//' | sort -u > "$B/base.macros"
  $cc -std=c99 -dM -E -I. "$B/impl.c" | awk '{print $2}' | sed 's/(.*//' | sort -u > "$B/impl.macros"
  leaked=$(comm -13 "$B/base.macros" "$B/impl.macros" | grep -v -E '^CAS_[A-Z0-9]' | grep -v '^CAS__IMPLEMENTED$' || true)
  if [ -n "$leaked" ]; then echo "FAIL: $cc: macros leak: $(echo $leaked | head -c 600)" >&2; fails=$((fails + 1)); fi
done

step "symbols: only cas_* leave the object file (default, CAS_NO_SIMD, clang)"
for variant in "gcc" "gcc -DCAS_NO_SIMD" "clang"; do
  $variant -O2 -c -I. -x c "$B/impl.c" -o "$B/sym.o" 2>/dev/null || { echo "FAIL: $variant build" >&2; fails=$((fails + 1)); continue; }
  leaked=$(nm -g --defined-only "$B/sym.o" | awk '{print $3}' | grep -v '^cas_' || true)
  if [ -n "$leaked" ]; then echo "FAIL: $variant: symbols leak: $leaked" >&2; fails=$((fails + 1)); fi
done

step "no VEX instruction outside AVX functions"
for cc in gcc clang; do
  $cc -O2 -c -I. -x c "$B/impl.c" -o "$B/vex-$cc.o" 2>/dev/null || continue
  bad=$(objdump -d --no-show-raw-insn "$B/vex-$cc.o" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; next }
    fn !~ /avx/ && ($2 ~ /^v/ || $0 ~ /%[yz]mm/) { print fn; }' | sort -u | head -20)
  if [ -n "$bad" ]; then echo "FAIL: $cc: VEX/AVX code in non-AVX functions: $bad" >&2; fails=$((fails + 1)); fi
done

step "multi-minute scenarios: make test-big"
run make --no-print-directory test-big

step "fuzzing: every target for FUZZ_SECONDS (default 30 in make check: 15 targets, the budget of make check is 30 min) under ASan+UBSan, then its corpus replayed"
if printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}' |
   clang -x c - -fsanitize=fuzzer -o "$B/fuzzprobe" 2>/dev/null; then
  run make --no-print-directory fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-30}
else
  echo "FAIL: clang cannot link libFuzzer (apt-get install libclang-rt-14-dev)" >&2
  fails=$((fails + 1))
fi

step "ThreadSanitizer: threads hashing at once (tests/test_threads.c), cas pack --threads (the pool and the SHA-256 thread)"
run clang $WARN -O1 -g -fsanitize=thread -pthread tests/test_threads.c -o "$B/threads-tsan"
# Eight runs: TSan sees a race on a write-once cache only when the threads' first calls
# interleave closely enough (one run caught the unsynchronised cache 4 times in 5).
for i in 1 2 3 4 5 6 7 8; do
  run sh -c "TSAN_OPTIONS=halt_on_error=1 '$B/threads-tsan' > /dev/null"
done
run clang $WARN -O1 -g -fsanitize=thread -pthread examples/cas.c -o "$B/cas-tsan"
head -c 40000000 /dev/urandom > "$B/tsan.bin" # >= 32 MiB: mapped, as large inputs are
run sh -c "TSAN_OPTIONS=halt_on_error=1 '$B/cas-tsan' pack --store '$B/tsan-store' --threads 4 '$B/tsan.bin' tests/vectors/chunking.txt > /dev/null"
run sh -c "TSAN_OPTIONS=halt_on_error=1 '$B/cas-tsan' hash --threads 2 '$B/tsan.bin' > /dev/null"
rm -rf "$B/tsan.bin" "$B/tsan-store"

step "the loopback Hub/CAS test double checks itself"
run python3 tests/hubserver_selftest.py

step "packaging: consumers through make install + pkg-config, CMake add_subdirectory and FetchContent, dist/cas.h alone; one version everywhere"
run sh tests/consumers.sh

step "interop with Hugging Face's TypeScript reader (oracle)"
run sh tests/oracle/interop.sh "${BUILD:-build}/cas"

step_end
echo
echo "== make check: wall time per step"
cat "$STEPS_LOG"
printf '%-70s %7s s\n' "total" "$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $check_t0 }")"
if [ $fails -eq 0 ]; then echo "check: all passed"; else echo "check: $fails failed"; fi
[ $fails -eq 0 ]
