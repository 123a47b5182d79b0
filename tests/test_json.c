/* Tests of the JSON reader and the reconstruction / token parsers of cas.h.
     cc -std=c99 -O1 -g -fsanitize=address,undefined tests/test_json.c -o build/test_json
     build/test_json [VECTOR_DIR]     (from the repo root; default tests/vectors/json)
   JSONTestSuite-style y_/n_ classes written by hand, the spec's examples, a manifest HF's
   TypeScript client consumes (oracle/gen-recon.mjs), zstd bodies (the zstd CLI when present,
   plus a committed .zst), truncation at every byte, and allocation failure at every step. */
#define _POSIX_C_SOURCE 200809L
#define CAS_IMPLEMENTATION
#include "testlib.h"


static const char *g_dir = "tests/vectors/json";

/* ---- files ---- */
static char *read_file(const char *name, size_t *len) {
    char path[1024];
    FILE *f;
    long n;
    char *buf;
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* ---- helpers ---- */

/* Reads every token; the final result (CAS_OK for a complete text). Checks token sanity. */
static int read_all(const void *s, size_t n, const cas_json_desc *o, cas_error *e) {
    cas_json_reader r;
    cas_json_token t;
    uint64_t last = 0;
    int rc = cas_json_reader_init(&r, s, n, o);
    if (rc == CAS_OK) {
        for (;;) {
            rc = cas_json_next(&r, &t);
            if (rc != CAS_OK) break;
            if (t.offset < last || t.offset >= n) {
                fprintf(stderr, "token offsets go backwards or past the end\n");
                abort();
            }
            last = t.offset;
            if (t.type == CAS_JSON_STRING || t.type == CAS_JSON_KEY) {
                char *d = (char *)malloc(t.len + 1);
                if (!d || cas_json_string(&t, d, t.len + 1) != CAS_OK || strlen(d) != t.len) abort();
                free(d);
            }
        }
        if (rc == CAS_END) rc = CAS_OK;
    }
    if (e) *e = r.error;
    return rc;
}
static int rd(const char *s) { return read_all(s, strlen(s), NULL, NULL); }
static int rdn(const char *s, size_t n) { return read_all(s, n, NULL, NULL); }

static int p2(const char *s, cas_error *e) {
    cas_recon r;
    int rc = cas_recon_parse(NULL, s, strlen(s), 2, NULL, &r, e);
    cas_recon_free(&r);
    return rc;
}
static int p1(const char *s, cas_error *e) {
    cas_recon r;
    int rc = cas_recon_parse(NULL, s, strlen(s), 1, NULL, &r, e);
    cas_recon_free(&r);
    return rc;
}

#define H1 "a1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456"
#define H2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H3 "fedcba0987654321098765432109876543210fedcba098765432109876543210" /* the spec's 61 digits + "210" */

/* A small valid v2 manifest with pieces replaceable by the tests:
   {"offset_into_first_range":OFF,"terms":[TERM],"xorbs":{"H1":[{"url":URL,"ranges":[RANGE]}]}} */
static char g_doc[40000];
static const char *v2doc(const char *off, const char *term, const char *url, const char *range) {
    snprintf(g_doc, sizeof g_doc,
             "{\"offset_into_first_range\":%s,\"terms\":[%s],\"xorbs\":{\"" H1 "\":[{\"url\":%s,\"ranges\":[%s]}]}}",
             off ? off : "0",
             term ? term : "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}",
             url ? url : "\"https://x.test/a?b=c\"",
             range ? range : "{\"chunks\":{\"start\":0,\"end\":4},\"bytes\":{\"start\":0,\"end\":1000}}");
    return g_doc;
}
#define TERM(u, s, e) "{\"hash\":\"" H1 "\",\"unpacked_length\":" u ",\"range\":{\"start\":" s ",\"end\":" e "}}"
#define RANGE(cs, ce, bs, be) "{\"chunks\":{\"start\":" cs ",\"end\":" ce "},\"bytes\":{\"start\":" bs ",\"end\":" be "}}"

static int hex_eq(const cas_hash *h, const char *hex) {
    cas_hash x;
    return cas_hash_from_hex(hex, strlen(hex), &x) == CAS_OK && cas_hash_equal(&x, h);
}

/* ---- the reader: accept ---- */
static void test_reader_accept(void) {
    /* Whole texts; values by JSONTestSuite class are in g_suite (test_suite_classes). */
    static const char *y[] = {
        "[]", "{}", " [1] ", "\"a\"", "0", "-0", "1e5", "{\"a\":{\"b\":[1,{\"c\":\"d\"}]}}", "\t\r\n {\"\":0}\n",
    };
    size_t i;
    for (i = 0; i < sizeof y / sizeof y[0]; i++) CHECKM(rd(y[i]) == CAS_OK, y[i]);
}

/* ---- the reader: reject, each with its code and offset ---- */
typedef struct {
    const char *s;
    size_t n; /* 0: strlen */
    int code;
    long offset; /* -1: don't check */
} t_neg;

static void test_reader_reject(void) {
    static const t_neg cases[] = {
        {"", 0, CAS_E_TRUNCATED, 0},
        {"   ", 0, CAS_E_TRUNCATED, 3},
        {"\xef\xbb\xbf", 0, CAS_E_JSON_SYNTAX, 0},
        {"\0", 1, CAS_E_JSON_SYNTAX, 0},
        /* invalid UTF-8, NUL, control characters, surrogates: g_suite; here the text's end cuts */
        {"\"\xc3", 0, CAS_E_TRUNCATED, 2},               /* cut by the end of the text */
        {"\"\xf0\x9f\x98", 0, CAS_E_TRUNCATED, 4},
        /* escapes */
        {"[\"\\x\"]", 0, CAS_E_JSON_STRING, 2},
        {"[\"\\U0041\"]", 0, CAS_E_JSON_STRING, 2},
        {"[\"\\u12\"]", 0, CAS_E_JSON_STRING, 6},
        {"[\"\\u12G4\"]", 0, CAS_E_JSON_STRING, 6},
        {"\"\\", 0, CAS_E_TRUNCATED, 2},
        {"\"\\u00", 0, CAS_E_TRUNCATED, 5},
        {"\"\\uD83D", 0, CAS_E_TRUNCATED, 7},
        {"\"\\uD83D\\uDE", 0, CAS_E_TRUNCATED, 11},
        {"\"abc", 0, CAS_E_TRUNCATED, 4},
        /* structure */
        {"[,1]", 0, CAS_E_JSON_SYNTAX, 1},
        {"{,}", 0, CAS_E_JSON_SYNTAX, 1},
        {"[1,,2]", 0, CAS_E_JSON_SYNTAX, 3},
        {"{\"a\" 1}", 0, CAS_E_JSON_SYNTAX, 5},
        {"{\"a\"}", 0, CAS_E_JSON_SYNTAX, 4},
        {"[1 2]", 0, CAS_E_JSON_SYNTAX, 3},
        {"{\"a\":1 \"b\":2}", 0, CAS_E_JSON_SYNTAX, 7},
        {"{a:1}", 0, CAS_E_JSON_SYNTAX, 1},
        {"{1:1}", 0, CAS_E_JSON_SYNTAX, 1},
        {"[1]]", 0, CAS_E_JSON_SYNTAX, 3},
        {"[1}", 0, CAS_E_JSON_SYNTAX, 2},
        {"{\"a\":1]", 0, CAS_E_JSON_SYNTAX, 6},
        {"1 2", 0, CAS_E_JSON_SYNTAX, 2},
        {"{}{}", 0, CAS_E_JSON_SYNTAX, 2},
        {"{}x", 0, CAS_E_JSON_SYNTAX, 2},
        {"[", 0, CAS_E_TRUNCATED, 1},
        {"{\"a\":", 0, CAS_E_TRUNCATED, 5},
        {"{\"a\"", 0, CAS_E_TRUNCATED, 4},
        {"[1", 0, CAS_E_TRUNCATED, 2},
        {"[1,", 0, CAS_E_TRUNCATED, 3},
        /* numbers against the grammar: g_suite; here a whole text, and cuts by its end */
        {"01", 0, CAS_E_JSON_NUMBER, 0},
        {"-", 0, CAS_E_TRUNCATED, 1},
        {"1.", 0, CAS_E_TRUNCATED, 2},
        {"1e-", 0, CAS_E_TRUNCATED, 3},
        /* literals */
        {"tru", 0, CAS_E_TRUNCATED, 3},
        {"[trux]", 0, CAS_E_JSON_SYNTAX, 4},
        {"[True]", 0, CAS_E_JSON_SYNTAX, 1},
        {"[nul]", 0, CAS_E_JSON_SYNTAX, 4},
        {"[truefalse]", 0, CAS_E_JSON_SYNTAX, 5},
        {"[null1]", 0, CAS_E_JSON_SYNTAX, 5},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cas_error e;
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].s);
        int rc = read_all(cases[i].s, n, NULL, &e);
        CHECKM(rc == cases[i].code && e.code == rc, cases[i].s);
        if (rc != cases[i].code)
            fprintf(stderr, "   got %s at %llu (%s)\n", cas_result_name(rc), (unsigned long long)e.offset, e.what);
        if (cases[i].offset >= 0) {
            CHECKM(e.offset == (uint64_t)cases[i].offset, cases[i].s);
            if (e.offset != (uint64_t)cases[i].offset)
                fprintf(stderr, "   offset %llu, wanted %ld (%s)\n", (unsigned long long)e.offset, cases[i].offset, e.what);
        }
        CHECK(e.what[0]);
    }
}

/* ---- depth: exactly at the limit and one past; a million levels; inside unknown fields ---- */
static void test_depth(void) {
    t_buf b = {0, 0, 0};
    cas_error e;
    cas_json_desc o;
    int d;
    for (d = 1; d <= 34; d++) {
        b.n = 0;
        tb_rep(&b, "[", (size_t)d);
        tb_rep(&b, "]", (size_t)d);
        CHECK(rdn(b.p, b.n) == (d <= CAS_JSON_MAX_DEPTH ? CAS_OK : CAS_E_JSON_DEPTH));
        b.n = 0;
        tb_rep(&b, "{\"a\":", (size_t)d);
        tb_str(&b, "1");
        tb_rep(&b, "}", (size_t)d);
        CHECK(rdn(b.p, b.n) == (d <= CAS_JSON_MAX_DEPTH ? CAS_OK : CAS_E_JSON_DEPTH));
    }
    /* 10^6 levels: refused at the 33rd '[' without recursion */
    b.n = 0;
    tb_rep(&b, "[", 1000000);
    CHECK(read_all(b.p, b.n, NULL, &e) == CAS_E_JSON_DEPTH && e.offset == 32);
    /* configurable: 1, and the cap */
    memset(&o, 0, sizeof o);
    o.max_depth = 1;
    CHECK(read_all("[1]", 3, &o, NULL) == CAS_OK);
    CHECK(read_all("[[1]]", 5, &o, NULL) == CAS_E_JSON_DEPTH);
    o.max_depth = CAS_JSON_DEPTH_CAP;
    b.n = 0;
    tb_rep(&b, "[", CAS_JSON_DEPTH_CAP);
    tb_rep(&b, "]", CAS_JSON_DEPTH_CAP);
    CHECK(read_all(b.p, b.n, &o, NULL) == CAS_OK);
    b.n = 0;
    tb_rep(&b, "[", CAS_JSON_DEPTH_CAP + 1);
    CHECK(read_all(b.p, b.n, &o, &e) == CAS_E_JSON_DEPTH && e.offset == CAS_JSON_DEPTH_CAP);
    o.max_depth = CAS_JSON_DEPTH_CAP + 1;
    CHECK(read_all("[]", 2, &o, NULL) == CAS_E_ARGUMENT);
    /* 32 and 33 levels inside an unknown field: g_suite; a million there: */
    b.n = 0;
    tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{},\"deep\":");
    tb_rep(&b, "[", 1000000);
    CHECK(p2(b.p, &e) == CAS_E_JSON_DEPTH && e.offset == strlen("{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{},\"deep\":") + 31);
    /* and in an unknown field of a term and of a range descriptor */
    b.n = 0;
    tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[{\"x\":");
    tb_rep(&b, "[", 40);
    tb_rep(&b, "]", 40);
    tb_str(&b, "}],\"xorbs\":{}}");
    CHECK(p2(b.p, &e) == CAS_E_JSON_DEPTH);
    free(b.p);
}

