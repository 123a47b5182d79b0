/* cas - command-line tool over cas.h.

   cas chunk [FILE|-]                 one line per chunk: <chunk-hash> <length>
   cas hash [--sha256] [FILE...|-]    <xet-file-hash>  <name>, like sha256sum
   cas version                        library version and the code paths this CPU uses
   cas xorb pack FILE -o OUT [--compression none|lz4|bg4|auto] [--footer]
                                      FILE's chunks as one xorb; prints the xorb hash
   cas xorb ls XORB                   <index> <offset> <compressed> <uncompressed> <scheme> <hash>
   cas xorb cat XORB [--chunks A-B]   decoded bytes (chunks A through B, inclusive)
   cas xorb verify XORB [--hash H]    decodes every chunk, checks footer and hash; prints it
   cas shard dump FILE [--json]       header, footer, every file (terms, verification, SHA-256)
                                      and every xorb (chunks)
   cas shard verify FILE [--store DIR]
                                      structure; with a store, every verification hash against
                                      the chunks of DIR/xorbs/<hash>[.xorb] or DIR/<hash>[.xorb]
   cas pack --store DIR FILE...       the upload engine into a directory store: new xorbs to
                                      DIR/xorbs/<hash>, the session's shards to DIR/shards/<hash>
                                      (dedup against the shards already there); prints
                                      <xet-file-hash>  <name> per file, a summary on stderr

   Hashes are printed in the Xet API convention. Exit status: 0 success, 1 data or
   verification failure, 2 usage or I/O error. */
#define _XOPEN_SOURCE 700 /* POSIX: pwrite, fseeko, opendir, mkdir */
#define CAS_IMPLEMENTATION
#include "../cas.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
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
            "       %s xorb pack FILE -o OUT [--compression none|lz4|bg4|auto] [--footer]\n"
            "       %s xorb ls XORB\n"
            "       %s xorb cat XORB [--chunks A-B]\n"
            "       %s xorb verify XORB [--hash H]\n"
            "       %s shard dump FILE [--json]\n"
            "       %s shard verify FILE [--store DIR]\n"
            "       %s pack --store DIR FILE...\n"
            "       %s version\n",
            g_prog, g_prog, g_prog, g_prog, g_prog, g_prog, g_prog, g_prog, g_prog, g_prog);
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

/* Reports a library error with its detail and byte offset. Returns the exit status. */
static int report(const char *what, int rc, const cas_error *err) {
    if (err && err->code == rc && err->what && err->what[0])
        fprintf(stderr, "%s: %s: %s (%s) at byte %llu\n", g_prog, what, cas_result_message(rc),
                err->what, (unsigned long long)err->offset);
    else
        fprintf(stderr, "%s: %s: %s\n", g_prog, what, cas_result_message(rc));
    return rc == CAS_E_NOMEM ? EXIT_USAGE : EXIT_DATA;
}

