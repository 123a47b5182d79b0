#!/bin/sh
# Packaging (make check; runnable alone: sh tests/consumers.sh): a tiny program that uses
# cas.h is built each way a user can get it, and the version is the same everywhere.
#   install     make install PREFIX=/usr DESTDIR=$T/root, then pkg-config --cflags cas
#               (PKG_CONFIG_SYSROOT_DIR=$T/root); the installed tool and man page work
#   subdir      CMake add_subdirectory(<this tree>) + target_link_libraries(... cas::cas)
#   fetch       CMake FetchContent from this git repository at HEAD (the committed tree)
#   dist        dist/cas.h (vendor/amalgamate.py) alone in a directory, C and C++; its
#               implementation's functions are those of cas.h + vendor/, each the same size
#   version     CHANGELOG.md's first version = CAS_VERSION_STRING = MAJOR.MINOR.PATCH =
#               cas_version() = cas.pc's Version = CMake's project version
# Compiles at -O0 (the check is that it builds and runs, not speed). cmake or pkg-config
# missing: that cell is skipped with the package to install, or fails under CI=true.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-$(command -v clang || echo cc)} # (clang -O0 compiles cas.h in 2 s, gcc in 3.5)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$top/tests/clilib.sh"
skip() { if [ "${CI:-}" = true ]; then bad "$1 (CI has it: .ci/run)"; else echo "SKIP: $1" >&2; fi; }
cd "$top"

want_version=$(sed -n 's/^## \([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' CHANGELOG.md | head -n 1)
macro() { sed -n "s/^#define $1 \\(.*\\)/\\1/p" cas.h | tr -d '"'; }
check '[ -n "$want_version" ] && [ "$(macro CAS_VERSION_STRING)" = "$want_version" ]' \
    "version: CHANGELOG.md says $want_version, CAS_VERSION_STRING $(macro CAS_VERSION_STRING)"
check '[ "$(macro CAS_VERSION_MAJOR).$(macro CAS_VERSION_MINOR).$(macro CAS_VERSION_PATCH)" = "$want_version" ]' \
    "version: CAS_VERSION_MAJOR.MINOR.PATCH is not $want_version"
# what every consumer prints: cas_version() and the chunk hash of "abc"
want="$want_version a8803506f7aff014f19aa9e9b79dc6455c49672570f96156071329698dd0284e"
cat > "$T/consumer.c" <<'C'
#define CAS_IMPLEMENTATION
#include "cas.h"
#include <stdio.h>
int main(void) {
    cas_hash h;
    char hex[CAS_HASH_HEX_SIZE + 1];
    cas_chunk_hash("abc", 3, &h);
    cas_hash_to_hex(&h, hex);
    printf("%s %s\n", cas_version(), hex);
    return 0;
}
C
cp "$T/consumer.c" "$T/consumer.cpp"
WARN="-std=c99 -pedantic -Wall -Wextra -Werror"

# ---- install + pkg-config
make --no-print-directory -s install PREFIX=/usr DESTDIR="$T/root" > "$T/install.log" 2>&1
check '[ $? -eq 0 ] && [ -f "$T/root/usr/include/cas.h" ] && [ -f "$T/root/usr/include/vendor/cas_blake3.inc" ]' "install: make install ($(tail -n 3 "$T/install.log"))"
check '"$T/root/usr/bin/cas" hash cas.h > /dev/null' "install: the installed cas runs"
if command -v groff > /dev/null 2>&1; then
    check '[ -z "$(groff -man -Tutf8 -ww -z "$T/root/usr/share/man/man1/cas.1" 2>&1)" ]' "install: cas.1 renders without warnings"
