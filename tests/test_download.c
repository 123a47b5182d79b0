/* Tests of the download engine (cas_download_*) and cas_recon_from_shards (v1 and v2): an in-memory
   store (files chunked, deduplicated and packed into small xorbs with the library's writers,
   described by a shard) answers the engine's requests, with every combination of plan mode,
   sink, piece size and concurrency, ranges, and injected faults.
   cc -std=c99 -O2 -Wall -Wextra -Werror tests/test_download.c -o test_download */
#define CAS_IMPLEMENTATION
#include "testlib.h"


static t_rng g_rng = {0xd0d0};
static uint32_t rndn(uint32_t n) { return (uint32_t)(t_next(&g_rng) % n); }

/* ---- an in-memory store ---- */

#define MAX_XORBS 64
#define XORB_CHUNKS 12 /* small xorbs: files span several, terms reuse ranges */

typedef struct {
    cas_hash hash;
    uint8_t *data;
    size_t len;
    cas_xorb_chunk chunks[XORB_CHUNKS];
    size_t n;
} t_xorb;

typedef struct {
    t_xorb xorbs[MAX_XORBS];
    size_t nxorbs;
    /* chunk hash -> (xorb, index) for dedup */
    cas_hash *seen;
    uint32_t *seen_xorb, *seen_idx;
    size_t nseen, capseen;
    cas_shard_file files[8];
    cas_shard_term *terms[8];
    size_t nfiles;
    cas_shard shard;
} t_store;

typedef struct {
    cas_xorb_writer w;
    cas_sink sink;
    int open;
} t_packer;

static int sink_grow(void *user, const void *data, size_t len) {
    t_xorb *x = (t_xorb *)user;
    x->data = (uint8_t *)realloc(x->data, x->len + len);
    memcpy(x->data + x->len, data, len);
    x->len += len;
    return 0;
}

static void store_close_xorb(t_store *s, t_packer *p) {
    t_xorb *x;
    const cas_xorb_chunk *c;
    if (!p->open) return;
    x = &s->xorbs[s->nxorbs - 1];
    cas_xorb_writer_finish(&p->w, 0, &x->hash);
    c = cas_xorb_writer_chunks(&p->w, &x->n);
    memcpy(x->chunks, c, x->n * sizeof *c);
    cas_xorb_writer_free(&p->w);
    p->open = 0;
}

/* Adds a file: chunks it, stores new chunks, records its terms. Returns its file hash. */
static cas_hash store_add_file(t_store *s, t_packer *p, const uint8_t *data, size_t len) {
    cas_chunk ch;
    cas_merkle m;
    size_t off = 0, i;
    cas_shard_term *terms = (cas_shard_term *)t_xmalloc(sizeof *terms * (len / 1000 + 16));
    size_t nt = 0;
    cas_shard_file *f = &s->files[s->nfiles];
    cas_hash fh;
    uint64_t bounds[4096];
    size_t nb = 0;
    cas_merkle_init(&m);
    {
        cas_chunker c;
        size_t pos = 0;
        uint64_t cut;
        cas_chunker_init(&c);
        while (pos < len) {
            size_t used = cas_chunker_scan(&c, data + pos, len - pos, &cut);
            pos += used;
            if (cut) bounds[nb++] = cut;
        }
        cut = cas_chunker_finish(&c);
        if (cut) bounds[nb++] = cut;
    }
    for (i = 0; i < nb; i++) {
        size_t n = (size_t)bounds[i], k;
        cas_hash h;
        uint32_t xi = 0, ci = 0;
        int found = 0;
        cas_chunk_hash(data + off, n, &h);
        for (k = 0; k < s->nseen; k++)
            if (cas_hash_equal(&s->seen[k], &h)) { xi = s->seen_xorb[k], ci = s->seen_idx[k]; found = 1; break; }
        if (!found) {
            if (p->open) cas_xorb_writer_chunks(&p->w, &k);
            if (!p->open || !cas_xorb_writer_fits(&p->w, n) || k >= XORB_CHUNKS) {
                store_close_xorb(s, p);
                memset(&s->xorbs[s->nxorbs], 0, sizeof s->xorbs[0]);
                p->sink.write = sink_grow;
                p->sink.user = &s->xorbs[s->nxorbs];
                s->nxorbs++;
                cas_xorb_writer_init(NULL, &p->w, CAS_COMPRESS_AUTO, &p->sink);
                p->open = 1;
            }
            cas_xorb_writer_chunks(&p->w, &k);
            xi = (uint32_t)s->nxorbs - 1, ci = (uint32_t)k;
            cas_xorb_writer_add(&p->w, data + off, n, &h);
            if (s->nseen == s->capseen) {
                s->capseen = s->capseen ? 2 * s->capseen : 256;
                s->seen = (cas_hash *)realloc(s->seen, s->capseen * sizeof *s->seen);
                s->seen_xorb = (uint32_t *)realloc(s->seen_xorb, s->capseen * 4);
                s->seen_idx = (uint32_t *)realloc(s->seen_idx, s->capseen * 4);
            }
            s->seen[s->nseen] = h, s->seen_xorb[s->nseen] = xi, s->seen_idx[s->nseen] = ci;
            s->nseen++;
        }
        /* extend the last term or start one; xorb hashes are filled in at the end */
        if (nt && terms[nt - 1].xorb_flags == xi && terms[nt - 1].chunk_end == ci) {
            terms[nt - 1].chunk_end++;
            terms[nt - 1].unpacked_bytes += (uint32_t)n;
        } else {
            memset(&terms[nt], 0, sizeof terms[nt]);
            terms[nt].xorb_flags = xi; /* temporarily: the xorb index */
            terms[nt].chunk_start = ci, terms[nt].chunk_end = ci + 1;
            terms[nt].unpacked_bytes = (uint32_t)n;
            nt++;
        }
        ch.hash = h, ch.size = n;
        cas_merkle_push(&m, &ch);
        off += n;
    }
    cas_merkle_file_hash(&m, &fh);
    memset(f, 0, sizeof *f);
    f->file_hash = fh;
    f->num_terms = (uint32_t)nt;
    f->terms = terms;
    s->terms[s->nfiles++] = terms;
    return fh;
}

/* Closes the last xorb and writes + parses the shard. */
static void store_finish(t_store *s, t_packer *p) {
    cas_shard_xorb xs[MAX_XORBS];
    cas_shard_chunk *storage = (cas_shard_chunk *)t_xmalloc(sizeof *storage * MAX_XORBS * XORB_CHUNKS);
    size_t i, k;
    cas_sink sink;
    uint64_t written;
    cas_error e;
    store_close_xorb(s, p);
    for (i = 0; i < s->nfiles; i++)
        for (k = 0; k < s->files[i].num_terms; k++) {
            cas_shard_term *t = &s->files[i].terms[k];
            t->xorb_hash = s->xorbs[t->xorb_flags].hash;
            t->xorb_flags = 0;
        }
    for (i = 0; i < s->nxorbs; i++)
        CHECK(cas_shard_xorb_from_chunks(&xs[i], &s->xorbs[i].hash, s->xorbs[i].chunks, s->xorbs[i].n,
                                         s->xorbs[i].len, storage + i * XORB_CHUNKS) == CAS_OK);
    memset(&sink, 0, sizeof sink);
    sink.cap = 64u << 20;
    sink.buf = (uint8_t *)t_xmalloc(sink.cap);
    CHECK(cas_shard_write(NULL, s->files, s->nfiles, xs, s->nxorbs, NULL, &sink, &written, &e) == CAS_OK);
    CHECK(cas_shard_parse(NULL, sink.buf, sink.len, &s->shard, &e) == CAS_OK);
    free(sink.buf);
    free(storage);
}

static void store_free(t_store *s) {
    size_t i;
    for (i = 0; i < s->nxorbs; i++) free(s->xorbs[i].data);
    for (i = 0; i < s->nfiles; i++) free(s->terms[i]);
    free(s->seen), free(s->seen_xorb), free(s->seen_idx);
    cas_shard_free(&s->shard);
}

static const t_xorb *store_xorb(const t_store *s, const cas_hash *h) {
    size_t i;
    for (i = 0; i < s->nxorbs; i++)
        if (cas_hash_equal(&s->xorbs[i].hash, h)) return &s->xorbs[i];
    return NULL;
}

static int record_ends(void *user, const cas_hash *xorb, uint32_t n, uint64_t *ends) {
    const t_xorb *x = store_xorb((const t_store *)user, xorb);
    uint32_t i;
    if (!x || n != x->n) return CAS_E_SHARD_NO_CHUNKS;
    for (i = 0; i < n; i++) ends[i] = x->chunks[i].offset + x->chunks[i].record_size;
    return CAS_OK;
}

/* ---- the host: answers requests from the store ---- */


#define BOUNDARY "3d6b6a416f9b5"
/* The response body of a request: the range bytes, or multipart/byteranges. `order`
   shuffles the parts when set. */
