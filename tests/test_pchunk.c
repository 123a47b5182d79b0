/* Parallel chunking (cas_chunk_buffer): the same chunks as the serial chunker for every input.
   Against the oracle's chunk lists (tests/vectors/chunking.txt, xet-core's WebAssembly), and
   against cas_chunk_stream on inputs chosen for their seams: random, text, low entropy, long
   zero runs (boundaries at the 128 KiB maximum never meet from different starts), periodic
   data, zero runs at random places; segments of 1 MiB (the smallest, so many seams) and odd
   sizes; buffers cut at random points (the tail carried into the next call); jobs run in
   reverse order (the result must not depend on it); argument and allocation failures.
   Usage: test_pchunk (the vectors: $CAS_VECTORS, default tests/vectors) */
#define CAS_IMPLEMENTATION
#include "testlib.h"

/* desc.parallel: the jobs last to first, on this thread. */
static void reverse_jobs(void *user, void (*job)(void *ctx, size_t i), void *ctx, size_t n) {
    (void)user;
    while (n) job(ctx, --n);
}

static size_t serial_chunks(const uint8_t *d, size_t len, cas_chunk *out) {
    cas_chunk_stream cs;
    cas_chunk c;
    size_t at = 0, n = 0;
    cas_chunk_stream_init(&cs);
    while (at < len) {
        at += cas_chunk_stream_push(&cs, d + at, len - at, &c);
        if (c.size) out[n++] = c;
    }
    if (cas_chunk_stream_finish(&cs, &c)) out[n++] = c;
    return n;
}

static int same_chunks(const cas_chunk *a, size_t na, const cas_chunk *b, size_t nb) {
    size_t i;
    if (na != nb) return 0;
    for (i = 0; i < na; i++)
        if (a[i].size != b[i].size || !cas_hash_equal(&a[i].hash, &b[i].hash)) return 0;
    return 1;
}

/* The chunks of d[0..len) through cas_chunk_buffer in calls over pieces cut at `cuts` (the
   tail of each carried into the next), segment `seg`, into out. Returns the count, or
   (size_t)-1 on an error. */
static size_t buffered_chunks(const uint8_t *d, size_t len, const size_t *cuts, size_t ncuts, size_t seg,
                              cas_chunk *out) {
    cas_chunk_buffer_desc desc;
    size_t start = 0, n = 0, k;
    memset(&desc, 0, sizeof desc);
    desc.parallel = reverse_jobs;
    desc.segment = seg;
    for (k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        cas_chunk_list l;
        if (end < start) continue; /* a cut inside the carried tail: the next piece holds it */
        if (cas_chunk_buffer(NULL, d + start, end - start, k == ncuts, &desc, &l) != CAS_OK) return (size_t)-1;
        memcpy(out + n, l.chunks, l.n * sizeof *out);
        n += l.n;
        start += l.used;
        cas_chunk_list_free(&l);
    }
    return start == len ? n : (size_t)-1;
}

static void test_vectors(void) {
    FILE *f = t_open_vectors("chunking.txt");
    char line[512], kind[32];
    unsigned long long seed, size;
    cas_chunk *want = NULL, *got;
    size_t nwant = 0, cases = 0;
    uint8_t *data = NULL;
    g_test = "vectors";
    CHECK(f != NULL);
    if (!f) return;
    while (t_read_line(f, line, sizeof line)) {
        if (sscanf(line, "case %31s %llu %llu", kind, &seed, &size) == 3) {
            free(data), free(want);
            data = (uint8_t *)t_xmalloc(size ? size : 1);
            want = (cas_chunk *)t_xmalloc((size / CAS_CHUNK_MIN_SIZE + 2) * sizeof *want);
            nwant = 0;
            CHECK(t_generate(kind, seed, data, size));
        } else if (!strncmp(line, "chunk ", 6)) {
            unsigned long long sz;
            char hex[65];
            if (sscanf(line, "chunk %64s %llu", hex, &sz) == 2) {
                want[nwant].hash = t_hash(hex);
                want[nwant++].size = sz;
            }
        } else if (!strcmp(line, "end") && data) {
            size_t seg[3] = {1u << 20, (1u << 20) + 1, 3 * (1u << 20) + 12345}, s, n;
            got = (cas_chunk *)t_xmalloc((size / CAS_CHUNK_MIN_SIZE + 2) * sizeof *got);
            for (s = 0; s < 3; s++) {
                n = buffered_chunks(data, (size_t)size, NULL, 0, seg[s], got);
                CHECK_MSG(n != (size_t)-1 && same_chunks(got, n, want, nwant), "%s %llu %llu segment %zu: %zu chunks, oracle %zu",
                          kind, seed, size, seg[s], n, nwant);
            }
            free(got);
            cases++;
        }
    }
    fclose(f);
    free(data), free(want);
    printf("  %zu oracle cases, 3 segment sizes each\n", cases);
    CHECK(cases >= 20);
}

