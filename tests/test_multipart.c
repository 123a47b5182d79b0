/* Tests of the multipart/byteranges reader of cas.h.
     cc -std=c99 -Wall -Wextra -Werror -O2 -I/work/mpdev test_multipart.c -o test_multipart
     clang -std=c99 -g -fsanitize=address,undefined -I/work/mpdev test_multipart.c
   Every body is read whole, in 1-byte pushes and in random pieces, and the three must agree
   (events, bytes, result, error offset and text); every prefix of the valid bodies must end
   in CAS_E_TRUNCATED; each rule is tested at its limit and one past it. */
#define CAS_IMPLEMENTATION
#include "testlib.h"


/* ---- text builder ---- */

/* ---- the driver ---- */

static uint32_t g_rng = 12345;
static uint32_t rnd(void) {
    g_rng = g_rng * 1103515245u + 12345u;
    return g_rng >> 8;
}

typedef struct {
    int rc;          /* push's error, or finish's result (CAS_OK: closed) */
    int ended;       /* push returned CAS_END */
    cas_error err;
    char what[256];
    t_buf log;       /* "P<part> first-last/total\n" then the part's bytes, ... */
    int bad_event;   /* an event broke an invariant */
} t_run;

/* mode 0: one push; 1: 1-byte pushes; 2: random pieces. Each piece is copied into its own
   exact-size heap block, so ASan sees any read outside it and DATA must point into it. */
static void run(const char *ct, const void *body, size_t len, uint32_t max_parts, int mode,
                t_run *r) {
    cas_multipart m;
    cas_multipart_event ev;
    const uint8_t *p = (const uint8_t *)body;
    size_t off = 0;
    uint64_t next = 0; /* expected offset of the next DATA event */
    uint32_t part = 0;
    int rc = 0, started = 0;
    memset(r, 0, sizeof *r);
    rc = cas_multipart_init(&m, ct, strlen(ct), max_parts, &r->err);
    while (rc == CAS_OK && off < len) {
        size_t n = len - off, used, pos = 0;
        uint8_t *piece;
        if (mode == 1) n = 1;
        if (mode == 2) n = rnd() % 4 == 0 ? 1 + rnd() % 200 : 1 + rnd() % 9;
        if (n > len - off) n = len - off;
        piece = (uint8_t *)malloc(n ? n : 1);
        if (!piece) abort();
        memcpy(piece, p + off, n);
        for (;;) {
            rc = cas_multipart_push(&m, piece + pos, n - pos, &used, &ev);
            if (used > n - pos) r->bad_event = 1;
            pos += used;
            if (rc != CAS_READY) break;
            if (ev.type == CAS_MULTIPART_PART) {
                if ((started && ev.part != part + 1) || (!started && ev.part != 0)) r->bad_event = 1;
                if (ev.offset != ev.first || ev.data || ev.len) r->bad_event = 1;
                part = ev.part;
                started = 1;
                next = ev.first;
                tb_str(&r->log, "P");
                tb_u64(&r->log, ev.part);
                tb_str(&r->log, " ");
                tb_u64(&r->log, ev.first);
                tb_str(&r->log, "-");
                tb_u64(&r->log, ev.last);
                tb_str(&r->log, "/");
                if (ev.total == UINT64_MAX)
                    tb_str(&r->log, "*");
                else
                    tb_u64(&r->log, ev.total);
                tb_str(&r->log, "\n");
            } else if (ev.type == CAS_MULTIPART_DATA) {
                /* zero copy: inside the piece, just before what was consumed */
                if (!started || ev.part != part || ev.len == 0 || ev.offset != next ||
                    ev.data < piece || ev.data + ev.len != piece + pos || ev.offset + ev.len - 1 > ev.last)
                    r->bad_event = 1;
                next += ev.len;
                tb_put(&r->log, ev.data, ev.len);
            } else {
                r->bad_event = 1;
            }
        }
        free(piece);
        if (rc == CAS_END) {
            if (pos != n) r->bad_event = 1; /* the epilogue is consumed */
            r->ended = 1;
            /* later pushes are ignored */
            rc = cas_multipart_push(&m, "x", 1, &used, &ev);
            if (rc != CAS_END || used != 1) r->bad_event = 1;
            rc = 0;
            break;
        }
        if (rc == CAS_NEED_INPUT) {
            if (pos != n) r->bad_event = 1;
            rc = 0;
        }
        off += n;
    }
    if (rc == CAS_OK) {
        rc = cas_multipart_finish(&m, &r->err);
        if ((rc == CAS_OK) != r->ended) r->bad_event = 1;
    } else {
        int again;
        size_t used;
        r->err = m.error;
        again = cas_multipart_push(&m, "--", 2, &used, &ev); /* sticky */
        if (again != rc || cas_multipart_finish(&m, NULL) != rc) r->bad_event = 1;
    }
    r->rc = rc;
    if (rc != r->err.code) r->bad_event = 1;
    snprintf(r->what, sizeof r->what, "%s", r->err.what);
}

static int g_verbose;

/* Runs all three modes; checks they agree and that events were sane. The one-shot result in
   *out (its log freed by the caller). Returns its rc. */
