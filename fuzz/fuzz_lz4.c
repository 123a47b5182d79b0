/* LZ4 / BG4 / chunk compression, with liblz4 1.9.4 as a test-only oracle (fuzz/lz4.libs links
   -llz4). The first byte picks the mode:

   0 frame differential: cas_lz4_frame_decompress with a fuzzer-chosen capacity against
     LZ4F_decompress (skipChecksums, since cas skips them under CAS_FUZZING; the header and
     block checksums, which liblz4 1.9.4 checks anyway, are fixed up first). cas accepts => liblz4 accepts the same
     frame, all of the input, with the same bytes. liblz4 accepts a frame that fills the input
     with <= cap bytes but cas refuses => one of cas's documented strictness rules, each checked:
       - a skippable frame (magic 0x184D2A5x): CAS_E_LZ4_MAGIC (liblz4 skips it: 0 bytes)
       - a dictionary ID in the header: CAS_E_LZ4_HEADER (liblz4 ignores it without a dict)
       - a content size field of 0 with data: CAS_E_SIZE (liblz4 reads 0 as "unknown")
       - a match offset 0: CAS_E_LZ4_BLOCK at the offset, whose two bytes are 00 00
     liblz4 decodes a frame but leaves input over => cas refuses (CAS_E_TRAILING when the frame
     alone is accepted) and the frame alone is checked as above. Where cas is more lenient
     (as lz4_flex, xet-core's decoder, is): the end-of-block rules (last match starts >= 12
     bytes and ends >= 5 bytes before the block's end), which exist so decoders may skip
     checks and which liblz4 enforces (against its capacity and the input end); cas accepts
     such a block, liblz4 refuses it. Checked: some block breaks the rules, and a plain
     reference decoder (ref_block) gives cas's bytes.
   1 block differential: cas_lz4_block_decompress (with a prefix) against
     LZ4_decompress_safe_usingDict, same exceptions (offset 0; end-rule breaks), plus one of
     liblz4's: with capacity 0 it accepts only the block 00, cas any lone token (its match
     length nibble is unused in a last sequence).
   2 round trip: cas block and frame compression (fuzzer's acceleration) decoded by cas and
     by liblz4 (frames with checksums verified) = the input; with a smaller capacity the
     compressors either give the same bytes or CAS_E_LIMIT, and LIMIT only if they do not fit.
   3 BG4: split = the naive definition, regroup(split(x)) = x.
   4 chunk round trip: cas_chunk_compress for every scheme, cas_chunk_decompress and liblz4
     (+ regroup) give the chunk back; NONE is stored only when the frame is not smaller.
   5 cas_chunk_decompress on arbitrary payloads agrees with cas_lz4_frame_decompress.
   6 as 0, on frames the target assembles from fuzzer-chosen header bits and block bytes. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"
#include <lz4.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static uint8_t *xmalloc(size_t n) {
    uint8_t *p = (uint8_t *)malloc(n ? n : 1);
    REQUIRE(p != NULL);
    return p;
}

static uint8_t *exact_copy(const uint8_t *p, size_t n) {
    uint8_t *q = xmalloc(n);
    if (n) memcpy(q, p, n);
    return q;
}

/* ---- liblz4 frame decoding ---- */

enum { LZ_ERROR = -1, LZ_INCOMPLETE = 0, LZ_DONE = 1, LZ_OVER = 2 };

/* Feeds src[0..n) to LZ4F_decompress with at most limit + 1 bytes of output.
   LZ_DONE: a frame ended (*in = bytes it used, *out = bytes decoded, <= limit);
   LZ_OVER: it decoded more than limit bytes; LZ_INCOMPLETE: it wants more input. */
