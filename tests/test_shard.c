/* Tests of the shard section of cas.h: writer, sequential and random-access readers, lookups.
   cc -std=c99 -O2 -Wall -Wextra -Werror -I/work/main test_shard.c -o test_shard
   (run ./assemble.sh first). Vectors: $CAS_VECTORS (default tests/vectors: hmac.txt,
   merkle_random.txt) and $CAS_SHARD_VECTORS (default tests/vectors/shard: the HF-written shards,
   verification.txt, the cas-written shards checked against the TypeScript parser). */
#define CAS_IMPLEMENTATION
#include "testlib.h"


/* ---- helpers ---- */

static t_rng g_rng = {0x5eed};
static uint64_t rnd(void) { return t_next(&g_rng); }
static uint32_t rndn(uint32_t n) { return (uint32_t)(rnd() % n); }

static void *xcalloc(size_t n, size_t s) {
    void *p = calloc(n ? n : 1, s ? s : 1);
    if (!p) exit(2);
    return p;
}

static void rnd_hash(cas_hash *h) {
    int i;
    for (i = 0; i < 4; i++) t_store_le64(h->bytes + 8 * i, rnd()); /* same bytes on any CPU */
}

static cas_hash hex_hash(const char *hex) {
    cas_hash h;
    memset(&h, 0, sizeof h);
    if (cas_hash_from_hex(hex, strlen(hex), &h)) {
        fprintf(stderr, "bad hash %s\n", hex);
        exit(2);
    }
    return h;
}

static const char *g_vec = "tests/vectors", *g_svec = "tests/vectors/shard";

/* Growing output of the callback writer. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    int fail_at; /* call number that fails, or -1 */
    int calls;
} t_sink;
static int t_sink_write(void *user, const void *data, size_t len) {
    t_sink *s = (t_sink *)user;
    if (s->fail_at >= 0 && s->calls++ == s->fail_at) return -99;
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->p = (uint8_t *)realloc(s->p, s->cap);
        if (!s->p) exit(2);
    }
    memcpy(s->p + s->len, data, len);
    s->len += len;
    return 0;
}

/* cas_shard_write into a buffer sink; *len = bytes written. */
static int wbuf(const cas_allocator *al, const cas_shard_file *f, size_t nf, const cas_shard_xorb *x, size_t nx,
                const cas_shard_write_desc *o, void *buf, size_t cap, size_t *len, cas_error *e) {
    cas_sink sink;
    int rc;
    memset(&sink, 0, sizeof sink);
    sink.buf = (uint8_t *)buf;
    sink.cap = cap;
    rc = cas_shard_write(al, f, nf, x, nx, o, &sink, NULL, e);
    *len = sink.len;
    return rc;
}
/* cas_shard_write to the growing t_sink. */
static int wcb(const cas_allocator *al, const cas_shard_file *f, size_t nf, const cas_shard_xorb *x, size_t nx,
               const cas_shard_write_desc *o, t_sink *ts, uint64_t *written, cas_error *e) {
    cas_sink sink;
    memset(&sink, 0, sizeof sink);
    sink.write = t_sink_write;
    sink.user = ts;
    return cas_shard_write(al, f, nf, x, nx, o, &sink, written, e);
}

/* ---- external xorbs: chunk hashes a caller would know from elsewhere ---- */

#define EXT_MARK 0xEE
#define EXT_CHUNKS 300
static void ext_chunk(const cas_hash *xorb, uint32_t i, cas_chunk *c) {
    uint8_t buf[36];
    memcpy(buf, xorb->bytes, 32);
    t_store_le32(buf + 32, i);
    cas_chunk_hash(buf, sizeof buf, &c->hash);
    c->size = 1 + t_load_le32(c->hash.bytes + 4) % 131072;
}
static int ext_calls;
/* A chunk source that fails with an error of its own (a store that cannot be read). */
#define SOURCE_ERROR (-77)
static int failing_source(void *user, const cas_hash *xorb_hash, uint32_t start, uint32_t end, cas_chunk *out) {
    (void)user, (void)xorb_hash, (void)start, (void)end, (void)out;
    return SOURCE_ERROR;
}
static int ext_source(void *user, const cas_hash *xorb_hash, uint32_t start, uint32_t end, cas_chunk *out) {
    uint32_t i;
    (void)user;
    ext_calls++;
    if (xorb_hash->bytes[0] != EXT_MARK || end > EXT_CHUNKS || end - start > 128) return CAS_E_SHARD_NO_CHUNKS;
    for (i = start; i < end; i++) ext_chunk(xorb_hash, i, &out[i - start]);
    return CAS_OK;
}

/* ---- random shard descriptions ---- */

typedef struct {
    cas_shard_file *files;
    size_t nf;
    cas_shard_xorb *xorbs;
    size_t nx;
    cas_hash ext[4];
} t_desc;

static void desc_free(t_desc *d) {
    size_t i;
    for (i = 0; i < d->nf; i++) free(d->files[i].terms);
    for (i = 0; i < d->nx; i++) free(d->xorbs[i].chunks);
    free(d->files);
    free(d->xorbs);
    memset(d, 0, sizeof *d);
}

static void desc_random(t_desc *d, int big) {
    size_t i;
    uint32_t j;
    memset(d, 0, sizeof *d);
    d->nx = rndn(big ? 12 : 5);
    d->xorbs = (cas_shard_xorb *)xcalloc(d->nx, sizeof *d->xorbs);
    for (i = 0; i < d->nx; i++) {
        cas_shard_xorb *x = &d->xorbs[i];
        uint32_t sum = 0, n = 1 + rndn(rndn(8) == 0 ? (big ? 2000 : 300) : 12);
        do rnd_hash(&x->xorb_hash);
        while (x->xorb_hash.bytes[0] == EXT_MARK);
        if (i && rndn(10) == 0) x->xorb_hash = d->xorbs[0].xorb_hash; /* duplicates happen */
        x->num_chunks = n;
        x->chunks = (cas_shard_chunk *)xcalloc(n, sizeof *x->chunks);
        for (j = 0; j < n; j++) {
            cas_shard_chunk *c = &x->chunks[j];
            rnd_hash(&c->hash);
            if (j && rndn(16) == 0) c->hash = x->chunks[rndn(j)].hash; /* repeated chunk */
            if (i && j == 0 && rndn(8) == 0) c->hash = d->xorbs[0].chunks[0].hash; /* shared */
            c->unpacked_bytes = 1 + rndn(131072);
            c->byte_start = sum;
            c->flags = rndn(4) == 0 ? CAS_SHARD_CHUNK_GLOBAL_DEDUP : 0;
            sum += c->unpacked_bytes;
        }
        x->bytes_in_xorb = sum;
        x->bytes_on_disk = (uint32_t)rnd();
        x->flags = rndn(8) == 0 ? (uint32_t)rnd() : 0;
    }
    for (i = 0; i < 4; i++) {
        rnd_hash(&d->ext[i]);
        d->ext[i].bytes[0] = EXT_MARK;
    }
    d->nf = rndn(big ? 10 : 6);
    d->files = (cas_shard_file *)xcalloc(d->nf, sizeof *d->files);
    for (i = 0; i < d->nf; i++) {
        cas_shard_file *f = &d->files[i];
        rnd_hash(&f->file_hash);
        if (rndn(20) == 0) memset(&f->file_hash, 0, sizeof f->file_hash); /* the empty file */
        f->num_terms = rndn(5) == 0 ? 0 : 1 + rndn(big ? 60 : 6);
        f->terms = (cas_shard_term *)xcalloc(f->num_terms, sizeof *f->terms);
        f->has_sha256 = (int)rndn(2);
        if (f->has_sha256) {
            int k;
            for (k = 0; k < 32; k++) f->sha256[k] = (uint8_t)rnd();
        }
        if (rndn(10) == 0) f->flags = 0x00010000; /* an unknown bit, kept */
        for (j = 0; j < f->num_terms; j++) {
            cas_shard_term *t = &f->terms[j];
            uint32_t n, k;
            uint64_t sum = 0;
            if (d->nx && rndn(3)) {
                const cas_shard_xorb *x = &d->xorbs[rndn((uint32_t)d->nx)];
                n = x->num_chunks;
                t->xorb_hash = x->xorb_hash;
                t->chunk_start = rndn(n);
                t->chunk_end = t->chunk_start + 1 + rndn(n - t->chunk_start);
            } else {
                t->xorb_hash = d->ext[rndn(4)];
                t->chunk_start = rndn(EXT_CHUNKS);
                t->chunk_end = t->chunk_start + 1 + rndn(EXT_CHUNKS - t->chunk_start < 200 ? EXT_CHUNKS - t->chunk_start : 200);
            }
            t->xorb_flags = 0;
            /* unpacked = sizes of the chunks a reader resolves the hash to */
            {
                const cas_shard_xorb *x = NULL;
                size_t q;
                for (q = 0; q < d->nx; q++)
                    if (cas_hash_equal(&d->xorbs[q].xorb_hash, &t->xorb_hash)) {
                        x = &d->xorbs[q];
                        break;
                    }
                if (x && t->chunk_end > x->num_chunks) { /* range valid only in a later duplicate */
                    t->chunk_end = x->num_chunks;
                    if (t->chunk_start >= t->chunk_end) t->chunk_start = t->chunk_end - 1;
                }
                for (k = t->chunk_start; k < t->chunk_end; k++) {
                    cas_chunk c;
                    if (x) sum += x->chunks[k].unpacked_bytes;
                    else {
                        ext_chunk(&t->xorb_hash, k, &c);
                        sum += c.size;
                    }
                }
            }
            t->unpacked_bytes = (uint32_t)sum;
        }
    }
}

