/* cas - command-line tool over cas.h.

   The commands, their usage and options: g_commands below, printed by `cas --help`,
   `cas help CMD` and `cas CMD --help` (stdout, exit 0); each command's section here says how
   it works. Every command takes -q/--quiet (no progress line on a terminal).

   A-B is always a byte range, both ends inclusive, as in an HTTP "Range: bytes=A-B".

   Every file the tool writes (-o OUT, store entries) is created new under a unique name
   beside its target, never through a symlink, and renamed over the target once complete
   and fsync'd: a failure leaves the target as it was. An OUT that is also an input is
   refused.

   Hashes are printed in the Xet API convention. Exit status: 0 success, 1 data or
   verification failure, 2 usage or I/O error; a usage error is one line naming the
   argument. */
#define _DEFAULT_SOURCE   /* glibc: MAP_POPULATE besides POSIX */
#define _XOPEN_SOURCE 700 /* POSIX: pwrite, fseeko, opendir, mkdir, O_NOFOLLOW, O_CLOEXEC */
#ifndef CAS_LINK_IMPL /* (the Makefile links the implementation object it builds for the tests) */
#define CAS_IMPLEMENTATION
#endif
#include "../cas.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EXIT_DATA 1
#define EXIT_USAGE 2
#define READ_SIZE (1 << 20)

static const char *g_prog = "cas";
static const char *g_cmd;  /* the command running ("get", "xorb pack"), for messages */
static int g_quiet;        /* -q/--quiet: no progress lines */

/* The commands: what `cas --help` lists and `cas help CMD` / `cas CMD --help` print (stdout,
   exit 0). One entry per command: its usage lines, one line of what it does, then details. */
typedef struct {
    const char *name;
    const char *usage;   /* lines after "usage: cas " (continuations indented) */
    const char *summary; /* one line */
    const char *details; /* paragraphs, may be "" */
} cas_command_doc;

static const cas_command_doc g_commands[] = {
    {"chunk", "chunk [--threads N] [FILE|-]", "the file's content-defined chunks: <chunk-hash> <length> per line",
     "  --threads N   chunk a large regular file in segments on N threads (default: the\n"
     "                cores); the same chunks as one thread\n"},
    {"hash", "hash [--sha256] [--threads N] [FILE...|-]\n       cas hash -c|--check [LIST|-]",
     "Xet file hashes (or SHA-256): <hash>  <name> per file, like sha256sum",
     "  --threads N   chunk each large regular file on N threads (default: the cores); a\n"
     "                regular file of 32 MiB or more is mapped into memory, not copied\n"
     "  -c, --check   read \"<hash>  <name>\" lines (as hash prints them) and check each file:\n"
     "                \"<name>: OK\" or \"<name>: FAILED\"; exit 1 if any failed.\n"
     "  Names with a backslash or a newline are printed as sha256sum does: the line starts\n"
     "  with '\\' and the name has \\\\ and \\n; --check reads them back.\n"},
    {"version", "version | -V | --version", "library version and the code paths this CPU uses", ""},
    {"xorb", "xorb pack FILE -o OUT [--compression none|lz4|bg4|auto] [--footer]\n"
             "       cas xorb ls XORB\n       cas xorb cat XORB [--chunks A-B]\n       cas xorb verify XORB [--hash H]",
     "make, list, decode and verify xorbs",
     "  pack     FILE's chunks as one xorb; prints the xorb hash\n"
     "  ls       <index> <offset> <compressed> <uncompressed> <scheme> <hash> per chunk\n"
     "  cat      the decoded bytes (chunks A through B, inclusive)\n"
     "  verify   decodes every chunk, checks footer and hash; prints it\n"},
    {"shard", "shard dump FILE [--json]\n       cas shard verify FILE [--store DIR]", "print or verify a shard",
     "  dump     header, footer, every file (terms, verification, SHA-256) and every xorb\n"
     "  verify   structure; with a store, every verification hash against the chunks of\n"
     "           DIR/xorbs/<hash>[.xorb] or DIR/<hash>[.xorb]\n"},
    {"pack", "pack --store DIR [--threads N] [--verify-existing] FILE...\n"
             "       cas pack --dry-run [--store DIR] [--threads N] FILE...",
     "the upload engine into a directory store (deduplicated against it)",
     "  New xorbs go to DIR/xorbs/<hash>, the session's shards to DIR/shards/<hash>; prints\n"
     "  <xet-file-hash>  <name> per file and a summary on stderr.\n"
     "  --verify-existing  store shards and xorbs are checked before being trusted; a damaged\n"
     "                     xorb is replaced\n"
     "  --dry-run          the same session with nothing written (xorbs still built in memory)\n"
     "  --threads N        compression threads (default: the cores)\n"},
    {"store", "store verify DIR", "check every xorb and shard of a directory store",
     "  Every xorb of DIR/xorbs against its name and every shard of DIR/shards against the\n"
     "  xorbs; one line per problem.\n"},
    {"unpack", "unpack --store DIR FILEHASH -o OUT [--range A-B] [--per-range]",
     "a file of a directory store, as a server would reconstruct it", ""},
    {"reconstruct", "reconstruct MANIFEST.json --xorbs DIR -o OUT [--range A-B] [--hash H] [--per-range]",
     "run a v1/v2 reconstruction response against local xorb files",
     "  A manifest of a range needs its --range; --hash checks a whole file.\n"},
    {"get", "get REPO_ID PATH [-o OUT|-] [-f] [--revision R] [--repo-type model|dataset|space]\n"
            "           [--range A-B [--verify-range]] [--token T] [--endpoint URL] [--jobs N] [--no-resume]\n"
            "       cas get --cas-url URL [--token T] FILEHASH -o OUT [--range A-B [--verify-range]] [--jobs N]",
     "download a file from the Hub or a CAS, verified (builds with libcurl)",
     "  OUT defaults to PATH's last component; an existing OUT is replaced only with -f, or\n"
     "  left alone when it already is the file (\"up to date\"). A failed download keeps\n"
     "  OUT.part and its journal; the same command resumes it. --range is checked against\n"
     "  the file hash through the server's file-chunk-hashes (--verify-range: or refused).\n"
     "  --jobs N   requests in flight (default 8)\n"},
    {"put", "put REPO_ID FILE... [--revision R] [--repo-type model|dataset|space] [--token T]\n"
            "           [--endpoint URL] [--jobs N] [--tries N] [--store DIR] [--threads N]\n"
            "       cas put --cas-url URL [--token T] FILE... [--jobs N] [--tries N] [--store DIR] [--threads N]",
     "upload files to the Hub's CAS or a CAS (builds with libcurl)",
     "  Prints <xet-hash>  <sha256>  <size>  <name> per file.\n"},
    {"help", "help [COMMAND]", "this text, or a command's", ""},
};
#define NUM_COMMANDS (sizeof g_commands / sizeof g_commands[0])

static const cas_command_doc *command_doc(const char *name) {
    size_t i;
    for (i = 0; i < NUM_COMMANDS; i++)
        if (!strcmp(g_commands[i].name, name)) return &g_commands[i];
    return NULL;
}

/* cas --help: every command's usage and summary, the environment, the exit statuses. */
static int help_all(void) {
    size_t i;
    printf("cas - the Hugging Face Xet storage protocol (cas.h %s)\n\nusage:\n", cas_version());
    for (i = 0; i < NUM_COMMANDS; i++) printf("  %s %-12s %s\n", g_prog, g_commands[i].name, g_commands[i].summary);
    printf("\n'%s help COMMAND' or '%s COMMAND --help' shows a command's options.\n"
           "Options for every command: -q, --quiet (no progress line), -h, --help.\n"
           "A-B is a byte range, both ends inclusive, as in an HTTP \"Range: bytes=A-B\".\n\n"
           "environment:\n"
           "  HF_TOKEN     the Hub token (get, put; --token overrides it)\n"
           "  HF_ENDPOINT  the Hub (default https://huggingface.co; --endpoint overrides it)\n\n"
           "exit status: 0 success, 1 data or verification failure (or the server refused),\n"
           "2 usage or I/O error.\n", g_prog, g_prog);
    return 0;
}

/* cas help CMD, cas CMD --help. */
static int help_command(const cas_command_doc *c) {
    printf("usage: %s %s\n\n%s\n", g_prog, c->usage, c->summary);
    if (c->details[0]) printf("\n%s", c->details);
    return 0;
}

/* A usage error: one line naming the problem and where the usage is. Returns EXIT_USAGE. */
static int usage_error(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s%s%s: ", g_prog, g_cmd ? " " : "", g_cmd ? g_cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s %s%s--help')\n", g_prog, g_cmd ? g_cmd : "", g_cmd ? " " : "");
    return EXIT_USAGE;
}

static int bad_arg(const char *arg) {
    return arg[0] == '-' && arg[1] ? usage_error("%s: unknown option, or its value is missing", arg)
                                   : usage_error("%s: one argument too many", arg);
}

static int bad_range(const char *arg) {
    return usage_error("--range %s: not a byte range A-B (A <= B, both inclusive)", arg);
}

/* ---- progress: one updating line on stderr when it is a terminal (never with -q) ----
   "cas get: 512.0 / 1024.0 MB  48.2 MB/s  0:10 left", at most 4 updates a second, cleared
   when the work ends; other messages meanwhile go through meter_clear first so the line
   never garbles them. */
typedef struct {
    int on, shown;
    double start, last;
    uint64_t total, done;
    const char *what;
} meter;
static meter g_meter;

static double meter_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void meter_begin(const char *what, uint64_t total) {
    memset(&g_meter, 0, sizeof g_meter);
    g_meter.on = !g_quiet && isatty(2);
    g_meter.what = what;
    g_meter.total = total;
    g_meter.start = meter_now();
}

/* Erases the line, if shown (before any other message). */
static void meter_clear(void) {
    if (g_meter.shown) fputs("\r\033[K", stderr);
    g_meter.shown = 0;
}

static void meter_update(uint64_t done) {
    double now, rate, el;
    if (!g_meter.on) return;
    now = meter_now();
    if (now - g_meter.last < 0.25) return;
    g_meter.last = now;
    el = now - g_meter.start;
    rate = el > 0 ? done / el : 0;
    fprintf(stderr, "\r%s %s: %.1f", g_prog, g_meter.what, done / 1e6);
    if (g_meter.total) fprintf(stderr, " / %.1f", g_meter.total / 1e6);
    fprintf(stderr, " MB  %.1f MB/s", rate / 1e6);
    if (g_meter.total && rate > 0 && done <= g_meter.total) {
        unsigned long left = (unsigned long)((g_meter.total - done) / rate + 0.5);
        fprintf(stderr, "  %lu:%02lu left", left / 60, left % 60);
    }
    fputs("\033[K", stderr);
    g_meter.shown = 1;
}

static void meter_add(uint64_t n) {
    g_meter.done += n;
    meter_update(g_meter.done);
}

static void meter_end(void) {
    meter_clear();
    g_meter.on = 0;
}

/* The bytes of the regular files among names[0..n) (the meter's total for pack and put;
   stdin and pipes count 0). */
static uint64_t inputs_size(char **names, int n) {
    uint64_t sum = 0;
    struct stat sb;
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(names[i], "-") && stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) sum += (uint64_t)sb.st_size;
    return sum;
}

/* The download engine's progress (desc.progress) on the meter. */
static int dl_progress(void *user, const cas_download_progress *p) {
    (void)user;
    g_meter.total = p->bytes_total;
    meter_update(p->bytes_written);
    return 0;
}

/* ---- files: inputs, and every file the tool creates ----

   The tool may run in a directory others can write to (a shared store, /tmp), so no file is
   ever opened for writing by a name someone else could have planted: each file it creates
   is a new one made with O_CREAT | O_EXCL | O_NOFOLLOW (create_exclusive), under a unique
   name beside its target (create_temp_beside); it is written completely, fsync'd and only
   then renamed over the target, which is therefore never truncated, never written through
   a symlink, and untouched when anything fails. */

/* The output of the running command, if it exists already: an input that is the same file
   is refused (`xorb pack f -o f` would replace its own input, an unpack over one of the
   store's xorbs would replace the xorb it reads), so every input is opened through
   input_is_output. */
static struct {
    const char *name;
    int exists;
    dev_t dev;
    ino_t ino;
    int refused; /* an input was the output */
} g_output;

/* Notes `name` (not "-": stdout) as the command's output, before any input is opened. */
static void output_note(const char *name) {
    struct stat sb;
    g_output.name = name;
    g_output.exists = strcmp(name, "-") != 0 && stat(name, &sb) == 0;
    if (g_output.exists) g_output.dev = sb.st_dev, g_output.ino = sb.st_ino;
}

/* 1, with the message, if the opened input f is the output file. */
static int input_is_output(FILE *f) {
    struct stat sb;
    if (!g_output.exists || fstat(fileno(f), &sb) != 0) return 0;
    if (sb.st_dev != g_output.dev || sb.st_ino != g_output.ino) return 0;
    fprintf(stderr, "%s: %s: is also an input\n", g_prog, g_output.name);
    g_output.refused = 1;
    return 1;
}

static FILE *open_input(const char *name) {
    FILE *f;
    if (!strcmp(name, "-")) return stdin;
    f = fopen(name, "rb");
    if (!f) fprintf(stderr, "%s: %s: %s\n", g_prog, name, strerror(errno));
    else if (input_is_output(f)) fclose(f), f = NULL;
    return f;
}

static void close_input(FILE *f) {
    if (f && f != stdin) fclose(f);
}

/* A new file at `path`, which must not exist (not even as a dangling symlink), read-write,
   mode 0666 less the umask as fopen would give it. -1 with errno if not. */
static int create_exclusive(const char *path) {
    return open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
}

/* Creates a new file beside `target` (same directory, so rename is atomic) under a name
   nobody can predict closely enough to plant first: TARGET.<pid>.<random>.tmp, another one
   tried if taken. Read-write, for cas get's re-reading. Returns its descriptor and sets
   *tmp_path (malloc'd), or -1 with a message. */
static int create_temp_beside(const char *target, char **tmp_path) {
    static unsigned serial;
    size_t cap = strlen(target) + 64;
    char *tmp = (char *)malloc(cap);
    struct timespec ts;
    int tries, fd = -1;
    if (!tmp) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    for (tries = 0; tries < 100 && fd < 0; tries++) {
        unsigned long mix = (unsigned long)ts.tv_nsec * 2654435761u ^ (unsigned long)ts.tv_sec ^
                            (unsigned long)++serial * 40503u;
        snprintf(tmp, cap, "%s.%ld.%08lx.tmp", target, (long)getpid(), mix & 0xffffffffu);
        fd = create_exclusive(tmp);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    *tmp_path = tmp;
    return fd;
}

/* A file being made: written at `tmp`, becomes `target` at new_file_commit. */
typedef struct {
    FILE *f;
    const char *target;
    char *tmp; /* malloc'd */
} new_file;

/* Drops the new file: the temporary is removed, the target untouched. */
static void new_file_discard(new_file *nf) {
    if (nf->f) fclose(nf->f);
    if (nf->tmp) unlink(nf->tmp);
    free(nf->tmp);
    memset(nf, 0, sizeof *nf);
}

/* Wraps fd, open on nf->tmp, in nf->f. 0, or -1 with a message (fd closed). */
static int new_file_stream(new_file *nf, int fd) {
    nf->f = fdopen(fd, "r+b");
    if (nf->f) return 0;
    fprintf(stderr, "%s: %s: %s\n", g_prog, nf->tmp, strerror(errno));
    close(fd);
    return -1;
}

/* Starts the new contents of `target` in a temporary beside it. 0, or -1 with a message. */
static int new_file_open(new_file *nf, const char *target) {
    int fd;
    memset(nf, 0, sizeof *nf);
    nf->target = target;
    if ((fd = create_temp_beside(target, &nf->tmp)) < 0) return -1;
    if (new_file_stream(nf, fd) == 0) return 0;
    new_file_discard(nf);
    return -1;
}

/* Makes the new file the target: flushed and fsync'd (so a crash cannot leave the target
   renamed but empty), then renamed over it, so a reader sees the old file or the whole new
   one. On failure the temporary is removed and the target untouched. 0, or -1 with a message. */
static int new_file_commit(new_file *nf) {
    const char *what = nf->tmp;
    int ok = fflush(nf->f) == 0 && fsync(fileno(nf->f)) == 0, e = errno;
    if (fclose(nf->f) != 0 && ok) ok = 0, e = errno;
    nf->f = NULL;
    if (ok && rename(nf->tmp, nf->target) != 0) ok = 0, e = errno, what = nf->target;
    if (!ok) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, what, strerror(e));
        unlink(nf->tmp);
    }
    free(nf->tmp);
    memset(nf, 0, sizeof *nf);
    return ok ? 0 : -1;
}

/* p[0..n) as 2n lower-case hex digits and a NUL: a SHA-256 as sha256sum and Git LFS print
   it (n = 32), a short check (n = 8). */
static void hex_lower(const uint8_t *p, size_t n, char *out) {
    size_t k;
    for (k = 0; k < n; k++) sprintf(out + 2 * k, "%02x", p[k]);
}
#define sha256_hex(sha, out) hex_lower((sha), 32, (out))

static void print_hash(const cas_hash *h) {
    char hex[CAS_HASH_HEX_SIZE + 1];
    cas_hash_to_hex(h, hex);
    fputs(hex, stdout);
}

/* Reports a library error with its detail and byte offset. Returns the exit status. */
#ifdef CAS_WITH_CURL /* (only the network commands print what a server sent) */
/* Text a server sent, for the terminal: control characters (C0, DEL, and C1 as UTF-8
   encodes them) become \xNN, so a hostile error body cannot move the cursor, retitle the
   window or hide what came before. */
static void print_untrusted(FILE *f, const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F) {
            fprintf(f, "\\x%02x", p[i]);
        } else if (p[i] == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
            fprintf(f, "\\xc2\\x%02x", p[i + 1]);
            i++;
        } else {
            fputc(p[i], f);
        }
    }
}
#endif

static int report(const char *what, int rc, const cas_error *err) {
    meter_clear();
    if (err && err->code == rc && err->what[0])
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
    int compression = CAS_COMPRESS_AUTO, footer = 0, i, rc = 0;
    FILE *fin;
    new_file fout;
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
            if (!strcmp(c, "none")) compression = CAS_COMPRESS_NONE;
            else if (!strcmp(c, "lz4")) compression = CAS_COMPRESS_LZ4;
            else if (!strcmp(c, "bg4")) compression = CAS_COMPRESS_BG4_LZ4;
            else if (!strcmp(c, "auto")) compression = CAS_COMPRESS_AUTO;
            else return bad_arg(argv[i]);
        } else if (!in) in = argv[i];
        else return bad_arg(argv[i]);
    }
    if (!in || !out) return usage_error(!in ? "FILE is missing" : "-o OUT is missing");
    output_note(out);
    fin = open_input(in);
    if (!fin) return EXIT_USAGE;
    if (new_file_open(&fout, out) != 0) {
        close_input(fin);
        return EXIT_USAGE;
    }
    w = (cas_xorb_writer *)malloc(sizeof *w);
    chunk = (uint8_t *)malloc(CAS_CHUNK_MAX_SIZE);
    memset(&sink, 0, sizeof sink);
    sink.write = file_sink_write;
    sink.user = fout.f;
    if (!w || !chunk || cas_xorb_writer_init(NULL, w, compression, &sink) != CAS_OK) {
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
    if (rc == 0 && new_file_commit(&fout) != 0) rc = EXIT_USAGE;
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
    if (rc != 0) new_file_discard(&fout); /* a no-op after a failed commit */
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
            if (!parse_range(argv[++i], &v.first, &v.last)) return bad_range(argv[i]);
        } else if (mode == 2 && !strcmp(argv[i], "--hash") && i + 1 < argc) {
            want = argv[++i];
        } else if (!name) name = argv[i];
        else return bad_arg(argv[i]);
    }
    if (!name) return usage_error("XORB is missing");
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
    if (argc < 1) return usage_error("pack, ls, cat or verify?");
    if (!strcmp(argv[0], "pack")) return xorb_pack(argc - 1, argv + 1, buf);
    if (!strcmp(argv[0], "ls")) return xorb_read(argc - 1, argv + 1, 0);
    if (!strcmp(argv[0], "cat")) return xorb_read(argc - 1, argv + 1, 1);
    if (!strcmp(argv[0], "verify")) return xorb_read(argc - 1, argv + 1, 2);
    return usage_error("%s: no such xorb command (pack, ls, cat, verify)", argv[0]);
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
    rc = cas_shard_parse(NULL, *data, len, s, &err);
    if (rc != CAS_OK) {
        fprintf(stderr, "%s: %s: %s: %s at byte %llu\n", g_prog, name, cas_result_name(rc),
                err.what[0] ? err.what : cas_result_message(rc),
                (unsigned long long)err.offset);
        free(*data);
        *data = NULL;
        return rc == CAS_E_NOMEM ? EXIT_USAGE : EXIT_DATA;
    }
    return 0;
}