/* ---- limits: body and strings ---- */
static void test_limits(void) {
    t_buf b = {0, 0, 0};
    cas_json_desc o;
    cas_error e;
    size_t i;
    memset(&o, 0, sizeof o);
    /* a string of exactly max_string decoded bytes, and one more */
    b.n = 0;
    tb_str(&b, "\"");
    tb_rep(&b, "a", CAS_JSON_MAX_STRING);
    tb_str(&b, "\"");
    CHECK(rdn(b.p, b.n) == CAS_OK);
    b.n = 0;
    tb_str(&b, "[\"");
    tb_rep(&b, "a", CAS_JSON_MAX_STRING + 1);
    tb_str(&b, "\"]");
    CHECK(read_all(b.p, b.n, NULL, &e) == CAS_E_JSON_LIMIT && e.offset == 1);
    /* decoded length counts: \u00e9 is 2 bytes, 6 in the text; a pair is 4 */
    b.n = 0;
    tb_str(&b, "\"");
    tb_rep(&b, "\\u00e9", CAS_JSON_MAX_STRING / 2);
    tb_str(&b, "\"");
    CHECK(rdn(b.p, b.n) == CAS_OK);
    b.n = 0;
    tb_str(&b, "\"");
    tb_rep(&b, "\\u00e9", CAS_JSON_MAX_STRING / 2);
    tb_str(&b, "x\"");
    CHECK(rdn(b.p, b.n) == CAS_E_JSON_LIMIT);
    b.n = 0;
    tb_str(&b, "\"");
    tb_rep(&b, "\\ud83d\\ude00", CAS_JSON_MAX_STRING / 4);
    tb_str(&b, "\"");
    CHECK(rdn(b.p, b.n) == CAS_OK);
    /* keys too */
    b.n = 0;
    tb_str(&b, "{\"");
    tb_rep(&b, "k", CAS_JSON_MAX_STRING + 1);
    tb_str(&b, "\":1}");
    CHECK(rdn(b.p, b.n) == CAS_E_JSON_LIMIT);
    o.max_string = 3;
    CHECK(read_all("[\"abc\"]", 7, &o, NULL) == CAS_OK);
    CHECK(read_all("[\"abcd\"]", 8, &o, NULL) == CAS_E_JSON_LIMIT);
    /* a long URL in a manifest */
    b.n = 0;
    tb_str(&b, "\"https://x/");
    tb_rep(&b, "a", CAS_JSON_MAX_STRING - 10);
    tb_str(&b, "\"");
    CHECK(p2(v2doc(NULL, NULL, b.p, NULL), &e) == CAS_OK);
    b.n = 0;
    tb_str(&b, "\"https://x/");
    tb_rep(&b, "a", CAS_JSON_MAX_STRING - 9);
    tb_str(&b, "\"");
    CHECK(p2(v2doc(NULL, NULL, b.p, NULL), &e) == CAS_E_JSON_LIMIT);
    /* body */
    memset(&o, 0, sizeof o);
    o.max_body = 10;
    CHECK(read_all("[1,2,3,45]", 10, &o, NULL) == CAS_OK);
    CHECK(read_all("[1,2,3,456]", 11, &o, &e) == CAS_E_JSON_LIMIT && e.offset == 10);
    {
        const char *doc = v2doc(NULL, NULL, NULL, NULL);
        cas_recon r;
        o.max_body = strlen(doc);
        CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, &o, &r, &e) == CAS_OK);
        cas_recon_free(&r);
        o.max_body = strlen(doc) - 1;
        CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, &o, &r, &e) == CAS_E_JSON_LIMIT);
        CHECK(r.terms == NULL && r.priv_block == NULL);
    }
    /* a 100000-digit number is fine where nobody reads it ... */
    b.n = 0;
    tb_str(&b, "{\"n\":");
    tb_rep(&b, "9", 100000);
    tb_str(&b, ",\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}}");
    CHECK(p2(b.p, &e) == CAS_OK);
    /* ... and out of range where somebody does */
    b.n = 0;
    tb_str(&b, "{\"offset_into_first_range\":");
    tb_rep(&b, "9", 100000);
    tb_str(&b, ",\"terms\":[],\"xorbs\":{}}");
    CHECK(p2(b.p, &e) == CAS_E_JSON_NUMBER && e.offset == 27 && strstr(e.what, "offset_into_first_range"));
    for (i = 0; i < 1; i++) free(b.p);
}

/* ---- cas_json_uint / equals / string ---- */
static void test_helpers(void) {
    static const struct {
        const char *s;
        uint64_t max;
        int rc;
        uint64_t v;
    } u[] = {
        {"0", 0xFFFFFFFFu, CAS_OK, 0},
        {"7", 7, CAS_OK, 7},
        {"8", 7, CAS_E_JSON_NUMBER, 0},
        {"4294967295", 0xFFFFFFFFu, CAS_OK, 0xFFFFFFFFu},
        {"4294967296", 0xFFFFFFFFu, CAS_E_JSON_NUMBER, 0},
        {"18446744073709551615", UINT64_MAX, CAS_OK, UINT64_MAX},
        {"18446744073709551616", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"18446744073709551620", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"99999999999999999999", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"9223372036854775807", INT64_MAX, CAS_OK, INT64_MAX},
        {"9223372036854775808", INT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"-1", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"-0", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"1.0", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"1e3", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
        {"10E0", UINT64_MAX, CAS_E_JSON_NUMBER, 0},
    };
    size_t i;
    for (i = 0; i < sizeof u / sizeof u[0]; i++) {
        cas_json_reader r;
        cas_json_token t;
        uint64_t v = 12345;
        int rc;
        cas_json_reader_init(&r, u[i].s, strlen(u[i].s), NULL);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_NUMBER);
        rc = cas_json_uint(&t, u[i].max, &v);
        CHECKM(rc == u[i].rc, u[i].s);
        if (rc == CAS_OK) CHECKM(v == u[i].v, u[i].s);
        CHECK(cas_json_next(&r, &t) == CAS_END && t.type == CAS_JSON_END);
        CHECK(cas_json_next(&r, &t) == CAS_END); /* stays at the end */
    }
    {
        const char *s = "{\"h\\u0061sh\":\"\\ud83d\\ude00\\n\\/\",\"\\u00e9\":1, \"a\\u0000\":2}";
        cas_json_reader r;
        cas_json_token t;
        char buf[16];
        cas_json_reader_init(&r, s, strlen(s), NULL);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_OBJECT && t.depth == 0);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_KEY && t.escaped && t.len == 4 && t.depth == 1);
        CHECK(cas_json_equals(&t, "hash") && !cas_json_equals(&t, "hasx") && !cas_json_equals(&t, "has"));
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_STRING && t.len == 6);
        CHECK(cas_json_string(&t, buf, 6) == CAS_E_LIMIT);
        CHECK(cas_json_string(&t, buf, 7) == CAS_OK && memcmp(buf, "\xf0\x9f\x98\x80\n/", 7) == 0);
        CHECK(cas_json_next(&r, &t) == CAS_OK && cas_json_equals(&t, "\xc3\xa9"));
        CHECK(cas_json_uint(&t, 10, NULL) == CAS_E_ARGUMENT);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_NUMBER);
        CHECK(cas_json_string(&t, buf, sizeof buf) == CAS_E_ARGUMENT);
        CHECK(cas_json_next(&r, &t) == CAS_E_JSON_STRING && r.error.code == CAS_E_JSON_STRING);
        CHECK(cas_json_next(&r, &t) == CAS_E_JSON_STRING); /* sticky */
    }
    {   /* a long escaped key compares piecewise; an empty text */
        t_buf b = {0, 0, 0};
        cas_json_reader r;
        cas_json_token t;
        char want[301];
        memset(want, 'k', 300);
        want[300] = 0;
        want[150] = '/';
        tb_str(&b, "{\"");
        tb_rep(&b, "k", 150);
        tb_str(&b, "\\/");
        tb_rep(&b, "k", 149);
        tb_str(&b, "\":1}");
        cas_json_reader_init(&r, b.p, b.n, NULL);
        CHECK(cas_json_next(&r, &t) == CAS_OK && cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_KEY);
        CHECK(t.len == 300 && cas_json_equals(&t, want));
        want[299] = 'x';
        CHECK(!cas_json_equals(&t, want));
        free(b.p);
        CHECK(cas_json_reader_init(&r, NULL, 0, NULL) == CAS_OK && cas_json_next(&r, &t) == CAS_E_TRUNCATED);
        CHECK(cas_json_reader_init(&r, NULL, 1, NULL) == CAS_E_ARGUMENT && cas_json_next(&r, &t) == CAS_E_ARGUMENT);
    }
    {   /* skip: scalars, containers; depth reported */
        const char *s = "[1,{\"a\":[2,{\"b\":3}]},4]";
        cas_json_reader r;
        cas_json_token t;
        cas_json_reader_init(&r, s, strlen(s), NULL);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_ARRAY);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_NUMBER && cas_json_skip(&r, &t) == CAS_OK);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_OBJECT && t.depth == 1);
        CHECK(cas_json_skip(&r, &t) == CAS_OK);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_NUMBER && t.raw[0] == '4' && t.offset == 21);
        CHECK(cas_json_next(&r, &t) == CAS_OK && t.type == CAS_JSON_ARRAY_END && t.depth == 0);
        CHECK(cas_json_next(&r, &t) == CAS_END);
    }
}

/* ---- expected results of a vector (.expect files) ---- */
static void check_expect(const cas_recon *r, const char *name) {
    char path[300];
    size_t len, nterms = 0, nfetch = 0, nrange = 0;
    char *text, *line, *save = NULL;
    const cas_recon_fetch *cur = NULL;
    size_t cur_range = 0;
    snprintf(path, sizeof path, "%s.expect", name);
    text = read_file(path, &len);
    CHECKM(text != NULL, path);
    if (!text) return;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char hex[80], url[2048];
        unsigned long long a, b, c, d;
        if (sscanf(line, "offset %llu", &a) == 1) {
            CHECKM(r->offset_into_first_range == a, name);
        } else if (sscanf(line, "term %70s %llu %llu %llu", hex, &a, &b, &c) == 4) {
            const cas_recon_term *t = nterms < r->num_terms ? &r->terms[nterms] : NULL;
            CHECKM(t && hex_eq(&t->hash, hex) && t->chunk_start == a && t->chunk_end == b && t->unpacked_length == c, line);
            if (t) { /* the coverage the parser found is real */
                const cas_recon_range *g;
                CHECK(t->xorb < r->num_xorbs && cas_hash_equal(&r->xorbs[t->xorb].hash, &t->hash));
                CHECK(t->fetch < r->xorbs[t->xorb].num_fetches);
                CHECK(t->range < r->xorbs[t->xorb].fetches[t->fetch].num_ranges);
                g = &r->xorbs[t->xorb].fetches[t->fetch].ranges[t->range];
                CHECK(g->chunk_start <= t->chunk_start && t->chunk_end <= g->chunk_end);
            }
            nterms++;
        } else if (sscanf(line, "fetch %70s %2047s", hex, url) == 2) {
            cas_hash h;
            const cas_recon_xorb *x;
            size_t k;
            CHECK(cas_hash_from_hex(hex, strlen(hex), &h) == CAS_OK);
            x = cas_recon_find_xorb(r->xorbs, r->num_xorbs, &h);
            CHECKM(x != NULL, line);
            cur = NULL;
            for (k = 0; x && k < x->num_fetches; k++)
                if (!strcmp(x->fetches[k].url, url) && strlen(url) == x->fetches[k].url_len) cur = &x->fetches[k];
            CHECKM(cur != NULL, line);
            cur_range = 0;
            nfetch++;
        } else if (sscanf(line, "range %llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
            const cas_recon_range *g = cur && cur_range < cur->num_ranges ? &cur->ranges[cur_range] : NULL;
            CHECKM(g && g->chunk_start == a && g->chunk_end == b && g->byte_start == c && g->byte_end == d, line);
            cur_range++;
            nrange++;
        }
    }
    CHECKM(nterms == r->num_terms, name);
    {
        size_t x, f = 0, g = 0;
        for (x = 0; x < r->num_xorbs; x++) {
            f += r->xorbs[x].num_fetches;
            for (len = 0; len < r->xorbs[x].num_fetches; len++) g += r->xorbs[x].fetches[len].num_ranges;
        }
        CHECKM(f == nfetch && g == nrange, name);
    }
    free(text);
}