/* The verification hash of a term, computed here independently. */
static void expected_verification(const t_desc *d, const cas_shard_term *t, cas_hash *out) {
    cas_hash *h = (cas_hash *)xcalloc(t->chunk_end - t->chunk_start, sizeof *h);
    size_t q;
    uint32_t k;
    const cas_shard_xorb *x = NULL;
    for (q = 0; q < d->nx; q++)
        if (cas_hash_equal(&d->xorbs[q].xorb_hash, &t->xorb_hash)) {
            x = &d->xorbs[q];
            break;
        }
    for (k = t->chunk_start; k < t->chunk_end; k++) {
        if (x) h[k - t->chunk_start] = x->chunks[k].hash;
        else {
            cas_chunk c;
            ext_chunk(&t->xorb_hash, k, &c);
            h[k - t->chunk_start] = c.hash;
        }
    }
    cas_verification_hash(h, t->chunk_end - t->chunk_start, out);
    free(h);
}

static int shard_equal(const cas_shard *a, const cas_shard *b) {
    size_t i;
    if (a->size != b->size || a->footer_size != b->footer_size || a->has_footer != b->has_footer ||
        a->keyed != b->keyed || a->num_files != b->num_files || a->num_terms != b->num_terms ||
        a->num_xorbs != b->num_xorbs || a->num_chunks != b->num_chunks ||
        memcmp(&a->footer, &b->footer, sizeof a->footer))
        return 0;
    for (i = 0; i < a->num_files; i++) {
        const cas_shard_file *x = &a->files[i], *y = &b->files[i];
        if (!cas_hash_equal(&x->file_hash, &y->file_hash) || x->flags != y->flags ||
            x->num_terms != y->num_terms || x->has_sha256 != y->has_sha256 ||
            memcmp(x->sha256, y->sha256, 32) || x->size != y->size || x->offset != y->offset ||
            (x->num_terms && memcmp(x->terms, y->terms, x->num_terms * sizeof *x->terms)))
            return 0;
    }
    for (i = 0; i < a->num_xorbs; i++) {
        const cas_shard_xorb *x = &a->xorbs[i], *y = &b->xorbs[i];
        if (!cas_hash_equal(&x->xorb_hash, &y->xorb_hash) || x->flags != y->flags ||
            x->num_chunks != y->num_chunks || x->bytes_in_xorb != y->bytes_in_xorb ||
            x->bytes_on_disk != y->bytes_on_disk || x->offset != y->offset ||
            memcmp(x->chunks, y->chunks, x->num_chunks * sizeof *x->chunks))
            return 0;
    }
    return 1;
}

/* Sequential parse in random piece sizes. */
static int parse_pieces(const uint8_t *p, size_t len, const cas_allocator *al, cas_shard *out,
                        cas_error *err) {
    cas_shard_reader r;
    size_t at = 0;
    int rc = CAS_OK;
    cas_shard_reader_init(al, &r);
    while (at < len && !rc) {
        size_t n = rndn(4) == 0 ? 1 + rndn(7) : rndn(3) == 0 ? 1 + rndn(200) : 1 + rndn(5000);
        if (n > len - at) n = len - at;
        rc = cas_shard_reader_push(&r, p + at, n, err);
        at += n;
    }
    if (!rc) rc = cas_shard_reader_finish(&r, out, err);
    else memset(out, 0, sizeof *out);
    cas_shard_reader_free(&r);
    return rc;
}

/* Both readers agree: same result code, and on success the same object. */
static int parse_both(const uint8_t *p, size_t len, const cas_allocator *al, cas_shard *out,
                      cas_error *err) {
    cas_shard s2;
    cas_error e2;
    int rc = cas_shard_parse(al, p, len, out, err);
    int rc2 = parse_pieces(p, len, al, &s2, &e2);
    CHECK_MSG(rc == rc2, "random access %s vs sequential %s (len %zu)", cas_result_name(rc),
              cas_result_name(rc2), len);
    if (rc == CAS_OK && rc2 == CAS_OK) CHECK(shard_equal(out, &s2));
    if (rc && rc2 && err) CHECK_MSG(err->offset == e2.offset, "error offsets %llu vs %llu (%s)",
                                    (unsigned long long)err->offset, (unsigned long long)e2.offset, err->what);
    cas_shard_free(&s2);
    return rc;
}