/* Reads a whole file of at most `limit` bytes. NULL (with a message) on error. */
static uint8_t *read_all(const char *name, size_t limit, size_t *len) {
    FILE *f = open_input(name);
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) return NULL;
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *nb;
            if (cap > limit) {
                fprintf(stderr, "%s: %s: larger than %zu bytes\n", g_prog, name, limit);
                free(buf);
                close_input(f);
                return NULL;
            }
            cap = cap ? cap * 2 : (1 << 20);
            nb = (uint8_t *)realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "%s: out of memory\n", g_prog);
                free(buf);
                close_input(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: %s: read error: %s\n", g_prog, name, strerror(errno));
        free(buf);
        close_input(f);
        return NULL;
    }
    close_input(f);
    if (n > limit) {
        fprintf(stderr, "%s: %s: larger than %zu bytes\n", g_prog, name, limit);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Parses "A-B" (decimal, A <= B) into *a, *b. */
static int parse_range(const char *s, uint64_t *a, uint64_t *b) {
    char *end;
    unsigned long long x, y;
    if (!s || *s < '0' || *s > '9') return 0;
    x = strtoull(s, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9') return 0;
    y = strtoull(end + 1, &end, 10);
    if (*end || y < x) return 0;
    *a = x;
    *b = y;
    return 1;
}

/* ---- xorb ---- */

static int file_sink_write(void *user, const void *data, size_t len) {
    return fwrite(data, 1, len, (FILE *)user) == len ? CAS_OK : CAS_E_ARGUMENT;
}

static int xorb_pack(int argc, char **argv, uint8_t *buf) {
    const char *in = NULL, *out = NULL;
    int scheme = CAS_SCHEME_AUTO, footer = 0, i, rc = 0;
    FILE *fin, *fout;
    cas_xorb_writer *w;
    cas_chunker ch;
    cas_sink sink;
    cas_hash h;
    char hex[65];
    uint8_t *chunk;
    size_t have = 0, n;
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--footer")) footer = 1;
        else if (!strcmp(argv[i], "--compression") && i + 1 < argc) {
            const char *c = argv[++i];
            if (!strcmp(c, "none")) scheme = CAS_SCHEME_NONE;
            else if (!strcmp(c, "lz4")) scheme = CAS_SCHEME_LZ4;
            else if (!strcmp(c, "bg4")) scheme = CAS_SCHEME_BG4_LZ4;
            else if (!strcmp(c, "auto")) scheme = CAS_SCHEME_AUTO;
            else return usage();
        } else if (!in) in = argv[i];
        else return usage();
    }
    if (!in || !out) return usage();
    fin = open_input(in);
    if (!fin) return EXIT_USAGE;
    fout = fopen(out, "wb");
    if (!fout) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, out, strerror(errno));
        close_input(fin);
        return EXIT_USAGE;
    }
    w = (cas_xorb_writer *)malloc(sizeof *w);
    chunk = (uint8_t *)malloc(CAS_CHUNK_MAX_SIZE);
    memset(&sink, 0, sizeof sink);
    sink.write = file_sink_write;
    sink.user = fout;
    if (!w || !chunk || cas_xorb_writer_init(w, NULL, scheme, &sink) != CAS_OK) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_USAGE;
        goto done_nowriter;
    }
    cas_chunker_init(&ch);
    /* Chunk boundaries from the scan; each chunk's bytes are gathered (<= 128 KiB) and added. */
    while (rc == 0 && (n = fread(buf, 1, READ_SIZE, fin)) > 0) {
        size_t off = 0;
        while (off < n) {
            uint64_t cut;
            size_t took = cas_chunker_scan(&ch, buf + off, n - off, &cut);
            memcpy(chunk + have, buf + off, took);
            have += took;
            off += took;
            if (cut) {
                int r = cas_xorb_writer_add(w, chunk, have, NULL);
                have = 0;
                if (r != CAS_OK) {
                    rc = report(r == CAS_E_XORB_LIMIT ? "the file does not fit in one xorb" : "xorb pack", r, &w->error);
                    break;
                }
            }
        }
    }
    if (rc == 0 && ferror(fin)) {
        fprintf(stderr, "%s: %s: read error\n", g_prog, in);
        rc = EXIT_USAGE;
    }
    if (rc == 0 && have) {
        int r = cas_xorb_writer_add(w, chunk, have, NULL);
        if (r != CAS_OK) rc = report(r == CAS_E_XORB_LIMIT ? "the file does not fit in one xorb" : "xorb pack", r, &w->error);
    }
    if (rc == 0) {
        int r = cas_xorb_writer_finish(w, footer, &h);
        if (r != CAS_OK) rc = report("xorb pack", r, &w->error);
    }
    if (rc == 0) {
        size_t count;
        cas_xorb_writer_chunks(w, &count);
        cas_hash_to_hex(&h, hex);
        printf("%s\n", hex);
        fprintf(stderr, "%s: %zu chunks, %llu bytes -> %llu bytes (none %u, lz4 %u, bg4 %u)\n", out,
                count, (unsigned long long)cas_xorb_writer_unpacked_size(w),
                (unsigned long long)cas_xorb_writer_size(w), w->priv_schemes[0], w->priv_schemes[1],
                w->priv_schemes[2]);
    }
    cas_xorb_writer_free(w);
done_nowriter:
    free(w);
    free(chunk);
    close_input(fin);
    if (fclose(fout) != 0 && rc == 0) {
        fprintf(stderr, "%s: %s: write error\n", g_prog, out);
        rc = EXIT_USAGE;
    }
    if (rc != 0) remove(out);
    return rc;
}

static const char *scheme_name(int s) {
    return s == CAS_SCHEME_NONE ? "none" : s == CAS_SCHEME_LZ4 ? "lz4" : s == CAS_SCHEME_BG4_LZ4 ? "bg4-lz4" : "?";
}

typedef struct {
    int mode; /* 0 ls, 1 cat, 2 verify */
    uint64_t first, last;
} xorb_visit;

static int xorb_on_chunk(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                         const uint8_t *data, const cas_hash *hash) {
    xorb_visit *v = (xorb_visit *)user;
    if (v->mode == 0) {
        char hex[65];
        cas_hash_to_hex(hash, hex);
        printf("%u %llu %u %u %s %s\n", index, (unsigned long long)offset, h->compressed_size,
               h->uncompressed_size, scheme_name(h->scheme), hex);
    } else if (v->mode == 1 && index >= v->first && index <= v->last) {
        if (fwrite(data, 1, h->uncompressed_size, stdout) != h->uncompressed_size) return CAS_E_ARGUMENT;
    }
    return 0;
}

#define XORB_FILE_LIMIT ((size_t)CAS_XORB_MAX_SIZE + 8 + 8 * 16 + 48u * CAS_XORB_MAX_CHUNKS)

