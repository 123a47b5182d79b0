/* Tests of the server engine of cas.h (>>engines: server): the HTTP/1.1 request-head parser,
   reason phrases, and the internal parsers of routes, Range headers and bearer tokens. Every valid head is parsed whole and at every proper prefix (each must
   give CAS_NEED_INPUT), and with a body after it; every invalid head names its error and
   byte offset; each limit is tested at its bound and one past it. */
#define CAS_IMPLEMENTATION
#include "testlib.h"

#define MAXH 16

/* ---- request heads ---- */

typedef struct {
    const char *head;
    const char *method, *target;
    size_t num_headers;
    uint64_t content_length;
    int minor, chunked, expect, keep_alive;
} t_valid;

static const t_valid valid_heads[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/", 1, UINT64_MAX, 1, 0, 0, 1},
    {"GET /v2/reconstructions/ab?x=1 HTTP/1.0\r\n\r\n", "GET", "/v2/reconstructions/ab?x=1", 0, UINT64_MAX, 0, 0, 0, 0},
    {"HEAD /v1/files/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "HEAD", "/v1/files/x", 1, UINT64_MAX, 0, 0, 0, 1},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", "GET", "/", 1, UINT64_MAX, 0, 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo,  CLOSE \r\n\r\n", "GET", "/", 2, UINT64_MAX, 1, 0, 0, 0},
    {"POST /v1/xorbs/default/h HTTP/1.1\r\nHost: a:1\r\nContent-Length: 42\r\n\r\n", "POST", "/v1/xorbs/default/h", 2, 42, 1, 0, 0, 1},
    {"POST /s HTTP/1.1\r\nhost: a\r\ncontent-length:0\r\n\r\n", "POST", "/s", 2, 0, 1, 0, 0, 1},
    {"POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551614\r\n\r\n", "POST", "/s", 2, UINT64_MAX - 1, 1, 0, 0, 1},
    {"POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 00000000000000000007\r\n\r\n", "POST", "/s", 2, 7, 1, 0, 0, 1},
    {"POST /s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n", "POST", "/s", 3, UINT64_MAX, 1, 1, 1, 1},
    {"POST /s HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n", "POST", "/s", 2, UINT64_MAX, 1, 0, 0, 1},
    {"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/", 1, UINT64_MAX, 1, 0, 0, 1},
    {"M-._~!#$%&'*+^`| /a%20b;c=d@e HTTP/1.1\r\nHost:\r\nX-Empty:   \r\nX-Tab:\tv\t w \t\r\nX-Hi: \xc3\xa9\x80\xff\r\n\r\n", "M-._~!#$%&'*+^`|", "/a%20b;c=d@e", 4, UINT64_MAX, 1, 0, 0, 1},
};

typedef struct {
    const char *head;
    int code;
    uint64_t offset;
} t_invalid;

static const t_invalid invalid_heads[] = {
    {"\n", CAS_E_HTTP, 0},
    {"\rX", CAS_E_HTTP, 0},
    {" GET / HTTP/1.1\r\n", CAS_E_HTTP, 0},
    {"GET  / HTTP/1.1\r\n", CAS_E_HTTP, 4},
    {"G(T / HTTP/1.1\r\n", CAS_E_HTTP, 1},
    {"GET\t/ HTTP/1.1\r\n", CAS_E_HTTP, 3},
    {"GET http://h/ HTTP/1.1\r\n", CAS_E_HTTP, 4},
    {"GET * HTTP/1.1\r\n", CAS_E_HTTP, 4},
    {"GET /a\x01 HTTP/1.1\r\n", CAS_E_HTTP, 6},
    {"GET /\xc3\xa9 HTTP/1.1\r\n", CAS_E_HTTP, 5},
    {"GET /  HTTP/1.1\r\n", CAS_E_HTTP, 6},
    {"GET / HTTP/2.0\r\n", CAS_E_HTTP, 6},
    {"GET / http/1.1\r\n", CAS_E_HTTP, 6},
    {"GET / HTTP/1.2\r\n", CAS_E_HTTP, 6},
    {"GET / HTTP/1.1 \r\n", CAS_E_HTTP, 14},
    {"GET / HTTP/1.1\n", CAS_E_HTTP, 14},
    {"GET / HTTP/1.1\r\r\n", CAS_E_HTTP, 14},
    {"GET / HTTP/1.1\r\nHost: x\n\r\n", CAS_E_HTTP, 23},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", CAS_E_HTTP, 20},
    {"GET / HTTP/1.1\r\n: x\r\n\r\n", CAS_E_HTTP, 16},
    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", CAS_E_HTTP, 25},
    {"GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", CAS_E_HTTP, 25},
    {"GET / HTTP/1.1\r\nHost: a\x00z\r\n\r\n", CAS_E_HTTP, 23},
    {"GET / HTTP/1.1\r\nHost: a\x7fz\r\n\r\n", CAS_E_HTTP, 23},
    {"GET / HTTP/1.1\r\nHost: x\r\n\rX", CAS_E_HTTP, 25},
    {"GET / HTTP/1.1\r\n\r\n", CAS_E_HTTP, 18},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", CAS_E_HTTP, 25},
    {"POST / HTTP/1.0\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n", CAS_E_HTTP, 36},
    {"POST / HTTP/1.0\r\nContent-Length: 1, 1\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: +1\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length:\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: 0x10\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: 18446744073709551615\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: 18446744073709551616\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: 000000000000000000001\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.0\r\nContent-Length: 99999999999999999999999\r\n\r\n", CAS_E_HTTP, 17},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", CAS_E_HTTP, 26},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", CAS_E_HTTP, 26},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", CAS_E_HTTP, 54},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", CAS_E_HTTP, 0},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", CAS_E_HTTP, 0},
};