/* The order of the shard's lookup tables: the hash as four little-endian u64 words. */
static int t_hash_cmp(const cas_hash *a, const cas_hash *b) {
    int w;
    for (w = 0; w < 4; w++) {
        uint64_t x = t_load_le64(a->bytes + 8 * w), y = t_load_le64(b->bytes + 8 * w);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

static int cmp_file_idx(const void *a, const void *b, const t_desc *d) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = t_hash_cmp(&d->files[x].file_hash, &d->files[y].file_hash);
    return c ? c : (x < y ? -1 : x > y);
}
static const t_desc *g_sort_desc;
static int cmp_file_q(const void *a, const void *b) { return cmp_file_idx(a, b, g_sort_desc); }
static int cmp_xorb_q(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = t_hash_cmp(&g_sort_desc->xorbs[x].xorb_hash, &g_sort_desc->xorbs[y].xorb_hash);
    return c ? c : (x < y ? -1 : x > y);
}

/* ---- round trips ---- */

static void test_round_trips(void) {
    int iter;
    t_counting ta;
    cas_allocator al = t_counting_allocator(&ta, -1);
    for (iter = 0; iter < 400; iter++) {
        t_desc d;
        int form;
        desc_random(&d, iter % 10 == 9);
        for (form = 0; form < 2; form++) {
            cas_shard_write_desc o;
            uint64_t size = 0, written = 0;
            size_t blen = 0, i, *forder, *xorder;
            uint8_t *buf;
            t_sink sink;
            cas_shard s, s3;
            cas_error e;
            int rc;
            uint32_t j;
            memset(&o, 0, sizeof o);
            o.flags = form ? CAS_SHARD_WITH_FOOTER : 0;
            if (rndn(2)) o.flags |= CAS_SHARD_SORTED;
            if (rndn(3) == 0) o.flags |= CAS_SHARD_MARK_FILE_STARTS;
            o.creation_time = rnd();
            o.key_expiry = rnd();
            o.chunks = ext_source;
            CHECK(cas_shard_write_size(d.files, d.nf, d.xorbs, d.nx, o.flags, &size) == CAS_OK);
            buf = (uint8_t *)t_xmalloc((size_t)size);
            rc = wbuf(&al, d.files, d.nf, d.xorbs, d.nx, &o, buf, (size_t)size, &blen, &e);
            CHECK_MSG(rc == CAS_OK, "write: %s %s at %llu", cas_result_name(rc), e.what, (unsigned long long)e.offset);
            CHECK(blen == size);
            memset(&sink, 0, sizeof sink);
            sink.fail_at = -1;
            rc = wcb(&al, d.files, d.nf, d.xorbs, d.nx, &o, &sink, &written, &e);
            CHECK(rc == CAS_OK && written == size && sink.len == size && !memcmp(sink.p, buf, sink.len));
            free(sink.p);
            CHECK(ta.live == 0);
            rc = parse_both(buf, blen, &al, &s, &e);
            CHECK_MSG(rc == CAS_OK, "parse: %s %s at %llu (iter %d form %d)", cas_result_name(rc), e.what,
                      (unsigned long long)e.offset, iter, form);
            if (rc) {
                free(buf);
                continue;
            }
            /* The object matches the description, in the written order. */
            forder = (size_t *)xcalloc(d.nf, sizeof *forder);
            xorder = (size_t *)xcalloc(d.nx, sizeof *xorder);
            for (i = 0; i < d.nf; i++) forder[i] = i;
            for (i = 0; i < d.nx; i++) xorder[i] = i;
            g_sort_desc = &d;
            if (o.flags & CAS_SHARD_SORTED) {
                qsort(forder, d.nf, sizeof *forder, cmp_file_q);
                qsort(xorder, d.nx, sizeof *xorder, cmp_xorb_q);
            }
            CHECK(s.num_files == d.nf && s.num_xorbs == d.nx && s.size == size);
            CHECK(s.has_footer == form && s.footer_size == (form ? 200u : 0u) && !s.keyed);
            for (i = 0; i < s.num_files && i < d.nf; i++) {
                const cas_shard_file *f = &s.files[i], *g = &d.files[forder[i]];
                uint64_t fsize = 0;
                CHECK(cas_hash_equal(&f->file_hash, &g->file_hash) && f->num_terms == g->num_terms);
                CHECK(f->flags == ((g->flags & 0x3FFFFFFFu) | CAS_SHARD_FILE_VERIFICATION |
                                   (g->has_sha256 ? CAS_SHARD_FILE_METADATA_EXT : 0)));
                CHECK(f->has_sha256 == g->has_sha256 && (!g->has_sha256 || !memcmp(f->sha256, g->sha256, 32)));
                for (j = 0; j < f->num_terms && j < g->num_terms; j++) {
                    cas_hash v;
                    const cas_shard_term *t = &f->terms[j], *u = &g->terms[j];
                    CHECK(cas_hash_equal(&t->xorb_hash, &u->xorb_hash) && t->chunk_start == u->chunk_start &&
                          t->chunk_end == u->chunk_end && t->unpacked_bytes == u->unpacked_bytes);
                    expected_verification(&d, u, &v);
                    CHECK(cas_hash_equal(&v, &t->verification));
                    fsize += u->unpacked_bytes;
                }
                CHECK(f->size == fsize);
                CHECK(cas_shard_find_file(&s, &g->file_hash) != NULL);
            }
            for (i = 0; i < s.num_xorbs && i < d.nx; i++) {
                const cas_shard_xorb *x = &s.xorbs[i], *y = &d.xorbs[xorder[i]];
                CHECK(cas_hash_equal(&x->xorb_hash, &y->xorb_hash) && x->num_chunks == y->num_chunks &&
                      x->bytes_in_xorb == y->bytes_in_xorb && x->bytes_on_disk == y->bytes_on_disk &&
                      x->flags == y->flags);
                for (j = 0; j < x->num_chunks && j < y->num_chunks; j++) {
                    cas_shard_chunk_match m[64];
                    size_t n = cas_shard_find_chunk(&s, &y->chunks[j].hash, 0, m, 64), k, hit = 0;
                    CHECK(cas_hash_equal(&x->chunks[j].hash, &y->chunks[j].hash) &&
                          x->chunks[j].byte_start == y->chunks[j].byte_start &&
                          x->chunks[j].unpacked_bytes == y->chunks[j].unpacked_bytes);
                    CHECK((x->chunks[j].flags & ~CAS_SHARD_CHUNK_GLOBAL_DEDUP) ==
                          (y->chunks[j].flags & ~CAS_SHARD_CHUNK_GLOBAL_DEDUP));
                    if (!(o.flags & CAS_SHARD_MARK_FILE_STARTS)) CHECK(x->chunks[j].flags == y->chunks[j].flags);
                    for (k = 0; k < n && k < 64; k++)
                        if (m[k].xorb == i && m[k].chunk == j) {
                            hit = 1;
                            CHECK(m[k].byte_start == y->chunks[j].byte_start &&
                                  m[k].byte_end == y->chunks[j].byte_start + y->chunks[j].unpacked_bytes &&
                                  cas_hash_equal(&m[k].xorb_hash, &y->xorb_hash) && !m[k].expired);
                        }
                    CHECK(hit || n > 64);
                }
                CHECK(cas_shard_find_xorb(&s, &y->xorb_hash) != NULL);
            }
            if (form) {
                uint64_t od = 0, mat = 0, st = 0;
                for (i = 0; i < d.nx; i++) od += d.xorbs[i].bytes_on_disk, st += d.xorbs[i].bytes_in_xorb;
                for (i = 0; i < d.nf; i++)
                    for (j = 0; j < d.files[i].num_terms; j++) mat += d.files[i].terms[j].unpacked_bytes;
                CHECK(s.footer.creation_time == o.creation_time && s.footer.key_expiry == o.key_expiry);
                CHECK(s.footer.stored_bytes_on_disk == od && s.footer.materialized_bytes == mat &&
                      s.footer.stored_bytes == st);
                CHECK(s.footer.file_lookup_count == d.nf && s.footer.xorb_lookup_count == d.nx &&
                      s.footer.chunk_lookup_count == s.num_chunks);
            }
            {
                size_t checked = 0, unchecked = 0;
                rc = cas_shard_check_terms(&s, ext_source, NULL, &checked, &unchecked, &e);
                CHECK_MSG(rc == CAS_OK && checked == s.num_terms && unchecked == 0, "check_terms %s %s",
                          cas_result_name(rc), e.what);
            }
            /* parse -> write gives the same bytes (verification hashes kept as read). */
            {
                uint8_t *buf2 = (uint8_t *)t_xmalloc((size_t)size);
                size_t len2 = 0;
                cas_shard_write_desc o2 = o;
                o2.chunks = NULL;
                rc = wbuf(NULL, s.files, s.num_files, s.xorbs, s.num_xorbs, &o2, buf2, (size_t)size,
                                            &len2, &e);
                CHECK(rc == CAS_OK && len2 == blen && !memcmp(buf, buf2, blen));
                free(buf2);
            }
            /* Random single-byte damage: both readers agree (and never crash). */
            for (i = 0; i < 6; i++) {
                size_t at = rndn((uint32_t)blen);
                uint8_t old = buf[at];
                buf[at] = (uint8_t)(rndn(4) == 0 ? 0xFF : rnd());
                if (parse_both(buf, blen, &al, &s3, &e) == CAS_OK) cas_shard_free(&s3);
                buf[at] = old;
            }
            cas_shard_free(&s);
            CHECK(ta.live == 0);
            free(forder);
            free(xorder);
            free(buf);
        }
        desc_free(&d);
    }
}

/* ---- byte layout, by hand from shard.md's tables ---- */

static void put32(uint8_t *p, uint32_t v) { t_store_le32(p, v); }
static void put64(uint8_t *p, uint64_t v) { t_store_le64(p, v); }

static void test_layout(void) {
    cas_shard_chunk ch[2];
    cas_shard_xorb x;
    cas_shard_term t[2];
    cas_shard_file f;
    cas_shard_write_desc o;
    cas_hash v0, v1, hashes[5];
    cas_chunk ec[5];
    uint8_t exp[1024], out[1024];
    size_t len = 0, i;
    cas_error e;
    int k, rc;
    cas_shard s;
    memset(ch, 0, sizeof ch);
    memset(&x, 0, sizeof x);
    memset(t, 0, sizeof t);
    memset(&f, 0, sizeof f);
    memset(&o, 0, sizeof o);
    for (k = 0; k < 32; k++) {
        x.xorb_hash.bytes[k] = (uint8_t)(0xA0 + k);
        ch[0].hash.bytes[k] = (uint8_t)(0x10 + k);
        ch[1].hash.bytes[k] = (uint8_t)(0x80 - k);
        f.file_hash.bytes[k] = (uint8_t)(0xC0 ^ k);
        f.sha256[k] = (uint8_t)k;
        t[1].xorb_hash.bytes[k] = (uint8_t)(k * 7);
    }
    t[1].xorb_hash.bytes[0] = EXT_MARK;
    ch[0].unpacked_bytes = 70000;
    ch[1].byte_start = 70000;
    ch[1].unpacked_bytes = 1234;
    ch[1].flags = CAS_SHARD_CHUNK_GLOBAL_DEDUP;
    x.num_chunks = 2;
    x.chunks = ch;
    x.bytes_in_xorb = 71234;
    x.bytes_on_disk = 40000;
    t[0].xorb_hash = x.xorb_hash;
    t[0].chunk_start = 0;
    t[0].chunk_end = 2;
    t[0].unpacked_bytes = 71234;
    t[1].chunk_start = 3;
    t[1].chunk_end = 5;
    for (i = 3; i < 5; i++) ext_chunk(&t[1].xorb_hash, (uint32_t)i, &ec[i]);
    t[1].unpacked_bytes = (uint32_t)(ec[3].size + ec[4].size);
    f.num_terms = 2;
    f.terms = t;
    f.has_sha256 = 1;
    hashes[0] = ch[0].hash;
    hashes[1] = ch[1].hash;
    cas_verification_hash(hashes, 2, &v0);
    hashes[3] = ec[3].hash;
    hashes[4] = ec[4].hash;
    cas_verification_hash(hashes + 3, 2, &v1);

    memset(exp, 0, sizeof exp);
    memcpy(exp, "HFRepoMetaData\0UigEj{", 21); /* MDB_SHARD_HEADER_TAG */
    { static const uint8_t rest[11] = {129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169}; memcpy(exp + 21, rest, 11); }
    put64(exp + 32, 2);   /* version */
    put64(exp + 40, 0);   /* footer_size: upload form */
    memcpy(exp + 48, f.file_hash.bytes, 32);
    put32(exp + 80, 0xC0000000u); /* verification | metadata ext */
    put32(exp + 84, 2);
    /* 88..96 _unused */
    memcpy(exp + 96, x.xorb_hash.bytes, 32);
    put32(exp + 128, 0);
    put32(exp + 132, 71234);
    put32(exp + 136, 0);
    put32(exp + 140, 2);
    memcpy(exp + 144, t[1].xorb_hash.bytes, 32);
    put32(exp + 180, t[1].unpacked_bytes);
    put32(exp + 184, 3);
    put32(exp + 188, 5);
    memcpy(exp + 192, v0.bytes, 32); /* 224..240 _unused */
    memcpy(exp + 240, v1.bytes, 32);
    for (k = 0; k < 4; k++) { /* SHA-256 stored as four 8-byte groups, each reversed */
        int b;
        for (b = 0; b < 8; b++) exp[288 + 8 * k + b] = f.sha256[8 * k + 7 - b];
    }
    memset(exp + 336, 0xFF, 32); /* file-info bookend: 336..384 */
    memcpy(exp + 384, x.xorb_hash.bytes, 32);
    put32(exp + 416, 0);
    put32(exp + 420, 2);
    put32(exp + 424, 71234);
    put32(exp + 428, 40000);
    memcpy(exp + 432, ch[0].hash.bytes, 32);
    put32(exp + 464, 0);
    put32(exp + 468, 70000);
    put32(exp + 472, 0);
    memcpy(exp + 480, ch[1].hash.bytes, 32);
    put32(exp + 512, 70000);
    put32(exp + 516, 1234);
    put32(exp + 520, CAS_SHARD_CHUNK_GLOBAL_DEDUP);
    memset(exp + 528, 0xFF, 32); /* CAS-info bookend: 528..576 */

    o.chunks = ext_source;
    rc = wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e);
    CHECK_MSG(rc == CAS_OK, "layout write %s %s", cas_result_name(rc), e.what);
    CHECK(len == 576 && !memcmp(out, exp, 576));
    for (i = 0; i < 576 && i < len; i++)
        if (out[i] != exp[i]) {
            fprintf(stderr, "layout: first difference at byte %zu\n", i);
            break;
        }

    /* Full form: lookup tables (12 + 12 + 2 x 16 bytes) then the 200-byte footer. */
    o.flags = CAS_SHARD_WITH_FOOTER;
    o.creation_time = 1700000000;
    o.key_expiry = 1800000000;
    put64(exp + 40, 200);
    put64(exp + 576, t_load_le64(f.file_hash.bytes));
    put32(exp + 584, 0);
    put64(exp + 588, t_load_le64(x.xorb_hash.bytes));
    put32(exp + 596, 0);
    {   /* chunk rows sorted by key: ch[0] starts 0x10.. < ch[1] 0x80.. */
        put64(exp + 600, t_load_le64(ch[0].hash.bytes));
        put32(exp + 608, 0);
        put32(exp + 612, 0);
        put64(exp + 616, t_load_le64(ch[1].hash.bytes));
        put32(exp + 624, 0);
        put32(exp + 628, 1);
    }
    put64(exp + 632 + 0, 1);     /* version */
    put64(exp + 632 + 8, 48);    /* file_info_offset */
    put64(exp + 632 + 16, 384);  /* xorb_info_offset */
    put64(exp + 632 + 24, 576);  /* file_lookup_offset */
    put64(exp + 632 + 32, 1);
    put64(exp + 632 + 40, 588);  /* xorb_lookup_offset */
    put64(exp + 632 + 48, 1);
    put64(exp + 632 + 56, 600);  /* chunk_lookup_offset */
    put64(exp + 632 + 64, 2);
    /* +72 hmac key: zeros */
    put64(exp + 632 + 104, 1700000000);
    put64(exp + 632 + 112, 1800000000);
    /* +120..168 reserved */
    put64(exp + 632 + 168, 40000);                       /* stored_bytes_on_disk */
    put64(exp + 632 + 176, 71234 + t[1].unpacked_bytes); /* materialized_bytes */
    put64(exp + 632 + 184, 71234);                       /* stored_bytes */
    put64(exp + 632 + 192, 632);                         /* footer_offset */
    rc = wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e);
    CHECK(rc == CAS_OK && len == 832 && !memcmp(out, exp, 832));
    for (i = 0; i < 832 && i < len; i++)
        if (out[i] != exp[i]) {
            fprintf(stderr, "layout (full): first difference at byte %zu\n", i);
            break;
        }
    rc = parse_both(out, len, NULL, &s, &e);
    CHECK(rc == CAS_OK && s.has_footer && s.footer.xorb_info_offset == 384 && s.footer.footer_offset == 632);
    if (!rc) {
        size_t checked = 0, unchecked = 0;
        CHECK(cas_shard_check_terms(&s, NULL, NULL, &checked, &unchecked, &e) == CAS_OK && checked == 1 && unchecked == 1);
        CHECK(cas_shard_check_terms(&s, ext_source, NULL, &checked, &unchecked, &e) == CAS_OK && checked == 2 && unchecked == 0);
        /* the caller's source is asked first, from the first term on: its error stops the check */
        CHECK(cas_shard_check_terms(&s, failing_source, NULL, NULL, NULL, &e) == SOURCE_ERROR && e.code == SOURCE_ERROR &&
              e.offset == 96 && strstr(e.what, "the chunk source failed"));
        CHECK(cas_shard_expired(&s, 1800000000) == 0 && cas_shard_expired(&s, 1800000001) == 1);
        /* A bad verification hash is found, at the verification entry. */
        s.files[0].terms[1].verification.bytes[5] ^= 1;
        CHECK(cas_shard_check_terms(&s, ext_source, NULL, NULL, NULL, &e) == CAS_E_SHARD_VERIFICATION && e.offset == 240);
        s.files[0].terms[1].verification.bytes[5] ^= 1;
        s.files[0].terms[0].unpacked_bytes--;
        CHECK(cas_shard_check_terms(&s, ext_source, NULL, NULL, NULL, &e) == CAS_E_SHARD_ENTRY && e.offset == 132);
        s.files[0].terms[0].unpacked_bytes++;
        s.files[0].terms[0].chunk_end = 3;
        CHECK(cas_shard_check_terms(&s, ext_source, NULL, NULL, NULL, &e) == CAS_E_SHARD_ENTRY && e.offset == 140);
        cas_shard_free(&s);
    }
    /* Callback output: the same bytes, in pieces. */
    {
        t_sink sink;
        uint64_t w = 0;
        memset(&sink, 0, sizeof sink);
        sink.fail_at = -1;
        CHECK(wcb(NULL, &f, 1, &x, 1, &o, &sink, &w, &e) == CAS_OK && w == 832 &&
              !memcmp(sink.p, exp, 832));
        free(sink.p);
        memset(&sink, 0, sizeof sink);
        sink.fail_at = 0;
        CHECK(wcb(NULL, &f, 1, &x, 1, &o, &sink, &w, &e) == -99);
        free(sink.p);
    }
    /* Writer refusals. */
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, 831, &len, &e) == CAS_E_LIMIT);
    o.chunks = NULL;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_SHARD_NO_CHUNKS &&
          e.offset == 144);
    o.chunks = ext_source;
    t[0].unpacked_bytes++;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 132);
    t[0].unpacked_bytes--;
    t[0].chunk_end = 3;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT);
    t[0].chunk_end = 2;
    t[0].chunk_start = 2;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 136);
    t[0].chunk_start = 0;
    ch[1].byte_start = 1;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 512);
    ch[1].byte_start = 70000;
    x.bytes_in_xorb++;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 424);
    x.bytes_in_xorb--;
    /* The entry checks, each at its field, with its reason (a term starts at 96 + 48 j, the
       xorb entry at 384 and its chunks at 432 + 48 j; xorbs alone: the xorb entry at 96). */
    f.terms = NULL;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 48 &&
          strstr(e.what, "a file with terms but a NULL terms array"));
    f.terms = t;
    t[0].unpacked_bytes = 0;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 132 &&
          strstr(e.what, "a term's unpacked size is 0 or over 128 KiB per chunk"));
    t[0].unpacked_bytes = 2 * 131072 + 1; /* two chunks */
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 132 &&
          strstr(e.what, "a term's unpacked size is 0 or over 128 KiB per chunk"));
    t[0].unpacked_bytes = 71234;
    o.chunks = failing_source; /* term 1's xorb is not in `xorbs`: the source is asked, fails */
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == SOURCE_ERROR && e.code == SOURCE_ERROR &&
          e.offset == 144 && strstr(e.what, "the chunk source failed"));
    o.chunks = ext_source;
    ch[1].unpacked_bytes = 0;
    CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 96 + 96 + 36 &&
          strstr(e.what, "a chunk's unpacked size is 0 or over 128 KiB"));
    ch[1].unpacked_bytes = 131073;
    CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 96 + 96 + 36 &&
          strstr(e.what, "a chunk's unpacked size is 0 or over 128 KiB"));
    ch[1].unpacked_bytes = 1234;
    {
        const cas_hash xh = x.xorb_hash;
        memset(&x.xorb_hash, 0xFF, 32);
        CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 96 &&
              strstr(e.what, "a xorb hash of all 0xFF bytes (the bookend)"));
        x.xorb_hash = xh;
    }
    x.num_chunks = 0;
    CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 96 + 36 &&
          strstr(e.what, "a xorb with 0 or over 8192 chunks"));
    {   /* (8193 entries pass a 1 KiB buffer: through the callback sink, nothing written) */
        t_sink big;
        memset(&big, 0, sizeof big);
        big.fail_at = -1;
        x.num_chunks = 8193;
        CHECK(wcb(NULL, NULL, 0, &x, 1, &o, &big, NULL, &e) == CAS_E_ARGUMENT && e.offset == 96 + 36 &&
              strstr(e.what, "a xorb with 0 or over 8192 chunks") && big.len == 0);
        free(big.p);
    }
    x.num_chunks = 2;
    x.chunks = NULL;
    CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 96 + 36 &&
          strstr(e.what, "a xorb with 0 or over 8192 chunks"));
    x.chunks = ch;
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_OK); /* all restored */
    {   /* no sink, or a buffer sink with a capacity but no buffer */
        cas_sink nobuf;
        memset(&nobuf, 0, sizeof nobuf);
        nobuf.cap = sizeof out;
        CHECK(cas_shard_write(NULL, &f, 1, &x, 1, &o, NULL, NULL, &e) == CAS_E_ARGUMENT && strstr(e.what, "no sink"));
        CHECK(cas_shard_write(NULL, &f, 1, &x, 1, &o, &nobuf, NULL, &e) == CAS_E_ARGUMENT && strstr(e.what, "no sink"));
    }
    memset(&f.file_hash, 0xFF, 32);
    CHECK(wbuf(NULL, &f, 1, &x, 1, &o, out, sizeof out, &len, &e) == CAS_E_ARGUMENT && e.offset == 48);
    /* Over 64 MiB: refused before anything is written; the size tells the caller. */
    {
        cas_shard_xorb *many = (cas_shard_xorb *)xcalloc(200, sizeof *many);
        uint64_t sz = 0;
        for (i = 0; i < 200; i++) many[i].num_chunks = 8192;
        CHECK(cas_shard_write_size(NULL, 0, many, 200, 0, &sz) == CAS_E_SHARD_TOO_LARGE && sz > CAS_SHARD_MAX_SIZE);
        CHECK(cas_shard_write_size(NULL, 0, many, 170, 0, &sz) == CAS_OK && sz == 48 + 96 + 170 * 48 * 8193ull);
        CHECK(wbuf(NULL, NULL, 0, many, 200, NULL, out, sizeof out, &len, &e) == CAS_E_SHARD_TOO_LARGE);
        free(many);
    }
}