static int xorb_read(int argc, char **argv, int mode) {
    const char *name = NULL, *want = NULL;
    xorb_visit v;
    cas_xorb_info info;
    cas_error err;
    uint8_t *data, *scratch;
    size_t len;
    int i, rc;
    v.mode = mode;
    v.first = 0;
    v.last = UINT64_MAX;
    for (i = 0; i < argc; i++) {
        if (mode == 1 && !strcmp(argv[i], "--chunks") && i + 1 < argc) {
            if (!parse_range(argv[++i], &v.first, &v.last)) return usage();
        } else if (mode == 2 && !strcmp(argv[i], "--hash") && i + 1 < argc) {
            want = argv[++i];
        } else if (!name) name = argv[i];
        else return usage();
    }
    if (!name) return usage();
    data = read_all(name, XORB_FILE_LIMIT, &len);
    if (!data) return EXIT_USAGE;
    scratch = (uint8_t *)malloc(2 * CAS_CHUNK_MAX_SIZE);
    if (!scratch) {
        free(data);
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    rc = cas_xorb_walk(data, len, scratch, xorb_on_chunk, &v, &info, &err);
    free(scratch);
    free(data);
    if (rc != CAS_OK) return report(name, rc, &err);
    if (mode == 1 && v.first != 0 && v.first >= info.num_chunks) {
        fprintf(stderr, "%s: %s: chunk %llu: the xorb has %u chunks\n", g_prog, name,
                (unsigned long long)v.first, info.num_chunks);
        return EXIT_USAGE;
    }
    if (mode == 2) {
        char hex[65];
        cas_hash_to_hex(&info.xorb_hash, hex);
        printf("%s  %s (%u chunks, %llu bytes%s)\n", hex, name, info.num_chunks,
               (unsigned long long)info.unpacked_size, info.has_footer ? ", footer checked" : "");
        if (want) {
            cas_hash h;
            if (cas_hash_from_hex(want, strlen(want), &h) != CAS_OK) {
                fprintf(stderr, "%s: --hash: %s\n", g_prog, cas_result_message(CAS_E_HEX));
                return EXIT_USAGE;
            }
            if (!cas_hash_equal(&h, &info.xorb_hash)) {
                fprintf(stderr, "%s: %s: xorb hash %s differs from the expected %s\n", g_prog, name, hex, want);
                return EXIT_DATA;
            }
        }
    }
    return 0;
}

static int cmd_xorb(int argc, char **argv, uint8_t *buf) {
    if (argc < 1) return usage();
    if (!strcmp(argv[0], "pack")) return xorb_pack(argc - 1, argv + 1, buf);
    if (!strcmp(argv[0], "ls")) return xorb_read(argc - 1, argv + 1, 0);
    if (!strcmp(argv[0], "cat")) return xorb_read(argc - 1, argv + 1, 1);
    if (!strcmp(argv[0], "verify")) return xorb_read(argc - 1, argv + 1, 2);
    return usage();
}

/* ==== shard dump / verify ==== */
/* ---- shard ----

   cas shard dump FILE [--json]         header, footer, every file (hash, flags, terms with
                                        verification hashes, SHA-256) and every xorb (hash,
                                        sizes, chunks); hashes in the Xet API convention
   cas shard verify FILE [--store DIR]  structure; with a store, each term's verification hash
                                        and size against the chunks of the xorb it names, read
                                        from DIR/xorbs/<hash>[.xorb] or DIR/<hash>[.xorb]

   FILE may be "-" (stdin). */

/* Parses FILE, or prints why not (code, detail, byte offset). */
static int shard_load(const char *name, uint8_t **data, cas_shard *s) {
    size_t len = 0;
    cas_error err;
    int rc;
    /* One byte over the limit is read, so a larger file is reported by the parser. */
    *data = read_all(name, CAS_SHARD_MAX_SIZE + 1, &len);
    if (!*data) return EXIT_USAGE;
    rc = cas_shard_parse(*data, len, NULL, s, &err);
    if (rc != CAS_OK) {
        fprintf(stderr, "%s: %s: %s: %s at byte %llu\n", g_prog, name, cas_result_name(rc),
                err.what && err.what[0] ? err.what : cas_result_message(rc),
                (unsigned long long)err.offset);
        free(*data);
        *data = NULL;
        return rc == CAS_E_NOMEM ? EXIT_USAGE : EXIT_DATA;
    }
    return 0;
}

/* A SHA-256 digest in plain hex (what sha256sum prints). */
static void shard_print_sha(const uint8_t d[32]) {
    int i;
    for (i = 0; i < 32; i++) printf("%02x", d[i]);
}

static void shard_dump_text(const cas_shard *s) {
    size_t i;
    uint32_t j;
    printf("shard: %llu bytes, version 2, footer_size %llu, %s\n", (unsigned long long)s->size,
           (unsigned long long)s->footer_size,
           s->has_footer ? "footer" : s->footer_size ? "no footer (footer_size 200 without one)" : "no footer (upload form)");
    if (s->has_footer) {
        const cas_shard_footer *f = &s->footer;
        printf("footer: version %llu, file_info_offset %llu, xorb_info_offset %llu, footer_offset %llu\n",
               (unsigned long long)f->version, (unsigned long long)f->file_info_offset,
               (unsigned long long)f->xorb_info_offset, (unsigned long long)f->footer_offset);
        printf("  lookup tables: files %llu at %llu, xorbs %llu at %llu, chunks %llu at %llu\n",
               (unsigned long long)f->file_lookup_count, (unsigned long long)f->file_lookup_offset,
               (unsigned long long)f->xorb_lookup_count, (unsigned long long)f->xorb_lookup_offset,
               (unsigned long long)f->chunk_lookup_count, (unsigned long long)f->chunk_lookup_offset);
        printf("  hmac_key ");
        print_hash(&f->hmac_key);
        printf("%s\n  creation_time %llu, key_expiry %llu\n", s->keyed ? " (chunk hashes are keyed)" : "",
               (unsigned long long)f->creation_time, (unsigned long long)f->key_expiry);
        printf("  stored_bytes_on_disk %llu, materialized_bytes %llu, stored_bytes %llu\n",
               (unsigned long long)f->stored_bytes_on_disk, (unsigned long long)f->materialized_bytes,
               (unsigned long long)f->stored_bytes);
    }
    printf("files: %zu\n", s->num_files);
    for (i = 0; i < s->num_files; i++) {
        const cas_shard_file *f = &s->files[i];
        printf("file ");
        print_hash(&f->file_hash);
        printf(" flags 0x%08x terms %u size %llu\n", f->flags, f->num_terms, (unsigned long long)f->size);
        if (f->has_sha256) {
            printf("  sha256 ");
            shard_print_sha(f->sha256);
            printf("\n");
        }
        for (j = 0; j < f->num_terms; j++) {
            const cas_shard_term *t = &f->terms[j];
            printf("  term ");
            print_hash(&t->xorb_hash);
            printf(" chunks [%u, %u) %u bytes", t->chunk_start, t->chunk_end, t->unpacked_bytes);
            if (t->xorb_flags) printf(" flags 0x%08x", t->xorb_flags);
            if (f->flags & CAS_SHARD_FILE_VERIFICATION) {
                printf(" verification ");
                print_hash(&t->verification);
            }
            printf("\n");
        }
    }
    printf("xorbs: %zu\n", s->num_xorbs);
    for (i = 0; i < s->num_xorbs; i++) {
        const cas_shard_xorb *x = &s->xorbs[i];
        printf("xorb ");
        print_hash(&x->xorb_hash);
        printf(" flags 0x%08x chunks %u bytes_in_xorb %u bytes_on_disk %u\n", x->flags, x->num_chunks,
               x->bytes_in_xorb, x->bytes_on_disk);
        for (j = 0; j < x->num_chunks; j++) {
            const cas_shard_chunk *c = &x->chunks[j];
            printf("  chunk %u ", j);
            print_hash(&c->hash);
            printf(" start %u size %u", c->byte_start, c->unpacked_bytes);
            if (c->flags) printf(" flags 0x%08x", c->flags);
            printf("\n");
        }
    }
}

static void shard_json_hash(const char *key, const cas_hash *h) {
    printf("\"%s\":\"", key);
    print_hash(h);
    printf("\"");
}

static void shard_dump_json(const cas_shard *s) {
    size_t i;
    uint32_t j;
    printf("{\"size\":%llu,\"version\":2,\"footer_size\":%llu,\"footer\":", (unsigned long long)s->size,
           (unsigned long long)s->footer_size);
    if (s->has_footer) {
        const cas_shard_footer *f = &s->footer;
        printf("{\"version\":%llu,\"file_info_offset\":%llu,\"xorb_info_offset\":%llu,"
               "\"file_lookup_offset\":%llu,\"file_lookup_count\":%llu,\"xorb_lookup_offset\":%llu,"
               "\"xorb_lookup_count\":%llu,\"chunk_lookup_offset\":%llu,\"chunk_lookup_count\":%llu,",
               (unsigned long long)f->version, (unsigned long long)f->file_info_offset,
               (unsigned long long)f->xorb_info_offset, (unsigned long long)f->file_lookup_offset,
               (unsigned long long)f->file_lookup_count, (unsigned long long)f->xorb_lookup_offset,
               (unsigned long long)f->xorb_lookup_count, (unsigned long long)f->chunk_lookup_offset,
               (unsigned long long)f->chunk_lookup_count);
        shard_json_hash("hmac_key", &f->hmac_key);
        printf(",\"creation_time\":%llu,\"key_expiry\":%llu,\"stored_bytes_on_disk\":%llu,"
               "\"materialized_bytes\":%llu,\"stored_bytes\":%llu,\"footer_offset\":%llu}",
               (unsigned long long)f->creation_time, (unsigned long long)f->key_expiry,
               (unsigned long long)f->stored_bytes_on_disk, (unsigned long long)f->materialized_bytes,
               (unsigned long long)f->stored_bytes, (unsigned long long)f->footer_offset);
    } else {
        printf("null");
    }
    printf(",\"keyed\":%s,\"files\":[", s->keyed ? "true" : "false");
    for (i = 0; i < s->num_files; i++) {
        const cas_shard_file *f = &s->files[i];
        printf("%s{", i ? "," : "");
        shard_json_hash("hash", &f->file_hash);
        printf(",\"offset\":%llu,\"flags\":%u,\"size\":%llu,\"sha256\":", (unsigned long long)f->offset, f->flags,
               (unsigned long long)f->size);
        if (f->has_sha256) {
            printf("\"");
            shard_print_sha(f->sha256);
            printf("\"");
        } else {
            printf("null");
        }
        printf(",\"terms\":[");
        for (j = 0; j < f->num_terms; j++) {
            const cas_shard_term *t = &f->terms[j];
            printf("%s{", j ? "," : "");
            shard_json_hash("xorb", &t->xorb_hash);
            printf(",\"flags\":%u,\"start\":%u,\"end\":%u,\"unpacked\":%u,\"verification\":", t->xorb_flags,
                   t->chunk_start, t->chunk_end, t->unpacked_bytes);
            if (f->flags & CAS_SHARD_FILE_VERIFICATION) {
                printf("\"");
                print_hash(&t->verification);
                printf("\"}");
            } else {
                printf("null}");
            }
        }
        printf("]}");
    }
    printf("],\"xorbs\":[");
    for (i = 0; i < s->num_xorbs; i++) {
        const cas_shard_xorb *x = &s->xorbs[i];
        printf("%s{", i ? "," : "");
        shard_json_hash("hash", &x->xorb_hash);
        printf(",\"offset\":%llu,\"flags\":%u,\"bytes_in_xorb\":%u,\"bytes_on_disk\":%u,\"chunks\":[",
               (unsigned long long)x->offset, x->flags, x->bytes_in_xorb, x->bytes_on_disk);
        for (j = 0; j < x->num_chunks; j++) {
            const cas_shard_chunk *c = &x->chunks[j];
            printf("%s{", j ? "," : "");
            shard_json_hash("hash", &c->hash);
            printf(",\"start\":%u,\"size\":%u,\"flags\":%u}", c->byte_start, c->unpacked_bytes, c->flags);
        }
        printf("]}");
    }
    printf("]}\n");
}

/* ---- the xorb store of `shard verify --store` ---- */

typedef struct {
    const char *dir;
    cas_hash cached;  /* the xorb whose chunks are in `chunks` */
    int have;
    cas_chunk *chunks; /* CAS_XORB_MAX_CHUNKS entries */
    uint32_t count;
    uint8_t *scratch; /* cas_xorb_walk's 2 x CAS_CHUNK_MAX_SIZE */
    char msg[512];    /* why a xorb could not be used */
} shard_store;

static int shard_store_collect(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                               const uint8_t *data, const cas_hash *hash) {
    shard_store *st = (shard_store *)user;
    (void)offset;
    (void)data;
    st->chunks[index].hash = *hash;
    st->chunks[index].size = h->uncompressed_size;
    st->count = index + 1;
    return 0;
}

/* Loads DIR/xorbs/<hash>, DIR/xorbs/<hash>.xorb, DIR/<hash> or DIR/<hash>.xorb with the
   library's xorb reader (every chunk decoded and hashed, a footer checked); the chunks'
   Merkle hash must be the xorb's name. */
static int shard_store_load(shard_store *st, const cas_hash *xorb) {
    static const char *forms[4] = {"%s/xorbs/%s", "%s/xorbs/%s.xorb", "%s/%s", "%s/%s.xorb"};
    char hex[CAS_HASH_HEX_SIZE + 1], path[4096];
    cas_xorb_info info;
    cas_error err;
    uint8_t *data;
    size_t len = 0;
    FILE *f = NULL;
    int k, rc;
    cas_hash_to_hex(xorb, hex);
    st->have = 0;
    st->count = 0;
    for (k = 0; k < 4 && !f; k++) {
        snprintf(path, sizeof path, forms[k], st->dir, hex);
        f = fopen(path, "rb");
    }
    if (!f) return CAS_E_SHARD_NO_CHUNKS;
    fclose(f);
    data = read_all(path, XORB_FILE_LIMIT, &len);
    if (!data) return CAS_E_SHARD_NO_CHUNKS;
    rc = cas_xorb_walk(data, len, st->scratch, shard_store_collect, st, &info, &err);
    free(data);
    if (rc != CAS_OK) {
        snprintf(st->msg, sizeof st->msg, "xorb %s: %s (%s) at byte %llu", hex, cas_result_message(rc),
                 err.what, (unsigned long long)err.offset);
        return CAS_E_SHARD_VERIFICATION;
    }
    if (!cas_hash_equal(&info.xorb_hash, xorb)) {
        snprintf(st->msg, sizeof st->msg, "xorb %s: its chunks hash to another xorb hash", hex);
        return CAS_E_SHARD_VERIFICATION;
    }
    st->cached = *xorb;
    st->have = 1;
    return CAS_OK;
}

/* cas_shard_chunks_fn over the store. */
static int shard_store_chunks(void *user, const cas_hash *xorb, uint32_t start, uint32_t end, cas_chunk *out) {
    shard_store *st = (shard_store *)user;
    if (!st->have || !cas_hash_equal(&st->cached, xorb)) {
        int rc = shard_store_load(st, xorb);
        if (rc) return rc;
    }
    if (end > st->count) return CAS_E_SHARD_ENTRY; /* the range passes the xorb's chunks */
    memcpy(out, st->chunks + start, (end - start) * sizeof *out);
    return CAS_OK;
}

static int cmd_shard_verify(const char *name, const char *store) {
    uint8_t *data;
    cas_shard s;
    shard_store st;
    cas_error err;
    size_t checked = 0, unchecked = 0, i;
    int rc = shard_load(name, &data, &s), ret = 0;
    if (rc) return rc;
    memset(&st, 0, sizeof st);
    st.dir = store;
    if (store) {
        st.chunks = (cas_chunk *)malloc(CAS_XORB_MAX_CHUNKS * sizeof(cas_chunk));
        st.scratch = (uint8_t *)malloc(2 * CAS_CHUNK_MAX_SIZE);
        if (!st.chunks || !st.scratch) {
            fprintf(stderr, "%s: out of memory\n", g_prog);
            ret = EXIT_USAGE;
            goto done;
        }
    }
    /* The shard's own CAS info must describe the stored xorbs it names. */
    for (i = 0; store && i < s.num_xorbs && !s.keyed; i++) {
        const cas_shard_xorb *x = &s.xorbs[i];
        uint32_t j, bad = 0;
        rc = shard_store_load(&st, &x->xorb_hash);
        if (rc == CAS_E_SHARD_NO_CHUNKS) continue;
        if (rc == CAS_OK) {
            bad = st.count != x->num_chunks;
            for (j = 0; !bad && j < x->num_chunks; j++)
                bad = !cas_hash_equal(&st.chunks[j].hash, &x->chunks[j].hash) || st.chunks[j].size != x->chunks[j].unpacked_bytes;
        }
        if (rc || bad) {
            fprintf(stderr, "%s: %s: xorb at byte %llu: %s\n", g_prog, name, (unsigned long long)x->offset,
                    rc ? st.msg : "its CAS info differs from the stored xorb's chunks");
            ret = EXIT_DATA;
            goto done;
        }
    }
    rc = cas_shard_check_terms(&s, store ? shard_store_chunks : NULL, &st, &checked, &unchecked, &err);
    if (rc != CAS_OK) {
        fprintf(stderr, "%s: %s: %s: %s at byte %llu\n", g_prog, name, cas_result_name(rc),
                st.msg[0] ? st.msg : err.what, (unsigned long long)err.offset);
        ret = EXIT_DATA;
        goto done;
    }
    printf("%s: ok: %zu files, %zu xorbs, %zu chunks; %zu terms verified", name, s.num_files, s.num_xorbs,
           s.num_chunks, checked);
    if (unchecked) printf(", %zu not (xorb %s)", unchecked, store ? "missing from the store" : "not in the shard: use --store");
    printf("\n");
    if (store && unchecked) ret = EXIT_DATA;
done:
    free(st.chunks);
    free(st.scratch);
    cas_shard_free(&s);
    free(data);
    return ret;
}

/* argv[0] = "shard". */
static int cmd_shard(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "dump")) {
        const char *file = NULL;
        int json = 0, i, rc;
        uint8_t *data;
        cas_shard s;
        for (i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--json")) json = 1;
            else if (!file) file = argv[i];
            else return usage();
        }
        if (!file) return usage();
        rc = shard_load(file, &data, &s);
        if (rc) return rc;
        if (json) shard_dump_json(&s);
        else shard_dump_text(&s);
        cas_shard_free(&s);
        free(data);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "verify")) {
        const char *file = NULL, *store = NULL;
        int i;
        for (i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--store") && i + 1 < argc) store = argv[++i];
            else if (!file) file = argv[i];
            else return usage();
        }
        if (!file) return usage();
        return cmd_shard_verify(file, store);
    }
    return usage();
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