static int check_all(const char *name, const char *ct, const void *body, size_t len,
                     uint32_t max_parts, t_run *out) {
    t_run a, b, c;
    run(ct, body, len, max_parts, 0, &a);
    run(ct, body, len, max_parts, 1, &b);
    run(ct, body, len, max_parts, 2, &c);
    CHECKM(!a.bad_event && !b.bad_event && !c.bad_event, name);
    CHECKM(a.rc == b.rc && a.rc == c.rc, name);
    CHECKM(a.err.offset == b.err.offset && a.err.offset == c.err.offset, name);
    CHECKM(strcmp(a.what, b.what) == 0 && strcmp(a.what, c.what) == 0, name);
    CHECKM(a.log.n == b.log.n && a.log.n == c.log.n && (a.log.n == 0 || (memcmp(a.log.p, b.log.p, a.log.n) == 0 &&
                                                                       memcmp(a.log.p, c.log.p, a.log.n) == 0)),
           name);
    if (g_verbose) printf("%-40s rc %d at %llu: %s\n", name, a.rc, (unsigned long long)a.err.offset, a.what);
    tb_free(&b.log);
    tb_free(&c.log);
    if (out)
        *out = a;
    else
        tb_free(&a.log);
    return a.rc;
}
static int chk(const char *name, const char *ct, const char *body) {
    return check_all(name, ct, body, strlen(body), 0, NULL);
}
/* rc, error offset and a substring of the detail */
static void expect(const char *name, const char *ct, const void *body, size_t len, uint32_t max_parts,
                   int rc, uint64_t offset, const char *what_has) {
    t_run r;
    int got = check_all(name, ct, body, len, max_parts, &r);
    CHECKM(got == rc, name);
    if (got != rc) fprintf(stderr, "   got %s (%s) at %llu\n", cas_result_name(got), r.what, (unsigned long long)r.err.offset);
    if (rc != CAS_OK) {
        CHECKM(r.err.offset == offset, name);
        if (r.err.offset != offset) fprintf(stderr, "   offset %llu, want %llu (%s)\n", (unsigned long long)r.err.offset, (unsigned long long)offset, r.what);
        CHECKM(strstr(r.what, what_has) != NULL, name);
        if (!strstr(r.what, what_has)) fprintf(stderr, "   what: %s\n", r.what);
    }
    tb_free(&r.log);
}
static void expects(const char *name, const char *ct, const char *body, int rc, uint64_t offset,
                    const char *what_has) {
    expect(name, ct, body, strlen(body), 0, rc, offset, what_has);
}
static size_t at(const char *body, const char *needle) { /* offset of needle in body */
    const char *p = strstr(body, needle);
    if (!p) abort();
    return (size_t)(p - body);
}

#define CT "multipart/byteranges; boundary=THIS_STRING_SEPARATES"
#define B "THIS_STRING_SEPARATES"
#define PART(range, data) "\r\n--" B "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " range "\r\n\r\n" data
#define CLOSE "\r\n--" B "--\r\n"

/* ---- valid bodies ---- */

static const char *k_valid[] = {
    /* preamble, two parts, epilogue */
    "preamble text\r\nmore" PART("0-4/10", "hello") PART("6-8/10", "abc") CLOSE "epilogue",
    /* CRLF-less first delimiter, no epilogue, no CRLF after the close */
    "--" B "\r\nContent-Range: bytes 0-0/1\r\n\r\nX\r\n--" B "--",
    /* total "*", header names in odd case, whitespace around the value, padding */
    "--" B " \t \r\ncontent-RANGE:\t  bytes 3-5/*  \r\nX-Other: a:b:c\r\n\r\nabc\r\n--" B "--",
    /* "BYTES", a body that contains CRLF--boundary itself (lengths rule) */
    "--" B "\r\nContent-Range: BYTES 0-26/100\r\n\r\n\r\n--" B "--\r\n--" B "--",
    /* the largest numbers */
    "--" B "\r\nContent-Range: bytes 18446744073709551612-18446744073709551613/18446744073709551614\r\n\r\nAB" CLOSE,
    /* leading zeros, 20 digits */
    "--" B "\r\nContent-Range: bytes 00000000000000000001-00000000000000000002/3\r\n\r\nAB" CLOSE,
    /* no headers but Content-Range, binary data with CR, LF, '-' */
    PART("0-7/8", "\r\n--\r\r\n-") CLOSE,
    /* three parts */
    PART("0-0/3", "a") PART("1-1/3", "b") PART("2-2/3", "c") CLOSE,
};

