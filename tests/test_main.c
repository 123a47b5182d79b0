/* The test runner: every unit and conformance test of cas.h, one summary line at the end
   ("N passed, M failed"). Run from the repository root (vectors in tests/vectors/). */
#define _POSIX_C_SOURCE 200809L /* getpid */
#define CAS_IMPLEMENTATION
#include "testlib.h"
#include <unistd.h>

static int hash_is(const cas_hash *h, const char *hex) {
    char got[65];
    cas_hash_to_hex(h, got);
    return strcmp(got, hex) == 0;
}

/* Every SIMD path this CPU has, each forced in turn (cas_cpu_limit). */
typedef struct {
    const char *name;
    unsigned mask;
} path_limit;
static const path_limit g_paths[] = {
    {"all", ~0u},
    {"avx2", CAS_CPU_SSE2 | CAS_CPU_SSSE3 | CAS_CPU_SSE41 | CAS_CPU_AVX | CAS_CPU_AVX2},
    {"sse4.1", CAS_CPU_SSE2 | CAS_CPU_SSSE3 | CAS_CPU_SSE41},
    {"sse2", CAS_CPU_SSE2},
    {"portable", 0},
};
#define N_PATHS (sizeof g_paths / sizeof g_paths[0])

/* ---- hex ---- */
static void test_hex(void) {
    cas_hash h, back;
    char hex[65];
    int i;
    g_test = "hex";
    for (i = 0; i < 32; i++) h.bytes[i] = (uint8_t)i;
    cas_hash_to_hex(&h, hex);
    /* api.md's example with its missing "10" byte restored. */
    CHECK(!strcmp(hex, "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"));
    CHECK(cas_hash_from_hex(hex, 64, &back) == CAS_OK && cas_hash_equal(&h, &back));
    CHECK(cas_hash_from_hex("07060504030201000F0E0D0C0B0A090817161514131211101F1E1D1C1B1A1918", 64,
                            &back) == CAS_OK &&
          cas_hash_equal(&h, &back));
    /* api.md's string as printed (62 digits) must be rejected. */
    CHECK(cas_hash_from_hex("07060504030201000f0e0d0c0b0a0908171615141312111f1e1d1c1b1a1918", 62,
                            &back) == CAS_E_HEX);
    CHECK(cas_hash_from_hex(hex, 63, &back) == CAS_E_HEX);
    {
        char h65[66];
        memcpy(h65, hex, 64);
        h65[64] = '0';
        h65[65] = 0;
        CHECK(cas_hash_from_hex(h65, 65, &back) == CAS_E_HEX);
    }
    for (i = 0; i < 64; i++) {
        char bad[65];
        memcpy(bad, hex, 65);
        bad[i] = (i % 3 == 0) ? 'g' : (i % 3 == 1) ? ' ' : 'x';
        memset(&back, 0xAA, sizeof back);
        CHECK(cas_hash_from_hex(bad, 64, &back) == CAS_E_HEX && back.bytes[0] == 0xAA);
    }
    CHECK(cas_hash_from_hex(NULL, 64, &back) == CAS_E_HEX);
    CHECK(cas_hash_tail_u64(&h) == 0x1f1e1d1c1b1a1918ULL);
    CHECK(!strcmp(cas_result_name(CAS_E_HEX), "CAS_E_HEX"));
    CHECK(strlen(cas_result_message(CAS_E_HEX)) > 10);
    CHECK(!strcmp(cas_result_name(-9999), "CAS_E_UNKNOWN"));
}

/* ---- BLAKE3 official vectors, every path ---- */
static void test_blake3(void) {
    FILE *f = t_open_vectors("blake3.txt");
    char line[512];
    uint8_t key[32];
    uint8_t *input = (uint8_t *)t_xmalloc(110000);
    size_t i, p;
    int cases = 0;
    g_test = "blake3";
    CHECK(f != NULL);
    if (!f) return;
    for (i = 0; i < 110000; i++) input[i] = (uint8_t)(i % 251);
    CHECK(t_read_line(f, line, sizeof line) && !strncmp(line, "key ", 4) && strlen(line + 4) == 32);
    memcpy(key, line + 4, 32);
    while (t_read_line(f, line, sizeof line)) {
        size_t len;
        char plain[65], keyed[65], got[65];
        uint8_t out[32];
        if (sscanf(line, "%zu %64s %64s", &len, plain, keyed) != 3 || len > 110000) {
            CHECK_MSG(0, "bad line %s", line);
            continue;
        }
        cases++;
        for (p = 0; p < N_PATHS; p++) {
            cas_blake3 s;
            cas_cpu_limit(g_paths[p].mask);
            cas_blake3_keyed(key, input, len, out);
            t_plain_hex(out, 32, got);
            CHECK_MSG(!strcmp(got, keyed), "keyed len %zu path %s", len, g_paths[p].name);
            /* incremental in uneven pieces */
            cas_blake3_init_keyed(&s, key);
            {
                size_t off = 0, step = 1;
                while (off < len) {
                    size_t n = len - off < step ? len - off : step;
                    cas_blake3_update(&s, input + off, n);
                    off += n;
                    step = step * 3 + 1;
                }
            }
            cas_blake3_final(&s, out);
            t_plain_hex(out, 32, got);
            CHECK_MSG(!strcmp(got, keyed), "keyed incremental len %zu path %s", len, g_paths[p].name);
        }
    }
    cas_cpu_limit(~0u);
    CHECK(cases >= 20);
    fclose(f);
    free(input);
}

/* ---- SHA-256 ---- */
static void test_sha256(void) {
    FILE *f = t_open_vectors("sha256.txt");
    char *line = (char *)t_xmalloc(1 << 20);
    uint8_t *msg = (uint8_t *)t_xmalloc(4 << 20);
    int cases = 0;
    g_test = "sha256";
    CHECK(f != NULL);
    if (!f) return;
    while (t_read_line(f, line, 1 << 20)) {
        char *sp = strrchr(line, ' ');
        size_t len = 0, p;
        char got[65];
        uint8_t out[32];
        if (!sp) continue;
        *sp = 0;
        if (!strncmp(line, "hex:", 4)) {
            if (!t_hex_bytes(line + 4, msg, 4 << 20, &len)) { CHECK_MSG(0, "bad hex"); continue; }
        } else if (!strncmp(line, "repeat:", 7)) {
            uint8_t pat[256];
            size_t plen, count = strtoul(line + 7, NULL, 10), k;
            char *colon = strchr(line + 7, ':');
            if (!colon || !t_hex_bytes(colon + 1, pat, sizeof pat, &plen) || count * plen > (4u << 20)) {
                CHECK_MSG(0, "bad repeat %s", line);
                continue;
            }
            for (k = 0; k < count; k++) memcpy(msg + k * plen, pat, plen);
            len = count * plen;
        } else {
            continue;
        }
        cases++;
        for (p = 0; p < N_PATHS; p++) {
            cas_sha256 s;
            size_t off = 0, step = 1;
            cas_cpu_limit(g_paths[p].mask);
            cas_sha256_hash(msg, len, out);
            t_plain_hex(out, 32, got);
            CHECK_MSG(!strcmp(got, sp + 1), "sha256 len %zu path %s", len, g_paths[p].name);
            cas_sha256_init(&s);
            while (off < len) {
                size_t n = len - off < step ? len - off : step;
                cas_sha256_update(&s, msg + off, n);
                off += n;
                step = (step * 7 + 3) % 200 + 1;
            }
            cas_sha256_final(&s, out);
            t_plain_hex(out, 32, got);
            CHECK_MSG(!strcmp(got, sp + 1), "sha256 incremental len %zu path %s", len, g_paths[p].name);
        }
    }
    cas_cpu_limit(~0u);
    CHECK(cases >= 80);
    fclose(f);
    free(line);
    free(msg);
}