static void make_body(const t_store *s, const cas_recon *r, const cas_download_request *q,
                      int shuffle, t_buf *b) {
    const t_xorb *x = store_xorb(s, &r->xorbs[q->xorb].hash);
    uint32_t i, order[64];
    b->n = 0;
    if (q->num_ranges == 1) {
        tb_put(b, x->data + q->ranges[0].byte_start,
                (size_t)(q->ranges[0].byte_end - q->ranges[0].byte_start + 1));
        return;
    }
    for (i = 0; i < q->num_ranges; i++) order[i] = i;
    if (shuffle)
        for (i = q->num_ranges - 1; i > 0; i--) {
            uint32_t j = rndn(i + 1), t = order[i];
            order[i] = order[j], order[j] = t;
        }
    for (i = 0; i < q->num_ranges; i++) {
        const cas_recon_range *g = &q->ranges[order[i]];
        char hdr[256];
        snprintf(hdr, sizeof hdr, "\r\n--" BOUNDARY "\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Range: bytes %llu-%llu/%llu\r\n\r\n", (unsigned long long)g->byte_start,
                 (unsigned long long)g->byte_end, (unsigned long long)x->len);
        tb_str(b, i ? hdr : hdr + 2);
        tb_put(b, x->data + g->byte_start, (size_t)(g->byte_end - g->byte_start + 1));
    }
    tb_str(b, "\r\n--" BOUNDARY "--\r\n");
}

typedef struct {
    uint8_t *out;
    uint8_t *seen; /* positional: how often each byte was written */
    size_t cap, len;
    int overlap;
    long cancel_after; /* progress calls until cancel (-1 never) */
    const t_store *store; /* set: every decoded chunk is checked against the store's */
    const cas_recon *recon;
    uint32_t *term_seen;  /* chunks each term has taken */
    uint32_t chunks_checked;
} t_sink;
static int write_at(void *user, uint64_t off, const void *data, size_t len) {
    t_sink *k = (t_sink *)user;
    size_t i;
    if (off + len > k->cap) return CAS_E_LIMIT;
    memcpy(k->out + off, data, len);
    for (i = 0; i < len; i++)
        if (k->seen[off + i]++) k->overlap = 1;
    if (off + len > k->len) k->len = (size_t)(off + len);
    return 0;
}
static int write_seq(void *user, const void *data, size_t len) {
    t_sink *k = (t_sink *)user;
    if (k->len + len > k->cap) return CAS_E_LIMIT;
    memcpy(k->out + k->len, data, len);
    k->len += len;
    return 0;
}
static int progress(void *user, const cas_download_progress *p) {
    t_sink *k = (t_sink *)user;
    (void)p;
    if (k->cancel_after < 0) return 0;
    return k->cancel_after-- == 0;
}

/* cas_download_chunk_fn: the store's own chunk hashes decide, as a local store's shards do. */
static int check_chunk(void *user, uint32_t term, uint32_t index, const cas_chunk *c) {
    t_sink *k = (t_sink *)user;
    const t_xorb *x = store_xorb(k->store, &k->recon->terms[term].hash);
    /* each term's chunks in order: the file's chunks, term by term */
    if (index != k->recon->terms[term].chunk_start + k->term_seen[term]++) return CAS_E_STATE;
    k->chunks_checked++;
    if (!x || index >= x->n || !cas_hash_equal(&x->chunks[index].hash, &c->hash) || x->chunks[index].size != c->size)
        return CAS_E_HASH;
    return 0;
}

enum { F_TRUNCATE = 1, F_DROP_ONCE = 2, F_CORRUPT = 4, F_EXTRA = 8, F_SHUFFLE = 16 };

typedef struct {
    unsigned flags;       /* CAS_DOWNLOAD_* */
    int sequential;
    size_t window;
    uint32_t jobs;        /* requests in flight */
    uint32_t piece;       /* max piece size (random 1..piece) */
    unsigned faults;
    long cancel_after;
    const cas_hash *file_hash;
    uint64_t range_length;
    const cas_allocator *alloc;
    int check_chunks;     /* desc.chunk = check_chunk */
} t_run;

typedef struct {
    int rc;        /* the final result */
    uint32_t requests, refetches, chunks_checked;
    size_t len;
    int overlap;
} t_result;

/* Runs the engine to the end against the store; output into out[0..cap). */
static t_result run(const t_store *s, const cas_recon *r, const t_run *o, uint8_t *out, size_t cap) {
    cas_download_desc desc;
    cas_download *d = NULL;
    t_sink k;
    t_result res;
    struct { uint32_t id; t_buf body; size_t pos; int active; } act[8];
    uint32_t nact = 0, i;
    int rc, dropped = 0;
    memset(&res, 0, sizeof res);
    memset(&k, 0, sizeof k);
    memset(act, 0, sizeof act);
    k.out = out, k.cap = cap, k.cancel_after = o->cancel_after;
    k.seen = (uint8_t *)calloc(cap + 1, 1);
    memset(&desc, 0, sizeof desc);
    desc.flags = o->flags;
    if (o->sequential) desc.write = write_seq; else desc.write_at = write_at;
    desc.user = &k;
    desc.window = o->window;
    desc.file_hash = o->file_hash;
    desc.range_length = o->range_length;
    desc.progress = progress;
    if (o->check_chunks) {
        desc.chunk = check_chunk, k.store = s, k.recon = r;
        k.term_seen = (uint32_t *)calloc(r->num_terms + 1, sizeof *k.term_seen);
    }
    rc = cas_download_create(o->alloc, r, &desc, &d, NULL);
    if (rc != CAS_OK) { res.rc = rc; free(k.seen); free(k.term_seen); return res; }
    for (;;) {
        cas_download_request q;
        uint32_t jobs = o->jobs ? o->jobs : 1;
        if (nact < jobs && (rc = cas_download_next(d, &q)) == CAS_READY) {
            uint32_t slot;
            for (slot = 0; act[slot].active; slot++) {}
            act[slot].active = 1, act[slot].id = q.id, act[slot].pos = 0;
            make_body(s, r, &q, (o->faults & F_SHUFFLE) != 0, &act[slot].body);
            if (o->faults & F_CORRUPT) act[slot].body.p[act[slot].body.n / 2] ^= 0x40;
            if (o->faults & F_EXTRA) tb_str(&act[slot].body, "x");
            res.requests++;
            if (q.refetch) res.refetches++;
            rc = cas_download_begin(d, q.id, q.num_ranges > 1 ? "multipart/byteranges; boundary=" BOUNDARY : NULL,
                                    q.num_ranges > 1 ? strlen("multipart/byteranges; boundary=" BOUNDARY) : 0);
            if (rc != CAS_OK) break;
            nact++;
            continue;
        }
        if (nact == 0) {
            if (rc == CAS_READY) rc = CAS_E_STATE;
            break;
        }
        /* push a piece into a random active request */
        {
            uint32_t pick = rndn(nact), slot;
            size_t n;
            for (slot = 0;; slot++)
                if (act[slot].active) {
                    if (pick == 0) break;
                    pick--;
                }
            n = 1 + rndn(o->piece ? o->piece : 1u << 20);
            if (n > act[slot].body.n - act[slot].pos) n = act[slot].body.n - act[slot].pos;
            if ((o->faults & F_TRUNCATE) && act[slot].pos + n == act[slot].body.n) n--;
            if ((o->faults & F_DROP_ONCE) && !dropped && act[slot].pos > act[slot].body.n / 2) {
                /* the connection drops: abort and retry later */
                dropped = 1;
                rc = cas_download_abort(d, act[slot].id);
                act[slot].active = 0, nact--;
                if (rc != CAS_OK) break;
                continue;
            }
            rc = cas_download_push(d, act[slot].id, act[slot].body.p + act[slot].pos, n);
            if (rc != CAS_OK) break;
            act[slot].pos += n;
            if (act[slot].pos == act[slot].body.n || ((o->faults & F_TRUNCATE) && act[slot].pos + 1 == act[slot].body.n)) {
                rc = cas_download_end(d, act[slot].id);
                act[slot].active = 0, nact--;
                if (rc != CAS_OK) break;
            }
        }
    }
    if (rc == CAS_OK) rc = CAS_E_STATE;
    res.rc = rc == CAS_END ? CAS_OK : rc;
    if (rc != CAS_END && d) {
        cas_download_request again;
        CHECK(cas_download_next(d, &again) == rc); /* errors are sticky */
    }
    res.len = k.len;
    res.overlap = k.overlap;
    res.chunks_checked = k.chunks_checked;
    if (o->check_chunks && rc == CAS_END) { /* every term took all of its chunks */
        size_t t;
        for (t = 0; t < r->num_terms; t++)
            CHECK(k.term_seen[t] == r->terms[t].chunk_end - r->terms[t].chunk_start);
    }
    free(k.term_seen);
    cas_download_free(d);
    for (i = 0; i < 8; i++) free(act[i].body.p);
    free(k.seen);
    return res;
}

/* ---- fixtures ---- */

typedef struct {
    t_store s;
    uint8_t *data[4];
    size_t len[4];
    cas_hash hash[4];
    size_t nfiles;
} t_fixture;