static void test_valid(void) {
    size_t i;
    t_run r;
    for (i = 0; i < sizeof k_valid / sizeof k_valid[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "valid[%zu]", i);
        CHECKM(check_all(name, CT, k_valid[i], strlen(k_valid[i]), 0, NULL) == CAS_OK, name);
    }
    /* the events in full */
    check_all("log0", CT, k_valid[0], strlen(k_valid[0]), 0, &r);
    CHECK(r.rc == CAS_OK && strcmp(r.log.p, "P0 0-4/10\nhelloP1 6-8/10\nabc") == 0);
    tb_free(&r.log);
    check_all("log2", CT, k_valid[2], strlen(k_valid[2]), 0, &r);
    CHECK(r.rc == CAS_OK && strcmp(r.log.p, "P0 3-5/*\nabc") == 0);
    tb_free(&r.log);
    check_all("log3", CT, k_valid[3], strlen(k_valid[3]), 0, &r);
    CHECK(r.rc == CAS_OK && r.log.n == 12 + 27 && memcmp(r.log.p, "P0 0-26/100\n\r\n--" B "--", 39) == 0);
    tb_free(&r.log);
    check_all("log4", CT, k_valid[4], strlen(k_valid[4]), 0, &r);
    CHECK(r.rc == CAS_OK &&
          strcmp(r.log.p, "P0 18446744073709551612-18446744073709551613/18446744073709551614\nAB") == 0);
    tb_free(&r.log);
    /* the RFC's example (its 500 bytes), closed */
    {
        t_buf b = {NULL, 0, 0};
        /* the RFC 7233 §4.1 example's shape */
        tb_str(&b, "--" B "\r\nContent-Type: application/pdf\r\nContent-Range: bytes 500-999/8000\r\n\r\n");
        tb_str(&b, "...the first range");
        tb_fill(&b, '.', 500 - 18);
        tb_str(&b, "\r\n--" B "\r\nContent-Type: application/pdf\r\nContent-Range: bytes 7000-7999/8000\r\n\r\n");
        tb_fill(&b, '.', 1000);
        tb_str(&b, CLOSE);
        check_all("rfc", CT, b.p, b.n, 2, &r);
        CHECK(r.rc == CAS_OK && strncmp(r.log.p, "P0 500-999/8000\n...the first range", 34) == 0);
        tb_free(&r.log);
        tb_free(&b);
    }
}

/* Every prefix of every valid body: CAS_E_TRUNCATED from finish, never a false end. */
static void test_truncation(void) {
    size_t i, k;
    for (i = 0; i < sizeof k_valid / sizeof k_valid[0]; i++) {
        const char *s = k_valid[i];
        /* the end of the close: the last "--B--" in the body */
        const char *c = s, *q;
        size_t close_end;
        while ((q = strstr(c, "--" B "--")) != NULL) c = q + 1;
        close_end = (size_t)(c - 1 - s) + strlen("--" B "--");
        for (k = 0; k <= strlen(s); k++) {
            t_run r;
            char name[48];
            snprintf(name, sizeof name, "valid[%zu] cut at %zu", i, k);
            check_all(name, CT, s, k, 0, &r);
            if (k < close_end) {
                CHECKM(r.rc == CAS_E_TRUNCATED && !r.ended && r.err.offset == k, name);
            } else {
                CHECKM(r.rc == CAS_OK && r.ended, name);
            }
            tb_free(&r.log);
        }
    }
}

/* ---- Content-Type ---- */

static int ct_rc(const char *ct, cas_error *e) {
    cas_multipart m;
    return cas_multipart_init(&m, ct, strlen(ct), 0, e);
}

