/* What the benchmarks (tests/bench.c, tests/bench_lz4.c) share: the clock, the size of the
   file-sized runs, buffers whose pages are already mapped, and the table of file-sized rows.
   The tables only print: nothing here asserts a speed. */
#ifndef CAS_BENCH_H
#define CAS_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x) /* a macro's value as a string literal */

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The file-sized runs: BENCH_MB MiB (default 256), far more than the 8 MiB cache-resident
   inputs, so that the data streams from memory as a file being read or written does. */
#define BENCH_FILE_MB_DEFAULT 256
static inline size_t bench_file_bytes(void) {
    const char *s = getenv("BENCH_MB");
    long mb = s ? strtol(s, NULL, 10) : BENCH_FILE_MB_DEFAULT;
    if (mb < 1) mb = BENCH_FILE_MB_DEFAULT;
    return (size_t)mb << 20;
}

/* n bytes with every page written once, so that no measurement times page faults. */
static inline void *bench_alloc_touched(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    memset(p, 0, n);
    return p;
}

/* The file-sized table: each row's throughput on the cache-resident input and on the
   file-sized one, its peer's on the same two, and the speed ratios (ours / peer; > 1 = we
   are faster). Figures in GB/s (1e9 bytes); peer NULL: a row without one. */
static inline void bench_file_table_header(const char *title, size_t cached_bytes, size_t file_bytes) {
    printf("\n%s: GB/s on %zu MiB (cache-resident) and on %zu MiB (out of the caches, pages mapped "
           "before timing)\n\n", title, cached_bytes >> 20, file_bytes >> 20);
    printf("| %-40s | %6s | %6s | %-36s | %6s | %6s | %6s | %6s |\n", "what", "cached", "file", "peer (same run)",
           "cached", "file", "ratio", "file");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------------", "--------", "--------",
           "--------------------------------------", "--------", "--------", "--------", "--------");
}
static inline void bench_file_row(const char *what, double cached_gbs, double file_gbs, const char *peer,
                                  double peer_cached_gbs, double peer_file_gbs) {
    if (!peer) {
        printf("| %-40s | %6.2f | %6.2f | %-36s | %6s | %6s | %6s | %6s |\n", what, cached_gbs, file_gbs, "-", "-",
               "-", "-", "-");
        return;
    }
    printf("| %-40s | %6.2f | %6.2f | %-36s | %6.2f | %6.2f | %5.2fx | %5.2fx |\n", what, cached_gbs, file_gbs, peer,
           peer_cached_gbs, peer_file_gbs, cached_gbs / peer_cached_gbs, file_gbs / peer_file_gbs);
}

#endif