/* ---- chunker ---- */

/* The gear table, read from the vectors file rather than taken from cas.h. */
static const uint64_t *gear_table(void) {
    static uint64_t table[256];
    static int loaded;
    if (!loaded) {
        FILE *f = t_open_vectors("gear_table.txt");
        char line[512];
        int k = 0;
        if (f) {
            while (t_read_line(f, line, sizeof line) && k < 256) table[k++] = strtoull(line, NULL, 16);
            fclose(f);
        }
        loaded = k == 256;
        if (!loaded) { fprintf(stderr, "gear table missing\n"); exit(2); }
    }
    return table;
}

static size_t spec_chunk(const uint8_t *data, size_t len, uint64_t *sizes, size_t cap) {
    return t_spec_chunk(gear_table(), data, len, sizes, cap);
}

/* Chunks data with cas_chunk_stream in pieces given by `piece` (0 = whole buffer, otherwise
   sizes from a PRNG seeded with `piece` when piece > 1000, or exactly `piece` bytes). */
static size_t stream_chunks(const uint8_t *data, size_t len, size_t piece, cas_chunk *out, size_t cap) {
    cas_chunk_stream cs;
    cas_chunk c;
    size_t off = 0, n = 0;
    t_rng r;
    r.state = piece;
    cas_chunk_stream_init(&cs);
    while (off < len) {
        /* 0: all at once; an odd piece over 1000: random sizes 1..70000 (seeded by it); else
           pieces of exactly that size */
        size_t want = piece == 0 ? len - off : piece > 1000 && piece % 2 ? (size_t)(t_next(&r) % 70000) + 1 : piece;
        size_t end = off + (want < len - off ? want : len - off);
        while (off < end) {
            off += cas_chunk_stream_push(&cs, data + off, end - off, &c);
            if (c.size) {
                if (n < cap) out[n] = c;
                n++;
            }
        }
    }
    if (cas_chunk_stream_finish(&cs, &c)) {
        if (n < cap) out[n] = c;
        n++;
    }
    return n;
}

#define MAX_CHUNKS 4096

static void test_chunking_vectors(void) {
    FILE *f = t_open_vectors("chunking.txt");
    char line[512];
    cas_chunk *expect = (cas_chunk *)t_xmalloc(MAX_CHUNKS * sizeof(cas_chunk));
    cas_chunk *got = (cas_chunk *)t_xmalloc(MAX_CHUNKS * sizeof(cas_chunk));
    cas_hash *hashes = (cas_hash *)t_xmalloc(MAX_CHUNKS * sizeof(cas_hash));
    uint64_t *spec = (uint64_t *)t_xmalloc(MAX_CHUNKS * sizeof(uint64_t));
    uint8_t *data = NULL;
    size_t size = 0, nexp = 0, i;
    char kind[32];
    unsigned long long seed = 0;
    int cases = 0;
    g_test = "chunking";
    CHECK(f != NULL);
    if (!f) return;
    while (t_read_line(f, line, sizeof line)) {
        char a[80], b[80];
        unsigned long long x, y;
        if (sscanf(line, "case %31s %llu %zu", kind, &seed, &size) == 3) {
            free(data);
            data = (uint8_t *)t_xmalloc(size);
            CHECK(t_generate(kind, seed, data, size));
            nexp = 0;
        } else if (sscanf(line, "chunk %79s %llu", a, &x) == 2) {
            if (nexp < MAX_CHUNKS) {
                expect[nexp].hash = t_hash(a);
                expect[nexp].size = x;
            }
            nexp++;
        } else if (!strcmp(line, "end")) {
            cases++;
        } else if (sscanf(line, "xorb %79s", a) == 1) {
            /* Chunk the input every way and compare with the oracle's list: every piece size
               on all paths and on each tier where cas_chunk_stream fuses scan and hash (x86-64:
               AVX-512, AVX2), four of them on each other lower tier that changes a path (the
               scan, then the vendored BLAKE3 of that tier). */
            static const size_t pieces[] = {0,    8193, 1234567, 4096,  1,     7,     64,    4095,
                                            8191, 8192, 16384,   17408, 32768, 65536, 131072};
            size_t p, t, ns;
            cas_hash h;
            char tier[64], last_tier[64] = "";
            for (t = 0; t < N_PATHS; t++) {
                cas_cpu_limit(g_paths[t].mask);
                snprintf(tier, sizeof tier, "%s %s", cas_chunker_path(), cas_blake3_path());
                if (!strcmp(tier, last_tier)) continue;
                strcpy(last_tier, tier);
                for (p = 0; p < (t == 0 || strstr(tier, "-fused") ? sizeof pieces / sizeof pieces[0] : 4); p++) {
                    size_t n;
                    if (pieces[p] == 1 && size > 300000) continue; /* byte-at-a-time: smaller inputs */
                    n = stream_chunks(data, size, pieces[p], got, MAX_CHUNKS);
                    CHECK_MSG(n == nexp, "%s %llu %zu piece %zu, %s: %zu chunks, want %zu", kind, seed,
                              size, pieces[p], cas_chunker_path(), n, nexp);
                    for (i = 0; i < n && i < nexp; i++)
                        if (got[i].size != expect[i].size || !cas_hash_equal(&got[i].hash, &expect[i].hash))
                            break;
                    CHECK_MSG(i == n, "%s %llu %zu piece %zu, %s: chunk %zu differs", kind, seed, size,
                              pieces[p], cas_chunker_path(), i);
                }
            }
            cas_cpu_limit(~0u);
            ns = spec_chunk(data, size, spec, MAX_CHUNKS);
            CHECK(ns == nexp);
            for (i = 0; i < ns && i < nexp; i++) CHECK(spec[i] == expect[i].size);
            for (i = 0; i < nexp; i++) {
                cas_chunk_hash(data + 0, 0, &h); /* keep the one-shot path exercised */
                hashes[i] = expect[i].hash;
            }
            {   /* one-shot chunk hash of each chunk */
                uint64_t off = 0;
                for (i = 0; i < nexp; i++) {
                    cas_chunk_hash(data + off, (size_t)expect[i].size, &h);
                    CHECK(cas_hash_equal(&h, &expect[i].hash));
                    off += expect[i].size;
                }
            }
            cas_xorb_hash(expect, nexp, &h);
            CHECK_MSG(hash_is(&h, a), "xorb hash %s %llu %zu", kind, seed, size);
        } else if (sscanf(line, "file %79s", a) == 1) {
            cas_hash h;
            cas_file_hash(expect, nexp, &h);
            CHECK_MSG(hash_is(&h, a), "file hash %s %llu %zu", kind, seed, size);
        } else if (sscanf(line, "verify %llu %llu %79s", &x, &y, b) == 3) {
            cas_hash h;
            CHECK(y <= nexp && x <= y);
            if (y <= nexp && x <= y) {
                cas_verification_hash(hashes + x, (size_t)(y - x), &h);
                CHECK_MSG(hash_is(&h, b), "verify %llu..%llu %s %llu %zu", x, y, kind, seed, size);
            }
        }
    }
    CHECK(cases >= 26);
    fclose(f);
    free(data);
    free(expect);
    free(got);
    free(hashes);
    free(spec);
}