static int lz4f_run(const uint8_t *src, size_t n, uint8_t *dst, size_t limit, int skip_checksums,
                    size_t *in_out, size_t *out_out) {
    LZ4F_dctx *d;
    LZ4F_decompressOptions_t opt;
    size_t in = 0, out = 0, r = 1;
    int result = LZ_INCOMPLETE;
    memset(&opt, 0, sizeof opt);
    opt.skipChecksums = (unsigned)skip_checksums;
    REQUIRE(!LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)));
    for (;;) {
        size_t sn = n - in, dn = limit + 1 - out;
        if (dn == 0) { result = LZ_OVER; break; }
        r = LZ4F_decompress(d, dst + out, &dn, src + in, &sn, &opt);
        if (LZ4F_isError(r)) { result = LZ_ERROR; break; }
        in += sn;
        out += dn;
        if (out > limit) { result = LZ_OVER; break; }
        if (r == 0) { result = LZ_DONE; break; }
        if (sn == 0 && dn == 0) break;
    }
    LZ4F_freeDecompressionContext(d);
    *in_out = in;
    *out_out = out;
    return result;
}

/* ---- mode 0: frame differential ---- */

/* A plain LZ4 block decoder (byte at a time, every check explicit): decodes src[0..n) into
   base[prefix..cap), offsets 1..(bytes before), as the block format says. 1 on success with
   *got; *rules = the block obeys the end-of-block rules (no match, or the last match starts
   >= 12 bytes before the end and ends >= 5 bytes before it), which liblz4 relies on. */
static int ref_block(const uint8_t *src, size_t n, uint8_t *base, size_t prefix, size_t cap,
                     size_t *got, int *rules) {
    size_t ip = 0, op = prefix, last_start = 0, last_end = 0;
    int any_match = 0;
    for (;;) {
        size_t lit, ml, off, k;
        unsigned t, x;
        if (ip >= n) return 0;
        t = src[ip++];
        lit = t >> 4;
        if (lit == 15)
            do {
                if (ip >= n) return 0;
                x = src[ip++];
                lit += x;
            } while (x == 255);
        if (lit > n - ip || lit > cap - op) return 0;
        for (k = 0; k < lit; k++) base[op++] = src[ip++];
        if (ip == n) break;
        if (n - ip < 2) return 0;
        off = src[ip] | (size_t)src[ip + 1] << 8;
        ip += 2;
        ml = t & 15;
        if (ml == 15)
            do {
                if (ip >= n) return 0;
                x = src[ip++];
                ml += x;
            } while (x == 255);
        ml += 4;
        if (off == 0 || off > op || ml > cap - op) return 0;
        any_match = 1;
        last_start = op - prefix;
        for (k = 0; k < ml; k++, op++) base[op] = base[op - off];
        last_end = op - prefix;
    }
    *got = op - prefix;
    *rules = !any_match || (last_start + 12 <= *got && last_end + 5 <= *got);
    return 1;
}

static long g_endrule; /* accepted only by cas: blocks that break the end-of-block rules */

/* cas accepted the frame f[0..n) as want[0..len) and liblz4 did not. 1 if the reference
   decoder, block by block, gives the same bytes and some block breaks the end rules. */
static int endrule_only(const uint8_t *f, size_t n, const uint8_t *want, size_t len) {
    unsigned flg = f[4], bd = f[5];
    size_t bmax = (size_t)1 << (2 * ((bd >> 4) & 7) + 8), pos = 7 + ((flg & 8) ? 8 : 0);
    size_t produced = 0;
    int broken = 0, ok = 1;
    uint8_t *buf = xmalloc(len);
    for (;;) {
        uint32_t word = (uint32_t)f[pos] | (uint32_t)f[pos + 1] << 8 | (uint32_t)f[pos + 2] << 16 |
                        (uint32_t)f[pos + 3] << 24;
        size_t bsize = word & 0x7FFFFFFFu, got;
        if (word == 0) break;
        if (word & 0x80000000u) {
            memcpy(buf + produced, f + pos + 4, bsize);
            got = bsize;
        } else {
            int rules;
            size_t room = len - produced < bmax ? len - produced : bmax;
            if ((flg & 0x20) ? !ref_block(f + pos + 4, bsize, buf + produced, 0, room, &got, &rules)
                             : !ref_block(f + pos + 4, bsize, buf, produced, produced + room, &got, &rules)) {
                ok = 0;
                break;
            }
            if (!rules) broken = 1;
        }
        produced += got;
        pos += 4 + bsize + ((flg & 0x10) ? 4 : 0);
        REQUIRE(pos + 4 <= n && produced <= len);
    }
    ok = ok && broken && produced == len && (len == 0 || memcmp(buf, want, len) == 0);
    free(buf);
    return ok;
}

