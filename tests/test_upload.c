/* Tests of the upload session engine (cas_upload_*). Standalone:
     cc -std=c99 -Wall -Wextra -Werror -I. test_upload.c -o test_upload && ./test_upload [VECTORS]
   VECTORS: the directory of chunking.txt (default tests/vectors, or $CAS_VECTORS).
   Prints "test_upload: N passed, M failed". */
#define CAS_IMPLEMENTATION
#include "testlib.h"

/* ---- inputs (testlib.h's splitmix64 and generators, seeded by a plain uint64_t) ---- */
static uint64_t rng_next(uint64_t *seed) {
    t_rng r;
    uint64_t v;
    r.state = *seed;
    v = t_next(&r);
    *seed = r.state;
    return v;
}
static void fill_random(uint64_t seed, uint8_t *p, size_t n) {
    t_rng r;
    r.state = seed;
    t_fill_random(&r, p, n);
}

/* ---- a host: runs a session over files, keeps every event ---- */
typedef struct {
    const uint8_t *data;
    size_t len;
} input;

typedef struct {
    uint8_t *data;
    size_t len;
    cas_hash hash;
    int type;
    uint64_t query_id;
} event_copy;

/* Answers a query: returns the body (NULL = 404). */
typedef const uint8_t *(*answer_fn)(void *user, const cas_hash *chunk, size_t *len);

typedef struct {
    cas_upload_desc desc;
    const cas_shard **shards;
    size_t nshards;
    answer_fn answer;
    void *answer_user;
    uint64_t piece_seed; /* 0: push whole files */
    const cas_allocator *alloc;
    /* results */
    event_copy *ev;
    size_t nev;
    cas_upload_file_result *files;
    cas_upload_stats stats;
    int rc; /* the first error */
} session;

static void keep_event(session *s, const cas_upload_event *e) {
    event_copy *c;
    s->ev = (event_copy *)realloc(s->ev, (s->nev + 1) * sizeof *s->ev);
    if (!s->ev) exit(2);
    c = &s->ev[s->nev++];
    c->type = e->type;
    c->hash = e->hash;
    c->query_id = e->query_id;
    c->len = e->len;
    c->data = NULL;
    if (e->len) {
        c->data = (uint8_t *)t_xmalloc(e->len);
        memcpy(c->data, e->data, e->len);
    }
}

static int drain(session *s, cas_upload *u) {
    cas_upload_event e;
    int rc;
    while ((rc = cas_upload_next(u, &e)) == CAS_READY) {
        keep_event(s, &e);
        if (e.type == CAS_UPLOAD_EVENT_QUERY && s->answer) {
            size_t len = 0;
            const uint8_t *body = s->answer(s->answer_user, &e.hash, &len);
            cas_error err;
            int a = cas_upload_answer(u, e.query_id, body, len, &err);
            if (a != CAS_OK) return a;
        }
    }
    return rc;
}

static void session_free(session *s) {
    size_t i;
    for (i = 0; i < s->nev; i++) free(s->ev[i].data);
    free(s->ev);
    free(s->files);
    s->ev = NULL;
    s->files = NULL;
    s->nev = 0;
}

static int run_session(session *s, const input *in, size_t n) {
    cas_upload *u = NULL;
    cas_error err;
    size_t i;
    int rc;
    uint64_t seed = s->piece_seed;
    s->ev = NULL;
    s->nev = 0;
    s->files = (cas_upload_file_result *)t_xmalloc((n ? n : 1) * sizeof *s->files);
    rc = cas_upload_create(s->alloc, &s->desc, &u, &err);
    if (rc != CAS_OK) return s->rc = rc;
    for (i = 0; i < s->nshards && rc == CAS_OK; i++) rc = cas_upload_add_shard(u, s->shards[i]);
    for (i = 0; i < n && rc == CAS_OK; i++) {
        size_t off = 0;
        rc = cas_upload_file_begin(u);
        while (rc == CAS_OK && off < in[i].len) {
            size_t piece = in[i].len - off, used = 0;
            if (seed) {
                uint64_t r = rng_next(&seed);
                piece = (size_t)(r % 4 == 0 ? r % 7 + 1 : r % 300000 + 1);
                if (piece > in[i].len - off) piece = in[i].len - off;
            }
            rc = cas_upload_push(u, in[i].data + off, piece, &used);
            off += used;
            if (rc == CAS_READY) rc = drain(s, u);
            if (rc == CAS_NEED_INPUT) rc = CAS_OK;
        }
        while (rc == CAS_OK) {
            rc = cas_upload_file_end(u, &s->files[i]);
            if (rc == CAS_OK) break;
            if (rc == CAS_READY) rc = drain(s, u);
            if (rc == CAS_NEED_INPUT) rc = CAS_OK;
        }
    }
    if (rc == CAS_OK) rc = cas_upload_finish(u);
    if (rc == CAS_OK) rc = drain(s, u);
    if (rc == CAS_END) rc = CAS_OK;
    cas_upload_get_stats(u, &s->stats);
    if (rc != CAS_OK && rc != CAS_E_NOMEM && cas_upload_error(u)->code)
        fprintf(stderr, "  session error %s (%s) at %llu\n", cas_result_name(rc),
                cas_upload_error(u)->what, (unsigned long long)cas_upload_error(u)->offset);
    cas_upload_free(u);
    return s->rc = rc;
}

static size_t count_events(const session *s, int type) {
    size_t i, n = 0;
    for (i = 0; i < s->nev; i++) n += s->ev[i].type == type;
    return n;
}

/* ---- read back: parse the shards, decode the xorbs, rebuild every file ---- */
typedef struct {
    cas_hash hash;
    uint8_t *data; /* decoded chunks, concatenated */
    uint32_t n;
    uint64_t *starts; /* n + 1 offsets */
    size_t cap;
} decoded_xorb;

typedef struct {
    decoded_xorb *x;
    size_t n;
} xorb_set;

typedef struct {
    decoded_xorb *cur;
    size_t cap;
} walk_ctx;

static int on_chunk(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                    const uint8_t *data, const cas_hash *hash) {
    walk_ctx *w = (walk_ctx *)user;
    decoded_xorb *d = w->cur;
    (void)offset;
    (void)hash;
    if (d->starts[index] + h->uncompressed_size > d->cap) {
        d->cap = d->cap * 2 + h->uncompressed_size;
        d->data = (uint8_t *)realloc(d->data, d->cap);
    }
    d->starts = (uint64_t *)realloc(d->starts, (index + 2) * sizeof *d->starts);
    if (!d->data || !d->starts) exit(2);
    memcpy(d->data + d->starts[index], data, h->uncompressed_size);
    d->starts[index + 1] = d->starts[index] + h->uncompressed_size;
    d->n = index + 1;
    return 0;
}