static void fixture(t_fixture *fx) {
    t_packer p;
    size_t a = 400000, b = 300000, c = 250000, i;
    uint8_t *A = (uint8_t *)t_xmalloc(a), *B = (uint8_t *)t_xmalloc(b), *C = (uint8_t *)t_xmalloc(c);
    memset(fx, 0, sizeof *fx);
    memset(&p, 0, sizeof p);
    t_generate("random", 1, A, a);
    t_generate("text", 2, B, b);
    t_generate("lowent", 3, C, c);
    /* file 0: A B C A (the second A reuses A's chunks: one range serves two terms)
       file 1: A C (two ranges of the xorbs holding A and C: multipart)
       file 2: small, one chunk; file 3: empty */
    fx->len[0] = 2 * a + b + c;
    fx->data[0] = (uint8_t *)t_xmalloc(fx->len[0]);
    memcpy(fx->data[0], A, a), memcpy(fx->data[0] + a, B, b);
    memcpy(fx->data[0] + a + b, C, c), memcpy(fx->data[0] + a + b + c, A, a);
    fx->len[1] = a + c;
    fx->data[1] = (uint8_t *)t_xmalloc(fx->len[1]);
    memcpy(fx->data[1], A, a), memcpy(fx->data[1] + a, C, c);
    fx->len[2] = 1000;
    fx->data[2] = (uint8_t *)t_xmalloc(1000);
    memcpy(fx->data[2], B, 1000);
    fx->len[3] = 0;
    fx->data[3] = (uint8_t *)t_xmalloc(1);
    fx->nfiles = 4;
    for (i = 0; i < fx->nfiles; i++) fx->hash[i] = store_add_file(&fx->s, &p, fx->data[i], fx->len[i]);
    store_finish(&fx->s, &p);
    free(A), free(B), free(C);
}

static void fixture_free(t_fixture *fx) {
    size_t i;
    for (i = 0; i < fx->nfiles; i++) free(fx->data[i]);
    store_free(&fx->s);
}

static int manifest(t_fixture *fx, size_t file, uint64_t first, uint64_t last, cas_recon *r) {
    return cas_recon_from_shards(NULL, &fx->s.shard, 1, &fx->hash[file], first, last,
                                 "http://store.invalid/xorbs/", record_ends, &fx->s, r, NULL);
}

/* ---- tests ---- */

static void test_whole_files(t_fixture *fx) {
    size_t f;
    int mode;
    for (f = 0; f < fx->nfiles; f++) {
        cas_recon r;
        CHECK(manifest(fx, f, 0, (uint64_t)-1, &r) == CAS_OK);
        for (mode = 0; mode < 16; mode++) {
            t_run o;
            t_result res;
            uint8_t *out = (uint8_t *)t_xmalloc(fx->len[f] + 1);
            char name[64];
            memset(&o, 0, sizeof o);
            o.flags = (mode & 1) ? CAS_DOWNLOAD_PER_RANGE : 0;
            o.sequential = (mode & 2) != 0;
            o.jobs = (mode & 4) ? 3 : 1;
            o.piece = (mode & 8) ? 7 : 100000;
            o.cancel_after = -1;
            o.file_hash = &fx->hash[f];
            o.faults = (mode & 4) ? F_SHUFFLE : 0;
            res = run(&fx->s, &r, &o, out, fx->len[f]);
            snprintf(name, sizeof name, "file %zu mode %d rc %d", f, mode, res.rc);
            CHECKM(res.rc == CAS_OK, name);
            CHECKM(res.len == fx->len[f] && memcmp(out, fx->data[f], fx->len[f]) == 0, name);
            CHECKM(!res.overlap, name);
            CHECKM(res.refetches == 0, name);
            free(out);
        }
        if (f == 1) CHECK(r.num_xorbs >= 1);
        cas_recon_free(&r);
    }
}

/* The spec's "chunk 3 serves two terms": file 0's last A reuses the first A's range. */
static void test_shared_range(t_fixture *fx) {
    cas_recon r;
    size_t t, u, shared = 0;
    CHECK(manifest(fx, 0, 0, (uint64_t)-1, &r) == CAS_OK);
    for (t = 0; t < r.num_terms; t++)
        for (u = t + 1; u < r.num_terms; u++)
            if (r.terms[t].xorb == r.terms[u].xorb && r.terms[t].range == r.terms[u].range) shared++;
    CHECK(shared > 0);
    cas_recon_free(&r);
}

/* A window smaller than the distance between two uses of a range: refetches, same bytes. */
static void test_small_window(t_fixture *fx) {
    size_t windows[] = {1, 4096, 70000, 300000};
    size_t w;
    cas_recon r;
    CHECK(manifest(fx, 0, 0, (uint64_t)-1, &r) == CAS_OK);
    for (w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        int mode;
        for (mode = 0; mode < 4; mode++) {
            t_run o;
            t_result res;
            uint8_t *out = (uint8_t *)t_xmalloc(fx->len[0]);
            char name[64];
            memset(&o, 0, sizeof o);
            o.sequential = 1;
            o.window = windows[w];
            o.flags = (mode & 1) ? CAS_DOWNLOAD_PER_RANGE : 0;
            o.jobs = (mode & 2) ? 4 : 1;
            o.piece = 50000;
            o.cancel_after = -1;
            o.file_hash = &fx->hash[0];
            o.check_chunks = 1; /* a dropped chunk is reported once, when it is taken */
            res = run(&fx->s, &r, &o, out, fx->len[0]);
            snprintf(name, sizeof name, "window %zu mode %d rc %d", windows[w], mode, res.rc);
            CHECKM(res.rc == CAS_OK && res.len == fx->len[0] && memcmp(out, fx->data[0], fx->len[0]) == 0, name);
            if (windows[w] <= 4096) CHECKM(res.refetches > 0, name);
            free(out);
        }
    }
    cas_recon_free(&r);
}

/* Ranges: manifests trimmed to chunks + offset_into_first_range + range_length. */
static void test_ranges(t_fixture *fx) {
    int i;
    for (i = 0; i < 60; i++) {
        size_t f = (size_t)rndn(3);
        uint64_t a = rndn((uint32_t)fx->len[f]), b = a + rndn((uint32_t)(fx->len[f] - a));
        cas_recon r;
        t_run o;
        t_result res;
        uint8_t *out = (uint8_t *)t_xmalloc(fx->len[f]);
        char name[96];
        if (i == 0) a = 0, b = fx->len[f] - 1;
        if (i == 1) a = fx->len[f] - 1, b = a;
        if (i == 2) b = (uint64_t)-2; /* past the end: clamped */
        CHECK(manifest(fx, f, a, b, &r) == CAS_OK);
        if (b > fx->len[f] - 1) b = fx->len[f] - 1;
        memset(&o, 0, sizeof o);
        o.sequential = i & 1;
        o.flags = (i & 2) ? CAS_DOWNLOAD_PER_RANGE : 0;
        o.jobs = 1 + (i % 3);
        o.piece = 1 + rndn(70000);
        o.cancel_after = -1;
        o.file_hash = &fx->hash[f];
        o.range_length = b - a + 1;
        /* a file hash cannot be checked over a range: refused unless the caller says so */
        res = run(&fx->s, &r, &o, out, fx->len[f]);
        CHECK(res.rc == CAS_E_ARGUMENT && res.len == 0);
        o.flags |= CAS_DOWNLOAD_NO_VERIFY;
        res = run(&fx->s, &r, &o, out, fx->len[f]);
        snprintf(name, sizeof name, "file %zu %llu-%llu rc %d len %zu", f, (unsigned long long)a,
                 (unsigned long long)b, res.rc, res.len);
        CHECKM(res.rc == CAS_OK && res.len == b - a + 1 && memcmp(out, fx->data[f] + a, (size_t)(b - a + 1)) == 0, name);
        cas_recon_free(&r);
        free(out);
    }
    {   /* past the end: 416 */
        cas_recon r;
        CHECK(manifest(fx, 0, fx->len[0], fx->len[0] + 5, &r) == CAS_E_LIMIT);
        CHECK(manifest(fx, 3, 0, 0, &r) == CAS_E_LIMIT);
    }
}

/* A server that lies about a whole file cannot make the engine accept unverified bytes:
   every manifest field that shapes the output either is refused at create (it would turn
   the check off) or changes what is decoded, so the file hash fails. */