/* ==== pack: the upload engine with a directory store as the host ====

   cas pack --store DIR FILE...
     Uploads FILE... (or - for stdin) into DIR as one session: new xorbs go to
     DIR/xorbs/<xorb-hash> (the body as uploaded, no footer), the session's shard(s) to
     DIR/shards/<shard-hash> (upload form), each written to a temporary name and renamed.
     The shards already in DIR/shards are the dedup cache. Prints "<xet-file-hash>  <name>"
     per file, and a summary on stderr. */

typedef struct {
    const char *dir;
    unsigned long long xorbs_written, shards_written;
} pack_store;

/* Writes data[0..len) to DIR/SUB/HEX through HEX.tmp + rename; an existing file is kept
   (content-addressed: same name, same bytes). Returns 0, 1 if it existed, or -1. */
static int pack_put(const pack_store *st, const char *sub, const cas_hash *h, const uint8_t *data,
                    size_t len) {
    char hex[CAS_HASH_HEX_SIZE + 1], path[4096], tmp[4200];
    FILE *f;
    cas_hash_to_hex(h, hex);
    snprintf(path, sizeof path, "%s/%s/%s", st->dir, sub, hex);
    f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return 1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, tmp, strerror(errno));
        return -1;
    }
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0) {
        fprintf(stderr, "%s: %s: write error: %s\n", g_prog, tmp, strerror(errno));
        fclose(f);
        remove(tmp);
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* Makes DIR, DIR/xorbs and DIR/shards if missing. */
static int pack_mkdirs(const char *dir) {
    static const char *subs[3] = {"", "/xorbs", "/shards"};
    char path[4096];
    int k;
    for (k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s%s", dir, subs[k]);
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "%s: %s: %s\n", g_prog, path, strerror(errno));
            return EXIT_USAGE;
        }
    }
    return 0;
}