static int parse(const char *s, size_t n, size_t max_headers, cas_http_header *h,
                 cas_http_request *req, size_t *head_len, cas_error *err) {
    /* an exact-size heap copy, so ASan sees any read past the input */
    char *copy = (char *)t_xmalloc(n);
    int rc;
    memcpy(copy, s, n);
    rc = cas_http_request_parse(copy, n, h, max_headers, req, head_len, err);
    /* the pointers must lie inside the input; rebase them onto s before the copy goes */
    if (rc == CAS_OK) {
        size_t k;
        CHECK(req->method >= copy && req->method + req->method_len <= copy + *head_len);
        CHECK(req->target >= copy && req->target + req->target_len <= copy + *head_len);
        req->method = s + (req->method - copy);
        req->target = s + (req->target - copy);
        for (k = 0; k < req->num_headers; k++) {
            CHECK(h[k].name >= copy && h[k].value + h[k].value_len <= copy + *head_len);
            h[k].name = s + (h[k].name - copy);
            h[k].value = s + (h[k].value - copy);
        }
    }
    free(copy);
    return rc;
}

static int eqn(const char *p, size_t n, const char *lit) { return n == strlen(lit) && memcmp(p, lit, n) == 0; }

static void test_valid_heads(void) {
    size_t i;
    for (i = 0; i < sizeof valid_heads / sizeof valid_heads[0]; i++) {
        const t_valid *v = &valid_heads[i];
        size_t n = strlen(v->head), k, hl = 0;
        cas_http_header h[MAXH];
        cas_http_request req;
        cas_error err;
        char name[32];
        t_buf body;
        int rc;
        snprintf(name, sizeof name, "valid %u", (unsigned)i);
        rc = parse(v->head, n, MAXH, h, &req, &hl, &err);
        CHECK_MSG(rc == CAS_OK, "[%s] %s: %s", name, cas_result_name(rc), err.what);
        if (rc != CAS_OK) continue;
        CHECKM(hl == n, name);
        CHECKM(eqn(req.method, req.method_len, v->method), name);
        CHECKM(eqn(req.target, req.target_len, v->target), name);
        CHECKM(req.num_headers == v->num_headers && req.headers == h, name);
        CHECKM(req.content_length == v->content_length, name);
        CHECKM(req.minor_version == v->minor, name);
        CHECKM(req.chunked == v->chunked && req.expect_continue == v->expect, name);
        CHECKM(req.keep_alive == v->keep_alive, name);
        CHECKM(err.code == CAS_OK && err.what[0] == 0, name);
        /* every proper prefix: more input needed */
        for (k = 0; k < n; k++) {
            rc = parse(v->head, k, MAXH, h, &req, &hl, &err);
            CHECK_MSG(rc == CAS_NEED_INPUT && hl == 0, "[%s] prefix %u: %s %s", name, (unsigned)k,
                      cas_result_name(rc), err.what);
        }
        /* a body after the head is not part of it */
        memset(&body, 0, sizeof body);
        tb_str(&body, v->head);
        tb_str(&body, "GET / HTTP/1.1\r\n\r\n\x01\xff");
        rc = parse(body.p, body.n, MAXH, h, &req, &hl, &err);
        CHECKM(rc == CAS_OK && hl == n, name);
        tb_free(&body);
    }
}