/* Boundaries of the fast chunker == the spec loop on crafted and random inputs. */
static void test_chunker_vs_spec(void) {
    size_t len = 3 << 20, i, trial;
    uint8_t *data = (uint8_t *)t_xmalloc(len);
    cas_chunk *got = (cas_chunk *)t_xmalloc(MAX_CHUNKS * sizeof(cas_chunk));
    uint64_t *spec = (uint64_t *)t_xmalloc(MAX_CHUNKS * sizeof(uint64_t));
    t_rng r;
    g_test = "chunker-vs-spec";
    r.state = 42;
    for (trial = 0; trial < 24; trial++) {
        size_t n, ns, this_len = (size_t)(t_next(&r) % len) + 1;
        t_fill_random(&r, data, this_len);
        if (trial % 4 == 1) /* low-entropy: long runs, matches land anywhere incl. lanes' edges */
            for (i = 0; i < this_len; i++) data[i] &= 0x11;
        if (trial % 4 == 2) /* a byte whose gear value alone matches the mask (table entry 17) */
            for (i = 0; i < this_len; i += 8191 + (size_t)(t_next(&r) % 3)) data[i] = 0x11;
        if (trial % 4 == 3) memset(data, (int)(trial & 0xff), this_len / 2);
        ns = spec_chunk(data, this_len, spec, MAX_CHUNKS);
        n = stream_chunks(data, this_len, trial % 2 ? 0 : 5000 + trial, got, MAX_CHUNKS);
        CHECK_MSG(n == ns, "trial %zu: %zu chunks vs spec %zu", trial, n, ns);
        for (i = 0; i < n && i < ns; i++)
            if (got[i].size != spec[i]) break;
        CHECK_MSG(i == n, "trial %zu: chunk %zu size differs", trial, i);
    }
    {   /* an empty push, even of NULL, consumes nothing (under UBSan: no NULL + 0) */
        cas_chunk_stream cs;
        cas_chunk c;
        uint64_t cut = 1;
        cas_chunker ch;
        cas_chunk_stream_init(&cs);
        CHECK(cas_chunk_stream_push(&cs, NULL, 0, &c) == 0 && c.size == 0);
        cas_chunker_init(&ch);
        CHECK(cas_chunker_scan(&ch, NULL, 0, &cut) == 0 && cut == 0);
    }
    free(data);
    free(got);
    free(spec);
}

/* ---- Merkle ---- */

static void random_leaves(uint64_t seed, cas_chunk *leaves, size_t n) {
    t_rng r;
    size_t i;
    r.state = seed;
    for (i = 0; i < n; i++) {
        t_fill_random(&r, leaves[i].hash.bytes, 32);
        leaves[i].size = t_next(&r) % 131072 + 1;
    }
}

static void test_merkle_vectors(void) {
    char line[512];
    FILE *f = t_open_vectors("merkle_table.txt");
    cas_chunk *nodes = (cas_chunk *)t_xmalloc(8192 * sizeof(cas_chunk));
    cas_hash *hashes = (cas_hash *)t_xmalloc(8192 * sizeof(cas_hash));
    size_t n = 0, i;
    int cases = 0;
    g_test = "merkle-table";
    CHECK(f != NULL);
    if (!f) return;
    while (t_read_line(f, line, sizeof line)) {
        char a[80], b[80];
        unsigned long long x;
        cas_hash h;
        if (!strcmp(line, "case")) {
            n = 0;
        } else if (sscanf(line, "node %79s %llu", a, &x) == 2 && n < 8192) {
            nodes[n].hash = t_hash(a);
            nodes[n].size = x;
            n++;
        } else if (sscanf(line, "xorb %79s", a) == 1) {
            cas_xorb_hash(nodes, n, &h);
            CHECK_MSG(hash_is(&h, a), "table case %d xorb", cases);
            t_batch_merkle_root(nodes, n, &h);
            CHECK_MSG(hash_is(&h, a), "table case %d batch transcription", cases);
        } else if (sscanf(line, "file %79s %79s", a, b) == 2) {
            cas_hash salt = t_hash(a);
            cas_file_hash_salted(nodes, n, salt.bytes, &h);
            CHECK_MSG(hash_is(&h, b), "table case %d salted file hash", cases);
        } else if (!strcmp(line, "end")) {
            cases++;
        }
    }
    CHECK(cases == 18);
    fclose(f);

    g_test = "merkle-random";
    f = t_open_vectors("merkle_random.txt");
    CHECK(f != NULL);
    if (!f) return;
    cases = 0;
    while (t_read_line(f, line, sizeof line)) {
        char a[80], b[80];
        unsigned long long x, y;
        cas_hash h;
        if (sscanf(line, "case %llu %llu", &x, &y) == 2 && y <= 8192) {
            n = (size_t)y;
            random_leaves(x, nodes, n);
            for (i = 0; i < n; i++) hashes[i] = nodes[i].hash;
        } else if (sscanf(line, "xorb %79s", a) == 1) {
            cas_xorb_hash(nodes, n, &h);
            CHECK_MSG(hash_is(&h, a), "random case %d (%zu leaves) xorb", cases, n);
        } else if (sscanf(line, "file %79s %79s", a, b) == 2) {
            cas_file_hash(nodes, n, &h);
            CHECK_MSG(hash_is(&h, b), "random case %d file", cases);
        } else if (sscanf(line, "verify %llu %llu %79s", &x, &y, a) == 3 && y <= n) {
            cas_verification_hash(hashes + x, (size_t)(y - x), &h);
            CHECK_MSG(hash_is(&h, a), "random case %d verify", cases);
        } else if (!strcmp(line, "end")) {
            cases++;
        }
    }
    CHECK(cases == 30);
    fclose(f);
    free(nodes);
    free(hashes);
}

/* Streaming aggregator == batch transcription for random lists up to 100 000 leaves, and
   cas_merkle_root mid-stream == batch over the prefix. */