/* ---- verification hashes against oracle vectors ---- */

static void leaves(uint64_t seed, size_t n, cas_shard_chunk *c) {
    t_rng st = {seed};
    size_t i;
    uint32_t sum = 0;
    for (i = 0; i < n; i++) {
        int w;
        for (w = 0; w < 4; w++) {
            uint64_t v = t_next(&st);
            t_store_le64(c[i].hash.bytes + 8 * w, v);
        }
        c[i].unpacked_bytes = (uint32_t)(t_next(&st) % 131072 + 1);
        c[i].byte_start = sum;
        c[i].flags = 0;
        sum += c[i].unpacked_bytes;
    }
}

static void check_range_vector(uint64_t seed, size_t n, uint32_t a, uint32_t b, const char *hex) {
    cas_shard_chunk *c = (cas_shard_chunk *)xcalloc(n, sizeof *c);
    cas_shard_xorb x;
    cas_shard_term t;
    cas_shard_file f;
    cas_shard s;
    cas_error e;
    uint8_t *buf;
    uint64_t size;
    size_t len, i;
    int rc;
    leaves(seed, n, c);
    memset(&x, 0, sizeof x);
    memset(&t, 0, sizeof t);
    memset(&f, 0, sizeof f);
    x.num_chunks = (uint32_t)n;
    x.chunks = c;
    for (i = 0; i < n; i++) x.bytes_in_xorb += c[i].unpacked_bytes;
    x.xorb_hash.bytes[0] = 1;
    t.xorb_hash = x.xorb_hash;
    t.chunk_start = a;
    t.chunk_end = b;
    for (i = a; i < b; i++) t.unpacked_bytes += c[i].unpacked_bytes;
    f.num_terms = 1;
    f.terms = &t;
    cas_shard_write_size(&f, 1, &x, 1, 0, &size);
    buf = (uint8_t *)t_xmalloc((size_t)size);
    rc = wbuf(NULL, &f, 1, &x, 1, NULL, buf, (size_t)size, &len, &e);
    CHECK(rc == CAS_OK);
    rc = cas_shard_parse(NULL, buf, len, &s, &e);
    CHECK(rc == CAS_OK);
    if (!rc) {
        cas_hash want = hex_hash(hex);
        CHECK_MSG(cas_hash_equal(&s.files[0].terms[0].verification, &want), "verification seed %llu [%u,%u)",
                  (unsigned long long)seed, a, b);
        CHECK(cas_shard_check_terms(&s, NULL, NULL, NULL, NULL, &e) == CAS_OK);
        cas_shard_free(&s);
    }
    free(buf);
    free(c);
}