/* A SHA-256 digest in plain hex (what sha256sum prints). */
static void shard_print_sha(const uint8_t d[32]) {
    char hex[65];
    sha256_hex(d, hex);
    fputs(hex, stdout);
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

/* ---- a directory store's xorbs, read and verified: shard verify --store, store verify,
   pack --verify-existing ---- */

/* Opens xorb h of DIR: DIR/<hex>, DIR/<hex>.xorb, DIR/xorbs/<hex> or DIR/xorbs/<hex>.xorb
   (a flat directory of xorbs or a store), writing its name to path[0..cap). NULL if none
   is there (no message) or if it is the command's output (message). */
static FILE *xorb_file_find(const char *dir, const cas_hash *h, char *path, size_t cap) {
    static const char *forms[4] = {"%s/%s", "%s/%s.xorb", "%s/xorbs/%s", "%s/xorbs/%s.xorb"};
    char hex[CAS_HASH_HEX_SIZE + 1];
    int k;
    cas_hash_to_hex(h, hex);
    for (k = 0; k < 4; k++) {
        FILE *f;
        snprintf(path, cap, forms[k], dir, hex);
        if ((f = fopen(path, "rb")) == NULL) continue;
        if (!input_is_output(f)) return f;
        fclose(f);
        return NULL;
    }
    return NULL;
}

typedef struct {
    const char *dir;
    cas_hash cached;  /* the xorb whose chunks are in `chunks` */
    int have;
    cas_chunk *chunks; /* CAS_XORB_MAX_CHUNKS entries */
    uint32_t count;
    uint8_t *scratch; /* cas_xorb_walk's 2 x CAS_CHUNK_MAX_SIZE */
    char msg[512];    /* why a xorb could not be used: "PATH: reason" */
} store_xorbs;

/* 0, or EXIT_USAGE with the message. */
static int store_xorbs_init(store_xorbs *st, const char *dir) {
    memset(st, 0, sizeof *st);
    st->dir = dir;
    st->chunks = (cas_chunk *)malloc(CAS_XORB_MAX_CHUNKS * sizeof(cas_chunk));
    st->scratch = (uint8_t *)malloc(2 * CAS_CHUNK_MAX_SIZE);
    if (st->chunks && st->scratch) return 0;
    fprintf(stderr, "%s: out of memory\n", g_prog);
    return EXIT_USAGE;
}

static void store_xorbs_free(store_xorbs *st) {
    free(st->chunks);
    free(st->scratch);
}

static int store_xorbs_collect(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                               const uint8_t *data, const cas_hash *hash) {
    store_xorbs *st = (store_xorbs *)user;
    (void)offset;
    (void)data;
    st->chunks[index].hash = *hash;
    st->chunks[index].size = h->uncompressed_size;
    st->count = index + 1;
    return 0;
}

/* Reads the xorb file `path` with the library's xorb reader (every chunk decoded and hashed,
   a footer checked); the chunks' Merkle hash must be `xorb`, the file's name. CAS_OK (its
   chunks cached), or CAS_E_SHARD_VERIFICATION with st->msg saying why. */
static int store_xorb_check(store_xorbs *st, const char *path, const cas_hash *xorb) {
    cas_xorb_info info;
    cas_error err;
    uint8_t *data;
    size_t len = 0;
    int rc;
    st->have = 0;
    st->count = 0;
    data = read_all(path, XORB_FILE_LIMIT, &len);
    if (!data) {
        snprintf(st->msg, sizeof st->msg, "%s: cannot be read", path);
        return CAS_E_SHARD_VERIFICATION;
    }
    rc = cas_xorb_walk(data, len, st->scratch, store_xorbs_collect, st, &info, &err);
    free(data);
    if (rc != CAS_OK) {
        snprintf(st->msg, sizeof st->msg, "%s: %s (%s) at byte %llu", path, cas_result_message(rc),
                 err.what, (unsigned long long)err.offset);
        return CAS_E_SHARD_VERIFICATION;
    }
    if (!cas_hash_equal(&info.xorb_hash, xorb)) {
        snprintf(st->msg, sizeof st->msg, "%s: its chunks hash to another xorb hash", path);
        return CAS_E_SHARD_VERIFICATION;
    }
    st->cached = *xorb;
    st->have = 1;
    return CAS_OK;
}

/* Finds xorb `xorb` in the store and checks it. CAS_E_SHARD_NO_CHUNKS if it is not there. */
static int store_xorbs_load(store_xorbs *st, const cas_hash *xorb) {
    char path[4096];
    FILE *f = xorb_file_find(st->dir, xorb, path, sizeof path);
    st->have = 0;
    if (!f) return CAS_E_SHARD_NO_CHUNKS;
    fclose(f);
    return store_xorb_check(st, path, xorb);
}

/* cas_shard_chunks_fn over the store. */
static int store_xorbs_chunks(void *user, const cas_hash *xorb, uint32_t start, uint32_t end, cas_chunk *out) {
    store_xorbs *st = (store_xorbs *)user;
    if (!st->have || !cas_hash_equal(&st->cached, xorb)) {
        int rc = store_xorbs_load(st, xorb);
        if (rc) return rc;
    }
    if (end > st->count) return CAS_E_SHARD_ENTRY; /* the range passes the xorb's chunks */
    memcpy(out, st->chunks + start, (end - start) * sizeof *out);
    return CAS_OK;
}

/* Checks shard s (read from `name`): its own CAS info and every term's verification hash and
   size against the chunks of the store's xorbs (st; NULL: against the shard's own CAS info).
   Problems go to stderr, naming `name`; verbose: the "ok" line on stdout too. 0 if it
   verifies (with a store: every term, so a missing xorb is a problem), else EXIT_DATA. */
static int shard_check(const char *name, const cas_shard *s, store_xorbs *st, int verbose) {
    cas_error err;
    size_t checked = 0, unchecked = 0, i;
    int rc;
    if (st) st->msg[0] = 0;
    /* The shard's own CAS info must describe the stored xorbs it names. */
    for (i = 0; st && i < s->num_xorbs && !s->keyed; i++) {
        const cas_shard_xorb *x = &s->xorbs[i];
        uint32_t j, bad = 0;
        rc = store_xorbs_load(st, &x->xorb_hash);
        if (rc == CAS_E_SHARD_NO_CHUNKS) continue;
        if (rc == CAS_OK) {
            bad = st->count != x->num_chunks;
            for (j = 0; !bad && j < x->num_chunks; j++)
                bad = !cas_hash_equal(&st->chunks[j].hash, &x->chunks[j].hash) || st->chunks[j].size != x->chunks[j].unpacked_bytes;
        }
        if (rc || bad) {
            fprintf(stderr, "%s: %s: xorb at byte %llu: %s\n", g_prog, name, (unsigned long long)x->offset,
                    rc ? st->msg : "its CAS info differs from the stored xorb's chunks");
            return EXIT_DATA;
        }
    }
    rc = cas_shard_check_terms(s, st ? store_xorbs_chunks : NULL, st, &checked, &unchecked, &err);
    if (rc != CAS_OK) {
        fprintf(stderr, "%s: %s: %s: %s at byte %llu\n", g_prog, name, cas_result_name(rc),
                st && st->msg[0] ? st->msg : err.what, (unsigned long long)err.offset);
        return EXIT_DATA;
    }
    if (verbose) {
        printf("%s: ok: %zu files, %zu xorbs, %zu chunks; %zu terms verified", name, s->num_files, s->num_xorbs,
               s->num_chunks, checked);
        if (unchecked) printf(", %zu not (xorb %s)", unchecked, st ? "missing from the store" : "not in the shard: use --store");
        printf("\n");
    } else if (st && unchecked) {
        fprintf(stderr, "%s: %s: %zu terms not verified: xorb missing from the store\n", g_prog, name, unchecked);
    }
    return st && unchecked ? EXIT_DATA : 0;
}

static int cmd_shard_verify(const char *name, const char *store) {
    uint8_t *data;
    cas_shard s;
    store_xorbs st;
    int rc = shard_load(name, &data, &s);
    if (rc) return rc;
    if (!store || (rc = store_xorbs_init(&st, store)) == 0) rc = shard_check(name, &s, store ? &st : NULL, 1);
    if (store) store_xorbs_free(&st);
    cas_shard_free(&s);
    free(data);
    return rc;
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
            else return bad_arg(argv[i]);
        }
        if (!file) return usage_error("FILE is missing");
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
            else return bad_arg(argv[i]);
        }
        if (!file) return usage_error("FILE is missing");
        return cmd_shard_verify(file, store);
    }
    return usage_error(argc < 2 ? "dump or verify?" : argc < 3 ? "FILE is missing" : "%s: no such shard command (dump, verify)", argv[1]);
}

/* Reads `f` to the end, chunking and hashing. Calls on_chunk per chunk if not NULL; keeps the
   file's Merkle state and SHA-256. Returns 0 or EXIT_USAGE on a read error. */
typedef struct {
    cas_merkle merkle;
    cas_sha256 sha;
    cas_chunk_stream stream; /* the mapped path's, with one thread */
    int want_sha;
    unsigned threads; /* a large regular file is mapped and chunked on that many threads */
    void (*on_chunk)(const cas_chunk *c);
} file_digest;

static int digest_mapped(FILE *f, const char *name, file_digest *d, unsigned threads);

static void digest_chunk(file_digest *d, const cas_chunk *c) {
    cas_merkle_push(&d->merkle, c);
    if (d->on_chunk) d->on_chunk(c);
}

/* The next n bytes of the file through d->stream (cas_chunk_stream_init'ed at its start);
   last: they end it. */
static void digest_push(file_digest *d, const uint8_t *p, size_t n, int last) {
    size_t off = 0;
    cas_chunk c;
    while (off < n) {
        off += cas_chunk_stream_push(&d->stream, p + off, n - off, &c);
        if (c.size) digest_chunk(d, &c);
    }
    if (last && cas_chunk_stream_finish(&d->stream, &c)) digest_chunk(d, &c);
}

static int digest_file(FILE *f, const char *name, file_digest *d, uint8_t *buf) {
    size_t n;
    int rc = digest_mapped(f, name, d, d->threads);
    if (rc != 1) return rc;
    cas_chunk_stream_init(&d->stream);
    cas_merkle_init(&d->merkle);
    if (d->want_sha) cas_sha256_init(&d->sha);
    while ((n = fread(buf, 1, READ_SIZE, f)) > 0) {
        if (d->want_sha) cas_sha256_update(&d->sha, buf, n);
        else digest_push(d, buf, n, 0);
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: %s: read error: %s\n", g_prog, name, strerror(errno));
        return EXIT_USAGE;
    }
    if (!d->want_sha) digest_push(d, NULL, 0, 1);
    return 0;
}

static void print_chunk(const cas_chunk *c) {
    print_hash(&c->hash);
    printf(" %llu\n", (unsigned long long)c->size);
}

static unsigned upload_threads_default(void);
static unsigned parse_threads(const char *v);

static int cmd_chunk(int argc, char **argv, uint8_t *buf) {
    const char *name = NULL;
    unsigned threads = upload_threads_default();
    file_digest *d;
    FILE *f;
    int rc, i;
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = parse_threads(argv[++i])) == 0) return EXIT_USAGE;
        } else if ((argv[i][0] == '-' && argv[i][1]) || name) return bad_arg(argv[i]);
        else name = argv[i];
    }
    if (!name) name = "-";
    f = open_input(name);
    if (!f) return EXIT_USAGE;
    d = (file_digest *)calloc(1, sizeof *d);
    if (!d) {
        close_input(f);
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    d->on_chunk = print_chunk;
    d->threads = threads;
    rc = digest_file(f, name, d, buf);
    close_input(f);
    free(d);
    return rc;
}

/* A name as sha256sum prints it: with a backslash or a newline in it, the line starts with
   '\' and the name has \\ and \n (so each line is one file); otherwise as it is. */
static void print_name_line(const char *hash_hex, const char *name) {
    const char *c;
    int escape = strpbrk(name, "\\\n") != NULL;
    printf("%s%s  ", escape ? "\\" : "", hash_hex);
    for (c = name; *c; c++) {
        if (escape && *c == '\\') fputs("\\\\", stdout);
        else if (escape && *c == '\n') fputs("\\n", stdout);
        else putchar(*c);
    }
    putchar('\n');
}

/* The hash of one input as hex (Xet file hash, or SHA-256 with d->want_sha). 0, or an exit
   status with the message said. */
static int hash_input(const char *name, file_digest *d, uint8_t *buf, char hex[CAS_HASH_HEX_SIZE + 1]) {
    FILE *f = open_input(name);
    int rc;
    if (!f) return EXIT_USAGE;
    rc = digest_file(f, name, d, buf);
    close_input(f);
    if (rc) return rc;
    if (d->want_sha) {
        uint8_t out[32];
        cas_sha256_final(&d->sha, out);
        sha256_hex(out, hex);
    } else {
        cas_hash h;
        cas_merkle_file_hash(&d->merkle, &h);
        cas_hash_to_hex(&h, hex);
    }
    return 0;
}

/* cas hash --check LIST: each "<hash>  <name>" line (as cas hash prints them) checked. */
static int hash_check(const char *list, file_digest *d, uint8_t *buf) {
    FILE *f = open_input(list);
    char line[8192], hex[CAS_HASH_HEX_SIZE + 1];
    unsigned long lineno = 0, bad_lines = 0, failed = 0, unread = 0, checked = 0;
    if (!f) return EXIT_USAGE;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line), i, k;
        char *h = line, *name;
        int escaped;
        lineno++;
        if (n && line[n - 1] == '\n') line[--n] = 0;
        escaped = h[0] == '\\';
        h += escaped;
        for (i = 0; i < CAS_HASH_HEX_SIZE && isxdigit((unsigned char)h[i]); i++) {}
        if (i != CAS_HASH_HEX_SIZE || h[i] != ' ' || (h[i + 1] != ' ' && h[i + 1] != '*') || !h[i + 2]) {
            bad_lines++;
            continue;
        }
        name = h + i + 2;
        if (escaped) { /* \\ and \n back into the name */
            for (i = k = 0; name[i]; i++, k++) {
                if (name[i] == '\\' && name[i + 1] == '\\') name[k] = '\\', i++;
                else if (name[i] == '\\' && name[i + 1] == 'n') name[k] = '\n', i++;
                else name[k] = name[i];
            }
            name[k] = 0;
        }
        checked++;
        if (hash_input(name, d, buf, hex) != 0) {
            printf("%s: FAILED open or read\n", name);
            unread++;
        } else if (strncasecmp(hex, h, CAS_HASH_HEX_SIZE) != 0) {
            printf("%s: FAILED\n", name);
            failed++;
        } else {
            printf("%s: OK\n", name);
        }
    }
    close_input(f);
    if (bad_lines) fprintf(stderr, "%s: WARNING: %lu line%s improperly formatted\n", g_prog, bad_lines, bad_lines == 1 ? " is" : "s are");
    if (unread) fprintf(stderr, "%s: WARNING: %lu listed file%s could not be read\n", g_prog, unread, unread == 1 ? "" : "s");
    if (failed) fprintf(stderr, "%s: WARNING: %lu computed hash%s did NOT match\n", g_prog, failed, failed == 1 ? "" : "es");
    if (!checked) fprintf(stderr, "%s: %s: no properly formatted hash lines found\n", g_prog, list);
    return failed || unread || !checked ? EXIT_DATA : 0;
}

static unsigned upload_threads_default(void);

/* --threads N: 1..256. 0 with the usage error said otherwise. */
static unsigned parse_threads(const char *v) {
    int n = atoi(v);
    if (n >= 1 && n <= 256) return (unsigned)n;
    usage_error("--threads %s: not 1..256", v);
    return 0;
}

static int cmd_hash(int argc, char **argv, uint8_t *buf) {
    file_digest *d = (file_digest *)calloc(1, sizeof *d);
    const char **names = (const char **)calloc((size_t)argc + 1, sizeof *names);
    char hex[CAS_HASH_HEX_SIZE + 1];
    int i, rc = 0, nnames = 0, check = 0;
    if (!d || !names) {
        free(d), free(names);
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    d->threads = upload_threads_default();
    for (i = 0; i < argc && rc == 0; i++) {
        if (!strcmp(argv[i], "--sha256")) d->want_sha = 1;
        else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--check")) check = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) rc = (d->threads = parse_threads(argv[++i])) ? 0 : EXIT_USAGE;
        else if (argv[i][0] == '-' && argv[i][1]) rc = bad_arg(argv[i]);
        else if (check && nnames) rc = bad_arg(argv[i]);
        else names[nnames++] = argv[i];
    }
    if (rc == 0 && check) rc = hash_check(nnames ? names[0] : "-", d, buf);
    else if (rc == 0) {
        if (!nnames) names[nnames++] = "-";
        for (i = 0; i < nnames; i++) {
            if (hash_input(names[i], d, buf, hex) == 0) print_name_line(hex, names[i]);
            else rc = EXIT_USAGE;
        }
    }
    free(d), free(names);
    return rc;
}

/* ==== pack: the upload engine with a directory store as the host ====

   cas pack --store DIR [--verify-existing] FILE...
     Uploads FILE... (or - for stdin) into DIR as one session: new xorbs go to
     DIR/xorbs/<xorb-hash> (the body as uploaded, no footer), the session's shard(s) to
     DIR/shards/<shard-hash> (upload form), each written to a new temporary of a unique name,
     fsync'd and renamed, so packs running at once into one store do not disturb each other.
     The shards already in DIR/shards are the dedup cache, and an existing entry of the same
     name is trusted and kept (content-addressed). Prints "<xet-file-hash>  <name>" per file,
     and a summary on stderr.
     --verify-existing: trust nothing unchecked. A store shard is used for dedup only if it
     verifies against the store's xorbs (as `cas shard verify --store`), since its chunks
     would otherwise never be stored again; an existing xorb of the name of a new one is
     decoded and hashed first and, if it does not verify, atomically replaced by the new one
     (said on stderr). A damaged xorb is thus repaired by packing its files again, when the
     session rebuilds a xorb of that name (the same files packed the same way).

   cas pack --dry-run [--store DIR] FILE...
     The same session, every xorb and shard built in memory and dropped: how much an upload
     would store given DIR's shards (none without --store). DIR is only read. Also the
     upload pipeline's speed without the disk (tests/bench_pack.sh).

   cas store verify DIR
     Every xorb of DIR/xorbs (<hash> or <hash>.xorb) decoded and hashed against its name, as
     `cas xorb verify` does, and every shard of DIR/shards checked against them, as `cas shard
     verify --store DIR` does. One line per problem on stderr, naming the file; a summary on
     stdout; exit status 1 if anything is wrong. Temporaries and other names are skipped. */

typedef struct {
    cas_upload *u;
    const char *dir;
    int dry_run; /* count, do not write */
    store_xorbs *verify; /* --verify-existing: checks an existing xorb before keeping it */
    unsigned long long xorbs_written, shards_written;
} pack_store;

/* Writes an upload event's bytes (type CAS_UPLOAD_EVENT_XORB or _SHARD) to DIR/xorbs/HEX or
   DIR/shards/HEX through a new temporary. An existing file is kept (same name, same content)
   unless st->verify finds a xorb damaged. Returns 0 (written), 1 (kept) or -1. */
static int pack_put(const pack_store *st, int type, const cas_hash *h, const uint8_t *data, size_t len) {
    char hex[CAS_HASH_HEX_SIZE + 1], path[4096];
    struct stat sb;
    new_file nf;
    int damaged = 0;
    if (st->dry_run) return (void)type, (void)h, (void)data, (void)len, 0;
    cas_hash_to_hex(h, hex);
    snprintf(path, sizeof path, "%s/%s/%s", st->dir, type == CAS_UPLOAD_EVENT_XORB ? "xorbs" : "shards", hex);
    if (lstat(path, &sb) == 0) {
        if (!st->verify || type != CAS_UPLOAD_EVENT_XORB || store_xorb_check(st->verify, path, h) == CAS_OK)
            return 1;
        damaged = 1;
    }
    if (new_file_open(&nf, path) != 0) return -1;
    if (fwrite(data, 1, len, nf.f) != len) {
        fprintf(stderr, "%s: %s: write error: %s\n", g_prog, nf.tmp, strerror(errno));
        new_file_discard(&nf);
        return -1;
    }
    if (new_file_commit(&nf) != 0) return -1;
    if (damaged) fprintf(stderr, "%s: %s; replaced by the xorb just built\n", g_prog, st->verify->msg);
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

/* Calls each(user, path, name) for every entry of DIR/SUB until one returns nonzero (the
   result). EXIT_USAGE, with a message, if the directory cannot be read. */
static int store_each(const char *dir, const char *sub, int (*each)(void *user, const char *path, const char *name),
                      void *user) {
    char path[4096];
    DIR *d;
    struct dirent *e;
    int rc = 0;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, path, strerror(errno));
        return EXIT_USAGE;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, sub, e->d_name);
        rc = each(user, path, e->d_name);
    }
    closedir(d);
    return rc;
}

/* A shard's name in a store: <64 hex> (what pack writes) or *.shard (what xet-core's and HF's
   tools write); never a temporary. */
static int is_shard_name(const char *name) {
    cas_hash h;
    size_t n = strlen(name);
    return (n == CAS_HASH_HEX_SIZE && cas_hash_from_hex(name, n, &h) == CAS_OK) ||
           (n > 6 && name[0] != '.' && !strcmp(name + n - 6, ".shard"));
}

/* A xorb's name in a store: <64 hex> or <64 hex>.xorb, the xorb hash; 1 with *h if so. */
static int xorb_name_hash(const char *name, cas_hash *h) {
    size_t n = strlen(name);
    return (n == CAS_HASH_HEX_SIZE || (n == CAS_HASH_HEX_SIZE + 5 && !strcmp(name + CAS_HASH_HEX_SIZE, ".xorb"))) &&
           cas_hash_from_hex(name, CAS_HASH_HEX_SIZE, h) == CAS_OK;
}

typedef struct {
    cas_shard *s;
    uint8_t **data;
    size_t n, cap;
    store_xorbs *trust; /* not NULL: a shard is kept only if it verifies against these xorbs */
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

/* store_each over DIR/shards: loads one shard into the pack_shards. */
static int pack_load_shard(void *user, const char *path, const char *name) {
    pack_shards *ps = (pack_shards *)user;
    cas_error err;
    size_t len = 0;
    uint8_t *data;
    if (!is_shard_name(name)) return 0;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        cas_shard *s = (cas_shard *)realloc(ps->s, cap * sizeof *s);
        uint8_t **dd;
        if (s) ps->s = s;
        dd = s ? (uint8_t **)realloc(ps->data, cap * sizeof *dd) : NULL;
        if (!s || !dd) {
            fprintf(stderr, "%s: out of memory\n", g_prog);
            return EXIT_USAGE;
        }
        ps->data = dd;
        ps->cap = cap;
    }
    data = read_all(path, CAS_SHARD_MAX_SIZE, &len);
    if (!data) return EXIT_USAGE;
    if (cas_shard_parse(NULL, data, len, &ps->s[ps->n], &err) != CAS_OK) {
        free(data);
        return report(path, err.code, &err);
    }
    if (ps->trust && shard_check(path, &ps->s[ps->n], ps->trust, 0) != 0) {
        fprintf(stderr, "%s: %s: not used for dedup\n", g_prog, path);
        cas_shard_free(&ps->s[ps->n]);
        free(data);
        return 0;
    }
    ps->data[ps->n++] = data;
    return 0;
}

/* Loads every shard of DIR/shards (is_shard_name); anything else is skipped. */
static int pack_load_shards(const char *dir, pack_shards *ps) {
    return store_each(dir, "shards", pack_load_shard, ps);
}

typedef struct {
    store_xorbs st;
    unsigned long xorbs, shards, problems;
} store_verify;

/* store_each over DIR/xorbs. */
static int store_verify_xorb(void *user, const char *path, const char *name) {
    store_verify *v = (store_verify *)user;
    cas_hash h;
    if (!xorb_name_hash(name, &h)) return 0;
    v->xorbs++;
    if (store_xorb_check(&v->st, path, &h) != CAS_OK) {
        fprintf(stderr, "%s: %s\n", g_prog, v->st.msg);
        v->problems++;
    }
    return 0;
}

