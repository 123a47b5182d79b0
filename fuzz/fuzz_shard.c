/* Shards from arbitrary bytes. The first byte picks the mode:
   even: the rest is a shard. The random-access reader (cas_shard_parse) and the sequential
         reader (fed in piece sizes taken from the input) must agree: same result code and
         error offset, or the same object. A parsed shard must answer its own lookups, and one
         whose files carry verification entries must write back (upload and full form) into a
         shard that parses to the same files and xorbs.
   odd:  the rest describes a shard (counts, hashes, sizes, ranges); the writer's output in
         both forms must parse back to that description. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"
#include <stdlib.h>
#include <string.h>


static int fz_same_content(const cas_shard *a, const cas_shard *b) {
    size_t i;
    if (a->num_files != b->num_files || a->num_xorbs != b->num_xorbs) return 0;
    for (i = 0; i < a->num_files; i++) {
        const cas_shard_file *x = &a->files[i], *y = &b->files[i];
        if (!cas_hash_equal(&x->file_hash, &y->file_hash) || x->num_terms != y->num_terms ||
            x->has_sha256 != y->has_sha256 || memcmp(x->sha256, y->sha256, 32) || x->size != y->size ||
            (x->num_terms && memcmp(x->terms, y->terms, x->num_terms * sizeof *x->terms)))
            return 0;
    }
    for (i = 0; i < a->num_xorbs; i++) {
        const cas_shard_xorb *x = &a->xorbs[i], *y = &b->xorbs[i];
        if (!cas_hash_equal(&x->xorb_hash, &y->xorb_hash) || x->flags != y->flags ||
            x->num_chunks != y->num_chunks || x->bytes_in_xorb != y->bytes_in_xorb ||
            x->bytes_on_disk != y->bytes_on_disk ||
            memcmp(x->chunks, y->chunks, x->num_chunks * sizeof *x->chunks))
            return 0;
    }
    return 1;
}

static int fz_same(const cas_shard *a, const cas_shard *b) {
    size_t i;
    if (a->size != b->size || a->footer_size != b->footer_size || a->has_footer != b->has_footer ||
        a->keyed != b->keyed || memcmp(&a->footer, &b->footer, sizeof a->footer) || !fz_same_content(a, b))
        return 0;
    for (i = 0; i < a->num_files; i++)
        if (a->files[i].flags != b->files[i].flags || a->files[i].offset != b->files[i].offset) return 0;
    for (i = 0; i < a->num_xorbs; i++)
        if (a->xorbs[i].offset != b->xorbs[i].offset) return 0;
    return 1;
}

/* Writes s's content with `flags`, parses it back: same content, or abort. */
static void fz_write_back(const cas_shard *s, unsigned flags) {
    cas_shard_write_desc o;
    cas_sink sink;
    cas_shard t;
    cas_error e;
    uint64_t size;
    uint8_t *buf;
    int rc;
    memset(&o, 0, sizeof o);
    o.flags = flags;
    o.hmac_key = s->footer.hmac_key;
    if (cas_shard_write_size(s->files, s->num_files, s->xorbs, s->num_xorbs, flags, &size)) return;
    buf = (uint8_t *)malloc((size_t)size);
    if (!buf) abort();
    memset(&sink, 0, sizeof sink);
    sink.buf = buf;
    sink.cap = (size_t)size;
    rc = cas_shard_write(NULL, s->files, s->num_files, s->xorbs, s->num_xorbs, &o, &sink, NULL, &e);
    if (rc != CAS_OK || sink.len != size) abort();
    if (cas_shard_parse(NULL, buf, sink.len, &t, &e) != CAS_OK || !fz_same_content(s, &t)) abort();
    cas_shard_free(&t);
    free(buf);
}

static void fz_parse(const uint8_t *data, size_t size) {
    cas_shard a, b;
    cas_shard_reader r;
    cas_error ea, eb;
    size_t at = 0, i, step = 1 + (size ? data[0] % 61 : 0);
    int ra, rb = CAS_OK, all_verified = 1;
    ra = cas_shard_parse(NULL, data, size, &a, &ea);
    cas_shard_reader_init(NULL, &r);
    while (at < size && rb == CAS_OK) {
        size_t n = step + (data[at] & 7);
        if (n > size - at) n = size - at;
        rb = cas_shard_reader_push(&r, data + at, n, &eb);
        at += n;
    }
    if (rb == CAS_OK) rb = cas_shard_reader_finish(&r, &b, &eb);
    else memset(&b, 0, sizeof b);
    cas_shard_reader_free(&r);
    if (ra != rb) abort();
    if (ra != CAS_OK) {
        if (ea.offset != eb.offset || ea.offset > size) abort();
        return;
    }
    if (!fz_same(&a, &b)) abort();
    for (i = 0; i < a.num_files; i++) {
        const cas_shard_file *f = cas_shard_find_file(&a, &a.files[i].file_hash);
        if (!f || !cas_hash_equal(&f->file_hash, &a.files[i].file_hash) || f > &a.files[i]) abort();
        if (!(a.files[i].flags & CAS_SHARD_FILE_VERIFICATION)) all_verified = 0;
    }
    for (i = 0; i < a.num_xorbs; i++) {
        cas_shard_chunk_match m[4];
        cas_hash q = a.xorbs[i].chunks[0].hash;
        if (!cas_shard_find_xorb(&a, &a.xorbs[i].xorb_hash)) abort();
        if (!a.keyed && cas_shard_find_chunk(&a, &q, 0, m, 4) == 0) abort();
    }
    (void)cas_shard_check_terms(&a, NULL, NULL, NULL, NULL, &ea);
    if (all_verified) {
        fz_write_back(&a, 0);
        fz_write_back(&a, CAS_SHARD_WITH_FOOTER); /* same order, same chunk flags */
    }
    cas_shard_free(&a);
    cas_shard_free(&b);
}