static void test_verification_vectors(void) {
    char path[1024], line[512];
    FILE *fp;
    int count = 0;
    snprintf(path, sizeof path, "%s/verification.txt", g_svec);
    fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "open %s", path);
    if (fp) {
        while (fgets(line, sizeof line, fp)) {
            unsigned long long seed, n, a, b;
            char hex[80];
            if (line[0] == '#') continue;
            if (sscanf(line, "%llu %llu %llu %llu %79s", &seed, &n, &a, &b, hex) == 5) {
                check_range_vector(seed, (size_t)n, (uint32_t)a, (uint32_t)b, hex);
                count++;
            }
        }
        fclose(fp);
    }
    CHECK(count == 10);
    snprintf(path, sizeof path, "%s/merkle_random.txt", g_vec);
    fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "open %s", path);
    count = 0;
    if (fp) {
        unsigned long long seed = 0, n = 0;
        while (fgets(line, sizeof line, fp)) {
            unsigned long long a, b;
            char hex[80];
            if (sscanf(line, "case %llu %llu", &seed, &n) == 2) continue;
            if (sscanf(line, "verify %llu %llu %79s", &a, &b, hex) == 3 && n <= 8192) {
                check_range_vector(seed, (size_t)n, (uint32_t)a, (uint32_t)b, hex);
                count++;
            }
        }
        fclose(fp);
    }
    CHECK(count == 30);
}