/* Every prefix of a valid text is CAS_E_TRUNCATED at exactly its length. */
static void check_truncations(const char *doc, size_t len, int version, const char *name) {
    size_t k, bad = 0;
    while (len && (doc[len - 1] == '\n' || doc[len - 1] == ' ')) len--;
    for (k = 0; k < len; k++) {
        cas_recon r;
        cas_error e;
        int rc = version ? cas_recon_parse(NULL, doc, k, version, NULL, &r, &e) : read_all(doc, k, NULL, &e);
        if (rc != CAS_E_TRUNCATED || e.offset != k) {
            if (bad++ < 3)
                fprintf(stderr, "  %s: prefix %zu: %s at %llu (%s)\n", name, k, cas_result_name(rc),
                        (unsigned long long)e.offset, e.what);
        }
        if (version) cas_recon_free(&r);
    }
    CHECKM(bad == 0, name);
}

/* ---- JSONTestSuite classes, in one table ----
   Each row runs through the pull reader and through cas_recon_parse, v2 and v1, where the
   row's text sits in an unknown field (first member and last member): a parser that skips
   unknown fields must still validate every byte of them. J_VALUE rows are one JSON value: the
   reader reads "[" value "]", the manifests carry "unknown": value; both wrappers add one level
   of nesting, so a row's depth counts the document's levels alike. J_BEFORE / J_AFTER rows
   are bytes put before / after a whole valid text ("[0]" and the manifests). `code` is the
   exact result for all five, `at` the error offset within the row's text (then shifted by
   where the text was put). Accepted rows (y_) must leave the manifest's content unchanged.
   RFC 8259 lets a parser refuse a BOM (8.1), limit nesting and string contents (9) and refuse
   lone surrogate escapes (8.2: behaviour unpredictable); cas.h does all four on purpose. */
enum { J_VALUE, J_BEFORE, J_AFTER };
typedef struct {
    const char *name;
    const char *s;
    size_t n;  /* 0: strlen */
    int where; /* J_* */
    int code;
    long at;   /* -1: no offset (accepted rows) */
} t_suite;

#define L8O "[[[[[[[["
#define L8C "]]]]]]]]"
#define L31O L8O L8O L8O "[[[[[[["
#define L31C L8C L8C L8C "]]]]]]]"
#define M5O "[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":"  /* 10 levels, arrays and objects */
#define M5C "}]}]}]}]}]"