static void xorbs_add(xorb_set *set, const event_copy *e) {
    decoded_xorb *d;
    walk_ctx w;
    cas_xorb_info info;
    cas_error err;
    uint8_t *scratch = (uint8_t *)t_xmalloc(2 * CAS_CHUNK_MAX_SIZE);
    int rc;
    set->x = (decoded_xorb *)realloc(set->x, (set->n + 1) * sizeof *set->x);
    if (!set->x) exit(2);
    d = &set->x[set->n++];
    memset(d, 0, sizeof *d);
    d->hash = e->hash;
    d->starts = (uint64_t *)t_xmalloc(sizeof *d->starts);
    d->starts[0] = 0;
    w.cur = d;
    rc = cas_xorb_walk(e->data, e->len, scratch, on_chunk, &w, &info, &err);
    CHECK_MSG(rc == CAS_OK, "xorb walk: %s", cas_result_name(rc));
    CHECK_MSG(cas_hash_equal(&info.xorb_hash, &e->hash), "xorb event hash = walked hash");
    CHECK_MSG(!info.has_footer, "xorb uploaded without footer");
    CHECK_MSG(info.records_size == e->len, "xorb bytes are whole records");
    free(scratch);
}

static void xorbs_free(xorb_set *set) {
    size_t i;
    for (i = 0; i < set->n; i++) {
        free(set->x[i].data);
        free(set->x[i].starts);
    }
    free(set->x);
    set->x = NULL;
    set->n = 0;
}

static const decoded_xorb *xorbs_find(const xorb_set *set, const cas_hash *h) {
    size_t i;
    for (i = 0; i < set->n; i++)
        if (cas_hash_equal(&set->x[i].hash, h)) return &set->x[i];
    return NULL;
}

/* Rebuilds file `fh` from the shards of `s` with xorbs from `set`; compares with `want`. */
static int rebuild(const cas_shard *shards, size_t nshards, const xorb_set *set, const cas_hash *fh,
                   const uint8_t *want, size_t want_len) {
    size_t i, j, pos = 0;
    for (i = 0; i < nshards; i++) {
        const cas_shard_file *f = cas_shard_find_file(&shards[i], fh);
        if (!f) continue;
        for (j = 0; j < f->num_terms; j++) {
            const cas_shard_term *t = &f->terms[j];
            const decoded_xorb *x = xorbs_find(set, &t->xorb_hash);
            uint64_t a, b;
            if (!x || t->chunk_end > x->n) return 0;
            a = x->starts[t->chunk_start];
            b = x->starts[t->chunk_end];
            if (b - a != t->unpacked_bytes || pos + (b - a) > want_len) return 0;
            if (memcmp(want + pos, x->data + a, (size_t)(b - a))) return 0;
            pos += (size_t)(b - a);
        }
        return pos == want_len;
    }
    return 0;
}

/* Parses every SHARD event of s into out[] (returns the count). */
static size_t parse_shards(const session *s, cas_shard *out, size_t cap) {
    size_t i, n = 0;
    for (i = 0; i < s->nev && n < cap; i++) {
        cas_error err;
        int rc;
        if (s->ev[i].type != CAS_UPLOAD_EVENT_SHARD) continue;
        rc = cas_shard_parse(NULL, s->ev[i].data, s->ev[i].len, &out[n], &err);
        CHECK_MSG(rc == CAS_OK, "shard parse: %s (%s at %llu)", cas_result_name(rc), err.what,
              (unsigned long long)err.offset);
        if (rc == CAS_OK) n++;
    }
    return n;
}

static void free_shards(cas_shard *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) cas_shard_free(&s[i]);
}

/* Every file of the session rebuilt from its shards and xorbs (extra: xorbs of earlier
   sessions); order: every xorb event before the first shard event. */
static void check_readback(const char *name, const session *s, const input *in, size_t n,
                           const xorb_set *extra) {
    cas_shard shards[64];
    size_t ns = parse_shards(s, shards, 64), i, first_shard = s->nev, last_xorb = 0, nx = 0;
    xorb_set set = {NULL, 0};
    for (i = 0; i < s->nev; i++) {
        if (s->ev[i].type == CAS_UPLOAD_EVENT_XORB) {
            xorbs_add(&set, &s->ev[i]);
            last_xorb = i;
            nx++;
        }
        if (s->ev[i].type == CAS_UPLOAD_EVENT_SHARD && first_shard == s->nev) first_shard = i;
    }
    if (extra)
        for (i = 0; i < extra->n; i++) {
            set.x = (decoded_xorb *)realloc(set.x, (set.n + 1) * sizeof *set.x);
            set.x[set.n] = extra->x[i];
            set.x[set.n].data = (uint8_t *)t_xmalloc(extra->x[i].starts[extra->x[i].n]);
            memcpy(set.x[set.n].data, extra->x[i].data, extra->x[i].starts[extra->x[i].n]);
            set.x[set.n].starts = (uint64_t *)t_xmalloc((extra->x[i].n + 1) * sizeof(uint64_t));
            memcpy(set.x[set.n].starts, extra->x[i].starts, (extra->x[i].n + 1) * sizeof(uint64_t));
            set.n++;
        }
    CHECK_MSG(nx == 0 || last_xorb < first_shard, "%s: every xorb before the first shard", name);
    for (i = 0; i < n; i++)
        CHECK_MSG(rebuild(shards, ns, &set, &s->files[i].file_hash, in[i].data, in[i].len),
              "%s: file %zu rebuilt byte for byte", name, i);
    /* verification hashes: against the chunks each term cites */
    for (i = 0; i < ns; i++) {
        size_t j, k;
        CHECK_MSG(shards[i].size <= (s->desc.max_shard_size ? s->desc.max_shard_size : CAS_SHARD_MAX_SIZE),
              "%s: shard size %llu under the limit", name, (unsigned long long)shards[i].size);
        for (j = 0; j < shards[i].num_files; j++) {
            const cas_shard_file *f = &shards[i].files[j];
            CHECK_MSG((f->flags & CAS_SHARD_FILE_VERIFICATION) && f->has_sha256 ==
                  !(s->desc.flags & (CAS_UPLOAD_NO_SHA256 | CAS_UPLOAD_HOST_SHA256)),
                  "%s: verification + sha256 flags", name);
            for (k = 0; k < f->num_terms; k++) {
                const cas_shard_term *t = &f->terms[k];
                const decoded_xorb *x = xorbs_find(&set, &t->xorb_hash);
                cas_hash hs[512], v;
                uint32_t c;
                if (!x || t->chunk_end - t->chunk_start > 512) continue;
                for (c = t->chunk_start; c < t->chunk_end; c++)
                    cas_chunk_hash(x->data + x->starts[c], (size_t)(x->starts[c + 1] - x->starts[c]),
                                   &hs[c - t->chunk_start]);
                cas_verification_hash(hs, t->chunk_end - t->chunk_start, &v);
                CHECK_MSG(cas_hash_equal(&v, &t->verification), "%s: verification hash of a term", name);
            }
        }
    }
    free_shards(shards, ns);
    xorbs_free(&set);
}

/* Collects the xorbs of a session (for later sessions' read-back). */
static void collect_xorbs(const session *s, xorb_set *set) {
    size_t i;
    for (i = 0; i < s->nev; i++)
        if (s->ev[i].type == CAS_UPLOAD_EVENT_XORB) xorbs_add(set, &s->ev[i]);
}

/* ---- tests ---- */

