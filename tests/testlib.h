/* Shared helpers of the test runner and the benchmarks: deterministic inputs (the same
   generators as tests/oracle/gen-vectors.mjs), vector-file reading, a tiny check framework. */
#ifndef CAS_TESTLIB_H
#define CAS_TESTLIB_H

/* CAS_LINK_IMPL (make test, make check, the fuzz builds): the implementation is compiled once
   per configuration (tests/cas_impl.c, with CAS_TEST_EXPORTS) and linked into every program,
   so a test's own `#define CAS_IMPLEMENTATION` is dropped here; the internals tests call
   are declared below. Without it (`cc tests/test_x.c`), each program stays one translation
   unit. */
#ifdef CAS_LINK_IMPL
#undef CAS_IMPLEMENTATION
#include "../cas.h"
/* (declared as cas.h defines them: outside its extern "C" block, so the same linkage in C++) */
extern const uint64_t cas__gear[256];
double cas__ln(double x);
int cas__srv_route(const char *method, size_t mlen, const char *target, size_t tlen, int *route,
                   cas_hash *hash, const char **what);
int cas__http_range(const char *v, size_t n, uint64_t size, uint64_t *first, uint64_t *last);
int cas__http_bearer(const char *v, size_t n, const char **tok, size_t *len);
int cas__recon_shards_json(const cas_allocator *alloc, const cas_shard *shards, size_t num_shards,
                           const cas_hash *file_hash, uint64_t first, uint64_t last,
                           const char *url_prefix, cas_record_ends_fn record_ends, void *user,
                           int version, char **json, size_t *len, size_t *cap, cas_error *err);
#else
#include "../cas.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Little-endian words, the tests' own (they check the library's byte layouts). */
static inline uint32_t t_load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t t_load_le64(const uint8_t *p) {
    return (uint64_t)t_load_le32(p) | (uint64_t)t_load_le32(p + 4) << 32;
}
static inline void t_store_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline void t_store_le64(uint8_t *p, uint64_t v) {
    t_store_le32(p, (uint32_t)v);
    t_store_le32(p + 4, (uint32_t)(v >> 32));
}

static inline void *t_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* ---- checks: each counts a pass or a failure; the first 60 failures are printed ----
   CHECK(c); CHECKM(c, name) names the input; CHECK_MSG(c, fmt, ...) explains. g_test, when
   set, names the test running in the failure lines. Marked unused for the programs that
   include this file without checking anything (the benchmarks, the fuzz targets). */