typedef struct {
    cas_shard *s;
    uint8_t **data;
    size_t n, cap;
} pack_shards;

static void pack_shards_free(pack_shards *ps) {
    size_t i;
    for (i = 0; i < ps->n; i++) {
        cas_shard_free(&ps->s[i]);
        free(ps->data[i]);
    }
    free(ps->s);
    free(ps->data);
}

/* Loads every shard of DIR/shards (names of 64 hex digits; temporaries are skipped). */
static int pack_load_shards(const char *dir, pack_shards *ps) {
    char path[4096];
    DIR *d;
    struct dirent *e;
    int rc = 0;
    snprintf(path, sizeof path, "%s/shards", dir);
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, path, strerror(errno));
        return EXIT_USAGE;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        cas_hash h;
        cas_error err;
        size_t len = 0;
        uint8_t *data;
        if (strlen(e->d_name) != CAS_HASH_HEX_SIZE ||
            cas_hash_from_hex(e->d_name, CAS_HASH_HEX_SIZE, &h) != CAS_OK)
            continue;
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? 2 * ps->cap : 16;
            cas_shard *s = (cas_shard *)realloc(ps->s, cap * sizeof *s);
            uint8_t **dd;
            if (s) ps->s = s;
            dd = s ? (uint8_t **)realloc(ps->data, cap * sizeof *dd) : NULL;
            if (!s || !dd) {
                fprintf(stderr, "%s: out of memory\n", g_prog);
                rc = EXIT_USAGE;
                break;
            }
            ps->data = dd;
            ps->cap = cap;
        }
        snprintf(path, sizeof path, "%s/shards/%s", dir, e->d_name);
        data = read_all(path, CAS_SHARD_MAX_SIZE, &len);
        if (!data) {
            rc = EXIT_USAGE;
            break;
        }
        if (cas_shard_parse(data, len, NULL, &ps->s[ps->n], &err) != CAS_OK) {
            rc = report(path, err.code, &err);
            free(data);
            break;
        }
        ps->data[ps->n++] = data;
    }
    closedir(d);
    return rc;
}

