/* Chunker and streaming Merkle: boundaries and hashes do not depend on how the input is cut
   into pieces, nor on the code path (the whole input takes the CPU's best path, e.g. the
   AVX-512 fused scan + hash; the pieces, by seed, the same, the AVX2 fused one, or the scan
   then the hash: no AVX2 or AVX-512), equal chunking.md's byte loop,
   and the streaming Merkle root equals the batch transcription of xet-core's algorithm. The
   first 8 bytes seed the piece sizes. */
#define CAS_IMPLEMENTATION
#include "../tests/testlib.h"

#define MAXC 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cas_chunk whole[MAXC], pieces[MAXC];
    static uint64_t spec[MAXC];
    size_t nw = 0, np = 0, ns, off, i;
    cas_chunk_stream cs;
    cas_chunk c;
    cas_merkle m;
    cas_hash a, b;
    t_rng r;
    if (size < 8 || size > (4u << 20)) return 0;
    for (i = 0, r.state = 0; i < 8; i++) r.state = r.state << 8 | data[i];
    data += 8;
    size -= 8;
    /* whole */
    cas_chunk_stream_init(&cs);
    off = 0;
    while (off < size) {
        off += cas_chunk_stream_push(&cs, data + off, size - off, &c);
        if (c.size && nw < MAXC) whole[nw++] = c;
    }
    if (cas_chunk_stream_finish(&cs, &c) && nw < MAXC) whole[nw++] = c;
    /* random pieces, often tiny */
    if (r.state % 3 == 1) cas_cpu_limit(~(unsigned)CAS_CPU_AVX512);
    if (r.state % 3 == 2) cas_cpu_limit(~(unsigned)(CAS_CPU_AVX512 | CAS_CPU_AVX2));
    cas_chunk_stream_init(&cs);
    off = 0;
    while (off < size) {
        uint64_t v = t_next(&r);
        size_t want = (v & 1) ? (size_t)(v >> 1) % 17 + 1 : (size_t)(v >> 1) % 70000 + 1;
        size_t end = off + (want < size - off ? want : size - off);
        while (off < end) {
            off += cas_chunk_stream_push(&cs, data + off, end - off, &c);
            if (c.size && np < MAXC) pieces[np++] = c;
        }
    }
    if (cas_chunk_stream_finish(&cs, &c) && np < MAXC) pieces[np++] = c;
    cas_cpu_limit(~0u);
    if (nw != np) abort();
    for (i = 0; i < nw; i++)
        if (whole[i].size != pieces[i].size || !cas_hash_equal(&whole[i].hash, &pieces[i].hash)) abort();
    ns = t_spec_chunk(cas__gear, data, size, spec, MAXC);
    if (ns != nw && nw < MAXC) abort();
    for (i = 0; i < nw && i < ns; i++)
        if (spec[i] != whole[i].size) abort();
    /* Merkle: streaming == batch, and mid-stream roots too. */
    cas_merkle_init(&m);
    for (i = 0; i < nw; i++) {
        cas_merkle_push(&m, &whole[i]);
        if ((i & 7) == 3) {
            cas_merkle_root(&m, &a);
            t_batch_merkle_root(whole, i + 1, &b);
            if (!cas_hash_equal(&a, &b)) abort();
        }
    }
    cas_merkle_root(&m, &a);
    t_batch_merkle_root(whole, nw, &b);
    if (!cas_hash_equal(&a, &b)) abort();
    return 0;
}
