/* Xorb reader on arbitrary bytes: the walk (whole body / segment / stored xorb with footer)
   and the streaming reader fed in fuzzer-chosen pieces agree on accept/reject, chunk count
   and every decoded byte; nothing crashes or reads out of bounds. The first byte seeds the
   piece sizes. */
#define CAS_IMPLEMENTATION
#include "../tests/testlib.h"

typedef struct {
    cas_hash hashes[64];
    uint32_t n;
} seen_chunks;

static int remember(void *user, uint32_t index, uint64_t offset, const cas_chunk_header *h,
                    const uint8_t *data, const cas_hash *hash) {
    seen_chunks *s = (seen_chunks *)user;
    (void)offset; (void)h; (void)data;
    if (index < 64) s->hashes[index] = *hash;
    s->n = index + 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t scratch[2 * CAS_CHUNK_MAX_SIZE];
    seen_chunks seen;
    cas_xorb_info info;
    cas_error err;
    cas_xorb_stream st;
    cas_xorb_stream_chunk out;
    size_t pos = 0;
    uint32_t streamed = 0;
    int walk_rc, rc = CAS_OK;
    t_rng r;
    if (size < 1) return 0;
    r.state = data[0];
    data++;
    size--;
    memset(&seen, 0, sizeof seen);
    walk_rc = cas_xorb_walk(data, size, scratch, remember, &seen, &info, &err);
    if (walk_rc < 0 && (err.code != walk_rc || err.offset > size)) abort();
    if (cas_xorb_stream_init(NULL, &st) != CAS_OK) abort();
    while (pos < size && rc >= 0) {
        size_t piece = (size_t)(t_next(&r) % 300) + 1, used;
        if (piece > size - pos) piece = size - pos;
        rc = cas_xorb_stream_push(&st, data + pos, piece, &used, &out);
        pos += used;
        if (rc == CAS_READY) {
            cas_hash h;
            cas_chunk_hash(out.data, out.header.uncompressed_size, &h);
            /* every chunk the stream decodes, the walk decoded identically (when it read it) */
            if (walk_rc == CAS_OK && (out.index >= seen.n || (out.index < 64 && !cas_hash_equal(&h, &seen.hashes[out.index]))))
                abort();
            streamed++;
        }
    }
    if (rc >= 0) rc = cas_xorb_stream_finish(&st);
    /* A valid body without footer reads the same both ways. (With a footer the stream checks
       only its length word, so it may accept what the walk refuses, never the reverse.) */
    if (walk_rc == CAS_OK && (rc != CAS_OK || streamed != info.num_chunks)) abort();
    if (walk_rc < 0 && !info.has_footer && rc == CAS_OK && memchr(data, 'X', size) == NULL) abort();
    cas_xorb_stream_free(&st);
    return 0;
}
