/* LZ4 / BG4 speed of cas.h against liblz4 on the same data, then whole files through xorbs.
   make bench (build/bench_lz4 [text files...]; liblz4 is the benchmark's peer, never linked
   into the library). Text: the files given (default: cas.h, tests/vectors and C headers), cut into
   64 KiB and 128 KiB chunks; floats: 16 MiB of N(0, 0.02)-like float32 weights. Best of 5.
   Xorbs: a file of each kind (text, float32 weights, random bytes) chunked, written into xorbs
   with cas_xorb_writer, then decoded back to the file's bytes with every chunk hash checked and
   the file hash computed; beside liblz4 (+ BLAKE3 for the decode) on the same chunks and
   blocks; on 8 MiB and on BENCH_MB MiB (tests/bench.h). */
#define _POSIX_C_SOURCE 200809L
#define CAS_IMPLEMENTATION
#include "../cas.h"
#include "bench.h"

#include <dirent.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 42;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* float32 weights, N(0, 0.02)-like: (the sum of 4 uniforms - 2) x 0.035, standard deviation
   0.0202, close to normal (as trained weights are: the byte holding the sign and most of the
   exponent takes few values, the low mantissa bytes are noise; what BG4 is for). */
static void fill_weights(uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        double s = 0;
        int k;
        float f;
        for (k = 0; k < 4; k++) s += (double)(rnd() >> 11) / 9007199254740992.0;
        f = (float)((s - 2.0) * 0.035);
        memcpy(p + i, &f, 4);
    }
}

static void fill_random(uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i += 8) {
        uint64_t v = rnd();
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
}

static size_t append_file(uint8_t *buf, size_t at, size_t cap, const char *path) {
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f) return at;
    n = fread(buf + at, 1, cap - at, f);
    fclose(f);
    return at + n;
}

static size_t load_text(uint8_t *buf, size_t cap, int argc, char **argv) {
    size_t at = 0;
    int i;
    if (argc > 1) {
        for (i = 1; i < argc; i++) at = append_file(buf, at, cap, argv[i]);
        return at;
    }
    {
        static const char *dirs[] = {"tests/vectors", "/usr/include", "/usr/include/linux",
                                     "/usr/include/x86_64-linux-gnu/bits"};
        size_t d;
        at = append_file(buf, at, cap, "cas.h");
        for (d = 0; d < sizeof dirs / sizeof dirs[0] && at < cap; d++) {
            DIR *dir = opendir(dirs[d]);
            struct dirent *e;
            if (!dir) continue;
            while ((e = readdir(dir)) && at < cap) {
                char path[1024];
                size_t l = strlen(e->d_name);
                if (l < 3 || (strcmp(e->d_name + l - 2, ".h") && strcmp(e->d_name + l - 3, ".md"))) continue;
                snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
                at = append_file(buf, at, cap, path);
            }
            closedir(dir);
        }
    }
    return at;
}

typedef struct {
    const uint8_t *data;
    size_t size, chunk;
    const char *name;
} dataset;

#define REPS 5

/* Each measurement loops over the data enough times to take ~0.15 s; best of REPS. */
static double best_mbps(double bytes, double secs[REPS]) {
    double b = secs[0];
    int i;
    for (i = 1; i < REPS; i++)
        if (secs[i] < b) b = secs[i];
    return bytes / b / 1e6;
}

