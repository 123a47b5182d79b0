/* Shard write -> read round trip. The input describes a shard: write options (form, order,
   HMAC key, chunk keying, file-start marks, times), a few xorbs (hashes with deliberate key and
   hash collisions, flags, chunks), a few xorbs only a chunk callback knows, and a few files
   (flags, SHA-256, terms over listed, callback-known or unknown xorbs, with or without given
   verification entries), plus rare corruptions of every limit the writer checks, a too-small
   buffer, a failing sink, a failing allocation and a failing chunk callback.

   A model written here, independently of the writer, predicts the exact result code. On
   success the bytes must parse (random access and sequential reader in input-chosen pieces,
   through a leak-checking allocator) to exactly the description: every field of the header,
   footer, files, terms, verification entries, SHA-256s, xorbs and chunks, in the predicted
   order; the lookups (files, xorbs, chunks with HMAC keying and expiry) must answer as a linear
   scan of the description does; cas_shard_check_terms must give the predicted result and counts;
   and writing the parsed shard again must reproduce the bytes exactly. abort() on any
   difference. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

#define RT_XORBS 4
#define RT_EXT 2
#define RT_FILES 4
#define RT_TERMS 6
#define RT_CHUNKS 12
#define RT_HUGE 0x40000000u /* a chunk count whose shard passes 64 MiB */

static uint8_t rt_u8(fz_in *in) {
    uint8_t v = in->n ? *in->p : 0;
    if (in->n) in->p++, in->n--;
    return v;
}
/* Rare events (corruptions): a byte of 0xF0 or above. An exhausted input gives none. */
static int rt_rare(fz_in *in) { return rt_u8(in) >= 0xF0; }

/* Hash tags (byte 31) keep the three kinds of xorb apart, so a term's source is never
   ambiguous between the listed xorbs and the callback's. */
enum { RT_TAG_LISTED = 0x10, RT_TAG_EXT = 0x20, RT_TAG_UNKNOWN = 0x30, RT_TAG_BAD = 0x40 };

typedef struct {
    cas_shard_xorb x[RT_XORBS];
    cas_shard_chunk ch[RT_XORBS][RT_CHUNKS];
    size_t nx;
    cas_shard_xorb ext[RT_EXT]; /* known only to rt_chunks */
    cas_shard_chunk ext_ch[RT_EXT][RT_CHUNKS];
    int ext_error;               /* rt_chunks fails with CAS_E_CANCELLED for ext[1] */
    cas_shard_file f[RT_FILES];
    cas_shard_term t[RT_FILES][RT_TERMS];
    size_t nf;
    cas_shard_write_desc o;
    const cas_allocator *walloc; /* the writer's scratch allocator (NULL: malloc) */
    int small_buffer, sink_fail, alloc_fail;
    uint32_t sink_fail_at;
    uint64_t now;
} rt_desc;

static int rt_bookend(const cas_hash *h) {
    int i;
    for (i = 0; i < 32; i++)
        if (h->bytes[i] != 0xFF) return 0;
    return 1;
}

/* The callback's xorbs: the chunks of ext[k] in [start, end), as cas_shard_chunks_fn. */
static int rt_chunks(void *user, const cas_hash *xorb_hash, uint32_t start, uint32_t end, cas_chunk *out) {
    const rt_desc *d = (const rt_desc *)user;
    size_t k;
    uint32_t i;
    if (start >= end || end - start > 128) abort(); /* the documented batch contract */
    for (k = 0; k < RT_EXT; k++) {
        const cas_shard_xorb *x = &d->ext[k];
        if (!cas_hash_equal(&x->xorb_hash, xorb_hash)) continue;
        if (k == 1 && d->ext_error) return CAS_E_CANCELLED;
        if (end > x->num_chunks) return CAS_E_SHARD_NO_CHUNKS;
        for (i = start; i < end; i++) {
            out[i - start].hash = x->chunks[i].hash;
            out[i - start].size = x->chunks[i].unpacked_bytes;
        }
        return CAS_OK;
    }
    return CAS_E_SHARD_NO_CHUNKS;
}

/* ---- the model ---- */

