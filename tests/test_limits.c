/* Every numeric input limit of README.md's "Limits" table, tested exactly at the limit (must be
   accepted) and one past it (must be refused with the limit's own error code, a non-empty
   err.what and the right byte offset where the API reports them). One table, one row per
   limit; each row's probe builds its input programmatically. The table is also checked
   against README.md: every row of README's limits table must have a row here, and every
   number in README's limit cell must appear in the `limit` text of one of its rows, so a
   limit added to (or changed in) README without a test fails here.
     cc -std=c99 -O1 -g -fsanitize=address,undefined tests/test_limits.c -o build/test_limits
   Run from the repository root (it reads README.md). */
#define CAS_IMPLEMENTATION
#include "testlib.h"

#include <ctype.h>

#define MiB ((size_t)1 << 20)
#define NO_OFFSET UINT64_MAX /* the row's API reports no offset for this error */


/* A probe builds the input for one limit, at it (past = 0) or one past it (past = 1), runs
   the API and returns its result; *e is its error detail (code CAS_OK and what "" when the
   API has none), *off the offset the error must report (NO_OFFSET: none to check). */
typedef int (*t_probe)(int past, cas_error *e, uint64_t *off);

/* ---- chunk headers: parsed at stream offset 1000, so the offset must be 1000 + field ---- */
static int header(unsigned version, uint32_t comp, unsigned scheme, uint32_t uncomp, cas_error *e) {
    uint8_t p[CAS_CHUNK_HEADER_SIZE];
    cas_chunk_header h;
    h.version = (uint8_t)version;
    h.compressed_size = comp;
    h.scheme = (uint8_t)scheme;
    h.uncompressed_size = uncomp;
    cas_chunk_header_write(p, &h);
    return cas_chunk_header_parse(p, 1000, &h, e);
}
static int p_uncomp_max(int past, cas_error *e, uint64_t *off) {
    *off = 1005;
    return header(0, 1000, CAS_SCHEME_LZ4, CAS_CHUNK_MAX_SIZE + past, e);
}
static int p_uncomp_min(int past, cas_error *e, uint64_t *off) {
    *off = 1005;
    return header(0, 1000, CAS_SCHEME_LZ4, 1 - past, e);
}
static int p_comp_max(int past, cas_error *e, uint64_t *off) {
    *off = 1001;
    return header(0, CAS_CHUNK_MAX_COMPRESSED + past, CAS_SCHEME_LZ4, 1000, e);
}
static int p_comp_min(int past, cas_error *e, uint64_t *off) {
    *off = 1001;
    return header(0, 1 - past, CAS_SCHEME_LZ4, 1000, e);
}
static int p_comp_none(int past, cas_error *e, uint64_t *off) {
    *off = 1001;
    return header(0, 1000 + past, CAS_SCHEME_NONE, 1000, e);
}
static int p_version(int past, cas_error *e, uint64_t *off) {
    *off = 1000;
    return header(past, 1000, CAS_SCHEME_LZ4, 1000, e);
}
static int p_scheme(int past, cas_error *e, uint64_t *off) {
    *off = 1004;
    return header(0, 1000, CAS_SCHEME_BG4_LZ4 + past, 1000, e);
}

/* ---- LZ4 payload: one frame of a 1000-byte chunk ---- */
static size_t lz4_frame(uint8_t *dst, size_t cap, uint8_t *chunk, size_t n) {
    size_t len = 0;
    if (!t_generate("text", 7, chunk, n) || cas_lz4_frame_compress(chunk, n, dst, cap, &len, 1) != CAS_OK) abort();
    return len;
}
static int p_lz4_trailing(int past, cas_error *e, uint64_t *off) {
    uint8_t chunk[1000], out[1000], frame[2048];
    size_t len = lz4_frame(frame, sizeof frame, chunk, sizeof chunk);
    frame[len] = 0; /* one byte after the frame: a zero, which no frame starts with either */
    *off = len;
    return cas_chunk_decompress(frame, len + (size_t)past, CAS_SCHEME_LZ4, out, sizeof out, NULL, e);
}
static int p_lz4_output(int past, cas_error *e, uint64_t *off) {
    uint8_t chunk[1000], out[1000], frame[2048];
    size_t len = lz4_frame(frame, sizeof frame, chunk, sizeof chunk);
    *off = NO_OFFSET; /* where the block that overflows starts: LZ4's business */
    /* the header says one byte less than the frame holds: decoding stops at the size (the
       frame decoder's CAS_E_LIMIT, reported as the chunk's CAS_E_SIZE) */
    return cas_chunk_decompress(frame, len, CAS_SCHEME_LZ4, out, sizeof out - (size_t)past, NULL, e);
}

/* ---- xorbs ---- */
/* n uncompressed records of `size` bytes each, the last one of last_size (random bytes). */
static uint8_t *xorb_records(size_t n, size_t size, size_t last_size, size_t *len) {
    size_t i, at = 0;
    uint8_t *x;
    t_rng r;
    *len = (n - 1) * (CAS_CHUNK_HEADER_SIZE + size) + CAS_CHUNK_HEADER_SIZE + last_size;
    x = (uint8_t *)t_xmalloc(*len);
    r.state = 11;
    for (i = 0; i < n; i++) {
        cas_chunk_header h;
        h.version = 0;
        h.scheme = CAS_SCHEME_NONE;
        h.compressed_size = h.uncompressed_size = (uint32_t)(i + 1 == n ? last_size : size);
        cas_chunk_header_write(x + at, &h);
        t_fill_random(&r, x + at + CAS_CHUNK_HEADER_SIZE, h.compressed_size);
        at += CAS_CHUNK_HEADER_SIZE + h.compressed_size;
    }
    return x;
}
static int walk(uint8_t *x, size_t len, cas_error *e) {
    uint8_t *scratch = (uint8_t *)t_xmalloc(2 * CAS_CHUNK_MAX_SIZE);
    cas_xorb_info info;
    int rc = cas_xorb_walk(x, len, scratch, NULL, NULL, &info, e);
    free(scratch);
    free(x);
    return rc;
}
/* 8192 one-byte records; past: 8193. The refused record is the 8193rd, at 9 x 8192. */
static int p_xorb_chunks_walk(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *x = xorb_records(CAS_XORB_MAX_CHUNKS + past, 1, 1, &len);
    *off = (uint64_t)CAS_XORB_MAX_CHUNKS * (CAS_CHUNK_HEADER_SIZE + 1);
    return walk(x, len, e);
}
/* 8192 records of 8192 bytes each (header included) are exactly 64 MiB; past: the last
   record one byte longer. The refused record is the last one. */
