#!/bin/sh
# The portability matrix of `make check` (sourced by tests/check.sh; `sh tests/portability.sh`
# runs it alone): the tests built -m32, on a big-endian CPU (s390x, static, under qemu-user),
# on 64-bit ARM (aarch64, static, under qemu-user, NEON on),
# as wasm32-wasi in Node's WASI sandbox, as C++, under clang -fsanitize=integer, and a
# CAS_NO_STDIO object checked for stdio/file calls. A missing toolchain is a SKIP with the
# Debian packages to install, except under CI=true (.ci/run installs them all), where it fails.
if [ -z "${B:-}" ]; then # run alone
  set -u
  B=${BUILD:-build}/check
  mkdir -p "$B"
  fails=0
  step() { echo "== $*"; }
  run() { if "$@"; then :; else echo "FAIL: $*" >&2; fails=$((fails + 1)); fi; }
  WARN="-std=c99 -pedantic -Wall -Wextra -Werror"
  PORT_ALONE=1
fi
# The conformance programs of the matrix (tests/test_<name>.c), their arguments and the
# libraries they link. test_lz4 links liblz4 as its test-only oracle, so it needs a liblz4
# built for the target: Debian multiarch has one for i386 and s390x (.ci/run installs them;
# the s390x build is static, so qemu-user needs no library path), nothing has one for
# wasm32-wasi, where it does not run. test_limits builds 64 MiB inputs: it runs -m32, on
# s390x and in WASI (where sizes and byte order matter), not in the C++ and
# -fsanitize=integer cells (slow there, and nothing in it differs).
PORT_TESTS="main shard json upload json_upload multipart download subtree pchunk server lz4 limits"
port_args() { case $1 in upload|subtree) echo tests/vectors ;; lz4) echo --quick ;; esac; }
port_libs() { case $1 in lz4) echo -llz4 ;; esac; }
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $* (CI must have every toolchain: see .ci/run)" >&2; fails=$((fails + 1))
  else echo "SKIP: $*" >&2; fi
}
# Builds tests/test_<t>.c for every t in PORT_TESTS with "$@" as the compiler and flags,
# linked with the cell's one implementation object (and $PORT_LDFLAGS), to $B/<t>-$tag, and
# runs each through $runner (empty: directly). A library of port_libs that does not link for
# the target is a skip() (a failure under CI).
port_tests() {
  tag=$1 runner=$2
  shift 2
  # the implementation once per cell, linked into every test of the cell (tests/cas_impl.c)
  if ! "$@" -c tests/cas_impl.c -o "$B/impl-$tag.o"; then
    echo "FAIL: $tag: build of tests/cas_impl.c" >&2; fails=$((fails + 1)); return
  fi
  for t in $PORT_TESTS; do
    case $tag/$t in wasm/lz4|cxx/limits|int/limits) continue ;; esac
    libs=$(port_libs $t)
    if [ -n "$libs" ] && ! probe "$@" $libs; then
      skip "$tag: test_$t: cannot link $libs for this target ($(lib_pkgs $tag))"; continue
    fi
    if "$@" -DCAS_LINK_IMPL "tests/test_$t.c" -x none "$B/impl-$tag.o" -o "$B/$t-$tag" $libs ${PORT_LDFLAGS:-}; then
      run $runner "$B/$t-$tag" $(port_args $t)
    else
      echo "FAIL: $tag: build of tests/test_$t.c" >&2; fails=$((fails + 1))
    fi
  done
}
probe() { printf 'int main(void) { return 0; }\n' > "$B/probe.c"; "$@" "$B/probe.c" -o "$B/probe.out" >/dev/null 2>&1; }
# The Debian packages of port_libs' libraries for a matrix cell.
lib_pkgs() {
  case $1 in
    m32) echo "dpkg --add-architecture i386; apt-get update; apt-get install liblz4-dev:i386" ;;
    s390x) echo "dpkg --add-architecture s390x; apt-get update; apt-get install liblz4-dev:s390x" ;;
    aarch64) echo "dpkg --add-architecture arm64; apt-get update; apt-get install liblz4-dev:arm64" ;;
    *) echo "apt-get install liblz4-dev" ;;
  esac
}
# The same xorbs on every platform: `cas xorb pack` of cas.h with LZ4 and BG4+LZ4 by the
# native tool and by $1 (a 32-bit or big-endian build) must be the same bytes.
same_xorbs() {
  [ -x "$B/cas-native" ] || gcc $WARN -O2 examples/cas.c -o "$B/cas-native" || return 1
  for z in lz4 bg4; do
    "$B/cas-native" xorb pack cas.h -o "$B/native.$z.xorb" --compression $z >/dev/null &&
      "$1" xorb pack cas.h -o "$B/other.$z.xorb" --compression $z >/dev/null &&
      cmp "$B/native.$z.xorb" "$B/other.$z.xorb" || return 1
  done
}