static void test_merkle_streaming(void) {
    static const size_t sizes[] = {0, 1, 2, 3, 4, 9, 10, 27, 81, 100, 1000, 4097, 100000};
    size_t max = 100000, s, i;
    cas_chunk *leaves = (cas_chunk *)t_xmalloc(max * sizeof(cas_chunk));
    g_test = "merkle-streaming";
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        cas_merkle m;
        cas_hash a, b;
        random_leaves(7000 + n, leaves, n);
        if (s % 3 == 0) /* many tails 0 mod 4: small groups, deep trees */
            for (i = 0; i < n; i++) leaves[i].hash.bytes[24] &= 0xfc;
        cas_merkle_init(&m);
        for (i = 0; i < n; i++) {
            cas_merkle_push(&m, &leaves[i]);
            if (i + 1 == n / 2 || (n < 200 && i % 7 == 0)) {
                cas_merkle_root(&m, &a);
                t_batch_merkle_root(leaves, i + 1, &b);
                CHECK_MSG(cas_hash_equal(&a, &b), "prefix %zu of %zu", i + 1, n);
            }
        }
        cas_merkle_root(&m, &a);
        t_batch_merkle_root(leaves, n, &b);
        CHECK_MSG(cas_hash_equal(&a, &b), "n=%zu", n);
        CHECK(cas_merkle_count(&m) == n);
        cas_xorb_hash(leaves, n, &b);
        CHECK(cas_hash_equal(&a, &b));
    }
    /* The state is fixed-size: no allocation, whatever the count. */
    CHECK(sizeof(cas_merkle) < 16384);
    free(leaves);
}

static void test_hmac_and_dedup(void) {
    FILE *f = t_open_vectors("hmac.txt");
    char line[512];
    int n = 0;
    cas_hash h;
    g_test = "hmac";
    CHECK(f != NULL);
    if (!f) return;
    while (t_read_line(f, line, sizeof line)) {
        char a[80], b[80], c[80];
        if (sscanf(line, "%79s %79s %79s", a, b, c) == 3) {
            cas_hash x = t_hash(a), k = t_hash(b);
            cas_hash_hmac(&x, &k, &h);
            CHECK_MSG(hash_is(&h, c), "hmac line %d", n);
            n++;
        }
    }
    CHECK(n == 10);
    fclose(f);

    g_test = "dedup-eligible";
    memset(&h, 0, sizeof h);
    CHECK(cas_chunk_dedup_eligible(&h, 0)); /* tail 0 */
    h.bytes[24] = 1;
    CHECK(!cas_chunk_dedup_eligible(&h, 0));
    CHECK(cas_chunk_dedup_eligible(&h, 1)); /* first chunk of a file */
    h.bytes[24] = 0;
    h.bytes[25] = 4; /* 1024 */
    CHECK(cas_chunk_dedup_eligible(&h, 0));
    h.bytes[25] = 2; /* 512 */
    CHECK(!cas_chunk_dedup_eligible(&h, 0));
    /* The empty verification hash the oracle documents (keyed BLAKE3 of nothing). */
    cas_verification_hash(NULL, 0, &h);
    CHECK(hash_is(&h, "b81ce0cc7ce434c719c5f31801bc0825ead2a9ebae7419605afc00726961e5d9"));
}

static void test_internal_node(void) {
    cas_chunk nodes[10];
    cas_hash h;
    uint64_t size = 0;
    g_test = "internal-node";
    memset(nodes, 0, sizeof nodes);
    CHECK(cas_internal_node_hash(nodes, 0, &h, &size) == CAS_E_ARGUMENT);
    CHECK(cas_internal_node_hash(nodes, 10, &h, &size) == CAS_E_ARGUMENT);
    nodes[0].size = UINT64_MAX; /* 20 digits: the longest line */
    CHECK(cas_internal_node_hash(nodes, 9, &h, &size) == CAS_OK && size == UINT64_MAX);
    {   /* the line format, checked against a hand-built buffer */
        char buf[200], hex[65];
        cas_hash want;
        cas_hash_to_hex(&nodes[0].hash, hex);
        nodes[1].size = 64000;
        snprintf(buf, sizeof buf, "%s : 18446744073709551615\n%s : 64000\n", hex, hex);
        cas_blake3_keyed(cas_key_internal_node(), buf, strlen(buf), want.bytes);
        CHECK(cas_internal_node_hash(nodes, 2, &h, NULL) == CAS_OK && cas_hash_equal(&h, &want));
        /* and a chunk hash is BLAKE3 keyed with DATA_KEY, the key cas_key_data() exports */
        cas_blake3_keyed(cas_key_data(), buf, strlen(buf), want.bytes);
        cas_chunk_hash(buf, strlen(buf), &h);
        CHECK(cas_hash_equal(&h, &want) && memcmp(cas_key_data(), cas_key_internal_node(), 32) != 0);
    }
}

/* ---- zstd: the vendored decoder against Debian's zstd CLI ---- */
static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = (uint8_t *)t_xmalloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static void test_zstd(void) {
    static const char *modes[] = {"-q -19 -f %s -o %s.zst", "-q -1 -c < %s > %s.zst",
                                  "-q -3 --no-content-size -c < %s > %s.zst"};
    char tmp[64], cmd[512];
    size_t len = 3 << 20, zlen = 0, got = 0, m;
    uint8_t *data = (uint8_t *)t_xmalloc(len), *out = (uint8_t *)t_xmalloc(len + 16), *z;
    FILE *f;
    const char *skip = NULL;
    g_test = "zstd";
#ifdef __wasi__
    skip = "WASI has no processes to run the zstd CLI";
#else
    if (system("zstd --version > /dev/null 2>&1") != 0) skip = "the zstd CLI is not installed (apt-get install zstd)";
#endif
    if (skip) {
        fprintf(stderr, "SKIP zstd: %s\n", skip);
        free(data);
        free(out);
        return;
    }
#ifndef __wasi__
    snprintf(tmp, sizeof tmp, "/tmp/cas-zstd-%d", (int)getpid());
#endif
    t_generate("text", 9, data, len);
    f = fopen(tmp, "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f) fclose(f);
    for (m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        snprintf(cmd, sizeof cmd, "zstd ");
        snprintf(cmd + 5, sizeof cmd - 5, modes[m], tmp, tmp);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof cmd, "%s.zst", tmp);
        z = read_whole(cmd, &zlen);
        CHECK(z != NULL && cas_zstd_is_frame(z, zlen));
        if (!z) continue;
        memset(out, 0xCC, len + 16);
        CHECK(cas_zstd_decompress(NULL, z, zlen, out, len, &got) == CAS_OK && got == len &&
              !memcmp(out, data, len));
        CHECK(out[len] == 0xCC);
        CHECK(cas_zstd_decompress(NULL, z, zlen, out, len - 1, &got) == CAS_E_LIMIT);
        CHECK(cas_zstd_decompress(NULL, z, zlen / 2, out, len, &got) == CAS_E_ZSTD);
        z[zlen / 2] ^= 0x55;
        CHECK(cas_zstd_decompress(NULL, z, zlen, out, len, &got) != CAS_OK);
        free(z);
    }
    /* A window of 2^27 (streamed, size unknown) passes the 8 MiB limit: refused. */
    snprintf(cmd, sizeof cmd, "zstd -q --long=27 -c < %s > %s.zst", tmp, tmp);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s.zst", tmp);
    z = read_whole(cmd, &zlen);
    CHECK(z && cas_zstd_decompress(NULL, z, zlen, out, len, &got) == CAS_E_ZSTD);
    free(z);
    CHECK(!cas_zstd_is_frame("\x28\xb5\x2f", 3));
    remove(cmd);
    remove(tmp);
    free(data);
    free(out);
}

/* ---- xorbs ---- */