static void test_lying_manifests(t_fixture *fx) {
    cas_recon r, bad;
    cas_recon_term *terms;
    cas_recon_xorb *xorbs;
    cas_recon_fetch *fetches;
    cas_recon_range *ranges;
    size_t nt, nx, nf, nr, x, f, i;
    uint8_t *out = (uint8_t *)t_xmalloc(2 * fx->len[0] + 1);
    t_run o;
    t_result res;
    cas_download_desc desc;
    cas_download *d;
    cas_error e;
    t_sink k;
    CHECK(manifest(fx, 0, 0, (uint64_t)-1, &r) == CAS_OK);
    nt = r.num_terms, nx = r.num_xorbs;
    terms = (cas_recon_term *)t_xmalloc((nt + 1) * sizeof *terms);
    xorbs = (cas_recon_xorb *)t_xmalloc(nx * sizeof *xorbs);
    for (nf = nr = 0, x = 0; x < nx; x++) {
        nf += r.xorbs[x].num_fetches;
        for (f = 0; f < r.xorbs[x].num_fetches; f++) nr += r.xorbs[x].fetches[f].num_ranges;
    }
    fetches = (cas_recon_fetch *)t_xmalloc(nf * sizeof *fetches);
    ranges = (cas_recon_range *)t_xmalloc(nr * sizeof *ranges);
    memset(&o, 0, sizeof o);
    o.cancel_after = -1;
    o.file_hash = &fx->hash[0];
    o.piece = 20000;
    /* the case number runs through every lie, with each sink */
    for (i = 0; i < 2 * 11; i++) {
        int lie = (int)(i / 2), expect_refused = 0;
        char name[64];
        size_t fi = 0, ri = 0;
        /* a deep copy the lie may edit */
        bad = r;
        memcpy(terms, r.terms, nt * sizeof *terms);
        for (x = 0; x < nx; x++) {
            xorbs[x] = r.xorbs[x];
            xorbs[x].fetches = fetches + fi;
            for (f = 0; f < r.xorbs[x].num_fetches; f++, fi++) {
                fetches[fi] = r.xorbs[x].fetches[f];
                memcpy(ranges + ri, fetches[fi].ranges, fetches[fi].num_ranges * sizeof *ranges);
                fetches[fi].ranges = ranges + ri;
                ri += fetches[fi].num_ranges;
            }
        }
        bad.terms = terms, bad.xorbs = xorbs;
        o.sequential = (int)(i & 1);
        switch (lie) {
        case 0: bad.offset_into_first_range = 1; expect_refused = 1; break; /* skips a byte */
        case 1: bad.offset_into_first_range = terms[0].unpacked_length - 1; expect_refused = 1; break;
        case 2: bad.num_terms = nt - 1; break;                        /* the end missing */
        case 3: bad.terms = terms + 1, bad.num_terms = nt - 1; break; /* the start missing */
        case 4: { cas_recon_term tmp = terms[0]; terms[0] = terms[1], terms[1] = tmp; } break;
        case 5: terms[nt] = terms[0], bad.num_terms = nt + 1; break;  /* a term too many */
        case 6: bad.num_terms = 0; break;                             /* nothing at all */
        case 7: /* a term one chunk shorter, its length told to match what it decodes to */
            terms[0].chunk_end--, terms[0].unpacked_length = 0; {
                size_t c;
                const t_xorb *X = store_xorb(&fx->s, &terms[0].hash);
                for (c = terms[0].chunk_start; c < terms[0].chunk_end; c++) terms[0].unpacked_length += X->chunks[c].size;
            }
            break;
        case 8: terms[1].unpacked_length++; break;                    /* lengths that lie */
        case 9: { /* a fetch range shifted by a record header: other bytes arrive */
            const t_xorb *X = store_xorb(&fx->s, &xorbs[0].hash);
            if (ranges[0].byte_end + 8 < X->len) ranges[0].byte_start += 8, ranges[0].byte_end += 8;
            else ranges[0].byte_start += 8; /* and one record header short */
        } break;
        default: /* the caller asked for bytes 0..len-1: a range, so no hash check */
            o.range_length = fx->len[0]; expect_refused = 1; break;
        }
        res = run(&fx->s, &bad, &o, out, 2 * fx->len[0] + 1);
        snprintf(name, sizeof name, "lie %d sequential %d rc %d", lie, o.sequential, res.rc);
        if (expect_refused) CHECKM(res.rc == CAS_E_ARGUMENT && res.len == 0, name);
        else CHECKM(res.rc == CAS_E_HASH || res.rc == CAS_E_TERM_SIZE || res.rc == CAS_E_TRUNCATED ||
                    res.rc == CAS_E_SIZE || res.rc == CAS_E_TRAILING || res.rc == CAS_E_CHUNK_SIZE ||
                    res.rc == CAS_E_CHUNK_SCHEME || res.rc == CAS_E_CHUNK_VERSION, name);
        if (lie == 2 || lie == 3 || lie == 4 || lie == 5 || lie == 6) CHECKM(res.rc == CAS_E_HASH, name);
        /* CAS_DOWNLOAD_NO_VERIFY is the one way past the check */
        if (expect_refused) {
            o.flags = CAS_DOWNLOAD_NO_VERIFY;
            res = run(&fx->s, &bad, &o, out, 2 * fx->len[0] + 1);
            CHECKM(res.rc == CAS_OK, name);
            o.flags = 0;
        }
        o.range_length = 0;
    }
    /* the refusal names the problem and where */
    memset(&desc, 0, sizeof desc);
    memset(&k, 0, sizeof k);
    desc.write_at = write_at, desc.user = &k, desc.file_hash = &fx->hash[0];
    bad = r, bad.offset_into_first_range = 7;
    CHECK(cas_download_create(NULL, &bad, &desc, &d, &e) == CAS_E_ARGUMENT && d == NULL);
    CHECK(e.code == CAS_E_ARGUMENT && e.offset == 7 && strstr(e.what, "offset_into_first_range"));
    free(terms), free(xorbs), free(fetches), free(ranges), free(out);
    cas_recon_free(&r);
}

/* desc.chunk: a range (no file hash to check) from a store with a flipped payload byte in a
   stored (uncompressed, so still decodable) chunk is accepted without it, and refused with
   it before any wrong byte reaches the sink. */
static void test_chunk_check(t_fixture *fx) {
    int i, caught = 0, accepted_wrong = 0;
    for (i = 0; i < 40; i++) {
        size_t f = (size_t)(i % 2); /* A is random: its chunks are stored raw */
        uint64_t a = rndn((uint32_t)fx->len[f] / 2), b = a + 1 + rndn((uint32_t)(fx->len[f] / 2));
        cas_recon r;
        t_run o;
        t_result res;
        uint8_t *out = (uint8_t *)t_xmalloc(fx->len[f]);
        char name[96];
        size_t j;
        CHECK(manifest(fx, f, a, b, &r) == CAS_OK);
        memset(&o, 0, sizeof o);
        o.cancel_after = -1;
        o.sequential = i & 1;
        o.flags = CAS_DOWNLOAD_NO_VERIFY | ((i & 2) ? CAS_DOWNLOAD_PER_RANGE : 0);
        o.piece = 1 + rndn(70000);
        o.range_length = b - a + 1;
        o.check_chunks = 1;
        /* a clean store: every chunk checked, the right bytes */
        res = run(&fx->s, &r, &o, out, fx->len[f]);
        snprintf(name, sizeof name, "file %zu %llu-%llu rc %d", f, (unsigned long long)a, (unsigned long long)b, res.rc);
        CHECKM(res.rc == CAS_OK && res.len == b - a + 1 && memcmp(out, fx->data[f] + a, (size_t)(b - a + 1)) == 0, name);
        CHECKM(res.chunks_checked >= r.num_terms, name);
        /* a flipped byte in every response: without the check a range may come out wrong */
        o.faults = F_CORRUPT, o.check_chunks = 0;
        memset(out, 0, fx->len[f]);
        res = run(&fx->s, &r, &o, out, fx->len[f]);
        if (res.rc == CAS_OK && memcmp(out, fx->data[f] + a, (size_t)(b - a + 1)) != 0) accepted_wrong++;
        o.check_chunks = 1;
        memset(out, 0, fx->len[f]);
        res = run(&fx->s, &r, &o, out, fx->len[f]);
        CHECKM(res.rc < 0, name);
        if (res.rc == CAS_E_HASH) caught++;
        for (j = 0; j < res.len; j++) /* what was written is right (zeros: not written) */
            if (out[j] && out[j] != fx->data[f][a + j]) break;
        CHECKM(j == res.len, name);
        cas_recon_free(&r);
        free(out);
    }
    CHECK(accepted_wrong > 0); /* the fault is one the file hash alone would not see in a range */
    CHECK(caught > 0);
    printf("chunk check: %d corrupt ranges accepted without it, %d caught by it\n", accepted_wrong, caught);
}