step "-m32: the tests and the CLI as a 32-bit x86 program"
# -idirafter: without gcc-multilib (it conflicts with Debian's cross compilers) <asm/*.h> for
# -m32 is the multiarch directory's.
M32="-m32 -idirafter /usr/include/x86_64-linux-gnu"
if probe gcc $M32; then
  port_tests m32 "" gcc $WARN -O2 $M32
  if run gcc $WARN -O2 $M32 examples/cas.c -o "$B/cas-m32"; then
    for s in cli cli_shard cli_pack; do run sh tests/$s.sh "$B/cas-m32"; done
    run same_xorbs "$B/cas-m32"
  fi
else
  skip "-m32: gcc cannot build 32-bit programs (apt-get install lib32gcc-12-dev libc6-dev-i386)"
fi

# A cell of another CPU: the conformance tests and the CLI tests built static with a cross
# compiler and run under qemu-user, and the same xorbs as the native tool.
# cross_cell TAG "COMPILERS" "QEMUS" "DEBIAN PACKAGES" [LINE...]: each LINE must be one of
# `cas version`'s (the code paths it runs there).
cross_cell() {
  tag=$1 ccs=$2 qemus=$3 pkgs=$4
  shift 4
  xcc= xq=
  for c in $ccs; do command -v $c >/dev/null 2>&1 && { xcc=$c; break; }; done
  for q in $qemus; do command -v $q >/dev/null 2>&1 && { xq=$q; break; }; done
  if [ -z "$xcc" ] || [ -z "$xq" ] || ! probe $xcc -static; then
    skip "$tag: no cross compiler or qemu-user (apt-get install $pkgs)"
    return
  fi
  port_tests $tag "$xq" $xcc $WARN -O2 -static
  run $xcc $WARN -O2 -static examples/cas.c -o "$B/cas-$tag" || return
  printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$xq" "$(cd "$B" && pwd)/cas-$tag" > "$B/cas-$tag.sh"
  chmod +x "$B/cas-$tag.sh"
  for line in "$@"; do run sh -c "'$B/cas-$tag.sh' version | grep -qx '$line'"; done
  for s in cli cli_shard cli_pack; do run sh tests/$s.sh "$B/cas-$tag.sh"; done
  run same_xorbs "$B/cas-$tag.sh"
}

step "big-endian: the tests and the CLI on s390x (static, under qemu-user)"
cross_cell s390x "s390x-linux-gnu-gcc s390x-linux-gnu-gcc-12" "qemu-s390x qemu-s390x-static" \
  "gcc-12-s390x-linux-gnu libc6-dev-s390x-cross qemu-user"

# (qemu's default aarch64 CPU has NEON and the SHA-256 instructions; test_main checks SHA-256
# on them and on the portable path, through cas_cpu_limit)
step "aarch64: the tests and the CLI on 64-bit ARM (static, under qemu-user), NEON BLAKE3 and ARMv8 SHA-256 on"
cross_cell aarch64 "aarch64-linux-gnu-gcc aarch64-linux-gnu-gcc-12" "qemu-aarch64 qemu-aarch64-static" \
  "gcc-12-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" "blake3: neon" "sha256: armv8-sha2"

step "wasm32-wasi: the tests in Node's WASI sandbox"
# 1 MiB of stack: wasm-ld's default is 64 KiB, less than the test programs' own frames.
WASM="--target=wasm32-wasi -O2"
if probe clang $WASM && node -e "new (require('node:wasi').WASI)({ version: 'preview1' })" >/dev/null 2>&1; then
  PORT_LDFLAGS=-Wl,-z,stack-size=1048576 port_tests wasm "node --no-warnings tests/wasi_run.mjs" clang $WARN $WASM
  # examples/hash.c unchanged, in wasm-ld's default 64 KiB stack: the Xet hashes of
  # tests/vectors (its files below ., the one host directory the sandbox sees)
  if run clang $WARN $WASM examples/hash.c -o "$B/hash.wasm"; then
    run env EXAMPLES_TMP="$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1]))' "$B")" \
      sh tests/examples.sh hash "node --no-warnings tests/wasi_run.mjs $B/hash.wasm"
  fi