static void test_chunk_header(void) {
    uint8_t p[8];
    cas_chunk_header h, g;
    cas_error err;
    g_test = "chunk-header";
    h.version = 0; h.scheme = 2; h.compressed_size = 262144; h.uncompressed_size = 131072;
    cas_chunk_header_write(p, &h);
    CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 4 && p[4] == 2 && p[5] == 0 && p[6] == 0 && p[7] == 2);
    CHECK(cas_chunk_header_parse(p, 100, &g, &err) == CAS_OK && g.compressed_size == 262144 &&
          g.uncompressed_size == 131072 && g.scheme == 2 && err.code == CAS_OK);
    p[0] = 1;
    CHECK(cas_chunk_header_parse(p, 100, &g, &err) == CAS_E_CHUNK_VERSION && err.offset == 100);
    p[0] = 0; p[4] = 3;
    CHECK(cas_chunk_header_parse(p, 100, &g, &err) == CAS_E_CHUNK_SCHEME && err.offset == 104);
    p[4] = 1; p[5] = 1; /* uncompressed 131073: one past the limit */
    CHECK(cas_chunk_header_parse(p, 0, &g, &err) == CAS_E_CHUNK_SIZE && err.offset == 5);
    p[5] = 0; p[3] = 4; p[1] = 1; /* compressed 262145 */
    CHECK(cas_chunk_header_parse(p, 0, &g, &err) == CAS_E_CHUNK_SIZE && err.offset == 1);
    p[1] = 0; p[2] = 0; p[3] = 0; /* compressed 0 */
    CHECK(cas_chunk_header_parse(p, 0, &g, &err) == CAS_E_CHUNK_SIZE);
    h.scheme = 0; h.compressed_size = 5; h.uncompressed_size = 6; /* none with differing sizes */
    cas_chunk_header_write(p, &h);
    CHECK(cas_chunk_header_parse(p, 0, &g, &err) == CAS_E_CHUNK_SIZE);
    h.compressed_size = 6;
    cas_chunk_header_write(p, &h);
    CHECK(cas_chunk_header_parse(p, 0, &g, &err) == CAS_OK);
    h.uncompressed_size = h.compressed_size = 0;
    cas_chunk_header_write(p, &h);
    CHECK(cas_chunk_header_parse(p, 0, &g, &err) == CAS_E_CHUNK_SIZE);
}

/* A xorb of `size` bytes of `kind` data, built in memory (buffer sink). */
static uint8_t *build_xorb(const char *kind, uint64_t seed, size_t size, int scheme, int footer,
                           size_t *xlen, cas_hash *xhash, uint8_t **data_out) {
    uint8_t *data = (uint8_t *)t_xmalloc(size);
    size_t cap = size + size / 8 + 4096 + 48 * (size / 8192 + 2);
    cas_xorb_writer w;
    cas_sink sink;
    cas_chunker ch;
    size_t off = 0, start = 0;
    memset(&sink, 0, sizeof sink);
    sink.buf = (uint8_t *)t_xmalloc(cap);
    sink.cap = cap;
    t_generate(kind, seed, data, size);
    CHECK(cas_xorb_writer_init(NULL, &w, scheme, &sink) == CAS_OK);
    cas_chunker_init(&ch);
    while (off < size) {
        uint64_t cut;
        off += cas_chunker_scan(&ch, data + off, size - off, &cut);
        if (cut) {
            CHECK(cas_xorb_writer_add(&w, data + start, (size_t)cut, NULL) == CAS_OK);
            start += (size_t)cut;
        }
    }
    if (start < size) CHECK(cas_xorb_writer_add(&w, data + start, size - start, NULL) == CAS_OK);
    CHECK(cas_xorb_writer_finish(&w, footer, xhash) == CAS_OK);
    CHECK(cas_xorb_writer_add(&w, data, 1, NULL) == CAS_E_STATE);
    cas_xorb_writer_free(&w);
    *xlen = sink.len;
    if (data_out) *data_out = data;
    else free(data);
    return sink.buf;
}

typedef struct {
    uint8_t *out;
    size_t len;
    uint32_t count;
} walk_collect;
static int collect_chunk(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                         const uint8_t *data, const cas_hash *hash) {
    walk_collect *c = (walk_collect *)user;
    (void)offset; (void)hash;
    if (index != c->count) return -1000;
    memcpy(c->out + c->len, data, h->uncompressed_size);
    c->len += h->uncompressed_size;
    c->count++;
    return 0;
}

static void test_xorb_roundtrip(void) {
    static const char *kinds[] = {"random", "text", "zero", "lowent"};
    static const int requests[] = {CAS_COMPRESS_NONE, CAS_COMPRESS_LZ4, CAS_COMPRESS_BG4_LZ4, CAS_COMPRESS_AUTO};
    uint8_t *scratch = (uint8_t *)t_xmalloc(2 * CAS_CHUNK_MAX_SIZE);
    size_t k, sc, footer;
    g_test = "xorb-roundtrip";
    for (k = 0; k < 4; k++)
        for (sc = 0; sc < 4; sc++)
            for (footer = 0; footer < 2; footer++) {
                size_t size = 700000 + k * 13, xlen;
                uint8_t *data, *x = build_xorb(kinds[k], 50 + k, size, requests[sc], (int)footer, &xlen, NULL, &data);
                cas_hash xh, want;
                cas_xorb_info info;
                cas_error err;
                walk_collect col;
                cas_chunk_stream cs;
                cas_chunk list[64], c;
                size_t n = 0, off = 0;
                col.out = (uint8_t *)t_xmalloc(size);
                col.len = 0;
                col.count = 0;
                (void)xh;
                CHECK(cas_xorb_walk(x, xlen, scratch, collect_chunk, &col, &info, &err) == CAS_OK);
                CHECK(col.len == size && !memcmp(col.out, data, size));
                CHECK(info.has_footer == (int)footer && info.unpacked_size == size && info.num_chunks == col.count);
                /* the xorb hash is the Merkle hash of the chunks */
                cas_chunk_stream_init(&cs);
                while (off < size) {
                    off += cas_chunk_stream_push(&cs, data + off, size - off, &c);
                    if (c.size && n < 64) list[n++] = c;
                }
                if (cas_chunk_stream_finish(&cs, &c) && n < 64) list[n++] = c;
                cas_xorb_hash(list, n, &want);
                CHECK(cas_hash_equal(&want, &info.xorb_hash));
                /* streaming in random pieces == the walk */
                {
                    cas_xorb_stream st;
                    cas_xorb_stream_chunk out;
                    t_rng r;
                    size_t pos = 0, got = 0;
                    uint32_t chunks = 0;
                    int rc = CAS_OK;
                    r.state = k * 100 + sc;
                    CHECK(cas_xorb_stream_init(NULL, &st) == CAS_OK);
                    while (pos < xlen && rc >= 0) {
                        size_t piece = (size_t)(t_next(&r) % 20000) + 1, used;
                        if (piece > xlen - pos) piece = xlen - pos;
                        while (piece) {
                            rc = cas_xorb_stream_push(&st, x + pos, piece, &used, &out);
                            pos += used;
                            piece -= used;
                            if (rc == CAS_READY) {
                                CHECK(out.index == chunks && !memcmp(out.data, data + got, out.header.uncompressed_size));
                                got += out.header.uncompressed_size;
                                chunks++;
                            } else break;
                        }
                    }
                    CHECK(rc >= 0 && cas_xorb_stream_finish(&st) == CAS_OK && got == size && chunks == info.num_chunks);
                    cas_xorb_stream_free(&st);
                }
                free(col.out);
                free(data);
                free(x);
            }
    free(scratch);
}