/* Drains the session's events into the store. Returns 0 or an exit status. */
static int pack_drain(cas_upload *u, pack_store *st) {
    cas_upload_event ev;
    int rc;
    while ((rc = cas_upload_next(u, &ev)) == CAS_READY) {
        int put;
        if (ev.type == CAS_UPLOAD_EVENT_XORB) {
            put = pack_put(st, "xorbs", &ev.hash, ev.data, ev.len);
            if (put == 0) st->xorbs_written++;
        } else if (ev.type == CAS_UPLOAD_EVENT_SHARD) {
            put = pack_put(st, "shards", &ev.hash, ev.data, ev.len);
            if (put == 0) st->shards_written++;
        } else {
            put = 0; /* no global dedup: a store has no server to ask */
        }
        if (put < 0) return EXIT_USAGE;
    }
    if (rc == CAS_NEED_INPUT || rc == CAS_END) return 0;
    return report("pack", rc, cas_upload_error(u));
}

/* Pushes one file through the session and prints its hash. */
static int pack_file(cas_upload *u, pack_store *st, const char *name, uint8_t *buf) {
    cas_upload_file_result r;
    FILE *f = open_input(name);
    size_t n;
    int rc, x;
    if (!f) return EXIT_USAGE;
    rc = cas_upload_file_begin(u);
    while (rc == CAS_OK && (n = fread(buf, 1, READ_SIZE, f)) > 0) {
        size_t off = 0;
        while (rc == CAS_OK && off < n) {
            size_t used = 0;
            rc = cas_upload_push(u, buf + off, n - off, &used);
            off += used;
            if (rc == CAS_READY && (x = pack_drain(u, st)) != 0) {
                close_input(f);
                return x;
            }
            if (rc == CAS_READY || rc == CAS_NEED_INPUT) rc = CAS_OK;
        }
    }
    if (rc == CAS_OK && ferror(f)) {
        fprintf(stderr, "%s: %s: read error: %s\n", g_prog, name, strerror(errno));
        close_input(f);
        return EXIT_USAGE;
    }
    close_input(f);
    while (rc == CAS_OK || rc == CAS_READY) {
        rc = cas_upload_file_end(u, &r);
        if (rc == CAS_OK) break;
        if (rc == CAS_READY && (x = pack_drain(u, st)) != 0) return x;
    }
    if (rc != CAS_OK) return report(name, rc, cas_upload_error(u));
    print_hash(&r.file_hash);
    printf("  %s\n", name);
    return 0;
}