static const t_suite g_suite[] = {
    /* byte order mark and NUL */
    {"BOM before the text", "\xef\xbb\xbf", 0, J_BEFORE, CAS_E_JSON_SYNTAX, 0},
    {"BOM as a string's content (U+FEFF)", "\"\xef\xbb\xbf\"", 0, J_VALUE, CAS_OK, -1},
    {"raw NUL in a string", "\"a\0b\"", 5, J_VALUE, CAS_E_JSON_STRING, 2},
    {"raw NUL between tokens", "[1,\0" "2]", 6, J_VALUE, CAS_E_JSON_SYNTAX, 3},
    {"raw NUL before a value", "\0" "1", 2, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"raw NUL after the text", "\0", 1, J_AFTER, CAS_E_JSON_SYNTAX, 0},
    {"\\u0000 escape", "\"\\u0000\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"\\u0001 escape", "\"\\u0001\"", 0, J_VALUE, CAS_OK, -1},
    /* invalid UTF-8 */
    {"overlong 2-byte C0 80", "\"\xc0\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"overlong 2-byte C1 BF", "\"\xc1\xbf\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"overlong 3-byte E0 80 80", "\"\xe0\x80\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"overlong 3-byte U+07FF", "\"\xe0\x9f\xbf\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"overlong 4-byte F0 80 80 80", "\"\xf0\x80\x80\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"overlong 4-byte U+FFFF", "\"\xf0\x8f\xbf\xbf\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"surrogate in UTF-8 ED A0 80", "\"\xed\xa0\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"surrogate in UTF-8 ED BF BF", "\"\xed\xbf\xbf\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"CESU-8 pair", "\"\xed\xa0\xbd\xed\xb8\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"over U+10FFFF F4 90 80 80", "\"\xf4\x90\x80\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"F5 lead", "\"\xf5\x80\x80\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"5-byte F8 lead", "\"\xf8\x88\x80\x80\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"FF byte", "\"\xff\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"stray continuation byte", "\"\x80\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"stray continuation after a character", "\"\xc3\xa9\xa9\"", 0, J_VALUE, CAS_E_JSON_STRING, 3},
    {"2-byte sequence cut by the quote", "\"\xc3\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"3-byte sequence cut by the quote", "\"\xe2\x82\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"4-byte sequence cut by the quote", "\"\xf0\x9f\x98\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"bad continuation", "\"\xc3\xa9\xc3\x28\"", 0, J_VALUE, CAS_E_JSON_STRING, 3},
    {"UTF-8 outside a string", "\xc3\xa9", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"UTF-8: 2, 3, 4 bytes, U+10FFFF, U+FFFF, DEL", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xef\xbf\xbf\x7f\"", 0,
     J_VALUE, CAS_OK, -1},
    /* surrogate escapes */
    {"lone high surrogate", "\"\\uD800\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"lone high surrogate, then text", "\"\\uD800abcdef\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"lone low surrogate", "\"\\uDC00\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"high then non-surrogate escape", "\"\\uD800\\u0041\"", 0, J_VALUE, CAS_E_JSON_STRING, 7},
    {"high then high", "\"\\uD800\\uD800\"", 0, J_VALUE, CAS_E_JSON_STRING, 7},
    {"high then other escape", "\"\\uD800\\n\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"low then high", "\"\\udfff\\ud800\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"surrogate pair", "\"\\ud83d\\ude00\\uDBFF\\uDFFF\"", 0, J_VALUE, CAS_OK, -1},
    {"every escape", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u0080\\u07ff\\u0800\\uD7FF\\uE000\\uFFFF\"", 0, J_VALUE, CAS_OK, -1},
    /* nesting: the wrapper is level 1 */
    {"32 levels", L31O "0" L31C, 0, J_VALUE, CAS_OK, -1},
    {"33 levels", "[" L31O "0" L31C "]", 0, J_VALUE, CAS_E_JSON_DEPTH, 31},
    {"32 levels, objects and arrays", M5O M5O M5O "[0]" M5C M5C M5C, 0, J_VALUE, CAS_OK, -1},
    {"33 levels, objects and arrays", M5O M5O M5O "[[0]]" M5C M5C M5C, 0, J_VALUE, CAS_E_JSON_DEPTH, 91},
    /* numbers */
    {"leading zero", "01", 0, J_VALUE, CAS_E_JSON_NUMBER, 0},
    {"leading zeros", "00", 0, J_VALUE, CAS_E_JSON_NUMBER, 0},
    {"negative leading zero", "-01", 0, J_VALUE, CAS_E_JSON_NUMBER, 0},
    {"plus sign", "+1", 0, J_VALUE, CAS_E_JSON_NUMBER, 0},
    {"no fraction digits", "1.", 0, J_VALUE, CAS_E_JSON_NUMBER, 2},
    {"no fraction digits before e", "1.e5", 0, J_VALUE, CAS_E_JSON_NUMBER, 2},
    {"no integer digits", ".5", 0, J_VALUE, CAS_E_JSON_NUMBER, 0},
    {"minus alone", "-", 0, J_VALUE, CAS_E_JSON_NUMBER, 1},
    {"minus then letter", "-a", 0, J_VALUE, CAS_E_JSON_NUMBER, 1},
    {"no exponent digits", "1e", 0, J_VALUE, CAS_E_JSON_NUMBER, 2},
    {"no exponent digits after sign", "1e+", 0, J_VALUE, CAS_E_JSON_NUMBER, 3},
    {"hex", "0x10", 0, J_VALUE, CAS_E_JSON_SYNTAX, 1},
    {"digit separator", "1_000", 0, J_VALUE, CAS_E_JSON_SYNTAX, 1},
    {"Infinity", "Infinity", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"-Infinity", "-Infinity", 0, J_VALUE, CAS_E_JSON_NUMBER, 1},
    {"NaN", "NaN", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"huge exponent", "1e400", 0, J_VALUE, CAS_OK, -1},
    {"huge negative exponent", "-123.456e-789", 0, J_VALUE, CAS_OK, -1},
    {"exponent past 64 bits", "1E+99999999999999999999999", 0, J_VALUE, CAS_OK, -1},
    {"integer past 64 bits", "123456789012345678901234567890", 0, J_VALUE, CAS_OK, -1},
    {"numbers within the grammar", "[-0,0.0,-0.0e-0,1E2,1e+2,1.5e+10,-1E-2]", 0, J_VALUE, CAS_OK, -1},
    /* structure */
    {"trailing comma in an array", "[1,]", 0, J_VALUE, CAS_E_JSON_SYNTAX, 3},
    {"trailing comma in an object", "{\"a\":1,}", 0, J_VALUE, CAS_E_JSON_SYNTAX, 7},
    {"duplicate keys in an unknown object", "{\"a\":1,\"a\":2}", 0, J_VALUE, CAS_OK, -1},
    {"empty containers", "[[],[[]],{},{\"\":[]}]", 0, J_VALUE, CAS_OK, -1},
    {"literals", "[true,false,null]", 0, J_VALUE, CAS_OK, -1},
    {"single-quoted string", "'a'", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"single-quoted key", "{'a':1}", 0, J_VALUE, CAS_E_JSON_SYNTAX, 1},
    {"block comment", "/*c*/1", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"line comment after a value", "1//c\n", 0, J_VALUE, CAS_E_JSON_SYNTAX, 1},
    {"hash comment", "#c\n1", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    /* control characters in strings (U+0000..U+001F must be escaped; DEL need not) */
    {"raw U+0001 in a string", "\"a\x01\"", 0, J_VALUE, CAS_E_JSON_STRING, 2},
    {"raw tab in a string", "\"a\tb\"", 0, J_VALUE, CAS_E_JSON_STRING, 2},
    {"raw newline in a string", "\"a\nb\"", 0, J_VALUE, CAS_E_JSON_STRING, 2},
    {"raw U+001F in a string", "\"\x1f\"", 0, J_VALUE, CAS_E_JSON_STRING, 1},
    {"whitespace of JSON around a value", " \t\r\n1\n\r\t ", 0, J_VALUE, CAS_OK, -1},
    {"vertical tab is not whitespace", "\v1", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    {"no-break space is not whitespace", "\xc2\xa0" "1", 0, J_VALUE, CAS_E_JSON_SYNTAX, 0},
    /* after the document */
    {"a second value", "{}", 0, J_AFTER, CAS_E_JSON_SYNTAX, 0},
    {"a second value after space", " 0", 0, J_AFTER, CAS_E_JSON_SYNTAX, 1},
    {"a stray closing bracket", "]", 0, J_AFTER, CAS_E_JSON_SYNTAX, 0},
    {"a comma", "\n,", 0, J_AFTER, CAS_E_JSON_SYNTAX, 1},
    {"whitespace after the text", " \t\r\n", 0, J_AFTER, CAS_OK, -1},
};

/* Runs a text; checks the code and (for errors) the offset; for a manifest that is accepted,
   that it has base's content. */
static void suite_run(const char *name, const char *what, const char *text, size_t len, int version,
                      const cas_recon *base, int code, long at) {
    cas_recon r;
    cas_error e;
    int rc;
    memset(&r, 0, sizeof r);
    rc = version ? cas_recon_parse(NULL, text, len, version, NULL, &r, &e) : read_all(text, len, NULL, &e);
    CHECKM(rc == code && e.code == rc && (at < 0 || e.offset == (uint64_t)at), name);
    if (rc != code || (at >= 0 && e.offset != (uint64_t)at))
        fprintf(stderr, "   %s: got %s at %llu (%s), wanted %s at %ld\n", what, cas_result_name(rc),
                (unsigned long long)e.offset, e.what, cas_result_name(code), at);
    if (rc == CAS_OK && version)
        CHECKM(r.num_terms == base->num_terms && r.num_xorbs == base->num_xorbs &&
               r.offset_into_first_range == base->offset_into_first_range &&
               (!r.num_terms || cas_hash_equal(&r.terms[0].hash, &base->terms[0].hash)), name);
    cas_recon_free(&r);
}

static void test_suite_classes(void) {
    /* The manifests: valid, with an unknown field whose value has every kind of token, so
       that truncation at each byte also cuts inside a skipped value. */
    static const char *docs[2] = {
        "{\"offset_into_first_range\":0,\"terms\":[" TERM("1000", "0", "4") "],\"xorbs\":{\"" H1
        "\":[{\"url\":\"https://x.test/a?b=c\",\"ranges\":[" RANGE("0", "4", "0", "1000") "]}]},"
        "\"skipped\":{\"a\":[1.5e3,-0,\"\\u00e9\\ud83d\\ude00\xc3\xa9\",true,false,null,{}]}}",
        "{\"offset_into_first_range\":7,\"terms\":[" TERM("1000", "0", "4") "],\"fetch_info\":{\"" H1
        "\":[{\"range\":{\"start\":0,\"end\":4},\"url\":\"https://t/1\",\"url_range\":{\"start\":0,\"end\":999}}]},"
        "\"skipped\":[{\"b\":\"\\\"\"},[],0.5E-3]}",
    };
    cas_recon base[2];
    t_buf b = {0, 0, 0};
    size_t i;
    int v;
    for (v = 0; v < 2; v++) {
        cas_error e;
        CHECK(cas_recon_parse(NULL, docs[v], strlen(docs[v]), 2 - v, NULL, &base[v], &e) == CAS_OK);
        CHECK(base[v].num_terms == 1);
        check_truncations(docs[v], strlen(docs[v]), 2 - v, v ? "suite v1 manifest" : "suite v2 manifest");
    }
    for (i = 0; i < sizeof g_suite / sizeof g_suite[0]; i++) {
        const t_suite *c = &g_suite[i];
        const size_t n = c->n ? c->n : strlen(c->s);
        size_t at0;
        int last;
        /* the reader */
        b.n = 0;
        if (c->where == J_AFTER) tb_str(&b, "[0]");
        if (c->where == J_VALUE) tb_str(&b, "[");
        at0 = b.n;
        tb_put(&b, c->s, n);
        if (c->where == J_VALUE) tb_str(&b, "]");
        if (c->where == J_BEFORE) tb_str(&b, "[0]");
        suite_run(c->name, "reader", b.p, b.n, 0, NULL, c->code, c->at < 0 ? -1 : (long)(at0 + (size_t)c->at));
        /* the manifests: v2 then v1; the unknown field first, then last */
        for (v = 0; v < 2; v++)
            for (last = 0; last < 2; last++) {
                const char *d = docs[v];
                const size_t dn = strlen(d);
                if (c->where != J_VALUE && last) continue;
                b.n = 0;
                if (c->where == J_AFTER) tb_str(&b, d);
                else if (c->where == J_VALUE && !last) tb_str(&b, "{\"unknown\":");
                else if (c->where == J_VALUE) {
                    tb_put(&b, d, dn - 1);
                    tb_str(&b, ",\"unknown\":");
                }
                at0 = b.n;
                tb_put(&b, c->s, n);
                if (c->where == J_BEFORE) tb_str(&b, d);
                else if (c->where == J_VALUE && !last) {
                    tb_str(&b, ",");
                    tb_str(&b, d + 1);
                } else if (c->where == J_VALUE) {
                    tb_str(&b, "}");
                }
                suite_run(c->name, v ? (last ? "v1, last" : "v1, first") : (last ? "v2, last" : "v2, first"), b.p, b.n,
                          2 - v, &base[v], c->code, c->at < 0 ? -1 : (long)(at0 + (size_t)c->at));
            }
    }
    for (v = 0; v < 2; v++) cas_recon_free(&base[v]);
    free(b.p);
}

/* ---- the spec's examples and the oracle's manifests ---- */
static void test_vectors(void) {
    static const char *ok[] = {"spec_v2_simple", "spec_v2_complex_fixed", "recon_v2_oracle", "recon_v2_oracle_range"};
    size_t i, len;
    char *doc;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char path[256];
        cas_recon r;
        cas_error e;
        int rc;
        snprintf(path, sizeof path, "%s.json", ok[i]);
        doc = read_file(path, &len);
        CHECKM(doc != NULL, path);
        if (!doc) continue;
        rc = cas_recon_parse(NULL, doc, len, 2, NULL, &r, &e);
        CHECKM(rc == CAS_OK, ok[i]);
        if (rc != CAS_OK) fprintf(stderr, "  %s: %s at %llu: %s\n", ok[i], cas_result_name(rc), (unsigned long long)e.offset, e.what);
        CHECK(e.code == CAS_OK && e.offset == 0 && !e.what[0]);
        if (rc == CAS_OK) {
            CHECK(r.version == 2);
            if (strncmp(ok[i], "spec", 4) != 0) check_expect(&r, ok[i]);
        }
        cas_recon_free(&r);
        CHECK(r.priv_block == NULL && r.num_terms == 0);
        cas_recon_free(&r); /* twice is harmless */
        /* v1 reading of a v2 body: "fetch_info" is missing ("xorbs" is skipped as unknown) */
        CHECK(cas_recon_parse(NULL, doc, len, 1, NULL, &r, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "fetch_info"));
        check_truncations(doc, len, 2, ok[i]);
        check_truncations(doc, len, 0, ok[i]);
        free(doc);
    }
    /* spec_v2_simple in detail */
    doc = read_file("spec_v2_simple.json", &len);
    if (doc) {
        cas_recon r;
        CHECK(cas_recon_parse(NULL, doc, len, 2, NULL, &r, NULL) == CAS_OK);
        CHECK(r.offset_into_first_range == 0 && r.num_terms == 1 && r.num_xorbs == 1);
        CHECK(hex_eq(&r.terms[0].hash, H1) && r.terms[0].unpacked_length == 263873 &&
              r.terms[0].chunk_start == 0 && r.terms[0].chunk_end == 4);
        CHECK(hex_eq(&r.xorbs[0].hash, H1) && r.xorbs[0].num_fetches == 1 && r.xorbs[0].fetches[0].num_ranges == 1);
        CHECK(strncmp(r.xorbs[0].fetches[0].url, "https://transfer.xethub.hf.co/xorb/default/" H1 "?X-Xet-Signed-Range=bytes%3D0-131071&", 105) == 0);
        CHECK(strlen(r.xorbs[0].fetches[0].url) == r.xorbs[0].fetches[0].url_len);
        CHECK(r.xorbs[0].fetches[0].ranges[0].chunk_start == 0 && r.xorbs[0].fetches[0].ranges[0].chunk_end == 4 &&
              r.xorbs[0].fetches[0].ranges[0].byte_start == 0 && r.xorbs[0].fetches[0].ranges[0].byte_end == 131071);
        CHECK(r.terms[0].xorb == 0 && r.terms[0].fetch == 0 && r.terms[0].range == 0);
        cas_recon_free(&r);
        free(doc);
    }
    doc = read_file("spec_v2_complex_fixed.json", &len);
    if (doc) {
        cas_recon r;
        CHECK(cas_recon_parse(NULL, doc, len, 2, NULL, &r, NULL) == CAS_OK);
        CHECK(r.num_terms == 3 && r.num_xorbs == 2);
        CHECK(r.num_terms == 3 && hex_eq(&r.terms[1].hash, H3) && r.terms[1].unpacked_length == 143890 &&
              r.terms[2].chunk_start == 3 && r.terms[2].chunk_end == 43);
        /* sorted by the hash bytes: fedc... (first byte 0x21) before a1b2... (0x90) */
        CHECK(r.num_xorbs == 2 && hex_eq(&r.xorbs[0].hash, H3) && hex_eq(&r.xorbs[1].hash, H1));
        CHECK(r.num_terms == 3 && r.terms[0].xorb == 1 && r.terms[1].xorb == 0 && r.terms[2].xorb == 1);
        cas_recon_free(&r);
        free(doc);
    }
    /* the spec's second example as published: its second xorb hash has 61 digits */
    doc = read_file("spec_v2_complex.json", &len);
    if (doc) {
        cas_error e;
        cas_recon r0;
        CHECK(cas_recon_parse(NULL, doc, len, 2, NULL, &r0, &e) == CAS_E_HEX);
        CHECK(strstr(e.what, "terms[].hash") != NULL && doc[e.offset] == '"' &&
              strncmp(doc + e.offset + 1, "fedcba09", 8) == 0);
        free(doc);
    }
    doc = read_file("spec_token.json", &len);
    if (doc) {
        cas_xet_token t;
        cas_error e;
        CHECK(cas_xet_token_parse(NULL, doc, len, NULL, &t, &e) == CAS_OK);
        CHECK(t.access_token && !strcmp(t.access_token, "xet_xxxxxxxxxxx") && t.access_token_len == 15);
        CHECK(t.exp == 1848535668);
        CHECK(t.cas_url && !strcmp(t.cas_url, "https://cas-server.xethub.hf.co") && t.cas_url_len == 31);
        cas_xet_token_free(&t);
        CHECK(t.access_token == NULL && t.priv_block == NULL);
        free(doc);
    }
    /* api.md's response skeletons use placeholders ([...], {...}, comments): not JSON */
    CHECK(p2("{\n  \"offset_into_first_range\": 0,\n  \"terms\": [...],\n  \"xorbs\": {...}\n}", NULL) == CAS_E_JSON_NUMBER);
    CHECK(rd("{\"files\": {\"0123...\": [/* CASReconstructionTerm, ... */]}}") == CAS_E_JSON_SYNTAX);
}

/* ---- v2 schema and rules ---- */
typedef struct {
    const char *doc; /* NULL: built with v2doc from the pieces */
    const char *off, *term, *url, *range;
    int code;
    const char *what; /* a substring of err.what, or NULL */
} t_case;

static void run_cases(const t_case *c, size_t n, int version) {
    size_t i;
    for (i = 0; i < n; i++) {
        static char doc[sizeof g_doc];
        cas_error e;
        int rc;
        if (c[i].doc) {
            snprintf(doc, sizeof doc, "%s", c[i].doc);
        } else {
            snprintf(doc, sizeof doc, "%s", v2doc(c[i].off, c[i].term, c[i].url, c[i].range));
        }
        rc = version == 2 ? p2(doc, &e) : p1(doc, &e);
        CHECKM(rc == c[i].code, doc);
        if (rc != c[i].code || (c[i].what && (!strstr(e.what, c[i].what)))) {
            fprintf(stderr, "  case %zu: got %s at %llu: %s (wanted %s / %s)\n", i, cas_result_name(rc),
                    (unsigned long long)e.offset, e.what, cas_result_name(c[i].code), c[i].what ? c[i].what : "");
        }
        if (c[i].what) CHECKM(strstr(e.what, c[i].what), doc);
        CHECK(e.code == rc);
        if (rc != CAS_OK) CHECK(e.offset <= strlen(doc));
    }
}

static void test_v2_rules(void) {
    static const t_case c[] = {
        {NULL, NULL, NULL, NULL, NULL, CAS_OK, NULL},
        /* the root */
        {"[]", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "not a JSON object"},
        {"{\"terms\":[],\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "offset_into_first_range: required"},
        {"{\"offset_into_first_range\":0,\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "terms: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[]}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "xorbs: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{},\"terms\":[]}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "terms: duplicate"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{},\"t\\u0065rms\":[]}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "terms: duplicate"},
        {"{\"offset_into_first_range\":0,\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "duplicate"},
        {"{\"offset_into_first_range\":0,\"terms\":{},\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "terms: expected an array"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":[]}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "xorbs: expected an object"},
        {"{\"offset_into_first_range\":\"0\",\"terms\":[],\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "offset_into_first_range: expected a number"},
        {"{\"offset_into_first_range\":null,\"terms\":[],\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, NULL},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}} x", 0, 0, 0, 0, CAS_E_JSON_SYNTAX, "after"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}}\n", 0, 0, 0, 0, CAS_OK, NULL},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{},\"fetch_info\":{\"x\":1},\"new\":[{\"a\":[null,true,1.5e3,\"s\"]}]}", 0, 0, 0, 0, CAS_OK, NULL},
        {"{\"offset_into_first_range\":1,\"terms\":[],\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "offset_into_first_range"},
        /* integers */
        {NULL, "-0", 0, 0, 0, CAS_E_JSON_NUMBER, "offset_into_first_range: not a plain integer"},
        {NULL, "0.0", 0, 0, 0, CAS_E_JSON_NUMBER, NULL},
        {NULL, "0e0", 0, 0, 0, CAS_E_JSON_NUMBER, NULL},
        {NULL, "00", 0, 0, 0, CAS_E_JSON_NUMBER, NULL},
        {NULL, "18446744073709551616", 0, 0, 0, CAS_E_JSON_NUMBER, NULL},
        {NULL, "999", 0, 0, 0, CAS_OK, NULL},
        {NULL, "1000", 0, 0, 0, CAS_E_JSON_VALUE, "offset_into_first_range: not below"},
        /* terms */
        {NULL, 0, "1", 0, 0, CAS_E_JSON_SCHEMA, "terms[]: expected an object"},
        {NULL, 0, "{\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].hash: required"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].unpacked_length: required"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].range: required"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].range.end: required"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].range.start: required"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].hash: duplicate"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4,\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].range.end: duplicate"},
        {NULL, 0, "{\"hash\":1,\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].hash: expected a string"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":\"1000\",\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_SCHEMA, "unpacked_length: expected a number"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":[0,4]}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].range: expected an object"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":\"4\"}}", 0, 0, CAS_E_JSON_SCHEMA, "terms[].range.end: expected a number"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4,\"x\":{\"y\":[]}},\"z\":null}", 0, 0, CAS_OK, NULL},
        {NULL, 0, "{\"range\":{\"end\":4,\"start\":0},\"unpacked_length\":1000,\"hash\":\"" H1 "\"}", 0, 0, CAS_OK, NULL}, /* any order */
        {NULL, 0, "{\"h\\u0061sh\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_OK, NULL},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000.0,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_NUMBER, "terms[].unpacked_length: not a plain integer"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1e3,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_NUMBER, NULL},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":-1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_NUMBER, NULL},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":4294967296,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_NUMBER, "4294967295"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":4294967296,\"end\":4}}", 0, 0, CAS_E_JSON_NUMBER, "terms[].range.start"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":04}}", 0, 0, CAS_E_JSON_NUMBER, NULL},
        /* term rules */
        {NULL, 0, 0, 0, 0, CAS_OK, NULL},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":2,\"end\":2}}", 0, 0, CAS_E_JSON_VALUE, "terms[].range: start must be below end"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":3,\"end\":2}}", 0, 0, CAS_E_JSON_VALUE, "start must be below end"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":8193}}", 0, 0, CAS_E_JSON_VALUE, "8192"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":0,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_VALUE, "unpacked_length"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":3,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_VALUE, "unpacked_length"},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":4,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_OK, NULL},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":524288,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_OK, NULL},
        {NULL, 0, "{\"hash\":\"" H1 "\",\"unpacked_length\":524289,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_JSON_VALUE, "unpacked_length"},
        /* hashes: 63/65 digits, non-hex, upper case, 64 asterisks (xet-core #895), escapes, non-ASCII */
        {NULL, 0, "{\"hash\":\"" "a1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef12345" "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, "terms[].hash"},
        {NULL, 0, "{\"hash\":\"" H1 "7\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, "terms[].hash"},
        {NULL, 0, "{\"hash\":\"" "g1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456" "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, NULL},
        {NULL, 0, "{\"hash\":\"" "A1B2C3D4E5F6789012345678901234567890ABCDEF1234567890ABCDEF123456" "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, "lower-case"},
        {NULL, 0, "{\"hash\":\"****************************************************************\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, NULL},
        {NULL, 0, "{\"hash\":\"\\u0061" "1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456" "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, "escapes"},
        {NULL, 0, "{\"hash\":\"\xc3\xa9" "b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456" "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, NULL},
        {NULL, 0, "{\"hash\":\"\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}", 0, 0, CAS_E_HEX, NULL},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" "a1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef12345" "\":[]}}", 0, 0, 0, 0, CAS_E_HEX, "xorbs: a key"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":{}}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "xorbs{}: expected an array"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":[]}}", 0, 0, 0, 0, CAS_OK, NULL},
        /* coverage */
        {"{\"offset_into_first_range\":0,\"terms\":[" "{\"hash\":\"" H2 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}" "],\"xorbs\":{\"" H1 "\":[]}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "not a key of xorbs"},
        {"{\"offset_into_first_range\":0,\"terms\":[" "{\"hash\":\"" H1 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":4}}" "],\"xorbs\":{\"" H1 "\":[]}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "no range"},
        {NULL, 0, TERM("1000", "0", "5"), 0, 0, CAS_E_JSON_VALUE, "terms[]: no range"},
        {NULL, 0, TERM("1000", "1", "4"), 0, 0, CAS_OK, NULL},
        {NULL, 0, TERM("10", "3", "4"), 0, RANGE("0", "4", "0", "1000"), CAS_OK, NULL},
        {NULL, 0, TERM("1000", "0", "4"), 0, RANGE("1", "4", "0", "1000"), CAS_E_JSON_VALUE, "no range"},
        /* fetch entries */
        {NULL, 0, 0, "\"\"", 0, CAS_E_JSON_VALUE, "xorbs{}[].url"},
        {NULL, 0, 0, "\"ftp://x/y\"", 0, CAS_E_JSON_VALUE, "xorbs{}[].url"},
        {NULL, 0, 0, "\"//x/y\"", 0, CAS_E_JSON_VALUE, NULL},
        {NULL, 0, 0, "\"https://x/a b\"", 0, CAS_E_JSON_VALUE, NULL},
        {NULL, 0, 0, "\"https://x/a\\r\\nX-Injected: 1\"", 0, CAS_E_JSON_VALUE, NULL},
        {NULL, 0, 0, "\"https://x/\xc3\xa9\"", 0, CAS_E_JSON_VALUE, NULL},
        {NULL, 0, 0, "\"https://x/\\u00e9\"", 0, CAS_E_JSON_VALUE, NULL},
        {NULL, 0, 0, "\"https:\\/\\/x\\/a\"", 0, CAS_OK, NULL},
        {NULL, 0, 0, "\"HTTP://X/\"", 0, CAS_OK, NULL},
        {NULL, 0, 0, "\"http://\"", 0, CAS_OK, NULL},
        {NULL, 0, 0, "\"http:/\"", 0, CAS_E_JSON_VALUE, NULL},
        {NULL, 0, 0, "5", 0, CAS_E_JSON_SCHEMA, "xorbs{}[].url: expected a string"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":[{\"ranges\":[" RANGE("0", "1", "0", "8") "]}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "url: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":[{\"url\":\"https://x\"}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "ranges: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":[{\"url\":\"https://x\",\"ranges\":[]}]}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "ranges: empty"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":[{\"url\":\"https://x\",\"ranges\":{}}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "ranges: expected an array"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"" H1 "\":[\"https://x\"]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "xorbs{}[]: expected an object"},
        /* descriptors */
        {NULL, 0, 0, 0, "{\"chunks\":{\"start\":0,\"end\":4}}", CAS_E_JSON_SCHEMA, "bytes: required"},
        {NULL, 0, 0, 0, "{\"bytes\":{\"start\":0,\"end\":1000}}", CAS_E_JSON_SCHEMA, "chunks: required"},
        {NULL, 0, 0, 0, "[0,4]", CAS_E_JSON_SCHEMA, "ranges[]: expected an object"},
        {NULL, 0, 0, 0, "{\"chunks\":[0,4],\"bytes\":{\"start\":0,\"end\":1000}}", CAS_E_JSON_SCHEMA, "chunks: expected an object"},
        {NULL, 0, 0, 0, "{\"chunks\":{\"start\":0,\"end\":4},\"bytes\":{\"start\":0,\"end\":1000},\"extra\":[1,[2]]}", CAS_OK, NULL},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "0", "8"), CAS_OK, NULL},          /* 9 bytes: one minimal record */
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "0", "7"), CAS_E_JSON_VALUE, "do not fit"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "0", "262151"), CAS_OK, NULL},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "0", "262152"), CAS_E_JSON_VALUE, "do not fit"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "9", "8"), CAS_E_JSON_VALUE, "start is after end"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "67108854", "67108863"), CAS_OK, NULL},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "67108855", "67108864"), CAS_E_JSON_VALUE, "64 MiB"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "0", "18446744073709551615"), CAS_E_JSON_VALUE, "64 MiB"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "0", "18446744073709551616"), CAS_E_JSON_NUMBER, "bytes.end"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "0", "0", "8"), CAS_E_JSON_VALUE, "chunks: start must be below end"},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "8193", "0", "99999"), CAS_E_JSON_VALUE, "8192"},
        {NULL, 0, TERM("10", "8191", "8192"), 0, RANGE("8191", "8192", "0", "99"), CAS_OK, NULL},
        {NULL, 0, TERM("10", "0", "1"), 0, RANGE("0", "1", "-0", "8"), CAS_E_JSON_NUMBER, "bytes.start"},
        /* order inside an entry */
        {NULL, 0, TERM("10", "0", "1"), 0, "{\"chunks\":{\"start\":0,\"end\":2},\"bytes\":{\"start\":0,\"end\":99}},{\"chunks\":{\"start\":2,\"end\":4},\"bytes\":{\"start\":100,\"end\":199}}", CAS_OK, NULL},
        {NULL, 0, TERM("10", "0", "1"), 0, "{\"chunks\":{\"start\":0,\"end\":2},\"bytes\":{\"start\":0,\"end\":99}},{\"chunks\":{\"start\":5,\"end\":7},\"bytes\":{\"start\":500,\"end\":599}}", CAS_OK, NULL},
        {NULL, 0, TERM("10", "0", "1"), 0, "{\"chunks\":{\"start\":0,\"end\":3},\"bytes\":{\"start\":0,\"end\":99}},{\"chunks\":{\"start\":2,\"end\":4},\"bytes\":{\"start\":100,\"end\":199}}", CAS_E_JSON_VALUE, "previous range"},
        {NULL, 0, TERM("10", "0", "1"), 0, "{\"chunks\":{\"start\":0,\"end\":2},\"bytes\":{\"start\":0,\"end\":99}},{\"chunks\":{\"start\":2,\"end\":4},\"bytes\":{\"start\":99,\"end\":199}}", CAS_E_JSON_VALUE, "previous range"},
        {NULL, 0, TERM("10", "0", "1"), 0, "{\"chunks\":{\"start\":5,\"end\":7},\"bytes\":{\"start\":500,\"end\":599}},{\"chunks\":{\"start\":0,\"end\":2},\"bytes\":{\"start\":0,\"end\":99}}", CAS_E_JSON_VALUE, "previous range"},
    };
    run_cases(c, sizeof c / sizeof c[0], 2);
}