/* ---- HMAC-keyed shards and expiry against the oracle's hmac vectors ---- */

static void test_hmac_vectors(void) {
    char path[1024], line[512];
    FILE *fp;
    int count = 0;
    snprintf(path, sizeof path, "%s/hmac.txt", g_vec);
    fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "open %s", path);
    if (!fp) return;
    while (fgets(line, sizeof line, fp)) {
        char h1[80], h2[80], h3[80];
        cas_hash hash, key, hmac;
        cas_shard_chunk c[3];
        cas_shard_xorb x;
        cas_shard_write_desc o;
        cas_shard_chunk_match m[4];
        uint8_t buf[2048];
        size_t len;
        cas_shard s;
        cas_error e;
        int i;
        if (line[0] == '#' || sscanf(line, "%79s %79s %79s", h1, h2, h3) != 3) continue;
        hash = hex_hash(h1);
        key = hex_hash(h2);
        hmac = hex_hash(h3);
        memset(c, 0, sizeof c);
        memset(&x, 0, sizeof x);
        for (i = 0; i < 3; i++) {
            rnd_hash(&c[i].hash);
            c[i].unpacked_bytes = 1000;
            c[i].byte_start = 1000u * (uint32_t)i;
        }
        c[1].hash = hash;
        rnd_hash(&x.xorb_hash);
        x.num_chunks = 3;
        x.chunks = c;
        x.bytes_in_xorb = 3000;
        memset(&o, 0, sizeof o);
        o.flags = CAS_SHARD_WITH_FOOTER | CAS_SHARD_KEY_CHUNKS;
        o.hmac_key = key;
        o.key_expiry = 1000;
        CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, buf, sizeof buf, &len, &e) == CAS_OK);
        CHECK(parse_both(buf, len, NULL, &s, &e) == CAS_OK);
        if (!s.num_xorbs) continue;
        CHECK(s.keyed && cas_hash_equal(&s.footer.hmac_key, &key));
        CHECK(cas_hash_equal(&s.xorbs[0].chunks[1].hash, &hmac)); /* stored = oracle HMAC */
        CHECK(cas_shard_find_chunk(&s, &hash, 999, m, 4) == 1 && m[0].chunk == 1 && m[0].byte_start == 1000 &&
              m[0].byte_end == 2000 && !m[0].expired);
        CHECK(cas_shard_find_chunk(&s, &hash, 1001, m, 4) == 1 && m[0].expired);
        CHECK(cas_shard_find_chunk(&s, &hmac, 0, m, 4) == 0); /* the stored form is not a query */
        CHECK(cas_shard_expired(&s, 1000) == 0 && cas_shard_expired(&s, 1001) == 1);
        cas_shard_free(&s);
        /* The caller keyed them already: written as given, found the same way. */
        c[1].hash = hmac;
        o.flags = CAS_SHARD_WITH_FOOTER;
        o.key_expiry = 0; /* never */
        CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, buf, sizeof buf, &len, &e) == CAS_OK);
        CHECK(cas_shard_parse(NULL, buf, len, &s, &e) == CAS_OK);
        CHECK(cas_shard_find_chunk(&s, &hash, UINT64_MAX, m, 4) == 1 && m[0].chunk == 1 && !m[0].expired);
        cas_shard_free(&s);
        /* Unkeyed (upload form): raw hashes. */
        c[1].hash = hash;
        o.flags = 0;
        CHECK(wbuf(NULL, NULL, 0, &x, 1, &o, buf, sizeof buf, &len, &e) == CAS_OK);
        CHECK(cas_shard_parse(NULL, buf, len, &s, &e) == CAS_OK);
        CHECK(!s.keyed && cas_shard_find_chunk(&s, &hash, UINT64_MAX, m, 4) == 1 && !m[0].expired);
        cas_shard_free(&s);
        count++;
    }
    fclose(fp);
    CHECK(count == 10);
}

/* ---- shards written by Hugging Face's TypeScript (xet-oracle upload) ---- */

static void test_hf_vectors(void) {
    static const struct {
        const char *name;
        size_t files, terms, xorbs, chunks;
        const char *file0, *sha0;
    } v[] = {
        {"hf-text200k.shard", 1, 1, 1, 4, "533eba3d91b5b55abd589e000ee06c75cf37edb28aa07f1ff2bc8f3edca58bad",
         "73d8b6d29dca0b80dc98c4f14adfacfcbef5e337fe814064344162b3a9726973"},
        {"hf-empty.shard", 1, 0, 0, 0, "0000000000000000000000000000000000000000000000000000000000000000",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"hf-two-nosha.shard", 2, 1, 1, 4, "533eba3d91b5b55abd589e000ee06c75cf37edb28aa07f1ff2bc8f3edca58bad", NULL},
        {"hf-rep300k.shard", 1, 32, 1, 3, "fa7d3e40d9f0a106e5f58add4f8b88d55be225ffd4cea6a85b98895f0474e212",
         "ee33b6df7c66dd19305a88149c62235597e996b2498dd31fb54dd5d8d93f3ac3"},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = 0, L, checked = 0, unchecked = 0;
        uint8_t *buf = t_read_file(g_svec, v[i].name, &len);
        cas_shard s;
        cas_error e;
        int rc;
        if (!buf) continue;
        rc = parse_both(buf, len, NULL, &s, &e);
        CHECK_MSG(rc == CAS_OK, "%s: %s %s at %llu", v[i].name, cas_result_name(rc), e.what, (unsigned long long)e.offset);
        if (rc) {
            free(buf);
            continue;
        }
        CHECK(s.has_footer && s.footer_size == 200 && s.footer.version == 1 && s.footer.file_info_offset == 48);
        CHECK(s.footer.file_lookup_offset == 0 && s.footer.chunk_lookup_count == 0); /* HF JS: no tables */
        CHECK(s.footer.creation_time == 1700000000 && s.footer.key_expiry == 0 && !cas_shard_expired(&s, UINT64_MAX));
        CHECK(s.footer.footer_offset == len - 200 && !s.keyed);
        CHECK(s.num_files == v[i].files && s.num_terms == v[i].terms && s.num_xorbs == v[i].xorbs &&
              s.num_chunks == v[i].chunks);
        {
            cas_hash want = hex_hash(v[i].file0);
            const cas_shard_file *f = cas_shard_find_file(&s, &want);
            CHECK(f == &s.files[0] && (s.files[0].flags & CAS_SHARD_FILE_VERIFICATION));
            if (v[i].sha0) {
                cas_hash sha = hex_hash(v[i].sha0); /* the digest's hex read as a hash string */
                uint8_t digest[32];
                int k;
                for (k = 0; k < 32; k++) {
                    unsigned b;
                    sscanf(v[i].sha0 + 2 * k, "%2x", &b);
                    digest[k] = (uint8_t)b;
                }
                CHECK(s.files[0].has_sha256 && !memcmp(s.files[0].sha256, digest, 32));
                CHECK(s.files[0].flags == 0xC0000000u);
                CHECK(!memcmp(buf + s.files[0].offset + 48 * (1 + 2 * (uint64_t)s.files[0].num_terms), sha.bytes, 32));
            } else {
                CHECK(!s.files[0].has_sha256 && s.files[0].flags == 0x80000000u);
            }
        }
        CHECK(cas_shard_check_terms(&s, NULL, NULL, &checked, &unchecked, &e) == CAS_OK &&
              checked == v[i].terms && unchecked == 0);
        /* Re-serialized in upload form: the same bytes minus the footer, footer_size 0. */
        {
            uint8_t *out = (uint8_t *)t_xmalloc(len);
            size_t olen = 0;
            rc = wbuf(NULL, s.files, s.num_files, s.xorbs, s.num_xorbs, NULL, out, len, &olen, &e);
            CHECK(rc == CAS_OK && olen == len - 200 && t_load_le64(out + 40) == 0 && !memcmp(out, buf, 40) &&
                  !memcmp(out + 48, buf + 48, olen - 48));
            free(out);
        }
        /* Every truncation is refused cleanly; the prefix that ends right after the CAS-info
           bookend is a footerless shard with footer_size 200 (early xet-core), accepted. */
        for (L = 0; L < len; L++) {
            cas_shard t;
            rc = parse_both(buf, L, NULL, &t, &e);
            if (L == len - 200) {
                CHECK(rc == CAS_OK && !t.has_footer && t.num_files == s.num_files);
                cas_shard_free(&t);
            } else {
                CHECK_MSG(rc != CAS_OK && e.offset <= L, "%s truncated to %zu: %s", v[i].name, L, cas_result_name(rc));
            }
        }
        cas_shard_free(&s);
        free(buf);
    }
}

