#!/bin/sh
# The API convention of cas.h, checked by grepping the header (CHANGELOG.md, "API
# convention"): a stray from it fails `make test` with the line that strays.
#   1. A public function returns cas_result if it can fail; `int` only for the yes/no answers
#      listed below (they cannot fail).
#   2. The allocator, where a function takes one, is its first parameter; no config struct
#      carries one.
#   3. The error detail, where a function takes one, is its last parameter, `cas_error *err`.
#   4. Every config struct is a `_desc` (no _options/_config/_opts/_settings).
#   5. Compression requests are CAS_COMPRESS_*; CAS_SCHEME_* are the stored values only.
#   6. Every error code is expected by at least one test (tests/test_*.c: compared with a
#      result, or a table's expected result), and every error code and suspension has a name
#      and message in cas_result_name/message.
#   7. The implementation repeats the declarations' section banners, in the same order.
set -u
H=${1:-cas.h}
T=$(dirname "$0")
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
tmp_fail=$tmp/fail tmp_d=$tmp/decl tmp_i=$tmp/impl
: > "$tmp_fail"

# The declarations: the header up to the implementation, one prototype per line.
decls=$(sed -n '1,/^#ifdef CAS_IMPLEMENTATION/p' "$H" |
    awk '/^CAS_API/ { p = 1; line = "" } p { line = line " " $0 } p && /;/ { print line; p = 0 }' |
    sed 's/  */ /g; s/^ //')

# 1. int returns
yes_no="cas_hash_equal cas_chunk_dedup_eligible cas_chunk_stream_finish cas_zstd_is_frame
cas_bg4_predictor_recommends cas_bg4_predict cas_xorb_writer_fits cas_shard_expired
cas_json_equals"
echo "$decls" | grep '^CAS_API int ' | sed 's/^CAS_API int \(cas_[a-z0-9_]*\)(.*/\1/' |
while read -r f; do
    case " $(echo $yes_no) " in *" $f "*) ;; *) echo "api_check: $f returns int: a function that can fail returns cas_result"; echo x >> "$tmp_fail" ;; esac
done
# (the loops run in subshells: each stray adds a line to $tmp_fail)
# 2. allocator first
echo "$decls" | grep 'cas_allocator \*' | grep -v '^CAS_API [a-z_ ]*\*\{0,1\}cas_[a-z0-9_]*(const cas_allocator \*alloc[,)]' |
    while read -r l; do echo "api_check: the allocator is not the first parameter: $l"; echo x >> "$tmp_fail"; done
sed -n '1,/^#ifdef CAS_IMPLEMENTATION/p' "$H" | awk '/^typedef struct cas_[a-z0-9_]*_desc \{/ { p = 1 } p && /cas_allocator/ { print } /^\} cas_[a-z0-9_]*_desc;/ { p = 0 }' |
    while read -r l; do echo "api_check: a _desc carries an allocator: $l"; echo x >> "$tmp_fail"; done
# 3. error detail last
echo "$decls" | grep 'cas_error \*' | grep -v 'cas_error \*err);$' | grep -v '^CAS_API const cas_error \*cas_[a-z_]*_error(' |
    while read -r l; do echo "api_check: cas_error *err is not the last parameter: $l"; echo x >> "$tmp_fail"; done
# 4. config naming
grep -n 'typedef struct cas_[a-z0-9_]*_\(options\|config\|opts\|settings\|params\) ' "$H" |
    while read -r l; do echo "api_check: a config struct not named _desc: $l"; echo x >> "$tmp_fail"; done
# 5. no scheme used as a request
grep -n 'CAS_SCHEME_AUTO' "$H" && { echo "api_check: CAS_SCHEME_AUTO is gone: CAS_COMPRESS_AUTO"; echo x >> "$tmp_fail"; }
# 6. every error code returned in a test, every code named
codes=$(sed -n '/^typedef enum cas_result {/,/^} cas_result;/p' "$H" | grep -o 'CAS_[A-Z0-9_]* = -\{0,1\}[0-9]*' | sed 's/ =.*//')
for c in $codes; do
    grep -q "{$c, \"$c\"," "$H" || { echo "api_check: $c has no name/message in cas__results"; echo x >> "$tmp_fail"; }
    case $c in CAS_E_*)
        cat "$T"/test_*.c | grep -qw "$c" || { echo "api_check: no test expects $c"; echo x >> "$tmp_fail"; } ;;
    esac
done
# 7. banners
sed -n '1,/^#ifdef CAS_IMPLEMENTATION/p' "$H" | grep -o '^/\* ==== >>[^=]*' | sed 's/ *$//' > "$tmp_d"
sed -n '/^#ifdef CAS_IMPLEMENTATION/,$p' "$H" | grep -o '^/\* ==== >>[^=]*' | sed 's/ *$//' | grep -v '>>vendor' > "$tmp_i"
if ! cmp -s "$tmp_d" "$tmp_i"; then
    echo "api_check: the implementation's banners differ from the declarations' (< declarations, > implementation):"
    diff "$tmp_d" "$tmp_i" | grep '^[<>]'
    echo x >> "$tmp_fail"
fi

if [ -s "$tmp_fail" ]; then
    echo "api_check: $(wc -l < "$tmp_fail") strays from the convention"
    exit 1
fi
echo "api_check: $(echo "$decls" | wc -l) public functions, $(echo "$codes" | wc -w) result codes: one convention"
