/* cas.h - the Hugging Face Xet storage protocol in one C header.
   README.md beside it: quick start, limits, memory bounds, benchmarks, the cas tool.
   MIT or public domain, see end of file.

   What it is: the client side of Xet (chunking, keyed BLAKE3 hashes, xorbs, shards, the
   CAS API's JSON, download and upload engines), byte-identical with xet-core, in C99 with no
   dependency beyond libc. The host does all I/O; the library never opens a file or socket.

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

   CONTENTS BY TASK (each section begins with a banner: grep ">>formats: shard", ...)
   ----------------
     hash a file, chunk it      >>primitives: chunker   cas_chunk_stream, cas_chunk_buffer (threads)
                                >>primitives: hashes    cas_merkle (the file hash), cas_chunk_hash
     download a file            >>formats: JSON         cas_recon_parse (the CAS's manifest)
                                >>engines: download     cas_download_create/next/begin/push/end
     verify a range             >>engines: verified ranges   cas_file_chunk_hashes_parse/verify
     upload files               >>engines: upload       cas_upload_create/push/next/answer
     read or write a xorb       >>formats: xorb         cas_xorb_walk, cas_xorb_stream_*, cas_xorb_writer_*
     parse or write a shard     >>formats: shard        cas_shard_parse, cas_shard_reader_*, cas_shard_write
     serve the CAS API          >>engines: server       cas_http_request_parse, cas_server_create/begin/next
     a local store as a server  >>host helpers: local store   cas_recon_from_shards
     bound memory               >>base: memory          cas_allocator, cas_arena;
                                cas_download_memory() gives the download engine's need up front
     handle errors              >>base: results         cas_result, suspensions, cas_result_name
                                >>base: error detail    cas_error (code, byte offset, what)
     fuzz it                    fuzz/ in the repository: one libFuzzer target per parser
   Declarations come in layers, each using only those before it: base (results, errors,
   memory, CPU) -> primitives (hashes, chunker, codecs) -> formats (sinks, xorb, shard, JSON,
   multipart) -> engines (upload, download, verified ranges, server) -> host helpers. The
   implementation below them repeats each banner in the same order (tests/api_check.sh).

   BUILD OPTIONS (define before including cas.h in the implementation file; `make check` and
   tests/single_tu.sh build every one)
   -------------
     CAS_IMPLEMENTATION   compile the implementation into this translation unit
     CAS_NO_SIMD          portable code only: no SSE/AVX/SHA-NI/NEON paths, no CPU detection
     CAS_NO_ZSTD          leave out the vendored zstd decoder
     CAS_NO_STDIO         leave out everything that uses <stdio.h>, files or the environment
                          (the library proper has nothing of the kind; `make check` verifies
                          it): libc is then only mem*, strlen and malloc/calloc/free for the
                          default allocator, plus BLAKE3's assert() unless NDEBUG
     CAS_BLAKE3_EXTERNAL  do not compile vendor/blake3; use the BLAKE3 C API from your own
                          "blake3.h" (blake3_hasher_init_keyed/update/finalize) and link it
     CAS_API              storage class of the public functions (default: extern; static:
                          private to one translation unit, warning-free)
     CAS_ZSTD_MAX_WINDOW_LOG, CAS_MULTIPART_MAX_HEADER, CAS_MULTIPART_MAX_PREAMBLE
                          limits a host may lower (README.md, "Limits"; test_limits_override)
   vendor/ must lie beside cas.h (it is included as "vendor/..."); `make dist` writes a
   dist/cas.h with it inlined, one file with no other.

   RULES
   -----
   Memory:    the primitives (hashers, chunker stream, Merkle aggregator, LZ4/BG4 codecs on
              your buffers) never allocate: they are plain structs you place anywhere (their
              priv_ fields are private); the two exceptions, cas_zstd_decompress and
              cas_chunk_buffer, take an allocator like everything else that does. Parsers, writers and engines allocate through the
              cas_allocator you pass (NULL: malloc/free) and say how much (each "Memory"
              paragraph); nothing allocates what an input merely claims, every size is checked
              against the limits first. Results that own memory have a _free function.
   I/O:       none. Parsers take bytes; writers give bytes to your cas_sink; the download
              engine gives you requests (URL + Range) and takes the response bytes you push;
              the upload engine gives you events (a xorb or shard to send, a dedup query).
   Results:   one convention (tests/api_check.sh checks it): a function that can fail returns
              cas_result: CAS_OK (0), an error (< 0; cas_result_name/message), or for the
              push-style calls that say so a suspension (> 0: CAS_READY, CAS_NEED_INPUT,
              CAS_END), which is not an error. Yes/no questions return int 1/0. The detail
              of an error (code, byte offset, what) is one struct, cas_error: the last
              parameter `cas_error *err` (NULL allowed), or an object's own (its `error`
              field, cas_upload_error, cas_download_error); it holds its text, so it
              outlives the object. An engine's error is sticky.
   Arguments: the allocator, where a function takes one, comes first (NULL: malloc/free);
              configuration is a `_desc` struct whose zero fields mean the defaults (a NULL
              desc: all defaults); compression is asked for with CAS_COMPRESS_* (0: LZ4) and
              reported with the stored CAS_SCHEME_* values.
   Threading: no mutable global state except a write-once cache of the CPU's features (the
              vendored BLAKE3 keeps one too), both relaxed atomics, so threads may hash at
              once (tests/test_threads.c under ThreadSanitizer). One object, one thread at
              a time; the library starts no threads, but the upload engine and
              cas_chunk_buffer take a `parallel` callback that runs their jobs on yours.
   Hashes:    cas_hash holds the 32 raw bytes. Text is always the Xet API convention: four
              little-endian u64 words, each printed as 16 hex digits (cas_hash_to_hex).
   SIMD:      BLAKE3 SSE2/SSE4.1/AVX2/AVX-512/NEON, SHA-NI and ARMv8 SHA-256, the 8-lane
              chunker scan (fused with hashing on AVX-512 or AVX2), chosen at run time;
              cas_cpu_limit() lowers the tiers used (tests and benchmarks force each path with
              it); it is not thread-safe.
   Limits:    README.md's "Limits" table lists every bound enforced and its error code.
*/
#ifndef CAS_H
#define CAS_H

#include <stddef.h>
#include <stdint.h>

#define CAS_VERSION_MAJOR 0
#define CAS_VERSION_MINOR 1
#define CAS_VERSION_PATCH 0
#define CAS_VERSION_STRING "0.1.0"

/* CAS_API: the storage class of every public function (default extern). CAS_API=static (the
   implementation in the same file) keeps the library private to one translation unit; GCC
   and clang then also get __attribute__((unused)), so that the functions a program does not
   call draw no -Wunused-function. The test pastes a token onto CAS_API's first one: a
   CAS_API of your own must be empty or begin with an identifier (static, extern,
   __attribute__, __declspec, ...); only exactly `static` gains the attribute. */
#ifndef CAS_API
#define CAS_API extern
#elif defined(__GNUC__) || defined(__clang__)
#define CAS__API_REST(x) CAS__API_REST2(x)   /* x expanded, then pasted: */
#define CAS__API_REST2(x) CAS__API_REST_##x
#define CAS__API_REST_static                  /* "static ..." -> the tokens after static */
#define CAS__API_EMPTY(x) CAS__API_EMPTY2(x)
#define CAS__API_EMPTY2(x) CAS__API_EMPTY_##x
#define CAS__API_EMPTY_ ~, 1, ~               /* nothing after it: 1 in the second slot */
#define CAS__API_SECOND(a, b, ...) b
#define CAS__API_PICK(...) CAS__API_SECOND(__VA_ARGS__)
#if CAS__API_PICK(CAS__API_EMPTY(CAS__API_REST(CAS_API)), 0, ~)
#undef CAS_API
#define CAS_API static __attribute__((unused))
#endif
#undef CAS__API_REST
#undef CAS__API_REST2
#undef CAS__API_REST_static
#undef CAS__API_EMPTY
#undef CAS__API_EMPTY2
#undef CAS__API_EMPTY_
#undef CAS__API_SECOND
#undef CAS__API_PICK
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== >>base: results ==================================================================== */

/* What every function that can fail returns. Three sets, told apart by sign:
     CAS_OK (0)        done.
     suspensions (> 0) not errors: a push-style call (the streams' and engines' _push/_next)
                       stopped to hand something over or to ask for more; only the calls
                       whose documentation names one return it, and the object is fine.
     errors (< 0)      the call failed; cas_error says what and where (see >>base: error
                       detail). An engine's error is sticky: every later call returns it.
   Functions that answer yes/no (cas_hash_equal, cas_zstd_is_frame, ...) return int 1/0 and
   cannot fail; callbacks a host supplies return int (0 or a negative cas_result). */
typedef enum cas_result {
    CAS_OK = 0,

    /* ---- suspensions ---- */
    CAS_END = 1,        /* no more items: the stream or engine is done */
    CAS_READY = 2,      /* an output item (event, request, record) is ready in the out-parameter */
    CAS_NEED_INPUT = 3, /* all input consumed, nothing ready: push more */

    /* ---- errors ---- */
    CAS_E_ARGUMENT = -1,     /* a parameter is out of its documented range */
    CAS_E_NOMEM = -2,        /* the allocator returned NULL */
    CAS_E_HEX = -3,          /* a hash string is not exactly 64 hex digits */
    CAS_E_STATE = -4,        /* the call is not allowed in the object's current state */
    CAS_E_UNSUPPORTED = -5,  /* the feature was compiled out (e.g. CAS_NO_ZSTD) */
    CAS_E_LIMIT = -6,        /* the output would exceed the caller's capacity or a limit */
    CAS_E_ZSTD = -7,          /* a zstd frame is corrupt, truncated or needs a too-large window */
    CAS_E_TRUNCATED = -8,    /* the input ends inside a structure */
    CAS_E_TRAILING = -9,     /* bytes follow a structure that must end the input */
    CAS_E_SIZE = -10,        /* a decoded size differs from the size declared for it */
    CAS_E_LZ4_MAGIC = -11,   /* not an LZ4 frame (skippable and legacy frames included) */
    CAS_E_LZ4_HEADER = -12,  /* bad LZ4 frame header: version, reserved bits, dict ID, checksum */
    CAS_E_LZ4_BLOCK = -13,   /* a corrupt LZ4 block */
    CAS_E_LZ4_CHECKSUM = -14,    /* an LZ4 block or content checksum mismatch */
    CAS_E_CHUNK_VERSION = -15,   /* a chunk header's version is not 0 */
    CAS_E_CHUNK_SCHEME = -16,    /* a chunk header's compression scheme is not 0, 1 or 2 */
    CAS_E_CHUNK_SIZE = -17,      /* a chunk size is out of range (or differs for scheme none) */
    CAS_E_XORB_LIMIT = -18,      /* over 8192 chunks or 64 MiB in one xorb */
    CAS_E_XORB_FOOTER = -19,     /* a xorb storage footer is inconsistent */
    CAS_E_HASH = -20,            /* a computed hash differs from the expected one */
    CAS_E_SHARD_HEADER = -21,/* bad shard header: tag, version or footer_size */
    CAS_E_SHARD_FOOTER = -22,/* bad shard footer: version or offsets */
    CAS_E_SHARD_SECTION = -23,/* a shard section does not end with its exact bookend */
    CAS_E_SHARD_ENTRY = -24, /* a shard entry holds impossible values */
    CAS_E_SHARD_LOOKUP = -25,/* a shard lookup table does not match the sections */
    CAS_E_SHARD_TOO_LARGE = -26,/* the shard is over 64 MiB */
    CAS_E_SHARD_NO_CHUNKS = -27,/* the chunk hashes of a term are not known */
    CAS_E_SHARD_VERIFICATION = -28,/* a term verification hash does not match */
    CAS_E_JSON_SYNTAX = -29, /* not JSON: unexpected byte, missing , : or value, BOM */
    CAS_E_JSON_DEPTH = -30,  /* JSON arrays/objects nest deeper than the limit */
    CAS_E_JSON_STRING = -31, /* bad JSON string: UTF-8, escape, control char, surrogate */
    CAS_E_JSON_NUMBER = -32, /* bad JSON number, or an integer field out of range */
    CAS_E_JSON_LIMIT = -33,  /* JSON body or string over its limit */
    CAS_E_JSON_SCHEMA = -34, /* JSON field missing, repeated or of the wrong type */
    CAS_E_JSON_VALUE = -35,  /* a JSON value breaks the protocol's rules */
    CAS_E_CANCELLED = -36,   /* the host cancelled (a callback returned non-zero, or a cancel call) */
    CAS_E_TERM_SIZE = -37,    /* a term's decoded chunks do not add up to its unpacked_length */
    CAS_E_MULTIPART = -38,   /* malformed multipart/byteranges body or Content-Type */
    /* the server engine's (>>engines: server), each answered with its HTTP status there */
    CAS_E_NOT_FOUND = -39,   /* no such file, xorb, chunk or object (404) */
    CAS_E_AUTH = -40,        /* no bearer token, or an unknown or expired one (401) */
    CAS_E_SCOPE = -41,       /* the token lacks the scope the route needs (403) */
    CAS_E_BUSY = -42,        /* a bounded resource is taken: try again later (503) */
    CAS_E_IO = -43,          /* a store callback failed (500) */
    CAS_E_HTTP = -44         /* a malformed HTTP request head (400) */
} cas_result;

/* "CAS_E_HEX", "CAS_READY" etc. Never NULL. They take an int, so that the int a host
   callback returned can be named as well. */
CAS_API const char *cas_result_name(int result);
/* One sentence on what the result means. Never NULL. */
CAS_API const char *cas_result_message(int result);

/* ==== >>base: error detail =============================================================== */

/* Where and why a call failed: the one error-detail struct of every parser, writer and
   engine. A function that can fail takes a `cas_error *err` as its last parameter (NULL
   allowed) and fills it on every return: code = the returned cas_result, offset = the byte
   offset in the input where the problem was detected (0 on success or where no input is
   involved), what = a one-line detail ("match offset 0", "part 2: Content-Range 0-9/20 has 12
   bytes", ...; "" on success). An object that keeps its own sticky error (cas_xorb_writer,
   cas_xorb_stream, cas_json_reader, cas_multipart) has a cas_error field; an opaque engine
   hands out its own (cas_upload_error, cas_download_error). The text lives inside the struct
   itself, so a cas_error may be copied, kept and printed after the object that filled it is
   gone; a longer detail is cut at CAS_ERROR_WHAT_SIZE - 1 bytes. */
#define CAS_ERROR_WHAT_SIZE 160
typedef struct cas_error {
    cas_result code;
    uint64_t offset;
    char what[CAS_ERROR_WHAT_SIZE]; /* NUL-terminated */
} cas_error;

/* ==== >>base: memory ===================================================================== */

/* Every allocation goes through one of these, passed per object. A NULL allocator pointer, or
   one whose alloc is NULL, means malloc/free. alloc returns memory aligned to `align` (a power
   of two <= 16) or NULL; free receives the size that was allocated. */
typedef struct cas_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} cas_allocator;

/* A fixed arena: every allocation of an object comes from one caller buffer (firmware,
   sandboxes, hard memory caps). First fit with coalescing; each allocation costs its size
   rounded up to 16 plus CAS_ARENA_OVERHEAD bytes. No locking: one arena per thread or
   object. When the buffer cannot fit a request, alloc returns NULL and the library reports
   CAS_E_NOMEM cleanly. */
#define CAS_ARENA_OVERHEAD 16
typedef struct cas_arena {
    unsigned char *priv_base;
    size_t priv_size;
    size_t used; /* bytes taken now, overhead included */
    size_t peak; /* the most ever taken */
} cas_arena;
/* mem[0..size) becomes the arena (mem is aligned to 16 by skipping up to 15 bytes). */
CAS_API void cas_arena_init(cas_arena *a, void *mem, size_t size);
/* The allocator to pass to the library's functions. */
CAS_API cas_allocator cas_arena_allocator(cas_arena *a);

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
    CAS_CPU_SHA = 1 << 6,    /* SHA-256 instructions: x86 SHA-NI, ARMv8 SHA2 */
    CAS_CPU_NEON = 1 << 7
};
/* The tiers the CPU has, masked by cas_cpu_limit(). 0 under CAS_NO_SIMD. */
CAS_API unsigned cas_cpu_features(void);
/* Restricts the paths used from now on to `mask` & what the CPU has (~0u = no limit).
   For tests and benchmarks; call while no other thread uses the library. */
CAS_API void cas_cpu_limit(unsigned mask);
/* Names of the code paths currently selected, e.g. "avx512", "sha-ni", "gear-8lane-asm".
   The chunker's ends in "+blake3-avx512-fused" or "+blake3-avx2-fused" where
   cas_chunk_stream scans and hashes in one interleaved loop (x86-64 with AVX-512, else with
   AVX2; vendored BLAKE3). */
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
CAS_API cas_result cas_hash_from_hex(const char *hex, size_t len, cas_hash *h);
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
CAS_API cas_result cas_internal_node_hash(const cas_chunk *nodes, size_t n, cas_hash *out,
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

/* Chunker + chunk hash in one push-style object, of fixed size (~19 KiB: the chunker, the
   BLAKE3 state and the bytes of small pushes waiting to be hashed), no allocation. */
/* CAS_CHUNK_STREAM_GATHER: bytes the stream keeps of small pushes, so that it hashes in 16
   KiB groups whatever the piece sizes (BLAKE3 is 2.5x slower in 4 KiB updates). */
#define CAS_CHUNK_STREAM_GATHER (17 * 1024)
typedef struct cas_chunk_stream {
    cas_chunker priv_chunker;
    cas_blake3 priv_hasher;
    uint32_t priv_gather_len;
    uint8_t priv_gather[CAS_CHUNK_STREAM_GATHER];
} cas_chunk_stream;
CAS_API void cas_chunk_stream_init(cas_chunk_stream *s);
/* Consumes bytes of data[0..len) up to the end of the current chunk and returns how many.
   If a chunk ended, *out holds its hash and size; else out->size == 0. Call again with the
   rest of the data.
   Any piece sizes: bytes of a chunk not yet hashed wait in the stream (up to 17 KiB) and are
   hashed 16 KiB at a time, so small pieces (a socket's, a 4 KiB read()) cost about what
   large ones do; pieces of 32 KiB or more also take the fused scan + hash path on AVX-512
   or AVX2.
   The boundaries and hashes never depend on the piece sizes. */
CAS_API size_t cas_chunk_stream_push(cas_chunk_stream *s, const void *data, size_t len,
                                     cas_chunk *out);
/* End of input: 1 and the last chunk in *out if there was one, else 0. Resets. */
CAS_API int cas_chunk_stream_finish(cas_chunk_stream *s, cas_chunk *out);

/* Parallel chunking: the chunks of data[0..len) exactly as cas_chunk_stream gives them (a
   chunk boundary at data[0]: a file's start, or where the last call's chunks ended), found
   by segments chunked at once on the host's threads, then stitched. Each segment is chunked
   as if a boundary stood at its start; after a boundary the chunker keeps no state, so once
   the true boundaries, continued from the segment before, meet one of the segment's own,
   every later one is the same: only the seam is re-chunked (usually a chunk or two). Data
   whose boundaries never meet (a long run of zeros, cut at the 128 KiB maximum from
   different starts) is re-chunked serially: slower, still the same chunks.
   desc->parallel(parallel_user, job, ctx, n) must call job(ctx, i) once for every i < n, on
   any threads, and return when all are done (as cas_upload_desc.parallel); desc NULL or no
   parallel: the segments one after another on the caller's thread. `last`: the file ends at
   len (the bytes after the last boundary are its last chunk); otherwise those bytes are not
   chunked and out->used says where the next call must start. Allocates through alloc (NULL:
   malloc) ~40 bytes per 8 KiB of data twice over (the segments' chunks, then the result's).
   CAS_OK; CAS_E_NOMEM; CAS_E_ARGUMENT (out NULL, or data NULL with len > 0). On error *out
   holds nothing. */
typedef struct cas_chunk_buffer_desc {
    void (*parallel)(void *parallel_user, void (*job)(void *ctx, size_t i), void *ctx, size_t n);
    void *parallel_user;
    size_t segment; /* bytes per segment; 0: 16 MiB; at least 1 MiB */
} cas_chunk_buffer_desc;
typedef struct cas_chunk_list {
    cas_chunk *chunks; /* in file order */
    size_t n;
    size_t used;       /* bytes the chunks cover, from data[0] */
    cas_allocator priv_alloc;
    size_t priv_cap;
} cas_chunk_list;
CAS_API cas_result cas_chunk_buffer(const cas_allocator *alloc, const void *data, size_t len, int last,
                                    const cas_chunk_buffer_desc *desc, cas_chunk_list *out);
CAS_API void cas_chunk_list_free(cas_chunk_list *l);

/* ==== >>primitives: zstd ================================================================= */

/* zstd's frame magic, little-endian (28 B5 2F FD); cas_zstd_is_frame tests the first bytes. */
#define CAS_ZSTD_MAGIC 0xFD2FB528u
/* The largest window a frame may ask for (8 MiB): bounds the decoder's memory. A host may
   define it where CAS_IMPLEMENTATION is defined: lower to save memory, higher if a server ever sends
   wider frames (27 is zstd's own default cap; the decoder then takes up to 128 MiB). */
#ifndef CAS_ZSTD_MAX_WINDOW_LOG
#define CAS_ZSTD_MAX_WINDOW_LOG 23
#endif
#if CAS_ZSTD_MAX_WINDOW_LOG < 10 || CAS_ZSTD_MAX_WINDOW_LOG > 27
#error "CAS_ZSTD_MAX_WINDOW_LOG must be 10..27 (zstd's smallest window to its default cap)"
#endif
CAS_API int cas_zstd_is_frame(const void *src, size_t len);
/* Decompresses the zstd frame(s) in src[0..len) into dst[0..cap). *out_len = bytes written.
   CAS_E_LIMIT if the output would pass cap; CAS_E_ZSTD if the input is corrupt, truncated
   or needs a window over 2^CAS_ZSTD_MAX_WINDOW_LOG; CAS_E_NOMEM; CAS_E_UNSUPPORTED under
   CAS_NO_ZSTD. Allocates the decoder state (~100 KiB + window) through `alloc`, freed before
   it returns. */
CAS_API cas_result cas_zstd_decompress(const cas_allocator *alloc, const void *src, size_t len, void *dst,
                                       size_t cap, size_t *out_len);

/* ==== >>primitives: XXH32 ================================================================ */

/* xxHash32 (the LZ4 frame checksums). One-shot, or incremental with a plain struct. */
CAS_API uint32_t cas_xxh32(const void *data, size_t len, uint32_t seed);

typedef struct cas_xxh32_state {
    uint32_t priv_acc[4];
    uint32_t priv_seed;
    uint32_t priv_used;  /* bytes in priv_buf */
    uint64_t priv_total; /* bytes hashed so far */
    uint8_t priv_buf[16];
} cas_xxh32_state;
CAS_API void cas_xxh32_init(cas_xxh32_state *s, uint32_t seed);
CAS_API void cas_xxh32_update(cas_xxh32_state *s, const void *data, size_t len);
/* The hash of everything updated so far; `s` is unchanged and may be updated further. */
CAS_API uint32_t cas_xxh32_final(const cas_xxh32_state *s);

/* ==== >>primitives: LZ4 ================================================================== */

/* LZ4 block and frame formats (lz4 doc/lz4_Block_format.md, doc/lz4_Frame_format.md). Xet chunk
   payloads of schemes 1 and 2 are always LZ4 *frames*; the block functions are the engine.
   Nothing here allocates: the compressor's hash table is a caller struct (or 16 KiB of stack). */

/* The compressor's hash table: 16 KiB. Reusable across calls; contents need no init. */
typedef struct cas_lz4_table {
    union {
        uint32_t u32[4096];
        uint16_t u16[8192];
    } priv;
} cas_lz4_table;

/* Largest block compressed output for n input bytes (LZ4_compressBound). */
CAS_API size_t cas_lz4_block_bound(size_t n);
/* Compresses src[0..n) into one LZ4 block in dst[0..cap), greedy with a hash table, as
   LZ4_compress_fast does. acceleration <= 1 is the default; larger trades ratio for speed.
   `table` may be NULL (16 KiB of stack is then used). The output obeys the block format's end
   rules (the last 5 bytes are literals, the last match starts >= 12 bytes before the end).
   Returns CAS_OK with *out_len, or CAS_E_LIMIT if the block does not fit in cap (cap >=
   cas_lz4_block_bound(n) always fits; a smaller cap is how the frame writer asks "is it
   smaller than n?"), CAS_E_ARGUMENT if n > CAS_LZ4_MAX_INPUT. dst[0..cap) past *out_len may be
   written. */
#define CAS_LZ4_MAX_INPUT 0x7E000000u
CAS_API cas_result cas_lz4_block_compress(const void *src, size_t n, void *dst, size_t cap,
                                          size_t *out_len, int acceleration, cas_lz4_table *table);
/* Decodes the LZ4 block src[0..n) into dst[prefix..cap). dst[0..prefix) is earlier output
   (previous blocks of a linked frame) that matches may copy from; use prefix 0 for an
   independent block. *out_len = bytes decoded (prefix not included).
   Never reads outside src[0..n) or dst[0..cap), never writes outside dst[prefix..cap),
   whatever the input. Accepts what lz4_flex's safe decoder (xet-core's) accepts: the block
   ends right after a literal run, every offset is 1..(bytes before it in dst). The end-of-
   block rules (last 5 bytes literals, last match >= 12 bytes before the end) exist so that
   decoders may skip checks; this one checks everything and does not enforce them. Against
   liblz4 1.9.4's LZ4_decompress_safe (differential test): the same accept set and output,
   except that liblz4 takes offset 0 (refused here: RUSTSEC-2026-0041) and refuses end-rule
   breaks relative to its capacity. Errors: CAS_E_LZ4_BLOCK (corrupt), CAS_E_LIMIT (the
   output would pass cap), CAS_E_ARGUMENT (prefix > cap). src and dst must not overlap.
   dst[prefix..cap) past *out_len holds unspecified bytes (fast copies overshoot inside cap),
   and so does all of it on error. */
CAS_API cas_result cas_lz4_block_decompress(const void *src, size_t n, void *dst, size_t prefix,
                                            size_t cap, size_t *out_len, cas_error *err);

/* LZ4 frame (magic 04 22 4D 18), as xet-core writes it (lz4_flex FrameEncoder defaults):
   FLG 0x60 (version 01, independent blocks, no checksums, no content size), BD 0x40 for
   n <= 64 KiB, 0x50 for n <= 256 KiB, else 0x70 (4 MiB blocks), header checksum, the data
   in blocks of the BD size, each stored uncompressed (size word's high bit) when compression
   does not make it smaller, then the EndMark 00 00 00 00. Empty input: header + EndMark. */
#define CAS_LZ4_FRAME_MAGIC 0x184D2204u
/* Largest frame cas_lz4_frame_compress writes for n input bytes. */
CAS_API size_t cas_lz4_frame_bound(size_t n);
/* Writes the frame of src[0..n) into dst[0..cap); *out_len = its size. CAS_E_LIMIT if it does
   not fit (cap >= cas_lz4_frame_bound(n) always fits), CAS_E_ARGUMENT if n is over
   CAS_LZ4_MAX_INPUT. Uses 16 KiB of stack (the hash table). */
CAS_API cas_result cas_lz4_frame_compress(const void *src, size_t n, void *dst, size_t cap,
                                          size_t *out_len, int acceleration);
/* Decodes exactly one LZ4 frame that must fill src[0..n) into dst[0..cap); *out_len = bytes
   decoded (0 on error). Reads every valid frame: block max 64 KiB..4 MiB, linked or independent
   blocks, compressed or stored blocks, block checksums, content checksum, content size.
   Errors (err->offset = where in src):
     CAS_E_TRUNCATED     src ends inside the frame (the EndMark is required)
     CAS_E_LZ4_MAGIC     not 04 22 4D 18: skippable (0x184D2A5x) and legacy frames included
     CAS_E_LZ4_HEADER    version != 01, a reserved bit set, a dictionary ID (unsupported),
                         block max size id < 4, or a wrong header checksum
     CAS_E_LZ4_BLOCK     a corrupt block, a block bigger than the block max size (stored or
                         decoded)
     CAS_E_LZ4_CHECKSUM  a block or content checksum does not match
     CAS_E_SIZE          the content size field differs from the decoded size
     CAS_E_LIMIT         the decoded data would pass cap (checked before every write: a frame
                         never makes more than cap bytes of work)
     CAS_E_TRAILING      bytes after the frame (another frame, a skippable frame, anything)
   Under CAS_FUZZING or FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION checksums are not verified.
   dst[0..cap) holds unspecified bytes on error. */
CAS_API cas_result cas_lz4_frame_decompress(const void *src, size_t n, void *dst, size_t cap,
                                            size_t *out_len, cas_error *err);

/* ==== >>primitives: BG4 byte grouping ==================================================== */

/* BG4 (xorb.md, xet-core byte_grouping/bg4.rs): group g (0..3) holds the bytes at positions
   = g mod 4, in order; the groups are concatenated; with r = n % 4 the first r groups have one
   byte more (group g has n/4 + (g < r) bytes). dst and src must not overlap. */
CAS_API void cas_bg4_split(const uint8_t *src, size_t n, uint8_t *dst);
/* The inverse of cas_bg4_split: src holds the n bytes of the four groups. */
CAS_API void cas_bg4_regroup(const uint8_t *src, size_t n, uint8_t *dst);
/* The code path in use: "ssse3" / "sse2" / "portable" (split/regroup). */
CAS_API const char *cas_bg4_path(void);

/* xet-core's BG4 predictor (bg4_prediction.rs): a histogram of byte popcounts (0..8) for each
   of the four byte positions mod 4; BG4 is recommended when the largest KL divergence of a
   position's histogram from the pooled one exceeds 0.02. Push any pieces; `offset` of a piece
   is its position in the chunk (only offset % 4 matters). */
typedef struct cas_bg4_predictor {
    uint32_t priv_hist[4][9];
} cas_bg4_predictor;
CAS_API void cas_bg4_predictor_init(cas_bg4_predictor *p);
CAS_API void cas_bg4_predictor_add(cas_bg4_predictor *p, uint64_t offset, const void *data,
                                   size_t n);
/* 1 if BG4+LZ4 is predicted to compress better than LZ4, else 0. */
CAS_API int cas_bg4_predictor_recommends(const cas_bg4_predictor *p);
/* One-shot: the predictor over data[0..n), as xet-core's CompressionScheme::choose_from_data. */
CAS_API int cas_bg4_predict(const void *data, size_t n);

/* ==== >>primitives: chunk compression ==================================================== */

/* Xorb chunk compression schemes: the values a chunk header stores (xorb.md), and what
   cas_chunk_decompress and cas_chunk_header report. */
enum {
    CAS_SCHEME_NONE = 0,
    CAS_SCHEME_LZ4 = 1,
    CAS_SCHEME_BG4_LZ4 = 2
};
/* Compression requests: what a writer is asked to do (cas_chunk_compress,
   cas_chunk_record_encode, cas_xorb_writer_init, cas_upload_desc.compression). 0 is the
   default, LZ4 (xet-core's default), as in every _desc. AUTO is xet-core's choice per chunk
   (the BG4 predictor). A request is never stored: the scheme a chunk ends up with may be NONE
   whatever was asked (compression that does not make it smaller). The values differ from
   the stored schemes on purpose, so that a scheme passed as a request (1, 2) is refused with
   CAS_E_ARGUMENT instead of being misread. */
enum {
    CAS_COMPRESS_DEFAULT = 0,
    CAS_COMPRESS_NONE = 0x10,
    CAS_COMPRESS_LZ4 = 0x11,
    CAS_COMPRESS_BG4_LZ4 = 0x12,
    CAS_COMPRESS_AUTO = 0x13
};

/* Scratch of cas_chunk_compress: the LZ4 hash table and room for a byte-grouped chunk, about
   144 KiB, so better in static or heap storage than on a small stack. No init needed. */
typedef struct cas_chunk_compressor {
    cas_lz4_table priv_table;
    uint8_t priv_grouped[CAS_CHUNK_MAX_SIZE];
} cas_chunk_compressor;

/* Compresses one chunk as xet-core's serialize_chunk does, as `compression` (a CAS_COMPRESS_*
   request; AUTO asks the BG4 predictor: BG4_LZ4 if it recommends, else LZ4); the payload is an LZ4
   frame (cas_lz4_frame_compress, of the byte groups for BG4_LZ4), unless that frame is not
   smaller than the chunk: then the chunk itself is stored with scheme NONE. Writes the payload
   to dst[0..cap), *out_len its size, *scheme_out the scheme to put in the chunk header.
   cap >= n always suffices. CAS_E_ARGUMENT: n > 131072 (CAS_CHUNK_MAX_SIZE) or an unknown
   request; CAS_E_LIMIT: cap < n and the payload does not fit. */
CAS_API cas_result cas_chunk_compress(cas_chunk_compressor *cc, const void *chunk, size_t n, int compression,
                                      void *dst, size_t cap, size_t *out_len, int *scheme_out);
/* Decodes a chunk payload src[0..n) stored with `scheme` into exactly `size` bytes at dst
   (size = the chunk header's uncompressed size, <= 131072). BG4_LZ4 needs `scratch` of size
   bytes (may be NULL for the other schemes). Errors as cas_lz4_frame_decompress, plus
   CAS_E_SIZE when the decoded size differs from `size` (NONE: when n != size) and
   CAS_E_ARGUMENT for an unknown scheme or size > 131072. */
CAS_API cas_result cas_chunk_decompress(const void *src, size_t n, int scheme, void *dst, size_t size,
                                        void *scratch, cas_error *err);

/* ==== >>formats: output sinks ============================================================ */

/* Where a writer's bytes go: a callback, or (write == NULL) a caller buffer buf[0..cap) that
   fills from len (a full buffer is CAS_E_LIMIT, with nothing partially written). The callback
   returns 0, or a negative cas_result that the writer passes back up unchanged. */
typedef struct cas_sink {
    int (*write)(void *user, const void *data, size_t len);
    void *user;
    uint8_t *buf;
    size_t cap;
    size_t len;
} cas_sink;

/* ==== >>formats: xorb ==================================================================== */

/* A xorb (xorb.md) is a sequence of chunk records: an 8-byte header (version 0, compressed
   size u24 LE, scheme, uncompressed size u24 LE) and the payload. Limits enforced here: */
#define CAS_CHUNK_HEADER_SIZE 8
#define CAS_CHUNK_MAX_COMPRESSED 262144u  /* payload bytes of one record */
#define CAS_XORB_MAX_SIZE (64u << 20)     /* serialized bytes of a xorb (what is uploaded) */
#define CAS_XORB_MAX_CHUNKS 8192u

typedef struct cas_chunk_header {
    uint8_t version;
    uint8_t scheme;
    uint32_t compressed_size;
    uint32_t uncompressed_size;
} cas_chunk_header;
/* Parses and validates 8 header bytes: version 0, scheme 0..2, uncompressed size
   1..CAS_CHUNK_MAX_SIZE, compressed size 1..CAS_CHUNK_MAX_COMPRESSED, and for scheme NONE
   compressed == uncompressed. Errors: CAS_E_CHUNK_VERSION, CAS_E_CHUNK_SCHEME,
   CAS_E_CHUNK_SIZE (err->offset = `offset` + the field's position). */
CAS_API cas_result cas_chunk_header_parse(const uint8_t p[CAS_CHUNK_HEADER_SIZE], uint64_t offset,
                                          cas_chunk_header *h, cas_error *err);
CAS_API void cas_chunk_header_write(uint8_t p[CAS_CHUNK_HEADER_SIZE], const cas_chunk_header *h);

/* Encodes one chunk record (header + payload) into dst[0..cap), compressing as `compression`
   asks (a CAS_COMPRESS_* request; stored as NONE when compression does not make it
   smaller). cap >= CAS_CHUNK_HEADER_SIZE + n always suffices. Re-entrant: a host may encode
   records on several threads (one compressor each) and add them with
   cas_xorb_writer_add_record. *scheme_out (may be NULL) = the scheme stored. */
CAS_API cas_result cas_chunk_record_encode(cas_chunk_compressor *cc, const void *chunk, size_t n,
                                           int compression, void *dst, size_t cap, size_t *out_len,
                                           int *scheme_out);

/* What a shard's CAS-info entry needs of each chunk of a xorb. */
typedef struct cas_xorb_chunk {
    cas_hash hash;
    uint32_t offset;          /* byte offset of the chunk's record in the xorb */
    uint32_t record_size;     /* header + payload bytes */
    uint32_t unpacked_offset; /* uncompressed bytes before this chunk */
    uint32_t size;            /* uncompressed bytes */
} cas_xorb_chunk;

/* Incremental xorb writer: add chunks; each is compressed and its record written to the sink
   at once. Tracks every chunk (cas_xorb_writer_chunks) and refuses to pass the limits. */
typedef struct cas_xorb_writer {
    cas_allocator priv_alloc;
    cas_sink *priv_sink;
    cas_chunk_compressor *priv_cc; /* ~144 KiB, allocated at init */
    uint8_t *priv_record;          /* one encoded record */
    cas_xorb_chunk *priv_chunks;
    uint32_t priv_count;
    size_t priv_cap;
    uint64_t priv_size;     /* record bytes written */
    uint64_t priv_unpacked; /* uncompressed bytes added */
    int priv_compression;
    int priv_finished;
    uint32_t priv_schemes[3]; /* chunks stored per scheme */
    cas_error error;          /* sticky: the first error, with its detail */
} cas_xorb_writer;
/* compression: a CAS_COMPRESS_* request (0: LZ4; AUTO: xet-core's choice per chunk). Allocates
   the compressor scratch and the chunk table (grown as chunks are added; at most
   CAS_XORB_MAX_CHUNKS entries of 48 bytes) through `alloc` (NULL = malloc). The writer
   writes through `sink`, which must outlive it (a buffer sink's len grows as it writes). */
CAS_API cas_result cas_xorb_writer_init(const cas_allocator *alloc, cas_xorb_writer *w, int compression,
                                        cas_sink *sink);
/* 1 if a chunk of n bytes is certain to fit: one more chunk under CAS_XORB_MAX_CHUNKS and its
   record, at worst stored uncompressed (8 + n bytes), under CAS_XORB_MAX_SIZE. */
CAS_API int cas_xorb_writer_fits(const cas_xorb_writer *w, size_t n);
/* Compresses and writes one chunk. `hash` may be NULL (it is then computed). CAS_E_XORB_LIMIT
   when the chunk does not fit (nothing is written: start a new xorb), CAS_E_CHUNK_SIZE for
   n == 0 or n > CAS_CHUNK_MAX_SIZE, or the sink's error. */
CAS_API cas_result cas_xorb_writer_add(cas_xorb_writer *w, const void *chunk, size_t n,
                                       const cas_hash *hash);
/* Adds a record made by cas_chunk_record_encode, with the chunk's hash. */
CAS_API cas_result cas_xorb_writer_add_record(cas_xorb_writer *w, const void *record, size_t len,
                                              const cas_hash *hash);
/* Ends the xorb: *xorb_hash = the Merkle hash of its chunks. With `footer`, also writes
   xet-core's storage footer (XETBLOB v1: hashes, record boundaries, unpacked offsets; not
   part of what the CAS upload endpoint takes). xorb_hash may be NULL. */
CAS_API cas_result cas_xorb_writer_finish(cas_xorb_writer *w, int footer, cas_hash *xorb_hash);
CAS_API const cas_xorb_chunk *cas_xorb_writer_chunks(const cas_xorb_writer *w, size_t *count);
/* Record bytes written so far (the xorb's serialized size without footer). */
CAS_API uint64_t cas_xorb_writer_size(const cas_xorb_writer *w);
CAS_API uint64_t cas_xorb_writer_unpacked_size(const cas_xorb_writer *w);
CAS_API void cas_xorb_writer_free(cas_xorb_writer *w);

/* ---- reading ----
   A xorb body, a range segment (what a ranged download returns: whole records from a record
   boundary), or a stored xorb with xet-core's footer. Nothing here allocates. */

/* xet-core's storage footer, located from the last 4 bytes (its length). Versions 0 (legacy:
   boundaries, then hashes, no unpacked offsets), 1 (u32 fields) and 2 (u64 fields) are read.
   The arrays point into the caller's buffer (little-endian, `width` bytes per offset). */
typedef struct cas_xorb_footer {
    uint32_t version;
    uint32_t num_chunks;
    uint64_t offset; /* where the footer starts = the end of the records */
    cas_hash xorb_hash;
    const uint8_t *chunk_hashes;     /* num_chunks x 32 bytes */
    const uint8_t *record_ends;      /* num_chunks x width: end of each record */
    const uint8_t *unpacked_ends;    /* num_chunks x width, NULL in version 0 */
    uint32_t width;                  /* 4 or 8 */
} cas_xorb_footer;
/* CAS_OK and *f if data[0..len) ends with a valid footer; CAS_END if it has none (its last
   bytes do not describe one, so the data is taken as records only); CAS_E_XORB_FOOTER if
   the footer's own fields are inconsistent (err->offset says where). */
CAS_API cas_result cas_xorb_footer_find(const uint8_t *data, size_t len, cas_xorb_footer *f,
                                        cas_error *err);
/* One record's offset (of the footer table), for i < num_chunks. */
CAS_API uint64_t cas_xorb_footer_record_end(const cas_xorb_footer *f, uint32_t i);

/* Iterates the records of data[0..len): call with *pos = 0 and repeat. CAS_OK: *h and
   *payload (h->compressed_size bytes) describe the record at the old *pos, and *pos moved
   past it. CAS_END: *pos == len, or the 7 bytes at *pos are "XETBLOB" (a footer begins).
   Errors: the header's (cas_chunk_header_parse), CAS_E_TRUNCATED if the record passes len. */
CAS_API cas_result cas_xorb_next(const uint8_t *data, size_t len, size_t *pos, cas_chunk_header *h,
                                 const uint8_t **payload, cas_error *err);

/* Walks a whole xorb or segment: every record is parsed and decoded into `scratch` (2 x
   CAS_CHUNK_MAX_SIZE bytes, caller-provided; a stored chunk is not copied: its bytes are
   handed out where they lie in `data`), its hash computed, and on_chunk (may be NULL)
   called with the chunk index, record offset, header, decoded bytes and hash; a non-zero
   return stops the walk with that value. The record area ends at the footer when one is
   found: its chunk count, record ends, unpacked offsets, chunk hashes and xorb hash must all
   agree with the records (CAS_E_XORB_FOOTER / CAS_E_HASH). Limits: at most
   CAS_XORB_MAX_CHUNKS records and CAS_XORB_MAX_SIZE bytes (CAS_E_XORB_LIMIT). Bytes that
   are not a whole record are CAS_E_TRUNCATED. *info receives the chunk count, sizes and the
   xorb hash of the chunks seen (of a segment too: the hash of its chunks). */
typedef struct cas_xorb_info {
    uint32_t num_chunks;
    uint64_t records_size;  /* bytes of records (the footer excluded) */
    uint64_t unpacked_size; /* decoded bytes */
    int has_footer;
    cas_hash xorb_hash;     /* Merkle hash of the chunks */
} cas_xorb_info;
typedef int (*cas_xorb_chunk_fn)(void *user, uint32_t index, uint64_t offset,
                                 const cas_chunk_header *h, const uint8_t *data,
                                 const cas_hash *hash);
CAS_API cas_result cas_xorb_walk(const uint8_t *data, size_t len, uint8_t *scratch,
                                 cas_xorb_chunk_fn on_chunk, void *user, cas_xorb_info *info,
                                 cas_error *err);

/* Streaming reader: push a xorb body or segment in any piece sizes; decoded chunks come out
   one at a time. Memory: one record (<= 8 + 262144 bytes) + one decoded chunk + BG4 scratch,
   allocated at init (~512 KiB), whatever the input. A footer ("XETBLOB") ends the records; its
   bytes are checked only for their length field (use cas_xorb_walk to check a stored xorb). */
typedef struct cas_xorb_stream {
    cas_allocator priv_alloc;
    uint8_t *priv_buf;     /* record being collected */
    uint8_t *priv_out;     /* decoded chunk */
    uint8_t *priv_scratch; /* BG4 */
    size_t priv_have;      /* bytes of the current record collected */
    size_t priv_need;      /* bytes the current record needs (8 until the header is read) */
    uint64_t priv_offset;  /* stream offset of the current record */
    uint32_t priv_index;
    int priv_in_footer;
    cas_error error; /* sticky */
} cas_xorb_stream;
/* What cas_xorb_stream_push hands out: valid until the next push, and while the bytes you
   pushed are (a stored chunk that lay whole in them is handed out where it lies). */
typedef struct cas_xorb_stream_chunk {
    uint32_t index;
    uint64_t offset; /* record offset in the stream */
    cas_chunk_header header;
    const uint8_t *data; /* header.uncompressed_size decoded bytes */
} cas_xorb_stream_chunk;
CAS_API cas_result cas_xorb_stream_init(const cas_allocator *alloc, cas_xorb_stream *s);
/* Consumes bytes of data[0..len) (*consumed says how many). CAS_READY: a chunk was decoded
   into *out (call again with the rest); CAS_NEED_INPUT: all bytes consumed, no chunk
   completed; or an error (sticky). */
CAS_API cas_result cas_xorb_stream_push(cas_xorb_stream *s, const void *data, size_t len,
                                        size_t *consumed, cas_xorb_stream_chunk *out);
/* End of input: CAS_OK at a record boundary, CAS_E_TRUNCATED inside a record. */
CAS_API cas_result cas_xorb_stream_finish(cas_xorb_stream *s);
CAS_API void cas_xorb_stream_free(cas_xorb_stream *s);

/* ==== >>formats: shard =================================================================== */

/* MDB shards (shard.md): a 48-byte header, the file-info section (one block per file
   reconstruction, then a bookend), the CAS-info section (one block per xorb, then a bookend),
   and, in the full form, three lookup tables and a 200-byte footer. All integers are little-
   endian; every entry is 48 bytes. The footer layout is xet-core's MDBShardFileFooter
   (xet_core_structures/src/metadata_shard/shard_format.rs), not shard.md's simplified table:
     +0 version (1)           +8 file_info_offset      +16 xorb_info_offset
     +24 file_lookup_offset   +32 file_lookup_count    +40 xorb_lookup_offset
     +48 xorb_lookup_count    +56 chunk_lookup_offset  +64 chunk_lookup_count
     +72 chunk_hash_hmac_key (32 bytes)   +104 creation time   +112 key expiry
     +120 6 reserved u64      +168 stored_bytes_on_disk   +176 materialized_bytes
     +184 stored_bytes        +192 footer_offset
   The lookup tables sit between the CAS-info bookend and the footer: file lookup (u64 key,
   u32 index) x count, xorb lookup (u64 key, u32 index) x count, chunk lookup (u64 key, u32 xorb
   index, u32 chunk index) x count. A key is a hash's first 8 bytes as a little-endian u64; an
   index counts 48-byte entries from the start of its section. Tables are sorted by key.

   Reading and writing allocate through a cas_allocator; parsed shards own their memory and are
   released with cas_shard_free. Nothing here does I/O or reads a clock. */
#define CAS_SHARD_HEADER_SIZE 48
#define CAS_SHARD_FOOTER_SIZE 200
#define CAS_SHARD_ENTRY_SIZE 48
/* The largest shard read or written (upload-protocol.md: split content into several shards). */
#define CAS_SHARD_MAX_SIZE (64u * 1024u * 1024u)
/* FileDataSequenceHeader.file_flags bits. Other bits are kept but have no meaning. */
#define CAS_SHARD_FILE_VERIFICATION 0x80000000u /* one verification entry per term follows */
#define CAS_SHARD_FILE_METADATA_EXT 0x40000000u /* a FileMetadataExt (SHA-256) ends the block */
/* CASChunkSequenceEntry flags bit: the chunk may be offered to global dedup (xet-core sets it
   on the first chunk of each file). */
#define CAS_SHARD_CHUNK_GLOBAL_DEDUP 0x80000000u

/* One term of a file reconstruction: chunks [chunk_start, chunk_end) of a xorb. */
typedef struct cas_shard_term {
    cas_hash xorb_hash;
    uint32_t xorb_flags;     /* cas_flags, reserved: 0 */
    uint32_t unpacked_bytes; /* the term's size once decoded */
    uint32_t chunk_start;
    uint32_t chunk_end;      /* exclusive */
    cas_hash verification;   /* the term verification hash (cas_verification_hash) */
} cas_shard_term;

typedef struct cas_shard_file {
    cas_hash file_hash;
    uint32_t flags;          /* CAS_SHARD_FILE_* as stored */
    uint32_t num_terms;
    cas_shard_term *terms;
    int has_sha256;
    uint8_t sha256[32];      /* the file's SHA-256 digest, in the usual byte order */
    uint64_t size;           /* the sum of the terms' unpacked_bytes (reader output) */
    uint64_t offset;         /* where its FileDataSequenceHeader starts (reader output) */
} cas_shard_file;

/* One chunk of a xorb's CAS info. */
typedef struct cas_shard_chunk {
    cas_hash hash;           /* as stored: HMAC(chunk hash, key) in a keyed shard */
    uint32_t byte_start;     /* offset of the chunk in the xorb's unpacked bytes */
    uint32_t unpacked_bytes;
    uint32_t flags;          /* CAS_SHARD_CHUNK_GLOBAL_DEDUP */
} cas_shard_chunk;

typedef struct cas_shard_xorb {
    cas_hash xorb_hash;
    uint32_t flags;          /* cas_flags, reserved: 0 */
    uint32_t num_chunks;
    uint32_t bytes_in_xorb;  /* num_bytes_in_cas: the sum of the chunks' unpacked bytes */
    uint32_t bytes_on_disk;  /* the serialized xorb's length */
    cas_shard_chunk *chunks;
    uint64_t offset;         /* where its CASChunkSequenceHeader starts (reader output) */
} cas_shard_xorb;

typedef struct cas_shard_footer {
    uint64_t version;
    uint64_t file_info_offset, xorb_info_offset;
    uint64_t file_lookup_offset, file_lookup_count;
    uint64_t xorb_lookup_offset, xorb_lookup_count;
    uint64_t chunk_lookup_offset, chunk_lookup_count;
    cas_hash hmac_key;       /* all zeros: chunk hashes are stored as they are */
    uint64_t creation_time;  /* seconds since the epoch */
    uint64_t key_expiry;     /* seconds since the epoch; 0 and UINT64_MAX: never */
    uint64_t reserved[6];
    uint64_t stored_bytes_on_disk, materialized_bytes, stored_bytes;
    uint64_t footer_offset;
} cas_shard_footer;

/* A parsed shard. Read the public fields; files[i].terms and xorbs[i].chunks point into
   memory the shard owns. Free with cas_shard_free. */
typedef struct cas_shard {
    uint64_t size;           /* bytes read */
    uint64_t footer_size;    /* the header's field: 0 or 200 */
    int has_footer;          /* 0: upload form (or footer_size 200 without a footer, as early
                                xet-core wrote upload shards) */
    cas_shard_footer footer; /* all zeros without a footer */
    int keyed;               /* the footer's HMAC key is not zero */
    size_t num_files, num_terms, num_xorbs, num_chunks;
    cas_shard_file *files;
    cas_shard_xorb *xorbs;
    cas_allocator priv_alloc;
    cas_shard_term *priv_terms;
    cas_shard_chunk *priv_chunks;
    size_t priv_cap_files, priv_cap_terms, priv_cap_xorbs, priv_cap_chunks;
    uint64_t *priv_file_order; /* file indices sorted by hash */
    uint64_t *priv_xorb_order; /* xorb indices sorted by hash */
    uint64_t *priv_chunk_order; /* xorb << 32 | chunk, sorted by stored chunk hash */
} cas_shard;

/* Parses the shard data[0..len) with random access: the footer's offsets bound each section.
   Checks (err->offset = where): header tag and version 2, footer_size 0 or 200, footer version
   1 with offsets that match the sections (file info at 48, xorb info after its bookend, the
   lookup tables' chain, footer_offset = len - 200), bookends of 32 0xFF + 16 zero bytes, every
   entry count against the bytes present (before anything is allocated for it), term ranges
   start < end <= 8192 with 1 <= unpacked_bytes <= 128 KiB per chunk, verification entries on
   every file or on none, xorbs of <= 8192 chunks of 1..128 KiB each whose byte_start run
   contiguously from 0 to bytes_in_xorb, lookup tables that are empty or list every file /
   xorb / chunk once, sorted by key. Unknown flag bits and reserved bytes are not checked.
   Errors: CAS_E_TRUNCATED, CAS_E_TRAILING (bytes after the CAS bookend of a footerless shard),
   CAS_E_SHARD_HEADER, CAS_E_SHARD_FOOTER, CAS_E_SHARD_SECTION, CAS_E_SHARD_ENTRY,
   CAS_E_SHARD_LOOKUP, CAS_E_SHARD_TOO_LARGE (over CAS_SHARD_MAX_SIZE), CAS_E_NOMEM.
   On error *out is empty (nothing to free). */
CAS_API cas_result cas_shard_parse(const cas_allocator *alloc, const void *data, size_t len,
                                   cas_shard *out, cas_error *err);
/* Releases what the shard owns and empties it. Safe on an empty or zeroed shard. */
CAS_API void cas_shard_free(cas_shard *s);

/* Sequential reader: push the bytes in pieces of any size, as a network body arrives, then
   finish. The result and the checks are those of cas_shard_parse. Memory grows with the bytes
   received (never with what a count claims); the tail after the CAS bookend (lookup tables +
   footer) is kept until finish. An error is sticky. */
typedef struct cas_shard_reader {
    cas_shard priv_shard;
    uint8_t priv_rec[CAS_SHARD_ENTRY_SIZE];
    uint32_t priv_used;      /* bytes in priv_rec */
    int priv_state;
    int priv_error;
    cas_error priv_err;
    uint64_t priv_pos;       /* bytes consumed */
    uint64_t priv_left;      /* entries left in the current block's current part */
    uint64_t priv_sum;       /* running chunk byte offset of the current xorb */
    int priv_verification;   /* -1 unknown, else whether files carry verification */
    uint64_t priv_cas_start, priv_cas_end;
    uint8_t *priv_tail;
    size_t priv_tail_len, priv_tail_cap;
} cas_shard_reader;
CAS_API void cas_shard_reader_init(const cas_allocator *alloc, cas_shard_reader *r);
/* CAS_OK, or the error (also on every later call). */
CAS_API cas_result cas_shard_reader_push(cas_shard_reader *r, const void *data, size_t len,
                                         cas_error *err);
/* End of input: moves the parsed shard into *out (which the caller frees) and resets r.
   On error *out is empty; call cas_shard_reader_free in either case to release r. */
CAS_API cas_result cas_shard_reader_finish(cas_shard_reader *r, cas_shard *out, cas_error *err);
CAS_API void cas_shard_reader_free(cas_shard_reader *r);

/* ---- lookups ---- */

/* The first file (lowest index) with this hash, or NULL. */
CAS_API const cas_shard_file *cas_shard_find_file(const cas_shard *s, const cas_hash *file_hash);
/* The first xorb with this hash, or NULL. */
CAS_API const cas_shard_xorb *cas_shard_find_xorb(const cas_shard *s, const cas_hash *xorb_hash);

/* 1 if the shard's key has expired at `now` (seconds since the epoch): footer key_expiry <
   now. Such a shard must not be used for dedup. A shard without footer, key_expiry 0 (HF's
   JS writer, xet-core's minimal shards) and UINT64_MAX (xet-core's default) never expire. */
CAS_API int cas_shard_expired(const cas_shard *s, uint64_t now);

typedef struct cas_shard_chunk_match {
    size_t xorb;             /* index in s->xorbs */
    uint32_t chunk;          /* chunk index in that xorb */
    cas_hash xorb_hash;
    uint32_t byte_start, byte_end; /* the chunk's unpacked byte range in the xorb */
    int expired;             /* cas_shard_expired(s, now): do not dedup against it */
} cas_shard_chunk_match;
/* Finds a raw chunk hash: in a keyed shard the stored hashes are HMAC(chunk hash, key), so
   the query is keyed with cas_hash_hmac first. Returns how many chunks match (several xorbs
   may hold one chunk) and writes the first min(that, cap) to out, ordered by xorb index then
   chunk index. */
CAS_API size_t cas_shard_find_chunk(const cas_shard *s, const cas_hash *chunk_hash, uint64_t now,
                                    cas_shard_chunk_match *out, size_t cap);

/* ---- chunk hashes of xorbs, for verification hashes ---- */

/* Writes the chunks [start, end) of xorb `xorb_hash` (hash and unpacked size each) to
   out[0..end-start); end - start <= 128. Returns CAS_OK, CAS_E_SHARD_NO_CHUNKS when it does not
   know that xorb or range, or any other error (which stops the caller and is returned). */
typedef int (*cas_shard_chunks_fn)(void *user, const cas_hash *xorb_hash, uint32_t start,
                                   uint32_t end, cas_chunk *out);

/* Checks each term of each file with verification entries: its verification hash against the
   chunk hashes of its range, and unpacked_bytes against their sizes. The chunks come from
   `chunks` (may be NULL) when it knows the xorb, else from this shard's own CAS info when it
   lists the xorb (not in a keyed shard, whose hashes are HMACs). *checked / *unchecked (may be NULL) count the terms
   checked and those whose chunks nobody knew. Errors: CAS_E_SHARD_VERIFICATION (offset = the
   verification entry), CAS_E_SHARD_ENTRY (the range passes the xorb's end or the sizes differ;
   offset = the term), or the callback's error. */
CAS_API cas_result cas_shard_check_terms(const cas_shard *s, cas_shard_chunks_fn chunks, void *user,
                                         size_t *checked, size_t *unchecked, cas_error *err);

/* ---- writer ---- */

enum {
    /* The full form: lookup tables and the 200-byte footer, footer_size 200. Without it: the
       upload form that POST /v1/shards takes (footer_size 0, nothing after the CAS bookend). */
    CAS_SHARD_WITH_FOOTER = 1,
    /* Files and xorbs in hash order (xet-core's BTreeMap order: four little-endian u64 words
       compared in turn), as xet-core's serialize_from writes them; else in the given order.
       Duplicates are kept. */
    CAS_SHARD_SORTED = 2,
    /* Store HMAC(chunk hash, hmac_key) instead of each chunk hash (what a server does to a
       dedup shard); without it the chunk hashes are written as given. */
    CAS_SHARD_KEY_CHUNKS = 4,
    /* Set CAS_SHARD_CHUNK_GLOBAL_DEDUP on each listed chunk that starts a file's first term,
       as xet-core's upload shards do. */
    CAS_SHARD_MARK_FILE_STARTS = 8
};

typedef struct cas_shard_write_desc {
    unsigned flags;          /* CAS_SHARD_* above */
    uint64_t creation_time;  /* footer only; seconds since the epoch */
    uint64_t key_expiry;     /* footer only; 0 or UINT64_MAX for none (see cas_shard_expired) */
    cas_hash hmac_key;       /* footer only; zeros: not keyed */
    cas_shard_chunks_fn chunks; /* chunk hashes of xorbs not described in this shard */
    void *chunks_user;
} cas_shard_write_desc;

/* Fills x from what a cas_xorb_writer reports (cas_xorb_writer_chunks): each chunk's hash and
   size, byte_start = its unpacked_offset; bytes_in_xorb = their sum, bytes_on_disk =
   `serialized_size` (cas_xorb_writer_size). x->chunks = storage[0..n), which the caller
   provides. CAS_E_ARGUMENT if n is 0 or over CAS_XORB_MAX_CHUNKS, a size is 0 or over 128 KiB,
   the offsets are not the running sums, or serialized_size does not fit in 32 bits. */
CAS_API cas_result cas_shard_xorb_from_chunks(cas_shard_xorb *x, const cas_hash *xorb_hash,
                                              const cas_xorb_chunk *chunks, size_t n,
                                              uint64_t serialized_size, cas_shard_chunk *storage);

/* Serializes files[0..num_files) and xorbs[0..num_xorbs) to `sink` (a NULL desc means upload
   form, given order, no callback). Every file gets a verification entry per term: a file whose
   flags have CAS_SHARD_FILE_VERIFICATION keeps its terms' `verification` as given (a parsed
   file round-trips byte for byte); otherwise the hash is computed from the chunks of the
   term's range, taken from `xorbs` when it lists that xorb (and its hashes are raw: no key, or
   CAS_SHARD_KEY_CHUNKS) or else from desc->chunks; the sizes must then add up to the term's
   unpacked_bytes. A file with has_sha256 gets the FileMetadataExt and its flag, and only
   then. Each chunk's byte_start is written as given, and must equal the sum of the unpacked
   sizes before it. Input fields `size` and `offset` are ignored. Everything is checked, and
   the verification hashes computed, before the first byte goes out. *written (may be NULL) =
   the shard's size.
   Errors: CAS_E_ARGUMENT (an entry the reader would refuse: see cas_shard_parse; err->what
   says which), CAS_E_SHARD_NO_CHUNKS (a term's chunk hashes are unknown), CAS_E_SHARD_TOO_LARGE
   (the shard would pass CAS_SHARD_MAX_SIZE: split the files; nothing was written), CAS_E_LIMIT
   (a buffer sink is too small; nothing was written), CAS_E_NOMEM, or the sink callback's
   value. err->offset = the output offset of the offending entry. */
CAS_API cas_result cas_shard_write(const cas_allocator *alloc, const cas_shard_file *files,
                                   size_t num_files, const cas_shard_xorb *xorbs,
                                   size_t num_xorbs, const cas_shard_write_desc *desc,
                                   cas_sink *sink, uint64_t *written, cas_error *err);
/* The exact size cas_shard_write would produce (it depends on the counts, the SHA-256s and
   CAS_SHARD_WITH_FOOTER only), so a caller can split before writing. CAS_OK, or
   CAS_E_SHARD_TOO_LARGE with *size = the first size found over the limit. */
CAS_API cas_result cas_shard_write_size(const cas_shard_file *files, size_t num_files,
                                        const cas_shard_xorb *xorbs, size_t num_xorbs, unsigned flags,
                                        uint64_t *size);

/* ==== >>formats: JSON ==================================================================== */

/* A strict RFC 8259 reader (ours: no dependency) and, on top of it, the protocol's JSON
   responses as plain C structs. Untrusted input throughout, hence:
     - iterative: no recursion anywhere, and an explicit nesting limit that holds for skipped
       (unknown) values too;
     - bounded: body, nesting depth and every string's decoded length have limits, each its
       own error; memory is allocated from what was actually parsed (a first pass counts, a
       second fills one block), never from a size or count the input declares;
     - stricter than serde_json where strictness is cheap: see "Deviations" below.
   Errors: every reader and parser reports a cas_error whose offset is the byte offset in the
   JSON text (after zstd decompression when the body was compressed) and whose `what` names
   the field, e.g. "terms[].range.end: not a plain integer ...". Codes:
     CAS_E_JSON_SYNTAX  not JSON: unexpected byte, missing ',' ':' or value, trailing comma,
                        bytes after the value, a byte order mark
     CAS_E_TRUNCATED    the text ends inside a value
     CAS_E_JSON_DEPTH   more than max_depth open arrays/objects
     CAS_E_JSON_STRING  invalid UTF-8 (overlong, surrogate, > U+10FFFF), a control character,
                        a bad escape, a lone surrogate escape, or \u0000
     CAS_E_JSON_NUMBER  a number against the grammar (leading zero, "1.", "-", ...), or an
                        integer field that is not plain digits or is out of its type's range
     CAS_E_JSON_LIMIT   the body or a string is over its limit
     CAS_E_JSON_SCHEMA  a required field missing, a field twice, a value of the wrong type, a
                        map key twice
     CAS_E_HEX          a hash string that is not exactly 64 lower-case hex digits
     CAS_E_JSON_VALUE   a well-formed value the protocol forbids (empty chunk range, bytes
                        start > end, empty or non-http(s) URL, a term no fetch entry covers, ...)
   Deviations from serde_json/xet-core, on purpose (tests/test_json.c has a case for each):
     - duplicate keys in a known object are an error (serde agrees for struct fields); a
       duplicate map key (the same xorb or file hash twice) is an error too, where serde's
       HashMap keeps the last: CAS_JSON_LAST_WINS restores that;
     - hashes must be lower case (the spec; xet-core takes either: CAS_JSON_HEX_ANY_CASE)
       and must not contain escapes;
     - \u0000 is refused in every string (our strings are C strings);
     - a byte order mark is refused (RFC 8259 lets parsers ignore it; serde refuses it too);
     - the reconstruction's cross-field rules (below) are checked; xet-core checks few. */

/* Defaults of cas_json_desc (a zero field means its default). */
#define CAS_JSON_MAX_BODY ((uint64_t)64 << 20) /* JSON text, after zstd decompression */
#define CAS_JSON_MAX_DEPTH 32                  /* open containers; the schemas need 7 */
#define CAS_JSON_MAX_STRING 16384              /* decoded bytes of any string (URLs: v2 splits
                                                  its URLs at about 8 KiB) */
#define CAS_JSON_MAX_TOKEN 64000               /* accessToken and casUrl (auth.md's bound) */
#define CAS_JSON_DEPTH_CAP 1024                /* the largest max_depth a reader can track */

/* flags */
#define CAS_JSON_LAST_WINS 1u    /* a map key seen twice: keep the last (serde's HashMap) */
#define CAS_JSON_HEX_ANY_CASE 2u /* accept upper-case hex digits in hashes (xet-core does) */

typedef struct cas_json_desc {
    uint64_t max_body;
    uint32_t max_depth;  /* 1 .. CAS_JSON_DEPTH_CAP */
    uint32_t max_string;
    uint32_t max_token;  /* cas_xet_token_parse only; raises max_string there if larger */
    unsigned flags;
} cas_json_desc;

/* ---- the pull reader ---- */

typedef enum cas_json_type {
    CAS_JSON_END = 0,    /* the value is complete and only whitespace followed it */
    CAS_JSON_OBJECT,     /* '{' */
    CAS_JSON_OBJECT_END, /* '}' */
    CAS_JSON_ARRAY,      /* '[' */
    CAS_JSON_ARRAY_END,  /* ']' */
    CAS_JSON_KEY,        /* a member name (a string); the ':' after it is consumed */
    CAS_JSON_STRING,
    CAS_JSON_NUMBER,
    CAS_JSON_TRUE,
    CAS_JSON_FALSE,
    CAS_JSON_NULL
} cas_json_type;

typedef struct cas_json_token {
    int type;           /* cas_json_type */
    uint32_t depth;     /* containers open around the token ('{' and its '}' share a depth) */
    uint64_t offset;    /* of the token's first byte (a string's opening quote) */
    const uint8_t *raw; /* string/key: the bytes between the quotes, escapes not decoded;
                           number: the literal; else NULL */
    size_t raw_len;
    size_t len;         /* string/key: bytes after decoding escapes (<= raw_len) */
    int escaped;        /* string/key: it contains at least one backslash escape */
} cas_json_token;

/* One JSON text in memory, read token by token. Every string is fully validated when read
   (skipped ones too), so cas_json_string cannot fail on a token the reader returned. */
typedef struct cas_json_reader {
    const uint8_t *priv_p;
    size_t priv_len, priv_pos;
    uint32_t priv_depth, priv_max_depth, priv_max_string;
    int priv_state;
    uint32_t priv_stack[CAS_JSON_DEPTH_CAP / 32]; /* bit set: that level is an object */
    cas_error error;                              /* sticky: the first error */
} cas_json_reader;

/* `desc` may be NULL. CAS_E_ARGUMENT if desc->max_depth > CAS_JSON_DEPTH_CAP; CAS_E_JSON_LIMIT
   if len > max_body. The text must outlive the reader and the tokens. */
CAS_API cas_result cas_json_reader_init(cas_json_reader *r, const void *json, size_t len,
                                        const cas_json_desc *desc);
/* The next token: CAS_OK; CAS_END (t->type == CAS_JSON_END) once the top-level value is
   complete and nothing but whitespace follows; or an error (sticky, in r->error). */
CAS_API cas_result cas_json_next(cas_json_reader *r, cas_json_token *t);
/* After cas_json_next returned a value token t: skips the rest of that value (for '{' or
   '[', up to its matching end; nothing for a scalar). Iterative; depth-limited as usual. */
CAS_API cas_result cas_json_skip(cas_json_reader *r, const cas_json_token *t);
/* Decodes a string or key token into dst[0..cap) with a NUL after it; cap >= t->len + 1.
   CAS_E_LIMIT if cap is smaller, CAS_E_ARGUMENT if t is not a string or key. */
CAS_API cas_result cas_json_string(const cas_json_token *t, char *dst, size_t cap);
/* A number token that is a plain integer (digits only: no sign, fraction or exponent; the
   reader already refused leading zeros) and <= max, into *v. CAS_E_JSON_NUMBER otherwise
   (CAS_E_ARGUMENT if t is not a number). */
CAS_API cas_result cas_json_uint(const cas_json_token *t, uint64_t max, uint64_t *v);
/* 1 if the string or key token decodes to exactly the NUL-terminated `s`. */
CAS_API int cas_json_equals(const cas_json_token *t, const char *s);

/* ---- reconstruction responses ---- */

/* One byte range of a xorb and the chunks in it. */
typedef struct cas_recon_range {
    uint32_t chunk_start, chunk_end; /* chunk indices [start, end): start < end <= 8192 */
    uint64_t byte_start, byte_end;   /* [start, end], both inclusive (the HTTP Range); the
                                        records of the chunks: 9..262152 bytes per chunk,
                                        end < 64 MiB */
} cas_recon_range;

/* One signed URL and the ranges it authorizes (v2 XorbMultiRangeFetch; a v1 fetch_info
   entry is one of these with exactly one range). */
typedef struct cas_recon_fetch {
    const char *url;                /* NUL-terminated; "http://" or "https://", then visible
                                       ASCII only (it goes into a request line as is) */
    size_t url_len;
    const cas_recon_range *ranges;  /* >= 1, ascending chunk_start, neither chunks nor bytes
                                       overlapping */
    size_t num_ranges;
} cas_recon_fetch;

typedef struct cas_recon_xorb {
    cas_hash hash;
    const cas_recon_fetch *fetches;
    size_t num_fetches;
    uint64_t priv_offset; /* of its key in the JSON text */
} cas_recon_xorb;

typedef struct cas_recon_term {
    cas_hash hash;             /* the xorb */
    uint32_t chunk_start, chunk_end; /* [start, end): start < end <= 8192 */
    uint64_t unpacked_length;  /* decoded bytes of the chunks: (end - start) .. 131072 x that */
    /* Where its chunks come from, found by the parser: xorbs[xorb].fetches[fetch]
       .ranges[range] contains [chunk_start, chunk_end). */
    uint32_t xorb, fetch, range;
    uint64_t priv_offset;      /* of the term's '{' in the JSON text */
} cas_recon_term;

/* QueryReconstructionResponse: v2 (GET /v2/reconstructions, "xorbs") or v1 (GET
   /v1/reconstructions, "fetch_info"), in one shape. Besides the syntax and the types, the
   parser enforces: every term is covered by one range of its xorb's fetch entries (it fills
   term.xorb/fetch/range), offset_into_first_range < terms[0].unpacked_length (0 if there
   are no terms), and the per-field rules noted in the structs above. */
typedef struct cas_recon {
    int version;                      /* 1 or 2 */
    uint64_t offset_into_first_range; /* bytes of the first term to skip */
    const cas_recon_term *terms;      /* in file order */
    size_t num_terms;
    const cas_recon_xorb *xorbs;      /* sorted by hash: see cas_recon_find_xorb */
    size_t num_xorbs;
    cas_allocator priv_alloc;
    void *priv_block;
    size_t priv_size;
} cas_recon;

/* Parses the response body[0..len) of the given API `version` (2: "xorbs", 1: "fetch_info";
   the other map, if present, is skipped as an unknown field). A body that starts with the
   zstd frame magic is decompressed first (Content-Encoding: zstd; window <= 8 MiB, output <=
   max_body; the decompression buffer grows from 64 KiB as output actually appears).
   Allocates through `alloc` (NULL: malloc): one block for the result (strings are copied:
   the body may be freed at once), plus transient buffers. On error *out is zeroed and nothing
   stays allocated. `desc` and `err` may be NULL. Both passes of ~200 MB/s on one core: a
   60 MB manifest (400k terms) parses and checks in 0.3 s.
   Errors: the list above, CAS_E_ZSTD, CAS_E_NOMEM, CAS_E_UNSUPPORTED (a gzip body, or zstd
   under CAS_NO_ZSTD), CAS_E_ARGUMENT (version not 1 or 2). */
CAS_API cas_result cas_recon_parse(const cas_allocator *alloc, const void *body, size_t len, int version,
                                   const cas_json_desc *desc, cas_recon *out, cas_error *err);
CAS_API void cas_recon_free(cas_recon *r);
/* The xorb with that hash, or NULL (binary search). */
CAS_API const cas_recon_xorb *cas_recon_find_xorb(const cas_recon_xorb *xorbs, size_t n,
                                                  const cas_hash *hash);

/* BatchQueryReconstructionResponse (POST /v1/reconstructions): "files" maps a file hash to
   its terms; "fetch_info" (v1 entries) is shared by all files. Checked as cas_recon. */
typedef struct cas_recon_file {
    cas_hash hash;
    const cas_recon_term *terms;
    size_t num_terms;
    uint64_t priv_offset;
} cas_recon_file;

typedef struct cas_recon_batch {
    const cas_recon_file *files;  /* sorted by hash: see cas_recon_batch_find_file */
    size_t num_files;
    const cas_recon_xorb *xorbs;  /* sorted by hash */
    size_t num_xorbs;
    cas_allocator priv_alloc;
    void *priv_block;
    size_t priv_size;
} cas_recon_batch;

CAS_API cas_result cas_recon_batch_parse(const cas_allocator *alloc, const void *body, size_t len,
                                         const cas_json_desc *desc, cas_recon_batch *out,
                                         cas_error *err);
CAS_API void cas_recon_batch_free(cas_recon_batch *b);
CAS_API const cas_recon_file *cas_recon_batch_find_file(const cas_recon_batch *b,
                                                        const cas_hash *hash);

/* ---- the Hub's Xet token (GET /api/{type}s/{repo}/xet-{read|write}-token/{rev}) ---- */

typedef struct cas_xet_token {
    const char *access_token; /* NUL-terminated; non-empty, visible ASCII (it goes into an
                                 Authorization header as is) */
    size_t access_token_len;
    int64_t exp;              /* unix seconds, 0 .. INT64_MAX */
    const char *cas_url;      /* NUL-terminated; "http://" or "https://", visible ASCII */
    size_t cas_url_len;
    cas_allocator priv_alloc;
    void *priv_block;
    size_t priv_size;
} cas_xet_token;

/* {"accessToken", "exp", "casUrl"} (all required; others skipped). Strings up to max_token
   bytes (default 64000). Same conventions as cas_recon_parse. */
CAS_API cas_result cas_xet_token_parse(const cas_allocator *alloc, const void *body, size_t len,
                                       const cas_json_desc *desc, cas_xet_token *out, cas_error *err);
CAS_API void cas_xet_token_free(cas_xet_token *t);

/* ---- upload responses (POST /v1/xorbs, POST /v1/shards, POST /v2/shards) ----
   Same conventions as cas_recon_parse: strict syntax, the limits of cas_json_desc, unknown
   fields skipped, a known field twice or of the wrong type refused, errors naming the field
   and the byte offset, zstd bodies decompressed first. `desc` and `err` may be NULL. */

/* UploadXorbResponse {"was_inserted": bool}: *was_inserted = 1, or 0 when the CAS already
   had the xorb (not an error). Allocates only to decompress a zstd body. */
CAS_API cas_result cas_xorb_upload_parse(const cas_allocator *alloc, const void *body, size_t len,
                                         const cas_json_desc *desc, int *was_inserted, cas_error *err);
/* UploadShardResponse {"result": 0|1}: 0 the shard already existed, 1 registered
   (SyncPerformed). Informational: a 200 is the success. Another number: CAS_E_JSON_VALUE.
   Allocates only to decompress a zstd body. */
CAS_API cas_result cas_shard_upload_parse(const cas_allocator *alloc, const void *body, size_t len,
                                          const cas_json_desc *desc, int *result, cas_error *err);

/* POST /v2/shards answers 200 at once and then streams newline-delimited JSON, one event
   object per line; the terminal event (RESULT or ERROR) is the outcome. The host splits the
   stream at '\n' and parses each non-empty line with cas_shard_event_parse. */
enum {
    CAS_SHARD_EVENT_OTHER = 0,  /* a "type" this library does not know: ignore it */
    CAS_SHARD_EVENT_VALIDATING, /* {"type":"validating","verified":N,"total":M} */
    CAS_SHARD_EVENT_COMMITTING, /* {"type":"committing","stage":"uploading"|"syncing"} */
    CAS_SHARD_EVENT_RESULT,     /* {"type":"result","result":0|1}: terminal success */
    CAS_SHARD_EVENT_ERROR       /* {"type":"error","message":"..."}: terminal failure */
};
enum { CAS_SHARD_STAGE_OTHER = 0, CAS_SHARD_STAGE_UPLOADING, CAS_SHARD_STAGE_SYNCING };

typedef struct cas_shard_event {
    int type;                /* CAS_SHARD_EVENT_* */
    uint64_t verified, total; /* VALIDATING (a live ratio: total grows while the shard arrives) */
    int stage;               /* COMMITTING: CAS_SHARD_STAGE_* (OTHER for an unknown stage) */
    int result;              /* RESULT: 0 existed, 1 registered */
    const char *message;     /* ERROR: the decoded message, NUL-terminated (valid UTF-8, no NUL;
                                escapes may have produced control characters); else NULL */
    size_t message_len;
    cas_allocator priv_alloc;
    void *priv_block;
    size_t priv_size;
} cas_shard_event;

/* One event line (a trailing "\r\n" or "\n" is whitespace). "type" is required; the fields
   its type needs are required and checked (verified/total u64, stage a string, result 0|1,
   message a string <= max_string); every other member is skipped, so a new event type or
   field is no error. Allocates one block for an ERROR event's message (free with
   cas_shard_event_free; harmless on any event), nothing otherwise except for a zstd line. */
CAS_API cas_result cas_shard_event_parse(const cas_allocator *alloc, const void *line, size_t len,
                                         const cas_json_desc *desc, cas_shard_event *out,
                                         cas_error *err);
CAS_API void cas_shard_event_free(cas_shard_event *ev);

/* ==== >>formats: multipart/byteranges ==================================================== */

/* A push reader for the body of a multi-range `206 Partial Content` response (RFC 7233 §4.1,
   RFC 2046 §5.1): what a signed xorb URL returns for `Range: bytes=A-B,C-D,...`. Hand it the
   response's Content-Type value, then push the body in any piece sizes (1 byte works); it
   returns one event at a time: a part's range (from its Content-Range), then its bytes.
   No allocation, no I/O, fixed-size state (568 bytes); the input is treated as hostile.

   The body, and what is enforced (err->offset = byte offset in the body stream):
     [preamble]  <= CAS_MULTIPART_MAX_PREAMBLE bytes of anything (CAS_E_LIMIT past it)
     delimiter   CRLF "--" boundary; the first one may lack the CRLF (it may open the body)
     after it    transport padding (spaces/tabs, <= CAS_MULTIPART_MAX_HEADER) then CRLF: a
                 part follows; or "--" right after the boundary: the close (CAS_END), after
                 which everything (the epilogue) is ignored
     headers     lines ending in CRLF up to an empty line; <= CAS_MULTIPART_MAX_HEADER bytes
                 counting every line and the empty line's CRLF (CAS_E_LIMIT past it). Names
                 are tokens, compared case-insensitively; values hold no control characters
                 but tab. A bare LF, a CR without LF, a line folded onto the next (leading
                 space/tab) are refused: servers send CRLF, and a lenient reader is one more
                 way to disagree with a proxy about where a part starts.
                 Exactly one Content-Range, of the form `bytes <first>-<last>/<total|*>`
                 ("bytes" in any case, one space, plain decimal u64s of at most 20 digits,
                 first <= last, last < total when total is known, total < 2^64-1 (that
                 value stands for "*"); whitespace around the value allowed). Other
                 headers (Content-Type, ...) are skipped.
     body        exactly last - first + 1 bytes, then the next delimiter. The reader does not
                 search for the boundary: it knows the length, hands the bytes out zero-copy
                 and looks for the delimiter only at the exact position. That is stricter than
                 a blind boundary search, and meant: a part whose body is longer or shorter
                 than its Content-Range is an error (CAS_E_MULTIPART naming both counts, e.g.
                 "part 2: Content-Range 0-99/1000 has 100 bytes but the part body has 98",
                 offset = where the delimiter should have begun). To name the real count the
                 reader notes the first CRLF--boundary inside a body (a memchr for CR over the
                 bytes; it changes no outcome) and, on a mismatch, reads on up to 64 KiB
                 looking for one (the error then comes from that later push or finish).
   Also CAS_E_MULTIPART: a close before any part; more parts than max_parts. Every
   malformed-body error is CAS_E_MULTIPART, with `what` naming the part (0-based, as in
   ev->part) and the problem; CAS_E_TRUNCATED when the body ends before the close. Matching
   the parts' ranges to the ranges requested is the caller's job. */

#define CAS_MULTIPART_MAX_BOUNDARY 70   /* RFC 2046 */
/* The two below are hostile-input bounds, not protocol: a host may define either before
   including cas.h with CAS_IMPLEMENTATION (64 bytes .. 16 MiB). The reader holds none of these bytes, so they bound
   time spent on junk, not memory. */
#ifndef CAS_MULTIPART_MAX_HEADER
#define CAS_MULTIPART_MAX_HEADER 8192   /* header bytes per part (also: transport padding) */
#endif
#ifndef CAS_MULTIPART_MAX_PREAMBLE
#define CAS_MULTIPART_MAX_PREAMBLE 8192 /* bytes before the first delimiter */
#endif
#if CAS_MULTIPART_MAX_HEADER < 64 || CAS_MULTIPART_MAX_HEADER > (16 << 20) || \
    CAS_MULTIPART_MAX_PREAMBLE < 64 || CAS_MULTIPART_MAX_PREAMBLE > (16 << 20)
#error "CAS_MULTIPART_MAX_HEADER and CAS_MULTIPART_MAX_PREAMBLE must be 64 .. 16 MiB"
#endif

typedef struct cas_multipart {
    uint64_t priv_offset;     /* body bytes consumed */
    uint64_t priv_first, priv_last, priv_total; /* the current part's Content-Range */
    uint64_t priv_left;       /* body bytes of the current part still to come */
    uint64_t priv_body_start; /* offset of the current part's body */
    uint64_t priv_found;      /* offset of the first CRLF--boundary seen in it, or ~0 */
    uint64_t priv_cr_at;      /* offset of the Content-Range value */
    uint32_t priv_part;       /* parts begun */
    uint32_t priv_max_parts;  /* 0: no limit */
    uint32_t priv_count;      /* bytes of the current preamble / padding / header block */
    uint32_t priv_match;      /* delimiter bytes matched (preamble, after a body) */
    uint32_t priv_scan;       /* the same, of the diagnostic search */
    uint32_t priv_name_len;   /* header name bytes */
    uint32_t priv_cr_len;     /* Content-Range value bytes kept */
    int priv_state, priv_sub;
    int priv_is_range;        /* the header being read is (so far) Content-Range */
    int priv_has_range;
    uint32_t priv_dlen;       /* 4 + boundary length */
    uint8_t priv_delim[4 + CAS_MULTIPART_MAX_BOUNDARY]; /* CRLF "--" boundary */
    char priv_cr[96];         /* the Content-Range value (the longest valid one has 68) */
    cas_error error;          /* sticky: the first error (its detail names counts, values) */
} cas_multipart;

/* Parses `content_type` (the Content-Type header's value, content_type_len bytes, need not be
   NUL-terminated), e.g. `multipart/byteranges; boundary="a b"`: media type and parameter
   names case-insensitive, boundary as a token or a quoted-string (backslash escapes allowed),
   other parameters ignored (but must be well-formed), whitespace around ';' and '=' and at
   either end allowed, empty parameters (";;") allowed. max_parts: the most parts allowed (the
   number of ranges requested; 0 = no limit).
   Returns CAS_OK, or CAS_E_MULTIPART (`what` says which): not multipart/byteranges, a
   malformed parameter list, the boundary missing, given twice, empty, over 70 characters,
   ending in a space, or with a character outside RFC 2046's bchars (digits, letters,
   '()+_,-./:=? and space). CAS_E_ARGUMENT for NULL pointers. `err` may be NULL. Any earlier
   state of *m is discarded. */
CAS_API cas_result cas_multipart_init(cas_multipart *m, const char *content_type,
                                      size_t content_type_len, uint32_t max_parts, cas_error *err);

enum {
    CAS_MULTIPART_PART = 1, /* a part's headers are complete; first/last/total are its range */
    CAS_MULTIPART_DATA = 2  /* data[0..len) are the next body bytes of part `part` */
};

typedef struct cas_multipart_event {
    int type;                    /* CAS_MULTIPART_PART or CAS_MULTIPART_DATA */
    uint32_t part;               /* 0-based */
    uint64_t first, last, total; /* the part's "bytes first-last/total"; total = UINT64_MAX
                                    for "*" (set for both event types) */
    uint64_t offset;             /* DATA: the resource offset of data[0] (first + the part's
                                    bytes handed out before); PART: first */
    const uint8_t *data;         /* DATA: points into the caller's buffer */
    size_t len;                  /* DATA: >= 1 */
} cas_multipart_event;

/* Consumes bytes of data[0..len); *consumed says how many. Returns
     CAS_READY       *ev holds an event; call again with the rest (data + *consumed);
     CAS_NEED_INPUT  all bytes consumed, no event pending: push the next piece;
     CAS_END         the close delimiter `--boundary--` was read; the rest of data (the
                     epilogue) is consumed and ignored, and so are later pushes;
     or an error, sticky (m->error has the detail; *consumed = the bytes read, the bad one
     included): CAS_E_MULTIPART, CAS_E_LIMIT (preamble, padding or header block too long),
     CAS_E_STATE (m is zero-filled, never initialised), CAS_E_ARGUMENT (NULL pointers,
     not sticky). After a failed init, push returns init's error.
   DATA events always point into the caller's data, never into *m: the body length is known
   from Content-Range, so no byte is ever held back as a possible delimiter (the delimiter is
   matched after the body, and may straddle pushes). ev->data is valid as long as `data` is. */
CAS_API cas_result cas_multipart_push(cas_multipart *m, const void *data, size_t len, size_t *consumed,
                                      cas_multipart_event *ev);

/* End of the body. CAS_OK if the close delimiter was read; else CAS_E_TRUNCATED (the body
   ended in the preamble, a part's headers or body, or a delimiter; sticky), or the sticky
   error (a part whose delimiter was missing reports CAS_E_MULTIPART here if the body ended
   while the reader was looking for it). `err` may be NULL. */
CAS_API cas_result cas_multipart_finish(cas_multipart *m, cas_error *err);

/* ==== >>engines: upload ================================================================== */

/* The upload session (upload-protocol.md, deduplication.md), sans-I/O and push style: the
   host opens a session, pushes the bytes of one file after another, and takes out what the
   CAS needs, in the order it needs it:

       cas_upload_create                     (desc: limits, dedup options; all 0 = defaults)
       cas_upload_add_shard      any time    known shards: local cache, earlier sessions
       for each file:
           cas_upload_file_begin
           cas_upload_push       repeatedly  CAS_READY: drain events, push the rest again
           cas_upload_file_end               CAS_READY: drain events, call again; CAS_OK: result
       cas_upload_finish
       cas_upload_next           until CAS_END
       cas_upload_free

   Events (cas_upload_next) are, in an order the CAS accepts:
     CAS_UPLOAD_EVENT_QUERY  a global-dedup query: GET /v1/chunks/default-merkledb/{hash};
                             answer with cas_upload_answer(id, body) or (id, NULL) for 404,
                             now or later (see "Global dedup")
     CAS_UPLOAD_EVENT_XORB   a new xorb: POST /v1/xorbs/default/{hash} with data[0..len)
     CAS_UPLOAD_EVENT_SHARD  a shard (upload form, verification entries, SHA-256 metadata):
                             POST /v1/shards. Shards come only after every xorb, at the end;
                             more than one when the files' shard would pass 64 MiB.
   Event bytes belong to the session and stay valid until the next call on it.

   What the engine does per file: content-defined chunks (cas_chunker_scan), chunk hashes,
   the Xet file hash (cas_merkle) and SHA-256, then dedup of every chunk against (1) the
   chunks of this session, (2) the shards given with cas_upload_add_shard and (3) the shards
   that answered global-dedup queries, HMAC-keyed ones included. A match covers as many
   following chunks as continue it in the same xorb. New chunks are compressed into xorbs
   shared by all files of the session (<= 64 MiB serialized, <= 8192 chunks), in file order,
   so that runs of new chunks stay contiguous.

   Fragmentation prevention is xet-core's (deduplication/src/defrag_prevention.rs and
   file_deduplication.rs), with its defaults: per file, the average chunks per term over the
   last 128 terms (nranges_in_streaming_fragmentation_estimator); once 128 terms exist and
   the average is below 8 (min_n_chunks_per_range) x 0.5 (hysteresis factor) while deduping
   (8 once dedup has been skipped), a dedup match shorter than that average is not taken:
   its chunks are stored again, extending the current run of new data. A match that continues
   the previous term is always taken. cas_upload_stats reports the resulting chunks per term.

   Global dedup (desc.flags & CAS_UPLOAD_GLOBAL_DEDUP): a chunk that none of (1)-(3) knows
   is queried if it is the first chunk of its file or its hash is eligible
   (cas_chunk_dedup_eligible), and it starts at least desc.query_spacing bytes (default
   4 MiB, the spec's advice) after the file's previous query. Chunks are held back
   (desc.lookahead bytes, default 4 MiB) before dedup decisions, which also gives the host
   that long to answer: decisions wait while queries are open, up to 2 x lookahead bytes of
   held data; beyond that, and at file end, the engine decides without the missing answers
   (a late answer still serves the chunks that follow). A host that wants every answer
   applied waits until cas_upload_open_queries() is 0 before pushing more or ending a file.
   At most CAS_UPLOAD_MAX_OPEN_QUERIES queries are tracked as open; older ones are dropped
   from the count (their answers are still accepted).

   Memory (all through the session's allocator; nothing grows with a file's size except
   the per-file term list and the session chunk index):
     fixed    ~20 KiB of state + the lookahead buffer (2 x lookahead + 128 KiB, ~8.1 MiB by
              default) + the open xorb's serialized bytes (grows to <= 64 MiB) + the xorb
              writer's scratch (~272 KiB)
     per new chunk stored in this session: 48 bytes (hash, sizes, flags, xorb) + 4..16 bytes
              of index (4-byte slots, table kept 1/4..1/2 full)
     per term: 84 bytes; per file: 80 bytes; both kept until the shards are written
     answers: every parsed global-dedup shard is kept for the rest of the session
     a shard event: its bytes (<= 64 MiB) until the next call
   Threading: one session, one thread at a time. The costly pieces are separate re-entrant
   functions a host may run on its own threads with byte-identical results: chunk hashes
   (cas_chunk_hash), record compression (cas_chunk_record_encode), SHA-256 (compute it
   yourself and pass it with cas_upload_file_sha256 under CAS_UPLOAD_HOST_SHA256). */

/* Defaults of cas_upload_desc (a zero field means its default). */
#define CAS_UPLOAD_LOOKAHEAD (4u << 20)      /* bytes of chunks held before dedup decisions */
#define CAS_UPLOAD_QUERY_SPACING (4u << 20)  /* bytes between global-dedup queries of a file */
#define CAS_UPLOAD_MIN_CHUNKS_PER_TERM 8     /* xet-core min_n_chunks_per_range */
#define CAS_UPLOAD_DEFRAG_WINDOW 128         /* xet-core nranges_in_streaming_fragmentation_estimator */
#define CAS_UPLOAD_MAX_OPEN_QUERIES 64

/* cas_upload_desc.flags */
#define CAS_UPLOAD_GLOBAL_DEDUP 1u  /* emit global-dedup queries */
#define CAS_UPLOAD_NO_DEDUP 2u      /* store every chunk (xet-core enable_deduplication=false) */
#define CAS_UPLOAD_NO_DEFRAG 4u     /* take every dedup match (no fragmentation prevention) */
#define CAS_UPLOAD_HOST_SHA256 8u   /* do not hash SHA-256: the host gives it per file with
                                       cas_upload_file_sha256 (or the shard has none) */
#define CAS_UPLOAD_NO_SHA256 16u    /* no SHA-256 at all (Storage Buckets need none) */

typedef struct cas_upload_desc {
    unsigned flags;           /* CAS_UPLOAD_* */
    int compression;          /* a CAS_COMPRESS_* request; 0: LZ4 (xet-core's default) */
    uint64_t lookahead;       /* bytes; 0: CAS_UPLOAD_LOOKAHEAD; 128 KiB..1 GiB */
    uint64_t query_spacing;   /* bytes; 0: CAS_UPLOAD_QUERY_SPACING */
    uint32_t max_xorb_size;   /* serialized bytes; 0: CAS_XORB_MAX_SIZE (smaller for tests) */
    uint32_t max_xorb_chunks; /* 0: CAS_XORB_MAX_CHUNKS */
    uint32_t max_shard_size;  /* 0: CAS_SHARD_MAX_SIZE */
    uint64_t now;             /* seconds since the epoch, for shard key expiry (0: ignore) */
    /* Optional: the host's thread pool for chunk compression, the engine's heaviest step
       (LZ4 of text runs at ~0.7 GB/s on one core). parallel(parallel_user, job, ctx, n) must
       run job(ctx, i) for every i in 0..n-1, in any order and on any threads, and return
       when all have finished. The engine then compresses up to CAS_UPLOAD_BATCH chunks it
       expects to store at a time, each with its own compressor (cas_chunk_record_encode is
       re-entrant), and adds the records in order: the xorbs are byte-identical to a serial
       run. Costs CAS_UPLOAD_BATCH x ~272 KiB. NULL: each chunk is compressed when stored. */
    void (*parallel)(void *parallel_user, void (*job)(void *ctx, size_t i), void *ctx, size_t n);
    void *parallel_user;
} cas_upload_desc;
#define CAS_UPLOAD_BATCH 32 /* chunks compressed at once through desc.parallel */

enum {
    CAS_UPLOAD_EVENT_XORB = 1,
    CAS_UPLOAD_EVENT_QUERY = 2,
    CAS_UPLOAD_EVENT_SHARD = 3
};

typedef struct cas_upload_event {
    int type;             /* CAS_UPLOAD_EVENT_* */
    cas_hash hash;        /* XORB: the xorb hash; QUERY: the chunk hash to ask about; SHARD:
                             cas_chunk_hash of the shard bytes (a name for a shard store) */
    const uint8_t *data;  /* XORB: the serialized xorb (no footer); SHARD: the shard */
    size_t len;
    uint64_t query_id;    /* QUERY: pass it back to cas_upload_answer */
    uint32_t num_chunks;  /* XORB: chunks in it */
    uint64_t unpacked_size; /* XORB: their decoded bytes */
} cas_upload_event;

typedef struct cas_upload_file_result {
    cas_hash file_hash;   /* xet-core's file hash; all zeros for an empty file */
    int has_sha256;
    uint8_t sha256[32];   /* the file's SHA-256 digest */
    uint64_t size;
    uint64_t num_chunks, new_chunks, new_bytes, dedup_chunks, dedup_bytes;
    uint32_t num_terms;
    uint32_t index;       /* the file's position in this session (0, 1, ...) */
} cas_upload_file_result;

typedef struct cas_upload_stats {
    uint64_t files, bytes_in, chunks;
    uint64_t new_chunks, new_bytes;     /* stored in this session's xorbs (decoded bytes) */
    uint64_t dedup_chunks, dedup_bytes; /* referenced instead of stored */
    uint64_t global_dedup_chunks, global_dedup_bytes; /* of those, through query answers */
    uint64_t defrag_chunks, defrag_bytes; /* dedup matches not taken (fragmentation) */
    uint64_t terms;                     /* chunks / terms = average chunks per term */
    uint64_t xorbs, xorb_bytes;         /* emitted, serialized bytes */
    uint64_t shards, shard_bytes;
    uint64_t queries, answers, answers_found;
} cas_upload_stats;

typedef struct cas_upload cas_upload; /* opaque: allocated by cas_upload_create */

/* Creates a session. `alloc` NULL: malloc. `desc` NULL: defaults. Allocates the state and the
   lookahead buffer (see Memory). Errors: CAS_E_ARGUMENT (a desc field out of range: err->what
   says which), CAS_E_NOMEM. *out is NULL on error. */
CAS_API cas_result cas_upload_create(const cas_allocator *alloc, const cas_upload_desc *desc,
                                     cas_upload **out, cas_error *err);
/* Adds a parsed shard to dedup against (chunk lookups; HMAC-keyed shards too; shards whose
   key has expired at desc.now are skipped). The session keeps the pointer: `s` must stay
   alive and unchanged until cas_upload_free. Matches that cite an xorb are trusted: the
   chunk sizes must agree with ours, else the match ends there. CAS_E_NOMEM, CAS_E_STATE
   (after cas_upload_finish). */
CAS_API cas_result cas_upload_add_shard(cas_upload *u, const cas_shard *s);
/* Starts a file. CAS_E_STATE if a file is open or the session is finishing. */
CAS_API cas_result cas_upload_file_begin(cas_upload *u);
/* Pushes bytes of the open file. *consumed = bytes taken (the SHA-256 and the lookahead
   buffer have them). CAS_NEED_INPUT: all taken, no event waits. CAS_READY: an event waits,
   possibly before all was taken: call cas_upload_next until CAS_NEED_INPUT, then push the
   rest. Errors are sticky (cas_upload_error). */
CAS_API cas_result cas_upload_push(cas_upload *u, const void *data, size_t len, size_t *consumed);
/* Under CAS_UPLOAD_HOST_SHA256: the open file's SHA-256, any time before its file_end. */
CAS_API cas_result cas_upload_file_sha256(cas_upload *u, const uint8_t sha256[32]);
/* Ends the open file: the last chunk is cut and every held chunk decided. CAS_READY: an
   event waits (drain with cas_upload_next, then call again); CAS_OK: *out (may be NULL)
   holds the file's result, and the next file may begin. */
CAS_API cas_result cas_upload_file_end(cas_upload *u, cas_upload_file_result *out);
/* The next event. CAS_READY: *ev is filled (its bytes valid until the next call on the
   session); CAS_NEED_INPUT: nothing more until the host pushes, ends a file, answers or
   finishes; CAS_END: finished and every xorb and shard delivered. Or the sticky error. */
CAS_API cas_result cas_upload_next(cas_upload *u, cas_upload_event *ev);
/* Answers query `id`: body[0..len) is the response body of a 200 (a shard, usually keyed);
   body NULL means 404 (nothing known). The shard is parsed and kept for the rest of the
   session. Not sticky: CAS_E_ARGUMENT (an id never issued) or the parse
   error (the answer is then ignored, detail in *err) leave the session usable. */
CAS_API cas_result cas_upload_answer(cas_upload *u, uint64_t id, const void *body, size_t len,
                                     cas_error *err);
/* Queries issued but not answered yet (at most CAS_UPLOAD_MAX_OPEN_QUERIES). */
CAS_API size_t cas_upload_open_queries(const cas_upload *u);
/* No more files: cas_upload_next then delivers the last xorb and the shards, then CAS_END.
   CAS_E_STATE if a file is open. */
CAS_API cas_result cas_upload_finish(cas_upload *u);
CAS_API void cas_upload_get_stats(const cas_upload *u, cas_upload_stats *out);
/* The sticky error (code 0 while none). */
CAS_API const cas_error *cas_upload_error(const cas_upload *u);
/* Frees the session and everything it allocated. NULL is fine. */
CAS_API void cas_upload_free(cas_upload *u);

/* ==== >>engines: download ================================================================ */

/* The reconstruction engine (download-protocol.md), sans-I/O: it turns a parsed manifest into
   HTTP requests, takes the response bytes the host pushes in any piece sizes, decodes chunk
   records as they complete and writes file bytes through the host's sink. It never blocks,
   never touches the network or a file, and reads no clock.

   The host's loop (one request at a time, or several in flight from threads/an event loop as
   long as calls on one engine do not overlap):

       cas_download_create(NULL, &recon, &desc, &d, &err);
       while ((rc = cas_download_next(d, &req)) == CAS_READY) {     // or CAS_NEED_INPUT:
           GET req.url with "Range: <req.range>"                     // finish one in flight
           on 206: cas_download_begin(d, req.id, ctype, strlen(ctype)); // its Content-Type
                   cas_download_push(d, req.id, bytes, n) ... ;     // any piece sizes
                   cas_download_end(d, req.id);
           on a transport error / 429 / 5xx: cas_download_abort(d, req.id) (it is handed
                   out again by the next cas_download_next; back off first)
       }
       rc == CAS_END: every byte written and checked; else an error (cas_download_error)

   Checks: each range body holds exactly its chunks' records, every record decodes (LZ4 frames
   consumed exactly, sizes as the headers say), each multipart part is a requested range, every
   term's decoded size equals its unpacked_length (CAS_E_TERM_SIZE), and for a whole file the
   Merkle file hash of the decoded chunks equals desc.file_hash (CAS_E_HASH) — end-to-end
   integrity the reference clients do not check. A chunk used by several terms (dedup) is
   fetched and decoded once per range that carries it.

   Sinks: positional (write_at: bytes may arrive in any order, each file byte exactly once;
   a retried request skips the chunks it already delivered) or sequential
   (write: strictly in file order). Sequential output is staged in a reorder window of
   desc.window bytes; a chunk that lands beyond the window is dropped and its range requested
   again later (the spec's "chunk 3 serves two terms" case, when the window is too small for
   the distance between them), so memory stays at the window whatever the file.

   Memory (allocated at create and begin; nothing grows with the file's size except the
   manifest's own tables): ~48 bytes per term and ~100 per range, plus per request in flight
   one record buffer and two chunk buffers (~512 KiB), plus the sequential window, plus, while
   the file hash is checked, 40 bytes per chunk decoded ahead of the first incomplete term
   (none when requests are performed in the order cas_download_next gives them, one at a time).
   The engine borrows `recon` (the URLs and ranges): it must outlive the engine. */

typedef struct cas_download cas_download;

enum {
    /* One request per range ("bytes=A-B"; xet-core's default) instead of one per fetch
       entry with all its ranges (a multipart/byteranges response). */
    CAS_DOWNLOAD_PER_RANGE = 1,
    /* Do not check the file hash, nor hash chunks unless desc.chunk is set (saves ~25% CPU).
       The only way to download a range, or to give a file hash the engine will not check. */
    CAS_DOWNLOAD_NO_VERIFY = 2
};

enum { CAS_DOWNLOAD_FETCHING = 1, CAS_DOWNLOAD_DONE = 2 };

typedef struct cas_download_progress {
    int phase;              /* CAS_DOWNLOAD_FETCHING, then CAS_DOWNLOAD_DONE once */
    uint64_t bytes_fetched; /* response body bytes pushed (retries count again) */
    uint64_t bytes_written; /* file bytes handed to the sink */
    uint64_t bytes_total;   /* file bytes the manifest describes (after offset and range) */
    uint32_t requests_done, requests_total;
} cas_download_progress;

/* Sinks and progress return 0 to go on; a sink's negative cas_result is passed back up, any
   other non-zero value (and a progress callback's) cancels: CAS_E_CANCELLED. */
typedef int (*cas_download_write_at_fn)(void *user, uint64_t offset, const void *data,
                                        size_t len);
typedef int (*cas_download_write_fn)(void *user, const void *data, size_t len);
typedef int (*cas_download_progress_fn)(void *user, const cas_download_progress *p);
/* Every chunk a term takes, before its bytes reach the sink: recon->terms[term] (its xorb:
   .hash) takes chunk `index` of that xorb (chunk_start <= index < chunk_end, in rising order
   per term), with its hash and size. So the host sees the file's chunks in file order term by
   term (terms may complete in any order): what range verification needs
   (cas_file_chunk_hashes_verify). A host that knows what a chunk must be (a local store's
   shards hold every xorb's chunk hashes) returns CAS_E_HASH for a mismatch, and the download
   fails before a wrong byte is written: a check for ranges too, where no file hash can be. */
typedef int (*cas_download_chunk_fn)(void *user, uint32_t term, uint32_t index,
                                     const cas_chunk *chunk);

/* Zero-initialise, then set a sink. 0 means the default everywhere. */
typedef struct cas_download_desc {
    unsigned flags;                    /* CAS_DOWNLOAD_* */
    cas_download_write_at_fn write_at; /* positional sink, or ... */
    cas_download_write_fn write;       /* ... sequential sink: exactly one of the two */
    void *user;                        /* passed to the callbacks */
    /* The length of the byte range the manifest was requested for (B - A + 1 of "bytes=A-B");
       0: to the end. Output stops there; offset_into_first_range is applied at the start. */
    uint64_t range_length;
    /* The file being reconstructed: its Merkle hash over every decoded chunk (after
       `prefix`) must equal this, or the download ends in CAS_E_HASH. Only a whole file can
       be checked: with range_length != 0 or a manifest whose offset_into_first_range is not
       0, create refuses it (CAS_E_ARGUMENT) unless flags has CAS_DOWNLOAD_NO_VERIFY, the one
       way to skip the check. NULL: no check. */
    const cas_hash *file_hash;
    size_t window;                     /* sequential reorder window, default 64 MiB; >= 1 */
    /* Resuming: the leaves (chunk hash, size) of the file's bytes before the manifest's
       first byte, which the host already has (re-chunked from its partial output; cut the
       manifest's range at a chunk boundary so offset_into_first_range is 0). With file_hash,
       the whole file's hash is then checked over prefix + the decoded chunks. */
    const cas_merkle *prefix;
    cas_download_progress_fn progress; /* may be NULL; called after every push */
    cas_download_chunk_fn chunk;       /* may be NULL; chunks are hashed when set */
} cas_download_desc;

/* A request for the host to perform: GET url with the header "Range: <range>". */
typedef struct cas_download_request {
    uint32_t id;                   /* for begin/push/end/abort */
    const char *url;               /* the signed URL, as the manifest gave it */
    const char *range;             /* "bytes=A-B[,C-D...]": ascending, as signed */
    uint64_t body_length;          /* bytes of data the ranges hold (a single range's exact
                                      body length; multipart adds part headers) */
    uint32_t xorb;                 /* index in recon->xorbs: a local store answers by hash */
    const cas_recon_range *ranges; /* the ranges asked for, in header order */
    uint32_t num_ranges;
    int refetch;                   /* 1: asks again for a range the window had to drop */
} cas_download_request;

/* Plans the requests (ordered by the first term each serves, so the file fills from the
   front) and allocates the per-term state. Errors: CAS_E_NOMEM; CAS_E_ARGUMENT: no sink or
   two, a manifest not from cas_recon_parse, or desc.file_hash without CAS_DOWNLOAD_NO_VERIFY
   and either a desc.range_length or a manifest with offset_into_first_range > 0 (a server
   answering a whole-file query with a partial manifest cannot switch the check off). */
CAS_API cas_result cas_download_create(const cas_allocator *alloc, const cas_recon *recon,
                                       const cas_download_desc *desc, cas_download **out,
                                       cas_error *err);
/* CAS_READY: *req is the next request to perform. CAS_NEED_INPUT: nothing to hand out until
   a request in flight ends (or is aborted). CAS_END: the file is complete: every term
   written and checked (the file hash too), the DONE progress reported. Or the sticky error. */
CAS_API cas_result cas_download_next(cas_download *d, cas_download_request *req);
/* A 2xx response for request `id` begins. content_type: its Content-Type header value (only
   read when the request has several ranges: multipart/byteranges; may be NULL otherwise). */
CAS_API cas_result cas_download_begin(cas_download *d, uint32_t id, const char *content_type,
                                      size_t content_type_len);
/* Response body bytes, in order, any piece sizes. Chunks are decoded and written as their
   records complete. Errors are sticky for the engine (the data or the manifest is wrong;
   a retry cannot help): the decoders' codes, CAS_E_MULTIPART, CAS_E_TRAILING (more bytes
   than requested), CAS_E_TERM_SIZE, the sink's. err.offset = the offset in this body. */
CAS_API cas_result cas_download_push(cas_download *d, uint32_t id, const void *data, size_t len);
/* The body is complete: CAS_E_TRUNCATED if it holds fewer bytes or ranges than asked. */
CAS_API cas_result cas_download_end(cas_download *d, uint32_t id);
/* The request failed in transport (connection lost, 429, 5xx, a short body): forget its
   partial body; cas_download_next hands it out again (first). What was already decoded
   stays written, and the retry skips it. */
CAS_API cas_result cas_download_abort(cas_download *d, uint32_t id);
/* Stops the engine: every later call returns CAS_E_CANCELLED. Safe to call from a sink or
   progress callback of the same engine. */
CAS_API void cas_download_cancel(cas_download *d);
CAS_API const cas_error *cas_download_error(const cas_download *d);
/* An upper bound of the memory the engine takes for this manifest and desc with at most
   `inflight` requests begun and not yet ended: every allocation of cas_download_create and
   of `inflight` concurrent requests, plus the file-hash leaves at their worst (every chunk
   of every term decoded ahead of the frontier), each rounded as a cas_arena stores it
   (to 16 bytes + CAS_ARENA_OVERHEAD). A cas_arena of this size always suffices. */
CAS_API uint64_t cas_download_memory(const cas_recon *recon, const cas_download_desc *desc,
                                     uint32_t inflight);
CAS_API void cas_download_get_progress(const cas_download *d, cas_download_progress *p);
CAS_API void cas_download_free(cas_download *d);

/* ==== >>engines: verified ranges ========================================================= */

/* A range of a file can be checked against the file hash without the rest of the file:
   GET /v2/file-chunk-hashes/{file} with "X-Range-Dirty: bytes=A-B" (api.md section 9)
   answers with chunk-aligned windows that cover the range and, for each gap between them, a
   MerkleHashSubtree: the Merkle tree of the gap's chunks, cut to the few nodes whose grouping
   does not depend on what lies outside it. The host downloads each window whole (a
   reconstruction of exactly its bytes), keeps every decoded chunk's (hash, size)
   (cas_download_desc.chunk), and cas_file_chunk_hashes_verify merges the windows' subtrees
   with the gaps' in file order: the root, keyed as a file hash, must be the file's hash.
   The subtree algorithm follows xet-core (merkle_hash_subtree.rs: from_chunks, merge_into,
   final_hash), checked against xet-core's WebAssembly build (tests/vectors/subtree.txt). */

/* A MerkleHashSubtree: nodes in file order per level, L0 L1 .. Lk Rk .. R1 R0 (lefts in rising
   level, then rights in falling level; every chunk of the range is under exactly one node),
   levels[2k], levels[2k+1] = the number of left and right nodes of level k. at_start: the
   range begins at the file's first chunk; at_end: it ends at its last. Owned by `priv_alloc`
   when built here; a parsed response's subtrees point into the response (read-only). */
typedef struct cas_subtree {
    cas_chunk *nodes;
    size_t num_nodes;
    uint32_t *levels;
    size_t num_levels;
    int at_start, at_end;
    cas_allocator priv_alloc;
    size_t priv_node_cap, priv_level_cap; /* 0: not owned */
    uint64_t *priv_offsets; /* owned: each node's first byte, relative to the subtree's
                               (NULL: the sizes before it in node order) */
} cas_subtree;

/* Limits of a parsed subtree (xet-core measured 726 nodes at worst for 10^8 chunks). */
#define CAS_SUBTREE_MAX_NODES 65536
#define CAS_SUBTREE_MAX_LEVELS 64

/* The subtree of chunks[0..n) (MerkleHashSubtree::from_chunks). CAS_E_NOMEM. */
CAS_API cas_result cas_subtree_from_chunks(const cas_allocator *alloc, int at_start, const cas_chunk *chunks,
                                           size_t n, int at_end, cas_subtree *out);
/* *out := left followed by right (merge_into), a new owned subtree: right must cover the
   chunks right after left's. CAS_E_ARGUMENT if left->at_end or right->at_start (they cannot
   be neighbours) or a subtree's levels do not add up to its nodes; CAS_E_HASH if a group the
   merge forms is not contiguous in the bytes the subtrees cover (each node's place is given
   by the sizes before it, in node order, or by the merge that built it): a subtree from an
   untrusted server that places real nodes out of order cannot make a tree with the right
   root but leaves at the wrong offsets; CAS_E_NOMEM. (xet-core does not check this.) */
CAS_API cas_result cas_subtree_merge(const cas_allocator *alloc, const cas_subtree *left,
                                     const cas_subtree *right, cas_subtree *out);
/* The Merkle root of the whole file (final_hash): CAS_E_STATE unless at_start and at_end. The
   file hash is cas_hash_hmac of it with a zero key (all zeros for an empty file). */
CAS_API cas_result cas_subtree_root(const cas_subtree *s, cas_hash *root);
/* Sum of the node sizes: the bytes the subtree covers. */
CAS_API uint64_t cas_subtree_size(const cas_subtree *s);
/* Frees an owned subtree (a parsed response's are freed with it: this does nothing). */
CAS_API void cas_subtree_free(cas_subtree *s);

typedef struct cas_chunk_window {
    uint64_t start, end; /* file bytes [start, end): whole chunks */
} cas_chunk_window;

/* FileChunkHashesResponse. gaps[0..num_windows]: the subtree of the chunks before window 0,
   between windows i-1 and i, and after the last one; a gap of no chunks (JSON null) has
   num_nodes 0. gap_verification: the term verification hashes of the terms that no window
   touches (for composing a shard of an edited file; they do not verify data). */
typedef struct cas_file_chunk_hashes {
    uint64_t total_chunks, file_size;
    const cas_chunk_window *windows;
    size_t num_windows;
    const cas_subtree *gaps;
    const cas_hash *gap_verification;
    size_t num_gap_verification;
    cas_allocator priv_alloc;
    void *priv_block;
    size_t priv_size;
} cas_file_chunk_hashes;

/* Parses the body (zstd decoded as for cas_recon_parse). Checks the shape: >= 1 window,
   windows ascending, non-empty and inside file_size; num_windows + 1 gaps; each subtree's
   levels add up to its nodes (<= CAS_SUBTREE_MAX_NODES nodes, <= CAS_SUBTREE_MAX_LEVELS
   levels); hashes 64 lower-case hex digits. Errors: the JSON codes, CAS_E_NOMEM. */
CAS_API cas_result cas_file_chunk_hashes_parse(const cas_allocator *alloc, const void *body, size_t len,
                                               const cas_json_desc *desc, cas_file_chunk_hashes *out,
                                               cas_error *err);
CAS_API void cas_file_chunk_hashes_free(cas_file_chunk_hashes *r);
/* Checks that the windows' chunks, window i's in chunks[i][0..num_chunks[i]) in file order,
   and the response's gaps make the file `file_hash`: the gaps' and windows' sizes must tile
   [0, file_size) exactly as the windows say, and the merged tree's root, keyed as a file hash,
   must equal file_hash. Then every byte of every window is authenticated. CAS_OK;
   CAS_E_HASH (a chunk, or the response, is not of this file); CAS_E_JSON_VALUE (a gap's
   flags or size do not fit its place: err.offset = its index); CAS_E_ARGUMENT; CAS_E_NOMEM. */
CAS_API cas_result cas_file_chunk_hashes_verify(const cas_allocator *alloc, const cas_file_chunk_hashes *r,
                                                const cas_chunk *const *chunks, const size_t *num_chunks,
                                                const cas_hash *file_hash, cas_error *err);

/* ==== >>engines: server ================================================================== */

/* The server side of the CAS API (tests/server-design.md), sans I/O like the rest: the host
   reads a request head and hands it over parsed, pushes the body, and writes the response
   pieces it is given. This first part is the HTTP/1.1 request-head parser and the reason
   phrases a host writes in status lines. */

/* The longest request head cas_http_request_parse takes (request line, headers, the blank
   line, and empty lines before the request line): a host's head buffer needs no more. */
#define CAS_HTTP_MAX_HEAD 16384

/* One header field of a parsed head: name and value point into the caller's buffer (not
   NUL-terminated); the value has no leading or trailing whitespace. */
typedef struct cas_http_header {
    const char *name, *value;
    size_t name_len, value_len;
} cas_http_header;

typedef struct cas_http_request {
    const char *method, *target;  /* into the buffer; target: origin-form "/path?query", undecoded */
    size_t method_len, target_len;
    const cas_http_header *headers; /* the caller's array, num_headers filled */
    size_t num_headers;
    uint64_t content_length;      /* UINT64_MAX: no Content-Length (chunked, or no body) */
    int minor_version;            /* HTTP/1.0 or HTTP/1.1 */
    int chunked;                  /* Transfer-Encoding: chunked */
    int expect_continue;          /* Expect: 100-continue */
    int keep_alive;               /* HTTP/1.1 without Connection: close, or HTTP/1.0 with
                                     Connection: keep-alive */
} cas_http_request;

/* Parses the request head at the start of buf[0..len): the request line (method token, one
   space, an origin-form target of visible ASCII, one space, HTTP/1.0 or HTTP/1.1, CRLF), then
   header fields (token name, ':' with no space before it, a value without control bytes;
   obs-fold is refused) up to the empty line. Zero-copy: *req and headers[] point into buf.
   Call it again with more bytes after CAS_NEED_INPUT (it restarts from the first byte; it
   keeps no state). Empty lines before the request line are skipped (RFC 9112 2.2). Framing
   is checked as RFC 9112 6 asks of a server: Content-Length is 1..20 digits below 2^64-1,
   and appears at most once; Transfer-Encoding is exactly "chunked", at most once, never
   with Content-Length nor in HTTP/1.0; HTTP/1.1 needs exactly one Host.
   Returns CAS_OK (the head is bytes [0, *head_len); the body follows), CAS_NEED_INPUT (no
   complete head yet, and nothing wrong so far: every proper prefix of a valid head gives
   it), CAS_E_HTTP (malformed: answer 400 and close; err names what and its byte offset),
   CAS_E_LIMIT (more than max_headers fields, or no end within CAS_HTTP_MAX_HEAD bytes:
   answer 431 and close), CAS_E_ARGUMENT. Allocates nothing. */
CAS_API cas_result cas_http_request_parse(const void *buf, size_t len, cas_http_header *headers,
                                          size_t max_headers, cas_http_request *req,
                                          size_t *head_len, cas_error *err);
/* The reason phrase of an HTTP status ("Partial Content" for 206); "" for a status it does
   not know (an empty reason phrase is valid HTTP). Never NULL. */
CAS_API const char *cas_http_reason(int status);

/* ---- the engine: a store index, then one request at a time ---- */

/* Object kinds of a store; token scopes asked of the authorize callback. */
enum { CAS_OBJECT_XORB = 1, CAS_OBJECT_SHARD = 2 };
enum { CAS_SCOPE_READ = 1, CAS_SCOPE_WRITE = 2 };

/* What the host's store does for the engine. Every callback returns 0 or a negative
   cas_result (CAS_E_NOT_FOUND for a missing object; anything else is a storage failure,
   answered 500). This version calls only stat: on an index miss of HEAD /v1/xorbs (an
   object that another writer, such as `cas pack`, put in the store appears then); NULL
   callbacks are never called. The rest are the upload routes' (not built yet). */
typedef struct cas_server_store {
    int (*read)(void *user, int kind, const cas_hash *key, uint64_t offset, void *buf,
                size_t len, size_t *got);
    int (*stat)(void *user, int kind, const cas_hash *key, uint64_t *size);
    int (*create)(void *user, int kind, void **handle);
    int (*write)(void *user, void *handle, const void *data, size_t len);
    int (*commit)(void *user, void *handle, const cas_hash *key, int *existed);
    void (*discard)(void *user, void *handle);
    void *user;
} cas_server_store;

typedef struct cas_server_desc {  /* zero fields (or a NULL desc): defaults */
    cas_server_store store;
    /* authorize(user, token, len, scope): 0 (allowed), CAS_E_AUTH (unknown or expired: 401),
       CAS_E_SCOPE (403), CAS_E_BUSY (503), another error (500). NULL: every request is
       allowed. A guarded route without `Authorization: Bearer <token>` is 401 before it. */
    int (*authorize)(void *user, const char *token, size_t len, int scope);
    void (*lock)(void *user);     /* around index reads and updates; NULL: one thread */
    void (*unlock)(void *user);
    void *user;                   /* of authorize, lock and unlock */
} cas_server_desc;

typedef struct cas_server cas_server;         /* the store index: shared by requests */
typedef struct cas_server_req cas_server_req; /* one request and its response */

/* An empty index. Memory: the index grows with cas_server_add_object (per file ~56 bytes,
   per xorb ~56, per shard ~40, plus 8 to 16 bytes of hash table each: 4-byte slots, at most
   half full). Errors: CAS_E_ARGUMENT (lock without unlock), CAS_E_NOMEM. */
CAS_API cas_result cas_server_create(const cas_allocator *alloc, const cas_server_desc *desc,
                                     cas_server **out, cas_error *err);
/* Tells the index what the store holds (at startup, and on rescans). A xorb needs only its
   size (data may be NULL); a shard's bytes data[0..len) are parsed (cas_shard_parse), its
   files indexed (the first shard to register a file wins) and its xorbs' CAS blocks noted,
   then the bytes are dropped. Adding an object again changes nothing (a xorb: its size is
   updated). Errors: the CAS_E_SHARD_* and other errors of cas_shard_parse for a damaged
   shard (the host logs and skips it; nothing is indexed), CAS_E_ARGUMENT, CAS_E_NOMEM (the
   shard may then be partly indexed: its files so far answer). */
CAS_API cas_result cas_server_add_object(cas_server *s, int kind, const cas_hash *key,
                                         uint64_t size, const void *data, size_t len,
                                         cas_error *err);
CAS_API void cas_server_free(cas_server *s);

/* A response piece. HEAD comes first: write the status line (cas_http_reason), then
   `headers` (complete "Name: value\r\n" lines, Content-Length included; add Connection
   yourself), the empty line. Then body_length bytes follow in DATA pieces (none for a HEAD
   request). */
enum { CAS_SERVER_HEAD = 1, CAS_SERVER_DATA, CAS_SERVER_OBJECT, CAS_SERVER_WORKING };
typedef struct cas_server_out {
    int type;                   /* CAS_SERVER_* */
    int status;                 /* HEAD */
    const char *headers;        /* HEAD: valid until cas_server_req_free */
    size_t headers_len;
    uint64_t body_length;       /* HEAD: the bytes that follow */
    int close;                  /* HEAD: close the connection after this response */
    uint64_t discard;           /* HEAD: unread request body to drop before the next request
                                   (UINT64_MAX: unknown, close); over 1 MiB: close is set */
    const uint8_t *data;        /* DATA: len bytes, valid until cas_server_req_free */
    size_t len;                 /* DATA, OBJECT */
    int kind;                   /* OBJECT (the recon and xorb routes: not built yet) */
    cas_hash key;
    uint64_t offset;
} cas_server_out;

/* Starts a request whose head the host parsed (cas_http_request_parse); req and what it
   points to need only live during this call. now: seconds since the epoch (not used yet:
   URL expiry and key rotation). The route, the token and the hash segments are checked at
   once, and the routes this version serves (HEAD /v1/xorbs/default/{hash}, HEAD
   /v1/files/{hash}) answered at once: unknown routes 404, bad hashes or prefixes 400, a
   missing or rejected token 401 (with WWW-Authenticate: Bearer), a read token on a write
   route 403, a busy authorize 503 (with Retry-After: 1); the other routes of
   tests/server-design.md answer 501 until they are built. Error bodies are
   {"error":"<what>"} (application/json). Every protocol failure is a response, not an
   error: cas_server_req_error names its cause (code and what) for the host's log.
   Errors: CAS_E_ARGUMENT, CAS_E_NOMEM (answer 503 yourself). */
CAS_API cas_result cas_server_begin(cas_server *s, const cas_http_request *req, uint64_t now,
                                    cas_server_req **out, cas_error *err);
/* Body bytes in order. CAS_NEED_INPUT: all taken; CAS_READY: the answer is decided, stop
   pushing and call next (HEAD's discard says what to do with the rest; *consumed bytes were
   taken). Every route this version serves is decided at begin: CAS_READY, 0 taken. */
CAS_API cas_result cas_server_push(cas_server_req *r, const void *data, size_t len,
                                   size_t *consumed);
/* The request body is complete. CAS_OK. */
CAS_API cas_result cas_server_end(cas_server_req *r);
/* The next response piece: CAS_READY (*out: HEAD first, then DATA), CAS_END (the response
   is complete; again CAS_END after it), CAS_E_ARGUMENT. */
CAS_API cas_result cas_server_next(cas_server_req *r, cas_server_out *out);
/* The cause of an error response (code CAS_E_NOT_FOUND, CAS_E_AUTH, CAS_E_SCOPE, CAS_E_BUSY,
   CAS_E_IO, CAS_E_HEX, CAS_E_HTTP, CAS_E_UNSUPPORTED; what: the text of its body), or
   CAS_OK for a success. It never holds a token. */
CAS_API const cas_error *cas_server_req_error(const cas_server_req *r);
CAS_API void cas_server_req_free(cas_server_req *r);

/* ==== >>host helpers: local store ======================================================== */

/* A manifest from local shards (the directory store's "server"):
   Builds the v2 QueryReconstructionResponse a CAS server would return for file_hash, bytes
   first..last (inclusive; 0..UINT64_MAX for the whole file), from shards that hold the file
   and its xorbs: terms trimmed to the chunks covering the range, offset_into_first_range,
   one fetch entry per xorb whose ranges are the merged chunk ranges of its terms, URLs
   url_prefix + xorb hex. The records' byte offsets are not in shards: record_ends(user,
   xorb hash, n, ends) must fill ends[0..n) with the end offset of each of the xorb's n
   chunk records (0 or a negative cas_result). The JSON is then parsed with cas_recon_parse,
   so the result is exactly what a server's answer would give.
   Errors: CAS_E_SHARD_NO_CHUNKS (the file, or a xorb it needs, is in none of the shards),
   CAS_E_LIMIT (first is not below the file size: HTTP 416), CAS_E_ARGUMENT, CAS_E_NOMEM,
   or record_ends' error. */
typedef int (*cas_record_ends_fn)(void *user, const cas_hash *xorb, uint32_t n, uint64_t *ends);
CAS_API cas_result cas_recon_from_shards(const cas_allocator *alloc, const cas_shard *shards,
                                         size_t num_shards, const cas_hash *file_hash, uint64_t first,
                                         uint64_t last, const char *url_prefix,
                                         cas_record_ends_fn record_ends, void *user, cas_recon *out,
                                         cas_error *err);

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
#if defined(__cplusplus) && !defined(__clang__) && __GNUC__ == 12
/* g++ 12's _mm*_undefined_* (used by the AVX-512 intrinsics BLAKE3 calls) trip -Wuninitialized
   in C++ at -O1 and above (GCC bug 105593, fixed in 13); the pragmas cover the header's lines. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cpuid.h>
#include <immintrin.h>
#if defined(__cplusplus) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic pop
#endif
#define CAS__X86_GNU 1
#endif
#endif
#if !defined(CAS_NO_SIMD) && (defined(__aarch64__) || defined(_M_ARM64))
#define CAS__ARM64 1
#endif
/* ARMv8 SHA-256 instructions on aarch64: GCC enables them per function (the build needs no
   -march); clang's <arm_neon.h> declares them only for a build that targets them
   (__ARM_FEATURE_SHA2/CRYPTO: -march=armv8-a+crypto, Apple Silicon's default). Used when the
   CPU has them: Linux says so in HWCAP_SHA2 (getauxval); otherwise the build's target does. */
#if CAS__ARM64 && !defined(_M_ARM64) && \
    ((defined(__GNUC__) && !defined(__clang__)) || defined(__ARM_FEATURE_SHA2) || defined(__ARM_FEATURE_CRYPTO))
#include <arm_neon.h>
#define CAS__ARM64_SHA2 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

/* CAS_TEST_EXPORTS (tests/cas_impl.c only): the few internals the tests call directly get
   external linkage, so the implementation is compiled once per configuration and linked into
   every test program (tests/testlib.h, CAS_LINK_IMPL). */
#ifdef CAS_TEST_EXPORTS
#define CAS__TESTED
#else
#define CAS__TESTED static
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
    CAS__B3_STORE(g_cpu_features, f);
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

/* ==== >>base: results ==================================================================== */

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
    {CAS_E_TRUNCATED, "CAS_E_TRUNCATED", "the input ends before the structure it holds is complete"},
    {CAS_E_TRAILING, "CAS_E_TRAILING", "bytes follow the end of a structure that must fill the input exactly"},
    {CAS_E_SIZE, "CAS_E_SIZE", "the decoded data is longer or shorter than the size declared for it"},
    {CAS_E_LZ4_MAGIC, "CAS_E_LZ4_MAGIC", "the data is not an LZ4 frame: its magic is not 04 22 4D 18 (skippable and legacy frames are refused)"},
    {CAS_E_LZ4_HEADER, "CAS_E_LZ4_HEADER", "the LZ4 frame header is invalid: version, reserved bits, dictionary ID, block size id or header checksum"},
    {CAS_E_LZ4_BLOCK, "CAS_E_LZ4_BLOCK", "an LZ4 block is corrupt or larger than the frame's block maximum size"},
    {CAS_E_CHUNK_VERSION, "CAS_E_CHUNK_VERSION", "a chunk header's version is not 0"},
    {CAS_E_CHUNK_SCHEME, "CAS_E_CHUNK_SCHEME", "a chunk header's compression scheme is not 0 (none), 1 (LZ4) or 2 (BG4+LZ4)"},
    {CAS_E_CHUNK_SIZE, "CAS_E_CHUNK_SIZE", "a chunk size is out of range: uncompressed 1..131072, compressed 1..262144, equal for scheme none"},
    {CAS_E_XORB_LIMIT, "CAS_E_XORB_LIMIT", "a xorb may hold at most 8192 chunks and 64 MiB"},
    {CAS_E_XORB_FOOTER, "CAS_E_XORB_FOOTER", "a xorb storage footer (XETBLOB) is malformed or disagrees with the records"},
    {CAS_E_HASH, "CAS_E_HASH", "a computed hash differs from the expected one"},
    {CAS_END, "CAS_END", "no more items"},
    {CAS_READY, "CAS_READY", "an output item is ready"},
    {CAS_NEED_INPUT, "CAS_NEED_INPUT", "all input was consumed; push more"},
    {CAS_E_LZ4_CHECKSUM, "CAS_E_LZ4_CHECKSUM", "an LZ4 block or content checksum does not match the data"},
    {CAS_E_SHARD_HEADER, "CAS_E_SHARD_HEADER", "the shard header is invalid: its tag is not MDB_SHARD_HEADER_TAG, its version is not 2 or its footer_size is neither 0 nor 200"},
    {CAS_E_SHARD_FOOTER, "CAS_E_SHARD_FOOTER", "the shard footer is invalid: its version is not 1 or its offsets do not match the sections it describes"},
    {CAS_E_SHARD_SECTION, "CAS_E_SHARD_SECTION", "a shard section does not end where it must with an exact bookend (32 bytes 0xFF, then 16 zero bytes)"},
    {CAS_E_SHARD_ENTRY, "CAS_E_SHARD_ENTRY", "a shard entry holds impossible values: an empty or oversized chunk range or size, sizes that do not add up, or verification entries on only some files"},
    {CAS_E_SHARD_LOOKUP, "CAS_E_SHARD_LOOKUP", "a shard lookup table does not list every file, xorb or chunk exactly once by its key, sorted"},
    {CAS_E_SHARD_TOO_LARGE, "CAS_E_SHARD_TOO_LARGE", "the shard is larger than 64 MiB: split its files across several shards"},
    {CAS_E_SHARD_NO_CHUNKS, "CAS_E_SHARD_NO_CHUNKS", "the chunk hashes of a term's xorb range are not known, so its verification hash cannot be computed"},
    {CAS_E_SHARD_VERIFICATION, "CAS_E_SHARD_VERIFICATION", "a term's verification hash does not match the chunk hashes of its xorb range"},
    {CAS_E_JSON_SYNTAX, "CAS_E_JSON_SYNTAX", "the body is not JSON: an unexpected byte, a missing ',' ':' or value, a trailing comma, bytes after the value, or a byte order mark"},
    {CAS_E_JSON_DEPTH, "CAS_E_JSON_DEPTH", "JSON arrays and objects nest deeper than the limit (max_depth, default 32)"},
    {CAS_E_JSON_STRING, "CAS_E_JSON_STRING", "a JSON string is invalid: bad UTF-8, a control character, a bad escape, a lone surrogate escape, or \\u0000"},
    {CAS_E_JSON_NUMBER, "CAS_E_JSON_NUMBER", "a JSON number is malformed, or an integer field is not plain digits within its type's range"},
    {CAS_E_JSON_LIMIT, "CAS_E_JSON_LIMIT", "the JSON body or one of its strings is over its limit (max_body 64 MiB, max_string 16 KiB)"},
    {CAS_E_JSON_SCHEMA, "CAS_E_JSON_SCHEMA", "a JSON field is missing, appears twice, or has the wrong type; or a map key appears twice"},
    {CAS_E_JSON_VALUE, "CAS_E_JSON_VALUE", "a JSON value breaks the protocol's rules: an empty or oversized range, an empty or non-http(s) URL, a term no fetch entry covers"},
    {CAS_E_CANCELLED, "CAS_E_CANCELLED", "cancelled by the host: a callback returned non-zero or cancel was called; the output is incomplete"},
    {CAS_E_TERM_SIZE, "CAS_E_TERM_SIZE", "a term's decoded chunks do not add up to the unpacked_length the reconstruction gives for it"},
    {CAS_E_MULTIPART, "CAS_E_MULTIPART", "a multipart/byteranges response is malformed: its Content-Type or boundary, a delimiter, a part's headers or Content-Range, or a part body whose length differs from its Content-Range"},
    {CAS_E_NOT_FOUND, "CAS_E_NOT_FOUND", "no such file, xorb, chunk or object in the store"},
    {CAS_E_AUTH, "CAS_E_AUTH", "no bearer token, or the token is unknown or expired"},
    {CAS_E_SCOPE, "CAS_E_SCOPE", "the token lacks the scope the request needs (a read token on a write route)"},
    {CAS_E_BUSY, "CAS_E_BUSY", "a bounded resource is taken: retry later"},
    {CAS_E_IO, "CAS_E_IO", "a store callback failed"},
    {CAS_E_HTTP, "CAS_E_HTTP", "the HTTP request head is malformed: request line, version, header syntax or framing (Content-Length, Transfer-Encoding)"},
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

/* ==== >>base: error detail =============================================================== */

/* Fills *err (if any) and returns code. `what` is copied (cut to fit), so it may be built in
   a caller's temporary buffer. */
static int cas__fail(cas_error *err, int code, uint64_t offset, const char *what) {
    if (err) {
        size_t n = 0;
        err->code = (cas_result)code;
        err->offset = offset;
        if (what)
            for (; what[n] && n + 1 < sizeof err->what; n++) err->what[n] = what[n];
        err->what[n] = 0;
    }
    return code;
}

static int cas__succeed(cas_error *err) { return cas__fail(err, CAS_OK, 0, ""); }

/* ==== >>base: memory ===================================================================== */

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
/* ---- the fixed arena: blocks of [size_t size | size_t used] headers, sizes in 16s ---- */

void cas_arena_init(cas_arena *a, void *mem, size_t size) {
    uintptr_t p = (uintptr_t)mem, q = (p + 15) & ~(uintptr_t)15;
    memset(a, 0, sizeof *a);
    if (!mem || size < (size_t)(q - p) + 2 * CAS_ARENA_OVERHEAD) return;
    a->priv_base = (unsigned char *)q;
    a->priv_size = (size - (size_t)(q - p)) & ~(size_t)15;
    ((size_t *)(void *)a->priv_base)[0] = a->priv_size; /* one free block */
    ((size_t *)(void *)a->priv_base)[1] = 0;
}

static void *cas__arena_alloc(void *user, size_t size, size_t align) {
    cas_arena *a = (cas_arena *)user;
    size_t need, off = 0;
    (void)align; /* blocks start at 16 */
    if (size > a->priv_size) return NULL;
    need = ((size + 15) & ~(size_t)15) + CAS_ARENA_OVERHEAD;
    while (off < a->priv_size) {
        size_t *h = (size_t *)(void *)(a->priv_base + off);
        if (!h[1]) { /* free: absorb the free blocks that follow */
            while (off + h[0] < a->priv_size) {
                size_t *n = (size_t *)(void *)(a->priv_base + off + h[0]);
                if (n[1]) break;
                h[0] += n[0];
            }
            if (h[0] >= need) {
                if (h[0] - need >= 2 * CAS_ARENA_OVERHEAD) { /* split */
                    size_t *n = (size_t *)(void *)(a->priv_base + off + need);
                    n[0] = h[0] - need;
                    n[1] = 0;
                    h[0] = need;
                }
                h[1] = 1;
                a->used += h[0];
                if (a->used > a->peak) a->peak = a->used;
                return a->priv_base + off + CAS_ARENA_OVERHEAD;
            }
        }
        off += h[0];
    }
    return NULL;
}

static void cas__arena_free(void *user, void *ptr, size_t size) {
    cas_arena *a = (cas_arena *)user;
    size_t *h = (size_t *)(void *)((unsigned char *)ptr - CAS_ARENA_OVERHEAD);
    (void)size;
    h[1] = 0;
    a->used -= h[0];
}

cas_allocator cas_arena_allocator(cas_arena *a) {
    cas_allocator al;
    al.alloc = cas__arena_alloc;
    al.free = cas__arena_free;
    al.user = a;
    return al;
}

static CAS__UNUSED cas_allocator cas__allocator_or_default(const cas_allocator *a) {
    cas_allocator d;
    if (a && a->alloc && a->free) return *a;
    d.alloc = cas__malloc_default;
    d.free = cas__free_default;
    d.user = NULL;
    return d;
}

static void *cas__alloc(const cas_allocator *a, size_t size) { return a->alloc(a->user, size, 16); }
static void cas__free(const cas_allocator *a, void *p, size_t size) {
    if (p) a->free(a->user, p, size);
}

/* The one growable array: makes *p (elements of `elem` bytes, capacity *cap, all of them
   kept) hold at least `need`, doubling from `first`. Growing by doubling keeps memory within
   2x of what is held, so it follows the bytes received, never what an input claims.
   CAS_E_NOMEM if the allocator fails or the size would overflow; *p is unchanged then. */
static int cas__grow(const cas_allocator *a, void **p, size_t *cap, size_t need, size_t elem, size_t first) {
    size_t n = *cap ? *cap : first;
    void *np;
    if (need <= *cap) return CAS_OK;
    while (n < need) {
        if (n > ((size_t)-1) / 2 / elem) return CAS_E_NOMEM;
        n *= 2;
    }
    if (n > ((size_t)-1) / elem) return CAS_E_NOMEM;
    np = cas__alloc(a, n * elem);
    if (!np) return CAS_E_NOMEM;
    if (*cap) memcpy(np, *p, *cap * elem);
    cas__free(a, *p, *cap * elem);
    *p = np;
    *cap = n;
    return CAS_OK;
}

/* ---- sorting ---- */

/* The one sort: stable, bottom-up merge sort of n elements of `size` bytes through tmp
   (room for n elements); less(ctx, a, b): whether a goes before b. Runs of 16 are
   insertion-sorted first. A merge sort, not a heapsort: the heapsort's random accesses were
   most of a 64 MiB shard's parse time. */
typedef int (*cas__less_fn)(const void *ctx, const void *a, const void *b);
/* One element moved: a constant-size copy for the 16-byte pairs that the big sorts (a shard's
   lookups, up to ~1.3 M of them) move, a call to memcpy otherwise. */
static void cas__sort_move(uint8_t *d, const uint8_t *s, size_t size) {
    if (size == 16) memcpy(d, s, 16);
    else memcpy(d, s, size);
}
static void cas__sort(void *base, void *tmp, size_t n, size_t size, cas__less_fn less, const void *ctx) {
    uint8_t *v = (uint8_t *)base, *src = v, *dst = (uint8_t *)tmp, *t;
    uint8_t x[128];
    const size_t run = size <= sizeof x ? 16 : 1; /* (every element here is smaller) */
    size_t i, j, width;
    for (i = 0; run > 1 && i < n; i += run) {
        size_t end = n - i < run ? n : i + run;
        for (j = i + 1; j < end; j++) {
            size_t k = j;
            cas__sort_move(x, v + j * size, size);
            while (k > i && less(ctx, x, v + (k - 1) * size)) {
                cas__sort_move(v + k * size, v + (k - 1) * size, size);
                k--;
            }
            cas__sort_move(v + k * size, x, size);
        }
    }
    for (width = run; width < n; width *= 2) {
        for (i = 0; i < n; i += 2 * width) {
            size_t mid = n - i < width ? n : i + width, end = n - i < 2 * width ? n : i + 2 * width;
            size_t a = i, b = mid, k = i;
            while (a < mid && b < end) {
                const size_t from = less(ctx, src + b * size, src + a * size) ? b++ : a++;
                cas__sort_move(dst + k++ * size, src + from * size, size);
            }
            if (a < mid) memcpy(dst + k * size, src + a * size, (mid - a) * size), k += mid - a;
            if (b < end) memcpy(dst + k * size, src + b * size, (end - b) * size);
        }
        t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, n * size);
}

/* ---- decimal text (no stdio in the library) ---- */

/* Writes the decimal digits of v at out (no NUL); returns their count (at most 20). out ==
   NULL: counts only. */
static size_t cas__write_u64(char *out, uint64_t v) {
    char tmp[20];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (out)
        for (i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* ---- a growing string (JSON answers, manifests); oom is sticky ---- */

typedef struct cas__sb {
    const cas_allocator *a;
    char *p;
    size_t len, cap;
    int oom;
} cas__sb;

static void cas__sb_put(cas__sb *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n > (size_t)-1 - b->len || cas__grow(b->a, (void **)&b->p, &b->cap, b->len + n, 1, 4096)) {
        b->oom = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void cas__sb_str(cas__sb *b, const char *s) { cas__sb_put(b, s, strlen(s)); }
static void cas__sb_u64(cas__sb *b, uint64_t v) {
    char tmp[20];
    cas__sb_put(b, tmp, cas__write_u64(tmp, v));
}
static void cas__sb_hash(cas__sb *b, const cas_hash *h) {
    char hex[CAS_HASH_HEX_SIZE + 1];
    cas_hash_to_hex(h, hex);
    cas__sb_put(b, hex, CAS_HASH_HEX_SIZE);
}

/* ---- byte order and unaligned access ---- */

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

static uint32_t cas__load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void cas__store_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Native-order unaligned access: memcpy of a constant size compiles to one move. */
static uint32_t cas__read32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t cas__read64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static void cas__copy8(uint8_t *d, const uint8_t *s) { memcpy(d, s, 8); }
static void cas__copy16(uint8_t *d, const uint8_t *s) { memcpy(d, s, 16); }

#if defined(__GNUC__) || defined(__clang__)
#define CAS__FORCE_INLINE __attribute__((always_inline)) inline
#else
#define CAS__FORCE_INLINE inline
#endif

#if (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) || defined(_M_X64) || \
    defined(_M_IX86) || defined(_M_ARM64)
#define CAS__LITTLE_ENDIAN 1
#else
#define CAS__LITTLE_ENDIAN 0
#endif

static uint32_t cas__load_le24(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}
static void cas__store_le24(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16);
}

static void cas__store_le64(uint8_t *p, uint64_t v) {
    cas__store_le32(p, (uint32_t)v);
    cas__store_le32(p + 4, (uint32_t)(v >> 32));
}

/* Feeds data to a block function, keeping a partial block in buf (*used bytes): the one
   piece of code behind every incremental hash here (SHA-256 blocks, XXH32 stripes). */
typedef void (*cas__blocks_fn)(void *state, const uint8_t *p, size_t nblocks);
static void cas__feed_blocks(void *state, cas__blocks_fn fn, size_t block, uint8_t *buf,
                             uint32_t *used, const uint8_t *p, size_t len) {
    if (*used) {
        size_t take = block - *used;
        if (take > len) take = len;
        memcpy(buf + *used, p, take);
        *used += (uint32_t)take;
        p += take;
        len -= take;
        if (*used < block) return;
        fn(state, buf, 1);
        *used = 0;
    }
    if (len >= block) {
        fn(state, p, len / block);
        p += len - len % block;
        len %= block;
    }
    if (len) {
        memcpy(buf, p, len);
        *used = (uint32_t)len;
    }
}

/* ==== >>base: CPU features =============================================================== */

/* The one piece of mutable global state: the detected features (write-once; every thread
   computes the same value, so a race only repeats the detection) and the test limit. Both
   are read and written as relaxed atomics where the compiler has them (GCC, clang): threads
   that hash at once then share the cache without a data race, which ThreadSanitizer would
   report (tests/test_threads.c, run under it by make check). Elsewhere a volatile aligned
   word, which is as good on the machines such compilers target. */
static volatile unsigned cas__cpu_detected = 0; /* bit 31 set once detected */
static volatile unsigned cas__cpu_mask = ~0u;
#if defined(__ATOMIC_RELAXED)
#define CAS__ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define CAS__ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#else
#define CAS__ATOMIC_LOAD(p) (*(p))
#define CAS__ATOMIC_STORE(p, v) (*(p) = (v))
#endif

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
static unsigned cas__cpu_detect(void) {
    unsigned f = CAS_CPU_NEON;
#if CAS__ARM64_SHA2 && defined(__linux__)
    if (getauxval(AT_HWCAP) & (1ul << 6)) f |= CAS_CPU_SHA; /* HWCAP_SHA2 */
#elif CAS__ARM64_SHA2 && (defined(__APPLE__) || defined(__ARM_FEATURE_SHA2))
    f |= CAS_CPU_SHA;
#endif
    return f;
}
#else
static unsigned cas__cpu_detect(void) { return 0; }
#endif

unsigned cas_cpu_features(void) {
    unsigned d = CAS__ATOMIC_LOAD(&cas__cpu_detected);
    if (!(d & 0x80000000u)) {
        d = cas__cpu_detect() | 0x80000000u;
        CAS__ATOMIC_STORE(&cas__cpu_detected, d);
    }
    return d & CAS__ATOMIC_LOAD(&cas__cpu_mask) & 0x7fffffffu;
}

void cas_cpu_limit(unsigned mask) {
    CAS__ATOMIC_STORE(&cas__cpu_mask, mask);
    cas__blake3_limit(cas_cpu_features());
}

/* ==== >>primitives: hashes =============================================================== */

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

cas_result cas_hash_from_hex(const char *hex, size_t len, cas_hash *h) {
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

cas_result cas_internal_node_hash(const cas_chunk *nodes, size_t n, cas_hash *out, uint64_t *size_out) {
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
        /* A file streams from memory: SHA-NI outruns the hardware prefetcher there (256 MiB
           hashed at 1.1 GB/s against 1.86 cache-resident); a line 8 KiB ahead per block
           (a prefetch past the end is harmless) keeps the loads in the caches. */
        CAS__PREFETCH(p + 8192);
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

#if CAS__ARM64_SHA2
/* ARMv8: SHA256H/SHA256H2 take ABCD and EFGH as they lie in the state; each step of 4 rounds
   adds K to 4 message words, and SHA256SU0/SU1 make the words 16 ahead. */
#if defined(__clang__)
CAS__TARGET("crypto")
#else
CAS__TARGET("+crypto")
#endif
static void cas__sha256_blocks_armv8(uint32_t st[8], const uint8_t *p, size_t nblocks) {
    uint32x4_t s0 = vld1q_u32(&st[0]), s1 = vld1q_u32(&st[4]);
    for (; nblocks; nblocks--, p += 64) {
        uint32x4_t abcd = s0, efgh = s1, w[4];
        int i;
        for (i = 0; i < 4; i++) w[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16 * i)));
        for (i = 0; i < 16; i++) {
            uint32x4_t m = vaddq_u32(w[i & 3], vld1q_u32(&cas__sha256_k[4 * i])), prev = s0;
            s0 = vsha256hq_u32(s0, s1, m);
            s1 = vsha256h2q_u32(s1, prev, m);
            if (i < 12)
                w[i & 3] = vsha256su1q_u32(vsha256su0q_u32(w[i & 3], w[(i + 1) & 3]), w[(i + 2) & 3], w[(i + 3) & 3]);
        }
        s0 = vaddq_u32(s0, abcd);
        s1 = vaddq_u32(s1, efgh);
    }
    vst1q_u32(&st[0], s0);
    vst1q_u32(&st[4], s1);
}
#endif

static void cas__sha256_blocks(uint32_t st[8], const uint8_t *p, size_t nblocks) {
#if CAS__X86_GNU
    if (cas_cpu_features() & CAS_CPU_SHA) {
        cas__sha256_blocks_shani(st, p, nblocks);
        return;
    }
#elif CAS__ARM64_SHA2
    if (cas_cpu_features() & CAS_CPU_SHA) {
        cas__sha256_blocks_armv8(st, p, nblocks);
        return;
    }
#endif
    cas__sha256_blocks_portable(st, p, nblocks);
}

const char *cas_sha256_path(void) {
#if CAS__ARM64_SHA2
    return (cas_cpu_features() & CAS_CPU_SHA) ? "armv8-sha2" : "portable";
#else
    return (cas_cpu_features() & CAS_CPU_SHA) ? "sha-ni" : "portable";
#endif
}

void cas_sha256_init(cas_sha256 *s) {
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(s->priv_state, iv, sizeof iv);
    s->priv_length = 0;
    s->priv_used = 0;
}

static void cas__sha256_feed(void *state, const uint8_t *p, size_t nblocks) {
    cas__sha256_blocks((uint32_t *)state, p, nblocks);
}

void cas_sha256_update(cas_sha256 *s, const void *data, size_t len) {
    s->priv_length += len;
    cas__feed_blocks(s->priv_state, cas__sha256_feed, 64, s->priv_block, &s->priv_used,
                     (const uint8_t *)data, len);
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
#ifdef CAS_TEST_EXPORTS
extern const uint64_t cas__gear[256]; /* (external linkage in C++ too) */
#endif
CAS__TESTED const uint64_t cas__gear[256] = {
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
    /* Two bytes a step where both positions may cut and neither is forced: h advances by
       4h + (2 T[b1] + T[b2]), one dependent lea per two bytes instead of one per byte, and
       the middle hash (2h + T[b1]) is a side branch. */
    while (i + 2 <= n && size + 1 >= CAS_CHUNK_MIN_SIZE && size + 2 < CAS_CHUNK_MAX_SIZE) {
        uint64_t g1 = cas__gear[p[i]], g2 = cas__gear[p[i + 1]];
        uint64_t mid = (h << 1) + g1;
        h = (h << 2) + ((g1 << 1) + g2);
        if (CAS__UNLIKELY(mid < CAS__GEAR_LIMIT)) {
            *cut = size + 1;
            c->priv_hash = 0;
            c->priv_size = 0;
            return i + 1;
        }
        i += 2;
        size += 2;
        if (CAS__UNLIKELY(h < CAS__GEAR_LIMIT)) {
            *cut = size;
            c->priv_hash = 0;
            c->priv_size = 0;
            return i;
        }
    }
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

/* Lane k > 0 of an 8-lane scan rebuilds the hash entering it from the last 64 bytes of lane
   k-1 (older bytes are shifted out); lane 0 carries the chunker's. */
#define CAS__GEAR_WARMUP(q, lane_len)                                                          \
    for (j = (lane_len) - 64; j < (lane_len); j++) {                                           \
        h1 = (h1 << 1) + cas__gear[(q)[0 * (lane_len) + j]];                                   \
        h2 = (h2 << 1) + cas__gear[(q)[1 * (lane_len) + j]];                                   \
        h3 = (h3 << 1) + cas__gear[(q)[2 * (lane_len) + j]];                                   \
        h4 = (h4 << 1) + cas__gear[(q)[3 * (lane_len) + j]];                                   \
        h5 = (h5 << 1) + cas__gear[(q)[4 * (lane_len) + j]];                                   \
        h6 = (h6 << 1) + cas__gear[(q)[5 * (lane_len) + j]];                                   \
        h7 = (h7 << 1) + cas__gear[(q)[6 * (lane_len) + j]];                                   \
    }

#if CAS__X86_GNU && defined(__x86_64__) && !defined(__ILP32__)
/* Two steps of 8 lanes `lane` bytes apart from q (advanced by 2), in assembly: 4 instructions
   per lane and byte (load the byte, load its gear value, h = 2h + gear by lea, compare with
   `limit`, branch), against 5 or more from the compilers, which turn the per-lane test into
   setcc/cmov chains or spill under register pressure. At a cut candidate `limit` becomes 0,
   which stops the scanning (the block is then rescanned). x86-64 (not x32); AT&T and Intel
   (-masm=intel) syntax. */
#define CAS__GEAR_ASM 1
#define CAS__GEAR_LANE_ASM(k, s, h)                                                            \
    "{movzbl " #k "*%c[lane]+" #s "(%[q]), %k[t]"                                              \
    "|movzx %k[t], byte ptr [%[q]+" #k "*%c[lane]+" #s "]}\n\t"                                \
    "{movq (%[g],%[t],8), %[t]|mov %[t], qword ptr [%[g]+%[t]*8]}\n\t"                         \
    "{leaq (%[t],%[" #h "],2), %[" #h "]|lea %[" #h "], [%[t]+%[" #h "]*2]}\n\t"               \
    "{cmpq %[lim], %[" #h "]|cmp %[" #h "], %[lim]}\n\t"                                       \
    "jb 8f\n\t"
#define CAS__GEAR_STEP2_ASM(lane_len)                                                          \
    {                                                                                          \
        uint64_t t_;                                                                           \
        __asm__(CAS__GEAR_LANE_ASM(0, 0, h0) CAS__GEAR_LANE_ASM(1, 0, h1)                      \
                CAS__GEAR_LANE_ASM(2, 0, h2) CAS__GEAR_LANE_ASM(3, 0, h3)                      \
                CAS__GEAR_LANE_ASM(4, 0, h4) CAS__GEAR_LANE_ASM(5, 0, h5)                      \
                CAS__GEAR_LANE_ASM(6, 0, h6) CAS__GEAR_LANE_ASM(7, 0, h7)                      \
                CAS__GEAR_LANE_ASM(0, 1, h0) CAS__GEAR_LANE_ASM(1, 1, h1)                      \
                CAS__GEAR_LANE_ASM(2, 1, h2) CAS__GEAR_LANE_ASM(3, 1, h3)                      \
                CAS__GEAR_LANE_ASM(4, 1, h4) CAS__GEAR_LANE_ASM(5, 1, h5)                      \
                CAS__GEAR_LANE_ASM(6, 1, h6) CAS__GEAR_LANE_ASM(7, 1, h7)                      \
                "{addq $2, %[q]|add %[q], 2}\n\t"                                              \
                "jmp 9f\n"                                                                     \
                "8:\n\t"                                                                       \
                "{xorl %k[lim], %k[lim]|xor %k[lim], %k[lim]}\n"                               \
                "9:"                                                                           \
                : [h0] "+r"(h0), [h1] "+r"(h1), [h2] "+r"(h2), [h3] "+r"(h3), [h4] "+r"(h4),   \
                  [h5] "+r"(h5), [h6] "+r"(h6), [h7] "+r"(h7), [lim] "+r"(limit), [t] "=&r"(t_), \
                  [q] "+r"(q)                                                                  \
                : [g] "r"(cas__gear), [lane] "i"(lane_len)                                     \
                : "cc", "memory"); /* reads the caller's bytes: no store may move past it */   \
    }
#endif

/* Tests CAS__GEAR_BLOCK bytes in which every position may cut (size >= MIN) and none is
   forced (size < MAX), as 8 independent lanes: the serial loop is bound by the latency of
   its one-byte dependency chain (h = 2h + T[b]); 8 chains in flight hide it. A cut is
   h < 2^48 at any position: tested per lane in the assembly, else the lanes' minimum once
   per step. Returns 0, with nothing changed, if any lane sees a cut: the caller rescans the
   block serially to find the first one. */
#define CAS__GEAR_STEP(k, at) h##k = (h##k << 1) + cas__gear[p[(at) + j]]
static int cas__gear_block(cas_chunker *c, const uint8_t *p) {
    uint64_t h0 = c->priv_hash, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0;
    size_t j;
    const size_t n = CAS__GEAR_LANE;
    CAS__GEAR_WARMUP(p, CAS__GEAR_LANE)
#if CAS__GEAR_ASM
    {
        uint64_t limit = CAS__GEAR_LIMIT;
        const uint8_t *q = p;
        for (j = 0; j < n && limit; j += 2) {
            if ((j & 63) == 0) { /* eight interleaved streams: prefetch the next block's lines */
                int k;
                for (k = 0; k < 8; k++) CAS__PREFETCH(p + CAS__GEAR_BLOCK + (size_t)k * n + j);
            }
            CAS__GEAR_STEP2_ASM(CAS__GEAR_LANE)
        }
        if (!limit) return 0;
    }
#else
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
#endif
    c->priv_hash = h7;
    c->priv_size += CAS__GEAR_BLOCK;
    return 1;
}
#undef CAS__GEAR_STEP


/* One step of the scan over at most n > 0 bytes: a run of skipped bytes, the warm-up before
   the first test, an 8-lane block, or a serial run. Returns bytes consumed; *cut set (and
   the chunker reset) if the chunk ended. */
static size_t cas__chunker_step(cas_chunker *c, const uint8_t *p, size_t n, uint64_t *cut) {
    uint64_t size = c->priv_size;
    if (size < CAS__GEAR_SKIP) { /* bytes that cannot influence any tested hash */
        if (n > CAS__GEAR_SKIP - size) n = (size_t)(CAS__GEAR_SKIP - size);
        c->priv_size += n;
        return n;
    }
    if (size < CAS_CHUNK_MIN_SIZE) { /* the warm-up bytes, and the first test */
        if (n > CAS_CHUNK_MIN_SIZE - size) n = (size_t)(CAS_CHUNK_MIN_SIZE - size);
    } else if (n >= CAS__GEAR_BLOCK && size + CAS__GEAR_BLOCK < CAS_CHUNK_MAX_SIZE) {
        if (cas__gear_block(c, p)) return CAS__GEAR_BLOCK;
        n = CAS__GEAR_BLOCK; /* a match lies in this block: find the first one */
    }
    return cas__gear_serial(c, p, n, cut);
}

size_t cas_chunker_scan(cas_chunker *c, const void *data, size_t len, uint64_t *cut) {
    const uint8_t *p = (const uint8_t *)data;
    size_t i = 0;
    *cut = 0;
    while (i < len && !*cut) i += cas__chunker_step(c, p + i, len - i, cut);
    return i;
}

uint64_t cas_chunker_finish(cas_chunker *c) {
    uint64_t size = c->priv_size;
    cas_chunker_init(c);
    return size;
}

/* ---- chunk + hash fused (x86-64 AVX-512, AVX2) -------------------------------------------
   The 8-lane scan is bound by integer work (4 instructions per byte, 2 of them loads), and
   BLAKE3's 16-lane compression by the vector units: one after the other their times add
   (1/(1/3.9 + 1/4.5) GB/s on a Zen 4). Interleaved in one loop, the out-of-order core runs
   both at once. cas__fused16_avx512 hashes 16 BLAKE3 chunks (16 KiB) of the current chunk, 16
   lanes wide (16 blocks of 64 bytes each, 7 rounds of 8 G each), and after each G runs 2
   steps of the 8-lane scan (lanes of CAS__FUSED_LANE bytes), plus 2 more after 8 of a
   block's 56 G: 128 steps per BLAKE3 block, one scan block per 8. It is BLAKE3's compression
   function written again (the vendored code cannot be interleaved with): the test vectors,
   and the chunk hashes of every input in the tests under each cas_cpu_limit() tier, pin it.
   Without AVX-512, cas__fused16_avx2 does the same 8 lanes wide; cas__fused_step drives
   either (cas__fused_pick). */
#if CAS__GEAR_ASM && !defined(CAS_BLAKE3_EXTERNAL) && (!defined(BLAKE3_NO_AVX512) || !defined(BLAKE3_NO_AVX2))
#define CAS__FUSED 1
#define CAS__FUSED_LANE 1024 /* 2 scan blocks per 16 KiB hashed; longer lanes, less warm-up */
#define CAS__FUSED_BLOCK (8 * CAS__FUSED_LANE)
#define CAS__B3_CHUNK 1024 /* BLAKE3_CHUNK_LEN */
#define CAS__FUSED_HASH (16 * CAS__B3_CHUNK)
#define CAS__FUSED_STEP2                                                                       \
    if (limit) CAS__GEAR_STEP2_ASM(CAS__FUSED_LANE)

/* The kernels' one signature: hashes the 16 whole BLAKE3 chunks at `in` (chunk counters
   counter..counter+15, hasher key and flags) into their 16 chaining values, and scans
   `blocks` (1 or 2) blocks at p (every position may cut, none is forced). Returns how many
   blocks were scanned with no cut candidate (c advanced past them); if fewer than `blocks`,
   the next block holds one and must be rescanned serially, and *at is the offset in its
   lanes of the scan step that saw it: every lane is clean before it. */
typedef int (*cas__fused_kernel)(cas_chunker *c, const uint8_t *p, int blocks, const uint8_t *in,
                                 uint64_t counter, const uint32_t key[8], uint8_t flags,
                                 uint8_t cvs[16 * 32], size_t *at);
#endif

#if CAS__FUSED && !defined(BLAKE3_NO_AVX512)
#define CAS__FUSED_AVX512 1
#define CAS__B3_ROT(x, n) _mm512_ror_epi32(x, n)
#define CAS__B3_G(a, b, c, d, mx, my)                                                          \
    a = _mm512_add_epi32(_mm512_add_epi32(a, b), mx);                                          \
    d = CAS__B3_ROT(_mm512_xor_si512(d, a), 16);                                               \
    c = _mm512_add_epi32(c, d);                                                                \
    b = CAS__B3_ROT(_mm512_xor_si512(b, c), 12);                                               \
    a = _mm512_add_epi32(_mm512_add_epi32(a, b), my);                                          \
    d = CAS__B3_ROT(_mm512_xor_si512(d, a), 8);                                                \
    c = _mm512_add_epi32(c, d);                                                                \
    b = CAS__B3_ROT(_mm512_xor_si512(b, c), 7)
#define CAS__FUSED_ROUND(s, extra)                                                             \
    CAS__B3_G(v0, v4, v8, v12, m[s[0]], m[s[1]]); CAS__FUSED_STEP2 extra                       \
    CAS__B3_G(v1, v5, v9, v13, m[s[2]], m[s[3]]); CAS__FUSED_STEP2                             \
    CAS__B3_G(v2, v6, v10, v14, m[s[4]], m[s[5]]); CAS__FUSED_STEP2                            \
    CAS__B3_G(v3, v7, v11, v15, m[s[6]], m[s[7]]); CAS__FUSED_STEP2                            \
    CAS__B3_G(v0, v5, v10, v15, m[s[8]], m[s[9]]); CAS__FUSED_STEP2 extra                      \
    CAS__B3_G(v1, v6, v11, v12, m[s[10]], m[s[11]]); CAS__FUSED_STEP2                          \
    CAS__B3_G(v2, v7, v8, v13, m[s[12]], m[s[13]]); CAS__FUSED_STEP2                           \
    CAS__B3_G(v3, v4, v9, v14, m[s[14]], m[s[15]]); CAS__FUSED_STEP2

/* Rows r[i] = the 16 words of lane i's block  ->  m[w] = word w of the 16 lanes. Inlined:
   as a call its arrays go through memory. */
CAS__TARGET("avx512f") __attribute__((always_inline))
static inline void cas__b3_transpose16(__m512i r[16], __m512i m[16]) {
    __m512i t[16];
    int i, w;
    for (i = 0; i < 16; i += 2) { /* per 128-bit lane: a0 b0 a1 b1 | a2 b2 a3 b3 */
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (i = 0; i < 16; i += 4) { /* r[i + w] lane q: word 4q + w of rows i..i+3 */
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (w = 0; w < 4; w++) { /* 4x4 transpose of 128-bit lanes across row groups */
        __m512i x0 = _mm512_shuffle_i32x4(r[w], r[4 + w], 0x44);
        __m512i x1 = _mm512_shuffle_i32x4(r[w], r[4 + w], 0xEE);
        __m512i y0 = _mm512_shuffle_i32x4(r[8 + w], r[12 + w], 0x44);
        __m512i y1 = _mm512_shuffle_i32x4(r[8 + w], r[12 + w], 0xEE);
        m[w] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        m[4 + w] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
        m[8 + w] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        m[12 + w] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
    }
}

/* A cas__fused_kernel: the 16 BLAKE3 chunks 16 lanes wide, one scan block per 8 of their
   blocks. */
CAS__TARGET("avx512f")
static int cas__fused16_avx512(cas_chunker *c, const uint8_t *p, int blocks, const uint8_t *in,
                               uint64_t counter, const uint32_t key[8], uint8_t flags,
                               uint8_t cvs[16 * 32], size_t *at) {
    __m512i hv[8], m[16], r[16], ctr_lo, ctr_hi;
    uint32_t lo[16], hi[16], words[8][16];
    uint64_t h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0;
    const uint8_t *q = p;
    size_t j;
    uint64_t limit = CAS__GEAR_LIMIT; /* 0 once a cut candidate is seen */
    int done = 0, block, round, i, w;
    for (i = 0; i < 16; i++) {
        lo[i] = (uint32_t)(counter + (uint64_t)i);
        hi[i] = (uint32_t)((counter + (uint64_t)i) >> 32);
    }
    ctr_lo = _mm512_loadu_si512((const void *)lo);
    ctr_hi = _mm512_loadu_si512((const void *)hi);
    for (i = 0; i < 8; i++) hv[i] = _mm512_set1_epi32((int)key[i]);
    for (block = 0; block < 16; block++) {
        __m512i v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15;
        const uint8_t *row = in + (size_t)block * 64; /* lane i's block: row + i KiB */
        uint8_t bf = (uint8_t)(flags | (block == 0 ? cas__b3_CHUNK_START : 0) |
                               (block == 15 ? cas__b3_CHUNK_END : 0));
        if ((block & 7) == 0 && limit && (block >> 3) == blocks) limit = 0; /* all scanned */
        if ((block & 7) == 0 && limit) { /* a new scan block: lane k > 0 warms up */
            h0 = c->priv_hash;
            h1 = h2 = h3 = h4 = h5 = h6 = h7 = 0;
            q = p + (size_t)done * CAS__FUSED_BLOCK; /* the steps advance q */
            CAS__GEAR_WARMUP(q, CAS__FUSED_LANE)
        }
        for (i = 0; i < 16; i++)
            r[i] = _mm512_loadu_si512((const void *)(row + (size_t)i * CAS__B3_CHUNK));
        cas__b3_transpose16(r, m);
        if (block < 15) /* the next block's 16 lines, 1 KiB apart */
            for (i = 0; i < 16; i++) CAS__PREFETCH(row + (size_t)i * CAS__B3_CHUNK + 64);
        /* and the bytes the scan reaches later: it runs a scan block ahead of the hash; the
           lines two groups past this one's scan, as the hash goes (out of the caches the
           fused loop outran the hardware prefetcher: 256 MiB at 1.74 GB/s, 1.88 with this;
           16 KiB ahead and 32 KiB ahead measured alike) */
        for (i = 0; i < 16; i++) CAS__PREFETCH(row + 2 * CAS__FUSED_HASH + CAS__FUSED_BLOCK + (size_t)i * CAS__B3_CHUNK);
        v0 = hv[0]; v1 = hv[1]; v2 = hv[2]; v3 = hv[3];
        v4 = hv[4]; v5 = hv[5]; v6 = hv[6]; v7 = hv[7];
        v8 = _mm512_set1_epi32((int)cas__b3_IV[0]); v9 = _mm512_set1_epi32((int)cas__b3_IV[1]);
        v10 = _mm512_set1_epi32((int)cas__b3_IV[2]); v11 = _mm512_set1_epi32((int)cas__b3_IV[3]);
        v12 = ctr_lo; v13 = ctr_hi;
        v14 = _mm512_set1_epi32(64); v15 = _mm512_set1_epi32(bf);
        for (round = 0; round < 7; round++) { /* not unrolled: 7x the code, no faster */
            const uint8_t *sch = cas__b3_MSG_SCHEDULE[round];
            CAS__FUSED_ROUND(sch, if (round < 4) { CAS__FUSED_STEP2 });
        }
        hv[0] = _mm512_xor_si512(v0, v8); hv[1] = _mm512_xor_si512(v1, v9);
        hv[2] = _mm512_xor_si512(v2, v10); hv[3] = _mm512_xor_si512(v3, v11);
        hv[4] = _mm512_xor_si512(v4, v12); hv[5] = _mm512_xor_si512(v5, v13);
        hv[6] = _mm512_xor_si512(v6, v14); hv[7] = _mm512_xor_si512(v7, v15);
        if ((block & 7) == 7 && limit) { /* the scan block is clean */
            c->priv_hash = h7;
            c->priv_size += CAS__FUSED_BLOCK;
            done++;
        }
    }
    for (w = 0; w < 8; w++) _mm512_storeu_si512((void *)words[w], hv[w]);
    for (i = 0; i < 16; i++)
        for (w = 0; w < 8; w++) cas__b3_store32(cvs + i * 32 + w * 4, words[w][i]);
    *at = (size_t)(q - (p + (size_t)done * CAS__FUSED_BLOCK)); /* (q stops at a candidate) */
    return done;
}
#undef CAS__FUSED_ROUND
#undef CAS__B3_G
#undef CAS__B3_ROT
#endif

/* ---- the same on AVX2 (no AVX-512): 8 lanes ----
   cas__fused16_avx2 hashes the 16 BLAKE3 chunks as two halves of 8 (8 KiB each), 8 lanes
   wide, and scans one block with each half: 32 scan steps per BLAKE3 block (one after every
   other G, 2 more after 2 of a block's 56 G in its first 2 rounds), 512 per half, so the
   cas__fused_step driver and cas_chunk_stream_push's schedule are those of AVX-512. AVX2 has
   no rotate: by 16 and 8 a byte shuffle, by 12 and 7 two shifts and an or; its 16 registers
   hold the state, the message words stay in memory. */
#if CAS__FUSED && !defined(BLAKE3_NO_AVX2)
#define CAS__FUSED_AVX2 1
#define CAS__B3_ROTS(x, n) _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - (n)))
#define CAS__B3_G8(a, b, c, d, mx, my)                                                         \
    a = _mm256_add_epi32(_mm256_add_epi32(a, b), mx);                                          \
    d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot16);                                    \
    c = _mm256_add_epi32(c, d);                                                                \
    b = CAS__B3_ROTS(_mm256_xor_si256(b, c), 12);                                              \
    a = _mm256_add_epi32(_mm256_add_epi32(a, b), my);                                          \
    d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot8);                                     \
    c = _mm256_add_epi32(c, d);                                                                \
    b = CAS__B3_ROTS(_mm256_xor_si256(b, c), 7)
#define CAS__FUSED8_ROUND(s, extra)                                                            \
    CAS__B3_G8(v0, v4, v8, v12, m[s[0]], m[s[1]]); CAS__FUSED_STEP2                            \
    CAS__B3_G8(v1, v5, v9, v13, m[s[2]], m[s[3]]); extra                                       \
    CAS__B3_G8(v2, v6, v10, v14, m[s[4]], m[s[5]]); CAS__FUSED_STEP2                           \
    CAS__B3_G8(v3, v7, v11, v15, m[s[6]], m[s[7]]);                                            \
    CAS__B3_G8(v0, v5, v10, v15, m[s[8]], m[s[9]]); CAS__FUSED_STEP2                           \
    CAS__B3_G8(v1, v6, v11, v12, m[s[10]], m[s[11]]); extra                                    \
    CAS__B3_G8(v2, v7, v8, v13, m[s[12]], m[s[13]]); CAS__FUSED_STEP2                          \
    CAS__B3_G8(v3, v4, v9, v14, m[s[14]], m[s[15]])

/* Rows r[i] = 8 words of lane i  ->  r[w] = word w of the 8 lanes (BLAKE3's transpose_vecs). */
CAS__TARGET("avx2") __attribute__((always_inline))
static inline void cas__b3_transpose8_avx2(__m256i r[8]) {
    __m256i ab_0145 = _mm256_unpacklo_epi32(r[0], r[1]), ab_2367 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i cd_0145 = _mm256_unpacklo_epi32(r[2], r[3]), cd_2367 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i ef_0145 = _mm256_unpacklo_epi32(r[4], r[5]), ef_2367 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i gh_0145 = _mm256_unpacklo_epi32(r[6], r[7]), gh_2367 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i abcd_04 = _mm256_unpacklo_epi64(ab_0145, cd_0145), abcd_15 = _mm256_unpackhi_epi64(ab_0145, cd_0145);
    __m256i abcd_26 = _mm256_unpacklo_epi64(ab_2367, cd_2367), abcd_37 = _mm256_unpackhi_epi64(ab_2367, cd_2367);
    __m256i efgh_04 = _mm256_unpacklo_epi64(ef_0145, gh_0145), efgh_15 = _mm256_unpackhi_epi64(ef_0145, gh_0145);
    __m256i efgh_26 = _mm256_unpacklo_epi64(ef_2367, gh_2367), efgh_37 = _mm256_unpackhi_epi64(ef_2367, gh_2367);
    r[0] = _mm256_permute2x128_si256(abcd_04, efgh_04, 0x20);
    r[1] = _mm256_permute2x128_si256(abcd_15, efgh_15, 0x20);
    r[2] = _mm256_permute2x128_si256(abcd_26, efgh_26, 0x20);
    r[3] = _mm256_permute2x128_si256(abcd_37, efgh_37, 0x20);
    r[4] = _mm256_permute2x128_si256(abcd_04, efgh_04, 0x31);
    r[5] = _mm256_permute2x128_si256(abcd_15, efgh_15, 0x31);
    r[6] = _mm256_permute2x128_si256(abcd_26, efgh_26, 0x31);
    r[7] = _mm256_permute2x128_si256(abcd_37, efgh_37, 0x31);
}

/* A cas__fused_kernel: the 16 BLAKE3 chunks as 2 x 8 lanes, one scan block per half. */
CAS__TARGET("avx2")
static int cas__fused16_avx2(cas_chunker *c, const uint8_t *p, int blocks, const uint8_t *in,
                             uint64_t counter, const uint32_t key[8], uint8_t flags,
                             uint8_t cvs[16 * 32], size_t *at) {
    const __m256i rot16 = _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2,
                                          13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2);
    const __m256i rot8 = _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1,
                                         12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1);
    __m256i hv[8], m[16], ctr_lo, ctr_hi;
    uint32_t lo[8], hi[8], words[8][8];
    uint64_t h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0;
    const uint8_t *q = p;
    size_t j;
    uint64_t limit = CAS__GEAR_LIMIT; /* 0 once a cut candidate is seen */
    int done = 0, half, block, round, i, w;
    for (half = 0; half < 2; half++) {
        const uint8_t *base = in + (size_t)half * (8 * CAS__B3_CHUNK);
        uint64_t ctr = counter + (uint64_t)half * 8;
        for (i = 0; i < 8; i++) {
            lo[i] = (uint32_t)(ctr + (uint64_t)i);
            hi[i] = (uint32_t)((ctr + (uint64_t)i) >> 32);
        }
        ctr_lo = _mm256_loadu_si256((const __m256i *)(const void *)lo);
        ctr_hi = _mm256_loadu_si256((const __m256i *)(const void *)hi);
        for (i = 0; i < 8; i++) hv[i] = _mm256_set1_epi32((int)key[i]);
        if (half && !done && blocks == 2) break; /* a cut in the first half's 8 KiB: the
            driver takes none of the second half's chunks (the cut ends them), so unhashed */
        if (limit && half == blocks) limit = 0; /* all scanned */
        if (limit) { /* a new scan block: lane k > 0 warms up */
            h0 = c->priv_hash;
            h1 = h2 = h3 = h4 = h5 = h6 = h7 = 0;
            q = p + (size_t)done * CAS__FUSED_BLOCK; /* the steps advance q */
            CAS__GEAR_WARMUP(q, CAS__FUSED_LANE)
        }
        for (block = 0; block < 16; block++) {
            __m256i v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15;
            const uint8_t *row = base + (size_t)block * 64; /* lane i's block: row + i KiB */
            uint8_t bf = (uint8_t)(flags | (block == 0 ? cas__b3_CHUNK_START : 0) |
                                   (block == 15 ? cas__b3_CHUNK_END : 0));
            for (i = 0; i < 8; i++) {
                m[i] = _mm256_loadu_si256((const __m256i *)(const void *)(row + (size_t)i * CAS__B3_CHUNK));
                m[8 + i] = _mm256_loadu_si256((const __m256i *)(const void *)(row + (size_t)i * CAS__B3_CHUNK + 32));
            }
            cas__b3_transpose8_avx2(m);
            cas__b3_transpose8_avx2(m + 8);
            for (i = 0; i < 8; i++) {
                if (block < 15) CAS__PREFETCH(row + (size_t)i * CAS__B3_CHUNK + 64); /* the next block */
                /* and the bytes the scan reaches later, as the AVX-512 kernel does */
                CAS__PREFETCH(row + 2 * CAS__FUSED_HASH + CAS__FUSED_BLOCK + (size_t)i * CAS__B3_CHUNK);
            }
            v0 = hv[0]; v1 = hv[1]; v2 = hv[2]; v3 = hv[3];
            v4 = hv[4]; v5 = hv[5]; v6 = hv[6]; v7 = hv[7];
            v8 = _mm256_set1_epi32((int)cas__b3_IV[0]); v9 = _mm256_set1_epi32((int)cas__b3_IV[1]);
            v10 = _mm256_set1_epi32((int)cas__b3_IV[2]); v11 = _mm256_set1_epi32((int)cas__b3_IV[3]);
            v12 = ctr_lo; v13 = ctr_hi;
            v14 = _mm256_set1_epi32(64); v15 = _mm256_set1_epi32(bf);
            for (round = 0; round < 7; round++) {
                const uint8_t *sch = cas__b3_MSG_SCHEDULE[round];
                CAS__FUSED8_ROUND(sch, if (round < 2) { CAS__FUSED_STEP2 });
            }
            hv[0] = _mm256_xor_si256(v0, v8); hv[1] = _mm256_xor_si256(v1, v9);
            hv[2] = _mm256_xor_si256(v2, v10); hv[3] = _mm256_xor_si256(v3, v11);
            hv[4] = _mm256_xor_si256(v4, v12); hv[5] = _mm256_xor_si256(v5, v13);
            hv[6] = _mm256_xor_si256(v6, v14); hv[7] = _mm256_xor_si256(v7, v15);
        }
        if (limit) { /* the scan block is clean */
            c->priv_hash = h7;
            c->priv_size += CAS__FUSED_BLOCK;
            done++;
        }
        for (w = 0; w < 8; w++) _mm256_storeu_si256((__m256i *)(void *)words[w], hv[w]);
        for (i = 0; i < 8; i++)
            for (w = 0; w < 8; w++) cas__b3_store32(cvs + (half * 8 + i) * 32 + w * 4, words[w][i]);
    }
    *at = (size_t)(q - (p + (size_t)done * CAS__FUSED_BLOCK)); /* (q stops at a candidate) */
    return done;
}
#undef CAS__FUSED8_ROUND
#undef CAS__B3_G8
#undef CAS__B3_ROTS
#endif

#if CAS__FUSED

/* The serial rescan of the scan block at b that holds a cut, every lane clean before offset
   j (a kernel's *at): the first cut lies at offset j or later in the first lane that has one,
   so each lane from the first is scanned from j on, its hash rebuilt from the 64 bytes before
   (as CAS__GEAR_WARMUP; lane 0 with j < 64 from the block's start, with the chunker's), up to
   the lane with the cut: about half the bytes of a rescan of the whole block. As
   cas__gear_serial (c advanced, or *cut set and c reset). */
static size_t cas__fused_rescan(cas_chunker *c, const uint8_t *b, size_t j, uint64_t *cut) {
    size_t k;
    for (k = 0; k < 8; k++) {
        cas_chunker t;
        size_t at = k * CAS__FUSED_LANE + j, x, n;
        if (at < 64) {
            t = *c;
            at = k * CAS__FUSED_LANE;
        } else {
            t.priv_hash = 0;
            for (x = at - 64; x < at; x++) t.priv_hash = (t.priv_hash << 1) + cas__gear[b[x]];
            t.priv_size = c->priv_size + at;
        }
        n = cas__gear_serial(&t, b + at, (k + 1) * CAS__FUSED_LANE - at, cut);
        if (*cut) {
            *c = t;
            return at + n;
        }
    }
    return cas__gear_serial(c, b, CAS__FUSED_BLOCK, cut); /* not reached: a lane holds the cut */
}

/* Hashes the 16 KiB at `in` (16 BLAKE3 chunks of the current chunk, the hasher at a 16-chunk
   boundary) while scanning `blocks` blocks at p (p >= in), and hands the hasher the chunks
   known to be followed by more of this chunk (no cut up to the end of the scan; the byte
   after it belongs to the chunk): all 16 as one subtree, as its own update would, or, where
   the chunk ends or the scan stops short of the 16 KiB, the whole ones before that, one by
   one. The rest is dropped (hashed again by the caller). Returns bytes scanned, *cut as
   cas__chunker_step, and *took the bytes handed over. */
static size_t cas__fused_step(cas_chunk_stream *s, cas__fused_kernel kernel, const uint8_t *p, int blocks,
                              const uint8_t *in, uint64_t *cut, size_t *took) {
    cas__blake3_hasher *b = (cas__blake3_hasher *)(void *)s->priv_hasher.priv.bytes;
    uint8_t cvs[16 * 32], parents[16 * 32];
    uint64_t counter = b->chunk.chunk_counter;
    size_t at = 0;
    int done = kernel(&s->priv_chunker, p, blocks, in, counter, b->key, b->chunk.flags, cvs, &at);
    size_t n = (size_t)done * CAS__FUSED_BLOCK, known, k;
    if (done < blocks) n += cas__fused_rescan(&s->priv_chunker, p + n, at, cut);
    known = (size_t)(p + n - in) - (*cut ? 1 : 0); /* bytes of `in` followed by more */
    k = known / CAS__B3_CHUNK;
    if (k >= 16) {
        cas__b3_compress_parents_parallel(cvs, 16, b->key, b->chunk.flags, parents);
        cas__b3_compress_parents_parallel(parents, 8, b->key, b->chunk.flags, cvs);
        cas__b3_compress_parents_parallel(cvs, 4, b->key, b->chunk.flags, parents);
        cas__b3_hasher_push_cv(b, parents, counter);
        cas__b3_hasher_push_cv(b, parents + 32, counter + 8);
        k = 16;
    } else {
        size_t j;
        for (j = 0; j < k; j++) cas__b3_hasher_push_cv(b, cvs + j * 32, counter + j);
    }
    b->chunk.chunk_counter = counter + k;
    *took = k * CAS__B3_CHUNK;
    return n;
}
#endif

#if CAS__FUSED
/* The kernel cas_chunk_stream fuses with now (the CPU, as limited by cas_cpu_limit), or NULL:
   scan, then hash. */
static cas__fused_kernel cas__fused_pick(void) {
    unsigned f = cas_cpu_features();
#if CAS__FUSED_AVX512
    if (f & CAS_CPU_AVX512) return cas__fused16_avx512;
#endif
#if CAS__FUSED_AVX2
    if (f & CAS_CPU_AVX2) return cas__fused16_avx2;
#endif
    (void)f;
    return NULL;
}
#endif

const char *cas_chunker_path(void) {
#if CAS__FUSED
    cas__fused_kernel k = cas__fused_pick();
#if CAS__FUSED_AVX512
    if (k == cas__fused16_avx512) return "gear-8lane-asm+blake3-avx512-fused";
#endif
#if CAS__FUSED_AVX2
    if (k == cas__fused16_avx2) return "gear-8lane-asm+blake3-avx2-fused";
#endif
#endif
#if CAS__GEAR_ASM
    return "gear-8lane-asm";
#else
    return "gear-8lane";
#endif
}

void cas_chunk_stream_init(cas_chunk_stream *s) {
    cas_chunker_init(&s->priv_chunker);
    cas_blake3_init_keyed(&s->priv_hasher, cas__key_data);
    s->priv_gather_len = 0;
}

/* ---- the hash side of small pushes: 16 KiB groups ---- */
#define CAS__GATHER_GROUP (16 * 1024)

#if !defined(CAS_BLAKE3_EXTERNAL)
/* The parent nodes of n (even) chaining values, n/2 of them at once (hash_many: any count on
   any tier; BLAKE3's own compress_parents_parallel takes only 2 x its SIMD degree, 4 on a
   CPU without SIMD). */
static void cas__stream_parents(const uint8_t *cvs, size_t n, const uint32_t key[8], uint8_t flags, uint8_t *out) {
    const uint8_t *inputs[8];
    size_t i;
    for (i = 0; i < n / 2; i++) inputs[i] = cvs + i * 64;
    cas__blake3_hash_many(inputs, n / 2, 1, key, 0, 0, (uint8_t)(flags | cas__b3_PARENT), 0, 0, out);
}
#endif

/* Hashes p[0..16 KiB), bytes of the current chunk that more bytes follow: with the vendored
   BLAKE3, as 16 whole BLAKE3 chunks at once (hash_many, the CPU's widest tier) whose chaining
   values are pushed as two 8-chunk subtrees, when the hasher stands at a 16-chunk boundary
   with no partial chunk (always, in a chunk hashed only so); else through its update. */
static void cas__stream_hash_group(cas_chunk_stream *s, const uint8_t *p) {
#if !defined(CAS_BLAKE3_EXTERNAL)
    cas__blake3_hasher *b = (cas__blake3_hasher *)(void *)s->priv_hasher.priv.bytes;
    if (cas__b3_chunk_state_len(&b->chunk) == 0 && (b->chunk.chunk_counter & 15) == 0) {
        const uint8_t *inputs[16];
        uint8_t cvs[16 * 32], parents[8 * 32];
        uint64_t counter = b->chunk.chunk_counter;
        size_t i;
        for (i = 0; i < 16; i++) inputs[i] = p + i * 1024;
        cas__blake3_hash_many(inputs, 16, 1024 / 64, b->key, counter, 1, b->chunk.flags, cas__b3_CHUNK_START,
                              cas__b3_CHUNK_END, cvs);
        cas__stream_parents(cvs, 16, b->key, b->chunk.flags, parents);
        cas__stream_parents(parents, 8, b->key, b->chunk.flags, cvs);
        cas__stream_parents(cvs, 4, b->key, b->chunk.flags, parents);
        cas__b3_hasher_push_cv(b, parents, counter);
        cas__b3_hasher_push_cv(b, parents + 32, counter + 8);
        b->chunk.chunk_counter = counter + 16;
        return;
    }
#endif
    cas_blake3_update(&s->priv_hasher, p, CAS__GATHER_GROUP);
}

/* The chunk ends with the gathered bytes: its whole BLAKE3 chunks but the last hashed at once
   (hash_many over up to 16 of them, each chaining value pushed), the rest through the
   hasher's update, then its hash. */
static void cas__chunk_stream_emit(cas_chunk_stream *s, uint64_t size, cas_chunk *out) {
    size_t n = s->priv_gather_len, done = 0;
#if !defined(CAS_BLAKE3_EXTERNAL)
    cas__blake3_hasher *b = (cas__blake3_hasher *)(void *)s->priv_hasher.priv.bytes;
    size_t k = n > 1024 ? (n - 1) / 1024 : 0, j;
    if (k && cas__b3_chunk_state_len(&b->chunk) == 0) {
        const uint8_t *inputs[16];
        uint8_t cvs[16 * 32];
        for (j = 0; j < k; j++) inputs[j] = s->priv_gather + j * 1024;
        cas__blake3_hash_many(inputs, k, 1024 / 64, b->key, b->chunk.chunk_counter, 1, b->chunk.flags,
                              cas__b3_CHUNK_START, cas__b3_CHUNK_END, cvs);
        for (j = 0; j < k; j++) cas__b3_hasher_push_cv(b, cvs + j * 32, b->chunk.chunk_counter + j);
        b->chunk.chunk_counter += k;
        done = k * 1024;
    }
#endif
    if (n > done) cas_blake3_update(&s->priv_hasher, s->priv_gather + done, n - done);
    s->priv_gather_len = 0;
    cas_blake3_final(&s->priv_hasher, out->hash.bytes);
    out->size = size;
    cas_blake3_init_keyed(&s->priv_hasher, cas__key_data);
}

/* Bytes p[0..n) of the current chunk, which more bytes of it follow (no cut among them): whole
   16 KiB groups hashed, from the gathered bytes first and then in place; the rest gathered. A
   group is hashed only once a byte after it is known, so the chunk's last BLAKE3 chunk always
   goes through the hasher's own update and finalization. */
static void cas__stream_hash_more(cas_chunk_stream *s, const uint8_t *p, size_t n) {
    while (n) {
        if (s->priv_gather_len || n <= CAS__GATHER_GROUP) {
            size_t take = CAS_CHUNK_STREAM_GATHER - s->priv_gather_len;
            if (take > n) take = n;
            memcpy(s->priv_gather + s->priv_gather_len, p, take);
            s->priv_gather_len += (uint32_t)take;
            p += take, n -= take;
            if (s->priv_gather_len > CAS__GATHER_GROUP) {
                cas__stream_hash_group(s, s->priv_gather);
                s->priv_gather_len -= CAS__GATHER_GROUP;
                memmove(s->priv_gather, s->priv_gather + CAS__GATHER_GROUP, s->priv_gather_len);
            }
        } else {
            cas__stream_hash_group(s, p);
            p += CAS__GATHER_GROUP, n -= CAS__GATHER_GROUP;
        }
    }
}

size_t cas_chunk_stream_push(cas_chunk_stream *s, const void *data, size_t len, cas_chunk *out) {
    const uint8_t *p = (const uint8_t *)data;
    size_t i = 0, hashed = 0; /* scanned, and handed to the hasher, of data */
    uint64_t cut = 0;
#if CAS__FUSED
    /* Fused while the hasher holds no partial BLAKE3 chunk and stands at a multiple of 16
       chunks (where a 16-chunk subtree may start; its update can leave it so, e.g. after 26
       KiB) and the bytes to hash and to scan lie in this buffer. In a chunk begun here the
       hashing starts CAS_CHUNK_MIN_SIZE (one scan block) behind the scan: one block scanned
       with the first 16 KiB and two with each next keep them level, so the 16 KiB hashed
       with the scan that finds the cut covers it, and little is left to hash alone. */
    const cas__blake3_hasher *b =
        (const cas__blake3_hasher *)(const void *)s->priv_hasher.priv.bytes;
    cas__fused_kernel fused = cas__fused_pick();
    while (i < len && !cut) {
        uint64_t size = s->priv_chunker.priv_size;
        int blocks = i - hashed >= CAS__FUSED_BLOCK ? 1 : 2;
        size_t scan = (size_t)blocks * CAS__FUSED_BLOCK;
        if (fused && !s->priv_gather_len && len - i >= scan && len - hashed >= CAS__FUSED_HASH &&
            size >= CAS_CHUNK_MIN_SIZE && size + scan < CAS_CHUNK_MAX_SIZE &&
            cas__b3_chunk_state_len(&b->chunk) == 0 && (b->chunk.chunk_counter & 15) == 0) {
            size_t took;
            i += cas__fused_step(s, fused, p + i, blocks, p + hashed, &cut, &took);
            hashed += took;
        } else {
            i += cas__chunker_step(&s->priv_chunker, p + i, len - i, &cut);
        }
    }
#else
    i = cas_chunker_scan(&s->priv_chunker, p, len, &cut);
#endif
    out->size = 0;
    if (cut) {
        if (i > hashed) { /* all but the chunk's last byte in 16 KiB groups, that byte gathered */
            cas__stream_hash_more(s, p + hashed, i - hashed - 1);
            s->priv_gather[s->priv_gather_len++] = p[i - 1]; /* (hash_more leaves <= 16 KiB) */
        }
        cas__chunk_stream_emit(s, cut, out); /* the gathered rest, through the hasher's update */
    } else if (i > hashed) {
        cas__stream_hash_more(s, p + hashed, i - hashed); /* (p may be NULL only when len is 0) */
    }
    return i;
}

int cas_chunk_stream_finish(cas_chunk_stream *s, cas_chunk *out) {
    uint64_t size = cas_chunker_finish(&s->priv_chunker);
    out->size = 0;
    if (!size) return 0;
    cas__chunk_stream_emit(s, size, out);
    return 1;
}

/* ---- parallel chunking ---- */
typedef struct {
    const uint8_t *data;
    size_t len, seg, nseg;
    int last;
    cas_chunk *chunks; /* segment k's at chunks + k * cap */
    size_t cap, *count;
} cas__pchunk;

/* Segment i chunked from its own start; the bytes after its last boundary are dropped,
   except at the end of the last segment of a `last` buffer. */
static void cas__pchunk_job(void *ctx, size_t i) {
    cas__pchunk *pc = (cas__pchunk *)ctx;
    size_t at = i * pc->seg, end = i + 1 == pc->nseg ? pc->len : at + pc->seg, k = 0;
    cas_chunk *out = pc->chunks + i * pc->cap;
    cas_chunk_stream cs;
    cas_chunk c;
    cas_chunk_stream_init(&cs);
    while (at < end) {
        at += cas_chunk_stream_push(&cs, pc->data + at, end - at, &c);
        if (c.size) out[k++] = c;
    }
    if (i + 1 == pc->nseg && pc->last && cas_chunk_stream_finish(&cs, &c)) out[k++] = c;
    pc->count[i] = k;
}

cas_result cas_chunk_buffer(const cas_allocator *alloc, const void *data, size_t len, int last,
                            const cas_chunk_buffer_desc *desc, cas_chunk_list *out) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas__pchunk pc;
    cas_chunk *res;
    size_t k, m = 0, pos = 0, cap, seg = desc && desc->segment ? desc->segment : (16u << 20);
    int tail = 0;
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!data && len)) return CAS_E_ARGUMENT;
    if (seg < (1u << 20)) seg = 1u << 20;
    memset(&pc, 0, sizeof pc);
    pc.data = (const uint8_t *)data, pc.len = len, pc.seg = seg, pc.last = last;
    pc.nseg = len ? (len - 1) / seg + 1 : 1;
    pc.cap = (len < seg ? len : seg) / CAS_CHUNK_MIN_SIZE + 2;
    cap = len / CAS_CHUNK_MIN_SIZE + 2; /* every true chunk but the last has >= 8 KiB */
    if (pc.nseg > (size_t)-1 / sizeof(cas_chunk) / pc.cap || cap > (size_t)-1 / sizeof(cas_chunk)) return CAS_E_NOMEM;
    pc.chunks = (cas_chunk *)cas__alloc(&a, pc.nseg * pc.cap * sizeof(cas_chunk));
    pc.count = (size_t *)cas__alloc(&a, pc.nseg * sizeof(size_t));
    res = (cas_chunk *)cas__alloc(&a, cap * sizeof(cas_chunk));
    if (!pc.chunks || !pc.count || !res) {
        cas__free(&a, pc.chunks, pc.nseg * pc.cap * sizeof(cas_chunk));
        cas__free(&a, pc.count, pc.nseg * sizeof(size_t));
        cas__free(&a, res, cap * sizeof(cas_chunk));
        return CAS_E_NOMEM;
    }
    if (desc && desc->parallel && pc.nseg > 1) desc->parallel(desc->parallel_user, cas__pchunk_job, &pc, pc.nseg);
    else
        for (k = 0; k < pc.nseg; k++) cas__pchunk_job(&pc, k);
    /* Stitch: res[0..m) are the true chunks, ending at pos (a true boundary). Segment k's own
       boundaries are k * seg and the ends of its chunks; the first one equal to pos makes the
       rest of them true. Until then the true chunks are made from pos on, one at a time. */
    for (k = 0; k < pc.nseg && !tail; k++) {
        const cas_chunk *own = pc.chunks + k * pc.cap;
        size_t nown = pc.count[k], j = 0, b = k * seg; /* b: the own boundary before own[j] */
        for (;;) {
            cas_chunk_stream cs;
            cas_chunk c;
            size_t q = pos;
            while (j < nown && b < pos) b += (size_t)own[j++].size;
            if (b == pos) { /* met (or segment 0, or a true boundary at the segment's start) */
                for (; j < nown; j++) res[m++] = own[j], pos += (size_t)own[j].size;
                break;
            }
            if (b < pos) break; /* its boundaries are spent: the seam goes on into the next */
            cas_chunk_stream_init(&cs); /* the next true chunk, from pos */
            c.size = 0;
            while (q < len && !c.size) q += cas_chunk_stream_push(&cs, pc.data + q, len - q, &c);
            if (!c.size && !(last && cas_chunk_stream_finish(&cs, &c))) {
                tail = 1; /* the buffer ends inside it: the next call's */
                break;
            }
            res[m++] = c;
            pos += (size_t)c.size;
        }
    }
    cas__free(&a, pc.chunks, pc.nseg * pc.cap * sizeof(cas_chunk));
    cas__free(&a, pc.count, pc.nseg * sizeof(size_t));
    out->chunks = res, out->n = m, out->used = pos, out->priv_alloc = a, out->priv_cap = cap;
    return CAS_OK;
}

void cas_chunk_list_free(cas_chunk_list *l) {
    if (!l) return;
    cas__free(&l->priv_alloc, l->chunks, l->priv_cap * sizeof(cas_chunk));
    memset(l, 0, sizeof *l);
}

/* ==== >>primitives: zstd ================================================================= */

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

cas_result cas_zstd_decompress(const cas_allocator *alloc, const void *src, size_t len, void *dst,
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
        /* At each frame's start, the window check of its header ourselves: zstd skips
           windowLogMax when a frame declares its content size and cap already holds it (it
           decodes straight into dst), so a frame asking for more than 8 MiB would pass or fail
           with the caller's capacity. A header cut short is left to the decoder. */
        if (ret == 0 || in.pos == 0) {
            ZSTD_frameHeader fh;
            if (ZSTD_getFrameHeader(&fh, (const uint8_t *)src + in.pos, in.size - in.pos) == 0 &&
                fh.frameType == ZSTD_frame && fh.windowSize > (1ull << CAS_ZSTD_MAX_WINDOW_LOG)) {
                result = CAS_E_ZSTD;
                break;
            }
        }
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
    return (cas_result)(result);
}
#include "vendor/cas_zstd_end.inc"
#else
cas_result cas_zstd_decompress(const cas_allocator *alloc, const void *src, size_t len, void *dst,
                               size_t cap, size_t *out_len) {
    (void)alloc; (void)src; (void)len; (void)dst; (void)cap;
    *out_len = 0;
    return CAS_E_UNSUPPORTED;
}
#endif

/* ==== >>primitives: XXH32 ================================================================ */

/* xxHash32 as specified in xxHash's doc/xxhash_spec.md: four lanes over 16-byte stripes, then
   the tail 4 and 1 bytes at a time, then the avalanche. */
#define CAS__XXH_P1 0x9E3779B1u
#define CAS__XXH_P2 0x85EBCA77u
#define CAS__XXH_P3 0xC2B2AE3Du
#define CAS__XXH_P4 0x27D4EB2Fu
#define CAS__XXH_P5 0x165667B1u
#define CAS__ROTL32(x, r) (((x) << (r)) | ((x) >> (32 - (r))))

static uint32_t cas__xxh32_round(uint32_t acc, uint32_t lane) {
    acc += lane * CAS__XXH_P2;
    acc = CAS__ROTL32(acc, 13);
    return acc * CAS__XXH_P1;
}

static void cas__xxh32_stripes(uint32_t acc[4], const uint8_t *p, size_t nstripes) {
    uint32_t a = acc[0], b = acc[1], c = acc[2], d = acc[3];
    for (; nstripes; nstripes--, p += 16) {
        a = cas__xxh32_round(a, cas__load_le32(p));
        b = cas__xxh32_round(b, cas__load_le32(p + 4));
        c = cas__xxh32_round(c, cas__load_le32(p + 8));
        d = cas__xxh32_round(d, cas__load_le32(p + 12));
    }
    acc[0] = a; acc[1] = b; acc[2] = c; acc[3] = d;
}

static void cas__xxh32_acc_init(uint32_t acc[4], uint32_t seed) {
    acc[0] = seed + CAS__XXH_P1 + CAS__XXH_P2;
    acc[1] = seed + CAS__XXH_P2;
    acc[2] = seed;
    acc[3] = seed - CAS__XXH_P1;
}

/* h already holds the converged lanes (or seed + P5) plus the length; len < 16. */
static uint32_t cas__xxh32_tail(uint32_t h, const uint8_t *p, size_t len) {
    for (; len >= 4; len -= 4, p += 4) {
        h += cas__load_le32(p) * CAS__XXH_P3;
        h = CAS__ROTL32(h, 17) * CAS__XXH_P4;
    }
    for (; len; len--, p++) {
        h += *p * CAS__XXH_P5;
        h = CAS__ROTL32(h, 11) * CAS__XXH_P1;
    }
    h ^= h >> 15;
    h *= CAS__XXH_P2;
    h ^= h >> 13;
    h *= CAS__XXH_P3;
    h ^= h >> 16;
    return h;
}

static uint32_t cas__xxh32_converge(const uint32_t acc[4]) {
    return CAS__ROTL32(acc[0], 1) + CAS__ROTL32(acc[1], 7) + CAS__ROTL32(acc[2], 12) +
           CAS__ROTL32(acc[3], 18);
}

uint32_t cas_xxh32(const void *data, size_t len, uint32_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t h;
    if (len >= 16) {
        uint32_t acc[4];
        cas__xxh32_acc_init(acc, seed);
        cas__xxh32_stripes(acc, p, len / 16);
        h = cas__xxh32_converge(acc);
    } else {
        h = seed + CAS__XXH_P5;
    }
    h += (uint32_t)len; /* the spec adds the length mod 2^32 */
    return cas__xxh32_tail(h, p + (len & ~(size_t)15), len & 15);
}

void cas_xxh32_init(cas_xxh32_state *s, uint32_t seed) {
    memset(s, 0, sizeof *s);
    cas__xxh32_acc_init(s->priv_acc, seed);
    s->priv_seed = seed;
}

static void cas__xxh32_feed(void *state, const uint8_t *p, size_t nstripes) {
    cas__xxh32_stripes((uint32_t *)state, p, nstripes);
}

void cas_xxh32_update(cas_xxh32_state *s, const void *data, size_t len) {
    s->priv_total += len;
    cas__feed_blocks(s->priv_acc, cas__xxh32_feed, 16, s->priv_buf, &s->priv_used,
                     (const uint8_t *)data, len);
}

uint32_t cas_xxh32_final(const cas_xxh32_state *s) {
    uint32_t h = s->priv_total >= 16 ? cas__xxh32_converge(s->priv_acc)
                                     : s->priv_seed + CAS__XXH_P5;
    h += (uint32_t)s->priv_total;
    return cas__xxh32_tail(h, s->priv_buf, s->priv_used);
}

/* ==== >>primitives: LZ4 ================================================================== */

#define CAS__LZ4_MINMATCH 4
#define CAS__LZ4_MFLIMIT 12     /* the last match starts >= 12 bytes before the block's end */
#define CAS__LZ4_LASTLITERALS 5 /* the last 5 bytes of a block are literals */
#define CAS__LZ4_MAX_DISTANCE 65535
/* Below this size every match position fits a u16 table and is within MAX_DISTANCE
   (LZ4_64Klimit): the compressor then uses the denser 8192-entry u16 table. */
#define CAS__LZ4_SMALL_INPUT (65536 + CAS__LZ4_MFLIMIT - 1)
#define CAS__LZ4_HASH_LOG_SMALL 13
#define CAS__LZ4_HASH_LOG 12

size_t cas_lz4_block_bound(size_t n) { return n + n / 255 + 16; }

/* ---- compressor ----
   The greedy single-probe matcher of LZ4_compress_fast: hash the 4 (small inputs) or 5 bytes
   at a position, take the table's previous position with that hash as the only candidate,
   skip ahead faster the longer nothing matches (step grows every 64 misses, times the
   acceleration), extend a match backwards over pending literals and forwards with 8-byte
   compares, and after each match try the position right after it before searching again. */

/* Little-endian loads and one hash per table size on every CPU: the compressed bytes are the
   same on all platforms (LZ4 itself hashes native-order words, and 4 bytes on 32-bit CPUs). */
static CAS__FORCE_INLINE uint32_t cas__lz4_hash(const uint8_t *p, int small) {
    if (small) {
        uint32_t v = CAS__LITTLE_ENDIAN ? cas__read32(p) : cas__load_le32(p);
        return (v * 2654435761u) >> (32 - CAS__LZ4_HASH_LOG_SMALL);
    } else { /* 5 bytes separate positions better than 4 on bigger inputs (LZ4's hash5) */
        uint64_t v = CAS__LITTLE_ENDIAN ? cas__read64(p) : cas__load_le64(p);
        return (uint32_t)(((v << 24) * 889523592379ULL) >> (64 - CAS__LZ4_HASH_LOG));
    }
}

/* Length of the common run of p and m, p not passing limit. */
static CAS__FORCE_INLINE size_t cas__lz4_count(const uint8_t *p, const uint8_t *m,
                                               const uint8_t *limit) {
    const uint8_t *const start = p;
#if (defined(__GNUC__) || defined(__clang__)) && \
    (CAS__LITTLE_ENDIAN || (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__))
    while ((size_t)(limit - p) >= 8) {
        uint64_t x = cas__read64(p) ^ cas__read64(m);
        /* the first differing byte is the lowest one in memory: least significant on little-
           endian CPUs, most significant on big-endian ones */
        if (x)
            return (size_t)(p - start) +
                   (size_t)((CAS__LITTLE_ENDIAN ? __builtin_ctzll(x) : __builtin_clzll(x)) >> 3);
        p += 8;
        m += 8;
    }
#endif
    while (p < limit && *p == *m) {
        p++;
        m++;
    }
    return (size_t)(p - start);
}

/* Returns the block size, or 0 if it does not fit in cap (n >= 1 always makes >= 1 byte). */
static CAS__FORCE_INLINE size_t cas__lz4_compress_generic(const uint8_t *src, size_t n,
                                                          uint8_t *dst, size_t cap,
                                                          unsigned accel, cas_lz4_table *t,
                                                          int small) {
    uint8_t *op = dst, *const oend = dst + cap, *token;
    size_t i, anchor = 0, ref, lit;
    uint32_t fh;
    if (n < CAS__LZ4_MFLIMIT + 1) goto last_literals; /* too short for any match */
    {
        /* Positions are indices into src; a match may start at <= n - 12 and reach n - 5. */
        const size_t mflimit1 = n - CAS__LZ4_MFLIMIT + 1;
        const uint8_t *const matchlimit = src + n - CAS__LZ4_LASTLITERALS;
        uint16_t *const t16 = t->priv.u16;
        uint32_t *const t32 = t->priv.u32;
        memset(t, 0, sizeof *t); /* 0 = position 0: a valid, merely useless, candidate */
        i = 0;
        fh = cas__lz4_hash(src, small);
        if (small) t16[fh] = 0; else t32[fh] = 0;
        fh = cas__lz4_hash(src + ++i, small);
        for (;;) {
            size_t ml;
            { /* find a match: step grows every 64 misses */
                size_t fi = i;
                unsigned step = 1, search = accel << 6;
                for (;;) {
                    uint32_t h = fh;
                    i = fi;
                    fi += step;
                    step = search++ >> 6;
                    if (CAS__UNLIKELY(fi > mflimit1)) goto last_literals;
                    if (small) {
                        ref = t16[h];
                        t16[h] = (uint16_t)i;
                    } else {
                        ref = t32[h];
                        t32[h] = (uint32_t)i;
                    }
                    fh = cas__lz4_hash(src + fi, small);
                    if ((small || i - ref <= CAS__LZ4_MAX_DISTANCE) &&
                        cas__read32(src + ref) == cas__read32(src + i))
                        break;
                }
            }
            while (i > anchor && ref > 0 && src[i - 1] == src[ref - 1]) { /* extend backwards */
                i--;
                ref--;
            }
            lit = i - anchor;
            /* Exact room test: token, length bytes, literals, offset, and the >= 6 bytes (token
               + 5 literals) that must end the block after any match. The wild copy below
               overshoots the literals by <= 7 bytes, inside those 2 + 6: any output that fits
               cap keeps the overshoot inside cap too. */
            if (CAS__UNLIKELY((size_t)(oend - op) <
                              1 + (lit >= 15 ? (lit - 15) / 255 + 1 : 0) + lit + 2 + 6))
                return 0;
            token = op++;
            if (lit >= 15) {
                size_t len = lit - 15;
                *token = 15 << 4;
                for (; len >= 255; len -= 255) *op++ = 255;
                *op++ = (uint8_t)len;
            } else {
                *token = (uint8_t)(lit << 4);
            }
            { /* wild copy: may read up to 7 bytes past the literals, all before src + n - 5 */
                const uint8_t *s = src + anchor;
                uint8_t *d = op, *const e = op + lit;
                while (d < e) {
                    cas__copy8(d, s);
                    d += 8;
                    s += 8;
                }
                op = e;
            }
        next_match:
            op[0] = (uint8_t)(i - ref);
            op[1] = (uint8_t)((i - ref) >> 8);
            op += 2;
            ml = cas__lz4_count(src + i + CAS__LZ4_MINMATCH, src + ref + CAS__LZ4_MINMATCH,
                                matchlimit);
            i += ml + CAS__LZ4_MINMATCH;
            if (ml >= 15) {
                size_t len = ml - 15;
                if (CAS__UNLIKELY((size_t)(oend - op) < len / 255 + 1 + 6)) return 0;
                *token = (uint8_t)(*token + 15);
                for (; len >= 255; len -= 255) *op++ = 255;
                *op++ = (uint8_t)len;
            } else {
                *token = (uint8_t)(*token + ml);
            }
            anchor = i;
            if (i >= mflimit1) break;
            { /* index the position just before the end, then try a match right here */
                uint32_t h2 = cas__lz4_hash(src + i - 2, small), h = cas__lz4_hash(src + i, small);
                if (small) {
                    t16[h2] = (uint16_t)(i - 2);
                    ref = t16[h];
                    t16[h] = (uint16_t)i;
                } else {
                    t32[h2] = (uint32_t)(i - 2);
                    ref = t32[h];
                    t32[h] = (uint32_t)i;
                }
                if ((small || i - ref <= CAS__LZ4_MAX_DISTANCE) &&
                    cas__read32(src + ref) == cas__read32(src + i)) {
                    if (CAS__UNLIKELY((size_t)(oend - op) < 1 + 2 + 6)) return 0;
                    token = op++;
                    *token = 0;
                    goto next_match;
                }
            }
            fh = cas__lz4_hash(src + ++i, small);
        }
    }
last_literals:
    lit = n - anchor;
    {
        size_t need = 1 + lit + (lit >= 15 ? (lit - 15) / 255 + 1 : 0);
        if ((size_t)(oend - op) < need) return 0;
    }
    if (lit >= 15) {
        size_t len = lit - 15;
        *op++ = 15 << 4;
        for (; len >= 255; len -= 255) *op++ = 255;
        *op++ = (uint8_t)len;
    } else {
        *op++ = (uint8_t)(lit << 4);
    }
    memcpy(op, src + anchor, lit);
    op += lit;
    return (size_t)(op - dst);
}

static size_t cas__lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                int acceleration, cas_lz4_table *t) {
    /* LZ4's range: below 1 means the default, above 65537 changes nothing more. */
    unsigned accel = acceleration < 1 ? 1u : acceleration > 65537 ? 65537u : (unsigned)acceleration;
    if (n < CAS__LZ4_SMALL_INPUT) return cas__lz4_compress_generic(src, n, dst, cap, accel, t, 1);
    return cas__lz4_compress_generic(src, n, dst, cap, accel, t, 0);
}

cas_result cas_lz4_block_compress(const void *src, size_t n, void *dst, size_t cap, size_t *out_len,
                                  int acceleration, cas_lz4_table *table) {
    cas_lz4_table local;
    size_t got;
    *out_len = 0;
    if (n > CAS_LZ4_MAX_INPUT) return CAS_E_ARGUMENT;
    got = cas__lz4_compress((const uint8_t *)src, n, (uint8_t *)dst, cap, acceleration,
                            table ? table : &local);
    if (!got) return CAS_E_LIMIT;
    *out_len = got;
    return CAS_OK;
}

/* ---- decoder ----
   Every length is checked against the bytes left in the input and in the output before it is
   used, in size_t, so no input can make a copy leave src[0..n) or dst[0..cap). Far from both
   ends (>= 32 input bytes, >= 64 output bytes left) copies go 16 or 8 bytes at a time and may
   overshoot by up to 15 bytes, which later sequences overwrite; near an end they are exact. */

/* Adds the 255-continued length bytes at *pp to *len. 0 if they run past end (or grow absurd,
   which on 32-bit would otherwise wrap). */
static int cas__lz4_length(const uint8_t **pp, const uint8_t *end, size_t *len) {
    const uint8_t *p = *pp;
    size_t v = *len;
    for (;;) {
        unsigned b;
        if (CAS__UNLIKELY(p >= end)) return 0;
        b = *p++;
        v += b;
        if (b != 255) break;
        if (CAS__UNLIKELY(v > ((size_t)-1 >> 2))) return 0;
    }
    *pp = p;
    *len = v;
    return 1;
}

/* For a match offset < 8, an equivalent offset >= 8 (a multiple of it, < offset + 8) from
   which 8-byte copies reproduce the repeating pattern once its first 8 bytes exist. */
static const uint8_t cas__lz4_wide_offset[8] = {0, 8, 8, 9, 8, 10, 12, 14};

/* `at` = offset of src in the caller's input, for error reports. */
static int cas__lz4_decode(const uint8_t *src, size_t n, uint8_t *base, size_t prefix, size_t cap,
                           size_t *out_len, cas_error *err, uint64_t at) {
    const uint8_t *ip = src, *const iend = src + n;
    uint8_t *op = base + prefix, *const ostart = op, *const oend = base + cap;
    /* The fast path runs while ip < ifast and op < ofast: >= 32 input and >= 64 output bytes
       left (the limits collapse to the start of the buffers when they are smaller). */
    const uint8_t *const ifast = src + (n > 32 ? n - 32 : 0);
    uint8_t *const ofast = base + (cap - prefix > 64 ? cap - 64 : prefix);
    *out_len = 0;
    for (;;) {
        const uint8_t *const seq = ip, *match;
        size_t lit, ml, off;
        unsigned token;
        if (CAS__UNLIKELY(ip >= iend))
            return cas__fail(err, CAS_E_LZ4_BLOCK, at + n,
                             n ? "the block ends after a match (the last sequence is literals)"
                               : "empty block");
        token = *ip++;
        lit = token >> 4;
        if (CAS__LIKELY(lit != 15 && ip < ifast && op < ofast)) {
            /* lit <= 14: one 16-byte copy; then >= 18 input bytes remain, so the offset is
               there, and a short match (<= 18 bytes) from >= 8 back is 8 + 8 + 2 bytes. */
            cas__copy16(op, ip);
            op += lit;
            ip += lit;
            off = (size_t)ip[0] | (size_t)ip[1] << 8;
            ip += 2;
            ml = token & 15;
            if (CAS__LIKELY(ml != 15 && off >= 8 && off <= (size_t)(op - base))) {
                match = op - off;
                cas__copy8(op, match);
                cas__copy8(op + 8, match + 8);
                memcpy(op + 16, match + 16, 2);
                op += ml + CAS__LZ4_MINMATCH;
                continue;
            }
        } else {
            if (lit == 15 && !cas__lz4_length(&ip, iend, &lit))
                return cas__fail(err, CAS_E_LZ4_BLOCK, at + (uint64_t)(seq - src),
                                 "a literal length runs past the end of the block");
            if (CAS__UNLIKELY(lit > (size_t)(iend - ip)))
                return cas__fail(err, CAS_E_LZ4_BLOCK, at + (uint64_t)(seq - src),
                                 "literals run past the end of the block");
            if (CAS__UNLIKELY(lit > (size_t)(oend - op)))
                return cas__fail(err, CAS_E_LIMIT, at + (uint64_t)(seq - src),
                                 "the literals would pass the output capacity");
            if ((size_t)(iend - ip) >= lit + 16 && (size_t)(oend - op) >= lit + 16) {
                const uint8_t *s = ip;
                uint8_t *d = op, *const e = op + lit;
                do {
                    cas__copy16(d, s);
                    d += 16;
                    s += 16;
                } while (d < e);
            } else {
                memcpy(op, ip, lit);
            }
            ip += lit;
            op += lit;
            if (ip == iend) break; /* the last sequence: literals only */
            if (CAS__UNLIKELY((size_t)(iend - ip) < 2))
                return cas__fail(err, CAS_E_LZ4_BLOCK, at + (uint64_t)(ip - src),
                                 "the block ends inside a match offset");
            off = (size_t)ip[0] | (size_t)ip[1] << 8;
            ip += 2;
            ml = token & 15;
        }
        if (CAS__UNLIKELY(off == 0))
            return cas__fail(err, CAS_E_LZ4_BLOCK, at + (uint64_t)(ip - 2 - src), "match offset 0");
        if (CAS__UNLIKELY(off > (size_t)(op - base)))
            return cas__fail(err, CAS_E_LZ4_BLOCK, at + (uint64_t)(ip - 2 - src),
                             "a match offset points before the start of the output");
        if (ml == 15 && !cas__lz4_length(&ip, iend, &ml))
            return cas__fail(err, CAS_E_LZ4_BLOCK, at + (uint64_t)(seq - src),
                             "a match length runs past the end of the block");
        ml += CAS__LZ4_MINMATCH;
        if (CAS__UNLIKELY(ml > (size_t)(oend - op)))
            return cas__fail(err, CAS_E_LIMIT, at + (uint64_t)(seq - src),
                             "the match would pass the output capacity");
        match = op - off;
        if (CAS__LIKELY((size_t)(oend - op) >= ml + 32)) {
            uint8_t *d = op, *const e = op + ml;
            if (off >= 16) {
                do {
                    cas__copy16(d, match);
                    d += 16;
                    match += 16;
                } while (d < e);
            } else {
                if (off < 8) { /* lay down the pattern's first 8 bytes, then copy from a
                                  multiple of the period that is >= 8 bytes back */
                    d[0] = match[0]; d[1] = match[1]; d[2] = match[2]; d[3] = match[3];
                    d[4] = match[4]; d[5] = match[5]; d[6] = match[6]; d[7] = match[7];
                    d += 8;
                    match = d - cas__lz4_wide_offset[off];
                }
                while (d < e) {
                    cas__copy8(d, match);
                    d += 8;
                    match += 8;
                }
            }
        } else if (off >= ml) {
            memcpy(op, match, ml);
        } else {
            size_t k;
            for (k = 0; k < ml; k++) op[k] = match[k];
        }
        op += ml;
    }
    *out_len = (size_t)(op - ostart);
    return cas__succeed(err);
}

cas_result cas_lz4_block_decompress(const void *src, size_t n, void *dst, size_t prefix, size_t cap,
                                    size_t *out_len, cas_error *err) {
    *out_len = 0;
    if (prefix > cap) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "prefix > cap"));
    return (cas_result)(cas__lz4_decode((const uint8_t *)src, n, (uint8_t *)dst, prefix, cap, out_len, err, 0));
}

/* ---- frames ---- */

#define CAS__LZ4_FLG_VERSION_MASK 0xC0
#define CAS__LZ4_FLG_VERSION 0x40
#define CAS__LZ4_FLG_INDEPENDENT 0x20
#define CAS__LZ4_FLG_BLOCK_CHECKSUM 0x10
#define CAS__LZ4_FLG_CONTENT_SIZE 0x08
#define CAS__LZ4_FLG_CONTENT_CHECKSUM 0x04
#define CAS__LZ4_FLG_RESERVED 0x02
#define CAS__LZ4_FLG_DICT_ID 0x01
#define CAS__LZ4_BLOCK_STORED 0x80000000u

#if defined(CAS_FUZZING) || defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
#define CAS__LZ4_VERIFY_CHECKSUMS 0 /* let fuzzers past the checksums, as lz4's fuzz build does */
#else
#define CAS__LZ4_VERIFY_CHECKSUMS 1
#endif

/* lz4_flex BlockSize::from_buf_length (xet-core writes a chunk in one write_all): <= 64 KiB ->
   64 KiB blocks, <= 256 KiB -> 256 KiB, else 4 MiB. */
static size_t cas__lz4_frame_block_max(size_t n) {
    if (n <= ((size_t)64 << 10)) return (size_t)64 << 10;
    if (n <= ((size_t)256 << 10)) return (size_t)256 << 10;
    return (size_t)4 << 20;
}

size_t cas_lz4_frame_bound(size_t n) {
    size_t bmax = cas__lz4_frame_block_max(n);
    /* header 7 + per block (size word + at most the block stored) + EndMark 4 */
    return 7 + n + 4 * ((n + bmax - 1) / bmax) + 4;
}

static int cas__lz4_frame_write(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                size_t *out_len, int acceleration, cas_lz4_table *t) {
    size_t bmax = cas__lz4_frame_block_max(n), pos = 7, off, blen;
    *out_len = 0;
    if (n > (size_t)CAS_LZ4_MAX_INPUT) return CAS_E_ARGUMENT; /* size sums stay far from wrap */
    if (cap < 7 + 4) return CAS_E_LIMIT;
    cas__store_le32(dst, CAS_LZ4_FRAME_MAGIC);
    dst[4] = CAS__LZ4_FLG_VERSION | CAS__LZ4_FLG_INDEPENDENT;
    dst[5] = bmax == ((size_t)64 << 10) ? 0x40 : bmax == ((size_t)256 << 10) ? 0x50 : 0x70;
    dst[6] = (uint8_t)(cas_xxh32(dst + 4, 2, 0) >> 8);
    for (off = 0; off < n; off += blen) {
        size_t room, clen;
        blen = n - off < bmax ? n - off : bmax;
        if (cap - pos < 4 + 4) return CAS_E_LIMIT;
        room = cap - pos - 8; /* keep 4 bytes for the EndMark */
        /* Compressed only if strictly smaller than the block (lz4_flex: else stored). */
        clen = cas__lz4_compress(src + off, blen, dst + pos + 4, room < blen - 1 ? room : blen - 1,
                                 acceleration, t);
        if (clen) {
            cas__store_le32(dst + pos, (uint32_t)clen);
        } else {
            if (blen > room) return CAS_E_LIMIT;
            cas__store_le32(dst + pos, (uint32_t)blen | CAS__LZ4_BLOCK_STORED);
            memcpy(dst + pos + 4, src + off, blen);
            clen = blen;
        }
        pos += 4 + clen;
    }
    cas__store_le32(dst + pos, 0); /* EndMark; room was kept for it */
    *out_len = pos + 4;
    return CAS_OK;
}

cas_result cas_lz4_frame_compress(const void *src, size_t n, void *dst, size_t cap, size_t *out_len,
                                  int acceleration) {
    cas_lz4_table t;
    return (cas_result)(cas__lz4_frame_write((const uint8_t *)src, n, (uint8_t *)dst, cap, out_len,
                                             acceleration, &t));
}

cas_result cas_lz4_frame_decompress(const void *src_, size_t n, void *dst_, size_t cap, size_t *out_len,
                                    cas_error *err) {
    const uint8_t *src = (const uint8_t *)src_;
    uint8_t *dst = (uint8_t *)dst_;
    size_t pos, hlen, bmax, produced = 0, limit = cap;
    uint64_t content_size = 0;
    unsigned flg, bd;
    cas_xxh32_state content;
    *out_len = 0;
    cas_xxh32_init(&content, 0);

    /* Magic: compare what is there first, so a short non-LZ4 input says "magic". */
    {
        static const uint8_t magic[4] = {0x04, 0x22, 0x4D, 0x18};
        size_t k;
        for (k = 0; k < 4 && k < n; k++)
            if (src[k] != magic[k]) {
                uint32_t m = n >= 4 ? cas__load_le32(src) : 0;
                return (cas_result)(cas__fail(err, CAS_E_LZ4_MAGIC, k,
                                              (m & 0xFFFFFFF0u) == 0x184D2A50u
                                                  ? "a skippable frame, not an LZ4 frame"
                                              : m == 0x184C2102u ? "a legacy LZ4 frame (unsupported)"
                                                                 : "not an LZ4 frame (magic 04 22 4D 18)"));
            }
        if (n < 4) return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends inside the frame magic"));
    }
    if (n < 5) return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends before the frame descriptor"));
    flg = src[4];
    if ((flg & CAS__LZ4_FLG_VERSION_MASK) != CAS__LZ4_FLG_VERSION)
        return (cas_result)(cas__fail(err, CAS_E_LZ4_HEADER, 4, "LZ4 frame version is not 01"));
    if (flg & CAS__LZ4_FLG_RESERVED)
        return (cas_result)(cas__fail(err, CAS_E_LZ4_HEADER, 4, "a reserved FLG bit is set"));
    if (flg & CAS__LZ4_FLG_DICT_ID)
        return (cas_result)(cas__fail(err, CAS_E_LZ4_HEADER, 4, "the frame needs a dictionary (unsupported)"));
    if (n < 6) return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends inside the frame descriptor"));
    bd = src[5];
    if (bd & 0x8F) return (cas_result)(cas__fail(err, CAS_E_LZ4_HEADER, 5, "a reserved BD bit is set"));
    if (((bd >> 4) & 7) < 4)
        return (cas_result)(cas__fail(err, CAS_E_LZ4_HEADER, 5, "block maximum size id is not 4..7"));
    bmax = (size_t)1 << (2 * ((bd >> 4) & 7) + 8); /* 4 -> 64 KiB ... 7 -> 4 MiB */
    hlen = 6 + ((flg & CAS__LZ4_FLG_CONTENT_SIZE) ? 8 : 0);
    if (n < hlen + 1)
        return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends inside the frame descriptor"));
    if (CAS__LZ4_VERIFY_CHECKSUMS && src[hlen] != (uint8_t)(cas_xxh32(src + 4, hlen - 4, 0) >> 8))
        return (cas_result)(cas__fail(err, CAS_E_LZ4_HEADER, hlen, "wrong frame header checksum"));
    if (flg & CAS__LZ4_FLG_CONTENT_SIZE) {
        content_size = cas__load_le64(src + 6);
        if (content_size > cap)
            return (cas_result)(cas__fail(err, CAS_E_LIMIT, 6, "the content size is over the output capacity"));
        limit = (size_t)content_size;
    }
    pos = hlen + 1;

    for (;;) {
        size_t bsize, avail, blim, got;
        uint32_t word;
        const uint8_t *block;
        if (n - pos < 4)
            return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends before a block size or EndMark"));
        word = cas__load_le32(src + pos);
        if (word == 0) break; /* EndMark */
        bsize = word & ~CAS__LZ4_BLOCK_STORED;
        if (bsize > bmax)
            return (cas_result)(cas__fail(err, CAS_E_LZ4_BLOCK, pos,
                                          "a block is larger than the frame's block maximum size"));
        block = src + pos + 4;
        if (n - pos - 4 < bsize + ((flg & CAS__LZ4_FLG_BLOCK_CHECKSUM) ? 4 : 0))
            return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends inside a block"));
        if ((flg & CAS__LZ4_FLG_BLOCK_CHECKSUM) && CAS__LZ4_VERIFY_CHECKSUMS &&
            cas_xxh32(block, bsize, 0) != cas__load_le32(block + bsize))
            return (cas_result)(cas__fail(err, CAS_E_LZ4_CHECKSUM, pos + 4 + bsize, "wrong block checksum"));
        avail = limit - produced;
        blim = avail < bmax ? avail : bmax;
        if (word & CAS__LZ4_BLOCK_STORED) {
            if (bsize > avail)
                return (cas_result)(cas__fail(err, limit < cap ? CAS_E_SIZE : CAS_E_LIMIT, pos + 4,
                                              limit < cap ? "the data is longer than the frame's content size"
                                                          : "a stored block would pass the output capacity"));
            memcpy(dst + produced, block, bsize);
            got = bsize;
        } else {
            int rc = (flg & CAS__LZ4_FLG_INDEPENDENT)
                ? cas__lz4_decode(block, bsize, dst + produced, 0, blim, &got, err, pos + 4)
                : cas__lz4_decode(block, bsize, dst, produced, produced + blim, &got, err, pos + 4);
            if (rc == CAS_E_LIMIT) { /* say which limit the block hit */
                if (blim < avail)
                    return (cas_result)(cas__fail(err, CAS_E_LZ4_BLOCK, err ? err->offset : pos + 4,
                                                  "a block decodes to more than the frame's block maximum size"));
                if (limit < cap)
                    return (cas_result)(cas__fail(err, CAS_E_SIZE, err ? err->offset : pos + 4,
                                                  "the data is longer than the frame's content size"));
            }
            if (rc) return (cas_result)(rc);
        }
        if (flg & CAS__LZ4_FLG_CONTENT_CHECKSUM) cas_xxh32_update(&content, dst + produced, got);
        produced += got;
        pos += 4 + bsize + ((flg & CAS__LZ4_FLG_BLOCK_CHECKSUM) ? 4 : 0);
    }
    if ((flg & CAS__LZ4_FLG_CONTENT_SIZE) && produced != content_size)
        return (cas_result)(cas__fail(err, CAS_E_SIZE, pos, "the data is shorter than the frame's content size"));
    pos += 4;
    if (flg & CAS__LZ4_FLG_CONTENT_CHECKSUM) {
        if (n - pos < 4)
            return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, n, "input ends inside the content checksum"));
        if (CAS__LZ4_VERIFY_CHECKSUMS && cas_xxh32_final(&content) != cas__load_le32(src + pos))
            return (cas_result)(cas__fail(err, CAS_E_LZ4_CHECKSUM, pos, "wrong content checksum"));
        pos += 4;
    }
    if (pos != n)
        return (cas_result)(cas__fail(err, CAS_E_TRAILING, pos, "bytes follow the end of the LZ4 frame"));
    *out_len = produced;
    return (cas_result)(cas__succeed(err));
}

/* ==== >>primitives: BG4 byte grouping ==================================================== */

/* Group starts: group g holds n/4 + (g < n%4) bytes. */
static void cas__bg4_starts(size_t n, size_t at[4]) {
    size_t q = n / 4, r = n % 4;
    at[0] = 0;
    at[1] = at[0] + q + (r > 0);
    at[2] = at[1] + q + (r > 1);
    at[3] = at[2] + q + (r > 2);
}

/* Scalar split of quads i.. and the remainder bytes. */
static void cas__bg4_split_from(const uint8_t *src, size_t n, uint8_t *dst, size_t i) {
    size_t q = n / 4, r = n % 4;
    size_t at[4];
    uint8_t *g[4];
    cas__bg4_starts(n, at);
    g[0] = dst + at[0]; g[1] = dst + at[1]; g[2] = dst + at[2]; g[3] = dst + at[3];
    for (src += 4 * i; i < q; i++, src += 4) { /* (pointer steps: no 4 * i to overflow) */
        g[0][i] = src[0];
        g[1][i] = src[1];
        g[2][i] = src[2];
        g[3][i] = src[3];
    }
    src -= 4 * q;
    if (r > 0) g[0][q] = src[4 * q];
    if (r > 1) g[1][q] = src[4 * q + 1];
    if (r > 2) g[2][q] = src[4 * q + 2];
}

static void cas__bg4_regroup_from(const uint8_t *src, size_t n, uint8_t *dst, size_t i) {
    size_t q = n / 4, r = n % 4;
    size_t at[4];
    const uint8_t *g[4];
    cas__bg4_starts(n, at);
    g[0] = src + at[0]; g[1] = src + at[1]; g[2] = src + at[2]; g[3] = src + at[3];
    for (dst += 4 * i; i < q; i++, dst += 4) {
        dst[0] = g[0][i];
        dst[1] = g[1][i];
        dst[2] = g[2][i];
        dst[3] = g[3][i];
    }
    dst -= 4 * q;
    if (r > 0) dst[4 * q] = g[0][q];
    if (r > 1) dst[4 * q + 1] = g[1][q];
    if (r > 2) dst[4 * q + 2] = g[2][q];
}

#if CAS__X86_GNU
/* 64 bytes = 16 quads per step: PSHUFB gathers each 16-byte vector's bytes by position
   (4 of group 0, 4 of group 1, ...), then a 4x4 transpose of 32-bit lanes puts 16 bytes of
   each group in one register. */
CAS__TARGET("ssse3")
static void cas__bg4_split_ssse3(const uint8_t *src, size_t n, uint8_t *dst) {
    size_t q = n / 4, i;
    size_t at[4];
    uint8_t *g[4];
    const __m128i by_pos = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    cas__bg4_starts(n, at);
    g[0] = dst + at[0]; g[1] = dst + at[1]; g[2] = dst + at[2]; g[3] = dst + at[3];
    for (i = 0; i + 16 <= q; i += 16) {
        const uint8_t *s = src + 4 * i;
        __m128i v0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)s), by_pos);
        __m128i v1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 16)), by_pos);
        __m128i v2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 32)), by_pos);
        __m128i v3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 48)), by_pos);
        __m128i t0 = _mm_unpacklo_epi32(v0, v1), t1 = _mm_unpacklo_epi32(v2, v3);
        __m128i t2 = _mm_unpackhi_epi32(v0, v1), t3 = _mm_unpackhi_epi32(v2, v3);
        _mm_storeu_si128((__m128i *)(g[0] + i), _mm_unpacklo_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(g[1] + i), _mm_unpackhi_epi64(t0, t1));
        _mm_storeu_si128((__m128i *)(g[2] + i), _mm_unpacklo_epi64(t2, t3));
        _mm_storeu_si128((__m128i *)(g[3] + i), _mm_unpackhi_epi64(t2, t3));
    }
    cas__bg4_split_from(src, n, dst, i);
}

/* The inverse: interleave groups 0/1 and 2/3 bytewise, then the pairs 16-bit-wise. */
CAS__TARGET("sse2")
static void cas__bg4_regroup_sse2(const uint8_t *src, size_t n, uint8_t *dst) {
    size_t q = n / 4, i;
    size_t at[4];
    const uint8_t *g[4];
    cas__bg4_starts(n, at);
    g[0] = src + at[0]; g[1] = src + at[1]; g[2] = src + at[2]; g[3] = src + at[3];
    for (i = 0; i + 16 <= q; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(g[0] + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(g[1] + i));
        __m128i c = _mm_loadu_si128((const __m128i *)(g[2] + i));
        __m128i d = _mm_loadu_si128((const __m128i *)(g[3] + i));
        __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
        __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
        uint8_t *o = dst + 4 * i;
        _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi16(ab_lo, cd_lo));
        _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(ab_lo, cd_lo));
        _mm_storeu_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(ab_hi, cd_hi));
        _mm_storeu_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(ab_hi, cd_hi));
    }
    cas__bg4_regroup_from(src, n, dst, i);
}
#endif

void cas_bg4_split(const uint8_t *src, size_t n, uint8_t *dst) {
#if CAS__X86_GNU
    if (cas_cpu_features() & CAS_CPU_SSSE3) {
        cas__bg4_split_ssse3(src, n, dst);
        return;
    }
#endif
    cas__bg4_split_from(src, n, dst, 0);
}

void cas_bg4_regroup(const uint8_t *src, size_t n, uint8_t *dst) {
#if CAS__X86_GNU
    if (cas_cpu_features() & CAS_CPU_SSE2) {
        cas__bg4_regroup_sse2(src, n, dst);
        return;
    }
#endif
    cas__bg4_regroup_from(src, n, dst, 0);
}

const char *cas_bg4_path(void) {
    unsigned f = cas_cpu_features();
    (void)f;
#if CAS__X86_GNU
    if (f & CAS_CPU_SSSE3) return "ssse3";
    if (f & CAS_CPU_SSE2) return "sse2"; /* regroup only; split is portable */
#endif
    return "portable";
}

/* ---- BG4 predictor ----
   Transcribed from xet-core xet_core_structures/src/xorb_object/byte_grouping/bg4_prediction.rs
   (BG4Predictor::add_data + bg4_recommended; used by CompressionScheme::choose_from_data in
   compression_scheme.rs on the whole chunk, offset 0):
     hist[g][c] = number of bytes at positions = g mod 4 whose popcount is c (0..8);
     base[c] = 1 + sum_g hist[g][c];  total[g] = sum_c hist[g][c];  T = sum_g total[g]
       (T does not include the nine +1s: q below sums to slightly more than 1, as upstream);
     KL[g] = sum_c p * ln(p / q), p = hist[g][c] / total[g], q = base[c] / T;
     recommend BG4 iff max_g KL[g] > 0.02, where max starts at 0.
   In f64, a group with an empty bin (p = 0) gets 0 * ln(0) = 0 * -inf = NaN, and so does a
   group with total 0; Rust's f64::max ignores NaN, so such a group never counts. That is
   reproduced explicitly below (it matters: e.g. the exponent byte of float weights rarely
   fills all nine bins). */

void cas_bg4_predictor_init(cas_bg4_predictor *p) { memset(p, 0, sizeof *p); }

void cas_bg4_predictor_add(cas_bg4_predictor *p, uint64_t offset, const void *data, size_t n) {
    /* Count byte values per position, then fold into popcount bins: one increment per byte. */
    uint32_t count[4][256];
    const uint8_t *d = (const uint8_t *)data;
    size_t i = 0;
    unsigned g, v, phase = (unsigned)(offset & 3);
    memset(count, 0, sizeof count);
    for (; i < n && ((phase + i) & 3); i++) count[(phase + i) & 3][d[i]]++;
    for (; n - i >= 4; i += 4) {
        count[0][d[i]]++;
        count[1][d[i + 1]]++;
        count[2][d[i + 2]]++;
        count[3][d[i + 3]]++;
    }
    for (; i < n; i++) count[(phase + i) & 3][d[i]]++;
    for (g = 0; g < 4; g++)
        for (v = 0; v < 256; v++) {
            unsigned c = v - ((v >> 1) & 0x55);
            c = (c & 0x33) + ((c >> 2) & 0x33);
            c = (c + (c >> 4)) & 0x0F;
            p->priv_hist[g][c] += count[g][v];
        }
}

/* Natural logarithm of a positive finite double, without libm: x = m * 2^e with m in
   [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh(s) = 2 (s + s^3/3 + ...), s = (m-1)/(m+1), |s| < 0.172,
   summed until the terms vanish (under 1 ulp of the result). */
CAS__TESTED double cas__ln(double x) {
    uint64_t bits;
    int e;
    double m, s, s2, term, sum;
    int k;
    memcpy(&bits, &x, sizeof bits);
    e = (int)((bits >> 52) & 0x7FF);
    if (e == 0) { /* subnormal: scale into the normal range */
        x *= 18014398509481984.0; /* 2^54 */
        memcpy(&bits, &x, sizeof bits);
        e = (int)((bits >> 52) & 0x7FF) - 54;
    }
    e -= 1023;
    bits = (bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    s = (m - 1.0) / (m + 1.0);
    s2 = s * s;
    term = s;
    sum = s;
    for (k = 3; k < 40; k += 2) {
        term *= s2;
        if (term == 0.0) break;
        sum += term / k;
    }
    return (double)e * 0.6931471805599453 + 2.0 * sum;
}

int cas_bg4_predictor_recommends(const cas_bg4_predictor *p) {
    uint32_t base[9], total[4] = {0, 0, 0, 0}, all = 0;
    double max_kl = 0.0;
    int g, c;
    for (c = 0; c < 9; c++) base[c] = 1;
    for (g = 0; g < 4; g++)
        for (c = 0; c < 9; c++) {
            base[c] += p->priv_hist[g][c];
            total[g] += p->priv_hist[g][c];
        }
    for (g = 0; g < 4; g++) all += total[g];
    for (g = 0; g < 4; g++) {
        double kl = 0.0;
        int empty_bin = total[g] == 0;
        for (c = 0; c < 9 && !empty_bin; c++) empty_bin = p->priv_hist[g][c] == 0;
        if (empty_bin) continue; /* upstream: NaN, dropped by f64::max */
        for (c = 0; c < 9; c++) {
            double pr = (double)p->priv_hist[g][c] / (double)total[g];
            double q = (double)base[c] / (double)all;
            kl += pr * cas__ln(pr / q);
        }
        if (kl > max_kl) max_kl = kl;
    }
    return max_kl > 0.02;
}

int cas_bg4_predict(const void *data, size_t n) {
    cas_bg4_predictor p;
    cas_bg4_predictor_init(&p);
    cas_bg4_predictor_add(&p, 0, data, n);
    return cas_bg4_predictor_recommends(&p);
}

/* ==== >>primitives: chunk compression ==================================================== */

/* 1 if `compression` is a CAS_COMPRESS_* request. */
static int cas__compress_known(int compression) {
    return compression == CAS_COMPRESS_DEFAULT || compression == CAS_COMPRESS_NONE ||
           compression == CAS_COMPRESS_LZ4 || compression == CAS_COMPRESS_BG4_LZ4 ||
           compression == CAS_COMPRESS_AUTO;
}

cas_result cas_chunk_compress(cas_chunk_compressor *cc, const void *chunk, size_t n, int compression,
                              void *dst, size_t cap, size_t *out_len, int *scheme_out) {
    int scheme;
    *out_len = 0;
    *scheme_out = CAS_SCHEME_NONE;
    if (n > CAS_CHUNK_MAX_SIZE || !cas__compress_known(compression)) return CAS_E_ARGUMENT;
    scheme = compression == CAS_COMPRESS_NONE     ? CAS_SCHEME_NONE
             : compression == CAS_COMPRESS_BG4_LZ4 ? CAS_SCHEME_BG4_LZ4
             : compression == CAS_COMPRESS_AUTO && cas_bg4_predict(chunk, n) ? CAS_SCHEME_BG4_LZ4
                                                                            : CAS_SCHEME_LZ4;
    if (scheme == CAS_SCHEME_LZ4 || scheme == CAS_SCHEME_BG4_LZ4) {
        const uint8_t *in = (const uint8_t *)chunk;
        if (scheme == CAS_SCHEME_BG4_LZ4) {
            cas_bg4_split(in, n, cc->priv_grouped);
            in = cc->priv_grouped;
        }
        /* Keep the frame only if it is smaller than the chunk (serialize_chunk: a frame >= the
           chunk is replaced by the chunk, scheme None): ask for at most n - 1 bytes. */
        if (n > 0 && cas__lz4_frame_write(in, n, (uint8_t *)dst, cap < n - 1 ? cap : n - 1, out_len,
                                          1, &cc->priv_table) == CAS_OK) {
            *scheme_out = scheme;
            return CAS_OK;
        }
    }
    if (cap < n) return CAS_E_LIMIT;
    if (n) memcpy(dst, chunk, n);
    *out_len = n;
    return CAS_OK;
}

cas_result cas_chunk_decompress(const void *src, size_t n, int scheme, void *dst, size_t size,
                                void *scratch, cas_error *err) {
    size_t got;
    int rc;
    uint8_t *out = (uint8_t *)dst;
    if (size > CAS_CHUNK_MAX_SIZE)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "the chunk size is over 128 KiB"));
    switch (scheme) {
    case CAS_SCHEME_NONE:
        if (n != size)
            return (cas_result)(cas__fail(err, CAS_E_SIZE, n < size ? n : size,
                                          "an uncompressed chunk's payload differs from its size"));
        if (n) memcpy(dst, src, n);
        return (cas_result)(cas__succeed(err));
    case CAS_SCHEME_BG4_LZ4:
        if (!scratch) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "BG4 needs a scratch buffer"));
        out = (uint8_t *)scratch;
        break;
    case CAS_SCHEME_LZ4:
        break;
    default:
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "unknown compression scheme"));
    }
    rc = cas_lz4_frame_decompress(src, n, out, size, &got, err);
    if (rc == CAS_E_LIMIT) /* the payload holds more than its header says */
        return (cas_result)(cas__fail(err, CAS_E_SIZE, err ? err->offset : 0,
                                      "the chunk decodes to more bytes than its size"));
    if (rc) return (cas_result)(rc);
    if (got != size)
        return (cas_result)(cas__fail(err, CAS_E_SIZE, n, "the chunk decodes to fewer bytes than its size"));
    if (scheme == CAS_SCHEME_BG4_LZ4) cas_bg4_regroup(out, size, (uint8_t *)dst);
    return (cas_result)(cas__succeed(err));
}

/* This section's internal macros end here. */
#undef CAS__FORCE_INLINE
#undef CAS__LITTLE_ENDIAN
#undef CAS__LZ4_MINMATCH
#undef CAS__LZ4_MFLIMIT
#undef CAS__LZ4_LASTLITERALS
#undef CAS__LZ4_MAX_DISTANCE
#undef CAS__LZ4_SMALL_INPUT
#undef CAS__LZ4_HASH_LOG_SMALL
#undef CAS__LZ4_HASH_LOG
#undef CAS__LZ4_FLG_VERSION_MASK
#undef CAS__LZ4_FLG_VERSION
#undef CAS__LZ4_FLG_INDEPENDENT
#undef CAS__LZ4_FLG_BLOCK_CHECKSUM
#undef CAS__LZ4_FLG_CONTENT_SIZE
#undef CAS__LZ4_FLG_CONTENT_CHECKSUM
#undef CAS__LZ4_FLG_RESERVED
#undef CAS__LZ4_FLG_DICT_ID
#undef CAS__LZ4_BLOCK_STORED
#undef CAS__LZ4_VERIFY_CHECKSUMS
#undef CAS__XXH_P1
#undef CAS__XXH_P2
#undef CAS__XXH_P3
#undef CAS__XXH_P4
#undef CAS__XXH_P5
#undef CAS__ROTL32

/* ==== >>formats: output sinks ============================================================ */

static int cas__sink_put(cas_sink *s, const void *data, size_t len) {
    if (s->write) return len ? s->write(s->user, data, len) : CAS_OK;
    if (len > s->cap - s->len) return CAS_E_LIMIT;
    if (len) memcpy(s->buf + s->len, data, len);
    s->len += len;
    return CAS_OK;
}

/* ==== >>formats: xorb ==================================================================== */

static const uint8_t cas__xorb_ident[7] = {'X', 'E', 'T', 'B', 'L', 'O', 'B'};
static const uint8_t cas__xorb_ident_hashes[7] = {'X', 'B', 'L', 'B', 'H', 'S', 'H'};
static const uint8_t cas__xorb_ident_bounds[7] = {'X', 'B', 'L', 'B', 'B', 'N', 'D'};

cas_result cas_chunk_header_parse(const uint8_t p[CAS_CHUNK_HEADER_SIZE], uint64_t offset,
                                  cas_chunk_header *h, cas_error *err) {
    h->version = p[0];
    h->compressed_size = cas__load_le24(p + 1);
    h->scheme = p[4];
    h->uncompressed_size = cas__load_le24(p + 5);
    if (h->version != 0)
        return (cas_result)(cas__fail(err, CAS_E_CHUNK_VERSION, offset, "chunk header version is not 0"));
    if (h->scheme > CAS_SCHEME_BG4_LZ4)
        return (cas_result)(cas__fail(err, CAS_E_CHUNK_SCHEME, offset + 4, "chunk compression scheme is not 0, 1 or 2"));
    if (h->uncompressed_size == 0 || h->uncompressed_size > CAS_CHUNK_MAX_SIZE)
        return (cas_result)(cas__fail(err, CAS_E_CHUNK_SIZE, offset + 5, "chunk uncompressed size is not 1..131072"));
    if (h->compressed_size == 0 || h->compressed_size > CAS_CHUNK_MAX_COMPRESSED)
        return (cas_result)(cas__fail(err, CAS_E_CHUNK_SIZE, offset + 1, "chunk compressed size is not 1..262144"));
    if (h->scheme == CAS_SCHEME_NONE && h->compressed_size != h->uncompressed_size)
        return (cas_result)(cas__fail(err, CAS_E_CHUNK_SIZE, offset + 1,
                                      "uncompressed chunk whose compressed and uncompressed sizes differ"));
    return (cas_result)(cas__succeed(err));
}

void cas_chunk_header_write(uint8_t p[CAS_CHUNK_HEADER_SIZE], const cas_chunk_header *h) {
    p[0] = h->version;
    cas__store_le24(p + 1, h->compressed_size);
    p[4] = h->scheme;
    cas__store_le24(p + 5, h->uncompressed_size);
}

cas_result cas_chunk_record_encode(cas_chunk_compressor *cc, const void *chunk, size_t n, int compression,
                                   void *dst, size_t cap, size_t *out_len, int *scheme_out) {
    uint8_t *d = (uint8_t *)dst;
    cas_chunk_header h;
    size_t plen = 0;
    int stored = CAS_SCHEME_NONE, rc;
    *out_len = 0;
    if (n == 0 || n > CAS_CHUNK_MAX_SIZE) return CAS_E_CHUNK_SIZE;
    if (cap < CAS_CHUNK_HEADER_SIZE) return CAS_E_LIMIT;
    rc = cas_chunk_compress(cc, chunk, n, compression, d + CAS_CHUNK_HEADER_SIZE,
                            cap - CAS_CHUNK_HEADER_SIZE, &plen, &stored);
    if (rc != CAS_OK) return (cas_result)(rc);
    h.version = 0;
    h.scheme = (uint8_t)stored;
    h.compressed_size = (uint32_t)plen;
    h.uncompressed_size = (uint32_t)n;
    cas_chunk_header_write(d, &h);
    *out_len = CAS_CHUNK_HEADER_SIZE + plen;
    if (scheme_out) *scheme_out = stored;
    return CAS_OK;
}

/* ---- writer ---- */

#define CAS__XORB_RECORD_CAP (CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_SIZE)

cas_result cas_xorb_writer_init(const cas_allocator *alloc, cas_xorb_writer *w, int compression,
                                cas_sink *sink) {
    memset(w, 0, sizeof *w);
    w->priv_alloc = cas__allocator_or_default(alloc);
    if (!sink || !cas__compress_known(compression))
        return (cas_result)(cas__fail(&w->error, CAS_E_ARGUMENT, 0, "no sink, or not a CAS_COMPRESS_* request"));
    w->priv_sink = sink;
    w->priv_compression = compression;
    w->priv_cc = (cas_chunk_compressor *)cas__alloc(&w->priv_alloc, sizeof *w->priv_cc);
    w->priv_record = (uint8_t *)cas__alloc(&w->priv_alloc, CAS__XORB_RECORD_CAP);
    if (!w->priv_cc || !w->priv_record) {
        cas_xorb_writer_free(w);
        return (cas_result)(cas__fail(&w->error, CAS_E_NOMEM, 0, "xorb writer buffers"));
    }
    return (cas_result)(cas__succeed(&w->error));
}

void cas_xorb_writer_free(cas_xorb_writer *w) {
    cas__free(&w->priv_alloc, w->priv_cc, sizeof *w->priv_cc);
    cas__free(&w->priv_alloc, w->priv_record, CAS__XORB_RECORD_CAP);
    cas__free(&w->priv_alloc, w->priv_chunks, (size_t)w->priv_cap * sizeof(cas_xorb_chunk));
    w->priv_cc = NULL;
    w->priv_record = NULL;
    w->priv_chunks = NULL;
    w->priv_cap = 0;
}

int cas_xorb_writer_fits(const cas_xorb_writer *w, size_t n) {
    return w->priv_count < CAS_XORB_MAX_CHUNKS && n <= CAS_CHUNK_MAX_SIZE &&
           w->priv_size + CAS_CHUNK_HEADER_SIZE + n <= CAS_XORB_MAX_SIZE;
}

cas_result cas_xorb_writer_add_record(cas_xorb_writer *w, const void *record, size_t len,
                                      const cas_hash *hash) {
    cas_chunk_header h;
    cas_xorb_chunk *c;
    int rc;
    if (w->error.code < 0) return (cas_result)(w->error.code);
    if (w->priv_finished) return (cas_result)(cas__fail(&w->error, CAS_E_STATE, w->priv_size, "xorb already finished"));
    if (len < CAS_CHUNK_HEADER_SIZE)
        return (cas_result)(cas__fail(&w->error, CAS_E_TRUNCATED, w->priv_size, "record shorter than its header"));
    rc = cas_chunk_header_parse((const uint8_t *)record, w->priv_size, &h, &w->error);
    if (rc != CAS_OK) return (cas_result)(rc);
    if (len != CAS_CHUNK_HEADER_SIZE + (size_t)h.compressed_size)
        return (cas_result)(cas__fail(&w->error, CAS_E_SIZE, w->priv_size, "record length differs from its header"));
    if (w->priv_count >= CAS_XORB_MAX_CHUNKS || w->priv_size + len > CAS_XORB_MAX_SIZE) {
        /* Not sticky: the caller starts a new xorb with this chunk. */
        cas_error e;
        return (cas_result)(cas__fail(&e, CAS_E_XORB_LIMIT, w->priv_size, "chunk does not fit in this xorb"));
    }
    /* the chunk table: 64, 128, ... 8192 */
    if (cas__grow(&w->priv_alloc, (void **)&w->priv_chunks, &w->priv_cap, (size_t)w->priv_count + 1,
                  sizeof *w->priv_chunks, 64))
        return (cas_result)(cas__fail(&w->error, CAS_E_NOMEM, w->priv_size, "xorb chunk table"));
    rc = cas__sink_put(w->priv_sink, record, len);
    if (rc != CAS_OK) return (cas_result)(cas__fail(&w->error, rc, w->priv_size, "the sink refused the record"));
    c = &w->priv_chunks[w->priv_count++];
    c->hash = *hash;
    c->offset = (uint32_t)w->priv_size;
    c->record_size = (uint32_t)len;
    c->unpacked_offset = (uint32_t)w->priv_unpacked;
    c->size = h.uncompressed_size;
    w->priv_size += len;
    w->priv_unpacked += h.uncompressed_size;
    w->priv_schemes[h.scheme]++;
    return CAS_OK;
}

cas_result cas_xorb_writer_add(cas_xorb_writer *w, const void *chunk, size_t n, const cas_hash *hash) {
    cas_hash computed;
    size_t len;
    int rc;
    if (w->error.code < 0) return (cas_result)(w->error.code);
    if (n == 0 || n > CAS_CHUNK_MAX_SIZE)
        return (cas_result)(cas__fail(&w->error, CAS_E_CHUNK_SIZE, w->priv_size, "chunk size is not 1..131072"));
    if (!cas_xorb_writer_fits(w, n)) {
        cas_error e;
        return (cas_result)(cas__fail(&e, CAS_E_XORB_LIMIT, w->priv_size, "chunk does not fit in this xorb"));
    }
    rc = cas_chunk_record_encode(w->priv_cc, chunk, n, w->priv_compression, w->priv_record,
                                 CAS__XORB_RECORD_CAP, &len, NULL);
    if (rc != CAS_OK) return (cas_result)(cas__fail(&w->error, rc, w->priv_size, "chunk compression failed"));
    if (!hash) {
        cas_chunk_hash(chunk, n, &computed);
        hash = &computed;
    }
    return (cas_result)(cas_xorb_writer_add_record(w, w->priv_record, len, hash));
}

const cas_xorb_chunk *cas_xorb_writer_chunks(const cas_xorb_writer *w, size_t *count) {
    *count = w->priv_count;
    return w->priv_chunks;
}
uint64_t cas_xorb_writer_size(const cas_xorb_writer *w) { return w->priv_size; }
uint64_t cas_xorb_writer_unpacked_size(const cas_xorb_writer *w) { return w->priv_unpacked; }

static void cas__xorb_chunks_hash(const cas_xorb_chunk *chunks, uint32_t n, cas_hash *out) {
    cas_merkle m;
    uint32_t i;
    cas_merkle_init(&m);
    for (i = 0; i < n; i++) {
        cas_chunk c;
        c.hash = chunks[i].hash;
        c.size = chunks[i].size;
        cas_merkle_push(&m, &c);
    }
    cas_merkle_root(&m, out);
}

/* xet-core's XorbObjectInfoV1 (xorb_object_format.rs), then its length as u32:
   "XETBLOB" 1 xorb_hash | "XBLBHSH" 0 n hashes[n] | "XBLBBND" 1 n record_ends[n]
   unpacked_ends[n] | n hashes_section_offset_from_end boundary_section_offset_from_end |
   16 zero bytes. The "from end" offsets count to the end of the info (not its length word). */
static int cas__xorb_write_footer(cas_xorb_writer *w, const cas_hash *xorb_hash) {
    uint8_t buf[64];
    uint32_t n = w->priv_count, i;
    uint32_t bounds_from_end = 7 + 1 + 4 + 8 * n + 4 + 4 + 4 + 16;
    uint32_t hashes_from_end = 7 + 1 + 4 + 32 * n + bounds_from_end;
    int rc;
#define CAS__PUT(p, len) do { rc = cas__sink_put(w->priv_sink, (p), (len)); if (rc) return rc; } while (0)
    memcpy(buf, cas__xorb_ident, 7);
    buf[7] = 1;
    memcpy(buf + 8, xorb_hash->bytes, 32);
    memcpy(buf + 40, cas__xorb_ident_hashes, 7);
    buf[47] = 0;
    cas__store_le32(buf + 48, n);
    CAS__PUT(buf, 52);
    for (i = 0; i < n; i++) CAS__PUT(w->priv_chunks[i].hash.bytes, 32);
    memcpy(buf, cas__xorb_ident_bounds, 7);
    buf[7] = 1;
    cas__store_le32(buf + 8, n);
    CAS__PUT(buf, 12);
    for (i = 0; i < n; i++) {
        cas__store_le32(buf, w->priv_chunks[i].offset + w->priv_chunks[i].record_size);
        CAS__PUT(buf, 4);
    }
    for (i = 0; i < n; i++) {
        cas__store_le32(buf, w->priv_chunks[i].unpacked_offset + w->priv_chunks[i].size);
        CAS__PUT(buf, 4);
    }
    memset(buf, 0, sizeof buf);
    cas__store_le32(buf, n);
    cas__store_le32(buf + 4, hashes_from_end);
    cas__store_le32(buf + 8, bounds_from_end);
    cas__store_le32(buf + 28, 92 + 40 * n); /* after the 16-byte buffer: the info's length */
    CAS__PUT(buf, 32);
#undef CAS__PUT
    return CAS_OK;
}

cas_result cas_xorb_writer_finish(cas_xorb_writer *w, int footer, cas_hash *xorb_hash) {
    cas_hash h;
    int rc;
    if (w->error.code < 0) return (cas_result)(w->error.code);
    if (w->priv_finished) return (cas_result)(cas__fail(&w->error, CAS_E_STATE, w->priv_size, "xorb already finished"));
    cas__xorb_chunks_hash(w->priv_chunks, w->priv_count, &h);
    if (xorb_hash) *xorb_hash = h;
    w->priv_finished = 1;
    if (footer && (rc = cas__xorb_write_footer(w, &h)) != CAS_OK)
        return (cas_result)(cas__fail(&w->error, rc, w->priv_size, "the sink refused the footer"));
    return CAS_OK;
}

/* ---- reader ---- */

static uint64_t cas__load_width(const uint8_t *p, uint32_t width) {
    return width == 8 ? cas__load_le64(p) : cas__load_le32(p);
}

uint64_t cas_xorb_footer_record_end(const cas_xorb_footer *f, uint32_t i) {
    return cas__load_width(f->record_ends + (size_t)i * f->width, f->width);
}

cas_result cas_xorb_footer_find(const uint8_t *data, size_t len, cas_xorb_footer *f, cas_error *err) {
    uint64_t info_len, start, n;
    const uint8_t *p, *end;
    uint32_t w;
    memset(f, 0, sizeof *f);
    if (len < 4 + 40) return CAS_END;
    /* The last word is the info's length (u32; u64 in version 2). Without "XETBLOB" where it
       points, there is no footer: the bytes are records (the reader then checks them). */
    info_len = cas__load_le32(data + len - 4);
    w = 4;
    if (info_len < 40 || info_len > len - 4 ||
        memcmp(data + (len - 4 - info_len), cas__xorb_ident, 7) != 0) {
        if (len < 8 + 40) return CAS_END;
        info_len = cas__load_le64(data + len - 8);
        w = 8;
        if (info_len < 40 || info_len > len - 8 ||
            memcmp(data + (len - 8 - info_len), cas__xorb_ident, 7) != 0)
            return CAS_END;
    }
    start = len - w - info_len;
    p = data + start;
    end = data + len - w;
    f->offset = start;
    if (info_len < 8 + 32) return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, start, "xorb footer too short"));
    f->version = p[7];
    memcpy(f->xorb_hash.bytes, p + 8, 32);
    p += 40;
    if (f->version == 0 && w == 4) {
        /* Legacy: n, record_ends[n] (u32), hashes[n], 16-byte buffer. */
        if (end - p < 4) return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, start, "xorb footer v0 truncated"));
        n = cas__load_le32(p);
        if (n > CAS_XORB_MAX_CHUNKS || (uint64_t)(end - p) != 4 + 36 * n + 16)
            return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, (uint64_t)(p - data), "xorb footer v0 chunk count"));
        f->num_chunks = (uint32_t)n;
        f->width = 4;
        f->record_ends = p + 4;
        f->chunk_hashes = p + 4 + 4 * n;
        return (cas_result)(cas__succeed(err));
    }
    if ((f->version == 1 && w == 4) || (f->version == 2 && w == 8)) {
        const uint8_t *hs = p, *bs;
        uint64_t n2, n3, nlast, hashes_from_end, bounds_from_end;
        f->width = w;
        if ((uint64_t)(end - p) < 8 + w || memcmp(p, cas__xorb_ident_hashes, 7) != 0 || p[7] != 0)
            return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, (uint64_t)(p - data), "xorb footer hash section ident"));
        n2 = cas__load_width(p + 8, w);
        if (n2 > CAS_XORB_MAX_CHUNKS || (uint64_t)(end - p) < 8 + w + 32 * n2)
            return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, (uint64_t)(p + 8 - data), "xorb footer chunk count"));
        f->chunk_hashes = p + 8 + w;
        p += 8 + w + 32 * n2;
        bs = p;
        if ((uint64_t)(end - p) < 8 + w || memcmp(p, cas__xorb_ident_bounds, 7) != 0 || p[7] != 1)
            return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, (uint64_t)(p - data), "xorb footer boundary section ident"));
        n3 = cas__load_width(p + 8, w);
        if (n3 != n2 || (uint64_t)(end - p) != 8 + w + 2 * w * n2 + 3 * w + 16)
            return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, (uint64_t)(p + 8 - data), "xorb footer boundary section size"));
        f->record_ends = p + 8 + w;
        f->unpacked_ends = p + 8 + w + w * n2;
        p += 8 + w + 2 * w * n2;
        nlast = cas__load_width(p, w);
        hashes_from_end = cas__load_width(p + w, w);
        bounds_from_end = cas__load_width(p + 2 * w, w);
        if (nlast != n2 || hashes_from_end != (uint64_t)(end - hs) || bounds_from_end != (uint64_t)(end - bs))
            return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, (uint64_t)(p - data), "xorb footer trailer fields"));
        f->num_chunks = (uint32_t)n2;
        return (cas_result)(cas__succeed(err));
    }
    return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, start + 7, "xorb footer version is not 0, 1 or 2"));
}

cas_result cas_xorb_next(const uint8_t *data, size_t len, size_t *pos, cas_chunk_header *h,
                         const uint8_t **payload, cas_error *err) {
    size_t at = *pos;
    int rc;
    if (at >= len || (len - at >= 7 && memcmp(data + at, cas__xorb_ident, 7) == 0)) {
        cas__succeed(err);
        return CAS_END;
    }
    if (len - at < CAS_CHUNK_HEADER_SIZE)
        return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, at, "xorb ends inside a chunk header"));
    rc = cas_chunk_header_parse(data + at, at, h, err);
    if (rc != CAS_OK) return (cas_result)(rc);
    if (len - at - CAS_CHUNK_HEADER_SIZE < h->compressed_size)
        return (cas_result)(cas__fail(err, CAS_E_TRUNCATED, at, "xorb ends inside a chunk payload"));
    *payload = data + at + CAS_CHUNK_HEADER_SIZE;
    *pos = at + CAS_CHUNK_HEADER_SIZE + h->compressed_size;
    return CAS_OK;
}

/* ---- the one record decoder of cas_xorb_walk and cas_xorb_stream ---- */

/* Record `index` (its header h at byte `at` of the xorb) within the xorb limits? */
static int cas__xorb_record_fits(uint32_t index, uint64_t at, const cas_chunk_header *h, cas_error *err) {
    if (index >= CAS_XORB_MAX_CHUNKS || at + CAS_CHUNK_HEADER_SIZE + h->compressed_size > CAS_XORB_MAX_SIZE)
        return cas__fail(err, CAS_E_XORB_LIMIT, at, "xorb has more than 8192 chunks or 64 MiB");
    return CAS_OK;
}
/* Its chunk bytes, at *data: a stored chunk (scheme NONE, whose sizes the header parse
   checked) where it lies, with no copy; a compressed one decoded into
   out[0..h->uncompressed_size) (scratch: BG4's regrouping room). An error's offset is the
   xorb's byte. */
static int cas__xorb_record_decode(uint64_t at, const cas_chunk_header *h, const uint8_t *payload, uint8_t *out,
                                   uint8_t *scratch, const uint8_t **data, cas_error *err) {
    int rc;
    if (h->scheme == CAS_SCHEME_NONE) {
        *data = payload;
        return cas__succeed(err);
    }
    rc = cas_chunk_decompress(payload, h->compressed_size, h->scheme, out, h->uncompressed_size, scratch, err);
    if (rc != CAS_OK && err) err->offset += at + CAS_CHUNK_HEADER_SIZE;
    *data = out;
    return rc;
}

cas_result cas_xorb_walk(const uint8_t *data, size_t len, uint8_t *scratch, cas_xorb_chunk_fn on_chunk,
                         void *user, cas_xorb_info *info, cas_error *err) {
    cas_xorb_footer f;
    cas_merkle m;
    size_t pos = 0, records_len = len;
    uint32_t index = 0;
    uint64_t unpacked = 0;
    int rc;
    memset(info, 0, sizeof *info);
    rc = cas_xorb_footer_find(data, len, &f, err);
    if (rc < 0) return (cas_result)(rc);
    if (rc == CAS_OK) {
        info->has_footer = 1;
        records_len = (size_t)f.offset;
    }
    cas_merkle_init(&m);
    for (;;) {
        cas_chunk_header h;
        const uint8_t *payload, *bytes;
        cas_chunk c;
        size_t at = pos;
        rc = cas_xorb_next(data, records_len, &pos, &h, &payload, err);
        if (rc == CAS_END) {
            if (pos < records_len) /* "XETBLOB" where no valid footer was found */
                return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, pos, "xorb footer ident without a valid footer"));
            break;
        }
        if (rc != CAS_OK) return (cas_result)(rc);
        if ((rc = cas__xorb_record_fits(index, at, &h, err)) != CAS_OK ||
            (rc = cas__xorb_record_decode(at, &h, payload, scratch, scratch + CAS_CHUNK_MAX_SIZE, &bytes, err)) != CAS_OK)
            return (cas_result)(rc);
        cas_chunk_hash(bytes, h.uncompressed_size, &c.hash);
        c.size = h.uncompressed_size;
        if (info->has_footer) {
            if (index >= f.num_chunks)
                return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, at, "more records than the xorb footer lists"));
            if (cas_xorb_footer_record_end(&f, index) != pos ||
                (f.unpacked_ends && cas__load_width(f.unpacked_ends + (size_t)index * f.width, f.width) != unpacked + c.size))
                return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, at, "xorb footer boundaries differ from the records"));
            if (memcmp(f.chunk_hashes + (size_t)index * 32, c.hash.bytes, 32) != 0)
                return (cas_result)(cas__fail(err, CAS_E_HASH, at, "chunk hash differs from the xorb footer's"));
        }
        cas_merkle_push(&m, &c);
        unpacked += c.size;
        if (on_chunk && (rc = on_chunk(user, index, at, &h, bytes, &c.hash)) != 0) return (cas_result)(rc);
        index++;
    }
    if (info->has_footer && index != f.num_chunks)
        return (cas_result)(cas__fail(err, CAS_E_XORB_FOOTER, pos, "fewer records than the xorb footer lists"));
    info->num_chunks = index;
    info->records_size = pos;
    info->unpacked_size = unpacked;
    cas_merkle_root(&m, &info->xorb_hash);
    if (info->has_footer && !cas_hash_equal(&info->xorb_hash, &f.xorb_hash))
        return (cas_result)(cas__fail(err, CAS_E_HASH, f.offset + 8, "xorb hash differs from the footer's"));
    return (cas_result)(cas__succeed(err));
}

/* ---- streaming reader ---- */

#define CAS__XORB_STREAM_BUF (CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_COMPRESSED)

cas_result cas_xorb_stream_init(const cas_allocator *alloc, cas_xorb_stream *s) {
    memset(s, 0, sizeof *s);
    s->priv_alloc = cas__allocator_or_default(alloc);
    s->priv_buf = (uint8_t *)cas__alloc(&s->priv_alloc, CAS__XORB_STREAM_BUF);
    s->priv_out = (uint8_t *)cas__alloc(&s->priv_alloc, CAS_CHUNK_MAX_SIZE);
    s->priv_scratch = (uint8_t *)cas__alloc(&s->priv_alloc, CAS_CHUNK_MAX_SIZE);
    s->priv_need = CAS_CHUNK_HEADER_SIZE;
    if (!s->priv_buf || !s->priv_out || !s->priv_scratch) {
        cas_xorb_stream_free(s);
        return (cas_result)(cas__fail(&s->error, CAS_E_NOMEM, 0, "xorb stream buffers"));
    }
    return (cas_result)(cas__succeed(&s->error));
}

void cas_xorb_stream_free(cas_xorb_stream *s) {
    cas__free(&s->priv_alloc, s->priv_buf, CAS__XORB_STREAM_BUF);
    cas__free(&s->priv_alloc, s->priv_out, CAS_CHUNK_MAX_SIZE);
    cas__free(&s->priv_alloc, s->priv_scratch, CAS_CHUNK_MAX_SIZE);
    s->priv_buf = s->priv_out = s->priv_scratch = NULL;
}

cas_result cas_xorb_stream_push(cas_xorb_stream *s, const void *data, size_t len, size_t *consumed,
                                cas_xorb_stream_chunk *out) {
    const uint8_t *p = (const uint8_t *)data;
    size_t used = 0;
    *consumed = 0;
    if (s->error.code < 0) return (cas_result)(s->error.code);
    if (!s->priv_buf) return (cas_result)(cas__fail(&s->error, CAS_E_STATE, 0, "xorb stream not initialised"));
    while (used < len) {
        size_t take;
        if (s->priv_in_footer) { /* keep the last 4 bytes: the footer's length word */
            size_t k;
            for (k = used; k < len; k++) { /* the last 8 bytes seen (footers are small) */
                memmove(s->priv_buf, s->priv_buf + 1, 7);
                s->priv_buf[7] = p[k];
            }
            s->priv_have += len - used;
            used = len;
            break;
        }
        if (s->priv_have == 0 && len - used >= CAS_CHUNK_HEADER_SIZE && memcmp(p + used, cas__xorb_ident, 7) != 0) {
            /* A record that lies whole in the input is decoded from there: no copy into
               priv_buf, and a stored chunk is handed out where it lies. */
            cas_chunk_header h;
            if (cas_chunk_header_parse(p + used, s->priv_offset, &h, &s->error) != CAS_OK ||
                cas__xorb_record_fits(s->priv_index, s->priv_offset, &h, &s->error) != CAS_OK)
                break;
            if (len - used - CAS_CHUNK_HEADER_SIZE >= h.compressed_size) {
                if (cas__xorb_record_decode(s->priv_offset, &h, p + used + CAS_CHUNK_HEADER_SIZE, s->priv_out,
                                            s->priv_scratch, &out->data, &s->error) != CAS_OK)
                    break;
                out->index = s->priv_index++;
                out->offset = s->priv_offset;
                out->header = h;
                s->priv_offset += CAS_CHUNK_HEADER_SIZE + (uint64_t)h.compressed_size;
                *consumed = used + CAS_CHUNK_HEADER_SIZE + h.compressed_size;
                return CAS_READY;
            }
        }
        take = s->priv_need - s->priv_have;
        if (take > len - used) take = len - used;
        memcpy(s->priv_buf + s->priv_have, p + used, take);
        s->priv_have += take;
        used += take;
        if (s->priv_have < s->priv_need) break;
        if (s->priv_need == CAS_CHUNK_HEADER_SIZE) {
            cas_chunk_header h;
            /* A footer begins with "XETBLOB": its first 7 bytes look like a header. */
            if (memcmp(s->priv_buf, cas__xorb_ident, 7) == 0) {
                s->priv_in_footer = 1; /* priv_buf holds the last 8 bytes from now on */
                continue;
            }
            if (cas_chunk_header_parse(s->priv_buf, s->priv_offset, &h, &s->error) != CAS_OK)
                break;
            if (cas__xorb_record_fits(s->priv_index, s->priv_offset, &h, &s->error) != CAS_OK) break;
            s->priv_need = CAS_CHUNK_HEADER_SIZE + h.compressed_size;
            continue;
        }
        {   /* a whole record: decode it */
            cas_chunk_header h;
            int rc;
            cas_chunk_header_parse(s->priv_buf, s->priv_offset, &h, NULL);
            rc = cas__xorb_record_decode(s->priv_offset, &h, s->priv_buf + CAS_CHUNK_HEADER_SIZE, s->priv_out,
                                         s->priv_scratch, &out->data, &s->error);
            if (rc != CAS_OK) break;
            out->index = s->priv_index++;
            out->offset = s->priv_offset;
            out->header = h;
            s->priv_offset += s->priv_need;
            s->priv_have = 0;
            s->priv_need = CAS_CHUNK_HEADER_SIZE;
            *consumed = used;
            return CAS_READY;
        }
    }
    *consumed = used;
    if (s->error.code < 0) return (cas_result)(s->error.code);
    return CAS_NEED_INPUT;
}

cas_result cas_xorb_stream_finish(cas_xorb_stream *s) {
    if (s->error.code < 0) return (cas_result)(s->error.code);
    if (s->priv_in_footer) {
        /* priv_have = the footer's bytes; its last word (u32, or u64 in version 2) is the
           length of the rest. */
        uint64_t total = s->priv_have;
        if (total < 16 || (cas__load_le32(s->priv_buf + 4) != total - 4 &&
                           cas__load_le64(s->priv_buf) != total - 8))
            return (cas_result)(cas__fail(&s->error, CAS_E_XORB_FOOTER, s->priv_offset, "xorb footer length word"));
        return CAS_OK;
    }
    if (s->priv_have != 0)
        return (cas_result)(cas__fail(&s->error, CAS_E_TRUNCATED, s->priv_offset + s->priv_have,
                                      "xorb stream ends inside a chunk record"));
    return CAS_OK;
}

/* ==== >>formats: shard =================================================================== */

/* xet-core MDB_SHARD_HEADER_TAG. */
static const uint8_t cas__shard_tag[32] = {'H', 'F', 'R', 'e', 'p', 'o', 'M', 'e', 't', 'a', 'D',
                                           'a', 't', 'a', 0,   85,  105, 103, 69,  106, 123, 129,
                                           87,  131, 165, 189, 217, 92,  205, 209, 74,  169};

#define CAS__SHARD_E CAS_SHARD_ENTRY_SIZE
#define CAS__SHARD_MAX_CHUNK 131072u /* CAS_CHUNK_MAX_SIZE as a u32 */

/* ---- layout: the one place for the shard's arithmetic and entry rules (reader, writer,
   the upload engine's shard splitting and cas_recon_from_shards use these) ---- */

/* Entries after a file block's header: its terms, a verification entry per term with
   CAS_SHARD_FILE_VERIFICATION, one FileMetadataExt entry with CAS_SHARD_FILE_METADATA_EXT. */
static uint64_t cas__shard_file_entries(uint64_t num_terms, uint32_t flags) {
    return num_terms * ((flags & CAS_SHARD_FILE_VERIFICATION) ? 2 : 1) +
           ((flags & CAS_SHARD_FILE_METADATA_EXT) ? 1 : 0);
}
/* Bytes of a file block as cas_shard_write writes it (verification entries always). */
static uint64_t cas__shard_file_block(uint64_t num_terms, int has_sha256) {
    return CAS__SHARD_E * (1 + cas__shard_file_entries(num_terms, CAS_SHARD_FILE_VERIFICATION |
                                                                      (has_sha256 ? CAS_SHARD_FILE_METADATA_EXT : 0)));
}
/* Bytes of a xorb block: its header and one entry per chunk. */
static uint64_t cas__shard_xorb_block(uint64_t num_chunks) { return CAS__SHARD_E * (1 + num_chunks); }
/* Bytes of the footer's lookup tables per file, per xorb and per chunk (u64 key + u32 entry
   index, and for chunks a u32 chunk index). */
enum { CAS__SHARD_FILE_LOOKUP = 12, CAS__SHARD_XORB_LOOKUP = 12, CAS__SHARD_CHUNK_LOOKUP = 16 };
/* A shard of nothing: the header and the two bookends. */
#define CAS__SHARD_EMPTY_SIZE (CAS_SHARD_HEADER_SIZE + 2 * CAS_SHARD_ENTRY_SIZE)

/* The footer (MDBShardFooter): every u64 field and its byte offset, so that the reader, the
   random-access pre-scan and the writer share one layout. hmac_key is the 32 bytes at 72. */
#define CAS__SF(field, at) {offsetof(cas_shard_footer, field), at}
static const struct { uint16_t member, at; } cas__shard_footer_u64[] = {
    CAS__SF(version, 0), CAS__SF(file_info_offset, 8), CAS__SF(xorb_info_offset, 16),
    CAS__SF(file_lookup_offset, 24), CAS__SF(file_lookup_count, 32), CAS__SF(xorb_lookup_offset, 40),
    CAS__SF(xorb_lookup_count, 48), CAS__SF(chunk_lookup_offset, 56), CAS__SF(chunk_lookup_count, 64),
    CAS__SF(creation_time, 104), CAS__SF(key_expiry, 112), CAS__SF(reserved[0], 120),
    CAS__SF(reserved[1], 128), CAS__SF(reserved[2], 136), CAS__SF(reserved[3], 144),
    CAS__SF(reserved[4], 152), CAS__SF(reserved[5], 160), CAS__SF(stored_bytes_on_disk, 168),
    CAS__SF(materialized_bytes, 176), CAS__SF(stored_bytes, 184), CAS__SF(footer_offset, 192)};
#undef CAS__SF
enum { CAS__SF_HMAC_KEY = 72, CAS__SF_XORB_INFO = 16, CAS__SF_FILE_LOOKUP = 24, CAS__SF_FOOTER_OFFSET = 192 };
static void cas__shard_footer_decode(const uint8_t F[CAS_SHARD_FOOTER_SIZE], cas_shard_footer *f) {
    size_t i;
    for (i = 0; i < sizeof cas__shard_footer_u64 / sizeof cas__shard_footer_u64[0]; i++)
        *(uint64_t *)(void *)((char *)f + cas__shard_footer_u64[i].member) =
            cas__load_le64(F + cas__shard_footer_u64[i].at);
    memcpy(f->hmac_key.bytes, F + CAS__SF_HMAC_KEY, 32);
}
static void cas__shard_footer_encode(uint8_t F[CAS_SHARD_FOOTER_SIZE], const cas_shard_footer *f) {
    size_t i;
    for (i = 0; i < sizeof cas__shard_footer_u64 / sizeof cas__shard_footer_u64[0]; i++)
        cas__store_le64(F + cas__shard_footer_u64[i].at,
                        *(const uint64_t *)(const void *)((const char *)f + cas__shard_footer_u64[i].member));
    memcpy(F + CAS__SF_HMAC_KEY, f->hmac_key.bytes, 32);
}

/* The rules of a term entry, for the reader (CAS_E_SHARD_ENTRY) and the writer
   (CAS_E_ARGUMENT): NULL if the term keeps them, else what it breaks, with *field = the
   offending field's offset in the entry. */
static const char *cas__shard_term_rule(uint32_t start, uint32_t end, uint64_t unpacked, unsigned *field) {
    if (start >= end) return *field = 40, "a term's chunk_index_start is not below its chunk_index_end";
    if (end > CAS_XORB_MAX_CHUNKS) return *field = 44, "a term's chunk_index_end passes 8192 chunks";
    if (unpacked == 0 || unpacked > (uint64_t)(end - start) * CAS__SHARD_MAX_CHUNK)
        return *field = 36, "a term's unpacked size is 0 or over 128 KiB per chunk";
    return NULL;
}
/* The rules of a chunk entry: `sum` is the sizes of the xorb's chunks before it. */
static const char *cas__shard_chunk_rule(uint64_t byte_start, uint64_t sum, uint64_t unpacked, unsigned *field) {
    if (unpacked == 0 || unpacked > CAS__SHARD_MAX_CHUNK)
        return *field = 36, "a chunk's unpacked size is 0 or over 128 KiB";
    if (byte_start != sum) return *field = 32, "a chunk's byte_start is not the sum of the sizes before it";
    return NULL;
}

/* A lookup-table key: the hash's first 8 bytes as a little-endian u64 (xet-core truncate_hash). */
static uint64_t cas__shard_key(const cas_hash *h) { return cas__load_le64(h->bytes); }

/* xet-core orders hashes as [u64; 4] arrays of little-endian words (DataHash's Ord). */
static int cas__shard_hash_cmp(const cas_hash *a, const cas_hash *b) {
    int w;
    for (w = 0; w < 4; w++) {
        uint64_t x = cas__load_le64(a->bytes + 8 * w), y = cas__load_le64(b->bytes + 8 * w);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

static int cas__shard_is_bookend_hash(const uint8_t *p) {
    int i;
    for (i = 0; i < 32; i++)
        if (p[i] != 0xFF) return 0;
    return 1;
}

static int cas__shard_all_zero(const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* The FileMetadataExt stores the SHA-256 digest as a hash read from its hex string: each
   8-byte group reversed (xet-core Sha256::from_be_bytes, HF JS writeHashToArray). */
static void cas__shard_sha_swap(const uint8_t *in, uint8_t *out) {
    int g, k;
    for (g = 0; g < 4; g++)
        for (k = 0; k < 8; k++) out[8 * g + k] = in[8 * g + 7 - k];
}

/* Sorting (cas__sort): (key, item) pairs, the key inline so that most comparisons touch no
   other memory; equal keys go to `tie` (may be NULL), then to the item: a total order. */
typedef struct cas__shard_pair {
    uint64_t key, item;
} cas__shard_pair;
typedef int (*cas__shard_tie_fn)(const void *ctx, uint64_t a, uint64_t b);
typedef struct cas__shard_order {
    cas__shard_tie_fn tie;
    const void *ctx;
} cas__shard_order;
static int cas__shard_pair_less(const void *order, const void *pa, const void *pb) {
    const cas__shard_order *o = (const cas__shard_order *)order;
    const cas__shard_pair *a = (const cas__shard_pair *)pa, *b = (const cas__shard_pair *)pb;
    if (a->key != b->key) return a->key < b->key;
    if (o->tie) {
        int c = o->tie(o->ctx, a->item, b->item);
        if (c) return c < 0;
    }
    return a->item < b->item;
}
static void cas__shard_sort(cas__shard_pair *v, cas__shard_pair *tmp, size_t n,
                            cas__shard_tie_fn tie, const void *ctx) {
    cas__shard_order o;
    o.tie = tie;
    o.ctx = ctx;
    cas__sort(v, tmp, n, sizeof *v, cas__shard_pair_less, &o);
}

/* NULL for count 0 too: callers test count before calling a NULL a failure. */
static void *cas__shard_alloc(const cas_allocator *a, size_t count, size_t elem) {
    if (count == 0 || count > ((size_t)-1) / elem) return NULL;
    return a->alloc(a->user, count * elem, 16);
}
static void cas__shard_release(const cas_allocator *a, void *p, size_t count, size_t elem) {
    if (p) a->free(a->user, p, count * elem);
}

void cas_shard_free(cas_shard *s) {
    cas_allocator a;
    if (!s) return;
    a = cas__allocator_or_default(&s->priv_alloc);
    cas__shard_release(&a, s->files, s->priv_cap_files, sizeof(cas_shard_file));
    cas__shard_release(&a, s->priv_terms, s->priv_cap_terms, sizeof(cas_shard_term));
    cas__shard_release(&a, s->xorbs, s->priv_cap_xorbs, sizeof(cas_shard_xorb));
    cas__shard_release(&a, s->priv_chunks, s->priv_cap_chunks, sizeof(cas_shard_chunk));
    cas__shard_release(&a, s->priv_file_order, s->num_files, sizeof(uint64_t));
    cas__shard_release(&a, s->priv_xorb_order, s->num_xorbs, sizeof(uint64_t));
    cas__shard_release(&a, s->priv_chunk_order, s->num_chunks, sizeof(uint64_t));
    memset(s, 0, sizeof *s);
    s->priv_alloc = a;
}

/* ---- reader: one state machine over 48-byte records, for both entry points ---- */

enum {
    CAS__SR_HEADER,
    CAS__SR_FILE,  /* a FileDataSequenceHeader or the file-info bookend */
    CAS__SR_TERMS, /* FileDataSequenceEntry x num_entries */
    CAS__SR_VERIF, /* FileVerificationEntry x num_entries */
    CAS__SR_EXT,   /* FileMetadataExt */
    CAS__SR_XORB,  /* a CASChunkSequenceHeader or the CAS-info bookend */
    CAS__SR_CHUNKS,
    CAS__SR_TAIL   /* lookup tables + footer, or nothing */
};

void cas_shard_reader_init(const cas_allocator *alloc, cas_shard_reader *r) {
    memset(r, 0, sizeof *r);
    r->priv_shard.priv_alloc = cas__allocator_or_default(alloc);
    r->priv_state = CAS__SR_HEADER;
    r->priv_verification = -1;
}

void cas_shard_reader_free(cas_shard_reader *r) {
    cas_allocator a = r->priv_shard.priv_alloc;
    cas_shard_free(&r->priv_shard);
    if (r->priv_tail && r->priv_tail_cap) cas__shard_release(&a, r->priv_tail, r->priv_tail_cap, 1);
    r->priv_tail = NULL;
    r->priv_tail_len = r->priv_tail_cap = 0;
}

static int cas__sr_fail(cas_shard_reader *r, int code, uint64_t offset, const char *what) {
    r->priv_error = code;
    cas__fail(&r->priv_err, code, offset, what);
    return code;
}

/* After a file's part ends: the next part of the block, or the next block. */
static void cas__sr_file_next(cas_shard_reader *r) {
    const cas_shard_file *f = &r->priv_shard.files[r->priv_shard.num_files - 1];
    if (r->priv_state == CAS__SR_TERMS && (f->flags & CAS_SHARD_FILE_VERIFICATION) && f->num_terms) {
        r->priv_state = CAS__SR_VERIF;
        r->priv_left = f->num_terms;
    } else if (r->priv_state != CAS__SR_EXT && (f->flags & CAS_SHARD_FILE_METADATA_EXT)) {
        r->priv_state = CAS__SR_EXT;
        r->priv_left = 1;
    } else {
        r->priv_state = CAS__SR_FILE;
    }
}

/* Room check: a block claiming `entries` more entries after the record at `at` must still leave
   room for the bookends (`tail` bytes) under the size limit. */
static int cas__sr_fits(uint64_t at, uint64_t entries, uint64_t tail) {
    return at + CAS__SHARD_E * (1 + entries) + tail <= CAS_SHARD_MAX_SIZE;
}

static int cas__sr_record(cas_shard_reader *r, const uint8_t *rec) {
    cas_shard *s = &r->priv_shard;
    const uint64_t at = r->priv_pos; /* the record's offset */
    int rc;
    switch (r->priv_state) {
    case CAS__SR_HEADER: {
        uint64_t footer_size = cas__load_le64(rec + 40);
        if (memcmp(rec, cas__shard_tag, 32) != 0)
            return cas__sr_fail(r, CAS_E_SHARD_HEADER, 0, "not a shard: wrong header tag");
        if (cas__load_le64(rec + 32) != 2)
            return cas__sr_fail(r, CAS_E_SHARD_HEADER, 32, "shard header version is not 2");
        if (footer_size != 0 && footer_size != CAS_SHARD_FOOTER_SIZE)
            return cas__sr_fail(r, CAS_E_SHARD_HEADER, 40, "footer_size is neither 0 nor 200");
        s->footer_size = footer_size;
        r->priv_state = CAS__SR_FILE;
        return CAS_OK;
    }
    case CAS__SR_FILE: {
        cas_shard_file *f;
        uint32_t flags, n;
        int verif;
        if (cas__shard_is_bookend_hash(rec)) {
            if (!cas__shard_all_zero(rec + 32, 16))
                return cas__sr_fail(r, CAS_E_SHARD_SECTION, at + 32,
                                    "the file-info bookend's last 16 bytes are not zero");
            r->priv_state = CAS__SR_XORB;
            r->priv_cas_start = at + CAS__SHARD_E;
            return CAS_OK;
        }
        flags = cas__load_le32(rec + 32);
        n = cas__load_le32(rec + 36);
        verif = (flags & CAS_SHARD_FILE_VERIFICATION) != 0;
        if (!cas__sr_fits(at, cas__shard_file_entries(n, flags), 2 * CAS__SHARD_E))
            return cas__sr_fail(r, CAS_E_SHARD_TOO_LARGE, at + 36,
                                "a file's entry count cannot fit in a 64 MiB shard");
        if (r->priv_verification >= 0 && r->priv_verification != verif)
            return cas__sr_fail(r, CAS_E_SHARD_ENTRY, at + 32,
                                "verification entries on some files but not on others");
        r->priv_verification = verif;
        rc = cas__grow(&s->priv_alloc, (void **)&s->files, &s->priv_cap_files, s->num_files + 1, sizeof *s->files, 8);
        if (rc) return cas__sr_fail(r, rc, at, "out of memory");
        f = &s->files[s->num_files++];
        memset(f, 0, sizeof *f);
        memcpy(f->file_hash.bytes, rec, 32);
        f->flags = flags;
        f->num_terms = n;
        f->offset = at;
        r->priv_left = n;
        r->priv_state = CAS__SR_TERMS;
        if (n == 0) cas__sr_file_next(r);
        return CAS_OK;
    }
    case CAS__SR_TERMS: {
        cas_shard_file *f = &s->files[s->num_files - 1];
        cas_shard_term *t;
        uint32_t start = cas__load_le32(rec + 40), end = cas__load_le32(rec + 44);
        uint32_t unpacked = cas__load_le32(rec + 36);
        unsigned field;
        const char *broken = cas__shard_term_rule(start, end, unpacked, &field);
        if (broken) return cas__sr_fail(r, CAS_E_SHARD_ENTRY, at + field, broken);
        rc = cas__grow(&s->priv_alloc, (void **)&s->priv_terms, &s->priv_cap_terms, s->num_terms + 1, sizeof *s->priv_terms, 8);
        if (rc) return cas__sr_fail(r, rc, at, "out of memory");
        t = &s->priv_terms[s->num_terms++];
        memset(t, 0, sizeof *t);
        memcpy(t->xorb_hash.bytes, rec, 32);
        t->xorb_flags = cas__load_le32(rec + 32);
        t->unpacked_bytes = unpacked;
        t->chunk_start = start;
        t->chunk_end = end;
        f->size += unpacked;
        if (--r->priv_left == 0) cas__sr_file_next(r);
        return CAS_OK;
    }
    case CAS__SR_VERIF:
        /* This file's terms are the last num_terms of priv_terms. */
        memcpy(s->priv_terms[s->num_terms - r->priv_left].verification.bytes, rec, 32);
        if (--r->priv_left == 0) cas__sr_file_next(r);
        return CAS_OK;
    case CAS__SR_EXT: {
        cas_shard_file *f = &s->files[s->num_files - 1];
        cas__shard_sha_swap(rec, f->sha256);
        f->has_sha256 = 1;
        r->priv_left = 0;
        cas__sr_file_next(r);
        return CAS_OK;
    }
    case CAS__SR_XORB: {
        cas_shard_xorb *x;
        uint32_t n;
        if (cas__shard_is_bookend_hash(rec)) {
            if (!cas__shard_all_zero(rec + 32, 16))
                return cas__sr_fail(r, CAS_E_SHARD_SECTION, at + 32,
                                    "the CAS-info bookend's last 16 bytes are not zero");
            r->priv_state = CAS__SR_TAIL;
            r->priv_cas_end = at + CAS__SHARD_E;
            return CAS_OK;
        }
        n = cas__load_le32(rec + 36);
        if (n == 0 || n > CAS_XORB_MAX_CHUNKS)
            return cas__sr_fail(r, CAS_E_SHARD_ENTRY, at + 36, "a xorb lists 0 or over 8192 chunks");
        if (!cas__sr_fits(at, n, CAS__SHARD_E))
            return cas__sr_fail(r, CAS_E_SHARD_TOO_LARGE, at + 36,
                                "a xorb's chunk count cannot fit in a 64 MiB shard");
        rc = cas__grow(&s->priv_alloc, (void **)&s->xorbs, &s->priv_cap_xorbs, s->num_xorbs + 1, sizeof *s->xorbs, 8);
        if (rc) return cas__sr_fail(r, rc, at, "out of memory");
        x = &s->xorbs[s->num_xorbs++];
        memset(x, 0, sizeof *x);
        memcpy(x->xorb_hash.bytes, rec, 32);
        x->flags = cas__load_le32(rec + 32);
        x->num_chunks = n;
        x->bytes_in_xorb = cas__load_le32(rec + 40);
        x->bytes_on_disk = cas__load_le32(rec + 44);
        x->offset = at;
        r->priv_left = n;
        r->priv_sum = 0;
        r->priv_state = CAS__SR_CHUNKS;
        return CAS_OK;
    }
    case CAS__SR_CHUNKS: {
        cas_shard_xorb *x = &s->xorbs[s->num_xorbs - 1];
        cas_shard_chunk *c;
        uint32_t start = cas__load_le32(rec + 32), unpacked = cas__load_le32(rec + 36);
        unsigned field;
        const char *broken = cas__shard_chunk_rule(start, r->priv_sum, unpacked, &field);
        if (broken) return cas__sr_fail(r, CAS_E_SHARD_ENTRY, at + field, broken);
        rc = cas__grow(&s->priv_alloc, (void **)&s->priv_chunks, &s->priv_cap_chunks, s->num_chunks + 1, sizeof *s->priv_chunks, 8);
        if (rc) return cas__sr_fail(r, rc, at, "out of memory");
        c = &s->priv_chunks[s->num_chunks++];
        memcpy(c->hash.bytes, rec, 32);
        c->byte_start = start;
        c->unpacked_bytes = unpacked;
        c->flags = cas__load_le32(rec + 40);
        r->priv_sum += unpacked; /* <= 8192 * 128 KiB: no overflow */
        if (--r->priv_left == 0) {
            if (r->priv_sum != x->bytes_in_xorb)
                return cas__sr_fail(r, CAS_E_SHARD_ENTRY, x->offset + 40,
                                    "a xorb's num_bytes_in_cas differs from the sum of its chunks");
            r->priv_state = CAS__SR_XORB;
        }
        return CAS_OK;
    }
    default:
        return cas__sr_fail(r, CAS_E_STATE, at, "internal: record after the sections");
    }
}

/* Feeds bytes; `borrow`: the caller's buffer outlives the reader (cas_shard_parse), so the
   tail is referenced instead of copied. */
static int cas__sr_push(cas_shard_reader *r, const uint8_t *p, size_t len, int borrow) {
    while (len) {
        if (r->priv_error) return r->priv_error;
        if (r->priv_state == CAS__SR_TAIL) {
            cas_allocator *a = &r->priv_shard.priv_alloc;
            if (r->priv_shard.footer_size == 0)
                return cas__sr_fail(r, CAS_E_TRAILING, r->priv_pos,
                                    "bytes after the CAS-info bookend of a shard without footer");
            if (r->priv_pos + len > CAS_SHARD_MAX_SIZE)
                return cas__sr_fail(r, CAS_E_SHARD_TOO_LARGE, CAS_SHARD_MAX_SIZE,
                                    "the shard is over 64 MiB");
            if (borrow && r->priv_tail_len == 0 && r->priv_tail_cap == 0) {
                r->priv_tail = (uint8_t *)(uintptr_t)p;
                r->priv_tail_len = len;
            } else {
                if (r->priv_tail_cap == 0 && r->priv_tail_len) { /* borrowed, then more came */
                    uint8_t *q = (uint8_t *)cas__shard_alloc(a, r->priv_tail_len, 1);
                    if (!q) return cas__sr_fail(r, CAS_E_NOMEM, r->priv_pos, "out of memory");
                    memcpy(q, r->priv_tail, r->priv_tail_len);
                    r->priv_tail = q;
                    r->priv_tail_cap = r->priv_tail_len;
                }
                if (cas__grow(a, (void **)&r->priv_tail, &r->priv_tail_cap, r->priv_tail_len + len, 1, 8))
                    return cas__sr_fail(r, CAS_E_NOMEM, r->priv_pos, "out of memory");
                memcpy(r->priv_tail + r->priv_tail_len, p, len);
                r->priv_tail_len += len;
            }
            r->priv_pos += len;
            return CAS_OK;
        }
        if (r->priv_pos >= CAS_SHARD_MAX_SIZE)
            return cas__sr_fail(r, CAS_E_SHARD_TOO_LARGE, CAS_SHARD_MAX_SIZE,
                                "the shard is over 64 MiB");
        if (r->priv_used == 0 && len >= CAS__SHARD_E) { /* whole records straight from input */
            if (cas__sr_record(r, p)) return r->priv_error;
            p += CAS__SHARD_E;
            len -= CAS__SHARD_E;
            r->priv_pos += CAS__SHARD_E;
        } else {
            size_t take = CAS__SHARD_E - r->priv_used;
            if (take > len) take = len;
            memcpy(r->priv_rec + r->priv_used, p, take);
            r->priv_used += (uint32_t)take;
            p += take;
            len -= take;
            if (r->priv_used == CAS__SHARD_E) {
                r->priv_used = 0;
                if (cas__sr_record(r, r->priv_rec)) return r->priv_error;
                r->priv_pos += CAS__SHARD_E;
            }
        }
    }
    return r->priv_error;
}

cas_result cas_shard_reader_push(cas_shard_reader *r, const void *data, size_t len, cas_error *err) {
    int rc = cas__sr_push(r, (const uint8_t *)data, len, 0);
    if (rc) {
        if (err) *err = r->priv_err;
        return (cas_result)(rc);
    }
    return (cas_result)(cas__succeed(err));
}

/* Index of the item at `want` in a list of offsets that grow with the index; -1 if none. */
static long cas__shard_find_offset(const void *base, size_t n, size_t stride, size_t field,
                                   uint64_t want) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v;
        memcpy(&v, (const uint8_t *)base + mid * stride + field, sizeof v);
        if (v < want) lo = mid + 1;
        else hi = mid;
    }
    if (lo < n) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)base + lo * stride + field, sizeof v);
        if (v == want) return (long)lo;
    }
    return -1;
}

static int cas__shard_cmp_file(const void *ctx, uint64_t a, uint64_t b) {
    const cas_shard *s = (const cas_shard *)ctx;
    int c = cas__shard_hash_cmp(&s->files[a].file_hash, &s->files[b].file_hash);
    return c ? c : (a < b ? -1 : a > b);
}
static int cas__shard_cmp_xorb(const void *ctx, uint64_t a, uint64_t b) {
    const cas_shard *s = (const cas_shard *)ctx;
    int c = cas__shard_hash_cmp(&s->xorbs[a].xorb_hash, &s->xorbs[b].xorb_hash);
    return c ? c : (a < b ? -1 : a > b);
}
static const cas_hash *cas__shard_chunk_at(const cas_shard *s, uint64_t item) {
    return &s->xorbs[item >> 32].chunks[(uint32_t)item].hash;
}
static int cas__shard_cmp_chunk(const void *ctx, uint64_t a, uint64_t b) {
    const cas_shard *s = (const cas_shard *)ctx;
    int c = cas__shard_hash_cmp(cas__shard_chunk_at(s, a), cas__shard_chunk_at(s, b));
    return c ? c : (a < b ? -1 : a > b);
}

/* Checks one lookup table: `count` entries of `width` bytes from tail[rel..]; each names an
   item (by entry index, plus a chunk index for chunks) whose key it must carry, every item
   once, keys sorted. `kind`: 0 files, 1 xorbs, 2 chunks. */
static int cas__sr_check_lookup(cas_shard_reader *r, const uint8_t *tail, uint64_t rel,
                                uint64_t abs, uint64_t count, int kind, uint8_t *seen) {
    cas_shard *s = &r->priv_shard;
    const size_t width = kind == 2 ? 16 : 12;
    uint64_t i, prev = 0;
    uint64_t items = kind == 0 ? s->num_files : kind == 1 ? s->num_xorbs : s->num_chunks;
    if (count == 0) return CAS_OK;
    memset(seen, 0, (size_t)items);
    for (i = 0; i < count; i++) {
        const uint8_t *e = tail + rel + i * width;
        const uint64_t at = abs + i * width;
        uint64_t key = cas__load_le64(e), idx = cas__load_le32(e + 8), item;
        const cas_hash *h;
        long found;
        if (i && key < prev)
            return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, at, "a lookup table is not sorted by key");
        prev = key;
        if (kind == 0) {
            found = cas__shard_find_offset(s->files, s->num_files, sizeof *s->files,
                                           offsetof(cas_shard_file, offset),
                                           CAS_SHARD_HEADER_SIZE + idx * CAS__SHARD_E);
            if (found < 0)
                return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, at + 8,
                                    "a file lookup index does not point at a file");
            item = (uint64_t)found;
            h = &s->files[item].file_hash;
        } else {
            found = cas__shard_find_offset(s->xorbs, s->num_xorbs, sizeof *s->xorbs,
                                           offsetof(cas_shard_xorb, offset),
                                           r->priv_cas_start + idx * CAS__SHARD_E);
            if (found < 0)
                return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, at + 8,
                                    "a lookup index does not point at a xorb");
            item = (uint64_t)found;
            h = &s->xorbs[item].xorb_hash;
            if (kind == 2) {
                uint32_t c = cas__load_le32(e + 12);
                if (c >= s->xorbs[item].num_chunks)
                    return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, at + 12,
                                        "a chunk lookup index passes its xorb's chunks");
                h = &s->xorbs[item].chunks[c].hash;
                item = (uint64_t)(s->xorbs[item].chunks + c - s->priv_chunks);
            }
        }
        if (cas__shard_key(h) != key)
            return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, at,
                                "a lookup key is not the first 8 bytes of its entry's hash");
        if (seen[item])
            return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, at + 8, "a lookup table lists an entry twice");
        seen[item] = 1;
    }
    return CAS_OK;
}

/* End of input: the footer, the lookup tables, then the final object. */
static int cas__sr_finish(cas_shard_reader *r) {
    cas_shard *s = &r->priv_shard;
    cas_allocator *a = &s->priv_alloc;
    size_t i, k;
    if (r->priv_error) return r->priv_error;
    if (r->priv_state != CAS__SR_TAIL)
        return cas__sr_fail(r, CAS_E_TRUNCATED, r->priv_pos,
                            r->priv_state == CAS__SR_HEADER ? "the input ends inside the shard header"
                            : r->priv_state == CAS__SR_XORB || r->priv_state == CAS__SR_CHUNKS
                                ? "the input ends before the CAS-info bookend"
                                : "the input ends before the file-info bookend");
    s->size = r->priv_pos;
    /* Entries are final: point files at their terms and xorbs at their chunks. */
    for (i = 0, k = 0; i < s->num_files; k += s->files[i].num_terms, i++)
        s->files[i].terms = s->files[i].num_terms ? s->priv_terms + k : NULL;
    for (i = 0, k = 0; i < s->num_xorbs; k += s->xorbs[i].num_chunks, i++)
        s->xorbs[i].chunks = s->priv_chunks + k;
    if (s->footer_size && r->priv_tail_len) {
        const uint8_t *t = r->priv_tail, *F;
        const uint64_t fo = s->size - CAS_SHARD_FOOTER_SIZE, end = r->priv_cas_end;
        cas_shard_footer *f = &s->footer;
        uint64_t lk = 0;
        if (r->priv_tail_len < CAS_SHARD_FOOTER_SIZE)
            return cas__sr_fail(r, CAS_E_TRUNCATED, s->size, "the input ends inside the footer");
        F = t + r->priv_tail_len - CAS_SHARD_FOOTER_SIZE;
        cas__shard_footer_decode(F, f);
        if (f->version != 1)
            return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo, "footer version is not 1");
        if (f->footer_offset != fo)
            return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 192,
                                "footer_offset is not where the footer starts");
        if (f->file_info_offset != CAS_SHARD_HEADER_SIZE)
            return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 8, "file_info_offset is not 48");
        if (f->xorb_info_offset != r->priv_cas_start)
            return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 16,
                                "xorb_info_offset is not where the CAS-info section starts");
        if (!f->file_lookup_offset && !f->xorb_lookup_offset && !f->chunk_lookup_offset &&
            !f->file_lookup_count && !f->xorb_lookup_count && !f->chunk_lookup_count) {
            /* No lookup tables at all, as HF's JS writer leaves them. */
            if (fo != end)
                return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 24,
                                    "bytes between the CAS-info bookend and the footer, but no lookup tables");
        } else {
            /* Counts are checked against what exists before any product is formed. */
            if (f->file_lookup_offset != end)
                return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 24,
                                    "file_lookup_offset is not right after the CAS-info bookend");
            if (f->file_lookup_count != 0 && f->file_lookup_count != s->num_files)
                return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, fo + 32,
                                    "file_lookup_num_entry is neither 0 nor the number of files");
            if (f->xorb_lookup_offset != f->file_lookup_offset + 12 * f->file_lookup_count)
                return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 40,
                                    "xorb_lookup_offset is not right after the file lookup table");
            if (f->xorb_lookup_count != 0 && f->xorb_lookup_count != s->num_xorbs)
                return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, fo + 48,
                                    "xorb_lookup_num_entry is neither 0 nor the number of xorbs");
            if (f->chunk_lookup_offset != f->xorb_lookup_offset + 12 * f->xorb_lookup_count)
                return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 56,
                                    "chunk_lookup_offset is not right after the xorb lookup table");
            if (f->chunk_lookup_count != 0 && f->chunk_lookup_count != s->num_chunks)
                return cas__sr_fail(r, CAS_E_SHARD_LOOKUP, fo + 64,
                                    "chunk_lookup_num_entry is neither 0 nor the number of chunks");
            if (fo != f->chunk_lookup_offset + 16 * f->chunk_lookup_count)
                return cas__sr_fail(r, CAS_E_SHARD_FOOTER, fo + 192,
                                    "the footer does not start right after the chunk lookup table");
            lk = f->file_lookup_count > f->xorb_lookup_count ? f->file_lookup_count : f->xorb_lookup_count;
            if (f->chunk_lookup_count > lk) lk = f->chunk_lookup_count;
        }
        if (lk) {
            uint8_t *seen = (uint8_t *)cas__shard_alloc(a, (size_t)lk, 1);
            int rc;
            if (!seen) return cas__sr_fail(r, CAS_E_NOMEM, fo, "out of memory");
            rc = cas__sr_check_lookup(r, t, 0, end, f->file_lookup_count, 0, seen);
            if (!rc)
                rc = cas__sr_check_lookup(r, t, f->xorb_lookup_offset - end, f->xorb_lookup_offset,
                                          f->xorb_lookup_count, 1, seen);
            if (!rc)
                rc = cas__sr_check_lookup(r, t, f->chunk_lookup_offset - end, f->chunk_lookup_offset,
                                          f->chunk_lookup_count, 2, seen);
            cas__shard_release(a, seen, (size_t)lk, 1);
            if (rc) return rc;
        }
        s->has_footer = 1;
        s->keyed = !cas__shard_all_zero(f->hmac_key.bytes, 32);
    }
    /* Lookup indexes of the parsed object: items sorted by hash (first word inline). */
    {
        const size_t most = s->num_chunks > s->num_files ? (s->num_chunks > s->num_xorbs ? s->num_chunks : s->num_xorbs)
                                                         : (s->num_files > s->num_xorbs ? s->num_files : s->num_xorbs);
        cas__shard_pair *pv = (cas__shard_pair *)cas__shard_alloc(a, 2 * most, sizeof *pv), *tmp;
        s->priv_file_order = (uint64_t *)cas__shard_alloc(a, s->num_files, sizeof(uint64_t));
        s->priv_xorb_order = (uint64_t *)cas__shard_alloc(a, s->num_xorbs, sizeof(uint64_t));
        s->priv_chunk_order = (uint64_t *)cas__shard_alloc(a, s->num_chunks, sizeof(uint64_t));
        if ((most && !pv) || (s->num_files && !s->priv_file_order) || (s->num_xorbs && !s->priv_xorb_order) ||
            (s->num_chunks && !s->priv_chunk_order)) {
            cas__shard_release(a, pv, 2 * most, sizeof *pv);
            return cas__sr_fail(r, CAS_E_NOMEM, s->size, "out of memory");
        }
        tmp = most ? pv + most : NULL;
        for (i = 0; i < s->num_files; i++) {
            pv[i].key = cas__shard_key(&s->files[i].file_hash);
            pv[i].item = i;
        }
        cas__shard_sort(pv, tmp, s->num_files, cas__shard_cmp_file, s);
        for (i = 0; i < s->num_files; i++) s->priv_file_order[i] = pv[i].item;
        for (i = 0; i < s->num_xorbs; i++) {
            pv[i].key = cas__shard_key(&s->xorbs[i].xorb_hash);
            pv[i].item = i;
        }
        cas__shard_sort(pv, tmp, s->num_xorbs, cas__shard_cmp_xorb, s);
        for (i = 0; i < s->num_xorbs; i++) s->priv_xorb_order[i] = pv[i].item;
        for (i = 0, k = 0; i < s->num_xorbs; i++) {
            uint32_t c;
            for (c = 0; c < s->xorbs[i].num_chunks; c++, k++) {
                pv[k].key = cas__shard_key(&s->xorbs[i].chunks[c].hash);
                pv[k].item = (uint64_t)i << 32 | c;
            }
        }
        cas__shard_sort(pv, tmp, s->num_chunks, cas__shard_cmp_chunk, s);
        for (i = 0; i < s->num_chunks; i++) s->priv_chunk_order[i] = pv[i].item;
        cas__shard_release(a, pv, 2 * most, sizeof *pv);
    }
    return CAS_OK;
}

/* Hands the parsed shard to *out and empties the reader. */
static void cas__sr_take(cas_shard_reader *r, cas_shard *out) {
    *out = r->priv_shard;
    memset(&r->priv_shard, 0, sizeof r->priv_shard);
    r->priv_shard.priv_alloc = out->priv_alloc;
}

cas_result cas_shard_reader_finish(cas_shard_reader *r, cas_shard *out, cas_error *err) {
    int rc = cas__sr_finish(r);
    memset(out, 0, sizeof *out);
    if (rc) {
        if (err) *err = r->priv_err;
        return (cas_result)(rc);
    }
    cas__sr_take(r, out);
    cas_shard_reader_free(r);
    return (cas_result)(cas__succeed(err));
}

/* Walks the block headers of data[at..end) to count what the sections hold, every claimed
   count checked against the bytes left before it is believed. 0 if the walk fails: the
   reader then grows its arrays as records arrive and reports the problem itself. */
static int cas__shard_prescan(const uint8_t *d, uint64_t len, uint64_t file_end, uint64_t cas_end,
                              size_t counts[4]) {
    uint64_t at = CAS_SHARD_HEADER_SIZE;
    int section;
    memset(counts, 0, 4 * sizeof counts[0]);
    for (section = 0; section < 2; section++) {
        const uint64_t end = section ? cas_end : file_end;
        for (;;) {
            uint64_t n, entries;
            uint32_t flags;
            if (end > len || at > end || end - at < CAS__SHARD_E) return 0;
            if (cas__shard_is_bookend_hash(d + at)) break;
            flags = cas__load_le32(d + at + 32);
            n = cas__load_le32(d + at + 36);
            entries = section ? n : cas__shard_file_entries(n, flags);
            if (entries > (end - at) / CAS__SHARD_E - 1) return 0;
            counts[2 * section]++;
            counts[2 * section + 1] += (size_t)n;
            at += CAS__SHARD_E * (1 + entries);
        }
        at += CAS__SHARD_E;
    }
    return 1;
}

cas_result cas_shard_parse(const cas_allocator *alloc, const void *data, size_t len, cas_shard *out,
                           cas_error *err) {
    const uint8_t *d = (const uint8_t *)data;
    cas_shard_reader r;
    cas_shard *s = &r.priv_shard;
    size_t counts[4];
    uint64_t file_end = len, cas_end = len;
    int rc;
    memset(out, 0, sizeof *out);
    cas_shard_reader_init(alloc, &r);
    /* Random access: with a footer, its offsets bound the sections for the pre-scan that sizes
       the arrays exactly; the state machine then checks everything, as for a stream. */
    if (len >= CAS_SHARD_HEADER_SIZE + CAS_SHARD_FOOTER_SIZE && len <= CAS_SHARD_MAX_SIZE &&
        cas__load_le64(d + 40) == CAS_SHARD_FOOTER_SIZE) {
        cas_shard_footer f;
        cas__shard_footer_decode(d + len - CAS_SHARD_FOOTER_SIZE, &f);
        if (f.version == 1 && f.footer_offset == len - CAS_SHARD_FOOTER_SIZE) {
            uint64_t x = f.xorb_info_offset, l = f.file_lookup_offset;
            if (x >= CAS_SHARD_HEADER_SIZE && x <= len) file_end = x;
            cas_end = l >= x && l && l <= len ? l : len - CAS_SHARD_FOOTER_SIZE;
        }
    }
    if (len <= CAS_SHARD_MAX_SIZE && cas__shard_prescan(d, len, file_end, cas_end, counts)) {
        const cas_allocator *a = &s->priv_alloc;
        rc = CAS_OK;
        if (counts[0] && cas__grow(a, (void **)&s->files, &s->priv_cap_files, counts[0], sizeof(cas_shard_file), 8))
            rc = CAS_E_NOMEM;
        if (counts[1] && cas__grow(a, (void **)&s->priv_terms, &s->priv_cap_terms, counts[1], sizeof(cas_shard_term), 8))
            rc = CAS_E_NOMEM;
        if (counts[2] && cas__grow(a, (void **)&s->xorbs, &s->priv_cap_xorbs, counts[2], sizeof(cas_shard_xorb), 8))
            rc = CAS_E_NOMEM;
        if (counts[3] && cas__grow(a, (void **)&s->priv_chunks, &s->priv_cap_chunks, counts[3], sizeof(cas_shard_chunk), 8))
            rc = CAS_E_NOMEM;
        if (rc) {
            cas_shard_reader_free(&r);
            return (cas_result)(cas__fail(err, rc, 0, "out of memory"));
        }
    }
    rc = cas__sr_push(&r, d, len, 1);
    if (!rc) rc = cas__sr_finish(&r);
    if (rc) {
        if (err) *err = r.priv_err;
        cas_shard_reader_free(&r);
        return (cas_result)(rc);
    }
    cas__sr_take(&r, out);
    cas_shard_reader_free(&r);
    return (cas_result)(cas__succeed(err));
}

/* ---- lookups ---- */

const cas_shard_file *cas_shard_find_file(const cas_shard *s, const cas_hash *file_hash) {
    size_t lo = 0, hi = s->num_files;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cas__shard_hash_cmp(&s->files[s->priv_file_order[mid]].file_hash, file_hash) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < s->num_files && cas_hash_equal(&s->files[s->priv_file_order[lo]].file_hash, file_hash))
        return &s->files[s->priv_file_order[lo]];
    return NULL;
}

const cas_shard_xorb *cas_shard_find_xorb(const cas_shard *s, const cas_hash *xorb_hash) {
    size_t lo = 0, hi = s->num_xorbs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cas__shard_hash_cmp(&s->xorbs[s->priv_xorb_order[mid]].xorb_hash, xorb_hash) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < s->num_xorbs && cas_hash_equal(&s->xorbs[s->priv_xorb_order[lo]].xorb_hash, xorb_hash))
        return &s->xorbs[s->priv_xorb_order[lo]];
    return NULL;
}

int cas_shard_expired(const cas_shard *s, uint64_t now) {
    uint64_t e = s->footer.key_expiry;
    return s->has_footer && e != 0 && e != UINT64_MAX && e < now;
}

size_t cas_shard_find_chunk(const cas_shard *s, const cas_hash *chunk_hash, uint64_t now,
                            cas_shard_chunk_match *out, size_t cap) {
    cas_hash key;
    size_t lo = 0, hi = s->num_chunks, n = 0;
    int expired = cas_shard_expired(s, now);
    if (s->keyed) cas_hash_hmac(chunk_hash, &s->footer.hmac_key, &key);
    else key = *chunk_hash;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cas__shard_hash_cmp(cas__shard_chunk_at(s, s->priv_chunk_order[mid]), &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < s->num_chunks && cas_hash_equal(cas__shard_chunk_at(s, s->priv_chunk_order[lo]), &key); lo++, n++) {
        if (n < cap) {
            uint64_t item = s->priv_chunk_order[lo];
            const cas_shard_xorb *x = &s->xorbs[item >> 32];
            const cas_shard_chunk *c = &x->chunks[(uint32_t)item];
            out[n].xorb = (size_t)(item >> 32);
            out[n].chunk = (uint32_t)item;
            out[n].xorb_hash = x->xorb_hash;
            out[n].byte_start = c->byte_start;
            out[n].byte_end = c->byte_start + c->unpacked_bytes;
            out[n].expired = expired;
        }
    }
    return n;
}

/* ---- chunk ranges: verification hash and size of xorb chunks [start, end) ---- */

#define CAS__SHARD_BATCH 128

/* From a listed xorb (raw hashes) or else the callback. CAS_E_SHARD_NO_CHUNKS if neither knows
   it; CAS_E_SHARD_ENTRY if the range passes the listed xorb's chunks. */
static int cas__shard_range(const cas_shard_xorb *x, cas_shard_chunks_fn fn, void *user,
                            const cas_hash *xorb_hash, uint32_t start, uint32_t end,
                            cas_hash *vhash, uint64_t *size) {
    cas_blake3 b;
    uint64_t total = 0;
    cas_blake3_init_keyed(&b, cas_key_verification());
    if (x) {
        uint32_t i;
        if (end > x->num_chunks) return CAS_E_SHARD_ENTRY;
        for (i = start; i < end; i++) {
            cas_blake3_update(&b, x->chunks[i].hash.bytes, CAS_HASH_SIZE);
            total += x->chunks[i].unpacked_bytes;
        }
    } else if (fn) {
        cas_chunk batch[CAS__SHARD_BATCH];
        uint32_t at = start;
        while (at < end) {
            uint32_t n = end - at < CAS__SHARD_BATCH ? end - at : CAS__SHARD_BATCH, i;
            int rc = fn(user, xorb_hash, at, at + n, batch);
            if (rc) return rc;
            for (i = 0; i < n; i++) {
                cas_blake3_update(&b, batch[i].hash.bytes, CAS_HASH_SIZE);
                total += batch[i].size;
            }
            at += n;
        }
    } else {
        return CAS_E_SHARD_NO_CHUNKS;
    }
    cas_blake3_final(&b, vhash->bytes);
    *size = total;
    return CAS_OK;
}

cas_result cas_shard_check_terms(const cas_shard *s, cas_shard_chunks_fn chunks, void *user,
                                 size_t *checked, size_t *unchecked, cas_error *err) {
    size_t i, ok = 0, skipped = 0;
    uint32_t j;
    int rc = CAS_OK;
    for (i = 0; i < s->num_files && !rc; i++) {
        const cas_shard_file *f = &s->files[i];
        if (!(f->flags & CAS_SHARD_FILE_VERIFICATION)) continue;
        for (j = 0; j < f->num_terms; j++) {
            const cas_shard_term *t = &f->terms[j];
            const uint64_t at = f->offset + CAS__SHARD_E * (1 + (uint64_t)j);
            const cas_shard_xorb *x = s->keyed ? NULL : cas_shard_find_xorb(s, &t->xorb_hash);
            cas_hash v;
            uint64_t size;
            /* The caller's source first (it is what the caller trusts), then the shard's own. */
            rc = chunks ? cas__shard_range(NULL, chunks, user, &t->xorb_hash, t->chunk_start, t->chunk_end, &v, &size)
                        : CAS_E_SHARD_NO_CHUNKS;
            if (rc == CAS_E_SHARD_NO_CHUNKS && x)
                rc = cas__shard_range(x, NULL, NULL, &t->xorb_hash, t->chunk_start, t->chunk_end, &v, &size);
            if (rc == CAS_E_SHARD_NO_CHUNKS) {
                skipped++;
                rc = CAS_OK;
                continue;
            }
            if (rc == CAS_E_SHARD_ENTRY) {
                rc = cas__fail(err, rc, at + 44, "a term's chunk range passes the end of its xorb");
                break;
            }
            if (rc) {
                cas__fail(err, rc, at, "the chunk source failed");
                break;
            }
            if (size != t->unpacked_bytes) {
                rc = cas__fail(err, CAS_E_SHARD_ENTRY, at + 36,
                               "a term's unpacked size differs from the sizes of its chunks");
                break;
            }
            if (!cas_hash_equal(&v, &t->verification)) {
                rc = cas__fail(err, CAS_E_SHARD_VERIFICATION,
                               at + CAS__SHARD_E * (uint64_t)f->num_terms,
                               "a term's verification hash does not match its chunks");
                break;
            }
            ok++;
        }
    }
    if (checked) *checked = ok;
    if (unchecked) *unchecked = skipped;
    return (cas_result)(rc ? rc : cas__succeed(err));
}

/* ---- writer ---- */

cas_result cas_shard_write_size(const cas_shard_file *files, size_t num_files, const cas_shard_xorb *xorbs,
                                size_t num_xorbs, unsigned flags, uint64_t *size) {
    /* Stops as soon as the size passes the limit, so no sum can overflow. */
    const int footer = (flags & CAS_SHARD_WITH_FOOTER) != 0;
    uint64_t n = CAS__SHARD_EMPTY_SIZE + (footer ? CAS_SHARD_FOOTER_SIZE : 0);
    size_t i;
    for (i = 0; i < num_files && n <= CAS_SHARD_MAX_SIZE; i++)
        n += cas__shard_file_block(files[i].num_terms, files[i].has_sha256) +
             (footer ? CAS__SHARD_FILE_LOOKUP : 0);
    for (i = 0; i < num_xorbs && n <= CAS_SHARD_MAX_SIZE; i++)
        n += cas__shard_xorb_block(xorbs[i].num_chunks) +
             (footer ? CAS__SHARD_XORB_LOOKUP + CAS__SHARD_CHUNK_LOOKUP * (uint64_t)xorbs[i].num_chunks : 0);
    *size = n;
    return (cas_result)(n > CAS_SHARD_MAX_SIZE ? CAS_E_SHARD_TOO_LARGE : CAS_OK);
}

/* Output: straight into a buffer sink (its room was checked first), or staged for a callback
   sink so that it sees a few large pieces rather than many 48-byte ones. */
typedef struct cas__shard_out {
    cas_sink *sink;
    uint64_t pos;
    size_t used;
    int rc;
    uint8_t stage[4096];
} cas__shard_out;

static void cas__shard_flush(cas__shard_out *o) {
    if (o->used && !o->rc) o->rc = cas__sink_put(o->sink, o->stage, o->used);
    o->used = 0;
}
static void cas__shard_emit(cas__shard_out *o, const uint8_t *p, size_t n) {
    if (!o->sink->write) {
        memcpy(o->sink->buf + o->sink->len, p, n);
        o->sink->len += n;
    } else {
        if (o->used + n > sizeof o->stage) cas__shard_flush(o);
        memcpy(o->stage + o->used, p, n);
        o->used += n;
    }
    o->pos += n;
}

typedef struct cas__shard_wctx {
    const cas_shard_file *files;
    const cas_shard_xorb *xorbs;
    const uint64_t *keys;
} cas__shard_wctx;

static int cas__shard_wcmp_file(const void *ctx, uint64_t a, uint64_t b) {
    const cas__shard_wctx *w = (const cas__shard_wctx *)ctx;
    int c = cas__shard_hash_cmp(&w->files[a].file_hash, &w->files[b].file_hash);
    return c ? c : (a < b ? -1 : a > b);
}
static int cas__shard_wcmp_xorb(const void *ctx, uint64_t a, uint64_t b) {
    const cas__shard_wctx *w = (const cas__shard_wctx *)ctx;
    int c = cas__shard_hash_cmp(&w->xorbs[a].xorb_hash, &w->xorbs[b].xorb_hash);
    return c ? c : (a < b ? -1 : a > b);
}
/* The xorb with hash h among xorbs[order[0..n)] sorted by cas__shard_wcmp_xorb, or NULL. */
static const cas_shard_xorb *cas__shard_wfind(const cas_shard_xorb *xorbs, const uint64_t *order,
                                              size_t n, const cas_hash *h) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cas__shard_hash_cmp(&xorbs[order[mid]].xorb_hash, h) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && cas_hash_equal(&xorbs[order[lo]].xorb_hash, h) ? &xorbs[order[lo]] : NULL;
}

static int cas__shard_marked(const uint64_t *marks, size_t n, uint64_t v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (marks[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && marks[lo] == v;
}

static void cas__shard_put_entry(cas__shard_out *o, const uint8_t *hash, uint32_t a, uint32_t b,
                                 uint32_t c, uint32_t d) {
    uint8_t e[CAS__SHARD_E];
    memcpy(e, hash, 32);
    cas__store_le32(e + 32, a);
    cas__store_le32(e + 36, b);
    cas__store_le32(e + 40, c);
    cas__store_le32(e + 44, d);
    cas__shard_emit(o, e, sizeof e);
}

/* Writes one lookup table: rows 0..n sorted by keys[] (ties in output order, what a stable sort
   of xet-core's rows, built in output order, gives), each row = key, entry[row] (u32), and
   for chunks entry[owner[row]] and row - first[owner[row]] (u32 each). */
static void cas__shard_put_lookup(cas__shard_out *o, cas__shard_pair *pv, cas__shard_pair *tmp, size_t n,
                                  const uint64_t *keys,
                                  const uint64_t *entry, const uint64_t *owner, const uint64_t *first) {
    size_t i;
    for (i = 0; i < n; i++) {
        pv[i].key = keys[i];
        pv[i].item = i;
    }
    cas__shard_sort(pv, tmp, n, NULL, NULL);
    for (i = 0; i < n; i++) {
        uint8_t e[16];
        const uint64_t it = pv[i].item;
        cas__store_le64(e, keys[it]);
        if (owner) {
            cas__store_le32(e + 8, (uint32_t)entry[owner[it]]);
            cas__store_le32(e + 12, (uint32_t)(it - first[owner[it]]));
            cas__shard_emit(o, e, 16);
        } else {
            cas__store_le32(e + 8, (uint32_t)entry[it]);
            cas__shard_emit(o, e, 12);
        }
    }
}

/* cas_shard_write's state, shared by its steps: plan (orders and scratch), check (every entry,
   the verification hashes), mark (file starts), then emit files, xorbs and the footer. */
typedef struct cas__sw {
    const cas_shard_file *files;
    const cas_shard_xorb *xorbs;
    size_t nf, nx, nterms, nchunks, nmarks;
    cas_shard_write_desc opt;
    cas_allocator a;
    cas__shard_wctx w;
    cas__shard_out *o;
    int footer, key_chunks, raw_hashes;
    /* Scratch, one block: u64 arrays carved out by cas__sw_plan (never more than the input). */
    uint64_t *block, *file_order, *xorb_order, *xorb_by_hash, *marks, *term_base;
    uint64_t *fkey, *fentry, *xkey, *xentry, *xfirst, *ckey, *cowner;
    size_t nblock, npairs;
    cas__shard_pair *pairs, *tmp; /* sorting room: 2 x (nf + nx + nchunks + 1) */
    cas_hash *verif;              /* per term, in input order (term_base) */
    uint64_t materialized, on_disk, stored, xorb_info;
} cas__sw;

/* The input's order (CAS_SHARD_SORTED: by hash) and the xorbs by hash, for lookups. */
static int cas__sw_plan(cas__sw *sw, cas_error *err) {
    size_t i;
    uint64_t c;
    for (i = 0; i < sw->nf; i++) sw->nterms += sw->files[i].num_terms;
    for (i = 0; i < sw->nx; i++) sw->nchunks += sw->xorbs[i].num_chunks;
    /* The size check came first, so every count is bounded: nterms, nchunks < 2^21. */
    sw->nblock = 5 * sw->nf + 5 * sw->nx + 2 * sw->nchunks + 1;
    sw->block = (uint64_t *)cas__shard_alloc(&sw->a, sw->nblock, sizeof(uint64_t));
    sw->verif = (cas_hash *)cas__shard_alloc(&sw->a, sw->nterms ? sw->nterms : 1, sizeof(cas_hash));
    sw->npairs = sw->nf + sw->nx + sw->nchunks + 1;
    sw->pairs = (cas__shard_pair *)cas__shard_alloc(&sw->a, 2 * sw->npairs, sizeof *sw->pairs);
    if (!sw->block || !sw->verif || !sw->pairs) return cas__fail(err, CAS_E_NOMEM, 0, "out of memory");
    sw->tmp = sw->pairs + sw->npairs;
    sw->file_order = sw->block;                 /* nf: output position -> input index */
    sw->term_base = sw->file_order + sw->nf;    /* nf: first term of each input file in verif[] */
    sw->fkey = sw->term_base + sw->nf;          /* nf: file lookup keys by output position */
    sw->fentry = sw->fkey + sw->nf;             /* nf: entry index of each file's header */
    sw->marks = sw->fentry + sw->nf;            /* nf: chunks that start files (MARK_FILE_STARTS) */
    sw->xorb_order = sw->marks + sw->nf;        /* nx */
    sw->xorb_by_hash = sw->xorb_order + sw->nx; /* nx: input indices sorted by hash */
    sw->xkey = sw->xorb_by_hash + sw->nx;       /* nx */
    sw->xentry = sw->xkey + sw->nx;             /* nx: entry index of each xorb's header */
    sw->xfirst = sw->xentry + sw->nx;           /* nx: output number of each xorb's first chunk */
    sw->ckey = sw->xfirst + sw->nx;             /* nchunks */
    sw->cowner = sw->ckey + sw->nchunks;        /* nchunks: output xorb position of each chunk */
    sw->w.files = sw->files;
    sw->w.xorbs = sw->xorbs;
    for (i = 0, c = 0; i < sw->nf; i++) {
        sw->file_order[i] = i;
        sw->term_base[i] = c;
        c += sw->files[i].num_terms;
    }
    for (i = 0; i < sw->nx; i++) sw->xorb_order[i] = i;
    if (sw->opt.flags & CAS_SHARD_SORTED) {
        for (i = 0; i < sw->nf; i++) {
            sw->pairs[i].key = cas__shard_key(&sw->files[i].file_hash);
            sw->pairs[i].item = i;
        }
        cas__shard_sort(sw->pairs, sw->tmp, sw->nf, cas__shard_wcmp_file, &sw->w);
        for (i = 0; i < sw->nf; i++) sw->file_order[i] = sw->pairs[i].item;
    }
    for (i = 0; i < sw->nx; i++) {
        sw->pairs[i].key = cas__shard_key(&sw->xorbs[i].xorb_hash);
        sw->pairs[i].item = i;
    }
    cas__shard_sort(sw->pairs, sw->tmp, sw->nx, cas__shard_wcmp_xorb, &sw->w);
    for (i = 0; i < sw->nx; i++) sw->xorb_by_hash[i] = sw->pairs[i].item;
    if (sw->opt.flags & CAS_SHARD_SORTED)
        for (i = 0; i < sw->nx; i++) sw->xorb_order[i] = sw->xorb_by_hash[i];
    return CAS_OK;
}

/* One file's terms checked (term rules; their chunks known and adding up) and their
   verification hashes computed; `at` = the file block's output offset. */
static int cas__sw_check_file(cas__sw *sw, const cas_shard_file *f, uint64_t base, uint64_t at, cas_error *err) {
    uint32_t j;
    int rc;
    if (cas__shard_is_bookend_hash(f->file_hash.bytes))
        return cas__fail(err, CAS_E_ARGUMENT, at, "a file hash of all 0xFF bytes (the bookend)");
    if (f->num_terms && !f->terms) return cas__fail(err, CAS_E_ARGUMENT, at, "a file with terms but a NULL terms array");
    for (j = 0; j < f->num_terms; j++) {
        const cas_shard_term *t = &f->terms[j];
        const uint64_t ta = at + CAS__SHARD_E * (1 + (uint64_t)j);
        uint64_t sum;
        unsigned field;
        const char *broken = cas__shard_term_rule(t->chunk_start, t->chunk_end, t->unpacked_bytes, &field);
        if (broken) return cas__fail(err, CAS_E_ARGUMENT, ta + field, broken);
        if (f->flags & CAS_SHARD_FILE_VERIFICATION) {
            sw->verif[base + j] = t->verification;
            continue;
        }
        rc = cas__shard_range(sw->raw_hashes ? cas__shard_wfind(sw->xorbs, sw->xorb_by_hash, sw->nx, &t->xorb_hash) : NULL,
                              sw->opt.chunks, sw->opt.chunks_user, &t->xorb_hash, t->chunk_start, t->chunk_end,
                              &sw->verif[base + j], &sum);
        if (rc == CAS_E_SHARD_ENTRY)
            return cas__fail(err, CAS_E_ARGUMENT, ta + 44, "a term's chunk range passes the end of its xorb");
        if (rc == CAS_E_SHARD_NO_CHUNKS) return cas__fail(err, rc, ta, "no chunk hashes for a term's xorb range");
        if (rc) return cas__fail(err, rc, ta, "the chunk source failed");
        if (sum != t->unpacked_bytes)
            return cas__fail(err, CAS_E_ARGUMENT, ta + 36, "a term's unpacked size differs from the sizes of its chunks");
    }
    return CAS_OK;
}

/* One xorb's chunks checked (chunk rules, the sizes adding up); `at` = its block's offset. */
static int cas__sw_check_xorb(const cas_shard_xorb *x, uint64_t at, cas_error *err) {
    uint64_t sum = 0;
    uint32_t j;
    if (cas__shard_is_bookend_hash(x->xorb_hash.bytes))
        return cas__fail(err, CAS_E_ARGUMENT, at, "a xorb hash of all 0xFF bytes (the bookend)");
    if (x->num_chunks == 0 || x->num_chunks > CAS_XORB_MAX_CHUNKS || !x->chunks)
        return cas__fail(err, CAS_E_ARGUMENT, at + 36, "a xorb with 0 or over 8192 chunks");
    for (j = 0; j < x->num_chunks; j++) {
        const cas_shard_chunk *ch = &x->chunks[j];
        unsigned field;
        const char *broken = cas__shard_chunk_rule(ch->byte_start, sum, ch->unpacked_bytes, &field);
        if (broken) return cas__fail(err, CAS_E_ARGUMENT, at + CAS__SHARD_E * (1 + (uint64_t)j) + field, broken);
        sum += ch->unpacked_bytes;
    }
    if (sum != x->bytes_in_xorb)
        return cas__fail(err, CAS_E_ARGUMENT, at + 40, "a xorb's bytes_in_xorb differs from the sum of its chunks");
    return CAS_OK;
}

/* Pass 1: every entry checked and the verification hashes computed, so that nothing is written
   for an input the reader would refuse. Offsets are those of the output. */
static int cas__sw_check(cas__sw *sw, cas_error *err) {
    uint64_t at = CAS_SHARD_HEADER_SIZE;
    size_t p;
    int rc;
    for (p = 0; p < sw->nf; p++) {
        const cas_shard_file *f = &sw->files[sw->file_order[p]];
        if ((rc = cas__sw_check_file(sw, f, sw->term_base[sw->file_order[p]], at, err)) != CAS_OK) return rc;
        at += cas__shard_file_block(f->num_terms, f->has_sha256);
    }
    at += CAS__SHARD_E;
    for (p = 0; p < sw->nx; p++) {
        const cas_shard_xorb *x = &sw->xorbs[sw->xorb_order[p]];
        if ((rc = cas__sw_check_xorb(x, at, err)) != CAS_OK) return rc;
        at += cas__shard_xorb_block(x->num_chunks);
    }
    return CAS_OK;
}

/* CAS_SHARD_MARK_FILE_STARTS: (xorb input index << 32 | chunk) of each file's first chunk,
   sorted for lookup. */
static void cas__sw_mark(cas__sw *sw) {
    size_t i;
    for (i = 0; i < sw->nf; i++) {
        const cas_shard_file *f = &sw->files[i];
        const cas_shard_xorb *x;
        if (!f->num_terms) continue;
        x = cas__shard_wfind(sw->xorbs, sw->xorb_by_hash, sw->nx, &f->terms[0].xorb_hash);
        if (x) sw->marks[sw->nmarks++] = (uint64_t)(x - sw->xorbs) << 32 | f->terms[0].chunk_start;
    }
    for (i = 0; i < sw->nmarks; i++) {
        sw->pairs[i].key = sw->marks[i];
        sw->pairs[i].item = i;
    }
    cas__shard_sort(sw->pairs, sw->tmp, sw->nmarks, NULL, NULL);
    for (i = 0; i < sw->nmarks; i++) sw->marks[i] = sw->pairs[i].key;
}

/* Pass 2, first part: the header, the file blocks (header, terms, verification entries, the
   SHA-256 metadata) and the file-info bookend. */
static void cas__sw_emit_files(cas__sw *sw) {
    cas__shard_out *o = sw->o;
    uint8_t rec[CAS__SHARD_E];
    size_t p;
    uint32_t j;
    memcpy(rec, cas__shard_tag, 32);
    cas__store_le64(rec + 32, 2);
    cas__store_le64(rec + 40, sw->footer ? CAS_SHARD_FOOTER_SIZE : 0);
    cas__shard_emit(o, rec, sizeof rec);
    for (p = 0; p < sw->nf; p++) {
        const cas_shard_file *f = &sw->files[sw->file_order[p]];
        const uint64_t base = sw->term_base[sw->file_order[p]];
        uint32_t flags = (f->flags & ~(CAS_SHARD_FILE_VERIFICATION | CAS_SHARD_FILE_METADATA_EXT)) |
                         CAS_SHARD_FILE_VERIFICATION | (f->has_sha256 ? CAS_SHARD_FILE_METADATA_EXT : 0);
        sw->fkey[p] = cas__shard_key(&f->file_hash);
        sw->fentry[p] = (o->pos - CAS_SHARD_HEADER_SIZE) / CAS__SHARD_E;
        memcpy(rec, f->file_hash.bytes, 32);
        cas__store_le32(rec + 32, flags);
        cas__store_le32(rec + 36, f->num_terms);
        memset(rec + 40, 0, 8);
        cas__shard_emit(o, rec, sizeof rec);
        for (j = 0; j < f->num_terms; j++) {
            const cas_shard_term *t = &f->terms[j];
            cas__shard_put_entry(o, t->xorb_hash.bytes, t->xorb_flags, t->unpacked_bytes, t->chunk_start, t->chunk_end);
            sw->materialized += t->unpacked_bytes;
        }
        memset(rec + 32, 0, 16);
        for (j = 0; j < f->num_terms; j++) {
            memcpy(rec, sw->verif[base + j].bytes, 32);
            cas__shard_emit(o, rec, sizeof rec);
        }
        if (f->has_sha256) {
            cas__shard_sha_swap(f->sha256, rec);
            memset(rec + 32, 0, 16);
            cas__shard_emit(o, rec, sizeof rec);
        }
    }
    memset(rec, 0xFF, 32);
    memset(rec + 32, 0, 16);
    cas__shard_emit(o, rec, sizeof rec);
}

/* Pass 2, second part: the xorb blocks (chunk hashes keyed with CAS_SHARD_KEY_CHUNKS, file
   starts marked) and the CAS-info bookend. */
static void cas__sw_emit_xorbs(cas__sw *sw) {
    cas__shard_out *o = sw->o;
    static const uint8_t bookend[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    size_t p;
    uint64_t c;
    uint32_t j;
    sw->xorb_info = o->pos;
    for (p = 0, c = 0; p < sw->nx; p++) {
        const size_t xi = (size_t)sw->xorb_order[p];
        const cas_shard_xorb *x = &sw->xorbs[xi];
        sw->xkey[p] = cas__shard_key(&x->xorb_hash);
        sw->xentry[p] = (o->pos - sw->xorb_info) / CAS__SHARD_E;
        sw->xfirst[p] = c;
        cas__shard_put_entry(o, x->xorb_hash.bytes, x->flags, x->num_chunks, x->bytes_in_xorb, x->bytes_on_disk);
        sw->on_disk += x->bytes_on_disk;
        sw->stored += x->bytes_in_xorb;
        for (j = 0; j < x->num_chunks; j++, c++) {
            const cas_shard_chunk *ch = &x->chunks[j];
            cas_hash h = ch->hash;
            uint32_t flags = ch->flags;
            if (sw->key_chunks) cas_hash_hmac(&ch->hash, &sw->opt.hmac_key, &h);
            if (sw->nmarks && cas__shard_marked(sw->marks, sw->nmarks, (uint64_t)xi << 32 | j))
                flags |= CAS_SHARD_CHUNK_GLOBAL_DEDUP;
            cas__shard_put_entry(o, h.bytes, ch->byte_start, ch->unpacked_bytes, flags, 0);
            sw->ckey[c] = cas__shard_key(&h);
            sw->cowner[c] = p;
        }
    }
    cas__shard_put_entry(o, bookend, 0, 0, 0, 0);
}

/* Pass 2, the full form's end: the three lookup tables and the footer. */
static void cas__sw_emit_footer(cas__sw *sw) {
    cas__shard_out *o = sw->o;
    uint8_t F[CAS_SHARD_FOOTER_SIZE];
    cas_shard_footer ft;
    memset(&ft, 0, sizeof ft);
    ft.file_lookup_offset = o->pos;
    cas__shard_put_lookup(o, sw->pairs, sw->tmp, sw->nf, sw->fkey, sw->fentry, NULL, NULL);
    ft.xorb_lookup_offset = o->pos;
    cas__shard_put_lookup(o, sw->pairs, sw->tmp, sw->nx, sw->xkey, sw->xentry, NULL, NULL);
    ft.chunk_lookup_offset = o->pos;
    cas__shard_put_lookup(o, sw->pairs, sw->tmp, sw->nchunks, sw->ckey, sw->xentry, sw->cowner, sw->xfirst);
    ft.version = 1;
    ft.file_info_offset = CAS_SHARD_HEADER_SIZE;
    ft.xorb_info_offset = sw->xorb_info;
    ft.file_lookup_count = sw->nf;
    ft.xorb_lookup_count = sw->nx;
    ft.chunk_lookup_count = sw->nchunks;
    ft.hmac_key = sw->opt.hmac_key;
    ft.creation_time = sw->opt.creation_time;
    ft.key_expiry = sw->opt.key_expiry;
    ft.stored_bytes_on_disk = sw->on_disk;
    ft.materialized_bytes = sw->materialized;
    ft.stored_bytes = sw->stored;
    ft.footer_offset = o->pos;
    cas__shard_footer_encode(F, &ft);
    cas__shard_emit(o, F, sizeof F);
}

static int cas__shard_write(const cas_allocator *alloc, const cas_shard_file *files, size_t nf,
                            const cas_shard_xorb *xorbs, size_t nx, const cas_shard_write_desc *desc,
                            cas__shard_out *o, uint64_t *written, cas_error *err) {
    cas__sw sw;
    uint64_t size;
    int rc;
    if (written) *written = 0;
    if ((nf && !files) || (nx && !xorbs)) return cas__fail(err, CAS_E_ARGUMENT, 0, "NULL entry array");
    memset(&sw, 0, sizeof sw);
    if (desc) sw.opt = *desc;
    sw.files = files, sw.nf = nf, sw.xorbs = xorbs, sw.nx = nx, sw.o = o;
    sw.a = cas__allocator_or_default(alloc);
    sw.footer = (sw.opt.flags & CAS_SHARD_WITH_FOOTER) != 0;
    sw.key_chunks = sw.footer && (sw.opt.flags & CAS_SHARD_KEY_CHUNKS) && !cas__shard_all_zero(sw.opt.hmac_key.bytes, 32);
    /* The listed chunk hashes serve for verification hashes unless they are already keyed
       (a footer with a key, and the writer is not asked to key them). */
    sw.raw_hashes = !sw.footer || cas__shard_all_zero(sw.opt.hmac_key.bytes, 32) || sw.key_chunks;
    if (cas_shard_write_size(files, nf, xorbs, nx, sw.opt.flags, &size))
        return cas__fail(err, CAS_E_SHARD_TOO_LARGE, CAS_SHARD_MAX_SIZE,
                         "the shard would be over 64 MiB: split its files across shards");
    if (!o->sink->write && (o->sink->len > o->sink->cap || size > o->sink->cap - o->sink->len))
        return cas__fail(err, CAS_E_LIMIT, o->sink->cap, "the shard does not fit in the buffer");
    rc = cas__sw_plan(&sw, err);
    if (rc == CAS_OK) rc = cas__sw_check(&sw, err);
    if (rc == CAS_OK) {
        if (sw.opt.flags & CAS_SHARD_MARK_FILE_STARTS) cas__sw_mark(&sw);
        cas__sw_emit_files(&sw);
        cas__sw_emit_xorbs(&sw);
        if (sw.footer) cas__sw_emit_footer(&sw);
        if (o->sink->write) cas__shard_flush(o);
        if (o->rc) rc = cas__fail(err, o->rc, o->pos, "the write callback failed");
        else if (o->pos != size) /* unreachable: the size formula and the emitter agree */
            rc = cas__fail(err, CAS_E_STATE, o->pos, "internal: shard size mismatch");
        else rc = cas__succeed(err);
        if (rc == CAS_OK && written) *written = o->pos;
    }
    cas__shard_release(&sw.a, sw.block, sw.nblock, sizeof(uint64_t));
    cas__shard_release(&sw.a, sw.verif, sw.nterms ? sw.nterms : 1, sizeof(cas_hash));
    cas__shard_release(&sw.a, sw.pairs, 2 * sw.npairs, sizeof *sw.pairs);
    return rc;
}

cas_result cas_shard_write(const cas_allocator *alloc, const cas_shard_file *files, size_t num_files,
                           const cas_shard_xorb *xorbs, size_t num_xorbs,
                           const cas_shard_write_desc *desc, cas_sink *sink, uint64_t *written,
                           cas_error *err) {
    cas__shard_out o;
    if (written) *written = 0;
    if (!sink || (!sink->write && !sink->buf && sink->cap))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "no sink"));
    memset(&o, 0, sizeof o - sizeof o.stage);
    o.sink = sink;
    return (cas_result)(cas__shard_write(alloc, files, num_files, xorbs, num_xorbs, desc, &o, written, err));
}

cas_result cas_shard_xorb_from_chunks(cas_shard_xorb *x, const cas_hash *xorb_hash,
                                      const cas_xorb_chunk *chunks, size_t n, uint64_t serialized_size,
                                      cas_shard_chunk *storage) {
    size_t i;
    uint64_t sum = 0;
    memset(x, 0, sizeof *x);
    if (n == 0 || n > CAS_XORB_MAX_CHUNKS || serialized_size > 0xFFFFFFFFu || !chunks || !storage)
        return CAS_E_ARGUMENT;
    for (i = 0; i < n; i++) {
        if (chunks[i].size == 0 || chunks[i].size > CAS__SHARD_MAX_CHUNK || chunks[i].unpacked_offset != sum)
            return CAS_E_ARGUMENT;
        storage[i].hash = chunks[i].hash;
        storage[i].byte_start = chunks[i].unpacked_offset;
        storage[i].unpacked_bytes = chunks[i].size;
        storage[i].flags = 0;
        sum += chunks[i].size;
    }
    x->xorb_hash = *xorb_hash;
    x->num_chunks = (uint32_t)n;
    x->bytes_in_xorb = (uint32_t)sum; /* <= 8192 x 128 KiB */
    x->bytes_on_disk = (uint32_t)serialized_size;
    x->chunks = storage;
    return CAS_OK;
}

#undef CAS__SHARD_E
#undef CAS__SHARD_MAX_CHUNK
#undef CAS__SHARD_BATCH

/* ==== >>formats: JSON ==================================================================== */

/* Reader states: what the next token may be. */
enum {
    CAS__JS_TOP,          /* the top-level value */
    CAS__JS_VALUE,        /* a value (after ':' or an array's ',') */
    CAS__JS_ARRAY_FIRST,  /* a value or ']' */
    CAS__JS_OBJECT_FIRST, /* a key or '}' */
    CAS__JS_KEY,          /* a key (after an object's ',') */
    CAS__JS_AFTER,        /* ',' or the container's end, or the end of the text at depth 0 */
    CAS__JS_DONE
};

static int cas__json_fail(cas_json_reader *r, int code, uint64_t offset, const char *what) {
    return cas__fail(&r->error, code, offset, what);
}

cas_result cas_json_reader_init(cas_json_reader *r, const void *json, size_t len,
                                const cas_json_desc *opt) {
    uint64_t max_body = opt && opt->max_body ? opt->max_body : CAS_JSON_MAX_BODY;
    memset(r, 0, sizeof *r);
    r->priv_p = (const uint8_t *)json;
    r->priv_len = len;
    r->priv_max_depth = opt && opt->max_depth ? opt->max_depth : CAS_JSON_MAX_DEPTH;
    r->priv_max_string = opt && opt->max_string ? opt->max_string : CAS_JSON_MAX_STRING;
    r->priv_state = CAS__JS_TOP;
    cas__succeed(&r->error);
    if (r->priv_max_depth > CAS_JSON_DEPTH_CAP)
        return (cas_result)(cas__json_fail(r, CAS_E_ARGUMENT, 0, "max_depth is over CAS_JSON_DEPTH_CAP"));
    if (!json && len) return (cas_result)(cas__json_fail(r, CAS_E_ARGUMENT, 0, "no JSON text"));
    if ((uint64_t)len > max_body)
        return (cas_result)(cas__json_fail(r, CAS_E_JSON_LIMIT, max_body, "the JSON body is over max_body"));
    return CAS_OK;
}

static int cas__json_hex4(cas_json_reader *r, size_t i, uint32_t *cp) {
    uint32_t v = 0;
    size_t k;
    for (k = 0; k < 4; k++) {
        int d;
        if (i + k >= r->priv_len)
            return cas__json_fail(r, CAS_E_TRUNCATED, r->priv_len, "the text ends inside a \\u escape");
        d = cas__hex_value((char)r->priv_p[i + k]);
        if (d < 0)
            return cas__json_fail(r, CAS_E_JSON_STRING, i + k, "a \\u escape needs 4 hex digits");
        v = v << 4 | (uint32_t)d;
    }
    *cp = v;
    return CAS_OK;
}

/* Length of the UTF-8 sequence at p[0..avail) (lead byte >= 0x80): 2..4; 0 if invalid
   (overlong, surrogate, over U+10FFFF, bad continuation); -1 if it is a valid prefix cut by the
   end of the text. The ranges are RFC 3629's table. */
static int cas__utf8_len(const uint8_t *p, size_t avail) {
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    int need, j;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
    else if (c == 0xED) need = 2, hi = 0x9F; /* U+D800..DFFF are not characters */
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    else return 0;
    for (j = 1; j <= need; j++) {
        if ((size_t)j >= avail) return -1;
        if (p[j] < lo || p[j] > hi) return 0;
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}

/* The string whose opening quote is at priv_pos: validated completely, its decoded length
   counted; priv_pos moves past the closing quote. */
static int cas__json_string(cas_json_reader *r, cas_json_token *t) {
    const uint8_t *p = r->priv_p;
    size_t n = r->priv_len, start = r->priv_pos, i = start + 1;
    uint64_t out = 0;
    int escaped = 0;
    for (;;) {
        uint8_t c;
        if (i >= n) return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends inside a string");
        c = p[i];
        if (c == '"') break;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            out++;
            i++;
        } else if (c == '\\') {
            uint32_t cp, lo;
            int rc;
            escaped = 1;
            if (i + 1 >= n) return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends inside an escape");
            switch (p[i + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                out++;
                i += 2;
                continue;
            case 'u':
                break;
            default:
                return cas__json_fail(r, CAS_E_JSON_STRING, i, "invalid escape (only \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
            }
            if ((rc = cas__json_hex4(r, i + 2, &cp)) != CAS_OK) return rc;
            if (cp == 0) return cas__json_fail(r, CAS_E_JSON_STRING, i, "\\u0000 (NUL) in a string");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return cas__json_fail(r, CAS_E_JSON_STRING, i, "a lone low surrogate escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 7 >= n)
                    return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends after a high surrogate escape");
                if (p[i + 6] != '\\' || p[i + 7] != 'u')
                    return cas__json_fail(r, CAS_E_JSON_STRING, i, "a high surrogate escape without a low one after it");
                if ((rc = cas__json_hex4(r, i + 8, &lo)) != CAS_OK) return rc;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return cas__json_fail(r, CAS_E_JSON_STRING, i + 6, "a high surrogate escape without a low one after it");
                out += 4;
                i += 12;
            } else {
                out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
                i += 6;
            }
        } else if (c < 0x20) {
            return cas__json_fail(r, CAS_E_JSON_STRING, i, "a control character (U+0000..U+001F) in a string");
        } else {
            int k = cas__utf8_len(p + i, n - i);
            if (k < 0) return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends inside a UTF-8 sequence");
            if (k == 0) return cas__json_fail(r, CAS_E_JSON_STRING, i, "invalid UTF-8 in a string");
            out += (uint64_t)k;
            i += (size_t)k;
        }
    }
    if (out > r->priv_max_string)
        return cas__json_fail(r, CAS_E_JSON_LIMIT, start, "a string is longer than max_string");
    t->raw = p + start + 1;
    t->raw_len = i - start - 1;
    t->len = (size_t)out;
    t->escaped = escaped;
    r->priv_pos = i + 1;
    return CAS_OK;
}

static int cas__json_digit(const uint8_t *p, size_t i, size_t n) { return i < n && p[i] >= '0' && p[i] <= '9'; }

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at priv_pos. */
static int cas__json_number(cas_json_reader *r, cas_json_token *t) {
    const uint8_t *p = r->priv_p;
    size_t n = r->priv_len, start = r->priv_pos, i = start;
    if (p[i] == '-') i++;
    if (i >= n) return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends inside a number");
    if (p[i] == '0') {
        i++;
        if (cas__json_digit(p, i, n))
            return cas__json_fail(r, CAS_E_JSON_NUMBER, start, "a number with a leading zero");
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (cas__json_digit(p, i, n)) i++;
    } else {
        return cas__json_fail(r, CAS_E_JSON_NUMBER, i, "'-' must be followed by a digit");
    }
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n) return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends inside a number");
        if (!cas__json_digit(p, i, n))
            return cas__json_fail(r, CAS_E_JSON_NUMBER, i, "'.' must be followed by a digit");
        while (cas__json_digit(p, i, n)) i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        if (i >= n) return cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends inside a number");
        if (!cas__json_digit(p, i, n))
            return cas__json_fail(r, CAS_E_JSON_NUMBER, i, "an exponent needs a digit");
        while (cas__json_digit(p, i, n)) i++;
    }
    t->raw = p + start;
    t->raw_len = i - start;
    r->priv_pos = i;
    return CAS_OK;
}

static int cas__json_literal(cas_json_reader *r, const char *word, size_t wlen) {
    size_t k;
    for (k = 0; k < wlen; k++) {
        if (r->priv_pos + k >= r->priv_len)
            return cas__json_fail(r, CAS_E_TRUNCATED, r->priv_len, "the text ends inside true/false/null");
        if (r->priv_p[r->priv_pos + k] != (uint8_t)word[k])
            return cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos + k, "expected a value");
    }
    r->priv_pos += wlen;
    return CAS_OK;
}

static int cas__json_is_object(const cas_json_reader *r, uint32_t depth) {
    return (int)(r->priv_stack[(depth - 1) >> 5] >> ((depth - 1) & 31) & 1u);
}

cas_result cas_json_next(cas_json_reader *r, cas_json_token *t) {
    const uint8_t *p = r->priv_p;
    size_t n = r->priv_len;
    int rc;
    memset(t, 0, sizeof *t);
    if (r->error.code < 0) return (cas_result)(r->error.code);
    if (r->priv_state == CAS__JS_DONE) return CAS_END;
    if (r->priv_state == CAS__JS_TOP && n >= 1 && p[0] == 0xEF)
        return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, 0, "a byte order mark (or other non-JSON byte) starts the text"));
    for (;;) {
        uint8_t c;
        while (r->priv_pos < n && (p[r->priv_pos] == ' ' || p[r->priv_pos] == '\n' ||
                                   p[r->priv_pos] == '\r' || p[r->priv_pos] == '\t'))
            r->priv_pos++;
        t->offset = r->priv_pos;
        t->depth = r->priv_depth;
        if (r->priv_state == CAS__JS_AFTER && r->priv_depth == 0) {
            if (r->priv_pos < n)
                return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos, "bytes after the JSON value"));
            r->priv_state = CAS__JS_DONE;
            t->type = CAS_JSON_END;
            return CAS_END;
        }
        if (r->priv_pos >= n)
            return (cas_result)(cas__json_fail(r, CAS_E_TRUNCATED, n,
                                               r->priv_state == CAS__JS_TOP ? "the text ends before a value"
                                                                            : "the text ends inside an array or object"));
        c = p[r->priv_pos];
        switch (r->priv_state) {
        case CAS__JS_AFTER:
            if (cas__json_is_object(r, r->priv_depth)) {
                if (c == ',') {
                    r->priv_pos++;
                    r->priv_state = CAS__JS_KEY;
                    continue;
                }
                if (c != '}') return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos, "expected ',' or '}'"));
            } else {
                if (c == ',') {
                    r->priv_pos++;
                    r->priv_state = CAS__JS_VALUE;
                    continue;
                }
                if (c != ']') return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos, "expected ',' or ']'"));
            }
            /* the container ends */
            r->priv_pos++;
            r->priv_depth--;
            t->depth = r->priv_depth;
            t->type = c == '}' ? CAS_JSON_OBJECT_END : CAS_JSON_ARRAY_END;
            r->priv_state = CAS__JS_AFTER;
            return CAS_OK;
        case CAS__JS_OBJECT_FIRST:
        case CAS__JS_KEY:
            if (c == '}' && r->priv_state == CAS__JS_OBJECT_FIRST) {
                r->priv_state = CAS__JS_AFTER;
                continue; /* AFTER sees the '}' */
            }
            if (c != '"')
                return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos,
                                                   r->priv_state == CAS__JS_KEY ? "expected a member name after ','"
                                                                                : "expected a member name or '}'"));
            if ((rc = cas__json_string(r, t)) != CAS_OK) return (cas_result)(rc);
            while (r->priv_pos < n && (p[r->priv_pos] == ' ' || p[r->priv_pos] == '\n' ||
                                       p[r->priv_pos] == '\r' || p[r->priv_pos] == '\t'))
                r->priv_pos++;
            if (r->priv_pos >= n)
                return (cas_result)(cas__json_fail(r, CAS_E_TRUNCATED, n, "the text ends after a member name"));
            if (p[r->priv_pos] != ':')
                return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos, "expected ':' after a member name"));
            r->priv_pos++;
            r->priv_state = CAS__JS_VALUE;
            t->type = CAS_JSON_KEY;
            return CAS_OK;
        case CAS__JS_ARRAY_FIRST:
            if (c == ']') {
                r->priv_state = CAS__JS_AFTER;
                continue;
            }
            break;
        default:
            break;
        }
        /* a value */
        r->priv_state = CAS__JS_AFTER;
        switch (c) {
        case '{':
        case '[':
            if (r->priv_depth >= r->priv_max_depth)
                return (cas_result)(cas__json_fail(r, CAS_E_JSON_DEPTH, r->priv_pos, "arrays and objects nest deeper than max_depth"));
            if (c == '{')
                r->priv_stack[r->priv_depth >> 5] |= 1u << (r->priv_depth & 31);
            else
                r->priv_stack[r->priv_depth >> 5] &= ~(1u << (r->priv_depth & 31));
            r->priv_depth++;
            r->priv_pos++;
            r->priv_state = c == '{' ? CAS__JS_OBJECT_FIRST : CAS__JS_ARRAY_FIRST;
            t->type = c == '{' ? CAS_JSON_OBJECT : CAS_JSON_ARRAY;
            return CAS_OK;
        case '"':
            t->type = CAS_JSON_STRING;
            return (cas_result)(cas__json_string(r, t));
        case 't':
            t->type = CAS_JSON_TRUE;
            return (cas_result)(cas__json_literal(r, "true", 4));
        case 'f':
            t->type = CAS_JSON_FALSE;
            return (cas_result)(cas__json_literal(r, "false", 5));
        case 'n':
            t->type = CAS_JSON_NULL;
            return (cas_result)(cas__json_literal(r, "null", 4));
        case '+':
        case '.':
            return (cas_result)(cas__json_fail(r, CAS_E_JSON_NUMBER, r->priv_pos, "a number must start with '-' or a digit"));
        default:
            if (c == '-' || (c >= '0' && c <= '9')) {
                t->type = CAS_JSON_NUMBER;
                return (cas_result)(cas__json_number(r, t));
            }
            return (cas_result)(cas__json_fail(r, CAS_E_JSON_SYNTAX, r->priv_pos, "expected a value"));
        }
    }
}

cas_result cas_json_skip(cas_json_reader *r, const cas_json_token *t) {
    cas_json_token u;
    if (r->error.code < 0) return (cas_result)(r->error.code);
    if (t->type != CAS_JSON_OBJECT && t->type != CAS_JSON_ARRAY) return CAS_OK;
    for (;;) {
        int rc = cas_json_next(r, &u);
        if (rc < 0) return (cas_result)(rc);
        if ((u.type == CAS_JSON_OBJECT_END || u.type == CAS_JSON_ARRAY_END) && u.depth == t->depth)
            return CAS_OK;
    }
}

/* Decodes one character or escape of validated string bytes (the reader checked them) at
   s[*i] into out[0..4); returns its length and moves *i past it. */
static size_t cas__json_decode1(const uint8_t *s, size_t *i, uint8_t out[4]) {
    uint32_t cp;
    size_t k = *i;
    if (s[k] != '\\') {
        out[0] = s[k];
        *i = k + 1;
        return 1;
    }
    *i = k + 2;
    switch (s[k + 1]) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = s[k + 1]; return 1; /* " \ / */
    }
    cp = (uint32_t)(cas__hex_value((char)s[k + 2]) << 12 | cas__hex_value((char)s[k + 3]) << 8 |
                    cas__hex_value((char)s[k + 4]) << 4 | cas__hex_value((char)s[k + 5]));
    *i = k + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* the reader made sure a low surrogate follows */
        uint32_t lo = (uint32_t)(cas__hex_value((char)s[k + 8]) << 12 | cas__hex_value((char)s[k + 9]) << 8 |
                                 cas__hex_value((char)s[k + 10]) << 4 | cas__hex_value((char)s[k + 11]));
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *i = k + 12;
    }
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 63));
        out[2] = (uint8_t)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 63));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 63));
    out[3] = (uint8_t)(0x80 | (cp & 63));
    return 4;
}

static size_t cas__json_unescape(const uint8_t *s, size_t n, char *dst) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t c[4];
        size_t k = cas__json_decode1(s, &i, c);
        memcpy(dst + o, c, k);
        o += k;
    }
    return o;
}

cas_result cas_json_string(const cas_json_token *t, char *dst, size_t cap) {
    if (t->type != CAS_JSON_STRING && t->type != CAS_JSON_KEY) return CAS_E_ARGUMENT;
    if (cap < t->len + 1) return CAS_E_LIMIT;
    dst[cas__json_unescape(t->raw, t->raw_len, dst)] = 0;
    return CAS_OK;
}

cas_result cas_json_uint(const cas_json_token *t, uint64_t max, uint64_t *v) {
    uint64_t x = 0;
    size_t i;
    if (t->type != CAS_JSON_NUMBER) return CAS_E_ARGUMENT;
    for (i = 0; i < t->raw_len; i++) {
        unsigned char c = (unsigned char)t->raw[i];
        unsigned d;
        if (c < '0' || c > '9' || x > max / 10) return CAS_E_JSON_NUMBER; /* not a digit, or over max */
        d = (unsigned)(c - '0');
        x *= 10;
        if (d > max - x) return CAS_E_JSON_NUMBER;
        x += d;
    }
    *v = x;
    return CAS_OK;
}

int cas_json_equals(const cas_json_token *t, const char *s) {
    size_t n = strlen(s), i = 0, o = 0;
    if ((t->type != CAS_JSON_STRING && t->type != CAS_JSON_KEY) || t->len != n) return 0;
    if (!t->escaped) return memcmp(t->raw, s, n) == 0;
    while (i < t->raw_len) { /* decode as we compare: no buffer, any length */
        uint8_t c[4];
        size_t k = cas__json_decode1(t->raw, &i, c);
        if (memcmp(s + o, c, k) != 0) return 0;
        o += k;
    }
    return 1;
}

/* ---- schema parsers ----
   Each response is parsed twice with the same code: the first pass validates everything and
   counts items and string bytes; then one block is allocated for exactly that; the second
   pass fills it. So memory follows what was parsed, the result is one allocation, and no
   array ever grows. The schemas are fixed (at most 7 levels), so the parsers are plain nested
   functions, not recursive ones; unknown members are skipped by the reader's own loop. */

typedef struct cas__jfield {
    const char *name;
    const char *missing, *duplicate, *type, *number; /* static error details */
} cas__jfield;

#define CAS__JF(name, path, type)                                                             \
    { name, path ": required field missing", path ": duplicate field", path ": expected " type, \
      path ": expected a number" }
#define CAS__JF_INT(name, path, max)                                                          \
    { name, path ": required field missing", path ": duplicate field", path ": expected a number", \
      path ": not a plain integer (digits only: no sign, fraction or exponent) <= " max }
#define CAS__JF_U32(name, path) CAS__JF_INT(name, path, "4294967295")
#define CAS__JF_U64(name, path) CAS__JF_INT(name, path, "18446744073709551615")

/* A {start, end} object in each place it occurs. */
static const cas__jfield cas__jf_term_range[2] = {CAS__JF_U32("start", "terms[].range.start"),
                                                  CAS__JF_U32("end", "terms[].range.end")};
static const cas__jfield cas__jf_file_range[2] = {CAS__JF_U32("start", "files{}[].range.start"),
                                                  CAS__JF_U32("end", "files{}[].range.end")};
static const cas__jfield cas__jf_chunks[2] = {CAS__JF_U32("start", "xorbs{}[].ranges[].chunks.start"),
                                              CAS__JF_U32("end", "xorbs{}[].ranges[].chunks.end")};
static const cas__jfield cas__jf_bytes[2] = {CAS__JF_U64("start", "xorbs{}[].ranges[].bytes.start"),
                                             CAS__JF_U64("end", "xorbs{}[].ranges[].bytes.end")};
static const cas__jfield cas__jf_v1_range[2] = {CAS__JF_U32("start", "fetch_info{}[].range.start"),
                                                CAS__JF_U32("end", "fetch_info{}[].range.end")};
static const cas__jfield cas__jf_v1_url_range[2] = {CAS__JF_U64("start", "fetch_info{}[].url_range.start"),
                                                    CAS__JF_U64("end", "fetch_info{}[].url_range.end")};

/* A term, in a response's "terms" or in a batch's "files" values. */
typedef struct cas__jterm_schema {
    cas__jfield f[3];
    const cas__jfield *range;
    const char *not_object, *hex, *empty, *over, *length;
} cas__jterm_schema;
static const cas__jterm_schema cas__js_term = {
    {CAS__JF("hash", "terms[].hash", "a string"), CAS__JF_U32("unpacked_length", "terms[].unpacked_length"),
     CAS__JF("range", "terms[].range", "an object")},
    cas__jf_term_range,
    "terms[]: expected an object",
    "terms[].hash: not 64 lower-case hex digits (escapes not allowed)",
    "terms[].range: start must be below end",
    "terms[].range: end is over 8192 chunks",
    "terms[].unpacked_length: not between (end - start) and 131072 x (end - start)"};
static const cas__jterm_schema cas__js_file_term = {
    {CAS__JF("hash", "files{}[].hash", "a string"), CAS__JF_U32("unpacked_length", "files{}[].unpacked_length"),
     CAS__JF("range", "files{}[].range", "an object")},
    cas__jf_file_range,
    "files{}[]: expected an object",
    "files{}[].hash: not 64 lower-case hex digits (escapes not allowed)",
    "files{}[].range: start must be below end",
    "files{}[].range: end is over 8192 chunks",
    "files{}[].unpacked_length: not between (end - start) and 131072 x (end - start)"};

/* The chunk/byte range pair of a v2 descriptor or a v1 fetch_info entry. */
typedef struct cas__jrange_rules {
    const char *empty, *over, *order, *far, *length;
} cas__jrange_rules;
static const cas__jrange_rules cas__jr_v2 = {
    "xorbs{}[].ranges[].chunks: start must be below end",
    "xorbs{}[].ranges[].chunks: end is over 8192 chunks",
    "xorbs{}[].ranges[].bytes: start is after end (the end is inclusive)",
    "xorbs{}[].ranges[].bytes: end is at or past 64 MiB (a xorb's size limit)",
    "xorbs{}[].ranges[]: bytes do not fit the chunk count (9..262152 bytes a chunk)"};
static const cas__jrange_rules cas__jr_v1 = {
    "fetch_info{}[].range: start must be below end",
    "fetch_info{}[].range: end is over 8192 chunks",
    "fetch_info{}[].url_range: start is after end (the end is inclusive)",
    "fetch_info{}[].url_range: end is at or past 64 MiB (a xorb's size limit)",
    "fetch_info{}[]: url_range does not fit the chunk count (9..262152 bytes a chunk)"};

static const cas__jfield cas__jf_v2_fetch[2] = {CAS__JF("url", "xorbs{}[].url", "a string"),
                                                CAS__JF("ranges", "xorbs{}[].ranges", "an array")};
static const cas__jfield cas__jf_v2_desc[2] = {CAS__JF("chunks", "xorbs{}[].ranges[].chunks", "an object"),
                                               CAS__JF("bytes", "xorbs{}[].ranges[].bytes", "an object")};
static const cas__jfield cas__jf_v1_fetch[3] = {CAS__JF("range", "fetch_info{}[].range", "an object"),
                                                CAS__JF("url", "fetch_info{}[].url", "a string"),
                                                CAS__JF("url_range", "fetch_info{}[].url_range", "an object")};
static const cas__jfield cas__jf_recon_v2[3] = {
    CAS__JF_U64("offset_into_first_range", "offset_into_first_range"),
    CAS__JF("terms", "terms", "an array"), CAS__JF("xorbs", "xorbs", "an object")};
static const cas__jfield cas__jf_recon_v1[3] = {
    CAS__JF_U64("offset_into_first_range", "offset_into_first_range"),
    CAS__JF("terms", "terms", "an array"), CAS__JF("fetch_info", "fetch_info", "an object")};
static const cas__jfield cas__jf_batch[2] = {CAS__JF("files", "files", "an object"),
                                             CAS__JF("fetch_info", "fetch_info", "an object")};
static const cas__jfield cas__jf_token[3] = {
    CAS__JF("accessToken", "accessToken", "a string"),
    CAS__JF_INT("exp", "exp", "9223372036854775807"),
    CAS__JF("casUrl", "casUrl", "a string")};

typedef struct cas__jp {
    cas_json_reader r;
    cas_json_token t;
    unsigned flags;
    int version;         /* 1 or 2 for cas_recon_parse */
    int fill;            /* 0: the counting pass; 1: the filling pass */
    uint32_t max_token;
    size_t nterms, nxorbs, nfetches, nranges, nfiles, nchars; /* items so far */
    cas_recon_term *terms; /* the block's arrays (filling pass) */
    cas_recon_xorb *xorbs;
    cas_recon_fetch *fetches;
    cas_recon_range *ranges;
    cas_recon_file *files;
    char *chars;
    /* the root object's scalars */
    uint64_t offset_into_first_range, offset_at;
    size_t terms_first;
    const char *token, *url;
    size_t token_len, url_len;
    int64_t exp;
    /* FileChunkHashesResponse */
    size_t nwindows, nsubtrees, nnodes, nlevels, nhashes;
    cas_chunk_window *windows;
    cas_subtree *subtrees;
    cas_chunk *nodes;
    uint32_t *levels; /* 2 per level */
    cas_hash *hashes;
    uint64_t total_chunks, file_size, windows_at, gaps_at;
} cas__jp;

static int cas__jp_fail(cas__jp *p, int code, uint64_t offset, const char *what) {
    return cas__fail(&p->r.error, code, offset, what);
}

static int cas__jp_next(cas__jp *p) {
    int rc = cas_json_next(&p->r, &p->t);
    return rc < 0 ? rc : CAS_OK;
}

static int cas__jp_want(cas__jp *p, int type, const char *what) {
    return p->t.type == type ? CAS_OK : cas__jp_fail(p, CAS_E_JSON_SCHEMA, p->t.offset, what);
}

/* Inside an object: moves to the next known member's value (p->t; *which = its index in f),
   skipping unknown members, or to the object's end (*which = -1; required fields are then
   checked). A known member seen twice is an error, as in serde's derived structs. */
static int cas__jp_member(cas__jp *p, const cas__jfield *f, int nf, unsigned *seen, int *which) {
    for (;;) {
        uint64_t key_at;
        int k, rc = cas__jp_next(p);
        if (rc < 0) return rc;
        if (p->t.type == CAS_JSON_OBJECT_END) {
            for (k = 0; k < nf; k++)
                if (!(*seen >> k & 1u)) return cas__jp_fail(p, CAS_E_JSON_SCHEMA, p->t.offset, f[k].missing);
            *which = -1;
            return CAS_OK;
        }
        for (k = 0; k < nf && !cas_json_equals(&p->t, f[k].name); k++) {
        }
        key_at = p->t.offset;
        if ((rc = cas__jp_next(p)) < 0) return rc;
        if (k == nf) { /* forward compatibility: skip what we do not know */
            if ((rc = cas_json_skip(&p->r, &p->t)) < 0) return rc;
            continue;
        }
        if (*seen >> k & 1u) return cas__jp_fail(p, CAS_E_JSON_SCHEMA, key_at, f[k].duplicate);
        *seen |= 1u << k;
        *which = k;
        return CAS_OK;
    }
}

static int cas__jp_uint(cas__jp *p, const cas__jfield *f, uint64_t max, uint64_t *v) {
    if (p->t.type != CAS_JSON_NUMBER) return cas__jp_fail(p, CAS_E_JSON_SCHEMA, p->t.offset, f->type);
    if (cas_json_uint(&p->t, max, v) != CAS_OK)
        return cas__jp_fail(p, CAS_E_JSON_NUMBER, p->t.offset, f->number);
    return CAS_OK;
}

/* A hash string (value or key): exactly 64 hex digits as they stand in the text. */
static int cas__jp_hash(cas__jp *p, const char *what, cas_hash *h) {
    size_t i;
    if (p->t.escaped || p->t.raw_len != CAS_HASH_HEX_SIZE)
        return cas__jp_fail(p, CAS_E_HEX, p->t.offset, what);
    if (!(p->flags & CAS_JSON_HEX_ANY_CASE))
        for (i = 0; i < CAS_HASH_HEX_SIZE; i++)
            if (p->t.raw[i] >= 'A' && p->t.raw[i] <= 'F') return cas__jp_fail(p, CAS_E_HEX, p->t.offset, what);
    if (cas_hash_from_hex((const char *)p->t.raw, CAS_HASH_HEX_SIZE, h) != CAS_OK)
        return cas__jp_fail(p, CAS_E_HEX, p->t.offset, what);
    return CAS_OK;
}

/* A URL or token string: non-empty visible ASCII (it is sent in a request line or header
   verbatim, so CR, LF, spaces and controls would be header injection), URLs beginning with
   http:// or https://. Checked on the decoded bytes (a JSON writer may escape '/'). Stored
   NUL-terminated in the filling pass. */
static int cas__jp_text(cas__jp *p, int url, const char *what, const char **s, size_t *len) {
    static const char https[] = "https://";
    uint8_t head[8];
    size_t i = 0, o = 0;
    while (i < p->t.raw_len) {
        uint8_t c[4];
        size_t k = cas__json_decode1(p->t.raw, &i, c), j;
        for (j = 0; j < k; j++) {
            if (c[j] < 0x21 || c[j] > 0x7E) return cas__jp_fail(p, CAS_E_JSON_VALUE, p->t.offset, what);
            if (o < sizeof head) head[o] = (uint8_t)(c[j] >= 'A' && c[j] <= 'Z' ? c[j] + 32 : c[j]);
            o++;
        }
    }
    if (o == 0) return cas__jp_fail(p, CAS_E_JSON_VALUE, p->t.offset, what);
    if (url && !(o >= 8 && memcmp(head, https, 8) == 0) &&
        !(o >= 7 && memcmp(head, "http://", 7) == 0))
        return cas__jp_fail(p, CAS_E_JSON_VALUE, p->t.offset, what);
    if (p->fill) {
        char *d = p->chars + p->nchars;
        cas__json_unescape(p->t.raw, p->t.raw_len, d);
        d[o] = 0;
        *s = d;
    }
    *len = o;
    p->nchars += o + 1;
    return CAS_OK;
}

/* {start, end}: both required, integers <= max. p->t is its '{'. */
static int cas__jp_range(cas__jp *p, const cas__jfield *parent, const cas__jfield f[2], uint64_t max,
                         uint64_t *start, uint64_t *end) {
    unsigned seen = 0;
    int which, rc;
    if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, parent->type)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, f, 2, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) return CAS_OK;
        if ((rc = cas__jp_uint(p, &f[which], max, which ? end : start)) != CAS_OK) return rc;
    }
}

/* The rules of one chunk range and the byte range of its records. */
static int cas__jp_check_ranges(cas__jp *p, uint64_t at, const cas__jrange_rules *rules,
                                const cas_recon_range *g) {
    uint64_t n, len;
    if (g->chunk_start >= g->chunk_end) return cas__jp_fail(p, CAS_E_JSON_VALUE, at, rules->empty);
    if (g->chunk_end > CAS_XORB_MAX_CHUNKS) return cas__jp_fail(p, CAS_E_JSON_VALUE, at, rules->over);
    if (g->byte_start > g->byte_end) return cas__jp_fail(p, CAS_E_JSON_VALUE, at, rules->order);
    if (g->byte_end >= CAS_XORB_MAX_SIZE) return cas__jp_fail(p, CAS_E_JSON_VALUE, at, rules->far);
    n = g->chunk_end - g->chunk_start;
    len = g->byte_end - g->byte_start + 1;
    if (len < n * (CAS_CHUNK_HEADER_SIZE + 1) || len > n * (CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_COMPRESSED))
        return cas__jp_fail(p, CAS_E_JSON_VALUE, at, rules->length);
    return CAS_OK;
}

/* One term object (p->t is its '{'). */
static int cas__jp_term(cas__jp *p, const cas__jterm_schema *s) {
    cas_recon_term tm;
    unsigned seen = 0;
    uint64_t v, a = 0, b = 0, range_at = 0, n;
    int which, rc;
    memset(&tm, 0, sizeof tm);
    if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, s->not_object)) != CAS_OK) return rc;
    tm.priv_offset = p->t.offset;
    for (;;) {
        if ((rc = cas__jp_member(p, s->f, 3, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which == 0) {
            if ((rc = cas__jp_want(p, CAS_JSON_STRING, s->f[0].type)) != CAS_OK ||
                (rc = cas__jp_hash(p, s->hex, &tm.hash)) != CAS_OK)
                return rc;
        } else if (which == 1) {
            if ((rc = cas__jp_uint(p, &s->f[1], 0xFFFFFFFFu, &v)) != CAS_OK) return rc;
            tm.unpacked_length = v;
        } else {
            range_at = p->t.offset;
            if ((rc = cas__jp_range(p, &s->f[2], s->range, 0xFFFFFFFFu, &a, &b)) != CAS_OK) return rc;
        }
    }
    if (a >= b) return cas__jp_fail(p, CAS_E_JSON_VALUE, range_at, s->empty);
    if (b > CAS_XORB_MAX_CHUNKS) return cas__jp_fail(p, CAS_E_JSON_VALUE, range_at, s->over);
    n = b - a;
    if (tm.unpacked_length < n || tm.unpacked_length > n * CAS_CHUNK_MAX_SIZE)
        return cas__jp_fail(p, CAS_E_JSON_VALUE, tm.priv_offset, s->length);
    tm.chunk_start = (uint32_t)a;
    tm.chunk_end = (uint32_t)b;
    if (p->fill) p->terms[p->nterms] = tm;
    p->nterms++;
    return CAS_OK;
}

/* A JSON array of terms (p->t is its '['). */
static int cas__jp_terms(cas__jp *p, const cas__jterm_schema *s) {
    for (;;) {
        int rc = cas__jp_next(p);
        if (rc < 0) return rc;
        if (p->t.type == CAS_JSON_ARRAY_END) return CAS_OK;
        if ((rc = cas__jp_term(p, s)) != CAS_OK) return rc;
    }
}

static void cas__jp_store_range(cas__jp *p, const cas_recon_range *g) {
    if (p->fill) p->ranges[p->nranges] = *g;
    p->nranges++;
}

static void cas__jp_store_fetch(cas__jp *p, const char *url, size_t url_len, size_t first) {
    if (p->fill) {
        cas_recon_fetch *f = &p->fetches[p->nfetches];
        f->url = url;
        f->url_len = url_len;
        f->ranges = p->ranges + first;
        f->num_ranges = p->nranges - first;
    }
    p->nfetches++;
}

/* v2 XorbMultiRangeFetch {url, ranges: [{chunks, bytes}]} (p->t is its '{'). */
static int cas__jp_fetch_v2(cas__jp *p) {
    cas_recon_range prev = {0, 0, 0, 0};
    unsigned seen = 0;
    int which, rc;
    const char *url = NULL;
    size_t url_len = 0, first = p->nranges;
    if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, "xorbs{}[]: expected an object")) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_v2_fetch, 2, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which == 0) {
            if ((rc = cas__jp_want(p, CAS_JSON_STRING, cas__jf_v2_fetch[0].type)) != CAS_OK ||
                (rc = cas__jp_text(p, 1, "xorbs{}[].url: empty, not http(s)://, or not visible ASCII",
                                   &url, &url_len)) != CAS_OK)
                return rc;
            continue;
        }
        if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, cas__jf_v2_fetch[1].type)) != CAS_OK) return rc;
        first = p->nranges;
        for (;;) {
            cas_recon_range g;
            uint64_t at, a = 0, b = 0, c = 0, d = 0;
            unsigned seen2 = 0;
            int which2;
            if ((rc = cas__jp_next(p)) < 0) return rc;
            if (p->t.type == CAS_JSON_ARRAY_END) break;
            if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, "xorbs{}[].ranges[]: expected an object")) != CAS_OK)
                return rc;
            at = p->t.offset;
            for (;;) {
                if ((rc = cas__jp_member(p, cas__jf_v2_desc, 2, &seen2, &which2)) != CAS_OK) return rc;
                if (which2 < 0) break;
                rc = which2 == 0 ? cas__jp_range(p, &cas__jf_v2_desc[0], cas__jf_chunks, 0xFFFFFFFFu, &a, &b)
                                 : cas__jp_range(p, &cas__jf_v2_desc[1], cas__jf_bytes, UINT64_MAX, &c, &d);
                if (rc != CAS_OK) return rc;
            }
            g.chunk_start = (uint32_t)a; /* u32 by the field's range check */
            g.chunk_end = (uint32_t)b;
            g.byte_start = c;
            g.byte_end = d;
            if ((rc = cas__jp_check_ranges(p, at, &cas__jr_v2, &g)) != CAS_OK) return rc;
            /* Ascending and apart, in chunks and in bytes: the Range header is built from them
               in this order and the multipart parts are matched against them. */
            if (p->nranges > first && (g.chunk_start < prev.chunk_end || g.byte_start <= prev.byte_end))
                return cas__jp_fail(p, CAS_E_JSON_VALUE, at,
                                    "xorbs{}[].ranges[]: not after the previous range (ascending, not overlapping)");
            prev = g;
            cas__jp_store_range(p, &g);
        }
        if (p->nranges == first)
            return cas__jp_fail(p, CAS_E_JSON_VALUE, p->t.offset, "xorbs{}[].ranges: empty");
    }
    cas__jp_store_fetch(p, url, url_len, first);
    return CAS_OK;
}

/* v1 CASReconstructionFetchInfo {range, url, url_range} (p->t is its '{'): one fetch with one
   range. */
static int cas__jp_fetch_v1(cas__jp *p) {
    cas_recon_range g;
    unsigned seen = 0;
    int which, rc;
    const char *url = NULL;
    size_t url_len = 0;
    uint64_t at, a = 0, b = 0, c = 0, d = 0;
    if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, "fetch_info{}[]: expected an object")) != CAS_OK) return rc;
    at = p->t.offset;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_v1_fetch, 3, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which == 0)
            rc = cas__jp_range(p, &cas__jf_v1_fetch[0], cas__jf_v1_range, 0xFFFFFFFFu, &a, &b);
        else if (which == 2)
            rc = cas__jp_range(p, &cas__jf_v1_fetch[2], cas__jf_v1_url_range, UINT64_MAX, &c, &d);
        else if ((rc = cas__jp_want(p, CAS_JSON_STRING, cas__jf_v1_fetch[1].type)) == CAS_OK)
            rc = cas__jp_text(p, 1, "fetch_info{}[].url: empty, not http(s)://, or not visible ASCII", &url,
                              &url_len);
        if (rc != CAS_OK) return rc;
    }
    g.chunk_start = (uint32_t)a;
    g.chunk_end = (uint32_t)b;
    g.byte_start = c;
    g.byte_end = d;
    if ((rc = cas__jp_check_ranges(p, at, &cas__jr_v1, &g)) != CAS_OK) return rc;
    cas__jp_store_range(p, &g);
    cas__jp_store_fetch(p, url, url_len, p->nranges - 1);
    return CAS_OK;
}

/* "xorbs" / "fetch_info": xorb hash -> [fetch entry] (p->t is its '{'). Duplicate keys are
   found after the filling pass, by sorting. */
static int cas__jp_xorb_map(cas__jp *p, int version) {
    const char *where = version == 2 ? "xorbs: a key is not 64 lower-case hex digits (escapes not allowed)"
                                     : "fetch_info: a key is not 64 lower-case hex digits (escapes not allowed)";
    for (;;) {
        cas_recon_xorb x;
        size_t first = p->nfetches;
        int rc = cas__jp_next(p);
        if (rc < 0) return rc;
        if (p->t.type == CAS_JSON_OBJECT_END) return CAS_OK;
        memset(&x, 0, sizeof x);
        x.priv_offset = p->t.offset;
        if ((rc = cas__jp_hash(p, where, &x.hash)) != CAS_OK) return rc;
        if ((rc = cas__jp_next(p)) < 0) return rc;
        if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, version == 2 ? "xorbs{}: expected an array"
                                                                : "fetch_info{}: expected an array")) != CAS_OK)
            return rc;
        for (;;) {
            if ((rc = cas__jp_next(p)) < 0) return rc;
            if (p->t.type == CAS_JSON_ARRAY_END) break;
            if ((rc = version == 2 ? cas__jp_fetch_v2(p) : cas__jp_fetch_v1(p)) != CAS_OK) return rc;
        }
        if (p->fill) {
            x.fetches = p->fetches + first;
            x.num_fetches = p->nfetches - first;
            p->xorbs[p->nxorbs] = x;
        }
        p->nxorbs++;
    }
}

static int cas__jp_root_object(cas__jp *p) {
    int rc = cas__jp_next(p);
    if (rc < 0) return rc;
    return cas__jp_want(p, CAS_JSON_OBJECT, "the body is not a JSON object");
}

/* After the root object: only whitespace may follow. */
static int cas__jp_root_end(cas__jp *p) {
    int rc = cas_json_next(&p->r, &p->t);
    return rc == CAS_END ? CAS_OK : rc < 0 ? rc : cas__jp_fail(p, CAS_E_JSON_SYNTAX, p->t.offset, "bytes after the JSON value");
}

static int cas__jp_root_recon(cas__jp *p) {
    const cas__jfield *f = p->version == 2 ? cas__jf_recon_v2 : cas__jf_recon_v1;
    unsigned seen = 0;
    int which, rc;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, f, 3, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which == 0) {
            p->offset_at = p->t.offset;
            rc = cas__jp_uint(p, &f[0], UINT64_MAX, &p->offset_into_first_range);
        } else if (which == 1) {
            p->terms_first = p->nterms;
            if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, f[1].type)) == CAS_OK) rc = cas__jp_terms(p, &cas__js_term);
        } else if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, f[2].type)) == CAS_OK) {
            rc = cas__jp_xorb_map(p, p->version);
        }
        if (rc != CAS_OK) return rc;
    }
    return cas__jp_root_end(p);
}

static int cas__jp_root_batch(cas__jp *p) {
    unsigned seen = 0;
    int which, rc;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_batch, 2, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, cas__jf_batch[which].type)) != CAS_OK) return rc;
        if (which == 1) {
            if ((rc = cas__jp_xorb_map(p, 1)) != CAS_OK) return rc;
            continue;
        }
        for (;;) { /* files: file hash -> [term] */
            cas_recon_file fl;
            size_t first = p->nterms;
            if ((rc = cas__jp_next(p)) < 0) return rc;
            if (p->t.type == CAS_JSON_OBJECT_END) break;
            memset(&fl, 0, sizeof fl);
            fl.priv_offset = p->t.offset;
            if ((rc = cas__jp_hash(p, "files: a key is not 64 lower-case hex digits (escapes not allowed)",
                                   &fl.hash)) != CAS_OK)
                return rc;
            if ((rc = cas__jp_next(p)) < 0) return rc;
            if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, "files{}: expected an array")) != CAS_OK ||
                (rc = cas__jp_terms(p, &cas__js_file_term)) != CAS_OK)
                return rc;
            if (p->fill) {
                fl.terms = p->terms + first;
                fl.num_terms = p->nterms - first;
                p->files[p->nfiles] = fl;
            }
            p->nfiles++;
        }
    }
    return cas__jp_root_end(p);
}

static int cas__jp_root_token(cas__jp *p) {
    unsigned seen = 0;
    int which, rc;
    uint64_t v;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_token, 3, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which == 1) {
            if ((rc = cas__jp_uint(p, &cas__jf_token[1], (uint64_t)INT64_MAX, &v)) != CAS_OK) return rc;
            p->exp = (int64_t)v;
            continue;
        }
        if ((rc = cas__jp_want(p, CAS_JSON_STRING, cas__jf_token[which].type)) != CAS_OK) return rc;
        if (p->t.len > p->max_token)
            return cas__jp_fail(p, CAS_E_JSON_LIMIT, p->t.offset,
                                which == 0 ? "accessToken: longer than max_token" : "casUrl: longer than max_token");
        rc = which == 0 ? cas__jp_text(p, 0, "accessToken: empty or not visible ASCII", &p->token, &p->token_len)
                        : cas__jp_text(p, 1, "casUrl: empty, not http(s)://, or not visible ASCII", &p->url,
                                       &p->url_len);
        if (rc != CAS_OK) return rc;
    }
    return cas__jp_root_end(p);
}

/* ---- the driver: body, two passes, one block ---- */

/* The JSON text of a response body: the body itself, or its zstd decompression into a buffer
   that starts at 64 KiB and grows x4 while the decoder reports more output (so a frame's
   declared content size is never trusted for the allocation), never past max_body + 1. */
static int cas__json_body(const cas_allocator *a, const void *body, size_t len, uint64_t max_body,
                          const uint8_t **json, size_t *json_len, uint8_t **owned, size_t *owned_size,
                          cas_error *err) {
    const uint8_t *b = (const uint8_t *)body;
    size_t limit, cap;
    *owned = NULL;
    *owned_size = 0;
    *json = b;
    *json_len = len;
    if (!body && len) return cas__fail(err, CAS_E_ARGUMENT, 0, "no body");
    if (len >= 2 && b[0] == 0x1F && b[1] == 0x8B)
        return cas__fail(err, CAS_E_UNSUPPORTED, 0, "a gzip body: ask for Accept-Encoding: zstd (or none)");
    if (!cas_zstd_is_frame(body, len)) return CAS_OK;
    limit = max_body >= (uint64_t)SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)max_body;
    cap = limit < 65535 ? limit + 1 : 65536;
    for (;;) {
        size_t got = 0;
        uint8_t *buf = (uint8_t *)cas__alloc(a, cap);
        int rc;
        if (!buf) return cas__fail(err, CAS_E_NOMEM, 0, "the zstd-decompressed body");
        rc = cas_zstd_decompress(a, body, len, buf, cap, &got);
        if (rc == CAS_OK && got <= limit) {
            *owned = buf;
            *owned_size = cap;
            *json = buf;
            *json_len = got;
            return CAS_OK;
        }
        cas__free(a, buf, cap);
        if (rc == CAS_OK || (rc == CAS_E_LIMIT && cap > limit))
            return cas__fail(err, CAS_E_JSON_LIMIT, max_body, "the zstd-decompressed body is over max_body");
        if (rc != CAS_E_LIMIT)
            return cas__fail(err, rc, 0, rc == CAS_E_NOMEM ? "zstd decoder state" : "the zstd body is corrupt, truncated or needs a window over 8 MiB");
        cap = cap > limit / 4 ? limit + 1 : cap * 4;
    }
}

/* Runs `root` twice over the text: count, allocate one block, fill. */
static int cas__jp_run(cas__jp *p, const cas_allocator *a, const uint8_t *json, size_t len,
                       const cas_json_desc *opt, int (*root)(cas__jp *), void **block,
                       size_t *block_size) {
    size_t counts[11], sizes[11], offs[11], total = 0, k;
    uint8_t *mem = NULL;
    int rc;
    *block = NULL;
    *block_size = 0;
    p->fill = 0;
    if ((rc = cas_json_reader_init(&p->r, json, len, opt)) != CAS_OK) return rc;
    if (root == cas__jp_root_token && p->max_token > p->r.priv_max_string) p->r.priv_max_string = p->max_token;
    if ((rc = root(p)) != CAS_OK) return rc;
    counts[0] = p->nterms, sizes[0] = sizeof(cas_recon_term);
    counts[1] = p->nxorbs, sizes[1] = sizeof(cas_recon_xorb);
    counts[2] = p->nfetches, sizes[2] = sizeof(cas_recon_fetch);
    counts[3] = p->nranges, sizes[3] = sizeof(cas_recon_range);
    counts[4] = p->nfiles, sizes[4] = sizeof(cas_recon_file);
    counts[5] = p->nchars, sizes[5] = 1;
    counts[6] = p->nwindows, sizes[6] = sizeof(cas_chunk_window);
    counts[7] = p->nsubtrees, sizes[7] = sizeof(cas_subtree);
    counts[8] = p->nnodes, sizes[8] = sizeof(cas_chunk);
    counts[9] = p->nlevels, sizes[9] = 2 * sizeof(uint32_t);
    counts[10] = p->nhashes, sizes[10] = sizeof(cas_hash);
    /* term.xorb/fetch/range are u32 indices */
    if (p->nxorbs > 0xFFFFFFFFu || p->nfetches > 0xFFFFFFFFu || p->nranges > 0xFFFFFFFFu)
        return cas__jp_fail(p, CAS_E_JSON_LIMIT, len, "more than 2^32 xorbs, fetch entries or ranges");
    for (k = 0; k < 11; k++) {
        size_t bytes;
        total = (total + 15) & ~(size_t)15;
        if (total > SIZE_MAX - 16 || (counts[k] && sizes[k] > (SIZE_MAX - 16 - total) / counts[k]))
            return cas__jp_fail(p, CAS_E_NOMEM, 0, "the result does not fit the address space");
        bytes = counts[k] * sizes[k];
        offs[k] = total;
        total += bytes;
    }
    if (total) {
        mem = (uint8_t *)cas__alloc(a, total);
        if (!mem) return cas__jp_fail(p, CAS_E_NOMEM, 0, "the parsed result");
    }
    if (mem) { /* (nothing is stored when the result is empty) */
        p->terms = (cas_recon_term *)(void *)(mem + offs[0]);
        p->xorbs = (cas_recon_xorb *)(void *)(mem + offs[1]);
        p->fetches = (cas_recon_fetch *)(void *)(mem + offs[2]);
        p->ranges = (cas_recon_range *)(void *)(mem + offs[3]);
        p->files = (cas_recon_file *)(void *)(mem + offs[4]);
        p->chars = (char *)(mem + offs[5]);
        p->windows = (cas_chunk_window *)(void *)(mem + offs[6]);
        p->subtrees = (cas_subtree *)(void *)(mem + offs[7]);
        p->nodes = (cas_chunk *)(void *)(mem + offs[8]);
        p->levels = (uint32_t *)(void *)(mem + offs[9]);
        p->hashes = (cas_hash *)(void *)(mem + offs[10]);
    }
    p->nterms = p->nxorbs = p->nfetches = p->nranges = p->nfiles = p->nchars = 0;
    p->nwindows = p->nsubtrees = p->nnodes = p->nlevels = p->nhashes = 0;
    p->fill = 1;
    rc = cas_json_reader_init(&p->r, json, len, opt);
    if (rc == CAS_OK && root == cas__jp_root_token && p->max_token > p->r.priv_max_string)
        p->r.priv_max_string = p->max_token;
    if (rc == CAS_OK) rc = root(p);
    /* the same text and code: the second pass cannot disagree with the first */
    if (rc == CAS_OK && (p->nterms != counts[0] || p->nxorbs != counts[1] || p->nfetches != counts[2] ||
                         p->nranges != counts[3] || p->nfiles != counts[4] || p->nchars != counts[5] ||
                         p->nwindows != counts[6] || p->nsubtrees != counts[7] || p->nnodes != counts[8] ||
                         p->nlevels != counts[9] || p->nhashes != counts[10]))
        rc = cas__jp_fail(p, CAS_E_STATE, 0, "the JSON passes disagree (a bug)");
    if (rc != CAS_OK) {
        cas__free(a, mem, total);
        return rc;
    }
    *block = mem;
    *block_size = total;
    return CAS_OK;
}

/* ---- after the passes: map keys, term coverage ---- */

/* Xorbs and files: by hash, then by position in the text. */
static int cas__jp_less_xorb(const void *ctx, const void *a, const void *b) {
    const cas_recon_xorb *x = (const cas_recon_xorb *)a, *y = (const cas_recon_xorb *)b;
    int c = memcmp(x->hash.bytes, y->hash.bytes, CAS_HASH_SIZE);
    (void)ctx;
    return c < 0 || (c == 0 && x->priv_offset < y->priv_offset);
}
static int cas__jp_less_file(const void *ctx, const void *a, const void *b) {
    const cas_recon_file *x = (const cas_recon_file *)a, *y = (const cas_recon_file *)b;
    int c = memcmp(x->hash.bytes, y->hash.bytes, CAS_HASH_SIZE);
    (void)ctx;
    return c < 0 || (c == 0 && x->priv_offset < y->priv_offset);
}

/* Sorts a map's entries (hash first in each) and refuses a key seen twice, or with
   CAS_JSON_LAST_WINS keeps the entry that came last in the text. *n shrinks accordingly. */
static int cas__jp_unique(cas__jp *p, const cas_allocator *a, void *base, size_t *n, size_t size,
                          size_t offset_at, cas__less_fn less, const char *what) {
    uint8_t *b = (uint8_t *)base;
    size_t i, o = 0;
    if (*n > 1) {
        void *tmp = *n > (size_t)-1 / size ? NULL : cas__alloc(a, *n * size);
        if (!tmp) return cas__jp_fail(p, CAS_E_NOMEM, 0, "sorting room");
        cas__sort(base, tmp, *n, size, less, NULL);
        cas__free(a, tmp, *n * size);
    }
    for (i = 0; i < *n; i++) {
        if (i + 1 < *n && memcmp(b + i * size, b + (i + 1) * size, CAS_HASH_SIZE) == 0) {
            uint64_t at;
            if (p->flags & CAS_JSON_LAST_WINS) continue; /* a later one with this key follows */
            memcpy(&at, b + (i + 1) * size + offset_at, sizeof at);
            return cas__jp_fail(p, CAS_E_JSON_SCHEMA, at, what);
        }
        if (o != i) memmove(b + o * size, b + i * size, size);
        o++;
    }
    *n = o;
    return CAS_OK;
}

typedef struct cas__jcover {
    size_t range; /* index in p->ranges */
    size_t best;  /* among this xorb's ranges up to here (by chunk_start): the one reaching furthest */
} cas__jcover;

/* Orders each xorb's ranges (a contiguous run of p->ranges: its fetch entries were filled one
   after the other) by chunk_start, with the furthest-reaching range so far, so that finding
   a range that contains a term is one binary search: O((R + T) log R) whatever the input.
   *sc: R entries through the allocator (NULL when R = 0). */
static int cas__jp_cover_prepare(cas__jp *p, const cas_allocator *a, const cas_recon_xorb *xorbs,
                                 size_t nx, cas__jcover **sc_out) {
    cas__jcover *sc = NULL;
    size_t x;
    *sc_out = NULL;
    if (p->nranges == 0) return CAS_OK;
    sc = (cas__jcover *)cas__alloc(a, p->nranges * sizeof *sc);
    if (!sc) return cas__jp_fail(p, CAS_E_NOMEM, 0, "term coverage scratch");
    for (x = 0; x < nx; x++) {
        const cas_recon_xorb *xb = &xorbs[x];
        size_t rb, n, k, start, end;
        cas__jcover *s;
        if (xb->num_fetches == 0) continue;
        rb = (size_t)(xb->fetches[0].ranges - p->ranges);
        n = (size_t)(xb->fetches[xb->num_fetches - 1].ranges - p->ranges) + xb->fetches[xb->num_fetches - 1].num_ranges - rb;
        s = sc + rb;
        for (k = 0; k < n; k++) s[k].range = rb + k;
        /* heapsort by chunk_start (no recursion, no allocation) */
        start = n / 2, end = n;
        while (end > 1) {
            size_t root, child;
            cas__jcover tmp;
            if (start > 0) {
                start--;
            } else {
                end--;
                tmp = s[0], s[0] = s[end], s[end] = tmp;
            }
            root = start;
            while ((child = 2 * root + 1) < end) {
                if (child + 1 < end &&
                    p->ranges[s[child].range].chunk_start < p->ranges[s[child + 1].range].chunk_start)
                    child++;
                if (!(p->ranges[s[root].range].chunk_start < p->ranges[s[child].range].chunk_start)) break;
                tmp = s[root], s[root] = s[child], s[child] = tmp;
                root = child;
            }
        }
        for (k = 0; k < n; k++)
            s[k].best = k > 0 && p->ranges[s[k - 1].best].chunk_end > p->ranges[s[k].range].chunk_end
                            ? s[k - 1].best : s[k].range;
    }
    *sc_out = sc;
    return CAS_OK;
}

/* Maps every term to a range of its xorb's fetch entries that contains it (download-
   protocol.md: every term's chunk range falls within one entry's ranges). */
static int cas__jp_cover(cas__jp *p, const cas__jcover *sc, const cas_recon_xorb *xorbs, size_t nx,
                         cas_recon_term *terms, size_t nt, const char *missing, const char *uncovered) {
    size_t i;
    for (i = 0; i < nt; i++) {
        cas_recon_term *t = &terms[i];
        const cas_recon_xorb *xb = cas_recon_find_xorb(xorbs, nx, &t->hash);
        size_t rb, re, lo, hi, best, flo, fhi;
        if (!xb) return cas__jp_fail(p, CAS_E_JSON_VALUE, t->priv_offset, missing);
        if (xb->num_fetches == 0) return cas__jp_fail(p, CAS_E_JSON_VALUE, t->priv_offset, uncovered);
        rb = (size_t)(xb->fetches[0].ranges - p->ranges);
        re = (size_t)(xb->fetches[xb->num_fetches - 1].ranges - p->ranges) + xb->fetches[xb->num_fetches - 1].num_ranges;
        lo = rb, hi = re; /* the first position whose chunk_start is past the term's start */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (p->ranges[sc[mid].range].chunk_start <= t->chunk_start) lo = mid + 1;
            else hi = mid;
        }
        if (lo == rb || p->ranges[sc[lo - 1].best].chunk_end < t->chunk_end)
            return cas__jp_fail(p, CAS_E_JSON_VALUE, t->priv_offset, uncovered);
        best = sc[lo - 1].best;
        flo = 0, fhi = xb->num_fetches; /* the last fetch entry whose ranges start at or before it */
        while (fhi - flo > 1) {
            size_t mid = flo + (fhi - flo) / 2;
            if ((size_t)(xb->fetches[mid].ranges - p->ranges) <= best) flo = mid;
            else fhi = mid;
        }
        t->xorb = (uint32_t)(xb - xorbs);
        t->fetch = (uint32_t)flo;
        t->range = (uint32_t)(best - (size_t)(xb->fetches[flo].ranges - p->ranges));
    }
    return CAS_OK;
}

const cas_recon_xorb *cas_recon_find_xorb(const cas_recon_xorb *xorbs, size_t n, const cas_hash *hash) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(xorbs[mid].hash.bytes, hash->bytes, CAS_HASH_SIZE);
        if (c == 0) return &xorbs[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const cas_recon_file *cas_recon_batch_find_file(const cas_recon_batch *b, const cas_hash *hash) {
    size_t lo = 0, hi = b->num_files;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(b->files[mid].hash.bytes, hash->bytes, CAS_HASH_SIZE);
        if (c == 0) return &b->files[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- public parsers ---- */

static void cas__jp_init(cas__jp *p, const cas_json_desc *opt) {
    memset(p, 0, sizeof *p);
    p->flags = opt ? opt->flags : 0;
    p->max_token = opt && opt->max_token ? opt->max_token : CAS_JSON_MAX_TOKEN;
}

/* Body, passes; on success the text's owned buffer is already freed. */
static int cas__jp_parse(cas__jp *p, const cas_allocator *a, const void *body, size_t len,
                         const cas_json_desc *opt, int (*root)(cas__jp *), void **block,
                         size_t *block_size) {
    const uint8_t *json;
    size_t json_len, owned_size;
    uint8_t *owned;
    int rc = cas__json_body(a, body, len, opt && opt->max_body ? opt->max_body : CAS_JSON_MAX_BODY,
                            &json, &json_len, &owned, &owned_size, &p->r.error);
    if (rc != CAS_OK) return rc;
    rc = cas__jp_run(p, a, json, json_len, opt, root, block, block_size);
    cas__free(a, owned, owned_size);
    return rc;
}

/* The rule both manifest shapes share, after their xorbs are sorted and unique (nx of them):
   every term lies inside one fetch range of its xorb. The term lists are files[0..nf)
   (batch) or, with files NULL, the single response's terms. Messages name the fields of the
   shape being parsed. */
static int cas__jp_link_terms(cas__jp *p, const cas_allocator *a, size_t nx, const cas_recon_file *files,
                              size_t nf, const char *no_xorb, const char *uncovered) {
    cas__jcover *sc = NULL;
    size_t i;
    int rc = cas__jp_cover_prepare(p, a, p->xorbs, nx, &sc);
    if (rc != CAS_OK) return rc;
    if (!files) {
        rc = cas__jp_cover(p, sc, p->xorbs, nx, p->terms ? p->terms + p->terms_first : NULL,
                           p->nterms - p->terms_first, no_xorb, uncovered);
    } else {
        /* the block's terms, so writable: files[].terms only points into it as const */
        for (i = 0; rc == CAS_OK && i < nf; i++)
            rc = cas__jp_cover(p, sc, p->xorbs, nx, p->terms + (files[i].terms - p->terms), files[i].num_terms,
                               no_xorb, uncovered);
    }
    cas__free(a, sc, p->nranges * sizeof *sc);
    return rc;
}

/* A parsed result owns one block (its priv_alloc, priv_block, priv_size): on success the block
   is handed over, on an error found after the parse it is freed. Returns rc. */
static int cas__jp_keep(int rc, const cas_allocator *a, void *block, size_t size, cas_allocator *owner_alloc,
                        void **owner_block, size_t *owner_size) {
    if (rc != CAS_OK) {
        cas__free(a, block, size);
        return rc;
    }
    *owner_alloc = *a;
    *owner_block = block;
    *owner_size = size;
    return rc;
}
/* The end of a parser: the detail to the caller, and the result. */
static int cas__jp_done(const cas__jp *p, int rc, cas_error *err) {
    if (err) *err = p->r.error;
    return rc;
}
/* The one release of such a result: its block, then the whole struct zeroed. */
static void cas__jp_release(const cas_allocator *a, void *block, size_t size, void *result, size_t result_size) {
    if (block) cas__free(a, block, size);
    memset(result, 0, result_size);
}

cas_result cas_recon_parse(const cas_allocator *alloc, const void *body, size_t len, int version,
                           const cas_json_desc *opt, cas_recon *out, cas_error *err) {
    cas__jp p;
    cas_allocator a = cas__allocator_or_default(alloc);
    void *block;
    size_t size, nx;
    int rc;
    memset(out, 0, sizeof *out);
    cas__jp_init(&p, opt);
    if (version != 1 && version != 2) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "version must be 1 or 2"));
    p.version = version;
    rc = cas__jp_parse(&p, &a, body, len, opt, cas__jp_root_recon, &block, &size);
    if (rc == CAS_OK) {
        nx = p.nxorbs;
        rc = cas__jp_unique(&p, &a, p.xorbs, &nx, sizeof *p.xorbs, offsetof(cas_recon_xorb, priv_offset),
                            cas__jp_less_xorb,
                            version == 2 ? "xorbs: the same xorb hash twice" : "fetch_info: the same xorb hash twice");
        if (rc == CAS_OK)
            rc = cas__jp_link_terms(&p, &a, nx, NULL, 0,
                                    version == 2 ? "terms[].hash: not a key of xorbs" : "terms[].hash: not a key of fetch_info",
                                    version == 2 ? "terms[]: no range of its xorb's fetch entries contains its chunks"
                                                 : "terms[]: no fetch_info range of its xorb contains its chunks");
        if (rc == CAS_OK &&
            (p.nterms == p.terms_first ? p.offset_into_first_range != 0
                                       : p.offset_into_first_range >= p.terms[p.terms_first].unpacked_length))
            rc = cas__jp_fail(&p, CAS_E_JSON_VALUE, p.offset_at,
                              "offset_into_first_range: not below the first term's unpacked_length (0 without terms)");
        if (rc == CAS_OK) {
            out->version = version;
            out->offset_into_first_range = p.offset_into_first_range;
            out->terms = p.nterms ? p.terms + p.terms_first : NULL;
            out->num_terms = p.nterms - p.terms_first;
            out->xorbs = nx ? p.xorbs : NULL;
            out->num_xorbs = nx;
            cas__succeed(&p.r.error);
        }
        rc = cas__jp_keep(rc, &a, block, size, &out->priv_alloc, &out->priv_block, &out->priv_size);
    }
    return (cas_result)(cas__jp_done(&p, rc, err));
}

void cas_recon_free(cas_recon *r) {
    cas__jp_release(&r->priv_alloc, r->priv_block, r->priv_size, r, sizeof *r);
}

cas_result cas_recon_batch_parse(const cas_allocator *alloc, const void *body, size_t len,
                                 const cas_json_desc *opt, cas_recon_batch *out, cas_error *err) {
    cas__jp p;
    cas_allocator a = cas__allocator_or_default(alloc);
    void *block;
    size_t size, nx, nf;
    int rc;
    memset(out, 0, sizeof *out);
    cas__jp_init(&p, opt);
    rc = cas__jp_parse(&p, &a, body, len, opt, cas__jp_root_batch, &block, &size);
    if (rc == CAS_OK) {
        nx = p.nxorbs;
        nf = p.nfiles;
        rc = cas__jp_unique(&p, &a, p.xorbs, &nx, sizeof *p.xorbs, offsetof(cas_recon_xorb, priv_offset),
                            cas__jp_less_xorb, "fetch_info: the same xorb hash twice");
        if (rc == CAS_OK)
            rc = cas__jp_unique(&p, &a, p.files, &nf, sizeof *p.files, offsetof(cas_recon_file, priv_offset),
                                cas__jp_less_file, "files: the same file hash twice");
        if (rc == CAS_OK)
            rc = cas__jp_link_terms(&p, &a, nx, p.files, nf, "files{}[].hash: not a key of fetch_info",
                                    "files{}[]: no fetch_info range of its xorb contains its chunks");
        if (rc == CAS_OK) {
            out->num_files = nf;
            out->files = nf ? p.files : NULL;
            out->num_xorbs = nx;
            out->xorbs = nx ? p.xorbs : NULL;
            cas__succeed(&p.r.error);
        }
        rc = cas__jp_keep(rc, &a, block, size, &out->priv_alloc, &out->priv_block, &out->priv_size);
    }
    return (cas_result)(cas__jp_done(&p, rc, err));
}

void cas_recon_batch_free(cas_recon_batch *b) {
    cas__jp_release(&b->priv_alloc, b->priv_block, b->priv_size, b, sizeof *b);
}

cas_result cas_xet_token_parse(const cas_allocator *alloc, const void *body, size_t len,
                               const cas_json_desc *opt, cas_xet_token *out, cas_error *err) {
    cas__jp p;
    cas_allocator a = cas__allocator_or_default(alloc);
    void *block;
    size_t size;
    int rc;
    memset(out, 0, sizeof *out);
    cas__jp_init(&p, opt);
    rc = cas__jp_parse(&p, &a, body, len, opt, cas__jp_root_token, &block, &size);
    if (rc == CAS_OK) {
        out->access_token = p.token;
        out->access_token_len = p.token_len;
        out->exp = p.exp;
        out->cas_url = p.url;
        out->cas_url_len = p.url_len;
        rc = cas__jp_keep(rc, &a, block, size, &out->priv_alloc, &out->priv_block, &out->priv_size);
    }
    if (err) *err = p.r.error;
    return (cas_result)(rc);
}

void cas_xet_token_free(cas_xet_token *t) {
    cas__jp_release(&t->priv_alloc, t->priv_block, t->priv_size, t, sizeof *t);
}

/* ---- upload responses ---- */

static const cas__jfield cas__jf_xorb_upload[1] = {CAS__JF("was_inserted", "was_inserted", "true or false")};
static const cas__jfield cas__jf_shard_upload[1] = {CAS__JF_U64("result", "result")};
/* the members each event type needs ("type" first; all required) */
static const cas__jfield cas__jf_ev_other[1] = {CAS__JF("type", "type", "a string")};
static const cas__jfield cas__jf_ev_validating[3] = {CAS__JF("type", "type", "a string"),
                                                     CAS__JF_U64("verified", "verified"),
                                                     CAS__JF_U64("total", "total")};
static const cas__jfield cas__jf_ev_committing[2] = {CAS__JF("type", "type", "a string"),
                                                     CAS__JF("stage", "stage", "a string")};
static const cas__jfield cas__jf_ev_result[2] = {CAS__JF("type", "type", "a string"),
                                                 CAS__JF_U64("result", "result")};
static const cas__jfield cas__jf_ev_error[2] = {CAS__JF("type", "type", "a string"),
                                                CAS__JF("message", "message", "a string")};

/* The parser state of these small responses: cas__jp first, so the drivers take it as is. */
typedef struct cas__jpu {
    cas__jp p;
    int flag; /* was_inserted, or the result value */
    cas_shard_event ev;
} cas__jpu;

static int cas__jp_root_xorb_upload(cas__jp *p) {
    cas__jpu *u = (cas__jpu *)(void *)p;
    unsigned seen = 0;
    int which, rc;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_xorb_upload, 1, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (p->t.type != CAS_JSON_TRUE && p->t.type != CAS_JSON_FALSE)
            return cas__jp_fail(p, CAS_E_JSON_SCHEMA, p->t.offset, cas__jf_xorb_upload[0].type);
        u->flag = p->t.type == CAS_JSON_TRUE;
    }
    return cas__jp_root_end(p);
}

/* A "result" value: 0 or 1. */
static int cas__jp_result01(cas__jp *p, const cas__jfield *f, int *out) {
    uint64_t v;
    uint64_t at = p->t.offset;
    int rc = cas__jp_uint(p, f, UINT64_MAX, &v);
    if (rc != CAS_OK) return rc;
    if (v > 1) return cas__jp_fail(p, CAS_E_JSON_VALUE, at, "result: not 0 (existed) or 1 (registered)");
    *out = (int)v;
    return CAS_OK;
}

static int cas__jp_root_shard_upload(cas__jp *p) {
    cas__jpu *u = (cas__jpu *)(void *)p;
    unsigned seen = 0;
    int which, rc;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_shard_upload, 1, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if ((rc = cas__jp_result01(p, &cas__jf_shard_upload[0], &u->flag)) != CAS_OK) return rc;
    }
    return cas__jp_root_end(p);
}

/* First a look at the whole line for "type" alone (it may come after the fields it
   governs), then the reader is rewound for the real pass. */
static int cas__jp_event_type(cas__jp *p, int *type) {
    static const char *names[4] = {"validating", "committing", "result", "error"};
    cas_json_reader start = p->r;
    unsigned seen = 0;
    int which, rc, k;
    *type = CAS_SHARD_EVENT_OTHER;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_ev_other, 1, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if ((rc = cas__jp_want(p, CAS_JSON_STRING, cas__jf_ev_other[0].type)) != CAS_OK) return rc;
        for (k = 0; k < 4; k++)
            if (cas_json_equals(&p->t, names[k])) *type = CAS_SHARD_EVENT_VALIDATING + k;
    }
    if ((rc = cas__jp_root_end(p)) != CAS_OK) return rc;
    p->r = start;
    return CAS_OK;
}

static int cas__jp_root_event(cas__jp *p) {
    cas__jpu *u = (cas__jpu *)(void *)p;
    cas_shard_event *ev = &u->ev;
    const cas__jfield *f = cas__jf_ev_other;
    unsigned seen = 0;
    int which, rc, nf = 1;
    memset(ev, 0, sizeof *ev);
    if ((rc = cas__jp_event_type(p, &ev->type)) != CAS_OK) return rc;
    switch (ev->type) {
    case CAS_SHARD_EVENT_VALIDATING: f = cas__jf_ev_validating, nf = 3; break;
    case CAS_SHARD_EVENT_COMMITTING: f = cas__jf_ev_committing, nf = 2; break;
    case CAS_SHARD_EVENT_RESULT: f = cas__jf_ev_result, nf = 2; break;
    case CAS_SHARD_EVENT_ERROR: f = cas__jf_ev_error, nf = 2; break;
    default: break;
    }
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, f, nf, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which == 0) continue; /* "type": checked above */
        if (f == cas__jf_ev_validating) {
            rc = cas__jp_uint(p, &f[which], UINT64_MAX, which == 1 ? &ev->verified : &ev->total);
        } else if (f == cas__jf_ev_result) {
            rc = cas__jp_result01(p, &f[1], &ev->result);
        } else if ((rc = cas__jp_want(p, CAS_JSON_STRING, f[1].type)) != CAS_OK) {
            return rc;
        } else if (f == cas__jf_ev_committing) {
            ev->stage = cas_json_equals(&p->t, "uploading") ? CAS_SHARD_STAGE_UPLOADING
                        : cas_json_equals(&p->t, "syncing") ? CAS_SHARD_STAGE_SYNCING
                                                             : CAS_SHARD_STAGE_OTHER;
        } else { /* the error message, decoded */
            if (p->fill) {
                char *d = p->chars + p->nchars;
                cas__json_unescape(p->t.raw, p->t.raw_len, d);
                d[p->t.len] = 0;
                ev->message = d;
            }
            ev->message_len = p->t.len;
            p->nchars += p->t.len + 1;
        }
        if (rc != CAS_OK) return rc;
    }
    return cas__jp_root_end(p);
}

/* The two scalar responses: no result block (nothing is counted, so nothing is allocated). */
static int cas__jp_flag(const cas_allocator *alloc, const void *body, size_t len, const cas_json_desc *opt,
                        int (*root)(cas__jp *), int *out, cas_error *err) {
    cas__jpu u;
    cas_allocator a = cas__allocator_or_default(alloc);
    void *block = NULL;
    size_t size = 0;
    int rc;
    *out = 0;
    memset(&u, 0, sizeof u);
    cas__jp_init(&u.p, opt);
    rc = cas__jp_parse(&u.p, &a, body, len, opt, root, &block, &size);
    if (block) cas__free(&a, block, size); /* (never: nothing is counted) */
    if (rc == CAS_OK) *out = u.flag;
    if (err) *err = u.p.r.error;
    return rc;
}

cas_result cas_xorb_upload_parse(const cas_allocator *alloc, const void *body, size_t len,
                                 const cas_json_desc *opt, int *was_inserted, cas_error *err) {
    return (cas_result)(cas__jp_flag(alloc, body, len, opt, cas__jp_root_xorb_upload, was_inserted, err));
}

cas_result cas_shard_upload_parse(const cas_allocator *alloc, const void *body, size_t len,
                                  const cas_json_desc *opt, int *result, cas_error *err) {
    return (cas_result)(cas__jp_flag(alloc, body, len, opt, cas__jp_root_shard_upload, result, err));
}

cas_result cas_shard_event_parse(const cas_allocator *alloc, const void *line, size_t len,
                                 const cas_json_desc *opt, cas_shard_event *out, cas_error *err) {
    cas__jpu u;
    cas_allocator a = cas__allocator_or_default(alloc);
    void *block;
    size_t size;
    int rc;
    memset(out, 0, sizeof *out);
    memset(&u, 0, sizeof u);
    cas__jp_init(&u.p, opt);
    rc = cas__jp_parse(&u.p, &a, line, len, opt, cas__jp_root_event, &block, &size);
    if (rc == CAS_OK) {
        *out = u.ev;
        rc = cas__jp_keep(rc, &a, block, size, &out->priv_alloc, &out->priv_block, &out->priv_size);
    }
    if (err) *err = u.p.r.error;
    return (cas_result)(rc);
}

void cas_shard_event_free(cas_shard_event *ev) {
    cas__jp_release(&ev->priv_alloc, ev->priv_block, ev->priv_size, ev, sizeof *ev);
}

/* ---- FileChunkHashesResponse (GET /v2/file-chunk-hashes/{file}) ---- */

static const cas__jfield cas__jf_fch[5] = {
    CAS__JF_U64("totalChunks", "totalChunks"), CAS__JF_U64("fileSize", "fileSize"),
    CAS__JF("windows", "windows", "an array"), CAS__JF("hashRanges", "hashRanges", "an array"),
    CAS__JF("gapVerification", "gapVerification", "an array")};
static const cas__jfield cas__jf_fch_window[1] = {
    CAS__JF("dirtyByteRange", "windows[].dirtyByteRange", "an array of two integers")};
static const cas__jfield cas__jf_subtree[4] = {
    CAS__JF("nodes", "hashRanges[].nodes", "an array"), CAS__JF("levels", "hashRanges[].levels", "an array"),
    CAS__JF("at_start", "hashRanges[].at_start", "true or false"),
    CAS__JF("at_end", "hashRanges[].at_end", "true or false")};
static const cas__jfield cas__jf_subtree_node[2] = {
    CAS__JF("hash", "hashRanges[].nodes[].hash", "a string"),
    CAS__JF_U64("size", "hashRanges[].nodes[].size")};

/* [a, b]: exactly two integers <= max. p->t is the value. */
static int cas__jp_pair(cas__jp *p, const cas__jfield *f, uint64_t max, uint64_t *a, uint64_t *b) {
    int rc, k;
    if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, f->type)) != CAS_OK) return rc;
    for (k = 0; k < 2; k++) {
        if ((rc = cas__jp_next(p)) != CAS_OK) return rc;
        if ((rc = cas__jp_want(p, CAS_JSON_NUMBER, f->type)) != CAS_OK ||
            (rc = cas__jp_uint(p, f, max, k ? b : a)) != CAS_OK)
            return rc;
    }
    if ((rc = cas__jp_next(p)) != CAS_OK) return rc;
    return cas__jp_want(p, CAS_JSON_ARRAY_END, f->type);
}

static int cas__jp_bool(cas__jp *p, const cas__jfield *f, int *v) {
    if (p->t.type != CAS_JSON_TRUE && p->t.type != CAS_JSON_FALSE)
        return cas__jp_fail(p, CAS_E_JSON_SCHEMA, p->t.offset, f->type);
    *v = p->t.type == CAS_JSON_TRUE;
    return CAS_OK;
}

/* One MerkleHashSubtree object, or null (an empty gap). p->t is the value. */
static int cas__jp_subtree(cas__jp *p) {
    cas_subtree st;
    unsigned seen = 0;
    uint64_t at = p->t.offset, sum = 0, level_nodes = 0;
    size_t first_node = p->nnodes, first_level = p->nlevels;
    int which, rc;
    memset(&st, 0, sizeof st);
    if (p->t.type != CAS_JSON_NULL) {
        if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, "hashRanges[]: expected an object or null")) != CAS_OK) return rc;
        for (;;) {
            if ((rc = cas__jp_member(p, cas__jf_subtree, 4, &seen, &which)) != CAS_OK) return rc;
            if (which < 0) break;
            if (which >= 2) {
                if ((rc = cas__jp_bool(p, &cas__jf_subtree[which], which == 2 ? &st.at_start : &st.at_end)) != CAS_OK)
                    return rc;
                continue;
            }
            if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, cas__jf_subtree[which].type)) != CAS_OK) return rc;
            for (;;) { /* the nodes, or the levels */
                if ((rc = cas__jp_next(p)) != CAS_OK) return rc;
                if (p->t.type == CAS_JSON_ARRAY_END) break;
                if (which == 1) {
                    uint64_t l, r;
                    if (p->nlevels - first_level == CAS_SUBTREE_MAX_LEVELS)
                        return cas__jp_fail(p, CAS_E_JSON_LIMIT, p->t.offset, "hashRanges[].levels: more than CAS_SUBTREE_MAX_LEVELS levels");
                    if ((rc = cas__jp_pair(p, &cas__jf_subtree[1], CAS_SUBTREE_MAX_NODES, &l, &r)) != CAS_OK) return rc;
                    if (p->fill) p->levels[2 * p->nlevels] = (uint32_t)l, p->levels[2 * p->nlevels + 1] = (uint32_t)r;
                    p->nlevels++;
                    level_nodes += l + r;
                } else {
                    unsigned nseen = 0;
                    cas_chunk node;
                    memset(&node, 0, sizeof node);
                    if (p->nnodes - first_node == CAS_SUBTREE_MAX_NODES)
                        return cas__jp_fail(p, CAS_E_JSON_LIMIT, p->t.offset, "hashRanges[].nodes: more than CAS_SUBTREE_MAX_NODES nodes");
                    if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, "hashRanges[].nodes[]: expected an object")) != CAS_OK) return rc;
                    for (;;) {
                        int w;
                        if ((rc = cas__jp_member(p, cas__jf_subtree_node, 2, &nseen, &w)) != CAS_OK) return rc;
                        if (w < 0) break;
                        if (w == 1) rc = cas__jp_uint(p, &cas__jf_subtree_node[1], UINT64_MAX, &node.size);
                        else if ((rc = cas__jp_want(p, CAS_JSON_STRING, cas__jf_subtree_node[0].type)) == CAS_OK)
                            rc = cas__jp_hash(p, "hashRanges[].nodes[].hash: not 64 lower-case hex digits", &node.hash);
                        if (rc != CAS_OK) return rc;
                    }
                    if (node.size == 0)
                        return cas__jp_fail(p, CAS_E_JSON_VALUE, p->t.offset, "hashRanges[].nodes[].size: 0 (a node covers at least one chunk)");
                    if (node.size > UINT64_MAX - sum)
                        return cas__jp_fail(p, CAS_E_JSON_VALUE, p->t.offset, "hashRanges[].nodes[].size: the sizes add up past 2^64");
                    sum += node.size;
                    if (p->fill) p->nodes[p->nnodes] = node;
                    p->nnodes++;
                }
            }
        }
        if (level_nodes != p->nnodes - first_node)
            return cas__jp_fail(p, CAS_E_JSON_VALUE, at, "hashRanges[]: the levels do not add up to the number of nodes");
    }
    if (p->fill) {
        st.nodes = p->nnodes > first_node ? p->nodes + first_node : NULL;
        st.num_nodes = p->nnodes - first_node;
        st.levels = p->nlevels > first_level ? p->levels + 2 * first_level : NULL;
        st.num_levels = p->nlevels - first_level;
        p->subtrees[p->nsubtrees] = st;
    }
    p->nsubtrees++;
    return CAS_OK;
}

static int cas__jp_root_fch(cas__jp *p) {
    unsigned seen = 0;
    int which, rc;
    if ((rc = cas__jp_root_object(p)) != CAS_OK) return rc;
    for (;;) {
        if ((rc = cas__jp_member(p, cas__jf_fch, 5, &seen, &which)) != CAS_OK) return rc;
        if (which < 0) break;
        if (which < 2) {
            if ((rc = cas__jp_uint(p, &cas__jf_fch[which], UINT64_MAX, which ? &p->file_size : &p->total_chunks)) != CAS_OK)
                return rc;
            continue;
        }
        if ((rc = cas__jp_want(p, CAS_JSON_ARRAY, cas__jf_fch[which].type)) != CAS_OK) return rc;
        if (which == 2) p->windows_at = p->t.offset;
        if (which == 3) p->gaps_at = p->t.offset;
        for (;;) {
            if ((rc = cas__jp_next(p)) != CAS_OK) return rc;
            if (p->t.type == CAS_JSON_ARRAY_END) break;
            if (which == 2) {
                unsigned wseen = 0;
                int w;
                cas_chunk_window win;
                memset(&win, 0, sizeof win);
                if ((rc = cas__jp_want(p, CAS_JSON_OBJECT, "windows[]: expected an object")) != CAS_OK) return rc;
                for (;;) {
                    if ((rc = cas__jp_member(p, cas__jf_fch_window, 1, &wseen, &w)) != CAS_OK) return rc;
                    if (w < 0) break;
                    if ((rc = cas__jp_pair(p, &cas__jf_fch_window[0], UINT64_MAX, &win.start, &win.end)) != CAS_OK)
                        return rc;
                }
                if (p->fill) p->windows[p->nwindows] = win;
                p->nwindows++;
            } else if (which == 3) {
                if ((rc = cas__jp_subtree(p)) != CAS_OK) return rc;
            } else {
                cas_hash h;
                if ((rc = cas__jp_want(p, CAS_JSON_STRING, "gapVerification[]: expected a string")) != CAS_OK ||
                    (rc = cas__jp_hash(p, "gapVerification[]: not 64 lower-case hex digits", &h)) != CAS_OK)
                    return rc;
                if (p->fill) p->hashes[p->nhashes] = h;
                p->nhashes++;
            }
        }
    }
    return cas__jp_root_end(p);
}

cas_result cas_file_chunk_hashes_parse(const cas_allocator *alloc, const void *body, size_t len,
                                       const cas_json_desc *opt, cas_file_chunk_hashes *out, cas_error *err) {
    cas__jp p;
    cas_allocator a = cas__allocator_or_default(alloc);
    void *block = NULL;
    size_t size = 0, i;
    int rc;
    memset(out, 0, sizeof *out);
    cas__jp_init(&p, opt);
    rc = cas__jp_parse(&p, &a, body, len, opt, cas__jp_root_fch, &block, &size);
    /* the shape the windows and gaps must have (values the second pass stored) */
    if (rc == CAS_OK && p.nwindows == 0)
        rc = cas__jp_fail(&p, CAS_E_JSON_VALUE, p.windows_at, "windows: empty (a response covers at least one window)");
    for (i = 0; rc == CAS_OK && i < p.nwindows; i++) {
        const cas_chunk_window *w = &p.windows[i];
        if (w->start >= w->end || w->end > p.file_size || (i && w->start < p.windows[i - 1].end))
            rc = cas__jp_fail(&p, CAS_E_JSON_VALUE, p.windows_at,
                              "windows[].dirtyByteRange: empty, past fileSize, or not after the window before");
    }
    if (rc == CAS_OK && p.nsubtrees != p.nwindows + 1)
        rc = cas__jp_fail(&p, CAS_E_JSON_VALUE, p.gaps_at, "hashRanges: not one more entry than windows");
    if (rc == CAS_OK) {
        out->total_chunks = p.total_chunks;
        out->file_size = p.file_size;
        out->windows = p.windows;
        out->num_windows = p.nwindows;
        out->gaps = p.subtrees;
        out->gap_verification = p.hashes;
        out->num_gap_verification = p.nhashes;
    }
    rc = cas__jp_keep(rc, &a, block, size, &out->priv_alloc, &out->priv_block, &out->priv_size);
    if (err) *err = p.r.error;
    return (cas_result)(rc);
}

void cas_file_chunk_hashes_free(cas_file_chunk_hashes *r) {
    cas__jp_release(&r->priv_alloc, r->priv_block, r->priv_size, r, sizeof *r);
}

#undef CAS__JF
#undef CAS__JF_INT
#undef CAS__JF_U32
#undef CAS__JF_U64

/* ==== >>formats: multipart/byteranges ==================================================== */

/* Reader states. */
enum {
    CAS__MP_UNINIT = 0, /* zero-filled: init not called */
    CAS__MP_PREAMBLE,   /* looking for the first delimiter */
    CAS__MP_AFTER,      /* after a boundary: transport padding then CRLF, or "--" */
    CAS__MP_HEAD,       /* a part's header block */
    CAS__MP_BODY,       /* a part's bytes (handed out in bulk by cas_multipart_push) */
    CAS__MP_DELIM,      /* the delimiter that must follow the body */
    CAS__MP_SEARCH,     /* it did not: looking for where the body really ended */
    CAS__MP_END         /* the close was read; the epilogue is ignored */
};
/* Sub-states of CAS__MP_AFTER and CAS__MP_HEAD. */
enum {
    CAS__MP_PAD,      /* padding; CR or '-' next */
    CAS__MP_PAD_CR,   /* CR read, LF next */
    CAS__MP_DASH,     /* '-' read, '-' next */
    CAS__MP_LINE,     /* at the start of a header line */
    CAS__MP_NAME,     /* in a header name */
    CAS__MP_VALUE,    /* in a header value */
    CAS__MP_VALUE_CR, /* CR after a value, LF next */
    CAS__MP_BLANK_CR  /* CR of the empty line, LF next */
};
/* How far past the expected end of a body the reader looks for the real delimiter. */
enum { CAS__MP_SEARCH_WINDOW = 65536 };

#define CAS__MP_NONE UINT64_MAX

/* ---- the error detail: built in m->error.what (no stdio in the library); only while
   there is no error yet, as every call returns a sticky error before doing anything ---- */

static size_t cas__mp_put(cas_multipart *m, size_t n, const char *s, size_t len) {
    for (; len && n + 1 < sizeof m->error.what; len--) m->error.what[n++] = *s++;
    m->error.what[n] = 0;
    return n;
}
static size_t cas__mp_puts(cas_multipart *m, size_t n, const char *s) {
    return cas__mp_put(m, n, s, strlen(s));
}
static size_t cas__mp_putu(cas_multipart *m, size_t n, uint64_t v) {
    char b[20];
    return cas__mp_put(m, n, b, cas__write_u64(b, v));
}
/* "part N: " (N 0-based, as in the events) */
static size_t cas__mp_put_part(cas_multipart *m) {
    return cas__mp_puts(m, cas__mp_putu(m, cas__mp_puts(m, 0, "part "), m->priv_part - 1), ": ");
}
/* "part N: Content-Range F-L/T has C bytes" */
static size_t cas__mp_put_range(cas_multipart *m) {
    size_t n = cas__mp_puts(m, cas__mp_put_part(m), "Content-Range ");
    n = cas__mp_puts(m, cas__mp_putu(m, n, m->priv_first), "-");
    n = cas__mp_puts(m, cas__mp_putu(m, n, m->priv_last), "/");
    n = m->priv_total == UINT64_MAX ? cas__mp_puts(m, n, "*") : cas__mp_putu(m, n, m->priv_total);
    n = cas__mp_putu(m, cas__mp_puts(m, n, " has "), m->priv_last - m->priv_first + 1);
    return cas__mp_puts(m, n, " bytes");
}
static int cas__mp_fail(cas_multipart *m, int code, uint64_t offset, const char *what) {
    return cas__fail(&m->error, code, offset, what);
}
/* The detail is m->error.what (already written). */
static int cas__mp_fail_what(cas_multipart *m, int code, uint64_t offset) {
    m->error.code = (cas_result)code;
    m->error.offset = offset;
    return code;
}
/* "part N: <what>" */
static int cas__mp_fail_part(cas_multipart *m, int code, uint64_t offset, const char *what) {
    cas__mp_puts(m, cas__mp_put_part(m), what);
    return cas__mp_fail_what(m, code, offset);
}
/* A delimiter-line problem: "first delimiter: ..." or "delimiter after part N: ..." */
static int cas__mp_fail_delim(cas_multipart *m, uint64_t offset, const char *what) {
    size_t n = 0;
    if (m->priv_part == 0) {
        n = cas__mp_puts(m, n, "first delimiter: ");
    } else {
        n = cas__mp_puts(m, n, "delimiter after part ");
        n = cas__mp_puts(m, cas__mp_putu(m, n, m->priv_part - 1), ": ");
    }
    cas__mp_puts(m, n, what);
    return cas__mp_fail_what(m, CAS_E_MULTIPART, offset);
}

/* ---- characters ---- */

static int cas__mp_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
/* RFC 7230 tchar */
static int cas__mp_tchar(int c) {
    return c > 32 && c < 127 && !strchr("\"(),/:;<=>?@[\\]{}", c);
}
/* RFC 2046 bchars (the space may not be last: checked by the caller) */
static int cas__mp_bchar(int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("'()+_,-./:=? ", c));
}
static int cas__mp_ows(int c) { return c == ' ' || c == '\t'; }
/* s[0..n) equals the lower-case literal `lit`, ignoring case */
static int cas__mp_ieq(const char *s, size_t n, const char *lit) {
    size_t i;
    if (n != strlen(lit)) return 0;
    for (i = 0; i < n; i++)
        if (cas__mp_lower((unsigned char)s[i]) != lit[i]) return 0;
    return 1;
}

/* ---- Content-Type ---- */

/* A token from s[*i]: returns its length (0 if none). */
static size_t cas__mp_token(const char *s, size_t n, size_t *i) {
    size_t b = *i;
    while (*i < n && cas__mp_tchar((unsigned char)s[*i])) (*i)++;
    return *i - b;
}

/* Sets the boundary: checks RFC 2046's rules, builds the delimiter CRLF "--" boundary. */
static int cas__mp_boundary(cas_multipart *m, const char *b, size_t len, uint64_t at) {
    size_t k;
    if (len == 0) return cas__mp_fail(m, CAS_E_MULTIPART, at, "Content-Type: the boundary is empty");
    if (len > CAS_MULTIPART_MAX_BOUNDARY)
        return cas__mp_fail(m, CAS_E_MULTIPART, at,
                            "Content-Type: the boundary is over 70 characters (RFC 2046)");
    for (k = 0; k < len; k++)
        if (!cas__mp_bchar((unsigned char)b[k]))
            return cas__mp_fail(m, CAS_E_MULTIPART, at + k,
                                "Content-Type: the boundary has a character outside RFC 2046 "
                                "bchars");
    if (b[len - 1] == ' ')
        return cas__mp_fail(m, CAS_E_MULTIPART, at + len - 1,
                            "Content-Type: the boundary ends in a space (RFC 2046)");
    memcpy(m->priv_delim, "\r\n--", 4);
    memcpy(m->priv_delim + 4, b, len);
    m->priv_dlen = (uint32_t)(4 + len);
    return CAS_OK;
}

/* `type/subtype *( OWS ";" OWS [ name OWS "=" OWS ( token / quoted-string ) ] ) OWS` */
static int cas__mp_content_type(cas_multipart *m, const char *s, size_t n) {
    size_t i = 0, t0, tn, s0, sn;
    int seen = 0;
    while (i < n && cas__mp_ows((unsigned char)s[i])) i++;
    t0 = i;
    tn = cas__mp_token(s, n, &i);
    if (i >= n || s[i] != '/')
        return cas__mp_fail(m, CAS_E_MULTIPART, i, "Content-Type: not a media type (type/subtype)");
    i++;
    s0 = i;
    sn = cas__mp_token(s, n, &i);
    if (!cas__mp_ieq(s + t0, tn, "multipart") || !cas__mp_ieq(s + s0, sn, "byteranges"))
        return cas__mp_fail(m, CAS_E_MULTIPART, t0,
                            "Content-Type: the media type is not multipart/byteranges");
    for (;;) {
        size_t n0, nn, v0;
        char val[CAS_MULTIPART_MAX_BOUNDARY + 1];
        size_t vn = 0;
        int is_b;
        while (i < n && cas__mp_ows((unsigned char)s[i])) i++;
        if (i == n) break;
        if (s[i] != ';')
            return cas__mp_fail(m, CAS_E_MULTIPART, i,
                                "Content-Type: a byte other than ';' after the media type or a "
                                "parameter");
        i++;
        while (i < n && cas__mp_ows((unsigned char)s[i])) i++;
        if (i == n || s[i] == ';') continue; /* an empty parameter */
        n0 = i;
        nn = cas__mp_token(s, n, &i);
        if (nn == 0)
            return cas__mp_fail(m, CAS_E_MULTIPART, i, "Content-Type: a parameter has no name");
        is_b = cas__mp_ieq(s + n0, nn, "boundary");
        while (i < n && cas__mp_ows((unsigned char)s[i])) i++;
        if (i == n || s[i] != '=')
            return cas__mp_fail(m, CAS_E_MULTIPART, i, "Content-Type: a parameter has no '='");
        i++;
        while (i < n && cas__mp_ows((unsigned char)s[i])) i++;
        v0 = i;
        if (i < n && s[i] == '"') {
            /* quoted-string: qdtext / "\" (HTAB / SP / VCHAR / obs-text) */
            for (i++;; i++) {
                unsigned char c;
                if (i == n)
                    return cas__mp_fail(m, CAS_E_MULTIPART, i,
                                        "Content-Type: a quoted-string has no closing quote");
                c = (unsigned char)s[i];
                if (c == '"') break;
                if (c == '\\') {
                    if (++i == n)
                        return cas__mp_fail(m, CAS_E_MULTIPART, i,
                                            "Content-Type: a quoted-string has no closing quote");
                    c = (unsigned char)s[i];
                }
                if ((c < 32 && c != '\t') || c == 127)
                    return cas__mp_fail(m, CAS_E_MULTIPART, i,
                                        "Content-Type: a control character in a quoted-string");
                if (is_b && vn <= CAS_MULTIPART_MAX_BOUNDARY) val[vn++] = (char)c;
            }
            i++;
        } else {
            size_t len = cas__mp_token(s, n, &i);
            if (len == 0)
                return cas__mp_fail(m, CAS_E_MULTIPART, i, "Content-Type: a parameter has no value");
            if (is_b) {
                vn = len > CAS_MULTIPART_MAX_BOUNDARY ? CAS_MULTIPART_MAX_BOUNDARY + 1 : len;
                memcpy(val, s + v0, vn);
            }
        }
        if (is_b) {
            int rc;
            if (seen)
                return cas__mp_fail(m, CAS_E_MULTIPART, n0, "Content-Type: the boundary is given twice");
            seen = 1;
            rc = cas__mp_boundary(m, val, vn, v0 + (s[v0] == '"'));
            if (rc) return rc;
        }
    }
    if (!seen) return cas__mp_fail(m, CAS_E_MULTIPART, n, "Content-Type: no boundary parameter");
    return CAS_OK;
}

cas_result cas_multipart_init(cas_multipart *m, const char *content_type, size_t content_type_len,
                              uint32_t max_parts, cas_error *err) {
    int rc;
    if (!m) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "no cas_multipart"));
    memset(m, 0, sizeof *m);
    cas__succeed(&m->error);
    if (!content_type) {
        rc = cas__mp_fail(m, CAS_E_ARGUMENT, 0, "no Content-Type");
    } else {
        rc = cas__mp_content_type(m, content_type, content_type_len);
    }
    if (rc == CAS_OK) {
        m->priv_state = CAS__MP_PREAMBLE;
        m->priv_match = 2; /* as if a CRLF came first: the first delimiter may open the body */
        m->priv_max_parts = max_parts;
        m->priv_found = CAS__MP_NONE;
    }
    if (err) *err = m->error;
    return (cas_result)(rc);
}

/* ---- the body ---- */

/* Runs the delimiter automaton over p[0..n) (at stream offset `at`) and notes the start of
   the first full match in priv_found; only for the error message of a body of the wrong
   length. The delimiter's only CR is its first byte, so after a mismatch the automaton
   restarts at 1 (on a CR) or 0, and from 0 memchr finds the next candidate. */
static void cas__mp_scan(cas_multipart *m, const uint8_t *p, size_t n, uint64_t at) {
    uint32_t s = m->priv_scan;
    size_t i = 0;
    if (m->priv_found != CAS__MP_NONE) return;
    while (i < n) {
        uint8_t c;
        if (s == 0) {
            const uint8_t *cr = (const uint8_t *)memchr(p + i, '\r', n - i);
            if (!cr) break;
            i = (size_t)(cr - p) + 1;
            s = 1;
            continue;
        }
        c = p[i++];
        if (c == m->priv_delim[s]) {
            if (++s == m->priv_dlen) {
                m->priv_found = at + i - s;
                s = 0;
                break;
            }
        } else {
            s = c == '\r';
        }
    }
    m->priv_scan = s;
}

/* In CAS__MP_SEARCH after the byte at `at`: fails once the real end of the body is known,
   or the search window is exhausted. */
static int cas__mp_search(cas_multipart *m, uint64_t at) {
    uint64_t expect = m->priv_body_start + (m->priv_last - m->priv_first + 1);
    size_t n;
    if (m->priv_found != CAS__MP_NONE) {
        n = cas__mp_puts(m, cas__mp_put_range(m), " but the part body has ");
        cas__mp_putu(m, n, m->priv_found - m->priv_body_start);
        return cas__mp_fail_what(m, CAS_E_MULTIPART, expect);
    }
    if (at + 1 - expect >= CAS__MP_SEARCH_WINDOW) {
        cas__mp_puts(m, cas__mp_put_range(m),
                     " but no delimiter follows them (nor any in the next 65536 bytes)");
        return cas__mp_fail_what(m, CAS_E_MULTIPART, expect);
    }
    return 0;
}

/* The Content-Range value in priv_cr: `bytes <first>-<last>/<total|*>`. */
static int cas__mp_range_fail(cas_multipart *m, const char *what) {
    size_t n = cas__mp_puts(m, cas__mp_put_part(m), "Content-Range \"");
    n = cas__mp_put(m, n, m->priv_cr, m->priv_cr_len);
    cas__mp_puts(m, cas__mp_puts(m, n, "\" "), what);
    return cas__mp_fail_what(m, CAS_E_MULTIPART, m->priv_cr_at);
}
/* 1 to 20 digits at s[*i] into *v: 0, or 1 (none), 2 (too long or over UINT64_MAX) */
static int cas__mp_u64(const char *s, size_t n, size_t *i, uint64_t *v) {
    size_t b = *i;
    *v = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (*i - b >= 20 || *v > (UINT64_MAX - d) / 10) return 2;
        *v = *v * 10 + d;
        (*i)++;
    }
    return *i == b;
}
static int cas__mp_content_range(cas_multipart *m) {
    const char *s = m->priv_cr;
    size_t n, i = 6;
    int a, b, c = 0;
    uint64_t first, last, total = UINT64_MAX;
    while (m->priv_cr_len && cas__mp_ows((unsigned char)s[m->priv_cr_len - 1])) m->priv_cr_len--;
    n = m->priv_cr_len;
    if (n < 6 || !cas__mp_ieq(s, 5, "bytes") || s[5] != ' ')
        return cas__mp_range_fail(m, "does not start with \"bytes \"");
    a = cas__mp_u64(s, n, &i, &first);
    if (a == 0 && i < n && s[i] == '-') {
        i++;
        b = cas__mp_u64(s, n, &i, &last);
        if (b == 0 && i < n && s[i] == '/') {
            i++;
            if (i < n && s[i] == '*')
                i++;
            else if ((c = cas__mp_u64(s, n, &i, &total)) == 0 && total == UINT64_MAX)
                return cas__mp_range_fail(m, "has total 2^64-1 (UINT64_MAX stands for \"*\")");
        } else {
            c = b ? b : 1;
        }
    } else {
        c = a ? a : 1;
    }
    if (c == 2) return cas__mp_range_fail(m, "has a number of over 20 digits or over 2^64-1");
    if (c || i != n) return cas__mp_range_fail(m, "is not bytes <first>-<last>/<total or *>");
    if (first > last) return cas__mp_range_fail(m, "has first > last");
    if (total != UINT64_MAX && last >= total) return cas__mp_range_fail(m, "has last >= total");
    if (last - first == UINT64_MAX) return cas__mp_range_fail(m, "has 2^64 bytes");
    m->priv_first = first;
    m->priv_last = last;
    m->priv_total = total;
    return 0;
}

/* Starts a part after the CRLF of its delimiter line (the LF at `at`). */
static int cas__mp_part_begin(cas_multipart *m, uint64_t at) {
    size_t n;
    if (m->priv_max_parts && m->priv_part >= m->priv_max_parts) {
        m->priv_part++; /* name it */
        n = cas__mp_puts(m, cas__mp_put_part(m), "more parts than the ");
        cas__mp_puts(m, cas__mp_putu(m, n, m->priv_max_parts), " allowed (max_parts)");
        return cas__mp_fail_what(m, CAS_E_MULTIPART, at);
    }
    if (m->priv_part == UINT32_MAX) return cas__mp_fail(m, CAS_E_LIMIT, at, "over 2^32-1 parts");
    m->priv_part++;
    m->priv_state = CAS__MP_HEAD;
    m->priv_sub = CAS__MP_LINE;
    m->priv_count = 0;
    m->priv_has_range = 0;
    return 0;
}

/* One byte of a header line (priv_count is already checked). */
static int cas__mp_head(cas_multipart *m, uint8_t c, uint64_t at) {
    switch (m->priv_sub) {
    case CAS__MP_LINE:
        if (c == '\r') {
            m->priv_sub = CAS__MP_BLANK_CR;
            return 0;
        }
        if (cas__mp_ows(c))
            return cas__mp_fail_part(m, CAS_E_MULTIPART, at,
                                     "a header line starts with whitespace (obsolete line folding)");
        m->priv_sub = CAS__MP_NAME;
        m->priv_name_len = 0;
        m->priv_is_range = 1;
        return cas__mp_head(m, c, at);
    case CAS__MP_NAME:
        if (c == ':') {
            if (m->priv_name_len == 0) return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "an empty header name");
            m->priv_is_range = m->priv_is_range && m->priv_name_len == 13;
            if (m->priv_is_range) {
                if (m->priv_has_range)
                    return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a second Content-Range");
                m->priv_has_range = 1;
                m->priv_cr_len = 0;
                m->priv_cr_at = at + 1;
            }
            m->priv_sub = CAS__MP_VALUE;
            return 0;
        }
        if (c == '\n') return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a header line ends in a bare LF");
        if (c == '\r') return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a header line has no ':'");
        if (!cas__mp_tchar(c))
            return cas__mp_fail_part(m, CAS_E_MULTIPART, at,
                                     "a header name has a byte that is not a token character");
        if (m->priv_name_len >= 13 || cas__mp_lower(c) != "content-range"[m->priv_name_len])
            m->priv_is_range = 0;
        if (m->priv_name_len < 14) m->priv_name_len++;
        return 0;
    case CAS__MP_VALUE:
        if (c == '\r') {
            m->priv_sub = CAS__MP_VALUE_CR;
            return 0;
        }
        if (c == '\n') return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a header line ends in a bare LF");
        if ((c < 32 && c != '\t') || c == 127)
            return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a control character in a header value");
        if (m->priv_is_range && m->priv_cr_len == 0 && cas__mp_ows(c)) {
            m->priv_cr_at = at + 1; /* leading whitespace is not kept */
        } else if (m->priv_is_range) {
            if (m->priv_cr_len == sizeof m->priv_cr)
                return cas__mp_fail_part(m, CAS_E_MULTIPART, at,
                                         "the Content-Range value is over 96 bytes");
            m->priv_cr[m->priv_cr_len++] = (char)c;
        }
        return 0;
    case CAS__MP_VALUE_CR:
        if (c != '\n') return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a CR without LF in the headers");
        m->priv_sub = CAS__MP_LINE;
        if (m->priv_is_range) return cas__mp_content_range(m);
        return 0;
    default: /* CAS__MP_BLANK_CR */
        if (c != '\n') return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "a CR without LF in the headers");
        if (!m->priv_has_range) return cas__mp_fail_part(m, CAS_E_MULTIPART, at, "no Content-Range header");
        m->priv_state = CAS__MP_BODY;
        m->priv_left = m->priv_last - m->priv_first + 1;
        m->priv_body_start = at + 1;
        m->priv_found = CAS__MP_NONE;
        m->priv_scan = 0;
        return CAS_READY;
    }
}

/* One byte outside a body, at stream offset `at`: 0 (go on), CAS_READY (a part's headers are
   complete), CAS_END, or an error. */
static int cas__mp_byte(cas_multipart *m, uint8_t c, uint64_t at) {
    uint32_t s;
    switch (m->priv_state) {
    case CAS__MP_PREAMBLE:
        s = c == m->priv_delim[m->priv_match] ? m->priv_match + 1 : (uint32_t)(c == '\r');
        m->priv_match = s;
        if (s == m->priv_dlen) {
            m->priv_state = CAS__MP_AFTER;
            m->priv_sub = CAS__MP_PAD;
            m->priv_count = 0;
        } else if (at + 1 > s && at + 1 - s > CAS_MULTIPART_MAX_PREAMBLE) {
            return cas__mp_fail(m, CAS_E_LIMIT, at,
                                "over 8192 bytes of preamble before the first delimiter");
        }
        return 0;
    case CAS__MP_AFTER:
        if (m->priv_sub == CAS__MP_PAD) {
            if (cas__mp_ows(c)) {
                if (++m->priv_count > CAS_MULTIPART_MAX_HEADER)
                    return cas__fail(&m->error, CAS_E_LIMIT, at,
                                     "over 8192 bytes of transport padding after a boundary");
                return 0;
            }
            if (c == '\r') {
                m->priv_sub = CAS__MP_PAD_CR;
                return 0;
            }
            if (c == '-' && m->priv_count == 0) {
                m->priv_sub = CAS__MP_DASH;
                return 0;
            }
            return cas__mp_fail_delim(m, at,
                                      "the boundary is followed by a byte other than space, tab, "
                                      "CR or \"--\"");
        }
        if (m->priv_sub == CAS__MP_DASH) {
            if (c != '-') return cas__mp_fail_delim(m, at, "the boundary is followed by a lone '-'");
            if (m->priv_part == 0)
                return cas__mp_fail(m, CAS_E_MULTIPART, at, "the close delimiter comes before any part");
            m->priv_state = CAS__MP_END;
            return CAS_END;
        }
        if (c != '\n') return cas__mp_fail_delim(m, at, "a CR without LF after the boundary");
        return cas__mp_part_begin(m, at);
    case CAS__MP_HEAD:
        if (++m->priv_count > CAS_MULTIPART_MAX_HEADER)
            return cas__mp_fail_part(m, CAS_E_LIMIT, at, "the header block is over 8192 bytes");
        return cas__mp_head(m, c, at);
    case CAS__MP_DELIM:
        cas__mp_scan(m, &c, 1, at);
        if (c == m->priv_delim[m->priv_match]) {
            if (++m->priv_match == m->priv_dlen) {
                m->priv_state = CAS__MP_AFTER;
                m->priv_sub = CAS__MP_PAD;
                m->priv_count = 0;
            }
            return 0;
        }
        m->priv_state = CAS__MP_SEARCH;
        return cas__mp_search(m, at);
    default: /* CAS__MP_SEARCH */
        cas__mp_scan(m, &c, 1, at);
        return cas__mp_search(m, at);
    }
}

static void cas__mp_event(const cas_multipart *m, int type, cas_multipart_event *ev) {
    ev->type = type;
    ev->part = m->priv_part - 1;
    ev->first = m->priv_first;
    ev->last = m->priv_last;
    ev->total = m->priv_total;
    ev->offset = m->priv_last + 1 - m->priv_left;
}

cas_result cas_multipart_push(cas_multipart *m, const void *data, size_t len, size_t *consumed,
                              cas_multipart_event *ev) {
    const uint8_t *p = (const uint8_t *)data;
    size_t i = 0;
    if (consumed) *consumed = 0;
    if (!m || !consumed || !ev || (!data && len)) return CAS_E_ARGUMENT;
    memset(ev, 0, sizeof *ev);
    if (m->error.code < 0) return (cas_result)(m->error.code);
    if (m->priv_state == CAS__MP_UNINIT)
        return (cas_result)(cas__mp_fail(m, CAS_E_STATE, 0, "cas_multipart_init was not called"));
    if (m->priv_state == CAS__MP_END) {
        *consumed = len; /* the epilogue */
        return CAS_END;
    }
    while (i < len) {
        int rc;
        if (m->priv_state == CAS__MP_BODY) { /* zero copy, no scan for the boundary needed */
            size_t n = len - i;
            if ((uint64_t)n > m->priv_left) n = (size_t)m->priv_left;
            cas__mp_event(m, CAS_MULTIPART_DATA, ev);
            ev->data = p + i;
            ev->len = n;
            cas__mp_scan(m, p + i, n, m->priv_offset);
            m->priv_left -= n;
            m->priv_offset += n;
            *consumed = i + n;
            if (m->priv_left == 0) {
                m->priv_state = CAS__MP_DELIM;
                m->priv_match = 0;
            }
            return CAS_READY;
        }
        rc = cas__mp_byte(m, p[i], m->priv_offset);
        i++;
        m->priv_offset++;
        if (rc == 0) continue;
        *consumed = rc == CAS_END ? len : i;
        if (rc == CAS_READY) cas__mp_event(m, CAS_MULTIPART_PART, ev);
        return (cas_result)(rc);
    }
    *consumed = len;
    return CAS_NEED_INPUT;
}

cas_result cas_multipart_finish(cas_multipart *m, cas_error *err) {
    const char *what = "";
    size_t n;
    int rc;
    if (!m) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "no cas_multipart"));
    if (m->error.code >= 0) {
        switch (m->priv_state) {
        case CAS__MP_UNINIT:
            cas__mp_fail(m, CAS_E_STATE, 0, "cas_multipart_init was not called");
            break;
        case CAS__MP_END:
            break;
        case CAS__MP_SEARCH:
            n = cas__mp_puts(m, cas__mp_put_range(m), " but no delimiter follows them (the body ends ");
            n = cas__mp_putu(m, n, m->priv_offset - m->priv_body_start);
            cas__mp_puts(m, n, " bytes into the part)");
            cas__mp_fail_what(m, CAS_E_MULTIPART,
                              m->priv_body_start + (m->priv_last - m->priv_first + 1));
            break;
        case CAS__MP_BODY:
            n = cas__mp_puts(m, cas__mp_put_range(m), " but the body ends after ");
            n = cas__mp_putu(m, n, m->priv_last - m->priv_first + 1 - m->priv_left);
            cas__mp_puts(m, n, " of them");
            cas__mp_fail_what(m, CAS_E_TRUNCATED, m->priv_offset);
            break;
        case CAS__MP_HEAD:
            cas__mp_fail_part(m, CAS_E_TRUNCATED, m->priv_offset, "the body ends in the headers");
            break;
        default:
            what = m->priv_state == CAS__MP_PREAMBLE ? "the body ends before the first delimiter"
                   : m->priv_state == CAS__MP_DELIM ? "the body ends in the delimiter after a part"
                                                    : "the body ends in a delimiter line (no close "
                                                      "delimiter)";
            cas__mp_fail(m, CAS_E_TRUNCATED, m->priv_offset, what);
            break;
        }
    }
    rc = m->error.code;
    if (rc == CAS_OK) cas__succeed(&m->error);
    if (err) *err = m->error;
    return (cas_result)(rc);
}

#undef CAS__MP_NONE

/* ==== >>engines: upload ================================================================== */

/* Internals. A file's bytes go into one lookahead buffer: the chunker scans it, each chunk gets
   its hash there (u->win, "arrived"), and chunks are decided from the front ("decided": a dedup
   match, or new data compressed into the open xorb) once enough bytes follow them. Decided
   bytes are dropped by moving the live tail to the front when the buffer is full.
   Session xorbs are numbered; terms that cite a session xorb keep its number (term_xorb) and
   get its hash when the shards are written, since the open xorb's hash is not known yet
   (xet-core fills its "internally referencing entries" the same way). */

enum { CAS__UP_IDLE, CAS__UP_FILE, CAS__UP_ENDING, CAS__UP_FINISHING, CAS__UP_DONE };
enum { CAS__UP_HELD_NONE, CAS__UP_HELD_XORB, CAS__UP_HELD_SHARD };
#define CAS__UP_NONE 0xFFFFFFFFu /* term_xorb of a term citing a xorb from outside the session */

typedef struct cas__up_wchunk { /* a chunk in the lookahead buffer */
    uint32_t off, size;
    cas_hash hash;
    int32_t slot; /* desc.parallel: its record precompressed in u->recs[slot], else -1 */
} cas__up_wchunk;

typedef struct cas__up_xorb {
    cas_hash hash;         /* known once cut */
    uint32_t first_chunk;  /* in u->chunks */
    uint32_t num_chunks, bytes, on_disk;
} cas__up_xorb;

typedef struct cas__up_file {
    cas_hash file_hash;
    uint8_t sha256[32];
    int has_sha256;
    uint32_t first_term, num_terms;
} cas__up_file;

typedef struct cas__up_match { /* a run of the file's chunks found in one xorb */
    uint32_t xorb;         /* session xorb, or CAS__UP_NONE */
    cas_hash hash;         /* the xorb hash when external */
    uint32_t start, end;   /* chunk range in the xorb */
    uint64_t bytes;
    size_t n;              /* = end - start chunks of the file */
    int global;            /* found in a query answer */
    size_t session_chunk;  /* first chunk's index in u->chunks (session matches) */
} cas__up_match;

struct cas_upload {
    cas_allocator alloc;
    cas_error error; /* sticky */
    /* desc.parallel: chunks compressed ahead in batches, one compressor and record slot each */
    void (*parallel)(void *, void (*)(void *, size_t), void *, size_t);
    void *parallel_user;
    cas_chunk_compressor *cc;        /* CAS_UPLOAD_BATCH */
    uint8_t *recs;                   /* CAS_UPLOAD_BATCH records of <= 8 + 128 KiB */
    uint32_t rec_len[CAS_UPLOAD_BATCH];
    int rec_rc[CAS_UPLOAD_BATCH];
    size_t batch_win[CAS_UPLOAD_BATCH]; /* the window entry each job compresses */
    uint32_t slots_free;             /* bit s: slot s is free */
    unsigned flags;
    int compression;                 /* CAS_COMPRESS_* */
    uint64_t lookahead, spacing, now;
    uint32_t max_xorb_size, max_xorb_chunks, max_shard_size;
    int state;

    /* the event waiting for cas_upload_next, and what its bytes hold until the next call */
    int ev_pending, held;
    cas_upload_event ev;

    /* lookahead buffer */
    uint8_t *buf;
    size_t cap, len, scan, cstart; /* bytes in, scanned, start of the unfinished chunk */
    cas_chunk_stream stream;       /* boundaries and hashes (fused where the CPU allows) */
    cas__up_wchunk *win;
    size_t win_cap, front, count; /* win[front..count) are arrived, undecided */
    int forced, final_cut, pending_new;

    /* the open file */
    cas_merkle merkle;
    cas_sha256 sha;
    int host_sha_set;
    uint8_t host_sha[32];
    uint64_t fsize, farrived, farrived_bytes, fdecided, next_query;
    uint32_t ffirst_term;
    cas_blake3 vhash; /* the verification hash of the file's last term, being extended */
    cas_upload_file_result result;

    /* fragmentation estimate of the open file (xet-core DefragPrevention) */
    uint32_t ring[CAS_UPLOAD_DEFRAG_WINDOW];
    uint32_t ring_n, ring_head;
    uint64_t ring_sum;
    int low_threshold;

    /* session: new chunks, their index, xorbs, terms, files */
    cas_shard_chunk *chunks;
    uint32_t *chunk_xorb;
    size_t nchunks, chunks_cap, chunk_xorb_cap;
    uint32_t *index; /* open addressing: chunk index + 1, 0 = empty */
    size_t index_cap, index_used;
    cas__up_xorb *xorbs;
    size_t nxorbs, xorbs_cap;
    int xorb_open;
    cas_xorb_writer writer;
    cas_sink sink;
    uint8_t *xbuf;
    size_t xlen, xcap;
    cas_shard_term *terms;
    uint32_t *term_xorb;
    size_t nterms, terms_cap, term_xorb_cap;
    cas__up_file *files;
    size_t nfiles, files_cap;

    /* dedup sources */
    const cas_shard **shards;
    size_t nshards, shards_cap;
    cas_shard *answers;
    size_t nanswers, answers_cap;
    uint64_t open_q[CAS_UPLOAD_MAX_OPEN_QUERIES];
    size_t nopen;
    uint64_t next_qid;

    /* shard output */
    int resolved;
    size_t shard_file, shard_xorb;
    uint8_t *sbuf;
    size_t slen;

    cas_upload_stats stats;
};

static int cas__up_fail(cas_upload *u, int code, const char *what) {
    return cas__fail(&u->error, code, u->fsize, what);
}


/* ---- the session chunk index: hash -> latest chunk of the session with that hash ---- */

static size_t cas__up_slot(const cas_hash *h, size_t cap) {
    uint64_t k = cas__load_le64(h->bytes) ^ cas__load_le64(h->bytes + 8);
    k ^= k >> 31;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 17) & (cap - 1);
}

static long cas__up_index_find(const cas_upload *u, const cas_hash *h) {
    size_t i;
    if (!u->index_cap) return -1;
    for (i = cas__up_slot(h, u->index_cap);; i = (i + 1) & (u->index_cap - 1)) {
        uint32_t v = u->index[i];
        if (!v) return -1;
        if (cas_hash_equal(&u->chunks[v - 1].hash, h)) return (long)(v - 1);
    }
}

static void cas__up_index_put(uint32_t *table, size_t cap, const cas_shard_chunk *chunks,
                              uint32_t idx) {
    size_t i;
    for (i = cas__up_slot(&chunks[idx].hash, cap);; i = (i + 1) & (cap - 1)) {
        uint32_t v = table[i];
        if (!v || cas_hash_equal(&chunks[v - 1].hash, &chunks[idx].hash)) {
            table[i] = idx + 1; /* the newest copy wins, as in xet-core's new_data lookup */
            return;
        }
    }
}

static int cas__up_index_add(cas_upload *u, uint32_t idx) {
    if ((u->index_used + 1) * 2 > u->index_cap) { /* keep the table at most half full */
        size_t cap = u->index_cap ? u->index_cap * 2 : 1024, i;
        uint32_t *t;
        if (cap > ((size_t)-1) / sizeof *t) return CAS_E_NOMEM;
        t = (uint32_t *)cas__alloc(&u->alloc, cap * sizeof *t);
        if (!t) return CAS_E_NOMEM;
        memset(t, 0, cap * sizeof *t);
        for (i = 0; i < u->index_cap; i++)
            if (u->index[i]) cas__up_index_put(t, cap, u->chunks, u->index[i] - 1);
        cas__free(&u->alloc, u->index, u->index_cap * sizeof *t);
        u->index = t;
        u->index_cap = cap;
    }
    if (cas__up_index_find(u, &u->chunks[idx].hash) < 0) u->index_used++;
    cas__up_index_put(u->index, u->index_cap, u->chunks, idx);
    return CAS_OK;
}

/* ---- fragmentation prevention: xet-core's DefragPrevention, same constants and f32 math ---- */

static void cas__up_defrag_reset(cas_upload *u) {
    u->ring_n = u->ring_head = 0;
    u->ring_sum = 0;
    u->low_threshold = 1;
}

static void cas__up_defrag_add(cas_upload *u, uint32_t n) { /* a new term of n chunks */
    if (u->ring_n == CAS_UPLOAD_DEFRAG_WINDOW) {
        u->ring_sum -= u->ring[u->ring_head];
        u->ring[u->ring_head] = n;
        u->ring_head = (u->ring_head + 1) % CAS_UPLOAD_DEFRAG_WINDOW;
    } else {
        u->ring[(u->ring_head + u->ring_n) % CAS_UPLOAD_DEFRAG_WINDOW] = n;
        u->ring_n++;
    }
    u->ring_sum += n;
}

static void cas__up_defrag_extend(cas_upload *u, uint32_t n) { /* the last term grew */
    if (!u->ring_n) return;
    u->ring[(u->ring_head + u->ring_n - 1) % CAS_UPLOAD_DEFRAG_WINDOW] += n;
    u->ring_sum += n;
}

/* May a dedup match of n chunks start a new term? No estimate before 128 terms: yes. Below
   the target (4 while deduping, 8 once skipping: hysteresis), only a match at least as long
   as the current average. */
static int cas__up_defrag_allow(cas_upload *u, size_t n) {
    float cpr, target;
    if (u->flags & CAS_UPLOAD_NO_DEFRAG || u->ring_n < CAS_UPLOAD_DEFRAG_WINDOW) return 1;
    cpr = (float)u->ring_sum / (float)u->ring_n;
    target = (float)CAS_UPLOAD_MIN_CHUNKS_PER_TERM * (u->low_threshold ? 0.5f : 1.0f);
    if (cpr < target) {
        if ((float)n < cpr) {
            u->low_threshold = 0;
            return 0;
        }
    } else {
        u->low_threshold = 1;
    }
    return 1;
}

/* ---- dedup lookups ---- */

static int cas__up_find_session(const cas_upload *u, size_t i, cas__up_match *m) {
    long s = cas__up_index_find(u, &u->win[i].hash);
    size_t k, avail = u->count - i;
    uint32_t x;
    if (s < 0 || u->chunks[s].unpacked_bytes != u->win[i].size) return 0;
    x = u->chunk_xorb[s];
    m->bytes = u->win[i].size;
    for (k = 1; k < avail && (size_t)s + k < u->nchunks && u->chunk_xorb[s + k] == x; k++) {
        const cas_shard_chunk *c = &u->chunks[s + k];
        if (c->unpacked_bytes != u->win[i + k].size || !cas_hash_equal(&c->hash, &u->win[i + k].hash))
            break;
        m->bytes += c->unpacked_bytes;
    }
    m->xorb = x;
    m->start = (uint32_t)((size_t)s - u->xorbs[x].first_chunk);
    m->end = m->start + (uint32_t)k;
    m->n = k;
    m->global = 0;
    m->session_chunk = (size_t)s;
    return 1;
}

/* xet-core's chunk_hash_dedup_query: the first chunk's candidates (up to 8), each extended
   while the following chunks of that xorb match; the first candidate wins. */
static int cas__up_find_shard(const cas_upload *u, const cas_shard *s, size_t i, cas__up_match *m) {
    cas_shard_chunk_match c[8];
    size_t nc = cas_shard_find_chunk(s, &u->win[i].hash, u->now, c, 8), j, avail = u->count - i;
    if (nc > 8) nc = 8;
    for (j = 0; j < nc; j++) {
        const cas_shard_xorb *x = &s->xorbs[c[j].xorb];
        size_t k;
        if (c[j].expired || c[j].byte_end - c[j].byte_start != u->win[i].size) continue;
        m->bytes = u->win[i].size;
        for (k = 1; k < avail && c[j].chunk + k < x->num_chunks; k++) {
            const cas_shard_chunk *sc = &x->chunks[c[j].chunk + k];
            cas_hash want = u->win[i + k].hash;
            if (s->keyed) cas_hash_hmac(&u->win[i + k].hash, &s->footer.hmac_key, &want);
            if (sc->unpacked_bytes != u->win[i + k].size || !cas_hash_equal(&sc->hash, &want)) break;
            m->bytes += sc->unpacked_bytes;
        }
        m->xorb = CAS__UP_NONE;
        m->hash = x->xorb_hash;
        m->start = c[j].chunk;
        m->end = c[j].chunk + (uint32_t)k;
        m->n = k;
        m->global = 0;
        return 1;
    }
    return 0;
}

/* Session chunks first, then the host's shards, then query answers. */
static int cas__up_find(const cas_upload *u, size_t i, cas__up_match *m) {
    size_t j;
    if (cas__up_find_session(u, i, m)) return 1;
    for (j = 0; j < u->nshards; j++)
        if (cas__up_find_shard(u, u->shards[j], i, m)) return 1;
    for (j = 0; j < u->nanswers; j++)
        if (cas__up_find_shard(u, &u->answers[j], i, m)) {
            m->global = 1;
            return 1;
        }
    return 0;
}

/* Whether any source knows the chunk (a global-dedup query would be wasted). */
static int cas__up_known(const cas_upload *u, const cas_hash *h) {
    cas_shard_chunk_match c;
    size_t j;
    if (cas__up_index_find(u, h) >= 0) return 1;
    for (j = 0; j < u->nshards; j++)
        if (cas_shard_find_chunk(u->shards[j], h, u->now, &c, 1) && !c.expired) return 1;
    for (j = 0; j < u->nanswers; j++)
        if (cas_shard_find_chunk(&u->answers[j], h, u->now, &c, 1) && !c.expired) return 1;
    return 0;
}

/* ---- terms ---- */

static int cas__up_continues(const cas_upload *u, const cas__up_match *m) {
    const cas_shard_term *t;
    uint32_t tx;
    if (u->nterms == u->ffirst_term) return 0; /* the file has no term yet */
    t = &u->terms[u->nterms - 1];
    tx = u->term_xorb[u->nterms - 1];
    if (tx != m->xorb || t->chunk_end != m->start) return 0;
    return tx != CAS__UP_NONE || cas_hash_equal(&t->xorb_hash, &m->hash);
}

static void cas__up_close_term(cas_upload *u) {
    if (u->nterms > u->ffirst_term) cas_blake3_final(&u->vhash, u->terms[u->nterms - 1].verification.bytes);
}

/* The file's next m->n chunks (from the front of the window) are m. */
/* ---- compression ahead, through the host's thread pool ---- */

#define CAS__UP_REC (CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_SIZE)

static void cas__up_slot_free(cas_upload *u, cas__up_wchunk *c) {
    if (c->slot >= 0) u->slots_free |= 1u << c->slot;
    c->slot = -1;
}

static void cas__up_compress_job(void *ctx, size_t i) {
    cas_upload *u = (cas_upload *)ctx;
    const cas__up_wchunk *c = &u->win[u->batch_win[i]];
    size_t len = 0;
    u->rec_rc[c->slot] = cas_chunk_record_encode(&u->cc[c->slot], u->buf + c->off, c->size, u->compression,
                                                 u->recs + (size_t)c->slot * CAS__UP_REC, CAS__UP_REC,
                                                 &len, NULL);
    u->rec_len[c->slot] = (uint32_t)len;
}

static int cas__up_find(const cas_upload *u, size_t i, cas__up_match *m);

/* The front chunk is to be stored: compress it and the next chunks that nothing known
   dedupes (they will most likely be stored too) in one parallel batch. A chunk that turns
   out deduplicated after all only costs its compression. */
static void cas__up_precompress(cas_upload *u) {
    size_t i, n = 0;
    for (i = u->front; i < u->count && n < CAS_UPLOAD_BATCH && u->slots_free; i++) {
        cas__up_wchunk *c = &u->win[i];
        cas__up_match m;
        int32_t s = 0;
        if (c->slot >= 0) continue;
        if (i != u->front && !(u->flags & CAS_UPLOAD_NO_DEDUP) && cas__up_find(u, i, &m)) continue;
        while (!(u->slots_free & (1u << s))) s++;
        u->slots_free &= ~(1u << s);
        c->slot = s;
        u->batch_win[n++] = i;
    }
    if (n) u->parallel(u->parallel_user, cas__up_compress_job, u, n);
}

static int cas__up_take(cas_upload *u, const cas__up_match *m) {
    size_t k;
    if (cas__up_continues(u, m)) {
        cas_shard_term *t = &u->terms[u->nterms - 1];
        t->chunk_end = m->end;
        t->unpacked_bytes += (uint32_t)m->bytes;
        cas__up_defrag_extend(u, (uint32_t)m->n);
    } else {
        cas_shard_term *t;
        if (cas__grow(&u->alloc, (void **)&u->terms, &u->terms_cap, u->nterms + 1, sizeof *u->terms, 64) ||
            cas__grow(&u->alloc, (void **)&u->term_xorb, &u->term_xorb_cap, u->nterms + 1, sizeof *u->term_xorb, 64))
            return cas__up_fail(u, CAS_E_NOMEM, "upload term list");
        cas__up_close_term(u);
        t = &u->terms[u->nterms];
        memset(t, 0, sizeof *t);
        if (m->xorb == CAS__UP_NONE) t->xorb_hash = m->hash;
        t->chunk_start = m->start;
        t->chunk_end = m->end;
        t->unpacked_bytes = (uint32_t)m->bytes;
        u->term_xorb[u->nterms++] = m->xorb;
        cas_blake3_init_keyed(&u->vhash, cas_key_verification());
        cas__up_defrag_add(u, (uint32_t)m->n);
        u->stats.terms++;
        u->result.num_terms++;
    }
    for (k = 0; k < m->n; k++) {
        cas_blake3_update(&u->vhash, u->win[u->front + k].hash.bytes, 32);
        cas__up_slot_free(u, &u->win[u->front + k]); /* compressed ahead, then deduplicated */
    }
    if (u->fdecided == 0 && m->xorb != CAS__UP_NONE) /* xet-core flags the file's first chunk */
        u->chunks[m->session_chunk].flags |= CAS_SHARD_CHUNK_GLOBAL_DEDUP;
    u->front += m->n;
    u->fdecided += m->n;
    return CAS_OK;
}

/* ---- xorbs ---- */

static int cas__up_xorb_write(void *user, const void *data, size_t len) {
    cas_upload *u = (cas_upload *)user;
    if (cas__grow(&u->alloc, (void **)&u->xbuf, &u->xcap, u->xlen + len, 1, (size_t)1 << 20))
        return CAS_E_NOMEM;
    memcpy(u->xbuf + u->xlen, data, len);
    u->xlen += len;
    return CAS_OK;
}

/* Ends the open xorb and makes it the pending event. */
static int cas__up_cut(cas_upload *u) {
    cas__up_xorb *x = &u->xorbs[u->nxorbs - 1];
    int rc = cas_xorb_writer_finish(&u->writer, 0, &x->hash);
    if (rc != CAS_OK) return cas__fail(&u->error, rc, u->fsize, u->writer.error.what);
    x->on_disk = (uint32_t)cas_xorb_writer_size(&u->writer);
    cas_xorb_writer_free(&u->writer);
    u->xorb_open = 0;
    memset(&u->ev, 0, sizeof u->ev);
    u->ev.type = CAS_UPLOAD_EVENT_XORB;
    u->ev.hash = x->hash;
    u->ev.data = u->xbuf;
    u->ev.len = u->xlen;
    u->ev.num_chunks = x->num_chunks;
    u->ev.unpacked_size = x->bytes;
    u->ev_pending = 1;
    u->held = CAS__UP_HELD_XORB;
    u->stats.xorbs++;
    u->stats.xorb_bytes += u->xlen;
    return CAS_READY;
}

static int cas__up_open_xorb(cas_upload *u) {
    cas__up_xorb *x;
    if (cas__grow(&u->alloc, (void **)&u->xorbs, &u->xorbs_cap, u->nxorbs + 1, sizeof *u->xorbs, 16))
        return cas__up_fail(u, CAS_E_NOMEM, "upload xorb list");
    if (cas_xorb_writer_init(&u->alloc, &u->writer, u->compression, &u->sink) != CAS_OK)
        return cas__up_fail(u, CAS_E_NOMEM, "xorb writer");
    x = &u->xorbs[u->nxorbs++];
    memset(x, 0, sizeof *x);
    x->first_chunk = (uint32_t)u->nchunks;
    u->xlen = 0;
    u->xorb_open = 1;
    return CAS_OK;
}

/* Stores the front chunk as new data. CAS_READY when the open xorb had to be cut first. */
static int cas__up_store(cas_upload *u) {
    cas__up_wchunk *c = &u->win[u->front];
    cas__up_match m;
    cas_shard_chunk *sc;
    cas__up_xorb *x;
    int rc;
    if (u->xorb_open) {
        size_t n;
        cas_xorb_writer_chunks(&u->writer, &n);
        if (n >= u->max_xorb_chunks ||
            cas_xorb_writer_size(&u->writer) + CAS_CHUNK_HEADER_SIZE + c->size > u->max_xorb_size) {
            u->pending_new = 1; /* decided: resume with this chunk once the xorb is out */
            return cas__up_cut(u);
        }
    } else if ((rc = cas__up_open_xorb(u)) != CAS_OK) {
        return rc;
    }
    if (cas__grow(&u->alloc, (void **)&u->chunks, &u->chunks_cap, u->nchunks + 1, sizeof *u->chunks, 1024) ||
        cas__grow(&u->alloc, (void **)&u->chunk_xorb, &u->chunk_xorb_cap, u->nchunks + 1, sizeof *u->chunk_xorb, 1024))
        return cas__up_fail(u, CAS_E_NOMEM, "upload chunk list");
    x = &u->xorbs[u->nxorbs - 1];
    if (u->parallel && c->slot < 0) cas__up_precompress(u);
    if (c->slot >= 0) {
        int32_t slot = c->slot;
        rc = u->rec_rc[slot];
        if (rc == CAS_OK)
            rc = cas_xorb_writer_add_record(&u->writer, u->recs + (size_t)slot * CAS__UP_REC,
                                            u->rec_len[slot], &c->hash);
        cas__up_slot_free(u, c);
    } else {
        rc = cas_xorb_writer_add(&u->writer, u->buf + c->off, c->size, &c->hash);
    }
    if (rc != CAS_OK) return cas__fail(&u->error, rc, u->fsize, u->writer.error.what);
    sc = &u->chunks[u->nchunks];
    sc->hash = c->hash;
    sc->byte_start = x->bytes;
    sc->unpacked_bytes = c->size;
    sc->flags = 0;
    u->chunk_xorb[u->nchunks] = (uint32_t)(u->nxorbs - 1);
    if (cas__up_index_add(u, (uint32_t)u->nchunks) != CAS_OK)
        return cas__up_fail(u, CAS_E_NOMEM, "upload chunk index");
    m.xorb = (uint32_t)(u->nxorbs - 1);
    m.start = x->num_chunks;
    m.end = x->num_chunks + 1;
    m.bytes = c->size;
    m.n = 1;
    m.global = 0;
    m.session_chunk = u->nchunks++;
    x->num_chunks++;
    x->bytes += c->size;
    u->pending_new = 0;
    u->stats.new_chunks++;
    u->stats.new_bytes += c->size;
    u->result.new_chunks++;
    u->result.new_bytes += c->size;
    return cas__up_take(u, &m);
}

/* Decides the front chunk (and the run it starts, for a dedup match). */
static int cas__up_decide(cas_upload *u) {
    cas__up_match m;
    if (!u->pending_new && !(u->flags & CAS_UPLOAD_NO_DEDUP) && cas__up_find(u, u->front, &m)) {
        /* Continuing the previous term is always fine (xet-core does the same). */
        if (cas__up_continues(u, &m) || cas__up_defrag_allow(u, m.n)) {
            u->stats.dedup_chunks += m.n;
            u->stats.dedup_bytes += m.bytes;
            u->result.dedup_chunks += m.n;
            u->result.dedup_bytes += m.bytes;
            if (m.global) {
                u->stats.global_dedup_chunks += m.n;
                u->stats.global_dedup_bytes += m.bytes;
            }
            return cas__up_take(u, &m);
        }
        u->stats.defrag_chunks += m.n;
        u->stats.defrag_bytes += m.bytes;
    }
    return cas__up_store(u);
}

/* ---- arrival: chunk boundaries, hashes, queries ---- */

static int cas__up_query(cas_upload *u, const cas_hash *h) {
    if (u->nopen == CAS_UPLOAD_MAX_OPEN_QUERIES) { /* stop waiting for the oldest */
        memmove(u->open_q, u->open_q + 1, (u->nopen - 1) * sizeof u->open_q[0]);
        u->nopen--;
    }
    u->open_q[u->nopen++] = u->next_qid;
    memset(&u->ev, 0, sizeof u->ev);
    u->ev.type = CAS_UPLOAD_EVENT_QUERY;
    u->ev.hash = *h;
    u->ev.query_id = u->next_qid++;
    u->ev_pending = 1;
    u->stats.queries++;
    return CAS_READY;
}

static int cas__up_arrive(cas_upload *u, size_t off, const cas_chunk *chunk) {
    cas__up_wchunk *c;
    cas_chunk leaf;
    size_t size = (size_t)chunk->size;
    uint64_t at = u->farrived_bytes;
    int first = u->farrived == 0;
    if (u->count == u->win_cap) return cas__up_fail(u, CAS_E_STATE, "lookahead chunk table full");
    c = &u->win[u->count++];
    c->off = (uint32_t)off;
    c->size = (uint32_t)size;
    c->slot = -1;
    c->hash = chunk->hash;
    leaf.hash = c->hash;
    leaf.size = size;
    cas_merkle_push(&u->merkle, &leaf);
    u->farrived++;
    u->farrived_bytes += size;
    u->stats.chunks++;
    u->result.num_chunks++;
    if ((u->flags & CAS_UPLOAD_GLOBAL_DEDUP) && !(u->flags & CAS_UPLOAD_NO_DEDUP) &&
        at >= u->next_query && cas_chunk_dedup_eligible(&c->hash, first) &&
        !cas__up_known(u, &c->hash)) {
        u->next_query = at + u->spacing;
        return cas__up_query(u, &c->hash);
    }
    return CAS_OK;
}

static int cas__up_scan(cas_upload *u) {
    while (u->scan < u->len) {
        cas_chunk c;
        u->scan += cas_chunk_stream_push(&u->stream, u->buf + u->scan, u->len - u->scan, &c);
        if (c.size) {
            size_t off = u->cstart;
            int rc;
            u->cstart += (size_t)c.size;
            if ((rc = cas__up_arrive(u, off, &c)) != CAS_OK) return rc;
        }
    }
    return CAS_OK;
}

static int cas__up_can_decide(cas_upload *u) {
    const cas__up_wchunk *f = &u->win[u->front], *l = &u->win[u->count - 1];
    uint64_t ahead = (uint64_t)l->off + l->size - f->off; /* arrived bytes from the front on */
    if (u->state == CAS__UP_ENDING) return 1;
    if (u->forced) {
        if (ahead > u->lookahead) return 1;
        u->forced = 0;
        return 0;
    }
    return ahead - f->size >= u->lookahead && u->nopen == 0;
}

/* Drops the decided bytes: moves the live tail to the buffer's start. */
static void cas__up_compact(cas_upload *u, size_t base) {
    size_t i;
    memmove(u->buf, u->buf + base, u->len - base);
    u->len -= base;
    u->scan -= base;
    u->cstart -= base;
    memmove(u->win, u->win + u->front, (u->count - u->front) * sizeof *u->win);
    u->count -= u->front;
    u->front = 0;
    for (i = 0; i < u->count; i++) u->win[i].off -= (uint32_t)base;
}

static void cas__up_release(cas_upload *u) {
    if (u->held == CAS__UP_HELD_XORB) u->xlen = 0;
    if (u->held == CAS__UP_HELD_SHARD) {
        cas__free(&u->alloc, u->sbuf, u->slen);
        u->sbuf = NULL;
        u->slen = 0;
    }
    u->held = CAS__UP_HELD_NONE;
}

/* ---- the end of a file, the end of the session ---- */

static int cas__up_file_done(cas_upload *u) {
    cas__up_file *f;
    cas_upload_file_result *r = &u->result;
    if (cas__grow(&u->alloc, (void **)&u->files, &u->files_cap, u->nfiles + 1, sizeof *u->files, 16))
        return cas__up_fail(u, CAS_E_NOMEM, "upload file list");
    cas__up_close_term(u);
    f = &u->files[u->nfiles];
    memset(f, 0, sizeof *f);
    cas_merkle_file_hash(&u->merkle, &f->file_hash);
    if (!(u->flags & (CAS_UPLOAD_NO_SHA256 | CAS_UPLOAD_HOST_SHA256))) {
        cas_sha256_final(&u->sha, f->sha256);
        f->has_sha256 = 1;
    } else if ((u->flags & CAS_UPLOAD_HOST_SHA256) && u->host_sha_set) {
        memcpy(f->sha256, u->host_sha, 32);
        f->has_sha256 = 1;
    }
    f->first_term = u->ffirst_term;
    f->num_terms = (uint32_t)(u->nterms - u->ffirst_term);
    r->file_hash = f->file_hash;
    r->has_sha256 = f->has_sha256;
    memcpy(r->sha256, f->sha256, 32);
    r->size = u->fsize;
    r->index = (uint32_t)u->nfiles++;
    u->stats.files++;
    u->len = u->scan = u->cstart = 0;
    u->front = u->count = 0;
    u->state = CAS__UP_IDLE;
    return CAS_OK;
}

/* Shard size in the upload form, as cas_shard_write_size counts it. */
static uint64_t cas__up_file_bytes(const cas__up_file *f) {
    return cas__shard_file_block(f->num_terms, f->has_sha256);
}
static uint64_t cas__up_xorb_bytes(const cas__up_xorb *x) { return cas__shard_xorb_block(x->num_chunks); }

/* The next shard: as many remaining files, then xorbs, as fit under max_shard_size. */
static int cas__up_shard(cas_upload *u) {
    uint64_t size = CAS__SHARD_EMPTY_SIZE, check = 0, written = 0;
    size_t f0 = u->shard_file, x0 = u->shard_xorb, nf, nx, i;
    cas_shard_file *sf = NULL;
    cas_shard_xorb *sx = NULL;
    cas_sink sink;
    cas_shard_write_desc wo;
    cas_error e;
    int rc;
    if (f0 == u->nfiles && x0 == u->nxorbs) {
        u->state = CAS__UP_DONE;
        return CAS_END;
    }
    if (!u->resolved) { /* every xorb is cut: give the terms their xorb hashes */
        for (i = 0; i < u->nterms; i++)
            if (u->term_xorb[i] != CAS__UP_NONE) u->terms[i].xorb_hash = u->xorbs[u->term_xorb[i]].hash;
        u->resolved = 1;
    }
    while (u->shard_file < u->nfiles && size + cas__up_file_bytes(&u->files[u->shard_file]) <= u->max_shard_size)
        size += cas__up_file_bytes(&u->files[u->shard_file++]);
    while (u->shard_xorb < u->nxorbs && size + cas__up_xorb_bytes(&u->xorbs[u->shard_xorb]) <= u->max_shard_size)
        size += cas__up_xorb_bytes(&u->xorbs[u->shard_xorb++]);
    nf = u->shard_file - f0;
    nx = u->shard_xorb - x0;
    if (!nf && !nx)
        return cas__fail(&u->error, CAS_E_SHARD_TOO_LARGE, 0,
                         u->shard_file < u->nfiles ? "one file's terms alone pass the shard size limit"
                                                   : "one xorb alone passes the shard size limit");
    sf = (cas_shard_file *)cas__alloc(&u->alloc, (nf ? nf : 1) * sizeof *sf);
    sx = (cas_shard_xorb *)cas__alloc(&u->alloc, (nx ? nx : 1) * sizeof *sx);
    u->sbuf = (uint8_t *)cas__alloc(&u->alloc, (size_t)size);
    if (u->sbuf) u->slen = (size_t)size;
    if (!sf || !sx || !u->sbuf) {
        rc = cas__fail(&u->error, CAS_E_NOMEM, 0, "shard output");
        goto done;
    }
    u->held = CAS__UP_HELD_SHARD; /* freed by cas__up_release (or cas_upload_free) */
    for (i = 0; i < nf; i++) {
        const cas__up_file *f = &u->files[f0 + i];
        memset(&sf[i], 0, sizeof sf[i]);
        sf[i].file_hash = f->file_hash;
        sf[i].flags = CAS_SHARD_FILE_VERIFICATION; /* ours, computed per term */
        sf[i].num_terms = f->num_terms;
        sf[i].terms = f->num_terms ? u->terms + f->first_term : NULL;
        sf[i].has_sha256 = f->has_sha256;
        memcpy(sf[i].sha256, f->sha256, 32);
    }
    for (i = 0; i < nx; i++) {
        const cas__up_xorb *x = &u->xorbs[x0 + i];
        memset(&sx[i], 0, sizeof sx[i]);
        sx[i].xorb_hash = x->hash;
        sx[i].num_chunks = x->num_chunks;
        sx[i].bytes_in_xorb = x->bytes;
        sx[i].bytes_on_disk = x->on_disk;
        sx[i].chunks = u->chunks + x->first_chunk;
    }
    rc = cas_shard_write_size(sf, nf, sx, nx, 0, &check);
    if (rc == CAS_OK && check != size) rc = CAS_E_STATE;
    if (rc != CAS_OK) {
        rc = cas__fail(&u->error, rc, 0, "shard size differs from the engine's count");
        goto done;
    }
    memset(&sink, 0, sizeof sink);
    sink.buf = u->sbuf;
    sink.cap = (size_t)size;
    memset(&wo, 0, sizeof wo);
    /* the writer's scratch from the session's allocator too */
    rc = cas_shard_write(&u->alloc, sf, nf, sx, nx, &wo, &sink, &written, &e);
    if (rc != CAS_OK) {
        rc = cas__fail(&u->error, rc, e.offset, e.what);
        goto done;
    }
    memset(&u->ev, 0, sizeof u->ev);
    u->ev.type = CAS_UPLOAD_EVENT_SHARD;
    cas_chunk_hash(u->sbuf, u->slen, &u->ev.hash);
    u->ev.data = u->sbuf;
    u->ev.len = u->slen;
    u->ev_pending = 1;
    u->stats.shards++;
    u->stats.shard_bytes += u->slen;
    rc = CAS_READY;
done:
    cas__free(&u->alloc, sf, (nf ? nf : 1) * sizeof *sf);
    cas__free(&u->alloc, sx, (nx ? nx : 1) * sizeof *sx);
    return rc;
}

/* Advances until an event waits (CAS_READY), more is needed (CAS_NEED_INPUT), the ending file
   is complete (CAS_OK), the session is over (CAS_END), or an error. */
static int cas__up_drive(cas_upload *u) {
    int rc;
    if (u->error.code < 0) return u->error.code;
    if (u->ev_pending) return CAS_READY;
    cas__up_release(u);
    if (u->state == CAS__UP_FILE || u->state == CAS__UP_ENDING) {
        if ((rc = cas__up_scan(u)) != CAS_OK) return rc;
        if (u->state == CAS__UP_ENDING && !u->final_cut) {
            cas_chunk last;
            size_t off = u->cstart;
            u->final_cut = 1;
            if (cas_chunk_stream_finish(&u->stream, &last)) {
                u->cstart += (size_t)last.size;
                if ((rc = cas__up_arrive(u, off, &last)) != CAS_OK) return rc;
            }
        }
        while (u->front < u->count && cas__up_can_decide(u))
            if ((rc = cas__up_decide(u)) != CAS_OK) return rc;
        if (u->state == CAS__UP_ENDING) return cas__up_file_done(u);
    }
    if (u->state == CAS__UP_FINISHING) {
        if (u->xorb_open) return cas__up_cut(u);
        return cas__up_shard(u);
    }
    return u->state == CAS__UP_DONE ? CAS_END : CAS_NEED_INPUT;
}

/* ---- public ---- */

cas_result cas_upload_create(const cas_allocator *alloc, const cas_upload_desc *desc, cas_upload **out,
                             cas_error *err) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas_upload_desc d;
    cas_upload *u;
    *out = NULL;
    if (desc) d = *desc;
    else memset(&d, 0, sizeof d);
    if (!d.lookahead) d.lookahead = CAS_UPLOAD_LOOKAHEAD;
    if (!d.query_spacing) d.query_spacing = CAS_UPLOAD_QUERY_SPACING;
    if (!d.max_xorb_size) d.max_xorb_size = CAS_XORB_MAX_SIZE;
    if (!d.max_xorb_chunks) d.max_xorb_chunks = CAS_XORB_MAX_CHUNKS;
    if (!d.max_shard_size) d.max_shard_size = CAS_SHARD_MAX_SIZE;
    if (d.lookahead > ((uint64_t)1 << 30) || d.lookahead < CAS_CHUNK_MAX_SIZE)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "lookahead is not 128 KiB..1 GiB"));
    if (d.max_xorb_size > CAS_XORB_MAX_SIZE || d.max_xorb_size < CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_SIZE)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "max_xorb_size is not 131080..64 MiB"));
    if (d.max_xorb_chunks > CAS_XORB_MAX_CHUNKS)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "max_xorb_chunks is over 8192"));
    if (d.max_shard_size > CAS_SHARD_MAX_SIZE || d.max_shard_size < 1024)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "max_shard_size is not 1024..64 MiB"));
    if (!cas__compress_known(d.compression))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "compression is not a CAS_COMPRESS_* request"));
    u = (cas_upload *)cas__alloc(&a, sizeof *u);
    if (!u) return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "upload session"));
    memset(u, 0, sizeof *u);
    u->alloc = a;
    u->flags = d.flags;
    u->compression = d.compression;
    u->lookahead = d.lookahead;
    u->spacing = d.query_spacing;
    u->now = d.now;
    u->max_xorb_size = d.max_xorb_size;
    u->max_xorb_chunks = d.max_xorb_chunks;
    u->max_shard_size = d.max_shard_size;
    u->next_qid = 1;
    u->sink.write = cas__up_xorb_write;
    u->sink.user = u;
    /* lookahead: decisions keep <= lookahead bytes after the front chunk; waiting for
       answers may let that reach 2 x lookahead; plus the unfinished chunk */
    u->cap = (size_t)(2 * d.lookahead) + CAS_CHUNK_MAX_SIZE;
    u->win_cap = u->cap / CAS_CHUNK_MIN_SIZE + 2; /* every chunk but a file's last is >= 8 KiB */
    u->buf = (uint8_t *)cas__alloc(&a, u->cap);
    u->win = (cas__up_wchunk *)cas__alloc(&a, u->win_cap * sizeof *u->win);
    if (d.parallel) {
        u->parallel = d.parallel;
        u->parallel_user = d.parallel_user;
        u->slots_free = CAS_UPLOAD_BATCH == 32 ? 0xFFFFFFFFu : (1u << CAS_UPLOAD_BATCH) - 1;
        u->cc = (cas_chunk_compressor *)cas__alloc(&a, CAS_UPLOAD_BATCH * sizeof *u->cc);
        u->recs = (uint8_t *)cas__alloc(&a, (size_t)CAS_UPLOAD_BATCH * CAS__UP_REC);
    }
    if (!u->buf || !u->win || (d.parallel && (!u->cc || !u->recs))) {
        cas_upload_free(u);
        return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "upload lookahead buffer"));
    }
    *out = u;
    return (cas_result)(cas__succeed(err));
}

void cas_upload_free(cas_upload *u) {
    cas_allocator a;
    size_t i;
    if (!u) return;
    a = u->alloc;
    cas_xorb_writer_free(&u->writer);
    for (i = 0; i < u->nanswers; i++) cas_shard_free(&u->answers[i]);
    cas__free(&a, u->answers, u->answers_cap * sizeof *u->answers);
    cas__free(&a, u->shards, u->shards_cap * sizeof *u->shards);
    cas__free(&a, u->buf, u->cap);
    cas__free(&a, u->win, u->win_cap * sizeof *u->win);
    cas__free(&a, u->cc, CAS_UPLOAD_BATCH * sizeof *u->cc);
    cas__free(&a, u->recs, (size_t)CAS_UPLOAD_BATCH * CAS__UP_REC);
    cas__free(&a, u->chunks, u->chunks_cap * sizeof *u->chunks);
    cas__free(&a, u->chunk_xorb, u->chunk_xorb_cap * sizeof *u->chunk_xorb);
    cas__free(&a, u->index, u->index_cap * sizeof *u->index);
    cas__free(&a, u->xorbs, u->xorbs_cap * sizeof *u->xorbs);
    cas__free(&a, u->xbuf, u->xcap);
    cas__free(&a, u->terms, u->terms_cap * sizeof *u->terms);
    cas__free(&a, u->term_xorb, u->term_xorb_cap * sizeof *u->term_xorb);
    cas__free(&a, u->files, u->files_cap * sizeof *u->files);
    cas__free(&a, u->sbuf, u->slen);
    cas__free(&a, u, sizeof *u);
}

const cas_error *cas_upload_error(const cas_upload *u) { return &u->error; }
size_t cas_upload_open_queries(const cas_upload *u) { return u->nopen; }
void cas_upload_get_stats(const cas_upload *u, cas_upload_stats *out) { *out = u->stats; }

cas_result cas_upload_add_shard(cas_upload *u, const cas_shard *s) {
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (!s) return (cas_result)(cas__fail(&u->error, CAS_E_ARGUMENT, 0, "no shard"));
    if (u->state >= CAS__UP_FINISHING) return CAS_E_STATE;
    if (cas__grow(&u->alloc, (void **)&u->shards, &u->shards_cap, u->nshards + 1, sizeof *u->shards, 8))
        return (cas_result)(cas__up_fail(u, CAS_E_NOMEM, "upload shard list"));
    u->shards[u->nshards++] = s;
    return CAS_OK;
}

cas_result cas_upload_file_begin(cas_upload *u) {
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (u->state != CAS__UP_IDLE || u->ev_pending) return CAS_E_STATE;
    cas__up_release(u);
    cas_chunk_stream_init(&u->stream);
    cas_merkle_init(&u->merkle);
    cas_sha256_init(&u->sha);
    cas__up_defrag_reset(u);
    memset(&u->result, 0, sizeof u->result);
    u->host_sha_set = 0;
    u->fsize = u->farrived = u->farrived_bytes = u->fdecided = u->next_query = 0;
    u->ffirst_term = (uint32_t)u->nterms;
    u->final_cut = u->forced = u->pending_new = 0;
    u->state = CAS__UP_FILE;
    return CAS_OK;
}

cas_result cas_upload_push(cas_upload *u, const void *data, size_t len, size_t *consumed) {
    const uint8_t *p = (const uint8_t *)data;
    size_t done = 0;
    if (consumed) *consumed = 0;
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (u->state != CAS__UP_FILE) return CAS_E_STATE;
    if (!data && len) return (cas_result)(cas__fail(&u->error, CAS_E_ARGUMENT, u->fsize, "no data"));
    for (;;) {
        size_t room, take;
        int rc = cas__up_drive(u);
        if (rc != CAS_NEED_INPUT) return (cas_result)(rc);
        if (done == len) return CAS_NEED_INPUT;
        room = u->cap - u->len;
        if (room == 0) {
            size_t base = u->front < u->count ? u->win[u->front].off : u->cstart;
            /* Move only once a good part is decided: keeps the copying ~1 byte per byte. */
            if (base >= u->cap / 4) cas__up_compact(u, base);
            else u->forced = 1; /* full: decide down to the lookahead without waiting */
            continue;
        }
        take = len - done < room ? len - done : room;
        memcpy(u->buf + u->len, p + done, take);
        if (!(u->flags & (CAS_UPLOAD_NO_SHA256 | CAS_UPLOAD_HOST_SHA256))) cas_sha256_update(&u->sha, p + done, take);
        u->len += take;
        u->fsize += take;
        u->stats.bytes_in += take;
        done += take;
        if (consumed) *consumed = done;
    }
}

cas_result cas_upload_file_sha256(cas_upload *u, const uint8_t sha256[32]) {
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (u->state != CAS__UP_FILE && u->state != CAS__UP_ENDING) return CAS_E_STATE;
    if (!(u->flags & CAS_UPLOAD_HOST_SHA256)) return CAS_E_STATE;
    memcpy(u->host_sha, sha256, 32);
    u->host_sha_set = 1;
    return CAS_OK;
}

cas_result cas_upload_file_end(cas_upload *u, cas_upload_file_result *out) {
    int rc;
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (u->state == CAS__UP_FILE) u->state = CAS__UP_ENDING;
    if (u->state != CAS__UP_ENDING) return CAS_E_STATE;
    rc = cas__up_drive(u);
    if (rc == CAS_OK && out) *out = u->result;
    return (cas_result)(rc);
}

cas_result cas_upload_next(cas_upload *u, cas_upload_event *ev) {
    int rc;
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (!u->ev_pending) {
        cas__up_release(u);
        if (u->state != CAS__UP_FINISHING && u->state != CAS__UP_DONE) return CAS_NEED_INPUT;
        rc = cas__up_drive(u);
        if (rc != CAS_READY) return (cas_result)(rc);
    }
    *ev = u->ev;
    u->ev_pending = 0;
    return CAS_READY;
}

cas_result cas_upload_answer(cas_upload *u, uint64_t id, const void *body, size_t len, cas_error *err) {
    size_t i;
    int rc;
    if (u->error.code < 0) return (cas_result)(cas__fail(err, u->error.code, 0, "the session has failed"));
    if (id == 0 || id >= u->next_qid) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "no such query"));
    for (i = 0; i < u->nopen && u->open_q[i] != id; i++) {}
    if (i < u->nopen) {
        memmove(u->open_q + i, u->open_q + i + 1, (u->nopen - i - 1) * sizeof u->open_q[0]);
        u->nopen--;
    }
    u->stats.answers++;
    if (!body) return (cas_result)(cas__succeed(err));
    if (cas__grow(&u->alloc, (void **)&u->answers, &u->answers_cap, u->nanswers + 1, sizeof *u->answers, 8))
        return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "answer shard list"));
    rc = cas_shard_parse(&u->alloc, body, len, &u->answers[u->nanswers], err);
    if (rc != CAS_OK) return (cas_result)(rc);
    u->nanswers++;
    u->stats.answers_found++;
    return CAS_OK;
}

cas_result cas_upload_finish(cas_upload *u) {
    if (u->error.code < 0) return (cas_result)(u->error.code);
    if (u->state != CAS__UP_IDLE) return CAS_E_STATE;
    u->state = CAS__UP_FINISHING;
    return CAS_OK;
}

#undef CAS__UP_NONE
#undef CAS__UP_REC

/* ==== >>engines: download ================================================================ */

enum { CAS__DLQ_IDLE, CAS__DLQ_QUEUED, CAS__DLQ_ISSUED, CAS__DLQ_ACTIVE, CAS__DLQ_DONE };

typedef struct cas__dl_term {
    uint64_t start;    /* file offset of the term's first decoded byte */
    uint64_t bytes;    /* decoded bytes accepted so far */
    cas_chunk *leaves; /* verify: leaves decoded ahead of the Merkle frontier, by position */
    uint32_t count;    /* chunks */
    uint32_t done;     /* chunks accepted, always a prefix of the term */
    uint32_t fed;      /* chunks pushed into the Merkle aggregator */
    uint32_t range;    /* flat range id */
    uint32_t refetch;  /* a chunk was dropped from the window: its range is needed again */
} cas__dl_term;

typedef struct cas__dl_active {
    cas_xorb_stream xs;
    cas_multipart mp;
    int multipart;
    int in_range;       /* range k is being decoded */
    uint32_t k, kend;   /* current range and the last range of the current part */
    uint64_t left;      /* bytes of range k still to come */
    uint32_t chunks;    /* records of range k decoded */
    uint32_t received;  /* ranges complete */
    uint8_t *got;       /* per range of the request: its part arrived */
} cas__dl_active;

typedef struct cas__dl_req {
    uint32_t xorb, fetch;     /* recon->xorbs[xorb].fetches[fetch] */
    uint32_t range0, nranges; /* its ranges [range0, range0 + nranges) */
    uint32_t first_term;      /* the lowest term it serves (plan order) */
    int state;
    int refetch;
    const char *range_hdr;
    uint64_t body_len;
    cas__dl_active *act;
} cas__dl_req;

struct cas_download {
    cas_allocator alloc;
    const cas_recon *r;
    cas_download_desc desc;
    cas_error error;
    int verify, sequential, finished;
    uint64_t skip, limit_end; /* the output is file bytes [skip, limit_end) */
    uint64_t sum;             /* the terms' unpacked_length summed */
    cas__dl_term *terms;
    size_t nterms;
    uint32_t *fetch_base;  /* per xorb (+1): flat index of its first fetch */
    uint32_t *range_base;  /* per flat fetch (+1): flat index of its first range */
    uint32_t nfetches, nranges;
    uint32_t *rterms;      /* term indices grouped by flat range, by chunk_start */
    uint32_t *rterms_base; /* per flat range (+1) */
    uint32_t *range_req;   /* per flat range: the request that asks for it alone */
    cas__dl_req *reqs;
    uint32_t nreqs, nplan;
    uint32_t *queue;       /* ring deque of request ids */
    uint32_t qhead, qlen;
    char *hdrs;
    size_t hdrs_size;
    uint32_t inflight, done_reqs;
    size_t terms_done, refetch_pending;
    size_t mfront, ofront; /* first term not fully in the Merkle / in the output */
    uint8_t *ring;         /* sequential window: output offset x lives at x % window */
    size_t window;
    uint64_t flushed;      /* sequential: output bytes handed to the sink */
    uint64_t fetched, produced;
    cas_merkle merkle;
};

static int cas__dl_fail(cas_download *d, int code, uint64_t offset, const char *what) {
    if (d->error.code >= 0) cas__fail(&d->error, code, offset, what);
    return d->error.code;
}


/* A callback's return value: 0 goes on, a negative cas_result is passed up, anything else
   cancels. */
static int cas__dl_host(cas_download *d, int rc, const char *what) {
    if (rc == 0) return CAS_OK;
    if (rc < 0) return cas__dl_fail(d, rc, 0, what);
    return cas__dl_fail(d, CAS_E_CANCELLED, 0, "cancelled by a sink callback");
}

/* Arrays of n elements (at least one, so that an empty manifest needs no special case). */
static void *cas__dl_array(cas_download *d, size_t n, size_t size) {
    void *p;
    if (n == 0) n = 1;
    if (n > (size_t)-1 / size) return NULL;
    p = cas__alloc(&d->alloc, n * size);
    if (p) memset(p, 0, n * size); /* cas_download_free may meet it half-filled */
    return p;
}
static void cas__dl_array_free(cas_download *d, void *p, size_t n, size_t size) {
    cas__free(&d->alloc, p, (n ? n : 1) * size);
}

/* "bytes=A-B,C-D..." of ranges[0..n) at p (NUL-terminated); returns its length + 1. */
static size_t cas__dl_range_header(char *p, const cas_recon_range *g, uint32_t n) {
    size_t len = 6;
    uint32_t i;
    if (p) memcpy(p, "bytes=", 6);
    for (i = 0; i < n; i++) {
        if (i) { if (p) p[len] = ','; len++; }
        len += cas__write_u64(p ? p + len : NULL, g[i].byte_start);
        if (p) p[len] = '-';
        len++;
        len += cas__write_u64(p ? p + len : NULL, g[i].byte_end);
    }
    if (p) p[len] = 0;
    return len + 1;
}

static const cas_recon_range *cas__dl_ranges(const cas_download *d, const cas__dl_req *q) {
    return d->r->xorbs[q->xorb].fetches[q->fetch].ranges + q->range0;
}

typedef struct cas__dl_sortkey {
    uint32_t range, chunk, term;
} cas__dl_sortkey;

static int cas__dl_sortkey_less(const void *ctx, const void *a, const void *b) {
    const cas__dl_sortkey *x = (const cas__dl_sortkey *)a, *y = (const cas__dl_sortkey *)b;
    (void)ctx;
    if (x->range != y->range) return x->range < y->range;
    if (x->chunk != y->chunk) return x->chunk < y->chunk;
    return x->term < y->term;
}

static int cas__dl_req_less(const void *ctx, const void *a, const void *b) {
    const cas__dl_req *x = (const cas__dl_req *)a, *y = (const cas__dl_req *)b;
    (void)ctx;
    if (x->first_term != y->first_term) return x->first_term < y->first_term;
    if (x->xorb != y->xorb) return x->xorb < y->xorb;
    if (x->fetch != y->fetch) return x->fetch < y->fetch;
    return x->range0 < y->range0;
}

static void cas__dl_queue_push(cas_download *d, uint32_t id, int front) {
    uint32_t cap = d->nreqs;
    if (front) {
        d->qhead = (d->qhead + cap - 1) % cap;
        d->queue[d->qhead] = id;
    } else {
        d->queue[(d->qhead + d->qlen) % cap] = id;
    }
    d->qlen++;
    d->reqs[id].state = CAS__DLQ_QUEUED;
}

void cas_download_free(cas_download *d) {
    uint32_t i;
    size_t t;
    if (!d) return;
    for (i = 0; d->reqs && i < d->nreqs; i++) {
        cas__dl_active *a = d->reqs[i].act;
        if (a) {
            cas_xorb_stream_free(&a->xs);
            cas__free(&d->alloc, a->got, d->reqs[i].nranges);
            cas__free(&d->alloc, a, sizeof *a);
        }
    }
    for (t = 0; d->terms && t < d->nterms; t++)
        cas__dl_array_free(d, d->terms[t].leaves, d->terms[t].leaves ? d->terms[t].count : 0, sizeof(cas_chunk));
    cas__dl_array_free(d, d->terms, d->nterms, sizeof *d->terms);
    cas__dl_array_free(d, d->fetch_base, d->r->num_xorbs + 1, sizeof(uint32_t));
    cas__dl_array_free(d, d->range_base, (size_t)d->nfetches + 1, sizeof(uint32_t));
    cas__dl_array_free(d, d->rterms, d->nterms, sizeof(uint32_t));
    cas__dl_array_free(d, d->rterms_base, (size_t)d->nranges + 1, sizeof(uint32_t));
    cas__dl_array_free(d, d->range_req, d->nranges, sizeof(uint32_t));
    cas__dl_array_free(d, d->reqs, d->nreqs, sizeof *d->reqs);
    cas__dl_array_free(d, d->queue, d->nreqs, sizeof(uint32_t));
    cas__free(&d->alloc, d->hdrs, d->hdrs_size);
    cas__free(&d->alloc, d->ring, d->window);
    {
        cas_allocator a = d->alloc;
        cas__free(&a, d, sizeof *d);
    }
}

/* Flat fetch/range numbering, the per-range term lists and the per-term state. */
static int cas__dl_index(cas_download *d) {
    const cas_recon *r = d->r;
    size_t x, t, nf = 0, nr = 0;
    cas__dl_sortkey *keys;
    uint64_t pos = 0;
    d->fetch_base = (uint32_t *)cas__dl_array(d, r->num_xorbs + 1, sizeof(uint32_t));
    if (!d->fetch_base) return CAS_E_NOMEM;
    for (x = 0; x < r->num_xorbs; x++) {
        d->fetch_base[x] = (uint32_t)nf;
        nf += r->xorbs[x].num_fetches;
        if (nf >= 0xFFFFFFFFu) return CAS_E_LIMIT;
    }
    d->fetch_base[r->num_xorbs] = (uint32_t)nf;
    d->nfetches = (uint32_t)nf;
    d->range_base = (uint32_t *)cas__dl_array(d, nf + 1, sizeof(uint32_t));
    if (!d->range_base) return CAS_E_NOMEM;
    for (x = 0; x < r->num_xorbs; x++) {
        size_t f;
        for (f = 0; f < r->xorbs[x].num_fetches; f++) {
            d->range_base[d->fetch_base[x] + f] = (uint32_t)nr;
            nr += r->xorbs[x].fetches[f].num_ranges;
            if (nr >= 0xFFFFFFFFu) return CAS_E_LIMIT;
        }
    }
    d->range_base[nf] = (uint32_t)nr;
    d->nranges = (uint32_t)nr;
    if (r->num_terms >= 0xFFFFFFFFu) return CAS_E_LIMIT;
    d->nterms = r->num_terms;
    d->terms = (cas__dl_term *)cas__dl_array(d, r->num_terms, sizeof *d->terms);
    d->rterms = (uint32_t *)cas__dl_array(d, r->num_terms, sizeof(uint32_t));
    d->rterms_base = (uint32_t *)cas__dl_array(d, nr + 1, sizeof(uint32_t));
    keys = (cas__dl_sortkey *)cas__dl_array(d, 2 * r->num_terms, sizeof *keys); /* + sorting room */
    if (!d->terms || !d->rterms || !d->rterms_base || !keys) {
        if (keys) cas__dl_array_free(d, keys, 2 * r->num_terms, sizeof *keys);
        return CAS_E_NOMEM;
    }
    memset(d->terms, 0, (r->num_terms ? r->num_terms : 1) * sizeof *d->terms);
    for (t = 0; t < r->num_terms; t++) {
        const cas_recon_term *rt = &r->terms[t];
        cas__dl_term *T = &d->terms[t];
        if (rt->xorb >= r->num_xorbs || rt->fetch >= r->xorbs[rt->xorb].num_fetches ||
            rt->range >= r->xorbs[rt->xorb].fetches[rt->fetch].num_ranges) {
            cas__dl_array_free(d, keys, 2 * r->num_terms, sizeof *keys); /* (a manifest not from the parser) */
            return CAS_E_ARGUMENT;
        }
        T->start = pos;
        pos += rt->unpacked_length;
        T->count = rt->chunk_end - rt->chunk_start;
        T->range = d->range_base[d->fetch_base[rt->xorb] + rt->fetch] + rt->range;
        keys[t].range = T->range;
        keys[t].chunk = rt->chunk_start;
        keys[t].term = (uint32_t)t;
    }
    cas__sort(keys, keys + r->num_terms, r->num_terms, sizeof *keys, cas__dl_sortkey_less, NULL);
    memset(d->rterms_base, 0, ((size_t)nr + 1) * sizeof(uint32_t));
    for (t = 0; t < r->num_terms; t++) {
        d->rterms[t] = keys[t].term;
        d->rterms_base[keys[t].range + 1]++;
    }
    for (x = 0; x < nr; x++) d->rterms_base[x + 1] += d->rterms_base[x];
    cas__dl_array_free(d, keys, 2 * r->num_terms, sizeof *keys);
    d->skip = r->offset_into_first_range;
    d->sum = d->limit_end = pos;
    if (d->desc.range_length && d->desc.range_length < pos - d->skip)
        d->limit_end = d->skip + d->desc.range_length;
    return CAS_OK;
}

/* The lowest term served by flat ranges [r0, r1), UINT32_MAX if none. */
static uint32_t cas__dl_first_term(const cas_download *d, uint32_t r0, uint32_t r1) {
    uint32_t best = 0xFFFFFFFFu, i;
    for (i = d->rterms_base[r0]; i < d->rterms_base[r1]; i++)
        if (d->rterms[i] < best) best = d->rterms[i];
    return best;
}

/* Requests: the plan (per fetch entry, or per range), then one single-range request per
   range for refetches (in per-range mode the plan's own), and their Range headers. */
static int cas__dl_plan(cas_download *d) {
    const cas_recon *r = d->r;
    int per_range = (d->desc.flags & CAS_DOWNLOAD_PER_RANGE) != 0;
    uint32_t nplan = per_range ? d->nranges : d->nfetches, i, x, id = 0;
    size_t hsize = 0, hpos = 0;
    uint64_t nreqs = (uint64_t)nplan + (per_range ? 0 : d->nranges);
    if (nreqs >= 0xFFFFFFFFu) return CAS_E_LIMIT;
    d->nplan = nplan;
    d->nreqs = (uint32_t)nreqs;
    d->reqs = (cas__dl_req *)cas__dl_array(d, d->nreqs, sizeof *d->reqs);
    d->queue = (uint32_t *)cas__dl_array(d, d->nreqs, sizeof(uint32_t));
    d->range_req = (uint32_t *)cas__dl_array(d, d->nranges, sizeof(uint32_t));
    if (!d->reqs || !d->queue || !d->range_req) return CAS_E_NOMEM;
    /* plan requests, then per-range slots */
    for (x = 0; x < r->num_xorbs; x++) {
        uint32_t f;
        for (f = 0; f < r->xorbs[x].num_fetches; f++) {
            const cas_recon_fetch *fe = &r->xorbs[x].fetches[f];
            uint32_t rb = d->range_base[d->fetch_base[x] + f], k;
            if (!per_range) {
                cas__dl_req *q = &d->reqs[id++];
                q->xorb = x, q->fetch = f, q->range0 = 0, q->nranges = (uint32_t)fe->num_ranges;
                q->first_term = cas__dl_first_term(d, rb, rb + q->nranges);
                hsize += cas__dl_range_header(NULL, fe->ranges, q->nranges);
            }
            for (k = 0; k < fe->num_ranges; k++) {
                cas__dl_req *q = &d->reqs[per_range ? id++ : nplan + rb + k];
                q->xorb = x, q->fetch = f, q->range0 = k, q->nranges = 1;
                q->first_term = cas__dl_first_term(d, rb + k, rb + k + 1);
                q->refetch = !per_range;
                hsize += cas__dl_range_header(NULL, fe->ranges + k, 1);
            }
        }
    }
    /* plan order: by the first term served; requests that serve no term are not made */
    {
        cas__dl_req *room = (cas__dl_req *)cas__dl_array(d, nplan, sizeof *room);
        if (!room) return CAS_E_NOMEM;
        cas__sort(d->reqs, room, nplan, sizeof *d->reqs, cas__dl_req_less, NULL);
        cas__dl_array_free(d, room, nplan, sizeof *room);
    }
    d->hdrs_size = hsize ? hsize : 1;
    d->hdrs = (char *)cas__alloc(&d->alloc, d->hdrs_size);
    if (!d->hdrs) return CAS_E_NOMEM;
    for (i = 0; i < d->nreqs; i++) {
        cas__dl_req *q = &d->reqs[i];
        const cas_recon_range *g = cas__dl_ranges(d, q);
        uint32_t k;
        q->range_hdr = d->hdrs + hpos;
        hpos += cas__dl_range_header(d->hdrs + hpos, g, q->nranges);
        for (k = 0; k < q->nranges; k++) q->body_len += g[k].byte_end - g[k].byte_start + 1;
        if (q->nranges == 1)
            d->range_req[d->range_base[d->fetch_base[q->xorb] + q->fetch] + q->range0] = i;
        q->state = CAS__DLQ_IDLE;
        if (i < nplan && q->first_term != 0xFFFFFFFFu) cas__dl_queue_push(d, i, 0);
    }
    return CAS_OK;
}

cas_result cas_download_create(const cas_allocator *alloc, const cas_recon *recon,
                               const cas_download_desc *desc, cas_download **out, cas_error *err) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas_download *d;
    int rc;
    if (out) *out = NULL;
    if (!recon || !desc || !out || (!desc->write_at == !desc->write))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "recon, desc, out and exactly one sink are required"));
    if (recon->num_terms && !recon->terms)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "recon has no terms array"));
    d = (cas_download *)cas__alloc(&a, sizeof *d);
    if (!d) return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "download engine"));
    memset(d, 0, sizeof *d);
    d->alloc = a;
    d->r = recon;
    d->desc = *desc;
    d->sequential = desc->write != NULL;
    if (desc->prefix) d->merkle = *desc->prefix;
    else cas_merkle_init(&d->merkle);
    /* A file hash is a promise that the whole file is checked: the peer (the manifest) must
       not be able to turn the check off by describing less than the whole file, and a
       caller asking for a range must say so with CAS_DOWNLOAD_NO_VERIFY. Bytes missing at
       the end (fewer terms) or in the middle change the Merkle hash: CAS_E_HASH at the end. */
    if (desc->file_hash && !(desc->flags & CAS_DOWNLOAD_NO_VERIFY)) {
        const char *why = desc->range_length ? "a file hash with a range_length: the hash can only be checked over the whole file (pass CAS_DOWNLOAD_NO_VERIFY for a range)"
                        : recon->offset_into_first_range ? "a file hash with a manifest that starts inside its first term (offset_into_first_range > 0): it does not describe the whole file, so the hash could not be checked"
                        : NULL;
        if (why) {
            cas_download_free(d);
            return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, desc->range_length ? 0 : recon->offset_into_first_range, why));
        }
        d->verify = 1;
    }
    rc = cas__dl_index(d);
    if (rc == CAS_OK) rc = cas__dl_plan(d);
    if (rc == CAS_OK) {
        if (d->sequential) {
            uint64_t w = desc->window ? desc->window : (64u << 20);
            uint64_t total = d->limit_end - d->skip;
            if (w > total) w = total ? total : 1;
            d->window = (size_t)w;
            d->ring = (uint8_t *)cas__alloc(&a, d->window);
            if (!d->ring) rc = CAS_E_NOMEM;
        }
    }
    if (rc != CAS_OK) {
        cas_download_free(d);
        return (cas_result)(cas__fail(err, rc, 0, rc == CAS_E_NOMEM ? "download engine tables"
                                                 : rc == CAS_E_LIMIT ? "reconstruction has more than 2^32 ranges or terms"
                                                                     : "recon is not from cas_recon_parse"));
    }
    *out = d;
    return (cas_result)(cas__succeed(err));
}

const cas_error *cas_download_error(const cas_download *d) { return &d->error; }

/* One allocation as a cas_arena stores it. */
static uint64_t cas__arena_cost(uint64_t size) {
    return ((size ? size : 1) + 15) / 16 * 16 + CAS_ARENA_OVERHEAD;
}

uint64_t cas_download_memory(const cas_recon *r, const cas_download_desc *desc, uint32_t inflight) {
    int per_range = desc && (desc->flags & CAS_DOWNLOAD_PER_RANGE);
    uint64_t nf = 0, nr = 0, hdrs = 0, sum = 0, max_ranges = 1, total = 0, w;
    size_t x, f, t;
    for (x = 0; x < r->num_xorbs; x++)
        for (f = 0; f < r->xorbs[x].num_fetches; f++) {
            const cas_recon_fetch *fe = &r->xorbs[x].fetches[f];
            uint32_t k;
            nf++;
            nr += fe->num_ranges;
            if (!per_range) {
                hdrs += cas__dl_range_header(NULL, fe->ranges, (uint32_t)fe->num_ranges);
                if (fe->num_ranges > max_ranges) max_ranges = fe->num_ranges;
            }
            for (k = 0; k < fe->num_ranges; k++) hdrs += cas__dl_range_header(NULL, fe->ranges + k, 1);
        }
    for (t = 0; t < r->num_terms; t++) {
        sum += r->terms[t].unpacked_length;
        total += cas__arena_cost((r->terms[t].chunk_end - r->terms[t].chunk_start) * sizeof(cas_chunk));
    }
    total += cas__arena_cost(sizeof(struct cas_download));
    total += cas__arena_cost(r->num_terms * sizeof(cas__dl_term));         /* terms */
    total += cas__arena_cost((r->num_xorbs + 1) * sizeof(uint32_t));      /* fetch_base */
    total += cas__arena_cost((nf + 1) * sizeof(uint32_t));                 /* range_base */
    total += cas__arena_cost(r->num_terms * sizeof(uint32_t));             /* rterms */
    total += cas__arena_cost((nr + 1) * sizeof(uint32_t));                 /* rterms_base */
    total += cas__arena_cost(2 * r->num_terms * sizeof(cas__dl_sortkey));  /* keys + sorting room (create) */
    total += cas__arena_cost((per_range ? nr : nf) * sizeof(cas__dl_req));   /* the plan's sorting room (create) */
    total += cas__arena_cost(nr * sizeof(uint32_t));                       /* range_req */
    total += cas__arena_cost((per_range ? nr : nf + nr) * sizeof(cas__dl_req));
    total += cas__arena_cost((per_range ? nr : nf + nr) * sizeof(uint32_t)); /* queue */
    total += cas__arena_cost(hdrs);
    if (desc && desc->write) {
        uint64_t out = sum - (r->num_terms ? r->offset_into_first_range : 0);
        w = desc->window ? desc->window : (64u << 20);
        if (desc->range_length && desc->range_length < out) out = desc->range_length;
        if (w > out) w = out ? out : 1;
        total += cas__arena_cost(w);
    }
    total += (uint64_t)inflight * (cas__arena_cost(sizeof(cas__dl_active)) + cas__arena_cost(max_ranges) +
                                   cas__arena_cost(CAS__XORB_STREAM_BUF) + 2 * cas__arena_cost(CAS_CHUNK_MAX_SIZE));
    return total;
}

void cas_download_cancel(cas_download *d) {
    cas__dl_fail(d, CAS_E_CANCELLED, 0, "cancelled by cas_download_cancel");
}

void cas_download_get_progress(const cas_download *d, cas_download_progress *p) {
    p->phase = d->finished ? CAS_DOWNLOAD_DONE : CAS_DOWNLOAD_FETCHING;
    p->bytes_fetched = d->fetched;
    p->bytes_written = d->produced;
    p->bytes_total = d->limit_end - d->skip;
    p->requests_done = d->done_reqs;
    p->requests_total = d->nplan;
}

static int cas__dl_progress(cas_download *d) {
    cas_download_progress p;
    if (!d->desc.progress) return CAS_OK;
    cas_download_get_progress(d, &p);
    if (d->desc.progress(d->desc.user, &p) != 0)
        return cas__dl_fail(d, CAS_E_CANCELLED, 0, "cancelled by the progress callback");
    return d->error.code < 0 ? d->error.code : CAS_OK;
}

/* Sequential: hand the window's bytes that are now in order to the sink. */
static int cas__dl_flush(cas_download *d) {
    while (d->ofront < d->nterms) {
        const cas__dl_term *T = &d->terms[d->ofront];
        uint64_t end = T->start + T->bytes;
        if (end < d->skip) end = d->skip;
        if (end > d->limit_end) end = d->limit_end;
        end -= d->skip;
        while (end > d->flushed) {
            size_t at = (size_t)(d->flushed % d->window), n = d->window - at;
            int rc;
            if (n > end - d->flushed) n = (size_t)(end - d->flushed);
            rc = cas__dl_host(d, d->desc.write(d->desc.user, d->ring + at, n), "the write sink failed");
            if (rc != CAS_OK) return rc;
            d->flushed += n;
        }
        if (T->done < T->count) break;
        d->ofront++;
    }
    return CAS_OK;
}

static void cas__dl_merkle_advance(cas_download *d) {
    while (d->mfront < d->nterms) {
        cas__dl_term *T = &d->terms[d->mfront];
        while (T->fed < T->done) cas_merkle_push(&d->merkle, &T->leaves[T->fed++]);
        if (T->done < T->count) break;
        cas__dl_array_free(d, T->leaves, T->count, sizeof(cas_chunk));
        T->leaves = NULL;
        d->mfront++;
    }
}

/* Chunk p of term t decoded: write its bytes (clipped to the output), account for it. */
static int cas__dl_accept(cas_download *d, uint32_t t, uint32_t index, const uint8_t *data, uint32_t size,
                          const cas_hash *hash) {
    cas__dl_term *T = &d->terms[t];
    const cas_recon_term *rt = &d->r->terms[t];
    uint64_t fa = T->start + T->bytes, lo = fa, hi = fa + size;
    int rc;
    if (T->bytes + size > rt->unpacked_length)
        return cas__dl_fail(d, CAS_E_TERM_SIZE, rt->priv_offset,
                            "a term's chunks decode to more bytes than its unpacked_length");
    if (lo < d->skip) lo = d->skip;
    if (hi > d->limit_end) hi = d->limit_end;
    if (lo < hi && d->sequential && lo - d->skip != d->flushed && hi - d->skip - d->flushed > d->window) {
        /* beyond the window: drop, and ask for the range again later */
        if (!T->refetch) d->refetch_pending++;
        T->refetch = 1;
        return CAS_OK;
    }
    if (d->desc.chunk) { /* the chunk is taken now (a dropped one is reported when it is) */
        cas_chunk c;
        c.hash = *hash, c.size = size;
        rc = cas__dl_host(d, d->desc.chunk(d->desc.user, t, index, &c), "a chunk is not the one the host expects");
        if (rc != CAS_OK) return rc;
    }
    if (lo < hi) {
        uint64_t at = lo - d->skip;
        size_t n = (size_t)(hi - lo);
        const uint8_t *src = data + (lo - fa);
        if (!d->sequential) {
            rc = cas__dl_host(d, d->desc.write_at(d->desc.user, at, src, n), "the write_at sink failed");
        } else if (at == d->flushed) {
            rc = cas__dl_host(d, d->desc.write(d->desc.user, src, n), "the write sink failed");
            d->flushed += n;
        } else { /* within the window (checked above) */
            size_t pos = (size_t)(at % d->window), first = d->window - pos;
            if (first > n) first = n;
            memcpy(d->ring + pos, src, first);
            memcpy(d->ring, src + first, n - first);
            rc = CAS_OK;
        }
        if (rc != CAS_OK) return rc;
        d->produced += n;
    }
    T->bytes += size;
    if (d->verify) {
        cas_chunk leaf;
        leaf.hash = *hash;
        leaf.size = size;
        if (t == d->mfront && T->fed == T->done) {
            cas_merkle_push(&d->merkle, &leaf);
            T->fed++;
        } else {
            if (!T->leaves) {
                T->leaves = (cas_chunk *)cas__dl_array(d, T->count, sizeof(cas_chunk));
                if (!T->leaves) return cas__dl_fail(d, CAS_E_NOMEM, 0, "leaves of a term decoded early");
            }
            T->leaves[T->done] = leaf;
        }
    }
    T->done++;
    if (T->done == T->count) {
        if (T->bytes != rt->unpacked_length)
            return cas__dl_fail(d, CAS_E_TERM_SIZE, rt->priv_offset,
                                "a term's chunks decode to fewer bytes than its unpacked_length");
        d->terms_done++;
        if (T->refetch) { T->refetch = 0; d->refetch_pending--; }
    }
    if (d->verify && t == d->mfront) cas__dl_merkle_advance(d);
    if (d->sequential) return cas__dl_flush(d);
    return CAS_OK;
}

/* Chunk `index` of flat range `fr` decoded: every term that needs it next takes it. */
static int cas__dl_chunk(cas_download *d, uint32_t fr, uint32_t index, const uint8_t *data,
                         uint32_t size) {
    uint32_t i;
    cas_hash hash;
    int hashed = 0;
    for (i = d->rterms_base[fr]; i < d->rterms_base[fr + 1]; i++) {
        uint32_t t = d->rterms[i];
        const cas_recon_term *rt = &d->r->terms[t];
        int rc;
        if (rt->chunk_start > index) break;
        if (index >= rt->chunk_end || index - rt->chunk_start != d->terms[t].done) continue;
        if ((d->verify || d->desc.chunk) && !hashed) {
            cas_chunk_hash(data, size, &hash);
            hashed = 1;
        }
        rc = cas__dl_accept(d, t, index, data, size, &hash);
        if (rc != CAS_OK) return rc;
    }
    return CAS_OK;
}

static void cas__dl_stream_reset(cas_xorb_stream *s) {
    s->priv_have = 0;
    s->priv_need = CAS_CHUNK_HEADER_SIZE;
    s->priv_offset = 0;
    s->priv_index = 0;
    s->priv_in_footer = 0;
    cas__succeed(&s->error);
}

static void cas__dl_range_begin(cas_download *d, cas__dl_req *q, uint32_t k) {
    cas__dl_active *a = q->act;
    const cas_recon_range *g = cas__dl_ranges(d, q) + k;
    a->k = k;
    a->left = g->byte_end - g->byte_start + 1;
    a->chunks = 0;
    a->in_range = 1;
    cas__dl_stream_reset(&a->xs);
}

/* Bytes of the current part (single-range body, or multipart part data). */
static int cas__dl_feed(cas_download *d, cas__dl_req *q, const uint8_t *p, size_t n) {
    cas__dl_active *a = q->act;
    while (n > 0) {
        const cas_recon_range *g;
        uint32_t fr;
        size_t take;
        if (!a->in_range)
            return cas__dl_fail(d, CAS_E_TRAILING, 0, "the response has more bytes than the ranges requested");
        g = cas__dl_ranges(d, q) + a->k;
        fr = d->range_base[d->fetch_base[q->xorb] + q->fetch] + q->range0 + a->k;
        take = n < a->left ? n : (size_t)a->left;
        n -= take;
        a->left -= take;
        while (take > 0) {
            cas_xorb_stream_chunk ch;
            size_t used;
            int rc = cas_xorb_stream_push(&a->xs, p, take, &used, &ch);
            p += used;
            take -= used;
            if (rc == CAS_NEED_INPUT) break;
            if (rc != CAS_READY)
                return cas__dl_fail(d, rc, g->byte_start + a->xs.error.offset, a->xs.error.what);
            if (a->chunks >= g->chunk_end - g->chunk_start)
                return cas__dl_fail(d, CAS_E_SIZE, g->byte_start + ch.offset,
                                    "a range holds more chunk records than its chunks say");
            rc = cas__dl_chunk(d, fr, g->chunk_start + a->chunks, ch.data, ch.header.uncompressed_size);
            if (rc != CAS_OK) return rc;
            a->chunks++;
        }
        if (a->left == 0) {
            if (cas_xorb_stream_finish(&a->xs) != CAS_OK || a->chunks != g->chunk_end - g->chunk_start)
                return cas__dl_fail(d, CAS_E_SIZE, g->byte_end,
                                    "a range's bytes do not end with its last chunk record");
            a->received++;
            if (a->k < a->kend) cas__dl_range_begin(d, q, a->k + 1);
            else a->in_range = 0;
        }
    }
    return CAS_OK;
}

/* A multipart part: it must be one requested range, or several adjacent ones. */
static int cas__dl_part(cas_download *d, cas__dl_req *q, const cas_multipart_event *ev) {
    cas__dl_active *a = q->act;
    const cas_recon_range *g = cas__dl_ranges(d, q);
    uint32_t k, j;
    for (k = 0; k < q->nranges && g[k].byte_start != ev->first; k++) {}
    if (k == q->nranges || a->got[k])
        return cas__dl_fail(d, CAS_E_MULTIPART, ev->first, "a multipart part is not a requested range (or came twice)");
    for (j = k; g[j].byte_end < ev->last; j++)
        if (j + 1 == q->nranges || g[j + 1].byte_start != g[j].byte_end + 1 || a->got[j + 1])
            return cas__dl_fail(d, CAS_E_MULTIPART, ev->first, "a multipart part does not end where a requested range ends");
    if (g[j].byte_end != ev->last)
        return cas__dl_fail(d, CAS_E_MULTIPART, ev->first, "a multipart part does not end where a requested range ends");
    memset(a->got + k, 1, j - k + 1);
    cas__dl_range_begin(d, q, k);
    a->kend = j;
    return CAS_OK;
}

static cas__dl_req *cas__dl_req_get(cas_download *d, uint32_t id, int state) {
    if (d->error.code < 0) return NULL;
    if (id >= d->nreqs || d->reqs[id].state != state) {
        cas__dl_fail(d, CAS_E_STATE, id, "request id not in the state this call needs");
        return NULL;
    }
    return &d->reqs[id];
}

static void cas__dl_release(cas_download *d, cas__dl_req *q) {
    if (q->act) {
        cas_xorb_stream_free(&q->act->xs);
        cas__free(&d->alloc, q->act->got, q->nranges);
        cas__free(&d->alloc, q->act, sizeof *q->act);
        q->act = NULL;
    }
}

cas_result cas_download_begin(cas_download *d, uint32_t id, const char *content_type,
                              size_t content_type_len) {
    cas__dl_req *q = cas__dl_req_get(d, id, CAS__DLQ_ISSUED);
    cas__dl_active *a;
    if (!q) return (cas_result)(d->error.code);
    a = (cas__dl_active *)cas__alloc(&d->alloc, sizeof *a);
    if (!a) return (cas_result)(cas__dl_fail(d, CAS_E_NOMEM, 0, "request state"));
    memset(a, 0, sizeof *a);
    q->act = a;
    a->got = (uint8_t *)cas__alloc(&d->alloc, q->nranges);
    if (!a->got || cas_xorb_stream_init(&d->alloc, &a->xs) != CAS_OK) {
        if (!a->got) { cas__free(&d->alloc, a, sizeof *a); q->act = NULL; }
        else cas__dl_release(d, q);
        return (cas_result)(cas__dl_fail(d, CAS_E_NOMEM, 0, "request buffers"));
    }
    memset(a->got, 0, q->nranges);
    q->state = CAS__DLQ_ACTIVE;
    if (q->nranges > 1) {
        cas_error e;
        a->multipart = 1;
        if (cas_multipart_init(&a->mp, content_type ? content_type : "",
                               content_type ? content_type_len : 0, q->nranges, &e) != CAS_OK)
            return (cas_result)(cas__dl_fail(d, e.code, e.offset, e.what));
    } else {
        a->got[0] = 1;
        a->kend = 0;
        cas__dl_range_begin(d, q, 0);
    }
    return CAS_OK;
}

cas_result cas_download_push(cas_download *d, uint32_t id, const void *data, size_t len) {
    cas__dl_req *q = cas__dl_req_get(d, id, CAS__DLQ_ACTIVE);
    const uint8_t *p = (const uint8_t *)data;
    int rc = CAS_OK;
    if (!q) return (cas_result)(d->error.code);
    d->fetched += len;
    if (!q->act->multipart) {
        rc = cas__dl_feed(d, q, p, len);
    } else {
        while (len > 0 && rc == CAS_OK) {
            cas_multipart_event ev;
            size_t used;
            int mrc;
            memset(&ev, 0, sizeof ev);
            mrc = cas_multipart_push(&q->act->mp, p, len, &used, &ev);
            p += used;
            len -= used;
            if (mrc == CAS_NEED_INPUT || mrc == CAS_END) break;
            if (mrc != CAS_READY)
                return (cas_result)(cas__dl_fail(d, mrc, q->act->mp.error.offset, q->act->mp.error.what));
            if (ev.type == CAS_MULTIPART_PART) {
                if (q->act->in_range)
                    return (cas_result)(cas__dl_fail(d, CAS_E_MULTIPART, ev.first, "a multipart part began inside a range"));
                rc = cas__dl_part(d, q, &ev);
            } else {
                rc = cas__dl_feed(d, q, ev.data, ev.len);
            }
        }
    }
    if (rc != CAS_OK) return (cas_result)(rc);
    return (cas_result)(cas__dl_progress(d));
}

cas_result cas_download_end(cas_download *d, uint32_t id) {
    cas__dl_req *q = cas__dl_req_get(d, id, CAS__DLQ_ACTIVE);
    if (!q) return (cas_result)(d->error.code);
    if (q->act->multipart) {
        cas_error e;
        if (cas_multipart_finish(&q->act->mp, &e) != CAS_OK)
            return (cas_result)(cas__dl_fail(d, e.code, e.offset, e.what));
    }
    if (q->act->in_range || q->act->received != q->nranges)
        return (cas_result)(cas__dl_fail(d, CAS_E_TRUNCATED, q->act->received,
                                         "the response ended before all requested ranges arrived"));
    cas__dl_release(d, q);
    q->state = CAS__DLQ_DONE;
    d->inflight--;
    d->done_reqs++;
    return (cas_result)(cas__dl_progress(d));
}

cas_result cas_download_abort(cas_download *d, uint32_t id) {
    cas__dl_req *q;
    if (d->error.code < 0) return (cas_result)(d->error.code);
    if (id >= d->nreqs || (d->reqs[id].state != CAS__DLQ_ISSUED && d->reqs[id].state != CAS__DLQ_ACTIVE))
        return (cas_result)(cas__dl_fail(d, CAS_E_STATE, id, "abort of a request that is not in flight"));
    q = &d->reqs[id];
    cas__dl_release(d, q);
    d->inflight--;
    cas__dl_queue_push(d, id, 1);
    return CAS_OK;
}

/* Sequential: queue the single-range requests of dropped terms near the window. */
static void cas__dl_queue_refetches(cas_download *d) {
    size_t t;
    for (t = d->ofront; t < d->nterms && d->refetch_pending; t++) {
        cas__dl_term *T = &d->terms[t];
        uint64_t out = T->start > d->skip ? T->start - d->skip : 0;
        cas__dl_req *q;
        if (t != d->ofront && out >= d->flushed + d->window) break; /* would drop again */
        if (!T->refetch) continue;
        q = &d->reqs[d->range_req[T->range]];
        if (q->state == CAS__DLQ_IDLE || q->state == CAS__DLQ_DONE) {
            q->refetch = 1;
            cas__dl_queue_push(d, d->range_req[T->range], 0);
        }
        if (q->state == CAS__DLQ_QUEUED) {
            T->refetch = 0;
            d->refetch_pending--;
        }
    }
}

static int cas__dl_req_useful(const cas_download *d, const cas__dl_req *q) {
    uint32_t fr = d->range_base[d->fetch_base[q->xorb] + q->fetch] + q->range0, i;
    for (i = d->rterms_base[fr]; i < d->rterms_base[fr + q->nranges]; i++)
        if (d->terms[d->rterms[i]].done < d->terms[d->rterms[i]].count) return 1;
    return 0;
}

cas_result cas_download_next(cas_download *d, cas_download_request *req) {
    int pass;
    memset(req, 0, sizeof *req);
    if (d->error.code < 0) return (cas_result)(d->error.code);
    if (d->finished) return CAS_END;
    for (pass = 0; pass < 2; pass++) {
        if (d->terms_done == d->nterms && d->inflight == 0) {
            if (d->sequential && d->flushed != d->limit_end - d->skip)
                return (cas_result)(cas__dl_fail(d, CAS_E_STATE, d->flushed, "sequential output incomplete"));
            if (d->verify) {
                cas_hash h;
                cas_merkle_file_hash(&d->merkle, &h);
                if (!cas_hash_equal(&h, d->desc.file_hash))
                    return (cas_result)(cas__dl_fail(d, CAS_E_HASH, 0, "the decoded chunks do not hash to the requested file hash"));
            }
            d->finished = 1;
            if (d->desc.progress) {
                cas_download_progress p;
                cas_download_get_progress(d, &p);
                if (d->desc.progress(d->desc.user, &p) != 0) {
                    d->finished = 0;
                    return (cas_result)(cas__dl_fail(d, CAS_E_CANCELLED, 0, "cancelled by the progress callback"));
                }
            }
            return CAS_END;
        }
        while (d->qlen) {
            uint32_t id = d->queue[d->qhead];
            cas__dl_req *q = &d->reqs[id];
            d->qhead = (d->qhead + 1) % d->nreqs;
            d->qlen--;
            if (q->state != CAS__DLQ_QUEUED) continue;
            if (!cas__dl_req_useful(d, q)) { q->state = CAS__DLQ_DONE; continue; }
            q->state = CAS__DLQ_ISSUED;
            d->inflight++;
            req->id = id;
            req->url = d->r->xorbs[q->xorb].fetches[q->fetch].url;
            req->range = q->range_hdr;
            req->body_length = q->body_len;
            req->xorb = q->xorb;
            req->ranges = cas__dl_ranges(d, q);
            req->num_ranges = q->nranges;
            req->refetch = q->refetch;
            return CAS_READY;
        }
        if (d->refetch_pending) cas__dl_queue_refetches(d);
    }
    if (d->inflight) return CAS_NEED_INPUT;
    return (cas_result)(cas__dl_fail(d, CAS_E_STATE, 0, "no request left to make but terms are incomplete"));
}

/* ==== >>engines: verified ranges ========================================================= */

/* MerkleHashSubtree (xet-core merkle_hash_subtree.rs). A level's nodes are grouped left to
   right by next_merge_cut (the Merkle rule above). Without the nodes before a list, its first
   groups are unknown; but where three cut nodes stand at distances that are valid group
   lengths (3..7: neither the minimum 2 nor the maximum 9 can have forced a cut between them),
   the grouping after the middle one is the same whatever came before (find_stable_start),
   and symmetrically at the end (find_stable_end). So a level keeps an unstable prefix and
   suffix as they are and promotes the groups of the stable middle to the next level. */

#define CAS__SUB_NONE ((size_t)-1)

/* While merging, a node carries the byte offset its subtree's layout gives it (its first byte,
   relative to the start of the left operand). A group is promoted only if its nodes are
   contiguous there: subtrees from a server are untrusted, and a hostile one can place real
   nodes at levels where the merge would join them out of file order (a tree with the right
   root whose leaves are not at the offsets the windows claim). With every group contiguous
   and the root covering [0, size), the root authenticates each leaf's position too. */
typedef struct {
    cas_chunk c;
    uint64_t off;
} cas__sub_node;

static int cas__sub_cut(const cas__sub_node *n) { return cas_hash_tail_u64(&n->c.hash) % 4 == 0; }
static int cas__sub_valid_gap(size_t g) { return g > 2 && g < CAS_MERKLE_MAX_GROUP - 1; }

/* next_merge_cut: the length of the group that starts list[0..n). */
static size_t cas__sub_group(const cas__sub_node *list, size_t n) {
    size_t end = n < CAS_MERKLE_MAX_GROUP ? n : CAS_MERKLE_MAX_GROUP, i;
    if (n <= 2) return n;
    for (i = 2; i < end; i++)
        if (cas__sub_cut(&list[i])) return i + 1;
    return end;
}

static size_t cas__sub_stable_start(const cas__sub_node *list, size_t n) {
    size_t prev2 = CAS__SUB_NONE, prev = CAS__SUB_NONE, i;
    if (n < 3) return CAS__SUB_NONE;
    for (i = 0; i < n; i++) {
        if (!cas__sub_cut(&list[i])) continue;
        if (prev != CAS__SUB_NONE && prev2 != CAS__SUB_NONE && cas__sub_valid_gap(i - prev) &&
            cas__sub_valid_gap(prev - prev2))
            return prev + 1;
        prev2 = prev, prev = i;
    }
    return CAS__SUB_NONE;
}

static size_t cas__sub_stable_end(const cas__sub_node *list, size_t n) {
    size_t next2 = CAS__SUB_NONE, next = CAS__SUB_NONE, i;
    if (n < 3) return CAS__SUB_NONE;
    for (i = n; i > 0; i--) { /* list[i - 1], from the end (no unsigned wrap past 0) */
        if (!cas__sub_cut(&list[i - 1])) continue;
        if (next != CAS__SUB_NONE && next2 != CAS__SUB_NONE && cas__sub_valid_gap(next - (i - 1)) &&
            cas__sub_valid_gap(next2 - next))
            return next + 1;
        next2 = next, next = i - 1;
    }
    return CAS__SUB_NONE;
}

/* split_and_promote: the groups of list's stable middle go to promoted[*np...]; *prefix and
   *suffix = the unstable ends kept at this level. CAS_E_HASH if a group is not contiguous. */
static int cas__sub_split(const cas__sub_node *list, size_t n, int at_start, int at_end, cas__sub_node *promoted,
                          size_t *np, size_t *prefix, size_t *suffix) {
    size_t s = 0, e = n, r;
    *np = 0, *prefix = n, *suffix = 0;
    if (n <= 1) return CAS_OK;
    if (!at_start && (s = cas__sub_stable_start(list, n)) == CAS__SUB_NONE) return CAS_OK;
    if (!at_end) {
        if ((r = cas__sub_stable_end(list + s, n - s)) == CAS__SUB_NONE) return CAS_OK;
        e = s + r;
    }
    if (s >= e) return CAS_OK;
    for (r = s; r < e;) {
        size_t c = cas__sub_group(list + r, e - r), j;
        cas_chunk group[CAS_MERKLE_MAX_GROUP];
        for (j = 0; j < c; j++) {
            if (j + 1 < c && (list[r + j].c.size > UINT64_MAX - list[r + j].off ||
                              list[r + j].off + list[r + j].c.size != list[r + j + 1].off))
                return CAS_E_HASH;
            group[j] = list[r + j].c;
        }
        cas_internal_node_hash(group, c, &promoted[*np].c.hash, &promoted[*np].c.size);
        promoted[*np].off = list[r].off;
        (*np)++;
        r += c;
    }
    *prefix = s, *suffix = n - e;
    return CAS_OK;
}

/* The levels account for every node (the level accessor relies on it). */
static int cas__sub_consistent(const cas_subtree *t) {
    uint64_t sum = 0;
    size_t i;
    if (t->num_levels && !t->levels) return 0;
    for (i = 0; i < 2 * t->num_levels; i++) sum += t->levels[i];
    return sum == t->num_nodes && (t->num_nodes == 0 || t->nodes);
}

/* Appends level k of t (its lefts, then its rights; nothing past its levels) to dst, each
   node at its offset in t (offs) plus base. */
static void cas__sub_take_level(const cas_subtree *t, const uint64_t *offs, size_t k, uint64_t base,
                                cas__sub_node *dst, size_t *n) {
    size_t i, lo = 0, ro, j;
    if (!t || k >= t->num_levels) return;
    ro = t->num_nodes;
    for (i = 0; i < k; i++) lo += t->levels[2 * i];
    for (i = 0; i <= k; i++) ro -= t->levels[2 * i + 1];
    for (j = 0; j < 2; j++) {
        size_t from = j ? ro : lo, cnt = t->levels[2 * k + j];
        for (i = 0; i < cnt; i++) {
            dst[*n].c = t->nodes[from + i];
            dst[*n].off = base + offs[from + i];
            (*n)++;
        }
    }
}

static void cas__sub_append(cas__sub_node *dst, size_t *n, const cas__sub_node *src, size_t k) {
    if (k) memcpy(dst + *n, src, k * sizeof *src);
    *n += k;
}

/* Each node's offset in t, relative to its first byte (*size: the bytes it covers): its own
   (priv_offsets) or the sizes before it in node order. NULL on overflow (*rc CAS_E_HASH) or
   no memory. */
static uint64_t *cas__sub_offsets(const cas_allocator *a, const cas_subtree *t, uint64_t *size, int *rc) {
    uint64_t *o = (uint64_t *)cas__alloc(a, (t->num_nodes + 1) * sizeof *o), pos = 0;
    size_t i;
    *rc = CAS_OK;
    if (!o) {
        *rc = CAS_E_NOMEM;
        return NULL;
    }
    for (i = 0; i < t->num_nodes; i++) {
        o[i] = t->priv_offsets ? t->priv_offsets[i] : pos;
        if (t->nodes[i].size > UINT64_MAX - pos) {
            *rc = CAS_E_HASH;
            break;
        }
        pos += t->nodes[i].size;
    }
    if (*rc != CAS_OK) {
        cas__free(a, o, (t->num_nodes + 1) * sizeof *o);
        return NULL;
    }
    *size = pos;
    return o;
}

/* merge_into_impl, for x followed by y (y may be NULL: from_chunks is x alone, with x a
   one-level list of chunks): level k's list is x's lefts and rights, the groups promoted
   from level k-1, then y's lefts and rights (placed after x's bytes). The result goes to
   *out (owned, new). CAS_E_HASH if the nodes' offsets do not fit together. */
static int cas__sub_build(const cas_allocator *a, const cas_subtree *x, const cas_subtree *y, int at_start,
                          int at_end, cas_subtree *out) {
    size_t total = x->num_nodes + (y ? y->num_nodes : 0), levels_in = x->num_levels, k;
    size_t cap_levels, nfull, ncarry = 0, nleft = 0, nright = 0, nlev = 0, i;
    cas__sub_node *full, *carry, *promoted, *left, *right;
    uint64_t *xo, *yo = NULL, xsize = 0, ysize = 0;
    uint32_t *lev;
    int all_left = 1, all_right = 1, rc = CAS_OK;
    memset(out, 0, sizeof *out);
    if (y && y->num_levels > levels_in) levels_in = y->num_levels;
    xo = cas__sub_offsets(a, x, &xsize, &rc);
    if (rc == CAS_OK && y) yo = cas__sub_offsets(a, y, &ysize, &rc);
    if (rc == CAS_OK && ysize > UINT64_MAX - xsize) rc = CAS_E_HASH;
    /* A level's list holds its own nodes and at most a third (+1) of the level below's list,
       so never more than total + 2; every node of the result covers >= 1 input node; each
       level past the inputs' shrinks the carry 3x. */
    cap_levels = levels_in + 66;
    full = (cas__sub_node *)cas__alloc(a, (total + 2) * sizeof *full);
    carry = (cas__sub_node *)cas__alloc(a, (total / 3 + 2) * sizeof *carry);
    promoted = (cas__sub_node *)cas__alloc(a, (total / 3 + 2) * sizeof *promoted);
    left = (cas__sub_node *)cas__alloc(a, (total + 1) * sizeof *left);
    right = (cas__sub_node *)cas__alloc(a, (total + 1) * sizeof *right);
    lev = (uint32_t *)cas__alloc(a, 2 * cap_levels * sizeof *lev);
    if (rc == CAS_OK && (!full || !carry || !promoted || !left || !right || !lev)) rc = CAS_E_NOMEM;
    for (k = 0; rc == CAS_OK; k++) {
        size_t np, p, s;
        if (k >= levels_in && ncarry == 0) break;
        if (k >= levels_in && ncarry == 1) { /* the root */
            left[nleft++] = carry[0];
            lev[2 * nlev] = 1, lev[2 * nlev + 1] = 0, nlev++;
            break;
        }
        nfull = 0;
        cas__sub_take_level(x, xo, k, 0, full, &nfull);
        cas__sub_append(full, &nfull, carry, ncarry);
        if (y) cas__sub_take_level(y, yo, k, xsize, full, &nfull);
        if (nfull > total + 2 || nlev == cap_levels) { rc = CAS_E_STATE; break; } /* (a bug) */
        rc = cas__sub_split(full, nfull, at_start && all_left, at_end && all_right, promoted, &np, &p, &s);
        if (rc != CAS_OK) break;
        if (nleft + p > total + 1 || nright + s > total + 1) { rc = CAS_E_STATE; break; }
        cas__sub_append(left, &nleft, full, p);
        cas__sub_append(right, &nright, full + nfull - s, s);
        lev[2 * nlev] = (uint32_t)p, lev[2 * nlev + 1] = (uint32_t)s, nlev++;
        if (p) all_left = 0;
        if (s) all_right = 0;
        memcpy(carry, promoted, np * sizeof *carry);
        ncarry = np;
    }
    while (rc == CAS_OK && nlev > 1 && lev[2 * (nlev - 1)] == 0 && lev[2 * (nlev - 1) + 1] == 0) nlev--;
    if (rc == CAS_OK) {
        size_t cap = nleft + nright ? nleft + nright : 1, pos = 0, end = nright;
        out->nodes = (cas_chunk *)cas__alloc(a, cap * sizeof *out->nodes);
        out->priv_offsets = (uint64_t *)cas__alloc(a, cap * sizeof *out->priv_offsets);
        out->levels = (uint32_t *)cas__alloc(a, 2 * nlev * sizeof *out->levels);
        if (!out->nodes || !out->priv_offsets || !out->levels) {
            cas__free(a, out->nodes, cap * sizeof *out->nodes);
            cas__free(a, out->priv_offsets, cap * sizeof *out->priv_offsets);
            cas__free(a, out->levels, 2 * nlev * sizeof *out->levels);
            memset(out, 0, sizeof *out);
            rc = CAS_E_NOMEM;
        } else {
            /* lefts as they are, then the rights from the top level down (they were appended
               rising: level i's after those of the levels below) */
            for (i = 0; i < nleft; i++, pos++) out->nodes[pos] = left[i].c, out->priv_offsets[pos] = left[i].off;
            for (i = nlev; i > 0; i--) {
                size_t nr = lev[2 * (i - 1) + 1], j;
                for (j = end - nr; j < end; j++, pos++) out->nodes[pos] = right[j].c, out->priv_offsets[pos] = right[j].off;
                end -= nr;
            }
            memcpy(out->levels, lev, 2 * nlev * sizeof *lev);
            out->num_nodes = pos, out->num_levels = nlev;
            out->at_start = at_start, out->at_end = at_end;
            out->priv_alloc = *a, out->priv_node_cap = cap, out->priv_level_cap = nlev;
        }
    }
    if (xo) cas__free(a, xo, (x->num_nodes + 1) * sizeof *xo);
    if (yo) cas__free(a, yo, (y->num_nodes + 1) * sizeof *yo);
    cas__free(a, full, (total + 2) * sizeof *full);
    cas__free(a, carry, (total / 3 + 2) * sizeof *carry);
    cas__free(a, promoted, (total / 3 + 2) * sizeof *promoted);
    cas__free(a, left, (total + 1) * sizeof *left);
    cas__free(a, right, (total + 1) * sizeof *right);
    cas__free(a, lev, 2 * cap_levels * sizeof *lev);
    return rc;
}

cas_result cas_subtree_from_chunks(const cas_allocator *alloc, int at_start, const cas_chunk *chunks, size_t n,
                                   int at_end, cas_subtree *out) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas_subtree x;
    uint32_t lv[2];
    if (!out) return CAS_E_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (n && !chunks) return CAS_E_ARGUMENT;
    if (n > 0xFFFFFFFFu) return CAS_E_LIMIT;
    memset(&x, 0, sizeof x);
    x.nodes = (cas_chunk *)(size_t)chunks; /* read only */
    x.num_nodes = n;
    lv[0] = (uint32_t)n, lv[1] = 0;
    x.levels = lv;
    x.num_levels = 1;
    return (cas_result)(cas__sub_build(&a, &x, NULL, at_start != 0, at_end != 0, out));
}

cas_result cas_subtree_merge(const cas_allocator *alloc, const cas_subtree *left, const cas_subtree *right,
                             cas_subtree *out) {
    cas_allocator a = cas__allocator_or_default(alloc);
    if (!out) return CAS_E_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!left || !right || left->at_end || right->at_start || !cas__sub_consistent(left) ||
        !cas__sub_consistent(right))
        return CAS_E_ARGUMENT;
    return (cas_result)(cas__sub_build(&a, left, right, left->at_start, right->at_end, out));
}

cas_result cas_subtree_root(const cas_subtree *s, cas_hash *root) {
    if (!s || !root) return CAS_E_ARGUMENT;
    if (!s->at_start || !s->at_end || s->num_nodes > 1) return CAS_E_STATE;
    if (s->num_nodes == 0) memset(root, 0, sizeof *root);
    else *root = s->nodes[0].hash;
    return CAS_OK;
}

uint64_t cas_subtree_size(const cas_subtree *s) {
    uint64_t sum = 0;
    size_t i;
    for (i = 0; i < s->num_nodes; i++) sum += s->nodes[i].size;
    return sum;
}

void cas_subtree_free(cas_subtree *s) {
    if (!s) return;
    if (s->priv_node_cap) {
        cas__free(&s->priv_alloc, s->nodes, s->priv_node_cap * sizeof *s->nodes);
        cas__free(&s->priv_alloc, s->priv_offsets, s->priv_node_cap * sizeof *s->priv_offsets);
        cas__free(&s->priv_alloc, s->levels, 2 * s->priv_level_cap * sizeof *s->levels);
    }
    memset(s, 0, sizeof *s);
}

/* *cur (the sequence so far: acc, or a gap of the response) := *cur followed by next; the
   result is kept in acc. */
static int cas__sub_fold(const cas_allocator *a, cas_subtree *acc, const cas_subtree **cur, const cas_subtree *next) {
    cas_subtree m;
    int rc;
    if (!*cur) {
        *cur = next;
        return CAS_OK;
    }
    rc = cas_subtree_merge(a, *cur, next, &m);
    if (rc != CAS_OK) return rc;
    cas_subtree_free(acc);
    *acc = m;
    *cur = acc;
    return CAS_OK;
}

cas_result cas_file_chunk_hashes_verify(const cas_allocator *alloc, const cas_file_chunk_hashes *r,
                                        const cas_chunk *const *chunks, const size_t *num_chunks,
                                        const cas_hash *file_hash, cas_error *err) {
    cas_allocator a = cas__allocator_or_default(alloc);
    size_t n, i, k;
    uint64_t pos = 0;
    cas_subtree acc, win;
    const cas_subtree *cur = NULL;
    cas_hash root, fh;
    int rc = CAS_OK;
    if (!r || !file_hash || !r->num_windows || !r->gaps || !chunks || !num_chunks)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "a parsed response with windows, their chunks and a file hash are required"));
    n = r->num_windows;
    /* the sizes tile the file: gap 0, window 0, gap 1, ..., window n-1, gap n */
    for (i = 0; i <= n; i++) {
        const cas_subtree *g = &r->gaps[i];
        uint64_t gsize = 0, end = i < n ? r->windows[i].start : r->file_size;
        for (k = 0; k < g->num_nodes; k++) {
            if (g->nodes[k].size > UINT64_MAX - gsize) gsize = UINT64_MAX;
            else gsize += g->nodes[k].size;
        }
        if (g->num_nodes && (g->at_start != (i == 0) || g->at_end != (i == n)))
            return (cas_result)(cas__fail(err, CAS_E_JSON_VALUE, i, "hashRanges[i]: at_start/at_end do not fit its place"));
        if (end < pos || gsize != end - pos)
            return (cas_result)(cas__fail(err, CAS_E_JSON_VALUE, i, "hashRanges[i]: its size is not the gap's"));
        if (i == n) break;
        pos = r->windows[i].end;
        if (num_chunks[i] && !chunks[i]) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, i, "chunks[i] is NULL"));
        for (gsize = 0, k = 0; k < num_chunks[i]; k++) gsize += chunks[i][k].size;
        if (gsize != r->windows[i].end - r->windows[i].start)
            return (cas_result)(cas__fail(err, CAS_E_HASH, i, "window i: its chunks do not add up to its length"));
    }
    /* fold gap 0, window 0, gap 1, ... in file order; empty gaps are left out, and a window
       at the start or end of the file is then built as such */
    memset(&acc, 0, sizeof acc);
    for (i = 0; rc == CAS_OK && i <= n; i++) {
        if (r->gaps[i].num_nodes) rc = cas__sub_fold(&a, &acc, &cur, &r->gaps[i]);
        if (rc != CAS_OK || i == n) break;
        rc = cas_subtree_from_chunks(&a, i == 0 && !r->gaps[0].num_nodes, chunks[i], num_chunks[i],
                                     i == n - 1 && !r->gaps[n].num_nodes, &win);
        if (rc != CAS_OK) break;
        if (!cur) { /* the first of the sequence: it becomes the accumulator */
            acc = win, cur = &acc;
            continue;
        }
        rc = cas__sub_fold(&a, &acc, &cur, &win);
        cas_subtree_free(&win);
    }
    if (rc == CAS_OK && cas_subtree_root(cur, &root) != CAS_OK) rc = CAS_E_HASH;
    cas_subtree_free(&acc);
    if (rc == CAS_E_NOMEM) return (cas_result)(cas__fail(err, rc, 0, "subtree merge"));
    if (rc != CAS_OK)
        return (cas_result)(cas__fail(err, CAS_E_HASH, 0, "the windows and gaps do not merge into a whole file's tree"));
    if (r->file_size == 0) memset(&fh, 0, sizeof fh);
    else cas_blake3_keyed(cas__key_zero, root.bytes, CAS_HASH_SIZE, fh.bytes);
    if (!cas_hash_equal(&fh, file_hash))
        return (cas_result)(cas__fail(err, CAS_E_HASH, 0, "the windows' chunks and the gaps' subtrees do not hash to the file hash"));
    return (cas_result)(cas__succeed(err));
}

/* ==== >>engines: server ================================================================== */

/* ---- HTTP/1.1 request heads (RFC 9112) ---- */

/* err: "<what> (byte N)" at offset N, the code returned. */
static int cas__http_fail(cas_error *err, int code, size_t at, const char *what) {
    char buf[CAS_ERROR_WHAT_SIZE];
    size_t n = strlen(what);
    if (n > sizeof buf - 32) n = sizeof buf - 32;
    memcpy(buf, what, n);
    memcpy(buf + n, " (byte ", 7);
    n += 7;
    n += cas__write_u64(buf + n, at);
    buf[n++] = ')';
    buf[n] = 0;
    return cas__fail(err, code, at, buf);
}
/* The head ran out at the end of what is there: more input may complete it, unless the head
   already fills CAS_HTTP_MAX_HEAD bytes. */
static int cas__http_short(cas_error *err, size_t len) {
    if (len >= CAS_HTTP_MAX_HEAD)
        return cas__http_fail(err, CAS_E_LIMIT, CAS_HTTP_MAX_HEAD,
                              "the request head is longer than CAS_HTTP_MAX_HEAD (16 KiB)");
    return cas__fail(err, CAS_NEED_INPUT, 0, "");
}
/* p[*i..] starts with lit: 0 (skipped), 1 (p ends first, a prefix of lit), -1 (differs). */
static int cas__http_lit(const char *p, size_t cap, size_t *i, const char *lit) {
    for (; *lit; lit++, (*i)++) {
        if (*i >= cap) return 1;
        if (p[*i] != *lit) return -1;
    }
    return 0;
}

cas_result cas_http_request_parse(const void *buf, size_t len, cas_http_header *headers,
                                  size_t max_headers, cas_http_request *req, size_t *head_len,
                                  cas_error *err) {
    const char *p = (const char *)buf;
    size_t cap = len < CAS_HTTP_MAX_HEAD ? len : CAS_HTTP_MAX_HEAD, i = 0, b, k;
    int rc, seen_cl = 0, seen_te = 0, hosts = 0, close = 0, keep = 0;
    if (req) memset(req, 0, sizeof *req);
    if (head_len) *head_len = 0;
    if (!req || !head_len || (!p && len) || (!headers && max_headers))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "cas_http_request_parse arguments"));
    req->content_length = UINT64_MAX;
    req->headers = headers;
    /* empty lines before the request line */
    while (i < cap && p[i] == '\r') {
        if (i + 1 >= cap) return (cas_result)(cas__http_short(err, len));
        if (p[i + 1] != '\n') return (cas_result)(cas__http_fail(err, CAS_E_HTTP, i, "a CR without LF"));
        i += 2;
    }
    /* request line: method SP target SP HTTP/1.x CRLF */
    for (b = i; i < cap && cas__mp_tchar((unsigned char)p[i]); i++) {}
    if (i >= cap) return (cas_result)(cas__http_short(err, len));
    if (i == b || p[i] != ' ')
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, i, "the request line does not start with a method token and one space"));
    req->method = p + b, req->method_len = i - b;
    for (b = ++i; i < cap && p[i] > 32 && p[i] < 127; i++) {}
    if (i >= cap) return (cas_result)(cas__http_short(err, len));
    if (i == b || p[b] != '/')
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, b, "the request target is not origin-form (/path?query)"));
    if (p[i] != ' ')
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, i, "the request target holds a byte that is not visible ASCII, or is not followed by one space"));
    req->target = p + b, req->target_len = i - b;
    b = ++i;
    rc = cas__http_lit(p, cap, &i, "HTTP/1.");
    if (rc > 0 || (rc == 0 && i >= cap)) return (cas_result)(cas__http_short(err, len));
    if (rc < 0 || (p[i] != '0' && p[i] != '1'))
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, b, "the version is not HTTP/1.0 or HTTP/1.1"));
    req->minor_version = p[i++] - '0';
    for (;;) { /* CRLF, then a header line or the empty line */
        size_t v, e, ne;
        b = i;
        rc = cas__http_lit(p, cap, &i, "\r\n");
        if (rc > 0) return (cas_result)(cas__http_short(err, len));
        if (rc < 0) return (cas_result)(cas__http_fail(err, CAS_E_HTTP, b, "a line does not end with CRLF (a control byte, or a bare CR or LF)"));
        if (i >= cap) return (cas_result)(cas__http_short(err, len));
        if (p[i] == '\r') break;
        if (p[i] == ' ' || p[i] == '\t')
            return (cas_result)(cas__http_fail(err, CAS_E_HTTP, i, "a header line starts with whitespace (obs-fold is refused)"));
        for (b = i; i < cap && cas__mp_tchar((unsigned char)p[i]); i++) {}
        if (i >= cap) return (cas_result)(cas__http_short(err, len));
        if (i == b || p[i] != ':')
            return (cas_result)(cas__http_fail(err, CAS_E_HTTP, i, "a header field name is not a token followed by ':'"));
        ne = i;
        for (i++; i < cap && cas__mp_ows((unsigned char)p[i]); i++) {}
        for (v = i; i < cap && (p[i] == '\t' || ((unsigned char)p[i] >= 32 && p[i] != 127)); i++) {}
        if (i >= cap) return (cas_result)(cas__http_short(err, len));
        for (e = i; e > v && cas__mp_ows((unsigned char)p[e - 1]); e--) {}
        if (req->num_headers >= max_headers)
            return (cas_result)(cas__http_fail(err, CAS_E_LIMIT, b, "more header fields than max_headers"));
        headers[req->num_headers].name = p + b, headers[req->num_headers].name_len = ne - b;
        headers[req->num_headers].value = p + v, headers[req->num_headers].value_len = e - v;
        req->num_headers++;
    }
    b = i;
    rc = cas__http_lit(p, cap, &i, "\r\n");
    if (rc > 0) return (cas_result)(cas__http_short(err, len));
    if (rc < 0) return (cas_result)(cas__http_fail(err, CAS_E_HTTP, b, "the empty line after the headers is a CR without LF"));
    /* framing and connection (RFC 9112 6 and 9.3) */
    for (k = 0; k < req->num_headers; k++) {
        const cas_http_header *h = &headers[k];
        size_t at = (size_t)(h->name - p), j = 0;
        if (cas__mp_ieq(h->name, h->name_len, "content-length")) {
            if (seen_cl++) return (cas_result)(cas__http_fail(err, CAS_E_HTTP, at, "a second Content-Length"));
            rc = cas__mp_u64(h->value, h->value_len, &j, &req->content_length);
            if (rc == 2 || (rc == 0 && req->content_length == UINT64_MAX))
                return (cas_result)(cas__http_fail(err, CAS_E_HTTP, at, "Content-Length is over 2^64-2"));
            if (rc || j != h->value_len)
                return (cas_result)(cas__http_fail(err, CAS_E_HTTP, at, "Content-Length is not a decimal number"));
        } else if (cas__mp_ieq(h->name, h->name_len, "transfer-encoding")) {
            if (seen_te++) return (cas_result)(cas__http_fail(err, CAS_E_HTTP, at, "a second Transfer-Encoding"));
            if (!cas__mp_ieq(h->value, h->value_len, "chunked"))
                return (cas_result)(cas__http_fail(err, CAS_E_HTTP, at, "Transfer-Encoding is not \"chunked\", the only coding taken"));
            req->chunked = 1;
        } else if (cas__mp_ieq(h->name, h->name_len, "host")) {
            if (hosts++) return (cas_result)(cas__http_fail(err, CAS_E_HTTP, at, "a second Host"));
        } else if (cas__mp_ieq(h->name, h->name_len, "expect")) {
            req->expect_continue = cas__mp_ieq(h->value, h->value_len, "100-continue");
        } else if (cas__mp_ieq(h->name, h->name_len, "connection")) {
            while (j < h->value_len) { /* a comma-separated list of tokens */
                size_t t0, tn;
                while (j < h->value_len && (cas__mp_ows((unsigned char)h->value[j]) || h->value[j] == ',')) j++;
                t0 = j;
                tn = cas__mp_token(h->value, h->value_len, &j);
                if (cas__mp_ieq(h->value + t0, tn, "close")) close = 1;
                if (cas__mp_ieq(h->value + t0, tn, "keep-alive")) keep = 1;
                while (j < h->value_len && h->value[j] != ',') j++;
            }
        }
    }
    if (req->chunked && seen_cl)
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, 0, "both Content-Length and Transfer-Encoding"));
    if (req->chunked && req->minor_version == 0)
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, 0, "Transfer-Encoding in an HTTP/1.0 request"));
    if (req->minor_version == 1 && !hosts)
        return (cas_result)(cas__http_fail(err, CAS_E_HTTP, i, "an HTTP/1.1 request without Host"));
    req->keep_alive = !close && (req->minor_version == 1 || keep);
    *head_len = i;
    return (cas_result)(cas__succeed(err));
}

const char *cas_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* ---- routes, Range and bearer tokens (the request's parts the engine reads) ---- */

enum { CAS__SCOPE_NONE = 0 }; /* a route no token guards (the signed xorb URLs) */
enum {
    CAS__R_XORB_POST, CAS__R_XORB_HEAD, CAS__R_SHARD_V1, CAS__R_SHARD_ALIAS, CAS__R_SHARD_V2,
    CAS__R_DEDUP, CAS__R_RECON_V2, CAS__R_RECON_V1, CAS__R_BATCH_POST, CAS__R_BATCH_GET,
    CAS__R_FILE_HEAD, CAS__R_XORB_GET, CAS__R_FCH
};
/* The routes of tests/server-design.md 1, in the order of the enum above. In a path, {p}
   is the prefix "default", {d} "default-merkledb" or "default", {h} a hash: each matches
   any one non-empty segment, and is checked once the route is found (a bad one is 400). */
typedef struct cas__srv_route_def {
    const char *name; /* "METHOD path" */
    int scope;        /* CAS_SCOPE_READ, CAS_SCOPE_WRITE, CAS__SCOPE_NONE */
} cas__srv_route_def;
static const cas__srv_route_def cas__srv_routes[] = {
    {"POST /v1/xorbs/{p}/{h}", 2}, {"HEAD /v1/xorbs/{p}/{h}", 1}, {"POST /v1/shards", 2},
    {"POST /shards", 2}, {"POST /v2/shards", 2}, {"GET /v1/chunks/{d}/{h}", 1},
    {"GET /v2/reconstructions/{h}", 1}, {"GET /v1/reconstructions/{h}", 1},
    {"POST /v1/reconstructions", 1}, {"GET /reconstructions", 1}, {"HEAD /v1/files/{h}", 1},
    {"GET /xorb/{p}/{h}", CAS__SCOPE_NONE}, {"GET /v2/file-chunk-hashes/{h}", 1},
};

/* s[0..n) is the literal lit, exactly (path segments are case-sensitive) */
static int cas__srv_is(const char *s, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}
/* A path segment s[0..n) as a hash: 64 lower-case hex digits in the API's order. */
static int cas__srv_hash(const char *s, size_t n, cas_hash *h) {
    size_t i;
    if (n != CAS_HASH_HEX_SIZE) return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return cas_hash_from_hex(s, n, h) == CAS_OK;
}

/* Finds the route of method + target (the path before any '?', undecoded: a hash never
   needs percent-encoding). Returns 0 (*route set, *hash set if the route has one, *what =
   the route's name), 400 (*route set; *what says which segment is bad) or 404 (no route
   has this method and path; methods differ by route, so a known path with another method
   is 404 too, as hubserver answers). */
CAS__TESTED int cas__srv_route(const char *method, size_t mlen, const char *target, size_t tlen,
                               int *route, cas_hash *hash, const char **what) {
    size_t r, plen = 0;
    while (plen < tlen && target[plen] != '?') plen++;
    memset(hash, 0, sizeof *hash);
    *route = -1;
    *what = "no route";
    for (r = 0; r < sizeof cas__srv_routes / sizeof cas__srv_routes[0]; r++) {
        const char *pat = cas__srv_routes[r].name, *bad = NULL;
        size_t i = 0;
        if ((size_t)(strchr(pat, ' ') - pat) != mlen || memcmp(pat, method, mlen) != 0) continue;
        for (pat += mlen + 1; *pat && i <= plen; pat++) {
            if (*pat == '{') { /* a placeholder: one non-empty segment */
                size_t b = i;
                char kind = pat[1];
                while (i < plen && target[i] != '/') i++;
                if (i == b) break;
                pat += 2;
                if (kind == 'h' && !bad && !cas__srv_hash(target + b, i - b, hash))
                    bad = "malformed hash: a hash is 64 lower-case hex digits";
                if (kind == 'p' && !bad && !cas__srv_is(target + b, i - b, "default"))
                    bad = "unknown prefix: only \"default\" is served";
                if (kind == 'd' && !bad && !cas__srv_is(target + b, i - b, "default") &&
                    !cas__srv_is(target + b, i - b, "default-merkledb"))
                    bad = "unknown prefix: only \"default-merkledb\" and \"default\" are served";
                continue;
            }
            if (i >= plen || target[i] != *pat) break;
            i++;
        }
        if (*pat || i != plen) continue;
        *route = (int)r;
        *what = bad ? bad : cas__srv_routes[r].name;
        return bad ? 400 : 0;
    }
    return 404;
}

/* 1 to 20 digits at s[*i] (cas__mp_u64), then OWS. 0 ok, 1 none, 2 too long. */
static int cas__http_num(const char *s, size_t n, size_t *i, uint64_t *v) {
    int rc = cas__mp_u64(s, n, i, v);
    while (*i < n && cas__mp_ows((unsigned char)s[*i])) (*i)++;
    return rc;
}
/* A Range header value for a file of `size` bytes, as hubserver's parse_recon_range:
   `bytes=A-B`, `bytes=A-` or `bytes=-N` (OWS allowed around each part, "bytes" in any
   case; one range only). Returns 0 (bytes [*first, *last], B clamped to size-1), 400
   (malformed: several ranges, no numbers, B < A, a number over 2^64-1) or 416 (A >= size,
   -0, or any range of an empty file: unsatisfiable). */
CAS__TESTED CAS__UNUSED int cas__http_range(const char *v, size_t n, uint64_t size,
                                            uint64_t *first, uint64_t *last) {
    size_t i = 0;
    uint64_t a = 0, b = 0;
    int ra, rb;
    *first = *last = 0;
    while (i < n && cas__mp_ows((unsigned char)v[i])) i++;
    if (n - i < 5 || !cas__mp_ieq(v + i, 5, "bytes")) return 400;
    for (i += 5; i < n && cas__mp_ows((unsigned char)v[i]); i++) {}
    if (i >= n || v[i++] != '=') return 400;
    while (i < n && cas__mp_ows((unsigned char)v[i])) i++;
    ra = cas__http_num(v, n, &i, &a);
    if (ra == 2 || i >= n || v[i++] != '-') return 400;
    while (i < n && cas__mp_ows((unsigned char)v[i])) i++;
    rb = cas__http_num(v, n, &i, &b);
    if (rb == 2 || i != n || (ra && rb)) return 400;
    if (ra) { /* -N: the last N bytes */
        if (b == 0 || size == 0) return 416;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (a >= size) return 416;
    if (!rb && b < a) return 400;
    *first = a;
    *last = rb || b > size - 1 ? size - 1 : b;
    return 0;
}

/* The token of an `Authorization: Bearer <token68>` value ("Bearer" in any case, then
   spaces, then the token; OWS after it). 1 (*tok, *len into v), 0 (not a bearer token). */
CAS__TESTED int cas__http_bearer(const char *v, size_t n, const char **tok, size_t *len) {
    size_t i = 6, b, e = n;
    *tok = NULL, *len = 0;
    if (n < 8 || !cas__mp_ieq(v, 6, "bearer") || v[6] != ' ') return 0;
    while (i < n && v[i] == ' ') i++;
    b = i;
    while (i < n && ((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
                     (v[i] >= 'A' && v[i] <= 'Z') || (v[i] && strchr("-._~+/", v[i]))))
        i++;
    if (i == b) return 0;
    while (i < n && v[i] == '=') i++;
    e = i;
    while (i < n && cas__mp_ows((unsigned char)v[i])) i++;
    if (i != n) return 0;
    *tok = v + b, *len = e - b;
    return 1;
}

/* ---- the store index: open addressing over dense arrays ---- */

/* A hash table of entry indices: slot[i] = index + 1 (0: empty), probed linearly from the
   key's tail (cas_hash_tail_u64); cap is a power of two, at most half full. The entries
   live in a dense array of `stride`-byte structs, each starting with its cas_hash key. */
typedef struct cas__htab {
    uint32_t *slot;
    size_t cap;
} cas__htab;

static const cas_hash *cas__htab_key(const void *base, size_t stride, size_t i) {
    return (const cas_hash *)(const void *)((const uint8_t *)base + i * stride);
}
/* The index of key's entry, or (size_t)-1. */
static size_t cas__htab_find(const cas__htab *t, const void *base, size_t stride, const cas_hash *k) {
    size_t m, i;
    if (!t->cap) return (size_t)-1;
    m = t->cap - 1;
    for (i = (size_t)cas_hash_tail_u64(k) & m; t->slot[i]; i = (i + 1) & m)
        if (cas_hash_equal(cas__htab_key(base, stride, t->slot[i] - 1), k)) return t->slot[i] - 1;
    return (size_t)-1;
}
static void cas__htab_put(cas__htab *t, const void *base, size_t stride, size_t idx) {
    size_t m = t->cap - 1, i = (size_t)cas_hash_tail_u64(cas__htab_key(base, stride, idx)) & m;
    while (t->slot[i]) i = (i + 1) & m;
    t->slot[i] = (uint32_t)(idx + 1);
}
/* Indexes entry n-1 of base[0..n) (the one just appended), growing the table first. */
static int cas__htab_add(const cas_allocator *a, cas__htab *t, const void *base, size_t stride, size_t n) {
    if (n >= UINT32_MAX / 2) return CAS_E_LIMIT;
    if (2 * n > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64, i;
        uint32_t *slot = (uint32_t *)cas__alloc(a, cap * sizeof *slot);
        if (!slot) return CAS_E_NOMEM;
        cas__free(a, t->slot, t->cap * sizeof *t->slot);
        memset(slot, 0, cap * sizeof *slot);
        t->slot = slot, t->cap = cap;
        for (i = 0; i + 1 < n; i++) cas__htab_put(t, base, stride, i);
    }
    cas__htab_put(t, base, stride, n - 1);
    return CAS_OK;
}

#define CAS__SRV_NONE UINT32_MAX /* no shard lists the xorb yet */
#define CAS__SRV_UNSTORED UINT64_MAX /* a xorb known from a shard, not (yet) in the store */
typedef struct cas__srv_file {
    cas_hash key;
    uint64_t size, offset; /* offset: its FileDataSequenceHeader in the shard */
    uint32_t shard, num_terms;
} cas__srv_file;
typedef struct cas__srv_xorb {
    cas_hash key;
    uint64_t size;         /* the stored object's bytes, or CAS__SRV_UNSTORED */
    uint64_t offset;       /* its CASChunkSequenceHeader in the shard */
    uint32_t shard, num_chunks;
} cas__srv_xorb;
typedef struct cas__srv_shard {
    cas_hash key;
    uint64_t size;
} cas__srv_shard;

struct cas_server {
    cas_allocator a;
    cas_server_desc d;
    cas__srv_file *files;
    cas__srv_xorb *xorbs;
    cas__srv_shard *shards;
    size_t num_files, num_xorbs, num_shards, cap_files, cap_xorbs, cap_shards;
    cas__htab tfiles, txorbs, tshards;
};

static void cas__srv_lock(cas_server *s) { if (s->d.lock) s->d.lock(s->d.user); }
static void cas__srv_unlock(cas_server *s) { if (s->d.unlock) s->d.unlock(s->d.user); }

cas_result cas_server_create(const cas_allocator *alloc, const cas_server_desc *desc,
                             cas_server **out, cas_error *err) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas_server *s;
    if (!out) return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "cas_server_create: out is NULL"));
    *out = NULL;
    if (desc && (!desc->lock) != (!desc->unlock))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "cas_server_desc: lock without unlock"));
    s = (cas_server *)cas__alloc(&a, sizeof *s);
    if (!s) return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "cas_server"));
    memset(s, 0, sizeof *s);
    s->a = a;
    if (desc) s->d = *desc;
    *out = s;
    return (cas_result)(cas__succeed(err));
}

void cas_server_free(cas_server *s) {
    cas_allocator a;
    if (!s) return;
    a = s->a;
    cas__free(&a, s->files, s->cap_files * sizeof *s->files);
    cas__free(&a, s->xorbs, s->cap_xorbs * sizeof *s->xorbs);
    cas__free(&a, s->shards, s->cap_shards * sizeof *s->shards);
    cas__free(&a, s->tfiles.slot, s->tfiles.cap * sizeof *s->tfiles.slot);
    cas__free(&a, s->txorbs.slot, s->txorbs.cap * sizeof *s->txorbs.slot);
    cas__free(&a, s->tshards.slot, s->tshards.cap * sizeof *s->tshards.slot);
    cas__free(&a, s, sizeof *s);
}

/* The xorb entry of key, appended (not stored, no shard) if there is none; NULL: no memory. */
static cas__srv_xorb *cas__srv_xorb_entry(cas_server *s, const cas_hash *key) {
    size_t i = cas__htab_find(&s->txorbs, s->xorbs, sizeof *s->xorbs, key);
    cas__srv_xorb *x;
    if (i != (size_t)-1) return &s->xorbs[i];
    if (cas__grow(&s->a, (void **)&s->xorbs, &s->cap_xorbs, s->num_xorbs + 1, sizeof *s->xorbs, 64))
        return NULL;
    x = &s->xorbs[s->num_xorbs];
    memset(x, 0, sizeof *x);
    x->key = *key, x->size = CAS__SRV_UNSTORED, x->shard = CAS__SRV_NONE;
    if (cas__htab_add(&s->a, &s->txorbs, s->xorbs, sizeof *s->xorbs, s->num_xorbs + 1)) return NULL;
    s->num_xorbs++;
    return x;
}

/* Registers a parsed shard as shard number s->num_shards (already appended). */
static int cas__srv_index_shard(cas_server *s, const cas_shard *sh) {
    uint32_t no = (uint32_t)(s->num_shards - 1);
    size_t i;
    for (i = 0; i < sh->num_files; i++) {
        const cas_shard_file *f = &sh->files[i];
        cas__srv_file *e;
        if (cas__htab_find(&s->tfiles, s->files, sizeof *s->files, &f->file_hash) != (size_t)-1) continue;
        if (cas__grow(&s->a, (void **)&s->files, &s->cap_files, s->num_files + 1, sizeof *s->files, 64))
            return CAS_E_NOMEM;
        e = &s->files[s->num_files];
        e->key = f->file_hash, e->size = f->size, e->offset = f->offset;
        e->shard = no, e->num_terms = f->num_terms;
        if (cas__htab_add(&s->a, &s->tfiles, s->files, sizeof *s->files, s->num_files + 1)) return CAS_E_NOMEM;
        s->num_files++;
    }
    for (i = 0; i < sh->num_xorbs; i++) {
        const cas_shard_xorb *x = &sh->xorbs[i];
        cas__srv_xorb *e = cas__srv_xorb_entry(s, &x->xorb_hash);
        if (!e) return CAS_E_NOMEM;
        if (e->shard != CAS__SRV_NONE) continue;
        e->shard = no, e->offset = x->offset, e->num_chunks = x->num_chunks;
    }
    return CAS_OK;
}

cas_result cas_server_add_object(cas_server *s, int kind, const cas_hash *key, uint64_t size,
                                 const void *data, size_t len, cas_error *err) {
    cas_shard sh;
    cas__srv_shard *e;
    int rc = CAS_OK;
    if (!s || !key || (kind != CAS_OBJECT_XORB && kind != CAS_OBJECT_SHARD) ||
        (kind == CAS_OBJECT_SHARD && !data && len))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "cas_server_add_object arguments"));
    if (kind == CAS_OBJECT_XORB) {
        cas__srv_xorb *x;
        cas__srv_lock(s);
        x = cas__srv_xorb_entry(s, key);
        if (x) x->size = size;
        cas__srv_unlock(s);
        if (!x) return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "xorb index"));
        return (cas_result)(cas__succeed(err));
    }
    /* parsed outside the lock: requests go on meanwhile */
    rc = cas_shard_parse(&s->a, data, len, &sh, err);
    if (rc != CAS_OK) return (cas_result)(rc);
    cas__srv_lock(s);
    if (cas__htab_find(&s->tshards, s->shards, sizeof *s->shards, key) == (size_t)-1) {
        if (cas__grow(&s->a, (void **)&s->shards, &s->cap_shards, s->num_shards + 1, sizeof *s->shards, 16)) {
            rc = CAS_E_NOMEM;
        } else {
            e = &s->shards[s->num_shards];
            e->key = *key, e->size = len;
            rc = cas__htab_add(&s->a, &s->tshards, s->shards, sizeof *s->shards, s->num_shards + 1);
            if (rc == CAS_OK) {
                s->num_shards++;
                rc = cas__srv_index_shard(s, &sh);
            }
        }
    }
    cas__srv_unlock(s);
    cas_shard_free(&sh);
    if (rc != CAS_OK) return (cas_result)(cas__fail(err, rc, 0, "shard index"));
    return (cas_result)(cas__succeed(err));
}

/* ---- requests ---- */

struct cas_server_req {
    cas_server *s;
    int state;          /* 0: HEAD next, 1: DATA next, 2: done */
    int status, close, head_only;
    uint64_t discard;
    cas__sb head, body;
    cas_error error;
};

/* The error body's JSON string: what with '"', '\' and control bytes escaped. */
static void cas__sb_json_text(cas__sb *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[6] = {'\\', 'u', '0', '0', 0, 0};
        if (c == '"' || c == '\\') {
            e[1] = (char)c;
            cas__sb_put(b, e, 2);
        } else if (c < 0x20) {
            e[4] = hex[c >> 4], e[5] = hex[c & 15];
            cas__sb_put(b, e, 6);
        } else {
            cas__sb_put(b, s, 1);
        }
    }
}

/* The response: status, a body of JSON (body_json, or {"error": what} when code < 0),
   extra header lines. r->error gets code and what. */
static void cas__srv_answer(cas_server_req *r, int status, int code, const char *what,
                            const char *extra) {
    r->status = status;
    cas__fail(&r->error, code, 0, code < 0 ? what : "");
    if (code < 0) {
        cas__sb_str(&r->body, "{\"error\":\"");
        cas__sb_json_text(&r->body, what);
        cas__sb_str(&r->body, "\"}");
    }
    cas__sb_str(&r->head, "Content-Type: application/json\r\nContent-Length: ");
    cas__sb_u64(&r->head, r->body.len);
    cas__sb_str(&r->head, "\r\n");
    if (extra) cas__sb_str(&r->head, extra);
}
/* 200 to a HEAD request for an object of `size` bytes. */
static void cas__srv_answer_size(cas_server_req *r, uint64_t size) {
    r->status = 200;
    cas__succeed(&r->error);
    cas__sb_str(&r->head, "Content-Length: ");
    cas__sb_u64(&r->head, size);
    cas__sb_str(&r->head, "\r\n");
}

static const cas_http_header *cas__http_find(const cas_http_request *req, const char *lower) {
    size_t i;
    for (i = 0; i < req->num_headers; i++)
        if (cas__mp_ieq(req->headers[i].name, req->headers[i].name_len, lower)) return &req->headers[i];
    return NULL;
}

/* 0: allowed; else the request is answered. */
static int cas__srv_authorize(cas_server_req *r, const cas_http_request *req, int scope) {
    const cas_server_desc *d = &r->s->d;
    const cas_http_header *h;
    const char *tok;
    size_t len;
    int rc;
    if (!d->authorize || scope == CAS__SCOPE_NONE) return 0;
    h = cas__http_find(req, "authorization");
    if (!h || !cas__http_bearer(h->value, h->value_len, &tok, &len)) {
        cas__srv_answer(r, 401, CAS_E_AUTH, "missing Authorization: Bearer token", "WWW-Authenticate: Bearer\r\n");
        return 1;
    }
    rc = d->authorize(d->user, tok, len, scope);
    if (rc == 0) return 0;
    if (rc == CAS_E_AUTH)
        cas__srv_answer(r, 401, rc, "token rejected: unknown or expired", "WWW-Authenticate: Bearer\r\n");
    else if (rc == CAS_E_SCOPE)
        cas__srv_answer(r, 403, rc, scope == CAS_SCOPE_WRITE ? "token scope is read; write required" : "token lacks the scope", NULL);
    else if (rc == CAS_E_BUSY)
        cas__srv_answer(r, 503, rc, "authorization is busy: retry", "Retry-After: 1\r\n");
    else
        cas__srv_answer(r, 500, CAS_E_IO, "authorization failed", NULL);
    return 1;
}

static void cas__srv_head_xorb(cas_server_req *r, const cas_hash *h) {
    cas_server *s = r->s;
    uint64_t size = CAS__SRV_UNSTORED;
    size_t i;
    int rc;
    cas__srv_lock(s);
    i = cas__htab_find(&s->txorbs, s->xorbs, sizeof *s->xorbs, h);
    if (i != (size_t)-1) size = s->xorbs[i].size;
    cas__srv_unlock(s);
    if (size == CAS__SRV_UNSTORED && s->d.store.stat) { /* another writer may have put it there */
        rc = s->d.store.stat(s->d.store.user, CAS_OBJECT_XORB, h, &size);
        if (rc == CAS_E_NOT_FOUND) {
            size = CAS__SRV_UNSTORED;
        } else if (rc != 0) {
            cas__srv_answer(r, 500, CAS_E_IO, "store: stat failed", NULL);
            return;
        } else if (size != CAS__SRV_UNSTORED) {
            cas__srv_xorb *x;
            cas__srv_lock(s);
            x = cas__srv_xorb_entry(s, h);
            if (x) x->size = size;
            cas__srv_unlock(s); /* (no room to remember it: answered all the same) */
        }
    }
    if (size == CAS__SRV_UNSTORED) cas__srv_answer(r, 404, CAS_E_NOT_FOUND, "xorb not found", NULL);
    else cas__srv_answer_size(r, size);
}

static void cas__srv_head_file(cas_server_req *r, const cas_hash *h) {
    cas_server *s = r->s;
    uint64_t size = 0;
    size_t i;
    cas__srv_lock(s);
    i = cas__htab_find(&s->tfiles, s->files, sizeof *s->files, h);
    if (i != (size_t)-1) size = s->files[i].size;
    cas__srv_unlock(s);
    if (i == (size_t)-1) cas__srv_answer(r, 404, CAS_E_NOT_FOUND, "file not found", NULL);
    else cas__srv_answer_size(r, size);
}

cas_result cas_server_begin(cas_server *s, const cas_http_request *req, uint64_t now,
                            cas_server_req **out, cas_error *err) {
    cas_server_req *r;
    cas_hash h;
    const char *what;
    int route, st;
    (void)now;
    if (out) *out = NULL;
    if (!s || !req || !out || !req->method || !req->target || (req->num_headers && !req->headers))
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "cas_server_begin arguments"));
    r = (cas_server_req *)cas__alloc(&s->a, sizeof *r);
    if (!r) return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "cas_server_req"));
    memset(r, 0, sizeof *r);
    r->s = s;
    r->head.a = r->body.a = &s->a;
    r->head_only = cas__srv_is(req->method, req->method_len, "HEAD");
    st = cas__srv_route(req->method, req->method_len, req->target, req->target_len, &route, &h, &what);
    if (st == 404) {
        cas__srv_answer(r, 404, CAS_E_NOT_FOUND, what, NULL);
    } else if (cas__srv_authorize(r, req, cas__srv_routes[route].scope)) {
        /* answered */
    } else if (st == 400) {
        cas__srv_answer(r, 400, strncmp(what, "malformed hash", 14) ? CAS_E_HTTP : CAS_E_HEX, what, NULL);
    } else if (route == CAS__R_XORB_HEAD) {
        cas__srv_head_xorb(r, &h);
    } else if (route == CAS__R_FILE_HEAD) {
        cas__srv_head_file(r, &h);
    } else {
        cas__srv_answer(r, 501, CAS_E_UNSUPPORTED, "route not implemented yet", NULL);
    }
    /* every answer so far is decided before the body: it is dropped, or the connection closed */
    r->discard = req->chunked ? UINT64_MAX : req->content_length == UINT64_MAX ? 0 : req->content_length;
    r->close = r->discard > ((uint64_t)1 << 20);
    if (r->head.oom || r->body.oom) {
        cas_server_req_free(r);
        return (cas_result)(cas__fail(err, CAS_E_NOMEM, 0, "response"));
    }
    *out = r;
    return (cas_result)(cas__succeed(err));
}

cas_result cas_server_push(cas_server_req *r, const void *data, size_t len, size_t *consumed) {
    (void)data, (void)len;
    if (consumed) *consumed = 0;
    if (!r || !consumed) return CAS_E_ARGUMENT;
    return CAS_READY;
}

cas_result cas_server_end(cas_server_req *r) { return r ? CAS_OK : CAS_E_ARGUMENT; }

cas_result cas_server_next(cas_server_req *r, cas_server_out *out) {
    if (!r || !out) return CAS_E_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (r->state == 0) {
        r->state = 1;
        out->type = CAS_SERVER_HEAD;
        out->status = r->status;
        out->headers = r->head.p, out->headers_len = r->head.len;
        out->body_length = r->head_only ? 0 : r->body.len;
        out->close = r->close;
        out->discard = r->discard;
        return CAS_READY;
    }
    if (r->state == 1 && !r->head_only && r->body.len) {
        r->state = 2;
        out->type = CAS_SERVER_DATA;
        out->data = (const uint8_t *)r->body.p, out->len = r->body.len;
        return CAS_READY;
    }
    r->state = 2;
    return CAS_END;
}

const cas_error *cas_server_req_error(const cas_server_req *r) { return r ? &r->error : NULL; }

void cas_server_req_free(cas_server_req *r) {
    cas_allocator a;
    if (!r) return;
    a = r->s->a;
    cas__free(&a, r->head.p, r->head.cap);
    cas__free(&a, r->body.p, r->body.cap);
    cas__free(&a, r, sizeof *r);
}

/* ==== >>host helpers: local store ======================================================== */

typedef struct cas__rs_term {
    const cas_shard_xorb *x;
    uint32_t cs, ce;
    uint64_t unpacked;
} cas__rs_term;

static int cas__rs_term_less(const void *ctx, const void *a, const void *b) {
    const cas__rs_term *x = (const cas__rs_term *)a, *y = (const cas__rs_term *)b;
    int c = memcmp(x->x->xorb_hash.bytes, y->x->xorb_hash.bytes, 32);
    (void)ctx;
    if (c) return c < 0;
    if (x->cs != y->cs) return x->cs < y->cs;
    return x->ce < y->ce;
}

/* Where the manifest builder gets what it needs: the file's terms and size, each xorb's
   CAS info (its chunks' sizes: NULL when no shard lists it), the record ends of a xorb
   (cas_record_ends_fn) and the URL text of a xorb's fetch entry (appended to b). */
typedef struct cas__recon_src {
    const cas_shard_term *terms;
    size_t num_terms;
    uint64_t size;
    const cas_shard_xorb *(*xorb)(void *user, const cas_hash *h);
    cas_record_ends_fn record_ends;
    void (*url)(void *user, cas__sb *b, const cas_hash *xorb);
    void *user;
} cas__recon_src;

/* The JSON a CAS server answers for bytes first..last (inclusive; last is clamped to the
   end; 0..UINT64_MAX on an empty file: no terms) of the file `src` describes, into b:
   version 2 (QueryReconstructionResponseV2: "xorbs", one fetch entry per xorb with its
   merged chunk ranges) or 1 ("fetch_info": one entry per merged range). Terms are trimmed
   to the chunks covering [first, last], offset_into_first_range is what the first kept
   chunk holds before `first`; ranges of one xorb are merged when they overlap or touch.
   Returns CAS_OK, CAS_E_LIMIT (first at or past the end: HTTP 416), CAS_E_SHARD_NO_CHUNKS
   (a xorb, or its chunk range, is unknown), CAS_E_SHARD_ENTRY (a term's size disagrees with
   its chunks), CAS_E_NOMEM, or record_ends' error; *what says which. */
static int cas__recon_build(const cas_allocator *a, const cas__recon_src *src, uint64_t first,
                            uint64_t last, int version, cas__sb *b, const char **what) {
    cas__rs_term *kept = NULL, *sorted = NULL;
    uint64_t *ends = NULL, pos = 0, skip = 0;
    size_t i, nkept = 0, ends_n = 0, nfetch = 0, kept_n = src->num_terms ? src->num_terms : 1;
    int rc = CAS_OK;
    *what = "";
    if (!(src->size == 0 && first == 0 && last == (uint64_t)-1) && first >= src->size) {
        *what = "the range starts at or past the end of the file";
        return CAS_E_LIMIT;
    }
    if (src->size && last > src->size - 1) last = src->size - 1;
    kept = (cas__rs_term *)cas__alloc(a, kept_n * sizeof *kept);
    if (!kept) return *what = "terms", CAS_E_NOMEM;
    for (i = 0; i < src->num_terms && src->size; i++) {
        const cas_shard_term *st = &src->terms[i];
        uint64_t end = pos + st->unpacked_bytes, cpos = pos;
        cas__rs_term *k;
        uint32_t c;
        if (end <= first || pos > last) { pos = end; continue; }
        k = &kept[nkept++];
        k->x = src->xorb(src->user, &st->xorb_hash);
        if (!k->x || st->chunk_end > k->x->num_chunks) {
            rc = CAS_E_SHARD_NO_CHUNKS, *what = "a xorb of the file (or its chunk range) is in none of the shards";
            goto done;
        }
        k->cs = st->chunk_start, k->ce = st->chunk_end, k->unpacked = st->unpacked_bytes;
        if (pos < first || end - 1 > last) { /* trim to the chunks that hold [first, last] */
            while (k->cs < k->ce && cpos + k->x->chunks[k->cs].unpacked_bytes <= first)
                cpos += k->x->chunks[k->cs++].unpacked_bytes;
            if (nkept == 1) skip = first - cpos;
            k->unpacked = 0;
            for (c = k->cs; c < k->ce && cpos <= last; c++) {
                k->unpacked += k->x->chunks[c].unpacked_bytes;
                cpos += k->x->chunks[c].unpacked_bytes;
            }
            k->ce = c;
            if (k->cs >= k->ce) {
                rc = CAS_E_SHARD_ENTRY, *what = "a term's unpacked_bytes do not match its xorb's chunks";
                goto done;
            }
        }
        pos = end;
    }
    cas__sb_str(b, "{\"offset_into_first_range\":");
    cas__sb_u64(b, skip);
    cas__sb_str(b, ",\"terms\":[");
    for (i = 0; i < nkept; i++) {
        cas__sb_str(b, i ? ",{\"hash\":\"" : "{\"hash\":\"");
        cas__sb_hash(b, &kept[i].x->xorb_hash);
        cas__sb_str(b, "\",\"unpacked_length\":");
        cas__sb_u64(b, kept[i].unpacked);
        cas__sb_str(b, ",\"range\":{\"start\":");
        cas__sb_u64(b, kept[i].cs);
        cas__sb_str(b, ",\"end\":");
        cas__sb_u64(b, kept[i].ce);
        cas__sb_str(b, "}}");
    }
    cas__sb_str(b, version == 1 ? "],\"fetch_info\":{" : "],\"xorbs\":{");
    sorted = (cas__rs_term *)cas__alloc(a, (nkept ? 2 * nkept : 1) * sizeof *sorted); /* + sorting room */
    if (!sorted) { rc = CAS_E_NOMEM, *what = "terms"; goto done; }
    if (nkept) memcpy(sorted, kept, nkept * sizeof *sorted);
    cas__sort(sorted, sorted + nkept, nkept, sizeof *sorted, cas__rs_term_less, NULL);
    for (i = 0; i < nkept;) {
        const cas_shard_xorb *x = sorted[i].x;
        size_t j = i, nranges = 0;
        if (ends_n < x->num_chunks) {
            cas__free(a, ends, ends_n * sizeof *ends);
            ends_n = x->num_chunks;
            ends = (uint64_t *)cas__alloc(a, ends_n * sizeof *ends);
            if (!ends) { ends_n = 0; rc = CAS_E_NOMEM, *what = "record ends"; goto done; }
        }
        rc = src->record_ends(src->user, &x->xorb_hash, x->num_chunks, ends);
        if (rc != CAS_OK) { *what = "record_ends failed"; goto done; }
        cas__sb_str(b, nfetch++ ? ",\"" : "\"");
        cas__sb_hash(b, &x->xorb_hash);
        if (version == 1) {
            cas__sb_str(b, "\":[");
        } else {
            cas__sb_str(b, "\":[{\"url\":\"");
            src->url(src->user, b, &x->xorb_hash);
            cas__sb_str(b, "\",\"ranges\":[");
        }
        while (j < nkept && cas_hash_equal(&sorted[j].x->xorb_hash, &x->xorb_hash)) {
            uint32_t cs = sorted[j].cs, ce = sorted[j].ce;
            for (j++; j < nkept && cas_hash_equal(&sorted[j].x->xorb_hash, &x->xorb_hash) &&
                      sorted[j].cs <= ce; j++)
                if (sorted[j].ce > ce) ce = sorted[j].ce;
            if (version == 1) { /* {"range":{chunks},"url":...,"url_range":{bytes}} */
                cas__sb_str(b, nranges++ ? ",{\"range\":{\"start\":" : "{\"range\":{\"start\":");
                cas__sb_u64(b, cs);
                cas__sb_str(b, ",\"end\":");
                cas__sb_u64(b, ce);
                cas__sb_str(b, "},\"url\":\"");
                src->url(src->user, b, &x->xorb_hash);
                cas__sb_str(b, "\",\"url_range\":{\"start\":");
            } else {
                cas__sb_str(b, nranges++ ? ",{\"chunks\":{\"start\":" : "{\"chunks\":{\"start\":");
                cas__sb_u64(b, cs);
                cas__sb_str(b, ",\"end\":");
                cas__sb_u64(b, ce);
                cas__sb_str(b, "},\"bytes\":{\"start\":");
            }
            cas__sb_u64(b, cs ? ends[cs - 1] : 0);
            cas__sb_str(b, ",\"end\":");
            cas__sb_u64(b, ends[ce - 1] - 1);
            cas__sb_str(b, "}}");
        }
        cas__sb_str(b, version == 1 ? "]" : "]}]");
        i = j;
    }
    cas__sb_str(b, "}}");
    if (b->oom) rc = CAS_E_NOMEM, *what = "manifest text";
done:
    cas__free(a, kept, kept_n * sizeof *kept);
    if (sorted) cas__free(a, sorted, (nkept ? 2 * nkept : 1) * sizeof *sorted);
    cas__free(a, ends, ends_n * sizeof *ends);
    return rc;
}

/* cas_recon_from_shards' source: the shards, URLs url_prefix + xorb hex. */
typedef struct cas__rs_ctx {
    const cas_shard *shards;
    size_t num_shards;
    const char *url_prefix;
    cas_record_ends_fn record_ends;
    void *user;
} cas__rs_ctx;
static const cas_shard_xorb *cas__rs_find_xorb(void *user, const cas_hash *h) {
    const cas__rs_ctx *c = (const cas__rs_ctx *)user;
    size_t i;
    for (i = 0; i < c->num_shards; i++) {
        const cas_shard_xorb *x = cas_shard_find_xorb(&c->shards[i], h);
        if (x) return x;
    }
    return NULL;
}
static int cas__rs_record_ends(void *user, const cas_hash *xorb, uint32_t n, uint64_t *ends) {
    const cas__rs_ctx *c = (const cas__rs_ctx *)user;
    return c->record_ends(c->user, xorb, n, ends);
}
static void cas__rs_url(void *user, cas__sb *b, const cas_hash *xorb) {
    cas__sb_str(b, ((const cas__rs_ctx *)user)->url_prefix);
    cas__sb_hash(b, xorb);
}

/* The manifest text of cas_recon_from_shards in either version (tests/test_download.c
   checks that v1 and v2 describe the same fetches). *json: allocated through alloc (NULL:
   malloc), *cap bytes (free them with it); CAS_E_SHARD_NO_CHUNKS when no shard holds the file. */
CAS__TESTED int cas__recon_shards_json(const cas_allocator *alloc, const cas_shard *shards,
                                       size_t num_shards, const cas_hash *file_hash,
                                       uint64_t first, uint64_t last, const char *url_prefix,
                                       cas_record_ends_fn record_ends, void *user, int version,
                                       char **json, size_t *len, size_t *cap, cas_error *err) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas__rs_ctx c;
    cas__recon_src src;
    const cas_shard_file *f = NULL;
    const char *what = "";
    cas__sb b;
    size_t i;
    int rc;
    *json = NULL, *len = *cap = 0;
    for (i = 0; i < num_shards && !f; i++) f = cas_shard_find_file(&shards[i], file_hash);
    if (!f) return cas__fail(err, CAS_E_SHARD_NO_CHUNKS, 0, "the file is in none of the shards");
    c.shards = shards, c.num_shards = num_shards, c.url_prefix = url_prefix;
    c.record_ends = record_ends, c.user = user;
    src.terms = f->terms, src.num_terms = f->num_terms, src.size = f->size;
    src.xorb = cas__rs_find_xorb, src.record_ends = cas__rs_record_ends, src.url = cas__rs_url;
    src.user = &c;
    memset(&b, 0, sizeof b);
    b.a = &a;
    rc = cas__recon_build(&a, &src, first, last, version, &b, &what);
    if (rc != CAS_OK) {
        cas__free(&a, b.p, b.cap);
        return cas__fail(err, rc, rc == CAS_E_LIMIT ? first : 0, what);
    }
    *json = b.p, *len = b.len, *cap = b.cap;
    return cas__succeed(err);
}

cas_result cas_recon_from_shards(const cas_allocator *alloc, const cas_shard *shards,
                                 size_t num_shards, const cas_hash *file_hash, uint64_t first,
                                 uint64_t last, const char *url_prefix,
                                 cas_record_ends_fn record_ends, void *user, cas_recon *out,
                                 cas_error *err) {
    cas_allocator a = cas__allocator_or_default(alloc);
    cas_json_desc o;
    char *json;
    size_t len, cap;
    int rc;
    if (out) memset(out, 0, sizeof *out);
    if (!out || !file_hash || !url_prefix || !record_ends || (num_shards && !shards) || first > last)
        return (cas_result)(cas__fail(err, CAS_E_ARGUMENT, 0, "cas_recon_from_shards arguments"));
    rc = cas__recon_shards_json(&a, shards, num_shards, file_hash, first, last, url_prefix,
                                record_ends, user, 2, &json, &len, &cap, err);
    if (rc != CAS_OK) return (cas_result)(rc);
    memset(&o, 0, sizeof o);
    o.max_body = (uint64_t)-1;
    rc = cas_recon_parse(&a, json, len, 2, &o, out, err);
    cas__free(&a, json, cap);
    return (cas_result)(rc);
}

/* Internal macros end with the implementation (only CAS_* public ones remain). */
#undef CAS__X86
#undef CAS__X86_GNU
#undef CAS__ATOMIC_LOAD
#undef CAS__ATOMIC_STORE
#undef CAS__ARM64
#undef CAS__ARM64_SHA2
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
#undef CAS__GEAR_WARMUP
#undef CAS__GEAR_ASM
#undef CAS__GEAR_LANE_ASM
#undef CAS__GEAR_STEP2_ASM
#undef CAS__FUSED
#undef CAS__FUSED_AVX512
#undef CAS__FUSED_AVX2
#undef CAS__FUSED_STEP2
#undef CAS__FUSED_LANE
#undef CAS__FUSED_BLOCK
#undef CAS__FUSED_HASH
#undef CAS__B3_CHUNK
#undef CAS__XORB_RECORD_CAP
#undef CAS__XORB_STREAM_BUF
#undef CAS__SHARD_EMPTY_SIZE
#undef CAS__GATHER_GROUP
#undef CAS__SUB_NONE
#undef CAS__SRV_NONE
#undef CAS__SRV_UNSTORED
#undef CAS__TESTED
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