static void test_faults(t_fixture *fx) {
    cas_recon r;
    t_run o;
    t_result res;
    uint8_t *out = (uint8_t *)t_xmalloc(fx->len[0]);
    cas_hash wrong;
    CHECK(manifest(fx, 0, 0, (uint64_t)-1, &r) == CAS_OK);
    memset(&o, 0, sizeof o);
    o.cancel_after = -1;
    o.file_hash = &fx->hash[0];
    o.piece = 30000;
    /* a dropped connection: abort, retry, same bytes */
    o.faults = F_DROP_ONCE;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_OK && memcmp(out, fx->data[0], fx->len[0]) == 0 && !res.overlap);
    o.sequential = 1;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_OK && memcmp(out, fx->data[0], fx->len[0]) == 0);
    o.sequential = 0;
    /* a short body reported as complete */
    o.faults = F_TRUNCATE;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_E_TRUNCATED || res.rc == CAS_E_SIZE);
    /* bytes past the ranges */
    o.faults = F_EXTRA;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_E_TRAILING || res.rc == CAS_E_MULTIPART);
    /* a flipped byte: a decoder error, or the file hash catches it */
    o.faults = F_CORRUPT;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc < 0);
    o.faults = 0;
    /* the wrong file hash */
    wrong = fx->hash[0];
    wrong.bytes[5] ^= 1;
    o.file_hash = &wrong;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_E_HASH);
    o.flags = CAS_DOWNLOAD_NO_VERIFY;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_OK);
    o.flags = 0;
    o.file_hash = &fx->hash[0];
    /* cancel from the progress callback: never CAS_END */
    o.cancel_after = 3;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_E_CANCELLED);
    o.cancel_after = -1;
    /* a term whose unpacked_length is off by one, either way */
    {
        cas_recon bad = r;
        cas_recon_term *terms = (cas_recon_term *)t_xmalloc(r.num_terms * sizeof *terms);
        int longer;
        for (longer = 0; longer <= 1; longer++) {
            memcpy(terms, r.terms, r.num_terms * sizeof *terms);
            if (longer) terms[1].unpacked_length++;
            else terms[1].unpacked_length--;
            bad.terms = terms;
            res = run(&fx->s, &bad, &o, out, fx->len[0] + 1);
            CHECK(res.rc == CAS_E_TERM_SIZE);
            o.sequential = 1;
            res = run(&fx->s, &bad, &o, out, fx->len[0] + 1);
            CHECK(res.rc == CAS_E_TERM_SIZE);
            o.sequential = 0;
        }
        free(terms);
    }
    cas_recon_free(&r);
    free(out);
}

/* Every allocation of a whole run fails in turn: CAS_E_NOMEM, nothing leaked. */
static void test_alloc_failures(t_fixture *fx) {
    cas_recon r;
    long n, total;
    t_counting ta;
    cas_allocator al;
    uint8_t *out = (uint8_t *)t_xmalloc(fx->len[0]);
    t_run o;
    t_result res;
    CHECK(manifest(fx, 0, 0, (uint64_t)-1, &r) == CAS_OK);
    memset(&o, 0, sizeof o);
    o.cancel_after = -1;
    o.file_hash = &fx->hash[0];
    o.piece = 100000;
    o.jobs = 2;
    al = t_counting_allocator(&ta, -1);
    o.alloc = &al;
    res = run(&fx->s, &r, &o, out, fx->len[0]);
    CHECK(res.rc == CAS_OK && ta.live == 0);
    total = ta.n;
    for (n = 0; n < total; n++) {
        al = t_counting_allocator(&ta, n);
        res = run(&fx->s, &r, &o, out, fx->len[0]);
        CHECK(res.rc == CAS_E_NOMEM);
        CHECK(ta.live == 0);
    }
    cas_recon_free(&r);
    /* cas_recon_from_shards too */
    for (n = 0;; n++) {
        int rc;
        al = t_counting_allocator(&ta, n);
        rc = cas_recon_from_shards(&al, &fx->s.shard, 1, &fx->hash[0], 0, (uint64_t)-1,
                                   "http://x/", record_ends, &fx->s, &r, NULL);
        CHECK(ta.live == (rc == CAS_OK ? ta.live : 0));
        if (rc == CAS_OK) { cas_recon_free(&r); CHECK(ta.live == 0); break; }
        CHECK(rc == CAS_E_NOMEM);
    }
    printf("allocation sweep: %ld allocations in a run\n", total);
    free(out);
}

static void test_api_misuse(t_fixture *fx) {
    cas_recon r;
    cas_download *d;
    cas_download_desc desc;
    cas_download_request q;
    t_sink k;
    uint8_t out[16];
    memset(&k, 0, sizeof k);
    k.out = out, k.cap = sizeof out;
    CHECK(manifest(fx, 2, 0, (uint64_t)-1, &r) == CAS_OK);
    memset(&desc, 0, sizeof desc);
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_E_ARGUMENT); /* no sink */
    desc.write = write_seq, desc.write_at = write_at;
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_E_ARGUMENT); /* two */
    desc.write_at = NULL;
    desc.user = &k;
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_OK);
    CHECK(cas_download_push(d, 0, "x", 1) == CAS_E_STATE); /* not begun */
    CHECK(cas_download_next(d, &q) == CAS_E_STATE);        /* sticky */
    cas_download_free(d);
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_OK);
    CHECK(cas_download_next(d, &q) == CAS_READY);
    CHECK(strncmp(q.range, "bytes=", 6) == 0 && q.num_ranges == 1);
    CHECK(cas_download_next(d, &q) == CAS_NEED_INPUT);
    cas_download_cancel(d);
    CHECK(cas_download_next(d, &q) == CAS_E_CANCELLED);
    cas_download_free(d);
    {   /* a manifest that claims terms but has no array; abort of a request never handed out */
        cas_recon bad = r;
        cas_error e;
        bad.terms = NULL;
        CHECK(cas_download_create(NULL, &bad, &desc, &d, &e) == CAS_E_ARGUMENT && strstr(e.what, "terms"));
        CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_OK);
        CHECK(cas_download_abort(d, 0) == CAS_E_STATE); /* not in flight */
        cas_download_free(d);
    }
    cas_recon_free(&r);
}

/* A sink that returns a positive value cancels; a progress callback can cancel at the very
   end (the DONE report), and the engine then never reports CAS_END. */
static int sink_positive(void *user, uint64_t off, const void *data, size_t len) {
    (void)user, (void)off, (void)data, (void)len;
    return 1;
}
static int progress_cancel_done(void *user, const cas_download_progress *p) {
    (void)user;
    return p->phase == CAS_DOWNLOAD_DONE;
}
static void test_callback_cancel(t_fixture *fx) {
    cas_recon r;
    cas_download_desc desc;
    cas_download *d;
    cas_download_request q;
    t_sink k;
    uint8_t out[1000];
    int rc;
    CHECK(manifest(fx, 2, 0, (uint64_t)-1, &r) == CAS_OK);
    memset(&desc, 0, sizeof desc);
    memset(&k, 0, sizeof k);
    k.out = out, k.cap = sizeof out, k.seen = (uint8_t *)calloc(sizeof out + 1, 1), k.cancel_after = -1;
    desc.write_at = sink_positive;
    desc.user = &k;
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_OK);
    rc = cas_download_next(d, &q);
    CHECK(rc == CAS_READY);
    {
        t_buf body = {NULL, 0, 0};
        make_body(&fx->s, &r, &q, 0, &body);
        CHECK(cas_download_begin(d, q.id, NULL, 0) == CAS_OK);
        CHECK(cas_download_push(d, q.id, body.p, body.n) == CAS_E_CANCELLED);
        CHECK(strstr(cas_download_error(d)->what, "sink") != NULL);
        tb_free(&body);
    }
    cas_download_free(d);
    desc.write_at = write_at;
    desc.progress = progress_cancel_done;
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_OK);
    CHECK(cas_download_next(d, &q) == CAS_READY);
    {
        t_buf body = {NULL, 0, 0};
        make_body(&fx->s, &r, &q, 0, &body);
        CHECK(cas_download_begin(d, q.id, NULL, 0) == CAS_OK);
        CHECK(cas_download_push(d, q.id, body.p, body.n) == CAS_OK);
        CHECK(cas_download_end(d, q.id) == CAS_OK);
        tb_free(&body);
    }
    CHECK(cas_download_next(d, &q) == CAS_E_CANCELLED); /* the DONE report was refused */
    CHECK(cas_download_next(d, &q) == CAS_E_CANCELLED);
    cas_download_free(d);
    free(k.seen);
    cas_recon_free(&r);
}

/* A request aborted after its whole body was pushed (its chunks are all written): it is
   queued again, but not made again, since it serves no incomplete term; the download ends
   with the other requests, every byte written once. */
