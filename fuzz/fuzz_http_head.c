/* cas_http_request_parse on arbitrary bytes.
   data[0]: max_headers (0..63; 64 and over: 64). The rest is the buffer.
   Oracles: no crash/UB/over-read (the buffer is its own exact-size heap block); the result
   is OK, NEED_INPUT, CAS_E_HTTP or CAS_E_LIMIT, with err.code equal to it; an error names
   its byte offset inside the buffer (and CAS_HTTP_MAX_HEAD for the head limit); on CAS_OK
   the head is at most CAS_HTTP_MAX_HEAD bytes and ends in CRLF CRLF, the method, target and
   every header lie inside it, no value starts or ends with whitespace, at most max_headers
   fields were filled, and parsing is stable: the head alone gives the same answer, and each
   proper prefix of it gives CAS_NEED_INPUT (checked on a sample of prefixes); on
   CAS_NEED_INPUT every prefix gives CAS_NEED_INPUT too (sampled). */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

#define F_MAXH 64

static int inside(const char *p, size_t n, const char *b, size_t len) {
    return p >= b && n <= len && (size_t)(p - b) <= len - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cas_http_header h[F_MAXH], h2[F_MAXH];
    cas_http_request req, req2;
    cas_error err, err2;
    size_t maxh, len, hl = 0, hl2 = 0, k, step;
    char *buf;
    int rc, rc2;
    if (size < 1) return 0;
    maxh = data[0] < F_MAXH ? data[0] : F_MAXH;
    len = size - 1;
    buf = (char *)malloc(len ? len : 1);
    REQUIRE(buf);
    if (len) memcpy(buf, data + 1, len);
    rc = cas_http_request_parse(buf, len, h, maxh, &req, &hl, &err);
    REQUIRE(rc == CAS_OK || rc == CAS_NEED_INPUT || rc == CAS_E_HTTP || rc == CAS_E_LIMIT);
    REQUIRE(err.code == rc);
    if (rc < 0) {
        REQUIRE(hl == 0 && err.what[0] && strstr(err.what, "(byte "));
        REQUIRE(err.offset < len || (rc == CAS_E_LIMIT && err.offset == CAS_HTTP_MAX_HEAD) ||
                (rc == CAS_E_HTTP && err.offset == len));
    }
    step = len / 16 + 1;
    if (rc == CAS_NEED_INPUT) {
        REQUIRE(hl == 0 && len < CAS_HTTP_MAX_HEAD);
        for (k = 0; k < len; k += step)
            REQUIRE(cas_http_request_parse(buf, k, h2, maxh, &req2, &hl2, &err2) == CAS_NEED_INPUT);
    }
    if (rc == CAS_OK) {
        REQUIRE(hl >= 16 && hl <= len && hl <= CAS_HTTP_MAX_HEAD);
        REQUIRE(memcmp(buf + hl - 4, "\r\n\r\n", 4) == 0);
        REQUIRE(req.minor_version == 0 || req.minor_version == 1);
        REQUIRE(inside(req.method, req.method_len, buf, hl) && req.method_len > 0);
        REQUIRE(inside(req.target, req.target_len, buf, hl) && req.target[0] == '/');
        REQUIRE(req.num_headers <= maxh && req.headers == h);
        REQUIRE(!(req.chunked && req.content_length != UINT64_MAX));
        REQUIRE(req.keep_alive == 0 || req.keep_alive == 1);
        for (k = 0; k < req.num_headers; k++) {
            REQUIRE(inside(h[k].name, h[k].name_len, buf, hl) && h[k].name_len > 0);
            REQUIRE(inside(h[k].value, h[k].value_len, buf, hl));
            REQUIRE(h[k].value_len == 0 || (h[k].value[0] != ' ' && h[k].value[0] != '\t' &&
                                            h[k].value[h[k].value_len - 1] != ' ' &&
                                            h[k].value[h[k].value_len - 1] != '\t'));
        }
        rc2 = cas_http_request_parse(buf, hl, h2, maxh, &req2, &hl2, &err2);
        REQUIRE(rc2 == CAS_OK && hl2 == hl && req2.num_headers == req.num_headers &&
                req2.content_length == req.content_length && req2.keep_alive == req.keep_alive);
        for (k = 0; k < hl; k += hl / 16 + 1)
            REQUIRE(cas_http_request_parse(buf, k, h2, maxh, &req2, &hl2, &err2) == CAS_NEED_INPUT);
        REQUIRE(cas_http_request_parse(buf, hl - 1, h2, maxh, &req2, &hl2, &err2) == CAS_NEED_INPUT);
    }
    free(buf);
    return 0;
}