/* store_each over DIR/shards. */
static int store_verify_shard(void *user, const char *path, const char *name) {
    store_verify *v = (store_verify *)user;
    uint8_t *data;
    cas_shard s;
    if (!is_shard_name(name)) return 0;
    v->shards++;
    if (shard_load(path, &data, &s) != 0) { /* the message names the shard */
        v->problems++;
        return 0;
    }
    if (shard_check(path, &s, &v->st, 0) != 0) v->problems++;
    cas_shard_free(&s);
    free(data);
    return 0;
}

/* argv[0] = "store". */
static int cmd_store(int argc, char **argv) {
    store_verify v;
    int rc;
    if (argc < 2 || strcmp(argv[1], "verify")) return usage_error(argc < 2 ? "verify?" : "%s: no such store command (verify)", argv[1]);
    if (argc != 3) return argc < 3 ? usage_error("DIR is missing") : bad_arg(argv[3]);
    memset(&v, 0, sizeof v);
    if ((rc = store_xorbs_init(&v.st, argv[2])) == 0 && (rc = store_each(argv[2], "xorbs", store_verify_xorb, &v)) == 0)
        rc = store_each(argv[2], "shards", store_verify_shard, &v);
    store_xorbs_free(&v.st);
    if (rc) return rc;
    printf("%s: %lu xorbs, %lu shards: %s", argv[2], v.xorbs, v.shards, v.problems ? "" : "ok\n");
    if (v.problems) printf("%lu with problems\n", v.problems);
    return v.problems ? EXIT_DATA : 0;
}

/* Drains the session's events into the store (host: the pack_store). Returns 0 or an exit
   status. */
static int pack_drain(void *host) {
    pack_store *st = (pack_store *)host;
    cas_upload *u = st->u;
    cas_upload_event ev;
    int rc;
    while ((rc = cas_upload_next(u, &ev)) == CAS_READY) {
        int put;
        if (ev.type == CAS_UPLOAD_EVENT_XORB || ev.type == CAS_UPLOAD_EVENT_SHARD) {
            put = pack_put(st, ev.type, &ev.hash, ev.data, ev.len);
            if (put == 0) ++*(ev.type == CAS_UPLOAD_EVENT_XORB ? &st->xorbs_written : &st->shards_written);
        } else {
            put = 0; /* no global dedup: a store has no server to ask */
        }
        if (put < 0) return EXIT_USAGE;
    }
    if (rc == CAS_NEED_INPUT || rc == CAS_END) return 0;
    return report("pack", rc, cas_upload_error(u));
}

/* ---- threads for `pack`/`put --threads N`: a pool for cas_upload_desc.parallel (chunk
   compression) and a SHA-256 thread per file (CAS_UPLOAD_HOST_SHA256) ---- */

typedef struct {
    pthread_t *threads;
    unsigned n;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    void (*job)(void *, size_t);
    void *ctx;
    size_t total, next, finished;
    unsigned long gen;
    int quit;
} pack_pool;

/* Runs jobs of the current batch until none is left; called with mu held. */
static void pack_pool_work(pack_pool *p) {
    while (p->next < p->total) {
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        p->job(p->ctx, i);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->total) pthread_cond_broadcast(&p->done);
    }
}

static void *pack_pool_worker(void *arg) {
    pack_pool *p = (pack_pool *)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        pack_pool_work(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* cas_upload_desc.parallel: the caller works too, and returns when every job is done. */
static void pack_pool_run(void *user, void (*job)(void *ctx, size_t i), void *ctx, size_t n) {
    pack_pool *p = (pack_pool *)user;
    pthread_mutex_lock(&p->mu);
    p->job = job, p->ctx = ctx, p->total = n, p->next = 0, p->finished = 0;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pack_pool_work(p);
    while (p->finished < p->total) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* n - 1 workers (the caller is the n-th). 0 on success. */
static int pack_pool_start(pack_pool *p, unsigned n) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = (pthread_t *)calloc(n, sizeof *p->threads);
    if (!p->threads) return -1;
    for (p->n = 0; p->n + 1 < n; p->n++)
        if (pthread_create(&p->threads[p->n], NULL, pack_pool_worker, p) != 0) break;
    return 0;
}

/* --threads N for pack and put: N > 1 runs chunk compression on a pool of N threads (the
   session's parallel hook) and each file's SHA-256 on a thread of its own (upload_file);
   the output is byte-identical to one thread. Returns whether the pool runs (stop it). */
static int upload_threads_start(cas_upload_desc *desc, pack_pool *pool, unsigned threads) {
    if (threads <= 1) return 0;
    desc->flags |= CAS_UPLOAD_HOST_SHA256;
    if (pack_pool_start(pool, threads) != 0) return 0;
    desc->parallel = pack_pool_run;
    desc->parallel_user = pool;
    return 1;
}

/* The default of --threads: the cores online (1..64). */
static unsigned upload_threads_default(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 1 ? (unsigned)(cores < 64 ? cores : 64) : 1;
}

static void pack_pool_stop(pack_pool *p);

/* ---- mapped input: a regular file of 32 MiB or more is read through mmap, not copied ----
   A mapped file that shrinks under us raises SIGBUS on the first missing page: while a
   mapping is read, a handler says so and exits with the read-error status rather than let
   the process die of the signal. cas hash/chunk map a window at a time, cas pack/put the
   whole file where the address space allows (the upload engine copies what it keeps). */
#define MAPPED_INPUT_MIN_SIZE (32 << 20)
static const char *mapped_input_name = "";
static void mapped_input_sigbus(int sig) {
    static const char a[] = ": a mapped input file shrank while it was read (SIGBUS): ";
    (void)sig;
    if (write(2, g_prog, strlen(g_prog)) < 0 || write(2, a, sizeof a - 1) < 0 ||
        write(2, mapped_input_name, strlen(mapped_input_name)) < 0 || write(2, "\n", 1) < 0) {}
    _exit(EXIT_USAGE);
}

typedef struct {
    struct sigaction old_bus;
    int fd;
    off_t size; /* the file's size and modification time when it was opened */
    struct timespec mtime;
} mapped_input;

/* 1 and the guard set if f is a regular file of 32 MiB or more (then map it with
   mapped_input_map and end with mapped_input_end), else 0: read it. */
static int mapped_input_begin(mapped_input *mi, FILE *f, const char *name) {
    struct stat sb;
    struct sigaction bus;
    mi->fd = fileno(f);
    if (fstat(mi->fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < MAPPED_INPUT_MIN_SIZE) return 0;
    mi->size = sb.st_size;
    mi->mtime = sb.st_mtim;
    memset(&bus, 0, sizeof bus);
    bus.sa_handler = mapped_input_sigbus;
    sigemptyset(&bus.sa_mask);
    mapped_input_name = name;
    sigaction(SIGBUS, &bus, &mi->old_bus);
    return 1;
}
/* len bytes of the file from `at` (a page multiple), read once in order; NULL if refused. */
static const uint8_t *mapped_input_map(mapped_input *mi, off_t at, size_t len, int flags) {
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | flags, mi->fd, at);
    if (map == MAP_FAILED) return NULL;
    posix_madvise(map, len, POSIX_MADV_SEQUENTIAL);
    return (const uint8_t *)map;
}
/* Ends the guard. Unlike a copy, a mapping shows a writer's changes while it is read, so two
   readers of it (the chunker and the SHA-256 thread, or two windows) could see different
   bytes: a file whose size or modification time moved meanwhile is an error, said here
   (as tar's "file changed as we read it"). 0 or EXIT_USAGE. */
static int mapped_input_end(mapped_input *mi, const char *name) {
    struct stat sb;
    sigaction(SIGBUS, &mi->old_bus, NULL);
    if (fstat(mi->fd, &sb) == 0 && sb.st_size == mi->size && sb.st_mtim.tv_sec == mi->mtime.tv_sec &&
        sb.st_mtim.tv_nsec == mi->mtime.tv_nsec)
        return 0;
    fprintf(stderr, "%s: %s: the file changed while it was read (its hash would mix old and new bytes)\n", g_prog, name);
    return EXIT_USAGE;
}

/* ---- cas hash / cas chunk: a regular file mapped, chunked in parallel (cas_chunk_buffer) ----
   A regular file of 32 MiB or more is mapped a window at a time (256 MiB) and chunked in
   place: in segments on the pool's threads, stitched by the library (--threads 1: the
   segments one after another on this thread). The next window is mapped from the first byte
   after the last boundary (rounded down to a page). No byte is copied: reading the file into
   a buffer first cost a copy per byte, a quarter of the time of one thread (1569 against
   2060 MB/s in-process) and, as a phase of its own, most of what a second thread could
   gain (tests/bench_pack.sh prints the whole process against the in-process speed). Same
   chunks as the streaming path. */
#define DIGEST_WINDOW (256u << 20)

/* One thread: the window's pages mapped by mmap itself (Linux), 1 fault per window instead
   of one per 64 KiB, 8% of the time. More threads fault their own segments in at once: a
   serial populate would be a phase the others wait for. */
static int digest_map_flags(unsigned threads) {
#ifdef MAP_POPULATE
    if (threads == 1) return MAP_POPULATE;
#endif
    return (void)threads, 0;
}

/* 1: not for this input (SHA-256, not a regular file, under 32 MiB, mmap refused): the
   caller reads it; else 0 or an exit status, with d->merkle holding the file's chunks. */
static int digest_mapped(FILE *f, const char *name, file_digest *d, unsigned threads) {
    mapped_input mi;
    pack_pool pool;
    cas_chunk_buffer_desc desc;
    long page = sysconf(_SC_PAGESIZE);
    off_t pos = 0; /* first byte not yet in a chunk */
    int rc = 0;
    if (d->want_sha || page <= 0 || !mapped_input_begin(&mi, f, name)) return 1;
    memset(&desc, 0, sizeof desc);
    if (threads > 1 && pack_pool_start(&pool, threads) == 0) {
        desc.parallel = pack_pool_run;
        desc.parallel_user = &pool;
    }
    cas_merkle_init(&d->merkle);
    while (rc == 0) {
        off_t at = pos - pos % page; /* mmap offsets are page multiples */
        size_t skip = (size_t)(pos - at), len, k;
        cas_chunk_list l;
        const uint8_t *map;
        int last;
        len = mi.size - at <= (off_t)DIGEST_WINDOW ? (size_t)(mi.size - at) : DIGEST_WINDOW;
        last = at + (off_t)len == mi.size;
        if ((map = mapped_input_map(&mi, at, len, digest_map_flags(threads))) == NULL) {
            if (pos == 0) rc = 1; /* a file system that cannot map: read it instead */
            else rc = (fprintf(stderr, "%s: %s: cannot map: %s\n", g_prog, name, strerror(errno)), EXIT_USAGE);
            break;
        }
        if (!desc.parallel) { /* one thread: the stream over the window, 5% faster than
                                 cas_chunk_buffer's segments one after another */
            size_t n = len - skip;
            if (pos == 0) cas_chunk_stream_init(&d->stream);
            digest_push(d, map + skip, n, last);
            meter_add(n);
            pos += (off_t)n;
            munmap((void *)map, len);
            if (last) break;
            continue;
        }
        if (cas_chunk_buffer(NULL, map + skip, len - skip, last, &desc, &l) != CAS_OK) {
            munmap((void *)map, len);
            rc = report(name, CAS_E_NOMEM, NULL);
            break;
        }
        for (k = 0; k < l.n; k++) digest_chunk(d, &l.chunks[k]);
        meter_add(l.used);
        pos += (off_t)l.used; /* the bytes after the last boundary begin the next window */
        cas_chunk_list_free(&l);
        munmap((void *)map, len);
        if (last) break;
    }
    if (mapped_input_end(&mi, name) != 0 && rc == 0) rc = EXIT_USAGE;
    if (desc.parallel) pack_pool_stop(&pool);
    return rc;
}

static void pack_pool_stop(pack_pool *p) {
    unsigned i;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->n; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
}

/* A file's SHA-256 on its own thread, over the very bytes pushed to the session (not a second
   read of the file, which a pipe would split and a file changed meanwhile would contradict):
   the reader fills two buffers in turn and posts each; the hasher gives it back when done. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const uint8_t *data[2];
    size_t len[2];
    int full[2]; /* posted, not hashed yet */
    int done;    /* nothing more will be posted */
    cas_sha256 h;
} sha_pipe;

static void *sha_pipe_thread(void *arg) {
    sha_pipe *p = (sha_pipe *)arg;
    int k = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->full[k] && !p->done) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->full[k]) { /* done, and everything posted is hashed */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        pthread_mutex_unlock(&p->mu);
        cas_sha256_update(&p->h, p->data[k], p->len[k]);
        pthread_mutex_lock(&p->mu);
        p->full[k] = 0;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        k ^= 1;
    }
}

/* Waits until buffer k is free again (hashed). */
static void sha_pipe_wait(sha_pipe *p, int k) {
    pthread_mutex_lock(&p->mu);
    while (p->full[k]) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void sha_pipe_post(sha_pipe *p, int k, const uint8_t *data, size_t len) {
    pthread_mutex_lock(&p->mu);
    p->data[k] = data;
    p->len[k] = len;
    p->full[k] = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Ends the hasher thread (after the buffers posted so far) and frees the pipe's sync. */
static void sha_pipe_end(sha_pipe *p, pthread_t tid) {
    pthread_mutex_lock(&p->mu);
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(tid, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* Pushes one file through the session u, handing its events to drain(host) (the directory
   store of `pack`, the network of `put`) whenever the engine has some. threads > 1: the
   file's SHA-256 is computed on a thread of its own over the same bytes (the session then
   needs CAS_UPLOAD_HOST_SHA256), reading into buf and a second buffer in turn. Returns 0
   with *r, or an exit status. */
static int upload_file(cas_upload *u, const char *name, uint8_t *buf, unsigned threads,
                       int (*drain)(void *host), void *host, cas_upload_file_result *r) {
    FILE *f = open_input(name);
    uint8_t *bufs[2], *second = NULL;
    const uint8_t *piece, *map = NULL; /* map: the whole file, when mapped */
    size_t n, map_len = 0, map_at = 0;
    int rc, x = 0, k = 0, piped = 0, host_sha = threads > 1, mapped;
    pthread_t tid;
    sha_pipe sp;
    mapped_input mi;
    uint8_t digest[32];
    if (!f) return EXIT_USAGE;
    /* Mapped, the pieces are slices of the file: no read copy on the session's thread, which
       is the one every other thread waits for. Where the file does not fit the address
       space or cannot be mapped, it is read. */
    if ((mapped = mapped_input_begin(&mi, f, name)) != 0) {
        if ((uint64_t)mi.size <= (uint64_t)SIZE_MAX / 4) map = mapped_input_map(&mi, 0, map_len = (size_t)mi.size, 0);
        if (!map) mapped_input_end(&mi, name), mapped = 0;
    }
    memset(&sp, 0, sizeof sp);
    cas_sha256_init(&sp.h);
    if (host_sha && (map || (second = (uint8_t *)malloc(READ_SIZE)) != NULL)) {
        pthread_mutex_init(&sp.mu, NULL);
        pthread_cond_init(&sp.cv, NULL);
        piped = pthread_create(&tid, NULL, sha_pipe_thread, &sp) == 0;
        if (!piped) {
            pthread_mutex_destroy(&sp.mu);
            pthread_cond_destroy(&sp.cv);
        }
    }
    bufs[0] = buf;
    bufs[1] = piped ? second : buf;
    rc = cas_upload_file_begin(u);
    while (rc == CAS_OK) {
        size_t off = 0;
        if (piped) sha_pipe_wait(&sp, k);
        if (map) {
            piece = map + map_at;
            map_at += n = map_len - map_at < READ_SIZE ? map_len - map_at : READ_SIZE;
        } else {
            piece = bufs[k];
            n = fread(bufs[k], 1, READ_SIZE, f);
        }
        if (n == 0) break;
        meter_add(n);
        if (piped) sha_pipe_post(&sp, k, piece, n);
        else if (host_sha) cas_sha256_update(&sp.h, piece, n);
        while (rc == CAS_OK && off < n) {
            size_t used = 0;
            rc = cas_upload_push(u, piece + off, n - off, &used);
            off += used;
            if (rc == CAS_READY && (x = drain(host)) != 0) break;
            if (rc == CAS_READY || rc == CAS_NEED_INPUT) rc = CAS_OK;
        }
        if (x) break;
        k ^= piped;
    }
    if (piped) sha_pipe_end(&sp, tid);
    free(second);
    if (map) munmap((void *)map, map_len);
    if (mapped && mapped_input_end(&mi, name) != 0 && !x) x = EXIT_USAGE;
    if (x) {
        close_input(f);
        return x;
    }
    if (rc == CAS_OK && ferror(f)) {
        fprintf(stderr, "%s: %s: read error: %s\n", g_prog, name, strerror(errno));
        close_input(f);
        return EXIT_USAGE;
    }
    close_input(f);
    if (host_sha && rc == CAS_OK) {
        cas_sha256_final(&sp.h, digest);
        rc = cas_upload_file_sha256(u, digest);
    }
    while (rc == CAS_OK || rc == CAS_READY) {
        rc = cas_upload_file_end(u, r);
        if (rc == CAS_OK) break;
        if (rc == CAS_READY && (x = drain(host)) != 0) return x;
    }
    if (rc != CAS_OK) return report(name, rc, cas_upload_error(u));
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
    unsigned threads = upload_threads_default();
    cas_upload_desc desc;
    pack_pool pool;
    store_xorbs verify;
    int verify_existing = 0;
    memset(&st, 0, sizeof st);
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--store") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--dry-run")) st.dry_run = 1;
        else if (!strcmp(argv[i], "--verify-existing")) verify_existing = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = parse_threads(argv[++i])) == 0) return EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) return bad_arg(argv[i]);
        else nfiles++;
    }
    if ((!dir && !st.dry_run) || !nfiles || (verify_existing && !dir))
        return usage_error(!nfiles ? "FILE... is missing" : verify_existing ? "--verify-existing needs --store DIR" : "--store DIR or --dry-run is missing");
    memset(&ps, 0, sizeof ps);
    st.dir = dir;
    if (verify_existing) {
        if ((rc = store_xorbs_init(&verify, dir)) != 0) {
            store_xorbs_free(&verify);
            return rc;
        }
        st.verify = ps.trust = &verify;
    }
    if ((dir && !st.dry_run && (rc = pack_mkdirs(dir)) != 0) || (dir && (rc = pack_load_shards(dir, &ps)) != 0)) {
        pack_shards_free(&ps);
        if (st.verify) store_xorbs_free(st.verify);
        return rc;
    }
    memset(&desc, 0, sizeof desc);
    upload_threads_start(&desc, &pool, threads);
    buf = (uint8_t *)malloc(READ_SIZE);
    if (!buf || (rc = cas_upload_create(NULL, &desc, &u, &err)) != CAS_OK) {
        if (desc.parallel) pack_pool_stop(&pool);
        rc = buf ? report("pack", rc, &err) : (fprintf(stderr, "%s: out of memory\n", g_prog), EXIT_USAGE);
        free(buf);
        pack_shards_free(&ps);
        if (st.verify) store_xorbs_free(st.verify);
        return rc;
    }
    st.u = u;
    for (k = 0; k < ps.n && rc == 0; k++)
        if (cas_upload_add_shard(u, &ps.s[k]) != CAS_OK) rc = report("pack", CAS_E_NOMEM, NULL);
    meter_begin("pack", inputs_size(argv, argc)); /* (options are not files: stat fails or they are small) */
    for (i = 0; i < argc && rc == 0; i++) {
        if (!strcmp(argv[i], "--store") || !strcmp(argv[i], "--threads")) {
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "--verify-existing")) continue;
        cas_upload_file_result r;
        if ((rc = upload_file(u, argv[i], buf, threads, pack_drain, &st, &r)) == 0) {
            meter_clear();
            print_hash(&r.file_hash);
            printf("  %s\n", argv[i]);
        }
    }
    if (rc == 0 && (rc = cas_upload_finish(u)) != CAS_OK) rc = report("pack", rc, cas_upload_error(u));
    if (rc == 0) rc = pack_drain(&st);
    meter_end();
    cas_upload_get_stats(u, &s);
    if (rc == 0)
        fprintf(stderr,
                "%s: %llu files, %llu bytes in, %llu new bytes %s (%llu chunks; %llu bytes in "
                "xorbs), %llu bytes deduplicated (%llu chunks), %llu xorbs and %llu shards %s, "
                "%.2f chunks per term (%llu terms)\n",
                g_prog, (unsigned long long)s.files, (unsigned long long)s.bytes_in,
                (unsigned long long)s.new_bytes, st.dry_run ? "to store" : "stored",
                (unsigned long long)s.new_chunks,
                (unsigned long long)s.xorb_bytes, (unsigned long long)s.dedup_bytes,
                (unsigned long long)s.dedup_chunks, st.dry_run ? s.xorbs : st.xorbs_written,
                st.dry_run ? s.shards : st.shards_written, st.dry_run ? "built (dry run: none written)" : "written",
                s.terms ? (double)s.chunks / (double)s.terms : 0.0, (unsigned long long)s.terms);
    cas_upload_free(u);
    if (desc.parallel) pack_pool_stop(&pool);
    pack_shards_free(&ps);
    if (st.verify) store_xorbs_free(st.verify);
    free(buf);
    return rc;
}

/* ==== download: reconstruct / unpack ==== */
/* ---- the engine driven against local files ----

   cas reconstruct MANIFEST.json --xorbs DIR -o OUT [--range A-B] [--hash H] [--per-range]
       runs a v1 or v2 QueryReconstructionResponse (URLs and all) with each request answered
       from DIR/<xorb-hash>[.xorb] or DIR/xorbs/<xorb-hash>[.xorb]: the requested byte ranges
       are cut from the whole xorb, several ranges answered as a multipart/byteranges body.
       --range A-B: the byte range the manifest was requested for (inclusive).
   cas unpack --store DIR FILEHASH -o OUT [--range A-B] [--per-range]
       the manifest a server would send, built from the shards in DIR/shards, then the same path.

   OUT is written to a new temporary beside it (OUT.<pid>.<random>.tmp, never a name that
   exists, never through a symlink) and renamed over OUT only once every byte is written,
   checked (the file hash, when a whole file is reconstructed and its hash known) and
   fsync'd; on failure the temporary is removed and OUT untouched. An OUT that is one of the
   inputs (the manifest, a shard, a xorb) is refused. "-o -" writes stdout in order (the
   sequential sink). */