/* What the chunk sources know of xorb h's chunks [s, e): CAS_OK with their total size and
   verification hash; CAS_E_SHARD_ENTRY when the range passes a listed xorb's end;
   CAS_E_SHARD_NO_CHUNKS; or the callback's error. `listed`: the listed xorbs are a source
   (the first one with that hash), `cb`: the callback is. */
static int rt_range(const rt_desc *d, const cas_hash *h, uint32_t s, uint32_t e, int listed, int cb,
                    uint64_t *size, cas_hash *v) {
    cas_hash hashes[RT_CHUNKS];
    const cas_shard_xorb *x = NULL;
    size_t k;
    uint32_t i;
    if (listed)
        for (k = 0; k < d->nx && !x; k++)
            if (cas_hash_equal(&d->x[k].xorb_hash, h)) x = &d->x[k];
    if (!x && cb)
        for (k = 0; k < RT_EXT && !x; k++)
            if (cas_hash_equal(&d->ext[k].xorb_hash, h)) {
                if (k == 1 && d->ext_error) return CAS_E_CANCELLED;
                x = &d->ext[k];
                if (e > x->num_chunks) return CAS_E_SHARD_NO_CHUNKS;
            }
    if (!x) return CAS_E_SHARD_NO_CHUNKS;
    if (e > x->num_chunks) return CAS_E_SHARD_ENTRY;
    *size = 0;
    for (i = s; i < e; i++) {
        hashes[i - s] = x->chunks[i].hash;
        *size += x->chunks[i].unpacked_bytes;
    }
    cas_verification_hash(hashes, e - s, v);
    return CAS_OK;
}

/* xet-core's hash order: four little-endian u64 words compared in turn. */
static int rt_hash_less(const cas_hash *a, const cas_hash *b) {
    int w, k;
    for (w = 0; w < 4; w++) {
        uint64_t x = 0, y = 0;
        for (k = 7; k >= 0; k--) {
            x = x << 8 | a->bytes[8 * w + k];
            y = y << 8 | b->bytes[8 * w + k];
        }
        if (x != y) return x < y;
    }
    return 0;
}

/* Output order: given, or a stable sort by hash (insertion sort over a handful). */
static void rt_order(const cas_hash *const *h, size_t n, int sorted, size_t *order) {
    size_t i, j;
    for (i = 0; i < n; i++) {
        size_t v = i;
        for (j = i; sorted && j > 0 && rt_hash_less(h[v], h[order[j - 1]]); j--) order[j] = order[j - 1];
        order[j] = v;
    }
}

typedef struct {
    int rc;                                  /* the writer's result */
    uint64_t size;                           /* the shard's size */
    size_t file_order[RT_FILES], xorb_order[RT_XORBS];
    cas_hash verif[RT_FILES][RT_TERMS];      /* verification entries as written */
    uint32_t chunk_flags[RT_XORBS][RT_CHUNKS];
    int footer, keyed, key_chunks;
} rt_expect;

static int rt_term_ok(const cas_shard_term *t) {
    return t->chunk_start < t->chunk_end && t->chunk_end <= CAS_XORB_MAX_CHUNKS && t->unpacked_bytes &&
           t->unpacked_bytes <= (uint64_t)(t->chunk_end - t->chunk_start) * 131072u;
}

