/* The three xorb readers agree on arbitrary bytes: cas_xorb_walk over the whole input, the
   same records walked as range segments cut at record boundaries, cas_xorb_next, and
   cas_xorb_stream_push fed in random piece sizes (1 byte .. all of it). The first byte seeds
   the piece sizes and the cuts.

   Plain input (no footer and no "XETBLOB" anywhere): every reader yields the same chunks
   (index, record offset, header, decoded bytes by hash) and the same result: the same error
   code at the same offset, except that a truncated record (not a truncated LZ4 frame inside a
   whole record) is reported at its start by the walk
   and at the end of the input by the stream (both checked), and that the stream refuses an
   8193rd record on its header (CAS_E_XORB_LIMIT) where the walk first sees it truncated. A
   segment starting at the failing record fails the same way, its offset relative.
   Stored xorb (a valid footer): the stream checks only the footer's length word, so: the walk
   accepts => the stream accepts with the same chunks; a record error inside the record area
   is the same error for both. Otherwise: the chunks both produced are the same, and the walk
   accepts => the stream accepts. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"


typedef struct {
    uint64_t offset;
    cas_chunk_header h;
    cas_hash hash;
} rec;

typedef struct {
    rec r[CAS_XORB_MAX_CHUNKS + 1];
    uint32_t n;
    uint64_t base; /* added to the offsets (segments) */
} rec_list;

static rec_list g_walk, g_stream, g_seg;
static uint8_t g_scratch[2 * CAS_CHUNK_MAX_SIZE];

static int collect(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                   const uint8_t *data, const cas_hash *hash) {
    rec_list *l = (rec_list *)user;
    (void)data;
    REQUIRE(index == l->n && l->n <= CAS_XORB_MAX_CHUNKS);
    l->r[l->n].offset = l->base + offset;
    l->r[l->n].h = *h;
    l->r[l->n].hash = *hash;
    l->n++;
    return 0;
}

static int rec_equal(const rec *a, const rec *b) {
    return a->offset == b->offset && a->h.version == b->h.version && a->h.scheme == b->h.scheme &&
           a->h.compressed_size == b->h.compressed_size &&
           a->h.uncompressed_size == b->h.uncompressed_size && cas_hash_equal(&a->hash, &b->hash);
}

static int has_ident(const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i + 7 <= n; i++)
        if (p[i] == 'X' && memcmp(p + i, "XETBLOB", 7) == 0) return 1;
    return 0;
}

static size_t piece_size(t_rng *r, size_t left) {
    uint64_t v = t_next(r);
    size_t p;
    switch (v & 3) {
    case 0: p = (size_t)(v >> 8) % 16 + 1; break;
    case 1: p = (size_t)(v >> 8) % 300 + 1; break;
    case 2: p = (size_t)(v >> 8) % 70000 + 1; break;
    default: p = left; break;
    }
    return p < left ? p : left;
}

/* Streams data[0..size) in random pieces into g_stream; the final result (push error or
   finish) and its error. */
static int stream_all(const uint8_t *data, size_t size, t_rng *r, cas_error *err) {
    cas_xorb_stream st;
    cas_xorb_stream_chunk out;
    size_t pos = 0;
    int rc = CAS_OK;
    g_stream.n = 0;
    g_stream.base = 0;
    REQUIRE(cas_xorb_stream_init(NULL, &st) == CAS_OK);
    while (pos < size && rc >= 0) {
        size_t piece = piece_size(r, size - pos), used;
        const uint8_t *at = data + pos;
        rc = cas_xorb_stream_push(&st, at, piece, &used, &out);
        REQUIRE(used <= piece);
        pos += used;
        if (rc == CAS_READY) {
            rec *x = &g_stream.r[g_stream.n];
            REQUIRE(g_stream.n <= CAS_XORB_MAX_CHUNKS && out.index == g_stream.n);
            x->offset = out.offset;
            x->h = out.header;
            cas_chunk_hash(out.data, out.header.uncompressed_size, &x->hash);
            g_stream.n++;
        } else if (rc >= 0) {
            REQUIRE(rc == CAS_NEED_INPUT && used == piece);
        }
    }
    if (rc >= 0) rc = cas_xorb_stream_finish(&st);
    REQUIRE(rc == st.error.code || (rc == CAS_OK && st.error.code == CAS_OK));
    *err = st.error;
    cas_xorb_stream_free(&st);
    return rc;
}

/* Walks data[a..b) as a segment (an exact-size copy) into g_seg. */
static int walk_segment(const uint8_t *data, size_t a, size_t b, cas_xorb_info *info, cas_error *err) {
    uint8_t *seg = (uint8_t *)malloc(b - a ? b - a : 1);
    int rc;
    REQUIRE(seg != NULL);
    if (b > a) memcpy(seg, data + a, b - a);
    g_seg.n = 0;
    g_seg.base = a;
    rc = cas_xorb_walk(seg, b - a, g_scratch, collect, &g_seg, info, err);
    free(seg);
    return rc;
}

/* Cuts the records [0, end) (g_walk.r[0..count) start there) into segments at random record
   boundaries: each walks to exactly its records. */