/* error offsets point at the offending token */
static void test_offsets(void) {
    cas_error e;
    const char *doc = v2doc(NULL, TERM("1000", "0", "9999999999"), NULL, NULL);
    CHECK(p2(doc, &e) == CAS_E_JSON_NUMBER && strncmp(doc + e.offset, "9999999999", 10) == 0);
    doc = v2doc(NULL, TERM("1000", "2", "2"), NULL, NULL);
    CHECK(p2(doc, &e) == CAS_E_JSON_VALUE && strncmp(doc + e.offset, "{\"start\":2", 10) == 0);
    doc = v2doc(NULL, NULL, "\"ftp://x\"", NULL);
    CHECK(p2(doc, &e) == CAS_E_JSON_VALUE && strncmp(doc + e.offset, "\"ftp://x\"", 9) == 0);
    doc = "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{},\"terms\":[]}";
    CHECK(p2(doc, &e) == CAS_E_JSON_SCHEMA && e.offset == 51); /* the second "terms" */
    doc = "{\"offset_into_first_range\":0,\"terms\":[]}";
    CHECK(p2(doc, &e) == CAS_E_JSON_SCHEMA && e.offset == strlen(doc) - 1); /* at the '}' */
}

/* duplicate map keys; LAST_WINS; case */
static void test_duplicates(void) {
    char doc[4096];
    cas_json_desc o;
    cas_recon r;
    cas_error e;
    memset(&o, 0, sizeof o);
    snprintf(doc, sizeof doc,
             "{\"offset_into_first_range\":0,\"terms\":[{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":4}}],"
             "\"xorbs\":{\"" H1 "\":[{\"url\":\"https://first\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":1},\"bytes\":{\"start\":0,\"end\":99}}]}],"
             "\"" H2 "\":[],"
             "\"" H1 "\":[{\"url\":\"https://second\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":4},\"bytes\":{\"start\":0,\"end\":99}}]}]}}");
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, NULL, &r, &e) == CAS_E_JSON_SCHEMA);
    CHECK(strstr(e.what, "the same xorb hash twice") && strncmp(doc + e.offset, "\"" H1 "\":[{\"url\":\"https://second", 80) == 0);
    o.flags = CAS_JSON_LAST_WINS;
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, &o, &r, &e) == CAS_OK);
    CHECK(r.num_xorbs == 2 && hex_eq(&r.xorbs[0].hash, H1) && hex_eq(&r.xorbs[1].hash, H2)); /* 0x90.. < 0xef.. */
    CHECK(r.num_xorbs == 2 && !strcmp(r.xorbs[0].fetches[0].url, "https://second"));
    CHECK(r.num_terms == 1 && r.terms[0].xorb == 0 && r.terms[0].fetch == 0 && r.terms[0].range == 0);
    cas_recon_free(&r);
    /* the first one alone would not cover the term: last-wins really dropped it */
    snprintf(doc, sizeof doc,
             "{\"offset_into_first_range\":0,\"terms\":[{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":4}}],"
             "\"xorbs\":{\"" H1 "\":[{\"url\":\"https://second\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":4},\"bytes\":{\"start\":0,\"end\":99}}]}],"
             "\"" H1 "\":[{\"url\":\"https://first\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":1},\"bytes\":{\"start\":0,\"end\":99}}]}]}}");
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, &o, &r, &e) == CAS_E_JSON_VALUE && strstr(e.what, "no range"));
    /* upper and lower case of one hash: refused as upper case, or (any case) as the same key */
    snprintf(doc, sizeof doc,
             "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{\"%s\":[],\"%s\":[]}}",
             "abcdef0000000000000000000000000000000000000000000000000000000000",
             "ABCDEF0000000000000000000000000000000000000000000000000000000000");
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, NULL, &r, &e) == CAS_E_HEX && strstr(e.what, "xorbs: a key"));
    o.flags = CAS_JSON_HEX_ANY_CASE;
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, &o, &r, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "twice"));
    o.flags = CAS_JSON_HEX_ANY_CASE | CAS_JSON_LAST_WINS;
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, &o, &r, &e) == CAS_OK && r.num_xorbs == 1);
    cas_recon_free(&r);
    /* three of one key, last wins; ordering of many keys */
    {
        t_buf b = {0, 0, 0};
        int k;
        char key[80];
        tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{");
        for (k = 0; k < 300; k++) {
            snprintf(key, sizeof key, "%s\"%064x\":[]", k ? "," : "", (unsigned)((k * 7919) % 1000));
            tb_str(&b, key);
        }
        tb_str(&b, "}}");
        o.flags = 0;
        CHECK(cas_recon_parse(NULL, b.p, b.n, 2, &o, &r, &e) == CAS_OK && r.num_xorbs == 300);
        for (k = 1; k < (int)r.num_xorbs; k++) CHECK(memcmp(r.xorbs[k - 1].hash.bytes, r.xorbs[k].hash.bytes, 32) < 0);
        for (k = 0; k < 300; k++) {
            cas_hash h;
            snprintf(key, sizeof key, "%064x", (unsigned)((k * 7919) % 1000));
            cas_hash_from_hex(key, 64, &h);
            CHECK(cas_recon_find_xorb(r.xorbs, r.num_xorbs, &h) != NULL);
        }
        cas_recon_free(&r);
        b.n = 0;
        tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{");
        for (k = 0; k < 300; k++) {
            snprintf(key, sizeof key, "%s\"%064x\":[]", k ? "," : "", (unsigned)(k % 7));
            tb_str(&b, key);
        }
        tb_str(&b, "}}");
        CHECK(cas_recon_parse(NULL, b.p, b.n, 2, &o, &r, &e) == CAS_E_JSON_SCHEMA);
        o.flags = CAS_JSON_LAST_WINS;
        CHECK(cas_recon_parse(NULL, b.p, b.n, 2, &o, &r, &e) == CAS_OK && r.num_xorbs == 7);
        cas_recon_free(&r);
        free(b.p);
    }
}

/* Several entries per xorb, overlapping entries, terms mapped to the right entry and range. */
static void test_coverage(void) {
    char doc[4096];
    cas_recon r;
    cas_error e;
    snprintf(doc, sizeof doc,
             "{\"offset_into_first_range\":5,\"terms\":["
             "{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":10,\"end\":12}},"
             "{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":1}},"
             "{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":21,\"end\":29}},"
             "{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":6,\"end\":9}}],"
             "\"xorbs\":{\"" H1 "\":["
             "{\"url\":\"https://a\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":2},\"bytes\":{\"start\":0,\"end\":99}},"
             "{\"chunks\":{\"start\":5,\"end\":9},\"bytes\":{\"start\":500,\"end\":599}}]},"
             "{\"url\":\"https://b\",\"ranges\":[{\"chunks\":{\"start\":10,\"end\":12},\"bytes\":{\"start\":1000,\"end\":1099}},"
             "{\"chunks\":{\"start\":20,\"end\":30},\"bytes\":{\"start\":2000,\"end\":2999}}]},"
             "{\"url\":\"https://c\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":1},\"bytes\":{\"start\":0,\"end\":49}}]}"
             "]}}");
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, NULL, &r, &e) == CAS_OK);
    if (r.num_terms == 4) {
        size_t i;
        CHECK(r.offset_into_first_range == 5);
        CHECK(r.terms[0].fetch == 1 && r.terms[0].range == 0);
        CHECK(r.terms[2].fetch == 1 && r.terms[2].range == 1);
        CHECK(r.terms[3].fetch == 0 && r.terms[3].range == 1);
        CHECK((r.terms[1].fetch == 0 && r.terms[1].range == 0) || (r.terms[1].fetch == 2 && r.terms[1].range == 0));
        for (i = 0; i < 4; i++) {
            const cas_recon_range *g = &r.xorbs[r.terms[i].xorb].fetches[r.terms[i].fetch].ranges[r.terms[i].range];
            CHECK(g->chunk_start <= r.terms[i].chunk_start && r.terms[i].chunk_end <= g->chunk_end);
        }
    }
    cas_recon_free(&r);
    /* [0,2) in one entry and [2,4) in another do not make [0,4) */
    snprintf(doc, sizeof doc,
             "{\"offset_into_first_range\":0,\"terms\":[{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":4}}],"
             "\"xorbs\":{\"" H1 "\":["
             "{\"url\":\"https://a\",\"ranges\":[{\"chunks\":{\"start\":0,\"end\":2},\"bytes\":{\"start\":0,\"end\":99}}]},"
             "{\"url\":\"https://b\",\"ranges\":[{\"chunks\":{\"start\":2,\"end\":4},\"bytes\":{\"start\":100,\"end\":199}}]}]}}");
    CHECK(cas_recon_parse(NULL, doc, strlen(doc), 2, NULL, &r, &e) == CAS_E_JSON_VALUE && strstr(e.what, "no range") &&
          strncmp(doc + e.offset, "{\"hash\"", 7) == 0);
    /* many terms and ranges: the check is a binary search, fast on big inputs */
    {
        t_buf b = {0, 0, 0};
        char piece[256];
        int k;
        tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[");
        for (k = 0; k < 50000; k++) {
            int c = (k * 37) % 4096;
            snprintf(piece, sizeof piece, "%s{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":%d,\"end\":%d}}",
                     k ? "," : "", 2 * c, 2 * c + 2);
            tb_str(&b, piece);
        }
        tb_str(&b, "],\"xorbs\":{\"" H1 "\":[");
        for (k = 0; k < 4096; k++) { /* one entry per range, in reverse order */
            int c = 4095 - k;
            snprintf(piece, sizeof piece, "%s{\"url\":\"https://u\",\"ranges\":[{\"chunks\":{\"start\":%d,\"end\":%d},\"bytes\":{\"start\":%d,\"end\":%d}}]}",
                     k ? "," : "", 2 * c, 2 * c + 2, 100 * c, 100 * c + 99);
            tb_str(&b, piece);
        }
        tb_str(&b, "]}}");
        CHECK(cas_recon_parse(NULL, b.p, b.n, 2, NULL, &r, &e) == CAS_OK && r.num_terms == 50000);
        for (k = 0; k < (int)r.num_terms; k++) {
            const cas_recon_term *t = &r.terms[k];
            const cas_recon_range *g = &r.xorbs[t->xorb].fetches[t->fetch].ranges[t->range];
            if (!(g->chunk_start == t->chunk_start && g->chunk_end == t->chunk_end)) {
                CHECK(0);
                break;
            }
        }
        cas_recon_free(&r);
        free(b.p);
    }
}