static void test_vectors(const char *dir) {
    char path[1024], line[512], kind[32];
    FILE *f;
    unsigned long long seed, size;
    int cases = 0;
    snprintf(path, sizeof path, "%s/chunking.txt", dir);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        g_fail++;
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char hex[80];
        if (sscanf(line, "case %31s %llu %llu", kind, &seed, &size) == 3) {
            uint8_t *buf = (uint8_t *)t_xmalloc((size_t)size);
            session s;
            input in;
            uint8_t sha[32];
            t_generate(kind, seed, buf, (size_t)size);
            while (fgets(line, sizeof line, f) && sscanf(line, "file %79s", hex) != 1) {}
            memset(&s, 0, sizeof s);
            s.desc.lookahead = (cases & 1) ? CAS_CHUNK_MAX_SIZE : 0; /* small: compaction */
            s.desc.max_xorb_size = (cases & 2) ? (1u << 20) : 0;
            s.piece_seed = (uint64_t)cases + 1;
            in.data = buf;
            in.len = (size_t)size;
            CHECK_MSG(run_session(&s, &in, 1) == CAS_OK, "vector %s %llu %llu", kind, seed, size);
            if (s.rc == CAS_OK) {
                cas_hash want = {{0}};
                cas_hash_from_hex(hex, strlen(hex), &want);
                CHECK_MSG(cas_hash_equal(&s.files[0].file_hash, &want), "file hash of %s %llu %llu", kind, seed, size);
                cas_sha256_hash(buf, (size_t)size, sha);
                CHECK_MSG(s.files[0].has_sha256 && !memcmp(sha, s.files[0].sha256, 32), "sha256 %s %llu", kind, size);
                CHECK_MSG(s.files[0].size == size, "size");
                check_readback("vector", &s, &in, 1, NULL);
            }
            session_free(&s);
            free(buf);
            cases++;
        }
    }
    fclose(f);
    CHECK_MSG(cases >= 20, "vector cases read: %d", cases);
}

static void test_empty(void) {
    session s;
    input in[2];
    uint8_t sha[32];
    cas_shard sh[2];
    size_t ns;
    memset(&s, 0, sizeof s);
    in[0].data = (const uint8_t *)"";
    in[0].len = 0;
    in[1] = in[0];
    CHECK_MSG(run_session(&s, in, 2) == CAS_OK, "empty files");
    cas_sha256_hash("", 0, sha);
    CHECK_MSG(s.files[0].num_terms == 0 && !memcmp(sha, s.files[0].sha256, 32), "empty: no term, sha of nothing");
    {
        cas_hash z = {{0}};
        CHECK_MSG(cas_hash_equal(&z, &s.files[0].file_hash), "empty: file hash zeros");
    }
    CHECK_MSG(count_events(&s, CAS_UPLOAD_EVENT_XORB) == 0 && count_events(&s, CAS_UPLOAD_EVENT_SHARD) == 1,
          "empty: no xorb, one shard");
    ns = parse_shards(&s, sh, 2);
    CHECK_MSG(ns == 1 && sh[0].num_files == 2 && sh[0].files[0].flags == 0xC0000000u, "empty: file entries as HF's");
    free_shards(sh, ns);
    session_free(&s);
}

static void test_dedup(void) {
    size_t n = 5u << 20, i;
    uint8_t *a = (uint8_t *)t_xmalloc(n), *b = (uint8_t *)t_xmalloc(n + 100);
    session s1, s2, s3;
    input in[2];
    cas_shard sh[4];
    const cas_shard *shp[4];
    size_t ns;
    xorb_set old = {NULL, 0};
    fill_random(7, a, n);

    /* (a) the same file twice in one session */
    memset(&s1, 0, sizeof s1);
    s1.piece_seed = 99;
    in[0].data = a;
    in[0].len = n;
    in[1] = in[0];
    CHECK_MSG(run_session(&s1, in, 2) == CAS_OK, "dedup in session");
    CHECK_MSG(s1.files[1].new_chunks == 0 && s1.files[1].dedup_chunks == s1.files[0].num_chunks,
          "second copy fully deduplicated: %llu new", (unsigned long long)s1.files[1].new_chunks);
    CHECK_MSG(cas_hash_equal(&s1.files[0].file_hash, &s1.files[1].file_hash), "same file hash");
    CHECK_MSG(count_events(&s1, CAS_UPLOAD_EVENT_XORB) == 1, "one xorb for both");
    check_readback("in-session", &s1, in, 2, NULL);
    collect_xorbs(&s1, &old);

    /* (b) again in a new session with the first session's shard */
    ns = parse_shards(&s1, sh, 4);
    for (i = 0; i < ns; i++) shp[i] = &sh[i];
    memset(&s2, 0, sizeof s2);
    s2.shards = shp;
    s2.nshards = ns;
    CHECK_MSG(run_session(&s2, in, 1) == CAS_OK, "dedup vs shard");
    CHECK_MSG(count_events(&s2, CAS_UPLOAD_EVENT_XORB) == 0, "no new xorb against the old shard");
    CHECK_MSG(s2.files[0].num_terms == 1, "one term: %u", s2.files[0].num_terms);
    check_readback("vs-shard", &s2, in, 1, &old);

    /* (c) a copy with a small insertion in the middle */
    memcpy(b, a, n / 2);
    fill_random(8, b + n / 2, 100);
    memcpy(b + n / 2 + 100, a + n / 2, n - n / 2);
    memset(&s3, 0, sizeof s3);
    s3.shards = shp;
    s3.nshards = ns;
    s3.piece_seed = 5;
    in[0].data = b;
    in[0].len = n + 100;
    CHECK_MSG(run_session(&s3, in, 1) == CAS_OK, "insertion");
    CHECK_MSG(s3.files[0].new_chunks >= 1 && s3.files[0].new_chunks <= 3,
          "insertion stores only the chunks around it: %llu", (unsigned long long)s3.files[0].new_chunks);
    CHECK_MSG(s3.files[0].num_terms <= 3, "insertion: 3 terms, got %u", s3.files[0].num_terms);
    check_readback("insertion", &s3, in, 1, &old);
    printf("  insertion: %llu of %llu chunks stored, %u terms\n", (unsigned long long)s3.files[0].new_chunks,
           (unsigned long long)s3.files[0].num_chunks, s3.files[0].num_terms);

    free_shards(sh, ns);
    xorbs_free(&old);
    session_free(&s1);
    session_free(&s2);
    session_free(&s3);
    free(a);
    free(b);
}

/* A pool of whole chunks: chunk boundaries depend only on a chunk's own bytes (the hash
   restarts at each cut), so any sequence of pool chunks chunks back into the same chunks. */
typedef struct {
    uint8_t *data;
    size_t n, *off, *len;
} pool;

static void pool_make(pool *p, uint64_t seed, size_t bytes) {
    cas_chunker c;
    size_t pos = 0, start = 0;
    p->data = (uint8_t *)t_xmalloc(bytes);
    fill_random(seed, p->data, bytes);
    p->off = (size_t *)t_xmalloc(bytes / CAS_CHUNK_MIN_SIZE * sizeof(size_t));
    p->len = (size_t *)t_xmalloc(bytes / CAS_CHUNK_MIN_SIZE * sizeof(size_t));
    p->n = 0;
    cas_chunker_init(&c);
    while (pos < bytes) {
        uint64_t cut = 0;
        pos += cas_chunker_scan(&c, p->data + pos, bytes - pos, &cut);
        if (cut) {
            p->off[p->n] = start;
            p->len[p->n++] = (size_t)cut;
            start += (size_t)cut;
        }
    }
}
static void pool_free(pool *p) {
    free(p->data);
    free(p->off);
    free(p->len);
}
static size_t pool_append(const pool *p, size_t i, uint8_t *out, size_t at) {
    memcpy(out + at, p->data + p->off[i], p->len[i]);
    return at + p->len[i];
}