/* xorb_file_find, or NULL with a message. */
static FILE *xorb_file_open(const char *dir, const cas_hash *h) {
    char hex[CAS_HASH_HEX_SIZE + 1], path[4096];
    FILE *f = xorb_file_find(dir, h, path, sizeof path);
    cas_hash_to_hex(h, hex);
    if (!f && !g_output.refused) fprintf(stderr, "%s: xorb %s: not found in %s\n", g_prog, hex, dir);
    return f;
}

typedef struct {
    FILE *f;      /* the new OUT's stream, or stdout */
    int fd;       /* its descriptor, for pwrite when positional */
    new_file out; /* OUT's temporary (unused for stdout) */
    /* unpack: the store's shards, whose chunk hashes every decoded chunk must match */
    const pack_shards *check;
    const cas_recon *recon;
} dl_output;

/* cas_download_chunk_fn for a local store: a chunk must be the one the store's shards list
   for its xorb (so a damaged but decodable xorb fails a range too, where no file hash can
   be checked). */
static int dl_check_chunk(void *user, uint32_t term, uint32_t index, const cas_chunk *c) {
    dl_output *o = (dl_output *)user;
    const cas_hash *xorb = &o->recon->terms[term].hash;
    size_t i;
    for (i = 0; i < o->check->n; i++) {
        const cas_shard *s = &o->check->s[i];
        const cas_shard_xorb *x;
        cas_hash zero;
        memset(&zero, 0, sizeof zero);
        if (!cas_hash_equal(&s->footer.hmac_key, &zero) || !(x = cas_shard_find_xorb(s, xorb)) || index >= x->num_chunks)
            continue;
        if (cas_hash_equal(&x->chunks[index].hash, &c->hash) && x->chunks[index].unpacked_bytes == c->size) return 0;
        {
            char hex[CAS_HASH_HEX_SIZE + 1];
            cas_hash_to_hex(xorb, hex);
            fprintf(stderr, "%s: xorb %s: chunk %u is not the one the store's shards list (damaged xorb?)\n", g_prog,
                    hex, index);
        }
        return CAS_E_HASH;
    }
    return CAS_E_SHARD_NO_CHUNKS; /* (recon_from_shards found it in these shards) */
}

static int dl_write_at(void *user, uint64_t off, const void *data, size_t len) {
    dl_output *o = (dl_output *)user;
    const uint8_t *p = (const uint8_t *)data;
    while (len) {
        ssize_t n = pwrite(o->fd, p, len, (off_t)off);
        if (n <= 0) {
            fprintf(stderr, "%s: %s: write error: %s\n", g_prog, o->out.tmp, strerror(errno));
            return CAS_E_ARGUMENT;
        }
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

static int dl_write(void *user, const void *data, size_t len) {
    dl_output *o = (dl_output *)user;
    if (fwrite(data, 1, len, o->f) != len) {
        fprintf(stderr, "%s: write error: %s\n", g_prog, strerror(errno));
        return CAS_E_ARGUMENT;
    }
    return 0;
}

/* Appends bytes [a, b] of f to body. */
static int dl_read_range(FILE *f, uint64_t a, uint64_t b, uint8_t *dst) {
    size_t n = (size_t)(b - a + 1);
    if (fseeko(f, (off_t)a, SEEK_SET) != 0 || fread(dst, 1, n, f) != n) return -1;
    return 0;
}

/* The response a CAS would send for a request: the range's bytes, or multipart/byteranges
   with each part's Content-Range. *body is malloc'd. */
#define DL_BOUNDARY "cas-local-3a7f0c"
/* The response body of request q, read from the store into *body (*body_cap bytes, grown as
   needed and kept by the caller across requests: a fresh buffer of up to 64 MiB per request
   would be mapped, faulted in and unmapped each time, a quarter of cas unpack's time). */
static int dl_local_response(const char *dir, const cas_recon *r, const cas_download_request *q,
                             uint8_t **body, size_t *body_cap, size_t *len) {
    FILE *f = xorb_file_open(dir, &r->xorbs[q->xorb].hash);
    size_t cap = (size_t)q->body_length + 256 * (size_t)q->num_ranges + 64, pos = 0;
    uint32_t i;
    uint8_t *b = *body;
    off_t total;
    if (!f) return -1;
    if (cap > *body_cap) {
        b = (uint8_t *)realloc(*body, cap);
        if (b) *body = b, *body_cap = cap;
    }
    if (fseeko(f, 0, SEEK_END) != 0 || (total = ftello(f)) < 0 || !b) {
        fclose(f);
        return -1;
    }
    for (i = 0; i < q->num_ranges; i++) {
        const cas_recon_range *g = &q->ranges[i];
        if (g->byte_end >= (uint64_t)total) {
            fprintf(stderr, "%s: range %llu-%llu passes the end of the xorb file (%lld bytes)\n", g_prog,
                    (unsigned long long)g->byte_start, (unsigned long long)g->byte_end, (long long)total);
            fclose(f);
            return -1;
        }
        if (q->num_ranges > 1)
            pos += (size_t)snprintf((char *)b + pos, cap - pos,
                                    "%s--" DL_BOUNDARY "\r\nContent-Type: application/octet-stream\r\n"
                                    "Content-Range: bytes %llu-%llu/%lld\r\n\r\n", i ? "\r\n" : "",
                                    (unsigned long long)g->byte_start, (unsigned long long)g->byte_end,
                                    (long long)total);
        if (dl_read_range(f, g->byte_start, g->byte_end, b + pos) != 0) {
            fprintf(stderr, "%s: read error in a xorb file\n", g_prog);
            fclose(f);
            return -1;
        }
        pos += (size_t)(g->byte_end - g->byte_start + 1);
    }
    if (q->num_ranges > 1) pos += (size_t)snprintf((char *)b + pos, cap - pos, "\r\n--" DL_BOUNDARY "--\r\n");
    fclose(f);
    *len = pos;
    return 0;
}

static int dl_open_output(dl_output *o, const char *name) {
    memset(o, 0, sizeof *o);
    if (!strcmp(name, "-")) {
        o->f = stdout;
        return 0;
    }
    if (new_file_open(&o->out, name) != 0) return -1;
    o->f = o->out.f;
    o->fd = fileno(o->f);
    return 0;
}

/* Finishes OUT: the new file becomes OUT if ok, else it is dropped. 0, or -1 if it failed. */
static int dl_close_output(dl_output *o, int ok) {
    if (o->f == stdout) return 0;
    if (ok) return new_file_commit(&o->out);
    new_file_discard(&o->out);
    return 0;
}

/* Runs the engine over a manifest with a local xorb directory answering. */
static int dl_run_local(const cas_recon *r, const char *dir, const char *out, uint64_t range_length,
                        const cas_hash *file_hash, unsigned flags, const pack_shards *check) {
    cas_download_desc desc;
    cas_download *d;
    cas_download_request q;
    uint8_t *body = NULL; /* one response buffer for all requests */
    size_t body_cap = 0;
    dl_output o;
    cas_error err;
    size_t i;
    int rc;
    /* Every xorb is found first, so a missing one, or one that is OUT, fails before OUT is
       begun. */
    for (i = 0; i < r->num_xorbs; i++) {
        FILE *f = xorb_file_open(dir, &r->xorbs[i].hash);
        if (!f) return EXIT_USAGE;
        fclose(f);
    }
    if (dl_open_output(&o, out) != 0) return EXIT_USAGE;
    memset(&desc, 0, sizeof desc);
    desc.flags = flags;
    if (o.f == stdout) desc.write = dl_write;
    else desc.write_at = dl_write_at;
    desc.user = &o;
    desc.range_length = range_length;
    desc.file_hash = file_hash;
    if (check) o.check = check, o.recon = r, desc.chunk = dl_check_chunk;
    desc.progress = dl_progress;
    meter_begin(g_cmd ? g_cmd : "unpack", 0);
    rc = cas_download_create(NULL, r, &desc, &d, &err);
    if (rc != CAS_OK) {
        dl_close_output(&o, 0);
        return report("download", rc, &err);
    }
    while ((rc = cas_download_next(d, &q)) == CAS_READY) {
        size_t len, pos;
        if (dl_local_response(dir, r, &q, &body, &body_cap, &len) != 0) {
            free(body);
            cas_download_free(d);
            dl_close_output(&o, 0);
            return EXIT_USAGE;
        }
        rc = cas_download_begin(d, q.id, "multipart/byteranges; boundary=" DL_BOUNDARY,
                                strlen("multipart/byteranges; boundary=" DL_BOUNDARY));
        for (pos = 0; rc == CAS_OK && pos < len; pos += 65536)
            rc = cas_download_push(d, q.id, body + pos, len - pos < 65536 ? len - pos : 65536);
        if (rc == CAS_OK) rc = cas_download_end(d, q.id);
        if (rc != CAS_OK) break;
    }
    free(body);
    if (rc != CAS_END) {
        int ret = report("reconstruction", rc, cas_download_error(d));
        cas_download_free(d);
        dl_close_output(&o, 0);
        return ret;
    }
    cas_download_free(d);
    meter_end();
    return dl_close_output(&o, 1) == 0 ? 0 : EXIT_USAGE;
}

/* A manifest of either API version. */
static int dl_parse_manifest(const uint8_t *text, size_t len, cas_recon *r, cas_error *err) {
    int rc = cas_recon_parse(NULL, text, len, 2, NULL, r, err);
    if (rc != CAS_OK) {
        cas_error e1;
        if (cas_recon_parse(NULL, text, len, 1, NULL, r, &e1) == CAS_OK) return CAS_OK;
    }
    return rc;
}

static int cmd_reconstruct(int argc, char **argv) {
    const char *manifest = NULL, *dir = NULL, *out = NULL;
    uint64_t a = 0, b = 0, range_length = 0;
    cas_hash h, *hp = NULL;
    unsigned flags = 0;
    uint8_t *text;
    size_t len;
    cas_recon r;
    cas_error err;
    int i, rc;
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--xorbs") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--range") && i + 1 < argc) {
            if (!parse_range(argv[++i], &a, &b)) return bad_range(argv[i]);
            range_length = b - a + 1;
            if (range_length == 0) range_length = (uint64_t)-1; /* 0-(2^64-1) */
        } else if (!strcmp(argv[i], "--hash") && i + 1 < argc) {
            if (cas_hash_from_hex(argv[i + 1], strlen(argv[i + 1]), &h) != CAS_OK) return usage_error("--hash %s: not a 64-digit hash", argv[i + 1]);
            hp = &h, i++;
        } else if (!strcmp(argv[i], "--per-range")) flags |= CAS_DOWNLOAD_PER_RANGE;
        else if (!manifest && argv[i][0] != '-') manifest = argv[i];
        else return bad_arg(argv[i]);
    }
    if (!manifest || !dir || !out) return usage_error(!manifest ? "MANIFEST.json is missing" : !dir ? "--xorbs DIR is missing" : "-o OUT is missing");
    output_note(out);
    text = read_all(manifest, (size_t)CAS_JSON_MAX_BODY + 1, &len);
    if (!text) return EXIT_USAGE;
    rc = dl_parse_manifest(text, len, &r, &err);
    free(text);
    if (rc != CAS_OK) return report(manifest, rc, &err);
    if (range_length && hp) {
        fprintf(stderr, "%s: --hash checks a whole file; with --range there is no file hash to check "
                        "(a range is verified with cas get, against the server's file-chunk-hashes)\n", g_prog);
        cas_recon_free(&r);
        return EXIT_USAGE;
    }
    if (!range_length && !hp && r.offset_into_first_range) { /* a range manifest: never write past it */
        fprintf(stderr, "%s: %s: a manifest of a range (offset_into_first_range %llu): give its --range\n",
                g_prog, manifest, (unsigned long long)r.offset_into_first_range);
        cas_recon_free(&r);
        return EXIT_USAGE;
    }
    rc = dl_run_local(&r, dir, out, range_length, hp, hp ? flags : flags | CAS_DOWNLOAD_NO_VERIFY, NULL);
    cas_recon_free(&r);
    return rc;
}

/* ---- the directory store as a "server" ---- */

/* cas_record_ends_fn: walks the 8-byte record headers of the xorb file. */
static int dl_record_ends(void *user, const cas_hash *xorb, uint32_t n, uint64_t *ends) {
    FILE *f = xorb_file_open((const char *)user, xorb);
    uint64_t pos = 0;
    uint32_t i;
    if (!f) return CAS_E_SHARD_NO_CHUNKS;
    for (i = 0; i < n; i++) {
        uint8_t hdr[CAS_CHUNK_HEADER_SIZE];
        cas_chunk_header h;
        if (fseeko(f, (off_t)pos, SEEK_SET) != 0 || fread(hdr, 1, sizeof hdr, f) != sizeof hdr ||
            cas_chunk_header_parse(hdr, pos, &h, NULL) != CAS_OK) {
            fclose(f);
            return CAS_E_TRUNCATED;
        }
        pos += CAS_CHUNK_HEADER_SIZE + h.compressed_size;
        ends[i] = pos;
    }
    fclose(f);
    return CAS_OK;
}

static int cmd_unpack(int argc, char **argv) {
    const char *store = NULL, *out = NULL, *hex = NULL;
    uint64_t a = 0, b = (uint64_t)-1;
    int ranged = 0, i, rc;
    unsigned flags = 0;
    cas_hash h;
    pack_shards sh;
    cas_recon r;
    cas_error err;
    char xorbs[4096];
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--store") && i + 1 < argc) store = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--range") && i + 1 < argc) {
            if (!parse_range(argv[++i], &a, &b)) return bad_range(argv[i]);
            ranged = 1;
        } else if (!strcmp(argv[i], "--per-range")) flags |= CAS_DOWNLOAD_PER_RANGE;
        else if (!hex && argv[i][0] != '-') hex = argv[i];
        else return bad_arg(argv[i]);
    }
    if (!store || !out || !hex) return usage_error(!store ? "--store DIR is missing" : !hex ? "FILEHASH is missing" : "-o OUT is missing");
    if (cas_hash_from_hex(hex, strlen(hex), &h) != CAS_OK) {
        fprintf(stderr, "%s: %s: not a 64-digit hash\n", g_prog, hex);
        return EXIT_USAGE;
    }
    memset(&sh, 0, sizeof sh);
    output_note(out);
    if ((rc = pack_load_shards(store, &sh)) != 0) {
        pack_shards_free(&sh);
        return rc;
    }
    snprintf(xorbs, sizeof xorbs, "%s/xorbs", store);
    rc = cas_recon_from_shards(NULL, sh.s, sh.n, &h, a, b, "http://store.invalid/xorbs/",
                               dl_record_ends, xorbs, &r, &err);
    if (rc != CAS_OK) {
        pack_shards_free(&sh);
        return g_output.refused ? EXIT_USAGE : report(hex, rc, &err);
    }
    /* a whole file: its file hash; a range: every chunk against the shards */
    rc = dl_run_local(&r, xorbs, out, ranged ? b - a + 1 : 0, ranged ? NULL : &h,
                      ranged ? flags | CAS_DOWNLOAD_NO_VERIFY : flags, ranged ? &sh : NULL);
    pack_shards_free(&sh);
    cas_recon_free(&r);
    return rc;
}

/* ==== get: downloads from the Hub or a CAS endpoint (libcurl) ==== */
/* cas get REPO_ID PATH [-o OUT] [--revision R] [--repo-type model|dataset|space]
           [--range A-B] [--token T] [--endpoint URL] [--jobs N] [--per-range] [--no-resume]
   cas get --cas-url URL [--token T] FILEHASH -o OUT [--range A-B] [--jobs N] ...

   The Hub flow: HEAD the resolve URL without following the redirect and read X-Xet-Hash;
   a read token from the xet-read-token endpoint (HF_TOKEN or --token authorizes it); then
   GET /v2/reconstructions/{hash} (falling back to /v1 on 404 or 501) and the engine's
   requests, --jobs at a time. 429, 5xx and transport errors are retried with exponential
   backoff and jitter (Retry-After honoured); a 401 refreshes the token, as does an expiry
   within 30 s; a rejected signed URL (403) re-queries the reconstruction and resumes.
   Each byte is written where it belongs in OUT.part (so every range is fetched once,
   whatever --jobs), OUT.part.journal records the finished terms, and OUT.part is renamed
   to OUT only after the file hash checks; a later run (after a network failure or kill -9)
   resumes from the journal unless --no-resume. `-o -` writes to stdout in file order (a
   reorder window sized from the ranges in flight; no resume; a failed check is reported
   after the bytes went out). An existing OUT is replaced only with -f, or left as it is when
   it already is the file (same Xet hash: "up to date", nothing fetched).
   HF_ENDPOINT or --endpoint override https://huggingface.co.
   --range A-B is verified against the file hash too: GET /v2/file-chunk-hashes with A-B as
   the dirty range gives the chunk-aligned windows around it and the Merkle subtrees of the
   rest; the windows are downloaded whole and must hash, with the subtrees, to the file hash
   (get_range_verified), and only A-B is written. A server without that endpoint (404) gets
   the range unverified, said so on stderr, or refused with --verify-range. A range prints
   no hash line on stdout (the output is not that file).
   Progress goes to stderr when it is a terminal. */
#ifdef CAS_WITH_CURL
#include <curl/curl.h>

#define GET_MAX_TRIES 8

typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t limit;
} get_buf;

typedef struct {
    long status;
    char xet_hash[CAS_HASH_HEX_SIZE + 1];
    long retry_after; /* seconds, -1 none */
} get_headers;

typedef struct {
    const char *endpoint;   /* Hub */
    const char *repo, *path, *revision, *type; /* type: "model", "dataset", "space" */
    const char *hf_token;
    char *cas_url;          /* from the token, or --cas-url */
    char *access;           /* CAS access token */
    int64_t exp;
    int hub;                /* 1: tokens come from the Hub */
    unsigned jobs;
    int transport_failure;  /* gave up on the network: OUT.part is kept for a resume */
} get_ctx;

static double get_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void get_sleep(double s) {
    struct timespec ts;
    if (s <= 0) return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* Exponential backoff with full jitter: attempt 1 -> up to 0.2 s, doubling, capped at 10 s;
   a server's Retry-After wins when given. */
static double get_backoff(int attempt, long retry_after) {
    double cap = 0.2 * (double)(1u << (attempt < 6 ? attempt : 6));
    if (retry_after >= 0) return retry_after > 30 ? 30.0 : (double)retry_after;
    if (cap > 10) cap = 10;
    return cap * (0.5 + 0.5 * (double)rand() / RAND_MAX);
}

/* A retry about to happen: what failed and when the next try comes, one line. */
static void retry_note(const char *what, CURLcode res, long status, double wait, int attempt, int max) {
    meter_clear();
    fprintf(stderr, "%s: %s: ", g_prog, what);
    if (status >= 300 || res == CURLE_OK) fprintf(stderr, "HTTP %ld", status); /* (the body was refused) */
    else fputs(curl_easy_strerror(res), stderr);
    fprintf(stderr, "; try %d of %d in %.1f s\n", attempt + 1, max, wait);
}

/* No server there (refused, or a name that does not resolve): retrying will not mend it
   soon, so the request fails at once with one line. */
static int no_server(CURLcode res) {
    return res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST || res == CURLE_COULDNT_RESOLVE_PROXY;
}

static size_t get_body_cb(char *ptr, size_t size, size_t n, void *user) {
    get_buf *b = (get_buf *)user;
    size_t len = size * n;
    if (b->len + len > b->limit) return 0;
    if (b->len + len > b->cap) {
        size_t cap = (b->len + len) * 2;
        uint8_t *p = (uint8_t *)realloc(b->p, cap);
        if (!p) return 0;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, len);
    b->len += len;
    return len;
}

/* Case-insensitive "Name:" prefix; returns the value (trimmed) or NULL. */
static const char *get_header_value(const char *line, size_t len, const char *name, size_t *vlen) {
    size_t n = strlen(name), i;
    if (len < n + 1 || line[n] != ':') return NULL;
    for (i = 0; i < n; i++)
        if ((line[i] | 0x20) != (name[i] | 0x20)) return NULL;
    line += n + 1, len -= n + 1;
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' ')) len--;
    *vlen = len;
    return line;
}

static size_t get_header_cb(char *buf, size_t size, size_t n, void *user) {
    get_headers *h = (get_headers *)user;
    size_t len = size * n, vlen;
    const char *v;
    if (len > 5 && !memcmp(buf, "HTTP/", 5)) { /* a new response (after a 100, say) */
        h->xet_hash[0] = 0;
        h->retry_after = -1;
    }
    if ((v = get_header_value(buf, len, "X-Xet-Hash", &vlen)) && vlen == CAS_HASH_HEX_SIZE) {
        memcpy(h->xet_hash, v, vlen);
        h->xet_hash[vlen] = 0;
    }
    if ((v = get_header_value(buf, len, "Retry-After", &vlen)) && vlen && vlen < 6 && v[0] >= '0' && v[0] <= '9')
        h->retry_after = atol(v);
    return len;
}

static CURL *get_easy(const char *url, struct curl_slist *hdrs) {
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cas.h");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* lets the CAS send zstd/gzip JSON */
    return c;
}

static struct curl_slist *get_auth_header(struct curl_slist *l, const char *token) {
    char line[70000];
    if (!token || !token[0]) return l;
    snprintf(line, sizeof line, "Authorization: Bearer %s", token);
    return curl_slist_append(l, line);
}

/* One request with retries on 429, 5xx and transport errors. Returns the final HTTP status
   (0 when every try failed in transport) and the body in *b (caller frees b->p). */
static long http_call(const char *url, const char *token, const char *header, int head,
                      const char *post_type, const void *post, size_t post_len, get_buf *b, get_headers *h) {
    int attempt;
    for (attempt = 1;; attempt++) {
        struct curl_slist *l = get_auth_header(NULL, token);
        CURL *c;
        CURLcode res;
        long status = 0;
        char ctype[128];
        if (header) l = curl_slist_append(l, header);
        if (post_type) {
            snprintf(ctype, sizeof ctype, "Content-Type: %s", post_type);
            l = curl_slist_append(l, ctype);
        }
        c = get_easy(url, l);
        if (!c) return 0;
        if (post_type) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len);
        }
        memset(h, 0, sizeof *h);
        h->retry_after = -1;
        b->len = 0;
        if (!b->limit) b->limit = (size_t)CAS_JSON_MAX_BODY;
        if (head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, get_body_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, get_header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
        res = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        curl_slist_free_all(l);
        h->status = status;
        if (res == CURLE_OK && status != 429 && status < 500) return status;
        if (res == CURLE_OK && post_type && status >= 500) return status; /* (a POST may have taken effect) */
        if (no_server(res)) {
            meter_clear();
            fprintf(stderr, "%s: %s: %s\n", g_prog, url, curl_easy_strerror(res));
            return 0;
        }
        if (attempt >= GET_MAX_TRIES) {
            meter_clear();
            fprintf(stderr, "%s: %s: giving up after %d tries (%s)\n", g_prog, url, attempt,
                    res != CURLE_OK ? curl_easy_strerror(res) : "server error");
            return res == CURLE_OK ? status : 0;
        }
        {
            double wait = get_backoff(attempt, h->retry_after);
            retry_note(url, res, status, wait, attempt, GET_MAX_TRIES);
            get_sleep(wait);
        }
    }
}