static void rt_predict(const rt_desc *d, rt_expect *ex) {
    const cas_hash *h[RT_FILES > RT_XORBS ? RT_FILES : RT_XORBS];
    static const cas_hash zero;
    const int zero_key = cas_hash_equal(&d->o.hmac_key, &zero);
    size_t i, p;
    uint32_t j;
    int rc = CAS_OK;
    memset(ex, 0, sizeof *ex);
    ex->footer = (d->o.flags & CAS_SHARD_WITH_FOOTER) != 0;
    ex->keyed = ex->footer && !zero_key;
    ex->key_chunks = ex->keyed && (d->o.flags & CAS_SHARD_KEY_CHUNKS);
    for (i = 0; i < d->nf; i++) h[i] = &d->f[i].file_hash;
    rt_order(h, d->nf, (d->o.flags & CAS_SHARD_SORTED) != 0, ex->file_order);
    for (i = 0; i < d->nx; i++) h[i] = &d->x[i].xorb_hash;
    rt_order(h, d->nx, (d->o.flags & CAS_SHARD_SORTED) != 0, ex->xorb_order);

    ex->size = 48 + 2 * 48 + (ex->footer ? 200 : 0);
    for (i = 0; i < d->nf; i++)
        ex->size += 48 * (1 + 2 * (uint64_t)d->f[i].num_terms + (d->f[i].has_sha256 != 0)) + (ex->footer ? 12 : 0);
    for (i = 0; i < d->nx; i++) {
        ex->size += 48 * (1 + (uint64_t)d->x[i].num_chunks) + (ex->footer ? 12 + 16 * (uint64_t)d->x[i].num_chunks : 0);
    }
    if (ex->size > CAS_SHARD_MAX_SIZE) rc = CAS_E_SHARD_TOO_LARGE;
    else if (d->small_buffer) rc = CAS_E_LIMIT;
    else if (d->alloc_fail) rc = CAS_E_NOMEM;
    for (p = 0; p < d->nf && !rc; p++) {
        const cas_shard_file *f = &d->f[ex->file_order[p]];
        if (rt_bookend(&f->file_hash)) rc = CAS_E_ARGUMENT;
        for (j = 0; j < f->num_terms && !rc; j++) {
            const cas_shard_term *t = &f->terms[j];
            uint64_t size;
            cas_hash *v = &ex->verif[ex->file_order[p]][j];
            if (!rt_term_ok(t)) rc = CAS_E_ARGUMENT;
            else if (f->flags & CAS_SHARD_FILE_VERIFICATION) *v = t->verification;
            else {
                /* The listed hashes serve unless they are stored keyed as given. */
                rc = rt_range(d, &t->xorb_hash, t->chunk_start, t->chunk_end, !ex->keyed || ex->key_chunks,
                              d->o.chunks != NULL, &size, v);
                if (rc == CAS_E_SHARD_ENTRY || (!rc && size != t->unpacked_bytes)) rc = CAS_E_ARGUMENT;
            }
        }
    }
    for (p = 0; p < d->nx && !rc; p++) {
        const cas_shard_xorb *x = &d->x[ex->xorb_order[p]];
        uint64_t sum = 0;
        if (rt_bookend(&x->xorb_hash) || x->num_chunks == 0 || x->num_chunks > CAS_XORB_MAX_CHUNKS) {
            rc = CAS_E_ARGUMENT;
            break;
        }
        for (j = 0; j < x->num_chunks && !rc; j++) {
            if (!x->chunks[j].unpacked_bytes || x->chunks[j].unpacked_bytes > 131072u || x->chunks[j].byte_start != sum)
                rc = CAS_E_ARGUMENT;
            sum += x->chunks[j].unpacked_bytes;
        }
        if (!rc && sum != x->bytes_in_xorb) rc = CAS_E_ARGUMENT;
    }
    if (!rc && d->sink_fail && d->sink_fail_at < ex->size) rc = CAS_E_CANCELLED;
    ex->rc = rc;
    if (rc) return;
    for (i = 0; i < d->nx; i++)
        for (j = 0; j < d->x[i].num_chunks; j++) ex->chunk_flags[i][j] = d->x[i].chunks[j].flags;
    if (d->o.flags & CAS_SHARD_MARK_FILE_STARTS)
        for (i = 0; i < d->nf; i++) {
            const cas_shard_term *t = d->f[i].terms;
            size_t k;
            if (!d->f[i].num_terms) continue;
            for (k = 0; k < d->nx; k++) /* the first listed xorb of that hash */
                if (cas_hash_equal(&d->x[k].xorb_hash, &t->xorb_hash)) {
                    if (t->chunk_start < d->x[k].num_chunks) ex->chunk_flags[k][t->chunk_start] |= CAS_SHARD_CHUNK_GLOBAL_DEDUP;
                    break;
                }
        }
}

/* ---- checking a parsed shard against the description ---- */


static cas_hash rt_stored_chunk(const rt_desc *d, const rt_expect *ex, const cas_shard_chunk *c) {
    cas_hash h = c->hash;
    if (ex->key_chunks) cas_hash_hmac(&c->hash, &d->o.hmac_key, &h);
    return h;
}