/* Header length (magic to checksum, inclusive) of the frame at f, 0 if it is not one. */
static size_t header_len(const uint8_t *f, size_t n) {
    size_t h;
    if (n < 7 || f[0] != 0x04 || f[1] != 0x22 || f[2] != 0x4D || f[3] != 0x18) return 0;
    h = 7 + ((f[4] & 8) ? 8 : 0) + ((f[4] & 1) ? 4 : 0);
    return n >= h ? h : 0;
}

/* liblz4 1.9.4 checks the header checksum and the checksums of compressed blocks even with
   skipChecksums (only the content checksum and stored blocks' are skipped): writes the right
   ones into the frame at f, as far as its block structure goes. */
static void fix_checksums(uint8_t *f, size_t n) {
    size_t h = header_len(f, n), pos;
    if (h == 0) return;
    f[h - 1] = (uint8_t)(cas_xxh32(f + 4, h - 5, 0) >> 8);
    if (!(f[4] & 0x10)) return;
    for (pos = h; n - pos >= 4;) {
        uint32_t word = (uint32_t)f[pos] | (uint32_t)f[pos + 1] << 8 | (uint32_t)f[pos + 2] << 16 |
                        (uint32_t)f[pos + 3] << 24;
        size_t bsize = word & 0x7FFFFFFFu;
        uint32_t x;
        if (word == 0 || bsize > n - pos - 4 || n - pos - 4 - bsize < 4) return;
        x = cas_xxh32(f + pos + 4, bsize, 0);
        f[pos + 4 + bsize] = (uint8_t)x;
        f[pos + 5 + bsize] = (uint8_t)(x >> 8);
        f[pos + 6 + bsize] = (uint8_t)(x >> 16);
        f[pos + 7 + bsize] = (uint8_t)(x >> 24);
        pos += 8 + bsize;
    }
}