static long get_simple(const char *url, const char *token, const char *header, int head,
                       get_buf *b, get_headers *h) {
    return http_call(url, token, header, head, NULL, NULL, 0, b, h);
}

/* Appends s to a URL, percent-encoding all but unreserved characters (and '/' if keep). */
static void get_url_append(char *dst, size_t cap, const char *s, int keep_slash) {
    size_t n = strlen(dst);
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/'))
            dst[n++] = (char)ch;
        else
            n += (size_t)sprintf(dst + n, "%%%02X", ch);
    }
    dst[n] = 0;
}

/* Asks the Hub for a CAS token (again): scope "read" (get) or "write" (put). */
static int get_token_scope(get_ctx *g, const char *scope) {
    char url[8192], what[64];
    get_buf b;
    get_headers h;
    cas_xet_token t;
    cas_error err;
    long st;
    int rc;
    memset(&b, 0, sizeof b);
    snprintf(url, sizeof url, "%s/api/%ss/", g->endpoint, g->type);
    get_url_append(url, sizeof url, g->repo, 1);
    snprintf(url + strlen(url), sizeof url - strlen(url), "/xet-%s-token/", scope);
    get_url_append(url, sizeof url, g->revision, 0);
    st = get_simple(url, g->hf_token, NULL, 0, &b, &h);
    if (st != 200) {
        if (st) /* (0: get_simple said why) */
            fprintf(stderr, "%s: %s: HTTP %ld%s\n", g_prog, url, st,
                st != 401 && st != 403 ? ""
                : !strcmp(scope, "write") ? " (a write token needs HF_TOKEN or --token with write access)"
                                          : " (set HF_TOKEN or --token for a private or gated repo)");
        free(b.p);
        return EXIT_DATA;
    }
    rc = cas_xet_token_parse(NULL, b.p, b.len, NULL, &t, &err);
    free(b.p);
    snprintf(what, sizeof what, "xet-%s-token response", scope);
    if (rc != CAS_OK) return report(what, rc, &err);
    free(g->access), free(g->cas_url);
    g->access = strdup(t.access_token);
    g->cas_url = strdup(t.cas_url);
    g->exp = t.exp;
    cas_xet_token_free(&t);
    return g->access && g->cas_url ? 0 : EXIT_USAGE;
}
static int get_token(get_ctx *g) { return get_token_scope(g, "read"); }
static int put_token(get_ctx *g) { return get_token_scope(g, "write"); }

/* GET {cas}/v2/reconstructions/{hash} (or /v1), with token refresh. *version = 1 or 2.
   Returns 0, EXIT_*, or 416 when the range starts at or past the end. */
static int get_manifest(get_ctx *g, const char *hex, const char *range, get_buf *b, int *version) {
    int v, refreshed = 0;
    for (v = 2; v >= 1;) {
        char url[8192];
        get_headers h;
        long st;
        if (g->hub && g->exp && (int64_t)time(NULL) + 30 >= g->exp && !refreshed) {
            int rc = get_token(g);
            if (rc) return rc;
            refreshed = 1;
        }
        char rline[128];
        snprintf(url, sizeof url, "%s/v%d/reconstructions/%s", g->cas_url, v, hex);
        if (range) snprintf(rline, sizeof rline, "Range: %s", range);
        st = get_simple(url, g->access, range ? rline : NULL, 0, b, &h);
        if (st == 200) { *version = v; return 0; }
        if (st == 416) return 416;
        if (st == 401 && g->hub && !refreshed) {
            int rc = get_token(g);
            if (rc) return rc;
            refreshed = 1;
            continue;
        }
        if ((st == 404 || st == 501) && v == 2) { v = 1; continue; }
        if (st) fprintf(stderr, "%s: %s: HTTP %ld%s\n", g_prog, url, st, st == 404 ? " (no such file)" : "");
        return EXIT_DATA;
    }
    return EXIT_DATA;
}

/* ---- the transfers ---- */

typedef struct {
    CURL *c;
    struct curl_slist *hdrs;
    cas_download *d;
    uint32_t id;
    int began;
    int engine_rc; /* the engine refused the data: fatal */
    long status;
} get_xfer;

static size_t get_xfer_body(char *ptr, size_t size, size_t n, void *user) {
    get_xfer *x = (get_xfer *)user;
    size_t len = size * n;
    int rc;
    if (!x->began) {
        char *ct = NULL;
        curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
        if (x->status != 206) return 0; /* an error page, or the server ignored Range */
        curl_easy_getinfo(x->c, CURLINFO_CONTENT_TYPE, &ct);
        rc = cas_download_begin(x->d, x->id, ct, ct ? strlen(ct) : 0);
        if (rc != CAS_OK) { x->engine_rc = rc; return 0; }
        x->began = 1;
    }
    rc = cas_download_push(x->d, x->id, ptr, len);
    if (rc != CAS_OK) { x->engine_rc = rc; return 0; }
    return len;
}

/* The file's chunks as the engine takes them (desc.chunk): term k of the manifest the
   engine runs puts its chunks at leaves[term_base[k]...], so they lie in file order. What
   range verification checks against the server's subtrees, and what a whole download's
   own file-hash check hashes when it resumes (the leaves array is then the whole file's,
   the engine runs only the missing terms). */
typedef struct {
    const cas_recon *r;
    cas_chunk *leaves;
    size_t *term_base;
    size_t n; /* leaves */
} get_leaves;

/* term_base over r's terms and room for their chunks. 0, or -1 (out of memory). */
static int get_leaves_init(get_leaves *lv, const cas_recon *r) {
    size_t k;
    lv->r = r;
    lv->n = 0;
    lv->term_base = (size_t *)malloc((r->num_terms + 1) * sizeof *lv->term_base);
    for (k = 0; lv->term_base && k < r->num_terms; k++) {
        lv->term_base[k] = lv->n;
        lv->n += r->terms[k].chunk_end - r->terms[k].chunk_start;
    }
    lv->leaves = (cas_chunk *)calloc(lv->n ? lv->n : 1, sizeof *lv->leaves);
    return lv->term_base && lv->leaves ? 0 : -1;
}

static void get_leaves_free(get_leaves *lv) {
    free(lv->term_base);
    free(lv->leaves);
    memset(lv, 0, sizeof *lv);
}

/* Every sink's user data begins with this: the progress and chunk callbacks read it. */
typedef struct {
    get_ctx *g;
    get_leaves *lv; /* the chunks are recorded here (desc.chunk), or NULL */
} get_sink;

static int get_leaf(void *user, uint32_t term, uint32_t index, const cas_chunk *c) {
    get_leaves *lv = ((get_sink *)user)->lv;
    lv->leaves[lv->term_base[term] + (index - lv->r->terms[term].chunk_start)] = *c;
    return 0;
}


/* Sequential output (stdout, or a verified range's window): the engine's bytes in file
   order to f, of which only [keep_from, keep_to) when `keep` (a window is wider than the
   range asked for). */
typedef struct {
    get_sink s;
    FILE *f;
    int keep;
    uint64_t keep_from, keep_to;
    uint64_t pos; /* output bytes seen so far */
} get_out;

static int get_write(void *user, const void *data, size_t len) {
    get_out *o = (get_out *)user;
    uint64_t from = 0, to = len;
    if (o->keep) { /* the part of [pos, pos + len) inside [keep_from, keep_to) */
        from = o->keep_from > o->pos ? o->keep_from - o->pos : 0;
        to = o->keep_to > o->pos ? o->keep_to - o->pos : 0;
        if (to > len) to = len;
        if (from > to) from = to;
    }
    o->pos += len;
    if (fwrite((const uint8_t *)data + from, 1, (size_t)(to - from), o->f) == to - from) return 0;
    fprintf(stderr, "%s: write error: %s\n", g_prog, strerror(errno));
    return 1; /* cancels the download */
}

/* The sequential sink's reorder window: chunks that arrive further ahead of the output's
   front than the window are dropped and fetched again, so it must hold what `jobs` requests
   in flight can bring: the output bytes of the `jobs` largest ranges (a range's bytes are
   those of the terms it serves), at least the engine's default 64 MiB, at most 1 GiB (past
   that a file of huge, far-apart ranges refetches some rather than hold more memory). */
static size_t get_seq_window(const cas_recon *r, unsigned jobs) {
    size_t nranges = 0, x, f, t, *base, top_n = 0;
    uint64_t *out, top[64], sum = 0;
    unsigned j;
    for (x = 0; x < r->num_xorbs; x++)
        for (f = 0; f < r->xorbs[x].num_fetches; f++) nranges += r->xorbs[x].fetches[f].num_ranges;
    out = (uint64_t *)calloc(nranges ? nranges : 1, sizeof *out);
    base = (size_t *)calloc(r->num_xorbs + 1, sizeof *base);
    if (!out || !base) {
        free(out), free(base);
        return 64u << 20;
    }
    for (x = 0, nranges = 0; x < r->num_xorbs; x++) { /* the first range index of each xorb */
        base[x] = nranges;
        for (f = 0; f < r->xorbs[x].num_fetches; f++) nranges += r->xorbs[x].fetches[f].num_ranges;
    }
    for (t = 0; t < r->num_terms; t++) {
        const cas_recon_term *rt = &r->terms[t];
        size_t k = base[rt->xorb] + rt->range;
        for (f = 0; f < rt->fetch; f++) k += r->xorbs[rt->xorb].fetches[f].num_ranges;
        out[k] += rt->unpacked_length;
    }
    if (jobs > 64) jobs = 64;
    for (x = 0; x < nranges; x++) { /* the `jobs` largest, kept sorted descending */
        size_t at;
        if (top_n < jobs) at = top_n++;
        else if (out[x] > top[jobs - 1]) at = jobs - 1;
        else continue;
        while (at > 0 && top[at - 1] < out[x]) top[at] = top[at - 1], at--;
        top[at] = out[x];
    }
    for (j = 0; j < top_n; j++) sum += top[j];
    free(out), free(base);
    if (sum < (64u << 20)) sum = 64u << 20;
    if (sum > (1u << 30)) sum = 1u << 30;
    return (size_t)sum;
}

/* Runs one manifest with desc's sink, user (a get_sink first), flags and checks, --jobs
   requests at a time. Returns 0, EXIT_DATA/EXIT_USAGE, or -403 when a signed URL was
   refused (the caller re-queries and resumes). */
static int get_transfer(get_ctx *g, const cas_recon *r, cas_download_desc *desc) {
    cas_download *d;
    cas_error err;
    CURLM *m = curl_multi_init();
    get_xfer *xs = (get_xfer *)calloc(g->jobs, sizeof *xs);
    int *tries = NULL;
    size_t ntries = 0;
    double pause_until = 0;
    unsigned active = 0, i;
    int rc, ret = 0, stop = 0;
    desc->progress = dl_progress;
    rc = cas_download_create(NULL, r, desc, &d, &err);
    if (rc != CAS_OK || !m || !xs) {
        free(xs);
        if (m) curl_multi_cleanup(m);
        if (rc == CAS_OK) cas_download_free(d);
        return rc != CAS_OK ? report("download", rc, &err) : EXIT_USAGE;
    }
    rc = CAS_OK;
    while (!stop) {
        CURLMsg *msg;
        int left, running;
        /* start requests while there are free slots */
        while (active < g->jobs && get_now() >= pause_until) {
            cas_download_request q;
            char rline[64];
            get_xfer *x;
            rc = cas_download_next(d, &q);
            if (rc != CAS_READY) break;
            for (i = 0; xs[i].c; i++) {}
            x = &xs[i];
            memset(x, 0, sizeof *x);
            x->d = d, x->id = q.id;
            if (strlen(q.range) + 8 > sizeof rline) {
                /* a long multi-range header */
                char *line = (char *)malloc(strlen(q.range) + 8);
                sprintf(line, "Range: %s", q.range);
                x->hdrs = curl_slist_append(NULL, line);
                free(line);
            } else {
                snprintf(rline, sizeof rline, "Range: %s", q.range);
                x->hdrs = curl_slist_append(NULL, rline);
            }
            x->c = get_easy(q.url, x->hdrs);
            curl_easy_setopt(x->c, CURLOPT_ACCEPT_ENCODING, NULL); /* xorb bytes as they are */
            curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, get_xfer_body);
            curl_easy_setopt(x->c, CURLOPT_WRITEDATA, x);
            curl_easy_setopt(x->c, CURLOPT_PRIVATE, x);
            curl_multi_add_handle(m, x->c);
            active++;
        }
        if (rc == CAS_END && active == 0) break;
        if (rc < 0) { ret = report("reconstruction", rc, cas_download_error(d)); break; }
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            get_xfer *x = NULL;
            CURLcode res = msg->data.result;
            if (msg->msg != CURLMSG_DONE) continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (!x->status) curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
            if (x->engine_rc) {
                ret = report("reconstruction", x->engine_rc, cas_download_error(d));
                stop = 1;
            } else if (res == CURLE_OK && x->began) {
                rc = cas_download_end(d, x->id);
                if (rc != CAS_OK) { ret = report("reconstruction", rc, cas_download_error(d)); stop = 1; }
            } else if (x->status == 403 || x->status == 401) {
                ret = -403; /* the signed URL expired or was refused: re-query */
                stop = 1;
            } else if (x->status == 200) { /* a retry would get the same whole body */
                fprintf(stderr, "%s: xorb range: the server answered 200 (the whole object) to a Range request: "
                                "not a CAS transfer server, or a proxy that drops Range\n", g_prog);
                ret = EXIT_DATA;
                stop = 1;
            } else if (x->status == 429 || x->status >= 500 || x->status == 0 ||
                       (res != CURLE_OK && (x->status == 206 || x->status < 200))) {
                if (x->id >= ntries) {
                    size_t n = (x->id + 1) * 2;
                    int *t = (int *)realloc(tries, n * sizeof *t);
                    if (!t) { ret = EXIT_USAGE; stop = 1; }
                    else { memset(t + ntries, 0, (n - ntries) * sizeof *t); tries = t; ntries = n; }
                }
                if (!stop && no_server(res)) {
                    meter_clear();
                    fprintf(stderr, "%s: xorb range: %s\n", g_prog, curl_easy_strerror(res));
                    ret = EXIT_DATA;
                    g->transport_failure = 1;
                    stop = 1;
                } else if (!stop && ++tries[x->id] >= GET_MAX_TRIES) {
                    fprintf(stderr, "%s: %s: giving up after %d tries (%s)\n", g_prog, "xorb range",
                            tries[x->id], res != CURLE_OK && x->status < 400 ? curl_easy_strerror(res) : "server error");
                    ret = EXIT_DATA;
                    g->transport_failure = 1;
                    stop = 1;
                } else if (!stop) {
                    double wait = get_backoff(tries[x->id], -1);
                    cas_download_abort(d, x->id);
                    pause_until = get_now() + wait;
                    retry_note("xorb range", res, x->status, wait, tries[x->id], GET_MAX_TRIES);
                }
            } else {
                fprintf(stderr, "%s: xorb range: HTTP %ld\n", g_prog, x->status);
                ret = EXIT_DATA;
                stop = 1;
            }
            curl_multi_remove_handle(m, x->c);
            curl_easy_cleanup(x->c);
            curl_slist_free_all(x->hdrs);
            x->c = NULL;
            active--;
        }
    }
    for (i = 0; i < g->jobs; i++)
        if (xs[i].c) {
            curl_multi_remove_handle(m, xs[i].c);
            curl_easy_cleanup(xs[i].c);
            curl_slist_free_all(xs[i].hdrs);
        }
    curl_multi_cleanup(m);
    free(xs);
    free(tries);
    cas_download_free(d);
    return ret;
}

/* Bytes A-B checked against the file hash (api.md section 9): GET /v2/file-chunk-hashes with
   A-B as the dirty range answers with chunk-aligned windows that cover it and the Merkle
   subtrees of the gaps between them. Each window is downloaded whole (a reconstruction of
   exactly its bytes, which must start at its first byte), its chunks are recorded as the
   engine takes them, and cas_file_chunk_hashes_verify must find the file hash in the windows'
   chunks merged with the gaps; only A-B reach `out`. A window may be far larger than the
   range (up to the whole file, where chunk sizes never settle). Returns 0, GET_NO_FCH when
   the server has no such endpoint (404/501: nothing was written), or an exit status. */
#define GET_NO_FCH (-404)
static int get_range_verified(get_ctx *g, const char *hex, const cas_hash *fh, uint64_t a, uint64_t b, FILE *out,
                              unsigned flags) {
    char url[8192], hdr[128];
    get_buf body;
    get_headers h;
    cas_file_chunk_hashes fch;
    cas_error err;
    const cas_chunk **wc;
    size_t *wn, i;
    uint64_t last, pos;
    long st;
    int rc = 0;
    snprintf(url, sizeof url, "%s/v2/file-chunk-hashes/%s", g->cas_url, hex);
    snprintf(hdr, sizeof hdr, "X-Range-Dirty: bytes=%llu-%llu", (unsigned long long)a, (unsigned long long)b);
    memset(&body, 0, sizeof body);
    st = get_simple(url, g->access, hdr, 0, &body, &h);
    if (st == 401 && g->hub) { /* an expired token: once more with a new one */
        if ((rc = get_token(g)) != 0) { free(body.p); return rc; }
        st = get_simple(url, g->access, hdr, 0, &body, &h);
    }
    if (st == 404 || st == 501) {
        free(body.p);
        return GET_NO_FCH;
    }
    if (st != 200) {
        if (st) fprintf(stderr, "%s: %s: HTTP %ld%s\n", g_prog, url, st, st == 400 ? " (is the range inside the file?)" : "");
        free(body.p);
        return EXIT_DATA;
    }
    rc = cas_file_chunk_hashes_parse(NULL, body.p, body.len, NULL, &fch, &err);
    free(body.p);
    if (rc != CAS_OK) return report("file-chunk-hashes response", rc, &err);
    if (a >= fch.file_size) {
        fprintf(stderr, "%s: the range starts past the end of the file\n", g_prog);
        cas_file_chunk_hashes_free(&fch);
        return EXIT_DATA;
    }
    last = b < fch.file_size - 1 ? b : fch.file_size - 1;
    for (pos = a, i = 0; i < fch.num_windows && pos <= last; i++) { /* the windows cover A-B */
        if (fch.windows[i].end <= pos) continue;
        if (fch.windows[i].start > pos) break;
        pos = fch.windows[i].end;
    }
    if (pos <= last) {
        fprintf(stderr, "%s: the server's windows do not cover byte %llu of the range\n", g_prog, (unsigned long long)pos);
        cas_file_chunk_hashes_free(&fch);
        return EXIT_DATA;
    }
    wc = (const cas_chunk **)calloc(fch.num_windows, sizeof *wc);
    wn = (size_t *)calloc(fch.num_windows, sizeof *wn);
    if (!wc || !wn) rc = EXIT_USAGE;
    for (i = 0; rc == 0 && i < fch.num_windows; i++) {
        const cas_chunk_window *cw = &fch.windows[i];
        char range[64];
        get_buf mb;
        cas_recon r;
        get_out o;
        get_leaves lv;
        cas_download_desc desc;
        int version = 2, round;
        off_t at = ftello(out);
        for (round = 0; round < 4; round++) {
            snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)cw->start, (unsigned long long)cw->end - 1);
            memset(&mb, 0, sizeof mb);
            rc = get_manifest(g, hex, range, &mb, &version);
            if (rc == 416) rc = EXIT_DATA;
            if (rc == 0) {
                rc = cas_recon_parse(NULL, mb.p, mb.len, version, NULL, &r, &err);
                rc = rc == CAS_OK ? 0 : report("reconstruction response", rc, &err);
            }
            free(mb.p);
            if (rc) break;
            if (r.offset_into_first_range != 0) {
                fprintf(stderr, "%s: the reconstruction of window %llu-%llu does not start at its first byte\n", g_prog,
                        (unsigned long long)cw->start, (unsigned long long)cw->end - 1);
                cas_recon_free(&r);
                rc = EXIT_DATA;
                break;
            }
            memset(&o, 0, sizeof o);
            o.s.g = g, o.s.lv = &lv, o.f = out, o.keep = 1;
            o.keep_from = (a > cw->start ? a : cw->start) - cw->start;
            o.keep_to = last + 1 > cw->start ? (last + 1 < cw->end ? last + 1 : cw->end) - cw->start : 0;
            free((void *)wc[i]);
            wc[i] = NULL;
            if (get_leaves_init(&lv, &r) == 0) {
                memset(&desc, 0, sizeof desc);
                desc.flags = flags | CAS_DOWNLOAD_NO_VERIFY;
                desc.write = get_write;
                desc.chunk = get_leaf;
                desc.user = &o;
                desc.range_length = cw->end - cw->start;
                desc.window = get_seq_window(&r, g->jobs);
                rc = get_transfer(g, &r, &desc);
            } else {
                rc = EXIT_USAGE;
            }
            wc[i] = lv.leaves, wn[i] = lv.n; /* (kept for the check; freed below) */
            free(lv.term_base);
            cas_recon_free(&r);
            if (rc != -403) break;
            fprintf(stderr, "%s: signed URLs refused; asking for a new reconstruction\n", g_prog);
            if (fflush(out) != 0 || ftruncate(fileno(out), at) != 0 || fseeko(out, at, SEEK_SET) != 0) { rc = EXIT_USAGE; break; }
        }
        if (rc == -403) rc = EXIT_DATA;
    }
    if (rc == 0) {
        rc = cas_file_chunk_hashes_verify(NULL, &fch, wc, wn, fh, &err);
        rc = rc == CAS_OK ? 0 : report("range verification", rc, &err);
    }
    for (i = 0; wc && i < fch.num_windows; i++) free((void *)wc[i]);
    free(wc);
    free(wn);
    cas_file_chunk_hashes_free(&fch);
    return rc;
}