/* ---- v1 ---- */
static void test_v1(void) {
    static const char *v1 =
        "{\"offset_into_first_range\":7,\"terms\":["
        "{\"hash\":\"" H1 "\",\"unpacked_length\":263873,\"range\":{\"start\":0,\"end\":4}},"
        "{\"hash\":\"" H2 "\",\"unpacked_length\":143890,\"range\":{\"start\":1,\"end\":3}}],"
        "\"fetch_info\":{"
        "\"" H1 "\":[{\"range\":{\"start\":0,\"end\":4},\"url\":\"https://transfer.xethub.hf.co/xorb/default/" H1 "\",\"url_range\":{\"start\":0,\"end\":131071}}],"
        "\"" H2 "\":[{\"range\":{\"start\":0,\"end\":2},\"url\":\"https://t/2a\",\"url_range\":{\"start\":0,\"end\":65669}},"
        "{\"url_range\":{\"start\":65670,\"end\":99999},\"url\":\"https://t/2b\",\"range\":{\"start\":1,\"end\":5},\"future\":{}}]}}";
    static const t_case c[] = {
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{}}", 0, 0, 0, 0, CAS_OK, NULL},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "fetch_info: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"url\":\"https://x\",\"url_range\":{\"start\":0,\"end\":99}}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "fetch_info{}[].range: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"https://x\"}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "url_range: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url_range\":{\"start\":0,\"end\":99}}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "fetch_info{}[].url: required"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":1,\"end\":1},\"url\":\"https://x\",\"url_range\":{\"start\":0,\"end\":99}}]}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "fetch_info{}[].range: start"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"https://x\",\"url_range\":{\"start\":99,\"end\":0}}]}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "url_range: start is after end"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"\",\"url_range\":{\"start\":0,\"end\":99}}]}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "fetch_info{}[].url"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"https://x\",\"url_range\":{\"start\":0,\"end\":\"99\"}}]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "url_range.end: expected a number"},
        {"{\"offset_into_first_range\":0,\"terms\":[],\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"https://x\",\"url_range\":{\"start\":0,\"end\":99}}],\"" H1 "\":[]}}", 0, 0, 0, 0, CAS_E_JSON_SCHEMA, "fetch_info: the same xorb hash twice"},
        {"{\"offset_into_first_range\":0,\"terms\":[{\"hash\":\"" H2 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":1}}],\"fetch_info\":{}}", 0, 0, 0, 0, CAS_E_JSON_VALUE, "not a key of fetch_info"},
    };
    cas_recon r;
    cas_error e;
    CHECK(cas_recon_parse(NULL, v1, strlen(v1), 1, NULL, &r, &e) == CAS_OK);
    if (r.num_terms == 2 && r.num_xorbs == 2) {
        const cas_recon_xorb *x2;
        cas_hash h;
        CHECK(r.version == 1 && r.offset_into_first_range == 7);
        cas_hash_from_hex(H2, 64, &h);
        x2 = cas_recon_find_xorb(r.xorbs, r.num_xorbs, &h);
        CHECK(x2 && x2->num_fetches == 2 && x2->fetches[0].num_ranges == 1 && x2->fetches[1].num_ranges == 1);
        CHECK(x2 && !strcmp(x2->fetches[1].url, "https://t/2b") && x2->fetches[1].ranges[0].chunk_start == 1 &&
              x2->fetches[1].ranges[0].chunk_end == 5 && x2->fetches[1].ranges[0].byte_start == 65670 &&
              x2->fetches[1].ranges[0].byte_end == 99999);
        CHECK(r.terms[1].xorb == (uint32_t)(x2 - r.xorbs) && r.terms[1].fetch == 1 && r.terms[1].range == 0);
        CHECK(r.terms[0].fetch == 0 && r.terms[0].range == 0);
    } else {
        CHECK(0);
        fprintf(stderr, "  v1: %s at %llu: %s\n", cas_result_name(e.code), (unsigned long long)e.offset, e.what);
    }
    cas_recon_free(&r);
    check_truncations(v1, strlen(v1), 1, "v1");
    CHECK(cas_recon_parse(NULL, v1, strlen(v1), 2, NULL, &r, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "xorbs: required"));
    CHECK(cas_recon_parse(NULL, v1, strlen(v1), 3, NULL, &r, &e) == CAS_E_ARGUMENT);
    run_cases(c, sizeof c / sizeof c[0], 1);
}