#define REC (CAS_XORB_MAX_SIZE / CAS_XORB_MAX_CHUNKS)
static int p_xorb_size_walk(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *x = xorb_records(CAS_XORB_MAX_CHUNKS, REC - CAS_CHUNK_HEADER_SIZE,
                              REC - CAS_CHUNK_HEADER_SIZE + (size_t)past, &len);
    CHECK(len == CAS_XORB_MAX_SIZE + (size_t)past);
    *off = (uint64_t)(CAS_XORB_MAX_CHUNKS - 1) * REC;
    return walk(x, len, e);
}
/* The streaming reader over the same records, pushed whole (it returns at each chunk): it
   refuses the record that passes a limit at its header, before collecting its payload. */
static int stream(uint8_t *x, size_t len, int past, cas_error *e) {
    cas_xorb_stream st;
    cas_xorb_stream_chunk out;
    size_t pos = 0, used;
    int rc = CAS_OK;
    if (cas_xorb_stream_init(NULL, &st) != CAS_OK) abort();
    while (pos < len && rc >= 0) {
        rc = cas_xorb_stream_push(&st, x + pos, len - pos, &used, &out);
        pos += used;
    }
    if (rc >= 0) rc = cas_xorb_stream_finish(&st);
    *e = st.error;
    if (past) CHECK(rc == CAS_E_XORB_LIMIT && strstr(st.error.what, "more than 8192 chunks or 64 MiB"));
    cas_xorb_stream_free(&st);
    free(x);
    return rc;
}
static int p_xorb_chunks_stream(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *x = xorb_records(CAS_XORB_MAX_CHUNKS + past, 1, 1, &len);
    *off = (uint64_t)CAS_XORB_MAX_CHUNKS * (CAS_CHUNK_HEADER_SIZE + 1);
    return stream(x, len, past, e);
}
static int p_xorb_size_stream(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *x = xorb_records(CAS_XORB_MAX_CHUNKS, REC - CAS_CHUNK_HEADER_SIZE,
                              REC - CAS_CHUNK_HEADER_SIZE + (size_t)past, &len);
    *off = (uint64_t)(CAS_XORB_MAX_CHUNKS - 1) * REC;
    return stream(x, len, past, e);
}
/* The writer, with uncompressed records and given hashes (nothing to compress or hash): n
   chunks of `size` bytes then one of last_size; returns the last add's result. A chunk that
   does not fit is no sticky error (the host starts a new xorb), so w.error has no detail. */
static int writer(size_t n, size_t size, size_t last_size, cas_error *e) {
    cas_xorb_writer w;
    cas_sink sink;
    cas_hash h;
    uint8_t *chunk = (uint8_t *)t_xmalloc(CAS_CHUNK_MAX_SIZE);
    size_t i;
    int rc = CAS_OK;
    memset(&sink, 0, sizeof sink);
    memset(&h, 7, sizeof h);
    memset(chunk, 'x', CAS_CHUNK_MAX_SIZE);
    sink.cap = CAS_XORB_MAX_SIZE + 4096;
    sink.buf = (uint8_t *)t_xmalloc(sink.cap);
    if (cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &sink) != CAS_OK) abort();
    for (i = 0; i < n && rc == CAS_OK; i++) rc = cas_xorb_writer_add(&w, chunk, i + 1 == n ? last_size : size, &h);
    CHECK(rc == CAS_OK || i == n); /* only the last add may fail */
    *e = w.error;
    if (rc == CAS_OK) CHECK(cas_xorb_writer_finish(&w, 0, NULL) == CAS_OK && sink.len == cas_xorb_writer_size(&w));
    cas_xorb_writer_free(&w);
    free(sink.buf);
    free(chunk);
    return rc;
}
static int p_xorb_chunks_writer(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return writer(CAS_XORB_MAX_CHUNKS + past, 1, 1, e);
}
static int p_xorb_size_writer(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return writer(CAS_XORB_MAX_CHUNKS, REC - CAS_CHUNK_HEADER_SIZE, REC - CAS_CHUNK_HEADER_SIZE + (size_t)past, e);
}

/* ---- zstd frames built by hand: a Raw block of `text`, then RLE blocks of `pad` spaces ----
   (RFC 8878: no compressor needed.) window_byte: a Window_Descriptor; 0 = Single_Segment
   with a 4-byte Frame_Content_Size, which is then the window size. */
static uint8_t *zstd_frame(const char *text, size_t text_len, uint64_t pad, int window_byte, size_t *len) {
    t_buf b;
    uint64_t total = text_len + pad;
    uint8_t hdr[9] = {0x28, 0xB5, 0x2F, 0xFD};
    size_t h = 5;
    memset(&b, 0, sizeof b);
    if (window_byte) {
        hdr[4] = 0x00;
        hdr[h++] = (uint8_t)window_byte;
    } else {
        hdr[4] = 0xA0; /* FCS_Field_Size 4 bytes, Single_Segment */
        hdr[h++] = (uint8_t)total;
        hdr[h++] = (uint8_t)(total >> 8);
        hdr[h++] = (uint8_t)(total >> 16);
        hdr[h++] = (uint8_t)(total >> 24);
    }
    tb_put(&b, hdr, h);
    while (text_len || pad) {
        /* blocks of at most 128 KiB (the Block_Maximum_Size) */
        int raw = text_len > 0;
        size_t n = raw ? text_len : (size_t)pad, max = 128 * 1024;
        uint32_t bh;
        uint8_t h3[3];
        if (n > max) n = max;
        if (raw) text_len -= n;
        else pad -= n;
        bh = (uint32_t)(n << 3) | (raw ? 0u : 2u) | (!text_len && !pad ? 1u : 0u);
        h3[0] = (uint8_t)bh;
        h3[1] = (uint8_t)(bh >> 8);
        h3[2] = (uint8_t)(bh >> 16);
        tb_put(&b, h3, 3);
        if (raw) {
            tb_put(&b, text, n);
            text += n;
        } else {
            tb_put(&b, " ", 1);
        }
    }
    *len = b.n;
    return (uint8_t *)b.p;
}
/* Window = content size = 8 MiB (Single_Segment); past: 8 MiB + 1. */
static int p_zstd_window(int past, cas_error *e, uint64_t *off) {
    size_t len, out_len, n = ((size_t)1 << CAS_ZSTD_MAX_WINDOW_LOG) + (size_t)past;
    uint8_t *f = zstd_frame("", 0, n, 0, &len), *dst = (uint8_t *)t_xmalloc(n);
    int rc = cas_zstd_decompress(NULL, f, len, dst, n, &out_len);
    *off = NO_OFFSET;
    e->code = rc;
    if (rc == CAS_OK) CHECK(out_len == n && dst[n - 1] == ' ');
    free(f);
    free(dst);
    return rc;
}
/* 1000 bytes into a capacity of 1000; past: 999. */
static int p_zstd_cap(int past, cas_error *e, uint64_t *off) {
    size_t len, out_len;
    uint8_t *f = zstd_frame("x", 1, 999, 0, &len), dst[1000];
    int rc = cas_zstd_decompress(NULL, f, len, dst, sizeof dst - (size_t)past, &out_len);
    *off = NO_OFFSET;
    e->code = rc;
    free(f);
    return rc;
}

