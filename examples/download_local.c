/* download_local.c - a file out of a local directory of xorbs: the download engine over
   files, no network.

   Usage: download_local FILEHASH OUT XORBDIR SHARD...
          e.g. download_local 5f3a... out.bin store/xorbs store/shards/[0-9a-f]*
   with a store as `cas pack --store store FILE` writes it (the xorbs hold the chunks, the
   shards say which chunks make which file).

   1. The shards are parsed (cas_shard_parse).
   2. cas_recon_from_shards builds the reconstruction manifest a CAS server would answer for
      FILEHASH: terms (xorb, chunk range) and per xorb the byte ranges to fetch. It reads
      the record boundaries from each xorb's chunk headers (record_ends below).
   3. The download engine hands out requests (a URL and a Range); we answer each from the
      xorb file, push the bytes in, and the engine decodes the chunks, writes the file in
      order and checks the Xet hash of the whole: a damaged store cannot pass as the file.
      (It ends in an error then, and OUT holds what was written: `cas unpack` writes to a
      temporary that only becomes OUT once the hash checks.)
   The same loop over HTTP is download_curl.c.
*/
#ifndef CAS_LINK_IMPL      /* (the Makefile links the implementation object it builds once) */
#define CAS_IMPLEMENTATION /* in exactly one .c file of a program */
#endif
#include "../cas.h"

#include <stdio.h>
#include <string.h>

static const char *xorb_dir;

static FILE *open_xorb(const cas_hash *h) {
    char hex[CAS_HASH_HEX_SIZE + 1], path[4096];
    cas_hash_to_hex(h, hex);
    snprintf(path, sizeof path, "%s/%s", xorb_dir, hex);
    return fopen(path, "rb");
}

/* cas_record_ends_fn: the end offset of each of the xorb's first n chunk records, found by
   walking the 8-byte record headers. */
static int record_ends(void *user, const cas_hash *xorb, uint32_t n, uint64_t *ends) {
    FILE *f = open_xorb(xorb);
    uint8_t head[CAS_CHUNK_HEADER_SIZE];
    cas_chunk_header h;
    uint64_t pos = 0;
    uint32_t i;
    (void)user;
    if (!f) return CAS_E_SHARD_NO_CHUNKS;
    for (i = 0; i < n; i++) {
        if (fseek(f, (long)pos, SEEK_SET) || fread(head, 1, sizeof head, f) != sizeof head ||
            cas_chunk_header_parse(head, pos, &h, NULL) != CAS_OK)
            return fclose(f), CAS_E_TRUNCATED;
        ends[i] = pos += CAS_CHUNK_HEADER_SIZE + h.compressed_size;
    }
    fclose(f);
    return CAS_OK;
}

/* The sequential sink: the file's bytes, in order. */
static int write_out(void *user, const void *data, size_t len) {
    return fwrite(data, 1, len, (FILE *)user) == len ? 0 : CAS_E_ARGUMENT;
}

/* Answers request q from the xorb file: bytes byte_start..byte_end, pushed in pieces. */
static int answer(cas_download *d, const cas_recon *r, const cas_download_request *q) {
    static uint8_t piece[65536];
    const cas_recon_range *g = &q->ranges[0]; /* one range: CAS_DOWNLOAD_PER_RANGE */
    FILE *f = open_xorb(&r->xorbs[q->xorb].hash);
    uint64_t pos = g->byte_start;
    int rc;
    if (!f || fseek(f, (long)pos, SEEK_SET)) return f ? fclose(f) : 0, CAS_E_TRUNCATED;
    rc = cas_download_begin(d, q->id, NULL, 0); /* the "206 Partial Content" */
    while (rc == CAS_OK && pos <= g->byte_end) {
        size_t want = g->byte_end - pos + 1 < sizeof piece ? (size_t)(g->byte_end - pos + 1) : sizeof piece;
        size_t got = fread(piece, 1, want, f);
        if (got == 0) break; /* a short file: cas_download_end says CAS_E_TRUNCATED */
        rc = cas_download_push(d, q->id, piece, got);
        pos += got;
    }
    fclose(f);
    return rc == CAS_OK ? cas_download_end(d, q->id) : rc;
}

int main(int argc, char **argv) {
    cas_shard shards[64];
    cas_hash file;
    cas_recon recon;
    cas_download_desc desc = {0};
    cas_download *d = NULL;
    cas_download_request q;
    cas_error err = {0, 0, ""};
    FILE *out = NULL;
    int i, n = argc - 4, rc = CAS_OK;
    if (argc < 5 || n > 64 || cas_hash_from_hex(argv[1], strlen(argv[1]), &file) != CAS_OK)
        return fprintf(stderr, "usage: %s FILEHASH OUT XORBDIR SHARD... (at most 64)\n", argv[0]), 2;
    xorb_dir = argv[3];
    for (i = 0; i < n && rc == CAS_OK; i++) { /* 1. the shards, read whole */
        static uint8_t data[CAS_SHARD_MAX_SIZE];
        FILE *f = fopen(argv[4 + i], "rb");
        size_t len = f ? fread(data, 1, sizeof data, f) : 0;
        if (f) fclose(f);
        rc = cas_shard_parse(NULL, data, len, &shards[i], &err); /* it copies what it keeps */
        if (rc != CAS_OK) n = i; /* free only the parsed ones */
    }
    memset(&recon, 0, sizeof recon);
    if (rc == CAS_OK) /* 2. the manifest, URLs "http://local/<xorb-hash>" (not used here) */
        rc = cas_recon_from_shards(NULL, shards, (size_t)n, &file, 0, UINT64_MAX, "http://local/",
                                   record_ends, NULL, &recon, &err);
    if (rc == CAS_OK && !(out = fopen(argv[2], "wb"))) rc = CAS_E_ARGUMENT, strcpy(err.what, "cannot create OUT");
    desc.flags = CAS_DOWNLOAD_PER_RANGE; /* one range per request: no multipart bodies */
    desc.write = write_out, desc.user = out;
    desc.file_hash = &file; /* the check that makes it a verified download */
    if (rc == CAS_OK) rc = cas_download_create(NULL, &recon, &desc, &d, &err);
    while (rc == CAS_OK && (rc = cas_download_next(d, &q)) == CAS_READY) /* 3. the requests */
        rc = answer(d, &recon, &q);
    if (rc != CAS_END) /* CAS_END: every byte written and the file hash checked */
        fprintf(stderr, "%s: %s %s\n", argv[0], cas_result_message(rc), d ? cas_download_error(d)->what : err.what);
    if (out) fclose(out);
    cas_download_free(d);
    cas_recon_free(&recon);
    for (i = 0; i < n; i++) cas_shard_free(&shards[i]);
    return rc == CAS_END ? 0 : 1;
}