#if defined(__GNUC__) || defined(__clang__)
#define T_MAYBE_UNUSED __attribute__((unused))
#else
#define T_MAYBE_UNUSED
#endif
static long g_pass T_MAYBE_UNUSED, g_fail T_MAYBE_UNUSED;
static const char *g_test T_MAYBE_UNUSED = "";
static inline int t_failed(const char *file, int line, const char *cond) {
    if (++g_fail > 60) return 0;
    fprintf(stderr, "FAIL %s%s%s:%d: %s", g_test, *g_test ? ": " : "", file, line, cond);
    return 1;
}
#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (c) g_pass++;                                                                      \
        else if (t_failed(__FILE__, __LINE__, #c)) fputc('\n', stderr);                       \
    } while (0)
#define CHECK_MSG(c, ...)                                                                     \
    do {                                                                                      \
        if (c) {                                                                              \
            g_pass++;                                                                         \
        } else if (t_failed(__FILE__, __LINE__, #c)) {                                        \
            fputs(": ", stderr);                                                              \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
        }                                                                                     \
    } while (0)
#define CHECKM(c, name) CHECK_MSG(c, "[%s]", name)

/* ---- a counting allocator: fails the Nth allocation (or every one from the Nth), checks
   sizes, finds leaks ---- */
typedef struct {
    long n, fail_at; /* allocations so far; fail the one with this index (-1: never) */
    int fail_rest;   /* and every one after it (t_counting_budget) */
    int failed;      /* an allocation was failed */
    long live;
    size_t bytes, peak, max_single;
} t_counting;
static inline void *t_counting_alloc(void *user, size_t size, size_t align) {
    t_counting *a = (t_counting *)user;
    size_t *p;
    long i = a->n++;
    (void)align;
    if (i == a->fail_at || (a->fail_rest && a->fail_at >= 0 && i > a->fail_at)) {
        a->failed = 1;
        return NULL;
    }
    p = (size_t *)malloc(size + 16);
    if (!p) return NULL;
    p[0] = size;
    a->live++;
    a->bytes += size;
    if (a->bytes > a->peak) a->peak = a->bytes;
    if (size > a->max_single) a->max_single = size;
    return (char *)p + 16;
}
static inline void t_counting_free(void *user, void *ptr, size_t size) {
    t_counting *a = (t_counting *)user;
    size_t *p;
    if (!ptr) return;
    p = (size_t *)(void *)((char *)ptr - 16);
    if (p[0] != size) {
        fprintf(stderr, "free: size %zu, allocated %zu\n", size, p[0]);
        abort();
    }
    a->live--;
    a->bytes -= size;
    free(p);
}
static inline cas_allocator t_counting_allocator(t_counting *a, long fail_at) {
    cas_allocator al;
    memset(a, 0, sizeof *a);
    a->fail_at = fail_at;
    al.alloc = t_counting_alloc;
    al.free = t_counting_free;
    al.user = a;
    return al;
}
/* From now on the next `budget` allocations succeed and every later one fails. */
static inline void t_counting_budget(t_counting *a, long budget) {
    a->fail_at = a->n + budget;
    a->fail_rest = 1;
}

/* ---- splitmix64 and the input kinds of tests/oracle/README.md ---- */
typedef struct {
    uint64_t state;
} t_rng;

static inline uint64_t t_next(t_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline void t_fill_random(t_rng *r, uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t v = t_next(r);
        int k;
        for (k = 0; k < 8 && i < n; k++, i++) p[i] = (uint8_t)(v >> (8 * k));
    }
}

/* Fills buf[0..size) with input `kind` from `seed`; 0 on an unknown kind. */
static inline int t_generate(const char *kind, uint64_t seed, uint8_t *buf, size_t size) {
    static const char *words[16] = {"the",  "of",   "and",  "model", "tensor", "weight",
                                    "layer", "xet",  "chunk", "hash", "data",   "file",
                                    "byte", "merkle", "shard", "hub"};
    t_rng r;
    size_t i = 0;
    r.state = seed;
    if (!strcmp(kind, "zero")) {
        memset(buf, 0, size);
    } else if (!strcmp(kind, "random")) {
        t_fill_random(&r, buf, size);
    } else if (!strcmp(kind, "text")) {
        while (i < size) {
            uint64_t v = t_next(&r);
            const char *w = words[v & 15];
            size_t k;
            for (k = 0; w[k] && i < size; k++) buf[i++] = (uint8_t)w[k];
            if (i < size) buf[i++] = ((v >> 8) & 7) == 0 ? '\n' : ' ';
        }
    } else if (!strcmp(kind, "lowent")) {
        for (i = 0; i < size; i++) buf[i] = (uint8_t)(t_next(&r) >> 61);
    } else {
        return 0;
    }
    return 1;
}

/* chunking.md's pseudocode, byte by byte: the reference the fast chunker must equal, and
   the benchmark's baseline. Writes up to cap chunk sizes; returns the chunk count. */
static inline size_t t_spec_chunk(const uint64_t table[256], const uint8_t *data, size_t len,
                           uint64_t *sizes, size_t cap) {
    uint64_t h = 0;
    size_t start = 0, i, n = 0;
    for (i = 0; i < len; i++) {
        uint64_t size;
        h = (h << 1) + table[data[i]];
        size = i + 1 - start;
        if (size < CAS_CHUNK_MIN_SIZE) continue;
        if (size >= CAS_CHUNK_MAX_SIZE || (h & 0xFFFF000000000000ULL) == 0) {
            if (n < cap) sizes[n] = size;
            n++;
            start = i + 1;
            h = 0;
        }
    }
    if (start < len) {
        if (n < cap) sizes[n] = len - start;
        n++;
    }
    return n;
}

/* xet-core's batch algorithm, level by level (an independent transcription). */
static inline void t_batch_merkle_root(const cas_chunk *leaves, size_t n, cas_hash *out) {
    cas_chunk *v;
    size_t len = n;
    if (n == 0) {
        memset(out, 0, sizeof *out);
        return;
    }
    v = (cas_chunk *)t_xmalloc(n * sizeof *v);
    memcpy(v, leaves, n * sizeof *v);
    while (len > 1) {
        size_t rd = 0, wr = 0;
        while (rd < len) {
            size_t rem = len - rd, cut, i;
            if (rem <= 2) {
                cut = rem;
            } else {
                size_t end = rem < 9 ? rem : 9;
                cut = end;
                for (i = 2; i < end; i++)
                    if (cas_hash_tail_u64(&v[rd + i].hash) % 4 == 0) {
                        cut = i + 1;
                        break;
                    }
            }
            cas_internal_node_hash(v + rd, cut, &v[wr].hash, &v[wr].size);
            wr++;
            rd += cut;
        }
        len = wr;
    }
    *out = v[0].hash;
    free(v);
}

/* ---- vector files ---- */
static inline const char *t_vector_dir(void) {
    const char *d = getenv("CAS_VECTORS");
    return d ? d : "tests/vectors";
}

static inline FILE *t_open_vectors(const char *name) {
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", t_vector_dir(), name);
    f = fopen(path, "r");
    if (!f) fprintf(stderr, "cannot open %s (run from the repository root or set CAS_VECTORS)\n", path);
    return f;
}

/* The whole of dir/name in a t_xmalloc'ed buffer (*len bytes; 0 on a read error), or NULL
   (counted as a failure) if it cannot be opened. */
static inline uint8_t *t_read_file(const char *dir, const char *name, size_t *len) {
    char path[1024];
    FILE *f;
    uint8_t *buf;
    long n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (set CAS_VECTORS / CAS_SHARD_VECTORS)\n", path);
        g_fail++;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (uint8_t *)t_xmalloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Next non-empty, non-comment line without its newline; 0 at EOF. */
static inline int t_read_line(FILE *f, char *line, size_t cap) {
    while (fgets(line, (int)cap, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0 || line[0] == '#') continue;
        return 1;
    }
    return 0;
}

static inline int t_hex_bytes(const char *hex, uint8_t *out, size_t cap, size_t *len) {
    size_t n = strlen(hex), i;
    if (n % 2 || n / 2 > cap) return 0;
    for (i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return 0;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 1;
}

static inline void t_plain_hex(const uint8_t *p, size_t n, char *out) {
    size_t i;
    for (i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}

static inline cas_hash t_hash(const char *hex) {
    cas_hash h;
    memset(&h, 0, sizeof h);
    if (cas_hash_from_hex(hex, strlen(hex), &h) != CAS_OK) {
        fprintf(stderr, "bad hash in vectors: %s\n", hex);
        exit(2);
    }
    return h;
}

/* A growing NUL-terminated text/byte buffer for generated inputs (aborts when out of memory). */
typedef struct {
    char *p;
    size_t n, cap;
} t_buf;
static inline void tb_put(t_buf *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = (char *)realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static inline void tb_str(t_buf *b, const char *s) { tb_put(b, s, strlen(s)); }
static inline void tb_rep(t_buf *b, const char *s, size_t times) { /* s, times over */
    size_t i;
    for (i = 0; i < times; i++) tb_str(b, s);
}
static inline void tb_fill(t_buf *b, char c, size_t times) { /* c, times over */
    size_t i;
    for (i = 0; i < times; i++) tb_put(b, &c, 1);
}
static inline void tb_u64(t_buf *b, uint64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    tb_str(b, s);
}
static inline void tb_free(t_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

#endif
