#!/bin/sh
# make codesize: what cas.h adds to a firmware-style program (examples/firmware.c: CAS_NO_STDIO,
# CAS_NO_SIMD, CAS_NO_ZSTD, a manifest parsed and a file downloaded and verified in arenas).
# Built with -Os -ffunction-sections -fdata-sections and linked with -Wl,--gc-sections, then
# the linker map says which input sections of firmware.o were kept: every one counts except
# the example's own (main and the fw_* functions and buffers, its stand-ins for the board).
# Merged string literals (.rodata.str*) are counted whole, the example's ~150 bytes with the
# library's messages; .eh_frame (unwind tables: -fno-asynchronous-unwind-tables drops them)
# and libc's memcpy/memset/memmove/strlen are not. README's "Firmware" figure comes from the
# first line. Usage: sh tests/codesize.sh [BUILD_DIR]
set -u
B=${1:-${BUILD:-build}}/codesize
mkdir -p "$B"
FLAGS="-std=c99 -Wall -Wextra -Werror -Os -ffunction-sections -fdata-sections"
printf '%-22s %8s %8s %6s %8s %8s\n' "cas.h in firmware.c" text rodata data "= total" "bss"
status=0
# size_of CC ID LABEL EXTRA...: builds, links with a map, prints the line
size_of() {
    cc=$1 tag=$2 label=$3
    shift 3
    command -v "$cc" > /dev/null 2>&1 || { printf '%-22s (no %s)\n' "$label" "$cc"; return; }
    if ! $cc $FLAGS "$@" -c examples/firmware.c -o "$B/fw-$tag.o" 2> "$B/fw-$tag.err" ||
       ! $cc "$@" "$B/fw-$tag.o" -o "$B/fw-$tag" -Wl,--gc-sections -Wl,-Map="$B/fw-$tag.map" 2>> "$B/fw-$tag.err"; then
        printf '%-22s (does not build here: %s)\n' "$label" "$(head -c 120 "$B/fw-$tag.err" | tr '\n' ' ')"
        return
    fi
    awk -v obj="fw-$tag.o" -v tag="$label" '
        function hex(s,   i, v) { # "0x1ed" -> 493 (mawk has no strtonum)
            v = 0
            for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
            return v
        }
        function add(name, size, file) {
            if (file !~ ("(^|/)" obj "$") || name ~ /\.(main|fw_[a-z_]*)($|\.)/) return
            if (name ~ /^\.text/) text += size; else if (name ~ /^\.rodata/) ro += size
            else if (name ~ /^\.data/) data += size; else if (name ~ /^\.bss/) bss += size
        }
        /^Linker script and memory map/ { on = 1; next }
        !on { next }
        pending != "" { if (NF >= 3) add(pending, hex($2), $3); pending = ""; next }
        /^ \./ { if (NF >= 4) add($1, hex($3), $4); else if (NF == 1) pending = $1 }
        END { printf "%-22s %8d %8d %6d %8d %8d\n", tag, text, ro, data, text + ro + data, bss }
    ' "$B/fw-$tag.map" || status=1
}
size_of gcc gcc "gcc -Os x86-64"
size_of gcc gcc32 "gcc -Os -m32" -m32
a64=$(command -v aarch64-linux-gnu-gcc || command -v aarch64-linux-gnu-gcc-12 || echo aarch64-linux-gnu-gcc)
size_of "$a64" a64 "gcc -Os aarch64" -static
size_of clang clang "clang -Os x86-64"
size_of clang clangz "clang -Oz x86-64" -Oz
exit $status
