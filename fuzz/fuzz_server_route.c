/* The server engine's begin/next on arbitrary request heads (the skeleton of
   tests/server-design.md's fuzz_server_route): the input is a request head for
   cas_http_request_parse; a head it takes goes through cas_server_begin, push, end and next
   on a fixed index (a file F of 1000 bytes in one xorb X, both stored; tokens "r" read and
   "w" write, others unknown).
   Oracles: no crash/UB/leak; begin succeeds; the pieces are HEAD, then DATA adding up to
   exactly body_length (none for HEAD requests), then CAS_END for good; the status is one of
   200 400 401 403 404 500 501 503, and 200 only for HEAD /v1/files/F or /v1/xorbs/default/X
   with Content-Length 1000 / 5000; header lines are CRLF-terminated and hold the
   Content-Length; an error body is {"error":"<what>"} with the cause's own text (so no
   request bytes, no token, come back); discard is the
   Content-Length, or UINT64_MAX with close for a chunked body. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

#define F_FILE "00000000000000000000000000000000000000000000000000000000000000f1"
#define F_XORB "00000000000000000000000000000000000000000000000000000000000000a1"

static int f_authorize(void *user, const char *tok, size_t len, int scope) {
    (void)user;
    if (len == 1 && tok[0] == 'w') return 0;
    if (len == 1 && tok[0] == 'r') return scope == CAS_SCOPE_READ ? 0 : CAS_E_SCOPE;
    return CAS_E_AUTH;
}

static cas_server *f_server(t_counting *tc, cas_allocator *al) {
    cas_server_desc d;
    cas_server *s = NULL;
    cas_shard_file f;
    cas_shard_term t;
    cas_shard_xorb x;
    cas_shard_chunk c;
    cas_sink sink;
    static uint8_t buf[4096];
    cas_hash key;
    memset(&f, 0, sizeof f), memset(&t, 0, sizeof t), memset(&x, 0, sizeof x), memset(&c, 0, sizeof c);
    REQUIRE(cas_hash_from_hex(F_FILE, 64, &f.file_hash) == CAS_OK);
    REQUIRE(cas_hash_from_hex(F_XORB, 64, &x.xorb_hash) == CAS_OK);
    t.xorb_hash = x.xorb_hash, t.unpacked_bytes = 1000, t.chunk_start = 0, t.chunk_end = 1;
    f.num_terms = 1, f.terms = &t;
    c.unpacked_bytes = 1000;
    x.num_chunks = 1, x.bytes_in_xorb = 1000, x.bytes_on_disk = 5000, x.chunks = &c;
    memset(&sink, 0, sizeof sink);
    sink.buf = buf, sink.cap = sizeof buf;
    REQUIRE(cas_shard_write(NULL, &f, 1, &x, 1, NULL, &sink, NULL, NULL) == CAS_OK);
    memset(&d, 0, sizeof d);
    d.authorize = f_authorize;
    *al = t_counting_allocator(tc, -1);
    REQUIRE(cas_server_create(al, &d, &s, NULL) == CAS_OK);
    memset(&key, 0x55, sizeof key);
    REQUIRE(cas_server_add_object(s, CAS_OBJECT_SHARD, &key, 0, buf, sink.len, NULL) == CAS_OK);
    REQUIRE(cas_server_add_object(s, CAS_OBJECT_XORB, &x.xorb_hash, 5000, NULL, 0, NULL) == CAS_OK);
    return s;
}

static int has(const char *p, size_t n, const char *lit) {
    size_t k = strlen(lit), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(p + i, lit, k) == 0) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    t_counting tc;
    cas_allocator al;
    cas_server *s;
    cas_http_header h[16];
    cas_http_request req;
    cas_server_req *r = NULL;
    cas_server_out o, head;
    char *buf = (char *)malloc(size ? size : 1), body[1024];
    size_t hl, used = 7, got = 0;
    int rc, pieces = 0, is_head;
    REQUIRE(buf);
    if (size) memcpy(buf, data, size);
    if (cas_http_request_parse(buf, size, h, 16, &req, &hl, NULL) != CAS_OK) {
        free(buf);
        return 0;
    }
    s = f_server(&tc, &al);
    REQUIRE(cas_server_begin(s, &req, 1700000000, &r, NULL) == CAS_OK && r);
    REQUIRE(cas_server_push(r, buf + hl, size - hl, &used) == CAS_READY && used == 0);
    REQUIRE(cas_server_end(r) == CAS_OK);
    memset(&head, 0, sizeof head);
    while ((rc = cas_server_next(r, &o)) == CAS_READY) {
        REQUIRE(++pieces == 1 ? o.type == CAS_SERVER_HEAD : o.type == CAS_SERVER_DATA);
        if (o.type == CAS_SERVER_HEAD) {
            head = o;
        } else {
            REQUIRE(o.len && got + o.len <= sizeof body);
            memcpy(body + got, o.data, o.len);
            got += o.len;
        }
    }
    REQUIRE(rc == CAS_END && cas_server_next(r, &o) == CAS_END && pieces >= 1);
    is_head = req.method_len == 4 && memcmp(req.method, "HEAD", 4) == 0;
    REQUIRE(got == head.body_length && (!is_head || got == 0));
    switch (head.status) {
    case 200: case 400: case 401: case 403: case 404: case 500: case 501: case 503: break;
    default: REQUIRE(0);
    }
    REQUIRE(head.headers_len >= 2 && memcmp(head.headers + head.headers_len - 2, "\r\n", 2) == 0);
    REQUIRE(has(head.headers, head.headers_len, "Content-Length: "));
    if (head.status == 200) {
        REQUIRE(is_head && (has(req.target, req.target_len, F_FILE) || has(req.target, req.target_len, F_XORB)));
        REQUIRE(has(head.headers, head.headers_len, "Content-Length: 1000\r\n") ||
                has(head.headers, head.headers_len, "Content-Length: 5000\r\n"));
        REQUIRE(cas_server_req_error(r)->code == CAS_OK);
    } else {
        REQUIRE(cas_server_req_error(r)->code < 0 && cas_server_req_error(r)->what[0]);
        if (!is_head) REQUIRE(got > 11 && memcmp(body, "{\"error\":\"", 10) == 0 && memcmp(body + got - 2, "\"}", 2) == 0);
    }
    if (head.status != 200 && !is_head) { /* the body is the cause's text: never request bytes */
        const char *w = cas_server_req_error(r)->what;
        REQUIRE(!strchr(w, '"') ? got == 12 + strlen(w) && memcmp(body + 10, w, strlen(w)) == 0 : got > 12 + strlen(w));
    }
    if (req.chunked) REQUIRE(head.discard == UINT64_MAX && head.close);
    else REQUIRE(head.discard == (req.content_length == UINT64_MAX ? 0 : req.content_length) &&
                 head.close == (head.discard > (1u << 20)));
    cas_server_req_free(r);
    cas_server_free(s);
    REQUIRE(tc.live == 0);
    free(buf);
    return 0;
}