else
  skip "wasm32-wasi: needs clang, lld, wasi-libc, libclang-rt-14-dev-wasm32 and Node.js >= 20"
fi

step "C++: the implementation compiles as C++11 (g++, clang++), the tests run as C++"
printf '#define CAS_IMPLEMENTATION\n#include "cas.h"\nint main() { cas_hash h = cas_hash(); char x[65]; cas_chunk_hash("abc", 3, &h); cas_hash_to_hex(&h, x); return x[0] != %s; }\n' "'a'" > "$B/impl.cpp"
for cxx in g++ clang++; do
  command -v $cxx >/dev/null 2>&1 || { skip "C++: $cxx not installed"; continue; }
  run $cxx -std=c++11 -Wall -Wextra -Werror -pedantic -O2 -I. "$B/impl.cpp" -o "$B/impl-$cxx"
  run "$B/impl-$cxx"
done
if command -v g++ >/dev/null 2>&1; then
  run g++ -std=c++11 -Wall -Wextra -Werror -pedantic -O0 -DCAS_NO_SIMD -DCAS_NO_ZSTD -I. -c "$B/impl.cpp" -o "$B/impl-min.o"
  port_tests cxx "" g++ -std=c++11 -Wall -Wextra -Werror -O1 -x c++
fi

step "CAS_NO_STDIO: no <stdio.h>, no stdio or file call in the implementation"
printf '#define CAS_IMPLEMENTATION\n#include "cas.h"\n' > "$B/nostdio.c"
IO='^(_IO_.*|__isoc99_.*|(f|v|vf|s|sn|vs|vsn|d|vd)printf|(f|s|vf|vs)?scanf|f(open|open64|close|read|write|seeko?|tello?|flush|gets|puts|putc|getc|error|eof|ileno|dopen|reopen|stat|stat64)|puts|putchar|getchar|perror|remove|rename|tmpfile|tmpnam|setvbuf|setbuf|popen|pclose|open|open64|openat|close|read|write|pread|pwrite|lseek|lseek64|stat|lstat|fstat|mmap|munmap|unlink|getenv|system|stdin|stdout|stderr)$'
for variant in "gcc -O2" "gcc -O0 -DCAS_NO_SIMD" "clang -O2"; do
  if ! $variant $WARN -DCAS_NO_STDIO -I. -c "$B/nostdio.c" -o "$B/nostdio.o"; then
    echo "FAIL: $variant -DCAS_NO_STDIO build" >&2; fails=$((fails + 1)); continue
  fi
  if $variant -DCAS_NO_STDIO -I. -H -E "$B/nostdio.c" 2>&1 >/dev/null | grep -q '[/ ]stdio\.h$'; then
    echo "FAIL: $variant -DCAS_NO_STDIO: <stdio.h> is included" >&2; fails=$((fails + 1))
  fi
  calls=$(nm -u "$B/nostdio.o" | awk '{print $NF}' | grep -E "$IO" || true)
  if [ -n "$calls" ]; then echo "FAIL: $variant -DCAS_NO_STDIO: calls" $calls >&2; fails=$((fails + 1)); fi
done
echo "   libc functions used:" $(nm -u "$B/nostdio.o" | awk '{print $NF}')

step "clang -fsanitize=integer (tests/sanitize-integer.txt lists the functions that wrap on purpose)"
INT="-O1 -g -fsanitize=integer -fno-sanitize-recover=all -fsanitize-ignorelist=tests/sanitize-integer.txt"
if probe clang $INT; then
  port_tests int "" clang $WARN $INT
  if probe clang -m32 $INT; then
    run clang $WARN $INT $M32 tests/test_main.c -o "$B/main-int-m32"
    run "$B/main-int-m32"
  fi
else
  skip "clang -fsanitize=integer: needs clang and libclang-rt-14-dev"
fi

if [ -n "${PORT_ALONE:-}" ]; then
  if [ $fails -eq 0 ]; then echo "portability: all passed"; else echo "portability: $fails failed"; fi
  [ $fails -eq 0 ]
fi