/* ---- shards written here and checked with the TypeScript parser (oracle_check.sh) ---- */

/* The deterministic shards of vectors/cas-*.shard: regenerated, compared byte for byte. */
static size_t make_cas_vector(int which, uint8_t *out, size_t cap) {
    static cas_shard_chunk c[5];
    static cas_shard_term t[3];
    cas_shard_xorb x[2];
    cas_shard_file f[2];
    cas_shard_write_desc o;
    t_rng st = {4242};
    size_t len = 0, i;
    int k;
    cas_error e;
    memset(c, 0, sizeof c);
    memset(t, 0, sizeof t);
    memset(x, 0, sizeof x);
    memset(f, 0, sizeof f);
    memset(&o, 0, sizeof o);
    for (i = 0; i < 5; i++) {
        for (k = 0; k < 4; k++) t_store_le64(c[i].hash.bytes + 8 * k, t_next(&st));
        c[i].unpacked_bytes = (uint32_t)(t_next(&st) % 131072 + 1);
    }
    for (i = 0; i < 2; i++)
        for (k = 0; k < 4; k++) t_store_le64(x[i].xorb_hash.bytes + 8 * k, t_next(&st));
    for (i = 0; i < 2; i++)
        for (k = 0; k < 4; k++) t_store_le64(f[i].file_hash.bytes + 8 * k, t_next(&st));
    x[0].num_chunks = 3;
    x[0].chunks = c;
    x[1].num_chunks = 2;
    x[1].chunks = c + 3;
    for (i = 0; i < 2; i++) {
        uint32_t j, sum = 0;
        for (j = 0; j < x[i].num_chunks; j++) {
            x[i].chunks[j].byte_start = sum;
            sum += x[i].chunks[j].unpacked_bytes;
        }
        x[i].bytes_in_xorb = sum;
        x[i].bytes_on_disk = sum / 2 + 100;
    }
    t[0].xorb_hash = x[0].xorb_hash, t[0].chunk_start = 0, t[0].chunk_end = 3;
    t[1].xorb_hash = x[1].xorb_hash, t[1].chunk_start = 1, t[1].chunk_end = 2;
    t[2].xorb_hash = x[0].xorb_hash, t[2].chunk_start = 1, t[2].chunk_end = 2;
    for (i = 0; i < 3; i++) {
        const cas_shard_xorb *xx = cas_hash_equal(&t[i].xorb_hash, &x[0].xorb_hash) ? &x[0] : &x[1];
        uint32_t j;
        for (j = t[i].chunk_start; j < t[i].chunk_end; j++) t[i].unpacked_bytes += xx->chunks[j].unpacked_bytes;
    }
    f[0].num_terms = 2;
    f[0].terms = t;
    f[0].has_sha256 = 1;
    cas_sha256_hash("cas.h", 5, f[0].sha256);
    f[1].num_terms = 1;
    f[1].terms = t + 2;
    if (which == 1) {
        o.flags = CAS_SHARD_WITH_FOOTER;
        o.creation_time = 1700000000;
        o.key_expiry = UINT64_MAX;
    }
    if (which == 2) {
        o.flags = CAS_SHARD_WITH_FOOTER | CAS_SHARD_KEY_CHUNKS | CAS_SHARD_SORTED;
        o.creation_time = 1700000000;
        o.key_expiry = 1700086400;
        for (k = 0; k < 32; k++) o.hmac_key.bytes[k] = (uint8_t)(k + 1);
    }
    if (wbuf(NULL, f, 2, x, 2, &o, out, cap, &len, &e)) return 0;
    return len;
}

static void test_cas_vectors(void) {
    static const char *names[3] = {"cas-upload.shard", "cas-full.shard", "cas-keyed.shard"};
    int which;
    for (which = 0; which < 3; which++) {
        uint8_t out[4096];
        size_t n = make_cas_vector(which, out, sizeof out), len = 0;
        uint8_t *buf = t_read_file(g_svec, names[which], &len);
        CHECK_MSG(n && buf && n == len && !memcmp(buf, out, n), "%s differs from the writer's output", names[which]);
        free(buf);
    }
}

/* ---- targeted damage: each check answers with its code and offset ---- */

static void test_damage(void) {
    uint8_t base[4096], b[4096];
    size_t n = make_cas_vector(1, base, sizeof base), n0;
    uint8_t up[4096];
    cas_shard s;
    cas_error e;
    int rc;
    const uint64_t F = n - 200;
#define DAMAGE(stmt, code, off)                                                                \
    do {                                                                                       \
        memcpy(b, base, n);                                                                    \
        stmt;                                                                                  \
        rc = parse_both(b, n, NULL, &s, &e);                                                   \
        CHECK_MSG(rc == (code) && e.offset == (uint64_t)(off), "%s: got %s at %llu (%s)", #stmt, \
                  cas_result_name(rc), (unsigned long long)e.offset, e.what);                 \
        if (!rc) cas_shard_free(&s);                                                           \
    } while (0)
    CHECK(n > 0);
    DAMAGE(b[3] ^= 1, CAS_E_SHARD_HEADER, 0);
    DAMAGE(b[32] = 3, CAS_E_SHARD_HEADER, 32);
    DAMAGE(b[40] = 100, CAS_E_SHARD_HEADER, 40);
    DAMAGE(b[48 + 48 + 40] = 5, CAS_E_SHARD_ENTRY, 48 + 48 + 40);     /* term start 5 >= end 3 */
    DAMAGE(t_store_le32(b + 48 + 48 + 44, 9000), CAS_E_SHARD_ENTRY, 48 + 48 + 44);
    DAMAGE(t_store_le32(b + 48 + 48 + 36, 0), CAS_E_SHARD_ENTRY, 48 + 48 + 36);
    DAMAGE(b[48 + 35] = 0, CAS_E_SHARD_ENTRY, 48 * 7 + 32);           /* file 0 loses its verification */
    DAMAGE(t_store_le32(b + 48 + 36, 0x7fffffff), CAS_E_SHARD_TOO_LARGE, 48 + 36);
    /* file 0: header + 2 terms + 2 verif + ext = 6 entries; file 1: 3 entries; bookend at 48+9*48 */
    DAMAGE(b[48 + 9 * 48 + 40] = 1, CAS_E_SHARD_SECTION, 48 + 9 * 48 + 32);
    {
        const uint64_t X = 48 + 10 * 48; /* xorb 0 */
        DAMAGE(t_store_le32(b + X + 36, 0), CAS_E_SHARD_ENTRY, X + 36);
        DAMAGE(t_store_le32(b + X + 36, 8193), CAS_E_SHARD_ENTRY, X + 36);
        DAMAGE(b[X + 40] ^= 1, CAS_E_SHARD_ENTRY, X + 40);
        DAMAGE(b[X + 48 + 48 + 32] ^= 1, CAS_E_SHARD_ENTRY, X + 48 + 48 + 32);
        DAMAGE(t_store_le32(b + X + 48 + 36, 131073), CAS_E_SHARD_ENTRY, X + 48 + 36);
        DAMAGE(b[X + 7 * 48 + 47] = 1, CAS_E_SHARD_SECTION, X + 7 * 48 + 32); /* CAS bookend */
        DAMAGE(b[X + 7 * 48 + 3] = 0, CAS_E_SHARD_ENTRY, X + 7 * 48 + 36);    /* not a bookend any more */
    }
    DAMAGE(b[F] = 2, CAS_E_SHARD_FOOTER, F);
    DAMAGE(b[F + 8] = 49, CAS_E_SHARD_FOOTER, F + 8);
    DAMAGE(b[F + 16] ^= 1, CAS_E_SHARD_FOOTER, F + 16);
    DAMAGE(b[F + 24] ^= 1, CAS_E_SHARD_FOOTER, F + 24);
    DAMAGE(b[F + 32] = 1, CAS_E_SHARD_LOOKUP, F + 32);
    DAMAGE(b[F + 40] ^= 4, CAS_E_SHARD_FOOTER, F + 40);
    DAMAGE(b[F + 64] = 9, CAS_E_SHARD_LOOKUP, F + 64);
    DAMAGE(b[F + 192] ^= 1, CAS_E_SHARD_FOOTER, F + 192);
    /* chunk_lookup_num_entry 0 (allowed) while the table is there: the footer is not where
       the tables end */
    DAMAGE(memset(b + F + 64, 0, 8), CAS_E_SHARD_FOOTER, F + 192);
    CHECK(strstr(e.what, "the footer does not start right after the chunk lookup table") != NULL);
    {
        const uint64_t L = t_load_le64(base + F + 24), C = t_load_le64(base + F + 56);
        DAMAGE(b[L] ^= 1, CAS_E_SHARD_LOOKUP, L);
        DAMAGE(b[L + 8] = 77, CAS_E_SHARD_LOOKUP, L + 8);
        DAMAGE(memcpy(b + L, b + L + 12, 12), CAS_E_SHARD_LOOKUP, L + 12 + 8); /* same file twice */
        DAMAGE(b[C + 12] = 7, CAS_E_SHARD_LOOKUP, C + 12);
        /* swapping two chunk rows breaks the order (keys differ) */
        DAMAGE((memcpy(b + C, base + C + 16, 16), memcpy(b + C + 16, base + C, 16)), CAS_E_SHARD_LOOKUP, C + 16);
    }
    /* Tables are optional: zeroed offsets + counts are fine only without bytes in between. */
    DAMAGE(memset(b + F + 24, 0, 48), CAS_E_SHARD_FOOTER, F + 24);
    /* Upload form: nothing may follow the CAS bookend. */
    n0 = make_cas_vector(0, up, sizeof up);
    memcpy(b, up, n0);
    b[n0] = 0;
    rc = parse_both(b, n0 + 1, NULL, &s, &e);
    CHECK(rc == CAS_E_TRAILING && e.offset == n0);
    /* Over 64 MiB. */
    {
        size_t big = CAS_SHARD_MAX_SIZE + 10;
        uint8_t *p = (uint8_t *)xcalloc(big, 1);
        memcpy(p, base, n);
        rc = cas_shard_parse(NULL, p, big, &s, &e);
        CHECK(rc == CAS_E_SHARD_TOO_LARGE);
        free(p);
    }
#undef DAMAGE
}