static void test_abort_delivered(t_fixture *fx) {
    cas_recon r;
    cas_download_desc desc;
    cas_download *d;
    cas_download_request q;
    t_sink k;
    t_buf body = {NULL, 0, 0};
    uint32_t first, made = 0;
    int rc;
    CHECK(manifest(fx, 1, 0, (uint64_t)-1, &r) == CAS_OK); /* A C: ranges of one xorb */
    memset(&desc, 0, sizeof desc);
    memset(&k, 0, sizeof k);
    k.out = (uint8_t *)t_xmalloc(fx->len[1]), k.cap = fx->len[1], k.cancel_after = -1;
    k.seen = (uint8_t *)calloc(fx->len[1] + 1, 1);
    desc.write_at = write_at, desc.user = &k, desc.file_hash = &fx->hash[1];
    desc.flags = CAS_DOWNLOAD_PER_RANGE; /* a request per range */
    CHECK(cas_download_create(NULL, &r, &desc, &d, NULL) == CAS_OK);
    rc = cas_download_next(d, &q);
    first = q.id;
    for (; rc == CAS_READY; rc = cas_download_next(d, &q)) {
        const char *ct = q.num_ranges > 1 ? "multipart/byteranges; boundary=" BOUNDARY : NULL;
        made++;
        CHECK_MSG(made == 1 || q.id != first, "request %u made again", (unsigned)first);
        make_body(&fx->s, &r, &q, 0, &body);
        rc = cas_download_begin(d, q.id, ct, ct ? strlen(ct) : 0);
        if (rc == CAS_OK) rc = cas_download_push(d, q.id, body.p, body.n);
        if (rc == CAS_OK) rc = made == 1 ? cas_download_abort(d, q.id) : cas_download_end(d, q.id);
        if (rc != CAS_OK) break;
    }
    CHECK(!k.overlap && k.len == fx->len[1] && memcmp(k.out, fx->data[1], fx->len[1]) == 0);
    {   /* as many requests as a run without the abort makes */
        t_run o;
        t_result res;
        uint8_t *out = (uint8_t *)t_xmalloc(fx->len[1]);
        memset(&o, 0, sizeof o);
        o.cancel_after = -1, o.flags = CAS_DOWNLOAD_PER_RANGE, o.file_hash = &fx->hash[1];
        res = run(&fx->s, &r, &o, out, fx->len[1]);
        CHECK_MSG(rc == CAS_END && res.rc == CAS_OK && made == res.requests && made > 1, "%s after %u requests (%u without the abort)",
                  cas_result_name(rc), (unsigned)made, (unsigned)res.requests);
        free(out);
    }
    cas_download_free(d);
    tb_free(&body);
    free(k.out), free(k.seen);
    cas_recon_free(&r);
}

/* ---- hand-built manifests: what no parsed manifest holds (indices out of their arrays,
   ranges whose chunk counts disagree with their bytes, fetch entries no term uses) and
   multipart answers that are not the ranges asked for ---- */

#define HAND_CHUNKS 4
#define HAND_CHUNK 3000
typedef struct {
    t_store s; /* xorbs[0]: HAND_CHUNKS stored chunks; [1], [2]: the same bytes, other hashes */
    cas_recon_range ranges[3][2];
    cas_recon_fetch fetches[3];
    cas_recon_xorb xorbs[3];
    cas_recon_term terms[HAND_CHUNKS];
    cas_recon r;
} t_hand;
static t_hand g_hand;

static void hand_init(t_hand *h) {
    cas_xorb_writer w;
    cas_sink sink;
    uint8_t chunk[HAND_CHUNK];
    t_rng rng;
    size_t i;
    memset(h, 0, sizeof *h);
    memset(&sink, 0, sizeof sink);
    sink.write = sink_grow, sink.user = &h->s.xorbs[0];
    rng.state = 77;
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &sink) == CAS_OK);
    for (i = 0; i < HAND_CHUNKS; i++) {
        t_fill_random(&rng, chunk, sizeof chunk);
        CHECK(cas_xorb_writer_add(&w, chunk, sizeof chunk, NULL) == CAS_OK);
    }
    CHECK(cas_xorb_writer_finish(&w, 0, &h->s.xorbs[0].hash) == CAS_OK);
    memcpy(h->s.xorbs[0].chunks, cas_xorb_writer_chunks(&w, &h->s.xorbs[0].n), HAND_CHUNKS * sizeof(cas_xorb_chunk));
    cas_xorb_writer_free(&w);
    for (i = 1; i < 3; i++) {
        h->s.xorbs[i] = h->s.xorbs[0];
        h->s.xorbs[i].hash.bytes[0] ^= (uint8_t)i;
        h->s.xorbs[i].data = (uint8_t *)t_xmalloc(h->s.xorbs[0].len);
        memcpy(h->s.xorbs[i].data, h->s.xorbs[0].data, h->s.xorbs[0].len);
    }
    h->s.nxorbs = 3;
}
/* nx xorbs of one fetch entry each, one range each (set below), no terms yet. */
static void hand_reset(t_hand *h, size_t nx) {
    size_t i;
    memset(h->ranges, 0, sizeof h->ranges);
    memset(h->terms, 0, sizeof h->terms);
    for (i = 0; i < 3; i++) {
        h->xorbs[i].hash = h->s.xorbs[i].hash;
        h->xorbs[i].fetches = &h->fetches[i];
        h->xorbs[i].num_fetches = 1;
        h->fetches[i].url = "http://hand.invalid/xorb";
        h->fetches[i].url_len = strlen(h->fetches[i].url);
        h->fetches[i].ranges = h->ranges[i];
        h->fetches[i].num_ranges = 1;
    }
    memset(&h->r, 0, sizeof h->r);
    h->r.version = 2;
    h->r.xorbs = h->xorbs, h->r.num_xorbs = nx;
    h->r.terms = h->terms;
}
/* Chunks [a, b) of the xorb and their records' bytes. */
static void hand_range(const t_hand *h, cas_recon_range *g, uint32_t a, uint32_t b) {
    const cas_xorb_chunk *c = h->s.xorbs[0].chunks;
    g->chunk_start = a, g->chunk_end = b;
    g->byte_start = c[a].offset;
    g->byte_end = c[b - 1].offset + c[b - 1].record_size - 1;
}
/* Term t: chunks [a, b) from xorbs[0].fetches[0].ranges[range]. */
static void hand_term(t_hand *h, uint32_t t, uint32_t range, uint32_t a, uint32_t b) {
    cas_recon_term *T = &h->terms[t];
    T->hash = h->xorbs[0].hash;
    T->chunk_start = a, T->chunk_end = b;
    T->unpacked_length = (uint64_t)(b - a) * HAND_CHUNK;
    T->xorb = 0, T->fetch = 0, T->range = range;
    if (h->r.num_terms <= t) h->r.num_terms = t + 1;
}
/* The first request of h->r answered with body[0..n) under Content-Type ct (NULL: none),
   then ended; returns the first failure, with the engine's error (its text copied out). */
static int hand_one(const t_hand *h, const void *body, size_t n, const char *ct, cas_error *e) {
    static uint8_t out[HAND_CHUNKS * HAND_CHUNK], seen[sizeof out + 1];
    cas_download_desc desc;
    cas_download *d;
    cas_download_request q;
    t_sink k;
    int rc;
    memset(&k, 0, sizeof k);
    memset(seen, 0, sizeof seen);
    k.out = out, k.cap = sizeof out, k.seen = seen, k.cancel_after = -1;
    memset(&desc, 0, sizeof desc);
    desc.write_at = write_at, desc.user = &k;
    rc = cas_download_create(NULL, &h->r, &desc, &d, e);
    if (rc != CAS_OK) return rc;
    rc = cas_download_next(d, &q);
    if (rc == CAS_READY) rc = cas_download_begin(d, q.id, ct, ct ? strlen(ct) : 0);
    if (rc == CAS_OK) rc = cas_download_push(d, q.id, body, n);
    if (rc == CAS_OK) rc = cas_download_end(d, q.id);
    *e = *cas_download_error(d); /* a copy holds its text: valid after the free */
    cas_download_free(d);
    return rc;
}
/* A part of xorb 0's bytes [first, last], in multipart form, appended to b. */
static void hand_part(const t_hand *h, t_buf *b, uint64_t first, uint64_t last) {
    char hdr[256];
    snprintf(hdr, sizeof hdr, "--" BOUNDARY "\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
             (unsigned long long)first, (unsigned long long)last, (unsigned long long)h->s.xorbs[0].len);
    tb_str(b, hdr);
    tb_put(b, h->s.xorbs[0].data + first, (size_t)(last - first + 1));
    tb_str(b, "\r\n");
}