static void bench_lz4(const dataset *d) {
    size_t nchunks = (d->size + d->chunk - 1) / d->chunk, i;
    size_t bound = cas_lz4_block_bound(d->chunk);
    uint8_t *ours = malloc(nchunks * bound), *theirs = malloc(nchunks * bound), *out = malloc(d->chunk + 64);
    size_t *olen = malloc(nchunks * sizeof *olen), *tlen = malloc(nchunks * sizeof *tlen);
    size_t tot_o = 0, tot_t = 0;
    cas_lz4_table table;
    double t_co[REPS], t_ct[REPS], t_do[REPS], t_dt[REPS], t_dx[REPS];
    int r, loops;
    /* how many passes make ~0.15 s of liblz4 compression */
    {
        double t0 = bench_now();
        for (i = 0; i < nchunks; i++) {
            size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
            tlen[i] = (size_t)LZ4_compress_default((const char *)d->data + i * d->chunk, (char *)theirs + i * bound,
                                                   (int)n, (int)bound);
        }
        loops = (int)(0.15 / (bench_now() - t0 + 1e-9)) + 1;
    }
    for (r = 0; r < REPS; r++) {
        int l;
        double t0 = bench_now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                cas_lz4_block_compress(d->data + i * d->chunk, n, ours + i * bound, bound, &olen[i], 1, &table);
            }
        t_co[r] = (bench_now() - t0) / loops;
        t0 = bench_now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                tlen[i] = (size_t)LZ4_compress_default((const char *)d->data + i * d->chunk,
                                                       (char *)theirs + i * bound, (int)n, (int)bound);
            }
        t_ct[r] = (bench_now() - t0) / loops;
    }
    for (i = 0; i < nchunks; i++) {
        tot_o += olen[i];
        tot_t += tlen[i];
    }
    loops *= 4;
    for (r = 0; r < REPS; r++) {
        int l;
        size_t got;
        double t0 = bench_now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                if (cas_lz4_block_decompress(theirs + i * bound, tlen[i], out, 0, n, &got, NULL) || got != n) abort();
            }
        t_do[r] = (bench_now() - t0) / loops;
        t0 = bench_now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                if (LZ4_decompress_safe((const char *)theirs + i * bound, (char *)out, (int)tlen[i], (int)n) != (int)n)
                    abort();
            }
        t_dt[r] = (bench_now() - t0) / loops;
        t0 = bench_now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                if (cas_lz4_block_decompress(ours + i * bound, olen[i], out, 0, n, &got, NULL) || got != n) abort();
            }
        t_dx[r] = (bench_now() - t0) / loops;
    }
    {
        double co = best_mbps((double)d->size, t_co), ct = best_mbps((double)d->size, t_ct);
        double dcas = best_mbps((double)d->size, t_do), dlib = best_mbps((double)d->size, t_dt);
        double dx = best_mbps((double)d->size, t_dx);
        printf("%-14s %4zu KiB chunks  ratio cas %.4f  liblz4 %.4f\n", d->name, d->chunk >> 10,
               (double)tot_o / (double)d->size, (double)tot_t / (double)d->size);
        printf("  compress     cas %7.0f MB/s  LZ4_compress_default %7.0f MB/s  = %.2fx\n", co, ct, co / ct);
        printf("  decompress   cas %7.0f MB/s  LZ4_decompress_safe  %7.0f MB/s  = %.2fx  (liblz4's blocks)\n",
               dcas, dlib, dcas / dlib);
        printf("  decompress   cas %7.0f MB/s  (cas's own blocks)\n", dx);
    }
    free(ours);
    free(theirs);
    free(out);
    free(olen);
    free(tlen);
}

static void bench_bg4(const uint8_t *data, size_t size) {
    uint8_t *a = malloc(131072), *b = malloc(131072);
    int path;
    for (path = 0; path < 2; path++) {
        double ts[REPS], tr[REPS], tp[REPS];
        int r;
        cas_cpu_limit(path ? ~0u : 0u);
        for (r = 0; r < REPS; r++) {
            size_t off;
            double t0 = bench_now();
            for (off = 0; off + 131072 <= size; off += 131072) cas_bg4_split(data + off, 131072, a);
            ts[r] = bench_now() - t0;
            cas_bg4_split(data, 131072, a);
            t0 = bench_now();
            for (off = 0; off + 131072 <= size; off += 131072) cas_bg4_regroup(data + off, 131072, b);
            tr[r] = bench_now() - t0;
            t0 = bench_now();
            for (off = 0; off + 131072 <= size; off += 131072)
                if (cas_bg4_predict(data + off, 131072) > 1) abort();
            tp[r] = bench_now() - t0;
        }
        printf("bg4 %-8s split %6.0f MB/s  regroup %6.0f MB/s  predictor %6.0f MB/s  (128 KiB chunks)\n",
               cas_bg4_path(), best_mbps((double)(size & ~(size_t)131071), ts),
               best_mbps((double)(size & ~(size_t)131071), tr), best_mbps((double)(size & ~(size_t)131071), tp));
    }
    cas_cpu_limit(~0u);
    free(a);
    free(b);
}