/* Every truncation of a valid xorb fails cleanly; every byte flip outside the footer's
   nonce is caught; trailing bytes and segments behave. */
static void test_xorb_hostile(void) {
    uint8_t *scratch = (uint8_t *)t_xmalloc(2 * CAS_CHUNK_MAX_SIZE);
    size_t xlen, cut, i;
    cas_hash xh;
    cas_xorb_info info;
    cas_error err;
    int footer;
    g_test = "xorb-hostile";
    for (footer = 0; footer < 2; footer++) {
        uint8_t *x = build_xorb("text", 77, 40000, CAS_COMPRESS_AUTO, footer, &xlen, &xh, NULL);
        uint8_t *copy = (uint8_t *)t_xmalloc(xlen + 16);
        int bad = 0;
        CHECK(cas_xorb_walk(x, xlen, scratch, NULL, NULL, &info, &err) == CAS_OK && cas_hash_equal(&xh, &info.xorb_hash));
        /* Truncations: a prefix ending exactly at a record boundary is a valid segment; any
           other prefix must fail with an error code and offset. */
        for (cut = 0; cut < xlen; cut++) {
            uint8_t *t = (uint8_t *)t_xmalloc(cut + 1);
            int rc;
            memcpy(t, x, cut);
            rc = cas_xorb_walk(t, cut, scratch, NULL, NULL, &info, &err);
            if (rc == CAS_OK) {
                if (info.records_size != cut) bad++;
            } else if (rc >= 0 || err.code != rc || err.offset > cut) {
                bad++;
            }
            free(t);
        }
        CHECK_MSG(bad == 0, "footer %d: %d truncations misbehaved", footer, bad);
        /* Flips: every byte but the footer nonce (16 bytes before the length word). */
        bad = 0;
        for (i = 0; i < xlen; i++) {
            int rc;
            if (footer && i >= xlen - 4 - 16 && i < xlen - 4) continue;
            memcpy(copy, x, xlen);
            copy[i] ^= 0x20;
            rc = cas_xorb_walk(copy, xlen, scratch, NULL, NULL, &info, &err);
            /* A flip may re-encode the same bytes (an LZ4 match pointing at equal text): then
               the hash is unchanged. With a footer, every flip that changes the content must
               be refused (its chunk hashes); without one the walk reports the new hash. */
            if (rc == CAS_OK && footer && !cas_hash_equal(&info.xorb_hash, &xh)) bad++;
            if (rc < 0 && (err.code != rc || err.offset > xlen)) bad++;
        }
        CHECK_MSG(bad == 0, "footer %d: %d byte flips misreported", footer, bad);
        /* trailing garbage */
        memcpy(copy, x, xlen);
        memcpy(copy + xlen, "garbage!", 8);
        CHECK(cas_xorb_walk(copy, xlen + 8, scratch, NULL, NULL, &info, &err) < 0);
        free(copy);
        free(x);
    }
    /* a segment: the records from chunk 1 on are a valid segment */
    {
        uint8_t *x = build_xorb("random", 5, 300000, CAS_SCHEME_NONE, 0, &xlen, &xh, NULL);
        cas_chunk_header h;
        size_t pos = 0;
        const uint8_t *payload;
        CHECK(cas_xorb_next(x, xlen, &pos, &h, &payload, &err) == CAS_OK && pos == 8 + h.compressed_size);
        CHECK(cas_xorb_walk(x + pos, xlen - pos, scratch, NULL, NULL, &info, &err) == CAS_OK &&
              info.records_size == xlen - pos && !info.has_footer);
        free(x);
    }
    free(scratch);
}

/* The writer's limits: 8192 chunks, 64 MiB serialized. */
/* cas_xorb_writer_add_record (records compressed elsewhere, e.g. on threads): its checks,
   the chunk-count limit (not sticky), and a sink that refuses the footer. */
static int g_refuse_writes;
static int refusing_write(void *user, const void *data, size_t len) {
    (void)user, (void)data, (void)len;
    return g_refuse_writes ? CAS_E_LIMIT : 0;
}
static void test_xorb_records(void) {
    cas_xorb_writer w;
    cas_sink sink, null_sink;
    uint8_t rec[64];
    cas_hash h;
    uint32_t i;
    int rc = CAS_OK;
    g_test = "xorb-records";
    /* init refuses a missing sink and anything but a CAS_COMPRESS_* request (a stored scheme too) */
    memset(&null_sink, 0, sizeof null_sink);
    null_sink.write = refusing_write;
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, NULL) == CAS_E_ARGUMENT &&
          w.error.code == CAS_E_ARGUMENT && strstr(w.error.what, "no sink"));
    cas_xorb_writer_free(&w);
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_AUTO + 1, &null_sink) == CAS_E_ARGUMENT &&
          strstr(w.error.what, "not a CAS_COMPRESS_* request"));
    cas_xorb_writer_free(&w);
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_SCHEME_LZ4, &null_sink) == CAS_E_ARGUMENT);
    cas_xorb_writer_free(&w);
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_AUTO, &null_sink) == CAS_OK);
    cas_xorb_writer_free(&w);
    /* one record of a 5-byte stored chunk, from the writer itself */
    memset(&sink, 0, sizeof sink);
    sink.buf = rec, sink.cap = sizeof rec;
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &sink) == CAS_OK);
    CHECK(cas_xorb_writer_add(&w, "hello", 5, NULL) == CAS_OK && sink.len == 8 + 5);
    cas_xorb_writer_free(&w);
    cas_chunk_hash("hello", 5, &h);
    memset(&null_sink, 0, sizeof null_sink);
    null_sink.write = refusing_write;
    g_refuse_writes = 0;
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &null_sink) == CAS_OK);
    CHECK(cas_xorb_writer_add_record(&w, rec, 7, &h) == CAS_E_TRUNCATED);
    cas_xorb_writer_free(&w);
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &null_sink) == CAS_OK);
    CHECK(cas_xorb_writer_add_record(&w, rec, 14, &h) == CAS_E_SIZE && strstr(w.error.what, "length"));
    cas_xorb_writer_free(&w);
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &null_sink) == CAS_OK);
    for (i = 0; i < CAS_XORB_MAX_CHUNKS && rc == CAS_OK; i++) rc = cas_xorb_writer_add_record(&w, rec, 13, &h);
    CHECK(rc == CAS_OK);
    CHECK(cas_xorb_writer_add_record(&w, rec, 13, &h) == CAS_E_XORB_LIMIT && w.error.code == CAS_OK);
    g_refuse_writes = 1; /* the records went through; the footer does not */
    CHECK(cas_xorb_writer_finish(&w, 1, NULL) == CAS_E_LIMIT && strstr(w.error.what, "footer"));
    g_refuse_writes = 0;
    cas_xorb_writer_free(&w);
}

