#!/usr/bin/env bash
# Regenerate vendor/blake3/ and vendor/zstd/ from Debian packages, then write
# vendor/README.md.  Vendored files are never edited by hand: re-run this
# script instead.
#
# Usage:  bash vendor/update.sh
#
# Requirements: Debian bookworm (or compatible), root or sudo, network access
# to the Debian archive.  The script installs what it needs (dpkg-dev for
# `apt-get source`, python3 for zstd's combine.py) and adds a deb-src entry if
# none exists.  It is idempotent: re-running it against the same archive state
# produces byte-identical output.
#
# Optional pins (default: the archive's candidate version):
#   BLAKE3_DEB_VERSION=1.3.1-1        version of binary package librust-blake3-dev
#   ZSTD_SRC_VERSION=1.5.4+dfsg2-5    version of source package libzstd
set -euo pipefail

BLAKE3_PKG=librust-blake3-dev
ZSTD_SRC_PKG=libzstd
BLAKE3_FILES=(
  blake3.h blake3_impl.h blake3.c blake3_dispatch.c blake3_portable.c
  blake3_sse2.c blake3_sse41.c blake3_avx2.c blake3_avx512.c blake3_neon.c
)

VENDOR_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[vendor/update.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "needs root (or sudo) for apt-get"
fi
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------------------
# 1. apt configuration: make sure a deb-src entry exists.
# ---------------------------------------------------------------------------
have_deb_src() {
  grep -qsE '^[[:space:]]*Types:.*deb-src' /etc/apt/sources.list.d/*.sources && return 0
  grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
  return 1
}

SRC_FILE=/etc/apt/sources.list.d/debian-src.sources
if ! have_deb_src; then
  log "no deb-src entry found; creating $SRC_FILE"
  tmp_src=$(mktemp)
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # Mirror the deb822 binary sources, only switching the type.
    sed -E 's/^([[:space:]]*Types:[[:space:]]*)deb[[:space:]]*$/\1deb-src/' \
      /etc/apt/sources.list.d/debian.sources > "$tmp_src"
  else
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    cat > "$tmp_src" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${codename} ${codename}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: ${codename}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  "${SUDO[@]}" install -m 0644 "$tmp_src" "$SRC_FILE"
  rm -f "$tmp_src"
fi

log "apt-get update"
"${SUDO[@]}" apt-get update -qq

need_pkgs=()
command -v dpkg-source >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
command -v xz >/dev/null 2>&1 || need_pkgs+=(xz-utils)
python3 -c 'import sys; assert sys.version_info >= (3, 8)' 2>/dev/null || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing build helpers: ${need_pkgs[*]}"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

# ---------------------------------------------------------------------------
# 2. Download + extract into a scratch directory.
# ---------------------------------------------------------------------------
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"
mkdir -p "$WORK/dl" "$WORK/blake3-deb"
# Let apt's sandbox user write downloads (avoids the "unsandboxed" warning).
if id _apt >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then chown _apt "$WORK/dl"; fi

blake3_spec=$BLAKE3_PKG${BLAKE3_DEB_VERSION:+=$BLAKE3_DEB_VERSION}
zstd_spec=$ZSTD_SRC_PKG${ZSTD_SRC_VERSION:+=$ZSTD_SRC_VERSION}

log "apt-get download $blake3_spec"
(cd "$WORK/dl" && apt-get download -q "$blake3_spec")
log "apt-get source --download-only $zstd_spec"
(cd "$WORK/dl" && apt-get source -q --download-only "$zstd_spec")

deb=$(ls "$WORK"/dl/${BLAKE3_PKG}_*.deb)
dsc=$(ls "$WORK"/dl/${ZSTD_SRC_PKG}_*.dsc)
[ -f "$deb" ] && [ -f "$dsc" ] || die "download failed"

BLAKE3_DEB_VER=$(dpkg-deb -f "$deb" Version)
BLAKE3_DEB_SRC=$(dpkg-deb -f "$deb" Source)
ZSTD_DSC_VER=$(sed -n 's/^Version: //p' "$dsc" | head -n1)

dpkg-deb -x "$deb" "$WORK/blake3-deb"
crate_dirs=("$WORK"/blake3-deb/usr/share/cargo/registry/blake3-*)
[ ${#crate_dirs[@]} -eq 1 ] && [ -d "${crate_dirs[0]}/c" ] || die "blake3 crate c/ dir not found in $deb"
CRATE=${crate_dirs[0]}

dpkg-source --no-check -x "$dsc" "$WORK/zstd-src" >/dev/null
ZSRC=$WORK/zstd-src

# ---------------------------------------------------------------------------
# 3. BLAKE3: copy the C implementation verbatim.
# ---------------------------------------------------------------------------
BLAKE3_UPSTREAM=$(sed -n 's/^#define BLAKE3_VERSION_STRING "\(.*\)"/\1/p' "$CRATE/c/blake3.h")
[ -n "$BLAKE3_UPSTREAM" ] || die "cannot read BLAKE3_VERSION_STRING"

blake3_licenses=()
for f in "$CRATE"/c/LICENSE* "$CRATE"/LICENSE*; do
  [ -f "$f" ] || continue
  b=$(basename "$f")
  case " ${blake3_licenses[*]-} " in *" $b "*) continue ;; esac  # c/ copy wins
  blake3_licenses+=("$b")
done
[ ${#blake3_licenses[@]} -gt 0 ] || die "no licence file in blake3 crate"

rm -rf "$VENDOR_DIR/blake3.new"
mkdir -p "$VENDOR_DIR/blake3.new"
for f in "${BLAKE3_FILES[@]}"; do
  install -m 0644 "$CRATE/c/$f" "$VENDOR_DIR/blake3.new/$f"
done
for b in "${blake3_licenses[@]}"; do
  if [ -f "$CRATE/c/$b" ]; then src=$CRATE/c/$b; else src=$CRATE/$b; fi
  install -m 0644 "$src" "$VENDOR_DIR/blake3.new/$b"
done

# ---------------------------------------------------------------------------
# 4. zstd: build the single-file decoder with zstd's own script.
# ---------------------------------------------------------------------------
ZSTD_UPSTREAM=$(awk '/^#define ZSTD_VERSION_(MAJOR|MINOR|RELEASE)[[:space:]]/ {v[$2]=$3}
  END {print v["ZSTD_VERSION_MAJOR"] "." v["ZSTD_VERSION_MINOR"] "." v["ZSTD_VERSION_RELEASE"]}' "$ZSRC/lib/zstd.h")
SFL=$ZSRC/build/single_file_libs
[ -f "$SFL/create_single_file_decoder.sh" ] || die "zstd build/single_file_libs/create_single_file_decoder.sh missing"
log "running zstd build/single_file_libs/create_single_file_decoder.sh"
(cd "$SFL" && sh ./create_single_file_decoder.sh >"$WORK/combine.log" 2>&1) \
  || { cat "$WORK/combine.log" >&2; die "zstd amalgamation failed"; }
grep -q '^Combine script: PASSED' "$WORK/combine.log" || { cat "$WORK/combine.log" >&2; die "zstd amalgamation failed"; }
[ -s "$SFL/zstddeclib.c" ] || die "zstddeclib.c not produced"
combiner=combine.sh
python3 -c 'import sys; assert sys.version_info >= (3,8)' 2>/dev/null && combiner=combine.py

rm -rf "$VENDOR_DIR/zstd.new"
mkdir -p "$VENDOR_DIR/zstd.new"
install -m 0644 "$SFL/zstddeclib.c" "$VENDOR_DIR/zstd.new/zstddeclib.c"
install -m 0644 "$ZSRC/LICENSE" "$VENDOR_DIR/zstd.new/LICENSE"

# Macros baked in by zstddeclib-in.c (recorded in README).
ZSTD_BAKED=$(grep -E '^#[[:space:]]*(define|undef)' "$SFL/zstddeclib-in.c")

# Optional sanity check: the amalgamation must compile on its own.
if command -v cc >/dev/null 2>&1; then
  cc -O2 -c "$VENDOR_DIR/zstd.new/zstddeclib.c" -o "$WORK/zstddeclib.o" \
    || die "zstddeclib.c does not compile"
fi

# Swap in atomically-ish (only after everything succeeded).
rm -rf "$VENDOR_DIR/blake3" "$VENDOR_DIR/zstd"
mv "$VENDOR_DIR/blake3.new" "$VENDOR_DIR/blake3"
mv "$VENDOR_DIR/zstd.new" "$VENDOR_DIR/zstd"

# ---------------------------------------------------------------------------
# 5. README.md
# ---------------------------------------------------------------------------
sha_list() {  # dir files...
  local d=$1; shift
  local f
  for f in "$@"; do
    printf '| `%s` | `%s` |\n' "$f" "$(sha256sum "$VENDOR_DIR/$d/$f" | cut -d' ' -f1)"
  done
}
artefact_sha() { sha256sum "$1" | cut -d' ' -f1; }

blake3_lic_md=
for b in "${blake3_licenses[@]}"; do blake3_lic_md+="${blake3_lic_md:+, }\`blake3/$b\`"; done

{
  cat <<EOF
# Vendored third-party code

**Generated by \`vendor/update.sh\` — do not edit.** Files under \`vendor/\` are
never edited by hand; to change or update them, edit/re-run the script:

\`\`\`sh
bash vendor/update.sh
\`\`\`

It (re)creates \`vendor/blake3/\`, \`vendor/zstd/\` and this README from Debian
packages on a Debian bookworm machine (adding a \`deb-src\` entry if needed).

## BLAKE3 (\`vendor/blake3/\`)

- Debian package: \`$BLAKE3_PKG\` version \`$BLAKE3_DEB_VER\` (source package \`$BLAKE3_DEB_SRC\`)
- Debian artefact: \`$(basename "$deb")\` sha256 \`$(artefact_sha "$deb")\`
- Upstream: BLAKE3 \`$BLAKE3_UPSTREAM\` (https://github.com/BLAKE3-team/BLAKE3), C implementation
  from the crate's \`c/\` directory (\`/usr/share/cargo/registry/$(basename "$CRATE")/c/\`), copied unmodified.
  Only the intrinsics \`.c\` files are vendored (no \`.S\`/\`.asm\`).
- Licence: CC0-1.0 OR Apache-2.0 (see $blake3_lic_md)

| File | sha256 |
|------|--------|
EOF
  sha_list blake3 "${BLAKE3_FILES[@]}" "${blake3_licenses[@]}"
  cat <<EOF

## Zstandard decoder (\`vendor/zstd/\`)

- Debian source package: \`$ZSTD_SRC_PKG\` version \`$ZSTD_DSC_VER\`
- Debian artefact: \`$(basename "$dsc")\` sha256 \`$(artefact_sha "$dsc")\`
- Upstream: zstd \`$ZSTD_UPSTREAM\` (https://github.com/facebook/zstd)
- \`zstddeclib.c\` is the single-file *decoder* amalgamation generated, unmodified,
  by upstream's \`build/single_file_libs/create_single_file_decoder.sh\`
  (which ran \`$combiner -r ../../lib -x legacy/zstd_legacy.h -o zstddeclib.c zstddeclib-in.c\`).
  It inlines \`zstd.h\` and \`zstd_errors.h\`; no separate header is needed.
  Settings baked in by \`zstddeclib-in.c\`:

\`\`\`c
$ZSTD_BAKED
\`\`\`

- Licence: BSD-3-Clause (\`zstd/LICENSE\`); upstream is dual BSD/GPLv2, the BSD option is used.

| File | sha256 |
|------|--------|
EOF
  sha_list zstd zstddeclib.c LICENSE
  cat <<'GLUE'

## Glue (`cas_blake3.inc`, `cas_blake3_end.inc`, `cas_blake3_dispatch.inc`, `cas_zstd.inc`, `cas_zstd_end.inc`)

Generated from the sources above by `vendor/wrap.py` (run by this script): they compile the
vendored files inside cas.h's one translation unit with every name renamed into the `cas__`
space, each BLAKE3 ISA file in its own target region, and `#undef` every vendored macro
afterwards. `cas_blake3_dispatch.inc` is `blake3_dispatch.c` with two kinds of edit, line for
line: its CPU-feature cache read and written as a relaxed atomic (BLAKE3 1.3.1's plain global
is a data race when threads hash at once; 1.4 made it atomic) and the casts C++ needs. Not
edited by hand either.
GLUE
} > "$VENDOR_DIR/README.md.new"
mv "$VENDOR_DIR/README.md.new" "$VENDOR_DIR/README.md"

log "generating the one-translation-unit glue (vendor/wrap.py)"
python3 "$VENDOR_DIR/wrap.py"

log "done: blake3 $BLAKE3_UPSTREAM ($BLAKE3_PKG $BLAKE3_DEB_VER), zstd $ZSTD_UPSTREAM ($ZSTD_SRC_PKG $ZSTD_DSC_VER)"
