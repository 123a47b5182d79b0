/* `make bench`: throughput of the primitives, each beside a named peer measured in the same
   run on the same bytes, with the ratio. Prints a table; asserts nothing. Then the rows that
   stand for a whole file (chunk + hash, SHA-256) again on BENCH_MB MiB (tests/bench.h). */
#define _DEFAULT_SOURCE /* MAP_POPULATE (glibc) */
#define _POSIX_C_SOURCE 200809L
#define CAS_IMPLEMENTATION
#include "testlib.h"
#include "bench.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef HAVE_OPENSSL
#include <openssl/sha.h>
#endif

/* An 8 MiB input (cache-resident, as a file read in pieces is) processed CACHED_PASSES times
   per measurement; best of CACHED_REPEAT measurements. Many short measurements: on a shared
   (virtual) machine the best of them is the one least disturbed. The file-sized input is
   processed once per measurement (one pass is already 0.1 s or more), best of FILE_REPEAT. */
#define DATA_SIZE (8u << 20)
#define CACHED_PASSES 4
#define CACHED_REPEAT 15
#define FILE_REPEAT 5

/* The input being measured: the cache-resident one or the file-sized one, with how many
   passes make a measurement and how many measurements are taken. */
static uint8_t *g_data;
static size_t g_len;
static int g_passes = CACHED_PASSES, g_repeat = CACHED_REPEAT;
static volatile uint64_t g_sink;

static double seconds(void (*fn)(void)) {
    double t0 = bench_now();
    int k;
    for (k = 0; k < g_passes; k++) fn();
    return bench_now() - t0;
}

/* Best-of-g_repeat throughput in MB/s (1e6 bytes) of fn, and of its peer if any, over g_data:
   their measurements alternate, so that both see the same disturbances. */
static double measure2(void (*fn)(void), void (*peer)(void), double *peer_mbs) {
    double best = 1e30, best_peer = 1e30, t;
    int r;
    for (r = 0; r < g_repeat; r++) {
        if ((t = seconds(fn)) < best) best = t;
        if (peer && (t = seconds(peer)) < best_peer) best_peer = t;
    }
    if (peer) *peer_mbs = (double)g_len * g_passes / best_peer / 1e6;
    return (double)g_len * g_passes / best / 1e6;
}
static double measure(void (*fn)(void)) { return measure2(fn, NULL, NULL); }

/* The baseline: chunking.md's byte loop, in a function of its own so that it is compiled
   as well as the compiler can (inlined into the caller, gcc -O3 made it 1.6x slower). */
static __attribute__((noinline)) size_t spec_chunk_count(const uint8_t *data, size_t len) {
    uint64_t sizes[1];
    return t_spec_chunk(cas__gear, data, len, sizes, 0);
}
static void run_spec_chunker(void) { g_sink += spec_chunk_count(g_data, g_len); }

static void run_chunker(void) {
    cas_chunker c;
    size_t off = 0, n = 0;
    uint64_t cut;
    cas_chunker_init(&c);
    while (off < g_len) {
        off += cas_chunker_scan(&c, g_data + off, g_len - off, &cut);
        n += cut != 0;
    }
    g_sink += n + cas_chunker_finish(&c);
}

/* Chunk boundaries of g_data, computed once, so hashing alone can be timed. */
static uint64_t *g_sizes;
static size_t g_nchunks;

static void run_chunk_hash(void) {
    size_t i, off = 0;
    cas_hash h;
    for (i = 0; i < g_nchunks; i++) {
        cas_chunk_hash(g_data + off, (size_t)g_sizes[i], &h);
        off += (size_t)g_sizes[i];
        g_sink += h.bytes[0];
    }
}

/* The vendored BLAKE3 called directly, keyed, on the same chunk boundaries. */
static void run_blake3_direct(void) {
    size_t i, off = 0;
    uint8_t out[32];
    for (i = 0; i < g_nchunks; i++) {
        cas__blake3_hasher h;
        cas__blake3_hasher_init_keyed(&h, cas_key_data());
        cas__blake3_hasher_update(&h, g_data + off, (size_t)g_sizes[i]);
        cas__blake3_hasher_finalize(&h, out, 32);
        off += (size_t)g_sizes[i];
        g_sink += out[0];
    }
}

/* The peer of cas_chunk_stream: the chunker, then each chunk hashed (as before the fused
   path, and as on CPUs without AVX-512). */
static void run_chunk_then_hash(void) {
    cas_chunker c;
    size_t off = 0, start = 0;
    uint64_t cut;
    cas_hash h;
    cas_chunker_init(&c);
    while (off < g_len) {
        off += cas_chunker_scan(&c, g_data + off, g_len - off, &cut);
        if (cut) {
            cas_chunk_hash(g_data + start, (size_t)cut, &h);
            start += (size_t)cut;
            g_sink += h.bytes[0];
        }
    }
    if (cas_chunker_finish(&c)) {
        cas_chunk_hash(g_data + start, g_len - start, &h);
        g_sink += h.bytes[0];
    }
}