static void test_fragmentation(void) {
    pool old, fresh;
    uint8_t *oldfile, *mixed;
    size_t ol = 0, ml = 0, i, groups;
    session s0, naive, defrag;
    input in;
    cas_shard sh[4];
    const cas_shard *shp[4];
    size_t ns;
    double avg_naive, avg_defrag;
    pool_make(&old, 21, 40u << 20);
    pool_make(&fresh, 22, 120u << 20);
    groups = old.n < fresh.n / 3 ? old.n : fresh.n / 3;
    oldfile = (uint8_t *)t_xmalloc(40u << 20);
    mixed = (uint8_t *)t_xmalloc(160u << 20);
    for (i = 0; i < old.n; i++) ol = pool_append(&old, i, oldfile, ol);
    /* one old chunk, three new ones, repeated: naive dedup makes terms of 1 and 3 chunks */
    for (i = 0; i < groups; i++) {
        ml = pool_append(&old, i, mixed, ml);
        ml = pool_append(&fresh, 3 * i, mixed, ml);
        ml = pool_append(&fresh, 3 * i + 1, mixed, ml);
        ml = pool_append(&fresh, 3 * i + 2, mixed, ml);
    }
    memset(&s0, 0, sizeof s0);
    in.data = oldfile;
    in.len = ol;
    CHECK_MSG(run_session(&s0, &in, 1) == CAS_OK, "old data");
    ns = parse_shards(&s0, sh, 4);
    for (i = 0; i < ns; i++) shp[i] = &sh[i];

    memset(&naive, 0, sizeof naive);
    naive.shards = shp;
    naive.nshards = ns;
    naive.desc.flags = CAS_UPLOAD_NO_DEFRAG | CAS_UPLOAD_NO_SHA256;
    in.data = mixed;
    in.len = ml;
    CHECK_MSG(run_session(&naive, &in, 1) == CAS_OK, "naive");
    memset(&defrag, 0, sizeof defrag);
    defrag.shards = shp;
    defrag.nshards = ns;
    defrag.desc.flags = CAS_UPLOAD_NO_SHA256;
    CHECK_MSG(run_session(&defrag, &in, 1) == CAS_OK, "defrag");
    avg_naive = (double)naive.stats.chunks / (double)naive.stats.terms;
    avg_defrag = (double)defrag.stats.chunks / (double)defrag.stats.terms;
    printf("  fragmentation: %zu groups of 1 old + 3 new chunks: naive %.2f chunks/term (%llu terms, "
           "%llu deduped), xet-core rule %.2f chunks/term (%llu terms, %llu deduped, %llu skipped)\n",
           groups, avg_naive, (unsigned long long)naive.stats.terms,
           (unsigned long long)naive.stats.dedup_chunks, avg_defrag,
           (unsigned long long)defrag.stats.terms, (unsigned long long)defrag.stats.dedup_chunks,
           (unsigned long long)defrag.stats.defrag_chunks);
    CHECK_MSG(avg_naive < 2.5, "naive makes tiny terms: %.2f", avg_naive);
    CHECK_MSG(avg_defrag >= 4.0, "fragmentation prevention keeps >= 4 chunks/term: %.2f", avg_defrag);
    CHECK_MSG(defrag.stats.defrag_chunks > 0 && defrag.stats.dedup_chunks > 0, "some dedup kept, some skipped");
    CHECK_MSG(cas_hash_equal(&naive.files[0].file_hash, &defrag.files[0].file_hash), "same file hash");
    {
        xorb_set oldx = {NULL, 0};
        collect_xorbs(&s0, &oldx);
        check_readback("defrag", &defrag, &in, 1, &oldx);
        xorbs_free(&oldx);
    }
    free_shards(sh, ns);
    session_free(&s0);
    session_free(&naive);
    session_free(&defrag);
    free(oldfile);
    free(mixed);
    pool_free(&old);
    pool_free(&fresh);
}

/* Global dedup: the server knows the data; it answers with an HMAC-keyed shard. */
typedef struct {
    const uint8_t *body;
    size_t len;
    int asked, found;
    cas_hash known_first;
} server;

static const uint8_t *server_answer(void *user, const cas_hash *chunk, size_t *len) {
    server *sv = (server *)user;
    sv->asked++;
    if (!cas_hash_equal(chunk, &sv->known_first) && sv->found) return NULL;
    sv->found++;
    *len = sv->len;
    return sv->body;
}

static void test_global(void) {
    size_t n = 20u << 20, i;
    uint8_t *a = (uint8_t *)t_xmalloc(n), *other = (uint8_t *)t_xmalloc(1u << 20);
    session s1, s2;
    input in[2];
    cas_shard sh[4], keyed;
    size_t ns;
    cas_shard_write_desc opt;
    cas_sink sink;
    uint8_t *kb;
    uint64_t written = 0, ksize = 0;
    cas_error err;
    server sv;
    xorb_set old = {NULL, 0};
    fill_random(31, a, n);
    fill_random(32, other, 1u << 20);
    memset(&s1, 0, sizeof s1);
    s1.desc.max_xorb_size = 4u << 20; /* several xorbs */
    in[0].data = a;
    in[0].len = n;
    CHECK_MSG(run_session(&s1, in, 1) == CAS_OK, "global: first upload");
    ns = parse_shards(&s1, sh, 4);
    CHECK_MSG(ns == 1, "one shard");
    collect_xorbs(&s1, &old);
    /* the server's answer: the shard re-keyed, with a footer (as GET /v1/chunks returns) */
    memset(&opt, 0, sizeof opt);
    opt.flags = CAS_SHARD_WITH_FOOTER | CAS_SHARD_KEY_CHUNKS;
    for (i = 0; i < 32; i++) opt.hmac_key.bytes[i] = (uint8_t)(i * 7 + 1);
    opt.key_expiry = 4000000000u;
    cas_shard_write_size(sh[0].files, sh[0].num_files, sh[0].xorbs, sh[0].num_xorbs, opt.flags, &ksize);
    kb = (uint8_t *)t_xmalloc((size_t)ksize);
    memset(&sink, 0, sizeof sink);
    sink.buf = kb;
    sink.cap = (size_t)ksize;
    CHECK_MSG(cas_shard_write(NULL, sh[0].files, sh[0].num_files, sh[0].xorbs, sh[0].num_xorbs, &opt, &sink,
                          &written, &err) == CAS_OK, "keyed shard written");
    CHECK_MSG(cas_shard_parse(NULL, kb, (size_t)written, &keyed, &err) == CAS_OK && keyed.keyed, "keyed shard parses");
    cas_shard_free(&keyed);

    memset(&sv, 0, sizeof sv);
    sv.body = kb;
    sv.len = (size_t)written;
    sv.known_first = sh[0].xorbs[0].chunks[0].hash;
    memset(&s2, 0, sizeof s2);
    s2.desc.flags = CAS_UPLOAD_GLOBAL_DEDUP;
    s2.desc.now = 1700000000u;
    s2.answer = server_answer;
    s2.answer_user = &sv;
    s2.piece_seed = 3;
    in[1].data = other;
    in[1].len = 1u << 20;
    CHECK_MSG(run_session(&s2, in, 2) == CAS_OK, "global: second upload");
    printf("  global dedup: %llu queries (%d found) for %llu chunks; %llu of %llu chunks deduped by answers\n",
           (unsigned long long)s2.stats.queries, sv.found, (unsigned long long)s2.stats.chunks,
           (unsigned long long)s2.stats.global_dedup_chunks, (unsigned long long)s2.files[0].num_chunks);
    CHECK_MSG(s2.stats.queries >= 2 && sv.asked == (int)s2.stats.queries, "queries asked: first chunk of each file");
    CHECK_MSG(s2.stats.queries <= 2 + n / CAS_UPLOAD_QUERY_SPACING, "queries spaced >= 4 MiB");
    CHECK_MSG(s2.files[0].new_chunks == 0 && s2.stats.global_dedup_chunks == s2.files[0].num_chunks,
          "all of file 0 deduped through the keyed answer");
    CHECK_MSG(s2.files[1].new_chunks == s2.files[1].num_chunks, "file 1 (404) stored");
    CHECK_MSG(cas_hash_equal(&s2.files[0].file_hash, &s1.files[0].file_hash), "same file hash");
    check_readback("global", &s2, in, 2, &old);
    /* a query id never issued */
    {
        cas_upload *u;
        CHECK_MSG(cas_upload_create(NULL, NULL, &u, &err) == CAS_OK, "create");
        CHECK_MSG(cas_upload_answer(u, 5, NULL, 0, &err) == CAS_E_ARGUMENT, "unknown query id");
        CHECK_MSG(cas_upload_answer(u, 0, NULL, 0, &err) == CAS_E_ARGUMENT, "query id 0");
        cas_upload_free(u);
    }
    free(kb);
    free_shards(sh, ns);
    xorbs_free(&old);
    session_free(&s1);
    session_free(&s2);
    free(a);
    free(other);
}