static int cmd_pack(int argc, char **argv) {
    const char *dir = NULL;
    pack_store st;
    pack_shards ps;
    cas_upload *u = NULL;
    cas_upload_stats s;
    cas_error err;
    uint8_t *buf;
    int i, rc = 0, nfiles = 0;
    size_t k;
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--store") && i + 1 < argc) dir = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) return usage();
        else nfiles++;
    }
    if (!dir || !nfiles) return usage();
    memset(&st, 0, sizeof st);
    memset(&ps, 0, sizeof ps);
    st.dir = dir;
    if ((rc = pack_mkdirs(dir)) != 0 || (rc = pack_load_shards(dir, &ps)) != 0) {
        pack_shards_free(&ps);
        return rc;
    }
    buf = (uint8_t *)malloc(READ_SIZE);
    if (!buf || (rc = cas_upload_create(NULL, NULL, &u, &err)) != CAS_OK) {
        rc = buf ? report("pack", rc, &err) : (fprintf(stderr, "%s: out of memory\n", g_prog), EXIT_USAGE);
        free(buf);
        pack_shards_free(&ps);
        return rc;
    }
    for (k = 0; k < ps.n && rc == 0; k++)
        if (cas_upload_add_shard(u, &ps.s[k]) != CAS_OK) rc = report("pack", CAS_E_NOMEM, NULL);
    for (i = 0; i < argc && rc == 0; i++) {
        if (!strcmp(argv[i], "--store")) {
            i++;
            continue;
        }
        rc = pack_file(u, &st, argv[i], buf);
    }
    if (rc == 0 && (rc = cas_upload_finish(u)) != CAS_OK) rc = report("pack", rc, cas_upload_error(u));
    if (rc == 0) rc = pack_drain(u, &st);
    cas_upload_get_stats(u, &s);
    if (rc == 0)
        fprintf(stderr,
                "%s: %llu files, %llu bytes in, %llu new bytes stored (%llu chunks; %llu bytes in "
                "xorbs), %llu bytes deduplicated (%llu chunks), %llu xorbs and %llu shards written, "
                "%.2f chunks per term (%llu terms)\n",
                g_prog, (unsigned long long)s.files, (unsigned long long)s.bytes_in,
                (unsigned long long)s.new_bytes, (unsigned long long)s.new_chunks,
                (unsigned long long)s.xorb_bytes, (unsigned long long)s.dedup_bytes,
                (unsigned long long)s.dedup_chunks, st.xorbs_written, st.shards_written,
                s.terms ? (double)s.chunks / (double)s.terms : 0.0, (unsigned long long)s.terms);
    cas_upload_free(u);
    pack_shards_free(&ps);
    free(buf);
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
    else if (!strcmp(argv[1], "xorb")) rc = cmd_xorb(argc - 2, argv + 2, buf);
    else if (!strcmp(argv[1], "shard")) rc = cmd_shard(argc - 1, argv + 1);
    else if (!strcmp(argv[1], "pack")) rc = cmd_pack(argc - 2, argv + 2);
    else rc = usage();
    free(buf);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: write error: %s\n", g_prog, strerror(errno));
        return EXIT_USAGE;
    }
    return rc;
}