static void rt_check_shard(const rt_desc *d, const rt_expect *ex, const cas_shard *s) {
    static const cas_hash zero;
    uint64_t at = 48, materialized = 0, on_disk = 0, stored = 0, xorb_info;
    size_t p, nterms = 0, nchunks = 0;
    uint32_t j;
    REQUIRE(s->size == ex->size);
    REQUIRE(s->footer_size == (ex->footer ? 200u : 0u));
    REQUIRE(s->has_footer == ex->footer && s->keyed == ex->keyed);
    REQUIRE(s->num_files == d->nf && s->num_xorbs == d->nx);
    for (p = 0; p < d->nf; p++) {
        const cas_shard_file *w = &d->f[ex->file_order[p]], *r = &s->files[p];
        uint64_t size = 0;
        REQUIRE(cas_hash_equal(&r->file_hash, &w->file_hash));
        REQUIRE(r->flags == ((w->flags & ~CAS_SHARD_FILE_METADATA_EXT) | CAS_SHARD_FILE_VERIFICATION |
                              (w->has_sha256 ? CAS_SHARD_FILE_METADATA_EXT : 0)));
        REQUIRE(r->num_terms == w->num_terms && r->offset == at);
        REQUIRE(r->has_sha256 == (w->has_sha256 != 0));
        REQUIRE(!memcmp(r->sha256, w->has_sha256 ? w->sha256 : zero.bytes, 32));
        for (j = 0; j < w->num_terms; j++) {
            const cas_shard_term *a = &r->terms[j], *b = &w->terms[j];
            REQUIRE(cas_hash_equal(&a->xorb_hash, &b->xorb_hash) && a->xorb_flags == b->xorb_flags);
            REQUIRE(a->unpacked_bytes == b->unpacked_bytes && a->chunk_start == b->chunk_start &&
                     a->chunk_end == b->chunk_end);
            REQUIRE(cas_hash_equal(&a->verification, &ex->verif[ex->file_order[p]][j]));
            size += b->unpacked_bytes;
        }
        REQUIRE(r->size == size);
        materialized += size;
        nterms += w->num_terms;
        at += 48 * (1 + 2 * (uint64_t)w->num_terms + (w->has_sha256 != 0));
    }
    REQUIRE(s->num_terms == nterms);
    xorb_info = at += 48;
    for (p = 0; p < d->nx; p++) {
        const size_t xi = ex->xorb_order[p];
        const cas_shard_xorb *w = &d->x[xi], *r = &s->xorbs[p];
        REQUIRE(cas_hash_equal(&r->xorb_hash, &w->xorb_hash) && r->flags == w->flags);
        REQUIRE(r->num_chunks == w->num_chunks && r->bytes_in_xorb == w->bytes_in_xorb);
        REQUIRE(r->bytes_on_disk == w->bytes_on_disk && r->offset == at);
        for (j = 0; j < w->num_chunks; j++) {
            const cas_shard_chunk *a = &r->chunks[j], *b = &w->chunks[j];
            const cas_hash h = rt_stored_chunk(d, ex, b);
            REQUIRE(cas_hash_equal(&a->hash, &h) && a->byte_start == b->byte_start);
            REQUIRE(a->unpacked_bytes == b->unpacked_bytes && a->flags == ex->chunk_flags[xi][j]);
        }
        on_disk += w->bytes_on_disk;
        stored += w->bytes_in_xorb;
        nchunks += w->num_chunks;
        at += 48 * (1 + (uint64_t)w->num_chunks);
    }
    REQUIRE(s->num_chunks == nchunks);
    at += 48;
    if (ex->footer) {
        const cas_shard_footer *F = &s->footer;
        int k;
        REQUIRE(F->version == 1 && F->file_info_offset == 48 && F->xorb_info_offset == xorb_info);
        REQUIRE(F->file_lookup_offset == at && F->file_lookup_count == d->nf);
        REQUIRE(F->xorb_lookup_offset == at + 12 * d->nf && F->xorb_lookup_count == d->nx);
        REQUIRE(F->chunk_lookup_offset == at + 12 * (d->nf + d->nx) && F->chunk_lookup_count == nchunks);
        REQUIRE(cas_hash_equal(&F->hmac_key, &d->o.hmac_key));
        REQUIRE(F->creation_time == d->o.creation_time && F->key_expiry == d->o.key_expiry);
        for (k = 0; k < 6; k++) REQUIRE(F->reserved[k] == 0);
        REQUIRE(F->stored_bytes_on_disk == on_disk && F->materialized_bytes == materialized && F->stored_bytes == stored);
        REQUIRE(F->footer_offset == ex->size - 200 && F->footer_offset == F->chunk_lookup_offset + 16 * nchunks);
    } else {
        cas_shard_footer zero;
        memset(&zero, 0, sizeof zero);
        REQUIRE(!memcmp(&s->footer, &zero, sizeof zero) && at == ex->size);
    }
}