static void check_segments(const uint8_t *data, uint32_t count, uint64_t end, t_rng *r) {
    uint32_t i = 0;
    while (i < count) {
        uint32_t left = count - i, span = (t_next(r) & 1) ? (left < 4 ? left : 4) : left;
        uint32_t j = i + 1 + (uint32_t)(t_next(r) % span);
        uint64_t a = g_walk.r[i].offset, b = j < count ? g_walk.r[j].offset : end, k, unpacked = 0;
        cas_xorb_info info;
        cas_error err;
        if (has_ident(data + a, (size_t)(b - a))) return; /* might read as a footer */
        REQUIRE(walk_segment(data, (size_t)a, (size_t)b, &info, &err) == CAS_OK);
        REQUIRE(g_seg.n == j - i && info.num_chunks == j - i && info.records_size == b - a && !info.has_footer);
        for (k = 0; k < j - i; k++) {
            REQUIRE(rec_equal(&g_seg.r[k], &g_walk.r[i + k]));
            unpacked += g_seg.r[k].h.uncompressed_size;
        }
        REQUIRE(info.unpacked_size == unpacked);
        i = j;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cas_xorb_info winfo;
    cas_xorb_footer f;
    cas_error werr, serr, ferr, nerr;
    t_rng r;
    int walk_rc, stream_rc, frc, plain, record_error;
    uint32_t i, common;
    uint64_t good_end; /* end of the last record the walk accepted */
    if (size < 1) return 0;
    r.state = (uint64_t)data[0] * 0x100000001ull + size;
    data++;
    size--;

    g_walk.n = 0;
    g_walk.base = 0;
    memset(&werr, 0, sizeof werr);
    walk_rc = cas_xorb_walk(data, size, g_scratch, collect, &g_walk, &winfo, &werr);
    REQUIRE(walk_rc == werr.code && werr.offset <= size);
    good_end = g_walk.n ? g_walk.r[g_walk.n - 1].offset + CAS_CHUNK_HEADER_SIZE +
                              g_walk.r[g_walk.n - 1].h.compressed_size
                        : 0;
    if (walk_rc == CAS_OK) {
        uint64_t unpacked = 0;
        for (i = 0; i < g_walk.n; i++) unpacked += g_walk.r[i].h.uncompressed_size;
        REQUIRE(winfo.num_chunks == g_walk.n && winfo.unpacked_size == unpacked &&
              winfo.records_size == good_end);
        REQUIRE(winfo.has_footer || winfo.records_size == size);
    }
    /* an error in a record's header or framing (not in its payload's decoding) */
    record_error = walk_rc < 0 && werr.offset < good_end + CAS_CHUNK_HEADER_SIZE &&
                   (walk_rc == CAS_E_TRUNCATED || walk_rc == CAS_E_CHUNK_VERSION ||
                    walk_rc == CAS_E_CHUNK_SCHEME || walk_rc == CAS_E_CHUNK_SIZE);
    frc = cas_xorb_footer_find(data, size, &f, &ferr);
    REQUIRE(frc == CAS_OK || frc == CAS_END || frc == CAS_E_XORB_FOOTER);
    plain = frc == CAS_END && !has_ident(data, size);

    /* cas_xorb_next over the record area: the walk's records */
    if (frc != CAS_E_XORB_FOOTER) {
        size_t pos = 0, rec_len = frc == CAS_OK ? (size_t)f.offset : size;
        uint32_t k = 0;
        int nrc;
        for (;;) {
            cas_chunk_header h;
            const uint8_t *payload;
            size_t at = pos;
            nrc = cas_xorb_next(data, rec_len, &pos, &h, &payload, &nerr);
            if (nrc != CAS_OK) break;
            REQUIRE(payload == data + at + CAS_CHUNK_HEADER_SIZE && pos == at + CAS_CHUNK_HEADER_SIZE + h.compressed_size);
            if (k < g_walk.n) {
                rec x = g_walk.r[k];
                x.offset = at;
                x.h = h;
                REQUIRE(rec_equal(&x, &g_walk.r[k]));
            }
            k++;
        }
        if (walk_rc == CAS_OK) REQUIRE(nrc == CAS_END && k == g_walk.n && pos == winfo.records_size);
        if (plain && record_error)
            REQUIRE(nrc == walk_rc && nerr.offset == werr.offset && k == g_walk.n);
    }

    /* the stream */
    stream_rc = stream_all(data, size, &r, &serr);
    common = g_walk.n < g_stream.n ? g_walk.n : g_stream.n;
    for (i = 0; i < common; i++) REQUIRE(rec_equal(&g_stream.r[i], &g_walk.r[i]));
    if (walk_rc == CAS_OK) REQUIRE(stream_rc == CAS_OK && g_stream.n == g_walk.n);
    if (plain || (frc == CAS_OK && walk_rc != CAS_E_XORB_FOOTER && walk_rc != CAS_E_HASH &&
                  walk_rc != CAS_E_TRUNCATED)) {
        if (record_error && walk_rc == CAS_E_TRUNCATED && stream_rc == CAS_E_XORB_LIMIT) {
            REQUIRE(g_walk.n == CAS_XORB_MAX_CHUNKS && g_stream.n == g_walk.n && serr.offset == werr.offset);
        } else {
            REQUIRE(stream_rc == walk_rc && g_stream.n == g_walk.n);
            if (record_error && walk_rc == CAS_E_TRUNCATED) REQUIRE(werr.offset == good_end && serr.offset == size);
            else REQUIRE(serr.offset == werr.offset);
        }
    }

    /* segments: the accepted records cut at record boundaries; then, in plain input, the
       failing tail alone fails the same way */
    if (frc != CAS_E_XORB_FOOTER) {
        check_segments(data, g_walk.n, walk_rc == CAS_OK ? winfo.records_size : good_end, &r);
        if (plain && walk_rc < 0 && walk_rc != CAS_E_XORB_LIMIT && g_walk.n > 0) {
            cas_xorb_info sinfo;
            cas_error e;
            int src = walk_segment(data, (size_t)good_end, size, &sinfo, &e);
            REQUIRE(src == walk_rc && g_seg.n == 0 && e.offset + good_end == werr.offset);
        }
    }
    return 0;
}
