/* hash.c - the Xet file hash of files, in fixed memory (like b3sum or sha256sum).

   Usage: hash FILE...          one line per file: <xet-file-hash>  <name>  ("-" is stdin)

   A file's Xet hash (hashing.md) is the Merkle root of its content-defined chunks, keyed once
   more. Two fixed-size structs compute it while the bytes stream past:

       cas_chunk_stream   finds the chunk boundaries and hashes each chunk   (~19 KiB)
       cas_merkle         folds the chunk hashes into the Merkle tree        (~15.4 KiB)

   Nothing is allocated: this program's memory is those two structs and one read buffer,
   whatever the size of the file. It is plain C99 and runs unchanged as wasm32-wasi.

   Build:  cc -O2 hash.c -o hash            (cas.h one directory up, vendor/ beside it)
*/
#ifndef CAS_LINK_IMPL      /* (the Makefile links the implementation object it builds once) */
#define CAS_IMPLEMENTATION /* in exactly one .c file of a program */
#endif
#include "../cas.h"

#include <stdio.h>
#include <string.h>

/* 256 KiB per read: the fused scan-and-hash path (x86-64 with AVX-512) wants 32 KiB or
   more per push; any size gives the same hash. Static, so small stacks (WASI's 64 KiB) do. */
static unsigned char buf[256 * 1024];
static cas_chunk_stream cs;
static cas_merkle tree;

/* The Xet hash of everything f holds. 0, or -1 on a read error. */
static int hash_file(FILE *f, cas_hash *out) {
    cas_chunk c;
    size_t n;
    cas_chunk_stream_init(&cs);
    cas_merkle_init(&tree);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        size_t used = 0;
        /* A push stops where a chunk ends (c.size != 0 then): hand the chunk to the tree
           and push the rest of the buffer. Boundaries do not depend on the read size. */
        while (used < n) {
            used += cas_chunk_stream_push(&cs, buf + used, n - used, &c);
            if (c.size) cas_merkle_push(&tree, &c);
        }
    }
    if (ferror(f)) return -1;
    if (cas_chunk_stream_finish(&cs, &c)) cas_merkle_push(&tree, &c); /* the last chunk */
    cas_merkle_file_hash(&tree, out); /* all zeros for an empty file, as xet-core */
    return 0;
}

int main(int argc, char **argv) {
    int i, status = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...   (prints <xet-file-hash>  <name>; - is stdin)\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        int stdin_ = !strcmp(argv[i], "-");
        FILE *f = stdin_ ? stdin : fopen(argv[i], "rb");
        cas_hash h;
        char hex[CAS_HASH_HEX_SIZE + 1];
        if (!f) {
            fprintf(stderr, "%s: %s: cannot open\n", argv[0], argv[i]);
            status = 2;
            continue;
        }
        if (hash_file(f, &h) != 0) {
            fprintf(stderr, "%s: %s: read error\n", argv[0], argv[i]);
            status = 2;
        } else {
            cas_hash_to_hex(&h, hex); /* the Xet API's text form (each 8-byte word reversed) */
            printf("%s  %s\n", hex, argv[i]);
        }
        if (!stdin_) fclose(f);
    }
    return status;
}
