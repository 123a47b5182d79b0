/* Tests of the upload-response JSON parsers of cas.h: UploadXorbResponse
   (cas_xorb_upload_parse), UploadShardResponse (cas_shard_upload_parse) and the /v2/shards
   NDJSON events (cas_shard_event_parse): the spec's examples, every rule with its error code,
   field name and byte offset, unknown members, truncation at every byte, zstd bodies, limits,
   and allocation failure at every step.
     cc -std=c99 -O1 -g -fsanitize=address,undefined tests/test_json_upload.c -o build/test_json_upload */
#define CAS_IMPLEMENTATION
#include "testlib.h"


enum { K_XORB, K_SHARD, K_EVENT };

/* One parse of `kind`; *v = was_inserted / result; ev filled (and to be freed) for K_EVENT. */
static int parse(int kind, const cas_allocator *al, const void *s, size_t n, const cas_json_desc *o, int *v,
                 cas_shard_event *ev, cas_error *e) {
    if (kind == K_XORB) return cas_xorb_upload_parse(al, s, n, o, v, e);
    if (kind == K_SHARD) return cas_shard_upload_parse(al, s, n, o, v, e);
    return cas_shard_event_parse(al, s, n, o, ev, e);
}

typedef struct {
    int kind;
    const char *s;
    int rc;
    long offset;      /* of the error (-1: not checked) */
    const char *what; /* a substring of err.what, or NULL */
    int v;            /* accepted: was_inserted / result, or the event type */
} t_case;