/* Lookups answer as a linear scan of the parsed arrays (already checked against the
   description) does: the first file / xorb with a hash; every chunk whose stored hash is the
   (keyed) query, by xorb then chunk. */
static void rt_check_lookups(const rt_desc *d, const rt_expect *ex, const cas_shard *s) {
    size_t p, q, k;
    uint32_t j;
    const int expired = ex->footer && d->o.key_expiry && d->o.key_expiry != UINT64_MAX && d->o.key_expiry < d->now;
    REQUIRE(cas_shard_expired(s, d->now) == expired);
    for (p = 0; p < d->nf; p++) {
        for (q = 0; !cas_hash_equal(&s->files[q].file_hash, &s->files[p].file_hash); q++) {}
        REQUIRE(cas_shard_find_file(s, &s->files[p].file_hash) == &s->files[q]);
    }
    for (p = 0; p < d->nx; p++) {
        for (q = 0; !cas_hash_equal(&s->xorbs[q].xorb_hash, &s->xorbs[p].xorb_hash); q++) {}
        REQUIRE(cas_shard_find_xorb(s, &s->xorbs[p].xorb_hash) == &s->xorbs[q]);
        REQUIRE(cas_shard_find_xorb(s, &d->ext[0].xorb_hash) == NULL);
        for (j = 0; j < s->xorbs[p].num_chunks; j++) {
            /* The raw hash that was given for this chunk. */
            const cas_hash raw = d->x[ex->xorb_order[p]].chunks[j].hash;
            cas_hash stored = s->xorbs[p].chunks[j].hash;
            cas_shard_chunk_match m[RT_XORBS * RT_CHUNKS];
            size_t n, want = 0;
            if (ex->keyed && !ex->key_chunks) { /* stored as given: the caller's raw hash is unknown */
                continue;
            }
            n = cas_shard_find_chunk(s, &raw, d->now, m, sizeof m / sizeof *m);
            for (q = 0; q < d->nx; q++)
                for (k = 0; k < s->xorbs[q].num_chunks; k++) {
                    const cas_shard_chunk *c = &s->xorbs[q].chunks[k];
                    if (!cas_hash_equal(&c->hash, &stored)) continue;
                    REQUIRE(want < n && m[want].xorb == q && m[want].chunk == k);
                    REQUIRE(cas_hash_equal(&m[want].xorb_hash, &s->xorbs[q].xorb_hash));
                    REQUIRE(m[want].byte_start == c->byte_start &&
                             m[want].byte_end == c->byte_start + c->unpacked_bytes && m[want].expired == expired);
                    want++;
                }
            REQUIRE(n == want && n >= 1);
            REQUIRE(cas_shard_find_chunk(s, &raw, d->now, m, 0) == n); /* cap 0 still counts */
        }
    }
}

/* cas_shard_check_terms with the same callback: the callback first, then the shard's own
   xorbs unless the shard is keyed. */
static void rt_check_terms(const rt_desc *d, const rt_expect *ex, const cas_shard *s) {
    size_t p, checked = 0, unchecked = 0, c1 = 99, c2 = 99;
    uint32_t j;
    int want = CAS_OK, rc;
    cas_error e;
    for (p = 0; p < d->nf && !want; p++)
        for (j = 0; j < s->files[p].num_terms && !want; j++) {
            const cas_shard_term *t = &s->files[p].terms[j];
            uint64_t size;
            cas_hash v;
            rc = rt_range(d, &t->xorb_hash, t->chunk_start, t->chunk_end, !ex->keyed, d->o.chunks != NULL, &size, &v);
            if (rc == CAS_E_SHARD_NO_CHUNKS) unchecked++;
            else if (rc) want = rc;
            else if (size != t->unpacked_bytes) want = CAS_E_SHARD_ENTRY;
            else if (!cas_hash_equal(&v, &t->verification)) want = CAS_E_SHARD_VERIFICATION;
            else checked++;
        }
    rc = cas_shard_check_terms(s, d->o.chunks, (void *)d, &c1, &c2, &e);
    REQUIRE(rc == want && e.code == want);
    REQUIRE(want || (c1 == checked && c2 == unchecked));
    REQUIRE(!want || (e.offset >= 48 && e.offset < s->size));
}

