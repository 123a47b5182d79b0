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

#endif