static void test_xorb_limits(void) {
    cas_xorb_writer w;
    cas_sink sink;
    uint8_t *chunk = (uint8_t *)t_xmalloc(CAS_CHUNK_MAX_SIZE);
    uint32_t i;
    int rc = CAS_OK;
    g_test = "xorb-limits";
    memset(&sink, 0, sizeof sink);
    sink.cap = 70u << 20;
    sink.buf = (uint8_t *)t_xmalloc(sink.cap);
    t_generate("random", 3, chunk, CAS_CHUNK_MAX_SIZE);
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &sink) == CAS_OK);
    for (i = 0; i < 8192 && rc == CAS_OK; i++) rc = cas_xorb_writer_add(&w, chunk, 1 + i % 7, NULL);
    CHECK(rc == CAS_OK && !cas_xorb_writer_fits(&w, 1));
    CHECK(cas_xorb_writer_add(&w, chunk, 1, NULL) == CAS_E_XORB_LIMIT);
    CHECK(w.error.code == CAS_OK); /* not sticky: the caller starts a new xorb */
    cas_xorb_writer_free(&w);
    /* 64 MiB: 511 records of 8 + 131072 bytes fit (66,981,880 bytes), then only a chunk of
       at most 67,108,864 - 66,981,880 - 8 = 126,976 bytes does. */
    sink.len = 0;
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &sink) == CAS_OK);
    for (i = 0; i < 511 && rc == CAS_OK; i++) rc = cas_xorb_writer_add(&w, chunk, CAS_CHUNK_MAX_SIZE, NULL);
    CHECK(rc == CAS_OK && cas_xorb_writer_size(&w) == 511u * (8 + CAS_CHUNK_MAX_SIZE) &&
          cas_xorb_writer_unpacked_size(&w) == 511u * CAS_CHUNK_MAX_SIZE);
    CHECK(cas_xorb_writer_fits(&w, 126976) && !cas_xorb_writer_fits(&w, 126977));
    CHECK(cas_xorb_writer_add(&w, chunk, 126977, NULL) == CAS_E_XORB_LIMIT);
    CHECK(cas_xorb_writer_add(&w, chunk, 126976, NULL) == CAS_OK && cas_xorb_writer_size(&w) == CAS_XORB_MAX_SIZE);
    CHECK(cas_xorb_writer_add(&w, chunk, 0, NULL) == CAS_E_CHUNK_SIZE);
    cas_xorb_writer_free(&w);
    /* A buffer sink that is too small: CAS_E_LIMIT, sticky */
    free(sink.buf);
    memset(&sink, 0, sizeof sink);
    sink.buf = chunk;
    sink.cap = 100;
    CHECK(cas_xorb_writer_init(NULL, &w, CAS_COMPRESS_NONE, &sink) == CAS_OK);
    CHECK(cas_xorb_writer_add(&w, chunk, 200, NULL) == CAS_E_LIMIT && w.error.code == CAS_E_LIMIT);
    CHECK(cas_xorb_writer_add(&w, chunk, 10, NULL) == CAS_E_LIMIT);
    cas_xorb_writer_free(&w);
    free(chunk);
}

/* Stored xorbs with xet-core's footer in its three versions, built here by hand from the
   layouts in xorb_object_format.rs: v0 (legacy), v1 (u32 fields; what our writer emits) and v2
   (u64 fields). */
typedef struct {
    uint32_t n;
    uint64_t ends[64], unpacked[64];
    cas_hash hashes[64];
} footer_src;
static int footer_collect(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                          const uint8_t *data, const cas_hash *hash) {
    footer_src *f = (footer_src *)user;
    (void)data;
    if (index >= 64) return -1000;
    f->ends[index] = offset + 8 + h->compressed_size;
    f->unpacked[index] = (index ? f->unpacked[index - 1] : 0) + h->uncompressed_size;
    f->hashes[index] = *hash;
    f->n = index + 1;
    return 0;
}
static size_t put_le(uint8_t *p, uint64_t v, int width) {
    int i;
    for (i = 0; i < width; i++) p[i] = (uint8_t)(v >> (8 * i));
    return (size_t)width;
}
static size_t make_footer(uint8_t *p, const footer_src *f, const cas_hash *xh, int version) {
    size_t at = 0, hs, bs, end;
    int w = version == 2 ? 8 : 4;
    uint32_t i;
    memcpy(p, "XETBLOB", 7);
    p[7] = (uint8_t)version;
    memcpy(p + 8, xh->bytes, 32);
    at = 40;
    if (version == 0) {
        at += put_le(p + at, f->n, 4);
        for (i = 0; i < f->n; i++) at += put_le(p + at, f->ends[i], 4);
        for (i = 0; i < f->n; i++) { memcpy(p + at, f->hashes[i].bytes, 32); at += 32; }
        memset(p + at, 0, 16);
        at += 16;
        return at + put_le(p + at, at, 4);
    }
    hs = at;
    memcpy(p + at, "XBLBHSH", 7); p[at + 7] = 0; at += 8;
    at += put_le(p + at, f->n, w);
    for (i = 0; i < f->n; i++) { memcpy(p + at, f->hashes[i].bytes, 32); at += 32; }
    bs = at;
    memcpy(p + at, "XBLBBND", 7); p[at + 7] = 1; at += 8;
    at += put_le(p + at, f->n, w);
    for (i = 0; i < f->n; i++) at += put_le(p + at, f->ends[i], w);
    for (i = 0; i < f->n; i++) at += put_le(p + at, f->unpacked[i], w);
    at += put_le(p + at, f->n, w);
    end = at + 2 * (size_t)w + 16;
    at += put_le(p + at, end - hs, w);
    at += put_le(p + at, end - bs, w);
    memset(p + at, 0, 16);
    at += 16;
    return at + put_le(p + at, at, w);
}