/* ---- writing ---- */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint32_t fail_at; /* fail the write that would pass this many bytes */
    int fail;
} rt_sinkbuf;

static int rt_sink_write(void *user, const void *data, size_t len) {
    rt_sinkbuf *b = (rt_sinkbuf *)user;
    if (b->fail && b->len + len > b->fail_at) return CAS_E_CANCELLED;
    if (len > b->cap - b->len) abort(); /* more than the predicted size */
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return 0;
}

/* Writes with opt to a callback sink (use_callback) or an exact buffer (one byte short when
   d->small_buffer). Returns the result; *out = the bytes (malloc'd, exactly ex->size) on OK. */
static int rt_write(const cas_shard_file *files, size_t nf, const cas_shard_xorb *xorbs, size_t nx,
                    const cas_shard_write_desc *opt, const rt_desc *d, const rt_expect *ex,
                    int use_callback, uint8_t **out) {
    cas_sink sink;
    rt_sinkbuf sb;
    cas_error e;
    uint64_t written = 1, size = 0;
    /* A shard over the limit is refused before any byte goes out: a token buffer then. */
    const size_t room = ex->size <= CAS_SHARD_MAX_SIZE ? (size_t)ex->size : 1;
    uint8_t *buf = (uint8_t *)t_xmalloc(room);
    int rc, size_rc = cas_shard_write_size(files, nf, xorbs, nx, opt->flags, &size);
    REQUIRE(size == ex->size || (size_rc == CAS_E_SHARD_TOO_LARGE && size > CAS_SHARD_MAX_SIZE));
    REQUIRE(size_rc == (ex->size > CAS_SHARD_MAX_SIZE ? CAS_E_SHARD_TOO_LARGE : CAS_OK));
    memset(&sink, 0, sizeof sink);
    memset(&sb, 0, sizeof sb);
    if (use_callback) {
        sb.buf = buf;
        sb.cap = room;
        sb.fail = d->sink_fail;
        sb.fail_at = d->sink_fail_at;
        sink.write = rt_sink_write;
        sink.user = &sb;
    } else {
        sink.buf = buf;
        sink.cap = room - (d->small_buffer ? 1 : 0);
    }
    rc = cas_shard_write(d->walloc, files, nf, xorbs, nx, opt, &sink, &written, &e);
    REQUIRE(rc == ex->rc && e.code == rc);
    REQUIRE(written == (rc ? 0 : ex->size));
    if (rc) {
        REQUIRE(use_callback || sink.len == 0); /* a refused buffer write leaves nothing */
        free(buf);
        return rc;
    }
    REQUIRE((use_callback ? sb.len : sink.len) == ex->size);
    *out = buf;
    return rc;
}

static void rt_make_chunks(fz_in *in, cas_shard_xorb *x, cas_shard_chunk *ch, uint8_t tag) {
    uint32_t j, sum = 0;
    x->num_chunks = 1 + fz_u32(in, RT_CHUNKS);
    x->chunks = ch;
    for (j = 0; j < x->num_chunks; j++) {
        ch[j].hash.bytes[0] = (uint8_t)fz_u32(in, 6); /* repeats: chunk lookups with several hits */
        ch[j].hash.bytes[31] = tag;
        ch[j].unpacked_bytes = rt_rare(in) ? (rt_u8(in) & 1 ? 0 : 131073) : 1 + fz_u32(in, 131072);
        ch[j].byte_start = sum + (rt_rare(in) ? 1 : 0);
        ch[j].flags = fz_u32(in, 0) & (CAS_SHARD_CHUNK_GLOBAL_DEDUP | 3);
        sum += ch[j].unpacked_bytes;
    }
    x->bytes_in_xorb = sum + (rt_rare(in) ? 1 : 0);
}

