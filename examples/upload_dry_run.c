/* upload_dry_run.c - what an upload of files would send, built in memory and sent nowhere.

   Usage: upload_dry_run FILE...

   The upload engine (cas_upload_*) is sans-I/O: the host pushes file bytes in and takes
   events out, in the order the CAS wants them (upload-protocol.md):

       CAS_UPLOAD_EVENT_XORB    a new xorb      -> POST /v1/xorbs/default/<hash>
       CAS_UPLOAD_EVENT_SHARD   the file table  -> POST /v1/shards    (after every xorb)
       CAS_UPLOAD_EVENT_QUERY   a global-dedup question (only with CAS_UPLOAD_GLOBAL_DEDUP)

   Here each event is checked as a CAS would check it instead of being sent: every xorb is
   decoded and its Merkle hash recomputed (cas_xorb_walk), the shard parsed
   (cas_shard_parse). Output, one line each:

       <xet-file-hash>  <sha256>  <size>  <name>     per file (a Git LFS pointer's fields)
       xorb <hash> <bytes> <chunks>                   per xorb
       shard <hash> <bytes>                           per shard
*/
#ifndef CAS_LINK_IMPL      /* (the Makefile links the implementation object it builds once) */
#define CAS_IMPLEMENTATION /* in exactly one .c file of a program */
#endif
#include "../cas.h"

#include <stdio.h>

static unsigned char buf[1 << 20];                /* one read of a file */
static unsigned char scratch[2 * CAS_CHUNK_MAX_SIZE]; /* cas_xorb_walk decodes chunks here */

static void print_hash(const cas_hash *h) {
    char hex[CAS_HASH_HEX_SIZE + 1];
    cas_hash_to_hex(h, hex);
    printf("%s", hex);
}

/* Takes every event out of the session: what would be POSTed, checked here. */
static int drain(cas_upload *u) {
    cas_upload_event ev;
    cas_xorb_info info;
    cas_shard shard;
    cas_error err;
    int rc;
    while ((rc = cas_upload_next(u, &ev)) == CAS_READY) {
        if (ev.type == CAS_UPLOAD_EVENT_XORB) {
            rc = cas_xorb_walk(ev.data, ev.len, scratch, NULL, NULL, &info, &err);
            if (rc != CAS_OK || !cas_hash_equal(&info.xorb_hash, &ev.hash)) return CAS_E_HASH;
            printf("xorb "), print_hash(&ev.hash), printf(" %lu %u\n", (unsigned long)ev.len, ev.num_chunks);
        } else if (ev.type == CAS_UPLOAD_EVENT_SHARD) {
            if ((rc = cas_shard_parse(NULL, ev.data, ev.len, &shard, &err)) != CAS_OK) return rc;
            printf("shard "), print_hash(&ev.hash), printf(" %lu\n", (unsigned long)ev.len);
            cas_shard_free(&shard);
        } /* no QUERY events: global dedup is off by default */
    }
    return rc == CAS_NEED_INPUT || rc == CAS_END ? CAS_OK : rc;
}

/* Pushes one file through the session and prints its line. */
static int upload_file(cas_upload *u, const char *name) {
    FILE *f = fopen(name, "rb");
    cas_upload_file_result r;
    size_t n, used, i;
    int rc;
    if (!f) return fprintf(stderr, "%s: cannot open\n", name), CAS_E_ARGUMENT;
    rc = cas_upload_file_begin(u);
    while (rc == CAS_OK && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        /* CAS_READY: events wait (maybe before all was taken): drain, push the rest. */
        for (i = 0; rc == CAS_OK && i < n; i += used) {
            rc = cas_upload_push(u, buf + i, n - i, &used);
            if (rc == CAS_READY || rc == CAS_NEED_INPUT) rc = drain(u);
        }
    }
    fclose(f);
    while (rc == CAS_OK && (rc = cas_upload_file_end(u, &r)) == CAS_READY) rc = drain(u);
    if (rc != CAS_OK) return rc;
    print_hash(&r.file_hash), printf("  ");
    for (i = 0; i < 32; i++) printf("%02x", r.sha256[i]);
    printf("  %llu  %s\n", (unsigned long long)r.size, name);
    return CAS_OK;
}

int main(int argc, char **argv) {
    cas_upload *u;
    cas_error err;
    int i, rc;
    if (argc < 2) return fprintf(stderr, "usage: %s FILE...\n", argv[0]), 2;
    /* NULL allocator: malloc; NULL desc: the defaults (LZ4, 64 MiB xorbs, dedup on). */
    if ((rc = cas_upload_create(NULL, NULL, &u, &err)) != CAS_OK) return 2;
    for (i = 1; i < argc && rc == CAS_OK; i++) rc = upload_file(u, argv[i]);
    /* No more files: the last xorb, then the shard(s) naming every file's chunks. */
    if (rc == CAS_OK && (rc = cas_upload_finish(u)) == CAS_OK) rc = drain(u);
    if (rc != CAS_OK) {
        const cas_error *e = cas_upload_error(u);
        fprintf(stderr, "%s: %s (%s)\n", argv[0], cas_result_message(rc), e->code ? e->what : "");
    }
    cas_upload_free(u);
    return rc == CAS_OK ? 0 : 1;
}