static void test_header_values(void) {
    const char *s = "GET / HTTP/1.1\r\nHost:  a b \r\nX-Tab:\tv\t w \t\r\nX-Empty:   \r\n\r\n";
    cas_http_header h[MAXH];
    cas_http_request req;
    size_t hl;
    CHECK(parse(s, strlen(s), MAXH, h, &req, &hl, NULL) == CAS_OK);
    CHECK(req.num_headers == 3);
    CHECK(eqn(h[0].name, h[0].name_len, "Host") && eqn(h[0].value, h[0].value_len, "a b"));
    CHECK(eqn(h[1].name, h[1].name_len, "X-Tab") && eqn(h[1].value, h[1].value_len, "v\t w"));
    CHECK(eqn(h[2].name, h[2].name_len, "X-Empty") && h[2].value_len == 0);
}

static void test_invalid_heads(void) {
    size_t i;
    for (i = 0; i < sizeof invalid_heads / sizeof invalid_heads[0]; i++) {
        const t_invalid *v = &invalid_heads[i];
        /* the NUL case holds a NUL: its length is up to the end of the literal */
        size_t n = strlen(v->head), k, hl = 7;
        cas_http_header h[MAXH];
        cas_http_request req;
        cas_error err;
        char name[32], at[32];
        int rc;
        if (strstr(v->head, "Host: a") == v->head + 16 && n == 23) n = 28; /* "a\0z\r\n\r\n" */
        snprintf(name, sizeof name, "invalid %u", (unsigned)i);
        rc = parse(v->head, n, MAXH, h, &req, &hl, &err);
        CHECK_MSG(rc == v->code && err.code == v->code && err.offset == v->offset && hl == 0,
                  "[%s] %s at %u (%s), want %s at %u", name, cas_result_name(rc), (unsigned)err.offset,
                  err.what, cas_result_name(v->code), (unsigned)v->offset);
        snprintf(at, sizeof at, "(byte %u)", (unsigned)v->offset);
        CHECK_MSG(strstr(err.what, at) != NULL, "[%s] %s", name, err.what);
        /* more bytes after it change nothing: the error is at the same byte */
        for (k = n; k < n + 3; k++) {
            char *more = (char *)t_xmalloc(k + 1);
            memcpy(more, v->head, n);
            memset(more + n, '\n', k - n);
            rc = parse(more, k, MAXH, h, &req, &hl, &err);
            CHECKM(rc == v->code && err.offset == v->offset, name);
            free(more);
        }
    }
}