/* cas_chunk_stream pushed in pieces of `piece` bytes (0: the whole input at once), as a read()
   loop or a socket hands them over. */
static void chunk_and_hash_pieces(size_t piece) {
    static cas_chunk_stream s; /* ~19 KiB */
    cas_chunk c;
    size_t off = 0;
    cas_chunk_stream_init(&s);
    while (off < g_len) {
        size_t end = piece && g_len - off > piece ? off + piece : g_len;
        while (off < end) {
            off += cas_chunk_stream_push(&s, g_data + off, end - off, &c);
            g_sink += c.size;
        }
    }
    g_sink += (uint64_t)cas_chunk_stream_finish(&s, &c);
}
static void run_chunk_and_hash(void) { chunk_and_hash_pieces(0); }
static void run_chunk_and_hash_4k(void) { chunk_and_hash_pieces(4096); }
static void run_chunk_and_hash_1m(void) { chunk_and_hash_pieces(1u << 20); }

static void run_sha256(void) {
    uint8_t out[32];
    cas_sha256_hash(g_data, g_len, out);
    g_sink += out[0];
}

/* SHA-256's peer: OpenSSL's when libssl-dev is installed, else none. */
#ifdef HAVE_OPENSSL
static void run_openssl_sha256(void) {
    uint8_t out[32];
    SHA256(g_data, g_len, out);
    g_sink += out[0];
}
#define SHA256_PEER run_openssl_sha256
#define SHA256_PEER_NAME "OpenSSL SHA256()"
#else
#define SHA256_PEER NULL
#define SHA256_PEER_NAME NULL
#endif

static void row(const char *what, double mbs, const char *peer, double peer_mbs, const char *target) {
    if (peer)
        printf("| %-34s | %8.0f | %-30s | %8.0f | %5.2fx | %-14s |\n", what, mbs, peer, peer_mbs,
               mbs / peer_mbs, target);
    else
        printf("| %-34s | %8.0f | %-30s | %8s | %6s | %-14s |\n", what, mbs, "-", "-", "-", target);
}

/* The rows that stand for a whole file (chunk + hash, SHA-256) again on a file-sized random
   input, beside their cache-resident figures (MB/s) from the table above. */
static void file_rows(double both, double apart, double both2, double apart2, double sha, double ossl) {
    size_t len = bench_file_bytes();
    uint8_t *file = (uint8_t *)bench_alloc_touched(len), *cached = g_data;
    size_t cached_len = g_len;
    double both_file, apart_file, both2_file, apart2_file, sha_file, ossl_file = 0;
    t_rng r;
    r.state = 2;
    t_fill_random(&r, file, len);
    g_data = file, g_len = len, g_passes = 1, g_repeat = FILE_REPEAT;
    both_file = measure2(run_chunk_and_hash, run_chunk_then_hash, &apart_file);
    cas_cpu_limit(~(unsigned)CAS_CPU_AVX512);
    both2_file = measure2(run_chunk_and_hash, run_chunk_then_hash, &apart2_file);
    cas_cpu_limit(~0u);
    sha_file = measure2(run_sha256, SHA256_PEER, &ossl_file);
    g_data = cached, g_len = cached_len, g_passes = CACHED_PASSES, g_repeat = CACHED_REPEAT;
    bench_file_table_header("File-sized (random data, 1 pass, best of " BENCH_STR(FILE_REPEAT) ")",
                            cached_len, len);
    bench_file_row("chunk + hash (cas_chunk_stream)", both / 1e3, both_file / 1e3, "chunker, then hash each chunk",
                   apart / 1e3, apart_file / 1e3);
    bench_file_row("chunk + hash, AVX2 tier", both2 / 1e3, both2_file / 1e3, "chunker, then hash (AVX2 tier)",
                   apart2 / 1e3, apart2_file / 1e3);
    bench_file_row("SHA-256", sha / 1e3, sha_file / 1e3, SHA256_PEER_NAME, ossl / 1e3, ossl_file / 1e3);
    free(file);
}

/* bench --file FILE: chunk + hash of FILE's bytes already in memory, best of 3, printed as
   "<MB/s over a copy> <MB/s over the file's mapping>": what `cas hash --threads 1 FILE`
   would reach if reading the file cost nothing, first over a heap copy (the other rows'
   kind of buffer: transparent huge pages where the kernel gives them), then over the page
   cache mapped as cas hash maps it (4 KiB pages, prefaulted: no fault is timed).
   tests/bench_pack.sh prints them beside the whole process. */
static int file_in_process(const char *name) {
    double copy, mapped;
    void *map;
    int fd;
    FILE *f = fopen(name, "rb");
    long size;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "bench: %s: cannot open or size it\n", name);
        return 2;
    }
    g_len = (size_t)size;
    g_data = (uint8_t *)bench_alloc_touched(g_len);
    if (fread(g_data, 1, g_len, f) != g_len) {
        fprintf(stderr, "bench: %s: read error\n", name);
        return 2;
    }
    fclose(f);
    g_passes = 1, g_repeat = 3;
    copy = measure(run_chunk_and_hash);
    free(g_data);
    if ((fd = open(name, O_RDONLY)) < 0 ||
        (map = mmap(NULL, g_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "bench: %s: cannot map it\n", name);
        return 2;
    }
    g_data = (uint8_t *)map;
    mapped = measure(run_chunk_and_hash);
    munmap(map, g_len);
    close(fd);
    printf("%.0f %.0f\n", copy, mapped);
    return 0;
}

