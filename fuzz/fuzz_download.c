/* The download engine on hostile manifests and hostile xorb bytes, with random response
   fragmentation, concurrency and aborts.
   Input: u16 LE manifest length, the manifest JSON (v2 or v1: data[2] bit 0 picks), then
   u8 flags (bit 0 sequential sink, bit 1 per-range plan, bit 2 tiny window, bit 3 verify
   against an all-zero file hash, bit 4 shuffle multipart parts, bit 5 abort+retry once),
   u8 PRNG seed, then the bytes of "the" xorb: every xorb of the manifest is served from
   them (ranges past their end are cut short, so the engine sees short bodies).
   Oracles: no crash/UB/leak; the engine never writes outside [0, bytes_total); CAS_END only
   when every output byte was written exactly once (positional) or in order (sequential);
   after an error every call returns that error. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

typedef struct {
    uint64_t total, written, next;
    int sequential;
} f_sink;

static int f_write_at(void *user, uint64_t off, const void *data, size_t len) {
    f_sink *k = (f_sink *)user;
    (void)data;
    REQUIRE(len > 0 && off + len <= k->total);
    k->written += len;
    return 0;
}
static int f_write(void *user, const void *data, size_t len) {
    f_sink *k = (f_sink *)user;
    (void)data;
    REQUIRE(len > 0 && k->next + len <= k->total);
    k->next += len;
    k->written += len;
    return 0;
}

static uint64_t f_rng(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The body of a request: the ranges cut from xb (multipart for several). */
static uint8_t *f_body(const cas_download_request *q, const uint8_t *xb, size_t xn, int shuffle,
                       uint64_t *rng, size_t *len) {
    size_t cap = 64, pos = 0;
    uint32_t i, order[64];
    uint8_t *b;
    for (i = 0; i < q->num_ranges; i++) {
        uint64_t s = q->ranges[i].byte_start, e = q->ranges[i].byte_end + 1;
        if (s > xn) s = xn;
        if (e > xn) e = xn;
        cap += (size_t)(e - s) + 128;
    }
    b = (uint8_t *)malloc(cap);
    if (!b) abort();
    for (i = 0; i < q->num_ranges && i < 64; i++) order[i] = i;
    if (shuffle && q->num_ranges > 1 && q->num_ranges <= 64)
        for (i = q->num_ranges - 1; i > 0; i--) {
            uint32_t j = (uint32_t)(f_rng(rng) % (i + 1)), t = order[i];
            order[i] = order[j], order[j] = t;
        }
    for (i = 0; i < q->num_ranges; i++) {
        const cas_recon_range *g = &q->ranges[q->num_ranges <= 64 ? order[i] : i];
        uint64_t s = g->byte_start, e = g->byte_end + 1;
        if (s > xn) s = xn;
        if (e > xn) e = xn;
        if (q->num_ranges > 1) {
            static const char *hex = "0123456789";
            const char *h1 = i ? "\r\n--zz\r\nContent-Range: bytes " : "--zz\r\nContent-Range: bytes ";
            uint64_t v[2];
            int k;
            memcpy(b + pos, h1, strlen(h1));
            pos += strlen(h1);
            v[0] = g->byte_start, v[1] = g->byte_end;
            for (k = 0; k < 2; k++) {
                char t[24];
                int n = 0;
                uint64_t x = v[k];
                do { t[n++] = hex[x % 10]; x /= 10; } while (x);
                while (n) b[pos++] = (uint8_t)t[--n];
                b[pos++] = k ? '/' : '-';
            }
            memcpy(b + pos, "*\r\n\r\n", 5);
            pos += 5;
        }
        memcpy(b + pos, xb + s, (size_t)(e - s));
        pos += (size_t)(e - s);
    }
    if (q->num_ranges > 1) {
        memcpy(b + pos, "\r\n--zz--\r\n", 10);
        pos += 10;
    }
    *len = pos;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t jlen, xn;
    const uint8_t *json, *xb;
    unsigned flags;
    uint64_t rng;
    cas_recon r;
    cas_download_desc desc;
    cas_download *d;
    cas_download_progress p;
    f_sink k;
    cas_hash zero;
    int rc = CAS_OK, aborted = 0, v;
    struct { uint8_t *body; size_t len, pos; uint32_t id; int live; } act[4];
    unsigned nact = 0, i;
    if (size < 4) return 0;
    jlen = (size_t)data[0] | (size_t)data[1] << 8;
    if (jlen + 4 > size) return 0;
    json = data + 2;
    flags = data[2 + jlen];
    rng = data[3 + jlen];
    xb = data + 4 + jlen;
    xn = size - 4 - jlen;
    v = (json[0] == ' ') ? 1 : 2; /* a leading space selects v1 */
    if (cas_recon_parse(NULL, json, jlen, v, NULL, &r, NULL) != CAS_OK) return 0;
    memset(&desc, 0, sizeof desc);
    memset(&k, 0, sizeof k);
    memset(&zero, 0, sizeof zero);
    k.sequential = flags & 1;
    if (k.sequential) desc.write = f_write; else desc.write_at = f_write_at;
    desc.user = &k;
    desc.flags = (flags & 2) ? CAS_DOWNLOAD_PER_RANGE : 0;
    desc.window = (flags & 4) ? 1 + (size_t)(rng % 70000) : 0;
    if (flags & 8) desc.file_hash = &zero;
    if (cas_download_create(NULL, &r, &desc, &d, NULL) != CAS_OK) {
        cas_recon_free(&r);
        return 0;
    }
    cas_download_get_progress(d, &p);
    k.total = p.bytes_total;
    memset(act, 0, sizeof act);
    for (;;) {
        cas_download_request q;
        if (nact < 1 + (rng & 3) && (rc = cas_download_next(d, &q)) == CAS_READY) {
            for (i = 0; act[i].live; i++) {}
            act[i].body = f_body(&q, xb, xn, flags & 16, &rng, &act[i].len);
            act[i].pos = 0, act[i].id = q.id, act[i].live = 1;
            nact++;
            rc = cas_download_begin(d, q.id, q.num_ranges > 1 ? "multipart/byteranges; boundary=zz" : NULL,
                                    q.num_ranges > 1 ? 33 : 0);
            if (rc != CAS_OK) break;
            continue;
        }
        if (nact == 0) break;
        for (i = 0; !act[i].live; i++) {}
        i = (unsigned)((i + f_rng(&rng) % 4) % 4);
        while (!act[i].live) i = (i + 1) % 4;
        if ((flags & 32) && !aborted && act[i].pos * 2 > act[i].len) {
            aborted = 1;
            rc = cas_download_abort(d, act[i].id);
            free(act[i].body), act[i].live = 0, nact--;
            if (rc != CAS_OK) break;
            continue;
        }
        {
            size_t n = 1 + (size_t)(f_rng(&rng) % 70000);
            if (n > act[i].len - act[i].pos) n = act[i].len - act[i].pos;
            rc = n ? cas_download_push(d, act[i].id, act[i].body + act[i].pos, n) : CAS_OK;
            act[i].pos += n;
            if (rc == CAS_OK && act[i].pos == act[i].len) {
                rc = cas_download_end(d, act[i].id);
                free(act[i].body), act[i].live = 0, nact--;
            }
            if (rc != CAS_OK) break;
        }
    }
    if (rc == CAS_END) {
        REQUIRE(k.written == k.total); /* each byte exactly once (no abort rewrites either) */
    } else if (rc < 0) {
        cas_download_request q;
        REQUIRE(cas_download_next(d, &q) == rc);
    }
    for (i = 0; i < 4; i++)
        if (act[i].live) free(act[i].body);
    cas_download_free(d);
    cas_recon_free(&r);
    return 0;
}