static void test_content_type(void) {
    static const char *ok[] = {
        "multipart/byteranges; boundary=abc",
        "MULTIPART/BYTERANGES; BOUNDARY=abc",
        "Multipart/ByteRanges;boundary=abc",
        "  multipart/byteranges  ;  boundary  =  abc  ",
        "multipart/byteranges; charset=utf-8; boundary=abc; x=\"y;z\"",
        "multipart/byteranges; boundary=\"abc\"",
        "multipart/byteranges; boundary=\"a\\bc\"",
        "multipart/byteranges;; boundary=abc;",
        "multipart/byteranges; boundary=\"a b()+_,-./:=?'\"",
        "multipart/byteranges; boundary=0123456789012345678901234567890123456789012345678901234567890123456789",
        "multipart/byteranges; boundary=\"0123456789012345678901234567890123456789012345678901234567890123456 89\"",
    };
    static const struct {
        const char *ct, *what;
        uint64_t offset;
    } bad[] = {
        {"multipart/mixed; boundary=abc", "not multipart/byteranges", 0},
        {"multipart/byteranges", "no boundary", 20},
        {"multipart/byteranges; charset=x", "no boundary", 31},
        {"text/plain; boundary=abc", "not multipart/byteranges", 0},
        {"multipart byteranges; boundary=abc", "type/subtype", 9},
        {"", "type/subtype", 0},
        {"multipart/byteranges; boundary=", "no value", 31},
        {"multipart/byteranges; boundary=\"\"", "empty", 32},
        {"multipart/byteranges; boundary=abc; boundary=abc", "twice", 36},
        {"multipart/byteranges; boundary=\"abc", "closing quote", 35},
        {"multipart/byteranges; boundary=\"abc\\", "closing quote", 36},
        {"multipart/byteranges; boundary=\"a\rb\"", "control character", 33},
        {"multipart/byteranges; boundary=a!b", "bchars", 32},
        {"multipart/byteranges; boundary=\"ab \"", "ends in a space", 34},
        {"multipart/byteranges; boundary=\"a\xc3\xa9\"", "bchars", 33},
        {"multipart/byteranges; boundary=abc x", "other than ';'", 35},
        {"multipart/byteranges; =abc", "no name", 22},
        {"multipart/byteranges; boundary abc", "no '='", 31},
        {"multipart/byteranges boundary=abc", "other than ';'", 21},
        {"multipart/byteranges; boundary=01234567890123456789012345678901234567890123456789012345678901234567890",
         "over 70", 31},
        {"multipart/byteranges; boundary=\"01234567890123456789012345678901234567890123456789012345678901234567890\"",
         "over 70", 32},
    };
    size_t i;
    cas_error e;
    cas_multipart m;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) CHECKM(ct_rc(ok[i], &e) == CAS_OK && e.code == 0 && !e.what[0], ok[i]);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ct_rc(bad[i].ct, &e);
        CHECKM(rc == CAS_E_MULTIPART && e.code == rc && strstr(e.what, bad[i].what) && e.offset == bad[i].offset,
               bad[i].ct);
        if (rc != CAS_E_MULTIPART || !strstr(e.what, bad[i].what) || e.offset != bad[i].offset)
            fprintf(stderr, "   %s at %llu\n", e.what, (unsigned long long)e.offset);
    }
    /* the length is honoured (not NUL-terminated) */
    CHECK(cas_multipart_init(&m, "multipart/byteranges; boundary=abcXXX", 34, 0, &e) == CAS_OK &&
          m.priv_dlen == 7);
    CHECK(cas_multipart_init(&m, "multipart/byteranges; boundary=ab\0c", 35, 0, &e) == CAS_E_MULTIPART);
    CHECK(cas_multipart_init(&m, NULL, 0, 0, &e) == CAS_E_ARGUMENT);
    CHECK(cas_multipart_init(NULL, "x", 1, 0, &e) == CAS_E_ARGUMENT);
    CHECK(cas_multipart_init(&m, "multipart/byteranges; boundary=\"abc", 35, 0, NULL) == CAS_E_MULTIPART);

    /* the quoted boundary with spaces is the one used */
    CHECK(chk("quoted", "multipart/byteranges; boundary=\"a b\"",
              "--a b\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--a b--") == CAS_OK);
    CHECK(chk("upper", "MULTIPART/BYTERANGES; BOUNDARY=\"a b\"",
              "--a b\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--a b--") == CAS_OK);
    CHECK(chk("escaped", "multipart/byteranges; boundary=\"a\\b\"",
              "--ab\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--ab--") == CAS_OK);
    /* the boundary is case-sensitive */
    CHECK(chk("case", "multipart/byteranges; boundary=ab", "--AB\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--ab--") ==
          CAS_E_MULTIPART);
    /* 70 characters: a whole body with it */
    {
        t_buf ct = {NULL, 0, 0}, b = {NULL, 0, 0};
        tb_str(&ct, "multipart/byteranges; boundary=");
        tb_fill(&ct, 'q', 70);
        tb_str(&b, "--");
        tb_fill(&b, 'q', 70);
        tb_str(&b, "\r\nContent-Range: bytes 0-2/3\r\n\r\nabc\r\n--");
        tb_fill(&b, 'q', 70);
        tb_str(&b, "--");
        CHECK(check_all("b70", ct.p, b.p, b.n, 0, NULL) == CAS_OK);
        /* a boundary line with 71 'q's: the 71st follows the boundary */
        b.n = 0;
        tb_str(&b, "--");
        tb_fill(&b, 'q', 71);
        tb_str(&b, "\r\n");
        expect("b70+1", ct.p, b.p, b.n, 0, CAS_E_MULTIPART, 72, "first delimiter: the boundary is followed by");
        tb_put(&ct, "q", 1);
        CHECK(ct_rc(ct.p, &e) == CAS_E_MULTIPART && strstr(e.what, "over 70"));
        tb_free(&ct);
        tb_free(&b);
    }
}

/* ---- structure ---- */