/* ---- a whole download into OUT.part: positional writes and a journal of finished terms ----

   Each byte is written where it belongs in OUT.part (pwrite), in whatever order the ranges
   arrive, so no range is fetched twice whatever --jobs is (the sequential sink's window is
   only for stdout). OUT.part.journal records the terms that are complete, one line each:

       cas-get-journal 1 <file hash>                        (the first line)
       <file offset> <chunks> <hash>:<size> ... <check>     (one per finished term)

   <check> is 16 hex digits of the line's chunk hash, so a torn or damaged line is ignored.
   A line is appended only after OUT.part's bytes are fdatasync'd (in batches: once a second,
   or sooner once 32 MiB have finished), so it always describes bytes on disk. A later run (after a network failure, a
   crash, kill -9) re-hashes the journaled terms' chunks from OUT.part, keeps the terms whose
   chunks still match (a damaged one is fetched again), and asks the engine only for the rest,
   range by range (CAS_DOWNLOAD_PER_RANGE, so no range that only finished terms need is
   requested). The file hash is checked by the tool over every term's chunks, re-hashed or
   fresh, so it covers every byte of the result as the engine's own check would. */
#define GET_JOURNAL_MAGIC "cas-get-journal 1 "
#define GET_JOURNAL_MAX (256u << 20) /* ~65 bytes per chunk: files of ~250 GB */
#define GET_SYNC_BYTES (32u << 20)   /* finished bytes that make a sync due before the second */

typedef struct {
    get_sink s;                  /* s.lv: the chunks seen through the run's terms */
    get_leaves *all;             /* the whole file's chunks, per whole term */
    int fd, jfd;                 /* OUT.part; OUT.part.journal, appended to */
    const char *part;            /* names, for messages */
    const cas_recon *whole;      /* the file's manifest */
    uint64_t *file_start;        /* per whole term: its first byte in the file */
    unsigned char *done;         /* per whole term: in OUT.part and journaled */
    const cas_recon *run;        /* the manifest the engine runs: the missing terms */
    uint64_t *run_start;         /* per run term: its first byte of the engine's output */
    uint32_t *run_orig;          /* per run term: its whole term */
    uint64_t *left;              /* per run term: bytes not yet written */
    uint32_t *pending;           /* whole terms written, not yet journaled */
    size_t npending;
    uint64_t pending_bytes;
    double last_sync;
} get_part;

static int get_pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

/* The journal line of whole term t (its chunks are in p->all) into line (>= 100 + 82 per
   chunk bytes). Returns its length. */
static size_t get_journal_line(const get_part *p, uint32_t t, char *line) {
    const cas_chunk *c = p->all->leaves + p->all->term_base[t];
    uint32_t n = p->whole->terms[t].chunk_end - p->whole->terms[t].chunk_start, i;
    size_t len = (size_t)sprintf(line, "%llu %u", (unsigned long long)p->file_start[t], n);
    cas_hash check;
    for (i = 0; i < n; i++) {
        line[len++] = ' ';
        cas_hash_to_hex(&c[i].hash, line + len);
        len += CAS_HASH_HEX_SIZE;
        len += (size_t)sprintf(line + len, ":%llu", (unsigned long long)c[i].size);
    }
    cas_chunk_hash(line, len, &check);
    line[len++] = ' ';
    hex_lower(check.bytes, 8, line + len);
    len += 16;
    line[len++] = '\n';
    return len;
}

/* Makes the finished terms durable: OUT.part's data first, then their journal lines. */
static int get_part_sync(get_part *p) {
    size_t i;
    p->last_sync = get_now();
    if (!p->npending) return 0;
    if (fdatasync(p->fd) != 0) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, p->part, strerror(errno));
        return -1;
    }
    for (i = 0; i < p->npending; i++) {
        uint32_t t = p->pending[i];
        char *line = (char *)malloc(100 + 82 * (size_t)(p->whole->terms[t].chunk_end - p->whole->terms[t].chunk_start));
        size_t len = line ? get_journal_line(p, t, line) : 0;
        /* (a failed journal write loses only the record: those bytes are fetched again) */
        if (line && write(p->jfd, line, len) == (ssize_t)len) p->done[t] = 1;
        free(line);
    }
    p->npending = 0;
    p->pending_bytes = 0;
    return 0;
}

static int get_part_write_at(void *user, uint64_t off, const void *data, size_t len) {
    get_part *p = (get_part *)user;
    const uint8_t *src = (const uint8_t *)data;
    while (len) {
        size_t lo = 0, hi = p->run->num_terms, n;
        uint64_t in, room;
        while (hi - lo > 1) { /* the run term holding `off`: the last that starts at or before it */
            size_t mid = lo + (hi - lo) / 2;
            if (p->run_start[mid] <= off) lo = mid; else hi = mid;
        }
        in = off - p->run_start[lo];
        room = p->run->terms[lo].unpacked_length - in;
        n = len < room ? len : (size_t)room;
        if (get_pwrite_all(p->fd, src, n, p->file_start[p->run_orig[lo]] + in) != 0) {
            fprintf(stderr, "%s: %s: %s\n", g_prog, p->part, strerror(errno));
            return 1; /* cancels the download */
        }
        p->left[lo] -= n;
        if (!p->left[lo]) {
            p->pending[p->npending++] = p->run_orig[lo];
            p->pending_bytes += p->run->terms[lo].unpacked_length;
        }
        src += n, len -= n, off += n;
    }
    if (p->npending && (p->pending_bytes >= GET_SYNC_BYTES || get_now() - p->last_sync >= 1.0) && get_part_sync(p) != 0)
        return 1;
    return 0;
}

/* Reads the journal (already open at p->jfd) and marks the terms of p->whole whose every
   chunk, re-read from OUT.part, still has the hash and size the journal gives; their chunks
   go into p->all. Lines that are torn, damaged, or describe no term of this manifest (a Hub
   that re-deduplicated the file) are skipped: their bytes are fetched again. Returns the
   bytes kept; *fresh = 1 when the journal is not this file's (nothing kept: start over). */
static uint64_t get_journal_load(get_part *p, const cas_hash *fh, uint8_t *buf, int *fresh) {
    char *text, *line, *next;
    char want[CAS_HASH_HEX_SIZE + 1];
    struct stat sb;
    uint64_t kept = 0;
    size_t len = 0;
    ssize_t got;
    *fresh = 1;
    if (fstat(p->jfd, &sb) != 0 || sb.st_size < (off_t)sizeof GET_JOURNAL_MAGIC || (uint64_t)sb.st_size > GET_JOURNAL_MAX)
        return 0;
    if ((text = (char *)malloc((size_t)sb.st_size + 1)) == NULL) return 0;
    while (len < (size_t)sb.st_size && (got = pread(p->jfd, text + len, (size_t)sb.st_size - len, (off_t)len)) > 0)
        len += (size_t)got;
    text[len] = 0;
    cas_hash_to_hex(fh, want);
    if (len < sizeof GET_JOURNAL_MAGIC + CAS_HASH_HEX_SIZE || memcmp(text, GET_JOURNAL_MAGIC, sizeof GET_JOURNAL_MAGIC - 1) ||
        memcmp(text + sizeof GET_JOURNAL_MAGIC - 1, want, CAS_HASH_HEX_SIZE) ||
        text[sizeof GET_JOURNAL_MAGIC - 1 + CAS_HASH_HEX_SIZE] != '\n') {
        free(text);
        return 0;
    }
    *fresh = 0;
    for (line = text + sizeof GET_JOURNAL_MAGIC + CAS_HASH_HEX_SIZE; *line; line = next) {
        char *end = strchr(line, '\n'), *q, *e;
        unsigned long long at;
        unsigned long n, i;
        size_t lo = 0, hi = p->whole->num_terms;
        cas_hash check;
        cas_chunk *c;
        uint32_t t;
        uint64_t pos;
        int ok = 1;
        char hx[17];
        if (!end) break; /* torn: the last line, cut short */
        next = end + 1;
        if (end - line < 17) continue;
        cas_chunk_hash(line, (size_t)(end - line - 17), &check);
        hex_lower(check.bytes, 8, hx);
        if (memcmp(end - 16, hx, 16) || line[end - line - 17] != ' ') continue;
        at = strtoull(line, &q, 10);
        n = strtoul(q, &q, 10);
        while (hi - lo > 1) { /* the term starting at `at` */
            size_t mid = lo + (hi - lo) / 2;
            if (p->file_start[mid] <= at) lo = mid; else hi = mid;
        }
        if (!p->whole->num_terms || p->file_start[lo] != at || p->done[lo] ||
            n != p->whole->terms[lo].chunk_end - p->whole->terms[lo].chunk_start)
            continue;
        t = (uint32_t)lo;
        c = p->all->leaves + p->all->term_base[t];
        for (i = 0, pos = at; i < n && ok; i++) { /* each chunk as journaled, re-read and re-hashed */
            cas_hash h;
            unsigned long long size;
            ok = *q == ' ' && cas_hash_from_hex(q + 1, CAS_HASH_HEX_SIZE, &c[i].hash) == CAS_OK &&
                 q[1 + CAS_HASH_HEX_SIZE] == ':';
            if (!ok) break;
            size = strtoull(q + 2 + CAS_HASH_HEX_SIZE, &e, 10);
            q = e;
            ok = size >= 1 && size <= CAS_CHUNK_MAX_SIZE && pread(p->fd, buf, (size_t)size, (off_t)pos) == (ssize_t)size;
            if (!ok) break;
            cas_chunk_hash(buf, (size_t)size, &h);
            ok = cas_hash_equal(&h, &c[i].hash);
            c[i].size = size;
            pos += size;
        }
        if (ok && pos - at == p->whole->terms[t].unpacked_length) {
            p->done[t] = 1;
            kept += pos - at;
        }
    }
    free(text);
    return kept;
}

/* A whole file into OUT.part (fd), resuming from its journal (jfd): one round of manifest and
   transfer. 0 (OUT.part holds the file and its file hash checked), -403, or an exit status. */
static int get_whole(get_ctx *g, const char *hex, const cas_hash *fh, int fd, int jfd, const char *part,
                     unsigned flags, uint8_t *buf) {
    get_buf mb;
    cas_recon r, run;
    cas_error err;
    cas_download_desc desc;
    get_leaves all, seen;
    get_part p;
    cas_recon_term *run_terms = NULL;
    uint64_t total = 0, kept;
    size_t t, k;
    int version = 2, rc, fresh;
    memset(&mb, 0, sizeof mb);
    if ((rc = get_manifest(g, hex, NULL, &mb, &version)) != 0) {
        free(mb.p);
        return rc == 416 ? EXIT_DATA : rc;
    }
    rc = cas_recon_parse(NULL, mb.p, mb.len, version, NULL, &r, &err);
    free(mb.p);
    if (rc != CAS_OK) return report("reconstruction response", rc, &err);
    if (r.offset_into_first_range != 0) { /* the check below must see the whole file */
        fprintf(stderr, "%s: the reconstruction of the whole file starts inside its first term "
                        "(offset_into_first_range %llu): it does not describe the whole file\n",
                g_prog, (unsigned long long)r.offset_into_first_range);
        cas_recon_free(&r);
        return EXIT_DATA;
    }
    memset(&p, 0, sizeof p);
    memset(&seen, 0, sizeof seen);
    p.s.g = g, p.s.lv = &seen, p.all = &all, p.fd = fd, p.jfd = jfd, p.part = part, p.whole = &r;
    p.file_start = (uint64_t *)malloc((r.num_terms + 1) * sizeof *p.file_start);
    p.done = (unsigned char *)calloc(r.num_terms + 1, 1);
    p.run_start = (uint64_t *)malloc((r.num_terms + 1) * sizeof *p.run_start);
    p.run_orig = (uint32_t *)malloc((r.num_terms + 1) * sizeof *p.run_orig);
    p.left = (uint64_t *)malloc((r.num_terms + 1) * sizeof *p.left);
    p.pending = (uint32_t *)malloc((r.num_terms + 1) * sizeof *p.pending);
    run_terms = (cas_recon_term *)malloc((r.num_terms + 1) * sizeof *run_terms);
    seen.term_base = (size_t *)malloc((r.num_terms + 1) * sizeof *seen.term_base);
    if (get_leaves_init(&all, &r) != 0 || !p.file_start || !p.done || !p.run_start || !p.run_orig || !p.left ||
        !p.pending || !run_terms || !seen.term_base) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        rc = EXIT_USAGE;
        goto out;
    }
    for (t = 0; t < r.num_terms; t++) p.file_start[t] = total, total += r.terms[t].unpacked_length;
    kept = get_journal_load(&p, fh, buf, &fresh);
    if (fresh && (ftruncate(jfd, 0) != 0 || pwrite(jfd, GET_JOURNAL_MAGIC, sizeof GET_JOURNAL_MAGIC - 1, 0) < 0 ||
                  pwrite(jfd, hex, CAS_HASH_HEX_SIZE, sizeof GET_JOURNAL_MAGIC - 1) < 0 ||
                  pwrite(jfd, "\n", 1, sizeof GET_JOURNAL_MAGIC - 1 + CAS_HASH_HEX_SIZE) < 0)) {
        fprintf(stderr, "%s: %s.journal: %s\n", g_prog, part, strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    if (lseek(jfd, 0, SEEK_END) < 0 || ftruncate(fd, (off_t)total) != 0) { /* appends; its final size, holes sparse */
        fprintf(stderr, "%s: %s: %s\n", g_prog, part, strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    if (kept) fprintf(stderr, "%s: resuming %s: %llu of %llu bytes already there\n", g_prog, part,
                      (unsigned long long)kept, (unsigned long long)total);
    /* the engine runs the missing terms, in file order, as a manifest of their own */
    run = r;
    run.terms = run_terms;
    for (t = 0, k = 0; t < r.num_terms; t++) {
        if (p.done[t]) continue;
        run_terms[k] = r.terms[t];
        p.run_start[k] = k ? p.run_start[k - 1] + run_terms[k - 1].unpacked_length : 0;
        p.run_orig[k] = (uint32_t)t;
        p.left[k] = r.terms[t].unpacked_length;
        seen.term_base[k] = all.term_base[t];
        k++;
    }
    run.num_terms = k;
    seen.r = &run;
    p.run = &run;
    seen.leaves = all.leaves;
    rc = 0;
    if (k) {
        memset(&desc, 0, sizeof desc);
        desc.flags = flags | CAS_DOWNLOAD_NO_VERIFY | (kept ? CAS_DOWNLOAD_PER_RANGE : 0);
        desc.write_at = get_part_write_at;
        desc.chunk = get_leaf;
        desc.user = &p;
        p.last_sync = get_now();
        rc = get_transfer(g, &run, &desc);
        if (get_part_sync(&p) != 0 && rc == 0) rc = EXIT_USAGE;
    }
    if (rc == 0) { /* the file hash over every chunk: re-hashed from OUT.part or fresh */
        cas_hash h;
        cas_file_hash(all.leaves, all.n, &h);
        if (!cas_hash_equal(&h, fh))
            rc = report("download", CAS_E_HASH, NULL);
    }
out:
    seen.leaves = NULL; /* (all's) */
    get_leaves_free(&seen);
    get_leaves_free(&all);
    free(p.file_start), free(p.done), free(p.run_start), free(p.run_orig), free(p.left), free(p.pending);
    free(run_terms);
    cas_recon_free(&r);
    return rc;
}

/* Bytes in file order to `out` (stdout, or a range the server cannot verify): one round of
   manifest and transfer, with `range` ("bytes=A-B") or the whole file (checked against fh).
   0, -403, or an exit status. */
static int get_sequential(get_ctx *g, const char *hex, const cas_hash *fh, const char *range, uint64_t range_length,
                          FILE *out, unsigned flags) {
    get_buf mb;
    cas_recon r;
    cas_error err;
    cas_download_desc desc;
    get_out o;
    int version = 2, rc;
    memset(&mb, 0, sizeof mb);
    rc = get_manifest(g, hex, range, &mb, &version);
    if (rc == 416) fprintf(stderr, "%s: the range starts past the end of the file\n", g_prog), rc = EXIT_DATA;
    if (rc == 0) {
        rc = cas_recon_parse(NULL, mb.p, mb.len, version, NULL, &r, &err);
        rc = rc == CAS_OK ? 0 : report("reconstruction response", rc, &err);
    }
    free(mb.p);
    if (rc) return rc;
    memset(&o, 0, sizeof o);
    o.s.g = g;
    o.f = out;
    memset(&desc, 0, sizeof desc);
    desc.flags = range ? flags | CAS_DOWNLOAD_NO_VERIFY : flags;
    desc.write = get_write;
    desc.user = &o;
    desc.file_hash = range ? NULL : fh;
    desc.range_length = range_length;
    desc.window = get_seq_window(&r, g->jobs);
    rc = get_transfer(g, &r, &desc);
    cas_recon_free(&r);
    return rc;
}

/* Opens `path` read-write for resuming: an existing file only if lstat shows a regular file
   (not a symlink) of this user with one link, and the file opened (without following a
   symlink) is the one lstat saw, so nobody else's file is written to or truncated; a missing
   one is created exclusively. The descriptor, or -1 with a message. */
static int open_own_file(const char *path) {
    struct stat seen, opened;
    int fd;
    if (lstat(path, &seen) != 0) {
        fd = errno == ENOENT ? create_exclusive(path) : -1;
        if (fd < 0) fprintf(stderr, "%s: %s: %s\n", g_prog, path, strerror(errno));
    } else if (!S_ISREG(seen.st_mode) || seen.st_uid != geteuid() || seen.st_nlink != 1) {
        /* (a hard link to another file of yours, planted where links are not protected, would
           have that file overwritten and renamed) */
        fprintf(stderr, "%s: %s: not a regular file of yours with one link, not resumed (remove it, or use --no-resume)\n",
                g_prog, path);
        fd = -1;
    } else if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, path, strerror(errno));
    } else if (fstat(fd, &opened) != 0 || opened.st_dev != seen.st_dev || opened.st_ino != seen.st_ino) {
        fprintf(stderr, "%s: %s: replaced while being opened, not resumed\n", g_prog, path);
        close(fd);
        fd = -1;
    }
    return fd;
}

/* OUT.part (as a new_file, renamed to OUT when complete) and OUT.part.journal: 0, or -1
   with a message (an OUT.part or journal that was there stays). --no-resume empties them. */
static int get_open_part(new_file *nf, const char *out, char **journal, int *jfd, int resume) {
    int fd;
    memset(nf, 0, sizeof *nf);
    nf->target = out;
    nf->tmp = (char *)malloc(strlen(out) + 6);
    *journal = (char *)malloc(strlen(out) + 14);
    if (!nf->tmp || !*journal) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        free(nf->tmp), free(*journal);
        return -1;
    }
    sprintf(nf->tmp, "%s.part", out);
    sprintf(*journal, "%s.part.journal", out);
    if ((fd = open_own_file(nf->tmp)) < 0 || (*jfd = open_own_file(*journal)) < 0) {
        if (fd >= 0) close(fd);
        free(nf->tmp), free(*journal);
        nf->tmp = NULL;
        return -1;
    }
    if (!resume && (ftruncate(fd, 0) != 0 || ftruncate(*jfd, 0) != 0)) {
        fprintf(stderr, "%s: %s: %s\n", g_prog, nf->tmp, strerror(errno));
        close(fd), close(*jfd), free(nf->tmp), free(*journal);
        nf->tmp = NULL;
        return -1;
    }
    if (new_file_stream(nf, fd) != 0) {
        close(*jfd), free(nf->tmp), free(*journal);
        nf->tmp = NULL;
        return -1;
    }
    return 0;
}

/* OUT exists: 0 to go on (-f, or a range: never mistaken for the file), 1 when it already
   is the file (same Xet hash: nothing to download), or an exit status (refused). */
static int get_existing_output(const char *out, const cas_hash *fh, int ranged, int force, uint8_t *buf) {
    struct stat sb;
    file_digest d;
    cas_hash h;
    FILE *f;
    if (stat(out, &sb) != 0 || force) return 0;
    if (!ranged && S_ISREG(sb.st_mode) && (f = fopen(out, "rb")) != NULL) {
        memset(&d, 0, sizeof d);
        if (digest_file(f, out, &d, buf) == 0) {
            cas_merkle_file_hash(&d.merkle, &h);
            if (cas_hash_equal(&h, fh)) {
                fclose(f);
                return 1;
            }
        }
        fclose(f);
    }
    fprintf(stderr, "%s: %s exists%s; -f replaces it\n", g_prog, out, ranged ? "" : " and is not this file");
    return EXIT_USAGE;
}

