/* cas.h - the Hugging Face Xet storage protocol in one C header.
   https://github.com/  (see README.md)               MIT or public domain, see end of file.

   QUICK START
   -----------
   In exactly one .c file of your program:

       #define CAS_IMPLEMENTATION
       #include "cas.h"

   and keep `vendor/` (BLAKE3 and the zstd decoder) beside cas.h. Compile with no special flags
   (`cc -O2 -c that.c`); nothing but libc is linked. SIMD code paths (BLAKE3 SSE2/SSE4.1/AVX2/
   AVX-512, SHA-NI) are compiled with per-function target attributes and chosen at run time
   from the CPU's features.

   A 20-line example: the Xet file hash and chunk list of a buffer.

       #define CAS_IMPLEMENTATION
       #include "cas.h"
       #include <stdio.h>

       int main(void) {
           static unsigned char data[1 << 20];          // your bytes
           cas_chunk_stream cs; cas_merkle m; cas_chunk c; cas_hash file; char hex[65];
           size_t off = 0;
           cas_chunk_stream_init(&cs); cas_merkle_init(&m);
           while (off < sizeof data) {                  // push any piece sizes
               off += cas_chunk_stream_push(&cs, data + off, sizeof data - off, &c);
               if (c.size) { cas_merkle_push(&m, &c); }  // a chunk ended
           }
           if (cas_chunk_stream_finish(&cs, &c)) cas_merkle_push(&m, &c);
           cas_merkle_file_hash(&m, &file);
           cas_hash_to_hex(&file, hex);
           printf("%s\n", hex);
           return 0;
       }

   BUILD OPTIONS (define before including cas.h in the implementation file)
   -------------
     CAS_IMPLEMENTATION   compile the implementation into this translation unit
     CAS_NO_SIMD          portable code only: no SSE/AVX/SHA-NI/NEON paths, no CPU detection
     CAS_NO_ZSTD          leave out the vendored zstd decoder
     CAS_BLAKE3_EXTERNAL  do not compile vendor/blake3; use the BLAKE3 C API from your own
                          "blake3.h" (blake3_hasher_init_keyed/update/finalize) and link it
     CAS_VENDOR_DIR       directory prefix of vendor/ (default: "vendor/", relative to cas.h)
     CAS_API              storage class of the public functions (default: extern)

   RULES
   -----
   Memory:    nothing in this part of the library allocates. Hashers, the chunker and the
              Merkle aggregator are plain structs the caller places anywhere (stack, static,
              heap); their fields are private.
   I/O:       none. You push bytes in; results come back in your structs.
   Errors:    functions that can fail return a cas_result: 0 = ok, < 0 = error; see
              cas_result_name() / cas_result_message().
   Threading: no mutable global state except a write-once cache of the CPU's features (the
              vendored BLAKE3 keeps one too). One object, one thread at a time.
   Hashes:    cas_hash holds the 32 raw bytes. Text is always the Xet API convention: four
              little-endian u64 words, each printed as 16 hex digits (cas_hash_to_hex).
   SIMD:      cas_cpu_limit() may lower the instruction sets used at run time (tests and
              benchmarks force each path with it); it is not thread-safe.
*/
#ifndef CAS_H
#define CAS_H

#include <stddef.h>
#include <stdint.h>

#define CAS_VERSION_MAJOR 0
#define CAS_VERSION_MINOR 1
#define CAS_VERSION_PATCH 0
#define CAS_VERSION_STRING "0.1.0"

#ifndef CAS_API
#define CAS_API extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== >>base: results ==================================================================== */

/* 0 is success, positive values are suspensions of push-style engines, negative are errors. */
typedef enum cas_result {
    CAS_OK = 0,
    CAS_E_ARGUMENT = -1,     /* a parameter is out of its documented range */
    CAS_E_NOMEM = -2,        /* the allocator returned NULL */
    CAS_E_HEX = -3,          /* a hash string is not exactly 64 hex digits */
    CAS_E_STATE = -4,        /* the call is not allowed in the object's current state */
    CAS_E_UNSUPPORTED = -5,  /* the feature was compiled out (e.g. CAS_NO_ZSTD) */
    CAS_E_LIMIT = -6,        /* the output would exceed the caller's capacity or a limit */
    CAS_E_ZSTD = -7          /* a zstd frame is corrupt, truncated or needs a too-large window */
} cas_result;

/* "CAS_E_HEX" etc. Never NULL. */
CAS_API const char *cas_result_name(int result);
/* One sentence on what the result means. Never NULL. */
CAS_API const char *cas_result_message(int result);

/* ==== >>base: memory ==================================================================== */

/* Every allocation goes through one of these, passed per object. A NULL allocator pointer, or
   one whose alloc is NULL, means malloc/free. alloc returns memory aligned to `align` (a power
   of two <= 16) or NULL; free receives the size that was allocated. */
typedef struct cas_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} cas_allocator;

/* The library version, CAS_VERSION_STRING. */
CAS_API const char *cas_version(void);

/* ==== >>base: CPU features =============================================================== */

/* Instruction-set tiers; cas_cpu_features() reports a mask of them. */
enum {
    CAS_CPU_SSE2 = 1 << 0,
    CAS_CPU_SSSE3 = 1 << 1,
    CAS_CPU_SSE41 = 1 << 2,
    CAS_CPU_AVX = 1 << 3,
    CAS_CPU_AVX2 = 1 << 4,
    CAS_CPU_AVX512 = 1 << 5, /* AVX-512 F + VL, with OS support for the zmm state */
    CAS_CPU_SHA = 1 << 6,    /* x86 SHA extensions (SHA-NI) */
    CAS_CPU_NEON = 1 << 7
};
/* The tiers the CPU has, masked by cas_cpu_limit(). 0 under CAS_NO_SIMD. */
CAS_API unsigned cas_cpu_features(void);
/* Restricts the paths used from now on to `mask` & what the CPU has (~0u = no limit).
   For tests and benchmarks; call while no other thread uses the library. */
CAS_API void cas_cpu_limit(unsigned mask);
/* Names of the code paths currently selected, e.g. "avx512", "sha-ni", "gear-4lane". */
CAS_API const char *cas_blake3_path(void);
CAS_API const char *cas_sha256_path(void);
CAS_API const char *cas_chunker_path(void);

/* ==== >>primitives: hashes =============================================================== */

#define CAS_HASH_SIZE 32
#define CAS_HASH_HEX_SIZE 64

typedef struct cas_hash {
    uint8_t bytes[CAS_HASH_SIZE];
} cas_hash;

/* A chunk, or any Merkle node: its hash and the number of bytes under it. */
typedef struct cas_chunk {
    cas_hash hash;
    uint64_t size;
} cas_chunk;

/* Writes the 64-character Xet string of `h` plus a NUL to out[0..64]. Lower case. */
CAS_API void cas_hash_to_hex(const cas_hash *h, char out[CAS_HASH_HEX_SIZE + 1]);
/* Parses exactly `len` characters (must be 64; upper or lower case hex) of the Xet string
   form into `h`. Returns CAS_OK or CAS_E_HEX (wrong length or a non-hex character); `h` is
   untouched on error. */
CAS_API int cas_hash_from_hex(const char *hex, size_t len, cas_hash *h);
/* 1 if equal. */
CAS_API int cas_hash_equal(const cas_hash *a, const cas_hash *b);
/* The hash's last 8 bytes as a little-endian u64: what xet-core's `hash % n` reads. */
CAS_API uint64_t cas_hash_tail_u64(const cas_hash *h);

/* Keyed BLAKE3, incremental. The state is opaque; it is BLAKE3's own hasher. */
typedef struct cas_blake3 {
    union {
        uint64_t align;
        unsigned char bytes[1920];
    } priv;
} cas_blake3;
CAS_API void cas_blake3_init_keyed(cas_blake3 *s, const uint8_t key[32]);
CAS_API void cas_blake3_update(cas_blake3 *s, const void *data, size_t len);
CAS_API void cas_blake3_final(const cas_blake3 *s, uint8_t out[32]);
/* One-shot keyed BLAKE3 of data[0..len) into out. */
CAS_API void cas_blake3_keyed(const uint8_t key[32], const void *data, size_t len, uint8_t out[32]);

