/* firmware.c - a firmware-style download: the library without stdio, SIMD or zstd, and every
   byte it allocates taken from static buffers (no heap).

   Usage: firmware MANIFEST.json XORBDIR FILEHASH OUT

   The device part (fw_update) receives a reconstruction manifest, fetches the byte ranges
   it names through the board's transport, and writes the image to flash, verified against
   its Xet hash. Memory is fixed before the first byte is fetched:
     - the manifest is parsed into an arena over fw_manifest_pool;
     - cas_download_memory() then says exactly how much the engine can take for this
       manifest with one request in flight, and the engine gets an arena of that many bytes
       of fw_engine_pool. An update that does not fit is refused before it starts; one that
       fits cannot fail half-way for memory.
   The host part below (main, fw_fetch, fw_flash) stands in for the board: files instead of a
   radio and a flash chip. make links the program with tests/noheap.c, whose malloc, calloc,
   realloc and free abort; tests/codesize.sh measures what the library adds to the binary
   under -Os -ffunction-sections -fdata-sections -Wl,--gc-sections (README, "Firmware"). */
#define CAS_NO_STDIO /* nothing of <stdio.h>, files or the environment in the library */
#define CAS_NO_SIMD  /* portable C only, no CPU detection */
#define CAS_NO_ZSTD  /* no zstd decoder: the device asks for uncompressed manifests */
#define CAS_IMPLEMENTATION
#include "../cas.h"

/* ---- the device: nothing but cas.h ---- */

/* The board's services: n bytes of a xorb from `offset` into dst (0 or a negative
   cas_result), and the positional sink that writes the image to flash. */
static int fw_fetch(void *board, const cas_hash *xorb, uint64_t offset, void *dst, size_t n);
static int fw_flash(void *board, uint64_t offset, const void *data, size_t len);

static unsigned char fw_manifest_pool[64 << 10]; /* the manifest's tables (~50 B per term) */
static unsigned char fw_engine_pool[1 << 20];    /* the engine's arena is cut from this */
static unsigned char fw_piece[4096];             /* one transport read */
static uint64_t fw_need, fw_peak;                /* the bound and what was used, for main */

/* Downloads the image `manifest` describes to flash; CAS_OK once every byte is written and
   the whole image hashes to `image`, else the error. */
static int fw_update(void *board, const char *manifest, size_t len, const cas_hash *image) {
    /* the arena aligns its start to 16: start there, so that exactly fw_need bytes are its */
    unsigned char *base = fw_engine_pool + (16 - (uintptr_t)fw_engine_pool % 16) % 16;
    cas_arena meta, work;
    cas_allocator a;
    cas_recon recon;
    cas_download_desc desc = {0};
    cas_download *d = NULL;
    cas_download_request q;
    int rc;
    cas_arena_init(&meta, fw_manifest_pool, sizeof fw_manifest_pool);
    a = cas_arena_allocator(&meta);
    if ((rc = cas_recon_parse(&a, manifest, len, 2, NULL, &recon, NULL)) != CAS_OK) return rc;
    desc.flags = CAS_DOWNLOAD_PER_RANGE;       /* one byte range per request */
    desc.write_at = fw_flash, desc.user = board; /* positional: flash is addressable */
    desc.file_hash = image;
    fw_need = cas_download_memory(&recon, &desc, 1); /* one request in flight at a time */
    if (fw_need > sizeof fw_engine_pool - 15) rc = CAS_E_NOMEM; /* refused up front */
    if (rc == CAS_OK) {
        cas_arena_init(&work, base, (size_t)fw_need);
        a = cas_arena_allocator(&work);
        rc = cas_download_create(&a, &recon, &desc, &d, NULL);
    }
    while (rc == CAS_OK && (rc = cas_download_next(d, &q)) == CAS_READY) {
        uint64_t pos = q.ranges[0].byte_start, end = q.ranges[0].byte_end + 1;
        rc = cas_download_begin(d, q.id, NULL, 0);
        while (rc == CAS_OK && pos < end) { /* the range, a piece at a time */
            size_t n = end - pos < sizeof fw_piece ? (size_t)(end - pos) : sizeof fw_piece;
            rc = fw_fetch(board, &recon.xorbs[q.xorb].hash, pos, fw_piece, n);
            if (rc == CAS_OK) rc = cas_download_push(d, q.id, fw_piece, n);
            pos += n;
        }
        if (rc == CAS_OK) rc = cas_download_end(d, q.id);
    }
    if (d) fw_peak = work.peak, cas_download_free(d);
    cas_recon_free(&recon);
    return rc == CAS_END ? CAS_OK : rc; /* CAS_END: written and verified */
}

/* ---- the host standing in for the board ---- */
#include <stdio.h>
#include <string.h>

typedef struct { const char *xorbs; FILE *flash; } board;

static int fw_fetch(void *user, const cas_hash *xorb, uint64_t offset, void *dst, size_t n) {
    char hex[CAS_HASH_HEX_SIZE + 1], path[4096];
    FILE *f;
    size_t got = 0;
    cas_hash_to_hex(xorb, hex);
    snprintf(path, sizeof path, "%s/%s", ((board *)user)->xorbs, hex);
    if ((f = fopen(path, "rb")) != NULL && fseek(f, (long)offset, SEEK_SET) == 0) got = fread(dst, 1, n, f);
    if (f) fclose(f);
    return got == n ? CAS_OK : CAS_E_TRUNCATED;
}
static int fw_flash(void *user, uint64_t offset, const void *data, size_t len) {
    FILE *f = ((board *)user)->flash;
    return fseek(f, (long)offset, SEEK_SET) == 0 && fwrite(data, 1, len, f) == len ? 0 : CAS_E_ARGUMENT;
}

static char fw_text[1 << 20]; /* the manifest as received */

int main(int argc, char **argv) {
    board b;
    cas_hash image;
    size_t len = 0;
    FILE *f;
    int rc;
    if (argc != 5 || cas_hash_from_hex(argv[3], strlen(argv[3]), &image) != CAS_OK)
        return fprintf(stderr, "usage: %s MANIFEST.json XORBDIR FILEHASH OUT\n", argv[0]), 2;
    if ((f = fopen(argv[1], "rb")) != NULL) len = fread(fw_text, 1, sizeof fw_text, f), fclose(f);
    b.xorbs = argv[2];
    if (!f || !(b.flash = fopen(argv[4], "wb"))) return fprintf(stderr, "%s: cannot open files\n", argv[0]), 2;
    rc = fw_update(&b, fw_text, len, &image);
    fclose(b.flash);
    fprintf(stderr, "%s: engine arena %lu bytes (cas_download_memory), peak %lu; %s\n", argv[0],
            (unsigned long)fw_need, (unsigned long)fw_peak, cas_result_message(rc));
    if (rc == CAS_OK) printf("%s  %s\n", argv[3], argv[4]);
    return rc == CAS_OK ? 0 : 1;
}