static int cmd_get(int argc, char **argv, uint8_t *buf) {
    get_ctx g;
    const char *out = NULL, *hex = NULL, *cas_url = NULL, *token = NULL;
    uint64_t a = 0, b = 0;
    int ranged = 0, resume = 1, force = 0, i, rc = 0, round, verified = 0, require_verified = 0, jfd = -1;
    unsigned flags = 0;
    cas_hash fh;
    char fhex[CAS_HASH_HEX_SIZE + 1], *journal = NULL;
    new_file o;
    FILE *dst;
    memset(&g, 0, sizeof g);
    memset(&o, 0, sizeof o);
    g.endpoint = getenv("HF_ENDPOINT") ? getenv("HF_ENDPOINT") : "https://huggingface.co";
    g.revision = "main";
    g.type = "model";
    g.jobs = 8;
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--revision") && i + 1 < argc) g.revision = argv[++i];
        else if (!strcmp(argv[i], "--repo-type") && i + 1 < argc) {
            g.type = argv[++i];
            if (strcmp(g.type, "model") && strcmp(g.type, "dataset") && strcmp(g.type, "space"))
                return usage_error("--repo-type %s: not model, dataset or space", g.type);
        } else if (!strcmp(argv[i], "--range") && i + 1 < argc) {
            if (!parse_range(argv[++i], &a, &b)) return bad_range(argv[i]);
            ranged = 1;
        } else if (!strcmp(argv[i], "--token") && i + 1 < argc) token = argv[++i];
        else if (!strcmp(argv[i], "--endpoint") && i + 1 < argc) g.endpoint = argv[++i];
        else if (!strcmp(argv[i], "--cas-url") && i + 1 < argc) cas_url = argv[++i];
        else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
            g.jobs = (unsigned)atoi(argv[++i]);
            if (g.jobs < 1 || g.jobs > 64) return usage_error("--jobs %s: not 1..64", argv[i]);
        } else if (!strcmp(argv[i], "--per-range")) flags |= CAS_DOWNLOAD_PER_RANGE;
        else if (!strcmp(argv[i], "--no-resume")) resume = 0;
        else if (!strcmp(argv[i], "--verify-range")) require_verified = 1;
        else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")) force = 1;
        else if (argv[i][0] != '-' && !g.repo) g.repo = argv[i];
        else if (argv[i][0] != '-' && !g.path) g.path = argv[i];
        else return bad_arg(argv[i]);
    }
    if (!token) token = getenv("HF_TOKEN");
    meter_begin("get", 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cas_url) { /* cas get --cas-url URL FILEHASH -o OUT */
        hex = g.repo;
        if (!hex || g.path || !out) {
            curl_global_cleanup();
            return usage_error(!hex ? "FILEHASH is missing" : g.path ? "%s: one argument too many" : "-o OUT is missing (--cas-url has no file name)", g.path);
        }
        g.cas_url = strdup(cas_url);
        g.access = strdup(token ? token : "");
    } else {
        char url[8192];
        get_buf bb;
        get_headers h;
        long st;
        const char *slash;
        if (!g.repo || !g.path) {
            curl_global_cleanup();
            return usage_error(!g.repo ? "REPO_ID and PATH are missing" : "PATH is missing");
        }
        g.hub = 1;
        g.hf_token = token;
        snprintf(url, sizeof url, "%s/%s", g.endpoint, !strcmp(g.type, "model") ? "" : !strcmp(g.type, "dataset") ? "datasets/" : "spaces/");
        get_url_append(url, sizeof url, g.repo, 1);
        strcat(url, "/resolve/");
        get_url_append(url, sizeof url, g.revision, 0);
        strcat(url, "/");
        get_url_append(url, sizeof url, g.path, 1);
        memset(&bb, 0, sizeof bb);
        st = get_simple(url, token, NULL, 1, &bb, &h);
        free(bb.p);
        if (!h.xet_hash[0]) {
            if (st) fprintf(stderr, "%s: %s: HTTP %ld, %s\n", g_prog, url, st,
                    st >= 400 ? "not found or not allowed" : "no X-Xet-Hash: not a Xet-stored file");
            curl_global_cleanup();
            return EXIT_DATA;
        }
        hex = h.xet_hash;
        memcpy(fhex, hex, sizeof fhex);
        hex = fhex;
        if (!out) out = (slash = strrchr(g.path, '/')) ? slash + 1 : g.path;
    }
    if (hex != fhex) { snprintf(fhex, sizeof fhex, "%s", hex); hex = fhex; }
    if (cas_hash_from_hex(hex, strlen(hex), &fh) != CAS_OK) {
        fprintf(stderr, "%s: ", g_prog); /* (from X-Xet-Hash: the server's text) */
        print_untrusted(stderr, (const uint8_t *)hex, strlen(hex));
        fprintf(stderr, ": not a 64-digit hash\n");
        rc = EXIT_USAGE;
        goto done;
    }
    if (strcmp(out, "-") != 0 && (rc = get_existing_output(out, &fh, ranged, force, buf)) != 0) {
        if (rc == 1) { /* nothing to download */
            fprintf(stderr, "%s: %s: up to date\n", g_prog, out);
            printf("%s  %s\n", hex, out);
            rc = 0;
        }
        goto done;
    }
    if (g.hub && (rc = get_token(&g)) != 0) goto done;
    /* the output: stdout; a new temporary for a range; OUT.part and its journal for a file */
    if (!strcmp(out, "-")) dst = stdout;
    else if ((ranged ? new_file_open(&o, out) : get_open_part(&o, out, &journal, &jfd, resume)) != 0) {
        rc = EXIT_USAGE;
        goto done;
    } else dst = o.f;
    round = 0;
    if (ranged) { /* verified where the server can say what the range's chunks must be */
        rc = get_range_verified(&g, hex, &fh, a, b, dst, flags);
        if (rc != GET_NO_FCH) {
            round = 4; /* done, one way or the other */
            verified = rc == 0;
        } else if (require_verified) {
            fprintf(stderr, "%s: the server has no /v2/file-chunk-hashes: the range cannot be verified "
                            "(without --verify-range it is downloaded unverified)\n", g_prog);
            rc = EXIT_DATA;
            round = 4;
        } else {
            fprintf(stderr, "%s: the server has no /v2/file-chunk-hashes: bytes %llu-%llu are NOT verified "
                            "against the file hash\n", g_prog, (unsigned long long)a, (unsigned long long)b);
            rc = 0;
        }
    }
    for (; round < 4; round++) {
        char range[64];
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)a, (unsigned long long)b);
        rc = ranged || dst == stdout ? get_sequential(&g, hex, &fh, ranged ? range : NULL, ranged ? b - a + 1 : 0, dst, flags)
                                     : get_whole(&g, hex, &fh, fileno(o.f), jfd, o.tmp, flags, buf);
        if (rc != -403) break;
        if (dst == stdout && !ranged) break; /* bytes already went out: cannot start over */
        fprintf(stderr, "%s: signed URLs refused; asking for a new reconstruction\n", g_prog);
    }
    if (rc == -403) rc = EXIT_DATA;
    if (dst == stdout) {
        if (fflush(stdout) != 0 && rc == 0) fprintf(stderr, "%s: stdout: %s\n", g_prog, strerror(errno)), rc = EXIT_USAGE;
        if (rc && !ranged) fprintf(stderr, "%s: the bytes written to stdout are NOT the file: discard them\n", g_prog);
    } else if (rc == 0) {
        meter_end();
        if (new_file_commit(&o) != 0) rc = EXIT_USAGE;
        else if (!ranged) printf("%s  %s\n", hex, out);
        if (journal) unlink(journal);
    } else if (!ranged && g.transport_failure) { /* kept to resume: never bad data (journaled terms only) */
        fclose(o.f);
        fprintf(stderr, "%s: %s kept: the same command resumes it\n", g_prog, o.tmp);
        free(o.tmp);
    } else {
        new_file_discard(&o);
        if (journal) unlink(journal);
    }
    if (rc == 0 && ranged) /* no line that looks like the output's hash: it is not one */
        fprintf(stderr, "%s: %s: bytes %llu-%llu of %s, %s\n", g_prog, out, (unsigned long long)a,
                (unsigned long long)b, hex, verified ? "verified against the file hash" : "NOT verified");
done:
    if (jfd >= 0) close(jfd);
    free(journal);
    free(g.access);
    free(g.cas_url);
    curl_global_cleanup();
    return rc;
}
#else
static int cmd_get(int argc, char **argv, uint8_t *buf) {
    (void)argc, (void)argv, (void)buf;
    fprintf(stderr, "%s: get: this build has no libcurl (install libcurl4-openssl-dev and rebuild)\n", g_prog);
    return EXIT_USAGE;
}
#endif

/* ==== put: the upload engine against a CAS server (libcurl) ====

   cas put --cas-url URL [--token T] FILE...
   cas put REPO_ID FILE... [--repo-type T] [--revision R] [--endpoint URL] [--token T]
     [--jobs N] [--tries N] [--store DIR] [--threads N]
     One upload session over FILE...: global-dedup queries (GET /v1/chunks/default-merkledb/
     {chunk}; on a 404 the `default` prefix once, as HF's TypeScript client uses, and whichever
     answers 200 is kept), new xorbs POSTed N at a time (POST /v1/xorbs/default/{hash}),
     then the shard(s) (POST /v2/shards, /v1/shards after a 404), each only once every xorb
     has succeeded. 429, 5xx and transport errors are retried (--tries, default 8) with
     exponential backoff and jitter; uploads are idempotent by content hash. Hub mode takes a
     write token from {endpoint}/api/{type}s/{repo}/xet-write-token/{rev} with HF_TOKEN (or
     --token). --store DIR: the shards in DIR/shards are a dedup cache, and new xorbs and the
     shards are written there too (as cas pack). --threads N (default: the cores): chunk
     compression on N threads and SHA-256 on its own, as cas pack. On success prints, per file,
     "<xet-hash>  <sha256>  <size>  <name>" (what a Git LFS pointer needs); a summary on
     stderr. Nothing is printed for a failed session. */
#ifdef CAS_WITH_CURL

enum { PUT_XORB = 1, PUT_QUERY, PUT_SHARD };
enum { PUT_PREFIX_UNKNOWN = 0, PUT_PREFIX_MERKLEDB, PUT_PREFIX_DEFAULT };

typedef struct put_req {
    int kind;              /* PUT_* */
    cas_hash hash;         /* xorb / chunk */
    uint8_t *data;         /* XORB, SHARD: the body (owned) */
    size_t len;
    uint64_t query_id;
    int tries, alt;        /* alt: QUERY asks the `default` prefix this time */
    double not_before;
    CURL *c;               /* in flight */
    struct curl_slist *hdrs;
    get_buf body;
    get_headers h;
    struct put_req *next, *run_next; /* the waiting list; the running list */
} put_req;

typedef struct {
    const char *name;
    cas_upload_file_result r;
} put_file_res;

typedef struct {
    get_ctx g;             /* cas_url, access, Hub fields */
    cas_upload *u;
    CURLM *m;
    put_req *wait;         /* not started (or waiting for a retry), in order */
    put_req *run;          /* in flight */
    unsigned active, max_tries;
    int fail;              /* 0, or the exit status that stops the session */
    int prefix;            /* PUT_PREFIX_*: the dedup prefix that answered */
    int shard_v1;          /* /v2/shards answered 404 */
    pack_store store;      /* --store */
    put_file_res *files;
    size_t nfiles;
    unsigned long long xorbs_sent, xorbs_inserted, xorb_bytes, retries, queries, found, shards_sent;
} put_ctx;

/* Asks the Hub for a CAS write token (again). */
static void put_req_free(put_req *q) {
    free(q->data);
    free(q->body.p);
    free(q);
}

/* Queues a request: queries first (dedup decisions wait for them), else at the end. */
static void put_enqueue(put_ctx *P, put_req *q) {
    put_req **pp = &P->wait;
    if (q->kind == PUT_QUERY)
        while (*pp && (*pp)->kind == PUT_QUERY) pp = &(*pp)->next;
    else
        while (*pp) pp = &(*pp)->next;
    q->next = *pp;
    *pp = q;
}