static void test_hand_manifests(void) {
    t_hand *h = &g_hand;
    const t_xorb *x;
    cas_download_desc desc;
    cas_download *d;
    cas_error e;
    t_run o;
    t_result res;
    uint8_t out[HAND_CHUNKS * HAND_CHUNK];
    cas_recon_term saved;
    int i, rc;
    hand_init(h);
    x = &h->s.xorbs[0];
    memset(&o, 0, sizeof o);
    o.cancel_after = -1;
    /* the honest manifest: one range, one term, the xorb's bytes */
    hand_reset(h, 1);
    hand_range(h, &h->ranges[0][0], 0, HAND_CHUNKS);
    hand_term(h, 0, 0, 0, HAND_CHUNKS);
    res = run(&h->s, &h->r, &o, out, sizeof out);
    CHECK(res.rc == CAS_OK && res.requests == 1 && res.len == sizeof out);
    /* a term's xorb, fetch or range index outside its array */
    memset(&desc, 0, sizeof desc);
    desc.write_at = write_at;
    saved = h->terms[0];
    for (i = 0; i < 3; i++) {
        h->terms[0] = saved;
        if (i == 0) h->terms[0].range = 1;
        if (i == 1) h->terms[0].fetch = 1;
        if (i == 2) h->terms[0].xorb = 1;
        CHECK_MSG(cas_download_create(NULL, &h->r, &desc, &d, &e) == CAS_E_ARGUMENT && d == NULL &&
                  e.code == CAS_E_ARGUMENT && strstr(e.what, "recon is not from cas_recon_parse"), "index %d: %s", i, e.what);
    }
    h->terms[0] = saved;
    /* fetch entries no term uses, of two more xorbs, one of them with two entries, one of
       those with two ranges: never requested, per fetch entry or per range (the plan sorts
       them last, by xorb, fetch entry and range, and drops them) */
    hand_reset(h, 3);
    hand_range(h, &h->ranges[0][0], 0, HAND_CHUNKS);
    hand_term(h, 0, 0, 0, HAND_CHUNKS);
    {
        cas_recon_fetch unused[2];
        cas_recon_range ur[3];
        hand_range(h, &ur[0], 0, 1);
        hand_range(h, &ur[1], 2, 3);
        hand_range(h, &ur[2], 1, 2);
        unused[0] = h->fetches[1], unused[0].ranges = ur, unused[0].num_ranges = 2;
        unused[1] = h->fetches[1], unused[1].ranges = ur + 2, unused[1].num_ranges = 1;
        h->xorbs[1].fetches = unused, h->xorbs[1].num_fetches = 2;
        hand_range(h, &h->ranges[2][0], 1, 3);
        for (i = 0; i < 2; i++) {
            o.flags = i ? CAS_DOWNLOAD_PER_RANGE : 0;
            res = run(&h->s, &h->r, &o, out, sizeof out);
            CHECK_MSG(res.rc == CAS_OK && res.requests == 1 && res.len == sizeof out &&
                      memcmp(out, x->data + 8, HAND_CHUNK) == 0, "unused fetch entries, mode %d: rc %d, %u requests", i,
                      res.rc, (unsigned)res.requests);
        }
    }
    o.flags = 0;

    /* ranges whose chunk counts disagree with their bytes (CAS_E_SIZE, at the record) */
    hand_reset(h, 1);
    hand_range(h, &h->ranges[0][0], 0, 3);
    h->ranges[0][0].chunk_end = 2; /* three records in the bytes, two chunks said */
    hand_term(h, 0, 0, 0, 2);
    rc = hand_one(h, x->data + h->ranges[0][0].byte_start,
                  (size_t)(h->ranges[0][0].byte_end - h->ranges[0][0].byte_start + 1), NULL, &e);
    CHECK_MSG(rc == CAS_E_SIZE && e.offset == x->chunks[2].offset &&
              strstr(e.what, "a range holds more chunk records than its chunks say"), "more records: %s", e.what);
    for (i = 0; i < 2; i++) { /* two records and three chunks; or the third record cut short */
        hand_range(h, &h->ranges[0][0], 0, 3);
        h->ranges[0][0].byte_end = i ? h->ranges[0][0].byte_end - 100 : x->chunks[2].offset - 1;
        hand_term(h, 0, 0, 0, 3);
        rc = hand_one(h, x->data, (size_t)h->ranges[0][0].byte_end + 1, NULL, &e);
        CHECK_MSG(rc == CAS_E_SIZE && e.offset == h->ranges[0][0].byte_end &&
                  strstr(e.what, "a range's bytes do not end with its last chunk record"), "fewer records %d: %s", i, e.what);
    }

    /* one fetch entry, two ranges (chunks 0 and 2, not adjacent): a multipart answer */
    hand_reset(h, 1);
    h->fetches[0].num_ranges = 2;
    hand_range(h, &h->ranges[0][0], 0, 1);
    hand_range(h, &h->ranges[0][1], 2, 3);
    hand_term(h, 0, 0, 0, 1);
    hand_term(h, 1, 1, 2, 3);
    {
        const char *ct = "multipart/byteranges; boundary=" BOUNDARY;
        const cas_recon_range *g = h->ranges[0];
        t_buf b = {NULL, 0, 0};
        cas_multipart m;
        cas_error me;
        /* the honest answer, parts in either order */
        for (i = 0; i < 2; i++) {
            b.n = 0;
            hand_part(h, &b, g[i].byte_start, g[i].byte_end);
            hand_part(h, &b, g[1 - i].byte_start, g[1 - i].byte_end);
            tb_str(&b, "--" BOUNDARY "--\r\n");
            CHECK_MSG(hand_one(h, b.p, b.n, ct, &e) == CAS_OK, "multipart, order %d: %s", i, e.what);
        }
        /* errors of the multipart reader, their text copied from it: a bad Content-Type (at
           begin), a header line without ':' (at push), nothing at all (at end) */
        CHECK(cas_multipart_init(&m, "text/plain", 10, 2, &me) == CAS_E_MULTIPART);
        CHECK(hand_one(h, "", 0, "text/plain", &e) == CAS_E_MULTIPART && !strcmp(e.what, me.what) && e.offset == me.offset);
        b.n = 0;
        tb_str(&b, "--" BOUNDARY "\r\nContent-Range\r\n\r\n");
        {
            size_t used, at = 0;
            cas_multipart_event ev;
            CHECK(cas_multipart_init(&m, ct, strlen(ct), 2, &me) == CAS_OK);
            while (at < b.n && (rc = cas_multipart_push(&m, b.p + at, b.n - at, &used, &ev)) >= 0) at += used;
            CHECK(rc == CAS_E_MULTIPART && strstr(m.error.what, "a header line has no ':'"));
        }
        CHECK_MSG(hand_one(h, b.p, b.n, ct, &e) == CAS_E_MULTIPART && !strcmp(e.what, m.error.what) &&
                  e.offset == m.error.offset, "header line: %s", e.what);
        CHECK(hand_one(h, "", 0, ct, &e) == CAS_E_TRUNCATED && strstr(e.what, "the body ends before the first delimiter"));
        /* parts that are not the ranges asked for */
        b.n = 0;
        hand_part(h, &b, g[0].byte_start + 1, g[0].byte_end); /* begins inside a range */
        CHECK_MSG(hand_one(h, b.p, b.n, ct, &e) == CAS_E_MULTIPART && e.offset == g[0].byte_start + 1 &&
                  strstr(e.what, "a multipart part is not a requested range (or came twice)"), "inside: %s", e.what);
        b.n = 0;
        hand_part(h, &b, g[0].byte_start, g[0].byte_end);
        hand_part(h, &b, g[0].byte_start, g[0].byte_end); /* twice */
        CHECK_MSG(hand_one(h, b.p, b.n, ct, &e) == CAS_E_MULTIPART && e.offset == g[0].byte_start &&
                  strstr(e.what, "a multipart part is not a requested range (or came twice)"), "twice: %s", e.what);
        for (i = 0; i < 4; i++) { /* past the last range; past a range into the gap; short of its
                                     end; both ranges and the gap (its bytes would go to range 1) */
            uint64_t first = i == 0 ? g[1].byte_start : g[0].byte_start;
            uint64_t last = i == 0 ? g[1].byte_end + 1 : i == 1 ? g[0].byte_end + 1 : i == 2 ? g[0].byte_end - 1 : g[1].byte_end;
            b.n = 0;
            hand_part(h, &b, first, last);
            CHECK_MSG(hand_one(h, b.p, b.n, ct, &e) == CAS_E_MULTIPART && e.offset == first &&
                      strstr(e.what, "a multipart part does not end where a requested range ends"), "end %d: %s", i, e.what);
        }
        tb_free(&b);
    }
    store_free(&h->s);
}

/* cas_recon_from_shards refuses what it cannot describe: bad arguments, a xorb in none of
   the shards, a term whose unpacked_bytes are more than its xorb's chunks hold. */