static void rt_build(fz_in *in, rt_desc *d) {
    size_t i;
    uint32_t j, k;
    memset(d, 0, sizeof *d);
    d->nx = fz_u32(in, RT_XORBS + 1);
    d->nf = fz_u32(in, RT_FILES + 1);
    for (i = 0; i < d->nx; i++) {
        cas_shard_xorb *x = &d->x[i];
        /* Few distinct hashes: equal hashes, and equal lookup keys (first 8 bytes) with
           different hashes. */
        x->xorb_hash.bytes[0] = (uint8_t)fz_u32(in, 3);
        x->xorb_hash.bytes[8] = (uint8_t)fz_u32(in, 2);
        x->xorb_hash.bytes[31] = RT_TAG_LISTED;
        x->flags = fz_u32(in, 0) & 0x8000000Fu;
        x->bytes_on_disk = fz_u32(in, 0);
        rt_make_chunks(in, x, d->ch[i], RT_TAG_LISTED);
        if (rt_rare(in)) { /* corrupt counts: over the limits */
            x->num_chunks = rt_u8(in) & 1 ? CAS_XORB_MAX_CHUNKS + 1 : RT_HUGE;
            x->xorb_hash.bytes[31] = RT_TAG_BAD; /* no term names it: its chunks are missing */
        } else if (rt_rare(in)) {
            memset(x->xorb_hash.bytes, 0xFF, 32);
        }
    }
    for (i = 0; i < RT_EXT; i++) {
        d->ext[i].xorb_hash.bytes[0] = (uint8_t)i;
        d->ext[i].xorb_hash.bytes[31] = RT_TAG_EXT;
        rt_make_chunks(in, &d->ext[i], d->ext_ch[i], RT_TAG_EXT);
    }
    d->ext_error = rt_rare(in);
    for (i = 0; i < d->nf; i++) {
        cas_shard_file *f = &d->f[i];
        f->file_hash.bytes[0] = (uint8_t)fz_u32(in, 3);
        f->file_hash.bytes[8] = (uint8_t)fz_u32(in, 2);
        if (rt_rare(in)) memset(f->file_hash.bytes, 0xFF, 32);
        f->flags = fz_u32(in, 0) & (CAS_SHARD_FILE_VERIFICATION | CAS_SHARD_FILE_METADATA_EXT | 0x5u);
        f->has_sha256 = (int)fz_u32(in, 2);
        for (k = 0; k < 32; k += 8) f->sha256[k] = (uint8_t)(rt_u8(in) + k);
        if (!f->has_sha256 && !rt_rare(in)) memset(f->sha256, 0, 32); /* ignored without has_sha256 */
        f->num_terms = fz_u32(in, RT_TERMS + 1);
        f->terms = d->t[i];
        for (j = 0; j < f->num_terms; j++) {
            cas_shard_term *t = &d->t[i][j];
            const uint32_t src = fz_u32(in, 16); /* 10/16 listed, 5/16 the callback's, 1/16 unknown */
            const cas_shard_xorb *x = src < 10 && d->nx ? &d->x[src % d->nx] : src < 15 ? &d->ext[src & 1] : NULL;
            uint32_t n;
            if (x && x->num_chunks > RT_CHUNKS) x = NULL; /* RT_TAG_BAD: never named by a term */
            n = x ? x->num_chunks : RT_CHUNKS;
            uint64_t size = 0;
            cas_hash v;
            if (x) t->xorb_hash = x->xorb_hash;
            else t->xorb_hash.bytes[31] = RT_TAG_UNKNOWN;
            t->xorb_flags = fz_u32(in, 0) & 0x80000001u;
            t->chunk_start = fz_u32(in, n);
            t->chunk_end = t->chunk_start + 1 + fz_u32(in, n - t->chunk_start + (rt_rare(in) ? 2 : 0));
            if (rt_rare(in)) t->chunk_end = rt_u8(in) & 1 ? t->chunk_start : CAS_XORB_MAX_CHUNKS + 1;
            /* The true size and verification hash when the range lies inside a known xorb's
               chunks (the first listed xorb of that hash: what the writer uses). */
            if (x && rt_range(d, &t->xorb_hash, t->chunk_start, t->chunk_end, 1, 1, &size, &v) == CAS_OK) {
                t->unpacked_bytes = (uint32_t)size;
                t->verification = v;
            } else {
                t->unpacked_bytes = 1 + fz_u32(in, 131072);
            }
            if (rt_rare(in)) t->unpacked_bytes = rt_u8(in) & 1 ? 0 : t->unpacked_bytes + 1;
            if (rt_rare(in)) t->verification.bytes[5] ^= 1;
        }
    }
    d->o.flags = fz_u32(in, 16);
    d->o.creation_time = (uint64_t)fz_u32(in, 0) << 8;
    d->o.key_expiry = rt_rare(in) ? UINT64_MAX : fz_u32(in, 0);
    if (fz_u32(in, 2))
        for (k = 0; k < 32; k += 4) d->o.hmac_key.bytes[k] = rt_u8(in);
    if (fz_u32(in, 4)) {
        d->o.chunks = rt_chunks;
        d->o.chunks_user = d;
    }
    d->now = fz_u32(in, 0);
    d->small_buffer = rt_rare(in);
    d->sink_fail = rt_rare(in);
    d->sink_fail_at = fz_u32(in, 0) % 20000;
    d->alloc_fail = rt_rare(in);
}

