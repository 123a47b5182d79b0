/* cas_zstd_decompress on arbitrary bytes with a fuzzer-chosen output capacity: never writes
   past the capacity (the buffer is exactly that size), never claims more output than room,
   and agrees with itself when given more room. */
#define CAS_IMPLEMENTATION
#include "fuzzlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t cap, got = 0, got2 = 0;
    uint8_t *out, *out2;
    int rc, rc2;
    if (size < 2) return 0;
    cap = ((size_t)data[0] << 8 | data[1]) * 16; /* 0 .. ~1 MiB */
    data += 2;
    size -= 2;
    out = (uint8_t *)malloc(cap ? cap : 1);
    out2 = (uint8_t *)malloc(cap + 4096);
    if (!out || !out2) abort();
    rc = cas_zstd_decompress(NULL, data, size, out, cap, &got);
    if (got > cap) abort();
    rc2 = cas_zstd_decompress(NULL, data, size, out2, cap + 4096, &got2);
    if (rc == CAS_OK && (rc2 != CAS_OK || got2 != got || memcmp(out, out2, got) != 0)) abort();
    free(out);
    free(out2);
    return 0;
}