/* Answers that come late: the engine holds at most 2 x lookahead, then decides alone. */
static void test_unanswered(void) {
    size_t n = 12u << 20;
    uint8_t *a = (uint8_t *)t_xmalloc(n);
    session s;
    input in;
    fill_random(41, a, n);
    memset(&s, 0, sizeof s);
    s.desc.flags = CAS_UPLOAD_GLOBAL_DEDUP;
    s.desc.query_spacing = 1; /* every eligible chunk */
    s.piece_seed = 11;
    in.data = a;
    in.len = n;
    CHECK_MSG(run_session(&s, &in, 1) == CAS_OK, "never answered");
    CHECK_MSG(s.stats.queries >= 1 && s.stats.answers == 0, "queries, no answers");
    check_readback("unanswered", &s, &in, 1, NULL);
    session_free(&s);
    free(a);
}

/* One small file pushed and ended; the events are kept. Returns the last result. */
static int small_file(cas_upload *u, uint64_t seed, event_copy *last_query) {
    uint8_t buf[1000];
    cas_upload_event ev;
    size_t used;
    int rc;
    fill_random(seed, buf, sizeof buf);
    if ((rc = cas_upload_file_begin(u)) != CAS_OK) return rc;
    if ((rc = cas_upload_push(u, buf, sizeof buf, &used)) != CAS_NEED_INPUT || used != sizeof buf) return rc;
    while ((rc = cas_upload_file_end(u, NULL)) == CAS_READY)
        while ((rc = cas_upload_next(u, &ev)) == CAS_READY)
            if (ev.type == CAS_UPLOAD_EVENT_QUERY && last_query) last_query->query_id = ev.query_id;
    return rc;
}

/* More queries than CAS_UPLOAD_MAX_OPEN_QUERIES left open (each file's first chunk is
   queried, none answered): the oldest stops being counted, and its late answer is still
   taken. */
static void test_open_queries(void) {
    cas_upload *u;
    cas_upload_desc d;
    cas_error err;
    event_copy q;
    uint64_t i, first = 0;
    int rc = CAS_OK;
    memset(&d, 0, sizeof d);
    d.flags = CAS_UPLOAD_GLOBAL_DEDUP;
    CHECK_MSG(cas_upload_create(NULL, &d, &u, &err) == CAS_OK, "create");
    for (i = 0; i <= CAS_UPLOAD_MAX_OPEN_QUERIES && rc == CAS_OK; i++) {
        q.query_id = 0;
        rc = small_file(u, 300 + i, &q);
        CHECK_MSG(rc == CAS_OK && q.query_id, "file %llu: %s, query %llu", (unsigned long long)i,
                  cas_result_name(rc), (unsigned long long)q.query_id);
        if (i == 0) first = q.query_id;
        CHECK(cas_upload_open_queries(u) == (i < CAS_UPLOAD_MAX_OPEN_QUERIES ? i + 1 : CAS_UPLOAD_MAX_OPEN_QUERIES));
    }
    CHECK_MSG(cas_upload_open_queries(u) == CAS_UPLOAD_MAX_OPEN_QUERIES, "%zu open", cas_upload_open_queries(u));
    CHECK_MSG(cas_upload_answer(u, first, NULL, 0, &err) == CAS_OK &&
              cas_upload_open_queries(u) == CAS_UPLOAD_MAX_OPEN_QUERIES, "the dropped query's late answer");
    CHECK_MSG(cas_upload_answer(u, first + 1, NULL, 0, &err) == CAS_OK &&
              cas_upload_open_queries(u) == CAS_UPLOAD_MAX_OPEN_QUERIES - 1, "an open query's answer");
    cas_upload_free(u);
}

/* The list of answer shards cannot grow: CAS_E_NOMEM for that answer (named), not sticky. */
static void test_answer_nomem(void) {
    t_counting c;
    cas_allocator al = t_counting_allocator(&c, -1);
    cas_upload *u;
    cas_upload_desc d;
    cas_upload_event ev;
    cas_error err;
    event_copy q;
    int rc;
    memset(&d, 0, sizeof d);
    d.flags = CAS_UPLOAD_GLOBAL_DEDUP;
    CHECK_MSG(cas_upload_create(&al, &d, &u, &err) == CAS_OK, "create");
    q.query_id = 0;
    CHECK_MSG(small_file(u, 400, &q) == CAS_OK && q.query_id, "a file and its query");
    t_counting_budget(&c, 0);
    rc = cas_upload_answer(u, q.query_id, "not a shard", 11, &err);
    CHECK_MSG(rc == CAS_E_NOMEM && err.code == CAS_E_NOMEM && !strcmp(err.what, "answer shard list"),
              "answer: %s (%s)", cas_result_name(rc), err.what);
    c.fail_at = -1, c.fail_rest = 0;
    CHECK_MSG(cas_upload_error(u)->code == CAS_OK && cas_upload_finish(u) == CAS_OK, "the session goes on");
    while ((rc = cas_upload_next(u, &ev)) == CAS_READY) {}
    CHECK_MSG(rc == CAS_END, "finished: %s", cas_result_name(rc));
    cas_upload_free(u);
    CHECK(c.live == 0);
}