/* Inputs whose seams are hard: each against the serial chunker, whole and cut at random. */
static void test_seams(void) {
    const size_t len = 9u << 20;
    uint8_t *d = (uint8_t *)t_xmalloc(len);
    cas_chunk *want = (cas_chunk *)t_xmalloc((len / CAS_CHUNK_MIN_SIZE + 2) * sizeof *want);
    cas_chunk *got = (cas_chunk *)t_xmalloc((len / CAS_CHUNK_MIN_SIZE + 2) * sizeof *got);
    const char *kinds[] = {"random", "text", "lowent", "zero", "period-1000", "period-150k", "zero-runs", "zero-head"};
    t_rng r;
    size_t k, i;
    g_test = "seams";
    r.state = 77;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t nwant, n, cuts[6], seg;
        if (!strncmp(kinds[k], "period-", 7)) { /* one random block, over and over */
            size_t p = !strcmp(kinds[k], "period-1000") ? 1000 : 150000;
            t_fill_random(&r, d, p);
            for (i = p; i < len; i++) d[i] = d[i - p];
        } else if (!strcmp(kinds[k], "zero-runs")) { /* random with zero runs of 100 KiB..2 MiB */
            t_fill_random(&r, d, len);
            for (i = 0; i < 5; i++) {
                size_t at = (size_t)(t_next(&r) % (len - (2u << 20))), n0 = 100000 + (size_t)(t_next(&r) % (2u << 20));
                memset(d + at, 0, n0);
            }
        } else if (!strcmp(kinds[k], "zero-head")) { /* 5 MiB of zeros, then random */
            memset(d, 0, 5u << 20);
            t_fill_random(&r, d + (5u << 20), len - (5u << 20));
        } else {
            CHECK(t_generate(kinds[k], 100 + k, d, len));
        }
        nwant = serial_chunks(d, len, want);
        for (seg = 1u << 20; seg <= (4u << 20); seg *= 2) {
            n = buffered_chunks(d, len, NULL, 0, seg, got);
            CHECK_MSG(n != (size_t)-1 && same_chunks(got, n, want, nwant), "%s, segment %zu, whole: %zu chunks, serial %zu",
                      kinds[k], seg, n, nwant);
        }
        for (i = 0; i < 4; i++) { /* cut at random points: each call's tail carried on */
            size_t j, nc = 1 + (size_t)(t_next(&r) % 6);
            for (j = 0; j < nc; j++) cuts[j] = (size_t)(t_next(&r) % len);
            for (j = 1; j < nc; j++) { /* ascending */
                size_t v = cuts[j], m = j;
                while (m > 0 && cuts[m - 1] > v) cuts[m] = cuts[m - 1], m--;
                cuts[m] = v;
            }
            n = buffered_chunks(d, len, cuts, nc, 1u << 20, got);
            CHECK_MSG(n != (size_t)-1 && same_chunks(got, n, want, nwant), "%s, %zu cuts: %zu chunks, serial %zu", kinds[k],
                      nc, n, nwant);
        }
    }
    free(d), free(want), free(got);
}

static void test_edges(void) {
    uint8_t small[5000];
    cas_chunk_list l;
    cas_chunk_buffer_desc desc;
    t_counting ca;
    cas_allocator a;
    uint8_t *d;
    long fail_at;
    g_test = "edges";
    memset(small, 7, sizeof small);
    CHECK(cas_chunk_buffer(NULL, NULL, 0, 1, NULL, &l) == CAS_OK && l.n == 0 && l.used == 0);
    cas_chunk_list_free(&l);
    /* not the end of the file, and no boundary: nothing chunked, all of it the next call's */
    CHECK(cas_chunk_buffer(NULL, small, sizeof small, 0, NULL, &l) == CAS_OK && l.n == 0 && l.used == 0);
    cas_chunk_list_free(&l);
    CHECK(cas_chunk_buffer(NULL, small, sizeof small, 1, NULL, &l) == CAS_OK && l.n == 1 && l.used == sizeof small &&
          l.chunks[0].size == sizeof small);
    cas_chunk_list_free(&l);
    CHECK(cas_chunk_buffer(NULL, NULL, 10, 1, NULL, &l) == CAS_E_ARGUMENT && l.n == 0 && !l.chunks);
    CHECK(cas_chunk_buffer(NULL, small, sizeof small, 1, NULL, NULL) == CAS_E_ARGUMENT);
    cas_chunk_list_free(NULL);
    /* every allocation failing in turn: CAS_E_NOMEM, nothing kept */
    d = (uint8_t *)t_xmalloc(3u << 20);
    CHECK(t_generate("random", 9, d, 3u << 20));
    memset(&desc, 0, sizeof desc);
    desc.parallel = reverse_jobs;
    for (fail_at = 0; fail_at < 3; fail_at++) {
        a = t_counting_allocator(&ca, fail_at);
        CHECK_MSG(cas_chunk_buffer(&a, d, 3u << 20, 1, &desc, &l) == CAS_E_NOMEM && !l.chunks && ca.live == 0,
                  "allocation %ld failing", fail_at);
    }
    a = t_counting_allocator(&ca, -1);
    CHECK(cas_chunk_buffer(&a, d, 3u << 20, 1, &desc, &l) == CAS_OK && l.used == 3u << 20 && ca.live == 1);
    cas_chunk_list_free(&l);
    CHECK(ca.live == 0);
    free(d);
}

int main(void) {
    test_vectors();
    test_seams();
    test_edges();
    printf("test_pchunk: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail != 0;
}