/* ---- allocation failures: every one is reported cleanly, nothing leaks ---- */

static void test_nomem(void) {
    uint8_t buf[4096], out[4096];
    size_t n = make_cas_vector(1, buf, sizeof buf);
    long k;
    int seen_ok = 0;
    for (k = 0; k < 40 && !seen_ok; k++) {
        t_counting ta;
        cas_allocator al = t_counting_allocator(&ta, -1);
        cas_shard s, s2;
        cas_error e;
        int rc, rc2;
        t_counting_budget(&ta, k);
        rc = cas_shard_parse(&al, buf, n, &s, &e);
        CHECK(rc == CAS_OK || rc == CAS_E_NOMEM);
        t_counting_budget(&ta, k);
        rc2 = parse_pieces(buf, n, &al, &s2, &e);
        CHECK(rc2 == CAS_OK || rc2 == CAS_E_NOMEM);
        if (rc == CAS_OK) {
            cas_shard_write_desc o;
            size_t len = 0;
            int w;
            memset(&o, 0, sizeof o);
            o.flags = CAS_SHARD_WITH_FOOTER | CAS_SHARD_SORTED | CAS_SHARD_MARK_FILE_STARTS;
            t_counting_budget(&ta, k);
            w = wbuf(&al, s.files, s.num_files, s.xorbs, s.num_xorbs, &o, out, sizeof out, &len, &e);
            CHECK(w == CAS_OK || w == CAS_E_NOMEM);
            seen_ok = rc2 == CAS_OK && w == CAS_OK;
        }
        cas_shard_free(&s);
        cas_shard_free(&s2);
        CHECK_MSG(ta.live == 0, "budget %ld: %ld blocks live", k, ta.live);
    }
    CHECK(seen_ok);
}

/* ---- streaming: any piece sizes, even one byte at a time ---- */

static void test_bytewise(void) {
    uint8_t buf[4096];
    size_t n = make_cas_vector(2, buf, sizeof buf), i;
    cas_shard_reader r;
    cas_shard a, b;
    cas_error e;
    int rc = CAS_OK;
    cas_shard_reader_init(NULL, &r);
    for (i = 0; i < n && !rc; i++) rc = cas_shard_reader_push(&r, buf + i, 1, &e);
    CHECK(rc == CAS_OK);
    CHECK(cas_shard_reader_finish(&r, &a, &e) == CAS_OK);
    cas_shard_reader_free(&r);
    CHECK(cas_shard_parse(NULL, buf, n, &b, &e) == CAS_OK);
    CHECK(shard_equal(&a, &b) && a.keyed && a.num_files == 2);
    cas_shard_free(&a);
    cas_shard_free(&b);
    /* errors are sticky; finish after an error reports it again */
    cas_shard_reader_init(NULL, &r);
    CHECK(cas_shard_reader_push(&r, "XXXX", 4, &e) == CAS_OK);
    CHECK(cas_shard_reader_push(&r, buf + 4, 60, &e) == CAS_E_SHARD_HEADER && e.offset == 0);
    CHECK(cas_shard_reader_push(&r, buf, 10, &e) == CAS_E_SHARD_HEADER);
    CHECK(cas_shard_reader_finish(&r, &a, &e) == CAS_E_SHARD_HEADER && a.num_files == 0);
    cas_shard_reader_free(&r);
    cas_shard_free(&a); /* an emptied shard frees fine */
}

/* ---- glue from the xorb writer's chunk table ---- */

static void test_from_chunks(void) {
    cas_xorb_chunk xc[3];
    cas_shard_chunk st[3];
    cas_shard_xorb x;
    cas_hash h;
    int i;
    memset(xc, 0, sizeof xc);
    for (i = 0; i < 3; i++) {
        rnd_hash(&xc[i].hash);
        xc[i].size = 1000u * (uint32_t)(i + 1);
        xc[i].unpacked_offset = i == 0 ? 0 : xc[i - 1].unpacked_offset + xc[i - 1].size;
        xc[i].offset = 77u * (uint32_t)i; /* record offsets: not what the shard stores */
    }
    rnd_hash(&h);
    CHECK(cas_shard_xorb_from_chunks(&x, &h, xc, 3, 4321, st) == CAS_OK);
    CHECK(cas_hash_equal(&x.xorb_hash, &h) && x.num_chunks == 3 && x.bytes_in_xorb == 6000 &&
          x.bytes_on_disk == 4321 && x.chunks == st && st[2].byte_start == 3000 && st[2].unpacked_bytes == 3000 &&
          cas_hash_equal(&st[1].hash, &xc[1].hash));
    xc[2].unpacked_offset++;
    CHECK(cas_shard_xorb_from_chunks(&x, &h, xc, 3, 4321, st) == CAS_E_ARGUMENT);
    xc[2].unpacked_offset--;
    CHECK(cas_shard_xorb_from_chunks(&x, &h, xc, 0, 4321, st) == CAS_E_ARGUMENT);
    CHECK(cas_shard_xorb_from_chunks(&x, &h, xc, 3, 1ull << 32, st) == CAS_E_ARGUMENT);
}

int main(int argc, char **argv) {
    const char *v = getenv("CAS_VECTORS"), *sv = getenv("CAS_SHARD_VECTORS");
    if (v) g_vec = v;
    if (sv) g_svec = sv;
    if (argc == 3 && !strcmp(argv[1], "--write-cas-vectors")) { /* for oracle_check.sh */
        static const char *names[3] = {"cas-upload.shard", "cas-full.shard", "cas-keyed.shard"};
        int which;
        for (which = 0; which < 3; which++) {
            uint8_t out[4096];
            char path[1024];
            size_t n = make_cas_vector(which, out, sizeof out);
            FILE *f;
            snprintf(path, sizeof path, "%s/%s", argv[2], names[which]);
            f = fopen(path, "wb");
            if (!f || !n || fwrite(out, 1, n, f) != n) return 2;
            fclose(f);
        }
        return 0;
    }
    test_layout();
    test_verification_vectors();
    test_hmac_vectors();
    test_hf_vectors();
    test_cas_vectors();
    test_damage();
    test_nomem();
    test_bytewise();
    test_from_chunks();
    test_round_trips();
    printf("%ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