fi
if command -v pkg-config > /dev/null 2>&1; then
    pc() { PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$T/root/usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$T/root" pkg-config "$@"; }
    check '[ "$(pc --modversion cas)" = "$want_version" ]' "install: cas.pc's Version is not $want_version"
    # (-DNDEBUG: the object's functions are compared with dist/cas.h's below)
    check '$CC $WARN -O0 -DNDEBUG $(pc --cflags cas) -c "$T/consumer.c" -o "$T/sym-split.o" &&
           $CC "$T/sym-split.o" -o "$T/c-install" $(pc --libs cas) && [ "$("$T/c-install")" = "$want" ]' \
        "install: consumer built with pkg-config --cflags cas ($(pc --cflags cas))"
else
    skip "install: no pkg-config (apt-get install pkg-config)"
fi

# ---- CMake: add_subdirectory and FetchContent
if command -v cmake > /dev/null 2>&1; then
    cmake_consumer() { # NAME, then the CMake lines that make cas::cas and set cas_dir
        mkdir -p "$T/$1"
        cp "$T/consumer.c" "$T/$1/"
        { echo "cmake_minimum_required(VERSION 3.14)"; echo "project(consumer C)"; echo "$2"
          echo 'add_executable(consumer consumer.c)'
          echo 'target_link_libraries(consumer PRIVATE cas::cas)'
          echo 'get_directory_property(v DIRECTORY "${cas_dir}" DEFINITION cas_VERSION)'
          echo 'file(WRITE "${CMAKE_BINARY_DIR}/cas_version.txt" "${v}")'; } > "$T/$1/CMakeLists.txt"
        cmake -S "$T/$1" -B "$T/$1/build" -DCMAKE_C_COMPILER="$CC" > "$T/$1.log" 2>&1 &&
            cmake --build "$T/$1/build" >> "$T/$1.log" 2>&1
    }
    cmake_consumer subdir "add_subdirectory(\"$top\" cas)
set(cas_dir \"$top\")"
    check '[ $? -eq 0 ] && [ "$("$T/subdir/build/consumer")" = "$want" ]' "cmake add_subdirectory: consumer ($(tail -n 5 "$T/subdir.log"))"
    check '[ "$(cat "$T/subdir/build/cas_version.txt")" = "$want_version" ]' "cmake: project version is not $want_version"
    head=$(git rev-parse HEAD 2> /dev/null)
    if [ -n "$head" ]; then
        cmake_consumer fetch "include(FetchContent)
set(FETCHCONTENT_BASE_DIR \"$T/fetch/deps\")
FetchContent_Declare(cas GIT_REPOSITORY \"file://$top\" GIT_TAG $head)
FetchContent_MakeAvailable(cas)
set(cas_dir \"\${cas_SOURCE_DIR}\")"
        check '[ $? -eq 0 ] && [ "$("$T/fetch/build/consumer")" = "$want" ]' "cmake FetchContent: consumer ($(tail -n 5 "$T/fetch.log"))"
    else
        skip "cmake FetchContent: not a git checkout"
    fi
else
    skip "cmake: not installed (apt-get install cmake)"
fi

# ---- dist/cas.h alone
mkdir -p "$T/dist"
python3 vendor/amalgamate.py cas.h > "$T/dist/cas.h"
check '[ $? -eq 0 ] && ! grep -q "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"vendor/" "$T/dist/cas.h"' "dist: amalgamate.py"
cp "$T/consumer.c" "$T/consumer.cpp" "$T/dist/"
check '(cd "$T/dist" && $CC $WARN -O0 -DNDEBUG -c consumer.c -o "$T/sym-dist.o" && $CC "$T/sym-dist.o" -o c-dist) &&
       [ "$("$T/dist/c-dist")" = "$want" ]' "dist: consumer of dist/cas.h alone"
if command -v c++ > /dev/null 2>&1; then
    check '(cd "$T/dist" && c++ -std=c++11 -Wall -Wextra -Werror -O0 consumer.cpp -o cxx-dist) && [ "$("$T/dist/cxx-dist")" = "$want" ]' "dist: as C++"
fi
# the same functions, each the same size, as the installed cas.h + vendor/ gave: the inlined
# text is the included text
for v in split dist; do
    [ -f "$T/sym-$v.o" ] && nm -S --defined-only "$T/sym-$v.o" | awk '$3 ~ /^[Tt]$/ { print $4, $2 }' | sort > "$T/sym-$v.txt"
done
if [ -f "$T/sym-split.o" ]; then
    check '[ -s "$T/sym-split.txt" ] && cmp -s "$T/sym-split.txt" "$T/sym-dist.txt"' "dist: functions differ from cas.h + vendor/'s ($(diff "$T/sym-split.txt" "$T/sym-dist.txt" | head -n 4 | tr '\n' ' '))"
fi

echo "consumers: $pass passed, $fail failed"
[ $fail -eq 0 ]