/* Parses through a leak-checking allocator, random access and sequential (pieces of 1..64
   bytes from the input), checks both, and returns the random-access result in *s. */
static void rt_parse(fz_in *in, const rt_desc *d, const rt_expect *ex, const uint8_t *buf, cas_shard *s,
                     t_counting *ca) {
    cas_allocator al = t_counting_allocator(ca, -1);
    cas_shard_reader r;
    cas_shard b;
    cas_error e;
    size_t at = 0;
    int rc;
    REQUIRE(cas_shard_parse(&al, buf, (size_t)ex->size, s, &e) == CAS_OK);
    rt_check_shard(d, ex, s);
    cas_shard_reader_init(&al, &r);
    while (at < ex->size) {
        size_t n = 1 + (rt_u8(in) & 63);
        if (n > ex->size - at) n = (size_t)ex->size - at;
        REQUIRE(cas_shard_reader_push(&r, buf + at, n, &e) == CAS_OK);
        at += n;
    }
    rc = cas_shard_reader_finish(&r, &b, &e);
    cas_shard_reader_free(&r);
    REQUIRE(rc == CAS_OK);
    rt_check_shard(d, ex, &b);
    cas_shard_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in;
    rt_desc d;
    rt_expect ex;
    cas_shard s;
    t_counting ca, wa;
    cas_allocator walloc;
    uint8_t *buf = NULL, *again = NULL;
    int use_callback;
    in.p = data;
    in.n = size;
    rt_build(&in, &d);
    use_callback = (int)fz_u32(&in, 2);
    if (!use_callback) d.sink_fail = 0; /* a buffer sink cannot fail */
    else d.small_buffer = 0;             /* a callback sink has no capacity */
    walloc = t_counting_allocator(&wa, d.alloc_fail ? (long)fz_u32(&in, 3) : -1);
    d.walloc = &walloc;
    rt_predict(&d, &ex);
    if (rt_write(d.f, d.nf, d.x, d.nx, &d.o, &d, &ex, use_callback, &buf) != CAS_OK) {
        REQUIRE(wa.live == 0);
        return 0;
    }
    REQUIRE(wa.live == 0);
    rt_parse(&in, &d, &ex, buf, &s, &ca);
    rt_check_lookups(&d, &ex, &s);
    rt_check_terms(&d, &ex, &s);
    {
        /* The parsed shard written again (its verification entries and stored chunk hashes
           as they are, its order kept) gives the same bytes. */
        cas_shard_write_desc o = d.o;
        rt_expect ex2 = ex;
        o.flags &= CAS_SHARD_WITH_FOOTER | CAS_SHARD_SORTED;
        o.chunks = NULL;
        d.walloc = NULL;
        ex2.rc = CAS_OK;
        d.small_buffer = d.sink_fail = 0;
        REQUIRE(rt_write(s.files, s.num_files, s.xorbs, s.num_xorbs, &o, &d, &ex2, !use_callback, &again) == CAS_OK);
        REQUIRE(!memcmp(buf, again, (size_t)ex.size));
    }
    cas_shard_free(&s);
    REQUIRE(ca.live == 0);
    free(buf);
    free(again);
    return 0;
}