/* The protocol's BLAKE3 keys (hashing.md). */
CAS_API const uint8_t *cas_key_data(void);          /* DATA_KEY: chunk hashes */
CAS_API const uint8_t *cas_key_internal_node(void); /* INTERNAL_NODE_KEY: Merkle nodes */
CAS_API const uint8_t *cas_key_verification(void);  /* VERIFICATION_KEY: term verification */

/* Chunk hash: keyed BLAKE3 (DATA_KEY) of the chunk's bytes. */
CAS_API void cas_chunk_hash(const void *data, size_t len, cas_hash *out);
/* Internal node hash of a group of nodes: keyed BLAKE3 (INTERNAL_NODE_KEY) of the lines
   "<hex> : <size>\n", one per node. n may be 1..CAS_MERKLE_MAX_GROUP. Returns the summed
   size in *size_out if not NULL. CAS_E_ARGUMENT if n is out of range. */
#define CAS_MERKLE_MAX_GROUP 9
CAS_API int cas_internal_node_hash(const cas_chunk *nodes, size_t n, cas_hash *out,
                                   uint64_t *size_out);
/* Xorb hash: the Merkle root of the chunks (xet-core aggregated_hashes.rs). 0 chunks give
   all zeros; one chunk gives its own hash. Streams internally: no allocation. */
CAS_API void cas_xorb_hash(const cas_chunk *chunks, size_t n, cas_hash *out);
/* File hash: keyed BLAKE3 with a zero key of the Merkle root; all zeros for an empty file. */
CAS_API void cas_file_hash(const cas_chunk *chunks, size_t n, cas_hash *out);
/* Salted file hash: keyed BLAKE3 with `salt` as the key of the Merkle root (xet-core
   file_hash_with_salt); all zeros for no chunks. A zero salt gives cas_file_hash. */
CAS_API void cas_file_hash_salted(const cas_chunk *chunks, size_t n, const uint8_t salt[32],
                                  cas_hash *out);
/* Term verification hash: keyed BLAKE3 (VERIFICATION_KEY) of the raw chunk hashes
   hashes[0..n) concatenated. */
CAS_API void cas_verification_hash(const cas_hash *hashes, size_t n, cas_hash *out);
/* xet-core's `hmac`: keyed BLAKE3 of the hash's 32 bytes with `key` (dedup shards). */
CAS_API void cas_hash_hmac(const cas_hash *h, const cas_hash *key, cas_hash *out);
/* 1 if a chunk may be sent as a global-dedup query: the first chunk of a file, or a chunk
   whose hash tail (cas_hash_tail_u64) is 0 mod 1024 (deduplication.md). */
CAS_API int cas_chunk_dedup_eligible(const cas_hash *h, int is_first_chunk_of_file);

/* Streaming Merkle aggregator: push (hash, size) leaves one at a time; the root equals
   cas_xorb_hash over the same list. A group of nodes closes as soon as its cut is known
   (at most 9 pending nodes per tree level), so the state is O(levels): 360 bytes per level
   of a tree whose levels shrink at least 3x; CAS_MERKLE_MAX_LEVELS levels cover any u64
   count of leaves. Fixed size, no allocation. */
#ifndef CAS_MERKLE_MAX_LEVELS
#define CAS_MERKLE_MAX_LEVELS 42
#endif
typedef struct cas_merkle {
    struct {
        cas_chunk pending[CAS_MERKLE_MAX_GROUP];
        uint64_t count; /* nodes that ever entered this level */
        uint32_t npending;
    } priv_level[CAS_MERKLE_MAX_LEVELS];
    uint32_t priv_levels;
} cas_merkle;
CAS_API void cas_merkle_init(cas_merkle *m);
CAS_API void cas_merkle_push(cas_merkle *m, const cas_chunk *leaf);
/* Total leaves pushed. */
CAS_API uint64_t cas_merkle_count(const cas_merkle *m);
/* Root over everything pushed so far (the xorb hash). Does not change `m`: more leaves may
   be pushed afterwards. */
CAS_API void cas_merkle_root(const cas_merkle *m, cas_hash *out);
/* cas_file_hash / cas_file_hash_salted of everything pushed so far. */
CAS_API void cas_merkle_file_hash(const cas_merkle *m, cas_hash *out);
CAS_API void cas_merkle_file_hash_salted(const cas_merkle *m, const uint8_t salt[32],
                                         cas_hash *out);

/* ==== >>primitives: SHA-256 ============================================================== */

