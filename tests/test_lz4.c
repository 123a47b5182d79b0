/* Tests of the LZ4 / XXH32 / BG4 sections of cas.h, with liblz4 and the lz4 CLI as oracles.
   make build/test_lz4 (links liblz4: a test-only oracle)
    */
#define _POSIX_C_SOURCE 200809L
#define CAS_IMPLEMENTATION
#include "testlib.h"

#include <lz4.h>
#include <lz4frame.h>
#include <lz4hc.h>

/* ---- inputs ---- */

static t_rng g_rng = {0x1234567};
static uint64_t rnd(void) { return t_next(&g_rng); }

enum { K_RANDOM, K_TEXT, K_ZERO, K_FLOAT32, K_BF16, K_LOWENT, K_COUNT };
static const char *kind_name[K_COUNT] = {"random", "text", "zero", "float32", "bf16", "lowent"};

/* N(0, 0.02)-like weights: Irwin-Hall sum of 4 uniforms (no libm needed). */
/* The bits of a small float32 weight; gen stores them little-endian, as safetensors does on
   every host, so a big-endian run sees the same kind of bytes. */
static uint32_t weight_bits(void) {
    double s = 0;
    int k;
    float f;
    uint32_t u;
    for (k = 0; k < 4; k++) s += (double)(rnd() >> 11) / 9007199254740992.0;
    f = (float)((s - 2.0) * 0.035);
    memcpy(&u, &f, 4);
    return u;
}

static void gen(int kind, uint8_t *p, size_t n) {
    static const char *words[32] = {
        "the",    "of",    "and",   "model",  "tensor", "weight", "layer", "xet",
        "chunk",  "hash",  "data",  "file",   "byte",   "merkle", "shard", "hub",
        "return", "int",   "if",    "while",  "struct", "size_t", "const", "static",
        "upload", "token", "cache", "server", "range",  "offset", "frame", "block"};
    size_t i = 0;
    switch (kind) {
    case K_RANDOM:
        while (i < n) {
            uint64_t v = rnd();
            int k;
            for (k = 0; k < 8 && i < n; k++) p[i++] = (uint8_t)(v >> (8 * k));
        }
        break;
    case K_TEXT:
        while (i < n) {
            uint64_t v = rnd();
            const char *w = words[v & 31];
            size_t k;
            if (((v >> 8) & 15) == 0) { /* a number now and then */
                char num[24];
                int len = snprintf(num, sizeof num, "%u", (unsigned)(v >> 40) % 100000u);
                for (k = 0; k < (size_t)len && i < n; k++) p[i++] = (uint8_t)num[k];
            } else {
                for (k = 0; w[k] && i < n; k++) p[i++] = (uint8_t)w[k];
            }
            if (i < n) p[i++] = ((v >> 16) & 7) == 0 ? '\n' : ((v >> 19) & 7) == 0 ? ',' : ' ';
        }
        break;
    case K_ZERO:
        memset(p, 0, n);
        break;
    case K_FLOAT32:
        for (; i + 4 <= n; i += 4) t_store_le32(p + i, weight_bits());
        for (; i < n; i++) p[i] = (uint8_t)rnd();
        break;
    case K_BF16:
        for (; i + 2 <= n; i += 2) { /* the top half of the float32, little-endian */
            uint32_t u = weight_bits();
            p[i] = (uint8_t)(u >> 16);
            p[i + 1] = (uint8_t)(u >> 24);
        }
        for (; i < n; i++) p[i] = (uint8_t)rnd();
        break;
    default:
        for (; i < n; i++) p[i] = (uint8_t)(rnd() >> 61);
        break;
    }
}

static uint8_t *xmalloc(size_t n) { return (uint8_t *)t_xmalloc(n); }

/* A copy in a buffer of exactly n bytes, so ASan sees any read past it. */
static uint8_t *exact_copy(const uint8_t *p, size_t n) {
    uint8_t *q = xmalloc(n);
    if (n) memcpy(q, p, n);
    return q;
}

/* ---- liblz4 frame helpers ---- */

/* Decodes a whole frame with LZ4F_decompress; 0 on success with *out_len. */
static int lz4f_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len) {
    LZ4F_dctx *d;
    size_t in = 0, out = 0, r = 1;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) return -1;
    while (in < len && r != 0) {
        size_t sn = len - in, dn = cap - out;
        r = LZ4F_decompress(d, dst + out, &dn, src + in, &sn, NULL);
        if (LZ4F_isError(r)) {
            LZ4F_freeDecompressionContext(d);
            return -1;
        }
        in += sn;
        out += dn;
        if (sn == 0 && dn == 0) break;
    }
    LZ4F_freeDecompressionContext(d);
    *out_len = out;
    return (r == 0 && in == len) ? 0 : -1;
}

/* liblz4 frame of src with the given settings, fed in `piece`-byte updates (0 = one update).
   Returns malloc'd bytes. */
static uint8_t *lz4f_encode(const uint8_t *src, size_t n, int bsid, int linked, int bcs, int ccs,
                            int csize, int level, size_t piece, size_t *flen) {
    LZ4F_preferences_t prefs;
    LZ4F_cctx *c;
    size_t cap, pos, off, r;
    uint8_t *out;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = (LZ4F_blockSizeID_t)bsid;
    prefs.frameInfo.blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent;
    prefs.frameInfo.blockChecksumFlag = bcs ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
    prefs.frameInfo.contentChecksumFlag = ccs ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
    prefs.frameInfo.contentSize = csize ? n : 0;
    prefs.compressionLevel = level;
    prefs.autoFlush = piece ? 1 : 0;
    if (!piece) piece = n ? n : 1;
    cap = 64 + LZ4F_compressBound(n, &prefs) + (n / piece + 2) * (LZ4F_compressBound(piece, &prefs) + 16);
    out = xmalloc(cap);
    if (LZ4F_isError(LZ4F_createCompressionContext(&c, LZ4F_VERSION))) exit(2);
    r = LZ4F_compressBegin(c, out, cap, &prefs);
    if (LZ4F_isError(r)) exit(3);
    pos = r;
    for (off = 0; off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        r = LZ4F_compressUpdate(c, out + pos, cap - pos, src + off, k, NULL);
        if (LZ4F_isError(r)) {
            fprintf(stderr, "LZ4F_compressUpdate: %s\n", LZ4F_getErrorName(r));
            exit(3);
        }
        pos += r;
    }
    r = LZ4F_compressEnd(c, out + pos, cap - pos, NULL);
    if (LZ4F_isError(r)) exit(3);
    pos += r;
    LZ4F_freeCompressionContext(c);
    *flen = pos;
    return out;
}

/* Decodes with cas into an exact-size buffer; 1 if the output equals want[0..n). */
static int cas_decodes_to(const uint8_t *frame, size_t flen, const uint8_t *want, size_t n, int *rc_out) {
    uint8_t *f = exact_copy(frame, flen), *out = xmalloc(n);
    size_t got = 12345;
    cas_error e;
    int rc = cas_lz4_frame_decompress(f, flen, out, n, &got, &e), ok;
    ok = rc == CAS_OK && got == n && e.code == CAS_OK && (n == 0 || memcmp(out, want, n) == 0);
    if (rc_out) *rc_out = rc;
    if (!ok && g_fail < 40)
        fprintf(stderr, "  cas decode: rc %d (%s) at %llu: %s; got %zu of %zu\n", rc, cas_result_name(rc),
                (unsigned long long)e.offset, e.what, got, n);
    free(f);
    free(out);
    return ok;
}

/* ---- block format rules checker (an independent parser) ---- */

