/* The multipart/byteranges reader on arbitrary bytes.
   data[0]: bits 0-2 pick the Content-Type (0-5: a fixed boundary, see k_ct; 6-7: the
   Content-Type is the input up to its first '\n', at most 256 bytes), bits 3-4 max_parts
   (0 = no limit, 1, 2, 3), bits 5-7 with data[1] seed the piece sizes. The rest is the body.
   Oracles: no crash/UB/over-read (every piece is its own exact-size heap block); the body fed
   at once, in random pieces and byte by byte gives the same events (PART ranges, DATA bytes
   and their offsets), the same result, error offset and detail; events are sane (DATA inside
   the caller's piece, contiguous, within the part's range, exactly last-first+1 bytes per
   part before the next part or the end; at most max_parts parts; CAS_END only after >= 1
   part); errors are the documented codes with a detail, at an offset inside the body. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

static const char *const k_ct[6] = {
    "multipart/byteranges; boundary=B",
    "multipart/byteranges; boundary=THIS_STRING_SEPARATES",
    "Multipart/ByteRanges; charset=x; boundary=\"a b\"",
    "multipart/byteranges; boundary=--",
    "multipart/byteranges; boundary=\"-\"",
    "multipart/byteranges;boundary=0123456789012345678901234567890123456789012345678901234567890123456789",
};

typedef struct {
    int rc;
    uint64_t err_offset;
    const char *what;
    uint64_t digest;  /* FNV-1a over the events and bytes */
    uint32_t parts;
    int ended;
} f_out;

static void mix(uint64_t *h, const void *p, size_t n) {
    const uint8_t *s = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; i++) *h = (*h ^ s[i]) * 1099511628211ull;
}

static uint32_t g_seed;
static size_t piece_size(int mode, size_t left) {
    size_t n = left;
    if (mode == 1) n = 1;
    if (mode == 2) {
        g_seed = g_seed * 1103515245u + 12345u;
        n = (g_seed >> 16) % 8 == 0 ? 1 + (g_seed >> 8) % 300 : 1 + (g_seed >> 20) % 7;
    }
    return n < left ? n : left;
}

