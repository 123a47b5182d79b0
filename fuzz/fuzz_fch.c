/* Range verification on arbitrary bytes. data[0]: the index of an allocation to fail (255:
   none); data[1] bit 0 picks the mode.
   Mode 0: the rest is a GET /v2/file-chunk-hashes body. Oracles: no crash/UB/leak; a failed
   allocation surfaces as CAS_E_NOMEM and nothing else does; an accepted response has the
   documented shape; verifying it against made-up window chunks and a made-up file hash never
   succeeds (the file hash is not the one of any tree), and merging its gaps (where their flags
   allow) never fails but for CAS_E_NOMEM.
   Mode 1: the rest is a list of chunks (per chunk 5 bytes: hash seed, size) cut at fuzzer-chosen
   points. Oracles: the pieces' subtrees merged left to right give cas_xorb_hash of the whole
   list, and an honest response (gaps from cas_subtree_from_chunks) verifies. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

static void mode_response(const uint8_t *body, size_t len, long fail_at) {
    t_counting fa;
    cas_allocator al = t_counting_allocator(&fa, fail_at);
    cas_file_chunk_hashes r;
    cas_error e;
    size_t i, k;
    int rc = cas_file_chunk_hashes_parse(&al, body, len, NULL, &r, &e);
    REQUIRE(e.code == rc && rc <= 0);
    REQUIRE(fa.failed ? rc == CAS_E_NOMEM : rc != CAS_E_NOMEM);
    if (rc != CAS_OK) {
        REQUIRE(fa.live == 0 && r.priv_block == NULL);
        return;
    }
    REQUIRE(r.num_windows >= 1 && r.gaps != NULL);
    for (i = 0; i < r.num_windows; i++) {
        REQUIRE(r.windows[i].start < r.windows[i].end && r.windows[i].end <= r.file_size);
        if (i) REQUIRE(r.windows[i].start >= r.windows[i - 1].end);
    }
    for (i = 0; i <= r.num_windows; i++) {
        const cas_subtree *g = &r.gaps[i];
        uint64_t sum = 0;
        for (k = 0; k < 2 * g->num_levels; k++) sum += g->levels[k];
        REQUIRE(sum == g->num_nodes && g->num_nodes <= CAS_SUBTREE_MAX_NODES && g->num_levels <= CAS_SUBTREE_MAX_LEVELS);
    }
    {   /* made-up chunks: one per window, of its length */
        cas_chunk *c = (cas_chunk *)t_xmalloc(r.num_windows * sizeof *c);
        const cas_chunk **wc = (const cas_chunk **)t_xmalloc(r.num_windows * sizeof *wc);
        size_t *wn = (size_t *)t_xmalloc(r.num_windows * sizeof *wn);
        cas_hash fh;
        memset(&fh, 0x5a, sizeof fh);
        for (i = 0; i < r.num_windows; i++) {
            memset(&c[i].hash, (int)i, sizeof c[i].hash);
            c[i].size = r.windows[i].end - r.windows[i].start;
            wc[i] = &c[i], wn[i] = 1;
        }
        rc = cas_file_chunk_hashes_verify(&al, &r, wc, wn, &fh, &e);
        REQUIRE(rc == CAS_E_HASH || rc == CAS_E_JSON_VALUE || rc == CAS_E_NOMEM);
        REQUIRE(e.code == rc);
        free(c), free(wc), free(wn);
    }
    for (i = 0; i + 1 <= r.num_windows; i++) { /* neighbouring gaps merged as if adjacent */
        cas_subtree m;
        const cas_subtree *x = &r.gaps[i], *y = &r.gaps[i + 1];
        rc = cas_subtree_merge(&al, x, y, &m);
        if (x->at_end || y->at_start) REQUIRE(rc == CAS_E_ARGUMENT);
        else REQUIRE(rc == CAS_OK || rc == CAS_E_NOMEM);
        if (rc == CAS_OK) {
            cas_hash root;
            int rr = cas_subtree_root(&m, &root);
            REQUIRE(rr == CAS_OK || rr == CAS_E_STATE);
            REQUIRE(cas_subtree_size(&m) == cas_subtree_size(x) + cas_subtree_size(y) ||
                    cas_subtree_size(x) > UINT64_MAX / 2 || cas_subtree_size(y) > UINT64_MAX / 2);
        }
        cas_subtree_free(&m);
    }
    cas_file_chunk_hashes_free(&r);
    REQUIRE(fa.live == 0);
}

static void mode_chunks(const uint8_t *p, size_t len, long fail_at) {
    size_t n = len / 5, i, k, cuts[8], ncut = 0;
    cas_chunk *c = (cas_chunk *)t_xmalloc((n ? n : 1) * sizeof *c);
    cas_subtree acc, piece, m;
    cas_hash want, root;
    t_counting fa;
    cas_allocator al = t_counting_allocator(&fa, fail_at);
    int rc = CAS_OK;
    for (i = 0; i < n; i++) {
        t_rng r;
        r.state = p[5 * i];
        t_fill_random(&r, c[i].hash.bytes, 32);
        c[i].hash.bytes[24] = p[5 * i + 1]; /* the cut bits: chosen by the fuzzer */
        c[i].size = 1 + ((uint64_t)p[5 * i + 2] << 16 | (uint64_t)p[5 * i + 3] << 8 | p[5 * i + 4]) % 131072;
    }
    /* cut points: the chunks whose seed byte is odd, at most 7 */
    for (i = 1; i < n && ncut < 7; i++)
        if (p[5 * i] & 1) cuts[ncut++] = i;
    cas_xorb_hash(c, n, &want);
    memset(&acc, 0, sizeof acc);
    for (k = 0; k <= ncut && rc == CAS_OK; k++) {
        size_t a = k ? cuts[k - 1] : 0, b = k < ncut ? cuts[k] : n;
        rc = cas_subtree_from_chunks(&al, k == 0, c + a, b - a, k == ncut, &piece);
        if (rc != CAS_OK) break;
        if (k == 0) { acc = piece; continue; }
        rc = cas_subtree_merge(&al, &acc, &piece, &m);
        cas_subtree_free(&piece);
        cas_subtree_free(&acc);
        acc = m;
    }
    REQUIRE(fa.failed ? rc == CAS_E_NOMEM : rc == CAS_OK);
    if (rc == CAS_OK) {
        REQUIRE(cas_subtree_root(&acc, &root) == CAS_OK);
        REQUIRE(cas_hash_equal(&root, &want));
    }
    cas_subtree_free(&acc);
    REQUIRE(fa.live == 0);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    long fail_at;
    if (size < 2) return 0;
    fail_at = data[0] == 255 ? -1 : data[0];
    if (data[1] & 1) mode_chunks(data + 2, size - 2, fail_at);
    else mode_response(data + 2, size - 2, fail_at);
    return 0;
}