static void bench_chunks(const dataset *d) {
    /* the whole chunk path: AUTO scheme -> payload, then decode, as an uploader/downloader;
       each timed on its own (the payloads kept), best of REPS */
    cas_chunk_compressor *cc = malloc(sizeof *cc);
    size_t i, nchunks = d->size / d->chunk, total = 0;
    uint8_t *payloads = malloc(nchunks * d->chunk), *out = malloc(d->chunk), *scratch = malloc(d->chunk);
    size_t *lens = malloc(nchunks * sizeof *lens);
    int *schemes = malloc(nchunks * sizeof *schemes), used[3] = {0, 0, 0}, r;
    double tc[REPS], td[REPS], bytes = (double)(nchunks * d->chunk);
    for (r = 0; r < REPS; r++) {
        double t0 = bench_now();
        for (i = 0; i < nchunks; i++)
            cas_chunk_compress(cc, d->data + i * d->chunk, d->chunk, CAS_COMPRESS_AUTO, payloads + i * d->chunk, d->chunk,
                               &lens[i], &schemes[i]);
        tc[r] = bench_now() - t0;
        t0 = bench_now();
        for (i = 0; i < nchunks; i++)
            if (cas_chunk_decompress(payloads + i * d->chunk, lens[i], schemes[i], out, d->chunk, scratch, NULL)) abort();
        td[r] = bench_now() - t0;
    }
    for (i = 0; i < nchunks; i++) total += lens[i], used[schemes[i]]++;
    printf("chunk AUTO %-10s ratio %.4f  none/lz4/bg4 %d/%d/%d  compress %.0f MB/s  decompress %.0f MB/s\n", d->name,
           (double)total / bytes, used[0], used[1], used[2], best_mbps(bytes, tc), best_mbps(bytes, td));
    free(cc);
    free(payloads);
    free(out);
    free(scratch);
    free(lens);
    free(schemes);
}

/* ---- whole files through xorbs: the upload's compression and the download's decode ---- */

/* A file, its chunks (hash and size, as the upload's chunker found them), and the xorbs those
   were written into, back to back in one buffer (each at most CAS_XORB_MAX_SIZE). */
typedef struct {
    const uint8_t *data;
    size_t size;
    int scheme; /* the chunks are written with (the xorb writer stores a chunk uncompressed
                   when that scheme does not make it smaller) */
    cas_chunk *chunks;
    size_t nchunks;
    cas_hash file_hash;
    uint8_t *xorbs;
    size_t xorbs_cap, xorbs_size;
    size_t *xorb_start, nxorbs; /* xorb i: xorbs[xorb_start[i] .. xorb_start[i + 1]) */
    uint8_t *out;               /* the file decoded back */
    uint8_t *scratch;           /* 2 x CAS_CHUNK_MAX_SIZE: cas_xorb_walk's, and for BG4 */
} xorb_file;

static void xorb_fail(const char *what, const char *detail) {
    fprintf(stderr, "bench_lz4: %s: %s\n", what, detail ? detail : "failed");
    exit(1);
}

/* Chunks data[0..size) and computes its file hash (untimed: what the upload found); the
   buffers every step writes get their pages mapped now. */
static void xorb_file_open(xorb_file *f, const uint8_t *data, size_t size, int scheme) {
    cas_chunk_stream cs;
    cas_merkle m;
    cas_chunk c;
    size_t off = 0;
    memset(f, 0, sizeof *f);
    f->data = data, f->size = size, f->scheme = scheme;
    f->chunks = malloc((size / CAS_CHUNK_MIN_SIZE + 2) * sizeof *f->chunks);
    f->xorb_start = malloc((size / CAS_CHUNK_MIN_SIZE + 3) * sizeof *f->xorb_start);
    if (!f->chunks || !f->xorb_start) xorb_fail("chunk table", "out of memory");
    cas_chunk_stream_init(&cs);
    cas_merkle_init(&m);
    while (off < size) {
        off += cas_chunk_stream_push(&cs, data + off, size - off, &c);
        if (c.size) f->chunks[f->nchunks++] = c, cas_merkle_push(&m, &c);
    }
    if (cas_chunk_stream_finish(&cs, &c)) f->chunks[f->nchunks++] = c, cas_merkle_push(&m, &c);
    cas_merkle_file_hash(&m, &f->file_hash);
    /* records: at most 8 header bytes more than the chunk each, chunks >= 8 KiB but the last */
    f->xorbs_cap = size + size / 64 + ((size_t)1 << 20);
    f->xorbs = bench_alloc_touched(f->xorbs_cap);
    f->out = bench_alloc_touched(size);
    f->scratch = bench_alloc_touched(2 * CAS_CHUNK_MAX_SIZE);
}