static void test_xorb_footers(void) {
    uint8_t *scratch = (uint8_t *)t_xmalloc(2 * CAS_CHUNK_MAX_SIZE);
    size_t xlen, flen, fwriter;
    cas_hash xh;
    cas_xorb_info info;
    cas_error err;
    footer_src src;
    int v;
    uint8_t *x = build_xorb("text", 31, 500000, CAS_COMPRESS_AUTO, 0, &xlen, &xh, NULL);
    uint8_t *xf = build_xorb("text", 31, 500000, CAS_COMPRESS_AUTO, 1, &fwriter, &xh, NULL);
    uint8_t *buf = (uint8_t *)t_xmalloc(xlen + 64 * 100 + 200);
    g_test = "xorb-footers";
    memset(&src, 0, sizeof src);
    CHECK(cas_xorb_walk(x, xlen, scratch, footer_collect, &src, &info, &err) == CAS_OK && src.n > 3);
    for (v = 0; v <= 2; v++) {
        cas_xorb_footer f;
        memcpy(buf, x, xlen);
        flen = make_footer(buf + xlen, &src, &xh, v);
        CHECK_MSG(cas_xorb_footer_find(buf, xlen + flen, &f, &err) == CAS_OK && f.version == (uint32_t)v &&
                  f.num_chunks == src.n && f.offset == xlen, "v%d: %s", v, err.what);
        CHECK_MSG(cas_xorb_walk(buf, xlen + flen, scratch, NULL, NULL, &info, &err) == CAS_OK &&
                  info.has_footer && info.records_size == xlen && cas_hash_equal(&info.xorb_hash, &xh),
                  "v%d walk: %s", v, err.what);
        if (v == 1) /* our writer's footer is byte-identical to the hand-built v1 */
            CHECK(fwriter == xlen + flen && !memcmp(xf, buf, fwriter));
        /* a footer listing one chunk hash wrong is refused */
        buf[xlen + (v == 0 ? 44 + 4 * src.n : 56) + 3] ^= 1;
        CHECK(cas_xorb_walk(buf, xlen + flen, scratch, NULL, NULL, &info, &err) == CAS_E_HASH);
        {   /* a well-formed footer that lists one chunk fewer, or one more, than the records:
               refused at the first record it lacks, or at the end of the records */
            footer_src fewer = src, more = src;
            fewer.n--;
            more.ends[src.n] = src.ends[src.n - 1] + 9;
            more.unpacked[src.n] = src.unpacked[src.n - 1] + 1;
            more.hashes[src.n] = src.hashes[0];
            more.n++;
            memcpy(buf, x, xlen);
            flen = make_footer(buf + xlen, &fewer, &xh, v);
            CHECK_MSG(cas_xorb_walk(buf, xlen + flen, scratch, NULL, NULL, &info, &err) == CAS_E_XORB_FOOTER &&
                      err.offset == src.ends[src.n - 2] && strstr(err.what, "more records than the xorb footer lists"),
                      "v%d, one fewer: %s at %llu", v, err.what, (unsigned long long)err.offset);
            flen = make_footer(buf + xlen, &more, &xh, v);
            CHECK_MSG(cas_xorb_walk(buf, xlen + flen, scratch, NULL, NULL, &info, &err) == CAS_E_XORB_FOOTER &&
                      err.offset == xlen && strstr(err.what, "fewer records than the xorb footer lists"),
                      "v%d, one more: %s at %llu", v, err.what, (unsigned long long)err.offset);
        }
    }
    {   /* v0 has no section sizes: its chunk count must give exactly the footer's length */
        cas_xorb_footer f;
        memcpy(buf, x, xlen);
        flen = make_footer(buf + xlen, &src, &xh, 0);
        t_store_le32(buf + xlen + 40, src.n + 1);
        CHECK(cas_xorb_footer_find(buf, xlen + flen, &f, &err) == CAS_E_XORB_FOOTER && err.offset == xlen + 40 &&
              strstr(err.what, "v0 chunk count"));
        t_store_le32(buf + xlen + 40, CAS_XORB_MAX_CHUNKS + 1);
        CHECK(cas_xorb_footer_find(buf, xlen + flen, &f, &err) == CAS_E_XORB_FOOTER && strstr(err.what, "v0 chunk count"));
    }
    {   /* the stream reader: a footer whose length word (its last 4 or 8 bytes) is not the
           length of what precedes it */
        cas_xorb_stream st;
        cas_xorb_stream_chunk out;
        size_t pos, used;
        int rc, damaged;
        for (damaged = 0; damaged <= 1; damaged++) {
            memcpy(buf, xf, fwriter);
            if (damaged) t_store_le32(buf + fwriter - 4, t_load_le32(buf + fwriter - 4) + 1);
            CHECK(cas_xorb_stream_init(NULL, &st) == CAS_OK);
            for (pos = 0, rc = CAS_OK; pos < fwriter && rc >= 0; pos += used)
                rc = cas_xorb_stream_push(&st, buf + pos, fwriter - pos, &used, &out);
            CHECK(rc == CAS_NEED_INPUT && pos == fwriter);
            if (damaged)
                CHECK(cas_xorb_stream_finish(&st) == CAS_E_XORB_FOOTER && st.error.code == CAS_E_XORB_FOOTER &&
                      strstr(st.error.what, "xorb footer length word"));
            else
                CHECK(cas_xorb_stream_finish(&st) == CAS_OK);
            cas_xorb_stream_free(&st);
        }
    }
    free(buf);
    free(x);
    free(xf);
    free(scratch);
}

/* Xorbs written by the TypeScript reference and re-framed with other writers' LZ4 layouts. */
static void test_xorb_reference(void) {
    FILE *f = t_open_vectors("xorbs/index.txt");
    char line[512];
    uint8_t *scratch = (uint8_t *)t_xmalloc(2 * CAS_CHUNK_MAX_SIZE);
    int n = 0;
    g_test = "xorb-reference";
    CHECK(f != NULL);
    if (!f) return;
    while (t_read_line(f, line, sizeof line)) {
        char name[128], xh[80], fh[80], path[512];
        unsigned chunks;
        size_t unpacked, len;
        cas_xorb_info info;
        cas_error err;
        walk_collect col;
        cas_chunk_stream cs;
        cas_chunk c;
        cas_merkle m;
        cas_hash h;
        size_t off = 0;
        uint8_t *x;
        FILE *xf;
        if (sscanf(line, "%127s %79s %u %zu %79s", name, xh, &chunks, &unpacked, fh) != 5) continue;
        snprintf(path, sizeof path, "%s/xorbs/%s", t_vector_dir(), name);
        xf = fopen(path, "rb");
        CHECK(xf != NULL);
        if (!xf) continue;
        x = (uint8_t *)t_xmalloc(1 << 20);
        len = fread(x, 1, 1 << 20, xf);
        fclose(xf);
        col.out = (uint8_t *)t_xmalloc(unpacked);
        col.len = 0;
        col.count = 0;
        CHECK_MSG(cas_xorb_walk(x, len, scratch, collect_chunk, &col, &info, &err) == CAS_OK, "%s: %s", name, err.what);
        CHECK_MSG(hash_is(&info.xorb_hash, xh) && info.num_chunks == chunks && col.len == unpacked, "%s", name);
        /* the content's file hash */
        cas_chunk_stream_init(&cs);
        cas_merkle_init(&m);
        while (off < col.len) {
            off += cas_chunk_stream_push(&cs, col.out + off, col.len - off, &c);
            if (c.size) cas_merkle_push(&m, &c);
        }
        if (cas_chunk_stream_finish(&cs, &c)) cas_merkle_push(&m, &c);
        cas_merkle_file_hash(&m, &h);
        CHECK_MSG(hash_is(&h, fh), "%s content", name);
        free(col.out);
        free(x);
        n++;
    }
    CHECK(n == 8);
    fclose(f);
    free(scratch);
}

int main(void) {
    test_hex();
    test_blake3();
    test_sha256();
    test_internal_node();
    test_chunking_vectors();
    test_chunker_vs_spec();
    test_merkle_vectors();
    test_merkle_streaming();
    test_hmac_and_dedup();
    test_zstd();
    test_chunk_header();
    test_xorb_roundtrip();
    test_xorb_hostile();
    test_xorb_records();
    test_xorb_limits();
    test_xorb_reference();
    test_xorb_footers();
    printf("cas.h %s (blake3 %s, sha256 %s, chunker %s)\n", cas_version(), cas_blake3_path(),
           cas_sha256_path(), cas_chunker_path());
    printf("%ld passed, %ld failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