/* The shard the engine writes takes cas_shard_write's scratch (sort room, tables) from the
   session's allocator, as the engine's Memory contract says (it once came from malloc:
   found by issue #14's coverage work). Running out of memory there is then seen through the
   session's allocator, and named by the writer. */
static void test_shard_writer_alloc(void) {
    long budget;
    int writer_seen = 0, done = 0;
    for (budget = 0; budget < 100 && !done; budget++) {
        t_counting c;
        cas_allocator al = t_counting_allocator(&c, -1);
        cas_upload *u;
        cas_upload_event ev;
        cas_error err;
        int rc;
        CHECK(cas_upload_create(&al, NULL, &u, &err) == CAS_OK);
        CHECK(small_file(u, 500, NULL) == CAS_OK && cas_upload_finish(u) == CAS_OK);
        CHECK(cas_upload_next(u, &ev) == CAS_READY && ev.type == CAS_UPLOAD_EVENT_XORB);
        t_counting_budget(&c, budget); /* from the shard's step on */
        rc = cas_upload_next(u, &ev);
        if (rc == CAS_READY) {
            CHECK(ev.type == CAS_UPLOAD_EVENT_SHARD);
            done = 1;
        } else {
            CHECK_MSG(rc == CAS_E_NOMEM, "budget %ld: %s", budget, cas_result_name(rc));
            if (strcmp(cas_upload_error(u)->what, "shard output") != 0) writer_seen = 1;
        }
        cas_upload_free(u);
        CHECK(c.live == 0);
    }
    CHECK_MSG(done && writer_seen, "the shard writer's allocations go through the session's allocator");
}

static void test_split(void) {
    enum { NF = 40 };
    uint8_t *data = (uint8_t *)t_xmalloc(NF * 200000);
    input in[NF];
    session s;
    cas_shard sh[64];
    size_t ns, i, files = 0;
    fill_random(51, data, NF * 200000);
    for (i = 0; i < NF; i++) {
        in[i].data = data + i * 200000;
        in[i].len = 200000 - i * 1000;
    }
    memset(&s, 0, sizeof s);
    s.desc.max_shard_size = 4096;
    s.desc.max_xorb_size = 1u << 20;
    CHECK_MSG(run_session(&s, in, NF) == CAS_OK, "split");
    ns = parse_shards(&s, sh, 64);
    for (i = 0; i < ns; i++) files += sh[i].num_files;
    CHECK_MSG(ns > 2 && ns == count_events(&s, CAS_UPLOAD_EVENT_SHARD), "several shards: %zu", ns);
    CHECK_MSG(files == NF, "every file in one shard: %zu", files);
    check_readback("split", &s, in, NF, NULL);
    free_shards(sh, ns);
    session_free(&s);
    /* a file that alone passes the limit */
    memset(&s, 0, sizeof s);
    s.desc.max_shard_size = 1024;
    s.desc.flags = CAS_UPLOAD_NO_DEDUP;
    in[0].len = NF * 200000;
    CHECK_MSG(run_session(&s, in, 1) == CAS_E_SHARD_TOO_LARGE, "too large: %s", cas_result_name(s.rc));
    session_free(&s);
    free(data);
}

static void test_states(void) {
    cas_upload *u;
    cas_error err;
    cas_upload_desc d;
    size_t used;
    cas_upload_event ev;
    memset(&d, 0, sizeof d);
    d.lookahead = 1000;
    CHECK_MSG(cas_upload_create(NULL, &d, &u, &err) == CAS_E_ARGUMENT && !u, "lookahead too small");
    d.lookahead = 0;
    d.compression = 7;
    CHECK_MSG(cas_upload_create(NULL, &d, &u, &err) == CAS_E_ARGUMENT, "bad compression");
    d.compression = CAS_SCHEME_BG4_LZ4; /* a stored scheme is not a request */
    CHECK_MSG(cas_upload_create(NULL, &d, &u, &err) == CAS_E_ARGUMENT, "a scheme for a request");
    d.compression = 0;
    {   /* the size fields, each refused one past its range (with the field named) and
           accepted at its bound */
        static const struct { uint32_t xorb_size, xorb_chunks, shard_size; int rc; const char *what; } c[] = {
            {CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_SIZE - 1, 0, 0, CAS_E_ARGUMENT, "max_xorb_size is not 131080..64 MiB"},
            {CAS_XORB_MAX_SIZE + 1, 0, 0, CAS_E_ARGUMENT, "max_xorb_size is not 131080..64 MiB"},
            {CAS_CHUNK_HEADER_SIZE + CAS_CHUNK_MAX_SIZE, 0, 0, CAS_OK, ""},
            {CAS_XORB_MAX_SIZE, 0, 0, CAS_OK, ""},
            {0, CAS_XORB_MAX_CHUNKS + 1, 0, CAS_E_ARGUMENT, "max_xorb_chunks is over 8192"},
            {0, CAS_XORB_MAX_CHUNKS, 0, CAS_OK, ""},
            {0, 0, 1023, CAS_E_ARGUMENT, "max_shard_size is not 1024..64 MiB"},
            {0, 0, CAS_SHARD_MAX_SIZE + 1, CAS_E_ARGUMENT, "max_shard_size is not 1024..64 MiB"},
            {0, 0, 1024, CAS_OK, ""},
            {0, 0, CAS_SHARD_MAX_SIZE, CAS_OK, ""},
        };
        size_t i;
        for (i = 0; i < sizeof c / sizeof c[0]; i++) {
            int rc;
            d.max_xorb_size = c[i].xorb_size, d.max_xorb_chunks = c[i].xorb_chunks, d.max_shard_size = c[i].shard_size;
            rc = cas_upload_create(NULL, &d, &u, &err);
            CHECK_MSG(rc == c[i].rc && err.code == c[i].rc && !strcmp(err.what, c[i].what) && (rc != CAS_OK) == !u,
                      "desc case %zu: %s (%s)", i, cas_result_name(rc), err.what);
            cas_upload_free(u);
        }
        memset(&d, 0, sizeof d);
    }
    CHECK_MSG(cas_upload_create(NULL, NULL, &u, &err) == CAS_OK, "defaults");
    CHECK_MSG(cas_upload_push(u, "x", 1, &used) == CAS_E_STATE, "push outside a file");
    CHECK_MSG(cas_upload_file_end(u, NULL) == CAS_E_STATE, "end outside a file");
    CHECK_MSG(cas_upload_next(u, &ev) == CAS_NEED_INPUT, "nothing yet");
    CHECK_MSG(cas_upload_file_begin(u) == CAS_OK && cas_upload_file_begin(u) == CAS_E_STATE, "begin twice");
    CHECK_MSG(cas_upload_finish(u) == CAS_E_STATE, "finish with a file open");
    CHECK_MSG(cas_upload_push(u, "hello", 5, &used) == CAS_NEED_INPUT && used == 5, "push");
    CHECK_MSG(cas_upload_file_end(u, NULL) == CAS_OK, "end");
    CHECK_MSG(cas_upload_finish(u) == CAS_OK, "finish");
    CHECK_MSG(cas_upload_next(u, &ev) == CAS_READY && ev.type == CAS_UPLOAD_EVENT_XORB, "xorb first");
    CHECK_MSG(cas_upload_next(u, &ev) == CAS_READY && ev.type == CAS_UPLOAD_EVENT_SHARD, "then shard");
    CHECK_MSG(cas_upload_next(u, &ev) == CAS_END && cas_upload_next(u, &ev) == CAS_END, "end, sticky");
    CHECK_MSG(cas_upload_file_begin(u) == CAS_E_STATE, "no file after finish");
    cas_upload_free(u);
    cas_upload_free(NULL);
}