static void frame_diff(const uint8_t *f, size_t n, size_t cap, int depth) {
    uint8_t *out = xmalloc(cap), *lz = xmalloc(cap + 1);
    size_t got = 12345, lin = 0, lgot = 0;
    cas_error e;
    int rc, lr;
    memset(&e, 0, sizeof e);
    rc = cas_lz4_frame_decompress(f, n, out, cap, &got, &e);
    REQUIRE(rc == e.code && e.offset <= n);
    REQUIRE(rc == CAS_OK ? got <= cap : got == 0);
    lr = lz4f_run(f, n, lz, cap, 1, &lin, &lgot);
    if (lr == LZ_DONE && lin < n) {
        /* liblz4 stops after one frame; cas wants it to fill the input */
        cas_error e2;
        size_t g2;
        uint8_t *pre = exact_copy(f, lin), *o2 = xmalloc(cap);
        REQUIRE(rc != CAS_OK);
        if (cas_lz4_frame_decompress(pre, lin, o2, cap, &g2, &e2) == CAS_OK)
            REQUIRE(rc == CAS_E_TRAILING && e.offset == lin);
        if (depth == 0) frame_diff(pre, lin, cap, 1);
        free(pre);
        free(o2);
    } else if (rc == CAS_OK) {
        if (!(lr == LZ_DONE && lgot == got && (got == 0 || memcmp(out, lz, got) == 0))) {
            REQUIRE(lr == LZ_ERROR && endrule_only(f, n, out, got));
            g_endrule++;
        }
    } else if (lr == LZ_DONE) {
        /* liblz4 accepts the frame, all of the input, within cap: a documented strictness rule */
        uint32_t magic = n >= 4 ? (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
                                      (uint32_t)f[3] << 24 : 0;
        int skippable = (magic & 0xFFFFFFF0u) == 0x184D2A50u;
        int dict_id = !skippable && n > 4 && (f[4] & 1);
        int size0 = !skippable && n > 14 && (f[4] & 8) && lgot > 0 && !f[6] && !f[7] && !f[8] &&
                    !f[9] && !f[10] && !f[11] && !f[12] && !f[13];
        int off0 = strcmp(e.what, "match offset 0") == 0 && e.offset + 2 <= n &&
                   f[e.offset] == 0 && f[e.offset + 1] == 0;
        if (!((skippable && rc == CAS_E_LZ4_MAGIC) || (dict_id && rc == CAS_E_LZ4_HEADER) ||
              (size0 && rc == CAS_E_SIZE) || (off0 && rc == CAS_E_LZ4_BLOCK))) {
            fprintf(stderr, "liblz4 accepts (%zu bytes), cas: %s at %llu: %s\n", lgot,
                    cas_result_name(rc), (unsigned long long)e.offset, e.what);
            abort();
        }
    }
    free(out);
    free(lz);
}

static void mode_frame(const uint8_t *d, size_t n) {
    size_t cap;
    uint8_t *f;
    if (n < 3) return;
    cap = ((size_t)d[0] << 16 | (size_t)d[1] << 8 | d[2]) & 0x3FFFFF; /* 0 .. 4 MiB - 1 */
    d += 3;
    n -= 3;
    f = exact_copy(d, n);
    fix_checksums(f, n);
    frame_diff(f, n, cap, 0);
    free(f);
}

/* Mode 6: the same differential on frames assembled from fuzzer-chosen blocks, so that block
   bytes reach the decoders inside well-formed frames: FLG bits, BD, capacity (3 bytes),
   content size (2 bytes), then blocks as a u16 LE length (bit 15: stored) and its bytes. */
static void mode_frame_build(const uint8_t *d, size_t n) {
    size_t cap, pos = 0, fl = 0;
    unsigned flg;
    uint8_t *f;
    if (n < 7) return;
    flg = 0x40 | (d[0] & 0x3D); /* version 01; independent, checksums, size, dict ID as given */
    cap = ((size_t)d[2] << 16 | (size_t)d[3] << 8 | d[4]) & 0x3FFFFF;
    f = xmalloc(19 + n / 2 * 10 + n + 8);
    f[0] = 0x04; f[1] = 0x22; f[2] = 0x4D; f[3] = 0x18;
    f[4] = (uint8_t)flg;
    f[5] = (uint8_t)((4 + d[1] % 4) << 4);
    fl = 6;
    if (flg & 8) {
        memset(f + 6, 0, 8);
        f[6] = d[5];
        f[7] = d[6];
        fl += 8;
    }
    if (flg & 1) {
        memset(f + fl, 0x11, 4);
        fl += 4;
    }
    f[fl] = (uint8_t)(cas_xxh32(f + 4, fl - 4, 0) >> 8);
    fl++;
    d += 7;
    n -= 7;
    while (n - pos >= 2) {
        size_t len = (size_t)(d[pos] | d[pos + 1] << 8) & 0x7FFF, stored = d[pos + 1] & 0x80;
        pos += 2;
        if (len > n - pos) len = n - pos;
        if (len == 0 && !stored) continue; /* that would be the EndMark */
        f[fl] = (uint8_t)len;
        f[fl + 1] = (uint8_t)(len >> 8);
        f[fl + 2] = 0;
        f[fl + 3] = stored ? 0x80 : 0;
        memcpy(f + fl + 4, d + pos, len);
        fl += 4 + len;
        pos += len;
        if (flg & 0x10) {
            memset(f + fl, 0, 4); /* block checksum, filled in by fix_checksums */
            fl += 4;
        }
    }
    memset(f + fl, 0, 4);
    fl += 4;
    if (flg & 4) {
        memset(f + fl, 0, 4);
        fl += 4;
    }
    {
        uint8_t *exact = exact_copy(f, fl);
        fix_checksums(exact, fl);
        frame_diff(exact, fl, cap, 0);
        free(exact);
    }
    free(f);
}

/* ---- mode 1: block differential ---- */

static void mode_block(const uint8_t *d, size_t n) {
    size_t cap, prefix, got = 777, k;
    uint8_t *a, *b, *src;
    cas_error e;
    int rc, r;
    if (n < 4) return;
    cap = (size_t)d[0] << 8 | d[1];                   /* output room after the prefix */
    prefix = ((size_t)d[2] << 8 | d[3]) * 2;          /* 0 .. 128 KiB of earlier output */
    d += 4;
    n -= 4;
    src = exact_copy(d, n);
    a = xmalloc(prefix + cap);
    b = xmalloc(prefix + cap + 64);
    for (k = 0; k < prefix; k++) a[k] = b[k] = (uint8_t)(k * 7 + (k >> 8));
    rc = cas_lz4_block_decompress(src, n, a, prefix, prefix + cap, &got, &e);
    REQUIRE(rc == e.code && (rc == CAS_OK ? got <= cap : got == 0));
    r = LZ4_decompress_safe_usingDict((const char *)src, (char *)b + prefix, (int)n, (int)cap,
                                      (const char *)b, (int)prefix);
    if (rc == CAS_OK) {
        if (!(r >= 0 && (size_t)r == got && memcmp(a + prefix, b + prefix, got) == 0)) {
            /* only a block that breaks the end rules, decoded alike by the reference decoder;
               or liblz4's special case of capacity 0, where it takes only the block 00 */
            size_t g2;
            int rules;
            if (cap == 0 && n == 1 && src[0] != 0 && got == 0 && r < 0) goto done;
            REQUIRE(r < 0 && ref_block(src, n, b, prefix, prefix + cap, &g2, &rules) && !rules &&
                  g2 == got && memcmp(a + prefix, b + prefix, got) == 0);
            g_endrule++;
        }
    } else if (r >= 0) {
        REQUIRE(rc == CAS_E_LZ4_BLOCK && strcmp(e.what, "match offset 0") == 0 &&
              e.offset + 2 <= n && src[e.offset] == 0 && src[e.offset + 1] == 0);
    }
done:
    free(src);
    free(a);
    free(b);
}

/* ---- mode 2: compression round trips ---- */

static void mode_roundtrip(const uint8_t *d, size_t n) {
    static cas_lz4_table table;
    size_t bound, clen, clen2, got, lin, lgot, small;
    uint8_t *in, *c, *c2, *out;
    int accel, rc, lr;
    cas_error e;
    if (n < 3) return;
    accel = d[0] < 200 ? 1 : (d[0] - 199) * (d[0] - 199); /* mostly the default */
    small = d[1] << 8 | d[2];                             /* a smaller capacity */
    d += 3;
    n -= 3;
    in = exact_copy(d, n);

    /* block */
    bound = cas_lz4_block_bound(n);
    c = xmalloc(bound);
    REQUIRE(cas_lz4_block_compress(in, n, c, bound, &clen, accel, &table) == CAS_OK && clen <= bound);
    out = xmalloc(n);
    REQUIRE(cas_lz4_block_decompress(c, clen, out, 0, n, &got, &e) == CAS_OK && got == n);
    REQUIRE(n == 0 || memcmp(out, in, n) == 0);
    /* liblz4 with the exact capacity: also checks the end-of-block rules */
    REQUIRE(LZ4_decompress_safe((const char *)c, (char *)out, (int)clen, (int)n) == (int)n);
    REQUIRE(n == 0 || memcmp(out, in, n) == 0);
    small = small % (bound + 1);
    c2 = xmalloc(small);
    rc = cas_lz4_block_compress(in, n, c2, small, &clen2, accel, NULL);
    if (rc == CAS_OK) REQUIRE(clen2 == clen && memcmp(c2, c, clen) == 0);
    else REQUIRE(rc == CAS_E_LIMIT && clen > small);
    free(c);
    free(c2);

    /* frame */
    bound = cas_lz4_frame_bound(n);
    c = xmalloc(bound);
    REQUIRE(cas_lz4_frame_compress(in, n, c, bound, &clen, accel) == CAS_OK && clen <= bound);
    REQUIRE(cas_lz4_frame_decompress(c, clen, out, n, &got, &e) == CAS_OK && got == n);
    REQUIRE(n == 0 || memcmp(out, in, n) == 0);
    {
        uint8_t *lz = xmalloc(n + 1);
        lr = lz4f_run(c, clen, lz, n, 0, &lin, &lgot); /* checksums verified */
        REQUIRE(lr == LZ_DONE && lin == clen && lgot == n && (n == 0 || memcmp(lz, in, n) == 0));
        free(lz);
    }
    small = (size_t)d[-2] << 8 | d[-1];
    small = small % (bound + 1);
    c2 = xmalloc(small);
    rc = cas_lz4_frame_compress(in, n, c2, small, &clen2, accel);
    if (rc == CAS_OK) REQUIRE(clen2 == clen && memcmp(c2, c, clen) == 0);
    else REQUIRE(rc == CAS_E_LIMIT && clen > small);
    free(c);
    free(c2);
    free(out);
    free(in);
}

/* ---- mode 3: BG4 ---- */

static void mode_bg4(const uint8_t *d, size_t n) {
    uint8_t *in = exact_copy(d, n), *g = xmalloc(n), *back = xmalloc(n);
    size_t i, at[4], q = n / 4, r = n % 4;
    cas_bg4_split(in, n, g);
    at[0] = 0;
    at[1] = q + (r > 0);
    at[2] = at[1] + q + (r > 1);
    at[3] = at[2] + q + (r > 2);
    for (i = 0; i < n; i++) REQUIRE(g[at[i % 4] + i / 4] == in[i]);
    cas_bg4_regroup(g, n, back);
    REQUIRE(n == 0 || memcmp(back, in, n) == 0);
    free(in);
    free(g);
    free(back);
}

/* ---- mode 4: chunk compression round trip, every scheme ---- */

static void mode_chunk(const uint8_t *d, size_t n) {
    static cas_chunk_compressor cc;
    static const int requests[4] = {CAS_COMPRESS_NONE, CAS_COMPRESS_LZ4, CAS_COMPRESS_BG4_LZ4, CAS_COMPRESS_AUTO};
    static const int schemes[4] = {CAS_SCHEME_NONE, CAS_SCHEME_LZ4, CAS_SCHEME_BG4_LZ4, -1}; /* -1: the predictor's */
    uint8_t *in, *dst, *out, *scratch, *grouped, *frame;
    size_t small, s;
    cas_error e;
    if (n < 2) return;
    small = (size_t)d[0] << 8 | d[1];
    d += 2;
    n -= 2;
    if (n > CAS_CHUNK_MAX_SIZE) n = CAS_CHUNK_MAX_SIZE;
    in = exact_copy(d, n);
    dst = xmalloc(n);
    out = xmalloc(n);
    scratch = xmalloc(n);
    grouped = xmalloc(n);
    frame = xmalloc(cas_lz4_frame_bound(n));
    cas_bg4_split(in, n, grouped);
    for (s = 0; s < 4; s++) {
        int request = requests[s], so = -1, so2 = -1, rc, want;
        size_t len = 9999, len2, flen, lin, lgot;
        uint8_t *c2;
        REQUIRE(cas_chunk_compress(&cc, in, n, request, dst, n, &len, &so) == CAS_OK);
        want = schemes[s] == -1 ? (cas_bg4_predict(in, n) ? CAS_SCHEME_BG4_LZ4 : CAS_SCHEME_LZ4)
                                : schemes[s];
        if (want != CAS_SCHEME_NONE) {
            /* the frame of the chunk (or its groups): kept only if smaller than the chunk */
            REQUIRE(cas_lz4_frame_compress(want == CAS_SCHEME_BG4_LZ4 ? grouped : in, n, frame,
                                         cas_lz4_frame_bound(n), &flen, 1) == CAS_OK);
            if (flen < n) REQUIRE(so == want && len == flen && memcmp(dst, frame, flen) == 0);
            else REQUIRE(so == CAS_SCHEME_NONE);
        } else {
            REQUIRE(so == CAS_SCHEME_NONE);
        }
        if (so == CAS_SCHEME_NONE) REQUIRE(len == n && (n == 0 || memcmp(dst, in, n) == 0));
        REQUIRE(cas_chunk_decompress(dst, len, so, out, n, scratch, &e) == CAS_OK);
        REQUIRE(n == 0 || memcmp(out, in, n) == 0);
        if (so != CAS_SCHEME_NONE) { /* liblz4 reads the payload too */
            uint8_t *lz = xmalloc(n + 1);
            REQUIRE(lz4f_run(dst, len, lz, n, 0, &lin, &lgot) == LZ_DONE && lin == len && lgot == n);
            if (so == CAS_SCHEME_BG4_LZ4) {
                cas_bg4_regroup(lz, n, out);
                REQUIRE(memcmp(out, in, n) == 0);
            } else {
                REQUIRE(memcmp(lz, in, n) == 0);
            }
            free(lz);
        }
        /* a smaller capacity: the same payload, or CAS_E_LIMIT when it does not fit */
        len2 = small % (n + 1);
        c2 = xmalloc(len2);
        rc = cas_chunk_compress(&cc, in, n, request, c2, len2, &flen, &so2);
        if (rc == CAS_OK) REQUIRE(so2 == so && flen == len && (len == 0 || memcmp(c2, dst, len) == 0));
        else REQUIRE(rc == CAS_E_LIMIT && len > len2);
        free(c2);
    }
    free(in);
    free(dst);
    free(out);
    free(scratch);
    free(grouped);
    free(frame);
}

/* ---- mode 5: chunk decompression of arbitrary payloads ---- */

static void mode_chunk_decode(const uint8_t *d, size_t n) {
    uint8_t *src, *out, *scratch, *ref;
    size_t size, got;
    int scheme, rc, rf;
    cas_error e, ef;
    if (n < 3) return;
    scheme = d[0] % 4; /* 3: unknown */
    size = ((size_t)d[1] << 8 | d[2]) * 3 % (CAS_CHUNK_MAX_SIZE + 1);
    d += 3;
    n -= 3;
    src = exact_copy(d, n);
    out = xmalloc(size);
    scratch = xmalloc(size);
    ref = xmalloc(size);
    rc = cas_chunk_decompress(src, n, scheme, out, size, scratch, &e);
    REQUIRE(rc == e.code);
    if (scheme == CAS_SCHEME_NONE) {
        REQUIRE((rc == CAS_OK) == (n == size));
        if (rc == CAS_OK) REQUIRE(n == 0 || memcmp(out, src, n) == 0);
    } else if (scheme == 3) {
        REQUIRE(rc == CAS_E_ARGUMENT);
    } else {
        rf = cas_lz4_frame_decompress(src, n, ref, size, &got, &ef);
        if (rf == CAS_OK && got == size) {
            REQUIRE(rc == CAS_OK);
            if (scheme == CAS_SCHEME_BG4_LZ4) {
                cas_bg4_split(out, size, scratch);
                REQUIRE(size == 0 || memcmp(scratch, ref, size) == 0);
            } else {
                REQUIRE(size == 0 || memcmp(out, ref, size) == 0);
            }
        } else {
            REQUIRE(rc != CAS_OK);
            REQUIRE(rf == CAS_OK ? rc == CAS_E_SIZE : rc == (rf == CAS_E_LIMIT ? CAS_E_SIZE : rf));
        }
    }
    free(src);
    free(out);
    free(scratch);
    free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 7) {
    case 0: mode_frame(data + 1, size - 1); break;
    case 1: mode_block(data + 1, size - 1); break;
    case 2: mode_roundtrip(data + 1, size - 1); break;
    case 3: mode_bg4(data + 1, size - 1); break;
    case 4: mode_chunk(data + 1, size - 1); break;
    case 5: mode_chunk_decode(data + 1, size - 1); break;
    default: mode_frame_build(data + 1, size - 1); break;
    }
    return 0;
}
