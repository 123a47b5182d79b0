/* Shared by the fuzz targets: testlib.h (its t_counting allocator fails the allocation with
   a chosen index, aborts on a free with another size, and counts live blocks) and REQUIRE,
   an oracle that aborts so libFuzzer records the input. */
#ifndef CAS_FUZZLIB_H
#define CAS_FUZZLIB_H

#include "../tests/testlib.h"

#define REQUIRE(c)                                                                        \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #c);        \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* The fuzzer's bytes read as a stream of numbers: past the end, zeros. */
typedef struct {
    const uint8_t *p;
    size_t n;
} fz_in;
static inline uint32_t fz_u32(fz_in *in, uint32_t mod) { /* big-endian, then % mod (0: none) */
    uint32_t v = 0;
    int k;
    for (k = 0; k < 4; k++) {
        v = v << 8 | (in->n ? *in->p : 0);
        if (in->n) in->p++, in->n--;
    }
    return mod ? v % mod : v;
}

#endif