/* Host-supplied SHA-256 (for a host that hashes on another thread). */
static void test_host_sha(void) {
    session s;
    input in;
    uint8_t buf[50000];
    cas_upload *u;
    cas_error err;
    cas_upload_file_result r;
    uint8_t sha[32];
    size_t used;
    fill_random(61, buf, sizeof buf);
    cas_sha256_hash(buf, sizeof buf, sha);
    memset(&s, 0, sizeof s);
    s.desc.flags = CAS_UPLOAD_HOST_SHA256;
    CHECK_MSG(cas_upload_create(NULL, &s.desc, &u, &err) == CAS_OK, "create");
    cas_upload_file_begin(u);
    cas_upload_push(u, buf, sizeof buf, &used);
    CHECK_MSG(cas_upload_file_sha256(u, sha) == CAS_OK, "host sha");
    CHECK_MSG(cas_upload_file_end(u, &r) == CAS_OK && r.has_sha256 && !memcmp(r.sha256, sha, 32), "host sha kept");
    cas_upload_free(u);
    in.data = buf;
    in.len = sizeof buf;
    s.desc.flags = CAS_UPLOAD_NO_SHA256;
    CHECK_MSG(run_session(&s, &in, 1) == CAS_OK && !s.files[0].has_sha256, "no sha256");
    check_readback("nosha", &s, &in, 1, NULL);
    session_free(&s);
}

/* Fail the Nth allocation for every N: CAS_E_NOMEM, nothing leaks. */
static void test_nomem(void) {
    size_t n = 3u << 20, i;
    uint8_t *a = (uint8_t *)t_xmalloc(n);
    session s0;
    input in[3];
    cas_shard sh[2];
    const cas_shard *shp[2];
    size_t ns;
    long fail_at;
    int ok = 0, nomem = 0, other = 0;
    fill_random(71, a, n);
    memset(&s0, 0, sizeof s0);
    in[0].data = a;
    in[0].len = n / 2;
    CHECK_MSG(run_session(&s0, in, 1) == CAS_OK, "nomem: base");
    ns = parse_shards(&s0, sh, 2);
    for (i = 0; i < ns; i++) shp[i] = &sh[i];
    in[0].data = a;
    in[0].len = n;
    in[1] = in[0];
    in[2].data = a + 1000;
    in[2].len = 200000;
    for (fail_at = 0; fail_at < 10000; fail_at++) {
        t_counting c;
        cas_allocator al = t_counting_allocator(&c, fail_at);
        session s;
        memset(&s, 0, sizeof s);
        s.alloc = &al;
        s.shards = shp;
        s.nshards = ns;
        s.desc.max_xorb_size = 1u << 20;
        s.desc.max_shard_size = 8192;
        s.desc.flags = CAS_UPLOAD_GLOBAL_DEDUP;
        run_session(&s, in, 3);
        if (c.live != 0) {
            CHECK_MSG(c.live == 0, "leak at fail_at %ld: %ld blocks", fail_at, c.live);
            session_free(&s);
            break;
        }
        session_free(&s);
        if (s.rc == CAS_OK) {
            ok = 1;
            break;
        }
        if (s.rc == CAS_E_NOMEM) nomem++;
        else {
            other++;
            fprintf(stderr, "  fail_at %ld: %s\n", fail_at, cas_result_name(s.rc));
        }
    }
    CHECK_MSG(ok && other == 0 && nomem > 10, "sweep: %d NOMEM runs, %d other, ends ok %d", nomem, other, ok);
    printf("  allocation sweep: %d failing points, all CAS_E_NOMEM, no leak\n", nomem);
    free_shards(sh, ns);
    session_free(&s0);
    free(a);
}

/* ---- round trip property: unpack(pack(x)) == x through the download engine ----
   Random files and random edit sequences (insert, delete, overwrite, append, concatenate),
   each version uploaded in its own session with the earlier sessions' shards as the dedup
   cache, then every version read back with cas_recon_from_shards + cas_download (the path
   `cas unpack` takes). The new bytes each edit stores are bounded by the edit plus the
   chunks around it. */
typedef struct {
    const session *sessions;
    size_t n;
} rt_store;

static const event_copy *rt_find_xorb(const rt_store *st, const cas_hash *h) {
    size_t i, j;
    for (i = 0; i < st->n; i++)
        for (j = 0; j < st->sessions[i].nev; j++)
            if (st->sessions[i].ev[j].type == CAS_UPLOAD_EVENT_XORB && cas_hash_equal(&st->sessions[i].ev[j].hash, h))
                return &st->sessions[i].ev[j];
    return NULL;
}

static int rt_record_ends(void *user, const cas_hash *xorb, uint32_t n, uint64_t *ends) {
    const event_copy *x = rt_find_xorb((const rt_store *)user, xorb);
    size_t pos = 0;
    uint32_t i;
    if (!x) return CAS_E_SHARD_NO_CHUNKS;
    for (i = 0; i < n; i++) {
        cas_chunk_header h;
        const uint8_t *payload;
        if (cas_xorb_next(x->data, x->len, &pos, &h, &payload, NULL) != CAS_OK) return CAS_E_TRUNCATED;
        ends[i] = pos;
    }
    return CAS_OK;
}

typedef struct {
    uint8_t *out;
    size_t cap;
} rt_out;
static int rt_write_at(void *user, uint64_t off, const void *data, size_t len) {
    rt_out *o = (rt_out *)user;
    if (off + len > o->cap) return CAS_E_LIMIT;
    memcpy(o->out + off, data, len);
    return 0;
}

/* Downloads file `h` of the store into out[0..len) and compares. */
static int rt_unpack(const rt_store *st, const cas_shard *shards, size_t ns, const cas_hash *h,
                     const uint8_t *want, size_t len) {
    cas_recon r;
    cas_download_desc desc;
    cas_download *d;
    cas_download_request q;
    rt_out o;
    int rc, same;
    rc = cas_recon_from_shards(NULL, shards, ns, h, 0, (uint64_t)-1, "http://store.invalid/",
                               rt_record_ends, (void *)st, &r, NULL);
    if (rc != CAS_OK) return 0;
    o.cap = len;
    o.out = (uint8_t *)t_xmalloc(len + 1);
    memset(&desc, 0, sizeof desc);
    desc.flags = CAS_DOWNLOAD_PER_RANGE; /* this host answers single ranges only */
    desc.write_at = rt_write_at;
    desc.user = &o;
    desc.file_hash = h;
    rc = cas_download_create(NULL, &r, &desc, &d, NULL);
    while (rc == CAS_OK && (rc = cas_download_next(d, &q)) == CAS_READY) {
        const event_copy *x = rt_find_xorb(st, &r.xorbs[q.xorb].hash);
        const cas_recon_range *g = &q.ranges[0];
        if (!x || q.num_ranges != 1 || g->byte_end >= x->len) { rc = CAS_E_STATE; break; }
        rc = cas_download_begin(d, q.id, NULL, 0);
        if (rc == CAS_OK) rc = cas_download_push(d, q.id, x->data + g->byte_start, (size_t)(g->byte_end - g->byte_start + 1));
        if (rc == CAS_OK) rc = cas_download_end(d, q.id);
    }
    same = rc == CAS_END && (len == 0 || memcmp(o.out, want, len) == 0);
    if (rc != CAS_END) fprintf(stderr, "  round trip: %s\n", cas_result_name(rc));
    if (d) cas_download_free(d);
    cas_recon_free(&r);
    free(o.out);
    return same;
}

