/* cas - command-line tool over cas.h.

   cas chunk [FILE|-]                 one line per chunk: <chunk-hash> <length>
   cas hash [--sha256] [FILE...|-]    <xet-file-hash>  <name>, like sha256sum
   cas version                        library version and the code paths this CPU uses

   Hashes are printed in the Xet API convention. Exit status: 0 success, 1 data or
   verification failure, 2 usage or I/O error. */
#define CAS_IMPLEMENTATION
#include "../cas.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_DATA 1
#define EXIT_USAGE 2
#define READ_SIZE (1 << 20)

static const char *g_prog = "cas";

static int usage(void) {
    fprintf(stderr,
            "usage: %s chunk [FILE|-]\n"
            "       %s hash [--sha256] [FILE...|-]\n"
            "       %s version\n",
            g_prog, g_prog, g_prog);
    return EXIT_USAGE;
}

static FILE *open_input(const char *name) {
    FILE *f;
    if (!strcmp(name, "-")) return stdin;
    f = fopen(name, "rb");
    if (!f) fprintf(stderr, "%s: %s: %s\n", g_prog, name, strerror(errno));
    return f;
}

static void close_input(FILE *f) {
    if (f && f != stdin) fclose(f);
}

static void print_hash(const cas_hash *h) {
    char hex[CAS_HASH_HEX_SIZE + 1];
    cas_hash_to_hex(h, hex);
    fputs(hex, stdout);
}

/* Reads `f` to the end, chunking and hashing. Calls on_chunk per chunk if not NULL; keeps the
   file's Merkle state and SHA-256. Returns 0 or EXIT_USAGE on a read error. */
typedef struct {
    cas_merkle merkle;
    cas_sha256 sha;
    int want_sha;
    void (*on_chunk)(const cas_chunk *c);
} file_digest;

static int digest_file(FILE *f, const char *name, file_digest *d, uint8_t *buf) {
    cas_chunk_stream cs;
    cas_chunk c;
    size_t n;
    cas_chunk_stream_init(&cs);
    cas_merkle_init(&d->merkle);
    if (d->want_sha) cas_sha256_init(&d->sha);
    while ((n = fread(buf, 1, READ_SIZE, f)) > 0) {
        size_t off = 0;
        if (d->want_sha) {
            cas_sha256_update(&d->sha, buf, n);
            continue;
        }
        while (off < n) {
            off += cas_chunk_stream_push(&cs, buf + off, n - off, &c);
            if (c.size) {
                cas_merkle_push(&d->merkle, &c);
                if (d->on_chunk) d->on_chunk(&c);
            }
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: %s: read error: %s\n", g_prog, name, strerror(errno));
        return EXIT_USAGE;
    }
    if (!d->want_sha && cas_chunk_stream_finish(&cs, &c)) {
        cas_merkle_push(&d->merkle, &c);
        if (d->on_chunk) d->on_chunk(&c);
    }
    return 0;
}

static void print_chunk(const cas_chunk *c) {
    print_hash(&c->hash);
    printf(" %llu\n", (unsigned long long)c->size);
}

static int cmd_chunk(int argc, char **argv, uint8_t *buf) {
    const char *name = argc > 0 ? argv[0] : "-";
    file_digest *d;
    FILE *f;
    int rc;
    if (argc > 1) return usage();
    f = open_input(name);
    if (!f) return EXIT_USAGE;
    d = (file_digest *)calloc(1, sizeof *d);
    if (!d) {
        close_input(f);
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    d->on_chunk = print_chunk;
    rc = digest_file(f, name, d, buf);
    close_input(f);
    free(d);
    return rc;
}

static int cmd_hash(int argc, char **argv, uint8_t *buf) {
    file_digest *d = (file_digest *)calloc(1, sizeof *d);
    int i, rc = 0, nfiles = 0;
    if (!d) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--sha256")) d->want_sha = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            free(d);
            return usage();
        }
    }
    for (i = 0; i <= argc; i++) {
        const char *name;
        FILE *f;
        if (i == argc) {
            if (nfiles) break;
            name = "-";
        } else {
            name = argv[i];
            if (!strcmp(name, "--sha256")) continue;
        }
        nfiles++;
        f = open_input(name);
        if (!f) {
            rc = EXIT_USAGE;
            continue;
        }
        if (digest_file(f, name, d, buf) == 0) {
            if (d->want_sha) {
                uint8_t out[32];
                int k;
                cas_sha256_final(&d->sha, out);
                for (k = 0; k < 32; k++) printf("%02x", out[k]);
            } else {
                cas_hash h;
                cas_merkle_file_hash(&d->merkle, &h);
                print_hash(&h);
            }
            printf("  %s\n", name);
        } else {
            rc = EXIT_USAGE;
        }
        close_input(f);
    }
    free(d);
    return rc;
}

static int cmd_version(void) {
    unsigned f = cas_cpu_features();
    printf("cas %s\n", cas_version());
    printf("blake3: %s\n", cas_blake3_path());
    printf("sha256: %s\n", cas_sha256_path());
    printf("chunker: %s\n", cas_chunker_path());
    printf("cpu:%s%s%s%s%s%s%s%s\n", f & CAS_CPU_SSE2 ? " sse2" : "", f & CAS_CPU_SSSE3 ? " ssse3" : "",
           f & CAS_CPU_SSE41 ? " sse4.1" : "", f & CAS_CPU_AVX ? " avx" : "",
           f & CAS_CPU_AVX2 ? " avx2" : "", f & CAS_CPU_AVX512 ? " avx512" : "",
           f & CAS_CPU_SHA ? " sha" : "", f & CAS_CPU_NEON ? " neon" : "");
    return 0;
}

int main(int argc, char **argv) {
    uint8_t *buf;
    int rc;
    if (argc < 2) return usage();
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) return cmd_version();
    buf = (uint8_t *)malloc(READ_SIZE);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "chunk")) rc = cmd_chunk(argc - 2, argv + 2, buf);
    else if (!strcmp(argv[1], "hash")) rc = cmd_hash(argc - 2, argv + 2, buf);
    else rc = usage();
    free(buf);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: write error: %s\n", g_prog, strerror(errno));
        return EXIT_USAGE;
    }
    return rc;
}