/* 1 if `b` parses as sequences producing n bytes and obeys the end-of-block rules. */
static int block_rules_ok(const uint8_t *b, size_t len, size_t n) {
    size_t ip = 0, out = 0, last_start = 0, last_end = 0;
    int any_match = 0;
    for (;;) {
        unsigned t;
        size_t lit, ml, off;
        if (ip >= len) return 0;
        t = b[ip++];
        lit = t >> 4;
        if (lit == 15) {
            unsigned x;
            do {
                if (ip >= len) return 0;
                x = b[ip++];
                lit += x;
            } while (x == 255);
        }
        if (lit > len - ip) return 0;
        ip += lit;
        out += lit;
        if (ip == len) break;
        if (len - ip < 2) return 0;
        off = b[ip] | (size_t)b[ip + 1] << 8;
        ip += 2;
        ml = (t & 15);
        if (ml == 15) {
            unsigned x;
            do {
                if (ip >= len) return 0;
                x = b[ip++];
                ml += x;
            } while (x == 255);
        }
        ml += 4;
        if (off == 0 || off > out) return 0;
        any_match = 1;
        last_start = out;
        out += ml;
        last_end = out;
    }
    if (out != n) return 0;
    if (any_match && (last_start + 12 > n || last_end + 5 > n)) return 0;
    return 1;
}

/* ---- tests ---- */

static void test_xxh32(void) {
    static const uint8_t d1[2] = {0x60, 0x40}, d2[2] = {0x60, 0x50}, d3[2] = {0x40, 0x70};
    uint8_t *buf = xmalloc(1 << 20);
    size_t n;
    CHECK(cas_xxh32("", 0, 0) == 0x02CC5D05u);
    CHECK(cas_xxh32("abc", 3, 0) == 0x32D153FFu);
    /* LZ4 frame header checksum bytes seen in the wild (oracle README) */
    CHECK(((cas_xxh32(d1, 2, 0) >> 8) & 0xFF) == 0x82);
    CHECK(((cas_xxh32(d2, 2, 0) >> 8) & 0xFF) == 0xFB);
    CHECK(((cas_xxh32(d3, 2, 0) >> 8) & 0xFF) == 0xDF);
    gen(K_RANDOM, buf, 1 << 20);
    for (n = 0; n <= 300; n++) { /* incremental in random pieces == one-shot */
        cas_xxh32_state s;
        size_t off = 0;
        uint32_t seed = (uint32_t)rnd();
        cas_xxh32_init(&s, seed);
        while (off < n) {
            size_t k = (size_t)(rnd() % 37);
            if (k > n - off) k = n - off;
            cas_xxh32_update(&s, buf + off, k);
            off += k;
            CHECK(cas_xxh32_final(&s) == cas_xxh32(buf, off, seed));
        }
        CHECK(cas_xxh32_final(&s) == cas_xxh32(buf, n, seed));
    }
    {
        cas_xxh32_state s;
        size_t off = 0;
        cas_xxh32_init(&s, 0);
        while (off < (1u << 20)) {
            size_t k = (size_t)(rnd() % 70000);
            if (k > (1u << 20) - off) k = (1u << 20) - off;
            cas_xxh32_update(&s, buf + off, k);
            off += k;
        }
        CHECK(cas_xxh32_final(&s) == cas_xxh32(buf, 1 << 20, 0));
    }
    free(buf);
}

static void block_roundtrip_one(const uint8_t *src, size_t n, int accel, cas_lz4_table *t) {
    size_t bound = cas_lz4_block_bound(n), clen = 0, got = 0;
    uint8_t *c = xmalloc(bound), *out = xmalloc(n), *cc;
    cas_error e;
    int rc = cas_lz4_block_compress(src, n, c, bound, &clen, accel, t);
    CHECK(rc == CAS_OK && clen > 0 && clen <= bound);
    if (rc != CAS_OK) goto done;
    CHECK(block_rules_ok(c, clen, n));
    cc = exact_copy(c, clen);
    rc = cas_lz4_block_decompress(cc, clen, out, 0, n, &got, &e);
    CHECK(rc == CAS_OK && got == n && (n == 0 || !memcmp(out, src, n)));
    if (n < 0x7E000000u) { /* liblz4 with exact capacity also enforces the end rules */
        int r = LZ4_decompress_safe((const char *)cc, (char *)out, (int)clen, (int)n);
        CHECK(r == (int)n && (n == 0 || !memcmp(out, src, n)));
    }
    free(cc);
    /* a cap one byte short must fail cleanly, writing nothing outside it */
    if (clen > 0) {
        uint8_t *small = xmalloc(clen - 1);
        size_t l2 = 99;
        CHECK(cas_lz4_block_compress(src, n, small, clen - 1, &l2, accel, t) == CAS_E_LIMIT && l2 == 0);
        free(small);
        small = xmalloc(clen); /* and exactly clen must do, with the same bytes */
        CHECK(cas_lz4_block_compress(src, n, small, clen, &l2, accel, t) == CAS_OK && l2 == clen &&
              !memcmp(small, c, clen));
        free(small);
    }
done:
    free(c);
    free(out);
}

static void test_block_roundtrip(void) {
    static const size_t sizes[] = {1000, 4095, 4096, 12345, 65535, 65536, 65546, 65547, 65548,
                                   100000, 131071, 131072, 131073, 300000, 1 << 20};
    cas_lz4_table *t = (cas_lz4_table *)xmalloc(sizeof *t);
    uint8_t *buf = xmalloc(1 << 20);
    size_t n, i;
    int k;
    for (k = 0; k < K_COUNT; k++)
        for (n = 0; n <= 300; n++) {
            gen(k, buf, n);
            block_roundtrip_one(buf, n, 1, (n & 1) ? t : NULL);
        }
    for (k = 0; k < K_COUNT; k++)
        for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            gen(k, buf, sizes[i]);
            block_roundtrip_one(buf, sizes[i], 1, t);
            block_roundtrip_one(buf, sizes[i], 8, t);
        }
    /* mixed data: text with random and zero runs, accelerations */
    for (i = 0; i < 40; i++) {
        size_t pos = 0, len = 1000 + (size_t)(rnd() % 200000);
        while (pos < len) {
            size_t run = 1 + (size_t)(rnd() % 3000);
            if (run > len - pos) run = len - pos;
            gen((int)(rnd() % K_COUNT), buf + pos, run);
            pos += run;
        }
        block_roundtrip_one(buf, len, (int)(rnd() % 20), t);
    }
    free(buf);
    free(t);
}

/* Blocks from liblz4 (fast and HC) decode with ours; also with room to spare and a prefix. */
static void test_block_from_liblz4(void) {
    static const size_t sizes[] = {0, 1, 5, 12, 13, 100, 4096, 65536, 100000, 131072, 1 << 20};
    uint8_t *buf = xmalloc(1 << 20), *c = xmalloc(LZ4_compressBound(1 << 20)), *out = xmalloc((1 << 20) + 100000);
    size_t i;
    int k, hc;
    for (hc = 0; hc < 2; hc++)
        for (k = 0; k < K_COUNT; k++)
            for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                size_t n = sizes[i], got = 0;
                int clen;
                uint8_t *cc, *o;
                gen(k, buf, n);
                clen = hc ? LZ4_compress_HC((const char *)buf, (char *)c, (int)n, LZ4_compressBound((int)n), 9)
                          : LZ4_compress_default((const char *)buf, (char *)c, (int)n, LZ4_compressBound((int)n));
                CHECK(clen > 0);
                cc = exact_copy(c, (size_t)clen);
                o = xmalloc(n);
                CHECK(cas_lz4_block_decompress(cc, (size_t)clen, o, 0, n, &got, NULL) == CAS_OK && got == n &&
                      (n == 0 || !memcmp(o, buf, n)));
                free(o);
                CHECK(cas_lz4_block_decompress(cc, (size_t)clen, out, 0, n + 100000, &got, NULL) == CAS_OK &&
                      got == n && (n == 0 || !memcmp(out, buf, n)));
                /* one byte short of room */
                if (n) {
                    o = xmalloc(n - 1);
                    cas_error e;
                    CHECK(cas_lz4_block_decompress(cc, (size_t)clen, o, 0, n - 1, &got, &e) == CAS_E_LIMIT &&
                          e.code == CAS_E_LIMIT && got == 0);
                    free(o);
                }
                free(cc);
            }
    /* prefix (linked blocks): the second half compressed with the first as dictionary */
    for (k = 0; k < K_COUNT; k++) {
        LZ4_stream_t *s = LZ4_createStream();
        size_t half = 50000, got = 0;
        int c1, c2;
        uint8_t *o = xmalloc(2 * half);
        gen(k, buf, 2 * half);
        c1 = LZ4_compress_fast_continue(s, (const char *)buf, (char *)c, (int)half, LZ4_compressBound((int)half), 1);
        c2 = LZ4_compress_fast_continue(s, (const char *)buf + half, (char *)c + c1, (int)half,
                                        LZ4_compressBound((int)half), 1);
        CHECK(c1 > 0 && c2 > 0);
        CHECK(cas_lz4_block_decompress(c, (size_t)c1, o, 0, half, &got, NULL) == CAS_OK && got == half);
        CHECK(cas_lz4_block_decompress(c + c1, (size_t)c2, o, half, 2 * half, &got, NULL) == CAS_OK &&
              got == half && !memcmp(o, buf, 2 * half));
        free(o);
        LZ4_freeStream(s);
    }
    free(buf);
    free(c);
    free(out);
}