/* ---- JSON bodies ---- */
static const char k_xorb_resp[] = "{\"was_inserted\":true}";
/* An UploadXorbResponse padded with spaces to `size` bytes, as it came or zstd-compressed. */
static int xorb_resp(size_t size, int zstd, const cas_json_desc *o, cas_error *e) {
    size_t n = sizeof k_xorb_resp - 1, len;
    int v = -1, rc;
    uint8_t *body;
    if (zstd) {
        body = zstd_frame(k_xorb_resp, n, size - n, 10 << 3 | 0 /* 2^20 window */, &len);
    } else {
        body = (uint8_t *)t_xmalloc(size);
        memcpy(body, k_xorb_resp, n);
        memset(body + n, ' ', size - n);
        len = size;
    }
    rc = cas_xorb_upload_parse(NULL, body, len, o, &v, e);
    if (rc == CAS_OK) CHECK(v == 1);
    free(body);
    return rc;
}
static int p_body_lowered(int past, cas_error *e, uint64_t *off) {
    cas_json_desc o;
    memset(&o, 0, sizeof o);
    o.max_body = 100;
    *off = o.max_body;
    return xorb_resp(100 + (size_t)past, 0, &o, e);
}
static int p_body_default(int past, cas_error *e, uint64_t *off) {
    *off = CAS_JSON_MAX_BODY;
    return xorb_resp(64 * MiB + (size_t)past, 0, NULL, e);
}
static int p_body_zstd(int past, cas_error *e, uint64_t *off) {
    *off = CAS_JSON_MAX_BODY;
    return xorb_resp(64 * MiB + (size_t)past, 1, NULL, e);
}
/* {"was_inserted":true,"x":[[...]]}: the object and 31 arrays are 32 levels; past: 33. The
   refused '[' is the 33rd open container, in a member the parser skips. */
static int p_depth(int past, cas_error *e, uint64_t *off) {
    t_buf b;
    int v, rc;
    size_t arrays = CAS_JSON_MAX_DEPTH - 1 + (size_t)past;
    memset(&b, 0, sizeof b);
    tb_str(&b, "{\"was_inserted\":true,\"x\":");
    *off = b.n + CAS_JSON_MAX_DEPTH - 1;
    tb_rep(&b, "[", arrays);
    tb_rep(&b, "]", arrays);
    tb_str(&b, "}");
    rc = cas_xorb_upload_parse(NULL, b.p, b.n, NULL, &v, e);
    tb_free(&b);
    return rc;
}
/* A skipped string of 16384 decoded bytes, written with escapes (so its raw text is longer:
   the limit counts decoded bytes); past: 16385. Offset: its opening quote. */
static int p_string(int past, cas_error *e, uint64_t *off) {
    t_buf b;
    int v, rc;
    memset(&b, 0, sizeof b);
    tb_str(&b, "{\"was_inserted\":true,\"x\":");
    *off = b.n;
    tb_str(&b, "\"");
    tb_rep(&b, "\\u0061", 1000);
    tb_rep(&b, "a", CAS_JSON_MAX_STRING - 1000 + (size_t)past);
    tb_str(&b, "\"}");
    rc = cas_xorb_upload_parse(NULL, b.p, b.n, NULL, &v, e);
    tb_free(&b);
    return rc;
}
/* The Hub token's accessToken of 64000 bytes; past: 64001. */
static int p_token(int past, cas_error *e, uint64_t *off) {
    t_buf b;
    cas_xet_token t;
    int rc;
    memset(&b, 0, sizeof b);
    tb_str(&b, "{\"accessToken\":");
    *off = b.n;
    tb_str(&b, "\"");
    tb_rep(&b, "t", CAS_JSON_MAX_TOKEN + (size_t)past);
    tb_str(&b, "\",\"exp\":1,\"casUrl\":\"https://cas.test\"}");
    rc = cas_xet_token_parse(NULL, b.p, b.n, NULL, &t, e);
    if (rc == CAS_OK) CHECK(t.access_token_len == CAS_JSON_MAX_TOKEN);
    cas_xet_token_free(&t);
    tb_free(&b);
    return rc;
}
/* A u64 field (a /v2/shards event's "verified") of 2^64 - 1; past: 2^64. */
static int p_u64(int past, cas_error *e, uint64_t *off) {
    const char *s = past ? "{\"type\":\"validating\",\"verified\":18446744073709551616,\"total\":1}"
                         : "{\"type\":\"validating\",\"verified\":18446744073709551615,\"total\":1}";
    cas_shard_event ev;
    int rc = cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, e);
    *off = strchr(s, '1') - s;
    if (rc == CAS_OK) CHECK(ev.verified == UINT64_MAX);
    cas_shard_event_free(&ev);
    return rc;
}

/* ---- reconstruction manifests (v2): one xorb, one fetch range, one term ---- */
#define H1 "a1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456"
/* Term chunks [start, end) of unpacked_length `ul`, under a range of chunks [0, range_end)
   and bytes of 9 per chunk (the smallest record); `hash` is the term's. Returns the result,
   *term_at = the offset of the term's `what` value ("hash", "unpacked_length", "start"). */