static void feed(const char *ct, size_t ct_len, uint32_t max_parts, const uint8_t *body, size_t len,
                 int mode, cas_multipart *m, f_out *o) {
    cas_multipart_event ev;
    cas_error e;
    size_t off = 0;
    uint64_t next = 0, got = 0, want = 0; /* bytes of the current part: expected offset, had, due */
    int rc = cas_multipart_init(m, ct, ct_len, max_parts, &e), in_part = 0;
    memset(o, 0, sizeof *o);
    o->digest = 14695981039346656037ull;
    if (rc != CAS_OK) {
        REQUIRE(rc == CAS_E_MULTIPART && e.code == rc && *e.what && e.offset <= ct_len);
        REQUIRE(cas_multipart_push(m, body, len, &off, &ev) == rc && off == 0);
        o->rc = rc;
        o->what = m->error.what;
        o->err_offset = e.offset;
        return;
    }
    REQUIRE(m->priv_dlen >= 5 && m->priv_dlen <= 4 + CAS_MULTIPART_MAX_BOUNDARY);
    while (rc == CAS_OK && off < len) {
        size_t n = piece_size(mode, len - off), pos = 0, used;
        uint8_t *piece = (uint8_t *)malloc(n);
        REQUIRE(piece);
        memcpy(piece, body + off, n);
        for (;;) {
            rc = cas_multipart_push(m, piece + pos, n - pos, &used, &ev);
            REQUIRE(used <= n - pos);
            pos += used;
            if (rc != CAS_READY) break;
            if (ev.type == CAS_MULTIPART_PART) {
                REQUIRE(!in_part || got == want); /* the previous part was complete */
                REQUIRE(ev.part == o->parts);
                REQUIRE(ev.first <= ev.last && (ev.total == UINT64_MAX || ev.last < ev.total));
                REQUIRE(ev.offset == ev.first && !ev.data && !ev.len);
                o->parts++;
                REQUIRE(!max_parts || o->parts <= max_parts);
                in_part = 1;
                next = ev.first;
                got = 0;
                want = ev.last - ev.first + 1;
                mix(&o->digest, "P", 1);
                mix(&o->digest, &ev.first, sizeof ev.first);
                mix(&o->digest, &ev.last, sizeof ev.last);
                mix(&o->digest, &ev.total, sizeof ev.total);
            } else {
                REQUIRE(ev.type == CAS_MULTIPART_DATA && in_part && ev.part + 1 == o->parts);
                REQUIRE(ev.len >= 1 && ev.data >= piece && ev.data + ev.len == piece + pos);
                REQUIRE(ev.offset == next && ev.len <= want - got);
                next += ev.len;
                got += ev.len;
                mix(&o->digest, ev.data, ev.len);
            }
        }
        free(piece);
        if (rc == CAS_END) {
            REQUIRE(pos == n && o->parts >= 1 && got == want);
            o->ended = 1;
            REQUIRE(cas_multipart_push(m, "x", 1, &used, &ev) == CAS_END && used == 1);
            rc = CAS_OK;
            break;
        }
        if (rc == CAS_NEED_INPUT) {
            REQUIRE(pos == n);
            rc = CAS_OK;
        } else {
            REQUIRE(rc == CAS_E_MULTIPART || rc == CAS_E_LIMIT);
        }
        off += n;
    }
    if (rc == CAS_OK) {
        rc = cas_multipart_finish(m, &e);
        REQUIRE((rc == CAS_OK) == o->ended);
        REQUIRE(rc == CAS_OK || rc == CAS_E_TRUNCATED || rc == CAS_E_MULTIPART);
    }
    REQUIRE(m->error.code == rc);
    REQUIRE(rc == CAS_OK ? !*m->error.what && m->error.offset == 0 : *m->error.what != 0);
    REQUIRE(m->error.offset <= len);
    REQUIRE(cas_multipart_finish(m, NULL) == rc); /* sticky */
    o->rc = rc;
    o->err_offset = m->error.offset;
    o->what = m->error.what;
}

static cas_multipart m0, m1, m2; /* error details point into them */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    f_out a, b, c;
    const char *ct;
    size_t ct_len;
    uint32_t max_parts;
    uint32_t seed;
    if (size < 2) return 0;
    max_parts = (data[0] >> 3) & 3;
    seed = (uint32_t)(data[0] >> 5) << 8 | data[1];
    if ((data[0] & 7) < 6) {
        ct = k_ct[data[0] & 7];
        ct_len = strlen(ct);
        data += 2;
        size -= 2;
    } else {
        const uint8_t *nl;
        data += 2;
        size -= 2;
        nl = (const uint8_t *)memchr(data, '\n', size < 256 ? size : 256);
        if (!nl) return 0;
        ct = (const char *)data;
        ct_len = (size_t)(nl - data);
        data += ct_len + 1;
        size -= ct_len + 1;
    }
    g_seed = seed;
    feed(ct, ct_len, max_parts, data, size, 0, &m0, &a);
    feed(ct, ct_len, max_parts, data, size, 2, &m1, &b);
    REQUIRE(a.rc == b.rc && a.err_offset == b.err_offset && strcmp(a.what, b.what) == 0);
    REQUIRE(a.digest == b.digest && a.parts == b.parts && a.ended == b.ended);
    if (size <= 4096) {
        feed(ct, ct_len, max_parts, data, size, 1, &m2, &c);
        REQUIRE(a.rc == c.rc && a.err_offset == c.err_offset && strcmp(a.what, c.what) == 0);
        REQUIRE(a.digest == c.digest && a.parts == c.parts && a.ended == c.ended);
    }
    return 0;
}
