/* LZ4 / BG4 speed of cas.h against liblz4 on the same data.
   make bench (build/bench_lz4 [text files...]; liblz4 is the benchmark's peer, never linked
   into the library). Text: the files given (default: cas.h, tests/vectors and C headers), cut into
   64 KiB and 128 KiB chunks; floats: 16 MiB of N(0, 0.02)-like float32 weights. Best of 5. */
#define _POSIX_C_SOURCE 200809L
#define CAS_IMPLEMENTATION
#include "../cas.h"

#include <dirent.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t g_rng = 42;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
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
        double t0 = now();
        for (i = 0; i < nchunks; i++) {
            size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
            tlen[i] = (size_t)LZ4_compress_default((const char *)d->data + i * d->chunk, (char *)theirs + i * bound,
                                                   (int)n, (int)bound);
        }
        loops = (int)(0.15 / (now() - t0 + 1e-9)) + 1;
    }
    for (r = 0; r < REPS; r++) {
        int l;
        double t0 = now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                cas_lz4_block_compress(d->data + i * d->chunk, n, ours + i * bound, bound, &olen[i], 1, &table);
            }
        t_co[r] = (now() - t0) / loops;
        t0 = now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                tlen[i] = (size_t)LZ4_compress_default((const char *)d->data + i * d->chunk,
                                                       (char *)theirs + i * bound, (int)n, (int)bound);
            }
        t_ct[r] = (now() - t0) / loops;
    }
    for (i = 0; i < nchunks; i++) {
        tot_o += olen[i];
        tot_t += tlen[i];
    }
    loops *= 4;
    for (r = 0; r < REPS; r++) {
        int l;
        size_t got;
        double t0 = now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                if (cas_lz4_block_decompress(theirs + i * bound, tlen[i], out, 0, n, &got, NULL) || got != n) abort();
            }
        t_do[r] = (now() - t0) / loops;
        t0 = now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                if (LZ4_decompress_safe((const char *)theirs + i * bound, (char *)out, (int)tlen[i], (int)n) != (int)n)
                    abort();
            }
        t_dt[r] = (now() - t0) / loops;
        t0 = now();
        for (l = 0; l < loops; l++)
            for (i = 0; i < nchunks; i++) {
                size_t n = d->size - i * d->chunk < d->chunk ? d->size - i * d->chunk : d->chunk;
                if (cas_lz4_block_decompress(ours + i * bound, olen[i], out, 0, n, &got, NULL) || got != n) abort();
            }
        t_dx[r] = (now() - t0) / loops;
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
            double t0 = now();
            for (off = 0; off + 131072 <= size; off += 131072) cas_bg4_split(data + off, 131072, a);
            ts[r] = now() - t0;
            cas_bg4_split(data, 131072, a);
            t0 = now();
            for (off = 0; off + 131072 <= size; off += 131072) cas_bg4_regroup(data + off, 131072, b);
            tr[r] = now() - t0;
            t0 = now();
            for (off = 0; off + 131072 <= size; off += 131072)
                if (cas_bg4_predict(data + off, 131072) > 1) abort();
            tp[r] = now() - t0;
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
    /* the whole chunk path: AUTO scheme -> payload, then decode, as an uploader/downloader */
    cas_chunk_compressor *cc = malloc(sizeof *cc);
    uint8_t *dst = malloc(131072), *out = malloc(131072), *scratch = malloc(131072);
    size_t i, nchunks = d->size / d->chunk, total = 0;
    int used[3] = {0, 0, 0};
    double t0 = now(), tc, td;
    for (i = 0; i < nchunks; i++) {
        size_t len;
        int sch;
        cas_chunk_compress(cc, d->data + i * d->chunk, d->chunk, CAS_COMPRESS_AUTO, dst, d->chunk, &len, &sch);
        total += len;
        used[sch]++;
    }
    tc = now() - t0;
    t0 = now();
    for (i = 0; i < nchunks; i++) {
        size_t len;
        int sch;
        cas_chunk_compress(cc, d->data + i * d->chunk, d->chunk, CAS_COMPRESS_AUTO, dst, d->chunk, &len, &sch);
        if (cas_chunk_decompress(dst, len, sch, out, d->chunk, scratch, NULL)) abort();
    }
    td = now() - t0 - tc;
    printf("chunk AUTO %-10s ratio %.4f  none/lz4/bg4 %d/%d/%d  compress %.0f MB/s  decompress %.0f MB/s\n", d->name,
           (double)total / (double)(nchunks * d->chunk), used[0], used[1], used[2],
           (double)(nchunks * d->chunk) / tc / 1e6, (double)(nchunks * d->chunk) / td / 1e6);
    free(cc);
    free(dst);
    free(out);
    free(scratch);
}

int main(int argc, char **argv) {
    size_t cap = 16 << 20, tsize, i;
    uint8_t *text = malloc(cap), *flt = malloc(cap);
    dataset d;
    tsize = load_text(text, cap, argc, argv);
    for (i = 0; i + 4 <= cap; i += 4) {
        double s = 0;
        int k;
        float f;
        for (k = 0; k < 4; k++) s += (double)(rnd() >> 11) / 9007199254740992.0;
        f = (float)((s - 2.0) * 0.035);
        memcpy(flt + i, &f, 4);
    }
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
    free(text);
    free(flt);
    return 0;
}