static void xorb_file_close(xorb_file *f) {
    free(f->chunks);
    free(f->xorb_start);
    free(f->xorbs);
    free(f->out);
    free(f->scratch);
}

/* Ours: the file's chunks into xorbs with cas_xorb_writer (the chunk hashes given, as the
   upload engine gives them), a new xorb whenever the next chunk might not fit. */
static void encode_cas(xorb_file *f) {
    cas_xorb_writer w;
    cas_sink sink;
    const uint8_t *p = f->data;
    size_t i;
    int open = 0;
    f->xorbs_size = f->nxorbs = 0;
    for (i = 0; i < f->nchunks; i++) {
        size_t n = (size_t)f->chunks[i].size;
        if (open && !cas_xorb_writer_fits(&w, n)) {
            if (cas_xorb_writer_finish(&w, 0, NULL) != CAS_OK) xorb_fail("xorb writer", w.error.what);
            cas_xorb_writer_free(&w);
            f->xorbs_size += sink.len, f->nxorbs++, open = 0;
        }
        if (!open) {
            memset(&sink, 0, sizeof sink);
            sink.buf = f->xorbs + f->xorbs_size, sink.cap = f->xorbs_cap - f->xorbs_size;
            if (cas_xorb_writer_init(NULL, &w, f->scheme == CAS_SCHEME_BG4_LZ4 ? CAS_COMPRESS_BG4_LZ4 : CAS_COMPRESS_LZ4, &sink) != CAS_OK) xorb_fail("xorb writer", "init");
            f->xorb_start[f->nxorbs] = f->xorbs_size, open = 1;
        }
        if (cas_xorb_writer_add(&w, p, n, &f->chunks[i].hash) != CAS_OK) xorb_fail("xorb writer", w.error.what);
        p += n;
    }
    if (open) {
        if (cas_xorb_writer_finish(&w, 0, NULL) != CAS_OK) xorb_fail("xorb writer", w.error.what);
        cas_xorb_writer_free(&w);
        f->xorbs_size += sink.len, f->nxorbs++;
    }
    f->xorb_start[f->nxorbs] = f->xorbs_size;
}

/* The peer: liblz4 doing the same compression work per chunk (its byte groups first for BG4,
   with cas_bg4_split: there is no other implementation to hand), as one block of an LZ4
   frame, the chunk stored when that is not smaller; records back to back. It writes where
   encode_cas does, so encode_cas must run after it before anything decodes. */
#define LZ4_FRAME_ONE_BLOCK 15 /* header 7 (no content size), block size word 4, EndMark 4 */
static void encode_liblz4(xorb_file *f) {
    static const uint8_t frame_header[7] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82};
    uint8_t *rec = f->xorbs;
    const uint8_t *p = f->data;
    size_t i;
    for (i = 0; i < f->nchunks; i++) {
        size_t n = (size_t)f->chunks[i].size, len = n;
        uint8_t *payload = rec + CAS_CHUNK_HEADER_SIZE;
        cas_chunk_header h;
        h.scheme = CAS_SCHEME_NONE;
        if (f->scheme != CAS_SCHEME_NONE && n > LZ4_FRAME_ONE_BLOCK + 1) {
            const uint8_t *src = p;
            int c;
            if (f->scheme == CAS_SCHEME_BG4_LZ4) cas_bg4_split(p, n, f->scratch), src = f->scratch;
            c = LZ4_compress_default((const char *)src, (char *)payload + 11, (int)n,
                                     (int)(n - 1 - LZ4_FRAME_ONE_BLOCK));
            if (c > 0) {
                memcpy(payload, frame_header, 7);
                cas__store_le32(payload + 7, (uint32_t)c);
                cas__store_le32(payload + 11 + c, 0);
                len = (size_t)c + LZ4_FRAME_ONE_BLOCK, h.scheme = (uint8_t)f->scheme;
            }
        }
        if (h.scheme == CAS_SCHEME_NONE) memcpy(payload, p, n);
        h.version = 0, h.compressed_size = (uint32_t)len, h.uncompressed_size = (uint32_t)n;
        cas_chunk_header_write(rec, &h);
        rec += CAS_CHUNK_HEADER_SIZE + len, p += n;
    }
}

/* A decode in progress: the chunks accepted so far, in file order. */
typedef struct {
    xorb_file *f;
    size_t index, pos; /* chunks and bytes of the file done */
    cas_merkle m;
} decoding;