/* ---- batch ---- */
static void test_batch(void) {
    static const char *doc =
        "{\"files\":{"
        "\"" H3 "\":[{\"hash\":\"" H1 "\",\"unpacked_length\":263873,\"range\":{\"start\":0,\"end\":4}},"
        "{\"hash\":\"" H2 "\",\"unpacked_length\":1000,\"range\":{\"start\":1,\"end\":2}}],"
        "\"" H1 "\":[],"
        "\"" H2 "\":[{\"hash\":\"" H2 "\",\"unpacked_length\":1000,\"range\":{\"start\":0,\"end\":2}}]},"
        "\"fetch_info\":{"
        "\"" H1 "\":[{\"range\":{\"start\":0,\"end\":4},\"url\":\"https://t/1\",\"url_range\":{\"start\":0,\"end\":131071}}],"
        "\"" H2 "\":[{\"range\":{\"start\":0,\"end\":2},\"url\":\"https://t/2\",\"url_range\":{\"start\":0,\"end\":65669}}]}}";
    cas_recon_batch b;
    cas_error e;
    cas_hash h;
    const cas_recon_file *f;
    char bad[2048];
    CHECK(cas_recon_batch_parse(NULL, doc, strlen(doc), NULL, &b, &e) == CAS_OK);
    CHECK(b.num_files == 3 && b.num_xorbs == 2);
    cas_hash_from_hex(H3, 64, &h);
    f = cas_recon_batch_find_file(&b, &h);
    CHECK(f && f->num_terms == 2 && hex_eq(&f->terms[1].hash, H2) && f->terms[1].chunk_start == 1);
    CHECK(f && f->num_terms == 2 && hex_eq(&b.xorbs[f->terms[1].xorb].hash, H2) && f->terms[1].fetch == 0);
    cas_hash_from_hex(H1, 64, &h);
    f = cas_recon_batch_find_file(&b, &h);
    CHECK(f && f->num_terms == 0);
    h.bytes[0] ^= 1;
    CHECK(cas_recon_batch_find_file(&b, &h) == NULL);
    cas_recon_batch_free(&b);
    CHECK(b.files == NULL);
    check_truncations(doc, strlen(doc), 0, "batch");
    {
        size_t k;
        for (k = 0; k < strlen(doc); k++) {
            CHECK(cas_recon_batch_parse(NULL, doc, k, NULL, &b, &e) == CAS_E_TRUNCATED && e.offset == k);
        }
    }
    CHECK(cas_recon_batch_parse(NULL, "{\"files\":{}}", 12, NULL, &b, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "fetch_info: required"));
    CHECK(cas_recon_batch_parse(NULL, "{\"files\":{},\"fetch_info\":{}}", 28, NULL, &b, &e) == CAS_OK && b.num_files == 0);
    cas_recon_batch_free(&b);
    snprintf(bad, sizeof bad, "{\"files\":{\"" H1 "\":[],\"" H1 "\":[]},\"fetch_info\":{}}");
    CHECK(cas_recon_batch_parse(NULL, bad, strlen(bad), NULL, &b, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "files: the same file hash twice"));
    snprintf(bad, sizeof bad, "{\"files\":{\"" H1 "\":[{\"hash\":\"" H2 "\",\"unpacked_length\":10,\"range\":{\"start\":0,\"end\":1}}]},\"fetch_info\":{}}");
    CHECK(cas_recon_batch_parse(NULL, bad, strlen(bad), NULL, &b, &e) == CAS_E_JSON_VALUE && strstr(e.what, "files{}[].hash: not a key"));
    snprintf(bad, sizeof bad, "{\"files\":{\"" H1 "\":[{\"hash\":\"" H2 "\",\"unpacked_length\":10,\"range\":{\"start\":1,\"end\":1}}]},\"fetch_info\":{}}");
    CHECK(cas_recon_batch_parse(NULL, bad, strlen(bad), NULL, &b, &e) == CAS_E_JSON_VALUE && strstr(e.what, "files{}[].range"));
    snprintf(bad, sizeof bad, "{\"files\":{\"" H1 "x\":[]},\"fetch_info\":{}}");
    CHECK(cas_recon_batch_parse(NULL, bad, strlen(bad), NULL, &b, &e) == CAS_E_HEX && strstr(e.what, "files: a key"));
    snprintf(bad, sizeof bad, "{\"files\":{\"" H1 "\":{}},\"fetch_info\":{}}");
    CHECK(cas_recon_batch_parse(NULL, bad, strlen(bad), NULL, &b, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "files{}: expected an array"));
    snprintf(bad, sizeof bad, "{\"files\":{\"" H1 "\":[1]},\"fetch_info\":{}}");
    CHECK(cas_recon_batch_parse(NULL, bad, strlen(bad), NULL, &b, &e) == CAS_E_JSON_SCHEMA && strstr(e.what, "files{}[]: expected an object"));
}

/* ---- token ---- */
static void test_token(void) {
    static const struct {
        const char *s;
        int rc;
        const char *what;
    } c[] = {
        {"{\"accessToken\":\"t\",\"exp\":0,\"casUrl\":\"http://c\"}", CAS_OK, NULL},
        {"{\"casUrl\":\"https://c\",\"exp\":9223372036854775807,\"accessToken\":\"t\",\"other\":{\"x\":[1]}}", CAS_OK, NULL},
        {"{\"accessToken\":\"t\",\"exp\":9223372036854775808,\"casUrl\":\"https://c\"}", CAS_E_JSON_NUMBER, "exp"},
        {"{\"accessToken\":\"t\",\"exp\":-1,\"casUrl\":\"https://c\"}", CAS_E_JSON_NUMBER, "exp"},
        {"{\"accessToken\":\"t\",\"exp\":1.5,\"casUrl\":\"https://c\"}", CAS_E_JSON_NUMBER, "exp"},
        {"{\"accessToken\":\"t\",\"exp\":\"1\",\"casUrl\":\"https://c\"}", CAS_E_JSON_SCHEMA, "exp: expected a number"},
        {"{\"accessToken\":\"t\",\"casUrl\":\"https://c\"}", CAS_E_JSON_SCHEMA, "exp: required"},
        {"{\"exp\":1,\"casUrl\":\"https://c\"}", CAS_E_JSON_SCHEMA, "accessToken: required"},
        {"{\"accessToken\":\"t\",\"exp\":1}", CAS_E_JSON_SCHEMA, "casUrl: required"},
        {"{\"accessToken\":\"t\",\"exp\":1,\"casUrl\":\"https://c\",\"exp\":2}", CAS_E_JSON_SCHEMA, "exp: duplicate"},
        {"{\"accessToken\":\"\",\"exp\":1,\"casUrl\":\"https://c\"}", CAS_E_JSON_VALUE, "accessToken"},
        {"{\"accessToken\":\"a b\",\"exp\":1,\"casUrl\":\"https://c\"}", CAS_E_JSON_VALUE, "accessToken"},
        {"{\"accessToken\":\"a\\r\\nX: y\",\"exp\":1,\"casUrl\":\"https://c\"}", CAS_E_JSON_VALUE, "accessToken"},
        {"{\"accessToken\":null,\"exp\":1,\"casUrl\":\"https://c\"}", CAS_E_JSON_SCHEMA, "accessToken: expected a string"},
        {"{\"accessToken\":\"t\",\"exp\":1,\"casUrl\":\"cas-server\"}", CAS_E_JSON_VALUE, "casUrl"},
        {"{\"accessToken\":\"t\",\"exp\":1,\"casUrl\":\"\"}", CAS_E_JSON_VALUE, "casUrl"},
        {"[]", CAS_E_JSON_SCHEMA, "not a JSON object"},
        {"{\"accessToken\":\"t\",\"exp\":1,\"casUrl\":\"https://c\"", CAS_E_TRUNCATED, NULL},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        cas_xet_token t;
        cas_error e;
        int rc = cas_xet_token_parse(NULL, c[i].s, strlen(c[i].s), NULL, &t, &e);
        CHECKM(rc == c[i].rc, c[i].s);
        if (c[i].what) CHECKM(strstr(e.what, c[i].what), c[i].s);
        if (rc == CAS_OK) CHECK(t.access_token && t.cas_url && t.access_token[t.access_token_len] == 0);
        else CHECK(t.access_token == NULL && t.priv_block == NULL);
        cas_xet_token_free(&t);
    }
    {   /* tokens up to max_token (64000 by default), longer than max_string */
        t_buf b = {0, 0, 0};
        cas_xet_token t;
        cas_error e;
        cas_json_desc o;
        tb_str(&b, "{\"exp\":1,\"casUrl\":\"https://c\",\"accessToken\":\"");
        tb_rep(&b, "x", CAS_JSON_MAX_TOKEN);
        tb_str(&b, "\"}");
        CHECK(cas_xet_token_parse(NULL, b.p, b.n, NULL, &t, &e) == CAS_OK && t.access_token_len == CAS_JSON_MAX_TOKEN);
        cas_xet_token_free(&t);
        b.n = 0;
        tb_str(&b, "{\"exp\":1,\"casUrl\":\"https://c\",\"accessToken\":\"");
        tb_rep(&b, "x", CAS_JSON_MAX_TOKEN + 1);
        tb_str(&b, "\"}");
        CHECK(cas_xet_token_parse(NULL, b.p, b.n, NULL, &t, &e) == CAS_E_JSON_LIMIT);
        memset(&o, 0, sizeof o);
        o.max_token = 10;
        CHECK(cas_xet_token_parse(NULL, "{\"exp\":1,\"casUrl\":\"https://c\",\"accessToken\":\"0123456789\"}", 57, &o, &t, &e) == CAS_OK);
        cas_xet_token_free(&t);
        CHECK(cas_xet_token_parse(NULL, "{\"exp\":1,\"casUrl\":\"https://c\",\"accessToken\":\"0123456789a\"}", 58, &o, &t, &e) == CAS_E_JSON_LIMIT &&
              strstr(e.what, "accessToken"));
        free(b.p);
    }
}

/* ---- zstd bodies ---- */
#ifdef __wasi__ /* WASI has no processes: the zstd CLI cases are skipped */
#define system(cmd) ((void)(cmd), -1)
#endif
static int have_zstd_cli(void) { return system("zstd --version >/dev/null 2>&1") == 0; }