typedef struct cas_sha256 {
    uint32_t priv_state[8];
    uint64_t priv_length; /* bytes hashed so far */
    uint8_t priv_block[64];
    uint32_t priv_used; /* bytes in priv_block */
} cas_sha256;
CAS_API void cas_sha256_init(cas_sha256 *s);
CAS_API void cas_sha256_update(cas_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest. `s` must be re-initialised before reuse. */
CAS_API void cas_sha256_final(cas_sha256 *s, uint8_t out[32]);
CAS_API void cas_sha256_hash(const void *data, size_t len, uint8_t out[32]);

/* ==== >>primitives: chunker ============================================================== */

/* Gearhash content-defined chunking, bit-exact with xet-core (chunking.md). */
#define CAS_CHUNK_MIN_SIZE 8192
#define CAS_CHUNK_MAX_SIZE 131072
#define CAS_CHUNK_TARGET_SIZE 65536

typedef struct cas_chunker {
    uint64_t priv_hash;
    uint64_t priv_size; /* bytes of the current chunk seen so far */
} cas_chunker;
CAS_API void cas_chunker_init(cas_chunker *c);
/* Scans data[0..len) for the end of the current chunk. Returns how many bytes belong to the
   current chunk. If the chunk ends within them, *cut is set to the chunk's total size (which
   includes bytes from earlier calls) and the chunker starts a new chunk; otherwise *cut = 0
   and all len bytes were consumed. The boundaries do not depend on how input is split. */
CAS_API size_t cas_chunker_scan(cas_chunker *c, const void *data, size_t len, uint64_t *cut);
/* End of input: returns the size of the final chunk (0 if none) and resets. */
CAS_API uint64_t cas_chunker_finish(cas_chunker *c);

/* Chunker + chunk hash in one push-style object: no buffering of chunk bytes. */
typedef struct cas_chunk_stream {
    cas_chunker priv_chunker;
    cas_blake3 priv_hasher;
} cas_chunk_stream;
CAS_API void cas_chunk_stream_init(cas_chunk_stream *s);
/* Consumes bytes of data[0..len) up to the end of the current chunk and returns how many.
   If a chunk ended, *out holds its hash and size; else out->size == 0. Call again with the
   rest of the data. */
CAS_API size_t cas_chunk_stream_push(cas_chunk_stream *s, const void *data, size_t len,
                                     cas_chunk *out);
/* End of input: 1 and the last chunk in *out if there was one, else 0. Resets. */
CAS_API int cas_chunk_stream_finish(cas_chunk_stream *s, cas_chunk *out);

/* ==== >>primitives: zstd ================================================================ */

/* zstd's frame magic, little-endian (28 B5 2F FD); cas_zstd_is_frame tests the first bytes. */
#define CAS_ZSTD_MAGIC 0xFD2FB528u
/* The largest window a frame may ask for (8 MiB): bounds the decoder's memory. */
#define CAS_ZSTD_MAX_WINDOW_LOG 23
CAS_API int cas_zstd_is_frame(const void *src, size_t len);
/* Decompresses the zstd frame(s) in src[0..len) into dst[0..cap). *out_len = bytes written.
   CAS_E_LIMIT if the output would pass cap; CAS_E_ZSTD if the input is corrupt, truncated
   or needs a window over 2^CAS_ZSTD_MAX_WINDOW_LOG; CAS_E_NOMEM; CAS_E_UNSUPPORTED under
   CAS_NO_ZSTD. Allocates the decoder state (~100 KiB + window) through `alloc`, freed before
   it returns. */
CAS_API int cas_zstd_decompress(const cas_allocator *alloc, const void *src, size_t len, void *dst,
                                size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* CAS_H */

/* ========================================================================================= */
/*                                      IMPLEMENTATION                                       */
/* ========================================================================================= */
#ifdef CAS_IMPLEMENTATION
#ifndef CAS__IMPLEMENTED
#define CAS__IMPLEMENTED

#include <string.h>
#include <stdlib.h> /* malloc/free: the default allocator */

#if !defined(CAS_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86))
#define CAS__X86 1
#if defined(__GNUC__) || defined(__clang__)
#include <cpuid.h>
#include <immintrin.h>
#define CAS__X86_GNU 1
#endif
#endif
#if !defined(CAS_NO_SIMD) && (defined(__aarch64__) || defined(_M_ARM64))
#define CAS__ARM64 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CAS__UNUSED __attribute__((unused))
#define CAS__PREFETCH(p) __builtin_prefetch(p)
#define CAS__TARGET(t) __attribute__((target(t)))
#define CAS__LIKELY(x) __builtin_expect(!!(x), 1)
#define CAS__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CAS__UNUSED
#define CAS__PREFETCH(p) ((void)(p))
#define CAS__TARGET(t)
#define CAS__LIKELY(x) (x)
#define CAS__UNLIKELY(x) (x)
#endif

/* ==== >>vendor: BLAKE3 =================================================================== */
/* The vendored BLAKE3 C sources compile here, renamed into the cas__ space by the generated
   glue (vendor/wrap.py); CAS_BLAKE3_EXTERNAL uses the caller's blake3.h and library. */
#if defined(CAS_BLAKE3_EXTERNAL)
#include "blake3.h"
#else
#if defined(CAS_NO_SIMD)
#define BLAKE3_NO_SSE2
#define BLAKE3_NO_SSE41
#define BLAKE3_NO_AVX2
#define BLAKE3_NO_AVX512
#define BLAKE3_USE_NEON 0
#endif
#include "vendor/cas_blake3.inc"
#endif

typedef char cas__blake3_state_fits[sizeof(blake3_hasher) <= sizeof(((cas_blake3 *)0)->priv.bytes) ? 1 : -1];

void cas_blake3_init_keyed(cas_blake3 *s, const uint8_t key[32]) {
    blake3_hasher_init_keyed((blake3_hasher *)(void *)s->priv.bytes, key);
}
void cas_blake3_update(cas_blake3 *s, const void *data, size_t len) {
    blake3_hasher_update((blake3_hasher *)(void *)s->priv.bytes, data, len);
}
void cas_blake3_final(const cas_blake3 *s, uint8_t out[32]) {
    blake3_hasher_finalize((const blake3_hasher *)(const void *)s->priv.bytes, out, 32);
}

/* Makes the vendored dispatcher use only the tiers in `features` (cas_cpu_limit). */
static void cas__blake3_limit(unsigned features) {
#if !defined(CAS_BLAKE3_EXTERNAL) && defined(IS_X86)
    enum cpu_feature f = (enum cpu_feature)0;
    if (features & CAS_CPU_SSE2) f = (enum cpu_feature)(f | SSE2);
    if (features & CAS_CPU_SSSE3) f = (enum cpu_feature)(f | SSSE3);
    if (features & CAS_CPU_SSE41) f = (enum cpu_feature)(f | SSE41);
    if (features & CAS_CPU_AVX) f = (enum cpu_feature)(f | AVX);
    if (features & CAS_CPU_AVX2) f = (enum cpu_feature)(f | AVX2);
    if (features & CAS_CPU_AVX512) f = (enum cpu_feature)(f | AVX512F | AVX512VL);
    g_cpu_features = f;
#else
    (void)features;
#endif
}

#if !defined(CAS_BLAKE3_EXTERNAL)
#include "vendor/cas_blake3_end.inc"
#if defined(CAS_NO_SIMD)
#undef BLAKE3_NO_SSE2
#undef BLAKE3_NO_SSE41
#undef BLAKE3_NO_AVX2
#undef BLAKE3_NO_AVX512
#endif
#endif

const char *cas_blake3_path(void) {
#if defined(CAS_BLAKE3_EXTERNAL)
    return "external";
#else
    unsigned f = cas_cpu_features();
    if (f & CAS_CPU_AVX512) return "avx512";
    if (f & CAS_CPU_AVX2) return "avx2";
    if (f & CAS_CPU_SSE41) return "sse4.1";
    if (f & CAS_CPU_SSE2) return "sse2";
    if (f & CAS_CPU_NEON) return "neon";
    return "portable";
#endif
}

/* ==== >>base ============================================================================= */

const char *cas_version(void) { return CAS_VERSION_STRING; }

typedef struct cas__result_text {
    int code;
    const char *name;
    const char *message;
} cas__result_text;

static const cas__result_text cas__results[] = {
    {CAS_OK, "CAS_OK", "success"},
    {CAS_E_ARGUMENT, "CAS_E_ARGUMENT", "a parameter is out of its documented range"},
    {CAS_E_NOMEM, "CAS_E_NOMEM", "out of memory: the allocator returned NULL"},
    {CAS_E_HEX, "CAS_E_HEX", "a hash string must be exactly 64 hexadecimal digits"},
    {CAS_E_STATE, "CAS_E_STATE", "the call is not allowed in the object's current state"},
    {CAS_E_UNSUPPORTED, "CAS_E_UNSUPPORTED", "the feature was compiled out of this build"},
    {CAS_E_LIMIT, "CAS_E_LIMIT", "the output would exceed the caller's capacity or a limit"},
    {CAS_E_ZSTD, "CAS_E_ZSTD", "a zstd frame is corrupt, truncated or needs a too-large window"},
};

static const cas__result_text *cas__result_find(int result) {
    size_t i;
    for (i = 0; i < sizeof cas__results / sizeof cas__results[0]; i++)
        if (cas__results[i].code == result) return &cas__results[i];
    return NULL;
}
const char *cas_result_name(int result) {
    const cas__result_text *t = cas__result_find(result);
    return t ? t->name : "CAS_E_UNKNOWN";
}
const char *cas_result_message(int result) {
    const cas__result_text *t = cas__result_find(result);
    return t ? t->message : "unknown result code";
}

/* ---- memory ---- */
static void *cas__malloc_default(void *user, size_t size, size_t align) {
    (void)user;
    (void)align; /* malloc's alignment suits every type, and align <= 16 */
    return malloc(size ? size : 1);
}
static void cas__free_default(void *user, void *ptr, size_t size) {
    (void)user;
    (void)size;
    free(ptr);
}
static CAS__UNUSED cas_allocator cas__allocator_or_default(const cas_allocator *a) {
    cas_allocator d;
    if (a && a->alloc && a->free) return *a;
    d.alloc = cas__malloc_default;
    d.free = cas__free_default;
    d.user = NULL;
    return d;
}

static uint64_t cas__load_le64(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}
static uint32_t cas__load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static void cas__store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ==== >>base: CPU features =============================================================== */

/* The one piece of mutable global state: the detected features (write-once; every thread
   computes the same value, so a race only repeats the detection) and the test limit. */
static volatile unsigned cas__cpu_detected = 0; /* bit 31 set once detected */
static volatile unsigned cas__cpu_mask = ~0u;

#if CAS__X86_GNU
static unsigned cas__cpu_detect(void) {
    unsigned a, b, c, d, f = 0, xcr0 = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (d & (1u << 26)) f |= CAS_CPU_SSE2;
    if (c & (1u << 9)) f |= CAS_CPU_SSSE3;
    if (c & (1u << 19)) f |= CAS_CPU_SSE41;
    if (c & (1u << 27)) { /* OSXSAVE: ask the OS which register states it saves */
        unsigned lo, hi;
        __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = lo;
        (void)hi;
    }
    if ((c & (1u << 28)) && (xcr0 & 6) == 6) f |= CAS_CPU_AVX;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if ((f & CAS_CPU_AVX) && (b & (1u << 5))) f |= CAS_CPU_AVX2;
        /* AVX-512 F (b16) + VL (b31), and the OS saves opmask + zmm state (xcr0 bits 5-7). */
        if ((f & CAS_CPU_AVX2) && (b & (1u << 16)) && (b & (1u << 31)) && (xcr0 & 0xe6) == 0xe6)
            f |= CAS_CPU_AVX512;
        if ((b & (1u << 29)) && (f & CAS_CPU_SSE41) && (f & CAS_CPU_SSSE3)) f |= CAS_CPU_SHA;
    }
    return f;
}
#elif CAS__ARM64
static unsigned cas__cpu_detect(void) { return CAS_CPU_NEON; }
#else
static unsigned cas__cpu_detect(void) { return 0; }
#endif

unsigned cas_cpu_features(void) {
    unsigned d = cas__cpu_detected;
    if (!(d & 0x80000000u)) {
        d = cas__cpu_detect() | 0x80000000u;
        cas__cpu_detected = d;
    }
    return d & cas__cpu_mask & 0x7fffffffu;
}

void cas_cpu_limit(unsigned mask) {
    cas__cpu_mask = mask;
    cas__blake3_limit(cas_cpu_features());
}

/* ==== >>primitives: hex ================================================================== */

static const char cas__hex_digits[] = "0123456789abcdef";

void cas_hash_to_hex(const cas_hash *h, char out[CAS_HASH_HEX_SIZE + 1]) {
    int word, i;
    /* Each 8-byte word is a little-endian u64 printed most significant digit first. */
    for (word = 0; word < 4; word++)
        for (i = 0; i < 8; i++) {
            uint8_t b = h->bytes[word * 8 + 7 - i];
            out[word * 16 + i * 2] = cas__hex_digits[b >> 4];
            out[word * 16 + i * 2 + 1] = cas__hex_digits[b & 15];
        }
    out[CAS_HASH_HEX_SIZE] = 0;
}

static int cas__hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int cas_hash_from_hex(const char *hex, size_t len, cas_hash *h) {
    cas_hash tmp;
    int word, i;
    if (!hex || len != CAS_HASH_HEX_SIZE) return CAS_E_HEX;
    for (word = 0; word < 4; word++)
        for (i = 0; i < 8; i++) {
            int hi = cas__hex_value(hex[word * 16 + i * 2]);
            int lo = cas__hex_value(hex[word * 16 + i * 2 + 1]);
            if (hi < 0 || lo < 0) return CAS_E_HEX;
            tmp.bytes[word * 8 + 7 - i] = (uint8_t)(hi << 4 | lo);
        }
    *h = tmp;
    return CAS_OK;
}

int cas_hash_equal(const cas_hash *a, const cas_hash *b) {
    return memcmp(a->bytes, b->bytes, CAS_HASH_SIZE) == 0;
}

uint64_t cas_hash_tail_u64(const cas_hash *h) { return cas__load_le64(h->bytes + 24); }

/* ==== >>primitives: Xet hashes =========================================================== */

static const uint8_t cas__key_data[32] = {102, 151, 245, 119, 91,  149, 80,  222, 49,  53, 203,
                                          172, 165, 151, 24,  28,  157, 228, 33,  16,  155, 235,
                                          43,  88,  180, 208, 176, 75,  147, 173, 242, 41};
static const uint8_t cas__key_internal_node[32] = {
    1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2,  230,
    93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82,  230, 74, 83, 113, 63};
static const uint8_t cas__key_verification[32] = {
    127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
    164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195};
static const uint8_t cas__key_zero[32] = {0};

const uint8_t *cas_key_data(void) { return cas__key_data; }
const uint8_t *cas_key_internal_node(void) { return cas__key_internal_node; }
const uint8_t *cas_key_verification(void) { return cas__key_verification; }

void cas_blake3_keyed(const uint8_t key[32], const void *data, size_t len, uint8_t out[32]) {
    cas_blake3 s;
    cas_blake3_init_keyed(&s, key);
    cas_blake3_update(&s, data, len);
    cas_blake3_final(&s, out);
}

void cas_chunk_hash(const void *data, size_t len, cas_hash *out) {
    cas_blake3_keyed(cas__key_data, data, len, out->bytes);
}

void cas_verification_hash(const cas_hash *hashes, size_t n, cas_hash *out) {
    cas_blake3_keyed(cas__key_verification, hashes, n * sizeof(cas_hash), out->bytes);
}

void cas_hash_hmac(const cas_hash *h, const cas_hash *key, cas_hash *out) {
    cas_blake3_keyed(key->bytes, h->bytes, CAS_HASH_SIZE, out->bytes);
}

int cas_chunk_dedup_eligible(const cas_hash *h, int is_first_chunk_of_file) {
    return is_first_chunk_of_file || cas_hash_tail_u64(h) % 1024 == 0;
}

/* Writes the decimal digits of v; returns their count (at most 20). */
static size_t cas__write_u64(char *out, uint64_t v) {
    char tmp[20];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

int cas_internal_node_hash(const cas_chunk *nodes, size_t n, cas_hash *out, uint64_t *size_out) {
    /* Longest line: 64 hex + " : " + 20 digits + "\n" = 88 bytes. */
    char buf[CAS_MERKLE_MAX_GROUP * 88];
    size_t len = 0, i;
    uint64_t total = 0;
    if (n < 1 || n > CAS_MERKLE_MAX_GROUP) return CAS_E_ARGUMENT;
    for (i = 0; i < n; i++) {
        char hex[CAS_HASH_HEX_SIZE + 1];
        cas_hash_to_hex(&nodes[i].hash, hex);
        memcpy(buf + len, hex, CAS_HASH_HEX_SIZE);
        len += CAS_HASH_HEX_SIZE;
        memcpy(buf + len, " : ", 3);
        len += 3;
        len += cas__write_u64(buf + len, nodes[i].size);
        buf[len++] = '\n';
        total += nodes[i].size;
    }
    cas_blake3_keyed(cas__key_internal_node, buf, len, out->bytes);
    if (size_out) *size_out = total;
    return CAS_OK;
}

/* ---- Merkle tree ----
   xet-core (aggregated_hashes.rs) builds the tree level by level: a level's node list is cut
   left to right into groups by next_merge_cut -- a list of <= 2 nodes is one group; otherwise
   the group ends after the first node at 0-based index i >= 2 whose hash tail is 0 mod 4, or
   after 9 nodes, or at the end of the list -- and each group becomes one node of the next
   level, until one node is left.

   Streaming form: a group's cut depends only on the group's own nodes, except for the end of
   the list. With the list not yet complete, a group closes when its node at index >= 2 has a
   tail 0 mod 4 or when it reaches 9 nodes -- exactly the cuts the batch form makes, since the
   batch form makes the same decision once >= 3 nodes remain. At the end of the list the
   pending nodes of a level (never a cut point among them, fewer than 9) form one group in
   the batch form too: <= 2 nodes are one group; >= 3 with no cut index reach `end`. */

void cas_merkle_init(cas_merkle *m) { memset(m, 0, sizeof *m); }

uint64_t cas_merkle_count(const cas_merkle *m) { return m->priv_level[0].count; }

void cas_merkle_push(cas_merkle *m, const cas_chunk *leaf) {
    cas_chunk node = *leaf;
    uint32_t level;
    for (level = 0; level < CAS_MERKLE_MAX_LEVELS; level++) {
        uint32_t k = m->priv_level[level].npending;
        if (level >= m->priv_levels) m->priv_levels = level + 1;
        m->priv_level[level].pending[k++] = node;
        m->priv_level[level].npending = k;
        m->priv_level[level].count++;
        if (k < CAS_MERKLE_MAX_GROUP && (k < 3 || cas_hash_tail_u64(&node.hash) % 4 != 0)) return;
        cas_internal_node_hash(m->priv_level[level].pending, k, &node.hash, &node.size);
        m->priv_level[level].npending = 0;
    }
    /* Unreachable: every level but the top shrinks at least 3x, and 3^41 > 2^64. */
}

void cas_merkle_root(const cas_merkle *m, cas_hash *out) {
    /* Closes every level's pending group as the end of the list would, without changing m:
       the group closed at one level is carried to the end of the next level's list. */
    cas_chunk group[CAS_MERKLE_MAX_GROUP + 1], carry;
    int has_carry = 0;
    uint32_t level;
    memset(&carry, 0, sizeof carry);
    for (level = 0; level <= CAS_MERKLE_MAX_LEVELS; level++) {
        uint64_t count = level < m->priv_levels ? m->priv_level[level].count : 0;
        uint32_t k = level < m->priv_levels ? m->priv_level[level].npending : 0;
        if (count + (uint64_t)has_carry <= 1) {
            /* One node on this level: it is the root (or nothing was pushed at all). */
            if (has_carry) *out = carry.hash;
            else if (count == 1) *out = m->priv_level[level].pending[0].hash;
            else memset(out, 0, sizeof *out);
            return;
        }
        if (k) memcpy(group, m->priv_level[level].pending, k * sizeof(cas_chunk));
        if (has_carry) group[k++] = carry;
        has_carry = k > 0;
        /* k <= 9: pending holds at most 8 nodes, since a group closes at 9. */
        if (has_carry) cas_internal_node_hash(group, k, &carry.hash, &carry.size);
    }
    memset(out, 0, sizeof *out); /* unreachable */
}

void cas_merkle_file_hash_salted(const cas_merkle *m, const uint8_t salt[32], cas_hash *out) {
    cas_hash root;
    if (cas_merkle_count(m) == 0) { /* xet-core: no chunks -> default hash, no keyed hash */
        memset(out, 0, sizeof *out);
        return;
    }
    cas_merkle_root(m, &root);
    cas_blake3_keyed(salt, root.bytes, CAS_HASH_SIZE, out->bytes);
}

void cas_merkle_file_hash(const cas_merkle *m, cas_hash *out) {
    cas_merkle_file_hash_salted(m, cas__key_zero, out);
}

static void cas__merkle_of(cas_merkle *m, const cas_chunk *chunks, size_t n) {
    size_t i;
    cas_merkle_init(m);
    for (i = 0; i < n; i++) cas_merkle_push(m, &chunks[i]);
}

void cas_xorb_hash(const cas_chunk *chunks, size_t n, cas_hash *out) {
    cas_merkle m;
    cas__merkle_of(&m, chunks, n);
    cas_merkle_root(&m, out);
}

void cas_file_hash_salted(const cas_chunk *chunks, size_t n, const uint8_t salt[32],
                          cas_hash *out) {
    cas_merkle m;
    cas__merkle_of(&m, chunks, n);
    cas_merkle_file_hash_salted(&m, salt, out);
}

void cas_file_hash(const cas_chunk *chunks, size_t n, cas_hash *out) {
    cas_file_hash_salted(chunks, n, cas__key_zero, out);
}

/* ==== >>primitives: SHA-256 ============================================================== */

static const uint32_t cas__sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

#define CAS__ROTR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void cas__sha256_blocks_portable(uint32_t st[8], const uint8_t *p, size_t nblocks) {
    for (; nblocks; nblocks--, p += 64) {
        uint32_t w[64], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5],
                        g = st[6], h = st[7];
        int t;
        for (t = 0; t < 16; t++) w[t] = cas__load_be32(p + 4 * t);
        for (t = 16; t < 64; t++) {
            uint32_t s0 = CAS__ROTR32(w[t - 15], 7) ^ CAS__ROTR32(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = CAS__ROTR32(w[t - 2], 17) ^ CAS__ROTR32(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        for (t = 0; t < 64; t++) {
            uint32_t s1 = CAS__ROTR32(e, 6) ^ CAS__ROTR32(e, 11) ^ CAS__ROTR32(e, 25);
            uint32_t ch = (e & f) ^ (~e & g);
            uint32_t t1 = h + s1 + ch + cas__sha256_k[t] + w[t];
            uint32_t s0 = CAS__ROTR32(a, 2) ^ CAS__ROTR32(a, 13) ^ CAS__ROTR32(a, 22);
            uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            uint32_t t2 = s0 + maj;
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        st[0] += a; st[1] += b; st[2] += c; st[3] += d;
        st[4] += e; st[5] += f; st[6] += g; st[7] += h;
    }
}
#undef CAS__ROTR32

#if CAS__X86_GNU
/* SHA-NI: the state is kept as ABEF/CDGH register pairs, as SHA256RNDS2 wants it. Each step
   of 4 rounds adds K to 4 message words; the schedule for words t+16.. uses MSG1/MSG2. */
#define CAS__SHA_ROUNDS4(wi)                                                                 \
    do {                                                                                     \
        __m128i m_ = _mm_add_epi32(w[(wi) & 3],                                              \
                                   _mm_loadu_si128((const __m128i *)&cas__sha256_k[4 * (wi)])); \
        s1 = _mm_sha256rnds2_epu32(s1, s0, m_);                                              \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m_, 0x0E));                     \
    } while (0)
#define CAS__SHA_SCHEDULE(wi)                                                                \
    w[(wi) & 3] = _mm_sha256msg2_epu32(                                                      \
        _mm_add_epi32(_mm_sha256msg1_epu32(w[(wi) & 3], w[((wi) + 1) & 3]),                  \
                      _mm_alignr_epi8(w[((wi) + 3) & 3], w[((wi) + 2) & 3], 4)),             \
        w[((wi) + 3) & 3])

CAS__TARGET("sha,sse4.1,ssse3")
static void cas__sha256_blocks_shani(uint32_t st[8], const uint8_t *p, size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i s0, s1, t, w[4];
    t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[0]), 0xB1); /* CDAB */
    s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[4]), 0x1B); /* EFGH */
    s0 = _mm_alignr_epi8(t, s1, 8);                                         /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                                      /* CDGH */
    for (; nblocks; nblocks--, p += 64) {
        __m128i abef = s0, cdgh = s1;
        w[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        w[1] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        w[2] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        w[3] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        CAS__SHA_ROUNDS4(0); CAS__SHA_SCHEDULE(0);
        CAS__SHA_ROUNDS4(1); CAS__SHA_SCHEDULE(1);
        CAS__SHA_ROUNDS4(2); CAS__SHA_SCHEDULE(2);
        CAS__SHA_ROUNDS4(3); CAS__SHA_SCHEDULE(3);
        CAS__SHA_ROUNDS4(4); CAS__SHA_SCHEDULE(4);
        CAS__SHA_ROUNDS4(5); CAS__SHA_SCHEDULE(5);
        CAS__SHA_ROUNDS4(6); CAS__SHA_SCHEDULE(6);
        CAS__SHA_ROUNDS4(7); CAS__SHA_SCHEDULE(7);
        CAS__SHA_ROUNDS4(8); CAS__SHA_SCHEDULE(8);
        CAS__SHA_ROUNDS4(9); CAS__SHA_SCHEDULE(9);
        CAS__SHA_ROUNDS4(10); CAS__SHA_SCHEDULE(10);
        CAS__SHA_ROUNDS4(11); CAS__SHA_SCHEDULE(11);
        CAS__SHA_ROUNDS4(12);
        CAS__SHA_ROUNDS4(13);
        CAS__SHA_ROUNDS4(14);
        CAS__SHA_ROUNDS4(15);
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    t = _mm_shuffle_epi32(s0, 0x1B);       /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);      /* DCHG */
    s0 = _mm_blend_epi16(t, s1, 0xF0);     /* DCBA */
    s1 = _mm_alignr_epi8(s1, t, 8);        /* HGFE */
    _mm_storeu_si128((__m128i *)&st[0], s0);
    _mm_storeu_si128((__m128i *)&st[4], s1);
}
#undef CAS__SHA_ROUNDS4
#undef CAS__SHA_SCHEDULE
#endif