static void test_roundtrip_edits(void) {
    enum { VERSIONS = 7 };
    uint64_t seed = 0xed175;
    int round;
    for (round = 0; round < 4; round++) {
        session ss[VERSIONS];
        cas_shard shards[VERSIONS * 4];
        const cas_shard *known[VERSIONS * 4];
        uint8_t *v[VERSIONS];
        size_t vlen[VERSIONS], ns = 0, k, j;
        rt_store st;
        uint64_t edit_bytes = 0;
        memset(ss, 0, sizeof ss);
        vlen[0] = 1000000 + (size_t)(rng_next(&seed) % 3000000);
        v[0] = (uint8_t *)t_xmalloc(vlen[0]);
        t_generate(round & 1 ? "text" : "random", rng_next(&seed), v[0], vlen[0]);
        for (k = 0; k < VERSIONS; k++) {
            input in;
            if (k > 0) { /* an edit of the previous version */
                int op = (int)(rng_next(&seed) % 5);
                size_t at = (size_t)(rng_next(&seed) % (vlen[k - 1] + 1));
                size_t n = 1 + (size_t)(rng_next(&seed) % 20000), m;
                const uint8_t *p = v[k - 1];
                if (op == 4) n = vlen[0] / 2; /* concatenate: the first version's first half */
                v[k] = (uint8_t *)t_xmalloc(vlen[k - 1] + n + 1);
                if (op == 0 || op == 3 || op == 4) { /* insert / append / concatenate */
                    if (op != 0) at = vlen[k - 1];
                    memcpy(v[k], p, at);
                    if (op == 4) memcpy(v[k] + at, v[0], n); else fill_random(rng_next(&seed), v[k] + at, n);
                    memcpy(v[k] + at + n, p + at, vlen[k - 1] - at);
                    vlen[k] = vlen[k - 1] + n;
                    edit_bytes = op == 4 ? 0 : n;
                } else if (op == 1) { /* delete */
                    m = n < vlen[k - 1] - at ? n : vlen[k - 1] - at;
                    memcpy(v[k], p, at);
                    memcpy(v[k] + at, p + at + m, vlen[k - 1] - at - m);
                    vlen[k] = vlen[k - 1] - m;
                    edit_bytes = 0;
                } else { /* overwrite */
                    m = n < vlen[k - 1] - at ? n : vlen[k - 1] - at;
                    memcpy(v[k], p, vlen[k - 1]);
                    fill_random(rng_next(&seed), v[k] + at, m);
                    vlen[k] = vlen[k - 1];
                    edit_bytes = m;
                }
            }
            for (j = 0; j < ns; j++) known[j] = &shards[j];
            ss[k].shards = known;
            ss[k].nshards = ns;
            ss[k].piece_seed = rng_next(&seed) | 1;
            in.data = v[k];
            in.len = vlen[k];
            CHECK_MSG(run_session(&ss[k], &in, 1) == CAS_OK, "round trip: session %zu", k);
            ns += parse_shards(&ss[k], shards + ns, VERSIONS * 4 - ns);
            /* an edit stores the edit and the chunks around it: a few chunks of <= 128 KiB */
            if (k > 0)
                CHECK_MSG(ss[k].stats.new_bytes <= edit_bytes + 4 * 131072,
                      "round trip %d: version %zu stores %llu new bytes for a %llu-byte edit", round, k,
                      (unsigned long long)ss[k].stats.new_bytes, (unsigned long long)edit_bytes);
        }
        st.sessions = ss;
        st.n = VERSIONS;
        for (k = 0; k < VERSIONS; k++)
            CHECK_MSG(rt_unpack(&st, shards, ns, &ss[k].files[0].file_hash, v[k], vlen[k]),
                  "round trip %d: version %zu unpacked byte for byte", round, k);
        free_shards(shards, ns);
        for (k = 0; k < VERSIONS; k++) {
            session_free(&ss[k]);
            free(v[k]);
        }
    }
}

/* ---- desc.parallel: compression through a "thread pool" (jobs run in reverse order
   here) gives byte-identical events; text + random + repeats, every scheme ---- */
static long g_jobs;
static void reverse_pool(void *user, void (*job)(void *ctx, size_t i), void *ctx, size_t n) {
    size_t i;
    (void)user;
    for (i = n; i-- > 0;) job(ctx, i);
    g_jobs += (long)n;
}

static void test_parallel(void) {
    size_t n = 3u << 20, k, i;
    uint8_t *d = (uint8_t *)t_xmalloc(2 * n);
    int schemes[4] = {CAS_COMPRESS_DEFAULT, CAS_COMPRESS_NONE, CAS_COMPRESS_BG4_LZ4, CAS_COMPRESS_AUTO};
    input in[2];
    t_generate("text", 5, d, n);
    fill_random(6, d + n, n / 2);
    memcpy(d + n + n / 2, d, n / 2); /* repeats: chunks compressed ahead, then deduplicated */
    in[0].data = d, in[0].len = n;
    in[1].data = d + n / 3, in[1].len = n + n / 3;
    for (k = 0; k < 4; k++) {
        session a, b;
        int same;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        a.desc.compression = b.desc.compression = schemes[k];
        a.desc.max_xorb_size = b.desc.max_xorb_size = 2u << 20; /* several xorbs */
        a.piece_seed = b.piece_seed = 77 + k;
        b.desc.parallel = reverse_pool;
        g_jobs = 0;
        CHECK_MSG(run_session(&a, in, 2) == CAS_OK && run_session(&b, in, 2) == CAS_OK, "parallel sessions");
        same = a.nev == b.nev;
        for (i = 0; same && i < a.nev; i++)
            same = a.ev[i].type == b.ev[i].type && a.ev[i].len == b.ev[i].len &&
                   (a.ev[i].len == 0 || memcmp(a.ev[i].data, b.ev[i].data, a.ev[i].len) == 0);
        CHECK_MSG(same, "scheme %d: events byte-identical with desc.parallel", schemes[k]);
        CHECK_MSG(g_jobs >= (long)a.stats.new_chunks, "scheme %d: %ld jobs for %llu new chunks", schemes[k],
              g_jobs, (unsigned long long)a.stats.new_chunks);
        check_readback("parallel", &b, in, 2, NULL);
        session_free(&a);
        session_free(&b);
    }
    free(d);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : getenv("CAS_VECTORS") ? getenv("CAS_VECTORS") : "tests/vectors";
    test_states();
    test_empty();
    test_vectors(dir);
    test_dedup();
    test_fragmentation();
    test_global();
    test_unanswered();
    test_split();
    test_open_queries();
    test_answer_nomem();
    test_shard_writer_alloc();
    test_host_sha();
    test_nomem();
    test_roundtrip_edits();
    test_parallel();
    printf("test_upload: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