static int manifest(const char *hash, const char *start, uint64_t end, uint64_t range_end, uint64_t ul,
                    const char *what, cas_error *e, uint64_t *at) {
    t_buf b;
    cas_recon r;
    int rc;
    memset(&b, 0, sizeof b);
    tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[{\"hash\":");
    if (!strcmp(what, "hash")) *at = b.n;
    tb_str(&b, "\"");
    tb_str(&b, hash);
    tb_str(&b, "\",\"unpacked_length\":");
    if (!strcmp(what, "unpacked_length")) *at = b.n;
    tb_u64(&b, ul);
    tb_str(&b, ",\"range\":{\"start\":");
    if (!strcmp(what, "start")) *at = b.n;
    tb_str(&b, start);
    tb_str(&b, ",\"end\":");
    if (!strcmp(what, "end")) *at = b.n;
    tb_u64(&b, end);
    tb_str(&b, "}}],\"xorbs\":{\"" H1 "\":[{\"url\":\"https://x.test/a\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":");
    tb_u64(&b, range_end);
    tb_str(&b, "},\"bytes\":{\"start\":0,\"end\":");
    tb_u64(&b, 9 * range_end - 1);
    tb_str(&b, "}}]}]}}");
    rc = cas_recon_parse(NULL, b.p, b.n, 2, NULL, &r, e);
    cas_recon_free(&r);
    tb_free(&b);
    return rc;
}
/* A hash of 64 hex digits; past: 65. */
static int p_hash(int past, cas_error *e, uint64_t *off) {
    return manifest(past ? H1 "0" : H1, "0", 4, 4, 1000, "hash", e, off);
}
/* A chunk index (u32) of 2^32 - 1 passes the integer rule (and is then refused by the
   chunk-end rule: the row's at_code); 2^32 is not an integer of the field's range. */
static int p_u32(int past, cas_error *e, uint64_t *off) {
    return manifest(H1, past ? "4294967296" : "4294967295", 4, 4, 1000, "start", e, off);
}
/* Term and range [0, 8192); past: [0, 8193). The refused value is the term's end (terms
   come first in the text). */
static int p_chunk_end(int past, cas_error *e, uint64_t *off) {
    uint64_t end = CAS_XORB_MAX_CHUNKS + (uint64_t)past;
    int rc = manifest(H1, "0", end, end, end * 1000, "end", e, off);
    *off = NO_OFFSET; /* reported at the term or its range: either is right */
    return rc;
}
/* 4 chunks of unpacked_length 4 (1 byte each); past: 3. */
static int p_unpacked_min(int past, cas_error *e, uint64_t *off) {
    int rc = manifest(H1, "0", 4, 4, 4 - (uint64_t)past, "unpacked_length", e, off);
    *off = NO_OFFSET; /* reported at the term */
    return rc;
}
/* 4 chunks of unpacked_length 4 x 131072; past: one byte more. */
static int p_unpacked_max(int past, cas_error *e, uint64_t *off) {
    int rc = manifest(H1, "0", 4, 4, 4 * (uint64_t)CAS_CHUNK_MAX_SIZE + (uint64_t)past, "unpacked_length", e, off);
    *off = NO_OFFSET;
    return rc;
}

/* ---- multipart/byteranges ---- */
/* Reads body[0..len) whole with Content-Type ct; CAS_OK when it closes. */
static int multipart(const char *ct, const char *body, size_t len, uint32_t max_parts, cas_error *e) {
    cas_multipart m;
    cas_multipart_event ev;
    size_t used, at = 0;
    int rc = cas_multipart_init(&m, ct, strlen(ct), max_parts, e);
    while (rc == CAS_OK || rc == CAS_READY) {
        rc = cas_multipart_push(&m, body + at, len - at, &used, &ev);
        at += used;
        if (rc == CAS_NEED_INPUT) rc = cas_multipart_finish(&m, e);
        else if (rc == CAS_END) rc = cas_multipart_finish(&m, e);
        else if (rc != CAS_READY) break;
        if (rc != CAS_READY) break;
    }
    if (rc != CAS_OK) *e = m.error;
    return rc;
}
/* A body of `parts` parts of 4 bytes each ("bytes 0-3/100", "bytes 10-13/100", ...), with
   `preamble` bytes before the first delimiter, `extra` more header bytes in part 0 (an
   X-Pad header) and `more_body` more bytes in part 0 than its range. */
static void mp_body(t_buf *b, const char *boundary, size_t preamble, size_t header_bytes, size_t more_body,
                    unsigned parts) {
    unsigned i;
    memset(b, 0, sizeof *b);
    tb_rep(b, "p", preamble);
    for (i = 0; i < parts; i++) {
        size_t head0 = b->n;
        tb_str(b, preamble || i ? "\r\n--" : "--");
        tb_str(b, boundary);
        tb_str(b, "\r\n");
        head0 = b->n;
        tb_str(b, "Content-Range: bytes ");
        tb_u64(b, 10 * i);
        tb_str(b, "-");
        tb_u64(b, 10 * i + 3);
        tb_str(b, "/100\r\n");
        if (i == 0 && header_bytes) { /* pad the block to header_bytes with an X-Pad line */
            size_t have = b->n - head0 + 2, line = header_bytes - have; /* + the empty line */
            tb_str(b, "X-Pad: ");
            tb_rep(b, "h", line - 9);
            tb_str(b, "\r\n");
        }
        tb_str(b, "\r\n");
        tb_str(b, "abcd");
        if (i == 0) tb_rep(b, "e", more_body);
    }
    tb_str(b, "\r\n--");
    tb_str(b, boundary);
    tb_str(b, "--\r\n");
}
static int mp_run(const char *boundary, size_t preamble, size_t header_bytes, size_t more_body, unsigned parts,
                  uint32_t max_parts, cas_error *e) {
    t_buf b, ct;
    int rc;
    memset(&ct, 0, sizeof ct);
    tb_str(&ct, "multipart/byteranges; boundary=\"");
    tb_str(&ct, boundary);
    tb_str(&ct, "\"");
    mp_body(&b, boundary, preamble, header_bytes, more_body, parts);
    rc = multipart(ct.p, b.p, b.n, max_parts, e);
    tb_free(&b);
    tb_free(&ct);
    return rc;
}
static int p_boundary_max(int past, cas_error *e, uint64_t *off) {
    char bd[CAS_MULTIPART_MAX_BOUNDARY + 2];
    memset(bd, 'b', sizeof bd);
    bd[CAS_MULTIPART_MAX_BOUNDARY + past] = 0;
    *off = NO_OFFSET; /* an offset in the Content-Type value */
    return mp_run(bd, 0, 0, 0, 1, 0, e);
}
static int p_boundary_min(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return mp_run(past ? "" : "b", 0, 0, 0, 1, 0, e);
}
/* 8192 bytes of preamble; past: 8193 (refused at its last byte). */
static int p_preamble(int past, cas_error *e, uint64_t *off) {
    *off = CAS_MULTIPART_MAX_PREAMBLE;
    return mp_run("b", CAS_MULTIPART_MAX_PREAMBLE + (size_t)past, 0, 0, 1, 0, e);
}
/* Part 0's header block (its lines and the empty line) of 8192 bytes; past: 8193. */
static int p_headers(int past, cas_error *e, uint64_t *off) {
    *off = 5 + CAS_MULTIPART_MAX_HEADER; /* "--b\r\n", then the block's 8193rd byte */
    return mp_run("b", 0, CAS_MULTIPART_MAX_HEADER + (size_t)past, 0, 1, 0, e);
}
/* 2 parts for 2 ranges requested; past: 3 parts. */
static int p_parts(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return mp_run("b", 0, 0, 0, 2 + (unsigned)past, 2, e);
}
/* Part 0 (bytes 0-3) with 4 body bytes; past: 5. */
static int p_part_body(int past, cas_error *e, uint64_t *off) {
    /* "--b\r\n" + "Content-Range: bytes 0-3/100\r\n\r\n" + 4: where the delimiter should be */
    *off = 5 + 30 + 2 + 4;
    return mp_run("b", 0, 0, (size_t)past, 1, 0, e);
}

/* ---- file-chunk-hashes ---- */
/* A response with `windows` windows, and a first gap of `nodes` nodes in `levels` levels
   (all nodes in the first; the rest empty). */
static int fch_run(size_t windows, size_t nodes, size_t levels, cas_error *e) {
    t_buf b = {NULL, 0, 0};
    cas_file_chunk_hashes r;
    size_t i;
    int rc;
    tb_str(&b, "{\"totalChunks\":1,\"fileSize\":");
    tb_u64(&b, 10 * windows + 10);
    tb_str(&b, ",\"windows\":[");
    for (i = 0; i < windows; i++) {
        tb_str(&b, i ? ",{\"dirtyByteRange\":[" : "{\"dirtyByteRange\":[");
        tb_u64(&b, 10 * i + 10);
        tb_str(&b, ",");
        tb_u64(&b, 10 * i + 15);
        tb_str(&b, "]}");
    }
    tb_str(&b, "],\"hashRanges\":[{\"nodes\":[");
    for (i = 0; i < nodes; i++)
        tb_str(&b, i ? ",{\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1}"
                     : "{\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1}");
    tb_str(&b, "],\"levels\":[");
    for (i = 0; i < levels; i++) {
        tb_str(&b, i ? ",[" : "[");
        tb_u64(&b, i ? 0 : nodes);
        tb_str(&b, ",0]");
    }
    tb_str(&b, "],\"at_start\":true,\"at_end\":false}");
    for (i = 0; i < windows; i++) tb_str(&b, ",null");
    tb_str(&b, "],\"gapVerification\":[]}");
    rc = cas_file_chunk_hashes_parse(NULL, b.p, b.n, NULL, &r, e);
    if (rc == CAS_OK) cas_file_chunk_hashes_free(&r);
    tb_free(&b);
    return rc;
}
static int p_fch_windows(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return fch_run(past ? 0 : 1, 1, 1, e);
}
static int p_fch_nodes(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return fch_run(1, CAS_SUBTREE_MAX_NODES + (size_t)past, 1, e);
}
static int p_fch_levels(int past, cas_error *e, uint64_t *off) {
    *off = NO_OFFSET;
    return fch_run(1, 1, CAS_SUBTREE_MAX_LEVELS + (size_t)past, e);
}

/* ---- shards ---- */
/* A small shard (one xorb of one chunk) from the library's writer, footer or not. */
static uint8_t *small_shard(int footer, size_t *len) {
    static cas_shard_chunk c;
    cas_shard_xorb x;
    cas_shard_write_desc o;
    cas_sink sink;
    uint64_t written;
    memset(&c, 0, sizeof c);
    memset(&x, 0, sizeof x);
    memset(&o, 0, sizeof o);
    memset(&sink, 0, sizeof sink);
    memset(&c.hash, 3, sizeof c.hash);
    c.unpacked_bytes = 100;
    memset(&x.xorb_hash, 5, sizeof x.xorb_hash);
    x.num_chunks = 1;
    x.bytes_in_xorb = 100;
    x.bytes_on_disk = 108;
    x.chunks = &c;
    o.flags = footer ? CAS_SHARD_WITH_FOOTER : 0;
    sink.cap = 4096;
    sink.buf = (uint8_t *)t_xmalloc(sink.cap);
    if (cas_shard_write(NULL, NULL, 0, &x, 1, &o, &sink, &written, NULL) != CAS_OK) abort();
    *len = sink.len;
    return sink.buf;
}
static void store_le64(uint8_t *p, uint64_t v) {
    int i;
    for (i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static int shard_parse(uint8_t *d, size_t len, cas_error *e) {
    cas_shard s;
    int rc = cas_shard_parse(NULL, d, len, &s, e);
    cas_shard_free(&s);
    free(d);
    return rc;
}
/* Header version 2; past: 3. */
static int p_shard_version(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *d = small_shard(1, &len);
    store_le64(d + 32, 2 + (uint64_t)past);
    *off = 32;
    return shard_parse(d, len, e);
}
/* footer_size 200 (with footer) or 0 (without); past: 201 and 1. */
static int p_footer_size_200(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *d = small_shard(1, &len);
    store_le64(d + 40, CAS_SHARD_FOOTER_SIZE + (uint64_t)past);
    *off = 40;
    return shard_parse(d, len, e);
}
static int p_footer_size_0(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *d = small_shard(0, &len);
    store_le64(d + 40, (uint64_t)past);
    *off = 40;
    return shard_parse(d, len, e);
}
/* Footer version 1; past: 2. */
static int p_footer_version(int past, cas_error *e, uint64_t *off) {
    size_t len;
    uint8_t *d = small_shard(1, &len);
    store_le64(d + len - CAS_SHARD_FOOTER_SIZE, 1 + (uint64_t)past);
    *off = len - CAS_SHARD_FOOTER_SIZE;
    return shard_parse(d, len, e);
}
/* A shard of exactly 64 MiB from the library's writer; past: one byte more. With footer and
   the lookup tables (no files) a shard is 344 + 60 per xorb + 64 per chunk bytes (entries
   48, xorb lookup 12, chunk lookup 16; header, two bookends and footer 344): the fewest
   xorbs of <= 8192 chunks that make exactly 64 MiB. */
static int p_shard_size(int past, cas_error *e, uint64_t *off) {
    uint64_t x = 0, c = 0, i, done = 0, size = 0;
    cas_shard_xorb *xorbs;
    cas_shard_chunk *chunks;
    cas_shard_write_desc o;
    cas_sink sink;
    t_rng r;
    int rc;
    for (x = 1;; x++) {
        uint64_t rest = CAS_SHARD_MAX_SIZE - 344 - 60 * x;
        c = rest / 64;
        if (rest % 64 == 0 && c >= x && c <= x * CAS_XORB_MAX_CHUNKS) break;
    }
    xorbs = (cas_shard_xorb *)t_xmalloc(x * sizeof *xorbs);
    chunks = (cas_shard_chunk *)t_xmalloc(c * sizeof *chunks);
    r.state = 5;
    for (i = 0; i < x; i++) {
        uint32_t n = (uint32_t)(c / x + (i < c % x)), k;
        cas_shard_xorb *xb = &xorbs[i];
        memset(xb, 0, sizeof *xb);
        t_fill_random(&r, xb->xorb_hash.bytes, 32);
        xb->num_chunks = n;
        xb->bytes_in_xorb = n;
        xb->bytes_on_disk = 9 * n;
        xb->chunks = chunks + done;
        for (k = 0; k < n; k++) {
            cas_shard_chunk *ch = &chunks[done + k];
            memset(ch, 0, sizeof *ch);
            t_fill_random(&r, ch->hash.bytes, 32);
            ch->byte_start = k;
            ch->unpacked_bytes = 1;
        }
        done += n;
    }
    memset(&o, 0, sizeof o);
    o.flags = CAS_SHARD_WITH_FOOTER;
    CHECK(cas_shard_write_size(NULL, 0, xorbs, x, o.flags, &size) == CAS_OK && size == CAS_SHARD_MAX_SIZE);
    memset(&sink, 0, sizeof sink);
    sink.cap = CAS_SHARD_MAX_SIZE + 1;
    sink.buf = (uint8_t *)t_xmalloc(sink.cap);
    rc = cas_shard_write(NULL, NULL, 0, xorbs, x, &o, &sink, &size, e);
    CHECK(rc == CAS_OK && size == CAS_SHARD_MAX_SIZE);
    free(chunks);
    free(xorbs);
    sink.buf[sink.len] = 0;
    *off = CAS_SHARD_MAX_SIZE;
    return shard_parse(sink.buf, sink.len + (size_t)past, e);
}
/* A footerless shard is 48-byte entries, and 64 MiB is not a multiple of 48: the largest
   under the limit (at) and the smallest over it (past), one xorb per 8192 chunks. */
static int p_shard_size_footerless(int past, cas_error *e, uint64_t *off) {
    uint64_t entries = CAS_SHARD_MAX_SIZE / CAS_SHARD_ENTRY_SIZE + (uint64_t)past, len, at = 0, i;
    /* header + file bookend + xorb headers + chunks + CAS bookend = entries */
    uint64_t body = entries - 3, x = (body + CAS_XORB_MAX_CHUNKS) / (CAS_XORB_MAX_CHUNKS + 1), c = body - x;
    uint8_t *d, *small;
    size_t small_len;
    t_rng r;
    *off = NO_OFFSET;
    small = small_shard(0, &small_len); /* its header and bookends */
    len = entries * CAS_SHARD_ENTRY_SIZE;
    d = (uint8_t *)t_xmalloc((size_t)len);
    memcpy(d, small, 2 * CAS_SHARD_ENTRY_SIZE); /* header, file-info bookend */
    at = 2 * CAS_SHARD_ENTRY_SIZE;
    r.state = 9;
    for (i = 0; i < x; i++) {
        uint32_t n = (uint32_t)(c / x + (i < c % x)), k;
        uint8_t *h = d + at;
        /* the reader refuses the xorb header whose chunks and the CAS bookend would pass the
           limit, at its chunk count, before reading them: the last one */
        *off = at + 36;
        memset(h, 0, CAS_SHARD_ENTRY_SIZE);
        t_fill_random(&r, h, 32);
        h[32] = (uint8_t)0; /* cas_flags */
        h[36] = (uint8_t)n, h[37] = (uint8_t)(n >> 8);
        h[40] = (uint8_t)n, h[41] = (uint8_t)(n >> 8); /* bytes in xorb: 1 per chunk */
        h[44] = (uint8_t)(9 * n), h[45] = (uint8_t)((9 * n) >> 8), h[46] = (uint8_t)((9 * n) >> 16);
        at += CAS_SHARD_ENTRY_SIZE;
        for (k = 0; k < n; k++) {
            uint8_t *ch = d + at;
            memset(ch, 0, CAS_SHARD_ENTRY_SIZE);
            t_fill_random(&r, ch, 32);
            ch[32] = (uint8_t)k, ch[33] = (uint8_t)(k >> 8); /* byte_start */
            ch[36] = 1;                                       /* unpacked_bytes */
            at += CAS_SHARD_ENTRY_SIZE;
        }
    }
    memcpy(d + at, small + small_len - CAS_SHARD_ENTRY_SIZE, CAS_SHARD_ENTRY_SIZE); /* CAS bookend */
    CHECK(at + CAS_SHARD_ENTRY_SIZE == len && (len <= CAS_SHARD_MAX_SIZE) == !past);
    free(small);
    return shard_parse(d, (size_t)len, e);
}

/* ---- HTTP request heads ---- */
/* A head of exactly CAS_HTTP_MAX_HEAD bytes (a padding field); past: one byte longer. */
static int p_http_head(int past, cas_error *e, uint64_t *off) {
    t_buf b = {NULL, 0, 0};
    cas_http_header h[4];
    cas_http_request req;
    size_t hl;
    int rc;
    tb_str(&b, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    tb_fill(&b, 'p', CAS_HTTP_MAX_HEAD - b.n - 4 + (size_t)past);
    tb_str(&b, "\r\n\r\n");
    *off = CAS_HTTP_MAX_HEAD;
    rc = cas_http_request_parse(b.p, b.n, h, 4, &req, &hl, e);
    tb_free(&b);
    return rc;
}
/* 4 fields with max_headers 4; past: 5. */
static int p_http_fields(int past, cas_error *e, uint64_t *off) {
    t_buf b = {NULL, 0, 0};
    cas_http_header h[5];
    cas_http_request req;
    size_t hl, k;
    int rc;
    tb_str(&b, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (k = 1; k < 4 + (size_t)past; k++) tb_str(&b, "X-A: 1\r\n");
    *off = b.n - 8; /* the 5th field's name */
    tb_str(&b, "\r\n");
    rc = cas_http_request_parse(b.p, b.n, h, 4, &req, &hl, e);
    tb_free(&b);
    return rc;
}
/* Content-Length 2^64-2; past: 2^64-1 (UINT64_MAX stands for "none"). */
static int p_http_cl(int past, cas_error *e, uint64_t *off) {
    const char *s = past ? "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n"
                         : "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551614\r\n\r\n";
    cas_http_header h[4];
    cas_http_request req;
    size_t hl;
    int rc;
    *off = 26; /* the field's name */
    rc = cas_http_request_parse(s, strlen(s), h, 4, &req, &hl, e);
    if (rc == CAS_OK && req.content_length != UINT64_MAX - 1) rc = CAS_E_SIZE;
    return rc;
}

/* ---- the table ---- */
typedef struct {
    const char *what;  /* README's "what" cell, verbatim */
    const char *limit; /* the limit as README states it (its numbers are checked against README) */
    t_probe probe;
    int at_code;       /* at the limit: CAS_OK, unless a later rule refuses the input (noted) */
    int past_code;     /* one past: the limit's error code */
    int detail;        /* the API reports a cas_error (what and, when given, offset) */
} t_limit;

static const t_limit limits[] = {
    {"chunk uncompressed size", "uncompressed size 131072 (max)", p_uncomp_max, CAS_OK, CAS_E_CHUNK_SIZE, 1},
    {"chunk uncompressed size", "uncompressed size 1 (min)", p_uncomp_min, CAS_OK, CAS_E_CHUNK_SIZE, 1},
    {"chunk compressed size", "compressed size 262144 (max)", p_comp_max, CAS_OK, CAS_E_CHUNK_SIZE, 1},
    {"chunk compressed size", "compressed size 1 (min)", p_comp_min, CAS_OK, CAS_E_CHUNK_SIZE, 1},
    {"chunk compressed size", "scheme none: compressed = uncompressed", p_comp_none, CAS_OK, CAS_E_CHUNK_SIZE, 1},
    {"chunk header version / scheme", "version 0", p_version, CAS_OK, CAS_E_CHUNK_VERSION, 1},
    {"chunk header version / scheme", "scheme 0, 1, 2", p_scheme, CAS_OK, CAS_E_CHUNK_SCHEME, 1},
    {"LZ4 payload", "one frame consumed exactly", p_lz4_trailing, CAS_OK, CAS_E_TRAILING, 1},
    {"LZ4 payload", "output never over the header's size", p_lz4_output, CAS_OK, CAS_E_SIZE, 1},
    {"xorb", "8192 chunks (cas_xorb_walk)", p_xorb_chunks_walk, CAS_OK, CAS_E_XORB_LIMIT, 1},
    {"xorb", "8192 chunks (cas_xorb_writer)", p_xorb_chunks_writer, CAS_OK, CAS_E_XORB_LIMIT, 0},
    {"xorb", "8192 chunks (cas_xorb_stream)", p_xorb_chunks_stream, CAS_OK, CAS_E_XORB_LIMIT, 1},
    {"xorb", "64 MiB serialized (cas_xorb_walk)", p_xorb_size_walk, CAS_OK, CAS_E_XORB_LIMIT, 1},
    {"xorb", "64 MiB serialized (cas_xorb_stream)", p_xorb_size_stream, CAS_OK, CAS_E_XORB_LIMIT, 1},
    {"xorb", "64 MiB serialized (cas_xorb_writer)", p_xorb_size_writer, CAS_OK, CAS_E_XORB_LIMIT, 0},
    {"zstd", "window 8 MiB", p_zstd_window, CAS_OK, CAS_E_ZSTD, 0},
    {"zstd", "output <= the caller's capacity", p_zstd_cap, CAS_OK, CAS_E_LIMIT, 0},
    {"JSON body", "body <= max_body (lowered to 100)", p_body_lowered, CAS_OK, CAS_E_JSON_LIMIT, 1},
    {"JSON body", "body 64 MiB (default)", p_body_default, CAS_OK, CAS_E_JSON_LIMIT, 1},
    {"JSON body", "body 64 MiB after zstd decompression", p_body_zstd, CAS_OK, CAS_E_JSON_LIMIT, 1},
    {"JSON body", "nesting 32", p_depth, CAS_OK, CAS_E_JSON_DEPTH, 1},
    {"JSON body", "strings 16 KiB decoded", p_string, CAS_OK, CAS_E_JSON_LIMIT, 1},
    {"JSON body", "tokens 64000", p_token, CAS_OK, CAS_E_JSON_LIMIT, 1},
    /* 2^32 - 1 passes the u32 rule; the manifest's chunk-end rule then refuses it */
    {"JSON body", "u32 chunk indices", p_u32, CAS_E_JSON_VALUE, CAS_E_JSON_NUMBER, 1},
    {"JSON body", "u64 offsets", p_u64, CAS_OK, CAS_E_JSON_NUMBER, 1},
    {"JSON body", "hashes 64 hex", p_hash, CAS_OK, CAS_E_HEX, 1},
    {"manifest", "chunk end 8192", p_chunk_end, CAS_OK, CAS_E_JSON_VALUE, 1},
    {"manifest", "unpacked_length >= n", p_unpacked_min, CAS_OK, CAS_E_JSON_VALUE, 1},
    {"manifest", "unpacked_length <= 131072 n", p_unpacked_max, CAS_OK, CAS_E_JSON_VALUE, 1},
    {"multipart body", "boundary 70 (RFC 2046)", p_boundary_max, CAS_OK, CAS_E_MULTIPART, 1},
    {"multipart body", "boundary 1", p_boundary_min, CAS_OK, CAS_E_MULTIPART, 1},
    {"multipart body", "preamble 8 KiB", p_preamble, CAS_OK, CAS_E_LIMIT, 1},
    {"multipart body", "headers 8 KiB per part", p_headers, CAS_OK, CAS_E_LIMIT, 1},
    {"multipart body", "parts <= ranges requested", p_parts, CAS_OK, CAS_E_MULTIPART, 1},
    {"multipart body", "body exactly b-a+1 bytes", p_part_body, CAS_OK, CAS_E_MULTIPART, 1},
    {"shard", "64 MiB (with footer)", p_shard_size, CAS_OK, CAS_E_SHARD_TOO_LARGE, 1},
    {"shard", "64 MiB (footerless: 48-byte entries)", p_shard_size_footerless, CAS_OK, CAS_E_SHARD_TOO_LARGE, 1},
    {"shard", "version 2", p_shard_version, CAS_OK, CAS_E_SHARD_HEADER, 1},
    {"shard", "footer_size 200", p_footer_size_200, CAS_OK, CAS_E_SHARD_HEADER, 1},
    {"shard", "footer_size 0", p_footer_size_0, CAS_OK, CAS_E_SHARD_HEADER, 1},
    {"shard", "footer version 1", p_footer_version, CAS_OK, CAS_E_SHARD_FOOTER, 1},
    {"file-chunk-hashes", ">= 1 window", p_fch_windows, CAS_OK, CAS_E_JSON_VALUE, 1},
    {"file-chunk-hashes", "65536 nodes", p_fch_nodes, CAS_OK, CAS_E_JSON_LIMIT, 1},
    {"file-chunk-hashes", "64 levels", p_fch_levels, CAS_OK, CAS_E_JSON_LIMIT, 1},
    {"HTTP request head", "head 16 KiB (CAS_HTTP_MAX_HEAD)", p_http_head, CAS_OK, CAS_E_LIMIT, 1},
    {"HTTP request head", "fields <= max_headers (4)", p_http_fields, CAS_OK, CAS_E_LIMIT, 1},
    {"HTTP request head", "Content-Length 2^64-2 (HTTP/1.1; HTTP/1.0 alike)", p_http_cl, CAS_OK, CAS_E_HTTP, 1},
};
#define NUM_LIMITS (sizeof limits / sizeof limits[0])

/* README rows that state consistency rules, not numeric limits, and where they are tested. */
static const char *const k_not_numeric[][2] = {
    {"xorb footer", "tests/test_main.c (footer checks)"},
    {"range response", "tests/test_download.c"},
};

/* Runs the rows whose "what" is `only` (NULL: every row); returns how many ran. */
static size_t run_limits(const char *only) {
    size_t i, ran = 0;
    for (i = 0; i < NUM_LIMITS; i++) {
        const t_limit *l = &limits[i];
        int past;
        if (only && strcmp(only, l->what) != 0) continue;
        ran++;
        for (past = 0; past <= 1; past++) {
            cas_error e;
            uint64_t off = NO_OFFSET;
            int want = past ? l->past_code : l->at_code, rc;
            char name[200];
            snprintf(name, sizeof name, "%s: %s, %s", l->what, l->limit, past ? "one past" : "at the limit");
            memset(&e, 0, sizeof e);
            rc = l->probe(past, &e, &off);
            CHECKM(rc == want, name);
            if (rc != want) fprintf(stderr, "  got %s (%d) %s at %llu\n", cas_result_name(rc), rc,
                                    e.what, (unsigned long long)e.offset);
            if (!l->detail || rc != want) continue;
            CHECKM(e.code == rc, name);
            if (rc == CAS_OK) continue;
            CHECKM(e.what[0], name);
            if (past && off != NO_OFFSET) {
                CHECKM(e.offset == off, name);
                if (e.offset != off)
                    fprintf(stderr, "  offset %llu, expected %llu\n", (unsigned long long)e.offset,
                            (unsigned long long)off);
            }
        }
    }
    return ran;
}

/* ---- README.md's limits table against the table above ---- */
static char *trim(char *s) {
    char *end;
    while (*s == ' ') s++;
    end = s + strlen(s);
    while (end > s && end[-1] == ' ') *--end = 0;
    return s;
}
/* 1 if the digit run `num` occurs as a whole digit run in s. */
static int has_number(const char *s, const char *num, size_t n) {
    const char *p = s;
    while (*p) {
        if (isdigit((unsigned char)*p)) {
            size_t k = 0;
            while (isdigit((unsigned char)p[k])) k++;
            if (k == n && !memcmp(p, num, n)) return 1;
            p += k;
        } else {
            p++;
        }
    }
    return 0;
}
static void check_readme(void) {
    FILE *f = fopen("README.md", "r");
    char line[4096];
    int in_section = 0, rows = 0;
    CHECKM(f != NULL, "README.md (run from the repository root)");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *cells[4], *p = line, *what, *lim;
        int n = 0, covered = 0;
        size_t i;
        if (!strncmp(line, "## ", 3)) {
            in_section = !strncmp(line, "## Limits", 9);
            continue;
        }
        if (!in_section || line[0] != '|' || !strncmp(line, "|---", 4) || !strncmp(line, "| what", 6)) continue;
        while (n < 4 && (p = strchr(p, '|')) != NULL) cells[n++] = ++p;
        if (n < 4) continue;
        cells[1][-1] = cells[2][-1] = cells[3][-1] = 0;
        what = trim(cells[0]);
        lim = trim(cells[1]);
        rows++;
        for (i = 0; i < sizeof k_not_numeric / sizeof k_not_numeric[0]; i++)
            if (!strcmp(what, k_not_numeric[i][0])) covered = -1;
        for (i = 0; i < NUM_LIMITS; i++)
            if (!strcmp(what, limits[i].what)) covered = 1;
        CHECKM(covered != 0, what);
        if (covered != 1) continue;
        /* every number of the README cell is in one of the row's limits (a "0x" literal and
           the numbers of names such as "RFC 2046" and "UTF-8" are not limits) */
        for (p = lim; *p;) {
            size_t k = 0;
            int found = 0;
            if (!isdigit((unsigned char)*p)) {
                p++;
                continue;
            }
            while (isdigit((unsigned char)p[k])) k++;
            if (p[k] != 'x' && !(p - lim >= 4 && (!memcmp(p - 4, "RFC ", 4) || !memcmp(p - 4, "UTF-", 4)))) {
                for (i = 0; i < NUM_LIMITS; i++)
                    if (!strcmp(what, limits[i].what) && has_number(limits[i].limit, p, k)) found = 1;
                if (!found) fprintf(stderr, "README limit %.*s of \"%s\" has no row in tests/test_limits.c\n", (int)k, p, what);
                CHECKM(found, what);
            }
            p += k;
        }
    }
    fclose(f);
    CHECKM(rows >= 10, "README.md's limits table was not found");
}

/* Arguments: run only the rows of those README "what"s and skip the README check: for a build
   with host-overridden limits (the Makefile builds one with CAS_ZSTD_MAX_WINDOW_LOG and the
   multipart bounds redefined; the probes use the macros, so they test the new limits). */
int main(int argc, char **argv) {
    int i;
    if (argc > 1) {
        for (i = 1; i < argc; i++) CHECKM(run_limits(argv[i]) > 0, argv[i]); /* a "what" of the table */
    } else {
        run_limits(NULL);
        check_readme();
    }
    printf("test_limits: %ld passed, %ld failed (%u limits)\n", g_pass, g_fail, (unsigned)NUM_LIMITS);
    return g_fail ? 1 : 0;
}