static int put_start(put_ctx *P, put_req *q) {
    char url[8300], hex[CAS_HASH_HEX_SIZE + 1];
    if (P->g.hub && P->g.exp && (int64_t)time(NULL) + 30 >= P->g.exp) {
        int rc = put_token(&P->g);
        if (rc) return rc;
    }
    cas_hash_to_hex(&q->hash, hex);
    if (q->kind == PUT_XORB)
        snprintf(url, sizeof url, "%s/v1/xorbs/default/%s", P->g.cas_url, hex);
    else if (q->kind == PUT_QUERY)
        snprintf(url, sizeof url, "%s/v1/chunks/%s/%s", P->g.cas_url, q->alt ? "default" : "default-merkledb", hex);
    else
        snprintf(url, sizeof url, "%s/v%d/shards", P->g.cas_url, P->shard_v1 ? 1 : 2);
    q->hdrs = get_auth_header(NULL, P->g.access);
    if (q->kind != PUT_QUERY) {
        q->hdrs = curl_slist_append(q->hdrs, "Content-Type: application/octet-stream");
        q->hdrs = curl_slist_append(q->hdrs, "Expect:"); /* no 100-continue round trip */
    }
    q->c = get_easy(url, q->hdrs);
    if (!q->c) return EXIT_USAGE;
    if (q->kind != PUT_QUERY) {
        curl_easy_setopt(q->c, CURLOPT_POST, 1L);
        curl_easy_setopt(q->c, CURLOPT_POSTFIELDS, (const char *)q->data);
        curl_easy_setopt(q->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
    }
    q->body.len = 0;
    q->body.limit = q->kind == PUT_QUERY ? (size_t)CAS_SHARD_MAX_SIZE : (size_t)16 << 20;
    memset(&q->h, 0, sizeof q->h);
    q->h.retry_after = -1;
    curl_easy_setopt(q->c, CURLOPT_WRITEFUNCTION, get_body_cb);
    curl_easy_setopt(q->c, CURLOPT_WRITEDATA, &q->body);
    curl_easy_setopt(q->c, CURLOPT_HEADERFUNCTION, get_header_cb);
    curl_easy_setopt(q->c, CURLOPT_HEADERDATA, &q->h);
    curl_easy_setopt(q->c, CURLOPT_PRIVATE, q);
    curl_multi_add_handle(P->m, q->c);
    q->run_next = P->run;
    P->run = q;
    P->active++;
    return 0;
}

/* The /v2/shards stream: one event per line; the last terminal event decides. */
static int put_shard_stream(const get_buf *b) {
    size_t pos = 0;
    int outcome = -1; /* no terminal event */
    while (pos < b->len) {
        const uint8_t *nl = (const uint8_t *)memchr(b->p + pos, '\n', b->len - pos);
        size_t end = nl ? (size_t)(nl - b->p) : b->len, k;
        cas_shard_event ev;
        cas_error err;
        int rc;
        for (k = pos; k < end && (b->p[k] == ' ' || b->p[k] == '\r' || b->p[k] == '\t'); k++) {}
        if (k < end) {
            rc = cas_shard_event_parse(NULL, b->p + pos, end - pos, NULL, &ev, &err);
            if (rc != CAS_OK) return report("/v2/shards event", rc, &err);
            if (ev.type == CAS_SHARD_EVENT_RESULT) outcome = 0;
            if (ev.type == CAS_SHARD_EVENT_ERROR) {
                fprintf(stderr, "%s: shard upload refused: ", g_prog);
                print_untrusted(stderr, (const uint8_t *)ev.message, ev.message_len);
                fputc('\n', stderr);
                outcome = EXIT_DATA;
            }
            cas_shard_event_free(&ev);
        }
        pos = end + 1;
    }
    if (outcome < 0) return -1; /* the stream ended early: retried like a transport error */
    return outcome;
}

/* A finished request. Returns 1 if it was queued again, else 0 (and q is freed). */
static int put_done(put_ctx *P, put_req *q, CURLcode res) {
    long st = 0;
    cas_error err;
    int rc, again = 0;
    char hex[CAS_HASH_HEX_SIZE + 1];
    put_req **pp = &P->run;
    while (*pp != q) pp = &(*pp)->run_next;
    *pp = q->run_next;
    curl_easy_getinfo(q->c, CURLINFO_RESPONSE_CODE, &st);
    curl_multi_remove_handle(P->m, q->c);
    curl_easy_cleanup(q->c);
    curl_slist_free_all(q->hdrs);
    q->c = NULL, q->hdrs = NULL;
    P->active--;
    cas_hash_to_hex(&q->hash, hex);
    if (res != CURLE_OK) st = 0;
    if (st == 200 && q->kind == PUT_SHARD && !P->shard_v1) {
        rc = put_shard_stream(&q->body);
        if (rc < 0) st = 0; /* retry */
        else if (rc) P->fail = rc;
        else P->shards_sent++;
        if (st) { put_req_free(q); return 0; }
    } else if (st == 200) {
        int v = 0;
        if (q->kind == PUT_XORB) {
            rc = cas_xorb_upload_parse(NULL, q->body.p, q->body.len, NULL, &v, &err);
            if (rc != CAS_OK) P->fail = report("xorb upload response", rc, &err);
            P->xorbs_sent++;
            P->xorbs_inserted += (unsigned)v;
            P->xorb_bytes += q->len;
        } else if (q->kind == PUT_SHARD) {
            rc = cas_shard_upload_parse(NULL, q->body.p, q->body.len, NULL, &v, &err);
            if (rc != CAS_OK) P->fail = report("shard upload response", rc, &err);
            P->shards_sent++;
        } else {
            P->prefix = q->alt ? PUT_PREFIX_DEFAULT : PUT_PREFIX_MERKLEDB;
            P->found++;
            if (cas_upload_answer(P->u, q->query_id, q->body.p, q->body.len, &err) != CAS_OK)
                fprintf(stderr, "%s: dedup answer for %s ignored: %s (%s)\n", g_prog, hex,
                        cas_result_message(err.code), err.what);
        }
        put_req_free(q);
        return 0;
    }
    if (q->kind == PUT_QUERY && (st == 404 || (st == 400 && q->alt))) {
        if (st == 404 && !q->alt && P->prefix == PUT_PREFIX_UNKNOWN) {
            q->alt = 1; /* maybe the path, not the chunk, is unknown: the other prefix once */
            put_enqueue(P, q);
            return 1;
        }
        if (st == 400) P->prefix = PUT_PREFIX_MERKLEDB;
        cas_upload_answer(P->u, q->query_id, NULL, 0, NULL); /* nothing known */
        put_req_free(q);
        return 0;
    }
    if (q->kind == PUT_SHARD && st == 404 && !P->shard_v1) {
        P->shard_v1 = 1;
        put_enqueue(P, q);
        return 1;
    }
    if (st == 401 && P->g.hub && q->tries == 0) { /* the token expired early: once more */
        q->tries++;
        if ((P->fail = put_token(&P->g)) == 0) {
            put_enqueue(P, q);
            return 1;
        }
    } else if ((st == 0 && !no_server(res)) || st == 429 || st >= 500) {
        if (++q->tries < (int)P->max_tries) {
            double wait = get_backoff(q->tries, q->h.retry_after);
            P->retries++;
            q->not_before = get_now() + wait;
            retry_note(q->kind == PUT_XORB ? "xorb upload" : q->kind == PUT_SHARD ? "shard upload" : "dedup query",
                       res, st, wait, q->tries, (int)P->max_tries);
            put_enqueue(P, q);
            return 1;
        }
        again = 1;
    }
    if (q->kind == PUT_QUERY) { /* dedup is an optimization: go on without it */
        fprintf(stderr, "%s: dedup query %s: %s; going on without it\n", g_prog, hex,
                again ? "giving up after retries" : "refused");
        cas_upload_answer(P->u, q->query_id, NULL, 0, NULL);
    } else if (!P->fail) {
        fprintf(stderr, "%s: %s %s: %s%s (HTTP %ld)\n", g_prog, q->kind == PUT_XORB ? "xorb" : "shard",
                q->kind == PUT_XORB ? hex : "upload", again ? "giving up after retries" : "refused",
                res != CURLE_OK ? " (transport error)" : "", st);
        if (q->body.len && q->body.len < 1000) {
            fprintf(stderr, "%s: server said: ", g_prog);
            print_untrusted(stderr, q->body.p, q->body.len);
            fputc('\n', stderr);
        }
        P->fail = EXIT_DATA;
    }
    put_req_free(q);
    return 0;
}

/* Starts what may start, moves the transfers on; `block`: waits (<= 100 ms) for progress. */
static void put_pump(put_ctx *P, int block) {
    double now = get_now(), next = now + 0.1;
    put_req **pp = &P->wait;
    CURLMsg *msg;
    int running, left, ms;
    while (*pp && P->active < P->g.jobs && !P->fail) {
        put_req *q = *pp;
        if (q->not_before > now) {
            if (q->not_before < next) next = q->not_before;
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        q->next = NULL;
        if ((P->fail = put_start(P, q)) != 0) put_req_free(q);
    }
    curl_multi_perform(P->m, &running);
    if (block) {
        ms = (int)((next - now) * 1000);
        curl_multi_poll(P->m, NULL, 0, ms < 1 ? 1 : ms, NULL);
        curl_multi_perform(P->m, &running);
    }
    while ((msg = curl_multi_info_read(P->m, &left)) != NULL) {
        put_req *q = NULL;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
        put_done(P, q, msg->data.result);
    }
}

/* Waits until no request is waiting or running (or the session failed). */
static void put_wait_all(put_ctx *P) {
    while ((P->wait || P->active) && !P->fail) put_pump(P, 1);
}

static put_req *put_new(put_ctx *P, int kind, const cas_upload_event *ev) {
    put_req *q = (put_req *)calloc(1, sizeof *q);
    if (q && ev->len) {
        q->data = (uint8_t *)malloc(ev->len);
        if (q->data) memcpy(q->data, ev->data, ev->len);
        else free(q), q = NULL;
    }
    if (!q) {
        fprintf(stderr, "%s: out of memory\n", g_prog);
        P->fail = EXIT_USAGE;
        return NULL;
    }
    q->kind = kind;
    q->hash = ev->hash;
    q->len = ev->len;
    q->query_id = ev->query_id;
    if (kind == PUT_QUERY) q->alt = P->prefix == PUT_PREFIX_DEFAULT;
    return q;
}

static size_t put_waiting_xorbs(const put_ctx *P) {
    size_t n = 0;
    const put_req *q;
    for (q = P->wait; q; q = q->next) n += q->kind == PUT_XORB;
    return n;
}

/* Drains the session's events into requests (host: the put_ctx); waits for the answers of its
   queries (so every answer is applied), keeps at most --jobs xorbs waiting besides the
   running ones, and sends a shard only once every earlier request has succeeded. Returns 0
   or an exit status. */
static int put_drain(void *host) {
    put_ctx *P = (put_ctx *)host;
    cas_upload_event ev;
    int rc = CAS_NEED_INPUT;
    while (!P->fail && (rc = cas_upload_next(P->u, &ev)) == CAS_READY) {
        put_req *q;
        if (ev.type == CAS_UPLOAD_EVENT_QUERY) {
            P->queries++;
            if ((q = put_new(P, PUT_QUERY, &ev)) != NULL) put_enqueue(P, q);
            continue;
        }
        if (P->store.dir && pack_put(&P->store, ev.type, &ev.hash, ev.data, ev.len) < 0)
            return P->fail = EXIT_USAGE;
        if (ev.type == CAS_UPLOAD_EVENT_SHARD) {
            put_wait_all(P); /* every xorb first */
            if (P->fail) break;
        }
        if ((q = put_new(P, ev.type == CAS_UPLOAD_EVENT_XORB ? PUT_XORB : PUT_SHARD, &ev)) == NULL) break;
        put_enqueue(P, q);
        if (ev.type == CAS_UPLOAD_EVENT_SHARD) put_wait_all(P);
        while (!P->fail && put_waiting_xorbs(P) > P->g.jobs) put_pump(P, 1);
    }
    if (P->fail) return P->fail;
    if (rc != CAS_NEED_INPUT && rc != CAS_END) return P->fail = report("put", rc, cas_upload_error(P->u));
    while (!P->fail && cas_upload_open_queries(P->u) > 0) put_pump(P, 1);
    put_pump(P, 0);
    return P->fail;
}

/* ---- put: the commit, as `hf upload` makes it ----
   POST /api/{type}s/{repo}/preupload/{rev} says which files go through Xet ("lfs": the
   upload session above) and which are stored as regular files (sent inline, base64, in the
   commit); after the session, the Git LFS batch API (transfer "xet") must know every Xet
   file by its SHA-256 (the shard's metadata made it so); then POST .../commit/{rev} with
   NDJSON: the header line, then one "lfsFile" (path, algo sha256, oid, size) or "file"
   (path, content, encoding base64) line per file. The answer's commitUrl is printed. */

typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory */
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = (char *)realloc(b->p, cap);
        if (!p) { b->failed = 1; return; }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* s as a JSON string, quotes included (control characters as \u00XX; bytes >= 0x80 as they
   are: names are UTF-8). */
static void sb_json(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = (char)c, sb_put(b, esc, 2);
        else if (c < 0x20) sprintf(esc, "\\u%04x", c), sb_put(b, esc, 6);
        else sb_put(b, (const char *)&c, 1);
    }
    sb_put(b, "\"", 1);
}

static void sb_base64(strbuf *b, const uint8_t *d, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        char q[4];
        q[0] = A[v >> 18 & 63], q[1] = A[v >> 12 & 63];
        q[2] = i + 1 < n ? A[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? A[v & 63] : '=';
        sb_put(b, q, 4);
    }
}

/* The next string value of "key" in a JSON text from *pos on (a server's answer: keys are
   unique within its objects, so a scan is enough), decoded into out (\uXXXX below 0x80
   only; others make it fail). 1 and *pos past it, or 0. */
static int json_next_string(const char *t, size_t len, size_t *pos, const char *key, char *out, size_t cap) {
    size_t kl = strlen(key), i = *pos;
    for (; i + kl + 2 < len; i++) {
        size_t j, k = 0;
        if (t[i] != '"' || memcmp(t + i + 1, key, kl) != 0 || t[i + 1 + kl] != '"') continue;
        for (j = i + kl + 2; j < len && (t[j] == ' ' || t[j] == '\n' || t[j] == '\r' || t[j] == '\t'); j++) {}
        if (j >= len || t[j] != ':') continue;
        for (j++; j < len && (t[j] == ' ' || t[j] == '\n' || t[j] == '\r' || t[j] == '\t'); j++) {}
        if (j >= len || t[j] != '"') continue;
        for (j++; j < len && t[j] != '"'; j++) {
            char c = t[j];
            if (c == '\\') {
                if (++j >= len) return 0;
                c = t[j] == 'n' ? '\n' : t[j] == 't' ? '\t' : t[j] == 'r' ? '\r' : t[j] == 'b' ? '\b' : t[j] == 'f' ? '\f' : t[j];
                if (t[j] == 'u') {
                    unsigned v;
                    if (j + 4 >= len || sscanf(t + j + 1, "%4x", &v) != 1 || v >= 0x80) return 0;
                    c = (char)v, j += 4;
                }
            }
            if (k + 1 >= cap) return 0;
            out[k++] = c;
        }
        if (j >= len) return 0;
        out[k] = 0;
        *pos = j + 1;
        return 1;
    }
    return 0;
}

typedef struct {
    const char *local;  /* the file given */
    char *path;         /* in the repo (malloc'd) */
    uint64_t size;
    int lfs;            /* 1: through Xet; 0: a regular file, inline */
    const cas_upload_file_result *r; /* the upload's result (lfs files) */
} put_commit_file;

/* The Hub API URL {endpoint}/api/{type}s/{repo}/{what}/{revision}. */
static void put_api_url(const get_ctx *g, const char *what, char *url, size_t cap) {
    snprintf(url, cap, "%s/api/%ss/", g->endpoint, g->type);
    get_url_append(url, cap, g->repo, 1);
    snprintf(url + strlen(url), cap - strlen(url), "/%s/", what);
    get_url_append(url, cap, g->revision, 0);
}

/* A Hub answer that is not 200: its status and what it said, one line each. */
static int put_refused(const char *what, long st, const get_buf *b) {
    if (!st) return EXIT_DATA; /* (http_call said why) */
    meter_clear();
    fprintf(stderr, "%s: %s: HTTP %ld", g_prog, what, st);
    if (b->len) {
        fputs(": ", stderr);
        print_untrusted(stderr, b->p, b->len < 500 ? b->len : 500);
    }
    fputc('\n', stderr);
    return EXIT_DATA;
}

/* POSTs the request body q (freed) to a Hub API url: 0 with the 200 answer in *b (the
   caller frees b->p), or an exit status said (what: the step, for the message). */
static int put_hub_post(const get_ctx *g, const char *what, const char *url, const char *header, const char *ctype,
                        strbuf *q, get_buf *b) {
    get_headers h;
    long st;
    memset(b, 0, sizeof *b);
    if (q->failed) {
        free(q->p);
        fprintf(stderr, "%s: out of memory\n", g_prog);
        return EXIT_USAGE;
    }
    st = http_call(url, g->hf_token, header, 0, ctype, q->p, q->len, b, &h);
    free(q->p);
    if (st == 200) return 0;
    st = put_refused(what, st, b);
    free(b->p);
    b->p = NULL;
    return (int)st;
}

/* Preupload: which of files[] go through Xet. 0 or an exit status. */
static int put_preupload(const get_ctx *g, put_commit_file *files, size_t n) {
    char url[8192], path[4096], mode[16];
    strbuf q;
    get_buf b;
    size_t i, pos = 0;
    int rc;
    memset(&q, 0, sizeof q);
    memset(&b, 0, sizeof b);
    sb_str(&q, "{\"files\":[");
    for (i = 0; i < n; i++) {
        uint8_t sample[512];
        size_t got = 0;
        FILE *f = fopen(files[i].local, "rb");
        if (f) got = fread(sample, 1, sizeof sample, f), fclose(f);
        else {
            fprintf(stderr, "%s: %s: %s\n", g_prog, files[i].local, strerror(errno));
            free(q.p);
            return EXIT_USAGE;
        }
        sb_str(&q, i ? ",{\"path\":" : "{\"path\":");
        sb_json(&q, files[i].path);
        snprintf(url, sizeof url, ",\"size\":%llu,\"sample\":\"", (unsigned long long)files[i].size);
        sb_str(&q, url);
        sb_base64(&q, sample, got);
        sb_str(&q, "\"}");
    }
    sb_str(&q, "]}");
    put_api_url(g, "preupload", url, sizeof url);
    if ((rc = put_hub_post(g, "preupload", url, NULL, "application/json", &q, &b)) != 0) return rc;
    for (i = 0; i < n; i++) { /* the answer lists the files in the order asked */
        if (!json_next_string((const char *)b.p, b.len, &pos, "path", path, sizeof path) ||
            strcmp(path, files[i].path) || !json_next_string((const char *)b.p, b.len, &pos, "uploadMode", mode, sizeof mode) ||
            (strcmp(mode, "lfs") && strcmp(mode, "regular"))) {
            fprintf(stderr, "%s: preupload: the answer does not give an uploadMode for %s\n", g_prog, files[i].path);
            free(b.p);
            return EXIT_DATA;
        }
        files[i].lfs = !strcmp(mode, "lfs");
    }
    free(b.p);
    return 0;
}

/* The LFS batch call (transfer "xet"): every Xet file must be known by its SHA-256. */
static int put_lfs_batch(const get_ctx *g, const put_commit_file *files, size_t n) {
    char url[8192], word[64];
    strbuf q;
    get_buf b;
    size_t i, pos = 0;
    int rc;
    int any = 0;
    memset(&q, 0, sizeof q);
    memset(&b, 0, sizeof b);
    sb_str(&q, "{\"operation\":\"upload\",\"transfers\":[\"basic\",\"multipart\",\"xet\"],\"hash_algo\":\"sha_256\",\"ref\":{\"name\":");
    sb_json(&q, g->revision);
    sb_str(&q, "},\"objects\":[");
    for (i = 0; i < n; i++) {
        char oid[65];
        if (!files[i].lfs) continue;
        sha256_hex(files[i].r->sha256, oid);
        snprintf(url, sizeof url, "%s{\"oid\":\"%s\",\"size\":%llu}", any ? "," : "", oid, (unsigned long long)files[i].size);
        sb_str(&q, url);
        any = 1;
    }
    sb_str(&q, "]}");
    if (!any) { free(q.p); return 0; }
    snprintf(url, sizeof url, "%s/%s", g->endpoint, !strcmp(g->type, "model") ? "" : !strcmp(g->type, "dataset") ? "datasets/" : "spaces/");
    get_url_append(url, sizeof url, g->repo, 1);
    strcat(url, ".git/info/lfs/objects/batch");
    if ((rc = put_hub_post(g, "LFS batch", url, "Accept: application/vnd.git-lfs+json", "application/vnd.git-lfs+json", &q,
                           &b)) != 0)
        return rc;
    if (!json_next_string((const char *)b.p, b.len, &pos, "transfer", word, sizeof word) || strcmp(word, "xet")) {
        fprintf(stderr, "%s: LFS batch: the Hub did not choose the xet transfer for this repo\n", g_prog);
        free(b.p);
        return EXIT_DATA;
    }
    for (i = 0; i + 8 < b.len; i++) /* an object the Hub refused, or would have us upload again */
        if (!memcmp(b.p + i, "\"error\"", 7) || !memcmp(b.p + i, "\"actions\"", 9)) {
            fprintf(stderr, "%s: LFS batch: the Hub does not have every uploaded file: ", g_prog);
            print_untrusted(stderr, b.p, b.len < 500 ? b.len : 500);
            fputc('\n', stderr);
            free(b.p);
            return EXIT_DATA;
        }
    free(b.p);
    return 0;
}

/* The commit; prints its URL. */
static int put_commit(const get_ctx *g, const put_commit_file *files, size_t n, const char *message) {
    char url[8192], line[512];
    strbuf q;
    get_buf b;
    size_t i, pos = 0;
    int rc;
    memset(&q, 0, sizeof q);
    memset(&b, 0, sizeof b);
    if (message) snprintf(line, sizeof line, "%s", message);
    else if (n == 1) snprintf(line, sizeof line, "Upload %s with cas", files[0].path);
    else snprintf(line, sizeof line, "Upload %zu files with cas", n);
    sb_str(&q, "{\"key\":\"header\",\"value\":{\"summary\":");
    sb_json(&q, line);
    sb_str(&q, ",\"description\":\"\"}}\n");
    for (i = 0; i < n; i++) {
        if (files[i].lfs) {
            char oid[65];
            sha256_hex(files[i].r->sha256, oid);
            sb_str(&q, "{\"key\":\"lfsFile\",\"value\":{\"path\":");
            sb_json(&q, files[i].path);
            snprintf(line, sizeof line, ",\"algo\":\"sha256\",\"oid\":\"%s\",\"size\":%llu}}\n", oid,
                     (unsigned long long)files[i].size);
            sb_str(&q, line);
        } else { /* a regular file: small (the Hub said so), inline */
            size_t len;
            uint8_t *data = read_all(files[i].local, 64u << 20, &len);
            if (!data) { free(q.p); return EXIT_USAGE; }
            sb_str(&q, "{\"key\":\"file\",\"value\":{\"path\":");
            sb_json(&q, files[i].path);
            sb_str(&q, ",\"encoding\":\"base64\",\"content\":\"");
            sb_base64(&q, data, len);
            sb_str(&q, "\"}}\n");
            free(data);
        }
    }
    put_api_url(g, "commit", url, sizeof url);
    if ((rc = put_hub_post(g, "commit", url, NULL, "application/x-ndjson", &q, &b)) != 0) return rc;
    if (!json_next_string((const char *)b.p, b.len, &pos, "commitUrl", url, sizeof url)) {
        fprintf(stderr, "%s: commit: the answer has no commitUrl\n", g_prog);
        free(b.p);
        return EXIT_DATA;
    }
    printf("%s\n", url);
    free(b.p);
    return 0;
}

static int cmd_put(int argc, char **argv, uint8_t *buf) {
    put_ctx P;
    const char *cas_url = NULL, *token = NULL, *dir = NULL, *path_in_repo = NULL, *message = NULL;
    put_commit_file *cf = NULL;
    int commit = 1;
    cas_upload_desc desc;
    cas_upload_stats s;
    cas_error err;
    pack_shards ps;
    char **names;
    int i, rc = 0, nnames = 0, pool_on = 0, rc_at = -1;
    size_t k;
    unsigned threads = upload_threads_default();
    pack_pool pool;
    memset(&P, 0, sizeof P);
    memset(&ps, 0, sizeof ps);
    P.g.endpoint = getenv("HF_ENDPOINT") ? getenv("HF_ENDPOINT") : "https://huggingface.co";
    P.g.revision = "main";
    P.g.type = "model";
    P.g.jobs = 4;
    P.max_tries = GET_MAX_TRIES;
    names = (char **)calloc((size_t)argc + 1, sizeof *names);
    if (!names) return EXIT_USAGE;
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--revision") && i + 1 < argc) P.g.revision = argv[++i];
        else if (!strcmp(argv[i], "--repo-type") && i + 1 < argc) {
            P.g.type = argv[++i];
            if (strcmp(P.g.type, "model") && strcmp(P.g.type, "dataset") && strcmp(P.g.type, "space")) rc = 1, rc_at = rc_at < 0 ? i : rc_at;
        } else if (!strcmp(argv[i], "--token") && i + 1 < argc) token = argv[++i];
        else if (!strcmp(argv[i], "--endpoint") && i + 1 < argc) P.g.endpoint = argv[++i];
        else if (!strcmp(argv[i], "--cas-url") && i + 1 < argc) cas_url = argv[++i];
        else if (!strcmp(argv[i], "--store") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
            P.g.jobs = (unsigned)atoi(argv[++i]);
            if (P.g.jobs < 1 || P.g.jobs > 64) rc = 1, rc_at = rc_at < 0 ? i : rc_at;
        } else if (!strcmp(argv[i], "--tries") && i + 1 < argc) {
            P.max_tries = (unsigned)atoi(argv[++i]);
            if (P.max_tries < 1 || P.max_tries > 100) rc = 1, rc_at = rc_at < 0 ? i : rc_at;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = (unsigned)atoi(argv[++i]);
            if (threads < 1 || threads > 256) rc = 1, rc_at = rc_at < 0 ? i : rc_at;
        } else if (!strcmp(argv[i], "--path-in-repo") && i + 1 < argc) path_in_repo = argv[++i];
        else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--message")) && i + 1 < argc) message = argv[++i];
        else if (!strcmp(argv[i], "--no-commit")) commit = 0;
        else if (argv[i][0] == '-' && argv[i][1]) rc = 1, rc_at = rc_at < 0 ? i : rc_at;
        else names[nnames++] = argv[i];
    }
    if (!cas_url && nnames) P.g.repo = names[0];
    commit = commit && !cas_url; /* (a bare CAS has no repositories) */
    if (!rc && commit) { /* the repo paths: --path-in-repo for one file, a folder for several */
        for (i = 1; i < nnames; i++)
            if (!strcmp(names[i], "-")) {
                free(names);
                return usage_error("-: a commit needs files (or --no-commit)");
            }
        cf = (put_commit_file *)calloc((size_t)nnames, sizeof *cf);
        for (i = 1; cf && i < nnames; i++) {
            const char *base = strrchr(names[i], '/') ? strrchr(names[i], '/') + 1 : names[i];
            size_t plen = path_in_repo ? strlen(path_in_repo) : 0;
            struct stat sb;
            cf[i - 1].local = names[i];
            cf[i - 1].path = (char *)malloc(plen + strlen(base) + 2);
            if (!cf[i - 1].path) continue;
            if (path_in_repo && nnames == 2) strcpy(cf[i - 1].path, path_in_repo);
            else if (path_in_repo) sprintf(cf[i - 1].path, "%s%s%s", path_in_repo, plen && path_in_repo[plen - 1] == '/' ? "" : "/", base);
            else strcpy(cf[i - 1].path, base);
            if (stat(names[i], &sb) == 0) cf[i - 1].size = (uint64_t)sb.st_size;
        }
    }
    if (rc || nnames < (cas_url ? 1 : 2)) {
        for (i = 0; cf && i + 1 < nnames; i++) free(cf[i].path);
        free(cf);
        free(names);
        return rc ? usage_error("%s: unknown option, a missing value, or a value out of range", argv[rc_at])
                  : usage_error(cas_url || nnames ? "FILE... is missing" : "REPO_ID and FILE... are missing");
    }
    if (!token) token = getenv("HF_TOKEN");
    P.files = (put_file_res *)calloc((size_t)nnames, sizeof *P.files);
    if (!P.files) {
        free(names);
        return EXIT_USAGE;
    }
    if (dir) {
        P.store.dir = dir;
        if ((rc = pack_mkdirs(dir)) != 0 || (rc = pack_load_shards(dir, &ps)) != 0) goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cas_url) {
        size_t n = strlen(cas_url);
        while (n > 0 && cas_url[n - 1] == '/') n--;
        P.g.cas_url = (char *)malloc(n + 1);
        if (P.g.cas_url) memcpy(P.g.cas_url, cas_url, n), P.g.cas_url[n] = 0;
        P.g.access = strdup(token ? token : "");
        if (!P.g.cas_url || !P.g.access) rc = EXIT_USAGE;
    } else {
        P.g.hub = 1;
        P.g.hf_token = token;
        if (commit && !cf) rc = EXIT_USAGE;
        if (commit && !rc) rc = put_preupload(&P.g, cf, (size_t)nnames - 1);
        if (!rc) rc = put_token(&P.g);
    }
    P.m = curl_multi_init();
    memset(&desc, 0, sizeof desc);
    desc.flags = CAS_UPLOAD_GLOBAL_DEDUP;
    desc.now = (uint64_t)time(NULL);
    if (!rc) pool_on = upload_threads_start(&desc, &pool, threads);
    if (!rc && !P.m) rc = EXIT_USAGE;
    if (!rc && (rc = cas_upload_create(NULL, &desc, &P.u, &err)) != CAS_OK) rc = report("put", rc, &err);
    for (k = 0; k < ps.n && !rc; k++)
        if (cas_upload_add_shard(P.u, &ps.s[k]) != CAS_OK) rc = report("put", CAS_E_NOMEM, NULL);
    meter_begin("put", inputs_size(names + (cas_url ? 0 : 1), nnames - (cas_url ? 0 : 1)));
    for (i = cas_url ? 0 : 1; i < nnames && !rc; i++) {
        if (commit && !cf[i - 1].lfs) continue; /* a regular file: inline in the commit */
        if ((rc = upload_file(P.u, names[i], buf, threads, put_drain, &P, &P.files[P.nfiles].r)) == 0) {
            if (commit) cf[i - 1].r = &P.files[P.nfiles].r;
            P.files[P.nfiles++].name = names[i];
        }
    }
    if (!rc && (rc = cas_upload_finish(P.u)) != CAS_OK) rc = report("put", rc, cas_upload_error(P.u));
    if (!rc) rc = put_drain(&P);
    if (!rc) put_wait_all(&P);
    if (!rc) rc = P.fail;
    meter_end();
    if (!rc) {
        for (k = 0; k < P.nfiles; k++) {
            const cas_upload_file_result *r = &P.files[k].r;
            char sha[65];
            sha256_hex(r->sha256, sha);
            print_hash(&r->file_hash);
            printf("  %s  %llu  %s\n", sha, (unsigned long long)r->size, P.files[k].name);
        }
        cas_upload_get_stats(P.u, &s);
        fprintf(stderr,
                "%s: %llu files, %llu bytes in, %llu new bytes (%llu chunks) in %llu xorbs sent "
                "(%llu bytes, %llu new to the server), %llu bytes deduplicated (%llu through %llu "
                "of %llu global queries), %llu shards sent, %llu retries\n",
                g_prog, (unsigned long long)s.files, (unsigned long long)s.bytes_in,
                (unsigned long long)s.new_bytes, (unsigned long long)s.new_chunks, P.xorbs_sent,
                P.xorb_bytes, P.xorbs_inserted, (unsigned long long)s.dedup_bytes,
                (unsigned long long)s.global_dedup_bytes, P.found, P.queries, P.shards_sent, P.retries);
        if (commit && (rc = put_lfs_batch(&P.g, cf, (size_t)nnames - 1)) == 0)
            rc = put_commit(&P.g, cf, (size_t)nnames - 1, message);
    }
    while (P.run) { /* a failed session: drop what is still in flight */
        put_req *q = P.run;
        P.run = q->run_next;
        curl_multi_remove_handle(P.m, q->c);
        curl_easy_cleanup(q->c);
        curl_slist_free_all(q->hdrs);
        put_req_free(q);
    }
    while (P.wait) {
        put_req *q = P.wait;
        P.wait = q->next;
        put_req_free(q);
    }
    if (P.m) curl_multi_cleanup(P.m);
    cas_upload_free(P.u);
    if (pool_on) pack_pool_stop(&pool);
    free(P.g.access);
    free(P.g.cas_url);
    curl_global_cleanup();
out:
    for (i = 0; cf && i + 1 < nnames; i++) free(cf[i].path);
    free(cf);
    free(names);
    free(P.files);
    pack_shards_free(&ps);
    return rc;
}
#else
static int cmd_put(int argc, char **argv, uint8_t *buf) {
    (void)argc, (void)argv, (void)buf;
    fprintf(stderr, "%s: put: this build has no libcurl (install libcurl4-openssl-dev and rebuild)\n", g_prog);
    return EXIT_USAGE;
}
#endif

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

/* Options every command takes, taken out of argv before it runs: -q/--quiet; -h/--help
   (1: print the command's help instead). */
static int common_options(int *argc, char **argv) {
    int i, k, help = 0;
    for (i = k = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) g_quiet = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) help = 1;
        else argv[k++] = argv[i];
    }
    *argc = k;
    return help;
}

int main(int argc, char **argv) {
    const cas_command_doc *doc;
    uint8_t *buf;
    int rc, help;
    if (argc < 2) {
        help_all();
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return help_all();
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) return cmd_version();
    if ((doc = command_doc(argv[1])) == NULL) return usage_error("%s: no such command", argv[1]);
    g_cmd = doc->name;
    help = common_options(&argc, argv);
    if (help) return help_command(doc);
    if (!strcmp(argv[1], "help")) {
        if (argc < 3) return help_all();
        g_cmd = NULL;
        if ((doc = command_doc(argv[2])) == NULL) return usage_error("%s: no such command", argv[2]);
        return help_command(doc);
    }
    if (!strcmp(argv[1], "version")) return cmd_version();
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
    else if (!strcmp(argv[1], "store")) rc = cmd_store(argc - 1, argv + 1);
    else if (!strcmp(argv[1], "unpack")) rc = cmd_unpack(argc - 2, argv + 2);
    else if (!strcmp(argv[1], "reconstruct")) rc = cmd_reconstruct(argc - 2, argv + 2);
    else if (!strcmp(argv[1], "get")) rc = cmd_get(argc - 2, argv + 2, buf);
    else rc = cmd_put(argc - 2, argv + 2, buf);
    free(buf);
    meter_end();
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: write error: %s\n", g_prog, strerror(errno));
        return EXIT_USAGE;
    }
    return rc;
}