static void fz_build(const uint8_t *data, size_t size) {
    fz_in in;
    cas_shard_xorb x[4];
    cas_shard_chunk ch[4][16];
    cas_shard_file f[4];
    cas_shard_term t[4][8];
    size_t nx, nf, i, j;
    int form;
    in.p = data;
    in.n = size;
    memset(x, 0, sizeof x);
    memset(ch, 0, sizeof ch);
    memset(f, 0, sizeof f);
    memset(t, 0, sizeof t);
    nx = fz_u32(&in, 5);
    nf = fz_u32(&in, 5);
    for (i = 0; i < nx; i++) {
        uint32_t sum = 0;
        x[i].xorb_hash.bytes[0] = (uint8_t)fz_u32(&in, 4); /* few distinct hashes: duplicates */
        x[i].xorb_hash.bytes[1] = (uint8_t)i;
        x[i].num_chunks = 1 + fz_u32(&in, 16);
        x[i].chunks = ch[i];
        x[i].bytes_on_disk = fz_u32(&in, 0);
        for (j = 0; j < x[i].num_chunks; j++) {
            ch[i][j].hash.bytes[0] = (uint8_t)fz_u32(&in, 8);
            ch[i][j].hash.bytes[31] = (uint8_t)fz_u32(&in, 0);
            ch[i][j].unpacked_bytes = 1 + fz_u32(&in, 131072);
            ch[i][j].byte_start = sum;
            ch[i][j].flags = fz_u32(&in, 0) & CAS_SHARD_CHUNK_GLOBAL_DEDUP;
            sum += ch[i][j].unpacked_bytes;
        }
        x[i].bytes_in_xorb = sum;
    }
    for (i = 0; i < nf; i++) {
        f[i].file_hash.bytes[0] = (uint8_t)fz_u32(&in, 0);
        f[i].has_sha256 = (int)fz_u32(&in, 2);
        f[i].sha256[7] = (uint8_t)i;
        f[i].num_terms = nx ? fz_u32(&in, 9) : 0;
        f[i].terms = t[i];
        for (j = 0; j < f[i].num_terms; j++) {
            const cas_shard_xorb *xx = &x[fz_u32(&in, (uint32_t)nx)], *first = xx;
            uint32_t k, sum = 0;
            size_t q;
            for (q = 0; q < nx; q++) /* a duplicate hash resolves to the first such xorb */
                if (cas_hash_equal(&x[q].xorb_hash, &xx->xorb_hash)) {
                    first = &x[q];
                    break;
                }
            t[i][j].xorb_hash = first->xorb_hash;
            t[i][j].chunk_start = fz_u32(&in, first->num_chunks);
            t[i][j].chunk_end = t[i][j].chunk_start + 1 + fz_u32(&in, first->num_chunks - t[i][j].chunk_start);
            for (k = t[i][j].chunk_start; k < t[i][j].chunk_end; k++) sum += first->chunks[k].unpacked_bytes;
            t[i][j].unpacked_bytes = sum;
        }
    }
    for (form = 0; form < 2; form++) {
        cas_shard_write_desc o;
        cas_sink sink;
        cas_shard s;
        cas_error e;
        uint64_t n;
        uint8_t *buf;
        memset(&o, 0, sizeof o);
        o.flags = form ? CAS_SHARD_WITH_FOOTER | (fz_u32(&in, 2) ? CAS_SHARD_SORTED : 0) : 0;
        o.key_expiry = fz_u32(&in, 0);
        if (cas_shard_write_size(f, nf, x, nx, o.flags, &n)) abort();
        buf = (uint8_t *)malloc((size_t)n);
        if (!buf) abort();
        memset(&sink, 0, sizeof sink);
        sink.buf = buf;
        sink.cap = (size_t)n;
        if (cas_shard_write(NULL, f, nf, x, nx, &o, &sink, NULL, &e) != CAS_OK || sink.len != n) abort();
        if (cas_shard_parse(NULL, buf, (size_t)n, &s, &e) != CAS_OK) abort();
        if (s.num_files != nf || s.num_xorbs != nx || s.has_footer != form) abort();
        if (!(o.flags & CAS_SHARD_SORTED)) {
            for (i = 0; i < nf; i++)
                if (s.files[i].num_terms != f[i].num_terms || !cas_hash_equal(&s.files[i].file_hash, &f[i].file_hash) ||
                    (f[i].num_terms && memcmp(&s.files[i].terms[0].xorb_hash, &f[i].terms[0].xorb_hash, 32)))
                    abort();
            for (i = 0; i < nx; i++)
                if (s.xorbs[i].num_chunks != x[i].num_chunks ||
                    memcmp(s.xorbs[i].chunks, x[i].chunks, x[i].num_chunks * sizeof *x[i].chunks))
                    abort();
        }
        if (cas_shard_check_terms(&s, NULL, NULL, NULL, NULL, &e) != CAS_OK) abort();
        fz_parse(buf, (size_t)n);
        cas_shard_free(&s);
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) fz_build(data + 1, size - 1);
    else fz_parse(data + 1, size - 1);
    return 0;
}