static void decoding_begin(decoding *d, xorb_file *f) {
    d->f = f, d->index = d->pos = 0;
    cas_merkle_init(&d->m);
}

/* One decoded chunk: its hash must be the one the upload found (what a shard or manifest
   lists); its bytes go to the file, copied unless decoded in place. */
static void decoding_accept(decoding *d, const uint8_t *bytes, size_t size, const cas_hash *hash) {
    const cas_chunk *want;
    if (d->index >= d->f->nchunks) xorb_fail("decode", "more chunks than were written");
    want = &d->f->chunks[d->index];
    if (size != want->size || !cas_hash_equal(hash, &want->hash)) xorb_fail("decode", "a chunk differs from the one written");
    if (bytes != d->f->out + d->pos) memcpy(d->f->out + d->pos, bytes, size);
    cas_merkle_push(&d->m, want);
    d->index++, d->pos += size;
}

/* Every chunk came back and the file hash is the file's. */
static void decoding_end(decoding *d) {
    cas_hash h;
    cas_merkle_file_hash(&d->m, &h);
    if (d->index != d->f->nchunks || d->pos != d->f->size || !cas_hash_equal(&h, &d->f->file_hash))
        xorb_fail("decode", "the file hash differs");
}

static int walk_chunk(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h, const uint8_t *data,
                      const cas_hash *hash) {
    (void)index, (void)offset;
    decoding_accept((decoding *)user, data, h->uncompressed_size, hash);
    return 0;
}

/* Ours, a xorb in memory: cas_xorb_walk decodes each record into its scratch and hashes it. */
static void decode_walk(xorb_file *f) {
    decoding d;
    size_t i;
    decoding_begin(&d, f);
    for (i = 0; i < f->nxorbs; i++) {
        cas_xorb_info info;
        cas_error err;
        if (cas_xorb_walk(f->xorbs + f->xorb_start[i], f->xorb_start[i + 1] - f->xorb_start[i], f->scratch,
                          walk_chunk, &d, &info, &err) != CAS_OK)
            xorb_fail("cas_xorb_walk", err.what);
    }
    decoding_end(&d);
}

/* Ours, as the download engine reads a response: cas_xorb_stream fed 64 KiB pieces (what
   `cas unpack` pushes), each chunk it hands out hashed with cas_chunk_hash. */
#define STREAM_PIECE 65536
static void decode_stream(xorb_file *f) {
    decoding d;
    size_t i;
    decoding_begin(&d, f);
    for (i = 0; i < f->nxorbs; i++) {
        const uint8_t *p = f->xorbs + f->xorb_start[i];
        size_t left = f->xorb_start[i + 1] - f->xorb_start[i];
        cas_xorb_stream s;
        if (cas_xorb_stream_init(NULL, &s) != CAS_OK) xorb_fail("cas_xorb_stream", "init");
        while (left) {
            size_t piece = left < STREAM_PIECE ? left : STREAM_PIECE;
            left -= piece;
            while (piece) {
                cas_xorb_stream_chunk ch;
                cas_hash h;
                size_t used;
                int rc = cas_xorb_stream_push(&s, p, piece, &used, &ch);
                p += used, piece -= used;
                if (rc == CAS_NEED_INPUT) break;
                if (rc != CAS_READY) xorb_fail("cas_xorb_stream", s.error.what);
                cas_chunk_hash(ch.data, ch.header.uncompressed_size, &h);
                decoding_accept(&d, ch.data, ch.header.uncompressed_size, &h);
            }
        }
        if (cas_xorb_stream_finish(&s) != CAS_OK) xorb_fail("cas_xorb_stream", "ends inside a record");
        cas_xorb_stream_free(&s);
    }
    decoding_end(&d);
}

/* The peer: each record's one LZ4 block (the frame around it skipped, not checked) decoded by
   LZ4_decompress_safe straight into the file (regrouped from the scratch for BG4), or a stored
   chunk copied there, then hashed by the vendored BLAKE3 called directly. (The record
   headers are read with cas_xorb_next: 8 bytes a chunk.) */