static const t_case cases[] = {
    /* UploadXorbResponse (api.md's example, then the rules) */
    {K_XORB, "{\n  \"was_inserted\": true\n}", CAS_OK, -1, NULL, 1},
    {K_XORB, "{\"was_inserted\":false}", CAS_OK, -1, NULL, 0},
    {K_XORB, "{\"x\":[1,{\"y\":null}],\"was_inserted\":false,\"z\":\"s\"}", CAS_OK, -1, NULL, 0},
    {K_XORB, " {\"was_inserted\":true} \r\n", CAS_OK, -1, NULL, 1},
    {K_XORB, "{}", CAS_E_JSON_SCHEMA, 1, "was_inserted: required field missing", 0},
    {K_XORB, "{\"was_inserted\":1}", CAS_E_JSON_SCHEMA, 16, "was_inserted: expected true or false", 0},
    {K_XORB, "{\"was_inserted\":null}", CAS_E_JSON_SCHEMA, 16, "was_inserted", 0},
    {K_XORB, "{\"was_inserted\":\"true\"}", CAS_E_JSON_SCHEMA, 16, "was_inserted", 0},
    {K_XORB, "{\"was_inserted\":true,\"was_inserted\":true}", CAS_E_JSON_SCHEMA, 21, "was_inserted: duplicate field", 0},
    {K_XORB, "[true]", CAS_E_JSON_SCHEMA, 0, "not a JSON object", 0},
    {K_XORB, "{\"was_inserted\":true}x", CAS_E_JSON_SYNTAX, 21, NULL, 0},
    {K_XORB, "{\"was_inserted\":true}{}", CAS_E_JSON_SYNTAX, 21, NULL, 0},
    {K_XORB, "{\"was_inserted\":tru}", CAS_E_JSON_SYNTAX, -1, NULL, 0},
    {K_XORB, "\xef\xbb\xbf{\"was_inserted\":true}", CAS_E_JSON_SYNTAX, 0, NULL, 0},
    {K_XORB, "", CAS_E_TRUNCATED, 0, NULL, 0},
    /* UploadShardResponse */
    {K_SHARD, "{\n  \"result\": 0\n}", CAS_OK, -1, NULL, 0},
    {K_SHARD, "{\"result\":1,\"extra\":{\"a\":[]}}", CAS_OK, -1, NULL, 1},
    {K_SHARD, "{\"result\":2}", CAS_E_JSON_VALUE, 10, "result: not 0", 0},
    {K_SHARD, "{\"result\":18446744073709551615}", CAS_E_JSON_VALUE, 10, "result", 0},
    {K_SHARD, "{\"result\":18446744073709551616}", CAS_E_JSON_NUMBER, 10, "result: not a plain integer", 0},
    {K_SHARD, "{\"result\":-1}", CAS_E_JSON_NUMBER, 10, "result", 0},
    {K_SHARD, "{\"result\":1.0}", CAS_E_JSON_NUMBER, 10, "result", 0},
    {K_SHARD, "{\"result\":1e0}", CAS_E_JSON_NUMBER, 10, "result", 0},
    {K_SHARD, "{\"result\":01}", CAS_E_JSON_NUMBER, -1, NULL, 0},
    {K_SHARD, "{\"result\":\"1\"}", CAS_E_JSON_SCHEMA, 10, "result: expected a number", 0},
    {K_SHARD, "{\"Result\":1}", CAS_E_JSON_SCHEMA, 11, "result: required field missing", 0},
    {K_SHARD, "{\"result\":1,}", CAS_E_JSON_SYNTAX, -1, NULL, 0},
    /* /v2/shards events: api.md's examples */
    {K_EVENT, "{\"type\":\"validating\",\"verified\":120,\"total\":512}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_VALIDATING},
    {K_EVENT, "{\"type\":\"committing\",\"stage\":\"uploading\"}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_COMMITTING},
    {K_EVENT, "{\"type\":\"committing\",\"stage\":\"syncing\"}\n", CAS_OK, -1, NULL, CAS_SHARD_EVENT_COMMITTING},
    {K_EVENT, "{\"type\":\"result\",\"result\":1}\r\n", CAS_OK, -1, NULL, CAS_SHARD_EVENT_RESULT},
    {K_EVENT, "{\"type\":\"error\",\"message\":\"...\"}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_ERROR},
    /* "type" anywhere; other types' fields and unknown members skipped; unknown types ignored */
    {K_EVENT, "{\"total\":5,\"verified\":6,\"type\":\"validating\"}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_VALIDATING},
    {K_EVENT, "{\"type\":\"result\",\"result\":0,\"message\":7,\"stage\":[]}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_RESULT},
    {K_EVENT, "{\"type\":\"heartbeat\",\"stage\":5,\"result\":\"x\"}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_OTHER},
    {K_EVENT, "{\"type\":\"committing\",\"stage\":\"replicating\"}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_COMMITTING},
    {K_EVENT, "{\"type\":\"Result\",\"result\":9}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_OTHER},
    {K_EVENT, "{\"type\":\"res\\u0075lt\",\"result\":1}", CAS_OK, -1, NULL, CAS_SHARD_EVENT_RESULT},
    /* rules */
    {K_EVENT, "{\"result\":1}", CAS_E_JSON_SCHEMA, 11, "type: required field missing", 0},
    {K_EVENT, "{\"type\":1}", CAS_E_JSON_SCHEMA, 8, "type: expected a string", 0},
    {K_EVENT, "{\"type\":\"result\",\"type\":\"result\",\"result\":1}", CAS_E_JSON_SCHEMA, 17, "type: duplicate field", 0},
    {K_EVENT, "{\"type\":\"validating\",\"verified\":1}", CAS_E_JSON_SCHEMA, 33, "total: required field missing", 0},
    {K_EVENT, "{\"type\":\"validating\",\"verified\":-1,\"total\":2}", CAS_E_JSON_NUMBER, 32, "verified: not a plain integer", 0},
    {K_EVENT, "{\"type\":\"validating\",\"verified\":1,\"total\":true}", CAS_E_JSON_SCHEMA, 42, "total: expected a number", 0},
    {K_EVENT, "{\"type\":\"validating\",\"verified\":1,\"verified\":1,\"total\":1}", CAS_E_JSON_SCHEMA, 34, "verified: duplicate field", 0},
    {K_EVENT, "{\"type\":\"committing\"}", CAS_E_JSON_SCHEMA, 20, "stage: required field missing", 0},
    {K_EVENT, "{\"type\":\"committing\",\"stage\":2}", CAS_E_JSON_SCHEMA, 29, "stage: expected a string", 0},
    {K_EVENT, "{\"type\":\"result\",\"result\":2}", CAS_E_JSON_VALUE, 26, "result: not 0", 0},
    {K_EVENT, "{\"type\":\"result\"}", CAS_E_JSON_SCHEMA, 16, "result: required field missing", 0},
    {K_EVENT, "{\"type\":\"error\"}", CAS_E_JSON_SCHEMA, 15, "message: required field missing", 0},
    {K_EVENT, "{\"type\":\"error\",\"message\":null}", CAS_E_JSON_SCHEMA, 26, "message: expected a string", 0},
    {K_EVENT, "{\"type\":\"error\",\"message\":\"a\\u0000b\"}", CAS_E_JSON_STRING, -1, NULL, 0},
    {K_EVENT, "{\"type\":\"error\",\"message\":\"\xc3\x28\"}", CAS_E_JSON_STRING, -1, NULL, 0},
    {K_EVENT, "{\"type\":\"result\",\"result\":1}\n{\"type\":\"result\",\"result\":1}", CAS_E_JSON_SYNTAX, 29, "bytes after", 0},
    {K_EVENT, "\n", CAS_E_TRUNCATED, 1, NULL, 0},
    {K_EVENT, "[]", CAS_E_JSON_SCHEMA, 0, "not a JSON object", 0},
};

static void test_cases(void) {
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const t_case *c = &cases[i];
        cas_shard_event ev;
        cas_error e;
        int v = -7, rc;
        memset(&ev, 0, sizeof ev);
        rc = parse(c->kind, NULL, c->s, strlen(c->s), NULL, &v, &ev, &e);
        CHECKM(rc == c->rc, c->s);
        if (rc != c->rc) fprintf(stderr, "  got %s (%s) at %llu\n", cas_result_name(rc), e.what, (unsigned long long)e.offset);
        if (rc == CAS_OK) {
            CHECKM((c->kind == K_EVENT ? ev.type : v) == c->v, c->s);
        } else {
            CHECKM(e.code == rc, c->s);
            if (c->offset >= 0) CHECKM(e.offset == (uint64_t)c->offset, c->s);
            if (c->what) CHECKM(strstr(e.what, c->what), c->s);
            if (c->kind == K_EVENT) CHECKM(ev.type == 0 && ev.priv_block == NULL && ev.message == NULL, c->s);
            else CHECKM(v == 0, c->s);
        }
        if (c->kind == K_EVENT) cas_shard_event_free(&ev);
    }
}

/* The values of the accepted events. */
static void test_event_values(void) {
    static const char msg[] = "{\"message\":\"shard \\\"x\\\" cites \\u00e9\\ud83d\\ude00 xorb\\n\\/y\",\"type\":\"error\"}";
    cas_shard_event ev;
    cas_error e;
    const char *s = "{\"type\":\"validating\",\"verified\":18446744073709551615,\"total\":0}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.verified == UINT64_MAX &&
          ev.total == 0 && ev.message == NULL && ev.priv_block == NULL);
    cas_shard_event_free(&ev);
    s = "{\"type\":\"committing\",\"stage\":\"uploading\"}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.stage == CAS_SHARD_STAGE_UPLOADING);
    s = "{\"type\":\"committing\",\"stage\":\"syncing\"}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.stage == CAS_SHARD_STAGE_SYNCING);
    s = "{\"type\":\"committing\",\"stage\":\"Syncing\"}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.stage == CAS_SHARD_STAGE_OTHER);
    s = "{\"type\":\"result\",\"result\":0}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.result == 0);
    s = "{\"type\":\"result\",\"result\":1}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.result == 1);
    CHECK(cas_shard_event_parse(NULL, msg, strlen(msg), NULL, &ev, &e) == CAS_OK && ev.type == CAS_SHARD_EVENT_ERROR);
    CHECK(ev.message && !strcmp(ev.message, "shard \"x\" cites \xc3\xa9\xf0\x9f\x98\x80 xorb\n/y") &&
          ev.message_len == strlen(ev.message));
    cas_shard_event_free(&ev);
    CHECK(ev.message == NULL && ev.priv_block == NULL);
    cas_shard_event_free(&ev); /* twice is harmless */
    s = "{\"type\":\"error\",\"message\":\"\"}";
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.message && ev.message[0] == 0 &&
          ev.message_len == 0);
    cas_shard_event_free(&ev);
}

/* Every valid text cut short is CAS_E_TRUNCATED at exactly its length. */
static void test_truncation(void) {
    size_t i, k;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const t_case *c = &cases[i];
        size_t n = strlen(c->s);
        if (c->rc != CAS_OK) continue;
        while (n && (c->s[n - 1] == '\n' || c->s[n - 1] == '\r' || c->s[n - 1] == ' ')) n--;
        for (k = 0; k < n; k++) {
            cas_shard_event ev;
            cas_error e;
            int v, rc;
            char *p = (char *)t_xmalloc(k); /* exactly k bytes: ASan sees any read past them */
            memcpy(p, c->s, k);
            rc = parse(c->kind, NULL, p, k, NULL, &v, &ev, &e);
            if (rc == CAS_OK && c->kind == K_EVENT) cas_shard_event_free(&ev);
            /* leading whitespace alone, or an object cut before its end */
            CHECKM(rc == CAS_E_TRUNCATED && e.offset == k, c->s);
            free(p);
        }
    }
}

/* A zstd frame of raw blocks (the vendored decoder reads it; no encoder needed). */
static size_t zstd_raw(const char *s, uint8_t *out) {
    size_t n = strlen(s), o = 0;
    uint32_t bh = 1u | (uint32_t)n << 3; /* last block, raw, size n */
    out[o++] = 0x28, out[o++] = 0xB5, out[o++] = 0x2F, out[o++] = 0xFD;
    out[o++] = 0x20;                     /* single segment, 1-byte content size, no checksum */
    out[o++] = (uint8_t)n;
    out[o++] = (uint8_t)bh, out[o++] = (uint8_t)(bh >> 8), out[o++] = (uint8_t)(bh >> 16);
    memcpy(out + o, s, n);
    return o + n;
}

static void test_zstd(void) {
    uint8_t z[300];
    cas_shard_event ev;
    cas_error e;
    int v = -1;
    size_t n = zstd_raw("{\"was_inserted\":true}", z);
#ifdef CAS_NO_ZSTD
    CHECK(cas_xorb_upload_parse(NULL, z, n, NULL, &v, &e) == CAS_E_UNSUPPORTED);
    return;
#endif
    CHECK(cas_xorb_upload_parse(NULL, z, n, NULL, &v, &e) == CAS_OK && v == 1);
    n = zstd_raw("{\"result\":1}", z);
    CHECK(cas_shard_upload_parse(NULL, z, n, NULL, &v, &e) == CAS_OK && v == 1);
    n = zstd_raw("{\"result\":3}", z);
    CHECK(cas_shard_upload_parse(NULL, z, n, NULL, &v, &e) == CAS_E_JSON_VALUE && e.offset == 10); /* offsets in the JSON text */
    n = zstd_raw("{\"type\":\"error\",\"message\":\"zstd\"}", z);
    CHECK(cas_shard_event_parse(NULL, z, n, NULL, &ev, &e) == CAS_OK && ev.message && !strcmp(ev.message, "zstd"));
    cas_shard_event_free(&ev);
    CHECK(cas_shard_event_parse(NULL, z, n - 3, NULL, &ev, &e) == CAS_E_ZSTD); /* the frame cut short */
    {
        static const uint8_t gz[] = {0x1F, 0x8B, 8, 0};
        CHECK(cas_xorb_upload_parse(NULL, gz, sizeof gz, NULL, &v, &e) == CAS_E_UNSUPPORTED);
    }
}

static void test_limits(void) {
    cas_json_desc o;
    cas_shard_event ev;
    cas_error e;
    char *s = (char *)t_xmalloc(40000);
    int v;
    size_t n;
    memset(&o, 0, sizeof o);
    o.max_body = 20;
    CHECK(cas_xorb_upload_parse(NULL, "{\"was_inserted\":true}", 21, &o, &v, &e) == CAS_E_JSON_LIMIT);
    o.max_body = 21;
    CHECK(cas_xorb_upload_parse(NULL, "{\"was_inserted\":true}", 21, &o, &v, &e) == CAS_OK && v == 1);
    /* a message of max_string bytes, then one more */
    strcpy(s, "{\"type\":\"error\",\"message\":\"");
    n = strlen(s);
    memset(s + n, 'm', CAS_JSON_MAX_STRING);
    strcpy(s + n + CAS_JSON_MAX_STRING, "\"}");
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_OK && ev.message_len == CAS_JSON_MAX_STRING);
    cas_shard_event_free(&ev);
    memset(s + n, 'm', CAS_JSON_MAX_STRING + 1);
    strcpy(s + n + CAS_JSON_MAX_STRING + 1, "\"}");
    CHECK(cas_shard_event_parse(NULL, s, strlen(s), NULL, &ev, &e) == CAS_E_JSON_LIMIT && e.offset == n - 1);
    /* nesting in a skipped member counts too */
    memset(&o, 0, sizeof o);
    o.max_depth = 3;
    CHECK(cas_shard_upload_parse(NULL, "{\"x\":[[1]],\"result\":1}", 22, &o, &v, &e) == CAS_OK);
    CHECK(cas_shard_upload_parse(NULL, "{\"x\":[[[1]]],\"result\":1}", 24, &o, &v, &e) == CAS_E_JSON_DEPTH);
    /* a duplicate of an unknown member is fine (only known fields are checked) */
    CHECK(cas_shard_upload_parse(NULL, "{\"x\":1,\"x\":2,\"result\":1}", 24, NULL, &v, &e) == CAS_OK);
    free(s);
}

/* Allocation failure at every step: CAS_E_NOMEM and nothing else, no leak; the scalar
   responses and the events without a message allocate nothing. */
static void nomem_loop(int kind, const char *name, const void *body, size_t len, long expect_allocs) {
    long n;
    int done = 0;
    for (n = 0; n < 50 && !done; n++) {
        t_counting ta;
        cas_allocator al = t_counting_allocator(&ta, n);
        cas_shard_event ev;
        cas_error e;
        int v, rc = parse(kind, &al, body, len, NULL, &v, &ev, &e);
        if (rc == CAS_OK) {
            if (kind == K_EVENT) {
                CHECKM(ta.live == (ev.priv_block != NULL), name);
                cas_shard_event_free(&ev);
            }
            if (expect_allocs >= 0) CHECKM(ta.n == expect_allocs, name);
            done = 1;
        } else {
            CHECKM(rc == CAS_E_NOMEM && e.code == CAS_E_NOMEM, name);
        }
        CHECKM(ta.live == 0, name);
    }
    CHECKM(done, name);
}

static void test_nomem(void) {
    static const char *ev_err = "{\"type\":\"error\",\"message\":\"no\"}";
    static const char *ev_val = "{\"type\":\"validating\",\"verified\":1,\"total\":2}";
    uint8_t z[200];
    size_t n;
    nomem_loop(K_XORB, "xorb", "{\"was_inserted\":true}", 21, 0);
    nomem_loop(K_SHARD, "shard", "{\"result\":1}", 12, 0);
    nomem_loop(K_EVENT, "event error", ev_err, strlen(ev_err), 1);
    nomem_loop(K_EVENT, "event validating", ev_val, strlen(ev_val), 0);
#ifndef CAS_NO_ZSTD
    n = zstd_raw("{\"was_inserted\":false}", z);
    nomem_loop(K_XORB, "xorb zstd", z, n, -1);
    n = zstd_raw("{\"result\":0}", z);
    nomem_loop(K_SHARD, "shard zstd", z, n, -1);
    n = zstd_raw(ev_err, z);
    nomem_loop(K_EVENT, "event zstd", z, n, -1);
#else
    (void)z, (void)n;
#endif
}

/* A whole /v2/shards stream as a host reads it: split at '\n', the terminal event decides. */
static void test_stream(void) {
    static const char stream[] = "{\"type\":\"validating\",\"verified\":0,\"total\":512}\n"
                                 "{\"type\":\"validating\",\"verified\":256,\"total\":512}\n"
                                 "{\"type\":\"validating\",\"verified\":256,\"total\":512}\n" /* a heartbeat */
                                 "{\"type\":\"committing\",\"stage\":\"uploading\"}\n"
                                 "{\"type\":\"committing\",\"stage\":\"syncing\"}\n"
                                 "{\"type\":\"result\",\"result\":1}\n";
    static const int types[6] = {CAS_SHARD_EVENT_VALIDATING, CAS_SHARD_EVENT_VALIDATING, CAS_SHARD_EVENT_VALIDATING,
                                 CAS_SHARD_EVENT_COMMITTING, CAS_SHARD_EVENT_COMMITTING, CAS_SHARD_EVENT_RESULT};
    size_t pos = 0, len = strlen(stream);
    int k = 0;
    while (pos < len) {
        const char *nl = (const char *)memchr(stream + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - stream) : len;
        cas_shard_event ev;
        cas_error e;
        CHECK(k < 6 && cas_shard_event_parse(NULL, stream + pos, end - pos + (nl != NULL), NULL, &ev, &e) == CAS_OK &&
              ev.type == types[k]);
        cas_shard_event_free(&ev);
        k++;
        pos = end + 1;
    }
    CHECK(k == 6);
}

int main(void) {
    test_cases();
    test_event_values();
    test_truncation();
    test_zstd();
    test_limits();
    test_nomem();
    test_stream();
    printf("test_json_upload: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail != 0;
}