static void test_preamble(void) {
    t_buf b = {NULL, 0, 0};
    size_t k;
    /* 8192 bytes of preamble, then CRLF "--" boundary: at the limit */
    for (k = 0; k < 2; k++) {
        b.n = 0;
        tb_fill(&b, 'p', CAS_MULTIPART_MAX_PREAMBLE - 2 + k);
        tb_str(&b, "\r\n");
        tb_str(&b, PART("0-0/1", "x") CLOSE);
        if (k == 0)
            expect("preamble 8192", CT, b.p, b.n, 0, CAS_OK, 0, "");
        else
            expect("preamble 8193", CT, b.p, b.n, 0, CAS_E_LIMIT, 8193, "preamble");
    }
    /* preamble of exactly 8192 ending right before the delimiter's CR */
    b.n = 0;
    tb_fill(&b, 'p', CAS_MULTIPART_MAX_PREAMBLE);
    tb_str(&b, PART("0-0/1", "x") CLOSE);
    expect("preamble 8192b", CT, b.p, b.n, 0, CAS_OK, 0, "");
    /* a preamble of CRs and partial delimiters */
    b.n = 0;
    tb_str(&b, "\r\r\n\r\n-\r\n--\r\n--THIS\r\n--" B "\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE);
    expect("preamble partial", CT, b.p, b.n, 0, CAS_OK, 0, "");
    /* a body that never has a delimiter: the limit, not a hang */
    b.n = 0;
    tb_fill(&b, 'p', 100000);
    expect("no delimiter", CT, b.p, b.n, 0, CAS_E_LIMIT, 8192, "preamble");
    /* "--B" not at the start and not after CRLF is not a delimiter */
    expects("mid-line", CT, "x--" B "\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE, CAS_E_MULTIPART,
            strlen("x--" B "\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE) - 3, "before any part");
    tb_free(&b);
}

static void test_delimiters(void) {
    const char *s;
    /* transport padding, then CRLF */
    s = "--" B "\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--" B "  \r\nContent-Range: bytes 1-1/2\r\n\r\ny\r\n--" B "--";
    expects("padding2", CT, s, CAS_OK, 0, "");
    s = "--" B "x\r\n";
    expects("boundary+x", CT, s, CAS_E_MULTIPART, 23, "first delimiter: the boundary is followed by a byte");
    s = "--" B "-x";
    expects("boundary-x", CT, s, CAS_E_MULTIPART, 24, "lone '-'");
    s = "--" B " --";
    expects("pad then --", CT, s, CAS_E_MULTIPART, 24, "other than space");
    s = "--" B "\rx";
    expects("CR no LF", CT, s, CAS_E_MULTIPART, 24, "CR without LF after the boundary");
    s = "--" B "\n";
    expects("bare LF delim", CT, s, CAS_E_MULTIPART, 23, "other than space");
    s = "--" B "--";
    expects("zero parts", CT, s, CAS_E_MULTIPART, 24, "before any part");
    s = "pre\r\n--" B "--\r\n";
    expects("zero parts 2", CT, s, CAS_E_MULTIPART, 29, "before any part");
    s = "--" B "\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--" B "y\r\n";
    expects("after part x", CT, s, CAS_E_MULTIPART, at(s, "y\r\n"), "delimiter after part 0: the boundary is followed");
    /* padding limit */
    {
        t_buf b = {NULL, 0, 0};
        int k;
        for (k = 0; k < 2; k++) {
            b.n = 0;
            tb_str(&b, "--" B);
            tb_fill(&b, ' ', CAS_MULTIPART_MAX_HEADER + (size_t)k);
            tb_str(&b, "\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE);
            if (k == 0)
                expect("padding 8192", CT, b.p, b.n, 0, CAS_OK, 0, "");
            else
                expect("padding 8193", CT, b.p, b.n, 0, CAS_E_LIMIT, 23 + 8192, "padding");
        }
        tb_free(&b);
    }
    /* the epilogue is ignored, whatever it holds */
    s = PART("0-0/1", "x") "\r\n--" B "--garbage\r\n--" B "\r\nContent-Range: nonsense\r\n\r\n\x01\x02";
    expects("epilogue", CT, s, CAS_OK, 0, "");
}

static void test_headers(void) {
    t_buf b = {NULL, 0, 0};
    const char *s;
    int k;
    /* header block of exactly 8192 bytes (all lines + the empty line's CRLF), then 8193 */
    for (k = 0; k < 2; k++) {
        const char *cr = "Content-Range: bytes 0-0/1\r\n"; /* 28 */
        b.n = 0;
        tb_str(&b, "--" B "\r\n");
        tb_str(&b, cr);
        tb_str(&b, "X-Pad: ");
        tb_fill(&b, 'a', 8192 - 28 - 7 - 2 - 2 + (size_t)k);
        tb_str(&b, "\r\n\r\nx" CLOSE);
        if (k == 0)
            expect("header 8192", CT, b.p, b.n, 0, CAS_OK, 0, "");
        else
            expect("header 8193", CT, b.p, b.n, 0, CAS_E_LIMIT, 25 + 8192, "part 0: the header block is over 8192");
    }
    tb_free(&b);
    s = "--" B "\r\nContent-Range: bytes 0-0/1\nX: y\r\n\r\nx" CLOSE;
    expects("bare LF", CT, s, CAS_E_MULTIPART, at(s, "\nX: y"), "bare LF");
    s = "--" B "\r\nContent-Range: bytes 0-0/1\r\n\n";
    expects("bare LF name", CT, s, CAS_E_MULTIPART, at(s, "\r\n\n") + 2, "bare LF");
    s = "--" B "\r\nContent-Range: bytes 0-0/1\r\nX: y\rz\r\n\r\nx" CLOSE;
    expects("CR no LF", CT, s, CAS_E_MULTIPART, at(s, "z\r\n"), "CR without LF");
    s = "--" B "\r\nContent-Range: bytes 0-0/1\r\n\rx";
    expects("blank CR no LF", CT, s, CAS_E_MULTIPART, at(s, "\rx") + 1, "CR without LF");
    s = "--" B "\r\nX: y\r\n z\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE;
    expects("obs-fold", CT, s, CAS_E_MULTIPART, at(s, " z"), "obsolete line folding");
    s = "--" B "\r\n: y\r\n";
    expects("empty name", CT, s, CAS_E_MULTIPART, 25, "empty header name");
    s = "--" B "\r\nX Y: y\r\n";
    expects("space in name", CT, s, CAS_E_MULTIPART, 26, "token character");
    s = "--" B "\r\nContent-Range : bytes 0-0/1\r\n";
    expects("space before colon", CT, s, CAS_E_MULTIPART, 38, "token character");
    s = "--" B "\r\nXY\r\n";
    expects("no colon", CT, s, CAS_E_MULTIPART, 27, "no ':'");
    s = "--" B "\r\nX: a\x01" "b\r\n";
    expects("ctl", CT, s, CAS_E_MULTIPART, 29, "control character");
    s = "--" B "\r\nX: a\x7f" "b\r\n";
    expects("del", CT, s, CAS_E_MULTIPART, 29, "control character");
    s = "--" B "\r\nX: a\tb\xff\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE;
    expects("tab, obs-text", CT, s, CAS_OK, 0, "");
    s = "--" B "\r\nContent-Type: text/plain\r\n\r\nx" CLOSE;
    expects("no Content-Range", CT, s, CAS_E_MULTIPART, at(s, "\r\n\r\n") + 3, "part 0: no Content-Range");
    s = "--" B "\r\nContent-Range: bytes 0-0/1\r\ncontent-range: bytes 0-0/1\r\n\r\nx" CLOSE;
    expects("two Content-Range", CT, s, CAS_E_MULTIPART, at(s, "content-range:") + 13, "second Content-Range");
    /* names that are close to Content-Range */
    s = "--" B "\r\nContent-Ranges: bytes 0-0/1\r\nContent-Rang: x\r\nContent-Range: bytes 0-0/1\r\n\r\nx" CLOSE;
    expects("near names", CT, s, CAS_OK, 0, "");
}

static void test_content_range(void) {
    static const struct {
        const char *v, *what;
    } bad[] = {
        {"", "does not start with \"bytes \""},
        {"bytes", "does not start"},
        {"bytes=0-0/1", "does not start"},
        {"byte 0-0/1", "does not start"},
        {"bytes  0-0/1", "is not bytes"},
        {"bytes 0-0", "is not bytes"},
        {"bytes 0-0/", "is not bytes"},
        {"bytes -0/1", "is not bytes"},
        {"bytes 0-/1", "is not bytes"},
        {"bytes */1", "is not bytes"},
        {"bytes 0-0/1x", "is not bytes"},
        {"bytes 0-0/**", "is not bytes"},
        {"bytes +0-0/1", "is not bytes"},
        {"bytes 0 -0/1", "is not bytes"},
        {"bytes 0-0/1 /2", "is not bytes"},
        {"bytes 1-0/2", "first > last"},
        {"bytes 0-1/1", "last >= total"},
        {"bytes 5-9/5", "last >= total"},
        {"bytes 0-0/18446744073709551615", "total 2^64-1"},
        {"bytes 0-18446744073709551615/*", "2^64 bytes"},
        {"bytes 0-18446744073709551616/*", "over 20 digits or over 2^64-1"},
        {"bytes 0-0/18446744073709551616", "over 20 digits"},
        {"bytes 0-0/99999999999999999999", "over 20 digits"},
        {"bytes 0-0/000000000000000000001", "over 20 digits"},
        {"bytes 000000000000000000000-0/1", "over 20 digits"},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_buf b = {NULL, 0, 0};
        size_t vat;
        tb_str(&b, "--" B "\r\nContent-Range: ");
        vat = b.n;
        tb_str(&b, bad[i].v);
        tb_str(&b, "\r\n\r\nx" CLOSE);
        expect(bad[i].v, CT, b.p, b.n, 0, CAS_E_MULTIPART, vat, bad[i].what);
        tb_free(&b);
    }
    /* the longest valid value, whitespace around it, and the buffer limit */
    {
        t_buf b = {NULL, 0, 0};
        tb_str(&b, "--" B "\r\nContent-Range: \t bytes 18446744073709551612-18446744073709551613/18446744073709551614");
        tb_fill(&b, ' ', 96 - 68);
        tb_str(&b, "\r\n\r\nAB" CLOSE);
        expect("cr 96", CT, b.p, b.n, 0, CAS_OK, 0, "");
        b.n = 0;
        tb_str(&b, "--" B "\r\nContent-Range: bytes 18446744073709551612-18446744073709551613/18446744073709551614");
        tb_fill(&b, ' ', 96 - 68 + 1);
        tb_str(&b, "\r\n\r\nAB" CLOSE);
        expect("cr 97", CT, b.p, b.n, 0, CAS_E_MULTIPART, 40 + 96, "over 96 bytes");
        tb_free(&b);
    }
    /* a bad Content-Range in part 3: the error names part 3 and points at the value */
    {
        const char *s = PART("0-0/9", "a") PART("1-1/9", "b") PART("2-2/9", "c") "\r\n--" B
                        "\r\nContent-Type: x\r\nContent-Range: bytes 3-2/9\r\n\r\nd" CLOSE;
        t_run r;
        expects("part 3", CT, s, CAS_E_MULTIPART, at(s, "bytes 3-2/9"), "part 3: Content-Range \"bytes 3-2/9\" has first > last");
        check_all("part 3 events", CT, s, strlen(s), 0, &r);
        CHECK(strcmp(r.log.p, "P0 0-0/9\naP1 1-1/9\nbP2 2-2/9\nc") == 0);
        tb_free(&r.log);
    }
}

typedef struct {
    const char *name, *head;
    size_t len, fill;
    int close;
    const char *what;
} t_overrun;
static const t_overrun overruns[] = {
    {"long", PART("0-0/1000", "a") PART("1-1/1000", "b") PART("200-299/1000", ""), 100, 102, 1,
     "part 2: Content-Range 200-299/1000 has 100 bytes but the part body has 102"},
    {"much longer", PART("0-9/*", ""), 10, 100000, 1, "has 10 bytes but no delimiter follows them (nor any"},
    {"window edge", PART("0-9/*", ""), 10, 65521, 1, "has 10 bytes but the part body has 65521"},
    {"window edge+1", PART("0-9/*", ""), 10, 65522, 1, "has 10 bytes but no delimiter follows them (nor any"},
    {"ends looking", PART("0-9/*", ""), 10, 50, 0, "no delimiter follows them (the body ends 50 bytes"},
};

static void test_body_length(void) {
    t_buf b = {NULL, 0, 0};
    const char *s;
    size_t e, i;
    /* 98 bytes where 100 were announced: found, both counts named, offset = expected end */
    tb_str(&b, PART("0-99/1000", ""));
    e = b.n + 100;
    tb_fill(&b, 'd', 98);
    tb_str(&b, PART("100-199/1000", ""));
    tb_fill(&b, 'e', 100);
    tb_str(&b, CLOSE);
    expect("short", CT, b.p, b.n, 0, CAS_E_MULTIPART, e,
           "part 0: Content-Range 0-99/1000 has 100 bytes but the part body has 98");
    /* one short, one long */
    b.n = 0;
    tb_str(&b, PART("0-9/1000", "123456789") CLOSE);
    expect("short by 1", CT, b.p, b.n, 0, CAS_E_MULTIPART, b.n - strlen(CLOSE) + 1,
           "part 0: Content-Range 0-9/1000 has 10 bytes but the part body has 9");
    b.n = 0;
    tb_str(&b, PART("0-9/1000", "12345678901") CLOSE);
    expect("long by 1", CT, b.p, b.n, 0, CAS_E_MULTIPART, b.n - strlen(CLOSE) - 1,
           "part 0: Content-Range 0-9/1000 has 10 bytes but the part body has 11");
    /* a part announcing `len` bytes followed by `fill` bytes of `c` (and the close): the error
       is at the announced end. Part 2 with 102 for 100; far longer (the search window); 65536
       - 1 too many, found just inside the window, and one more; the body ending while looking. */
    for (i = 0; i < sizeof overruns / sizeof overruns[0]; i++) {
        const t_overrun *o = &overruns[i];
        b.n = 0;
        tb_str(&b, o->head);
        e = b.n + o->len;
        tb_fill(&b, 'z', o->fill);
        if (o->close) tb_str(&b, CLOSE);
        expect(o->name, CT, b.p, b.n, 0, CAS_E_MULTIPART, e, o->what);
    }
    /* the body ends inside the part: truncated */
    b.n = 0;
    tb_str(&b, PART("0-9/*", "12345"));
    expect("ends in body", CT, b.p, b.n, 0, CAS_E_TRUNCATED, b.n, "body ends after 5 of them");
    /* a broken delimiter after the right length */
    s = PART("0-1/2", "ab") "\r\n-x";
    expects("broken delim", CT, s, CAS_E_MULTIPART, at(s, "\r\n-x"), "has 2 bytes but no delimiter follows");
    tb_free(&b);
}

static void test_max_parts(void) {
    const char *s2 = PART("0-0/3", "a") PART("1-1/3", "b") CLOSE;
    const char *s3 = PART("0-0/3", "a") PART("1-1/3", "b") PART("2-2/3", "c") CLOSE;
    expect("max 2 of 2", CT, s2, strlen(s2), 2, CAS_OK, 0, "");
    expect("max 3 of 2", CT, s2, strlen(s2), 3, CAS_OK, 0, "");
    expect("max 2 of 3", CT, s3, strlen(s3), 2, CAS_E_MULTIPART, at(s3, "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 2") + 1,
           "part 2: more parts than the 2 allowed");
    expect("max 1 of 3", CT, s3, strlen(s3), 1, CAS_E_MULTIPART, at(s3, "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 1") + 1,
           "part 1: more parts than the 1 allowed");
    expect("max 0 of 3", CT, s3, strlen(s3), 0, CAS_OK, 0, "");
}

static void test_api(void) {
    cas_multipart m;
    cas_multipart_event ev;
    cas_error e;
    size_t used = 99;
    const char *body = "--" B "\r\nContent-Range: bytes 0-2/3\r\n\r\nabc" CLOSE;
    int rc;
    /* zero-filled, never initialised */
    memset(&m, 0, sizeof m);
    CHECK(cas_multipart_push(&m, "x", 1, &used, &ev) == CAS_E_STATE && used == 0);
    memset(&m, 0, sizeof m);
    CHECK(cas_multipart_finish(&m, &e) == CAS_E_STATE && e.code == CAS_E_STATE);
    /* arguments */
    cas_multipart_init(&m, CT, strlen(CT), 0, NULL);
    CHECK(cas_multipart_push(NULL, "x", 1, &used, &ev) == CAS_E_ARGUMENT);
    CHECK(cas_multipart_push(&m, NULL, 1, &used, &ev) == CAS_E_ARGUMENT);
    CHECK(cas_multipart_push(&m, "x", 1, NULL, &ev) == CAS_E_ARGUMENT);
    CHECK(cas_multipart_push(&m, "x", 1, &used, NULL) == CAS_E_ARGUMENT);
    CHECK(cas_multipart_finish(NULL, &e) == CAS_E_ARGUMENT);
    /* not sticky; an empty push is fine */
    CHECK(cas_multipart_push(&m, NULL, 0, &used, &ev) == CAS_NEED_INPUT && used == 0);
    /* a failed init: push and finish return its error */
    CHECK(cas_multipart_init(&m, "text/plain", 10, 0, &e) == CAS_E_MULTIPART);
    CHECK(cas_multipart_push(&m, body, strlen(body), &used, &ev) == CAS_E_MULTIPART);
    CHECK(cas_multipart_finish(&m, &e) == CAS_E_MULTIPART);
    /* event by event, zero copy, then finish twice */
    cas_multipart_init(&m, CT, strlen(CT), 1, NULL);
    rc = cas_multipart_push(&m, body, strlen(body), &used, &ev);
    CHECK(rc == CAS_READY && ev.type == CAS_MULTIPART_PART && ev.first == 0 && ev.last == 2 && ev.total == 3 &&
          used == strlen(body) - 3 - strlen(CLOSE));
    body += used;
    rc = cas_multipart_push(&m, body, strlen(body), &used, &ev);
    CHECK(rc == CAS_READY && ev.type == CAS_MULTIPART_DATA && ev.data == (const uint8_t *)body && ev.len == 3 &&
          used == 3 && ev.offset == 0);
    body += used;
    rc = cas_multipart_push(&m, body, 3, &used, &ev);
    CHECK(rc == CAS_NEED_INPUT && used == 3);
    CHECK(cas_multipart_finish(&m, &e) == CAS_E_TRUNCATED && e.code == CAS_E_TRUNCATED &&
          strstr(e.what, "delimiter after a part"));
    CHECK(cas_multipart_push(&m, body + 3, strlen(body + 3), &used, &ev) == CAS_E_TRUNCATED); /* sticky */
    /* after the end: finish OK, twice */
    cas_multipart_init(&m, CT, strlen(CT), 0, NULL);
    body = "--" B "\r\nContent-Range: bytes 0-2/3\r\n\r\nabc" CLOSE;
    while ((rc = cas_multipart_push(&m, body, strlen(body), &used, &ev)) == CAS_READY) body += used;
    CHECK(rc == CAS_END && cas_multipart_finish(&m, &e) == CAS_OK && e.code == 0 && !*e.what);
    CHECK(cas_multipart_finish(&m, &e) == CAS_OK);
    /* result text */
    CHECK(strcmp(cas_result_name(CAS_E_MULTIPART), "CAS_E_MULTIPART") == 0);
    CHECK(strstr(cas_result_message(CAS_E_MULTIPART), "multipart") != NULL);
    /* the struct is fixed and small */
    CHECK(sizeof(cas_multipart) < 1024);
}

/* Random bodies built from valid pieces with mutations: all three modes must agree. */
static void test_random(void) {
    int it;
    for (it = 0; it < 3000; it++) {
        t_buf b = {NULL, 0, 0};
        int parts = (int)(rnd() % 4), k;
        if (rnd() % 3 == 0) tb_str(&b, "pre");
        for (k = 0; k < parts; k++) {
            uint32_t len = 1 + rnd() % 40, j;
            tb_str(&b, k || rnd() % 2 ? "\r\n--" B "\r\n" : "--" B "\r\n");
            tb_str(&b, "Content-Range: bytes 10-");
            tb_u64(&b, 10 + len - 1 + (rnd() % 8 == 0));
            tb_str(&b, "/1000\r\n\r\n");
            for (j = 0; j < len; j++) tb_fill(&b, "\r\n-ab"[rnd() % 5], 1);
        }
        tb_str(&b, CLOSE);
        /* a few byte mutations */
        for (k = (int)(rnd() % 3); k > 0; k--) b.p[rnd() % b.n] = (char)"\r\n-: 0x"[rnd() % 7];
        b.n -= rnd() % 4 == 0 ? rnd() % b.n : 0;
        check_all("random", CT, b.p, b.n, rnd() % 3, NULL);
        tb_free(&b);
    }
}

int main(int argc, char **argv) {
    g_verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    test_valid();
    test_truncation();
    test_content_type();
    test_preamble();
    test_delimiters();
    test_headers();
    test_content_range();
    test_body_length();
    test_max_parts();
    test_api();
    test_random();
    printf("test_multipart: %ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail != 0;
}