static void decode_liblz4(xorb_file *f) {
    decoding d;
    size_t pos = 0;
    decoding_begin(&d, f);
    while (pos < f->xorbs_size) {
        cas_chunk_header h;
        const uint8_t *payload;
        uint8_t *dst = f->out + d.pos;
        cas__blake3_hasher b;
        cas_hash hash;
        size_t n;
        if (cas_xorb_next(f->xorbs, f->xorbs_size, &pos, &h, &payload, NULL) != CAS_OK)
            xorb_fail("peer decode", "bad record");
        n = h.uncompressed_size;
        if (d.pos + n > f->size) xorb_fail("peer decode", "more bytes than the file");
        if (h.scheme == CAS_SCHEME_NONE) {
            memcpy(dst, payload, n);
        } else {
            uint8_t *to = h.scheme == CAS_SCHEME_BG4_LZ4 ? f->scratch : dst;
            uint32_t word = cas__load_le32(payload + 7), blen = word & 0x7FFFFFFFu;
            if (h.compressed_size != blen + LZ4_FRAME_ONE_BLOCK) xorb_fail("peer decode", "not a one-block frame");
            if (word & 0x80000000u) memcpy(to, payload + 11, n);
            else if (LZ4_decompress_safe((const char *)payload + 11, (char *)to, (int)blen, (int)n) != (int)n)
                xorb_fail("peer decode", "LZ4_decompress_safe");
            if (to != dst) cas_bg4_regroup(to, n, dst);
        }
        cas__blake3_hasher_init_keyed(&b, cas_key_data());
        cas__blake3_hasher_update(&b, dst, n);
        cas__blake3_hasher_finalize(&b, hash.bytes, CAS_HASH_SIZE);
        decoding_accept(&d, dst, n, &hash);
    }
    decoding_end(&d);
}

/* Best seconds per pass of each of steps[0..n) over f, best of REPS: within a repetition the
   steps run in turn (so that all see the same disturbances), each for as many passes as take
   ~0.1 s (one, on a file-sized input); an untimed first pass of each says how many. */
typedef void (*file_step)(xorb_file *f);
#define STEP_SECONDS 0.1
static void best_seconds(xorb_file *f, const file_step *steps, int n, double *best) {
    int loops[4], i, r, l;
    for (i = 0; i < n; i++) {
        double t0 = bench_now();
        steps[i](f);
        loops[i] = (int)(STEP_SECONDS / (bench_now() - t0 + 1e-9)) + 1;
        best[i] = 1e30;
    }
    for (r = 0; r < REPS; r++)
        for (i = 0; i < n; i++) {
            double t0 = bench_now(), t;
            for (l = 0; l < loops[i]; l++) steps[i](f);
            t = (bench_now() - t0) / loops[i];
            if (t < best[i]) best[i] = t;
        }
}

/* GB/s of one file: encode (ours, peer), decode + verify (walk, stream, peer). */
typedef struct {
    double encode, encode_peer, walk, stream, decode_peer;
} xorb_speeds;
static void measure_xorb_file(xorb_file *f, xorb_speeds *s) {
    static const file_step encode[2] = {encode_liblz4, encode_cas}; /* ours last: then decoded */
    static const file_step decode[3] = {decode_walk, decode_stream, decode_liblz4};
    double e[2], d[3], gb = (double)f->size / 1e9;
    best_seconds(f, encode, 2, e);
    best_seconds(f, decode, 3, d);
    s->encode = gb / e[1], s->encode_peer = gb / e[0];
    s->walk = gb / d[0], s->stream = gb / d[1], s->decode_peer = gb / d[2];
}

/* How many of f's chunks each scheme stored. */
static void count_schemes(const xorb_file *f, unsigned counts[3]) {
    size_t pos = 0;
    cas_chunk_header h;
    const uint8_t *payload;
    counts[0] = counts[1] = counts[2] = 0;
    while (cas_xorb_next(f->xorbs, f->xorbs_size, &pos, &h, &payload, NULL) == CAS_OK) counts[h.scheme]++;
}

/* text (the files' text repeated to the size), float32 weights, random bytes: each as a file
   of 8 MiB (cache-resident) and of BENCH_MB MiB. */