int main(int argc, char **argv) {
    t_rng r;
    double chunker, spec, hash, direct, both, apart, fused2, apart2, sha, ossl = 0;
    if (argc == 3 && !strcmp(argv[1], "--file")) return file_in_process(argv[2]);
    g_len = DATA_SIZE;
    g_data = (uint8_t *)t_xmalloc(g_len);
    r.state = 1;
    t_fill_random(&r, g_data, g_len);
    g_sizes = (uint64_t *)t_xmalloc((g_len / CAS_CHUNK_MIN_SIZE + 2) * sizeof(uint64_t));
    g_nchunks = t_spec_chunk(cas__gear, g_data, g_len, g_sizes, g_len / CAS_CHUNK_MIN_SIZE + 2);

    printf("cas.h %s bench: %u MiB random data x %d passes, best of %d; blake3 %s, sha256 %s, "
           "chunker %s\n\n",
           cas_version(), DATA_SIZE >> 20, CACHED_PASSES, CACHED_REPEAT, cas_blake3_path(), cas_sha256_path(),
           cas_chunker_path());
    printf("| %-34s | %8s | %-30s | %8s | %6s | %-14s |\n", "what", "MB/s", "peer (same run)", "MB/s",
           "ratio", "target");
    printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------------------", "----------",
           "--------------------------------", "----------", "--------", "----------------");
    chunker = measure2(run_chunker, run_spec_chunker, &spec);
    row("chunker (gear, boundaries only)", chunker, "spec byte loop (chunking.md)", spec, ">= 1.7x");
    hash = measure2(run_chunk_hash, run_blake3_direct, &direct);
    row("chunk hash (keyed BLAKE3)", hash, "vendored BLAKE3 called directly", direct, ">= 0.9x");
    both = measure2(run_chunk_and_hash, run_chunk_then_hash, &apart);
    row("chunk + hash (cas_chunk_stream)", both, "chunker, then hash each chunk", apart, ">= 2000 MB/s");
    {   /* the AVX2 tier (AVX-512 limited away): its fused scan + hash against its scan, then
           hash (issue #17: >= 1.15x), and the two halves alone (scan; hash on known bounds) */
        cas_cpu_limit(~(unsigned)CAS_CPU_AVX512);
        fused2 = measure2(run_chunk_and_hash, run_chunk_then_hash, &apart2);
        row(strstr(cas_chunker_path(), "avx2-fused") ? "chunk + hash, AVX2 tier (fused)" : "chunk + hash, AVX2 tier (not fused)",
            fused2, "chunker, then hash (AVX2 tier)", apart2, ">= 1.15x");
        row("  AVX2 tier: chunker alone", measure(run_chunker), NULL, 0, "");
        row("  AVX2 tier: chunk hash alone", measure(run_chunk_hash), NULL, 0, "");
        cas_cpu_limit(~0u);
    }
    {   /* the piece-size penalty (issue #17: 4 KiB pieces within 10% of 1 MiB ones) */
        double big, small = measure2(run_chunk_and_hash_4k, run_chunk_and_hash_1m, &big);
        row("chunk + hash, 4 KiB pushes", small, "the same in 1 MiB pushes", big, ">= 0.9x");
    }
    sha = measure2(run_sha256, SHA256_PEER, &ossl);
    row(SHA256_PEER_NAME ? "SHA-256" : "SHA-256 (no libssl-dev: no peer)", sha, SHA256_PEER_NAME, ossl,
        SHA256_PEER_NAME ? ">= 0.9x" : ">= 0.9x OpenSSL");
    {   /* every BLAKE3 path on the same chunks */
        static const struct { const char *name; unsigned mask; } paths[] = {
            {"avx512", ~0u},
            {"avx2", CAS_CPU_SSE2 | CAS_CPU_SSSE3 | CAS_CPU_SSE41 | CAS_CPU_AVX | CAS_CPU_AVX2},
            {"sse4.1", CAS_CPU_SSE2 | CAS_CPU_SSSE3 | CAS_CPU_SSE41},
            {"sse2", CAS_CPU_SSE2},
            {"portable", 0}};
        size_t i;
        char label[64];
        for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            cas_cpu_limit(paths[i].mask);
            snprintf(label, sizeof label, "chunk hash, blake3 path %s", cas_blake3_path());
            row(label, measure(run_chunk_hash), NULL, 0, "");
        }
        cas_cpu_limit(~0u);
    }
    file_rows(both, apart, fused2, apart2, sha, ossl);
    printf("\n(sink %llu)\n", (unsigned long long)g_sink);
    free(g_data);
    free(g_sizes);
    return 0;
}
