/* The JSON reader and the reconstruction / batch / token parsers on arbitrary bytes.
   data[0] picks the parser (bits 0-1: v2, v1, batch, token) and options (bit 2 LAST_WINS,
   bit 3 HEX_ANY_CASE, bits 4-5 max_depth 32/2/8/1024, bit 6 max_string 64, bit 7 max_body
   1024); data[1] is the index of an allocation to fail (255: none). The rest is the body
   (a zstd frame is decompressed, as in production).
   Oracles: no crash/UB/leak; every allocation freed with its size; a failed allocation
   surfaces as CAS_E_NOMEM and nothing else does; an accepted result satisfies every documented
   invariant (checked naively below) and is the same with and without allocation failures;
   the reader's tokens are sane (offsets increase, strings decode to valid UTF-8 of t.len
   bytes, depth within the limit) and a parsed plain body is valid JSON for the reader. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        int k, j;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
        else return 0;
        for (j = 1; j <= k; j++) {
            if (i + (size_t)j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)k + 1;
    }
    return 1;
}

static void check_reader(const uint8_t *p, size_t n, const cas_json_desc *o, int must_accept) {
    cas_json_reader r;
    cas_json_token t;
    uint64_t last = 0;
    uint32_t max_depth = o->max_depth ? o->max_depth : CAS_JSON_MAX_DEPTH;
    int rc = cas_json_reader_init(&r, p, n, o), first = 1;
    while (rc == CAS_OK) {
        rc = cas_json_next(&r, &t);
        if (rc != CAS_OK) break;
        REQUIRE(first || t.offset > last);
        REQUIRE(t.offset < n && t.depth <= max_depth);
        first = 0;
        last = t.offset;
        if (t.type == CAS_JSON_STRING || t.type == CAS_JSON_KEY) {
            char *d = (char *)malloc(t.len + 1);
            REQUIRE(d && t.len <= t.raw_len);
            REQUIRE(cas_json_string(&t, d, t.len + 1) == CAS_OK && d[t.len] == 0 && strlen(d) == t.len);
            REQUIRE(valid_utf8((const uint8_t *)d, t.len));
            REQUIRE(cas_json_equals(&t, d));
            free(d);
        } else if (t.type == CAS_JSON_NUMBER) {
            uint64_t v;
            REQUIRE(t.raw_len > 0);
            (void)cas_json_uint(&t, UINT64_MAX, &v);
        }
    }
    REQUIRE(rc < 0 ? r.error.code == rc && r.error.what[0] && r.error.offset <= n : rc == CAS_END);
    if (must_accept) REQUIRE(rc == CAS_END);
}

static int visible(const char *s, size_t n) {
    size_t i;
    if (!s || n == 0 || strlen(s) != n) return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7E) return 0;
    return 1;
}
static int http(const char *s, size_t n) {
    size_t i;
    char h[9] = {0};
    for (i = 0; i < 8 && i < n; i++) h[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    return !strncmp(h, "https://", 8) || !strncmp(h, "http://", 7);
}

static void check_xorbs(const cas_recon_xorb *x, size_t nx, int version) {
    size_t i, j, k;
    REQUIRE((nx == 0) == (x == NULL));
    for (i = 0; i < nx; i++) {
        if (i) REQUIRE(memcmp(x[i - 1].hash.bytes, x[i].hash.bytes, 32) < 0);
        REQUIRE(cas_recon_find_xorb(x, nx, &x[i].hash) == &x[i]);
        for (j = 0; j < x[i].num_fetches; j++) {
            const cas_recon_fetch *f = &x[i].fetches[j];
            REQUIRE(visible(f->url, f->url_len) && http(f->url, f->url_len));
            REQUIRE(f->num_ranges >= 1 && (version == 2 || f->num_ranges == 1));
            for (k = 0; k < f->num_ranges; k++) {
                const cas_recon_range *g = &f->ranges[k];
                uint64_t c = g->chunk_end - g->chunk_start, b;
                REQUIRE(g->chunk_start < g->chunk_end && g->chunk_end <= 8192);
                REQUIRE(g->byte_start <= g->byte_end && g->byte_end < (64u << 20));
                b = g->byte_end - g->byte_start + 1;
                REQUIRE(b >= 9 * c && b <= 262152 * c);
                if (k) REQUIRE(f->ranges[k - 1].chunk_end <= g->chunk_start && f->ranges[k - 1].byte_end < g->byte_start);
            }
        }
    }
}

static void check_terms(const cas_recon_term *t, size_t nt, const cas_recon_xorb *x, size_t nx) {
    size_t i;
    REQUIRE((nt == 0) == (t == NULL));
    for (i = 0; i < nt; i++) {
        uint64_t n = t[i].chunk_end - t[i].chunk_start;
        const cas_recon_range *g;
        REQUIRE(t[i].chunk_start < t[i].chunk_end && t[i].chunk_end <= 8192);
        REQUIRE(t[i].unpacked_length >= n && t[i].unpacked_length <= n * 131072);
        REQUIRE(t[i].xorb < nx && cas_hash_equal(&x[t[i].xorb].hash, &t[i].hash));
        REQUIRE(t[i].fetch < x[t[i].xorb].num_fetches);
        REQUIRE(t[i].range < x[t[i].xorb].fetches[t[i].fetch].num_ranges);
        g = &x[t[i].xorb].fetches[t[i].fetch].ranges[t[i].range];
        REQUIRE(g->chunk_start <= t[i].chunk_start && t[i].chunk_end <= g->chunk_end);
    }
}

static int same_bytes(const void *a, const void *b, size_t n) { return n == 0 || memcmp(a, b, n) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint32_t depths[4] = {0, 2, 8, CAS_JSON_DEPTH_CAP};
    cas_json_desc o;
    int kind, pass, rc[2] = {0, 0};
    long fail_at;
    const uint8_t *body;
    size_t len;
    cas_recon rr[2];
    cas_recon_batch bb[2];
    cas_xet_token tt[2];
    t_counting fas[2];
    if (size < 2) return 0;
    memset(&o, 0, sizeof o);
    kind = data[0] & 3;
    o.flags = (data[0] & 4 ? CAS_JSON_LAST_WINS : 0) | (data[0] & 8 ? CAS_JSON_HEX_ANY_CASE : 0);
    o.max_depth = depths[data[0] >> 4 & 3];
    if (data[0] & 64) o.max_string = 64;
    if (data[0] & 128) o.max_body = 1024;
    fail_at = data[1] == 255 ? -1 : data[1];
    body = data + 2;
    len = size - 2;
    memset(rr, 0, sizeof rr);
    memset(bb, 0, sizeof bb);
    memset(tt, 0, sizeof tt);

    memset(fas, 0, sizeof fas);
    for (pass = 0; pass < 2; pass++) { /* pass 0: no failures; pass 1: fail allocation fail_at */
        t_counting *fa = &fas[pass];
        cas_allocator al = t_counting_allocator(fa, pass ? fail_at : -1);
        cas_error e;
        if (kind <= 1)
            rc[pass] = cas_recon_parse(&al, body, len, kind == 0 ? 2 : 1, &o, &rr[pass], &e);
        else if (kind == 2)
            rc[pass] = cas_recon_batch_parse(&al, body, len, &o, &bb[pass], &e);
        else
            rc[pass] = cas_xet_token_parse(&al, body, len, &o, &tt[pass], &e);
        REQUIRE(e.code == rc[pass]);
        REQUIRE(rc[pass] <= 0);
        if (fa->failed) REQUIRE(rc[pass] == CAS_E_NOMEM);
        else REQUIRE(rc[pass] != CAS_E_NOMEM);
        if (rc[pass] == CAS_OK) {
            REQUIRE(!e.what[0] && e.offset == 0);
            REQUIRE(fa->live <= 1); /* one block */
            if (kind <= 1) {
                REQUIRE(rr[pass].version == (kind == 0 ? 2 : 1));
                check_xorbs(rr[pass].xorbs, rr[pass].num_xorbs, rr[pass].version);
                check_terms(rr[pass].terms, rr[pass].num_terms, rr[pass].xorbs, rr[pass].num_xorbs);
                REQUIRE(rr[pass].num_terms ? rr[pass].offset_into_first_range < rr[pass].terms[0].unpacked_length
                                           : rr[pass].offset_into_first_range == 0);
            } else if (kind == 2) {
                size_t i;
                check_xorbs(bb[pass].xorbs, bb[pass].num_xorbs, 1);
                REQUIRE((bb[pass].num_files == 0) == (bb[pass].files == NULL));
                for (i = 0; i < bb[pass].num_files; i++) {
                    if (i) REQUIRE(memcmp(bb[pass].files[i - 1].hash.bytes, bb[pass].files[i].hash.bytes, 32) < 0);
                    REQUIRE(cas_recon_batch_find_file(&bb[pass], &bb[pass].files[i].hash) == &bb[pass].files[i]);
                    REQUIRE(bb[pass].files[i].num_terms == 0 || bb[pass].files[i].terms != NULL);
                    if (bb[pass].files[i].num_terms)
                        check_terms(bb[pass].files[i].terms, bb[pass].files[i].num_terms, bb[pass].xorbs, bb[pass].num_xorbs);
                }
            } else {
                REQUIRE(visible(tt[pass].access_token, tt[pass].access_token_len));
                REQUIRE(visible(tt[pass].cas_url, tt[pass].cas_url_len) && http(tt[pass].cas_url, tt[pass].cas_url_len));
                REQUIRE(tt[pass].exp >= 0);
            }
        } else {
            REQUIRE(fa->live == 0);
            REQUIRE(rr[pass].priv_block == NULL && bb[pass].priv_block == NULL && tt[pass].priv_block == NULL);
        }
        if (pass == 1 && rc[0] == CAS_OK && rc[1] == CAS_OK) { /* the same result either way */
            if (kind <= 1) {
                REQUIRE(rr[0].num_terms == rr[1].num_terms && rr[0].num_xorbs == rr[1].num_xorbs);
                REQUIRE(rr[0].priv_size == rr[1].priv_size);
                REQUIRE(same_bytes(rr[0].terms, rr[1].terms, rr[0].num_terms * sizeof *rr[0].terms));
            } else if (kind == 2) {
                REQUIRE(bb[0].num_files == bb[1].num_files && bb[0].num_xorbs == bb[1].num_xorbs);
            } else {
                REQUIRE(tt[0].exp == tt[1].exp && !strcmp(tt[0].access_token, tt[1].access_token) &&
                        !strcmp(tt[0].cas_url, tt[1].cas_url));
            }
        }
        if (pass == 1 && rc[0] != CAS_OK && !fa->failed) REQUIRE(rc[1] == rc[0]);
    }
    for (pass = 0; pass < 2; pass++) {
        cas_recon_free(&rr[pass]);
        cas_recon_batch_free(&bb[pass]);
        cas_xet_token_free(&tt[pass]);
        REQUIRE(fas[pass].live == 0);
    }
    /* the reader on the same bytes: a plain body the parser took is JSON for the reader */
    check_reader(body, len, &o, rc[0] == CAS_OK && !cas_zstd_is_frame(body, len) && kind != 3);
    return 0;
}