static void bench_xorbs(const uint8_t *text, size_t tsize) {
    static const struct {
        const char *name, *encode_peer, *decode_peer;
        int scheme;
    } kinds[3] = {
        {"text", "LZ4_compress_default", "LZ4_decompress_safe + BLAKE3", CAS_SCHEME_LZ4},
        {"float32", "bg4 split + LZ4_compress_default", "LZ4_decompress_safe+regroup+BLAKE3", CAS_SCHEME_BG4_LZ4},
        {"random", "LZ4_compress_default (no gain)", "memcpy + BLAKE3", CAS_SCHEME_LZ4}};
    static const char *scheme_names[3] = {"none", "LZ4", "BG4+LZ4"};
    size_t file_size = bench_file_bytes(), cached_size = file_size < (8u << 20) ? file_size : 8u << 20, k;
    xorb_speeds cached[3], file[3];
    char notes[3][200];
    if (!tsize) xorb_fail("text", "no text files found (run from the repository root)");
    for (k = 0; k < 3; k++) {
        uint8_t *data = bench_alloc_touched(file_size);
        xorb_file f;
        unsigned counts[3];
        size_t at;
        if (k == 0)
            for (at = 0; at < file_size; at += tsize) memcpy(data + at, text, file_size - at < tsize ? file_size - at : tsize);
        else if (k == 1) fill_weights(data, file_size);
        else fill_random(data, file_size);
        xorb_file_open(&f, data, cached_size, kinds[k].scheme);
        measure_xorb_file(&f, &cached[k]);
        xorb_file_close(&f);
        xorb_file_open(&f, data, file_size, kinds[k].scheme);
        measure_xorb_file(&f, &file[k]);
        count_schemes(&f, counts);
        snprintf(notes[k], sizeof notes[k],
                 "%-7s scheme %s asked: %zu chunks in %zu xorbs, %.4f of the size; stored none/lz4/bg4 %u/%u/%u",
                 kinds[k].name, scheme_names[kinds[k].scheme], f.nchunks, f.nxorbs,
                 (double)f.xorbs_size / (double)f.size, counts[0], counts[1], counts[2]);
        xorb_file_close(&f);
        free(data);
    }
    bench_file_table_header("Xorbs: a file's chunks written (cas_xorb_writer), then decoded back with each chunk hash "
                            "checked and the file hash computed", cached_size, file_size);
    for (k = 0; k < 3; k++) {
        char what[64];
        snprintf(what, sizeof what, "%s: encode, cas_xorb_writer", kinds[k].name);
        bench_file_row(what, cached[k].encode, file[k].encode, kinds[k].encode_peer, cached[k].encode_peer,
                       file[k].encode_peer);
        snprintf(what, sizeof what, "%s: decode, cas_xorb_walk", kinds[k].name);
        bench_file_row(what, cached[k].walk, file[k].walk, kinds[k].decode_peer, cached[k].decode_peer,
                       file[k].decode_peer);
        snprintf(what, sizeof what, "%s: decode, cas_xorb_stream", kinds[k].name);
        bench_file_row(what, cached[k].stream, file[k].stream, kinds[k].decode_peer, cached[k].decode_peer,
                       file[k].decode_peer);
    }
    printf("\n");
    for (k = 0; k < 3; k++) printf("%s\n", notes[k]);
    printf("(text: %zu bytes of text files, repeated; the stream is pushed %d KiB at a time)\n", tsize,
           STREAM_PIECE >> 10);
}

int main(int argc, char **argv) {
    size_t cap = 16 << 20, tsize, i;
    uint8_t *text = malloc(cap), *flt = malloc(cap);
    dataset d;
    tsize = load_text(text, cap, argc, argv);
    fill_weights(flt, cap);
    printf("text: %zu bytes; float32: %zu bytes; bg4 path %s\n\n", tsize, cap, cas_bg4_path());
    d.data = text; d.size = tsize; d.name = "text"; d.chunk = 65536;
    bench_lz4(&d);
    d.chunk = 131072;
    bench_lz4(&d);
    d.data = flt; d.size = cap; d.name = "float32"; d.chunk = 65536;
    bench_lz4(&d);
    {
        uint8_t *g = malloc(cap);
        for (i = 0; i + 131072 <= cap; i += 131072) cas_bg4_split(flt + i, 131072, g + i);
        d.data = g; d.name = "float32-bg4"; d.chunk = 131072;
        bench_lz4(&d);
        free(g);
    }
    printf("\n");
    bench_bg4(flt, cap);
    printf("\n");
    d.data = text; d.size = tsize; d.name = "text"; d.chunk = 65536;
    bench_chunks(&d);
    d.data = flt; d.size = cap; d.name = "float32";
    bench_chunks(&d);
    bench_xorbs(text, tsize);
    free(text);
    free(flt);
    return 0;
}