static void test_limits(void) {
    cas_http_header h[MAXH];
    cas_http_request req;
    cas_error err;
    size_t hl, k;
    t_buf b;
    int rc;
    /* a head of exactly CAS_HTTP_MAX_HEAD bytes, then one byte longer */
    memset(&b, 0, sizeof b);
    tb_str(&b, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    tb_fill(&b, 'p', CAS_HTTP_MAX_HEAD - b.n - 4);
    tb_str(&b, "\r\n\r\n");
    CHECK(b.n == CAS_HTTP_MAX_HEAD);
    rc = parse(b.p, b.n, MAXH, h, &req, &hl, &err);
    CHECK(rc == CAS_OK && hl == CAS_HTTP_MAX_HEAD);
    tb_free(&b);
    tb_str(&b, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    tb_fill(&b, 'p', CAS_HTTP_MAX_HEAD - b.n - 3);
    tb_str(&b, "\r\n\r\n");
    rc = parse(b.p, b.n, MAXH, h, &req, &hl, &err);
    CHECK_MSG(rc == CAS_E_LIMIT && err.offset == CAS_HTTP_MAX_HEAD, "%s %s", cas_result_name(rc), err.what);
    rc = parse(b.p, CAS_HTTP_MAX_HEAD, MAXH, h, &req, &hl, &err);
    CHECK(rc == CAS_E_LIMIT);
    rc = parse(b.p, CAS_HTTP_MAX_HEAD - 1, MAXH, h, &req, &hl, &err);
    CHECK(rc == CAS_NEED_INPUT);
    tb_free(&b);
    /* empty lines before the request line count too */
    tb_fill(&b, '\r', 0);
    for (k = 0; k < CAS_HTTP_MAX_HEAD / 2; k++) tb_str(&b, "\r\n");
    rc = parse(b.p, b.n, MAXH, h, &req, &hl, &err);
    CHECK(rc == CAS_E_LIMIT);
    tb_free(&b);
    /* max_headers fields, then one more */
    tb_str(&b, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (k = 1; k < MAXH; k++) tb_str(&b, "X-A: 1\r\n");
    tb_str(&b, "\r\n");
    CHECK(parse(b.p, b.n, MAXH, h, &req, &hl, &err) == CAS_OK && req.num_headers == MAXH);
    rc = parse(b.p, b.n, MAXH - 1, h, &req, &hl, &err);
    CHECK_MSG(rc == CAS_E_LIMIT && err.offset == b.n - 10, "%s %s", cas_result_name(rc), err.what);
    CHECK(parse(b.p, b.n, 0, NULL, &req, &hl, &err) == CAS_E_LIMIT);
    tb_free(&b);
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", 18, 0, NULL, &req, &hl, &err) == CAS_OK);
    /* arguments */
    CHECK(cas_http_request_parse(NULL, 0, h, MAXH, &req, &hl, &err) == CAS_NEED_INPUT);
    CHECK(cas_http_request_parse(NULL, 1, h, MAXH, &req, &hl, &err) == CAS_E_ARGUMENT);
    CHECK(cas_http_request_parse("x", 1, NULL, 1, &req, &hl, &err) == CAS_E_ARGUMENT);
    CHECK(cas_http_request_parse("x", 1, h, MAXH, NULL, &hl, &err) == CAS_E_ARGUMENT);
    CHECK(cas_http_request_parse("x", 1, h, MAXH, &req, NULL, &err) == CAS_E_ARGUMENT);
}

static void test_reasons(void) {
    CHECK(strcmp(cas_http_reason(200), "OK") == 0);
    CHECK(strcmp(cas_http_reason(206), "Partial Content") == 0);
    CHECK(strcmp(cas_http_reason(416), "Range Not Satisfiable") == 0);
    CHECK(strcmp(cas_http_reason(431), "Request Header Fields Too Large") == 0);
    CHECK(strcmp(cas_http_reason(503), "Service Unavailable") == 0);
    CHECK(strcmp(cas_http_reason(299), "") == 0 && strcmp(cas_http_reason(-1), "") == 0);
    CHECK(strcmp(cas_result_name(CAS_E_HTTP), "CAS_E_HTTP") == 0);
}

/* ---- routes, Range, bearer tokens ---- */

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct {
    const char *method, *target;
    int status;        /* 0 (a route), 400, 404 */
    const char *what;  /* the route's name, or a prefix of the 400's reason */
} t_route;

static const t_route routes[] = {
    {"POST", "/v1/xorbs/default/" H64, 0, "POST /v1/xorbs/{p}/{h}"},
    {"HEAD", "/v1/xorbs/default/" H64, 0, "HEAD /v1/xorbs/{p}/{h}"},
    {"POST", "/v1/shards", 0, "POST /v1/shards"},
    {"POST", "/shards", 0, "POST /shards"},
    {"POST", "/v2/shards?x=1", 0, "POST /v2/shards"},
    {"GET", "/v1/chunks/default-merkledb/" H64, 0, "GET /v1/chunks/{d}/{h}"},
    {"GET", "/v1/chunks/default/" H64, 0, "GET /v1/chunks/{d}/{h}"},
    {"GET", "/v2/reconstructions/" H64, 0, "GET /v2/reconstructions/{h}"},
    {"GET", "/v1/reconstructions/" H64 "?a=b", 0, "GET /v1/reconstructions/{h}"},
    {"POST", "/v1/reconstructions", 0, "POST /v1/reconstructions"},
    {"GET", "/reconstructions?file_id=" H64, 0, "GET /reconstructions"},
    {"HEAD", "/v1/files/" H64, 0, "HEAD /v1/files/{h}"},
    {"GET", "/xorb/default/" H64 "?X-Xet-Signed-Range=bytes%3D0-9&Expires=1&Signature=s", 0, "GET /xorb/{p}/{h}"},
    {"GET", "/v2/file-chunk-hashes/" H64, 0, "GET /v2/file-chunk-hashes/{h}"},
    /* a bad segment: the route is found, the request is refused */
    {"GET", "/v2/reconstructions/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", 400, "malformed hash"},
    {"GET", "/v2/reconstructions/" H64 "0", 400, "malformed hash"},
    {"GET", "/v2/reconstructions/abc", 400, "malformed hash"},
    {"GET", "/v2/reconstructions/%30123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", 400, "malformed hash"},
    {"POST", "/v1/xorbs/other/" H64, 400, "unknown prefix"},
    {"POST", "/v1/xorbs/default-merkledb/" H64, 400, "unknown prefix"},
    {"HEAD", "/v1/xorbs/x/zz", 400, "unknown prefix"}, /* the first bad segment is named */
    {"HEAD", "/v1/xorbs/default/zz", 400, "malformed hash"},
    {"POST", "/v1/xorbs/DEFAULT/" H64, 400, "unknown prefix"},
    {"GET", "/v1/chunks/merkledb/" H64, 400, "unknown prefix"},
    /* no route */
    {"GET", "/", 404, "no route"},
    {"GET", "/v1/xorbs/default/" H64, 404, "no route"},
    {"PUT", "/v1/shards", 404, "no route"},
    {"post", "/v1/shards", 404, "no route"},
    {"POST", "/v1/shards/", 404, "no route"},
    {"POST", "/v1/shard", 404, "no route"},
    {"POST", "/v1/shardsx", 404, "no route"},
    {"POST", "//v1/shards", 404, "no route"},
    {"GET", "/v2/reconstructions/", 404, "no route"},
    {"GET", "/v2/reconstructions", 404, "no route"},
    {"GET", "/v2/reconstructions/" H64 "/x", 404, "no route"},
    {"GET", "/v1/chunks//" H64, 404, "no route"},
    {"HEAD", "/v1/files", 404, "no route"},
    {"GE", "/v2/reconstructions/" H64, 404, "no route"},
    {"GETX", "/v2/reconstructions/" H64, 404, "no route"},
};

static void test_routes(void) {
    size_t i;
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const t_route *t = &routes[i];
        cas_hash h;
        const char *what = NULL;
        int route = 7, st;
        char name[200];
        snprintf(name, sizeof name, "%s %s", t->method, t->target);
        st = cas__srv_route(t->method, strlen(t->method), t->target, strlen(t->target), &route, &h, &what);
        CHECK_MSG(st == t->status && what && strncmp(what, t->what, strlen(t->what)) == 0,
                  "[%s] %d %s", name, st, what ? what : "(null)");
        CHECKM(st == 404 ? route == -1 : route >= 0, name);
        if (st == 0 && strstr(t->what, "{h}")) {
            char hex[65];
            cas_hash_to_hex(&h, hex);
            CHECKM(strcmp(hex, H64) == 0, name);
        }
    }
}

typedef struct {
    const char *value;
    uint64_t size;
    int status;             /* 0, 400, 416 */
    uint64_t first, last;
} t_range;

static const t_range ranges[] = {
    {"bytes=0-99", 1000, 0, 0, 99},
    {"bytes=0-0", 1000, 0, 0, 0},
    {"bytes=999-999", 1000, 0, 999, 999},
    {"bytes=10-5000", 1000, 0, 10, 999},
    {"bytes=10-18446744073709551615", 1000, 0, 10, 999},
    {"bytes=10-", 1000, 0, 10, 999},
    {"bytes=-1", 1000, 0, 999, 999},
    {"bytes=-1000", 1000, 0, 0, 999},
    {"bytes=-5000", 1000, 0, 0, 999},
    {" BYTES = 1 - 2 ", 1000, 0, 1, 2},
    {"Bytes=\t3-\t", 1000, 0, 3, 999},
    {"bytes=0-", 1, 0, 0, 0},
    {"bytes=1000-", 1000, 416, 0, 0},
    {"bytes=1000-2000", 1000, 416, 0, 0},
    {"bytes=18446744073709551615-", 1000, 416, 0, 0},
    {"bytes=-0", 1000, 416, 0, 0},
    {"bytes=0-", 0, 416, 0, 0},
    {"bytes=-5", 0, 416, 0, 0},
    {"bytes=0-0", 0, 416, 0, 0},
    {"bytes=5-4", 1000, 400, 0, 0},
    {"bytes=-", 1000, 400, 0, 0},
    {"bytes=", 1000, 400, 0, 0},
    {"bytes", 1000, 400, 0, 0},
    {"", 1000, 400, 0, 0},
    {"bytes=0-1,3-4", 1000, 400, 0, 0},
    {"bytes=0-1, 3-4", 1000, 400, 0, 0},
    {"bytes=1", 1000, 400, 0, 0},
    {"bytes=a-b", 1000, 400, 0, 0},
    {"bytes=1-2x", 1000, 400, 0, 0},
    {"bytes=+1-2", 1000, 400, 0, 0},
    {"bytes=1--2", 1000, 400, 0, 0},
    {"bytes:0-1", 1000, 400, 0, 0},
    {"items=0-1", 1000, 400, 0, 0},
    {"bytesx=0-1", 1000, 400, 0, 0},
    {"bytes=18446744073709551616-", 1000, 400, 0, 0},
    {"bytes=0-18446744073709551616", 1000, 400, 0, 0},
    {"bytes=-18446744073709551616", 1000, 400, 0, 0},
    {"bytes=000000000000000000001-2", 1000, 400, 0, 0},
};

static void test_ranges(void) {
    size_t i;
    for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const t_range *t = &ranges[i];
        size_t n = strlen(t->value);
        char *copy = (char *)t_xmalloc(n);
        uint64_t first = 7, last = 7;
        int st;
        memcpy(copy, t->value, n);
        st = cas__http_range(copy, n, t->size, &first, &last);
        CHECK_MSG(st == t->status && (st || (first == t->first && last == t->last)),
                  "[%s of %u] %d %u-%u", t->value, (unsigned)t->size, st, (unsigned)first, (unsigned)last);
        free(copy);
    }
}

static const struct {
    const char *value, *token; /* token NULL: not a bearer token */
} bearers[] = {
    {"Bearer abc", "abc"},
    {"bearer abc", "abc"},
    {"BEARER   a.b-c_d~e+f/g==  ", "a.b-c_d~e+f/g=="},
    {"Bearer xyz\t", "xyz"},
    {"Bearer x", "x"},
    {"Bearer", NULL},
    {"Bearer ", NULL},
    {"Bearer  ", NULL},
    {"Bearerabc", NULL},
    {"Bearer\tabc", NULL},
    {"Basic abc", NULL},
    {"Bearer a b", NULL},
    {"Bearer a,b", NULL},
    {"Bearer ==", NULL},
    {"Bearer a=b", NULL},
    {"Bearer \"abc\"", NULL},
    {"Bearer ab\xc3\xa9", NULL},
    {"", NULL},
    {" Bearer abc", NULL},
};

static void test_bearer(void) {
    size_t i;
    for (i = 0; i < sizeof bearers / sizeof bearers[0]; i++) {
        size_t n = strlen(bearers[i].value), len = 9;
        char *copy = (char *)t_xmalloc(n);
        const char *tok = "x";
        int got;
        memcpy(copy, bearers[i].value, n);
        got = cas__http_bearer(copy, n, &tok, &len);
        if (bearers[i].token)
            CHECK_MSG(got == 1 && len == strlen(bearers[i].token) && tok >= copy && tok + len <= copy + n &&
                          memcmp(tok, bearers[i].token, len) == 0,
                      "[%s]", bearers[i].value);
        else
            CHECK_MSG(got == 0 && tok == NULL && len == 0, "[%s]", bearers[i].value);
        free(copy);
    }
}

int main(void) {
    test_valid_heads();
    test_header_values();
    test_invalid_heads();
    test_limits();
    test_reasons();
    test_routes();
    test_ranges();
    test_bearer();
    printf("test_server: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail != 0;
}