/* Hand-made blocks: every malformed shape is refused, valid odd shapes decode. */
static void test_block_crafted(void) {
    uint8_t out[256], big[70000];
    size_t got;
    cas_error e;
    int i;
    { /* literals only */
        static const uint8_t b[] = {0x30, 'a', 'b', 'c'};
        CHECK(cas_lz4_block_decompress(b, 4, out, 0, 3, &got, &e) == CAS_OK && got == 3 && !memcmp(out, "abc", 3));
    }
    { /* empty output block (token 0) is what LZ4_decompress_safe accepts too */
        static const uint8_t b[] = {0x00};
        CHECK(cas_lz4_block_decompress(b, 1, out, 0, 0, &got, &e) == CAS_OK && got == 0);
        CHECK(LZ4_decompress_safe((const char *)b, (char *)out, 1, 0) == 0);
    }
    /* empty input */
    CHECK(cas_lz4_block_decompress(out, 0, out, 0, 10, &got, &e) == CAS_E_LZ4_BLOCK && e.offset == 0);
    { /* offset 0 */
        static const uint8_t b[] = {0x10, 'a', 0, 0, 0x00};
        CHECK(cas_lz4_block_decompress(b, sizeof b, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK && e.offset == 2 &&
              !strcmp(e.what, "match offset 0"));
    }
    { /* offset beyond the output so far; with a canary-filled buffer nothing leaks */
        static const uint8_t b[] = {0x10, 'a', 2, 0, 0x00};
        memset(out, 0xA5, sizeof out);
        CHECK(cas_lz4_block_decompress(b, sizeof b, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK && e.offset == 2);
        /* the same block after a 1-byte prefix is valid: offset 2 reaches the prefix */
        out[0] = 'z';
        CHECK(cas_lz4_block_decompress(b, sizeof b, out, 1, 100, &got, &e) == CAS_OK && got == 5 &&
              !memcmp(out, "zazaza", 6));
        CHECK(cas_lz4_block_decompress(b, sizeof b, out + 1, 0, 99, &got, &e) == CAS_E_LZ4_BLOCK);
    }
    { /* overlapping matches, every offset 1..20, long lengths: against liblz4 */
        int off;
        for (off = 1; off <= 20; off++) {
            uint8_t b[64], want[600];
            size_t n = 0, len = 0, k;
            int r;
            b[len++] = (uint8_t)((off << 4) | 15); /* off literals (<15? use ext) */
            if (off >= 15) { b[len - 1] = (uint8_t)(0xF0 | 15); b[len++] = (uint8_t)(off - 15); }
            for (k = 0; k < (size_t)off; k++) b[len++] = (uint8_t)('A' + k);
            b[len++] = (uint8_t)off;
            b[len++] = 0;
            b[len++] = 255; /* ml = 4 + 15 + 255 + 100 */
            b[len++] = 100;
            b[len++] = 0x50;
            memcpy(b + len, "tail!", 5);
            len += 5;
            for (k = 0; k < (size_t)off; k++) want[n++] = (uint8_t)('A' + k);
            for (k = 0; k < 374; k++, n++) want[n] = want[n - (size_t)off];
            memcpy(want + n, "tail!", 5);
            n += 5;
            memset(out, 0, sizeof out);
            {
                uint8_t *o = xmalloc(n);
                CHECK(cas_lz4_block_decompress(b, len, o, 0, n, &got, &e) == CAS_OK && got == n && !memcmp(o, want, n));
                r = LZ4_decompress_safe((const char *)b, (char *)o, (int)len, (int)n);
                CHECK(r == (int)n && !memcmp(o, want, n));
                free(o);
            }
        }
    }
    { /* a block that ends after a match */
        static const uint8_t b[] = {0x14, 'a', 1, 0};
        CHECK(cas_lz4_block_decompress(b, sizeof b, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK && e.offset == 4);
    }
    { /* ends inside the offset, inside a length, inside literals */
        static const uint8_t b1[] = {0x14, 'a', 1}, b2[] = {0xF0, 255, 255}, b3[] = {0x50, 'a', 'b'},
                             b4[] = {0x1F, 'a', 1, 0, 255};
        CHECK(cas_lz4_block_decompress(b1, sizeof b1, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK && e.offset == 2);
        CHECK(cas_lz4_block_decompress(b2, sizeof b2, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK);
        CHECK(cas_lz4_block_decompress(b3, sizeof b3, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK);
        CHECK(cas_lz4_block_decompress(b4, sizeof b4, out, 0, 100, &got, &e) == CAS_E_LZ4_BLOCK);
    }
    { /* a long run of 0xFF length bytes: refused without reading past the end */
        uint8_t *b = xmalloc(20000);
        b[0] = 0xF0;
        memset(b + 1, 0xFF, 19999);
        CHECK(cas_lz4_block_decompress(b, 20000, big, 0, sizeof big, &got, &e) == CAS_E_LZ4_BLOCK);
        free(b);
    }
    { /* a decompression bomb stops at the capacity */
        uint8_t b[600];
        size_t len = 0;
        b[len++] = 0x1F;
        b[len++] = 'x';
        b[len++] = 1;
        b[len++] = 0;
        for (i = 0; i < 590; i++) b[len++] = 255; /* ml ~ 150 KB */
        b[len++] = 0;
        b[len++] = 0x00;
        CHECK(cas_lz4_block_decompress(b, len, big, 0, sizeof big, &got, &e) == CAS_E_LIMIT && e.offset == 0);
    }
    /* prefix > cap is an argument error */
    CHECK(cas_lz4_block_decompress(out, 1, out, 5, 4, &got, &e) == CAS_E_ARGUMENT);
}

static const char *last_what(const uint8_t *b, size_t n, uint8_t *out, size_t cap) {
    static cas_error e;
    size_t got;
    cas_lz4_block_decompress(b, n, out, 0, cap, &got, &e);
    return e.what;
}

/* Random corruption of valid blocks: never a crash, and whatever liblz4 accepts with exact
   capacity we accept with the same bytes. */
static void test_block_mutations(void) {
    uint8_t *buf = xmalloc(70000), *c = xmalloc(LZ4_compressBound(70000)), *o1 = xmalloc(70000),
            *o2 = xmalloc(70000 + 64);
    long agree = 0, we_only = 0, lib_only = 0, off0 = 0;
    int it;
    for (it = 0; it < 6000; it++) {
        size_t n = 1 + (size_t)(rnd() % 3000), got = 0, cap;
        int clen, k, nm, r1, r2;
        uint8_t *cc;
        gen((int)(rnd() % K_COUNT), buf, n);
        clen = LZ4_compress_default((const char *)buf, (char *)c, (int)n, LZ4_compressBound((int)n));
        nm = 1 + (int)(rnd() % 4);
        for (k = 0; k < nm; k++) c[rnd() % (size_t)clen] ^= (uint8_t)(1u << (rnd() % 8));
        if (rnd() % 4 == 0) clen -= (int)(rnd() % (size_t)clen); /* and truncations */
        cc = exact_copy(c, (size_t)clen);
        cap = (rnd() & 1) ? n : n + (size_t)(rnd() % 64);
        r1 = LZ4_decompress_safe((const char *)cc, (char *)o1, clen, (int)cap);
        r2 = cas_lz4_block_decompress(cc, (size_t)clen, o2, 0, cap, &got, NULL);
        if (r1 >= 0 && r2 != CAS_OK && !strcmp(last_what(cc, (size_t)clen, o2, cap), "match offset 0")) {
            off0++; /* liblz4 1.9.4 takes offset 0 (copies from the output position itself); we
                       refuse it, as the format says and RUSTSEC-2026-0041 fixed in lz4_flex */
        } else if (r1 >= 0) {
            CHECK(r2 == CAS_OK && got == (size_t)r1 && !memcmp(o1, o2, got));
            if (r2 != CAS_OK && g_fail < 40) {
                cas_error e;
                cas_lz4_block_decompress(cc, (size_t)clen, o2, 0, cap, &got, &e);
                fprintf(stderr, "  liblz4 accepts (%d bytes), cas: %s at %llu: %s\n", r1,
                        cas_result_name(r2), (unsigned long long)e.offset, e.what);
            }
        }
        if ((r1 >= 0) == (r2 == CAS_OK)) agree++;
        else if (r2 == CAS_OK) {
            we_only++; /* only the end-of-block rules, which liblz4 applies and we do not */
            CHECK(!block_rules_ok(cc, (size_t)clen, got));
        } else if (strcmp(last_what(cc, (size_t)clen, o2, cap), "match offset 0")) lib_only++;
        free(cc);
    }
    printf("  block mutations: %ld agree, %ld accepted only by cas (end-of-block rules), %ld only by liblz4"
           " (+%ld with offset 0, refused by design)\n", agree, we_only, lib_only, off0);
    CHECK(lib_only == 0);
    free(buf);
    free(c);
    free(o1);
    free(o2);
}

/* Our frames: layout as xet-core writes them, decodable by liblz4 and the lz4 CLI. */
static void test_frame_write(void) {
    static const size_t sizes[] = {0, 1, 2, 12, 13, 100, 4096, 65535, 65536, 65537, 100000,
                                   131072, 262144, 262145, 300000, 5 << 20};
    static const uint8_t empty[11] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0};
    uint8_t *buf = xmalloc(5 << 20), *f = xmalloc(cas_lz4_frame_bound(5 << 20)), *out = xmalloc(5 << 20);
    size_t i, flen, got;
    int k;
    CHECK(cas_lz4_frame_compress("", 0, f, 11, &flen, 1) == CAS_OK && flen == 11 && !memcmp(f, empty, 11));
    CHECK(cas_lz4_frame_compress("", 0, f, 10, &flen, 1) == CAS_E_LIMIT);
    for (k = 0; k < K_COUNT; k++)
        for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i], bmax = n <= 65536 ? 65536 : n <= 262144 ? 262144 : 4 << 20;
            int rc;
            gen(k, buf, n);
            rc = cas_lz4_frame_compress(buf, n, f, cas_lz4_frame_bound(n), &flen, 1);
            CHECK(rc == CAS_OK && flen <= cas_lz4_frame_bound(n));
            CHECK(f[4] == 0x60 && f[5] == (bmax == 65536 ? 0x40 : bmax == 262144 ? 0x50 : 0x70));
            CHECK(f[6] == (uint8_t)(cas_xxh32(f + 4, 2, 0) >> 8));
            if (n && n <= 262144) { /* one block, stored iff compression did not shrink it */
                uint32_t w = t_load_le32(f + 7);
                CHECK(flen == 7 + 4 + (w & 0x7FFFFFFF) + 4);
                if (w & 0x80000000u) CHECK((w & 0x7FFFFFFF) == n);
                else CHECK(w < n);
            }
            CHECK(lz4f_decode(f, flen, out, n, &got) == 0 && got == n && (n == 0 || !memcmp(out, buf, n)));
            CHECK(cas_decodes_to(f, flen, buf, n, NULL));
            /* frame into exactly its own size works; one byte less fails cleanly */
            {
                uint8_t *g = xmalloc(flen);
                size_t l2;
                CHECK(cas_lz4_frame_compress(buf, n, g, flen, &l2, 1) == CAS_OK && l2 == flen && !memcmp(f, g, flen));
                CHECK(cas_lz4_frame_compress(buf, n, g, flen - 1, &l2, 1) == CAS_E_LIMIT);
                free(g);
            }
        }
    /* the lz4 command-line tool */
    if (system("lz4 -V >/dev/null 2>&1") == 0) {
        for (k = 0; k < 4; k++) {
            size_t n = k == 0 ? 0 : k == 1 ? 70000 : k == 2 ? 131072 : 1000000;
            char cmd[256];
            FILE *fp;
            gen(k == 3 ? K_FLOAT32 : K_TEXT, buf, n);
            CHECK(cas_lz4_frame_compress(buf, n, f, cas_lz4_frame_bound(n), &flen, 1) == CAS_OK);
            fp = fopen("/tmp/cas_lz4_test.lz4", "wb");
            CHECK(fp && fwrite(f, 1, flen, fp) == flen);
            if (fp) fclose(fp);
            snprintf(cmd, sizeof cmd, "lz4 -d -f -q /tmp/cas_lz4_test.lz4 /tmp/cas_lz4_test.out");
            CHECK(system(cmd) == 0);
            fp = fopen("/tmp/cas_lz4_test.out", "rb");
            got = fp ? fread(out, 1, 5 << 20, fp) : 0;
            if (fp) fclose(fp);
            CHECK(got == n && (n == 0 || !memcmp(out, buf, n)));
            /* and the CLI's own frame decodes with ours */
            fp = fopen("/tmp/cas_lz4_test.raw", "wb");
            if (fp) { if (n) CHECK(fwrite(buf, 1, n, fp) == n); fclose(fp); }
            CHECK(system("lz4 -f -q -BD --content-size /tmp/cas_lz4_test.raw /tmp/cas_lz4_test.cli.lz4") == 0);
            fp = fopen("/tmp/cas_lz4_test.cli.lz4", "rb");
            flen = fp ? fread(f, 1, cas_lz4_frame_bound(5 << 20), fp) : 0;
            if (fp) fclose(fp);
            CHECK(cas_decodes_to(f, flen, buf, n, NULL));
        }
        remove("/tmp/cas_lz4_test.lz4");
        remove("/tmp/cas_lz4_test.out");
        remove("/tmp/cas_lz4_test.raw");
        remove("/tmp/cas_lz4_test.cli.lz4");
    } else {
        printf("  (lz4 CLI not found: CLI checks skipped)\n");
    }
    free(buf);
    free(f);
    free(out);
}

/* Frames liblz4 writes, every header combination. */
static void test_frame_from_liblz4(int quick) {
    static const size_t sizes[] = {0, 1, 100, 65536, 65537, 131072, 300000, 5 << 20};
    static const int kinds[] = {K_RANDOM, K_TEXT, K_ZERO, K_FLOAT32};
    uint8_t *buf = xmalloc(5 << 20);
    int bsid, linked, bcs, ccs, cs, ki;
    size_t si;
    long frames = 0;
    for (ki = 0; ki < 4; ki++)
        for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            if (quick && n > 300000) continue;
            gen(kinds[ki], buf, n);
            for (bsid = 4; bsid <= 7; bsid++)
                for (linked = 0; linked < 2; linked++)
                    for (bcs = 0; bcs < 2; bcs++)
                        for (ccs = 0; ccs < 2; ccs++)
                            for (cs = 0; cs < 2; cs++) {
                                size_t flen;
                                int level = (bsid + bcs + cs) % 3 == 0 ? 9 : 0; /* some HC */
                                uint8_t *f = lz4f_encode(buf, n, bsid, linked, bcs, ccs, cs, level, 0, &flen);
                                CHECK(cas_decodes_to(f, flen, buf, n, NULL));
                                free(f);
                                frames++;
                            }
            /* many small linked blocks: matches reach back across blocks */
            if (n && n <= 300000) {
                size_t flen;
                uint8_t *f = lz4f_encode(buf, n, 4, 1, 1, 1, 1, 0, 777, &flen);
                CHECK(cas_decodes_to(f, flen, buf, n, NULL));
                free(f);
                f = lz4f_encode(buf, n, 4, 0, 0, 1, 0, 0, 5000, &flen);
                CHECK(cas_decodes_to(f, flen, buf, n, NULL));
                free(f);
                frames += 2;
            }
        }
    printf("  %ld liblz4 frames decoded\n", frames);
    free(buf);
}

static void test_roundtrip(void) {
    uint8_t *buf = xmalloc(140000), *f = xmalloc(cas_lz4_frame_bound(140000)), *out = xmalloc(140000);
    size_t n;
    int k;
    for (k = 0; k < K_COUNT; k++) {
        for (n = 0; n <= 140000; n += (n < 300 ? 1 : n < 70000 ? 997 + (size_t)(rnd() % 500) : 1 + (size_t)(rnd() % 9000))) {
            size_t flen, got;
            gen(k, buf, n);
            CHECK(cas_lz4_frame_compress(buf, n, f, cas_lz4_frame_bound(n), &flen, 1) == CAS_OK);
            CHECK(cas_lz4_frame_decompress(f, flen, out, n, &got, NULL) == CAS_OK && got == n &&
                  (n == 0 || !memcmp(out, buf, n)));
        }
        /* chunk boundary sizes */
        {
            static const size_t edge[] = {8191, 8192, 65535, 65536, 65537, 131071, 131072};
            size_t i;
            for (i = 0; i < 7; i++) {
                size_t flen, got;
                gen(k, buf, edge[i]);
                CHECK(cas_lz4_frame_compress(buf, edge[i], f, cas_lz4_frame_bound(edge[i]), &flen, 1) == CAS_OK);
                CHECK(cas_lz4_frame_decompress(f, flen, out, edge[i], &got, NULL) == CAS_OK && got == edge[i] &&
                      !memcmp(out, buf, edge[i]));
            }
        }
    }
    free(buf);
    free(f);
    free(out);
}

/* Builds a frame by hand: header with the given FLG/BD (+content size), checksum fixed. */
static size_t put_header(uint8_t *p, unsigned flg, unsigned bd, uint64_t csize) {
    size_t n = 6, k;
    t_store_le32(p, 0x184D2204u);
    p[4] = (uint8_t)flg;
    p[5] = (uint8_t)bd;
    if (flg & 0x08)
        for (k = 0; k < 8; k++) p[n++] = (uint8_t)(csize >> (8 * k));
    if (flg & 0x01) {
        t_store_le32(p + n, 7);
        n += 4;
    }
    p[n] = (uint8_t)(cas_xxh32(p + 4, n - 4, 0) >> 8);
    return n + 1;
}

static int decode_rc(const uint8_t *f, size_t flen, size_t cap, cas_error *e) {
    uint8_t *ff = exact_copy(f, flen), *out = xmalloc(cap);
    size_t got = 77;
    int rc = cas_lz4_frame_decompress(ff, flen, out, cap, &got, e);
    if (rc != CAS_OK && got != 0) rc = 999; /* out_len must be 0 on error */
    if (rc != e->code) rc = 998;            /* and the detail agrees */
    free(ff);
    free(out);
    return rc;
}

static void test_reject(void) {
    uint8_t *buf = xmalloc(300000), *g = xmalloc(400000);
    uint8_t *f;
    size_t n = 200000, flen, i, got;
    cas_error e;
    gen(K_TEXT, buf, n);
    /* a rich frame: linked 64 KiB blocks, block + content checksums, content size */
    f = lz4f_encode(buf, n, 4, 1, 1, 1, 1, 0, 0, &flen);
    CHECK(decode_rc(f, flen, n, &e) == CAS_OK);
    /* every truncation */
    for (i = 0; i < flen; i++) {
        int rc = decode_rc(f, i, n, &e);
        CHECK(rc == CAS_E_TRUNCATED && e.offset == i);
    }
    /* trailing bytes, a second frame, a skippable frame */
    memcpy(g, f, flen);
    g[flen] = 0;
    CHECK(decode_rc(g, flen + 1, n, &e) == CAS_E_TRAILING && e.offset == flen);
    memcpy(g + flen, f, flen);
    CHECK(decode_rc(g, 2 * flen, 2 * n, &e) == CAS_E_TRAILING && e.offset == flen);
    {
        static const uint8_t skip[12] = {0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
        memcpy(g + flen, skip, 12);
        CHECK(decode_rc(g, flen + 12, n, &e) == CAS_E_TRAILING && e.offset == flen);
        CHECK(decode_rc(skip, 12, n, &e) == CAS_E_LZ4_MAGIC && e.offset == 0);
        memcpy(g, skip, 12);
        memcpy(g + 12, f, flen);
        CHECK(decode_rc(g, flen + 12, n, &e) == CAS_E_LZ4_MAGIC);
        g[0] = 0x5F; /* any of 0x184D2A50..5F */
        CHECK(decode_rc(g, flen + 12, n, &e) == CAS_E_LZ4_MAGIC && strstr(e.what, "skippable"));
    }
    {
        static const uint8_t legacy[8] = {0x02, 0x21, 0x4C, 0x18, 0, 0, 0, 0}, junk[3] = {0x04, 0x22, 0x4E};
        CHECK(decode_rc(legacy, 8, n, &e) == CAS_E_LZ4_MAGIC && strstr(e.what, "legacy"));
        CHECK(decode_rc(junk, 3, n, &e) == CAS_E_LZ4_MAGIC && e.offset == 2);
    }
    { /* hostile-input-plan Appendix A (G1): P0 = LZ4F("A"*40) || hdr(0,8,8) || "SMUGGLED" */
        static const uint8_t hdr[8] = {0, 8, 0, 0, 0, 8, 0, 0};
        uint8_t a40[40], *p0 = xmalloc(200), *o = xmalloc(40);
        size_t l0;
        memset(a40, 'A', 40);
        CHECK(cas_lz4_frame_compress(a40, 40, p0, 200, &l0, 1) == CAS_OK);
        CHECK(decode_rc(p0, l0, 40, &e) == CAS_OK);
        memcpy(p0 + l0, hdr, 8);
        memcpy(p0 + l0 + 8, "SMUGGLED", 8);
        CHECK(decode_rc(p0, l0 + 16, 40, &e) == CAS_E_TRAILING && e.offset == l0);
        CHECK(cas_chunk_decompress(p0, l0 + 16, CAS_SCHEME_LZ4, o, 40, NULL, &e) == CAS_E_TRAILING);
        free(p0);
        free(o);
    }
    /* capacity one byte too small: content size says so at the header */
    CHECK(decode_rc(f, flen, n - 1, &e) == CAS_E_LIMIT && e.offset == 6);
    free(f);
    /* without content size: found while decoding */
    f = lz4f_encode(buf, n, 4, 0, 0, 0, 0, 0, 0, &flen);
    CHECK(decode_rc(f, flen, n, &e) == CAS_OK);
    CHECK(decode_rc(f, flen, n - 1, &e) == CAS_E_LIMIT);
    CHECK(decode_rc(f, flen, 0, &e) == CAS_E_LIMIT);
    free(f);
    {   /* ours (one block), and a stored block */
        uint8_t *r = xmalloc(1000);
        gen(K_RANDOM, r, 1000);
        CHECK(cas_lz4_frame_compress(buf, 100000, g, 400000, &flen, 1) == CAS_OK);
        CHECK(decode_rc(g, flen, 100000, &e) == CAS_OK);
        CHECK(decode_rc(g, flen, 99999, &e) == CAS_E_LIMIT);
        CHECK(cas_lz4_frame_compress(r, 1000, g, 400000, &flen, 1) == CAS_OK && (g[10] & 0x80));
        CHECK(decode_rc(g, flen, 999, &e) == CAS_E_LIMIT && e.offset == 11);
        for (i = 0; i < flen; i++) CHECK(decode_rc(g, i, 1000, &e) == CAS_E_TRUNCATED);
        free(r);
    }
    /* header fields: every FLG / BD value */
    {
        static const uint8_t body[] = {6, 0, 0, 0, 0x50, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0};
        unsigned flg, bd;
        for (flg = 0; flg < 256; flg++) {
            size_t len = put_header(g, flg, 0x40, 5);
            int rc;
            memcpy(g + len, body, sizeof body);
            len += sizeof body;
            if (flg & 0x10) { /* insert a block checksum after the block */
                memmove(g + len - 4 + 4, g + len - 4, 4);
                t_store_le32(g + len - 4, cas_xxh32(body + 4, 6, 0));
                len += 4;
            }
            if (flg & 0x04) {
                t_store_le32(g + len, cas_xxh32("hello", 5, 0));
                len += 4;
            }
            rc = decode_rc(g, len, 100, &e);
            if ((flg & 0xC0) != 0x40) CHECK(rc == CAS_E_LZ4_HEADER && e.offset == 4 && strstr(e.what, "version"));
            else if (flg & 0x02) CHECK(rc == CAS_E_LZ4_HEADER && strstr(e.what, "reserved"));
            else if (flg & 0x01) CHECK(rc == CAS_E_LZ4_HEADER && strstr(e.what, "dictionary"));
            else CHECK(rc == CAS_OK);
        }
        for (bd = 0; bd < 256; bd++) {
            size_t len = put_header(g, 0x60, bd, 0);
            int rc;
            memcpy(g + len, body, sizeof body);
            len += sizeof body;
            rc = decode_rc(g, len, 100, &e);
            if ((bd & 0x8F) || ((bd >> 4) & 7) < 4) CHECK(rc == CAS_E_LZ4_HEADER && e.offset == 5);
            else CHECK(rc == CAS_OK);
        }
        /* every wrong header checksum */
        for (i = 0; i < 256; i++) {
            size_t len = put_header(g, 0x60, 0x40, 0);
            int rc;
            if (i == g[6]) continue;
            g[6] = (uint8_t)i;
            memcpy(g + len, body, sizeof body);
            rc = decode_rc(g, len + sizeof body, 100, &e);
            CHECK(rc == CAS_E_LZ4_HEADER && e.offset == 6 && strstr(e.what, "checksum"));
        }
        { /* content size mismatches */
            size_t len = put_header(g, 0x68, 0x40, 6);
            memcpy(g + len, body, sizeof body);
            CHECK(decode_rc(g, len + sizeof body, 100, &e) == CAS_E_SIZE && e.offset == len + 10);
            len = put_header(g, 0x68, 0x40, 4);
            memcpy(g + len, body, sizeof body);
            CHECK(decode_rc(g, len + sizeof body, 100, &e) == CAS_E_SIZE);
            len = put_header(g, 0x68, 0x40, 101);
            memcpy(g + len, body, sizeof body);
            CHECK(decode_rc(g, len + sizeof body, 100, &e) == CAS_E_LIMIT && e.offset == 6);
            len = put_header(g, 0x68, 0x40, 5);
            memcpy(g + len, body, sizeof body);
            CHECK(decode_rc(g, len + sizeof body, 100, &e) == CAS_OK);
        }
        { /* EndMark variants: a zero-length stored block (0x80000000) is a block, not the end */
            size_t len = put_header(g, 0x60, 0x40, 0);
            static const uint8_t b2[] = {0, 0, 0, 0x80, 0, 0, 0, 0};
            memcpy(g + len, b2, sizeof b2);
            CHECK(decode_rc(g, len + sizeof b2, 100, &e) == CAS_OK);
            CHECK(decode_rc(g, len + 4, 100, &e) == CAS_E_TRUNCATED);
        }
    }
    /* checksums */
    f = lz4f_encode(buf, n, 4, 0, 1, 1, 0, 0, 0, &flen);
    memcpy(g, f, flen);
    g[7 + 4 + 10] ^= 1; /* in the first block's data */
    CHECK(decode_rc(g, flen, n, &e) == CAS_E_LZ4_CHECKSUM && strstr(e.what, "block"));
    memcpy(g, f, flen);
    {
        uint32_t w = t_load_le32(g + 7) & 0x7FFFFFFF;
        g[7 + 4 + w] ^= 0x80; /* the block checksum itself */
        CHECK(decode_rc(g, flen, n, &e) == CAS_E_LZ4_CHECKSUM && e.offset == 7 + 4 + w);
    }
    memcpy(g, f, flen);
    g[flen - 1] ^= 1; /* content checksum */
    CHECK(decode_rc(g, flen, n, &e) == CAS_E_LZ4_CHECKSUM && e.offset == flen - 4 && strstr(e.what, "content"));
    free(f);
    /* a block bigger than the block maximum: declared, stored, or decoded */
    {
        size_t len = put_header(g, 0x60, 0x40, 0), clen;
        t_store_le32(g + len, 65537);
        memset(g + len + 4, 0, 65537 + 4);
        CHECK(decode_rc(g, len + 4 + 65537 + 4, 1 << 20, &e) == CAS_E_LZ4_BLOCK && e.offset == len);
        t_store_le32(g + len, 65537 | 0x80000000u);
        CHECK(decode_rc(g, len + 4 + 65537 + 4, 1 << 20, &e) == CAS_E_LZ4_BLOCK && e.offset == len);
        t_store_le32(g + len, 65536 | 0x80000000u); /* exactly the max is fine */
        memset(g + len + 4 + 65536, 0, 4);
        CHECK(decode_rc(g, len + 4 + 65536 + 4, 1 << 20, &e) == CAS_OK);
        memset(buf, 'q', 100000);
        CHECK(cas_lz4_block_compress(buf, 100000, g + len + 4, 300000, &clen, 1, NULL) == CAS_OK);
        t_store_le32(g + len, (uint32_t)clen);
        memset(g + len + 4 + clen, 0, 4);
        CHECK(decode_rc(g, len + 4 + clen + 4, 1 << 20, &e) == CAS_E_LZ4_BLOCK && strstr(e.what, "maximum"));
        g[5] = 0x50; /* with 256 KiB blocks the same block is fine */
        g[6] = (uint8_t)(cas_xxh32(g + 4, 2, 0) >> 8);
        CHECK(decode_rc(g, len + 4 + clen + 4, 1 << 20, &e) == CAS_OK);
        CHECK(decode_rc(g, len + 4 + clen + 4, 99999, &e) == CAS_E_LIMIT);
    }
    /* independent blocks may not reach into earlier blocks; linked ones may */
    {
        size_t len = put_header(g, 0x60, 0x40, 0);
        static const uint8_t blocks[] = {4, 0, 0, 0x80, 'a', 'b', 'c', 'd', /* stored "abcd" */
                                         6, 0, 0, 0, 0x10, 'e', 4, 0, 0x10, 'f', 0, 0, 0, 0};
        memcpy(g + len, blocks, sizeof blocks);
        CHECK(decode_rc(g, len + sizeof blocks, 100, &e) == CAS_E_LZ4_BLOCK && e.offset == len + 8 + 4 + 2);
        g[4] = 0x40; /* linked */
        g[6] = (uint8_t)(cas_xxh32(g + 4, 2, 0) >> 8);
        {
            uint8_t *out = xmalloc(10);
            memset(out, 0xA5, 10); /* canary: must not appear in the output */
            CHECK(cas_lz4_frame_decompress(g, len + sizeof blocks, out, 10, &got, &e) == CAS_OK && got == 10 &&
                  !memcmp(out, "abcdebcdef", 10));
            free(out);
        }
    }
    free(buf);
    free(g);
}

/* Output buffers: exact size from malloc (ASan), prefilled with a canary that must not leak. */
static void test_canary(void) {
    uint8_t *buf = xmalloc(131072), *f = xmalloc(cas_lz4_frame_bound(131072));
    int k;
    for (k = 0; k < K_COUNT; k++) {
        size_t n = 1000 + (size_t)(rnd() % 130000), flen, got, i;
        uint8_t *out = xmalloc(n);
        int leaked = 0;
        gen(k, buf, n);
        CHECK(cas_lz4_frame_compress(buf, n, f, cas_lz4_frame_bound(n), &flen, 1) == CAS_OK);
        memset(out, 0xA5, n);
        CHECK(cas_lz4_frame_decompress(f, flen, out, n, &got, NULL) == CAS_OK && got == n);
        for (i = 0; i < n; i++) leaked |= out[i] != buf[i];
        CHECK(!leaked);
        free(out);
    }
    free(buf);
    free(f);
}

/* Frame-level random corruption: no crash, out_len within cap, errors carry an offset in range. */
static void test_frame_mutations(void) {
    uint8_t *buf = xmalloc(300000), *out = xmalloc(300000);
    int it;
    for (it = 0; it < 1500; it++) {
        size_t n = (size_t)(rnd() % 200000), flen, got = 0, cap;
        int k, nm, rc;
        uint8_t *f, *ff;
        cas_error e;
        gen((int)(rnd() % K_COUNT), buf, n);
        f = lz4f_encode(buf, n, 4 + (int)(rnd() % 4), (int)(rnd() & 1), (int)(rnd() & 1), (int)(rnd() & 1),
                        (int)(rnd() & 1), 0, (rnd() & 1) ? 0 : 1 + (size_t)(rnd() % 20000), &flen);
        nm = 1 + (int)(rnd() % 3);
        for (k = 0; k < nm; k++) f[rnd() % flen] ^= (uint8_t)(1u << (rnd() % 8));
        ff = exact_copy(f, flen);
        cap = n + (size_t)(rnd() % 100);
        rc = cas_lz4_frame_decompress(ff, flen, out, cap, &got, &e);
        CHECK(rc == e.code && got <= cap && e.offset <= flen);
        /* with a content checksum, an accepted frame is the original */
        CHECK(rc != CAS_OK || !(ff[4] & 0x04) || (got == n && (n == 0 || !memcmp(out, buf, n))));
        free(f);
        free(ff);
    }
    free(buf);
    free(out);
}

static void naive_split(const uint8_t *s, size_t n, uint8_t *d) {
    size_t g, i, o = 0;
    for (g = 0; g < 4; g++)
        for (i = g; i < n; i += 4) d[o++] = s[i];
}

static void test_bg4(void) {
    static const size_t big[] = {1000, 1023, 65536, 131071, 131072, 131073, (1 << 20) + 3};
    uint8_t *a = xmalloc((1 << 20) + 3), *b = xmalloc((1 << 20) + 3), *c = xmalloc((1 << 20) + 3);
    int path;
    size_t n, i;
    for (path = 0; path < 2; path++) {
        cas_cpu_limit(path ? ~0u : 0u);
        printf("  bg4 path: %s\n", cas_bg4_path());
        for (n = 0; n <= 300; n++) {
            uint8_t *s = xmalloc(n), *d = xmalloc(n), *r = xmalloc(n);
            gen(K_RANDOM, s, n);
            naive_split(s, n, c);
            cas_bg4_split(s, n, d);
            CHECK(n == 0 || !memcmp(d, c, n));
            cas_bg4_regroup(d, n, r);
            CHECK(n == 0 || !memcmp(r, s, n));
            free(s);
            free(d);
            free(r);
        }
        for (i = 0; i < sizeof big / sizeof big[0]; i++) {
            n = big[i];
            gen(K_RANDOM, a, n);
            naive_split(a, n, c);
            cas_bg4_split(a, n, b);
            CHECK(!memcmp(b, c, n));
            memset(c, 0, n);
            cas_bg4_regroup(b, n, c);
            CHECK(!memcmp(a, c, n));
        }
        { /* group sizes n/4 + (g < n%4): the spec's example */
            static const uint8_t s[7] = {'a', 'b', 'c', 'd', 'e', 'f', 'g'}, want[7] = {'a', 'e', 'b', 'f', 'c', 'g', 'd'};
            uint8_t d[7];
            cas_bg4_split(s, 7, d);
            CHECK(!memcmp(d, want, 7));
        }
    }
    cas_cpu_limit(~0u);
    free(a);
    free(b);
    free(c);
}

/* Reference predictor written from the Rust source, with the NaN behaviour spelled out. */
static int naive_predict(const uint8_t *d, size_t n) {
    double hist[4][9] = {{0}}, base[9], tot[4] = {0, 0, 0, 0}, all = 0, mx = 0;
    size_t i;
    int g, c;
    for (i = 0; i < n; i++) {
        int pc = 0;
        unsigned v = d[i];
        while (v) { pc += v & 1; v >>= 1; }
        hist[i % 4][pc] += 1;
    }
    for (c = 0; c < 9; c++) base[c] = 1;
    for (g = 0; g < 4; g++)
        for (c = 0; c < 9; c++) { base[c] += hist[g][c]; tot[g] += hist[g][c]; }
    for (g = 0; g < 4; g++) all += tot[g];
    for (g = 0; g < 4; g++) {
        double kl = 0;
        int nan = 0;
        for (c = 0; c < 9; c++) {
            double p = hist[g][c] / tot[g], q = base[c] / all;
            if (!(p > 0)) nan = 1; /* 0 * ln 0 (or 0/0) is NaN in f64 */
            else kl += p * cas__ln(p / q);
        }
        if (!nan && kl > mx) mx = kl;
    }
    return mx > 0.02;
}

static void test_predictor(void) {
    uint8_t *buf = xmalloc(131072);
    int k, votes[K_COUNT];
    size_t i;
    /* the logarithm against known values (correctly rounded references), within 3 ulp */
    {
        static const double x[] = {2.0, 10.0, 0.5, 1e-300, 1.4142135623730951, 3.0, 0.75, 123456.789, 4.9e-324};
        static const double y[] = {0.69314718055994531, 2.3025850929940457, -0.69314718055994531,
                                   -690.77552789821368, 0.34657359027997264, 1.0986122886681098,
                                   -0.28768207245178090, 11.723646487185881, -744.44007192138122};
        for (i = 0; i < sizeof x / sizeof x[0]; i++) {
            double d = cas__ln(x[i]) - y[i], tol = 6.7e-16 * (y[i] < 0 ? -y[i] : y[i]);
            CHECK(d <= tol && -d <= tol);
        }
        CHECK(cas__ln(1.0) == 0.0);
    }
    for (i = 1; i < 2000; i++) { /* ln(ab) = ln a + ln b */
        double a = (double)i / 97.0, b2 = 3.0 / (double)i;
        double lhs = cas__ln(a * b2), rhs = cas__ln(a) + cas__ln(b2);
        CHECK(lhs - rhs < 1e-13 && rhs - lhs < 1e-13);
    }
    for (k = 0; k < K_COUNT; k++) {
        int j;
        votes[k] = 0;
        for (j = 0; j < 20; j++) {
            size_t n = j < 10 ? 65536 : 8192 + (size_t)(rnd() % 120000);
            int p;
            gen(k, buf, n);
            p = cas_bg4_predict(buf, n);
            votes[k] += p;
            CHECK(p == naive_predict(buf, n));
            { /* pieces at odd offsets give the same answer */
                cas_bg4_predictor pr;
                size_t off = 0;
                cas_bg4_predictor_init(&pr);
                while (off < n) {
                    size_t m = 1 + (size_t)(rnd() % 5000);
                    if (m > n - off) m = n - off;
                    cas_bg4_predictor_add(&pr, off, buf + off, m);
                    off += m;
                }
                CHECK(cas_bg4_predictor_recommends(&pr) == p);
            }
        }
        printf("  predictor: %-8s BG4 on %2d of 20 chunks\n", kind_name[k], votes[k]);
    }
    CHECK(votes[K_FLOAT32] >= 18);
    CHECK(votes[K_BF16] >= 18);
    CHECK(votes[K_TEXT] <= 2);
    CHECK(votes[K_RANDOM] <= 2);
    CHECK(cas_bg4_predict(buf, 0) == 0);
    CHECK(cas_bg4_predict("abc", 3) == 0);
    free(buf);
}

static void test_chunk_compress(void) {
    cas_chunk_compressor *cc = (cas_chunk_compressor *)xmalloc(sizeof *cc);
    uint8_t *buf = xmalloc(131073), *dst = xmalloc(131073), *out = xmalloc(131072), *scratch = xmalloc(131072),
            *f = xmalloc(cas_lz4_frame_bound(131072));
    /* each request, and the scheme it asks for (AUTO: -1, the predictor's choice) */
    static const int requests[] = {CAS_COMPRESS_NONE, CAS_COMPRESS_LZ4, CAS_COMPRESS_BG4_LZ4, CAS_COMPRESS_AUTO,
                                   CAS_COMPRESS_DEFAULT};
    static const int schemes[] = {CAS_SCHEME_NONE, CAS_SCHEME_LZ4, CAS_SCHEME_BG4_LZ4, -1, CAS_SCHEME_LZ4};
    int k, si, used[3] = {0, 0, 0};
    size_t len, flen;
    int sch;
    cas_error e;
    for (k = 0; k < K_COUNT; k++)
        for (si = 0; si < 5; si++) {
            int j;
            for (j = 0; j < 6; j++) {
                size_t n = j == 0 ? 0 : j == 1 ? 5 : j == 2 ? 131072 : (size_t)(rnd() % 131073);
                int want = schemes[si];
                gen(k, buf, n);
                CHECK(cas_chunk_compress(cc, buf, n, requests[si], dst, n, &len, &sch) == CAS_OK);
                if (want == -1) want = cas_bg4_predict(buf, n) ? CAS_SCHEME_BG4_LZ4 : CAS_SCHEME_LZ4;
                if (want != CAS_SCHEME_NONE) { /* serialize_chunk: the frame iff smaller than the chunk */
                    const uint8_t *in = buf;
                    if (want == CAS_SCHEME_BG4_LZ4) { cas_bg4_split(buf, n, scratch); in = scratch; }
                    CHECK(cas_lz4_frame_compress(in, n, f, cas_lz4_frame_bound(n), &flen, 1) == CAS_OK);
                    if (flen < n) CHECK(sch == want && len == flen && !memcmp(dst, f, flen));
                    else CHECK(sch == CAS_SCHEME_NONE && len == n);
                } else {
                    CHECK(sch == CAS_SCHEME_NONE && len == n);
                }
                used[sch]++;
                CHECK(cas_chunk_decompress(dst, len, sch, out, n, scratch, &e) == CAS_OK && (n == 0 || !memcmp(out, buf, n)));
                if (n > 0) {
                    CHECK(cas_chunk_decompress(dst, len, sch, out, n - 1, scratch, &e) == CAS_E_SIZE);
                    if (n < 131072) CHECK(cas_chunk_decompress(dst, len, sch, out, n + 1, scratch, &e) == CAS_E_SIZE);
                }
            }
        }
    printf("  chunk schemes used: none %d, lz4 %d, bg4-lz4 %d\n", used[0], used[1], used[2]);
    CHECK(used[0] && used[1] && used[2]);
    CHECK(cas_chunk_compress(cc, buf, 131073, CAS_COMPRESS_LZ4, dst, 131073, &len, &sch) == CAS_E_ARGUMENT);
    CHECK(cas_chunk_compress(cc, buf, 100, 3, dst, 100, &len, &sch) == CAS_E_ARGUMENT);
    /* a stored scheme is not a request: refused, not misread */
    CHECK(cas_chunk_compress(cc, buf, 100, CAS_SCHEME_LZ4, dst, 100, &len, &sch) == CAS_E_ARGUMENT);
    CHECK(cas_chunk_compress(cc, buf, 100, CAS_SCHEME_BG4_LZ4, dst, 100, &len, &sch) == CAS_E_ARGUMENT);
    gen(K_RANDOM, buf, 1000);
    CHECK(cas_chunk_compress(cc, buf, 1000, CAS_COMPRESS_LZ4, dst, 999, &len, &sch) == CAS_E_LIMIT);
    CHECK(cas_chunk_decompress(buf, 10, CAS_SCHEME_BG4_LZ4 + 1, out, 10, NULL, &e) == CAS_E_ARGUMENT);
    /* a size no chunk header can declare, before the scheme is looked at */
    CHECK(cas_chunk_decompress(buf, 131073, CAS_SCHEME_NONE, dst, 131073, NULL, &e) == CAS_E_ARGUMENT &&
          e.code == CAS_E_ARGUMENT && strstr(e.what, "over 128 KiB"));
    CHECK(cas_chunk_decompress(buf, 10, CAS_SCHEME_BG4_LZ4, out, 10, NULL, &e) == CAS_E_ARGUMENT);
    CHECK(cas_chunk_decompress(buf, 10, CAS_SCHEME_NONE, out, 11, NULL, &e) == CAS_E_SIZE);
    free(cc);
    free(buf);
    free(dst);
    free(out);
    free(scratch);
    free(f);
}

static void test_results(void) {
    static const int codes[] = {CAS_E_TRUNCATED, CAS_E_TRAILING, CAS_E_SIZE, CAS_E_LZ4_MAGIC,
                                CAS_E_LZ4_HEADER, CAS_E_LZ4_BLOCK, CAS_E_LZ4_CHECKSUM};
    size_t i;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(strcmp(cas_result_name(codes[i]), "CAS_E_UNKNOWN") != 0);
        CHECK(strcmp(cas_result_message(codes[i]), "unknown result code") != 0);
    }
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
#define RUN(t)                                                                                 \
    do {                                                                                       \
        long f0 = g_fail;                                                                      \
        printf("%s\n", #t);                                                                    \
        fflush(stdout);                                                                        \
        t;                                                                                     \
        if (g_fail != f0) printf("  ^ %ld failures\n", g_fail - f0);                           \
    } while (0)
    RUN(test_results());
    RUN(test_xxh32());
    RUN(test_block_crafted());
    RUN(test_block_roundtrip());
    RUN(test_block_from_liblz4());
    RUN(test_block_mutations());
    RUN(test_frame_write());
    RUN(test_frame_from_liblz4(quick));
    RUN(test_roundtrip());
    RUN(test_reject());
    RUN(test_canary());
    RUN(test_frame_mutations());
    RUN(test_bg4());
    RUN(test_predictor());
    RUN(test_chunk_compress());
    printf("%ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