static void cas__sha256_blocks(uint32_t st[8], const uint8_t *p, size_t nblocks) {
#if CAS__X86_GNU
    if (cas_cpu_features() & CAS_CPU_SHA) {
        cas__sha256_blocks_shani(st, p, nblocks);
        return;
    }
#endif
    cas__sha256_blocks_portable(st, p, nblocks);
}

const char *cas_sha256_path(void) {
    return (cas_cpu_features() & CAS_CPU_SHA) ? "sha-ni" : "portable";
}

void cas_sha256_init(cas_sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(s->priv_state, iv, sizeof iv);
    s->priv_length = 0;
    s->priv_used = 0;
}

void cas_sha256_update(cas_sha256 *s, const void *data, size_t len) {
    const uint8_t *p = (const uint8_t *)data;
    s->priv_length += len;
    if (s->priv_used) {
        size_t take = 64 - s->priv_used;
        if (take > len) take = len;
        memcpy(s->priv_block + s->priv_used, p, take);
        s->priv_used += (uint32_t)take;
        p += take;
        len -= take;
        if (s->priv_used < 64) return;
        cas__sha256_blocks(s->priv_state, s->priv_block, 1);
        s->priv_used = 0;
    }
    if (len >= 64) {
        cas__sha256_blocks(s->priv_state, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    if (len) {
        memcpy(s->priv_block, p, len);
        s->priv_used = (uint32_t)len;
    }
}

void cas_sha256_final(cas_sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->priv_length * 8;
    uint8_t pad[72];
    size_t padlen = (s->priv_used < 56 ? 56 : 120) - s->priv_used;
    int i;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (i = 0; i < 8; i++) pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    cas_sha256_update(s, pad, padlen + 8);
    for (i = 0; i < 8; i++) cas__store_be32(out + 4 * i, s->priv_state[i]);
}

void cas_sha256_hash(const void *data, size_t len, uint8_t out[32]) {
    cas_sha256 s;
    cas_sha256_init(&s);
    cas_sha256_update(&s, data, len);
    cas_sha256_final(&s, out);
}

/* ==== >>primitives: chunker ============================================================== */

/* rust-gearhash DEFAULT_TABLE (../shared/vectors/gear_table.txt). */
static const uint64_t cas__gear[256] = {
    0xb088d3a9e840f559ULL, 0x5652c7f739ed20d6ULL, 0x45b28969898972abULL,
    0x6b0a89d5b68ec777ULL, 0x368f573e8b7a31b7ULL, 0x1dc636dce936d94bULL,
    0x207a4c4e5554d5b6ULL, 0xa474b34628239acbULL, 0x3b06a83e1ca3b912ULL,
    0x90e78d6c2f02baf7ULL, 0xe1c92df7150d9a8aULL, 0x8e95053a1086d3adULL,
    0x5a2ef4f1b83a0722ULL, 0xa50fac949f807faeULL, 0x0e7303eb80d8d681ULL,
    0x99b07edc1570ad0fULL, 0x689d2fb555fd3076ULL, 0x00005082119ea468ULL,
    0xc4b08306a88fcc28ULL, 0x3eb0678af6374afdULL, 0xf19f87ab86ad7436ULL,
    0xf2129fbfbe6bc736ULL, 0x481149575c98a4edULL, 0x0000010695477bc5ULL,
    0x1fba37801a9ceaccULL, 0x3bf06fd663a49b6dULL, 0x99687e9782e3874bULL,
    0x79a10673aa50d8e3ULL, 0xe4accf9e6211f420ULL, 0x2520e71f87579071ULL,
    0x2bd5d3fd781a8a9bULL, 0x00de4dcddd11c873ULL, 0xeaa9311c5a87392fULL,
    0xdb748eb617bc40ffULL, 0xaf579a8df620bf6fULL, 0x86a6e5da1b09c2b1ULL,
    0xcc2fc30ac322a12eULL, 0x355e2afec1f74267ULL, 0x2d99c8f4c021a47bULL,
    0xbade4b4a9404cfc3ULL, 0xf7b518721d707d69ULL, 0x3286b6587bf32c20ULL,
    0x0000b68886af270cULL, 0xa115d6e4db8a9079ULL, 0x484f7e9c97b2e199ULL,
    0xccca7bb75713e301ULL, 0xbf2584a62bb0f160ULL, 0xade7e813625dbcc8ULL,
    0x000070940d87955aULL, 0x8ae69108139e626fULL, 0xbd776ad72fde38a2ULL,
    0xfb6b001fc2fcc0cfULL, 0xc7a474b8e67bc427ULL, 0xbaf6f11610eb5d58ULL,
    0x09cb1f5b6de770d1ULL, 0xb0b219e6977d4c47ULL, 0x00ccbc386ea7ad4aULL,
    0xcc849d0adf973f01ULL, 0x73a3ef7d016af770ULL, 0xc807d2d386bdbdfeULL,
    0x7f2ac9966c791730ULL, 0xd037a86bc6c504daULL, 0xf3f17c661eaa609dULL,
    0xaca626b04daae687ULL, 0x755a99374f4a5b07ULL, 0x90837ee65b2caedeULL,
    0x6ee8ad93fd560785ULL, 0x0000d9e11053edd8ULL, 0x9e063bb2d21cdbd7ULL,
    0x07ab77f12a01d2b2ULL, 0xec550255e6641b44ULL, 0x78fb94a8449c14c6ULL,
    0xc7510e1bc6c0f5f5ULL, 0x0000320b36e4cae3ULL, 0x827c33262c8b1a2dULL,
    0x14675f0b48ea4144ULL, 0x267bd3a6498decebULL, 0xf1916ff982f5035eULL,
    0x86221b7ff434fb88ULL, 0x9dbecee7386f49d8ULL, 0xea58f8cac80f8f4aULL,
    0x008d198692fc64d8ULL, 0x6d38704fbabf9a36ULL, 0xe032cb07d1e7be4cULL,
    0x228d21f6ad450890ULL, 0x635cb1bfc02589a5ULL, 0x4620a1739ca2ce71ULL,
    0xa7e7dfe3aae5fb58ULL, 0x0c10ca932b3c0debULL, 0x2727fee884afed7bULL,
    0xa2df1c6df9e2ab1fULL, 0x4dcdd1ac0774f523ULL, 0x000070ffad33e24eULL,
    0xa2ace87bc5977816ULL, 0x9892275ab4286049ULL, 0xc2861181ddf18959ULL,
    0xbb9972a042483e19ULL, 0xef70cd3766513078ULL, 0x00000513abfc9864ULL,
    0xc058b61858c94083ULL, 0x09e850859725e0deULL, 0x9197fb3bf83e7d94ULL,
    0x7e1e626d12b64bceULL, 0x520c54507f7b57d1ULL, 0xbee1797174e22416ULL,
    0x6fd9ac3222e95587ULL, 0x0023957c9adfbf3eULL, 0xa01c7d7e234bbe15ULL,
    0xaba2c758b8a38cbbULL, 0x0d1fa0ceec3e2b30ULL, 0x0bb6a58b7e60b991ULL,
    0x4333dd5b9fa26635ULL, 0xc2fd3b7d4001c1a3ULL, 0xfb41802454731127ULL,
    0x65a56185a50d18cbULL, 0xf67a02bd8784b54fULL, 0x696f11dd67e65063ULL,
    0x00002022fca814abULL, 0x8cd6be912db9d852ULL, 0x695189b6e9ae8a57ULL,
    0xee9453b50ada0c28ULL, 0xd8fc5ea91a78845eULL, 0xab86bf191a4aa767ULL,
    0x0000c6b5c86415e5ULL, 0x267310178e08a22eULL, 0xed2d101b078bca25ULL,
    0x3b41ed84b226a8fbULL, 0x13e622120f28dc06ULL, 0xa315f5ebfb706d26ULL,
    0x8816c34e3301baceULL, 0xe9395b9cbb71fdaeULL, 0x002ce9202e721648ULL,
    0x4283db1d2bb3c91cULL, 0xd77d461ad2b1a6a5ULL, 0xe2ec17e46eeb866bULL,
    0xb8e0be4039fbc47cULL, 0xdea160c4d5299d04ULL, 0x7eec86c8d28c3634ULL,
    0x2119ad129f98a399ULL, 0xa6ccf46b61a283efULL, 0x2c52cedef658c617ULL,
    0x2db4871169acdd83ULL, 0x0000f0d6f39ecbe9ULL, 0x3dd5d8c98d2f9489ULL,
    0x8a1872a22b01f584ULL, 0xf282a4c40e7b3cf2ULL, 0x8020ec2ccb1ba196ULL,
    0x6693b6e09e59e313ULL, 0x0000ce19cc7c83ebULL, 0x20cb5735f6479c3bULL,
    0x762ebf3759d75a5bULL, 0x207bfe823d693975ULL, 0xd77dc112339cd9d5ULL,
    0x9ba7834284627d03ULL, 0x217dc513e95f51e9ULL, 0xb27b1a29fc5e7816ULL,
    0x00d5cd9831bb662dULL, 0x71e39b806d75734cULL, 0x7e572af006fb1a23ULL,
    0xa2734f2f6ae91f85ULL, 0xbf82c6b5022cddf2ULL, 0x5c3beac60761a0deULL,
    0xcdc893bb47416998ULL, 0x6d1085615c187e01ULL, 0x77f8ae30ac277c5dULL,
    0x917c6b81122a2c91ULL, 0x5b75b699add16967ULL, 0x0000cf6ae79a069bULL,
    0xf3c40afa60de1104ULL, 0x2063127aa59167c3ULL, 0x621de62269d1894dULL,
    0xd188ac1de62b4726ULL, 0x107036e2154b673cULL, 0x0000b85f28553a1dULL,
    0xf2ef4e4c18236f3dULL, 0xd9d6de6611b9f602ULL, 0xa1fc7955fb47911cULL,
    0xeb85fd032f298dbdULL, 0xbe27502fb3befae1ULL, 0xe3034251c4cd661eULL,
    0x441364d354071836ULL, 0x0082b36c75f2983eULL, 0xb145910316fa66f0ULL,
    0x021c069c9847caf7ULL, 0x2910dfc75a4b5221ULL, 0x735b353e1c57a8b5ULL,
    0xce44312ce98ed96cULL, 0xbc942e4506bdfa65ULL, 0xf05086a71257941bULL,
    0xfec3b215d351ceadULL, 0x00ae1055e0144202ULL, 0xf54b40846f42e454ULL,
    0x00007fd9c8bcbcc8ULL, 0xbfbd9ef317de9bfeULL, 0xa804302ff2854e12ULL,
    0x39ce4957a5e5d8d4ULL, 0xffb9e2a45637ba84ULL, 0x55b9ad1d9ea0818bULL,
    0x00008acbf319178aULL, 0x48e2bfc8d0fbfb38ULL, 0x8be39841e848b5e8ULL,
    0x0e2712160696a08bULL, 0xd51096e84b44242aULL, 0x1101ba176792e13aULL,
    0xc22e770f4531689dULL, 0x1689eff272bbc56cULL, 0x00a92a197f5650ecULL,
    0xbc765990bda1784eULL, 0xc61441e392fcb8aeULL, 0x07e13a2ced31e4a0ULL,
    0x92cbe984234e9d4dULL, 0x8f4ff572bb7d8ac5ULL, 0x0b9670c00b963bd0ULL,
    0x62955a581a03eb01ULL, 0x645f83e5ea000254ULL, 0x41fce516cd88f299ULL,
    0xbbda9748da7a98cfULL, 0x0000aab2fe4845faULL, 0x19761b069bf56555ULL,
    0x8b8f5e8343b6ad56ULL, 0x3e5d1cfd144821d9ULL, 0xec5c1e2ca2b0cd8fULL,
    0xfaf7e0fea7fbb57fULL, 0x000000d3ba12961bULL, 0xda3f90178401b18eULL,
    0x70ff906de33a5febULL, 0x0527d5a7c06970e7ULL, 0x22d8e773607c13e9ULL,
    0xc9ab70df643c3bacULL, 0xeda4c6dc8abe12e3ULL, 0xecef1f410033e78aULL,
    0x0024c2b274ac72cbULL, 0x06740d954fa900b4ULL, 0x1d7a299b323d6304ULL,
    0xb3c37cb298cbead5ULL, 0xc986e3c76178739bULL, 0x9fabea364b46f58aULL,
    0x6da214c5af85cc56ULL, 0x17a43ed8b7a38f84ULL, 0x6eccec511d9adbebULL,
    0xf9cab30913335afbULL, 0x4a5e60c5f415eed2ULL, 0x00006967503672b4ULL,
    0x9da51d121454bb87ULL, 0x84321e13b9bbc816ULL, 0xfb3d6fb6ab2fdd8dULL,
    0x60305eed8e160a8dULL, 0xcbbf4b14e9946ce8ULL, 0x00004f63381b10c3ULL,
    0x07d5b7816fcc4e10ULL, 0xe5a536726a6a8155ULL, 0x57afb23447a07fddULL,
    0x18f346f7abc9d394ULL, 0x636dc655d61ad33dULL, 0xcc8bab4939f7f3f6ULL,
    0x63c7a906c1dd187bULL, };

#define CAS__GEAR_MASK 0xFFFF000000000000ULL
#define CAS__GEAR_LIMIT 0x0001000000000000ULL /* h & MASK == 0  <=>  h < LIMIT */
/* The hash at a position depends on the last 64 bytes only ((h << 1) shifts older bytes
   out), and no cut is tested before size MIN; so hashing may start 64 + 1 bytes before MIN
   (xet-core's skip-ahead) with identical results. */
#define CAS__GEAR_SKIP (CAS_CHUNK_MIN_SIZE - 64 - 1)
/* Lane length of the 8-lane scan (each lane but the first also hashes the 64 bytes before
   it). Longer lanes cost more serial rescanning of the block that holds the cut. */
#define CAS__GEAR_LANE 512
#define CAS__GEAR_BLOCK (8 * CAS__GEAR_LANE)

void cas_chunker_init(cas_chunker *c) {
    c->priv_hash = 0;
    c->priv_size = 0;
}

/* The spec's loop, byte by byte, over at most n bytes: returns bytes consumed; *cut set and
   the chunker reset if the chunk ended. */
static size_t cas__gear_serial(cas_chunker *c, const uint8_t *p, size_t n, uint64_t *cut) {
    uint64_t h = c->priv_hash, size = c->priv_size;
    size_t i = 0;
    while (i < n) {
        h = (h << 1) + cas__gear[p[i++]];
        size++;
        if (size >= CAS_CHUNK_MIN_SIZE && ((h & CAS__GEAR_MASK) == 0 || size >= CAS_CHUNK_MAX_SIZE)) {
            *cut = size;
            c->priv_hash = 0;
            c->priv_size = 0;
            return i;
        }
    }
    c->priv_hash = h;
    c->priv_size = size;
    return i;
}

/* Tests CAS__GEAR_BLOCK bytes in which every position may cut (size >= MIN) and none is
   forced (size < MAX), as 8 independent lanes: the serial loop is bound by the latency of
   its one-byte dependency chain (h = 2h + T[b]); 8 chains in flight hide it. Lane k > 0
   rebuilds the hash entering it from the 64 bytes before it (older bytes are shifted out).
   A cut is h < 2^48 at any position; the lanes' minimum is tested once per step. Returns 0,
   with nothing changed, if any lane sees a cut: the caller rescans the block serially to
   find the first one. */
#define CAS__GEAR_STEP(k, at) h##k = (h##k << 1) + cas__gear[p[(at) + j]]
static int cas__gear_block(cas_chunker *c, const uint8_t *p) {
    uint64_t h0 = c->priv_hash, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0;
    size_t j;
    const size_t n = CAS__GEAR_LANE;
    for (j = n - 64; j < n; j++) { /* lane k's warm-up: the last 64 bytes of lane k-1 */
        CAS__GEAR_STEP(1, 0 * n); CAS__GEAR_STEP(2, 1 * n); CAS__GEAR_STEP(3, 2 * n);
        CAS__GEAR_STEP(4, 3 * n); CAS__GEAR_STEP(5, 4 * n); CAS__GEAR_STEP(6, 5 * n);
        CAS__GEAR_STEP(7, 6 * n);
    }
    for (j = 0; j < n; j++) {
        uint64_t m01, m23, m45, m67, m;
        if ((j & 63) == 0) { /* eight interleaved streams: prefetch the next block's lines */
            int k;
            for (k = 0; k < 8; k++) CAS__PREFETCH(p + CAS__GEAR_BLOCK + (size_t)k * n + j);
        }
        CAS__GEAR_STEP(0, 0 * n); CAS__GEAR_STEP(1, 1 * n); CAS__GEAR_STEP(2, 2 * n);
        CAS__GEAR_STEP(3, 3 * n); CAS__GEAR_STEP(4, 4 * n); CAS__GEAR_STEP(5, 5 * n);
        CAS__GEAR_STEP(6, 6 * n); CAS__GEAR_STEP(7, 7 * n);
        m01 = h0 < h1 ? h0 : h1;
        m23 = h2 < h3 ? h2 : h3;
        m45 = h4 < h5 ? h4 : h5;
        m67 = h6 < h7 ? h6 : h7;
        m01 = m01 < m23 ? m01 : m23;
        m45 = m45 < m67 ? m45 : m67;
        m = m01 < m45 ? m01 : m45;
        if (CAS__UNLIKELY(m < CAS__GEAR_LIMIT)) return 0;
    }
    c->priv_hash = h7;
    c->priv_size += CAS__GEAR_BLOCK;
    return 1;
}
#undef CAS__GEAR_STEP

const char *cas_chunker_path(void) { return "gear-8lane"; }

size_t cas_chunker_scan(cas_chunker *c, const void *data, size_t len, uint64_t *cut) {
    const uint8_t *p = (const uint8_t *)data;
    size_t i = 0;
    *cut = 0;
    while (i < len) {
        uint64_t size = c->priv_size;
        size_t n = len - i;
        if (size < CAS__GEAR_SKIP) { /* bytes that cannot influence any tested hash */
            if (n > CAS__GEAR_SKIP - size) n = (size_t)(CAS__GEAR_SKIP - size);
            c->priv_size += n;
            i += n;
            continue;
        }
        if (size < CAS_CHUNK_MIN_SIZE - 1) { /* the warm-up bytes before the first test */
            if (n > CAS_CHUNK_MIN_SIZE - 1 - size) n = (size_t)(CAS_CHUNK_MIN_SIZE - 1 - size);
        } else if (n >= CAS__GEAR_BLOCK && size + CAS__GEAR_BLOCK < CAS_CHUNK_MAX_SIZE) {
            if (cas__gear_block(c, p + i)) {
                i += CAS__GEAR_BLOCK;
                continue;
            }
            n = CAS__GEAR_BLOCK; /* a match lies in this block: find the first one */
        }
        i += cas__gear_serial(c, p + i, n, cut);
        if (*cut) return i;
    }
    return i;
}

uint64_t cas_chunker_finish(cas_chunker *c) {
    uint64_t size = c->priv_size;
    cas_chunker_init(c);
    return size;
}

void cas_chunk_stream_init(cas_chunk_stream *s) {
    cas_chunker_init(&s->priv_chunker);
    cas_blake3_init_keyed(&s->priv_hasher, cas__key_data);
}

static void cas__chunk_stream_emit(cas_chunk_stream *s, uint64_t size, cas_chunk *out) {
    cas_blake3_final(&s->priv_hasher, out->hash.bytes);
    out->size = size;
    cas_blake3_init_keyed(&s->priv_hasher, cas__key_data);
}

size_t cas_chunk_stream_push(cas_chunk_stream *s, const void *data, size_t len, cas_chunk *out) {
    uint64_t cut;
    size_t n = cas_chunker_scan(&s->priv_chunker, data, len, &cut);
    cas_blake3_update(&s->priv_hasher, data, n);
    out->size = 0;
    if (cut) cas__chunk_stream_emit(s, cut, out);
    return n;
}

int cas_chunk_stream_finish(cas_chunk_stream *s, cas_chunk *out) {
    uint64_t size = cas_chunker_finish(&s->priv_chunker);
    out->size = 0;
    if (!size) return 0;
    cas__chunk_stream_emit(s, size, out);
    return 1;
}

/* ==== >>primitives: zstd ================================================================ */

int cas_zstd_is_frame(const void *src, size_t len) {
    const uint8_t *p = (const uint8_t *)src;
    return len >= 4 && ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                        (uint32_t)p[3] << 24) == CAS_ZSTD_MAGIC;
}

#if !defined(CAS_NO_ZSTD)
#include "vendor/cas_zstd.inc"

/* zstd's allocator interface frees without a size; ours passes the size back, so each block
   carries its size in a 16-byte prefix (16 keeps the block's alignment). */
static void *cas__zstd_alloc(void *opaque, size_t size) {
    cas_allocator *a = (cas_allocator *)opaque;
    uint8_t *p;
    if (size > (size_t)-1 - 16) return NULL;
    p = (uint8_t *)a->alloc(a->user, size + 16, 16);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    return p + 16;
}
static void cas__zstd_free(void *opaque, void *addr) {
    cas_allocator *a = (cas_allocator *)opaque;
    size_t size;
    if (!addr) return;
    memcpy(&size, (uint8_t *)addr - 16, sizeof size);
    a->free(a->user, (uint8_t *)addr - 16, size + 16);
}

int cas_zstd_decompress(const cas_allocator *alloc, const void *src, size_t len, void *dst,
                        size_t cap, size_t *out_len) {
    cas_allocator a = cas__allocator_or_default(alloc);
    ZSTD_customMem mem;
    ZSTD_DCtx *dctx;
    ZSTD_inBuffer in;
    ZSTD_outBuffer out;
    int result = CAS_OK;
    size_t ret = 1;
    *out_len = 0;
    mem.customAlloc = cas__zstd_alloc;
    mem.customFree = cas__zstd_free;
    mem.opaque = &a;
    dctx = ZSTD_createDCtx_advanced(mem);
    if (!dctx) return CAS_E_NOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, CAS_ZSTD_MAX_WINDOW_LOG))) {
        ZSTD_freeDCtx(dctx);
        return CAS_E_ZSTD;
    }
    in.src = src;
    in.size = len;
    in.pos = 0;
    out.dst = dst;
    out.size = cap;
    out.pos = 0;
    /* Streaming, so frames without a content size decode too and output is bounded by cap. */
    while (in.pos < in.size || ret != 0) {
        size_t before_in = in.pos, before_out = out.pos;
        ret = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(ret)) {
            result = ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? CAS_E_NOMEM : CAS_E_ZSTD;
            break;
        }
        if (ret != 0 && out.pos == out.size) { /* more output pending, no room left */
            result = CAS_E_LIMIT;
            break;
        }
        if (in.pos == before_in && out.pos == before_out) { /* truncated: no progress possible */
            result = CAS_E_ZSTD;
            break;
        }
    }
    *out_len = out.pos;
    ZSTD_freeDCtx(dctx);
    return result;
}
#include "vendor/cas_zstd_end.inc"
#else
int cas_zstd_decompress(const cas_allocator *alloc, const void *src, size_t len, void *dst,
                        size_t cap, size_t *out_len) {
    (void)alloc; (void)src; (void)len; (void)dst; (void)cap;
    *out_len = 0;
    return CAS_E_UNSUPPORTED;
}
#endif

/* Internal macros end with the implementation (only CAS_* public ones remain). */
#undef CAS__X86
#undef CAS__X86_GNU
#undef CAS__ARM64
#undef CAS__UNUSED
#undef CAS__PREFETCH
#undef CAS__TARGET
#undef CAS__LIKELY
#undef CAS__UNLIKELY
#undef CAS__GEAR_MASK
#undef CAS__GEAR_LIMIT
#undef CAS__GEAR_SKIP
#undef CAS__GEAR_LANE
#undef CAS__GEAR_BLOCK
#endif /* CAS__IMPLEMENTED */
#endif /* CAS_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the cas.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software,
either in source code form or as a compiled binary, for any purpose, commercial or
non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this software
dedicate any and all copyright interest in the software to the public domain. We make this
dedication for the benefit of the public at large and to the detriment of our heirs and
successors. We intend this dedication to be an overt act of relinquishment in perpetuity of
all present and future rights to this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF
OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