/* Compresses data with the zstd CLI and `args`; returns the frame (malloc'd) or NULL. */
static uint8_t *zstd_cli(const void *data, size_t n, const char *args, size_t *out_len) {
    char cmd[512];
    FILE *f = fopen("/tmp/cas_test_json.in", "wb");
    uint8_t *buf = NULL;
    long m;
    if (!f) return NULL;
    fwrite(data, 1, n, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "zstd -q -f %s /tmp/cas_test_json.in -o /tmp/cas_test_json.zst", args);
    if (system(cmd) != 0) return NULL;
    f = fopen("/tmp/cas_test_json.zst", "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    m = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (uint8_t *)malloc((size_t)m + 1);
    if (buf && fread(buf, 1, (size_t)m, f) != (size_t)m) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *out_len = (size_t)m;
    return buf;
}

static int same_recon(const cas_recon *a, const cas_recon *b) {
    size_t i, j, k;
    if (a->num_terms != b->num_terms || a->num_xorbs != b->num_xorbs || a->offset_into_first_range != b->offset_into_first_range)
        return 0;
    for (i = 0; i < a->num_terms; i++) {
        const cas_recon_term *x = &a->terms[i], *y = &b->terms[i];
        if (!cas_hash_equal(&x->hash, &y->hash) || x->chunk_start != y->chunk_start || x->chunk_end != y->chunk_end ||
            x->unpacked_length != y->unpacked_length || x->xorb != y->xorb || x->fetch != y->fetch || x->range != y->range)
            return 0;
    }
    for (i = 0; i < a->num_xorbs; i++) {
        const cas_recon_xorb *x = &a->xorbs[i], *y = &b->xorbs[i];
        if (!cas_hash_equal(&x->hash, &y->hash) || x->num_fetches != y->num_fetches) return 0;
        for (j = 0; j < x->num_fetches; j++) {
            if (strcmp(x->fetches[j].url, y->fetches[j].url) || x->fetches[j].num_ranges != y->fetches[j].num_ranges) return 0;
            for (k = 0; k < x->fetches[j].num_ranges; k++)
                if (memcmp(&x->fetches[j].ranges[k], &y->fetches[j].ranges[k], sizeof(cas_recon_range))) return 0;
        }
    }
    return 1;
}

static void test_zstd(void) {
    size_t len, zlen;
    char *doc = read_file("recon_v2_oracle.json", &len);
    uint8_t *z = (uint8_t *)read_file("recon_v2_oracle.json.zst", &zlen);
    cas_recon plain, r;
    cas_error e;
    cas_json_desc o;
    t_counting ta;
    cas_allocator al;
    CHECK(doc && z);
    if (!doc || !z) return;
#ifdef CAS_NO_ZSTD
    CHECK(cas_recon_parse(NULL, z, zlen, 2, NULL, &r, &e) == CAS_E_UNSUPPORTED);
    free(doc);
    free(z);
    return;
#endif
    CHECK(cas_recon_parse(NULL, doc, len, 2, NULL, &plain, NULL) == CAS_OK);
    /* the committed frame (zstd -19 --check) */
    CHECK(cas_zstd_is_frame(z, zlen));
    CHECK(cas_recon_parse(NULL, z, zlen, 2, NULL, &r, &e) == CAS_OK && same_recon(&plain, &r));
    cas_recon_free(&r);
    /* allocation: output buffer from 64 KiB; the decompressed text freed before returning */
    al = t_counting_allocator(&ta, -1);
    CHECK(cas_recon_parse(&al, z, zlen, 2, NULL, &r, &e) == CAS_OK && ta.live == 1);
    cas_recon_free(&r);
    CHECK(ta.live == 0);
    /* truncated frame, corrupt frame */
    CHECK(cas_recon_parse(NULL, z, zlen - 1, 2, NULL, &r, &e) == CAS_E_ZSTD);
    CHECK(cas_recon_parse(NULL, z, 6, 2, NULL, &r, &e) == CAS_E_ZSTD);
    z[zlen / 2] ^= 0x55;
    {
        int rc = cas_recon_parse(NULL, z, zlen, 2, NULL, &r, &e);
        CHECK(rc == CAS_E_ZSTD || rc < 0); /* the checksum catches most; JSON errors the rest */
        cas_recon_free(&r);
    }
    z[zlen / 2] ^= 0x55;
    /* max_body applies to the decompressed text: exactly, and one byte less */
    memset(&o, 0, sizeof o);
    o.max_body = len;
    CHECK(cas_recon_parse(NULL, z, zlen, 2, &o, &r, &e) == CAS_OK);
    cas_recon_free(&r);
    o.max_body = len - 1;
    CHECK(cas_recon_parse(NULL, z, zlen, 2, &o, &r, &e) == CAS_E_JSON_LIMIT && e.offset == len - 1);
    /* gzip is refused with its own message */
    CHECK(cas_recon_parse(NULL, "\x1f\x8b\x08\x00", 4, 2, NULL, &r, &e) == CAS_E_UNSUPPORTED && strstr(e.what, "gzip"));
    free(z);

    if (!have_zstd_cli()) {
        fprintf(stderr, "note: no zstd CLI: generated zstd cases skipped\n");
    } else {
        static const char *args[] = {"-1", "-19 --check", "--ultra -22", "--no-check -3", "-1 --no-content-size"};
        size_t i;
        for (i = 0; i < sizeof args / sizeof args[0]; i++) {
            z = zstd_cli(doc, len, args[i], &zlen);
            CHECKM(z != NULL, args[i]);
            if (!z) continue;
            CHECKM(cas_recon_parse(NULL, z, zlen, 2, NULL, &r, &e) == CAS_OK && same_recon(&plain, &r), args[i]);
            cas_recon_free(&r);
            free(z);
        }
        /* two frames (stdin piping concatenates): the text is their concatenation */
        {
            uint8_t *z1, *z2, *zz;
            size_t l1, l2;
            size_t half = len / 2;
            z1 = zstd_cli(doc, half, "-3", &l1);
            z2 = zstd_cli(doc + half, len - half, "-3", &l2);
            zz = (uint8_t *)malloc(l1 + l2);
            if (z1 && z2 && zz) {
                memcpy(zz, z1, l1);
                memcpy(zz + l1, z2, l2);
                CHECK(cas_recon_parse(NULL, zz, l1 + l2, 2, NULL, &r, &e) == CAS_OK && same_recon(&plain, &r));
                cas_recon_free(&r);
            }
            free(z1);
            free(z2);
            free(zz);
        }
        /* bombs: 70 MiB of whitespace before a manifest. The output buffer grows only as the
           decoder produces output, is refused at max_body + 1, and never exceeds it. */
        {
            size_t big = (size_t)70 << 20, k;
            char *w = (char *)malloc(big + len);
            if (w) {
                memset(w, ' ', big);
                memcpy(w + big, doc, len);
                z = zstd_cli(w, big + len, "-19", &zlen);
                CHECK(z && zlen < 100000);
                if (z) {
                    al = t_counting_allocator(&ta, -1);
                    CHECK(cas_recon_parse(&al, z, zlen, 2, NULL, &r, &e) == CAS_E_JSON_LIMIT && e.offset == CAS_JSON_MAX_BODY);
                    CHECK(ta.live == 0 && ta.max_single <= CAS_JSON_MAX_BODY + 1 + 64);
                    memset(&o, 0, sizeof o);
                    o.max_body = 1 << 20;
                    al = t_counting_allocator(&ta, -1);
                    CHECK(cas_recon_parse(&al, z, zlen, 2, &o, &r, &e) == CAS_E_JSON_LIMIT && e.offset == (1u << 20));
                    /* decoder state (window 8 MiB at most) aside, the text buffer stays <= 1 MiB + 1 */
                    CHECK(ta.live == 0 && ta.peak < (10u << 20));
                    o.max_body = (uint64_t)big + len; /* allowed: parses (whitespace is JSON) */
                    CHECK(cas_recon_parse(NULL, z, zlen, 2, &o, &r, &e) == CAS_OK && same_recon(&plain, &r));
                    cas_recon_free(&r);
                    free(z);
                }
                /* a window over 8 MiB (long-distance mode) is refused by the decoder */
                for (k = 0; k < big; k++) w[k] = (char)(' ' + (k * 2654435761u >> 13) % 64);
                memcpy(w + big / 2, w, big / 2 - 1); /* a repeat 35 MiB back */
                z = zstd_cli(w, big + len, "-1 --long=27", &zlen);
                if (z) {
                    memset(&o, 0, sizeof o);
                    o.max_body = (uint64_t)1 << 30;
                    CHECK(cas_recon_parse(NULL, z, zlen, 2, &o, &r, &e) == CAS_E_ZSTD);
                    free(z);
                }
                free(w);
            }
        }
    }
    cas_recon_free(&plain);
    free(doc);
}

/* ---- allocation failure at every step, no leak, sizes passed back ---- */
static void nomem_loop(const char *name, const void *body, size_t len, int kind) {
    long n;
    int done = 0;
    for (n = 0; n < 200 && !done; n++) {
        t_counting ta;
        cas_allocator al = t_counting_allocator(&ta, n);
        cas_error e;
        int rc;
        if (kind == 0 || kind == 1 || kind == 2) {
            cas_recon r;
            rc = cas_recon_parse(&al, body, len, kind == 0 ? 2 : kind, NULL, &r, &e);
            if (rc == CAS_OK) {
                CHECKM(ta.live == (r.priv_block != NULL), name); /* one block, or none for an empty result */
                cas_recon_free(&r);
            }
        } else if (kind == 3) {
            cas_recon_batch b;
            rc = cas_recon_batch_parse(&al, body, len, NULL, &b, &e);
            if (rc == CAS_OK) cas_recon_batch_free(&b);
        } else {
            cas_xet_token t;
            rc = cas_xet_token_parse(&al, body, len, NULL, &t, &e);
            if (rc == CAS_OK) cas_xet_token_free(&t);
        }
        CHECKM(ta.live == 0, name);
        if (rc == CAS_OK) {
            CHECKM(ta.n <= n, name); /* every allocation before this one was failed once */
            done = 1;
        } else {
            CHECKM(rc == CAS_E_NOMEM && e.code == CAS_E_NOMEM, name);
            if (rc != CAS_E_NOMEM) fprintf(stderr, "  %s: allocation %ld failed: %s (%s)\n", name, n, cas_result_name(rc), e.what);
        }
    }
    CHECKM(done, name);
}

static void test_nomem(void) {
    size_t len, zlen;
    char *doc = read_file("recon_v2_oracle.json", &len);
    char *z = read_file("recon_v2_oracle.json.zst", &zlen);
    if (doc) nomem_loop("v2", doc, len, 0);
#ifndef CAS_NO_ZSTD
    if (z) nomem_loop("v2 zstd", z, zlen, 0);
#endif
    nomem_loop("v1", "{\"offset_into_first_range\":0,\"terms\":[{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":1}}],"
               "\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"https://x\",\"url_range\":{\"start\":0,\"end\":99}}]}}",
               strlen("{\"offset_into_first_range\":0,\"terms\":[{\"hash\":\"" H1 "\",\"unpacked_length\":100,\"range\":{\"start\":0,\"end\":1}}],"
                      "\"fetch_info\":{\"" H1 "\":[{\"range\":{\"start\":0,\"end\":1},\"url\":\"https://x\",\"url_range\":{\"start\":0,\"end\":99}}]}}"),
               1);
    nomem_loop("empty", "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}}", strlen("{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{}}"), 0);
    nomem_loop("batch", "{\"files\":{\"" H1 "\":[]},\"fetch_info\":{}}", strlen("{\"files\":{\"" H1 "\":[]},\"fetch_info\":{}}"), 3);
    nomem_loop("token", "{\"accessToken\":\"t\",\"exp\":1,\"casUrl\":\"https://c\"}", strlen("{\"accessToken\":\"t\",\"exp\":1,\"casUrl\":\"https://c\"}"), 4);
    free(doc);
    free(z);
}

/* Memory follows what was parsed: a body of N bytes never needs more than a small multiple. */
static void test_memory_bound(void) {
    size_t len;
    char *doc = read_file("recon_v2_oracle.json", &len);
    t_counting ta;
    cas_allocator al = t_counting_allocator(&ta, -1);
    cas_recon r;
    t_buf b = {0, 0, 0};
    int k;
    if (doc) {
        CHECK(cas_recon_parse(&al, doc, len, 2, NULL, &r, NULL) == CAS_OK);
        /* the result block + the coverage scratch + the xorb map's sorting room */
        CHECK_MSG(ta.peak <= 2 * len + 4096 && ta.n == 3, "peak %zu for %zu bytes, %ld allocations", (size_t)ta.peak, len, ta.n);
        cas_recon_free(&r);
    }
    /* 100000 empty xorb entries: result memory is proportional to them, not to any claim */
    tb_str(&b, "{\"offset_into_first_range\":0,\"terms\":[],\"xorbs\":{");
    for (k = 0; k < 100000; k++) {
        char key[80];
        snprintf(key, sizeof key, "%s\"%064x\":[]", k ? "," : "", (unsigned)k);
        tb_str(&b, key);
    }
    tb_str(&b, "}}");
    al = t_counting_allocator(&ta, -1);
    CHECK(cas_recon_parse(&al, b.p, b.n, 2, NULL, &r, NULL) == CAS_OK && r.num_xorbs == 100000);
    /* the result block and, while the map is sorted, as much again */
    CHECK_MSG(ta.peak <= 2 * b.n + 4096, "peak %zu for %zu bytes", (size_t)ta.peak, b.n);
    cas_recon_free(&r);
    free(b.p);
    free(doc);
}

int main(int argc, char **argv) {
    if (argc > 1) g_dir = argv[1];
    test_reader_accept();
    test_reader_reject();
    test_depth();
    test_suite_classes();
    test_limits();
    test_helpers();
    test_vectors();
    test_v2_rules();
    test_offsets();
    test_duplicates();
    test_coverage();
    test_v1();
    test_batch();
    test_token();
    test_zstd();
    test_nomem();
    test_memory_bound();
    printf("test_json: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail != 0;
}