static void test_recon_from_shards_refusals(t_fixture *fx) {
    const cas_shard_file *f = cas_shard_find_file(&fx->s.shard, &fx->hash[2]);
    const cas_shard_xorb *x = f ? cas_shard_find_xorb(&fx->s.shard, &f->terms[0].xorb_hash) : NULL;
    cas_shard_file f2;
    cas_shard_term t2;
    cas_shard only_file, lying, two[2];
    cas_recon r;
    cas_error e;
    cas_sink sink;
    uint8_t buf[4096];
    int i;
    CHECK(f && x && f->num_terms == 1 && f->size == 1000);
    if (!f || !x) return;
    for (i = 0; i < 7; i++) {
        const cas_hash *fh = i == 1 ? NULL : &fx->hash[2];
        const char *url = i == 2 ? NULL : "http://x/";
        cas_record_ends_fn ends = i == 3 ? NULL : record_ends;
        const cas_shard *shards = i == 4 ? NULL : &fx->s.shard;
        uint64_t first = i == 5 ? 10 : 0, last = i == 5 ? 9 : (uint64_t)-1;
        int rc = cas_recon_from_shards(NULL, shards, 1, fh, first, last, url, ends, &fx->s, i == 0 ? NULL : &r, &e);
        if (i == 6) { /* the same call, all arguments right */
            CHECK(rc == CAS_OK);
            if (rc == CAS_OK) cas_recon_free(&r);
        } else {
            CHECK_MSG(rc == CAS_E_ARGUMENT && e.code == CAS_E_ARGUMENT && !strcmp(e.what, "cas_recon_from_shards arguments"),
                      "argument case %d: %s", i, e.what);
        }
    }
    /* file 2 (one term, one chunk) in a shard of its own, without its xorb */
    memset(&sink, 0, sizeof sink);
    sink.buf = buf, sink.cap = sizeof buf;
    CHECK(cas_shard_write(NULL, f, 1, NULL, 0, NULL, &sink, NULL, &e) == CAS_OK);
    CHECK(cas_shard_parse(NULL, buf, sink.len, &only_file, &e) == CAS_OK);
    CHECK(cas_recon_from_shards(NULL, &only_file, 1, &fx->hash[2], 0, (uint64_t)-1, "http://x/", record_ends,
                                &fx->s, &r, &e) == CAS_E_SHARD_NO_CHUNKS &&
          !strcmp(e.what, "a xorb of the file (or its chunk range) is in none of the shards"));
    two[0] = only_file, two[1] = fx->s.shard; /* found in the next shard */
    CHECK(cas_recon_from_shards(NULL, two, 2, &fx->hash[2], 0, (uint64_t)-1, "http://x/", record_ends, &fx->s, &r, &e) == CAS_OK &&
          r.num_terms == 1);
    if (e.code == CAS_OK) cas_recon_free(&r);
    cas_shard_free(&only_file);
    /* its term claiming 1000 bytes more than its chunk: a range in those bytes has no chunk */
    f2 = *f, t2 = f->terms[0];
    t2.unpacked_bytes += 1000;
    f2.terms = &t2;
    sink.len = 0;
    CHECK(cas_shard_write(NULL, &f2, 1, x, 1, NULL, &sink, NULL, &e) == CAS_OK);
    CHECK(cas_shard_parse(NULL, buf, sink.len, &lying, &e) == CAS_OK && lying.files[0].size == 2000);
    CHECK(cas_recon_from_shards(NULL, &lying, 1, &fx->hash[2], 1500, 1600, "http://x/", record_ends, &fx->s, &r, &e) ==
              CAS_E_SHARD_ENTRY && !strcmp(e.what, "a term's unpacked_bytes do not match its xorb's chunks"));
    cas_shard_free(&lying);
}

/* 1 if lit occurs in p[0..n) (the manifest text has no NUL after it) */
static int has_text(const char *p, size_t n, const char *lit) {
    size_t k = strlen(lit), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(p + i, lit, k) == 0) return 1;
    return 0;
}
/* The manifest builder behind cas_recon_from_shards in its v1 form ("fetch_info": one entry
   per merged range) describes the same terms and fetches as its v2 form: parsed with
   cas_recon_parse(..., 1) and (..., 2), every term's covering range is the same chunks and
   bytes, and the same range is refused (416) in both. */
static void test_recon_v1(t_fixture *fx) {
    static const uint64_t cuts[][2] = {{0, (uint64_t)-1}, {0, 0}, {1, 1}, {5000, 70000},
                                       {399999, 400000}, {123456, (uint64_t)-1}, {999, 999}};
    size_t f, k, t;
    for (f = 0; f < fx->nfiles; f++) {
        for (k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            char *j1, *j2;
            size_t l1, l2, c1, c2;
            cas_recon r1, r2;
            cas_error e1, e2;
            int rc1 = cas__recon_shards_json(NULL, &fx->s.shard, 1, &fx->hash[f], cuts[k][0], cuts[k][1],
                                             "http://x/", record_ends, &fx->s, 1, &j1, &l1, &c1, &e1);
            int rc2 = cas__recon_shards_json(NULL, &fx->s.shard, 1, &fx->hash[f], cuts[k][0], cuts[k][1],
                                             "http://x/", record_ends, &fx->s, 2, &j2, &l2, &c2, &e2);
            CHECK_MSG(rc1 == rc2 && e1.offset == e2.offset, "file %u cut %u: %d %d", (unsigned)f, (unsigned)k, rc1, rc2);
            if (rc1 != CAS_OK || rc2 != CAS_OK) {
                CHECK(rc1 == CAS_E_LIMIT && cuts[k][0] >= fx->len[f] && j1 == NULL && j2 == NULL);
                continue;
            }
            CHECK(has_text(j1, l1, "\"fetch_info\":{") && !has_text(j1, l1, "\"xorbs\"") &&
                  has_text(j2, l2, "\"xorbs\":{") && !has_text(j2, l2, "\"fetch_info\""));
            CHECK(cas_recon_parse(NULL, j1, l1, 1, NULL, &r1, &e1) == CAS_OK);
            CHECK_MSG(cas_recon_parse(NULL, j2, l2, 2, NULL, &r2, &e2) == CAS_OK, "%s", e2.what);
            free(j1), free(j2);
            if (e1.code != CAS_OK || e2.code != CAS_OK) continue;
            CHECK(r1.version == 1 && r2.version == 2);
            CHECK(r1.offset_into_first_range == r2.offset_into_first_range && r1.num_terms == r2.num_terms);
            CHECK(r1.num_xorbs == r2.num_xorbs);
            for (t = 0; t < r1.num_terms && t < r2.num_terms; t++) {
                const cas_recon_term *a = &r1.terms[t], *b = &r2.terms[t];
                const cas_recon_fetch *fa = &r1.xorbs[a->xorb].fetches[a->fetch];
                const cas_recon_range *ra = &fa->ranges[a->range];
                const cas_recon_range *rb = &r2.xorbs[b->xorb].fetches[b->fetch].ranges[b->range];
                CHECK(cas_hash_equal(&a->hash, &b->hash) && a->chunk_start == b->chunk_start &&
                      a->chunk_end == b->chunk_end && a->unpacked_length == b->unpacked_length);
                CHECK(fa->num_ranges == 1 && strncmp(fa->url, "http://x/", 9) == 0);
                CHECK(ra->chunk_start == rb->chunk_start && ra->chunk_end == rb->chunk_end &&
                      ra->byte_start == rb->byte_start && ra->byte_end == rb->byte_end);
            }
            cas_recon_free(&r1);
            cas_recon_free(&r2);
        }
    }
}

/* A fixed arena of cas_download_memory() bytes always suffices; a smaller one fails with
   CAS_E_NOMEM and nothing else. */
static void test_arena(t_fixture *fx) {
    size_t f;
    for (f = 0; f < 3; f++) {
        cas_recon r;
        int mode;
        CHECK(manifest(fx, f, 0, (uint64_t)-1, &r) == CAS_OK);
        for (mode = 0; mode < 8; mode++) {
            t_run o;
            t_result res;
            cas_download_desc desc;
            cas_arena arena;
            cas_allocator al;
            uint64_t bound;
            uint8_t *mem, *out = (uint8_t *)t_xmalloc(fx->len[f] + 1);
            char name[64];
            memset(&o, 0, sizeof o);
            o.flags = (mode & 1) ? CAS_DOWNLOAD_PER_RANGE : 0;
            o.sequential = (mode & 2) != 0;
            o.jobs = (mode & 4) ? 3 : 1;
            o.window = 100000;
            o.piece = 30000;
            o.cancel_after = -1;
            o.file_hash = &fx->hash[f];
            memset(&desc, 0, sizeof desc);
            desc.flags = o.flags;
            if (o.sequential) desc.write = write_seq; else desc.write_at = write_at;
            desc.window = o.window;
            bound = cas_download_memory(&r, &desc, o.jobs);
            mem = (uint8_t *)t_xmalloc((size_t)bound + 16);
            cas_arena_init(&arena, mem, (size_t)bound + 16);
            al = cas_arena_allocator(&arena);
            o.alloc = &al;
            res = run(&fx->s, &r, &o, out, fx->len[f]);
            snprintf(name, sizeof name, "file %zu mode %d rc %d bound %llu peak %zu", f, mode, res.rc,
                     (unsigned long long)bound, arena.peak);
            CHECKM(res.rc == CAS_OK && memcmp(out, fx->data[f], fx->len[f]) == 0, name);
            CHECKM(arena.peak <= bound && arena.used == 0, name);
            if (f == 0 && mode == 0) printf("arena: file of %zu bytes, bound %llu, peak %zu\n", fx->len[f], (unsigned long long)bound, arena.peak);
            /* too small (half of what the run took): a clean CAS_E_NOMEM */
            cas_arena_init(&arena, mem, arena.peak / 2);
            res = run(&fx->s, &r, &o, out, fx->len[f]);
            CHECKM(res.rc == CAS_E_NOMEM && arena.used == 0, name);
            free(mem);
            free(out);
        }
        cas_recon_free(&r);
    }
}

int main(void) {
    t_fixture fx;
    fixture(&fx);
    test_whole_files(&fx);
    test_shared_range(&fx);
    test_small_window(&fx);
    test_ranges(&fx);
    test_lying_manifests(&fx);
    test_chunk_check(&fx);
    test_faults(&fx);
    test_api_misuse(&fx);
    test_callback_cancel(&fx);
    test_abort_delivered(&fx);
    test_hand_manifests();
    test_recon_from_shards_refusals(&fx);
    test_recon_v1(&fx);
    test_alloc_failures(&fx);
    test_arena(&fx);
    fixture_free(&fx);
    printf("test_download: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
